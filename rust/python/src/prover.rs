//! The range prover's states as Python classes (`zkmargin_curve::prover`). Each step
//! consumes the object it is called on and returns the next state's object, so the
//! protocol order is the order in which the objects exist; calling a step on an object
//! already consumed is a `ParameterError` (`CurveError::OutOfOrder` naming the step). The
//! caller drives the transcript and passes each challenge as a 32-byte big-endian scalar.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use zkmargin_curve::{self as zc, CurveError};

use crate::args::size_in;
use crate::curve::{G1Point, G1Vec, heavy, scalar, scalars};
use crate::errors::{Named, Result};
use crate::threads::Threads;

/// One prover state, usable once. The lock only hands the state over to the one step
/// that consumes it (a second caller finds it gone); the step runs outside the lock.
struct Once<S> {
    state: Mutex<Option<S>>,
    /// work size of the proof's steps (decides whether they run on the pool)
    size: usize,
    threads: Option<Threads>,
}

impl<S: Send> Once<S> {
    fn new(state: S, size: usize, threads: Option<Threads>) -> Self {
        Once {
            state: Mutex::new(Some(state)),
            size,
            threads,
        }
    }

    fn next<T: Send>(&self, state: T) -> Once<T> {
        Once::new(state, self.size, self.threads)
    }

    /// Takes the state for `step`. A poisoned lock could only follow a panic while
    /// taking, which cannot happen; its content is used as is.
    fn take(&self, step: &'static str) -> Result<S> {
        let mut slot = self.state.lock().unwrap_or_else(|e| e.into_inner());
        slot.take()
            .ok_or(CurveError::OutOfOrder { step })
            .named(step)
    }

    /// Runs `f` on the state with the GIL released (on the pool for large proofs).
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        step: &'static str,
        f: impl FnOnce(S) -> zc::Result<T> + Send,
    ) -> Result<T> {
        let s = self.take(step)?;
        heavy(py, self.size, self.threads, || f(s))?.named(step)
    }
}

fn point(p: zc::G1Affine) -> G1Point {
    G1Point { p }
}

fn scalar_bytes<'py>(py: Python<'py>, s: &zc::Fr) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &zc::scalar_to_be(s))
}

/// A range proof before its first step; `commit()` starts it.
#[pyclass(frozen, module = "zkmargin._core.curve", name = "RangeProver")]
pub struct RangeProver(Once<zc::RangeProver>);

/// After `A`, `S`: `poly(y, z)` is next.
#[pyclass(frozen, module = "zkmargin._core.curve", name = "RangeCommitted")]
pub struct RangeCommitted(Once<zc::Committed>);

/// After `T1`, `T2`: `evaluate(x)` is next.
#[pyclass(frozen, module = "zkmargin._core.curve", name = "RangePolynomial")]
pub struct RangePolynomial(Once<zc::Polynomial>);

/// After `(t_hat, tau_x, mu)`: `ipa_begin(w)` is next.
#[pyclass(frozen, module = "zkmargin._core.curve", name = "RangeEvaluated")]
pub struct RangeEvaluated(Once<zc::Evaluated>);

/// An inner-product round to run: `round()` is next.
#[pyclass(frozen, module = "zkmargin._core.curve", name = "IpaRound")]
pub struct IpaRound(Once<zc::IpaRound>);

/// After a round's `L`, `R`: `fold(u)` is next.
#[pyclass(frozen, module = "zkmargin._core.curve", name = "IpaFold")]
pub struct IpaFold(Once<zc::IpaFold>);

/// The finished argument: `result()` gives the final scalars `(a, b)`.
#[pyclass(frozen, module = "zkmargin._core.curve", name = "IpaDone")]
pub struct IpaDone(zc::IpaDone);

/// The argument after `ipa_begin` or a fold, as the Python object of its state.
fn ipa<'py>(py: Python<'py>, from: &Once<impl Send>, next: zc::Ipa) -> PyResult<Bound<'py, PyAny>> {
    Ok(match next {
        zc::Ipa::Round(r) => Bound::new(py, IpaRound(from.next(r)))?.into_any(),
        zc::Ipa::Done(d) => Bound::new(py, IpaDone(d))?.into_any(),
    })
}

#[pymethods]
impl RangeProver {
    /// `values`, `gammas`: m concatenated scalars each; `randomness`: 2 n m + 4 scalars
    /// (alpha, s_L, s_R, rho, tau1, tau2).
    #[new]
    #[pyo3(signature = (g, h, g_base, h_base, values, gammas, n, randomness, threads=None))]
    #[allow(clippy::too_many_arguments)] // the protocol's inputs, each used once
    fn new(
        g: PyRef<'_, G1Vec>,
        h: PyRef<'_, G1Vec>,
        g_base: PyRef<'_, G1Point>,
        h_base: PyRef<'_, G1Point>,
        values: &[u8],
        gammas: &[u8],
        n: &Bound<'_, PyAny>,
        randomness: &[u8],
        threads: Option<Threads>,
    ) -> Result<Self> {
        let n = size_in("n", n, 1, 64)?;
        let p = zc::RangeProver::new(
            &g.v,
            &h.v,
            g_base.p,
            h_base.p,
            &scalars("values", values)?,
            &scalars("gammas", gammas)?,
            n,
            &scalars("randomness", randomness)?,
        )
        .named("range prover")?;
        Ok(RangeProver(Once::new(p, 8 * g.v.len(), threads)))
    }

    /// `(A, S, next state)`.
    fn commit(&self, py: Python<'_>) -> Result<(G1Point, G1Point, RangeCommitted)> {
        let ((a, s), next) = self.0.run(py, "commit", |p| p.commit())?;
        Ok((point(a), point(s), RangeCommitted(self.0.next(next))))
    }
}

#[pymethods]
impl RangeCommitted {
    /// `(T1, T2, next state)` for the challenges y, z.
    fn poly(
        &self,
        py: Python<'_>,
        y: &[u8],
        z: &[u8],
    ) -> Result<(G1Point, G1Point, RangePolynomial)> {
        let (y, z) = (scalar("y", y)?, scalar("z", z)?);
        let ((t1, t2), next) = self.0.run(py, "poly", |p| Ok(p.poly(y, z)))?;
        Ok((point(t1), point(t2), RangePolynomial(self.0.next(next))))
    }
}

/// `(t_hat, tau_x, mu)` as bytes and the next state.
type Evaluation<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
    RangeEvaluated,
);

#[pymethods]
impl RangePolynomial {
    /// `(t_hat, tau_x, mu, next state)` for the challenge x.
    fn evaluate<'py>(&self, py: Python<'py>, x: &[u8]) -> Result<Evaluation<'py>> {
        let x = scalar("x", x)?;
        let ((t, tau, mu), next) = self.0.run(py, "evaluate", |p| Ok(p.evaluate(x)))?;
        Ok((
            scalar_bytes(py, &t),
            scalar_bytes(py, &tau),
            scalar_bytes(py, &mu),
            RangeEvaluated(self.0.next(next)),
        ))
    }
}

#[pymethods]
impl RangeEvaluated {
    /// The inner-product argument for the challenge w: an `IpaRound`, or an `IpaDone`
    /// when the vectors already have length one.
    fn ipa_begin<'py>(&self, py: Python<'py>, w: &[u8]) -> Result<Bound<'py, PyAny>> {
        let w = scalar("w", w)?;
        let next = self.0.run(py, "ipa_begin", |p| p.ipa_begin(w))?;
        Ok(ipa(py, &self.0, next)?)
    }
}

#[pymethods]
impl IpaRound {
    /// `(L, R, next state)` of this round.
    fn round(&self, py: Python<'_>) -> Result<(G1Point, G1Point, IpaFold)> {
        let ((l, r), next) = self.0.run(py, "round", |p| p.round())?;
        Ok((point(l), point(r), IpaFold(self.0.next(next))))
    }
}

#[pymethods]
impl IpaFold {
    /// The folded argument for the challenge u: the next `IpaRound`, or an `IpaDone`.
    fn fold<'py>(&self, py: Python<'py>, u: &[u8]) -> Result<Bound<'py, PyAny>> {
        let u = scalar("u", u)?;
        let next = self.0.run(py, "fold", |p| p.fold(u))?;
        Ok(ipa(py, &self.0, next)?)
    }
}

#[pymethods]
impl IpaDone {
    /// The final `(a, b)`.
    fn result<'py>(&self, py: Python<'py>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let (a, b) = self.0.result();
        (scalar_bytes(py, &a), scalar_bytes(py, &b))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RangeProver>()?;
    m.add_class::<RangeCommitted>()?;
    m.add_class::<RangePolynomial>()?;
    m.add_class::<RangeEvaluated>()?;
    m.add_class::<IpaRound>()?;
    m.add_class::<IpaFold>()?;
    m.add_class::<IpaDone>()?;
    Ok(())
}
