//! IAM through the official SDK: users, access keys and inline policies, and enforcement of those
//! policies on the user's very next request.

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iam::error::ProvideErrorMetadata;
use rampart_testkit::{ACCOUNT_ID, TestServer};

pub(crate) fn iam(server: &TestServer, id: &str, secret: &str) -> aws_sdk_iam::Client {
    iam_with(server, id, secret, None)
}

/// An IAM client for `server`, with a session token for temporary credentials; retries off.
pub(crate) fn iam_with(server: &TestServer, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new(id, secret, token.map(str::to_owned), None, "test"))
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

pub(crate) fn root(server: &TestServer) -> aws_sdk_iam::Client {
    iam(server, &server.access_key_id, &server.secret_access_key)
}

pub(crate) fn err<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_iam::error::SdkError<E, R>>) -> (String, String) {
    match r {
        Ok(_) => ("OK".into(), String::new()),
        Err(e) => match e.as_service_error() {
            Some(se) => (se.code().unwrap_or_default().to_owned(), se.message().unwrap_or_default().to_owned()),
            None => ("NotAServiceError".into(), String::new()),
        },
    }
}

/// An inline policy that lets a user assume any role.
pub(crate) const ASSUME_ANY_ROLE: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;

/// A new user with one inline policy and an access key; returns the key's id and secret.
pub(crate) async fn user_with_key(admin: &aws_sdk_iam::Client, name: &str, policy: &str) -> (String, String) {
    admin.create_user().user_name(name).send().await.unwrap();
    admin.put_user_policy().user_name(name).policy_name("inline").policy_document(policy).send().await.unwrap();
    let key = admin.create_access_key().user_name(name).send().await.unwrap();
    let key = key.access_key().unwrap();
    (key.access_key_id().to_owned(), key.secret_access_key().to_owned())
}

const READ_SELF: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Self","Effect":"Allow","Action":["iam:GetUser","iam:ListAccessKeys"],"Resource":"arn:aws:iam::123456789012:user/cashiers/${aws:username}"}]}"#;

#[tokio::test]
async fn a_new_user_can_do_nothing_until_a_policy_allows_it_and_loses_it_on_the_next_request() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let created = admin.create_user().user_name("alice").path("/cashiers/").send().await.unwrap();
    let user = created.user().unwrap();
    assert_eq!(user.arn(), "arn:aws:iam::123456789012:user/cashiers/alice");
    assert!(user.user_id().starts_with("AIDA") && user.user_id().len() == 21, "{}", user.user_id());
    let key = admin.create_access_key().user_name("alice").send().await.unwrap();
    let key = key.access_key().unwrap();
    assert!(key.access_key_id().starts_with("AKIA"));
    let alice = iam(&server, key.access_key_id(), key.secret_access_key());

    // By default a new user has no permissions, worded as AWS words it.
    let (code, message) = err(alice.get_user().send().await);
    assert_eq!(code, "AccessDenied");
    assert_eq!(
        message,
        "User: arn:aws:iam::123456789012:user/cashiers/alice is not authorized to perform: iam:GetUser on resource: \
         arn:aws:iam::123456789012:user/cashiers/alice because no identity-based policy allows the iam:GetUser action"
    );

    admin
        .put_user_policy()
        .user_name("alice")
        .policy_name("read-self")
        .policy_document(READ_SELF)
        .send()
        .await
        .unwrap();
    let me = alice.get_user().send().await.unwrap();
    assert_eq!(me.user().unwrap().user_name(), "alice");
    assert_eq!(alice.list_access_keys().send().await.unwrap().access_key_metadata().len(), 1);
    // Only herself: the variable resolves to her own name.
    admin.create_user().user_name("bob").send().await.unwrap();
    assert_eq!(err(alice.get_user().user_name("bob").send().await).0, "AccessDenied");
    assert_eq!(err(alice.list_users().send().await).0, "AccessDenied");

    // Removing the policy takes effect on the very next request.
    admin.delete_user_policy().user_name("alice").policy_name("read-self").send().await.unwrap();
    assert_eq!(err(alice.get_user().send().await).0, "AccessDenied");

    // An explicit deny wins over the allow.
    let with_deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}"#;
    admin.put_user_policy().user_name("alice").policy_name("ops").policy_document(with_deny).send().await.unwrap();
    assert_eq!(alice.list_users().send().await.unwrap().users().len(), 2);
    let (code, message) = err(alice.delete_user().user_name("bob").send().await);
    assert_eq!(code, "AccessDenied");
    assert!(message.ends_with("with an explicit deny in an identity-based policy"), "{message}");
}

#[tokio::test]
async fn user_lifecycle_errors_follow_aws() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("Carol").path("/cashiers/").send().await.unwrap();
    let (code, message) = err(admin.create_user().user_name("carol").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("EntityAlreadyExists", "User with name carol already exists."));
    assert_eq!(err(admin.get_user().user_name("nobody").send().await).0, "NoSuchEntity");
    let (code, message) = err(admin.create_user().user_name("bad name!").send().await);
    assert_eq!(code, "ValidationError");
    assert!(message.contains("Value 'bad name!' at 'userName' failed to satisfy constraint"), "{message}");

    admin.create_access_key().user_name("carol").send().await.unwrap();
    admin.create_access_key().user_name("carol").send().await.unwrap();
    let (code, message) = err(admin.create_access_key().user_name("carol").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"));
    let (code, message) = err(admin.delete_user().user_name("carol").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("DeleteConflict", "Cannot delete entity, must delete access keys first.")
    );
    let keys = admin.list_access_keys().user_name("carol").send().await.unwrap();
    for k in keys.access_key_metadata() {
        admin.delete_access_key().user_name("carol").access_key_id(k.access_key_id().unwrap()).send().await.unwrap();
    }
    let (code, message) = err(admin
        .put_user_policy()
        .user_name("carol")
        .policy_name("p")
        .policy_document(r#"{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#)
        .send()
        .await);
    assert_eq!(code, "MalformedPolicyDocument");
    assert_eq!(message, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
    admin.put_user_policy().user_name("carol").policy_name("p").policy_document(READ_SELF).send().await.unwrap();
    let got = admin.get_user_policy().user_name("carol").policy_name("p").send().await.unwrap();
    // IAM returns policy documents URL-encoded.
    assert!(got.policy_document().starts_with("%7B%22Version%22"), "{}", got.policy_document());
    assert_eq!(admin.list_user_policies().user_name("carol").send().await.unwrap().policy_names(), ["p"]);
    assert_eq!(
        err(admin.delete_user().user_name("carol").send().await).1,
        "Cannot delete entity, must delete policies first."
    );
    admin.delete_user_policy().user_name("carol").policy_name("p").send().await.unwrap();
    admin.delete_user().user_name("carol").send().await.unwrap();
    assert_eq!(err(admin.get_user().user_name("carol").send().await).0, "NoSuchEntity");
}

#[tokio::test]
async fn list_users_pages_with_marker_and_filters_by_path() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    for i in 0..7 {
        let path = if i % 2 == 0 { "/even/" } else { "/odd/" };
        admin.create_user().user_name(format!("user{i}")).path(path).send().await.unwrap();
    }
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = admin.list_users().max_items(3).set_marker(marker.clone()).send().await.unwrap();
        pages += 1;
        names.extend(page.users().iter().map(|u| u.user_name().to_owned()));
        if !page.is_truncated() {
            break;
        }
        marker = page.marker().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..7).map(|i| format!("user{i}")).collect::<Vec<_>>());
    let even = admin.list_users().path_prefix("/even/").send().await.unwrap();
    assert_eq!(even.users().len(), 4);
}

#[tokio::test]
async fn a_deleted_users_key_stops_working_and_changes_are_audited_without_secrets() {
    let mut server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("dave").send().await.unwrap();
    let key = admin.create_access_key().user_name("dave").send().await.unwrap();
    let key = key.access_key().unwrap().clone();
    let dave = crate::sts_client(&server, key.access_key_id(), key.secret_access_key());
    let me = dave.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::123456789012:user/dave"));
    assert!(me.user_id().unwrap().starts_with("AIDA"));
    assert_eq!(me.account(), Some(ACCOUNT_ID));

    admin.delete_access_key().user_name("dave").access_key_id(key.access_key_id()).send().await.unwrap();
    assert_eq!(crate::code(dave.get_caller_identity().send().await), "InvalidClientTokenId");

    // The change and its event committed together; a restart shows both.
    server.restart().await.unwrap();
    let events = server.audit_events(1).await.unwrap();
    let create_key = events.iter().find(|e| e["eventName"] == "CreateAccessKey").expect("CreateAccessKey is audited");
    assert_eq!(create_key["readOnly"], false);
    assert_eq!(create_key["requestParameters"]["userName"], "dave");
    assert_eq!(create_key["responseElements"]["accessKey"]["accessKeyId"], key.access_key_id());
    assert_eq!(create_key["responseElements"]["accessKey"]["secretAccessKey"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(key.secret_access_key()), "a secret reached the trail");
    let denied = events.iter().find(|e| e["errorCode"] == "InvalidClientTokenId").expect("the refused call is audited");
    assert_eq!(denied["userIdentity"]["accessKeyId"], key.access_key_id());
}

#[tokio::test]
async fn coffee_shop_groups_and_managed_policies_decide_on_the_next_request() {
    let server = TestServer::start().await.unwrap();
    let root = root(&server);
    // The root user creates an administrator and stops using root.
    root.create_user().user_name("admin").send().await.unwrap();
    let admin_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let p = root.create_policy().policy_name("AdministratorAccess").policy_document(admin_policy).send().await.unwrap();
    let admin_arn = p.policy().unwrap().arn().unwrap().to_owned();
    assert_eq!(admin_arn, "arn:aws:iam::123456789012:policy/AdministratorAccess");
    root.attach_user_policy().user_name("admin").policy_arn(&admin_arn).send().await.unwrap();
    let k = root.create_access_key().user_name("admin").send().await.unwrap();
    let admin = iam(&server, k.access_key().unwrap().access_key_id(), k.access_key().unwrap().secret_access_key());

    // The administrator sets up the shop.
    let cashier_doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:ListGroupsForUser"],"Resource":"arn:aws:iam::123456789012:user/${aws:username}"}]}"#;
    let inventory_doc =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#;
    let cashier_p =
        admin.create_policy().policy_name("CashierAccess").policy_document(cashier_doc).send().await.unwrap();
    let inventory_p =
        admin.create_policy().policy_name("InventoryAccess").policy_document(inventory_doc).send().await.unwrap();
    admin.create_group().group_name("Cashiers").send().await.unwrap();
    admin.create_group().group_name("InventorySpecialists").send().await.unwrap();
    admin
        .attach_group_policy()
        .group_name("Cashiers")
        .policy_arn(cashier_p.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    admin
        .attach_group_policy()
        .group_name("InventorySpecialists")
        .policy_arn(inventory_p.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    admin.create_user().user_name("ana").send().await.unwrap();
    admin.add_user_to_group().group_name("Cashiers").user_name("ana").send().await.unwrap();
    let k = admin.create_access_key().user_name("ana").send().await.unwrap();
    let ana = iam(&server, k.access_key().unwrap().access_key_id(), k.access_key().unwrap().secret_access_key());

    let group = admin.get_group().group_name("Cashiers").send().await.unwrap();
    assert_eq!(group.users().iter().map(|u| u.user_name()).collect::<Vec<_>>(), ["ana"]);
    assert_eq!(
        admin.list_attached_group_policies().group_name("Cashiers").send().await.unwrap().attached_policies().len(),
        1
    );

    // A cashier can do exactly what the Cashiers policy allows.
    assert_eq!(ana.get_user().send().await.unwrap().user().unwrap().user_name(), "ana");
    let groups = ana.list_groups_for_user().user_name("ana").send().await.unwrap();
    assert_eq!(groups.groups().iter().map(|g| g.group_name()).collect::<Vec<_>>(), ["Cashiers"]);
    let (code, message) = err(ana.list_users().send().await);
    assert_eq!(code, "AccessDenied");
    assert_eq!(
        message,
        "User: arn:aws:iam::123456789012:user/ana is not authorized to perform: iam:ListUsers on resource: \
         arn:aws:iam::123456789012:user/ because no identity-based policy allows the iam:ListUsers action"
    );

    // Moving her to InventorySpecialists changes what she can do on her very next request.
    admin.remove_user_from_group().group_name("Cashiers").user_name("ana").send().await.unwrap();
    admin.add_user_to_group().group_name("InventorySpecialists").user_name("ana").send().await.unwrap();
    assert!(ana.list_users().send().await.unwrap().users().len() >= 2);
    assert_eq!(err(ana.get_user().send().await).0, "AccessDenied");

    // Policies in use cannot be deleted; groups with members cannot either.
    let (code, message) =
        err(admin.delete_policy().policy_arn(inventory_p.policy().unwrap().arn().unwrap()).send().await);
    assert_eq!((code.as_str(), message.as_str()), ("DeleteConflict", "Cannot delete a policy attached to entities."));
    let (code, message) = err(admin.delete_group().group_name("InventorySpecialists").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("DeleteConflict", "Cannot delete entity, must remove users from group first.")
    );
    let (code, _) = err(admin
        .create_policy()
        .policy_name("Old")
        .policy_document(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#)
        .send()
        .await);
    assert_eq!(code, "MalformedPolicyDocument", "managed policies need Version 2012-10-17");
    let v = admin
        .get_policy_version()
        .policy_arn(cashier_p.policy().unwrap().arn().unwrap())
        .version_id("v1")
        .send()
        .await
        .unwrap();
    assert!(v.policy_version().unwrap().is_default_version());
    let listed = admin
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .only_attached(true)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.policies().len(), 3);

    // Detaching the administrator's policy removes every right at once.
    root.detach_user_policy().user_name("admin").policy_arn(&admin_arn).send().await.unwrap();
    assert_eq!(err(admin.list_users().send().await).0, "AccessDenied");
}

#[tokio::test]
async fn the_simulator_agrees_with_enforcement() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("sim").send().await.unwrap();
    admin.create_user().user_name("other").send().await.unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"},
        {"Effect":"Deny","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/other"},
        {"Effect":"Allow","Action":"iam:CreateUser","Resource":"arn:aws:iam::123456789012:user/${aws:username}-*"}]}"#;
    admin.put_user_policy().user_name("sim").policy_name("mixed").policy_document(doc).send().await.unwrap();
    let k = admin.create_access_key().user_name("sim").send().await.unwrap();
    let sim = iam(&server, k.access_key().unwrap().access_key_id(), k.access_key().unwrap().secret_access_key());

    let cases: [(&str, &str); 5] = [
        ("iam:GetUser", "arn:aws:iam::123456789012:user/sim"),
        ("iam:GetUser", "arn:aws:iam::123456789012:user/other"),
        ("iam:ListUsers", "arn:aws:iam::123456789012:user/"),
        ("iam:CreateUser", "arn:aws:iam::123456789012:user/sim-helper"),
        ("iam:CreateUser", "arn:aws:iam::123456789012:user/intruder"),
    ];
    for (action, resource) in cases {
        let simulated = admin
            .simulate_principal_policy()
            .policy_source_arn("arn:aws:iam::123456789012:user/sim")
            .action_names(action)
            .resource_arns(resource)
            .send()
            .await
            .unwrap();
        let decision = simulated.evaluation_results()[0].eval_decision().as_str().to_owned();
        let name = resource.rsplit('/').next().unwrap();
        let enforced = match action {
            "iam:GetUser" => err(sim.get_user().user_name(name).send().await).0,
            "iam:ListUsers" => err(sim.list_users().send().await).0,
            _ => err(sim.create_user().user_name(name).send().await).0,
        };
        let enforced_allowed = enforced != "AccessDenied";
        assert_eq!(
            decision == "allowed",
            enforced_allowed,
            "{action} on {resource}: simulator {decision}, enforcement {enforced}"
        );
    }

    let custom = admin
        .simulate_custom_policy()
        .policy_input_list(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#)
        .action_names("s3:GetObject")
        .context_entries(
            aws_sdk_iam::types::ContextEntry::builder()
                .context_key_name("aws:SourceIp")
                .context_key_values("10.1.2.3")
                .context_key_type(aws_sdk_iam::types::ContextKeyTypeEnum::Ip)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let r = &custom.evaluation_results()[0];
    assert_eq!(r.eval_decision().as_str(), "allowed");
    assert_eq!(r.matched_statements()[0].source_policy_id(), Some("PolicyInputList.1"));
    let missing = admin
        .simulate_custom_policy()
        .policy_input_list(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#)
        .action_names("s3:GetObject")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.evaluation_results()[0].eval_decision().as_str(), "implicitDeny");
    assert_eq!(missing.evaluation_results()[0].missing_context_values(), ["aws:SourceIp"]);
    let keys = admin
        .get_context_keys_for_principal_policy()
        .policy_source_arn("arn:aws:iam::123456789012:user/sim")
        .send()
        .await
        .unwrap();
    assert_eq!(keys.context_key_names(), ["aws:username"]);
}

#[tokio::test]
async fn boundaries_narrow_versions_switch_and_tags_feed_conditions() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("erin").send().await.unwrap();
    let all_iam = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#;
    admin.put_user_policy().user_name("erin").policy_name("all").policy_document(all_iam).send().await.unwrap();
    let k = admin.create_access_key().user_name("erin").send().await.unwrap();
    let erin = iam(&server, k.access_key().unwrap().access_key_id(), k.access_key().unwrap().secret_access_key());
    assert!(erin.list_users().send().await.is_ok());

    // A boundary that allows only reads narrows her to reads, and never grants more.
    let reads =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}"#;
    let b = admin.create_policy().policy_name("ReadOnlyBoundary").policy_document(reads).send().await.unwrap();
    let b_arn = b.policy().unwrap().arn().unwrap().to_owned();
    admin.put_user_permissions_boundary().user_name("erin").permissions_boundary(&b_arn).send().await.unwrap();
    let got = admin.get_user().user_name("erin").send().await.unwrap();
    assert_eq!(got.user().unwrap().permissions_boundary().unwrap().permissions_boundary_arn(), Some(b_arn.as_str()));
    assert!(erin.list_users().send().await.is_ok());
    let (code, message) = err(erin.create_user().user_name("x").send().await);
    assert_eq!(code, "AccessDenied");
    assert!(message.ends_with("because no permissions boundary allows the iam:CreateUser action"), "{message}");

    // A new default version of the boundary changes the decision on the next request.
    let none = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
    let v2 = admin
        .create_policy_version()
        .policy_arn(&b_arn)
        .policy_document(none)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    assert_eq!(v2.policy_version().unwrap().version_id(), Some("v2"));
    assert_eq!(err(erin.list_users().send().await).0, "AccessDenied");
    admin.set_default_policy_version().policy_arn(&b_arn).version_id("v1").send().await.unwrap();
    assert!(erin.list_users().send().await.is_ok());
    let (code, message) = err(admin.delete_policy_version().policy_arn(&b_arn).version_id("v1").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("DeleteConflict", "Cannot delete the default version of a policy."));
    for _ in 0..3 {
        admin.create_policy_version().policy_arn(&b_arn).policy_document(reads).send().await.unwrap();
    }
    let (code, _) = err(admin.create_policy_version().policy_arn(&b_arn).policy_document(reads).send().await);
    assert_eq!(code, "LimitExceeded");
    let versions = admin.list_policy_versions().policy_arn(&b_arn).send().await.unwrap();
    assert_eq!(versions.versions().len(), 5);
    admin.delete_user_permissions_boundary().user_name("erin").send().await.unwrap();
    assert!(erin.create_user().user_name("helper").send().await.is_ok());

    // Tags become aws:PrincipalTag/* for conditions.
    let tagged = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}]}"#;
    admin.create_user().user_name("fay").send().await.unwrap();
    admin.put_user_policy().user_name("fay").policy_name("tagged").policy_document(tagged).send().await.unwrap();
    let k = admin.create_access_key().user_name("fay").send().await.unwrap();
    let fay = iam(&server, k.access_key().unwrap().access_key_id(), k.access_key().unwrap().secret_access_key());
    assert_eq!(err(fay.get_user().send().await).0, "AccessDenied");
    admin
        .tag_user()
        .user_name("fay")
        .tags(aws_sdk_iam::types::Tag::builder().key("team").value("blue").build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(fay.get_user().send().await.is_ok());
    assert_eq!(admin.list_user_tags().user_name("fay").send().await.unwrap().tags().len(), 1);
    admin.untag_user().user_name("fay").tag_keys("TEAM").send().await.unwrap();
    assert_eq!(err(fay.get_user().send().await).0, "AccessDenied");
}

#[tokio::test]
async fn roles_keep_a_validated_trust_policy_and_their_own_policies() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
    let created = admin
        .create_role()
        .role_name("Auditor")
        .path("/ops/")
        .assume_role_policy_document(trust)
        .max_session_duration(7200)
        .send()
        .await
        .unwrap();
    let role = created.role().unwrap();
    assert_eq!(role.arn(), "arn:aws:iam::123456789012:role/ops/Auditor");
    assert!(role.role_id().starts_with("AROA") && role.role_id().len() == 21);
    assert_eq!(role.max_session_duration(), Some(7200));
    let got = admin.get_role().role_name("auditor").send().await.unwrap();
    assert!(got.role().unwrap().assume_role_policy_document().unwrap().starts_with("%7B%22Version%22"));

    // A trust policy is a resource policy: a principal is required and a resource is refused.
    let (code, message) = err(admin.create_role().role_name("Bad").assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}}"#).send().await);
    assert_eq!((code.as_str(), message.as_str()), ("MalformedPolicyDocument", "Has prohibited field Resource"));
    let (code, _) = err(admin.update_role().role_name("Auditor").max_session_duration(60).send().await);
    assert_eq!(code, "ValidationError");
    let (code, _) = err(admin.create_role().role_name("auditor").assume_role_policy_document(trust).send().await);
    assert_eq!(code, "EntityAlreadyExists");

    admin.put_role_policy().role_name("Auditor").policy_name("read").policy_document(READ_SELF).send().await.unwrap();
    let p = admin.create_policy().policy_name("AuditRead").policy_document(READ_SELF).send().await.unwrap();
    let arn = p.policy().unwrap().arn().unwrap().to_owned();
    admin.attach_role_policy().role_name("Auditor").policy_arn(&arn).send().await.unwrap();
    assert_eq!(admin.get_policy().policy_arn(&arn).send().await.unwrap().policy().unwrap().attachment_count(), Some(1));
    assert_eq!(admin.list_roles().send().await.unwrap().roles().len(), 1);
    assert_eq!(err(admin.delete_role().role_name("Auditor").send().await).0, "DeleteConflict");
    admin.delete_role_policy().role_name("Auditor").policy_name("read").send().await.unwrap();
    admin.detach_role_policy().role_name("Auditor").policy_arn(&arn).send().await.unwrap();
    assert_eq!(admin.get_policy().policy_arn(&arn).send().await.unwrap().policy().unwrap().attachment_count(), Some(0));
    admin.update_assume_role_policy().role_name("Auditor").policy_document(trust).send().await.unwrap();
    admin.delete_role().role_name("Auditor").send().await.unwrap();
    assert_eq!(err(admin.get_role().role_name("Auditor").send().await).0, "NoSuchEntity");
}

#[tokio::test]
async fn aws_managed_policies_can_be_attached_and_not_changed() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    // Every AWS managed policy, a page at a time.
    let mut names: Vec<String> = Vec::new();
    let mut marker = None;
    loop {
        let page = admin
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Aws)
            .set_marker(marker)
            .send()
            .await
            .unwrap();
        names.extend(page.policies().iter().filter_map(|p| p.policy_name().map(str::to_owned)));
        marker = page.marker().map(str::to_owned);
        if !page.is_truncated() {
            break;
        }
    }
    assert!(names.len() > 1500, "{} AWS managed policies", names.len());
    for n in [
        "AdministratorAccess",
        "PowerUserAccess",
        "ReadOnlyAccess",
        "IAMFullAccess",
        "IAMReadOnlyAccess",
        "SecurityAudit",
        "AmazonS3ReadOnlyAccess",
        "AWSLambdaBasicExecutionRole",
        "ViewOnlyAccess",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing");
    }
    // Any of them attaches, by its full ARN (path included), and its document is AWS's.
    let lambda = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    let got = admin.get_policy().policy_arn(lambda).send().await.unwrap();
    let version = got.policy().unwrap().default_version_id().unwrap().to_owned();
    assert_eq!(got.policy().unwrap().path(), Some("/service-role/"));
    let doc = admin.get_policy_version().policy_arn(lambda).version_id(&version).send().await.unwrap();
    // IAM returns documents URL-encoded (RFC 3986).
    let text =
        percent_encoding::percent_decode_str(doc.policy_version().unwrap().document().unwrap()).decode_utf8().unwrap();
    assert!(text.contains("logs:CreateLogGroup") && text.contains("logs:PutLogEvents"), "{text}");
    assert_eq!(
        err(admin.get_policy().policy_arn("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole").send().await).0,
        "NoSuchEntity"
    );
    admin.create_user().user_name("reader").send().await.unwrap();
    admin
        .attach_user_policy()
        .user_name("reader")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let k = admin.create_access_key().user_name("reader").send().await.unwrap();
    let reader = iam(&server, k.access_key().unwrap().access_key_id(), k.access_key().unwrap().secret_access_key());
    assert!(reader.list_users().send().await.is_ok());
    assert_eq!(err(reader.create_user().user_name("nope").send().await).0, "AccessDenied");
    admin
        .attach_user_policy()
        .user_name("reader")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    assert!(reader.create_user().user_name("yes").send().await.is_ok());
    assert_eq!(
        err(admin.delete_policy().policy_arn("arn:aws:iam::aws:policy/AdministratorAccess").send().await).0,
        "InvalidInput"
    );
    let (code, _) = err(admin
        .attach_user_policy()
        .user_name("reader")
        .policy_arn("arn:aws:iam::aws:policy/NoSuchThing")
        .send()
        .await);
    assert_eq!(code, "NoSuchEntity");
    let v = admin
        .get_policy_version()
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .version_id("v1")
        .send()
        .await
        .unwrap();
    assert!(v.policy_version().unwrap().document().unwrap().contains("%22Action%22%3A%22*%22"));
}

#[tokio::test]
async fn root_keys_deactivation_and_last_used() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    // The root user manages its own keys when it names no user; the bootstrap key counts.
    assert_eq!(admin.list_access_keys().send().await.unwrap().access_key_metadata().len(), 1);
    let second = admin.create_access_key().send().await.unwrap();
    assert_eq!(second.access_key().unwrap().user_name(), "");
    assert_eq!(err(admin.create_access_key().send().await).0, "LimitExceeded");
    let root2 = crate::sts_client(
        &server,
        second.access_key().unwrap().access_key_id(),
        second.access_key().unwrap().secret_access_key(),
    );
    assert_eq!(root2.get_caller_identity().send().await.unwrap().arn(), Some("arn:aws:iam::123456789012:root"));

    admin.create_user().user_name("gus").send().await.unwrap();
    let k = admin.create_access_key().user_name("gus").send().await.unwrap();
    let id = k.access_key().unwrap().access_key_id().to_owned();
    let gus = crate::sts_client(&server, &id, k.access_key().unwrap().secret_access_key());
    let unused = admin.get_access_key_last_used().access_key_id(&id).send().await.unwrap();
    assert_eq!(unused.access_key_last_used().unwrap().service_name(), "N/A");
    assert_eq!(unused.user_name(), Some("gus"));
    gus.get_caller_identity().send().await.unwrap();
    let mut used = None;
    for _ in 0..100 {
        let r = admin.get_access_key_last_used().access_key_id(&id).send().await.unwrap();
        if r.access_key_last_used().unwrap().last_used_date().is_some() {
            used = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let used = used.expect("the key's use is recorded");
    assert_eq!(used.access_key_last_used().unwrap().service_name(), "sts");
    assert_eq!(used.access_key_last_used().unwrap().region(), "us-east-1");

    admin
        .update_access_key()
        .user_name("gus")
        .access_key_id(&id)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    assert_eq!(crate::code(gus.get_caller_identity().send().await), "InvalidClientTokenId");
    let listed = admin.list_access_keys().user_name("gus").send().await.unwrap();
    assert_eq!(listed.access_key_metadata()[0].status(), Some(&aws_sdk_iam::types::StatusType::Inactive));
    admin
        .update_access_key()
        .user_name("gus")
        .access_key_id(&id)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(crate::code(gus.get_caller_identity().send().await), "OK");
    assert_eq!(
        err(admin
            .update_access_key()
            .user_name("gus")
            .access_key_id("AKIANOTAKEY000000000")
            .status(aws_sdk_iam::types::StatusType::Active)
            .send()
            .await)
        .0,
        "NoSuchEntity"
    );
}

#[tokio::test]
async fn account_alias_summary_entities_and_credential_report() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_account_alias().account_alias("coffee-shop").send().await.unwrap();
    assert_eq!(admin.list_account_aliases().send().await.unwrap().account_aliases(), ["coffee-shop"]);
    assert_eq!(err(admin.create_account_alias().account_alias("other-name").send().await).0, "LimitExceeded");
    assert_eq!(err(admin.create_account_alias().account_alias("Bad_Alias").send().await).0, "ValidationError");

    admin.create_user().user_name("hal").send().await.unwrap();
    admin.create_group().group_name("Baristas").send().await.unwrap();
    let p = admin.create_policy().policy_name("Brew").policy_document(READ_SELF).send().await.unwrap();
    let arn = p.policy().unwrap().arn().unwrap().to_owned();
    admin.attach_user_policy().user_name("hal").policy_arn(&arn).send().await.unwrap();
    admin.attach_group_policy().group_name("Baristas").policy_arn(&arn).send().await.unwrap();
    let entities = admin.list_entities_for_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(entities.policy_users()[0].user_name(), Some("hal"));
    assert_eq!(entities.policy_groups()[0].group_name(), Some("Baristas"));
    assert!(entities.policy_roles().is_empty());

    let summary = admin.get_account_summary().send().await.unwrap();
    let map = summary.summary_map().unwrap();
    assert_eq!(map[&aws_sdk_iam::types::SummaryKeyType::Users], 1);
    assert_eq!(map[&aws_sdk_iam::types::SummaryKeyType::Groups], 1);
    assert_eq!(map[&aws_sdk_iam::types::SummaryKeyType::Policies], 1);
    assert_eq!(map[&aws_sdk_iam::types::SummaryKeyType::AccountAccessKeysPresent], 1);

    assert_eq!(err(admin.get_credential_report().send().await).0, "ReportNotPresent");
    admin.create_access_key().user_name("hal").send().await.unwrap();
    // The first request starts a report; while it is fresh, the next finds it complete.
    let state = admin.generate_credential_report().send().await.unwrap();
    assert_eq!(state.state(), Some(&aws_sdk_iam::types::ReportStateType::Started));
    assert_eq!(state.description(), Some("No report exists. Starting a new report generation task"));
    let state = admin.generate_credential_report().send().await.unwrap();
    assert_eq!(state.state(), Some(&aws_sdk_iam::types::ReportStateType::Complete));
    let report = admin.get_credential_report().send().await.unwrap();
    let csv = String::from_utf8(report.content().unwrap().as_ref().to_vec()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("user,arn,user_creation_time,password_enabled,"));
    assert_eq!(lines[0].split(',').count(), 22);
    assert!(lines[1].starts_with("<root_account>,arn:aws:iam::123456789012:root,"), "{}", lines[1]);
    let hal: Vec<&str> = lines[2].split(',').collect();
    assert_eq!((hal[0], hal[1], hal[8]), ("hal", "arn:aws:iam::123456789012:user/hal", "true"));
    assert_eq!(hal.len(), 22);
    admin.delete_account_alias().account_alias("coffee-shop").send().await.unwrap();
    assert!(admin.list_account_aliases().send().await.unwrap().account_aliases().is_empty());
}

#[tokio::test]
async fn authorization_details_show_every_identity_and_its_policies() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("ivy").send().await.unwrap();
    admin.create_group().group_name("Ops").send().await.unwrap();
    admin.add_user_to_group().group_name("Ops").user_name("ivy").send().await.unwrap();
    admin.put_user_policy().user_name("ivy").policy_name("own").policy_document(READ_SELF).send().await.unwrap();
    admin
        .attach_group_policy()
        .group_name("Ops")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    admin.create_role().role_name("App").assume_role_policy_document(trust).send().await.unwrap();
    admin.create_policy().policy_name("Local").policy_document(READ_SELF).send().await.unwrap();

    let d = admin.get_account_authorization_details().send().await.unwrap();
    let ivy = &d.user_detail_list()[0];
    assert_eq!(ivy.user_name(), Some("ivy"));
    assert_eq!(ivy.group_list(), ["Ops"]);
    assert_eq!(ivy.user_policy_list()[0].policy_name(), Some("own"));
    assert_eq!(d.group_detail_list()[0].attached_managed_policies()[0].policy_name(), Some("IAMReadOnlyAccess"));
    assert_eq!(d.role_detail_list()[0].role_name(), Some("App"));
    let names: Vec<&str> = d.policies().iter().filter_map(|p| p.policy_name()).collect();
    assert!(names.contains(&"Local") && names.contains(&"IAMReadOnlyAccess"), "{names:?}");
    let only_roles =
        admin.get_account_authorization_details().filter(aws_sdk_iam::types::EntityType::Role).send().await.unwrap();
    assert!(only_roles.user_detail_list().is_empty() && only_roles.policies().is_empty());
    assert_eq!(only_roles.role_detail_list().len(), 1);
}

#[tokio::test]
async fn instance_profiles_role_tags_and_role_boundaries() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    admin.create_role().role_name("Web").assume_role_policy_document(trust).send().await.unwrap();
    admin.create_role().role_name("Batch").assume_role_policy_document(trust).send().await.unwrap();
    let ip = admin.create_instance_profile().instance_profile_name("web-profile").send().await.unwrap();
    assert!(ip.instance_profile().unwrap().instance_profile_id().starts_with("AIPA"));
    admin.add_role_to_instance_profile().instance_profile_name("web-profile").role_name("Web").send().await.unwrap();
    assert_eq!(
        err(admin.add_role_to_instance_profile().instance_profile_name("web-profile").role_name("Batch").send().await)
            .0,
        "LimitExceeded"
    );
    let got = admin.get_instance_profile().instance_profile_name("web-profile").send().await.unwrap();
    assert_eq!(got.instance_profile().unwrap().roles()[0].role_name(), "Web");
    assert_eq!(
        admin.list_instance_profiles_for_role().role_name("Web").send().await.unwrap().instance_profiles().len(),
        1
    );
    assert_eq!(
        err(admin.delete_instance_profile().instance_profile_name("web-profile").send().await).0,
        "DeleteConflict"
    );
    admin
        .remove_role_from_instance_profile()
        .instance_profile_name("web-profile")
        .role_name("Web")
        .send()
        .await
        .unwrap();
    admin.delete_instance_profile().instance_profile_name("web-profile").send().await.unwrap();
    assert_eq!(err(admin.get_instance_profile().instance_profile_name("web-profile").send().await).0, "NoSuchEntity");

    admin
        .tag_role()
        .role_name("Web")
        .tags(aws_sdk_iam::types::Tag::builder().key("tier").value("front").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(admin.list_role_tags().role_name("Web").send().await.unwrap().tags()[0].value(), "front");
    admin.untag_role().role_name("Web").tag_keys("TIER").send().await.unwrap();
    assert!(admin.list_role_tags().role_name("Web").send().await.unwrap().tags().is_empty());
    admin
        .put_role_permissions_boundary()
        .role_name("Web")
        .permissions_boundary("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let role = admin.get_role().role_name("Web").send().await.unwrap();
    assert_eq!(
        role.role().unwrap().permissions_boundary().unwrap().permissions_boundary_arn(),
        Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
    );
    admin.delete_role_permissions_boundary().role_name("Web").send().await.unwrap();
    assert!(admin.get_role().role_name("Web").send().await.unwrap().role().unwrap().permissions_boundary().is_none());
}

/// Deletes that would leave something pointing at nothing are DeleteConflict, with AWS's message,
/// and succeed once the dependency is gone.
#[tokio::test]
async fn deletes_refuse_what_still_depends_on_them() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    admin.create_role().role_name("Web").assume_role_policy_document(trust).send().await.unwrap();
    admin.create_instance_profile().instance_profile_name("web-profile").send().await.unwrap();
    admin.add_role_to_instance_profile().instance_profile_name("web-profile").role_name("Web").send().await.unwrap();
    assert_eq!(
        err(admin.delete_role().role_name("Web").send().await),
        (
            "DeleteConflict".to_owned(),
            "Cannot delete entity, must remove roles from instance profile first.".to_owned()
        )
    );
    assert!(admin.get_role().role_name("Web").send().await.is_ok(), "the refused delete left the role");
    admin
        .remove_role_from_instance_profile()
        .instance_profile_name("web-profile")
        .role_name("Web")
        .send()
        .await
        .unwrap();
    admin.delete_role().role_name("Web").send().await.unwrap();

    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
    let arn = admin
        .create_policy()
        .policy_name("Versioned")
        .policy_document(doc)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    admin.create_policy_version().policy_arn(&arn).policy_document(doc).send().await.unwrap();
    let (code, message) = err(admin.delete_policy().policy_arn(&arn).send().await);
    assert_eq!(code, "DeleteConflict");
    assert!(message.starts_with("This policy has more than one version."), "{message}");
    admin.delete_policy_version().policy_arn(&arn).version_id("v2").send().await.unwrap();
    admin.delete_policy().policy_arn(&arn).send().await.unwrap();
}

#[tokio::test]
async fn list_group_policies_names_the_inline_policies_in_order() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_group().group_name("ops").send().await.unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
    for name in ["zeta", "alpha", "mid"] {
        admin.put_group_policy().group_name("ops").policy_name(name).policy_document(doc).send().await.unwrap();
    }
    let page = admin.list_group_policies().group_name("ops").max_items(2).send().await.unwrap();
    assert_eq!(page.policy_names(), ["alpha", "mid"]);
    assert!(page.is_truncated());
    let rest = admin.list_group_policies().group_name("ops").marker(page.marker().unwrap()).send().await.unwrap();
    assert_eq!(rest.policy_names(), ["zeta"]);
    assert!(!rest.is_truncated());
    let (code, message) = err(admin.list_group_policies().group_name("nobody").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("NoSuchEntity", "The group with name nobody cannot be found."));
}

/// The simulator with a resource policy, as AWS's: within one account a resource policy naming
/// the caller allows on its own; across accounts both sides must allow; NotPrincipal is matched
/// against the caller; an explicit deny on either side wins.
#[tokio::test]
async fn the_simulator_weighs_resource_policies_as_enforcement_does() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let nothing =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ListQueues","Resource":"*"}]}"#;
    let reads = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let denies = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#;
    let bucket_policy = |principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}}]}}"#
        )
    };
    let alice = "arn:aws:iam::123456789012:user/alice";
    let outsider = "arn:aws:iam::111111111111:user/olaf";
    let run = |identity: &'static str, policy: String, caller: &'static str, owner: Option<&'static str>| {
        let mut call = admin
            .simulate_custom_policy()
            .policy_input_list(identity)
            .action_names("s3:GetObject")
            .resource_arns("arn:aws:s3:::shared/report.csv")
            .resource_policy(policy)
            .caller_arn(caller);
        if let Some(o) = owner {
            call = call.resource_owner(o);
        }
        call.send()
    };
    let decision = |r: aws_sdk_iam::operation::simulate_custom_policy::SimulateCustomPolicyOutput| {
        r.evaluation_results()[0].eval_decision().as_str().to_owned()
    };

    // Same account: the resource policy alone allows, and says so.
    let same = run(nothing, bucket_policy(alice), alice, None).await.unwrap();
    let result = &same.evaluation_results()[0];
    assert_eq!(result.eval_decision().as_str(), "allowed");
    assert_eq!(result.matched_statements()[0].source_policy_type().map(|t| t.as_str()), Some("resource"));
    let specific = result.resource_specific_results();
    assert_eq!(specific.len(), 1);
    assert_eq!(specific[0].eval_resource_name(), "arn:aws:s3:::shared/report.csv");
    assert_eq!(specific[0].eval_resource_decision().as_str(), "allowed");
    // Naming someone else allows nothing.
    let other = run(nothing, bucket_policy("arn:aws:iam::123456789012:user/bob"), alice, None).await.unwrap();
    assert_eq!(decision(other), "implicitDeny");

    // Across accounts: the resource policy must admit the caller and the caller's own policies
    // must allow.
    let owner = Some("arn:aws:iam::123456789012:root");
    assert_eq!(decision(run(nothing, bucket_policy(outsider), outsider, owner).await.unwrap()), "implicitDeny");
    assert_eq!(decision(run(reads, bucket_policy(outsider), outsider, owner).await.unwrap()), "allowed");
    assert_eq!(decision(run(reads, bucket_policy(alice), outsider, owner).await.unwrap()), "implicitDeny");

    // NotPrincipal: a deny for everyone but alice.
    let fence = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"*"},
        {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"*"}]}"#;
    let bob = "arn:aws:iam::123456789012:user/bob";
    assert_eq!(decision(run(reads, fence.to_owned(), alice, None).await.unwrap()), "allowed");
    assert_eq!(decision(run(reads, fence.to_owned(), bob, None).await.unwrap()), "explicitDeny");
    // An identity deny beats the resource policy's allow.
    assert_eq!(decision(run(denies, bucket_policy(alice), alice, None).await.unwrap()), "explicitDeny");

    // Bad input, as IAM refuses it.
    let (code, _) = err(admin
        .simulate_custom_policy()
        .policy_input_list(reads)
        .action_names("s3:GetObject")
        .resource_policy(bucket_policy(alice))
        .send()
        .await);
    assert_eq!(code, "InvalidInput", "a resource policy needs a caller");
    let (code, message) = err(run(reads, bucket_policy(alice), alice, Some("123456789012")).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidInput", "'123456789012' is not a valid as a Resource Owner.")
    );
    let (code, _) = err(run(reads, bucket_policy(alice), "arn:aws:iam::123456789012:role/r", None).await);
    assert_eq!(code, "InvalidInput", "CallerArn must be a user");
    let (code, message) = err(admin
        .simulate_custom_policy()
        .policy_input_list(reads)
        .action_names("s3:GetObject")
        .resource_arns("shared")
        .send()
        .await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidInput", "ResourceNames are not in a valid ARN format: shared.")
    );

    // SimulatePrincipalPolicy of a user: the user is the caller the resource policy sees.
    admin.create_user().user_name("alice").send().await.unwrap();
    let out = admin
        .simulate_principal_policy()
        .policy_source_arn(alice)
        .action_names("s3:GetObject")
        .resource_arns("arn:aws:s3:::shared/report.csv")
        .resource_policy(bucket_policy(alice))
        .send()
        .await
        .unwrap();
    assert_eq!(out.evaluation_results()[0].eval_decision().as_str(), "allowed");
}

/// Last accessed information: what a user's policies allow, and when it last tried each service
/// (and, for IAM, each action); the same for a group's members; which policies grant a service.
#[tokio::test]
async fn service_last_accessed_reports_what_each_entity_used_of_what_it_may() {
    use aws_sdk_iam::types::{AccessAdvisorUsageGranularityType as Granularity, JobStatusType};
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:ListUsers","s3:ListAllMyBuckets"],"Resource":"*"}]}"#;
    admin.create_group().group_name("staff").send().await.unwrap();
    admin.put_group_policy().group_name("staff").policy_name("basics").policy_document(doc).send().await.unwrap();
    for u in ["ana", "bo"] {
        admin.create_user().user_name(u).send().await.unwrap();
        admin.add_user_to_group().group_name("staff").user_name(u).send().await.unwrap();
    }
    let k = admin.create_access_key().user_name("ana").send().await.unwrap();
    let k = k.access_key().unwrap();
    let ana = iam(&server, k.access_key_id(), k.secret_access_key());
    ana.get_user().send().await.unwrap();
    // A refused attempt is an attempt too.
    assert_eq!(err(ana.list_roles().send().await).0, "AccessDenied");
    let s3 = crate::s3::s3(&server, k.access_key_id(), k.secret_access_key());
    s3.list_buckets().send().await.unwrap();

    // The attempts are noted off the durable path; they land within a group commit.
    let ana_arn = "arn:aws:iam::123456789012:user/ana";
    let mut report = None;
    for _ in 0..50 {
        let job = admin
            .generate_service_last_accessed_details()
            .arn(ana_arn)
            .granularity(Granularity::ActionLevel)
            .send()
            .await
            .unwrap();
        let got = admin.get_service_last_accessed_details().job_id(job.job_id().unwrap()).send().await.unwrap();
        let used = |ns: &str| {
            got.services_last_accessed().iter().any(|s| s.service_namespace() == ns && s.last_authenticated().is_some())
        };
        if used("iam") && used("s3") {
            report = Some(got);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let report = report.expect("ana's attempts appear in her report");
    assert_eq!(report.job_status(), &JobStatusType::Completed);
    let namespaces: Vec<&str> = report.services_last_accessed().iter().map(|s| s.service_namespace()).collect();
    assert_eq!(namespaces, ["iam", "s3"], "the services her policies allow, and only those");
    let iam_row = &report.services_last_accessed()[0];
    assert_eq!(iam_row.last_authenticated_entity(), Some(ana_arn));
    assert_eq!(iam_row.last_authenticated_region(), Some("us-east-1"));
    assert_eq!(iam_row.total_authenticated_entities(), Some(1));
    let tracked: Vec<&str> = iam_row.tracked_actions_last_accessed().iter().filter_map(|t| t.action_name()).collect();
    assert_eq!(tracked, ["GetUser"], "IAM's actions are tracked one by one; ListUsers was never tried");

    // The group's report: who of its members used IAM, most recent first.
    let job = admin
        .generate_service_last_accessed_details()
        .arn("arn:aws:iam::123456789012:group/staff")
        .send()
        .await
        .unwrap();
    let id = job.job_id().unwrap();
    assert_eq!(id.len(), 36, "a job id is 36 characters");
    let with = admin
        .get_service_last_accessed_details_with_entities()
        .job_id(id)
        .service_namespace("iam")
        .send()
        .await
        .unwrap();
    let entities: Vec<(&str, bool)> = with
        .entity_details_list()
        .iter()
        .map(|d| (d.entity_info().unwrap().name(), d.last_authenticated().is_some()))
        .collect();
    assert_eq!(entities, [("ana", true), ("bo", false)]);

    // Which policies grant a service, and none for a service nothing grants.
    let granting = admin
        .list_policies_granting_service_access()
        .arn(ana_arn)
        .service_namespaces("iam")
        .service_namespaces("kms")
        .send()
        .await
        .unwrap();
    let entries = granting.policies_granting_service_access();
    let iam_policies = entries[0].policies();
    assert_eq!(iam_policies.len(), 1);
    assert_eq!(iam_policies[0].policy_name(), "basics");
    assert_eq!(iam_policies[0].policy_type().as_str(), "INLINE");
    assert_eq!(iam_policies[0].entity_type().map(|t| t.as_str()), Some("GROUP"));
    assert!(entries[1].policies().is_empty(), "nothing grants kms");

    let (code, _) =
        err(admin.generate_service_last_accessed_details().arn("arn:aws:iam::123456789012:user/nobody").send().await);
    assert_eq!(code, "NoSuchEntity");
    let (code, _) =
        err(admin.get_service_last_accessed_details().job_id("00000000-0000-0000-0000-000000000000").send().await);
    assert_eq!(code, "NoSuchEntity");
}

/// Service-specific credentials: a Git/Keyspaces user name and password, or a Bedrock/Logs API
/// key, two per user and service, shown once and never stored in clear; a user holding any
/// cannot be deleted.
#[tokio::test]
async fn service_specific_credentials_are_shown_once_limited_and_block_deleting_their_user() {
    use aws_sdk_iam::types::StatusType;
    let mut server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("ana").send().await.unwrap();
    let create = |service: &str| admin.create_service_specific_credential().user_name("ana").service_name(service);
    let git = create("codecommit.amazonaws.com").send().await.unwrap();
    let git = git.service_specific_credential().unwrap().clone();
    assert_eq!(git.service_user_name(), "ana-at-123456789012");
    let password = git.service_password().to_owned();
    assert_eq!(password.len(), 44);
    assert!(git.service_specific_credential_id().starts_with("ACCA"));
    assert_eq!(git.status(), &StatusType::Active);
    create("codecommit.amazonaws.com").send().await.unwrap();
    let (code, message) = err(create("codecommit.amazonaws.com").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("LimitExceeded", "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2")
    );
    assert_eq!(err(create("ec2.amazonaws.com").send().await).0, "NotSupportedService");
    assert_eq!(err(create("cassandra.amazonaws.com").credential_age_days(5).send().await).0, "InvalidInput");

    // An API key: an alias and a secret, which may expire.
    let key = create("bedrock.amazonaws.com").credential_age_days(30).send().await.unwrap();
    let key = key.service_specific_credential().unwrap();
    // (This SDK release models the password and user name as required: absent, they read empty.)
    assert!(key.service_password().is_empty() && key.service_user_name().is_empty());
    assert!(key.service_credential_alias().unwrap().starts_with("ana"));
    assert!(key.service_credential_secret().is_some());
    let days = (key.expiration_date().unwrap().secs() - key.create_date().secs()) / 86_400;
    assert_eq!(days, 30);

    // Listed without secrets; filtered by service.
    let listed = admin.list_service_specific_credentials().user_name("ana").send().await.unwrap();
    assert_eq!(listed.service_specific_credentials().len(), 3);
    let git_only = admin
        .list_service_specific_credentials()
        .user_name("ana")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();
    assert_eq!(git_only.service_specific_credentials().len(), 2);

    // Reset gives a new password; Update deactivates.
    let id = git.service_specific_credential_id();
    let reset = admin
        .reset_service_specific_credential()
        .user_name("ana")
        .service_specific_credential_id(id)
        .send()
        .await
        .unwrap();
    assert_ne!(reset.service_specific_credential().unwrap().service_password(), password);
    admin
        .update_service_specific_credential()
        .user_name("ana")
        .service_specific_credential_id(id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let listed = admin.list_service_specific_credentials().user_name("ana").send().await.unwrap();
    let it = listed.service_specific_credentials().iter().find(|c| c.service_specific_credential_id() == id).unwrap();
    assert_eq!(it.status(), &StatusType::Inactive);

    // Their user cannot be deleted while they exist.
    assert_eq!(err(admin.delete_user().user_name("ana").send().await).0, "DeleteConflict");
    for c in
        admin.list_service_specific_credentials().user_name("ana").send().await.unwrap().service_specific_credentials()
    {
        admin
            .delete_service_specific_credential()
            .user_name("ana")
            .service_specific_credential_id(c.service_specific_credential_id())
            .send()
            .await
            .unwrap();
    }
    admin.delete_user().user_name("ana").send().await.unwrap();

    server.stop().await;
    let db = server.stored_bytes().unwrap();
    assert!(!db.windows(password.len()).any(|w| w == password.as_bytes()), "the password is in the database file");
}

/// The operations of centralized root access answer as IAM answers an account outside any
/// organization.
#[tokio::test]
async fn organizations_only_operations_say_there_is_no_organization() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let (code, message) = err(admin.list_organizations_features().send().await);
    assert_eq!(code, "OrganizationNotFoundException");
    assert_eq!(message, "The request was rejected because no organization is associated with your account.");
    assert_eq!(err(admin.enable_organizations_root_sessions().send().await).0, "OrganizationNotFoundException");
}

/// IAM's own checks on documents and tags, with its messages: global resources carry no region,
/// IAM resources name a resource type, managed policies are at most 6,144 characters, trust
/// policies name only the assume-role actions and no NotPrincipal, and one request's tag keys
/// differ ignoring case.
#[tokio::test]
async fn documents_and_tags_are_refused_as_iam_refuses_them() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("bob").send().await.unwrap();
    let statement = |action: &str, resource: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
        )
    };
    let put = |doc: String| admin.put_user_policy().user_name("bob").policy_name("p").policy_document(doc).send();
    let cases = [
        (
            statement("s3:GetObject", "arn:aws:s3:us-east-1::bucket/*"),
            "Resource arn:aws:s3:us-east-1::bucket/* can not contain region information.",
        ),
        (
            statement("iam:GetUser", "arn:aws:iam:us-east-1:123456789012:user/bob"),
            "IAM resource arn:aws:iam:us-east-1:123456789012:user/bob cannot contain region information.",
        ),
    ];
    for (doc, message) in cases {
        assert_eq!(err(put(doc).await), ("MalformedPolicyDocument".to_owned(), message.to_owned()));
    }
    let (code, message) = err(put(statement("iam:GetUser", "arn:aws:iam::123456789012:foo/bar")).await);
    assert_eq!(code, "MalformedPolicyDocument");
    assert!(message.starts_with("IAM resource path must either be \"*\" or start with user/, "), "{message}");

    let big = statement("s3:GetObject", &format!("arn:aws:s3:::{}", "a".repeat(6200)));
    let (code, message) = err(admin.create_policy().policy_name("big").policy_document(big).send().await);
    assert_eq!((code.as_str(), message.as_str()), ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144"));

    let trust = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",{body}}}]}}"#);
    let create = |doc: String| admin.create_role().role_name("r").assume_role_policy_document(doc).send();
    let (code, message) =
        err(create(trust(r#""Principal":{"Service":"ec2.amazonaws.com"},"Action":"s3:GetObject""#)).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("MalformedPolicyDocument", "AssumeRole policy may only specify STS AssumeRole actions.")
    );
    let (code, _) =
        err(create(trust(r#""NotPrincipal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole""#)).await);
    assert_eq!(code, "MalformedPolicyDocument");
    let ok = trust(r#""Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]"#);
    create(ok).await.unwrap();

    let tag = |k: &str| aws_sdk_iam::types::Tag::builder().key(k).value("v").build().unwrap();
    let (code, message) = err(admin.tag_user().user_name("bob").tags(tag("team")).tags(tag("TEAM")).send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    );
    let (code, _) = err(admin.create_user().user_name("carl").tags(tag("a")).tags(tag("A")).send().await);
    assert_eq!(code, "InvalidInput");
    assert_eq!(err(admin.get_user().user_name("carl").send().await).0, "NoSuchEntity", "nothing was created");
}

/// Server certificates: the certificate and chain must parse and the private key must be the
/// certificate's; the key is sealed and never returned; the certificate can be renamed, tagged,
/// listed by path and deleted.
#[tokio::test]
async fn server_certificates_check_their_key_and_never_return_it() {
    let mut server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let site = rcgen::generate_simple_self_signed(vec!["shop.example".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["other.example".to_owned()]).unwrap();
    let (cert, key) = (site.cert.pem(), site.signing_key.serialize_pem());
    let upload = |name: &str, body: &str, key: &str| {
        admin
            .upload_server_certificate()
            .server_certificate_name(name)
            .path("/cloudfront/")
            .certificate_body(body)
            .private_key(key)
            .send()
    };
    assert_eq!(err(upload("shop", &cert, &other.signing_key.serialize_pem()).await).0, "KeyPairMismatch");
    assert_eq!(err(upload("shop", "not a certificate", &key).await).0, "MalformedCertificate");
    assert_eq!(err(upload("shop", &cert, "not a key").await).0, "MalformedCertificate");
    let made = upload("shop", &cert, &key).await.unwrap();
    let meta = made.server_certificate_metadata().unwrap();
    assert_eq!(meta.arn(), "arn:aws:iam::123456789012:server-certificate/cloudfront/shop");
    assert!(meta.server_certificate_id().starts_with("ASCA"));
    assert!(meta.expiration().unwrap().secs() > meta.upload_date().unwrap().secs(), "the certificate's own expiry");
    assert_eq!(err(upload("SHOP", &cert, &key).await).0, "EntityAlreadyExists");

    let got = admin.get_server_certificate().server_certificate_name("shop").send().await.unwrap();
    assert_eq!(got.server_certificate().unwrap().certificate_body(), cert.trim(), "kept trimmed, as IAM answers it");
    let listed = admin.list_server_certificates().path_prefix("/cloudfront/").send().await.unwrap();
    assert_eq!(listed.server_certificate_metadata_list().len(), 1);
    assert!(
        admin
            .list_server_certificates()
            .path_prefix("/elb/")
            .send()
            .await
            .unwrap()
            .server_certificate_metadata_list()
            .is_empty()
    );
    let summary = admin.get_account_summary().send().await.unwrap();
    assert_eq!(summary.summary_map().unwrap()[&aws_sdk_iam::types::SummaryKeyType::ServerCertificates], 1);

    admin
        .update_server_certificate()
        .server_certificate_name("shop")
        .new_server_certificate_name("shop-2027")
        .send()
        .await
        .unwrap();
    assert_eq!(err(admin.get_server_certificate().server_certificate_name("shop").send().await).0, "NoSuchEntity");
    let tag = aws_sdk_iam::types::Tag::builder().key("env").value("prod").build().unwrap();
    admin.tag_server_certificate().server_certificate_name("shop-2027").tags(tag).send().await.unwrap();
    let tags = admin.list_server_certificate_tags().server_certificate_name("shop-2027").send().await.unwrap();
    assert_eq!(tags.tags()[0].key(), "env");
    admin.delete_server_certificate().server_certificate_name("shop-2027").send().await.unwrap();
    let (code, message) = err(admin.get_server_certificate().server_certificate_name("shop-2027").send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("NoSuchEntity", "The Server Certificate with name shop-2027 cannot be found.")
    );

    upload("kept", &cert, &key).await.unwrap();
    server.stop().await;
    let db = server.stored_bytes().unwrap();
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let probe = &body.as_bytes()[..40];
    assert!(!db.windows(probe.len()).any(|w| w == probe), "the private key is in the database file");
}

/// Signing certificates: two per user, one certificate once, shown in the credential report;
/// root's own count in the account summary; a user holding any cannot be deleted.
#[tokio::test]
async fn signing_certificates_are_two_per_user_and_appear_in_the_credential_report() {
    use aws_sdk_iam::types::StatusType;
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("ana").send().await.unwrap();
    let pem = || rcgen::generate_simple_self_signed(vec!["ana.example".to_owned()]).unwrap().cert.pem();
    let (first, second) = (pem(), pem());
    let upload = |body: &str| admin.upload_signing_certificate().user_name("ana").certificate_body(body).send();
    let made = upload(&first).await.unwrap();
    let cert = made.certificate().unwrap();
    assert!(cert.certificate_id().len() >= 24);
    assert_eq!(cert.status(), &StatusType::Active);
    assert_eq!(err(upload(&first).await).0, "DuplicateCertificate");
    assert_eq!(err(upload("not a certificate").await).0, "MalformedCertificate");
    upload(&second).await.unwrap();
    let (code, message) = err(upload(&pem()).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("LimitExceeded", "Cannot exceed quota for SigningCertificatesPerUser: 2")
    );
    let listed = admin.list_signing_certificates().user_name("ana").send().await.unwrap();
    assert_eq!(listed.certificates().len(), 2);
    admin
        .update_signing_certificate()
        .user_name("ana")
        .certificate_id(cert.certificate_id())
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();

    admin.generate_credential_report().send().await.unwrap();
    let report = admin.get_credential_report().send().await.unwrap();
    let csv = String::from_utf8(report.content().unwrap().as_ref().to_vec()).unwrap();
    let ana: Vec<&str> = csv.lines().find(|l| l.starts_with("ana,")).unwrap().split(',').collect();
    assert_eq!((ana[18], ana[20]), ("false", "true"), "cert_1_active, cert_2_active");
    assert!(ana[19].starts_with("20"), "cert_1_last_rotated is a date");

    assert_eq!(err(admin.delete_user().user_name("ana").send().await).0, "DeleteConflict");
    // Root's own certificate, by calling without a user name.
    admin.upload_signing_certificate().certificate_body(pem()).send().await.unwrap();
    let summary = admin.get_account_summary().send().await.unwrap();
    let present =
        summary.summary_map().unwrap()[&aws_sdk_iam::types::SummaryKeyType::AccountSigningCertificatesPresent];
    assert_eq!(present, 1);
}

/// SSH public keys: RSA of at least 2,048 bits, uploaded in PEM or OpenSSH form and read back in
/// either, fingerprinted as `ssh-keygen -E md5` does, once per user, five at most.
#[tokio::test]
async fn ssh_public_keys_round_trip_between_encodings_and_are_fingerprinted_like_ssh_keygen() {
    use aws_sdk_iam::types::EncodingType;
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    for u in ["ana", "bo"] {
        admin.create_user().user_name(u).send().await.unwrap();
    }
    let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let made =
        admin.upload_ssh_public_key().user_name("ana").ssh_public_key_body(rsa.public_key_pem()).send().await.unwrap();
    let key = made.ssh_public_key().unwrap();
    assert!(key.ssh_public_key_id().starts_with("APKA"));
    let ssh_form = key.ssh_public_key_body().to_owned();
    assert!(ssh_form.starts_with("ssh-rsa AAAAB3NzaC1yc2E"), "{ssh_form}");
    // The fingerprint is the MD5 of the SSH encoding, as ssh-keygen -E md5 computes it.
    let blob = data_encoding::BASE64.decode(ssh_form.split(' ').nth(1).unwrap().as_bytes()).unwrap();
    use md5::Digest as _;
    let expected: Vec<String> = md5::Md5::digest(&blob).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(key.fingerprint(), expected.join(":"));

    // Read back as PEM, it is the key that was uploaded.
    let as_pem = admin
        .get_ssh_public_key()
        .user_name("ana")
        .ssh_public_key_id(key.ssh_public_key_id())
        .encoding(EncodingType::Pem)
        .send()
        .await
        .unwrap();
    let pem_body = as_pem.ssh_public_key().unwrap().ssh_public_key_body().to_owned();
    assert_eq!(pem_body.trim(), rsa.public_key_pem().trim());
    // The OpenSSH form, uploaded for another user, has the same fingerprint; for ana it is a duplicate.
    let bo = admin.upload_ssh_public_key().user_name("bo").ssh_public_key_body(&ssh_form).send().await.unwrap();
    assert_eq!(bo.ssh_public_key().unwrap().fingerprint(), key.fingerprint());
    assert_eq!(
        err(admin.upload_ssh_public_key().user_name("ana").ssh_public_key_body(&ssh_form).send().await).0,
        "DuplicateSSHPublicKey"
    );
    let small = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    assert_eq!(
        err(admin.upload_ssh_public_key().user_name("ana").ssh_public_key_body(small.public_key_pem()).send().await).0,
        "InvalidPublicKey"
    );
    assert_eq!(
        err(admin.upload_ssh_public_key().user_name("ana").ssh_public_key_body("ssh-ed25519 AAAA").send().await).0,
        "UnrecognizedPublicKeyEncoding"
    );
    assert_eq!(admin.list_ssh_public_keys().user_name("ana").send().await.unwrap().ssh_public_keys().len(), 1);
    assert_eq!(err(admin.delete_user().user_name("ana").send().await).0, "DeleteConflict");
    admin.delete_ssh_public_key().user_name("ana").ssh_public_key_id(key.ssh_public_key_id()).send().await.unwrap();
    admin.delete_user().user_name("ana").send().await.unwrap();
}

const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const ANYONE_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

#[tokio::test]
async fn service_linked_roles_belong_to_their_service() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let created =
        admin.create_service_linked_role().aws_service_name("autoscaling.amazonaws.com").send().await.unwrap();
    let role = created.role().unwrap();
    assert_eq!(role.role_name(), "AWSServiceRoleForAutoScaling");
    assert_eq!(role.path(), "/aws-service-role/autoscaling.amazonaws.com/");
    assert_eq!(
        role.arn(),
        format!(
            "arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        )
    );
    let trust =
        percent_encoding::percent_decode_str(role.assume_role_policy_document().unwrap()).decode_utf8().unwrap();
    let trust: serde_json::Value = serde_json::from_str(&trust).unwrap();
    assert_eq!(trust["Statement"][0]["Principal"]["Service"][0], "autoscaling.amazonaws.com");

    // One per name: a second needs a suffix.
    let (code, message) =
        err(admin.create_service_linked_role().aws_service_name("autoscaling.amazonaws.com").send().await);
    assert_eq!(code, "InvalidInput");
    assert_eq!(
        message,
        "Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try a different suffix."
    );
    let suffixed = admin
        .create_service_linked_role()
        .aws_service_name("autoscaling.amazonaws.com")
        .custom_suffix("app")
        .send()
        .await
        .unwrap();
    assert_eq!(suffixed.role().unwrap().role_name(), "AWSServiceRoleForAutoScaling_app");
    assert_eq!(
        err(admin.create_service_linked_role().aws_service_name("nope.example.com").send().await).0,
        "InvalidInput"
    );

    // Only the service changes its trust, policies and existence; the description and tags stay
    // the account's.
    let name = "AWSServiceRoleForAutoScaling";
    let protected =
        format!("Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS");
    let refusals = [
        err(admin.delete_role().role_name(name).send().await),
        err(admin.put_role_policy().role_name(name).policy_name("p").policy_document(ALLOW_ALL).send().await),
        err(admin
            .attach_role_policy()
            .role_name(name)
            .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
            .send()
            .await),
        err(admin.update_assume_role_policy().role_name(name).policy_document(ANYONE_TRUST).send().await),
        err(admin.update_role().role_name(name).max_session_duration(7200).send().await),
    ];
    for r in refusals {
        assert_eq!(r, ("UnmodifiableEntity".to_owned(), protected.clone()));
    }
    admin.update_role_description().role_name(name).description("scaling").send().await.unwrap();
    admin
        .tag_role()
        .role_name(name)
        .tags(aws_sdk_iam::types::Tag::builder().key("k").value("v").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(admin.get_role().role_name(name).send().await.unwrap().role().unwrap().description(), Some("scaling"));

    // Who may create one is decided on the role's ARN and the service's name.
    admin.create_user().user_name("ops").send().await.unwrap();
    let only_spot = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"arn:aws:iam::*:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot","Condition":{"StringLike":{"iam:AWSServiceName":"spot.amazonaws.com"}}}]}"#;
    admin.put_user_policy().user_name("ops").policy_name("slr").policy_document(only_spot).send().await.unwrap();
    let key = admin.create_access_key().user_name("ops").send().await.unwrap();
    let key = key.access_key().unwrap();
    let ops = iam(&server, key.access_key_id(), key.secret_access_key());
    assert_eq!(
        err(ops.create_service_linked_role().aws_service_name("ecs.amazonaws.com").send().await).0,
        "AccessDenied"
    );
    let spot = ops.create_service_linked_role().aws_service_name("spot.amazonaws.com").send().await.unwrap();
    assert_eq!(spot.role().unwrap().role_name(), "AWSServiceRoleForEC2Spot");

    // Deleting is a task whose status can be asked; the role is gone.
    let task = admin.delete_service_linked_role().role_name(name).send().await.unwrap();
    let task = task.deletion_task_id();
    assert!(task.starts_with(&format!("task/aws-service-role/autoscaling.amazonaws.com/{name}/")), "{task}");
    let status = admin.get_service_linked_role_deletion_status().deletion_task_id(task).send().await.unwrap();
    assert_eq!(status.status().as_str(), "SUCCEEDED");
    assert_eq!(err(admin.get_role().role_name(name).send().await).0, "NoSuchEntity");
    assert_eq!(err(admin.delete_service_linked_role().role_name(name).send().await).0, "NoSuchEntity");
    let unknown = "task/aws-service-role/autoscaling.amazonaws.com/X/0b4e5f9c-2d0e-4a8e-9a43-3f6f0f0e9d11";
    assert_eq!(
        err(admin.get_service_linked_role_deletion_status().deletion_task_id(unknown).send().await).0,
        "NoSuchEntity"
    );
    assert_eq!(
        err(admin.get_service_linked_role_deletion_status().deletion_task_id("task/nonsense").send().await).0,
        "InvalidInput"
    );
    // An ordinary role is deleted with DeleteRole, not as a service's.
    admin.create_role().role_name("plain").assume_role_policy_document(ANYONE_TRUST).send().await.unwrap();
    assert_eq!(err(admin.delete_service_linked_role().role_name("plain").send().await).0, "InvalidInput");
}
