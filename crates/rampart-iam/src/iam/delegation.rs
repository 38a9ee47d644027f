//! IAM temporary delegation: a partner asks for temporary, limited access to a customer's account;
//! someone in that account reviews the request and accepts or rejects it; once accepted and its
//! token sent, the partner trades the token (STS GetDelegatedAccessToken) for credentials that act
//! as the approver, bounded by the accepted policy, for the requested duration.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies-temporary-delegation.html>
//! and, for the partner's side, `access_policies-temporary-delegation-partner-guide.html`.
//!
//! Partners are onboarded by the operator, as AWS onboards them: `rampart delegation
//! register-template` registers a partner's policy template (and the permissions boundary the
//! roles it creates must carry) for the partner's account. A template is an IAM policy with
//! `@{name}` parameters and optional `"@Enabled": "name"` statements, rendered with the request's
//! parameters into the policy the customer reviews.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/temporary-delegation-policy-templates.html>.
//!
//! Rampart serves no SNS: the notifications a request's channel (an SNS topic ARN) would receive
//! wait, sealed, in Rampart's store until `rampart delegation messages --topic ARN` hands them out.

use rampart_core::{Ctx, Principal, PrincipalKind, ServiceError, TxCtx, records};
use rampart_shapes::generated::iam as shapes;
use rampart_store::{Db, Sealer, Tx};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::ManagedPolicyRecord;
use crate::sts::SessionClaims;

/// The account-like namespace of partners' registered policies, as AWS names it:
/// `arn:aws:iam::partner:policy/…`.
pub const PARTNER_NAMESPACE: &str = "partner";

/// Longest rendered policy. See the policy templates page ("a maximum size limit of 2048
/// characters").
const RENDERED_POLICY_SIZE: usize = 2048;

/// Longest session root may approve: four hours (the user guide's note on durations).
const ROOT_MAX_SESSION: i32 = 4 * 3600;

/// How long a request waits in each state before it expires (the integration guide's expiration
/// path): a day unassigned, seven days in any other state.
const UNASSIGNED_LIFETIME: Duration = Duration::days(1);
const STATE_LIFETIME: Duration = Duration::days(7);

const UNASSIGNED: &str = "UNASSIGNED";
const ASSIGNED: &str = "ASSIGNED";
const PENDING_APPROVAL: &str = "PENDING_APPROVAL";
const ACCEPTED: &str = "ACCEPTED";
const FINALIZED: &str = "FINALIZED";
const REJECTED: &str = "REJECTED";
const EXPIRED: &str = "EXPIRED";

/// A partner's registered policy template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateRecord {
    pub v: u32,
    pub arn: String,
    /// The partner's account: the only one whose principals may use the template.
    pub partner_account: String,
    /// Shown to customers as `RequestorName` (at most 30 characters).
    pub partner_name: String,
    pub document: String,
    /// The permissions boundary registered with it, which the roles the partner creates carry.
    pub boundary_arn: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// One parameter of a request, as given.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub values: Vec<String>,
    pub kind: String,
}

/// A delegation request, as stored (not under an account: it moves from the partner's to the
/// customer's when the customer associates it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DelegationRecord {
    pub v: u32,
    pub id: String,
    pub requestor_account: String,
    pub requestor_name: String,
    /// The account the request is for: given by the partner, or the one that associated it.
    pub owner_account_id: Option<String>,
    /// Who associated it (a user, role session or root ARN).
    pub owner_id: Option<String>,
    pub description: String,
    pub request_message: Option<String>,
    pub template_arn: String,
    pub parameters: Vec<Parameter>,
    /// The rendered policy the customer reviews and the partner's session is bounded by.
    pub policy: String,
    pub boundary_arns: Vec<String>,
    pub workflow_id: String,
    pub redirect_url: Option<String>,
    pub notification_channel: String,
    pub session_duration: i32,
    pub only_send_by_owner: bool,
    pub state: String,
    pub approver_id: Option<String>,
    /// The approver's identity, kept when it accepted: what the partner's session acts as.
    pub approver: Option<SessionClaims>,
    pub notes: Option<String>,
    pub rejection_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    /// When the request expires if nothing more happens to it.
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    /// When its token was sent: the delegation period starts then.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finalized: Option<OffsetDateTime>,
}

impl DelegationRecord {
    /// The state now: a request left waiting past its time has expired.
    fn state_at(&self, now: OffsetDateTime) -> &str {
        if now >= self.expires { EXPIRED } else { &self.state }
    }

    fn to_shape(&self, now: OffsetDateTime) -> shapes::DelegationRequest {
        shapes::DelegationRequest {
            delegation_request_id: Some(self.id.clone()),
            owner_account_id: self.owner_account_id.clone(),
            description: Some(self.description.clone()),
            request_message: self.request_message.clone(),
            permissions: Some(shapes::DelegationPermission {
                policy_template_arn: Some(self.template_arn.clone()),
                parameters: Some(
                    self.parameters
                        .iter()
                        .map(|p| shapes::PolicyParameter {
                            name: Some(p.name.clone()),
                            values: Some(p.values.clone()),
                            r#type: Some(p.kind.clone()),
                        })
                        .collect(),
                ),
            }),
            permission_policy: Some(self.policy.clone()),
            role_permission_restriction_arns: Some(self.boundary_arns.clone()),
            owner_id: self.owner_id.clone(),
            approver_id: self.approver_id.clone(),
            state: Some(self.state_at(now).to_owned()),
            expiration_time: Some(self.expires),
            requestor_id: Some(self.requestor_account.clone()),
            requestor_name: Some(self.requestor_name.clone()),
            create_date: Some(self.created),
            session_duration: Some(self.session_duration),
            redirect_url: self.redirect_url.clone(),
            notes: self.notes.clone(),
            rejection_reason: self.rejection_reason.clone(),
            only_send_by_owner: Some(self.only_send_by_owner),
            updated_time: Some(self.updated),
        }
    }

    /// Moves to `state`, which then waits its own lifetime.
    fn moved(&mut self, state: &str, now: OffsetDateTime) {
        state.clone_into(&mut self.state);
        self.updated = now;
        self.expires = now + STATE_LIFETIME;
    }

    /// Whether a principal may see the request at all: its partner, the account it belongs to, or
    /// (while nobody has associated it) any account it is meant for.
    fn visible_to(&self, p: &Principal) -> bool {
        p.account_id == self.requestor_account
            || self.owner_account_id.as_ref() == Some(&p.account_id)
            || (self.state == UNASSIGNED && self.owner_account_id.is_none())
    }
}

fn request_key(id: &str) -> Vec<u8> {
    format!("iam/delegation/request/{id}").into_bytes()
}

const REQUEST_PREFIX: &[u8] = b"iam/delegation/request/";

fn template_key(arn: &str) -> Vec<u8> {
    format!("iam/delegation/template/{arn}").into_bytes()
}

/// The trade-in token's digest leads to its request; the token itself is never stored.
fn token_key(digest: &str) -> Vec<u8> {
    format!("iam/delegation/token/{digest}").into_bytes()
}

fn outbox_prefix(topic: &str) -> Vec<u8> {
    format!("iam/delegation/outbox/{topic}/").into_bytes()
}

/// What the sealing of an outbox message binds it to.
const OUTBOX_CONTEXT: &[u8] = b"rampart/iam/delegation-outbox/v1";

fn no_such_request(id: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The delegation request with id {id} cannot be found."))
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInput", 400, message)
}

fn wrong_state(r: &DelegationRecord, now: OffsetDateTime, action: &str) -> ServiceError {
    invalid(format!("The delegation request {} is {}: it cannot be {action}.", r.id, r.state_at(now)))
}

fn digest(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    data_encoding::HEXLOWER.encode(d.as_ref())
}

fn read_request_tx(tx: &Tx<'_>, p: &Principal, id: &str) -> Result<DelegationRecord, ServiceError> {
    records::read_tx::<DelegationRecord>(tx, &request_key(id))?
        .filter(|r| r.visible_to(p))
        .ok_or_else(|| no_such_request(id))
}

/// A request that the caller's own account holds (associated with it), for the customer's
/// operations.
fn owned_request_tx(tx: &Tx<'_>, p: &Principal, id: &str) -> Result<DelegationRecord, ServiceError> {
    records::read_tx::<DelegationRecord>(tx, &request_key(id))?
        .filter(|r| r.owner_id.is_some() && r.owner_account_id.as_ref() == Some(&p.account_id))
        .ok_or_else(|| no_such_request(id))
}

// ---------------------------------------------------------------------------------------------
// Templates: registration (by the operator) and rendering.

/// Names in a registered ARN: a domain or a name, as IAM names allow.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// What `register_template` registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub template_arn: String,
    pub boundary_arn: Option<String>,
}

/// Registers a partner's policy template for its account, and the permissions boundary that
/// goes with it (a managed policy in the `partner` namespace, which every account can name).
/// The operator's side of partner onboarding.
pub fn register_template(
    tx: &mut Tx<'_>,
    partner: (&str, &str, &str),
    template: (&str, &str),
    boundary: Option<(&str, &str)>,
    now: OffsetDateTime,
) -> Result<Registered, ServiceError> {
    let (account, partner_name, domain) = partner;
    let (name, document) = template;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("{account} is not a 12-digit account id.")));
    }
    if partner_name.is_empty() || partner_name.chars().count() > 30 {
        return Err(invalid("The partner's name must have 1 to 30 characters."));
    }
    if !valid_name(domain) || !valid_name(name) {
        return Err(invalid("Domains and names may have only letters, digits and +=,.@_- (at most 128)."));
    }
    // A template must render once every parameter has a value; check its shape now.
    let parsed: Value =
        serde_json::from_str(document).map_err(|e| invalid(format!("The template is not JSON: {e}")))?;
    if !parsed.get("Statement").is_some_and(|s| s.is_object() || s.is_array()) {
        return Err(invalid("The template has no Statement."));
    }
    let boundary_arn = match boundary {
        Some((boundary_name, text)) => {
            if !valid_name(boundary_name) {
                return Err(invalid("Boundary names may have only letters, digits and +=,.@_- (at most 128)."));
            }
            super::validate_document(text)?;
            let path = format!("/permission_boundary/{domain}/");
            let record = ManagedPolicyRecord {
                v: 1,
                account_id: PARTNER_NAMESPACE.to_owned(),
                name: boundary_name.to_owned(),
                path,
                id: rampart_core::account::new_unique_id("ANPA")?,
                description: Some(format!("Permissions boundary of {partner_name}")),
                created: now,
                updated: now,
                default_version: "v1".to_owned(),
                versions: [("v1".to_owned(), super::PolicyVersionRecord { document: text.to_owned(), created: now })]
                    .into_iter()
                    .collect(),
                attachments: 0,
                tags: Vec::new(),
            };
            let arn = record.arn();
            // Names are unique in the namespace, as an account's policy names are in the account.
            let taken = records::read_tx::<ManagedPolicyRecord>(
                tx,
                &rampart_core::keys::policy(PARTNER_NAMESPACE, boundary_name),
            )?;
            if taken.is_some_and(|t| t.arn() != arn) {
                return Err(invalid(format!("The boundary name {boundary_name} is registered by another partner.")));
            }
            super::write_policy(tx, &record)?;
            Some(arn)
        }
        None => None,
    };
    let arn = format!("arn:aws:iam::{PARTNER_NAMESPACE}:policy-template/{domain}/{name}");
    let record = TemplateRecord {
        v: 1,
        arn: arn.clone(),
        partner_account: account.to_owned(),
        partner_name: partner_name.to_owned(),
        document: document.to_owned(),
        boundary_arn: boundary_arn.clone(),
        created: now,
    };
    records::write_tx(tx, &template_key(&arn), &record)?;
    Ok(Registered { template_arn: arn, boundary_arn })
}

/// The policy a template renders to with these parameters: `@{name}` replaced by the value (a
/// `stringList` value in a string gives one string per value, and several lists their cross
/// product), statements whose `@Enabled` parameter is not `True` left out (`!name`: is not).
pub fn render(template: &str, parameters: &[Parameter]) -> Result<String, ServiceError> {
    let mut doc: Value = serde_json::from_str(template).map_err(|_| invalid("The policy template is not JSON."))?;
    for (i, p) in parameters.iter().enumerate() {
        if parameters.iter().skip(i + 1).any(|q| q.name == p.name) {
            return Err(invalid(format!("Parameter {} is given more than once.", p.name)));
        }
        let list = p.kind.eq_ignore_ascii_case("stringList");
        if !list && !p.kind.eq_ignore_ascii_case("string") {
            return Err(invalid(format!("Parameter {} has an unknown type {}.", p.name, p.kind)));
        }
        if p.values.is_empty() || (!list && p.values.len() != 1) {
            return Err(invalid(format!(
                "Parameter {} of type {} needs {} value.",
                p.name,
                p.kind,
                if list { "at least one" } else { "exactly one" }
            )));
        }
    }
    let lookup = |name: &str| -> Result<Vec<String>, ServiceError> {
        let p = parameters
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| invalid(format!("The policy template needs parameter {name}, which is not given.")))?;
        Ok(p.values.clone())
    };
    let statements = match doc.get_mut("Statement") {
        Some(Value::Array(list)) => std::mem::take(list),
        Some(one @ Value::Object(_)) => vec![one.take()],
        _ => return Err(invalid("The policy template has no Statement.")),
    };
    // A parameter the template never names is a mistake (one naming a left-out statement is not).
    let flags: Vec<&str> = statements
        .iter()
        .filter_map(|s| s.get("@Enabled").and_then(Value::as_str))
        .map(|f| f.trim_start_matches('!'))
        .collect();
    if let Some(p) =
        parameters.iter().find(|p| !template.contains(&format!("@{{{}}}", p.name)) && !flags.contains(&p.name.as_str()))
    {
        return Err(invalid(format!("Parameter {} is not used by the policy template.", p.name)));
    }
    let mut kept = Vec::new();
    for mut statement in statements {
        let Value::Object(fields) = &mut statement else { return Err(invalid("A statement is not an object.")) };
        if let Some(flag) = fields.remove("@Enabled") {
            let Value::String(flag) = flag else { return Err(invalid("@Enabled names a parameter.")) };
            let (negated, name) = flag.strip_prefix('!').map_or((false, flag.as_str()), |n| (true, n));
            let values = lookup(name)?;
            if (values.first().map(String::as_str) == Some("True")) == negated {
                continue;
            }
        }
        kept.push(substitute(statement, &mut |n: &str| lookup(n))?);
    }
    if let Value::Object(top) = &mut doc {
        top.insert("Statement".to_owned(), Value::Array(kept));
    }
    let rendered = serde_json::to_string(&doc).map_err(|_| ServiceError::internal())?;
    if rendered.len() > RENDERED_POLICY_SIZE {
        return Err(ServiceError::new(
            "LimitExceeded",
            409,
            format!(
                "The rendered policy has {} characters; at most {RENDERED_POLICY_SIZE} are allowed.",
                rendered.len()
            ),
        ));
    }
    super::validate_document(&rendered)
        .map_err(|e| invalid(format!("The rendered policy is not valid: {}", e.message)))?;
    Ok(rendered)
}

/// Every string of `v` with its placeholders replaced: an array's string that renders to several
/// values becomes several items; elsewhere several values become an array. Keys take one value.
fn substitute(
    v: Value,
    lookup: &mut dyn FnMut(&str) -> Result<Vec<String>, ServiceError>,
) -> Result<Value, ServiceError> {
    Ok(match v {
        Value::String(s) => {
            let mut out = expand(&s, lookup)?;
            if out.len() == 1 {
                Value::String(out.remove(0))
            } else {
                Value::Array(out.into_iter().map(Value::String).collect())
            }
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => out.extend(expand(&s, lookup)?.into_iter().map(Value::String)),
                    other => out.push(substitute(other, lookup)?),
                }
            }
            Value::Array(out)
        }
        Value::Object(fields) => {
            let mut out = serde_json::Map::with_capacity(fields.len());
            for (k, v) in fields {
                let mut keys = expand(&k, lookup)?;
                if keys.len() != 1 {
                    return Err(invalid(format!("The key {k} may take only a single-valued parameter.")));
                }
                out.insert(keys.remove(0), substitute(v, lookup)?);
            }
            Value::Object(out)
        }
        other => other,
    })
}

/// One string with its `@{name}` placeholders replaced: one result per combination of values.
fn expand(
    s: &str,
    lookup: &mut dyn FnMut(&str) -> Result<Vec<String>, ServiceError>,
) -> Result<Vec<String>, ServiceError> {
    let mut results = vec![String::new()];
    let mut rest = s;
    while let Some(start) = rest.find("@{") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        let name = &rest[start + 2..start + 2 + len];
        let values = lookup(name)?;
        let before = &rest[..start];
        results = results.iter().flat_map(|r| values.iter().map(move |v| format!("{r}{before}{v}"))).collect();
        rest = &rest[start + 3 + len..];
    }
    for r in &mut results {
        r.push_str(rest);
    }
    Ok(results)
}

// ---------------------------------------------------------------------------------------------
// Notifications: the outbox standing in for the request's SNS topic.

/// One notification, as `rampart delegation messages` prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Notification {
    pub topic_arn: String,
    pub delegation_request_id: String,
    pub requestor_workflow_id: String,
    pub state: String,
    /// Only in the FINALIZED notification: the token to trade for credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange_token: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
}

fn notify(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    r: &DelegationRecord,
    token: Option<String>,
    now: OffsetDateTime,
) -> Result<(), ServiceError> {
    let message = Notification {
        topic_arn: r.notification_channel.clone(),
        delegation_request_id: r.id.clone(),
        requestor_workflow_id: r.workflow_id.clone(),
        state: r.state.clone(),
        exchange_token: token,
        timestamp: now,
    };
    let json = serde_json::to_vec(&message).map_err(|_| ServiceError::internal())?;
    let sealed = sealer.seal(&json, OUTBOX_CONTEXT).map_err(|_| ServiceError::internal())?;
    // Ordered by time, then by request and state so that two of one instant both stay.
    let mut key = outbox_prefix(&r.notification_channel);
    key.extend_from_slice(format!("{:020}/{}/{}", now.unix_timestamp_nanos(), r.id, r.state).as_bytes());
    tx.put(&key, &sealed)?;
    Ok(())
}

/// Stores a request that changed state, and tells its topic (with the exchange token, when sent).
fn save(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, r: &DelegationRecord, token: Option<String>) -> Result<(), ServiceError> {
    records::write_tx(tx, &request_key(&r.id), r)?;
    notify(tx, ctx.sealer, r, token, ctx.now)
}

/// Hands out (and removes) the notifications waiting for an SNS topic, oldest first.
pub fn take_notifications(tx: &mut Tx<'_>, sealer: &Sealer, topic: &str) -> Result<Vec<Notification>, ServiceError> {
    let rows = tx.scan_prefix(&outbox_prefix(topic), None, usize::MAX >> 1, false)?;
    let mut out = Vec::with_capacity(rows.len());
    for (k, v) in rows {
        let json = sealer.open(&v, OUTBOX_CONTEXT).map_err(|_| ServiceError::internal())?;
        out.push(serde_json::from_slice(&json).map_err(|_| ServiceError::internal())?);
        tx.delete(&k)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The operations.

/// The SNS topic ARN a request notifies: the model's pattern allows any word, but "only SNS topic
/// ARNs are accepted" (CreateDelegationRequest's NotificationChannel).
fn check_channel(channel: &str) -> Result<(), ServiceError> {
    let parts: Vec<&str> = channel.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "sns", region, account, name]
            if !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty() =>
        {
            Ok(())
        }
        _ => Err(invalid(format!("NotificationChannel {channel} is not an SNS topic ARN."))),
    }
}

/// A partner's request for access to a customer's account (to one account when `OwnerAccountId`
/// names it). Only an account a template was registered for may make one, with that template.
pub fn create_delegation_request(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateDelegationRequestRequest,
) -> Result<shapes::CreateDelegationRequestResponse, ServiceError> {
    let caller = ctx.principal;
    let template_arn =
        input.permissions.policy_template_arn.ok_or_else(|| invalid("Permissions must name a PolicyTemplateArn."))?;
    let template = records::read_tx::<TemplateRecord>(tx, &template_key(&template_arn))?
        .filter(|t| t.partner_account == caller.account_id)
        .ok_or_else(|| {
            invalid(format!("The policy template {template_arn} is not registered for account {}.", caller.account_id))
        })?;
    check_channel(&input.notification_channel)?;
    let parameters: Vec<Parameter> = input
        .permissions
        .parameters
        .unwrap_or_default()
        .into_iter()
        .map(|p| Parameter {
            name: p.name.unwrap_or_default(),
            values: p.values.unwrap_or_default(),
            kind: p.r#type.unwrap_or_else(|| "string".to_owned()),
        })
        .collect();
    // One open request per partner workflow: the model's EntityAlreadyExists.
    let open: Vec<DelegationRecord> = tx
        .scan_prefix(REQUEST_PREFIX, None, usize::MAX >> 1, false)?
        .iter()
        .map(|(k, v)| records::decode(k, v))
        .collect::<Result<_, _>>()?;
    if open.iter().any(|r| {
        r.requestor_account == caller.account_id
            && r.workflow_id == input.requestor_workflow_id
            && !matches!(r.state_at(ctx.now), REJECTED | EXPIRED | FINALIZED)
    }) {
        return Err(ServiceError::new(
            "EntityAlreadyExists",
            409,
            format!("A delegation request for workflow {} is already open.", input.requestor_workflow_id),
        ));
    }
    let policy = render(&template.document, &parameters)?;
    let id = uuid::Uuid::new_v4().to_string();
    let record = DelegationRecord {
        v: 1,
        id: id.clone(),
        requestor_account: caller.account_id.clone(),
        requestor_name: template.partner_name.clone(),
        owner_account_id: input.owner_account_id,
        owner_id: None,
        description: input.description,
        request_message: input.request_message,
        template_arn,
        parameters,
        policy,
        boundary_arns: template.boundary_arn.into_iter().collect(),
        workflow_id: input.requestor_workflow_id,
        redirect_url: input.redirect_url,
        notification_channel: input.notification_channel,
        session_duration: input.session_duration,
        only_send_by_owner: input.only_send_by_owner.unwrap_or(false),
        state: UNASSIGNED.to_owned(),
        approver_id: None,
        approver: None,
        notes: None,
        rejection_reason: None,
        created: ctx.now,
        updated: ctx.now,
        expires: ctx.now + UNASSIGNED_LIFETIME,
        finalized: None,
    };
    records::write_tx(tx, &request_key(&id), &record)?;
    // Rampart's console has no pages yet (sign-in only), so there is no deep link to give.
    Ok(shapes::CreateDelegationRequestResponse { console_deep_link: None, delegation_request_id: Some(id) })
}

/// The customer claims an unassigned request for its account; the caller becomes its owner.
pub fn associate_delegation_request(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AssociateDelegationRequestRequest,
) -> Result<(), ServiceError> {
    let p = ctx.principal;
    let mut r = read_request_tx(tx, p, &input.delegation_request_id)?;
    if r.owner_account_id.as_ref().is_some_and(|a| *a != p.account_id) {
        return Err(no_such_request(&r.id));
    }
    if r.state_at(ctx.now) != UNASSIGNED {
        return Err(wrong_state(&r, ctx.now, "associated"));
    }
    r.owner_account_id = Some(p.account_id.clone());
    r.owner_id = Some(p.arn.clone());
    r.moved(ASSIGNED, ctx.now);
    save(tx, ctx, &r, None)
}

/// Forwards an assigned request for approval, with notes for the approver.
pub fn update_delegation_request(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateDelegationRequestRequest,
) -> Result<(), ServiceError> {
    let mut r = owned_request_tx(tx, ctx.principal, &input.delegation_request_id)?;
    if !matches!(r.state_at(ctx.now), ASSIGNED | PENDING_APPROVAL) {
        return Err(wrong_state(&r, ctx.now, "updated"));
    }
    r.notes = input.notes;
    r.moved(PENDING_APPROVAL, ctx.now);
    save(tx, ctx, &r, None)
}

/// Approves a request: the caller, as it is now, is who the partner's session will act as.
pub fn accept_delegation_request(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AcceptDelegationRequestRequest,
) -> Result<(), ServiceError> {
    let p = ctx.principal;
    let mut r = owned_request_tx(tx, p, &input.delegation_request_id)?;
    if !matches!(r.state_at(ctx.now), ASSIGNED | PENDING_APPROVAL) {
        return Err(wrong_state(&r, ctx.now, "accepted"));
    }
    if p.kind == PrincipalKind::Root && r.session_duration > ROOT_MAX_SESSION {
        return Err(invalid(
            "The root user can approve only delegation requests of 4 hours or less: approve this one as an IAM user or role.",
        ));
    }
    if p.delegation.is_some() {
        return Err(invalid("Delegated credentials cannot approve a delegation request."));
    }
    if !matches!(p.kind, PrincipalKind::Root | PrincipalKind::IAMUser | PrincipalKind::AssumedRole) {
        return Err(invalid("Only an IAM user, a role session or the root user can approve a delegation request."));
    }
    r.approver = Some(crate::sts::approver_claims(p)?);
    r.approver_id = Some(p.arn.clone());
    r.moved(ACCEPTED, ctx.now);
    save(tx, ctx, &r, None)
}

/// Releases an accepted request's exchange token to the partner; the delegation period starts.
pub fn send_delegation_token(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::SendDelegationTokenRequest,
) -> Result<(), ServiceError> {
    let p = ctx.principal;
    let mut r = owned_request_tx(tx, p, &input.delegation_request_id)?;
    if r.state_at(ctx.now) != ACCEPTED {
        return Err(wrong_state(&r, ctx.now, "sent"));
    }
    if r.only_send_by_owner && r.owner_id.as_deref() != Some(p.arn.as_str()) {
        return Err(invalid(format!(
            "Only the owner of delegation request {} ({}) may send its token.",
            r.id,
            r.owner_id.as_deref().unwrap_or_default()
        )));
    }
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ServiceError::internal())?;
    let token = data_encoding::BASE64URL_NOPAD.encode(&bytes);
    tx.put(&token_key(&digest(&token)), r.id.as_bytes())?;
    r.finalized = Some(ctx.now);
    r.moved(FINALIZED, ctx.now);
    save(tx, ctx, &r, Some(token))
}

/// Refuses a request (before its token is sent); it cannot be accepted afterwards.
pub fn reject_delegation_request(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RejectDelegationRequestRequest,
) -> Result<(), ServiceError> {
    let mut r = owned_request_tx(tx, ctx.principal, &input.delegation_request_id)?;
    if !matches!(r.state_at(ctx.now), ASSIGNED | PENDING_APPROVAL | ACCEPTED) {
        return Err(wrong_state(&r, ctx.now, "rejected"));
    }
    r.rejection_reason = input.notes;
    r.moved(REJECTED, ctx.now);
    save(tx, ctx, &r, None)
}

pub fn get_delegation_request(
    ctx: &Ctx<'_>,
    input: shapes::GetDelegationRequestRequest,
) -> Result<shapes::GetDelegationRequestResponse, ServiceError> {
    let p = ctx.principal;
    let r = records::read::<DelegationRecord>(ctx.db, &request_key(&input.delegation_request_id))?
        .filter(|r| r.visible_to(p))
        .ok_or_else(|| no_such_request(&input.delegation_request_id))?;
    let check = (input.delegation_permission_check == Some(true) && p.account_id != r.requestor_account)
        .then(|| permission_check(ctx, &r.policy));
    Ok(shapes::GetDelegationRequestResponse {
        delegation_request: Some(r.to_shape(ctx.now)),
        permission_check_status: check.as_ref().map(|_| "COMPLETE".to_owned()),
        permission_check_result: check.map(str::to_owned),
    })
}

/// A policy document's statements (one, or a list).
fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

/// A policy element's strings (one, or a list).
fn string_values(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether the caller holds what the request asks, so that its approval would pass it on:
/// ALLOWED when its policies allow every action on every resource of the policy, DENIED when
/// one is refused, UNSURE when the policy's conditions or wildcards leave it open.
fn permission_check(ctx: &Ctx<'_>, policy: &str) -> &'static str {
    let p = ctx.principal;
    let Ok(doc) = serde_json::from_str::<Value>(policy) else { return "UNSURE" };
    let strings = |v: Option<&Value>| -> Vec<String> { string_values(v).into_iter().map(str::to_owned).collect() };
    let mut unsure = false;
    let mut asked: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for s in statements(&doc) {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let actions = strings(s.get("Action"));
        if s.get("Condition").is_some()
            || s.get("NotAction").is_some()
            || actions.iter().any(|a| a.contains(['*', '?']))
        {
            unsure = true;
        }
        let resources = strings(s.get("Resource"));
        asked.push((actions.into_iter().filter(|a| !a.contains(['*', '?'])).collect(), resources));
    }
    // Root may do anything its account's organization allows; its policies are not simulated.
    if p.kind == PrincipalKind::Root {
        return if unsure { "UNSURE" } else { "ALLOWED" };
    }
    let source = match (&p.kind, &p.session) {
        (PrincipalKind::AssumedRole, Some(s)) => {
            format!("arn:aws:iam::{}:role{}{}", p.account_id, s.role_path, s.role_name)
        }
        _ => p.arn.clone(),
    };
    for (actions, resources) in asked {
        if actions.is_empty() {
            continue;
        }
        let input = shapes::SimulatePrincipalPolicyRequest {
            policy_source_arn: source.clone(),
            policy_input_list: None,
            permissions_boundary_policy_input_list: None,
            action_names: actions,
            resource_arns: Some(resources),
            resource_policy: None,
            resource_owner: None,
            caller_arn: None,
            context_entries: None,
            resource_handling_option: None,
            max_items: Some(1000),
            marker: None,
        };
        let Ok(out) = super::simulate_principal_policy(ctx, input) else { return "UNSURE" };
        for result in out.evaluation_results.unwrap_or_default() {
            if result.eval_decision != "allowed" {
                return "DENIED";
            }
        }
    }
    if unsure { "UNSURE" } else { "ALLOWED" }
}

/// The requests of the caller's account (associated with it, or meant for it), optionally only
/// those a given principal owns.
pub fn list_delegation_requests(
    ctx: &Ctx<'_>,
    input: shapes::ListDelegationRequestsRequest,
) -> Result<shapes::ListDelegationRequestsResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut all: Vec<DelegationRecord> = records::scan_records(ctx.db, REQUEST_PREFIX)?;
    all.retain(|r| {
        r.owner_account_id.as_ref() == Some(account)
            && input.owner_id.as_ref().is_none_or(|o| r.owner_id.as_ref() == Some(o))
    });
    all.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    let shaped: Vec<shapes::DelegationRequest> = all.iter().map(|r| r.to_shape(ctx.now)).collect();
    let (page, truncated, marker) = super::page_items(shaped, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::ListDelegationRequestsResponse {
        delegation_requests: Some(page),
        marker,
        is_truncated: Some(truncated),
    })
}

/// A plain-language account of what a delegation request would allow, made from its policy (not
/// by a language model, as AWS's is): who asks, for how long, and each statement's actions and
/// resources. English only; other locales are NOT_SUPPORTED.
pub fn get_human_readable_summary(
    ctx: &Ctx<'_>,
    input: shapes::GetHumanReadableSummaryRequest,
) -> Result<shapes::GetHumanReadableSummaryResponse, ServiceError> {
    let id = input
        .entity_arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(_, resource)| resource.strip_prefix("delegation-request/"))
        .ok_or_else(|| {
            invalid(format!("{} is not a delegation request ARN, the only entity with a summary.", input.entity_arn))
        })?;
    let r = records::read::<DelegationRecord>(ctx.db, &request_key(id))?
        .filter(|r| r.visible_to(ctx.principal))
        .ok_or_else(|| no_such_request(id))?;
    let locale = input.locale.unwrap_or_else(|| "en".to_owned());
    if !(locale == "en" || locale.starts_with("en-") || locale.starts_with("en_")) {
        return Ok(shapes::GetHumanReadableSummaryResponse {
            summary_content: None,
            locale: Some(locale),
            summary_state: Some("NOT_SUPPORTED".to_owned()),
        });
    }
    Ok(shapes::GetHumanReadableSummaryResponse {
        summary_content: Some(summary(&r)),
        locale: Some(locale),
        summary_state: Some("AVAILABLE".to_owned()),
    })
}

fn summary(r: &DelegationRecord) -> String {
    let minutes = r.session_duration / 60;
    let duration = if minutes % 60 == 0 { format!("{} hour(s)", minutes / 60) } else { format!("{minutes} minute(s)") };
    let mut out = format!(
        "{} (account {}) asks for temporary access to your account for {duration}: {}\n",
        r.requestor_name, r.requestor_account, r.description
    );
    let doc: Value = serde_json::from_str(&r.policy).unwrap_or(Value::Null);
    let list = |v: Option<&Value>| {
        let values = string_values(v);
        if values.is_empty() { "nothing".to_owned() } else { values.join(", ") }
    };
    for s in statements(&doc) {
        let effect = if s.get("Effect").and_then(Value::as_str) == Some("Deny") { "Never" } else { "May" };
        let (verb, actions) = match s.get("NotAction") {
            Some(n) => ("do anything except", list(Some(n))),
            None => ("do", list(s.get("Action"))),
        };
        out.push_str(&format!("- {effect} {verb} {actions} on {}", list(s.get("Resource"))));
        if let Some(Value::Object(c)) = s.get("Condition") {
            let keys: Vec<&str> =
                c.values().filter_map(Value::as_object).flat_map(|m| m.keys().map(String::as_str)).collect();
            out.push_str(&format!(", only when {} match", keys.join(", ")));
        }
        out.push('\n');
    }
    for b in &r.boundary_arns {
        out.push_str(&format!("Roles it creates must carry the permissions boundary {b}.\n"));
    }
    out
}

/// The request a trade-in token was sent for, if the token is one Rampart sent.
pub(crate) fn traded(db: &Db, token: &str) -> Result<Option<DelegationRecord>, ServiceError> {
    let Some(id) = db.get(&token_key(&digest(token)))? else { return Ok(None) };
    let id = String::from_utf8(id.to_vec()).map_err(|_| ServiceError::internal())?;
    records::read(db, &request_key(&id))
}

/// For the pipeline: the policy that lets a request's owner manage it without any permission
/// of its own ("principals who initiate a delegation request are automatically granted
/// permissions to manage that specific request"), as a resource policy on the request.
pub fn owner_policy(db: &Db, principal: &Principal, input_id: Option<&str>) -> Result<Option<String>, ServiceError> {
    let Some(id) = input_id else { return Ok(None) };
    let Some(r) = records::read::<DelegationRecord>(db, &request_key(id))? else { return Ok(None) };
    let Some(owner) = r.owner_id.as_ref().filter(|o| **o == principal.arn) else { return Ok(None) };
    let resource = format!("arn:aws:iam::{}:delegation-request/{id}", principal.account_id);
    Ok(Some(
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "AWS": owner },
                "Action": [
                    "iam:GetDelegationRequest",
                    "iam:UpdateDelegationRequest",
                    "iam:RejectDelegationRequest",
                    "iam:SendDelegationToken",
                ],
                "Resource": resource,
            }],
        })
        .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, kind: &str, values: &[&str]) -> Parameter {
        Parameter { name: name.into(), kind: kind.into(), values: values.iter().map(|v| (*v).to_owned()).collect() }
    }

    fn statements(rendered: &str) -> Value {
        serde_json::from_str::<Value>(rendered).unwrap()["Statement"].clone()
    }

    #[test]
    fn lists_expand_to_their_cross_product_and_enabled_statements_follow_their_flag() {
        let template = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::@{buckets}/@{prefix}/*","arn:aws:s3:::logs"]},
            {"@Enabled":"WRITE","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::@{buckets}/*"},
            {"@Enabled":"!WRITE","Effect":"Deny","Action":"s3:PutObject","Resource":"*",
             "Condition":{"StringEquals":{"aws:ResourceTag/@{tag}":"@{prefix}"}}}]}"#;
        let params = |write: &str| {
            vec![
                p("buckets", "stringList", &["a", "b"]),
                p("prefix", "string", &["in"]),
                p("WRITE", "string", &[write]),
                p("tag", "string", &["team"]),
            ]
        };
        let on = statements(&render(template, &params("True")).unwrap());
        assert_eq!(
            on[0]["Resource"],
            serde_json::json!(["arn:aws:s3:::a/in/*", "arn:aws:s3:::b/in/*", "arn:aws:s3:::logs"])
        );
        assert_eq!(on[1]["Resource"], serde_json::json!(["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]));
        assert!(on[1].get("@Enabled").is_none());
        assert_eq!(on.as_array().unwrap().len(), 2, "the negated statement is left out");
        // Any value but "True" turns a flag off; the negated statement then stays, keys rendered.
        let off = statements(&render(template, &params("true")).unwrap());
        assert_eq!(off.as_array().unwrap().len(), 2);
        assert_eq!(off[1]["Condition"]["StringEquals"]["aws:ResourceTag/team"], "in");
    }

    #[test]
    fn parameters_must_be_given_used_once_and_typed() {
        let template = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::@{b}/*"}}"#;
        let message = |params: &[Parameter]| render(template, params).unwrap_err().message;
        assert!(message(&[]).contains("needs parameter b"));
        assert!(message(&[p("b", "string", &["x"]), p("c", "string", &["y"])]).contains("c is not used"));
        assert!(message(&[p("b", "string", &["x", "y"])]).contains("exactly one"));
        assert!(message(&[p("b", "stringList", &[])]).contains("at least one"));
        assert!(message(&[p("b", "number", &["1"])]).contains("unknown type"));
        assert!(message(&[p("b", "string", &["x"]), p("b", "string", &["y"])]).contains("more than once"));
        // A value is data: quotes and placeholders in it stay as they are.
        let odd = statements(&render(template, &[p("b", "string", &[r#"x"@{b}"#])]).unwrap());
        assert_eq!(odd[0]["Resource"], r#"arn:aws:s3:::x"@{b}/*"#);
        // What renders must still be a valid policy, and short enough.
        let long: Vec<String> = (0..200).map(|i| format!("bucket-number-{i}")).collect();
        let long: Vec<&str> = long.iter().map(String::as_str).collect();
        assert_eq!(render(template, &[p("b", "stringList", &long)]).unwrap_err().code, "LimitExceeded");
        let bad = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"@{a}","Resource":"*"}}"#;
        assert_eq!(render(bad, &[p("a", "string", &["nonsense"])]).unwrap_err().code, "InvalidInput");
    }

    #[test]
    fn a_request_expires_in_its_state_after_its_time() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(100);
        let mut r = DelegationRecord {
            v: 1,
            id: "0123456789abcdef".into(),
            requestor_account: "111122223333".into(),
            requestor_name: "Acme".into(),
            owner_account_id: None,
            owner_id: None,
            description: String::new(),
            request_message: None,
            template_arn: String::new(),
            parameters: Vec::new(),
            policy: String::new(),
            boundary_arns: Vec::new(),
            workflow_id: "w-123".into(),
            redirect_url: None,
            notification_channel: String::new(),
            session_duration: 900,
            only_send_by_owner: false,
            state: UNASSIGNED.into(),
            approver_id: None,
            approver: None,
            notes: None,
            rejection_reason: None,
            created: now,
            updated: now,
            expires: now + UNASSIGNED_LIFETIME,
            finalized: None,
        };
        assert_eq!(r.state_at(now + Duration::hours(23)), UNASSIGNED);
        assert_eq!(r.state_at(now + Duration::hours(24)), EXPIRED);
        r.moved(ASSIGNED, now + Duration::hours(1));
        assert_eq!(r.state_at(now + Duration::days(7)), ASSIGNED);
        assert_eq!(r.state_at(now + Duration::days(8)), EXPIRED);
    }
}
