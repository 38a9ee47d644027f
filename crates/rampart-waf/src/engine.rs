//! The WAF engine: a web ACL compiled once ([`WebAcl::compile`]) and a web request decided
//! against it ([`WebAcl::evaluate`]), as AWS WAF decides it. Pure: no I/O, no clock.
//!
//! Rules run in priority order; a rule group runs in place, its rules in its own order, with its
//! own label namespace. Allow and Block end the evaluation, Count goes on; labels a matching rule
//! adds are visible to the rules after it; the default action decides what nothing ended.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-processing-order.html>
//! and `../shared/notes/waf-semantics.md`.

use std::collections::HashMap;
use std::net::IpAddr;

use rampart_shapes::generated::wafv2 as shapes;

pub mod fields;
pub mod hello;
mod markup;
mod needs;
pub mod rate;
pub(crate) mod targeted;
pub mod transform;

use fields::{Field, Request};
use transform::Transform;

/// How an evaluation ended, and what the proxy must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Forward the request, with these headers inserted (already `x-amzn-waf-` prefixed).
    Allow { insert_headers: Vec<(String, String)> },
    /// Answer it: 403 by default, or the rule's custom response.
    Block(Response),
    /// A CAPTCHA (405) or challenge (202) answer, for a request without a token that does: the
    /// proxy adds the interstitial page where the client accepts HTML.
    Interstitial(crate::tokens::Kind, Response),
}

/// A response the WAF answers in the upstream's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What evaluating one request gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    /// The rule that ended the evaluation (`Default_Action` when none did), as WAF logs name it.
    pub terminating_rule: String,
    /// The labels the request collected, fully qualified.
    pub labels: Vec<String>,
    /// The rules whose Count action matched.
    pub counted: Vec<String>,
    /// The metric names of the web ACL's own rules (a rule group's reference, for a rule in the
    /// group) that counted the request, and whether each keeps samples: GetSampledRequests by
    /// their metric finds it, as Count, and the metrics count it.
    pub counted_metrics: Vec<(String, bool)>,
    /// The web ACL's rule that ended the evaluation, as WAF's logs and sampled requests name it.
    pub terminating: Terminating,
    /// How the last CAPTCHA or Challenge rule that matched found the request's token.
    pub token_check: Option<crate::tokens::Checked>,
}

/// The web ACL's own rule that ended an evaluation (or its default action), as WAF's logs name
/// it: a rule group's rule that terminated is named within the group.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminating {
    /// The rule's name, or `Default_Action`.
    pub rule_id: String,
    /// `REGULAR`, `RATE_BASED`, `GROUP`, `MANAGED_RULE_GROUP`, or `DEFAULT` for the default action.
    pub rule_type: &'static str,
    /// The rule's metric name (the web ACL's for its default action): what GetSampledRequests
    /// asks by.
    pub metric: String,
    /// The group (`AWS#NAME` for a managed one, else its ARN) and its rule that terminated.
    pub group: Option<(String, String)>,
    /// `ALLOW`, `BLOCK`, `CAPTCHA` or `CHALLENGE`.
    pub action: &'static str,
    /// Whether the rule (the web ACL, for its default action) keeps samples of the requests it
    /// decides (its VisibilityConfig's SampledRequestsEnabled).
    pub sampled: bool,
    /// The rule that ended it is a rate-based rule: the web ACL's own, or one in a group.
    pub rate_based: bool,
}

/// Why a web ACL cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// What the engine needs besides the web ACL: the sets and groups it references, by ARN.
#[derive(Default)]
pub struct References {
    pub ip_sets: HashMap<String, shapes::IPSet>,
    pub regex_sets: HashMap<String, shapes::RegexPatternSet>,
    pub rule_groups: HashMap<String, shapes::RuleGroup>,
}

/// A web ACL ready to evaluate requests.
#[derive(Debug)]
pub struct WebAcl {
    rules: Vec<CompiledRule>,
    /// The domains the web ACL accepts tokens for besides the request's host.
    token_domains: Vec<String>,
    default: Outcome,
    namespace: String,
    /// The web ACL's metric name, and whether it samples what its default action decides.
    metric: String,
    sampled: bool,
    /// How many distinct (field, transformations) pairs the rules inspect: each request works
    /// out each pair's transformed values once ([`Inspected`]), for every rule that asks.
    slots: usize,
}

#[derive(Debug)]
struct CompiledRule {
    name: String,
    /// The rule's metric name, and whether it samples the requests it decides.
    metric: String,
    sampled: bool,
    /// How WAF's logs name the rule's type, and for a group its id (`AWS#NAME`, or its ARN).
    log: (&'static str, Option<String>),
    statement: Node,
    kind: RuleKind,
    /// Fully qualified labels the rule adds when it matches.
    labels: Vec<String>,
}

#[derive(Debug)]
enum RuleKind {
    Plain(Outcome),
    Group {
        rules: Vec<CompiledRule>,
        /// A managed group's scope-down statement: the group runs only on what it matches.
        scope_down: Option<Node>,
        /// OverrideAction Count: the group's terminating actions count instead.
        count: bool,
        /// Bot Control's token management: the group labels each request it inspects by its
        /// token's challenge and CAPTCHA solves, against the web ACL's immunity times.
        tokens: Option<Immunity>,
    },
}

/// A rule action, compiled.
#[derive(Debug, Clone)]
enum Outcome {
    Allow(Vec<(String, String)>),
    Block(Response),
    Count(Vec<(String, String)>),
    /// CAPTCHA or Challenge: a request whose token was solved within the immunity time (seconds)
    /// goes on as a Count would, with these headers inserted.
    Token(crate::tokens::Kind, u64, Vec<(String, String)>),
}

/// A statement, compiled.
#[derive(Debug)]
enum Node {
    Always,
    Inspect {
        field: Field,
        transforms: Vec<Transform>,
        test: Test,
        /// The test's answer for an empty value (an absent body, a bare `?a=`), decided once.
        on_empty: bool,
        /// Where a request keeps this pair's transformed values (see [`WebAcl::slots`]).
        slot: usize,
    },
    Ip {
        ranges: Ranges,
        forwarded: Option<Forwarded>,
    },
    Label {
        namespace: bool,
        key: String,
        context: String,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Rate(Box<rate::RateRule>),
    /// The countries (ISO 3166-1 alpha-2) the address is in, by the server's geolocation
    /// database; without one, nothing matches.
    Geo {
        countries: Vec<String>,
        forwarded: Option<Forwarded>,
    },
    /// The autonomous systems the address belongs to, likewise.
    Asn {
        asns: Vec<u32>,
        forwarded: Option<Forwarded>,
    },
    /// The client's address is on an IP list the operator imported, named by its managed rule
    /// (the IP reputation groups); without one, nothing matches.
    Listed(String),
    /// A Bot Control rule: decided in [`run`], which labels what it finds (the bot's name, and
    /// whether it is verified) besides the rule's own label. With the group's label namespace.
    Bot(BotTest, String),
}

/// What a Bot Control rule looks for.
#[derive(Debug)]
enum BotTest {
    /// A self-identifying bot of this category.
    Category(&'static str),
    /// A signal of a bot that does not say what it is.
    Signal(&'static str),
    /// A targeted-level test: over the client's token and its traffic.
    Targeted(targeted::Test),
}

#[derive(Debug)]
struct Forwarded {
    header: String,
    fallback_match: bool,
    /// FIRST, LAST or ANY.
    position: String,
}

/// What an inspected (transformed) value is tested with.
#[derive(Debug)]
enum Test {
    Bytes {
        needle: Vec<u8>,
        constraint: Constraint,
    },
    /// A regex, with the bytes a value must hold to be searched ([`needs`]).
    Regex(regex::bytes::Regex, Option<needs::Needs>),
    RegexSet(regex::bytes::RegexSet, Option<needs::Needs>),
    Size {
        op: SizeOp,
        size: i64,
    },
    Sqli {
        high: bool,
    },
    Xss,
}

#[derive(Debug, Clone, Copy)]
enum Constraint {
    Exactly,
    StartsWith,
    EndsWith,
    Contains,
    ContainsWord,
}

#[derive(Debug, Clone, Copy)]
enum SizeOp {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
}

fn unsupported(what: impl Into<String>) -> Unsupported {
    Unsupported(what.into())
}

fn headers(handling: Option<&shapes::CustomRequestHandling>) -> Vec<(String, String)> {
    handling
        .map(|h| h.insert_headers.iter().map(|x| (format!("x-amzn-waf-{}", x.name), x.value.clone())).collect())
        .unwrap_or_default()
}

fn forbidden() -> Response {
    Response { status: 403, headers: Vec::new(), content_type: None, body: b"Forbidden".to_vec() }
}

struct Compiler<'a> {
    refs: &'a References,
    bodies: Option<&'a std::collections::BTreeMap<String, shapes::CustomResponseBody>>,
    /// The web ACL's CAPTCHA and challenge immunity times, for rules that set none.
    immunity: Immunity,
    /// Compiling one of the managed groups Rampart ships, whose IP set references may name the
    /// operator's IP lists ([`crate::managed::LIST_ARN`]).
    managed: bool,
}

/// CAPTCHA and challenge immunity times, in seconds.
#[derive(Debug, Clone, Copy)]
struct Immunity {
    captcha: u64,
    challenge: u64,
}

impl Immunity {
    /// A rule's (or web ACL's) own settings over `inherited`.
    fn of(
        captcha: Option<&shapes::CaptchaConfig>,
        challenge: Option<&shapes::ChallengeConfig>,
        inherited: Immunity,
    ) -> Immunity {
        let seconds = |t: Option<&shapes::ImmunityTimeProperty>| t.and_then(|t| u64::try_from(t.immunity_time).ok());
        Immunity {
            captcha: seconds(captcha.and_then(|c| c.immunity_time_property.as_ref())).unwrap_or(inherited.captcha),
            challenge: seconds(challenge.and_then(|c| c.immunity_time_property.as_ref()))
                .unwrap_or(inherited.challenge),
        }
    }
}

impl Compiler<'_> {
    fn action(&self, a: &shapes::RuleAction, immunity: Immunity) -> Result<Outcome, Unsupported> {
        use crate::tokens::Kind;
        if let Some(allow) = &a.allow {
            return Ok(Outcome::Allow(headers(allow.custom_request_handling.as_ref())));
        }
        if let Some(count) = &a.count {
            return Ok(Outcome::Count(headers(count.custom_request_handling.as_ref())));
        }
        if let Some(block) = &a.block {
            return Ok(Outcome::Block(self.block(block)));
        }
        if let Some(c) = &a.captcha {
            return Ok(Outcome::Token(Kind::Captcha, immunity.captcha, headers(c.custom_request_handling.as_ref())));
        }
        if let Some(c) = &a.challenge {
            let h = headers(c.custom_request_handling.as_ref());
            return Ok(Outcome::Token(Kind::Challenge, immunity.challenge, h));
        }
        Err(unsupported("a rule action with no action"))
    }

    fn block(&self, block: &shapes::BlockAction) -> Response {
        let Some(custom) = &block.custom_response else { return forbidden() };
        let body = custom.custom_response_body_key.as_ref().and_then(|k| self.bodies.and_then(|b| b.get(k)));
        Response {
            status: u16::try_from(custom.response_code).unwrap_or(403),
            headers: custom
                .response_headers
                .iter()
                .flatten()
                .map(|h| (format!("x-amzn-waf-{}", h.name), h.value.clone()))
                .collect(),
            content_type: body.map(|b| content_type(&b.content_type).to_owned()),
            body: body.map(|b| b.content.clone().into_bytes()).unwrap_or_default(),
        }
    }

    fn statement(&self, s: &shapes::Statement, context: &str) -> Result<Node, Unsupported> {
        let inspect = |field: &shapes::FieldToMatch, t: &[shapes::TextTransformation], test: Test| {
            let on_empty = test_value(&test, b"");
            Ok(Node::Inspect { field: Field::compile(field)?, transforms: transforms(t)?, test, on_empty, slot: 0 })
        };
        if let Some(b) = &s.byte_match_statement {
            let constraint = match b.positional_constraint.as_str() {
                "EXACTLY" => Constraint::Exactly,
                "STARTS_WITH" => Constraint::StartsWith,
                "ENDS_WITH" => Constraint::EndsWith,
                "CONTAINS" => Constraint::Contains,
                "CONTAINS_WORD" => Constraint::ContainsWord,
                other => return Err(unsupported(format!("positional constraint {other}"))),
            };
            let test = Test::Bytes { needle: b.search_string.0.clone(), constraint };
            return inspect(&b.field_to_match, &b.text_transformations, test);
        }
        if let Some(r) = &s.regex_match_statement {
            let regex = crate::sets::compile_regex(&r.regex_string).map_err(unsupported)?;
            let needs = needs::Needs::of([r.regex_string.as_str()]);
            return inspect(&r.field_to_match, &r.text_transformations, Test::Regex(regex, needs));
        }
        if let Some(r) = &s.regex_pattern_set_reference_statement {
            let set =
                self.refs.regex_sets.get(&r.arn).ok_or_else(|| unsupported(format!("regex pattern set {}", r.arn)))?;
            let patterns: Vec<&str> =
                set.regular_expression_list.iter().flatten().filter_map(|p| p.regex_string.as_deref()).collect();
            let regexes = regex::bytes::RegexSetBuilder::new(&patterns)
                .size_limit(1 << 22)
                .build()
                .map_err(|e| unsupported(e.to_string()))?;
            let needs = needs::Needs::of(patterns.iter().copied());
            return inspect(&r.field_to_match, &r.text_transformations, Test::RegexSet(regexes, needs));
        }
        if let Some(q) = &s.sqli_match_statement {
            let high = q.sensitivity_level.as_deref() == Some("HIGH");
            return inspect(&q.field_to_match, &q.text_transformations, Test::Sqli { high });
        }
        if let Some(x) = &s.xss_match_statement {
            return inspect(&x.field_to_match, &x.text_transformations, Test::Xss);
        }
        if let Some(z) = &s.size_constraint_statement {
            let op = match z.comparison_operator.as_str() {
                "EQ" => SizeOp::Eq,
                "NE" => SizeOp::Ne,
                "LE" => SizeOp::Le,
                "LT" => SizeOp::Lt,
                "GE" => SizeOp::Ge,
                "GT" => SizeOp::Gt,
                other => return Err(unsupported(format!("comparison operator {other}"))),
            };
            return inspect(&z.field_to_match, &z.text_transformations, Test::Size { op, size: z.size });
        }
        if let Some(i) = &s.ip_set_reference_statement {
            if let (true, Some(list)) = (self.managed, i.arn.strip_prefix(crate::managed::LIST_ARN)) {
                return Ok(Node::Listed(list.to_owned()));
            }
            if let (true, Some(test)) = (self.managed, i.arn.strip_prefix(crate::managed::BOT_ARN)) {
                let find = |table: &'static [(&'static str, &'static str)], name: &str| {
                    table.iter().map(|(_, v)| *v).find(|v| *v == name)
                };
                let found = match test.split_once('/') {
                    Some(("category", c)) => find(crate::bots::CATEGORIES, c).map(BotTest::Category),
                    Some(("signal", c)) => find(crate::bots::SIGNALS, c).map(BotTest::Signal),
                    Some(("targeted", t)) => targeted::Test::named(t).map(BotTest::Targeted),
                    _ => None,
                };
                let found = found.ok_or_else(|| unsupported(format!("Bot Control test {test}")))?;
                return Ok(Node::Bot(found, context.to_owned()));
            }
            let set = self.refs.ip_sets.get(&i.arn).ok_or_else(|| unsupported(format!("IP set {}", i.arn)))?;
            let ranges = Ranges::of(set.addresses.iter().filter_map(|a| a.parse::<ipnet::IpNet>().ok()));
            let forwarded = i.ip_set_forwarded_ip_config.as_ref().map(|f| Forwarded {
                header: f.header_name.to_ascii_lowercase(),
                fallback_match: f.fallback_behavior == "MATCH",
                position: f.position.clone(),
            });
            return Ok(Node::Ip { ranges, forwarded });
        }
        if let Some(l) = &s.label_match_statement {
            return Ok(Node::Label {
                namespace: l.scope == "NAMESPACE",
                key: l.key.clone(),
                context: context.to_owned(),
            });
        }
        if let Some(a) = &s.and_statement {
            return Ok(Node::And(a.statements.iter().map(|n| self.statement(n, context)).collect::<Result<_, _>>()?));
        }
        if let Some(o) = &s.or_statement {
            return Ok(Node::Or(o.statements.iter().map(|n| self.statement(n, context)).collect::<Result<_, _>>()?));
        }
        if let Some(n) = &s.not_statement {
            return Ok(Node::Not(Box::new(self.statement(&n.statement, context)?)));
        }
        // GeoMatch and AsnMatch read the first address of a forwarded header, if configured.
        // See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-geo-match.html>.
        let first_of = |f: &shapes::ForwardedIPConfig| Forwarded {
            header: f.header_name.to_ascii_lowercase(),
            fallback_match: f.fallback_behavior == "MATCH",
            position: "FIRST".to_owned(),
        };
        if let Some(g) = &s.geo_match_statement {
            return Ok(Node::Geo {
                countries: g.country_codes.clone().unwrap_or_default(),
                forwarded: g.forwarded_ip_config.as_ref().map(first_of),
            });
        }
        if let Some(a) = &s.asn_match_statement {
            return Ok(Node::Asn {
                asns: a.asn_list.iter().filter_map(|n| u32::try_from(*n).ok()).collect(),
                forwarded: a.forwarded_ip_config.as_ref().map(first_of),
            });
        }
        if let Some(r) = &s.rate_based_statement {
            let scope_down = r.scope_down_statement.as_deref().map(|d| self.statement(d, context)).transpose()?;
            return Ok(Node::Rate(Box::new(rate::RateRule::compile(r, scope_down)?)));
        }
        if s.managed_rule_group_statement.is_some() {
            return Err(unsupported("a managed rule group statement can't be nested"));
        }
        Err(unsupported("a statement of no known type"))
    }

    fn rules(
        &self,
        rules: &[shapes::Rule],
        context: &str,
        overrides: &Overrides<'_>,
    ) -> Result<Vec<CompiledRule>, Unsupported> {
        let mut sorted: Vec<&shapes::Rule> = rules.iter().collect();
        sorted.sort_by_key(|r| r.priority);
        let mut out = Vec::with_capacity(sorted.len());
        for rule in sorted {
            let labels = rule.rule_labels.iter().flatten().map(|l| qualify(context, &l.name)).collect();
            let group =
                match (&rule.statement.rule_group_reference_statement, &rule.statement.managed_rule_group_statement) {
                    (Some(g), _) => {
                        let group = self
                            .refs
                            .rule_groups
                            .get(&g.arn)
                            .ok_or_else(|| unsupported(format!("rule group {}", g.arn)))?;
                        let inner = Overrides {
                            actions: g.rule_action_overrides.as_deref(),
                            excluded: g.excluded_rules.as_deref(),
                        };
                        Some((group, inner, None, ("GROUP", g.arn.clone())))
                    }
                    (None, Some(m)) => {
                        let group = crate::managed::managed_rule_group(&m.vendor_name, &m.name)
                            .ok_or_else(|| unsupported(format!("managed rule group {}:{}", m.vendor_name, m.name)))?;
                        // Overrides naming rules the group does not have are ignored, as AWS ignores them.
                        let inner = Overrides {
                            actions: m.rule_action_overrides.as_deref(),
                            excluded: m.excluded_rules.as_deref(),
                        };
                        let id = format!("{}#{}", m.vendor_name, m.name);
                        Some((group, inner, m.scope_down_statement.as_deref(), ("MANAGED_RULE_GROUP", id)))
                    }
                    (None, None) => None,
                };
            let metric = rule.visibility_config.metric_name.clone();
            let sampled = rule.visibility_config.sampled_requests_enabled;
            if let Some((group, inner, scope_down, (kind, id))) = group {
                // The group's rules run in its own label namespace, with its own response bodies.
                let namespace = group.label_namespace.clone().unwrap_or_default();
                let own = Compiler {
                    refs: self.refs,
                    bodies: group.custom_response_bodies.as_ref(),
                    immunity: self.immunity,
                    managed: kind == "MANAGED_RULE_GROUP",
                };
                let mut rules = own.rules(group.rules.as_deref().unwrap_or_default(), &namespace, &inner)?;
                let scope_down = scope_down.map(|d| self.statement(d, context)).transpose()?;
                let count = rule.override_action.as_ref().is_some_and(|o| o.count.is_some());
                let bot_control = id == format!("AWS#{}", crate::managed::BOT_CONTROL);
                // Bot Control's `TGT_` rules run at the targeted inspection level only.
                let managed = rule.statement.managed_rule_group_statement.as_deref();
                if bot_control && !managed.is_some_and(crate::managed::targeted) {
                    rules.retain(|r| !r.name.starts_with("TGT_"));
                }
                let tokens = (kind == "MANAGED_RULE_GROUP" && bot_control).then_some(self.immunity);
                out.push(CompiledRule {
                    name: rule.name.clone(),
                    metric,
                    sampled,
                    log: (kind, Some(id)),
                    statement: Node::Always,
                    kind: RuleKind::Group { rules, scope_down, count, tokens },
                    labels,
                });
                continue;
            }
            let action = match overrides.action(&rule.name) {
                Some(a) => a.clone(),
                None => rule.action.clone().ok_or_else(|| unsupported(format!("rule {} has no action", rule.name)))?,
            };
            let immunity = Immunity::of(rule.captcha_config.as_ref(), rule.challenge_config.as_ref(), self.immunity);
            let outcome = if overrides.excluded(&rule.name) {
                Outcome::Count(Vec::new())
            } else {
                self.action(&action, immunity)?
            };
            let kind = if rule.statement.rate_based_statement.is_some() { "RATE_BASED" } else { "REGULAR" };
            out.push(CompiledRule {
                name: rule.name.clone(),
                metric,
                sampled,
                log: (kind, None),
                statement: self.statement(&rule.statement, context)?,
                kind: RuleKind::Plain(outcome),
                labels,
            });
        }
        Ok(out)
    }
}

/// A rule group reference's changes to its rules' actions.
struct Overrides<'a> {
    actions: Option<&'a [shapes::RuleActionOverride]>,
    excluded: Option<&'a [shapes::ExcludedRule]>,
}

impl Overrides<'_> {
    fn action(&self, rule: &str) -> Option<&shapes::RuleAction> {
        self.actions?.iter().find(|o| o.name == rule).map(|o| &o.action_to_use)
    }

    fn excluded(&self, rule: &str) -> bool {
        self.excluded.is_some_and(|e| e.iter().any(|x| x.name == rule))
    }
}

fn content_type(kind: &str) -> &'static str {
    match kind {
        "APPLICATION_JSON" => "application/json",
        "TEXT_HTML" => "text/html",
        _ => "text/plain",
    }
}

fn transforms(t: &[shapes::TextTransformation]) -> Result<Vec<Transform>, Unsupported> {
    let mut sorted: Vec<&shapes::TextTransformation> = t.iter().collect();
    sorted.sort_by_key(|x| x.priority);
    sorted
        .into_iter()
        .map(|x| Transform::parse(&x.r#type).ok_or_else(|| unsupported(format!("text transformation {}", x.r#type))))
        .filter(|x| !matches!(x, Ok(Transform::None)))
        .collect()
}

/// A label as written in a rule, fully qualified in its context's namespace.
fn qualify(context: &str, name: &str) -> String {
    if name.starts_with("awswaf:") { name.to_owned() } else { format!("{context}{name}") }
}

impl WebAcl {
    /// Compiles a web ACL with the sets and groups it references. A feature the engine does not
    /// evaluate (a managed group Rampart does not ship) is refused, never skipped: a web ACL is
    /// enforced whole or not at all. Geo and ASN matches ask the request's geolocation database
    /// ([`fields::Locate`]); without one they match nothing.
    pub fn compile(acl: &shapes::WebACL, refs: &References) -> Result<WebAcl, Unsupported> {
        let namespace = acl.label_namespace.clone().unwrap_or_default();
        let defaults =
            Immunity { captcha: crate::tokens::DEFAULT_IMMUNITY, challenge: crate::tokens::DEFAULT_IMMUNITY };
        let immunity = Immunity::of(acl.captcha_config.as_ref(), acl.challenge_config.as_ref(), defaults);
        let compiler = Compiler { refs, bodies: acl.custom_response_bodies.as_ref(), immunity, managed: false };
        let mut rules = compiler.rules(
            acl.rules.as_deref().unwrap_or_default(),
            &namespace,
            &Overrides { actions: None, excluded: None },
        )?;
        let default = match (&acl.default_action.allow, &acl.default_action.block) {
            (Some(a), _) => Outcome::Allow(headers(a.custom_request_handling.as_ref())),
            (None, Some(b)) => Outcome::Block(compiler.block(b)),
            (None, None) => return Err(unsupported("a default action with no action")),
        };
        let (metric, sampled) =
            (acl.visibility_config.metric_name.clone(), acl.visibility_config.sampled_requests_enabled);
        let token_domains = acl.token_domains.clone().unwrap_or_default();
        let mut slots = HashMap::new();
        for rule in &mut rules {
            rule.assign_slots(&mut slots);
        }
        Ok(WebAcl { rules, token_domains, default, namespace, metric, sampled, slots: slots.len() })
    }

    /// Decides a request.
    pub fn evaluate(&self, request: &Request<'_>) -> Verdict {
        let mut memo = Vec::new();
        memo.resize_with(self.slots, || None);
        let mut state = State {
            memo,
            labels: Vec::new(),
            counted: Vec::new(),
            inserted: Vec::new(),
            token_domains: &self.token_domains,
            domains: None,
            token_check: None,
            counted_top: Vec::new(),
            bot: None,
        };
        let result = run(&self.rules, request, &mut state, (false, true));
        // The web ACL's rules that counted the request, apart from one that then ended it: their
        // metrics sample it too, as Count.
        let counted_metrics: Vec<(String, bool)> = state
            .counted_top
            .iter()
            .filter(|i| result.as_ref().is_none_or(|(_, _, at)| at != *i))
            .filter_map(|i| self.rules.get(*i))
            .map(|r| (r.metric.clone(), r.sampled))
            .collect();
        if let Some((decision, rule, at)) = result {
            let top = self.rules.get(at);
            let terminating = Terminating {
                rule_id: top.map_or_else(|| rule.clone(), |t| t.name.clone()),
                rule_type: top.map_or("REGULAR", |t| t.log.0),
                metric: top.map(|t| t.metric.clone()).unwrap_or_default(),
                group: top.and_then(|t| t.log.1.clone()).map(|id| (id, rule.clone())),
                action: action_name(&decision),
                sampled: top.is_some_and(|t| t.sampled),
                rate_based: top.is_some_and(|t| t.ended_by_rate_rule(&rule)),
            };
            return Verdict {
                decision,
                terminating_rule: rule,
                labels: state.labels,
                counted: state.counted,
                counted_metrics,
                terminating,
                token_check: state.token_check,
            };
        }
        let decision = match &self.default {
            Outcome::Allow(h) => {
                state.inserted.extend(h.iter().cloned());
                Decision::Allow { insert_headers: state.inserted }
            }
            Outcome::Block(r) => Decision::Block(r.clone()),
            _ => Decision::Block(forbidden()),
        };
        let terminating = Terminating {
            rule_id: "Default_Action".to_owned(),
            rule_type: "DEFAULT",
            metric: self.metric.clone(),
            group: None,
            action: action_name(&decision),
            sampled: self.sampled,
            rate_based: false,
        };
        Verdict {
            decision,
            terminating_rule: "Default_Action".to_owned(),
            labels: state.labels,
            counted: state.counted,
            counted_metrics,
            terminating,
            token_check: state.token_check,
        }
    }

    /// The domain a token for `host` (a `Host` header) is issued for under this web ACL's token
    /// domains.
    pub fn token_domain(&self, host: &str) -> String {
        crate::tokens::token_domain(host, &self.token_domains)
    }

    /// The web ACL's rate-based rules, its groups' included, always in the same order: the same
    /// web ACL compiled on another node numbers them alike.
    pub fn rate_rules(&self) -> Vec<&rate::RateRule> {
        let mut out = Vec::new();
        self.rules.iter().for_each(|r| r.rate_rules(&mut out));
        out
    }

    /// The web ACL's Bot Control targeted-level tests (a group's, in order), always in the same
    /// order, as [`WebAcl::rate_rules`].
    pub(crate) fn targeted_tests(&self) -> Vec<&targeted::Test> {
        let mut out = Vec::new();
        self.rules.iter().for_each(|r| r.targeted_tests(&mut out));
        out
    }

    /// The web ACL's metric name.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// The namespace of the labels the web ACL's own rules add.
    pub fn label_namespace(&self) -> &str {
        &self.namespace
    }
}

struct State<'a, 'r> {
    /// Each (field, transformations) pair's values, once a rule inspected it.
    memo: Vec<Option<Inspected<'r>>>,
    labels: Vec<String>,
    counted: Vec<String>,
    inserted: Vec<(String, String)>,
    /// The web ACL's token domains.
    token_domains: &'a [String],
    /// The domains a token may be for (the request's host, and the token domains it is under),
    /// once a token is checked: most requests meet no CAPTCHA, challenge or Bot Control.
    domains: Option<Vec<String>>,
    token_check: Option<crate::tokens::Checked>,
    /// The web ACL's own rules, by index, that counted the request.
    counted_top: Vec<usize>,
    /// The bot the user agent names and whether the operator's list verifies it, once a Bot
    /// Control rule asked.
    bot: Option<(Option<crate::bots::Bot>, bool)>,
}

impl State<'_, '_> {
    fn domains(&mut self, request: &Request<'_>) -> &[String] {
        let token_domains = self.token_domains;
        self.domains.get_or_insert_with(|| {
            let host = request.header("host").map(String::from_utf8_lossy);
            crate::tokens::acceptable_domains(host.as_deref().unwrap_or_default(), token_domains)
        })
    }

    fn bot(&mut self, request: &Request<'_>) -> (Option<crate::bots::Bot>, bool) {
        *self.bot.get_or_insert_with(|| {
            let agent = request.header("user-agent").map(String::from_utf8_lossy);
            let bot = agent.as_deref().and_then(crate::bots::classify);
            let verified = bot.is_some_and(|b| {
                request.ip_lists.is_some_and(|l| l.listed(&crate::bots::verification_list(&b), request.client_ip))
            });
            (bot, verified)
        })
    }
}

/// Decides a Bot Control rule: whether its action applies. A bot of the rule's category is
/// labelled with its name; a verified one also as verified, and let be. Signals are not looked
/// for on verified bots, and a user agent no browser sends is a signal only of bots that do not
/// name themselves. See <https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-bot.html>.
/// Targeted-level tests skip verified bots, as AWS's do.
fn bot_rule(test: &BotTest, namespace: &str, rule: &CompiledRule, request: &Request<'_>, state: &mut State) -> bool {
    let (bot, verified) = state.bot(request);
    let agent = request.header("user-agent").map(String::from_utf8_lossy);
    match test {
        BotTest::Targeted(_) if verified => false,
        BotTest::Targeted(t) => {
            let accepted = state.labels.iter().any(|l| l == "awswaf:managed:token:accepted");
            let seen = (request.client_ip, request.now, request.token, request.header("user-agent"));
            let found = t.decide(seen, accepted, namespace, &mut state.labels);
            if found {
                state.labels.extend(rule.labels.iter().cloned());
            }
            found
        }
        BotTest::Category(category) => {
            let Some(bot) = bot.filter(|b| b.category == *category) else { return false };
            state.labels.extend(rule.labels.iter().cloned());
            state.labels.push(format!("{namespace}bot:name:{}", bot.name));
            if verified {
                state.labels.push(format!("{namespace}bot:verified"));
                return false;
            }
            true
        }
        BotTest::Signal(_) if verified => false,
        BotTest::Signal(signal) => {
            let hints = request.header("sec-ch-ua").map(String::from_utf8_lossy);
            let found = match *signal {
                "automated_browser" => {
                    crate::bots::automated_browser(agent.as_deref().unwrap_or_default(), hints.as_deref())
                }
                "known_bot_data_center" => {
                    request.ip_lists.is_some_and(|l| l.listed(crate::bots::DATA_CENTER_LIST, request.client_ip))
                }
                _ => bot.is_none() && crate::bots::non_browser(agent.as_deref()),
            };
            if found {
                state.labels.extend(rule.labels.iter().cloned());
            }
            found
        }
    }
}

/// How WAF's logs name a decision's action.
fn action_name(decision: &Decision) -> &'static str {
    match decision {
        Decision::Allow { .. } => "ALLOW",
        Decision::Block(_) => "BLOCK",
        Decision::Interstitial(crate::tokens::Kind::Captcha, _) => "CAPTCHA",
        Decision::Interstitial(crate::tokens::Kind::Challenge, _) => "CHALLENGE",
    }
}

impl CompiledRule {
    /// Numbers the (field, transformations) pairs the rule inspects, the same pair the same
    /// number across the web ACL.
    fn assign_slots(&mut self, slots: &mut HashMap<String, usize>) {
        self.statement.assign_slots(slots);
        if let RuleKind::Group { rules, scope_down, .. } = &mut self.kind {
            for rule in rules {
                rule.assign_slots(slots);
            }
            if let Some(d) = scope_down {
                d.assign_slots(slots);
            }
        }
    }
}

impl CompiledRule {
    /// Whether what ended an evaluation in this rule (named `rule`: this one, or a rule of its
    /// group) is a rate-based rule.
    fn ended_by_rate_rule(&self, rule: &str) -> bool {
        match &self.kind {
            RuleKind::Group { rules, .. } => {
                rules.iter().find(|r| r.name == rule).is_some_and(|r| matches!(r.statement, Node::Rate(_)))
            }
            RuleKind::Plain(_) => matches!(self.statement, Node::Rate(_)),
        }
    }

    /// The targeted-level tests of the rule (a group's, in order), appended to `out`.
    fn targeted_tests<'a>(&'a self, out: &mut Vec<&'a targeted::Test>) {
        if let Node::Bot(BotTest::Targeted(t), _) = &self.statement {
            out.push(t);
        }
        if let RuleKind::Group { rules, .. } = &self.kind {
            rules.iter().for_each(|r| r.targeted_tests(out));
        }
    }

    /// The rate-based rules of the rule (a group's, in order), appended to `out`.
    fn rate_rules<'a>(&'a self, out: &mut Vec<&'a rate::RateRule>) {
        self.statement.rate_rules(out);
        if let RuleKind::Group { rules, .. } = &self.kind {
            rules.iter().for_each(|r| r.rate_rules(out));
        }
    }
}

impl Node {
    fn rate_rules<'a>(&'a self, out: &mut Vec<&'a rate::RateRule>) {
        match self {
            Node::Rate(r) => out.push(r),
            Node::And(nodes) | Node::Or(nodes) => nodes.iter().for_each(|n| n.rate_rules(out)),
            Node::Not(n) => n.rate_rules(out),
            _ => {}
        }
    }

    fn assign_slots(&mut self, slots: &mut HashMap<String, usize>) {
        match self {
            Node::Inspect { field, transforms, slot, .. } => {
                let next = slots.len();
                *slot = *slots.entry(format!("{field:?} {transforms:?}")).or_insert(next);
            }
            Node::And(nodes) | Node::Or(nodes) => nodes.iter_mut().for_each(|n| n.assign_slots(slots)),
            Node::Not(n) => n.assign_slots(slots),
            Node::Rate(r) => r.assign_slots(slots),
            _ => {}
        }
    }
}

/// Runs rules in order; the decision and rule that ended it, if one did, with the index of the
/// rule of `rules` it came from (a group's, for one of the group's rules). With `count`, a group
/// whose override is Count: its terminating actions only count.
fn run<'r>(
    rules: &[CompiledRule],
    request: &Request<'r>,
    state: &mut State<'_, 'r>,
    (count, top): (bool, bool),
) -> Option<(Decision, String, usize)> {
    // At the web ACL's own level: which of its rules counted a request (by index), for sampling.
    let mut watching: Option<(usize, usize)> = None;
    for (at, rule) in rules.iter().enumerate() {
        if top {
            note_counted(state, watching.replace((at, state.counted.len())));
        }
        match &rule.kind {
            RuleKind::Group { rules, scope_down, count: group_count, tokens } => {
                if scope_down.as_ref().is_some_and(|d| !matches(d, request, &state.labels, &mut state.memo)) {
                    continue;
                }
                if let Some(immunity) = tokens {
                    token_labels(request, state, *immunity);
                }
                if let Some((decision, name, _)) = run(rules, request, state, (count || *group_count, false)) {
                    state.labels.extend(rule.labels.iter().cloned());
                    return Some((decision, name, at));
                }
            }
            RuleKind::Plain(outcome) => {
                if request.locate.is_some() {
                    geo_labels(&rule.statement, request, &mut state.labels);
                }
                if let Node::Bot(test, namespace) = &rule.statement {
                    if !bot_rule(test, namespace, rule, request, state) {
                        continue;
                    }
                } else if !matches(&rule.statement, request, &state.labels, &mut state.memo) {
                    continue;
                } else {
                    state.labels.extend(rule.labels.iter().cloned());
                }
                let outcome =
                    if count && !matches!(outcome, Outcome::Count(_)) { &Outcome::Count(Vec::new()) } else { outcome };
                match outcome {
                    Outcome::Count(h) => {
                        state.counted.push(rule.name.clone());
                        state.inserted.extend(h.iter().cloned());
                    }
                    Outcome::Allow(h) => {
                        let mut insert_headers = std::mem::take(&mut state.inserted);
                        insert_headers.extend(h.iter().cloned());
                        return Some((Decision::Allow { insert_headers }, rule.name.clone(), at));
                    }
                    Outcome::Block(r) => return Some((Decision::Block(r.clone()), rule.name.clone(), at)),
                    Outcome::Token(kind, immunity, h) => {
                        let checked =
                            crate::tokens::check(request.token, *kind, *immunity, request.now, state.domains(request));
                        let passed = checked.response_code.is_none();
                        state.token_check = Some(checked);
                        if !passed {
                            return Some((Decision::Interstitial(*kind, interstitial(*kind)), rule.name.clone(), at));
                        }
                        // A valid token: like Count, with the action's labels and headers.
                        state.counted.push(rule.name.clone());
                        state.inserted.extend(h.iter().cloned());
                    }
                }
            }
        }
    }
    note_counted(state, watching);
    None
}

/// Bot Control's token management labels, as AWS names them: the client session's
/// `awswaf:managed:token:id:…`, then for the token's challenge (`awswaf:managed:token:`) and its
/// CAPTCHA (`awswaf:managed:captcha:`) each `accepted` (solved, unexpired, for the request's
/// domain), `absent` (no token), or `rejected` with its reason: `rejected:not_solved` (a token
/// without that solve), `rejected:expired`, `rejected:domain_mismatch` or `rejected:invalid`
/// (not a token of this server's).
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens-labeling.html>.
fn token_labels(request: &Request<'_>, state: &mut State, immunity: Immunity) {
    use crate::tokens::{Kind, Presented, check};
    let mut labels = Vec::with_capacity(4);
    if let Presented::Valid(token) = request.token {
        labels.push(format!("awswaf:managed:token:id:{}", token.id));
    }
    for (kind, prefix, seconds) in [
        (Kind::Challenge, "awswaf:managed:token:", immunity.challenge),
        (Kind::Captcha, "awswaf:managed:captcha:", immunity.captcha),
    ] {
        if matches!(request.token, Presented::Absent) {
            labels.push(format!("{prefix}absent"));
            continue;
        }
        match check(request.token, kind, seconds, request.now, state.domains(request)).failure_reason {
            None => labels.push(format!("{prefix}accepted")),
            Some(reason) => {
                labels.push(format!("{prefix}rejected"));
                labels.push(format!("{prefix}rejected:{}", rejected_reason(reason)));
            }
        }
    }
    for label in labels {
        if !state.labels.contains(&label) {
            state.labels.push(label);
        }
    }
}

/// The label name of a token check's failure reason, for a token that was there.
fn rejected_reason(failure: &str) -> &'static str {
    match failure {
        "TOKEN_EXPIRED" => "expired",
        "TOKEN_DOMAIN_MISMATCH" => "domain_mismatch",
        "TOKEN_INVALID" => "invalid",
        _ => "not_solved",
    }
}

/// Notes that the web ACL's rule `at` counted the request, if the count grew from `before`.
fn note_counted(state: &mut State, watched: Option<(usize, usize)>) {
    if let Some((at, before)) = watched
        && state.counted.len() > before
    {
        state.counted_top.push(at);
    }
}

/// CAPTCHA answers 405 and a challenge 202, each with `x-amzn-waf-action`; the page itself is
/// the proxy's to add ([`crate::tokens::puzzle::page`]), for clients that accept HTML.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-captcha-and-challenge-actions.html>.
fn interstitial(kind: crate::tokens::Kind) -> Response {
    let (status, action) = match kind {
        crate::tokens::Kind::Captcha => (405, "captcha"),
        crate::tokens::Kind::Challenge => (202, "challenge"),
    };
    Response {
        status,
        headers: vec![("x-amzn-waf-action".to_owned(), action.to_owned())],
        content_type: None,
        body: Vec::new(),
    }
}

/// A (field, transformations) pair as a request has it: its transformed values, or the match or
/// no match that its oversize handling, or the field's absence, decides.
enum Inspected<'r> {
    Match,
    NoMatch,
    Values(Vec<std::borrow::Cow<'r, [u8]>>),
}

impl<'r> Inspected<'r> {
    fn of(field: &Field, transforms: &[Transform], request: &Request<'r>) -> Inspected<'r> {
        match field.values(request) {
            fields::Values::Match => Inspected::Match,
            fields::Values::NoMatch => Inspected::NoMatch,
            fields::Values::Inspect(values) => Inspected::Values(
                values
                    .into_iter()
                    .map(|v| match transform::apply_all(transforms, &v) {
                        std::borrow::Cow::Owned(changed) => std::borrow::Cow::Owned(changed),
                        // Borrowed: the transformations left the value as it was.
                        std::borrow::Cow::Borrowed(_) => v,
                    })
                    .collect(),
            ),
        }
    }

    fn test(&self, test: &Test, on_empty: bool) -> bool {
        match self {
            Inspected::Match => true,
            Inspected::NoMatch => false,
            Inspected::Values(values) => {
                values.iter().any(|v| if v.is_empty() { on_empty } else { test_value(test, v) })
            }
        }
    }
}

fn matches<'r>(node: &Node, request: &Request<'r>, labels: &[String], memo: &mut [Option<Inspected<'r>>]) -> bool {
    match node {
        Node::Always => true,
        Node::Geo { countries, forwarded } => match address_of(forwarded.as_ref(), request) {
            Ok(ip) => request.locate.and_then(|l| l.country(ip)).is_some_and(|c| countries.contains(&c)),
            Err(fallback) => fallback,
        },
        Node::Asn { asns, forwarded } => match address_of(forwarded.as_ref(), request) {
            Ok(ip) => request.locate.and_then(|l| l.asn(ip)).is_some_and(|a| asns.contains(&a)),
            Err(fallback) => fallback,
        },
        Node::And(all) => all.iter().all(|n| matches(n, request, labels, memo)),
        Node::Or(any) => any.iter().any(|n| matches(n, request, labels, memo)),
        Node::Not(n) => !matches(n, request, labels, memo),
        Node::Rate(r) => r.over(request, labels, memo),
        Node::Listed(list) => request.ip_lists.is_some_and(|l| l.listed(list, request.client_ip)),
        // Bot Control's rules are decided in `run`, never nested.
        Node::Bot(..) => false,
        Node::Label { namespace, key, context } => labels.iter().any(|l| label_matches(l, key, *namespace, context)),
        Node::Ip { ranges, forwarded } => ip_matches(ranges, forwarded.as_ref(), request),
        Node::Inspect { field, transforms, test, on_empty, slot } => match memo.get_mut(*slot) {
            Some(kept) => kept.get_or_insert_with(|| Inspected::of(field, transforms, request)).test(test, *on_empty),
            None => Inspected::of(field, transforms, request).test(test, *on_empty),
        },
    }
}

/// An IP set's blocks as sorted, merged address ranges (IPv4 mapped into IPv6), searched in
/// logarithmic time.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ranges(Vec<(u128, u128)>);

fn number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl Ranges {
    /// The ranges of some networks, merged.
    pub fn of(nets: impl Iterator<Item = ipnet::IpNet>) -> Ranges {
        let mut ranges: Vec<(u128, u128)> = nets.map(|n| (number(n.network()), number(n.broadcast()))).collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Ranges(merged)
    }

    /// The ranges of an IP list as feeds publish them: an address or CIDR block first on each
    /// line, anything after it (`; SBL123`, a comment) ignored, `#` and `;` lines comments. With
    /// the number of lines that named no address or block.
    pub fn parse_list(text: &str) -> (Ranges, usize) {
        let mut skipped = 0;
        let nets: Vec<ipnet::IpNet> = text
            .lines()
            .filter_map(|line| {
                let first = line.trim_start().split(|c: char| c.is_whitespace() || c == ';' || c == ',').next()?;
                if first.is_empty() || first.starts_with('#') {
                    return None;
                }
                let net =
                    first.parse::<ipnet::IpNet>().ok().or_else(|| first.parse::<IpAddr>().ok().map(ipnet::IpNet::from));
                if net.is_none() {
                    skipped += 1;
                }
                net
            })
            .collect();
        (Ranges::of(nets.into_iter()), skipped)
    }

    /// How many ranges, once merged.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an address is in one of the ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let n = number(ip);
        let after = self.0.partition_point(|(start, _)| *start <= n);
        after.checked_sub(1).and_then(|i| self.0.get(i)).is_some_and(|(_, end)| n <= *end)
    }
}

/// The labels a geo match statement adds to every request it inspects, matched or not:
/// `awswaf:clientip:geo:region:<country>-<region>` (from a City database) and
/// `awswaf:clientip:geo:country:<code>`, or `awswaf:forwardedip:…` for a forwarded header's
/// address.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-geo-match.html>.
fn geo_labels(node: &Node, request: &Request<'_>, labels: &mut Vec<String>) {
    match node {
        Node::Geo { forwarded, .. } => {
            let Some(locate) = request.locate else { return };
            let Ok(ip) = address_of(forwarded.as_ref(), request) else { return };
            let Some(country) = locate.country(ip) else { return };
            let source = if forwarded.is_some() { "forwardedip" } else { "clientip" };
            // The region where the database knows it (a City database's first subdivision).
            let region = locate.region(ip).map(|r| format!("awswaf:{source}:geo:region:{country}-{r}"));
            for label in region.into_iter().chain([format!("awswaf:{source}:geo:country:{country}")]) {
                if !labels.contains(&label) {
                    labels.push(label);
                }
            }
        }
        Node::And(all) | Node::Or(all) => all.iter().for_each(|n| geo_labels(n, request, labels)),
        Node::Not(n) => geo_labels(n, request, labels),
        _ => {}
    }
}

/// The address a geo or ASN match looks up: the client's, or the first of the forwarded header;
/// `Err` with the fallback's answer where the header is missing or holds no address.
fn address_of(forwarded: Option<&Forwarded>, request: &Request<'_>) -> Result<IpAddr, bool> {
    let Some(f) = forwarded else { return Ok(request.client_ip) };
    let first = request.header(&f.header).and_then(|v| v.split(|b| *b == b',').next());
    first.and_then(|a| std::str::from_utf8(a).ok()?.trim().parse().ok()).ok_or(f.fallback_match)
}

fn ip_matches(ranges: &Ranges, forwarded: Option<&Forwarded>, request: &Request<'_>) -> bool {
    let Some(f) = forwarded else { return ranges.contains(request.client_ip) };
    let Some(value) = request.header(&f.header) else { return f.fallback_match };
    let addresses: Vec<Option<IpAddr>> =
        value.split(|b| *b == b',').map(|a| std::str::from_utf8(a).ok().and_then(|s| s.trim().parse().ok())).collect();
    let chosen: Vec<Option<IpAddr>> = match f.position.as_str() {
        "FIRST" => addresses.first().cloned().into_iter().collect(),
        "LAST" => addresses.last().cloned().into_iter().collect(),
        // ANY inspects at most the last ten addresses.
        _ => addresses.iter().rev().take(10).cloned().collect(),
    };
    if chosen.iter().any(Option::is_none) || chosen.is_empty() {
        return f.fallback_match;
    }
    chosen.into_iter().flatten().any(|ip| ranges.contains(ip))
}

/// Whether label `label` matches a label match statement's key, in the context (web ACL or rule
/// group namespace) the statement sits in: a key that is not fully qualified names labels of its
/// own context. LABEL matches a whole name with any of its namespaces before it; NAMESPACE
/// matches namespaces.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-label-match.html>.
fn label_matches(label: &str, key: &str, namespace: bool, context: &str) -> bool {
    let (label, key) = if key.starts_with("awswaf:") {
        (label, key)
    } else {
        match label.strip_prefix(context) {
            Some(rest) => (rest, key),
            None => return false,
        }
    };
    if namespace {
        let key = key.strip_suffix(':').unwrap_or(key);
        let parts: Vec<&str> = label.split(':').collect();
        let wanted: Vec<&str> = key.split(':').collect();
        // Namespaces are all a label's components but its last name.
        let namespaces = parts.split_last().map(|(_, ns)| ns).unwrap_or_default();
        namespaces.windows(wanted.len()).any(|w| w == wanted.as_slice())
    } else {
        label == key || label.ends_with(&format!(":{key}"))
    }
}

fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn test_value(test: &Test, value: &[u8]) -> bool {
    match test {
        Test::Bytes { needle, constraint } => match constraint {
            Constraint::Exactly => value == needle.as_slice(),
            Constraint::StartsWith => value.starts_with(needle),
            Constraint::EndsWith => value.ends_with(needle),
            Constraint::Contains => memfind(value, needle).is_some(),
            Constraint::ContainsWord => {
                let mut from = 0;
                while let Some(at) = value.get(from..).and_then(|rest| memfind(rest, needle)) {
                    let start = from + at;
                    let end = start + needle.len();
                    let before = start.checked_sub(1).and_then(|i| value.get(i)).is_none_or(|b| !word(*b));
                    let after = value.get(end).is_none_or(|b| !word(*b));
                    if before && after {
                        return true;
                    }
                    from = start + 1;
                }
                false
            }
        },
        Test::Regex(r, needs) => needs.as_ref().is_none_or(|n| n.met_by(value)) && r.is_match(value),
        Test::RegexSet(s, needs) => needs.as_ref().is_none_or(|n| n.met_by(value)) && s.is_match(value),
        Test::Size { op, size } => {
            let len = i64::try_from(value.len()).unwrap_or(i64::MAX);
            match op {
                SizeOp::Eq => len == *size,
                SizeOp::Ne => len != *size,
                SizeOp::Le => len <= *size,
                SizeOp::Lt => len < *size,
                SizeOp::Ge => len >= *size,
                SizeOp::Gt => len > *size,
            }
        }
        Test::Sqli { high } => {
            !plain(value)
                && !arithmetic(value)
                && (libinjectionrs::detect_sqli(value).is_injection() || (*high && high_sensitivity_sqli(value)))
        }
        // An upload of inert markup (an XML order, an SVG icon) is a file, not an injection.
        Test::Xss => {
            !plain(value) && libinjectionrs::detect_xss(value).is_injection() && !markup::inert_document(value)
        }
    }
}

/// Whether a value is one bare word (letters, digits, `_` and `.`; not `-`, as `0--` is an
/// injection): no SQL injection or XSS is made of one, so the detectors are spared it (a property
/// test holds this against them).
fn plain(value: &[u8]) -> bool {
    value.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
}

/// Whether a value is only arithmetic (digits, operators, parentheses, spaces; no `--` or `/*`
/// comment): no keyword, quote or comment, so it can change no query's structure, whatever
/// libinjection makes of `(3+4)*5-6/2`.
fn arithmetic(value: &[u8]) -> bool {
    value.iter().all(|b| b.is_ascii_digit() || b" .,+-*/%^()".contains(b))
        && value.iter().any(u8::is_ascii_digit)
        && memfind(value, b"--").is_none()
        && memfind(value, b"/*").is_none()
}

/// The first position of `needle` in `hay` (an empty needle is found at 0).
fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// HIGH sensitivity's extra signatures: SQL fragments libinjection lets through when they stand
/// alone (a boolean tautology, a comment ending a statement, time and stacking primitives), at
/// the cost of more false positives, as AWS describes HIGH.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-sqli-match.html>.
fn high_sensitivity_sqli(value: &[u8]) -> bool {
    static SIGNATURES: std::sync::LazyLock<Option<regex::bytes::Regex>> = std::sync::LazyLock::new(|| {
        regex::bytes::Regex::new(
            r"(?i)(\b(or|and)\b\s*['\x22]?\w+['\x22]?\s*(=|like)\s*['\x22]?\w+)|(--|#|/\*)\s*$|\b(sleep|benchmark|pg_sleep|waitfor\s+delay)\s*\(|;\s*(drop|delete|insert|update|select|shutdown)\b|\bunion\b.{0,40}\bselect\b",
        )
        .ok()
    });
    SIGNATURES.as_ref().is_some_and(|r| r.is_match(value))
}

#[cfg(test)]
mod tests;
