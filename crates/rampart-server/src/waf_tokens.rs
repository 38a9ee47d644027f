//! AWS WAF tokens at the proxies: reading a request's `aws-waf-token`, adding the interstitial
//! page to a CAPTCHA or challenge answer, serving a CAPTCHA's audio at [`AUDIO_PATH`], and taking
//! answers at [`VERIFY_PATH`], where a solved problem earns the token cookie. The rules are `rampart_waf::tokens`'; this is their I/O: the
//! key (derived from the master key, so every node accepts every node's tokens), the clock, the
//! randomness, and the problems already answered (each earns one token).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::{Either, Full};
use rampart_waf::tokens::{self, AUDIO_PATH, Keys, Kind, Presented, Token, VERIFY_PATH};

use crate::proxy::ProxyResponse;

/// The label of the token key derived from the master key.
const KEY_LABEL: &str = "waf-token";
/// The most answered problems remembered; past it, the oldest go (they expire within
/// [`tokens::PROBLEM_TTL`] anyway).
const MAX_ANSWERED: usize = 100_000;

/// The server's token keys and the problems answered lately.
pub(crate) struct TokenDesk {
    keys: Keys,
    answered: Mutex<HashMap<String, u64>>,
}

/// Seconds since the Unix epoch.
fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TokenDesk {
    pub(crate) fn new(sealer: &rampart_store::Sealer) -> TokenDesk {
        TokenDesk { keys: Keys::new(sealer.derive(KEY_LABEL).as_slice()), answered: Mutex::default() }
    }

    /// The token a request's headers carry, opened: `None` without one, `Some(None)` for one
    /// this server did not sign.
    pub(crate) fn open(&self, headers: &[(&[u8], &[u8])]) -> Option<Option<Token>> {
        tokens::carried(headers).map(|t| self.keys.open(t))
    }

    /// A CAPTCHA or challenge answer with its page, for a client that accepts HTML (AWS sends the
    /// interstitial only then).
    pub(crate) fn page(&self, kind: Kind, domain: &str, accept: Option<&http::HeaderValue>) -> Option<String> {
        let html = accept.and_then(|a| a.to_str().ok()).is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
        if !html {
            return None;
        }
        let mut random = [0u8; 16];
        aws_lc_rs::rand::fill(&mut random).ok()?;
        let problem = self.keys.problem(kind, random, now(), domain);
        Some(tokens::puzzle::page(kind, &problem))
    }

    /// Takes an answer posted to [`VERIFY_PATH`]: the token cookie when it solves its problem,
    /// else 403 with the reason, as JSON.
    pub(crate) fn verify(
        &self,
        (form, user_agent): (&[u8], Option<&[u8]>),
        (host, domain): (&str, &str),
        current: Presented<'_>,
        https: bool,
    ) -> ProxyResponse {
        let field = |name: &str| {
            form_urlencoded::parse(form).find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
        };
        let (problem, solution, answer) = (field("problem"), field("solution"), field("answer"));
        // What the page's script saw of the browser (nothing, from a client that ran none).
        let (agent, webdriver) = (field("agent"), field("webdriver"));
        let browser =
            tokens::Browser::observed(user_agent, Some(agent.as_str()).filter(|a| !a.is_empty()), webdriver == "1");
        let at = now();
        let answer = Some(answer.as_str()).filter(|a| !a.is_empty());
        let answered = self.keys.verify((&problem, &solution, answer), (at, domain), current, browser);
        if let Some((nonce, expires)) = &answered.problem
            && !self.first_answer(nonce, *expires, at)
        {
            return refused("The problem was already answered; load the page again for a new one.");
        }
        let token = match answered.outcome {
            Ok(t) => t,
            Err(r) => return refused(r.message()),
        };
        let sealed = self.keys.seal(&token);
        // A token domain other than the host itself is the cookie's domain, so its hosts share it.
        let mut cookie =
            format!("{}={sealed}; Path=/; Max-Age={}; SameSite=Lax", tokens::COOKIE, tokens::COOKIE_MAX_AGE);
        if tokens::token_domain(host, &[]) != domain {
            cookie.push_str(&format!("; Domain={domain}"));
        }
        if https {
            cookie.push_str("; Secure");
        }
        let body = serde_json::json!({ "token": sealed }).to_string();
        let mut response = http::Response::new(Either::Right(Full::new(Bytes::from(body))));
        let h = response.headers_mut();
        h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        h.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        if let Ok(v) = http::HeaderValue::from_str(&cookie) {
            h.insert(http::header::SET_COOKIE, v);
        }
        response
    }

    /// A CAPTCHA problem's audio (`?problem=…`), or 403 for anything that is not one of this
    /// server's CAPTCHA problems.
    pub(crate) fn audio(&self, query: Option<&str>) -> ProxyResponse {
        let problem = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "problem")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let Some(wav) = self.keys.audio(&problem) else {
            return refused("Not a CAPTCHA problem of this site; load the page again for a new one.");
        };
        let mut response = http::Response::new(Either::Right(Full::new(Bytes::from(wav))));
        let h = response.headers_mut();
        h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("audio/wav"));
        h.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        response
    }

    /// Whether this is the first answer to a problem (remembered until it expires).
    fn first_answer(&self, nonce: &str, expires: u64, now: u64) -> bool {
        let mut answered = self.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if answered.len() >= MAX_ANSWERED {
            answered.retain(|_, e| *e >= now);
        }
        if answered.len() >= MAX_ANSWERED {
            // Still full of live problems: make room by forgetting the soonest to expire.
            if let Some(soonest) = answered.iter().min_by_key(|(_, e)| **e).map(|(n, _)| n.clone()) {
                answered.remove(&soonest);
            }
        }
        answered.insert(nonce.to_owned(), expires).is_none()
    }
}

fn refused(message: &str) -> ProxyResponse {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = http::Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = http::StatusCode::FORBIDDEN;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// Whether a request asks for a CAPTCHA's audio ([`TokenDesk::audio`]).
pub(crate) fn is_audio(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::GET && parts.uri.path() == AUDIO_PATH
}

/// Whether a request is an answer for [`TokenDesk::verify`].
pub(crate) fn is_answer(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST && parts.uri.path() == VERIFY_PATH
}
