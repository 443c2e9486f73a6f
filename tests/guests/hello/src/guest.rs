//! The guest itself (see the crate docs for its output).

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use guest_rt::aux_uart;
use guest_rt::gic::{self, DEFAULT_PRIORITY};
use guest_rt::{arch, bootargs, irq, println, smp, timer, Platform, MAX_CPUS};
use pv_drivers::abi::psci::{self, AffinityState};
use pv_drivers::abi::smccc;
use spin::Once;

use crate::rtc::Pl031;
use guest_rt::watchdog::Sp805;

/// The SGI vCPU 0 sends to every other vCPU.
const SGI: u8 = 1;
/// Sent to vCPU 0 by a vCPU that reached `ticks=N`, to wake it: its own timer may already be stopped.
const FINISHED_SGI: u8 = 2;
const DEFAULT_TICK_MS: u64 = 100;
/// How long vCPU 0 waits for another vCPU to come up or to take its SGI before reporting it missing.
const WAIT_MS: u64 = 2_000;

struct Config {
    tick_ms: u64,
    /// Ticks per vCPU before stopping; `None` ticks forever.
    tick_limit: Option<u64>,
    timer_intid: u32,
    /// More than one vCPU: tick lines name the vCPU.
    multi: bool,
    /// MPIDR affinity of vCPU 0, the target of [`FINISHED_SGI`].
    boot_mpidr: u64,
    /// RTC alarms before the alarm stops (`rtc_alarms=N`); `None` alarms forever.
    rtc_alarm_limit: Option<u64>,
}

/// The PL031 whose alarm, a device SPI routed to vCPU 0, fires every second (when the device tree has one).
struct Rtc {
    device: Pl031,
    intid: u32,
}

/// The UART besides the console (under hv-static, a passed-through SoC UART), whose transmit interrupt, an SPI
/// routed to vCPU 0, is taken once.
struct AuxUart {
    driver: aux_uart::Driver,
    intid: u32,
}

static CONFIG: Once<Config> = Once::new();
static UP: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
static GOT_SGI: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// Who signalled each vCPU: written before the SGI is sent, as GICv3 does not tell the receiver.
static SGI_FROM: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(usize::MAX) }; MAX_CPUS];
static TICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// vCPUs that reached `tick_limit`.
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static RTC: Once<Rtc> = Once::new();
/// `watchdog=<ms>`: the partition's SP805, fed on every tick of vCPU 0.
static WATCHDOG: Once<Sp805> = Once::new();
static RTC_ALARMS: AtomicU64 = AtomicU64::new(0);
static AUX_UART: Once<AuxUart> = Once::new();
/// The aux UART's interrupt was taken (and reported) once.
static AUX_UART_IRQ: AtomicBool = AtomicBool::new(false);
/// `done=reset-all`: the counter value at which every vCPU calls SYSTEM_RESET (0 until vCPU 0 sets it).
static RESET_AT: AtomicU64 = AtomicU64::new(0);

guest_rt::entry!(main);

fn main(platform: &'static Platform<'static>) -> ! {
    // As close to the partition's first instruction as Rust code gets (the restart bench measures from a fault).
    let entered = arch::timer::now();
    let gic_info = platform.gic.expect("hello: the device tree has no GIC");
    let timer_intid = platform.timer_intid.expect("hello: the device tree has no timer");
    let gic = gic::init(&gic_info);
    let cpus = platform.cpus();
    println!("hello from {} (vcpus={}, gic={})", platform.partition_name, cpus.len(), gic.version());
    let stamp = bootargs::get(platform.bootargs, "stamp").is_some();
    if stamp {
        println!("hello: entered at counter {entered} ({} Hz)", arch::timer::frequency());
    }
    report_firmware();

    if bootargs::get(platform.bootargs, "done").is_some_and(|d| d.starts_with("reset") || d == "fault") {
        check_scrubbed(platform);
    }
    let config = CONFIG.call_once(|| Config::new(platform.bootargs, timer_intid, cpus));
    irq::set_handler(on_irq);
    init_cpu(config);
    let running = start_secondaries(cpus);
    start_rtc(platform);
    start_aux_uart(platform);
    start_watchdog(platform);
    arch::enable_irqs();
    timer::start_periodic(config.tick_ms);

    irq::wait_until(|| {
        config.tick_limit.is_some() && FINISHED.load(Ordering::Acquire) == running && rtc_finished(config)
    });
    println!("hello: done");
    match bootargs::get(platform.bootargs, "done") {
        Some("hang") => {
            // A hung kernel: interrupts masked, no more feeding; only the watchdog can tell.
            println!("hello: hanging");
            let _ = arch::mask_irqs();
            loop {
                core::hint::spin_loop();
            }
        }
        Some("fault") => {
            if stamp {
                println!("hello: faulting at counter {}", arch::timer::now());
            }
            // Guest-physical 0 is below every partition's RAM and nothing is mapped there: a stage-2 fault, which
            // hv-static answers with the partition's fault policy.
            // SAFETY: the write faults before it reaches anything; the partition is stopped or restarted.
            unsafe { core::ptr::write_volatile(core::ptr::without_provenance_mut::<u32>(16), 0xdead) };
            panic!("the write to guest-physical 0x10 did not fault");
        }
        Some("reset") => {
            let error = psci::system_reset();
            panic!("SYSTEM_RESET returned {error}");
        }
        Some("reset-all") => {
            // Every vCPU calls SYSTEM_RESET at the same counter value, a few milliseconds from now.
            let at = arch::timer::now() + timer::ticks_for_ms(arch::timer::frequency(), 5);
            RESET_AT.store(at, Ordering::Release);
            for (cpu, &mpidr) in cpus.iter().enumerate().skip(1) {
                gic.send_sgi(FINISHED_SGI, cpu, mpidr);
            }
            reset_together(0);
        }
        _ => {}
    }
    let error = psci::system_off();
    panic!("SYSTEM_OFF returned {error}");
}

/// A partition that restarts itself checks that hv-static scrubbed its RAM: a word in the middle of its RAM (far
/// from its image, its stack and its device tree) is marked on every run, and must read as anything but the mark
/// when the run starts. Prints `ram: clean` or `ram: left by the previous run`.
fn check_scrubbed(platform: &Platform) {
    const MARK: u64 = 0x5c2b_bed0_dead_beef;
    let word = (platform.memory.base + platform.memory.size / 2) as usize as *mut u64;
    // SAFETY: inside this partition's RAM as its device tree describes it, 8-byte aligned (RAM is page-aligned and
    // so is half of its size), and used by nothing else of this guest.
    let found = unsafe { core::ptr::read_volatile(word) };
    println!("ram: {}", if found == MARK { "left by the previous run" } else { "clean" });
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile(word, MARK) };
}

/// Typed input, echoed a line at a time as `input: <line>`, so tests can see which partition has the console's
/// focus.
fn echo_input() {
    // A spin lock, not a critical section: only vCPU 0's timer handler takes it, with IRQs already masked, so it
    // just makes the buffer a mutable `static`.
    static LINE: spin::Mutex<([u8; 80], usize)> = spin::Mutex::new(([0; 80], 0));
    let mut line = LINE.lock();
    while let Some(b) = guest_rt::console::read_byte() {
        let (buf, len) = &mut *line;
        if b == b'\r' || b == b'\n' || *len == buf.len() {
            println!("input: {}", core::str::from_utf8(&buf[..*len]).unwrap_or("<not utf-8>"));
            *len = 0;
        } else {
            buf[*len] = b;
            *len += 1;
        }
    }
}

fn secondary(cpu: usize) -> ! {
    let config = CONFIG.get().expect("vCPU 0 configures before starting others");
    init_cpu(config);
    println!("cpu{cpu} up (mpidr {:#x})", arch::mpidr());
    UP[cpu].store(true, Ordering::Release);
    arch::enable_irqs();
    // Tick only after the SGI, so the start-up lines are not mixed with ticks.
    irq::wait_until(|| GOT_SGI[cpu].load(Ordering::Acquire));
    timer::start_periodic(config.tick_ms);
    irq::wait_until(|| RESET_AT.load(Ordering::Acquire) != 0);
    reset_together(cpu)
}

/// `done=reset-all`: leaves an unfinished console line, waits for the agreed counter value and calls
/// SYSTEM_RESET, as every other vCPU does at the same instant (hv-static must resolve them to one restart).
fn reset_together(cpu: usize) -> ! {
    let at = RESET_AT.load(Ordering::Acquire);
    guest_rt::print!("cpu{cpu} resets at {at}... ");
    while arch::timer::now() < at {
        core::hint::spin_loop();
    }
    let error = psci::system_reset();
    panic!("SYSTEM_RESET returned {error}");
}

/// The calling vCPU's GIC interface, with the SGI and the timer PPI enabled.
fn init_cpu(config: &Config) {
    let gic = gic::get();
    gic.init_cpu();
    gic.enable_local(u32::from(SGI), DEFAULT_PRIORITY);
    gic.enable_local(u32::from(FINISHED_SGI), DEFAULT_PRIORITY);
    gic.enable_local(config.timer_intid, DEFAULT_PRIORITY);
}

fn report_firmware() {
    match psci::version() {
        Ok(version) => println!("PSCI version {version}"),
        Err(e) => println!("PSCI_VERSION failed: {e}"),
    }
    // SMCCC §7.2.1: SMCCC_VERSION may not exist (SMCCC 1.0); PSCI_FEATURES says whether it does.
    if psci::features(smccc::SMCCC_VERSION).is_ok() {
        match smccc::version() {
            Ok(version) => println!("SMCCC version {version}"),
            Err(e) => println!("SMCCC_VERSION failed: {e:?}"),
        }
    }
    check_unknown_calls();
}

/// The guest ABI promises NOT_SUPPORTED (-1) for every function ID it does not define: a PSCI ID in the
/// reserved part of the range, a vendor-hypervisor ID nobody assigned, and PSCI_FEATURES of such an ID.
fn check_unknown_calls() {
    use pv_drivers::abi::smccc::{Conduit, Hvc};
    const NOT_SUPPORTED: usize = usize::MAX; // -1 in x0
    let unknown = [0x8400_001F_u32, 0xC600_FFFF, 0x8200_0042];
    let bad: usize = unknown.iter().filter(|&&fid| Hvc.call(fid, [0; 3]) != NOT_SUPPORTED).count();
    let features_ok = psci::features(0x8400_001F).is_err();
    if bad == 0 && features_ok {
        println!("abi: unknown calls return NOT_SUPPORTED");
    } else {
        println!("abi: FAILED: {bad} unknown call(s) did not return NOT_SUPPORTED (features check {features_ok})");
    }
}

/// Starts every other vCPU, signals each with an SGI and checks PSCI sees them on. Returns how many vCPUs run
/// (including this one).
fn start_secondaries(cpus: &[u64]) -> usize {
    if cpus.len() == 1 {
        return 1;
    }
    let mut running = [false; MAX_CPUS];
    running[0] = true;
    for (cpu, &mpidr) in cpus.iter().enumerate().skip(1) {
        match smp::start_cpu(cpu, mpidr, secondary) {
            Ok(()) if wait_for(&UP[cpu]) => running[cpu] = true,
            Ok(()) => println!("hello: cpu{cpu} did not come up within {WAIT_MS} ms"),
            Err(e) => println!("hello: CPU_ON cpu{cpu} (mpidr {mpidr:#x}) failed: {e}"),
        }
    }
    let others = || cpus.iter().enumerate().skip(1).filter(|&(cpu, _)| running[cpu]);

    let gic = gic::get();
    for (cpu, &mpidr) in others() {
        SGI_FROM[cpu].store(smp::cpu_index(), Ordering::Relaxed);
        gic.send_sgi(SGI, cpu, mpidr);
        if !wait_for(&GOT_SGI[cpu]) {
            println!("hello: cpu{cpu} did not take sgi {SGI} within {WAIT_MS} ms");
        }
    }

    let mut all_on = others().count() == cpus.len() - 1;
    for (cpu, &mpidr) in others() {
        match psci::affinity_info(mpidr as usize) {
            Ok(AffinityState::On) => {}
            state => {
                println!("hello: AFFINITY_INFO cpu{cpu} (mpidr {mpidr:#x}): {state:?}, expected On");
                all_on = false;
            }
        }
    }
    if all_on {
        println!("affinity ok");
    }
    others().count() + 1
}

/// On vCPU 0, when the device tree has a PL031: enables its SPI, routed to this vCPU, and arms the first alarm.
fn start_rtc(platform: &Platform) {
    let Some(device) = platform.rtc else { return };
    let base = device.reg.base;
    let Some(intid) = device.intid.filter(|&intid| intid >= gic::FIRST_SPI) else {
        println!("rtc: pl031 at {base:#x} has no SPI, not used");
        return;
    };
    println!("rtc: pl031 at {base:#x} irq {intid}");
    let rtc = RTC.call_once(|| Rtc { device: Pl031::new(base as usize), intid });
    rtc.device.quiesce();
    gic::get().enable_spi(intid, DEFAULT_PRIORITY);
    rtc.device.arm_in_one_second();
}

/// On vCPU 0, when the device tree has a UART besides the console: says so on the console, sends a line through
/// it, then enables its SPI, routed to this vCPU, and its transmit interrupt, which fires once the line is out.
fn start_aux_uart(platform: &Platform) {
    let Some(uart) = platform.aux_uart else { return };
    let (kind, base) = (uart.kind, uart.device.reg.base);
    let Some(intid) = uart.device.intid.filter(|&intid| intid >= gic::FIRST_SPI) else {
        println!("aux uart: {kind} at {base:#x} has no SPI, not used");
        return;
    };
    println!("aux uart: {kind} at {base:#x} irq {intid}");
    // SAFETY: the device tree's UART, not the console, mapped as a device for this partition; only vCPU 0 (here
    // and in its interrupt handler) drives it.
    let aux = AUX_UART.call_once(|| AuxUart { driver: unsafe { aux_uart::Driver::new(&uart) }, intid });
    aux.driver.disable_and_clear_tx_interrupt();
    for part in [b"hello from ".as_slice(), platform.partition_name.as_bytes(), b" on its own UART\r\n"] {
        aux.driver.write_bytes(part);
    }
    gic::get().enable_spi(intid, DEFAULT_PRIORITY);
    aux.driver.enable_tx_interrupt();
}

/// No RTC alarm is outstanding: there is no RTC, it alarms forever, or it reached `rtc_alarms`.
fn rtc_finished(config: &Config) -> bool {
    RTC.get().is_none() || config.rtc_alarm_limit.is_none_or(|n| RTC_ALARMS.load(Ordering::Acquire) >= n)
}

/// Spins until `flag` is set or [`WAIT_MS`] pass; IRQs may stay masked (vCPU 0 does not take any meanwhile).
fn wait_for(flag: &AtomicBool) -> bool {
    let deadline = arch::timer::now() + timer::ticks_for_ms(arch::timer::frequency(), WAIT_MS);
    while !flag.load(Ordering::Acquire) {
        if arch::timer::now() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

fn on_irq(intid: u32) {
    let cpu = smp::cpu_index();
    let config = CONFIG.get().expect("IRQs are unmasked after configuration");
    if intid == u32::from(SGI) {
        println!("cpu{cpu} got sgi {SGI} from cpu{}", SGI_FROM[cpu].load(Ordering::Relaxed));
        GOT_SGI[cpu].store(true, Ordering::Release);
    } else if intid == config.timer_intid {
        // Move the deadline first: the timer's level drops only once it lies in the future.
        timer::rearm();
        let n = TICKS[cpu].fetch_add(1, Ordering::Relaxed) + 1;
        if config.multi {
            println!("cpu{cpu} tick {n}");
        } else {
            println!("tick {n}");
        }
        if cpu == 0 {
            echo_input();
            if let Some(w) = WATCHDOG.get() {
                w.feed();
            }
        }
        if config.tick_limit == Some(n) {
            timer::stop();
            FINISHED.fetch_add(1, Ordering::Release);
            if cpu != 0 {
                gic::get().send_sgi(FINISHED_SGI, 0, config.boot_mpidr);
            }
        }
    } else if intid == u32::from(FINISHED_SGI) {
        // Nothing to do: waking vCPU 0 so it re-checks FINISHED is the point.
    } else if let Some(rtc) = RTC.get().filter(|rtc| rtc.intid == intid && cpu == 0) {
        on_rtc_alarm(rtc, config);
    } else if let Some(aux) = AUX_UART.get().filter(|aux| aux.intid == intid && cpu == 0) {
        // Masking the source drops its line; the SPI stays enabled, so a second arrival is quiet, not a storm.
        aux.driver.disable_and_clear_tx_interrupt();
        if !AUX_UART_IRQ.swap(true, Ordering::AcqRel) {
            println!("aux uart irq {intid}");
        }
    } else {
        // Not enabled here: a misrouted interrupt (e.g. the RTC's SPI on another vCPU) or one hello never
        // enabled. Disabled after the report, so a level nobody clears is reported once instead of forever.
        println!("unexpected irq {intid} on cpu{cpu}");
        gic::get().disable(intid);
    }
}

/// Clears the alarm before the GIC ends the interrupt (its line is a level), then re-arms it one second on, or
/// masks it once `rtc_alarms` is reached.
fn on_rtc_alarm(rtc: &Rtc, config: &Config) {
    rtc.device.clear();
    let n = RTC_ALARMS.fetch_add(1, Ordering::Release) + 1;
    println!("rtc alarm {n} (irq {})", rtc.intid);
    if config.rtc_alarm_limit == Some(n) {
        rtc.device.quiesce();
    } else {
        rtc.device.arm_in_one_second();
    }
}

impl Config {
    fn new(cmdline: &str, timer_intid: u32, cpus: &[u64]) -> Self {
        let tick_ms = match bootargs::parse::<u64>(cmdline, "tick_ms") {
            None => DEFAULT_TICK_MS,
            Some(Ok(ms)) if ms > 0 => ms,
            Some(_) => {
                println!("hello: bad tick_ms in bootargs {cmdline:?}, using {DEFAULT_TICK_MS}");
                DEFAULT_TICK_MS
            }
        };
        let tick_limit = match bootargs::parse::<u64>(cmdline, "ticks") {
            None => None,
            Some(Ok(n)) if n > 0 => Some(n),
            Some(_) => {
                println!("hello: bad ticks in bootargs {cmdline:?}, ticking forever");
                None
            }
        };
        let rtc_alarm_limit = match bootargs::parse::<u64>(cmdline, "rtc_alarms") {
            None => None,
            Some(Ok(n)) if n > 0 => Some(n),
            Some(_) => {
                println!("hello: bad rtc_alarms in bootargs {cmdline:?}, alarming forever");
                None
            }
        };
        Self { tick_ms, tick_limit, timer_intid, multi: cpus.len() > 1, boot_mpidr: cpus[0], rtc_alarm_limit }
    }
}

/// `watchdog=<ms>`: starts the partition's SP805 (from the device tree) for a reset `ms` after the last feed; vCPU 0
/// feeds it on every tick. Prints `watchdog: started (<ms> ms)`, or why not.
fn start_watchdog(platform: &Platform) {
    let Some(ms) = bootargs::get(platform.bootargs, "watchdog").and_then(|v| v.parse::<u32>().ok()) else { return };
    let (Some(device), Some(hz)) = (platform.watchdog, platform.watchdog_clock_hz) else {
        println!("watchdog: none in the device tree");
        return;
    };
    // SAFETY: the device tree's SP805, mapped as a device for this partition alone; only vCPU 0 drives it.
    let w = WATCHDOG.call_once(|| unsafe { Sp805::new(device.reg.base as usize, hz, ms) });
    w.start();
    println!("watchdog: started ({ms} ms)");
}
