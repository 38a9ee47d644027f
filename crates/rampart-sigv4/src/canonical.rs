//! The canonical request and the string to sign.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html#create-canonical-request>.

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::parse::{Auth, decode};
use crate::{ALGORITHM, Request, SigV4Error};

/// Everything but the unreserved characters `A-Z a-z 0-9 - _ . ~` is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// The same, but `/` stays, for paths.
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// The canonical URI. S3 signs the path as sent; other services sign the normalized path
/// (`.` and `..` segments and empty segments removed) encoded a second time.
fn canonical_uri(path: &str, s3: bool) -> String {
    if s3 {
        return if path.is_empty() { "/".to_owned() } else { path.to_owned() };
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    for seg in &segments {
        out.push('/');
        out.extend(utf8_percent_encode(seg, PATH));
    }
    // As RFC 3986 removes dot segments, a path ending in `/`, `/.` or `/..` keeps a final slash.
    let last = path.rsplit('/').next().unwrap_or_default();
    let trailing = path.len() > 1 && (path.ends_with('/') || last == "." || last == "..");
    if segments.is_empty() || trailing {
        out.push('/');
    }
    out
}

fn canonical_query(query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (utf8_percent_encode(&decode(k), STRICT).to_string(), utf8_percent_encode(&decode(v), STRICT).to_string())
        })
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// A header value trimmed, with runs of spaces folded into one.
fn fold_value(out: &mut String, v: &[u8]) {
    let text = String::from_utf8_lossy(v);
    let mut first = true;
    for word in text.split_ascii_whitespace() {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// Builds the canonical request from exactly the headers the client signed.
pub fn canonical_request(req: &Request<'_>, auth: &Auth, payload_hash: &str, s3: bool) -> Result<String, SigV4Error> {
    let mut out = String::with_capacity(256 + req.query.len());
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path, s3));
    out.push('\n');
    out.push_str(&canonical_query(req.query, auth.presigned_expires.is_some()));
    out.push('\n');
    for name in &auth.signed_headers {
        let lookup = if name == ":authority" { "host" } else { name.as_str() };
        let mut values = req.header_values(lookup).peekable();
        if values.peek().is_none() {
            return Err(SigV4Error::SignatureDoesNotMatch(format!(
                "The request signature we calculated does not match the signature you provided: signed header '{name}' is not in the request."
            )));
        }
        out.push_str(name);
        out.push(':');
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            fold_value(&mut out, v);
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&auth.signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

/// The string to sign for a canonical request.
pub fn string_to_sign(auth: &Auth, canonical_request: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical_request.as_bytes());
    let mut out = String::with_capacity(160);
    let _ = write!(
        out,
        "{ALGORITHM}\n{}\n{}\n{}",
        auth.amz_date,
        auth.scope.to_scope_string(),
        data_encoding::HEXLOWER.encode(digest.as_ref())
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_is_normalized_and_double_encoded_except_for_s3() {
        for (path, s3, expect) in [
            ("/", false, "/"),
            ("", false, "/"),
            ("//example//", false, "/example/"),
            ("/a/./b/../c", false, "/a/c"),
            ("/%E1%88%B4", false, "/%25E1%2588%25B4"),
            ("/%E1%88%B4", true, "/%E1%88%B4"),
            ("/a b", false, "/a%20b"),
            ("/a/.", false, "/a/"),
            ("/a/b/..", false, "/a/"),
            ("/..", false, "/"),
        ] {
            assert_eq!(canonical_uri(path, s3), expect, "{path} s3={s3}");
        }
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(canonical_query("b=2&a=1&A=0", false), "A=0&a=1&b=2");
        assert_eq!(canonical_query("Param1=value2&Param1=Value1", false), "Param1=Value1&Param1=value2");
        assert_eq!(canonical_query("c+d", false), "c%2Bd=");
        assert_eq!(canonical_query("x=a%20b&y=%7e", false), "x=a%20b&y=~");
        assert_eq!(canonical_query("X-Amz-Signature=ab&a=1", true), "a=1");
    }
}
