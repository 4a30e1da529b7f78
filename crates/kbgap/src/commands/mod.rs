//! One module per subcommand.

pub mod catalog;
pub mod kb;
pub mod machines;
pub mod scan;
pub mod serve;
pub mod token;
