//! Integration tests of the Helm engine: our cases and the conformance corpus.

mod cases;
mod conformance;
