//! Starting the other CPUs the way the board's boot firmware expects (`SYSTEM.cpu_start`): PSCI `CPU_ON` over
//! SMC, or releasing them from the boot loader's holding pen (Versatile Express SYS_FLAGS).

use core::arch::asm;

use crate::config::{CpuStart, SYSTEM};

const PSCI_CPU_ON_32: u32 = hv_plan::abi::psci::CPU_ON_32;
/// PSCI return codes used here.
const PSCI_SUCCESS: i64 = hv_plan::abi::psci::SUCCESS as i64;
const PSCI_INVALID_PARAMETERS: i64 = hv_plan::abi::psci::INVALID_PARAMETERS as i64;
const PSCI_NOT_SUPPORTED: i64 = hv_plan::abi::psci::NOT_SUPPORTED as i64;

/// Starts physical CPU `mpidr` at `entry` (a physical address) with `context` in r0 where the method passes one.
/// Returns a PSCI status. A CPU released from the holding pen (`SysFlags`) waits for an interrupt to look: the
/// caller then sends it the hypervisor's kick SGI (`boot`), which the physical GIC driver above this layer sends.
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    match SYSTEM.cpu_start {
        CpuStart::Psci => psci_cpu_on(mpidr, entry, context),
        CpuStart::SysFlags { set, clear } => release_from_pen(set, clear, mpidr, entry),
        // An AArch64 boot protocol: no ARMv7 board uses it.
        CpuStart::SpinTable { .. } => PSCI_NOT_SUPPORTED,
    }
}

fn psci_cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    let mut r0 = PSCI_CPU_ON_32;
    // SAFETY: an SMCCC call: r0-r3 are arguments, r0 the result; the firmware preserves r4-r14.
    unsafe {
        asm!(
            ".arch_extension sec",
            "smc #0",
            inout("r0") r0, inout("r1") mpidr as u32 => _, inout("r2") entry as u32 => _,
            inout("r3") context as u32 => _, options(nostack)
        );
    }
    r0 as i32 as i64
}

/// The boot loader keeps the other CPUs in WFI; each wakes on any interrupt, reads the flags register and jumps to
/// its value once it is non-zero. Every waiting CPU reads the same register, so it simply holds `entry` from the
/// first start on; only the CPU that gets the SGI (sent by the caller once this returns) looks. A CPU that reads the register between the clear and the
/// set sees 0 and waits again, but the boot loader never acknowledges the SGI, so it stays pending, WFI returns at
/// once and the CPU reads again. The SGI is the hypervisor's own "look at your mailbox" one: once the CPU runs
/// hv-static it finds the interrupt still pending and an empty mailbox, which is harmless.
///
/// When the CPUs started in the Secure state, the waiting CPU's SGIs are still Group 0 (it has not been through
/// `secure.rs` yet). QEMU 7.2 forwards a Group 0 SGI raised by a Non-secure GICD_SGIR write (measured); the GIC
/// architecture lets real hardware drop it, so a real board parked this way would need its CPUs released from the
/// Secure side.
fn release_from_pen(set: u64, clear: u64, mpidr: u64, entry: u64) -> i64 {
    if !SYSTEM.cpus.iter().any(|c| c.mpidr == mpidr) {
        return PSCI_INVALID_PARAMETERS;
    }
    // SAFETY: `set` and `clear` are the board's SYS_FLAGSSET/SYS_FLAGSCLR registers from the generated
    // configuration: device memory the hypervisor's own map covers (`hyp_tables::device_windows`); writing them only changes
    // the flags the parked CPUs poll.
    unsafe {
        core::ptr::write_volatile(clear as usize as *mut u32, u32::MAX);
        core::ptr::write_volatile(set as usize as *mut u32, entry as u32);
    }
    // The flags must be visible before the CPU wakes and reads them.
    aarch32_cpu::asm::dsb();
    PSCI_SUCCESS
}
