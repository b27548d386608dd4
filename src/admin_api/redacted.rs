//! Admin API client: redacting string wrappers.
//!
//! For the client's own secrets, a password and a bearer token (not Kubernetes Secrets): they
//! cannot be printed or logged by accident, as `Debug` shows `[redacted]` and there is no
//! `Display`. The value is reachable only through `expose`, at the request that needs it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

macro_rules! redacted_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(secrecy::SecretString);

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.expose() == other.expose()
            }
        }

        impl Eq for $name {}

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(secrecy::SecretString::from(value.into()))
            }

            pub fn expose(&self) -> &str {
                secrecy::ExposeSecret::expose_secret(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.expose())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

redacted_string!(
    /// A Console or user password.
    Password
);
redacted_string!(
    /// An Admin API bearer token.
    Token
);

impl Password {
    /// Length in characters, for the local 16..=64 check.
    pub fn char_len(&self) -> usize {
        self.expose().chars().count()
    }

    /// A SHA-256 of the password, hex: lets status record *which* password was applied without
    /// holding it.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.expose().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let password = Password::new("hunter2-hunter2-hunter2");
        let token = Token::new("eyJhbGciOi.x.y");
        assert_eq!(format!("{password:?}"), "Password([redacted])");
        assert_eq!(format!("{token:?}"), "Token([redacted])");
    }

    #[test]
    fn serializes_to_the_plain_value_for_the_request_body() {
        let password = Password::new("a-password-of-16+");
        assert_eq!(
            serde_json::to_string(&password).unwrap(),
            "\"a-password-of-16+\""
        );
    }

    #[test]
    fn fingerprint_is_stable_and_not_the_value() {
        let a = Password::new("0123456789abcdef");
        assert_eq!(
            a.fingerprint(),
            Password::new("0123456789abcdef").fingerprint()
        );
        assert_ne!(
            a.fingerprint(),
            Password::new("0123456789abcdeg").fingerprint()
        );
        assert!(!a.fingerprint().contains("0123456789abcdef"));
    }
}
