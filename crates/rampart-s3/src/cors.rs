//! CORS: a bucket's CORS configuration (kept by `subresources`) answering browsers. A preflight
//! `OPTIONS` request is answered by the first rule whose origin, method and headers admit it; an
//! actual request from an origin a rule admits gets that rule's `Access-Control-*` headers, on
//! any answer. Neither is authenticated: CORS only tells a browser what it may show a page.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html> and
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/API_OPTIONS_object.html>.

use rampart_core::ServiceError;
use rampart_store::Db;
use serde::Deserialize;

/// A stored `CORSConfiguration` (awsJson, as `subresources` keeps it).
#[derive(Debug, Deserialize)]
struct Config {
    #[serde(rename = "CORSRules", default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    #[serde(default)]
    allowed_headers: Vec<String>,
    #[serde(default)]
    allowed_methods: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    expose_headers: Vec<String>,
    max_age_seconds: Option<i64>,
}

/// Whether `value` matches `pattern`, in which one `*` stands for any run of characters.
pub(crate) fn wildcard(pattern: &str, value: &str, fold_case: bool) -> bool {
    let eq = |a: &str, b: &str| if fold_case { a.eq_ignore_ascii_case(b) } else { a == b };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.get(..head.len()).is_some_and(|h| eq(h, head))
                && value.get(value.len() - tail.len()..).is_some_and(|t| eq(t, tail))
        }
    }
}

impl Rule {
    /// The origin pattern of this rule that admits `origin`.
    fn origin(&self, origin: &str) -> Option<&str> {
        self.allowed_origins.iter().map(String::as_str).find(|p| wildcard(p, origin, false))
    }

    fn allows(&self, origin: &str, method: &str, headers: &[&str]) -> Option<&str> {
        let matched = self.origin(origin)?;
        let method_ok = self.allowed_methods.iter().any(|m| m == method);
        let headers_ok = headers.iter().all(|h| self.allowed_headers.iter().any(|p| wildcard(p, h, true)));
        (method_ok && headers_ok).then_some(matched)
    }

    /// The headers S3 answers for this rule, the origin pattern `matched` admitting `origin`.
    fn answer(&self, origin: &str, matched: &str, requested: Option<&str>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if matched == "*" {
            out.push(("access-control-allow-origin".to_owned(), "*".to_owned()));
        } else {
            out.push(("access-control-allow-origin".to_owned(), origin.to_owned()));
            out.push(("access-control-allow-credentials".to_owned(), "true".to_owned()));
        }
        out.push(("access-control-allow-methods".to_owned(), self.allowed_methods.join(", ")));
        if let Some(h) = requested.filter(|h| !h.trim().is_empty()) {
            out.push(("access-control-allow-headers".to_owned(), h.to_owned()));
        }
        if !self.expose_headers.is_empty() {
            out.push(("access-control-expose-headers".to_owned(), self.expose_headers.join(", ")));
        }
        if let Some(age) = self.max_age_seconds {
            out.push(("access-control-max-age".to_owned(), age.to_string()));
        }
        out.push((
            "vary".to_owned(),
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_owned(),
        ));
        out
    }
}

/// The bucket's CORS rules: `Err(None)` for no such bucket, `Ok(None)` for one without CORS.
fn rules(db: &Db, bucket: &str) -> Result<Option<Vec<Rule>>, Option<ServiceError>> {
    let b = crate::read_bucket(db, bucket)?.ok_or(None)?;
    let Some(text) = b.configs.get("cors") else { return Ok(None) };
    let config: Config = serde_json::from_str(text).map_err(|_| ServiceError::internal())?;
    Ok(Some(config.rules))
}

fn forbidden(message: &str) -> ServiceError {
    ServiceError::new("AccessForbidden", 403, format!("CORSResponse: {message}"))
}

/// The answer to a preflight `OPTIONS` request for `bucket`: its `Access-Control-*` headers, or
/// S3's refusal. `headers` is `Access-Control-Request-Headers`, comma-separated.
pub fn preflight(
    db: &Db,
    bucket: &str,
    origin: Option<&str>,
    method: Option<&str>,
    headers: Option<&str>,
) -> Result<Vec<(String, String)>, ServiceError> {
    let (Some(origin), Some(method)) = (origin, method) else {
        return Err(ServiceError::new("BadRequest", 400, "Insufficient information. Origin request header needed."));
    };
    let rules = rules(db, bucket)
        .map_err(|e| e.unwrap_or_else(crate::no_such_bucket))?
        .ok_or_else(|| forbidden("CORS is not enabled for this bucket."))?;
    let asked: Vec<&str> =
        headers.into_iter().flat_map(|h| h.split(',')).map(str::trim).filter(|h| !h.is_empty()).collect();
    rules
        .iter()
        .find_map(|r| r.allows(origin, method, &asked).map(|matched| r.answer(origin, matched, headers)))
        .ok_or_else(|| {
            forbidden(
                "This CORS request is not allowed. This is usually because the evalution of Origin, request method / \
                 Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the \
                 resource's CORS spec.",
            )
        })
}

/// The `Access-Control-*` headers of an actual request to `bucket` from `origin` with `method`
/// (its `Access-Control-Request-Method`, when it sends one, as S3 reads it): none when no rule
/// admits it, or the bucket has no CORS configuration.
pub fn response_headers(db: &Db, bucket: &str, origin: &str, method: &str) -> Vec<(String, String)> {
    let Ok(Some(rules)) = rules(db, bucket) else { return Vec::new() };
    rules.iter().find_map(|r| r.allows(origin, method, &[]).map(|m| r.answer(origin, m, None))).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_star_stands_for_any_run() {
        assert!(wildcard("*", "https://a.example", false));
        assert!(wildcard("*suffix", "foo.suffix", false));
        assert!(!wildcard("*suffix", "foo.suffix.get", false));
        assert!(wildcard("start*end", "startend", false));
        assert!(wildcard("start*end", "start12end", false));
        assert!(!wildcard("start*end", "0start12end", false));
        assert!(!wildcard("ab*ba", "aba", false), "head and tail may not overlap");
        assert!(wildcard("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard("https://a.example", "https://A.example", false));
    }

    #[test]
    fn the_first_rule_admitting_origin_method_and_headers_answers() {
        let config: Config = serde_json::from_str(
            r#"{"CORSRules":[
                {"AllowedMethods":["GET"],"AllowedOrigins":["*"]},
                {"AllowedMethods":["PUT","POST"],"AllowedOrigins":["https://app.example"],
                 "AllowedHeaders":["content-type","x-amz-*"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":600}]}"#,
        )
        .expect("a configuration");
        let find = |origin: &str, method: &str, headers: &[&str]| {
            config.rules.iter().find_map(|r| r.allows(origin, method, headers).map(|m| r.answer(origin, m, None)))
        };
        let get = find("https://other.example", "GET", &[]).expect("any origin reads");
        assert!(get.contains(&("access-control-allow-origin".to_owned(), "*".to_owned())));
        assert!(find("https://other.example", "PUT", &[]).is_none());
        let put = find("https://app.example", "PUT", &["Content-Type", "x-amz-date"]).expect("the app writes");
        for expected in [
            ("access-control-allow-origin", "https://app.example"),
            ("access-control-allow-methods", "PUT, POST"),
            ("access-control-expose-headers", "ETag"),
            ("access-control-max-age", "600"),
            ("access-control-allow-credentials", "true"),
        ] {
            assert!(put.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {put:?}");
        }
        assert!(find("https://app.example", "PUT", &["authorization"]).is_none(), "a header no rule allows");
    }
}
