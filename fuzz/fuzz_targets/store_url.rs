//! The PostgreSQL store's connection strings (`--store`): URLs and libpq key=value strings parsed
//! as a node reads them (libpq's sslmode and sslrootcert split off first), and their redaction for
//! logs. No input may panic, and a redacted URL never shows the password it was given.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = rampart_store::check_postgres_url(text);
    let redacted = rampart_store::redact_url(text);
    // SCHEME://user:PASSWORD@host…: the password (when distinctive) is gone, whatever the scheme.
    if let Some((scheme, rest)) = text.split_once("://")
        && !scheme.is_empty()
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && let Some((userinfo, _)) = rest.split(['/', '?']).next().and_then(|a| a.rsplit_once('@'))
        && let Some((user, password)) = userinfo.split_once(':')
        && password.len() >= 8
        && !password.contains(['*', '@', ':'])
        && !user.contains(password)
    {
        let after_scheme = redacted.strip_prefix(&format!("{scheme}://")).unwrap_or(&redacted);
        let shown_userinfo = after_scheme.split(['/', '?']).next().and_then(|a| a.rsplit_once('@')).map(|x| x.0);
        assert!(!shown_userinfo.is_some_and(|u| u.contains(password)), "{text} -> {redacted}");
    }
    // A key=value string: an unquoted password value (when distinctive) is gone.
    if !text.contains("://") {
        for part in text.split_whitespace() {
            if let Some(value) = part.strip_prefix("password=")
                && value.len() >= 8
                && !value.contains(['\'', '*', '='])
                && text.matches(value).count() == 1
            {
                assert!(!redacted.contains(value), "{text} -> {redacted}");
            }
        }
    }
});
