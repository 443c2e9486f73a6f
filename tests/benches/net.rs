//! Network throughput between two Linux partitions on one of hv-static's virtual switches, beside the native
//! baseline, in one run: the same Debian kernel and initramfs move `MIB` MiB over TCP with busybox `nc` (sender
//! `dd if=/dev/zero | nc`, receiver `nc -l > /dev/null`), once as two partitions of hv-static (configs/qemu-*-net.toml,
//! one pinned CPU each) and once as two QEMU instances of one CPU each, joined by QEMU's own virtio-net devices
//! over a socket netdev: the same two emulated CPUs, no hypervisor. Wall time on the host from the sender's command
//! to the receiver's completion marker.
//!
//! `cargo bench -p hv-tests --bench net` prints MB/s and the ratio hv-static / native. Run it on an otherwise idle
//! machine: QEMU's TCG speed is the host's.

use std::time::{Duration, Instant};

use hv_tests::{all_of, config, Session};

const MIB: u64 = 32;
const T: Duration = Duration::from_secs(300);

/// Where the two guests' shells are: both on hv-static's one console (input switched with Ctrl-] N), or two
/// QEMU instances with a console each.
enum Consoles<'a> {
    Hv(&'a mut Session),
    Native { rx: &'a mut Session, tx: &'a mut Session },
}

/// Moves `MIB` MiB from the sender to the receiver (10.0.0.2); returns MB/s.
fn transfer(c: Consoles<'_>) -> f64 {
    let listen = b"\rnc -l -p 5001 > /dev/null && echo got-$((1+1))\r";
    let send = format!("\rdd if=/dev/zero bs=64k count={} 2>/dev/null | nc 10.0.0.2 5001\r", MIB * 16);
    let (rx, marker, t0) = match c {
        Consoles::Hv(s) => {
            s.send(b"\x1d1");
            s.send(listen);
            std::thread::sleep(Duration::from_secs(1));
            s.send(b"\x1d0");
            s.send(send.as_bytes());
            (s, r"\[linux1\] got-2", Instant::now())
        }
        Consoles::Native { rx, tx } => {
            rx.send(listen);
            std::thread::sleep(Duration::from_secs(1));
            tx.send(send.as_bytes());
            (rx, "got-2", Instant::now())
        }
    };
    rx.wait_for(marker, T);
    (MIB << 20) as f64 / 1e6 / t0.elapsed().as_secs_f64()
}

/// One emulated board with the Debian kernel and initramfs, as QEMU runs it without hv-static.
struct Native {
    qemu: &'static str,
    machine: &'static str,
    cpu: &'static str,
    kernel: String,
    initrd: String,
}

impl Native {
    /// Boots one guest at `ip` with QEMU's virtio-net device (`mac`) on `netdev`.
    fn boot(&self, ip: &str, mac: &str, netdev: &str) -> Session {
        let args = format!("console=ttyAMA0 hvname=linux hvmodprobe=virtio_mmio,virtio_net hvip={ip}");
        let device = format!("virtio-net-device,netdev=n0,mac={mac}");
        let cmd = [
            self.qemu,
            "-M",
            self.machine,
            "-cpu",
            self.cpu,
            "-smp",
            "1",
            "-m",
            "160M",
            "-nographic",
            "-kernel",
            &self.kernel,
            "-initrd",
            &self.initrd,
            "-append",
            &args,
            "-global",
            "virtio-mmio.force-legacy=false",
            "-netdev",
            netdev,
            "-device",
            &device,
        ];
        Session::spawn(cmd.iter().map(|s| s.to_string()).collect())
    }
}

fn main() {
    let root = image_builder::workspace_root();
    println!(
        "virtio-net, {MIB} MiB over TCP between two Linux guests through busybox nc (MB/s, wall time on the host)"
    );
    println!("{:<8} {:>12} {:>12} {:>8}", "arch", "hv-static", "native", "ratio");
    for (arch, cfg, qemu, machine, cpu, kernel) in [
        ("arm64", "qemu-aarch64-net.toml", "qemu-system-aarch64", "virt,gic-version=3", "cortex-a57", "Image"),
        ("armhf", "qemu-a15-net.toml", "qemu-system-arm", "virt,gic-version=2", "cortex-a15", "zImage"),
    ] {
        // Debian's kernel for this architecture and QEMU, fetched or installed on first use.
        hv_tests::require_system(if arch == "arm64" { "qemu-aarch64-linux.toml" } else { "qemu-a15-linux.toml" });
        let mut hv = Session::start(&config(cfg));
        // Either may be ready first, and the session's cursor only moves forward: wait for both at once.
        hv.wait_for(&all_of(&[r"\[linux0\] LINUX-READY", r"\[linux1\] LINUX-READY"]), T);
        let hv_rate = transfer(Consoles::Hv(&mut hv));
        drop(hv);

        let cache = root.join("tests/fixtures/cache").join(arch);
        let board = Native {
            qemu,
            machine,
            cpu,
            kernel: cache.join(kernel).display().to_string(),
            initrd: cache.join("initramfs.cpio.gz").display().to_string(),
        };
        let port = 20_000 + std::process::id() % 10_000;
        let mut rx = board.boot("10.0.0.2/24", "52:54:00:00:00:02", &format!("socket,id=n0,listen=127.0.0.1:{port}"));
        std::thread::sleep(Duration::from_millis(500));
        let mut tx = board.boot("10.0.0.1/24", "52:54:00:00:00:01", &format!("socket,id=n0,connect=127.0.0.1:{port}"));
        rx.wait_for("LINUX-READY", T);
        tx.wait_for("LINUX-READY", T);
        let native_rate = transfer(Consoles::Native { rx: &mut rx, tx: &mut tx });
        println!("{arch:<8} {hv_rate:>12.1} {native_rate:>12.1} {:>8.2}", hv_rate / native_rate);
    }
}
