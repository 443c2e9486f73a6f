//! The probe's parameters, from the bootargs: a malformed value is an error, not a silent default.

use core::fmt;

use guest_rt::bootargs;

/// Rounds when the bootargs do not say.
pub const DEFAULT_ROUNDS: u32 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends numbered messages on its channel, rings, waits for each answer.
    Ping,
    /// Waits for each message, checks it, answers on its own channel, rings back.
    Pong,
    /// Reads a read-only channel, rings it, then writes it: hv-static must stop the partition there.
    RoWrite,
    /// Echoes numbered messages back over a message ring on its first read-write channel (docs/channel-ring.md,
    /// the echo protocol of `pv_drivers::ring::echo`): the far side of `hvchan ping` in a Linux partition.
    Echo,
}

impl Role {
    const NAMES: [(&'static str, Role); 4] =
        [("ping", Role::Ping), ("pong", Role::Pong), ("rowrite", Role::RoWrite), ("echo", Role::Echo)];
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES.iter().find(|(_, r)| r == self).map_or("?", |(n, _)| n))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config<'a> {
    pub role: Role,
    pub rounds: u32,
    /// Label of the channel this side writes (`tx=`); default: its first read-write channel.
    pub tx: Option<&'a str>,
    /// Label of the channel it reads (`rx=`); default: its first channel other than `tx`.
    pub rx: Option<&'a str>,
}

impl<'a> Config<'a> {
    pub fn parse(cmdline: &'a str) -> Result<Self, &'a str> {
        let role = match bootargs::get(cmdline, "role") {
            None => return Err("role= is missing (ping, pong or rowrite)"),
            Some(v) => Role::NAMES
                .iter()
                .find(|(n, _)| *n == v)
                .map(|&(_, r)| r)
                .ok_or("role= is not ping, pong or rowrite")?,
        };
        let rounds = match bootargs::parse::<u32>(cmdline, "rounds") {
            None => DEFAULT_ROUNDS,
            Some(Ok(n)) if n > 0 => n,
            Some(_) => return Err("rounds= is not a positive number"),
        };
        Ok(Self { role, rounds, tx: bootargs::get(cmdline, "tx"), rx: bootargs::get(cmdline, "rx") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_role_rounds_and_labels() {
        assert_eq!(
            Config::parse("role=pong rounds=7 tx=b rx=a"),
            Ok(Config { role: Role::Pong, rounds: 7, tx: Some("b"), rx: Some("a") })
        );
        let c = Config::parse("role=ping").unwrap();
        assert_eq!((c.role, c.rounds, c.tx, c.rx), (Role::Ping, DEFAULT_ROUNDS, None, None));
        assert_eq!(Config::parse("role=rowrite").unwrap().role.to_string(), "rowrite");
        assert!(Config::parse("rounds=3").is_err());
        assert!(Config::parse("role=pang").is_err());
        assert!(Config::parse("role=ping rounds=0").is_err());
        assert!(Config::parse("role=ping rounds=x").is_err());
    }
}
