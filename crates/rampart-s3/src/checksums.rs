//! S3's flexible checksums: CRC32, CRC32C, CRC64NVME, SHA1 and SHA256 of an object's bytes,
//! checked against what the client sent and kept with the object.
//!
//! A single PUT keeps a full-object checksum: the one the client sent, else CRC64NVME, which S3
//! adds to every object uploaded without one. A multipart object keeps either a full-object CRC
//! (the parts' CRCs combined) or a composite one (the checksum of the parts' checksums, `-N`).
//! See <https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>.
//!
//! CRCs come from `crc-fast` (SIMD, already in the graph through the SDK's checksums, and it
//! combines CRCs, which full-object multipart checksums need); SHAs from aws-lc-rs.

use crc_fast::CrcAlgorithm;
use rampart_core::ServiceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

/// `FULL_OBJECT` or `COMPOSITE`, as S3 names a checksum's type.
pub const FULL_OBJECT: &str = "FULL_OBJECT";
pub const COMPOSITE: &str = "COMPOSITE";

impl Algorithm {
    pub const ALL: [Self; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64Nvme, Self::Sha1, Self::Sha256];

    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name))
    }

    fn crc(self) -> Option<(CrcAlgorithm, usize)> {
        match self {
            Self::Crc32 => Some((CrcAlgorithm::Crc32IsoHdlc, 4)),
            Self::Crc32c => Some((CrcAlgorithm::Crc32Iscsi, 4)),
            Self::Crc64Nvme => Some((CrcAlgorithm::Crc64Nvme, 8)),
            Self::Sha1 | Self::Sha256 => None,
        }
    }

    /// Whether a multipart object may keep a full-object checksum of this kind (a CRC's can be
    /// combined from its parts'; a SHA's cannot).
    pub fn full_object_capable(self) -> bool {
        self.crc().is_some()
    }

    /// The checksum of `data`, as raw bytes (big-endian for a CRC).
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        use aws_lc_rs::digest;
        match self.crc() {
            Some((crc, width)) => be(crc_fast::checksum(crc, data), width),
            None => {
                let alg = if self == Self::Sha1 { &digest::SHA1_FOR_LEGACY_USE_ONLY } else { &digest::SHA256 };
                digest::digest(alg, data).as_ref().to_vec()
            }
        }
    }

    /// The base64 checksum of `data`.
    pub fn encode(self, data: &[u8]) -> String {
        data_encoding::BASE64.encode(&self.digest(data))
    }
}

fn be(value: u64, width: usize) -> Vec<u8> {
    value.to_be_bytes().get(8 - width..).unwrap_or_default().to_vec()
}

fn raw(value: &str) -> Option<Vec<u8>> {
    data_encoding::BASE64.decode(value.as_bytes()).ok()
}

/// The checksum a multipart object keeps, from its parts' `(base64 checksum, size)` in order:
/// the parts' CRCs combined (full object), or the checksum of their concatenated checksums with
/// the count of parts (composite). `None` if a part's value does not decode.
pub fn of_parts(algorithm: Algorithm, kind: &str, parts: &[(&str, u64)]) -> Option<String> {
    if kind == FULL_OBJECT {
        let (crc, width) = algorithm.crc()?;
        let mut whole: Option<u64> = None;
        for (value, size) in parts {
            let bytes = raw(value).filter(|b| b.len() == width)?;
            let mut buf = [0u8; 8];
            buf.get_mut(8 - width..)?.copy_from_slice(&bytes);
            let part = u64::from_be_bytes(buf);
            whole = Some(match whole {
                None => part,
                Some(w) => crc_fast::checksum_combine(crc, w, part, *size),
            });
        }
        let whole = whole.unwrap_or_else(|| crc_fast::checksum(crc, &[]));
        return Some(data_encoding::BASE64.encode(&be(whole, width)));
    }
    let mut joined = Vec::new();
    for (value, _) in parts {
        joined.extend_from_slice(&raw(value)?);
    }
    Some(format!("{}-{}", algorithm.encode(&joined), parts.len()))
}

/// The type a multipart upload's checksum takes when the client names none: CRC64NVME can only
/// be full-object; the others default to composite.
pub fn default_type(algorithm: Algorithm) -> &'static str {
    if algorithm == Algorithm::Crc64Nvme { FULL_OBJECT } else { COMPOSITE }
}

/// Checks a multipart upload's algorithm and type as CreateMultipartUpload does.
pub fn check_upload(algorithm: Option<&str>, kind: Option<&str>) -> Result<(Option<Algorithm>, String), ServiceError> {
    let invalid = |m: String| ServiceError::new("InvalidRequest", 400, m);
    let algorithm = match algorithm {
        None => None,
        Some(name) => Some(Algorithm::parse(name).ok_or_else(|| {
            ServiceError::new("NotImplemented", 501, format!("Rampart does not compute {name} checksums yet."))
        })?),
    };
    let kind = match (algorithm, kind) {
        (_, Some(k)) if k != FULL_OBJECT && k != COMPOSITE => {
            return Err(invalid(format!("Value for x-amz-checksum-type header is invalid: {k}.")));
        }
        (None, Some(k)) => {
            return Err(invalid(format!(
                "The x-amz-checksum-type header ({k}) can only be used with the x-amz-checksum-algorithm header."
            )));
        }
        (Some(a), Some(k)) => {
            if (k == FULL_OBJECT && !a.full_object_capable()) || (k == COMPOSITE && a == Algorithm::Crc64Nvme) {
                return Err(invalid(format!(
                    "The {} checksum algorithm does not support the {k} checksum type.",
                    a.name()
                )));
            }
            k.to_owned()
        }
        (Some(a), None) => default_type(a).to_owned(),
        (None, None) => FULL_OBJECT.to_owned(),
    };
    Ok((algorithm, kind))
}

/// Every checksum field of S3's outputs, filled from one `(algorithm, value)`.
#[derive(Debug, Default)]
pub struct Fields {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl Fields {
    pub fn of(checksum: Option<&(String, String)>) -> Self {
        let mut f = Self::default();
        if let Some((name, value)) = checksum {
            let slot = match Algorithm::parse(name) {
                Some(Algorithm::Crc32) => &mut f.crc32,
                Some(Algorithm::Crc32c) => &mut f.crc32c,
                Some(Algorithm::Crc64Nvme) => &mut f.crc64nvme,
                Some(Algorithm::Sha1) => &mut f.sha1,
                Some(Algorithm::Sha256) => &mut f.sha256,
                None => return f,
            };
            *slot = Some(value.clone());
        }
        f
    }
}

/// The five flexible checksum members of an S3 request shape, by algorithm.
macro_rules! sent_values {
    ($x:expr) => {
        [
            ($crate::checksums::Algorithm::Crc32, $x.checksum_crc32.as_deref()),
            ($crate::checksums::Algorithm::Crc32c, $x.checksum_crc32_c.as_deref()),
            ($crate::checksums::Algorithm::Crc64Nvme, $x.checksum_crc64_nvme.as_deref()),
            ($crate::checksums::Algorithm::Sha1, $x.checksum_sha1.as_deref()),
            ($crate::checksums::Algorithm::Sha256, $x.checksum_sha256.as_deref()),
        ]
    };
}
pub(crate) use sent_values;

/// Sets an S3 output's five checksum fields from [`Fields`].
macro_rules! set_checksums {
    ($out:expr, $fields:expr) => {{
        let f: $crate::checksums::Fields = $fields;
        $out.checksum_crc32 = f.crc32;
        $out.checksum_crc32_c = f.crc32c;
        $out.checksum_crc64_nvme = f.crc64nvme;
        $out.checksum_sha1 = f.sha1;
        $out.checksum_sha256 = f.sha256;
    }};
}
pub(crate) use set_checksums;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_published_check_values() {
        // The CRC catalogue's check values: the CRC of "123456789".
        let check = b"123456789";
        assert_eq!(Algorithm::Crc32.digest(check), 0xCBF4_3926u32.to_be_bytes());
        assert_eq!(Algorithm::Crc32c.digest(check), 0xE306_9283u32.to_be_bytes());
        assert_eq!(Algorithm::Crc64Nvme.digest(check), 0xAE8B_1486_0A79_9888u64.to_be_bytes());
        assert_eq!(Algorithm::Sha256.encode(b""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn full_object_checksums_combine_from_parts() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (a, b) = data.split_at(60_000);
        for alg in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            let parts = [(alg.encode(a), a.len() as u64), (alg.encode(b), b.len() as u64)];
            let parts: Vec<(&str, u64)> = parts.iter().map(|(v, n)| (v.as_str(), *n)).collect();
            assert_eq!(of_parts(alg, FULL_OBJECT, &parts), Some(alg.encode(&data)), "{alg:?}");
        }
    }

    #[test]
    fn composite_checksums_are_of_the_parts_checksums() {
        let (a, b) = (b"first part".as_slice(), b"second".as_slice());
        let alg = Algorithm::Sha256;
        let joined = [alg.digest(a), alg.digest(b)].concat();
        let parts = [(alg.encode(a), 10), (alg.encode(b), 6)];
        let parts: Vec<(&str, u64)> = parts.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        assert_eq!(of_parts(alg, COMPOSITE, &parts), Some(format!("{}-2", alg.encode(&joined))));
        assert_eq!(of_parts(alg, FULL_OBJECT, &parts), None, "a SHA cannot be combined");
    }

    #[test]
    fn upload_types_follow_the_algorithm() {
        let ok = |a, k| check_upload(a, k).map(|(a, k)| (a.map(Algorithm::name), k));
        assert_eq!(ok(Some("CRC64NVME"), None).unwrap(), (Some("CRC64NVME"), FULL_OBJECT.to_owned()));
        assert_eq!(ok(Some("CRC32"), None).unwrap(), (Some("CRC32"), COMPOSITE.to_owned()));
        assert_eq!(ok(Some("CRC32C"), Some(FULL_OBJECT)).unwrap().1, FULL_OBJECT);
        for (a, k) in [
            (Some("SHA256"), Some(FULL_OBJECT)),
            (Some("CRC64NVME"), Some(COMPOSITE)),
            (None, Some(COMPOSITE)),
            (Some("CRC32"), Some("PARTIAL")),
        ] {
            assert_eq!(check_upload(a, k).unwrap_err().code, "InvalidRequest", "{a:?} {k:?}");
        }
    }
}
