//! Store backends. The embedded [`memory`] backend is always compiled; the production
//! backends sit behind features.

pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
