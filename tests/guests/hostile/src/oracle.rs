//! What docs/guest-abi.md promises for a hypercall, whatever its arguments: the answer the `calls` probe checks
//! each random call against. Pure code, tested on the host.
//!
//! SMC32/HVC32 calls take their arguments in the low 32 bits of the registers. Where hv-static reads more than
//! those, an AArch64 caller's garbage upper halves may change the answer; such calls get [`Expect::Either`] (the
//! answer for the low words, or the one for the whole registers), and the probe counts them apart.

/// Function IDs the ABI names.
pub mod id {
    pub use hv_plan::abi::hv::{
        HV_CHANNEL_SIGNAL, HV_CPU_EXITS, HV_PARTITION_CONTROL, HV_PARTITION_INFO, HV_SCHED_FRAME, HV_SCHED_WINDOW,
    };
    pub use hv_plan::abi::psci::{
        AFFINITY_INFO_32, AFFINITY_INFO_64, CPU_OFF, CPU_ON_32, CPU_ON_64, CPU_SUSPEND_32, CPU_SUSPEND_64,
        PSCI_FEATURES, PSCI_VERSION, SYSTEM_OFF, SYSTEM_RESET,
    };
    pub use hv_plan::abi::smccc::{SMCCC_ARCH_FEATURES, SMCCC_VERSION};

    /// Every documented ID the probe may call (CPU_OFF, SYSTEM_OFF and SYSTEM_RESET end its run and are not).
    pub const CALLABLE: [u32; 17] = [
        SMCCC_VERSION,
        SMCCC_ARCH_FEATURES,
        PSCI_VERSION,
        CPU_SUSPEND_32,
        CPU_ON_32,
        AFFINITY_INFO_32,
        PSCI_FEATURES,
        CPU_SUSPEND_64,
        CPU_ON_64,
        AFFINITY_INFO_64,
        HV_SCHED_FRAME,
        HV_SCHED_WINDOW,
        HV_CPU_EXITS,
        HV_CHANNEL_SIGNAL,
        HV_PARTITION_INFO,
        HV_PARTITION_CONTROL,
        // Reserved in the vendor range: NOT_SUPPORTED.
        0x8600_0016,
    ];
}

pub use hv_plan::abi::psci::{ALREADY_ON, DENIED, INVALID_PARAMETERS, NOT_SUPPORTED, SUCCESS};
/// SMCCC 1.1 and PSCI 1.1, as `SMCCC_VERSION` and `PSCI_VERSION` return them (the same number for both).
pub const VERSION_1_1: i32 = hv_plan::abi::psci::VERSION_1_1 as i32;
const _: () = assert!(hv_plan::abi::psci::VERSION_1_1 == hv_plan::abi::smccc::VERSION_1_1);

/// What the calling partition looks like, as far as the answers depend on it.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// Its vCPUs' MPIDRs (`/cpus`), the calling one first.
    pub mpidrs: &'a [u64],
    /// Its windows when it runs in a cyclic pool.
    pub windows: Option<u32>,
    /// Its channels.
    pub channels: u32,
    /// Its partition id (`/hypervisor/partition-id`). The probe's partitions manage no other.
    pub partition: u32,
}

/// The answer in x0 (as a 32-bit status) a call must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The call ends the caller's run: never made.
    Ends,
    Exactly(i32),
    /// Undocumented but implemented (CPU_SUSPEND): success or NOT_SUPPORTED.
    Undocumented,
    /// An SMC32 call whose answer depends on whether the upper halves of its argument registers are read.
    Either(i32, i32),
}

impl Expect {
    pub fn accepts(self, status: i32) -> bool {
        match self {
            Self::Ends => false,
            Self::Exactly(s) => status == s,
            Self::Undocumented => status == SUCCESS || status == NOT_SUPPORTED,
            Self::Either(a, b) => status == a || status == b,
        }
    }
}

const AFF: u64 = 0xff_00ff_ffff;

/// The answer to function `fid` (W0) with arguments `args` (X1..X3) from `caller`.
pub fn expect(fid: u32, args: [u64; 3], caller: &Caller) -> Expect {
    let smc32 = fid & 0x4000_0000 == 0;
    // What an SMC32 callee sees, and what a callee that reads whole registers sees.
    let low = args.map(|a| if smc32 { a & 0xffff_ffff } else { a });
    let both = |f: &dyn Fn([u64; 3]) -> i32| {
        let (a, b) = (f(low), f(args));
        if a == b {
            Expect::Exactly(a)
        } else {
            Expect::Either(a, b)
        }
    };
    match fid {
        id::CPU_OFF | id::SYSTEM_OFF | id::SYSTEM_RESET => Expect::Ends,
        id::SMCCC_VERSION | id::PSCI_VERSION => Expect::Exactly(VERSION_1_1),
        id::SMCCC_ARCH_FEATURES => Expect::Exactly(match low[0] as u32 {
            id::SMCCC_VERSION | id::SMCCC_ARCH_FEATURES => SUCCESS,
            _ => NOT_SUPPORTED,
        }),
        id::PSCI_FEATURES => match low[0] as u32 {
            id::PSCI_VERSION
            | id::CPU_OFF
            | id::CPU_ON_32
            | id::CPU_ON_64
            | id::AFFINITY_INFO_32
            | id::AFFINITY_INFO_64
            | id::SYSTEM_OFF
            | id::SYSTEM_RESET
            | id::PSCI_FEATURES
            | id::SMCCC_VERSION => Expect::Exactly(SUCCESS),
            id::CPU_SUSPEND_32 | id::CPU_SUSPEND_64 => Expect::Undocumented,
            _ => Expect::Exactly(NOT_SUPPORTED),
        },
        id::CPU_SUSPEND_32 | id::CPU_SUSPEND_64 => Expect::Undocumented,
        id::CPU_ON_32 | id::CPU_ON_64 => both(&|a| match vcpu(caller, a[0]) {
            // The caller is on; a single-vCPU caller has no other vCPU to start.
            Some(0) => ALREADY_ON,
            Some(_) => i32::MIN, // not predicted: the probe never runs with several vCPUs
            None => INVALID_PARAMETERS,
        }),
        id::AFFINITY_INFO_32 | id::AFFINITY_INFO_64 => both(&|a| match (vcpu(caller, a[0]), a[1]) {
            (Some(0), 0) => 0,
            (Some(_), 0) => i32::MIN,
            _ => INVALID_PARAMETERS,
        }),
        id::HV_SCHED_FRAME | id::HV_SCHED_WINDOW => match caller.windows {
            None => Expect::Exactly(NOT_SUPPORTED),
            Some(_) if fid == id::HV_SCHED_FRAME => Expect::Exactly(SUCCESS),
            Some(n) => Expect::Exactly(if (low[0] as u32) < n { SUCCESS } else { INVALID_PARAMETERS }),
        },
        id::HV_CPU_EXITS => Expect::Exactly(SUCCESS),
        // Its own items 0-5 only; any other partition, existing or not, is refused alike.
        id::HV_PARTITION_INFO => Expect::Exactly(match (low[0] == u64::from(caller.partition), low[1]) {
            (true, 0..=5) => SUCCESS,
            (true, _) => INVALID_PARAMETERS,
            (false, _) => DENIED,
        }),
        id::HV_PARTITION_CONTROL => Expect::Exactly(DENIED),
        id::HV_CHANNEL_SIGNAL => {
            Expect::Exactly(if (low[0] as u32) < caller.channels { SUCCESS } else { INVALID_PARAMETERS })
        }
        _ => Expect::Exactly(NOT_SUPPORTED),
    }
}

/// Which of the caller's vCPUs has affinity `mpidr` (PSCI compares the affinity fields only).
fn vcpu(caller: &Caller, mpidr: u64) -> Option<usize> {
    caller.mpidrs.iter().position(|&m| m & AFF == mpidr & AFF)
}

/// A random function ID: mostly near the documented ones (same owner, nearby numbers, the other calling
/// convention, yielding instead of fast), sometimes anything at all. `r` gives the random bits.
pub fn random_fid(r: u64) -> u32 {
    let bits = r as u32;
    match (r >> 32) % 8 {
        0 => bits,
        1 => id::CALLABLE[((r >> 40) % id::CALLABLE.len() as u64) as usize],
        // PSCI's range, both conventions.
        2 => 0x8400_0000 | bits & 0x4000_001F,
        // hv-static's vendor range, both conventions.
        3 => 0x8600_0000 | bits & 0x4000_00FF,
        // The Arm-architecture calls.
        4 => 0x8000_0000 | bits & 0x4000_00FF,
        // Any owner, small function numbers.
        5 => 0x8000_0000 | bits & 0x7F00_003F,
        // Yielding (standard) calls: bit 31 clear.
        6 => bits & 0x7FFF_FFFF,
        _ => id::CALLABLE[((r >> 40) % id::CALLABLE.len() as u64) as usize] ^ (1 << ((r >> 48) % 32)),
    }
}

/// A hostile argument: all ones, all zeros, one bit, a documented ID, a valid MPIDR with garbage around it, or
/// random bits.
pub fn random_arg(r: u64, caller: &Caller) -> u64 {
    let mpidr = caller.mpidrs.first().copied().unwrap_or(0);
    match r % 8 {
        0 => u64::MAX,
        1 => 0,
        2 => 1 << ((r >> 8) % 64),
        3 => u64::from(id::CALLABLE[((r >> 8) % id::CALLABLE.len() as u64) as usize]),
        4 => mpidr | (r >> 8) << 40,
        5 => mpidr ^ 1 << ((r >> 8) % 40),
        6 => (r >> 8) % 4,
        _ => r.rotate_left(17),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: Caller = Caller { mpidrs: &[0x8000_0000], windows: Some(1), channels: 0, partition: 3 };

    #[test]
    fn documented_answers() {
        assert_eq!(expect(id::SMCCC_VERSION, [7, 7, 7], &ONE), Expect::Exactly(VERSION_1_1));
        assert_eq!(expect(id::SMCCC_ARCH_FEATURES, [u64::from(id::SMCCC_VERSION), 0, 0], &ONE), Expect::Exactly(0));
        assert_eq!(expect(id::SMCCC_ARCH_FEATURES, [u64::MAX, 0, 0], &ONE), Expect::Exactly(NOT_SUPPORTED));
        assert_eq!(expect(id::PSCI_FEATURES, [u64::from(id::CPU_ON_64), 0, 0], &ONE), Expect::Exactly(0));
        assert_eq!(expect(id::PSCI_FEATURES, [0x8400_001F, 0, 0], &ONE), Expect::Exactly(NOT_SUPPORTED));
        assert_eq!(expect(id::CPU_ON_64, [0x8000_0000, 0, 0], &ONE), Expect::Exactly(ALREADY_ON));
        assert_eq!(expect(id::CPU_ON_64, [1, 0, 0], &ONE), Expect::Exactly(INVALID_PARAMETERS));
        assert_eq!(expect(id::AFFINITY_INFO_64, [0x8000_0000, 0, 0], &ONE), Expect::Exactly(0));
        assert_eq!(expect(id::AFFINITY_INFO_64, [0x8000_0000, 1, 0], &ONE), Expect::Exactly(INVALID_PARAMETERS));
        assert_eq!(expect(id::HV_SCHED_WINDOW, [0, 0, 0], &ONE), Expect::Exactly(0));
        assert_eq!(expect(id::HV_SCHED_WINDOW, [1, 0, 0], &ONE), Expect::Exactly(INVALID_PARAMETERS));
        assert_eq!(expect(id::HV_CHANNEL_SIGNAL, [0, 0, 0], &ONE), Expect::Exactly(INVALID_PARAMETERS));
        assert_eq!(expect(0x8600_00FF, [0, 0, 0], &ONE), Expect::Exactly(NOT_SUPPORTED));
        assert_eq!(expect(id::HV_PARTITION_INFO, [3, 5, 0], &ONE), Expect::Exactly(SUCCESS));
        assert_eq!(expect(id::HV_PARTITION_INFO, [3, 6, 0], &ONE), Expect::Exactly(INVALID_PARAMETERS));
        assert_eq!(expect(id::HV_PARTITION_INFO, [2, 0, 0], &ONE), Expect::Exactly(DENIED));
        assert_eq!(expect(id::HV_PARTITION_INFO, [1 << 32 | 3, 0, 0], &ONE), Expect::Exactly(SUCCESS), "w1");
        assert_eq!(expect(id::HV_PARTITION_CONTROL, [3, 2, 0], &ONE), Expect::Exactly(DENIED));
        assert_eq!(expect(0x0400_0000, [0, 0, 0], &ONE), Expect::Exactly(NOT_SUPPORTED));
        let pinned = Caller { windows: None, ..ONE };
        assert_eq!(expect(id::HV_SCHED_FRAME, [0, 0, 0], &pinned), Expect::Exactly(NOT_SUPPORTED));
    }

    #[test]
    fn ending_calls_are_never_made() {
        for fid in [id::CPU_OFF, id::SYSTEM_OFF, id::SYSTEM_RESET] {
            assert_eq!(expect(fid, [0; 3], &ONE), Expect::Ends);
            assert!(!id::CALLABLE.contains(&fid));
        }
    }

    #[test]
    fn smc32_upper_halves() {
        // AFFINITY_INFO_32 of vCPU 0 with Aff3 garbage above the low word: 0 for an SMC32 callee, -2 for one that
        // reads the whole register.
        let e = expect(id::AFFINITY_INFO_32, [0x1_8000_0000, 0, 0], &ONE);
        assert_eq!(e, Expect::Either(0, INVALID_PARAMETERS));
        // The SMC64 variant reads it all.
        assert_eq!(expect(id::AFFINITY_INFO_64, [0x1_8000_0000, 0, 0], &ONE), Expect::Exactly(INVALID_PARAMETERS));
        // A level that is zero only in its low word.
        assert_eq!(
            expect(id::AFFINITY_INFO_32, [0x8000_0000, 1 << 32, 0], &ONE),
            Expect::Either(0, INVALID_PARAMETERS)
        );
        assert_eq!(expect(id::HV_SCHED_WINDOW, [1 << 32, 0, 0], &ONE), Expect::Exactly(0));
    }

    #[test]
    fn random_ids_stay_clear_of_the_ending_calls_only_by_filtering() {
        // The generator may produce them; the probe filters with `expect(..) == Ends`.
        let ends = (0..100_000u64)
            .map(|i| random_fid(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .filter(|&f| expect(f, [0; 3], &ONE) == Expect::Ends)
            .count();
        assert!(ends > 0);
    }
}
