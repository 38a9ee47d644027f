//! GuardDuty across accounts through aws-sdk-guardduty: the management account designates a
//! delegated administrator, which adds the organization's accounts (and has new ones added by
//! auto-enable), sees and archives their findings, and suppresses them with its own rules, while
//! a member can manage none of that; and the older way, by invitation, accepted, declined and
//! left.

use std::time::{Duration, Instant};

use aws_sdk_guardduty::types::{
    AccountDetail, AutoEnableMembers, Condition, FilterAction, FindingCriteria, OrgFeature, OrgFeatureStatus,
    OrganizationFeatureConfiguration,
};
use rampart_testkit::{ACCOUNT_ID, TestServer};

use crate::guardduty::{client, code, findings, guardduty_with, wait_until};
use crate::organizations::{admin_key, member_account, member_session, orgs};

const POLICY_CHANGE: &str = "Stealth:IAMUser/PasswordPolicyChange";

/// A GuardDuty client and an IAM client acting in `member` through its
/// OrganizationAccountAccessRole.
async fn in_member(
    server: &TestServer,
    key: &(String, String),
    member: &str,
) -> (aws_sdk_guardduty::Client, aws_sdk_iam::Client) {
    let (id, secret, token) = member_session(server, key, member).await;
    (guardduty_with(server, &id, &secret, Some(&token)), crate::iam::iam_with(server, &id, &secret, Some(&token)))
}

/// Weakens the account's password policy: GuardDuty's Stealth:IAMUser/PasswordPolicyChange.
async fn weaken_password_policy(iam: &aws_sdk_iam::Client) {
    iam.update_account_password_policy().minimum_password_length(14).require_symbols(true).send().await.unwrap();
    iam.update_account_password_policy().minimum_password_length(8).send().await.unwrap();
}

/// The account's only detector.
async fn detector_of(gd: &aws_sdk_guardduty::Client) -> String {
    gd.list_detectors().send().await.unwrap().detector_ids().first().cloned().expect("a detector")
}

/// An organization with two member accounts, `security` and `app`, and an administrator's key
/// in the management account to reach them with.
struct Organization {
    org: aws_sdk_organizations::Client,
    key: (String, String),
    security: String,
    app: String,
}

async fn organization(server: &TestServer) -> Organization {
    let org = orgs(server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let key = admin_key(&crate::iam::root(server), "ops").await;
    let security = member_account(&org, "security@example.com", "security").await;
    let app = member_account(&org, "app@example.com", "app").await;
    Organization { org, key, security, app }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delegated_administrator_sees_and_governs_the_organizations_findings() {
    let server = TestServer::start().await.unwrap();
    let Organization { org, key, security, app } = organization(&server).await;
    let management = client(&server);

    // Only the management account designates, and only an account of the organization.
    let (sec_gd, _) = in_member(&server, &key, &security).await;
    assert_eq!(
        code(sec_gd.enable_organization_admin_account().admin_account_id(&security).send().await),
        "BadRequestException"
    );
    assert_eq!(
        code(management.enable_organization_admin_account().admin_account_id("999999999999").send().await),
        "BadRequestException"
    );
    management.enable_organization_admin_account().admin_account_id(&security).send().await.unwrap();
    let admins = management.list_organization_admin_accounts().send().await.unwrap();
    let admins = admins.admin_accounts();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].admin_account_id(), Some(security.as_str()));
    assert_eq!(admins[0].admin_status().map(|s| s.as_str()), Some("ENABLED"));
    // Organizations shows the delegation, with GuardDuty's trusted access.
    let delegated =
        org.list_delegated_administrators().service_principal("guardduty.amazonaws.com").send().await.unwrap();
    assert_eq!(delegated.delegated_administrators()[0].id(), Some(security.as_str()));
    let trusted = org.list_aws_service_access_for_organization().send().await.unwrap();
    assert!(
        trusted.enabled_service_principals().iter().any(|p| p.service_principal() == Some("guardduty.amazonaws.com"))
    );
    // A second administrator waits for the first to go.
    assert_eq!(
        code(management.enable_organization_admin_account().admin_account_id(&app).send().await),
        "BadRequestException"
    );

    // The administrator enables GuardDuty, sets auto-enable for new accounts and adds `app`.
    let sec_detector = sec_gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    assert_eq!(
        code(management.describe_organization_configuration().detector_id("0".repeat(32)).send().await),
        "BadRequestException"
    );
    sec_gd
        .update_organization_configuration()
        .detector_id(&sec_detector)
        .auto_enable_organization_members(AutoEnableMembers::New)
        .features(
            OrganizationFeatureConfiguration::builder()
                .name(OrgFeature::S3DataEvents)
                .auto_enable(OrgFeatureStatus::New)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let config = sec_gd.describe_organization_configuration().detector_id(&sec_detector).send().await.unwrap();
    assert_eq!(config.auto_enable_organization_members(), Some(&AutoEnableMembers::New));
    // The deprecated members older clients (and Terraform) still read agree.
    #[allow(deprecated)]
    let (auto, s3) =
        (config.auto_enable(), config.data_sources().and_then(|d| d.s3_logs()).and_then(|s| s.auto_enable()));
    assert_eq!((auto, s3), (Some(true), Some(true)));
    let s3 = config.features().iter().find(|f| f.name() == Some(&OrgFeature::S3DataEvents)).unwrap();
    assert_eq!(s3.auto_enable(), Some(&OrgFeatureStatus::New));
    let added = sec_gd
        .create_members()
        .detector_id(&sec_detector)
        .account_details(AccountDetail::builder().account_id(&app).email("app@example.com").build())
        .account_details(AccountDetail::builder().account_id(&security).email("security@example.com").build())
        .send()
        .await
        .unwrap();
    // The administrator cannot be its own member.
    let refused: Vec<&str> = added.unprocessed_accounts().iter().filter_map(|u| u.account_id()).collect();
    assert_eq!(refused, [security.as_str()]);
    let (app_gd, app_iam) = in_member(&server, &key, &app).await;
    // GuardDuty is enabled in the member: its detector exists, and its administrator is known.
    let app_detector = detector_of(&app_gd).await;
    let got = app_gd.get_detector().detector_id(&app_detector).send().await.unwrap();
    assert_eq!(got.status().map(|s| s.as_str()), Some("ENABLED"));
    let boss = app_gd.get_administrator_account().detector_id(&app_detector).send().await.unwrap();
    let boss = boss.administrator().unwrap();
    assert_eq!(boss.account_id(), Some(security.as_str()));
    assert_eq!(boss.relationship_status(), Some("Enabled"));
    let members = sec_gd.list_members().detector_id(&sec_detector).send().await.unwrap();
    let members = members.members();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].account_id(), Some(app.as_str()));
    assert_eq!(members[0].relationship_status(), Some("Enabled"));
    assert_eq!(members[0].detector_id(), Some(app_detector.as_str()));
    assert_eq!(members[0].administrator_id(), Some(security.as_str()));
    let member_detectors =
        sec_gd.get_member_detectors().detector_id(&sec_detector).account_ids(&app).send().await.unwrap();
    assert_eq!(member_detectors.member_data_source_configurations()[0].account_id(), Some(app.as_str()));

    // A member's finding: the administrator sees it beside its own, the member sees only its own.
    app_iam.update_account_password_policy().minimum_password_length(14).require_symbols(true).send().await.unwrap();
    app_iam.update_account_password_policy().minimum_password_length(8).send().await.unwrap();
    let seen = wait_until(&sec_gd, &sec_detector, |f| f.iter().any(|f| f.r#type() == Some(POLICY_CHANGE))).await;
    let finding = seen.iter().find(|f| f.r#type() == Some(POLICY_CHANGE)).unwrap();
    assert_eq!(finding.account_id(), Some(app.as_str()));
    assert_eq!(finding.service().unwrap().detector_id(), Some(app_detector.as_str()));
    let own = findings(&app_gd, &app_detector).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].id(), finding.id());
    let id = finding.id().unwrap().to_owned();

    // What the administrator manages for its members, a member cannot.
    assert_eq!(
        code(app_gd.archive_findings().detector_id(&app_detector).finding_ids(&id).send().await),
        "BadRequestException"
    );
    let archive_everything =
        FindingCriteria::builder().criterion("severity", Condition::builder().greater_than_or_equal(1).build()).build();
    assert_eq!(
        code(
            app_gd
                .create_filter()
                .detector_id(&app_detector)
                .name("hide")
                .action(FilterAction::Archive)
                .finding_criteria(archive_everything)
                .send()
                .await
        ),
        "BadRequestException"
    );
    assert_eq!(
        code(
            app_gd
                .create_ip_set()
                .detector_id(&app_detector)
                .name("trusted")
                .format(aws_sdk_guardduty::types::IpSetFormat::Txt)
                .location("s3://bucket/trusted.txt")
                .activate(true)
                .send()
                .await
        ),
        "BadRequestException"
    );
    // A member through the organization does not leave by itself, nor disable GuardDuty.
    assert_eq!(
        code(app_gd.disassociate_from_administrator_account().detector_id(&app_detector).send().await),
        "BadRequestException"
    );
    assert_eq!(code(app_gd.delete_detector().detector_id(&app_detector).send().await), "BadRequestException");
    // The administrator archives it for the member.
    sec_gd.archive_findings().detector_id(&sec_detector).finding_ids(&id).send().await.unwrap();
    let own = findings(&app_gd, &app_detector).await;
    assert_eq!(own[0].service().unwrap().archived(), Some(true));

    // The administrator's suppression rule archives its members' new findings as they are made.
    sec_gd
        .create_filter()
        .detector_id(&sec_detector)
        .name("quiet-policy")
        .action(FilterAction::Archive)
        .finding_criteria(
            FindingCriteria::builder().criterion("type", Condition::builder().equals(POLICY_CHANGE).build()).build(),
        )
        .send()
        .await
        .unwrap();

    // Auto-enable: an account that joins now becomes a member within seconds, with GuardDuty on.
    let late = member_account(&org, "late@example.com", "late").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let members = sec_gd.list_members().detector_id(&sec_detector).send().await.unwrap();
        if members.members().iter().any(|m| m.account_id() == Some(late.as_str())) {
            break;
        }
        assert!(Instant::now() < deadline, "auto-enable never added {late}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (late_gd, late_iam) = in_member(&server, &key, &late).await;
    let late_detector = detector_of(&late_gd).await;
    weaken_password_policy(&late_iam).await;
    let seen = wait_until(&sec_gd, &sec_detector, |f| {
        f.iter().any(|f| f.r#type() == Some(POLICY_CHANGE) && f.account_id() == Some(late.as_str()))
    })
    .await;
    let suppressed =
        seen.iter().find(|f| f.r#type() == Some(POLICY_CHANGE) && f.account_id() == Some(late.as_str())).unwrap();
    assert_eq!(suppressed.service().unwrap().archived(), Some(true), "the administrator's rule archives it");
    assert_eq!(findings(&late_gd, &late_detector).await.len(), 1);
    // The organization as the administrator sees it.
    let stats = sec_gd.get_organization_statistics().send().await.unwrap();
    let stats = stats.organization_details().unwrap().organization_statistics().unwrap();
    assert_eq!(stats.total_accounts_count(), Some(4));
    assert_eq!(stats.member_accounts_count(), Some(2));
    assert_eq!(stats.enabled_accounts_count(), Some(3));
    // Statistics by account cover the members.
    let counted = sec_gd
        .get_findings_statistics()
        .detector_id(&sec_detector)
        .group_by(aws_sdk_guardduty::types::GroupByType::Account)
        .send()
        .await
        .unwrap();
    let accounts: Vec<&str> =
        counted.finding_statistics().unwrap().grouped_by_account().iter().filter_map(|a| a.account_id()).collect();
    assert!(accounts.contains(&app.as_str()) && accounts.contains(&late.as_str()), "{accounts:?}");

    // The administrator's threat list weighs its members' calls.
    let session = member_session(&server, &key, &security).await;
    let sec_s3 = crate::s3::s3_with(&server, &session.0, &session.1, Some(&session.2));
    sec_s3.create_bucket().bucket("security-lists").send().await.unwrap();
    sec_s3
        .put_object()
        .bucket("security-lists")
        .key("bad.txt")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"127.0.0.1\n"))
        .send()
        .await
        .unwrap();
    crate::guardduty::threat_list(&sec_gd, &sec_detector, "bad", "s3://security-lists/bad.txt").await;
    late_iam.list_users().send().await.unwrap();
    wait_until(&sec_gd, &sec_detector, |f| {
        f.iter().any(|f| {
            f.r#type() == Some("Recon:IAMUser/MaliciousIPCaller.Custom") && f.account_id() == Some(late.as_str())
        })
    })
    .await;

    // Disassociated, a member's findings are its own again; it is not taken back by auto-enable.
    let out = sec_gd.disassociate_members().detector_id(&sec_detector).account_ids(&app).send().await.unwrap();
    assert!(out.unprocessed_accounts().is_empty());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let members = sec_gd.list_members().detector_id(&sec_detector).send().await.unwrap();
    assert!(members.members().iter().all(|m| m.account_id() != Some(app.as_str())));
    let all = sec_gd.list_members().detector_id(&sec_detector).only_associated("false").send().await.unwrap();
    let removed = all.members().iter().find(|m| m.account_id() == Some(app.as_str())).unwrap();
    assert_eq!(removed.relationship_status(), Some("Removed"));
    assert!(findings(&sec_gd, &sec_detector).await.iter().all(|f| f.account_id() != Some(app.as_str())));
    let boss = app_gd.get_administrator_account().detector_id(&app_detector).send().await.unwrap();
    assert_eq!(boss.administrator().and_then(|a| a.account_id()), None);
    app_gd.archive_findings().detector_id(&app_detector).finding_ids(&id).send().await.unwrap();

    // An account that leaves the organization stops being its member (within the task's two
    // seconds), as GuardDuty disassociates it in AWS.
    org.remove_account_from_organization().account_id(&late).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let members = sec_gd.list_members().detector_id(&sec_detector).send().await.unwrap();
        if members.members().iter().all(|m| m.account_id() != Some(late.as_str())) {
            break;
        }
        assert!(Instant::now() < deadline, "{late} left the organization and is still a member");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let boss = late_gd.get_administrator_account().detector_id(&late_detector).send().await.unwrap();
    assert_eq!(boss.administrator().and_then(|a| a.account_id()), None);

    // The management account takes the designation away: Organizations forgets it too, and the
    // organization's members are disassociated.
    management.disable_organization_admin_account().admin_account_id(&security).send().await.unwrap();
    assert!(management.list_organization_admin_accounts().send().await.unwrap().admin_accounts().is_empty());
    let delegated =
        org.list_delegated_administrators().service_principal("guardduty.amazonaws.com").send().await.unwrap();
    assert!(delegated.delegated_administrators().is_empty());
    assert_eq!(
        code(sec_gd.describe_organization_configuration().detector_id(&sec_detector).send().await),
        "BadRequestException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deregistering_guardduty_in_organizations_ends_its_administrator() {
    let server = TestServer::start().await.unwrap();
    let Organization { org, key, security, app } = organization(&server).await;
    let management = client(&server);
    management.enable_organization_admin_account().admin_account_id(&security).send().await.unwrap();
    let (sec_gd, _) = in_member(&server, &key, &security).await;
    let sec_detector = sec_gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    sec_gd
        .create_members()
        .detector_id(&sec_detector)
        .account_details(AccountDetail::builder().account_id(&app).email("app@example.com").build())
        .send()
        .await
        .unwrap();
    let (app_gd, _) = in_member(&server, &key, &app).await;
    let app_detector = detector_of(&app_gd).await;
    // Organizations' own deregistration ends GuardDuty's designation, and its members with it.
    org.deregister_delegated_administrator()
        .account_id(&security)
        .service_principal("guardduty.amazonaws.com")
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !management.list_organization_admin_accounts().send().await.unwrap().admin_accounts().is_empty() {
        assert!(Instant::now() < deadline, "GuardDuty still names the deregistered administrator");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let boss = app_gd.get_administrator_account().detector_id(&app_detector).send().await.unwrap();
    assert_eq!(boss.administrator().and_then(|a| a.account_id()), None);
    let all = sec_gd.list_members().detector_id(&sec_detector).only_associated("false").send().await.unwrap();
    assert_eq!(all.members()[0].relationship_status(), Some("Removed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invited_member_accepts_is_seen_and_leaves() {
    let server = TestServer::start_with(|c| c.guardduty_export_secs = 1).await.unwrap();
    let org = orgs(&server, &server.access_key_id, &server.secret_access_key, None);
    org.create_organization().send().await.unwrap();
    let key = admin_key(&crate::iam::root(&server), "ops").await;
    let other = member_account(&org, "other@example.com", "other").await;
    let third = member_account(&org, "third@example.com", "third").await;
    // The management account administers GuardDuty by invitation (it is no delegated
    // administrator): CreateMembers records the accounts, InviteMembers asks them.
    let admin = client(&server);
    let detector = admin.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    let (member_gd, member_iam) = in_member(&server, &key, &other).await;
    let member_detector = member_gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();
    let (third_gd, _) = in_member(&server, &key, &third).await;
    let third_detector = third_gd.create_detector().enable(true).send().await.unwrap().detector_id.unwrap();

    let not_yet = admin.invite_members().detector_id(&detector).account_ids(&other).send().await.unwrap();
    assert_eq!(not_yet.unprocessed_accounts().len(), 1, "an account is created before it is invited");
    let details = |id: &str, email: &str| AccountDetail::builder().account_id(id).email(email).build();
    let created = admin
        .create_members()
        .detector_id(&detector)
        .account_details(details(&other, "other@example.com"))
        .account_details(details(&third, "third@example.com"))
        .account_details(details("12345678901x", "bad@example.com"))
        .send()
        .await
        .unwrap();
    let refused: Vec<&str> = created.unprocessed_accounts().iter().filter_map(|u| u.account_id()).collect();
    assert_eq!(refused, ["12345678901x"]);
    let got = admin.get_members().detector_id(&detector).account_ids(&other).account_ids("111111111111").send().await;
    let got = got.unwrap();
    assert_eq!(got.members()[0].relationship_status(), Some("Created"));
    assert_eq!(got.unprocessed_accounts()[0].account_id(), Some("111111111111"));
    // Not associated yet: ListMembers shows them only when asked for all.
    assert!(admin.list_members().detector_id(&detector).send().await.unwrap().members().is_empty());
    assert_eq!(
        admin.list_members().detector_id(&detector).only_associated("false").send().await.unwrap().members().len(),
        2
    );
    let invited = admin.invite_members().detector_id(&detector).account_ids(&other).account_ids(&third).send().await;
    assert!(invited.unwrap().unprocessed_accounts().is_empty());

    // The member sees the invitation and accepts it with its id.
    assert_eq!(member_gd.get_invitations_count().send().await.unwrap().invitations_count(), Some(1));
    let invitations = member_gd.list_invitations().send().await.unwrap();
    let invitation = &invitations.invitations()[0];
    assert_eq!(invitation.account_id(), Some(ACCOUNT_ID));
    assert_eq!(invitation.relationship_status(), Some("Invited"));
    let invitation_id = invitation.invitation_id().unwrap().to_owned();
    let wrong = member_gd
        .accept_administrator_invitation()
        .detector_id(&member_detector)
        .administrator_id(ACCOUNT_ID)
        .invitation_id("0".repeat(32))
        .send()
        .await;
    assert_eq!(code(wrong), "BadRequestException");
    member_gd
        .accept_administrator_invitation()
        .detector_id(&member_detector)
        .administrator_id(ACCOUNT_ID)
        .invitation_id(&invitation_id)
        .send()
        .await
        .unwrap();
    assert_eq!(member_gd.get_invitations_count().send().await.unwrap().invitations_count(), Some(0));
    // GetMasterAccount, the older name, answers as GetAdministratorAccount does.
    #[allow(deprecated)]
    let boss = member_gd.get_master_account().detector_id(&member_detector).send().await.unwrap();
    assert_eq!(boss.master().unwrap().account_id(), Some(ACCOUNT_ID));
    assert_eq!(boss.master().unwrap().invitation_id(), Some(invitation_id.as_str()));
    // An administrator cannot at once be a member, nor a member have members.
    assert_eq!(
        code(
            member_gd
                .create_members()
                .detector_id(&member_detector)
                .account_details(details(&third, "third@example.com"))
                .send()
                .await
        ),
        "BadRequestException"
    );

    // The third account declines; its administrator sees it resigned.
    let declined = third_gd.decline_invitations().account_ids(ACCOUNT_ID).send().await.unwrap();
    assert!(declined.unprocessed_accounts().is_empty());
    assert_eq!(third_gd.get_invitations_count().send().await.unwrap().invitations_count(), Some(0));
    let again = third_gd.decline_invitations().account_ids(ACCOUNT_ID).send().await.unwrap();
    assert_eq!(again.unprocessed_accounts().len(), 1);
    let got = admin.get_members().detector_id(&detector).account_ids(&third).send().await.unwrap();
    assert_eq!(got.members()[0].relationship_status(), Some("Resigned"));
    assert!(findings(&third_gd, &third_detector).await.is_empty());

    // The member's findings are the administrator's to see (and to export); stopping monitoring
    // stops them.
    export_to_bucket(&server, &admin, &detector).await;
    weaken_password_policy(&member_iam).await;
    let seen = wait_until(&admin, &detector, |f| f.iter().any(|f| f.account_id() == Some(other.as_str()))).await;
    assert_eq!(seen.iter().find(|f| f.account_id() == Some(other.as_str())).unwrap().r#type(), Some(POLICY_CHANGE));
    // The administrator's publishing destination exported its member's finding.
    let exported = exported_lines(&server).await;
    assert!(exported.iter().any(|f| f["accountId"] == other.as_str() && f["type"] == POLICY_CHANGE), "{exported:?}");
    let stopped = admin.stop_monitoring_members().detector_id(&detector).account_ids(&other).send().await.unwrap();
    assert!(stopped.unprocessed_accounts().is_empty());
    let got = member_gd.get_detector().detector_id(&member_detector).send().await.unwrap();
    assert_eq!(got.status().map(|s| s.as_str()), Some("DISABLED"));
    admin.start_monitoring_members().detector_id(&detector).account_ids(&other).send().await.unwrap();
    let got = member_gd.get_detector().detector_id(&member_detector).send().await.unwrap();
    assert_eq!(got.status().map(|s| s.as_str()), Some("ENABLED"));
    // The administrator cannot disable GuardDuty while it has members.
    assert_eq!(code(admin.delete_detector().detector_id(&detector).send().await), "BadRequestException");

    // An invited member may leave.
    member_gd.disassociate_from_administrator_account().detector_id(&member_detector).send().await.unwrap();
    let got = admin.get_members().detector_id(&detector).account_ids(&other).send().await.unwrap();
    assert_eq!(got.members()[0].relationship_status(), Some("Resigned"));
    assert!(findings(&admin, &detector).await.iter().all(|f| f.account_id() != Some(other.as_str())));
    assert_eq!(findings(&member_gd, &member_detector).await.len(), 1);
    let deleted = admin.delete_members().detector_id(&detector).account_ids(&other).account_ids(&third).send().await;
    assert!(deleted.unwrap().unprocessed_accounts().is_empty());
    assert!(
        admin.list_members().detector_id(&detector).only_associated("false").send().await.unwrap().members().is_empty()
    );
    admin.delete_detector().detector_id(&detector).send().await.unwrap();
}

/// A publishing destination for the caller's detector: a bucket and a key whose policies let
/// GuardDuty use them.
async fn export_to_bucket(server: &TestServer, gd: &aws_sdk_guardduty::Client, detector: &str) {
    let s3 = crate::s3::s3(server, &server.access_key_id, &server.secret_access_key);
    let kms = crate::kms::kms(server, &server.access_key_id, &server.secret_access_key, None);
    s3.create_bucket().bucket("gd-org-findings").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"Service":"guardduty.amazonaws.com"},"Action":"s3:GetBucketLocation","Resource":"arn:aws:s3:::gd-org-findings"},
        {"Effect":"Allow","Principal":{"Service":"guardduty.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::gd-org-findings/*"}]}"#;
    s3.put_bucket_policy().bucket("gd-org-findings").policy(policy).send().await.unwrap();
    let key_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"Service":"guardduty.amazonaws.com"}},"Action":"kms:GenerateDataKey","Resource":"*"}}]}}"#
    );
    let key = kms.create_key().policy(key_policy).send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    gd.create_publishing_destination()
        .detector_id(detector)
        .destination_type(aws_sdk_guardduty::types::DestinationType::S3)
        .destination_properties(
            aws_sdk_guardduty::types::DestinationProperties::builder()
                .destination_arn("arn:aws:s3:::gd-org-findings")
                .kms_key_arn(&key)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The findings exported to the bucket so far, once there are some.
async fn exported_lines(server: &TestServer) -> Vec<serde_json::Value> {
    let s3 = crate::s3::s3(server, &server.access_key_id, &server.secret_access_key);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = s3.list_objects_v2().bucket("gd-org-findings").send().await.unwrap();
        let mut lines = Vec::new();
        for o in listed.contents() {
            let got = s3.get_object().bucket("gd-org-findings").key(o.key().unwrap()).send().await.unwrap();
            let gz = got.body.collect().await.unwrap().into_bytes();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
            lines.extend(text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()));
        }
        if !lines.is_empty() {
            return lines;
        }
        assert!(Instant::now() < deadline, "nothing exported");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
