//! Store backends. The embedded [`memory`] backend is always compiled; the production
//! backends sit behind features.

pub mod memory;
#[cfg(feature = "neo4j")]
pub mod neo4j;
#[cfg(feature = "pinecone")]
pub mod pinecone;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "s3")]
pub mod s3;
