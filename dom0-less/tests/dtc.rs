//! The overlays under testdata/ against Debian's dtc (package device-tree-compiler): each checked-in `.dtbo` is
//! what dtc makes of the `.dts` beside it, and dtc reads back a tree with an overlay merged in. Without dtc these
//! tests fail, naming the package.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use dom0_less::{guest_map, overlay, partition_dtb, Arch, GicVersion, Managed, Overlay, PartitionDt, WatchdogDt};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dom0-less-dtc");
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn dtc(args: &[&str]) -> std::process::Output {
    // Installed on first use when the tests run as root; otherwise the test fails naming the command to run.
    if let Err(e) = provision::packages::ensure(&[provision::packages::DTC]) {
        panic!("{e}");
    }
    Command::new("dtc").args(args).output().expect("running dtc")
}

#[test]
fn checked_in_dtbos_are_what_dtc_makes_of_their_sources() {
    let mut sources: Vec<PathBuf> = fs::read_dir(testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dts"))
        .collect();
    sources.sort();
    assert!(sources.len() >= 3, "{sources:?}");
    for dts in sources {
        let out = scratch().join(dts.with_extension("dtbo").file_name().unwrap());
        let res = dtc(&["-q", "-@", "-I", "dts", "-O", "dtb", "-o", out.to_str().unwrap(), dts.to_str().unwrap()]);
        assert!(res.status.success(), "dtc {}: {}", dts.display(), String::from_utf8_lossy(&res.stderr));
        let compiled = fs::read(&out).unwrap();
        let checked_in = fs::read(dts.with_extension("dtbo")).unwrap();
        // Compared as parsed overlays (or refusals): dtc versions may lay the bytes out differently.
        assert_eq!(
            Overlay::parse(&compiled),
            Overlay::parse(&checked_in),
            "{}: the checked-in .dtbo is out of date: recompile it with dtc -@ -I dts -O dtb",
            dts.display()
        );
    }
}

#[test]
fn dtc_reads_a_merged_tree() {
    let base = partition_dtb(&PartitionDt {
        name: "hello1".into(),
        id: 1,
        arch: Arch::Aarch64,
        cpu_compatible: "arm,armv8".into(),
        vcpus: 1,
        ram_ipa: guest_map::RAM,
        ram_size: 64 << 20,
        gic: GicVersion::V3,
        uart: Some(guest_map::UART),
        bootargs: String::new(),
        initrd: None,
        devices: vec![],
        virtio: vec![],
        channels: vec![],
        watchdog: None,
        gpio_intid: None,
        manages: vec![],
    })
    .unwrap();
    let ov = Overlay::parse(&fs::read(testdata().join("extra.dtbo")).unwrap()).unwrap();
    let merged = overlay::apply(&base, &ov).unwrap();
    let path = scratch().join("merged.dtb");
    fs::write(&path, merged).unwrap();
    let res = dtc(&["-I", "dtb", "-O", "dts", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&res.stdout);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    for want in [
        "hv-demo = \"from an overlay\";",
        "hv-demo-cells = <0x03>;",
        "model = \"hv-static partition with an overlay\";",
        "shm@43000000 {",
        "memory-region = <0x03>;",
        "phandle = <0x03>;",
        "partition-name = \"hello1\";",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
}

#[test]
fn dtc_reads_the_watchdog_and_the_managed_partitions() {
    let blob = partition_dtb(&PartitionDt {
        name: "mgr".into(),
        id: 1,
        arch: Arch::Aarch32,
        cpu_compatible: "arm,cortex-a15".into(),
        vcpus: 1,
        ram_ipa: guest_map::RAM,
        ram_size: 64 << 20,
        gic: GicVersion::V2,
        uart: Some(guest_map::UART),
        bootargs: String::new(),
        initrd: None,
        devices: vec![],
        virtio: vec![],
        channels: vec![],
        watchdog: Some(WatchdogDt { base: guest_map::WATCHDOG, intid: 48 }),
        gpio_intid: None,
        manages: vec![Managed { id: 2, name: "front".into() }, Managed { id: 0, name: "back".into() }],
    })
    .unwrap();
    let path = scratch().join("watchdog.dtb");
    fs::write(&path, blob).unwrap();
    let res = dtc(&["-I", "dtb", "-O", "dts", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&res.stdout);
    let warnings = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{warnings}");
    assert!(!warnings.contains("watchdog") && !warnings.contains("clock-wdog"), "{warnings}");
    for want in [
        "clock-wdog {",
        "clock-frequency = <0xf4240>;",
        "clock-output-names = \"wdog_clk\";",
        "watchdog@9001000 {",
        "compatible = \"arm,sp805\\0arm,primecell\";",
        "reg = <0x00 0x9001000 0x00 0x1000>;",
        "interrupts = <0x00 0x10 0x04>;",
        "clock-names = \"wdog_clk\\0apb_pclk\";",
        "hv-static,manages = <0x02 0x00>;",
        "hv-static,manages-names = \"front\\0back\";",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
}

/// The nodes stock Linux binds for channels (ABI 1.5: `mmio-sram` and the PL061) are well-formed for `dtc`: no
/// warning about them, and the line names and the sram child as written.
#[test]
fn dtc_reads_the_channel_sram_and_gpio_nodes() {
    let blob = partition_dtb(&PartitionDt {
        name: "linux".into(),
        id: 0,
        arch: Arch::Aarch64,
        cpu_compatible: "arm,armv8".into(),
        vcpus: 1,
        ram_ipa: guest_map::RAM,
        ram_size: 64 << 20,
        gic: GicVersion::V3,
        uart: Some(guest_map::UART),
        bootargs: String::new(),
        initrd: None,
        devices: vec![],
        virtio: vec![],
        channels: vec![dom0_less::ChannelDt {
            name: "telemetry".into(),
            ipa: guest_map::CHANNELS,
            size: 0x1_0000,
            intid: 48,
            writable: true,
            member: 1,
        }],
        watchdog: None,
        gpio_intid: Some(49),
        manages: vec![],
    })
    .unwrap();
    let path = scratch().join("channels.dtb");
    fs::write(&path, blob).unwrap();
    let res = dtc(&["-I", "dtb", "-O", "dts", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&res.stdout);
    let warnings = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{warnings}");
    assert!(!warnings.contains("sram") && !warnings.contains("gpio"), "{warnings}");
    for want in [
        "gpio@9002000 {",
        "compatible = \"arm,pl061\\0arm,primecell\";",
        "gpio-line-names = \"telemetry.doorbell\\0telemetry.ring\\0\\0\\0\\0\\0\\0\";",
        "sram@10000000 {",
        "compatible = \"mmio-sram\";",
        "channel@0 {",
        "export;",
        "label = \"telemetry\";",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
}
