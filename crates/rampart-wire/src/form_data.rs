//! `multipart/form-data` bodies (RFC 7578), as a browser posts an HTML form: S3's POST uploads.
//!
//! The body is already whole in memory when it is read, so this reads it in place: each part is
//! its headers' name, filename and content type, and the range of its bytes in the body (an
//! upload's file is never copied here). Written here rather than taken from a crate: the
//! streaming parsers (multer) bring an async runtime's traits and a charset library to do what
//! ~100 lines do over a buffer.

use std::ops::Range;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The `name` of its `Content-Disposition: form-data`.
    pub name: String,
    /// The `filename`, for a file input.
    pub filename: Option<String>,
    /// Its own `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// Where its bytes are in the body.
    pub data: Range<usize>,
}

/// Why a body is not a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// The content type is not `multipart/form-data` with a usable boundary.
    NotAForm,
    /// The body does not follow its boundary's framing (said in the message).
    Malformed(&'static str),
}

/// Most parts a form may have (a form of S3's has a few dozen fields at most).
pub const MAX_PARTS: usize = 1000;
/// Most bytes of one part's headers.
const MAX_PART_HEADERS: usize = 8 * 1024;

/// The boundary a `multipart/form-data` content type declares.
pub fn boundary(content_type: &str) -> Result<String, FormError> {
    let mut params = content_type.split(';');
    let kind = params.next().unwrap_or_default().trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return Err(FormError::NotAForm);
    }
    let value = params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .ok_or(FormError::NotAForm)?;
    // RFC 2046 §5.1.1: 1 to 70 characters.
    if value.is_empty() || value.len() > 70 || value.bytes().any(|b| b.is_ascii_control()) {
        return Err(FormError::NotAForm);
    }
    Ok(value)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    // Linear time whatever the bytes (a file full of near-boundaries costs no more).
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| i + from)
}

/// The parts of `body`, framed by `boundary`, in their order. Text before the first boundary
/// (the preamble) and after the last (the epilogue) is ignored, as RFC 2046 says.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, FormError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let start = if body.starts_with(delimiter) {
        0
    } else {
        let mut lead = b"\r\n".to_vec();
        lead.extend_from_slice(delimiter);
        find(body, &lead, 0).ok_or(FormError::Malformed("the body has no boundary"))? + 2
    };
    let mut next_delimiter = b"\r\n".to_vec();
    next_delimiter.extend_from_slice(delimiter);
    let mut at = start + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let after = body.get(at..).ok_or(FormError::Malformed("the body ends inside a boundary"))?;
        if after.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding (spaces, tabs) may follow a boundary before its line break.
        let pad = after.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
        if !after.get(pad..).is_some_and(|r| r.starts_with(b"\r\n")) {
            return Err(FormError::Malformed("a boundary is not followed by a line break"));
        }
        let headers_at = at + pad + 2;
        // A part with no headers has its blank line at once (and is refused below, nameless).
        let (headers_end, data_at) = if body.get(headers_at..).is_some_and(|r| r.starts_with(b"\r\n")) {
            (headers_at, headers_at + 2)
        } else {
            let end = find(body, b"\r\n\r\n", headers_at)
                .filter(|e| e - headers_at <= MAX_PART_HEADERS)
                .ok_or(FormError::Malformed("a part's headers do not end"))?;
            (end, end + 4)
        };
        let data_end =
            find(body, &next_delimiter, data_at).ok_or(FormError::Malformed("a part does not end with a boundary"))?;
        if parts.len() == MAX_PARTS {
            return Err(FormError::Malformed("the form has too many parts"));
        }
        let header_text = body.get(headers_at..headers_end).unwrap_or_default();
        parts.push(part(header_text, data_at..data_end)?);
        at = data_end + next_delimiter.len();
    }
}

fn part(headers: &[u8], data: Range<usize>) -> Result<Part, FormError> {
    let text = std::str::from_utf8(headers).map_err(|_| FormError::Malformed("a part's headers are not UTF-8"))?;
    let mut disposition = None;
    let mut content_type = None;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(FormError::Malformed("a part's header has no colon"))?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.trim());
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        }
    }
    let disposition = disposition.ok_or(FormError::Malformed("a part has no Content-Disposition"))?;
    let mut params = split_params(disposition).into_iter();
    if !params.next().is_some_and(|(k, v)| v.is_none() && k.eq_ignore_ascii_case("form-data")) {
        return Err(FormError::Malformed("a part's Content-Disposition is not form-data"));
    }
    let (mut name, mut filename) = (None, None);
    for (k, v) in params {
        if k.eq_ignore_ascii_case("name") {
            name = v;
        } else if k.eq_ignore_ascii_case("filename") {
            filename = v;
        }
    }
    let name = name.ok_or(FormError::Malformed("a part has no name"))?;
    Ok(Part { name, filename, content_type, data })
}

/// `form-data; name="a"; filename="b;c.txt"`: the parameters, quoted strings unquoted (a
/// backslash escapes the next character, as browsers write a quote in a file name).
fn split_params(s: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == ';' || c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        let value = if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            let mut v = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => v.extend(chars.next()),
                        c => v.push(c),
                    }
                }
                while chars.peek().is_some_and(|c| *c != ';') {
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    v.push(c);
                    chars.next();
                }
                v = v.trim().to_owned();
            }
            Some(v)
        } else {
            None
        };
        out.push((key.trim().to_owned(), value));
        if chars.next().is_none() {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = b"preamble\r\n".to_vec();
        for (name, file, data) in parts {
            b.extend_from_slice(b"--XyZ\r\n");
            let disposition = match file {
                Some(f) => format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n"),
                None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n"),
            };
            b.extend_from_slice(disposition.as_bytes());
            if file.is_some() {
                b.extend_from_slice(b"Content-Type: image/png\r\n");
            }
            b.extend_from_slice(b"\r\n");
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--XyZ--\r\nepilogue");
        b
    }

    #[test]
    fn reads_fields_and_a_file_in_place() {
        let body = form(&[("key", None, b"a/${filename}"), ("file", Some("x \\\"y\\\".png"), b"\r\n--Xy\r\nbytes")]);
        let parts = parse(&body, "XyZ").expect("a form");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "key");
        assert_eq!(&body[parts[0].data.clone()], b"a/${filename}");
        assert_eq!(parts[1].filename.as_deref(), Some("x \"y\".png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        // Bytes that look like a boundary but are not one stay in the file.
        assert_eq!(&body[parts[1].data.clone()], b"\r\n--Xy\r\nbytes");
    }

    #[test]
    fn an_empty_value_and_an_empty_form() {
        let parts = parse(&form(&[("acl", None, b"")]), "XyZ").expect("a form");
        assert_eq!(parts[0].data.len(), 0);
        assert_eq!(parse(b"--XyZ--\r\n", "XyZ").expect("a form"), Vec::new());
    }

    #[test]
    fn refuses_what_is_not_framed() {
        assert_eq!(parse(b"no boundary here", "XyZ"), Err(FormError::Malformed("the body has no boundary")));
        let cut = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
        assert_eq!(parse(cut, "XyZ"), Err(FormError::Malformed("a part does not end with a boundary")));
        let nameless = b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--";
        assert_eq!(parse(nameless, "XyZ"), Err(FormError::Malformed("a part has no name")));
        let attachment = b"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--XyZ--";
        assert!(parse(attachment, "XyZ").is_err());
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=abc").as_deref(), Ok("abc"));
        assert_eq!(boundary("Multipart/Form-Data; charset=utf-8; Boundary=\"a b\"").as_deref(), Ok("a b"));
        assert_eq!(boundary("multipart/mixed; boundary=abc"), Err(FormError::NotAForm));
        assert_eq!(boundary("multipart/form-data"), Err(FormError::NotAForm));
        assert_eq!(boundary(&format!("multipart/form-data; boundary={}", "a".repeat(71))), Err(FormError::NotAForm));
    }
}
