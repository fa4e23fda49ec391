//! Tenancy: bank ids, roles and the [`BankContext`] every store call is scoped by.
//!
//! A `BankContext` is the only way to reach tenant data. It is built either by an auth layer
//! from a verified token ([`BankContext::from_verified_claims`]) or, by a program that embeds
//! the engine, through [`BankContext::embedded`]. There is no `Default` and no public field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// A bank (tenant) identifier.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BankId(Uuid);

impl BankId {
    /// Wraps a UUID that names a bank.
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl FromStr for BankId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| Error::invalid("invalid_bank_id", "bank_id must be a UUID"))
    }
}

impl fmt::Display for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BankId({})", self.0)
    }
}

/// A role a caller holds within its bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Platform administrator: every permission.
    Admin,
    /// The bank's administrator: asks, uploads and audits.
    BankAdmin,
    /// An analyst: asks questions and uploads reports.
    Analyst,
    /// An auditor: asks questions and reads the audit trail.
    Auditor,
    /// A system integration: uploads reports.
    System,
}

impl Role {
    /// All roles, in declaration order.
    pub const ALL: [Role; 5] = [Role::Admin, Role::BankAdmin, Role::Analyst, Role::Auditor, Role::System];

    /// The role's wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::BankAdmin => "bank_admin",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::System => "system",
        }
    }

    /// Parses a wire name; unknown roles are `None` (a token may carry roles of other systems).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// What a caller may do (docs/http-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Ask questions and read report status.
    Ask,
    /// Upload reports.
    Upload,
    /// Read the audit trail.
    Audit,
    /// Save and delete the bank's mapping profiles.
    ManageMappings,
}

impl Permission {
    fn granted_to(self, role: Role) -> bool {
        use Role::*;
        match self {
            Permission::Ask => matches!(role, Analyst | BankAdmin | Auditor | Admin),
            Permission::Upload => matches!(role, Analyst | BankAdmin | System | Admin),
            Permission::Audit => matches!(role, Auditor | BankAdmin | Admin),
            Permission::ManageMappings => matches!(role, BankAdmin | Admin),
        }
    }

    /// The permission's name, for error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::Ask => "ask questions",
            Permission::Upload => "upload reports",
            Permission::Audit => "read the audit trail",
            Permission::ManageMappings => "manage mapping profiles",
        }
    }
}

/// A set of roles, stored as bits.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles(u8);

impl Roles {
    /// Builds a set from roles.
    pub fn from_roles(roles: impl IntoIterator<Item = Role>) -> Self {
        Roles(roles.into_iter().fold(0, |acc, r| acc | r.bit()))
    }

    /// True when `role` is in the set.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The roles in the set.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Role::as_str)).finish()
    }
}

/// Who acts: the subject of a verified token (`sub`) and the token's id (`jti`) when it has
/// one. Recorded with every answer in the audit chain and on every upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The token's subject: the person or program, as the identity provider names it.
    pub subject: String,
    /// The token's id, when it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}

/// The tenant scope of one request or job.
#[derive(Clone, PartialEq, Eq)]
pub struct BankContext {
    bank_id: BankId,
    roles: Roles,
    request_id: Option<String>,
    caller: Option<std::sync::Arc<Caller>>,
}

impl BankContext {
    /// Builds a context from the claims of a token whose signature, expiry and audience the
    /// caller (an auth layer) has already verified.
    pub fn from_verified_claims(bank_id: BankId, roles: Roles, request_id: Option<String>) -> Self {
        Self { bank_id, roles, request_id, caller: None }
    }

    /// Builds a context for a program that embeds the engine and speaks for one bank itself.
    pub fn embedded(bank_id: BankId, roles: impl IntoIterator<Item = Role>) -> Self {
        Self { bank_id, roles: Roles::from_roles(roles), request_id: None, caller: None }
    }

    /// Builds the context an ingestion worker uses for a job that an authorised upload queued.
    pub fn for_queued_job(bank_id: BankId) -> Self {
        Self { bank_id, roles: Roles::from_roles([Role::System]), request_id: None, caller: None }
    }

    /// The bank this context is scoped to.
    pub fn bank_id(&self) -> BankId {
        self.bank_id
    }

    /// The caller's roles.
    pub fn roles(&self) -> Roles {
        self.roles
    }

    /// The request id, when the context comes from a request.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Returns a copy carrying `request_id`.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Returns a copy that acts for `caller` (from the verified token).
    pub fn with_caller(mut self, caller: impl Into<std::sync::Arc<Caller>>) -> Self {
        self.caller = Some(caller.into());
        self
    }

    /// Who acts, when the context comes from a token.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_deref()
    }

    /// True when one of the caller's roles grants `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.roles.iter().any(|r| permission.granted_to(r))
    }

    /// Fails with a `forbidden` error unless the caller holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("your roles do not allow you to {}", permission.as_str())))
        }
    }
}

impl fmt::Debug for BankContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankContext")
            .field("bank_id", &self.bank_id)
            .field("roles", &self.roles)
            .field("request_id", &self.request_id)
            .field("caller", &self.caller)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_follow_the_contract() {
        let bank = BankId::from_uuid(Uuid::nil());
        let analyst = BankContext::embedded(bank, [Role::Analyst]);
        assert!(analyst.can(Permission::Ask) && analyst.can(Permission::Upload));
        assert!(analyst.require(Permission::Audit).is_err());
        let system = BankContext::embedded(bank, [Role::System]);
        assert!(!system.can(Permission::Ask) && system.can(Permission::Upload));
        let auditor = BankContext::embedded(bank, [Role::Auditor]);
        assert!(auditor.can(Permission::Audit) && !auditor.can(Permission::Upload));
        let nobody = BankContext::embedded(bank, []);
        assert!(!nobody.can(Permission::Ask));
    }

    #[test]
    fn bank_id_parses_only_uuids() {
        assert!("89fe99da-62c6-4ba7-836e-68010994802e".parse::<BankId>().is_ok());
        assert!("bank-1".parse::<BankId>().is_err());
    }
}
