//! The request context that conditions and variables read, and the principal being decided on.

use crate::fnv::FnvMap;

/// Condition keys and their values. Key names are case-insensitive (`aws:SourceIp` and
/// `AWS:sourceip` are the same key); values keep their case. A key may have several values
/// (`aws:TagKeys`).
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: FnvMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// A context with room for `n` keys (a request's context has a few dozen: sizing it once
    /// saves the map growing and rehashing as they are set).
    pub fn with_capacity(n: usize) -> Self {
        Self { values: FnvMap::with_capacity_and_hasher(n, Default::default()) }
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.values.insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// Sets a multi-valued key.
    pub fn set_many(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.values.insert(key.to_ascii_lowercase(), values);
        self
    }

    /// The values of a key; `key` must already be lower case.
    pub(crate) fn get_folded(&self, key: &str) -> Option<&[String]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// The values of a key, in any case.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.get_folded(&key.to_ascii_lowercase())
        } else {
            self.get_folded(key)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The kind of principal making a request, as `aws:PrincipalType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    Account,
    User,
    AssumedRole,
    FederatedUser,
    Service,
    Anonymous,
}

/// Who is asking, as resource-based policies' `Principal` elements match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalType,
    /// The principal's ARN: `arn:aws:iam::111122223333:root`, `…:user/alice`,
    /// `arn:aws:sts::111122223333:assumed-role/Role/session`; a service's name for services.
    pub arn: String,
    /// The account the principal belongs to (empty for services and anonymous callers).
    pub account: String,
    /// For role sessions, the role's ARN (`arn:aws:iam::111122223333:role/path/Role`).
    pub role_arn: Option<String>,
}

impl Principal {
    /// The root user of an account.
    pub fn root(account: &str) -> Self {
        Self {
            kind: PrincipalType::Account,
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_owned(),
            role_arn: None,
        }
    }

    /// An IAM user (`path` is `/` or `/division/`).
    pub fn user(account: &str, path: &str, name: &str) -> Self {
        Self {
            kind: PrincipalType::User,
            arn: format!("arn:aws:iam::{account}:user{path}{name}"),
            account: account.to_owned(),
            role_arn: None,
        }
    }

    /// A role session.
    pub fn role_session(account: &str, path: &str, role: &str, session: &str) -> Self {
        Self {
            kind: PrincipalType::AssumedRole,
            arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            account: account.to_owned(),
            role_arn: Some(format!("arn:aws:iam::{account}:role{path}{role}")),
        }
    }

    /// A federated user from GetFederationToken.
    pub fn federated_user(account: &str, name: &str) -> Self {
        Self {
            kind: PrincipalType::FederatedUser,
            arn: format!("arn:aws:sts::{account}:federated-user/{name}"),
            account: account.to_owned(),
            role_arn: None,
        }
    }

    /// The holder of a web identity token or SAML assertion, as the provider that vouches for it
    /// (`"Principal": {"Federated": "arn:aws:iam::ACCOUNT:oidc-provider/…"}`). It belongs to no
    /// account, so a trust policy naming an account never admits it: it must name the provider.
    pub fn web_identity(provider_arn: &str) -> Self {
        Self {
            kind: PrincipalType::FederatedUser,
            arn: provider_arn.to_owned(),
            account: String::new(),
            role_arn: None,
        }
    }

    /// An unsigned request's caller: it belongs to no account and matches only `"Principal": "*"`.
    pub fn anonymous() -> Self {
        Self { kind: PrincipalType::Anonymous, arn: String::new(), account: String::new(), role_arn: None }
    }

    /// An AWS service principal such as `ec2.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self { kind: PrincipalType::Service, arn: name.to_owned(), account: String::new(), role_arn: None }
    }
}
