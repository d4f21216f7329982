//! Integration tests of the source library: Git, push, ArtifactGenerator copy operations.

mod generator;
mod git_local;
mod git_push;
