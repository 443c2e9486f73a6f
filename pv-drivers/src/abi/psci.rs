//! PSCI 1.1 (Arm DEN 0022) as hv-static implements it for partitions: the subset listed in docs/guest-abi.md.
//!
//! Calls that take an address or MPIDR use the SMC64 function ID on 64-bit targets and the SMC32 one otherwise, so
//! callers pass native `usize` values and never pick an ID.

use core::fmt;

use hv_plan::abi::psci as code;

use super::smccc::{self, Conduit, Hvc, Version};

/// PSCI function IDs (PSCI §5.1), as listed in the guest ABI.
pub mod function {
    use super::smccc::SMC64;

    pub use hv_plan::abi::psci::{
        AFFINITY_INFO_32, AFFINITY_INFO_64, CPU_OFF, CPU_ON_32, CPU_ON_64, PSCI_FEATURES, PSCI_VERSION, SYSTEM_OFF,
        SYSTEM_RESET,
    };

    /// The variant matching the width of `usize`, which is how addresses and MPIDRs are passed.
    const fn native(id32: u32) -> u32 {
        if usize::BITS == 64 {
            id32 | SMC64
        } else {
            id32
        }
    }

    /// `CPU_ON` for this target's register width.
    pub const CPU_ON: u32 = native(CPU_ON_32);
    /// `AFFINITY_INFO` for this target's register width.
    pub const AFFINITY_INFO: u32 = native(AFFINITY_INFO_32);
}

/// PSCI error codes (PSCI §5.2.2). hv-static returns -1, -2 and -4; the rest are decoded so that a guest running
/// on other firmware reports them by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciError {
    NotSupported,
    InvalidParameters,
    Denied,
    AlreadyOn,
    OnPending,
    InternalFailure,
    NotPresent,
    Disabled,
    InvalidAddress,
    /// A code PSCI does not define (or a positive value where only success or an error may come back).
    Other(i32),
}

impl PsciError {
    pub const fn from_code(code: i32) -> Self {
        match code {
            code::NOT_SUPPORTED => Self::NotSupported,
            code::INVALID_PARAMETERS => Self::InvalidParameters,
            code::DENIED => Self::Denied,
            code::ALREADY_ON => Self::AlreadyOn,
            code::ON_PENDING => Self::OnPending,
            code::INTERNAL_FAILURE => Self::InternalFailure,
            code::NOT_PRESENT => Self::NotPresent,
            code::DISABLED => Self::Disabled,
            code::INVALID_ADDRESS => Self::InvalidAddress,
            other => Self::Other(other),
        }
    }

    pub const fn code(self) -> i32 {
        match self {
            Self::NotSupported => code::NOT_SUPPORTED,
            Self::InvalidParameters => code::INVALID_PARAMETERS,
            Self::Denied => code::DENIED,
            Self::AlreadyOn => code::ALREADY_ON,
            Self::OnPending => code::ON_PENDING,
            Self::InternalFailure => code::INTERNAL_FAILURE,
            Self::NotPresent => code::NOT_PRESENT,
            Self::Disabled => code::DISABLED,
            Self::InvalidAddress => code::INVALID_ADDRESS,
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for PsciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::NotSupported => "NOT_SUPPORTED",
            Self::InvalidParameters => "INVALID_PARAMETERS",
            Self::Denied => "DENIED",
            Self::AlreadyOn => "ALREADY_ON",
            Self::OnPending => "ON_PENDING",
            Self::InternalFailure => "INTERNAL_FAILURE",
            Self::NotPresent => "NOT_PRESENT",
            Self::Disabled => "DISABLED",
            Self::InvalidAddress => "INVALID_ADDRESS",
            Self::Other(code) => return write!(f, "unknown PSCI status {code}"),
        };
        write!(f, "{name} ({})", self.code())
    }
}

/// Decodes a call that returns `SUCCESS` (0) or an error.
pub const fn decode_status(ret: usize) -> Result<(), PsciError> {
    match smccc::status(ret) {
        0 => Ok(()),
        code => Err(PsciError::from_code(code)),
    }
}

/// Decodes a call that returns a non-negative value or an error.
pub const fn decode_value(ret: usize) -> Result<u32, PsciError> {
    match smccc::status(ret) {
        code if code < 0 => Err(PsciError::from_code(code)),
        value => Ok(value as u32),
    }
}

/// What `AFFINITY_INFO` reports about a CPU (PSCI §5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityState {
    On,
    Off,
    OnPending,
}

impl AffinityState {
    pub const fn decode(ret: usize) -> Result<Self, PsciError> {
        match decode_value(ret) {
            Ok(0) => Ok(Self::On),
            Ok(1) => Ok(Self::Off),
            Ok(2) => Ok(Self::OnPending),
            Ok(other) => Err(PsciError::Other(other as i32)),
            Err(e) => Err(e),
        }
    }
}

/// PSCI over any conduit; the free functions below use [`Hvc`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Psci<C>(pub C);

impl<C: Conduit> Psci<C> {
    pub fn version(&self) -> Result<Version, PsciError> {
        let ret = self.0.call(function::PSCI_VERSION, [0; 3]);
        Version::decode(ret).ok_or(PsciError::from_code(smccc::status(ret)))
    }

    /// `PSCI_FEATURES(function)`: `Ok` with the function's feature flags when it is implemented. Also the way to
    /// discover `SMCCC_VERSION`.
    pub fn features(&self, function: u32) -> Result<u32, PsciError> {
        decode_value(self.0.call(function::PSCI_FEATURES, [function as usize, 0, 0]))
    }

    /// Starts the CPU `mpidr` at `entry` with `context` in its `x0`/`r0`.
    pub fn cpu_on(&self, mpidr: usize, entry: usize, context: usize) -> Result<(), PsciError> {
        decode_status(self.0.call(function::CPU_ON, [mpidr, entry, context]))
    }

    /// State of the CPU `mpidr`, asked at affinity level 0 (a single CPU), the only level PSCI 1.x requires.
    pub fn affinity_info(&self, mpidr: usize) -> Result<AffinityState, PsciError> {
        AffinityState::decode(self.0.call(function::AFFINITY_INFO, [mpidr, 0, 0]))
    }

    /// Powers the calling CPU down. Returns only when that failed.
    pub fn cpu_off(&self) -> PsciError {
        self.does_not_return(function::CPU_OFF)
    }

    /// Stops the system (under hv-static: the calling partition). Returns only when that failed.
    pub fn system_off(&self) -> PsciError {
        self.does_not_return(function::SYSTEM_OFF)
    }

    /// Restarts the system (under hv-static: reloads the calling partition). Returns only when that failed.
    pub fn system_reset(&self) -> PsciError {
        self.does_not_return(function::SYSTEM_RESET)
    }

    fn does_not_return(&self, function: u32) -> PsciError {
        PsciError::from_code(smccc::status(self.0.call(function, [0; 3])))
    }
}

/// [`Psci::version`] over [`Hvc`].
pub fn version() -> Result<Version, PsciError> {
    Psci(Hvc).version()
}

/// [`Psci::features`] over [`Hvc`].
pub fn features(function: u32) -> Result<u32, PsciError> {
    Psci(Hvc).features(function)
}

/// [`Psci::cpu_on`] over [`Hvc`].
pub fn cpu_on(mpidr: usize, entry: usize, context: usize) -> Result<(), PsciError> {
    Psci(Hvc).cpu_on(mpidr, entry, context)
}

/// [`Psci::affinity_info`] over [`Hvc`].
pub fn affinity_info(mpidr: usize) -> Result<AffinityState, PsciError> {
    Psci(Hvc).affinity_info(mpidr)
}

/// [`Psci::cpu_off`] over [`Hvc`].
pub fn cpu_off() -> PsciError {
    Psci(Hvc).cpu_off()
}

/// [`Psci::system_off`] over [`Hvc`].
pub fn system_off() -> PsciError {
    Psci(Hvc).system_off()
}

/// [`Psci::system_reset`] over [`Hvc`].
pub fn system_reset() -> PsciError {
    Psci(Hvc).system_reset()
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;
    use crate::abi::fake::{neg, Fake};

    /// PSCI over a fake answering every call with `x0` = `ret`.
    fn fake(ret: usize) -> Psci<Fake> {
        Psci(Fake::answering(ret))
    }

    #[test]
    fn ids_match_the_guest_abi() {
        assert_eq!(function::CPU_ON_64, 0xC400_0003);
        assert_eq!(function::AFFINITY_INFO_64, 0xC400_0004);
        assert_eq!(function::CPU_ON, function::CPU_ON_64, "host tests run on a 64-bit target");
    }

    #[test]
    fn cpu_on_passes_mpidr_entry_context_in_order() {
        let psci = fake(0);
        assert_eq!(psci.cpu_on(0x8000_0001, 0x4008_0100, 1), Ok(()));
        assert_eq!(*psci.0.calls.borrow(), [(0xC400_0003, [0x8000_0001, 0x4008_0100, 1])]);
    }

    #[test]
    fn cpu_on_errors_decode_by_name() {
        assert_eq!(fake(neg(-4)).cpu_on(1, 0, 0), Err(PsciError::AlreadyOn));
        assert_eq!(fake(neg(-2)).cpu_on(9, 0, 0), Err(PsciError::InvalidParameters));
        // A 32-bit hypervisor leaves the upper half zero: still -2.
        assert_eq!(fake(0xFFFF_FFFE).cpu_on(9, 0, 0), Err(PsciError::InvalidParameters));
        // Success is exactly zero; a stray positive value is not silently accepted.
        assert_eq!(fake(3).cpu_on(1, 0, 0), Err(PsciError::Other(3)));
    }

    #[test]
    fn every_error_code_round_trips() {
        for code in -9..=-1 {
            let e = PsciError::from_code(code);
            assert!(!matches!(e, PsciError::Other(_)), "{code} has a name");
            assert_eq!(e.code(), code);
        }
        assert_eq!(PsciError::from_code(-10), PsciError::Other(-10));
        assert_eq!(std::format!("{}", PsciError::AlreadyOn), "ALREADY_ON (-4)");
    }

    #[test]
    fn affinity_states_decode() {
        assert_eq!(fake(0).affinity_info(1), Ok(AffinityState::On));
        assert_eq!(fake(1).affinity_info(1), Ok(AffinityState::Off));
        assert_eq!(fake(2).affinity_info(1), Ok(AffinityState::OnPending));
        assert_eq!(fake(7).affinity_info(1), Err(PsciError::Other(7)));
        let psci = fake(neg(-2));
        assert_eq!(psci.affinity_info(0x8000_0007), Err(PsciError::InvalidParameters));
        assert_eq!(*psci.0.calls.borrow(), [(0xC400_0004, [0x8000_0007, 0, 0])], "level 0 is asked");
    }

    #[test]
    fn version_and_features() {
        assert_eq!(fake(0x1_0001).version(), Ok(Version { major: 1, minor: 1 }));
        assert_eq!(fake(neg(-1)).version(), Err(PsciError::NotSupported));
        let psci = fake(0);
        assert_eq!(psci.features(smccc::SMCCC_VERSION), Ok(0));
        assert_eq!(*psci.0.calls.borrow(), [(0x8400_000A, [0x8000_0000, 0, 0])]);
        assert_eq!(fake(neg(-1)).features(0x8400_0001), Err(PsciError::NotSupported));
    }

    #[test]
    fn calls_that_do_not_return_report_why() {
        let psci = fake(neg(-3));
        assert_eq!(psci.system_off(), PsciError::Denied);
        assert_eq!(psci.system_reset(), PsciError::Denied);
        assert_eq!(psci.cpu_off(), PsciError::Denied);
        let ids: Vec<u32> = psci.0.calls.borrow().iter().map(|c| c.0).collect();
        assert_eq!(ids, [0x8400_0008, 0x8400_0009, 0x8400_0002]);
    }
}
