//! Policy documents: parsing, validation per policy kind with AWS's MalformedPolicyDocument
//! messages, and compilation into the form decisions use (actions indexed by service prefix,
//! patterns pre-analysed, condition values pre-parsed).
//! Grammar: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>.

use std::collections::HashSet;

use crate::fnv::FnvMap;

use serde_json::{Map, Value};

use crate::condition::{Condition, Operator};
use crate::pattern::Pattern;
use crate::variables::Template;

/// Where a policy is used; it decides which elements are required or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user, group or role (managed or inline).
    Identity,
    /// A permissions boundary.
    Boundary,
    /// A session policy passed to AssumeRole or GetFederationToken.
    Session,
    /// A role's trust policy.
    Trust,
    /// A resource-based policy (KMS key policy, bucket policy, …).
    Resource,
    /// An Organizations service control policy.
    Scp,
    /// An Organizations resource control policy.
    Rcp,
}

impl PolicyKind {
    fn takes_principal(self) -> bool {
        matches!(self, Self::Trust | Self::Resource | Self::Rcp)
    }

    fn needs_resource(self) -> bool {
        !matches!(self, Self::Trust | Self::Resource)
    }

    /// IAM's own documents allow only `[0-9A-Za-z]` in a Sid; other services' resource policies
    /// allow more (spaces in KMS and S3 policies).
    fn strict_sid(self) -> bool {
        !matches!(self, Self::Resource)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17`, or no `Version`: policy variables are literal text.
    V2008,
    /// `2012-10-17`.
    V2012,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A document AWS would refuse, with AWS's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    pub message: String,
}

impl PolicyError {
    /// The AWS error code IAM uses.
    pub fn code(&self) -> &'static str {
        "MalformedPolicyDocument"
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError { message: message.into() })
}

const SYNTAX: &str = "Syntax errors in policy.";
const LEGACY: &str = "The policy failed legacy parsing";
const VENDOR: &str = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
const PARTITIONS: &[&str] =
    &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];

/// One entry of a `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// An account id (`"111122223333"` or `arn:aws:iam::111122223333:root`).
    Account(String),
    /// A user, role, assumed-role or federated-user ARN.
    Arn(String),
    Service(String),
    Federated(String),
    CanonicalUser(String),
    /// A user's or role's unique id (`AIDA…`, `AROA…`): how IAM shows a principal that was
    /// deleted after the policy named it. It matches no caller.
    UniqueId(String),
}

/// A compiled action pattern.
#[derive(Debug, Clone)]
pub(crate) enum ActionPattern {
    Any,
    /// A literal service prefix (lower case) and a pattern on the action name.
    InService(Box<str>, Pattern),
    /// A wildcard in the service prefix: matched against the whole action.
    Whole(Pattern),
}

impl ActionPattern {
    fn compile(a: &str) -> Self {
        if a == "*" {
            return Self::Any;
        }
        match a.split_once(':') {
            Some((svc, name)) if !svc.contains(['*', '?']) => {
                Self::InService(svc.to_ascii_lowercase().into(), Pattern::new(name, true))
            }
            _ => Self::Whole(Pattern::new(a, true)),
        }
    }

    pub(crate) fn matches(&self, service: &str, name: &str, whole: &str) -> bool {
        match self {
            Self::Any => true,
            Self::InService(svc, p) => svc.eq_ignore_ascii_case(service) && p.matches(name, true),
            Self::Whole(p) => p.matches(whole, true),
        }
    }
}

/// A compiled resource pattern; with variables, it is filled in per request.
#[derive(Debug, Clone)]
pub(crate) enum ResourcePattern {
    Fixed(Pattern),
    Variable(Template),
}

/// One statement, compiled.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub(crate) principal: Option<(bool, Vec<PrincipalEntry>)>,
    pub(crate) not_action: bool,
    pub(crate) actions: Vec<ActionPattern>,
    pub(crate) not_resource: bool,
    pub(crate) resources: Option<Vec<ResourcePattern>>,
    pub(crate) conditions: Vec<Condition>,
    /// The actions and resources as written, for findings.
    pub(crate) action_text: Vec<String>,
    pub(crate) resource_text: Vec<String>,
}

impl Statement {
    /// The statement's `Action` (or `NotAction`) entries as written, and whether it is `NotAction`.
    pub fn actions_written(&self) -> (&[String], bool) {
        (&self.action_text, self.not_action)
    }
}

/// A parsed, validated and compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub version: Version,
    pub id: Option<String>,
    pub kind: PolicyKind,
    pub statements: Vec<Statement>,
    /// Statements whose actions name a literal service, by lower-case service prefix.
    by_service: FnvMap<Box<str>, Vec<u32>>,
    /// Statements that may match any service (`*`, wildcard services, `NotAction`).
    any_service: Vec<u32>,
}

fn strings(v: &Value) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| PolicyError { message: SYNTAX.into() }))
            .collect(),
        _ => err(SYNTAX),
    }
}

fn validate_action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    let parts: Vec<&str> = a.split(':').collect();
    match parts.as_slice() {
        [_] => err(VENDOR),
        [vendor, _] => {
            if vendor.is_empty()
                || !vendor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'*' || b == b'?')
            {
                err(format!("Vendor {vendor} is not valid"))
            } else {
                Ok(())
            }
        }
        _ => err("Actions/Condition can contain only one colon."),
    }
}

fn validate_resource(r: &str) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    if parts.len() < 2 {
        return err(format!("Resource {r} must be in ARN format or \"*\"."));
    }
    let partition = parts.get(1).copied().unwrap_or_default();
    if parts.first() != Some(&"arn") || !(PARTITIONS.contains(&partition) || partition.contains(['*', '?'])) {
        return err(format!("Partition \"{partition}\" is not valid for resource \"{r}\"."));
    }
    if parts.len() < 6 {
        return err(LEGACY);
    }
    if parts.get(2).is_none_or(|s| s.is_empty()) {
        return err("Resource vendor must be fully qualified and cannot contain regexes.");
    }
    // IAM resources and S3 buckets and objects are global: a region in their ARN is refused, each
    // in its own words. IAM's resource part names one of its resource types.
    let at = |i: usize| parts.get(i).copied().unwrap_or_default();
    let (service, region, resource) = (at(2), at(3), at(5));
    if !region.is_empty() {
        if service == "iam" {
            return err(format!("IAM resource {r} cannot contain region information."));
        }
        // S3's regional resources (access points, access grants, jobs…) name an account too;
        // a bucket's or an object's names neither.
        if service == "s3" && at(4).is_empty() {
            return err(format!("Resource {r} can not contain region information."));
        }
    }
    // AWS's own managed policies also name `root` and `contextProvider/` resources, which its
    // message does not list; both are accepted, as is `delegation-request/` (temporary
    // delegation's resource type in the Service Authorization Reference, newer than the message). A wildcard or variable before the type's end
    // (`user*/…`) is accepted when it could name a type: whether IAM accepts it could not be
    // established, so Rampart accepts rather than refuse what IAM may accept.
    let literal = resource.split(['*', '?', '$']).next().unwrap_or_default();
    let wild = literal.len() < resource.len();
    if service == "iam"
        && !IAM_RESOURCE_TYPES
            .iter()
            .chain(&["root", "contextProvider/", "delegation-request/"])
            .any(|t| literal.starts_with(t) || (wild && t.starts_with(literal)))
    {
        return err(format!("IAM resource path must either be \"*\" or start with {}.", IAM_RESOURCE_TYPES.join(", ")));
    }
    Ok(())
}

/// The resource types an IAM resource's path may start with, in the order IAM's message lists them.
const IAM_RESOURCE_TYPES: &[&str] = &[
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];

fn parse_principal(v: &Value) -> Result<Vec<PrincipalEntry>, PolicyError> {
    let invalid = |t: &str, p: &str| PolicyError { message: format!("Invalid principal in policy: \"{t}\":\"{p}\"") };
    match v {
        Value::String(s) if s == "*" => Ok(vec![PrincipalEntry::Anyone]),
        Value::Object(map) if !map.is_empty() => {
            let mut out = Vec::new();
            for (t, vals) in map {
                for p in strings(vals)? {
                    out.push(match t.as_str() {
                        "AWS" => aws_principal(&p).ok_or_else(|| invalid(t, &p))?,
                        "Service" if p == "*" || (!p.is_empty() && !p.contains(char::is_whitespace)) => {
                            PrincipalEntry::Service(p)
                        }
                        "Federated" if !p.is_empty() => PrincipalEntry::Federated(p),
                        "CanonicalUser" if !p.is_empty() => PrincipalEntry::CanonicalUser(p),
                        "Service" | "Federated" | "CanonicalUser" => return Err(invalid(t, &p)),
                        _ => return err(SYNTAX),
                    });
                }
            }
            Ok(out)
        }
        _ => err(SYNTAX),
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn aws_principal(p: &str) -> Option<PrincipalEntry> {
    if p == "*" {
        return Some(PrincipalEntry::Anyone);
    }
    if is_account(p) {
        return Some(PrincipalEntry::Account(p.to_owned()));
    }
    if (p.starts_with("AIDA") || p.starts_with("AROA"))
        && p.len() == 21
        && p.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Some(PrincipalEntry::UniqueId(p.to_owned()));
    }
    let parts: Vec<&str> = p.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else { return None };
    if *arn != "arn"
        || !PARTITIONS.contains(partition)
        || !region.is_empty()
        || !is_account(account)
        || p.contains(['*', '?'])
    {
        return None;
    }
    match (*service, *resource) {
        ("iam", "root") => Some(PrincipalEntry::Account((*account).to_owned())),
        ("iam", r) if r.starts_with("user/") || r.starts_with("role/") => Some(PrincipalEntry::Arn(p.to_owned())),
        ("sts", r) if r.starts_with("assumed-role/") || r.starts_with("federated-user/") => {
            Some(PrincipalEntry::Arn(p.to_owned()))
        }
        _ => None,
    }
}

impl Policy {
    /// Parses and validates `text` as a policy of `kind`.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let doc: Value = serde_json::from_str(text).map_err(|_| PolicyError { message: SYNTAX.into() })?;
        let Value::Object(top) = doc else { return err(SYNTAX) };
        if top.keys().any(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement")) {
            return err(SYNTAX);
        }
        let version = match top.get("Version") {
            None => Version::V2008,
            Some(Value::String(v)) if v == "2012-10-17" => Version::V2012,
            Some(Value::String(v)) if v == "2008-10-17" => Version::V2008,
            Some(_) => return err(SYNTAX),
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return err(SYNTAX),
        };
        let raw: Vec<&Map<String, Value>> = match top.get("Statement") {
            Some(Value::Object(s)) => vec![s],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| i.as_object().ok_or_else(|| PolicyError { message: SYNTAX.into() }))
                .collect::<Result<_, _>>()?,
            _ => return err(SYNTAX),
        };
        // Pass 1: syntax (unknown fields, types, pairs that exclude each other, effects).
        for st in &raw {
            syntax(st)?;
        }
        // Pass 2: AWS's "legacy parsing": effect case, dates, resource shapes.
        for st in &raw {
            if !matches!(st.get("Effect").and_then(Value::as_str), Some("Allow" | "Deny")) {
                return err(LEGACY);
            }
            for key in ["Resource", "NotResource"] {
                if let Some(v) = st.get(key) {
                    for r in strings(v)? {
                        validate_resource(&r)?;
                    }
                }
            }
        }
        // Pass 3: the rules of the policy's kind.
        let mut sids = HashSet::new();
        let mut statements = Vec::with_capacity(raw.len());
        for st in &raw {
            if let Some(sid) = st.get("Sid").and_then(Value::as_str) {
                if kind.strict_sid() && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return err(
                        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
                    );
                }
                if !sid.is_empty() && !sids.insert(sid.to_owned()) {
                    return err("Statement IDs (SID) in a single policy must be unique.");
                }
            }
            // IAM's and S3's wording, as their APIs return it (reported verbatim in public issue
            // threads: terraform-aws-modules/terraform-aws-iam#47, Netflix/consoleme#8968,
            // kubernetes-sigs/external-dns#3085, humanmade/S3-Uploads#191).
            let has_principal = st.contains_key("Principal") || st.contains_key("NotPrincipal");
            if has_principal && !kind.takes_principal() {
                return err("Has prohibited field Principal");
            }
            if !has_principal && kind == PolicyKind::Trust {
                return err(
                    "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!",
                );
            }
            if !has_principal && kind.takes_principal() {
                return err("Missing required field Principal");
            }
            if kind == PolicyKind::Trust && (st.contains_key("Resource") || st.contains_key("NotResource")) {
                return err("Has prohibited field Resource");
            }
            let actions =
                st.get("Action").or_else(|| st.get("NotAction")).map(strings).transpose()?.unwrap_or_default();
            if actions.is_empty() {
                return err("Policy statement must contain actions.");
            }
            let resources = st.get("Resource").or_else(|| st.get("NotResource")).map(strings).transpose()?;
            if kind.needs_resource() && resources.as_ref().is_none_or(Vec::is_empty) {
                return err("Policy statement must contain resources.");
            }
            for a in &actions {
                validate_action(a)?;
            }
            statements.push(compile_statement(st, kind, version, actions, resources)?);
        }
        let mut by_service: FnvMap<Box<str>, Vec<u32>> = FnvMap::default();
        let mut any_service = Vec::new();
        for (i, st) in statements.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let literal: Option<Vec<&str>> = if st.not_action {
                None
            } else {
                st.actions
                    .iter()
                    .map(|a| if let ActionPattern::InService(s, _) = a { Some(&**s) } else { None })
                    .collect()
            };
            match literal {
                Some(mut services) => {
                    services.sort_unstable();
                    services.dedup();
                    for s in services {
                        by_service.entry(s.into()).or_default().push(i);
                    }
                }
                None => any_service.push(i),
            }
        }
        Ok(Self { version, id, kind, statements, by_service, any_service })
    }

    /// The context keys the policy reads: condition keys and policy variables, each once, in order
    /// of appearance (what IAM's GetContextKeysFor*Policy return).
    pub fn context_keys(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |k: &str| {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
                out.push(k.to_owned());
            }
        };
        for st in &self.statements {
            for r in st.resources.iter().flatten() {
                if let ResourcePattern::Variable(t) = r {
                    t.keys().for_each(&mut push);
                }
            }
            for c in &st.conditions {
                push(&c.key);
                c.variable_keys().for_each(&mut push);
            }
        }
        out
    }

    /// The statements that may match an action of `service` (lower case), in document order.
    pub(crate) fn candidates(&self, service: &str) -> impl Iterator<Item = (usize, &Statement)> {
        let listed = self.by_service.get(service).map(Vec::as_slice).unwrap_or_default();
        let (mut a, mut b) = (listed.iter().peekable(), self.any_service.iter().peekable());
        std::iter::from_fn(move || {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x < y => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => None,
            }?;
            let i = usize::try_from(*next).ok()?;
            self.statements.get(i).map(|s| (i, s))
        })
    }
}

fn syntax(st: &Map<String, Value>) -> Result<(), PolicyError> {
    const FIELDS: &[&str] =
        &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];
    if st.keys().any(|k| !FIELDS.contains(&k.as_str())) {
        return err(SYNTAX);
    }
    for (a, b) in [("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")] {
        if st.contains_key(a) && st.contains_key(b) {
            return err(SYNTAX);
        }
    }
    match st.get("Effect").and_then(Value::as_str) {
        Some(e) if e.eq_ignore_ascii_case("allow") || e.eq_ignore_ascii_case("deny") => {}
        _ => return err(SYNTAX),
    }
    if st.get("Sid").is_some_and(|s| !s.is_string()) {
        return err(SYNTAX);
    }
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(v) = st.get(key) {
            strings(v)?;
        }
    }
    if let Some(c) = st.get("Condition") {
        let Value::Object(ops) = c else { return err(SYNTAX) };
        for (op, keys) in ops {
            let Value::Object(keys) = keys else { return err(SYNTAX) };
            if Operator::parse(op).is_none() && !keys.is_empty() {
                return err(SYNTAX);
            }
            for v in keys.values() {
                let ok = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
                match v {
                    Value::Array(items) if items.iter().all(ok) => {}
                    v if ok(v) => {}
                    _ => return err(SYNTAX),
                }
            }
        }
    }
    Ok(())
}

fn compile_statement(
    st: &Map<String, Value>,
    kind: PolicyKind,
    version: Version,
    actions: Vec<String>,
    resources: Option<Vec<String>>,
) -> Result<Statement, PolicyError> {
    let effect = if st.get("Effect").and_then(Value::as_str) == Some("Deny") { Effect::Deny } else { Effect::Allow };
    let principal = match (st.get("Principal"), st.get("NotPrincipal")) {
        (Some(p), _) => Some((false, parse_principal(p)?)),
        (_, Some(p)) => Some((true, parse_principal(p)?)),
        _ => None,
    };
    if kind == PolicyKind::Rcp && principal.as_ref().is_some_and(|(neg, p)| *neg || p != &[PrincipalEntry::Anyone]) {
        return err("Resource control policies must specify \"Principal\": \"*\"");
    }
    let resource_text = resources.clone().unwrap_or_default();
    let resources = resources.map(|rs| {
        rs.iter()
            .map(|r| match Template::parse(r, version) {
                Some(t) => ResourcePattern::Variable(t),
                None => ResourcePattern::Fixed(Pattern::new(r, false)),
            })
            .collect()
    });
    let mut conditions = Vec::new();
    if let Some(Value::Object(ops)) = st.get("Condition") {
        for (op, keys) in ops {
            let Value::Object(keys) = keys else { continue };
            for (key, values) in keys {
                if !key.contains(':') {
                    return err(VENDOR);
                }
                let values: Vec<String> = match values {
                    Value::Array(items) => items.iter().map(scalar_text).collect(),
                    v => vec![scalar_text(v)],
                };
                conditions.push(Condition::compile(op, key, values, version)?);
            }
        }
    }
    Ok(Statement {
        sid: st.get("Sid").and_then(Value::as_str).map(str::to_owned),
        effect,
        principal,
        not_action: st.contains_key("NotAction"),
        actions: actions.iter().map(|a| ActionPattern::compile(a)).collect(),
        action_text: actions,
        not_resource: st.contains_key("NotResource"),
        resources,
        conditions,
        resource_text,
    })
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: PolicyKind, doc: &str, expect: Result<(), &str>) {
        let got = Policy::parse(doc, kind).map(|_| ()).map_err(|e| e.message);
        assert_eq!(got.as_ref().map(|_| ()).map_err(String::as_str), expect, "{doc}");
    }

    const ID: PolicyKind = PolicyKind::Identity;

    #[test]
    fn accepts_the_usual_shapes() {
        check(ID, r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, Ok(()));
        check(
            ID,
            r#"{"Statement":[{"Sid":"A1","Effect":"Deny","NotAction":["iam:*"],"NotResource":"arn:aws:s3:::b/*"}]}"#,
            Ok(()),
        );
        check(
            PolicyKind::Trust,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}}}]}"#,
            Ok(()),
        );
        check(
            PolicyKind::Resource,
            r#"{"Statement":[{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"kms:*","Resource":"*"}]}"#,
            Ok(()),
        );
    }

    #[test]
    fn rejects_with_aws_messages() {
        let syntax = Err(SYNTAX);
        check(ID, "{", syntax);
        check(ID, "[]", syntax);
        check(ID, r#"{"Statement":[]}"#, syntax);
        check(ID, r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, syntax);
        check(ID, r#"{"Statement":{"Effects":"Allow","Action":"s3:*","Resource":"*"}}"#, syntax);
        check(ID, r#"{"Statement":{"Effect":"Permit","Action":"s3:*","Resource":"*"}}"#, syntax);
        check(ID, r#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:x","Resource":"*"}}"#, syntax);
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:x":"y"}}}}"#,
            syntax,
        );
        check(ID, r#"{"Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}"#, Err(LEGACY));
        check(ID, r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#, Err("Policy statement must contain actions."));
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
            Err("Policy statement must contain actions."),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*"}}"#,
            Err("Policy statement must contain resources."),
        );
        check(ID, r#"{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#, Err(VENDOR));
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:a:b","Resource":"*"}}"#,
            Err("Actions/Condition can contain only one colon."),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s 3:x","Resource":"*"}}"#,
            Err("Vendor s 3 is not valid"),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}}"#,
            Err("Resource bucket must be in ARN format or \"*\"."),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:foo:s3:::b"}}"#,
            Err("Partition \"foo\" is not valid for resource \"arn:foo:s3:::b\"."),
        );
        // Global services' resources carry no region; IAM's name a resource type.
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:us-east-1::b/*"}}"#,
            Err("Resource arn:aws:s3:us-east-1::b/* can not contain region information."),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:us-east-1:123456789012:accesspoint/ap"}}"#,
            Ok(()),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam:us-east-1:123456789012:user/u"}}"#,
            Err("IAM resource arn:aws:iam:us-east-1:123456789012:user/u cannot contain region information."),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::123456789012:foo/bar"}}"#,
            Err("IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, \
                 instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, \
                 report/, access-report/."),
        );
        check(ID, r#"{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:root"}}"#, Ok(()));
        check(
            ID,
            r#"{"Statement":[{"Sid":"a-b","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            Err(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
            ),
        );
        check(
            ID,
            r#"{"Statement":[{"Sid":"S","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"S","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
            Err("Statement IDs (SID) in a single policy must be unique."),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
            Err("Has prohibited field Principal"),
        );
        check(
            PolicyKind::Scp,
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
            Err("Has prohibited field Principal"),
        );
        check(
            PolicyKind::Trust,
            r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
            Err(
                "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!",
            ),
        );
        check(
            PolicyKind::Resource,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            Err("Missing required field Principal"),
        );
        check(
            PolicyKind::Trust,
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}}"#,
            Err("Has prohibited field Resource"),
        );
        check(
            PolicyKind::Trust,
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"sts:AssumeRole"}}"#,
            Err("Invalid principal in policy: \"AWS\":\"alice\""),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"nocolon":"x"}}}}"#,
            Err(VENDOR),
        );
        check(
            ID,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"yesterday"}}}}"#,
            Err(LEGACY),
        );
        check(
            PolicyKind::Rcp,
            r#"{"Statement":{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}}"#,
            Err("Resource control policies must specify \"Principal\": \"*\""),
        );
    }

    #[test]
    fn context_keys_are_condition_keys_and_variables() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"StringEquals":{"s3:prefix":"${aws:PrincipalTag/team}"}}}]}"#,
            ID,
        )
        .unwrap();
        assert_eq!(p.context_keys(), ["aws:username", "aws:SourceIp", "s3:prefix", "aws:principaltag/team"]);
    }

    #[test]
    fn statements_are_indexed_by_service() {
        let p = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:Get*","S3:Put*"],"Resource":"*"},{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","NotAction":"kms:*","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            ID,
        )
        .unwrap();
        let ids = |svc: &str| p.candidates(svc).map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(ids("s3"), [0, 2, 3]);
        assert_eq!(ids("iam"), [1, 2, 3]);
        assert_eq!(ids("ec2"), [2, 3]);
    }
}
