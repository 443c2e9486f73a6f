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
#[path = "../../../../hv-static/src/trace/ring.rs"]
#[allow(dead_code)]
pub mod ring;

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
    pub text: PathBuf,
    pub svg: PathBuf,
}

impl Files {
    pub fn in_dir(out: &Path) -> Files {
        Files {
            elf: out.join("hv-static.elf"),
            qmp: out.join("qmp.sock"),
            dump: out.join("trace.bin"),
            text: out.join("trace.txt"),
            svg: out.join("trace.svg"),
        }
    }
}

/// A decoded trace and where it was written.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub decoded: Decoded,
    pub text: String,
    pub files: Files,
}

fn tool(e: String) -> Error {
    Error::Tool(e)
}

/// Saves the rings of the QEMU behind `files.qmp` to `files.dump` (QEMU pauses for it, and runs on after with
/// `resume`).
pub fn pull(files: &Files, resume: bool) -> Result<Vec<u8>> {
    let elf = std::fs::read(&files.elf).map_err(|source| Error::Read { path: files.elf.clone(), source })?;
    let rings = extract::locate(&elf).map_err(tool)?;
    extract::dump(&files.qmp, rings, &files.dump, resume).map_err(tool)
}

/// Decodes `dump` against `files.elf`, writes `trace.txt` and `trace.svg`, and returns the trace.
pub fn record(system: &System, files: &Files, dump: &[u8]) -> Result<Recorded> {
    let elf = std::fs::read(&files.elf).map_err(|source| Error::Read { path: files.elf.clone(), source })?;
    let decoded = decode::decode(&elf, dump).map_err(tool)?;
    let names: Vec<&str> = system.partitions.iter().map(|p| p.name.as_str()).collect();
    let text = text(&decoded, &names);
    let cpus = decoded.rings.len().max(system.smp() as usize);
    let svg = svg::render(&format!("{}: trace", system.name), &decoded, cpus, &names);
    write(&files.text, text.as_bytes())?;
    write(&files.svg, svg.as_bytes())?;
    Ok(Recorded { decoded, text, files: files.clone() })
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
