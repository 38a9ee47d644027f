//! Handshakes: an organization invites a standalone account, which accepts or declines; the
//! organization may cancel while the invitation is open. A member account may also leave. An
//! organization with consolidated billing only moves to all features through handshakes too: every
//! invited member approves, then the management account accepts the change.
//! See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_invites.html>
//! and <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_org_support-all-features.html>.

use rampart_core::account::AccountRecord;
use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::organizations as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::tree::add_member;
use super::{OrgRecord, constraint, invalid, managed_tx, membership_tx, page, random_id, touch};

/// How long an invitation stays open.
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_invites.html>.
const INVITE_DAYS: i64 = 15;

/// How long a handshake that was answered, canceled or expired stays visible.
const VISIBLE_DAYS: i64 = 30;

/// A handshake, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandshakeRecord {
    pub id: String,
    pub org: String,
    /// `INVITE`, `ENABLE_ALL_FEATURES` (to the management account) or `APPROVE_ALL_FEATURES` (to
    /// each invited member).
    pub action: String,
    /// The invited party: `(id, ACCOUNT | EMAIL)`.
    pub target: (String, String),
    /// An APPROVE_ALL_FEATURES handshake's ENABLE_ALL_FEATURES handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `OPEN`, `ACCEPTED`, `DECLINED` or `CANCELED` (EXPIRED is derived from `expires`).
    pub state: String,
    pub notes: Option<String>,
    /// Tags the account gets when it joins.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(with = "time::serde::rfc3339")]
    pub requested: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    /// When it was answered or canceled.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updated: Option<OffsetDateTime>,
    /// A TRANSFER_RESPONSIBILITY handshake's transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferRef>,
}

/// The transfer a TRANSFER_RESPONSIBILITY handshake proposes, as its resources name it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferRef {
    pub id: String,
    /// `BILLING`.
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
}

impl HandshakeRecord {
    /// The state as AWS reports it: an open handshake past its expiry is EXPIRED.
    fn state(&self, now: OffsetDateTime) -> &str {
        if self.state == "OPEN" && now >= self.expires { "EXPIRED" } else { &self.state }
    }

    /// Whether it is `org`'s change to all features, still under way.
    fn changes_to_all_features(&self, org: &str, now: OffsetDateTime) -> bool {
        self.org == org && self.action == "ENABLE_ALL_FEATURES" && self.state(now) == "OPEN"
    }

    /// Whether it is still listed: open, or closed less than 30 days ago.
    fn visible(&self, now: OffsetDateTime) -> bool {
        let closed = match self.state(now) {
            "OPEN" => return true,
            "EXPIRED" => self.expires,
            _ => self.updated.unwrap_or(self.requested),
        };
        now - closed < Duration::days(VISIBLE_DAYS)
    }

    /// Whether `account` (with its root user's email) is the party invited.
    fn invites(&self, account: &str, email: &str) -> bool {
        match self.target.1.as_str() {
            "ACCOUNT" => self.target.0 == account,
            _ => !email.is_empty() && self.target.0.eq_ignore_ascii_case(email),
        }
    }

    pub(crate) fn shape(&self, org: Option<&OrgRecord>, now: OffsetDateTime) -> shapes::Handshake {
        let mut resources = Vec::new();
        let mut management = String::new();
        if let Some(org) = org {
            management.clone_from(&org.management_account);
            let item = |r#type: &str, value: &str| shapes::HandshakeResource {
                value: Some(value.to_owned()),
                r#type: Some(r#type.to_owned()),
                resources: None,
            };
            resources.push(shapes::HandshakeResource {
                value: Some(org.id.clone()),
                r#type: Some("ORGANIZATION".to_owned()),
                resources: Some(vec![
                    item("MASTER_EMAIL", &org.management_email),
                    item("MASTER_NAME", "Management account"),
                    item("ORGANIZATION_FEATURE_SET", &org.feature_set),
                ]),
            });
            resources.push(item(&self.target.1, &self.target.0));
            if let Some(parent) = &self.parent {
                resources.push(item("PARENT_HANDSHAKE", parent));
            }
            if let Some(t) = &self.transfer {
                let start = t.start.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
                resources.push(item("RESPONSIBILITY_TRANSFER", &t.id));
                resources.push(item("TRANSFER_TYPE", &t.kind));
                resources.push(item("TRANSFER_START_TIMESTAMP", &start));
                resources.push(item("MANAGEMENT_ACCOUNT", &org.management_account));
                resources.push(item("MANAGEMENT_EMAIL", &org.management_email));
                resources.push(item("MANAGEMENT_NAME", "Management account"));
            }
            if let Some(notes) = &self.notes {
                resources.push(item("NOTES", notes));
            }
        }
        shapes::Handshake {
            id: Some(self.id.clone()),
            arn: Some(arn_in(&management, self)),
            parties: Some(vec![
                shapes::HandshakeParty { id: self.org.clone(), r#type: "ORGANIZATION".to_owned() },
                shapes::HandshakeParty { id: self.target.0.clone(), r#type: self.target.1.clone() },
            ]),
            state: Some(self.state(now).to_owned()),
            requested_timestamp: Some(self.requested),
            expiration_timestamp: Some(self.expires),
            action: Some(self.action.clone()),
            resources: Some(resources),
        }
    }
}

fn not_found() -> ServiceError {
    ServiceError::new(
        "HandshakeNotFoundException",
        400,
        "We can't find a handshake with the HandshakeId that you specified.",
    )
}

fn already_in_organization() -> ServiceError {
    ServiceError::new(
        "HandshakeConstraintViolationException",
        400,
        "The handshake request is invalid because the invited account is already a member of an organization.",
    )
    .with("Reason", "ALREADY_IN_AN_ORGANIZATION")
}

/// The email of an account's root user; empty when the account is unknown.
pub(crate) fn root_email(get: &records::Reader<'_>, account: &str) -> Result<String, ServiceError> {
    Ok(records::read_with::<AccountRecord>(get, &keys::account(account))?.map(|a| a.root_email).unwrap_or_default())
}

/// Invites an account, by id or by its root user's email, to join the caller's organization.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_InviteAccountToOrganization.html>.
pub fn invite_account_to_organization(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::InviteAccountToOrganizationRequest,
) -> Result<shapes::InviteAccountToOrganizationResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let target = input.target;
    let invited = invited_account(tx, &target)?;
    if let Some(account) = &invited
        && membership_tx(tx, account)?.is_some()
    {
        return Err(already_in_organization());
    }
    let now = ctx.now;
    let handshakes = all_handshakes(tx)?;
    if handshakes.iter().any(|h| h.changes_to_all_features(&org.id, now)) {
        return Err(handshake_constraint(
            "INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES",
            "You can't invite accounts while the organization is changing to all features.",
        ));
    }
    let open = handshakes.iter().any(|h| {
        h.org == org.id
            && h.state(now) == "OPEN"
            && h.target.1 == target.r#type
            && h.target.0.eq_ignore_ascii_case(&target.id)
    });
    if open {
        return Err(ServiceError::new(
            "DuplicateHandshakeException",
            400,
            "A handshake with the same action and target already exists.",
        ));
    }
    let record = HandshakeRecord {
        id: format!("h-{}", random_id(16)?),
        org: org.id.clone(),
        action: "INVITE".to_owned(),
        target: (target.id, target.r#type),
        state: "OPEN".to_owned(),
        notes: input.notes,
        tags: input.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect(),
        requested: now,
        expires: now + Duration::days(INVITE_DAYS),
        updated: None,
        parent: None,
        transfer: None,
    };
    records::write_tx(tx, &keys::org_handshake(&record.id), &record)?;
    Ok(shapes::InviteAccountToOrganizationResponse { handshake: Some(record.shape(Some(&org), now)) })
}

/// The account an invitation names, when it is one Rampart knows: by its id, or by its root
/// user's email; the party checked as Organizations checks it (an ACCOUNT or an EMAIL).
pub(crate) fn invited_account(tx: &Tx<'_>, target: &shapes::HandshakeParty) -> Result<Option<String>, ServiceError> {
    match target.r#type.as_str() {
        "ACCOUNT" => {
            if target.id.len() != 12 || !target.id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    "You specified an invalid value for Target.Id: an account ID is 12 digits. (Reason: INVALID_PATTERN)",
                ));
            }
            Ok(Some(target.id.clone()))
        }
        "EMAIL" => {
            let (local, domain) = target.id.split_once('@').unwrap_or_default();
            if local.is_empty() || !domain.contains('.') || target.id.chars().any(char::is_whitespace) {
                return Err(invalid(
                    "You specified an invalid email address for the invited account owner. (Reason: \
                     INVALID_EMAIL_ADDRESS_TARGET)",
                ));
            }
            let accounts = tx.scan_prefix(b"account/", None, usize::MAX >> 1, false)?;
            Ok(accounts
                .iter()
                .filter_map(|(k, v)| records::decode::<AccountRecord>(k, v).ok())
                .find(|a| a.root_email.eq_ignore_ascii_case(&target.id))
                .map(|a| a.id))
        }
        _ => Err(invalid(
            "You specified the wrong type of entity (account, organization, or email) as a party. (Reason: \
             INVALID_PARTY_TYPE_TARGET)",
        )),
    }
}

/// A handshake the caller's account is a party to: the organization that sent it (its management
/// account) or the account invited. Anyone else is told it does not exist.
fn party_to(
    get: &records::Reader<'_>,
    account: &str,
    id: &str,
) -> Result<(HandshakeRecord, Option<OrgRecord>, bool), ServiceError> {
    let h: HandshakeRecord = records::read_with(get, &keys::org_handshake(id))?.ok_or_else(not_found)?;
    let org: Option<OrgRecord> = records::read_with(get, &keys::organization(&h.org))?;
    let sender = org.as_ref().is_some_and(|o| o.management_account == account);
    if !sender && !h.invites(account, &root_email(get, account)?) {
        return Err(not_found());
    }
    Ok((h, org, sender))
}

/// Moves an open handshake to `to`; any other state refuses, as AWS does.
fn answer(h: &mut HandshakeRecord, to: &str, now: OffsetDateTime) -> Result<(), ServiceError> {
    let current = h.state(now).to_owned();
    if current == to {
        return Err(ServiceError::new(
            "HandshakeAlreadyInStateException",
            400,
            format!("The specified handshake is already in the requested state: {to}."),
        ));
    }
    if current != "OPEN" {
        return Err(ServiceError::new(
            "InvalidHandshakeTransitionException",
            400,
            format!("You can't change a handshake that is {current} to {to}."),
        ));
    }
    h.state = to.to_owned();
    h.updated = Some(now);
    Ok(())
}

/// The invited account accepts: it joins the organization in its root, under the default policies
/// of every enabled type, with the invitation's tags.
pub fn accept_handshake(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AcceptHandshakeRequest,
) -> Result<shapes::AcceptHandshakeResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let (mut h, org, sender) = party_to(&records::tx_reader(tx), account, &input.handshake_id)?;
    match h.action.as_str() {
        "ENABLE_ALL_FEATURES" => return finish_all_features(tx, ctx, h, org),
        "TRANSFER_RESPONSIBILITY" => {
            let Some(transfer) = h.transfer.clone().filter(|_| !sender) else { return Err(super::access_denied()) };
            answer(&mut h, "ACCEPTED", ctx.now)?;
            super::transfers::accept(tx, ctx, &h, &transfer)?;
            records::write_tx(tx, &keys::org_handshake(&h.id), &h)?;
            return Ok(shapes::AcceptHandshakeResponse { handshake: Some(h.shape(org.as_ref(), ctx.now)) });
        }
        "APPROVE_ALL_FEATURES" => {
            if sender {
                return Err(super::access_denied());
            }
            answer(&mut h, "ACCEPTED", ctx.now)?;
            records::write_tx(tx, &keys::org_handshake(&h.id), &h)?;
            return Ok(shapes::AcceptHandshakeResponse { handshake: Some(h.shape(org.as_ref(), ctx.now)) });
        }
        _ => {}
    }
    if sender {
        return Err(super::access_denied());
    }
    let Some(org) = org else { return Err(not_found()) };
    if h.state(ctx.now) == "OPEN" && membership_tx(tx, account)?.is_some() {
        return Err(already_in_organization());
    }
    answer(&mut h, "ACCEPTED", ctx.now)?;
    let email = root_email(&records::tx_reader(tx), account)?;
    let name = tx.get(&keys::account_alias(account))?.map(|a| String::from_utf8_lossy(&a).into_owned());
    add_member(tx, &org, account, &org.root_id, name.as_deref().unwrap_or(account), &email, "INVITED", ctx.now)?;
    super::policies::attach_defaults(tx, &org, account)?;
    let tags = h.tags.iter().map(|(key, value)| shapes::Tag { key: key.clone(), value: value.clone() }).collect();
    super::extras::put_tags(tx, &org, account, tags)?;
    records::write_tx(tx, &keys::org_handshake(&h.id), &h)?;
    touch(tx, &org.id)?;
    Ok(shapes::AcceptHandshakeResponse { handshake: Some(h.shape(Some(&org), ctx.now)) })
}

/// The invited account declines.
pub fn decline_handshake(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeclineHandshakeRequest,
) -> Result<shapes::DeclineHandshakeResponse, ServiceError> {
    let (mut h, org, sender) = party_to(&records::tx_reader(tx), &ctx.principal.account_id, &input.handshake_id)?;
    if sender {
        return Err(super::access_denied());
    }
    answer(&mut h, "DECLINED", ctx.now)?;
    records::write_tx(tx, &keys::org_handshake(&h.id), &h)?;
    if let Some(transfer) = &h.transfer {
        super::transfers::follow(tx, transfer, "DECLINED")?;
    }
    Ok(shapes::DeclineHandshakeResponse { handshake: Some(h.shape(org.as_ref(), ctx.now)) })
}

/// The organization withdraws its invitation.
pub fn cancel_handshake(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CancelHandshakeRequest,
) -> Result<shapes::CancelHandshakeResponse, ServiceError> {
    let (mut h, org, sender) = party_to(&records::tx_reader(tx), &ctx.principal.account_id, &input.handshake_id)?;
    if !sender || h.action == "APPROVE_ALL_FEATURES" {
        return Err(super::access_denied());
    }
    answer(&mut h, "CANCELED", ctx.now)?;
    records::write_tx(tx, &keys::org_handshake(&h.id), &h)?;
    if let Some(transfer) = &h.transfer {
        super::transfers::follow(tx, transfer, "CANCELED")?;
    }
    // Canceling the change to all features withdraws the members' approvals asked for it.
    if h.action == "ENABLE_ALL_FEATURES" {
        for mut child in approvals(tx, &h)? {
            if child.state(ctx.now) == "OPEN" {
                answer(&mut child, "CANCELED", ctx.now)?;
                records::write_tx(tx, &keys::org_handshake(&child.id), &child)?;
            }
        }
    }
    Ok(shapes::CancelHandshakeResponse { handshake: Some(h.shape(org.as_ref(), ctx.now)) })
}

pub fn describe_handshake(
    ctx: &Ctx<'_>,
    input: shapes::DescribeHandshakeRequest,
) -> Result<shapes::DescribeHandshakeResponse, ServiceError> {
    let (h, org, _) =
        party_to(&|k| Ok(ctx.db.get(k)?.map(std::sync::Arc::from)), &ctx.principal.account_id, &input.handshake_id)?;
    if !h.visible(ctx.now) {
        return Err(not_found());
    }
    Ok(shapes::DescribeHandshakeResponse { handshake: Some(h.shape(org.as_ref(), ctx.now)) })
}

/// Every visible handshake `pick` chooses, newest first, filtered as the request asks.
fn list(
    db: &Db,
    now: OffsetDateTime,
    filter: Option<&shapes::HandshakeFilter>,
    pick: &dyn Fn(&HandshakeRecord) -> bool,
) -> Result<Vec<shapes::Handshake>, ServiceError> {
    if let Some(f) = filter
        && f.action_type.is_some()
        && f.parent_handshake_id.is_some()
    {
        return Err(invalid(
            "You can specify only one filter parameter for the operation. (Reason: MAX_FILTER_LIMIT_EXCEEDED)",
        ));
    }
    let mut found: Vec<HandshakeRecord> = records::scan_records::<HandshakeRecord>(db, keys::ORG_HANDSHAKES)?
        .into_iter()
        .filter(|h| h.visible(now) && pick(h))
        .filter(|h| {
            filter.is_none_or(|f| {
                f.action_type.as_ref().is_none_or(|a| *a == h.action)
                    && f.parent_handshake_id.as_ref().is_none_or(|p| h.parent.as_ref() == Some(p))
            })
        })
        .collect();
    found.sort_by(|a, b| b.requested.cmp(&a.requested).then(a.id.cmp(&b.id)));
    let mut orgs: Vec<OrgRecord> = Vec::new();
    let mut shaped = Vec::with_capacity(found.len());
    for h in &found {
        if !orgs.iter().any(|o| o.id == h.org)
            && let Some(o) = records::read::<OrgRecord>(db, &keys::organization(&h.org))?
        {
            orgs.push(o);
        }
        shaped.push(h.shape(orgs.iter().find(|o| o.id == h.org), now));
    }
    Ok(shaped)
}

/// The handshakes the caller's account received (by its id or its root user's email); a
/// standalone account may call it.
pub fn list_handshakes_for_account(
    ctx: &Ctx<'_>,
    input: shapes::ListHandshakesForAccountRequest,
) -> Result<shapes::ListHandshakesForAccountResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let email = root_email(&|k| Ok(ctx.db.get(k)?.map(std::sync::Arc::from)), account)?;
    let all = list(ctx.db, ctx.now, input.filter.as_ref(), &|h| h.invites(account, &email))?;
    let (handshakes, next_token) = page(all, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListHandshakesForAccountResponse { handshakes: Some(handshakes), next_token })
}

/// The handshakes the caller's organization sent.
pub fn list_handshakes_for_organization(
    ctx: &Ctx<'_>,
    input: shapes::ListHandshakesForOrganizationRequest,
) -> Result<shapes::ListHandshakesForOrganizationResponse, ServiceError> {
    let org = super::access::reader(ctx, "ListHandshakesForOrganization")?;
    let all = list(ctx.db, ctx.now, input.filter.as_ref(), &|h| h.org == org.id)?;
    let (handshakes, next_token) = page(all, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListHandshakesForOrganizationResponse { handshakes: Some(handshakes), next_token })
}

/// A member account leaves its organization and stands alone again. The management account
/// cannot; an SCP may forbid it (`organizations:LeaveOrganization`), as any other action.
pub fn leave_organization(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, _input: ()) -> Result<(), ServiceError> {
    let (org, m) = membership_tx(tx, &ctx.principal.account_id)?.ok_or_else(super::not_in_use)?;
    if m.account == org.management_account {
        return Err(ServiceError::new(
            "MasterCannotLeaveOrganizationException",
            400,
            "You can't remove a management account from an organization. If you want the management account to \
             become a member account in another organization, you must first delete the current organization of the \
             management account.",
        ));
    }
    if m.closed.is_some() {
        return Err(constraint(
            "ACCOUNT_CANNOT_LEAVE_ORGANIZATION",
            "A closed account stays in the organization until it is closed for good.",
        ));
    }
    super::extras::part(tx, &org, &m)
}

fn handshake_constraint(reason: &'static str, message: &str) -> ServiceError {
    ServiceError::new("HandshakeConstraintViolationException", 400, message).with("Reason", reason)
}

/// Every handshake of the store, decoded.
fn all_handshakes(tx: &Tx<'_>) -> Result<Vec<HandshakeRecord>, ServiceError> {
    Ok(tx
        .scan_prefix(keys::ORG_HANDSHAKES, None, usize::MAX >> 1, false)?
        .iter()
        .filter_map(|(k, v)| records::decode::<HandshakeRecord>(k, v).ok())
        .collect())
}

/// The organization's open change to all features, if one is under way.
fn pending_all_features(tx: &Tx<'_>, org: &str, now: OffsetDateTime) -> Result<Option<HandshakeRecord>, ServiceError> {
    Ok(all_handshakes(tx)?.into_iter().find(|h| h.changes_to_all_features(org, now)))
}

/// The approvals asked of members for a change to all features.
fn approvals(tx: &Tx<'_>, parent: &HandshakeRecord) -> Result<Vec<HandshakeRecord>, ServiceError> {
    Ok(all_handshakes(tx)?.into_iter().filter(|h| h.parent.as_deref() == Some(parent.id.as_str())).collect())
}

/// Starts moving an organization with consolidated billing only to all features: a handshake to
/// the management account, and one asking each invited member account to approve (accounts the
/// organization created need not). When every member has approved, the management account accepts
/// its handshake and the organization has all features.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_EnableAllFeatures.html>.
pub fn enable_all_features(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    _input: shapes::EnableAllFeaturesRequest,
) -> Result<shapes::EnableAllFeaturesResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    if org.feature_set == "ALL" {
        return Err(handshake_constraint(
            "ORGANIZATION_ALREADY_HAS_ALL_FEATURES",
            "The organization already has all features enabled.",
        ));
    }
    let now = ctx.now;
    if pending_all_features(tx, &org.id, now)?.is_some() {
        return Err(handshake_constraint(
            "ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION",
            "The organization is already changing to all features.",
        ));
    }
    let handshake = |action: &str, target: &str, parent: Option<String>| -> Result<HandshakeRecord, ServiceError> {
        Ok(HandshakeRecord {
            id: format!("h-{}", random_id(16)?),
            org: org.id.clone(),
            action: action.to_owned(),
            target: (target.to_owned(), "ACCOUNT".to_owned()),
            state: "OPEN".to_owned(),
            notes: None,
            tags: Vec::new(),
            requested: now,
            expires: now + Duration::days(INVITE_DAYS),
            updated: None,
            parent,
            transfer: None,
        })
    };
    let parent = handshake("ENABLE_ALL_FEATURES", &org.management_account, None)?;
    let invited: Vec<String> = tx
        .scan_prefix(b"orgmember/", None, usize::MAX >> 1, false)?
        .iter()
        .filter_map(|(k, v)| records::decode::<super::Membership>(k, v).ok())
        .filter(|m| m.org == org.id && m.joined_method == "INVITED" && m.account != org.management_account)
        .map(|m| m.account)
        .collect();
    for member in invited {
        let child = handshake("APPROVE_ALL_FEATURES", &member, Some(parent.id.clone()))?;
        records::write_tx(tx, &keys::org_handshake(&child.id), &child)?;
    }
    records::write_tx(tx, &keys::org_handshake(&parent.id), &parent)?;
    Ok(shapes::EnableAllFeaturesResponse { handshake: Some(parent.shape(Some(&org), now)) })
}

/// The management account accepts the change to all features, once every member asked has
/// approved (a member that has left since needs not).
fn finish_all_features(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    mut h: HandshakeRecord,
    org: Option<OrgRecord>,
) -> Result<shapes::AcceptHandshakeResponse, ServiceError> {
    let Some(mut org) = org.filter(|o| o.management_account == ctx.principal.account_id) else {
        return Err(super::access_denied());
    };
    if h.state(ctx.now) == "OPEN" {
        for child in approvals(tx, &h)? {
            let still_member = membership_tx(tx, &child.target.0)?.is_some_and(|(o, _)| o.id == org.id);
            if still_member && child.state(ctx.now) != "ACCEPTED" {
                return Err(ServiceError::new(
                    "InvalidHandshakeTransitionException",
                    400,
                    format!(
                        "Every invited member account must approve the change to all features first; {} has not.",
                        child.target.0
                    ),
                ));
            }
        }
    }
    answer(&mut h, "ACCEPTED", ctx.now)?;
    records::write_tx(tx, &keys::org_handshake(&h.id), &h)?;
    org.feature_set = "ALL".to_owned();
    records::write_tx(tx, &keys::organization(&org.id), &org)?;
    touch(tx, &org.id)?;
    Ok(shapes::AcceptHandshakeResponse { handshake: Some(h.shape(Some(&org), ctx.now)) })
}

/// A handshake's ARN: its organization's management account, the organization, its action.
pub(crate) fn arn(org: &OrgRecord, h: &HandshakeRecord) -> String {
    arn_in(&org.management_account, h)
}

fn arn_in(management: &str, h: &HandshakeRecord) -> String {
    format!("arn:aws:organizations::{management}:handshake/{}/{}/{}", h.org, h.action.to_ascii_lowercase(), h.id)
}
