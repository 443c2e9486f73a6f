//! Role `pinned`: how often the hypervisor enters on this vCPU's physical CPU while the vCPU does nothing that
//! traps. On a pinned CPU the answer should be 0: no tick, no switching. The vCPU only reads the virtual counter,
//! which never traps (CNTHCTL_EL2 can trap the physical counter, not the virtual one, without FEAT_ECV, which
//! hv-static does not enable; AArch32's CNTVCT is not trappable at all), with interrupts masked and no console
//! output.

use guest_rt::timer::ticks_for_us;
use guest_rt::{arch, println};
use pv_drivers::abi::hv::{self, HvError};

use crate::measure::spin_until;

pub fn run(frames: u64, frame_us: u64, frequency: u64) {
    let duration = ticks_for_us(frequency, frames.saturating_mul(frame_us));
    let before = match hv::cpu_exits() {
        Ok(count) => count,
        Err(e) => return report_error(e),
    };
    let start = arch::timer::now();
    let longest = spin_until(start.saturating_add(duration), arch::timer::now);
    let stop = arch::timer::now();
    let after = match hv::cpu_exits() {
        Ok(count) => count,
        Err(e) => return report_error(e),
    };
    // `after` counts the second call's own entry; the first call's is already in `before`.
    let entries = after.wrapping_sub(before).wrapping_sub(1);
    println!("pinned: hv entries during run={entries} over {} ticks", stop - start);
    println!("pinned: longest gap between counter reads {longest} ticks");
}

fn report_error(e: HvError) {
    match e {
        HvError::NotSupported => println!("pinned: HV_CPU_EXITS not supported"),
        e => println!("pinned: HV_CPU_EXITS failed: {e}"),
    }
}
