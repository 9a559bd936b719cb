//! What the I/O edge adds to calls before the engine sees them.

pub mod embeddings;
pub mod stage;
