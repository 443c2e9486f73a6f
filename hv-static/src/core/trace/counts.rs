//! Counts of traps, physical interrupts and injections by class, per CPU and partition, plus a few counter stamps
//! per partition: the trace's totals, which the rings cannot give (a ring keeps only its CPU's last 64 KiB of
//! events, a few hundred milliseconds of a booting Linux). Bumped by the same calls that write the events, so they
//! exist only in a trace build. The image builder reads them with the rings (`docs/trace.md`).
//!
//! This file is shared like `ring.rs`: hv-static defines the block's layout with it, the image builder parses a
//! dump of it with [`parse`].
//!
//! # Format (little-endian)
//!
//! ```text
//! offset size  field
//!      0    4  magic    "HVTC" (0x4354_5648)
//!      4    4  version  FORMAT_VERSION
//!      8    4  cpus     physical CPUs
//!     12    4  parts    partitions (slot `parts` of each CPU counts what happened with no partition running)
//!     16    4  classes  CLASSES
//!     20    4  stamps   STAMPS
//!     24    8  freq     counter ticks per second (written at the first stamp)
//!     32       stamps   [[u64; STAMPS]; parts]: counter values, 0 = not yet
//!      .       counts   [[[u32; CLASSES]; parts + 1]; cpus]
//! ```

/// "HVTC" as a little-endian word.
pub const MAGIC: u32 = 0x4354_5648;
/// 2: class `Fp` added.
pub const FORMAT_VERSION: u32 = 2;
/// Bytes before the stamps.
pub const HEADER_LEN: usize = 32;

/// What is counted. The order is the format: a new class goes at the end, with a new [`FORMAT_VERSION`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Class {
    Hvc,
    Smc,
    /// MSR/MRS/SYS, and on AArch32 the coprocessor accesses.
    SysReg,
    /// Data aborts, by the emulated device at the IPA.
    DabtGicd,
    DabtGicr,
    DabtUart,
    DabtVirtio,
    DabtOther,
    Wfi,
    Wfe,
    Iabt,
    OtherTrap,
    /// Exits for a physical interrupt, and SErrors.
    ExitIrq,
    Serror,
    /// Physical interrupts taken at EL2, by INTID: the virtual timer, hv-static's own EL2 timer, the mailbox SGI,
    /// the vGIC maintenance interrupt, anything else (devices).
    IrqVtimer,
    IrqHypTimer,
    IrqKick,
    IrqMaint,
    IrqDevice,
    /// Virtual interrupts made pending, by INTID: SGIs, the virtual timer, other PPIs, SPIs. Counted on the CPU that
    /// injects, under the target's partition.
    InjSgi,
    InjVtimer,
    InjPpi,
    InjSpi,
    /// FP/SIMD first uses in a window, which load the vCPU's FP state (lazy switching).
    Fp,
}

pub const CLASSES: usize = Class::Fp as usize + 1;

/// Each class's name, as the summary prints it.
#[cfg(not(target_os = "none"))]
pub const NAMES: [&str; CLASSES] = [
    "hvc",
    "smc",
    "sysreg",
    "dabt gicd",
    "dabt gicr",
    "dabt uart",
    "dabt virtio",
    "dabt other",
    "wfi",
    "wfe",
    "iabt",
    "other trap",
    "exit irq",
    "serror",
    "irq vtimer",
    "irq hyp timer",
    "irq kick (sgi)",
    "irq maintenance",
    "irq device",
    "inject sgi",
    "inject vtimer",
    "inject ppi",
    "inject spi",
    "fp (lazy load)",
];

/// Per-partition counter stamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Stamp {
    /// The partition's first launch began (before its images are copied into its RAM).
    Start,
    /// Its first exit to EL2 of any kind: an upper bound of its first instruction.
    FirstExit,
    /// Its images are in its RAM (`trace::loaded!`, after the copy in `partition::launch`): with [`Stamp::Start`],
    /// the copy's cost. 0 while that call site is missing.
    Loaded,
}

pub const STAMPS: usize = Stamp::Loaded as usize + 1;

/// Bytes of the whole block for `cpus` CPUs and `parts` partitions.
pub const fn block_len(cpus: usize, parts: usize) -> usize {
    HEADER_LEN + parts * STAMPS * 8 + cpus * (parts + 1) * CLASSES * 4
}

/// A dump of the block, read.
#[cfg(not(target_os = "none"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts {
    pub freq: u64,
    /// `stamps[part][Stamp as usize]`.
    pub stamps: Vec<[u64; STAMPS]>,
    /// `counts[cpu][part][Class as usize]`; `part == parts` is "no partition".
    pub counts: Vec<Vec<[u32; CLASSES]>>,
}

/// Reads a dump of the block.
#[cfg(not(target_os = "none"))]
pub fn parse(b: &[u8]) -> Result<Counts, String> {
    let u32_at = |o: usize| b.get(o..o + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    let u64_at = |o: usize| {
        b.get(o..o + 8).map(|s| {
            let mut w = [0; 8];
            w.copy_from_slice(s);
            u64::from_le_bytes(w)
        })
    };
    let field = |o: usize| u32_at(o).map(|v| v as usize).ok_or("the counts block is cut short");
    if u32_at(0) != Some(MAGIC) {
        return Err("no counts block (magic missing)".into());
    }
    if u32_at(4) != Some(FORMAT_VERSION) {
        return Err(format!("counts block version {:?}, this reader knows {FORMAT_VERSION}", u32_at(4)));
    }
    let (cpus, parts, classes, stamps) = (field(8)?, field(12)?, field(16)?, field(20)?);
    if classes != CLASSES || stamps != STAMPS || cpus > 256 || parts > 256 {
        return Err(format!("counts block of {classes} classes, {stamps} stamps, {cpus} CPUs, {parts} partitions"));
    }
    if b.len() < block_len(cpus, parts) {
        return Err(format!("counts block of {} bytes, expected {}", b.len(), block_len(cpus, parts)));
    }
    let freq = u64_at(24).unwrap_or(0);
    let mut at = HEADER_LEN;
    let mut out = Counts { freq, stamps: Vec::new(), counts: Vec::new() };
    for _ in 0..parts {
        let mut s = [0; STAMPS];
        for v in &mut s {
            *v = u64_at(at).unwrap_or(0);
            at += 8;
        }
        out.stamps.push(s);
    }
    for _ in 0..cpus {
        let mut cpu = Vec::new();
        for _ in 0..=parts {
            let mut c = [0; CLASSES];
            for v in &mut c {
                *v = u32_at(at).unwrap_or(0);
                at += 4;
            }
            cpu.push(c);
        }
        out.counts.push(cpu);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_reads_back() {
        let (cpus, parts) = (2, 1);
        let mut b = vec![0u8; block_len(cpus, parts)];
        b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        b[12..16].copy_from_slice(&1u32.to_le_bytes());
        b[16..20].copy_from_slice(&(CLASSES as u32).to_le_bytes());
        b[20..24].copy_from_slice(&(STAMPS as u32).to_le_bytes());
        b[24..32].copy_from_slice(&62_500_000u64.to_le_bytes());
        b[32..40].copy_from_slice(&7u64.to_le_bytes());
        // CPU 1, no partition, class `irq kick`.
        let at = HEADER_LEN + parts * STAMPS * 8 + ((parts + 1) + parts) * CLASSES * 4 + Class::IrqKick as usize * 4;
        b[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
        let c = parse(&b).unwrap();
        assert_eq!(c.freq, 62_500_000);
        assert_eq!(c.stamps, vec![[7, 0, 0]]);
        assert_eq!(c.counts[1][1][Class::IrqKick as usize], 5);
        assert_eq!(c.counts[0][0], [0; CLASSES]);
        assert!(parse(&b[..40]).is_err());
        assert!(parse(&[0; 64]).is_err());
        assert_eq!(NAMES.len(), CLASSES);
    }
}
