//! Routing for rest-json and rest-xml services from the models' `http` traits
//! (`"requestUri": "/detector/{DetectorId}/findings"`, `"/{Bucket}/{Key+}?uploads"`).

use rampart_shapes::Operation;

/// A matched operation and its URI labels (still percent-encoded).
#[derive(Debug)]
pub struct Route<'a> {
    pub operation: &'static Operation,
    pub labels: Vec<(&'static str, &'a str)>,
}

/// Finds the operation for a method, path and query. An operation whose input requires a header
/// the request lacks does not match (S3's CopyObject is PutObject's route plus
/// `x-amz-copy-source`; AbortMultipartUpload is DeleteObject's plus `uploadId`). The most specific template wins: the one with the most literal segments,
/// then the most required query keys, then the most required headers.
pub fn route<'a>(
    operations: &'static [Operation],
    method: &str,
    path: &'a str,
    query: &str,
    has_header: impl Fn(&str) -> bool,
) -> Option<Route<'a>> {
    let query_keys: Vec<&str> = query.split('&').map(|p| p.split_once('=').map_or(p, |(k, _)| k)).collect();
    let mut best: Option<(usize, usize, Route<'a>)> = None;
    for op in operations.iter().filter(|op| op.http_method.eq_ignore_ascii_case(method)) {
        // Required members bound to headers or query parameters must be there to match (counted
        // without allocating: this runs for every operation of the service on every request).
        let members = match op.input.map(|s| &s.kind) {
            Some(rampart_shapes::Kind::Structure(st)) => st.members,
            _ => &[],
        };
        let (mut required_headers, mut required_params) = (0usize, 0usize);
        let mut present = true;
        for m in members.iter().filter(|m| m.required) {
            match m.location {
                rampart_shapes::Location::Header => {
                    required_headers += 1;
                    present &= has_header(m.wire_name());
                }
                rampart_shapes::Location::QueryString => {
                    required_params += 1;
                    present &= query_keys.contains(&m.wire_name());
                }
                _ => {}
            }
        }
        if !present {
            continue;
        }
        let (tpath, tquery) = op.request_uri.split_once('?').unwrap_or((op.request_uri, ""));
        let mut required = 0usize;
        let mut in_query = true;
        for k in tquery.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').map_or(p, |(k, _)| k)) {
            required += 1;
            in_query &= query_keys.contains(&k);
        }
        if !in_query {
            continue;
        }
        let Some((literals, labels)) = match_path(tpath, path) else { continue };
        // Ties go to the operation the model does not deprecate.
        let score = ((required + required_params) * 100 + required_headers) * 2 + usize::from(!op.deprecated);
        let better = best.as_ref().is_none_or(|(l, q, _)| (literals, score) > (*l, *q));
        if better {
            best = Some((literals, score, Route { operation: op, labels }));
        }
    }
    best.map(|(_, _, r)| r)
}

fn match_path<'a>(template: &'static str, path: &'a str) -> Option<(usize, Vec<(&'static str, &'a str)>)> {
    let mut t = template.trim_start_matches('/').split('/').peekable();
    let mut rest = path.trim_start_matches('/');
    let mut labels = Vec::new();
    let mut literals = 0;
    while let Some(seg) = t.next() {
        if let Some(label) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if let Some(greedy) = label.strip_suffix('+') {
                if t.peek().is_some() || rest.is_empty() {
                    return None;
                }
                labels.push((greedy, rest));
                return Some((literals, labels));
            }
            let (value, next) = rest.split_once('/').unwrap_or((rest, ""));
            if value.is_empty() {
                return None;
            }
            labels.push((label, value));
            rest = next;
        } else {
            let (value, next) = rest.split_once('/').map_or((rest, None), |(v, n)| (v, Some(n)));
            if value != seg {
                return None;
            }
            if !seg.is_empty() {
                literals += 1;
            }
            rest = next.unwrap_or("");
            if next.is_none() && t.peek().is_some() {
                return None;
            }
        }
    }
    rest.is_empty().then_some((literals, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_shapes::Operation;

    static OPS: [Operation; 5] = [
        op("GetFindings", "POST", "/detector/{DetectorId}/findings/get"),
        op("GetDetector", "GET", "/detector/{DetectorId}"),
        op("CreateMultipartUpload", "POST", "/{Bucket}/{Key+}?uploads"),
        op("PutObject", "PUT", "/{Bucket}/{Key+}"),
        op("ListBuckets", "GET", "/"),
    ];

    const fn op(name: &'static str, m: &'static str, uri: &'static str) -> Operation {
        Operation {
            name,
            http_method: m,
            request_uri: uri,
            response_code: 200,
            input: None,
            output: None,
            result_wrapper: None,
            read_only: false,
            unsigned: false,
            deprecated: false,
        }
    }

    #[test]
    fn a_deprecated_twin_loses_the_tie_whatever_its_place() {
        let old = || Operation { deprecated: true, ..op("GetBucketLifecycle", "GET", "/{Bucket}?lifecycle") };
        let new = || op("GetBucketLifecycleConfiguration", "GET", "/{Bucket}?lifecycle");
        for ops in [[old(), new()], [new(), old()]] {
            let ops: &'static [Operation] = Box::leak(Box::new(ops));
            let got = route(ops, "GET", "/b", "lifecycle", |_| false).map(|r| r.operation.name);
            assert_eq!(got, Some("GetBucketLifecycleConfiguration"));
        }
    }

    fn check(method: &str, path: &str, query: &str, expect: Option<(&str, &[(&str, &str)])>) {
        let got = route(&OPS, method, path, query, |_| false);
        assert_eq!(got.as_ref().map(|r| (r.operation.name, r.labels.as_slice())), expect, "{method} {path}?{query}");
    }

    #[test]
    fn routes_by_method_path_labels_and_query() {
        check("POST", "/detector/abc/findings/get", "", Some(("GetFindings", &[("DetectorId", "abc")])));
        check("GET", "/detector/abc", "", Some(("GetDetector", &[("DetectorId", "abc")])));
        check("GET", "/detector/abc/extra", "", None);
        check("PUT", "/b/dir/file.txt", "", Some(("PutObject", &[("Bucket", "b"), ("Key", "dir/file.txt")])));
        check("POST", "/b/k", "uploads", Some(("CreateMultipartUpload", &[("Bucket", "b"), ("Key", "k")])));
        check("POST", "/b/k", "", None);
        check("GET", "/", "", Some(("ListBuckets", &[])));
        check("DELETE", "/", "", None);
    }
}
