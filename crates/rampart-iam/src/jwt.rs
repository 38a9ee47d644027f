//! JSON Web Tokens as OIDC providers issue them: parsing (RFC 7519), and signature verification
//! against a JSON Web Key set (RFC 7517) with the algorithms STS accepts — RS256/384/512 and
//! ES256/384/512 — over aws-lc-rs. Pure: no I/O, no clock; the caller checks the claims.
//!
//! Hand-written rather than `jsonwebtoken`: verification is Rampart's core, it is ~150 lines
//! over the crypto library already linked, and it avoids a second process-wide crypto provider.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use data_encoding::BASE64URL_NOPAD;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Why a token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or a header without a usable `alg`.
    Malformed(&'static str),
    /// No key in the set has the token's `kid` (or, without one, fits its algorithm).
    UnknownKey,
    /// A key was found and the signature does not verify with it.
    BadSignature,
}

/// One JSON Web Key; only the public members verification needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// A provider's key set (`jwks_uri`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

/// A parsed token whose signature is not yet checked.
#[derive(Debug, Clone)]
pub struct Token {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

impl Token {
    /// Parses a compact JWS: `header.payload.signature`, each base64url without padding.
    pub fn parse(token: &str) -> Result<Token, TokenError> {
        let mut parts = token.trim().split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed("a token has three dot-separated parts"));
        };
        let b64 = |part: &str| BASE64URL_NOPAD.decode(part.as_bytes());
        let header: Header = b64(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed("the header is not base64url JSON"))?;
        let claims: Map<String, Value> = b64(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed("the payload is not a base64url JSON object"))?;
        let signature = b64(s).map_err(|_| TokenError::Malformed("the signature is not base64url"))?;
        if algorithm(&header.alg).is_none() {
            return Err(TokenError::Malformed("the token's algorithm is not one STS accepts"));
        }
        let signing_input = token.trim().rsplit_once('.').map(|(i, _)| i.to_owned()).unwrap_or_default();
        Ok(Token { alg: header.alg, kid: header.kid, claims, signing_input, signature })
    }

    /// A string claim.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A string or list-of-strings claim (`aud`, `amr`), as a list.
    pub fn list_claim(&self, name: &str) -> Vec<String> {
        match self.claims.get(name) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    }

    /// A NumericDate claim (`exp`, `nbf`, `iat`), in whole seconds.
    pub fn time_claim(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64))
    }

    /// Checks the signature with the key the header names (`kid`), or, without a `kid`, with
    /// any key of the set that fits the algorithm.
    pub fn verify(&self, keys: &JwkSet) -> Result<(), TokenError> {
        let candidates: Vec<&Jwk> = keys
            .keys
            .iter()
            .filter(|k| match &self.kid {
                Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
                None => true,
            })
            .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == self.alg))
            .filter(|k| fits(k, &self.alg))
            .collect();
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey);
        }
        if candidates.iter().any(|k| verify_with(k, &self.alg, self.signing_input.as_bytes(), &self.signature)) {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }
}

enum Alg {
    Rsa(&'static signature::RsaParameters),
    Ec(&'static signature::EcdsaVerificationAlgorithm, &'static str),
}

fn algorithm(alg: &str) -> Option<Alg> {
    Some(match alg {
        "RS256" => Alg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
        "RS384" => Alg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
        "RS512" => Alg::Rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
        "ES256" => Alg::Ec(&signature::ECDSA_P256_SHA256_FIXED, "P-256"),
        "ES384" => Alg::Ec(&signature::ECDSA_P384_SHA384_FIXED, "P-384"),
        "ES512" => Alg::Ec(&signature::ECDSA_P521_SHA512_FIXED, "P-521"),
        _ => return None,
    })
}

fn fits(k: &Jwk, alg: &str) -> bool {
    match algorithm(alg) {
        Some(Alg::Rsa(_)) => k.kty == "RSA",
        Some(Alg::Ec(_, crv)) => k.kty == "EC" && k.crv.as_deref() == Some(crv),
        None => false,
    }
}

fn verify_with(k: &Jwk, alg: &str, message: &[u8], sig: &[u8]) -> bool {
    let b64 = |v: &Option<String>| v.as_deref().and_then(|s| BASE64URL_NOPAD.decode(s.as_bytes()).ok());
    match algorithm(alg) {
        Some(Alg::Rsa(params)) => {
            let (Some(n), Some(e)) = (b64(&k.n), b64(&k.e)) else { return false };
            RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.verify(params, message, sig).is_ok()
        }
        Some(Alg::Ec(params, _)) => {
            let (Some(x), Some(y)) = (b64(&k.x), b64(&k.y)) else { return false };
            let mut point = Vec::with_capacity(1 + x.len() + y.len());
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            UnparsedPublicKey::new(params, &point).verify(message, sig).is_ok()
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair};

    fn b64(b: &[u8]) -> String {
        BASE64URL_NOPAD.encode(b)
    }

    fn rsa_jwk(kp: &RsaKeyPair, kid: &str) -> Jwk {
        let pk = kp.public_key();
        Jwk {
            kty: "RSA".into(),
            kid: Some(kid.into()),
            alg: Some("RS256".into()),
            use_: Some("sig".into()),
            n: Some(b64(pk.modulus().big_endian_without_leading_zero())),
            e: Some(b64(pk.exponent().big_endian_without_leading_zero())),
            crv: None,
            x: None,
            y: None,
        }
    }

    fn rsa_token(kp: &RsaKeyPair, kid: &str, claims: &str) -> String {
        let input =
            format!("{}.{}", b64(format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#).as_bytes()), b64(claims.as_bytes()));
        let mut sig = vec![0; kp.public_modulus_len()];
        kp.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
        format!("{input}.{}", b64(&sig))
    }

    #[test]
    fn rsa_tokens_verify_with_their_key_only() {
        let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let other = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let set = JwkSet { keys: vec![rsa_jwk(&kp, "k1")] };
        let token = rsa_token(&kp, "k1", r#"{"iss":"https://idp.example","aud":["a","b"],"exp":10,"sub":"u"}"#);
        let t = Token::parse(&token).unwrap();
        assert_eq!(t.verify(&set), Ok(()));
        assert_eq!(t.list_claim("aud"), vec!["a", "b"]);
        assert_eq!((t.str_claim("sub"), t.time_claim("exp")), (Some("u"), Some(10)));
        // Signed by another key under the same kid; an unknown kid; a changed payload.
        let forged = Token::parse(&rsa_token(&other, "k1", r#"{"sub":"u"}"#)).unwrap();
        assert_eq!(forged.verify(&set), Err(TokenError::BadSignature));
        let unknown = Token::parse(&rsa_token(&kp, "k2", r#"{"sub":"u"}"#)).unwrap();
        assert_eq!(unknown.verify(&set), Err(TokenError::UnknownKey));
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], b64(br#"{"sub":"admin"}"#), parts[2]);
        assert_eq!(Token::parse(&tampered).unwrap().verify(&set), Err(TokenError::BadSignature));
    }

    #[test]
    fn ec_tokens_verify() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = kp.public_key().as_ref();
        let jwk = Jwk {
            kty: "EC".into(),
            kid: None,
            alg: None,
            use_: None,
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(b64(&point[1..33])),
            y: Some(b64(&point[33..65])),
        };
        let input = format!("{}.{}", b64(br#"{"alg":"ES256"}"#), b64(br#"{"sub":"u"}"#));
        let sig = kp.sign(&rng, input.as_bytes()).unwrap();
        let token = format!("{input}.{}", b64(sig.as_ref()));
        assert_eq!(Token::parse(&token).unwrap().verify(&JwkSet { keys: vec![jwk] }), Ok(()));
    }

    #[test]
    fn malformed_tokens_and_unsafe_algorithms_are_refused() {
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(br#"{"sub":"u"}"#));
        let hs = format!("{}.{}.AAAA", b64(br#"{"alg":"HS256"}"#), b64(br#"{"sub":"u"}"#));
        for bad in ["", "a.b", "a.b.c.d", "!!!.e30.AA", none.as_str(), hs.as_str()] {
            assert!(matches!(Token::parse(bad), Err(TokenError::Malformed(_))), "{bad}");
        }
        let not_object = format!("{}.{}.AA", b64(br#"{"alg":"RS256"}"#), b64(b"[1]"));
        assert!(Token::parse(&not_object).is_err());
    }
}
