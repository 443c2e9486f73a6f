//! Lazy FP/SIMD switching: a CPU's FP registers are saved and loaded only when a vCPU that does not own them uses
//! them, not at every window switch.
//!
//! Each CPU records which vCPU's FP state its registers hold (its owner). A vCPU entered on a CPU it does not own
//! runs with FP/SIMD trapped (CPTR_EL2.TFP, HCPTR.TCP10/11); its first FP instruction traps to [`access`], which
//! saves the owner's registers into the owner's context, loads the vCPU's, makes it the owner and turns the trap
//! off; the instruction then runs again. A vCPU that owns its CPU's registers runs untrapped and never pays.
//!
//! Why: a window switch saved and loaded 32 128-bit registers (~80 instructions on AArch64) whether or not either
//! vCPU used them (issue 15); in a cyclic pool with a Linux partition and a real-time one that does no floating
//! point, Linux's FP state now stays in the registers across the other's windows and is never moved at all.
//!
//! Isolation: another vCPU's values stay in the registers while a vCPU that does not own them runs, but every
//! instruction that could read them (FP/SIMD data processing, loads, stores, FPCR/FPSR, FPEXC/FPSCR/FPSID on ARMv7)
//! traps first. A vCPU powered on (boot, CPU_ON, a restart) starts with zeroed FP state and owns nothing.
//!
//! Every vCPU is pinned to one CPU, so a CPU's owner is only ever read and changed by that CPU, with interrupts
//! masked at EL2: no ordering with other CPUs is needed.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::arch::{self, FpRegs};
use crate::config::NUM_CPUS;
use crate::core::vcpu::{self, VcpuRef};

/// Per CPU: the vCPU (flat index + 1) whose FP/SIMD state is in the CPU's registers, 0 for none.
static OWNER: [AtomicUsize; NUM_CPUS] = [const { AtomicUsize::new(0) }; NUM_CPUS];

fn owner() -> &'static AtomicUsize {
    &OWNER[arch::cpu::id()]
}

/// As `v` is entered on this CPU: FP/SIMD untrapped if its state is in the registers, trapped otherwise.
pub fn on_enter(v: VcpuRef) {
    arch::cpu::trap_fp(owner().load(Ordering::Relaxed) != v.global() + 1);
}

/// As `v` is powered on (its context's FP state zeroed by the caller): whatever its previous run left in this
/// CPU's registers is not its state any more.
pub fn on_power_on(v: VcpuRef) {
    let _ = owner().compare_exchange(v.global() + 1, 0, Ordering::Relaxed, Ordering::Relaxed);
}

/// As `v` leaves this CPU for good (powered off, stopped, restarting): its FP state goes into `fp` (its context),
/// and the registers belong to no one.
pub fn on_park(v: VcpuRef, fp: &mut FpRegs) {
    if owner().compare_exchange(v.global() + 1, 0, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        arch::cpu::trap_fp(false);
        fp.save();
    }
}

/// `v`, running on this CPU, used FP/SIMD while its state was not in the registers (the trap [`on_enter`] set):
/// saves the owner's, loads `v`'s, and lets `v` run untrapped until it next leaves the CPU. Bounded: one save and
/// one load of the registers.
pub fn access(v: VcpuRef) {
    let me = v.global() + 1;
    let cpu_owner = owner();
    arch::cpu::trap_fp(false);
    let previous = cpu_owner.load(Ordering::Relaxed);
    if previous == me {
        return; // Only if the trap was stale: nothing to move.
    }
    if let Some(g) = previous.checked_sub(1) {
        vcpu::context(VcpuRef::from_global(g)).fp.save();
    }
    vcpu::context(v).fp.restore();
    cpu_owner.store(me, Ordering::Relaxed);
}
