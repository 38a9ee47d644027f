//! IAM's condition keys from the action table (resource tags, request tags, `iam:PolicyARN`,
//! `iam:PermissionsBoundary`), renaming users and groups, tags on policies and instance profiles,
//! and `Marker`/`MaxItems` paging on the lists that are not keyed by name.

use aws_sdk_iam::types::{PolicyUsageType, Tag};

use crate::iam::{err, iam, root};
use rampart_testkit::TestServer;

const BOUNDARY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}}"#;

/// Creates a customer managed policy with the `BOUNDARY` document; its ARN.
async fn managed_policy(admin: &aws_sdk_iam::Client, name: &str) -> String {
    let p = admin.create_policy().policy_name(name).policy_document(BOUNDARY).send().await.unwrap();
    p.policy().unwrap().arn().unwrap().to_owned()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

/// A user with a key whose only permissions are `policy`, and its client.
async fn user_with_policy(server: &TestServer, name: &str, policy: &str) -> aws_sdk_iam::Client {
    let admin = root(server);
    admin.create_user().user_name(name).send().await.unwrap();
    admin.put_user_policy().user_name(name).policy_name("p").policy_document(policy).send().await.unwrap();
    let k = admin.create_access_key().user_name(name).send().await.unwrap();
    let k = k.access_key().unwrap();
    iam(server, k.access_key_id(), k.secret_access_key())
}

#[tokio::test]
async fn conditions_see_resource_tags_request_tags_policy_arns_and_boundaries() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let boundary_arn = managed_policy(&admin, "Boundary").await;
    let readonly = "arn:aws:iam::aws:policy/IAMReadOnlyAccess";
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{{"StringEquals":{{"aws:ResourceTag/team":"blue"}}}}}},
        {{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{{"ArnEquals":{{"iam:PolicyARN":"{readonly}"}}}}}},
        {{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*","Condition":{{"StringEquals":{{"iam:PermissionsBoundary":"{boundary_arn}"}}}}}},
        {{"Effect":"Allow","Action":"iam:TagUser","Resource":"*","Condition":{{"StringEquals":{{"aws:RequestTag/team":"blue"}},"ForAllValues:StringEquals":{{"aws:TagKeys":["team"]}}}}}}
        ]}}"#
    );
    let lead = user_with_policy(&server, "lead", &policy).await;
    admin.create_user().user_name("blue").tags(tag("team", "blue")).send().await.unwrap();
    admin.create_user().user_name("red").tags(tag("team", "red")).send().await.unwrap();

    // aws:ResourceTag comes from the user named in the request, read on this very request.
    assert_eq!(lead.get_user().user_name("blue").send().await.unwrap().user().unwrap().user_name(), "blue");
    let (code, message) = err(lead.get_user().user_name("red").send().await);
    assert_eq!(code, "AccessDenied");
    assert!(message.contains("on resource: arn:aws:iam::123456789012:user/red because"), "{message}");
    admin.tag_user().user_name("red").tags(tag("team", "blue")).send().await.unwrap();
    assert_eq!(err(lead.get_user().user_name("red").send().await).0, "OK");

    // iam:PolicyARN is the policy being attached.
    assert_eq!(err(lead.attach_user_policy().user_name("blue").policy_arn(readonly).send().await).0, "OK");
    let admin_arn = "arn:aws:iam::aws:policy/AdministratorAccess";
    assert_eq!(err(lead.attach_user_policy().user_name("blue").policy_arn(admin_arn).send().await).0, "AccessDenied");

    // iam:PermissionsBoundary: a delegated admin may only create users inside the boundary.
    assert_eq!(err(lead.create_user().user_name("free").send().await).0, "AccessDenied");
    let other = managed_policy(&admin, "Other").await;
    assert_eq!(err(lead.create_user().user_name("free").permissions_boundary(other).send().await).0, "AccessDenied");
    let made = lead.create_user().user_name("bounded").permissions_boundary(&boundary_arn).send().await.unwrap();
    assert_eq!(
        made.user().unwrap().permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
        Some(boundary_arn.as_str())
    );

    // aws:RequestTag/* and aws:TagKeys come from the tags in the request.
    assert_eq!(err(lead.tag_user().user_name("bounded").tags(tag("team", "blue")).send().await).0, "OK");
    assert_eq!(err(lead.tag_user().user_name("bounded").tags(tag("team", "red")).send().await).0, "AccessDenied");
    let two = lead.tag_user().user_name("bounded").tags(tag("team", "blue")).tags(tag("cost", "1")).send().await;
    assert_eq!(err(two).0, "AccessDenied");
}

#[tokio::test]
async fn renaming_a_user_or_group_keeps_keys_policies_and_memberships_and_needs_both_names() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let self_read = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user*/${aws:username}"}}"#;
    let ann = user_with_policy(&server, "ann", self_read).await;
    admin.create_group().group_name("staff").send().await.unwrap();
    admin.add_user_to_group().group_name("staff").user_name("ann").send().await.unwrap();
    admin.create_user().user_name("taken").send().await.unwrap();

    let (code, message) = err(admin.update_user().user_name("ann").new_user_name("TAKEN").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("EntityAlreadyExists", "User with name TAKEN already exists."));
    admin.update_user().user_name("ann").new_user_name("anna").new_path("/shop/").send().await.unwrap();

    // The same key now acts as the renamed user, with the same inline policy.
    let me = ann.get_user().send().await.unwrap();
    assert_eq!(me.user().unwrap().arn(), "arn:aws:iam::123456789012:user/shop/anna");
    assert_eq!(err(admin.get_user().user_name("ann").send().await).0, "NoSuchEntity");
    let keys = admin.list_access_keys().user_name("anna").send().await.unwrap();
    assert_eq!(keys.access_key_metadata()[0].user_name(), Some("anna"));
    let groups = admin.list_groups_for_user().user_name("anna").send().await.unwrap();
    assert_eq!(groups.groups().iter().map(|g| g.group_name()).collect::<Vec<_>>(), ["staff"]);
    let members = admin.get_group().group_name("staff").send().await.unwrap();
    assert_eq!(members.users().iter().map(|u| u.user_name()).collect::<Vec<_>>(), ["anna"]);

    // Renaming is authorized on the old and the new name.
    let only_a = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:UpdateUser","Resource":"arn:aws:iam::123456789012:user/*/a*"}}"#;
    let ops = user_with_policy(&server, "ops", only_a).await;
    let (code, message) = err(ops.update_user().user_name("anna").new_user_name("bob").send().await);
    assert_eq!(code, "AccessDenied");
    assert!(message.contains("on resource: arn:aws:iam::123456789012:user/shop/bob because"), "{message}");
    ops.update_user().user_name("anna").new_user_name("amy").send().await.unwrap();
    assert_eq!(admin.get_user().user_name("amy").send().await.unwrap().user().unwrap().path(), "/shop/");

    // Groups rename the same way, and their members follow.
    admin.create_group().group_name("crew").send().await.unwrap();
    let (code, message) = err(admin.update_group().group_name("staff").new_group_name("Crew").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("EntityAlreadyExists", "Group with name Crew already exists."));
    admin.update_group().group_name("staff").new_group_name("floor").new_path("/shop/").send().await.unwrap();
    let g = admin.get_group().group_name("floor").send().await.unwrap();
    assert_eq!(g.group().unwrap().arn(), "arn:aws:iam::123456789012:group/shop/floor");
    assert_eq!(g.users().iter().map(|u| u.user_name()).collect::<Vec<_>>(), ["amy"]);
    let groups = admin.list_groups_for_user().user_name("amy").send().await.unwrap();
    assert_eq!(groups.groups().iter().map(|g| g.group_name()).collect::<Vec<_>>(), ["floor"]);
    assert_eq!(err(admin.get_group().group_name("staff").send().await).0, "NoSuchEntity");
}

#[tokio::test]
async fn managed_policies_and_instance_profiles_carry_tags() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let created = admin
        .create_policy()
        .policy_name("Tagged")
        .policy_document(BOUNDARY)
        .tags(tag("owner", "ops"))
        .send()
        .await
        .unwrap();
    let arn = created.policy().unwrap().arn().unwrap().to_owned();
    assert_eq!(created.policy().unwrap().tags().len(), 1);
    admin.tag_policy().policy_arn(&arn).tags(tag("Owner", "sec")).tags(tag("env", "prod")).send().await.unwrap();
    let got = admin.get_policy().policy_arn(&arn).send().await.unwrap();
    let tags: Vec<(&str, &str)> = got.policy().unwrap().tags().iter().map(|t| (t.key(), t.value())).collect();
    // Keys are case-insensitive: the new value replaces the old one.
    assert_eq!(tags, [("Owner", "sec"), ("env", "prod")]);
    let listed = admin.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    assert!(listed.policies()[0].tags().is_empty(), "ListPolicies leaves tags out");
    admin.untag_policy().policy_arn(&arn).tag_keys("OWNER").send().await.unwrap();
    let tags = admin.list_policy_tags().policy_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| t.key()).collect::<Vec<_>>(), ["env"]);
    let aws = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    assert_eq!(err(admin.tag_policy().policy_arn(aws).tags(tag("a", "b")).send().await).0, "InvalidInput");
    let missing = "arn:aws:iam::123456789012:policy/Nope";
    assert_eq!(err(admin.list_policy_tags().policy_arn(missing).send().await).0, "NoSuchEntity");

    admin.create_instance_profile().instance_profile_name("web").send().await.unwrap();
    admin.tag_instance_profile().instance_profile_name("web").tags(tag("tier", "front")).send().await.unwrap();
    let tags = admin.list_instance_profile_tags().instance_profile_name("web").send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("tier", "front")]);
    admin.untag_instance_profile().instance_profile_name("web").tag_keys("tier").send().await.unwrap();
    let got = admin.get_instance_profile().instance_profile_name("web").send().await.unwrap();
    assert!(got.instance_profile().unwrap().tags().is_empty());
    let r = admin.tag_instance_profile().instance_profile_name("db").tags(tag("a", "b")).send().await;
    assert_eq!(err(r).0, "NoSuchEntity");

    // Tags on a policy are aws:ResourceTag for calls on that policy.
    let by_tag = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetPolicy","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}}}"#;
    let reader = user_with_policy(&server, "reader", by_tag).await;
    assert_eq!(err(reader.get_policy().policy_arn(&arn).send().await).0, "OK");
    admin.untag_policy().policy_arn(&arn).tag_keys("env").send().await.unwrap();
    assert_eq!(err(reader.get_policy().policy_arn(&arn).send().await).0, "AccessDenied");
}

#[tokio::test]
async fn every_kind_of_list_pages_with_marker_and_max_items() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("u").send().await.unwrap();
    admin.create_group().group_name("g").send().await.unwrap();
    for i in 0..5 {
        admin.tag_user().user_name("u").tags(tag(&format!("k{i}"), "v")).send().await.unwrap();
        admin.create_user().user_name(format!("m{i}")).send().await.unwrap();
        admin.add_user_to_group().group_name("g").user_name(format!("m{i}")).send().await.unwrap();
    }

    // User tags: three pages of 2, 2 and 1, each marker leading to the next.
    let mut keys = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = admin.list_user_tags().user_name("u").max_items(2).set_marker(marker.clone()).send().await.unwrap();
        pages += 1;
        keys.extend(page.tags().iter().map(|t| t.key().to_owned()));
        if !page.is_truncated() {
            assert!(page.marker().is_none());
            break;
        }
        marker = page.marker().map(str::to_owned);
    }
    assert_eq!((pages, keys), (3, ["k0", "k1", "k2", "k3", "k4"].map(String::from).to_vec()));

    // Group members.
    let first = admin.get_group().group_name("g").max_items(3).send().await.unwrap();
    assert!(first.is_truncated());
    let rest = admin.get_group().group_name("g").max_items(3).marker(first.marker().unwrap()).send().await.unwrap();
    assert!(!rest.is_truncated());
    let names: Vec<&str> = first.users().iter().chain(rest.users()).map(|u| u.user_name()).collect();
    assert_eq!(names, ["m0", "m1", "m2", "m3", "m4"]);

    // Attached policies and the entities of a policy, across users, groups and roles.
    let ro = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    for p in ["ReadOnlyAccess", "IAMReadOnlyAccess", "SecurityAudit"] {
        let arn = format!("arn:aws:iam::aws:policy/{p}");
        admin.attach_user_policy().user_name("u").policy_arn(arn).send().await.unwrap();
    }
    admin.attach_group_policy().group_name("g").policy_arn(ro).send().await.unwrap();
    let attached = admin.list_attached_user_policies().user_name("u").max_items(2).send().await.unwrap();
    assert_eq!((attached.attached_policies().len(), attached.is_truncated()), (2, true));
    let more = admin
        .list_attached_user_policies()
        .user_name("u")
        .max_items(2)
        .marker(attached.marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!((more.attached_policies().len(), more.is_truncated()), (1, false));
    let e1 = admin.list_entities_for_policy().policy_arn(ro).max_items(1).send().await.unwrap();
    assert_eq!((e1.policy_users().len(), e1.policy_groups().len(), e1.is_truncated()), (1, 0, true));
    let e2 =
        admin.list_entities_for_policy().policy_arn(ro).max_items(1).marker(e1.marker().unwrap()).send().await.unwrap();
    assert_eq!((e2.policy_users().len(), e2.policy_groups().len(), e2.is_truncated()), (0, 1, false));
    let only_groups = admin
        .list_entities_for_policy()
        .policy_arn(ro)
        .entity_filter(aws_sdk_iam::types::EntityType::Group)
        .send()
        .await
        .unwrap();
    assert_eq!((only_groups.policy_users().len(), only_groups.policy_groups().len()), (0, 1));
    let as_boundary = admin
        .list_entities_for_policy()
        .policy_arn(ro)
        .policy_usage_filter(PolicyUsageType::PermissionsBoundary)
        .send()
        .await
        .unwrap();
    assert!(as_boundary.policy_users().is_empty() && as_boundary.policy_groups().is_empty());

    // Simulation results page too.
    let sim = admin
        .simulate_principal_policy()
        .policy_source_arn("arn:aws:iam::123456789012:user/u")
        .action_names("iam:GetUser")
        .action_names("iam:CreateUser")
        .action_names("iam:ListUsers")
        .max_items(2)
        .send()
        .await
        .unwrap();
    assert_eq!((sim.evaluation_results().len(), sim.is_truncated()), (2, true));

    // A marker that no listing gave out is refused.
    let (code, message) = err(admin.list_user_tags().user_name("u").marker("not-a-marker").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("ValidationError", "Invalid Marker."));
}
