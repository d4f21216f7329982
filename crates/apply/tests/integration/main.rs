//! Integration tests of the apply engine against the embedded API server.

mod apply;
mod diff_object;
