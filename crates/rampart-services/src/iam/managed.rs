//! The catalogue of AWS managed policies (`arn:aws:iam::aws:policy/…`), scoped to the services
//! Rampart serves. Documents follow AWS's published policies of the same names
//! (<https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html>), reduced to
//! the actions of services Rampart has.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::policies::{ManagedPolicyRecord, PolicyVersionRecord};

/// What `IAMUserChangePassword` allows; also what an account password policy with
/// `AllowUsersToChangePassword` grants every user.
pub const IAM_USER_CHANGE_PASSWORD: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ChangePassword"],"Resource":["arn:aws:iam::*:user/${aws:username}","arn:aws:iam::*:user/*/${aws:username}"]},{"Effect":"Allow","Action":["iam:GetAccountPasswordPolicy"],"Resource":"*"}]}"#;

/// `(name, path, description, document)`.
const CATALOGUE: &[(&str, &str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "/",
        "Provides full access to AWS services and resources.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "PowerUserAccess",
        "/",
        "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        "/",
        "Provides read-only access to AWS services and resources.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","iam:Simulate*","iam:GenerateCredentialReport","sts:GetCallerIdentity","sts:GetAccessKeyInfo","kms:Describe*","kms:Get*","kms:List*","organizations:Describe*","organizations:List*","cloudtrail:Describe*","cloudtrail:Get*","cloudtrail:List*","cloudtrail:LookupEvents","s3:Get*","s3:List*","guardduty:Get*","guardduty:List*","wafv2:Get*","wafv2:List*","wafv2:Describe*"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "/",
        "Provides full access to IAM via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Allow","Action":["organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "/",
        "Provides read only access to IAM via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "SecurityAudit",
        "/",
        "The security audit template grants access to read security configuration metadata.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy","kms:Describe*","kms:Get*","kms:List*","organizations:Describe*","organizations:List*","cloudtrail:Describe*","cloudtrail:Get*","cloudtrail:List*","cloudtrail:LookupEvents","guardduty:Get*","guardduty:List*","s3:GetBucketPolicy","s3:GetBucketPublicAccessBlock","s3:GetEncryptionConfiguration","s3:ListAllMyBuckets"],"Resource":"*"}]}"#,
    ),
    (
        "AWSKeyManagementServicePowerUser",
        "/",
        "Provides access to AWS Key Management Service (KMS).",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateAlias","kms:CreateKey","kms:DeleteAlias","kms:Describe*","kms:GenerateRandom","kms:Get*","kms:List*","kms:TagResource","kms:UntagResource","iam:ListGroups","iam:ListRoles","iam:ListUsers"],"Resource":"*"}]}"#,
    ),
    (
        "AWSOrganizationsFullAccess",
        "/",
        "Provides full access to AWS Organizations.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"organizations:*","Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole"],"Resource":"*"}]}"#,
    ),
    (
        "AWSOrganizationsReadOnlyAccess",
        "/",
        "Provides read-only access to AWS Organizations.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["organizations:Describe*","organizations:List*"],"Resource":"*"}]}"#,
    ),
    (
        "AWSCloudTrail_FullAccess",
        "/",
        "Provides full access to AWS CloudTrail.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cloudtrail:*","Resource":"*"},{"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:GetBucketLocation","kms:ListKeys","kms:ListAliases","iam:ListRoles","iam:GetRolePolicy","iam:GetUser"],"Resource":"*"}]}"#,
    ),
    (
        "IAMUserChangePassword",
        "/",
        "Provides the ability for an IAM user to change their own password.",
        IAM_USER_CHANGE_PASSWORD,
    ),
    (
        "AmazonS3FullAccess",
        "/",
        "Provides full access to all buckets via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        "/",
        "Provides read only access to all buckets via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    ),
    (
        "AWSCloudTrail_ReadOnlyAccess",
        "/",
        "Provides read only access to AWS CloudTrail.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudtrail:Get*","cloudtrail:Describe*","cloudtrail:List*","cloudtrail:LookupEvents"],"Resource":"*"}]}"#,
    ),
];

/// A stable id for a catalogue policy: `ANPA` and 17 characters derived from its name.
fn stable_id(name: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let tail: String = (0..17)
        .map(|i| {
            for b in name.bytes().chain([i]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            ALPHABET.get(usize::try_from(h % 32).unwrap_or(0)).map_or('A', |c| char::from(*c))
        })
        .collect();
    format!("ANPA{tail}")
}

fn record((name, path, description, document): (&str, &str, &str, &str)) -> ManagedPolicyRecord {
    // AWS managed policies all date from before any account; a fixed date keeps them stable.
    let created = OffsetDateTime::from_unix_timestamp(1_423_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    ManagedPolicyRecord {
        v: 1,
        account_id: "aws".to_owned(),
        name: name.to_owned(),
        path: path.to_owned(),
        id: stable_id(name),
        description: Some(description.to_owned()),
        created,
        updated: created,
        default_version: "v1".to_owned(),
        versions: BTreeMap::from([("v1".to_owned(), PolicyVersionRecord { document: document.to_owned(), created })]),
        attachments: 0,
        tags: Vec::new(),
    }
}

/// The AWS managed policy with this ARN.
pub fn aws_managed(arn: &str) -> Option<ManagedPolicyRecord> {
    let name = arn.strip_prefix("arn:aws:iam::aws:policy/")?.rsplit('/').next()?;
    CATALOGUE.iter().find(|(n, ..)| *n == name).map(|e| record(*e))
}

/// Every AWS managed policy.
pub fn aws_managed_all() -> Vec<ManagedPolicyRecord> {
    CATALOGUE.iter().map(|e| record(*e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_parses_and_has_stable_ids() {
        for p in aws_managed_all() {
            let doc = &p.versions["v1"].document;
            let parsed = rampart_policy::Policy::parse(doc, rampart_policy::PolicyKind::Identity).unwrap();
            assert_eq!(parsed.version, rampart_policy::Version::V2012, "{}", p.name);
            assert_eq!(p.id.len(), 21);
            assert_eq!(aws_managed(&p.arn()).unwrap().id, p.id, "{}", p.name);
        }
        assert_eq!(
            aws_managed("arn:aws:iam::aws:policy/AdministratorAccess").unwrap().arn(),
            "arn:aws:iam::aws:policy/AdministratorAccess"
        );
        assert!(aws_managed("arn:aws:iam::aws:policy/NoSuchPolicy").is_none());
    }
}
