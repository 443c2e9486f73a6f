//! Integer statistics over deviations in counter ticks. No floats: the guest targets include a soft-float one, and
//! a tenth of a tick is finer than any scheduler can be judged by, so means are fixed point with one decimal.

use core::fmt;

/// Count, extremes and sum of signed samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Samples {
    pub count: u64,
    pub min: i64,
    pub max: i64,
    pub sum: i64,
}

impl Samples {
    pub fn add(&mut self, sample: i64) {
        if self.count == 0 {
            self.min = sample;
            self.max = sample;
        } else {
            self.min = self.min.min(sample);
            self.max = self.max.max(sample);
        }
        self.count += 1;
        self.sum = self.sum.saturating_add(sample);
    }

    /// The mean, `None` without samples.
    pub fn mean(&self) -> Option<Tenths> {
        Tenths::ratio(i128::from(self.sum), i128::from(self.count))
    }

    /// `self`'s mean minus `earlier`'s, computed exactly before rounding; `None` when either has no samples.
    pub fn mean_minus(&self, earlier: &Samples) -> Option<Tenths> {
        let (a, b) = (i128::from(self.count), i128::from(earlier.count));
        // sum_a / a - sum_b / b = (sum_a * b - sum_b * a) / (a * b); in i128 nothing a guest can count overflows.
        let numerator = i128::from(self.sum) * b - i128::from(earlier.sum) * a;
        Tenths::ratio(numerator, a * b)
    }
}

/// A value in tenths, printed with one decimal (`-12.3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tenths(pub i64);

impl Tenths {
    /// `numerator / denominator` rounded to the nearest tenth (halves away from zero); `None` for a zero or
    /// negative denominator.
    pub fn ratio(numerator: i128, denominator: i128) -> Option<Self> {
        if denominator <= 0 {
            return None;
        }
        let scaled = numerator * 10;
        let half = denominator / 2;
        let rounded = if scaled >= 0 { (scaled + half) / denominator } else { (scaled - half) / denominator };
        Some(Self(i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })))
    }
}

impl fmt::Display for Tenths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{}", abs / 10, abs % 10)
    }
}

/// A value, or `n/a` when there is none (no samples to take a mean of).
pub struct OrNa<T>(pub Option<T>);

impl<T: fmt::Display> fmt::Display for OrNa<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str("n/a"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: &[i64]) -> Samples {
        let mut s = Samples::default();
        values.iter().for_each(|&v| s.add(v));
        s
    }

    #[test]
    fn extremes_and_mean() {
        let s = samples(&[5, -3, 10, 4]);
        assert_eq!((s.count, s.min, s.max, s.sum), (4, -3, 10, 16));
        assert_eq!(s.mean(), Some(Tenths(40)));
        assert_eq!(samples(&[1, 2]).mean(), Some(Tenths(15)));
        assert_eq!(samples(&[]).mean(), None);
        assert_eq!(samples(&[-7]).min, -7, "the first sample sets both extremes");
    }

    #[test]
    fn tenths_round_half_away_from_zero() {
        assert_eq!(Tenths::ratio(1, 3), Some(Tenths(3)));
        assert_eq!(Tenths::ratio(2, 3), Some(Tenths(7)));
        assert_eq!(Tenths::ratio(-2, 3), Some(Tenths(-7)));
        assert_eq!(Tenths::ratio(1, 20), Some(Tenths(1)), "0.05 rounds up");
        assert_eq!(Tenths::ratio(-1, 20), Some(Tenths(-1)));
        assert_eq!(Tenths::ratio(1, 0), None);
    }

    #[test]
    fn tenths_print_with_one_decimal() {
        assert_eq!(std::format!("{}", Tenths(123)), "12.3");
        assert_eq!(std::format!("{}", Tenths(-5)), "-0.5");
        assert_eq!(std::format!("{}", Tenths(0)), "0.0");
        assert_eq!(std::format!("{}", OrNa::<Tenths>(None)), "n/a");
        assert_eq!(std::format!("{}", OrNa(Some(7))), "7");
    }

    #[test]
    fn difference_of_means_is_exact() {
        // 1/3 and 2/3 would each round, to 0.3 and 0.7; the exact difference is 1/3.
        assert_eq!(samples(&[0, 1, 1]).mean_minus(&samples(&[0, 0, 1])), Some(Tenths(3)));
        assert_eq!(samples(&[10, 10]).mean_minus(&samples(&[10])), Some(Tenths(0)));
        assert_eq!(samples(&[10]).mean_minus(&samples(&[])), None);
    }
}
