//! Shared test support (the `testing` feature): one contract story for every backend, and
//! synthetic data of realistic size for benches.

mod changes;
mod lifecycle;
mod story;
pub mod synth;

pub use story::store_story;
