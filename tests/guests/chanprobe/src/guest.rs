//! Entry and the three roles (see the crate docs for the output).

use core::cell::{Cell, RefCell};
use core::sync::atomic::{AtomicU32, Ordering};

use guest_rt::gic::{self, Trigger, DEFAULT_PRIORITY};
use guest_rt::{arch, irq, println, rt, Platform};
use pv_drivers::abi::hv;

use crate::channels::{Channel, Channels};
use crate::config::{Config, Role};
use crate::protocol::{self, Words};

/// Doorbell interrupts taken.
static DOORBELLS: AtomicU32 = AtomicU32::new(0);
/// The INTIDs of this partition's doorbells (0: unused slot).
static INTIDS: [AtomicU32; crate::channels::MAX_CHANNELS] =
    [const { AtomicU32::new(0) }; crate::channels::MAX_CHANNELS];

guest_rt::entry!(main);

fn main(platform: &'static Platform<'static>) -> ! {
    let channels = Channels::parse(platform.dtb);
    match Config::parse(platform.bootargs) {
        Ok(config) => {
            println!(
                "chanprobe: partition {}, role {}, {} channel(s)",
                platform.partition_name,
                config.role,
                channels.len()
            );
            for c in channels.iter() {
                println!("chan: {c}");
            }
            start_doorbells(platform, &channels);
            if let Err(what) = run(&config, &channels) {
                println!("CHAN-FAIL {what}");
            }
        }
        Err(why) => println!("chanprobe: bad bootargs: {why}"),
    }
    println!("chanprobe: done");
    rt::idle()
}

/// Enables every channel's doorbell on this vCPU, and IRQs.
fn start_doorbells(platform: &Platform, channels: &Channels) {
    let Some(info) = platform.gic else { return };
    let gic = gic::init(&info);
    gic.init_cpu();
    irq::set_handler(on_irq);
    for (slot, intid) in INTIDS.iter().zip(channels.iter().filter_map(|c| c.doorbell)) {
        slot.store(intid, Ordering::Relaxed);
        gic.enable_spi_as(intid, DEFAULT_PRIORITY, Trigger::Edge);
    }
    arch::enable_irqs();
}

fn on_irq(intid: u32) {
    if INTIDS.iter().any(|i| i.load(Ordering::Relaxed) == intid) {
        DOORBELLS.fetch_add(1, Ordering::Relaxed);
    } else {
        println!("chan: unexpected irq {intid}");
        gic::get().disable(intid);
    }
}

/// A channel's memory, word by word (the MMU is off: Device memory, aligned accesses only).
struct Shared {
    base: usize,
    words: usize,
}

impl Shared {
    fn of(c: &Channel) -> Result<Self, &'static str> {
        let base = usize::try_from(c.base).map_err(|_| "channel beyond the address space")?;
        let words = usize::try_from(c.size / 4).unwrap_or(usize::MAX);
        if words < protocol::WORDS || base % 4 != 0 {
            return Err("channel too small for the protocol");
        }
        Ok(Self { base, words })
    }

    fn at(&self, i: usize) -> *mut u32 {
        assert!(i < self.words, "word {i} past the channel");
        core::ptr::with_exposed_provenance_mut::<u32>(self.base + 4 * i)
    }
}

impl Words for Shared {
    fn read(&self, i: usize) -> u32 {
        // SAFETY: the device tree maps the channel at `base` for `words` words (checked by `at`) into this
        // partition for its lifetime; other partitions write it concurrently, hence volatile.
        unsafe { self.at(i).read_volatile() }
    }

    fn write(&mut self, i: usize, v: u32) {
        // SAFETY: as in `read`; only writable channels are written by ping and pong.
        unsafe { self.at(i).write_volatile(v) }
    }
}

/// The channels this side writes and reads, by label or by default.
fn pick<'c, 'a>(
    config: &Config,
    channels: &'c Channels<'a>,
) -> Result<(&'c Channel<'a>, &'c Channel<'a>), &'static str> {
    let tx = match config.tx {
        Some(label) => channels.by_label(label).ok_or("no channel with the tx= label")?,
        None => channels.iter().find(|c| c.writable).ok_or("no read-write channel to send on")?,
    };
    let rx = match config.rx {
        Some(label) => channels.by_label(label).ok_or("no channel with the rx= label")?,
        None => channels.iter().find(|c| c.index != tx.index).ok_or("no second channel to receive on")?,
    };
    if !tx.writable {
        return Err("the tx channel is read-only");
    }
    Ok((tx, rx))
}

fn run(config: &Config, channels: &Channels) -> Result<(), &'static str> {
    if channels.len() == 0 {
        return Err("no channels in the device tree");
    }
    match config.role {
        Role::Ping => ping(config, channels),
        Role::Pong => pong(config, channels),
        Role::RoWrite => rowrite(config, channels),
        Role::Echo => echo(config, channels),
    }
}

fn ring(c: &Channel) -> Result<(), &'static str> {
    hv::channel_signal(c.index).map_err(|e| {
        println!("chan: HV_CHANNEL_SIGNAL({}) failed: {e}", c.index);
        "HV_CHANNEL_SIGNAL failed"
    })
}

fn ping(config: &Config, channels: &Channels) -> Result<(), &'static str> {
    let (tx_c, rx_c) = pick(config, channels)?;
    let (mut tx, rx) = (Shared::of(tx_c)?, Shared::of(rx_c)?);
    let (mut min, mut max, mut sum) = (u64::MAX, 0, 0);
    for seq in 1..=config.rounds {
        let t0 = arch::timer::now();
        protocol::send(&mut tx, seq);
        ring(tx_c)?;
        irq::wait_until(|| protocol::seq(&rx) == seq);
        let dt = arch::timer::now().wrapping_sub(t0);
        (min, max, sum) = (min.min(dt), max.max(dt), sum + dt);
        if let Err(m) = protocol::check_answer(&rx, seq) {
            println!("chan: {m}");
            return Err("pong's answer is wrong");
        }
    }
    println!(
        "chan: round trip ticks min {min} avg {} max {max} (counter {} Hz)",
        sum / u64::from(config.rounds),
        arch::timer::frequency()
    );
    println!("CHAN-OK rounds={} doorbells={}", config.rounds, DOORBELLS.load(Ordering::Relaxed));
    Ok(())
}

fn pong(config: &Config, channels: &Channels) -> Result<(), &'static str> {
    let (tx_c, rx_c) = pick(config, channels)?;
    let (mut tx, rx) = (Shared::of(tx_c)?, Shared::of(rx_c)?);
    for seq in 1..=config.rounds {
        // Zeroed at boot, then only ever the last message: a doorbell with nothing new (another member rang)
        // just goes back to sleep.
        irq::wait_until(|| protocol::seq(&rx) != seq - 1);
        if let Err(m) = protocol::answer(&rx, &mut tx, seq) {
            println!("chan: {m}");
            return Err("ping's message is wrong");
        }
        ring(tx_c)?;
    }
    println!("CHAN-OK rounds={} doorbells={}", config.rounds, DOORBELLS.load(Ordering::Relaxed));
    Ok(())
}

/// A message taken from the ring (its bytes and length), or a corrupt ring.
type Received = Result<([u8; pv_drivers::ring::echo::MESSAGE_MAX], usize), ()>;

/// `role=echo`: receives `rounds` messages over the message ring of the channel `tx=` names (default: its first
/// read-write channel), checks each, sends it back and rings; prints the summary checksum both ends compute.
fn echo(config: &Config, channels: &Channels) -> Result<(), &'static str> {
    use pv_drivers::ring::{echo, MappedMemory, Receiver, Sender};
    let c = match config.tx {
        Some(label) => channels.by_label(label).ok_or("no channel with the tx= label")?,
        None => channels.iter().find(|c| c.writable).ok_or("no read-write channel to echo on")?,
    };
    let member = c.member.ok_or("the channel node has no hv-static,member")?;
    let base = usize::try_from(c.base).map_err(|_| "channel beyond the address space")?;
    let size = usize::try_from(c.size).map_err(|_| "channel beyond the address space")?;
    // SAFETY: the device tree maps the channel read-write at `base` for `size` bytes (64 KiB-aligned) into this
    // partition for its lifetime; nothing in this guest holds a reference into it. Two handles, one for each
    // direction: each only ever writes its own half's fields.
    let (tx_mem, rx_mem) =
        unsafe { (MappedMemory::new(base as *mut u8, size), MappedMemory::new(base as *mut u8, size)) };
    let tx = Sender::new(tx_mem, member).map_err(|_| "the channel cannot carry a ring")?;
    let rx = Receiver::new(rx_mem, member).map_err(|_| "the channel cannot carry a ring")?;
    println!("chan: echo on channel `{}` as member {member}, ring of {} bytes", c.label, tx.layout().capacity());
    // `irq::wait_until` takes a plain `Fn`: the ends are borrowed inside it.
    let (tx, rx) = (RefCell::new(tx), RefCell::new(rx));
    let mut checksum = echo::FNV_SEED;
    for seq in 0..config.rounds {
        let got: Cell<Option<Received>> = Cell::new(None);
        irq::wait_until(|| {
            let mut b = [0u8; echo::MESSAGE_MAX];
            let r = match rx.borrow_mut().try_recv(&mut b) {
                Ok(None) => return false,
                Ok(Some(n)) => Ok((b, n)),
                Err(_) => Err(()),
            };
            got.set(Some(r));
            true
        });
        let Some(Ok((buf, n))) = got.get() else { return Err("the peer's ring is corrupt") };
        let msg = &buf[..n];
        if let Err(m) = echo::check(seq, msg) {
            println!("chan: message {seq}: {m}");
            return Err("a message is wrong");
        }
        checksum = echo::fnv1a(checksum, msg);
        // The peer drains its ring as it goes: room comes with its next doorbell at the latest.
        let sent: Cell<Option<bool>> = Cell::new(None);
        irq::wait_until(|| match tx.borrow_mut().try_send(msg) {
            Err(pv_drivers::ring::Error::Full) => false,
            r => {
                sent.set(Some(r.is_ok()));
                true
            }
        });
        if sent.get() != Some(true) {
            return Err("the echo could not be sent");
        }
        ring(c)?;
    }
    println!(
        "CHAN-OK rounds={} checksum={checksum:#010x} doorbells={}",
        config.rounds,
        DOORBELLS.load(Ordering::Relaxed)
    );
    Ok(())
}

fn rowrite(config: &Config, channels: &Channels) -> Result<(), &'static str> {
    let target = match config.rx {
        Some(label) => channels.by_label(label).ok_or("no channel with the rx= label")?,
        None => channels.iter().find(|c| !c.writable).ok_or("no read-only channel")?,
    };
    let mem = Shared::of(target)?;
    println!("rowrite: channel {} reads {:#010x}", target.label, mem.read(0));
    ring(target)?;
    println!("rowrite: rang channel {}: ok", target.label);
    let past = channels.len() as u32;
    match hv::channel_signal(past) {
        Err(e) => println!("rowrite: ring of channel {past} refused: {e}"),
        Ok(()) => println!("rowrite: ring of channel {past} accepted"),
    }
    println!("rowrite: writing channel {} at {:#x}", target.label, target.base);
    let mut mem = mem;
    mem.write(1, 0xBAD0_BAD0);
    println!("rowrite: ESCAPED: the write to read-only channel {} went through", target.label);
    Err("a read-only channel took a write")
}
