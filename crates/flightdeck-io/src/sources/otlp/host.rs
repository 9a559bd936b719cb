//! The `Host` check on `/v1/changes`: a web page whose name an attacker re-points at this
//! machine (DNS rebinding) sends its own name as `Host`, so only the bound address and this
//! machine's names are taken.

use std::net::{IpAddr, SocketAddr};

/// The hosts a request may name: the bound address and this machine's names.
#[derive(Debug, Clone)]
pub struct Hosts {
    bound: SocketAddr,
    hostname: Option<String>,
}

impl Hosts {
    pub fn new(bound: SocketAddr, hostname: Option<String>) -> Self {
        Self {
            bound,
            hostname: hostname.map(|name| name.trim_end_matches('.').to_ascii_lowercase()),
        }
    }

    /// Whether a request with this `Host` value may be served; a request without one (HTTP/1.0,
    /// a script) is no browser's, so it is served too.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return true;
        };
        let name = without_port(host.trim());
        let bound = self.bound.ip();
        if let Ok(ip) = name.parse::<IpAddr>() {
            return bound.is_unspecified()
                || ip == bound
                || (ip.is_loopback() && bound.is_loopback());
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        (name == "localhost" && (bound.is_loopback() || bound.is_unspecified()))
            || self.hostname.as_deref() == Some(name.as_str())
    }

    /// The names accepted, for the refusal.
    pub fn described(&self) -> String {
        let mut names = vec![self.bound.ip().to_string()];
        if self.bound.ip().is_loopback() || self.bound.ip().is_unspecified() {
            names.push("localhost".into());
        }
        names.extend(self.hostname.clone());
        names.join(", ")
    }
}

/// `name`, `name:port`, `[v6]` or `[v6]:port` without the port and brackets.
fn without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host.rsplit_once(':') {
        // More than one colon is a bare IPv6 address, not a port.
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(bound: &str) -> Hosts {
        Hosts::new(bound.parse().unwrap(), Some("Build-Box".into()))
    }

    #[test]
    fn a_loopback_receiver_takes_loopback_names_and_no_others() {
        let hosts = hosts("127.0.0.1:4318");
        for host in [
            "127.0.0.1:4318",
            "localhost:4318",
            "LOCALHOST",
            "[::1]:4318",
            "build-box",
            "localhost.",
        ] {
            assert!(hosts.allows(Some(host)), "{host}");
        }
        for host in [
            "attacker.example:4318",
            "10.0.0.5",
            "localhost.attacker.example",
        ] {
            assert!(!hosts.allows(Some(host)), "{host}");
        }
        assert!(hosts.allows(None));
    }

    #[test]
    fn a_receiver_on_every_address_takes_any_address_but_only_its_names() {
        let hosts = hosts("0.0.0.0:4318");
        assert!(hosts.allows(Some("10.0.0.5:4318")));
        assert!(hosts.allows(Some("build-box:4318")));
        assert!(!hosts.allows(Some("rebound.example:4318")));
        let one = self::hosts("10.0.0.5:4318");
        assert!(one.allows(Some("10.0.0.5")));
        assert!(!one.allows(Some("localhost")));
        assert!(!one.allows(Some("10.0.0.6")));
    }

    #[test]
    fn ports_and_brackets_are_taken_off() {
        assert_eq!(without_port("example:80"), "example");
        assert_eq!(without_port("[::1]:80"), "::1");
        assert_eq!(without_port("::1"), "::1");
        assert_eq!(without_port("example"), "example");
    }
}
