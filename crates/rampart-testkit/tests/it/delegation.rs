//! IAM temporary delegation end to end: the operator onboards a partner's template, the partner
//! (another account) asks for access, the customer's people associate, forward, accept and send,
//! and the partner trades the token from its topic's notifications for credentials that act as
//! the approver, bounded by the accepted policy.

use aws_sdk_iam::types::{DelegationPermission, PolicyParameter, PolicyParameterTypeEnum};
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use rampart_testkit::{ACCOUNT_ID, TestServer};

use crate::iam::{err, iam, iam_with, root};
use crate::organizations::{admin_key, member_account, member_session, orgs};

const TEMPLATE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::@{bucketNames}/*"},
    {"@Enabled": "ENABLE_WRITE", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::@{bucketNames}/*"}
  ]
}"#;

fn sts_with(server: &TestServer, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new(id, secret, token.map(str::to_owned), None, "test"))
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

fn param(name: &str, kind: PolicyParameterTypeEnum, values: &[&str]) -> PolicyParameter {
    let mut p = PolicyParameter::builder().name(name).r#type(kind);
    for v in values {
        p = p.values(*v);
    }
    p.build()
}

/// A user of the customer's account with an inline policy: its IAM client.
async fn person(server: &TestServer, admin: &aws_sdk_iam::Client, name: &str, policy: &str) -> aws_sdk_iam::Client {
    let (id, secret) = crate::iam::user_with_key(admin, name, policy).await;
    iam(server, &id, &secret)
}

struct Partner {
    account: String,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    template: String,
    topic: String,
}

/// An organization member account as the partner, onboarded with [`TEMPLATE`].
async fn partner(server: &TestServer) -> Partner {
    let admin = root(server);
    let key = admin_key(&admin, "org-admin").await;
    let org = orgs(server, &key.0, &key.1, None);
    org.create_organization().send().await.unwrap();
    let account = member_account(&org, "partner@example.com", "Acme").await;
    let registered = rampart_server::register_delegation_template(
        &server.config,
        rampart_server::TemplateRegistration {
            partner_account: account.clone(),
            partner_name: "Acme".to_owned(),
            domain: "acme.example".to_owned(),
            name: "AcmeReader_2026_12_04".to_owned(),
            document: TEMPLATE.to_owned(),
            boundary: None,
        },
    )
    .await
    .unwrap();
    let (id, secret, token) = member_session(server, &key, &account).await;
    Partner {
        iam: iam_with(server, &id, &secret, Some(&token)),
        sts: sts_with(server, &id, &secret, Some(&token)),
        topic: format!("arn:aws:sns:us-east-1:{account}:acme-delegation"),
        account,
        template: registered.template_arn,
    }
}

async fn ask(p: &Partner, workflow: &str, write: bool, duration: i32, only_owner: bool) -> String {
    let permissions = DelegationPermission::builder()
        .policy_template_arn(&p.template)
        .parameters(param("bucketNames", PolicyParameterTypeEnum::StringList, &["data", "more-data"]))
        .parameters(param("ENABLE_WRITE", PolicyParameterTypeEnum::String, &[if write { "True" } else { "False" }]))
        .build();
    p.iam
        .create_delegation_request()
        .owner_account_id(ACCOUNT_ID)
        .description("Acme reads your exported reports")
        .permissions(permissions)
        .requestor_workflow_id(workflow)
        .notification_channel(&p.topic)
        .session_duration(duration)
        .only_send_by_owner(only_owner)
        .send()
        .await
        .unwrap()
        .delegation_request_id()
        .unwrap()
        .to_owned()
}

async fn messages(server: &TestServer, topic: &str) -> Vec<rampart_iam::iam::Notification> {
    let sealer = rampart_server::open_sealer(&server.data_dir(), None).unwrap();
    rampart_server::take_delegation_messages(&server.config, sealer, topic.to_owned()).await.unwrap()
}

const ASSOCIATE_ONLY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:AssociateDelegationRequest","Resource":"*"}}"#;
const APPROVER: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["s3:*","iam:*"],"Resource":"*"}]}"#;

#[tokio::test]
async fn a_partner_gets_the_approvers_access_bounded_by_the_accepted_policy() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let p = partner(&server).await;
    // Data in the customer's account: two buckets the request names, one it does not.
    let owner = crate::s3::s3(&server, &server.access_key_id, &server.secret_access_key);
    for b in ["data", "more-data", "private"] {
        owner.create_bucket().bucket(b).send().await.unwrap();
        owner.put_object().bucket(b).key("report.csv").body(b"a,b".to_vec().into()).send().await.unwrap();
    }

    // Only the partner's account may use its template.
    let stranger = admin
        .create_delegation_request()
        .description("x")
        .permissions(DelegationPermission::builder().policy_template_arn(&p.template).build())
        .requestor_workflow_id("w-stranger")
        .notification_channel(&p.topic)
        .session_duration(900)
        .send()
        .await;
    assert_eq!(err(stranger).0, "InvalidInput");
    let id = ask(&p, "workflow-1", false, 3600, true).await;
    // One open request per workflow.
    let permissions = DelegationPermission::builder().policy_template_arn(&p.template).build();
    let again = p
        .iam
        .create_delegation_request()
        .description("again")
        .permissions(permissions)
        .requestor_workflow_id("workflow-1")
        .notification_channel(&p.topic)
        .session_duration(900)
        .send()
        .await;
    assert_eq!(err(again).0, "EntityAlreadyExists");

    // Bob may only associate: he becomes the owner, and manages the request without permissions.
    let bob = person(&server, &admin, "bob", ASSOCIATE_ONLY).await;
    let alice = person(&server, &admin, "alice", APPROVER).await;
    bob.associate_delegation_request().delegation_request_id(&id).send().await.unwrap();
    let got =
        bob.get_delegation_request().delegation_request_id(&id).delegation_permission_check(true).send().await.unwrap();
    let r = got.delegation_request().unwrap();
    assert_eq!(r.state().map(|s| s.as_str()), Some("ASSIGNED"));
    assert_eq!(r.owner_id(), Some(format!("arn:aws:iam::{ACCOUNT_ID}:user/bob").as_str()));
    assert_eq!(r.requestor_id(), Some(p.account.as_str()));
    assert_eq!(r.requestor_name(), Some("Acme"));
    // The rendered policy: the list expanded, the write statement left out.
    let policy: serde_json::Value = serde_json::from_str(r.permission_policy().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"],
        serde_json::json!([{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::data/*","arn:aws:s3:::more-data/*"]}])
    );
    assert_eq!(got.permission_check_result().map(|s| s.as_str()), Some("DENIED"), "bob cannot read the buckets");
    bob.update_delegation_request().delegation_request_id(&id).notes("please approve").send().await.unwrap();
    assert_eq!(err(bob.accept_delegation_request().delegation_request_id(&id).send().await).0, "AccessDenied");
    // Someone else's request is none of Bob's business without permissions.
    let carol = person(&server, &admin, "carol", ASSOCIATE_ONLY).await;
    assert_eq!(err(carol.get_delegation_request().delegation_request_id(&id).send().await).0, "AccessDenied");

    // Alice holds what it asks; she accepts. Only Bob, the owner, may then send the token.
    let got = alice
        .get_delegation_request()
        .delegation_request_id(&id)
        .delegation_permission_check(true)
        .send()
        .await
        .unwrap();
    assert_eq!(got.delegation_request().unwrap().state().map(|s| s.as_str()), Some("PENDING_APPROVAL"));
    assert_eq!(got.delegation_request().unwrap().notes(), Some("please approve"));
    assert_eq!(got.permission_check_result().map(|s| s.as_str()), Some("ALLOWED"));
    alice.accept_delegation_request().delegation_request_id(&id).send().await.unwrap();
    assert_eq!(err(alice.send_delegation_token().delegation_request_id(&id).send().await).0, "InvalidInput");
    bob.send_delegation_token().delegation_request_id(&id).send().await.unwrap();
    let r = alice.get_delegation_request().delegation_request_id(&id).send().await.unwrap();
    let r = r.delegation_request().unwrap();
    assert_eq!(r.state().map(|s| s.as_str()), Some("FINALIZED"));
    assert_eq!(r.approver_id(), Some(format!("arn:aws:iam::{ACCOUNT_ID}:user/alice").as_str()));
    assert_eq!(err(alice.reject_delegation_request().delegation_request_id(&id).send().await).0, "InvalidInput");

    // The partner's topic heard each step; the last carries the token, once.
    let heard = messages(&server, &p.topic).await;
    let states: Vec<&str> = heard.iter().map(|m| m.state.as_str()).collect();
    assert_eq!(states, ["ASSIGNED", "PENDING_APPROVAL", "ACCEPTED", "FINALIZED"]);
    assert!(heard[..3].iter().all(|m| m.exchange_token.is_none()));
    let token = heard[3].exchange_token.clone().unwrap();
    assert!(messages(&server, &p.topic).await.is_empty(), "each message is handed out once");

    // Nobody but the partner can trade it.
    let customer_sts = crate::root_sts(&server);
    let stolen = customer_sts.get_delegated_access_token().trade_in_token(&token).send().await;
    assert_eq!(crate::code(stolen), "InvalidParameterValue");
    let traded = p.sts.get_delegated_access_token().trade_in_token(&token).send().await.unwrap();
    assert_eq!(traded.assumed_principal(), Some(format!("arn:aws:iam::{ACCOUNT_ID}:user/alice").as_str()));
    let c = traded.credentials().unwrap();
    let expires = c.expiration().secs();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((3500..=3600).contains(&(expires - now)), "the delegation period is the requested hour");
    let as_alice = crate::s3::s3_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let me = sts_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let who = me.get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some(format!("arn:aws:iam::{ACCOUNT_ID}:user/alice").as_str()));
    // What both Alice and the policy allow works; what only Alice may do does not.
    as_alice.get_object().bucket("data").key("report.csv").send().await.unwrap();
    as_alice.get_object().bucket("more-data").key("report.csv").send().await.unwrap();
    let private = as_alice.get_object().bucket("private").key("report.csv").send().await;
    assert_eq!(private.unwrap_err().into_service_error().meta().code(), Some("AccessDenied"));
    let write = as_alice.put_object().bucket("data").key("new.csv").body(b"x".to_vec().into()).send().await;
    assert_eq!(write.unwrap_err().into_service_error().meta().code(), Some("AccessDenied"));
    let as_alice_iam = iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(err(as_alice_iam.list_users().send().await).0, "AccessDenied");
    // And Alice's own permissions still bound the session: without them it reads nothing.
    admin.delete_user_policy().user_name("alice").policy_name("inline").send().await.unwrap();
    let gone = as_alice.get_object().bucket("data").key("report.csv").send().await;
    assert_eq!(gone.unwrap_err().into_service_error().meta().code(), Some("AccessDenied"));

    // The events name the approver, from the partner's session.
    let events = crate::events_named(&server, "GetDelegatedAccessToken", 1).await;
    assert_eq!(events[0]["userIdentity"]["accountId"], p.account.as_str());
}

#[tokio::test]
async fn requests_are_rejected_listed_summarized_and_root_approves_only_short_ones() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let p = partner(&server).await;
    let long = ask(&p, "long-workflow", true, 6 * 3600, false).await;
    let short = ask(&p, "short-workflow", true, 900, false).await;
    let alice = person(&server, &admin, "alice", APPROVER).await;
    for id in [&long, &short] {
        alice.associate_delegation_request().delegation_request_id(id).send().await.unwrap();
    }
    // The root user may approve four hours at most.
    let (code, message) = err(admin.accept_delegation_request().delegation_request_id(&long).send().await);
    assert_eq!(code, "InvalidInput");
    assert!(message.contains("4 hours"), "{message}");
    alice.reject_delegation_request().delegation_request_id(&long).notes("too long").send().await.unwrap();
    assert_eq!(err(alice.accept_delegation_request().delegation_request_id(&long).send().await).0, "InvalidInput");
    admin.accept_delegation_request().delegation_request_id(&short).send().await.unwrap();

    let listed = alice.list_delegation_requests().send().await.unwrap();
    let states: Vec<(String, String)> = listed
        .delegation_requests()
        .iter()
        .map(|r| (r.delegation_request_id().unwrap().to_owned(), r.state().unwrap().as_str().to_owned()))
        .collect();
    assert_eq!(states, [(long.clone(), "REJECTED".to_owned()), (short.clone(), "ACCEPTED".to_owned())]);
    let rejected = &listed.delegation_requests()[0];
    assert_eq!(rejected.rejection_reason(), Some("too long"));
    let mine =
        alice.list_delegation_requests().owner_id(format!("arn:aws:iam::{ACCOUNT_ID}:root")).send().await.unwrap();
    assert!(mine.delegation_requests().is_empty(), "alice associated both");
    let paged = alice.list_delegation_requests().max_items(1).send().await.unwrap();
    assert_eq!(paged.delegation_requests().len(), 1);
    assert!(paged.is_truncated());

    // The summary says who asks, for how long, and what.
    let arn = format!("arn:aws:iam::{ACCOUNT_ID}:delegation-request/{short}");
    let s = alice.get_human_readable_summary().entity_arn(&arn).send().await.unwrap();
    assert_eq!(s.summary_state().map(|s| s.as_str()), Some("AVAILABLE"));
    let text = s.summary_content().unwrap();
    assert!(text.contains("Acme") && text.contains("15 minute(s)"), "{text}");
    assert!(text.contains("s3:PutObject") && text.contains("arn:aws:s3:::more-data/*"), "{text}");
    let other = alice.get_human_readable_summary().entity_arn(&arn).locale("fr-FR").send().await.unwrap();
    assert_eq!(other.summary_state().map(|s| s.as_str()), Some("NOT_SUPPORTED"));
    let bad =
        alice.get_human_readable_summary().entity_arn(format!("arn:aws:iam::{ACCOUNT_ID}:user/alice")).send().await;
    assert_eq!(err(bad).0, "InvalidInput");
    let missing = alice.get_delegation_request().delegation_request_id("0000000000000000").send().await;
    assert_eq!(err(missing).0, "NoSuchEntity");

    // A request for one account is another account's business only to its partner.
    let bad_params = DelegationPermission::builder()
        .policy_template_arn(&p.template)
        .parameters(param("bucketNames", PolicyParameterTypeEnum::String, &["a", "b"]))
        .parameters(param("ENABLE_WRITE", PolicyParameterTypeEnum::String, &["True"]))
        .build();
    let refused = p
        .iam
        .create_delegation_request()
        .description("two values for a string")
        .permissions(bad_params)
        .requestor_workflow_id("bad-params")
        .notification_channel(&p.topic)
        .session_duration(900)
        .send()
        .await;
    assert_eq!(err(refused).0, "InvalidInput");
    let not_sns = p
        .iam
        .create_delegation_request()
        .description("x")
        .permissions(DelegationPermission::builder().policy_template_arn(&p.template).build())
        .requestor_workflow_id("bad-topic")
        .notification_channel("my-queue")
        .session_duration(900)
        .send()
        .await;
    assert_eq!(err(not_sns).0, "InvalidInput");
}

/// A partner's registered boundary is a managed policy every account can name, and none can
/// change; and no account reaches another's managed policies by their ARN.
#[tokio::test]
async fn a_partners_boundary_is_namable_by_all_and_changeable_by_none_and_policies_stay_in_their_account() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let p = partner(&server).await;
    let boundary = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
    let registered = rampart_server::register_delegation_template(
        &server.config,
        rampart_server::TemplateRegistration {
            partner_account: p.account.clone(),
            partner_name: "Acme".to_owned(),
            domain: "acme.example".to_owned(),
            name: "AcmeRoles_2026_12_04".to_owned(),
            document: TEMPLATE.to_owned(),
            boundary: Some(("AcmeBoundary_2026_12_04".to_owned(), boundary.to_owned())),
        },
    )
    .await
    .unwrap();
    let boundary_arn = registered.boundary_arn.unwrap();
    assert_eq!(boundary_arn, "arn:aws:iam::partner:policy/permission_boundary/acme.example/AcmeBoundary_2026_12_04");
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}"#;
    admin.create_role().role_name("acme-reader").assume_role_policy_document(trust).send().await.unwrap();
    admin
        .put_role_permissions_boundary()
        .role_name("acme-reader")
        .permissions_boundary(&boundary_arn)
        .send()
        .await
        .unwrap();
    let changed = admin.create_policy_version().policy_arn(&boundary_arn).policy_document(boundary).send().await;
    assert_eq!(err(changed).0, "NoSuchEntity");
    assert_eq!(err(admin.delete_policy().policy_arn(&boundary_arn).send().await).0, "NoSuchEntity");

    // The partner's own policy: its account's, out of the customer's reach.
    let made = p.iam.create_policy().policy_name("mine").policy_document(boundary).send().await.unwrap();
    let theirs = made.policy().unwrap().arn().unwrap().to_owned();
    admin.create_user().user_name("ann").send().await.unwrap();
    assert_eq!(err(admin.attach_user_policy().user_name("ann").policy_arn(&theirs).send().await).0, "NoSuchEntity");
    assert_eq!(err(admin.delete_policy().policy_arn(&theirs).send().await).0, "NoSuchEntity");
    let versioned = admin.create_policy_version().policy_arn(&theirs).policy_document(boundary).send().await;
    assert_eq!(err(versioned).0, "NoSuchEntity");
    let boundary_of = admin.put_user_permissions_boundary().user_name("ann").permissions_boundary(&theirs).send().await;
    assert_eq!(err(boundary_of).0, "NoSuchEntity");
    assert_eq!(err(admin.get_policy().policy_arn(&theirs).send().await).0, "NoSuchEntity");
    let read = admin.get_policy_version().policy_arn(&theirs).version_id("v1").send().await;
    assert_eq!(err(read).0, "NoSuchEntity");
    assert_eq!(err(admin.list_entities_for_policy().policy_arn(&theirs).send().await).0, "NoSuchEntity");
    // The boundary is readable by all, as AWS's managed policies are.
    admin.get_policy().policy_arn(&boundary_arn).send().await.unwrap();
    // Still whole for its owner.
    p.iam.get_policy().policy_arn(&theirs).send().await.unwrap();
    p.iam.delete_policy().policy_arn(&theirs).send().await.unwrap();
}
