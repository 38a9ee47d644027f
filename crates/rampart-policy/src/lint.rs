//! Warnings in the spirit of IAM Access Analyzer's policy checks: valid policies that are
//! probably not what their author meant.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html>.

use crate::document::{ActionPattern, Effect, Policy};
use crate::service_prefixes::SERVICE_PREFIXES;

/// One warning about one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The statement's position in the policy.
    pub statement: usize,
    pub sid: Option<String>,
    pub message: String,
}

/// The service named by an ARN (`arn:aws:SERVICE:…`), when it is literal.
fn arn_service(r: &str) -> Option<&str> {
    let svc = r.split(':').nth(2)?;
    (r.starts_with("arn:") && !svc.is_empty() && !svc.contains(['*', '?'])).then_some(svc)
}

/// Checks a valid policy for likely mistakes.
pub fn lint(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, st) in policy.statements.iter().enumerate() {
        let mut say = |message: String| out.push(Finding { statement: i, sid: st.sid.clone(), message });
        for (pattern, text) in st.actions.iter().zip(&st.action_text) {
            if let ActionPattern::InService(svc, _) = pattern
                && SERVICE_PREFIXES.binary_search(&&**svc).is_err()
            {
                say(format!("unknown service prefix `{svc}` in action `{text}`"));
            }
        }
        let every_resource = st.resources.is_none() || (!st.not_resource && st.resource_text.iter().any(|r| r == "*"));
        let every_action = !st.not_action && st.actions.iter().any(|a| matches!(a, ActionPattern::Any));
        if st.effect == Effect::Allow && every_action && every_resource {
            say(r#"`"Action": "*"` on `"Resource": "*"` grants every action on every resource (full administrator access)"#.to_owned());
        }
        if st.effect == Effect::Allow && st.not_action && every_resource {
            say("an Allow with NotAction on every resource grants every action it does not list, including actions of services added later".to_owned());
        }
        // Actions of some services only, resources of other services only: nothing can match.
        if !st.not_action && !st.not_resource {
            let services: Option<Vec<&str>> = st
                .actions
                .iter()
                .map(|a| if let ActionPattern::InService(s, _) = a { Some(&**s) } else { None })
                .collect();
            let resources: Option<Vec<&str>> = st.resource_text.iter().map(|r| arn_service(r)).collect();
            if let (Some(services), Some(resources)) = (services, resources)
                && !resources.is_empty()
                && resources.iter().all(|r| !services.contains(r))
            {
                let kind = if st.effect == Effect::Deny { "Deny" } else { "Allow" };
                say(format!(
                    "this {kind} can never match: its actions are for `{}` but its resources are `{}` ARNs",
                    services.join("`, `"),
                    resources.join("`, `")
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::PolicyKind;

    fn messages(doc: &str) -> Vec<String> {
        lint(&Policy::parse(doc, PolicyKind::Identity).unwrap()).into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn finds_likely_mistakes() {
        assert_eq!(
            messages(r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#),
            Vec::<String>::new()
        );
        assert_eq!(
            messages(r#"{"Statement":{"Effect":"Allow","Action":"s4:GetObject","Resource":"*"}}"#),
            ["unknown service prefix `s4` in action `s4:GetObject`"]
        );
        assert!(
            messages(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#)[0]
                .contains("full administrator access")
        );
        assert!(
            messages(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#)[0].contains("NotAction")
        );
        assert_eq!(
            messages(
                r#"{"Statement":{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:iam::111122223333:user/x"}}"#
            ),
            ["this Deny can never match: its actions are for `s3` but its resources are `iam` ARNs"]
        );
    }
}
