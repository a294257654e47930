//! Runs element-wise loops compiled for AVX2 when the CPU has it.
//!
//! The crate is built for baseline x86-64 (SSE2), so plain loops vectorise two f64 lanes
//! wide. The optimizer updates dominate the study's run time, so the hot loops are
//! monomorphised a second time inside a `#[target_feature]` function and picked at run
//! time. Rust never contracts `a * b + c` into an FMA, so both versions give
//! bit-identical results: only the speed changes.

/// Calls `f`, inlined into a copy compiled with AVX2 when the CPU supports it.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just checked for AVX2, the only feature `run_avx2`
            // enables.
            return unsafe { run_avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
