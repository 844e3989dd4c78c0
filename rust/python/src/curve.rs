//! BN254 G1 for `zkmargin.proof`: opaque point and point-vector classes plus the heavy
//! operations (MSM, folds, generator derivation) with the GIL released on large inputs.
//! Scalars cross the boundary as 32-byte big-endian strings (concatenated for vectors), so
//! the Rust side never reduces silently: a scalar >= r is an `EncodingError`.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use zkmargin_curve::{self as zc, CurveError, G1Affine, G1Projective};

use crate::arrays::run_detached;

pyo3::import_exception!(zkmargin.errors, EncodingError);
pyo3::import_exception!(zkmargin.errors, ShapeError);
pyo3::import_exception!(zkmargin.errors, ParameterError);

fn curve_err(field: &str, e: CurveError) -> PyErr {
    let index = match &e {
        CurveError::ScalarNotCanonical { index } => Some(*index),
        _ => None,
    };
    match e {
        CurveError::Mismatch { .. } => {
            ShapeError::new_err((format!("{field}: {e}"), field.to_owned(), index))
        }
        CurveError::OutOfOrder { .. } | CurveError::ZeroChallenge => {
            ParameterError::new_err((format!("{field}: {e}"), field.to_owned(), index))
        }
        _ => EncodingError::new_err((format!("{field}: {e}"), field.to_owned(), index)),
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Run `f` inline for small jobs (below the core's own parallel threshold, so nothing in
/// them spawns work and the hand-off to a pool would dominate) and detached on a pool of
/// `threads` threads otherwise; `threads = 1` gets a one-thread pool, so that a caller's
/// setting is honoured even by work that would otherwise reach rayon's global pool.
fn heavy<T: Send>(
    py: Python<'_>,
    size: usize,
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let t = threads.unwrap_or_else(default_threads);
    if size < zc::PARALLEL_THRESHOLD / 8 {
        Ok(py.detach(f))
    } else {
        run_detached(py, t, f)
    }
}

/// A point of BN254 G1 (affine; the identity is allowed as a value).
#[pyclass(
    frozen,
    skip_from_py_object,
    module = "zkmargin._core",
    name = "G1Point"
)]
#[derive(Clone)]
pub struct G1Point {
    p: G1Affine,
}

fn to_affine(p: G1Projective) -> G1Affine {
    zc::to_affine(&p)
}

#[pymethods]
impl G1Point {
    /// The standard generator (1, 2).
    #[staticmethod]
    fn generator() -> Self {
        G1Point { p: zc::generator() }
    }

    #[staticmethod]
    fn identity() -> Self {
        G1Point { p: zc::identity() }
    }

    /// Decode the 64-byte EVM form (x || y, (0, 0) = identity), strictly.
    #[staticmethod]
    fn from_evm(data: &[u8]) -> PyResult<Self> {
        zc::point_from_evm(data)
            .map(|p| G1Point { p })
            .map_err(|e| curve_err("point", e))
    }

    /// Decode the 32-byte compressed form, strictly.
    #[staticmethod]
    fn from_compressed(data: &[u8]) -> PyResult<Self> {
        zc::point_from_compressed(data)
            .map(|p| G1Point { p })
            .map_err(|e| curve_err("point", e))
    }

    /// keccak256 try-and-increment; returns (point, counter used).
    #[staticmethod]
    fn hash_to_curve(label: &[u8]) -> (Self, u32) {
        let (p, c) = zc::hash_to_g1(label);
        (G1Point { p }, c)
    }

    fn to_evm<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &zc::point_to_evm(&self.p))
    }

    fn to_compressed<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &zc::point_to_compressed(&self.p))
    }

    fn is_identity(&self) -> bool {
        self.p == zc::identity()
    }

    fn __add__(&self, other: PyRef<'_, G1Point>) -> Self {
        G1Point {
            p: to_affine(G1Projective::from(self.p) + other.p),
        }
    }

    fn __sub__(&self, other: PyRef<'_, G1Point>) -> Self {
        G1Point {
            p: to_affine(G1Projective::from(self.p) - other.p),
        }
    }

    fn __neg__(&self) -> Self {
        G1Point { p: -self.p }
    }

    /// `s * P` for a 32-byte big-endian scalar s < r.
    fn mul(&self, scalar: &[u8]) -> PyResult<Self> {
        let s = zc::scalar_from_be(scalar).map_err(|e| curve_err("scalar", e))?;
        Ok(G1Point {
            p: to_affine(self.p * s),
        })
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<G1Point>() {
            Ok(o) => o.get().p == self.p,
            Err(_) => false,
        }
    }

    fn __hash__(&self) -> u64 {
        let c = zc::point_to_compressed(&self.p);
        u64::from_be_bytes(c[24..32].try_into().expect("8 bytes"))
    }

    fn __repr__(&self) -> String {
        let e = zc::point_to_evm(&self.p);
        let hex: String = e.iter().map(|b| format!("{b:02x}")).collect();
        format!("G1Point(0x{})", hex)
    }
}

/// An immutable vector of G1 points (generators, folded generators).
#[pyclass(frozen, skip_from_py_object, module = "zkmargin._core", name = "G1Vec")]
#[derive(Clone)]
pub struct G1Vec {
    v: Arc<Vec<G1Affine>>,
}

impl G1Vec {
    fn new(v: Vec<G1Affine>) -> Self {
        G1Vec { v: Arc::new(v) }
    }
}

#[pymethods]
impl G1Vec {
    #[staticmethod]
    fn from_points(points: Vec<PyRef<'_, G1Point>>) -> Self {
        G1Vec::new(points.iter().map(|p| p.p).collect())
    }

    #[staticmethod]
    fn concat(parts: Vec<PyRef<'_, G1Vec>>) -> Self {
        let mut out = Vec::with_capacity(parts.iter().map(|p| p.v.len()).sum());
        for p in &parts {
            out.extend_from_slice(&p.v);
        }
        G1Vec::new(out)
    }

    /// Decode concatenated 64-byte EVM points.
    #[staticmethod]
    fn from_evm_bytes(data: &[u8]) -> PyResult<Self> {
        if data.len() % 64 != 0 {
            return Err(EncodingError::new_err((
                format!("points: length {} is not a multiple of 64", data.len()),
                "points".to_owned(),
                None::<usize>,
            )));
        }
        let mut out = Vec::with_capacity(data.len() / 64);
        for (i, c) in data.chunks_exact(64).enumerate() {
            out.push(zc::point_from_evm(c).map_err(|e| curve_err(&format!("points[{i}]"), e))?);
        }
        Ok(G1Vec::new(out))
    }

    /// Generators with labels `prefix || u32_be(start + i)`, i < count (docs/proof-spec.md §4).
    #[staticmethod]
    #[pyo3(signature = (prefix, start, count, threads=None))]
    fn derive(
        py: Python<'_>,
        prefix: &[u8],
        start: u32,
        count: usize,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let v = heavy(py, count * 64, threads, || {
            zc::derive_generators(prefix, start, count)
        })?;
        Ok(G1Vec::new(v))
    }

    fn __len__(&self) -> usize {
        self.v.len()
    }

    fn get(&self, i: usize) -> PyResult<G1Point> {
        self.v.get(i).map(|p| G1Point { p: *p }).ok_or_else(|| {
            pyo3::exceptions::PyIndexError::new_err(format!("index {i} out of range"))
        })
    }

    fn slice(&self, start: usize, stop: usize) -> PyResult<Self> {
        if start > stop || stop > self.v.len() {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "slice {start}..{stop} out of range for length {}",
                self.v.len()
            )));
        }
        Ok(G1Vec::new(self.v[start..stop].to_vec()))
    }

    fn to_list(&self) -> Vec<G1Point> {
        self.v.iter().map(|p| G1Point { p: *p }).collect()
    }

    fn to_evm_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let mut out = Vec::with_capacity(64 * self.v.len());
        for p in self.v.iter() {
            out.extend_from_slice(&zc::point_to_evm(p));
        }
        PyBytes::new(py, &out)
    }
}

fn scalars(field: &str, b: &[u8]) -> PyResult<Vec<zc::Fr>> {
    zc::scalars_from_be(b).map_err(|e| curve_err(field, e))
}

/// `sum scalars_i * points_i` (Pippenger; multi-threaded above a size threshold, GIL released).
#[pyfunction]
#[pyo3(signature = (points, scalars_be, threads=None))]
fn g1_msm(
    py: Python<'_>,
    points: PyRef<'_, G1Vec>,
    scalars_be: &[u8],
    threads: Option<usize>,
) -> PyResult<G1Point> {
    let s = scalars("scalars", scalars_be)?;
    let v = Arc::clone(&points.v);
    let r = heavy(py, v.len() * 8, threads, move || zc::msm(&v, &s))?;
    r.map(|p| G1Point { p: to_affine(p) })
        .map_err(|e| curve_err("msm", e))
}

/// `out_i = a * lo_i + b * hi_i`.
#[pyfunction]
#[pyo3(signature = (lo, hi, a, b, threads=None))]
fn g1_fold(
    py: Python<'_>,
    lo: PyRef<'_, G1Vec>,
    hi: PyRef<'_, G1Vec>,
    a: &[u8],
    b: &[u8],
    threads: Option<usize>,
) -> PyResult<G1Vec> {
    let a = zc::scalar_from_be(a).map_err(|e| curve_err("a", e))?;
    let b = zc::scalar_from_be(b).map_err(|e| curve_err("b", e))?;
    let (l, h) = (Arc::clone(&lo.v), Arc::clone(&hi.v));
    // every element costs a scalar multiplication: even short folds are worth the pool
    let r = heavy(py, l.len() * zc::PARALLEL_THRESHOLD, threads, move || {
        zc::fold(&l, &h, a, b)
    })?;
    r.map(G1Vec::new).map_err(|e| curve_err("fold", e))
}

/// `out_i = wa_i * lo_i + wb_i * hi_i`.
#[pyfunction]
#[pyo3(signature = (lo, hi, wa, wb, threads=None))]
fn g1_fold_weighted(
    py: Python<'_>,
    lo: PyRef<'_, G1Vec>,
    hi: PyRef<'_, G1Vec>,
    wa: &[u8],
    wb: &[u8],
    threads: Option<usize>,
) -> PyResult<G1Vec> {
    let wa = scalars("wa", wa)?;
    let wb = scalars("wb", wb)?;
    let (l, h) = (Arc::clone(&lo.v), Arc::clone(&hi.v));
    let r = heavy(py, l.len(), threads, move || {
        zc::fold_weighted(&l, &h, &wa, &wb)
    })?;
    r.map(G1Vec::new).map_err(|e| curve_err("fold", e))
}

/// `out_i = w_i * p_i`.
#[pyfunction]
#[pyo3(signature = (points, w, threads=None))]
fn g1_scale(
    py: Python<'_>,
    points: PyRef<'_, G1Vec>,
    w: &[u8],
    threads: Option<usize>,
) -> PyResult<G1Vec> {
    let w = scalars("w", w)?;
    let v = Arc::clone(&points.v);
    let r = heavy(py, v.len(), threads, move || zc::scale(&v, &w))?;
    r.map(G1Vec::new).map_err(|e| curve_err("scale", e))
}

/// Weighted generator coefficients of many inner-product checks (see
/// `zkmargin_curve::ipa_generator_scalars`); each check is
/// `(n, m, y, z, a, b, u_1..u_k concatenated, weight)` with 32-byte big-endian scalars.
/// Returns the `len` g coefficients followed by the `len` h coefficients, as bytes.
#[pyfunction]
#[pyo3(signature = (checks, len, threads=None))]
#[allow(clippy::type_complexity)]
fn ipa_generator_scalars<'py>(
    py: Python<'py>,
    checks: Vec<(
        usize,
        usize,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
    )>,
    len: usize,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut parsed = Vec::with_capacity(checks.len());
    for (n, m, y, z, a, b, u, w) in &checks {
        let one = |f: &str, v: &[u8]| zc::scalar_from_be(v).map_err(|e| curve_err(f, e));
        parsed.push(zc::IpaCheck {
            n: *n,
            m: *m,
            y: one("y", y)?,
            z: one("z", z)?,
            a: one("a", a)?,
            b: one("b", b)?,
            u: scalars("u", u)?,
            weight: one("weight", w)?,
        });
    }
    let work = parsed.iter().map(|c| c.n * c.m).sum::<usize>();
    let r = heavy(py, work / 16, threads, move || {
        zc::ipa_generator_scalars(&parsed, len)
    })?;
    let (g, h) = r.map_err(|e| curve_err("ipa", e))?;
    let mut out = Vec::with_capacity(64 * len);
    for s in g.iter().chain(h.iter()) {
        out.extend_from_slice(&zc::scalar_to_be(s));
    }
    Ok(PyBytes::new(py, &out))
}

/// `sum scalars_i * points_i` with the scalars given as raw 32-byte big-endian strings
/// concatenated in several parts (avoids re-encoding scalars the core produced).
#[pyfunction]
#[pyo3(signature = (points, parts, threads=None))]
fn g1_msm_parts(
    py: Python<'_>,
    points: PyRef<'_, G1Vec>,
    parts: Vec<Vec<u8>>,
    threads: Option<usize>,
) -> PyResult<G1Point> {
    let joined: Vec<u8> = parts.concat();
    let s = scalars("scalars", &joined)?;
    let v = Arc::clone(&points.v);
    let r = heavy(py, v.len() * 8, threads, move || zc::msm(&v, &s))?;
    r.map(|p| G1Point { p: to_affine(p) })
        .map_err(|e| curve_err("msm", e))
}

/// Uniform scalars from the OS randomness: concatenated 64-byte chunks, each reduced mod r,
/// returned as concatenated 32-byte big-endian scalars.
#[pyfunction]
fn scalars_from_wide<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let s = zc::scalars_from_wide(data).map_err(|e| curve_err("randomness", e))?;
    let mut out = Vec::with_capacity(32 * s.len());
    for x in &s {
        out.extend_from_slice(&zc::scalar_to_be(x));
    }
    Ok(PyBytes::new(py, &out))
}

/// One aggregated range proof in progress (`zkmargin_curve::RangeProver`); the caller
/// drives the transcript and passes each challenge as a 32-byte big-endian scalar.
#[pyclass(frozen, module = "zkmargin._core", name = "RangeProver")]
pub struct RangeProver {
    inner: Mutex<zc::RangeProver>,
    size: usize,
    threads: Option<usize>,
}

fn scalar(field: &str, b: &[u8]) -> PyResult<zc::Fr> {
    zc::scalar_from_be(b).map_err(|e| curve_err(field, e))
}

fn scalar_bytes<'py>(py: Python<'py>, s: &zc::Fr) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &zc::scalar_to_be(s))
}

impl RangeProver {
    /// Run one step with the GIL released. A poisoned lock could only follow a panic, which
    /// no step raises on any input; its state is used as is rather than panicking again.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        what: &str,
        f: impl FnOnce(&mut zc::RangeProver) -> zc::Result<T> + Send,
    ) -> PyResult<T> {
        let r = heavy(py, self.size, self.threads, || {
            let mut p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut p)
        })?;
        r.map_err(|e| curve_err(what, e))
    }
}

#[pymethods]
impl RangeProver {
    /// `values`, `gammas`: m concatenated scalars each; `randomness`: 2 n m + 4 scalars
    /// (alpha, s_L, s_R, rho, tau1, tau2).
    #[new]
    #[pyo3(signature = (g, h, g_base, h_base, values, gammas, n, randomness, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        g: PyRef<'_, G1Vec>,
        h: PyRef<'_, G1Vec>,
        g_base: PyRef<'_, G1Point>,
        h_base: PyRef<'_, G1Point>,
        values: &[u8],
        gammas: &[u8],
        n: usize,
        randomness: &[u8],
        threads: Option<usize>,
    ) -> PyResult<Self> {
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
        .map_err(|e| curve_err("range prover", e))?;
        Ok(RangeProver {
            inner: Mutex::new(p),
            size: 8 * g.v.len(),
            threads,
        })
    }

    fn commit(&self, py: Python<'_>) -> PyResult<(G1Point, G1Point)> {
        let (a, s) = self.run(py, "commit", |p| p.commit())?;
        Ok((G1Point { p: a }, G1Point { p: s }))
    }

    fn poly(&self, py: Python<'_>, y: &[u8], z: &[u8]) -> PyResult<(G1Point, G1Point)> {
        let (y, z) = (scalar("y", y)?, scalar("z", z)?);
        let (t1, t2) = self.run(py, "poly", |p| p.poly(y, z))?;
        Ok((G1Point { p: t1 }, G1Point { p: t2 }))
    }

    /// Returns (t_hat, tau_x, mu).
    #[allow(clippy::type_complexity)]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        x: &[u8],
    ) -> PyResult<(
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
    )> {
        let x = scalar("x", x)?;
        let (t, tau, mu) = self.run(py, "evaluate", |p| p.evaluate(x))?;
        Ok((
            scalar_bytes(py, &t),
            scalar_bytes(py, &tau),
            scalar_bytes(py, &mu),
        ))
    }

    fn ipa_begin(&self, py: Python<'_>, w: &[u8]) -> PyResult<()> {
        let w = scalar("w", w)?;
        self.run(py, "ipa_begin", |p| p.ipa_begin(w))
    }

    fn ipa_round(&self, py: Python<'_>) -> PyResult<(G1Point, G1Point)> {
        let (l, r) = self.run(py, "ipa_round", |p| p.ipa_round())?;
        Ok((G1Point { p: l }, G1Point { p: r }))
    }

    fn ipa_fold(&self, py: Python<'_>, u: &[u8]) -> PyResult<()> {
        let u = scalar("u", u)?;
        self.run(py, "ipa_fold", |p| p.ipa_fold(u))
    }

    /// The final (a, b).
    fn result<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (a, b) = p.result().map_err(|e| curve_err("result", e))?;
        Ok((scalar_bytes(py, &a), scalar_bytes(py, &b)))
    }
}

#[pyfunction]
fn keccak256<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &zc::keccak256(data))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<G1Point>()?;
    m.add_class::<G1Vec>()?;
    m.add_class::<RangeProver>()?;
    m.add_function(wrap_pyfunction!(scalars_from_wide, m)?)?;
    m.add_function(wrap_pyfunction!(g1_msm, m)?)?;
    m.add_function(wrap_pyfunction!(g1_fold, m)?)?;
    m.add_function(wrap_pyfunction!(g1_fold_weighted, m)?)?;
    m.add_function(wrap_pyfunction!(g1_scale, m)?)?;
    m.add_function(wrap_pyfunction!(keccak256, m)?)?;
    m.add_function(wrap_pyfunction!(ipa_generator_scalars, m)?)?;
    m.add_function(wrap_pyfunction!(g1_msm_parts, m)?)?;
    Ok(())
}
