//! Link the `gitops` executable position-dependent (`-no-pie`).
//!
//! Every `gitops helm template` or `gitops kustomize build` is a new process, so start-up
//! is part of each render. A position-independent executable of this size carries ~80,000
//! relative relocations that the dynamic loader applies at every start, dirtying ~1 MB of
//! pages; linked at a fixed address it has none. The code is still compiled
//! position-independent, which links fine into a fixed-address executable. Test binaries
//! are unaffected (`-bins` only). A fully static build (`+crt-static`, as the Dockerfile
//! does) is static-pie by rustc's choice, so the flag is left out there.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_CFG_TARGET_FEATURE");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let crt_static = features.split(',').any(|f| f == "crt-static");
    if os == "linux" && env == "gnu" && !crt_static {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
