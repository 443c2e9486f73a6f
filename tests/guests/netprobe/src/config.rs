//! The probe's parameters, from the bootargs. A malformed value is an error rather than a fallback to the default,
//! so that a typo in a test's config shows instead of running another test.

use core::fmt;

use guest_rt::bootargs;

use crate::frame::Mac;

/// Frames `ping` sends when the bootargs do not say.
pub const DEFAULT_FRAMES: u32 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Find the peer with a broadcast hello, send it numbered frames and check their echoes.
    Ping,
    /// Echo every probe frame addressed to us and answer hellos, forever.
    Pong,
    /// Count the frames that reach us, forever.
    Watch,
    /// Ask QEMU's user-mode network (10.0.2.2) for its MAC with ARP.
    Uplink,
    /// Send full-size broadcast frames as fast as the device takes them, forever: load for the others.
    Flood,
}

impl Role {
    const NAMES: [(&'static str, Role); 5] = [
        ("ping", Role::Ping),
        ("pong", Role::Pong),
        ("watch", Role::Watch),
        ("uplink", Role::Uplink),
        ("flood", Role::Flood),
    ];

    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, r)| *r == self).map_or("?", |(n, _)| n)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub role: Role,
    /// `ping`: frames to send, at least 1.
    pub frames: u32,
    /// `ping`: the peer's MAC, skipping the hello.
    pub peer: Option<Mac>,
}

/// A bootarg netprobe cannot use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadArg<'a> {
    pub key: &'static str,
    /// `None` when the key is missing.
    pub value: Option<&'a str>,
    pub expected: &'static str,
}

impl fmt::Display for BadArg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Some(value) => write!(f, "{}={value:?}, expected {}", self.key, self.expected),
            None => write!(f, "no {}=, expected {}", self.key, self.expected),
        }
    }
}

impl Config {
    /// Reads `role` (required), `frames` and `peer` from `cmdline`.
    pub fn parse(cmdline: &str) -> Result<Self, BadArg<'_>> {
        let expected = "ping, pong, watch or uplink";
        let role = match bootargs::get(cmdline, "role") {
            None => return Err(BadArg { key: "role", value: None, expected }),
            Some(value) => Role::NAMES.iter().find(|(n, _)| *n == value).map(|&(_, r)| r).ok_or(BadArg {
                key: "role",
                value: Some(value),
                expected,
            })?,
        };
        let frames = match bootargs::get(cmdline, "frames") {
            None => DEFAULT_FRAMES,
            Some(value) => value.parse().ok().filter(|&n| n > 0).ok_or(BadArg {
                key: "frames",
                value: Some(value),
                expected: "a positive number below 2^32",
            })?,
        };
        let peer = match bootargs::get(cmdline, "peer") {
            None => None,
            Some(value) => Some(Mac::parse(value).filter(|m| !m.is_group()).ok_or(BadArg {
                key: "peer",
                value: Some(value),
                expected: "a unicast MAC such as 52:54:00:12:34:56",
            })?),
        };
        Ok(Self { role, frames, peer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        assert_eq!(
            Config::parse("console=ttyAMA0 role=pong"),
            Ok(Config { role: Role::Pong, frames: DEFAULT_FRAMES, peer: None })
        );
    }

    #[test]
    fn reads_every_key() {
        let c = Config::parse("role=ping frames=7 peer=52:54:00:00:00:02 done=off").unwrap();
        assert_eq!(c, Config { role: Role::Ping, frames: 7, peer: Some(Mac([0x52, 0x54, 0, 0, 0, 2])) });
        for (name, role) in Role::NAMES {
            assert_eq!(Config::parse(&format!("role={name}")).unwrap().role, role);
            assert_eq!(role.to_string(), name, "roles print as their bootarg");
        }
    }

    #[test]
    fn malformed_values_are_errors() {
        let err = |cmdline| Config::parse(cmdline).unwrap_err();
        assert_eq!(err("").key, "role", "the role is required");
        assert_eq!(err("role=pingg").key, "role");
        assert_eq!(err("role").key, "role");
        assert_eq!(err("role=ping frames=0").key, "frames");
        assert_eq!(err("role=ping frames=-1").key, "frames");
        assert_eq!(err("role=ping frames=4294967296").key, "frames");
        assert_eq!(err("role=ping peer=52:54:00:00:00").key, "peer");
        assert_eq!(err("role=ping peer=ff:ff:ff:ff:ff:ff").key, "peer", "not unicast");
        assert_eq!(err("role=ping peer=01:00:5e:00:00:01").key, "peer", "not unicast");
        assert_eq!(err("role=pnog").to_string(), "role=\"pnog\", expected ping, pong, watch or uplink");
        assert_eq!(err("").to_string(), "no role=, expected ping, pong, watch or uplink");
    }
}
