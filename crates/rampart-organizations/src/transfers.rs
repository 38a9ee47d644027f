//! Responsibility transfers: the management account of one organization invites the management
//! account of another to let it take on a responsibility for that organization (today only
//! `BILLING`, the billing transfer). The invitation is a handshake; once accepted, the transfer
//! runs from the first day of the month the invitation named until either side withdraws it, at
//! the end of a month. Rampart keeps no bills, so a transfer changes nothing else: it is the
//! record both organizations see, with AWS's dates, states and refusals.
//! See <https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/orgs_transfer_billing.html>
//! and <https://docs.aws.amazon.com/organizations/latest/APIReference/API_InviteOrganizationToTransferResponsibility.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::organizations as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, Time};

use super::handshakes::{HandshakeRecord, TransferRef, root_email};
use super::{OrgRecord, invalid, managed_tx, membership, membership_tx, page, random_id};

/// A responsibility transfer, as stored. `manager` took the responsibility on (it sent the
/// invitation: the bill-transfer account); `source` gave it (the bill-source account).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferRecord {
    pub id: String,
    /// `BILLING`.
    pub kind: String,
    pub manager_org: String,
    pub manager_account: String,
    pub manager_email: String,
    /// The invited party as the invitation named it: `(id, ACCOUNT | EMAIL)`.
    pub invited: (String, String),
    /// The source organization's management account and email, known once it accepts (or when
    /// the invitation named an account Rampart knows).
    #[serde(default)]
    pub source_account: Option<String>,
    #[serde(default)]
    pub source_email: Option<String>,
    #[serde(default)]
    pub source_org: Option<String>,
    /// The name each side gives the transfer: the inviter's `SourceName`, and the name the source
    /// organization gives it (the same until it renames it).
    pub manager_name: String,
    pub source_name: String,
    /// `REQUESTED`, `DECLINED`, `CANCELED`, `ACCEPTED` or `WITHDRAWN` (EXPIRED is derived).
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
    /// The last moment the invitation can be accepted: 24 hours before the start.
    #[serde(with = "time::serde::rfc3339")]
    pub accept_by: OffsetDateTime,
    pub handshake: String,
}

impl TransferRecord {
    fn status(&self, now: OffsetDateTime) -> &str {
        if self.status == "REQUESTED" && now >= self.accept_by { "EXPIRED" } else { &self.status }
    }

    /// Whether `account` (with its root user's email) is the invited party.
    fn invites(&self, account: &str, email: &str) -> bool {
        if let Some(source) = &self.source_account {
            return source == account;
        }
        match self.invited.1.as_str() {
            "ACCOUNT" => self.invited.0 == account,
            _ => !email.is_empty() && self.invited.0.eq_ignore_ascii_case(email),
        }
    }

    /// Whether it still binds its organizations: an open invitation, or an accepted transfer
    /// that has not ended.
    fn active(&self, now: OffsetDateTime) -> bool {
        match self.status(now) {
            "REQUESTED" => true,
            "ACCEPTED" => true,
            "WITHDRAWN" => self.end.is_some_and(|end| now <= end),
            _ => false,
        }
    }

    /// As `caller` sees it: `inbound` for the organization that manages the responsibility,
    /// `outbound` for the organization that gave it.
    fn shape(&self, caller: &str, caller_org: &str, now: OffsetDateTime) -> shapes::ResponsibilityTransfer {
        let inbound = caller == self.manager_account;
        let direction = if inbound { "inbound" } else { "outbound" };
        shapes::ResponsibilityTransfer {
            arn: Some(format!(
                "arn:aws:organizations::{caller}:transfer/{caller_org}/{}/{direction}/{}",
                self.kind.to_ascii_lowercase(),
                self.id
            )),
            name: Some(if inbound { self.manager_name.clone() } else { self.source_name.clone() }),
            id: Some(self.id.clone()),
            r#type: Some(self.kind.clone()),
            status: Some(self.status(now).to_owned()),
            source: Some(shapes::TransferParticipant {
                management_account_id: self.source_account.clone(),
                management_account_email: self
                    .source_email
                    .clone()
                    .or_else(|| (self.invited.1 == "EMAIL").then(|| self.invited.0.clone())),
            }),
            target: Some(shapes::TransferParticipant {
                management_account_id: Some(self.manager_account.clone()),
                management_account_email: Some(self.manager_email.clone()),
            }),
            start_timestamp: Some(self.start),
            end_timestamp: self.end,
            active_handshake_id: Some(self.handshake.clone()),
        }
    }
}

fn not_found() -> ServiceError {
    ServiceError::new("ResponsibilityTransferNotFoundException", 400, "We can't find a transfer that you specified.")
}

fn bad_date(reason: &'static str, message: &str) -> ServiceError {
    invalid(format!("{message} (Reason: {reason})")).with("Reason", reason)
}

/// The caller's organization, which only its management account may act for.
fn managed(db: &Db, account: &str) -> Result<OrgRecord, ServiceError> {
    let (org, _) = membership(db, account)?.ok_or_else(super::not_in_use)?;
    if org.management_account != account {
        return Err(super::access_denied());
    }
    Ok(org)
}

fn all(scan: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<TransferRecord> {
    scan.iter().filter_map(|(k, v)| records::decode::<TransferRecord>(k, v).ok()).collect()
}

fn all_tx(tx: &Tx<'_>) -> Result<Vec<TransferRecord>, ServiceError> {
    Ok(all(tx.scan_prefix(keys::ORG_TRANSFERS, None, usize::MAX >> 1, false)?))
}

/// Whether an organization takes part in a transfer still under way, which keeps it from being
/// deleted (`ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS`).
pub(crate) fn active_for(tx: &Tx<'_>, org: &str, now: OffsetDateTime) -> Result<bool, ServiceError> {
    Ok(all_tx(tx)?.iter().any(|t| t.active(now) && (t.manager_org == org || t.source_org.as_deref() == Some(org))))
}

/// The start a transfer may name: 00:00:00.000 UTC on the first day of a month, late enough that
/// the invitation can still be accepted 24 hours before it.
fn check_start(start: OffsetDateTime, now: OffsetDateTime) -> Result<(), ServiceError> {
    let start = start.to_offset(time::UtcOffset::UTC);
    if start.time() != Time::MIDNIGHT {
        return Err(bad_date(
            "START_DATE_NOT_BEGINNING_OF_DAY",
            "You provided an invalid start date. The start date must be the beginning of the day (00:00:00.000).",
        ));
    }
    if start.day() != 1 {
        return Err(bad_date(
            "START_DATE_NOT_BEGINNING_OF_MONTH",
            "You provided an invalid start date. The start date must be the first day of the month.",
        ));
    }
    if start - Duration::hours(24) <= now {
        return Err(bad_date(
            "START_DATE_TOO_EARLY",
            "You provided an invalid start date. The start date is too early: an invitation must be accepted 24 \
             hours before it.",
        ));
    }
    Ok(())
}

/// The last moment of the month `at` falls in: 23:59:59.999 UTC on its last day.
fn end_of_month(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    let (year, month) = if at.month() == time::Month::December {
        (at.year() + 1, time::Month::January)
    } else {
        (at.year(), at.month().next())
    };
    let first_next =
        time::Date::from_calendar_date(year, month, 1).map(|d| d.with_time(Time::MIDNIGHT).assume_utc()).unwrap_or(at);
    first_next - Duration::milliseconds(1)
}

/// The end a withdrawal may name: the end of the last day of a month (23:59:59.999, or the whole
/// second 23:59:59), not in the past.
fn check_end(end: OffsetDateTime, now: OffsetDateTime) -> Result<OffsetDateTime, ServiceError> {
    let last = end_of_month(end);
    if end != last && end != last - Duration::milliseconds(999) {
        return Err(bad_date(
            "END_DATE_NOT_END_OF_MONTH",
            "You provided an invalid end date. The end date must be the end of the last day of the month \
             (23.59.59.999).",
        ));
    }
    if last < now {
        return Err(bad_date(
            "END_DATE_TOO_EARLY",
            "You provided an invalid end date. It is too early for the transfer to end.",
        ));
    }
    Ok(last)
}

/// Invites another organization's management account to let the caller's organization take on a
/// responsibility for it.
pub fn invite_organization_to_transfer_responsibility(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::InviteOrganizationToTransferResponsibilityRequest,
) -> Result<shapes::InviteOrganizationToTransferResponsibilityResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let now = ctx.now;
    if input.r#type != "BILLING" {
        return Err(invalid(format!(
            "You provided a value that is not supported by this operation: {}. (Reason: \
             UNSUPPORTED_ACTION_IN_RESPONSIBILITY_TRANSFER)",
            input.r#type
        )));
    }
    check_start(input.start_timestamp, now)?;
    let target = input.target;
    let invited_account = super::handshakes::invited_account(tx, &target)?;
    // The organization the invited account manages, if it manages one.
    let invited_org = match &invited_account {
        Some(account) => membership_tx(tx, account)?.map(|(o, _)| o).filter(|o| o.management_account == *account),
        None => None,
    };
    if invited_account.as_deref() == Some(org.management_account.as_str()) {
        return Err(handshake_constraint(
            "SOURCE_AND_TARGET_CANNOT_MATCH",
            "An organization can't transfer a responsibility to itself.",
        ));
    }
    let transfers = all_tx(tx)?;
    let open_to_same = transfers.iter().any(|t| {
        t.manager_org == org.id
            && t.status(now) == "REQUESTED"
            && t.invited.1 == target.r#type
            && t.invited.0.eq_ignore_ascii_case(&target.id)
    });
    if open_to_same {
        return Err(ServiceError::new(
            "DuplicateHandshakeException",
            400,
            "A handshake with the same action and target already exists.",
        ));
    }
    if let Some(source) = &invited_org
        && transfers
            .iter()
            .any(|t| t.kind == input.r#type && t.source_org.as_deref() == Some(&source.id) && t.active(now))
    {
        return Err(handshake_constraint(
            "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS",
            "The invited organization already has a transfer of this responsibility.",
        ));
    }
    let start = input.start_timestamp.to_offset(time::UtcOffset::UTC);
    let accept_by = start - Duration::hours(24);
    let transfer = TransferRecord {
        id: format!("rt-{}", random_id(16)?),
        kind: input.r#type.clone(),
        manager_org: org.id.clone(),
        manager_account: org.management_account.clone(),
        manager_email: org.management_email.clone(),
        invited: (target.id.clone(), target.r#type.clone()),
        source_account: invited_account.clone(),
        source_email: match &invited_account {
            Some(a) => Some(root_email(&records::tx_reader(tx), a)?).filter(|e| !e.is_empty()),
            None => None,
        },
        source_org: invited_org.map(|o| o.id),
        manager_name: input.source_name.clone(),
        source_name: input.source_name,
        status: "REQUESTED".to_owned(),
        start,
        end: None,
        accept_by,
        handshake: format!("h-{}", random_id(16)?),
    };
    let handshake = HandshakeRecord {
        id: transfer.handshake.clone(),
        org: org.id.clone(),
        action: "TRANSFER_RESPONSIBILITY".to_owned(),
        target: (target.id, target.r#type),
        parent: None,
        state: "OPEN".to_owned(),
        notes: input.notes,
        tags: input.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect(),
        requested: now,
        expires: accept_by,
        updated: None,
        transfer: Some(TransferRef { id: transfer.id.clone(), kind: transfer.kind.clone(), start }),
    };
    records::write_tx(tx, &keys::org_transfer(&transfer.id), &transfer)?;
    records::write_tx(tx, &keys::org_handshake(&handshake.id), &handshake)?;
    Ok(shapes::InviteOrganizationToTransferResponsibilityResponse { handshake: Some(handshake.shape(Some(&org), now)) })
}

fn handshake_constraint(reason: &'static str, message: &str) -> ServiceError {
    ServiceError::new("HandshakeConstraintViolationException", 400, message).with("Reason", reason)
}

/// The invited management account accepts a transfer's handshake: its organization becomes the
/// transfer's source, and the transfer is ACCEPTED. Called by AcceptHandshake once the handshake
/// is known to be open and addressed to the caller.
pub(crate) fn accept(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    h: &HandshakeRecord,
    tr: &TransferRef,
) -> Result<(), ServiceError> {
    let account = &ctx.principal.account_id;
    let (source, _) = membership_tx(tx, account)?.ok_or_else(super::not_in_use)?;
    if source.management_account != *account {
        return Err(super::access_denied());
    }
    let mut transfer: TransferRecord = records::read_tx(tx, &keys::org_transfer(&tr.id))?.ok_or_else(not_found)?;
    if source.id == transfer.manager_org {
        return Err(handshake_constraint(
            "SOURCE_AND_TARGET_CANNOT_MATCH",
            "An organization can't transfer a responsibility to itself.",
        ));
    }
    let now = ctx.now;
    let taken = all_tx(tx)?.iter().any(|t| {
        t.id != transfer.id && t.kind == transfer.kind && t.source_org.as_deref() == Some(&source.id) && t.active(now)
    });
    if taken {
        return Err(handshake_constraint(
            "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS",
            "Your organization already has a transfer of this responsibility.",
        ));
    }
    transfer.source_account = Some(account.clone());
    transfer.source_email = Some(source.management_email.clone());
    transfer.source_org = Some(source.id.clone());
    transfer.status = "ACCEPTED".to_owned();
    records::write_tx(tx, &keys::org_transfer(&transfer.id), &transfer)?;
    // The invitation's tags are the manager's tags on the transfer.
    if let Some((manager, _)) = membership_tx(tx, &transfer.manager_account)? {
        let tags = h.tags.iter().map(|(key, value)| shapes::Tag { key: key.clone(), value: value.clone() }).collect();
        super::extras::put_tags(tx, &manager, &transfer.id, tags)?;
    }
    Ok(())
}

/// A transfer's handshake was declined or canceled: the transfer follows it.
pub(crate) fn follow(tx: &mut Tx<'_>, tr: &TransferRef, state: &str) -> Result<(), ServiceError> {
    let key = keys::org_transfer(&tr.id);
    if let Some(mut transfer) = records::read_tx::<TransferRecord>(tx, &key)? {
        transfer.status = state.to_owned();
        records::write_tx(tx, &key, &transfer)?;
    }
    Ok(())
}

/// Whether `id` names a transfer `org` takes part in, for its tags.
pub(crate) fn involves(get: &records::Reader<'_>, org: &str, id: &str) -> Result<bool, ServiceError> {
    Ok(records::read_with::<TransferRecord>(get, &keys::org_transfer(id))?
        .is_some_and(|t| t.manager_org == org || t.source_org.as_deref() == Some(org)))
}

/// A transfer the caller's organization takes part in, as its management account.
fn party_to(get: &records::Reader<'_>, account: &str, id: &str) -> Result<TransferRecord, ServiceError> {
    let transfer: TransferRecord = records::read_with(get, &keys::org_transfer(id))?.ok_or_else(not_found)?;
    if transfer.manager_account != account && !transfer.invites(account, &root_email(get, account)?) {
        return Err(not_found());
    }
    Ok(transfer)
}

pub fn describe_responsibility_transfer(
    ctx: &Ctx<'_>,
    input: shapes::DescribeResponsibilityTransferRequest,
) -> Result<shapes::DescribeResponsibilityTransferResponse, ServiceError> {
    let org = managed(ctx.db, &ctx.principal.account_id)?;
    let transfer = party_to(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.id)?;
    Ok(shapes::DescribeResponsibilityTransferResponse {
        responsibility_transfer: Some(transfer.shape(&ctx.principal.account_id, &org.id, ctx.now)),
    })
}

/// The transfers `pick` chooses of one type, newest start first.
fn listed(
    ctx: &Ctx<'_>,
    kind: &str,
    pick: &dyn Fn(&TransferRecord, &str) -> bool,
) -> Result<Vec<shapes::ResponsibilityTransfer>, ServiceError> {
    let account = &ctx.principal.account_id;
    let org = managed(ctx.db, account)?;
    let email = root_email(&records::cached_reader(ctx.db), account)?;
    let mut found: Vec<TransferRecord> = all(ctx.db.scan_prefix(keys::ORG_TRANSFERS, None, usize::MAX >> 1, false)?)
        .into_iter()
        .filter(|t| t.kind == kind && pick(t, &email))
        .collect();
    found.sort_by(|a, b| b.start.cmp(&a.start).then(a.id.cmp(&b.id)));
    Ok(found.iter().map(|t| t.shape(account, &org.id, ctx.now)).collect())
}

/// The transfers in which the caller's organization manages another's responsibility, and the
/// invitations it sent for them.
pub fn list_inbound_responsibility_transfers(
    ctx: &Ctx<'_>,
    input: shapes::ListInboundResponsibilityTransfersRequest,
) -> Result<shapes::ListInboundResponsibilityTransfersResponse, ServiceError> {
    let account = ctx.principal.account_id.clone();
    let id = input.id.clone();
    let found =
        listed(ctx, &input.r#type, &|t, _| t.manager_account == account && id.as_ref().is_none_or(|id| *id == t.id))?;
    let (transfers, next_token) = page(found, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListInboundResponsibilityTransfersResponse { responsibility_transfers: Some(transfers), next_token })
}

/// The transfers in which another organization manages the caller's, and the invitations to
/// them it received.
pub fn list_outbound_responsibility_transfers(
    ctx: &Ctx<'_>,
    input: shapes::ListOutboundResponsibilityTransfersRequest,
) -> Result<shapes::ListOutboundResponsibilityTransfersResponse, ServiceError> {
    let account = ctx.principal.account_id.clone();
    let found = listed(ctx, &input.r#type, &|t, email| t.manager_account != account && t.invites(&account, email))?;
    let (transfers, next_token) = page(found, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListOutboundResponsibilityTransfersResponse { responsibility_transfers: Some(transfers), next_token })
}

/// Renames the transfer on the caller's side.
pub fn update_responsibility_transfer(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateResponsibilityTransferRequest,
) -> Result<shapes::UpdateResponsibilityTransferResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let account = &ctx.principal.account_id;
    let mut transfer = party_to(&records::tx_reader(tx), account, &input.id)?;
    if transfer.manager_account == *account {
        transfer.manager_name = input.name;
    } else {
        transfer.source_name = input.name;
    }
    records::write_tx(tx, &keys::org_transfer(&transfer.id), &transfer)?;
    Ok(shapes::UpdateResponsibilityTransferResponse {
        responsibility_transfer: Some(transfer.shape(account, &org.id, ctx.now)),
    })
}

/// Withdraws an accepted transfer, by either side: it ends at the end of the month the request
/// names (by default the current one), and cannot be taken back.
pub fn terminate_responsibility_transfer(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::TerminateResponsibilityTransferRequest,
) -> Result<shapes::TerminateResponsibilityTransferResponse, ServiceError> {
    let org = managed_tx(tx, &ctx.principal.account_id)?;
    let account = &ctx.principal.account_id;
    let now = ctx.now;
    let mut transfer = party_to(&records::tx_reader(tx), account, &input.id)?;
    match transfer.status(now) {
        "ACCEPTED" => {}
        "WITHDRAWN" => {
            return Err(ServiceError::new(
                "ResponsibilityTransferAlreadyInStatusException",
                400,
                "The responsibility transfer is already in the status that you specified: WITHDRAWN.",
            ));
        }
        other => {
            return Err(ServiceError::new(
                "InvalidResponsibilityTransferTransitionException",
                400,
                format!(
                    "The responsibility transfer can't transition to WITHDRAWN because it is {other}; an invitation \
                     still open is canceled with CancelHandshake."
                ),
            ));
        }
    }
    let end = match input.end_timestamp {
        Some(end) => check_end(end, now)?,
        None => end_of_month(now),
    };
    transfer.status = "WITHDRAWN".to_owned();
    transfer.end = Some(end);
    records::write_tx(tx, &keys::org_transfer(&transfer.id), &transfer)?;
    Ok(shapes::TerminateResponsibilityTransferResponse {
        responsibility_transfer: Some(transfer.shape(account, &org.id, now)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_start_is_the_first_moment_of_a_month_a_day_ahead() {
        let now = datetime!(2026-12-04 12:00 UTC);
        assert!(check_start(datetime!(2027-01-01 00:00 UTC), now).is_ok());
        let reason = |r: Result<(), ServiceError>| r.err().map(|e| e.message).unwrap_or_default();
        assert!(reason(check_start(datetime!(2027-01-01 00:00:01 UTC), now)).contains("BEGINNING_OF_DAY"));
        assert!(reason(check_start(datetime!(2027-01-02 00:00 UTC), now)).contains("BEGINNING_OF_MONTH"));
        assert!(reason(check_start(datetime!(2026-12-01 00:00 UTC), now)).contains("TOO_EARLY"));
        // Accepted 24 hours before the start at the latest: a start 20 hours away is too early.
        assert!(
            reason(check_start(datetime!(2027-01-01 00:00 UTC), datetime!(2026-12-31 04:00 UTC))).contains("TOO_EARLY")
        );
    }

    #[test]
    fn an_end_is_the_last_moment_of_a_month_not_past() {
        let now = datetime!(2026-12-04 12:00 UTC);
        assert_eq!(end_of_month(now), datetime!(2026-12-31 23:59:59.999 UTC));
        assert_eq!(end_of_month(datetime!(2027-02-10 00:00 UTC)), datetime!(2027-02-28 23:59:59.999 UTC));
        assert!(check_end(datetime!(2027-02-28 23:59:59.999 UTC), now).is_ok());
        assert_eq!(
            check_end(datetime!(2027-02-28 23:59:59 UTC), now).ok(),
            Some(datetime!(2027-02-28 23:59:59.999 UTC))
        );
        assert!(check_end(datetime!(2027-02-27 23:59:59.999 UTC), now).is_err());
        assert!(check_end(datetime!(2026-11-30 23:59:59.999 UTC), now).is_err(), "in the past");
    }
}
