//! Entry, bootargs and the end of the run; the roles themselves are in [`crate::window`] and [`crate::pinned`].

use guest_rt::{arch, bootargs, println, rt, Platform};
use pv_drivers::abi::psci;

const DEFAULT_FRAMES: u64 = 1_000;
const DEFAULT_FRAME_US: u64 = 1_000;

guest_rt::entry!(main);

fn main(platform: &'static Platform<'static>) -> ! {
    let cmdline = platform.bootargs;
    let role = bootargs::get(cmdline, "role").unwrap_or("window");
    let frequency = arch::timer::frequency();
    println!("schedprobe: partition {}, role {role}, counter {frequency} Hz", platform.partition_name);
    let frames = positive(cmdline, "frames", DEFAULT_FRAMES);
    match role {
        "window" => crate::window::run(frames, frequency),
        "pinned" => crate::pinned::run(frames, positive(cmdline, "frame_us", DEFAULT_FRAME_US), frequency),
        "soak" => crate::soak::run(platform, frequency),
        other => println!("schedprobe: unknown role {other:?} (known: window, pinned, soak)"),
    }
    println!("schedprobe: done");
    if bootargs::get(cmdline, "done") == Some("off") {
        let error = psci::system_off();
        panic!("SYSTEM_OFF returned {error}");
    }
    rt::idle()
}

/// The positive integer `key` in the bootargs, or `default` (said so when the value is malformed).
fn positive(cmdline: &str, key: &str, default: u64) -> u64 {
    match bootargs::parse::<u64>(cmdline, key) {
        None => default,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            println!("schedprobe: bad {key} in bootargs {cmdline:?}, using {default}");
            default
        }
    }
}
