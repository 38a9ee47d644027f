//! Fuzzes what a client hands the WAF's token desk: a request's cookie headers, a token, and an
//! answer to a problem (problem, proof of work, CAPTCHA digits, host). Nothing panics; nothing
//! but this key's own signatures opens; an answer to a problem this key did not set is refused
//! before its proof of work counts.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_waf::tokens::{self, Keys, Kind, Presented};

fuzz_target!(|data: &[u8]| {
    let keys = Keys::new(&[3; 32]);
    let headers: Vec<(&[u8], &[u8])> = data.split(|&b| b == b'\n').map(|line| (&b"cookie"[..], line)).collect();
    if let Some(carried) = tokens::carried(&headers) {
        if let Some(token) = keys.open(carried) {
            // Only a token this key sealed opens: sealing it again gives what was carried.
            assert_eq!(keys.seal(&token).as_bytes(), carried);
        }
    }
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\u{0}');
    let (problem, solution, answer, host) =
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next(), parts.next().unwrap_or(""));
    let domain = tokens::token_domain(host, &[host.to_owned()]);
    let browser = tokens::Browser::observed(Some(host.as_bytes()), answer, solution.len() % 2 == 0);
    let answered = keys.verify((problem, solution, answer), (1_800_000_000, &domain), Presented::Absent, browser);
    if answered.outcome.is_ok() || answered.problem.is_some() {
        // Forging a problem needs the key: only one this key set can get this far.
        assert!(keys.answer(problem).is_some());
    }
    let _ = keys.answer(problem);
    let _ = keys.audio(problem);
    let _ = tokens::check(Presented::Invalid, Kind::Captcha, 60, 0, &tokens::acceptable_domains(host, &[domain.clone()]));
});
