//! KMS through aws-sdk-kms: keys with real cryptography, bound to their encryption context,
//! governed by key policies; signatures and public keys checked by an independent implementation
//! (Python's `cryptography`).

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec, KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, MessageType,
    SigningAlgorithmSpec,
};
use rampart_testkit::{ACCOUNT_ID, TestServer};

use crate::iam::root;

pub(crate) fn kms(server: &TestServer, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(id, secret, token.map(str::to_owned), None, "test"))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

fn code<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_kms::error::SdkError<E, R>>) -> String {
    match r {
        Ok(_) => "OK".to_owned(),
        Err(e) => e.as_service_error().and_then(|s| s.code()).unwrap_or("NotAServiceError").to_owned(),
    }
}

fn message<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_kms::error::SdkError<E, R>>) -> String {
    r.err().and_then(|e| e.as_service_error().and_then(|s| s.message()).map(str::to_owned)).unwrap_or_default()
}

async fn symmetric(k: &aws_sdk_kms::Client) -> String {
    let made = k.create_key().description("test").send().await.unwrap();
    made.key_metadata().unwrap().key_id().to_owned()
}

/// A user of the account with `policy` as its only permissions: its key id and secret.
async fn user_key(server: &TestServer, name: &str, policy: &str) -> (String, String) {
    let admin = root(server);
    admin.create_user().user_name(name).send().await.unwrap();
    admin.put_user_policy().user_name(name).policy_name("p").policy_document(policy).send().await.unwrap();
    let key = admin.create_access_key().user_name(name).send().await.unwrap();
    let key = key.access_key().unwrap();
    (key.access_key_id().to_owned(), key.secret_access_key().to_owned())
}

#[tokio::test]
async fn ciphertexts_are_bound_to_their_key_and_context_and_keys_have_a_lifecycle() {
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let made = k.create_key().description("orders").send().await.unwrap();
    let meta = made.key_metadata().unwrap();
    let id = meta.key_id().to_owned();
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{id}");
    assert_eq!(meta.arn(), Some(arn.as_str()));
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert_eq!(meta.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(meta.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(meta.encryption_algorithms(), [EncryptionAlgorithmSpec::SymmetricDefault]);
    let policy = k.get_key_policy().key_id(&id).policy_name("default").send().await.unwrap();
    assert!(policy.policy().unwrap().contains(&format!("arn:aws:iam::{ACCOUNT_ID}:root")));

    // Encrypt and decrypt, the context bound: another context, another key or a changed byte fails.
    let encrypted = k
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("attack at dawn"))
        .encryption_context("order", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(encrypted.key_id(), Some(arn.as_str()));
    let blob = encrypted.ciphertext_blob().unwrap().as_ref().to_vec();
    assert!(!blob.windows(14).any(|w| w == b"attack at dawn"), "the ciphertext hides the plaintext");
    let decrypted =
        k.decrypt().ciphertext_blob(Blob::new(blob.clone())).encryption_context("order", "42").send().await.unwrap();
    assert_eq!(decrypted.plaintext().unwrap().as_ref(), b"attack at dawn");
    assert_eq!(decrypted.key_id(), Some(arn.as_str()));
    let wrong = k.decrypt().ciphertext_blob(Blob::new(blob.clone())).encryption_context("order", "43").send().await;
    assert_eq!(code(wrong), "InvalidCiphertextException");
    assert_eq!(code(k.decrypt().ciphertext_blob(Blob::new(blob.clone())).send().await), "InvalidCiphertextException");
    let mut changed = blob.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    let tampered = k.decrypt().ciphertext_blob(Blob::new(changed)).encryption_context("order", "42").send().await;
    assert_eq!(code(tampered), "InvalidCiphertextException");
    let other = symmetric(&k).await;
    let named_other =
        k.decrypt().ciphertext_blob(Blob::new(blob.clone())).key_id(&other).encryption_context("order", "42").send();
    assert_eq!(code(named_other.await), "IncorrectKeyException");
    assert_eq!(
        code(k.decrypt().ciphertext_blob(Blob::new(b"not ours".to_vec())).send().await),
        "InvalidCiphertextException"
    );

    // Envelope encryption: a data key, its encrypted copy decrypting to the same bytes.
    let data = k.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.unwrap();
    let plain = data.plaintext().unwrap().as_ref().to_vec();
    assert_eq!(plain.len(), 32);
    let again = k.decrypt().ciphertext_blob(data.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(again.plaintext().unwrap().as_ref(), plain.as_slice());
    let sealed_only = k.generate_data_key_without_plaintext().key_id(&id).number_of_bytes(64).send().await.unwrap();
    let opened = k.decrypt().ciphertext_blob(sealed_only.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref().len(), 64);
    let both = k.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).number_of_bytes(32).send().await;
    assert_eq!(code(both), "ValidationException");

    // ReEncrypt moves a ciphertext to another key (and context) without showing the plaintext.
    let moved = k
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .source_encryption_context("order", "42")
        .destination_key_id(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.source_key_id(), Some(arn.as_str()));
    let back = k.decrypt().ciphertext_blob(moved.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(back.plaintext().unwrap().as_ref(), b"attack at dawn");

    // Aliases name keys; `alias/aws/` is AWS's.
    k.create_alias().alias_name("alias/orders").target_key_id(&id).send().await.unwrap();
    let by_alias = k.encrypt().key_id("alias/orders").plaintext(Blob::new("x")).send().await.unwrap();
    assert_eq!(by_alias.key_id(), Some(arn.as_str()));
    assert_eq!(
        code(k.create_alias().alias_name("alias/orders").target_key_id(&other).send().await),
        "AlreadyExistsException"
    );
    assert_eq!(
        code(k.create_alias().alias_name("alias/aws/mine").target_key_id(&id).send().await),
        "NotAuthorizedException"
    );
    assert_eq!(code(k.describe_key().key_id("alias/nothing").send().await), "NotFoundException");
    let listed = k.list_aliases().key_id(&id).send().await.unwrap();
    assert_eq!(listed.aliases()[0].alias_name(), Some("alias/orders"));
    assert_eq!(k.generate_random().number_of_bytes(32).send().await.unwrap().plaintext().unwrap().as_ref().len(), 32);
    assert_eq!(code(k.generate_random().number_of_bytes(2000).send().await), "ValidationException");

    // Disabled and pending-deletion keys refuse use; a cancelled deletion leaves the key disabled.
    k.disable_key().key_id(&id).send().await.unwrap();
    let disabled = k.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await;
    assert_eq!(message(k.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await), format!("{arn} is disabled."));
    assert_eq!(code(disabled), "DisabledException");
    k.enable_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        code(k.schedule_key_deletion().key_id(&id).pending_window_in_days(3).send().await),
        "ValidationException"
    );
    let scheduled = k.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
    assert!(scheduled.deletion_date().is_some());
    let pending = k.decrypt().ciphertext_blob(Blob::new(blob.clone())).encryption_context("order", "42").send().await;
    assert_eq!(code(pending), "KMSInvalidStateException");
    assert_eq!(code(k.enable_key().key_id(&id).send().await), "KMSInvalidStateException");
    k.cancel_key_deletion().key_id(&id).send().await.unwrap();
    let described = k.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(described.key_metadata().unwrap().key_state(), Some(&KeyState::Disabled));
    let keys = k.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 2);
    // Keys are regional: another region sees none of them.
    let conf = k.config().to_builder().region(aws_sdk_kms::config::Region::new("eu-west-1")).build();
    let eu = aws_sdk_kms::Client::from_conf(conf);
    assert!(eu.list_keys().send().await.unwrap().keys().is_empty());
    assert_eq!(code(eu.describe_key().key_id(&id).send().await), "NotFoundException");
}

#[tokio::test]
async fn the_key_policy_is_the_root_of_access() {
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let id = symmetric(&k).await;
    let all_kms = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    let bob = user_key(&server, "bob", all_kms).await;
    let alice = user_key(
        &server,
        "alice",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#,
    )
    .await;
    let as_bob = kms(&server, &bob.0, &bob.1, None);
    let as_alice = kms(&server, &alice.0, &alice.1, None);
    // The default key policy delegates to IAM: bob's policy allows, alice has none for KMS.
    as_bob.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap();
    assert_eq!(code(as_alice.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await), "AccessDeniedException");

    // A policy that names alice and keeps the account's administration, but not bob's use.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Sid":"Admin","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:root"}},"Action":["kms:PutKeyPolicy","kms:GetKeyPolicy","kms:DescribeKey"],"Resource":"*"}},
            {{"Sid":"Alice","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:user/alice"}},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:team":"blue"}}}}}}
        ]}}"#
    );
    k.put_key_policy().key_id(&id).policy_name("default").policy(&policy).send().await.unwrap();
    let denied = as_bob.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await;
    let why = message(as_bob.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await);
    assert_eq!(code(denied), "AccessDeniedException");
    assert!(why.contains("bob is not authorized to perform: kms:Encrypt"), "{why}");
    let blue = as_alice.encrypt().key_id(&id).plaintext(Blob::new("x")).encryption_context("team", "blue").send().await;
    let blob = blue.unwrap().ciphertext_blob().unwrap().clone();
    let red = as_alice.encrypt().key_id(&id).plaintext(Blob::new("x")).encryption_context("team", "red").send().await;
    assert_eq!(code(red), "AccessDeniedException");
    as_alice.decrypt().ciphertext_blob(blob).encryption_context("team", "blue").send().await.unwrap();
    // The root user too is bound by the key policy.
    assert_eq!(code(k.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await), "AccessDeniedException");

    // The lockout safety check, and its bypass.
    let alice_only = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:user/alice"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let locked = k.put_key_policy().key_id(&id).policy_name("default").policy(&alice_only).send().await;
    assert_eq!(code(locked), "MalformedPolicyDocumentException");
    let bad = k.put_key_policy().key_id(&id).policy_name("default").policy(r#"{"Statement":[]}"#).send().await;
    assert_eq!(code(bad), "MalformedPolicyDocumentException");
    k.put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(&alice_only)
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .unwrap();
    let after = k.put_key_policy().key_id(&id).policy_name("default").policy(&policy).send().await;
    assert_eq!(code(after), "AccessDeniedException");
    // A key created with a policy is checked the same way.
    let made = k.create_key().policy(&alice_only).send().await;
    assert_eq!(code(made), "MalformedPolicyDocumentException");
}

/// Runs Python with `cryptography` on `script`, with `args`; its trimmed output.
fn python(script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("python3").arg("-c").arg(script).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn signatures_public_keys_and_macs_check_out_with_an_independent_implementation() {
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let verify_script = r#"
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
key = serialization.load_der_public_key(bytes.fromhex(sys.argv[1]))
sig, msg, kind = bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), sys.argv[4]
try:
    if kind == "ecdsa":
        key.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
    elif kind == "pss":
        key.verify(sig, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    else:
        key.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
    print("valid")
except Exception as e:
    print("invalid", type(e).__name__)
"#;
    for (spec, algorithm, kind) in [
        (KeySpec::EccNistP256, SigningAlgorithmSpec::EcdsaSha256, "ecdsa"),
        (KeySpec::EccSecgP256K1, SigningAlgorithmSpec::EcdsaSha256, "ecdsa"),
        (KeySpec::Rsa2048, SigningAlgorithmSpec::RsassaPssSha256, "pss"),
        (KeySpec::Rsa2048, SigningAlgorithmSpec::RsassaPkcs1V15Sha256, "pkcs1"),
    ] {
        let made = k.create_key().key_spec(spec.clone()).key_usage(KeyUsageType::SignVerify).send().await.unwrap();
        let id = made.key_metadata().unwrap().key_id().to_owned();
        let public = k.get_public_key().key_id(&id).send().await.unwrap();
        let der = public.public_key().unwrap().as_ref().to_vec();
        let signed =
            k.sign().key_id(&id).message(Blob::new("hello")).signing_algorithm(algorithm.clone()).send().await.unwrap();
        let signature = signed.signature().unwrap().as_ref().to_vec();
        assert_eq!(python(verify_script, &[&hex(&der), &hex(&signature), &hex(b"hello"), kind]), "valid", "{spec:?}");
        assert!(python(verify_script, &[&hex(&der), &hex(&signature), &hex(b"hellO"), kind]).starts_with("invalid"));
        let verified = k
            .verify()
            .key_id(&id)
            .message(Blob::new("hello"))
            .signature(Blob::new(signature.clone()))
            .signing_algorithm(algorithm.clone())
            .send()
            .await
            .unwrap();
        assert!(verified.signature_valid());
        let forged = k
            .verify()
            .key_id(&id)
            .message(Blob::new("hellO"))
            .signature(Blob::new(signature))
            .signing_algorithm(algorithm.clone())
            .send()
            .await;
        assert_eq!(code(forged), "KMSInvalidSignatureException");
        // A digest signed as such verifies as the message it is the digest of.
        let digest = python("import hashlib,sys;print(hashlib.sha256(b'hello').hexdigest())", &[]);
        let digest: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).unwrap()).collect();
        let of_digest = k
            .sign()
            .key_id(&id)
            .message(Blob::new(digest))
            .message_type(MessageType::Digest)
            .signing_algorithm(algorithm.clone())
            .send()
            .await
            .unwrap();
        let sig = of_digest.signature().unwrap().as_ref().to_vec();
        assert_eq!(python(verify_script, &[&hex(&der), &hex(&sig), &hex(b"hello"), kind]), "valid");
        let bad_digest = k
            .sign()
            .key_id(&id)
            .message(Blob::new("short"))
            .message_type(MessageType::Digest)
            .signing_algorithm(algorithm)
            .send()
            .await;
        assert_eq!(code(bad_digest), "ValidationException");
        let wrong_use = k.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await;
        assert_eq!(code(wrong_use), "InvalidKeyUsageException");
    }

    // RSA-OAEP: encrypted by Python with the public key, decrypted by KMS.
    let made = k.create_key().key_spec(KeySpec::Rsa3072).key_usage(KeyUsageType::EncryptDecrypt).send().await.unwrap();
    let id = made.key_metadata().unwrap().key_id().to_owned();
    let der = k.get_public_key().key_id(&id).send().await.unwrap().public_key().unwrap().as_ref().to_vec();
    let encrypt_script = r#"
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
key = serialization.load_der_public_key(bytes.fromhex(sys.argv[1]))
print(key.encrypt(b"sealed", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)).hex())
"#;
    let ciphertext = python(encrypt_script, &[&hex(&der)]);
    let ciphertext: Vec<u8> =
        (0..ciphertext.len() / 2).map(|i| u8::from_str_radix(&ciphertext[2 * i..2 * i + 2], 16).unwrap()).collect();
    let opened = k
        .decrypt()
        .key_id(&id)
        .ciphertext_blob(Blob::new(ciphertext))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), b"sealed");

    // HMAC keys: a MAC and its verification; a wrong one is refused.
    let made = k.create_key().key_spec(KeySpec::Hmac256).key_usage(KeyUsageType::GenerateVerifyMac).send().await;
    let id = made.unwrap().key_metadata().unwrap().key_id().to_owned();
    let mac = k.generate_mac().key_id(&id).message(Blob::new("m")).mac_algorithm(MacAlgorithmSpec::HmacSha256).send();
    let mac = mac.await.unwrap().mac().unwrap().as_ref().to_vec();
    assert_eq!(mac.len(), 32);
    let check = |tag: Vec<u8>| {
        k.verify_mac()
            .key_id(&id)
            .message(Blob::new("m"))
            .mac(Blob::new(tag))
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .send()
    };
    assert!(check(mac.clone()).await.unwrap().mac_valid());
    let mut wrong = mac;
    wrong[0] ^= 1;
    assert_eq!(code(check(wrong).await), "KMSInvalidMacException");
    assert_eq!(code(k.get_public_key().key_id(&id).send().await), "UnsupportedOperationException");
}

#[tokio::test]
async fn rotation_keeps_old_ciphertexts_readable_and_no_material_is_stored_in_the_clear() {
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let id = symmetric(&k).await;
    let before = k.encrypt().key_id(&id).plaintext(Blob::new("old")).send().await.unwrap();
    let data = k.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.unwrap();
    k.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let after = k.encrypt().key_id(&id).plaintext(Blob::new("new")).send().await.unwrap();
    let first = k.decrypt().ciphertext_blob(before.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    let second = k.decrypt().ciphertext_blob(after.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(first.plaintext().unwrap().as_ref(), b"old");
    assert_eq!(second.plaintext().unwrap().as_ref(), b"new");
    assert_ne!(first.key_material_id(), second.key_material_id());
    let rotations = k.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(rotations.rotations().len(), 1);
    assert_eq!(rotations.rotations()[0].rotation_type().map(|t| t.as_str()), Some("ON_DEMAND"));
    k.enable_key_rotation().key_id(&id).rotation_period_in_days(90).send().await.unwrap();
    let status = k.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert_eq!((status.key_rotation_enabled(), status.rotation_period_in_days()), (true, Some(90)));
    assert!(status.next_rotation_date().is_some());
    let made = k.create_key().key_spec(KeySpec::EccNistP256).key_usage(KeyUsageType::SignVerify).send().await;
    let ecc = made.unwrap().key_metadata().unwrap().key_id().to_owned();
    assert_eq!(code(k.rotate_key_on_demand().key_id(&ecc).send().await), "UnsupportedOperationException");

    // The data directory holds sealed material only: no data key, no plaintext, in any file.
    let plaintext = data.plaintext().unwrap().as_ref().to_vec();
    let mut files = vec![server.data_dir().to_path_buf()];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += 1;
        assert!(!bytes.windows(plaintext.len()).any(|w| w == plaintext.as_slice()), "a data key in {}", path.display());
    }
    assert!(scanned > 0);
}

#[tokio::test]
async fn kms_calls_are_in_the_trail_with_their_key_and_without_secrets() {
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let id = symmetric(&k).await;
    k.encrypt()
        .key_id(&id)
        .plaintext(Blob::new("top secret"))
        .encryption_context("app", "billing")
        .send()
        .await
        .unwrap();
    let ct = crate::cloudtrail::trail(&server, &server.access_key_id, &server.secret_access_key, None);
    let mut event = None;
    for _ in 0..100 {
        let found = ct
            .lookup_events()
            .lookup_attributes(
                aws_sdk_cloudtrail::types::LookupAttribute::builder()
                    .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::EventName)
                    .attribute_value("Encrypt")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        if let Some(e) = found.events().first() {
            event = Some(e.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let event = event.expect("the Encrypt call is in the event history");
    let resource = &event.resources()[0];
    assert_eq!(resource.resource_type(), Some("AWS::KMS::Key"));
    assert!(resource.resource_name().unwrap().ends_with(&id));
    let json: serde_json::Value = serde_json::from_str(event.cloud_trail_event().unwrap()).unwrap();
    assert_eq!(json["eventSource"], "kms.amazonaws.com");
    assert_eq!(json["requestParameters"]["encryptionContext"]["app"], "billing");
    let text = json.to_string();
    let b64 = data_encoding::BASE64.encode(b"top secret");
    assert!(!text.contains("top secret") && !text.contains(&b64), "{text}");
}

#[tokio::test]
async fn grants_allow_their_grantee_within_their_constraints_until_retired() {
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let id = symmetric(&k).await;
    let nothing = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
    let app = user_key(&server, "app", nothing).await;
    let ops = user_key(&server, "ops", nothing).await;
    let as_app = kms(&server, &app.0, &app.1, None);
    let as_ops = kms(&server, &ops.0, &ops.1, None);
    let use_key = |context: &'static str| {
        as_app.encrypt().key_id(&id).plaintext(Blob::new("x")).encryption_context("tenant", context).send()
    };
    assert_eq!(code(use_key("t1").await), "AccessDeniedException");

    let grant = || {
        k.create_grant()
            .key_id(&id)
            .name("app-t1")
            .grantee_principal(format!("arn:aws:iam::{ACCOUNT_ID}:user/app"))
            .retiring_principal(format!("arn:aws:iam::{ACCOUNT_ID}:user/ops"))
            .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
            .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
            .constraints(
                aws_sdk_kms::types::GrantConstraints::builder().encryption_context_subset("tenant", "t1").build(),
            )
            .send()
    };
    let made = grant().await.unwrap();
    let grant_id = made.grant_id().unwrap().to_owned();
    assert_eq!(grant_id.len(), 64);
    assert!(made.grant_token().is_some());
    assert_eq!(grant().await.unwrap().grant_id(), Some(grant_id.as_str()), "the same name and terms: the same grant");
    // The grant allows its operations within its constraint, and nothing else.
    let sealed = use_key("t1").await.unwrap().ciphertext_blob().unwrap().clone();
    as_app.decrypt().ciphertext_blob(sealed).encryption_context("tenant", "t1").send().await.unwrap();
    assert_eq!(code(use_key("t2").await), "AccessDeniedException");
    assert_eq!(code(as_app.describe_key().key_id(&id).send().await), "AccessDeniedException");
    let listed = k.list_grants().key_id(&id).send().await.unwrap();
    assert_eq!(listed.grants().len(), 1);
    assert_eq!(listed.grants()[0].retiring_principal(), Some(format!("arn:aws:iam::{ACCOUNT_ID}:user/ops").as_str()));
    let retirable = k.list_retirable_grants().retiring_principal(format!("arn:aws:iam::{ACCOUNT_ID}:user/ops")).send();
    assert_eq!(retirable.await.unwrap().grants().len(), 1);
    let wrong = k
        .create_grant()
        .key_id(&id)
        .grantee_principal(format!("arn:aws:iam::{ACCOUNT_ID}:user/app"))
        .operations(aws_sdk_kms::types::GrantOperation::Sign)
        .send()
        .await;
    assert_eq!(code(wrong), "ValidationException");

    // Its retiring principal retires it — without any KMS permission of its own — and it is gone.
    assert_eq!(code(as_app.retire_grant().key_id(&id).grant_id(&grant_id).send().await), "AccessDeniedException");
    as_ops.retire_grant().key_id(&id).grant_id(&grant_id).send().await.unwrap();
    assert_eq!(code(use_key("t1").await), "AccessDeniedException");
    assert!(k.list_grants().key_id(&id).send().await.unwrap().grants().is_empty());
    assert_eq!(code(k.revoke_grant().key_id(&id).grant_id(&grant_id).send().await), "NotFoundException");
    // A key administrator revokes one.
    let again = grant().await.unwrap().grant_id().unwrap().to_owned();
    k.revoke_grant().key_id(&id).grant_id(&again).send().await.unwrap();
    assert_eq!(code(use_key("t1").await), "AccessDeniedException");
}

#[tokio::test]
async fn data_key_pairs_and_custom_key_stores_answer_as_kms_does() {
    use aws_sdk_kms::types::DataKeyPairSpec;
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let id = symmetric(&k).await;
    let pair = k
        .generate_data_key_pair()
        .key_id(&id)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .encryption_context("use", "signing")
        .send()
        .await
        .unwrap();
    let private = pair.private_key_plaintext().unwrap().as_ref().to_vec();
    let public = pair.public_key().unwrap().as_ref().to_vec();
    // The private half (PKCS#8) is the public half's, as an independent implementation sees it.
    let matches = r#"
import sys
from cryptography.hazmat.primitives import serialization
private = serialization.load_der_private_key(bytes.fromhex(sys.argv[1]), password=None)
der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
print(der.hex() == sys.argv[2])
"#;
    assert_eq!(python(matches, &[&hex(&private), &hex(&public)]), "True");
    // Its encrypted copy decrypts, under its context, to the same private key.
    let opened = k
        .decrypt()
        .ciphertext_blob(pair.private_key_ciphertext_blob().unwrap().clone())
        .encryption_context("use", "signing")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), private.as_slice());
    let without =
        k.generate_data_key_pair_without_plaintext().key_id(&id).key_pair_spec(DataKeyPairSpec::Rsa2048).send().await;
    assert!(without.unwrap().public_key().is_some());
    let sm2 = k.generate_data_key_pair().key_id(&id).key_pair_spec(DataKeyPairSpec::Sm2).send().await;
    assert_eq!(code(sm2), "UnsupportedOperationException");

    // Rampart keeps every key itself: an account has no custom key store.
    assert!(k.describe_custom_key_stores().send().await.unwrap().custom_key_stores().is_empty());
    let named = k.describe_custom_key_stores().custom_key_store_name("hsm").send().await;
    assert_eq!(code(named), "CustomKeyStoreNotFoundException");
    let connect = k.connect_custom_key_store().custom_key_store_id("cks-1234567890abcdef0").send().await;
    assert_eq!(code(connect), "CustomKeyStoreNotFoundException");
    let made = k
        .create_custom_key_store()
        .custom_key_store_name("hsm")
        .cloud_hsm_cluster_id("cluster-23a4b5c6d7e")
        .trust_anchor_certificate("-----BEGIN CERTIFICATE-----")
        .key_store_password("password")
        .send()
        .await;
    assert_eq!(code(made), "CloudHsmClusterNotFoundException");
    let in_store = k.create_key().custom_key_store_id("cks-1234567890abcdef0").send().await;
    assert_eq!(code(in_store), "CustomKeyStoreNotFoundException");
}
