//! What a listener does with a request (pure): its default action as a [`Route`], a target
//! group's [`HealthCheck`], a redirect's location.
//! See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html#listener-actions>.

use std::time::Duration;

use rampart_shapes::generated::elbv2 as shapes;

/// A listener's terminal action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To target groups, by weight.
    Forward(Vec<(String, u32)>),
    /// A response of the listener's own.
    Fixed { status: u16, content_type: Option<String>, body: String },
    /// A redirect, its location made from the request.
    Redirect { status: u16, config: Redirect },
}

/// A redirect's parts, each of which may name the request's (`#{protocol}`, `#{host}`,
/// `#{port}`, `#{path}`, `#{query}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub protocol: String,
    pub host: String,
    pub port: String,
    pub path: String,
    pub query: String,
}

/// The target groups an action forwards to, by weight: its `ForwardConfig`, else its
/// `TargetGroupArn` alone.
fn forward(action: &shapes::Action) -> Vec<(String, u32)> {
    match action.forward_config.as_ref().and_then(|f| f.target_groups.as_ref()) {
        Some(groups) if !groups.is_empty() => groups
            .iter()
            .filter_map(|g| Some((g.target_group_arn.clone()?, u32::try_from(g.weight.unwrap_or(1)).unwrap_or(0))))
            .collect(),
        _ => action.target_group_arn.iter().map(|arn| (arn.clone(), 1)).collect(),
    }
}

/// The route of a listener's terminal default action (`None`: it has none Rampart serves).
pub fn route(listener: &shapes::Listener) -> Option<Route> {
    route_of(listener.default_actions.as_deref().unwrap_or_default())
}

/// The route of a list of actions: its terminal action's.
pub fn route_of(actions: &[shapes::Action]) -> Option<Route> {
    let action = actions.iter().find(|a| terminal(&a.r#type))?;
    match action.r#type.as_str() {
        "forward" => Some(Route::Forward(forward(action))),
        "fixed-response" => {
            let f = action.fixed_response_config.as_ref()?;
            Some(Route::Fixed {
                status: f.status_code.parse().ok()?,
                content_type: f.content_type.clone(),
                body: f.message_body.clone().unwrap_or_default(),
            })
        }
        "redirect" => {
            let r = action.redirect_config.as_ref()?;
            let status = if r.status_code == "HTTP_301" { 301 } else { 302 };
            let part = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_owned());
            Some(Route::Redirect {
                status,
                config: Redirect {
                    protocol: part(&r.protocol, "#{protocol}"),
                    host: part(&r.host, "#{host}"),
                    port: part(&r.port, "#{port}"),
                    path: part(&r.path, "/#{path}"),
                    query: part(&r.query, "#{query}"),
                },
            })
        }
        _ => None,
    }
}

/// Whether an action type ends a listener's actions.
pub(crate) fn terminal(kind: &str) -> bool {
    matches!(kind, "forward" | "fixed-response" | "redirect")
}

/// One condition of a listener rule, as the proxy tests it. Within a condition any value may
/// match; a rule matches when each of its conditions does.
/// See <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Host header patterns (`*` and `?`), without the port, in any case.
    Host(Vec<String>),
    /// Path patterns (`*` and `?`), case-sensitive, against the path without its query.
    Path(Vec<String>),
    /// Request methods, as written (case-sensitive).
    Method(Vec<String>),
    /// A header (its name in any case) whose value matches a pattern, in any case.
    Header(String, Vec<String>),
    /// Query parameters: `(key, value)` patterns, a missing key matching any key, in any case.
    Query(Vec<(Option<String>, String)>),
    /// The client's address in a CIDR block.
    Source(Vec<ipnet::IpNet>),
}

/// What a rule's conditions look at in a request.
pub struct Asked<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub method: &'a str,
    pub query: &'a str,
    /// Every value of a header, by name in any case.
    pub headers: &'a dyn Fn(&str) -> Vec<String>,
    pub source: std::net::IpAddr,
}

fn any_match(patterns: &[String], text: &str, fold: bool) -> bool {
    patterns.iter().any(|p| rampart_policy::wildcard_match(p.as_bytes(), text.as_bytes(), fold))
}

/// A query string's parameters, percent-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let plus = s.replace('+', " ");
        percent_encoding::percent_decode_str(&plus).decode_utf8_lossy().into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

impl Condition {
    pub fn matches(&self, r: &Asked<'_>) -> bool {
        match self {
            Condition::Host(p) => any_match(p, r.host, true),
            Condition::Path(p) => any_match(p, r.path, false),
            Condition::Method(m) => m.iter().any(|m| m == r.method),
            Condition::Header(name, p) => (r.headers)(name).iter().any(|v| any_match(p, v, true)),
            Condition::Query(pairs) => {
                let have = query_pairs(r.query);
                pairs.iter().any(|(k, v)| {
                    have.iter().any(|(hk, hv)| {
                        k.as_ref().is_none_or(|k| rampart_policy::wildcard_match(k.as_bytes(), hk.as_bytes(), true))
                            && rampart_policy::wildcard_match(v.as_bytes(), hv.as_bytes(), true)
                    })
                })
            }
            Condition::Source(nets) => nets.iter().any(|n| n.contains(&r.source)),
        }
    }
}

/// A rule's conditions as the proxy tests them; `None` when one is not of a kind Rampart serves
/// (the API refuses such a rule, so a stored one always converts).
pub fn conditions(rule: &shapes::Rule) -> Option<Vec<Condition>> {
    rule.conditions.iter().flatten().map(condition).collect()
}

fn condition(c: &shapes::RuleCondition) -> Option<Condition> {
    let values = |config: Option<&Vec<String>>| config.or(c.values.as_ref()).cloned().unwrap_or_default();
    Some(match c.field.as_deref()? {
        "host-header" => Condition::Host(values(c.host_header_config.as_ref().and_then(|h| h.values.as_ref()))),
        "path-pattern" => Condition::Path(values(c.path_pattern_config.as_ref().and_then(|h| h.values.as_ref()))),
        "http-request-method" => {
            Condition::Method(values(c.http_request_method_config.as_ref().and_then(|h| h.values.as_ref())))
        }
        "http-header" => {
            let h = c.http_header_config.as_ref()?;
            Condition::Header(h.http_header_name.clone()?, h.values.clone().unwrap_or_default())
        }
        "query-string" => Condition::Query(
            c.query_string_config
                .as_ref()?
                .values
                .iter()
                .flatten()
                .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
                .collect(),
        ),
        "source-ip" => Condition::Source(
            values(c.source_ip_config.as_ref().and_then(|h| h.values.as_ref()))
                .iter()
                .map(|v| v.parse().ok())
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// Every target group a listener's actions forward to.
pub fn forwards_to(listener: &shapes::Listener) -> impl Iterator<Item = String> + '_ {
    forwards_in(listener.default_actions.as_deref().unwrap_or_default())
}

/// Every target group a list of actions forwards to.
pub fn forwards_in(actions: &[shapes::Action]) -> impl Iterator<Item = String> + '_ {
    actions.iter().filter(|a| a.r#type == "forward").flat_map(|a| forward(a).into_iter().map(|(arn, _)| arn))
}

/// What a redirect is made from: the request as the listener received it.
pub struct Incoming<'a> {
    pub protocol: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub path: &'a str,
    pub query: &'a str,
}

/// A redirect's location: each part with the request's values put in; the port left out when it
/// is the protocol's own.
pub fn location(r: &Redirect, incoming: &Incoming<'_>) -> String {
    let fill = |template: &str| {
        template
            .replace("#{protocol}", incoming.protocol)
            .replace("#{host}", incoming.host)
            .replace("#{port}", &incoming.port.to_string())
            .replace("#{path}", incoming.path.strip_prefix('/').unwrap_or(incoming.path))
            .replace("#{query}", incoming.query)
    };
    let protocol = fill(&r.protocol).to_ascii_lowercase();
    let port = fill(&r.port);
    let default_port = matches!((protocol.as_str(), port.as_str()), ("http", "80") | ("https", "443"));
    let mut out = format!("{protocol}://{}", fill(&r.host));
    if !default_port && !port.is_empty() {
        out.push(':');
        out.push_str(&port);
    }
    let path = fill(&r.path);
    if !path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&path);
    let query = fill(&r.query);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    out
}

/// A health check's HTTP codes: `200`, `200,202`, `200-299`; each from 200 to 499.
pub fn matcher(codes: &str) -> Option<Vec<(u16, u16)>> {
    let code = |s: &str| s.trim().parse::<u16>().ok().filter(|c| (200..=499).contains(c));
    codes
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((lo, hi)) => Some((code(lo)?, code(hi)?)).filter(|(lo, hi)| lo <= hi),
            None => code(part).map(|c| (c, c)),
        })
        .collect()
}

/// A target group's health check, as the server runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub enabled: bool,
    pub path: String,
    /// `None`: the target's own port.
    pub port: Option<u16>,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy: u32,
    pub unhealthy: u32,
    pub codes: Vec<(u16, u16)>,
}

impl HealthCheck {
    pub fn of(tg: &shapes::TargetGroup) -> HealthCheck {
        let secs = |v: Option<i32>, default: u64| {
            Duration::from_secs(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(default))
        };
        let count = |v: Option<i32>, default: u32| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(default);
        HealthCheck {
            enabled: tg.health_check_enabled != Some(false),
            path: tg.health_check_path.clone().unwrap_or_else(|| "/".to_owned()),
            port: tg.health_check_port.as_deref().and_then(|p| p.parse().ok()),
            interval: secs(tg.health_check_interval_seconds, 30),
            timeout: secs(tg.health_check_timeout_seconds, 5),
            healthy: count(tg.healthy_threshold_count, 5),
            unhealthy: count(tg.unhealthy_threshold_count, 2),
            codes: tg
                .matcher
                .as_ref()
                .and_then(|m| matcher(m.http_code.as_deref()?))
                .unwrap_or_else(|| vec![(200, 200)]),
        }
    }

    pub fn passes(&self, status: u16) -> bool {
        self.codes.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_take_codes_lists_and_ranges_from_200_to_499() {
        assert_eq!(matcher("200"), Some(vec![(200, 200)]));
        assert_eq!(matcher("200,202"), Some(vec![(200, 200), (202, 202)]));
        assert_eq!(matcher("200-299"), Some(vec![(200, 299)]));
        for bad in ["", "199", "500", "299-200", "2xx", "200,"] {
            assert_eq!(matcher(bad), None, "{bad}");
        }
    }

    #[test]
    fn redirects_fill_in_the_request() {
        let incoming = Incoming { protocol: "HTTP", host: "shop.example", port: 8080, path: "/cart", query: "a=1" };
        let keep = Redirect {
            protocol: "#{protocol}".into(),
            host: "#{host}".into(),
            port: "#{port}".into(),
            path: "/#{path}".into(),
            query: "#{query}".into(),
        };
        assert_eq!(location(&keep, &incoming), "http://shop.example:8080/cart?a=1");
        let https = Redirect {
            protocol: "HTTPS".into(),
            port: "443".into(),
            path: "/new/#{path}".into(),
            query: "".into(),
            ..keep
        };
        assert_eq!(location(&https, &incoming), "https://shop.example/new/cart");
    }

    #[test]
    fn forward_actions_name_their_groups_by_weight() {
        let listener = shapes::Listener {
            default_actions: Some(vec![shapes::Action {
                r#type: "forward".into(),
                forward_config: Some(shapes::ForwardActionConfig {
                    target_groups: Some(vec![
                        shapes::TargetGroupTuple { target_group_arn: Some("a".into()), weight: Some(3) },
                        shapes::TargetGroupTuple { target_group_arn: Some("b".into()), weight: None },
                    ]),
                    target_group_stickiness_config: None,
                }),
                target_group_arn: None,
                authenticate_oidc_config: None,
                authenticate_cognito_config: None,
                order: None,
                redirect_config: None,
                fixed_response_config: None,
                jwt_validation_config: None,
            }]),
            ..Default::default()
        };
        assert_eq!(route(&listener), Some(Route::Forward(vec![("a".into(), 3), ("b".into(), 1)])));
        assert_eq!(forwards_to(&listener).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn rule_conditions_match_as_elb_matches_them() {
        let headers = |name: &str| -> Vec<String> {
            if name.eq_ignore_ascii_case("user-agent") { vec!["Mobile Safari".into()] } else { Vec::new() }
        };
        let asked = Asked {
            host: "Shop.Example.com",
            path: "/img/cat.PNG",
            method: "GET",
            query: "size=large&q=red%20shoes&flag",
            headers: &headers,
            source: "192.0.2.7".parse().unwrap(),
        };
        let yes = [
            Condition::Host(vec!["*.example.com".into()]),
            Condition::Path(vec!["/img/*.PNG".into(), "/x".into()]),
            Condition::Path(vec!["/img/c?t.*".into()]),
            Condition::Method(vec!["POST".into(), "GET".into()]),
            Condition::Header("User-Agent".into(), vec!["*mobile*".into()]),
            Condition::Query(vec![(Some("q".into()), "red shoes".into())]),
            Condition::Query(vec![(None, "LARGE".into())]),
            Condition::Source(vec!["192.0.2.0/24".parse().unwrap()]),
        ];
        for c in &yes {
            assert!(c.matches(&asked), "{c:?}");
        }
        let no = [
            Condition::Host(vec!["example.com".into()]),
            Condition::Path(vec!["/img/*.png".into()]),
            Condition::Method(vec!["get".into()]),
            Condition::Header("X-Other".into(), vec!["*".into()]),
            Condition::Query(vec![(Some("size".into()), "small".into())]),
            Condition::Source(vec!["10.0.0.0/8".parse().unwrap(), "2001:db8::/32".parse().unwrap()]),
        ];
        for c in &no {
            assert!(!c.matches(&asked), "{c:?}");
        }
    }
}
