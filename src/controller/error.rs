//! Why a reconcile pass stopped short, with the condition reason and retry policy each implies.

use std::time::Duration;

use super::condition::Reason;
use crate::admin_api::{ApiError, ErrorClass};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    CredentialsNotFound(String),
    #[error("{0}")]
    CredentialsRejected(String),
    #[error("{0}")]
    InvalidPassword(String),
    #[error("{0}")]
    CustomerNotReady(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidSpec(String),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("Kubernetes API call failed")]
    Kube(#[source] kube::Error),
}

impl From<super::plan::Unreachable> for Error {
    fn from(error: super::plan::Unreachable) -> Self {
        Self::InvalidSpec(error.to_string())
    }
}

/// How soon to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Exponential backoff, at least the server's `Retry-After`.
    Backoff(Option<Duration>),
    /// A person must act; look again only now and then (a change to the resource wakes it sooner).
    Slowly,
    /// Waiting on another resource whose change wakes this one; look again soon, then less often.
    Waiting,
    /// Credentials refused: re-read the Secret soon (a fix takes effect within seconds); the
    /// login itself waits out the account's own backoff, so this costs no failed login.
    Recheck,
}

impl Error {
    /// The message with its causes, `outer: inner: root`, for logs and status messages.
    pub fn chain(&self) -> String {
        crate::cli::error_chain(self)
    }

    pub fn reason(&self) -> Reason {
        match self {
            Self::CredentialsNotFound(_) => Reason::CredentialsNotFound,
            Self::CredentialsRejected(_) => Reason::CredentialsRejected,
            Self::InvalidPassword(_) => Reason::InvalidPassword,
            Self::CustomerNotReady(_) => Reason::CustomerNotReady,
            Self::Conflict(_) => Reason::Conflict,
            Self::InvalidSpec(_) => Reason::InvalidSpec,
            Self::Kube(_) => Reason::RemoteUnavailable,
            Self::Api(error) => match error.class() {
                ErrorClass::Transient | ErrorClass::RateLimited | ErrorClass::NotFound => {
                    Reason::RemoteUnavailable
                }
                ErrorClass::Unauthorized => Reason::CredentialsRejected,
                ErrorClass::Forbidden => Reason::Forbidden,
                ErrorClass::Conflict => Reason::Conflict,
                ErrorClass::Invalid => Reason::InvalidSpec,
            },
        }
    }

    pub fn retry(&self) -> Retry {
        match self {
            Self::Api(error) if error.class() == ErrorClass::Unauthorized => Retry::Recheck,
            Self::Api(error) if super::retry::is_permanent(error.class()) => Retry::Slowly,
            Self::Api(error) => Retry::Backoff(error.retry_after()),
            Self::Kube(_) => Retry::Backoff(None),
            Self::CustomerNotReady(_) | Self::CredentialsNotFound(_) => Retry::Waiting,
            Self::CredentialsRejected(_) => Retry::Recheck,
            Self::InvalidPassword(_) | Self::Conflict(_) | Self::InvalidSpec(_) => Retry::Slowly,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_failures_map_to_reasons_and_retry_policies() {
        let unavailable = Error::Api(ApiError::Unavailable {
            status: 503,
            message: "down".into(),
        });
        assert_eq!(
            (unavailable.reason(), unavailable.retry()),
            (Reason::RemoteUnavailable, Retry::Backoff(None))
        );
        let limited = Error::Api(ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
        });
        assert_eq!(
            limited.retry(),
            Retry::Backoff(Some(Duration::from_secs(3)))
        );
        let rejected = Error::Api(ApiError::Unauthorized {
            message: "bad login".into(),
        });
        assert_eq!(
            (rejected.reason(), rejected.retry()),
            (Reason::CredentialsRejected, Retry::Recheck)
        );
        let invalid = Error::Api(ApiError::Invalid {
            status: 400,
            message: "email: invalid".into(),
        });
        assert_eq!(
            (
                invalid.reason(),
                invalid.to_string().contains("email: invalid")
            ),
            (Reason::InvalidSpec, true)
        );
        let forbidden = Error::Api(ApiError::Forbidden {
            message: "not admin".into(),
        });
        assert_eq!(forbidden.reason(), Reason::Forbidden);
    }
}
