//! S3's POST uploads: a browser posts an HTML form to a bucket (`generate_presigned_post` in
//! boto3, `createPresignedPost` in the JavaScript SDK). The form is read here
//! (`rampart_s3::post`), then served as the PutObject it stands for: its fields become the
//! request's headers, its file the body, and its signature (over its policy) is the request's, so
//! authentication, authorization, Block Public Access, encryption and the audit trail are
//! PutObject's own. The answer is then the form's: a redirect, or the status it asks for.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html>.

use bytes::Bytes;
use rampart_s3::post::Upload;
use rampart_wire::WireError;

use crate::app::{App, Response, from_service};
use crate::audit::Origin;

/// What the pipeline (`App::process`) learns of a POST upload, on the PutObject request it
/// becomes: the form's signature claims (`MissingAuthenticationToken` for an unsigned form, an
/// anonymous request), the form to check the policy of once the signature holds, and the bucket.
#[derive(Clone)]
pub(crate) struct Form {
    pub auth: Result<rampart_sigv4::Auth, rampart_sigv4::SigV4Error>,
    pub upload: std::sync::Arc<Upload>,
    pub bucket: String,
}

/// Whether a request is a POST upload: a form posted to a bucket (no key, no sub-resource).
pub(crate) fn is_form_post(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && !parts.headers.contains_key("x-amz-target")
        && parts.uri.query().is_none_or(str::is_empty)
        && parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The bucket a form is posted to: `/BUCKET` path style, or `/` of a virtual-hosted bucket.
fn bucket_of(app: &App, parts: &http::request::Parts) -> Result<String, WireError> {
    match app.s3_bucket(&parts.headers, &parts.uri)? {
        Some((bucket, "" | "/")) => Ok(bucket),
        _ => Err(WireError::new("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")),
    }
}

/// Headers of the browser's request that do not pass to the PutObject: its framing and content
/// headers (the form's fields give the object's), and any `x-amz-*` or authorization the form did
/// not sign.
fn passes(name: &http::HeaderName) -> bool {
    let n = name.as_str();
    !(matches!(n, "transfer-encoding" | "expect" | "authorization")
        || n.starts_with("x-amz-")
        || n.starts_with("content-"))
}

/// Serves a POST upload whose body has been read.
pub(crate) async fn handle(
    app: &App,
    parts: &http::request::Parts,
    body: Bytes,
    origin: &Origin,
    id: &str,
) -> Response {
    match serve(app, parts, body, origin, id).await {
        Ok(r) => r,
        Err(e) => app.reject(origin, id, e, rampart_shapes::Protocol::RestXml),
    }
}

async fn serve(
    app: &App,
    parts: &http::request::Parts,
    body: Bytes,
    origin: &Origin,
    id: &str,
) -> Result<Response, WireError> {
    let bucket = bucket_of(app, parts)?;
    let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let upload = std::sync::Arc::new(Upload::read(content_type, &body).map_err(from_service)?);
    // A form signed with Signature Version 2 (`AWSAccessKeyId`, `signature`): S3 takes only
    // SigV4 for buckets made since June 2020, as every bucket here is.
    // See <https://docs.aws.amazon.com/AmazonS3/latest/API/specify-signature-version.html#UsingAWSSDK-sig2-deprecation>.
    if upload.field("AWSAccessKeyId").is_some() && upload.field("x-amz-signature").is_none() {
        return Err(WireError::new(
            "InvalidRequest",
            400,
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    let auth = rampart_sigv4::parse_post(|name| upload.field(name));
    let key_path = percent_encoding::utf8_percent_encode(&upload.key, rampart_s3::KEY_IN_PATH).to_string();
    let path = format!("{}/{key_path}", parts.uri.path().trim_end_matches('/'));
    let mut put = http::Request::builder().method(http::Method::PUT).uri(&path).version(parts.version);
    for (name, value) in parts.headers.iter().filter(|(n, _)| passes(n)) {
        put = put.header(name, value);
    }
    let invalid = |name: &str| {
        WireError::new("InvalidArgument", 400, format!("The form field {name} is not a valid header value."))
    };
    for (name, value) in upload.headers().map_err(from_service)? {
        let v = http::HeaderValue::from_str(&value).map_err(|_| invalid(&name))?;
        put = put.header(name.as_str(), v);
    }
    put = put.header(http::header::CONTENT_LENGTH, upload.file.len());
    let (mut put_parts, ()) = put.body(()).map_err(|_| WireError::internal())?.into_parts();
    put_parts.extensions.insert(Form { auth, upload: upload.clone(), bucket: bucket.clone() });
    let file = body.slice(upload.file.clone());
    drop(body);
    let stored = app.handle_api(&put_parts, file, origin, id).await;
    if !stored.status().is_success() {
        return Ok(stored);
    }
    let (mut head, _) = stored.into_parts();
    let etag = head.headers.get(http::header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let scheme = if origin.tls.is_some() { "https" } else { "http" };
    let host = parts.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let location = format!("{scheme}://{host}{path}");
    let answer = upload.answer(&bucket, &location, &etag);
    head.status = http::StatusCode::from_u16(answer.status).map_err(|_| WireError::internal())?;
    let to = answer.redirect.as_deref().unwrap_or(&location);
    head.headers.insert(http::header::LOCATION, http::HeaderValue::from_str(to).map_err(|_| WireError::internal())?);
    head.headers.remove(http::header::CONTENT_LENGTH);
    if !answer.body.is_empty() {
        head.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    }
    Ok(http::Response::from_parts(head, crate::body::Body::full(Bytes::from(answer.body))))
}
