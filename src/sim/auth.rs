//! Simulator: logins and the bearer tokens it issues.
//!
//! Tokens look like JWTs (three base64url parts, a decodable payload with `exp`) but are opaque:
//! the simulator only accepts tokens it issued and still remembers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::config::{Account, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed authorization header")]
    Malformed,
    #[error("invalid token")]
    Unknown,
    #[error("token expired")]
    Expired,
    #[error("invalid email or password")]
    WrongLogin,
}

/// A token handed out by `POST /auth/token`.
#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: SecretString,
    pub expires_in: u64,
}

#[derive(Debug, Clone, Copy)]
struct Grant {
    role: Role,
    expires_at: Instant,
}

/// Tokens live this long after expiry so a late caller hears "expired" rather than "invalid";
/// after that they are forgotten, keeping a long-running simulator's memory flat.
const FORGET_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug)]
pub struct Tokens {
    ttl: Duration,
    // Keyed by the token's SHA-256, so the live tokens are not kept in the clear.
    grants: HashMap<[u8; 32], Grant>,
}

impl Tokens {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            grants: HashMap::new(),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Changes the lifetime of tokens issued from now on.
    pub fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    /// Checks a login against the accounts (email case-insensitive) and issues a token.
    pub fn login(
        &mut self,
        accounts: &[Account],
        email: &str,
        password: &SecretString,
        now: Instant,
    ) -> Result<IssuedToken, AuthError> {
        let account = accounts
            .iter()
            .find(|a| a.email.eq_ignore_ascii_case(email))
            .filter(|a| same_secret(&a.password, password))
            .ok_or(AuthError::WrongLogin)?;
        Ok(self.issue(account.role, now))
    }

    fn issue(&mut self, role: Role, now: Instant) -> IssuedToken {
        self.grants.retain(|_, g| g.expires_at + FORGET_AFTER > now);
        let token = new_token(self.ttl);
        self.grants.insert(
            digest(&token),
            Grant {
                role,
                expires_at: now + self.ttl,
            },
        );
        IssuedToken {
            access_token: SecretString::from(token),
            expires_in: self.ttl.as_secs(),
        }
    }

    /// The role behind an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>, now: Instant) -> Result<Role, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || !is_jwt_shaped(token) {
            return Err(AuthError::Malformed);
        }
        let grant = self.grants.get(&digest(token)).ok_or(AuthError::Unknown)?;
        if now >= grant.expires_at {
            return Err(AuthError::Expired);
        }
        Ok(grant.role)
    }

    /// Every token issued so far is expired from now on.
    pub fn expire_all(&mut self, now: Instant) {
        for grant in self.grants.values_mut() {
            grant.expires_at = grant.expires_at.min(now);
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

// Compares digests, so the time taken does not depend on where the passwords differ.
fn same_secret(a: &SecretString, b: &SecretString) -> bool {
    digest(a.expose_secret()) == digest(b.expose_secret())
}

fn new_token(ttl: Duration) -> String {
    let now = jiff::Timestamp::now().as_second();
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let header = br#"{"alg":"HS256","typ":"JWT"}"#;
    // `sub` is an opaque id, not the account's email: tokens end up in places logs can reach.
    let payload = serde_json::json!({
        "iss": "corti-admin-sim",
        "sub": uuid::Uuid::new_v4(),
        "iat": now,
        "exp": now.saturating_add(ttl),
    });
    let signature: [u8; 32] = rand::random();
    format!(
        "{}.{}.{}",
        base64url(header),
        base64url(payload.to_string().as_bytes()),
        base64url(&signature)
    )
}

fn is_jwt_shaped(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Unpadded base64url (RFC 4648 section 5), as JWTs use.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for i in 0..=chunk.len() {
            let index = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Vec<Account> {
        vec![Account {
            email: "Admin@X.io".into(),
            password: SecretString::from("pass1234567890123"),
            role: Role::Admin,
        }]
    }

    fn bearer(token: &IssuedToken) -> String {
        format!("Bearer {}", token.access_token.expose_secret())
    }

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64url(input.as_bytes()), want);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn login_issues_a_jwt_shaped_token_that_expires() {
        let mut tokens = Tokens::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let token = tokens
            .login(
                &accounts(),
                "admin@x.io",
                &SecretString::from("pass1234567890123"),
                t0,
            )
            .unwrap();
        assert_eq!(token.expires_in, 60);
        assert!(is_jwt_shaped(token.access_token.expose_secret()));
        let header = bearer(&token);
        assert_eq!(tokens.check(Some(&header), t0), Ok(Role::Admin));
        assert_eq!(
            tokens.check(Some(&header), t0 + Duration::from_secs(60)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn wrong_logins_and_bad_headers() {
        let mut tokens = Tokens::new(Duration::from_secs(60));
        let now = Instant::now();
        for (email, password) in [
            ("admin@x.io", "pass1234567890124"),
            ("other@x.io", "pass1234567890123"),
        ] {
            let password = SecretString::from(password);
            let refused = tokens.login(&accounts(), email, &password, now);
            assert_eq!(refused.unwrap_err(), AuthError::WrongLogin, "{email}");
        }
        for (header, error) in [
            (None, AuthError::Missing),
            (Some("Basic abc"), AuthError::Malformed),
            (Some("Bearer abc"), AuthError::Malformed),
            (Some("Bearer a.b.c"), AuthError::Unknown),
        ] {
            assert_eq!(tokens.check(header, now), Err(error), "{header:?}");
        }
    }

    #[test]
    fn expire_all_and_ttl_change() {
        let mut tokens = Tokens::new(Duration::from_secs(60));
        let now = Instant::now();
        let right = SecretString::from("pass1234567890123");
        let old = tokens
            .login(&accounts(), "admin@x.io", &right, now)
            .unwrap();
        tokens.expire_all(now);
        assert_eq!(
            tokens.check(Some(&bearer(&old)), now),
            Err(AuthError::Expired)
        );
        tokens.set_ttl(Duration::from_secs(5));
        let new = tokens
            .login(&accounts(), "admin@x.io", &right, now)
            .unwrap();
        assert_eq!(new.expires_in, 5);
        assert_eq!(tokens.check(Some(&bearer(&new)), now), Ok(Role::Admin));
    }
}
