//! Whether a value libinjection calls XSS is a whole, inert markup document: an XML or SVG upload
//! (an order, an icon) whose every tag, attribute and section is one no browser runs. Such a body
//! is a file, not a script injection; anything active in it (a script or event handler, a
//! `javascript:` URL, a frame or embedded object, a section hiding markup from an HTML parser, a
//! document type that defines entities) leaves libinjection's verdict standing. Pure.

use quick_xml::events::Event;

/// Elements that run or load something, or change how the rest of a page is read.
const ACTIVE: &[&[u8]] = &[
    b"script",
    b"iframe",
    b"frame",
    b"frameset",
    b"object",
    b"embed",
    b"applet",
    b"foreignobject",
    b"handler",
    b"listener",
    b"style",
    b"template",
    b"noscript",
    b"xmp",
    b"import",
];

/// Elements that load or redirect through their attributes.
const LOADERS: &[&[u8]] = &[b"link", b"meta", b"base"];

/// URL schemes and CSS that run script where an attribute value is used.
const ACTIVE_VALUES: &[&[u8]] = &[b"javascript:", b"vbscript:", b"livescript:", b"data:text/html", b"expression("];

/// Whether `value` is one well-formed markup document with nothing active in it.
pub(crate) fn inert_document(value: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(value) else { return false };
    if !text.trim_start().starts_with('<') {
        return false;
    }
    // The value is read as it is inspected: usually with its character references already
    // decoded (HTML_ENTITY_DECODE), leaving a bare `&` that XML would refuse. Every `&` is taken
    // as text; attribute values are decoded again below, so a reference there still counts.
    let escaped = text.replace('&', "&amp;");
    let mut reader = quick_xml::Reader::from_str(&escaped);
    reader.config_mut().check_end_names = true;
    let (mut depth, mut elements) = (0usize, 0usize);
    loop {
        let inert = match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                elements += 1;
                inert_tag(&e)
            }
            Ok(Event::Empty(e)) => {
                elements += 1;
                inert_tag(&e)
            }
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                true
            }
            // Text is only text in well-formed markup: a `<` in it could not be there.
            Ok(Event::Text(_) | Event::Decl(_)) => true,
            // Hidden from an XML parser, read as markup by an HTML one.
            Ok(Event::CData(c)) => !c.contains(['<', '>']),
            Ok(Event::Comment(c)) => !c.contains(['<', '>']),
            // XML's own entities and character references are text; others are defined by a
            // document type, which may hide anything.
            Ok(Event::GeneralRef(r)) => matches!(&*r, "amp" | "lt" | "gt" | "quot" | "apos") || r.starts_with('#'),
            // A document type without an internal subset (`<!doctype html>`) declares nothing.
            Ok(Event::DocType(d)) => !d.contains(['[', '<']) && !d.to_ascii_lowercase().contains("entity"),
            // Stylesheets and other instructions are not an upload's business here.
            Ok(Event::PI(_)) => false,
            Ok(Event::Eof) => return depth == 0 && elements > 0,
            Err(_) => false,
        };
        if !inert {
            return false;
        }
    }
}

fn inert_tag(tag: &quick_xml::events::BytesStart<'_>) -> bool {
    let name = tag.local_name().as_ref().to_ascii_lowercase();
    if ACTIVE.contains(&name.as_bytes()) {
        return false;
    }
    // HTML's `link`, `meta` and `base` act through their attributes; RSS's `<link>` holds text.
    if LOADERS.contains(&name.as_bytes()) && tag.attributes().next().is_some() {
        return false;
    }
    tag.attributes().all(|a| {
        let Ok(a) = a else { return false };
        let key = a.key.local_name().as_ref().to_ascii_lowercase();
        // Browsers decode character references in attributes (`javascript&colon;`) and skip
        // whitespace and NULs inside a scheme (`jav\tascript:`).
        let mut decoded = a.value.to_string();
        for _ in 0..3 {
            let again = decode_references(&decoded);
            if again == decoded {
                break;
            }
            decoded = again;
        }
        let value: Vec<u8> =
            decoded.bytes().filter(|b| !b.is_ascii_whitespace() && *b != 0).map(|b| b.to_ascii_lowercase()).collect();
        !key.starts_with("on") && !ACTIVE_VALUES.iter().any(|v| value.windows(v.len()).any(|w| w == *v))
    })
}

/// An attribute value with its numeric character references and the named ones that spell
/// schemes and calls (`&colon;`, `&lpar;`, `&Tab;`, …) decoded; other references stay.
fn decode_references(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let end = tail.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &tail[..e];
            let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok()
            } else {
                match name.to_ascii_lowercase().as_str() {
                    "colon" => Some(58),
                    "tab" => Some(9),
                    "newline" => Some(10),
                    "lpar" => Some(40),
                    "rpar" => Some(41),
                    "sol" => Some(47),
                    "period" => Some(46),
                    "amp" => Some(38),
                    _ => None,
                }
            };
            Some((char::from_u32(code?)?, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::inert_document;

    #[test]
    fn uploads_of_inert_markup_are_told_from_markup_that_runs_something() {
        let inert = [
            r#"<?xml version="1.0" encoding="UTF-8"?><order><id>123</id><item sku="A-1" qty="2"/></order>"#,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><circle cx="8" cy="8" r="7" fill="#0a84ff"/></svg>"##,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><title>Logo</title><a href="https://example.com/"><rect width="4" height="4"/></a></svg>"#,
            "<feed><entry><![CDATA[Fish & chips]]></entry><!-- prices in EUR --></feed>",
            "<invoice><line><desc>Consulting &amp; support &#8364;</desc></line></invoice>",
            "<invoice><line><desc>Consulting & support</desc></line></invoice>",
            "<x>&custom; &lt;script&gt; is text</x>",
            r#"<rss version="2.0"><channel><title>Blog</title><link>https://example.com/</link></channel></rss>"#,
            r#"<!doctype html><html><head><title>News</title></head><body><p>Our <a href="https://example.com/shop">shop</a> is open.</p></body></html>"#,
        ];
        for doc in inert {
            assert!(inert_document(doc.as_bytes()), "{doc}");
        }
        let active = [
            r#"<svg onload="alert(1)"/>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
            r#"<svg><a href="javascript:alert(1)"><text>x</text></a></svg>"#,
            r#"<svg><a href="jav	ascript:alert(1)">x</a></svg>"#,
            r#"<a href="jAvAsCrIpT&colon;alert&lpar;1&rpar;">X</a>"#,
            r#"<a href="&#106;avascript&#x3A;alert(1)">X</a>"#,
            r#"<svg><animate attributeName="href" values="javascript:alert(1)"/></svg>"#,
            r#"<svg><foreignObject><body/></foreignObject></svg>"#,
            "<x><![CDATA[><script>alert(1)</script>]]></x>",
            "<x><!-- ><img src=x onerror=alert(1)> --></x>",
            r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "y">]><x>&e;</x>"#,
            r#"<?xml-stylesheet href="evil.xsl"?><x/>"#,
            r#"<a><b></a></b>"#,
            r#"<img src=x onerror=alert(1)>"#,
            r#""><script>alert(1)</script>"#,
            "<iframe src=\"https://example.com\"></iframe>",
            r#"<svg><link rel="import" href="https://evil.example/x"/></svg>"#,
            r#"<x><meta http-equiv="refresh" content="0;url=https://evil.example"/></x>"#,
            "<x/><y/>trailing <b>",
        ];
        for doc in active {
            assert!(!inert_document(doc.as_bytes()), "{doc}");
        }
    }
}
