//! Checking scales with the config: the largest config the limits accept (docs/config.md, "Limits") is checked in
//! well under a second, a config beyond the limits is refused at once, and one that breaks a rule in every one of
//! its thousands of windows is still checked in near-linear time. Times are printed (`--nocapture`) and bounded
//! generously, for debug builds on slow machines.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use image_builder::config::{check_source, limits, Context};
use image_builder::guests::GuestCatalog;

/// Generous: a debug build of the checker on a loaded two-core machine. A release build takes milliseconds.
const BOUND: Duration = Duration::from_secs(10);

/// Pools (one per CPU of `qemu-virt-aarch64`), each cyclic with `windows` windows shared by its partitions.
const CPUS: usize = 8;

fn check(src: &str) -> (Result<(), Vec<String>>, Duration, usize) {
    let guests = GuestCatalog::with_names(["hello"]);
    let ctx = Context { guests: &guests, base_dir: Path::new("/nonexistent") };
    let t = Instant::now();
    let result = check_source("scale.toml", src, "scale", &ctx);
    let took = t.elapsed();
    match result {
        Ok((_, report)) => (Ok(()), took, report.diags.len()),
        Err(report) => {
            let errors: Vec<String> = report.errors().map(|d| format!("{}: {}", d.field, d.message)).collect();
            let n = report.diags.len();
            (Err(errors), took, n)
        }
    }
}

/// The largest config within every limit: 8 cyclic pools of 1024 windows each, 64 partitions, 256 disks, networks
/// and channels, every partition with 32 PV devices, channels of 64 members, 2047-byte command lines.
fn largest() -> String {
    config(&Names { window: &|p, _| format!("p{p}"), member: &|p, _| format!("p{p}"), window_extra: "" })
}

/// How [`config`] names what windows and channel members refer to (given the partition meant and a serial number).
struct Names<'a> {
    window: &'a dyn Fn(usize, usize) -> String,
    member: &'a dyn Fn(usize, usize) -> String,
    /// Extra keys of every window.
    window_extra: &'a str,
}

fn config(names: &Names<'_>) -> String {
    let per_pool = limits::PARTITIONS / CPUS;
    let mut serial = 0;
    let mut s = String::from("[board]\nname = \"qemu-virt-aarch64\"\n\n");
    for cpu in 0..CPUS {
        let _ = write!(
            s,
            "[[pool]]\nname = \"pool{cpu}\"\ncpus = [{cpu}]\nscheduler = \"cyclic\"\nmajor_frame = \"1s\"\nwindows = [\n"
        );
        for w in 0..limits::WINDOWS {
            serial += 1;
            let p = (names.window)(cpu * per_pool + w % per_pool, serial);
            let _ = writeln!(
                s,
                "  {{ partition = \"{p}\", start = \"{}us\", duration = \"900us\"{} }},",
                w * 900,
                names.window_extra
            );
        }
        s.push_str("]\n\n");
    }
    let disks_each = limits::DISKS / limits::PARTITIONS;
    let nets_each = 32 - disks_each;
    for p in 0..limits::PARTITIONS {
        let cpu = p / per_pool;
        let disks: Vec<String> = (0..disks_each).map(|k| format!("{{ disk = \"d{}\" }}", p * disks_each + k)).collect();
        let nets: Vec<String> = (0..nets_each)
            .map(|k| format!("{{ network = \"n{}\" }}", (p * disks_each + k) % limits::NETWORKS))
            .collect();
        let _ = write!(
            s,
            "[[partition]]\nname = \"p{p}\"\npool = \"pool{cpu}\"\nvcpus = [{cpu}]\nmemory = {{ size = \"4MiB\" }}\n\
             kernel = \"hello\"\nbootargs = \"{}\"\ndisks = [{}]\nnetworks = [{}]\n\n",
            "x".repeat(2047),
            disks.join(", "),
            nets.join(", ")
        );
    }
    for d in 0..limits::DISKS {
        let _ = write!(s, "[[disk]]\nname = \"d{d}\"\nsize = 512\n\n");
    }
    for n in 0..limits::NETWORKS {
        let _ = write!(s, "[[network]]\nname = \"n{n}\"\nuplink = {}\n\n", n == 0);
    }
    for c in 0..limits::CHANNELS {
        let members: Vec<String> = (0..limits::CHANNEL_MEMBERS)
            .map(|p| {
                serial += 1;
                let access = if p == c % limits::CHANNEL_MEMBERS { "rw" } else { "r" };
                format!("{{ partition = \"{}\", access = \"{access}\" }}", (names.member)(p, serial))
            })
            .collect();
        let _ = write!(s, "[[channel]]\nname = \"c{c}\"\nsize = \"4KiB\"\npartitions = [{}]\n\n", members.join(", "));
    }
    s
}

#[test]
fn the_largest_accepted_config_is_checked_fast() {
    let src = largest();
    let (result, took, diags) = check(&src);
    eprintln!("largest accepted config: {} KiB, checked in {took:?} ({diags} warnings)", src.len() / 1024);
    assert_eq!(result, Ok(()));
    assert!(took < BOUND, "{took:?}");
}

#[test]
fn one_beyond_a_limit_is_refused_before_anything_else() {
    // One window too many in the first pool: refused on that window alone, however many more problems follow.
    let src = largest().replacen(
        "]\n\n[[pool]]",
        "  { partition = \"nobody\", start = \"0us\", duration = \"1us\" },\n]\n\n[[pool]]",
        1,
    );
    let (result, took, _) = check(&src);
    eprintln!("one window too many: {took:?}");
    assert_eq!(result, Err(vec!["pool[0].windows[1024]: too many windows: 1025, at most 1024".to_owned()]));
    // Twenty thousand windows (a megabyte): refused at the count, no pair of them ever compared.
    let mut big = String::from("[board]\nname = \"qemu-virt-aarch64\"\n[[pool]]\nname = \"a\"\ncpus = [0]\nscheduler = \"cyclic\"\nmajor_frame = \"1s\"\nwindows = [\n");
    for _ in 0..20_000 {
        big.push_str("{ partition = \"p\", start = \"0ms\", duration = \"1ms\" },\n");
    }
    big.push_str(
        "]\n[[partition]]\nname = \"p\"\npool = \"a\"\nvcpus = [0]\nmemory = { size = \"4MiB\" }\nkernel = \"hello\"\n",
    );
    let (result, took, _) = check(&big);
    eprintln!("20000 windows ({} KiB): refused in {took:?}", big.len() / 1024);
    let errors = result.unwrap_err();
    assert_eq!(errors, ["pool[0].windows[1024]: too many windows: 20000, at most 1024"]);
    assert!(took < BOUND, "{took:?}");
}

#[test]
fn a_config_wrong_everywhere_is_still_checked_fast() {
    // Every window overlaps others on every CPU, or names a partition that does not exist (each a different
    // near-miss of a real name, so each gets its own search for a suggestion); every channel member is unknown too.
    let src = config(&Names {
        window: &|p, n| if n % 2 == 0 { format!("p{p}x{n}") } else { format!("p{p}") },
        member: &|p, n| format!("p{p}y{n}"),
        window_extra: ", cpus = [0, 1, 2, 3, 4, 5, 6, 7]",
    });
    let (result, took, diags) = check(&src);
    eprintln!("a config with {diags} problems ({} KiB): checked in {took:?}", src.len() / 1024);
    assert!(result.is_err_and(|e| e.len() > 16_000), "{diags}");
    assert!(took < BOUND, "{took:?}");
}
