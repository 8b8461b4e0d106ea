//! The underlying failure of a store step: a leaf that the store's errors
//! and the protocol's errors both carry, so neither module imports the
//! other's.

use std::sync::Arc;

/// The underlying failure of a `Storage` error or of a store step the store
/// could not classify: any error, shared so that errors stay `Clone`.
/// Two causes are equal when they say the same thing.
#[derive(Clone, Debug)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    /// A cause that is only a message (no underlying error value).
    pub fn message(text: impl Into<String>) -> Self {
        Cause(Arc::new(Message(text.into())))
    }

    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(error))
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);
