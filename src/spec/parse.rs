//! (being written) charmcraft.yaml / metadata.yaml parsing.
#[derive(Debug, thiserror::Error)]
#[error("spec error")]
pub struct SpecError;
