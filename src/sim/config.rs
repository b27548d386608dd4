//! Simulator: its configuration.
//!
//! What a simulator starts with: projects, accounts, token lifetime, list behaviour, state file
//! and initial faults. Built with chained methods, e.g.
//! `SimConfig::new().project("p1").account("a@x.io", "pass1234567890123", Role::Admin)`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::faults::Faults;

/// A Console account's role in the projects it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    /// May list, may not create, update or delete (403).
    Member,
}

impl Role {
    pub fn can_write(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

impl FromStr for Role {
    type Err = ();

    /// Exactly `owner`, `admin` or `member`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            _ => Err(()),
        }
    }
}

/// Which field list responses carry besides `page` and `pageSize`: the current reference pages
/// give `hasNextPage`, an earlier revision gave `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaginationStyle {
    #[default]
    HasNextPage,
    Total,
}

/// A Console account that may log in with `POST /auth/token`.
#[derive(Clone)]
pub struct Account {
    pub email: String,
    pub password: SecretString,
    pub role: Role,
}

// By hand: the email is personal data and the password a secret, so neither is printed.
impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("email", &"<redacted>")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A Console project; only projects with Embedded Assistant serve `/customers` and `/users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectConfig {
    pub id: String,
    pub embedded_assistant: bool,
}

/// Default and ceiling of `pageSize`.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const DEFAULT_MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub(crate) projects: Vec<ProjectConfig>,
    pub(crate) accounts: Vec<Account>,
    pub(crate) token_ttl: Duration,
    pub(crate) pagination: PaginationStyle,
    pub(crate) max_page_size: u32,
    pub(crate) state_file: Option<PathBuf>,
    pub(crate) faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SimConfig {
    /// No projects, no accounts, tokens valid for an hour, `hasNextPage` lists of at most 100.
    pub fn new() -> Self {
        Self {
            projects: Vec::new(),
            accounts: Vec::new(),
            token_ttl: DEFAULT_TOKEN_TTL,
            pagination: PaginationStyle::default(),
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
            state_file: None,
            faults: Faults::default(),
        }
    }

    /// A project with Embedded Assistant enabled.
    #[must_use]
    pub fn project(self, id: &str) -> Self {
        self.with_project(id, true)
    }

    /// A project whose `/customers` and `/users` calls all answer 403.
    #[must_use]
    pub fn project_without_embedded(self, id: &str) -> Self {
        self.with_project(id, false)
    }

    fn with_project(mut self, id: &str, embedded_assistant: bool) -> Self {
        self.projects.retain(|p| p.id != id);
        self.projects.push(ProjectConfig {
            id: id.to_owned(),
            embedded_assistant,
        });
        self
    }

    /// An account that may use every configured project. A second account with the same email
    /// (case-insensitive) replaces the first.
    #[must_use]
    pub fn account(mut self, email: &str, password: &str, role: Role) -> Self {
        self.accounts
            .retain(|a| !a.email.eq_ignore_ascii_case(email));
        self.accounts.push(Account {
            email: email.to_owned(),
            password: SecretString::from(password),
            role,
        });
        self
    }

    /// Lifetime of tokens issued from now on (`expiresIn`).
    #[must_use]
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    #[must_use]
    pub fn pagination(mut self, style: PaginationStyle) -> Self {
        self.pagination = style;
        self
    }

    /// Larger `pageSize` requests are clamped to this (at least 1).
    #[must_use]
    pub fn max_page_size(mut self, max: u32) -> Self {
        self.max_page_size = max.max(1);
        self
    }

    /// Load state from this JSON file at start (a missing file is an empty state) and save it
    /// after every write.
    #[must_use]
    pub fn state_file(mut self, path: PathBuf) -> Self {
        self.state_file = Some(path);
        self
    }

    /// Faults active from the start.
    #[must_use]
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn has_projects(&self) -> bool {
        !self.projects.is_empty()
    }

    pub fn has_accounts(&self) -> bool {
        !self.accounts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_project_and_account_replace_earlier() {
        let config = SimConfig::new()
            .project("p1")
            .project_without_embedded("p1")
            .account("A@x.io", "pass1234567890123", Role::Member)
            .account("a@X.io", "pass1234567890123", Role::Owner);
        assert_eq!(
            config.projects,
            vec![ProjectConfig {
                id: "p1".into(),
                embedded_assistant: false
            }]
        );
        assert_eq!(config.accounts.len(), 1);
        assert_eq!(config.accounts[0].role, Role::Owner);
    }

    #[test]
    fn debug_hides_email_and_password() {
        let config = SimConfig::new().account("jane@x.io", "pass1234567890123", Role::Admin);
        let printed = format!("{config:?}");
        assert!(!printed.contains("jane"));
        assert!(!printed.contains("pass1234567890123"));
    }

    #[test]
    fn roles() {
        assert_eq!("member".parse(), Ok(Role::Member));
        assert!("Admin".parse::<Role>().is_err());
        assert!(Role::Owner.can_write() && Role::Admin.can_write() && !Role::Member.can_write());
    }
}
