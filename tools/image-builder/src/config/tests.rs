use std::path::{Path, PathBuf};

use board_support::GicVersion;

use super::*;
use crate::guests::GuestCatalog;
use crate::image::testelf;

const DEMO: &str = r#"
[board]
name = "qemu-virt-aarch64"

[[pool]]
name = "rt"
cpus = [0, 1]

[[partition]]
name = "hello0"
pool = "rt"
vcpus = [0]
memory = { size = "64MiB" }
kernel = "hello"

[[partition]]
name = "hello1"
pool = "rt"
vcpus = [1]
memory = { size = 0x4000000 }
kernel = "hello"
bootargs = "quiet"
console = false
"#;

fn check_in(src: &str, dir: &Path) -> Result<(System, Report), Report> {
    let guests = GuestCatalog::with_names(["hello", "probe"]);
    check_source("test.toml", src, "test", &Context { guests: &guests, base_dir: dir })
}

fn check(src: &str) -> Result<(System, Report), Report> {
    check_in(src, Path::new("/nonexistent"))
}

/// The errors of a config as (line, column, field, message).
fn errors(src: &str) -> Vec<(usize, usize, String, String)> {
    let r = check(src).expect_err("config should be refused");
    r.errors()
        .map(|d| {
            let (l, c) = r.line_col(d.span.start);
            (l, c, d.field.clone(), d.message.clone())
        })
        .collect()
}

/// The single error of a config.
fn one_error(src: &str) -> (usize, usize, String, String) {
    let mut e = errors(src);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.remove(0)
}

fn demo_with(from: &str, to: &str) -> String {
    assert!(DEMO.contains(from), "{from}");
    DEMO.replacen(from, to, 1)
}

#[test]
fn demo_is_accepted_with_defaults() {
    let (s, report) = check(DEMO).unwrap();
    assert_eq!(report.diags, []);
    assert_eq!(s.name, "test");
    assert_eq!(s.board.name, "qemu-virt-aarch64");
    assert_eq!(s.gic, GicVersion::V3);
    assert_eq!(s.ram_size, 1 << 30);
    assert_eq!(s.hypervisor.budget, 2 << 20);
    assert_eq!(s.hypervisor.console.base, 0x0900_0000);
    assert_eq!(s.pools.len(), 1);
    assert_eq!(s.pools[0].scheduler, Scheduler::Pinned);
    assert_eq!(s.used_cpus(), [0, 1]);
    assert_eq!(s.smp(), 2);
    let p = &s.partitions;
    assert_eq!((p[0].name.as_str(), p[0].id, p[0].pool), ("hello0", 0, 0));
    assert_eq!(p[0].vcpus, [0]);
    assert_eq!(p[0].memory.size, 64 << 20);
    assert_eq!(p[0].memory.ipa, 0x4000_0000);
    assert_eq!(p[0].memory.pa, None);
    assert_eq!(p[0].kernel.source, KernelSource::Guest { name: "hello".into(), package: "guest-hello".into() });
    assert!(p[0].console);
    assert_eq!(p[0].bootargs, "");
    assert_eq!(p[0].on_fault, FaultPolicy::Stop);
    assert!(!p[0].watchdog && !p[1].watchdog, "no watchdog unless asked for");
    assert!(p[0].manages.is_empty() && p[1].manages.is_empty(), "no partition manages another unless it says so");
    assert_eq!(p[1].memory.size, 64 << 20);
    assert_eq!(p[1].bootargs, "quiet");
    assert!(!p[1].console);
    assert_eq!(p[1].id, 1);
}

#[test]
fn board_overrides() {
    let src =
        demo_with("name = \"qemu-virt-aarch64\"", "name = \"qemu-virt-aarch64\"\ngic_version = 2\nram_size = \"2GiB\"");
    let (s, _) = check(&src).unwrap();
    assert_eq!(s.gic, GicVersion::V2);
    assert_eq!(s.ram_size, 2 << 30);
    let src = demo_with("[[pool]]", "[hypervisor]\nconsole = \"uart0\"\nmemory_budget = \"4M\"\n\n[[pool]]");
    assert_eq!(check(&src).unwrap().0.hypervisor.budget, 4 << 20);
}

#[test]
fn bad_board_values() {
    let src = demo_with("name = \"qemu-virt-aarch64\"", "name = \"qemu-virt-aarch64\"\ngic_version = 4");
    let e = one_error(&src);
    assert_eq!((e.0, e.1, e.2.as_str()), (4, 15, "board.gic_version"));
    let src = demo_with("name = \"qemu-virt-aarch64\"", "name = \"qemu-virt-aarch64\"\nram_size = \"3M\"");
    let e = one_error(&src);
    assert_eq!((e.0, e.2.as_str()), (4, "board.ram_size"));
    assert!(e.3.contains("2 MiB"), "{e:?}");
    let src = demo_with("name = \"qemu-virt-aarch64\"", "name = \"qemu-virt-aarch64\"\nram_size = \"4MiB\"");
    assert!(one_error(&src).3.contains("cannot hold the hypervisor"));
    let src = demo_with("name = \"qemu-virt-aarch64\"", "name = \"qemu-virt-aarch64\"\nram_size = \"1TiB\"");
    assert!(one_error(&src).3.contains("cannot have 1 TiB"));
    let src = demo_with("[[pool]]", "[hypervisor]\nconsole = \"uart1\"\n\n[[pool]]");
    let e = one_error(&src);
    assert_eq!((e.0, e.1, e.2.as_str()), (6, 11, "hypervisor.console"));
    let src = demo_with("[[pool]]", "[hypervisor]\nmemory_budget = 100\n\n[[pool]]");
    assert_eq!(one_error(&src).2, "hypervisor.memory_budget");
    let src = demo_with("[[pool]]", "[hypervisor]\nmemory_budget = \"1GiB\"\n\n[[pool]]");
    assert!(one_error(&src).3.contains("leaves no RAM"));
}

#[test]
fn unknown_board_stops_early_with_a_suggestion() {
    let src = demo_with("qemu-virt-aarch64", "qemu-virt-arm64");
    let r = check(&src).unwrap_err();
    assert_eq!(r.errors().count(), 1);
    assert!(r.render().contains("did you mean `qemu-virt-aarch64`?"), "{}", r.render());
}

#[test]
fn unknown_keys_everywhere() {
    for (from, to, field, line) in [
        ("[board]", "colour = 1\n[board]", "colour", 2),
        ("name = \"qemu-virt-aarch64\"", "name = \"qemu-virt-aarch64\"\ngic = 3", "board.gic", 4),
        ("cpus = [0, 1]", "cpus = [0, 1]\nsched = \"pinned\"", "pool[0].sched", 8),
        ("kernel = \"hello\"\n\n", "kernel = \"hello\"\nboot_args = \"x\"\n\n", "partition[0].boot_args", 15),
        ("{ size = \"64MiB\" }", "{ size = \"64MiB\", base = 1 }", "partition[0].memory.base", 13),
    ] {
        let e = one_error(&demo_with(from, to));
        assert_eq!((e.0, e.2.as_str()), (line, field), "{e:?}");
        assert!(e.3.starts_with("unknown key"), "{e:?}");
    }
    let r = check(&demo_with("bootargs = \"quiet\"", "bootarg = \"quiet\"")).unwrap_err();
    assert!(r.render().contains("did you mean `bootargs`?"), "{}", r.render());
}

#[test]
fn syntax_type_and_missing_key_errors() {
    // An unclosed array is noticed where the next table starts.
    let e = one_error(&demo_with("cpus = [0, 1]", "cpus = [0, 1"));
    assert_eq!(e.0, 9, "{e:?}");
    assert!(e.3.contains("expected `,`"), "{e:?}");
    let e = one_error(&demo_with("vcpus = [0]", "vcpus = \"0\""));
    assert_eq!((e.0, e.2.as_str()), (12, "partition[0].vcpus"), "{e:?}");
    let e = one_error(&demo_with("kernel = \"hello\"\n", ""));
    assert!(e.3.contains("missing required key `kernel`"), "{e:?}");
    assert_eq!(e.2, "partition[0].kernel");
    let e = one_error("[[pool]]\nname = \"rt\"\ncpus = [0]\n");
    assert!(e.3.contains("`board`"), "{e:?}");
    let e = one_error("[board]\nname = \"qemu-virt-aarch64\"\n");
    assert!(e.3.contains("no partitions"), "{e:?}");
}

#[test]
fn sizes_and_addresses_in_every_spelling() {
    for size in ["\"64MiB\"", "\"64M\"", "\"64 MiB\"", "\"0x4000000\"", "67108864", "0x4000000"] {
        let (s, _) = check(&demo_with("\"64MiB\"", size)).unwrap();
        assert_eq!(s.partitions[0].memory.size, 64 << 20, "{size}");
    }
    let (s, _) =
        check(&demo_with("{ size = \"64MiB\" }", "{ size = \"64MiB\", ipa = \"0x8000_0000\", pa = 0x50000000 }"))
            .unwrap();
    assert_eq!(s.partitions[0].memory.ipa, 0x8000_0000);
    assert_eq!(s.partitions[0].memory.pa, Some(0x5000_0000));
    let e = one_error(&demo_with("\"64MiB\"", "\"64 parsecs\""));
    assert_eq!((e.0, e.1, e.2.as_str()), (13, 19, "partition[0].memory.size"));
    assert!(e.3.starts_with("bad size"), "{e:?}");
    let e = one_error(&demo_with("\"64MiB\"", "-1"));
    assert!(e.3.contains("negative"), "{e:?}");
    let e = one_error(&demo_with("{ size = \"64MiB\" }", "{ size = \"64MiB\", pa = \"high\" }"));
    assert_eq!(e.2, "partition[0].memory.pa");
}

#[test]
fn memory_rules() {
    let cases = [
        ("{ size = \"65MiB\" }", "partition[0].memory.size", "misaligned"),
        ("{ size = \"2MiB\" }", "partition[0].memory.size", "at least 4 MiB"),
        ("{ size = \"16383TiB\" }", "partition[0].memory.size", "more RAM than the board can have"),
        ("{ size = \"0xffffffffffe00000\" }", "partition[0].memory.size", "more RAM than the board can have"),
        ("{ size = \"64MiB\", ipa = \"0x40100000\" }", "partition[0].memory.ipa", "misaligned"),
        ("{ size = \"64MiB\", ipa = \"0x7ffffe00000\" }", "partition[0].memory.ipa", "39-bit"),
        ("{ size = \"64MiB\", ipa = \"0x08000000\" }", "partition[0].memory.ipa", "GIC distributor"),
        ("{ size = \"64MiB\", pa = \"0x50100000\" }", "partition[0].memory.pa", "misaligned"),
        ("{ size = \"64MiB\", pa = \"0x7e000000\" }", "partition[0].memory.pa", "beyond board RAM"),
        ("{ size = \"64MiB\", pa = \"0x20000000\" }", "partition[0].memory.pa", "beyond board RAM"),
        ("{ size = \"64MiB\", pa = \"0x40000000\" }", "partition[0].memory.pa", "overlaps the hypervisor"),
    ];
    for (mem, field, msg) in cases {
        let e = one_error(&demo_with("{ size = \"64MiB\" }", mem));
        assert_eq!(e.2, field, "{mem}: {e:?}");
        assert!(e.3.contains(msg), "{mem}: {e:?}");
    }
    // UART window for a partition whose RAM starts below it.
    let e = one_error(&demo_with("{ size = \"64MiB\" }", "{ size = \"64MiB\", ipa = \"0x06000000\" }"));
    assert!(e.3.contains("GIC distributor"), "{e:?}");
    let src = demo_with("{ size = \"64MiB\" }", "{ size = \"64MiB\", pa = \"0x50000000\" }");
    let src = src.replacen("{ size = 0x4000000 }", "{ size = 0x4000000, pa = \"0x52000000\" }", 1);
    let e = one_error(&src);
    assert_eq!((e.0, e.2.as_str()), (20, "partition[1].memory.pa"));
    assert!(e.3.contains("overlaps partition `hello0`"), "{e:?}");
}

#[test]
fn pool_rules() {
    let e = one_error(&demo_with("cpus = [0, 1]", "cpus = [0, 1, 1]"));
    assert_eq!((e.0, e.1, e.2.as_str()), (7, 15, "pool[0].cpus[2]"));
    assert!(e.3.contains("listed twice"));
    let e = one_error(&demo_with("cpus = [0, 1]", "cpus = [0, 1, -1]"));
    assert!(e.3.contains("beyond the board's CPU count"), "{e:?}");
    let src = demo_with("[[partition]]", "[[pool]]\nname = \"rt\"\ncpus = [2]\n\n[[partition]]");
    let e = one_error(&src);
    assert!(e.3.contains("duplicate pool name"), "{e:?}");
    let src = demo_with("cpus = [0, 1]", "cpus = [0, 1]\nscheduler = \"credit2\"");
    let e = one_error(&src);
    assert_eq!(e.2, "pool[0].scheduler");
    assert!(e.3.contains("unknown scheduler"));
    let e = one_error(&demo_with("cpus = [0, 1]", "cpus = [0, 1]\nscheduler = \"cyclic\""));
    assert_eq!(e.2, "pool[0]");
    assert!(e.3.contains("has no schedule"), "{e:?}");
}

/// Two partitions sharing CPU 0 of a cyclic pool, plus `extra` appended to the pool table.
fn cyclic(extra: &str, windows: &str) -> String {
    demo_with("cpus = [0, 1]", &format!("cpus = [0, 1]\nscheduler = \"cyclic\"\n{extra}windows = [\n{windows}]"))
        .replace("vcpus = [1]", "vcpus = [0]")
}

const TWO_WINDOWS: &str = "{ partition = \"hello0\", start = \"0ms\", duration = \"4ms\" },\n\
                           { partition = \"hello1\", start = \"5ms\", duration = \"5ms\" },\n";

#[test]
fn cyclic_windows_become_a_table() {
    let (s, report) = check(&cyclic("major_frame = \"10ms\"\n", TWO_WINDOWS)).unwrap();
    assert!(report.errors().next().is_none(), "{report}");
    let pool = &s.pools[0];
    assert_eq!(pool.scheduler, Scheduler::Cyclic);
    let t = pool.cyclic.as_ref().unwrap();
    assert_eq!(t.major_frame, 10_000_000);
    assert_eq!(t.windows.len(), 2);
    assert_eq!((t.windows[1].start, t.windows[1].duration, t.windows[1].partition), (5_000_000, 5_000_000, 1));
    assert_eq!(t.windows[0].cpus, [0]);
    let slots = crate::schedule::timeline(t, 0);
    assert_eq!(slots.iter().filter(|s| s.partition.is_none()).count(), 1, "one idle gap 4..5 ms");
}

#[test]
fn cyclic_table_mistakes_name_the_window() {
    let frame = "major_frame = \"10ms\"\n";
    let e = one_error(&cyclic(frame, &TWO_WINDOWS.replace("\"5ms\", duration", "\"3ms\", duration")));
    assert_eq!(e.2, "pool[0].windows[1]");
    assert!(e.3.contains("windows overlap on CPU 0"), "{e:?}");
    let e = one_error(&cyclic(frame, &TWO_WINDOWS.replace("duration = \"5ms\"", "duration = \"6ms\"")));
    assert!(e.3.contains("window ends at 11 ms, after the 10 ms major frame"), "{e:?}");
    let e = one_error(&cyclic(frame, &TWO_WINDOWS.replace("\"hello1\", start", "\"helo1\", start")));
    assert_eq!(e.2, "pool[0].windows[1].partition");
    assert!(e.3.contains("unknown partition `helo1`"), "{e:?}");
    let e = one_error(&cyclic(frame, &TWO_WINDOWS.replace("duration = \"4ms\" }", "duration = \"4ms\", cpus = [1] }")));
    assert!(e.3.contains("partition `hello0` has no vCPU on CPU 1"), "{e:?}");
    let e = one_error(&cyclic(frame, &TWO_WINDOWS.replace("\"4ms\"", "\"4\"")));
    assert!(e.3.contains("bad duration") && e.3.contains("no time unit"), "{e:?}");
    let e = one_error(&cyclic(frame, &TWO_WINDOWS.replace("\"4ms\"", "\"50us\"")));
    assert!(e.3.contains("too short"), "{e:?}");
    // hello1 gets no window.
    let only_first = TWO_WINDOWS.lines().next().unwrap().to_owned() + "\n";
    let e = one_error(&cyclic(frame, &only_first));
    assert_eq!(e.2, "partition[1].vcpus[0]");
    assert!(e.3.contains("vCPU 0 of partition `hello1` (CPU 0) gets no time in pool `rt`"), "{e:?}");
    let e = one_error(&cyclic("", TWO_WINDOWS));
    assert!(e.3.contains("has windows but no major_frame"), "{e:?}");
}

#[test]
fn cyclic_budgets_are_synthesized_or_refused() {
    let src = demo_with("cpus = [0, 1]", "cpus = [0, 1]\nscheduler = \"cyclic\"")
        .replace("vcpus = [1]", "vcpus = [0]")
        .replace("kernel = \"hello\"\n", "kernel = \"hello\"\nbudget = \"2ms\"\nperiod = \"5ms\"\n");
    let (s, _) = check(&src).unwrap();
    let t = s.pools[0].cyclic.as_ref().unwrap();
    assert!(t.synthesized);
    assert_eq!(t.major_frame, 5_000_000);
    let given: u64 = t.windows.iter().map(|w| w.duration).sum();
    assert_eq!(given, 4_000_000, "{t:#?}");
    // 3/5 + 2/5 is the whole CPU, which EDF can still serve.
    assert!(check(&src.replacen("budget = \"2ms\"", "budget = \"3ms\"", 1)).is_ok());
    let e = one_error(&src.replace("budget = \"2ms\"", "budget = \"3ms\""));
    assert!(e.3.contains("CPU 0 of pool `rt` is overloaded: its partitions need 120.0% of it"), "{e:?}");
    let e = one_error(&src.replacen("period = \"5ms\"\n", "", 1));
    assert!(e.3.contains("has a budget but no period"), "{e:?}");
}

#[test]
fn scheduling_keys_belong_to_their_scheduler() {
    let e = one_error(&demo_with("cpus = [0, 1]", "cpus = [0, 1]\nmajor_frame = \"10ms\""));
    assert_eq!(e.2, "pool[0].major_frame");
    assert!(e.3.contains("applies only to cyclic pools"), "{e:?}");
    let e = one_error(&demo_with("kernel = \"hello\"\n", "kernel = \"hello\"\nbudget = \"1ms\"\n"));
    assert!(e.3.contains("`budget` applies only in cyclic pools"), "{e:?}");
    let e = one_error(&demo_with("cpus = [0, 1]", "cpus = [0, 1]\nwfi = \"sleep\""));
    assert!(e.3.contains("unknown WFI mode `sleep`"), "{e:?}");
    let (s, _) = check(&demo_with("cpus = [0, 1]", "cpus = [0, 1]\nwfi = \"trap\"")).unwrap();
    assert_eq!(s.pools[0].wfi, Wfi::Trap);
    assert_eq!(check(DEMO).unwrap().0.pools[0].wfi, Wfi::Native);
}

#[test]
fn idle_pool_cpu_is_a_warning() {
    let (_, report) = check(&demo_with("cpus = [0, 1]", "cpus = [0, 1, 2]")).unwrap();
    let w: Vec<_> = report.warnings().collect();
    assert_eq!(w.len(), 1, "{report}");
    assert_eq!(w[0].field, "pool[0].cpus[2]");
    assert_eq!(report.line_col(w[0].span.start), (7, 15));
    assert!(w[0].message.contains("CPU 2 of pool `rt` runs no vCPU"));
    assert!(report.render().contains("warning: CPU 2"));
}

#[test]
fn board_cpu_in_no_pool_is_a_warning() {
    // QEMU starts CPUs 0 to 2 (-smp 3) for a pool using CPU 2: CPU 1 is started and runs nothing.
    let src = demo_with("cpus = [0, 1]", "cpus = [0, 2]").replacen("vcpus = [1]", "vcpus = [2]", 1);
    let (s, report) = check(&src).unwrap();
    assert_eq!(s.smp(), 3);
    let w: Vec<_> = report.warnings().collect();
    assert_eq!(w.len(), 1, "{report}");
    assert_eq!(w[0].field, "pool[0].cpus[1]");
    assert_eq!(w[0].message, "CPU 1 of board `qemu-virt-aarch64` is in no pool");
    assert_eq!(report.line_col(w[0].span.start), (7, 12));
    assert!(w[0].hint.as_deref().unwrap().contains("`-smp 3`"), "{report}");
    // Two pools: the CPU between them is wasted too; CPUs above the highest one used are not started.
    let src = demo_with("cpus = [0, 1]", "cpus = [0]\n\n[[pool]]\nname = \"be\"\ncpus = [3]").replacen(
        "pool = \"rt\"\nvcpus = [1]",
        "pool = \"be\"\nvcpus = [3]",
        1,
    );
    let (_, report) = check(&src).unwrap();
    let w: Vec<String> = report.warnings().map(|d| format!("{}: {}", d.field, d.message)).collect();
    assert_eq!(
        w,
        [
            "pool[1].cpus[0]: CPU 1 of board `qemu-virt-aarch64` is in no pool",
            "pool[1].cpus[0]: CPU 2 of board `qemu-virt-aarch64` is in no pool"
        ],
        "{report}"
    );
    // A board that is not emulated has all of its CPUs: every one outside the pools is named.
    let mut board = board_support::qemu_virt_aarch64::BOARD;
    board.qemu = None;
    board.max_cpus = 4;
    let r = check_on(DEMO, Box::leak(Box::new(board)));
    let w: Vec<String> = r.warnings().map(|d| format!("{}: {}", d.field, d.message)).collect();
    assert_eq!(
        w,
        [
            "pool[0].cpus: CPU 2 of board `qemu-virt-aarch64` is in no pool",
            "pool[0].cpus: CPU 3 of board `qemu-virt-aarch64` is in no pool"
        ],
        "{r}"
    );
    assert!(r.warnings().all(|d| d.hint.as_deref().unwrap().contains("has 4 CPUs")), "{r}");
    // No pools: no such warning (the missing pool is the problem).
    let r = check(&DEMO.replacen("[[pool]]\nname = \"rt\"\ncpus = [0, 1]\n", "", 1)).unwrap_err();
    assert!(r.warnings().next().is_none(), "{r}");
}

#[test]
fn log_levels() {
    let (s, _) = check(DEMO).unwrap();
    assert_eq!(s.hypervisor.log_level, LogLevel::Info);
    for level in LogLevel::ALL {
        let src = DEMO.replacen("[[pool]]", &format!("[hypervisor]\nlog_level = \"{}\"\n\n[[pool]]", level.name()), 1);
        let (s, report) = check(&src).unwrap();
        assert_eq!(s.hypervisor.log_level, level, "{report}");
    }
    assert!(LogLevel::Error < LogLevel::Warn && LogLevel::Info < LogLevel::Debug);
    let src = DEMO.replacen("[[pool]]", "[hypervisor]\nlog_level = \"warning\"\n\n[[pool]]", 1);
    let e = one_error(&src);
    assert_eq!((e.0, e.1, e.2.as_str(), e.3.as_str()), (6, 13, "hypervisor.log_level", "unknown log level `warning`"));
    let r = check(&src).unwrap_err();
    let hint = r.errors().next().unwrap().hint.clone().unwrap();
    assert!(hint.starts_with("did you mean `warn`?") && hint.contains("`debug`"), "{hint}");
    // Not a string.
    let e = one_error(&DEMO.replacen("[[pool]]", "[hypervisor]\nlog_level = 3\n\n[[pool]]", 1));
    assert_eq!(e.2, "hypervisor.log_level");
}

/// DEMO with PV tables appended and `hello0` / `hello1` given extra keys (on lines 15 and 25: after hello0's
/// `kernel` and hello1's `console`).
fn pv_demo(tables: &str, hello0: &str, hello1: &str) -> String {
    let src = DEMO.replacen("kernel = \"hello\"\n\n", &format!("kernel = \"hello\"\n{hello0}\n\n"), 1).replacen(
        "console = false\n",
        &format!("console = false\n{hello1}\n"),
        1,
    );
    format!("{src}\n{tables}")
}

const PV_TABLES: &str = r#"[[disk]]
name = "rootfs"
size = "64MiB"

[[disk]]
name = "data"
size = 4096
backing = "host"

[[network]]
name = "lan"
uplink = true

[[channel]]
name = "ctl"
size = "64KiB"
partitions = [{ partition = "hello0", access = "rw" }, { partition = "hello1", access = "r" }]
"#;

#[test]
fn pv_tables_become_the_model() {
    let src = pv_demo(
        PV_TABLES,
        "disks = [{ disk = \"rootfs\", access = \"ro\" }, { disk = \"data\" }]\nnetworks = [{ network = \"lan\", mac = \"52:54:00:AB:cd:01\" }]",
        "disks = [{ disk = \"rootfs\", access = \"ro\" }]\nnetworks = [{ network = \"lan\" }]",
    );
    let (s, report) = check(&src).unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(report.diags, []);
    assert_eq!(s.disks.len(), 2);
    assert_eq!((s.disks[0].name.as_str(), s.disks[0].size, s.disks[0].backing), ("rootfs", 64 << 20, DiskBacking::Ram));
    assert_eq!((s.disks[1].size, s.disks[1].backing, s.disks[1].image.as_ref()), (4096, DiskBacking::Host, None));
    assert!(s.networks[0].uplink);
    let ch = &s.channels[0];
    assert_eq!((ch.name.as_str(), ch.size), ("ctl", 64 << 10));
    assert_eq!(
        ch.members,
        [
            ChannelMember { partition: 0, access: Access::ReadWrite },
            ChannelMember { partition: 1, access: Access::ReadOnly }
        ]
    );
    let p = &s.partitions;
    assert_eq!(
        p[0].disks,
        [DiskAttachment { disk: 0, access: Access::ReadOnly }, DiskAttachment { disk: 1, access: Access::ReadWrite }]
    );
    assert_eq!(p[0].networks, [NetworkAttachment { network: 0, mac: [0x52, 0x54, 0x00, 0xab, 0xcd, 0x01] }]);
    assert_eq!(p[1].networks[0].mac, derived_mac("lan", "hello1"));
    assert_eq!(s.channels_of(1), [(0, Access::ReadOnly)]);
    assert!(s.uses_pv());
    assert!(!check(DEMO).unwrap().0.uses_pv());
}

#[test]
fn derived_macs_are_stable_local_unicast_and_distinct() {
    let a = derived_mac("lan", "hello0");
    assert_eq!(a, derived_mac("lan", "hello0"));
    assert_eq!(a[0], 0x02);
    assert_ne!(a, derived_mac("lan", "hello1"));
    assert_ne!(a, derived_mac("wan", "hello0"));
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert_ne!(derived_mac("ab", "c"), derived_mac("a", "bc"));
    assert_eq!(mac_string(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]), "52:54:00:12:34:56");
    assert_eq!(pv::parse_mac("52:54:00:12:34:56"), Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
    for bad in
        ["52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56", "5:54:00:12:34:56", "zz:54:00:12:34:56", ""]
    {
        assert_eq!(pv::parse_mac(bad), None, "{bad}");
    }
}

/// The one error of `src`: (field, message).
fn pv_error(src: &str) -> (String, String) {
    let e = one_error(src);
    (e.2, e.3)
}

#[test]
fn disk_rules() {
    let disk = |body: &str| pv_demo(&format!("[[disk]]\nname = \"d\"\n{body}\n"), "disks = [{ disk = \"d\" }]", "");
    for (body, field, words) in [
        ("", "disk[0]", "disk `d` has neither `image` nor `size`"),
        ("size = \"1MiB\"\nimage = \"x.img\"", "disk[0].size", "disk `d` has both `image` and `size`"),
        ("size = 0", "disk[0].size", "disk `d` has size 0"),
        ("size = 1000", "disk[0].size", "disk size 1000 is not a multiple of 512 bytes"),
        ("size = \"1 parsec\"", "disk[0].size", "bad size"),
        ("image = \"nope.img\"", "disk[0].image", "disk image missing: cannot read `nope.img`: no such file"),
        ("size = 512\nbacking = \"disk\"", "disk[0].backing", "unknown disk backing `disk`"),
    ] {
        let (f, m) = pv_error(&disk(body));
        assert_eq!(f, field, "{body}");
        assert!(m.contains(words), "{body}: {m}");
    }
    let r = check(&disk("size = 512\nbacking = \"hosts\"")).unwrap_err();
    assert!(r.render().contains("did you mean `host`?"), "{r}");
    // Names: malformed, duplicate.
    let src = pv_demo("[[disk]]\nname = \"a b\"\nsize = 512\n[[disk]]\nname = \"x\"\nsize = 512\n[[disk]]\nname = \"x\"\nsize = 512\n", "", "");
    let e = errors(&src);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(
        (e[0].2.as_str(), e[0].3.as_str()),
        ("disk[0].name", "bad disk name \"a b\": a space is not allowed in names")
    );
    assert_eq!((e[1].2.as_str(), e[1].3.as_str()), ("disk[2].name", "duplicate disk name `x`"));
}

#[test]
fn disk_images_are_measured_in_sectors() {
    let dir = temp_dir("disks");
    std::fs::write(dir.join("disk.img"), vec![7u8; 1000]).unwrap();
    std::fs::write(dir.join("empty.img"), b"").unwrap();
    let src = |image: &str| {
        pv_demo(&format!("[[disk]]\nname = \"d\"\nimage = \"{image}\"\n"), "disks = [{ disk = \"d\" }]", "")
    };
    let (s, _) = check_in(&src("disk.img"), &dir).unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(s.disks[0].size, 1024);
    assert_eq!(s.disks[0].image.as_deref(), Some(dir.join("disk.img").as_path()));
    let r = check_in(&src("empty.img"), &dir).unwrap_err();
    let e: Vec<_> = r.errors().collect();
    assert_eq!((e.len(), e[0].field.as_str()), (1, "disk[0].image"));
    assert_eq!(e[0].message, "disk image `empty.img` is empty");
    let r = check_in(&src("."), &dir).unwrap_err();
    assert!(r.errors().next().unwrap().message.contains("not a file"), "{r}");
    // Fetched fixtures say how to fetch them.
    let r = check_in(&src("../tests/fixtures/cache/arm64/disk.img"), &dir).unwrap_err();
    assert!(r.errors().next().unwrap().hint.as_deref().unwrap().contains("fetch-linux.sh arm64"), "{r}");
}

#[test]
fn a_disk_has_one_writer_or_only_readers() {
    let tables = "[[disk]]\nname = \"d\"\nsize = 512\n";
    let two = |a: &str, b: &str| pv_demo(tables, &format!("disks = [{a}]"), &format!("disks = [{b}]"));
    // Readers only: fine.
    assert!(check(&two("{ disk = \"d\", access = \"ro\" }", "{ disk = \"d\", access = \"ro\" }")).is_ok());
    for (a, b, words) in [
        (
            "{ disk = \"d\" }",
            "{ disk = \"d\", access = \"rw\" }",
            "disk `d` is attached read-write by two partitions: `hello0` and `hello1`",
        ),
        (
            "{ disk = \"d\" }",
            "{ disk = \"d\", access = \"ro\" }",
            "disk `d` is attached read-write by `hello0` and read-only by `hello1`",
        ),
        (
            "{ disk = \"d\", access = \"ro\" }",
            "{ disk = \"d\" }",
            "disk `d` is attached read-only by `hello0` and read-write by `hello1`",
        ),
    ] {
        let r = check(&two(a, b)).unwrap_err();
        let e: Vec<_> = r.errors().collect();
        assert_eq!(e.len(), 1, "{r}");
        assert_eq!(e[0].field, "partition[1].disks[0]");
        assert_eq!(e[0].message, words);
        // Both places: hello1's entry underlined, hello0's related.
        assert_eq!(r.line_col(e[0].span.start).0, 25, "{r}");
        assert_eq!(r.line_col(e[0].related[0].0.start).0, 15, "{r}");
    }
    // Unknown, twice, bad access.
    let (f, m) = pv_error(&two("{ disk = \"e\" }", ""));
    assert_eq!((f.as_str(), m.as_str()), ("partition[0].disks[0].disk", "unknown disk `e`"));
    let r = check(&two("{ disk = \"D\" }", "")).unwrap_err();
    assert!(r.render().contains("did you mean `d`?"), "{r}");
    let (f, m) = pv_error(&pv_demo("", "disks = [{ disk = \"d\" }]", ""));
    assert_eq!((f.as_str(), m.as_str()), ("partition[0].disks[0].disk", "unknown disk `d`"));
    let (f, m) = pv_error(&two("{ disk = \"d\", access = \"ro\" }, { disk = \"d\", access = \"ro\" }", ""));
    assert_eq!(
        (f.as_str(), m.as_str()),
        ("partition[0].disks[1].disk", "disk `d` is attached twice to partition `hello0`")
    );
    let r = check(&two("{ disk = \"d\", access = \"r\" }", "")).unwrap_err();
    let d = r.errors().next().unwrap();
    assert_eq!((d.field.as_str(), d.message.as_str()), ("partition[0].disks[0].access", "unknown disk access `r`"));
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `ro`?"), "{r}");
}

#[test]
fn network_rules() {
    let net = |a: &str, b: &str| {
        pv_demo("[[network]]\nname = \"lan\"\n", &format!("networks = [{a}]"), &format!("networks = [{b}]"))
    };
    assert!(check(&net("{ network = \"lan\" }", "{ network = \"lan\" }")).is_ok());
    for (a, b, field, words) in [
        (
            "{ network = \"lan\", mac = \"52:54:00:12:34\" }",
            "",
            "partition[0].networks[0].mac",
            "bad MAC address \"52:54:00:12:34\"",
        ),
        (
            "{ network = \"lan\", mac = \"01:00:5e:00:00:01\" }",
            "",
            "partition[0].networks[0].mac",
            "MAC address 01:00:5e:00:00:01 is a multicast address",
        ),
        (
            "{ network = \"lan\", mac = \"00:00:00:00:00:00\" }",
            "",
            "partition[0].networks[0].mac",
            "is the null address",
        ),
        (
            "{ network = \"lan\", mac = \"52:54:00:12:34:56\" }",
            "{ network = \"lan\", mac = \"52:54:00:12:34:56\" }",
            "partition[1].networks[0].mac",
            "MAC address 52:54:00:12:34:56 is used twice on network `lan`: by `hello0` and `hello1`",
        ),
        ("{ network = \"wan\" }", "", "partition[0].networks[0].network", "unknown network `wan`"),
        (
            "{ network = \"lan\" }, { network = \"lan\" }",
            "",
            "partition[0].networks[1].network",
            "partition `hello0` joins network `lan` twice",
        ),
    ] {
        let (f, m) = pv_error(&net(a, b));
        assert_eq!(f, field, "{a} {b}");
        assert!(m.contains(words), "{a} {b}: {m}");
    }
    // A derived MAC given explicitly to the other partition collides too.
    let mac = mac_string(&derived_mac("lan", "hello0"));
    let (f, _) = pv_error(&net("{ network = \"lan\" }", &format!("{{ network = \"lan\", mac = \"{mac}\" }}")));
    assert_eq!(f, "partition[1].networks[0].mac");
    // The same MAC on two networks is fine.
    let src = pv_demo(
        "[[network]]\nname = \"lan\"\n[[network]]\nname = \"wan\"\n",
        "networks = [{ network = \"lan\", mac = \"02:00:00:00:00:01\" }]",
        "networks = [{ network = \"wan\", mac = \"02:00:00:00:00:01\" }]",
    );
    assert!(check(&src).is_ok());
    // A network nobody joins is a warning.
    let (_, report) = check(&pv_demo("[[network]]\nname = \"lan\"\n", "", "")).unwrap();
    let w: Vec<_> = report.warnings().collect();
    assert_eq!(w.len(), 1, "{report}");
    assert_eq!((w[0].field.as_str(), w[0].message.as_str()), ("network[0]", "network `lan` connects no partition"));
}

#[test]
fn host_disks_and_uplinks_need_a_board_that_has_them() {
    let src = a15_demo().replace("qemu-virt-a15", "vexpress-a15")
        + "\n[[disk]]\nname = \"d\"\nsize = 512\nbacking = \"host\"\n\n[[network]]\nname = \"lan\"\nuplink = true\n";
    let e = errors(&src);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].2, "disk[0].backing");
    assert_eq!(e[0].3, "board `vexpress-a15` has no disk of its own to back disk `d`");
    assert_eq!(e[1].2, "network[0].uplink");
    assert_eq!(e[1].3, "board `vexpress-a15` has no network device of its own for network `lan`");
    let r = check(&src).unwrap_err();
    assert!(r.render().contains("`qemu-virt-aarch64` and `qemu-virt-a15`"), "{r}");
    // On the QEMU boards both are fine (the network warns: nobody joins it).
    assert!(check(&(a15_demo() + "\n[[disk]]\nname = \"d\"\nsize = 512\nbacking = \"host\"\n")).is_ok());
}

#[test]
fn the_board_network_device_is_the_uplink_of_one_network_at_most() {
    let uplink = |name: &str| format!("\n[[network]]\nname = \"{name}\"\nuplink = true\n");
    let one = a15_demo() + &uplink("lan");
    let (s, _) = check(&one).unwrap();
    assert_eq!(s.uplink_network(), Some(0));
    let two = one + "\n[[network]]\nname = \"dmz\"\n" + &uplink("wan");
    let e = errors(&two);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].2, "network[2].uplink");
    assert_eq!(
        e[0].3,
        "network `wan` asks for the board's network device, which is already the uplink of network `lan`"
    );
    assert!(check(&two).unwrap_err().render().contains("one network at most has `uplink = true`"));
}

#[test]
fn channel_rules() {
    let ch = |size: &str, members: &str| {
        pv_demo(&format!("[[channel]]\nname = \"c\"\nsize = {size}\npartitions = [{members}]\n"), "", "")
    };
    let both = "{ partition = \"hello0\" }, { partition = \"hello1\", access = \"r\" }";
    assert!(check(&ch("\"4KiB\"", both)).is_ok());
    // More than one writer is fine.
    let (s, _) =
        check(&ch("\"8KiB\"", "{ partition = \"hello0\" }, { partition = \"hello1\", access = \"rw\" }")).unwrap();
    assert!(s.channels[0].members.iter().all(|m| m.access.writable()));
    for (size, members, field, words) in [
        ("\"6KiB\"", both, "channel[0].size", "channel size 6 KiB is not a non-zero multiple of 4 KiB"),
        ("0", both, "channel[0].size", "channel size 0 B is not a non-zero multiple of 4 KiB"),
        ("\"4KiB\"", "", "channel[0].partitions", "channel `c` has no partitions"),
        ("\"4KiB\"", "{ partition = \"hello2\" }", "channel[0].partitions[0].partition", "unknown partition `hello2`"),
        (
            "\"4KiB\"",
            "{ partition = \"hello0\" }, { partition = \"hello0\", access = \"r\" }",
            "channel[0].partitions[1].partition",
            "partition `hello0` is listed twice in channel `c`",
        ),
        (
            "\"4KiB\"",
            "{ partition = \"hello0\", access = \"ro\" }",
            "channel[0].partitions[0].access",
            "unknown channel access `ro`",
        ),
    ] {
        let (f, m) = pv_error(&ch(size, members));
        assert_eq!(f, field, "{size} {members}");
        assert!(m.contains(words), "{size} {members}: {m}");
    }
    let r = check(&ch("\"4KiB\"", "{ partition = \"hello0\", access = \"ro\" }")).unwrap_err();
    assert!(r.render().contains("did you mean `r`?"), "{r}");
    let r = check(&ch("\"4KiB\"", "{ partition = \"helo1\" }")).unwrap_err();
    assert!(r.render().contains("did you mean `hello1`?"), "{r}");
    // Readers only: a warning.
    let (_, report) = check(&ch("\"4KiB\"", "{ partition = \"hello0\", access = \"r\" }")).unwrap();
    assert_eq!(report.warnings().next().unwrap().message, "no partition can write channel `c`");
    // Misspelt keys get suggestions in the new tables too.
    let r = check(&ch("\"4KiB\"", "{ partition = \"hello0\", acess = \"r\" }")).unwrap_err();
    let d = r.errors().next().unwrap();
    assert_eq!(d.field, "channel[0].partitions[0].acess");
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `access`?"), "{r}");
    let r = check(&pv_demo("[[disk]]\nname = \"d\"\nsise = 512\n", "", "")).unwrap_err();
    assert!(r.render().contains("did you mean `size`?"), "{r}");
}

#[test]
fn too_many_pv_devices_and_virtio_windows() {
    // 17 disks and 16 networks: each list within its limit, 33 transports together.
    let mut tables: String = (0..17).map(|n| format!("[[disk]]\nname = \"d{n}\"\nsize = 512\n")).collect();
    tables.extend((0..16).map(|n| format!("[[network]]\nname = \"n{n}\"\nuplink = {}\n", n == 0)));
    let disks: Vec<String> = (0..17).map(|n| format!("{{ disk = \"d{n}\", access = \"ro\" }}")).collect();
    let nets: Vec<String> = (0..16).map(|n| format!("{{ network = \"n{n}\" }}")).collect();
    let keys = format!("disks = [{}]\nnetworks = [{}]", disks.join(", "), nets.join(", "));
    let (f, m) = pv_error(&pv_demo(&tables, &keys, ""));
    assert_eq!(f, "partition[0]");
    assert_eq!(m, "partition `hello0` has 33 PV devices: a partition has at most 32");
    // One list beyond 32 is refused as a limit, before anything else is checked.
    let tables: String = (0..33).map(|n| format!("[[disk]]\nname = \"d{n}\"\nsize = 512\n")).collect();
    let list: Vec<String> = (0..33).map(|n| format!("{{ disk = \"d{n}\", access = \"ro\" }}")).collect();
    let (f, m) = pv_error(&pv_demo(&tables, &format!("disks = [{}]", list.join(", ")), ""));
    assert_eq!(f, "partition[0].disks[32]");
    assert_eq!(m, "too many disks in the partition: 33, at most 32");
    // RAM over the transports' window, only when the partition has transports.
    let low = "{ size = \"64MiB\" }";
    let src = pv_demo("[[disk]]\nname = \"d\"\nsize = 512\n", "disks = [{ disk = \"d\" }]", "").replacen(
        low,
        "{ size = \"64MiB\", ipa = \"0x0a000000\" }",
        1,
    );
    let (f, m) = pv_error(&src);
    assert_eq!(f, "partition[0].memory.ipa");
    assert!(m.contains("partition RAM overlaps the virtio-mmio transports at IPA 0xa00_0000"), "{m}");
    assert!(check(&DEMO.replacen(low, "{ size = \"64MiB\", ipa = \"0x0a000000\" }", 1)).is_ok());
}

#[test]
fn restart_fault_policy_with_its_budget() {
    let (s, _) = check(&demo_with("console = false", "console = false\non_fault = \"restart\"")).unwrap();
    assert_eq!(
        s.partitions[1].on_fault,
        FaultPolicy::Restart { max_restarts: 3, window_ns: 60_000_000_000, delay_ns: 0 },
        "defaults: 3 within 60 s, no delay"
    );
    let with = |keys: &str| demo_with("console = false", &format!("console = false\non_fault = \"restart\"\n{keys}"));
    let (s, _) = check(&with("max_restarts = 5\nrestart_window = \"2s\"\nrestart_delay = \"100ms\"")).unwrap();
    assert_eq!(
        s.partitions[1].on_fault,
        FaultPolicy::Restart { max_restarts: 5, window_ns: 2_000_000_000, delay_ns: 100_000_000 }
    );
    for (keys, field, message) in [
        ("max_restarts = 0", "max_restarts", "max_restarts is 0: it must be 1 to 32"),
        ("max_restarts = 33", "max_restarts", "max_restarts is 33: it must be 1 to 32"),
        ("max_restarts = -1", "max_restarts", "max_restarts is -1: it must be 1 to 32"),
        ("restart_window = \"0s\"", "restart_window", "restart_window is zero"),
        ("restart_window = \"soon\"", "restart_window", "bad duration"),
        ("restart_delay = \"7200s\"", "restart_delay", "restart_delay is 7200 s"),
    ] {
        let src = with(keys);
        let e = one_error(&src);
        assert_eq!(e.2, format!("partition[1].{field}"), "{keys}");
        assert!(e.3.starts_with(message), "{keys}: {}", e.3);
        let line = src.lines().position(|l| l == keys).unwrap() + 1;
        assert_eq!(e.0, line, "{keys}: the error points at the key's line");
    }
    // The budget means nothing to a partition that stops: refused, not ignored.
    let e = one_error(&demo_with("console = false", "console = false\nmax_restarts = 2"));
    assert_eq!(
        (e.2.as_str(), e.3.as_str()),
        ("partition[1].max_restarts", "`max_restarts` applies only to on_fault = \"restart\"")
    );
    let r = check(&demo_with("console = false", "console = false\non_fault = \"restrat\"")).unwrap_err();
    let d = r.errors().next().unwrap();
    assert_eq!(d.message, "unknown fault policy `restrat`");
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `restart`?"), "{r}");
}

#[test]
fn a_watchdog_is_asked_for() {
    let (s, _) = check(&demo_with("console = false", "console = false\nwatchdog = true")).unwrap();
    assert!(!s.partitions[0].watchdog);
    assert!(s.partitions[1].watchdog);
    let (s, _) = check(&demo_with("console = false", "console = false\nwatchdog = false")).unwrap();
    assert!(!s.partitions[1].watchdog);
    let e = one_error(&demo_with("console = false", "console = false\nwatchdog = \"yes\""));
    assert_eq!((e.0, e.1, e.2.as_str()), (24, 12, "partition[1].watchdog"));
    assert_eq!(e.3, "`partition[1].watchdog` must be true or false, not text in quotes");
}

/// The demo with a third partition, `hello2` on CPU 2, and `manages = {list}` in `hello1` (line 24).
fn managing(list: &str) -> String {
    demo_with("console = false", &format!("console = false\nmanages = {list}")).replacen("cpus = [0, 1]", "cpus = [0, 1, 2]", 1)
        + "\n[[partition]]\nname = \"hello2\"\npool = \"rt\"\nvcpus = [2]\nmemory = { size = \"64MiB\" }\nkernel = \"hello\"\n"
}

#[test]
fn manages_names_other_partitions_in_the_order_written() {
    let (s, report) = check(&managing("[\"hello2\", \"hello0\"]")).unwrap();
    assert_eq!(report.diags, []);
    assert_eq!(s.partitions[1].manages, [2, 0]);
    assert!(s.partitions[0].manages.is_empty() && s.partitions[2].manages.is_empty());
    let (s, _) = check(&managing("[]")).unwrap();
    assert!(s.partitions[1].manages.is_empty());
    // Two partitions may manage each other.
    let both = managing("[\"hello0\"]").replacen(
        "kernel = \"hello\"\n\n",
        "kernel = \"hello\"\nmanages = [\"hello1\"]\n\n",
        1,
    );
    let (s, _) = check(&both).unwrap();
    assert_eq!((s.partitions[0].manages.as_slice(), s.partitions[1].manages.as_slice()), (&[1][..], &[0][..]));
}

#[test]
fn manages_rules() {
    for (list, col, field, message) in [
        ("[\"hello0\", \"helo2\"]", 22, "partition[1].manages[1]", "unknown partition `helo2`"),
        ("[\"hello1\"]", 12, "partition[1].manages[0]", "a partition cannot manage itself: `hello1`"),
        (
            "[\"hello2\", \"hello0\", \"hello2\"]",
            32,
            "partition[1].manages[2]",
            "partition `hello2` is listed twice in `manages` of `hello1`",
        ),
        ("\"hello0\"", 11, "partition[1].manages", "`partition[1].manages` must be a list `[...]`, not text in quotes"),
    ] {
        let e = one_error(&managing(list));
        assert_eq!((e.0, e.1, e.2.as_str(), e.3.as_str()), (24, col, field, message), "{list}");
    }
    let r = check(&managing("[\"helo2\"]")).unwrap_err();
    let d = r.errors().next().unwrap();
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `hello2`?"), "{r}");
    let r = check(&managing("[\"hello1\"]")).unwrap_err();
    assert!(r.errors().next().unwrap().hint.as_deref().unwrap().contains("SYSTEM_RESET"), "{r}");
    let r = check(&managing("[\"hello0\", \"hello0\"]")).unwrap_err();
    let d = r.errors().next().unwrap();
    assert_eq!(d.related.len(), 1);
    assert_eq!(r.line_col(d.related[0].0.start), (24, 12), "the first mention is shown too");
    // Every problem at once.
    assert_eq!(errors(&managing("[\"hello1\", \"nobody\", \"hello0\", \"hello0\"]")).len(), 3);
}

/// A board device over the watchdog's page is refused only in a partition that has the watchdog.
#[test]
fn the_watchdog_page_is_an_emulated_device() {
    use board_support::{Device, Mmio};
    let mut board = board_support::qemu_virt_aarch64::BOARD;
    board.devices = Box::leak(Box::new([Device {
        path: "/timer@9001000",
        description: "test device",
        regs: &[Mmio { base: 0x0900_1000, size: 0x1000 }],
        spis: &[44],
        compatible: &["test"],
        clocks: &[],
        props: &[],
        dma: false,
    }]));
    let board: &'static board_support::Board = Box::leak(Box::new(board));
    let with = |keys: &str| demo_with("kernel = \"hello\"\n\n", &format!("kernel = \"hello\"\n{keys}\n\n"));
    let r = check_on(&with("passthrough = [\"/timer@9001000\"]"), board);
    assert!(!r.has_errors(), "{r}");
    let src = with("passthrough = [\"/timer@9001000\"]\nwatchdog = true");
    let r = check_on(&src, board);
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 1, "{r}");
    assert_eq!((e[0].field.as_str(), r.line_col(e[0].span.start)), ("partition[0].passthrough[0]", (15, 16)));
    assert_eq!(
        e[0].message,
        "device `/timer@9001000` at 0x900_1000..0x900_2000 overlaps the emulated SP805 watchdog of partition `hello0` \
         (0x900_1000..0x900_2000)"
    );
    assert!(e[0].hint.as_deref().unwrap().contains("`watchdog = true`"), "{r}");
    // RAM is 2 MiB-aligned: over the watchdog's page it covers the console's too, which is named first.
    let e =
        one_error(&demo_with("{ size = \"64MiB\" }", "{ size = \"64MiB\", ipa = \"0x09000000\" }\nwatchdog = true"));
    assert_eq!(
        (e.2.as_str(), e.3.as_str()),
        ("partition[0].memory.ipa", "partition RAM overlaps the emulated PL011 console at IPA 0x900_0000")
    );
}

const EXTRA_DTBO: &[u8] = include_bytes!("../../../../dom0-less/testdata/extra.dtbo");
const TARGET_LABEL_DTBO: &[u8] = include_bytes!("../../../../dom0-less/testdata/target-label.dtbo");

#[test]
fn dt_overlays_by_path() {
    let dir = temp_dir("overlays");
    std::fs::write(dir.join("extra.dtbo"), EXTRA_DTBO).unwrap();
    std::fs::write(dir.join("label.dtbo"), TARGET_LABEL_DTBO).unwrap();
    std::fs::write(dir.join("text.dtbo"), "/dts-v1/; / { };").unwrap();
    std::fs::create_dir_all(dir.join("subdir")).unwrap();
    let with = |ov: &str| demo_with("console = false", &format!("console = false\ndt_overlay = \"{ov}\""));
    let (s, _) = check_in(&with("extra.dtbo"), &dir).unwrap();
    let ov = s.partitions[1].dt_overlay.as_ref().unwrap();
    assert_eq!(ov.path, dir.join("extra.dtbo"));
    assert_eq!(ov.written, "extra.dtbo");
    assert_eq!(ov.overlay.targets().collect::<Vec<_>>(), ["/chosen", "/", "/chosen"]);
    assert!(s.partitions[0].dt_overlay.is_none());
    for (ov, msg, hint) in [
        (
            "missing.dtbo",
            "device-tree overlay missing: cannot read `missing.dtbo`: no such file",
            "relative to the config file",
        ),
        ("subdir", "device-tree overlay `subdir` cannot be used: it is a directory, not a file", "dtc -@"),
        (
            "text.dtbo",
            "device-tree overlay `text.dtbo`: not a compiled device tree: no device-tree magic",
            "dtc -@ -I dts -O dtb",
        ),
        (
            "label.dtbo",
            "device-tree overlay `label.dtbo`: `fragment@0` names its target with `target = <&gic>`",
            "&{/chosen}",
        ),
    ] {
        let r = check_in(&with(ov), &dir).unwrap_err();
        let e: Vec<_> = r.errors().collect();
        assert_eq!(e.len(), 1, "{ov}: {r}");
        assert_eq!(e[0].field, "partition[1].dt_overlay");
        assert!(e[0].message.starts_with(msg), "{ov}: {}", e[0].message);
        assert!(e[0].hint.as_deref().unwrap().contains(hint), "{ov}: {r}");
        assert_eq!(r.line_col(e[0].span.start), (24, 14));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vcpu_rules() {
    let e = one_error(&demo_with("vcpus = [1]", "vcpus = [0]"));
    assert_eq!((e.0, e.1, e.2.as_str()), (19, 10, "partition[1].vcpus[0]"));
    assert!(e.3.contains("two vCPUs are pinned to CPU 0"));
    let e = one_error(&demo_with("vcpus = [1]", "vcpus = [1, 5]"));
    assert_eq!(e.2, "partition[1].vcpus[1]");
    assert!(e.3.contains("outside its pool"));
    let e = one_error(&demo_with("vcpus = [1]", "vcpus = [1, 9]"));
    assert!(e.3.contains("beyond the board's CPU count"), "{e:?}");
    let errs = errors(&demo_with("vcpus = [1]", "vcpus = []"));
    assert!(errs.iter().any(|e| e.3.contains("no vCPUs")), "{errs:?}");
    let e = one_error(&demo_with("pool = \"rt\"\nvcpus = [1]", "pool = \"best\"\nvcpus = [1]"));
    assert_eq!(e.2, "partition[1].pool");
    assert!(e.3.contains("unknown pool `best`"));
}

#[test]
fn partition_names() {
    let e = one_error(&demo_with("name = \"hello1\"", "name = \"hello0\""));
    assert_eq!((e.0, e.2.as_str()), (17, "partition[1].name"));
    assert!(e.3.contains("duplicate partition name"));
    let e = one_error(&demo_with("name = \"hello1\"", "name = \"hello 1\""));
    assert!(e.3.contains("bad partition name"), "{e:?}");
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ib-config-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn kernels_by_path() {
    let dir = temp_dir("kernels");
    std::fs::write(dir.join("Image"), testelf::image(0x8_0000, 0, b"code")).unwrap();
    let elf = testelf::build(&[testelf::load(0x4008_0000, testelf::image(0x8_0000, 0, b"code"))], &[]);
    std::fs::write(dir.join("guest.elf"), elf).unwrap();
    let plain = testelf::build(&[testelf::load(0x4008_0000, b"no header here".repeat(8))], &[]);
    std::fs::write(dir.join("plain.elf"), plain).unwrap();
    std::fs::write(dir.join("notes.txt"), "hello").unwrap();

    let (s, _) = check_in(&demo_with("kernel = \"hello\"", "kernel = \"./Image\""), &dir).unwrap();
    assert_eq!(s.partitions[0].kernel.source, KernelSource::File(dir.join("Image")));
    assert!(check_in(&demo_with("kernel = \"hello\"", "kernel = \"guest.elf\""), &dir).is_ok());
    for (k, msg) in [
        ("plain.elf", "does not start with an arm64 Image header"),
        ("notes.txt", "unrecognised file format"),
        ("missing.bin", "kernel missing"),
        ("helo", "no guest named `helo`"),
    ] {
        let r = check_in(&demo_with("kernel = \"hello\"", &format!("kernel = \"{k}\"")), &dir).unwrap_err();
        let e: Vec<_> = r.errors().collect();
        assert_eq!(e.len(), 1, "{k}");
        assert_eq!(e[0].field, "partition[0].kernel");
        assert!(e[0].message.contains(msg), "{k}: {}", e[0].message);
        assert_eq!(r.line_col(e[0].span.start), (14, 10));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_come_in_file_order_and_never_panic() {
    let src = demo_with("vcpus = [1]", "vcpus = [0]").replacen("\"64MiB\"", "\"1 furlong\"", 1);
    let e = errors(&src);
    assert!(e.windows(2).all(|w| w[0].0 <= w[1].0), "{e:?}");
    // Odd inputs: none may panic.
    for src in [
        "",
        "[",
        "\u{feff}",
        "board = 1",
        "[board]\nname = 7",
        "[[partition]]\nmemory = 3",
        "a.b.c = 1\n[board]\nname=\"x\"é",
    ] {
        assert!(check(src).is_err(), "{src}");
    }
}

#[test]
fn locate_finds_tables_and_keys() {
    let src = "[board]\nname = 1\n\n[[partition]]\nname = \"a\"\n[[partition]]\nmemory = { size = 1, bad = 2 }\n";
    assert_eq!(locate(src, src.find("name = 1").unwrap()), ("board".into(), Some("name".into())));
    assert_eq!(locate(src, src.find("bad").unwrap()), ("partition[1].memory".into(), Some("bad".into())));
    assert_eq!(locate(src, 0), ("board".into(), None));
    assert_eq!(strip_indices("partition[12].memory"), "partition.memory");
}

#[test]
fn passthrough_devices_are_looked_up_on_the_board() {
    let src = demo_with(
        "kernel = \"hello\"\n\n",
        "kernel = \"hello\"\npassthrough = [\"/pl031@9010000\", \"/pl061@9030000\"]\n\n",
    );
    let (s, report) = check(&src).unwrap();
    assert_eq!(report.diags, []);
    let paths: Vec<&str> = s.partitions[0].passthrough.iter().map(|d| d.path).collect();
    assert_eq!(paths, ["/pl031@9010000", "/pl061@9030000"]);
    assert_eq!(s.partitions[0].spis(), [34, 39]);
    assert!(s.partitions[1].passthrough.is_empty());
    assert_eq!(s.partitions[1].spis(), [] as [u32; 0]);
    // An empty list is no passthrough.
    let (s, _) = check(&demo_with("kernel = \"hello\"\n\n", "kernel = \"hello\"\npassthrough = []\n\n")).unwrap();
    assert!(s.partitions[0].passthrough.is_empty());
}

#[test]
fn passthrough_rules() {
    let with =
        |list: &str| demo_with("kernel = \"hello\"\n\n", &format!("kernel = \"hello\"\npassthrough = {list}\n\n"));
    // Not on the board: did you mean, and the list of what is.
    let r = check(&with("[\"pl031@9010000\"]")).unwrap_err();
    let text = r.render();
    assert!(text.contains("no device `pl031@9010000` on board `qemu-virt-aarch64`"), "{text}");
    assert!(text.contains("did you mean `/pl031@9010000`?"), "{text}");
    assert!(
        text.contains("`/pl031@9010000` (PL031 real-time clock) and `/pl061@9030000` (PL061 GPIO controller)"),
        "{text}"
    );
    let e = one_error(&with("[\"/virtio_mmio@a000000\"]"));
    assert_eq!((e.0, e.1, e.2.as_str()), (15, 16, "partition[0].passthrough[0]"));
    // Listed twice in one partition.
    let e = one_error(&with("[\"/pl031@9010000\", \"/pl031@9010000\"]"));
    assert_eq!((e.0, e.1, e.2.as_str()), (15, 34, "partition[0].passthrough[1]"));
    assert!(e.3.contains("listed twice in partition `hello0`"), "{e:?}");
    // Kept by the hypervisor.
    let e = one_error(&with("[\"/intc@8000000\"]"));
    assert!(e.3.contains("it is the GIC"), "{e:?}");
    let e = one_error(&with("[\"/pl011@9000000\"]"));
    assert!(e.3.contains("hypervisor's console UART"), "{e:?}");
    // Wrong type.
    let e = one_error(&with("\"/pl031@9010000\""));
    assert_eq!(e.2, "partition[0].passthrough");
    // Every problem at once.
    let errs = errors(&with("[\"/intc@8000000\", \"/pl011@9000000\", \"/rtc\"]"));
    assert_eq!(errs.len(), 3, "{errs:#?}");
}

#[test]
fn a_device_given_to_two_partitions_shows_both_places() {
    let src = demo_with("kernel = \"hello\"\n\n", "kernel = \"hello\"\npassthrough = [\"/pl031@9010000\"]\n\n")
        .replacen("console = false", "console = false\npassthrough = [\"/pl031@9010000\"]", 1);
    let r = check(&src).unwrap_err();
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 1, "{r}");
    assert_eq!(e[0].field, "partition[1].passthrough[0]");
    assert_eq!(r.line_col(e[0].span.start), (25, 16));
    assert_eq!(e[0].related.len(), 1);
    assert_eq!(r.line_col(e[0].related[0].0.start), (15, 16));
    let text = r.render();
    assert!(text.contains("first given to `hello0` here"), "{text}");
    assert!(text.contains("also given to `hello1`"), "{text}");
}

/// `src` checked on a board of the test's own.
fn check_on(src: &str, board: &'static board_support::Board) -> Report {
    let raw: raw::RawConfig = toml::from_str(src).unwrap();
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: Path::new("/nonexistent") };
    let mut r = Report::new("test.toml", src);
    let system = validate::validate_on(&raw, board, "test", &ctx, &mut r);
    assert_eq!(system.is_some(), !r.has_errors());
    r
}

/// QEMU virt with made-up devices: two sharing SPI 40, one on the console's SPI 1, one at the default RAM IPA,
/// one over the emulated GIC redistributors.
fn odd_board() -> &'static board_support::Board {
    use board_support::{Device, Mmio};
    let leak = |path: &'static str, base: u64, intid: u32| Device {
        path,
        description: "test device",
        regs: Box::leak(Box::new([Mmio { base, size: 0x1000 }])),
        spis: Box::leak(Box::new([intid])),
        compatible: &["test"],
        clocks: &[],
        props: &[],
        dma: path.starts_with("/dma"),
    };
    let devices = vec![
        leak("/a@a000000", 0x0a00_0000, 40),
        leak("/b@a001000", 0x0a00_1000, 40),
        leak("/c@a002000", 0x0a00_2000, 33),
        leak("/ram@40000000", 0x4000_0000, 41),
        leak("/gicr@80a0000", 0x080a_0000, 42),
        leak("/dma@a003000", 0x0a00_3000, 43),
    ];
    let mut board = board_support::qemu_virt_aarch64::BOARD;
    board.devices = Box::leak(devices.into_boxed_slice());
    Box::leak(Box::new(board))
}

#[test]
fn interrupts_and_addresses_of_passed_through_devices() {
    let board = odd_board();
    let two = |first: &str, second: &str| {
        DEMO.replacen("kernel = \"hello\"\n\n", &format!("kernel = \"hello\"\npassthrough = [{first}]\n\n"), 1)
            .replacen("console = false", &format!("console = false\npassthrough = [{second}]"), 1)
    };
    // Two devices sharing SPI 40 in one partition: fine, and the SPI is listed once.
    let r = check_on(&two("\"/a@a000000\", \"/b@a001000\"", ""), board);
    assert!(!r.has_errors(), "{r}");
    // The same SPI in two partitions, with different devices: both places.
    let r = check_on(&two("\"/a@a000000\"", "\"/b@a001000\""), board);
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 1, "{r}");
    assert_eq!(e[0].field, "partition[1].passthrough[0]");
    assert!(
        e[0].message.contains(
            "interrupt 40 of device `/b@a001000` is given to two partitions: `hello0` (with `/a@a000000`) and `hello1`"
        ),
        "{r}"
    );
    assert_eq!(r.line_col(e[0].related[0].0.start), (15, 16));
    // The console UART's interrupt is the hypervisor's.
    let r = check_on(&two("\"/c@a002000\"", ""), board);
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 1, "{r}");
    assert!(
        e[0].message.contains("interrupt 33 of device `/c@a002000` belongs to the hypervisor (`/pl011@9000000`)"),
        "{r}"
    );
    // MMIO over the partition's RAM or its emulated devices.
    let r = check_on(&two("\"/ram@40000000\"", "\"/gicr@80a0000\""), board);
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 2, "{r}");
    assert!(e[0].message.contains("overlaps the RAM of partition `hello0`"), "{r}");
    assert!(e[0].hint.as_deref().unwrap().contains("memory.ipa"), "{r}");
    assert!(e[1].message.contains("overlaps the emulated GIC redistributors of partition `hello1`"), "{r}");
    // Moving RAM clears it.
    let src =
        two("\"/ram@40000000\"", "").replacen("{ size = \"64MiB\" }", "{ size = \"64MiB\", ipa = \"0x80000000\" }", 1);
    let r = check_on(&src, board);
    assert!(!r.has_errors(), "{r}");
    // A device that can master DMA is accepted with a warning naming the partition it exposes memory to.
    let r = check_on(&two("\"/dma@a003000\"", ""), board);
    assert!(!r.has_errors(), "{r}");
    let w: Vec<_> = r.warnings().collect();
    assert_eq!(w.len(), 1, "{r}");
    assert_eq!(w[0].field, "partition[0].passthrough[0]");
    assert!(w[0].message.contains("can master DMA: partition `hello0` can reach all of memory"), "{r}");
    // The devices real boards offer today cannot.
    let r = check_on(&two("\"/a@a000000\"", ""), board);
    assert_eq!(r.warnings().count(), 0, "{r}");
}

/// Every passthrough-able device of every board keeps clear of the emulated devices every partition has.
#[test]
fn board_devices_avoid_the_emulated_devices() {
    for board in board_support::BOARDS {
        for gic in board.gic.versions() {
            let windows = devices::device_windows(gic, board.max_cpus as usize, pv::MAX_PV_DEVICES, true);
            for d in board.devices {
                for m in d.regs {
                    assert!(
                        !windows.iter().any(|(b, l, _)| m.overlaps(*b, *l)),
                        "{}: {} on GICv{}",
                        board.name,
                        d.path,
                        gic.number()
                    );
                }
            }
        }
    }
}

#[test]
fn ramdisks_by_path() {
    let dir = temp_dir("ramdisks");
    std::fs::write(dir.join("initramfs.cpio.gz"), b"070701").unwrap();
    std::fs::create_dir_all(dir.join("subdir")).unwrap();
    let with = |rd: &str| demo_with("kernel = \"hello\"\n\n", &format!("kernel = \"hello\"\nramdisk = \"{rd}\"\n\n"));
    let (s, _) = check_in(&with("initramfs.cpio.gz"), &dir).unwrap();
    assert_eq!(s.partitions[0].ramdisk.as_ref().unwrap().path, dir.join("initramfs.cpio.gz"));
    assert!(s.partitions[1].ramdisk.is_none());
    let (s, _) = check_in(&with("./initramfs.cpio.gz"), &dir).unwrap();
    assert_eq!(s.partitions[0].ramdisk.as_ref().unwrap().path, dir.join("initramfs.cpio.gz"));
    for (rd, msg) in [
        ("missing.cpio", "ramdisk missing: cannot read `missing.cpio`: no such file"),
        ("subdir", "ramdisk `subdir` cannot be used: it is a directory, not a file"),
    ] {
        let r = check_in(&with(rd), &dir).unwrap_err();
        let e: Vec<_> = r.errors().collect();
        assert_eq!(e.len(), 1, "{rd}: {r}");
        assert_eq!(e[0].field, "partition[0].ramdisk");
        assert_eq!(e[0].message, msg);
        assert_eq!(r.line_col(e[0].span.start), (15, 11));
        assert!(e[0].hint.as_deref().unwrap().contains("relative to the config file's directory"), "{r}");
    }
    // A typo'd key is caught like any other.
    let r = check_in(&demo_with("kernel = \"hello\"\n\n", "kernel = \"hello\"\ninitrd = \"x\"\n\n"), &dir).unwrap_err();
    let hint = r.errors().next().unwrap().hint.clone().unwrap();
    assert!(hint.contains("keys allowed here:") && hint.contains("`ramdisk`"), "{hint}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fetched_linux_files_that_are_missing_say_how_to_fetch_them() {
    let dir = temp_dir("fetch").join("configs");
    std::fs::create_dir_all(&dir).unwrap();
    let src = demo_with(
        "kernel = \"hello\"\n\n",
        "kernel = \"../tests/fixtures/cache/arm64/Image\"\nramdisk = \"../tests/fixtures/cache/arm64/initramfs.cpio.gz\"\n\n",
    );
    let r = check_in(&src, &dir).unwrap_err();
    let e: Vec<_> = r.errors().collect();
    assert_eq!(e.len(), 2, "{r}");
    assert_eq!((e[0].field.as_str(), e[1].field.as_str()), ("partition[0].kernel", "partition[0].ramdisk"));
    for d in e {
        let hint = d.hint.as_deref().unwrap();
        assert!(hint.contains("run `tests/fixtures/fetch-linux.sh arm64`"), "{hint}");
        // The path is shown without `configs/..`.
        assert!(d.label.contains("tests/fixtures/cache/arm64/") && !d.label.contains(".."), "{}", d.label);
    }
    assert_eq!(common::fetch_hint(Path::new("/x/tests/fixtures/Image")), None);
    assert!(common::fetch_hint(Path::new("/w/configs/../tests/fixtures/cache/armhf/zImage"))
        .unwrap()
        .contains("fetch-linux.sh armhf"));
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[test]
fn kernel_files_are_sniffed_from_their_header() {
    let dir = temp_dir("sniff");
    // Only the header counts: a short file is refused, a header with nothing after it is an Image.
    std::fs::write(dir.join("short"), b"ARM\x64").unwrap();
    std::fs::write(dir.join("header-only"), testelf::image(0, 0x100_0000, b"")).unwrap();
    let k = |name: &str| demo_with("kernel = \"hello\"", &format!("kernel = \"./{name}\""));
    assert!(check_in(&k("header-only"), &dir).is_ok());
    let r = check_in(&k("short"), &dir).unwrap_err();
    assert!(r.errors().next().unwrap().message.contains("unrecognised file format"), "{r}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The demo on the ARMv7 board.
fn a15_demo() -> String {
    DEMO.replacen("name = \"qemu-virt-aarch64\"", "name = \"qemu-virt-a15\"", 1)
}

#[test]
fn the_armv7_board_has_a_gicv2_only() {
    let (s, report) = check(&a15_demo()).unwrap();
    assert_eq!(report.diags, []);
    assert_eq!(s.board.name, "qemu-virt-a15");
    assert_eq!(s.board.arch, board_support::Arch::Aarch32);
    assert_eq!(s.gic, GicVersion::V2);
    assert_eq!(s.smp(), 2);
    let src = a15_demo().replacen("name = \"qemu-virt-a15\"", "name = \"qemu-virt-a15\"\ngic_version = 2", 1);
    assert_eq!(check(&src).unwrap().0.gic, GicVersion::V2);
    let src = a15_demo().replacen("name = \"qemu-virt-a15\"", "name = \"qemu-virt-a15\"\ngic_version = 3", 1);
    let e = one_error(&src);
    assert_eq!((e.0, e.1, e.2.as_str()), (4, 15, "board.gic_version"));
    assert!(e.3.contains("`qemu-virt-a15` has no GICv3"), "{e:?}");
    // RAM up to 4 GiB, no further.
    let src = a15_demo().replacen("name = \"qemu-virt-a15\"", "name = \"qemu-virt-a15\"\nram_size = \"3GiB\"", 1);
    assert!(check(&src).is_ok());
    let src = a15_demo().replacen("name = \"qemu-virt-a15\"", "name = \"qemu-virt-a15\"\nram_size = \"4GiB\"", 1);
    assert!(one_error(&src).3.contains("cannot have 4 GiB of RAM"));
}

#[test]
fn kernels_for_the_other_architecture_are_refused() {
    let dir = temp_dir("arch-kernels");
    let zimage = testelf::zimage(0x2000, b"code");
    std::fs::write(dir.join("zImage"), &zimage).unwrap();
    std::fs::write(dir.join("guest32.elf"), testelf::build(&[testelf::load(0x4000_8000, zimage)], &[])).unwrap();
    std::fs::write(dir.join("Image"), testelf::image(0x8_0000, 0, b"code")).unwrap();
    let arm64_elf = testelf::build(&[testelf::load(0x4008_0000, testelf::image(0x8_0000, 0, b"code"))], &[]);
    std::fs::write(dir.join("guest64.elf"), arm64_elf).unwrap();
    let kernel = |src: String, k: &str| src.replacen("kernel = \"hello\"", &format!("kernel = \"./{k}\""), 1);

    // ARMv7: zImages, and ELFs that flatten to one.
    for k in ["zImage", "guest32.elf"] {
        let (s, _) = check_in(&kernel(a15_demo(), k), &dir).unwrap_or_else(|r| panic!("{k}: {r}"));
        assert_eq!(s.partitions[0].kernel.source, KernelSource::File(dir.join(k)));
    }
    for (k, what) in [("Image", "is an arm64 Image"), ("guest64.elf", "is an ELF of an arm64 Image")] {
        let r = check_in(&kernel(a15_demo(), k), &dir).unwrap_err();
        let e: Vec<_> = r.errors().collect();
        assert_eq!(e.len(), 1, "{k}: {r}");
        assert_eq!(e[0].field, "partition[0].kernel");
        let want =
            format!("{what}, but board `qemu-virt-a15` runs ARMv7-A (AArch32) partitions: they boot an ARM zImage");
        assert!(e[0].message.contains(&want), "{k}: {}", e[0].message);
        assert!(e[0].hint.as_deref().unwrap().contains("armv7a-none-eabi"), "{k}: {r}");
    }

    // AArch64: the other way round.
    for k in ["Image", "guest64.elf"] {
        assert!(check_in(&kernel(DEMO.to_owned(), k), &dir).is_ok(), "{k}");
    }
    for (k, what) in [("zImage", "is an ARM zImage"), ("guest32.elf", "is an ELF of an ARM zImage")] {
        let r = check_in(&kernel(DEMO.to_owned(), k), &dir).unwrap_err();
        let e: Vec<_> = r.errors().collect();
        assert_eq!(e.len(), 1, "{k}: {r}");
        let want = format!("{what}, but board `qemu-virt-aarch64` runs AArch64 (ARMv8-A) partitions");
        assert!(e[0].message.contains(&want), "{k}: {}", e[0].message);
        assert!(e[0].hint.as_deref().unwrap().contains("aarch64-unknown-none"), "{k}: {r}");
    }
    // Neither: named for the board's format.
    std::fs::write(dir.join("notes.txt"), "hello").unwrap();
    let r = check_in(&kernel(a15_demo(), "notes.txt"), &dir).unwrap_err();
    assert!(
        r.errors().next().unwrap().message.contains("is not an ARM zImage or ELF: unrecognised file format"),
        "{r}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `raw::KEYS` (for did-you-mean hints) lists exactly the keys each raw table accepts, as serde sees them, and
/// `raw::EXAMPLES` has a correct line for each of them.
#[test]
fn keys_and_examples_match_the_raw_tables() {
    fn serde_keys<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
        let e = toml::from_str::<T>("zzz_not_a_key = 1").unwrap_err();
        let m = e.message().to_owned();
        assert!(m.starts_with("unknown field `zzz_not_a_key`"), "{m}");
        m.split_once(", expected ").map_or("", |(_, r)| r).split('`').skip(1).step_by(2).map(str::to_owned).collect()
    }
    let tables: Vec<(&str, Vec<String>)> = vec![
        ("", serde_keys::<raw::RawConfig>()),
        ("board", serde_keys::<raw::RawBoard>()),
        ("hypervisor", serde_keys::<raw::RawHypervisor>()),
        ("pool", serde_keys::<raw::RawPool>()),
        ("pool.windows", serde_keys::<raw::RawWindow>()),
        ("partition", serde_keys::<raw::RawPartition>()),
        ("partition.memory", serde_keys::<raw::RawMemory>()),
        ("partition.disks", serde_keys::<raw::RawDiskAttachment>()),
        ("partition.networks", serde_keys::<raw::RawNetworkAttachment>()),
        ("disk", serde_keys::<raw::RawDisk>()),
        ("network", serde_keys::<raw::RawNetwork>()),
        ("channel", serde_keys::<raw::RawChannel>()),
        ("channel.partitions", serde_keys::<raw::RawChannelMember>()),
    ];
    assert_eq!(tables.len(), raw::KEYS.len());
    for (kind, serde) in &tables {
        let keys = raw::KEYS.iter().find(|(k, _)| k == kind).map(|(_, k)| *k).unwrap_or_else(|| panic!("{kind}"));
        let mut a: Vec<&str> = keys.to_vec();
        let mut b: Vec<&str> = serde.iter().map(String::as_str).collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "keys of `{kind}`");
        for key in keys {
            let path = if kind.is_empty() { (*key).to_owned() } else { format!("{kind}.{key}") };
            let example = raw::EXAMPLES.iter().find(|(k, _)| *k == path).map(|(_, e)| *e);
            let example = example.unwrap_or_else(|| panic!("no example for `{path}`"));
            // A `key = value` line must be valid TOML for that key; a table header is the table's name.
            if example.starts_with('[') {
                assert_eq!(example.trim_matches(['[', ']']), *key, "{path}");
            } else {
                let (k, _) = example.split_once(" = ").unwrap_or_else(|| panic!("{example}"));
                assert_eq!(k, *key, "{path}");
                toml::from_str::<toml::Table>(example).unwrap_or_else(|e| panic!("{example}: {e}"));
            }
        }
    }
    // Lists are tables of the schema.
    for list in raw::LISTS {
        assert!(raw::KEYS.iter().any(|(k, _)| k == list), "{list}");
    }
    // Each example value has the key's type: put into its table, the only complaints are about other keys.
    for (path, example) in raw::EXAMPLES.iter().filter(|(_, e)| !e.starts_with('[')) {
        let (table, _) = path.rsplit_once('.').unwrap_or(("", path));
        let e = match table {
            "board" => toml::from_str::<raw::RawBoard>(example).err(),
            "hypervisor" => toml::from_str::<raw::RawHypervisor>(example).err(),
            "pool" => toml::from_str::<raw::RawPool>(example).err(),
            "pool.windows" => toml::from_str::<raw::RawWindow>(example).err(),
            "partition" => toml::from_str::<raw::RawPartition>(example).err(),
            "partition.memory" => toml::from_str::<raw::RawMemory>(example).err(),
            "partition.disks" => toml::from_str::<raw::RawDiskAttachment>(example).err(),
            "partition.networks" => toml::from_str::<raw::RawNetworkAttachment>(example).err(),
            "disk" => toml::from_str::<raw::RawDisk>(example).err(),
            "network" => toml::from_str::<raw::RawNetwork>(example).err(),
            "channel" => toml::from_str::<raw::RawChannel>(example).err(),
            "channel.partitions" => toml::from_str::<raw::RawChannelMember>(example).err(),
            other => panic!("example for a table of no kind: `{other}`"),
        };
        if let Some(e) = e {
            assert!(e.message().starts_with("missing field"), "{path}: `{example}`: {}", e.message());
        }
    }
}

/// The structural lookup behind every TOML error: a path for each offset, whatever the shape.
#[test]
fn locate_follows_every_toml_shape() {
    let src = "top = 1\n[board]\nname = \"x\"  # c\n[[pool]]\n[[pool]]\nwindows = [\n  { a = 1 },\n  { b = { c = [1, 2] } },\n]\nmemory.size = 3\n\"q k\" = 1\n[pool.sub]\nd = 4\n";
    let at = |needle: &str| locate(src, src.find(needle).unwrap());
    let s = |t: &str, k: Option<&str>| (t.to_owned(), k.map(str::to_owned));
    assert_eq!(at("top"), s("", Some("top")));
    assert_eq!(at("name"), s("board", Some("name")));
    assert_eq!(at("# c"), s("board", None));
    assert_eq!(at("[[pool]]\n[["), s("pool[0]", None));
    assert_eq!(at("[[pool]]\nwin"), s("pool[1]", None));
    assert_eq!(at("a = 1"), s("pool[1].windows[0]", Some("a")));
    assert_eq!(at("c = "), s("pool[1].windows[1].b", Some("c")));
    assert_eq!(at("2]"), s("pool[1].windows[1].b", Some("c[1]")));
    assert_eq!(at("size"), s("pool[1].memory", Some("size")));
    assert_eq!(at("\"q k\""), s("pool[1]", Some("\"q k\"")));
    assert_eq!(at("d = 4"), s("pool[1].sub", Some("d")));
    // Offsets past the end, inside a character and in an unparsable file do not panic.
    let _ = locate(src, usize::MAX);
    let _ = locate("a = \"é", 5);
    let _ = locate("[x\n", 1);
}

// ---- issue 13: names, limits, overflow, special files ----

/// The DEMO with a pool, disk, network and channel of the given names (and partitions of the given names), each
/// used so that no warning but the ones about names comes with it.
fn named(pool: &str, parts: [&str; 2], disk: &str, net: &str, chan: &str) -> String {
    let esc = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '"' | '\\' => format!("\\{c}"),
                c if c.is_control() => format!("\\u{:04X}", u32::from(c)),
                c => c.to_string(),
            })
            .collect()
    };
    let src = DEMO
        .replacen("name = \"rt\"", &format!("name = \"{}\"", esc(pool)), 1)
        .replace("pool = \"rt\"", &format!("pool = \"{}\"", esc(pool)))
        .replacen("name = \"hello0\"", &format!("name = \"{}\"", esc(parts[0])), 1)
        .replacen("name = \"hello1\"", &format!("name = \"{}\"", esc(parts[1])), 1);
    format!(
        "{src}disks = [{{ disk = \"{d}\" }}]\nnetworks = [{{ network = \"{n}\" }}]\n\n[[disk]]\nname = \"{d}\"\nsize = 512\n\n\
         [[network]]\nname = \"{n}\"\nuplink = true\n\n[[channel]]\nname = \"{c}\"\nsize = \"4KiB\"\npartitions = [{{ partition = \"{p}\" }}]\n",
        d = esc(disk),
        n = esc(net),
        c = esc(chan),
        p = esc(parts[0])
    )
}

#[test]
fn every_name_follows_one_rule() {
    let (_, report) = check(&named("rt-pool", ["a0", "b_1"], "d-1", "n_1", "c1")).unwrap();
    assert_eq!(report.diags, [], "{report}");
    let max = "a".repeat(32);
    assert!(check(&named(&max, [&max, "b"], &max, &max, &max)).is_ok());
    for (bad, why) in [
        ("", "it is empty"),
        ("1abc", "it starts with `1`, not a letter"),
        ("-x", "it starts with `-`, not a letter"),
        ("a b", "a space is not allowed in names"),
        ("x\u{202e}y", "`\\u{202e}` is not allowed in names"),
        ("x\u{1b}[31m", "`\\u{1b}` is not allowed in names"),
        ("é", "it starts with `é`, not a letter"),
        ("a.b", "`.` is not allowed in names"),
        (&"a".repeat(33), "it is 33 characters long"),
    ] {
        // The same rule, the same words, for each kind of name.
        for (kind, src) in [
            ("pool", named(bad, ["a", "b"], "d", "n", "c")),
            ("partition", named("rt", [bad, "b"], "d", "n", "c")),
            ("disk", named("rt", ["a", "b"], bad, "n", "c")),
            ("network", named("rt", ["a", "b"], "d", bad, "c")),
            ("channel", named("rt", ["a", "b"], "d", "n", bad)),
        ] {
            let r = check(&src).expect_err(&format!("{kind} {bad:?}"));
            let d = r
                .errors()
                .find(|d| d.message.starts_with(&format!("bad {kind} name")))
                .unwrap_or_else(|| panic!("{kind} {bad:?}: {r}"));
            assert!(d.field.starts_with(kind) && d.field.ends_with(".name"), "{}", d.field);
            assert!(d.message.ends_with(why), "{kind} {bad:?}: {}", d.message);
            assert!(!d.message.contains('\u{202e}') && !d.message.contains('\u{1b}'), "shown raw: {}", d.message);
            assert!(d.hint.as_deref().is_some_and(|h| h.contains("starting with a letter")), "{kind}");
        }
    }
}

#[test]
fn names_that_differ_only_in_case_are_warnings() {
    let (_, report) = check(&named("rt", ["hello0", "Hello0"], "d", "n", "c")).unwrap();
    let w: Vec<_> = report.warnings().collect();
    assert_eq!(w.len(), 1, "{report}");
    assert_eq!(w[0].field, "partition[1].name");
    assert_eq!(w[0].message, "partition names `hello0` and `Hello0` differ only in case");
    assert_eq!(w[0].related.len(), 1);
    // Pools, disks, networks and channels too, each among its own kind.
    let src = named("rt", ["a", "b"], "d", "n", "c")
        .replace("cpus = [0, 1]", "cpus = [0, 1]\n\n[[pool]]\nname = \"RT\"\ncpus = [2]")
        + "\n[[disk]]\nname = \"D\"\nsize = 512\n";
    let (_, report) = check(&src).unwrap();
    let fields: Vec<&str> = report.warnings().map(|d| d.field.as_str()).collect();
    assert!(fields.contains(&"pool[1].name") && fields.contains(&"disk[1].name"), "{report}");
    // Names of different kinds may match: the namespaces are separate.
    assert!(check(&named("a", ["a", "b"], "a", "a", "a")).unwrap().1.diags.is_empty());
    // A partition called `hv` (any case) would print lines that look like hv-static's own.
    for hv in ["hv", "HV"] {
        let (_, report) = check(&named("rt", [hv, "b"], "d", "n", "c")).unwrap();
        let w: Vec<_> = report.warnings().collect();
        assert_eq!(w.len(), 1, "{report}");
        assert!(w[0].message.contains("console lines would look like hv-static's own"), "{}", w[0].message);
    }
}

/// A cyclic pool on CPU 0 of the demo with these windows (the demo's partitions both on CPU 0).
fn one_cpu_cyclic(frame: &str, windows: &str) -> String {
    cyclic(&format!("major_frame = \"{frame}\"\n"), windows)
}

#[test]
fn times_near_2_pow_64_are_errors_not_wraps() {
    // 2^64 - 616 ns + 1 ms wrapped to a small end (accepted by a release build, a panic in a debug one).
    let w = "{ partition = \"hello0\", start = \"18446744073709551000ns\", duration = \"1ms\" },\n\
             { partition = \"hello1\", start = \"5ms\", duration = \"5ms\" },\n";
    let e = one_error(&one_cpu_cyclic("10ms", w));
    assert_eq!(e.2, "pool[0].windows[0].duration");
    assert!(e.3.starts_with("`start` + `duration` is beyond any schedule:"), "{e:?}");
    // Durations that do not fit 64 bits at all.
    let w = "{ partition = \"hello0\", start = \"0ms\", duration = \"99999999999999999999ms\" },\n\
             { partition = \"hello1\", start = \"5ms\", duration = \"5ms\" },\n";
    let e = one_error(&one_cpu_cyclic("10ms", w));
    assert!(e.3.contains("number too large"), "{e:?}");
    // A frame beyond the limit; a period beyond it.
    let e = one_error(&one_cpu_cyclic("1001ms", TWO_WINDOWS));
    assert_eq!(e.2, "pool[0].major_frame");
    assert!(e.3.contains("major frame 1.001 s is too long: at most 1 s"), "{e:?}");
    assert!(check(&one_cpu_cyclic("1s", TWO_WINDOWS)).is_ok());
    let budgets = demo_with("cpus = [0, 1]", "cpus = [0, 1]\nscheduler = \"cyclic\"")
        .replace("vcpus = [1]", "vcpus = [0]")
        .replace("kernel = \"hello\"\n", "kernel = \"hello\"\nbudget = \"2ms\"\nperiod = \"5ms\"\n");
    let e = one_error(&budgets.replacen("period = \"5ms\"", "period = \"18446744073709551615ns\"", 1));
    assert_eq!(e.2, "partition[0].period");
    assert!(e.3.contains("longer than any major frame"), "{e:?}");
    // Periods whose least common multiple is beyond a second, or beyond 64 bits.
    let e = one_error(&budgets.replacen("period = \"5ms\"", "period = \"997us\"", 1).replacen(
        "budget = \"2ms\"",
        "budget = \"100us\"",
        1,
    ));
    assert!(e.3.contains("least common multiple is longer than 1 s"), "{e:?}");
}

#[test]
fn a_synthesized_table_has_at_most_the_window_limit() {
    // Coprime periods in a 1 s frame: thousands of windows.
    let src = demo_with("cpus = [0, 1]", "cpus = [0, 1]\nscheduler = \"cyclic\"\nmajor_frame = \"1s\"")
        .replace("vcpus = [1]", "vcpus = [0]")
        .replacen("kernel = \"hello\"\n", "kernel = \"hello\"\nbudget = \"100us\"\nperiod = \"250us\"\n", 1)
        .replacen(
            "kernel = \"hello\"\nbootargs",
            "kernel = \"hello\"\nbudget = \"100us\"\nperiod = \"200us\"\nbootargs",
            1,
        );
    let e = one_error(&src);
    assert_eq!(e.2, "pool[0].major_frame");
    assert!(e.3.contains("windows: at most 1024"), "{e:?}");
}

#[test]
fn sizes_near_2_pow_64_are_errors_not_wraps() {
    let e = one_error(&demo_with("{ size = \"64MiB\" }", "{ size = \"0x1_0000_0000_0000_0000\" }"));
    assert!(e.3.contains("number too large") && !e.3.contains("not a hex number"), "{e:?}");
    // Unaligned sizes near 2^64: the hint's round-up must not overflow.
    let e = one_error(&demo_with("{ size = \"64MiB\" }", "{ size = \"0xffff_ffff_ffff_ffff\" }"));
    assert!(e.3.contains("misaligned memory"), "{e:?}");
    let e = one_error(&demo_with("{ size = \"64MiB\" }", "{ size = \"64MiB\", ipa = \"0xffff_ffff_ffe0_0000\" }"));
    assert!(e.3.contains("beyond the 39-bit guest-physical address space"), "{e:?}");
    let e = one_error(&demo_with("{ size = \"64MiB\" }", "{ size = \"64MiB\", pa = \"0xffff_ffff_ffe0_0000\" }"));
    assert!(e.3.contains("lies beyond board RAM"), "{e:?}");
    let disk =
        |size: &str| pv_demo(&format!("[[disk]]\nname = \"d\"\nsize = {size}\n"), "disks = [{ disk = \"d\" }]", "");
    let (f, m) = pv_error(&disk("\"0xffff_ffff_ffff_ffff\""));
    assert_eq!(f, "disk[0].size");
    assert!(m.contains("a disk has at most 1 TiB"), "{m}");
    assert!(check(&disk("\"1TiB\"")).is_ok());
    let (_, m) = pv_error(&disk("9223372036854775807"));
    assert!(m.contains("at most 1 TiB"), "{m}");
    let chan = |size: &str| {
        pv_demo(
            &format!("[[channel]]\nname = \"c\"\nsize = {size}\npartitions = [{{ partition = \"hello0\" }}]\n"),
            "",
            "",
        )
    };
    let (f, m) = pv_error(&chan("\"0xffff_ffff_ffff_ffff\""));
    assert_eq!(f, "channel[0].size");
    assert!(m.contains("larger than a partition's guest-physical space"), "{m}");
    let (_, m) = pv_error(&chan("\"0x7f_ffff_ffff\""));
    assert!(m.contains("not a non-zero multiple of 4 KiB"), "{m}");
}

#[test]
fn counts_beyond_the_limits_are_refused_first() {
    use super::limits;
    // 65 partitions: one error, on the 65th, and nothing else checked.
    let parts: String = (0..65)
        .map(|i| format!("[[partition]]\nname = \"p{i}\"\npool = \"nowhere\"\nvcpus = [99]\nmemory = {{ size = 1 }}\nkernel = \"x\"\n"))
        .collect();
    let src = format!("[board]\nname = \"qemu-virt-aarch64\"\n[[pool]]\nname = \"rt\"\ncpus = [0]\n{parts}");
    let e = one_error(&src);
    assert_eq!((e.2.as_str(), e.3.as_str()), ("partition[64]", "too many partitions: 65, at most 64"));
    // More pools than the board has CPUs.
    let pools: String = (0..5).map(|i| format!("[[pool]]\nname = \"q{i}\"\ncpus = [{i}]\n")).collect();
    let src = a15_demo().replace("name = \"qemu-virt-a15\"", "name = \"vexpress-a15\"").replacen(
        "[[pool]]",
        &format!("{pools}[[pool]]"),
        1,
    );
    let e = errors(&src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].2, "pool[4]");
    assert!(e[0].3.starts_with("too many pools: 6, at most 4"), "{e:?}");
    // Lists: vCPUs, windows, passthrough, attachments, channel members; lengths: bootargs, paths.
    let list = |n: usize, item: &str| vec![item; n].join(", ");
    for (src, field) in [
        (demo_with("vcpus = [1]", &format!("vcpus = [{}]", list(65, "1"))), "partition[1].vcpus[64]"),
        (demo_with("cpus = [0, 1]", &format!("cpus = [{}]", list(65, "0"))), "pool[0].cpus[64]"),
        (
            cyclic(
                "major_frame = \"1s\"\n",
                &format!("{},\n", list(1025, "{ partition = \"hello0\", start = \"0ms\", duration = \"1ms\" }")),
            ),
            "pool[0].windows[1024]",
        ),
        (
            demo_with(
                "console = false",
                &format!("console = false\npassthrough = [{}]", list(65, "\"/pl031@9010000\"")),
            ),
            "partition[1].passthrough[64]",
        ),
        (
            demo_with("console = false", &format!("console = false\nnetworks = [{}]", list(33, "{ network = \"n\" }"))),
            "partition[1].networks[32]",
        ),
        (
            demo_with("console = false", &format!("console = false\nmanages = [{}]", list(65, "\"hello0\""))),
            "partition[1].manages[64]",
        ),
        (
            format!(
                "{DEMO}\n[[channel]]\nname = \"c\"\nsize = 4096\npartitions = [{}]\n",
                list(65, "{ partition = \"hello0\" }")
            ),
            "channel[0].partitions[64]",
        ),
    ] {
        let e = one_error(&src);
        assert_eq!(e.2, field);
        assert!(e.3.starts_with("too many "), "{e:?}");
        assert!(e.3.ends_with(&format!("at most {}", e.2.rsplit(['[', ']']).nth(1).unwrap())), "{e:?}");
    }
    let e =
        one_error(&demo_with("bootargs = \"quiet\"", &format!("bootargs = \"{}\"", "x".repeat(limits::BOOTARGS + 1))));
    assert_eq!(
        (e.2.as_str(), e.3.as_str()),
        ("partition[1].bootargs", "bootargs too long: 65537 bytes, at most 65536")
    );
    let e = one_error(&demo_with("kernel = \"hello\"", &format!("kernel = \"./{}\"", "k".repeat(4096))));
    assert_eq!((e.2.as_str(), e.3.as_str()), ("partition[0].kernel", "kernel path too long: 4098 bytes, at most 4096"));
}

#[test]
fn bootargs_longer_than_linux_reads_are_a_warning() {
    let with =
        |src: &str, n: usize| src.replacen("bootargs = \"quiet\"", &format!("bootargs = \"{}\"", "x".repeat(n)), 1);
    // arm64: COMMAND_LINE_SIZE 2048, NUL included.
    assert!(check(&with(DEMO, 2047)).unwrap().1.diags.is_empty());
    let (_, report) = check(&with(DEMO, 2048)).unwrap();
    let w: Vec<_> = report.warnings().collect();
    assert_eq!(w.len(), 1, "{report}");
    assert_eq!(w[0].field, "partition[1].bootargs");
    assert_eq!(w[0].message, "bootargs are 2048 bytes: Linux on arm64 reads at most 2047");
    // 32-bit arm: 1024.
    assert!(check(&with(&a15_demo(), 1023)).unwrap().1.diags.is_empty());
    let (_, report) = check(&with(&a15_demo(), 1024)).unwrap();
    assert!(report.warnings().next().unwrap().message.contains("Linux on 32-bit arm reads at most 1023"), "{report}");
    let e = one_error(&DEMO.replacen("bootargs = \"quiet\"", "bootargs = \"a\\u0000b\"", 1));
    assert!(e.3.contains("NUL"), "{e:?}");
}

#[test]
fn a_network_with_one_port_and_no_uplink_is_a_warning() {
    let src = pv_demo("[[network]]\nname = \"lan\"\n", "networks = [{ network = \"lan\" }]", "");
    let (_, report) = check(&src).unwrap();
    let w: Vec<_> = report.warnings().collect();
    assert_eq!(w.len(), 1, "{report}");
    assert_eq!(w[0].field, "network[0]");
    assert_eq!(w[0].message, "network `lan` connects only partition `hello0`: it has nothing to talk to");
    // With an uplink, or a second member, it has someone to talk to.
    assert!(check(&src.replace("name = \"lan\"\n", "name = \"lan\"\nuplink = true\n")).unwrap().1.diags.is_empty());
    let two = pv_demo(
        "[[network]]\nname = \"lan\"\n",
        "networks = [{ network = \"lan\" }]",
        "networks = [{ network = \"lan\" }]",
    );
    assert!(check(&two).unwrap().1.diags.is_empty());
}

#[test]
fn special_files_are_refused_for_what_they_are_before_any_read() {
    let dir = temp_dir("special");
    let fifo = dir.join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    assert!(made, "mkfifo");
    std::fs::create_dir_all(dir.join("subdir")).unwrap();
    let cases: [(&str, &str); 5] = [
        ("pipe", "it is a named pipe (FIFO), not a regular file"),
        ("subdir", "it is a directory, not a file"),
        ("/dev/zero", "it is a character device, not a regular file"),
        ("/proc/self/status", "files under /proc, /sys and /dev are not accepted as inputs"),
        ("/sys/kernel/notes", "files under /proc, /sys and /dev are not accepted as inputs"),
    ];
    let disk =
        |img: &str| pv_demo(&format!("[[disk]]\nname = \"d\"\nimage = \"{img}\"\n"), "disks = [{ disk = \"d\" }]", "");
    for (path, why) in cases {
        let path = if path.starts_with('/') { path.to_owned() } else { format!("./{path}") };
        for (what, field, src) in [
            ("kernel", "partition[0].kernel", demo_with("kernel = \"hello\"", &format!("kernel = \"{path}\""))),
            (
                "ramdisk",
                "partition[1].ramdisk",
                demo_with("console = false", &format!("console = false\nramdisk = \"{path}\"")),
            ),
            (
                "device-tree overlay",
                "partition[1].dt_overlay",
                demo_with("console = false", &format!("console = false\ndt_overlay = \"{path}\"")),
            ),
            ("disk image", "disk[0].image", disk(&path)),
        ] {
            let start = std::time::Instant::now();
            let r = check_in(&src, &dir).unwrap_err();
            assert!(start.elapsed() < std::time::Duration::from_secs(5), "{what} {path}: slow");
            let e: Vec<_> = r.errors().collect();
            assert_eq!(e.len(), 1, "{what} {path}: {r}");
            assert_eq!(e[0].field, field);
            assert_eq!(e[0].message, format!("{what} `{path}` cannot be used: {why}"), "{what} {path}");
            assert!(!e[0].message.contains("missing"), "{}", e[0].message);
        }
    }
    // "missing" only when there is nothing there.
    let r = check_in(&demo_with("kernel = \"hello\"", "kernel = \"./gone\""), &dir).unwrap_err();
    assert_eq!(r.errors().next().unwrap().message, "kernel missing: cannot read `./gone`: no such file");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_names_far_from_any_get_no_costly_suggestion() {
    // A reference of 100 000 characters: no edit distance against it (that would take seconds per candidate).
    let long = "q".repeat(100_000);
    let start = std::time::Instant::now();
    let e = one_error(&demo_with("pool = \"rt\"\nvcpus = [1]", &format!("pool = \"{long}\"\nvcpus = [1]")));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(e.2, "partition[1].pool");
    assert!(e.3.len() < 200, "the message quotes it shortened: {}", e.3);
    // A near miss still gets its suggestion.
    let r = check(&demo_with("pool = \"rt\"\nvcpus = [1]", "pool = \"tr\"\nvcpus = [1]")).unwrap_err();
    assert!(r.errors().next().unwrap().hint.as_deref().unwrap().contains("did you mean `rt`?"), "{r}");
}

/// `board.boot_image` is resolved against the config's directory, on a board whose U-Boot comes inside the user's
/// image; an empty path is refused.
#[test]
fn a_zcu102_config_names_its_boot_bin() {
    let src = |path: &str| {
        format!(
            "[board]\nname = \"xlnx-zcu102\"\nboot_image = \"{path}\"\n[[pool]]\nname = \"rt\"\ncpus = [0]\n\
             [[partition]]\nname = \"hello0\"\npool = \"rt\"\nvcpus = [0]\nmemory = {{ size = \"64MiB\" }}\nkernel = \"hello\"\n"
        )
    };
    let (system, _) = check_in(&src("../boot/BOOT.BIN"), Path::new("/work/configs")).unwrap();
    assert_eq!(system.boot_image.as_deref(), Some(Path::new("/work/configs/../boot/BOOT.BIN")));
    let report = check(&src(" ")).unwrap_err();
    let e = report.errors().next().unwrap();
    assert_eq!((e.field.as_str(), e.message.as_str()), ("board.boot_image", "empty path"));
}
