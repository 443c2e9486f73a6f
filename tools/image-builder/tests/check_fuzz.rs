//! The config checker cannot be broken by its input. Two property tests feed `config::check_source`
//!
//! - (a) TOML documents built from plausible tables, keys and values, in every shape TOML has (tables, arrays of
//!   tables, inline tables, dotted keys), with huge and negative numbers, strings with control characters and
//!   unicode, sizes and times that overflow, and paths to special files (a FIFO, `/dev/zero`, `/proc`);
//! - (b) every config of `configs/` and `configs/bad/`, mutated: bytes flipped, lines deleted, duplicated or
//!   swapped, numbers replaced by extremes (`18446744073709551615`, `-1`, `0x7fffffffffffffff`,
//!   `"99999999999999999999ms"`), values swapped between keys, the file cut short;
//!
//! and require of each answer: no panic, an answer within a time bound (the check runs on a thread of its own, so a
//! check stuck reading a FIFO fails the test instead of hanging it), and every diagnostic located: a span inside
//! the source on character boundaries (not the empty `0..0` placeholder, unless the file is empty), a field and a
//! message; a refusal has at least one error, and the report renders.
//!
//! Case counts keep a debug build under half a minute on two cores; `PROPTEST_CASES=N` runs N cases of each.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use image_builder::config::{check_source, Context};
use image_builder::diag::Report;
use image_builder::guests::GuestCatalog;
use image_builder::workspace_root;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Per case, for a debug build on a loaded machine: a check takes milliseconds.
const CASE_BOUND: Duration = Duration::from_secs(10);

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A directory with a FIFO in it (configs may name it) and the guests of the workspace.
struct World {
    guests: Arc<GuestCatalog>,
    fifo: PathBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        // In the target's scratch directory, made once and kept (a FIFO is never read, so it stays empty).
        let fifo = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("check-fuzz-pipe");
        if !fifo.exists() {
            let _ = std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR"));
            let _ = std::process::Command::new("mkfifo").arg(&fifo).status();
        }
        World { guests: Arc::new(GuestCatalog::scan(&workspace_root())), fifo }
    })
}

/// What one check said, or how it failed.
enum Outcome {
    Answered(Result<(), ()>, Report),
    Panicked(String),
    TimedOut,
}

/// Checks `src` as a config in `base_dir`, on a thread of its own so that a hang is a failure, not a stuck test.
fn check(src: &str, base_dir: &Path) -> (Outcome, Duration) {
    let (tx, rx) = mpsc::channel();
    let guests = Arc::clone(&world().guests);
    let base = base_dir.to_owned();
    let text = src.to_owned();
    let start = Instant::now();
    let spawned = std::thread::Builder::new().name("check".into()).spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let ctx = Context { guests: &guests, base_dir: &base };
            let result = check_source("fuzz.toml", &text, "fuzz", &ctx);
            let (verdict, report) = match result {
                Ok((_, report)) => (Ok(()), report),
                Err(report) => (Err(()), report),
            };
            // Rendering is part of the answer: a span it cannot show would panic here.
            let _ = report.render();
            (verdict, report)
        }));
        let _ = tx.send(result);
    });
    if spawned.is_err() {
        return (Outcome::Panicked("cannot start a thread".into()), start.elapsed());
    }
    let outcome = match rx.recv_timeout(CASE_BOUND) {
        Ok(Ok((verdict, report))) => Outcome::Answered(verdict, report),
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Outcome::Panicked(msg)
        }
        // The thread is left behind (stuck, most likely on a read): the test fails anyway.
        Err(_) => Outcome::TimedOut,
    };
    (outcome, start.elapsed())
}

/// The properties every answer has; `Ok(true)` when the config was accepted.
fn answers_well(src: &str, base_dir: &Path) -> Result<bool, TestCaseError> {
    let (outcome, took) = check(src, base_dir);
    let (verdict, report) = match outcome {
        Outcome::Answered(v, r) => (v, r),
        Outcome::Panicked(msg) => return Err(TestCaseError::fail(format!("check panicked: {msg}"))),
        Outcome::TimedOut => return Err(TestCaseError::fail(format!("no answer within {CASE_BOUND:?}"))),
    };
    prop_assert!(took < CASE_BOUND, "took {took:?}");
    if verdict.is_err() {
        prop_assert!(report.has_errors(), "refused without an error:\n{}", report.render());
    }
    for d in &report.diags {
        let spans = std::iter::once(&d.span).chain(d.related.iter().map(|(s, _)| s));
        for span in spans {
            prop_assert!(
                span.start <= span.end && span.end <= src.len(),
                "span {span:?} outside the {}-byte source: {} ({})",
                src.len(),
                d.message,
                d.field
            );
            prop_assert!(
                src.is_char_boundary(span.start) && src.is_char_boundary(span.end),
                "span {span:?} splits a character: {} ({})",
                d.message,
                d.field
            );
        }
        prop_assert!(
            src.is_empty() || d.span != (0..0),
            "a 0..0 placeholder span in a non-empty file: {} ({})",
            d.message,
            d.field
        );
        prop_assert!(!d.field.trim().is_empty(), "no field: {}", d.message);
        prop_assert!(!d.message.trim().is_empty(), "no message on {}", d.field);
    }
    Ok(verdict.is_ok())
}

// ---- (a) documents from a grammar of plausible tables, keys and values ----

/// A TOML value as written.
#[derive(Clone, Debug)]
enum V {
    /// Written as is: numbers (also beyond 64 bits), booleans, floats, odd literals.
    Raw(String),
    /// A basic string, escaped (control characters as `\uXXXX`).
    Str(String),
    /// A literal string (`'...'`), when it has no `'` or newline.
    Literal(String),
    Arr(Vec<V>),
    Inline(Vec<(String, V)>),
}

fn key_text(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.') {
        k.to_owned()
    } else {
        V::Str(k.to_owned()).text()
    }
}

impl V {
    fn text(&self) -> String {
        match self {
            V::Raw(r) => r.clone(),
            V::Str(s) => {
                let mut out = String::from("\"");
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                        c => out.push(c),
                    }
                }
                out.push('"');
                out
            }
            V::Literal(s) if !s.contains('\'') && !s.chars().any(char::is_control) => format!("'{s}'"),
            V::Literal(s) => V::Str(s.clone()).text(),
            V::Arr(items) => format!("[{}]", items.iter().map(V::text).collect::<Vec<_>>().join(", ")),
            V::Inline(kv) => {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("{} = {}", key_text(k), v.text())).collect();
                format!("{{ {} }}", body.join(", "))
            }
        }
    }
}

fn pick(options: &'static [&'static str]) -> BoxedStrategy<String> {
    proptest::sample::select(options).prop_map(str::to_owned).boxed()
}

/// `Some` of `s` with probability `p` (0 and 1 included).
fn maybe<S: Strategy + 'static>(p: f64, s: S) -> BoxedStrategy<Option<S::Value>>
where
    S::Value: Clone + std::fmt::Debug,
{
    if p >= 1.0 {
        s.prop_map(Some).boxed()
    } else if p <= 0.0 {
        Just(None).boxed()
    } else {
        proptest::option::weighted(p, s).boxed()
    }
}

/// `true` with probability `p` (0 and 1 included).
fn chance(p: f64) -> BoxedStrategy<bool> {
    if p >= 1.0 || p <= 0.0 {
        Just(p >= 1.0).boxed()
    } else {
        proptest::bool::weighted(p).boxed()
    }
}

/// Names most documents use, so that references often resolve and the rules behind them run.
const COMMON: &[&str] = &["hello0", "hello1", "p2", "rt", "best", "lan", "d", "c"];
const ACCESS: &[&str] = &["r", "rw", "ro", "rw"];
const NAMES: &[&str] = &[
    "hello0",
    "hello1",
    "rt",
    "best",
    "lan",
    "wan",
    "d",
    "data",
    "c",
    "ctl",
    "linux",
    "Hello0",
    "HELLO1",
    "hv",
    "HV",
    "",
    " ",
    "a b",
    "0abc",
    "-x",
    "é",
    "x\u{202e}y",
    "x\u{0}y",
    "a\nb",
    "\u{1b}[31mred",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];
const SIZES: &[&str] = &[
    "64MiB",
    "4MiB",
    "2MiB",
    "1GiB",
    "0x4000000",
    "4KiB",
    "512",
    "0",
    "1.5M",
    "-1",
    "64MB",
    "16EiB",
    "1_0",
    "0x1_0000_0000_0000_0000",
    "0xffff_ffff_ffff_fe00",
    "0xfffffffffffff000",
    "99999999999999999999",
    "18446744073709551615",
    "99999999999T",
    "17179869184T",
    "0x",
    "_1",
    "1 G",
    "+5",
    "0x+5",
];
const TIMES: &[&str] = &[
    "10ms",
    "1ms",
    "2ms",
    "100us",
    "500µs",
    "1s",
    "0ms",
    "1.5ms",
    "-1ms",
    "99999999999999999999ms",
    "18446744073709551615ns",
    "18446744073709551ms",
    "18446744073709551000ns",
    "18446744073s",
    "1000000s",
    "ms",
    "10",
    "50us",
    "999999us",
    "1_000ns",
    "3ms",
    "7ms",
    "997us",
    "991us",
];
const ADDRS: &[&str] = &[
    "0x40000000",
    "0x4020_0000",
    "0x0a000000",
    "0xffffffffffffffff",
    "0x7fffffffffffffff",
    "0b1",
    "0o7",
    "-0x1",
    "1G",
];
const PATHS: &[&str] = &[
    "hello",
    "probe",
    "helo",
    "./Image",
    ".",
    "..",
    "/",
    "/dev/zero",
    "/dev/null",
    "/dev/stdin",
    "/proc/self/status",
    "/proc/self/mem",
    "/sys/kernel/notes",
    "bad/not-a-kernel.txt",
    "bad/tiny-zimage.bin",
    "bad/tiny-ramdisk.cpio",
    "bad/bss-heavy-kernel.bin",
    "overlays/hv-demo.dtbo",
    "bad/overlay-memory.dtbo",
    "disks/persist-label.raw",
    "../tests/fixtures/cache/arm64/Image",
    "/nonexistent/file",
    "FIFO",
];
const WORDS: &[&str] = &[
    "cyclic",
    "pinned",
    "trap",
    "native",
    "ro",
    "rw",
    "r",
    "ram",
    "host",
    "stop",
    "restart",
    "debug",
    "info",
    "uart0",
    "qemu-virt-aarch64",
    "qemu-virt-a15",
    "orangepi-pc",
    "vexpress-a15",
    "/pl031@9010000",
    "/intc@8000000",
    "/pl011@9000000",
    "52:54:00:12:34:56",
    "01:00:5e:00:00:01",
    "00:00:00:00:00:00",
    "zz:zz",
];
/// Integers TOML reads as 64-bit ones.
const INTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "8",
    "9",
    "-1",
    "512",
    "4096",
    "67108864",
    "9223372036854775807",
    "-9223372036854775808",
    "0x7fffffffffffffff",
    "0b11",
    "0o17",
    "+3",
];
/// Number-like literals that are not 64-bit integers, and values of other types.
const ODD: &[&str] = &[
    "18446744073709551615",
    "9223372036854775808",
    "0xffffffffffffffff",
    "1e400",
    "inf",
    "nan",
    "-0.0",
    "3.5",
    "true",
    "false",
    "1979-05-27",
    "07:32:00",
    "-0x1",
];

fn any_string() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-z0-9_.:/-]{0,12}",
        ".{0,8}",
        proptest::collection::vec(any::<char>(), 0..6).prop_map(|v| v.into_iter().collect()),
        (1usize..5000).prop_map(|n| "a".repeat(n)),
    ]
    .boxed()
}

fn string_of(kind: &'static [&'static str]) -> BoxedStrategy<V> {
    prop_oneof![6 => pick(kind).prop_map(V::Str), 1 => pick(kind).prop_map(V::Literal), 1 => any_string().prop_map(V::Str)]
        .boxed()
}

/// A name of a table of `kind` (or a reference to one): usually one of the two or three most documents share.
fn name(kind: &str) -> BoxedStrategy<V> {
    let usual: &'static [&'static str] = match kind {
        "pool" => &["rt", "best"],
        "partition" => &["hello0", "hello1", "p2"],
        "disk" => &["d", "data"],
        "network" => &["lan", "wan"],
        "channel" => &["c", "ctl"],
        _ => COMMON,
    };
    prop_oneof![12 => pick(usual).prop_map(V::Str), 1 => pick(COMMON).prop_map(V::Str), 2 => string_of(NAMES)].boxed()
}

/// A 64-bit integer as TOML writes it.
fn int() -> BoxedStrategy<V> {
    prop_oneof![4 => pick(INTS).prop_map(V::Raw), 1 => any::<i64>().prop_map(|n| V::Raw(n.to_string()))].boxed()
}

fn boolean() -> BoxedStrategy<V> {
    any::<bool>().prop_map(|b| V::Raw(b.to_string())).boxed()
}

fn small_ints(max_len: usize) -> BoxedStrategy<V> {
    prop_oneof![
        8 => proptest::collection::vec((0i64..4).prop_map(|n| V::Raw(n.to_string())), 0..3),
        1 => proptest::collection::vec((0i64..9).prop_map(|n| V::Raw(n.to_string())), 0..9),
        1 => proptest::collection::vec(int(), 0..max_len),
    ]
    .prop_map(V::Arr)
    .boxed()
}

/// Any value at all, nested a little (most of them the wrong type for the key they land on).
fn any_value() -> BoxedStrategy<V> {
    let leaf = prop_oneof![
        int(),
        pick(ODD).prop_map(V::Raw),
        string_of(NAMES),
        string_of(SIZES),
        string_of(TIMES),
        string_of(PATHS),
        string_of(WORDS),
        any_string().prop_map(V::Str),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(V::Arr),
            proptest::collection::vec(("[a-z_]{1,10}", inner), 0..5).prop_map(V::Inline),
        ]
    })
    .boxed()
}

/// An inline table: required fields always, optional ones often; when `noisy`, now and then a stray key.
fn inline(
    required: Vec<(&'static str, BoxedStrategy<V>)>,
    optional: Vec<(&'static str, BoxedStrategy<V>)>,
    noisy: bool,
) -> BoxedStrategy<V> {
    let req: Vec<BoxedStrategy<(String, V)>> =
        required.into_iter().map(|(k, s)| s.prop_map(move |v| (k.to_owned(), v)).boxed()).collect();
    let opt: Vec<BoxedStrategy<Option<(String, V)>>> =
        optional.into_iter().map(|(k, s)| maybe(0.5, s.prop_map(move |v| (k.to_owned(), v))).boxed()).collect();
    let stray = maybe(if noisy { 0.1 } else { 0.0 }, ("[a-z_]{1,8}", any_value()));
    (req, opt, stray)
        .prop_map(|(req, opt, stray)| {
            V::Inline(req.into_iter().chain(opt.into_iter().flatten()).chain(stray).collect())
        })
        .boxed()
}

fn list_of(item: BoxedStrategy<V>, max: usize) -> BoxedStrategy<V> {
    proptest::collection::vec(item, 0..max).prop_map(V::Arr).boxed()
}

/// A value of the right type for `key` of `table`; when `noisy`, anything at all now and then.
fn value_for(table: &str, key: &str, noisy: bool) -> BoxedStrategy<V> {
    let size = || prop_oneof![3 => string_of(SIZES), 1 => int()].boxed();
    let addr = || prop_oneof![3 => string_of(ADDRS), 1 => int()].boxed();
    let fitting: BoxedStrategy<V> = match (table, key) {
        ("board", "name") => prop_oneof![8 => Just(V::Str("qemu-virt-aarch64".into())), 2 => string_of(WORDS)].boxed(),
        (kind, "name") => name(kind),
        (_, reference @ ("pool" | "partition" | "disk" | "network")) => name(reference),
        (_, "cpus" | "vcpus") => small_ints(80),
        (_, "gic_version") => int(),
        (_, "ram_size" | "memory_budget" | "size") => size(),
        (_, "major_frame" | "budget" | "period" | "start" | "duration") => string_of(TIMES),
        (_, "kernel") => prop_oneof![3 => Just(V::Str("hello".into())), 1 => string_of(PATHS)].boxed(),
        (_, "ramdisk" | "dt_overlay" | "image") => string_of(PATHS),
        (_, "scheduler") => {
            prop_oneof![4 => pick(&["cyclic", "pinned"]).prop_map(V::Str), 1 => string_of(WORDS)].boxed()
        }
        (_, "wfi" | "on_fault" | "log_level" | "backing" | "access" | "mac") => string_of(WORDS),
        ("hypervisor", "console") => string_of(WORDS),
        (_, "console" | "uplink") => boolean(),
        (_, "bootargs") => prop_oneof![string_of(WORDS), (0usize..3000).prop_map(|n| V::Str("x".repeat(n)))].boxed(),
        (_, "passthrough") => list_of(string_of(WORDS), 4),
        (_, "memory") => inline(vec![("size", size())], vec![("ipa", addr()), ("pa", addr())], noisy),
        (_, "windows") => list_of(
            inline(
                vec![("partition", name("partition")), ("start", string_of(TIMES)), ("duration", string_of(TIMES))],
                vec![("cpus", small_ints(8))],
                noisy,
            ),
            8,
        ),
        (_, "disks") => list_of(
            inline(vec![("disk", name("disk"))], vec![("access", pick(ACCESS).prop_map(V::Str).boxed())], noisy),
            4,
        ),
        (_, "networks") => {
            list_of(inline(vec![("network", name("network"))], vec![("mac", string_of(WORDS))], noisy), 4)
        }
        (_, "partitions") => list_of(
            inline(
                vec![("partition", name("partition"))],
                vec![("access", pick(ACCESS).prop_map(V::Str).boxed())],
                noisy,
            ),
            4,
        ),
        _ => any_value(),
    };
    if noisy {
        prop_oneof![12 => fitting, 1 => any_value()].boxed()
    } else {
        fitting
    }
}

/// The keys each table takes: required ones first.
fn keys_of(table: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match table {
        "board" => (&["name"], &["gic_version", "ram_size"]),
        "hypervisor" => (&[], &["console", "log_level", "memory_budget"]),
        "pool" => (&["name", "cpus"], &["scheduler", "wfi", "major_frame", "windows"]),
        "partition" => (
            &["name", "pool", "vcpus", "memory", "kernel"],
            &[
                "ramdisk",
                "bootargs",
                "console",
                "on_fault",
                "passthrough",
                "dt_overlay",
                "budget",
                "period",
                "disks",
                "networks",
            ],
        ),
        "disk" => (&["name"], &["image", "size", "backing"]),
        "network" => (&["name"], &["uplink"]),
        "channel" => (&["name", "size", "partitions"], &[]),
        _ => (&["name"], &["size", "x"]),
    }
}

/// One table as text: `[name]` or `[[name]]`, then its entries; when `noisy`, keys go missing, repeat, or stray
/// ones and dotted keys (`memory.size = ...`) join them.
fn table(name: &'static str, array: bool, noisy: bool) -> BoxedStrategy<String> {
    let (required, optional) = keys_of(name);
    let keep_required = if noisy { 0.9 } else { 1.0 };
    let entries: Vec<BoxedStrategy<Option<(String, V)>>> = required
        .iter()
        .map(|k| (k, keep_required))
        .chain(optional.iter().map(|k| (k, 0.35)))
        .map(|(k, p)| maybe(p, value_for(name, k, noisy).prop_map(move |v| (k.to_string(), v))).boxed())
        .collect();
    let extra = proptest::collection::vec(
        prop_oneof![
            ("[a-z_]{1,10}", any_value()).prop_map(|(k, v)| format!("{k} = {}", v.text())),
            (string_of(SIZES), string_of(ADDRS)).prop_map(|(s, a)| format!(
                "memory.size = {}\nmemory.ipa = {}",
                s.text(),
                a.text()
            )),
            Just("# a comment".to_owned()),
            Just(String::new()),
        ],
        0..if noisy { 2 } else { 1 },
    );
    (entries, extra, chance(if noisy { 0.1 } else { 0.0 }))
        .prop_map(move |(entries, extra, dup)| {
            let mut s = if array { format!("[[{name}]]\n") } else { format!("[{name}]\n") };
            let entries: Vec<(String, V)> = entries.into_iter().flatten().collect();
            for (k, v) in &entries {
                s.push_str(&format!("{} = {}\n", key_text(k), v.text()));
            }
            if dup {
                if let Some((k, v)) = entries.first() {
                    s.push_str(&format!("{} = {}\n", key_text(k), v.text()));
                }
            }
            for e in extra {
                s.push_str(&e);
                s.push('\n');
            }
            s
        })
        .boxed()
}

/// A whole document: a board, maybe a hypervisor table, pools, partitions and PV tables. Most documents keep to
/// the schema (so every rule behind the parser runs on their values); noisy ones also break it, with stray keys
/// and tables, wrong types and tables in any order.
fn document() -> impl Strategy<Value = String> {
    chance(0.25)
        .prop_flat_map(|noisy| {
            (
                maybe(if noisy { 0.9 } else { 1.0 }, table("board", false, noisy)),
                maybe(0.3, table("hypervisor", false, noisy)),
                proptest::collection::vec(table("pool", true, noisy), 0..4),
                proptest::collection::vec(table("partition", true, noisy), 0..5),
                proptest::collection::vec(table("disk", true, noisy), 0..3),
                proptest::collection::vec(table("network", true, noisy), 0..3),
                proptest::collection::vec(table("channel", true, noisy), 0..3),
                maybe(
                    if noisy { 0.3 } else { 0.0 },
                    prop_oneof![table("stray", false, true), table("pool", false, true), table("board", true, true)],
                ),
                maybe(
                    if noisy { 0.3 } else { 0.0 },
                    ("[a-z]{1,6}", any_value()).prop_map(|(k, v)| format!("{k} = {}\n", v.text())),
                ),
                chance(if noisy { 0.5 } else { 0.0 }),
            )
        })
        .prop_map(|(board, hv, pools, parts, disks, nets, chans, stray, top, reverse)| {
            let mut tables: Vec<String> = board.into_iter().chain(hv).collect();
            tables.extend(pools);
            tables.extend(parts);
            tables.extend(disks);
            tables.extend(nets);
            tables.extend(chans);
            tables.extend(stray);
            if reverse {
                tables.reverse();
            }
            let mut s = top.unwrap_or_default();
            s.push_str(&tables.join("\n"));
            // The FIFO's real path, wherever the document names it.
            s.replace("\"FIFO\"", &V::Str(world().fifo.display().to_string()).text())
        })
}

/// `normal` most of the time, one of `odd` otherwise.
fn usually(normal: &'static str, odd: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![5 => Just(normal.to_owned()), 1 => pick(odd)].boxed()
}

/// A time: a listed extreme or odd one, or a plain one of a few units.
fn time() -> BoxedStrategy<String> {
    prop_oneof![
        1 => pick(TIMES),
        3 => (1u64..20, proptest::sample::select(&["ms", "00us", "000us"][..])).prop_map(|(n, u)| format!("{n}{u}")),
    ]
    .boxed()
}

/// A document that is right but for its values: one pool (pinned, or cyclic with windows or budgets) whose
/// partitions all exist and run on its CPUs, PV tables that partitions attach by their real names; sizes, times,
/// addresses and paths drawn from the lists above. Many are accepted, so the rules that run last (schedules,
/// placement, PV conflicts) see extreme values too.
fn coherent() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(&["qemu-virt-aarch64", "qemu-virt-a15", "vexpress-a15"][..]),
        1usize..4,
        1usize..4,
        0u8..3,
        proptest::collection::vec((time(), time(), 0usize..4, maybe(0.2, 0u32..4)), 1..6),
        proptest::collection::vec(
            (usually("64MiB", SIZES), maybe(0.1, pick(ADDRS)), maybe(0.1, pick(ADDRS)), usually("hello", PATHS),
             maybe(0.1, pick(PATHS)), time(), time(), maybe(0.1, (0usize..3000).prop_map(|n| "y".repeat(n)))),
            4,
        ),
        (time(), maybe(0.2, pick(SIZES)), maybe(0.2, pick(PATHS)), usually("52:54:00:12:34:56", WORDS), chance(0.1), usually("4KiB", SIZES)),
    )
        .prop_map(|(board, cpus, parts, mode, windows, props, (frame, disk_size, disk_image, mac, uplink, chan_size))| {
            let cpu_list: Vec<String> = (0..cpus).map(|c| c.to_string()).collect();
            let scheduler = ["pinned", "cyclic", "cyclic"][usize::from(mode)];
            let mut s = format!("[board]\nname = \"{board}\"\n\n[[pool]]\nname = \"rt\"\ncpus = [{}]\nscheduler = \"{scheduler}\"\n", cpu_list.join(", "));
            if mode == 1 {
                s.push_str(&format!("major_frame = \"{frame}\"\nwindows = [\n"));
                for (start, duration, p, cpu) in &windows {
                    let cpus = cpu.map_or(String::new(), |c| format!(", cpus = [{c}]"));
                    s.push_str(&format!("  {{ partition = \"p{}\", start = \"{start}\", duration = \"{duration}\"{cpus} }},\n", p % parts));
                }
                s.push_str("]\n");
            }
            for (i, (size, ipa, pa, kernel, ramdisk, budget, period, bootargs)) in props.iter().take(parts).enumerate() {
                let cpu = if mode == 0 { i % cpus } else { 0 };
                s.push_str(&format!("\n[[partition]]\nname = \"p{i}\"\npool = \"rt\"\nvcpus = [{cpu}]\nmemory = {{ size = {}", V::Str(size.clone()).text()));
                if let Some(a) = ipa {
                    s.push_str(&format!(", ipa = \"{a}\""));
                }
                if let Some(a) = pa {
                    s.push_str(&format!(", pa = \"{a}\""));
                }
                s.push_str(&format!(" }}\nkernel = {}\n", V::Str(kernel.clone()).text()));
                if let Some(r) = ramdisk {
                    s.push_str(&format!("ramdisk = {}\n", V::Str(r.clone()).text()));
                }
                if mode == 2 {
                    s.push_str(&format!("budget = \"{budget}\"\nperiod = \"{period}\"\n"));
                }
                if let Some(b) = bootargs {
                    s.push_str(&format!("bootargs = \"{b}\"\n"));
                }
                s.push_str(&format!("disks = [{{ disk = \"d\", access = \"ro\" }}]\nnetworks = [{{ network = \"lan\", mac = {} }}]\n", V::Str(if i == 0 { mac.clone() } else { "02:00:00:00:00:0".to_owned() + &i.to_string() }).text()));
            }
            s.push_str("\n[[disk]]\nname = \"d\"\n");
            match (disk_size, disk_image) {
                (_, Some(image)) => s.push_str(&format!("image = {}\n", V::Str(image).text())),
                (Some(size), None) => s.push_str(&format!("size = {}\n", V::Str(size).text())),
                (None, None) => s.push_str("size = \"1MiB\"\n"),
            }
            s.push_str(&format!("\n[[network]]\nname = \"lan\"\nuplink = {uplink}\n"));
            s.push_str(&format!("\n[[channel]]\nname = \"c\"\nsize = {}\npartitions = [{{ partition = \"p0\" }}]\n", V::Str(chan_size).text()));
            s.replace("\"FIFO\"", &V::Str(world().fifo.display().to_string()).text())
        })
}

fn configs_dir() -> PathBuf {
    workspace_root().join("configs")
}

#[test]
fn generated_documents_get_located_answers() {
    let mut runner = TestRunner::new(Config { cases: cases(3000), failure_persistence: None, ..Config::default() });
    let dir = configs_dir();
    let accepted = std::cell::Cell::new(0u32);
    let result = runner.run(&prop_oneof![document(), coherent()], |src| {
        if answers_well(&src, &dir).map_err(|e| TestCaseError::fail(format!("{e}\n--- config ---\n{src}")))? {
            accepted.set(accepted.get() + 1);
        }
        Ok(())
    });
    eprintln!("generated documents: {} accepted", accepted.get());
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---- (b) mutations of the shipped configs ----

/// One change to a config's text.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR the byte at (position % len) with a non-zero value.
    FlipByte(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    /// Replace the n-th number (a run of digits) with an extreme.
    Number(usize, &'static str),
    /// Replace the n-th quoted string with an extreme.
    Quoted(usize, &'static str),
    /// Swap the values of two `key = value` lines.
    SwapValues(usize, usize),
    Truncate(usize),
    /// Insert a line (a key and value, or a table header) before line n.
    Insert(usize, String),
}

const EXTREME_NUMBERS: &[&str] = &[
    "18446744073709551615",
    "-1",
    "0x7fffffffffffffff",
    "9223372036854775807",
    "9223372036854775808",
    "0",
    "-0",
    "99999999999999999999",
    "1e308",
    "4294967296",
    "65536",
    "255",
    "256",
];
const EXTREME_STRINGS: &[&str] = &[
    "\"99999999999999999999ms\"",
    "\"18446744073709551615ns\"",
    "\"18446744073709551ms\"",
    "\"0x1_0000_0000_0000_0000\"",
    "\"0xffff_ffff_ffff_f000\"",
    "\"99999999999T\"",
    "\"-1\"",
    "\"\"",
    "\"1.5ms\"",
    "\"/dev/zero\"",
    "\"/proc/self/status\"",
    "\".\"",
    "\"..\"",
    "\"hv\"",
    "\"HELLO0\"",
    "\"\\u202Eevil\"",
    "\"\\u001B[2J\"",
    "\"\\u0000\"",
    "\"é\"",
    "18446744073709551615",
    "-1",
    "[]",
    "{}",
    "[[]]",
    "true",
    "FIFO",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let line = prop_oneof![
        ("[a-z_]{1,10}", any_value()).prop_map(|(k, v)| format!("{k} = {}", v.text())),
        Just("[[partition]]".to_owned()),
        Just("[[pool]]".to_owned()),
        Just("[board]".to_owned()),
        Just("memory.size = \"64MiB\"".to_owned()),
    ];
    prop_oneof![
        1 => (any::<usize>(), 1u8..=255).prop_map(|(p, x)| Mutation::FlipByte(p, x)),
        1 => any::<usize>().prop_map(Mutation::DeleteLine),
        1 => any::<usize>().prop_map(Mutation::DuplicateLine),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        3 => (any::<usize>(), proptest::sample::select(EXTREME_NUMBERS)).prop_map(|(n, e)| Mutation::Number(n, e)),
        3 => (any::<usize>(), proptest::sample::select(EXTREME_STRINGS)).prop_map(|(n, e)| Mutation::Quoted(n, e)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapValues(a, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), line).prop_map(|(n, l)| Mutation::Insert(n, l)),
    ]
}

/// Byte ranges of the runs of ASCII digits (numbers) and of the double-quoted strings of a text.
fn tokens(text: &str) -> (Vec<std::ops::Range<usize>>, Vec<std::ops::Range<usize>>) {
    let b = text.as_bytes();
    let (mut numbers, mut quoted) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                i += 1;
            }
            if i < b.len() && b[i] == b'"' {
                quoted.push(start..i + 1);
            }
            i += 1;
        } else if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            numbers.push(start..i);
        } else {
            i += 1;
        }
    }
    (numbers, quoted)
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let join = |lines: &[String]| lines.join("\n") + "\n";
    match m {
        Mutation::FlipByte(p, x) => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let at = p % bytes.len();
                bytes[at] ^= x;
            }
            // `check_source` takes text: a flip that breaks UTF-8 becomes a replacement character.
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mutation::DeleteLine(n) if !lines.is_empty() => {
            let n = n % lines.len();
            lines.remove(n);
            join(&lines)
        }
        Mutation::DuplicateLine(n) if !lines.is_empty() => {
            let n = n % lines.len();
            let l = lines[n].clone();
            lines.insert(n, l);
            join(&lines)
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => {
            let len = lines.len();
            lines.swap(a % len, b % len);
            join(&lines)
        }
        Mutation::Number(n, e) | Mutation::Quoted(n, e) => {
            let (numbers, quoted) = tokens(text);
            let list = if matches!(m, Mutation::Number(..)) { numbers } else { quoted };
            if list.is_empty() {
                return text.to_owned();
            }
            let r = list[n % list.len()].clone();
            let e = if *e == "FIFO" { V::Str(world().fifo.display().to_string()).text() } else { (*e).to_owned() };
            format!("{}{e}{}", &text[..r.start], &text[r.end..])
        }
        Mutation::SwapValues(a, b) => {
            let kv: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(" = ")).collect();
            if kv.len() < 2 {
                return text.to_owned();
            }
            let (i, j) = (kv[a % kv.len()], kv[b % kv.len()]);
            let split = |l: &str| l.split_once(" = ").map(|(k, v)| (k.to_owned(), v.to_owned()));
            if let (Some((ka, va)), Some((kb, vb))) = (split(&lines[i]), split(&lines[j])) {
                lines[i] = format!("{ka} = {vb}");
                lines[j] = format!("{kb} = {va}");
            }
            join(&lines)
        }
        Mutation::Truncate(p) => {
            let mut at = p % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_owned()
        }
        Mutation::Insert(n, line) => {
            let at = n % (lines.len() + 1);
            lines.insert(at, line.clone());
            join(&lines)
        }
        _ => text.to_owned(),
    }
}

/// Every config of configs/ and configs/bad/, with the directory it lives in.
fn shipped() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for dir in [configs_dir(), configs_dir().join("bad")] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
        files.sort();
        for f in files {
            if let Ok(text) = std::fs::read_to_string(&f) {
                out.push((text, dir.clone()));
            }
        }
    }
    out
}

#[test]
fn mutated_configs_get_located_answers() {
    let configs = shipped();
    assert!(configs.len() > 40, "{}", configs.len());
    // Unmutated, every one answers well too.
    for (text, dir) in &configs {
        if let Err(e) = answers_well(text, dir) {
            panic!("{e}\n{text}");
        }
    }
    let mut runner = TestRunner::new(Config { cases: cases(5000), failure_persistence: None, ..Config::default() });
    let strategy = (0..configs.len(), proptest::collection::vec(mutation(), 1..5));
    let accepted = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |(which, mutations)| {
        let (text, dir) = &configs[which];
        let src = mutations.iter().fold(text.clone(), |t, m| apply(&t, m));
        if answers_well(&src, dir).map_err(|e| TestCaseError::fail(format!("{e}\n--- config ---\n{src}")))? {
            accepted.set(accepted.get() + 1);
        }
        Ok(())
    });
    eprintln!("mutated configs: {} accepted", accepted.get());
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Not a test: `cargo test -p image-builder --test check_fuzz -- --ignored --nocapture survey` runs many cases of
/// both kinds without stopping at the first failure (PROPTEST_CASES, default 2000 each) and prints each distinct
/// kind of failure once, with the smallest input that showed it.
#[test]
#[ignore]
fn survey() {
    use proptest::strategy::ValueTree;
    use std::collections::BTreeMap;
    let n = cases(2000);
    let configs = shipped();
    let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::default() });
    // Failure message (first line, numbers blanked) -> (count, smallest input).
    let mut seen: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut note = |e: TestCaseError, src: String| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        let kind: String = first.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
        let entry = seen.entry(kind).or_insert((0, src.clone()));
        entry.0 += 1;
        if src.len() < entry.1.len() {
            entry.1 = src;
        }
    };
    let dir = configs_dir();
    for _ in 0..n {
        let src = prop_oneof![document(), coherent()].new_tree(&mut runner).unwrap().current();
        if let Err(e) = answers_well(&src, &dir) {
            note(e, src);
        }
    }
    let strategy = (0..configs.len(), proptest::collection::vec(mutation(), 1..5));
    for _ in 0..n {
        let (which, mutations) = strategy.new_tree(&mut runner).unwrap().current();
        let (text, dir) = &configs[which];
        let src = mutations.iter().fold(text.clone(), |t, m| apply(&t, m));
        if let Err(e) = answers_well(&src, dir) {
            note(e, src);
        }
    }
    eprintln!("{} cases of each kind: {} kinds of failure", n, seen.len());
    for (kind, (count, src)) in &seen {
        eprintln!("=== {count}x {kind}\n{}\n", if src.len() > 1500 { &src[..1500] } else { src });
    }
}
