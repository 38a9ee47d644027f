//! Management policies (tag, backup, AI services opt-out, chat applications, declarative and the
//! other types that are not authorization policies): their grammar of inheritance operators, and
//! the effective policy of an account, merged from the root down. Pure: no store, no I/O.
//! See <https://docs.aws.amazon.com/organizations/latest/userguide/policy-operators.html> and
//! <https://docs.aws.amazon.com/organizations/latest/userguide/inheritance-examples.html>.

use serde_json::{Map, Value};

const ASSIGN: &str = "@@assign";
const APPEND: &str = "@@append";
const REMOVE: &str = "@@remove";
const CHILD_CONTROL: &str = "@@operators_allowed_for_child_policies";

/// The value-setting operators.
const SETTERS: &[&str] = &[ASSIGN, APPEND, REMOVE];

/// The most characters of a management policy's document (white space not counted): 2,500 for an
/// AI services opt-out policy, 10,000 for the others.
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>.
pub fn max_characters(kind: &str) -> usize {
    if kind == "AISERVICES_OPT_OUT_POLICY" { 2_500 } else { 10_000 }
}

/// Why a management policy's document is refused: the message of a
/// MalformedPolicyDocumentException.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

fn malformed<T>(message: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(message.into()))
}

/// Checks a document's grammar: a JSON object of settings in which every key that starts with
/// `@@` is an inheritance operator used as the operators are used, and, for a tag policy, a
/// `tag_key` assigns the tag's own key.
pub fn check(kind: &str, content: &str) -> Result<Value, Malformed> {
    let doc: Value =
        serde_json::from_str(content).or_else(|e| malformed(format!("The policy is not valid JSON: {e}")))?;
    let Value::Object(top) = &doc else { return malformed("The policy must be a JSON object.") };
    if top.is_empty() {
        return malformed("The policy must set something.");
    }
    check_node(top, "")?;
    if kind == "TAG_POLICY" {
        let Some(Value::Object(tags)) = top.get("tags") else {
            return malformed("A tag policy sets its tags under \"tags\".");
        };
        // A tag_key, where a policy gives one, sets the key's capitalization: the same key.
        for (name, tag) in tags.iter().filter(|(k, _)| !k.starts_with("@@")) {
            let Some(key) = tag.get("tag_key") else { continue };
            if !key.get(ASSIGN).and_then(Value::as_str).is_some_and(|k| k.eq_ignore_ascii_case(name)) {
                return malformed(format!(
                    "The tag \"{name}\" must set its tag_key with @@assign to the same key, in any capitalization."
                ));
            }
        }
    }
    Ok(doc)
}

fn check_node(node: &Map<String, Value>, at: &str) -> Result<(), Malformed> {
    let has_setter = node.keys().any(|k| SETTERS.contains(&k.as_str()));
    for (k, v) in node {
        let here = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
        match k.as_str() {
            ASSIGN => {
                if v.is_object() {
                    return malformed(format!("{here} sets a value, not an object."));
                }
            }
            APPEND | REMOVE => {
                if !v.is_array() {
                    return malformed(format!("{here} applies only to a list of values."));
                }
            }
            CHILD_CONTROL => {
                let Some(list) = v.as_array() else { return malformed(format!("{here} must be a list of operators.")) };
                let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                let known = |n: &&str| ["@@all", "@@none", ASSIGN, APPEND, REMOVE].contains(n);
                if names.len() != list.len() || !names.iter().all(known) || names.is_empty() {
                    return malformed(format!("{here} names an unknown operator."));
                }
                if names.len() > 1 && names.iter().any(|n| *n == "@@all" || *n == "@@none") {
                    return malformed(format!("{here}: @@all and @@none stand alone."));
                }
            }
            other if other.starts_with("@@") => return malformed(format!("{here} is not an inheritance operator.")),
            _ => {
                if has_setter {
                    return malformed(format!("{here}: a setting with an operator has nothing below it."));
                }
                let Value::Object(child) = v else {
                    return malformed(format!("{here} must be set with an operator, such as @@assign."));
                };
                check_node(child, &here)?;
            }
        }
    }
    Ok(())
}

/// Which value-setting operators a level may use on a node and below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Allowed {
    assign: bool,
    append: bool,
    remove: bool,
}

impl Allowed {
    const ALL: Allowed = Allowed { assign: true, append: true, remove: true };

    fn of(list: &Value) -> Allowed {
        let names: Vec<&str> = list.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if names.contains(&"@@all") {
            return Allowed::ALL;
        }
        Allowed { assign: names.contains(&ASSIGN), append: names.contains(&APPEND), remove: names.contains(&REMOVE) }
    }

    fn and(self, other: Allowed) -> Allowed {
        Allowed {
            assign: self.assign && other.assign,
            append: self.append && other.append,
            remove: self.remove && other.remove,
        }
    }

    fn permits(self, op: &str) -> bool {
        match op {
            ASSIGN => self.assign,
            APPEND => self.append,
            _ => self.remove,
        }
    }
}

/// The merge state of one node: its value so far and what lower levels may still do to it.
#[derive(Debug, Clone)]
enum Merged {
    Setting { value: Value, allowed: Allowed },
    Container { children: Vec<(String, Merged)>, allowed: Allowed },
}

/// The effective policy of an account: each level's policies from the root down (then the
/// account's own), merged with the inheritance operators, the operators removed. An operator a
/// higher level forbids (`@@operators_allowed_for_child_policies`) is ignored, so a locked value
/// stays as the parent set it. `None` when nothing is set.
pub fn effective(levels: &[Vec<Value>]) -> Option<Value> {
    let mut root = Merged::Container { children: Vec::new(), allowed: Allowed::ALL };
    for level in levels {
        // Controls written at this level bind the levels below, not its siblings.
        let before = root.clone();
        for doc in level {
            if let Value::Object(map) = doc {
                apply(&mut root, Some(&before), map, Allowed::ALL);
            }
        }
    }
    let out = render(&root);
    out.as_object().is_some_and(|m| !m.is_empty()).then_some(out)
}

/// The controls in force over `node` from earlier levels (`None`: nothing set there before).
fn inherited(node: Option<&Merged>) -> Allowed {
    match node {
        Some(Merged::Setting { allowed, .. } | Merged::Container { allowed, .. }) => *allowed,
        None => Allowed::ALL,
    }
}

fn find<'a>(children: &'a [(String, Merged)], key: &str) -> Option<&'a Merged> {
    children.iter().find(|(k, _)| k == key).map(|(_, m)| m)
}

/// Applies one document to a node. `before` is the node as earlier levels left it, `above` what
/// earlier levels allow below the node's ancestors: together, what this level may do.
fn apply(node: &mut Merged, before: Option<&Merged>, doc: &Map<String, Value>, above: Allowed) {
    let limit = inherited(before).and(above);
    let is_setting = doc.keys().any(|k| SETTERS.contains(&k.as_str()) || k == CHILD_CONTROL)
        && !doc.keys().any(|k| !k.starts_with("@@"));
    if is_setting {
        let (mut value, mut allowed) = match node {
            Merged::Setting { value, allowed } => (value.clone(), *allowed),
            Merged::Container { allowed, .. } => (Value::Null, *allowed),
        };
        for op in SETTERS {
            let Some(given) = doc.get(*op) else { continue };
            if !limit.permits(op) {
                continue;
            }
            value = match *op {
                ASSIGN => given.clone(),
                APPEND => {
                    let mut list = value.as_array().cloned().unwrap_or_default();
                    for v in given.as_array().into_iter().flatten() {
                        if !list.contains(v) {
                            list.push(v.clone());
                        }
                    }
                    Value::Array(list)
                }
                _ => match value {
                    Value::Array(list) => {
                        let gone = given.as_array().cloned().unwrap_or_default();
                        Value::Array(list.into_iter().filter(|v| !gone.contains(v)).collect())
                    }
                    other => other,
                },
            };
        }
        if let Some(control) = doc.get(CHILD_CONTROL) {
            allowed = allowed.and(Allowed::of(control));
        }
        *node = Merged::Setting { value, allowed };
        return;
    }
    if let Merged::Setting { allowed, .. } = node {
        *node = Merged::Container { children: Vec::new(), allowed: *allowed };
    }
    let Merged::Container { children, allowed } = node else { return };
    if let Some(control) = doc.get(CHILD_CONTROL) {
        *allowed = allowed.and(Allowed::of(control));
    }
    let before_children = match before {
        Some(Merged::Container { children, .. }) => Some(children.as_slice()),
        _ => None,
    };
    for (key, v) in doc {
        let Value::Object(child_doc) = v else { continue };
        if key.starts_with("@@") {
            continue;
        }
        let earlier = before_children.and_then(|c| find(c, key));
        let index = match children.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                children.push((key.clone(), Merged::Container { children: Vec::new(), allowed: Allowed::ALL }));
                children.len() - 1
            }
        };
        if let Some((_, child)) = children.get_mut(index) {
            apply(child, earlier, child_doc, limit);
        }
    }
}

fn render(node: &Merged) -> Value {
    match node {
        Merged::Setting { value, .. } => value.clone(),
        Merged::Container { children, .. } => Value::Object(
            children
                .iter()
                .map(|(k, m)| (k.clone(), render(m)))
                .filter(|(_, v)| !v.is_null() && !v.as_object().is_some_and(Map::is_empty))
                .collect(),
        ),
    }
}

/// One reason an effective policy fails validation, as ListEffectivePolicyValidationErrors
/// reports it: its code, a message, and the dotted path of the element within the effective
/// policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
    pub path: String,
}

/// A required element is missing, or has nothing in it. AWS's API reference gives
/// `ELEMENTS_TOO_MANY` as its one example of a code and does not list the others; this code, and
/// [`INVALID_VALUE`], are Rampart's names in the same form.
/// See <https://docs.aws.amazon.com/organizations/latest/APIReference/API_EffectivePolicyValidationError.html>.
pub const MISSING_ELEMENT: &str = "ELEMENTS_TOO_FEW";
/// An element's value is not one the policy type accepts.
pub const INVALID_VALUE: &str = "INVALID_VALUE";
/// More elements than the policy type allows.
pub const TOO_MANY: &str = "ELEMENTS_TOO_MANY";

/// The most backup plans an effective backup policy may hold, and the most resource assignments
/// (selections) one plan may have: AWS Backup's quotas of backup plans per Region per account
/// and of resource assignments per backup plan.
/// See <https://docs.aws.amazon.com/aws-backup/latest/devguide/aws-backup-limits.html>.
const MAX_BACKUP_PLANS: usize = 300;
const MAX_SELECTIONS: usize = 100;

/// What makes an account's effective policy (operators already removed) invalid, by the rules
/// AWS documents for each type. An empty list: the policy is valid, or the type has no rules
/// beyond its grammar, which [`check`] already enforces on every policy.
pub fn problems(kind: &str, effective: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    match kind {
        "BACKUP_POLICY" => backup_problems(effective, &mut out),
        "AISERVICES_OPT_OUT_POLICY" => opt_out_problems(effective, &mut out),
        "TAG_POLICY" => tag_problems(effective, &mut out),
        "DECLARATIVE_POLICY_EC2" => ec2_problems(effective, &mut out),
        _ => {}
    }
    out
}

fn problem(out: &mut Vec<Problem>, code: &'static str, path: String, message: String) {
    out.push(Problem { code, message, path });
}

/// The named children of an object, operators and other non-objects left out.
fn entries(v: Option<&Value>) -> Vec<(&String, &Value)> {
    v.and_then(Value::as_object).map(|m| m.iter().filter(|(k, _)| !k.starts_with("@@")).collect()).unwrap_or_default()
}

fn non_empty_string(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty())
}

/// A complete backup plan names the Regions it covers, at least one rule with a schedule and a
/// vault, and at least one selection of resources with the IAM role AWS Backup assumes.
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_backup_syntax.html>.
fn backup_problems(doc: &Value, out: &mut Vec<Problem>) {
    let plans = entries(doc.get("plans"));
    if plans.len() > MAX_BACKUP_PLANS {
        problem(
            out,
            TOO_MANY,
            "plans".into(),
            format!(
                "The effective policy has {} backup plans; an account can have at most {MAX_BACKUP_PLANS}.",
                plans.len()
            ),
        );
    }
    for (name, plan) in plans {
        let at = format!("plans.{name}");
        let regions = plan.get("regions").and_then(Value::as_array);
        if !regions.is_some_and(|r| !r.is_empty() && r.iter().all(|v| non_empty_string(Some(v)))) {
            problem(
                out,
                MISSING_ELEMENT,
                format!("{at}.regions"),
                format!("The backup plan {name} names no Regions to back up."),
            );
        }
        let rules = entries(plan.get("rules"));
        if rules.is_empty() {
            problem(out, MISSING_ELEMENT, format!("{at}.rules"), format!("The backup plan {name} has no backup rule."));
        }
        for (rule, body) in rules {
            for field in ["schedule_expression", "target_backup_vault_name"] {
                if !non_empty_string(body.get(field)) {
                    problem(
                        out,
                        MISSING_ELEMENT,
                        format!("{at}.rules.{rule}.{field}"),
                        format!("The backup rule {rule} of the plan {name} has no {field}."),
                    );
                }
            }
        }
        let selections: Vec<(String, &Value)> = ["tags", "resources"]
            .iter()
            .flat_map(|kind| {
                entries(plan.get("selections").and_then(|s| s.get(*kind)))
                    .into_iter()
                    .map(move |(n, v)| (format!("{kind}.{n}"), v))
            })
            .collect();
        if selections.is_empty() {
            problem(
                out,
                MISSING_ELEMENT,
                format!("{at}.selections"),
                format!("The backup plan {name} selects no resources to back up."),
            );
        }
        if selections.len() > MAX_SELECTIONS {
            problem(
                out,
                TOO_MANY,
                format!("{at}.selections"),
                format!(
                    "The backup plan {name} has {} resource assignments; a plan can have at most {MAX_SELECTIONS}.",
                    selections.len()
                ),
            );
        }
        for (selection, body) in selections {
            if !non_empty_string(body.get("iam_role_arn")) {
                problem(
                    out,
                    MISSING_ELEMENT,
                    format!("{at}.selections.{selection}.iam_role_arn"),
                    format!("The selection {selection} of the plan {name} names no IAM role for AWS Backup to assume."),
                );
            }
        }
    }
}

/// Each service's `opt_out_policy` is `optIn` or `optOut`.
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_ai-opt-out_syntax.html>.
fn opt_out_problems(doc: &Value, out: &mut Vec<Problem>) {
    for (service, body) in entries(doc.get("services")) {
        let Some(value) = body.get("opt_out_policy") else { continue };
        if !matches!(value.as_str(), Some("optIn" | "optOut")) {
            problem(
                out,
                INVALID_VALUE,
                format!("services.{service}.opt_out_policy"),
                format!("The opt_out_policy of {service} is {value}; it must be optIn or optOut."),
            );
        }
    }
}

/// A tag's key is a string; its values and the resource types it is enforced for are lists of
/// strings, each resource type written `service:type` (or `service:ALL_SUPPORTED`).
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_example-tag-policies.html>.
fn tag_problems(doc: &Value, out: &mut Vec<Problem>) {
    for (tag, body) in entries(doc.get("tags")) {
        let at = format!("tags.{tag}");
        if let Some(key) = body.get("tag_key")
            && !non_empty_string(Some(key))
        {
            problem(out, INVALID_VALUE, format!("{at}.tag_key"), format!("The tag_key of {tag} must be a string."));
        }
        for (field, shaped) in [("tag_value", false), ("enforced_for", true)] {
            let Some(list) = body.get(field) else { continue };
            let ok = list.as_array().is_some_and(|items| {
                items.iter().all(|v| {
                    v.as_str().is_some_and(|s| {
                        !s.is_empty()
                            && (!shaped || s.split_once(':').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()))
                    })
                })
            });
            if !ok {
                let what = if shaped { "resource types written service:type" } else { "strings" };
                problem(
                    out,
                    INVALID_VALUE,
                    format!("{at}.{field}"),
                    format!("The {field} of {tag} must be a list of {what}."),
                );
            }
        }
    }
}

/// The values EC2's declarative policy attributes take.
/// See <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_declarative_syntax.html>.
const EC2_VALUES: &[(&str, &[&str])] = &[
    (
        "ec2_attributes.vpc_block_public_access.internet_gateway_block.mode",
        &["off", "block_ingress", "block_bidirectional"],
    ),
    ("ec2_attributes.vpc_block_public_access.internet_gateway_block.exclusions_allowed", &["enabled", "disabled"]),
    ("ec2_attributes.serial_console_access.status", &["enabled", "disabled"]),
    ("ec2_attributes.image_block_public_access.state", &["block_new_sharing", "unblocked"]),
    ("ec2_attributes.snapshot_block_public_access.state", &["block_all_sharing", "block_new_sharing", "unblocked"]),
    ("ec2_attributes.allowed_images_settings.state", &["enabled", "audit_mode", "disabled"]),
    ("ec2_attributes.instance_metadata_defaults.http_tokens", &["no_preference", "required", "optional"]),
    ("ec2_attributes.instance_metadata_defaults.http_endpoint", &["no_preference", "enabled", "disabled"]),
    ("ec2_attributes.instance_metadata_defaults.instance_metadata_tags", &["no_preference", "enabled", "disabled"]),
];

fn ec2_problems(doc: &Value, out: &mut Vec<Problem>) {
    for (path, allowed) in EC2_VALUES {
        let Some(value) = path.split('.').try_fold(doc, |v, k| v.get(k)) else { continue };
        if !value.as_str().is_some_and(|s| allowed.contains(&s)) {
            problem(
                out,
                INVALID_VALUE,
                (*path).to_string(),
                format!("{path} is {value}; it must be one of {}.", allowed.join(", ")),
            );
        }
    }
}

/// Whether a policy document (operators and all) sets anything at or below `path`, a dotted path
/// into the effective policy: the policies that contribute to an element there.
pub fn touches(doc: &Value, path: &str) -> bool {
    let mut at = doc;
    for key in path.split('.') {
        match at.get(key) {
            Some(next) => at = next,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(levels: Vec<Vec<Value>>) -> Value {
        effective(&levels).unwrap_or(Value::Null)
    }

    fn root_policy() -> Value {
        json!({"tags": {"costcenter": {
            "tag_key": {"@@assign": "CostCenter"},
            "tag_value": {"@@assign": ["Development", "Support"]}
        }}})
    }

    #[test]
    fn a_child_assign_replaces_the_inherited_values() {
        // AWS's example 1.
        let ou = json!({"tags": {"costcenter": {
            "tag_key": {"@@assign": "CostCenter"},
            "tag_value": {"@@assign": ["Sandbox"]},
            "enforced_for": {"@@assign": ["redshift:*", "dynamodb:table"]}
        }}});
        assert_eq!(
            merged(vec![vec![root_policy()], vec![ou]]),
            json!({"tags": {"costcenter": {
                "tag_key": "CostCenter", "tag_value": ["Sandbox"], "enforced_for": ["redshift:*", "dynamodb:table"]
            }}})
        );
    }

    #[test]
    fn append_and_remove_change_inherited_lists() {
        // AWS's examples 2 and 3.
        let append = json!({"tags": {"costcenter": {"tag_value": {"@@append": ["Marketing"]}}}});
        let remove = json!({"tags": {"costcenter": {"tag_value": {"@@remove": ["Development"]}}}});
        assert_eq!(
            merged(vec![vec![root_policy()], vec![append], vec![remove]]),
            json!({"tags": {"costcenter": {"tag_key": "CostCenter", "tag_value": ["Support", "Marketing"]}}})
        );
    }

    #[test]
    fn a_locked_value_ignores_what_children_try() {
        // AWS's example 4: the parent allows no operator below it.
        let locked = json!({"tags": {"costcenter": {
            "tag_key": {"@@assign": "CostCenter", "@@operators_allowed_for_child_policies": ["@@none"]},
            "tag_value": {"@@assign": ["Development"], "@@operators_allowed_for_child_policies": ["@@append"]}
        }}});
        let child = json!({"tags": {"costcenter": {
            "tag_key": {"@@assign": "costcenter"},
            "tag_value": {"@@assign": ["Other"], "@@append": ["Sales"]}
        }}});
        assert_eq!(
            merged(vec![vec![locked], vec![child]]),
            json!({"tags": {"costcenter": {"tag_key": "CostCenter", "tag_value": ["Development", "Sales"]}}})
        );
    }

    #[test]
    fn a_control_on_a_tag_binds_every_setting_below_it() {
        let locked = json!({"tags": {"costcenter": {
            "@@operators_allowed_for_child_policies": ["@@none"],
            "tag_key": {"@@assign": "CostCenter"},
            "tag_value": {"@@assign": ["Development"]}
        }}});
        let child = json!({"tags": {"costcenter": {"tag_value": {"@@append": ["Sales"]}}}});
        let grandchild = json!({"tags": {"costcenter": {"tag_value": {"@@assign": ["Other"]}}}});
        assert_eq!(
            merged(vec![vec![locked], vec![child], vec![grandchild]]),
            json!({"tags": {"costcenter": {"tag_key": "CostCenter", "tag_value": ["Development"]}}})
        );
    }

    #[test]
    fn policies_at_one_level_do_not_bind_each_other() {
        // AWS's example 6: two policies attached to the same node both append.
        let a = json!({"tags": {"project": {"tag_key": {"@@assign": "Project"}, "tag_value": {"@@append": ["A"]}}}});
        let b = json!({"tags": {"project": {"tag_value": {"@@append": ["B"]}}}});
        assert_eq!(
            merged(vec![vec![a, b]]),
            json!({"tags": {"project": {"tag_key": "Project", "tag_value": ["A", "B"]}}})
        );
        assert_eq!(effective(&[]), None);
    }

    #[test]
    fn the_grammar_is_checked() {
        assert!(check("TAG_POLICY", &root_policy().to_string()).is_ok());
        let bad = [
            r#"[1]"#,
            r#"{}"#,
            r#"{"tags":{"a":{"tag_key":{"@@assign":"A"},"tag_value":{"@@assing":["x"]}}}}"#,
            r#"{"tags":{"a":{"tag_key":{"@@assign":"B"}}}}"#,
            r#"{"tags":{"a":{"tag_key":{"@@assign":"A"},"tag_value":{"@@append":"x"}}}}"#,
            r#"{"tags":{"a":{"tag_key":{"@@assign":"A","@@operators_allowed_for_child_policies":["@@all","@@none"]}}}}"#,
            r#"{"tags":{"a":{"tag_key":"A"}}}"#,
            r#"{"services":{"default":{"opt_out_policy":{"@@assign":"optOut","nested":{}}}}}"#,
            "not json",
        ];
        for doc in bad {
            assert!(check("TAG_POLICY", doc).is_err() || check("AISERVICES_OPT_OUT_POLICY", doc).is_err(), "{doc}");
        }
        let opt_out = r#"{"services":{"default":{"opt_out_policy":{"@@assign":"optOut"}}}}"#;
        assert!(check("AISERVICES_OPT_OUT_POLICY", opt_out).is_ok());
        assert!(check("TAG_POLICY", opt_out).is_err(), "a tag policy sets tags");
    }

    #[test]
    fn effective_policies_are_checked_by_their_types_rules() {
        let codes = |kind: &str, doc: Value| -> Vec<(&'static str, String)> {
            problems(kind, &doc).into_iter().map(|p| (p.code, p.path)).collect()
        };
        let plan = json!({"plans": {"p": {
            "regions": ["us-east-1"],
            "rules": {"r": {"schedule_expression": "cron(0 5 ? * * *)", "target_backup_vault_name": "Default"}},
            "selections": {"resources": {"s": {"iam_role_arn": "arn:aws:iam::$account:role/B", "resources": ["*"]}}}
        }}});
        assert!(codes("BACKUP_POLICY", plan.clone()).is_empty());
        let mut no_role = plan.clone();
        no_role["plans"]["p"]["selections"]["resources"]["s"] = json!({"resources": ["*"]});
        no_role["plans"]["p"]["regions"] = json!([]);
        assert_eq!(
            codes("BACKUP_POLICY", no_role),
            [
                (MISSING_ELEMENT, "plans.p.regions".to_owned()),
                (MISSING_ELEMENT, "plans.p.selections.resources.s.iam_role_arn".to_owned())
            ]
        );
        let many: Map<String, Value> =
            (0..=MAX_BACKUP_PLANS).map(|i| (format!("p{i}"), plan["plans"]["p"].clone())).collect();
        assert_eq!(codes("BACKUP_POLICY", json!({"plans": many})), [(TOO_MANY, "plans".to_owned())]);

        assert!(
            codes("AISERVICES_OPT_OUT_POLICY", json!({"services": {"default": {"opt_out_policy": "optOut"}}}))
                .is_empty()
        );
        assert_eq!(
            codes("AISERVICES_OPT_OUT_POLICY", json!({"services": {"lex": {"opt_out_policy": "maybe"}}})),
            [(INVALID_VALUE, "services.lex.opt_out_policy".to_owned())]
        );
        assert_eq!(
            codes("TAG_POLICY", json!({"tags": {"cc": {"tag_key": "CC", "enforced_for": ["ec2:instance", "s3"]}}})),
            [(INVALID_VALUE, "tags.cc.enforced_for".to_owned())]
        );
        let ec2 = json!({"ec2_attributes": {"serial_console_access": {"status": "enabled"},
            "image_block_public_access": {"state": "blocked"}}});
        assert_eq!(
            codes("DECLARATIVE_POLICY_EC2", ec2),
            [(INVALID_VALUE, "ec2_attributes.image_block_public_access.state".to_owned())]
        );
        assert!(codes("CHATBOT_POLICY", json!({"anything": 1})).is_empty());
    }

    #[test]
    fn a_policy_touches_the_paths_it_sets() {
        let doc = json!({"plans": {"p": {"rules": {"@@assign": {}}}}});
        assert!(touches(&doc, "plans.p"));
        assert!(touches(&doc, "plans.p.rules"));
        assert!(!touches(&doc, "plans.q"));
        assert!(!touches(&doc, "plans.p.regions"));
    }
}
