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

#[cfg(test)]
mod tests {
    use super::*;

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
