//! Vol surfaces from Python: `None`, or a list with one `(expiry, log_moneyness, vol)`
//! tuple or `None` per underlying (`vol` is `expiries x nodes`).

use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use zkmargin_core::surface::{Curves, Surface};

use crate::arrays::{slice1, slice2};
use crate::errors::{core_err, shape_err};

pub(crate) type SurfaceIn<'py> = (
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray1<'py, f64>,
    PyReadonlyArray2<'py, f64>,
);

pub(crate) type SurfacesIn<'py> = Option<Vec<Option<SurfaceIn<'py>>>>;

/// `surfaces` and per-instrument zero `rates` (either may be `None`) as core curves.
pub(crate) fn curves(
    surfaces: &SurfacesIn<'_>,
    rates: &crate::margin::RatesIn<'_>,
) -> PyResult<Option<Curves>> {
    let rates = rates
        .as_ref()
        .map(|r| slice1("rates", r).map(<[f64]>::to_vec))
        .transpose()?;
    let Some(list) = surfaces else {
        return Ok(rates.map(|rates| Curves {
            surfaces: Vec::new(),
            rates: Some(rates),
        }));
    };
    let surfaces = list
        .iter()
        .enumerate()
        .map(|(u, s)| {
            s.as_ref()
                .map(|(expiry, k, vol)| {
                    let field = format!("surfaces[{u}]");
                    let (v, rows, cols) = slice2(&format!("{field}.vol"), vol)?;
                    let (t, k) = (
                        slice1(&format!("{field}.expiry"), expiry)?,
                        slice1(&format!("{field}.log_moneyness"), k)?,
                    );
                    if rows != t.len() || cols != k.len() {
                        return Err(shape_err(
                            &format!("{field}.vol"),
                            format!("is {rows} x {cols}, expected {} x {}", t.len(), k.len()),
                        ));
                    }
                    Surface::new(&field, t, k, v).map_err(core_err)
                })
                .transpose()
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Some(Curves { surfaces, rates }))
}
