//! Checks of hv-static's virtual switches: bare-metal frame exchange and two Linux partitions talking over one
//! switch.

use std::time::Duration;

use crate::checks::require_linux_fixtures;
use crate::{all_of, boot_until, config, lines_of, require_system, serial, Session};

/// Bare-metal `netprobe`s on one switch (configs/qemu-*-netprobe.toml): `ping` finds `pong` by a broadcast hello
/// and gets all 300 numbered frames (60 to 1514 bytes) echoed byte-exact, while `pong` shares its CPU with `watch`
/// in a cyclic pool (frames wait for its window); `watch` sees the broadcasts but, the switch having learned both
/// addresses from them, none of the unicast frames.
pub fn bare_metal_frames(config_name: &str) {
    // A `watch` report printed after ping finished counts everything ping sent.
    let until = r"\[ping\] netprobe: done[\s\S]*\[watch\] netprobe: watch saw \d+ broadcast, \d+ unicast\r?\n";
    let out = boot_until(config_name, until, Duration::from_secs(120));
    let ping = lines_of(&out, "ping");
    assert!(ping.contains(&"netprobe: ping 300/300 echoed, 0 mismatches, 236957 bytes"), "ping: {ping:?}");
    assert!(!ping.iter().any(|l| l.contains("timed out") || l.contains("lost")), "ping: {ping:?}");
    let pong = lines_of(&out, "pong");
    assert!(pong.iter().any(|l| l.starts_with("netprobe: pong hello from")), "pong: {pong:?}");
    let watch = lines_of(&out, "watch");
    let last = watch.iter().rev().find(|l| l.starts_with("netprobe: watch saw")).expect("a watch report");
    let counts: Vec<u64> = last.split_whitespace().filter_map(|w| w.trim_end_matches(',').parse().ok()).collect();
    assert_eq!(counts.len(), 2, "{last}");
    assert!(counts[0] >= 1, "watch saw no broadcast hello: {last}");
    assert_eq!(counts[1], 0, "the switch flooded unicast frames to a port that does not own the address: {last}");
    assert!(!out.output.contains("needs reset") && !out.output.contains(" fault"), "{}", out.output);
}

/// Two stock Linux partitions on one switch: `ping` both ways at the addresses their command lines give, then a
/// byte-exact transfer of 4 MiB of random data with busybox `nc` (sha256 on both sides).
pub fn linux_network(config_name: &str, arch: &str) {
    const BOOT: Duration = Duration::from_secs(180);
    const T: Duration = Duration::from_secs(60);
    require_linux_fixtures(arch);
    require_system(config_name);
    let _one = serial();
    let mut s = Session::start(&config(config_name));
    s.wait_for(&all_of(&[r"\[linux0\] LINUX-READY linux0", r"\[linux1\] LINUX-READY linux1"]), BOOT);
    for (i, (name, peer)) in [("linux0", "10.0.0.2"), ("linux1", "10.0.0.1")].iter().enumerate() {
        s.send(format!("\x1d{i}").as_bytes());
        s.wait_for(&format!(r"\[hv\] console input -> '{name}'"), T);
        s.send(format!("\rping -c 3 {peer}\r").as_bytes());
        s.wait_for(&format!(r"\[{name}\] 3 packets transmitted, 3 packets received, 0% packet loss"), T);
    }
    // linux1 listens (its shell prints the hash once the sender closes), linux0 sends.
    s.send(b"nc -l -p 5000 > /tmp/rx; sha256sum /tmp/rx\r");
    s.send(b"\x1d0");
    s.wait_for(r"\[hv\] console input -> 'linux0'", T);
    s.send(b"dd if=/dev/urandom of=/tmp/tx bs=64k count=64 2>/dev/null; sha256sum /tmp/tx; nc -w 5 10.0.0.2 5000 < /tmp/tx; echo sent-$((40+2))\r");
    let sent = s.wait_for(r"\[linux0\] [0-9a-f]{64}  /tmp/tx", T);
    let hash = sent.split_whitespace().nth(1).expect("a hash").to_owned();
    s.wait_for(r"\[linux0\] sent-42", T);
    s.wait_for(&format!(r"\[linux1\] {hash}  /tmp/rx"), T);
    let out = s.output();
    for bad in ["WARNING", "BUG", "needs reset", "vcpu 0 fault"] {
        assert!(!out.contains(bad), "{bad}:\n{out}");
    }
}
