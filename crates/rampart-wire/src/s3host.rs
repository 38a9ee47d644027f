//! S3's request addressing: whether a request names its bucket in the `Host` header
//! (virtual-hosted style) or in the first segment of its path (path style).
//!
//! S3 reads the `Host` header this way
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html#VirtualHostingSpecifyBucket>):
//! no `Host`, or a `Host` that is an S3 endpoint, means path style; a `Host` that ends in
//! `.` + an S3 endpoint names the bucket in what comes before; any other `Host` is the bucket
//! itself (a CNAME alias). Rampart follows that with its own endpoints in place of
//! `amazonaws.com`'s: for each base domain `D` (`localhost` and the others the operator
//! configures), `D`, `s3.D`, `s3.REGION.D`, `s3-REGION.D` and `s3.dualstack.REGION.D` are
//! endpoints. Two kinds of host are Rampart's own name rather than a bucket, because no DNS name
//! of a bucket looks like them: an IP address and a single label (`rampart` in a Compose network).

use crate::WireError;

/// The bucket a request addresses through its `Host` header, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addressing {
    /// The bucket, if any, is the first segment of the path.
    Path,
    /// The bucket is named by the host; the whole path is the key.
    VirtualHosted { bucket: String },
}

/// Reads the addressing of an S3 request from its `Host` header value (port included or not)
/// against the configured base domains. A host that names an invalid bucket is refused with S3's
/// `InvalidBucketName`, never read some other way.
pub fn addressing(host: Option<&str>, base_domains: &[String]) -> Result<Addressing, WireError> {
    let Some(host) = host.map(str::trim).filter(|h| !h.is_empty()) else { return Ok(Addressing::Path) };
    let name = strip_port(host).ok_or_else(|| bad_host(host))?;
    if name.parse::<std::net::Ipv4Addr>().is_ok() || name.starts_with('[') {
        return Ok(Addressing::Path);
    }
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if !name.contains('.') {
        return Ok(Addressing::Path);
    }
    // The longest endpoint the host is, or ends in, decides: `b.s3.localhost` is bucket `b` at
    // endpoint `s3.localhost`, not bucket `b.s3` at endpoint `localhost`.
    let mut best: Option<&str> = None;
    for domain in base_domains {
        let domain = domain.trim_matches('.');
        if domain.is_empty() {
            continue;
        }
        if name == domain || is_endpoint_over(&name, domain) {
            return Ok(Addressing::Path);
        }
        for dot in name.match_indices('.').map(|(i, _)| i) {
            let (prefix, endpoint) = (name.get(..dot).unwrap_or(""), name.get(dot + 1..).unwrap_or(""));
            if (endpoint == domain || is_endpoint_over(endpoint, domain)) && best.is_none_or(|b| prefix.len() < b.len())
            {
                best = Some(prefix);
            }
        }
    }
    let bucket = best.unwrap_or(&name);
    if !is_dns_bucket_name(bucket) {
        return Err(WireError::new(
            "InvalidBucketName",
            400,
            format!("The specified bucket is not valid: the Host header `{}` does not name a bucket", printable(host)),
        ));
    }
    Ok(Addressing::VirtualHosted { bucket: bucket.to_owned() })
}

/// The path a path-style request for the same object would have: `/BUCKET` + the request's path
/// (`/BUCKET` alone for the bucket itself), still percent-encoded.
pub fn path_style_path(bucket: &str, path: &str) -> String {
    match path {
        "" | "/" => format!("/{bucket}"),
        p if p.starts_with('/') => format!("/{bucket}{p}"),
        p => format!("/{bucket}/{p}"),
    }
}

/// Whether `name` is `s3.D`, `s3.REGION.D`, `s3-REGION.D` or `s3.dualstack.REGION.D`.
fn is_endpoint_over(name: &str, domain: &str) -> bool {
    let Some(head) = name.strip_suffix(domain).and_then(|h| h.strip_suffix('.')) else { return false };
    match head.split('.').collect::<Vec<_>>().as_slice() {
        ["s3"] => true,
        ["s3", region] | ["s3", "dualstack", region] => is_region(region),
        [one] => one.strip_prefix("s3-").is_some_and(is_region),
        _ => false,
    }
}

/// A region code's shape: lower-case words and a number, joined by hyphens (`us-east-1`,
/// `us-gov-west-1`).
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.last().is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && parts.iter().rev().skip(1).all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// S3's rules for a bucket name that can be a DNS label sequence: 3–63 characters of lower-case
/// letters, digits, dots and hyphens, beginning and ending with a letter or digit, no two dots
/// together, and not an IP address
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>).
pub fn is_dns_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// The host without its port; `None` for a malformed one (an unclosed `[`, a non-numeric port).
fn strip_port(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        let end = host.find(']')?;
        let rest = host.get(end + 1..)?;
        return (rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port)).then(|| host.get(..=end)).flatten();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if is_port(port) && !name.contains(':') => Some(name),
        Some(_) => None,
        None => Some(host),
    }
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

fn bad_host(host: &str) -> WireError {
    WireError::new("InvalidArgument", 400, format!("The Host header `{}` is not a valid host", printable(host)))
}

/// The host as it may be echoed in an error: printable ASCII, at most 255 characters.
fn printable(host: &str) -> String {
    host.chars().filter(|c| c.is_ascii_graphic()).take(255).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(host: Option<&str>, expect: Result<Option<&str>, &str>) {
        let domains = ["localhost".to_owned(), "localhost.localstack.cloud".to_owned(), "amazonaws.com".to_owned()];
        let got = addressing(host, &domains);
        let got = match &got {
            Ok(Addressing::Path) => Ok(None),
            Ok(Addressing::VirtualHosted { bucket }) => Ok(Some(bucket.as_str())),
            Err(e) => Err(&*e.code),
        };
        assert_eq!(got, expect, "{host:?}");
    }

    #[test]
    fn reads_the_bucket_from_the_host_as_s3_does() {
        // Path style: no host, an endpoint, an IP address, a single label.
        for host in [
            None,
            Some(""),
            Some("localhost"),
            Some("localhost:4566"),
            Some("LOCALHOST:4566"),
            Some("s3.localhost:4566"),
            Some("s3.us-east-1.localhost"),
            Some("s3-eu-west-1.localhost"),
            Some("s3.dualstack.us-gov-west-1.localhost"),
            Some("s3.localhost.localstack.cloud:4566"),
            Some("localhost.localstack.cloud:4566"),
            Some("s3.amazonaws.com"),
            Some("s3.us-west-2.amazonaws.com"),
            Some("127.0.0.1:4566"),
            Some("[::1]:4566"),
            Some("rampart:4566"),
            Some("localhost."),
        ] {
            check(host, Ok(None));
        }
        // Virtual-hosted style, over every endpoint form.
        for (host, bucket) in [
            ("receipts.localhost:4566", "receipts"),
            ("receipts.s3.localhost", "receipts"),
            ("receipts.s3.us-east-1.localhost:4566", "receipts"),
            ("my.dotted.bucket.s3.localhost", "my.dotted.bucket"),
            ("receipts.s3-eu-west-1.localhost", "receipts"),
            ("receipts.s3.dualstack.eu-west-1.localhost", "receipts"),
            ("receipts.s3.localhost.localstack.cloud:4566", "receipts"),
            ("Receipts.S3.Amazonaws.Com", "receipts"),
            ("doc-example-bucket1.eu.s3.eu-west-1.amazonaws.com", "doc-example-bucket1.eu"),
            // Not a Rampart endpoint: the host is the bucket (S3's CNAME rule).
            ("images.example.com", "images.example.com"),
            ("images.example.com:8080", "images.example.com"),
        ] {
            check(Some(host), Ok(Some(bucket)));
        }
        // Hosts that name no valid bucket are refused, never read as path style.
        for host in ["a_b.localhost", "-x.localhost", "ab.localhost", "a..b.example.com", "x.s3.localhost:port"] {
            let code = if host.ends_with(":port") { "InvalidArgument" } else { "InvalidBucketName" };
            check(Some(host), Err(code));
        }
        check(Some("[::1"), Err("InvalidArgument"));
    }

    #[test]
    fn rebuilds_the_path_style_path() {
        assert_eq!(path_style_path("b", "/"), "/b");
        assert_eq!(path_style_path("b", ""), "/b");
        assert_eq!(path_style_path("b", "/k/e%20y"), "/b/k/e%20y");
        assert_eq!(path_style_path("b", "//k"), "/b//k");
    }

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for ok in ["abc", "a.b-c", "doc-example-bucket1.eu", &"a".repeat(63)] {
            assert!(is_dns_bucket_name(ok), "{ok}");
        }
        for bad in ["ab", "Abc", "a_b", ".ab", "ab.", "a..b", "192.168.5.4", &"a".repeat(64), "a b"] {
            assert!(!is_dns_bucket_name(bad), "{bad}");
        }
    }
}
