//! Minimal XML text building for responses; escaping by quick-xml.

use std::borrow::Cow;

/// Escapes text and attribute values (`&`, `<`, `>`, `'`, `"`), and replaces what XML 1.0 cannot
/// hold at all, even escaped (control characters but tab, line feed and carriage return;
/// U+FFFE and U+FFFF), with U+FFFD: a message that echoes input stays a well-formed document.
/// See <https://www.w3.org/TR/xml/#charsets>.
pub fn escape(s: &str) -> Cow<'_, str> {
    let forbidden = |c: char| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r') && c < '\u{80}') || c == '\u{FFFE}' || c == '\u{FFFF}'
    };
    if s.chars().any(forbidden) {
        let clean: String = s.chars().map(|c| if forbidden(c) { '\u{FFFD}' } else { c }).collect();
        return Cow::Owned(quick_xml::escape::escape(&clean).into_owned());
    }
    quick_xml::escape::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_xml_cannot_hold_is_replaced() {
        assert_eq!(escape("a<b"), "a&lt;b");
        assert_eq!(escape("bell\u{7}null\u{0}esc\u{1b}"), "bell\u{FFFD}null\u{FFFD}esc\u{FFFD}");
        assert_eq!(escape("tab\tlf\ncr\r"), "tab\tlf\ncr&#13;");
        assert_eq!(escape("\u{FFFF}&"), "\u{FFFD}&amp;");
        // C1 controls (U+0080–U+009F) are allowed characters in XML 1.0.
        assert_eq!(escape("\u{85}"), "\u{85}");
    }
}
