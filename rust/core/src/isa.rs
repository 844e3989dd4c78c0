//! Runtime choice of the vector instruction set for the hot loops.
//!
//! The wheel is built for baseline x86-64 (SSE2, two doubles per instruction), so a loop
//! only gets AVX2 or AVX-512 when it is compiled a second and third time with those
//! features enabled and the CPU is asked at run time which copy it can execute. The
//! loops never use fused multiply-adds (Rust does not contract `a * b + c`), so every
//! copy performs the same IEEE operations and returns the same bits: vector width changes
//! speed, never results.

/// A vector instruction set a hot loop can be compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Whatever the build target guarantees (SSE2 on x86-64).
    Portable,
    Avx2,
    /// AVX-512 F, DQ and VL.
    Avx512,
}

impl Isa {
    /// Every variant, widest last.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// Whether this CPU can execute code compiled for `self`.
    pub fn available(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest instruction set this CPU executes (std caches the CPUID query).
    pub fn best() -> Isa {
        Isa::ALL
            .into_iter()
            .rev()
            .find(|isa| isa.available())
            .unwrap_or(Isa::Portable)
    }
}

/// Defines `fn name(isa: Isa, args..) -> T` whose body is compiled once per [`Isa`]; it
/// runs the copy for `isa` when the CPU supports it and the portable copy otherwise, so
/// it is safe to call with any `isa`. Everything the body calls must be `#[inline(always)]`
/// to be compiled into each copy.
///
/// `fn name<V>(..)` instead gives the body a type `V: simd::Lanes` of explicit vector
/// registers: `simd::Portable` in the portable copy, `simd::Avx2` in the others (the
/// AVX-512 copy keeps 256-bit lanes for the scans, where one more width buys nothing).
macro_rules! multiversion {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $crate::isa::multiversion!(
            @copies [$(#[$attr])*] $vis $name ($($arg: $ty),*) ($($ret)?)
            [fn body($($arg: $ty),*) $(-> $ret)? $body]
            (body) (body) (body)
        );
    };
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident<$v:ident>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        $body:block
    ) => {
        $crate::isa::multiversion!(
            @copies [$(#[$attr])*] $vis $name ($($arg: $ty),*) ($($ret)?)
            [fn body<$v: $crate::simd::Lanes>($($arg: $ty),*) $(-> $ret)? $body]
            (body::<$crate::simd::Portable>)
            (body::<$crate::simd::Avx2>)
            (body::<$crate::simd::Avx2>)
        );
    };
    (
        @copies [$(#[$attr:meta])*] $vis:vis $name:ident ($($arg:ident: $ty:ty),*)
        ($($ret:ty)?) [$($body:tt)*] ($portable:expr) ($avx2:expr) ($avx512:expr)
    ) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(isa: $crate::isa::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            $($body)*
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    ($avx2)($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    ($avx512)($($arg),*)
                }
                if isa.available() {
                    match isa {
                        // SAFETY: the CPU supports the features these copies were compiled
                        // with: `available` just asked it.
                        $crate::isa::Isa::Avx2 => return unsafe { avx2($($arg),*) },
                        $crate::isa::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                        $crate::isa::Isa::Portable => {}
                    }
                }
            }
            // Elsewhere only the portable copy exists.
            #[cfg(not(target_arch = "x86_64"))]
            let _ = isa;
            ($portable)($($arg),*)
        }
    };
}

pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::*;

    multiversion! {
        fn dot(a: &[f64], b: &[f64]) -> f64 {
            a.iter().zip(b).map(|(x, y)| x * y).sum()
        }
    }

    #[test]
    fn every_copy_runs_and_agrees() {
        let a: Vec<f64> = (0..37).map(|i| f64::from(i) * 0.5).collect();
        let want = dot(Isa::Portable, &a, &a);
        for isa in Isa::ALL {
            // Unavailable instruction sets fall back to the portable copy.
            assert_eq!(dot(isa, &a, &a), want, "{isa:?}");
        }
        assert!(Isa::best().available());
    }
}
