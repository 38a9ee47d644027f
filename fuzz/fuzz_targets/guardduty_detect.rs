//! GuardDuty's readers of untrusted text: a threat list or trusted IP list in every format
//! GuardDuty reads, a list's S3 location, the thresholds' `NAME=VALUE` text, an event (any JSON)
//! run through every detection with lists that hold it, and proxy tallies and a flood report of
//! any load balancer ARN, paths and rules, and a file scanned for malware against a hash list read
//! from the same text. None may panic, and the learned state stays bounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_guardduty::detect::{IpList, Lists, State, Tuning, detect};
use rampart_guardduty::lists::{object_of, parse};
use rampart_guardduty::web::{Seen, Watch, attack};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = object_of(&text);
    let hashes: std::collections::HashSet<String> =
        text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_ascii_lowercase).collect();
    let _ = rampart_guardduty::malware::scan(data, Some(&hashes));
    // Small thresholds when the text names them, so the stateful detections fire.
    let tuning = Tuning::parse(&text).unwrap_or_default();
    let mut seen = Seen::default();
    for line in text.lines() {
        seen.path(line.as_bytes());
        seen.blocked_by(line);
    }
    let mut watch = Watch::new(tuning);
    for now in [0, 1, i64::MAX] {
        let _ = watch.observe(vec![(text.to_string(), std::net::IpAddr::from([127, 0, 0, 1]), seen.clone())], now);
    }
    let _ = attack(&text, u64::MAX, &[(text.to_string(), 1), ("203.0.113.9".into(), 2)], 0);
    let mut networks = Vec::new();
    for format in ["TXT", "STIX", "OTX_CSV", "ALIEN_VAULT", "PROOF_POINT", "FIRE_EYE"] {
        networks.extend(parse(format, data));
    }
    let lists = Lists {
        threats: vec![IpList { name: "fuzz".into(), networks: networks.clone(), since: None }],
        trusted: vec![IpList { name: "trusted".into(), networks: networks.iter().take(1).copied().collect(), since: Some(0) }],
        tor: Some(std::sync::Arc::new(IpList { name: "tor".into(), networks: networks.into_iter().skip(1).collect(), since: None })),
        tuning,
    };
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) {
        let mut state = State::default();
        for at in [0, i64::MAX] {
            let _ = detect(&event, at, &mut state, &lists);
        }
        // A sign-in and an API call made of the same JSON, for the stateful detections.
        let mut signin = event.clone();
        if let Some(m) = signin.as_object_mut() {
            m.insert("eventType".into(), "AwsConsoleSignIn".into());
            m.insert("eventName".into(), "ConsoleLogin".into());
        }
        let _ = detect(&signin, 1, &mut state, &lists);
    }
});
