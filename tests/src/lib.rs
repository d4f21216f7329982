//! # gitops-tests
//!
//! End-to-end tests across the workspace's crates, with real servers started by the tests
//! themselves. The tests live in `tests/tests/`; this library holds what they share.
