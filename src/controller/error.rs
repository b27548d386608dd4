//! Why a reconcile pass stopped short, with the condition reason and retry policy each implies.

use std::time::Duration;

use super::condition::Reason;
use crate::admin_api::{ApiError, ErrorClass};

/// Why a pass stopped short. Each variant keeps its context as fields; its message does not repeat
/// its source (`chain` joins them).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    CredentialsNotFound(#[from] CredentialsGap),
    /// The login worked but the project it names does not exist.
    #[error(
        "project {project_id:?} is not in the Admin API: check projectId in the credentials Secret"
    )]
    ProjectNotFound {
        project_id: String,
        #[source]
        source: ApiError,
    },
    #[error(transparent)]
    InvalidPassword(#[from] PasswordGap),
    #[error(transparent)]
    CustomerNotReady(#[from] CustomerWait),
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// A spec the Admin API cannot hold, or one the schema could not rule out.
    #[error("spec.{field}: {why}")]
    InvalidSpec { field: &'static str, why: String },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("Kubernetes API call failed")]
    Kube(#[source] kube::Error),
    /// A broken invariant of the operator itself: a bug, not a condition to wait out.
    #[error("internal error: {invariant}")]
    Internal { invariant: &'static str },
}

/// Why no credentials could be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsGap {
    #[error(
        "no credentials: set spec.credentialsSecretRef, or give the operator a default credentials Secret"
    )]
    NoneConfigured,
    #[error(
        "the operator's default credentials do not serve namespace {namespace} (--default-credentials-namespaces): set spec.credentialsSecretRef"
    )]
    OutOfScope { namespace: String },
    #[error("credentials Secret {namespace}/{name} not found")]
    SecretMissing { namespace: String, name: String },
    #[error("credentials Secret {namespace}/{name} has no {key:?} key")]
    KeyMissing {
        namespace: String,
        name: String,
        key: &'static str,
    },
}

/// Why a user's password cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum PasswordGap {
    #[error("password Secret {namespace}/{name} not found")]
    SecretMissing { namespace: String, name: String },
    #[error("password Secret {namespace}/{name} has no {key:?} key")]
    KeyMissing {
        namespace: String,
        name: String,
        key: String,
    },
    /// Never the value's length: a reader of the resource must learn nothing about a Secret
    /// they may not read.
    #[error("the password must be 16 to 64 characters long; the Secret's value is not")]
    Length,
    #[error("the Admin API rejected the password")]
    Rejected(#[source] ApiError),
}

/// What a user waits for before it can be applied.
#[derive(Debug, thiserror::Error)]
pub enum CustomerWait {
    #[error("Customer {name} not found")]
    Missing { name: String },
    #[error("Customer {name} is being deleted")]
    Deleting { name: String },
    #[error("Customer {name} is not Ready ({reason}): {message}")]
    NotReady {
        name: String,
        reason: String,
        message: String,
    },
    #[error("Customer {name} is not Ready yet")]
    NotReadyYet { name: String },
    /// The remote customer the user lives in is gone.
    #[error("customer {customer_id:?} is not in the Admin API")]
    RemoteGone {
        customer_id: String,
        #[source]
        source: ApiError,
    },
}

/// Which remote object a conflict is about, as a status message names it (never an email).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteObject {
    Customer { customer_id: String },
    User { customer_id: String },
}

impl std::fmt::Display for RemoteObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Customer { customer_id } => write!(f, "customer {customer_id:?}"),
            Self::User { customer_id } => {
                write!(f, "a user with this email in customer {customer_id:?}")
            }
        }
    }
}

/// Another party holds the remote object this resource asks for.
#[derive(Debug, thiserror::Error)]
pub enum Conflict {
    /// `holder` is as `Claim::describe_for` names it: only in the reader's own namespace by name.
    #[error("{object} is already managed by {kind} {holder}")]
    Claimed {
        object: RemoteObject,
        kind: &'static str,
        holder: String,
    },
    #[error(
        "{object} already exists in the Admin API and this resource did not create it; adoption is off (--adopt-existing=false)"
    )]
    AdoptionOff { object: RemoteObject },
}

impl From<super::plan::Unreachable> for Error {
    fn from(error: super::plan::Unreachable) -> Self {
        Self::InvalidSpec {
            field: error.field,
            why: format!(
                "{:?} in the spec but {:?} in the Admin API, which cannot change it",
                error.wanted, error.found
            ),
        }
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
            Self::ProjectNotFound { .. } => Reason::CredentialsRejected,
            Self::InvalidPassword(_) => Reason::InvalidPassword,
            Self::CustomerNotReady(_) => Reason::CustomerNotReady,
            Self::Conflict(_) => Reason::Conflict,
            Self::InvalidSpec { .. } => Reason::InvalidSpec,
            Self::Kube(_) => Reason::RemoteUnavailable,
            Self::Internal { .. } => Reason::Internal,
            Self::Api(error) => match error.class() {
                ErrorClass::Transient | ErrorClass::RateLimited | ErrorClass::NotFound => {
                    Reason::RemoteUnavailable
                }
                ErrorClass::Unauthorized => Reason::CredentialsRejected,
                ErrorClass::Forbidden => Reason::Forbidden,
                ErrorClass::Conflict => Reason::Conflict,
                ErrorClass::Invalid => Reason::InvalidSpec,
                ErrorClass::Internal => Reason::Internal,
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
            Self::ProjectNotFound { .. } => Retry::Recheck,
            Self::InvalidPassword(_)
            | Self::Conflict(_)
            | Self::InvalidSpec { .. }
            | Self::Internal { .. } => Retry::Slowly,
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

    #[test]
    fn a_broken_invariant_is_internal_and_not_retried_as_transient() {
        let bug = Error::Api(ApiError::Internal {
            invariant: "the base URL cannot take a path",
        });
        assert_eq!(
            (bug.reason(), bug.retry()),
            (Reason::Internal, Retry::Slowly)
        );
        let own = Error::Internal { invariant: "x" };
        assert_eq!(
            (own.reason(), own.retry()),
            (Reason::Internal, Retry::Slowly)
        );
        // A body the client cannot read is the service's trouble: retried with backoff.
        let garbled = serde_json::from_str::<u8>("{").unwrap_err();
        let decode = Error::Api(ApiError::Decode {
            what: "the response body",
            source: std::sync::Arc::new(garbled),
        });
        assert_eq!(
            (decode.reason(), decode.retry()),
            (Reason::RemoteUnavailable, Retry::Backoff(None))
        );
        assert!(
            decode.chain().starts_with(
                "unexpected response from the Admin API: cannot read the response body: invalid type"
            ),
            "{}",
            decode.chain()
        );
    }

    #[test]
    fn messages_keep_their_context_and_name_their_source_once() {
        let missing_project = Error::ProjectNotFound {
            project_id: "p-1".into(),
            source: ApiError::NotFound {
                message: "no such project".into(),
            },
        };
        let chain = missing_project.chain();
        assert_eq!(chain.matches("no such project").count(), 1, "{chain}");
        assert!(chain.contains("\"p-1\""), "{chain}");
        assert_eq!(
            (missing_project.reason(), missing_project.retry()),
            (Reason::CredentialsRejected, Retry::Recheck)
        );
        let rejected = Error::from(PasswordGap::Rejected(ApiError::Invalid {
            status: 400,
            message: "password too weak".into(),
        }));
        assert_eq!(
            rejected.chain(),
            "the Admin API rejected the password: rejected by the Admin API (HTTP 400): password too weak"
        );
        assert_eq!(
            (rejected.reason(), rejected.retry()),
            (Reason::InvalidPassword, Retry::Slowly)
        );
        let claimed = Error::from(Conflict::Claimed {
            object: RemoteObject::User {
                customer_id: "c".into(),
            },
            kind: "CustomerUser",
            holder: "a resource in another namespace".into(),
        });
        assert_eq!(
            claimed.to_string(),
            "a user with this email in customer \"c\" is already managed by CustomerUser a resource in another namespace"
        );
        let wait = Error::from(CustomerWait::RemoteGone {
            customer_id: "c".into(),
            source: ApiError::NotFound {
                message: "gone".into(),
            },
        });
        assert_eq!(
            (wait.reason(), wait.retry()),
            (Reason::CustomerNotReady, Retry::Waiting)
        );
        let spec = Error::from(super::super::plan::Unreachable {
            field: "region",
            wanted: "eu".into(),
            found: "us".into(),
        });
        assert!(
            spec.to_string().starts_with("spec.region: \"eu\""),
            "{spec}"
        );
    }
}
