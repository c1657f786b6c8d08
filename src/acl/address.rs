//! White-list address patterns (`RemoteAddressStrategyFactory` and the
//! address helpers of `AclUtils`), ported rule for rule: `*`, `192.168.1.*`,
//! ranges `192.168.1.1-100`, lists `192.168.1.{1,2}` or `a,b`, one address,
//! and their IPv6 forms. Quirks of the Java matcher are kept (a range checks
//! only its first ranged segment) because users' files were written for it;
//! patterns that would make the Java broker fail at match time are refused
//! when the file is read instead.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::error::{AclError, AclResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPattern {
    /// Blank: matches nothing.
    Blank,
    /// `*`, `*.*.*.*`, `*:*:*:*:*:*:*:*`: matches everything.
    Any,
    /// A list; IPv6 entries expanded.
    Multiple(HashSet<String>),
    /// One address, expanded.
    One(String),
    /// One ranged segment after a fixed head.
    Range { head: String, start: u32, end: u32, index: usize, v6: bool },
}

/// How the Java broker writes a peer's address (`parseChannelRemoteAddr`
/// without the port): IPv6 in full, unabbreviated form.
pub fn remote_host(addr: &SocketAddr) -> String {
    match addr.ip().to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6.segments().iter().map(|s| format!("{s:x}")).collect::<Vec<_>>().join(":"),
    }
}

/// `StringUtils.split`: the non-empty pieces.
fn split(s: &str, sep: char) -> Vec<&str> {
    s.split(sep).filter(|p| !p.is_empty()).collect()
}

fn bad(what: &str, addr: &str) -> AclError {
    AclError::Config(format!("{what} netaddress examine scope Exception netaddress is {addr}"))
}

/// commons-validator `isValidInet4Address`: four decimal parts, each at
/// most 255, no leading zeros.
pub fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            (1..=3).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| n <= 255)
                && !(p.len() > 1 && p.starts_with('0'))
        })
}

pub fn is_ipv6(s: &str) -> bool {
    s.parse::<Ipv6Addr>().is_ok()
}

/// `AclUtils.expandIP`: `::` widened to `part` groups, groups padded to 4 hex
/// digits, upper case. IPv4 text passes through unchanged.
pub fn expand_ip(addr: &str, part: usize) -> String {
    let mut s = addr.to_uppercase();
    let separators = s.matches(':').count();
    if part > separators {
        let pad = ":".repeat(part - separators + 1);
        s = s.replace("::", &pad);
    }
    s.split(':').map(|g| format!("{g:0>4}")).collect::<Vec<_>>().join(":")
}

fn parse_num(s: &str, radix: u32, addr: &str) -> AclResult<u32> {
    u32::from_str_radix(s.trim(), radix).map_err(|_| bad("Netaddress", addr))
}

impl AddressPattern {
    /// `RemoteAddressStrategyFactory.getRemoteAddressStrategy`.
    pub fn parse(pattern: Option<&str>) -> AclResult<Self> {
        let Some(p) = pattern.filter(|p| !p.trim().is_empty()) else { return Ok(AddressPattern::Blank) };
        if matches!(p, "*" | "*.*.*.*" | "*:*:*:*:*:*:*:*") {
            return Ok(AddressPattern::Any);
        }
        if p.ends_with('}') {
            let parts = if p.contains(':') { split(p, ':') } else { split(p, '.') };
            if !p.contains(':') && parts.len() < 4 {
                return Err(AclError::Config(format!(
                    "MultipleRemoteAddressStrategy has got a/some wrong format IP(s) {p}"
                )));
            }
            let last = parts.last().copied().unwrap_or("");
            if !last.starts_with('{') {
                return Err(bad("MultipleRemoteAddressStrategy", p));
            }
            let prefix = &p[..p.find('{').unwrap_or(0)];
            let inner = &last[1..last.len().saturating_sub(1).max(1)];
            let list: Vec<String> = split(inner, ',').into_iter().map(|x| format!("{prefix}{x}")).collect();
            return Self::multiple(list.iter().map(String::as_str));
        }
        if p.contains(',') {
            return Self::multiple(split(p, ',').into_iter());
        }
        if p.contains('*') || p.contains('-') {
            return Self::range(p);
        }
        if is_ipv4(p) || is_ipv6(p) {
            return Ok(AddressPattern::One(expand_ip(p, 8)));
        }
        Err(AclError::Config(format!("Netaddress examine Exception netaddress is {p}")))
    }

    fn multiple<'a>(list: impl Iterator<Item = &'a str>) -> AclResult<Self> {
        let mut set = HashSet::new();
        for a in list {
            if is_ipv4(a) {
                set.insert(a.to_string());
            } else if is_ipv6(a) {
                set.insert(expand_ip(a, 8));
            } else {
                return Err(AclError::Config(format!("Netaddress examine Exception netaddress is {a}")));
            }
        }
        Ok(AddressPattern::Multiple(set))
    }

    /// `RangeRemoteAddressStrategy`: the first segment (from the second on)
    /// that is `*` or `a-b` is the range; the segments before it the head.
    fn range(p: &str) -> AclResult<Self> {
        let v6 = p.contains(':');
        let (radix, max) = if v6 { (16, 0xffff) } else { (10, 255) };
        if v6 {
            ipv6_check(p)?;
        }
        let parts = if v6 { split(p, ':') } else { split(p, '.') };
        let upto = if v6 { parts.len() } else { 4 };
        for index in 1..upto {
            let Some(value) = parts.get(index).map(|v| v.trim()) else {
                return Err(bad("RangeRemoteAddressStrategy", p));
            };
            let (start, end) = if value == "*" {
                (0, max)
            } else if value.contains('-') {
                if value.starts_with('-') {
                    return Err(bad("RangeRemoteAddressStrategy", p));
                }
                let se = split(value, '-');
                let (Some(s), Some(e)) = (se.first(), se.get(1)) else {
                    return Err(bad("RangeRemoteAddressStrategy", p));
                };
                let (s, e) = (parse_num(s, radix, p)?, parse_num(e, radix, p)?);
                if !(s <= max && e <= max && s <= e) {
                    return Err(AclError::Config(format!(
                        "RangeRemoteAddressStrategy netaddress examine scope Exception start is {s} , end is {e}"
                    )));
                }
                (s, e)
            } else {
                continue;
            };
            if end == 0 {
                continue;
            }
            // AclUtils.verify: the segments before the range must be numbers in scope.
            verify_head(p, index - 1, v6)?;
            return Ok(if v6 {
                let head = v6_head(p);
                let index = split(&head, ':').len();
                AddressPattern::Range { head, start, end, index, v6 }
            } else {
                let head: String = parts[..index].iter().map(|s| format!("{}.", s.trim())).collect();
                AddressPattern::Range { head, start, end, index, v6 }
            });
        }
        // The Java broker accepts such a pattern and then fails every match.
        Err(bad("RangeRemoteAddressStrategy", p))
    }

    /// Whether a peer (written as [`remote_host`] writes it) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            AddressPattern::Blank => false,
            AddressPattern::Any => true,
            AddressPattern::Multiple(set) => {
                let h = if is_ipv6(host) { expand_ip(host, 8) } else { host.to_string() };
                set.contains(&h)
            }
            AddressPattern::One(a) => *a == expand_ip(host, 8),
            AddressPattern::Range { head, start, end, index, v6 } => {
                let value = if !v6 && is_ipv4(host) {
                    let Some(rest) = host.strip_prefix(head.as_str()) else { return false };
                    // The segment right after the head.
                    rest.split('.').next().unwrap_or("").parse::<u32>().ok()
                } else if *v6 && is_ipv6(host) {
                    let full = expand_ip(host, 8);
                    if !full.starts_with(head.as_str()) {
                        return false;
                    }
                    full.get(5 * index..5 * index + 4).and_then(|g| u32::from_str_radix(g, 16).ok())
                } else {
                    None
                };
                value.is_some_and(|v| v >= *start && v <= *end)
            }
        }
    }
}

/// `AclUtils.IPv6AddressCheck`: `*` only last; a range in the last group
/// (or the one before a final `*`).
fn ipv6_check(p: &str) -> AclResult<()> {
    let asterisk = p.find('*');
    let minus = p.find('-');
    if let Some(a) = asterisk {
        if a != p.len() - 1 {
            return Err(bad("Netaddress", p));
        }
    }
    if let Some(m) = minus {
        let last = p.rfind(':').unwrap_or(0);
        let limit = if asterisk.is_none() { Some(last) } else { p[..last].rfind(':') };
        if limit.is_some_and(|l| m <= l) {
            return Err(bad("Netaddress", p));
        }
    }
    Ok(())
}

/// `AclUtils.v6ipProcess`: the expanded address without its ranged groups.
fn v6_head(p: &str) -> String {
    let (star, minus) = (p.contains('*'), p.contains('-'));
    let last = p.rfind(':').unwrap_or(0);
    if star && minus {
        let second = p[..last].rfind(':').unwrap_or(0);
        expand_ip(&p[..second], 6)
    } else if !star && !minus {
        expand_ip(p, 8)
    } else {
        expand_ip(&p[..last], 7)
    }
}

/// `AclUtils.verify(addr, n)`: the first `n` segments are numbers in scope.
fn verify_head(p: &str, n: usize, v6: bool) -> AclResult<()> {
    let ok = if v6 {
        let full = expand_ip(p, 8);
        split(&full, ':').iter().take(n).all(|g| u32::from_str_radix(g, 16).is_ok_and(|v| v <= 0xffff))
    } else {
        let parts = split(p, '.');
        parts.len() == 4 && parts.iter().take(n).all(|g| g.trim().parse::<u32>().is_ok_and(|v| v <= 255))
    };
    if ok {
        Ok(())
    } else {
        Err(bad("Netaddress", p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, host: &str) -> bool {
        AddressPattern::parse(Some(pattern)).unwrap().matches(host)
    }

    #[test]
    fn ipv4_patterns_match_as_in_java() {
        assert!(m("*", "10.1.1.1"));
        assert!(m("192.168.1.*", "192.168.1.77"));
        assert!(!m("192.168.1.*", "192.168.2.77"));
        assert!(m("192.168.*.*", "192.168.9.1"));
        assert!(m("192.168.1.1-100", "192.168.1.100"));
        assert!(!m("192.168.1.1-100", "192.168.1.101"));
        assert!(m("192.168.1.{1,2,3}", "192.168.1.2"));
        assert!(!m("192.168.1.{1,2,3}", "192.168.1.4"));
        assert!(m("10.0.0.1,10.0.0.2", "10.0.0.2"));
        assert!(m("127.0.0.1", "127.0.0.1"));
        assert!(!m("127.0.0.1", "127.0.0.11"));
        // The Java matcher checks only the first ranged segment.
        assert!(m("10.1-5.7.*", "10.3.200.1"));
        assert!(!AddressPattern::parse(Some("")).unwrap().matches("1.1.1.1"));
        assert!(!AddressPattern::parse(None).unwrap().matches("1.1.1.1"));
    }

    #[test]
    fn ipv6_patterns_match_as_in_java() {
        assert!(m("::1", "0:0:0:0:0:0:0:1"));
        assert!(m("1050:0000:0000:0000:0005:0600:300c:326b", "1050:0:0:0:5:600:300c:326b"));
        assert!(m("1050::0005:0600:300c:1-200", "1050:0:0:0:5:600:300c:c8"));
        assert!(!m("1050::0005:0600:300c:1-200", "1050:0:0:0:5:600:300c:201"));
        assert!(m("1050::0005:0600:300c:*", "1050:0:0:0:5:600:300c:ffff"));
        assert!(m("1050::0005:0600:{300c,300d}", "1050:0:0:0:0:5:600:300d"));
        assert!(!m("1050::0005:0600:{300c,300d}", "1050:0:0:0:0:5:600:300e"));
        assert!(m("1050:0:0:0:5:600:300c:{1,2}", "1050:0:0:0:5:600:300c:2"));
    }

    #[test]
    fn bad_patterns_are_refused_not_panics() {
        for p in [
            "abc",
            "1.2.3",
            "1.2.3.256",
            "192.168.1.{1,x}",
            "1.2.{3}",
            "192.168.1.100-1",
            "192.168.1.-5",
            "1.2.3.5-",
            "x.2.3.*",
            "1.2.3.0-0",
            "::1:*:2",
            "1::2-3:4",
            "1.2.3.4, 1.2.3.5",
            "}",
            "{}",
            "-",
            "*.*",
            "1-2",
            "1.2.3.4-99999999999999999999",
        ] {
            assert!(AddressPattern::parse(Some(p)).is_err(), "{p} should be refused");
        }
    }

    #[test]
    fn peers_are_written_as_java_writes_them() {
        assert_eq!(remote_host(&"127.0.0.1:5".parse().unwrap()), "127.0.0.1");
        assert_eq!(remote_host(&"[::1]:5".parse().unwrap()), "0:0:0:0:0:0:0:1");
        assert_eq!(remote_host(&"[::ffff:10.0.0.1]:5".parse().unwrap()), "10.0.0.1");
        assert_eq!(expand_ip("::1", 8), "0000:0000:0000:0000:0000:0000:0000:0001");
    }
}
