//! Checks of a switch's uplink: the board's own network device (QEMU's virtio-net on `-netdev user`) as one more
//! switch port, so partitions reach the outside.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::checks::require_linux_fixtures;
use crate::{boot_until, config, lines_of, require_system, serial, Session};

/// QEMU user-mode network's gateway, which answers ARP and forwards TCP to the host's loopback.
const GATEWAY_MAC: &str = "52:55:0a:00:02:02";

/// Bare-metal `netprobe`s on a switch with an uplink (configs/qemu-*-uplink.toml): `probe` ARPs for QEMU's
/// user-mode gateway and gets the reply from outside; `watch`, on the same switch, sees the broadcast request (a
/// partition port still reaches the others) but not the unicast reply, which the switch sends to `probe`'s port
/// only (learned from the request); hv-static says which device it drives and which CPU takes its interrupt.
pub fn bare_metal_arp(config_name: &str) {
    let until = r"\[probe\] netprobe: done[\s\S]*\[watch\] netprobe: watch saw [1-9]\d* broadcast, \d+ unicast\r?\n";
    let out = boot_until(config_name, until, Duration::from_secs(120));
    let hv = lines_of(&out, "hv");
    let found = hv.iter().find(|l| l.starts_with("uplink: virtio-net at 0xa00")).unwrap_or_else(|| panic!("{hv:?}"));
    assert!(found.contains("(legacy)") && found.contains("is taken on CPU 0, of 'probe'"), "{found}");
    let probe = lines_of(&out, "probe");
    let reply = format!("netprobe: uplink arp reply from {GATEWAY_MAC}");
    assert!(probe.contains(&reply.as_str()), "probe: {probe:?}");
    let watch = lines_of(&out, "watch");
    let last = watch.iter().rev().find(|l| l.starts_with("netprobe: watch saw")).expect("a watch report");
    assert!(
        last.ends_with(" 0 unicast"),
        "the reply from outside reached a port that does not own its address: {last}"
    );
    for bad in ["needs reset", " fault", "uplink: no virtio-net", "dropped"] {
        assert!(!out.output.contains(bad), "{bad}:\n{}", out.output);
    }
}

/// A stock Linux partition behind the uplink opens a TCP connection to the host: the test listens on the host's
/// loopback, the guest runs busybox `nc` to 10.0.2.2 (QEMU's user-mode network maps it to 127.0.0.1), and the
/// token it sends arrives on the host side.
pub fn linux_reaches_the_host(config_name: &str, arch: &str) {
    const BOOT: Duration = Duration::from_secs(180);
    const T: Duration = Duration::from_secs(60);
    require_linux_fixtures(arch);
    require_system(config_name);
    let _one = serial();
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port on the host's loopback");
    let port = listener.local_addr().expect("bound").port();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let token = format!("hv-uplink-{}-{nanos:x}", std::process::id());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        if let Ok((stream, from)) = listener.accept() {
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
            let _ = tx.send((line.trim_end().to_owned(), from));
        }
    });
    let mut s = Session::start(&config(config_name));
    s.wait_for(r"\[linux\] LINUX-READY linux", BOOT);
    // The shell's prompt comes after the marker; give it a moment, then type.
    thread::sleep(Duration::from_millis(500));
    s.send(format!("\recho {token} | nc -w 5 10.0.2.2 {port}; echo nc-done-$((40+2))\r").as_bytes());
    s.wait_for(r"\[linux\] nc-done-42", T);
    let (got, from) = rx.recv_timeout(T).unwrap_or_else(|_| panic!("nothing reached the host:\n{}", s.output()));
    assert_eq!(got, token, "from {from}");
    assert!(from.ip().is_loopback(), "{from}");
    let out = s.output();
    for bad in ["WARNING", "BUG", "needs reset", "vcpu 0 fault", "uplink: no virtio-net"] {
        assert!(!out.contains(bad), "{bad}:\n{out}");
    }
}
