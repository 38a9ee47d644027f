//! Timestamp formats of the protocols: ISO 8601 (query, XML), epoch seconds (JSON), RFC 822 (headers).

use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc2822, Rfc3339};

pub fn parse_iso8601(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| OffsetDateTime::parse(s, &Iso8601::DEFAULT).ok())
}

pub fn format_iso8601(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc822(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc2822).ok()
}

pub fn from_epoch(secs: f64) -> Option<OffsetDateTime> {
    if !secs.is_finite() {
        return None;
    }
    #[expect(clippy::cast_possible_truncation, reason = "bounded by the range check in from_unix_timestamp_nanos")]
    let nanos = (secs * 1e9) as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

pub fn to_epoch(t: OffsetDateTime) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "epoch milliseconds fit a double")]
    let ms = (t.unix_timestamp_nanos() / 1_000_000) as f64;
    ms / 1000.0
}
