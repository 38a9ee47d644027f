//! Listeners: a port on a load balancer and what it does with each request (forward to target
//! groups, answer a fixed response, redirect). The server serves every listener recorded here.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::elbv2 as shapes;
use rampart_store::Tx;

use super::attributes::{self, LISTENER};
use super::{Kind, Record, error, listener_not_found, validation};

/// A load balancer may have 50 listeners.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html>.
const MAX_LISTENERS: usize = 50;

/// The caller's listener an ARN names.
pub(crate) fn listener(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<Record, ServiceError> {
    super::find(get, account, arn, Kind::Listener)?.ok_or_else(listener_not_found)
}

/// The security policy an HTTPS listener gets when it names none, as AWS gives one created
/// through the API.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html>.
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-2016-08";

const TLS_1_0_UP: &[&str] = &["TLSv1", "TLSv1.1", "TLSv1.2"];
const TLS_1_1_UP: &[&str] = &["TLSv1.1", "TLSv1.2"];
const TLS_1_2: &[&str] = &["TLSv1.2"];
const TLS13_1_0_UP: &[&str] = &["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
const TLS13_1_1_UP: &[&str] = &["TLSv1.1", "TLSv1.2", "TLSv1.3"];
const TLS13_1_2_UP: &[&str] = &["TLSv1.2", "TLSv1.3"];
const TLS13_ONLY: &[&str] = &["TLSv1.3"];

/// The predefined security policies of Application Load Balancers and the TLS versions each
/// admits (ALBs take no custom policies).
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html>.
const SSL_POLICIES: &[(&str, &[&str])] = &[
    ("ELBSecurityPolicy-TLS13-1-2-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-3-PQ-2025-09", TLS13_ONLY),
    ("ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09", TLS13_ONLY),
    ("ELBSecurityPolicy-TLS13-1-2-2021-06", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-1-2021-06", TLS13_1_1_UP),
    ("ELBSecurityPolicy-TLS13-1-0-2021-06", TLS13_1_0_UP),
    ("ELBSecurityPolicy-TLS13-1-3-2021-06", TLS13_ONLY),
    ("ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04", TLS13_1_2_UP),
    ("ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04", TLS13_1_1_UP),
    ("ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04", TLS13_1_0_UP),
    ("ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", TLS13_ONLY),
    ("ELBSecurityPolicy-FS-1-2-Res-2020-10", TLS_1_2),
    ("ELBSecurityPolicy-FS-1-2-Res-2019-08", TLS_1_2),
    ("ELBSecurityPolicy-FS-1-2-2019-08", TLS_1_2),
    ("ELBSecurityPolicy-FS-1-1-2019-08", TLS_1_1_UP),
    ("ELBSecurityPolicy-FS-2018-06", TLS_1_0_UP),
    ("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", TLS_1_2),
    ("ELBSecurityPolicy-TLS-1-2-2017-01", TLS_1_2),
    ("ELBSecurityPolicy-TLS-1-1-2017-01", TLS_1_1_UP),
    ("ELBSecurityPolicy-2016-08", TLS_1_0_UP),
    ("ELBSecurityPolicy-TLS-1-0-2015-04", TLS_1_0_UP),
    ("ELBSecurityPolicy-2015-05", TLS_1_0_UP),
];

/// The TLS versions a security policy admits, as AWS names them (`TLSv1.2`); `None` for a name
/// that is no policy.
pub fn ssl_policy_protocols(name: &str) -> Option<&'static [&'static str]> {
    SSL_POLICIES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

/// The ciphers Rampart's TLS (rustls) negotiates for each TLS version, as AWS names them, in the
/// order it prefers them: forward-secret AEAD suites only.
pub const TLS13_CIPHERS: &[&str] =
    &["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];
pub const TLS12_CIPHERS: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
];

/// The ciphers a listener under `policy` negotiates, in order: those of the versions it admits.
pub fn ssl_policy_ciphers(policy: &str) -> Vec<&'static str> {
    let versions = ssl_policy_protocols(policy).unwrap_or_default();
    let mut out = Vec::new();
    if versions.contains(&"TLSv1.3") {
        out.extend_from_slice(TLS13_CIPHERS);
    }
    if versions.contains(&"TLSv1.2") {
        out.extend_from_slice(TLS12_CIPHERS);
    }
    out
}

/// The security policies, by name or all of them: each with the TLS versions AWS gives it, and
/// the ciphers Rampart negotiates under it (a subset of AWS's list for the policy: rustls has no
/// CBC or RSA key-exchange suites).
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeSSLPolicies.html>.
pub fn describe_ssl_policies(
    _ctx: &Ctx<'_>,
    input: shapes::DescribeSSLPoliciesInput,
) -> Result<shapes::DescribeSSLPoliciesOutput, ServiceError> {
    if input.load_balancer_type.as_deref().is_some_and(|t| t != "application") {
        return Ok(shapes::DescribeSSLPoliciesOutput { ssl_policies: Some(Vec::new()), next_marker: None });
    }
    let names: Vec<&str> = match &input.names {
        Some(names) if !names.is_empty() => {
            if let Some(missing) = names.iter().find(|n| ssl_policy_protocols(n).is_none()) {
                return Err(error("SSLPolicyNotFound", format!("SSL policy '{missing}' not found")));
            }
            SSL_POLICIES.iter().map(|(n, _)| *n).filter(|n| names.iter().any(|m| m == n)).collect()
        }
        _ => SSL_POLICIES.iter().map(|(n, _)| *n).collect(),
    };
    let policies: Vec<shapes::SslPolicy> = names
        .into_iter()
        .map(|name| shapes::SslPolicy {
            ssl_protocols: Some(
                ssl_policy_protocols(name).unwrap_or_default().iter().map(|p| (*p).to_owned()).collect(),
            ),
            ciphers: Some(
                ssl_policy_ciphers(name)
                    .into_iter()
                    .zip(1..)
                    .map(|(c, priority)| shapes::Cipher { name: Some(c.to_owned()), priority: Some(priority) })
                    .collect(),
            ),
            name: Some(name.to_owned()),
            supported_load_balancer_types: Some(vec!["application".to_owned()]),
        })
        .collect();
    let (page, next) = super::page(policies, input.marker.as_deref(), input.page_size)?;
    Ok(shapes::DescribeSSLPoliciesOutput { ssl_policies: Some(page), next_marker: next })
}

/// Certificates an HTTPS listener may hold besides its default one.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html>.
const MAX_LISTENER_CERTIFICATES: usize = 25;

/// Adds certificates to an HTTPS listener's list, for clients that ask for their names (SNI).
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AddListenerCertificates.html>.
pub fn add_listener_certificates(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AddListenerCertificatesInput,
) -> Result<shapes::AddListenerCertificatesOutput, ServiceError> {
    let mut record = listener(&records::tx_reader(tx), &ctx.principal.account_id, &input.listener_arn)?;
    let body: shapes::Listener = record.body()?;
    if body.protocol.as_deref() != Some("HTTPS") {
        return Err(validation("Certificates can only be added to HTTPS listeners"));
    }
    if input.certificates.iter().any(|c| c.is_default.is_some()) {
        return Err(validation("IsDefault cannot be set on a certificate added to a listener"));
    }
    for arn in input.certificates.iter().filter_map(|c| c.certificate_arn.clone()) {
        if !record.certificates.contains(&arn) {
            record.certificates.push(arn);
        }
    }
    if record.certificates.len() > MAX_LISTENER_CERTIFICATES {
        return Err(error(
            "TooManyCertificates",
            format!("A listener can have at most {MAX_LISTENER_CERTIFICATES} certificates besides its default one"),
        ));
    }
    super::save(tx, &record)?;
    Ok(shapes::AddListenerCertificatesOutput { certificates: Some(listed(&record.certificates, false)) })
}

/// The ARN of an HTTPS listener's default certificate (none for HTTP).
pub fn default_certificate(body: &shapes::Listener) -> Option<&str> {
    body.certificates.iter().flatten().find_map(|c| c.certificate_arn.as_deref())
}

fn listed(arns: &[String], default: bool) -> Vec<shapes::Certificate> {
    arns.iter().map(|a| shapes::Certificate { certificate_arn: Some(a.clone()), is_default: Some(default) }).collect()
}

/// An HTTPS listener's certificates: its default one (`IsDefault`), then those added to it.
pub fn describe_listener_certificates(
    ctx: &Ctx<'_>,
    input: shapes::DescribeListenerCertificatesInput,
) -> Result<shapes::DescribeListenerCertificatesOutput, ServiceError> {
    let record = listener(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.listener_arn)?;
    let body: shapes::Listener = record.body()?;
    let default: Vec<String> = default_certificate(&body).map(str::to_owned).into_iter().collect();
    let mut all = listed(&default, true);
    all.extend(listed(&record.certificates, false));
    let (page, next) = super::page(all, input.marker.as_deref(), input.page_size)?;
    Ok(shapes::DescribeListenerCertificatesOutput { certificates: Some(page), next_marker: next })
}

/// Takes certificates off an HTTPS listener's list; its default certificate stays.
pub fn remove_listener_certificates(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RemoveListenerCertificatesInput,
) -> Result<shapes::RemoveListenerCertificatesOutput, ServiceError> {
    let mut record = listener(&records::tx_reader(tx), &ctx.principal.account_id, &input.listener_arn)?;
    let body: shapes::Listener = record.body()?;
    let default = default_certificate(&body);
    for c in &input.certificates {
        let Some(arn) = &c.certificate_arn else { continue };
        if c.is_default == Some(true) || (default == Some(arn.as_str()) && !record.certificates.contains(arn)) {
            return Err(error("OperationNotPermitted", "The default certificate of a listener cannot be removed"));
        }
        record.certificates.retain(|a| a != arn);
    }
    super::save(tx, &record)?;
    Ok(shapes::RemoveListenerCertificatesOutput {})
}

/// IAM's answer to whether a certificate ARN names one of the caller's server certificates
/// (`rampart_iam::iam::server_certificate_exists`, which the server hands in).
pub type CertificateExists = fn(&Ctx<'_>, &str) -> Result<bool, ServiceError>;

/// The load balancer of the caller's account, in any Region, one of whose listeners names the
/// certificate `arn` (as its default one or besides it): IAM refuses to delete a certificate in
/// use (`rampart_iam::iam::prepare_delete_server_certificate`, which the server hands this to).
pub fn balancer_using_certificate(ctx: &Ctx<'_>, arn: &str) -> Result<Option<String>, ServiceError> {
    let prefix = format!("elb/{}/", ctx.principal.account_id).into_bytes();
    for (k, v) in ctx.db.scan_prefix(&prefix, None, usize::MAX >> 1, false)? {
        if !String::from_utf8_lossy(&k).contains("/listener/") {
            continue;
        }
        let record: Record = records::decode(&k, &v)?;
        let body: shapes::Listener = record.body()?;
        if default_certificate(&body) == Some(arn) || record.certificates.iter().any(|c| c == arn) {
            return Ok(body.load_balancer_arn);
        }
    }
    Ok(None)
}

/// Checks that every certificate a listener names exists: a server certificate of the caller's
/// account (Rampart has no ACM). Runs before the listener's transaction.
fn check_certificates(
    ctx: &Ctx<'_>,
    certificates: Option<&Vec<shapes::Certificate>>,
    exists: CertificateExists,
) -> Result<(), ServiceError> {
    for arn in certificates.into_iter().flatten().filter_map(|c| c.certificate_arn.as_deref()) {
        if !exists(ctx, arn)? {
            return Err(error("CertificateNotFound", format!("Certificate '{arn}' not found")));
        }
    }
    Ok(())
}

/// A request that names listener certificates: CreateListener, ModifyListener,
/// AddListenerCertificates.
pub trait NamesCertificates {
    fn certificates(&self) -> Option<&Vec<shapes::Certificate>>;
}

impl NamesCertificates for shapes::CreateListenerInput {
    fn certificates(&self) -> Option<&Vec<shapes::Certificate>> {
        self.certificates.as_ref()
    }
}

impl NamesCertificates for shapes::ModifyListenerInput {
    fn certificates(&self) -> Option<&Vec<shapes::Certificate>> {
        self.certificates.as_ref()
    }
}

impl NamesCertificates for shapes::AddListenerCertificatesInput {
    fn certificates(&self) -> Option<&Vec<shapes::Certificate>> {
        Some(&self.certificates)
    }
}

/// The first step of a request naming listener certificates: they exist.
pub fn prepare_listener_certificates<I: NamesCertificates>(
    ctx: &Ctx<'_>,
    input: I,
    exists: CertificateExists,
) -> Result<I, ServiceError> {
    check_certificates(ctx, input.certificates(), exists)?;
    Ok(input)
}

/// An HTTPS listener's default certificate and security policy, checked (an HTTP listener has
/// neither): exactly one certificate, and a predefined policy, [`DEFAULT_SSL_POLICY`] when none
/// is named.
fn tls_of(
    protocol: Option<&str>,
    certificates: Option<Vec<shapes::Certificate>>,
    policy: Option<String>,
) -> Result<(Option<Vec<shapes::Certificate>>, Option<String>), ServiceError> {
    if protocol != Some("HTTPS") {
        return Ok((None, None));
    }
    let arns: Vec<String> = certificates.into_iter().flatten().filter_map(|c| c.certificate_arn).collect();
    let [arn] = arns.as_slice() else {
        return Err(match arns.len() {
            0 => validation("A certificate must be specified for HTTPS listeners"),
            _ => validation("An HTTPS listener takes exactly one default certificate"),
        });
    };
    let policy = policy.unwrap_or_else(|| DEFAULT_SSL_POLICY.to_owned());
    if ssl_policy_protocols(&policy).is_none() {
        return Err(error("SSLPolicyNotFound", format!("SSL policy '{policy}' not found")));
    }
    let default = shapes::Certificate { certificate_arn: Some(arn.clone()), is_default: None };
    Ok((Some(vec![default]), Some(policy)))
}

/// Checks a listener's protocol and port: Rampart serves HTTP and HTTPS listeners.
fn check_listen(protocol: Option<&str>, port: Option<i32>) -> Result<(), ServiceError> {
    match protocol {
        Some("HTTP" | "HTTPS") => {}
        None => return Err(validation("A listener protocol must be specified")),
        Some(other) => {
            return Err(error(
                "UnsupportedProtocol",
                format!("Protocol '{other}' is not supported by application load balancers"),
            ));
        }
    }
    match port {
        Some(p) if (1..=65535).contains(&p) => Ok(()),
        Some(p) => Err(validation(format!("Port {p} is not valid: a listener's port is between 1 and 65535"))),
        None => Err(validation("A listener port must be specified")),
    }
}

/// Checks a listener's actions and writes them as AWS answers them: one terminal action, last
/// in order; forwards to the caller's target groups, each named in a `ForwardConfig`.
pub(crate) fn actions(
    get: &records::Reader<'_>,
    account: &str,
    mut actions: Vec<shapes::Action>,
) -> Result<Vec<shapes::Action>, ServiceError> {
    let invalid = |m: String| error("InvalidLoadBalancerAction", m);
    if actions.iter().filter(|a| super::routing::terminal(&a.r#type)).count() != 1 {
        return Err(invalid(
            "A listener's actions must include exactly one forward, fixed-response or redirect action".into(),
        ));
    }
    let mut orders = Vec::new();
    for a in &mut actions {
        if let Some(order) = a.order {
            if orders.contains(&order) {
                return Err(validation(format!("Action order '{order}' is used more than once")));
            }
            orders.push(order);
        }
        match a.r#type.as_str() {
            "forward" => {
                let groups: Vec<(String, u32)> = match (&a.target_group_arn, &a.forward_config) {
                    (_, Some(f)) if f.target_groups.as_ref().is_some_and(|g| !g.is_empty()) => f
                        .target_groups
                        .iter()
                        .flatten()
                        .map(|g| {
                            (
                                g.target_group_arn.clone().unwrap_or_default(),
                                u32::try_from(g.weight.unwrap_or(1)).unwrap_or(0),
                            )
                        })
                        .collect(),
                    (Some(arn), _) => vec![(arn.clone(), 1)],
                    _ => return Err(invalid("A forward action must name a target group".into())),
                };
                if groups.len() > 5 {
                    return Err(invalid("A forward action can name at most 5 target groups".into()));
                }
                if let Some(arn) = &a.target_group_arn
                    && !matches!(groups.as_slice(), [(only, _)] if only == arn)
                {
                    return Err(invalid(format!(
                        "Target group '{arn}' must be the forward configuration's only target group"
                    )));
                }
                if groups.iter().all(|(_, w)| *w == 0) || groups.iter().any(|(_, w)| *w > 999) {
                    return Err(invalid("Target group weights must be from 0 to 999, and not all 0".into()));
                }
                for (arn, _) in &groups {
                    super::groups::group(get, account, arn)?;
                }
                if let [(only, _)] = groups.as_slice() {
                    a.target_group_arn = Some(only.clone());
                }
                let stickiness =
                    a.forward_config.as_ref().and_then(|f| f.target_group_stickiness_config.clone()).unwrap_or(
                        shapes::TargetGroupStickinessConfig { enabled: Some(false), duration_seconds: None },
                    );
                a.forward_config = Some(shapes::ForwardActionConfig {
                    target_groups: Some(
                        groups
                            .into_iter()
                            .map(|(arn, w)| shapes::TargetGroupTuple {
                                target_group_arn: Some(arn),
                                weight: i32::try_from(w).ok(),
                            })
                            .collect(),
                    ),
                    target_group_stickiness_config: Some(stickiness),
                });
            }
            "fixed-response" => {
                let Some(f) = &a.fixed_response_config else {
                    return Err(invalid("A fixed-response action needs a FixedResponseConfig".into()));
                };
                if f.message_body.as_ref().is_some_and(|b| b.len() > 1024) {
                    return Err(validation("A fixed response's message body can be at most 1024 characters"));
                }
            }
            "redirect" => {
                if a.redirect_config.is_none() {
                    return Err(invalid("A redirect action needs a RedirectConfig".into()));
                }
            }
            other => {
                return Err(invalid(format!(
                    "Rampart does not serve '{other}' actions; a listener can forward, answer a fixed response or redirect"
                )));
            }
        }
    }
    Ok(actions)
}

/// Whether any load balancer's listener, of any account, takes a port: all of Rampart's
/// listeners share the server's listener address.
fn port_taken(tx: &Tx<'_>, port: i32, except: Option<&str>) -> Result<bool, ServiceError> {
    for (k, v) in tx.scan_prefix(b"elb/", None, usize::MAX >> 1, false)? {
        if !String::from_utf8_lossy(&k).contains("/listener/") {
            continue;
        }
        let record: Record = records::decode(&k, &v)?;
        if Some(record.arn.as_str()) != except && record.body::<shapes::Listener>()?.port == Some(port) {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn create_listener(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateListenerInput,
) -> Result<shapes::CreateListenerOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let lb = super::balancers::balancer(&records::tx_reader(tx), account, &input.load_balancer_arn)?;
    if lb.configured.is_some() {
        return Err(error(
            "OperationNotPermitted",
            format!("Load balancer '{}' is defined by the server's configuration, with its listener", lb.arn),
        ));
    }
    check_listen(input.protocol.as_deref(), input.port)?;
    let (certificates, ssl_policy) = tls_of(input.protocol.as_deref(), input.certificates, input.ssl_policy)?;
    let default_actions = actions(&records::tx_reader(tx), account, input.default_actions)?;
    let prefix = super::listeners_prefix(&lb.arn).ok_or_else(ServiceError::internal)?;
    let existing = super::scan_tx(tx, &prefix)?;
    for l in &existing {
        let body: shapes::Listener = l.body()?;
        if body.port == input.port {
            if body.protocol == input.protocol
                && body.default_actions.as_ref() == Some(&default_actions)
                && body.certificates == certificates
                && body.ssl_policy == ssl_policy
            {
                return Ok(shapes::CreateListenerOutput { listeners: Some(vec![body]) });
            }
            return Err(error("DuplicateListener", "A listener already exists on this port for this load balancer"));
        }
    }
    if existing.len() >= MAX_LISTENERS {
        return Err(error("TooManyListeners", "You've reached the limit on the number of listeners per load balancer"));
    }
    let port = input.port.unwrap_or_default();
    if port_taken(tx, port, None)? {
        return Err(error(
            "InvalidConfigurationRequest",
            format!("Port {port} is already served by another load balancer's listener on this Rampart server"),
        ));
    }
    let mut tags = Vec::new();
    super::merge_tags(&mut tags, input.tags.unwrap_or_default())?;
    let id = super::new_id()?;
    let tail = lb.arn.rsplit_once(":loadbalancer/").map(|(_, t)| t).unwrap_or_default();
    let arn = format!("arn:aws:elasticloadbalancing:{}:{account}:listener/{tail}/{id}", ctx.region);
    let body = shapes::Listener {
        listener_arn: Some(arn.clone()),
        load_balancer_arn: Some(lb.arn),
        port: input.port,
        protocol: input.protocol,
        default_actions: Some(default_actions),
        certificates,
        ssl_policy,
        ..Default::default()
    };
    super::save(tx, &Record::new(arn, body.clone(), tags))?;
    Ok(shapes::CreateListenerOutput { listeners: Some(vec![body]) })
}

pub fn delete_listener(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteListenerInput,
) -> Result<shapes::DeleteListenerOutput, ServiceError> {
    let record = listener(&records::tx_reader(tx), &ctx.principal.account_id, &input.listener_arn)?;
    super::remove(tx, &record.arn)?;
    if let Some(lb) = record.body::<shapes::Listener>()?.load_balancer_arn {
        super::health::set_listener_status(tx, (&lb, &record.arn), None)?;
    }
    Ok(shapes::DeleteListenerOutput {})
}

pub fn describe_listeners(
    ctx: &Ctx<'_>,
    input: shapes::DescribeListenersInput,
) -> Result<shapes::DescribeListenersOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let get = records::cached_reader(ctx.db);
    let found: Vec<Record> = match (&input.load_balancer_arn, &input.listener_arns) {
        (Some(_), Some(_)) => {
            return Err(validation("Listener ARNs and a load balancer ARN cannot be specified together"));
        }
        (None, None) => return Err(validation("You must specify either listener ARNs or a load balancer ARN")),
        (None, Some(arns)) => arns.iter().map(|arn| listener(&get, account, arn)).collect::<Result<_, _>>()?,
        (Some(lb), None) => {
            let lb = super::balancers::balancer(&get, account, lb)?;
            let prefix = super::listeners_prefix(&lb.arn).ok_or_else(super::balancer_not_found)?;
            records::scan_records(ctx.db, &prefix)?
        }
    };
    let mut bodies = found.iter().map(Record::body).collect::<Result<Vec<shapes::Listener>, _>>()?;
    bodies.sort_by_key(|l| l.port);
    let (page, next) = super::page(bodies, input.marker.as_deref(), input.page_size)?;
    Ok(shapes::DescribeListenersOutput { listeners: Some(page), next_marker: next })
}

pub fn modify_listener(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ModifyListenerInput,
) -> Result<shapes::ModifyListenerOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut record = listener(&records::tx_reader(tx), account, &input.listener_arn)?;
    let mut body: shapes::Listener = record.body()?;
    let protocol = input.protocol.or(body.protocol.take());
    let port = input.port.or(body.port);
    check_listen(protocol.as_deref(), port)?;
    // What the request leaves out stays as it was (an HTTP listener made HTTPS needs both).
    let (certificates, ssl_policy) = tls_of(
        protocol.as_deref(),
        input.certificates.or(body.certificates.take()),
        input.ssl_policy.or(body.ssl_policy.take()),
    )?;
    if certificates.is_none() {
        record.certificates.clear();
    }
    body.certificates = certificates;
    body.ssl_policy = ssl_policy;
    if port != body.port {
        let lb = body.load_balancer_arn.clone().unwrap_or_default();
        let prefix = super::listeners_prefix(&lb).ok_or_else(ServiceError::internal)?;
        for other in super::scan_tx(tx, &prefix)? {
            if other.arn != record.arn && other.body::<shapes::Listener>()?.port == port {
                return Err(error(
                    "DuplicateListener",
                    "A listener already exists on this port for this load balancer",
                ));
            }
        }
        if port_taken(tx, port.unwrap_or_default(), Some(&record.arn))? {
            return Err(error(
                "InvalidConfigurationRequest",
                format!(
                    "Port {} is already served by another load balancer's listener on this Rampart server",
                    port.unwrap_or_default()
                ),
            ));
        }
    }
    if let Some(new) = input.default_actions {
        body.default_actions = Some(actions(&records::tx_reader(tx), account, new)?);
    }
    body.protocol = protocol;
    body.port = port;
    record.set_body(body.clone());
    super::save(tx, &record)?;
    Ok(shapes::ModifyListenerOutput { listeners: Some(vec![body]) })
}

fn attribute_shapes(record: &Record) -> Vec<shapes::ListenerAttribute> {
    attributes::effective(LISTENER, &record.attributes)
        .into_iter()
        .map(|(k, v)| shapes::ListenerAttribute { key: Some(k), value: Some(v) })
        .collect()
}

pub fn describe_listener_attributes(
    ctx: &Ctx<'_>,
    input: shapes::DescribeListenerAttributesInput,
) -> Result<shapes::DescribeListenerAttributesOutput, ServiceError> {
    let record = listener(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.listener_arn)?;
    Ok(shapes::DescribeListenerAttributesOutput { attributes: Some(attribute_shapes(&record)) })
}

pub fn modify_listener_attributes(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ModifyListenerAttributesInput,
) -> Result<shapes::ModifyListenerAttributesOutput, ServiceError> {
    let mut record = listener(&records::tx_reader(tx), &ctx.principal.account_id, &input.listener_arn)?;
    attributes::modify(LISTENER, &mut record.attributes, input.attributes.into_iter().map(|a| (a.key, a.value)))?;
    super::save(tx, &record)?;
    Ok(shapes::ModifyListenerAttributesOutput { attributes: Some(attribute_shapes(&record)) })
}

/// The response headers a listener's attributes add, and whether it keeps the `Server` header.
pub fn response_headers(record: &Record) -> (Vec<(&'static str, String)>, bool) {
    let names = [
        ("routing.http.response.access_control_allow_credentials.header_value", "access-control-allow-credentials"),
        ("routing.http.response.access_control_allow_headers.header_value", "access-control-allow-headers"),
        ("routing.http.response.access_control_allow_methods.header_value", "access-control-allow-methods"),
        ("routing.http.response.access_control_allow_origin.header_value", "access-control-allow-origin"),
        ("routing.http.response.access_control_expose_headers.header_value", "access-control-expose-headers"),
        ("routing.http.response.access_control_max_age.header_value", "access-control-max-age"),
        ("routing.http.response.content_security_policy.header_value", "content-security-policy"),
        ("routing.http.response.strict_transport_security.header_value", "strict-transport-security"),
        ("routing.http.response.x_content_type_options.header_value", "x-content-type-options"),
        ("routing.http.response.x_frame_options.header_value", "x-frame-options"),
    ];
    let headers = names
        .iter()
        .filter_map(|(key, header)| record.attributes.get(*key).filter(|v| !v.is_empty()).map(|v| (*header, v.clone())))
        .collect();
    let server =
        attributes::value(LISTENER, &record.attributes, "routing.http.response.server.enabled") != Some("false");
    (headers, server)
}
