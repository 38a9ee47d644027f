//! Virtual MFA devices through the official SDK: the seed shown once and sealed at rest, enabling
//! with two consecutive RFC 6238 codes, no replays, resync, and the device's life with its user.

use aws_sdk_iam::types::AssignmentStatusType;
use aws_sdk_sts::error::ProvideErrorMetadata as _;

use crate::iam::{err, root};
use rampart_testkit::TestServer;

/// The current 30-second TOTP step, by this machine's clock (the server's).
fn step_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30
}

/// The device's code for a step, as an authenticator app would show it.
fn code(seed: &[u8], step: u64) -> String {
    rampart_iam::iam::code_for(seed, step * 30)
}

/// Creates a device and returns its serial number and the seed decoded from Base32StringSeed.
async fn device(admin: &aws_sdk_iam::Client, name: &str) -> (String, Vec<u8>, Vec<u8>) {
    let out = admin.create_virtual_mfa_device().virtual_mfa_device_name(name).send().await.unwrap();
    let d = out.virtual_mfa_device().unwrap();
    let base32 = d.base32_string_seed().unwrap().as_ref().to_vec();
    let seed = data_encoding::BASE32_NOPAD.decode(&base32).unwrap();
    let png = d.qr_code_png().unwrap().as_ref().to_vec();
    (d.serial_number().to_owned(), seed, png)
}

/// Creates a device and enables it for `user` with the codes of the steps three and two before now;
/// returns its serial number, seed, and the step that was current.
async fn enabled_device(admin: &aws_sdk_iam::Client, user: &str, name: &str) -> (String, Vec<u8>, u64) {
    let (serial, seed, _) = device(admin, name).await;
    let now = step_now();
    admin
        .enable_mfa_device()
        .user_name(user)
        .serial_number(&serial)
        .authentication_code1(code(&seed, now - 3))
        .authentication_code2(code(&seed, now - 2))
        .send()
        .await
        .unwrap();
    (serial, seed, now)
}

#[tokio::test]
async fn a_virtual_device_is_enabled_by_two_consecutive_codes_and_never_by_a_replay() {
    let mut server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("ana").send().await.unwrap();
    let (serial, seed, png) = device(&admin, "ana-phone").await;
    assert_eq!(serial, "arn:aws:iam::123456789012:mfa/ana-phone");
    assert_eq!(seed.len(), 20, "a 160-bit seed");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "QRCodePNG is a PNG");
    let (code_, message) = err(admin.create_virtual_mfa_device().virtual_mfa_device_name("ANA-PHONE").send().await);
    assert_eq!(code_, "EntityAlreadyExists", "{message}");

    let enable = |c1: String, c2: String| {
        admin
            .enable_mfa_device()
            .user_name("ana")
            .serial_number(&serial)
            .authentication_code1(c1)
            .authentication_code2(c2)
    };
    let now = step_now();
    // Wrong, malformed, or not consecutive: refused as AWS refuses them.
    for (c1, c2) in [
        (code(&seed, now - 1), "000000".to_owned()),
        (code(&seed, now), code(&seed, now - 1)),
        (code(&seed, now - 9), code(&seed, now - 8)),
    ] {
        let (c, m) = err(enable(c1, c2).send().await);
        assert_eq!(
            (c.as_str(), m.as_str()),
            ("InvalidAuthenticationCode", "Authentication code for device is not valid.")
        );
    }
    let (c, m) = err(enable("12345".to_owned(), "abcdef".to_owned()).send().await);
    assert_eq!(c, "ValidationError", "{m}");
    enable(code(&seed, now - 1), code(&seed, now)).send().await.unwrap();

    let listed = admin.list_mfa_devices().user_name("ana").send().await.unwrap();
    assert_eq!(listed.mfa_devices().iter().map(|d| d.serial_number()).collect::<Vec<_>>(), [serial.as_str()]);
    let assigned =
        admin.list_virtual_mfa_devices().assignment_status(AssignmentStatusType::Assigned).send().await.unwrap();
    let d = &assigned.virtual_mfa_devices()[0];
    assert_eq!(d.user().map(|u| u.user_name()), Some("ana"));
    assert!(d.base32_string_seed().is_none(), "the seed is shown once, at creation");
    let unassigned =
        admin.list_virtual_mfa_devices().assignment_status(AssignmentStatusType::Unassigned).send().await.unwrap();
    assert!(unassigned.virtual_mfa_devices().is_empty());

    // The device stays with its user: through a rename, and it blocks deleting either.
    let (c, m) = err(admin.delete_virtual_mfa_device().serial_number(&serial).send().await);
    assert_eq!((c.as_str(), m.as_str()), ("DeleteConflict", "MFA Device is still in use."));
    let (c, m) = err(admin.delete_user().user_name("ana").send().await);
    assert_eq!((c.as_str(), m.as_str()), ("DeleteConflict", "Cannot delete entity, must delete MFA device first."));
    admin.update_user().user_name("ana").new_user_name("anna").send().await.unwrap();
    let listed = admin.list_mfa_devices().user_name("anna").send().await.unwrap();
    assert_eq!(listed.mfa_devices()[0].user_name(), "anna");

    // Deactivated, the same codes cannot enable it again: each step is accepted once.
    admin.deactivate_mfa_device().user_name("anna").serial_number(&serial).send().await.unwrap();
    let again = admin
        .enable_mfa_device()
        .user_name("anna")
        .serial_number(&serial)
        .authentication_code1(code(&seed, now - 1))
        .authentication_code2(code(&seed, now))
        .send()
        .await;
    assert_eq!(err(again).0, "InvalidAuthenticationCode");
    admin.delete_virtual_mfa_device().serial_number(&serial).send().await.unwrap();
    assert_eq!(err(admin.delete_virtual_mfa_device().serial_number(&serial).send().await).0, "NoSuchEntity");
    admin.delete_user().user_name("anna").send().await.unwrap();

    // The seed is in no event, and not in the store in the clear.
    let events = server.audit_events(1).await.unwrap();
    let created = events
        .iter()
        .find(|e| e["eventName"] == "CreateVirtualMFADevice" && e["errorCode"].is_null())
        .expect("audited");
    assert_eq!(created["responseElements"]["virtualMFADevice"]["serialNumber"], serial.as_str());
    // One-time codes are secrets too: a code seen in the trail could be replayed within its step.
    let enabled = events
        .iter()
        .find(|e| e["eventName"] == "EnableMFADevice" && e["errorCode"].is_null())
        .expect("EnableMFADevice is audited");
    assert_eq!(enabled["requestParameters"]["serialNumber"], serial.as_str());
    assert_eq!(enabled["requestParameters"]["authenticationCode1"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    assert_eq!(enabled["requestParameters"]["authenticationCode2"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    let all = serde_json::to_string(&events).unwrap();
    let base32 = data_encoding::BASE32_NOPAD.encode(&seed);
    let base64_of_base32 = data_encoding::BASE64.encode(base32.as_bytes());
    assert!(!all.contains(&base32) && !all.contains(&base64_of_base32), "the seed reached the trail");
    server.stop().await;
    for entry in std::fs::read_dir(server.data_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(!bytes.windows(seed.len()).any(|w| w == seed.as_slice()), "the raw seed is stored in the clear");
        assert!(!bytes.windows(base32.len()).any(|w| w == base32.as_bytes()), "the Base32 seed is stored");
    }
}

#[tokio::test]
async fn resync_takes_two_new_codes_and_tags_and_errors_follow_aws() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("bo").send().await.unwrap();
    let (serial, seed, now) = enabled_device(&admin, "bo", "bo-key").await;
    let resync = |s: u64| {
        admin
            .resync_mfa_device()
            .user_name("bo")
            .serial_number(&serial)
            .authentication_code1(code(&seed, s))
            .authentication_code2(code(&seed, s + 1))
    };
    // A device that drifted is resynchronized with two later codes; those are then spent.
    resync(now - 1).send().await.unwrap();
    assert_eq!(err(resync(now - 1).send().await).0, "InvalidAuthenticationCode");
    assert_eq!(err(resync(now - 3).send().await).0, "InvalidAuthenticationCode", "older than the last accepted");

    let tag = aws_sdk_iam::types::Tag::builder().key("owner").value("bo").build().unwrap();
    admin.tag_mfa_device().serial_number(&serial).tags(tag).send().await.unwrap();
    let tags = admin.list_mfa_device_tags().serial_number(&serial).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("owner", "bo")]);
    admin.untag_mfa_device().serial_number(&serial).tag_keys("owner").send().await.unwrap();
    assert!(admin.list_mfa_device_tags().serial_number(&serial).send().await.unwrap().tags().is_empty());

    let missing = "arn:aws:iam::123456789012:mfa/nope";
    let (c, m) = err(admin.deactivate_mfa_device().user_name("bo").serial_number(missing).send().await);
    assert_eq!(
        (c.as_str(), m.as_str()),
        ("NoSuchEntity", "VirtualMFADevice with serial number arn:aws:iam::123456789012:mfa/nope doesn't exist.")
    );
    let other_account = "arn:aws:iam::999999999999:mfa/bo-key";
    assert_eq!(err(admin.delete_virtual_mfa_device().serial_number(other_account).send().await).0, "NoSuchEntity");
    let (c, _) = err(admin.create_virtual_mfa_device().virtual_mfa_device_name("bad name!").send().await);
    assert_eq!(c, "ValidationError");

    // Managing devices is an IAM permission like any other.
    let k = admin.create_access_key().user_name("bo").send().await.unwrap();
    let k = k.access_key().unwrap();
    let bo = crate::iam::iam(&server, k.access_key_id(), k.secret_access_key());
    let (c, m) = err(bo.create_virtual_mfa_device().virtual_mfa_device_name("mine").send().await);
    assert_eq!(c, "AccessDenied");
    assert!(m.contains("iam:CreateVirtualMFADevice on resource: arn:aws:iam::123456789012:mfa/mine"), "{m}");
    assert_eq!(err(bo.list_mfa_devices().send().await).0, "AccessDenied");
    let self_service = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListMFADevices","Resource":"arn:aws:iam::*:user/${aws:username}"}}"#;
    admin.put_user_policy().user_name("bo").policy_name("mfa").policy_document(self_service).send().await.unwrap();
    let mine = bo.list_mfa_devices().send().await.unwrap();
    assert_eq!(mine.mfa_devices().iter().map(|d| d.serial_number()).collect::<Vec<_>>(), [serial.as_str()]);
}

/// A signed-in user's clients: IAM and STS, with an optional session token.
fn clients(
    server: &TestServer,
    id: &str,
    secret: &str,
    token: Option<&str>,
) -> (aws_sdk_iam::Client, aws_sdk_sts::Client) {
    (crate::iam::iam_with(server, id, secret, token), crate::roles::sts_with(server, id, secret, token))
}

/// The seeds' policy: allow some work, deny everything but MFA self-service unless signed in with MFA.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage-mfa-only.html>.
const MFA_OR_NOTHING: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["iam:ListUsers","sts:AssumeRole"],"Resource":"*"},
  {"Sid":"DenyAllExceptListedIfNoMFA","Effect":"Deny","NotAction":["iam:ListMFADevices","sts:GetSessionToken"],
   "Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#;

const TRUST_WITH_MFA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole",
  "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;

#[tokio::test]
async fn get_session_token_with_a_code_carries_mfa_into_policies_and_role_trust() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("mo").send().await.unwrap();
    admin.put_user_policy().user_name("mo").policy_name("mfa").policy_document(MFA_OR_NOTHING).send().await.unwrap();
    let (serial, seed, now) = enabled_device(&admin, "mo", "mo-phone").await;
    admin.create_role().role_name("Vault").assume_role_policy_document(TRUST_WITH_MFA).send().await.unwrap();
    let with_mfa_only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#;
    admin.put_role_policy().role_name("Vault").policy_name("p").policy_document(with_mfa_only).send().await.unwrap();
    let k = admin.create_access_key().user_name("mo").send().await.unwrap();
    let k = k.access_key().unwrap();
    let (mo_iam, mo_sts) = clients(&server, k.access_key_id(), k.secret_access_key(), None);

    // Long-term keys carry no MFA key: BoolIfExists denies, as AWS documents.
    let (c, m) = err(mo_iam.list_users().send().await);
    assert_eq!(c, "AccessDenied");
    assert!(m.ends_with("with an explicit deny in an identity-based policy"), "{m}");
    let vault = "arn:aws:iam::123456789012:role/Vault";
    let assume = |sts: &aws_sdk_sts::Client| sts.assume_role().role_arn(vault).role_session_name("vault").send();
    assert_eq!(crate::code(assume(&mo_sts).await), "AccessDenied");

    // A session without a code is no better; a wrong code is refused without saying why.
    let plain = mo_sts.get_session_token().send().await.unwrap();
    let pc = plain.credentials().unwrap();
    let (plain_iam, _) = clients(&server, pc.access_key_id(), pc.secret_access_key(), Some(pc.session_token()));
    assert_eq!(err(plain_iam.list_users().send().await).0, "AccessDenied");
    let wrong = mo_sts.get_session_token().serial_number(&serial).token_code(code(&seed, now - 10)).send().await;
    let wrong = wrong.unwrap_err();
    let se = wrong.as_service_error().unwrap();
    assert_eq!(se.code(), Some("AccessDenied"));
    assert_eq!(se.message(), Some("MultiFactorAuthentication failed with invalid MFA one time pass code. "));

    // With a valid code: the caller's own identity and permissions, with MFA present.
    let good = code(&seed, now);
    let s = mo_sts.get_session_token().serial_number(&serial).token_code(&good).send().await.unwrap();
    let sc = s.credentials().unwrap();
    assert!(sc.access_key_id().starts_with("ASIA"));
    let (s_iam, s_sts) = clients(&server, sc.access_key_id(), sc.secret_access_key(), Some(sc.session_token()));
    let me = s_sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::123456789012:user/mo"));
    assert_eq!(s_iam.list_users().send().await.unwrap().users().len(), 1);
    assert_eq!(err(s_iam.create_user().user_name("x").send().await).0, "AccessDenied", "still only mo's policy");
    // The same code cannot be used twice.
    let replay = mo_sts.get_session_token().serial_number(&serial).token_code(&good).send().await;
    assert_eq!(crate::code(replay), "AccessDenied");
    // Session credentials cannot mint more sessions.
    assert_eq!(crate::code(s_sts.get_session_token().send().await), "AccessDenied");

    // The MFA-protected role: its trust policy admits the MFA session, and the role session keeps MFA.
    let r = assume(&s_sts).await.unwrap();
    let rc = r.credentials().unwrap();
    let (r_iam, _) = clients(&server, rc.access_key_id(), rc.secret_access_key(), Some(rc.session_token()));
    assert_eq!(r_iam.list_roles().send().await.unwrap().roles().len(), 1);
}

#[tokio::test]
async fn assume_role_takes_a_code_directly_and_a_refused_request_spends_nothing() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("vi").send().await.unwrap();
    let may = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#;
    admin.put_user_policy().user_name("vi").policy_name("p").policy_document(may).send().await.unwrap();
    let (serial, seed, now) = enabled_device(&admin, "vi", "vi-key").await;
    admin.create_role().role_name("Vault").assume_role_policy_document(TRUST_WITH_MFA).send().await.unwrap();
    let with_mfa_only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#;
    admin.put_role_policy().role_name("Vault").policy_name("p").policy_document(with_mfa_only).send().await.unwrap();
    let nobody = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/someone-else"},"Action":"sts:AssumeRole"}}"#;
    admin.create_user().user_name("someone-else").send().await.unwrap();
    admin.create_role().role_name("Closed").assume_role_policy_document(nobody).send().await.unwrap();
    let k = admin.create_access_key().user_name("vi").send().await.unwrap();
    let k = k.access_key().unwrap();
    let (_, vi) = clients(&server, k.access_key_id(), k.secret_access_key(), None);
    let assume = |role: &str, c: String| {
        vi.assume_role()
            .role_arn(format!("arn:aws:iam::123456789012:role/{role}"))
            .role_session_name("s1")
            .serial_number(&serial)
            .token_code(c)
            .send()
    };

    assert_eq!(crate::code(assume("Vault", code(&seed, now - 8)).await), "AccessDenied", "a stale code");
    // The trust policy refuses: the code is not spent, so it still works where trust allows.
    let good = code(&seed, now);
    assert_eq!(crate::code(assume("Closed", good.clone()).await), "AccessDenied");
    let out = assume("Vault", good.clone()).await.unwrap();
    let c = out.credentials().unwrap();
    let (session, _) = clients(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    assert_eq!(session.list_roles().send().await.unwrap().roles().len(), 2, "the session carries MFA");
    assert_eq!(crate::code(assume("Vault", good).await), "AccessDenied", "a spent code");
    let half = vi.assume_role().role_arn("arn:aws:iam::123456789012:role/Vault").role_session_name("s2");
    assert_eq!(crate::code(half.serial_number(&serial).send().await), "ValidationError");
}

/// GetMFADevice answers for a device assigned to the user, and NoSuchEntity for one that is
/// not; the account summary counts devices, those in use, and root's.
#[tokio::test]
async fn get_mfa_device_and_the_account_summary_see_assigned_devices() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("ana").send().await.unwrap();
    let (serial, _, _) = enabled_device(&admin, "ana", "ana-phone").await;
    let (spare, _, _) = device(&admin, "spare").await;

    let got = admin.get_mfa_device().user_name("ana").serial_number(&serial).send().await.unwrap();
    assert_eq!(got.serial_number(), serial);
    assert_eq!(got.user_name(), Some("ana"));
    assert!(got.enable_date().is_some());
    assert!(got.certifications().is_none(), "virtual devices have no certifications");
    let (c, _) = err(admin.get_mfa_device().user_name("ana").serial_number(&spare).send().await);
    assert_eq!(c, "NoSuchEntity", "an unassigned device is not the user's");
    let (c, _) = err(admin.get_mfa_device().serial_number(&serial).send().await);
    assert_eq!(c, "NoSuchEntity", "without a user name it is the caller's (root's), and root has none");

    let summary = admin.get_account_summary().send().await.unwrap();
    let map = summary.summary_map().unwrap();
    let get = |k: &str| map.get(&aws_sdk_iam::types::SummaryKeyType::from(k)).copied();
    assert_eq!(get("MFADevices"), Some(2));
    assert_eq!(get("MFADevicesInUse"), Some(1));
    assert_eq!(get("AccountMFAEnabled"), Some(0));
    assert_eq!(get("Users"), Some(1));
    // Every key the model defines is there.
    for k in aws_sdk_iam::types::SummaryKeyType::values() {
        assert!(get(k).is_some(), "GetAccountSummary lacks {k}");
    }
    assert_eq!(get("GlobalEndpointTokenVersion"), Some(1));
    admin
        .set_security_token_service_preferences()
        .global_endpoint_token_version(aws_sdk_iam::types::GlobalEndpointTokenVersion::V2Token)
        .send()
        .await
        .unwrap();
    let summary = admin.get_account_summary().send().await.unwrap();
    let v = summary.summary_map().unwrap().get(&aws_sdk_iam::types::SummaryKeyType::GlobalEndpointTokenVersion);
    assert_eq!(v, Some(&2));
}

/// A device is its path and its name: one name may serve at two paths, each enabled, listed,
/// tagged and deleted on its own; a device an older store kept by name alone is still found,
/// and moves to its own key when a device of its name is made at the root path.
#[tokio::test]
async fn devices_are_told_apart_by_path_and_name() {
    let mut server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_user().user_name("ana").send().await.unwrap();
    let made = admin.create_virtual_mfa_device().virtual_mfa_device_name("phone").path("/shop/").send().await.unwrap();
    let shop = made.virtual_mfa_device().unwrap().serial_number().to_owned();
    assert_eq!(shop, "arn:aws:iam::123456789012:mfa/shop/phone");
    let (root_serial, _, _) = device(&admin, "phone").await;
    let again = admin.create_virtual_mfa_device().virtual_mfa_device_name("Phone").path("/shop/").send().await;
    assert_eq!(err(again).0, "EntityAlreadyExists");
    let mut serials: Vec<String> = admin
        .list_virtual_mfa_devices()
        .send()
        .await
        .unwrap()
        .virtual_mfa_devices()
        .iter()
        .map(|d| d.serial_number().to_owned())
        .collect();
    serials.sort();
    assert_eq!(serials, [root_serial.clone(), shop.clone()]);
    // Tags and authorization reach the device at its path.
    admin.tag_mfa_device().serial_number(&shop).tags(tag("team", "shop")).send().await.unwrap();
    let tags = admin.list_mfa_device_tags().serial_number(&root_serial).send().await.unwrap();
    assert!(tags.tags().is_empty(), "the root path's device keeps no tag of the other");
    admin.delete_virtual_mfa_device().serial_number(&root_serial).send().await.unwrap();
    let tags = admin.list_mfa_device_tags().serial_number(&shop).send().await.unwrap();
    assert_eq!(tags.tags()[0].value(), "shop");

    // A device as an older store kept it: under its name alone, though its path is /legacy/.
    server.stop().await;
    {
        let db = server.open_store().unwrap();
        let stored = db.get(b"iam/123456789012/mfa/shop/phone").unwrap().unwrap();
        let mut legacy: serde_json::Value = serde_json::from_slice(&stored).unwrap();
        legacy["name"] = "old".into();
        legacy["path"] = "/legacy/".into();
        db.transact(move |tx| -> Result<(), rampart_store::StoreError> {
            tx.put(b"iam/123456789012/mfa/old", &serde_json::to_vec(&legacy).unwrap())
        })
        .await
        .unwrap();
        db.close();
    }
    server.restart().await.unwrap();
    let admin = root(&server);
    let old = "arn:aws:iam::123456789012:mfa/legacy/old";
    assert!(admin.list_mfa_device_tags().serial_number(old).send().await.is_ok(), "found by its serial");
    let (root_old, _, _) = device(&admin, "old").await;
    assert!(admin.list_mfa_device_tags().serial_number(old).send().await.is_ok(), "moved, not overwritten");
    admin.delete_virtual_mfa_device().serial_number(old).send().await.unwrap();
    admin.delete_virtual_mfa_device().serial_number(&root_old).send().await.unwrap();
    let left = admin.list_virtual_mfa_devices().send().await.unwrap();
    assert_eq!(left.virtual_mfa_devices().len(), 1, "only the shop's phone is left");
}

fn tag(k: &str, v: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap()
}
