//! The embedded mapping profiles: every bank's profiles in `profiles.jsonl`, rewritten
//! whole (atomically) on each change — profiles are few and small.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::persist::{read_lines, rewrite};
use crate::bank::BankId;
use crate::error::Result;
use crate::facts::MappingProfile;
use crate::store::profiles::fingerprint_taken;

/// One line of the file.
#[derive(Serialize, Deserialize)]
struct Line {
    bank_id: BankId,
    profile: MappingProfile,
}

/// All banks' profiles, with an optional file.
#[derive(Debug, Default)]
pub(crate) struct ProfileBook {
    path: Option<PathBuf>,
    banks: HashMap<BankId, BTreeMap<Uuid, MappingProfile>>,
}

impl ProfileBook {
    /// Loads `dir/profiles.jsonl`.
    pub fn open(dir: &Path) -> Result<ProfileBook> {
        let path = dir.join("profiles.jsonl");
        let mut book = ProfileBook::default();
        for line in read_lines::<Line>(&path)? {
            book.banks.entry(line.bank_id).or_default().insert(line.profile.profile_id, line.profile);
        }
        book.path = Some(path);
        Ok(book)
    }

    /// `bank`'s profiles, by name.
    pub fn list(&self, bank: BankId) -> Vec<MappingProfile> {
        let mut out: Vec<MappingProfile> =
            self.banks.get(&bank).map(|b| b.values().cloned().collect()).unwrap_or_default();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.profile_id.cmp(&b.profile_id)));
        out
    }

    /// One of `bank`'s profiles.
    pub fn get(&self, bank: BankId, id: Uuid) -> Option<MappingProfile> {
        self.banks.get(&bank)?.get(&id).cloned()
    }

    /// Creates or replaces a profile (keeping its first `created_at`).
    pub fn put(&mut self, bank: BankId, mut profile: MappingProfile) -> Result<MappingProfile> {
        let profiles = self.banks.entry(bank).or_default();
        if let Some(other) = profiles
            .values()
            .find(|p| p.fingerprint == profile.fingerprint && p.profile_id != profile.profile_id)
        {
            return Err(fingerprint_taken(other));
        }
        if let Some(old) = profiles.get(&profile.profile_id) {
            profile.created_at = old.created_at;
        }
        let previous = profiles.insert(profile.profile_id, profile.clone());
        if let Err(e) = self.save() {
            let profiles = self.banks.entry(bank).or_default();
            match previous {
                Some(p) => profiles.insert(p.profile_id, p),
                None => profiles.remove(&profile.profile_id),
            };
            return Err(e);
        }
        Ok(profile)
    }

    /// Deletes a profile; false when `bank` has none with that id.
    pub fn delete(&mut self, bank: BankId, id: Uuid) -> Result<bool> {
        let Some(removed) = self.banks.get_mut(&bank).and_then(|b| b.remove(&id)) else {
            return Ok(false);
        };
        if let Err(e) = self.save() {
            self.banks.entry(bank).or_default().insert(id, removed);
            return Err(e);
        }
        Ok(true)
    }

    fn save(&self) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let lines = self
            .banks
            .iter()
            .flat_map(|(bank, ps)| ps.values().map(|p| Line { bank_id: *bank, profile: p.clone() }));
        rewrite(path, lines)
    }
}
