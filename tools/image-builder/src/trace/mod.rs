//! hv-static's event trace on the host (`docs/trace.md`): build with `--trace`, pull the per-CPU rings out of QEMU
//! after a run ([`extract`]), decode them against the ELF with `defmt-decoder` ([`decode`], [`event`]), print them
//! merged in time order and draw `trace.svg` ([`svg`]). A dump of a real board's RAM is decoded the same way
//! (`image-builder trace CONFIG --dump FILE`).

pub mod decode;
pub mod event;
pub mod extract;
pub mod svg;

/// The ring format, from hv-static itself so both sides read one definition (hv-static writes with the writer half;
/// this crate reads with the reader half, and tests both).
#[path = "../../../../hv-static/src/core/trace/ring.rs"]
#[allow(dead_code)]
pub mod ring;

/// The counts by class, from hv-static like [`ring`]: the layout it writes and the parser of a dump.
#[path = "../../../../hv-static/src/core/trace/counts.rs"]
pub mod counts;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::System;
use crate::units::duration;
use crate::{Error, Result};
use decode::Decoded;
use event::Kind;

/// The files of a trace in `out/NAME/`.
#[derive(Clone, Debug)]
pub struct Files {
    /// The trace build of hv-static, which the decoder needs (its `.defmt` strings).
    pub elf: PathBuf,
    /// QEMU's QMP socket during a `run --trace`.
    pub qmp: PathBuf,
    /// The raw rings (the bytes of `HV_TRACE_RINGS`).
    pub dump: PathBuf,
    /// The raw counts by class (the bytes of `HV_TRACE_COUNTS`), saved in the same pause as the rings.
    pub counts: PathBuf,
    pub text: PathBuf,
    pub svg: PathBuf,
}

impl Files {
    pub fn in_dir(out: &Path) -> Files {
        Files {
            elf: out.join("hv-static.elf"),
            qmp: out.join("qmp.sock"),
            dump: out.join("trace.bin"),
            counts: out.join("counts.bin"),
            text: out.join("trace.txt"),
            svg: out.join("trace.svg"),
        }
    }
}

/// A decoded trace and where it was written.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub decoded: Decoded,
    /// The counts by class saved with the rings (`None`: a dump of the rings alone, e.g. from a board).
    pub counts: Option<counts::Counts>,
    pub text: String,
    pub files: Files,
}

fn tool(e: String) -> Error {
    Error::Tool(e)
}

/// Saves the rings of the QEMU behind `files.qmp` to `files.dump`, and its counts by class to `files.counts`
/// (QEMU pauses for it, and runs on after with `resume`). Returns the rings.
pub fn pull(files: &Files, resume: bool) -> Result<Vec<u8>> {
    let elf = std::fs::read(&files.elf).map_err(|source| Error::Read { path: files.elf.clone(), source })?;
    let rings = extract::locate(&elf).map_err(tool)?;
    let _ = std::fs::remove_file(&files.counts);
    let mut regions = vec![(rings, files.dump.as_path())];
    // An ELF of an older trace build has no counts: then the rings alone.
    if let Ok(counts) = extract::locate_symbol(&elf, extract::COUNTS_SYMBOL) {
        regions.push((counts, files.counts.as_path()));
    }
    let mut saved = extract::dump_all(&files.qmp, &regions, resume).map_err(tool)?;
    Ok(saved.swap_remove(0))
}

/// The counts saved with `dump` by [`pull`], if `dump` is the rings [`pull`] saved last (a board's dump has none).
fn counts_of(files: &Files, dump: &[u8]) -> Option<std::result::Result<counts::Counts, String>> {
    let counts = std::fs::read(&files.counts).ok()?;
    (std::fs::read(&files.dump).ok()? == dump).then(|| counts::parse(&counts))
}

/// Decodes `dump` against `files.elf`, writes `trace.txt` and `trace.svg`, and returns the trace.
pub fn record(system: &System, files: &Files, dump: &[u8]) -> Result<Recorded> {
    let elf = std::fs::read(&files.elf).map_err(|source| Error::Read { path: files.elf.clone(), source })?;
    let decoded = decode::decode(&elf, dump).map_err(tool)?;
    let names: Vec<&str> = system.partitions.iter().map(|p| p.name.as_str()).collect();
    let mut text = text(&decoded, &names);
    let counts = match counts_of(files, dump) {
        Some(Ok(c)) => {
            text.push_str(&by_class(&c, &names));
            Some(c)
        }
        Some(Err(e)) => {
            let _ = writeln!(text, "# counts by class unreadable: {e}");
            None
        }
        None => None,
    };
    let cpus = decoded.rings.len().max(system.smp() as usize);
    let svg = svg::render(&format!("{}: trace", system.name), &decoded, cpus, &names);
    write(&files.text, text.as_bytes())?;
    write(&files.svg, svg.as_bytes())?;
    Ok(Recorded { decoded, counts, text, files: files.clone() })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| Error::Write { path: path.to_owned(), source })
}

/// The trace for people: what each ring says of itself, then every event, time from the first one.
pub fn text(trace: &Decoded, names: &[&str]) -> String {
    let mut s = String::new();
    let name = |p: usize| names.get(p).copied().unwrap_or("?");
    for r in &trace.rings {
        let _ = write!(s, "# cpu {}: {} frames", r.cpu, r.frames);
        if r.dropped > 0 {
            let _ = write!(s, ", {} oldest overwritten", r.dropped);
        }
        for (n, what) in [(r.lost, "lost (nested)"), (r.cut, "cut"), (r.undecodable, "undecodable")] {
            if n > 0 {
                let _ = write!(s, ", {n} {what}");
            }
        }
        if let Some(e) = &r.unreadable {
            let _ = write!(s, " (unreadable: {e})");
        }
        if let Some(at) = r.damaged_at {
            let _ = write!(s, " (damaged from stream offset {at})");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "# {} events, counter at {} Hz; time from the first event", trace.events.len(), trace.freq);
    for e in &trace.events {
        let who = match &e.kind {
            Kind::Window { vcpu: Some((p, v)) } => format!("{} vCPU {v}", name(*p)),
            Kind::Window { vcpu: None } => "idle".into(),
            Kind::Trap { part, .. }
            | Kind::Inject { part, .. }
            | Kind::Fault { part, .. }
            | Kind::Stop { part, .. }
            | Kind::Restart { part }
            | Kind::Start { part } => name(*part).to_owned(),
            Kind::Irq { .. } | Kind::Unknown => String::new(),
        };
        let ns = trace.ns(e.ticks);
        let _ = writeln!(s, "{:>12}.{:03} us  cpu{}  {:<40} {who}", ns / 1000, ns % 1000, e.cpu, e.text);
    }
    s
}

/// The counter value `ticks` in milliseconds at `freq`.
fn ms(ticks: u64, freq: u64) -> f64 {
    ticks as f64 * 1000.0 / freq.max(1) as f64
}

/// The counts by class as a table for people: each partition's stamps, then one row per class that happened, with
/// a column per partition (summed over CPUs) and one for what happened with no partition running on the CPU (`hv`).
pub fn by_class(c: &counts::Counts, names: &[&str]) -> String {
    use counts::{Stamp, CLASSES, NAMES};
    let mut s = String::new();
    let parts = c.stamps.len();
    let name = |p: usize| if p == parts { "hv" } else { names.get(p).copied().unwrap_or("?") };
    let _ = writeln!(
        s,
        "# traps by class since boot (counts: all CPUs; stamps: counter at {} Hz since QEMU started the CPUs)",
        c.freq
    );
    for (p, st) in c.stamps.iter().enumerate() {
        let (start, exit, loaded) =
            (st[Stamp::Start as usize], st[Stamp::FirstExit as usize], st[Stamp::Loaded as usize]);
        let mut line = format!("# {}: ", name(p));
        if start == 0 {
            line.push_str("never started");
        } else {
            let _ = write!(line, "launched at {:.3} ms", ms(start, c.freq));
            if loaded >= start {
                let _ = write!(line, ", images copied {:.3} ms later", ms(loaded - start, c.freq));
            }
            if exit >= start {
                let _ = write!(line, ", first exit {:.3} ms later", ms(exit - start, c.freq));
            }
        }
        let _ = writeln!(s, "{line}");
    }
    let total = |p: usize, k: usize| c.counts.iter().map(|cpu| u64::from(cpu.get(p).map_or(0, |x| x[k]))).sum::<u64>();
    let _ = write!(s, "# {:<16}", "class");
    for p in 0..=parts {
        let _ = write!(s, " {:>12}", name(p));
    }
    s.push('\n');
    for (k, class) in NAMES.iter().enumerate().take(CLASSES) {
        if (0..=parts).all(|p| total(p, k) == 0) {
            continue;
        }
        let _ = write!(s, "# {class:<16}");
        for p in 0..=parts {
            let _ = write!(s, " {:>12}", total(p, k));
        }
        s.push('\n');
    }
    s
}

/// One line for the end of a run: how much was recorded and where it went.
pub fn summary(r: &Recorded) -> String {
    let span = r.decoded.events.last().map_or(0, |e| r.decoded.ns(e.ticks));
    format!(
        "trace: {} events over {} from {} CPU(s): {}, {}",
        r.decoded.events.len(),
        duration(span),
        r.decoded.rings.len(),
        crate::display_path(&r.files.text),
        crate::display_path(&r.files.svg)
    )
}
