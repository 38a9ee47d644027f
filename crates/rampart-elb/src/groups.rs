//! Target groups and their targets: created, described, modified, deleted; targets registered
//! and deregistered, and their health as the server's health checks last found it.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html>.

use std::net::IpAddr;

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::elbv2 as shapes;
use rampart_store::Tx;

use super::attributes::{self, TARGET_GROUP};
use super::{Kind, Record, Registered, error, group_not_found, validation};

/// A target group may have 1,000 targets; an account 3,000 target groups in a region.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html>.
const MAX_TARGETS: usize = 1000;
const MAX_GROUPS: usize = 3000;

fn arn(account: &str, region: &str, name: &str, id: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}/{id}")
}

/// The caller's target group an ARN names.
pub(crate) fn group(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<Record, ServiceError> {
    super::find(get, account, arn, Kind::TargetGroup)?.ok_or_else(group_not_found)
}

/// Checks a health check's settings as AWS does: intervals 5–300 s, timeouts 2–120 s and shorter
/// than the interval, thresholds 2–10, and a matcher of HTTP codes 200–499.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html>.
fn check_health(tg: &shapes::TargetGroup) -> Result<(), ServiceError> {
    let interval = tg.health_check_interval_seconds.unwrap_or(30);
    let timeout = tg.health_check_timeout_seconds.unwrap_or(5);
    if !(5..=300).contains(&interval) {
        return Err(validation("Health check interval must be between 5 and 300 seconds"));
    }
    if !(2..=120).contains(&timeout) {
        return Err(validation("Health check timeout must be between 2 and 120 seconds"));
    }
    if timeout >= interval {
        return Err(validation("Health check interval must be greater than the timeout."));
    }
    for threshold in [tg.healthy_threshold_count, tg.unhealthy_threshold_count].into_iter().flatten() {
        if !(2..=10).contains(&threshold) {
            return Err(validation("Health check thresholds must be between 2 and 10"));
        }
    }
    if let Some(codes) = tg.matcher.as_ref().and_then(|m| m.http_code.as_deref())
        && super::routing::matcher(codes).is_none()
    {
        return Err(validation(format!(
            "Health check matcher HTTP code '{codes}' must be a value between 200 and 499, values separated by commas, or a range"
        )));
    }
    if let Some(port) = tg.health_check_port.as_deref()
        && port != "traffic-port"
        && !port.parse::<u16>().is_ok_and(|p| p >= 1)
    {
        return Err(validation("Health check port must be 'traffic-port' or a port between 1 and 65535"));
    }
    if tg.health_check_protocol.as_deref().is_some_and(|p| p != "HTTP") {
        return Err(error("UnsupportedProtocol", "Rampart checks targets' health over HTTP"));
    }
    Ok(())
}

/// Checks that a protocol is one Rampart forwards: an application load balancer's targets
/// speak HTTP to it here (HTTPS to targets is not served yet).
fn check_protocol(protocol: Option<&str>) -> Result<(), ServiceError> {
    match protocol {
        Some("HTTP") => Ok(()),
        None => Err(validation("A protocol must be specified")),
        Some(other) => Err(error(
            "UnsupportedProtocol",
            format!("Rampart forwards to targets over HTTP; protocol '{other}' is not served"),
        )),
    }
}

pub fn create_target_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateTargetGroupInput,
) -> Result<shapes::CreateTargetGroupOutput, ServiceError> {
    super::check_name("Target group", &input.name)?;
    let target_type = input.target_type.clone().unwrap_or_else(|| "instance".to_owned());
    if !matches!(target_type.as_str(), "instance" | "ip") {
        return Err(error(
            "InvalidConfigurationRequest",
            format!(
                "Rampart's target groups hold targets by IP address (or instance); target type '{target_type}' is not served"
            ),
        ));
    }
    check_protocol(input.protocol.as_deref())?;
    let Some(port) = input.port else { return Err(validation("A port must be specified")) };
    // An empty value (Terraform sends one) is the default, as in AWS.
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let version = given(&input.protocol_version).unwrap_or_else(|| "HTTP1".to_owned());
    if version != "HTTP1" {
        return Err(error(
            "UnsupportedProtocol",
            format!("Rampart forwards HTTP/1.1 to targets; protocol version '{version}' is not served"),
        ));
    }
    let account = &ctx.principal.account_id;
    let asked = shapes::TargetGroup {
        target_group_arn: None,
        target_group_name: Some(input.name.clone()),
        protocol: input.protocol.clone(),
        port: Some(port),
        vpc_id: input.vpc_id.clone(),
        health_check_protocol: Some(input.health_check_protocol.clone().unwrap_or_else(|| "HTTP".to_owned())),
        health_check_port: Some(input.health_check_port.clone().unwrap_or_else(|| "traffic-port".to_owned())),
        health_check_enabled: Some(input.health_check_enabled.unwrap_or(true)),
        health_check_interval_seconds: Some(input.health_check_interval_seconds.unwrap_or(30)),
        health_check_timeout_seconds: Some(input.health_check_timeout_seconds.unwrap_or(5)),
        healthy_threshold_count: Some(input.healthy_threshold_count.unwrap_or(5)),
        unhealthy_threshold_count: Some(input.unhealthy_threshold_count.unwrap_or(2)),
        health_check_path: Some(input.health_check_path.clone().unwrap_or_else(|| "/".to_owned())),
        matcher: Some(
            input.matcher.clone().unwrap_or(shapes::Matcher { http_code: Some("200".to_owned()), grpc_code: None }),
        ),
        load_balancer_arns: Some(Vec::new()),
        target_type: Some(target_type),
        protocol_version: Some(version),
        ip_address_type: Some(given(&input.ip_address_type).unwrap_or_else(|| "ipv4".to_owned())),
        target_control_port: None,
    };
    check_health(&asked)?;
    let key = super::locate(&arn(account, ctx.region, &input.name, "0")).ok_or_else(ServiceError::internal)?.key;
    if let Some(existing) = records::read_tx::<Record>(tx, &key)? {
        let mut had: shapes::TargetGroup = existing.body()?;
        let arn = had.target_group_arn.take();
        if had == asked {
            had.target_group_arn = arn;
            return Ok(shapes::CreateTargetGroupOutput { target_groups: Some(vec![had]) });
        }
        return Err(error(
            "DuplicateTargetGroupName",
            format!("A target group with the same name '{}' exists, but with different settings", input.name),
        ));
    }
    if super::scan_tx(tx, &super::prefix(account, ctx.region, Kind::TargetGroup))?.len() >= MAX_GROUPS {
        return Err(error("TooManyTargetGroups", "The quota for the number of target groups has been reached"));
    }
    let mut tags = Vec::new();
    super::merge_tags(&mut tags, input.tags.unwrap_or_default())?;
    let arn = arn(account, ctx.region, &input.name, &super::new_id()?);
    let tg = shapes::TargetGroup { target_group_arn: Some(arn.clone()), ..asked };
    records::write_tx(tx, &key, &Record::new(arn, tg.clone(), tags))?;
    Ok(shapes::CreateTargetGroupOutput { target_groups: Some(vec![tg]) })
}

/// The load balancers whose listeners forward to a target group.
fn balancers_of(listeners: &[Record], group_arn: &str) -> Result<Vec<String>, ServiceError> {
    let mut arns = Vec::new();
    for l in listeners {
        let body: shapes::Listener = l.body()?;
        if super::rules::forwarded_groups(l)?.iter().any(|arn| arn == group_arn)
            && let Some(lb) = body.load_balancer_arn
            && !arns.contains(&lb)
        {
            arns.push(lb);
        }
    }
    Ok(arns)
}

/// A target group as Describe answers it: with the load balancers that use it.
fn described(record: &Record, listeners: &[Record]) -> Result<shapes::TargetGroup, ServiceError> {
    let mut tg: shapes::TargetGroup = record.body()?;
    tg.load_balancer_arns = Some(balancers_of(listeners, &record.arn)?);
    Ok(tg)
}

pub fn delete_target_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteTargetGroupInput,
) -> Result<shapes::DeleteTargetGroupOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let record = group(&records::tx_reader(tx), account, &input.target_group_arn)?;
    let listeners = super::scan_tx(tx, &super::prefix(account, ctx.region, Kind::Listener))?;
    if !balancers_of(&listeners, &record.arn)?.is_empty() {
        return Err(error(
            "ResourceInUse",
            format!("Target group '{}' is currently in use by a listener or a rule", record.arn),
        ));
    }
    super::remove(tx, &record.arn)?;
    tx.delete(&super::health::key(&record.arn))?;
    Ok(shapes::DeleteTargetGroupOutput {})
}

pub fn describe_target_groups(
    ctx: &Ctx<'_>,
    input: shapes::DescribeTargetGroupsInput,
) -> Result<shapes::DescribeTargetGroupsOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let listeners: Vec<Record> = records::scan_records(ctx.db, &super::prefix(account, ctx.region, Kind::Listener))?;
    let given = [input.load_balancer_arn.is_some(), input.target_group_arns.is_some(), input.names.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(validation("Target group ARNs, names and a load balancer ARN cannot be specified together"));
    }
    let get = records::cached_reader(ctx.db);
    let found: Vec<Record> = if let Some(arns) = &input.target_group_arns {
        arns.iter().map(|arn| group(&get, account, arn)).collect::<Result<_, _>>()?
    } else {
        let all: Vec<Record> = records::scan_records(ctx.db, &super::prefix(account, ctx.region, Kind::TargetGroup))?;
        if let Some(names) = &input.names {
            let name_of = |r: &Record| r.arn.split('/').nth(1).map(str::to_owned);
            if let Some(missing) = names.iter().find(|n| !all.iter().any(|r| name_of(r).as_ref() == Some(*n))) {
                return Err(error("TargetGroupNotFound", format!("Target groups '[{missing}]' not found")));
            }
            all.into_iter().filter(|r| name_of(r).is_some_and(|n| names.contains(&n))).collect()
        } else if let Some(lb) = &input.load_balancer_arn {
            super::balancers::balancer(&get, account, lb)?;
            let mut kept = Vec::new();
            for r in all {
                if balancers_of(&listeners, &r.arn)?.contains(lb) {
                    kept.push(r);
                }
            }
            kept
        } else {
            all
        }
    };
    let bodies = found.iter().map(|r| described(r, &listeners)).collect::<Result<Vec<_>, _>>()?;
    let (page, next) = super::page(bodies, input.marker.as_deref(), input.page_size)?;
    Ok(shapes::DescribeTargetGroupsOutput { target_groups: Some(page), next_marker: next })
}

pub fn modify_target_group(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ModifyTargetGroupInput,
) -> Result<shapes::ModifyTargetGroupOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let mut record = group(&records::tx_reader(tx), account, &input.target_group_arn)?;
    let mut tg: shapes::TargetGroup = record.body()?;
    macro_rules! set {
        ($($field:ident),*) => {$( if input.$field.is_some() { tg.$field = input.$field.clone(); } )*};
    }
    set!(
        health_check_protocol,
        health_check_port,
        health_check_path,
        health_check_enabled,
        health_check_interval_seconds,
        health_check_timeout_seconds,
        healthy_threshold_count,
        unhealthy_threshold_count,
        matcher
    );
    check_health(&tg)?;
    record.set_body(tg);
    super::save(tx, &record)?;
    let listeners = super::scan_tx(tx, &super::prefix(account, ctx.region, Kind::Listener))?;
    Ok(shapes::ModifyTargetGroupOutput { target_groups: Some(vec![described(&record, &listeners)?]) })
}

fn attribute_shapes(record: &Record) -> Vec<shapes::TargetGroupAttribute> {
    attributes::effective(TARGET_GROUP, &record.attributes)
        .into_iter()
        .map(|(k, v)| shapes::TargetGroupAttribute { key: Some(k), value: Some(v) })
        .collect()
}

pub fn describe_target_group_attributes(
    ctx: &Ctx<'_>,
    input: shapes::DescribeTargetGroupAttributesInput,
) -> Result<shapes::DescribeTargetGroupAttributesOutput, ServiceError> {
    let record = group(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.target_group_arn)?;
    Ok(shapes::DescribeTargetGroupAttributesOutput { attributes: Some(attribute_shapes(&record)) })
}

pub fn modify_target_group_attributes(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ModifyTargetGroupAttributesInput,
) -> Result<shapes::ModifyTargetGroupAttributesOutput, ServiceError> {
    let mut record = group(&records::tx_reader(tx), &ctx.principal.account_id, &input.target_group_arn)?;
    attributes::modify(TARGET_GROUP, &mut record.attributes, input.attributes.into_iter().map(|a| (a.key, a.value)))?;
    super::save(tx, &record)?;
    Ok(shapes::ModifyTargetGroupAttributesOutput { attributes: Some(attribute_shapes(&record)) })
}

/// The targets a request names, as registered: an IP address of the group's address family, on
/// the port given or the group's. Rampart has no EC2 instances to register.
fn targets(tg: &shapes::TargetGroup, asked: Vec<shapes::TargetDescription>) -> Result<Vec<Registered>, ServiceError> {
    let mut out = Vec::new();
    for t in asked {
        if tg.target_type.as_deref() != Some("ip") {
            return Err(error(
                "InvalidTarget",
                format!(
                    "The following targets are not valid instances: '{}'. Rampart has no EC2 instances: register targets by \
                     IP address in a target group of target type 'ip'",
                    t.id
                ),
            ));
        }
        let Ok(ip) = t.id.parse::<IpAddr>() else {
            return Err(error("InvalidTarget", format!("The IP address '{}' is not a valid IPv4 address", t.id)));
        };
        if ip.is_ipv6() != (tg.ip_address_type.as_deref() == Some("ipv6")) {
            return Err(error(
                "InvalidTarget",
                format!("The IP address '{}' is not of the target group's IP address type", t.id),
            ));
        }
        let Some(port) = t.port.or(tg.port) else { return Err(validation("A port must be specified")) };
        if !(1..=65535).contains(&port) {
            return Err(validation(format!("Port {port} is not valid")));
        }
        out.push(Registered { id: ip.to_string(), port, availability_zone: t.availability_zone });
    }
    Ok(out)
}

pub fn register_targets(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::RegisterTargetsInput,
) -> Result<shapes::RegisterTargetsOutput, ServiceError> {
    let mut record = group(&records::tx_reader(tx), &ctx.principal.account_id, &input.target_group_arn)?;
    let tg: shapes::TargetGroup = record.body()?;
    for t in targets(&tg, input.targets)? {
        if !record.targets.iter().any(|r| r.id == t.id && r.port == t.port) {
            record.targets.push(t);
        }
    }
    if record.targets.len() > MAX_TARGETS {
        return Err(error("TooManyTargets", "You've reached the limit on the number of targets"));
    }
    super::save(tx, &record)?;
    Ok(shapes::RegisterTargetsOutput {})
}

pub fn deregister_targets(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeregisterTargetsInput,
) -> Result<shapes::DeregisterTargetsOutput, ServiceError> {
    let mut record = group(&records::tx_reader(tx), &ctx.principal.account_id, &input.target_group_arn)?;
    let tg: shapes::TargetGroup = record.body()?;
    for t in targets(&tg, input.targets)? {
        let before = record.targets.len();
        record.targets.retain(|r| !(r.id == t.id && r.port == t.port));
        if record.targets.len() == before {
            return Err(error(
                "InvalidTarget",
                format!(
                    "The target '{}' on port {} is not registered with target group '{}'",
                    t.id, t.port, record.arn
                ),
            ));
        }
    }
    super::save(tx, &record)?;
    Ok(shapes::DeregisterTargetsOutput {})
}

/// Each target's health: `unused` while no listener forwards to the group (or its health
/// checks are off), else as the server's health checks last found it (`initial` until then).
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html#target-health-states>.
pub fn describe_target_health(
    ctx: &Ctx<'_>,
    input: shapes::DescribeTargetHealthInput,
) -> Result<shapes::DescribeTargetHealthOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let record = group(&records::cached_reader(ctx.db), account, &input.target_group_arn)?;
    let tg: shapes::TargetGroup = record.body()?;
    let listeners: Vec<Record> = records::scan_records(ctx.db, &super::prefix(account, ctx.region, Kind::Listener))?;
    let used = !balancers_of(&listeners, &record.arn)?.is_empty();
    let checked = super::health::read(ctx.db, &record.arn)?;
    let asked: Vec<Registered> = match input.targets {
        Some(asked) => targets(&tg, asked)?,
        None => record.targets.clone(),
    };
    let mut out = Vec::new();
    for t in asked {
        let registered = record.targets.contains(&t);
        let (state, reason, description) = if !registered {
            ("unavailable", Some("Target.NotRegistered"), Some("Target is not registered to the target group"))
        } else if !used {
            (
                "unused",
                Some("Target.NotInUse"),
                Some("Target group is not configured to receive traffic from the load balancer"),
            )
        } else if tg.health_check_enabled == Some(false) {
            ("unavailable", Some("Target.HealthCheckDisabled"), Some("Health checks are disabled"))
        } else {
            match checked.get(&t.id, t.port) {
                Some(h) => (h.state.as_str(), h.reason.as_deref(), h.description.as_deref()),
                None => ("initial", Some("Elb.RegistrationInProgress"), Some("Target registration is in progress")),
            }
        };
        let port = match tg.health_check_port.as_deref() {
            Some("traffic-port") | None => t.port.to_string(),
            Some(p) => p.to_owned(),
        };
        out.push(shapes::TargetHealthDescription {
            target: Some(shapes::TargetDescription {
                id: t.id,
                port: Some(t.port),
                availability_zone: t.availability_zone,
                quic_server_id: None,
            }),
            health_check_port: Some(port),
            target_health: Some(shapes::TargetHealth {
                state: Some(state.to_owned()),
                reason: reason.map(str::to_owned),
                description: description.map(str::to_owned),
            }),
            ..Default::default()
        });
    }
    Ok(shapes::DescribeTargetHealthOutput { target_health_descriptions: Some(out) })
}
