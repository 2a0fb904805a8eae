//! `opened-ports`, `open-port`, `close-port`.
//!
//! Juju's `portRangeChangeRecorder`: requests are validated at once (parse errors are usage
//! errors; conflicts with an overlapping range of this unit, and ranges on Kubernetes, are
//! run errors), recorded as pending, and applied only if the hook exits 0. `opened-ports`
//! shows the committed ranges merged with this hook's pending requests. Opening a range
//! that is already open, or closing one that is not, is a no-op.

use super::flags::{FORMAT, OUTPUT, boolean, value};
use super::format::render;
use super::{Format, HookContext, OpenedPort, ToolError, ToolResult, failed, usage};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// An IP protocol, ordered as Go orders the protocol strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Icmp,
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Icmp => "icmp",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A port range (`network.PortRange`): ICMP has no ports (-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PortRange {
    pub protocol: Protocol,
    pub from: i64,
    pub to: i64,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Protocol::Icmp => f.write_str("icmp"),
            p if self.from == self.to => write!(f, "{}/{}", self.from, p.as_str()),
            p => write!(f, "{}-{}/{}", self.from, self.to, p.as_str()),
        }
    }
}

fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

impl PortRange {
    /// `network.ParsePortRange` (after `strings.ToLower`, as open-port does), with its
    /// error texts.
    pub fn parse(input: &str) -> Result<PortRange, String> {
        let lower = input.to_lowercase();
        let (ports, proto) = match lower.split_once('/') {
            Some((p, proto)) => (p.to_string(), proto.to_string()),
            None => (lower.clone(), "tcp".to_string()),
        };
        let parts: Vec<&str> = ports.split('-').collect();
        let (from, to) = match parts.as_slice() {
            ["icmp"] => (-1, -1),
            [p] => {
                let n = atoi(p).map_err(|e| format!("invalid port {ports:?}: {e}"))?;
                (n, n)
            }
            [a, b] => (
                atoi(a).map_err(|e| format!("invalid port {a:?}: {e}"))?,
                atoi(b).map_err(|e| format!("invalid port {b:?}: {e}"))?,
            ),
            _ => return Err(format!("invalid port range {ports:?}")),
        };
        let proto = if from == -1 {
            "icmp".to_string()
        } else {
            proto
        };
        let protocol = match proto.as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "icmp" => Protocol::Icmp,
            p => {
                return Err(format!(
                    "invalid protocol {p:?}, expected \"tcp\", \"udp\", or \"icmp\""
                ));
            }
        };
        let pr = PortRange { protocol, from, to };
        if protocol == Protocol::Icmp {
            if from == -1 && to == -1 {
                return Ok(pr);
            }
            return Err(format!(
                "protocol \"icmp\" doesn't support any ports; got \"{from}\""
            ));
        }
        if from > to {
            return Err(format!("invalid port range {pr}"));
        }
        if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) {
            return Err(format!(
                "port range bounds must be between 0 and 65535, got {from}-{to}"
            ));
        }
        Ok(pr)
    }

    fn conflicts_with(&self, other: &PortRange) -> bool {
        self.protocol == other.protocol && self.to >= other.from && other.to >= self.from
    }
}

impl HookContext {
    /// Committed ranges with this hook's pending requests applied.
    pub(super) fn opened_now(&self) -> BTreeSet<OpenedPort> {
        let mut out = self.ports_committed.clone();
        for p in &self.ports_open {
            out.insert(p.clone());
        }
        for p in &self.ports_close {
            out.remove(p);
        }
        out
    }

    pub(super) fn opened_ports(&mut self, args: &[String]) -> ToolResult {
        let a = self.parse(args, &[FORMAT, OUTPUT, boolean(&["endpoints"])])?;
        let format = self.format_of(&a, Format::Smart, &["smart", "yaml", "json"])?;
        self.no_more_args(&a.pos)?;
        let opened = self.opened_now();
        let ranges: BTreeSet<PortRange> = opened.iter().map(|p| p.range).collect();
        let list: Vec<Value> = ranges
            .iter()
            .map(|r| {
                if !a.flag("endpoints") {
                    return Value::String(r.to_string());
                }
                let eps: BTreeSet<&str> = opened
                    .iter()
                    .filter(|p| p.range == *r)
                    .map(|p| p.endpoint.as_str())
                    .collect();
                let descr = if eps.contains("") {
                    "*".to_string()
                } else {
                    eps.into_iter().collect::<Vec<_>>().join(", ")
                };
                Value::String(format!("{r} ({descr})"))
            })
            .collect();
        Ok(render(format, &Value::Array(list)))
    }

    pub(super) fn port_change(&mut self, args: &[String], open: bool) -> ToolResult {
        let a = self.parse(args, &[value(&["format"]), value(&["endpoints"])])?;
        let Some(arg) = a.pos.first() else {
            return Err(usage("no port or range specified"));
        };
        let range = PortRange::parse(arg).map_err(ToolError::Usage)?;
        self.no_more_args(&a.pos[1..])?;
        let endpoints: Vec<String> = match a.value("endpoints") {
            None | Some("") => vec![String::new()],
            Some(e) => e.split(',').map(|s| s.trim().to_string()).collect(),
        };
        let verb = if open { "open" } else { "close" };
        if self.kubernetes && range.protocol != Protocol::Icmp && range.from != range.to {
            return Err(failed(
                "port ranges are not supported for k8s applications, please specify a single port",
            ));
        }
        for endpoint in endpoints {
            let p = OpenedPort {
                endpoint: endpoint.clone(),
                range,
            };
            if open {
                self.ports_close.retain(|x| *x != p);
                let pending = self.ports_open.iter().map(|x| (x, true));
                let committed = self.ports_committed.iter().map(|x| (x, false));
                let mut exists = false;
                for (other, is_pending) in pending.chain(committed) {
                    // Kubernetes units only check for the very same range (`appPortRanges`).
                    if self.kubernetes && !is_pending && other.range != range {
                        continue;
                    }
                    if !range.conflicts_with(&other.range) {
                        continue;
                    }
                    if other.range == range {
                        if other.endpoint == endpoint {
                            exists = true;
                            break;
                        }
                        continue;
                    }
                    let earlier = if is_pending { " requested earlier" } else { "" };
                    return Err(failed(format!(
                        "cannot {verb} {range} (unit {:?}): port range conflicts with {} (unit {:?}){earlier}",
                        self.unit, other.range, self.unit
                    )));
                }
                if !exists {
                    self.ports_open.push(p);
                }
            } else {
                self.ports_open.retain(|x| *x != p);
                for other in &self.ports_close {
                    if range.conflicts_with(&other.range) && other.range != range {
                        return Err(failed(format!(
                            "cannot {verb} {range} (unit {:?}): port range conflicts with {} (unit {:?}) requested earlier",
                            self.unit, other.range, self.unit
                        )));
                    }
                }
                if self.ports_close.contains(&p) || self.ports_committed.is_empty() {
                    continue;
                }
                if self.ports_committed.contains(&p) {
                    self.ports_close.push(p);
                }
            }
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_like_juju() {
        let p = |s: &str| PortRange::parse(s).map(|r| r.to_string());
        assert_eq!(p("8080/tcp").unwrap(), "8080/tcp");
        assert_eq!(p("80").unwrap(), "80/tcp");
        assert_eq!(p("1000-2000/UDP").unwrap(), "1000-2000/udp");
        assert_eq!(p("icmp").unwrap(), "icmp");
        assert_eq!(
            p("abc").unwrap_err(),
            "invalid port \"abc\": strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(p("90-80/tcp").unwrap_err(), "invalid port range 90-80/tcp");
        assert_eq!(
            p("70000").unwrap_err(),
            "port range bounds must be between 0 and 65535, got 70000-70000"
        );
        assert_eq!(
            p("80/sctp").unwrap_err(),
            "invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\""
        );
        assert_eq!(
            p("80/icmp").unwrap_err(),
            "protocol \"icmp\" doesn't support any ports; got \"80\""
        );
        assert_eq!(p("1-2-3").unwrap_err(), "invalid port range \"1-2-3\"");
    }

    #[test]
    fn go_sort_order() {
        let mut v: Vec<PortRange> = ["80/udp", "icmp", "443/tcp", "80/tcp"]
            .iter()
            .map(|s| PortRange::parse(s).unwrap())
            .collect();
        v.sort();
        let s: Vec<String> = v.iter().map(|r| r.to_string()).collect();
        assert_eq!(s, ["icmp", "80/tcp", "443/tcp", "80/udp"]);
    }
}
