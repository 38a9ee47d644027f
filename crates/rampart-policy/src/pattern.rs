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
    /// `*`s between literal segments, no `?`: matched by leftmost search of each segment.
    Segments(Box<[Box<str>]>),
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
            _ if !fold && !p.contains('?') => Self::Segments(p.split('*').map(Box::from).collect()),
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
            Self::Segments(segs) => segments_match(segs, text),
            Self::Wild(p) => wildcard_match(p.as_bytes(), text.as_bytes(), fold),
        }
    }
}

/// The leftmost position of `needle` in `hay`. Policy segments and ARNs are short, where a
/// first-byte scan beats building a Two-Way searcher on every call.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = match needle.split_first() {
        Some(x) => x,
        None => return Some(0),
    };
    let last_start = hay.len().checked_sub(needle.len())?;
    (0..=last_start).find(|&i| hay.get(i) == Some(&first) && hay.get(i + 1..i + needle.len()) == Some(rest))
}

/// `first*m1*…*last`: `first` at the start, each middle segment at its leftmost place after the
/// previous one, `last` at the end without overlapping. Leftmost placement is always safe for
/// `*`-only patterns.
fn segments_match(segs: &[Box<str>], text: &str) -> bool {
    let (Some((first, rest)), Some(last)) = (segs.split_first(), segs.last()) else { return text.is_empty() };
    let Some(mut pos) = text.strip_prefix(&**first).map(|_| first.len()) else { return false };
    let middle = rest.split_last().map_or(&[][..], |(_, m)| m);
    for seg in middle {
        match text.get(pos..).and_then(|t| find(t.as_bytes(), seg.as_bytes())) {
            Some(i) => pos += i + seg.len(),
            None => return false,
        }
    }
    text.len() >= pos + last.len() && text.ends_with(&**last)
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
        check("arn:aws:s3:*:1111:thing0/*", "arn:aws:s3:::1111:thing0/key", false, true);
        check("arn:aws:s3:*:1111:thing0/*", "arn:aws:s3:::1111:thing4/key", false, false);
        check("a*b*c", "abc", false, true);
        check("a*b*c", "abbc", false, true);
        check("a*b*c", "acb", false, false);
        check("ab*ba", "aba", false, false);
        check("*x*", "abxcd", false, true);
        check("a*", "b", false, false);
        check("*a", "a", false, true);
        check("a*a", "a", false, false);
    }

    proptest::proptest! {
        /// The segment matcher agrees with the general one on every pattern it takes.
        #[test]
        fn segment_matching_agrees_with_the_general_matcher(p in "[ab*]{0,8}", t in "[ab]{0,10}") {
            let general = wildcard_match(p.as_bytes(), t.as_bytes(), false);
            proptest::prop_assert_eq!(Pattern::new(&p, false).matches(&t, false), general, "{} ~ {}", p, t);
        }
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
