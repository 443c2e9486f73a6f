//! SD-card images (`image_builder::sdcard`): the U-Boot formats against Debian's u-boot-tools, and the demos booted
//! from a card through Debian's U-Boot for QEMU virt (`booti` on AArch64, `bootz` on ARMv7).
//!
//! These tests need `mkimage` / `mkenvimage` (package u-boot-tools), `/usr/lib/u-boot/qemu_arm64/u-boot.bin` and
//! `/usr/lib/u-boot/qemu_arm/u-boot.bin` (u-boot-qemu), `qemu-system-aarch64` and `qemu-system-arm`
//! (qemu-system-arm); without them they fail, naming the package. The Orange Pi PC's U-Boot (armhf package
//! u-boot-sunxi) is fetched by `tests/fixtures/fetch-uboot-sunxi.sh`, which the test runs when it is missing; the
//! Raspberry Pi 4's firmware and U-Boot (raspi-firmware, u-boot-rpi) by `tests/fixtures/fetch-rpi-boot.sh`, and the
//! QEMU 10 its model needs by `tests/fixtures/fetch-qemu-backports.sh`, on first use too.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use board_support::orangepi_pc::BOARD as ORANGEPI_PC;
use board_support::qemu_virt_a15::BOARD as A15;
use board_support::qemu_virt_aarch64::BOARD;
use board_support::rpi4::BOARD as RPI4;
use board_support::{Arch, Board};
use image_builder::sdcard::{self, env, uimage};
use image_builder::{build, BuildOptions};

/// Makes sure `program` from Debian's `package` is there: installed on first use when the tests run as root,
/// otherwise the test fails naming the command to run.
fn require_program(program: &'static str, package: &'static str) {
    require(provision::packages::Need::program(program, package, "the SD-card tests"));
}

/// [`require_program`] for a file a package installs.
fn require_file(path: &'static str, package: &'static str) {
    require(provision::packages::Need::file(path, package, "the SD-card tests"));
}

fn require(need: provision::packages::Need) {
    if let Err(e) = provision::packages::ensure(&[need]) {
        panic!("{e}");
    }
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdcard").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `SOURCE_DATE_EPOCH=0 mkimage -A arm64 -O linux -T script -C none [-n NAME] -d SCRIPT OUT`.
fn mkimage_script(dir: &Path, text: &str, name: Option<&str>) -> Vec<u8> {
    mkimage_script_for("arm64", dir, text, name)
}

/// [`mkimage_script`] for `-A ARCH`.
fn mkimage_script_for(arch: &str, dir: &Path, text: &str, name: Option<&str>) -> Vec<u8> {
    let src = dir.join("boot.cmd");
    let out = dir.join("boot.scr");
    fs::write(&src, text).unwrap();
    let mut cmd = Command::new("mkimage");
    cmd.env("SOURCE_DATE_EPOCH", "0").args(["-A", arch, "-O", "linux", "-T", "script", "-C", "none"]);
    if let Some(name) = name {
        cmd.args(["-n", name]);
    }
    let res = cmd.arg("-d").arg(&src).arg(&out).output().expect("running mkimage");
    assert!(res.status.success(), "mkimage failed: {}", String::from_utf8_lossy(&res.stderr));
    fs::read(out).unwrap()
}

#[test]
fn script_images_match_mkimage() {
    require_program("mkimage", "u-boot-tools");
    let dir = scratch("mkimage");
    let long: String = (0..400).map(|i| format!("echo line {i}\n")).collect();
    let ours = sdcard::boot_script(&BOARD).unwrap();
    for text in [ours.as_str(), "echo hi\n", "echo no newline", "setenv a b; echo ${a}\n\n", long.as_str()] {
        let expected = mkimage_script(&dir, text, None);
        let got = uimage::script(uimage::arch::ARM64, text).unwrap();
        assert!(
            got == expected,
            "script {text:?}:\n ours    {:02x?}\n mkimage {:02x?}",
            &got[..80.min(got.len())],
            &expected[..80.min(expected.len())]
        );
    }
    // Names: NUL-padded, cut at 32 bytes.
    for name in ["hv-static", "a name of exactly thirty-two b..", "a very long name that exceeds thirty-two bytes"] {
        let expected = mkimage_script(&dir, "echo hi\n", Some(name));
        let header = uimage::Header { name: name.as_bytes().to_vec(), ..uimage::Header::script(uimage::arch::ARM64) };
        let got = header.image(&expected[64..]).unwrap();
        assert!(got == expected, "name {name:?}");
    }
}

#[test]
fn environments_match_mkenvimage() {
    require_program("mkenvimage", "u-boot-tools");
    let dir = scratch("mkenvimage");
    let u = BOARD.uboot.unwrap();
    let vars = sdcard::boot_env(&u, BOARD.boot_dtb);
    let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    fs::write(dir.join("env.txt"), text).unwrap();
    let out = dir.join("env.bin");
    let res = Command::new("mkenvimage")
        .args(["-s", &format!("{:#x}", u.env.size()), "-p", "0", "-o"])
        .arg(&out)
        .arg(dir.join("env.txt"))
        .output()
        .expect("running mkenvimage");
    assert!(res.status.success(), "mkenvimage failed: {}", String::from_utf8_lossy(&res.stderr));
    let expected = fs::read(&out).unwrap();
    assert!(sdcard::boot_env_bytes(&BOARD).unwrap() == expected, "environment differs from mkenvimage's");
    assert_eq!(env::decode(&expected).unwrap().len(), vars.len());
}

/// What a boot printed and when.
struct Boot {
    output: String,
    /// Seconds from QEMU's start to the first appearance of each marker (`None`: never).
    marks: Vec<(&'static str, Option<f64>)>,
}

/// Runs `cmd` until every marker in `until` has appeared or `timeout` passes, noting when each of `marks` (which
/// include `until`) first appeared.
fn boot(cmd: &[String], marks: &[&'static str], until: &[&'static str], timeout: Duration) -> Boot {
    let (program, args) = cmd.split_first().unwrap();
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut output = String::new();
    let mut seen: Vec<(&'static str, Option<f64>)> = marks.iter().map(|m| (*m, None)).collect();
    while start.elapsed() < timeout {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => {
                let now = start.elapsed().as_secs_f64();
                output.push_str(&String::from_utf8_lossy(&chunk));
                for (m, t) in seen.iter_mut() {
                    if t.is_none() && output.contains(*m) {
                        *t = Some(now);
                    }
                }
                if until.iter().all(|u| output.contains(u)) {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Boot { output, marks: seen }
}

const MARKS: &[&str] =
    &["U-Boot 2023", "Starting kernel", "[hv] hv-static", "[hello0]", "[hello1]", "[hello0] tick 3", "[hello1] tick 3"];
const UNTIL: &[&str] = &["[hello0] tick 3", "[hello1] tick 3"];

fn report(what: &str, b: &Boot) {
    let marks: Vec<String> =
        b.marks.iter().map(|(m, t)| format!("{m:?} {}", t.map_or("never".into(), |t| format!("{t:.2} s")))).collect();
    eprintln!("{what}: {}", marks.join(", "));
}

fn check_boot(what: &str, b: &Boot) {
    report(what, b);
    for u in UNTIL {
        assert!(b.output.contains(u), "{what}: the console never showed {u:?} within 60 s:\n{}", b.output);
    }
    let after_u_boot = b.output.split_once("Starting kernel").map_or("", |(_, rest)| rest);
    assert!(!after_u_boot.contains("fault"), "{what}: a partition faulted:\n{}", b.output);
}

/// Builds `config` for `board`, writes its card and boots it through the board's U-Boot twice: with U-Boot's
/// default environment, then with the environment flash. `started` is what the boot command prints once it has
/// the image where hv-static is linked.
fn boots_from_a_card(config: &str, board: &Board, started: &str) {
    let u = board.uboot.unwrap();
    let qemu = board.qemu.unwrap();
    require_file(u.binary, u.package);
    require_program(qemu.binary, qemu.package);
    require(provision::packages::IPXE_VIRTIO);
    require_program("mkimage", "u-boot-tools");
    let built =
        build(&BuildOptions { config: image_builder::workspace_root().join("configs").join(config), quiet: true })
            .unwrap_or_else(|e| panic!("building {config}: {e}"));
    assert_eq!(built.prepared.checked.system.board.name, board.name);
    let name = board.name;
    let dir = scratch(&format!("boot-{name}"));
    let card = sdcard::write_sdcard(&dir, &built.image, board).unwrap();
    assert_eq!(fs::metadata(&card).unwrap().len(), 64 << 20);
    // Reproducible: a second card is the same, byte for byte.
    let again = scratch(&format!("boot-again-{name}"));
    let card2 = sdcard::write_sdcard(&again, &built.image, board).unwrap();
    assert!(fs::read(&card).unwrap() == fs::read(&card2).unwrap(), "two cards from one image differ");
    // What is on it: the image as built, and the boot script as mkimage makes it.
    let contents = sdcard::read_card(&fs::read(&card).unwrap()).unwrap();
    let file = |name: &str| &contents.files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1;
    assert!(*file("hv-static.img") == fs::read(&built.image).unwrap());
    let arch = match board.arch {
        Arch::Aarch64 => "arm64",
        Arch::Aarch32 => "arm",
    };
    assert!(
        *file("boot.scr") == mkimage_script_for(arch, &again, &sdcard::boot_script(board).unwrap(), None),
        "boot.scr differs from mkimage's"
    );

    // U-Boot's default environment: a 2 s countdown, then distro boot finds boot.scr on virtio 0:1.
    let cmd = sdcard::qemu_command(&built, &card, None).unwrap();
    eprintln!("+ {}", cmd.join(" "));
    let b = boot(&cmd, MARKS, UNTIL, Duration::from_secs(60));
    check_boot(&format!("{name}: U-Boot, default environment"), &b);
    assert!(b.output.contains("Found U-Boot script /boot.scr"), "{}", b.output);
    assert!(b.output.contains(started), "{}", b.output);

    // With the environment flash: no countdown, no scan.
    let flash = sdcard::write_env_flash(&dir, board).unwrap().unwrap();
    let cmd = sdcard::qemu_command(&built, &card, Some(&flash)).unwrap();
    eprintln!("+ {}", cmd.join(" "));
    let b = boot(&cmd, MARKS, UNTIL, Duration::from_secs(60));
    check_boot(&format!("{name}: U-Boot, bootdelay=0 from the environment flash"), &b);
    assert!(b.output.contains("autoboot:  0") && !b.output.contains("Scanning virtio"), "{}", b.output);
    assert!(b.output.contains(started), "{}", b.output);

    // A board with more RAM than the config declares: U-Boot puts the device tree near the top of the real RAM,
    // above all the layout uses; hv-static must still read it (it once took an EL2 data abort there).
    let mut cmd = sdcard::qemu_command(&built, &card, Some(&flash)).unwrap();
    let m = cmd.iter().position(|a| a == "-m").expect("QEMU's -m");
    cmd[m + 1] = "2G".into();
    eprintln!("+ {}", cmd.join(" "));
    let b = boot(&cmd, MARKS, UNTIL, Duration::from_secs(60));
    check_boot(&format!("{name}: U-Boot, 2 GiB of RAM"), &b);
    let dtb = b
        .output
        .split("Loading Device Tree to ")
        .nth(1)
        .and_then(|r| u64::from_str_radix(r.split(',').next()?.trim(), 16).ok())
        .unwrap_or_else(|| panic!("{name}: where U-Boot put the device tree:\n{}", b.output));
    let config_ram_end = built.prepared.checked.system.board.ram_base + built.prepared.checked.system.ram_size;
    assert!(dtb >= config_ram_end, "{name}: the device tree at {dtb:#x} is not above the configured RAM");
}

#[test]
fn the_demo_boots_from_a_card_through_u_boot() {
    // booti moved the image from kernel_addr_r to RAM base + text_offset, where hv-static is linked.
    boots_from_a_card("qemu-aarch64-demo.toml", &BOARD, "Moving Image from 0x40400000 to 0x40200000");
}

#[test]
fn the_armv7_demo_boots_from_a_card_through_u_boot_s_bootz() {
    // The script loaded the zImage where hv-static is linked, and bootz starts it there.
    boots_from_a_card("qemu-a15-demo.toml", &A15, "Kernel image @ 0x40200000 [ 0x000000 - 0x");
}

/// Fetches Debian's u-boot-sunxi into the workspace's cache when it is not there yet (one fetch at a time).
fn require_uboot_sunxi() {
    // Found installed, or in the fixture cache, which `uboot_binary` fills on first use (as root).
    if let Err(e) = sdcard::uboot_binary(&ORANGEPI_PC) {
        panic!("{e}");
    }
}

/// The median of `runs` boots' times to both partitions' first tick.
fn median_first_ticks(cmd: &[String], runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let b = boot(
                cmd,
                &["[hello0] tick 1", "[hello1] tick 1"],
                &["[hello0] tick 1", "[hello1] tick 1"],
                Duration::from_secs(60),
            );
            let t: Vec<f64> =
                b.marks.iter().map(|(m, t)| t.unwrap_or_else(|| panic!("never saw {m:?}:\n{}", b.output))).collect();
            t.into_iter().fold(0.0, f64::max)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// The Orange Pi PC boots from its SD card alone, as the real board does: the H3's boot ROM loads U-Boot's SPL from
/// 8 KiB into the card, U-Boot reads its stored environment from the FAT partition, sources boot.scr and bootz
/// starts hv-static in Hyp mode; PSCI starts the second CPU; both partitions greet and tick on the DesignWare
/// UART. Then again with U-Boot's default environment (no uboot.env: countdown, USB and HDMI probing, distro boot).
/// `HV_MEASURE=N` also prints the median of N boots' times to both partitions' first tick, for each environment.
#[test]
fn the_orangepi_pc_demo_boots_from_its_card_alone() {
    let board = &ORANGEPI_PC;
    let qemu = board.qemu.unwrap();
    require_program(qemu.binary, qemu.package);
    require_uboot_sunxi();
    let config = image_builder::workspace_root().join("configs/orangepi-pc-demo.toml");
    let built = build(&BuildOptions { config, quiet: true }).unwrap_or_else(|e| panic!("building the demo: {e}"));
    let dir = scratch("boot-orangepi-pc");
    let card = sdcard::write_sdcard(&dir, &built.image, board).unwrap();
    let bytes = fs::read(&card).unwrap();
    assert!(bytes.len().is_power_of_two(), "QEMU wants an SD card whose size is a power of two");
    // The MBR (not GPT), U-Boot at 8 KiB as the package ships it, and the stored environment of exactly
    // CONFIG_ENV_SIZE bytes.
    assert_eq!((bytes[450], &bytes[510..512]), (0x0c, &[0x55, 0xaa][..]));
    let spl = fs::read(sdcard::uboot_binary(board).unwrap()).unwrap();
    assert!(bytes[8192..8192 + spl.len()] == spl[..], "U-Boot is not at 8 KiB");
    let contents = sdcard::read_card(&bytes).unwrap();
    let env = &contents.files.iter().find(|(n, _)| n == "uboot.env").expect("uboot.env").1;
    assert_eq!(env.len() as u64, board.uboot.unwrap().env.size());

    let cmd = sdcard::qemu_command(&built, &card, None).unwrap();
    assert_eq!(
        cmd[1..],
        [
            "-M",
            "orangepi-pc",
            "-nographic",
            "-drive",
            &format!("if=sd,format=raw,file={}", image_builder::display_path(&card))
        ]
    );
    eprintln!("+ {}", cmd.join(" "));
    let b = boot(&cmd, MARKS, UNTIL, Duration::from_secs(60));
    check_boot("orangepi-pc: U-Boot, stored environment", &b);
    for expected in ["Loading Environment from FAT... OK", "autoboot:  0", "Kernel image @ 0x40200000 [ 0x000000 - 0x"]
    {
        assert!(b.output.contains(expected), "missing {expected:?}:\n{}", b.output);
    }
    assert!(!b.output.contains("starting USB") && !b.output.contains("Scanning mmc"), "{}", b.output);
    // U-Boot put the device tree where the layout kept room for it.
    let at = b.output.split_once("Loading Device Tree to ").map(|(_, r)| &r[..8]).expect("device tree relocated");
    let at = u64::from_str_radix(at, 16).unwrap();
    let region = board.boot_dtb.region(board.ram_base, board.ram_size, board_support::Mmio { base: 0, size: 0 });
    assert!((region.base..region.end()).contains(&at), "tree at {at:#x}, outside {region:?}");
    checks_partitions(&b.output);

    // Debian's default environment: a 2 s countdown, USB and HDMI probing, then distro boot finds boot.scr.
    let plain_dir = scratch("boot-orangepi-pc-default-env");
    let plain = sdcard::write_sdcard_with(
        &plain_dir,
        &built.image,
        board,
        sdcard::CardOptions { stored_env: false, ..Default::default() },
    )
    .unwrap();
    assert!(sdcard::read_card(&fs::read(&plain).unwrap()).unwrap().files.iter().all(|(n, _)| n != "uboot.env"));
    let plain_cmd = sdcard::qemu_command(&built, &plain, None).unwrap();
    let b = boot(&plain_cmd, MARKS, UNTIL, Duration::from_secs(60));
    check_boot("orangepi-pc: U-Boot, default environment", &b);
    assert!(b.output.contains("Found U-Boot script /boot.scr"), "{}", b.output);
    checks_partitions(&b.output);

    if let Some(runs) = std::env::var("HV_MEASURE").ok().and_then(|n| n.parse::<usize>().ok()).filter(|n| *n > 0) {
        let ours = median_first_ticks(&cmd, runs);
        let default = median_first_ticks(&plain_cmd, runs);
        eprintln!("orangepi-pc, QEMU start to both partitions' first tick, median of {runs}: stored environment {ours:.2} s, default environment {default:.2} s");
    }
}

/// A Raspberry Pi 4 card from Debian's packages alone: the VideoCore firmware (`start4.elf`, `fixup4.dat`) with the
/// `config.txt` the builder writes, the board's tree from Debian's kernel, U-Boot (`u-boot.bin`) with its stored
/// environment, boot.scr and hv-static, on the mini-UART console the firmware puts on the header. QEMU does not run
/// the VideoCore firmware, so the run starts the card's own U-Boot and tree as the firmware would (`-kernel`,
/// `-dtb`, read back from the card); U-Boot reads its environment from the card, finds boot.scr on it, and `booti`
/// starts hv-static at EL2, which releases the second CPU from the spin table. Then again with U-Boot's default
/// environment (what a board whose SD slot U-Boot numbers differently meets: distro boot scans for boot.scr).
#[test]
fn the_rpi4_demo_boots_from_a_card_of_debian_s_pi_firmware_and_u_boot() {
    let board = &RPI4;
    image_builder::needs::ensure_qemu(board, true).unwrap();
    let config = image_builder::workspace_root().join("configs/rpi4-miniuart.toml");
    let built = build(&BuildOptions { config, quiet: true }).unwrap_or_else(|e| panic!("building the demo: {e}"));
    let dir = scratch("boot-rpi4");
    let options = sdcard::CardOptions { console: Some("uart1"), ..Default::default() };
    let card = sdcard::write_sdcard_with(&dir, &built.image, board, options).unwrap();
    let contents = sdcard::read_card(&fs::read(&card).unwrap()).unwrap();
    let names: Vec<&str> = contents.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "start4.elf",
            "fixup4.dat",
            "config.txt",
            "bcm2711-rpi-4-b.dtb",
            "u-boot.bin",
            "hv-static.img",
            "boot.scr",
            "uboot.env"
        ]
    );
    let file = |name: &str| &contents.files.iter().find(|(n, _)| n == name).unwrap().1;
    // Each as its Debian package ships it.
    for (name, package, path) in [
        ("start4.elf", "raspi-firmware", "/usr/lib/raspi-firmware/start4.elf"),
        ("fixup4.dat", "raspi-firmware", "/usr/lib/raspi-firmware/fixup4.dat"),
        ("u-boot.bin", "u-boot-rpi", "/usr/lib/u-boot/rpi_arm64/u-boot.bin"),
    ] {
        let shipped = fs::read(sdcard::package_file(board, package, path).unwrap()).unwrap();
        assert!(*file(name) == shipped, "{name} differs from {package}'s {path}");
    }
    let dtb = image_builder::needs::kernel_package_dtb("broadcom/bcm2711-rpi-4-b.dtb").unwrap();
    assert!(*file("bcm2711-rpi-4-b.dtb") == fs::read(dtb).unwrap());
    let config_txt = String::from_utf8(file("config.txt").clone()).unwrap();
    for line in ["arm_64bit=1", "enable_uart=1", "kernel=u-boot.bin", "device_tree=bcm2711-rpi-4-b.dtb"] {
        assert!(config_txt.lines().any(|l| l == line), "config.txt lacks {line}:\n{config_txt}");
    }
    assert_eq!(file("uboot.env").len() as u64, board.uboot.unwrap().env.size());
    assert!(*file("hv-static.img") == fs::read(&built.image).unwrap());

    let cmd = sdcard::qemu_command(&built, &card, None).unwrap();
    let joined = cmd.join(" ");
    for part in [
        "-M raspi4b",
        "card-firmware/u-boot.bin -dtb ",
        "card-firmware/bcm2711-rpi-4-b.dtb",
        "-serial null -serial mon:stdio",
    ] {
        assert!(joined.contains(part), "{part:?} not in {joined}");
    }
    eprintln!("+ {joined}");
    let b = boot(&cmd, MARKS, UNTIL, Duration::from_secs(90));
    check_boot("rpi4: U-Boot, stored environment", &b);
    for expected in ["Loading Environment from FAT... OK", "autoboot:  0", "Moving Image from 0x80000 to 0x200000"] {
        assert!(b.output.contains(expected), "missing {expected:?}:\n{}", b.output);
    }
    assert!(!b.output.contains("starting USB") && !b.output.contains("Scanning mmc"), "{}", b.output);
    checks_partitions(&b.output);

    let plain_dir = scratch("boot-rpi4-default-env");
    let options = sdcard::CardOptions { stored_env: false, console: Some("uart1"), ..Default::default() };
    let plain = sdcard::write_sdcard_with(&plain_dir, &built.image, board, options).unwrap();
    let plain_cmd = sdcard::qemu_command(&built, &plain, None).unwrap();
    let b = boot(&plain_cmd, MARKS, UNTIL, Duration::from_secs(90));
    check_boot("rpi4: U-Boot, default environment", &b);
    assert!(b.output.contains("Found U-Boot script /boot.scr"), "{}", b.output);
    checks_partitions(&b.output);
}

/// Both partitions greeted, answered the ABI probes and ticked in order.
fn checks_partitions(output: &str) {
    for name in ["hello0", "hello1"] {
        let prefix = format!("[{name}] ");
        let lines: Vec<&str> =
            output.lines().filter_map(|l| l.trim_end_matches('\r').strip_prefix(prefix.as_str())).collect();
        assert!(lines.contains(&format!("hello from {name} (vcpus=1, gic=v2)").as_str()), "{name}: {lines:?}");
        assert!(lines.contains(&"PSCI version 1.1"), "{name}: {lines:?}");
        let ticks: Vec<u32> = lines.iter().filter_map(|l| l.strip_prefix("tick ")?.parse().ok()).collect();
        assert!(ticks.len() >= 3 && ticks.windows(2).all(|w| w[1] == w[0] + 1), "{name} ticks: {ticks:?}");
    }
}

#[test]
fn a_missing_u_boot_names_the_fetch_script() {
    let mut board = ORANGEPI_PC;
    let mut u = board.uboot.unwrap();
    u.package = "u-boot-nonexistent";
    u.binary = "/usr/lib/u-boot/nonexistent/u-boot-sunxi-with-spl.bin";
    board.uboot = Some(u);
    let e = sdcard::uboot_binary(&board).unwrap_err().to_string();
    assert!(e.contains("tests/fixtures/fetch-uboot-sunxi.sh") && e.contains("u-boot-nonexistent"), "{e}");
}
