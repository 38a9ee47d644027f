//! Attributes of load balancers, target groups and listeners: AWS's keys, defaults and the
//! values each takes. A record keeps only the attributes set; the rest read as their defaults.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerAttribute.html>,
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupAttribute.html> and
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ListenerAttribute.html>.

use std::collections::BTreeMap;

use rampart_core::ServiceError;

use super::validation;

/// The values an attribute takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    Bool,
    /// A whole number in a range.
    Range(i64, i64),
    OneOf(&'static [&'static str]),
    /// Free text, up to a length.
    Text(usize),
    /// A count from 1, or `off`.
    CountOrOff,
    /// A percentage 1–100, or `off`.
    PercentOrOff,
    /// 0 (off) or 30–900 seconds.
    SlowStart,
}

impl Check {
    fn admits(self, v: &str) -> bool {
        match self {
            Check::Bool => matches!(v, "true" | "false"),
            Check::Range(lo, hi) => v.parse::<i64>().is_ok_and(|n| (lo..=hi).contains(&n)),
            Check::OneOf(values) => values.contains(&v),
            Check::Text(max) => v.len() <= max,
            Check::CountOrOff => v == "off" || v.parse::<u32>().is_ok_and(|n| n >= 1),
            Check::PercentOrOff => v == "off" || v.parse::<u32>().is_ok_and(|n| (1..=100).contains(&n)),
            Check::SlowStart => v.parse::<u32>().is_ok_and(|n| n == 0 || (30..=900).contains(&n)),
        }
    }
}

/// An attribute: its key, default and values.
pub(crate) type Spec = (&'static str, &'static str, Check);

const LOG_BUCKET: Check = Check::Text(255);
const LOG_PREFIX: Check = Check::Text(1024);

/// An application load balancer's attributes.
pub(crate) static BALANCER: &[Spec] = &[
    ("access_logs.s3.bucket", "", LOG_BUCKET),
    ("access_logs.s3.enabled", "false", Check::Bool),
    ("access_logs.s3.prefix", "", LOG_PREFIX),
    ("client_keep_alive.seconds", "3600", Check::Range(60, 604_800)),
    ("connection_logs.s3.bucket", "", LOG_BUCKET),
    ("connection_logs.s3.enabled", "false", Check::Bool),
    ("connection_logs.s3.prefix", "", LOG_PREFIX),
    ("deletion_protection.enabled", "false", Check::Bool),
    ("health_check_logs.s3.bucket", "", LOG_BUCKET),
    ("health_check_logs.s3.enabled", "false", Check::Bool),
    ("health_check_logs.s3.prefix", "", LOG_PREFIX),
    ("idle_timeout.timeout_seconds", "60", Check::Range(1, 4000)),
    // Always on for an application load balancer.
    ("load_balancing.cross_zone.enabled", "true", Check::OneOf(&["true"])),
    ("routing.http.desync_mitigation_mode", "defensive", Check::OneOf(&["monitor", "defensive", "strictest"])),
    ("routing.http.drop_invalid_header_fields.enabled", "false", Check::Bool),
    ("routing.http.preserve_host_header.enabled", "false", Check::Bool),
    ("routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "false", Check::Bool),
    ("routing.http.xff_client_port.enabled", "false", Check::Bool),
    ("routing.http.xff_header_processing.mode", "append", Check::OneOf(&["append", "preserve", "remove"])),
    ("routing.http2.enabled", "true", Check::Bool),
    ("waf.fail_open.enabled", "false", Check::Bool),
    ("zonal_shift.config.enabled", "false", Check::Bool),
];

/// A target group's attributes (targets of type `ip` or `instance` behind an application load
/// balancer).
pub(crate) static TARGET_GROUP: &[Spec] = &[
    ("deregistration_delay.timeout_seconds", "300", Check::Range(0, 3600)),
    ("load_balancing.algorithm.anomaly_mitigation", "off", Check::OneOf(&["on", "off"])),
    (
        "load_balancing.algorithm.type",
        "round_robin",
        Check::OneOf(&["round_robin", "least_outstanding_requests", "weighted_random"]),
    ),
    (
        "load_balancing.cross_zone.enabled",
        "use_load_balancer_configuration",
        Check::OneOf(&["true", "false", "use_load_balancer_configuration"]),
    ),
    ("slow_start.duration_seconds", "0", Check::SlowStart),
    ("stickiness.app_cookie.cookie_name", "", Check::Text(255)),
    ("stickiness.app_cookie.duration_seconds", "86400", Check::Range(1, 604_800)),
    ("stickiness.enabled", "false", Check::Bool),
    ("stickiness.lb_cookie.duration_seconds", "86400", Check::Range(1, 604_800)),
    ("stickiness.type", "lb_cookie", Check::OneOf(&["lb_cookie", "app_cookie"])),
    ("target_group_health.dns_failover.minimum_healthy_targets.count", "1", Check::CountOrOff),
    ("target_group_health.dns_failover.minimum_healthy_targets.percentage", "off", Check::PercentOrOff),
    ("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1", Check::CountOrOff),
    ("target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off", Check::PercentOrOff),
];

const HEADER: Check = Check::Text(1024);

/// An application load balancer's HTTP listener's attributes: the response headers it adds.
pub(crate) static LISTENER: &[Spec] = &[
    ("routing.http.response.access_control_allow_credentials.header_value", "", Check::OneOf(&["", "true"])),
    ("routing.http.response.access_control_allow_headers.header_value", "", HEADER),
    ("routing.http.response.access_control_allow_methods.header_value", "", HEADER),
    ("routing.http.response.access_control_allow_origin.header_value", "", HEADER),
    ("routing.http.response.access_control_expose_headers.header_value", "", HEADER),
    ("routing.http.response.access_control_max_age.header_value", "", HEADER),
    ("routing.http.response.content_security_policy.header_value", "", HEADER),
    ("routing.http.response.server.enabled", "true", Check::Bool),
    ("routing.http.response.strict_transport_security.header_value", "", HEADER),
    ("routing.http.response.x_content_type_options.header_value", "", Check::OneOf(&["", "nosniff"])),
    ("routing.http.response.x_frame_options.header_value", "", Check::OneOf(&["", "DENY", "SAMEORIGIN"])),
];

/// Every attribute of `specs`: those set, the rest at their defaults.
pub(crate) fn effective(specs: &[Spec], set: &BTreeMap<String, String>) -> Vec<(String, String)> {
    specs
        .iter()
        .map(|(key, default, _)| ((*key).to_owned(), set.get(*key).cloned().unwrap_or_else(|| (*default).to_owned())))
        .collect()
}

/// The value an attribute has: set, else its default.
pub(crate) fn value<'a>(specs: &'static [Spec], set: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    set.get(key).map(String::as_str).or_else(|| specs.iter().find(|(k, _, _)| *k == key).map(|(_, d, _)| *d))
}

/// Sets attributes after checking every one: an unknown key or a value the key does not take
/// is refused, and nothing is set.
pub(crate) fn modify(
    specs: &[Spec],
    set: &mut BTreeMap<String, String>,
    changes: impl IntoIterator<Item = (Option<String>, Option<String>)>,
) -> Result<(), ServiceError> {
    let mut checked = Vec::new();
    for (key, value) in changes {
        let key = key.unwrap_or_default();
        let value = value.unwrap_or_default();
        let Some((_, _, check)) = specs.iter().find(|(k, _, _)| *k == key) else {
            return Err(validation(format!("Attribute key '{key}' is not recognized")));
        };
        if !check.admits(&value) {
            return Err(validation(format!("The value of attribute '{key}' is not valid: '{value}'")));
        }
        checked.push((key, value));
    }
    set.extend(checked);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_default_and_refuse_what_they_do_not_take() {
        let mut set = BTreeMap::new();
        let some = |k: &str, v: &str| (Some(k.to_owned()), Some(v.to_owned()));
        modify(BALANCER, &mut set, [some("idle_timeout.timeout_seconds", "120")]).unwrap();
        assert_eq!(value(BALANCER, &set, "idle_timeout.timeout_seconds"), Some("120"));
        assert_eq!(value(BALANCER, &set, "routing.http2.enabled"), Some("true"));
        for bad in [
            some("idle_timeout.timeout_seconds", "0"),
            some("idle_timeout.timeout_seconds", "4001"),
            some("deletion_protection.enabled", "yes"),
            some("no.such.attribute", "true"),
            some("load_balancing.cross_zone.enabled", "false"),
        ] {
            assert_eq!(
                modify(BALANCER, &mut set, [bad.clone(), some("routing.http2.enabled", "false")]).unwrap_err().code,
                "ValidationError",
                "{bad:?}"
            );
        }
        // A refused change sets nothing.
        assert_eq!(value(BALANCER, &set, "routing.http2.enabled"), Some("true"));
        assert_eq!(effective(BALANCER, &set).len(), BALANCER.len());
        assert!(modify(TARGET_GROUP, &mut set, [some("slow_start.duration_seconds", "10")]).is_err());
        assert!(modify(TARGET_GROUP, &mut set, [some("slow_start.duration_seconds", "30")]).is_ok());
    }

    #[test]
    fn the_tables_are_sorted_and_their_defaults_admitted() {
        for table in [BALANCER, TARGET_GROUP, LISTENER] {
            assert!(table.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
            for (key, default, check) in table {
                assert!(check.admits(default), "{key}");
            }
        }
    }
}
