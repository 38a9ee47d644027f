//! Objects as users move them: multipart uploads through the SDK (with S3's errors for a wrong
//! part list), ranged and conditional reads, and `aws s3 cp` / `aws s3 sync` of a 200 MB file,
//! which the AWS CLI sends in parts and fetches in ranges; bodies the SDK streams from a file,
//! which it signs chunk by chunk over plain HTTP.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart};

use crate::s3::{code, s3};
use rampart_testkit::TestServer;

/// Deterministic, incompressible-looking bytes.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9E37_79B9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// Runs the AWS CLI as the server's root; its output (the test fails if the command does).
async fn aws_ok(server: &TestServer, args: &[&str]) -> String {
    let creds = server.data_dir().join("root-credentials");
    let (ok, stdout, stderr) = crate::cli::aws(server, &creds, args).await;
    assert!(ok, "aws {args:?}: {stderr}");
    stdout
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build()).collect(),
        ))
        .build()
}

#[tokio::test]
async fn multipart_uploads_assemble_listed_parts_and_refuse_wrong_lists() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("media").send().await.unwrap();
    let (first, second) = (pattern(5 * 1024 * 1024 + 17, 1), pattern(300_000, 2));

    let up =
        c.create_multipart_upload().bucket("media").key("film.bin").content_type("video/mp4").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let part = |n: i32, body: &[u8]| {
        c.upload_part()
            .bucket("media")
            .key("film.bin")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(body.to_vec()))
            .send()
    };
    // Parts arrive in any order; one sent again replaces the last.
    let e2 = part(2, b"draft").await.unwrap().e_tag().unwrap().to_owned();
    let e2b = part(2, &second).await.unwrap().e_tag().unwrap().to_owned();
    assert_ne!(e2, e2b);
    let e1 = part(1, &first).await.unwrap().e_tag().unwrap().to_owned();
    assert_eq!(code(part(10_001, b"x").await), "InvalidArgument");
    let listed = c.list_parts().bucket("media").key("film.bin").upload_id(&id).send().await.unwrap();
    let numbers: Vec<(i32, i64)> =
        listed.parts().iter().map(|p| (p.part_number().unwrap(), p.size().unwrap())).collect();
    assert_eq!(numbers, [(1, first.len() as i64), (2, second.len() as i64)]);
    let uploads = c.list_multipart_uploads().bucket("media").send().await.unwrap();
    assert_eq!(uploads.uploads().iter().filter_map(|u| u.upload_id()).collect::<Vec<_>>(), [id.as_str()]);

    let complete = |parts: CompletedMultipartUpload| {
        c.complete_multipart_upload().bucket("media").key("film.bin").upload_id(&id).multipart_upload(parts).send()
    };
    assert_eq!(code(complete(completed(&[(2, &e2b), (1, &e1)])).await), "InvalidPartOrder");
    assert_eq!(code(complete(completed(&[(1, &e1), (2, &e2)])).await), "InvalidPart");
    assert_eq!(code(complete(completed(&[(1, &e1), (3, &e2b)])).await), "InvalidPart");
    let done = complete(completed(&[(1, &e1), (2, &e2b)])).await.unwrap();
    assert!(done.e_tag().unwrap().ends_with("-2\""), "{:?}", done.e_tag());

    let got = c.get_object().bucket("media").key("film.bin").send().await.unwrap();
    assert_eq!(got.content_type(), Some("video/mp4"));
    assert_eq!(got.e_tag(), done.e_tag());
    let whole = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(whole.len(), first.len() + second.len());
    assert!(whole[..first.len()] == first[..] && whole[first.len()..] == second[..]);
    // A range across the parts' seam, and one from the end.
    let seam = first.len() - 10;
    let r = c
        .get_object()
        .bucket("media")
        .key("film.bin")
        .range(format!("bytes={seam}-{}", seam + 19))
        .send()
        .await
        .unwrap();
    assert_eq!(r.content_range(), Some(format!("bytes {seam}-{}/{}", seam + 19, whole.len()).as_str()));
    assert_eq!(r.body.collect().await.unwrap().into_bytes().as_ref(), &whole[seam..seam + 20]);
    let tail = c.get_object().bucket("media").key("film.bin").range("bytes=-5").send().await.unwrap();
    assert_eq!(tail.body.collect().await.unwrap().into_bytes().as_ref(), &whole[whole.len() - 5..]);
    assert_eq!(
        code(c.get_object().bucket("media").key("film.bin").range("bytes=999999999-").send().await),
        "InvalidRange"
    );
    // Conditional reads: a matching If-None-Match is 304, a failing If-Match 412.
    let etag = done.e_tag().unwrap();
    let unchanged = c.get_object().bucket("media").key("film.bin").if_none_match(etag).send().await;
    assert_eq!(unchanged.unwrap_err().raw_response().map(|r| r.status().as_u16()), Some(304));
    assert_eq!(
        code(c.get_object().bucket("media").key("film.bin").if_match("\"nope\"").send().await),
        "PreconditionFailed"
    );
    // The upload is gone once complete.
    assert_eq!(code(c.list_parts().bucket("media").key("film.bin").upload_id(&id).send().await), "NoSuchUpload");

    // Reads by part: the completed object's second part, its size by HEAD, and S3's refusals.
    let part = c.get_object().bucket("media").key("film.bin").part_number(2).send().await.unwrap();
    assert_eq!(part.parts_count(), Some(2));
    let from = first.len();
    assert_eq!(part.content_range(), Some(format!("bytes {from}-{}/{}", whole.len() - 1, whole.len()).as_str()));
    assert_eq!(part.e_tag(), done.e_tag(), "the object's ETag, not the part's");
    assert!(part.body.collect().await.unwrap().into_bytes() == second.as_slice());
    let head = c.head_object().bucket("media").key("film.bin").part_number(1).send().await.unwrap();
    assert_eq!((head.content_length(), head.parts_count()), (Some(first.len() as i64), Some(2)));
    assert_eq!(code(c.get_object().bucket("media").key("film.bin").part_number(3).send().await), "InvalidPart");
    let both = c.get_object().bucket("media").key("film.bin").part_number(1).range("bytes=0-1");
    assert_eq!(code(both.send().await), "InvalidRequest");
    // An object sent in one piece is its own part 1, and has no other.
    c.put_object().bucket("media").key("one.txt").body(ByteStream::from_static(b"whole")).send().await.unwrap();
    let one = c.get_object().bucket("media").key("one.txt").part_number(1).send().await.unwrap();
    assert_eq!((one.parts_count(), one.content_range()), (None, None));
    assert_eq!(one.body.collect().await.unwrap().into_bytes().as_ref(), b"whole");
    assert_eq!(code(c.get_object().bucket("media").key("one.txt").part_number(2).send().await), "InvalidPart");
    c.delete_object().bucket("media").key("one.txt").send().await.unwrap();

    // Every part but the last must be 5 MiB at least; an aborted upload is gone, bytes and all.
    let small = c.create_multipart_upload().bucket("media").key("small").send().await.unwrap();
    let sid = small.upload_id().unwrap().to_owned();
    let mut etags = Vec::new();
    for n in 1..=2 {
        let p = c
            .upload_part()
            .bucket("media")
            .key("small")
            .upload_id(&sid)
            .part_number(n)
            .body(ByteStream::from_static(b"tiny"))
            .send()
            .await
            .unwrap();
        etags.push(p.e_tag().unwrap().to_owned());
    }
    let too_small = c
        .complete_multipart_upload()
        .bucket("media")
        .key("small")
        .upload_id(&sid)
        .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1])]))
        .send()
        .await;
    assert_eq!(code(too_small), "EntityTooSmall");
    c.abort_multipart_upload().bucket("media").key("small").upload_id(&sid).send().await.unwrap();
    assert_eq!(
        code(c.abort_multipart_upload().bucket("media").key("small").upload_id(&sid).send().await),
        "NoSuchUpload"
    );
    assert!(c.list_multipart_uploads().bucket("media").send().await.unwrap().uploads().is_empty());

    // Deleting the object deletes its parts' bytes: the bucket then empties completely.
    c.delete_object().bucket("media").key("film.bin").send().await.unwrap();
    c.delete_bucket().bucket("media").send().await.unwrap();
}

/// CopyObject: the source's bytes and (by default) metadata into a new version of the
/// destination; a self-copy that changes nothing is refused; the source's preconditions hold;
/// `aws s3 cp` between buckets copies a large object in parts (UploadPartCopy).
#[tokio::test(flavor = "multi_thread")]
async fn copies_carry_bytes_and_metadata_as_the_directives_say() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    for b in ["src-bucket", "dst-bucket"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    c.put_object()
        .bucket("src-bucket")
        .key("a b.txt")
        .content_type("text/plain")
        .metadata("origin", "till-3")
        .body(ByteStream::from_static(b"receipt 42"))
        .send()
        .await
        .unwrap();
    let copied =
        c.copy_object().bucket("dst-bucket").key("copy.txt").copy_source("src-bucket/a%20b.txt").send().await.unwrap();
    assert!(copied.copy_object_result().and_then(|r| r.e_tag()).is_some());
    let got = c.get_object().bucket("dst-bucket").key("copy.txt").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("till-3"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"receipt 42");
    let replaced = c
        .copy_object()
        .bucket("dst-bucket")
        .key("copy.txt")
        .copy_source("dst-bucket/copy.txt")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .content_type("application/json")
        .send()
        .await;
    assert_eq!(code(replaced), "OK");
    let head = c.head_object().bucket("dst-bucket").key("copy.txt").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/json"));
    assert!(head.metadata().is_none_or(|m| m.is_empty()));
    let itself = c.copy_object().bucket("dst-bucket").key("copy.txt").copy_source("dst-bucket/copy.txt").send().await;
    assert_eq!(code(itself), "InvalidRequest");
    let stale = c
        .copy_object()
        .bucket("dst-bucket")
        .key("other.txt")
        .copy_source("src-bucket/a%20b.txt")
        .copy_source_if_match("\"nope\"")
        .send()
        .await;
    assert_eq!(code(stale), "PreconditionFailed");
    assert_eq!(
        code(c.copy_object().bucket("dst-bucket").key("x").copy_source("src-bucket/missing").send().await),
        "NoSuchKey"
    );

    // The CLI copies a 20 MB object between buckets in parts.
    let big = pattern(20 * 1024 * 1024, 9);
    c.put_object().bucket("src-bucket").key("big.bin").body(ByteStream::from(big.clone())).send().await.unwrap();
    aws_ok(&server, &["s3", "cp", "s3://src-bucket/big.bin", "s3://dst-bucket/big.bin", "--only-show-errors"]).await;
    let head = c.head_object().bucket("dst-bucket").key("big.bin").send().await.unwrap();
    assert!(head.e_tag().unwrap().contains('-'), "copied in parts: {:?}", head.e_tag());
    let back = c.get_object().bucket("dst-bucket").key("big.bin").send().await.unwrap();
    assert!(back.body.collect().await.unwrap().into_bytes().as_ref() == big.as_slice());
}

/// The AWS CLI's own transfer manager: a 200 MB file goes up in parts and comes back in ranges,
/// byte for byte; `sync` then finds nothing to do.
#[tokio::test(flavor = "multi_thread")]
async fn aws_s3_cp_and_sync_move_a_200_mb_file_in_parts() {
    let _heavy = crate::LOAD.write().await;
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("backups").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let big = pattern(200 * 1024 * 1024, 7);
    std::fs::write(src.join("big.bin"), &big).unwrap();
    std::fs::write(src.join("small.txt"), b"hello").unwrap();
    let src_arg = src.join("big.bin").display().to_string();
    aws_ok(&server, &["s3", "cp", &src_arg, "s3://backups/big.bin", "--only-show-errors"]).await;
    let head = c.head_object().bucket("backups").key("big.bin").send().await.unwrap();
    assert_eq!(head.content_length(), Some(big.len() as i64));
    assert!(head.e_tag().unwrap().contains('-'), "the CLI sent parts: {:?}", head.e_tag());

    let back = dir.path().join("back.bin");
    let back_arg = back.display().to_string();
    aws_ok(&server, &["s3", "cp", "s3://backups/big.bin", &back_arg, "--only-show-errors"]).await;
    assert!(std::fs::read(&back).unwrap() == big, "the downloaded file differs");

    let src_dir = src.display().to_string();
    aws_ok(&server, &["s3", "sync", &src_dir, "s3://backups/", "--only-show-errors"]).await;
    let again = aws_ok(&server, &["s3", "sync", &src_dir, "s3://backups/", "--dryrun"]).await;
    assert!(again.trim().is_empty(), "sync found work after syncing: {again}");
    let keys = c.list_objects_v2().bucket("backups").send().await.unwrap();
    let keys: Vec<&str> = keys.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["big.bin", "small.txt"]);
}

/// Notes the `x-amz-content-sha256` of every request the SDK sends.
#[derive(Debug, Clone, Default)]
struct PayloadModes(Arc<Mutex<Vec<String>>>);

impl Intercept for PayloadModes {
    fn name(&self) -> &'static str {
        "PayloadModes"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mode = context.request().headers().get("x-amz-content-sha256").unwrap_or("-").to_owned();
        self.0.lock().map_err(|_| "poisoned")?.push(mode);
        Ok(())
    }
}

/// The SDK streams a file body over plain HTTP as `aws-chunked`, signing every 64 KiB chunk and
/// the checksum trailer; the server checks each signature and stores exactly the file.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_streamed_by_the_sdk_is_signed_chunk_by_chunk() {
    let server = TestServer::start().await.unwrap();
    let modes = PayloadModes::default();
    let base = s3(&server, &server.access_key_id, &server.secret_access_key);
    let conf = base.config().to_builder().interceptor(modes.clone()).build();
    let c = aws_sdk_s3::Client::from_conf(conf);
    c.create_bucket().bucket("streams").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.bin");
    let data = pattern(6 * 1024 * 1024 + 12_345, 9);
    std::fs::write(&file, &data).unwrap();

    let put = c
        .put_object()
        .bucket("streams")
        .key("data.bin")
        .body(ByteStream::from_path(&file).await.unwrap())
        .send()
        .await
        .unwrap();
    assert!(put.checksum_crc32().is_some(), "the trailer's checksum is answered: {put:?}");
    assert_eq!(modes.0.lock().unwrap().last().map(String::as_str), Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"));
    let got = c.get_object().bucket("streams").key("data.bin").checksum_mode(ChecksumMode::Enabled).send().await;
    let got = got.unwrap();
    assert_eq!(got.checksum_crc32(), put.checksum_crc32());
    assert!(got.body.collect().await.unwrap().into_bytes() == data, "the object differs from the file");

    // The same file as two parts, each streamed from its offset.
    let up = c.create_multipart_upload().bucket("streams").key("parts.bin").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let five = 5 * 1024 * 1024;
    let mut parts = Vec::new();
    for (n, offset, len) in [(1, 0, five), (2, five, data.len() - five)] {
        let body = ByteStream::read_from().path(&file).offset(offset as u64).length(Length::Exact(len as u64));
        let part = c.upload_part().bucket("streams").key("parts.bin").upload_id(id).part_number(n);
        let part = part.body(body.build().await.unwrap()).send().await.unwrap();
        parts.push((n, part.e_tag().unwrap().to_owned()));
    }
    let listed: Vec<(i32, &str)> = parts.iter().map(|(n, e)| (*n, e.as_str())).collect();
    let done = c.complete_multipart_upload().bucket("streams").key("parts.bin").upload_id(id);
    done.multipart_upload(completed(&listed)).send().await.unwrap();
    let got = c.get_object().bucket("streams").key("parts.bin").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == data, "the assembled object differs");
    let modes = modes.0.lock().unwrap();
    assert!(
        modes.iter().filter(|m| *m == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER").count() == 3,
        "the file and both parts went signed chunk by chunk: {modes:?}"
    );
}

fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64.encode(bytes)
}

fn crc(alg: crc_fast::CrcAlgorithm, data: &[u8], width: usize) -> Vec<u8> {
    crc_fast::checksum(alg, data).to_be_bytes()[8 - width..].to_vec()
}

/// Every flexible checksum the SDK can send is checked and kept; an object sent without one gets
/// CRC64NVME, as S3 adds; a wrong or doubled checksum is refused; a range is not given the
/// whole object's checksum.
#[tokio::test]
async fn flexible_checksums_are_checked_kept_and_answered() {
    use aws_sdk_s3::types::ChecksumAlgorithm as Alg;
    use crc_fast::CrcAlgorithm as Crc;
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("sums").send().await.unwrap();
    let data = pattern(100_000, 3);
    let sha = |a: &'static aws_lc_rs::digest::Algorithm| aws_lc_rs::digest::digest(a, &data).as_ref().to_vec();
    let expected = [
        (Alg::Crc32, crc(Crc::Crc32IsoHdlc, &data, 4)),
        (Alg::Crc32C, crc(Crc::Crc32Iscsi, &data, 4)),
        (Alg::Crc64Nvme, crc(Crc::Crc64Nvme, &data, 8)),
        (Alg::Sha1, sha(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY)),
        (Alg::Sha256, sha(&aws_lc_rs::digest::SHA256)),
    ];
    for (alg, want) in &expected {
        let key = alg.as_str();
        let put = c.put_object().bucket("sums").key(key).checksum_algorithm(alg.clone());
        put.body(ByteStream::from(data.clone())).send().await.unwrap();
        let head = c.head_object().bucket("sums").key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let got = [
            head.checksum_crc32(),
            head.checksum_crc32_c(),
            head.checksum_crc64_nvme(),
            head.checksum_sha1(),
            head.checksum_sha256(),
        ];
        let present: Vec<&str> = got.iter().flatten().copied().collect();
        assert_eq!(present, [b64(want).as_str()], "{key}: {head:?}");
        assert_eq!(head.checksum_type().map(|t| t.as_str()), Some("FULL_OBJECT"));
    }

    // No checksum sent: the object keeps CRC64NVME, which the SDK checks on the way back.
    let plain = aws_sdk_s3::Client::from_conf(
        c.config()
            .to_builder()
            .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
            .build(),
    );
    plain.put_object().bucket("sums").key("plain").body(ByteStream::from(data.clone())).send().await.unwrap();
    let got = c.get_object().bucket("sums").key("plain").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.checksum_crc64_nvme(), Some(b64(&expected[2].1).as_str()));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().len(), data.len());
    // A range's bytes are not what the checksum covers: none is answered.
    let part = c.get_object().bucket("sums").key("plain").range("bytes=0-99").checksum_mode(ChecksumMode::Enabled);
    let part = part.send().await.unwrap();
    assert_eq!((part.checksum_crc64_nvme(), part.checksum_type()), (None, None));

    // A wrong value, and two kinds at once, are refused; nothing is stored.
    let wrong = plain.put_object().bucket("sums").key("wrong").checksum_crc32_c("AAAAAA==");
    assert_eq!(code(wrong.body(ByteStream::from(data.clone())).send().await), "BadDigest");
    let crc32c = b64(&expected[1].1);
    let both =
        plain.put_object().bucket("sums").key("both").checksum_crc32_c(&crc32c).checksum_sha256(b64(&expected[4].1));
    assert_eq!(code(both.body(ByteStream::from(data.clone())).send().await), "InvalidRequest");
    for key in ["wrong", "both"] {
        assert_eq!(code(c.head_object().bucket("sums").key(key).send().await), "NotFound", "{key}");
    }
}

/// Multipart checksums: composite (the checksum of the parts' checksums, `-N`), full-object (the
/// parts' CRCs combined into the whole object's), and S3's CRC64NVME when the upload names none.
#[tokio::test(flavor = "multi_thread")]
async fn multipart_checksums_are_composite_or_full_object() {
    use aws_sdk_s3::types::{ChecksumAlgorithm as Alg, ChecksumType};
    use crc_fast::CrcAlgorithm as Crc;
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("multi-sums").send().await.unwrap();
    let (first, second) = (pattern(5 * 1024 * 1024, 4), pattern(70_000, 5));
    let whole = [first.as_slice(), &second].concat();

    // Begins an upload, sends both parts, and gives (upload id, [(etag, part checksum)]).
    let upload = |key: &'static str, alg: Option<Alg>, kind: Option<ChecksumType>| {
        let c = c.clone();
        let (first, second) = (first.clone(), second.clone());
        async move {
            let up = c.create_multipart_upload().bucket("multi-sums").key(key).set_checksum_algorithm(alg.clone());
            let up = up.set_checksum_type(kind).send().await.unwrap();
            let id = up.upload_id().unwrap().to_owned();
            let mut parts = Vec::new();
            for (n, body) in [(1, first), (2, second)] {
                let p = c.upload_part().bucket("multi-sums").key(key).upload_id(&id).part_number(n);
                let p = p.set_checksum_algorithm(alg.clone()).body(ByteStream::from(body)).send().await.unwrap();
                let sum =
                    [p.checksum_crc32_c(), p.checksum_crc64_nvme(), p.checksum_crc32()].into_iter().flatten().next();
                parts.push((p.e_tag().unwrap().to_owned(), sum.unwrap_or_default().to_owned()));
            }
            (id, parts)
        }
    };

    // Composite CRC32C: each part's checksum must be listed; the object's is of theirs.
    let (id, parts) = upload("composite", Some(Alg::Crc32C), None).await;
    let listed = |with_sums: bool| {
        CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, (e, sum))| {
                        let p = CompletedPart::builder().part_number(i as i32 + 1).e_tag(e);
                        if with_sums { p.checksum_crc32_c(sum) } else { p }.build()
                    })
                    .collect(),
            ))
            .build()
    };
    let done = c.complete_multipart_upload().bucket("multi-sums").key("composite").upload_id(&id);
    assert_eq!(code(done.clone().multipart_upload(listed(false)).send().await), "InvalidRequest");
    let done = done.multipart_upload(listed(true)).send().await.unwrap();
    let joined = [crc(Crc::Crc32Iscsi, &first, 4), crc(Crc::Crc32Iscsi, &second, 4)].concat();
    let composite = format!("{}-2", b64(&crc(Crc::Crc32Iscsi, &joined, 4)));
    assert_eq!(done.checksum_crc32_c(), Some(composite.as_str()));
    assert_eq!(done.checksum_type(), Some(&ChecksumType::Composite));
    let head = c
        .head_object()
        .bucket("multi-sums")
        .key("composite")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (head.checksum_crc32_c(), head.checksum_type()),
        (Some(composite.as_str()), Some(&ChecksumType::Composite))
    );
    // The SDK reads a composite checksum without trying it against the bytes.
    let got = c.get_object().bucket("multi-sums").key("composite").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == whole);
    // GetObjectAttributes tells what was asked: the ETag unquoted, the checksum and its type,
    // the size, and the parts with theirs, a page at a time.
    use aws_sdk_s3::types::ObjectAttributes as Attr;
    let attrs = c
        .get_object_attributes()
        .bucket("multi-sums")
        .key("composite")
        .object_attributes(Attr::Etag)
        .object_attributes(Attr::Checksum)
        .object_attributes(Attr::ObjectSize)
        .object_attributes(Attr::ObjectParts)
        .max_parts(1)
        .send()
        .await
        .unwrap();
    assert_eq!(attrs.e_tag(), done.e_tag().map(|e| e.trim_matches('"')));
    assert_eq!(attrs.object_size(), Some(whole.len() as i64));
    let sum = attrs.checksum().unwrap();
    assert_eq!(
        (sum.checksum_crc32_c(), sum.checksum_type()),
        (Some(composite.as_str()), Some(&ChecksumType::Composite))
    );
    let page = attrs.object_parts().unwrap();
    assert_eq!((page.total_parts_count(), page.is_truncated()), (Some(2), Some(true)));
    assert_eq!(page.next_part_number_marker(), Some("1"));
    assert_eq!(page.parts()[0].checksum_crc32_c(), Some(parts[0].1.as_str()));
    assert_eq!(page.parts()[0].size(), Some(first.len() as i64));
    let rest = c
        .get_object_attributes()
        .bucket("multi-sums")
        .key("composite")
        .object_attributes(Attr::ObjectParts)
        .part_number_marker("1")
        .send()
        .await
        .unwrap();
    let page = rest.object_parts().unwrap();
    assert_eq!(page.parts().iter().map(|p| p.part_number()).collect::<Vec<_>>(), [Some(2)]);
    assert_eq!((rest.e_tag(), rest.object_size()), (None, None), "only what was asked");
    // A part read by number comes with that part's own checksum.
    let second_part = c
        .head_object()
        .bucket("multi-sums")
        .key("composite")
        .part_number(2)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(second_part.checksum_crc32_c(), Some(parts[1].1.as_str()));
    assert_eq!(second_part.checksum_type(), Some(&ChecksumType::Composite));

    // Full-object CRC64NVME: the parts' CRCs combine into the whole object's; a wrong whole-object
    // value sent with the completion is refused.
    let (id, parts) = upload("full", Some(Alg::Crc64Nvme), Some(ChecksumType::FullObject)).await;
    let plain: Vec<(i32, &str)> = parts.iter().enumerate().map(|(i, (e, _))| (i as i32 + 1, e.as_str())).collect();
    let done = c
        .complete_multipart_upload()
        .bucket("multi-sums")
        .key("full")
        .upload_id(&id)
        .multipart_upload(completed(&plain));
    let wrong = done.clone().checksum_crc64_nvme(b64(&[0u8; 8])).checksum_type(ChecksumType::FullObject);
    assert_eq!(code(wrong.send().await), "BadDigest");
    let full = b64(&crc(Crc::Crc64Nvme, &whole, 8));
    let done = done.checksum_crc64_nvme(&full).checksum_type(ChecksumType::FullObject).send().await.unwrap();
    assert_eq!(
        (done.checksum_crc64_nvme(), done.checksum_type()),
        (Some(full.as_str()), Some(&ChecksumType::FullObject))
    );

    // No algorithm named (the parts went with the SDK's CRC32): the object keeps CRC64NVME.
    let (id, parts) = upload("default", None, None).await;
    let plain: Vec<(i32, &str)> = parts.iter().enumerate().map(|(i, (e, _))| (i as i32 + 1, e.as_str())).collect();
    let done = c.complete_multipart_upload().bucket("multi-sums").key("default").upload_id(&id);
    done.multipart_upload(completed(&plain)).send().await.unwrap();
    let head =
        c.head_object().bucket("multi-sums").key("default").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.checksum_crc64_nvme(), Some(full.as_str()));

    // A part of another kind than its upload's, and a type its algorithm cannot take, are refused.
    let up = c
        .create_multipart_upload()
        .bucket("multi-sums")
        .key("mixed")
        .checksum_algorithm(Alg::Sha256)
        .send()
        .await
        .unwrap();
    let p = c.upload_part().bucket("multi-sums").key("mixed").upload_id(up.upload_id().unwrap()).part_number(1);
    let p = p.checksum_algorithm(Alg::Crc32).body(ByteStream::from(second.clone()));
    assert_eq!(code(p.send().await), "InvalidRequest");
    let bad = c.create_multipart_upload().bucket("multi-sums").key("bad").checksum_algorithm(Alg::Sha1);
    assert_eq!(code(bad.checksum_type(ChecksumType::FullObject).send().await), "InvalidRequest");
}

/// Keys with characters a URL or XML would bend (`+`, `%`, spaces, a control character) list back
/// exactly: boto3 asks every listing for `EncodingType=url` and decodes what comes back marked so;
/// an SDK that asks sees the encoded form; another encoding is refused.
#[tokio::test(flavor = "multi_thread")]
async fn listings_encode_keys_when_asked_and_boto3_reads_them_back() {
    use aws_sdk_s3::types::EncodingType;
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("odd-keys").send().await.unwrap();
    c.put_bucket_versioning()
        .bucket("odd-keys")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let keys = ["a+b c", "dir/100%", "dir/caf\u{e9}", "tab\u{1}key"];
    for k in keys {
        c.put_object().bucket("odd-keys").key(k).body(ByteStream::from_static(b"x")).send().await.unwrap();
    }
    c.create_multipart_upload().bucket("odd-keys").key("up+load%").send().await.unwrap();

    let listed = c.list_objects_v2().bucket("odd-keys").encoding_type(EncodingType::Url).send().await.unwrap();
    let raw: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(raw, ["a%2Bb%20c", "dir/100%25", "dir/caf%C3%A9", "tab%01key"]);
    assert_eq!(listed.encoding_type(), Some(&EncodingType::Url));
    let bogus = c.list_objects_v2().bucket("odd-keys").encoding_type(EncodingType::from("base64"));
    assert_eq!(code(bogus.send().await), "InvalidArgument");

    let script = r#"
import json, sys, boto3
from botocore.config import Config
port, key, secret = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
    aws_access_key_id=key, aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))
print(json.dumps({
    "v2": [o["Key"] for o in s3.list_objects_v2(Bucket="odd-keys")["Contents"]],
    "v2_prefixes": [p["Prefix"] for p in s3.list_objects_v2(Bucket="odd-keys", Delimiter="/")["CommonPrefixes"]],
    "v1": [o["Key"] for o in s3.list_objects(Bucket="odd-keys")["Contents"]],
    "versions": [v["Key"] for v in s3.list_object_versions(Bucket="odd-keys")["Versions"]],
    "uploads": [u["Key"] for u in s3.list_multipart_uploads(Bucket="odd-keys")["Uploads"]],
}))
"#;
    let v = crate::s3::boto3(&server, script).await;
    for listing in ["v2", "v1", "versions"] {
        assert_eq!(v[listing], serde_json::json!(keys), "{listing}");
    }
    assert_eq!(v["v2_prefixes"], serde_json::json!(["dir/"]));
    assert_eq!(v["uploads"], serde_json::json!(["up+load%"]));
}

/// A read longer than the server reads whole is sent as it is read: byte for byte across the
/// parts of a multipart object and the chunks of each, from any offset, under SSE-KMS too.
/// A null version replaced while its download is under way never lends the download its
/// successor's bytes: the download is cut short instead, the client seeing fewer bytes than the
/// length it was told; and the key keeps the chunks of its current version only.
#[tokio::test(flavor = "multi_thread")]
async fn long_reads_are_sent_as_read_and_never_mix_two_versions() {
    use aws_sdk_s3::types::ServerSideEncryption;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _heavy = crate::LOAD.write().await;
    let mut server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("long").send().await.unwrap();

    let parts = [pattern(5 * 1024 * 1024 + 17, 3), pattern(6 * 1024 * 1024 + 3, 4), pattern(300_000, 5)];
    let up = c.create_multipart_upload().bucket("long").key("parts.bin").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let mut etags = Vec::new();
    for (n, body) in (1..).zip(&parts) {
        let p = c.upload_part().bucket("long").key("parts.bin").upload_id(&id).part_number(n);
        let etag = p.body(ByteStream::from(body.clone())).send().await.unwrap().e_tag().unwrap().to_owned();
        etags.push((n, etag));
    }
    let listed: Vec<(i32, &str)> = etags.iter().map(|(n, e)| (*n, e.as_str())).collect();
    let done = c.complete_multipart_upload().bucket("long").key("parts.bin").upload_id(&id);
    done.multipart_upload(completed(&listed)).send().await.unwrap();
    let whole = parts.concat();
    let got = c.get_object().bucket("long").key("parts.bin").send().await.unwrap();
    assert_eq!(got.content_length(), Some(whole.len() as i64));
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == whole.as_slice());
    let (from, to) = (1_000_001usize, 11_500_000usize);
    let got = c.get_object().bucket("long").key("parts.bin").range(format!("bytes={from}-{to}")).send().await.unwrap();
    assert_eq!(got.content_range(), Some(format!("bytes {from}-{to}/{}", whole.len()).as_str()));
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == &whole[from..=to]);

    let sealed = pattern(12 * 1024 * 1024 + 5, 6);
    let put = c.put_object().bucket("long").key("sealed.bin").server_side_encryption(ServerSideEncryption::AwsKms);
    put.body(ByteStream::from(sealed.clone())).send().await.unwrap();
    let got = c.get_object().bucket("long").key("sealed.bin").send().await.unwrap();
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == sealed.as_slice());

    // A download that reads slowly while its object is replaced.
    let (first, second) = (pattern(48 * 1024 * 1024, 7), pattern(48 * 1024 * 1024, 8));
    c.put_object().bucket("long").key("race.bin").body(ByteStream::from(first.clone())).send().await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.endpoint.trim_start_matches("http://")).await.unwrap();
    stream.write_all(&crate::robustness::signed_head(&server, "GET", "/long/race.bin", &[])).await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let body_at = loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the answer ends in its head");
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&got[..body_at]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200") && head.contains(&format!("content-length: {}", first.len())), "{head}");
    let mut body = got.split_off(body_at);
    while body.len() < 1024 * 1024 {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        body.extend_from_slice(&buf[..n]);
    }
    c.put_object().bucket("long").key("race.bin").body(ByteStream::from(second.clone())).send().await.unwrap();
    let rest = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&buf[..n]),
            }
        }
    });
    rest.await.expect("the download ends");
    assert!(body.len() < first.len(), "the download is cut short, not finished with the new bytes");
    assert!(body == first[..body.len()], "every byte sent is the first version's");
    let now = c.get_object().bucket("long").key("race.bin").send().await.unwrap();
    assert!(now.body.collect().await.unwrap().into_bytes().as_ref() == second.as_slice());

    // A shorter null version written over it keeps no chunk of the longer one.
    let short = pattern(1024 * 1024 + 512 * 1024, 9);
    c.put_object().bucket("long").key("race.bin").body(ByteStream::from(short.clone())).send().await.unwrap();
    let now = c.get_object().bucket("long").key("race.bin").send().await.unwrap();
    assert!(now.body.collect().await.unwrap().into_bytes().as_ref() == short.as_slice());
    server.stop().await;
    let db = server.open_store().unwrap();
    let chunks = db.scan_prefix(b"s3/data/long/race.bin\0", None, 1000, false).unwrap();
    assert_eq!(chunks.len(), 2, "the 1.5 MiB version's two chunks, and nothing of the 48 MiB ones");
    db.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_keep_their_http_headers_and_reads_may_override_them() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("site").send().await.unwrap();
    c.put_object()
        .bucket("site")
        .key("app.js.gz")
        .body(ByteStream::from_static(b"gz"))
        .content_type("application/javascript")
        .cache_control("max-age=3600")
        .content_disposition("inline")
        .content_encoding("aws-chunked, gzip")
        .content_language("en")
        .website_redirect_location("/app.js")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("site").key("app.js.gz").send().await.unwrap();
    assert_eq!(head.cache_control(), Some("max-age=3600"));
    assert_eq!(head.content_disposition(), Some("inline"));
    // `aws-chunked` was how the upload was framed, not what the object is.
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(head.content_language(), Some("en"));
    assert_eq!(head.website_redirect_location(), Some("/app.js"));
    // A signed read may ask for other headers; an anonymous one may not.
    let got = c
        .get_object()
        .bucket("site")
        .key("app.js.gz")
        .response_content_type("text/plain")
        .response_cache_control("no-store")
        .send()
        .await
        .unwrap();
    assert_eq!((got.content_type(), got.cache_control()), (Some("text/plain"), Some("no-store")));
    let open = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(false)
        .ignore_public_acls(false)
        .block_public_policy(false)
        .restrict_public_buckets(false)
        .build();
    c.put_public_access_block().bucket("site").public_access_block_configuration(open).send().await.unwrap();
    let readable = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;
    c.put_bucket_policy().bucket("site").policy(readable).send().await.unwrap();
    let url = format!("{}/site/app.js.gz", server.endpoint);
    assert_eq!(reqwest_status(&url).await, 200);
    assert_eq!(reqwest_status(&format!("{url}?response-content-type=text/plain")).await, 400);
    // A copy keeps them, unless it replaces the metadata.
    c.copy_object().bucket("site").key("copy.gz").copy_source("site/app.js.gz").send().await.unwrap();
    let copied = c.head_object().bucket("site").key("copy.gz").send().await.unwrap();
    assert_eq!(copied.content_encoding(), Some("gzip"));
    c.copy_object()
        .bucket("site")
        .key("plain")
        .copy_source("site/app.js.gz")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .send()
        .await
        .unwrap();
    assert_eq!(c.head_object().bucket("site").key("plain").send().await.unwrap().content_encoding(), None);
    // A multipart upload's object keeps what its upload began with.
    let up = c.create_multipart_upload().bucket("site").key("big").cache_control("max-age=60").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = c.upload_part().bucket("site").key("big").upload_id(id).part_number(1);
    let part = part.body(ByteStream::from_static(b"x")).send().await.unwrap();
    let list = completed(&[(1, part.e_tag().unwrap())]);
    c.complete_multipart_upload().bucket("site").key("big").upload_id(id).multipart_upload(list).send().await.unwrap();
    assert_eq!(c.head_object().bucket("site").key("big").send().await.unwrap().cache_control(), Some("max-age=60"));
    // Encryption headers belong to writes: a read that sends them is refused.
    let sse = c
        .get_object()
        .bucket("site")
        .key("big")
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-amz-server-side-encryption", "AES256");
        })
        .send()
        .await;
    assert_eq!(code(sse), "InvalidArgument");
}

/// Begins an upload of `(bucket, key)` and sends its one part: (upload id, the part's ETag).
async fn one_part_upload(c: &aws_sdk_s3::Client, (bucket, key): (&str, &str), body: &'static [u8]) -> (String, String) {
    let up = c.create_multipart_upload().bucket(bucket).key(key).send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let part = c.upload_part().bucket(bucket).key(key).upload_id(&id).part_number(1);
    let part = part.body(ByteStream::from_static(body)).send().await.unwrap();
    (id, part.e_tag().unwrap().to_owned())
}

/// The status of an unsigned GET.
async fn reqwest_status(url: &str) -> u16 {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    client.get(url.parse().unwrap()).await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_writes_and_a_retried_completion_answer_as_s3_does() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("ledger").send().await.unwrap();
    let put = || c.put_object().bucket("ledger").key("day").body(ByteStream::from_static(b"1"));
    let etag = put().if_none_match("*").send().await.unwrap().e_tag().unwrap().to_owned();
    // If-None-Match refuses an object it matches: any (`*`), or its ETag; not another ETag.
    assert_eq!(code(put().if_none_match("*").send().await), "PreconditionFailed");
    assert_eq!(code(put().if_none_match(&etag).send().await), "PreconditionFailed");
    assert_eq!(code(put().if_none_match("\"0000\"").send().await), "OK");
    // If-Match needs an object it matches; with none there, it is NoSuchKey.
    assert_eq!(code(put().if_match("*").send().await), "OK");
    assert_eq!(code(put().if_match("\"0000\"").send().await), "PreconditionFailed");
    c.delete_object().bucket("ledger").key("day").send().await.unwrap();
    assert_eq!(code(put().if_match("*").send().await), "NoSuchKey");

    // A conditional GET's 304 carries the ETag.
    let etag = put().send().await.unwrap().e_tag().unwrap().to_owned();
    let unchanged = c.get_object().bucket("ledger").key("day").if_none_match(&etag).send().await.unwrap_err();
    let raw = unchanged.raw_response().expect("a response");
    assert_eq!(raw.status().as_u16(), 304);
    assert_eq!(raw.headers().get("etag"), Some(etag.as_str()));

    // Completing an upload again, with the same parts, answers as the first completion did.
    let (id, etag) = one_part_upload(&c, ("ledger", "year"), b"365").await;
    let complete = |parts: &[(i32, &str)]| {
        c.complete_multipart_upload()
            .bucket("ledger")
            .key("year")
            .upload_id(&id)
            .multipart_upload(completed(parts))
            .send()
    };
    let first = complete(&[(1, &etag)]).await.unwrap();
    let again = complete(&[(1, &etag)]).await.unwrap();
    assert_eq!(first.e_tag(), again.e_tag());
    assert_eq!(code(complete(&[(2, &etag)]).await), "NoSuchUpload");
    // If-None-Match on completion refuses to replace an object.
    let (id, etag) = one_part_upload(&c, ("ledger", "year"), b"366").await;
    let refused = c
        .complete_multipart_upload()
        .bucket("ledger")
        .key("year")
        .upload_id(id)
        .if_none_match("*")
        .multipart_upload(completed(&[(1, &etag)]))
        .send()
        .await;
    assert_eq!(code(refused), "PreconditionFailed");

    // A listing of no keys is complete.
    let none = c.list_objects_v2().bucket("ledger").max_keys(0).send().await.unwrap();
    assert_eq!((none.is_truncated(), none.key_count()), (Some(false), Some(0)));
}

/// A browser's upload: boto3's `generate_presigned_post` signs a form, urllib3 posts it as a
/// browser would (multipart/form-data, the file last), in both addressing styles. The policy
/// bounds the key, the size and every field; the signature is the signer's, weighed by the bucket
/// policy as any PutObject (`s3:authType` is `POST`); an unsigned form is anonymous.
#[tokio::test]
async fn a_browser_uploads_through_a_presigned_post_form() {
    let server = TestServer::start().await.unwrap();
    let script = r#"
import json, sys, boto3, urllib3
from botocore.config import Config
port, key, secret = sys.argv[1], sys.argv[2], sys.argv[3]
def client(style):
    return boto3.client("s3", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": style}, signature_version="s3v4",
                      proxies={"http": f"http://127.0.0.1:{port}"}, retries={"max_attempts": 1}))
s3 = client("path")
s3.create_bucket(Bucket="forms")
s3.put_bucket_policy(Bucket="forms", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::forms/blocked/*",
    "Condition": {"StringEquals": {"s3:authType": "POST"}}}]}))
http = urllib3.PoolManager(retries=False)
def post(p, file=b"hello from a form", filename="hello.txt", change=None, drop=(), host=None):
    fields = dict(p["fields"])
    fields.update(change or {})
    for d in drop:
        fields.pop(d, None)
    fields["file"] = (filename, file, "text/plain")
    # No DNS here resolves BUCKET.localhost: a virtual-hosted form goes to the server by address.
    url = f"http://127.0.0.1:{port}/" if host else p["url"].replace(f"localhost:{port}", f"127.0.0.1:{port}")
    headers = {"Host": host} if host else {}
    r = http.request("POST", url, fields=fields, headers=headers, redirect=False)
    return {"status": r.status, "body": r.data.decode(), "location": r.headers.get("Location"),
            "etag": r.headers.get("ETag")}
form = s3.generate_presigned_post("forms", "uploads/${filename}",
    Fields={"Content-Type": "text/plain", "success_action_status": "201", "x-amz-meta-who": "browser"},
    Conditions=[["starts-with", "$Content-Type", "text/"], {"success_action_status": "201"},
                {"x-amz-meta-who": "browser"}, ["content-length-range", 1, 100]],
    ExpiresIn=300)
out = {"ok": post(form)}
got = s3.get_object(Bucket="forms", Key="uploads/hello.txt")
out["stored"] = {"body": got["Body"].read().decode(), "type": got["ContentType"], "meta": got["Metadata"],
                 "sse": got.get("ServerSideEncryption"), "etag": got["ETag"]}
out["extra"] = post(form, change={"x-amz-meta-extra": "1"})
out["large"] = post(form, file=b"x" * 101)
out["forged"] = post(form, change={"x-amz-signature": "0" * 64})
out["key"] = post(form, change={"key": "elsewhere/${filename}"})
out["no_file_name_key"] = post(form, drop=("key",))
out["anonymous"] = post(form, drop=("policy", "x-amz-signature", "x-amz-algorithm", "x-amz-credential", "x-amz-date"))
out["sigv2"] = post(form, change={"AWSAccessKeyId": key, "signature": "c2ln"},
                    drop=("x-amz-signature", "x-amz-algorithm", "x-amz-credential", "x-amz-date"))
blocked = s3.generate_presigned_post("forms", "blocked/x", ExpiresIn=300)
out["blocked"] = post(blocked)
s3.put_object(Bucket="forms", Key="blocked/y", Body=b"a PUT is not a POST")
redirect = s3.generate_presigned_post("forms", "r/${filename}",
    Fields={"success_action_redirect": "https://app.example/done"},
    Conditions=[{"success_action_redirect": "https://app.example/done"}], ExpiresIn=300)
out["redirect"] = post(redirect, filename="a b.txt")
v = client("virtual").generate_presigned_post("forms", "v/one", ExpiresIn=300)
out["virtual_url"] = v["url"]
out["virtual"] = post(v, host=f"forms.localhost:{port}")
out["virtual_body"] = s3.get_object(Bucket="forms", Key="v/one")["Body"].read().decode()
# An object may be form-encoded text: its PUT is S3's, not an awsQuery call.
s3.put_object(Bucket="forms", Key="form.txt", Body=b"a=b&Action=x", ContentType="application/x-www-form-urlencoded")
out["form_typed"] = s3.get_object(Bucket="forms", Key="form.txt")["Body"].read().decode()
print(json.dumps(out))
"#;
    let v = crate::s3::boto3(&server, script).await;
    let ok = &v["ok"];
    assert_eq!(ok["status"], 201, "{ok}");
    let body = ok["body"].as_str().unwrap();
    assert!(body.contains("<Bucket>forms</Bucket><Key>uploads/hello.txt</Key>"), "{body}");
    assert_eq!(ok["etag"], v["stored"]["etag"]);
    assert!(ok["location"].as_str().unwrap().ends_with("/forms/uploads/hello.txt"), "{ok}");
    assert_eq!(v["stored"]["body"], "hello from a form");
    assert_eq!(v["stored"]["type"], "text/plain");
    assert_eq!(v["stored"]["meta"], serde_json::json!({"who": "browser"}));
    assert_eq!(v["stored"]["sse"], "AES256");
    let refused = |name: &str, status: u64, code: &str| {
        let r = &v[name];
        assert_eq!(r["status"], status, "{name}: {r}");
        let body = r["body"].as_str().unwrap();
        assert!(body.contains(&format!("<Code>{code}</Code>")), "{name}: {body}");
    };
    refused("extra", 403, "AccessDenied");
    assert!(v["extra"]["body"].as_str().unwrap().contains("Extra input fields: x-amz-meta-extra"));
    refused("large", 400, "EntityTooLarge");
    refused("forged", 403, "SignatureDoesNotMatch");
    refused("key", 403, "AccessDenied");
    refused("no_file_name_key", 400, "InvalidArgument");
    refused("anonymous", 403, "AccessDenied");
    refused("sigv2", 400, "InvalidRequest");
    refused("blocked", 403, "AccessDenied");
    let redirect = &v["redirect"];
    assert_eq!(redirect["status"], 303, "{redirect}");
    let to = redirect["location"].as_str().unwrap();
    assert!(to.starts_with("https://app.example/done?bucket=forms&key=r%2Fa%20b.txt&etag=%22"), "{to}");
    assert!(v["virtual_url"].as_str().unwrap().starts_with("http://forms.localhost:"), "{}", v["virtual_url"]);
    assert_eq!(v["virtual"]["status"], 204, "{}", v["virtual"]);
    assert_eq!(v["virtual_body"], "hello from a form");
    assert_eq!(v["form_typed"], "a=b&Action=x");
}

/// Sends an upload's head (`text`) and waits for the first answer before any body byte. When the
/// server says to continue, sends `body` and returns the final answer's head too; when it refuses,
/// returns the refusal's head and body.
async fn put_waiting_for_continue(addr: std::net::SocketAddr, text: &str, body: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The response head (up to its blank line), within 5 s.
    async fn head(conn: &mut tokio::net::TcpStream) -> String {
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut byte))
                .await
                .expect("an answer before the body is sent")
                .unwrap();
            assert_eq!(n, 1, "the connection closed after {:?}", String::from_utf8_lossy(&got));
            got.push(byte[0]);
        }
        String::from_utf8(got).unwrap()
    }
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(text.as_bytes()).await.unwrap();
    let first = head(&mut conn).await;
    if first.starts_with("HTTP/1.1 100") {
        conn.write_all(body).await.unwrap();
        return (first, head(&mut conn).await);
    }
    assert!(first.to_ascii_lowercase().contains("connection: close"), "{first}");
    let mut rest = String::new();
    conn.read_to_string(&mut rest).await.unwrap();
    (first, rest)
}

/// A client that sends `Expect: 100-continue` (the AWS CLI and the SDKs do for large uploads)
/// learns that its signature fails, or that an unsigned upload is not allowed, from the headers
/// alone, and never sends the body; one that may upload is told to continue and stores the
/// object.
#[tokio::test]
async fn an_upload_waiting_for_100_continue_is_refused_before_its_body() {
    let server = TestServer::start().await.unwrap();
    let c = s3(&server, &server.access_key_id, &server.secret_access_key);
    c.create_bucket().bucket("patient").send().await.unwrap();
    let addr = server.running.as_ref().unwrap().addr;
    let body = pattern(1 << 20, 3);
    let head_of = |req: &http::Request<Vec<u8>>| {
        let mut text = format!("PUT {} HTTP/1.1\r\n", req.uri().path());
        for (k, v) in req.headers() {
            text.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
        }
        text + "\r\n"
    };
    let unsigned = |key: &str| {
        let req = http::Request::put(format!("{}/patient/{key}", server.endpoint))
            .header("host", addr.to_string())
            .header("content-length", body.len())
            .header("expect", "100-continue")
            .body(Vec::new())
            .unwrap();
        head_of(&req)
    };
    for (secret, continues) in [("not-the-secret", false), (server.secret_access_key.as_str(), true)] {
        let req = http::Request::put(format!("{}/patient/big.bin", server.endpoint))
            .header("content-length", body.len())
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header("expect", "100-continue")
            .body(Vec::new())
            .unwrap();
        let req = rampart_testkit::sign_request(
            req,
            &server.access_key_id,
            secret,
            "s3",
            std::time::SystemTime::now(),
            aws_sigv4::http_request::SignatureLocation::Headers,
        )
        .unwrap();
        let (first, rest) = put_waiting_for_continue(addr, &head_of(&req), &body).await;
        if continues {
            assert!(first.starts_with("HTTP/1.1 100 Continue"), "{first}");
            assert!(rest.starts_with("HTTP/1.1 200"), "{rest}");
        } else {
            assert!(first.starts_with("HTTP/1.1 403"), "{first}");
            assert!(rest.contains("<Code>SignatureDoesNotMatch</Code>"), "{rest}");
        }
    }
    let got = c.get_object().bucket("patient").key("big.bin").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());

    // Unsigned: refused before the body where no policy lets everyone write; let in where one does.
    let (first, rest) = put_waiting_for_continue(addr, &unsigned("open/drop.bin"), &body).await;
    assert!(first.starts_with("HTTP/1.1 403"), "{first}");
    assert!(rest.contains("<Code>AccessDenied</Code>"), "{rest}");
    c.delete_public_access_block().bucket("patient").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
        "Action":"s3:PutObject","Resource":"arn:aws:s3:::patient/open/*"}]}"#;
    c.put_bucket_policy().bucket("patient").policy(policy).send().await.unwrap();
    let (first, rest) = put_waiting_for_continue(addr, &unsigned("open/drop.bin"), &body).await;
    assert!(first.starts_with("HTTP/1.1 100 Continue"), "{first}");
    assert!(rest.starts_with("HTTP/1.1 200"), "{rest}");
    let (first, _) = put_waiting_for_continue(addr, &unsigned("closed/drop.bin"), &body).await;
    assert!(first.starts_with("HTTP/1.1 403"), "{first}");
    let got = c.get_object().bucket("patient").key("open/drop.bin").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().len(), body.len());
}
