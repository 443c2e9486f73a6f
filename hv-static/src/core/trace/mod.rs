//! A binary event trace (cargo feature `trace`, off by default): window starts, traps by class, virtual interrupt
//! injections, faults, partition stops and restarts, each a `defmt` frame with a counter timestamp, kept in a RAM
//! ring per physical CPU. The image builder reads the rings out of QEMU (or a dump of a board's RAM), decodes them
//! against the ELF and draws a timeline (`docs/trace.md`).
//!
//! Why defmt: a frame is an index into a string table that stays in the ELF plus the raw arguments, so an event
//! costs 10 to 20 bytes and no formatting on the CPU that traps. Why a ring per CPU: the trace sits on the
//! hypervisor's hottest paths and must not add a lock that CPUs share, nor ever wait.
//!
//! Next to the rings, per-CPU counts of the same events by class ([`counts`]) keep the totals of a whole run, which
//! the rings cannot (they keep the newest events only).
//!
//! Call sites use the macros below, which expand to nothing without the feature: the arguments are not even
//! evaluated, so the default build is the same code as before the trace existed.

#[cfg(any(test, all(feature = "trace", target_os = "none")))]
pub mod ring;

#[cfg(any(test, all(feature = "trace", target_os = "none")))]
pub mod counts;

#[cfg(all(feature = "trace", target_os = "none"))]
pub mod emit;

/// What kind of emulated device a data abort reached, for the trace's counters (`vdev::VirtualDevice::kind`) (a device the trace has no class for is
/// `Other`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "trace"), allow(dead_code, reason = "only the event trace asks"))]
pub enum DeviceKind {
    GicDistributor,
    GicRedistributors,
    Virtio,
    Uart,
    Other,
}

/// A window starts on CPU `cpu`: `slot_vcpu` is the slot's `Option<(partition, vcpu)>` (`None`: idle).
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! window {
    ($cpu:expr, $slot_vcpu:expr) => {
        $crate::core::trace::emit::window($cpu, $slot_vcpu)
    };
}
/// A synchronous trap from vCPU `v`, by class: `trap!(v, &Trap, hpfar, far, device)` (the fault registers give a
/// data abort's IPA, `device` the kind of emulated device there, as the caller's registry finds it).
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! trap {
    ($v:expr, $trap:expr, $hpfar:expr, $far:expr, $device:expr) => {
        $crate::core::trace::emit::trap($v, $trap, $hpfar, $far, $device)
    };
}
/// An exit to EL2 for an interrupt (`trap_irq!(v)`) or an SError (`trap_serror!(v)`).
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! trap_irq {
    ($v:expr) => {
        $crate::core::trace::emit::trap_irq($v)
    };
}
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! trap_serror {
    ($v:expr) => {
        $crate::core::trace::emit::trap_serror($v)
    };
}
/// A physical interrupt taken at EL2 (`irq!(intid)`).
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! irq {
    ($intid:expr) => {
        $crate::core::trace::emit::irq($intid)
    };
}
/// Virtual interrupt `intid` made pending for vCPU `target` (`inject!(target, intid)`).
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! inject {
    ($target:expr, $intid:expr) => {
        $crate::core::trace::emit::inject($target, $intid)
    };
}
/// A partition fault, with the words the console report uses (`fault!(v, pc, format_args)`).
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! fault {
    ($v:expr, $pc:expr, $what:expr) => {
        $crate::core::trace::emit::fault($v, $pc, $what)
    };
}
/// A partition stops (`stop!(part, &StopReason)`), restarts (`restart!(part)`) or is launched (`start!(part)`).
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! stop {
    ($part:expr, $reason:expr) => {
        $crate::core::trace::emit::stop($part, $reason)
    };
}
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! restart {
    ($part:expr) => {
        $crate::core::trace::emit::restart($part)
    };
}
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! start {
    ($part:expr) => {
        $crate::core::trace::emit::start($part)
    };
}
/// A partition's images are in its RAM (`loaded!(part)`): a counter stamp only, for the cost of the copy.
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! loaded {
    ($part:expr) => {
        $crate::core::trace::emit::loaded($part)
    };
}
/// Cleans the rings to memory, for a dump after a reset (a panic, before halting).
#[cfg(all(feature = "trace", target_os = "none"))]
macro_rules! flush {
    () => {
        $crate::core::trace::emit::flush()
    };
}

// Without the feature every macro swallows its arguments unevaluated.
#[cfg(not(all(feature = "trace", target_os = "none")))]
#[allow(unused_macros, reason = "on the host no call site is built")]
macro_rules! nothing {
    ($($any:tt)*) => {};
}
#[cfg(not(all(feature = "trace", target_os = "none")))]
#[allow(unused_imports)]
pub(crate) use {
    nothing as window, nothing as trap, nothing as trap_irq, nothing as trap_serror, nothing as irq, nothing as inject,
    nothing as fault, nothing as stop, nothing as restart, nothing as start, nothing as flush, nothing as loaded,
};

#[cfg(all(feature = "trace", target_os = "none"))]
#[allow(unused_imports)]
pub(crate) use {fault, flush, inject, irq, loaded, restart, start, stop, trap, trap_irq, trap_serror, window};
