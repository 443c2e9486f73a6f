//! guest-netprobe: exercises the virtio network devices of a partition through their virtio-mmio transports
//! (virtio 1.2 sections 4.2 and 5.1), with the `virtio-drivers` crate's no-alloc [`VirtIONetRaw`] as the driver.
//! Under hv-static these are the ports of its virtual switches (`[[network]]`); natively, QEMU `virt`'s own
//! virtio-net devices (see tests/guests/README.md).
//!
//! The guest polls: receive buffers stay posted and the used rings are checked in a loop; each frame is sent
//! synchronously (posted, then waited for, at most 1 s). The transports' SPIs are never enabled in the GIC.
//!
//! Bootargs:
//! - `role=ping|pong|watch|uplink|flood` (required):
//!   - `ping`: broadcasts a hello (EtherType 0x88B5, payload `HELLO`) every 10 ms until a `HELLO-ACK` addressed to
//!     it arrives (at most 5 s), learning the peer's MAC from it; then sends `frames` numbered unicast frames of
//!     60 to 1514 bytes (frames 0, 10, 20, ... are 60 bytes, 1, 11, 21, ... 1514, the others in between; see
//!     [`echo`]) one at a time, each waiting up to 1 s for its echo and sent at most 4 times, and checks every
//!     byte of each echo (the same frame with the addresses swapped). Three frames lost in a row end the run;
//!   - `pong`: sends every frame with EtherType 0x88B5 addressed to its MAC back to its source, payload unchanged
//!     (except `HELLO-ACK`s), and answers each broadcast hello with a unicast `HELLO-ACK`; forever;
//!   - `watch`: counts the frames it receives, by destination; forever;
//!   - `uplink`: ARPs for 10.0.2.2 as 10.0.2.15 (QEMU's user-mode network), every 500 ms, 10 times at most;
//!   - `flood`: sends 1514-byte broadcast frames (EtherType 0x88B5, zero payload) back to back, forever: load
//!     that the others must not feel beyond their own ports;
//! - `frames=<n>`: frames `ping` sends (default 100);
//! - `peer=<mac>` (`52:54:00:12:34:56`): `ping` skips the hello and sends to this MAC;
//! - `done=off` to call PSCI SYSTEM_OFF at the end instead of idling in WFI (`ping`, `uplink`; `pong` and
//!   `watch` never end).
//!
//! With several network devices (at most [`port::MAX_PORTS`] are used), `ping` and `uplink` run on each in turn,
//! and `pong` and `watch` serve all of them, with common counts.
//!
//! Output (integration tests match these lines):
//! - `netprobe: bad bootargs: <key>=<value>, expected ...` (or `no role=, expected ...`) when the bootargs are not
//!   usable, `...; only listing network devices`: then devices are only listed;
//! - per virtio-mmio transport whose DeviceID is not 0 (QEMU lists 32, most of them empty):
//!   - a network device: `net: virtio-net at 0x<base>, mac <mac>`, then (with usable bootargs)
//!     `netprobe: partition <name>, role <role>, mac <mac>` (the MAC from the device's configuration space);
//!   - another device: `net: virtio-mmio at 0x<base>: <type>, not a network device`;
//!   - a transport virtio-drivers cannot use: `net: virtio-mmio at 0x<base>: <error>`; a network device it cannot
//!     initialise: `net: virtio-net at 0x<base>: <error>`;
//! - `net: no virtio-net device` when there was none;
//! - `ping`:
//!   - `netprobe: peer <mac>` (`netprobe: peer <mac> (from bootargs)` with `peer=`), or `netprobe: no peer` (then
//!     nothing is sent);
//!   - on trouble only: `netprobe: ping frame <seq> (<len> bytes) timed out, resending (try <t> of 4)`,
//!     `netprobe: ping frame <seq> (<len> bytes) lost after 4 tries`, `netprobe: ping stops after 3 lost frames
//!     in a row`, and for an echo that came back different, `netprobe: ping frame <seq> (<len> bytes) <k> bytes
//!     differ, first at <offset>: got 0x<g>, expected 0x<e>` or `... came back with <got> bytes instead of <len>`;
//!   - `netprobe: ping <e>/<n> echoed, <m> mismatches, <bytes> bytes`: of the `n` frames asked for (`frames=`),
//!     `e` came back (`m` of them different), `bytes` is the total length of those that came back intact; so a
//!     clean run of 100 frames prints `ping 100/100 echoed, 0 mismatches, <bytes> bytes`;
//!   - `netprobe: ping rtt min <a> mean <b> max <c> ticks (<f> Hz)`: round trips of the intact echoes in virtual
//!     counter ticks (of the last try), when there was one;
//! - `pong` (forever): `netprobe: pong hello from <mac>, answered` the first time a sender's hello is answered (for
//!   8 senders), `netprobe: pong answered <n> frames` (`n` frames echoed, hello answers not counted) at each 100th
//!   echo and once a second when the count changed since the last line;
//! - `watch` (forever): `netprobe: watch saw <b> broadcast, <u> unicast` once a second (`b`: frames to a group
//!   address, broadcast or multicast; `u`: to an individual one, whoever it is);
//! - `uplink`: `netprobe: uplink arp reply from <mac>` or `netprobe: uplink no arp reply`;
//! - `flood` (forever): `netprobe: flood sent <n> frames` once a second;
//! - a port failing: `net: virtio-net at 0x<base>: send failed: <error>` or `... receive failed: <error>` (the port
//!   is then left alone);
//! - `netprobe: done` (not after `pong`, `watch` or `flood`), then WFI forever (or SYSTEM_OFF with `done=off`).
//!
//! [`config`], [`frame`], [`echo`] and [`stats`] are pure and unit-tested on the host; `guest_rt::virtio_hal` holds
//! the DMA pool virtio-drivers allocates its rings from; [`port`] the device's buffers and polling.
//!
//! Natively, QEMU's virtio-mmio transports are legacy (version 1, 10-byte `virtio_net_hdr`) unless
//! `-global virtio-mmio.force-legacy=false` gives version 2 (12-byte header, as hv-static serves), e.g.:
//!
//! ```sh
//! qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a57 -m 256M -nographic -kernel netprobe.bin \
//!     -global virtio-mmio.force-legacy=false -netdev user,id=n0 -device virtio-net-device,netdev=n0 \
//!     -append "role=uplink"
//! ```
//!
//! `ping`, `pong` and `watch` also run natively, each in its own QEMU, on a QEMU socket network: with
//! `-netdev socket,id=n0,mcast=230.0.0.1:40600,localaddr=127.0.0.1` (and a distinct `mac=` per
//! `-device virtio-net-device,netdev=n0,...`) all of them share a hub, where unlike hv-static's switch `watch`
//! sees the unicast frames too and `ping` its own frames (which it ignores).
//!
//! [`VirtIONetRaw`]: virtio_drivers::device::net::VirtIONetRaw
#![cfg_attr(target_os = "none", no_std, no_main)]

mod config;
mod echo;
mod frame;
mod guest;
mod port;
mod stats;

#[cfg(not(target_os = "none"))]
fn main() {
    println!("guest-netprobe is a bare-metal guest: build it with --target aarch64-unknown-none or armv7a-none-eabi");
}
