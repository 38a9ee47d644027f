//! CAPTCHA and Challenge rules through the proxy: a client without a token gets AWS's 405 or 202
//! (with the interstitial page when it accepts HTML), answers the page's problem, earns the
//! `aws-waf-token` cookie, and is let through for the immunity time.

use aws_sdk_wafv2::primitives::Blob;
use aws_sdk_wafv2::types::{
    ByteMatchStatement, CaptchaAction, CaptchaConfig, ChallengeAction, DefaultAction, FieldToMatch,
    ImmunityTimeProperty, PositionalConstraint, Rule, RuleAction, Scope, Statement, TextTransformation,
    TextTransformationType, UriPath,
};

use crate::waf::{Answer, proxied, send, visibility, waf};

type Http = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

fn path_starts_with(prefix: &str) -> Statement {
    Statement::builder()
        .byte_match_statement(
            ByteMatchStatement::builder()
                .search_string(Blob::new(prefix))
                .field_to_match(FieldToMatch::builder().uri_path(UriPath::builder().build()).build())
                .text_transformations(
                    TextTransformation::builder().priority(0).r#type(TextTransformationType::None).build().unwrap(),
                )
                .positional_constraint(PositionalConstraint::StartsWith)
                .build()
                .unwrap(),
        )
        .build()
}

/// A value the page's script carries, e.g. `problem:"…"`.
fn script_value<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page.find(&format!("{name}:\"")).unwrap_or_else(|| panic!("no {name} in {page}")) + name.len() + 2;
    &page[start..start + page[start..].find('"').unwrap()]
}

/// The proof of work a browser finds for a nonce.
fn work(nonce: &str) -> String {
    (0u64..).map(|c| c.to_string()).find(|c| rampart_waf::tokens::solves(nonce, c)).unwrap()
}

/// The `aws-waf-token=…` pair of a response's cookie.
fn cookie_of(answer: &Answer) -> String {
    let set = answer.headers.get("set-cookie").expect("a token cookie").to_str().unwrap();
    assert!(set.contains("Path=/") && set.contains("SameSite=Lax") && set.contains("Max-Age=259200"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

async fn answer(http: &Http, base: &str, form: &str) -> Answer {
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    send(http, "POST", &format!("{base}/.rampart-waf/verify"), &headers, form).await
}

/// Runs the challenge page's own script under Node.js, as a browser would run it: it works out
/// the proof of work, posts it, and reloads. What it printed: the cookie it was given, and
/// whether it reloaded.
fn run_page_script(page: &str, url: &str) -> String {
    let harness = r#"
const page = require("fs").readFileSync(0, "utf8");
const script = page.match(/<script>([\s\S]*)<\/script>/)[1];
globalThis.location = { href: process.argv[1], reload() { console.log("RELOADED"); } };
globalThis.document = { getElementById() { return null; } };
const browserFetch = globalThis.fetch;
globalThis.fetch = (u, o) => browserFetch(u, o).then((r) => { console.log("COOKIE " + r.headers.get("set-cookie")); return r; });
eval(script);
RAMPART_WAF.done.then(() => {});
"#;
    let mut child = std::process::Command::new("node")
        .arg("-e")
        .arg(harness)
        .arg(url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("Node.js runs the interstitial page's script (CI installs it)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "node: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn captcha_and_challenge_rules_let_a_client_through_once_it_earns_a_token() {
    let (server, shop) = proxied("shop", "front").await;
    let base = format!("http://{}", shop.addr);
    let http: Http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let html = ("accept", "text/html,application/xhtml+xml");

    // Every page is challenged; /login also needs a CAPTCHA solved within the last 60 seconds.
    let rules = [
        Rule::builder()
            .name("human")
            .priority(1)
            .statement(path_starts_with("/login"))
            .action(RuleAction::builder().captcha(CaptchaAction::builder().build()).build())
            .captcha_config(
                CaptchaConfig::builder()
                    .immunity_time_property(ImmunityTimeProperty::builder().immunity_time(60).build().unwrap())
                    .build(),
            )
            .visibility_config(visibility("human"))
            .build()
            .unwrap(),
        Rule::builder()
            .name("browser")
            .priority(2)
            .statement(path_starts_with("/"))
            .action(RuleAction::builder().challenge(ChallengeAction::builder().build()).build())
            .visibility_config(visibility("browser"))
            .build()
            .unwrap(),
    ];
    waf(&server)
        .create_web_acl()
        .name("front")
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(aws_sdk_wafv2::types::AllowAction::builder().build()).build())
        .set_rules(Some(rules.to_vec()))
        .visibility_config(visibility("front"))
        .send()
        .await
        .unwrap();

    // No token: AWS's answers, with the page only for a client that accepts HTML.
    let plain = send(&http, "GET", &format!("{base}/"), &[], "").await;
    assert_eq!(plain.status, 202);
    assert_eq!(plain.headers["x-amzn-waf-action"], "challenge");
    assert!(plain.body.is_empty());
    let page = send(&http, "GET", &format!("{base}/"), &[html], "").await;
    assert_eq!(page.status, 202);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(page.body.contains("/.rampart-waf/verify"), "{}", page.body);

    // The page's own script solves it, as a browser runs it: it gets the cookie and reloads.
    let printed = run_page_script(&page.body, &format!("{base}/"));
    assert!(printed.contains("RELOADED"), "{printed}");
    let set = printed.lines().find_map(|l| l.strip_prefix("COOKIE ")).unwrap();
    let challenged = set.split(';').next().unwrap().to_owned();
    assert!(challenged.starts_with("aws-waf-token="), "{set}");
    let through = send(&http, "GET", &format!("{base}/catalog"), &[("cookie", &challenged)], "").await;
    assert_eq!(through.status, 200, "{}", through.body);
    assert!(through.body.contains("\"path\":\"/catalog\""), "the upstream answered: {}", through.body);
    // The same problem earns nothing twice, and the answer never reaches the upstream.
    let problem = script_value(&page.body, "problem");
    let nonce = script_value(&page.body, "nonce");
    let again = format!("problem={problem}&solution={}", work(nonce));
    let replayed = answer(&http, &base, &again).await;
    assert_eq!(replayed.status, 403);
    assert!(replayed.body.contains("already answered"), "{}", replayed.body);
    // A token altered by its holder is no token.
    let mut forged = challenged.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(send(&http, "GET", &format!("{base}/"), &[("cookie", &forged)], "").await.status, 202);

    // The challenge token does not pass the CAPTCHA: the picture's digits are needed.
    let captcha = send(&http, "GET", &format!("{base}/login"), &[html, ("cookie", &challenged)], "").await;
    assert_eq!(captcha.status, 405);
    assert_eq!(captcha.headers["x-amzn-waf-action"], "captcha");
    assert!(captcha.body.contains("<svg") && !captcha.body.contains("<text"));
    // The audio alternative: the problem's digits spoken, served by the proxy itself.
    let src =
        captcha.body.split("<audio").nth(1).and_then(|a| a.split("src=\"").nth(1)).and_then(|s| s.split('"').next());
    let src = src.expect("an audio element");
    assert!(src.starts_with("/.rampart-waf/audio?problem="), "{src}");
    let heard = send(&http, "GET", &format!("{base}{src}"), &[], "").await;
    assert_eq!((heard.status, heard.headers["content-type"].to_str().unwrap()), (200, "audio/wav"));
    assert!(heard.body.starts_with("RIFF"));
    let not_ours = send(&http, "GET", &format!("{base}/.rampart-waf/audio?problem=a.b"), &[], "").await;
    assert_eq!(not_ours.status, 403);
    let problem = script_value(&captcha.body, "problem").to_owned();
    let solution = work(script_value(&captcha.body, "nonce"));
    let keys = rampart_waf::tokens::Keys::new(server.sealer().unwrap().derive("waf-token").as_slice());
    let digits = keys.answer(&problem).expect("a problem of this server's");
    let wrong: String = digits.chars().map(|d| if d == '9' { '0' } else { char::from(d as u8 + 1) }).collect();
    let guessed = answer(&http, &base, &format!("problem={problem}&solution={solution}&answer={wrong}")).await;
    assert_eq!(guessed.status, 403);
    assert!(guessed.body.contains("does not match the picture"), "{}", guessed.body);
    // One guess per problem: the right digits, late, are refused too.
    let late = answer(&http, &base, &format!("problem={problem}&solution={solution}&answer={digits}")).await;
    assert_eq!(late.status, 403, "{}", late.body);

    let captcha = send(&http, "GET", &format!("{base}/login"), &[html, ("cookie", &challenged)], "").await;
    let problem = script_value(&captcha.body, "problem").to_owned();
    let solution = work(script_value(&captcha.body, "nonce"));
    let digits = keys.answer(&problem).unwrap();
    let form = format!("problem={problem}&solution={solution}&answer={digits}");
    let earned = send(
        &http,
        "POST",
        &format!("{base}/.rampart-waf/verify"),
        &[("content-type", "application/x-www-form-urlencoded"), ("cookie", &challenged)],
        &form,
    )
    .await;
    assert_eq!(earned.status, 200, "{}", earned.body);
    let human = cookie_of(&earned);
    // The renewed token keeps the client's session, and now records both solves.
    let open = |pair: &str| keys.open(pair.trim_start_matches("aws-waf-token=").as_bytes()).unwrap();
    let (before, after) = (open(&challenged), open(&human));
    assert_eq!(before.id, after.id);
    assert!(before.captcha_at.is_none() && after.captcha_at.is_some() && after.challenge_at.is_some());
    assert_eq!(after.domain, "127.0.0.1");
    let login = send(&http, "GET", &format!("{base}/login"), &[html, ("cookie", &human)], "").await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.body.contains("\"path\":\"/login\""));

    // A token is also read from the header AWS's integration SDKs send.
    let token = human.trim_start_matches("aws-waf-token=");
    let by_header = send(&http, "GET", &format!("{base}/login"), &[("x-aws-waf-token", token)], "").await;
    assert_eq!(by_header.status, 200);
}
