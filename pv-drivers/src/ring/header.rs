//! The header slots of a half: reading and writing one, claiming one's own half, checking the peer's.

use super::error::{Corruption, Error, Field};
use super::layout::{slot, Layout, MAGIC, VERSION};
use super::memory::{Fence, Memory};

/// The `u32` in the low word of the 8-byte slot at `offset`, read as one access (see the [`Memory`] contract).
pub fn read_slot<M: Memory>(mem: &M, offset: usize) -> Result<(u32, u32), Error<M::Error>> {
    let mut b = [0; 8];
    mem.read(offset, &mut b).map_err(Error::Memory)?;
    Ok((u32::from_le_bytes([b[0], b[1], b[2], b[3]]), u32::from_le_bytes([b[4], b[5], b[6], b[7]])))
}

/// Writes `low` and `high` as the 8-byte slot at `offset`, in one access.
pub fn write_slot<M: Memory>(mem: &M, offset: usize, low: u32, high: u32) -> Result<(), Error<M::Error>> {
    let mut b = [0; 8];
    b[..4].copy_from_slice(&low.to_le_bytes());
    b[4..].copy_from_slice(&high.to_le_bytes());
    mem.write(offset, &b).map_err(Error::Memory)
}

/// An index of the half at `half` (of member `member`), checked.
pub fn read_index<M: Memory>(mem: &M, layout: &Layout, member: u32, field: Field) -> Result<u32, Error<M::Error>> {
    let offset = layout.half(member)
        + match field {
            Field::Produced => slot::PRODUCED,
            Field::Consumed => slot::CONSUMED,
        };
    let (value, _) = read_slot(mem, offset)?;
    if !layout.valid_index(value) {
        return Err(Corruption::Index { half: member, field, value }.into());
    }
    Ok(value)
}

/// Writes one of this member's own indices.
pub fn write_index<M: Memory>(mem: &M, layout: &Layout, field: Field, value: u32) -> Result<(), Error<M::Error>> {
    let offset = layout.own()
        + match field {
            Field::Produced => slot::PRODUCED,
            Field::Consumed => slot::CONSUMED,
        };
    write_slot(mem, offset, value, 0)
}

/// What a half's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfState {
    /// Magic 0: its member has not claimed it yet (the hypervisor zeroes channels at boot).
    Unclaimed,
    /// Claimed with this layout.
    Ready,
}

/// Checks the header of member `member`'s half against `layout`.
pub fn check_half<M: Memory>(mem: &M, layout: &Layout, member: u32) -> Result<HalfState, Error<M::Error>> {
    let base = layout.half(member);
    let (magic, _) = read_slot(mem, base + slot::MAGIC)?;
    match magic {
        0 => return Ok(HalfState::Unclaimed),
        MAGIC => {}
        found => return Err(Corruption::Magic { half: member, found }.into()),
    }
    // The layout slot was written before the magic, with a barrier between.
    mem.fence(Fence::Acquire);
    let (version, capacity) = read_slot(mem, base + slot::LAYOUT)?;
    if version != VERSION {
        return Err(Corruption::Version { half: member, found: version }.into());
    }
    if capacity != layout.capacity() {
        return Err(Corruption::Capacity { half: member, found: capacity, expected: layout.capacity() }.into());
    }
    Ok(HalfState::Ready)
}

/// Makes sure this member's half is claimed: writes the layout, then the magic, when it is not yet (a fresh
/// channel), and checks it when it is (this member claimed it before: an earlier process, or before a restart).
///
/// The indices are left as they are: zero in a fresh channel, and where they were in a claimed one, so that a
/// sender and a receiver of the same member may claim concurrently without either resetting what the other did.
pub fn claim<M: Memory>(mem: &M, layout: &Layout) -> Result<(), Error<M::Error>> {
    if check_half(mem, layout, layout.member())? == HalfState::Unclaimed {
        write_slot(mem, layout.own() + slot::LAYOUT, VERSION, layout.capacity())?;
        mem.fence(Fence::Release);
        write_slot(mem, layout.own() + slot::MAGIC, MAGIC, 0)?;
    }
    read_index(mem, layout, layout.member(), Field::Produced)?;
    read_index(mem, layout, layout.member(), Field::Consumed)?;
    Ok(())
}

/// Rewrites this member's whole header as a fresh one: both its indices 0, layout, then magic.
///
/// Only for recovering a corrupt half, and only when the other member is not using the channel: it forgets what
/// this member produced and had consumed.
pub fn reset<M: Memory>(mem: &M, layout: &Layout) -> Result<(), Error<M::Error>> {
    let own = layout.own();
    write_slot(mem, own + slot::MAGIC, 0, 0)?;
    mem.fence(Fence::Release);
    write_slot(mem, own + slot::PRODUCED, 0, 0)?;
    write_slot(mem, own + slot::CONSUMED, 0, 0)?;
    write_slot(mem, own + slot::LAYOUT, VERSION, layout.capacity())?;
    mem.fence(Fence::Release);
    write_slot(mem, own + slot::MAGIC, MAGIC, 0)
}
