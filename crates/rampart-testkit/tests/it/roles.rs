//! STS AssumeRole end to end: trust policies decide who may assume, sessions get exactly the
//! role's permissions (narrowed by session policies), and tokens expire on time.

use crate::iam::iam_with;
use rampart_testkit::TestServer;

pub(crate) fn sts_with(server: &TestServer, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
    let conf = crate::sts_builder(server, id, secret)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(id, secret, token.map(str::to_owned), None, "test"))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

fn iam_code<T, E: aws_sdk_iam::error::ProvideErrorMetadata, R>(
    r: Result<T, aws_sdk_iam::error::SdkError<E, R>>,
) -> String {
    match r {
        Ok(_) => "OK".into(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("NotAServiceError").to_owned(),
    }
}

const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"shop-42"}}}]}"#;

async fn setup(server: &TestServer) -> (aws_sdk_sts::Client, aws_sdk_iam::Client) {
    let admin = iam_with(server, &server.access_key_id, &server.secret_access_key, None);
    admin.create_user().user_name("olga").send().await.unwrap();
    let may_assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/Auditor"}]}"#;
    admin.put_user_policy().user_name("olga").policy_name("assume").policy_document(may_assume).send().await.unwrap();
    admin.create_role().role_name("Auditor").assume_role_policy_document(TRUST_ACCOUNT).send().await.unwrap();
    admin
        .attach_role_policy()
        .role_name("Auditor")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let k = admin.create_access_key().user_name("olga").send().await.unwrap();
    let k = k.access_key().unwrap();
    (sts_with(server, k.access_key_id(), k.secret_access_key(), None), admin)
}

#[tokio::test]
async fn a_user_assumes_a_role_and_gets_exactly_its_permissions() {
    let server = TestServer::start().await.unwrap();
    let (olga_sts, _admin) = setup(&server).await;
    let me = olga_sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::123456789012:user/olga"));

    // The trust policy's condition is enforced: no external id, no role.
    let r = olga_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("audit")
        .send()
        .await;
    assert_eq!(crate::code(r), "AccessDenied");

    let out = olga_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("audit")
        .external_id("shop-42")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    let user = out.assumed_role_user().unwrap();
    assert_eq!(user.arn(), "arn:aws:sts::123456789012:assumed-role/Auditor/audit");
    assert!(user.assumed_role_id().starts_with("AROA") && user.assumed_role_id().ends_with(":audit"));

    let session_sts = sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let me = session_sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:sts::123456789012:assumed-role/Auditor/audit"));
    assert_eq!(me.user_id(), Some(user.assumed_role_id()));

    // The session has the role's permissions, and none of the caller's.
    let session_iam = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(iam_code(session_iam.list_users().send().await), "OK");
    assert_eq!(iam_code(session_iam.create_user().user_name("x").send().await), "AccessDenied");
    let again = session_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("again")
        .external_id("shop-42")
        .send()
        .await;
    assert_eq!(crate::code(again), "AccessDenied", "the session lost the user's sts:AssumeRole permission");

    // A tampered token is not a token.
    let mut bad = c.session_token().to_owned();
    bad.replace_range(10..11, if &bad[10..11] == "A" { "B" } else { "A" });
    let tampered = sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(&bad));
    assert_eq!(crate::code(tampered.get_caller_identity().send().await), "InvalidClientTokenId");
}

#[tokio::test]
async fn session_policies_narrow_and_durations_are_bounded() {
    let server = TestServer::start().await.unwrap();
    let (olga_sts, _admin) = setup(&server).await;
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
    let out = olga_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("narrow")
        .external_id("shop-42")
        .policy(narrow)
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let s = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(iam_code(s.get_user().user_name("olga").send().await), "OK");
    assert_eq!(iam_code(s.list_users().send().await), "AccessDenied", "the session policy narrows the role");

    let too_long = olga_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("long")
        .external_id("shop-42")
        .duration_seconds(7200)
        .send()
        .await;
    assert_eq!(crate::code(too_long), "ValidationError");
    let root = crate::root_sts(&server);
    let r = root
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("root")
        .external_id("shop-42")
        .send()
        .await;
    assert_eq!(crate::code(r), "AccessDenied");
}

#[tokio::test]
async fn an_expired_session_is_expired_token() {
    let server = TestServer::start().await.unwrap();
    let (olga_sts, _admin) = setup(&server).await;
    let out = olga_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("s1")
        .external_id("shop-42")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    // The session works (and its opened token is now cached by its key id).
    let live = sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(crate::code(live.get_caller_identity().send().await), "OK");
    // Reseal the same session with an expiry in the past, with the server's own master key.
    let key_text = std::fs::read_to_string(server.data_dir().join("master.key")).unwrap();
    let key = data_encoding::BASE64.decode(key_text.trim().as_bytes()).unwrap();
    let sealer = rampart_store::Sealer::new(&key).unwrap();
    let mut claims = rampart_iam::sts::open_token(&sealer, c.session_token()).unwrap();
    claims.expires = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let sealed = sealer.seal(&serde_json::to_vec(&claims).unwrap(), b"rampart/sts/session-token/v1").unwrap();
    let expired =
        sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(&data_encoding::BASE64.encode(&sealed)));
    assert_eq!(
        crate::code(expired.get_caller_identity().send().await),
        "ExpiredToken",
        "another token under the same key id is opened, not answered from the cache"
    );
    assert_eq!(crate::code(live.get_caller_identity().send().await), "OK");
}

#[tokio::test]
async fn a_session_chains_into_a_role_that_trusts_its_role_arn_with_a_path() {
    let server = TestServer::start().await.unwrap();
    let (olga_sts, admin) = setup(&server).await;
    // Auditor lives at "/" in setup; make a role at a path that trusts Auditor's ARN, and a role
    // that trusts the pathed one.
    let trust_auditor = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/Auditor"},"Action":"sts:AssumeRole"}]}"#;
    admin
        .create_role()
        .role_name("Deep")
        .path("/ops/")
        .assume_role_policy_document(trust_auditor)
        .send()
        .await
        .unwrap();
    let trust_deep = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/ops/Deep"},"Action":"sts:AssumeRole"}]}"#;
    admin.create_role().role_name("Deeper").assume_role_policy_document(trust_deep).send().await.unwrap();
    let may = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    admin.put_role_policy().role_name("Auditor").policy_name("chain").policy_document(may).send().await.unwrap();
    admin.put_role_policy().role_name("Deep").policy_name("chain").policy_document(may).send().await.unwrap();

    let a = olga_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("hop1")
        .external_id("shop-42")
        .send()
        .await
        .unwrap();
    let c = a.credentials().unwrap();
    let hop1 = sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let too_long = hop1
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/ops/Deep")
        .role_session_name("hop2")
        .duration_seconds(3601)
        .send()
        .await;
    assert_eq!(crate::code(too_long), "ValidationError", "role chaining is limited to one hour");
    let b = hop1
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/ops/Deep")
        .role_session_name("hop2")
        .send()
        .await
        .unwrap();
    let c = b.credentials().unwrap();
    let hop2 = sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(
        hop2.get_caller_identity().send().await.unwrap().arn(),
        Some("arn:aws:sts::123456789012:assumed-role/Deep/hop2")
    );
    // Deeper trusts the role ARN with its path: the session of /ops/Deep must match it.
    let d = hop2
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Deeper")
        .role_session_name("hop3")
        .send()
        .await
        .unwrap();
    assert_eq!(d.assumed_role_user().unwrap().arn(), "arn:aws:sts::123456789012:assumed-role/Deeper/hop3");
    // And a role that does not trust the session's role refuses it.
    let r = hop1.assume_role().role_arn("arn:aws:iam::123456789012:role/Deeper").role_session_name("skip").send().await;
    assert_eq!(crate::code(r), "AccessDenied");
}

#[tokio::test]
async fn the_simulator_answers_for_a_role_as_its_sessions_are_answered() {
    let server = TestServer::start().await.unwrap();
    let (olga_sts, admin) = setup(&server).await;
    let role_arn = "arn:aws:iam::123456789012:role/Auditor";
    admin.create_user().user_name("x").send().await.unwrap();
    let sim = admin
        .simulate_principal_policy()
        .policy_source_arn(role_arn)
        .action_names("iam:ListUsers")
        .action_names("iam:CreateUser")
        .send()
        .await
        .unwrap();
    let decisions: Vec<(&str, &str)> =
        sim.evaluation_results().iter().map(|r| (r.eval_action_name(), r.eval_decision().as_str())).collect();
    assert_eq!(decisions, [("iam:ListUsers", "allowed"), ("iam:CreateUser", "implicitDeny")]);
    let matched = sim.evaluation_results()[0].matched_statements();
    assert_eq!(matched[0].source_policy_id(), Some("arn:aws:iam::aws:policy/IAMReadOnlyAccess"));
    assert_eq!(matched[0].source_policy_type().map(|t| t.as_str()), Some("aws-managed"));

    // The same answers from a real session of the role.
    let out = olga_sts.assume_role().role_arn(role_arn).role_session_name("sim").external_id("shop-42").send().await;
    let c = out.unwrap().credentials().unwrap().clone();
    let s = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(iam_code(s.list_users().send().await), "OK");
    assert_eq!(iam_code(s.create_user().user_name("y").send().await), "AccessDenied");

    let missing = admin
        .simulate_principal_policy()
        .policy_source_arn("arn:aws:iam::123456789012:role/Nope")
        .action_names("iam:ListUsers")
        .send()
        .await;
    assert_eq!(iam_code(missing), "NoSuchEntity");
}

#[tokio::test]
async fn managed_session_policies_narrow_the_session_and_fail_closed_when_gone() {
    let server = TestServer::start().await.unwrap();
    let (olga_sts, admin) = setup(&server).await;
    let only_get_user =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#;
    let p = admin.create_policy().policy_name("OnlyGetUser").policy_document(only_get_user).send().await.unwrap();
    let arn = p.policy().unwrap().arn().unwrap().to_owned();
    let descriptor = aws_sdk_sts::types::PolicyDescriptorType::builder().arn(&arn).build();
    let out = olga_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("narrow")
        .external_id("shop-42")
        .policy_arns(descriptor)
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let s = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(iam_code(s.get_user().user_name("olga").send().await), "OK");
    assert_eq!(iam_code(s.list_users().send().await), "AccessDenied", "the managed session policy narrows the role");
    // The session policy deleted: the session can do nothing (a session policy never widens).
    admin.delete_policy().policy_arn(&arn).send().await.unwrap();
    assert_eq!(iam_code(s.get_user().user_name("olga").send().await), "AccessDenied");
}

#[tokio::test]
async fn session_tags_override_role_tags_need_tag_session_and_transitive_ones_carry_over() {
    let server = TestServer::start().await.unwrap();
    let admin = iam_with(&server, &server.access_key_id, &server.secret_access_key, None);
    admin.create_user().user_name("tia").send().await.unwrap();
    let may = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#;
    admin.put_user_policy().user_name("tia").policy_name("p").policy_document(may).send().await.unwrap();
    let trust_tags = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["sts:AssumeRole","sts:TagSession"]}}"#;
    let trust_plain = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}"#;
    let blue_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}},{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let red = aws_sdk_iam::types::Tag::builder().key("team").value("red").build().unwrap();
    admin.create_role().role_name("Tagged").assume_role_policy_document(trust_tags).tags(red).send().await.unwrap();
    admin.put_role_policy().role_name("Tagged").policy_name("p").policy_document(blue_only).send().await.unwrap();
    admin.create_role().role_name("Plain").assume_role_policy_document(trust_plain).send().await.unwrap();
    let k = admin.create_access_key().user_name("tia").send().await.unwrap();
    let k = k.access_key().unwrap();
    let tia = sts_with(&server, k.access_key_id(), k.secret_access_key(), None);
    let tag = |k: &str, v: &str| aws_sdk_sts::types::Tag::builder().key(k).value(v).build().unwrap();
    let role = |name: &str| format!("arn:aws:iam::123456789012:role/{name}");
    let iam_of = |c: &aws_sdk_sts::types::Credentials| {
        iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()))
    };

    // The role's own tag says red; a session tag of blue wins for this session.
    let plain = tia.assume_role().role_arn(role("Tagged")).role_session_name("s0").send().await.unwrap();
    assert_eq!(iam_code(iam_of(plain.credentials().unwrap()).get_user().user_name("tia").send().await), "AccessDenied");
    let blue = tia
        .assume_role()
        .role_arn(role("Tagged"))
        .role_session_name("s1")
        .tags(tag("team", "blue"))
        .transitive_tag_keys("team")
        .send()
        .await
        .unwrap();
    let blue_iam = iam_of(blue.credentials().unwrap());
    assert_eq!(iam_code(blue_iam.get_user().user_name("tia").send().await), "OK");

    // Tags need the trust policy to allow sts:TagSession; keys are case-insensitive.
    let r = tia.assume_role().role_arn(role("Plain")).role_session_name("s2").tags(tag("team", "blue")).send().await;
    assert_eq!(crate::code(r), "AccessDenied");
    assert_eq!(crate::code(tia.assume_role().role_arn(role("Plain")).role_session_name("s2").send().await), "OK");
    let dup = tia
        .assume_role()
        .role_arn(role("Tagged"))
        .role_session_name("s3")
        .tags(tag("team", "blue"))
        .tags(tag("TEAM", "green"))
        .send()
        .await;
    assert_eq!(crate::code(dup), "InvalidParameterValue");

    // A transitive tag carries into a chained session and cannot be overridden there.
    let c = blue.credentials().unwrap();
    let chained_sts = sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let chained = chained_sts.assume_role().role_arn(role("Tagged")).role_session_name("s4").send().await.unwrap();
    assert_eq!(iam_code(iam_of(chained.credentials().unwrap()).get_user().user_name("tia").send().await), "OK");
    let over = chained_sts
        .assume_role()
        .role_arn(role("Tagged"))
        .role_session_name("s5")
        .tags(tag("Team", "red"))
        .send()
        .await;
    assert_eq!(crate::code(over), "InvalidParameterValue");
}

/// "Revoke active sessions" as the IAM console does it: an inline deny on sessions issued before now.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html>.
#[tokio::test]
async fn revoking_active_sessions_denies_older_tokens_and_not_newer_ones() {
    let server = TestServer::start().await.unwrap();
    let (olga_sts, admin) = setup(&server).await;
    let assume = || {
        olga_sts
            .assume_role()
            .role_arn("arn:aws:iam::123456789012:role/Auditor")
            .role_session_name("audit")
            .external_id("shop-42")
            .send()
    };
    let old = assume().await.unwrap();
    let c = old.credentials().unwrap();
    let old_iam = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(iam_code(old_iam.list_users().send().await), "OK");

    // Tokens carry whole seconds; revoke as of the next second, then wait for it.
    let cutoff = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::seconds(1);
    let cutoff_text = cutoff.format(&time::format_description::well_known::Rfc3339).unwrap();
    let revoke = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff_text}"}}}}}}}}"#
    );
    admin
        .put_role_policy()
        .role_name("Auditor")
        .policy_name("AWSRevokeOlderSessions")
        .policy_document(revoke)
        .send()
        .await
        .unwrap();
    assert_eq!(iam_code(old_iam.list_users().send().await), "AccessDenied");
    while time::OffsetDateTime::now_utc() < cutoff {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let new = assume().await.unwrap();
    let c = new.credentials().unwrap();
    let new_iam = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(iam_code(new_iam.list_users().send().await), "OK");
}

#[tokio::test]
async fn get_access_key_info_names_the_account_of_any_key() {
    let server = TestServer::start().await.unwrap();
    let (olga_sts, admin) = setup(&server).await;
    let root = crate::root_sts(&server);
    let account = |r: aws_sdk_sts::operation::get_access_key_info::GetAccessKeyInfoOutput| r.account;
    let own = root.get_access_key_info().access_key_id(&server.access_key_id).send().await.unwrap();
    assert_eq!(account(own).as_deref(), Some("123456789012"));

    // A user's key, also after it is deleted: the answer says nothing of the key's state.
    let k = admin.create_access_key().user_name("olga").send().await.unwrap();
    let id = k.access_key().unwrap().access_key_id().to_owned();
    admin.delete_access_key().user_name("olga").access_key_id(&id).send().await.unwrap();
    let out = root.get_access_key_info().access_key_id(&id).send().await.unwrap();
    assert_eq!(account(out).as_deref(), Some("123456789012"));

    // A session's ASIA key, which Rampart never stores.
    let out = olga_sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("audit")
        .external_id("shop-42")
        .send()
        .await
        .unwrap();
    let asia = out.credentials().unwrap().access_key_id().to_owned();
    let out = root.get_access_key_info().access_key_id(&asia).send().await.unwrap();
    assert_eq!(account(out).as_deref(), Some("123456789012"));

    // Another account's key, as AWS encodes account ids in key ids.
    let other = root.get_access_key_info().access_key_id("ASIAY34FZKBOKMUTVV7A").send().await.unwrap();
    assert_eq!(account(other).as_deref(), Some("609629065308"));

    // Not a key id; and a caller without sts:GetAccessKeyInfo.
    let r = root.get_access_key_info().access_key_id("AKIA0000000000000000").send().await;
    assert_eq!(crate::code(r), "InvalidParameterValue");
    let r = olga_sts.get_access_key_info().access_key_id(&asia).send().await;
    assert_eq!(crate::code(r), "AccessDenied");
}

/// GetRole always carries RoleLastUsed, dated once the role's sessions make a request; the
/// listings leave out what AWS's leave out (boundary, tags, last use).
#[tokio::test]
async fn get_role_reports_its_last_use_and_listings_leave_out_what_aws_leaves_out() {
    let server = TestServer::start().await.unwrap();
    let (olga, admin) = setup(&server).await;
    admin.tag_role().role_name("Auditor").tags(tag("team", "audit")).send().await.unwrap();
    admin
        .put_role_permissions_boundary()
        .role_name("Auditor")
        .permissions_boundary("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let fresh = admin.get_role().role_name("Auditor").send().await.unwrap();
    let used = fresh.role().unwrap().role_last_used().expect("RoleLastUsed is always there");
    assert!(used.last_used_date().is_none() && used.region().is_none(), "{used:?}");

    let out = olga
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/Auditor")
        .role_session_name("audit")
        .external_id("shop-42")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let session = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    session.list_users().send().await.unwrap();
    // The last use is written off the durable path; it lands within a group commit.
    let mut dated = None;
    for _ in 0..50 {
        let role = admin.get_role().role_name("Auditor").send().await.unwrap();
        let used = role.role().unwrap().role_last_used().unwrap().clone();
        if used.last_used_date().is_some() {
            dated = Some(used);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let used = dated.expect("the session's request is the role's last use");
    assert_eq!(used.region(), Some("us-east-1"));

    let listed = admin.list_roles().send().await.unwrap();
    let role = listed.roles().iter().find(|r| r.role_name() == "Auditor").unwrap();
    assert!(role.permissions_boundary().is_none() && role.tags().is_empty() && role.role_last_used().is_none());
    admin.create_user().user_name("tagged").tags(tag("team", "audit")).send().await.unwrap();
    let users = admin.list_users().send().await.unwrap();
    let user = users.users().iter().find(|u| u.user_name() == "tagged").unwrap();
    assert!(user.tags().is_empty(), "ListUsers leaves out tags");
    let got = admin.get_user().user_name("tagged").send().await.unwrap();
    assert_eq!(got.user().unwrap().tags().len(), 1, "GetUser has them");
}

fn tag(k: &str, v: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap()
}
