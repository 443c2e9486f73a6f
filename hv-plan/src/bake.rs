//! Writing a plan value out as the Rust expression that rebuilds it (feature `bake`, used by the image builder).
//!
//! The builder hands hv-static its system as Rust source, compiled in, so that the hypervisor parses nothing at run
//! time. That source is no longer assembled with format strings: the builder builds a typed [`crate::plan`] value
//! and bakes it, and each plan struct's [`Bake`] impl is generated from the struct's own field list (see
//! `plan_struct!`), so a field added to the plan is written out without anyone remembering to, and a field the
//! builder forgets to fill is a compile error in the builder.
//!
//! Hand-written rather than `databake`: that crate emits token streams with typed literals (`1073741824u64`) on
//! one line, and the generated file is read by people chasing a layout question, so it should print addresses in
//! hex and break lines as rustfmt would. The printer is a few dozen lines of width-driven layout.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A value that can be written as a Rust expression of its own type.
pub trait Bake {
    fn bake(&self) -> Expr;
}

/// A Rust expression, kept as a tree until it is laid out in lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Printed as is: a literal or a unit variant path.
    Atom(String),
    /// `open items close`, items separated by commas: a struct literal (`Name {` .. `}`), a slice (`&[` .. `]`),
    /// a tuple or a call (`Some(` .. `)`).
    Group { open: String, items: Vec<Item>, close: &'static str, spaced: bool },
}

/// One element of a group: a struct field (`name: value`) or a positional value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub name: Option<&'static str>,
    pub value: Expr,
}

impl Expr {
    pub fn atom(s: impl Into<String>) -> Self {
        Expr::Atom(s.into())
    }

    /// `Name { field: value, .. }` (also an enum's struct variant, `Enum::Variant { .. }`).
    pub fn strukt(name: &str, fields: Vec<(&'static str, Expr)>) -> Self {
        Expr::Group {
            open: format!("{name} {{"),
            items: fields.into_iter().map(|(n, value)| Item { name: Some(n), value }).collect(),
            close: "}",
            spaced: true,
        }
    }

    /// `open a, b, c close` with positional items: `&[`..`]`, `(`..`)`, `Some(`..`)`.
    pub fn seq(open: &str, items: Vec<Expr>, close: &'static str) -> Self {
        Expr::Group {
            open: open.to_string(),
            items: items.into_iter().map(|value| Item { name: None, value }).collect(),
            close,
            spaced: false,
        }
    }

    /// The expression on one line.
    pub fn flat(&self) -> String {
        match self {
            Expr::Atom(s) => s.clone(),
            Expr::Group { open, items, close, spaced } => {
                let inner: Vec<String> = items.iter().map(Item::flat).collect();
                match (items.is_empty(), spaced) {
                    (true, _) => format!("{open}{close}"),
                    (false, true) => format!("{open} {} {close}", inner.join(", ")),
                    (false, false) => format!("{open}{}{close}", inner.join(", ")),
                }
            }
        }
    }

    /// Lays the expression out in lines of at most `width` columns where it can, starting at column `indent`
    /// (which the caller has already written) after `lead` columns of text on the same line: a group that fits
    /// stays on one line, otherwise it puts each item on its own line, one level deeper, with a trailing comma.
    pub fn render(&self, indent: usize, lead: usize, width: usize) -> String {
        let flat = self.flat();
        let Expr::Group { open, items, close, .. } = self else { return flat };
        if indent + lead + flat.len() <= width || items.is_empty() {
            return flat;
        }
        let inner = indent + 4;
        let mut out = format!("{open}\n");
        for item in items {
            let name = item.name.map(|n| format!("{n}: ")).unwrap_or_default();
            // The trailing comma is on the item's line too.
            let value = item.value.render(inner, name.len() + 1, width);
            out.push_str(&format!("{:inner$}{name}{value},\n", ""));
        }
        out.push_str(&format!("{:indent$}{close}", ""));
        out
    }
}

impl Item {
    fn flat(&self) -> String {
        match self.name {
            Some(n) => format!("{n}: {}", self.value.flat()),
            None => self.value.flat(),
        }
    }
}

/// `0x4000_0000`: hex digits in groups of four, as addresses and sizes are written everywhere in the project.
pub fn hex(v: u64) -> String {
    let digits = format!("{v:x}");
    let mut out = String::with_capacity(digits.len() + digits.len() / 4 + 2);
    out.push_str("0x");
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 4 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// Addresses, sizes, affinities and times: 64-bit values are written in hex.
impl Bake for u64 {
    fn bake(&self) -> Expr {
        Expr::atom(hex(*self))
    }
}

/// Bytes (a MAC address) in hex, as they are usually read.
impl Bake for u8 {
    fn bake(&self) -> Expr {
        Expr::atom(format!("{self:#04x}"))
    }
}

/// Indices, counts and interrupt numbers: decimal.
macro_rules! bake_decimal {
    ($($t:ty),*) => {$(
        impl Bake for $t {
            fn bake(&self) -> Expr {
                Expr::atom(self.to_string())
            }
        }
    )*};
}
bake_decimal!(u16, u32, usize, bool);

impl Bake for &str {
    fn bake(&self) -> Expr {
        Expr::atom(format!("{self:?}"))
    }
}

impl<T: Bake> Bake for Option<T> {
    fn bake(&self) -> Expr {
        match self {
            Some(v) => Expr::seq("Some(", alloc::vec![v.bake()], ")"),
            None => Expr::atom("None"),
        }
    }
}

impl<T: Bake> Bake for &[T] {
    fn bake(&self) -> Expr {
        Expr::seq("&[", self.iter().map(Bake::bake).collect(), "]")
    }
}

impl<T: Bake, const N: usize> Bake for [T; N] {
    fn bake(&self) -> Expr {
        Expr::seq("[", self.iter().map(Bake::bake).collect(), "]")
    }
}

impl<A: Bake, B: Bake> Bake for (A, B) {
    fn bake(&self) -> Expr {
        Expr::seq("(", alloc::vec![self.0.bake(), self.1.bake()], ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_groups_digits_by_four() {
        assert_eq!(hex(0), "0x0");
        assert_eq!(hex(0x1234), "0x1234");
        assert_eq!(hex(0x1_2345), "0x1_2345");
        assert_eq!(hex(0x4000_0000), "0x4000_0000");
        assert_eq!(hex(u64::MAX), "0xffff_ffff_ffff_ffff");
    }

    #[test]
    fn primitives_bake_to_literals_of_their_type() {
        assert_eq!(0x900_0000u64.bake().flat(), "0x900_0000");
        assert_eq!(33u32.bake().flat(), "33");
        assert_eq!(true.bake().flat(), "true");
        assert_eq!(0x52u8.bake().flat(), "0x52");
        assert_eq!("a \"b\"".bake().flat(), "\"a \\\"b\\\"\"");
        assert_eq!(Some((1usize, 0usize)).bake().flat(), "Some((1, 0))");
        assert_eq!(None::<u32>.bake().flat(), "None");
        assert_eq!((&[34u32, 39][..]).bake().flat(), "&[34, 39]");
        assert_eq!((&[] as &[u32]).bake().flat(), "&[]");
        assert_eq!([1u8, 2].bake().flat(), "[0x01, 0x02]");
    }

    #[test]
    fn a_group_that_fits_stays_on_one_line_and_one_that_does_not_breaks_with_trailing_commas() {
        let e =
            Expr::strukt("P", alloc::vec![("a", 1u32.bake()), ("b", Expr::seq("&[", alloc::vec![2u32.bake()], "]"))]);
        assert_eq!(e.render(0, 0, 120), "P { a: 1, b: &[2] }");
        assert_eq!(e.render(0, 0, 12), "P {\n    a: 1,\n    b: &[2],\n}");
        // Nested: the inner list breaks one level deeper when even its own line is too long.
        assert_eq!(e.render(0, 0, 6), "P {\n    a: 1,\n    b: &[\n        2,\n    ],\n}");
        assert_eq!(Expr::strukt("E", alloc::vec![]).flat(), "E {}");
    }
}
