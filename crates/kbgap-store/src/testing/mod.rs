//! Shared test support (the `testing` feature): one contract story for every backend, and
//! synthetic data of realistic size for benches.

mod changes;
mod history;
mod lifecycle;
mod story;
pub mod synth;
mod tokens;

pub use story::store_story;
pub use tokens::token_story;
