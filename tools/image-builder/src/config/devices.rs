//! A partition's passed-through devices: each one the board can pass through, given to one partition only, clear
//! of its RAM and emulated devices, with interrupts no one else owns (`[[partition]] passthrough`).

use std::collections::BTreeMap;

use board_support::{Board, Device, GicVersion, NotPassthrough, Uart};
use hv_plan::guest_map;

use super::model::*;
use super::raw::*;
use crate::diag::{closest, Diag, Report, Span};
use crate::units::hex;

/// Who owns each passed-through device and interrupt so far.
pub(super) struct Claims {
    /// Device path -> (partition name, span of the entry).
    devices: BTreeMap<&'static str, (String, Span)>,
    /// INTID -> who owns it.
    spis: BTreeMap<u32, SpiOwner>,
}

enum SpiOwner {
    /// The hypervisor, for the device at this path.
    Hypervisor(&'static str),
    /// A partition, with the device at `device`, listed at `span`.
    Partition { name: String, device: &'static str, span: Span },
}

impl Claims {
    /// Nothing given to partitions yet; the hypervisor owns its console's interrupt.
    pub(super) fn new(console: &'static Uart) -> Claims {
        let mut spis = BTreeMap::new();
        spis.insert(console.irq.intid(), SpiOwner::Hypervisor(console.path));
        Claims { devices: BTreeMap::new(), spis }
    }
}

/// A partition's `passthrough`: each entry a passthrough-able device of the board, listed once, given to no other
/// partition, clear of the partition's RAM and emulated devices (it keeps its host-physical addresses), its
/// interrupts owned by no one else.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_passthrough(
    p: &RawPartition,
    i: usize,
    board: &Board,
    gic: GicVersion,
    console: &Uart,
    memory: Option<&Memory>,
    vcpus: usize,
    claims: &mut Claims,
    r: &mut Report,
) -> Vec<&'static Device> {
    let Some(list_) = &p.passthrough else {
        return Vec::new();
    };
    let name = p.name.get_ref();
    let passable = || board.devices.iter().map(|d| d.path);
    let available = || {
        if board.devices.is_empty() {
            format!("`{}` has no devices that can be passed through", board.name)
        } else {
            let devices: Vec<String> =
                board.devices.iter().map(|d| format!("`{}` ({})", d.path, d.description)).collect();
            let devices = match devices.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            format!("devices of `{}` that can be passed through: {devices}", board.name)
        }
    };
    let mut out: Vec<&'static Device> = Vec::new();
    let mut listed: BTreeMap<&str, Span> = BTreeMap::new();
    for (j, entry) in list_.get_ref().iter().enumerate() {
        let field = format!("partition[{i}].passthrough[{j}]");
        let path = entry.get_ref().as_str();
        let span = entry.span();
        let device = match board.passthrough(path, console) {
            Ok(d) => d,
            Err(NotPassthrough::Unknown) => {
                let hint = match closest(path, passable()) {
                    Some(c) => format!("did you mean `{c}`? {}", available()),
                    None => format!("{}; devices are named by their path in the board's device tree", available()),
                };
                r.push(
                    Diag::error(field, span, format!("no device `{path}` on board `{}`", board.name))
                        .label("not a device of this board")
                        .hint(hint),
                );
                continue;
            }
            Err(NotPassthrough::Console(u)) => {
                r.push(
                    Diag::error(
                        field,
                        span,
                        format!("device `{path}` cannot be passed through: it is the hypervisor's console UART (`{}`)", u.name),
                    )
                    .label("the hypervisor's console")
                    .hint(format!(
                        "hv-static writes every partition's console lines to it; give the partition an emulated PL011 at {} instead (`console = true`); {}",
                        hex(guest_map::UART),
                        available()
                    )),
                );
                continue;
            }
            Err(NotPassthrough::Reserved(res)) => {
                r.push(
                    Diag::error(field, span, format!("device `{path}` cannot be passed through: it is {}", res.what))
                        .label("kept by the hypervisor")
                        .hint(format!("{}; {}", res.why, available())),
                );
                continue;
            }
        };
        if let Some(first) = listed.get(device.path) {
            r.push(
                Diag::error(field, span, format!("device `{path}` is listed twice in partition `{name}`"))
                    .label("again")
                    .related(first.clone(), "first listed here")
                    .hint("list each device once"),
            );
            continue;
        }
        listed.insert(device.path, span.clone());
        if let Some((other, first)) = claims.devices.get(device.path) {
            r.push(
                Diag::error(field, span, format!("device `{path}` is given to two partitions: `{other}` and `{name}`"))
                    .label(format!("also given to `{name}`"))
                    .related(first.clone(), format!("first given to `{other}` here"))
                    .hint("a passed-through device belongs to exactly one partition: remove it from one of them"),
            );
            continue;
        }
        claims.devices.insert(device.path, (name.clone(), span.clone()));
        if device.dma {
            r.push(
                Diag::warning(&field, span.clone(), format!("device `{path}` can master DMA: partition `{name}` can reach all of memory through it"))
                    .label("a DMA-capable device")
                    .hint("stage 2 does not translate a device's own accesses and hv-static drives no SMMU yet: pass it only to a partition you trust as much as the hypervisor (see docs/security.md)"),
            );
        }
        let mut ok = true;
        // Guest-physical = host-physical: the device's MMIO must not land on the partition's RAM or emulated devices.
        let mut windows = device_windows(gic, vcpus, virtio_count(p), has_watchdog(p));
        if let Some(m) = memory {
            windows.push((m.ipa, m.size, "RAM"));
        }
        for mmio in device.regs {
            if let Some((base, len, what)) = windows.iter().find(|(b, l, _)| mmio.overlaps(*b, *l)) {
                let hint = if *what == "RAM" {
                    "a passed-through device keeps its host-physical addresses: move the partition's RAM (`memory.ipa`) clear of it".to_owned()
                } else if *what == WATCHDOG {
                    "a passed-through device keeps its host-physical addresses, and the partition's watchdog (`watchdog = true`) is there: pass the device through to a partition without one, or drop this partition's watchdog".to_owned()
                } else if *what == "virtio-mmio transports" {
                    format!("a passed-through device keeps its host-physical addresses, and the partition's disks and networks get their transports there ({} bytes each from {}): attach fewer of them, or pass the device through to another partition", guest_map::VIRTIO_MMIO_STRIDE, hex(guest_map::VIRTIO_MMIO))
                } else {
                    format!("a passed-through device keeps its host-physical addresses, and the {what} is there in every partition: this device cannot be passed through")
                };
                r.push(
                    Diag::error(
                        &field,
                        span.clone(),
                        format!(
                            "device `{path}` at {}..{} overlaps the {what} of partition `{name}` ({}..{})",
                            hex(mmio.base),
                            hex(mmio.end()),
                            hex(*base),
                            hex(base + len)
                        ),
                    )
                    .label("overlapping MMIO")
                    .hint(hint),
                );
                ok = false;
                break;
            }
        }
        for &intid in device.spis {
            match claims.spis.get(&intid) {
                // Devices of one partition may share a line.
                Some(SpiOwner::Partition { name: owner, .. }) if owner == name => {}
                Some(SpiOwner::Partition { name: owner, device: other, span: first }) => {
                    r.push(
                        Diag::error(
                            &field,
                            span.clone(),
                            format!("interrupt {intid} of device `{path}` is given to two partitions: `{owner}` (with `{other}`) and `{name}`"),
                        )
                        .label(format!("INTID {intid} also given to `{name}`"))
                        .related(first.clone(), format!("INTID {intid} first given to `{owner}` here, with `{other}`"))
                        .hint("a passed-through interrupt belongs to exactly one partition: give the devices that share it to the same partition"),
                    );
                    ok = false;
                }
                Some(SpiOwner::Hypervisor(owner)) => {
                    r.push(
                        Diag::error(
                            &field,
                            span.clone(),
                            format!("interrupt {intid} of device `{path}` belongs to the hypervisor (`{owner}`)"),
                        )
                        .label(format!("INTID {intid} is the hypervisor's"))
                        .hint("the hypervisor's own interrupts are never passed through: leave this device to the hypervisor"),
                    );
                    ok = false;
                }
                None => {
                    claims.spis.insert(
                        intid,
                        SpiOwner::Partition { name: name.clone(), device: device.path, span: span.clone() },
                    );
                }
            }
        }
        if ok {
            out.push(device);
        }
    }
    out
}

/// How [`device_windows`] names the watchdog's page.
const WATCHDOG: &str = "emulated SP805 watchdog";

/// The guest-physical windows of the partition's emulated devices, which RAM must not cover: the GIC, the console,
/// the watchdog when it has one and, when it has `virtio` PV devices, their virtio-mmio transports.
pub(crate) fn device_windows(
    gic: GicVersion,
    vcpus: usize,
    virtio: usize,
    watchdog: bool,
) -> Vec<(u64, u64, &'static str)> {
    let mut w = vec![(guest_map::GICD, guest_map::GICD_SIZE, "emulated GIC distributor")];
    match gic {
        GicVersion::V3 => {
            let frames = u64::try_from(vcpus.max(1)).unwrap_or(u64::MAX);
            w.push((guest_map::GICR, guest_map::GICR_STRIDE.saturating_mul(frames), "emulated GIC redistributors"))
        }
        GicVersion::V2 => w.push((guest_map::GICC, guest_map::GICC_SIZE, "GIC CPU interface")),
    }
    w.push((guest_map::UART, guest_map::UART_SIZE, "emulated PL011 console"));
    // Reserved in every partition, used by those that map channels: whether one does is known only later.
    w.push((guest_map::GPIO, guest_map::GPIO_SIZE, "emulated PL061 GPIO (channel doorbells)"));
    if watchdog {
        w.push((guest_map::WATCHDOG, guest_map::WATCHDOG_SIZE, WATCHDOG));
    }
    if virtio > 0 {
        let slots = u64::try_from(virtio).unwrap_or(u64::MAX);
        w.push((guest_map::VIRTIO_MMIO, guest_map::VIRTIO_MMIO_STRIDE.saturating_mul(slots), "virtio-mmio transports"));
    }
    w
}

/// How many virtio-mmio transports a partition has: one per disk and per network it attaches.
pub(super) fn virtio_count(p: &RawPartition) -> usize {
    p.disks.as_ref().map_or(0, |d| d.get_ref().len()) + p.networks.as_ref().map_or(0, |n| n.get_ref().len())
}

/// Whether a partition asks for the emulated watchdog (`watchdog = true`; the default is none).
pub(super) fn has_watchdog(p: &RawPartition) -> bool {
    p.watchdog.as_ref().is_some_and(|w| *w.get_ref())
}
