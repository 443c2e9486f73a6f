//! Block throughput of hv-static's virtio-blk, beside the native baseline, in one run: the same Debian kernel and
//! initramfs write and then read 64 MiB through `/dev/vda` with busybox `dd`, once as a partition of hv-static
//! (a RAM-backed disk it serves) and once on QEMU alone with QEMU's own virtio-blk device over a RAM-backed file
//! (`/dev/shm`), on the same emulated board. Wall time is measured on the host from the command to its completion
//! marker, so both sides pay the same console latency (milliseconds against seconds of transfer).
//!
//! `cargo bench -p hv-tests --bench pv` prints MB/s per direction and the ratio hv-static / native. Run it on an
//! otherwise idle machine: QEMU's TCG speed is the host's.

use std::time::{Duration, Instant};

use hv_tests::Session;

const MIB: u64 = 64;
const T: Duration = Duration::from_secs(300);

/// Writes then reads `MIB` MiB on `/dev/vda` of the shell the session has focus on; returns (write, read) MB/s.
fn measure(s: &mut Session, name: &str) -> (f64, f64) {
    s.send(b"\r");
    let mut run = |cmd: &str, marker: &str| {
        s.send(format!("{cmd} && echo {marker}-$((1+1))\r").as_bytes());
        let t0 = Instant::now();
        s.wait_for(&format!(r"(\[{name}\] )?{marker}-2"), T);
        t0.elapsed().as_secs_f64()
    };
    let w = run(&format!("dd if=/dev/zero of=/dev/vda bs=1M count={MIB} conv=fsync 2>/dev/null"), "wrote");
    run("echo 3 > /proc/sys/vm/drop_caches", "dropped");
    let r = run(&format!("dd if=/dev/vda of=/dev/null bs=1M count={MIB} 2>/dev/null"), "read");
    let mb = (MIB << 20) as f64 / 1e6;
    (mb / w, mb / r)
}

fn main() {
    let root = image_builder::workspace_root();
    println!("virtio-blk, {MIB} MiB sequential through busybox dd (MB/s, wall time on the host)");
    println!(
        "{:<8} {:>12} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "arch", "hv write", "native write", "hv read", "native read", "write ratio", "read ratio"
    );
    for (arch, board, qemu, cpu, kernel) in [
        ("arm64", "qemu-virt-aarch64", "qemu-system-aarch64", "cortex-a57", "Image"),
        ("armhf", "qemu-virt-a15", "qemu-system-arm", "cortex-a15", "zImage"),
    ] {
        // Debian's kernel for this architecture and QEMU, fetched or installed on first use.
        hv_tests::require_system(if arch == "arm64" { "qemu-aarch64-linux.toml" } else { "qemu-a15-linux.toml" });
        let cache = root.join("tests/fixtures/cache").join(arch);
        let initrd = cache.join("initramfs.cpio.gz");
        let dir = root.join("out/bench");
        std::fs::create_dir_all(&dir).unwrap();
        let args = "console=ttyAMA0 hvname=linux hvmodprobe=virtio_mmio,virtio_blk";
        let config = dir.join(format!("blk-{arch}.toml"));
        std::fs::write(
            &config,
            format!(
                "[board]\nname = \"{board}\"\n\n[[pool]]\nname = \"rt\"\ncpus = [0]\n\n[[disk]]\nname = \"bench\"\n\
                 size = \"{}MiB\"\n\n[[partition]]\nname = \"linux\"\npool = \"rt\"\nvcpus = [0]\n\
                 memory = {{ size = \"256MiB\" }}\nkernel = \"{}\"\nramdisk = \"{}\"\nbootargs = \"{args}\"\n\
                 disks = [{{ disk = \"bench\", access = \"rw\" }}]\n",
                MIB + 8,
                cache.join(kernel).display(),
                initrd.display()
            ),
        )
        .unwrap();
        let mut hv = Session::start(&config);
        hv.wait_for(r"LINUX-READY linux cpus=1", T);
        let (hw, hr) = measure(&mut hv, "linux");
        drop(hv);

        let disk = std::path::PathBuf::from(format!("/dev/shm/hv-bench-{arch}.img"));
        std::fs::write(&disk, vec![0u8; ((MIB + 8) << 20) as usize]).unwrap();
        let machine = if arch == "arm64" { "virt,gic-version=3" } else { "virt,gic-version=2" };
        let native: Vec<String> = [
            qemu,
            "-M",
            machine,
            "-cpu",
            cpu,
            "-smp",
            "1",
            "-m",
            "256M",
            "-nographic",
            "-kernel",
            &cache.join(kernel).display().to_string(),
            "-initrd",
            &initrd.display().to_string(),
            "-append",
            args,
            "-global",
            "virtio-mmio.force-legacy=false",
            "-drive",
            &format!("if=none,file={},format=raw,id=d0", disk.display()),
            "-device",
            "virtio-blk-device,drive=d0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut nat = Session::spawn(native);
        nat.wait_for(r"LINUX-READY linux cpus=1", T);
        let (nw, nr) = measure(&mut nat, "linux");
        drop(nat);
        let _ = std::fs::remove_file(&disk);
        println!("{arch:<8} {hw:>12.1} {nw:>12.1} {hr:>12.1} {nr:>12.1} {:>10.2} {:>10.2}", hw / nw, hr / nr);
    }
}
