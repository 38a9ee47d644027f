//! Text transformations: what a statement does to a request component before it inspects it,
//! byte-exact as AWS WAF defines them (they are ModSecurity's transformations of the same names).
//! Each decodes once: `%2527` URL-decoded once is `%27`.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-transformation.html>.

use std::borrow::Cow;

/// One text transformation type of the WAFv2 model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    None,
    CompressWhiteSpace,
    HtmlEntityDecode,
    Lowercase,
    CmdLine,
    UrlDecode,
    UrlDecodeUni,
    Base64Decode,
    Base64DecodeExt,
    HexDecode,
    Md5,
    ReplaceComments,
    EscapeSeqDecode,
    SqlHexDecode,
    CssDecode,
    JsDecode,
    NormalizePath,
    NormalizePathWin,
    RemoveNulls,
    ReplaceNulls,
    Utf8ToUnicode,
}

impl Transform {
    /// The transformation a `TextTransformation.Type` names.
    pub fn parse(name: &str) -> Option<Transform> {
        Some(match name {
            "NONE" => Transform::None,
            "COMPRESS_WHITE_SPACE" => Transform::CompressWhiteSpace,
            "HTML_ENTITY_DECODE" => Transform::HtmlEntityDecode,
            "LOWERCASE" => Transform::Lowercase,
            "CMD_LINE" => Transform::CmdLine,
            "URL_DECODE" => Transform::UrlDecode,
            "URL_DECODE_UNI" => Transform::UrlDecodeUni,
            "BASE64_DECODE" => Transform::Base64Decode,
            "BASE64_DECODE_EXT" => Transform::Base64DecodeExt,
            "HEX_DECODE" => Transform::HexDecode,
            "MD5" => Transform::Md5,
            "REPLACE_COMMENTS" => Transform::ReplaceComments,
            "ESCAPE_SEQ_DECODE" => Transform::EscapeSeqDecode,
            "SQL_HEX_DECODE" => Transform::SqlHexDecode,
            "CSS_DECODE" => Transform::CssDecode,
            "JS_DECODE" => Transform::JsDecode,
            "NORMALIZE_PATH" => Transform::NormalizePath,
            "NORMALIZE_PATH_WIN" => Transform::NormalizePathWin,
            "REMOVE_NULLS" => Transform::RemoveNulls,
            "REPLACE_NULLS" => Transform::ReplaceNulls,
            "UTF8_TO_UNICODE" => Transform::Utf8ToUnicode,
            _ => return None,
        })
    }

    /// The transformed input; borrowed where the transformation changes nothing.
    pub fn apply<'a>(self, input: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            Transform::None => Cow::Borrowed(input),
            Transform::Lowercase => {
                if input.iter().any(u8::is_ascii_uppercase) {
                    Cow::Owned(input.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(input)
                }
            }
            Transform::RemoveNulls => changed(input, b"\0", || input.iter().copied().filter(|b| *b != 0).collect()),
            Transform::ReplaceNulls => {
                changed(input, b"\0", || input.iter().map(|b| if *b == 0 { b' ' } else { *b }).collect())
            }
            Transform::CompressWhiteSpace => Cow::Owned(compress_white_space(input)),
            Transform::HtmlEntityDecode => changed(input, b"&", || html_entity_decode(input)),
            Transform::CmdLine => Cow::Owned(cmd_line(input)),
            Transform::UrlDecode => changed(input, b"%+", || url_decode(input, false)),
            Transform::UrlDecodeUni => changed(input, b"%+", || url_decode(input, true)),
            Transform::Base64Decode => Cow::Owned(base64_decode(input, false)),
            Transform::Base64DecodeExt => Cow::Owned(base64_decode(input, true)),
            Transform::HexDecode => Cow::Owned(hex_decode(input)),
            Transform::Md5 => {
                use md5::Digest;
                Cow::Owned(md5::Md5::digest(input).to_vec())
            }
            Transform::ReplaceComments => changed(input, b"/*", || replace_comments(input)),
            Transform::EscapeSeqDecode => changed(input, b"\\", || escape_seq_decode(input)),
            Transform::SqlHexDecode => Cow::Owned(sql_hex_decode(input)),
            Transform::CssDecode => changed(input, b"\\", || css_decode(input)),
            Transform::JsDecode => changed(input, b"\\", || js_decode(input)),
            Transform::NormalizePath => Cow::Owned(normalize_path(input, false)),
            Transform::NormalizePathWin => Cow::Owned(normalize_path(input, true)),
            Transform::Utf8ToUnicode => {
                if input.is_ascii() {
                    Cow::Borrowed(input)
                } else {
                    Cow::Owned(utf8_to_unicode(input))
                }
            }
        }
    }
}

/// Applies `transforms` in order (the caller sorts them by priority).
pub fn apply_all<'a>(transforms: &[Transform], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut value = Cow::Borrowed(input);
    for t in transforms {
        value = match value {
            Cow::Borrowed(b) => t.apply(b),
            // A transformation that changes nothing keeps the value it was given, uncopied.
            Cow::Owned(o) => {
                let changed = match t.apply(&o) {
                    Cow::Owned(n) => Some(n),
                    Cow::Borrowed(_) => None,
                };
                Cow::Owned(changed.unwrap_or(o))
            }
        };
    }
    value
}

/// Runs `f` only where `input` holds one of the (one or two) bytes it could change, found with
/// memchr's vectorized search: most values hold none, and every value is scanned once per
/// transformation.
fn changed<'a>(input: &'a [u8], trigger: &[u8], f: impl FnOnce() -> Vec<u8>) -> Cow<'a, [u8]> {
    let found = match *trigger {
        [a] => memchr::memchr(a, input).is_some(),
        [a, b] => memchr::memchr2(a, b, input).is_some(),
        _ => input.iter().any(|b| trigger.contains(b)),
    };
    if found { Cow::Owned(f()) } else { Cow::Borrowed(input) }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A code point as one byte: full-width ASCII (U+FF01–U+FF5E) becomes its ASCII form, anything
/// else its low byte, as ModSecurity's Unicode decoders do.
fn narrow(code: u32) -> u8 {
    if (0xFF01..=0xFF5E).contains(&code) { u8::try_from(code - 0xFEE0).unwrap_or(b'?') } else { (code & 0xFF) as u8 }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0xa0)
}

/// `\f \t \n \r \v` and the non-breaking space (0xA0) become spaces, and runs of spaces one.
fn compress_white_space(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &b in input {
        if is_space(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b);
            in_space = false;
        }
    }
    out
}

/// `&quot; &nbsp; &lt; &gt;` (and `&amp;`), and numeric references `&#xhhhh;` / `&#nnnn;` (the
/// final `;` optional), each to one byte.
fn html_entity_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'&'
            && let Some((byte, after)) = entity(tail)
        {
            out.push(byte);
            rest = after;
        } else {
            out.push(b);
            rest = tail;
        }
    }
    out
}

/// The byte an entity after `&` stands for, and what follows it.
fn entity(rest: &[u8]) -> Option<(u8, &[u8])> {
    if let Some(num) = rest.strip_prefix(b"#") {
        let (digits, radix) = match num {
            [b'x' | b'X', tail @ ..] => (tail, 16),
            _ => (num, 10),
        };
        let len =
            digits.iter().take_while(|b| if radix == 16 { b.is_ascii_hexdigit() } else { b.is_ascii_digit() }).count();
        let (number, after) = digits.split_at_checked(len)?;
        if number.is_empty() {
            return None;
        }
        let code = number
            .iter()
            .try_fold(0u32, |acc, d| Some(acc.saturating_mul(radix).saturating_add(u32::from(hex(*d)?))))?;
        return Some((low_byte(code), after.strip_prefix(b";").unwrap_or(after)));
    }
    for (name, byte) in [(&b"quot;"[..], b'"'), (b"nbsp;", 0xa0), (b"lt;", b'<'), (b"gt;", b'>'), (b"amp;", b'&')] {
        if let Some((head, after)) = rest.split_at_checked(name.len())
            && head.eq_ignore_ascii_case(name)
        {
            return Some((byte, after));
        }
    }
    None
}

fn low_byte(code: u32) -> u8 {
    code.to_le_bytes()[0]
}

/// Deletes `\ " ' ^`, deletes spaces before `/` and `(`, turns `,` and `;` into spaces, collapses
/// white space and lowercases.
fn cmd_line(input: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    for &b in input {
        match b {
            b'\\' | b'"' | b'\'' | b'^' => {}
            b',' | b';' => push_space(&mut out),
            b if is_space(b) => push_space(&mut out),
            b'/' | b'(' => {
                while out.last() == Some(&b' ') {
                    out.pop();
                }
                out.push(b);
            }
            b => out.push(b.to_ascii_lowercase()),
        }
    }
    out
}

fn push_space(out: &mut Vec<u8>) {
    if out.last() != Some(&b' ') {
        out.push(b' ');
    }
}

/// Two hex digits as a byte.
fn hex_pair(h: u8, l: u8) -> Option<u8> {
    Some(hex(h)? << 4 | hex(l)?)
}

/// `%HH` and `+`; with `uni`, also `%uHHHH`. Malformed escapes stay as they are.
fn url_decode(input: &[u8], uni: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match (b, tail) {
            (b'%', [b'u' | b'U', a, b, c, d, after @ ..]) if uni && hex4([*a, *b, *c, *d]).is_some() => {
                out.push(narrow(hex4([*a, *b, *c, *d]).unwrap_or(0)));
                rest = after;
            }
            (b'%', [h, l, after @ ..]) if hex_pair(*h, *l).is_some() => {
                out.push(hex_pair(*h, *l).unwrap_or(0));
                rest = after;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
    }
    out
}

fn hex4(digits: [u8; 4]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, d| Some(acc << 4 | u32::from(hex(*d)?)))
}

fn base64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Base64 (standard alphabet, padding optional): strictly, up to the first character outside the
/// alphabet; with `forgiving`, skipping such characters.
fn base64_decode(input: &[u8], forgiving: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in input {
        let Some(v) = base64_value(b) else {
            if b == b'=' || !forgiving {
                break;
            }
            continue;
        };
        acc = (acc << 6 | u32::from(v)) & 0xFFFF;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(low_byte(acc >> bits));
        }
    }
    out
}

/// Pairs of hex digits to bytes; a string that is not all hex pairs stays as it is.
fn hex_decode(input: &[u8]) -> Vec<u8> {
    let (pairs, odd) = input.as_chunks::<2>();
    if !odd.is_empty() {
        return input.to_vec();
    }
    let decoded: Option<Vec<u8>> = pairs.iter().map(|[h, l]| hex_pair(*h, *l)).collect();
    decoded.unwrap_or_else(|| input.to_vec())
}

/// Each `/* … */` becomes one space, an unterminated one too; a lone `*/` stays.
fn replace_comments(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        if let (b'/', [b'*', inside @ ..]) = (b, tail) {
            out.push(b' ');
            match inside.windows(2).position(|w| w == b"*/") {
                Some(at) => rest = inside.get(at + 2..).unwrap_or_default(),
                None => break,
            }
        } else {
            out.push(b);
            rest = tail;
        }
    }
    out
}

/// The byte a C escape after a `\` stands for, and what follows it: `\a \b \f \n \r \t \v \\ \?
/// \' \"`, `\xHH` and octal `\OOO`.
fn c_escape(after_backslash: &[u8]) -> Option<(u8, &[u8])> {
    let (&c, tail) = after_backslash.split_first()?;
    let simple = match c {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        b'\\' | b'?' | b'\'' | b'"' => Some(c),
        _ => None,
    };
    if let Some(b) = simple {
        return Some((b, tail));
    }
    if let (b'x' | b'X', [h, l, after @ ..]) = (c, tail) {
        return Some((hex_pair(*h, *l)?, after));
    }
    let octal = after_backslash.iter().take(3).take_while(|b| (b'0'..=b'7').contains(*b)).count();
    let (digits, after) = after_backslash.split_at_checked(octal)?;
    if digits.is_empty() {
        return None;
    }
    let code = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
    Some((low_byte(code), after))
}

/// ANSI C escapes (see [`c_escape`]); invalid ones stay as they are.
fn escape_seq_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'\\'
            && let Some((decoded, after)) = c_escape(tail)
        {
            out.push(decoded);
            rest = after;
        } else {
            out.push(b);
            rest = tail;
        }
    }
    out
}

/// Every `0x` followed by hex pairs becomes the bytes they encode: `0x414243` is `ABC`.
fn sql_hex_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        if let (b'0', [b'x' | b'X', digits @ ..]) = (b, tail) {
            let len = digits.iter().take_while(|d| d.is_ascii_hexdigit()).count() / 2 * 2;
            if len > 0
                && let Some((hexes, after)) = digits.split_at_checked(len)
            {
                let (pairs, _) = hexes.as_chunks::<2>();
                out.extend(pairs.iter().filter_map(|[h, l]| hex_pair(*h, *l)));
                rest = after;
                continue;
            }
        }
        out.push(b);
        rest = tail;
    }
    out
}

/// CSS 2.x escapes: `\` and 1–6 hex digits (and one white-space character after them), `\` and a
/// newline (removed), `\` and any other character (that character): `ja\vascript` is
/// `javascript`.
fn css_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let digits = tail.iter().take(6).take_while(|d| d.is_ascii_hexdigit()).count();
        match tail.split_at_checked(digits) {
            Some((hexes, after)) if !hexes.is_empty() => {
                let code = hexes.iter().fold(0u32, |acc, d| acc << 4 | u32::from(hex(*d).unwrap_or(0)));
                out.push(narrow(code));
                rest = match after.split_first() {
                    Some((space, more)) if is_space(*space) => more,
                    _ => after,
                };
            }
            _ => match tail.split_first() {
                Some((b'\n', after)) => rest = after,
                Some((c, after)) => {
                    out.push(*c);
                    rest = after;
                }
                None => {}
            },
        }
    }
    out
}

/// JavaScript escapes: those of [`c_escape`], `\uHHHH` (full-width ASCII narrowed), and `\`
/// before any other character (that character).
fn js_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' || tail.is_empty() {
            out.push(b);
            continue;
        }
        if let [b'u' | b'U', a, b, c, d, after @ ..] = tail
            && let Some(code) = hex4([*a, *b, *c, *d])
        {
            out.push(narrow(code));
            rest = after;
        } else if let Some((decoded, after)) = c_escape(tail) {
            out.push(decoded);
            rest = after;
        } else if let Some((c, after)) = tail.split_first() {
            out.push(*c);
            rest = after;
        }
    }
    out
}

/// Removes repeated slashes and `./` and `../` segments (a `../` at the start stays); with
/// `windows`, backslashes are slashes first.
fn normalize_path(input: &[u8], windows: bool) -> Vec<u8> {
    let path: Vec<u8> =
        if windows { input.iter().map(|b| if *b == b'\\' { b'/' } else { *b }).collect() } else { input.to_vec() };
    let absolute = path.first() == Some(&b'/');
    let slash = path.last() == Some(&b'/');
    let dot_ended = path.ends_with(b"/.") || path.ends_with(b"/..");
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in path.split(|b| *b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                if segments.last().is_some_and(|s| *s != b"..") {
                    segments.pop();
                } else if !absolute {
                    segments.push(segment);
                }
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if absolute {
        out.push(b'/');
    }
    out.extend_from_slice(&segments.join(&b'/'));
    // A directory stays one: a trailing `/`, or a `.` or `..` that was resolved away (a `..`
    // kept at the start of a relative path stays as written).
    let kept_up = segments.last().is_some_and(|s| *s == b"..");
    if !segments.is_empty() && (slash || (dot_ended && !kept_up)) {
        out.push(b'/');
    }
    out
}

/// UTF-8 sequences of two to four bytes become `%uHHHH`; other bytes stay.
fn utf8_to_unicode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        let len = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1,
        };
        if len > 1
            && let Some((seq, after)) = rest.split_at_checked(len)
            && let Ok(s) = std::str::from_utf8(seq)
            && let Some(c) = s.chars().next()
        {
            out.extend_from_slice(format!("%u{:04x}", u32::from(c)).as_bytes());
            rest = after;
            continue;
        }
        out.push(b);
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: &str, input: &[u8]) -> Vec<u8> {
        Transform::parse(kind).unwrap().apply(input).into_owned()
    }

    #[test]
    fn each_decoder_decodes_once() {
        assert_eq!(t("URL_DECODE", b"%2527%20or+1"), b"%27 or 1");
        assert_eq!(t("URL_DECODE", b"100%"), b"100%");
        assert_eq!(t("URL_DECODE_UNI", b"%u003cscript%uff1e"), b"<script>");
        assert_eq!(t("HTML_ENTITY_DECODE", b"&lt;img&#x20;src&#61x&GT;&nbsp;"), b"<img src=x>\xa0");
        assert_eq!(t("HTML_ENTITY_DECODE", b"a & b &#;"), b"a & b &#;");
        assert_eq!(t("ESCAPE_SEQ_DECODE", br"\x41\102\n\q"), b"AB\n\\q");
        assert_eq!(t("JS_DECODE", br"\u0061lert\x28\q"), b"alert(q");
        assert_eq!(t("CSS_DECODE", br"ja\vascript:\61 lert"), b"javascript:alert");
        assert_eq!(t("SQL_HEX_DECODE", b"select 0x414243, 0xZ"), b"select ABC, 0xZ");
        assert_eq!(t("HEX_DECODE", b"414243"), b"ABC");
        assert_eq!(t("HEX_DECODE", b"41zz"), b"41zz");
        assert_eq!(t("BASE64_DECODE", b"YWRtaW4="), b"admin");
        assert_eq!(t("BASE64_DECODE_EXT", b"YW.Rt-aW4"), b"admin");
        assert_eq!(t("BASE64_DECODE", b"YW.Rt"), b"a");
    }

    #[test]
    fn normalizers_follow_their_definitions() {
        assert_eq!(t("COMPRESS_WHITE_SPACE", b"a \t\r\n\x0bb\xa0 c"), b"a b c");
        assert_eq!(t("CMD_LINE", b"C:\\Windows ;  DIR /S \"x\"^"), b"c:windows dir/s x");
        assert_eq!(t("REPLACE_COMMENTS", b"un/**/ion/* sel*/ect */ /* open"), b"un ion ect */  ");
        assert_eq!(t("NORMALIZE_PATH", b"/a//b/./c/../../etc/passwd"), b"/a/etc/passwd");
        assert_eq!(t("NORMALIZE_PATH", b"/../../etc/passwd"), b"/etc/passwd");
        assert_eq!(t("NORMALIZE_PATH_WIN", b"\\a\\..\\b\\"), b"/b/");
        assert_eq!(t("NORMALIZE_PATH", b"../.."), b"../..");
        assert_eq!(t("NORMALIZE_PATH", b"a/b/.."), b"a/");
        assert_eq!(t("REMOVE_NULLS", b"a\0b"), b"ab");
        assert_eq!(t("REPLACE_NULLS", b"a\0b"), b"a b");
        assert_eq!(t("LOWERCASE", b"SeLeCt"), b"select");
        assert_eq!(t("UTF8_TO_UNICODE", "a\u{00e9}\u{ff1c}".as_bytes()), b"a%u00e9%uff1c");
        assert_eq!(t("MD5", b"").len(), 16);
    }

    #[test]
    fn transformations_chain_in_order() {
        let chain = [Transform::UrlDecode, Transform::UrlDecode, Transform::Lowercase];
        assert_eq!(apply_all(&chain, b"%253CSCRIPT").as_ref(), b"<script");
        assert!(matches!(apply_all(&[Transform::None, Transform::Lowercase], b"plain"), Cow::Borrowed(_)));
    }
}
