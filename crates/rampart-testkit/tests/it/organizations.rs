//! Organizations through aws-sdk-organizations: a tree of OUs, a created member account reached
//! through OrganizationAccountAccessRole, and service control policies that bind the member on
//! its next request and never the management account.

use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::operation::register_delegated_administrator::RegisterDelegatedAdministratorError;
use aws_sdk_organizations::types::{ChildType, ConstraintViolationExceptionReason, PolicyType};
use rampart_testkit::{ACCOUNT_ID, TestServer};

use crate::iam::{err, iam, iam_with, root};

pub(crate) fn orgs(server: &TestServer, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_organizations::Client {
    let conf = aws_sdk_organizations::Config::builder()
        .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
        .region(aws_sdk_organizations::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_organizations::config::Credentials::new(
            id,
            secret,
            token.map(str::to_owned),
            None,
            "test",
        ))
        .retry_config(aws_sdk_organizations::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_organizations::Client::from_conf(conf)
}

fn code<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_organizations::error::SdkError<E, R>>) -> String {
    match r {
        Ok(_) => "OK".to_owned(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("NotAServiceError").to_owned(),
    }
}

/// Creates a member account; returns its id once its creation succeeded.
pub(crate) async fn member_account(org: &aws_sdk_organizations::Client, email: &str, name: &str) -> String {
    let asked = org.create_account().email(email).account_name(name).send().await.unwrap();
    let request = asked.create_account_status().unwrap().id().unwrap().to_owned();
    let status = org.describe_create_account_status().create_account_request_id(&request).send().await.unwrap();
    let status = status.create_account_status().unwrap();
    assert_eq!(status.state().map(|s| s.as_str()), Some("SUCCEEDED"));
    status.account_id().unwrap().to_owned()
}

/// A user of the management account allowed everything: its key id and secret.
pub(crate) async fn admin_key(admin: &aws_sdk_iam::Client, name: &str) -> (String, String) {
    admin.create_user().user_name(name).send().await.unwrap();
    admin.put_user_policy().user_name(name).policy_name("admin").policy_document(ADMIN).send().await.unwrap();
    let key = admin.create_access_key().user_name(name).send().await.unwrap();
    let key = key.access_key().unwrap();
    (key.access_key_id().to_owned(), key.secret_access_key().to_owned())
}

/// Credentials of a session in `member` through its OrganizationAccountAccessRole, assumed with
/// `key`: key id, secret and token.
pub(crate) async fn member_session(
    server: &TestServer,
    key: &(String, String),
    member: &str,
) -> (String, String, String) {
    let session = crate::sts_client(server, &key.0, &key.1)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole"))
        .role_session_name("ops")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    (c.access_key_id().to_owned(), c.secret_access_key().to_owned(), c.session_token().to_owned())
}

/// An IAM client acting in `member` through its OrganizationAccountAccessRole, assumed with `key`.
async fn in_member(server: &TestServer, key: &(String, String), member: &str) -> aws_sdk_iam::Client {
    let (id, secret, token) = member_session(server, key, member).await;
    iam_with(server, &id, &secret, Some(&token))
}

/// An Organizations client acting in `member` likewise.
async fn orgs_in_member(server: &TestServer, key: &(String, String), member: &str) -> aws_sdk_organizations::Client {
    let (id, secret, token) = member_session(server, key, member).await;
    orgs(server, &id, &secret, Some(&token))
}

/// Creates an organization policy; returns its id.
async fn org_policy(org: &aws_sdk_organizations::Client, kind: PolicyType, name: &str, content: &str) -> String {
    let made = org.create_policy().name(name).description(name).r#type(kind).content(content).send().await.unwrap();
    made.policy().unwrap().policy_summary().unwrap().id().unwrap().to_owned()
}

const REGION_FENCE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OnlyEu","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":"eu-west-1"}}}]}"#;
const IAM_READS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","sts:*"],"Resource":"*"}]}"#;
pub(crate) const ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[tokio::test]
async fn service_control_policies_bind_member_accounts_on_their_next_request() {
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    assert_eq!(code(org.describe_organization().send().await), "AWSOrganizationsNotInUseException");

    let created = org.create_organization().send().await.unwrap();
    let o = created.organization().unwrap();
    let org_id = o.id().unwrap().to_owned();
    assert!(org_id.starts_with("o-") && org_id.len() == 12, "{org_id}");
    assert_eq!(o.master_account_id(), Some(ACCOUNT_ID));
    assert_eq!(code(org.create_organization().send().await), "AlreadyInOrganizationException");
    let roots = org.list_roots().send().await.unwrap();
    let root_id = roots.roots()[0].id().unwrap().to_owned();
    assert!(root_id.starts_with("r-"), "{root_id}");
    // As in AWS's API, no policy type is enabled until asked for.
    assert!(roots.roots()[0].policy_types().is_empty());
    let enabled = org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await;
    assert_eq!(enabled.unwrap().root().unwrap().policy_types()[0].r#type(), Some(&PolicyType::ServiceControlPolicy));
    let twice = org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await;
    assert_eq!(code(twice), "PolicyTypeAlreadyEnabledException");

    // Root → Workloads → Prod / Dev.
    let ou = |parent: &str, name: &str| org.create_organizational_unit().parent_id(parent).name(name).send();
    let workloads = ou(&root_id, "Workloads").await.unwrap().organizational_unit().unwrap().id().unwrap().to_owned();
    let prod = ou(&workloads, "Prod").await.unwrap();
    let prod = prod.organizational_unit().unwrap();
    assert_eq!(prod.path(), Some(format!("{org_id}/{root_id}/{workloads}/{}/", prod.id().unwrap()).as_str()));
    let prod = prod.id().unwrap().to_owned();
    let dev = ou(&workloads, "Dev").await.unwrap().organizational_unit().unwrap().id().unwrap().to_owned();
    assert_eq!(code(ou(&workloads, "Dev").await), "DuplicateOrganizationalUnitException");
    let under = org.list_children().parent_id(&workloads).child_type(ChildType::OrganizationalUnit).send().await;
    assert_eq!(under.unwrap().children().len(), 2);

    // A member account, created with its administrator role.
    let asked = org.create_account().email("member@example.com").account_name("member").send().await.unwrap();
    let request = asked.create_account_status().unwrap().id().unwrap().to_owned();
    let status = org.describe_create_account_status().create_account_request_id(&request).send().await.unwrap();
    let status = status.create_account_status().unwrap();
    assert_eq!(status.state().map(|s| s.as_str()), Some("SUCCEEDED"));
    let member = status.account_id().unwrap().to_owned();
    assert_eq!(org.list_accounts().send().await.unwrap().accounts().len(), 2);
    org.move_account()
        .account_id(&member)
        .source_parent_id(&root_id)
        .destination_parent_id(&prod)
        .send()
        .await
        .unwrap();
    let parents = org.list_parents().child_id(&member).send().await.unwrap();
    assert_eq!(parents.parents()[0].id(), Some(prod.as_str()));

    // The management account's administrator assumes OrganizationAccountAccessRole in it.
    let admin = root(&server);
    admin.create_user().user_name("ops").send().await.unwrap();
    admin.put_user_policy().user_name("ops").policy_name("admin").policy_document(ADMIN).send().await.unwrap();
    let key = admin.create_access_key().user_name("ops").send().await.unwrap();
    let key = key.access_key().unwrap();
    let ops_sts = crate::sts_client(&server, key.access_key_id(), key.secret_access_key());
    let session = ops_sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole"))
        .role_session_name("ops")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let in_member = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    in_member.create_user().user_name("first").send().await.unwrap();
    let ops = iam(&server, key.access_key_id(), key.secret_access_key());

    // An SCP on Prod fencing everything into eu-west-1 binds the member, not the management account.
    let fence = org_policy(&org, PolicyType::ServiceControlPolicy, "only-eu", REGION_FENCE).await;
    org.attach_policy().policy_id(&fence).target_id(&prod).send().await.unwrap();
    assert_eq!(
        code(org.attach_policy().policy_id(&fence).target_id(&prod).send().await),
        "DuplicatePolicyAttachmentException"
    );
    let (code_, message) = err(in_member.list_users().send().await);
    assert_eq!(code_, "AccessDenied");
    assert!(message.contains("with an explicit deny in a service control policy"), "{message}");
    ops.list_users().send().await.unwrap();
    // The member's root user too: given a password by the operator, signed in, and fenced.
    let reset = rampart_server::reset_root_password(&server.config, Some(member.clone())).await.unwrap();
    assert_eq!(reset.root_email, "member@example.com");
    let (status, body) = server
        .sign_in(&serde_json::json!({"email": "member@example.com", "password": reset.password.as_str()}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let member_root = iam_with(
        &server,
        body["accessKeyId"].as_str().unwrap(),
        body["secretAccessKey"].as_str().unwrap(),
        body["sessionToken"].as_str(),
    );
    let (code_, message) = err(member_root.list_users().send().await);
    assert_eq!(code_, "AccessDenied");
    assert!(message.starts_with(&format!("User: arn:aws:iam::{member}:root is not authorized")), "{message}");
    assert!(message.contains("with an explicit deny in a service control policy"), "{message}");

    // Moved to Dev, the fence no longer applies.
    org.move_account().account_id(&member).source_parent_id(&prod).destination_parent_id(&dev).send().await.unwrap();
    assert_eq!(in_member.list_users().send().await.unwrap().users().len(), 1);
    member_root.list_users().send().await.unwrap();
    // A member may describe its organization, and manage nothing.
    let member_orgs = orgs(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(
        member_orgs.describe_organization().send().await.unwrap().organization().unwrap().id(),
        Some(org_id.as_str())
    );
    assert_eq!(code(member_orgs.list_accounts().send().await), "AccessDeniedException");

    // Trust policies in the management account can admit the organization's principals by
    // aws:PrincipalOrgID and aws:PrincipalOrgPaths.
    let shared = |name: &str, ou: &str| {
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"{org_id}"}},"ForAnyValue:StringLike":{{"aws:PrincipalOrgPaths":"{org_id}/{root_id}/{workloads}/{ou}/*"}}}}}}]}}"#
        );
        admin.create_role().role_name(name).assume_role_policy_document(trust).send()
    };
    shared("for-dev", &dev).await.unwrap();
    shared("for-prod", &prod).await.unwrap();
    let member_sts = crate::roles::sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let assume = |role: &str| {
        member_sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/{role}"))
            .role_session_name("member")
            .send()
    };
    assume("for-dev").await.unwrap();
    let refused = assume("for-prod").await.expect_err("the member is in Dev, not in Prod");
    assert_eq!(aws_sdk_sts::error::ProvideErrorMetadata::code(&refused), Some("AccessDenied"));

    // Dev narrowed to IAM reads: FullAWSAccess cannot go while it is Dev's only SCP.
    let last = org.detach_policy().policy_id("p-FullAWSAccess").target_id(&dev).send().await.expect_err("the last SCP");
    match last.as_service_error() {
        Some(aws_sdk_organizations::operation::detach_policy::DetachPolicyError::ConstraintViolationException(e)) => {
            assert_eq!(
                e.reason(),
                Some(&aws_sdk_organizations::types::ConstraintViolationExceptionReason::MinPolicyTypeAttachmentLimitExceeded)
            );
        }
        other => panic!("not a ConstraintViolationException: {other:?}"),
    }
    let reads = org_policy(&org, PolicyType::ServiceControlPolicy, "iam-reads", IAM_READS).await;
    org.attach_policy().policy_id(&reads).target_id(&dev).send().await.unwrap();
    org.detach_policy().policy_id("p-FullAWSAccess").target_id(&dev).send().await.unwrap();
    in_member.list_users().send().await.unwrap();
    let (code_, message) = err(in_member.create_user().user_name("second").send().await);
    assert_eq!(code_, "AccessDenied");
    assert!(message.contains("because no service control policy allows the iam:CreateUser action"), "{message}");
    let targets = org.list_targets_for_policy().policy_id(&reads).send().await.unwrap();
    assert_eq!(targets.targets()[0].target_id(), Some(dev.as_str()));
    let for_dev = org.list_policies_for_target().target_id(&dev).filter(PolicyType::ServiceControlPolicy).send().await;
    assert_eq!(for_dev.unwrap().policies().len(), 1);
    assert_eq!(code(org.delete_policy().policy_id(&reads).send().await), "PolicyInUseException");

    // Bad SCPs and misplaced callers get Organizations' errors.
    let malformed = org
        .create_policy()
        .name("bad")
        .description("has a principal")
        .r#type(PolicyType::ServiceControlPolicy)
        .content(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await;
    assert_eq!(code(malformed), "MalformedPolicyDocumentException");
    org.delete_organizational_unit().organizational_unit_id(&prod).send().await.unwrap();
    assert_eq!(
        code(org.delete_organizational_unit().organizational_unit_id(&workloads).send().await),
        "OrganizationalUnitNotEmptyException"
    );
    assert_eq!(code(org.delete_organization().send().await), "OrganizationNotEmptyException");
}

#[tokio::test]
async fn tags_trusted_access_closing_and_leaving_the_organization() {
    use aws_sdk_organizations::types::Tag;
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    let ou = org.create_organizational_unit().parent_id(&root_id).name("Apps").tags(tag("team", "a")).send().await;
    let ou = ou.unwrap().organizational_unit().unwrap().id().unwrap().to_owned();
    org.tag_resource().resource_id(&ou).tags(tag("env", "prod")).tags(tag("team", "b")).send().await.unwrap();
    let tags = org.list_tags_for_resource().resource_id(&ou).send().await.unwrap();
    let mut seen: Vec<(String, String)> =
        tags.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    seen.sort();
    assert_eq!(seen, [("env".to_owned(), "prod".to_owned()), ("team".to_owned(), "b".to_owned())]);
    org.untag_resource().resource_id(&ou).tag_keys("env").send().await.unwrap();
    assert_eq!(org.list_tags_for_resource().resource_id(&ou).send().await.unwrap().tags().len(), 1);
    assert_eq!(
        code(org.tag_resource().resource_id("ou-zzzz-zzzzzzzz").tags(tag("a", "b")).send().await),
        "TargetNotFoundException"
    );

    // Trusted access for a service, listed with its date; enabling twice changes nothing.
    for _ in 0..2 {
        org.enable_aws_service_access().service_principal("guardduty.amazonaws.com").send().await.unwrap();
    }
    let enabled = org.list_aws_service_access_for_organization().send().await.unwrap();
    assert_eq!(enabled.enabled_service_principals().len(), 1);
    assert_eq!(enabled.enabled_service_principals()[0].service_principal(), Some("guardduty.amazonaws.com"));
    assert_eq!(
        code(org.enable_aws_service_access().service_principal("Not A Principal").send().await),
        "InvalidInputException"
    );
    org.disable_aws_service_access().service_principal("guardduty.amazonaws.com").send().await.unwrap();
    assert!(
        org.list_aws_service_access_for_organization().send().await.unwrap().enabled_service_principals().is_empty()
    );
    assert!(org.list_delegated_administrators().send().await.unwrap().delegated_administrators().is_empty());

    // A member leaves; the management account cannot.
    let made =
        org.create_account().email("leaver@example.com").account_name("leaver").tags(tag("cost", "1")).send().await;
    let request = made.unwrap().create_account_status().unwrap().id().unwrap().to_owned();
    let status = org.describe_create_account_status().create_account_request_id(&request).send().await.unwrap();
    let leaver = status.create_account_status().unwrap().account_id().unwrap().to_owned();
    assert_eq!(org.list_tags_for_resource().resource_id(&leaver).send().await.unwrap().tags().len(), 1);
    let again = org.create_account().email("LEAVER@example.com").account_name("twin").send().await.unwrap();
    let again = again.create_account_status().unwrap().id().unwrap().to_owned();
    let failed = org.describe_create_account_status().create_account_request_id(&again).send().await.unwrap();
    let failed = failed.create_account_status().unwrap();
    assert_eq!(failed.state().map(|s| s.as_str()), Some("FAILED"));
    assert_eq!(failed.failure_reason().map(|r| r.as_str()), Some("EMAIL_ALREADY_EXISTS"));
    assert_eq!(
        code(org.remove_account_from_organization().account_id(ACCOUNT_ID).send().await),
        "ConstraintViolationException"
    );
    // A closed account is SUSPENDED, and its principals can do nothing any more.
    let closer = member_account(&org, "closer@example.com", "closer").await;
    let key = admin_key(&root(&server), "ops").await;
    let in_closer = in_member(&server, &key, &closer).await;
    in_closer.list_users().send().await.unwrap();
    org.close_account().account_id(&closer).send().await.unwrap();
    let described = org.describe_account().account_id(&closer).send().await.unwrap();
    assert_eq!(described.account().unwrap().state().map(|s| s.as_str()), Some("SUSPENDED"));
    let (code_, message) = err(in_closer.list_users().send().await);
    assert_eq!(code_, "AccessDenied");
    assert!(message.ends_with("because the account is closed"), "{message}");
    assert_eq!(code(org.close_account().account_id(&closer).send().await), "AccountAlreadyClosedException");
    assert_eq!(code(org.close_account().account_id(ACCOUNT_ID).send().await), "ConstraintViolationException");
    let stays = org.remove_account_from_organization().account_id(&closer).send().await;
    assert_eq!(code(stays), "ConstraintViolationException");
    org.remove_account_from_organization().account_id(&leaver).send().await.unwrap();
    assert_eq!(
        org.list_accounts().send().await.unwrap().accounts().len(),
        2,
        "the management account and the closed one"
    );
    assert_eq!(code(org.describe_account().account_id(&leaver).send().await), "AccountNotFoundException");
    org.delete_organizational_unit().organizational_unit_id(&ou).send().await.unwrap();
    assert_eq!(code(org.delete_organization().send().await), "OrganizationNotEmptyException");
}

#[tokio::test]
async fn centralized_root_access_gives_task_bounded_root_sessions_in_members() {
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let admin = root(&server);
    // Outside an organization, IAM says so.
    assert_eq!(err(admin.list_organizations_features().send().await).0, "OrganizationNotFoundException");
    org.create_organization().send().await.unwrap();
    assert_eq!(err(admin.list_organizations_features().send().await).0, "ServiceAccessNotEnabledException");
    org.enable_aws_service_access().service_principal("iam.amazonaws.com").send().await.unwrap();
    let none = admin.list_organizations_features().send().await.unwrap();
    assert!(none.enabled_features().is_empty());
    admin.enable_organizations_root_credentials_management().send().await.unwrap();
    let both = admin.enable_organizations_root_sessions().send().await.unwrap();
    let features: Vec<&str> = both.enabled_features().iter().map(|f| f.as_str()).collect();
    assert_eq!(features, ["RootCredentialsManagement", "RootSessions"]);

    let member = member_account(&org, "task@example.com", "task").await;
    let key = admin_key(&admin, "ops").await;
    let ops = crate::sts_client(&server, &key.0, &key.1);
    let task = |arn: &str| aws_sdk_sts::types::PolicyDescriptorType::builder().arn(arn).build();
    let audit = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials";
    let bad = ops
        .assume_root()
        .target_principal(&member)
        .task_policy_arn(task("arn:aws:iam::aws:policy/ReadOnlyAccess"))
        .send()
        .await;
    assert_eq!(
        bad.map(|_| ()).map_err(|e| aws_sdk_sts::error::ProvideErrorMetadata::code(&e).map(str::to_owned)),
        Err(Some("ValidationError".to_owned()))
    );
    let got = ops.assume_root().target_principal(&member).task_policy_arn(task(audit)).send().await.unwrap();
    let c = got.credentials().unwrap();
    let who = crate::roles::sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(
        who.get_caller_identity().send().await.unwrap().arn(),
        Some(format!("arn:aws:iam::{member}:root").as_str())
    );
    // The member's root, bounded by the task policy: auditing, not changing.
    let as_root = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    as_root.get_account_summary().send().await.unwrap();
    let (code_, message) = err(as_root.create_user().user_name("x").send().await);
    assert_eq!(code_, "AccessDenied");
    assert!(message.contains("explicit deny in a session policy"), "{message}");

    // Only with RootSessions enabled, and only into members.
    let own = ops.assume_root().target_principal(ACCOUNT_ID).task_policy_arn(task(audit)).send().await;
    assert!(own.is_err(), "the management account is no target");
    admin.disable_organizations_root_sessions().send().await.unwrap();
    let off = ops.assume_root().target_principal(&member).task_policy_arn(task(audit)).send().await;
    assert_eq!(
        off.map(|_| ()).map_err(|e| aws_sdk_sts::error::ProvideErrorMetadata::code(&e).map(str::to_owned)),
        Err(Some("AccessDenied".to_owned()))
    );
}

#[tokio::test]
async fn an_organization_trail_records_the_members_calls() {
    let server = TestServer::start_with(|c| c.trail_delivery_secs = 1).await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let ct = crate::cloudtrail::trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let s3 = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    crate::cloudtrail::trail_bucket(&s3, "org-trail").await;
    let org_id = org.create_organization().send().await.unwrap().organization().unwrap().id().unwrap().to_owned();
    let create = || ct.create_trail().name("org").s3_bucket_name("org-trail").is_organization_trail(true).send();
    let refused = create().await.expect_err("no trusted access yet");
    assert_eq!(
        aws_sdk_cloudtrail::error::ProvideErrorMetadata::code(&refused),
        Some("CloudTrailAccessNotEnabledException")
    );
    org.enable_aws_service_access().service_principal("cloudtrail.amazonaws.com").send().await.unwrap();
    let made = create().await.unwrap();
    assert_eq!(made.is_organization_trail(), Some(true));
    ct.start_logging().name("org").send().await.unwrap();

    let member = member_account(&org, "busy@example.com", "busy").await;
    let key = admin_key(&root(&server), "ops").await;
    // The member sees the organization's trail, and cannot change it.
    let session = crate::sts_client(&server, &key.0, &key.1)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole"))
        .role_session_name("ops")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let member_ct =
        crate::cloudtrail::trail(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let seen = member_ct.describe_trails().send().await.unwrap();
    assert_eq!(seen.trail_list().len(), 1);
    assert_eq!(seen.trail_list()[0].is_organization_trail(), Some(true));
    let arn = seen.trail_list()[0].trail_arn().unwrap().to_owned();
    assert!(arn.contains(ACCOUNT_ID), "{arn}");
    assert!(member_ct.stop_logging().name(&arn).send().await.is_err(), "a member cannot stop the organization's trail");
    in_member(&server, &key, &member).await.create_user().user_name("made-in-member").send().await.unwrap();

    // The member's call lands in the management account's bucket, under the organization's path.
    let prefix = format!("AWSLogs/{org_id}/{member}/CloudTrail/us-east-1/");
    for _ in 0..100 {
        let listed = s3.list_objects_v2().bucket("org-trail").prefix(&prefix).send().await.unwrap();
        for o in listed.contents() {
            let body = s3.get_object().bucket("org-trail").key(o.key().unwrap()).send().await.unwrap();
            let body = body.body.collect().await.unwrap().into_bytes();
            let mut json = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut json).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
            let found = doc["Records"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["eventName"] == "CreateUser" && r["recipientAccountId"] == member.as_str());
            if found {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the member's CreateUser never reached {prefix}");
}

#[tokio::test]
async fn resource_control_policies_guard_a_members_resources_from_any_caller() {
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ResourceControlPolicy).send().await.unwrap();
    let rcps = org.list_policies().filter(PolicyType::ResourceControlPolicy).send().await.unwrap();
    assert_eq!(rcps.policies()[0].id(), Some("p-RCPFullAWSAccess"));
    let member = member_account(&org, "guarded@example.com", "guarded").await;
    let admin = root(&server);
    let keys = [admin_key(&admin, "approved").await, admin_key(&admin, "other").await];
    let assume = |i: usize| {
        crate::sts_client(&server, &keys[i].0, &keys[i].1)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole"))
            .role_session_name("ops")
            .send()
    };
    assume(1).await.unwrap();

    // An RCP on the member: its roles may be assumed by the approved user only, whatever the
    // callers' own policies allow.
    let only_approved = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Resource":"*","Condition":{{"StringNotLike":{{"aws:PrincipalArn":"arn:aws:iam::{ACCOUNT_ID}:user/approved"}}}}}}]}}"#
    );
    let rcp = org_policy(&org, PolicyType::ResourceControlPolicy, "only-approved", &only_approved).await;
    org.attach_policy().policy_id(&rcp).target_id(&member).send().await.unwrap();
    let refused = assume(1).await.expect_err("an RCP denies the other user");
    assert_eq!(aws_sdk_sts::error::ProvideErrorMetadata::code(&refused), Some("AccessDenied"));
    let message = aws_sdk_sts::error::ProvideErrorMetadata::message(&refused).unwrap_or_default().to_owned();
    assert!(message.contains("resource control policy"), "{message}");
    assume(0).await.unwrap();
    // An RCP names every principal, as Organizations requires.
    let malformed = org
        .create_policy()
        .name("bad")
        .description("no principal")
        .r#type(PolicyType::ResourceControlPolicy)
        .content(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await;
    assert_eq!(code(malformed), "MalformedPolicyDocumentException");
}

#[tokio::test]
async fn an_invited_standalone_account_joins_under_the_organizations_policies_and_may_leave() {
    use aws_sdk_organizations::types::{HandshakeParty, HandshakePartyType, HandshakeState, Tag};
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let org_id = org.create_organization().send().await.unwrap().organization().unwrap().id().unwrap().to_owned();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await.unwrap();
    // A standalone account: created in the organization, then removed from it.
    let guest = member_account(&org, "guest@example.com", "guest").await;
    let other = member_account(&org, "other@example.com", "other").await;
    org.remove_account_from_organization().account_id(&guest).send().await.unwrap();
    let key = admin_key(&root(&server), "ops").await;
    let as_guest = orgs_in_member(&server, &key, &guest).await;
    let as_other = orgs_in_member(&server, &key, &other).await;
    assert_eq!(code(as_guest.describe_organization().send().await), "AWSOrganizationsNotInUseException");

    let party = |id: &str, kind: HandshakePartyType| HandshakeParty::builder().id(id).r#type(kind).build().unwrap();
    let invite = |target: HandshakeParty| org.invite_account_to_organization().target(target).notes("join us");
    let first = invite(party(&guest, HandshakePartyType::Account)).send().await.unwrap();
    let first = first.handshake().unwrap();
    let first_id = first.id().unwrap().to_owned();
    assert!(first_id.starts_with("h-"), "{first_id}");
    assert_eq!(first.state(), Some(&HandshakeState::Open));
    assert_eq!(
        first.arn(),
        Some(format!("arn:aws:organizations::{ACCOUNT_ID}:handshake/{org_id}/invite/{first_id}").as_str())
    );
    assert_eq!(first.parties().len(), 2);
    let duplicate = invite(party(&guest, HandshakePartyType::Account)).send().await;
    assert_eq!(code(duplicate), "DuplicateHandshakeException");
    let member = invite(party(&other, HandshakePartyType::Account)).send().await;
    assert_eq!(code(member), "HandshakeConstraintViolationException");
    let wrong = invite(party(&org_id, HandshakePartyType::Organization)).send().await;
    assert_eq!(code(wrong), "InvalidInputException");

    // Only the invited account sees and answers it.
    let received = as_guest.list_handshakes_for_account().send().await.unwrap();
    assert_eq!(received.handshakes().len(), 1);
    assert!(as_other.list_handshakes_for_account().send().await.unwrap().handshakes().is_empty());
    assert_eq!(code(as_other.accept_handshake().handshake_id(&first_id).send().await), "HandshakeNotFoundException");
    assert_eq!(code(org.accept_handshake().handshake_id(&first_id).send().await), "AccessDeniedException");
    let declined = as_guest.decline_handshake().handshake_id(&first_id).send().await.unwrap();
    assert_eq!(declined.handshake().unwrap().state(), Some(&HandshakeState::Declined));
    let late = as_guest.accept_handshake().handshake_id(&first_id).send().await;
    assert_eq!(code(late), "InvalidHandshakeTransitionException");

    // By email this time: withdrawn once, then accepted.
    let by_email = || party("GUEST@example.com", HandshakePartyType::Email);
    let second = invite(by_email()).send().await.unwrap().handshake().unwrap().id().unwrap().to_owned();
    let canceled = org.cancel_handshake().handshake_id(&second).send().await.unwrap();
    assert_eq!(canceled.handshake().unwrap().state(), Some(&HandshakeState::Canceled));
    let third = org
        .invite_account_to_organization()
        .target(by_email())
        .tags(Tag::builder().key("cost").value("42").build().unwrap())
        .send()
        .await
        .unwrap();
    let third = third.handshake().unwrap().id().unwrap().to_owned();
    let accepted = as_guest.accept_handshake().handshake_id(&third).send().await.unwrap();
    assert_eq!(accepted.handshake().unwrap().state(), Some(&HandshakeState::Accepted));
    let again = as_guest.accept_handshake().handshake_id(&third).send().await;
    assert_eq!(code(again), "HandshakeAlreadyInStateException");
    let described = org.describe_handshake().handshake_id(&third).send().await.unwrap();
    assert_eq!(described.handshake().unwrap().state(), Some(&HandshakeState::Accepted));
    assert_eq!(org.list_handshakes_for_organization().send().await.unwrap().handshakes().len(), 3);

    // A member now: invited, tagged, in the root under FullAWSAccess, bound by an SCP.
    let joined = org.describe_account().account_id(&guest).send().await.unwrap();
    let joined = joined.account().unwrap();
    assert_eq!(joined.joined_method().map(|m| m.as_str()), Some("INVITED"));
    let tags = org.list_tags_for_resource().resource_id(&guest).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("cost", "42")]);
    let attached = org.list_policies_for_target().target_id(&guest).filter(PolicyType::ServiceControlPolicy).send();
    assert_eq!(attached.await.unwrap().policies()[0].id(), Some("p-FullAWSAccess"));
    assert_eq!(
        as_guest.describe_organization().send().await.unwrap().organization().unwrap().id(),
        Some(org_id.as_str())
    );
    let no_leaving = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#;
    let fence = org_policy(&org, PolicyType::ServiceControlPolicy, "stay", no_leaving).await;
    org.attach_policy().policy_id(&fence).target_id(&guest).send().await.unwrap();
    assert_eq!(code(as_guest.leave_organization().send().await), "AccessDeniedException");
    org.detach_policy().policy_id(&fence).target_id(&guest).send().await.unwrap();
    as_guest.leave_organization().send().await.unwrap();
    assert_eq!(code(as_guest.describe_organization().send().await), "AWSOrganizationsNotInUseException");
    assert_eq!(code(org.leave_organization().send().await), "MasterCannotLeaveOrganizationException");
}

#[tokio::test]
async fn delegated_administrators_read_and_the_resource_policy_delegates_policy_management() {
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await.unwrap();
    let auditor = member_account(&org, "auditor@example.com", "auditor").await;
    let security = member_account(&org, "security@example.com", "security").await;
    let key = admin_key(&root(&server), "ops").await;
    let as_auditor = orgs_in_member(&server, &key, &auditor).await;
    let as_security = orgs_in_member(&server, &key, &security).await;
    assert_eq!(code(as_auditor.list_accounts().send().await), "AccessDeniedException");

    // A delegated administrator reads the organization, and changes nothing.
    let register = || {
        org.register_delegated_administrator().account_id(&auditor).service_principal("cloudtrail.amazonaws.com").send()
    };
    assert_eq!(code(register().await), "ConstraintViolationException", "trusted access comes first");
    org.enable_aws_service_access().service_principal("cloudtrail.amazonaws.com").send().await.unwrap();
    register().await.unwrap();
    assert_eq!(code(register().await), "AccountAlreadyRegisteredException");
    let management = org
        .register_delegated_administrator()
        .account_id(ACCOUNT_ID)
        .service_principal("cloudtrail.amazonaws.com")
        .send()
        .await;
    assert_eq!(code(management), "ConstraintViolationException");
    // GuardDuty takes one delegated administrator; CloudTrail takes up to three.
    org.enable_aws_service_access().service_principal("guardduty.amazonaws.com").send().await.unwrap();
    let for_service = |account: &str, service: &str| {
        org.register_delegated_administrator().account_id(account).service_principal(service).send()
    };
    for_service(&auditor, "guardduty.amazonaws.com").await.unwrap();
    let second = for_service(&security, "guardduty.amazonaws.com").await.unwrap_err();
    let second = second.as_service_error().unwrap();
    assert!(second.is_constraint_violation_exception(), "{second:?}");
    let reason = match second {
        RegisterDelegatedAdministratorError::ConstraintViolationException(e) => e.reason().cloned(),
        _ => None,
    };
    assert_eq!(reason, Some(ConstraintViolationExceptionReason::DelegatedAdministratorExistsForThisService));
    for_service(&security, "cloudtrail.amazonaws.com").await.unwrap();
    org.deregister_delegated_administrator()
        .account_id(&security)
        .service_principal("cloudtrail.amazonaws.com")
        .send()
        .await
        .unwrap();
    org.deregister_delegated_administrator()
        .account_id(&auditor)
        .service_principal("guardduty.amazonaws.com")
        .send()
        .await
        .unwrap();
    assert_eq!(as_auditor.list_accounts().send().await.unwrap().accounts().len(), 3);
    let admins = as_auditor.list_delegated_administrators().send().await.unwrap();
    assert_eq!(admins.delegated_administrators()[0].id(), Some(auditor.as_str()));
    let services = org.list_delegated_services_for_account().account_id(&auditor).send().await.unwrap();
    assert_eq!(services.delegated_services()[0].service_principal(), Some("cloudtrail.amazonaws.com"));
    let written = as_auditor.create_organizational_unit().parent_id(&root_id).name("Mine").send().await;
    assert_eq!(code(written), "AccessDeniedException");
    let removal = org.remove_account_from_organization().account_id(&auditor).send().await;
    assert_eq!(code(removal), "ConstraintViolationException");
    org.deregister_delegated_administrator()
        .account_id(&auditor)
        .service_principal("cloudtrail.amazonaws.com")
        .send()
        .await
        .unwrap();
    assert_eq!(code(as_auditor.list_accounts().send().await), "AccessDeniedException");
    let gone = org.list_delegated_services_for_account().account_id(&auditor).send().await;
    assert_eq!(code(gone), "AccountNotRegisteredException");

    // The resource policy lets the security account manage policies, and nothing else.
    assert_eq!(code(org.describe_resource_policy().send().await), "ResourcePolicyNotFoundException");
    let grant = |actions: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Delegate","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{security}:root"}},"Action":{actions},"Resource":"*"}}]}}"#
        )
    };
    let refused = org.put_resource_policy().content(grant(r#""organizations:CreateOrganizationalUnit""#)).send().await;
    assert_eq!(code(refused), "InvalidInputException");
    let put = org
        .put_resource_policy()
        .content(grant(r#"["organizations:List*","organizations:Describe*","organizations:CreatePolicy","organizations:AttachPolicy"]"#))
        .send()
        .await
        .unwrap();
    let summary = put.resource_policy().unwrap().resource_policy_summary().unwrap();
    assert!(summary.id().unwrap().starts_with("rp-"), "{summary:?}");
    assert_eq!(code(as_security.list_policies().filter(PolicyType::ServiceControlPolicy).send().await), "OK");
    let theirs = org_policy(&as_security, PolicyType::ServiceControlPolicy, "theirs", IAM_READS).await;
    as_security.attach_policy().policy_id(&theirs).target_id(&auditor).send().await.unwrap();
    let targets = org.list_targets_for_policy().policy_id(&theirs).send().await.unwrap();
    assert_eq!(targets.targets()[0].target_id(), Some(auditor.as_str()));
    assert_eq!(code(as_security.delete_policy().policy_id(&theirs).send().await), "AccessDeniedException");
    let ou = as_security.create_organizational_unit().parent_id(&root_id).name("Theirs").send().await;
    assert_eq!(code(ou), "AccessDeniedException");
    assert_eq!(
        code(as_auditor.list_policies().filter(PolicyType::ServiceControlPolicy).send().await),
        "AccessDeniedException"
    );
    assert_eq!(
        code(as_security.put_resource_policy().content(grant(r#""organizations:*""#)).send().await),
        "AccessDeniedException"
    );
    org.delete_resource_policy().send().await.unwrap();
    assert_eq!(
        code(as_security.list_policies().filter(PolicyType::ServiceControlPolicy).send().await),
        "AccessDeniedException"
    );

    // A delegation is weighed on what the request acts on: limited to tag policies (AWS's own
    // example, `StringLikeIfExists` on `organizations:PolicyType`) it grants nothing over SCPs,
    // and limited to one OU it shows no other.
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::TagPolicy).send().await.unwrap();
    let shown = org.create_organizational_unit().parent_id(&root_id).name("Shown").send().await.unwrap();
    let shown = shown.organizational_unit().unwrap().arn().unwrap().to_owned();
    let hidden = org.create_organizational_unit().parent_id(&root_id).name("Hidden").send().await.unwrap();
    let hidden = hidden.organizational_unit().unwrap().id().unwrap().to_owned();
    let limited = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{security}:root"}},"Action":["organizations:ListPolicies","organizations:CreatePolicy"],"Resource":"*","Condition":{{"StringLikeIfExists":{{"organizations:PolicyType":"TAG_POLICY"}}}}}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{security}:root"}},"Action":"organizations:DescribeOrganizationalUnit","Resource":"{shown}"}}]}}"#
    );
    org.put_resource_policy().content(limited).send().await.unwrap();
    assert_eq!(code(as_security.list_policies().filter(PolicyType::TagPolicy).send().await), "OK");
    assert_eq!(
        code(as_security.list_policies().filter(PolicyType::ServiceControlPolicy).send().await),
        "AccessDeniedException"
    );
    let tags = r#"{"tags":{"team":{"tag_key":{"@@assign":"Team"}}}}"#;
    let create = |kind: PolicyType, content: &str| {
        as_security.create_policy().name("delegated").description("d").r#type(kind).content(content).send()
    };
    assert_eq!(code(create(PolicyType::TagPolicy, tags).await), "OK");
    assert_eq!(code(create(PolicyType::ServiceControlPolicy, ADMIN).await), "AccessDeniedException");
    let shown_id = shown.rsplit('/').next().unwrap();
    assert_eq!(code(as_security.describe_organizational_unit().organizational_unit_id(shown_id).send().await), "OK");
    assert_eq!(
        code(as_security.describe_organizational_unit().organizational_unit_id(&hidden).send().await),
        "AccessDeniedException"
    );
}

#[tokio::test]
async fn resource_organization_keys_describe_the_owner_of_the_resource() {
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let org_id = org.create_organization().send().await.unwrap().organization().unwrap().id().unwrap().to_owned();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let member = member_account(&org, "keys@example.com", "keys").await;
    let key = admin_key(&root(&server), "ops").await;
    let in_it = in_member(&server, &key, &member).await;
    // A user of the member allowed to read users only of its own organization's accounts.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{{"StringEquals":{{"aws:ResourceOrgID":"{org_id}","aws:ResourceAccount":"{member}"}},"StringLike":{{"aws:ResourceOrgPaths":"{org_id}/{root_id}/*"}}}}}}]}}"#
    );
    in_it.create_user().user_name("reader").send().await.unwrap();
    in_it.put_user_policy().user_name("reader").policy_name("org").policy_document(policy).send().await.unwrap();
    let made = in_it.create_access_key().user_name("reader").send().await.unwrap();
    let made = made.access_key().unwrap();
    let reader = iam_with(&server, made.access_key_id(), made.secret_access_key(), None);
    let me = reader.get_user().send().await.unwrap();
    assert_eq!(me.user().unwrap().user_name(), "reader");
    // The same request once the account has left: it belongs to no organization any more.
    org.remove_account_from_organization().account_id(&member).send().await.unwrap();
    assert_eq!(err(reader.get_user().send().await).0, "AccessDenied");
}

#[tokio::test]
async fn the_policy_simulator_weighs_the_scps_over_the_account_as_enforcement_does() {
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await.unwrap();
    let member = member_account(&org, "sim@example.com", "sim").await;
    let no_users =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}]}"#;
    let fence = org_policy(&org, PolicyType::ServiceControlPolicy, "no-users", no_users).await;
    org.attach_policy().policy_id(&fence).target_id(&member).send().await.unwrap();
    let key = admin_key(&root(&server), "ops").await;
    let in_it = in_member(&server, &key, &member).await;

    let decisions = |c: &aws_sdk_iam::Client| {
        c.simulate_custom_policy()
            .policy_input_list(ADMIN)
            .action_names("iam:CreateUser")
            .action_names("iam:ListUsers")
            .send()
    };
    let simulated = decisions(&in_it).await.unwrap();
    let results = simulated.evaluation_results();
    let outcome = |i: usize| {
        let r = &results[i];
        (r.eval_decision().as_str().to_owned(), r.organizations_decision_detail().map(|d| d.allowed_by_organizations()))
    };
    assert_eq!(outcome(0), ("explicitDeny".to_owned(), Some(false)));
    assert_eq!(outcome(1), ("allowed".to_owned(), Some(true)));
    // Enforcement agrees.
    assert_eq!(err(in_it.create_user().user_name("x").send().await).0, "AccessDenied");
    // The role as its policies stand: the SCP denies what AdministratorAccess allows.
    let role = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
    let principal =
        in_it.simulate_principal_policy().policy_source_arn(&role).action_names("iam:CreateUser").send().await.unwrap();
    assert_eq!(principal.evaluation_results()[0].eval_decision().as_str(), "explicitDeny");
    // The management account is bound by no SCP: no Organizations detail.
    let at_home = decisions(&root(&server)).await.unwrap();
    assert_eq!(at_home.evaluation_results()[0].eval_decision().as_str(), "allowed");
    assert!(at_home.evaluation_results()[0].organizations_decision_detail().is_none());
}

#[tokio::test]
async fn tag_policies_merge_from_the_root_down_into_an_accounts_effective_policy() {
    use aws_sdk_organizations::types::EffectivePolicyType;
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let member = member_account(&org, "tags@example.com", "tags").await;
    let apps = org.create_organizational_unit().parent_id(&root_id).name("Apps").send().await.unwrap();
    let apps = apps.organizational_unit().unwrap().id().unwrap().to_owned();
    org.move_account()
        .account_id(&member)
        .source_parent_id(&root_id)
        .destination_parent_id(&apps)
        .send()
        .await
        .unwrap();

    let base = r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"CostCenter"},"tag_value":{"@@assign":["Development","Support"]}}}}"#;
    let more =
        r#"{"tags":{"costcenter":{"tag_value":{"@@append":["Marketing"]}},"team":{"tag_key":{"@@assign":"Team"}}}}"#;
    let root_policy = org_policy(&org, PolicyType::TagPolicy, "base", base).await;
    let apps_policy = org_policy(&org, PolicyType::TagPolicy, "more", more).await;
    let attach = |policy: &str, target: &str| org.attach_policy().policy_id(policy).target_id(target).send();
    assert_eq!(code(attach(&root_policy, &root_id).await), "PolicyTypeNotEnabledException");
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::TagPolicy).send().await.unwrap();
    attach(&root_policy, &root_id).await.unwrap();
    attach(&apps_policy, &apps).await.unwrap();

    let effective = |target: Option<&str>| {
        org.describe_effective_policy()
            .policy_type(EffectivePolicyType::TagPolicy)
            .set_target_id(target.map(str::to_owned))
            .send()
    };
    let found = effective(Some(&member)).await.unwrap();
    let found = found.effective_policy().unwrap();
    let content: serde_json::Value = serde_json::from_str(found.policy_content().unwrap()).unwrap();
    assert_eq!(
        content,
        serde_json::json!({"tags": {
            "costcenter": {"tag_key": "CostCenter", "tag_value": ["Development", "Support", "Marketing"]},
            "team": {"tag_key": "Team"}
        }})
    );
    assert_eq!(found.target_id(), Some(member.as_str()));
    assert!(found.last_updated_timestamp().is_some());
    // The management account sits in the root: only the root's policy reaches it.
    let home = effective(None).await.unwrap();
    let home: serde_json::Value =
        serde_json::from_str(home.effective_policy().unwrap().policy_content().unwrap()).unwrap();
    assert_eq!(home["tags"]["costcenter"]["tag_value"], serde_json::json!(["Development", "Support"]));
    // The member asks for its own.
    let key = admin_key(&root(&server), "ops").await;
    let as_member = orgs_in_member(&server, &key, &member).await;
    let own = as_member.describe_effective_policy().policy_type(EffectivePolicyType::TagPolicy).send().await.unwrap();
    assert_eq!(own.effective_policy().unwrap().target_id(), Some(member.as_str()));
    let others = as_member
        .describe_effective_policy()
        .policy_type(EffectivePolicyType::TagPolicy)
        .target_id(ACCOUNT_ID)
        .send()
        .await;
    assert_eq!(code(others), "AccessDeniedException");

    // Bad input.
    let backup =
        org.describe_effective_policy().policy_type(EffectivePolicyType::BackupPolicy).target_id(&member).send();
    assert_eq!(code(backup.await), "EffectivePolicyNotFoundException");
    assert_eq!(code(effective(Some(&apps)).await), "InvalidInputException");
    let wrong_key = r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"Owner"}}}}"#;
    let made =
        org.create_policy().name("bad").description("bad").r#type(PolicyType::TagPolicy).content(wrong_key).send();
    assert_eq!(code(made.await), "MalformedPolicyDocumentException");
    let typo = r#"{"tags":{"costcenter":{"tag_key":{"@@asign":"CostCenter"}}}}"#;
    let made = org.create_policy().name("bad").description("bad").r#type(PolicyType::TagPolicy).content(typo).send();
    assert_eq!(code(made.await), "MalformedPolicyDocumentException");
}

#[tokio::test]
async fn the_organizations_access_report_shows_what_the_scps_allow_and_what_members_used() {
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let admin = root(&server);
    let o = org.create_organization().send().await.unwrap();
    let org_id = o.organization().unwrap().id().unwrap().to_owned();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let work = org.create_organizational_unit().parent_id(&root_id).name("Work").send().await.unwrap();
    let work = work.organizational_unit().unwrap().id().unwrap().to_owned();
    let member = member_account(&org, "report@example.com", "report").await;
    org.move_account()
        .account_id(&member)
        .source_parent_id(&root_id)
        .destination_parent_id(&work)
        .send()
        .await
        .unwrap();
    let ou_path = format!("{org_id}/{root_id}/{work}/");
    let report = |path: String, policy: Option<String>| {
        let admin = admin.clone();
        async move {
            let job =
                admin.generate_organizations_access_report().entity_path(path).set_organizations_policy_id(policy);
            let job = job.send().await.unwrap().job_id().unwrap().to_owned();
            admin.get_organizations_access_report().job_id(job).send().await.unwrap()
        }
    };

    // Without SCPs enabled there is nothing to report against: the job fails, saying why.
    let failed = report(ou_path.clone(), None).await;
    assert_eq!(failed.job_status().as_str(), "FAILED");
    assert!(failed.error_details().unwrap().message().contains("enabled"), "{failed:?}");

    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await.unwrap();
    let scp = org_policy(
        &org,
        PolicyType::ServiceControlPolicy,
        "iam-and-s3",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","s3:*","sts:*"],"Resource":"*"}]}"#,
    )
    .await;
    org.attach_policy().policy_id(&scp).target_id(&work).send().await.unwrap();
    // Every target has FullAWSAccess until it is detached; then the OU allows only its own SCP's.
    org.detach_policy().policy_id("p-FullAWSAccess").target_id(&work).send().await.unwrap();

    // A principal of the member uses IAM; the report for the OU shows it, and only the services
    // both the root's FullAWSAccess and the OU's SCP allow.
    let key = admin_key(&admin, "reporter").await;
    let in_member_iam = in_member(&server, &key, &member).await;
    in_member_iam.list_users().send().await.unwrap();
    let mut got = None;
    for _ in 0..50 {
        let r = report(ou_path.clone(), None).await;
        if r.access_details().iter().any(|d| d.service_namespace() == "iam" && d.last_authenticated_time().is_some()) {
            got = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = match got {
        Some(r) => r,
        None => panic!("the member's IAM call reaches the report: {:?}", report(ou_path.clone(), None).await),
    };
    assert_eq!(r.job_status().as_str(), "COMPLETED");
    let namespaces: Vec<&str> = r.access_details().iter().map(|d| d.service_namespace()).collect();
    assert_eq!(namespaces, ["iam", "s3", "sts"]);
    assert_eq!(r.number_of_services_accessible(), Some(3));
    let iam_detail = r.access_details().iter().find(|d| d.service_namespace() == "iam").unwrap();
    assert_eq!(iam_detail.entity_path(), Some(format!("{ou_path}{member}").as_str()));
    assert_eq!(iam_detail.total_authenticated_entities(), Some(1));
    assert_eq!(iam_detail.region(), Some("us-east-1"));
    let s3_detail = r.access_details().iter().find(|d| d.service_namespace() == "s3").unwrap();
    assert!(s3_detail.last_authenticated_time().is_none() && s3_detail.entity_path().is_none());
    assert!(r.number_of_services_not_accessed().unwrap() >= 1);

    // The account's own path, and the report for one SCP, read the same use.
    let by_account = report(format!("{ou_path}{member}"), Some(scp.clone())).await;
    let namespaces: Vec<&str> = by_account.access_details().iter().map(|d| d.service_namespace()).collect();
    assert_eq!(namespaces, ["iam", "s3", "sts"]);
    assert!(by_account.access_details()[0].last_authenticated_time().is_some());

    // Paths outside the organization are refused; a member account cannot make the report.
    let stranger = admin.generate_organizations_access_report().entity_path(format!("o-0000000000/{root_id}/")).send();
    assert_eq!(err(stranger.await).0, "InvalidInput");
    let from_member = in_member_iam.generate_organizations_access_report().entity_path(ou_path.clone()).send().await;
    let job = from_member.unwrap().job_id().unwrap().to_owned();
    let got = in_member_iam.get_organizations_access_report().job_id(job).send().await.unwrap();
    assert_eq!(got.job_status().as_str(), "FAILED");
}

#[tokio::test]
async fn an_organization_moves_to_all_features_once_its_invited_members_approve() {
    use aws_sdk_organizations::types::{
        ActionType, HandshakeParty, HandshakePartyType, HandshakeResourceType, HandshakeState, OrganizationFeatureSet,
    };
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let made = org.create_organization().feature_set(OrganizationFeatureSet::ConsolidatedBilling).send().await;
    assert_eq!(made.unwrap().organization().unwrap().feature_set(), Some(&OrganizationFeatureSet::ConsolidatedBilling));
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    // One account the organization created (it need not approve), one it invited (it must).
    member_account(&org, "made@example.com", "made").await;
    let guest = member_account(&org, "invited@example.com", "invited").await;
    org.remove_account_from_organization().account_id(&guest).send().await.unwrap();
    let key = admin_key(&root(&server), "ops").await;
    let as_guest = orgs_in_member(&server, &key, &guest).await;
    let guest_party = || HandshakeParty::builder().id(&guest).r#type(HandshakePartyType::Account).build().unwrap();
    let invite = org.invite_account_to_organization().target(guest_party()).send().await.unwrap();
    as_guest.accept_handshake().handshake_id(invite.handshake().unwrap().id().unwrap()).send().await.unwrap();
    let scps = org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await;
    assert_eq!(code(scps), "ConstraintViolationException", "policies need all features");

    let started = org.enable_all_features().send().await.unwrap();
    let parent = started.handshake().unwrap();
    assert_eq!(parent.action(), Some(&ActionType::EnableAllFeatures));
    assert_eq!(parent.state(), Some(&HandshakeState::Open));
    let parent_id = parent.id().unwrap().to_owned();
    assert_eq!(code(org.enable_all_features().send().await), "HandshakeConstraintViolationException");
    assert_eq!(
        code(org.invite_account_to_organization().target(guest_party()).send().await),
        "HandshakeConstraintViolationException",
        "no invitations while the change is under way"
    );
    let early = org.accept_handshake().handshake_id(&parent_id).send().await;
    assert_eq!(code(early), "InvalidHandshakeTransitionException", "the invited member has not approved yet");

    // The invited member approves its handshake, which names the change it belongs to.
    let asked = as_guest.list_handshakes_for_account().send().await.unwrap();
    let approval = asked
        .handshakes()
        .iter()
        .find(|h| h.action() == Some(&ActionType::ApproveAllFeatures))
        .expect("the invited member is asked to approve");
    let names_parent = approval
        .resources()
        .iter()
        .any(|r| r.r#type() == Some(&HandshakeResourceType::ParentHandshake) && r.value() == Some(parent_id.as_str()));
    assert!(names_parent, "{approval:?}");
    let approval_id = approval.id().unwrap().to_owned();
    let children = org
        .list_handshakes_for_organization()
        .filter(aws_sdk_organizations::types::HandshakeFilter::builder().parent_handshake_id(&parent_id).build())
        .send()
        .await
        .unwrap();
    let children: Vec<&str> = children.handshakes().iter().filter_map(|h| h.id()).collect();
    assert_eq!(children, [approval_id.as_str()], "the approvals are the change's children");
    assert_eq!(code(org.accept_handshake().handshake_id(&approval_id).send().await), "AccessDeniedException");
    as_guest.accept_handshake().handshake_id(&approval_id).send().await.unwrap();

    let done = org.accept_handshake().handshake_id(&parent_id).send().await.unwrap();
    assert_eq!(done.handshake().unwrap().state(), Some(&HandshakeState::Accepted));
    let described = org.describe_organization().send().await.unwrap();
    assert_eq!(described.organization().unwrap().feature_set(), Some(&OrganizationFeatureSet::All));
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await.unwrap();
    assert_eq!(code(org.enable_all_features().send().await), "HandshakeConstraintViolationException");
}

/// A member's bucket under the organization's policies: its bucket policy admits the management
/// account, whose user reads it; `aws:ResourceOrgID` names the bucket owner's organization (an S3
/// ARN names no account: the bucket's owner does); and an RCP on the member, a data perimeter,
/// then refuses every caller from outside the member whatever the bucket policy says.
#[tokio::test]
async fn a_members_bucket_answers_to_resource_control_policies_and_organization_keys() {
    use aws_sdk_s3::primitives::ByteStream;
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let org_id = org.create_organization().send().await.unwrap().organization().unwrap().id().unwrap().to_owned();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ResourceControlPolicy).send().await.unwrap();
    let member = member_account(&org, "data@example.com", "data").await;
    let admin = root(&server);
    let ops = admin_key(&admin, "ops").await;

    // In the member: a bucket with an object, whose policy lets the management account read it.
    let (id, secret, token) = member_session(&server, &ops, &member).await;
    let owner = crate::s3::s3_with(&server, &id, &secret, Some(&token));
    owner.create_bucket().bucket("member-data").send().await.unwrap();
    owner.put_object().bucket("member-data").key("k").body(ByteStream::from_static(b"ledger")).send().await.unwrap();
    let shared = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::member-data/*"}}]}}"#
    );
    owner.put_bucket_policy().bucket("member-data").policy(shared).send().await.unwrap();

    // Management-account users whose own policies ask for the resource's organization.
    let reader = |org: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{{"StringEquals":{{"aws:ResourceOrgID":"{org}","aws:ResourceAccount":"{member}"}}}}}}]}}"#
        )
    };
    let (id, secret) = crate::iam::user_with_key(&admin, "in-org", &reader(&org_id)).await;
    let in_org = crate::s3::s3(&server, &id, &secret);
    let (id, secret) = crate::iam::user_with_key(&admin, "elsewhere", &reader("o-aaaaaaaaaa")).await;
    let elsewhere = crate::s3::s3(&server, &id, &secret);
    let got = in_org.get_object().bucket("member-data").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"ledger");
    assert_eq!(crate::s3::code(elsewhere.get_object().bucket("member-data").key("k").send().await), "AccessDenied");

    // A data perimeter on the member: no caller from another account reads its data.
    let perimeter = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{{"StringNotEquals":{{"aws:PrincipalAccount":"{member}"}}}}}}]}}"#
    );
    let rcp = org_policy(&org, PolicyType::ResourceControlPolicy, "perimeter", &perimeter).await;
    org.attach_policy().policy_id(&rcp).target_id(&member).send().await.unwrap();
    let refused = in_org.get_object().bucket("member-data").key("k").send().await.unwrap_err();
    let refused = refused.as_service_error().unwrap();
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(refused), Some("AccessDenied"));
    let message = aws_sdk_s3::error::ProvideErrorMetadata::message(refused).unwrap_or_default();
    assert!(message.contains("resource control policy"), "{message}");
    // The member's own principals still read.
    let got = owner.get_object().bucket("member-data").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"ledger");
}

/// Organizations' resource-level permissions: a policy naming an account, an OU or a policy by
/// its ARN, or a policy type by `organizations:PolicyType`, decides what it names and nothing
/// else, as the Service Authorization Reference lists each operation's resources and keys.
#[tokio::test]
async fn policies_name_organizations_resources_by_arn_and_policy_type() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let key = admin_key(&admin, "org-admin").await;
    let org = orgs(&server, &key.0, &key.1, None);
    let made = org.create_organization().send().await.unwrap();
    let org_id = made.organization().unwrap().id().unwrap().to_owned();
    let member = member_account(&org, "member@example.com", "member").await;
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let prod = org.create_organizational_unit().parent_id(&root_id).name("Prod").send().await.unwrap();
    let prod = prod.organizational_unit().unwrap().id().unwrap().to_owned();
    let dev = org.create_organizational_unit().parent_id(&root_id).name("Dev").send().await.unwrap();
    let dev = dev.organizational_unit().unwrap().id().unwrap().to_owned();
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::ServiceControlPolicy).send().await.unwrap();
    let scp = org_policy(&org, PolicyType::ServiceControlPolicy, "guard", ADMIN).await;

    let mgmt = rampart_testkit::ACCOUNT_ID;
    let auditor_policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "organizations:DescribeAccount",
             "Resource": format!("arn:aws:organizations::{mgmt}:account/{org_id}/{member}")},
            {"Effect": "Allow", "Action": ["organizations:DescribeOrganizationalUnit", "organizations:AttachPolicy"],
             "Resource": [format!("arn:aws:organizations::{mgmt}:ou/o-*/{prod}"),
                          format!("arn:aws:organizations::{mgmt}:policy/o-*/service_control_policy/*")]},
            {"Effect": "Allow", "Action": "organizations:ListPolicies", "Resource": "*",
             "Condition": {"StringEquals": {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}}}
        ]
    })
    .to_string();
    let (id, secret) = crate::iam::user_with_key(&admin, "auditor", &auditor_policy).await;
    let auditor = orgs(&server, &id, &secret, None);

    auditor.describe_account().account_id(&member).send().await.unwrap();
    let (c, m) = match auditor.describe_account().account_id(mgmt).send().await {
        Err(e) => {
            let e = e.into_service_error();
            (e.meta().code().unwrap_or_default().to_owned(), e.meta().message().unwrap_or_default().to_owned())
        }
        Ok(_) => panic!("the management account is not the auditor's to describe"),
    };
    assert_eq!(c, "AccessDeniedException");
    assert!(m.contains(&format!("on resource: arn:aws:organizations::{mgmt}:account/{org_id}/{mgmt}")), "{m}");
    auditor.describe_organizational_unit().organizational_unit_id(&prod).send().await.unwrap();
    assert_eq!(
        code(auditor.describe_organizational_unit().organizational_unit_id(&dev).send().await),
        "AccessDeniedException"
    );
    // AttachPolicy needs both the policy and the target.
    auditor.attach_policy().policy_id(&scp).target_id(&prod).send().await.unwrap();
    assert_eq!(code(auditor.attach_policy().policy_id(&scp).target_id(&dev).send().await), "AccessDeniedException");
    // The policy type a listing asks for is its condition key.
    auditor.list_policies().filter(PolicyType::ServiceControlPolicy).send().await.unwrap();
    assert_eq!(
        code(auditor.list_policies().filter(PolicyType::ResourceControlPolicy).send().await),
        "AccessDeniedException"
    );
}

#[tokio::test]
async fn invalid_effective_policies_are_listed_with_their_errors_and_contributing_policies() {
    use aws_sdk_organizations::operation::create_gov_cloud_account::CreateGovCloudAccountError;
    use aws_sdk_organizations::types::EffectivePolicyType;
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let org_id = org.create_organization().send().await.unwrap().organization().unwrap().id().unwrap().to_owned();
    let root_id = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_owned();
    let member = member_account(&org, "backup@example.com", "backup").await;
    let apps = org.create_organizational_unit().parent_id(&root_id).name("Apps").send().await.unwrap();
    let apps = apps.organizational_unit().unwrap().id().unwrap().to_owned();
    org.move_account()
        .account_id(&member)
        .source_parent_id(&root_id)
        .destination_parent_id(&apps)
        .send()
        .await
        .unwrap();
    org.enable_policy_type().root_id(&root_id).policy_type(PolicyType::BackupPolicy).send().await.unwrap();
    // The root's plan has a schedule and a vault but selects nothing; Apps adds the selection.
    let plan = r#"{"plans":{"daily":{
        "regions":{"@@assign":["us-east-1"]},
        "rules":{"nightly":{"schedule_expression":{"@@assign":"cron(0 5 ? * * *)"},
                            "target_backup_vault_name":{"@@assign":"Default"}}}}}}"#;
    let selection = r#"{"plans":{"daily":{"selections":{"tags":{"pii":{
        "iam_role_arn":{"@@assign":"arn:aws:iam::$account:role/Backup"},
        "tag_key":{"@@assign":"dataType"},"tag_value":{"@@assign":["PII"]}}}}}}}"#;
    let root_policy = org_policy(&org, PolicyType::BackupPolicy, "plan", plan).await;
    let apps_policy = org_policy(&org, PolicyType::BackupPolicy, "selection", selection).await;
    org.attach_policy().policy_id(&root_policy).target_id(&root_id).send().await.unwrap();
    org.attach_policy().policy_id(&apps_policy).target_id(&apps).send().await.unwrap();

    // The member's effective plan is complete; the management account's, in the root, is not.
    let invalid = org
        .list_accounts_with_invalid_effective_policy()
        .policy_type(EffectivePolicyType::BackupPolicy)
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.policy_type(), Some(&EffectivePolicyType::BackupPolicy));
    assert_eq!(invalid.accounts().iter().filter_map(|a| a.id()).collect::<Vec<_>>(), [ACCOUNT_ID]);
    let errors = |account: &str, kind: EffectivePolicyType| {
        org.list_effective_policy_validation_errors().account_id(account).policy_type(kind).send()
    };
    let home = errors(ACCOUNT_ID, EffectivePolicyType::BackupPolicy).await.unwrap();
    assert_eq!(home.account_id(), Some(ACCOUNT_ID));
    assert_eq!(home.path(), Some(format!("{org_id}/{root_id}/{ACCOUNT_ID}/").as_str()));
    assert!(home.evaluation_timestamp().is_some());
    let found = home.effective_policy_validation_errors();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].error_code(), Some("ELEMENTS_TOO_FEW"));
    assert_eq!(found[0].path_to_error(), Some("plans.daily.selections"));
    assert_eq!(found[0].contributing_policies(), std::slice::from_ref(&root_policy));
    let fine = errors(&member, EffectivePolicyType::BackupPolicy).await.unwrap();
    assert!(fine.effective_policy_validation_errors().is_empty());
    assert_eq!(fine.path(), Some(format!("{org_id}/{root_id}/{apps}/{member}/").as_str()));

    // A child that removes the vault breaks the member's plan, and both policies contributed.
    let no_vault = r#"{"plans":{"daily":{"rules":{"nightly":{"target_backup_vault_name":{"@@assign":""}}}}}}"#;
    let breaking = org_policy(&org, PolicyType::BackupPolicy, "no-vault", no_vault).await;
    org.attach_policy().policy_id(&breaking).target_id(&member).send().await.unwrap();
    let broken = errors(&member, EffectivePolicyType::BackupPolicy).await.unwrap();
    let broken = broken.effective_policy_validation_errors();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0].path_to_error(), Some("plans.daily.rules.nightly.target_backup_vault_name"));
    let mut by = broken[0].contributing_policies().to_vec();
    by.sort();
    let mut expected = vec![root_policy.clone(), breaking.clone()];
    expected.sort();
    assert_eq!(by, expected);
    let invalid = org
        .list_accounts_with_invalid_effective_policy()
        .policy_type(EffectivePolicyType::BackupPolicy)
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.accounts().len(), 2);

    // Bad input and callers.
    assert_eq!(code(errors(&member, EffectivePolicyType::TagPolicy).await), "EffectivePolicyNotFoundException");
    assert_eq!(code(errors("999999999999", EffectivePolicyType::BackupPolicy).await), "AccountNotFoundException");
    let scp = org
        .list_accounts_with_invalid_effective_policy()
        .policy_type(EffectivePolicyType::from("SERVICE_CONTROL_POLICY"))
        .send();
    assert_eq!(code(scp.await), "InvalidInputException");
    let key = admin_key(&root(&server), "ops").await;
    let as_member = orgs_in_member(&server, &key, &member).await;
    let asked = as_member
        .list_effective_policy_validation_errors()
        .account_id(&member)
        .policy_type(EffectivePolicyType::BackupPolicy)
        .send();
    assert_eq!(code(asked.await), "AccessDeniedException");

    // No management account here is paired with an AWS GovCloud (US) account.
    let gov = org.create_gov_cloud_account().email("gov@example.com").account_name("gov").send().await;
    let reason = match gov.as_ref().err().and_then(|e| e.as_service_error()) {
        Some(CreateGovCloudAccountError::ConstraintViolationException(e)) => e.reason().cloned(),
        _ => None,
    };
    assert_eq!(reason, Some(ConstraintViolationExceptionReason::MasterAccountNotGovcloudEnabled));
    assert_eq!(code(gov), "ConstraintViolationException");
    let gov = as_member.create_gov_cloud_account().email("gov@example.com").account_name("gov").send().await;
    assert_eq!(code(gov), "AccessDeniedException");
}

#[tokio::test]
async fn a_billing_transfer_runs_from_an_accepted_invitation_until_either_side_withdraws_it() {
    use aws_sdk_organizations::operation::invite_organization_to_transfer_responsibility::InviteOrganizationToTransferResponsibilityError;
    use aws_sdk_organizations::primitives::DateTime;
    use aws_sdk_organizations::types::{
        ActionType, HandshakeParty, HandshakePartyType, HandshakeState, ResponsibilityTransferStatus,
        ResponsibilityTransferType, Tag,
    };
    let server = TestServer::start().await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    let org_id = org.create_organization().send().await.unwrap().organization().unwrap().id().unwrap().to_owned();
    // A second organization: an account made here, removed, then managing an organization of its own.
    let other = member_account(&org, "other@example.com", "other").await;
    let staff = member_account(&org, "staff@example.com", "staff").await;
    org.remove_account_from_organization().account_id(&other).send().await.unwrap();
    let key = admin_key(&root(&server), "ops").await;
    let as_other = orgs_in_member(&server, &key, &other).await;
    let other_org = as_other.create_organization().send().await.unwrap();
    let other_org = other_org.organization().unwrap().id().unwrap().to_owned();

    // The first day of the month after next, 00:00 UTC.
    let now = time::OffsetDateTime::now_utc();
    let next = |d: time::Date| {
        let (y, m) = if d.month() == time::Month::December {
            (d.year() + 1, time::Month::January)
        } else {
            (d.year(), d.month().next())
        };
        time::Date::from_calendar_date(y, m, 1).unwrap()
    };
    let start = next(next(now.date())).midnight().assume_utc();
    let at = |t: time::OffsetDateTime| DateTime::from_secs(t.unix_timestamp());
    let party = |id: &str, kind: HandshakePartyType| HandshakeParty::builder().id(id).r#type(kind).build().unwrap();
    let invite = |target: HandshakeParty, start: time::OffsetDateTime| {
        org.invite_organization_to_transfer_responsibility()
            .r#type(ResponsibilityTransferType::Billing)
            .target(target)
            .start_timestamp(at(start))
            .source_name("their bill")
            .notes("we pay")
            .tags(Tag::builder().key("team").value("finance").build().unwrap())
    };
    let refused_start = |when: time::OffsetDateTime| {
        let sent = invite(party(&other, HandshakePartyType::Account), when).send();
        async move {
            match sent.await.err().as_ref().and_then(|e| e.as_service_error()) {
                Some(InviteOrganizationToTransferResponsibilityError::InvalidInputException(e)) => {
                    e.reason().map(|r| r.as_str().to_owned())
                }
                _ => None,
            }
        }
    };
    let mid_month = start + time::Duration::days(3);
    assert_eq!(refused_start(mid_month).await.as_deref(), Some("START_DATE_NOT_BEGINNING_OF_MONTH"));
    let this_month = now.date().replace_day(1).unwrap().midnight().assume_utc();
    assert_eq!(refused_start(this_month).await.as_deref(), Some("START_DATE_TOO_EARLY"));
    let itself = invite(party(ACCOUNT_ID, HandshakePartyType::Account), start).send().await;
    assert_eq!(code(itself), "HandshakeConstraintViolationException");

    let sent = invite(party(&other, HandshakePartyType::Account), start).send().await.unwrap();
    let handshake = sent.handshake().unwrap();
    assert_eq!(handshake.action(), Some(&ActionType::TransferResponsibility));
    assert_eq!(handshake.state(), Some(&HandshakeState::Open));
    let transfer_id = handshake
        .resources()
        .iter()
        .find(|r| r.r#type().map(|t| t.as_str()) == Some("RESPONSIBILITY_TRANSFER"))
        .and_then(|r| r.value())
        .unwrap()
        .to_owned();
    assert!(transfer_id.starts_with("rt-"), "{transfer_id}");
    let again = invite(party(&other, HandshakePartyType::Account), start).send().await;
    assert_eq!(code(again), "DuplicateHandshakeException");

    // Both sides see the invitation: inbound for the organization that will pay, outbound for the other.
    let inbound = |c: &aws_sdk_organizations::Client| {
        c.list_inbound_responsibility_transfers().r#type(ResponsibilityTransferType::Billing).send()
    };
    let outbound = |c: &aws_sdk_organizations::Client| {
        c.list_outbound_responsibility_transfers().r#type(ResponsibilityTransferType::Billing).send()
    };
    let mine = inbound(&org).await.unwrap();
    assert_eq!(mine.responsibility_transfers().len(), 1);
    let requested = &mine.responsibility_transfers()[0];
    assert_eq!(requested.status(), Some(&ResponsibilityTransferStatus::Requested));
    assert_eq!(requested.name(), Some("their bill"));
    assert_eq!(requested.start_timestamp(), Some(&at(start)));
    assert!(outbound(&org).await.unwrap().responsibility_transfers().is_empty());
    assert_eq!(outbound(&as_other).await.unwrap().responsibility_transfers().len(), 1);
    assert!(inbound(&as_other).await.unwrap().responsibility_transfers().is_empty());

    // The other organization's management account accepts.
    let handshake_id = handshake.id().unwrap().to_owned();
    assert_eq!(code(org.accept_handshake().handshake_id(&handshake_id).send().await), "AccessDeniedException");
    let accepted = as_other.accept_handshake().handshake_id(&handshake_id).send().await.unwrap();
    assert_eq!(accepted.handshake().unwrap().state(), Some(&HandshakeState::Accepted));
    let seen = as_other.describe_responsibility_transfer().id(&transfer_id).send().await.unwrap();
    let seen = seen.responsibility_transfer().unwrap();
    assert_eq!(seen.status(), Some(&ResponsibilityTransferStatus::Accepted));
    assert_eq!(
        seen.arn(),
        Some(format!("arn:aws:organizations::{other}:transfer/{other_org}/billing/outbound/{transfer_id}").as_str())
    );
    assert_eq!(seen.source().unwrap().management_account_id(), Some(other.as_str()));
    assert_eq!(seen.target().unwrap().management_account_id(), Some(ACCOUNT_ID));
    let ours = org.describe_responsibility_transfer().id(&transfer_id).send().await.unwrap();
    assert_eq!(
        ours.responsibility_transfer().unwrap().arn(),
        Some(format!("arn:aws:organizations::{ACCOUNT_ID}:transfer/{org_id}/billing/inbound/{transfer_id}").as_str())
    );
    let tags = org.list_tags_for_resource().resource_id(&transfer_id).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("team", "finance")]);

    // While it runs, the paying-for organization cannot be deleted; each side names it its own way.
    let deleted = as_other.delete_organization().send().await;
    assert_eq!(code(deleted), "ConstraintViolationException");
    let renamed = as_other.update_responsibility_transfer().id(&transfer_id).name("paid by HQ").send().await.unwrap();
    assert_eq!(renamed.responsibility_transfer().unwrap().name(), Some("paid by HQ"));
    let ours = org.describe_responsibility_transfer().id(&transfer_id).send().await.unwrap();
    assert_eq!(ours.responsibility_transfer().unwrap().name(), Some("their bill"));
    // A member account of either organization is not a party.
    let as_staff = orgs_in_member(&server, &key, &staff).await;
    let asked = as_staff.describe_responsibility_transfer().id(&transfer_id).send().await;
    assert_eq!(code(asked), "AccessDeniedException");

    // Either side withdraws it, at the end of a month.
    let terminate = |c: &aws_sdk_organizations::Client| c.terminate_responsibility_transfer().id(&transfer_id);
    let not_month_end = terminate(&as_other).end_timestamp(at(start + time::Duration::days(10))).send().await;
    assert_eq!(code(not_month_end), "InvalidInputException");
    let withdrawn = terminate(&as_other).send().await.unwrap();
    let withdrawn = withdrawn.responsibility_transfer().unwrap();
    assert_eq!(withdrawn.status(), Some(&ResponsibilityTransferStatus::Withdrawn));
    let end = withdrawn.end_timestamp().unwrap();
    let end = time::OffsetDateTime::from_unix_timestamp(end.secs()).unwrap();
    assert_eq!((end.year(), end.month()), (now.year(), now.month()), "the end of the current month");
    assert_eq!((end + time::Duration::seconds(1)).day(), 1);
    assert_eq!(code(terminate(&org).send().await), "ResponsibilityTransferAlreadyInStatusException");
    let missing = org.describe_responsibility_transfer().id("rt-0000000000000000").send().await;
    assert_eq!(code(missing), "ResponsibilityTransferNotFoundException");

    // A declined invitation can't be withdrawn; it never ran.
    let second_start = next(start.date()).midnight().assume_utc();
    let later = as_other.list_outbound_responsibility_transfers().r#type(ResponsibilityTransferType::Billing).send();
    assert_eq!(later.await.unwrap().responsibility_transfers().len(), 1);
    let sent = invite(party("other@example.com", HandshakePartyType::Email), second_start).send().await.unwrap();
    let second = sent.handshake().unwrap().id().unwrap().to_owned();
    as_other.decline_handshake().handshake_id(&second).send().await.unwrap();
    let listed = inbound(&org).await.unwrap();
    let statuses: Vec<_> = listed.responsibility_transfers().iter().filter_map(|t| t.status().cloned()).collect();
    assert_eq!(statuses, [ResponsibilityTransferStatus::Declined, ResponsibilityTransferStatus::Withdrawn]);
    let declined_id = listed.responsibility_transfers()[0].id().unwrap().to_owned();
    let refused = org.terminate_responsibility_transfer().id(&declined_id).send().await;
    assert_eq!(code(refused), "InvalidResponsibilityTransferTransitionException");
}
