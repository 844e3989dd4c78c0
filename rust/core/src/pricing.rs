//! Black-76 on the forward (docs/margin-model.md §2.1).

use rayon::prelude::*;

use crate::bounds;
use crate::error::{ErrorKind, InputError, Result, check_each, finite, finite_positive, same_len};
use std::mem::MaybeUninit;

use crate::parallel::chunk_groups;

/// Price and sensitivities of one option; conventions in docs/margin-model.md §2.1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Greeks {
    pub price: f64,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
}

use crate::fastmath::{exp, exp_normal, ln};
use crate::isa::{Isa, multiversion};
use crate::normal::{INV_SQRT_2PI, Z_MAX, scaled_mills};
pub use crate::normal::{norm_cdf, norm_pdf};

/// Black-76 for validated inputs (`f, k, t, vol > 0`, all finite).
// Always inlined: the batch kernel vectorises it across options, and per-option callers
// save the call and the Greeks return through memory.
#[inline(always)]
pub fn black76(is_call: bool, f: f64, k: f64, t: f64, vol: f64, rate: f64) -> Greeks {
    greeks(is_call, f, k, vol, rate, front(f, k, t, vol, rate))
}

/// What [`black76`] computes before the normal tails. The batch kernel runs this stage
/// and [`greeks`] as two loops over a block: each option's chain of dependent divisions,
/// logarithm, exponential and table lookups is too long for one loop iteration to
/// overlap with the next, and two shorter loops keep the vector units busy.
#[derive(Clone, Copy)]
struct Front {
    disc: f64,
    sqrt_t: f64,
    sd: f64,
    inv_sd: f64,
    d1: f64,
}

#[inline(always)]
fn front(f: f64, k: f64, t: f64, vol: f64, rate: f64) -> Front {
    // |r t| <= 100 within the inputs' bounds.
    let disc = exp_normal(-rate * t);
    let sqrt_t = t.sqrt();
    let sd = vol * sqrt_t;
    let inv_sd = 1.0 / sd;
    let d1 = ln(f / k) * inv_sd + 0.5 * sd;
    Front {
        disc,
        sqrt_t,
        sd,
        inv_sd,
        d1,
    }
}

/// The rest of [`black76`] after [`front`].
#[inline(always)]
fn greeks(is_call: bool, f: f64, k: f64, vol: f64, rate: f64, front: Front) -> Greeks {
    let Front {
        disc,
        sqrt_t,
        sd,
        inv_sd,
        d1,
    } = front;
    // Here rather than in `front`, whose loop the divider already bounds.
    let inv_f = 1.0 / f;
    let d2 = d1 - sd;
    // F n(d1) = K n(d2), so one exp gives both densities: g = that common value times
    // sqrt(2 pi). It is taken at the d nearer zero, which belongs to min(F, K), so g cannot
    // overflow and no branch on moneyness is needed (n is even: only |d| matters).
    // Unlike norm_cdf, d^2 is left rounded: its relative error ~ d^2 ulp is the conditioning
    // of the price in d anyway, and the exact square would cost ~1.7 ns per option.
    let z = min(d1.abs(), d2.abs()).min(Z_MAX);
    let g = exp((-0.5 * z) * z) * min(f, k);
    // F (1 - N(|d1|)) and K (1 - N(|d2|)). These feed a put and the far side directly,
    // so no tail is ever formed as 1 - N.
    let f_tail1 = g * scaled_mills(d1.abs().min(Z_MAX));
    let k_tail2 = g * scaled_mills(d2.abs().min(Z_MAX));
    // Arithmetic rather than a branch: is_call is unpredictable in a mixed book.
    let sign = 2.0 * f64::from(u8::from(is_call)) - 1.0;
    let x1 = sign * d1;
    let x2 = sign * d2;
    // F N(x1), K N(x2) with x = +-d for a call/put.
    let f_n1 = if x1 < 0.0 { f_tail1 } else { f - f_tail1 };
    let k_n2 = if x2 < 0.0 { k_tail2 } else { k - k_tail2 };
    let sign_disc = sign * disc;
    let price = sign_disc * (f_n1 - k_n2);
    let delta = sign_disc * (f_n1 * inv_f);
    let disc_f_pdf1 = disc * INV_SQRT_2PI * g;
    let gamma = disc_f_pdf1 * inv_f * inv_f * inv_sd;
    let vega = disc_f_pdf1 * sqrt_t;
    // vol / (2 sqrt(t)) = vol^2 / (2 sd): a multiply by the reciprocal already at hand.
    let theta = rate * price - disc_f_pdf1 * (0.5 * vol * vol * inv_sd);
    Greeks {
        price,
        delta,
        gamma,
        vega,
        theta,
    }
}

/// `f64::min` without its NaN handling, which compiles to a branch-free `minsd`; the
/// arguments here are never NaN.
#[inline]
fn min(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// One input column of a batch: either one value per option or a single broadcast value.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a, T> {
    pub name: &'static str,
    pub values: &'a [T],
}

/// The five output rows of a batch, in order.
pub const OUTPUTS: [&str; 5] = ["price", "delta", "gamma", "vega", "theta"];

/// Black-76 over columns of length `n` or 1 (broadcast), validated, in parallel; returns
/// the five rows price, delta, gamma, vega, theta.
pub fn black76_batch(
    is_call: Column<'_, bool>,
    f: Column<'_, f64>,
    k: Column<'_, f64>,
    t: Column<'_, f64>,
    vol: Column<'_, f64>,
    rate: Column<'_, f64>,
) -> Result<Vec<Vec<f64>>> {
    let floats = [f, k, t, vol, rate];
    let n = broadcast_len(&floats, is_call)?;
    // The outputs are written once, by the parallel pass, into uninitialised memory: a
    // zeroing pass first would be a serial write of 40 MB per million options.
    let mut out: Vec<Vec<f64>> = (0..5).map(|_| Vec::with_capacity(n)).collect();
    let spare = out.iter_mut().map(|row| &mut row.spare_capacity_mut()[..n]);
    let all_valid = price_batch(spare, is_call, floats);
    for row in &mut out {
        // SAFETY: `chunk_groups` splits 0..n into chunks, `price_rows` hands every block of
        // its chunk to `price_block`, and that writes every index of its block.
        unsafe { row.set_len(n) };
    }
    check_batch(
        all_valid,
        floats,
        [0, 1, 2, 3, 4].map(|r| out[r].as_slice()),
    )?;
    Ok(out)
}

/// [`black76_batch`] into the caller's five rows (price, delta, gamma, vega, theta), each
/// of the broadcast length; nothing is allocated. On an input error the rows hold
/// unspecified values.
pub fn black76_batch_into(
    is_call: Column<'_, bool>,
    f: Column<'_, f64>,
    k: Column<'_, f64>,
    t: Column<'_, f64>,
    vol: Column<'_, f64>,
    rate: Column<'_, f64>,
    out: [&mut [f64]; 5],
) -> Result<()> {
    let floats = [f, k, t, vol, rate];
    let n = broadcast_len(&floats, is_call)?;
    for (name, row) in OUTPUTS.iter().zip(&out) {
        same_len(name, row.len(), n, "the broadcast inputs")?;
    }
    let mut out = out;
    let rows = out.each_mut().map(|row| {
        // SAFETY: `MaybeUninit<f64>` has the layout of `f64`, and the kernel only ever
        // writes initialised doubles through it, so the caller's row stays initialised.
        unsafe { &mut *(&mut **row as *mut [f64] as *mut [MaybeUninit<f64>]) }
    });
    let all_valid = price_batch(rows, is_call, floats);
    check_batch(all_valid, floats, out.each_ref().map(|row| &**row))
}

/// The length `n` of a batch whose columns each hold `n` values or one (broadcast): the
/// longest column's; a column of any other length is an error naming it.
pub(crate) fn broadcast_len(
    floats: &[Column<'_, f64>],
    is_call: Column<'_, bool>,
) -> Result<usize> {
    let n = floats
        .iter()
        .map(|c| c.values.len())
        .chain([is_call.values.len()])
        .max()
        .unwrap_or(0);
    for c in floats {
        if c.values.len() != n && c.values.len() != 1 {
            same_len(c.name, c.values.len(), n, "the longest input")?;
        }
    }
    if is_call.values.len() != n && is_call.values.len() != 1 {
        same_len(is_call.name, is_call.values.len(), n, "the longest input")?;
    }
    Ok(n)
}

/// Prices every option into `rows` (five of the batch's length) in parallel chunks;
/// false when any input is invalid. Validity is checked inside the pricing pass (one read
/// of the inputs instead of six).
fn price_batch<'a>(
    rows: impl IntoIterator<Item = &'a mut [MaybeUninit<f64>]>,
    is_call: Column<'_, bool>,
    floats: [Column<'_, f64>; 5],
) -> bool {
    let isa = Isa::best();
    chunk_groups(rows, BATCH_CHUNK)
        .into_par_iter()
        .enumerate()
        .map(|(c, rows)| price_rows(isa, c * BATCH_CHUNK, rows, is_call, floats))
        .reduce(|| true, |a, b| a & b)
}

/// Only when something is wrong do the sequential checks run, to name the first offending
/// field and index.
fn check_batch(all_valid: bool, floats: [Column<'_, f64>; 5], out: [&[f64]; 5]) -> Result<()> {
    if all_valid {
        return Ok(());
    }
    let [f, k, t, vol, rate] = floats;
    finite_positive(f.name, f.values)?;
    finite_positive(k.name, k.values)?;
    finite_positive(vol.name, vol.values)?;
    finite(t.name, t.values)?;
    check_each(
        t.name,
        t.values,
        ErrorKind::Expired,
        "time to expiry must be > 0",
        |x| x <= 0.0,
    )?;
    finite(rate.name, rate.values)?;
    check_bounds(f, k, t, vol, rate)?;
    // Inputs in bounds: the kernel's flag was an output that is not finite.
    for (name, row) in OUTPUTS.iter().zip(out) {
        if let Some(i) = row.iter().position(|x| !x.is_finite()) {
            return Err(InputError::at(
                ErrorKind::NonFiniteResult,
                name,
                i,
                "is not finite for finite inputs within their bounds",
            ));
        }
    }
    Ok(())
}

/// The inputs' documented bounds (`crate::bounds`), checked once something failed the
/// kernel's test, to name the first offending field and index.
fn check_bounds(
    f: Column<'_, f64>,
    k: Column<'_, f64>,
    t: Column<'_, f64>,
    vol: Column<'_, f64>,
    rate: Column<'_, f64>,
) -> Result<()> {
    bounds::within(f.name, f.values, bounds::MIN_PRICE, bounds::MAX_PRICE)?;
    bounds::within(k.name, k.values, bounds::MIN_PRICE, bounds::MAX_PRICE)?;
    bounds::within(t.name, t.values, bounds::MIN_EXPIRY, bounds::MAX_EXPIRY)?;
    bounds::within(vol.name, vol.values, bounds::MIN_VOL, bounds::MAX_VOL)?;
    bounds::magnitude(rate.name, rate.values, bounds::MAX_RATE)
}

/// `lo <= x <= hi` (false for NaN): one test for "finite, positive and in bounds".
#[inline(always)]
fn within(x: f64, lo: f64, hi: f64) -> bool {
    x >= lo && x <= hi
}

const BATCH_CHUNK: usize = 8192;

/// Options per kernel call: a broadcast column is expanded to this length once per task,
/// so the kernel only ever sees contiguous inputs of one length.
const BLOCK: usize = 512;

/// One input column as the kernel reads it, block by block.
struct Input<'a, T> {
    values: &'a [T],
    /// The broadcast value repeated `BLOCK` times; empty for a full-length column.
    fill: Vec<T>,
}

impl<'a, T: Copy> Input<'a, T> {
    fn new(col: Column<'a, T>) -> Self {
        let fill = match col.values {
            [v] => vec![*v; BLOCK],
            _ => Vec::new(),
        };
        Self {
            values: col.values,
            fill,
        }
    }

    fn block(&self, lo: usize, hi: usize) -> &[T] {
        if self.fill.is_empty() {
            &self.values[lo..hi]
        } else {
            &self.fill[..hi - lo]
        }
    }
}

/// Prices options `start..start + len` into the five output rows (each of length `len`);
/// false when any input is invalid.
fn price_rows(
    isa: Isa,
    start: usize,
    rows: Vec<&mut [MaybeUninit<f64>]>,
    is_call: Column<'_, bool>,
    floats: [Column<'_, f64>; 5],
) -> bool {
    let calls = Input::new(is_call);
    let inputs = floats.map(Input::new);
    let [p, d, g, v, th]: [&mut [MaybeUninit<f64>]; 5] = match rows.try_into() {
        Ok(rows) => rows,
        Err(_) => unreachable!("black76_batch allocates exactly five output rows"),
    };
    let len = p.len();
    let mut valid = true;
    let mut out = [p, d, g, v, th].map(|row| row.chunks_mut(BLOCK));
    let mut scratch = [(); 5].map(|_| vec![0.0; BLOCK]);
    for lo in (0..len).step_by(BLOCK) {
        let hi = (lo + BLOCK).min(len);
        let (a, b) = (start + lo, start + hi);
        let x = [0, 1, 2, 3, 4].map(|c| inputs[c].block(a, b));
        let y = [0, 1, 2, 3, 4].map(|c| out[c].next().unwrap_or_default());
        let s = scratch.each_mut().map(|row| row.as_mut_slice());
        valid &= price_block(isa, calls.block(a, b), x, y, s);
    }
    valid
}

multiversion! {
    /// Prices `is_call.len()` options from equal-length inputs (forward, strike, t, vol,
    /// rate) into the outputs (price, delta, gamma, vega, theta); false when any input is
    /// invalid. `black76` is branch-free, so each copy runs several options per
    /// instruction and produces the same bits as the scalar function. `scratch` holds
    /// [`Front`] between the two passes, five rows of at least `is_call.len()`.
    fn price_block(
        is_call: &[bool],
        x: [&[f64]; 5],
        out: [&mut [MaybeUninit<f64>]; 5],
        scratch: [&mut [f64]; 5],
    ) -> bool {
        // Re-slicing every column to one length lets the compiler drop the bounds checks,
        // which would otherwise keep the loop scalar.
        let n = is_call.len();
        let [f, k, t, vol, rate] = x;
        let (f, k, t, vol, rate) = (&f[..n], &k[..n], &t[..n], &vol[..n], &rate[..n]);
        let [p, d, g, v, th] = out;
        let (p, d, g, v, th) = (
            &mut p[..n],
            &mut d[..n],
            &mut g[..n],
            &mut v[..n],
            &mut th[..n],
        );
        let mut rows = FrontRows::new(scratch, n);
        let mut valid = true;
        for j in 0..n {
            valid &= within(f[j], bounds::MIN_PRICE, bounds::MAX_PRICE)
                & within(k[j], bounds::MIN_PRICE, bounds::MAX_PRICE)
                & within(t[j], bounds::MIN_EXPIRY, bounds::MAX_EXPIRY)
                & within(vol[j], bounds::MIN_VOL, bounds::MAX_VOL)
                & within(rate[j], -bounds::MAX_RATE, bounds::MAX_RATE);
            rows.set(j, front(f[j], k[j], t[j], vol[j], rate[j]));
        }
        for j in 0..n {
            let r = greeks(is_call[j], f[j], k[j], vol[j], rate[j], rows.get(j));
            // The outputs' finiteness rides on the same flag, tested on their sum: a NaN or
            // infinity in any makes it non-finite, and within the input bounds every output
            // is below 1e70, so a non-finite sum means a non-finite output (`check_batch`
            // then names it).
            valid &= (r.price + r.delta + r.gamma + r.vega + r.theta).is_finite();
            p[j].write(r.price);
            d[j].write(r.delta);
            g[j].write(r.gamma);
            v[j].write(r.vega);
            th[j].write(r.theta);
        }
        valid
    }
}

multiversion! {
    /// Black-76 prices of options that differ only in forward and vol (one instrument's
    /// scenarios in a risk array): `out[j] = black76(is_call, f[j], k, t, vol[j], rate).price`,
    /// to the bit, several options per instruction.
    pub fn black76_prices(
        is_call: bool,
        f: &[f64],
        k: f64,
        t: f64,
        vol: &[f64],
        rate: f64,
        out: &mut [f64],
    ) {
        let n = out.len();
        let (f, vol) = (&f[..n], &vol[..n]);
        // In two passes per chunk, as `price_block`.
        let mut scratch = [[0.0; PRICES_CHUNK]; 5];
        for lo in (0..n).step_by(PRICES_CHUNK) {
            let m = (n - lo).min(PRICES_CHUNK);
            let (f, vol, out) = (&f[lo..lo + m], &vol[lo..lo + m], &mut out[lo..lo + m]);
            let mut rows = FrontRows::new(scratch.each_mut().map(|r| r.as_mut_slice()), m);
            for j in 0..m {
                rows.set(j, front(f[j], k, t, vol[j], rate));
            }
            for j in 0..m {
                out[j] = greeks(is_call, f[j], k, vol[j], rate, rows.get(j)).price;
            }
        }
    }
}

/// Options per pass of [`black76_prices`]: its scratch stays on the stack.
const PRICES_CHUNK: usize = 64;

/// Scratch rows of one length holding a [`Front`] per option between a kernel's passes.
struct FrontRows<'a> {
    disc: &'a mut [f64],
    sqrt_t: &'a mut [f64],
    sd: &'a mut [f64],
    inv_sd: &'a mut [f64],
    d1: &'a mut [f64],
}

impl<'a> FrontRows<'a> {
    /// The first `n` entries of five rows. Cut to one known length, the rows' indexing
    /// needs no bounds checks in the kernels' loops, which then vectorise.
    #[inline(always)]
    fn new(rows: [&'a mut [f64]; 5], n: usize) -> Self {
        let [disc, sqrt_t, sd, inv_sd, d1] = rows;
        Self {
            disc: &mut disc[..n],
            sqrt_t: &mut sqrt_t[..n],
            sd: &mut sd[..n],
            inv_sd: &mut inv_sd[..n],
            d1: &mut d1[..n],
        }
    }

    #[inline(always)]
    fn set(&mut self, j: usize, x: Front) {
        self.disc[j] = x.disc;
        self.sqrt_t[j] = x.sqrt_t;
        self.sd[j] = x.sd;
        self.inv_sd[j] = x.inv_sd;
        self.d1[j] = x.d1;
    }

    #[inline(always)]
    fn get(&self, j: usize) -> Front {
        Front {
            disc: self.disc[j],
            sqrt_t: self.sqrt_t[j],
            sd: self.sd[j],
            inv_sd: self.inv_sd[j],
            d1: self.d1[j],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_call_parity() {
        let (f, k, t, v, r) = (105.0, 100.0, 0.7, 0.4, 0.03);
        let c = black76(true, f, k, t, v, r);
        let p = black76(false, f, k, t, v, r);
        let parity = (-r * t).exp() * (f - k);
        assert!((c.price - p.price - parity).abs() < 1e-12);
        assert!((c.delta - p.delta - (-r * t).exp()).abs() < 1e-14);
        assert_eq!(c.gamma, p.gamma);
        assert_eq!(c.vega, p.vega);
    }

    #[test]
    fn haug_reference_value() {
        // Haug's Black-Scholes example: S=60, K=65, r=8%, T=0.25, vol=30% -> 2.1334.
        // Black-76 on the forward F = S e^{rT} reproduces it.
        let (s, k, t, v, r): (f64, f64, f64, f64, f64) = (60.0, 65.0, 0.25, 0.30, 0.08);
        let g = black76(true, s * (r * t).exp(), k, t, v, r);
        assert!((g.price - 2.1334).abs() < 5e-5, "{}", g.price);
    }

    #[test]
    fn greeks_match_finite_differences() {
        let (f, k, t, v, r) = (3000.0, 3200.0, 0.3, 0.65, 0.02);
        let h = 1e-3;
        for call in [true, false] {
            let g = black76(call, f, k, t, v, r);
            let p = |f: f64, t: f64, v: f64| black76(call, f, k, t, v, r).price;
            let d = (p(f + h, t, v) - p(f - h, t, v)) / (2.0 * h);
            // A wider step for the second difference: with h = 1e-3 one ulp of the price
            // (~2e-13 here) is already ~1e-6 of gamma; truncation at 0.5 is ~1e-12.
            let hg = 0.5;
            let gm = (p(f + hg, t, v) - 2.0 * g.price + p(f - hg, t, v)) / (hg * hg);
            let vg = (p(f, t, v + 1e-6) - p(f, t, v - 1e-6)) / 2e-6;
            let th = -(p(f, t + 1e-6, v) - p(f, t - 1e-6, v)) / 2e-6;
            assert!((d - g.delta).abs() < 1e-7, "delta {d} {}", g.delta);
            assert!((gm - g.gamma).abs() < 1e-6, "gamma {gm} {}", g.gamma);
            assert!((vg - g.vega).abs() < 1e-4, "vega {vg} {}", g.vega);
            assert!((th - g.theta).abs() < 1e-4, "theta {th} {}", g.theta);
        }
    }

    /// Every copy of the kernel this CPU can run agrees with the scalar function to the
    /// bit: no result depends on which instruction set computed it.
    #[test]
    fn kernels_match_the_scalar_function_bit_for_bit() {
        let n = 1003; // not a multiple of any vector width
        let mut u = uniform(7);
        let mut cols: [Vec<f64>; 5] = Default::default();
        let mut calls = Vec::new();
        for _ in 0..n {
            let f = 10f64.powf(6.0 * u() - 1.0);
            calls.push(u() < 0.5);
            cols[0].push(f);
            cols[1].push(f * 10f64.powf(2.0 * u() - 1.0));
            cols[2].push(1e-4 + 5.0 * u());
            cols[3].push(0.01 + 3.0 * u());
            cols[4].push(0.2 * u() - 0.05);
        }
        for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
            let mut out: [Vec<MaybeUninit<f64>>; 5] =
                std::array::from_fn(|_| vec![MaybeUninit::new(f64::NAN); n]);
            let [p, d, g, v, th] = &mut out;
            let x = [0, 1, 2, 3, 4].map(|c| cols[c].as_slice());
            let mut scratch = [(); 5].map(|_| vec![0.0; n]);
            let s = scratch.each_mut().map(|row| row.as_mut_slice());
            assert!(price_block(isa, &calls, x, [p, d, g, v, th], s));
            for i in 0..n {
                let want = black76(
                    calls[i], cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i],
                );
                let want = [want.price, want.delta, want.gamma, want.vega, want.theta];
                for (row, w) in out.iter().zip(want) {
                    // SAFETY: every element was initialised (to NaN) when allocated.
                    let got = unsafe { row[i].assume_init() };
                    assert_eq!(got.to_bits(), w.to_bits(), "{isa:?} option {i}");
                }
            }
        }
    }

    /// Reproducible uniform doubles in [0, 1).
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (s >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// The risk arrays' kernel too: every copy, on rows spanning several of its chunks.
    #[test]
    fn prices_kernel_matches_the_scalar_function_bit_for_bit() {
        let n = 203;
        let mut u = uniform(11);
        for case in 0..8 {
            let f: Vec<f64> = (0..n).map(|_| 10f64.powf(4.0 * u() - 1.0)).collect();
            let vol: Vec<f64> = (0..n).map(|_| 10f64.powf(3.0 * u() - 2.0)).collect();
            let (k, t, r) = (
                10f64.powf(4.0 * u() - 1.0),
                1e-3 + 3.0 * u(),
                0.2 * u() - 0.1,
            );
            let call = case % 2 == 0;
            for isa in Isa::ALL.into_iter().filter(|isa| isa.available()) {
                let mut out = vec![f64::NAN; n];
                black76_prices(isa, call, &f, k, t, &vol, r, &mut out);
                for (i, got) in out.iter().enumerate() {
                    let want = black76(call, f[i], k, t, vol[i], r).price;
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{isa:?} case {case} option {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn cdf_tails() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-16);
        // N(-10) = 7.6198530241605e-24 (tabulated); relative accuracy survives the tail.
        assert!((norm_cdf(-10.0) / 7.619_853_024_160_527e-24 - 1.0).abs() < 1e-12);
    }
}

#[cfg(test)]
mod invalid_input_tests {
    use super::*;

    /// Pricing runs before the batch reports bad input, so it must not panic on any value.
    #[test]
    fn black76_never_panics_on_bad_values() {
        let bad = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            -1.0,
            -1e308,
            1e-320,
            1e308,
        ];
        for &x in &bad {
            for &y in &[1.0, x] {
                for call in [true, false] {
                    let _ = black76(call, x, y, y, y, x);
                    let _ = black76(call, y, x, y, x, 0.0);
                    let _ = black76(call, 1.0, 1.0, x, y, 0.0);
                }
            }
            let _ = norm_cdf(x);
            let _ = norm_pdf(x);
        }
    }

    /// Every corner of the input bounds prices to finite outputs, and the values the
    /// fuzzer found giving NaN or inf are refused naming the field.
    #[test]
    fn bounds_keep_every_output_finite() {
        use crate::bounds::*;
        let prices = [MIN_PRICE, 1.0, MAX_PRICE];
        for call in [true, false] {
            for &f in &prices {
                for &k in &prices {
                    for t in [MIN_EXPIRY, MAX_EXPIRY] {
                        for vol in [MIN_VOL, MAX_VOL] {
                            for r in [-MAX_RATE, 0.0, MAX_RATE] {
                                let g = black76(call, f, k, t, vol, r);
                                let all = [g.price, g.delta, g.gamma, g.vega, g.theta];
                                assert!(
                                    all.iter().all(|x| x.is_finite()),
                                    "{call} {f} {k} {t} {vol} {r}: {g:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
        let one = |call: bool, f: f64, k: f64, t: f64, v: f64, r: f64| {
            let (call, f, k, t, v, r) = ([call], [f], [k], [t], [v], [r]);
            black76_batch(
                Column {
                    name: "is_call",
                    values: &call,
                },
                Column {
                    name: "forward",
                    values: &f,
                },
                Column {
                    name: "strike",
                    values: &k,
                },
                Column {
                    name: "t",
                    values: &t,
                },
                Column {
                    name: "vol",
                    values: &v,
                },
                Column {
                    name: "rate",
                    values: &r,
                },
            )
            .map(|_| ())
            .unwrap_err()
        };
        for (err, field) in [
            (one(true, 5e-324, 39138.5, 0.35, 0.66, 0.0), "forward"),
            (one(false, 59847.8, 38599.1, 5e-324, 0.44, 0.0), "t"),
            (one(false, 59847.8, 38599.1, 0.5, 1e300, 0.0), "vol"),
            (one(false, 59847.8, 38599.1, 0.5, 0.44, -800.0), "rate"),
            (one(true, 1.7e308, 1.0, 0.5, 0.44, 0.0), "forward"),
            (one(true, 1.0, 1.0, 1e300, 0.44, 0.0), "t"),
        ] {
            assert_eq!(
                (err.kind, err.field.as_str(), err.index),
                (ErrorKind::Parameter, field, Some(0))
            );
        }
    }

    #[test]
    fn an_output_that_is_not_finite_is_named_with_its_row_and_index() {
        // Inputs within their bounds never give such an output (the corner test); the
        // check behind the kernel's flag is exercised on doctored rows.
        let col = |name, values| Column { name, values };
        let x = [1.0, 1.0];
        let floats = [
            col("forward", &x[..]),
            col("strike", &x[..]),
            col("t", &x[..]),
            col("vol", &[0.5][..]),
            col("rate", &[0.0][..]),
        ];
        let ok = [0.0; 2];
        let bad = [0.0, f64::INFINITY];
        let e = check_batch(false, floats, [&ok, &ok, &bad, &ok, &ok]).unwrap_err();
        assert_eq!(
            (e.kind, e.field.as_str(), e.index),
            (ErrorKind::NonFiniteResult, "gamma", Some(1))
        );
        assert!(check_batch(true, floats, [&ok, &ok, &bad, &ok, &ok]).is_ok());
    }

    #[test]
    fn batch_into_caller_rows_matches_the_allocating_batch() {
        let n = 20_003; // several parallel chunks and a ragged last block
        let f: Vec<f64> = (0..n).map(|i| 50.0 + (i % 997) as f64 * 0.1).collect();
        let k: Vec<f64> = (0..n).map(|i| 60.0 + (i % 613) as f64 * 0.07).collect();
        let calls: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        let col = |name, values| Column { name, values };
        let cols = || {
            (
                Column {
                    name: "is_call",
                    values: &calls[..],
                },
                col("forward", &f[..]),
                col("strike", &k[..]),
                col("t", &[0.4][..]),
                col("vol", &[0.55][..]),
                col("rate", &[0.03][..]),
            )
        };
        let (c, a, b, t, v, r) = cols();
        let want = black76_batch(c, a, b, t, v, r).unwrap();
        let mut rows: [Vec<f64>; 5] = std::array::from_fn(|_| vec![f64::NAN; n]);
        let (c, a, b, t, v, r) = cols();
        let [p, d, g, ve, th] = &mut rows;
        black76_batch_into(c, a, b, t, v, r, [p, d, g, ve, th]).unwrap();
        for (got, want) in rows.iter().zip(&want) {
            assert!(
                got.iter()
                    .zip(want)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            );
        }
        let mut short = vec![0.0; n - 1];
        let [p, d, g, ve, _] = &mut rows;
        let (c, a, b, t, v, r) = cols();
        let err = black76_batch_into(c, a, b, t, v, r, [p, d, g, ve, &mut short]).unwrap_err();
        assert_eq!((err.kind, err.field.as_str()), (ErrorKind::Shape, "theta"));
    }

    #[test]
    fn batch_names_the_first_bad_field_and_index() {
        let ones = [1.0; 4];
        let bad_t = [1.0, 1.0, -0.5, 1.0];
        let col = |name, values| Column { name, values };
        let err = black76_batch(
            Column {
                name: "is_call",
                values: &[true],
            },
            col("forward", &ones),
            col("strike", &ones),
            col("t", &bad_t),
            col("vol", &ones),
            col("rate", &[0.0]),
        )
        .unwrap_err();
        assert_eq!(
            (err.kind, err.field.as_str(), err.index),
            (ErrorKind::Expired, "t", Some(2))
        );
    }
}
