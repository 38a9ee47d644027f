//! Tokens and problems: sealed, opened, answered and checked as the proxies use them.

use super::*;

const NOW: u64 = 1_800_000_000;

fn keys() -> Keys {
    Keys::new(&[7; 32])
}

/// The proof of work a browser would find.
fn work(nonce: &str) -> String {
    (0u64..).map(|c| c.to_string()).find(|c| solves(nonce, c)).unwrap()
}

#[test]
fn a_token_opens_only_with_the_key_that_sealed_it_and_unaltered() {
    let token = Token {
        id: "abc".into(),
        challenge_at: Some(NOW),
        captcha_at: None,
        domain: "shop.example".into(),
        browser: Browser::default(),
    };
    let sealed = keys().seal(&token);
    assert_eq!(keys().open(sealed.as_bytes()), Some(token.clone()));
    // What the browser told travels with the token.
    let told =
        Token { browser: Browser::observed(Some(b"Mozilla/5.0 A"), Some("HeadlessChrome"), true), ..token.clone() };
    assert_eq!(keys().open(keys().seal(&told).as_bytes()), Some(told.clone()));
    assert!(told.browser.automated && told.browser.inconsistent);
    assert_eq!(told.browser.agent, agent_digest(b"Mozilla/5.0 A"));
    assert_eq!(told.browser.agent.len(), 16);
    let same = Browser::observed(Some(b"Mozilla/5.0 A"), Some("Mozilla/5.0 A"), false);
    assert!(!same.automated && !same.inconsistent);
    assert_eq!(Browser::observed(None, None, false), Browser::default(), "a client that ran no script told nothing");
    // A token issued before tokens told of browsers (four lines) still opens, telling nothing.
    let older = keys().sign(TOKEN_PURPOSE, "abc\n1800000000\n\nshop.example");
    assert_eq!(keys().open(older.as_bytes()), Some(token.clone()));
    assert_eq!(Keys::new(&[8; 32]).open(sealed.as_bytes()), None);
    let (payload, tag) = sealed.split_once('.').unwrap();
    let forged = format!("{}.{tag}", BASE64URL_NOPAD.encode(b"abc\n1800000000\n1800000000\nshop.example"));
    assert_eq!(keys().open(forged.as_bytes()), None, "a CAPTCHA stamp added without the key");
    assert_eq!(keys().open(payload.as_bytes()), None);
    assert_eq!(keys().open(b""), None);
    // A problem is signed for another purpose: it is never a token.
    let problem = keys().problem(Kind::Challenge, [1; 16], NOW, "shop.example");
    assert_eq!(keys().open(problem.sealed.as_bytes()), None);
}

#[test]
fn the_token_is_read_from_its_cookie_else_its_header() {
    let headers: Vec<(&[u8], &[u8])> =
        vec![(b"Cookie", b"session=1; aws-waf-token=T1 ; other=2"), (b"x-aws-waf-token", b"T2")];
    assert_eq!(carried(&headers), Some(&b"T1"[..]));
    assert_eq!(carried(&headers[1..]), Some(&b"T2"[..]));
    let none: Vec<(&[u8], &[u8])> = vec![(b"cookie", b"aws-waf-token-x=1; noequals")];
    assert_eq!(carried(&none), None);
}

#[test]
fn a_token_is_issued_for_the_shortest_token_domain_the_host_is_under_and_accepted_under_any() {
    let domains = vec!["example.com".to_owned(), "shop.example.com".to_owned()];
    assert_eq!(token_domain("a.shop.example.com:8443", &domains), "example.com");
    assert_eq!(token_domain("a.shop.example.com", &domains[1..]), "shop.example.com");
    let mut accepted = acceptable_domains("a.shop.example.com", &domains);
    accepted.sort();
    assert_eq!(accepted, ["a.shop.example.com", "example.com", "shop.example.com"]);
    assert_eq!(acceptable_domains("other.org", &domains), ["other.org"]);
    assert_eq!(token_domain("WWW.Example.com", &domains), "example.com");
    assert_eq!(token_domain("badexample.com", &domains), "badexample.com");
    assert_eq!(token_domain("127.0.0.1:8080", &[]), "127.0.0.1");
    assert_eq!(token_domain("[::1]:8080", &[]), "[::1]");
}

#[test]
fn a_solved_challenge_earns_a_token_with_its_challenge_time() {
    let problem = keys().problem(Kind::Challenge, [2; 16], NOW, "shop.example");
    assert_eq!(problem.picture, None);
    let solution = work(&problem.nonce);
    let answered = keys().verify(
        (&problem.sealed, &solution, None),
        (NOW + 3, "shop.example"),
        Presented::Absent,
        Browser::default(),
    );
    assert_eq!(answered.problem, Some((problem.nonce.clone(), NOW + PROBLEM_TTL)));
    let token = answered.outcome.unwrap();
    assert_eq!(token.challenge_at, Some(NOW + 3));
    assert_eq!(token.captcha_at, None);
    assert_eq!(token.domain, "shop.example");
    // Refusals: no work, too late, another domain, altered.
    let wrong = (0u64..).map(|c| c.to_string()).find(|c| !solves(&problem.nonce, c)).unwrap();
    let at = (NOW, "shop.example");
    let refusal = |sealed: &str, solution: &str, at| {
        let answered = keys().verify((sealed, solution, None), at, Presented::Absent, Browser::default());
        assert_eq!(answered.problem, None, "a refused proof of work answers no problem");
        answered.outcome.unwrap_err()
    };
    assert_eq!(refusal(&problem.sealed, &wrong, at), Refusal::Unsolved);
    assert_eq!(refusal(&problem.sealed, &solution, (NOW + PROBLEM_TTL + 1, "shop.example")), Refusal::Expired);
    assert_eq!(refusal(&problem.sealed, &solution, (NOW, "other.example")), Refusal::DomainMismatch);
    assert_eq!(refusal(&problem.sealed.replacen('.', "A.", 1), &solution, at), Refusal::Malformed);
}

#[test]
fn a_captcha_needs_the_pictures_digits_and_renews_the_clients_token() {
    let problem = keys().problem(Kind::Captcha, [3; 16], NOW, "shop.example");
    let digits = keys().answer(&problem.sealed).unwrap();
    assert_eq!(digits.len(), CAPTCHA_DIGITS);
    assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    let solution = work(&problem.nonce);
    let at = (NOW + 10, "shop.example");
    let before = Token {
        id: "session".into(),
        challenge_at: Some(NOW - 50),
        captcha_at: None,
        domain: "shop.example".into(),
        browser: Browser::default(),
    };
    let mut wrong = digits.clone().into_bytes();
    wrong[0] = if wrong[0] == b'9' { b'0' } else { wrong[0] + 1 };
    let wrong = String::from_utf8(wrong).unwrap();
    let guessed =
        keys().verify((&problem.sealed, &solution, Some(&wrong)), at, Presented::Valid(&before), Browser::default());
    assert_eq!(guessed.outcome, Err(Refusal::WrongAnswer));
    assert!(guessed.problem.is_some(), "a wrong guess uses the problem up");
    let none = keys().verify((&problem.sealed, &solution, None), at, Presented::Valid(&before), Browser::default());
    assert_eq!(none.outcome, Err(Refusal::WrongAnswer));
    let spaced = format!(" {} {} ", &digits[..2], &digits[2..]);
    let token = keys()
        .verify((&problem.sealed, &solution, Some(&spaced)), at, Presented::Valid(&before), Browser::default())
        .outcome
        .unwrap();
    assert_eq!(token.id, "session", "the client's session is kept");
    assert_eq!((token.challenge_at, token.captcha_at), (Some(NOW + 10), Some(NOW + 10)));
    // Another key's problem has no answer here.
    assert_eq!(Keys::new(&[9; 32]).answer(&problem.sealed), None);
}

#[test]
fn a_rule_accepts_a_token_solved_within_its_immunity_time_for_its_domain() {
    let token = Token {
        id: "s".into(),
        challenge_at: Some(NOW - 100),
        captcha_at: Some(NOW - 400),
        domain: "d".into(),
        browser: Browser::default(),
    };
    let valid = Presented::Valid(&token);
    let (d, e) = (["d".to_owned()], ["e".to_owned()]);
    assert_eq!(check(valid, Kind::Challenge, 300, NOW, &d).failure_reason, None);
    assert_eq!(check(valid, Kind::Challenge, 300, NOW, &d).solve_timestamp, Some(NOW - 100));
    let expired = check(valid, Kind::Captcha, 300, NOW, &d);
    assert_eq!((expired.response_code, expired.failure_reason), (Some(405), Some("TOKEN_EXPIRED")));
    assert_eq!(check(valid, Kind::Captcha, 400, NOW, &d).failure_reason, None);
    assert_eq!(check(valid, Kind::Challenge, 300, NOW, &e).failure_reason, Some("TOKEN_DOMAIN_MISMATCH"));
    let missing = check(Presented::Absent, Kind::Challenge, 300, NOW, &d);
    assert_eq!((missing.response_code, missing.failure_reason), (Some(202), Some("TOKEN_MISSING")));
    assert_eq!(check(Presented::Invalid, Kind::Captcha, 300, NOW, &d).failure_reason, Some("TOKEN_INVALID"));
    let challenged_only = Token { captcha_at: None, ..token.clone() };
    assert_eq!(
        check(Presented::Valid(&challenged_only), Kind::Captcha, 300, NOW, &d).failure_reason,
        Some("TOKEN_MISSING")
    );
}

#[test]
fn the_picture_draws_each_digit_from_strokes_and_never_as_text() {
    let a = puzzle::picture("12345", b"seed");
    assert_eq!(a.matches("<g ").count(), 5);
    assert!(!a.contains("<text"));
    // Digit strokes: a 1 is two polylines, an 8 two, a 7 one.
    assert_eq!(puzzle::picture("7", b"seed").matches("<polyline").count(), 1);
    assert_eq!(puzzle::picture("8", b"seed").matches("<polyline").count(), 2);
    // The same digits with another seed are drawn otherwise; other digits differ too.
    assert_ne!(a, puzzle::picture("12345", b"other"));
    assert_ne!(a, puzzle::picture("12346", b"seed"));
    assert_eq!(a, puzzle::picture("12345", b"seed"));
}

#[test]
fn the_page_carries_the_problem_and_shows_a_captchas_picture() {
    let captcha = keys().problem(Kind::Captcha, [4; 16], NOW, "d");
    let page = puzzle::page(Kind::Captcha, &captcha);
    assert!(page.contains(&captcha.sealed));
    assert!(page.contains(captcha.picture.as_deref().unwrap()));
    assert!(page.contains(VERIFY_PATH));
    let challenge = keys().problem(Kind::Challenge, [5; 16], NOW, "d");
    let page = puzzle::page(Kind::Challenge, &challenge);
    assert!(page.contains(&format!("nonce:\"{}\"", challenge.nonce)));
    assert!(!page.contains("<svg"));
}
