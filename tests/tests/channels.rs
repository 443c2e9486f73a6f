//! Shared-memory channels served by hv-static: bare-metal guests (tests/guests/chanprobe) play ping-pong through
//! two channels, ringing each other's doorbells with `HV_CHANNEL_SIGNAL`, one of them in a cyclic pool that
//! deschedules it half the time; a third partition writes a channel it maps read-only and is stopped there alone.
//! Both architectures.

use std::time::Duration;

use hv_tests::{all_of, boot_until, lines_of};

const ROUNDS: u32 = 100;

/// `ticks min <a> avg <b> max <c>` from ping's summary line.
fn round_trip(line: &str) -> (u64, u64, u64) {
    let num = |key: &str| -> u64 {
        let rest = line.split(&format!(" {key} ")).nth(1).unwrap_or_else(|| panic!("no {key} in {line:?}"));
        rest.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{key} in {line:?}"))
    };
    (num("min"), num("avg"), num("max"))
}

fn ping_pong_and_a_read_only_write(config: &str) {
    let until =
        all_of(&[r"\[ping\] chanprobe: done", r"\[pong\] chanprobe: done", r"\[hv\] partition 'reader' stopped"]);
    let out = boot_until(config, &until, Duration::from_secs(90));
    let console = &out.output;

    // Both sides of the game see the channels the device tree describes, with the right access.
    let ping = lines_of(&out, "ping");
    let pong = lines_of(&out, "pong");
    for (who, lines, ping_access, pong_access) in [("ping", &ping, "rw", "r"), ("pong", &pong, "r", "rw")] {
        for want in [
            format!("chanprobe: partition {who}, role {who}, 2 channel(s)"),
            format!("chan: channel 0 `ping` at 0x10000000 size 0x10000 {ping_access} doorbell 48"),
            format!("chan: channel 1 `pong` at 0x10010000 size 0x1000 {pong_access} doorbell 49"),
        ] {
            assert!(lines.contains(&want.as_str()), "{who}: missing {want:?} in {lines:?}");
        }
        // All rounds went through, each message and answer checked word by word, and the guest (which has no
        // timer running) was woken by doorbells.
        let ok = lines.iter().find_map(|l| l.strip_prefix(&format!("CHAN-OK rounds={ROUNDS} doorbells=")));
        let doorbells: u32 = ok.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{who}: no CHAN-OK:\n{console}"));
        assert!(doorbells > 0, "{who}: {doorbells} doorbells");
    }
    assert!(!console.contains("CHAN-FAIL"), "{console}");
    let summary = ping.iter().find(|l| l.starts_with("chan: round trip ticks")).expect("ping's round-trip line");
    let (min, avg, max) = round_trip(summary);
    assert!(0 < min && min <= avg && avg <= max, "{summary}");
    eprintln!("{config}: {summary}");

    // The reader reads the channel and may ring it, a ring past its channels is refused, and its write stops it.
    let reader = lines_of(&out, "reader");
    for want in [
        "chan: channel 0 `ping` at 0x10000000 size 0x10000 r doorbell 48",
        "rowrite: rang channel ping: ok",
        "rowrite: ring of channel 1 refused: INVALID_PARAMETERS (-2)",
        "rowrite: writing channel ping at 0x10000000",
    ] {
        assert!(reader.contains(&want), "reader: missing {want:?} in {reader:?}");
    }
    assert_eq!(reader.last(), Some(&"rowrite: writing channel ping at 0x10000000"), "nothing after the write");
    assert!(!console.contains("ESCAPED"), "{console}");
    let hv = lines_of(&out, "hv");
    let fault = hv.iter().filter(|l| l.contains(" fault: ")).copied().collect::<Vec<_>>();
    assert_eq!(fault.len(), 1, "only the reader faults: {fault:?}");
    assert!(
        fault[0].starts_with(
            "partition 'reader' vcpu 0 fault: data abort (write) at IPA 0x10000004: channel 'ping' is read-only in \
             this partition (PC 0x"
        ),
        "{}",
        fault[0]
    );
    assert!(hv.contains(&"partition 'reader' stopped (on_fault = \"stop\"); other partitions continue"), "{hv:?}");
}

#[test]
fn guests_ring_each_other_through_channels_and_a_read_only_member_cannot_write() {
    ping_pong_and_a_read_only_write("qemu-aarch64-channel.toml");
}

#[test]
fn a15_guests_ring_each_other_through_channels_and_a_read_only_member_cannot_write() {
    ping_pong_and_a_read_only_write("qemu-a15-channel.toml");
}
