//! Whether a resource policy is public, as S3's Block Public Access and IAM Access Analyzer judge
//! it: some statement allows everyone (`"Principal": "*"`, or a `NotPrincipal`) without a
//! condition that pins the caller to a bounded set (a fixed source ARN, account, organization,
//! VPC, user id, or a network no wider than /8).
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status>.

use crate::document::{Effect, Policy, PrincipalEntry, Statement};

impl Policy {
    /// Whether any of the policy's statements grants public access.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(Statement::is_public)
    }
}

impl Statement {
    /// Whether this statement allows everyone, with nothing pinning who.
    pub fn is_public(&self) -> bool {
        if self.effect != Effect::Allow {
            return false;
        }
        let everyone = match &self.principal {
            // An identity policy's statement names no principal: never public.
            None => false,
            Some((true, _)) => true,
            Some((false, entries)) => entries.iter().any(|e| matches!(e, PrincipalEntry::Anyone)),
        };
        everyone && !self.conditions.iter().any(|c| c.fixes_caller())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Policy, PolicyKind};

    fn public(statement: &str) -> bool {
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        Policy::parse(&text, PolicyKind::Resource).expect("policy parses").is_public()
    }

    const READ: &str = r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#;

    #[test]
    fn everyone_unconditioned_is_public() {
        assert!(public(&format!(r#"{{"Effect":"Allow","Principal":"*",{READ}}}"#)));
        assert!(public(&format!(r#"{{"Effect":"Allow","Principal":{{"AWS":"*"}},{READ}}}"#)));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","NotPrincipal":{{"AWS":"arn:aws:iam::111122223333:root"}},{READ}}}"#
        )));
    }

    #[test]
    fn named_principals_and_denies_are_not_public() {
        assert!(!public(&format!(r#"{{"Effect":"Allow","Principal":{{"AWS":"111122223333"}},{READ}}}"#)));
        assert!(!public(&format!(r#"{{"Effect":"Deny","Principal":"*",{READ}}}"#)));
        assert!(!public(&format!(
            r#"{{"Effect":"Allow","Principal":{{"Service":"cloudtrail.amazonaws.com"}},{READ}}}"#
        )));
    }

    #[test]
    fn fixed_conditions_pin_the_caller() {
        for cond in [
            r#"{"StringEquals":{"aws:SourceAccount":"111122223333"}}"#,
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}}"#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.7/32"]}}"#,
            r#"{"StringLike":{"aws:userid":"AROAEXAMPLEID:*"}}"#,
        ] {
            assert!(!public(&format!(r#"{{"Effect":"Allow","Principal":"*",{READ},"Condition":{cond}}}"#)), "{cond}");
        }
    }

    #[test]
    fn loose_conditions_do_not() {
        for cond in [
            r#"{"StringLike":{"aws:SourceAccount":"1111*"}}"#,
            r#"{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}"#,
            r#"{"StringEqualsIfExists":{"aws:SourceAccount":"111122223333"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/1"}}"#,
            r#"{"StringEquals":{"aws:Referer":"https://example.com/"}}"#,
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        ] {
            assert!(public(&format!(r#"{{"Effect":"Allow","Principal":"*",{READ},"Condition":{cond}}}"#)), "{cond}");
        }
    }
}
