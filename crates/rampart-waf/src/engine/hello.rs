//! A TLS ClientHello, read from the first bytes a client sends, and the JA3 and JA4 fingerprints
//! AWS WAF matches (`JA3Fingerprint`, `JA4Fingerprint`) and logs. Pure: bytes in, fingerprints
//! out; the proxy peeks at a connection's first records before its TLS handshake.
//!
//! JA3 is the MD5 of `version,ciphers,extensions,groups,point formats` (decimal, GREASE values
//! left out), see <https://github.com/salesforce/ja3>; JA4 is FoxIO's `a_b_c` form, see
//! <https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md>. AWS WAF's fields:
//! <https://docs.aws.amazon.com/waf/latest/APIReference/API_JA3Fingerprint.html>,
//! <https://docs.aws.amazon.com/waf/latest/APIReference/API_JA4Fingerprint.html>.

use md5::Digest as _;

/// The most bytes of handshake records read for a ClientHello (a record holds at most 16 KiB;
/// a hello with post-quantum key shares is a few KiB).
pub const MAX_HELLO_BYTES: usize = 16 * 1024 + 5;

/// What a ClientHello carries that the fingerprints are made of, in the order it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// `legacy_version` of the hello.
    pub version: u16,
    pub ciphers: Vec<u16>,
    /// Extension types.
    pub extensions: Vec<u16>,
    /// `supported_groups` (10).
    pub groups: Vec<u16>,
    /// `ec_point_formats` (11).
    pub point_formats: Vec<u8>,
    /// `supported_versions` (43).
    pub versions: Vec<u16>,
    /// `signature_algorithms` (13).
    pub signature_algorithms: Vec<u16>,
    /// The first protocol of `application_layer_protocol_negotiation` (16).
    pub alpn: Option<Vec<u8>>,
}

/// What the bytes read so far hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A whole ClientHello.
    Hello(ClientHello),
    /// The start of one: read more (at most [`MAX_HELLO_BYTES`] in all).
    More,
    /// Not a TLS ClientHello, or a malformed one.
    Not,
}

/// GREASE values (RFC 8701), which fingerprints leave out: both bytes alike, each `0x?a`.
fn grease(v: u16) -> bool {
    let [hi, lo] = v.to_be_bytes();
    hi == lo && lo & 0x0f == 0x0a
}

/// A cursor over bytes that never reads past their end.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }
    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(usize::from(*b.first()?) << 16 | usize::from(*b.get(1)?) << 8 | usize::from(*b.get(2)?))
    }
    /// A vector with a length prefix of `width` bytes.
    fn vec(&mut self, width: usize) -> Option<Bytes<'a>> {
        let n = match width {
            1 => usize::from(self.u8()?),
            _ => usize::from(self.u16()?),
        };
        Some(Bytes(self.take(n)?))
    }
    fn u16s(mut self) -> Option<Vec<u16>> {
        let mut out = Vec::with_capacity(self.0.len() / 2);
        while !self.0.is_empty() {
            out.push(self.u16()?);
        }
        Some(out)
    }
}

/// Reads a ClientHello from the first bytes of a connection: TLS handshake records (type 22),
/// whose fragments are joined until the hello's length is there.
pub fn read(bytes: &[u8]) -> Read {
    let mut records = Bytes(bytes);
    let mut handshake = Vec::new();
    loop {
        if records.0.len() < 5 {
            return if records.0.first().is_some_and(|t| *t != 22) { Read::Not } else { Read::More };
        }
        let (Some(22), Some(major), Some(_), Some(len)) = (records.u8(), records.u8(), records.u8(), records.u16())
        else {
            return Read::Not;
        };
        if major != 3 || usize::from(len) > 16 * 1024 || len == 0 {
            return Read::Not;
        }
        let Some(fragment) = records.take(usize::from(len)) else { return Read::More };
        handshake.extend_from_slice(fragment);
        let mut h = Bytes(&handshake);
        match (h.u8(), h.u24()) {
            (Some(1), Some(n)) if n + 4 > MAX_HELLO_BYTES => return Read::Not,
            (Some(1), Some(n)) if h.0.len() >= n => {
                return h.take(n).and_then(|body| hello(Bytes(body))).map_or(Read::Not, Read::Hello);
            }
            (Some(1), _) | (None, _) => {}
            (Some(_), _) => return Read::Not,
        }
    }
}

fn hello(mut b: Bytes<'_>) -> Option<ClientHello> {
    let version = b.u16()?;
    b.take(32)?;
    b.vec(1)?;
    let ciphers = b.vec(2)?.u16s()?;
    b.vec(1)?;
    let mut hello = ClientHello { version, ciphers, ..ClientHello::default() };
    if b.0.is_empty() {
        return Some(hello);
    }
    let mut extensions = b.vec(2)?;
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut data = extensions.vec(2)?;
        hello.extensions.push(kind);
        match kind {
            10 => hello.groups = data.vec(2)?.u16s()?,
            11 => hello.point_formats = data.vec(1)?.0.to_vec(),
            13 => hello.signature_algorithms = data.vec(2)?.u16s()?,
            16 => {
                let mut list = data.vec(2)?;
                hello.alpn = Some(list.vec(1)?.0.to_vec()).filter(|p| !p.is_empty());
            }
            43 => hello.versions = data.vec(1)?.u16s()?,
            _ => {}
        }
    }
    Some(hello)
}

fn decimal<T: ToString>(values: impl Iterator<Item = T>) -> String {
    values.map(|v| v.to_string()).collect::<Vec<_>>().join("-")
}

fn hex4(values: impl Iterator<Item = u16>) -> String {
    values.map(|v| format!("{v:04x}")).collect::<Vec<_>>().join(",")
}

/// The first 12 hex digits of a SHA-256, or twelve zeros for nothing.
fn sha256_12(text: &str) -> String {
    if text.is_empty() {
        return "000000000000".to_owned();
    }
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    d.as_ref().iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl ClientHello {
    /// The JA3 string: `version,ciphers,extensions,groups,point formats`.
    pub fn ja3_string(&self) -> String {
        let clean = |v: &[u16]| decimal(v.iter().copied().filter(|v| !grease(*v)));
        format!(
            "{},{},{},{},{}",
            self.version,
            clean(&self.ciphers),
            clean(&self.extensions),
            clean(&self.groups),
            decimal(self.point_formats.iter())
        )
    }

    /// The JA3 fingerprint: the MD5 of [`Self::ja3_string`], 32 lower-case hex digits.
    pub fn ja3(&self) -> String {
        md5::Md5::digest(self.ja3_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The JA4 fingerprint (36 characters), for a hello over TCP.
    pub fn ja4(&self) -> String {
        let highest = self.versions.iter().copied().filter(|v| !grease(*v)).max().unwrap_or(self.version);
        let version = match highest {
            0x0304 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            0x0002 => "s2",
            0xfeff => "d1",
            0xfefd => "d2",
            0xfefc => "d3",
            _ => "00",
        };
        let sni = if self.extensions.contains(&0) { 'd' } else { 'i' };
        let ciphers: Vec<u16> = self.ciphers.iter().copied().filter(|v| !grease(*v)).collect();
        let extensions: Vec<u16> = self.extensions.iter().copied().filter(|v| !grease(*v)).collect();
        let alpn = match self.alpn.as_deref() {
            Some([first, .., last]) if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() => {
                format!("{}{}", char::from(*first), char::from(*last))
            }
            Some([only]) if only.is_ascii_alphanumeric() => format!("{0}{0}", char::from(*only)),
            Some(p @ [first, ..]) => {
                let last = p.last().unwrap_or(first);
                let (a, b) = (format!("{first:02x}"), format!("{last:02x}"));
                format!("{}{}", a.chars().next().unwrap_or('0'), b.chars().last().unwrap_or('0'))
            }
            _ => "00".to_owned(),
        };
        let a = format!("t{version}{sni}{:02}{:02}{alpn}", ciphers.len().min(99), extensions.len().min(99));
        let mut sorted = ciphers;
        sorted.sort_unstable();
        let b = sha256_12(&hex4(sorted.into_iter()));
        let mut sorted: Vec<u16> = extensions.into_iter().filter(|e| *e != 0 && *e != 16).collect();
        sorted.sort_unstable();
        let mut c = hex4(sorted.into_iter());
        let signatures: Vec<u16> = self.signature_algorithms.iter().copied().filter(|v| !grease(*v)).collect();
        if !signatures.is_empty() {
            c.push('_');
            c.push_str(&hex4(signatures.into_iter()));
        }
        format!("{a}_{b}_{}", sha256_12(&c))
    }
}

/// A connection's fingerprints, as the proxy hands them to the engine and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub ja3: String,
    pub ja4: String,
}

impl From<&ClientHello> for Fingerprints {
    fn from(h: &ClientHello) -> Self {
        Fingerprints { ja3: h.ja3(), ja4: h.ja4() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record: `extensions` as (type, data).
    fn record(version: u16, ciphers: &[u16], extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend([7u8; 32]);
        body.extend([32]);
        body.extend([9u8; 32]);
        body.extend(u16::try_from(ciphers.len() * 2).unwrap().to_be_bytes());
        for c in ciphers {
            body.extend(c.to_be_bytes());
        }
        body.extend([1, 0]);
        let mut ext = Vec::new();
        for (kind, data) in extensions {
            ext.extend(kind.to_be_bytes());
            ext.extend(u16::try_from(data.len()).unwrap().to_be_bytes());
            ext.extend(data);
        }
        body.extend(u16::try_from(ext.len()).unwrap().to_be_bytes());
        body.extend(ext);
        let mut hs = vec![1];
        hs.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        hs.extend(body);
        let mut rec = vec![22, 3, 1];
        rec.extend(u16::try_from(hs.len()).unwrap().to_be_bytes());
        rec.extend(hs);
        rec
    }

    fn list16(width: usize, values: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        let n = values.len() * 2;
        if width == 1 {
            out.push(u8::try_from(n).unwrap());
        } else {
            out.extend(u16::try_from(n).unwrap().to_be_bytes());
        }
        for v in values {
            out.extend(v.to_be_bytes());
        }
        out
    }

    /// JA4's own worked example: a Chrome hello with these ciphers, extensions and signature
    /// algorithms (GREASE among them) is `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    fn chrome() -> Vec<u8> {
        let ciphers = [
            0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
            0x009d, 0x002f, 0x0035,
        ];
        let sni = {
            let name = b"example.com";
            let mut d = u16::try_from(name.len() + 3).unwrap().to_be_bytes().to_vec();
            d.push(0);
            d.extend(u16::try_from(name.len()).unwrap().to_be_bytes());
            d.extend(name);
            d
        };
        let alpn = vec![0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1'];
        let signatures = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
        let extensions = vec![
            (0x1a1a, vec![]),
            (0x0000, sni),
            (0x0017, vec![]),
            (0xff01, vec![0]),
            (0x000a, list16(2, &[0x2a2a, 0x001d, 0x0017, 0x0018])),
            (0x000b, vec![1, 0]),
            (0x0023, vec![]),
            (0x0010, alpn),
            (0x0005, vec![1, 0, 0, 0, 0]),
            (0x000d, list16(2, &signatures)),
            (0x0012, vec![]),
            (0x0033, vec![0, 0]),
            (0x002d, vec![1, 1]),
            (0x002b, list16(1, &[0x3a3a, 0x0304, 0x0303])),
            (0x001b, vec![2, 0, 2]),
            (0x4469, vec![]),
            (0x0015, vec![0; 4]),
            (0x4a4a, vec![0]),
        ];
        record(0x0303, &ciphers, &extensions)
    }

    #[test]
    fn ja4_of_its_own_worked_example() {
        let Read::Hello(h) = read(&chrome()) else { panic!("a hello") };
        assert_eq!(h.ja4(), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(h.alpn.as_deref(), Some(&b"h2"[..]));
    }

    #[test]
    fn ja3_leaves_grease_out_and_keeps_the_order_sent() {
        let Read::Hello(h) = read(&chrome()) else { panic!("a hello") };
        assert_eq!(
            h.ja3_string(),
            "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
             0-23-65281-10-11-35-16-5-13-18-51-45-43-27-17513-21,29-23-24,0"
        );
        // MD5 of that string, as `printf '%s' … | md5sum` gives it.
        assert_eq!(h.ja3(), "cd08e31494f9531f560d64c695473da9");
    }

    #[test]
    fn a_hello_split_over_records_and_reads_is_read_whole() {
        let whole = chrome();
        let Read::Hello(expected) = read(&whole) else { panic!("a hello") };
        // Cut short: more is needed.
        assert_eq!(read(whole.get(..40).unwrap()), Read::More);
        assert_eq!(read(whole.get(..3).unwrap()), Read::More);
        // The same handshake in two records.
        let hs = whole.get(5..).unwrap();
        let (first, second) = hs.split_at(60);
        let mut split = Vec::new();
        for part in [first, second] {
            split.extend([22, 3, 1]);
            split.extend(u16::try_from(part.len()).unwrap().to_be_bytes());
            split.extend(part);
        }
        assert_eq!(read(&split), Read::Hello(expected));
    }

    #[test]
    fn what_is_no_hello_is_not_read_as_one() {
        assert_eq!(read(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Read::Not);
        assert_eq!(read(&[22, 3, 1, 0, 4, 2, 0, 0, 0]), Read::Not, "a ServerHello");
        let mut bad = chrome();
        // A cipher list longer than the hello.
        if let Some(b) = bad.get_mut(5 + 4 + 2 + 32 + 1 + 32) {
            *b = 0xff;
        }
        assert_eq!(read(&bad), Read::Not);
    }

    #[test]
    fn ja4_without_sni_alpn_or_signatures() {
        let hello = ClientHello {
            version: 0x0303,
            ciphers: vec![0xc02f],
            extensions: vec![0x000a],
            groups: vec![0x001d],
            ..ClientHello::default()
        };
        let c = sha256_12("000a");
        assert_eq!(hello.ja4(), format!("t12i010100_{}_{c}", sha256_12("c02f")));
    }
}
