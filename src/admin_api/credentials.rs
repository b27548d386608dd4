//! Admin API client: credentials.
//!
//! The Console account a set of calls is made as, and the project they address.

use std::fmt;

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

/// Shows the project only: the email is personal data, the password a secret.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}
