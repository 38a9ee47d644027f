//! Console passwords through the official SDK: login profiles, the account password policy
//! enforced on every change, reuse prevention, and passwords that appear nowhere but as hashes.

use crate::iam::{err, iam, root};
use rampart_testkit::TestServer;

#[tokio::test]
async fn passwords_follow_the_policy_and_are_stored_only_as_hashes() {
    let mut server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let (c, m) = err(admin.get_account_password_policy().send().await);
    assert_eq!(
        (c.as_str(), m.as_str()),
        ("NoSuchEntity", "The Password Policy with domain name 123456789012 cannot be found.")
    );
    admin.create_user().user_name("lu").send().await.unwrap();

    // Without a policy, AWS's default applies: eight characters of three kinds.
    let (c, _) = err(admin.create_login_profile().user_name("lu").password("weakpass").send().await);
    assert_eq!(c, "PasswordPolicyViolation");
    let first = "Espresso-2026";
    let made = admin
        .create_login_profile()
        .user_name("lu")
        .password(first)
        .password_reset_required(true)
        .send()
        .await
        .unwrap();
    assert!(made.login_profile().unwrap().password_reset_required());
    let (c, m) = err(admin.create_login_profile().user_name("lu").password(first).send().await);
    assert_eq!((c.as_str(), m.as_str()), ("EntityAlreadyExists", "Login Profile for user lu already exists."));
    assert_eq!(
        admin.get_login_profile().user_name("lu").send().await.unwrap().login_profile().unwrap().user_name(),
        "lu"
    );

    admin
        .update_account_password_policy()
        .minimum_password_length(12)
        .require_symbols(true)
        .require_uppercase_characters(true)
        .password_reuse_prevention(2)
        .allow_users_to_change_password(true)
        .send()
        .await
        .unwrap();
    let p = admin.get_account_password_policy().send().await.unwrap();
    let p = p.password_policy().unwrap();
    assert_eq!(
        (p.minimum_password_length(), p.require_symbols(), p.password_reuse_prevention()),
        (Some(12), true, Some(2))
    );
    assert!(!p.require_numbers(), "omitted settings return to their defaults");
    let (c, m) = err(admin.update_login_profile().user_name("lu").password("Short-1").send().await);
    assert_eq!((c.as_str(), m.as_str()), ("PasswordPolicyViolation", "Password should have a minimum length of 12"));

    // The user changes her own password, with no policy of her own: AllowUsersToChangePassword grants
    // it account-wide. The old one must match, the new one must be new.
    let k = admin.create_access_key().user_name("lu").send().await.unwrap();
    let k = k.access_key().unwrap();
    let lu = iam(&server, k.access_key_id(), k.secret_access_key());
    let change = |old: &str, new: &str| lu.change_password().old_password(old).new_password(new).send();
    assert_eq!(err(change("Wrong-Password-1", "Another-Latte-7").await).0, "AccessDenied");
    let (c, m) = err(change(first, first).await);
    assert_eq!(
        (c.as_str(), m.as_str()),
        ("PasswordPolicyViolation", "Password should not be one of your last 2 passwords")
    );
    let second = "Another-Latte-7";
    change(first, second).await.unwrap();
    assert_eq!(err(change(first, "Third-Cappuccino-9").await).0, "AccessDenied", "the old password is gone");
    let got = admin.get_login_profile().user_name("lu").send().await.unwrap();
    assert!(!got.login_profile().unwrap().password_reset_required(), "a change clears the reset flag");
    assert_eq!(
        lu.get_account_password_policy().send().await.unwrap().password_policy().unwrap().minimum_password_length(),
        Some(12)
    );
    assert_eq!(err(lu.list_users().send().await).0, "AccessDenied", "the grant is only about passwords");
    admin.update_account_password_policy().minimum_password_length(12).send().await.unwrap();
    assert_eq!(err(change(second, "Fourth-Flat-White-3").await).0, "AccessDenied", "the grant is withdrawn");
    let (c, _) = err(admin.change_password().old_password(first).new_password(second).send().await);
    assert_eq!(c, "InvalidUserType", "root changes no IAM user's password this way");

    // The profile blocks DeleteUser, and follows a rename.
    let (c, m) = err(admin.delete_user().user_name("lu").send().await);
    assert_eq!(c, "DeleteConflict", "{m}");
    admin.update_user().user_name("lu").new_user_name("lucia").send().await.unwrap();
    admin.get_login_profile().user_name("lucia").send().await.unwrap();
    admin.delete_login_profile().user_name("lucia").send().await.unwrap();
    assert_eq!(err(admin.get_login_profile().user_name("lucia").send().await).0, "NoSuchEntity");
    admin.delete_account_password_policy().send().await.unwrap();
    assert_eq!(err(admin.delete_account_password_policy().send().await).0, "NoSuchEntity");

    // No password in the trail, nor in the store's files.
    let events = server.audit_events(1).await.unwrap();
    let all = serde_json::to_string(&events).unwrap();
    for pw in [first, second, "weakpass", "Wrong-Password-1"] {
        assert!(!all.contains(pw), "a password reached the trail");
    }
    server.stop().await;
    for entry in std::fs::read_dir(server.data_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        for pw in [first, second] {
            assert!(!bytes.windows(pw.len()).any(|w| w == pw.as_bytes()), "a password is stored in the clear");
        }
    }
}

/// IAM looks for the user before its login profile: a missing user is named as such.
#[tokio::test]
async fn login_profile_calls_name_a_missing_user_before_a_missing_profile() {
    let server = rampart_testkit::TestServer::start().await.unwrap();
    let admin = crate::iam::root(&server);
    let no_user = ("NoSuchEntity".to_owned(), "The user with name nobody cannot be found.".to_owned());
    assert_eq!(crate::iam::err(admin.get_login_profile().user_name("nobody").send().await), no_user);
    assert_eq!(crate::iam::err(admin.delete_login_profile().user_name("nobody").send().await), no_user);
    let update = admin.update_login_profile().user_name("nobody").password("Abcdefgh1!xyz").send().await;
    assert_eq!(crate::iam::err(update), no_user);
    admin.create_user().user_name("bob").send().await.unwrap();
    let (code, message) = crate::iam::err(admin.get_login_profile().user_name("bob").send().await);
    assert_eq!((code.as_str(), message.as_str()), ("NoSuchEntity", "Login Profile for User bob cannot be found."));
}
