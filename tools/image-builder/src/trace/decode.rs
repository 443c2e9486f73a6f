//! From a dump of the rings to events in time order: each ring is read with the format both sides share
//! ([`super::ring`]), each frame decoded against hv-static's ELF with `defmt-decoder`, and the CPUs merged by
//! timestamp.

use super::event::{self, Kind};
use super::ring;

/// One decoded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The ring it came from.
    pub cpu: usize,
    /// The counter when it happened.
    pub ticks: u64,
    /// defmt's rendering of the frame.
    pub text: String,
    pub kind: Kind,
}

/// What one CPU's ring said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingSummary {
    pub cpu: usize,
    /// Frames written since boot, overwritten by newer ones, never stored, cut, and held but not decodable.
    pub frames: u64,
    pub dropped: u64,
    pub lost: u64,
    pub cut: u64,
    pub undecodable: u64,
    /// Why the ring could not be read at all (`None`: read).
    pub unreadable: Option<String>,
    pub damaged_at: Option<u64>,
}

/// A decoded trace.
#[derive(Clone, Debug, Default)]
pub struct Decoded {
    /// Counter ticks per second (from the rings' headers).
    pub freq: u64,
    /// Every event of every CPU, oldest first.
    pub events: Vec<Event>,
    pub rings: Vec<RingSummary>,
}

impl Decoded {
    /// Nanoseconds from the first event to `ticks`.
    pub fn ns(&self, ticks: u64) -> u64 {
        let t0 = self.events.first().map_or(0, |e| e.ticks);
        let d = u128::from(ticks.saturating_sub(t0)) * 1_000_000_000 / u128::from(self.freq.max(1));
        u64::try_from(d).unwrap_or(u64::MAX)
    }
}

/// The length of one ring in the dump, from the header of the first ring that was written (rings never written are
/// all zero). Rings are 8-byte aligned, so a header can only start on a multiple of 8, and a real one sits a whole
/// number of rings from the start.
fn ring_len(dump: &[u8]) -> Option<usize> {
    (0..dump.len()).step_by(8).find_map(|at| {
        let len = ring::dump_len(ring::read(&dump[at..]).ok()?.capacity);
        (at % len == 0).then_some(len)
    })
}

/// Decodes `dump` (the bytes of `HV_TRACE_RINGS`: one ring per CPU) against the ELF it was recorded with.
pub fn decode(elf: &[u8], dump: &[u8]) -> Result<Decoded, String> {
    let table = defmt_decoder::Table::parse(elf)
        .map_err(|e| format!("hv-static's ELF: {e}"))?
        .ok_or("hv-static's ELF has no .defmt section: it was built without the trace (build with --trace)")?;
    let mut out = Decoded::default();
    let Some(len) = ring_len(dump) else { return Ok(out) };
    if len == 0 || !dump.len().is_multiple_of(len) {
        return Err(format!("a dump of {} bytes is not a whole number of {len}-byte rings", dump.len()));
    }
    for (cpu, bytes) in dump.chunks(len).enumerate() {
        let mut summary = RingSummary {
            cpu,
            frames: 0,
            dropped: 0,
            lost: 0,
            cut: 0,
            undecodable: 0,
            unreadable: None,
            damaged_at: None,
        };
        match ring::read(bytes) {
            Ok(r) => {
                out.freq = out.freq.max(r.freq);
                (summary.frames, summary.dropped, summary.lost, summary.cut) = (r.frames, r.dropped, r.lost, r.cut);
                summary.damaged_at = r.damaged_at;
                for rec in &r.records {
                    match table.decode(rec) {
                        Ok((frame, used)) if used == rec.len() => {
                            let ticks = frame.display_timestamp().and_then(|t| t.to_string().parse().ok());
                            let text = frame.display_message().to_string();
                            let kind = event::parse(&text);
                            out.events.push(Event { cpu, ticks: ticks.unwrap_or(0), text, kind });
                        }
                        _ => summary.undecodable += 1,
                    }
                }
            }
            Err(ring::ReadError::NoRing(0)) => {} // A CPU that recorded nothing.
            Err(e) => summary.unreadable = Some(e.to_string()),
        }
        out.rings.push(summary);
    }
    // Stable: events of one CPU with equal stamps keep their order.
    out.events.sort_by_key(|e| (e.ticks, e.cpu));
    Ok(out)
}
