//! guest-diskprobe: exercises the virtio block devices of a partition through their virtio-mmio transports
//! (virtio 1.2 sections 4.2 and 5.2), with the `virtio-drivers` crate as the driver. Under hv-static these are the
//! version 2 transports the hypervisor serves; natively, QEMU `virt`'s own (see tests/guests/README.md).
//!
//! The guest polls: every request goes through virtio-drivers' blocking API, which spins on the used ring. The
//! transport's SPI is never enabled in the GIC (the device raises it anyway, and the line just stays pending), so
//! the probe checks the data path without depending on interrupt delivery.
//!
//! Bootargs (all optional):
//! - `mode=write|verify|readonly|persist|hostile|hammer` (default `write`; `hammer`: `sectors` maximal reads of
//!   3.9 MiB back to back, then `disk: hammered <n> requests of <b> bytes`);
//! - `pattern=<byte>`, decimal or `0x` hex (default: a hash of the partition name, see [`pattern::default_for`]);
//! - `sectors=<n>` sectors to write or check from sector 0 (default 64; at most the disk's capacity);
//! - `evil=<hex address>` (`0x` and `_` optional; default `0x4020_0000`, where hv-static lives on QEMU `virt`):
//!   hostile mode's out-of-partition buffer; moved to the first address past the partition's RAM if it lies in it;
//! - `done=off` to call PSCI SYSTEM_OFF at the end instead of idling in WFI.
//!
//! Output (integration tests match these lines):
//! - `diskprobe: partition <name>, mode <mode>, pattern 0x<p>, sectors <n>`, or `diskprobe: bad bootargs: ...`
//!   (then disks are only listed, nothing is written);
//! - per virtio-mmio transport whose DeviceID is not 0 (QEMU lists 32, most of them empty):
//!   - a block device: `disk: virtio-blk at 0x<base> capacity <c> sectors, ro|rw` (`ro`: VIRTIO_BLK_F_RO), then
//!     - `write`: `disk: wrote and verified <n> sectors (pattern 0x<p>)`;
//!     - `verify`: `disk: verified <n> sectors (pattern 0x<p>)`;
//!     - `persist` (for disks that outlive a boot): on a blank disk (the sectors all zero) `disk: blank; wrote and
//!       verified <n> sectors (pattern 0x<p>)`, on one that holds the pattern already `disk: verified <n> sectors
//!       (pattern 0x<p>), written before this boot` (nothing is written then); anything else is a mismatch;
//!     - `readonly`: `disk: read-only as expected; write refused` (the device offers VIRTIO_BLK_F_RO, reads of
//!       `n` sectors work and a write of sector 0's own contents fails); with an explicit `pattern=`, also
//!       `disk: verified <n> sectors (pattern 0x<p>)`;
//!     - or, instead, one failure line: `disk: mismatch in sector <s> at byte <o>: read 0x.., expected 0x.. (<k> of
//!       512 bytes differ; <m> of <n> sectors differ)`, `disk: <read|write|flush> of sectors <a>..<b> failed: <error>`,
//!       `disk: device is rw, expected ro` or `disk: write to a read-only device succeeded`;
//!     - `disk: only <c> sectors, checking <c>` before those when `sectors` exceeds the capacity;
//!     - `disk: out-of-range read refused` (a read of sector `capacity` fails), or
//!       `disk: out-of-range read of sector <c> succeeded`;
//!   - another device: `disk: virtio-mmio at 0x<base>: <type>, not a block device`;
//!   - a transport virtio-drivers cannot use: `disk: virtio-mmio at 0x<base>: <error>`;
//! - in `hostile` mode, instead of the `disk:` lines, for the first virtio-blk transport only (it must be
//!   virtio-mmio version 2; see [`hostile`] for why each attack):
//!   - `hostile: virtio-blk at 0x<base>, partition RAM 0x<a>..0x<b>, out-of-partition buffer at 0x<e>` (plus
//!     ` (evil= was inside RAM: moved past it)` when it was);
//!   - `hostile: device up, queue 0 of 8 at 0x<rings>, status 0x0f`;
//!   - `hostile: out-of-partition buffer -> status 0x<s> (needs reset: yes|no), used ring advanced: no`
//!     (or `yes (id <i>, len <l>)`: the device returned the buffer);
//!   - `hostile: looping chain -> status 0x<s> (needs reset: yes|no)`;
//!   - `hostile: avail index jump -> status 0x<s> (needs reset: yes|no)`;
//!   - `hostile: after reset a valid read completed with status <n>` (the virtio-blk status byte, 0 = OK), or
//!     `hostile: after reset a valid read did not complete: status 0x<s> (needs reset: yes|no)`;
//!   - or, at any point, `hostile: bring-up failed: <reason>`; then `hostile: done`;
//! - `disk: no virtio-blk device` when there was none;
//! - `diskprobe: done`, then WFI forever (or SYSTEM_OFF with `done=off`).
//!
//! [`config`], [`pattern`] and [`check`] are pure and unit-tested on the host (the checks against an in-memory
//! disk); `guest_rt::virtio_hal` holds the DMA pool virtio-drivers allocates its rings from; [`hostile`]'s ring
//! layout and encodings are unit-tested too.
//!
//! Natively, QEMU's virtio-mmio transports are legacy (version 1) unless `-global virtio-mmio.force-legacy=false`
//! is given; hostile mode needs version 2, e.g.:
//!
//! ```sh
//! qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a57 -m 256M -nographic -kernel diskprobe.bin \
//!     -global virtio-mmio.force-legacy=false -drive file=disk.img,if=none,format=raw,id=d0 \
//!     -device virtio-blk-device,drive=d0 -append "mode=hostile"
//! ```
#![cfg_attr(target_os = "none", no_std, no_main)]

mod check;
mod config;
mod guest;
mod hostile;
mod pattern;

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-diskprobe is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
