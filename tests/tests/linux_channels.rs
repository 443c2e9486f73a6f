//! Channels between Debian's stock kernels (arm64, and armmp-lpae on ARMv7) and a bare-metal partition (issue 19): Linux reaches the channel
//! with drivers it already builds in (the memory as an `mmio-sram` file, the doorbells as lines of hv-static's
//! emulated PL061, docs/guest-abi.md 1.5), `hvchan` (pv-drivers/hvchan, in the fixture initramfs) pings numbered,
//! checksummed messages over the message ring (docs/channel-ring.md), and chanprobe (`role=echo`) checks and echoes
//! each: both sides must report the same summary checksum. Then the Linux partition writes a channel it maps
//! read-only, behind hvchan's back (which refuses to), and is stopped at that write while the other side goes on.

use std::time::Duration;

use hv_tests::{all_of, boot_until, lines_of};

#[test]
fn aarch64_linux_and_a_bare_metal_partition_ping_pong_over_a_channel() {
    ping_pong("qemu-aarch64-linux-channel.toml");
}

#[test]
fn armv7_linux_and_a_bare_metal_partition_ping_pong_over_a_channel() {
    ping_pong("qemu-a15-linux-channel.toml");
}

fn ping_pong(config: &str) {
    let until = all_of(&[r"\[echo\] chanprobe: done", r"\[hv\] partition 'linux' stopped"]);
    let out = boot_until(config, &until, Duration::from_secs(240));
    let console = &out.output;
    let linux = lines_of(&out, "linux");
    let echo = lines_of(&out, "echo");

    // Linux found both channels through the device tree, with their access, member, sram file and GPIO lines.
    let listed = |label: &str| linux.iter().find(|l| l.starts_with(&format!("hvchan: channel {label} "))).copied();
    let link = listed("link").unwrap_or_else(|| panic!("hvchan list shows no `link`:\n{console}"));
    assert!(link.contains("access=rw member=0 size=0x10000 at=0x10000000"), "{link}");
    assert!(link.contains("doorbell=gpiochip0:0 ring=gpiochip0:1"), "{link}");
    let status = listed("status").unwrap_or_else(|| panic!("hvchan list shows no `status`:\n{console}"));
    assert!(status.contains("access=r member=1 size=0x1000 at=0x10010000 doorbell=gpiochip0:2"), "{status}");

    // 200 messages each way, each checked on both sides; the same checksum over all of them on both sides.
    let theirs = echo
        .iter()
        .find_map(|l| l.strip_prefix("CHAN-OK rounds=200 checksum="))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("the echo side did not finish:\n{console}"));
    let ours = linux
        .iter()
        .find_map(|l| l.strip_prefix("hvchan: ping 200 ok, checksum "))
        .unwrap_or_else(|| panic!("hvchan ping did not finish:\n{console}"));
    assert_eq!(ours, theirs, "the two sides saw different messages");
    assert!(!console.contains("CHAN-FAIL"), "{console}");

    // A read-only member: hvchan refuses to write; a write through the sram file anyway is a stage-2 fault, and
    // the partition's fault policy stops it, alone.
    assert!(linux.contains(&"hvchan: channel `status` is mapped read-only here: writing it would stop the partition"));
    let hv = lines_of(&out, "hv");
    assert!(
        hv.iter().any(|l| l.starts_with(
            "partition 'linux' vcpu 0 fault: data abort (write) at IPA 0x10010000: \
                                         channel 'status' is read-only in this partition"
        )),
        "{hv:#?}"
    );
    let stop = console.find("[hv] partition 'linux' stopped").unwrap_or(0);
    assert!(!console[stop..].contains("\n[linux] "), "linux ran after its stop:\n{}", &console[stop..]);
    let touched = |l: &&str| l.starts_with("partition 'echo'") && (l.contains("fault") || l.contains("stopped"));
    assert!(!hv.iter().any(touched), "the other side was touched: {hv:#?}");
}
