//! Admin API client: credentials.
//!
//! The Console account a set of calls is made as, and the project they address.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use sha2::{Digest, Sha256};

use super::redacted::Password;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub email: String,
    pub password: Password,
    pub project_id: String,
}

impl Credentials {
    /// Identifies the account (not the project) for the token cache: tokens are per account.
    pub(crate) fn account_key(&self) -> String {
        self.email.trim().to_ascii_lowercase()
    }

    /// Changes whenever the email or password does, so a rotated Secret drops the old token. Keyed
    /// with a secret of this process, so it cannot be matched against guesses outside it.
    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        static PROCESS_KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
        let key = PROCESS_KEY.get_or_init(rand::random);
        let mut hash = Sha256::new();
        hash.update(key);
        hash.update(self.account_key().as_bytes());
        hash.update([0]);
        hash.update(self.password.expose().as_bytes());
        hash.finalize().into()
    }
}

/// The credentials Secret (`namespace/name`) each set of credentials was last read from, by
/// fingerprint, so that a refused login is counted against its Secret without naming the account.
/// Bounded: emptied when it outgrows any plausible number of Secrets and rotations.
static SOURCES: OnceLock<Mutex<HashMap<[u8; 32], String>>> = OnceLock::new();
const MAX_SOURCES: usize = 4096;

impl Credentials {
    /// Notes that these credentials were read from the Secret `namespace/name`.
    pub fn read_from(&self, namespace: &str, name: &str) {
        let fingerprint = self.fingerprint();
        let mut sources = SOURCES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let known = sources.get(&fingerprint).is_some_and(|s| {
            s.strip_prefix(namespace)
                .and_then(|rest| rest.strip_prefix('/'))
                == Some(name)
        });
        if !known {
            if sources.len() >= MAX_SOURCES {
                sources.clear();
            }
            sources.insert(fingerprint, format!("{namespace}/{name}"));
        }
    }

    /// The Secret these credentials were last read from, or `unknown`.
    pub(crate) fn source(&self) -> String {
        SOURCES
            .get()
            .and_then(|sources| {
                sources
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&self.fingerprint())
                    .cloned()
            })
            .unwrap_or_else(|| "unknown".to_string())
    }
}

/// Shows the project only: the email is personal data, the password a secret.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}
