//! Partitions: built once at boot from the config (stage-2 tables, images copied into their RAM, virtual GIC),
//! started, and stopped or restarted as a whole without disturbing any other partition.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::config::{FaultPolicy, PartitionConfig, NUM_PARTITIONS, S2_TABLES, SYSTEM};
pub use crate::core::health::{Cause, Health};
pub use crate::core::lifecycle::Life;
pub use crate::core::lifecycle::StopReason;
use crate::core::lifecycle::{Lifecycle, Transition};
use crate::core::percpu::{self, req};
use crate::core::restart::{Plan, Step};
use crate::core::sched;
use crate::core::stage2::{Attr, Stage2, Table};
use crate::core::vcpu::{self, Power, VcpuRef};
use crate::{arch, hverror, hvprintln};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RunState {
    Running = 0,
    Stopped = 1,
}

/// Each partition's life: one transition (stop, restart) at a time, whichever vCPUs raise events together.
static LIFE: [Lifecycle; NUM_PARTITIONS] = [const { Lifecycle::new() }; NUM_PARTITIONS];
static S2_ROOT: [AtomicU64; NUM_PARTITIONS] = [const { AtomicU64::new(0) }; NUM_PARTITIONS];

/// Every partition's stage-2 tables, in one pool the image builder sized exactly.
static mut S2_POOL: [Table; S2_TABLES] = [Table::EMPTY; S2_TABLES];

/// Whether the partition runs (a partition being stopped or restarted does not).
pub fn run_state(part: usize) -> RunState {
    if LIFE[part].get() == Life::Running {
        RunState::Running
    } else {
        RunState::Stopped
    }
}

pub fn s2_root(part: usize) -> u64 {
    S2_ROOT[part].load(Ordering::Acquire)
}

/// Builds every partition's address space. Boot CPU only, before the others start.
pub fn build_all() -> Result<(), (usize, crate::core::stage2::Error)> {
    // SAFETY: runs once on the boot CPU before any other CPU or partition exists; afterwards the pool is only
    // read, by the MMU.
    let mut pool: &mut [Table] = unsafe { &mut *core::ptr::addr_of_mut!(S2_POOL) };
    for (i, p) in SYSTEM.partitions.iter().enumerate() {
        let free = core::mem::take(&mut pool);
        let n = p.s2_tables.min(free.len());
        let (mine, rest) = free.split_at_mut(n);
        pool = rest;
        let mut s2 = Stage2::new(mine).map_err(|e| (i, e))?;
        for m in p.memory {
            s2.map(m.ipa, m.pa, m.size, Attr::Ram).map_err(|e| (i, e))?;
        }
        for d in p.devices {
            s2.map(d.ipa, d.pa, d.size, Attr::Device).map_err(|e| (i, e))?;
        }
        for c in p.channels {
            let pa = SYSTEM.channels[c.channel].pa;
            s2.map(c.ipa, pa, c.size, Attr::Shared { writable: c.writable }).map_err(|e| (i, e))?;
        }
        if s2.tables_used() != p.s2_tables {
            hvprintln!(
                "note: '{}' uses {} stage-2 tables, the builder reserved {}",
                p.name,
                s2.tables_used(),
                p.s2_tables
            );
        }
        S2_ROOT[i].store(s2.root(), Ordering::Release);
    }
    Ok(())
}

/// Where a partition's images come from when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Images {
    /// Copied from the boot image's payload (always on a restart).
    Copy,
    /// Already in the partition's RAM: the boot loader put this build's images there (`crate::core::preload`). Only
    /// true at boot, before the partition has run.
    InPlace,
}

/// Puts the partition's kernel, device tree and ramdisk into its RAM: copied from the boot image, or left where
/// the boot loader put them. Either way they are cleaned to memory for a guest that starts with caches off.
fn load_images(p: &PartitionConfig, images: Images) {
    for l in p.loads {
        if images == Images::Copy {
            // SAFETY: the image builder placed `src` inside the boot image and `dst` inside this partition's RAM
            // (both validated against the layout at build time), they do not overlap, and the hypervisor maps all
            // RAM.
            unsafe {
                arch::cpu::copy_bulk(l.dst_pa as usize as *mut u8, l.src_pa as usize as *const u8, l.size as usize)
            };
        }
        arch::cpu::clean_dcache(l.dst_pa, l.size);
    }
    arch::cpu::invalidate_icache();
}

/// What a partition's start and stop need of the emulated devices above it: the device registry's `reset` (every
/// device of a partition back to reset) and `stopped` (devices holding output for it let it out).
#[derive(Clone, Copy)]
pub struct DeviceHooks {
    pub reset: fn(part: usize),
    pub stopped: fn(part: usize),
}

/// Set once at boot by the top of the crate (`boot`), before any partition starts: partitions name none of the
/// devices above them.
static DEVICES: spin::Once<DeviceHooks> = spin::Once::new();

/// Sets the device hooks. Boot CPU, once, before any partition starts.
pub fn set_device_hooks(hooks: DeviceHooks) {
    DEVICES.call_once(|| hooks);
}

/// Starts a stopped partition (at boot): its images, every emulated device reset, vCPU 0 powered on at the kernel
/// entry.
pub fn start(part: usize, images: Images) {
    if LIFE[part].claim_start() {
        crate::core::trace::start!(part);
        load_images(&SYSTEM.partitions[part], images);
        crate::core::trace::loaded!(part);
        launch(part);
    }
}

/// Launches a partition this CPU has claimed (`Restarting`) whose images are in its RAM, ending the transition:
/// every emulated device reset, vCPU 0 powered on at the kernel entry.
fn launch(part: usize) {
    let p = &SYSTEM.partitions[part];
    if let Some(devices) = DEVICES.get() {
        (devices.reset)(part);
    }
    let v0 = VcpuRef { part, idx: 0 };
    vcpu::update_power(v0, |s| *s = Power::OnPending { entry: p.entry, context: p.dtb, boot: true });
    // Running before vCPU 0's CPU is asked to start it: it enters only a running partition.
    LIFE[part].finish();
    percpu::post(v0.pcpu(), req::START);
}

/// Stops every vCPU of `part`. The calling CPU's own vCPU, if it belongs to `part`, is left for the caller to
/// park; the others are asked through their mailboxes. Does nothing when the partition is not running or another
/// CPU is already stopping or restarting it (the caller parks its vCPU all the same). Returns whether this call
/// stopped it.
pub fn stop(part: usize, reason: StopReason) -> bool {
    if !LIFE[part].claim(Transition::Stop) {
        return false;
    }
    HEALTH[part].lock().last_cause = match reason {
        StopReason::Fault => Cause::Fault,
        StopReason::PowerOff => Cause::PowerOff,
        StopReason::Manager => Cause::Manager,
    };
    crate::core::trace::stop!(part, &reason);
    halt_vcpus(part);
    match reason {
        StopReason::PowerOff => hvprintln!("partition '{}' powered off", SYSTEM.partitions[part].name),
        StopReason::Manager => {
            hvprintln!("partition '{}' stopped by a partition that manages it", SYSTEM.partitions[part].name)
        }
        StopReason::Fault => {}
    }
    LIFE[part].finish();
    true
}

/// Powers off every vCPU of a partition this CPU has claimed and asks their CPUs to leave the guest.
fn halt_vcpus(part: usize) {
    if let Some(devices) = DEVICES.get() {
        (devices.stopped)(part);
    }
    let me = arch::cpu::id();
    for (idx, vc) in SYSTEM.partitions[part].vcpus.iter().enumerate() {
        let v = VcpuRef { part, idx };
        vcpu::update_power(v, |s| *s = Power::Off);
        if vc.pcpu != me {
            percpu::post(vc.pcpu, req::STOP);
        }
    }
}

/// Each partition's health record: restarts, the restart budget's history, the last fault.
static HEALTH: [spin::Mutex<Health>; NUM_PARTITIONS] = [const { spin::Mutex::new(Health::NEW) }; NUM_PARTITIONS];

/// A copy of partition `part`'s health record.
pub fn health(part: usize) -> Health {
    *HEALTH[part].lock()
}

/// Where partition `part` is in its life.
pub fn life(part: usize) -> Life {
    LIFE[part].get()
}

/// The console's status view (`Ctrl-]` `s`): one line per partition with its state, its restarts, its entries
/// into hv-static so far, and why it last stopped or restarted (with the PC and address of a fault).
pub fn print_status() {
    hvprintln!("status: partition, state, restarts, entries into hv-static, last stop or restart");
    for (i, p) in SYSTEM.partitions.iter().enumerate() {
        let h = health(i);
        let exits: u64 = (0..p.vcpus.len()).map(|idx| u64::from(percpu::exits(VcpuRef { part: i, idx }))).sum();
        let state = match life(i) {
            Life::Running => "running",
            Life::Stopped => "stopped",
            Life::Stopping => "stopping",
            Life::Restarting => "restarting",
        };
        match h.last_cause {
            Cause::Fault => hvprintln!(
                "  {i}: {} {state}, restarts {}, entries {exits}, last: fault at PC {:#x} address {:#x}",
                p.name,
                h.restarts,
                h.last_pc,
                h.last_addr
            ),
            cause => hvprintln!(
                "  {i}: {} {state}, restarts {}, entries {exits}, last: {}",
                p.name,
                h.restarts,
                cause.name()
            ),
        }
    }
}

/// A partition did something it may not (`Cause::Fault`: a stage-2 fault or an unhandled trap at `pc`, touching
/// guest-physical `addr` or 0), or its watchdog expired (`Cause::Watchdog`): its `on_fault` policy applies. The
/// caller parks its own vCPU if it is one of the partition's. Concurrent faults of several vCPUs resolve to one
/// transition, and use one restart of the budget.
pub fn fault(part: usize, cause: Cause, pc: u64, addr: u64) {
    let p = &SYSTEM.partitions[part];
    {
        let mut h = HEALTH[part].lock();
        (h.last_pc, h.last_addr) = (pc, addr);
    }
    let FaultPolicy::Restart { max_restarts, window_ns, delay_ns } = p.fault_policy else {
        if stop(part, StopReason::Fault) {
            HEALTH[part].lock().last_cause = cause;
            hverror!("partition '{}' stopped (on_fault = \"stop\"); other partitions continue", p.name);
        }
        return;
    };
    if !LIFE[part].claim(Transition::Restart) {
        return;
    }
    let window = sched::ticks(window_ns, arch::timer::frequency());
    let granted = HEALTH[part].lock().grant(arch::timer::now(), max_restarts, window);
    if granted {
        return begin_restart(part, cause, delay_ns);
    }
    LIFE[part].stop_instead();
    HEALTH[part].lock().last_cause = cause;
    crate::core::trace::stop!(part, &StopReason::Fault);
    halt_vcpus(part);
    LIFE[part].finish();
    hverror!(
        "partition '{}' stopped: restarted {max_restarts} times within the last {} already (on_fault = \"restart\", \
         max_restarts = {max_restarts}); other partitions continue",
        p.name,
        Duration(window_ns)
    );
}

/// SYSTEM_RESET from inside the partition (`Cause::Reset`), or a managing partition's request (`Cause::Manager`):
/// start it again from its images, whatever its fault policy and budget. When several vCPUs reset (or one resets
/// while another powers off or faults) at once, only the first to claim the partition acts; the others return at
/// once and park. A stopped partition is started (a manager's request). Returns whether this call began it.
pub fn restart(part: usize, cause: Cause) -> bool {
    let claimed = LIFE[part].claim(Transition::Restart) || LIFE[part].claim_start();
    if claimed {
        begin_restart(part, cause, 0);
    }
    claimed
}

/// A managing partition's request to start a stopped partition, from its images with its RAM zeroed as a restart
/// would. Returns whether this call began it (false: it is not stopped).
pub fn start_stopped(part: usize) -> bool {
    let claimed = LIFE[part].claim_start();
    if claimed {
        begin_restart(part, Cause::Manager, 0);
    }
    claimed
}

/// A restart under way: where its work is, when it may begin, and when it was asked for.
struct Job {
    plan: Plan,
    not_before: u64,
    asked: u64,
}

/// Each partition's restart under way, if any: set by the CPU that claimed the restart, stepped by the CPU of the
/// partition's vCPU 0 (`continue_restart`).
static JOBS: [spin::Mutex<Option<Job>>; NUM_PARTITIONS] = [const { spin::Mutex::new(None) }; NUM_PARTITIONS];

/// Stops every vCPU of a partition this CPU has claimed for a restart and leaves the rest (scrubbing its RAM,
/// reloading its images, resetting its devices) to the CPU of its vCPU 0, in the partition's own time.
fn begin_restart(part: usize, cause: Cause, delay_ns: u64) {
    let p = &SYSTEM.partitions[part];
    crate::core::trace::restart!(part);
    halt_vcpus(part);
    let n = {
        let mut h = HEALTH[part].lock();
        h.restarts += 1;
        h.last_cause = cause;
        h.restarts
    };
    let now = arch::timer::now();
    let not_before = now + sched::ticks(delay_ns, arch::timer::frequency());
    *JOBS[part].lock() = Some(Job { plan: Plan::START, not_before, asked: now });
    hvprintln!("partition '{}' restarting ({}), restart {n}", p.name, cause.name());
    percpu::post(p.vcpus[0].pcpu, req::START);
}

/// What [`continue_restart`] leaves to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Nothing (no restart under way, or it just finished: vCPU 0 is ready to enter).
    None,
    /// Waiting for its delay: the CPU may sleep (a pinned CPU has its timer armed for the delay's end; a cyclic
    /// one looks again at the partition's next window).
    Wait,
    /// More steps: call again as soon as pending interrupts are taken (a window boundary may have come).
    More,
}

/// Steps partition `part`'s restart on this CPU, the CPU of its vCPU 0, in the partition's own time: the idle
/// loop calls it while vCPU 0 has this CPU (its window, or its pinned CPU). Returns after at most
/// [`SLICE_STEPS`] steps, or as soon as this CPU's window boundary is due.
pub fn continue_restart(part: usize) -> Work {
    if LIFE[part].get() != Life::Restarting {
        return Work::None;
    }
    let p = &SYSTEM.partitions[part];
    let me = arch::cpu::id();
    let mut job = JOBS[part].lock();
    let Some(j) = job.as_mut() else { return Work::None };
    let now = arch::timer::now();
    if now < j.not_before {
        // A cyclic CPU's timer marks its windows; a pinned one's is free.
        if sched::schedule(me).is_none() {
            arch::timer::set_hyp_deadline(j.not_before);
        }
        return Work::Wait;
    }
    // Every other vCPU out of the guest first: they were asked to leave (`halt_vcpus`).
    for (idx, vc) in p.vcpus.iter().enumerate().filter(|(_, vc)| vc.pcpu != me) {
        if percpu::current_on(vc.pcpu) == Some(VcpuRef { part, idx }) {
            return Work::More;
        }
    }
    for _ in 0..SLICE_STEPS {
        if arch::timer::hyp_deadline_passed() {
            return Work::More;
        }
        let written = match j.plan.next(p.memory, p.loads) {
            Step::Zero { pa, len } => {
                // SAFETY: the partition's own RAM, which the image builder placed inside board RAM the hypervisor
                // maps and gave to no one else; every vCPU of the partition has left the guest (checked above), so
                // nothing else accesses it until the partition is launched again.
                unsafe { arch::cpu::zero_bulk(pa as usize as *mut u8, len as usize) };
                (pa, len)
            }
            Step::Copy { dst, src, len } => {
                // SAFETY: `src` is inside the boot image's payload, `dst` inside this partition's RAM (both
                // validated against the layout at build time); they do not overlap, and the hypervisor maps all RAM.
                unsafe { arch::cpu::copy_bulk(dst as usize as *mut u8, src as usize as *const u8, len as usize) };
                (dst, len)
            }
            // Launching (the console line, every device of the partition reset, vCPU 0 powered on: ~3,000
            // instructions on ARMv7) is not begun close to a boundary either: it waits for the next window.
            Step::Done if arch::timer::hyp_deadline_within(sched::ticks(LAUNCH_WORK_NS, arch::timer::frequency())) => {
                return Work::More
            }
            Step::Done => {
                let asked = j.asked;
                *job = None;
                drop(job);
                arch::cpu::invalidate_icache();
                crate::core::trace::loaded!(part);
                let ms = (arch::timer::now() - asked) * 1000 / arch::timer::frequency().max(1);
                hvprintln!("partition '{}' restarted {ms} ms after it stopped: RAM scrubbed, images reloaded", p.name);
                launch(part);
                return Work::None;
            }
        };
        // Guests start with caches off: what was written is cleaned to memory.
        arch::cpu::clean_dcache(written.0, written.1);
    }
    Work::More
}

/// What launching a reloaded partition may take at most, in nanoseconds (with room: ~3 µs measured on ARMv7
/// under QEMU).
const LAUNCH_WORK_NS: u64 = 10_000;

/// Steps [`continue_restart`] takes at most before it lets the CPU take pending interrupts: 256 KiB, so a CPU
/// that also serves the console's transmit interrupt or a mailbox is back for them within well under a
/// millisecond.
const SLICE_STEPS: usize = 64;

/// A duration in nanoseconds as the console shows it: in the largest of s, ms, us, ns that divides it.
struct Duration(u64);

impl core::fmt::Display for Duration {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        let ns = self.0;
        match [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")].into_iter().find(|(u, _)| ns.is_multiple_of(*u))
        {
            Some((unit, name)) if ns > 0 => write!(f, "{} {name}", ns / unit),
            _ => write!(f, "{ns} ns"),
        }
    }
}
