//! The root finder of the close-out search: the smallest fraction at which a concave
//! health function reaches zero, bracketed, to a fixed tolerance.

/// Root-search tolerance in units of a fraction: a search stops once its bracket is this
/// narrow and returns the end where health is met.
pub const FRACTION_TOLERANCE: f64 = 1e-12;
/// Upper bound on the rounds of one root search (each at least halves the bracket).
pub const MAX_ITERATIONS: usize = 200;

/// Search bracket `h(lo) < 0 <= h(hi)`, with the previous left end for a chord slope.
struct Bracket {
    lo: f64,
    h_lo: f64,
    left: Option<(f64, f64)>,
    hi: f64,
    h_hi: f64,
}

impl Bracket {
    /// Evaluates `t` (a NaN means the midpoint) kept half a tolerance inside the bracket, so
    /// a step that lands on an end still moves the other one; moves the end on its side and
    /// returns true when `h(t) >= 0`.
    #[inline(always)]
    fn probe(&mut self, h: &mut impl FnMut(f64) -> f64, t: f64) -> bool {
        let half = 0.5 * FRACTION_TOLERANCE;
        let t = if t.is_nan() {
            0.5 * (self.lo + self.hi)
        } else {
            t.max(self.lo + half).min(self.hi - half)
        };
        let v = h(t);
        if v >= 0.0 {
            (self.hi, self.h_hi) = (t, v);
            true
        } else {
            self.left = Some((self.lo, self.h_lo));
            (self.lo, self.h_lo) = (t, v);
            false
        }
    }

    #[inline(always)]
    fn width(&self) -> f64 {
        self.hi - self.lo
    }
}

/// Smallest `t` in `[lo, hi]` with `h(t) >= 0` for a concave `h` with `h(lo) < 0 <= h(hi)`,
/// to within `FRACTION_TOLERANCE`; the returned `t` always has `h(t) >= 0`.
///
/// Each round takes a Newton-like step from `lo` with the slope of the chord through the
/// last two left ends (by concavity at least `h'(lo)`, so it lands left of the root, and on
/// it when both ends lie on the root's linear piece), then a secant step between `lo` and
/// `hi` (the chord lies below `h`, so it lands right). A step that rounding puts on the
/// wrong side is numerically on the root and is followed by a probe half a tolerance to
/// the other side; a round that fails to halve the bracket ends with a bisection.
#[inline(always)]
pub fn smallest_root(mut h: impl FnMut(f64) -> f64, lo: (f64, f64), hi: (f64, f64)) -> f64 {
    let half = 0.5 * FRACTION_TOLERANCE;
    let mut b = Bracket {
        lo: lo.0,
        h_lo: lo.1,
        left: None,
        hi: hi.0,
        h_hi: hi.1,
    };
    for _ in 0..MAX_ITERATIONS {
        let width = b.width();
        if width <= FRACTION_TOLERANCE {
            break;
        }
        if let Some((p, h_p)) = b.left {
            let slope = (b.h_lo - h_p) / (b.lo - p);
            if slope > 0.0
                && b.probe(&mut h, b.lo - b.h_lo / slope)
                && b.width() > FRACTION_TOLERANCE
            {
                b.probe(&mut h, b.hi - half);
            }
        }
        if b.width() <= FRACTION_TOLERANCE {
            break;
        }
        let secant = b.lo - b.h_lo * (b.hi - b.lo) / (b.h_hi - b.h_lo);
        if !b.probe(&mut h, secant) && b.width() > FRACTION_TOLERANCE {
            b.probe(&mut h, b.lo + half);
        }
        if b.width() > 0.5 * width && b.width() > FRACTION_TOLERANCE {
            b.probe(&mut h, f64::NAN);
        }
    }
    b.hi
}
