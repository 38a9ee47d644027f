//! Diagnostics for a person editing a policy file: every problem with its line and column, the
//! statement it is in (numbered from 1), element names that are not policy elements (with the
//! one meant), actions no AWS service has, and the linter's warnings. The server's validation
//! stays [`Policy::parse`]'s, worded as IAM words it; this explains it.

use serde_json::Value;

use crate::actions::{ActionCheck, check_action};
use crate::document::{Policy, PolicyKind};
use crate::lint::lint;

/// How bad a diagnostic is: an error makes AWS refuse the policy; a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// 1-based line and column (in characters) of the element or value at fault.
    pub line: usize,
    pub column: usize,
    /// The statement it is in, numbered from 1.
    pub statement: Option<usize>,
    pub message: String,
}

const TOP_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] =
    &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

/// Where each JSON value and object key of a document starts: `(path, key offset, value offset)`
/// in bytes, the path as JSON Pointer segments.
type Spans = Vec<(Vec<String>, Option<usize>, usize)>;

/// A scanner over a document `serde_json` has already accepted; it never panics, whatever the
/// input (a malformed one only yields fewer spans).
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    spans: Spans,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    /// Skips a string starting at the cursor (its opening quote) and returns its text.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        while let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => {
                    let raw = std::str::from_utf8(self.b.get(start..self.i)?).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => {}
            }
        }
        None
    }

    fn value(&mut self, path: &mut Vec<String>, key_at: Option<usize>, depth: usize) -> Option<()> {
        self.ws();
        self.spans.push((path.clone(), key_at, self.i));
        if depth > 64 {
            return None;
        }
        match self.b.get(self.i)? {
            b'{' => {
                self.i += 1;
                loop {
                    self.ws();
                    match self.b.get(self.i)? {
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        b',' => self.i += 1,
                        b'"' => {
                            let at = self.i;
                            let key = self.string()?;
                            self.ws();
                            (self.b.get(self.i)? == &b':').then_some(())?;
                            self.i += 1;
                            path.push(key);
                            let r = self.value(path, Some(at), depth + 1);
                            path.pop();
                            r?;
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut n = 0usize;
                loop {
                    self.ws();
                    match self.b.get(self.i)? {
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        b',' => self.i += 1,
                        _ => {
                            path.push(n.to_string());
                            let r = self.value(path, None, depth + 1);
                            path.pop();
                            r?;
                            n += 1;
                        }
                    }
                }
            }
            b'"' => self.string().map(|_| ()),
            _ => {
                while self.b.get(self.i).is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace()) {
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}

fn spans(text: &str) -> Spans {
    let mut s = Scanner { b: text.as_bytes(), i: 0, spans: Vec::new() };
    let _ = s.value(&mut Vec::new(), None, 0);
    s.spans
}

/// The 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The known name an unknown element was probably meant to be.
fn meant<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(&k.to_ascii_lowercase(), &name.to_ascii_lowercase()), *k))
        .min()
        .filter(|(d, _)| *d <= 2)
        .map(|(_, k)| k)
}

/// Everything wrong with a policy document, in order of position.
pub fn diagnose(text: &str, kind: PolicyKind) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            // serde_json counts an empty document's end as column 0; positions here start at 1.
            out.push(Diagnostic {
                severity: Severity::Error,
                line: e.line().max(1),
                column: e.column().max(1),
                statement: None,
                message: format!("Syntax errors in policy: the JSON is not valid ({e})"),
            });
            return out;
        }
    };
    let spans = spans(text);
    let at = |path: &[&str], key: bool| -> (usize, usize) {
        spans
            .iter()
            .find(|(p, ..)| p.iter().map(String::as_str).eq(path.iter().copied()))
            .map_or((1, 1), |(_, k, v)| line_col(text, if key { k.unwrap_or(*v) } else { *v }))
    };
    // The statements, with their paths (`Statement` is one object or a list).
    let statements: Vec<(Vec<String>, &serde_json::Map<String, Value>)> = match doc.get("Statement") {
        Some(Value::Object(o)) => vec![(vec!["Statement".to_owned()], o)],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_object().map(|o| (vec!["Statement".to_owned(), i.to_string()], o)))
            .collect(),
        _ => Vec::new(),
    };
    let mut push = |severity, (line, column): (usize, usize), statement: Option<usize>, message: String| {
        out.push(Diagnostic { severity, line, column, statement, message });
    };
    let unknown = |name: &str, known: &[&str]| match meant(name, known) {
        Some(m) => format!("`{name}` is not a policy element; did you mean `{m}`?"),
        None => format!("`{name}` is not a policy element (expected one of {})", known.join(", ")),
    };
    if let Some(top) = doc.as_object() {
        for k in top.keys().filter(|k| !TOP_ELEMENTS.contains(&k.as_str())) {
            push(Severity::Error, at(&[k.as_str()], true), None, unknown(k, TOP_ELEMENTS));
        }
    }
    for (n, (path, st)) in statements.iter().enumerate() {
        let base: Vec<&str> = path.iter().map(String::as_str).collect();
        for k in st.keys().filter(|k| !STATEMENT_ELEMENTS.contains(&k.as_str())) {
            let p: Vec<&str> = base.iter().copied().chain([k.as_str()]).collect();
            push(Severity::Error, at(&p, true), Some(n + 1), unknown(k, STATEMENT_ELEMENTS));
        }
    }
    let naming_errors = statements.iter().any(|(_, st)| st.keys().any(|k| !STATEMENT_ELEMENTS.contains(&k.as_str())))
        || doc.as_object().is_some_and(|t| t.keys().any(|k| !TOP_ELEMENTS.contains(&k.as_str())));
    // IAM's own verdict: located at the first statement that fails alone.
    let parsed = if naming_errors { None } else { Some(Policy::parse(text, kind)) };
    if let Some(Err(e)) = &parsed {
        let failing = statements.iter().enumerate().find(|(_, (_, st))| {
            let mut one = serde_json::Map::new();
            if let Some(v) = doc.get("Version") {
                one.insert("Version".to_owned(), v.clone());
            }
            one.insert("Statement".to_owned(), Value::Object((*st).clone()));
            Policy::parse(&Value::Object(one).to_string(), kind).is_err()
        });
        let (where_, statement) = match failing {
            Some((n, (path, _))) => (at(&path.iter().map(String::as_str).collect::<Vec<_>>(), false), Some(n + 1)),
            None => (at(&["Statement"], true), None),
        };
        push(Severity::Error, where_, statement, format!("MalformedPolicyDocument: {}", e.message));
    }
    // Actions no service documents.
    for (n, (path, st)) in statements.iter().enumerate() {
        for element in ["Action", "NotAction"] {
            let entries: Vec<(Vec<String>, &str)> = match st.get(element) {
                Some(Value::String(a)) => vec![(vec![element.to_owned()], a.as_str())],
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.as_str().map(|a| (vec![element.to_owned(), i.to_string()], a)))
                    .collect(),
                _ => Vec::new(),
            };
            for (tail, action) in entries {
                let message = match check_action(action) {
                    ActionCheck::Known => continue,
                    ActionCheck::UnknownService => {
                        let prefix = action.split(':').next().unwrap_or_default();
                        format!("`{action}`: no AWS service has the prefix `{prefix}`")
                    }
                    ActionCheck::UnknownAction { suggestion: Some(s) } => {
                        format!("`{action}` is not an AWS action; did you mean `{s}`?")
                    }
                    ActionCheck::UnknownAction { suggestion: None } => format!("`{action}` is not an AWS action"),
                    ActionCheck::MatchesNothing => format!("`{action}` matches no AWS action"),
                };
                let p: Vec<&str> = path.iter().chain(tail.iter()).map(String::as_str).collect();
                push(Severity::Warning, at(&p, false), Some(n + 1), message);
            }
        }
    }
    // The linter's warnings on a valid policy, at their statements (its unknown-prefix warning is
    // the catalogue's above).
    if let Some(Ok(policy)) = &parsed {
        for f in lint(policy).into_iter().filter(|f| !f.message.starts_with("unknown service prefix")) {
            let path = statements.get(f.statement).map(|(p, _)| p.iter().map(String::as_str).collect::<Vec<_>>());
            let where_ = path.map_or((1, 1), |p| at(&p, false));
            push(Severity::Warning, where_, Some(f.statement + 1), f.message);
        }
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Vec<String> {
        diagnose(text, PolicyKind::Identity)
            .into_iter()
            .map(|d| {
                let sev = if d.severity == Severity::Error { "error" } else { "warning" };
                let st = d.statement.map(|n| format!(" statement {n}:")).unwrap_or_default();
                format!("{}:{} {sev}:{st} {}", d.line, d.column, d.message)
            })
            .collect()
    }

    #[test]
    fn problems_are_located_and_explained() {
        let good = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}}";
        assert_eq!(check(good), Vec::<String>::new());
        let typo = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Efect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}\n  ]\n}";
        assert_eq!(check(typo), ["4:6 error: statement 1: `Efect` is not a policy element; did you mean `Effect`?"]);
        let actions = "{\"Version\":\"2012-10-17\",\"Statement\":[\n{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"},\n{\"Effect\":\"Deny\",\"Action\":[\"s3:GetObjects\",\"s4:Get\",\"iam:Frob*\"],\"Resource\":\"*\"}]}";
        assert_eq!(
            check(actions),
            [
                "3:28 warning: statement 2: `s3:GetObjects` is not an AWS action; did you mean `s3:GetObject`?",
                "3:44 warning: statement 2: `s4:Get`: no AWS service has the prefix `s4`",
                "3:53 warning: statement 2: `iam:Frob*` matches no AWS action",
            ]
        );
        // IAM's refusal, at the statement that causes it.
        let vendor = "{\"Version\":\"2012-10-17\",\"Statement\":[\n{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"},\n  {\"Effect\":\"Allow\",\"Action\":\"GetObject\",\"Resource\":\"*\"}]}";
        assert_eq!(
            check(vendor),
            [
                "3:3 error: statement 2: MalformedPolicyDocument: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
            ]
        );
        let admin =
            "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}";
        assert!(check(admin)[0].starts_with("1:37 warning: statement 1: `\"Action\": \"*\"`"), "{:?}", check(admin));
        assert_eq!(
            check("{\n  \"Version\": 1,,\n}")[0],
            "2:16 error: Syntax errors in policy: the JSON is not valid (key must be a string at line 2 column 16)"
        );
        assert_eq!(
            check("{\"Versoin\":\"2012-10-17\"}"),
            ["1:2 error: `Versoin` is not a policy element; did you mean `Version`?"]
        );
        // Found by the fuzz target policy_diagnose: an empty file is at line 1, column 1.
        assert_eq!(
            check(""),
            [
                "1:1 error: Syntax errors in policy: the JSON is not valid (EOF while parsing a value at line 1 column 0)"
            ]
        );
    }

    #[test]
    fn the_scanner_never_panics_and_finds_nested_values() {
        let s = spans("{\"a\": [1, {\"b\\\"\": \"x\"}], \"c\": true}");
        let paths: Vec<String> = s.iter().map(|(p, ..)| p.join("/")).collect();
        assert_eq!(paths, ["", "a", "a/0", "a/1", "a/1/b\"", "c"]);
        for bad in ["", "{", "[1,", "{\"a\"", "{\"a\":", "\"", "{\"a\" 1}", "[[[[", "\u{e9}"] {
            let _ = spans(bad);
        }
    }
}
