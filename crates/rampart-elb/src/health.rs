//! Targets' health as the server's health checks last found it: one record per target group,
//! written when a target's state changes, read by DescribeTargetHealth.

use rampart_core::{ServiceError, records};
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};

/// `elbhealth/<target-group-arn>`.
pub fn key(group_arn: &str) -> Vec<u8> {
    format!("elbhealth/{group_arn}").into_bytes()
}

/// A target's health: `healthy` or `unhealthy`, with AWS's reason code and description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    pub id: String,
    pub port: i32,
    pub state: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A target group's checked targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    pub targets: Vec<TargetState>,
}

impl Checked {
    pub fn get(&self, id: &str, port: i32) -> Option<&TargetState> {
        self.targets.iter().find(|t| t.id == id && t.port == port)
    }
}

pub fn read(db: &Db, group_arn: &str) -> Result<Checked, ServiceError> {
    Ok(records::read(db, &key(group_arn))?.unwrap_or_default())
}

/// Records a target group's health, unless the group is gone.
pub fn write(tx: &mut Tx<'_>, group_arn: &str, checked: &Checked) -> Result<(), ServiceError> {
    let Some(located) = super::locate(group_arn) else { return Ok(()) };
    if tx.get(&located.key)?.is_none() {
        return Ok(());
    }
    records::write_tx(tx, &key(group_arn), checked)
}

/// `elbstatus/<load-balancer-arn>`: the listeners of a load balancer the server cannot serve, and
/// why (their port taken on the host, say).
fn status_key(balancer_arn: &str) -> Vec<u8> {
    format!("elbstatus/{balancer_arn}").into_bytes()
}

/// A load balancer's listeners that cannot be served, by listener ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impaired {
    pub listeners: std::collections::BTreeMap<String, String>,
}

/// Records that a listener cannot be served (`Some(reason)`), or can again (`None`).
pub fn set_listener_status(
    tx: &mut Tx<'_>,
    (balancer_arn, listener_arn): (&str, &str),
    reason: Option<String>,
) -> Result<(), ServiceError> {
    let key = status_key(balancer_arn);
    let mut impaired: Impaired = records::read_tx(tx, &key)?.unwrap_or_default();
    match reason {
        Some(r) => {
            impaired.listeners.insert(listener_arn.to_owned(), r);
        }
        None => {
            impaired.listeners.remove(listener_arn);
        }
    }
    if impaired.listeners.is_empty() {
        tx.delete(&key)?;
        return Ok(());
    }
    records::write_tx(tx, &key, &impaired)
}

/// Forgets a load balancer's status (it is deleted).
pub(crate) fn forget_status(tx: &mut Tx<'_>, balancer_arn: &str) -> Result<(), ServiceError> {
    tx.delete(&status_key(balancer_arn))?;
    Ok(())
}

/// Why a load balancer is impaired, if it is.
pub(crate) fn impaired(get: &records::Reader<'_>, balancer_arn: &str) -> Result<Option<String>, ServiceError> {
    let found: Option<Impaired> = records::read_with(get, &status_key(balancer_arn))?;
    Ok(found.filter(|i| !i.listeners.is_empty()).map(|i| i.listeners.into_values().collect::<Vec<_>>().join("; ")))
}
