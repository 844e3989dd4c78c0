//! Eight doubles as one value, in explicit vector registers where the CPU has them.
//!
//! The worst-scenario scan needs a lane-wise minimum and an equality bitmask: LLVM
//! vectorises the minimum from plain arrays, but not the bitmask, which it assembles lane
//! by lane. Every operation here is exact (a comparison, a select, an IEEE addition), so
//! each implementation returns the bits of [`Portable`].

/// Eight doubles and the operations the worst-scenario scan needs on them.
pub(crate) trait Lanes: Copy {
    fn load(x: &[f64; 8]) -> Self;
    fn splat(x: f64) -> Self;
    fn add(self, other: Self) -> Self;
    /// Lane-wise `if self < other { self } else { other }`.
    fn min(self, other: Self) -> Self;
    /// Bit `l` set where lane `l` of `self` equals lane `l` of `other`.
    fn eq_mask(self, other: Self) -> u32;
    /// The smallest lane (either zero when the smallest are `+0.0` and `-0.0`).
    fn low(self) -> f64;
}

/// Plain arrays: what the build target guarantees.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Portable([f64; 8]);

impl Lanes for Portable {
    #[inline(always)]
    fn load(x: &[f64; 8]) -> Self {
        Self(*x)
    }

    #[inline(always)]
    fn splat(x: f64) -> Self {
        Self([x; 8])
    }

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        Self(std::array::from_fn(|l| self.0[l] + other.0[l]))
    }

    #[inline(always)]
    fn min(self, other: Self) -> Self {
        Self(std::array::from_fn(|l| lower(self.0[l], other.0[l])))
    }

    #[inline(always)]
    fn eq_mask(self, other: Self) -> u32 {
        (0..8).fold(0, |m, l| m | (u32::from(self.0[l] == other.0[l]) << l))
    }

    #[inline(always)]
    fn low(self) -> f64 {
        self.0[1..].iter().fold(self.0[0], |m, &x| lower(x, m))
    }
}

/// `if a < b { a } else { b }`, the minimum every implementation takes.
#[inline(always)]
fn lower(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::Avx2;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256d, _CMP_EQ_OQ, _mm256_add_pd, _mm256_cmp_pd, _mm256_loadu_pd, _mm256_min_pd,
        _mm256_movemask_pd, _mm256_set1_pd, _mm256_storeu_pd,
    };

    use super::{Lanes, lower};

    /// Two AVX2 registers.
    ///
    /// Only the AVX2 and AVX-512 copies of a generic `multiversion!` function use this type,
    /// and those copies run only after the CPU reported AVX2 (`Isa::available`): that is
    /// what makes the intrinsics below sound to call. Everything is `#[inline(always)]`, so
    /// the intrinsics are compiled into those copies rather than called out of line.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Avx2([__m256d; 2]);

    impl Lanes for Avx2 {
        #[inline(always)]
        fn load(x: &[f64; 8]) -> Self {
            // SAFETY: AVX2 is present (see the type); both loads read 4 of `x`'s 8 doubles.
            unsafe {
                Self([
                    _mm256_loadu_pd(x.as_ptr()),
                    _mm256_loadu_pd(x[4..].as_ptr()),
                ])
            }
        }

        #[inline(always)]
        fn splat(x: f64) -> Self {
            // SAFETY: AVX2 is present (see the type).
            let v = unsafe { _mm256_set1_pd(x) };
            Self([v, v])
        }

        #[inline(always)]
        fn add(self, other: Self) -> Self {
            // SAFETY: AVX2 is present (see the type).
            unsafe {
                Self([
                    _mm256_add_pd(self.0[0], other.0[0]),
                    _mm256_add_pd(self.0[1], other.0[1]),
                ])
            }
        }

        #[inline(always)]
        fn min(self, other: Self) -> Self {
            // SAFETY: AVX2 is present (see the type). `vminpd a, b` is `a < b ? a : b`.
            unsafe {
                Self([
                    _mm256_min_pd(self.0[0], other.0[0]),
                    _mm256_min_pd(self.0[1], other.0[1]),
                ])
            }
        }

        #[inline(always)]
        fn eq_mask(self, other: Self) -> u32 {
            // SAFETY: AVX2 is present (see the type).
            unsafe {
                let lo = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(self.0[0], other.0[0]));
                let hi = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(self.0[1], other.0[1]));
                (lo | (hi << 4)) as u32
            }
        }

        #[inline(always)]
        fn low(self) -> f64 {
            let mut x = [0.0; 8];
            // SAFETY: AVX2 is present (see the type); both stores write 4 of `x`'s 8.
            unsafe {
                let m = _mm256_min_pd(self.0[0], self.0[1]);
                _mm256_storeu_pd(x.as_mut_ptr(), m);
            }
            lower(lower(x[0], x[1]), lower(x[2], x[3]))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::isa::{Isa, multiversion};

    multiversion! {
        fn ops<V>(a: &[f64; 8], b: &[f64; 8]) -> (f64, f64, u32, u32) {
            let (x, y) = (V::load(a), V::load(b));
            let m = x.min(y);
            let s = x.add(y);
            (m.low(), s.low(), x.eq_mask(y), m.eq_mask(V::splat(m.low())))
        }
    }

    #[test]
    fn every_implementation_agrees_with_the_arrays() {
        let a = [3.0, -1.0, 0.0, -0.0, 7.5, -1.0, 2.0, 1e300];
        let b = [3.0, 4.0, -0.0, 0.0, -8.0, -1.0, 2.5, 1e299];
        let want = ops(Isa::Portable, &a, &b);
        assert_eq!(want.0, -8.0);
        assert_eq!(want.1, -2.0);
        assert_eq!(want.2, 0b0010_1101, "equal lanes, -0.0 == 0.0 included");
        assert_eq!(want.3, 1 << 4);
        for isa in Isa::ALL {
            let got = ops(isa, &a, &b);
            assert_eq!(
                (got.0.to_bits(), got.1.to_bits(), got.2, got.3),
                (want.0.to_bits(), want.1.to_bits(), want.2, want.3),
                "{isa:?}"
            );
        }
    }
}
