//! Object Lock: write-once-read-many versions. A bucket with Object Lock keeps versioning on and
//! may give new versions a default retention; a version under COMPLIANCE retention cannot be
//! deleted or have its retention shortened by anyone, root included, until its date; one under
//! GOVERNANCE only by a caller allowed `s3:BypassGovernanceRetention` who asks to bypass; a legal
//! hold stops deletion until it is lifted. Delete markers still hide locked versions.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-overview.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::s3 as shapes;
use rampart_store::Tx;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{BucketRecord, ObjectRecord, bucket, bucket_key, bucket_tx, invalid_argument, malformed_xml};

/// A bucket's Object Lock configuration: enabled, with an optional default retention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockConfig {
    pub mode: Option<String>,
    pub days: Option<i32>,
    pub years: Option<i32>,
}

/// A version's lock: retention (mode and date) and legal hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionLock {
    pub mode: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub retain_until: Option<OffsetDateTime>,
    pub legal_hold: bool,
}

fn not_configured() -> ServiceError {
    ServiceError::new(
        "ObjectLockConfigurationNotFoundError",
        404,
        "Object Lock configuration does not exist for this bucket",
    )
}

fn check_mode(mode: &str) -> Result<(), ServiceError> {
    if matches!(mode, "GOVERNANCE" | "COMPLIANCE") { Ok(()) } else { Err(malformed_xml()) }
}

/// The lock a new version gets: what its write asks, else the bucket's default retention.
pub(crate) fn for_new_version(
    b: &BucketRecord,
    mode: Option<&str>,
    until: Option<OffsetDateTime>,
    legal_hold: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<VersionLock>, ServiceError> {
    let asked = mode.is_some() || until.is_some() || legal_hold.is_some();
    let Some(config) = &b.object_lock else {
        if asked {
            return Err(ServiceError::new("InvalidRequest", 400, "Bucket is missing Object Lock Configuration"));
        }
        return Ok(None);
    };
    if mode.is_some() != until.is_some() {
        return Err(invalid_argument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
        ));
    }
    if let Some(m) = mode {
        check_mode(m)?;
    }
    if until.is_some_and(|u| u <= now) {
        return Err(invalid_argument("The retain until date must be in the future!"));
    }
    let hold = match legal_hold {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(_) => return Err(malformed_xml()),
    };
    let (mode, retain_until) = match (mode, until, &config.mode) {
        (Some(m), Some(u), _) => (Some(m.to_owned()), Some(u)),
        (_, _, Some(m)) => {
            let days = i64::from(config.days.unwrap_or(0)) + i64::from(config.years.unwrap_or(0)) * 365;
            (Some(m.clone()), Some(now + time::Duration::days(days)))
        }
        _ => (None, None),
    };
    Ok(Some(VersionLock { mode, retain_until, legal_hold: hold }))
}

/// Whether a version may be deleted for good now: not while a legal hold is on, not before its
/// retention date under COMPLIANCE, nor under GOVERNANCE unless the caller bypasses it (the
/// pipeline required `s3:BypassGovernanceRetention` of a request that asks to).
pub(crate) fn check_delete(o: &ObjectRecord, bypass: bool, now: OffsetDateTime) -> Result<(), ServiceError> {
    let Some(lock) = &o.lock else { return Ok(()) };
    let denied = || ServiceError::access_denied("Access Denied because object protected by object lock.");
    if lock.legal_hold {
        return Err(denied());
    }
    let retained = lock.retain_until.is_some_and(|u| u > now);
    match lock.mode.as_deref() {
        Some("COMPLIANCE") if retained => Err(denied()),
        Some("GOVERNANCE") if retained && !bypass => Err(denied()),
        _ => Ok(()),
    }
}

/// Object Lock can be turned on for a versioned bucket, never off; its default retention may
/// change.
/// A default retention period that is not positive.
fn non_positive(argument: &'static str) -> ServiceError {
    invalid_argument("Default retention period must be a positive integer value.").with("ArgumentName", argument)
}

pub fn put_object_lock_configuration(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutObjectLockConfigurationRequest,
) -> Result<shapes::PutObjectLockConfigurationOutput, ServiceError> {
    let mut b = bucket_tx(tx, &input.bucket)?;
    let c = input.object_lock_configuration.ok_or_else(malformed_xml)?;
    if c.object_lock_enabled.as_deref() != Some("Enabled") {
        return Err(malformed_xml());
    }
    if b.versioning.as_deref() != Some("Enabled") {
        return Err(ServiceError::new(
            "InvalidBucketState",
            409,
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
        ));
    }
    let mut config = LockConfig::default();
    if let Some(d) = c.rule.and_then(|r| r.default_retention) {
        let mode = d.mode.ok_or_else(malformed_xml)?;
        check_mode(&mode)?;
        match (d.days, d.years) {
            (Some(n), None) | (None, Some(n)) if n > 0 => {}
            // S3's answer to a period of zero or less.
            (Some(_), None) => return Err(non_positive("Days")),
            (None, Some(_)) => return Err(non_positive("Years")),
            _ => return Err(malformed_xml()),
        }
        config = LockConfig { mode: Some(mode), days: d.days, years: d.years };
    }
    b.object_lock = Some(config);
    records::write_tx(tx, &bucket_key(&b.name), &b)?;
    Ok(shapes::PutObjectLockConfigurationOutput::default())
}

pub fn get_object_lock_configuration(
    ctx: &Ctx<'_>,
    input: shapes::GetObjectLockConfigurationRequest,
) -> Result<shapes::GetObjectLockConfigurationOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    let c = b.object_lock.clone().ok_or_else(not_configured)?;
    let rule = c.mode.map(|mode| shapes::ObjectLockRule {
        default_retention: Some(shapes::DefaultRetention { mode: Some(mode), days: c.days, years: c.years }),
    });
    Ok(shapes::GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(shapes::ObjectLockConfiguration {
            object_lock_enabled: Some("Enabled".to_owned()),
            rule,
        }),
    })
}

fn no_retention() -> ServiceError {
    ServiceError::new(
        "NoSuchObjectLockConfiguration",
        404,
        "The specified object does not have a ObjectLock configuration",
    )
}

/// Sets a version's retention. COMPLIANCE can be lengthened only; GOVERNANCE may be shortened,
/// removed or changed only with a bypass.
pub fn put_object_retention(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::PutObjectRetentionRequest,
) -> Result<shapes::PutObjectRetentionOutput, ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    if b.object_lock.is_none() {
        return Err(ServiceError::new("InvalidRequest", 400, "Bucket is missing Object Lock Configuration"));
    }
    let (entry, mut o) = crate::objects::version_tx(tx, &b.name, &input.key, input.version_id.as_deref())?;
    let r = input.retention.unwrap_or_default();
    if let Some(m) = &r.mode {
        check_mode(m)?;
    }
    if r.mode.is_some() != r.retain_until_date.is_some() {
        return Err(malformed_xml());
    }
    if r.retain_until_date.is_some_and(|u| u <= ctx.now) {
        return Err(invalid_argument("The retain until date must be in the future!"));
    }
    let mut lock = o.lock.clone().unwrap_or_default();
    let active = lock.retain_until.is_some_and(|u| u > ctx.now);
    let weaker = match (&lock.mode, lock.retain_until, &r.mode, r.retain_until_date) {
        (Some(old), Some(until), Some(new), Some(new_until)) => new != old || new_until < until,
        (Some(_), Some(_), _, _) => true,
        _ => false,
    };
    if active && weaker {
        let bypass = input.bypass_governance_retention == Some(true);
        if lock.mode.as_deref() == Some("COMPLIANCE") || !bypass {
            return Err(ServiceError::access_denied("Access Denied because object protected by object lock."));
        }
    }
    lock.mode = r.mode;
    lock.retain_until = r.retain_until_date;
    o.lock = Some(lock);
    records::write_tx(tx, &entry, &o)?;
    Ok(shapes::PutObjectRetentionOutput::default())
}

pub fn get_object_retention(
    ctx: &Ctx<'_>,
    input: shapes::GetObjectRetentionRequest,
) -> Result<shapes::GetObjectRetentionOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    if b.object_lock.is_none() {
        return Err(ServiceError::new("InvalidRequest", 400, "Bucket is missing Object Lock Configuration"));
    }
    let o = crate::objects::version_for_read(ctx, &b.name, &input.key, input.version_id.as_deref())?;
    let lock = o.lock.filter(|l| l.mode.is_some()).ok_or_else(no_retention)?;
    Ok(shapes::GetObjectRetentionOutput {
        retention: Some(shapes::ObjectLockRetention { mode: lock.mode, retain_until_date: lock.retain_until }),
    })
}

pub fn put_object_legal_hold(
    tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::PutObjectLegalHoldRequest,
) -> Result<shapes::PutObjectLegalHoldOutput, ServiceError> {
    let b = bucket_tx(tx, &input.bucket)?;
    if b.object_lock.is_none() {
        return Err(ServiceError::new("InvalidRequest", 400, "Bucket is missing Object Lock Configuration"));
    }
    let on = match input.legal_hold.and_then(|h| h.status).as_deref() {
        Some("ON") => true,
        Some("OFF") => false,
        _ => return Err(malformed_xml()),
    };
    let (entry, mut o) = crate::objects::version_tx(tx, &b.name, &input.key, input.version_id.as_deref())?;
    o.lock.get_or_insert_with(VersionLock::default).legal_hold = on;
    records::write_tx(tx, &entry, &o)?;
    Ok(shapes::PutObjectLegalHoldOutput::default())
}

pub fn get_object_legal_hold(
    ctx: &Ctx<'_>,
    input: shapes::GetObjectLegalHoldRequest,
) -> Result<shapes::GetObjectLegalHoldOutput, ServiceError> {
    let b = bucket(ctx.db, &input.bucket)?;
    if b.object_lock.is_none() {
        return Err(ServiceError::new("InvalidRequest", 400, "Bucket is missing Object Lock Configuration"));
    }
    let o = crate::objects::version_for_read(ctx, &b.name, &input.key, input.version_id.as_deref())?;
    let on = o.lock.is_some_and(|l| l.legal_hold);
    Ok(shapes::GetObjectLegalHoldOutput {
        legal_hold: Some(shapes::ObjectLockLegalHold { status: Some(if on { "ON" } else { "OFF" }.to_owned()) }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(mode: Option<&str>, days_left: i64, hold: bool, now: OffsetDateTime) -> ObjectRecord {
        let mut o: ObjectRecord = serde_json::from_value(serde_json::json!({
            "v": 1, "key": "k", "size": 0, "etag": "", "last_modified": "2026-01-01T00:00:00Z",
            "content_type": null, "metadata": {}
        }))
        .expect("a record");
        o.lock = Some(VersionLock {
            mode: mode.map(str::to_owned),
            retain_until: Some(now + time::Duration::days(days_left)),
            legal_hold: hold,
        });
        o
    }

    #[test]
    fn locks_refuse_deletion_as_s3_does() {
        let now = OffsetDateTime::now_utc();
        let refused = |o: &ObjectRecord, bypass: bool| check_delete(o, bypass, now).is_err();
        assert!(refused(&version(Some("COMPLIANCE"), 1, false, now), true));
        assert!(!refused(&version(Some("COMPLIANCE"), -1, false, now), false));
        assert!(refused(&version(Some("GOVERNANCE"), 1, false, now), false));
        assert!(!refused(&version(Some("GOVERNANCE"), 1, false, now), true));
        assert!(refused(&version(None, 0, true, now), true));
    }
}
