//! Property tests: any interleaving of sends and receives is a FIFO of exactly the messages sent, and no
//! corruption of the shared bytes makes the ring panic, loop, reach outside the channel, or hand out a message
//! longer than the ring carries.

use std::collections::VecDeque;
use std::vec::Vec;

use proptest::prelude::*;

use super::test_memory::WordMemory;
use super::*;

#[derive(Clone, Debug)]
enum Op {
    /// Member `from` sends a message of these bytes (cut to the ring's maximum).
    Send { from: u32, msg: Vec<u8> },
    /// Member `to` receives one message.
    Recv { to: u32 },
}

fn op(max: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2u32, prop::collection::vec(any::<u8>(), 0..=max)).prop_map(|(from, msg)| Op::Send { from, msg }),
        (0..2u32).prop_map(|to| Op::Recv { to }),
    ]
}

/// Sizes from the smallest channel (64-byte rings, many wraps) to a few pages; odd sizes too.
fn channel_size() -> impl Strategy<Value = usize> {
    prop_oneof![Just(256usize), 256..1024usize, Just(8192usize)]
}

struct Members<'m> {
    tx: [Sender<&'m WordMemory>; 2],
    rx: [Receiver<&'m WordMemory>; 2],
}

impl<'m> Members<'m> {
    fn new(mem: &'m WordMemory) -> Self {
        let tx = [Sender::new(mem, 0).unwrap(), Sender::new(mem, 1).unwrap()];
        Self { tx, rx: [Receiver::new(mem, 0).unwrap(), Receiver::new(mem, 1).unwrap()] }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_is_a_fifo_each_way(size in channel_size(), ops in prop::collection::vec(op(600), 0..400)) {
        let mem = WordMemory::new(size);
        let mut m = Members::new(&mem);
        let max = m.tx[0].max_message();
        let mut model: [VecDeque<Vec<u8>>; 2] = [VecDeque::new(), VecDeque::new()];
        let mut buf = vec![0; max];
        for op in ops {
            match op {
                Op::Send { from, mut msg } => {
                    msg.truncate(msg.len() % (max + 1));
                    match m.tx[from as usize].try_send(&msg) {
                        Ok(()) => model[from as usize].push_back(msg),
                        // Any message up to the maximum fits an empty ring.
                        Err(Error::Full) => prop_assert!(!model[from as usize].is_empty()),
                        Err(e) => prop_assert!(false, "send: {e:?}"),
                    }
                }
                Op::Recv { to } => {
                    let got = m.rx[to as usize].try_recv(&mut buf).map(|n| n.map(|n| buf[..n].to_vec()));
                    prop_assert_eq!(got, Ok(model[1 - to as usize].pop_front()));
                }
            }
        }
        for to in 0..2 {
            while let Some(want) = model[1 - to].pop_front() {
                let got = m.rx[to].try_recv(&mut buf).map(|n| n.map(|n| buf[..n].to_vec()));
                prop_assert_eq!(got, Ok(Some(want)));
            }
            prop_assert_eq!(m.rx[to].try_recv(&mut buf), Ok(None));
        }
        prop_assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn corrupt_shared_bytes_yield_errors_not_garbage(
        size in channel_size(),
        before in prop::collection::vec(op(40), 0..60),
        pokes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24),
        header_pokes in prop::collection::vec((0..32usize, any::<u8>(), any::<bool>()), 0..8),
        after in prop::collection::vec(op(40), 1..60),
    ) {
        let mem = WordMemory::new(size);
        let mut m = Members::new(&mem);
        let max = m.tx[0].max_message();
        let run = |m: &mut Members, ops: &[Op]| -> Result<(), TestCaseError> {
            // One byte more than a message may have: a longer one would be written into it.
            let mut buf = vec![0; max + 1];
            for op in ops {
                match op {
                    Op::Send { from, msg } => {
                        let _ = m.tx[*from as usize].try_send(&msg[..msg.len().min(max)]);
                    }
                    Op::Recv { to } => {
                        if let Ok(Some(n)) = m.rx[*to as usize].try_recv(&mut buf) {
                            prop_assert!(n <= max, "a {n}-byte message from a ring of {max}");
                        }
                    }
                }
            }
            Ok(())
        };
        run(&mut m, &before)?;
        for (at, value) in pokes {
            mem.poke(at.index(size), value);
        }
        // Aim some at the header slots, where a byte decides the most.
        for (at, value, second_half) in header_pokes {
            mem.poke(at + if second_half { (size / 2) & !7 } else { 0 }, value);
        }
        run(&mut m, &after)?;
        // Members created on the corrupt memory fail or work, but never panic either.
        for member in 0..2 {
            if let Ok(mut rx) = Receiver::new(&mem, member) {
                let mut buf = vec![0; max + 1];
                if let Ok(Some(n)) = rx.try_recv(&mut buf) {
                    prop_assert!(n <= max);
                }
            }
        }
        prop_assert_eq!(mem.violations(), 0);
    }

    #[test]
    fn random_memory_never_panics(bytes in prop::collection::vec(any::<u8>(), 256..700), member in 0..3u32) {
        let mem = WordMemory::new(bytes.len());
        mem.write(0, &bytes).unwrap();
        if let Ok(mut rx) = Receiver::new(&mem, member) {
            let mut buf = vec![0; rx.max_message() + 1];
            for _ in 0..4 {
                if let Ok(Some(n)) = rx.try_recv(&mut buf) {
                    prop_assert!(n <= rx.max_message());
                }
            }
        }
        if let Ok(mut tx) = Sender::new(&mem, member) {
            let _ = tx.try_send(b"probe");
        }
        prop_assert_eq!(mem.violations(), 0);
    }
}
