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
}
