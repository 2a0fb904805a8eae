//! (being written) the fuzzing config.
#[derive(Debug, Clone, Default)]
pub struct FuzzConfig;
#[derive(Debug, thiserror::Error)]
#[error("config error")]
pub struct FuzzConfigError;
