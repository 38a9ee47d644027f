//! Wildcard matching (`*` any run, `?` one character), linear-time in practice and never
//! exponential: one backtrack point, no recursion.

/// A pattern analysed once at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `*`.
    Any,
    /// No wildcard.
    Exact(Box<str>),
    /// `prefix*` with no other wildcard.
    Prefix(Box<str>),
    /// Anything else.
    Wild(Box<str>),
}

impl Pattern {
    /// Analyses `p`; `fold` lower-cases it for case-insensitive matching.
    pub(crate) fn new(p: &str, fold: bool) -> Self {
        let p: Box<str> = if fold { p.to_ascii_lowercase().into() } else { p.into() };
        if &*p == "*" {
            return Self::Any;
        }
        let wild = |s: &str| s.contains(['*', '?']);
        match p.strip_suffix('*') {
            _ if !wild(&p) => Self::Exact(p),
            Some(prefix) if !wild(prefix) => Self::Prefix(prefix.into()),
            _ => Self::Wild(p),
        }
    }

    /// Whether `text` matches; with `fold`, ASCII case is ignored (the pattern is already folded).
    pub(crate) fn matches(&self, text: &str, fold: bool) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(p) => {
                if fold {
                    p.eq_ignore_ascii_case(text)
                } else {
                    **p == *text
                }
            }
            Self::Prefix(p) => {
                text.len() >= p.len()
                    && text
                        .get(..p.len())
                        .is_some_and(|head| if fold { head.eq_ignore_ascii_case(p) } else { head == &**p })
            }
            Self::Wild(p) => wildcard_match(p.as_bytes(), text.as_bytes(), fold),
        }
    }
}

fn eq(a: u8, b: u8, fold: bool) -> bool {
    a == b || (fold && a.eq_ignore_ascii_case(&b))
}

/// Matches `text` against `pattern` with `*` (any run, including empty) and `?` (exactly one
/// byte). With `fold`, ASCII case is ignored. Worst case O(len(pattern) × len(text)); patterns such
/// as `*a*a*a*b` stay linear in the text for a fixed pattern.
pub fn wildcard_match(pattern: &[u8], text: &[u8], fold: bool) -> bool {
    wildcard_steps(pattern, None, text, fold).0
}

/// Like [`wildcard_match`], but pattern bytes whose `literal` flag is set match only themselves
/// (variable values and `${*}`-style escapes substituted into a pattern).
pub(crate) fn wildcard_match_masked(pattern: &[u8], literal: &[bool], text: &[u8], fold: bool) -> bool {
    wildcard_steps(pattern, Some(literal), text, fold).0
}

/// The match and the number of loop steps it took (for the complexity test).
fn wildcard_steps(pattern: &[u8], literal: Option<&[bool]>, text: &[u8], fold: bool) -> (bool, usize) {
    let is_lit = |i: usize| literal.is_some_and(|l| l.get(i).copied().unwrap_or(false));
    let mut steps = 0usize;
    let (mut p, mut t) = (0usize, 0usize);
    // The last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        steps += 1;
        match pattern.get(p) {
            Some(b'*') if !is_lit(p) => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if (c == b'?' && !is_lit(p)) || text.get(t).is_some_and(|&x| eq(c, x, fold)) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return (false, steps),
            },
        }
    }
    let rest_is_stars =
        pattern.get(p..).is_some_and(|rest| rest.iter().enumerate().all(|(i, &c)| c == b'*' && !is_lit(p + i)));
    (rest_is_stars, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str, t: &str, fold: bool, expect: bool) {
        assert_eq!(wildcard_match(p.as_bytes(), t.as_bytes(), fold), expect, "{p} ~ {t}");
        let compiled = Pattern::new(p, fold);
        assert_eq!(compiled.matches(t, fold), expect, "compiled {p} ~ {t}");
    }

    #[test]
    fn wildcards() {
        check("*", "", false, true);
        check("*", "anything/at:all", false, true);
        check("s3:Get*", "s3:GetObject", false, true);
        check("s3:get*", "S3:GetObject", true, true);
        check("s3:get*", "S3:GetObject", false, false);
        check("iam:*User", "iam:CreateUser", false, true);
        check("iam:*User", "iam:CreateUsers", false, false);
        check("a?c", "abc", false, true);
        check("a?c", "ac", false, false);
        check("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", false, true);
        check("*a*a*a*a*a*a*b", &"a".repeat(10_000), false, false);
        check("*a*a*a*a*a*a*b", &format!("{}b", "a".repeat(10_000)), false, true);
        check("", "", false, true);
        check("", "x", false, false);
        check("**", "", false, true);
    }

    #[test]
    fn pathological_patterns_take_steps_linear_in_the_text() {
        let pattern = b"*a*a*a*a*a*a*a*a*b";
        for n in [1_000usize, 10_000, 100_000] {
            let text = "a".repeat(n);
            let (matched, steps) = wildcard_steps(pattern, None, text.as_bytes(), false);
            assert!(!matched);
            // A backtracking matcher would need exponentially many steps here.
            assert!(steps <= 2 * pattern.len() * n, "{steps} steps for {n} bytes");
        }
    }
}
