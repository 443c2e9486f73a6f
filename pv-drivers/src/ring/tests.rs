//! Unit tests: the byte layout docs/channel-ring.md promises, each error, and two threads sharing a ring.

use std::sync::atomic::{AtomicU32, Ordering};
use std::vec::Vec;

use super::test_memory::WordMemory;
use super::*;

/// The smallest channel: data areas of 64 bytes, messages of up to 28.
const SMALL: usize = 256;

fn pair(mem: &WordMemory) -> (Sender<&WordMemory>, Receiver<&WordMemory>) {
    (Sender::new(mem, 0).unwrap(), Receiver::new(mem, 1).unwrap())
}

fn recv(r: &mut Receiver<&WordMemory>) -> Option<Vec<u8>> {
    let mut buf = [0; 64];
    r.try_recv(&mut buf).unwrap().map(|n| buf[..n].to_vec())
}

fn bytes(mem: &WordMemory, at: usize, len: usize) -> Vec<u8> {
    let mut b = vec![0; len];
    mem.read(at, &mut b).unwrap();
    b
}

fn word(mem: &WordMemory, at: usize) -> u32 {
    u32::from_le_bytes(bytes(mem, at, 4).try_into().unwrap())
}

#[test]
fn the_bytes_are_those_the_abi_documents() {
    let mem = WordMemory::new(SMALL);
    let (mut tx, mut rx) = pair(&mem);
    // Both halves claimed: magic "HVRG", then version and capacity.
    for half in [0, 128] {
        assert_eq!(bytes(&mem, half, 16), [b'H', b'V', b'R', b'G', 0, 0, 0, 0, 1, 0, 0, 0, 64, 0, 0, 0]);
    }
    tx.try_send(b"hey").unwrap();
    assert_eq!(word(&mem, slot::PRODUCED), 8, "4 bytes of length, 3 of payload, 1 of padding");
    assert_eq!(bytes(&mem, HEADER_SIZE, 8), [3, 0, 0, 0, b'h', b'e', b'y', 0]);
    assert_eq!(recv(&mut rx).as_deref(), Some(&b"hey"[..]));
    assert_eq!(word(&mem, 128 + slot::CONSUMED), 8, "member 1 publishes in its own half");
    assert_eq!(word(&mem, slot::CONSUMED), 0);
    assert_eq!(mem.violations(), 0);
}

#[test]
fn both_directions_are_independent_fifos() {
    let mem = WordMemory::new(4096);
    let (mut a_tx, mut a_rx) = (Sender::new(&mem, 0).unwrap(), Receiver::new(&mem, 0).unwrap());
    let (mut b_tx, mut b_rx) = (Sender::new(&mem, 1).unwrap(), Receiver::new(&mem, 1).unwrap());
    a_tx.try_send(b"one").unwrap();
    a_tx.try_send(b"").unwrap();
    b_tx.try_send(b"back").unwrap();
    assert_eq!(recv(&mut b_rx).as_deref(), Some(&b"one"[..]));
    assert_eq!(recv(&mut b_rx).as_deref(), Some(&b""[..]), "empty messages exist");
    assert_eq!(recv(&mut b_rx), None);
    assert_eq!(recv(&mut a_rx).as_deref(), Some(&b"back"[..]));
    assert_eq!(recv(&mut a_rx), None);
}

#[test]
fn a_record_that_does_not_fit_before_the_end_goes_to_the_start_behind_a_wrap_marker() {
    let mem = WordMemory::new(SMALL);
    let (mut tx, mut rx) = pair(&mem);
    for _ in 0..2 {
        tx.try_send(&[7; 20]).unwrap(); // 24 bytes each: data offsets 0 and 24
        assert!(recv(&mut rx).is_some());
    }
    // 16 bytes remain before the end: a 20-byte record goes to the start.
    tx.try_send(&[9; 16]).unwrap();
    assert_eq!(word(&mem, HEADER_SIZE + 48), WRAP);
    assert_eq!(word(&mem, HEADER_SIZE), 16);
    assert_eq!(word(&mem, slot::PRODUCED), 48 + 16 + 20);
    assert_eq!(recv(&mut rx), Some(vec![9; 16]));
    assert_eq!(recv(&mut rx), None);
    assert_eq!(word(&mem, 128 + slot::CONSUMED), 84);
}

#[test]
fn full_too_large_and_short_buffers_leave_the_ring_as_it_was() {
    let mem = WordMemory::new(SMALL);
    let (mut tx, mut rx) = pair(&mem);
    assert_eq!(tx.max_message(), 28);
    assert_eq!(tx.try_send(&[0; 29]), Err(Error::TooLarge { len: 29, max: 28 }));
    tx.try_send(&[1; 28]).unwrap();
    tx.try_send(&[2; 28]).unwrap();
    assert_eq!(tx.try_send(&[]), Err(Error::Full), "64 of 64 bytes used");
    assert_eq!(rx.try_recv(&mut [0; 27]), Err(Error::BufferTooSmall { needed: 28 }));
    assert_eq!(recv(&mut rx), Some(vec![1; 28]), "still there after the short buffer");
    tx.try_send(&[3; 12]).unwrap();
    assert_eq!(recv(&mut rx), Some(vec![2; 28]));
    assert_eq!(recv(&mut rx), Some(vec![3; 12]));
}

#[test]
fn the_ring_lives_in_shared_memory_alone() {
    let mem = WordMemory::new(SMALL);
    Sender::new(&mem, 0).unwrap().try_send(b"first process").unwrap();
    Sender::new(&mem, 0).unwrap().try_send(b"second").unwrap();
    assert_eq!(recv(&mut Receiver::new(&mem, 1).unwrap()).as_deref(), Some(&b"first process"[..]));
    assert_eq!(recv(&mut Receiver::new(&mem, 1).unwrap()).as_deref(), Some(&b"second"[..]));
}

#[test]
fn an_unclaimed_peer_half_is_an_empty_ring() {
    let mem = WordMemory::new(SMALL);
    let mut rx = Receiver::new(&mem, 1).unwrap();
    assert_eq!(recv(&mut rx), None);
    assert_eq!(word(&mem, 0), 0, "the receiver claims only its own half");
    // The sender needs nothing from the receiver's half but its (zero) consumer index.
    let mut tx = Sender::new(&mem, 0).unwrap();
    tx.try_send(b"x").unwrap();
    assert_eq!(recv(&mut rx).as_deref(), Some(&b"x"[..]));
}

#[test]
fn layout_errors() {
    let mem = WordMemory::new(SMALL - 8);
    assert_eq!(Sender::new(&mem, 0).err(), Some(Error::Layout(LayoutError::TooSmall { size: 248, min: 256 })));
    let mem = WordMemory::new(SMALL);
    assert_eq!(Receiver::new(&mem, 2).err(), Some(Error::Layout(LayoutError::NotAMember { member: 2 })));
}

/// A claimed pair with one message in flight from member 0 to member 1, then `corrupt` applied.
type Outcome<T> = Result<T, Error<OutOfRange>>;

fn corrupted(corrupt: impl Fn(&WordMemory)) -> (Outcome<Option<usize>>, Outcome<()>) {
    let mem = WordMemory::new(SMALL);
    let (mut tx, mut rx) = pair(&mem);
    tx.try_send(b"abcd").unwrap();
    corrupt(&mem);
    let got = (rx.try_recv(&mut [0; 64]), tx.try_send(b"more"));
    assert_eq!(mem.violations(), 0);
    got
}

fn put(mem: &WordMemory, at: usize, value: u32) {
    mem.write(at, &value.to_le_bytes()).unwrap();
}

#[test]
fn each_corruption_is_named() {
    fn c<T>(e: Corruption) -> Outcome<T> {
        Err(Error::Corrupt(e))
    }
    assert_eq!(corrupted(|m| put(m, 0, 0xdead_beef)).0, c(Corruption::Magic { half: 0, found: 0xdead_beef }));
    assert_eq!(corrupted(|m| put(m, 8, 2)).0, c(Corruption::Version { half: 0, found: 2 }));
    assert_eq!(corrupted(|m| put(m, 12, 60)).0, c(Corruption::Capacity { half: 0, found: 60, expected: 64 }));
    let (r, s) = corrupted(|m| put(m, slot::PRODUCED, 6));
    let bad = Corruption::Index { half: 0, field: Field::Produced, value: 6 };
    assert_eq!((r, s), (c(bad), c(bad)));
    let (r, s) = corrupted(|m| put(m, 128 + slot::CONSUMED, 128));
    let bad = Corruption::Index { half: 1, field: Field::Consumed, value: 128 };
    assert_eq!((r, s), (c(bad), c(bad)));
    let (r, s) = corrupted(|m| put(m, 128 + slot::CONSUMED, 68));
    let bad = Corruption::Indices { produced: 8, consumed: 68 };
    assert_eq!((r, s), (c(bad), c(bad)), "the producer 68 bytes ahead of the consumer, in a 64-byte ring");
    assert_eq!(corrupted(|m| put(m, HEADER_SIZE, 5)).0, c(Corruption::Length { at: 0, len: 5 }), "past the index");
    assert_eq!(corrupted(|m| put(m, HEADER_SIZE, 29)).0, c(Corruption::Length { at: 0, len: 29 }));
    assert_eq!(corrupted(|m| put(m, HEADER_SIZE, WRAP)).0, c(Corruption::Wrap { at: 0 }));
    // The sender only checks the indices: what it wrote in its data area is its own business.
    assert_eq!(corrupted(|m| put(m, HEADER_SIZE, 5)).1, Ok(()));
}

#[test]
fn a_wrap_marker_covering_all_that_was_published_is_corrupt() {
    let mem = WordMemory::new(SMALL);
    let (mut tx, mut rx) = pair(&mem);
    tx.try_send(&[0; 20]).unwrap();
    assert!(recv(&mut rx).is_some());
    put(&mem, HEADER_SIZE + 24, WRAP);
    put(&mem, slot::PRODUCED, 64); // publishes only the skipped tail
    assert_eq!(rx.try_recv(&mut [0; 64]), Err(Error::Corrupt(Corruption::Wrap { at: 24 })));
}

#[test]
fn reset_recovers_a_corrupt_half() {
    let mem = WordMemory::new(SMALL);
    put(&mem, 128, 0x1234);
    assert!(matches!(Sender::new(&mem, 1), Err(Error::Corrupt(Corruption::Magic { half: 1, .. }))));
    reset(&mem, 1).unwrap();
    Sender::new(&mem, 1).unwrap().try_send(b"ok").unwrap();
    let mut buf = [0; 8];
    assert_eq!(Receiver::new(&mem, 0).unwrap().try_recv(&mut buf), Ok(Some(2)));
}

#[test]
fn mapped_memory_carries_a_ring() {
    let mut backing = vec![0u32; SMALL / 4];
    // SAFETY: `backing` is 4-aligned, SMALL bytes, and only reached through `mem` while it lives.
    let mem = unsafe { MappedMemory::new(backing.as_mut_ptr().cast(), SMALL) };
    Sender::new(&mem, 1).unwrap().try_send(b"bare metal").unwrap();
    let mut buf = [0; 16];
    let n = Receiver::new(&mem, 0).unwrap().try_recv(&mut buf).unwrap();
    assert_eq!(n.map(|n| &buf[..n]), Some(&b"bare metal"[..]));
}

/// A message whose length and bytes follow from its sequence number.
fn message(seq: u32, max: usize) -> Vec<u8> {
    let len = (seq as usize * 7) % (max + 1);
    (0..len).map(|k| (seq as usize + k * 31) as u8).collect()
}

#[test]
fn two_threads_pass_many_messages_in_order() {
    const COUNT: u32 = 20_000;
    let mem = WordMemory::new(1024);
    let (mut tx, mut rx) = pair(&mem);
    let max = tx.max_message();
    let received = AtomicU32::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut seq = 0;
            while seq < COUNT {
                match tx.try_send(&message(seq, max)) {
                    Ok(()) => seq += 1,
                    Err(Error::Full) => std::thread::yield_now(),
                    Err(e) => panic!("send {seq}: {e:?}"),
                }
            }
        });
        s.spawn(|| {
            let mut buf = vec![0; max];
            let mut seq = 0;
            while seq < COUNT {
                match rx.try_recv(&mut buf) {
                    Ok(Some(n)) => {
                        assert_eq!(buf[..n], message(seq, max), "message {seq}");
                        seq += 1;
                    }
                    Ok(None) => std::thread::yield_now(),
                    Err(e) => panic!("recv {seq}: {e:?}"),
                }
            }
            received.store(seq, Ordering::Relaxed);
        });
    });
    assert_eq!(received.load(Ordering::Relaxed), COUNT);
    assert_eq!(mem.violations(), 0);
}
