//! Partitions: built once at boot from the config (stage-2 tables, images copied into their RAM, virtual GIC),
//! started, and stopped or restarted as a whole without disturbing any other partition.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::config::{PartitionConfig, NUM_PARTITIONS, S2_TABLES, SYSTEM};
pub use crate::core::lifecycle::StopReason;
use crate::core::lifecycle::{Life, Lifecycle, Transition};
use crate::core::percpu::{self, req};
use crate::core::stage2::{Attr, Stage2, Table};
use crate::core::vcpu::{self, Power, VcpuRef};
use crate::{arch, hvprintln};

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
        launch(part, images);
    }
}

/// Loads and launches a partition this CPU has claimed (`Restarting`), ending the transition.
fn launch(part: usize, images: Images) {
    let p = &SYSTEM.partitions[part];
    crate::core::trace::start!(part);
    load_images(p, images);
    crate::core::trace::loaded!(part);
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
    crate::core::trace::stop!(part, &reason);
    halt_vcpus(part);
    if let StopReason::PowerOff = reason {
        hvprintln!("partition '{}' powered off", SYSTEM.partitions[part].name);
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

/// SYSTEM_RESET from inside the partition: stop it, wait until its other vCPUs have left the guest, then start it
/// again from its images. The caller parks its own vCPU afterwards, and its CPU picks up vCPU 0 if it is its own.
/// When several vCPUs reset (or one resets while another powers off or faults) at once, only the first to claim
/// the partition acts; the others return at once and park, which is what the first is waiting for.
pub fn reset(part: usize) {
    if !LIFE[part].claim(Transition::Restart) {
        return;
    }
    crate::core::trace::restart!(part);
    halt_vcpus(part);
    let me = arch::cpu::id();
    for (idx, vc) in SYSTEM.partitions[part].vcpus.iter().enumerate().filter(|(_, vc)| vc.pcpu != me) {
        let v = VcpuRef { part, idx };
        while percpu::current_on(vc.pcpu) == Some(v) {
            arch::cpu::wfe();
        }
    }
    hvprintln!("partition '{}' restarting", SYSTEM.partitions[part].name);
    scrub(&SYSTEM.partitions[part]);
    launch(part, Images::Copy);
}

/// Zeroes a stopped partition's RAM before it starts again, so its new run finds nothing of the old one but its
/// freshly loaded images (guests start with caches off: the zeroes are cleaned to memory). Costs the restarting
/// CPU one write and one cache clean per byte of the partition's RAM (measured in QEMU: a few ms per 32 MiB).
fn scrub(p: &PartitionConfig) {
    for m in p.memory {
        // SAFETY: the partition's own RAM, which the image builder placed inside board RAM the hypervisor maps and
        // gave to no one else; every vCPU of the partition has left the guest (the caller waited), so nothing else
        // accesses it until the partition is launched again.
        unsafe { core::ptr::write_bytes(m.pa as usize as *mut u8, 0, m.size as usize) };
        arch::cpu::clean_dcache(m.pa, m.size);
    }
}
