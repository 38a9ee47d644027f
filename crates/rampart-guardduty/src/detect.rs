//! The detections, pure: one CloudTrail event (as Rampart's event log keeps it) and what the
//! detector has learned of its account ([`State`]) in, the findings it gives out.
//!
//! Each detection, what it reads and when it fires (each threshold and window is a field of
//! [`Tuning`], which the server's `guardduty_thresholds` sets; the README's GuardDuty section
//! says how to tune them):
//! - `Policy:IAMUser/RootCredentialUsage`: a call signed by the account's root user (not one
//!   an AWS service made for it). One finding per API called.
//! - `Stealth:IAMUser/CloudTrailLoggingDisabled`: a successful `StopLogging` or `DeleteTrail`.
//! - `Stealth:IAMUser/PasswordPolicyChange`: the account's password policy deleted, or updated
//!   to something weaker than the last one seen (shorter minimum length, a character class or
//!   expiry no longer required, less reuse prevention, a longer maximum age).
//! - `Policy:S3/BucketBlockPublicAccessDisabled` and `Policy:S3/AccountBlockPublicAccessDisabled`:
//!   a bucket's or the account's Block Public Access deleted, or put with any setting off.
//! - `Stealth:S3/ServerAccessLoggingDisabled`: a `PutBucketLogging` whose status has no
//!   `LoggingEnabled` (the bucket's server access logging turned off).
//! - `Policy:S3/BucketAnonymousAccessGranted`: a bucket policy allowing `*` without a
//!   condition, or an ACL granting the AllUsers group; `Policy:S3/BucketPublicAccessGranted`:
//!   an ACL granting the AuthenticatedUsers group (any AWS account).
//! - `UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom` and
//!   `Recon:IAMUser/MaliciousIPCaller.Custom` (a read: `Get*`, `List*`, `Describe*`): a call from
//!   an address on one of the account's active threat intel sets and on none of its trusted IP
//!   sets.
//! - Console sign-ins (`sign_in`): a success after [`BRUTE_FORCE_FAILURES`] failures from its
//!   address within [`SIGN_IN_WINDOW_SECS`] (`CredentialAccess:IAMUser/AnomalousBehavior`); a
//!   success from a network the person never signed in from (`ConsoleLoginSuccess.B`).
//! - Anomalies (`anomalies`), against each principal's own [`Profile`] once it has
//!   [`LEARN_EVENTS`] calls: a burst of new discovery APIs, a burst of failed calls by one that
//!   seldom fails, a first call of an API that escalates, persists, evades or destroys
//!   (`…:IAMUser/AnomalousBehavior`); each shows the profile's usual APIs, networks and user
//!   agents beside what was new.
//! - Role session credentials used from a network other than the one they were issued to or
//!   first used from (`InstanceCredentialExfiltration.OutsideAWS`).
//! - An attack sequence: findings of [`SEQUENCE_KINDS`] kinds by one principal within
//!   [`SEQUENCE_WINDOW_SECS`] (`AttackSequence:IAM/CompromisedCredentials`).
//!
//! See <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html> and
//! <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-s3.html>.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// A finding type Rampart produces, with GuardDuty's severity and wording.
#[derive(Debug)]
pub struct FindingType {
    pub name: &'static str,
    pub severity: f64,
    pub title: &'static str,
    pub description: &'static str,
    /// The finding's `resource.resourceType`.
    pub resource_type: &'static str,
}

/// Severities as GuardDuty's finding-type pages give them (Low 2, Medium 5, High 8).
pub static ROOT_CREDENTIAL_USAGE: FindingType = FindingType {
    name: "Policy:IAMUser/RootCredentialUsage",
    severity: 2.0,
    title: "API {api} was invoked using root credentials.",
    description: "API {api} was invoked using root credentials from IP address {ip}.",
    resource_type: "AccessKey",
};

pub static TRAIL_LOGGING_DISABLED: FindingType = FindingType {
    name: "Stealth:IAMUser/CloudTrailLoggingDisabled",
    severity: 2.0,
    title: "AWS CloudTrail trail {target} was disabled.",
    description: "The CloudTrail trail {target} was disabled by {principal} calling {api} from IP address {ip}.",
    resource_type: "AccessKey",
};

pub static PASSWORD_POLICY_CHANGE: FindingType = FindingType {
    name: "Stealth:IAMUser/PasswordPolicyChange",
    severity: 2.0,
    title: "Account password policy was weakened.",
    description: "The account password policy was weakened by {principal} calling {api} from IP address {ip}.",
    resource_type: "AccessKey",
};

pub static BUCKET_BLOCK_DISABLED: FindingType = FindingType {
    name: "Policy:S3/BucketBlockPublicAccessDisabled",
    severity: 2.0,
    title: "Amazon S3 Block Public Access was disabled for S3 bucket {target}.",
    description: "Amazon S3 Block Public Access was disabled for S3 bucket {target} by {principal} calling {api}.",
    resource_type: "S3Bucket",
};

/// See <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-s3.html#stealth-s3-serveraccessloggingdisabled>.
pub static SERVER_ACCESS_LOGGING_DISABLED: FindingType = FindingType {
    name: "Stealth:S3/ServerAccessLoggingDisabled",
    severity: 2.0,
    title: "S3 server access logging was disabled for S3 bucket {target}.",
    description: "S3 server access logging was disabled for S3 bucket {target} by {principal} calling {api}: requests to it are no longer logged.",
    resource_type: "S3Bucket",
};

/// See <https://docs.aws.amazon.com/guardduty/latest/ug/findings-malware-protection.html#object-s3-maliciousfile>.
pub static MALICIOUS_FILE: FindingType = FindingType {
    name: "Object:S3/MaliciousFile",
    severity: 8.0,
    title: "Malware scan detected a threat in an object of the S3 bucket {target}.",
    description: "Malware Protection for S3 found a threat in an object of the S3 bucket {target}.",
    resource_type: "S3Object",
};

pub static ACCOUNT_BLOCK_DISABLED: FindingType = FindingType {
    name: "Policy:S3/AccountBlockPublicAccessDisabled",
    severity: 2.0,
    title: "Amazon S3 Block Public Access was disabled for the account.",
    description: "Amazon S3 Block Public Access was disabled for the account by {principal} calling {api}.",
    resource_type: "AccessKey",
};

pub static BUCKET_ANONYMOUS_ACCESS: FindingType = FindingType {
    name: "Policy:S3/BucketAnonymousAccessGranted",
    severity: 8.0,
    title: "Amazon S3 bucket {target} allows anonymous access.",
    description: "{principal} granted anonymous access to S3 bucket {target} by calling {api}. Anyone on the internet can now reach it.",
    resource_type: "S3Bucket",
};

pub static BUCKET_PUBLIC_ACCESS: FindingType = FindingType {
    name: "Policy:S3/BucketPublicAccessGranted",
    severity: 8.0,
    title: "Amazon S3 bucket {target} allows access to all AWS users.",
    description: "{principal} granted access to S3 bucket {target} to every authenticated AWS user by calling {api}.",
    resource_type: "S3Bucket",
};

pub static MALICIOUS_CALLER: FindingType = FindingType {
    name: "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
    severity: 5.0,
    title: "API {api} was invoked from an IP address on a custom threat list.",
    description: "API {api} was invoked from IP address {ip}, which is on the threat list {target}.",
    resource_type: "AccessKey",
};

pub static MALICIOUS_RECON: FindingType = FindingType {
    name: "Recon:IAMUser/MaliciousIPCaller.Custom",
    severity: 5.0,
    title: "Reconnaissance API {api} was invoked from an IP address on a custom threat list.",
    description: "Reconnaissance API {api} was invoked from IP address {ip}, which is on the threat list {target}.",
    resource_type: "AccessKey",
};

pub static CONSOLE_BRUTE_FORCE: FindingType = FindingType {
    name: "CredentialAccess:IAMUser/AnomalousBehavior",
    severity: 5.0,
    title: "A console sign-in succeeded from {ip} after repeated failed sign-ins.",
    description: "{principal} signed in to the console from {ip} after {target} failed sign-ins from that address within 15 minutes: the password may have been guessed.",
    resource_type: "AccessKey",
};

pub static CONSOLE_NEW_PLACE: FindingType = FindingType {
    name: "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
    severity: 5.0,
    title: "{principal} signed in to the console from an unusual network.",
    description: "{principal} signed in to the console from {ip}, on a network ({target}) it has not signed in from before.",
    resource_type: "AccessKey",
};

pub static ANOMALOUS_DISCOVERY: FindingType = FindingType {
    name: "Discovery:IAMUser/AnomalousBehavior",
    severity: 2.0,
    title: "APIs commonly used to discover resources were invoked in an anomalous way by {principal}.",
    description: "{principal} called {target} discovery APIs it has never called before within five minutes, the last being {api} from {ip}.",
    resource_type: "AccessKey",
};

/// Discovery shown by errors: a burst of failed calls (access denied, mostly) by a principal
/// whose calls seldom fail. The same type as [`ANOMALOUS_DISCOVERY`], in its own words.
pub static ANOMALOUS_ERRORS: FindingType = FindingType {
    name: "Discovery:IAMUser/AnomalousBehavior",
    severity: 2.0,
    title: "{principal} made an unusual number of failed calls.",
    description: "{principal} made {target} failed calls within five minutes, the last {api} from {ip}, while its calls seldom fail: it may be probing what it is allowed to do.",
    resource_type: "AccessKey",
};

pub static ANOMALOUS_PRIVILEGE_ESCALATION: FindingType = FindingType {
    name: "PrivilegeEscalation:IAMUser/AnomalousBehavior",
    severity: 5.0,
    title: "An API commonly used to obtain higher-level permissions was invoked in an anomalous way by {principal}.",
    description: "{principal} called {api} from {ip}, which it has never called before{target}.",
    resource_type: "AccessKey",
};

pub static ANOMALOUS_PERSISTENCE: FindingType = FindingType {
    name: "Persistence:IAMUser/AnomalousBehavior",
    severity: 5.0,
    title: "An API commonly used to maintain unauthorized access was invoked in an anomalous way by {principal}.",
    description: "{principal} called {api} from {ip}, which it has never called before.",
    resource_type: "AccessKey",
};

pub static ANOMALOUS_DEFENSE_EVASION: FindingType = FindingType {
    name: "DefenseEvasion:IAMUser/AnomalousBehavior",
    severity: 5.0,
    title: "An API commonly used to evade defensive measures was invoked in an anomalous way by {principal}.",
    description: "{principal} called {api} from {ip}, which it has never called before.",
    resource_type: "AccessKey",
};

pub static ANOMALOUS_IMPACT: FindingType = FindingType {
    name: "Impact:IAMUser/AnomalousBehavior",
    severity: 8.0,
    title: "An API commonly used to tamper with data or processes was invoked in an anomalous way by {principal}.",
    description: "{principal} called {api} from {ip}, which it has never called before.",
    resource_type: "AccessKey",
};

pub static CREDENTIAL_EXFILTRATION: FindingType = FindingType {
    name: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    severity: 8.0,
    title: "Credentials of a role session were used from {ip}, a network other than the one they were first used from.",
    description: "The temporary credentials {target} of {principal} were used to call {api} from {ip}, while they were issued to or first used from another network.",
    resource_type: "AccessKey",
};

pub static ATTACK_SEQUENCE: FindingType = FindingType {
    name: "AttackSequence:IAM/CompromisedCredentials",
    severity: 9.0,
    title: "A sequence of actions by {principal} suggests its credentials are compromised.",
    description: "{principal} set off {target} kinds of findings within 24 hours, the latest on {api}: together they tell one attack.",
    resource_type: "AccessKey",
};

pub static TOR_CALLER: FindingType = FindingType {
    name: "UnauthorizedAccess:IAMUser/TorIPCaller",
    severity: 5.0,
    title: "API {api} was invoked from a Tor exit node.",
    description: "API {api} was invoked from IP address {ip}, a Tor exit node on the list {target}.",
    resource_type: "AccessKey",
};

pub static TOR_RECON: FindingType = FindingType {
    name: "Recon:IAMUser/TorIPCaller",
    severity: 5.0,
    title: "Reconnaissance API {api} was invoked from a Tor exit node.",
    description: "Reconnaissance API {api} was invoked from IP address {ip}, a Tor exit node on the list {target}.",
    resource_type: "AccessKey",
};

/// Every finding type Rampart produces (and makes samples of).
pub static TYPES: &[&FindingType] = &[
    &ROOT_CREDENTIAL_USAGE,
    &TRAIL_LOGGING_DISABLED,
    &PASSWORD_POLICY_CHANGE,
    &BUCKET_BLOCK_DISABLED,
    &SERVER_ACCESS_LOGGING_DISABLED,
    &ACCOUNT_BLOCK_DISABLED,
    &BUCKET_ANONYMOUS_ACCESS,
    &BUCKET_PUBLIC_ACCESS,
    &MALICIOUS_CALLER,
    &MALICIOUS_RECON,
    &CONSOLE_BRUTE_FORCE,
    &CONSOLE_NEW_PLACE,
    &ANOMALOUS_DISCOVERY,
    &ANOMALOUS_PRIVILEGE_ESCALATION,
    &ANOMALOUS_PERSISTENCE,
    &ANOMALOUS_DEFENSE_EVASION,
    &ANOMALOUS_IMPACT,
    &CREDENTIAL_EXFILTRATION,
    &ATTACK_SEQUENCE,
    &TOR_CALLER,
    &TOR_RECON,
    &crate::web::WEB_PATH_ENUMERATION,
    &crate::web::BLOCKED_WEB_ATTACKS,
    &crate::web::DENIAL_OF_SERVICE,
    &MALICIOUS_FILE,
];

/// A finding type by name.
pub fn finding_type(name: &str) -> Option<&'static FindingType> {
    TYPES.iter().find(|t| t.name == name).copied()
}

/// One detection: what a finding is made of, or updated with when one of the same key exists.
#[derive(Debug, Clone)]
pub struct Detection {
    pub kind: &'static FindingType,
    /// What makes repeats one finding (with the type, the account and the Region).
    pub key: String,
    pub title: String,
    pub description: String,
    /// The event's time (`eventTime`).
    pub at: String,
    /// How many events it stands for (repeats within one engine run are merged), and the last
    /// one's time.
    pub count: u32,
    pub last: String,
    /// The finding's `resource`.
    pub resource: Json,
    /// The finding's `service.action`.
    pub action: Json,
    /// The finding's `service.evidence`, if any.
    pub evidence: Option<Json>,
    /// The finding's `service.detection` (an anomaly's profile comparison), if any.
    pub detection: Option<Json>,
    /// For an attack sequence: the findings it ties together.
    pub signals: Vec<SignalRef>,
    /// What else the finding shows (its `service.additionalInfo`), if anything.
    pub additional: Option<Json>,
}

/// What the detector has learned of an account, kept between events (and runs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// The password policy the account last set (its `UpdateAccountPasswordPolicy` parameters).
    #[serde(default)]
    pub password_policy: Option<Json>,
    /// Recent failed console sign-ins by source address: how many, and when the first was
    /// (Unix seconds).
    #[serde(default)]
    pub failures: BTreeMap<String, (u32, i64)>,
    /// Each principal's profile, by its ARN (a role's for its sessions).
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// Role sessions' credentials (by access key id): the network they were issued to or first
    /// used from, and when last seen (Unix seconds).
    #[serde(default)]
    pub sessions: BTreeMap<String, (String, i64)>,
    /// The findings each principal set off recently, for attack sequences.
    #[serde(default)]
    pub signals: BTreeMap<String, Vec<SignalRef>>,
}

/// A finding a principal set off: its type and key (which name the finding), when, how often.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignalRef {
    pub kind: String,
    pub key: String,
    pub first: i64,
    pub last: i64,
    pub count: u32,
    pub severity: f64,
}

/// What a principal usually does, learned from its own calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Calls seen.
    pub seen: u64,
    /// The APIs it has called (`SOURCE:NAME`), with how often.
    pub apis: BTreeMap<String, u64>,
    /// The networks it has signed in to the console from (`/24`, or `/48` for IPv6).
    pub places: Vec<String>,
    /// Discovery APIs new to it, called since the window began: name and Unix seconds.
    pub recent_new: Vec<(String, i64)>,
    /// When it was last seen (Unix seconds), to forget the longest idle first.
    pub last: i64,
    /// Its failed calls, and the times of those within the error window.
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub recent_errors: Vec<i64>,
    /// The networks it calls from ([`net_key`]) and the user agents it calls with, with how often.
    #[serde(default)]
    pub networks: Vec<(u64, u64)>,
    #[serde(default)]
    pub agents: Vec<(String, u64)>,
}

/// Failed console sign-ins from one address within this window count toward a brute force.
pub const SIGN_IN_WINDOW_SECS: i64 = 15 * 60;
/// Failed console sign-ins from one address, within the window, before a success from it is a
/// brute force.
pub const BRUTE_FORCE_FAILURES: u32 = 5;
/// Calls a principal makes before its behaviour is judged (its baseline).
pub const LEARN_EVENTS: u64 = 100;
/// Discovery APIs new to a principal, within [`DISCOVERY_WINDOW_SECS`], that make a finding.
pub const DISCOVERY_NEW_APIS: usize = 10;
pub const DISCOVERY_WINDOW_SECS: i64 = 300;
/// Failed calls within [`ERROR_WINDOW_SECS`] that make an unusual error rate, for a principal
/// whose baseline fails less than one call in [`ERROR_BASELINE`].
pub const ERROR_BURST: usize = 10;
pub const ERROR_WINDOW_SECS: i64 = 300;
pub const ERROR_BASELINE: u64 = 20;
/// Networks and user agents a profile keeps.
const MAX_NETWORKS: usize = 32;
const MAX_AGENTS: usize = 16;
/// Findings of this many kinds by one principal within [`SEQUENCE_WINDOW_SECS`] are an attack
/// sequence.
pub const SEQUENCE_KINDS: usize = 3;
pub const SEQUENCE_WINDOW_SECS: i64 = 24 * 3600;
/// The thresholds and windows of the detections, as the server's `guardduty_thresholds` sets
/// them (each defaults to the constant of the same name): how an operator tunes a detection that
/// finds too much or too little for their workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tuning {
    pub brute_force_failures: u32,
    pub sign_in_window_secs: i64,
    pub learn_events: u64,
    pub discovery_new_apis: usize,
    pub discovery_window_secs: i64,
    pub error_burst: usize,
    pub error_window_secs: i64,
    pub error_baseline: u64,
    pub sequence_kinds: usize,
    pub sequence_window_secs: i64,
    /// [`crate::web`]'s: distinct missing or blocked paths, blocked requests, and their window.
    pub probe_paths: usize,
    pub blocked_attacks: u32,
    pub web_window_secs: i64,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            brute_force_failures: BRUTE_FORCE_FAILURES,
            sign_in_window_secs: SIGN_IN_WINDOW_SECS,
            learn_events: LEARN_EVENTS,
            discovery_new_apis: DISCOVERY_NEW_APIS,
            discovery_window_secs: DISCOVERY_WINDOW_SECS,
            error_burst: ERROR_BURST,
            error_window_secs: ERROR_WINDOW_SECS,
            error_baseline: ERROR_BASELINE,
            sequence_kinds: SEQUENCE_KINDS,
            sequence_window_secs: SEQUENCE_WINDOW_SECS,
            probe_paths: crate::web::PROBE_PATHS,
            blocked_attacks: crate::web::BLOCKED_ATTACKS,
            web_window_secs: crate::web::WINDOW_SECS,
        }
    }
}

impl Tuning {
    /// Reads `name=value` pairs separated by commas (`brute_force_failures=10,learn_events=500`);
    /// the others keep their defaults. Every value must be a positive whole number.
    pub fn parse(text: &str) -> Result<Tuning, String> {
        let mut fields = serde_json::Map::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not NAME=VALUE"))?;
            let n: u32 =
                value.trim().parse().map_err(|_| format!("`{pair}`: the value is not a positive whole number"))?;
            fields.insert(name.trim().to_owned(), Json::from(n));
        }
        let t: Tuning = serde_json::from_value(Json::Object(fields)).map_err(|e| e.to_string())?;
        t.check()?;
        Ok(t)
    }

    /// Refuses a threshold or window of zero (or less).
    pub fn check(&self) -> Result<(), String> {
        let all = [
            ("brute_force_failures", i64::from(self.brute_force_failures)),
            ("sign_in_window_secs", self.sign_in_window_secs),
            ("learn_events", i64::try_from(self.learn_events).unwrap_or(i64::MAX)),
            ("discovery_new_apis", i64::try_from(self.discovery_new_apis).unwrap_or(i64::MAX)),
            ("discovery_window_secs", self.discovery_window_secs),
            ("error_burst", i64::try_from(self.error_burst).unwrap_or(i64::MAX)),
            ("error_window_secs", self.error_window_secs),
            ("error_baseline", i64::try_from(self.error_baseline).unwrap_or(i64::MAX)),
            ("sequence_kinds", i64::try_from(self.sequence_kinds).unwrap_or(i64::MAX)),
            ("sequence_window_secs", self.sequence_window_secs),
            ("probe_paths", i64::try_from(self.probe_paths).unwrap_or(i64::MAX)),
            ("blocked_attacks", i64::from(self.blocked_attacks)),
            ("web_window_secs", self.web_window_secs),
        ];
        match all.iter().find(|(_, v)| *v <= 0) {
            Some((name, _)) => Err(format!("guardduty_thresholds.{name} must be at least 1")),
            None => Ok(()),
        }
    }
}

/// Bounds on what the state keeps: principals and addresses tracked, APIs and networks per
/// principal (the least used or longest idle go first).
const MAX_TRACKED: usize = 1024;
const MAX_APIS: usize = 512;
const MAX_PLACES: usize = 32;

/// A threat intel set or trusted IP set: its name, its addresses and networks, and the log
/// position from which it applies (when it was read; `None`: always).
#[derive(Debug, Clone, Default)]
pub struct IpList {
    pub name: String,
    pub networks: Vec<ipnet::IpNet>,
    pub since: Option<i64>,
}

impl Detection {
    /// Whether `other` is a repeat of this detection (the same finding).
    pub fn same(&self, other: &Detection) -> bool {
        std::ptr::eq(self.kind, other.kind) && self.key == other.key
    }

    /// Takes a later repeat into this one: counted, with its time and latest action.
    pub fn merge(&mut self, later: Detection) {
        self.count = self.count.saturating_add(later.count);
        if later.last > self.last {
            self.last = later.last;
            self.action = later.action;
            self.signals = later.signals;
        }
    }
}

impl IpList {
    /// Whether the list has an address for an event at log position `at`.
    pub fn contains(&self, ip: IpAddr, at: i64) -> bool {
        self.since.is_none_or(|s| at >= s) && self.networks.iter().any(|n| n.contains(&ip))
    }
}

/// The account's active lists, as the detections read them, and the Tor exit nodes the server
/// was given (`guardduty_tor_exit_list`).
#[derive(Debug, Clone, Default)]
pub struct Lists {
    pub threats: Vec<IpList>,
    pub trusted: Vec<IpList>,
    pub tor: Option<std::sync::Arc<IpList>>,
    /// The detections' thresholds.
    pub tuning: Tuning,
}

fn s<'a>(v: &'a Json, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |at, k| at.get(k))?.as_str()
}

/// The caller as a finding's `resource.accessKeyDetails` names it.
fn access_key_details(event: &Json) -> Json {
    let id = crate::at(event, &["userIdentity"]);
    let kind = s(id, &["type"]).unwrap_or("Unknown");
    let user = match kind {
        "Root" => "Root".to_owned(),
        "AssumedRole" => s(id, &["sessionContext", "sessionIssuer", "userName"])
            .or_else(|| s(id, &["arn"]).and_then(|a| a.rsplit('/').nth(1)))
            .unwrap_or_default()
            .to_owned(),
        _ => s(id, &["userName"]).unwrap_or_default().to_owned(),
    };
    json!({
        "accessKeyId": s(id, &["accessKeyId"]).unwrap_or_default(),
        "principalId": s(id, &["principalId"]).unwrap_or_default(),
        "userName": user,
        "userType": kind,
    })
}

/// The finding's `service.action` for an API call.
fn api_call_action(event: &Json, affected: Option<(&str, &str)>) -> Json {
    let ip = s(event, &["sourceIPAddress"]).unwrap_or_default();
    let mut call = json!({
        "api": s(event, &["eventName"]).unwrap_or_default(),
        "serviceName": s(event, &["eventSource"]).unwrap_or_default(),
        "callerType": if ip.parse::<IpAddr>().is_ok() { "Remote IP" } else { "AWS Service" },
        "userAgent": s(event, &["userAgent"]).unwrap_or_default(),
    });
    if ip.parse::<IpAddr>().is_ok() {
        let family = if ip.contains(':') { "ipAddressV6" } else { "ipAddressV4" };
        crate::set(&mut call, &["remoteIpDetails"], json!({ family: ip }));
    } else if !ip.is_empty() {
        crate::set(&mut call, &["domainDetails"], json!({ "domain": ip }));
    }
    if let Some(code) = s(event, &["errorCode"]) {
        crate::set(&mut call, &["errorCode"], json!(code));
    }
    if let Some((kind, arn)) = affected {
        crate::set(&mut call, &["affectedResources"], json!({ kind: arn }));
    }
    json!({ "actionType": "AWS_API_CALL", "awsApiCallAction": call })
}

fn words(template: &str, event: &Json, target: &str) -> String {
    let principal = s(event, &["userIdentity", "arn"]).unwrap_or("an unknown principal");
    template
        .replace("{api}", s(event, &["eventName"]).unwrap_or_default())
        .replace("{ip}", s(event, &["sourceIPAddress"]).unwrap_or_default())
        .replace("{principal}", principal)
        .replace("{target}", target)
}

fn detection(
    kind: &'static FindingType,
    event: &Json,
    key: String,
    target: &str,
    resource: Json,
    action: Json,
) -> Detection {
    Detection {
        kind,
        key,
        title: words(kind.title, event, target),
        description: words(kind.description, event, target),
        at: s(event, &["eventTime"]).unwrap_or_default().to_owned(),
        count: 1,
        last: s(event, &["eventTime"]).unwrap_or_default().to_owned(),
        resource,
        action,
        evidence: None,
        detection: None,
        signals: Vec::new(),
        additional: None,
    }
}

/// The principal a key is made from: its ARN, else its principal id.
fn who(event: &Json) -> String {
    s(event, &["userIdentity", "arn"])
        .or_else(|| s(event, &["userIdentity", "principalId"]))
        .unwrap_or_default()
        .to_owned()
}

fn bucket_resource(event: &Json, bucket: &str) -> Json {
    json!({
        "resourceType": "S3Bucket",
        "accessKeyDetails": access_key_details(event),
        "s3BucketDetails": [{
            "name": bucket,
            "arn": format!("arn:aws:s3:::{bucket}"),
            "type": "Destination",
        }],
    })
}

fn key_resource(event: &Json) -> Json {
    json!({ "resourceType": "AccessKey", "accessKeyDetails": access_key_details(event) })
}

/// Whether a detection below reads an event's request parameters or response elements (the
/// engine reads the whole event only then): kept beside the detections, so that one reading a
/// new event's body is added here too.
pub fn reads_body(source: &str, name: &str) -> bool {
    matches!(
        (source, name),
        ("cloudtrail.amazonaws.com", "StopLogging" | "DeleteTrail")
            | ("iam.amazonaws.com", "UpdateAccountPasswordPolicy" | "DeleteAccountPasswordPolicy")
            | ("iam.amazonaws.com", "AttachUserPolicy" | "PutUserPolicy")
            | (
                "s3.amazonaws.com",
                "PutPublicAccessBlock"
                    | "DeletePublicAccessBlock"
                    | "PutAccountPublicAccessBlock"
                    | "DeleteAccountPublicAccessBlock"
                    | "PutBucketPolicy"
                    | "PutBucketAcl"
                    | "PutBucketLogging"
            )
            | (
                "sts.amazonaws.com",
                "AssumeRole"
                    | "AssumeRoleWithSAML"
                    | "AssumeRoleWithWebIdentity"
                    | "GetSessionToken"
                    | "GetFederationToken"
            )
            | ("signin.amazonaws.com", _)
    )
}

/// The detections one event (at log position `at`) gives, updating `state`. A failed call counts
/// only for who made it and from where (root use, threat lists): a refused StopLogging disabled
/// nothing.
pub fn detect(event: &Json, at: i64, state: &mut State, lists: &Lists) -> Vec<Detection> {
    let mut out = detect_one(event, at, state, lists);
    if let Some(seq) = sequence(event, &out, state, &lists.tuning) {
        out.push(seq);
    }
    out
}

/// Ties a principal's findings into an attack sequence once they are of enough kinds.
fn sequence(event: &Json, found: &[Detection], state: &mut State, tuning: &Tuning) -> Option<Detection> {
    if found.is_empty() {
        return None;
    }
    let who = who(event);
    let t = unix_secs(event);
    let signals = state.signals.entry(who.clone()).or_default();
    for d in found {
        match signals.iter_mut().find(|s| s.kind == d.kind.name && s.key == d.key) {
            Some(s) => {
                s.last = t;
                s.count = s.count.saturating_add(1);
            }
            None => signals.push(SignalRef {
                kind: d.kind.name.to_owned(),
                key: d.key.clone(),
                first: t,
                last: t,
                count: 1,
                severity: d.kind.severity,
            }),
        }
    }
    signals.retain(|s| t.saturating_sub(s.last) <= tuning.sequence_window_secs);
    if signals.len() > 32 {
        let cut = signals.len() - 32;
        signals.drain(..cut);
    }
    let kinds = signals.iter().map(|s| s.kind.as_str()).collect::<std::collections::BTreeSet<&str>>().len();
    let ready = kinds >= tuning.sequence_kinds;
    let snapshot = signals.clone();
    if state.signals.len() > MAX_TRACKED {
        let idle = |v: &Vec<SignalRef>| v.iter().map(|s| s.last).max().unwrap_or(0);
        bound(&mut state.signals, MAX_TRACKED, idle);
    }
    if !ready {
        return None;
    }
    let mut d =
        detection(&ATTACK_SEQUENCE, event, who, &kinds.to_string(), key_resource(event), api_call_action(event, None));
    d.signals = snapshot;
    Some(d)
}

fn detect_one(event: &Json, at: i64, state: &mut State, lists: &Lists) -> Vec<Detection> {
    let mut out = Vec::new();
    let name = s(event, &["eventName"]).unwrap_or_default();
    let source = s(event, &["eventSource"]).unwrap_or_default();
    let failed = event.get("errorCode").is_some_and(|e| !e.is_null());
    let t = unix_secs(event);
    if s(event, &["eventType"]) == Some("AwsConsoleSignIn") && name == "ConsoleLogin" {
        sign_in(event, t, state, &lists.tuning, &mut out);
        return out;
    }
    let api_call = matches!(s(event, &["eventType"]), Some("AwsApiCall"));
    if !api_call {
        return out;
    }
    anomalies(event, t, failed, (state, &lists.tuning), &mut out);
    credentials_moved(event, t, state, &mut out);
    let params = crate::at(event, &["requestParameters"]);

    if s(event, &["userIdentity", "type"]) == Some("Root") && s(event, &["userIdentity", "invokedBy"]).is_none() {
        out.push(detection(
            &ROOT_CREDENTIAL_USAGE,
            event,
            format!("{}|{name}", who(event)),
            "",
            key_resource(event),
            api_call_action(event, None),
        ));
    }

    // Calls from a Tor exit node, unless a trusted list has it.
    if let Some(tor) = &lists.tor
        && let Some(ip) = s(event, &["sourceIPAddress"]).and_then(|ip| ip.parse::<IpAddr>().ok())
        && tor.contains(ip, at)
        && !lists.trusted.iter().any(|l| l.contains(ip, at))
    {
        let recon = ["Get", "List", "Describe", "Lookup"].iter().any(|p| name.starts_with(p));
        let t = if recon { &TOR_RECON } else { &TOR_CALLER };
        let mut d = detection(
            t,
            event,
            format!("{}|{ip}", who(event)),
            &tor.name,
            key_resource(event),
            api_call_action(event, None),
        );
        d.evidence = Some(json!({
            "threatIntelligenceDetails": [{ "threatListName": tor.name, "threatNames": ["TorExitNode"] }]
        }));
        out.push(d);
    }

    // Calls from an address on a threat list, unless a trusted list has it.
    if !lists.threats.is_empty()
        && let Some(ip) = s(event, &["sourceIPAddress"]).and_then(|ip| ip.parse::<IpAddr>().ok())
        && !lists.trusted.iter().any(|l| l.contains(ip, at))
        && let Some(list) = lists.threats.iter().find(|l| l.contains(ip, at))
    {
        let recon = ["Get", "List", "Describe", "Lookup"].iter().any(|p| name.starts_with(p));
        let t = if recon { &MALICIOUS_RECON } else { &MALICIOUS_CALLER };
        let mut d = detection(
            t,
            event,
            format!("{}|{ip}", who(event)),
            &list.name,
            key_resource(event),
            api_call_action(event, None),
        );
        d.evidence = Some(json!({
            "threatIntelligenceDetails": [{ "threatListName": list.name, "threatNames": [] }]
        }));
        out.push(d);
    }

    if failed {
        return out;
    }
    match (source, name) {
        ("cloudtrail.amazonaws.com", "StopLogging" | "DeleteTrail") => {
            let trail = s(params, &["name"]).unwrap_or_default();
            let short = trail.rsplit('/').next().unwrap_or(trail);
            let arn = if trail.starts_with("arn:") {
                trail.to_owned()
            } else {
                format!(
                    "arn:aws:cloudtrail:{}:{}:trail/{trail}",
                    s(event, &["awsRegion"]).unwrap_or_default(),
                    s(event, &["recipientAccountId"]).unwrap_or_default()
                )
            };
            out.push(detection(
                &TRAIL_LOGGING_DISABLED,
                event,
                arn.clone(),
                short,
                key_resource(event),
                api_call_action(event, Some(("AWS::CloudTrail::Trail", &arn))),
            ));
        }
        ("iam.amazonaws.com", "UpdateAccountPasswordPolicy" | "DeleteAccountPasswordPolicy") => {
            let new = (name == "UpdateAccountPasswordPolicy").then(|| params.clone());
            let before = std::mem::replace(&mut state.password_policy, new.clone());
            if weakened(before.as_ref(), new.as_ref()) {
                out.push(detection(
                    &PASSWORD_POLICY_CHANGE,
                    event,
                    "password-policy".to_owned(),
                    "",
                    key_resource(event),
                    api_call_action(event, None),
                ));
            }
        }
        ("s3.amazonaws.com", "PutPublicAccessBlock" | "DeletePublicAccessBlock")
            if (name == "DeletePublicAccessBlock" || block_off(params)) =>
        {
            let bucket = s(params, &["bucketName"]).unwrap_or_default();
            out.push(detection(
                &BUCKET_BLOCK_DISABLED,
                event,
                bucket.to_owned(),
                bucket,
                bucket_resource(event, bucket),
                api_call_action(event, None),
            ));
        }
        // A logging status without `loggingEnabled` turns the bucket's server access logging off.
        ("s3.amazonaws.com", "PutBucketLogging") if !logging_on(params) => {
            let bucket = s(params, &["bucketName"]).unwrap_or_default();
            out.push(detection(
                &SERVER_ACCESS_LOGGING_DISABLED,
                event,
                bucket.to_owned(),
                bucket,
                bucket_resource(event, bucket),
                api_call_action(event, None),
            ));
        }
        ("s3.amazonaws.com", "PutAccountPublicAccessBlock" | "DeleteAccountPublicAccessBlock")
            if (name == "DeleteAccountPublicAccessBlock" || block_off(params)) =>
        {
            out.push(detection(
                &ACCOUNT_BLOCK_DISABLED,
                event,
                "account".to_owned(),
                "",
                key_resource(event),
                api_call_action(event, None),
            ));
        }
        ("s3.amazonaws.com", "PutBucketPolicy" | "PutBucketAcl") => {
            let bucket = s(params, &["bucketName"]).unwrap_or_default();
            let grant = if name == "PutBucketPolicy" { policy_grant(params) } else { acl_grant(params) };
            if let Some(t) = grant {
                out.push(detection(
                    t,
                    event,
                    bucket.to_owned(),
                    bucket,
                    bucket_resource(event, bucket),
                    api_call_action(event, None),
                ));
            }
        }
        _ => {}
    }
    out
}

fn unix_secs(event: &Json) -> i64 {
    s(event, &["eventTime"])
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map_or(0, time::OffsetDateTime::unix_timestamp)
}

/// The network an address is in, as profiles keep places: its `/24` (IPv4) or `/48` (IPv6).
fn network(ip: IpAddr) -> String {
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    ipnet::IpNet::new(ip, prefix).map(|n| n.trunc().to_string()).unwrap_or_else(|_| ip.to_string())
}

/// The profile a call's principal is judged by: a role's for its sessions.
fn principal_of(event: &Json) -> Option<&str> {
    let id = crate::at(event, &["userIdentity"]);
    match s(id, &["type"])? {
        "IAMUser" => s(id, &["arn"]),
        "AssumedRole" => s(id, &["sessionContext", "sessionIssuer", "arn"]).or_else(|| s(id, &["arn"])),
        _ => None,
    }
}

/// A network as a profile keeps it: an IPv4 address's `/24`, or an IPv6 address's `/48` (high
/// bit set), as a number (no allocation per call).
pub fn net_key(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4) >> 8),
        IpAddr::V6(v6) => (1 << 63) | u64::try_from(u128::from(v6) >> 80).unwrap_or(0),
    }
}

/// A [`net_key`] as text: `198.51.100.0/24`, `2001:db8:1::/48`.
fn net_text(k: u64) -> String {
    if k >> 63 == 0 {
        let v4 = std::net::Ipv4Addr::from(u32::try_from(k << 8).unwrap_or(0));
        format!("{v4}/24")
    } else {
        let v6 = std::net::Ipv6Addr::from(u128::from(k & !(1 << 63)) << 80);
        format!("{v6}/48")
    }
}

/// Counts `item` in a kept list of at most `max`; a new item past the bound replaces the least
/// seen. Returns whether it was new.
fn tally<T: PartialEq>(list: &mut Vec<(T, u64)>, item: T, max: usize) -> bool {
    if let Some((_, n)) = list.iter_mut().find(|(x, _)| *x == item) {
        *n = n.saturating_add(1);
        return false;
    }
    if list.len() >= max
        && let Some(least) = list.iter().enumerate().min_by_key(|(_, (_, n))| *n).map(|(i, _)| i)
    {
        list.swap_remove(least);
    }
    list.push((item, 1));
    true
}

/// The most frequent entries of a kept list, as text.
fn frequent<T>(list: &[(T, u64)], text: impl Fn(&T) -> String) -> Vec<String> {
    let mut sorted: Vec<&(T, u64)> = list.iter().collect();
    sorted.sort_by_key(|x| std::cmp::Reverse(x.1));
    sorted.into_iter().take(10).map(|(x, _)| text(x)).collect()
}

/// Keeps at most `max` entries, dropping the least by `rank` first.
fn bound<K: Ord + Clone, V>(map: &mut BTreeMap<K, V>, max: usize, rank: impl Fn(&V) -> i64) {
    while map.len() > max {
        let Some(k) = map.iter().min_by_key(|(_, v)| rank(v)).map(|(k, _)| k.clone()) else { break };
        map.remove(&k);
    }
}

/// Console sign-ins: failures counted by source address; a success after a burst of them is a
/// brute force, and a success from a network the principal never signed in from is unusual.
fn sign_in(event: &Json, t: i64, state: &mut State, tuning: &Tuning, out: &mut Vec<Detection>) {
    let Some(ip) = s(event, &["sourceIPAddress"]).and_then(|ip| ip.parse::<IpAddr>().ok()) else { return };
    let key = ip.to_string();
    let success = s(event, &["responseElements", "ConsoleLogin"]) == Some("Success");
    if !success {
        let entry = state.failures.entry(key).or_insert((0, t));
        if t.saturating_sub(entry.1) > tuning.sign_in_window_secs {
            *entry = (0, t);
        }
        entry.0 = entry.0.saturating_add(1);
        bound(&mut state.failures, MAX_TRACKED, |(_, first)| *first);
        return;
    }
    let who = s(event, &["userIdentity", "arn"]).unwrap_or_default().to_owned();
    let action = api_call_action(event, None);
    if let Some((failures, first)) = state.failures.remove(&key)
        && failures >= tuning.brute_force_failures
        && t.saturating_sub(first) <= tuning.sign_in_window_secs
    {
        out.push(detection(
            &CONSOLE_BRUTE_FORCE,
            event,
            format!("{who}|{key}"),
            &failures.to_string(),
            key_resource(event),
            action.clone(),
        ));
    }
    let place = network(ip);
    let profile = state.profiles.entry(who.clone()).or_default();
    profile.last = t;
    if !profile.places.contains(&place) {
        if !profile.places.is_empty() {
            out.push(detection(
                &CONSOLE_NEW_PLACE,
                event,
                format!("{who}|{place}"),
                &place,
                key_resource(event),
                action,
            ));
        }
        profile.places.push(place);
        if profile.places.len() > MAX_PLACES {
            profile.places.remove(0);
        }
    }
    bound(&mut state.profiles, MAX_TRACKED, |p| p.last);
}

fn is_discovery(name: &str) -> bool {
    ["Get", "List", "Describe", "Lookup", "Search"].iter().any(|p| name.starts_with(p))
}

/// The tactic an API serves when a principal calls it for the first time (after its baseline):
/// GuardDuty's anomaly families, for the APIs Rampart serves.
fn tactic(source: &str, name: &str) -> Option<&'static FindingType> {
    Some(match (source, name) {
        (
            "iam.amazonaws.com",
            "AttachUserPolicy"
            | "PutUserPolicy"
            | "AttachGroupPolicy"
            | "PutGroupPolicy"
            | "AttachRolePolicy"
            | "PutRolePolicy"
            | "AddUserToGroup"
            | "CreatePolicyVersion"
            | "SetDefaultPolicyVersion"
            | "UpdateAssumeRolePolicy"
            | "PutUserPermissionsBoundary"
            | "DeleteUserPermissionsBoundary"
            | "DeleteRolePermissionsBoundary",
        ) => &ANOMALOUS_PRIVILEGE_ESCALATION,
        ("iam.amazonaws.com", "CreateAccessKey" | "CreateLoginProfile" | "UpdateLoginProfile" | "CreateUser") => {
            &ANOMALOUS_PERSISTENCE
        }
        ("cloudtrail.amazonaws.com", "UpdateTrail" | "PutEventSelectors" | "DeleteEventDataStore")
        | ("wafv2.amazonaws.com", "DeleteLoggingConfiguration" | "DisassociateWebACL") => &ANOMALOUS_DEFENSE_EVASION,
        ("kms.amazonaws.com", "ScheduleKeyDeletion" | "DisableKey")
        | ("s3.amazonaws.com", "DeleteBucket" | "DeleteBucketEncryption") => &ANOMALOUS_IMPACT,
        _ => return None,
    })
}

/// The anomaly section of a finding: the principal's usual APIs and the unusual ones.
fn anomaly(who: &str, usual: &Profile, unusual: &[String], new: &Newness) -> Json {
    let mut common: Vec<(&String, &u64)> = usual.apis.iter().collect();
    common.sort_by(|a, b| b.1.cmp(a.1));
    let apis: Vec<String> =
        common.iter().take(10).map(|(api, _)| api.rsplit(':').next().unwrap_or_default().to_owned()).collect();
    let seen = |text: Vec<String>| json!([{"profileType": "FREQUENCY", "profileSubtype": "FREQUENT", "observations": {"text": text}}]);
    let unseen = |text: Vec<String>| json!({"profileType": "FREQUENCY", "profileSubtype": "UNSEEN", "observations": {"text": text}});
    let mut behavior = serde_json::Map::new();
    behavior.insert("api".to_owned(), unseen(unusual.to_vec()));
    if let Some(n) = &new.network {
        behavior.insert("network".to_owned(), unseen(vec![n.clone()]));
    }
    if let Some(a) = &new.agent {
        behavior.insert("userAgent".to_owned(), unseen(vec![a.clone()]));
    }
    json!({
        "anomaly": {
            "profiles": { who: {
                "api": seen(apis),
                "network": seen(frequent(&usual.networks, |k| net_text(*k))),
                "userAgent": seen(frequent(&usual.agents, String::clone)),
            }},
            "unusual": { "behavior": { who: behavior }},
        }
    })
}

/// What about a call its principal's profile has not seen.
#[derive(Default)]
struct Newness {
    network: Option<String>,
    agent: Option<String>,
}

/// Calls judged against the caller's own profile, once it has one: a burst of discovery APIs
/// new to it, or a first call of an API an attacker uses to escalate, persist, evade or destroy.
fn anomalies(event: &Json, t: i64, failed: bool, (state, tuning): (&mut State, &Tuning), out: &mut Vec<Detection>) {
    if s(event, &["userIdentity", "invokedBy"]).is_some() {
        return;
    }
    let Some(who) = principal_of(event) else { return };
    let name = s(event, &["eventName"]).unwrap_or_default();
    let source = s(event, &["eventSource"]).unwrap_or_default();
    let api = format!("{}:{name}", source.split('.').next().unwrap_or_default());
    if !state.profiles.contains_key(who) {
        state.profiles.insert(who.to_owned(), Profile::default());
    }
    let Some(profile) = state.profiles.get_mut(who) else { return };
    let new = !profile.apis.contains_key(&api);
    let learned = profile.seen >= tuning.learn_events;
    // Where from and with what: new to the profile (said in an anomaly), then counted.
    let mut newness = Newness::default();
    if let Some(ip) = s(event, &["sourceIPAddress"]).and_then(|ip| ip.parse::<IpAddr>().ok())
        && tally(&mut profile.networks, net_key(ip), MAX_NETWORKS)
        && learned
    {
        newness.network = Some(network(ip));
    }
    let agent = s(event, &["userAgent"]).unwrap_or_default();
    let agent = agent.char_indices().nth(128).map_or(agent, |(end, _)| agent.get(..end).unwrap_or(agent));
    match profile.agents.iter_mut().find(|(a, _)| a == agent) {
        Some((_, n)) => *n = n.saturating_add(1),
        None => {
            tally(&mut profile.agents, agent.to_owned(), MAX_AGENTS);
            if learned {
                newness.agent = Some(agent.to_owned());
            }
        }
    }
    if failed {
        profile.errors = profile.errors.saturating_add(1);
        profile.recent_errors.retain(|at| t.saturating_sub(*at) <= tuning.error_window_secs);
        profile.recent_errors.push(t);
        if profile.recent_errors.len() > 4 * tuning.error_burst {
            profile.recent_errors.remove(0);
        }
        // The rate before the burst: its calls and failures, without the burst's.
        let burst = u64::try_from(profile.recent_errors.len()).unwrap_or(u64::MAX);
        let earlier_errors = profile.errors.saturating_sub(burst);
        let earlier_calls = profile.seen.saturating_sub(burst.saturating_sub(1));
        let usual_rate = earlier_errors.saturating_mul(tuning.error_baseline) < earlier_calls;
        if learned && usual_rate && profile.recent_errors.len() >= tuning.error_burst {
            let burst = std::mem::take(&mut profile.recent_errors).len();
            let code = s(event, &["errorCode"]).unwrap_or("an error").to_owned();
            let mut d = detection(
                &ANOMALOUS_ERRORS,
                event,
                format!("{who}|errors"),
                &burst.to_string(),
                key_resource(event),
                api_call_action(event, None),
            );
            d.detection = Some(anomaly(who, profile, &[format!("{name} ({code})")], &newness));
            out.push(d);
        }
    }
    if learned && new && !failed {
        if is_discovery(name) {
            profile.recent_new.retain(|(_, at)| t.saturating_sub(*at) <= tuning.discovery_window_secs);
            profile.recent_new.push((name.to_owned(), t));
            if profile.recent_new.len() >= tuning.discovery_new_apis {
                let unusual: Vec<String> =
                    std::mem::take(&mut profile.recent_new).into_iter().map(|(n, _)| n).collect();
                let mut d = detection(
                    &ANOMALOUS_DISCOVERY,
                    event,
                    who.to_owned(),
                    &unusual.len().to_string(),
                    key_resource(event),
                    api_call_action(event, None),
                );
                d.detection = Some(anomaly(who, profile, &unusual, &newness));
                out.push(d);
            }
        } else if let Some(kind) = tactic(source, name) {
            // Granting oneself an administrator's policy says so.
            let own = s(crate::at(event, &["requestParameters"]), &["userName"])
                .is_some_and(|u| who.ends_with(&format!("/{u}")));
            let admin = s(crate::at(event, &["requestParameters"]), &["policyArn"])
                .is_some_and(|p| p.ends_with(":policy/AdministratorAccess"));
            let note = if own && admin { ", to attach AdministratorAccess to itself" } else { "" };
            let mut d = detection(kind, event, who.to_owned(), note, key_resource(event), api_call_action(event, None));
            d.detection = Some(anomaly(who, profile, &[name.to_owned()], &newness));
            out.push(d);
        }
    }
    profile.seen = profile.seen.saturating_add(1);
    profile.last = t;
    match profile.apis.get_mut(&api) {
        Some(n) => *n += 1,
        None => {
            profile.apis.insert(api, 1);
        }
    }
    if profile.apis.len() > MAX_APIS {
        bound(&mut profile.apis, MAX_APIS, |n| i64::try_from(*n).unwrap_or(i64::MAX));
    }
    bound(&mut state.profiles, MAX_TRACKED, |p| p.last);
}

/// Role session credentials used from a network other than the one they were issued to (the
/// AssumeRole caller's) or first used from.
fn credentials_moved(event: &Json, t: i64, state: &mut State, out: &mut Vec<Detection>) {
    let issuing = s(event, &["eventSource"]) == Some("sts.amazonaws.com");
    if !issuing && s(event, &["userIdentity", "type"]) != Some("AssumedRole") {
        return;
    }
    let Some(ip) = s(event, &["sourceIPAddress"]).and_then(|ip| ip.parse::<IpAddr>().ok()) else { return };
    let place = network(ip);
    // Credentials issued: the caller's network is theirs.
    if issuing && let Some(issued) = s(event, &["responseElements", "credentials", "accessKeyId"]) {
        state.sessions.insert(issued.to_owned(), (place.clone(), t));
    }
    let id = crate::at(event, &["userIdentity"]);
    if s(id, &["type"]) != Some("AssumedRole") || s(id, &["invokedBy"]).is_some() {
        bound(&mut state.sessions, MAX_TRACKED, |(_, last)| *last);
        return;
    }
    let Some(key) = s(id, &["accessKeyId"]).filter(|k| !k.is_empty()) else { return };
    match state.sessions.get_mut(key) {
        Some((home, last)) => {
            *last = t;
            if *home != place {
                out.push(detection(
                    &CREDENTIAL_EXFILTRATION,
                    event,
                    format!("{key}|{place}"),
                    key,
                    key_resource(event),
                    api_call_action(event, None),
                ));
            }
        }
        None => {
            state.sessions.insert(key.to_owned(), (place, t));
        }
    }
    bound(&mut state.sessions, MAX_TRACKED, |(_, last)| *last);
}

/// Whether a `PutBucketLogging` turns logging on (its status has `LoggingEnabled`), in the
/// parameters' model casing or CloudTrail's.
fn logging_on(params: &Json) -> bool {
    let status = params.get("bucketLoggingStatus").or_else(|| params.get("BucketLoggingStatus"));
    status.and_then(|s| s.get("loggingEnabled").or_else(|| s.get("LoggingEnabled"))).is_some_and(|l| !l.is_null())
}

/// Whether Block Public Access was put with any of its four settings off (S3 records the
/// configuration as `publicAccessBlockConfiguration`).
fn block_off(params: &Json) -> bool {
    let conf = params
        .get("publicAccessBlockConfiguration")
        .or_else(|| params.get("PublicAccessBlockConfiguration"))
        .unwrap_or(&Json::Null);
    ["blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets"].iter().any(|k| {
        let upper =
            format!("{}{}", k.get(..1).unwrap_or_default().to_ascii_uppercase(), k.get(1..).unwrap_or_default());
        let v = conf.get(*k).or_else(|| conf.get(upper.as_str()));
        !matches!(v, Some(Json::Bool(true)))
    })
}

/// What a bucket policy put grants the world: `Principal: "*"` (or `{"AWS": "*"}`) allowed with
/// no condition.
fn policy_grant(params: &Json) -> Option<&'static FindingType> {
    let text = params.get("policy").or_else(|| params.get("bucketPolicy"))?;
    let policy: Json = match text {
        Json::String(t) => serde_json::from_str(t).ok()?,
        other => other.clone(),
    };
    let statements = match crate::at(&policy, &["Statement"]) {
        Json::Array(items) => items.clone(),
        one @ Json::Object(_) => vec![one.clone()],
        _ => return None,
    };
    let open = statements.iter().any(|st| {
        let everyone = match crate::at(st, &["Principal"]) {
            Json::String(p) => p == "*",
            Json::Object(m) => match m.get("AWS") {
                Some(Json::String(p)) => p == "*",
                Some(Json::Array(ps)) => ps.iter().any(|p| p == "*"),
                _ => false,
            },
            _ => false,
        };
        crate::at(st, &["Effect"]) == "Allow"
            && everyone
            && st.get("Condition").is_none_or(|c| c.as_object().is_none_or(|m| m.is_empty()))
    });
    open.then_some(&BUCKET_ANONYMOUS_ACCESS)
}

/// What an ACL put grants: a canned ACL or grants to the AllUsers group (anyone) or the
/// AuthenticatedUsers group (any AWS account).
fn acl_grant(params: &Json) -> Option<&'static FindingType> {
    let text = params.to_string();
    let canned = params.get("aCL").or_else(|| params.get("x-amz-acl")).and_then(Json::as_str).unwrap_or_default();
    if text.contains("acs.amazonaws.com/groups/global/AllUsers")
        || matches!(canned, "public-read" | "public-read-write")
    {
        Some(&BUCKET_ANONYMOUS_ACCESS)
    } else if text.contains("acs.amazonaws.com/groups/global/AuthenticatedUsers") || canned == "authenticated-read" {
        Some(&BUCKET_PUBLIC_ACCESS)
    } else {
        None
    }
}

/// Whether a password policy is weaker than the one before it (none before is weakest).
pub fn weakened(before: Option<&Json>, after: Option<&Json>) -> bool {
    let Some(before) = before else { return false };
    let Some(after) = after else { return true };
    let num = |p: &Json, k: &str| p.get(k).and_then(Json::as_i64);
    let flag = |p: &Json, k: &str| p.get(k).and_then(Json::as_bool).unwrap_or(false);
    let shorter = num(after, "minimumPasswordLength").unwrap_or(8) < num(before, "minimumPasswordLength").unwrap_or(8);
    let dropped =
        ["requireSymbols", "requireNumbers", "requireUppercaseCharacters", "requireLowercaseCharacters", "hardExpiry"]
            .iter()
            .any(|k| flag(before, k) && !flag(after, k));
    let reuse =
        num(after, "passwordReusePrevention").unwrap_or(0) < num(before, "passwordReusePrevention").unwrap_or(0);
    // A maximum age of none (0 or absent) never expires passwords: the longest.
    let age = |p: &Json| num(p, "maxPasswordAge").filter(|a| *a > 0).unwrap_or(i64::MAX);
    shorter || dropped || reuse || age(after) > age(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, source: &str, params: Json) -> Json {
        json!({
            "eventVersion": "1.08", "eventTime": "2026-12-04T10:00:00Z", "eventSource": source,
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9",
            "userAgent": "aws-cli/2", "requestParameters": params, "eventType": "AwsApiCall",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/alice",
                             "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "alice"}
        })
    }

    fn types(e: &Json, state: &mut State, lists: &Lists) -> Vec<&'static str> {
        detect(e, 0, state, lists).iter().map(|d| d.kind.name).collect()
    }

    #[test]
    fn each_detection_fires_on_its_event_alone() {
        let none = Lists::default();
        let stop = event("StopLogging", "cloudtrail.amazonaws.com", json!({"name": "main"}));
        assert_eq!(types(&stop, &mut State::default(), &none), ["Stealth:IAMUser/CloudTrailLoggingDisabled"]);
        let mut failed = stop.clone();
        failed["errorCode"] = json!("AccessDenied");
        assert!(types(&failed, &mut State::default(), &none).is_empty());
        assert!(
            types(
                &event("StartLogging", "cloudtrail.amazonaws.com", json!({"name": "main"})),
                &mut State::default(),
                &none
            )
            .is_empty()
        );

        let mut root = event("ListUsers", "iam.amazonaws.com", json!({}));
        root["userIdentity"] = json!({"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root", "accessKeyId": "AKIAROOT"});
        let ds = detect(&root, 0, &mut State::default(), &none);
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].kind.name, "Policy:IAMUser/RootCredentialUsage");
        assert_eq!(ds[0].resource["accessKeyDetails"]["userType"], "Root");
        assert_eq!(ds[0].action["awsApiCallAction"]["remoteIpDetails"]["ipAddressV4"], "203.0.113.9");

        let bpa = event(
            "PutPublicAccessBlock",
            "s3.amazonaws.com",
            json!({"bucketName": "b", "publicAccessBlockConfiguration": {"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": false, "restrictPublicBuckets": true}}),
        );
        assert_eq!(types(&bpa, &mut State::default(), &none), ["Policy:S3/BucketBlockPublicAccessDisabled"]);
        let on = event(
            "PutPublicAccessBlock",
            "s3.amazonaws.com",
            json!({"bucketName": "b", "publicAccessBlockConfiguration": {"blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true, "restrictPublicBuckets": true}}),
        );
        assert!(types(&on, &mut State::default(), &none).is_empty());

        let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let p = event("PutBucketPolicy", "s3.amazonaws.com", json!({"bucketName": "b", "policy": public}));
        assert_eq!(types(&p, &mut State::default(), &none), ["Policy:S3/BucketAnonymousAccessGranted"]);
        let scoped = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
        assert!(
            types(
                &event("PutBucketPolicy", "s3.amazonaws.com", json!({"bucketName": "b", "policy": scoped})),
                &mut State::default(),
                &none
            )
            .is_empty()
        );
        let acl = event("PutBucketAcl", "s3.amazonaws.com", json!({"bucketName": "b", "aCL": "authenticated-read"}));
        assert_eq!(types(&acl, &mut State::default(), &none), ["Policy:S3/BucketPublicAccessGranted"]);
    }

    #[test]
    fn password_policy_weakening_is_against_the_last_one_seen() {
        let none = Lists::default();
        let mut st = State::default();
        let strong = json!({"minimumPasswordLength": 14, "requireSymbols": true, "passwordReusePrevention": 5});
        let first = event("UpdateAccountPasswordPolicy", "iam.amazonaws.com", strong.clone());
        assert!(types(&first, &mut st, &none).is_empty(), "a first policy strengthens");
        let stronger = json!({"minimumPasswordLength": 16, "requireSymbols": true, "passwordReusePrevention": 5});
        assert!(types(&event("UpdateAccountPasswordPolicy", "iam.amazonaws.com", stronger), &mut st, &none).is_empty());
        let weak = json!({"minimumPasswordLength": 16, "requireSymbols": false, "passwordReusePrevention": 5});
        assert_eq!(
            types(&event("UpdateAccountPasswordPolicy", "iam.amazonaws.com", weak), &mut st, &none),
            ["Stealth:IAMUser/PasswordPolicyChange"]
        );
        assert_eq!(
            types(&event("DeleteAccountPasswordPolicy", "iam.amazonaws.com", json!({})), &mut st, &none),
            ["Stealth:IAMUser/PasswordPolicyChange"]
        );
        assert!(
            types(&event("DeleteAccountPasswordPolicy", "iam.amazonaws.com", json!({})), &mut st, &none).is_empty()
        );
    }

    #[test]
    fn threat_lists_name_callers_unless_trusted() {
        let mut st = State::default();
        let list =
            |name: &str, net: &str| IpList { name: name.into(), networks: vec![net.parse().unwrap()], since: Some(10) };
        let mut lists = Lists { threats: vec![list("bad", "203.0.113.0/24")], ..Lists::default() };
        let get = event("GetUser", "iam.amazonaws.com", json!({}));
        assert!(detect(&get, 9, &mut st, &lists).is_empty(), "a list applies from when it was read");
        let ds = detect(&get, 10, &mut st, &lists);
        assert_eq!(ds[0].kind.name, "Recon:IAMUser/MaliciousIPCaller.Custom");
        assert_eq!(ds[0].evidence.as_ref().unwrap()["threatIntelligenceDetails"][0]["threatListName"], "bad");
        assert_eq!(
            detect(&event("CreateUser", "iam.amazonaws.com", json!({})), 11, &mut st, &lists)
                .iter()
                .map(|d| d.kind.name)
                .collect::<Vec<_>>(),
            ["UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"]
        );
        lists.trusted.push(list("office", "203.0.113.9/32"));
        assert!(detect(&get, 12, &mut st, &lists).is_empty());
        // A Tor exit node, from the server's list, unless trusted too.
        let tor = Lists { tor: Some(std::sync::Arc::new(list("tor.txt", "203.0.113.9/32"))), ..Lists::default() };
        let later = |e: &Json, l: &Lists| -> Vec<&'static str> {
            detect(e, 20, &mut State::default(), l).iter().map(|d| d.kind.name).collect()
        };
        assert_eq!(later(&get, &tor), ["Recon:IAMUser/TorIPCaller"]);
        let create = event("CreateUser", "iam.amazonaws.com", json!({}));
        assert_eq!(later(&create, &tor), ["UnauthorizedAccess:IAMUser/TorIPCaller"]);
        let trusted = Lists { trusted: vec![list("office", "203.0.113.9/32")], ..tor };
        assert!(later(&get, &trusted).is_empty());
    }

    fn as_user(name: &str, source: &str, user: &str, at: &str) -> Json {
        let mut e = event(name, source, json!({}));
        e["eventTime"] = json!(at);
        e["userIdentity"]["arn"] = json!(format!("arn:aws:iam::111122223333:user/{user}"));
        e["userIdentity"]["userName"] = json!(user);
        e
    }

    #[test]
    fn a_burst_of_new_discovery_apis_after_the_baseline_is_anomalous() {
        let none = Lists::default();
        let mut st = State::default();
        for _ in 0..LEARN_EVENTS {
            let e = as_user("GetUser", "iam.amazonaws.com", "mallory", "2026-12-04T10:00:00Z");
            assert!(detect(&e, 0, &mut st, &none).is_empty(), "nothing is judged while learning");
        }
        let apis = [
            "ListRoles",
            "ListGroups",
            "ListPolicies",
            "ListBuckets",
            "DescribeTrails",
            "ListUsers",
            "ListAccessKeys",
            "GetAccountSummary",
            "ListInstanceProfiles",
        ];
        for api in apis {
            let e = as_user(api, "iam.amazonaws.com", "mallory", "2026-12-04T10:01:00Z");
            assert!(detect(&e, 0, &mut st, &none).is_empty(), "{api}: fewer than {DISCOVERY_NEW_APIS}");
        }
        // Known APIs do not count toward the burst.
        assert!(
            detect(&as_user("GetUser", "iam.amazonaws.com", "mallory", "2026-12-04T10:01:30Z"), 0, &mut st, &none)
                .is_empty()
        );
        let tenth = as_user("ListServerCertificates", "iam.amazonaws.com", "mallory", "2026-12-04T10:02:00Z");
        let ds = detect(&tenth, 0, &mut st, &none);
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].kind.name, "Discovery:IAMUser/AnomalousBehavior");
        let unusual = &ds[0].detection.as_ref().unwrap()["anomaly"]["unusual"]["behavior"]["arn:aws:iam::111122223333:user/mallory"]
            ["api"];
        assert_eq!(unusual["profileSubtype"], "UNSEEN");
        assert_eq!(unusual["observations"]["text"].as_array().unwrap().len(), DISCOVERY_NEW_APIS);

        // New APIs spread out over more than the window are not a burst.
        let mut slow = State::default();
        for _ in 0..LEARN_EVENTS {
            detect(&as_user("GetUser", "iam.amazonaws.com", "ana", "2026-12-04T10:00:00Z"), 0, &mut slow, &none);
        }
        for (i, api) in apis.iter().chain(["ListServerCertificates", "ListMFADevices"].iter()).enumerate() {
            let at = format!("2026-12-04T{:02}:00:00Z", 11 + i);
            assert!(detect(&as_user(api, "iam.amazonaws.com", "ana", &at), 0, &mut slow, &none).is_empty());
        }
    }

    #[test]
    fn granting_oneself_admin_after_the_baseline_is_privilege_escalation() {
        let none = Lists::default();
        let mut st = State::default();
        for _ in 0..LEARN_EVENTS {
            detect(&as_user("GetUser", "iam.amazonaws.com", "mallory", "2026-12-04T10:00:00Z"), 0, &mut st, &none);
        }
        let mut grant = as_user("AttachUserPolicy", "iam.amazonaws.com", "mallory", "2026-12-04T10:05:00Z");
        grant["requestParameters"] =
            json!({"userName": "mallory", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"});
        let ds = detect(&grant, 0, &mut st, &none);
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].kind.name, "PrivilegeEscalation:IAMUser/AnomalousBehavior");
        assert!(ds[0].description.contains("AdministratorAccess to itself"), "{}", ds[0].description);
        // Once known, the API is part of the profile.
        assert!(detect(&grant, 0, &mut st, &none).is_empty());
        // Within the baseline nothing is judged.
        let mut young = State::default();
        assert!(detect(&grant, 0, &mut young, &none).is_empty());
    }

    #[test]
    fn only_a_logging_status_without_logging_enabled_turns_logging_off() {
        let none = Lists::default();
        let put = |params: Json| event("PutBucketLogging", "s3.amazonaws.com", params);
        let mut st = State::default();
        for off in [
            json!({"bucketName": "b", "bucketLoggingStatus": {}}),
            json!({"bucketName": "b", "BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}}),
            json!({"bucketName": "b"}),
        ] {
            assert_eq!(types(&put(off.clone()), &mut st, &none), ["Stealth:S3/ServerAccessLoggingDisabled"], "{off}");
        }
        for on in [
            json!({"bucketName": "b", "bucketLoggingStatus": {"loggingEnabled": {"targetBucket": "logs"}}}),
            json!({"bucketName": "b", "BucketLoggingStatus": {"LoggingEnabled": {"TargetBucket": "logs"}}}),
        ] {
            assert!(types(&put(on.clone()), &mut st, &none).is_empty(), "{on}");
        }
    }

    #[test]
    fn thresholds_are_tuned_by_name_and_hold_the_detections_to_them() {
        let t = Tuning::parse("brute_force_failures=2, sign_in_window_secs=60").unwrap();
        assert_eq!((t.brute_force_failures, t.sign_in_window_secs), (2, 60));
        assert_eq!(t.learn_events, LEARN_EVENTS, "the others keep their defaults");
        assert!(Tuning::parse("brute_force_failure=2").unwrap_err().contains("unknown field"));
        assert!(Tuning::parse("learn_events=0").unwrap_err().contains("learn_events"));
        assert!(Tuning::parse("learn_events=-1").is_err());
        assert!(Tuning::parse("learn_events").is_err());
        assert_eq!(Tuning::parse("").unwrap(), Tuning::default());
        // Two failures and a success within a minute: a brute force at these thresholds only.
        let attempt = |ok: bool, at: &str| {
            json!({
                "eventTime": at, "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                "eventType": "AwsConsoleSignIn", "sourceIPAddress": "198.51.100.7", "awsRegion": "us-east-1",
                "responseElements": {"ConsoleLogin": if ok { "Success" } else { "Failure" }},
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob", "principalId": "AIDABOB"},
            })
        };
        for (lists, expect) in [(Lists::default(), 0), (Lists { tuning: t, ..Lists::default() }, 1)] {
            let mut st = State::default();
            detect(&attempt(false, "2026-12-04T10:00:00Z"), 0, &mut st, &lists);
            detect(&attempt(false, "2026-12-04T10:00:10Z"), 0, &mut st, &lists);
            let found = types(&attempt(true, "2026-12-04T10:00:20Z"), &mut st, &lists);
            assert_eq!(found.iter().filter(|k| **k == "CredentialAccess:IAMUser/AnomalousBehavior").count(), expect);
        }
    }

    #[test]
    fn a_sign_in_after_a_burst_of_failures_is_a_brute_force_and_a_new_network_is_unusual() {
        let none = Lists::default();
        let mut st = State::default();
        let attempt = |ok: bool, ip: &str, at: &str| {
            json!({
                "eventTime": at, "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                "eventType": "AwsConsoleSignIn", "sourceIPAddress": ip, "awsRegion": "us-east-1",
                "responseElements": {"ConsoleLogin": if ok { "Success" } else { "Failure" }},
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob", "userName": "bob", "principalId": "AIDABOB"},
            })
        };
        assert!(
            detect(&attempt(true, "198.51.100.7", "2026-12-04T09:00:00Z"), 0, &mut st, &none).is_empty(),
            "a first place is the baseline"
        );
        for _ in 0..BRUTE_FORCE_FAILURES - 1 {
            assert!(detect(&attempt(false, "198.51.100.7", "2026-12-04T10:00:00Z"), 0, &mut st, &none).is_empty());
        }
        assert!(
            types(&attempt(true, "198.51.100.7", "2026-12-04T10:01:00Z"), &mut st, &none).is_empty(),
            "too few failures"
        );
        for _ in 0..BRUTE_FORCE_FAILURES {
            detect(&attempt(false, "198.51.100.7", "2026-12-04T10:02:00Z"), 0, &mut st, &none);
        }
        assert_eq!(
            types(&attempt(true, "198.51.100.7", "2026-12-04T10:03:00Z"), &mut st, &none),
            ["CredentialAccess:IAMUser/AnomalousBehavior"]
        );
        // Failures older than the window do not count.
        for _ in 0..BRUTE_FORCE_FAILURES {
            detect(&attempt(false, "198.51.100.7", "2026-12-04T11:00:00Z"), 0, &mut st, &none);
        }
        assert!(types(&attempt(true, "198.51.100.7", "2026-12-04T11:30:00Z"), &mut st, &none).is_empty());
        assert_eq!(
            types(&attempt(true, "203.0.113.50", "2026-12-04T12:00:00Z"), &mut st, &none),
            ["UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B"]
        );
        assert!(types(&attempt(true, "203.0.113.51", "2026-12-04T12:01:00Z"), &mut st, &none).is_empty(), "same /24");
    }

    #[test]
    fn state_stays_bounded() {
        let none = Lists::default();
        let mut st = State::default();
        for i in 0..(MAX_TRACKED + 50) {
            let e = as_user("GetUser", "iam.amazonaws.com", &format!("u{i}"), "2026-12-04T10:00:00Z");
            detect(&e, 0, &mut st, &none);
            let mut fail = e.clone();
            fail["eventType"] = json!("AwsConsoleSignIn");
            fail["eventName"] = json!("ConsoleLogin");
            fail["sourceIPAddress"] = json!(format!("10.{}.{}.1", i / 256, i % 256));
            fail["responseElements"] = json!({"ConsoleLogin": "Failure"});
            detect(&fail, 0, &mut st, &none);
        }
        assert!(st.profiles.len() <= MAX_TRACKED);
        assert!(st.failures.len() <= MAX_TRACKED);
    }

    #[test]
    fn session_credentials_used_from_another_network_are_exfiltrated() {
        let none = Lists::default();
        let mut st = State::default();
        let mut issue =
            event("AssumeRole", "sts.amazonaws.com", json!({"roleArn": "arn:aws:iam::111122223333:role/app"}));
        issue["responseElements"] = json!({"credentials": {"accessKeyId": "ASIASESSION"}});
        assert!(types(&issue, &mut st, &none).is_empty());
        let use_from = |ip: &str| {
            let mut e = event("ListBuckets", "s3.amazonaws.com", json!({}));
            e["sourceIPAddress"] = json!(ip);
            e["userIdentity"] = json!({"type": "AssumedRole", "accessKeyId": "ASIASESSION",
                "arn": "arn:aws:sts::111122223333:assumed-role/app/s1",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/app", "userName": "app"}}});
            e
        };
        assert!(types(&use_from("203.0.113.77"), &mut st, &none).is_empty(), "the network it was issued to");
        let ds = detect(&use_from("198.51.100.3"), 0, &mut st, &none);
        assert_eq!(ds[0].kind.name, "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS");
        assert_eq!(ds[0].resource["accessKeyDetails"]["userType"], "AssumedRole");
    }

    #[test]
    fn findings_of_three_kinds_by_one_principal_are_an_attack_sequence() {
        let none = Lists::default();
        let mut st = State::default();
        let stop = event("StopLogging", "cloudtrail.amazonaws.com", json!({"name": "main"}));
        assert_eq!(types(&stop, &mut st, &none), ["Stealth:IAMUser/CloudTrailLoggingDisabled"]);
        let bpa = event("DeletePublicAccessBlock", "s3.amazonaws.com", json!({"bucketName": "b"}));
        assert_eq!(types(&bpa, &mut st, &none), ["Policy:S3/BucketBlockPublicAccessDisabled"]);
        // Another principal's finding is not part of alice's story.
        let mut other = event("DeletePublicAccessBlock", "s3.amazonaws.com", json!({"bucketName": "c"}));
        other["userIdentity"]["arn"] = json!("arn:aws:iam::111122223333:user/bob");
        let public = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
        let mut bob_policy = event("PutBucketPolicy", "s3.amazonaws.com", json!({"bucketName": "c", "policy": public}));
        bob_policy["userIdentity"]["arn"] = json!("arn:aws:iam::111122223333:user/bob");
        types(&other, &mut st, &none);
        types(&bob_policy, &mut st, &none);
        let open = event("PutBucketPolicy", "s3.amazonaws.com", json!({"bucketName": "b", "policy": public}));
        let ds = detect(&open, 0, &mut st, &none);
        let names: Vec<&str> = ds.iter().map(|d| d.kind.name).collect();
        assert_eq!(names, ["Policy:S3/BucketAnonymousAccessGranted", "AttackSequence:IAM/CompromisedCredentials"]);
        assert_eq!(ds[1].signals.len(), 3);
        assert_eq!(ds[1].key, "arn:aws:iam::111122223333:user/alice");
        // A day later the old signals are forgotten.
        let mut late = stop.clone();
        late["eventTime"] = json!("2026-12-06T10:00:00Z");
        assert_eq!(types(&late, &mut st, &none), ["Stealth:IAMUser/CloudTrailLoggingDisabled"]);
    }

    #[test]
    fn a_burst_of_failures_by_a_principal_that_seldom_fails_is_unusual() {
        let none = Lists::default();
        let mut st = State::default();
        for _ in 0..LEARN_EVENTS {
            detect(&as_user("GetUser", "iam.amazonaws.com", "eve", "2026-12-04T10:00:00Z"), 0, &mut st, &none);
        }
        let mut denied = as_user("ListBuckets", "s3.amazonaws.com", "eve", "2026-12-04T10:01:00Z");
        denied["errorCode"] = json!("AccessDenied");
        for _ in 0..ERROR_BURST - 1 {
            assert!(detect(&denied, 0, &mut st, &none).is_empty());
        }
        let ds = detect(&denied, 0, &mut st, &none);
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].kind.name, "Discovery:IAMUser/AnomalousBehavior");
        assert!(ds[0].description.contains("10 failed calls"), "{}", ds[0].description);
        let behavior =
            &ds[0].detection.as_ref().unwrap()["anomaly"]["unusual"]["behavior"]["arn:aws:iam::111122223333:user/eve"];
        assert_eq!(behavior["api"]["observations"]["text"][0], "ListBuckets (AccessDenied)");
        // A principal whose calls often fail is not unusual for failing.
        let mut flaky = State::default();
        for i in 0..LEARN_EVENTS {
            let mut e = as_user("GetUser", "iam.amazonaws.com", "bot", "2026-12-04T09:00:00Z");
            if i % 2 == 0 {
                e["errorCode"] = json!("NoSuchEntity");
            }
            detect(&e, 0, &mut flaky, &none);
        }
        let mut bot_denied = denied.clone();
        bot_denied["userIdentity"]["arn"] = json!("arn:aws:iam::111122223333:user/bot");
        for _ in 0..ERROR_BURST * 2 {
            assert!(detect(&bot_denied, 0, &mut flaky, &none).is_empty());
        }
    }

    #[test]
    fn anomalies_say_which_network_and_user_agent_are_new() {
        let none = Lists::default();
        let mut st = State::default();
        for _ in 0..LEARN_EVENTS {
            detect(&as_user("GetUser", "iam.amazonaws.com", "mallory", "2026-12-04T10:00:00Z"), 0, &mut st, &none);
        }
        let mut grant = as_user("AttachUserPolicy", "iam.amazonaws.com", "mallory", "2026-12-04T10:05:00Z");
        grant["sourceIPAddress"] = json!("198.51.100.77");
        grant["userAgent"] = json!("python-requests/2.31");
        let ds = detect(&grant, 0, &mut st, &none);
        let who = "arn:aws:iam::111122223333:user/mallory";
        let anomaly = &ds[0].detection.as_ref().unwrap()["anomaly"];
        assert_eq!(anomaly["unusual"]["behavior"][who]["network"]["observations"]["text"][0], "198.51.100.0/24");
        assert_eq!(anomaly["unusual"]["behavior"][who]["userAgent"]["observations"]["text"][0], "python-requests/2.31");
        assert_eq!(anomaly["profiles"][who]["network"][0]["observations"]["text"][0], "203.0.113.0/24");
        assert_eq!(anomaly["profiles"][who]["userAgent"][0]["observations"]["text"][0], "aws-cli/2");
        assert_eq!(net_text(net_key("2001:db8:1:2::9".parse().unwrap())), "2001:db8:1::/48");
    }

    #[test]
    fn the_catalog_names_each_type_once() {
        for t in TYPES {
            assert!(std::ptr::eq(finding_type(t.name).unwrap(), *t));
        }
    }
}
