//! Application load balancers: created, described, deleted, their attributes.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::elbv2 as shapes;
use rampart_store::Tx;

use super::attributes::{self, BALANCER};
use super::{Configured, Kind, Record, balancer_not_found, error, validation};

/// An account may have 50 application load balancers in a region.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html>.
const MAX_BALANCERS: usize = 50;

/// A load balancer's ARN from its account, region, name and id.
fn arn(account: &str, region: &str, name: &str, id: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/{name}/{id}")
}

/// The ARN of a load balancer the configuration defines: stable for its account, region and
/// name, so that a web ACL's association outlives a restart.
pub fn configured_arn(account: &str, region: &str, name: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{account}/{region}/{name}").as_bytes());
    let id = data_encoding::HEXLOWER.encode(digest.as_ref().get(..8).unwrap_or_default());
    arn(account, region, name, &id)
}

/// The hosted zone of application load balancers in a region, as AWS's endpoint table lists it
/// (Route 53 aliases name it); us-east-1's elsewhere.
/// See <https://docs.aws.amazon.com/general/latest/gr/elb.html>.
fn hosted_zone(region: &str) -> &'static str {
    match region {
        "us-east-2" => "Z3AADJGX6KTTL2",
        "us-west-1" => "Z368ELLRRE2KJ0",
        "us-west-2" => "Z1H1FL5HABSF5",
        "eu-west-1" => "Z32O12XQLNTSW2",
        "eu-central-1" => "Z215JYRZR1TBD5",
        _ => "Z35SXDOTRQ7X7K",
    }
}

/// A load balancer's body: an active application load balancer. Its DNS name is under
/// `elb.localhost`, which resolvers that follow RFC 6761 answer with the loopback address; its
/// listeners listen on the server's listener address.
fn body(
    account: &str,
    region: &str,
    (name, id): (&str, &str),
    input: &shapes::CreateLoadBalancerInput,
    now: time::OffsetDateTime,
) -> shapes::LoadBalancer {
    let scheme = input.scheme.clone().unwrap_or_else(|| "internet-facing".to_owned());
    let internal = if scheme == "internal" { "internal-" } else { "" };
    let subnets: Vec<String> = match (&input.subnets, &input.subnet_mappings) {
        (Some(s), _) => s.clone(),
        (None, Some(m)) => m.iter().filter_map(|m| m.subnet_id.clone()).collect(),
        (None, None) => Vec::new(),
    };
    let zones = subnets
        .into_iter()
        .zip(b'a'..=b'z')
        .map(|(subnet, zone)| shapes::AvailabilityZone {
            zone_name: Some(format!("{region}{}", char::from(zone))),
            subnet_id: Some(subnet),
            load_balancer_addresses: Some(Vec::new()),
            ..Default::default()
        })
        .collect();
    shapes::LoadBalancer {
        load_balancer_arn: Some(arn(account, region, name, id)),
        dns_name: Some(format!("{internal}{name}-{id}.{region}.elb.localhost")),
        canonical_hosted_zone_id: Some(hosted_zone(region).to_owned()),
        created_time: Some(now),
        load_balancer_name: Some(name.to_owned()),
        scheme: Some(scheme),
        state: Some(shapes::LoadBalancerState { code: Some("active".to_owned()), reason: None }),
        r#type: Some("application".to_owned()),
        availability_zones: Some(zones),
        security_groups: Some(input.security_groups.clone().unwrap_or_default()),
        ip_address_type: Some(input.ip_address_type.clone().unwrap_or_else(|| "ipv4".to_owned())),
        ..Default::default()
    }
}

/// Whether a create asks for the load balancer that exists (CreateLoadBalancer is idempotent).
fn same(existing: &shapes::LoadBalancer, asked: &shapes::LoadBalancer) -> bool {
    existing.scheme == asked.scheme
        && existing.ip_address_type == asked.ip_address_type
        && existing.security_groups == asked.security_groups
        && existing.availability_zones.iter().flatten().map(|z| &z.subnet_id).eq(asked
            .availability_zones
            .iter()
            .flatten()
            .map(|z| &z.subnet_id))
}

pub fn create_load_balancer(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateLoadBalancerInput,
) -> Result<shapes::CreateLoadBalancerOutput, ServiceError> {
    super::check_name("Load balancer", &input.name)?;
    if input.name.starts_with("internal-") {
        return Err(validation(format!("Load balancer name '{}' cannot begin with 'internal-'", input.name)));
    }
    // Rampart's load balancers are application load balancers: it proxies HTTP.
    if input.r#type.as_deref().is_some_and(|t| t != "application") {
        return Err(error(
            "InvalidConfigurationRequest",
            "Rampart serves application load balancers; network and gateway load balancers cannot be created",
        ));
    }
    if input.subnets.is_some() && input.subnet_mappings.is_some() {
        return Err(validation("You can specify subnets or subnet mappings, but not both"));
    }
    let account = &ctx.principal.account_id;
    let key = keys::load_balancer(account, ctx.region, &input.name);
    let mut tags = Vec::new();
    super::merge_tags(&mut tags, input.tags.clone().unwrap_or_default())?;
    if let Some(existing) = records::read_tx::<Record>(tx, &key)? {
        let had: shapes::LoadBalancer = existing.body()?;
        let asked = body(account, ctx.region, (&input.name, "0"), &input, ctx.now);
        if existing.configured.is_none() && same(&had, &asked) {
            return Ok(shapes::CreateLoadBalancerOutput { load_balancers: Some(vec![had]) });
        }
        return Err(error(
            "DuplicateLoadBalancerName",
            format!("A load balancer with the same name '{}' exists, but with different settings", input.name),
        ));
    }
    if super::scan_tx(tx, &super::prefix(account, ctx.region, Kind::LoadBalancer))?.len() >= MAX_BALANCERS {
        return Err(error("TooManyLoadBalancers", "The quota for the number of load balancers has been reached"));
    }
    let id = super::new_id()?;
    let lb = body(account, ctx.region, (&input.name, &id), &input, ctx.now);
    let arn = arn(account, ctx.region, &input.name, &id);
    records::write_tx(tx, &key, &Record::new(arn, lb.clone(), tags))?;
    Ok(shapes::CreateLoadBalancerOutput { load_balancers: Some(vec![lb]) })
}

/// Records a load balancer the server's configuration defines (a `--proxy` listener),
/// replacing one of the same name; returns its ARN.
pub fn register_configured(
    tx: &mut Tx<'_>,
    (account, region, now): (&str, &str, time::OffsetDateTime),
    name: &str,
    configured: Configured,
) -> Result<String, ServiceError> {
    let arn = configured_arn(account, region, name);
    let id = arn.rsplit('/').next().unwrap_or_default().to_owned();
    let input = shapes::CreateLoadBalancerInput {
        name: name.to_owned(),
        subnets: None,
        subnet_mappings: None,
        security_groups: None,
        scheme: None,
        tags: None,
        r#type: None,
        ip_address_type: None,
        customer_owned_ipv4_pool: None,
        enable_prefix_for_ipv6_source_nat: None,
        ipam_pools: None,
    };
    let key = keys::load_balancer(account, region, name);
    let mut record = match records::read_tx::<Record>(tx, &key)? {
        Some(r) if r.arn == arn => r,
        _ => Record::new(arn.clone(), body(account, region, (name, &id), &input, now), Vec::new()),
    };
    record.configured = Some(configured);
    records::write_tx(tx, &key, &record)?;
    Ok(arn)
}

/// The caller's load balancer an ARN names.
pub(crate) fn balancer(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<Record, ServiceError> {
    super::find(get, account, arn, Kind::LoadBalancer)?.ok_or_else(balancer_not_found)
}

/// Deletes a load balancer with its listeners, and the web ACL association it had. Deleting one
/// that does not exist succeeds, as in AWS.
pub fn delete_load_balancer(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteLoadBalancerInput,
) -> Result<shapes::DeleteLoadBalancerOutput, ServiceError> {
    let arn = &input.load_balancer_arn;
    let Some(record) = super::find(&records::tx_reader(tx), &ctx.principal.account_id, arn, Kind::LoadBalancer)? else {
        return Ok(shapes::DeleteLoadBalancerOutput {});
    };
    if record.configured.is_some() {
        return Err(error(
            "OperationNotPermitted",
            format!("Load balancer '{arn}' is defined by the server's configuration; remove it there"),
        ));
    }
    if attributes::value(BALANCER, &record.attributes, "deletion_protection.enabled") == Some("true") {
        return Err(error(
            "OperationNotPermitted",
            format!("Load balancer '{arn}' cannot be deleted because deletion protection is enabled"),
        ));
    }
    if let Some(prefix) = super::listeners_prefix(arn) {
        for listener in super::scan_tx(tx, &prefix)? {
            super::remove(tx, &listener.arn)?;
        }
    }
    tx.delete(&keys::waf_association(arn))?;
    super::health::forget_status(tx, arn)?;
    let key = super::locate(arn).ok_or_else(balancer_not_found)?.key;
    tx.delete(&key)?;
    Ok(shapes::DeleteLoadBalancerOutput {})
}

pub fn describe_load_balancers(
    ctx: &Ctx<'_>,
    input: shapes::DescribeLoadBalancersInput,
) -> Result<shapes::DescribeLoadBalancersOutput, ServiceError> {
    let account = &ctx.principal.account_id;
    let found: Vec<Record> = match (&input.load_balancer_arns, &input.names) {
        (Some(_), Some(_)) => {
            return Err(validation("Load balancer names and load balancer ARNs cannot be specified at the same time"));
        }
        (Some(arns), None) => {
            let get = records::cached_reader(ctx.db);
            arns.iter().map(|arn| balancer(&get, account, arn)).collect::<Result<_, _>>()?
        }
        (None, names) => {
            let all: Vec<Record> =
                records::scan_records(ctx.db, &super::prefix(account, ctx.region, Kind::LoadBalancer))?;
            match names {
                None => all,
                Some(names) => {
                    let missing: Vec<&String> = names
                        .iter()
                        .filter(|n| !all.iter().any(|r| r.arn.split('/').nth(2) == Some(n.as_str())))
                        .collect();
                    if !missing.is_empty() {
                        let list: Vec<String> = missing.iter().map(|n| format!("'{n}'")).collect();
                        return Err(error(
                            "LoadBalancerNotFound",
                            format!("Load balancers '[{}]' not found", list.join(", ")),
                        ));
                    }
                    all.into_iter()
                        .filter(|r| names.iter().any(|n| r.arn.split('/').nth(2) == Some(n.as_str())))
                        .collect()
                }
            }
        }
    };
    let get = records::cached_reader(ctx.db);
    let mut bodies = Vec::new();
    for record in &found {
        let mut lb: shapes::LoadBalancer = record.body()?;
        // A listener the server cannot serve (its port taken on the host) impairs it.
        if let Some(reason) = super::health::impaired(&get, &record.arn)? {
            lb.state =
                Some(shapes::LoadBalancerState { code: Some("active_impaired".to_owned()), reason: Some(reason) });
        }
        bodies.push(lb);
    }
    let (page, next) = super::page(bodies, input.marker.as_deref(), input.page_size)?;
    Ok(shapes::DescribeLoadBalancersOutput { load_balancers: Some(page), next_marker: next })
}

fn attribute_shapes(record: &Record) -> Vec<shapes::LoadBalancerAttribute> {
    attributes::effective(BALANCER, &record.attributes)
        .into_iter()
        .map(|(k, v)| shapes::LoadBalancerAttribute { key: Some(k), value: Some(v) })
        .collect()
}

pub fn describe_load_balancer_attributes(
    ctx: &Ctx<'_>,
    input: shapes::DescribeLoadBalancerAttributesInput,
) -> Result<shapes::DescribeLoadBalancerAttributesOutput, ServiceError> {
    let record = balancer(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.load_balancer_arn)?;
    Ok(shapes::DescribeLoadBalancerAttributesOutput { attributes: Some(attribute_shapes(&record)) })
}

pub fn modify_load_balancer_attributes(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::ModifyLoadBalancerAttributesInput,
) -> Result<shapes::ModifyLoadBalancerAttributesOutput, ServiceError> {
    let mut record = balancer(&records::tx_reader(tx), &ctx.principal.account_id, &input.load_balancer_arn)?;
    attributes::modify(BALANCER, &mut record.attributes, input.attributes.into_iter().map(|a| (a.key, a.value)))?;
    super::save(tx, &record)?;
    Ok(shapes::ModifyLoadBalancerAttributesOutput { attributes: Some(attribute_shapes(&record)) })
}

/// A load balancer's capacity reservation: Rampart's have none (LCU reservations are a matter of
/// AWS's fleet), so none is reported.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeCapacityReservation.html>.
pub fn describe_capacity_reservation(
    ctx: &Ctx<'_>,
    input: shapes::DescribeCapacityReservationInput,
) -> Result<shapes::DescribeCapacityReservationOutput, ServiceError> {
    balancer(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.load_balancer_arn)?;
    Ok(shapes::DescribeCapacityReservationOutput {
        last_modified_time: None,
        decrease_requests_remaining: None,
        minimum_load_balancer_capacity: None,
        capacity_reservation_state: Some(Vec::new()),
    })
}
