//! Policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, defaults
//! `${aws:username, 'nobody'}`, and the literal escapes `${*}`, `${?}`, `${$}`. Substituted only
//! under Version 2012-10-17; under 2008-10-17 they are literal text.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>.

use crate::context::Context;
use crate::document::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text that keeps its wildcard meaning.
    Text(String),
    /// A character that matches only itself (`${*}`, `${?}`, `${$}`).
    Literal(char),
    /// A context key (lower case) and its default.
    Var { key: String, default: Option<String> },
}

/// A string with variables, filled in per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

/// A filled-in template: the text, and which bytes must match literally.
pub(crate) struct Rendered {
    pub text: String,
    pub literal: Vec<bool>,
}

impl Template {
    /// `None` when `s` has no variable or the version does not substitute them.
    pub(crate) fn parse(s: &str, version: Version) -> Option<Self> {
        if version != Version::V2012 || !s.contains("${") {
            return None;
        }
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            let (before, after) = rest.split_at(start);
            let Some(end) = after.find('}') else { break };
            if !before.is_empty() {
                parts.push(Part::Text(before.to_owned()));
            }
            let inner = after.get(2..end).unwrap_or_default();
            parts.push(match inner {
                "*" => Part::Literal('*'),
                "?" => Part::Literal('?'),
                "$" => Part::Literal('$'),
                _ => {
                    let (key, default) = match inner.split_once(',') {
                        Some((k, d)) => {
                            let d = d.trim();
                            let d = d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')).unwrap_or(d);
                            (k.trim(), Some(d.to_owned()))
                        }
                        None => (inner.trim(), None),
                    };
                    Part::Var { key: key.to_ascii_lowercase(), default }
                }
            });
            rest = after.get(end + 1..).unwrap_or_default();
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Some(Self { parts })
    }

    /// The context keys the template reads.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| if let Part::Var { key, .. } = p { Some(key.as_str()) } else { None })
    }

    /// Fills in the variables; `None` when one has no value and no default (nothing can match).
    pub(crate) fn render(&self, ctx: &Context) -> Option<Rendered> {
        let mut text = String::new();
        let mut literal = Vec::new();
        let mut push = |s: &str, lit: bool| {
            text.push_str(s);
            literal.extend(std::iter::repeat_n(lit, s.len()));
        };
        for p in &self.parts {
            match p {
                Part::Text(t) => push(t, false),
                Part::Literal(c) => push(c.encode_utf8(&mut [0; 4]), true),
                Part::Var { key, default } => match ctx.get_folded(key).and_then(|v| v.first()) {
                    Some(v) => push(v, true),
                    None => push(default.as_deref()?, true),
                },
            }
        }
        Some(Rendered { text, literal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::wildcard_match_masked;

    fn ctx() -> Context {
        let mut c = Context::new();
        c.set("aws:username", "alice").set("aws:PrincipalTag/team", "blue*");
        c
    }

    fn render(s: &str) -> Option<String> {
        Template::parse(s, Version::V2012).and_then(|t| t.render(&ctx())).map(|r| r.text)
    }

    #[test]
    fn substitutes_defaults_and_escapes() {
        assert_eq!(render("arn:aws:s3:::b/${aws:username}/*").as_deref(), Some("arn:aws:s3:::b/alice/*"));
        assert_eq!(render("${AWS:UserName}").as_deref(), Some("alice"));
        assert_eq!(render("${aws:userid}"), None);
        assert_eq!(render("${aws:userid, 'nobody'}").as_deref(), Some("nobody"));
        assert_eq!(render("a${*}b${?}c${$}").as_deref(), Some("a*b?c$"));
        assert!(Template::parse("arn:aws:s3:::b/${aws:username}", Version::V2008).is_none());
    }

    #[test]
    fn substituted_values_and_escapes_match_literally() {
        let t = Template::parse("team/${aws:PrincipalTag/team}/${*}", Version::V2012).unwrap();
        let r = t.render(&ctx()).unwrap();
        assert!(wildcard_match_masked(r.text.as_bytes(), &r.literal, b"team/blue*/*", false));
        assert!(!wildcard_match_masked(r.text.as_bytes(), &r.literal, b"team/blueberry/*", false));
        assert!(!wildcard_match_masked(r.text.as_bytes(), &r.literal, b"team/blue*/x", false));
    }
}
