//! Minimal XML text building for responses; escaping by quick-xml.

use std::borrow::Cow;

/// Escapes text and attribute values (`&`, `<`, `>`, `'`, `"`).
pub fn escape(s: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(s)
}
