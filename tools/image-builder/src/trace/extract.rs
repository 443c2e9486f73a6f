//! Getting the rings out of a running QEMU: find them in hv-static's ELF, pause the machine through its QMP socket
//! and have QEMU save that stretch of guest-physical memory to a file (`pmemsave`). hv-static maps itself 1:1, so
//! the symbol's address is the physical one.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use object::{Object, ObjectSymbol};
use serde_json::{json, Value};

/// The symbol of hv-static's per-CPU rings (`hv-static/src/core/trace/emit.rs`).
pub const RINGS_SYMBOL: &str = "HV_TRACE_RINGS";
/// The symbol of its counts by class (`hv-static/src/core/trace/counts.rs`).
pub const COUNTS_SYMBOL: &str = "HV_TRACE_COUNTS";

/// Where the rings are in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rings {
    pub addr: u64,
    pub size: u64,
}

/// Finds the rings in a trace build of hv-static. An ELF without them was built without `--trace`.
pub fn locate(elf: &[u8]) -> Result<Rings, String> {
    locate_symbol(elf, RINGS_SYMBOL)
}

/// Where `symbol` (one of the trace's, [`RINGS_SYMBOL`] or [`COUNTS_SYMBOL`]) is in memory.
pub fn locate_symbol(elf: &[u8], symbol: &str) -> Result<Rings, String> {
    let file = object::File::parse(elf).map_err(|e| format!("hv-static's ELF: {e}"))?;
    let sym = file.symbols().find(|s| s.name() == Ok(symbol)).ok_or_else(|| {
        format!("hv-static's ELF has no `{symbol}`: it was built without the trace (build with --trace)")
    })?;
    if sym.size() == 0 {
        return Err(format!("`{symbol}` has size 0 in hv-static's ELF"));
    }
    Ok(Rings { addr: sym.address(), size: sym.size() })
}

/// The QEMU command-line arguments that open a QMP socket at `socket` which the dump connects to later (QEMU
/// does not wait for it).
pub fn qmp_args(socket: &Path) -> [String; 2] {
    ["-qmp".into(), format!("unix:{},server=on,wait=off", socket.display())]
}

/// A QMP session (QEMU's JSON monitor protocol): one command at a time, asynchronous events skipped.
struct Qmp {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Qmp {
    fn connect(socket: &Path) -> Result<Qmp, String> {
        let stream = UnixStream::connect(socket).map_err(|e| format!("cannot reach QEMU's QMP socket: {e}"))?;
        let timeout = Some(Duration::from_secs(20));
        stream.set_read_timeout(timeout).and_then(|()| stream.set_write_timeout(timeout)).map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut qmp = Qmp { writer: stream, reader };
        qmp.line()?; // The greeting.
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn line(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("QEMU closed its QMP socket".into()),
            Ok(_) => serde_json::from_str(&line).map_err(|e| format!("QMP answered something that is not JSON: {e}")),
            Err(e) => Err(format!("reading QEMU's QMP socket: {e}")),
        }
    }

    fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, String> {
        let msg = json!({ "execute": command, "arguments": arguments });
        writeln!(self.writer, "{msg}").map_err(|e| format!("writing to QEMU's QMP socket: {e}"))?;
        loop {
            let v = self.line()?;
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                return Err(format!("QEMU refused `{command}`: {}", e.get("desc").unwrap_or(e)));
            }
            // An event ("STOP", "RESUME"...): not the answer.
        }
    }
}

/// Pauses the machine behind `socket` and saves the rings to `file` (QEMU writes it), then reads it back. With
/// `resume` the machine runs on afterwards; without, it stays paused (the caller stops QEMU next).
pub fn dump(socket: &Path, rings: Rings, file: &Path, resume: bool) -> Result<Vec<u8>, String> {
    let mut saved = dump_all(socket, &[(rings, file)], resume)?;
    Ok(saved.swap_remove(0))
}

/// [`dump`] of several stretches of memory (the rings and the counts) in one pause, so they agree with each other.
pub fn dump_all(socket: &Path, regions: &[(Rings, &Path)], resume: bool) -> Result<Vec<Vec<u8>>, String> {
    let mut qmp = Qmp::connect(socket)?;
    // Paused, every CPU is between two instructions: each ring's committed frames are whole (see the format).
    qmp.execute("stop", json!({}))?;
    let mut files = Vec::new();
    let mut saved = Ok(json!({}));
    for (region, file) in regions {
        let _ = std::fs::remove_file(file);
        let abs = std::path::absolute(file).map_err(|e| e.to_string())?;
        saved = saved.and_then(|_| {
            qmp.execute(
                "pmemsave",
                json!({ "val": region.addr, "size": region.size, "filename": abs.display().to_string() }),
            )
        });
        files.push((abs, region.size));
    }
    if resume {
        qmp.execute("cont", json!({}))?;
    }
    saved?;
    files
        .into_iter()
        .map(|(abs, size)| {
            let bytes = std::fs::read(&abs).map_err(|e| format!("QEMU's dump {}: {e}", abs.display()))?;
            if bytes.len() as u64 != size {
                return Err(format!("QEMU saved {} bytes of {}, not {size}", bytes.len(), abs.display()));
            }
            Ok(bytes)
        })
        .collect()
}

/// A dump as a board gives it: raw bytes, or the text of U-Boot's `md` (`md.b`, `md.w`, `md.l` or `md.q`: lines of
/// `ADDRESS: hex values  ascii`, values little-endian), as a serial console log keeps it. Lines that are not `md`
/// output (the prompt, the command) are skipped.
pub fn from_board(bytes: Vec<u8>) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(&bytes) else { return bytes };
    let mut out = Vec::new();
    let mut any = false;
    for line in text.lines() {
        let Some((addr, rest)) = line.trim().split_once(": ") else { continue };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let Some(width) = rest.split_whitespace().next().map(str::len).filter(|w| [2, 4, 8, 16].contains(w)) else {
            continue;
        };
        // 16 bytes a line; what follows the values is the ASCII column.
        for word in rest.split_whitespace().take(32 / width) {
            let Ok(v) = u64::from_str_radix(word, 16) else { break };
            if word.len() != width {
                break;
            }
            out.extend_from_slice(&v.to_le_bytes()[..width / 2]);
            any = true;
        }
    }
    if any {
        out
    } else {
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_boot_md_output_becomes_bytes() {
        let log = "=> md.l 4021c000 8\n4021c000: 52545648 00500001 00004000 00000001    HVTR..P..@......\n\
                   4021c010: 03b9aca0 00000000 00000010 00000000    ................\n=> ";
        let b = from_board(log.as_bytes().to_vec());
        assert_eq!(&b[..8], &[0x48, 0x56, 0x54, 0x52, 0x01, 0x00, 0x50, 0x00]);
        assert_eq!(b.len(), 32);
        let b = from_board(b"4021c000: 48 56 54 52 01 00    HVTR..\n".to_vec());
        assert_eq!(b, [0x48, 0x56, 0x54, 0x52, 1, 0]);
        assert_eq!(from_board(vec![0, 1, 2]), [0, 1, 2], "raw bytes stay as they are");
    }

    #[test]
    fn an_elf_without_rings_says_to_build_with_the_trace() {
        let elf = crate::image::testelf::build(
            &[crate::image::testelf::load(0x4000_0000, vec![0; 16])],
            &[("__hv_end", 0x4000_0010)],
        );
        let e = locate(&elf).unwrap_err();
        assert!(e.contains("--trace"), "{e}");
    }

    #[test]
    fn qmp_does_not_make_qemu_wait() {
        assert_eq!(qmp_args(Path::new("/tmp/q.sock"))[1], "unix:/tmp/q.sock,server=on,wait=off");
    }
}
