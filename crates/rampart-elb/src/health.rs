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
