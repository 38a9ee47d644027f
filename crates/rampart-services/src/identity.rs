//! Who is calling: the principal an access key or session resolves to.

/// The kind of principal, as CloudTrail's `userIdentity.type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PrincipalKind {
    Root,
    IAMUser,
    AssumedRole,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub account_id: String,
    pub arn: String,
    /// `aws:userid`: the account id for root, the unique id for users.
    pub user_id: String,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
}

impl Principal {
    /// The root user of an account.
    pub fn root(account_id: &str, access_key_id: Option<String>) -> Self {
        Self {
            kind: PrincipalKind::Root,
            account_id: account_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            user_id: account_id.to_owned(),
            user_name: None,
            access_key_id,
        }
    }

    /// How AccessDenied messages name the caller ("User: arn:…").
    pub fn described(&self) -> String {
        format!("User: {}", self.arn)
    }
}
