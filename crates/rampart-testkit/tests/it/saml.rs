//! SAML federation end to end: the IAM SAML provider API, and AssumeRoleWithSAML with responses
//! signed by an independent implementation (testdata/saml, made by signxml) — and each way a
//! response can be wrong.

use aws_sdk_sts::error::ProvideErrorMetadata;
use rampart_testkit::TestServer;

use crate::iam::{err, root};
use crate::oidc::anonymous_sts;

const METADATA: &str = include_str!("../../../../testdata/saml/metadata.xml");
const RESPONSE: &str = include_str!("../../../../testdata/saml/response.xml");
const RESPONSE_SIGNED: &str = include_str!("../../../../testdata/saml/response-signed.xml");
const EXPIRED: &str = include_str!("../../../../testdata/saml/expired.xml");
const PROVIDER: &str = "arn:aws:iam::123456789012:saml-provider/CoffeeIdP";
const ROLE: &str = "arn:aws:iam::123456789012:role/Baristas";

fn trust(sub_like: &str) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": {
            "StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"},
            "StringLike": {"saml:sub": sub_like}
        }
    }]})
    .to_string()
}

async fn assume(
    sts: &aws_sdk_sts::Client,
    role: &str,
    provider: &str,
    xml: &str,
) -> Result<aws_sdk_sts::operation::assume_role_with_saml::AssumeRoleWithSamlOutput, (String, String)> {
    sts.assume_role_with_saml()
        .role_arn(role)
        .principal_arn(provider)
        .saml_assertion(data_encoding::BASE64.encode(xml.as_bytes()))
        .send()
        .await
        .map_err(|e| {
            let se = e.into_service_error();
            (se.code().unwrap_or("?").to_owned(), se.message().unwrap_or("").to_owned())
        })
}

#[tokio::test]
async fn saml_providers_are_managed_from_their_metadata() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let made = admin.create_saml_provider().name("CoffeeIdP").saml_metadata_document(METADATA).send().await.unwrap();
    assert_eq!(made.saml_provider_arn(), Some(PROVIDER));
    let (code, _) = err(admin.create_saml_provider().name("CoffeeIdP").saml_metadata_document(METADATA).send().await);
    assert_eq!(code, "EntityAlreadyExists");
    // Shorter than the model's 1,000 characters: a ValidationError; long enough but not metadata:
    // IAM's InvalidInput.
    let (code, _) = err(admin.create_saml_provider().name("Bad").saml_metadata_document("<nope/>").send().await);
    assert_eq!(code, "ValidationError");
    let not_metadata = format!("<nope>{}</nope>", "x".repeat(1000));
    let (code, message) =
        err(admin.create_saml_provider().name("Bad").saml_metadata_document(&not_metadata).send().await);
    assert_eq!(code, "InvalidInput", "{message}");
    let got = admin.get_saml_provider().saml_provider_arn(PROVIDER).send().await.unwrap();
    assert_eq!(got.saml_metadata_document(), Some(METADATA));
    assert!(got.saml_provider_uuid().is_some_and(|u| u.len() == 36));
    let list = admin.list_saml_providers().send().await.unwrap();
    assert_eq!(list.saml_provider_list().len(), 1);
    admin
        .tag_saml_provider()
        .saml_provider_arn(PROVIDER)
        .tags(aws_sdk_iam::types::Tag::builder().key("team").value("it").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = admin.list_saml_provider_tags().saml_provider_arn(PROVIDER).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    let (code, _) = err(admin
        .update_saml_provider()
        .saml_provider_arn(PROVIDER)
        .saml_metadata_document(&not_metadata)
        .send()
        .await);
    assert_eq!(code, "InvalidInput", "bad metadata leaves the provider as it was");
    admin.update_saml_provider().saml_provider_arn(PROVIDER).saml_metadata_document(METADATA).send().await.unwrap();
    admin.delete_saml_provider().saml_provider_arn(PROVIDER).send().await.unwrap();
    let (code, _) = err(admin.get_saml_provider().saml_provider_arn(PROVIDER).send().await);
    assert_eq!(code, "NoSuchEntity");
}

#[tokio::test]
async fn a_signed_saml_response_assumes_the_role_it_names_and_bad_ones_are_refused() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let sts = anonymous_sts(&server);

    // No provider yet.
    let (code, message) = assume(&sts, ROLE, PROVIDER, RESPONSE).await.unwrap_err();
    assert_eq!((code.as_str(), message.as_str()), ("InvalidIdentityToken", "Specified provider doesn't exist"));

    admin.create_saml_provider().name("CoffeeIdP").saml_metadata_document(METADATA).send().await.unwrap();
    admin
        .create_role()
        .role_name("Baristas")
        .assume_role_policy_document(trust("*@coffee.example"))
        .send()
        .await
        .unwrap();
    admin
        .attach_role_policy()
        .role_name("Baristas")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();

    for xml in [RESPONSE, RESPONSE_SIGNED] {
        let out = assume(&sts, ROLE, PROVIDER, xml).await.unwrap();
        assert_eq!(out.subject(), Some("ana@coffee.example"));
        assert_eq!(out.subject_type(), Some("persistent"));
        assert_eq!(out.issuer(), Some("https://idp.coffee.example/saml"));
        assert_eq!(out.audience(), Some("https://signin.aws.amazon.com/saml"));
        // base64(SHA-1(issuer + account id + "/" + provider name)), as AWS documents it.
        let q = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            b"https://idp.coffee.example/saml123456789012/CoffeeIdP",
        );
        assert_eq!(out.name_qualifier(), Some(data_encoding::BASE64.encode(q.as_ref()).as_str()));
        let user = out.assumed_role_user().unwrap();
        assert_eq!(user.arn(), "arn:aws:sts::123456789012:assumed-role/Baristas/ana@coffee.example");
        let c = out.credentials().unwrap();
        let session = crate::iam::iam_with(&server, c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
        assert!(session.list_roles().send().await.is_ok(), "the role's permissions");
        assert_eq!(err(session.create_user().user_name("x").send().await).0, "AccessDenied");
    }

    // Expired.
    assert_eq!(assume(&sts, ROLE, PROVIDER, EXPIRED).await.unwrap_err().0, "ExpiredTokenException");
    // Any change to the signed assertion; the signature removed; an assertion smuggled in.
    let tampered = RESPONSE.replace("ana@coffee.example</saml:NameID>", "boss@coffee.example</saml:NameID>");
    let (code, message) = assume(&sts, ROLE, PROVIDER, &tampered).await.unwrap_err();
    assert_eq!((code.as_str(), message.as_str()), ("InvalidIdentityToken", "Response signature invalid"));
    let start = RESPONSE.find("<ds:Signature").unwrap();
    let end = RESPONSE.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &RESPONSE[..start], &RESPONSE[end..]);
    assert_eq!(assume(&sts, ROLE, PROVIDER, &unsigned).await.unwrap_err().0, "InvalidIdentityToken");
    let evil = unsigned
        .replace("ana@coffee.example</saml:NameID>", "boss@coffee.example</saml:NameID>")
        .replace("_assert1", "_evil");
    let a = evil.find("<saml:Assertion").unwrap();
    let b = evil.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let two = RESPONSE.replace("</samlp:Response>", &format!("{}</samlp:Response>", &evil[a..b]));
    assert_eq!(assume(&sts, ROLE, PROVIDER, &two).await.unwrap_err().0, "InvalidIdentityToken");
    assert_eq!(assume(&sts, ROLE, PROVIDER, "not xml").await.unwrap_err().0, "InvalidIdentityToken");

    // A role the assertion does not pair with this provider.
    admin.create_role().role_name("Managers").assume_role_policy_document(trust("*")).send().await.unwrap();
    let (code, _) = assume(&sts, "arn:aws:iam::123456789012:role/Managers", PROVIDER, RESPONSE).await.unwrap_err();
    assert_eq!(code, "InvalidIdentityToken");

    // The trust policy's conditions decide: only bob may assume it now.
    admin.update_assume_role_policy().role_name("Baristas").policy_document(trust("bob@*")).send().await.unwrap();
    let (code, message) = assume(&sts, ROLE, PROVIDER, RESPONSE).await.unwrap_err();
    assert_eq!(code, "AccessDenied", "{message}");

    // The trail has every call and not the assertion.
    let calls = crate::events_named(&server, "AssumeRoleWithSAML", 10).await;
    assert_eq!(calls.len(), 10, "every call is in the trail");
    assert!(!serde_json::to_string(&calls).unwrap().contains("PHNhbWxw"), "the base64 assertion is redacted");
}
