//! The probes' random numbers: a 64-bit linear congruential generator (Knuth's MMIX constants), seeded from the
//! bootargs so that a run is reproducible from its config alone. Pure code, tested on the host.

#[derive(Clone, Copy, Debug)]
pub struct Lcg(u64);

impl Lcg {
    pub const fn new(seed: u64) -> Self {
        // Mixed once so that small seeds (1, 2, ...) do not start with small outputs.
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits (the high half of the state is the better half, so the halves are swapped).
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0.rotate_left(32)
    }

    /// A number below `n` (0 for `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((self.next() >> 32) * n) >> 32
        }
    }

    /// One of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A running digest of values (FNV-1a over their bytes), printed so that two runs can be compared.
#[derive(Clone, Copy, Debug)]
pub struct Digest(u64);

impl Digest {
    pub const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub fn add(&mut self, value: u64) {
        for b in value.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub const fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_other_seed_other_numbers() {
        let (mut a, mut b, mut c) = (Lcg::new(7), Lcg::new(7), Lcg::new(8));
        let xs: Vec<u64> = (0..100).map(|_| a.next()).collect();
        assert_eq!(xs, (0..100).map(|_| b.next()).collect::<Vec<_>>());
        assert_ne!(xs, (0..100).map(|_| c.next()).collect::<Vec<_>>());
    }

    #[test]
    fn below_stays_below_and_covers_the_range() {
        let mut r = Lcg::new(1);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let x = r.below(10);
            assert!(x < 10);
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn both_halves_vary() {
        let mut r = Lcg::new(0);
        let xs: Vec<u64> = (0..64).map(|_| r.next()).collect();
        assert!(xs.iter().any(|x| x >> 63 == 1) && xs.iter().any(|x| x & 1 == 1));
    }

    #[test]
    fn digest_depends_on_order() {
        let (mut a, mut b) = (Digest::new(), Digest::new());
        a.add(1);
        a.add(2);
        b.add(2);
        b.add(1);
        assert_ne!(a.value(), b.value());
    }
}
