//! `aws-chunked` bodies: their framing, and the chunk and trailer signatures of signed streaming.
//!
//! A body is `hex-size[;chunk-signature=SIG] CRLF data CRLF`… then a zero-size chunk, trailing
//! headers (`name:value CRLF` each) and a blank line. With `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
//! every chunk carries a signature chained from the request's (the seed); with `…-TRAILER` the
//! trailing headers carry `x-amz-trailer-signature`, chained from the last chunk's.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html> and
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html>.
//!
//! [`crate::Verifier::verify`] checks every signature before anything else reads the body;
//! [`decode`] then takes the data out. Both walk the body with the one reader below, so that what
//! was verified is what is decoded.

use aws_lc_rs::{digest, hmac};

use crate::SigV4Error;

/// How an `aws-chunked` body is framed, from `x-amz-content-sha256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: no signatures, trailers allowed.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed, no trailers.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: every chunk signed, trailers signed too.
    SignedTrailer,
}

impl Mode {
    /// The mode an `x-amz-content-sha256` value names, if it names an HMAC one.
    pub fn of(content_sha256: &str) -> Option<Self> {
        match content_sha256 {
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Some(Self::Unsigned),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Some(Self::Signed),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Some(Self::SignedTrailer),
            _ => None,
        }
    }

    fn signed(self) -> bool {
        self != Self::Unsigned
    }
}

/// Every chunk but the last must hold at least this many bytes, per AWS.
pub const MIN_CHUNK: usize = 8192;

const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// A decoded body: its data and trailing headers (names lower-cased, signature left out).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub data: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

fn malformed() -> SigV4Error {
    SigV4Error::IncompleteBody("The request body is not valid aws-chunked encoding.".to_owned())
}

/// One chunk: its data and the signature its size line carries.
struct Chunk<'a> {
    data: &'a [u8],
    signature: Option<&'a str>,
}

/// Reads chunks off the front of a body, then its trailers.
struct Reader<'a> {
    rest: &'a [u8],
    mode: Mode,
    /// Chunks read so far, and the size of the last one (to hold each chunk but the last to
    /// [`MIN_CHUNK`]).
    count: usize,
    previous: usize,
}

impl<'a> Reader<'a> {
    fn new(body: &'a [u8], mode: Mode) -> Self {
        Self { rest: body, mode, count: 0, previous: usize::MAX }
    }

    fn line(&mut self) -> Result<&'a str, SigV4Error> {
        // A size line is short; a missing CRLF within reach is malformed, not a reason to scan on.
        let reach = self.rest.get(..self.rest.len().min(4096)).unwrap_or_default();
        let end = reach.windows(2).position(|w| w == b"\r\n").ok_or_else(malformed)?;
        let line = std::str::from_utf8(reach.get(..end).ok_or_else(malformed)?).map_err(|_| malformed())?;
        self.rest = self.rest.get(end + 2..).ok_or_else(malformed)?;
        Ok(line)
    }

    /// The next chunk; the final, empty one included.
    fn chunk(&mut self) -> Result<Chunk<'a>, SigV4Error> {
        let line = self.line()?;
        let (size, signature) = match line.split_once(';') {
            Some((size, ext)) => {
                let sig = ext.strip_prefix("chunk-signature=").ok_or_else(malformed)?;
                (size, Some(sig))
            }
            None => (line, None),
        };
        // Signed modes sign every chunk; unsigned bodies carry no signatures.
        if signature.is_some() != self.mode.signed() {
            return Err(malformed());
        }
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed());
        }
        let size = usize::from_str_radix(size, 16).map_err(|_| malformed())?;
        if size > 0 && self.previous < MIN_CHUNK {
            return Err(SigV4Error::InvalidChunkSize { chunk: self.count, size: self.previous });
        }
        self.count += 1;
        self.previous = size;
        if size == 0 {
            return Ok(Chunk { data: &[], signature });
        }
        let data = self.rest.get(..size).ok_or_else(malformed)?;
        self.rest = self.rest.get(size..).and_then(|r| r.strip_prefix(b"\r\n")).ok_or_else(malformed)?;
        Ok(Chunk { data, signature })
    }

    /// The trailing headers after the final chunk, up to the blank line that ends the body.
    fn trailers(mut self) -> Result<Vec<(&'a str, &'a str)>, SigV4Error> {
        let mut trailers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or_else(malformed)?;
            let name = name.trim();
            if name.is_empty() || trailers.len() >= 16 {
                return Err(malformed());
            }
            trailers.push((name, value.trim()));
        }
        if !self.rest.is_empty() {
            return Err(malformed());
        }
        let signed = trailers.iter().any(|(n, _)| n.eq_ignore_ascii_case(TRAILER_SIGNATURE));
        let allowed = match self.mode {
            Mode::Unsigned => !signed,
            Mode::Signed => trailers.is_empty(),
            Mode::SignedTrailer => signed || trailers.is_empty(),
        };
        if !allowed {
            return Err(malformed());
        }
        Ok(trailers)
    }
}

/// Takes the data and trailers out of an `aws-chunked` body. Signatures are not checked here:
/// [`crate::Verifier::verify`] checked them (or, for an unsigned body, there are none).
pub fn decode(body: &[u8], mode: Mode) -> Result<Decoded, SigV4Error> {
    let mut reader = Reader::new(body, mode);
    let mut data = Vec::with_capacity(body.len());
    loop {
        let chunk = reader.chunk()?;
        if chunk.data.is_empty() {
            break;
        }
        data.extend_from_slice(chunk.data);
    }
    let trailers = reader
        .trailers()?
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(TRAILER_SIGNATURE))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    Ok(Decoded { data, trailers })
}

fn hex_sha256(data: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(digest::digest(&digest::SHA256, data).as_ref())
}

/// Checks a signed body's chunk signatures, each chained from the one before it (the first from
/// the request's own `seed`), and the trailer's. `prefix` is `DATE-TIME\nSCOPE\n`, shared by every
/// string to sign. Comparisons are in constant time (`hmac::verify`).
pub fn verify(body: &[u8], mode: Mode, key: &hmac::Key, prefix: &str, seed: &[u8]) -> Result<(), SigV4Error> {
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let mut previous = data_encoding::HEXLOWER.encode(seed);
    let mut reader = Reader::new(body, mode);
    loop {
        let chunk = reader.chunk()?;
        let claimed = decode_signature(chunk.signature)?;
        let sts = format!("AWS4-HMAC-SHA256-PAYLOAD\n{prefix}{previous}\n{EMPTY_SHA256}\n{}", hex_sha256(chunk.data));
        hmac::verify(key, sts.as_bytes(), &claimed).map_err(|_| SigV4Error::mismatch())?;
        previous = data_encoding::HEXLOWER.encode(&claimed);
        if chunk.data.is_empty() {
            break;
        }
    }
    let trailers = reader.trailers()?;
    if let Some((_, claimed)) = trailers.iter().find(|(n, _)| n.eq_ignore_ascii_case(TRAILER_SIGNATURE)) {
        let claimed = decode_signature(Some(claimed))?;
        let mut signed: Vec<(String, &str)> = trailers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(TRAILER_SIGNATURE))
            .map(|(n, v)| (n.to_ascii_lowercase(), *v))
            .collect();
        signed.sort();
        let canonical: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let sts = format!("AWS4-HMAC-SHA256-TRAILER\n{prefix}{previous}\n{}", hex_sha256(canonical.as_bytes()));
        hmac::verify(key, sts.as_bytes(), &claimed).map_err(|_| SigV4Error::mismatch())?;
    }
    Ok(())
}

fn decode_signature(sig: Option<&str>) -> Result<Vec<u8>, SigV4Error> {
    sig.filter(|s| s.len() == 64)
        .and_then(|s| data_encoding::HEXLOWER_PERMISSIVE.decode(s.as_bytes()).ok())
        .ok_or_else(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsigned(chunks: &[&[u8]], trailer: &str) -> Vec<u8> {
        let mut body = Vec::new();
        for c in chunks {
            body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
        body
    }

    #[test]
    fn decodes_unsigned_chunks_and_trailers() {
        let big = vec![7u8; MIN_CHUNK];
        let body = unsigned(&[&big, b"tail"], "x-amz-checksum-crc32:AAAAAA==\r\n");
        let d = decode(&body, Mode::Unsigned).unwrap();
        assert_eq!(d.data.len(), MIN_CHUNK + 4);
        assert!(d.data.ends_with(b"tail"));
        assert_eq!(d.trailers, vec![("x-amz-checksum-crc32".to_owned(), "AAAAAA==".to_owned())]);
        assert_eq!(decode(b"0\r\n\r\n", Mode::Unsigned).unwrap(), Decoded::default());
    }

    #[test]
    fn refuses_malformed_bodies() {
        let sig = "a".repeat(64);
        let signed_in_unsigned = format!("4;chunk-signature={sig}\r\nabcd\r\n0\r\n\r\n");
        for bad in [
            &b""[..],
            b"zz\r\nab\r\n0\r\n\r\n",
            b"5\r\nab\r\n0\r\n\r\n",
            b"2\r\nabXX0\r\n\r\n",
            b"0\r\n",
            b"0\r\nno-colon\r\n\r\n",
            b"0\r\n\r\ntrailing garbage",
            b"0\r\nx-amz-trailer-signature:abc\r\n\r\n",
            b"fffffffffffffffff\r\n",
            signed_in_unsigned.as_bytes(),
        ] {
            assert_eq!(decode(bad, Mode::Unsigned).unwrap_err().code(), "IncompleteBody", "{bad:?}");
        }
        // A signed mode needs a signature on every chunk.
        assert_eq!(decode(b"0\r\n\r\n", Mode::Signed).unwrap_err().code(), "IncompleteBody");
    }

    #[test]
    fn only_the_last_chunk_may_be_small() {
        let body = unsigned(&[b"small", b"more"], "");
        assert_eq!(decode(&body, Mode::Unsigned).unwrap_err(), SigV4Error::InvalidChunkSize { chunk: 1, size: 5 });
        let big = vec![1u8; MIN_CHUNK];
        assert!(decode(&unsigned(&[&big, &big, b"x"], ""), Mode::Unsigned).is_ok());
    }
}
