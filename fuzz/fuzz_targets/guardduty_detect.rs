//! GuardDuty's readers of untrusted text: a threat list or trusted IP list in every format
//! GuardDuty reads, a list's S3 location, and an event (any JSON) run through every detection
//! with lists that hold it. None may panic, and the learned state stays bounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_guardduty::detect::{IpList, Lists, State, detect};
use rampart_guardduty::lists::{object_of, parse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = object_of(&text);
    let mut networks = Vec::new();
    for format in ["TXT", "STIX", "OTX_CSV", "ALIEN_VAULT", "PROOF_POINT", "FIRE_EYE"] {
        networks.extend(parse(format, data));
    }
    let lists = Lists {
        threats: vec![IpList { name: "fuzz".into(), networks: networks.clone(), since: None }],
        trusted: vec![IpList { name: "trusted".into(), networks: networks.iter().take(1).copied().collect(), since: Some(0) }],
        tor: Some(std::sync::Arc::new(IpList { name: "tor".into(), networks: networks.into_iter().skip(1).collect(), since: None })),
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
