//! AWS managed keys: the key a service uses in an account and Region when the caller names none
//! (S3's `alias/aws/s3`), made by KMS on the service's first use. Its policy lets every principal
//! of the account use it through that service only and read its metadata; no one can change,
//! disable or delete it (the policy grants none of that); it rotates every year.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key>.

use std::sync::Arc;

use rampart_core::{Principal, ServiceError, keys, records};
use rampart_shapes::generated::kms as shapes;
use rampart_store::{Sealer, Tx};
use time::{Duration, OffsetDateTime};

use super::{AliasRecord, KeyRecord, aliases, crypto, crypto_error, key_for_service, keys_api};

/// The services Rampart serves that have an AWS managed key: their aliases (`alias/aws/SERVICE`)
/// are predefined in every account and Region, listed without a key until the key is made.
pub const SERVICES: &[&str] = &["s3"];

/// The description AWS gives an AWS managed key, by service.
fn description(service: &str) -> String {
    match service {
        "s3" => "Default key that protects my S3 objects when no other key is defined".to_owned(),
        other => format!("Default key that protects my {other} resources when no other key is defined"),
    }
}

/// The key policy of an AWS managed key: use through `service` by the account's principals, and
/// its metadata to the account. It grants no management: that is what makes the key AWS's.
fn policy(account: &str, region: &str, service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{service}-2"),
        "Statement": [
            {
                "Sid": format!("Allow access through {} for all principals in the account that are authorized to use {}", service.to_uppercase(), service.to_uppercase()),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": account,
                    "kms:ViaService": format!("{service}.{region}.amazonaws.com"),
                }},
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    })
    .to_string()
}

/// The AWS managed key of `service` (`s3`) in the caller's account and `region`, made (with its
/// alias `alias/aws/SERVICE`) inside the caller's transaction when it does not exist yet.
pub fn managed_key(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    caller: &Principal,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) -> Result<Arc<KeyRecord>, ServiceError> {
    let account = caller.account_id.as_str();
    let alias = format!("alias/aws/{service}");
    if let Some(key) = key_for_service(&records::tx_reader(tx), account, region, &alias, now)? {
        return Ok(key);
    }
    let input = shapes::CreateKeyRequest {
        description: Some(description(service)),
        policy: Some(policy(account, region, service)),
        bypass_policy_lockout_safety_check: Some(true),
        ..shapes::CreateKeyRequest::default()
    };
    let id = uuid::Uuid::new_v4().to_string();
    let mut key = keys_api::new_key(caller, region, now, input, &id)?;
    key.aws_managed = true;
    key.rotation_days = Some(365);
    key.next_rotation = Some(now + Duration::days(365));
    let fresh = crypto::new_material(key.spec()?).map_err(crypto_error)?;
    key.materials.push(key.seal(sealer, &fresh, now, None)?);
    keys_api::write_key(tx, &key)?;
    aliases::index(tx, account, region, &key.id, |names| names.push(alias.clone()))?;
    let record = AliasRecord { name: alias.clone(), target: key.id.clone(), created: now, updated: now };
    records::write_tx(tx, &keys::kms_alias(account, region, &alias), &record)?;
    key_for_service(&records::tx_reader(tx), account, region, &alias, now)?.ok_or_else(ServiceError::internal)
}
