//! `zkmargin._core.curve`: BN254 G1 for `zkmargin.proof`: opaque point and point-vector
//! classes plus the heavy operations (MSM, folds, generator derivation) with the GIL
//! released on large inputs. Scalars cross the boundary as 32-byte big-endian strings
//! (concatenated for vectors), so the Rust side never reduces silently: a scalar >= r is
//! an `EncodingError`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use zkmargin_core::error::{ErrorKind, InputError};
use zkmargin_curve::{self as zc, CurveError, G1Affine, G1Projective};

use crate::args::{MAX_CELLS, from_attributes, int_in, size_in};
use crate::arrays::run_detached;
use crate::errors::{Error, Named, Result};
use crate::threads::{self, Threads};

/// Run `f` inline for small jobs (below the core's own parallel threshold, so nothing in
/// them spawns work and the hand-off to a pool would dominate) and detached on a pool of
/// `threads` threads otherwise; `threads = 1` gets a one-thread pool, so that a caller's
/// setting is honoured even by work that would otherwise reach rayon's global pool.
pub(crate) fn heavy<T: Send>(
    py: Python<'_>,
    size: usize,
    threads: Option<Threads>,
    f: impl FnOnce() -> T + Send,
) -> Result<T> {
    let t = threads::count(threads)?;
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
    module = "zkmargin._core.curve",
    name = "G1Point"
)]
#[derive(Clone)]
pub struct G1Point {
    pub(crate) p: G1Affine,
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
    fn from_evm(data: &[u8]) -> Result<Self> {
        Ok(G1Point {
            p: zc::point_from_evm(data).named("point")?,
        })
    }

    /// Decode the 32-byte compressed form, strictly.
    #[staticmethod]
    fn from_compressed(data: &[u8]) -> Result<Self> {
        Ok(G1Point {
            p: zc::point_from_compressed(data).named("point")?,
        })
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
    fn mul(&self, scalar: &[u8]) -> Result<Self> {
        let s = zc::scalar_from_be(scalar).named("scalar")?;
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
#[pyclass(
    frozen,
    skip_from_py_object,
    module = "zkmargin._core.curve",
    name = "G1Vec"
)]
#[derive(Clone)]
pub struct G1Vec {
    pub(crate) v: Arc<Vec<G1Affine>>,
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
    fn from_evm_bytes(data: &[u8]) -> Result<Self> {
        if data.len() % 64 != 0 {
            return Err(CurveError::Length {
                what: "points (a multiple of 64 bytes)",
                expected: data.len().next_multiple_of(64),
                got: data.len(),
            })
            .named("points");
        }
        let mut out = Vec::with_capacity(data.len() / 64);
        for (i, c) in data.chunks_exact(64).enumerate() {
            out.push(zc::point_from_evm(c).named(&format!("points[{i}]"))?);
        }
        Ok(G1Vec::new(out))
    }

    /// Generators with labels `prefix || u32_be(start + i)`, i < count (docs/proof-spec.md §4).
    #[staticmethod]
    #[pyo3(signature = (prefix, start, count, threads=None))]
    fn derive(
        py: Python<'_>,
        prefix: &[u8],
        start: &Bound<'_, PyAny>,
        count: &Bound<'_, PyAny>,
        threads: Option<Threads>,
    ) -> Result<Self> {
        let start = int_in("start", start, 0, u32::MAX.into())? as u32;
        let count = size_in("count", count, 0, MAX_CELLS as usize)?;
        if u64::from(start) + count as u64 > u64::from(u32::MAX) + 1 {
            return Err(Error::parameter(
                "count",
                format!("labels {start}..{start}+{count} exceed the u32 counter"),
            ));
        }
        let v = heavy(py, count * 64, threads, || {
            zc::derive_generators(prefix, start, count)
        })?;
        Ok(G1Vec::new(v))
    }

    fn __len__(&self) -> usize {
        self.v.len()
    }

    fn get(&self, i: &Bound<'_, PyAny>) -> Result<G1Point> {
        let n = self.v.len();
        let i = size_in("i", i, 0, usize::MAX)?;
        self.v.get(i).map(|p| G1Point { p: *p }).ok_or_else(|| {
            InputError::new(
                ErrorKind::IndexOutOfRange,
                "i",
                Some(i),
                format!("out of range for length {n}"),
            )
            .into()
        })
    }

    fn slice(&self, start: &Bound<'_, PyAny>, stop: &Bound<'_, PyAny>) -> Result<Self> {
        let n = self.v.len();
        let (start, stop) = (size_in("start", start, 0, n)?, size_in("stop", stop, 0, n)?);
        if start > stop {
            return Err(Error::parameter(
                "start",
                format!("slice {start}..{stop} is reversed"),
            ));
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

pub(crate) fn scalars(field: &str, b: &[u8]) -> Result<Vec<zc::Fr>> {
    zc::scalars_from_be(b).named(field)
}

pub(crate) fn scalar(field: &str, b: &[u8]) -> Result<zc::Fr> {
    zc::scalar_from_be(b).named(field)
}

/// `sum scalars_i * points_i` (Pippenger; multi-threaded above a size threshold, GIL released).
#[pyfunction]
#[pyo3(signature = (points, scalars_be, threads=None))]
fn msm(
    py: Python<'_>,
    points: PyRef<'_, G1Vec>,
    scalars_be: &[u8],
    threads: Option<Threads>,
) -> Result<G1Point> {
    let s = scalars("scalars", scalars_be)?;
    let v = Arc::clone(&points.v);
    let p = heavy(py, v.len() * 8, threads, move || zc::msm(&v, &s))?.named("msm")?;
    Ok(G1Point { p: to_affine(p) })
}

/// `out_i = a * lo_i + b * hi_i`.
#[pyfunction]
#[pyo3(signature = (lo, hi, a, b, threads=None))]
fn fold(
    py: Python<'_>,
    lo: PyRef<'_, G1Vec>,
    hi: PyRef<'_, G1Vec>,
    a: &[u8],
    b: &[u8],
    threads: Option<Threads>,
) -> Result<G1Vec> {
    let (a, b) = (scalar("a", a)?, scalar("b", b)?);
    let (l, h) = (Arc::clone(&lo.v), Arc::clone(&hi.v));
    // every element costs a scalar multiplication: even short folds are worth the pool
    let r = heavy(py, l.len() * zc::PARALLEL_THRESHOLD, threads, move || {
        zc::fold(&l, &h, a, b)
    })?;
    Ok(G1Vec::new(r.named("fold")?))
}

/// `out_i = wa_i * lo_i + wb_i * hi_i`.
#[pyfunction]
#[pyo3(signature = (lo, hi, wa, wb, threads=None))]
fn fold_weighted(
    py: Python<'_>,
    lo: PyRef<'_, G1Vec>,
    hi: PyRef<'_, G1Vec>,
    wa: &[u8],
    wb: &[u8],
    threads: Option<Threads>,
) -> Result<G1Vec> {
    let wa = scalars("wa", wa)?;
    let wb = scalars("wb", wb)?;
    let (l, h) = (Arc::clone(&lo.v), Arc::clone(&hi.v));
    let r = heavy(py, l.len(), threads, move || {
        zc::fold_weighted(&l, &h, &wa, &wb)
    })?;
    Ok(G1Vec::new(r.named("fold")?))
}

/// `out_i = w_i * p_i`.
#[pyfunction]
#[pyo3(signature = (points, w, threads=None))]
fn scale(
    py: Python<'_>,
    points: PyRef<'_, G1Vec>,
    w: &[u8],
    threads: Option<Threads>,
) -> Result<G1Vec> {
    let w = scalars("w", w)?;
    let v = Arc::clone(&points.v);
    let r = heavy(py, v.len(), threads, move || zc::scale(&v, &w))?;
    Ok(G1Vec::new(r.named("scale")?))
}

from_attributes! {
    /// One inner-product check (`zkmargin.proof.group.NativeIpaCheck`): sizes `n`, `m`,
    /// 32-byte big-endian scalars `y`, `z`, `a`, `b`, `weight` and the concatenated
    /// round challenges `u`.
    pub struct IpaCheckIn<'py> {
        n: Bound<'py, PyAny>,
        m: Bound<'py, PyAny>,
        y: Vec<u8>,
        z: Vec<u8>,
        a: Vec<u8>,
        b: Vec<u8>,
        u: Vec<u8>,
        weight: Vec<u8>,
    }
}

impl IpaCheckIn<'_> {
    fn parse(&self) -> Result<zc::IpaCheck> {
        Ok(zc::IpaCheck {
            n: size_in("n", &self.n, 1, 64)?,
            m: size_in("m", &self.m, 1, MAX_CELLS as usize)?,
            y: scalar("y", &self.y)?,
            z: scalar("z", &self.z)?,
            a: scalar("a", &self.a)?,
            b: scalar("b", &self.b)?,
            u: scalars("u", &self.u)?,
            weight: scalar("weight", &self.weight)?,
        })
    }
}

/// Weighted generator coefficients of many inner-product checks (see
/// `zkmargin_curve::ipa_generator_scalars`); returns the `len` g coefficients followed by
/// the `len` h coefficients, as bytes.
#[pyfunction]
#[pyo3(signature = (checks, len, threads=None))]
fn ipa_generator_scalars<'py>(
    py: Python<'py>,
    checks: Vec<IpaCheckIn<'py>>,
    len: &Bound<'py, PyAny>,
    threads: Option<Threads>,
) -> Result<Bound<'py, PyBytes>> {
    let len = size_in("len", len, 0, MAX_CELLS as usize)?;
    let parsed = checks
        .iter()
        .map(IpaCheckIn::parse)
        .collect::<Result<Vec<_>>>()?;
    let work = parsed.iter().map(|c| c.n * c.m).sum::<usize>();
    let r = heavy(py, work / 16, threads, move || {
        zc::ipa_generator_scalars(&parsed, len)
    })?;
    let (g, h) = r.named("ipa")?;
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
fn msm_parts(
    py: Python<'_>,
    points: PyRef<'_, G1Vec>,
    parts: Vec<Vec<u8>>,
    threads: Option<Threads>,
) -> Result<G1Point> {
    let joined: Vec<u8> = parts.concat();
    let s = scalars("scalars", &joined)?;
    let v = Arc::clone(&points.v);
    let p = heavy(py, v.len() * 8, threads, move || zc::msm(&v, &s))?.named("msm")?;
    Ok(G1Point { p: to_affine(p) })
}

/// Uniform scalars from the OS randomness: concatenated 64-byte chunks, each reduced mod r,
/// returned as concatenated 32-byte big-endian scalars.
#[pyfunction]
fn scalars_from_wide<'py>(py: Python<'py>, data: &[u8]) -> Result<Bound<'py, PyBytes>> {
    let s = zc::scalars_from_wide(data).named("randomness")?;
    let mut out = Vec::with_capacity(32 * s.len());
    for x in &s {
        out.extend_from_slice(&zc::scalar_to_be(x));
    }
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
fn keccak256<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &zc::keccak256(data))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<G1Point>()?;
    m.add_class::<G1Vec>()?;
    crate::prover::register(m)?;
    m.add_function(wrap_pyfunction!(scalars_from_wide, m)?)?;
    m.add_function(wrap_pyfunction!(msm, m)?)?;
    m.add_function(wrap_pyfunction!(fold, m)?)?;
    m.add_function(wrap_pyfunction!(fold_weighted, m)?)?;
    m.add_function(wrap_pyfunction!(scale, m)?)?;
    m.add_function(wrap_pyfunction!(keccak256, m)?)?;
    m.add_function(wrap_pyfunction!(ipa_generator_scalars, m)?)?;
    m.add_function(wrap_pyfunction!(msm_parts, m)?)?;
    Ok(())
}
