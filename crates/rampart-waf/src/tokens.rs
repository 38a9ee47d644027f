//! AWS WAF tokens: the `aws-waf-token` a client earns by answering a challenge or a CAPTCHA, and
//! that CAPTCHA and Challenge rules accept for their immunity time. Pure: the key, the clock and
//! the randomness are handed in.
//!
//! A token records when its client last solved a challenge and a CAPTCHA, and the domain it was
//! issued for; a rule whose action is CAPTCHA (Challenge) lets a request with a token whose CAPTCHA
//! (challenge) timestamp is younger than the rule's immunity time go on as a Count would.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens-usage.html>,
//! <https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens-immunity-times.html> and
//! <https://docs.aws.amazon.com/waf/latest/developerguide/waf-captcha-and-challenge-actions.html>.
//!
//! AWS's tokens are opaque and issued by AWS's own challenge endpoints; Rampart's are signed with
//! a key derived from the server's master key (so every node of a cluster accepts them) and issued
//! by the proxy itself at [`VERIFY_PATH`]. The interstitial page hands the client a signed
//! problem: a proof of work (the challenge) and, for a CAPTCHA, digits drawn in a distorted
//! picture ([`puzzle`]). Answering it at [`VERIFY_PATH`] earns the token as a cookie.

use aws_lc_rs::{digest, hmac};
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};

pub mod audio;
pub mod puzzle;

/// The cookie a token travels in.
pub const COOKIE: &str = "aws-waf-token";
/// The header AWS's application integration SDKs send a token in, where a cookie cannot go.
pub const HEADER: &str = "x-aws-waf-token";
/// Where a proxy takes answers to its problems (a POST of a form); nothing else is served there.
pub const VERIFY_PATH: &str = "/.rampart-waf/verify";
/// Where a proxy serves a CAPTCHA problem's audio (`?problem=…`, a GET): its digits spoken.
pub const AUDIO_PATH: &str = "/.rampart-waf/audio";
/// How long a problem may be answered after it was set, in seconds.
pub const PROBLEM_TTL: u64 = 300;
/// The leading zero bits a challenge's proof of work must reach: about 65,000 SHA-256 hashes,
/// a fraction of a second in a browser and a real cost to a bot that sends many requests.
pub const DIFFICULTY: u32 = 16;
/// How many digits a CAPTCHA's picture shows.
pub const CAPTCHA_DIGITS: usize = 5;
/// The immunity time a web ACL gives when it sets none, in seconds.
pub const DEFAULT_IMMUNITY: u64 = 300;
/// How long a client keeps its token cookie: the longest immunity time a rule can set (3 days).
pub const COOKIE_MAX_AGE: u64 = 259_200;

/// What a request's token settles. The timestamps are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The client session's identifier: kept when a token is renewed.
    pub id: String,
    pub challenge_at: Option<u64>,
    pub captcha_at: Option<u64>,
    /// The domain the token was issued for ([`token_domain`]).
    pub domain: String,
    /// What the client's browser told when it last solved a problem.
    pub browser: Browser,
}

/// What a client's browser told when it solved a problem: the interstitial page's script reports
/// what it sees (`navigator.userAgent`, `navigator.webdriver`) beside its answer, as AWS's
/// challenge script interrogates the browser. Bot Control's targeted level reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Browser {
    /// A digest of the `User-Agent` its answer came with ([`agent_digest`]); empty without one.
    pub agent: String,
    /// Its script found a browser driven by automation (`navigator.webdriver`).
    pub automated: bool,
    /// Its script's user agent was not the one its request sent.
    pub inconsistent: bool,
}

impl Browser {
    /// What an answer tells: the request's `User-Agent` header, and the user agent and the
    /// automation flag its script reported (none from a client that ran no script).
    pub fn observed(header: Option<&[u8]>, script_agent: Option<&str>, webdriver: bool) -> Browser {
        let header = header.unwrap_or_default();
        Browser {
            agent: if header.is_empty() { String::new() } else { agent_digest(header) },
            automated: webdriver,
            inconsistent: script_agent.is_some_and(|a| a.as_bytes() != header),
        }
    }
}

/// A user agent's digest, as a token keeps it: 16 hex digits of its SHA-256.
pub fn agent_digest(agent: &[u8]) -> String {
    HEXLOWER.encode(digest::digest(&digest::SHA256, agent).as_ref().get(..8).unwrap_or_default())
}

/// The token a request carried, as far as the signature tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Presented<'a> {
    #[default]
    Absent,
    /// Something that is not a token of this server's (forged, altered, or another key's).
    Invalid,
    Valid(&'a Token),
}

/// The two interstitials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Challenge,
    Captcha,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Challenge => "challenge",
            Kind::Captcha => "captcha",
        }
    }
}

/// Why an answer earns no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The problem is not one this server set (or was altered).
    Malformed,
    /// The problem is older than [`PROBLEM_TTL`].
    Expired,
    /// The problem was set for another domain.
    DomainMismatch,
    /// The proof of work does not reach [`DIFFICULTY`].
    Unsolved,
    /// The CAPTCHA's digits are not the picture's.
    WrongAnswer,
}

impl Refusal {
    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Malformed => "The problem is not one this server set.",
            Refusal::Expired => "The problem has expired; load the page again for a new one.",
            Refusal::DomainMismatch => "The problem was set for another domain.",
            Refusal::Unsolved => "The proof of work does not solve the problem.",
            Refusal::WrongAnswer => "The answer does not match the picture; load the page again for a new one.",
        }
    }
}

/// A problem as set: what the page carries, and the CAPTCHA's picture.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The signed problem, to be sent back with the answer.
    pub sealed: String,
    /// The nonce the proof of work hashes.
    pub nonce: String,
    /// The CAPTCHA's picture (SVG), for a CAPTCHA.
    pub picture: Option<String>,
}

/// An answer to a problem, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The problem answered, once its proof of work is right (a wrong CAPTCHA answer included):
    /// its nonce and when it stops being answerable. A proxy takes one answer per problem, so a
    /// picture cannot be guessed at for the price of one proof of work.
    pub problem: Option<(String, u64)>,
    /// The renewed token, or why none.
    pub outcome: Result<Token, Refusal>,
}

/// The domain a token for a host is issued for: the shortest of the web ACL's token domains that
/// the host is or is under (so that the token serves all of them), else the host itself (lower
/// case, without a port).
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens-domains.html> and
/// <https://docs.aws.amazon.com/waf/latest/developerguide/waf-js-challenge-api-set-token-domain.html>.
pub fn token_domain(host: &str, token_domains: &[String]) -> String {
    acceptable_domains(host, token_domains).into_iter().min_by_key(String::len).unwrap_or_default()
}

/// The token domains a request to `host` accepts: the host itself, and each of the web ACL's
/// token domains the host is or is under ("the resource's host domain plus all domains in the
/// token domain list, including their prefixed subdomains").
pub fn acceptable_domains(host: &str, token_domains: &[String]) -> Vec<String> {
    let host = host_name(host);
    let mut domains: Vec<String> = token_domains
        .iter()
        .map(|d| d.trim_start_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty() && (host == *d || host.ends_with(&format!(".{d}"))))
        .collect();
    if !domains.contains(&host) {
        domains.push(host);
    }
    domains
}

/// A `Host` header's name: lower case, without a port (an IPv6 literal keeps its brackets).
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.rsplit_once(':')
            .map_or(host, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host })
    };
    name.to_ascii_lowercase()
}

/// The token in a request's headers: the `aws-waf-token` cookie, else the `x-aws-waf-token`
/// header. Not checked: [`Keys::open`] does that.
pub fn carried<'h>(headers: &[(&'h [u8], &'h [u8])]) -> Option<&'h [u8]> {
    let cookie = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
        .flat_map(|(_, v)| v.split(|&b| b == b';'))
        .find_map(|pair| {
            let mut halves = pair.trim_ascii().splitn(2, |&b| b == b'=');
            let (name, value) = (halves.next()?, halves.next()?);
            (name.trim_ascii() == COOKIE.as_bytes()).then(|| value.trim_ascii())
        });
    cookie.or_else(|| {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(HEADER.as_bytes())).map(|(_, v)| v.trim_ascii())
    })
}

/// Whether `SHA-256(nonce ":" solution)` starts with [`DIFFICULTY`] zero bits.
pub fn solves(nonce: &str, solution: &str) -> bool {
    let hash = digest::digest(&digest::SHA256, format!("{nonce}:{solution}").as_bytes());
    leading_zero_bits(hash.as_ref()) >= DIFFICULTY
}

fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut bits = 0;
    for &b in bytes {
        if b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

/// The signing key of tokens and problems.
pub struct Keys {
    key: hmac::Key,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// What a signature binds a payload to: a problem is never a token, nor a token a problem.
const TOKEN_PURPOSE: &str = "rampart-waf-token-v1";
const PROBLEM_PURPOSE: &str = "rampart-waf-problem-v1";
const ANSWER_PURPOSE: &str = "rampart-waf-captcha-answer-v1";

impl Keys {
    /// Keys from a 32-byte secret (the server derives it from its master key).
    pub fn new(secret: &[u8]) -> Keys {
        Keys { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    fn mac(&self, purpose: &str, payload: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(payload);
        ctx.sign()
    }

    fn sign(&self, purpose: &str, payload: &str) -> String {
        let tag = self.mac(purpose, payload.as_bytes());
        format!("{}.{}", BASE64URL_NOPAD.encode(payload.as_bytes()), BASE64URL_NOPAD.encode(tag.as_ref()))
    }

    /// The payload of a signed text, if its signature is right (compared in constant time).
    fn unsign(&self, purpose: &str, text: &[u8]) -> Option<String> {
        let mut halves = text.splitn(2, |&b| b == b'.');
        let (payload, tag) = (halves.next()?, halves.next()?);
        let payload = BASE64URL_NOPAD.decode(payload).ok()?;
        let tag = BASE64URL_NOPAD.decode(tag).ok()?;
        let mut signed = purpose.as_bytes().to_vec();
        signed.push(0);
        signed.extend_from_slice(&payload);
        hmac::verify(&self.key, &signed, &tag).ok()?;
        String::from_utf8(payload).ok()
    }

    /// A token, signed, as its cookie carries it.
    pub fn seal(&self, token: &Token) -> String {
        let stamp = |t: Option<u64>| t.map(|t| t.to_string()).unwrap_or_default();
        let b = &token.browser;
        let flags = u8::from(b.automated) | (u8::from(b.inconsistent) << 1);
        let payload = format!(
            "{}\n{}\n{}\n{}\n{}\n{flags}",
            token.id,
            stamp(token.challenge_at),
            stamp(token.captcha_at),
            token.domain,
            b.agent
        );
        self.sign(TOKEN_PURPOSE, &payload)
    }

    /// The token a cookie carries, if this server signed it.
    pub fn open(&self, text: &[u8]) -> Option<Token> {
        let payload = self.unsign(TOKEN_PURPOSE, text)?;
        let mut parts = payload.split('\n');
        let (id, challenge, captcha, domain) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        // A token issued before browsers were told about has neither of the last two.
        let (agent, flags) = (parts.next().unwrap_or_default(), parts.next().unwrap_or("0"));
        let stamp = |s: &str| if s.is_empty() { Ok(None) } else { s.parse::<u64>().map(Some) };
        let flags = flags.parse::<u8>().ok()?;
        Some(Token {
            id: id.to_owned(),
            challenge_at: stamp(challenge).ok()?,
            captcha_at: stamp(captcha).ok()?,
            domain: domain.to_owned(),
            browser: Browser { agent: agent.to_owned(), automated: flags & 1 != 0, inconsistent: flags & 2 != 0 },
        })
    }

    /// Sets a problem for a request to `domain` ([`token_domain`]), from 16 random bytes.
    pub fn problem(&self, kind: Kind, random: [u8; 16], now: u64, domain: &str) -> Problem {
        let nonce = HEXLOWER.encode(&random);
        let sealed = self.sign(PROBLEM_PURPOSE, &format!("{}\n{nonce}\n{now}\n{domain}", kind.tag()));
        let picture = (kind == Kind::Captcha).then(|| {
            let seed = self.mac(ANSWER_PURPOSE, format!("picture\n{nonce}").as_bytes());
            puzzle::picture(&self.digits(&nonce), seed.as_ref())
        });
        Problem { sealed, nonce, picture }
    }

    /// The digits a CAPTCHA's picture shows: what a person reads from it.
    fn digits(&self, nonce: &str) -> String {
        let tag = self.mac(ANSWER_PURPOSE, format!("digits\n{nonce}").as_bytes());
        tag.as_ref().iter().take(CAPTCHA_DIGITS).map(|b| char::from(b'0' + b % 10)).collect()
    }

    /// The audio of a signed CAPTCHA problem: its digits spoken ([`audio`]), the same each time
    /// it is asked for. None for anything else.
    pub fn audio(&self, sealed: &str) -> Option<Vec<u8>> {
        let payload = self.unsign(PROBLEM_PURPOSE, sealed.as_bytes())?;
        let mut parts = payload.split('\n');
        let (tag, nonce) = (parts.next()?, parts.next()?);
        if tag != Kind::Captcha.tag() {
            return None;
        }
        let seed = self.mac(ANSWER_PURPOSE, format!("audio\n{nonce}").as_bytes());
        Some(audio::audio(&self.digits(nonce), seed.as_ref()))
    }

    /// What a signed CAPTCHA problem's picture shows, as a person reads it: for tests that play
    /// the person (the picture is drawn from these digits).
    pub fn answer(&self, sealed: &str) -> Option<String> {
        let payload = self.unsign(PROBLEM_PURPOSE, sealed.as_bytes())?;
        let nonce = payload.split('\n').nth(1)?;
        Some(self.digits(nonce))
    }

    /// Checks an answer to a problem set for `domain`, and renews the client's `current` token
    /// (or starts one): an answered challenge stamps the challenge time, an answered CAPTCHA both;
    /// the token keeps what the `browser` told with this answer.
    pub fn verify(
        &self,
        (sealed, solution, answer): (&str, &str, Option<&str>),
        (now, domain): (u64, &str),
        current: Presented<'_>,
        browser: Browser,
    ) -> Answered {
        let refused = |reason| Answered { problem: None, outcome: Err(reason) };
        let Some(payload) = self.unsign(PROBLEM_PURPOSE, sealed.as_bytes()) else { return refused(Refusal::Malformed) };
        let parts: Vec<&str> = payload.split('\n').collect();
        let [tag, nonce, set, problem_domain] = parts[..] else { return refused(Refusal::Malformed) };
        let Ok(set) = set.parse::<u64>() else { return refused(Refusal::Malformed) };
        let kind = match tag {
            "challenge" => Kind::Challenge,
            "captcha" => Kind::Captcha,
            _ => return refused(Refusal::Malformed),
        };
        if now.saturating_sub(set) > PROBLEM_TTL || set > now + 60 {
            return refused(Refusal::Expired);
        }
        if problem_domain != domain {
            return refused(Refusal::DomainMismatch);
        }
        if !solves(nonce, solution.trim()) {
            return refused(Refusal::Unsolved);
        }
        let problem = Some((nonce.to_owned(), set + PROBLEM_TTL));
        if kind == Kind::Captcha {
            let given: Vec<u8> = answer.unwrap_or_default().bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            let expected = self.digits(nonce);
            if aws_lc_rs::constant_time::verify_slices_are_equal(&given, expected.as_bytes()).is_err() {
                return Answered { problem, outcome: Err(Refusal::WrongAnswer) };
            }
        }
        let mut token = match current {
            Presented::Valid(t) if t.domain == domain => t.clone(),
            _ => Token {
                id: nonce.to_owned(),
                challenge_at: None,
                captcha_at: None,
                domain: domain.to_owned(),
                browser: Browser::default(),
            },
        };
        token.browser = browser;
        token.challenge_at = Some(now);
        if kind == Kind::Captcha {
            token.captcha_at = Some(now);
        }
        Answered { problem, outcome: Ok(token) }
    }
}

/// How a CAPTCHA or Challenge rule found a request's token, as WAF's logs and sampled requests
/// report it (`CaptchaResponse` / `ChallengeResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub kind: Kind,
    /// 405 (CAPTCHA) or 202 (challenge) when the token did not do; none when it did.
    pub response_code: Option<u16>,
    /// When the CAPTCHA (challenge) was last solved.
    pub solve_timestamp: Option<u64>,
    /// `TOKEN_MISSING`, `TOKEN_EXPIRED`, `TOKEN_INVALID` or `TOKEN_DOMAIN_MISMATCH`.
    pub failure_reason: Option<&'static str>,
}

/// Checks a request's token for a rule of `kind` with `immunity` seconds, against the domains
/// the request accepts ([`acceptable_domains`]).
pub fn check(presented: Presented<'_>, kind: Kind, immunity: u64, now: u64, domains: &[String]) -> Checked {
    let code = match kind {
        Kind::Captcha => 405,
        Kind::Challenge => 202,
    };
    let failed = |reason: &'static str, at: Option<u64>| Checked {
        kind,
        response_code: Some(code),
        solve_timestamp: at,
        failure_reason: Some(reason),
    };
    let token = match presented {
        Presented::Absent => return failed("TOKEN_MISSING", None),
        Presented::Invalid => return failed("TOKEN_INVALID", None),
        Presented::Valid(t) => t,
    };
    if !domains.contains(&token.domain) {
        return failed("TOKEN_DOMAIN_MISMATCH", None);
    }
    let solved = match kind {
        Kind::Captcha => token.captcha_at,
        Kind::Challenge => token.challenge_at,
    };
    match solved {
        // A token with no solve of this kind yet has, for this kind, no timestamp at all.
        None => failed("TOKEN_MISSING", None),
        Some(at) if now.saturating_sub(at) > immunity => failed("TOKEN_EXPIRED", Some(at)),
        Some(at) => Checked { kind, response_code: None, solve_timestamp: Some(at), failure_reason: None },
    }
}

#[cfg(test)]
mod tests;
