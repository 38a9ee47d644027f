//! Console sign-in (`POST /_rampart/signin`): root by email, IAM users by account id or alias,
//! the password, then the MFA code; expired and reset passwords; throttling of failed attempts;
//! and a `ConsoleLogin` event for every attempt.

use rampart_testkit::{ACCOUNT_ID, TestServer};
use serde_json::{Value, json};

use crate::iam::root;

pub(crate) const ANA_PASSWORD: &str = "Coffee-Shop-42!";

fn step_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 30
}

fn code(seed: &[u8], step: u64) -> String {
    rampart_iam::iam::code_for(seed, step * 30)
}

pub(crate) async fn user_with_password(admin: &aws_sdk_iam::Client, name: &str, reset: bool) {
    admin.create_user().user_name(name).send().await.unwrap();
    admin
        .create_login_profile()
        .user_name(name)
        .password(ANA_PASSWORD)
        .password_reset_required(reset)
        .send()
        .await
        .unwrap();
}

/// The identity a console session acts as.
async fn session_arn(server: &TestServer, body: &Value) -> String {
    let s = crate::roles::sts_with(
        server,
        body["accessKeyId"].as_str().unwrap(),
        body["secretAccessKey"].as_str().unwrap(),
        body["sessionToken"].as_str(),
    );
    s.get_caller_identity().send().await.unwrap().arn().unwrap().to_owned()
}

async fn console_logins(server: &TestServer, n: usize) -> Vec<Value> {
    crate::events_named(server, "ConsoleLogin", n).await
}

#[tokio::test]
async fn people_sign_in_with_a_password_then_an_mfa_code_and_get_a_console_session() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);

    // Root, by email (any case).
    let (status, body) = server
        .sign_in(&json!({"email": server.root_email.to_uppercase(), "password": server.root_password}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mfaAuthenticated"], false);
    assert_eq!(session_arn(&server, &body).await, format!("arn:aws:iam::{ACCOUNT_ID}:root"));

    // An IAM user, by account id and by alias; wrong and unknown get the same answer.
    user_with_password(&admin, "ana", false).await;
    admin.create_account_alias().account_alias("coffee-shop").send().await.unwrap();
    let (status, body) =
        server.sign_in(&json!({"account": ACCOUNT_ID, "userName": "ana", "password": ANA_PASSWORD})).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(session_arn(&server, &body).await, format!("arn:aws:iam::{ACCOUNT_ID}:user/ana"));
    let (status, body) =
        server.sign_in(&json!({"account": "coffee-shop", "userName": "ana", "password": ANA_PASSWORD})).await.unwrap();
    assert_eq!(status, 200, "{body}");
    // Calls made with console sessions say so in their events; calls with access keys do not.
    let calls = crate::events_named(&server, "GetCallerIdentity", 2).await;
    assert_eq!(calls.len(), 2);
    for e in &calls {
        assert_eq!(e["sessionCredentialFromConsole"], "true", "{e}");
        assert!(e["userIdentity"]["accessKeyId"].as_str().unwrap().starts_with("ASIA"), "{e}");
    }
    let alias = crate::events_named(&server, "CreateAccountAlias", 1).await;
    assert!(alias[0].get("sessionCredentialFromConsole").is_none(), "{}", alias[0]);
    let (s1, wrong) =
        server.sign_in(&json!({"account": "coffee-shop", "userName": "ana", "password": "nope"})).await.unwrap();
    let (s2, unknown) =
        server.sign_in(&json!({"account": "coffee-shop", "userName": "zed", "password": "nope"})).await.unwrap();
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong, unknown, "an attempt cannot tell a wrong password from an unknown user");
    assert_eq!(wrong["error"], "AuthenticationFailed");
    let (status, _) = server.sign_in(&json!({"user": "ana"})).await.unwrap();
    assert_eq!(status, 400, "a body that is not a sign-in request");

    // With an MFA device enabled, the password alone is not enough.
    let out = admin.create_virtual_mfa_device().virtual_mfa_device_name("ana-phone").send().await.unwrap();
    let d = out.virtual_mfa_device().unwrap();
    let seed = data_encoding::BASE32_NOPAD.decode(d.base32_string_seed().unwrap().as_ref()).unwrap();
    let serial = d.serial_number().to_owned();
    let now = step_now();
    admin
        .enable_mfa_device()
        .user_name("ana")
        .serial_number(&serial)
        .authentication_code1(code(&seed, now - 3))
        .authentication_code2(code(&seed, now - 2))
        .send()
        .await
        .unwrap();
    let ana = json!({"account": ACCOUNT_ID, "userName": "ana", "password": ANA_PASSWORD});
    let (status, body) = server.sign_in(&ana).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (401, Some("MfaRequired")));
    let mut with_code = ana.clone();
    with_code["mfaCode"] = json!("000000");
    let (status, body) = server.sign_in(&with_code).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (401, Some("AuthenticationFailed")));
    with_code["mfaCode"] = json!(code(&seed, step_now()));
    let (status, body) = server.sign_in(&with_code).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mfaAuthenticated"], true);
    // The session carries MFA: a "deny unless MFA" policy lets it through.
    let deny_without_mfa = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"iam:GetUser","Resource":"*"},
      {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#;
    admin.put_user_policy().user_name("ana").policy_name("mfa").policy_document(deny_without_mfa).send().await.unwrap();
    let console = crate::iam::iam_with(
        &server,
        body["accessKeyId"].as_str().unwrap(),
        body["secretAccessKey"].as_str().unwrap(),
        body["sessionToken"].as_str(),
    );
    assert!(console.get_user().send().await.is_ok(), "the MFA console session passes the MFA condition");
    // The same code cannot be used twice.
    let (status, _) = server.sign_in(&with_code).await.unwrap();
    assert_eq!(status, 401, "a spent code is refused");

    // Every attempt is a ConsoleLogin event; no password in the trail.
    let logins = console_logins(&server, 9).await;
    assert_eq!(logins.len(), 9, "nine attempts, nine events");
    let success: Vec<&Value> = logins.iter().filter(|e| e["responseElements"]["ConsoleLogin"] == "Success").collect();
    assert_eq!(success.len(), 4);
    assert!(success.iter().all(|e| e["eventSource"] == "signin.amazonaws.com" && e["eventType"] == "AwsConsoleSignIn"));
    let with_mfa = success.iter().find(|e| e["additionalEventData"]["MFAUsed"] == "Yes").expect("an MFA sign-in");
    assert_eq!(with_mfa["userIdentity"]["userName"], "ana");
    let unknown_event = logins
        .iter()
        .find(|e| e["userIdentity"]["userName"] == "HIDDEN_DUE_TO_SECURITY_REASONS")
        .expect("the unknown user's attempt, its name hidden");
    assert_eq!(unknown_event["errorMessage"], "Failed authentication");
    let trail = serde_json::to_string(&logins).unwrap();
    assert!(!trail.contains(ANA_PASSWORD) && !trail.contains(&server.root_password) && !trail.contains("zed"));
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_person_and_per_address() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    user_with_password(&admin, "ana", false).await;
    user_with_password(&admin, "bob", false).await;
    let attempt = |user: &str, password: &str| json!({"account": ACCOUNT_ID, "userName": user, "password": password});
    for _ in 0..5 {
        assert_eq!(server.sign_in(&attempt("ana", "guess")).await.unwrap().0, 401);
    }
    // ana's right password no longer helps (any spelling of her name), for now.
    let (status, body) = server.sign_in(&attempt("ANA", ANA_PASSWORD)).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (429, Some("Throttling")));
    // bob is another person: he signs in, and that clears nothing of ana's.
    assert_eq!(server.sign_in(&attempt("bob", ANA_PASSWORD)).await.unwrap().0, 200);
    assert_eq!(server.sign_in(&attempt("ana", ANA_PASSWORD)).await.unwrap().0, 429);
    // Spraying guesses across names from one address blocks the address (20 failures).
    for i in 0..15 {
        assert_eq!(server.sign_in(&attempt(&format!("user{i}"), "guess")).await.unwrap().0, 401);
    }
    assert_eq!(server.sign_in(&attempt("bob", ANA_PASSWORD)).await.unwrap().0, 429);
    // 24 attempts, 24 events: bob's one success, 23 failures (refused ones included).
    let logins = console_logins(&server, 24).await;
    assert_eq!(logins.len(), 24);
    assert_eq!(logins.iter().filter(|e| e["responseElements"]["ConsoleLogin"] == "Failure").count(), 23);
}

#[tokio::test]
async fn expired_and_reset_passwords_must_be_replaced_at_sign_in() {
    let mut server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin
        .update_account_password_policy()
        .minimum_password_length(12)
        .require_numbers(true)
        .password_reuse_prevention(2)
        .max_password_age(30)
        .send()
        .await
        .unwrap();
    user_with_password(&admin, "ana", true).await;
    let ana = |password: &str| json!({"account": ACCOUNT_ID, "userName": "ana", "password": password});

    // Marked for reset: sign-in asks for a new password, checked against the policy.
    let (status, body) = server.sign_in(&ana(ANA_PASSWORD)).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (403, Some("PasswordChangeRequired")));
    let mut change = ana(ANA_PASSWORD);
    change["newPassword"] = json!("short1");
    let (status, body) = server.sign_in(&change).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("PasswordPolicyViolation")));
    change["newPassword"] = json!(ANA_PASSWORD);
    let (status, body) = server.sign_in(&change).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("PasswordPolicyViolation")), "reuse is refused");
    change["newPassword"] = json!("Espresso-Beans-7");
    assert_eq!(server.sign_in(&change).await.unwrap().0, 200);
    assert_eq!(server.sign_in(&ana("Espresso-Beans-7")).await.unwrap().0, 200, "no change asked any more");
    assert_eq!(server.sign_in(&ana(ANA_PASSWORD)).await.unwrap().0, 401, "the old password is gone");

    // The password ages past MaxPasswordAge (the record's change date moved back 31 days).
    server.stop().await;
    {
        let db = server.open_store().unwrap();
        let key = format!("iam/{ACCOUNT_ID}/login-profile/ana").into_bytes();
        db.transact(move |tx| -> Result<(), rampart_store::StoreError> {
            let mut profile: Value = serde_json::from_slice(&tx.get(&key)?.unwrap()).unwrap();
            let old = time::OffsetDateTime::now_utc() - time::Duration::days(31);
            profile["changed"] = json!(old.format(&time::format_description::well_known::Rfc3339).unwrap());
            tx.put(&key, &serde_json::to_vec(&profile).unwrap())
        })
        .await
        .unwrap();
    }
    server.restart().await.unwrap();
    let (status, body) = server.sign_in(&ana("Espresso-Beans-7")).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (403, Some("PasswordChangeRequired")), "expired: change it");
    // Under hard expiry, only an administrator can reset it.
    let admin = root(&server);
    admin
        .update_account_password_policy()
        .minimum_password_length(12)
        .require_numbers(true)
        .max_password_age(30)
        .hard_expiry(true)
        .send()
        .await
        .unwrap();
    let mut change = ana("Espresso-Beans-7");
    change["newPassword"] = json!("Latte-Art-Rocks-9");
    let (status, body) = server.sign_in(&change).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (401, Some("PasswordExpired")));
    admin.update_login_profile().user_name("ana").password("Latte-Art-Rocks-9").send().await.unwrap();
    assert_eq!(server.sign_in(&ana("Latte-Art-Rocks-9")).await.unwrap().0, 200);
}

#[tokio::test]
async fn root_assigns_its_mfa_device_at_sign_in_and_then_needs_it() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let out = admin.create_virtual_mfa_device().virtual_mfa_device_name("root-phone").send().await.unwrap();
    let d = out.virtual_mfa_device().unwrap();
    let seed = data_encoding::BASE32_NOPAD.decode(d.base32_string_seed().unwrap().as_ref()).unwrap();
    let serial = d.serial_number().to_owned();
    let root_login = json!({"email": server.root_email, "password": server.root_password});
    let with_device = |c1: String, c2: String| {
        let mut r = root_login.clone();
        r["enableMfa"] = json!({"serialNumber": serial, "authenticationCode1": c1, "authenticationCode2": c2});
        r
    };
    let now = step_now();
    // Codes that are not two consecutive ones: refused as IAM refuses them, device untouched.
    let (status, body) = server.sign_in(&with_device(code(&seed, now), code(&seed, now - 5))).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (403, Some("InvalidAuthenticationCode")), "{body}");
    // A wrong password enables nothing.
    let mut wrong = with_device(code(&seed, now - 2), code(&seed, now - 1));
    wrong["password"] = json!("not-the-password");
    assert_eq!(server.sign_in(&wrong).await.unwrap().0, 401);
    let (status, body) = server.sign_in(&with_device(code(&seed, now - 2), code(&seed, now - 1))).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let listed = admin.list_mfa_devices().send().await.unwrap();
    assert_eq!(listed.mfa_devices().iter().map(|d| d.serial_number()).collect::<Vec<_>>(), [serial.as_str()]);

    // From now on root's sign-in needs the device, and GetSessionToken can prove it.
    let (status, body) = server.sign_in(&root_login).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (401, Some("MfaRequired")));
    let mut with_code = root_login.clone();
    with_code["mfaCode"] = json!(code(&seed, step_now() + 1));
    let (status, body) = server.sign_in(&with_code).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mfaAuthenticated"], true);

    // An IAM user cannot assign a device this way.
    user_with_password(&admin, "ana", false).await;
    let mut user = json!({"account": ACCOUNT_ID, "userName": "ana", "password": ANA_PASSWORD});
    user["enableMfa"] =
        json!({"serialNumber": serial, "authenticationCode1": "123456", "authenticationCode2": "654321"});
    let (status, body) = server.sign_in(&user).await.unwrap();
    assert_eq!((status, body["error"].as_str()), (400, Some("InvalidInput")));

    let enabled = crate::events_named(&server, "EnableMFADevice", 1).await;
    assert_eq!(enabled.len(), 1, "the one that succeeded, committed with the change");
    assert_eq!(enabled[0]["userIdentity"]["type"], "Root");
}

#[tokio::test]
async fn an_operator_resets_a_lost_root_password_beside_the_running_server() {
    let server = TestServer::start().await.unwrap();
    let reset = rampart_server::reset_root_password(&server.config, None).await.unwrap();
    assert_eq!((reset.account_id.as_str(), reset.root_email.as_str()), (ACCOUNT_ID, server.root_email.as_str()));
    assert_ne!(reset.password.as_str(), server.root_password);
    let (status, _) =
        server.sign_in(&json!({"email": server.root_email, "password": server.root_password})).await.unwrap();
    assert_eq!(status, 401, "the old password still signs in");
    let (status, body) =
        server.sign_in(&json!({"email": server.root_email, "password": reset.password.as_str()})).await.unwrap();
    assert_eq!(status, 200, "{body}");
    // Audited as the root's password recovery, with no secret in the record.
    let events = server.audit_events(3).await.unwrap();
    let ev = events.iter().find(|e| e["eventName"] == "PasswordRecoveryCompleted").expect("a recovery event");
    assert_eq!(ev["eventSource"], "signin.amazonaws.com");
    assert_eq!(ev["eventType"], "AwsConsoleSignIn");
    assert_eq!(ev["userIdentity"]["type"], "Root");
    assert_eq!(ev["recipientAccountId"], ACCOUNT_ID);
    assert!(!ev.to_string().contains(reset.password.as_str()));
    // Somewhere that holds no store is refused, and nothing is created there.
    let empty = tempfile::tempdir().unwrap();
    let nowhere =
        rampart_server::Config { data_dir: empty.path().join("nothing"), ..rampart_server::Config::default() };
    let err = match rampart_server::reset_root_password(&nowhere, None).await {
        Ok(_) => panic!("reset a password without a store"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("there is no Rampart store at"), "{err}");
    assert!(!empty.path().join("nothing").exists());
}

#[tokio::test]
async fn an_alias_and_an_account_id_share_one_throttle_and_every_attempt_is_recorded() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    admin.create_account_alias().account_alias("coffee-shop").send().await.unwrap();
    user_with_password(&admin, "ana", false).await;
    let by = |account: &str, password: &str| json!({"account": account, "userName": "ana", "password": password});
    // Five guesses, spread over every way of naming the account.
    for account in ["coffee-shop", "123456789012", "1234-5678-9012", " 1234 5678 9012 ", "COFFEE-SHOP"] {
        assert_eq!(server.sign_in(&by(account, "guess")).await.unwrap().0, 401, "{account}");
    }
    // Ana is the same person however the account is named: throttled under each name.
    for account in ["coffee-shop", "123456789012", "1234-5678-9012"] {
        let (status, body) = server.sign_in(&by(account, ANA_PASSWORD)).await.unwrap();
        assert_eq!((status, body["error"].as_str()), (429, Some("Throttling")), "{account}");
    }
    // Eight attempts, eight events in the account's trail, throttled ones included.
    let logins = console_logins(&server, 8).await;
    assert_eq!(logins.len(), 8, "{logins:#?}");
    assert!(logins.iter().all(|e| e["recipientAccountId"] == ACCOUNT_ID), "{logins:#?}");
    assert!(logins.iter().all(|e| e["responseElements"]["ConsoleLogin"] == "Failure"));
}

/// A sign-in with a password is the person's PasswordLastUsed, in GetUser, ListUsers and the
/// credential report, whose password and MFA columns say what the person has.
#[tokio::test]
async fn a_password_sign_in_is_the_users_password_last_use_in_getuser_and_the_credential_report() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    user_with_password(&admin, "ana", false).await;
    admin.create_user().user_name("bo").send().await.unwrap();
    let before = admin.get_user().user_name("ana").send().await.unwrap();
    assert!(before.user().unwrap().password_last_used().is_none());

    let (status, body) =
        server.sign_in(&json!({"account": ACCOUNT_ID, "userName": "ana", "password": ANA_PASSWORD})).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let after = admin.get_user().user_name("ana").send().await.unwrap();
    assert!(after.user().unwrap().password_last_used().is_some(), "GetUser has the sign-in");
    let listed = admin.list_users().send().await.unwrap();
    let ana = listed.users().iter().find(|u| u.user_name() == "ana").unwrap();
    assert!(ana.password_last_used().is_some(), "ListUsers has it too");

    admin.generate_credential_report().send().await.unwrap();
    let report = admin.get_credential_report().send().await.unwrap();
    let csv = String::from_utf8(report.content().unwrap().as_ref().to_vec()).unwrap();
    let row = |name: &str| -> Vec<String> {
        csv.lines().find(|l| l.starts_with(&format!("{name},"))).unwrap().split(',').map(str::to_owned).collect()
    };
    let ana = row("ana");
    assert_eq!(ana[3], "true", "password_enabled");
    assert!(ana[4].starts_with("20"), "password_last_used is a date: {}", ana[4]);
    assert!(ana[5].starts_with("20"), "password_last_changed is a date: {}", ana[5]);
    assert_eq!(ana[6], "N/A", "no password policy, no rotation");
    assert_eq!(ana[7], "false", "mfa_active");
    let bo = row("bo");
    assert_eq!((bo[3].as_str(), bo[4].as_str(), bo[5].as_str()), ("false", "N/A", "N/A"));
    let root_row = row("<root_account>");
    assert_eq!(root_row[3], "not_supported");
    assert_eq!(root_row[4], "no_information", "root never signed in here");
}
