//! The trace's bare-metal half: the per-CPU rings, defmt's global logger over them, the timestamp, and one function
//! per event. The functions are out of line so a call site costs a call, not a copy of the encoder.
//!
//! The format strings are the trace's vocabulary: the image builder (`tools/image-builder/src/trace/event.rs`)
//! parses the decoded text, so a change here is a change there. Every event starts with a word naming it, then
//! `key=value` fields: `p` partition index, `v` vCPU index, `c` CPU.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::counts::{self, Class, Stamp, CLASSES, STAMPS};
use super::ring::Ring;
use super::DeviceKind;
use crate::config::{NUM_CPUS, NUM_PARTITIONS, SYSTEM};
use crate::core::lifecycle::StopReason;
use crate::core::vcpu::VcpuRef;
use crate::esr::Trap;

/// Bytes of frames each CPU keeps: about 4,000 events of 13 to 22 bytes (the cyclic demo's first third of a second,
/// boot included). A power of two (the ring's wrap is a mask).
pub const RING_BYTES: usize = 64 * 1024;

/// One ring per physical CPU, indexed by CPU id; the image builder finds them by this symbol in the ELF. In `.bss`:
/// all zero means "nothing written since boot".
#[unsafe(no_mangle)]
static mut HV_TRACE_RINGS: [Ring<RING_BYTES>; NUM_CPUS] = [const { Ring::new() }; NUM_CPUS];

/// This CPU's ring, or `None` on a CPU id out of range (never, once the CPU has set its id at bring-up).
fn ring() -> Option<&'static mut Ring<RING_BYTES>> {
    let cpu = crate::arch::cpu::id();
    if cpu >= NUM_CPUS {
        return None;
    }
    // SAFETY: ring `cpu` is touched only by CPU `cpu`, which runs at EL2 with interrupts masked, so no other code
    // runs on it between defmt's acquire, writes and release; the pointer is to one element, never to the whole
    // array, so no two CPUs hold a reference to the same memory. A fault at EL2 inside a frame is the one way in
    // again, and the ring's nesting count turns that into a lost frame, not a torn one.
    Some(unsafe { &mut *(core::ptr::addr_of_mut!(HV_TRACE_RINGS) as *mut Ring<RING_BYTES>).add(cpu) })
}

#[defmt::global_logger]
struct PerCpuRings;

// SAFETY: defmt requires that acquire/release bracket writes and that frames from concurrent contexts do not
// interleave: each CPU has its own ring and EL2 is not preempted, so a frame is only ever interleaved with a
// nested one from a fault at EL2, which the ring drops whole.
unsafe impl defmt::Logger for PerCpuRings {
    fn acquire() {
        if let Some(r) = ring() {
            r.begin(crate::arch::cpu::id() as u32, crate::arch::timer::frequency);
        }
    }

    unsafe fn flush() {}

    unsafe fn release() {
        if let Some(r) = ring() {
            r.end();
        }
    }

    unsafe fn write(bytes: &[u8]) {
        if let Some(r) = ring() {
            r.write(bytes);
        }
    }
}

/// The counts by class and the stamps of [`counts`], in its format; found by this symbol, like the rings. Each CPU
/// writes only its own counts, so a bump is a plain load and store, no read-modify-write the CPUs would contend on.
#[repr(C)]
struct Block {
    magic: u32,
    version: u32,
    cpus: u32,
    parts: u32,
    classes: u32,
    stamps: u32,
    freq: AtomicU64,
    stamp: [[AtomicU64; STAMPS]; NUM_PARTITIONS],
    counts: [[[AtomicU32; CLASSES]; NUM_PARTITIONS + 1]; NUM_CPUS],
}

const _: () = {
    let len = counts::block_len(NUM_CPUS, NUM_PARTITIONS);
    assert!(core::mem::size_of::<Block>() >= len && core::mem::size_of::<Block>() < len + 8);
};

#[unsafe(no_mangle)]
static HV_TRACE_COUNTS: Block = Block {
    magic: counts::MAGIC,
    version: counts::FORMAT_VERSION,
    cpus: NUM_CPUS as u32,
    parts: NUM_PARTITIONS as u32,
    classes: CLASSES as u32,
    stamps: STAMPS as u32,
    freq: AtomicU64::new(0),
    stamp: [const { [const { AtomicU64::new(0) }; STAMPS] }; NUM_PARTITIONS],
    counts: [const { [const { [const { AtomicU32::new(0) }; CLASSES] }; NUM_PARTITIONS + 1] }; NUM_CPUS],
};

/// Counts one event of `class` for partition `part` (`None`: none was running) on this CPU.
fn count(part: Option<usize>, class: Class) {
    let slot = part.unwrap_or(NUM_PARTITIONS).min(NUM_PARTITIONS);
    if let Some(c) = HV_TRACE_COUNTS.counts.get(crate::arch::cpu::id()).and_then(|cpu| cpu.get(slot)) {
        let c = &c[class as usize];
        c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
}

/// Records the counter in `part`'s `stamp` unless an earlier event did.
fn stamp(part: usize, stamp: Stamp) {
    if let Some(s) = HV_TRACE_COUNTS.stamp.get(part) {
        let _ = s[stamp as usize].compare_exchange(0, crate::arch::timer::now(), Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// The class of a data abort that reached a device of `kind` (`None`: none).
fn dabt_class(kind: Option<DeviceKind>) -> Class {
    match kind {
        Some(DeviceKind::GicDistributor) => Class::DabtGicd,
        Some(DeviceKind::GicRedistributors) => Class::DabtGicr,
        Some(DeviceKind::Virtio) => Class::DabtVirtio,
        Some(DeviceKind::Uart) => Class::DabtUart,
        Some(DeviceKind::Other) | None => Class::DabtOther,
    }
}

// Raw counter values: the ring header carries the frequency, and the host converts.
defmt::timestamp!("{=u64}", crate::arch::timer::now());

/// No partition (an idle slot).
const NONE: u8 = 0xff;

fn ids(v: VcpuRef) -> (u8, u8) {
    (v.part as u8, v.idx as u8)
}

#[inline(never)]
pub fn window(cpu: usize, slot: Option<(usize, usize)>) {
    match slot {
        Some((p, v)) => defmt::println!("win c={=u8} p={=u8} v={=u8}", cpu as u8, p as u8, v as u8),
        None => defmt::println!("win c={=u8} p={=u8} v={=u8}", cpu as u8, NONE, NONE),
    }
}

#[inline(never)]
pub fn trap(v: VcpuRef, t: &Trap, hpfar: u64, far: u64, device: Option<DeviceKind>) {
    let (p, i) = ids(v);
    stamp(v.part, Stamp::FirstExit);
    let class = match t {
        Trap::Hvc { .. } => Class::Hvc,
        Trap::Smc { .. } => Class::Smc,
        Trap::DataAbort(_) => dabt_class(device),
        Trap::SysReg(_) | Trap::Coprocessor { .. } => Class::SysReg,
        Trap::FpAccess => Class::Fp,
        Trap::Wait { wfe: false } => Class::Wfi,
        Trap::Wait { wfe: true } => Class::Wfe,
        Trap::InstructionAbort { .. } => Class::Iabt,
        Trap::Other { .. } => Class::OtherTrap,
    };
    count(Some(v.part), class);
    match t {
        Trap::Hvc { .. } => defmt::println!("trap hvc p={=u8} v={=u8}", p, i),
        Trap::Smc { .. } => defmt::println!("trap smc p={=u8} v={=u8}", p, i),
        Trap::DataAbort(d) => {
            let ipa = crate::esr::fault_ipa(hpfar, far);
            defmt::println!("trap dabt p={=u8} v={=u8} ipa={=u64:#x} w={=bool}", p, i, ipa, d.write)
        }
        Trap::SysReg(_) | Trap::Coprocessor { .. } => defmt::println!("trap sysreg p={=u8} v={=u8}", p, i),
        Trap::FpAccess => defmt::println!("trap fp p={=u8} v={=u8}", p, i),
        Trap::Wait { wfe: false } => defmt::println!("trap wfi p={=u8} v={=u8}", p, i),
        Trap::Wait { wfe: true } => defmt::println!("trap wfe p={=u8} v={=u8}", p, i),
        Trap::InstructionAbort { .. } => defmt::println!("trap iabt p={=u8} v={=u8}", p, i),
        Trap::Other { ec, .. } => defmt::println!("trap other p={=u8} v={=u8} ec={=u32:#x}", p, i, *ec),
    }
}

#[inline(never)]
pub fn trap_irq(v: VcpuRef) {
    let (p, i) = ids(v);
    stamp(v.part, Stamp::FirstExit);
    count(Some(v.part), Class::ExitIrq);
    defmt::println!("trap irq p={=u8} v={=u8}", p, i);
}

#[inline(never)]
pub fn trap_serror(v: VcpuRef) {
    let (p, i) = ids(v);
    stamp(v.part, Stamp::FirstExit);
    count(Some(v.part), Class::Serror);
    defmt::println!("trap serror p={=u8} v={=u8}", p, i);
}

#[inline(never)]
pub fn irq(intid: u32) {
    let class = match intid {
        crate::hw::gic::VTIMER_IRQ => Class::IrqVtimer,
        crate::hw::gic::HYP_TIMER_IRQ => Class::IrqHypTimer,
        crate::hw::gic::SGI_KICK => Class::IrqKick,
        i if i == SYSTEM.gic.maintenance_irq => Class::IrqMaint,
        _ => Class::IrqDevice,
    };
    count(crate::core::percpu::current().map(|v| v.part), class);
    defmt::println!("irq n={=u32}", intid);
}

#[inline(never)]
pub fn inject(target: VcpuRef, intid: u32) {
    let (p, i) = ids(target);
    let class = match intid {
        0..16 => Class::InjSgi,
        crate::hw::gic::VTIMER_IRQ => Class::InjVtimer,
        16..32 => Class::InjPpi,
        _ => Class::InjSpi,
    };
    count(Some(target.part), class);
    defmt::println!("inject p={=u8} v={=u8} irq={=u32}", p, i, intid);
}

/// The fault's description, formatted on the stack and cut at 96 bytes: faults are rare, and the words are the
/// ones the console report prints.
#[inline(never)]
pub fn fault(v: VcpuRef, pc: u64, what: fmt::Arguments) {
    let (p, i) = ids(v);
    let mut text = Text { buf: [0; 96], len: 0 };
    let _ = text.write_fmt(what);
    defmt::println!("fault p={=u8} v={=u8} pc={=u64:#x} why={=str}", p, i, pc, text.as_str());
}

#[inline(never)]
pub fn stop(part: usize, reason: &StopReason) {
    match reason {
        StopReason::Fault => defmt::println!("stop p={=u8} why=fault", part as u8),
        StopReason::PowerOff => defmt::println!("stop p={=u8} why=off", part as u8),
        StopReason::Manager => defmt::println!("stop p={=u8} why=manager", part as u8),
    }
}

#[inline(never)]
pub fn restart(part: usize) {
    defmt::println!("restart p={=u8}", part as u8);
}

#[inline(never)]
pub fn start(part: usize) {
    HV_TRACE_COUNTS.freq.store(crate::arch::timer::frequency(), Ordering::Relaxed);
    stamp(part, Stamp::Start);
    defmt::println!("start p={=u8}", part as u8);
}

/// The partition's images have been copied into its RAM (only a counter stamp: no event in the ring).
#[inline(never)]
pub fn loaded(part: usize) {
    stamp(part, Stamp::Loaded);
}

/// Cleans every ring to memory, so a board's RAM holds them after a reset that loses the caches.
pub fn flush() {
    let start = core::ptr::addr_of!(HV_TRACE_RINGS) as u64;
    crate::arch::cpu::clean_dcache(start, core::mem::size_of::<[Ring<RING_BYTES>; NUM_CPUS]>() as u64);
}

/// A fixed buffer `fmt::Write` fills up to its size, cutting at a character boundary.
struct Text {
    buf: [u8; 96],
    len: usize,
}

impl Text {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
