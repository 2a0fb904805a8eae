//! Time, without a clock: the RFC 3339 times and Go durations secrets carry (expiry,
//! rotation), read and printed against the unit's virtual "now", and Juju's timers that
//! move it.

use super::super::{ToolError, UnitAgent, secret_xid, usage};
use crate::engine::event::{Event, HookKind};
use crate::target::clock::VirtualClock;

// --- time, without a clock ---

pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds and nanoseconds since the epoch of `2006-01-02T15:04:05[.frac](Z|±hh:mm)`, or of
/// the same without a zone (UTC), as `secret-add --expire` accepts.
pub(super) fn parse_time(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = format!("{digits:0<9}").parse().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let oh: i64 = z[1..3].parse().ok()?;
            let om: i64 = z[4..6].parse().ok()?;
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some((secs, nanos))
}

/// Go's `time.Time` JSON form (RFC 3339 with trimmed nanoseconds) in UTC.
/// An RFC 3339 time as nanoseconds since the epoch (saturating: clocks are `i64`).
pub(super) fn time_ns(t: &str) -> Option<i64> {
    let (secs, nanos) = parse_time(t)?;
    let ns = secs as i128 * 1_000_000_000 + nanos as i128;
    Some(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Nanoseconds since the epoch as an RFC 3339 time.
pub(super) fn format_ns(ns: i128) -> String {
    format_time(
        ns.div_euclid(1_000_000_000) as i64,
        ns.rem_euclid(1_000_000_000) as u32,
    )
}

pub(super) fn format_time(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub(super) fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if n.is_empty() {
            return None;
        }
        rest = &rest[n.len()..];
        let unit: String = rest
            .chars()
            .take_while(|c| !c.is_ascii_digit() && *c != '.')
            .collect();
        rest = &rest[unit.len()..];
        let scale = match unit.as_str() {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n.parse::<f64>().ok()? * scale;
    }
    Some(if neg { -total } else { total } as i128)
}

/// `--expire`: a time (RFC 3339, or without zone) or a positive duration from `now`.
pub(super) fn parse_expire(spec: &str, now: &VirtualClock) -> Result<String, ToolError> {
    if let Some((s, n)) = parse_time(spec) {
        return Ok(format_time(s, n));
    }
    match parse_duration(spec) {
        None => Err(usage(format!("expire time or duration {spec:?} not valid"))),
        Some(d) if d <= 0 => Err(usage(format!(
            "negative expire duration {spec:?} not valid"
        ))),
        Some(d) => Ok(format_ns(now.now_ns as i128 + d)),
    }
}

/// Juju's timers that fire `event` move the unit's clock to when they fire:
/// `update-status` an interval after the last, `secret-expired` at the revision's expiry,
/// `secret-rotate` when the rotation falls due (and the next one is a period later).
pub(in crate::target::hooktools) fn timer_fires(agent: &mut UnitAgent, event: &Event) {
    let secret = event
        .env("JUJU_SECRET_ID")
        .and_then(secret_xid)
        .and_then(|x| agent.secrets.get_mut(x));
    match (event.kind, secret) {
        (HookKind::UpdateStatus, _) => agent.clock.update_status(),
        (HookKind::SecretExpired, Some(s)) => {
            if let Some(t) = s.expiry.as_deref().and_then(time_ns) {
                agent.clock.reach(t);
            }
        }
        (HookKind::SecretRotate, Some(s)) => {
            if let Some(t) = s.rotates.as_deref().and_then(time_ns) {
                agent.clock.reach(t);
            }
            s.rotates = next_rotation(s.rotate.as_deref(), &agent.clock);
        }
        _ => {}
    }
}

/// When a secret given rotation `policy` now is next due (RFC 3339).
pub(super) fn next_rotation(policy: Option<&str>, now: &VirtualClock) -> Option<String> {
    rotate_period(policy?).map(|p| format_ns(now.now_ns as i128 + p as i128 * 1_000_000_000))
}

pub(super) fn rotate_period(policy: &str) -> Option<i64> {
    Some(match policy {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "quarterly" => 90 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = VirtualClock::default();
        assert_eq!(time_ns("2025-01-01T00:00:00Z"), Some(now.now_ns));
        assert_eq!(
            format_ns(now.now_ns as i128 + 5),
            "2025-01-01T00:00:00.000000005Z"
        );
        assert_eq!(
            format_time(parse_time("2025-03-01T10:00:00+02:00").unwrap().0, 0),
            "2025-03-01T08:00:00Z"
        );
        assert_eq!(
            parse_expire("2024-02-29T23:59:59.5-01:00", &now).unwrap(),
            "2024-03-01T00:59:59.5Z"
        );
        assert_eq!(parse_expire("24h", &now).unwrap(), "2025-01-02T00:00:00Z");
        assert_eq!(parse_expire("1h30m", &now).unwrap(), "2025-01-01T01:30:00Z");
        assert!(parse_expire("-1h", &now).is_err());
        assert!(parse_expire("tomorrow", &now).is_err());
        assert_eq!(format_time(0, 0), "1970-01-01T00:00:00Z");
    }
}
