//! Every IAM action AWS documents, from its Service Authorization Reference (the generated data
//! file `data/actions.txt` names its source): what the linter checks a policy's actions against.

use crate::pattern::Pattern;

/// A line per service prefix: `PREFIX<TAB>ACTION ACTION …`, both sorted.
const DATA: &str = include_str!("../data/actions.txt");

struct Service {
    prefix: &'static str,
    actions: Vec<&'static str>,
}

static CATALOGUE: std::sync::LazyLock<Vec<Service>> = std::sync::LazyLock::new(|| {
    DATA.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(prefix, actions)| Service { prefix, actions: actions.split(' ').collect() })
        .collect()
});

/// What the catalogue says of an action (or an action pattern) in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionCheck {
    /// A documented action, or a pattern that matches one; or nothing to check (`*`, a wildcard
    /// in the prefix).
    Known,
    /// No service has this prefix.
    UnknownService,
    /// The service has no such action; the nearest name it has, when one is close.
    UnknownAction { suggestion: Option<String> },
    /// A pattern that matches none of the service's actions.
    MatchesNothing,
}

/// Checks `prefix:Name` (wildcards allowed in the name) against the catalogue; case-insensitive,
/// as IAM matches actions.
pub fn check_action(action: &str) -> ActionCheck {
    let Some((prefix, name)) = action.split_once(':') else { return ActionCheck::Known };
    if prefix.contains(['*', '?']) {
        return ActionCheck::Known;
    }
    let prefix = prefix.to_ascii_lowercase();
    let Ok(i) = CATALOGUE.binary_search_by(|s| s.prefix.cmp(prefix.as_str())) else {
        return ActionCheck::UnknownService;
    };
    let Some(service) = CATALOGUE.get(i) else { return ActionCheck::UnknownService };
    if name.contains(['*', '?']) {
        let pattern = Pattern::new(name, true);
        return if service.actions.iter().any(|a| pattern.matches(a, true)) {
            ActionCheck::Known
        } else {
            ActionCheck::MatchesNothing
        };
    }
    if service.actions.iter().any(|a| a.eq_ignore_ascii_case(name)) {
        return ActionCheck::Known;
    }
    let lower = name.to_ascii_lowercase();
    let nearest = service
        .actions
        .iter()
        .map(|a| (strsim::levenshtein(&a.to_ascii_lowercase(), &lower), *a))
        .min()
        .filter(|(distance, _)| *distance <= (lower.len() / 4).max(2));
    ActionCheck::UnknownAction { suggestion: nearest.map(|(_, a)| format!("{prefix}:{a}")) }
}

/// The catalogue's actions of each service that a policy's `Allow` statements grant, whatever
/// the resource or conditions: what IAM's access advisor reports as the services (and, for
/// tracked services, the actions) a policy allows. Services by prefix, both sorted.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed.html>.
pub fn allowed_actions(policy: &crate::Policy) -> Vec<(&'static str, Vec<&'static str>)> {
    let allows: Vec<&crate::Statement> =
        policy.statements.iter().filter(|s| s.effect == crate::Effect::Allow).collect();
    let mut out = Vec::new();
    for service in CATALOGUE.iter() {
        let granted: Vec<&'static str> = service
            .actions
            .iter()
            .copied()
            .filter(|name| {
                let whole = format!("{}:{name}", service.prefix);
                allows.iter().any(|s| {
                    let named = s.actions.iter().any(|a| a.matches(service.prefix, name, &whole));
                    named != s.not_action
                })
            })
            .collect();
        if !granted.is_empty() {
            out.push((service.prefix, granted));
        }
    }
    out
}

/// The catalogue's name for a service prefix, if it has the prefix (`S3` → `s3`).
pub fn service_prefix(prefix: &str) -> Option<&'static str> {
    let lower = prefix.to_ascii_lowercase();
    CATALOGUE.iter().find(|s| s.prefix == lower).map(|s| s.prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_actions_are_those_an_allow_statement_grants() {
        let p = |doc: &str| crate::Policy::parse(doc, crate::PolicyKind::Identity).unwrap();
        let one = p(r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["iam:GetUser","s3:Get*"],"Resource":"*"},
            {"Effect":"Deny","Action":"kms:*","Resource":"*"}]}"#);
        let got = allowed_actions(&one);
        let services: Vec<&str> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(services, ["iam", "s3"], "a Deny grants nothing");
        assert_eq!(got[0].1, ["GetUser"]);
        assert!(got[1].1.contains(&"GetObject") && !got[1].1.contains(&"PutObject"));
        let all_but =
            p(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#);
        let got = allowed_actions(&all_but);
        assert!(got.iter().all(|(s, _)| *s != "iam") && got.len() > 300, "NotAction grants every other service");
        assert_eq!(service_prefix("S3"), Some("s3"));
        assert_eq!(service_prefix("nosuch"), None);
    }

    #[test]
    fn actions_are_checked_against_the_catalogue() {
        assert!(CATALOGUE.iter().map(|s| s.actions.len()).sum::<usize>() > 15_000);
        assert!(CATALOGUE.windows(2).all(|w| w[0].prefix < w[1].prefix), "sorted by prefix");
        for ok in
            ["s3:GetObject", "S3:getobject", "iam:CreateUser", "s3:Get*", "kms:*", "*", "s*:Get*", "sts:AssumeRole"]
        {
            assert_eq!(check_action(ok), ActionCheck::Known, "{ok}");
        }
        assert_eq!(check_action("s4:GetObject"), ActionCheck::UnknownService);
        assert_eq!(
            check_action("s3:GetObjects"),
            ActionCheck::UnknownAction { suggestion: Some("s3:GetObject".to_owned()) }
        );
        assert_eq!(check_action("iam:Frobnicate"), ActionCheck::UnknownAction { suggestion: None });
        assert_eq!(check_action("s3:Frob*"), ActionCheck::MatchesNothing);
    }
}
