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
    kms_in(server, "us-east-1", id, secret, token)
}

fn kms_in(server: &TestServer, region: &str, id: &str, secret: &str, token: Option<&str>) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(region.to_owned()))
        .endpoint_url(&server.endpoint)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(id, secret, token.map(str::to_owned), None, "test"))
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

pub(crate) fn code<T, E: ProvideErrorMetadata, R>(r: Result<T, aws_sdk_kms::error::SdkError<E, R>>) -> String {
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
    elif kind == "pure":
        key.verify(sig, msg)
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
        (KeySpec::MlDsa65, SigningAlgorithmSpec::MlDsaShake256, "pure"),
        (KeySpec::EccNistEdwards25519, SigningAlgorithmSpec::Ed25519Sha512, "pure"),
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
        // ML-DSA and Ed25519 sign the message itself: a digest is refused.
        if kind == "pure" {
            let digest = k
                .sign()
                .key_id(&id)
                .message(Blob::new(vec![0u8; 32]))
                .message_type(MessageType::Digest)
                .signing_algorithm(algorithm.clone())
                .send()
                .await;
            assert_eq!(code(digest), "ValidationException");
            continue;
        }
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

/// Wraps key material under a KMS wrapping public key as AWS documents it, with Python's
/// `cryptography`: RSA-OAEP, or an AES key wrapped with RSA-OAEP followed by the material wrapped
/// with AES Key Wrap with Padding.
const WRAP_SCRIPT: &str = r#"
import sys, os
from cryptography.hazmat.primitives import hashes, serialization, keywrap
from cryptography.hazmat.primitives.asymmetric import padding
public = serialization.load_der_public_key(bytes.fromhex(sys.argv[1]))
algorithm, material = sys.argv[2], bytes.fromhex(sys.argv[3])
h = hashes.SHA256() if algorithm.endswith("256") else hashes.SHA1()
oaep = padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)
if algorithm.startswith("RSA_AES"):
    aes = os.urandom(32)
    print((public.encrypt(aes, oaep) + keywrap.aes_key_wrap_with_padding(aes, material)).hex())
else:
    print(public.encrypt(material, oaep).hex())
"#;

/// Wraps `material` for `key_id` with a fresh wrapping key and token: (token, wrapped material).
async fn wrapped_for(
    k: &aws_sdk_kms::Client,
    key_id: &str,
    algorithm: aws_sdk_kms::types::AlgorithmSpec,
    material: &[u8],
) -> (Blob, Blob) {
    let params = k
        .get_parameters_for_import()
        .key_id(key_id)
        .wrapping_algorithm(algorithm.clone())
        .wrapping_key_spec(aws_sdk_kms::types::WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    assert!(params.parameters_valid_to().is_some());
    let public = params.public_key().unwrap().as_ref().to_vec();
    let wrapped = python(WRAP_SCRIPT, &[&hex(&public), algorithm.as_str(), &hex(material)]);
    (params.import_token().unwrap().clone(), Blob::new(unhex(&wrapped)))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test]
async fn imported_key_material_is_used_and_can_be_deleted_reimported_and_rotated() {
    use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, ImportType, IncludeKeyMaterial, OriginType};
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let made = k.create_key().origin(OriginType::External).send().await.unwrap();
    let meta = made.key_metadata().unwrap();
    let id = meta.key_id().to_owned();
    assert_eq!(meta.key_state(), Some(&KeyState::PendingImport));
    assert_eq!(meta.origin(), Some(&OriginType::External));
    let early = k.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await;
    assert_eq!(code(early), "KMSInvalidStateException");

    // Import 256 bits of material wrapped with RSA-OAEP; the key is enabled and uses it.
    let material = k.generate_random().number_of_bytes(32).send().await.unwrap().plaintext().unwrap().as_ref().to_vec();
    let (token, wrapped) = wrapped_for(&k, &id, AlgorithmSpec::RsaesOaepSha256, &material).await;
    let imported = k
        .import_key_material()
        .key_id(&id)
        .import_token(token.clone())
        .encrypted_key_material(wrapped.clone())
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
    let material_id = imported.key_material_id().unwrap().to_owned();
    let meta = k.describe_key().key_id(&id).send().await.unwrap();
    let meta = meta.key_metadata().unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert_eq!(meta.expiration_model(), Some(&ExpirationModelType::KeyMaterialDoesNotExpire));
    assert_eq!(meta.current_key_material_id(), Some(material_id.as_str()));
    let sealed = k.encrypt().key_id(&id).plaintext(Blob::new("imported")).send().await.unwrap();
    let blob = sealed.ciphertext_blob().unwrap().as_ref().to_vec();
    // The ciphertext really is AES-256-GCM under the imported material: Python opens it with the
    // material alone (Rampart's blob: version, key ARN, material id, nonce, ciphertext and tag).
    let open_script = r#"
import sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
blob, key = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
header = blob[:2 + blob[1] + 32]
nonce, body = blob[len(header):len(header) + 12], blob[len(header) + 12:]
print(AESGCM(key).decrypt(nonce, body, b"rampart-kms-v1" + header).decode())
"#;
    assert_eq!(python(open_script, &[&hex(&blob), &hex(&material)]), "imported");

    // A token is for one key only, and tampered material does not unwrap.
    let other = k.create_key().origin(OriginType::External).send().await.unwrap();
    let other = other.key_metadata().unwrap().key_id().to_owned();
    let misused = k.import_key_material().key_id(&other).import_token(token.clone()).encrypted_key_material(wrapped);
    let misused = misused.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await;
    assert_eq!(code(misused), "InvalidImportTokenException");
    let (token2, wrapped2) = wrapped_for(&k, &other, AlgorithmSpec::RsaesOaepSha1, &material[..16]).await;
    let short = k.import_key_material().key_id(&other).import_token(token2.clone()).encrypted_key_material(wrapped2);
    let short = short.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await;
    assert_eq!(code(short), "IncorrectKeyMaterialException");
    let mut bad = wrapped_for(&k, &other, AlgorithmSpec::RsaesOaepSha1, &material).await.1.into_inner();
    bad[7] ^= 1;
    let tampered = k.import_key_material().key_id(&other).import_token(token2).encrypted_key_material(Blob::new(bad));
    let tampered = tampered.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await;
    assert_eq!(code(tampered), "InvalidCiphertextException");
    let no_date = k.import_key_material().key_id(&id).import_token(token).encrypted_key_material(Blob::new(vec![0]));
    assert_eq!(code(no_date.send().await), "ValidationException", "KEY_MATERIAL_EXPIRES needs ValidTo");

    // Deleted, the key is unusable until the same material comes back; other material is refused.
    k.delete_imported_key_material().key_id(&id).send().await.unwrap();
    let meta = k.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(meta.key_metadata().unwrap().key_state(), Some(&KeyState::PendingImport));
    let gone = k.decrypt().ciphertext_blob(Blob::new(blob.clone())).send().await;
    assert_eq!(code(gone), "KMSInvalidStateException");
    let stranger = k.generate_random().number_of_bytes(32).send().await.unwrap().plaintext().unwrap().as_ref().to_vec();
    let (t, w) = wrapped_for(&k, &id, AlgorithmSpec::RsaAesKeyWrapSha256, &stranger).await;
    let wrong = k.import_key_material().key_id(&id).import_token(t).encrypted_key_material(w);
    let wrong = wrong.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await;
    assert_eq!(code(wrong), "IncorrectKeyMaterialException");
    let (t, w) = wrapped_for(&k, &id, AlgorithmSpec::RsaAesKeyWrapSha256, &material).await;
    let valid_to = aws_sdk_kms::primitives::DateTime::from_secs(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 + 86_400,
    );
    let back = k.import_key_material().key_id(&id).import_token(t).encrypted_key_material(w).valid_to(valid_to);
    let back = back.expiration_model(ExpirationModelType::KeyMaterialExpires).send().await.unwrap();
    assert_eq!(back.key_material_id(), Some(material_id.as_str()), "the same material has the same id");
    let meta = k.describe_key().key_id(&id).send().await.unwrap();
    let meta = meta.key_metadata().unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert_eq!(meta.expiration_model(), Some(&ExpirationModelType::KeyMaterialExpires));
    assert_eq!(meta.valid_to().map(|t| t.secs()), Some(valid_to.secs()));
    let opened = k.decrypt().ciphertext_blob(Blob::new(blob.clone())).send().await.unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), b"imported");

    // New material waits for an on-demand rotation; then it is current and old ciphertexts open.
    assert_eq!(code(k.rotate_key_on_demand().key_id(&id).send().await), "KMSInvalidStateException");
    let (t, w) = wrapped_for(&k, &id, AlgorithmSpec::RsaesOaepSha256, &stranger).await;
    let next = k.import_key_material().key_id(&id).import_token(t).encrypted_key_material(w);
    let next = next.import_type(ImportType::NewKeyMaterial).key_material_description("second");
    let next = next.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await.unwrap();
    let next_id = next.key_material_id().unwrap().to_owned();
    assert_ne!(next_id, material_id);
    let listed = k.list_key_rotations().key_id(&id).include_key_material(IncludeKeyMaterial::AllKeyMaterial);
    let listed = listed.send().await.unwrap();
    let states: Vec<(String, String)> = listed
        .rotations()
        .iter()
        .map(|r| (r.key_material_id().unwrap().to_owned(), r.key_material_state().unwrap().as_str().to_owned()))
        .collect();
    assert_eq!(states, [(material_id.clone(), "CURRENT".into()), (next_id.clone(), "PENDING_ROTATION".into())]);
    k.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let meta = k.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(meta.key_metadata().unwrap().current_key_material_id(), Some(next_id.as_str()));
    let fresh = k.encrypt().key_id(&id).plaintext(Blob::new("rotated")).send().await.unwrap();
    let fresh = fresh.ciphertext_blob().unwrap().as_ref().to_vec();
    assert_eq!(python(open_script, &[&hex(&fresh), &hex(&stranger)]), "rotated");
    let old = k.decrypt().ciphertext_blob(Blob::new(blob)).send().await.unwrap();
    assert_eq!(old.plaintext().unwrap().as_ref(), b"imported");

    // An asymmetric private key, made outside, imported with RSA-AES key wrap; RSA-OAEP cannot
    // carry an RSA key.
    let made_outside = python(
        r#"
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
print(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).hex())
print(key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex())
"#,
        &[],
    );
    let (private, public) = made_outside.split_once('\n').unwrap();
    let signer = k
        .create_key()
        .origin(OriginType::External)
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let signer = signer.key_metadata().unwrap().key_id().to_owned();
    let (t, w) = wrapped_for(&k, &signer, AlgorithmSpec::RsaAesKeyWrapSha256, &unhex(private)).await;
    let ecc = k.import_key_material().key_id(&signer).import_token(t).encrypted_key_material(w);
    ecc.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await.unwrap();
    let got = k.get_public_key().key_id(&signer).send().await.unwrap();
    assert_eq!(hex(got.public_key().unwrap().as_ref()), public, "the imported key's public half");
    let rsa = k
        .create_key()
        .origin(OriginType::External)
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let rsa = rsa.key_metadata().unwrap().key_id().to_owned();
    let oaep = k
        .get_parameters_for_import()
        .key_id(&rsa)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(aws_sdk_kms::types::WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_eq!(code(oaep), "ValidationException");
    let kms_made = symmetric(&k).await;
    let not_external = k
        .get_parameters_for_import()
        .key_id(&kms_made)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(aws_sdk_kms::types::WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_eq!(code(not_external), "UnsupportedOperationException");
}

#[tokio::test]
async fn derived_shared_secrets_match_the_peers() {
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let made =
        k.create_key().key_spec(KeySpec::EccNistP384).key_usage(KeyUsageType::KeyAgreement).send().await.unwrap();
    let meta = made.key_metadata().unwrap();
    assert_eq!(meta.key_agreement_algorithms(), [aws_sdk_kms::types::KeyAgreementAlgorithmSpec::Ecdh]);
    let id = meta.key_id().to_owned();
    let public = k.get_public_key().key_id(&id).send().await.unwrap();
    let public = public.public_key().unwrap().as_ref().to_vec();
    // The peer: a key pair made by Python, which computes the same secret from its side.
    let peer = python(
        r#"
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
theirs = serialization.load_der_public_key(bytes.fromhex(sys.argv[1]))
mine = ec.generate_private_key(ec.SECP384R1())
print(mine.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex())
print(mine.exchange(ec.ECDH(), theirs).hex())
"#,
        &[&hex(&public)],
    );
    let (peer_public, expected) = peer.split_once('\n').unwrap();
    let derived = k
        .derive_shared_secret()
        .key_id(&id)
        .key_agreement_algorithm(aws_sdk_kms::types::KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(unhex(peer_public)))
        .send()
        .await
        .unwrap();
    assert_eq!(hex(derived.shared_secret().unwrap().as_ref()), expected);
    // A grant may allow key agreement on such a key, and nothing it cannot do.
    let grant = |ops: &[aws_sdk_kms::types::GrantOperation]| {
        k.create_grant()
            .key_id(&id)
            .grantee_principal(format!("arn:aws:iam::{ACCOUNT_ID}:root"))
            .set_operations(Some(ops.to_vec()))
            .send()
    };
    use aws_sdk_kms::types::GrantOperation;
    assert_eq!(code(grant(&[GrantOperation::DeriveSharedSecret, GrantOperation::GetPublicKey]).await), "OK");
    assert_eq!(code(grant(&[GrantOperation::Encrypt]).await), "ValidationException");
    // A key of another curve, or not a public key at all, is refused; so is a signing key.
    let other_curve = k
        .derive_shared_secret()
        .key_id(&id)
        .key_agreement_algorithm(aws_sdk_kms::types::KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(public[..20].to_vec()))
        .send()
        .await;
    assert_eq!(code(other_curve), "ValidationException");
    let signer = k.create_key().key_spec(KeySpec::EccNistP384).key_usage(KeyUsageType::SignVerify).send().await;
    let signer = signer.unwrap().key_metadata().unwrap().key_id().to_owned();
    let misuse = k
        .derive_shared_secret()
        .key_id(&signer)
        .key_agreement_algorithm(aws_sdk_kms::types::KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(unhex(peer_public)))
        .send()
        .await;
    assert_eq!(code(misuse), "InvalidKeyUsageException");
}

/// A replica's state once it is no longer Creating (ReplicateKey answers while it is being made).
async fn ready(k: &aws_sdk_kms::Client, id: &str) -> KeyState {
    for _ in 0..50 {
        let state = k.describe_key().key_id(id).send().await.unwrap().key_metadata().unwrap().key_state().cloned();
        match state {
            Some(KeyState::Creating) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            Some(other) => return other,
            None => break,
        }
    }
    panic!("the replica of {id} stayed Creating");
}

#[tokio::test]
async fn multi_region_keys_share_material_across_regions_and_single_region_keys_stay_home() {
    use aws_sdk_kms::types::MultiRegionKeyType;
    let server = TestServer::start().await.unwrap();
    let east = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let west = kms_in(&server, "eu-west-1", &server.access_key_id, &server.secret_access_key, None);
    let made = east.create_key().multi_region(true).description("shared").send().await.unwrap();
    let meta = made.key_metadata().unwrap();
    let id = meta.key_id().to_owned();
    assert!(id.starts_with("mrk-"), "{id}");
    let config = meta.multi_region_configuration().unwrap();
    assert_eq!(config.multi_region_key_type(), Some(&MultiRegionKeyType::Primary));
    assert_eq!(config.primary_key().unwrap().region(), Some("us-east-1"));
    let sealed = east.encrypt().key_id(&id).plaintext(Blob::new("crosses regions")).send().await.unwrap();
    let sealed = sealed.ciphertext_blob().unwrap().clone();
    assert_eq!(code(west.describe_key().key_id(&id).send().await), "NotFoundException", "not replicated yet");

    // A single-Region key stays in its Region and cannot be replicated.
    let local = symmetric(&east).await;
    assert_eq!(code(west.describe_key().key_id(&local).send().await), "NotFoundException");
    let refused = east.replicate_key().key_id(&local).replica_region("eu-west-1").send().await;
    assert_eq!(code(refused), "UnsupportedOperationException");

    // The replica: same id, own description and tags; ciphertexts open in either Region.
    let replica = east
        .replicate_key()
        .key_id(&id)
        .replica_region("eu-west-1")
        .description("west copy")
        .tags(aws_sdk_kms::types::Tag::builder().tag_key("team").tag_value("ops").build().unwrap())
        .send()
        .await
        .unwrap();
    let replica_meta = replica.replica_key_metadata().unwrap();
    assert_eq!(replica_meta.arn(), Some(format!("arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/{id}").as_str()));
    assert_eq!(replica_meta.description(), Some("west copy"));
    assert_eq!(replica.replica_tags().len(), 1);
    assert!(replica.replica_policy().unwrap().contains(":root"));
    let again = east.replicate_key().key_id(&id).replica_region("eu-west-1").send().await;
    assert_eq!(code(again), "AlreadyExistsException");
    // The replica is being made, and is usable once it is Enabled.
    assert_eq!(replica_meta.key_state(), Some(&KeyState::Creating));
    assert!(!replica_meta.enabled());
    let early = west.decrypt().ciphertext_blob(sealed.clone()).send().await;
    assert_eq!(code(early), "KMSInvalidStateException");
    let changed = west.update_key_description().key_id(&id).description("too soon").send().await;
    assert_eq!(code(changed), "KMSInvalidStateException");
    assert_eq!(ready(&west, &id).await, KeyState::Enabled);
    let opened = west.decrypt().ciphertext_blob(sealed.clone()).send().await.unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), b"crosses regions");
    assert_eq!(opened.key_id(), replica_meta.arn());
    let back = west.encrypt().key_id(&id).plaintext(Blob::new("and back")).send().await.unwrap();
    let back = east.decrypt().ciphertext_blob(back.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(back.plaintext().unwrap().as_ref(), b"and back");
    let described = east.describe_key().key_id(&id).send().await.unwrap();
    let config = described.key_metadata().unwrap().multi_region_configuration().unwrap();
    let replicas: Vec<_> = config.replica_keys().iter().filter_map(|r| r.region()).collect();
    assert_eq!(replicas, ["eu-west-1"]);

    // Rotation is the primary's, and reaches the replica.
    assert_eq!(code(west.rotate_key_on_demand().key_id(&id).send().await), "UnsupportedOperationException");
    east.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let current = east.describe_key().key_id(&id).send().await.unwrap();
    let current = current.key_metadata().unwrap().current_key_material_id().unwrap().to_owned();
    let rotated = west.encrypt().key_id(&id).plaintext(Blob::new("new material")).send().await.unwrap();
    let rotated_blob = rotated.ciphertext_blob().unwrap().clone();
    let opened = east.decrypt().ciphertext_blob(rotated_blob).send().await.unwrap();
    assert_eq!(opened.key_material_id(), Some(current.as_str()));
    assert_eq!(
        west.decrypt().ciphertext_blob(sealed.clone()).send().await.unwrap().plaintext().unwrap().as_ref(),
        b"crosses regions"
    );

    // The replica becomes the primary.
    east.update_primary_region().key_id(&id).primary_region("eu-west-1").send().await.unwrap();
    let w = west.describe_key().key_id(&id).send().await.unwrap();
    let w = w.key_metadata().unwrap().multi_region_configuration().unwrap();
    assert_eq!(w.multi_region_key_type(), Some(&MultiRegionKeyType::Primary));
    let e = east.describe_key().key_id(&id).send().await.unwrap();
    let e = e.key_metadata().unwrap().multi_region_configuration().unwrap();
    assert_eq!(e.multi_region_key_type(), Some(&MultiRegionKeyType::Replica));
    assert_eq!(e.primary_key().unwrap().region(), Some("eu-west-1"));

    // A primary with replicas waits for them before its own deletion.
    let scheduled = west.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingReplicaDeletion));
    let replica_gone = east.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    assert_eq!(replica_gone.key_state(), Some(&KeyState::PendingDeletion));
    west.cancel_key_deletion().key_id(&id).send().await.unwrap();
}

#[tokio::test]
async fn a_keys_last_use_is_reported() {
    use aws_sdk_kms::types::KeyLastUsageTrackingOperation;
    let server = TestServer::start().await.unwrap();
    let k = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let id = symmetric(&k).await;
    let unused = k.get_key_last_usage().key_id(&id).send().await.unwrap();
    assert!(unused.key_last_usage().is_none());
    assert_eq!(unused.tracking_start_date(), unused.key_creation_date());
    let sealed = k.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap();
    let after_encrypt = k.get_key_last_usage().key_id(&id).send().await.unwrap();
    let last = after_encrypt.key_last_usage().unwrap();
    assert_eq!(last.operation(), Some(&KeyLastUsageTrackingOperation::Encrypt));
    assert!(last.kms_request_id().is_some_and(|r| !r.is_empty()));
    // The use names its CloudTrail event, which event history finds by that id.
    let event_id = last.cloud_trail_event_id().expect("the Encrypt's event id").to_owned();
    let mut event = None;
    for _ in 0..50 {
        event =
            crate::events_named(&server, "Encrypt", 1).await.into_iter().find(|e| e["eventID"] == event_id.as_str());
        if event.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(event.expect("the named event")["requestID"], last.kms_request_id().unwrap());
    k.decrypt().ciphertext_blob(sealed.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    let failed = k.decrypt().ciphertext_blob(Blob::new(b"junk".to_vec())).key_id(&id).send().await;
    assert_eq!(code(failed), "InvalidCiphertextException");
    let after_decrypt = k.get_key_last_usage().key_id(&id).send().await.unwrap();
    let last = after_decrypt.key_last_usage().unwrap();
    assert_eq!(last.operation(), Some(&KeyLastUsageTrackingOperation::Decrypt), "a failed call is not a use");
    assert_eq!(code(k.get_key_last_usage().key_id("alias/whatever").send().await), "NotFoundException");
}

#[tokio::test]
async fn access_can_follow_a_keys_aliases() {
    let server = TestServer::start().await.unwrap();
    let admin = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let tagged = symmetric(&admin).await;
    let other = symmetric(&admin).await;
    admin.create_alias().alias_name("alias/finance-ledger").target_key_id(&tagged).send().await.unwrap();
    admin.create_alias().alias_name("alias/ops").target_key_id(&other).send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*",
        "Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/finance-*"}}}]}"#;
    let (id, secret) = user_key(&server, "accountant", policy).await;
    let user = kms(&server, &id, &secret, None);
    let encrypt = |key: String| {
        let user = user.clone();
        async move { code(user.encrypt().key_id(key).plaintext(Blob::new("x")).send().await) }
    };
    assert_eq!(encrypt(tagged.clone()).await, "OK");
    assert_eq!(encrypt("alias/finance-ledger".into()).await, "OK");
    assert_eq!(encrypt(other.clone()).await, "AccessDeniedException");
    // The alias moves to the other key: access moves with it.
    admin.update_alias().alias_name("alias/finance-ledger").target_key_id(&other).send().await.unwrap();
    assert_eq!(encrypt(other.clone()).await, "OK");
    assert_eq!(encrypt(tagged.clone()).await, "AccessDeniedException");
    admin.delete_alias().alias_name("alias/finance-ledger").send().await.unwrap();
    assert_eq!(encrypt(other).await, "AccessDeniedException");
}

#[tokio::test]
async fn a_multi_region_key_with_imported_material_rotates_once_every_replica_holds_the_new_material() {
    use aws_sdk_kms::types::{
        AlgorithmSpec, ExpirationModelType, ImportType, IncludeKeyMaterial, KeyMaterialState, OriginType,
    };
    let server = TestServer::start().await.unwrap();
    let east = kms(&server, &server.access_key_id, &server.secret_access_key, None);
    let west = kms_in(&server, "eu-west-1", &server.access_key_id, &server.secret_access_key, None);
    let made = east.create_key().origin(OriginType::External).multi_region(true).send().await.unwrap();
    let id = made.key_metadata().unwrap().key_id().to_owned();
    let random = || async {
        east.generate_random().number_of_bytes(32).send().await.unwrap().plaintext().unwrap().as_ref().to_vec()
    };
    let import = |k: &aws_sdk_kms::Client, material: Vec<u8>, kind: Option<ImportType>| {
        let k = k.clone();
        let id = id.clone();
        async move {
            let (token, wrapped) = wrapped_for(&k, &id, AlgorithmSpec::RsaesOaepSha256, &material).await;
            k.import_key_material()
                .key_id(&id)
                .import_token(token)
                .encrypted_key_material(wrapped)
                .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
                .set_import_type(kind)
                .send()
                .await
        }
    };
    let first = random().await;
    import(&east, first.clone(), None).await.unwrap();
    east.replicate_key().key_id(&id).replica_region("eu-west-1").send().await.unwrap();
    // The replica waits for the same material, imported on its own.
    assert_eq!(ready(&west, &id).await, KeyState::PendingImport);
    import(&west, first.clone(), None).await.unwrap();
    let sealed = east.encrypt().key_id(&id).plaintext(Blob::new("before")).send().await.unwrap();
    let sealed = sealed.ciphertext_blob().unwrap().clone();
    assert_eq!(
        west.decrypt().ciphertext_blob(sealed.clone()).send().await.unwrap().plaintext().unwrap().as_ref(),
        b"before"
    );

    // New material enters through the primary; the replica cannot take new material itself.
    let second = random().await;
    let direct = import(&west, second.clone(), Some(ImportType::NewKeyMaterial)).await;
    assert_eq!(code(direct), "UnsupportedOperationException");
    let second_id = import(&east, second.clone(), Some(ImportType::NewKeyMaterial)).await.unwrap();
    let second_id = second_id.key_material_id().unwrap().to_owned();
    let states = |k: &aws_sdk_kms::Client| {
        let k = k.clone();
        let id = id.clone();
        async move {
            let listed = k
                .list_key_rotations()
                .key_id(&id)
                .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
                .send()
                .await
                .unwrap();
            listed
                .rotations()
                .iter()
                .map(|r| (r.key_material_id().unwrap().to_owned(), r.key_material_state().cloned().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    let waiting = states(&east).await;
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[1], (second_id.clone(), KeyMaterialState::PendingMultiRegionImportAndRotation));
    assert_eq!(states(&west).await[1], (second_id.clone(), KeyMaterialState::PendingMultiRegionImportAndRotation));
    // The replica stays usable while it waits.
    let described = west.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(described.key_metadata().unwrap().key_state(), Some(&KeyState::Enabled));
    let early = east.rotate_key_on_demand().key_id(&id).send().await;
    assert_eq!(code(early), "KMSInvalidStateException");
    // Different material is not what the primary took.
    let wrong = import(&west, random().await, Some(ImportType::ExistingKeyMaterial)).await;
    assert_eq!(code(wrong), "IncorrectKeyMaterialException");
    import(&west, second.clone(), Some(ImportType::ExistingKeyMaterial)).await.unwrap();
    assert_eq!(states(&east).await[1], (second_id.clone(), KeyMaterialState::PendingRotation));

    // Rotation in the primary makes the new material current everywhere; old ciphertexts still open.
    east.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    for k in [&east, &west] {
        let meta = k.describe_key().key_id(&id).send().await.unwrap();
        assert_eq!(meta.key_metadata().unwrap().current_key_material_id(), Some(second_id.as_str()));
    }
    let after = west.encrypt().key_id(&id).plaintext(Blob::new("after")).send().await.unwrap();
    let opened = east.decrypt().ciphertext_blob(after.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(opened.key_material_id(), Some(second_id.as_str()));
    assert_eq!(west.decrypt().ciphertext_blob(sealed).send().await.unwrap().plaintext().unwrap().as_ref(), b"before");

    // Material a primary deletes while it waits for a rotation leaves its replicas too.
    let third = random().await;
    let third_id = import(&east, third, Some(ImportType::NewKeyMaterial)).await.unwrap();
    let third_id = third_id.key_material_id().unwrap().to_owned();
    assert_eq!(states(&west).await.len(), 3);
    east.delete_imported_key_material().key_id(&id).key_material_id(&third_id).send().await.unwrap();
    assert_eq!(states(&west).await.len(), 2);
    assert_eq!(states(&east).await.len(), 2);
}
