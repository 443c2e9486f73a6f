//! SMC Calling Convention 1.1 (Arm DEN 0028), as hv-static offers it: over `HVC #0`, function ID and three
//! arguments in `x0`..`x3` (`r0`..`r3` on AArch32), results in `x0`..`x3` (most calls return only `x0`).
//!
//! SMCCC 1.1 guarantees that the callee preserves every register other than `x0`..`x3`, which is what the
//! inline assembly below relies on.

use core::fmt;

/// `SMCCC_VERSION` returns the implemented SMCCC version: discover it first with `PSCI_FEATURES` (SMCCC §7.2), an
/// SMCCC 1.0 implementation may not know the call at all. `SMCCC_ARCH_FEATURES` asks whether an Arm-architecture
/// service call is implemented. `SMC64` is set in a function ID for the SMC64/HVC64 calling convention (64-bit
/// arguments). The numbers are the guest ABI's, defined in `hv-plan`.
pub use hv_plan::abi::smccc::{SMC64, SMCCC_ARCH_FEATURES, SMCCC_VERSION};

/// Something that carries an SMCCC call to the hypervisor: the `HVC` instruction on a guest, a fake in host tests.
pub trait Conduit {
    /// Issues `function` with three arguments and returns the raw result registers `x0`..`x3` (`r0`..`r3`).
    /// SMCCC 1.1 lets a call return up to four values; registers a call does not define hold no meaning.
    fn call_regs(&self, function: u32, args: [usize; 3]) -> [usize; 4];

    /// Issues `function` with three arguments and returns the raw `x0`/`r0` of the result, which is all that PSCI
    /// and the Arm-architecture calls return.
    fn call(&self, function: u32, args: [usize; 3]) -> usize {
        self.call_regs(function, args)[0]
    }
}

/// The conduit hv-static's guest ABI specifies: `HVC #0`. QEMU's `virt` board without EL2 answers PSCI on the same
/// conduit, so guests also run natively.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hvc;

impl Conduit for Hvc {
    fn call_regs(&self, function: u32, args: [usize; 3]) -> [usize; 4] {
        arch::hvc(function, args)
    }
}

/// The signed 32-bit status in a result register. SMCCC and PSCI return codes are `int32`; on AArch64 the upper
/// half of `x0` is not significant, so it is ignored rather than trusted to be a sign extension.
pub const fn status(ret: usize) -> i32 {
    ret as u32 as i32
}

/// A version as SMCCC and PSCI encode it: major in bits 30:16, minor in bits 15:0, bit 31 clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl Version {
    /// Decodes a version result; `None` when the result is negative, i.e. an error code.
    pub const fn decode(ret: usize) -> Option<Self> {
        let raw = status(ret);
        if raw < 0 {
            return None;
        }
        let raw = raw as u32;
        Some(Self { major: (raw >> 16) as u16, minor: raw as u16 })
    }

    /// The wire encoding, as a hypervisor would return it.
    pub const fn encode(self) -> u32 {
        (self.major as u32) << 16 | self.minor as u32
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Errors of the Arm-architecture calls (SMCCC §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmcccError {
    /// -1: the function is not implemented.
    NotSupported,
    /// -2: the call is not needed on this platform (workaround discovery).
    NotRequired,
    /// -3: an argument is out of range.
    InvalidParameter,
    /// Any other negative code, kept so that a new code is reported rather than misread.
    Other(i32),
}

impl SmcccError {
    pub const fn from_code(code: i32) -> Self {
        match code {
            -1 => Self::NotSupported,
            -2 => Self::NotRequired,
            -3 => Self::InvalidParameter,
            other => Self::Other(other),
        }
    }

    pub const fn code(self) -> i32 {
        match self {
            Self::NotSupported => -1,
            Self::NotRequired => -2,
            Self::InvalidParameter => -3,
            Self::Other(code) => code,
        }
    }
}

/// Decodes a result that is a non-negative value or a negative [`SmcccError`].
pub const fn decode(ret: usize) -> Result<u32, SmcccError> {
    match status(ret) {
        code if code < 0 => Err(SmcccError::from_code(code)),
        value => Ok(value as u32),
    }
}

/// SMCCC calls over any conduit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Smccc<C>(pub C);

impl<C: Conduit> Smccc<C> {
    /// `SMCCC_VERSION`. Only call it when `PSCI_FEATURES(SMCCC_VERSION)` said it exists.
    pub fn version(&self) -> Result<Version, SmcccError> {
        let ret = self.0.call(SMCCC_VERSION, [0; 3]);
        Version::decode(ret).ok_or(SmcccError::from_code(status(ret)))
    }

    /// `SMCCC_ARCH_FEATURES(function)`: `Ok` with the function's feature flags when it is implemented.
    pub fn arch_features(&self, function: u32) -> Result<u32, SmcccError> {
        decode(self.0.call(SMCCC_ARCH_FEATURES, [function as usize, 0, 0]))
    }
}

/// [`Smccc::version`] over [`Hvc`].
pub fn version() -> Result<Version, SmcccError> {
    Smccc(Hvc).version()
}

/// [`Smccc::arch_features`] over [`Hvc`].
pub fn arch_features(function: u32) -> Result<u32, SmcccError> {
    Smccc(Hvc).arch_features(function)
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod arch {
    pub fn hvc(function: u32, args: [usize; 3]) -> [usize; 4] {
        let mut x = [function as usize, args[0], args[1], args[2]];
        // SAFETY: `hvc #0` traps to the hypervisor, which per SMCCC 1.1 changes only x0..x3 (declared below) and
        // neither our stack nor memory the compiler tracks. No `nomem`: a call such as CPU_ON makes another CPU
        // read what we wrote before it, so the compiler must not sink stores past the call.
        unsafe {
            core::arch::asm!(
                "hvc #0",
                inout("x0") x[0],
                inout("x1") x[1],
                inout("x2") x[2],
                inout("x3") x[3],
                options(nostack),
            );
        }
        x
    }
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod arch {
    pub fn hvc(function: u32, args: [usize; 3]) -> [usize; 4] {
        let mut r = [function as usize, args[0], args[1], args[2]];
        // SAFETY: as on AArch64: the hypervisor changes only r0..r3. `.arch_extension virt` lets the assembler
        // accept `hvc` on an ARMv7-A target.
        unsafe {
            core::arch::asm!(
                ".arch_extension virt",
                "hvc #0",
                inout("r0") r[0],
                inout("r1") r[1],
                inout("r2") r[2],
                inout("r3") r[3],
                options(nostack),
            );
        }
        r
    }
}

/// Off target there is no hypervisor to call: every function reports `NOT_SUPPORTED`, which is the ABI's answer
/// for a call nobody implements. Host tests use a fake [`Conduit`] instead.
#[cfg(not(target_os = "none"))]
mod arch {
    pub fn hvc(_function: u32, _args: [usize; 3]) -> [usize; 4] {
        [-1_isize as usize, 0, 0, 0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::fake::Fake;

    #[test]
    fn version_round_trips() {
        let v = Version::decode(0x1_0001).unwrap();
        assert_eq!(v, Version { major: 1, minor: 1 });
        assert_eq!(v.encode(), 0x1_0001);
        assert_eq!(std::format!("{v}"), "1.1");
        assert!(Version { major: 1, minor: 0 } < v);
    }

    #[test]
    fn negative_version_is_an_error() {
        // A 64-bit sign-extended -1 and a 32-bit one (upper half zero) mean the same.
        assert_eq!(Version::decode(usize::MAX), None);
        assert_eq!(Version::decode(0xFFFF_FFFF), None);
        assert_eq!(Smccc(Fake::answering(usize::MAX)).version(), Err(SmcccError::NotSupported));
    }

    #[test]
    fn error_codes_round_trip() {
        for code in [-1, -2, -3, -42] {
            assert_eq!(SmcccError::from_code(code).code(), code);
        }
        assert_eq!(SmcccError::from_code(-42), SmcccError::Other(-42));
    }

    #[test]
    fn arch_features_decodes_flags_and_errors() {
        assert_eq!(Smccc(Fake::answering(0)).arch_features(SMCCC_VERSION), Ok(0));
        assert_eq!(Smccc(Fake::answering(0xFFFF_FFFF)).arch_features(0x8000_7FFF), Err(SmcccError::NotSupported));
    }

    #[test]
    fn host_conduit_reports_not_supported() {
        assert_eq!(version(), Err(SmcccError::NotSupported));
    }
}
