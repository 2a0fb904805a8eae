//! Go's time formats, as Pebble puts them on the wire.
//!
//! Pebble is written in Go, so every timestamp it sends is Go's `time.Time` JSON form
//! (RFC 3339 with up to nine fractional digits, trailing zeros trimmed) and every duration is
//! `time.Duration.String()` (`"500ms"`, `"1m0s"`, `"168h0m0s"`). Durations it *reads*
//! (`?timeout=4.000s`, `repeat-after`, layer `backoff-delay`) go through
//! `time.ParseDuration`, whose error messages ops may show to the charm author.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time as nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i128);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(d.as_nanos() as i128)
    }

    /// This time plus a duration.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0 + d.as_nanos() as i128)
    }

    /// Go's `time.Time` JSON encoding (RFC 3339 with nanoseconds, zeros trimmed), in UTC.
    pub fn rfc3339_nano(self) -> String {
        let (secs, nanos) = self.split();
        let mut s = format_datetime(secs);
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        s.push('Z');
        s
    }

    /// `time.RFC3339` (whole seconds), as Pebble uses for file times and task log lines.
    pub fn rfc3339(self) -> String {
        let (secs, _) = self.split();
        let mut s = format_datetime(secs);
        s.push('Z');
        s
    }

    fn split(self) -> (i64, u32) {
        let secs = self.0.div_euclid(1_000_000_000) as i64;
        let nanos = self.0.rem_euclid(1_000_000_000) as u32;
        (secs, nanos)
    }

    /// From a `SystemTime` (file modification times).
    pub fn from_system(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(d.as_nanos() as i128),
            Err(e) => Timestamp(-(e.duration().as_nanos() as i128)),
        }
    }

    /// Parses an RFC 3339 timestamp (`2024-01-02T03:04:05.5Z`, `…+02:00`).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            if !t.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        let mut rest = &s[19..];
        let mut nanos: i128 = 0;
        if let Some(r) = rest.strip_prefix('.') {
            let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() {
                return None;
            }
            let mut padded = digits.clone();
            padded.truncate(9);
            while padded.len() < 9 {
                padded.push('0');
            }
            nanos = padded.parse().ok()?;
            rest = &r[digits.len()..];
        }
        let offset_secs: i64 = if rest == "Z" || rest == "z" {
            0
        } else {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' || !matches!(rb[0], b'+' | b'-') {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let o = oh * 3600 + om * 60;
            if rb[0] == b'-' { -o } else { o }
        };
        let days = days_from_civil(y, mo as u32, d as u32);
        let secs = days * 86400 + h * 3600 + mi * 60 + se - offset_secs;
        Some(Timestamp(secs as i128 * 1_000_000_000 + nanos))
    }
}

fn format_datetime(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Go's `time.Duration.String()`: `0s`, `1.5s`, `500ms`, `1m0s`, `168h0m0s`.
pub fn format_duration(d: Duration) -> String {
    let u = d.as_nanos();
    if u == 0 {
        return "0s".to_string();
    }
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fmt_frac(u, div));
    }
    let total_secs = u / 1_000_000_000;
    let frac = u % 1_000_000_000;
    let secs = total_secs % 60;
    let mins = (total_secs / 60) % 60;
    let hours = total_secs / 3600;
    let mut s = String::new();
    if hours > 0 {
        s.push_str(&format!("{hours}h"));
    }
    if hours > 0 || mins > 0 {
        s.push_str(&format!("{mins}m"));
    }
    s.push_str(&fmt_frac(secs * 1_000_000_000 + frac, 1_000_000_000));
    s.push('s');
    s
}

fn fmt_frac(v: u128, div: u128) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Go's `time.ParseDuration`, with its error messages. Negative durations are rejected
/// (Pebble has no use for them) with the message Pebble's callers would give.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let orig = s;
    let quoted = format!("{orig:?}");
    let mut s = s;
    let mut neg = false;
    if let Some(r) = s.strip_prefix('-') {
        neg = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(format!("time: invalid duration {quoted}"));
    }
    let mut total: f64 = 0.0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let num = &s[start..i];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(format!("time: invalid duration {quoted}"));
        }
        let ustart = i;
        while i < bytes.len() && !(bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let unit = &s[ustart..i];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        let mult: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => {
                return Err(format!(
                    "time: unknown unit {:?} in duration {quoted}",
                    unit
                ));
            }
        };
        let v: f64 = num
            .parse()
            .map_err(|_| format!("time: invalid duration {quoted}"))?;
        total += v * mult;
    }
    if neg && total != 0.0 {
        return Err(format!("time: invalid duration {quoted} (negative)"));
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_like_go() {
        assert_eq!(format_duration(Duration::from_secs(0)), "0s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(
            format_duration(Duration::from_secs(7 * 24 * 3600)),
            "168h0m0s"
        );
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("4.000s"), Ok(Duration::from_secs(4)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(
            parse_duration("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            parse_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn timestamps_round_trip() {
        let t = Timestamp(1_700_000_000_123_456_789);
        assert_eq!(t.rfc3339_nano(), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(t.rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339_nano()), Some(t));
        assert_eq!(
            Timestamp::parse_rfc3339("2023-11-14T23:13:20+01:00"),
            Some(Timestamp(1_700_000_000_000_000_000))
        );
        assert_eq!(Timestamp(0).rfc3339_nano(), "1970-01-01T00:00:00Z");
    }
}
