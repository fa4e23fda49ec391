//! PayScope: payments analytics for banks. This facade re-exports [`payscope_core`]; see its
//! documentation for the layout.

pub use payscope_core::*;
