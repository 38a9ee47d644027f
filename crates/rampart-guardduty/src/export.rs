//! Publishing destinations: findings exported to an S3 bucket, encrypted under a KMS key, as
//! GuardDuty exports them. New active findings go out at the next export (the server's
//! `guardduty_export_secs`, five minutes by default, as GuardDuty's "within about 5 minutes");
//! updated ones once the detector's `FindingPublishingFrequency` has passed since the last
//! export of updates; archived findings never. Each export is one object
//! `[PREFIX/]AWSLogs/ACCOUNT/GuardDuty/REGION/YYYY/MM/DD/UUID.jsonl.gz`: a finding's JSON per line.
//! The bucket's policy must let `guardduty.amazonaws.com` put objects (and get the bucket's
//! location), and the key's policy let it make data keys; until they do, the destination is
//! `UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY` and its findings wait.
//! See <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_exportfindings.html>.

use std::collections::BTreeMap;
use std::io::Write as _;

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::guardduty as shapes;
use rampart_store::{Sealer, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{bad_request, new_id, own_detector, page, prefix};

/// Findings waiting to be exported: `gdexport/ACCOUNT/REGION/FINDING` → `new` or `update`.
const MARKS: &str = "gdexport/";
/// Most findings one export reads.
const EXPORT_BATCH: usize = 10_000;

/// A publishing destination, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Destination {
    pub id: String,
    pub bucket: String,
    /// The key prefix the ARN names after the bucket (`arn:aws:s3:::BUCKET/PREFIX`), with its `/`.
    pub prefix: String,
    pub kms_key_arn: String,
    pub status: String,
    /// Since when publishing has failed (Unix milliseconds), while it does.
    #[serde(default)]
    pub failing_since: Option<i64>,
    /// When updated findings were last exported.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updates_exported: Option<OffsetDateTime>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Destination {
    fn arn(&self) -> String {
        format!(
            "arn:aws:s3:::{}{}",
            self.bucket,
            self.prefix.strip_suffix('/').map(|p| format!("/{p}")).unwrap_or_default()
        )
    }

    fn properties(&self) -> shapes::DestinationProperties {
        shapes::DestinationProperties { destination_arn: Some(self.arn()), kms_key_arn: Some(self.kms_key_arn.clone()) }
    }
}

fn key(account: &str, region: &str, id: &str) -> Vec<u8> {
    format!("{}destination/{id}", prefix(account, region)).into_bytes()
}

fn all(db: &rampart_store::Db, account: &str, region: &str) -> Result<Vec<Destination>, ServiceError> {
    let p = format!("{}destination/", prefix(account, region));
    Ok(db
        .scan_prefix(p.as_bytes(), None, 100, false)?
        .iter()
        .filter_map(|(_, v)| serde_json::from_slice(v).ok())
        .collect())
}

/// The bucket and prefix an S3 ARN names: `arn:aws:s3:::BUCKET` or `arn:aws:s3:::BUCKET/PREFIX`.
fn bucket_of(arn: &str) -> Result<(String, String), ServiceError> {
    let invalid = || bad_request("The request is rejected because the destinationArn is not a valid S3 bucket ARN.");
    let rest = arn.strip_prefix("arn:aws:s3:::").ok_or_else(invalid)?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if !rampart_s3::valid_bucket_name(bucket) {
        return Err(invalid());
    }
    let prefix = prefix.trim_matches('/');
    Ok((bucket.to_owned(), if prefix.is_empty() { String::new() } else { format!("{prefix}/") }))
}

fn check_key(arn: &str) -> Result<(), ServiceError> {
    let ok = arn.starts_with("arn:aws:kms:") && arn.split(':').nth(5).is_some_and(|r| r.starts_with("key/"));
    if ok {
        Ok(())
    } else {
        Err(bad_request("The request is rejected because the kmsKeyArn is not a valid KMS key ARN."))
    }
}

fn properties(p: &shapes::DestinationProperties) -> Result<(String, String, String), ServiceError> {
    let arn = p
        .destination_arn
        .as_deref()
        .ok_or_else(|| bad_request("The request is rejected because destinationArn is required."))?;
    let key = p
        .kms_key_arn
        .as_deref()
        .ok_or_else(|| bad_request("The request is rejected because kmsKeyArn is required."))?;
    let (bucket, prefix) = bucket_of(arn)?;
    check_key(key)?;
    Ok((bucket, prefix, key.to_owned()))
}

fn not_found() -> ServiceError {
    bad_request("The request is rejected because the input destinationId is not owned by the current account.")
}

pub fn create_publishing_destination(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreatePublishingDestinationRequest,
) -> Result<shapes::CreatePublishingDestinationResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    if input.destination_type != "S3" {
        return Err(bad_request("The request is rejected because the destinationType is not supported."));
    }
    let p = format!("{}destination/", prefix(account, region));
    if !tx.scan_prefix(p.as_bytes(), None, 1, false)?.is_empty() {
        return Err(bad_request(
            "The request is rejected because the current account has already created the maximum number of publishing destinations.",
        ));
    }
    let (bucket, prefix, kms_key_arn) = properties(&input.destination_properties)?;
    let d = Destination {
        id: new_id(),
        bucket,
        prefix,
        kms_key_arn,
        status: "PENDING_VERIFICATION".to_owned(),
        failing_since: None,
        updates_exported: None,
        tags: input.tags.unwrap_or_default(),
    };
    records::write_tx(tx, &key(account, region, &d.id), &d)?;
    Ok(shapes::CreatePublishingDestinationResponse { destination_id: d.id })
}

fn read(get: &records::Reader<'_>, account: &str, region: &str, id: &str) -> Result<Destination, ServiceError> {
    records::read_with(get, &key(account, region, id))?.ok_or_else(not_found)
}

pub fn describe_publishing_destination(
    ctx: &Ctx<'_>,
    input: shapes::DescribePublishingDestinationRequest,
) -> Result<shapes::DescribePublishingDestinationResponse, ServiceError> {
    let get = records::cached_reader(ctx.db);
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&get, account, region, &input.detector_id)?;
    let d = read(&get, account, region, &input.destination_id)?;
    Ok(shapes::DescribePublishingDestinationResponse {
        destination_id: d.id.clone(),
        destination_type: "S3".to_owned(),
        status: d.status.clone(),
        publishing_failure_start_timestamp: d.failing_since.unwrap_or(0),
        destination_properties: d.properties(),
        tags: Some(d.tags),
    })
}

pub fn update_publishing_destination(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdatePublishingDestinationRequest,
) -> Result<shapes::UpdatePublishingDestinationResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    let mut d = read(&records::tx_reader(tx), account, region, &input.destination_id)?;
    if let Some(p) = &input.destination_properties {
        let (bucket, prefix, kms_key_arn) = properties(p)?;
        (d.bucket, d.prefix, d.kms_key_arn) = (bucket, prefix, kms_key_arn);
        d.status = "PENDING_VERIFICATION".to_owned();
    }
    records::write_tx(tx, &key(account, region, &d.id), &d)?;
    Ok(shapes::UpdatePublishingDestinationResponse {})
}

pub fn delete_publishing_destination(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeletePublishingDestinationRequest,
) -> Result<shapes::DeletePublishingDestinationResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&records::tx_reader(tx), account, region, &input.detector_id)?;
    read(&records::tx_reader(tx), account, region, &input.destination_id)?;
    tx.delete(&key(account, region, &input.destination_id))?;
    Ok(shapes::DeletePublishingDestinationResponse {})
}

pub fn list_publishing_destinations(
    ctx: &Ctx<'_>,
    input: shapes::ListPublishingDestinationsRequest,
) -> Result<shapes::ListPublishingDestinationsResponse, ServiceError> {
    let get = records::cached_reader(ctx.db);
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    own_detector(&get, account, region, &input.detector_id)?;
    let items: Vec<shapes::Destination> = all(ctx.db, account, region)?
        .into_iter()
        .map(|d| shapes::Destination { destination_id: d.id, destination_type: "S3".to_owned(), status: d.status })
        .collect();
    let (destinations, next_token) = page(items, input.next_token.as_deref(), input.max_results)?;
    Ok(shapes::ListPublishingDestinationsResponse { destinations, next_token })
}

/// Marks a finding for the next export: `new`, or `update` of one exported before. An
/// administrator exports its members' findings with its own: a member's finding is also marked
/// under its administrator, as `MEMBER/FINDING`.
pub(crate) fn mark(tx: &mut Tx<'_>, account: &str, region: &str, finding: &str, new: bool) -> Result<(), ServiceError> {
    put_mark(tx, format!("{MARKS}{account}/{region}/{finding}"), new)?;
    let admin = crate::members::administrator(&records::tx_reader(tx), account, region)?;
    if let Some(l) = admin {
        put_mark(tx, format!("{MARKS}{}/{region}/{account}/{finding}", l.admin), new)?;
    }
    Ok(())
}

fn put_mark(tx: &mut Tx<'_>, k: String, new: bool) -> Result<(), ServiceError> {
    // A finding made and updated before an export is still new.
    if !new && tx.get(k.as_bytes())?.as_deref() == Some(b"new") {
        return Ok(());
    }
    tx.put(k.as_bytes(), if new { b"new" } else { b"update" })?;
    Ok(())
}

/// How long updated findings wait between exports, as a detector's frequency says.
fn frequency(f: &str) -> time::Duration {
    match f {
        "FIFTEEN_MINUTES" => time::Duration::minutes(15),
        "ONE_HOUR" => time::Duration::hours(1),
        _ => time::Duration::hours(6),
    }
}

/// What an export run did: how many findings went out, and GuardDuty's uses of KMS keys (each
/// recorded as its GenerateDataKey event), to note as the keys' last uses once the run commits.
#[derive(Debug, Default)]
pub struct Exported {
    pub findings: usize,
    pub kms_uses: Vec<rampart_cloudtrail::KmsUseNote>,
}

/// Exports the marked findings of every account and Region to their destinations.
pub fn export_pending(tx: &mut Tx<'_>, sealer: &Sealer, now: OffsetDateTime) -> Result<Exported, ServiceError> {
    let rows = tx.scan_prefix(MARKS.as_bytes(), None, EXPORT_BATCH, false)?;
    let mut groups: BTreeMap<(String, String), Vec<(String, bool)>> = BTreeMap::new();
    for (k, v) in &rows {
        let Some(text) = std::str::from_utf8(k).ok().and_then(|t| t.strip_prefix(MARKS)) else { continue };
        let mut parts = text.splitn(3, '/');
        let (Some(a), Some(r), Some(f)) = (parts.next(), parts.next(), parts.next()) else { continue };
        groups.entry((a.to_owned(), r.to_owned())).or_default().push((f.to_owned(), v.as_slice() == b"new"));
    }
    let mut exported = Exported::default();
    for ((account, region), marked) in groups {
        export_group(tx, sealer, (&account, &region), &marked, now, &mut exported)?;
    }
    Ok(exported)
}

fn export_group(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    (account, region): (&str, &str),
    marked: &[(String, bool)],
    now: OffsetDateTime,
    exported: &mut Exported,
) -> Result<(), ServiceError> {
    let unmark = |tx: &mut Tx<'_>, f: &str| tx.delete(format!("{MARKS}{account}/{region}/{f}").as_bytes());
    let detector = crate::detector(&records::tx_reader(tx), account, region)?;
    let p = format!("{}destination/", prefix(account, region));
    let destinations: Vec<Destination> = tx
        .scan_prefix(p.as_bytes(), None, 100, false)?
        .iter()
        .filter_map(|(_, v)| serde_json::from_slice(v).ok())
        .collect();
    let (Some(d), false) = (detector, destinations.is_empty()) else {
        // Nowhere to export to: nothing waits.
        for (f, _) in marked {
            unmark(tx, f)?;
        }
        return Ok(());
    };
    let detector_arn = format!("arn:aws:guardduty:{region}:{account}:detector/{}", d.id);
    for mut dest in destinations {
        let updates_due = dest.updates_exported.is_none_or(|t| now - t >= frequency(&d.frequency));
        let due: Vec<&(String, bool)> = marked.iter().filter(|(_, new)| *new || updates_due).collect();
        let mut lines = Vec::new();
        for (f, _) in &due {
            // A member's finding is marked `MEMBER/FINDING` under its administrator.
            let (owner, id) = f.split_once('/').unwrap_or((account, f));
            let finding: Option<serde_json::Value> =
                tx.get(&crate::findings::key(owner, region, id))?.and_then(|v| serde_json::from_slice(&v).ok());
            if let Some(finding) =
                finding.filter(|x| crate::at(x, &["service", "archived"]) != &serde_json::Value::Bool(true))
            {
                lines.push(finding.to_string());
            }
        }
        match deliver(tx, sealer, (account, region), &detector_arn, &dest, &lines, now)? {
            Ok(used) => {
                dest.status = "PUBLISHING".to_owned();
                dest.failing_since = None;
                if updates_due {
                    dest.updates_exported = Some(now);
                }
                exported.findings += lines.len();
                exported.kms_uses.extend(rampart_cloudtrail::record_service_kms_use(
                    tx,
                    "guardduty.amazonaws.com",
                    (account, region),
                    used,
                    now,
                )?);
                for (f, _) in due {
                    unmark(tx, f)?;
                }
            }
            Err(()) => {
                dest.status = "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY".to_owned();
                dest.failing_since.get_or_insert(i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0));
            }
        }
        records::write_tx(tx, &key(account, region, &dest.id), &dest)?;
    }
    Ok(())
}

/// Puts one export file, if the bucket and key let GuardDuty (with the data key KMS made for
/// it); `Err(())` when they do not.
fn deliver(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    (account, region): (&str, &str),
    detector_arn: &str,
    dest: &Destination,
    lines: &[String],
    now: OffsetDateTime,
) -> Result<Result<Option<rampart_s3::DeliveryKmsUse>, ()>, ServiceError> {
    let date = now.date();
    let object = format!(
        "{}AWSLogs/{account}/GuardDuty/{region}/{:04}/{:02}/{:02}/{}.jsonl.gz",
        dest.prefix,
        date.year(),
        u8::from(date.month()),
        date.day(),
        uuid::Uuid::new_v4()
    );
    let requests = [
        ("s3:GetBucketLocation", format!("arn:aws:s3:::{}", dest.bucket)),
        ("s3:PutObject", format!("arn:aws:s3:::{}/{object}", dest.bucket)),
    ];
    let context = [("aws:SourceAccount", account), ("aws:SourceArn", detector_arn)];
    if rampart_s3::service_may(tx, &dest.bucket, "guardduty.amazonaws.com", &requests, &context)? != Some(true) {
        return Ok(Err(()));
    }
    let key = match rampart_s3::delivery_key(
        tx,
        (account, region),
        &dest.kms_key_arn,
        "guardduty.amazonaws.com",
        &context,
        &[],
        now,
    )? {
        Ok(k) => k,
        Err(_) => return Ok(Err(())),
    };
    if lines.is_empty() {
        return Ok(Ok(None));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(lines.join("\n").as_bytes()).map_err(|_| crate::internal())?;
    gz.write_all(b"\n").map_err(|_| crate::internal())?;
    let body = gz.finish().map_err(|_| crate::internal())?;
    let kms = rampart_s3::ServiceKms { key_arn: &key, account, region, context: &[] };
    let used = rampart_s3::deliver_object(
        tx,
        sealer,
        (&dest.bucket, &object),
        (&body, "application/gzip", BTreeMap::new()),
        Some(&kms),
        now,
    )?;
    Ok(Ok(used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_arns_name_a_bucket_and_prefix() {
        assert_eq!(bucket_of("arn:aws:s3:::findings").unwrap(), ("findings".to_owned(), String::new()));
        assert_eq!(bucket_of("arn:aws:s3:::findings/gd/").unwrap(), ("findings".to_owned(), "gd/".to_owned()));
        for bad in ["arn:aws:s3:::", "arn:aws:s3:::Bad_Name", "arn:aws:sqs:::x", "findings"] {
            assert_eq!(bucket_of(bad).unwrap_err().code, "BadRequestException", "{bad}");
        }
        assert!(check_key("arn:aws:kms:us-east-1:111122223333:key/1234abcd").is_ok());
        assert!(check_key("arn:aws:kms:us-east-1:111122223333:alias/x").is_err());
    }
}
