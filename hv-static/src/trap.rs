//! Rust side of the EL2 vectors: what to do with each kind of trap from a partition.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::{self, sysreg, GuestRegs};
use crate::config::NUM_PARTITIONS;
use crate::core::partition::{self, Cause};
use crate::core::percpu;
use crate::core::vcpu::VcpuRef;
use crate::esr::{self, DataAbort, Trap};
use crate::{core::fp, core::trace, hverror, hvwarn, hypercall, irq, mmio, run};

/// The vCPU that trapped, its entry counted.
#[allow(clippy::panic, reason = "a trap from a guest on a CPU that runs none is a hypervisor bug, not guest input")]
fn entered() -> VcpuRef {
    match percpu::entered() {
        Some(v) => v,
        // A trap from EL1 on a CPU that runs no vCPU cannot happen; treat it as a hypervisor bug.
        None => panic!("trap on CPU {} with no vCPU", arch::cpu::id()),
    }
}

/// The vCPU running here, for the second step of an entry [`entered`] has counted.
#[allow(clippy::panic, reason = "a trap from a guest on a CPU that runs none is a hypervisor bug, not guest input")]
fn current() -> VcpuRef {
    match percpu::current() {
        Some(v) => v,
        None => panic!("trap on CPU {} with no vCPU", arch::cpu::id()),
    }
}

#[unsafe(no_mangle)]
extern "C" fn handle_lower_sync(regs: &mut GuestRegs) {
    let v = entered();
    let (esr, far, hpfar) = arch::trap_syndrome();
    let trap = esr::decode(esr);
    trace::trap!(v, &trap, hpfar, far, {
        let dabt = matches!(trap, Trap::DataAbort(_));
        dabt.then(|| crate::devices::kind_at(v.part, esr::fault_ipa(hpfar, far))).flatten()
    });
    match trap {
        Trap::Hvc { .. } => {
            if !hypercall::dispatch(v, regs) {
                run::park(v);
            }
        }
        Trap::Smc { .. } => {
            regs.advance(4);
            if !hypercall::dispatch(v, regs) {
                run::park(v);
            }
        }
        Trap::DataAbort(d) => data_abort(v, regs, d, esr, far, esr::fault_ipa(hpfar, far)),
        // Not stepped over: the instruction runs again, now with the vCPU's own FP/SIMD state.
        Trap::FpAccess => fp::access(v),
        // A GICv3 guest sending an SGI (trapped because HCR_EL2.IMO is set): to the listed vCPUs of its partition.
        #[cfg(target_arch = "aarch64")]
        Trap::SysReg(a) if a.encoding() == sysreg::ICC_SGI1R_EL1 && !a.read => {
            crate::vdev::vgic::send_sgi_v3(v, regs.get(a.rt));
            regs.advance(4);
        }
        Trap::SysReg(a) => sysreg::emulate(regs, &a),
        Trap::Coprocessor { .. } => sysreg::emulate_cp15(regs, esr::instr_len(esr)),
        Trap::Wait { wfe } => {
            if !wfe {
                run::wait_for_interrupt();
            }
            regs.advance(esr::instr_len(esr))
        }
        Trap::InstructionAbort { .. } => {
            let ipa = esr::fault_ipa(hpfar, far);
            fault(v, regs, ipa, format_args!("instruction abort at IPA {ipa:#x}"))
        }
        Trap::Other { ec, iss } => fault(v, regs, 0, format_args!("unhandled trap EC {ec:#x} ISS {iss:#x}")),
    }
}

/// A stage-2 data abort: an access to an emulated device is carried out; one the hypervisor cannot carry out
/// (no syndrome, and on ARMv7 not one it decodes) becomes a synchronous external abort in the partition, which
/// keeps running; cache maintenance by address on a device is skipped; anything else is a fault.
fn data_abort(v: VcpuRef, regs: &mut GuestRegs, d: DataAbort, esr: u64, far: u64, ipa: u64) {
    // Without a syndrome (ARMv7 loads/stores with writeback), decode the instruction itself.
    // ESR.IL is not meaningful then; the decoder only accepts 4-byte A32 instructions.
    let (d, writeback, len) = match (d.valid, d.s1ptw) {
        (false, false) if !d.cache_maintenance => match arch::decode_unsyndromed(regs).map(|x| x.parts()) {
            Some((d, wb)) => (d, wb, 4),
            None => (d, None, 0),
        },
        _ => (d, None, esr::instr_len(esr)),
    };
    if d.valid && !d.s1ptw {
        if let Some(done) = mmio::emulate(v, ipa, &d, regs.get(d.reg)) {
            // Left for later: the PC stays on the instruction, which runs again in the vCPU's next window.
            let Ok(raw) = done else { return };
            if !d.write {
                regs.set(d.reg, d.load_value(raw));
            }
            if let Some((rn, offset)) = writeback {
                regs.set(rn, regs.get(rn).wrapping_add(offset as i64 as u64));
            }
            regs.advance(len);
            return;
        }
    } else if !d.s1ptw && mmio::is_emulated(v, ipa) {
        if d.cache_maintenance {
            // DC CIVAC and the like on a device window: nothing is cached there, as on real device memory.
            regs.advance(esr::instr_len(esr));
        } else {
            report_unsyndromed(v, regs, ipa, d.write);
            arch::inject::data_abort(regs, esr, far, d.write);
        }
        return;
    }
    let kind = if d.write { "write" } else { "read" };
    match crate::vdev::channel::read_only_at(v.partition(), ipa).filter(|_| d.write) {
        Some(c) => fault(
            v,
            regs,
            ipa,
            format_args!(
                "data abort (write) at IPA {ipa:#x}: channel '{}' is read-only in this partition",
                crate::config::SYSTEM.channels[c.channel].name
            ),
        ),
        None => fault(v, regs, ipa, format_args!("data abort ({kind}) at IPA {ipa:#x}")),
    }
}

/// Unsyndromed accesses to emulated devices each partition made so far (answered with an abort).
static UNSYNDROMED: [AtomicU64; NUM_PARTITIONS] = [const { AtomicU64::new(0) }; NUM_PARTITIONS];
/// How many of them are reported one by one; after that only the count is, each time it doubles, so a partition
/// that loops on one cannot flood the console (64 lines for 2^64 of them).
const UNSYNDROMED_REPORTED: u64 = 4;

/// Tells the operator that a partition reached an emulated device with an access hv-static could not emulate, which
/// usually means a guest driver uses a load/store form the guest ABI excludes (LDP/STP, writeback, LDM/LDRD...).
fn report_unsyndromed(v: VcpuRef, regs: &GuestRegs, ipa: u64, write: bool) {
    let Some(count) = UNSYNDROMED.get(v.part) else { return };
    let n = count.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    let p = v.partition();
    if n <= UNSYNDROMED_REPORTED {
        let kind = if write { "write" } else { "read" };
        hvwarn!(
            "partition '{}' vcpu {}: {kind} at IPA {ipa:#x} (PC {:#x}) without syndrome: external abort injected",
            p.name,
            v.idx,
            regs.pc()
        );
    } else if n.is_power_of_two() {
        hvwarn!(
            "partition '{}': {n} accesses without syndrome to emulated devices, each answered with an abort (the \
             first {UNSYNDROMED_REPORTED} reported)",
            p.name
        );
    }
}

/// A partition did something it may not (at guest-physical `addr`, or 0): [`fault_now`], unless this CPU's window
/// boundary is due within [`FAULT_WORK_US`]. The report and the policy's work (console lines, stopping the
/// partition's vCPUs, setting up a restart: up to ~10,000 instructions on ARMv7) would then start the next window
/// late (measured: 660 ticks against 53 quiet in qemu-a15-restart.toml), so the fault is left for the partition's
/// own next window: the PC stays on the faulting instruction, which faults again when it runs. Once only: the
/// fault that comes back is handled whatever the time, so a partition whose windows are shorter than the work
/// still gets its policy applied, a window later.
fn fault(v: VcpuRef, regs: &GuestRegs, addr: u64, what: core::fmt::Arguments) {
    let deferred = &FAULT_DEFERRED[v.global()];
    let soon = arch::timer::hyp_deadline_within(arch::timer::frequency() / (1_000_000 / FAULT_WORK_US));
    if soon && !deferred.swap(true, Ordering::Relaxed) {
        return;
    }
    deferred.store(false, Ordering::Relaxed);
    fault_now(v, regs, addr, what)
}

/// What a fault's handling may take at most, in microseconds (with room: ~10 µs measured on ARMv7 under QEMU).
const FAULT_WORK_US: u64 = 20;

/// Per vCPU: its last fault was left for its next window.
static FAULT_DEFERRED: [core::sync::atomic::AtomicBool; crate::config::NUM_VCPUS] =
    [const { core::sync::atomic::AtomicBool::new(false) }; crate::config::NUM_VCPUS];

/// Reports a fault of `v` (at guest-physical `addr`, or 0) and applies its partition's fault policy
/// (`partition::fault`: stop, or restart within its budget). Never returns to the guest.
fn fault_now(v: VcpuRef, regs: &GuestRegs, addr: u64, what: core::fmt::Arguments) -> ! {
    let p = v.partition();
    trace::fault!(v, regs.pc(), what);
    hverror!("partition '{}' vcpu {} fault: {} (PC {:#x})", p.name, v.idx, what, regs.pc());
    // Another vCPU may already be stopping or restarting the partition: then this one just parks.
    partition::fault(v.part, Cause::Fault, regs.pc(), addr);
    run::park(v)
}

/// An interrupt taken while a partition ran, in two steps so that the common case saves and restores only what
/// it must (issue 15): the exception entry saves the registers a call may clobber and calls this; what a partition
/// keeps in the others (x19-x28 on AArch64) is still in the CPU when it returns, since Rust preserves them. Only when
/// the vCPU must leave (stopped, or a window boundary of its cyclic pool) does the entry complete the frame and call
/// [`handle_lower_irq_leave`] with the requests returned here ([`irq::Requests::bits`]; 0 = return to the guest).
#[unsafe(no_mangle)]
extern "C" fn handle_lower_irq() -> u32 {
    let v = entered();
    trace::trap_irq!(v);
    irq::handle_pending(Some(v)).bits()
}

/// The second step of [`handle_lower_irq`], once the vCPU running here has all its registers in its frame.
/// Returns the frame to return to a partition through: the same vCPU's, or the next one's after a window switch.
#[unsafe(no_mangle)]
extern "C" fn handle_lower_irq_leave(regs: &mut GuestRegs, requests: u32) -> *mut GuestRegs {
    let v = current();
    let req = irq::Requests::from_bits(requests);
    if req.stop {
        run::park(v);
    }
    if req.tick {
        return run::tick(v);
    }
    regs
}

#[unsafe(no_mangle)]
extern "C" fn handle_lower_serror(regs: &mut GuestRegs) {
    let v = entered();
    trace::trap_serror!(v);
    // Asynchronous: nothing would raise it again, so it is handled now.
    fault_now(v, regs, 0, format_args!("SError"))
}

#[unsafe(no_mangle)]
#[allow(clippy::panic, reason = "an exception taken at EL2 itself is a hypervisor bug: the panic handler reports it")]
extern "C" fn handle_hv_exception(_sp: u64) -> ! {
    let (esr, far, _) = arch::trap_syndrome();
    panic!("exception at EL2: ESR {esr:#x} FAR {far:#x}");
}
