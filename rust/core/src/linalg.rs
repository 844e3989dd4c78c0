//! Small dense linear algebra: correlation-matrix checks and Cholesky factors.

use crate::error::{ErrorKind, InputError, Result, finite};

/// Lower-triangular Cholesky factor of an `n x n` row-major matrix, or `None` when a pivot
/// is not positive (the matrix is not positive definite).
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - dot;
                if d <= 0.0 {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - dot) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Jitter added to the diagonal so singular but positive semi-definite matrices (perfectly
/// correlated underlyings) still factor.
pub const PSD_JITTER: f64 = 1e-10;

/// Checks `rho` is a correlation matrix: finite, symmetric, unit diagonal, entries in
/// [-1, 1], positive semi-definite. Returns a Cholesky factor of `rho + jitter I`.
pub fn check_correlation(field: &str, rho: &[f64], n: usize) -> Result<Vec<f64>> {
    if rho.len() != n * n {
        return Err(InputError::whole(
            ErrorKind::Shape,
            field,
            format!("must be {n} x {n}"),
        ));
    }
    finite(field, rho)?;
    for i in 0..n {
        if (rho[i * n + i] - 1.0).abs() > 1e-12 {
            return Err(InputError::at(
                ErrorKind::Parameter,
                field,
                i * n + i,
                "diagonal must be 1",
            ));
        }
        for j in 0..n {
            let (a, b) = (rho[i * n + j], rho[j * n + i]);
            if (a - b).abs() > 1e-12 {
                return Err(InputError::at(
                    ErrorKind::NotPositiveSemidefinite,
                    field,
                    i * n + j,
                    "not symmetric",
                ));
            }
            if !(-1.0..=1.0).contains(&a) {
                return Err(InputError::at(
                    ErrorKind::Parameter,
                    field,
                    i * n + j,
                    "entries must be in [-1, 1]",
                ));
            }
        }
    }
    let mut jittered = rho.to_vec();
    for i in 0..n {
        jittered[i * n + i] += PSD_JITTER;
    }
    cholesky(&jittered, n).ok_or_else(|| {
        InputError::whole(
            ErrorKind::NotPositiveSemidefinite,
            field,
            "matrix is not positive semi-definite",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_reproduce_matrix() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - a[i * 3 + j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn rejects_indefinite_and_asymmetric() {
        let bad = [1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0];
        assert_eq!(
            check_correlation("rho", &bad, 3).unwrap_err().kind,
            ErrorKind::NotPositiveSemidefinite
        );
        let asym = [1.0, 0.5, 0.4, 1.0];
        assert_eq!(
            check_correlation("rho", &asym, 2).unwrap_err().kind,
            ErrorKind::NotPositiveSemidefinite
        );
        let ones = [1.0; 4];
        assert!(check_correlation("rho", &ones, 2).is_ok());
    }
}
