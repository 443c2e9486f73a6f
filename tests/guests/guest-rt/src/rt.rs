//! From the boot code to the guest's `main`: read the device tree, open the console, hand over.

use spin::Once;

use crate::dt::Platform;

static PLATFORM: Once<Platform<'static>> = Once::new();

/// The partition's facts, parsed at boot.
pub fn platform() -> &'static Platform<'static> {
    PLATFORM.get().expect("guest-rt: platform read before boot finished")
}

/// Idles the calling vCPU for good, in a WFI loop with its IRQs left as they are: what a guest does after it has
/// reported, when it should stay up (the partition keeps its CPU time, but sleeps through it) rather than power off.
pub fn idle() -> ! {
    loop {
        crate::arch::wait_for_interrupt();
    }
}

/// Declares the guest's `main`: `guest_rt::entry!(main)` with `fn main(&'static Platform<'static>) -> !`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(export_name = "guest_rt_main")]
        fn __guest_rt_main(platform: &'static $crate::Platform<'static>) -> ! {
            let main: fn(&'static $crate::Platform<'static>) -> ! = $main;
            main(platform)
        }
    };
}

/// QEMU `virt`'s and hv-static's PL011, used only to report that the device tree could not be read (a common
/// mistake: booting the ELF, for which QEMU passes no device tree).
#[cfg(target_os = "none")]
const FALLBACK_UART: usize = 0x0900_0000;

/// The boot vCPU's first Rust code, called by the boot assembly with the device tree address.
#[cfg(target_os = "none")]
pub(crate) extern "C" fn primary_entry(dtb: usize) -> ! {
    unsafe extern "Rust" {
        #[link_name = "guest_rt_main"]
        fn guest_main(platform: &'static Platform<'static>) -> !;
    }

    // SAFETY: the boot protocol puts the device tree's address in x0 (AArch64) or r2 (ARMv7) and keeps it intact
    // for the guest; `from_ptr` rejects a null pointer and bad magic before trusting the header's size.
    let fdt = unsafe { fdt::Fdt::from_ptr(dtb as *const u8) };
    let bytes = fdt.map(|f| {
        // SAFETY: the header just validated says the tree is `total_size` bytes long at `dtb`.
        unsafe { core::slice::from_raw_parts(dtb as *const u8, f.total_size()) }
    });
    let platform = match bytes.map_err(crate::dt::DtError::Invalid).and_then(Platform::parse) {
        Ok(platform) => platform,
        Err(e) => {
            crate::console::init(FALLBACK_UART);
            panic!("device tree at {dtb:#x}: {e}");
        }
    };
    if let Some(uart) = platform.uart {
        crate::console::init(uart.base as usize);
    }
    let platform = PLATFORM.call_once(|| platform);
    // SAFETY: `guest_rt_main` is defined by the guest's `entry!`, with exactly this signature.
    unsafe { guest_main(platform) }
}

/// A secondary vCPU's first Rust code, with its vCPU index.
#[cfg(target_os = "none")]
pub(crate) extern "C" fn secondary_entry(index: usize) -> ! {
    crate::smp::run_secondary(index)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let cpu = crate::arch::cpu_index();
    crate::console::emergency(format_args!("guest-rt: cpu{cpu} panicked: {info}\n"));
    crate::arch::halt()
}
