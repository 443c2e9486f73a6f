//! `probe=lifecycle` (three vCPUs, and a channel of its own that outlives its restarts): concurrent PSCI calls
//! that race the partition's state machine. Each boot is one round, counted in the channel:
//!
//! - every round: a CPU_ON/CPU_OFF storm (vCPUs 0 and 1 both keep calling CPU_ON on vCPU 2, which powers itself
//!   off as soon as it runs, while vCPU 0 polls AFFINITY_INFO), then AFFINITY_INFO and CPU_ON with garbage
//!   affinities and levels. Every CPU_ON that succeeded must have started vCPU 2 exactly once;
//! - even rounds end with all three vCPUs calling SYSTEM_RESET at the same counter value; odd rounds with vCPU 0
//!   calling SYSTEM_RESET while vCPU 1 still calls CPU_ON on vCPU 2 and vCPU 2 comes and goes;
//! - the last round (`passes` = rounds before it) prints the `done` line, then vCPU 0 calls SYSTEM_OFF while the
//!   storm goes on: the partition must power off, once, and nothing of it may run again.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use guest_rt::{arch, println, smp, timer, Platform};
use pv_drivers::abi::psci;

use crate::conduit::{self, Via};
use crate::lcg::Lcg;
use crate::oracle::id;
use crate::Args;

const MAGIC: u64 = 0x4C49_4645_4359_434C; // "LIFECYCL"
const AFF: u64 = 0xff_00ff_ffff;

/// What survives a restart, at the start of the channel.
#[repr(C)]
struct Saved {
    magic: u64,
    round: u64,
    calls: u64,
    inconsistencies: u64,
}

/// vCPU 2's starts in this boot.
static STARTS: AtomicU64 = AtomicU64::new(0);
/// CPU_ON answers on vCPU 2 this boot: success, ALREADY_ON, ON_PENDING, DENIED, other.
static CPU_ON: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static CALLS: AtomicU64 = AtomicU64::new(0);
/// vCPU 0 asks vCPU 1 to call CPU_ON on vCPU 2 for as long as this is set.
static STORMING: AtomicBool = AtomicBool::new(false);
/// vCPU 1 is storming (it acknowledges, so that vCPU 0 never ends a storm vCPU 1 has not joined yet).
static CPU1_STORMING: AtomicBool = AtomicBool::new(false);
/// The counter value at which the vCPUs reset together (0: not yet).
static RESET_AT: AtomicU64 = AtomicU64::new(0);
/// vCPU 2 is to join the reset instead of powering off.
static JOIN_RESET: AtomicBool = AtomicBool::new(false);
static CPU1_UP: AtomicBool = AtomicBool::new(false);

static MPIDRS: spin::Once<[u64; 3]> = spin::Once::new();

pub fn run(args: &Args, platform: &'static Platform<'static>, state: Option<u64>) -> ! {
    let cpus = platform.cpus();
    let Some(state) = state.filter(|_| cpus.len() >= 3) else {
        println!("hostile: lifecycle needs 3 vCPUs and a writable channel (has {} vCPUs)", cpus.len());
        guest_rt::rt::idle()
    };
    let mpidrs = MPIDRS.call_once(|| [cpus[0], cpus[1], cpus[2]]);
    // SAFETY: the channel is this partition's own shared memory (its device tree says so), mapped read-write,
    // at least a page, and nothing else in the guest uses it.
    let saved = unsafe { &mut *(state as usize as *mut Saved) };
    if saved.magic != MAGIC {
        *saved = Saved { magic: MAGIC, round: 0, calls: 0, inconsistencies: 0 };
    }
    let round = saved.round;
    println!("hostile: lifecycle round {round} of {}", args.passes + 1);
    if round > args.passes {
        // A SYSTEM_RESET that raced the final SYSTEM_OFF won: nothing left to do.
        println!("hostile: lifecycle over");
        let _ = psci::system_off();
        guest_rt::rt::idle()
    }

    // vCPU 1 joins the storm.
    if let Err(e) = smp::start_cpu(1, mpidrs[1], secondary) {
        println!("hostile: lifecycle CPU_ON cpu1: {e}");
    }
    while !CPU1_UP.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let mut rng = Lcg::new(args.seed ^ round);
    storm(args.count, mpidrs);
    let inconsistent = settle(mpidrs);
    let garbage = garbage(&mut rng, mpidrs, args.count);
    let calls = CALLS.load(Ordering::Relaxed);
    println!(
        "hostile: lifecycle storm: cpu_on success {} already_on {} on_pending {} denied {} other {}; cpu2 started {} \
         times; garbage calls {} unexpected {}",
        CPU_ON[0].load(Ordering::Relaxed),
        CPU_ON[1].load(Ordering::Relaxed),
        CPU_ON[2].load(Ordering::Relaxed),
        CPU_ON[3].load(Ordering::Relaxed),
        CPU_ON[4].load(Ordering::Relaxed),
        STARTS.load(Ordering::Relaxed),
        garbage.0,
        garbage.1
    );
    saved.calls += calls;
    saved.inconsistencies += u64::from(inconsistent) + garbage.1 + CPU_ON[4].load(Ordering::Relaxed);
    saved.round = round + 1;
    arch::write_barrier();

    if round == args.passes {
        println!(
            "hostile: lifecycle done ({} resets, {} psci calls, {} inconsistencies); SYSTEM_OFF during a CPU_ON storm",
            round, saved.calls, saved.inconsistencies
        );
        start_storm();
        spin_ms(2);
        let e = psci::system_off();
        panic!("SYSTEM_OFF returned {e}");
    }
    if round % 2 == 0 {
        println!("hostile: lifecycle all three vCPUs call SYSTEM_RESET together");
        JOIN_RESET.store(true, Ordering::Release);
        while psci::cpu_on(mpidrs[2] as usize, arch::secondary_entry(), 2).is_err() {
            core::hint::spin_loop();
        }
        let at = arch::timer::now() + timer::ticks_for_ms(arch::timer::frequency(), 5);
        RESET_AT.store(at, Ordering::Release);
        reset_at(at)
    } else {
        println!("hostile: lifecycle SYSTEM_RESET during a CPU_ON storm");
        start_storm();
        spin_ms(2);
        let e = psci::system_reset();
        panic!("SYSTEM_RESET returned {e}");
    }
}

fn secondary(cpu: usize) -> ! {
    let mpidrs = MPIDRS.get().expect("set before CPU_ON");
    if cpu == 2 {
        STARTS.fetch_add(1, Ordering::AcqRel);
        if JOIN_RESET.load(Ordering::Acquire) {
            while RESET_AT.load(Ordering::Acquire) == 0 {
                core::hint::spin_loop();
            }
            reset_at(RESET_AT.load(Ordering::Acquire));
        }
        let e = psci::cpu_off();
        panic!("CPU_OFF returned {e}");
    }
    // vCPU 1: storms whenever vCPU 0 asks, joins the reset when there is one.
    CPU1_UP.store(true, Ordering::Release);
    loop {
        if STORMING.load(Ordering::Acquire) {
            CPU1_STORMING.store(true, Ordering::Release);
            while STORMING.load(Ordering::Acquire) {
                cpu_on_2(mpidrs);
            }
            CPU1_STORMING.store(false, Ordering::Release);
        }
        if RESET_AT.load(Ordering::Acquire) != 0 {
            reset_at(RESET_AT.load(Ordering::Acquire));
        }
        core::hint::spin_loop();
    }
}

/// Asks vCPU 1 to storm and waits until it does.
fn start_storm() {
    STORMING.store(true, Ordering::Release);
    while !CPU1_STORMING.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
}

/// vCPU 0 makes `count` CPU_ON calls on vCPU 2 (polling AFFINITY_INFO in between) while vCPU 1 makes as many
/// as it can; returns once vCPU 1 has stopped too.
fn storm(count: u64, mpidrs: &[u64; 3]) {
    start_storm();
    for _ in 0..count {
        cpu_on_2(mpidrs);
        let state = psci::affinity_info(mpidrs[2] as usize);
        CALLS.fetch_add(1, Ordering::Relaxed);
        if state.is_err() {
            CPU_ON[4].fetch_add(1, Ordering::Relaxed);
        }
    }
    STORMING.store(false, Ordering::Release);
    while CPU1_STORMING.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
}

fn cpu_on_2(mpidrs: &[u64; 3]) {
    let r = psci::cpu_on(mpidrs[2] as usize, arch::secondary_entry(), 2);
    CALLS.fetch_add(1, Ordering::Relaxed);
    let slot = match r {
        Ok(()) => 0,
        Err(psci::PsciError::AlreadyOn) => 1,
        Err(psci::PsciError::OnPending) => 2,
        Err(psci::PsciError::Denied) => 3,
        Err(_) => 4,
    };
    CPU_ON[slot].fetch_add(1, Ordering::Relaxed);
}

/// After the storm: waits until vCPU 2 is off for good, then checks that each accepted CPU_ON started it once.
/// Returns whether that failed.
fn settle(mpidrs: &[u64; 3]) -> bool {
    let deadline = arch::timer::now() + timer::ticks_for_ms(arch::timer::frequency(), 2_000);
    loop {
        let off = matches!(psci::affinity_info(mpidrs[2] as usize), Ok(psci::AffinityState::Off));
        let started = STARTS.load(Ordering::Acquire);
        let accepted = CPU_ON[0].load(Ordering::Acquire);
        if off && started == accepted {
            return false;
        }
        if arch::timer::now() > deadline {
            println!("hostile: lifecycle INCONSISTENT: {accepted} CPU_ON accepted, cpu2 started {started} times");
            return true;
        }
        core::hint::spin_loop();
    }
}

/// AFFINITY_INFO and CPU_ON with garbage: affinities that are none of the partition's vCPUs, its own with garbage
/// in the other MPIDR bits, non-zero levels. Returns (calls, answers the ABI does not allow).
fn garbage(rng: &mut Lcg, mpidrs: &[u64; 3], count: u64) -> (u64, u64) {
    let wide = cfg!(target_pointer_width = "64");
    let (affinity_info, cpu_on) =
        if wide { (id::AFFINITY_INFO_64, id::CPU_ON_64) } else { (id::AFFINITY_INFO_32, id::CPU_ON_32) };
    let mut unexpected = 0;
    for i in 0..count {
        let base = mpidrs[(i % 3) as usize];
        let mut mpidr = match i % 4 {
            0 => rng.next(),
            1 => base | rng.next() << 40,
            2 => base ^ 1 << rng.below(40),
            _ => base,
        };
        let mut level = match i % 3 {
            0 => 0,
            1 => rng.below(4),
            _ => rng.next(),
        };
        if !wide {
            mpidr &= 0xffff_ffff;
            level &= 0xffff_ffff;
        }
        let ours = mpidrs.iter().position(|&m| m & AFF == mpidr & AFF);
        let via = rng.pick(&Via::ALL);
        let r = conduit::call(via, [u64::from(affinity_info), mpidr, level, rng.next()])[0] as u32 as i32;
        let ok = match (ours, level) {
            (Some(_), 0) => (0..=2).contains(&r),
            _ => r == -2,
        };
        unexpected += u64::from(!ok);
        // CPU_ON on anything but vCPU 2 (which may start: it then powers off again): vCPUs 0 and 1 are on.
        if ours != Some(2) {
            let r = conduit::call(via, [u64::from(cpu_on), mpidr, rng.next(), rng.next()])[0] as u32 as i32;
            let ok = match ours {
                Some(_) => r == -4,
                None => r == -2,
            };
            unexpected += u64::from(!ok);
        }
        CALLS.fetch_add(2, Ordering::Relaxed);
    }
    (2 * count, unexpected)
}

fn reset_at(at: u64) -> ! {
    while arch::timer::now() < at {
        core::hint::spin_loop();
    }
    let e = psci::system_reset();
    panic!("SYSTEM_RESET returned {e}");
}

fn spin_ms(ms: u64) {
    let until = arch::timer::now() + timer::ticks_for_ms(arch::timer::frequency(), ms);
    while arch::timer::now() < until {
        core::hint::spin_loop();
    }
}
