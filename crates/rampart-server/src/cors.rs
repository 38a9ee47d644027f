//! S3's CORS at the edge of the pipeline: a preflight `OPTIONS` to a bucket or object is answered
//! from the bucket's CORS configuration (`rampart_s3::cors`) without a signature, as S3 answers
//! it; an S3 request with an `Origin` gets the headers of the rule that admits it on whatever
//! answer it gets, errors included.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html>.

use crate::app::{App, Response, from_service};
use crate::audit::Origin;

/// The bucket an S3 request names (see [`App::s3_bucket`]).
fn bucket_of(app: &App, headers: &http::HeaderMap, uri: &http::Uri) -> Option<String> {
    app.s3_bucket(headers, uri).ok().flatten().map(|(bucket, _)| bucket)
}

/// Sets each of `headers` on `response`.
fn add_headers(response: &mut Response, headers: Vec<(String, String)>) {
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (http::HeaderName::try_from(k), http::HeaderValue::try_from(v)) {
            response.headers_mut().insert(k, v);
        }
    }
}

fn header<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A cross-origin S3 request's origin, method (its `Access-Control-Request-Method`, when sent,
/// as S3 reads it) and bucket, taken before the request is served.
pub(crate) struct Asked {
    origin: String,
    method: String,
    bucket: String,
}

impl Asked {
    /// `None` for a request with no `Origin`, or not S3's (an awsJson call, or one naming no
    /// bucket).
    pub(crate) fn of<B>(app: &App, req: &http::Request<B>) -> Option<Self> {
        let h = req.headers();
        let origin = header(h, "origin")?.to_owned();
        if h.contains_key("x-amz-target") || req.uri().path().starts_with("/_rampart/") {
            return None;
        }
        let method = header(h, "access-control-request-method").unwrap_or(req.method().as_str()).to_owned();
        Some(Self { origin, method, bucket: bucket_of(app, h, req.uri())? })
    }

    /// Adds the admitting rule's headers to `response`.
    pub(crate) fn decorate(&self, app: &App, response: &mut Response) {
        add_headers(response, rampart_s3::cors::response_headers(&app.db, &self.bucket, &self.origin, &self.method));
    }
}

/// Whether a request is a CORS preflight for S3: an `OPTIONS` that is no other service's.
pub(crate) fn is_preflight(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::OPTIONS && !parts.headers.contains_key("x-amz-target")
}

/// Answers a preflight `OPTIONS` from the bucket's CORS configuration.
/// See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_OPTIONS_object.html>.
pub(crate) fn preflight(app: &App, parts: &http::request::Parts, origin: &Origin, request_id: &str) -> Response {
    let h = &parts.headers;
    let answer = match bucket_of(app, h, &parts.uri) {
        None => Err(rampart_core::ServiceError::new(
            "MethodNotAllowed",
            405,
            "The specified method is not allowed against this resource.",
        )),
        Some(bucket) => rampart_s3::cors::preflight(
            &app.db,
            &bucket,
            header(h, "origin"),
            header(h, "access-control-request-method"),
            header(h, "access-control-request-headers"),
        ),
    };
    match answer {
        Ok(headers) => {
            let mut r = crate::app::respond(200, "text/plain", Vec::new(), request_id);
            add_headers(&mut r, headers);
            r
        }
        Err(e) => app.reject(origin, request_id, from_service(e), rampart_shapes::Protocol::RestXml),
    }
}
