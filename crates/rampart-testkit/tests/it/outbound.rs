//! Outbound web identity federation: an account's issuer, enabled through IAM, whose JWTs (STS
//! GetWebIdentityToken, raw signed requests: the Rust SDK predates the operation) verify against
//! the public discovery document and key set, checked here with aws-lc-rs directly.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use aws_sigv4::http_request::SignatureLocation;
use data_encoding::BASE64URL_NOPAD;
use rampart_testkit::{ACCOUNT_ID, Raw, TestServer, send, sign_request};

use crate::iam::{err, root};

/// GetWebIdentityToken as the holder of a key (and session token), with extra form parameters.
async fn get_token(server: &TestServer, creds: (&str, &str, Option<&str>), params: &str) -> Raw {
    let form = format!("Action=GetWebIdentityToken&Version=2011-06-15&{params}");
    let mut req = server.query_request(&form).unwrap();
    if let Some(token) = creds.2 {
        req.headers_mut().insert("x-amz-security-token", token.parse().unwrap());
    }
    let signed =
        sign_request(req, creds.0, creds.1, "sts", std::time::SystemTime::now(), SignatureLocation::Headers).unwrap();
    send(signed).await.unwrap()
}

fn between<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or_else(|| panic!("no <{tag}> in {xml}"));
    &xml[start..start + xml[start..].find("</").unwrap()]
}

fn json_part(part: &str) -> serde_json::Value {
    serde_json::from_slice(&BASE64URL_NOPAD.decode(part.as_bytes()).unwrap()).unwrap()
}

/// Checks `token`'s signature against the issuer's published keys; returns its header and claims.
async fn verify(server: &TestServer, issuer: &str, token: &str) -> (serde_json::Value, serde_json::Value) {
    let path = issuer.strip_prefix(&server.endpoint).unwrap();
    let get = |p: String| http::Request::get(format!("{}{p}", server.endpoint)).body(Vec::new()).unwrap();
    let config = send(get(format!("{path}/.well-known/openid-configuration"))).await.unwrap();
    assert_eq!(config.status, 200, "{}", config.body);
    let config: serde_json::Value = serde_json::from_str(&config.body).unwrap();
    assert_eq!(config["issuer"], issuer);
    let jwks_path = config["jwks_uri"].as_str().unwrap().strip_prefix(&server.endpoint).unwrap().to_owned();
    let jwks: serde_json::Value = serde_json::from_str(&send(get(jwks_path)).await.unwrap().body).unwrap();

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let (header, claims) = (json_part(parts[0]), json_part(parts[1]));
    let signature = BASE64URL_NOPAD.decode(parts[2].as_bytes()).unwrap();
    let message = format!("{}.{}", parts[0], parts[1]);
    let matching: Vec<&serde_json::Value> =
        jwks["keys"].as_array().unwrap().iter().filter(|k| k["kid"] == header["kid"]).collect();
    assert_eq!(matching.len(), 1, "exactly one published key has the token's kid");
    let key = matching[0];
    let b64 = |v: &serde_json::Value| BASE64URL_NOPAD.decode(v.as_str().unwrap().as_bytes()).unwrap();
    match header["alg"].as_str().unwrap() {
        "RS256" => {
            assert_eq!(key["kty"], "RSA");
            RsaPublicKeyComponents { n: b64(&key["n"]), e: b64(&key["e"]) }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message.as_bytes(), &signature)
                .expect("the RS256 signature verifies");
        }
        "ES384" => {
            assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("EC"), Some("P-384")));
            let point = [vec![4u8], b64(&key["x"]), b64(&key["y"])].concat();
            UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                .verify(message.as_bytes(), &signature)
                .expect("the ES384 signature verifies");
        }
        other => panic!("unexpected algorithm {other}"),
    }
    (header, claims)
}

#[tokio::test]
async fn an_enabled_issuer_signs_tokens_outside_services_can_verify() {
    let server = TestServer::start().await.unwrap();
    let admin = root(&server);
    let root_creds = (server.access_key_id.as_str(), server.secret_access_key.as_str(), None);
    let audience = "Audience.member.1=https%3A%2F%2Fapi.example.com";

    // Off until enabled: IAM says so, and STS refuses tokens.
    assert_eq!(err(admin.get_outbound_web_identity_federation_info().send().await).0, "FeatureDisabled");
    assert_eq!(err(admin.disable_outbound_web_identity_federation().send().await).0, "FeatureDisabled");
    let off = get_token(&server, root_creds, &format!("{audience}&SigningAlgorithm=RS256")).await;
    assert_eq!(off.status, 403, "{}", off.body);
    assert!(off.body.contains("OutboundWebIdentityFederationDisabledException"), "{}", off.body);

    let enabled = admin.enable_outbound_web_identity_federation().send().await.unwrap();
    let issuer = enabled.issuer_identifier().unwrap().to_owned();
    assert!(issuer.starts_with(&format!("{}/_rampart/oidc/", server.endpoint)), "{issuer}");
    assert_eq!(err(admin.enable_outbound_web_identity_federation().send().await).0, "FeatureEnabled");
    let info = admin.get_outbound_web_identity_federation_info().send().await.unwrap();
    assert_eq!((info.issuer_identifier(), info.jwt_vending_enabled()), (Some(issuer.as_str()), true));

    // A user allowed one audience, one algorithm and five minutes, on STS's `self` resource.
    admin.create_user().user_name("worker").send().await.unwrap();
    admin
        .tag_user()
        .user_name("worker")
        .tags(aws_sdk_iam::types::Tag::builder().key("team").value("data").build().unwrap())
        .send()
        .await
        .unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:GetWebIdentityToken","Resource":"arn:aws:sts::{ACCOUNT_ID}:self","Condition":{{"ForAllValues:StringEquals":{{"sts:IdentityTokenAudience":"https://api.example.com"}},"StringEquals":{{"sts:SigningAlgorithm":"ES384"}},"NumericLessThanEquals":{{"sts:DurationSeconds":"300"}}}}}}]}}"#
    );
    admin.put_user_policy().user_name("worker").policy_name("wif").policy_document(&policy).send().await.unwrap();
    let key = admin.create_access_key().user_name("worker").send().await.unwrap();
    let key = key.access_key().unwrap();
    let worker = (key.access_key_id(), key.secret_access_key(), None);

    let denied = [
        format!("{audience}&SigningAlgorithm=RS256"),
        format!("{audience}&SigningAlgorithm=ES384&DurationSeconds=301"),
        "Audience.member.1=https%3A%2F%2Fevil.example&SigningAlgorithm=ES384".to_owned(),
        // Tags need sts:TagGetWebIdentityToken as well.
        format!("{audience}&SigningAlgorithm=ES384&Tags.member.1.Key=job&Tags.member.1.Value=42"),
    ];
    for params in &denied {
        let r = get_token(&server, worker, params).await;
        assert_eq!(r.status, 403, "{params}: {}", r.body);
        assert!(r.body.contains("AccessDenied"), "{params}: {}", r.body);
    }
    let r = get_token(&server, worker, &format!("{audience}&SigningAlgorithm=ES384")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = between(&r.body, "WebIdentityToken");
    let (header, claims) = verify(&server, &issuer, token).await;
    assert_eq!(header["alg"], "ES384");
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["aud"], "https://api.example.com");
    assert_eq!(claims["sub"], format!("arn:aws:iam::{ACCOUNT_ID}:user/worker"));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
    let aws = &claims["https://sts.amazonaws.com/"];
    assert_eq!(aws["aws_account"], ACCOUNT_ID);
    assert_eq!(aws["source_region"], "us-east-1");
    assert_eq!(aws["principal_tags"]["team"], "data");

    // With the tagging permission, tags become claims; two audiences are an array.
    let tagging = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetWebIdentityToken","sts:TagGetWebIdentityToken"],"Resource":"*"}]}"#;
    admin.put_user_policy().user_name("worker").policy_name("wif").policy_document(tagging).send().await.unwrap();
    let params = format!(
        "{audience}&Audience.member.2=urn%3Aother&SigningAlgorithm=RS256&DurationSeconds=3600&Tags.member.1.Key=job&\
         Tags.member.1.Value=42"
    );
    let r = get_token(&server, worker, &params).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (header, claims) = verify(&server, &issuer, between(&r.body, "WebIdentityToken")).await;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["aud"], serde_json::json!(["https://api.example.com", "urn:other"]));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert_eq!(claims["https://sts.amazonaws.com/"]["request_tags"]["job"], "42");

    // Bad input is refused with AWS's codes.
    let r = get_token(&server, worker, &format!("{audience}&SigningAlgorithm=HS256")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("ValidationError"), "{}", r.body);
    let r = get_token(&server, worker, &format!("{audience}&SigningAlgorithm=RS256&DurationSeconds=59")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = get_token(&server, worker, "SigningAlgorithm=RS256").await;
    assert_eq!(r.status, 400, "{}", r.body);

    // A role session's token: the role is the subject, and it never outlives the session.
    admin
        .create_role()
        .role_name("job")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    admin.put_role_policy().role_name("job").policy_name("wif").policy_document(tagging).send().await.unwrap();
    // Root cannot assume roles; a user allowed to can.
    let (ops_id, ops_secret) = crate::iam::user_with_key(&admin, "ops", crate::iam::ASSUME_ANY_ROLE).await;
    let ops = crate::sts_client(&server, &ops_id, &ops_secret);
    let session = ops
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/job"))
        .role_session_name("run-7")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let role_creds = (c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    let r = get_token(&server, role_creds, &format!("{audience}&SigningAlgorithm=ES384&DurationSeconds=3600")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("SessionDurationEscalationException"), "{}", r.body);
    let r = get_token(&server, role_creds, &format!("{audience}&SigningAlgorithm=ES384&DurationSeconds=600")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, claims) = verify(&server, &issuer, between(&r.body, "WebIdentityToken")).await;
    assert_eq!(claims["sub"], format!("arn:aws:iam::{ACCOUNT_ID}:role/job"));

    // Disabled: no more tokens, but the keys stay published for the tokens already out, and
    // enabling again keeps the issuer.
    admin.disable_outbound_web_identity_federation().send().await.unwrap();
    assert_eq!(err(admin.get_outbound_web_identity_federation_info().send().await).0, "FeatureDisabled");
    let r = get_token(&server, worker, &format!("{audience}&SigningAlgorithm=RS256")).await;
    assert!(r.body.contains("OutboundWebIdentityFederationDisabledException"), "{}", r.body);
    verify(&server, &issuer, token).await;
    let again = admin.enable_outbound_web_identity_federation().send().await.unwrap();
    assert_eq!(again.issuer_identifier(), Some(issuer.as_str()));

    // An unknown issuer has no documents.
    let unknown = http::Request::get(format!("{}/_rampart/oidc/nope/.well-known/jwks.json", server.endpoint))
        .body(Vec::new())
        .unwrap();
    assert_eq!(send(unknown).await.unwrap().status, 404);
}
