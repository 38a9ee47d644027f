//! AWS wire protocols, pure (no I/O): awsQuery, awsJson 1.0/1.1 and rest routing, with errors
//! rendered the way each protocol's clients expect.
//!
//! Every codec is driven by the generated schema in `rampart-shapes`: decoding produces a
//! [`Value`](rampart_shapes::Value) checked against the model's constraints, encoding walks the
//! output shape. Only this crate knows XML, JSON and form encoding.

pub mod error;
pub mod form_data;
pub mod json;
pub mod query;
pub mod rest;
pub mod restjson;
pub mod restxml;
pub mod s3host;
mod timestamp;
mod xml;

pub use error::{ErrorBody, WireError};
pub use xml::escape as xml_escape;

/// How a request addresses its operation, found before the service is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// awsJson: `X-Amz-Target: Prefix.Operation`.
    Json { target_prefix: String, operation: String },
    /// awsQuery: an `Action` parameter in the form body or query string.
    Query,
    /// rest-json or rest-xml: the operation comes from the method and path.
    Rest,
}

/// Decides the protocol from the `X-Amz-Target` header, the content type and the query string.
pub fn detect(target: Option<&str>, content_type: Option<&str>, query: &str) -> Result<Dispatch, WireError> {
    if let Some(t) = target {
        let (prefix, op) = t.rsplit_once('.').ok_or_else(|| WireError::unknown_operation(t))?;
        return Ok(Dispatch::Json { target_prefix: prefix.to_owned(), operation: op.to_owned() });
    }
    let form = content_type
        .is_some_and(|c| c.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let query_action = form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "Action");
    if form || query_action { Ok(Dispatch::Query) } else { Ok(Dispatch::Rest) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_protocol() {
        assert_eq!(
            detect(Some("TrentService.Encrypt"), Some("application/x-amz-json-1.1"), ""),
            Ok(Dispatch::Json { target_prefix: "TrentService".into(), operation: "Encrypt".into() })
        );
        assert_eq!(detect(None, Some("application/x-www-form-urlencoded; charset=utf-8"), ""), Ok(Dispatch::Query));
        assert_eq!(detect(None, None, "Action=GetCallerIdentity&Version=2011-06-15"), Ok(Dispatch::Query));
        assert_eq!(detect(None, Some("application/xml"), "uploads"), Ok(Dispatch::Rest));
        assert_eq!(detect(Some("NoDot"), None, "").unwrap_err().code, "UnknownOperationException");
    }
}
