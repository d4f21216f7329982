//! Bad-input regressions: each hostile input gets a clear error within a bounded amount of
//! memory. Every test here measures its heap use through [`ALLOC`], so this binary holds
//! only such tests (allocations of other threads would count against a measurement).

/// The binary's allocator, which measures peak heap use.
#[global_allocator]
static ALLOC: gitops_tests::alloc::PeakAlloc = gitops_tests::alloc::PeakAlloc::new();

mod apiserver;
mod helm;
mod kustomize;
mod sources;
