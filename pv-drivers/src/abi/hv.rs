//! hv-static's own calls (docs/guest-abi.md, "hv-static vendor calls"): SMCCC vendor-specific hypervisor service
//! calls (owning entity 6), 32-bit fast calls over `HVC #0`, that let a partition see how the hypervisor schedules
//! it (test guests use them to measure the scheduler from inside a partition), ring the doorbells of the other
//! members of a shared-memory channel, and observe and control the partitions a partition manages (ABI 1.4).
//!
//! They are SMC32/HVC32 calls, so only the low 32 bits of each result register are defined (SMCCC §3.1); the
//! decoders below ignore the upper halves on AArch64 rather than trust them to be zero.

use core::fmt;

use super::smccc::{self, Conduit, Hvc};

/// Function IDs: fast call, SMC32, owning entity 6 (vendor-specific hypervisor service).
pub mod function {
    pub use hv_plan::abi::hv::{
        HV_CHANNEL_SIGNAL, HV_CPU_EXITS, HV_PARTITION_CONTROL, HV_PARTITION_INFO, HV_SCHED_FRAME, HV_SCHED_WINDOW,
    };
}

pub use hv_plan::abi::hv::{control, info};

/// Errors of the vendor calls. The codes follow PSCI's numbering (-1 to -4), not the Arm-architecture calls'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HvError {
    /// -1: the call does not exist, or does not apply to the caller (e.g. its CPU is not in a cyclic pool).
    NotSupported,
    /// -2: an argument is out of range.
    InvalidParameters,
    /// -3: the caller may not do this to that partition (it does not manage it).
    Denied,
    /// -4: nothing was done: the partition is already as asked, or another stop or restart has it.
    Already,
    /// Any other code (or a positive value where only success or an error may come back).
    Other(i32),
}

impl HvError {
    pub const fn from_code(code: i32) -> Self {
        match code {
            hv_plan::abi::hv::NOT_SUPPORTED => Self::NotSupported,
            hv_plan::abi::hv::INVALID_PARAMETERS => Self::InvalidParameters,
            hv_plan::abi::hv::DENIED => Self::Denied,
            hv_plan::abi::hv::ALREADY => Self::Already,
            other => Self::Other(other),
        }
    }

    pub const fn code(self) -> i32 {
        match self {
            Self::NotSupported => hv_plan::abi::hv::NOT_SUPPORTED,
            Self::InvalidParameters => hv_plan::abi::hv::INVALID_PARAMETERS,
            Self::Denied => hv_plan::abi::hv::DENIED,
            Self::Already => hv_plan::abi::hv::ALREADY,
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for HvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSupported => write!(f, "NOT_SUPPORTED (-1)"),
            Self::InvalidParameters => write!(f, "INVALID_PARAMETERS (-2)"),
            Self::Denied => write!(f, "DENIED (-3)"),
            Self::Already => write!(f, "ALREADY (-4)"),
            Self::Other(code) => write!(f, "unknown status {code}"),
        }
    }
}

/// The major frame of the calling vCPU's cyclic pool, in virtual-counter ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Length of one major frame.
    pub length: u32,
    /// Virtual-counter value at which frame 0 started.
    pub start: u64,
}

impl Frame {
    /// When frame `n` starts: frames follow each other exactly, with no accumulated error. Saturates rather than
    /// wrap for an `n` no run could reach.
    pub const fn start_of(&self, n: u64) -> u64 {
        self.start.saturating_add(n.saturating_mul(self.length as u64))
    }
}

/// A window in which the calling vCPU runs: `[start, end)` in ticks from the start of each frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: u32,
    pub end: u32,
}

/// The low 32 bits of a result register: all an SMC32/HVC32 call defines.
const fn word(reg: usize) -> u32 {
    reg as u32
}

/// `Ok` with the result registers when `x0` is SUCCESS (exactly 0), else the error it encodes.
const fn decode(regs: [usize; 4]) -> Result<[usize; 4], HvError> {
    match smccc::status(regs[0]) {
        0 => Ok(regs),
        code => Err(HvError::from_code(code)),
    }
}

/// The vendor calls over any conduit; the free functions below use [`Hvc`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Hv<C>(pub C);

impl<C: Conduit> Hv<C> {
    /// `HV_SCHED_FRAME`: the major frame; [`HvError::NotSupported`] when the calling vCPU's CPU is not in a
    /// cyclic pool.
    pub fn sched_frame(&self) -> Result<Frame, HvError> {
        let regs = decode(self.0.call_regs(function::HV_SCHED_FRAME, [0; 3]))?;
        let start = u64::from(word(regs[3])) << 32 | u64::from(word(regs[2]));
        Ok(Frame { length: word(regs[1]), start })
    }

    /// `HV_SCHED_WINDOW(n)`: the calling vCPU's `n`-th window in time order, `Ok(None)` when `n` is past the last
    /// one (the hypervisor answers INVALID_PARAMETERS, which is how the list ends).
    pub fn sched_window(&self, n: u32) -> Result<Option<Window>, HvError> {
        match decode(self.0.call_regs(function::HV_SCHED_WINDOW, [n as usize, 0, 0])) {
            Ok(regs) => Ok(Some(Window { start: word(regs[1]), end: word(regs[2]) })),
            Err(HvError::InvalidParameters) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `HV_CPU_EXITS`: entries into hv-static on the calling vCPU's physical CPU since boot, this call included,
    /// modulo 2^32 (subtract two readings with `wrapping_sub`).
    pub fn cpu_exits(&self) -> Result<u32, HvError> {
        decode(self.0.call_regs(function::HV_CPU_EXITS, [0; 3])).map(|regs| word(regs[1]))
    }

    /// `HV_CHANNEL_SIGNAL(index)`: raises the doorbell interrupt of every other member of the calling
    /// partition's `index`-th channel, counting its `/hypervisor/channel@...` nodes in device-tree order from 0.
    /// Writes made to the channel before the call are visible to the members when their doorbell arrives.
    /// [`HvError::InvalidParameters`] when the partition has no such channel; [`HvError::NotSupported`] from a
    /// hypervisor older than ABI 1.2.
    pub fn channel_signal(&self, index: u32) -> Result<(), HvError> {
        decode(self.0.call_regs(function::HV_CHANNEL_SIGNAL, [index as usize, 0, 0])).map(|_| ())
    }

    /// `HV_PARTITION_INFO(partition, item)`: one item ([`info`]`::STATE`, `RESTARTS`, ...) of the state of the
    /// calling partition or of one it manages. [`HvError::Denied`] for any other partition.
    pub fn partition_info(&self, partition: u32, item: u32) -> Result<u64, HvError> {
        let regs = decode(self.0.call_regs(function::HV_PARTITION_INFO, [partition as usize, item as usize, 0]))?;
        Ok(u64::from(word(regs[2])) << 32 | u64::from(word(regs[1])))
    }

    /// `HV_PARTITION_CONTROL(partition, op)`: stops, starts or restarts ([`control`]`::STOP`, `START`,
    /// `RESTART`) a partition the caller manages. [`HvError::Already`] when nothing was done.
    pub fn partition_control(&self, partition: u32, op: u32) -> Result<(), HvError> {
        decode(self.0.call_regs(function::HV_PARTITION_CONTROL, [partition as usize, op as usize, 0])).map(|_| ())
    }
}

/// [`Hv::sched_frame`] over [`Hvc`].
pub fn sched_frame() -> Result<Frame, HvError> {
    Hv(Hvc).sched_frame()
}

/// [`Hv::sched_window`] over [`Hvc`].
pub fn sched_window(n: u32) -> Result<Option<Window>, HvError> {
    Hv(Hvc).sched_window(n)
}

/// [`Hv::cpu_exits`] over [`Hvc`].
pub fn cpu_exits() -> Result<u32, HvError> {
    Hv(Hvc).cpu_exits()
}

/// [`Hv::channel_signal`] over [`Hvc`].
pub fn channel_signal(index: u32) -> Result<(), HvError> {
    Hv(Hvc).channel_signal(index)
}

/// [`Hv::partition_info`] over [`Hvc`].
pub fn partition_info(partition: u32, item: u32) -> Result<u64, HvError> {
    Hv(Hvc).partition_info(partition, item)
}

/// [`Hv::partition_control`] over [`Hvc`].
pub fn partition_control(partition: u32, op: u32) -> Result<(), HvError> {
    Hv(Hvc).partition_control(partition, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::fake::{neg, Fake, JUNK};

    /// What an AArch64 hypervisor may leave in the undefined upper half of a 32-bit result.
    const HIGH_JUNK: usize = 0xFFFF_FFFF_0000_0000;

    #[test]
    fn ids_are_vendor_hypervisor_fast_calls() {
        for id in [
            function::HV_SCHED_FRAME,
            function::HV_SCHED_WINDOW,
            function::HV_CPU_EXITS,
            function::HV_CHANNEL_SIGNAL,
            function::HV_PARTITION_INFO,
            function::HV_PARTITION_CONTROL,
        ] {
            assert_eq!(id >> 31, 1, "fast call");
            assert_eq!(id & smccc::SMC64, 0, "SMC32 convention");
            assert_eq!((id >> 24) & 0x3F, 6, "owning entity: vendor-specific hypervisor service");
        }
    }

    #[test]
    fn frame_decodes_length_and_split_start() {
        let hv = Hv(Fake::with(|_, _| [0, 62_500, 0x9ABC_DEF0, 0x1234_5678]));
        let frame = hv.sched_frame().unwrap();
        assert_eq!(frame, Frame { length: 62_500, start: 0x1234_5678_9ABC_DEF0 });
        assert_eq!(*hv.0.calls.borrow(), [(0x8600_0010, [0, 0, 0])]);
        assert_eq!(frame.start_of(0), frame.start);
        assert_eq!(frame.start_of(3), 0x1234_5678_9ABC_DEF0 + 3 * 62_500);
        assert_eq!(frame.start_of(u64::MAX), u64::MAX);
    }

    #[test]
    fn results_use_only_the_low_words() {
        let hv = Hv(Fake::with(|_, _| [HIGH_JUNK, HIGH_JUNK | 1000, HIGH_JUNK | 5, HIGH_JUNK | 7]));
        assert_eq!(hv.sched_frame(), Ok(Frame { length: 1000, start: 7 << 32 | 5 }));
    }

    #[test]
    fn frame_not_in_a_cyclic_pool() {
        assert_eq!(Hv(Fake::answering(neg(-1))).sched_frame(), Err(HvError::NotSupported));
        // A 32-bit hypervisor leaves the upper half zero: still -1.
        assert_eq!(Hv(Fake::answering(0xFFFF_FFFF)).sched_frame(), Err(HvError::NotSupported));
        // Success is exactly zero.
        assert_eq!(Hv(Fake::answering(1)).sched_frame(), Err(HvError::Other(1)));
    }

    #[test]
    fn windows_are_listed_until_invalid_parameters() {
        let table = [(0_usize, 25_000_usize), (40_000, 50_000)];
        let hv = Hv(Fake::with(move |_, [n, ..]| match table.get(n) {
            Some(&(start, end)) => [0, start, end, JUNK],
            None => [neg(-2), JUNK, JUNK, JUNK],
        }));
        assert_eq!(hv.sched_window(0), Ok(Some(Window { start: 0, end: 25_000 })));
        assert_eq!(hv.sched_window(1), Ok(Some(Window { start: 40_000, end: 50_000 })));
        assert_eq!(hv.sched_window(2), Ok(None));
        let calls: std::vec::Vec<_> = hv.0.calls.borrow().clone();
        assert_eq!(calls, [(0x8600_0011, [0, 0, 0]), (0x8600_0011, [1, 0, 0]), (0x8600_0011, [2, 0, 0])]);
        assert_eq!(Hv(Fake::answering(neg(-1))).sched_window(0), Err(HvError::NotSupported));
    }

    #[test]
    fn cpu_exits_reads_x1() {
        let hv = Hv(Fake::with(|_, _| [0, HIGH_JUNK | 0xFFFF_FFF0, JUNK, JUNK]));
        assert_eq!(hv.cpu_exits(), Ok(0xFFFF_FFF0));
        assert_eq!(*hv.0.calls.borrow(), [(0x8600_0012, [0, 0, 0])]);
        assert_eq!(Hv(Fake::answering(neg(-1))).cpu_exits(), Err(HvError::NotSupported));
    }

    #[test]
    fn channel_signal_passes_the_index_in_x1() {
        let hv = Hv(Fake::with(|_, [index, ..]| if index < 2 { [0, JUNK, JUNK, JUNK] } else { [neg(-2), 0, 0, 0] }));
        assert_eq!(hv.channel_signal(1), Ok(()));
        assert_eq!(hv.channel_signal(2), Err(HvError::InvalidParameters));
        assert_eq!(*hv.0.calls.borrow(), [(0x8600_0013, [1, 0, 0]), (0x8600_0013, [2, 0, 0])]);
        assert_eq!(Hv(Fake::answering(HIGH_JUNK)).channel_signal(0), Ok(()), "SUCCESS in the low word");
        assert_eq!(Hv(Fake::answering(neg(-1))).channel_signal(0), Err(HvError::NotSupported));
    }

    #[test]
    fn partition_info_joins_two_words_and_control_passes_partition_and_op() {
        let hv = Hv(Fake::with(|_, [p, item, _]| match (p, item) {
            (1, 5) => [0, HIGH_JUNK | 0x9ABC_DEF0, HIGH_JUNK | 0x1234, JUNK],
            (2, _) => [neg(-3), JUNK, JUNK, JUNK],
            _ => [neg(-2), JUNK, JUNK, JUNK],
        }));
        assert_eq!(hv.partition_info(1, info::EXITS), Ok(0x1234_9ABC_DEF0));
        assert_eq!(hv.partition_info(2, info::STATE), Err(HvError::Denied));
        assert_eq!(hv.partition_info(1, 99), Err(HvError::InvalidParameters));
        let hv =
            Hv(Fake::with(|_, [p, op, _]| if p == 1 && op == 2 { [0, JUNK, JUNK, JUNK] } else { [neg(-4), 0, 0, 0] }));
        assert_eq!(hv.partition_control(1, control::RESTART), Ok(()));
        assert_eq!(hv.partition_control(1, control::START), Err(HvError::Already));
        assert_eq!(*hv.0.calls.borrow(), [(0x8600_0015, [1, 2, 0]), (0x8600_0015, [1, 1, 0])]);
    }

    #[test]
    fn errors_round_trip_and_print() {
        for code in [-1, -2, -3, -4, -7] {
            assert_eq!(HvError::from_code(code).code(), code);
        }
        assert_eq!(std::format!("{}", HvError::NotSupported), "NOT_SUPPORTED (-1)");
        assert_eq!(std::format!("{}", HvError::Other(-7)), "unknown status -7");
    }

    #[test]
    fn host_conduit_reports_not_supported() {
        assert_eq!(sched_frame(), Err(HvError::NotSupported));
        assert_eq!(cpu_exits(), Err(HvError::NotSupported));
    }
}
