//! YAML for kustomize: a value model, a parser on granit-parser's events that resolves
//! scalars like go-yaml v3, and an emitter that prints like kustomize (JSON round trip and
//! go-yaml v2).

pub mod emit;
pub mod parse;
pub mod scalar;
pub mod value;

pub use emit::{emit_into, to_go_json, to_node, to_yaml};
pub use gitops_go::yaml::MarshalError;
pub use parse::{
    Document, DuplicateKeys, ParseOptions, YamlError, parse_documents, parse_documents_with,
    parse_one,
};
pub use value::{Mapping, Value};
