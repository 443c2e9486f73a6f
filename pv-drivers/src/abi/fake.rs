//! A scripted [`Conduit`] for host tests: it records every call and answers from a function of the call, so the
//! wrappers' argument marshalling and result decoding are tested without a hypervisor.

use std::boxed::Box;
use std::cell::RefCell;
use std::vec::Vec;

use super::smccc::Conduit;

/// What a fake leaves in result registers a call does not define, so a wrapper that reads them shows up.
pub const JUNK: usize = 0xDEAD_BEEF;

type Answer = Box<dyn Fn(u32, [usize; 3]) -> [usize; 4]>;

pub struct Fake {
    /// Every call so far: function ID and arguments.
    pub calls: RefCell<Vec<(u32, [usize; 3])>>,
    answer: Answer,
}

impl Fake {
    /// Answers every call with `x0` = `ret` and [`JUNK`] in `x1`..`x3`.
    pub fn answering(ret: usize) -> Self {
        Self::with(move |_, _| [ret, JUNK, JUNK, JUNK])
    }

    /// Answers each call with `answer(function, args)`.
    pub fn with(answer: impl Fn(u32, [usize; 3]) -> [usize; 4] + 'static) -> Self {
        Self { calls: RefCell::new(Vec::new()), answer: Box::new(answer) }
    }
}

impl Conduit for Fake {
    fn call_regs(&self, function: u32, args: [usize; 3]) -> [usize; 4] {
        self.calls.borrow_mut().push((function, args));
        (self.answer)(function, args)
    }
}

/// How a hypervisor writes a negative status into a 64-bit `x0`.
pub fn neg(code: i32) -> usize {
    code as isize as usize
}
