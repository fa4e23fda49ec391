//! Mapping profiles per bank: a saved reading of a file layout, matched by header
//! fingerprint (see [`crate::ingest::fingerprint`]).

use async_trait::async_trait;
use uuid::Uuid;

use crate::bank::BankContext;
use crate::error::{Error, Result};
use crate::facts::MappingProfile;

/// A bank's mapping profiles.
#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// The caller's profiles, by name.
    async fn list(&self, ctx: &BankContext) -> Result<Vec<MappingProfile>>;

    /// One profile of the caller's bank.
    async fn get(&self, ctx: &BankContext, id: Uuid) -> Result<Option<MappingProfile>>;

    /// Creates or replaces the profile with `profile.profile_id`. A bank has one profile per
    /// fingerprint: saving another profile for a fingerprint already taken is a conflict
    /// (`Error::Conflict`) naming the profile that holds it.
    async fn put(&self, ctx: &BankContext, profile: MappingProfile) -> Result<MappingProfile>;

    /// Deletes a profile; false when the bank has none with that id.
    async fn delete(&self, ctx: &BankContext, id: Uuid) -> Result<bool>;
}

/// The conflict of saving a profile for a fingerprint `holder` already has.
pub fn fingerprint_taken(holder: &MappingProfile) -> Error {
    Error::Conflict(format!(
        "mapping profile `{}` ({}) already applies to header fingerprint {}; update or delete it instead",
        holder.name, holder.profile_id, holder.fingerprint
    ))
}
