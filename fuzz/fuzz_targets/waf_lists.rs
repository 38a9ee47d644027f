//! Fuzzes what the operator and clients hand the WAF's address and bot classification: an IP
//! list file as feeds publish it (every address it names is then on it), and a user agent for
//! Bot Control (a bot's category is one of AWS's). Nothing panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_waf::bots;
use rampart_waf::engine::Ranges;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (ranges, _skipped) = Ranges::parse_list(&text);
    for line in text.lines() {
        if let Ok(ip) = line.trim().parse::<std::net::IpAddr>() {
            assert!(ranges.contains(ip), "{ip} is on the list that names it");
        }
    }
    if let Some(bot) = bots::classify(&text) {
        assert!(bots::CATEGORIES.iter().any(|(_, c)| *c == bot.category), "{bot:?}");
    }
    let _ = bots::non_browser(Some(&text));
    let _ = bots::automated_browser(&text, Some(&text));
});
