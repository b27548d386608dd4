//! Reading the Secrets the operator acts with: Console credentials (keys `email`, `password`,
//! `projectId`) and user passwords. Read for each pass (get, never list or watch), so a changed
//! Secret takes effect at the next pass without a restart, and the operator needs no access to
//! Secrets it is not pointed at.
//!
//! A credentials Secret serves many resources, and a burst of applies starts many passes at once:
//! their reads are shared. A pass uses a read only if it was sent after the pass asked, so it
//! always sees a change made before it began; reads of one Secret go one at a time, and each
//! serves every pass that asked before it was sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use secrecy::ExposeSecret;

use super::error::{CredentialsGap, Error, PasswordGap};
use crate::admin_api::{Credentials, Password};
use crate::crd::{Ownership, OwnershipStatus};

/// What one `get` of a Secret tells.
struct SecretRead {
    /// Values that cannot be printed and are wiped when dropped: a shared read is kept until the
    /// next read of its Secret.
    data: HashMap<String, secrecy::SecretString>,
    /// `uid/resourceVersion`.
    version: String,
    held: bool,
}

/// Namespace and name of a Secret.
pub type SecretKey = (String, String);

/// The account a resource acts with, and where it came from.
#[derive(Clone, Debug)]
pub struct Account {
    pub credentials: Credentials,
    /// The Secret of the resource's own namespace it was read from; `None`: the operator default.
    pub secret: Option<String>,
    /// The Secret it was read from, the operator default included.
    pub from: SecretKey,
    /// That Secret already carries the credentials-in-use finalizer (as read with the
    /// credentials): holding it again costs no call.
    pub held: bool,
}

impl Account {
    /// The status record of owning a remote object with this account, from now on.
    pub fn owns(&self, ownership: Ownership) -> OwnershipStatus {
        OwnershipStatus {
            ownership: Some(ownership),
            owned_since: Some(jiff::Timestamp::now().to_string()),
            credentials_secret: self.secret.clone(),
        }
    }

    /// `namespace/name` of the Secret it was read from: how metrics and conditions name it.
    pub fn source(&self) -> String {
        format!("{}/{}", self.from.0, self.from.1)
    }
}

pub struct SecretReader {
    kube: kube::Client,
    default_credentials: Option<SecretKey>,
    /// The namespaces whose resources may act with the default credentials; `*` for all.
    default_scope: Vec<String>,
    /// The last credentials read from each Secret: lets cleanup finish when a namespace deletion
    /// removed the Secret before the resources that used it.
    last_known: Mutex<HashMap<SecretKey, Credentials>>,
    shared: SharedReads,
}

/// Reads of credentials Secrets shared by the passes that asked before each was sent (see the
/// module's comment).
#[derive(Default)]
struct SharedReads {
    /// Tickets, in the order passes ask and reads are sent.
    tickets: AtomicU64,
    /// Per Secret: its last read and the ticket taken when it was sent.
    last: Mutex<HashMap<SecretKey, Arc<tokio::sync::Mutex<Option<LastRead>>>>>,
}

/// How long a pass waits for the shared read of a credentials Secret before reading on its own.
const SHARED_READ_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// A read, and the ticket taken when it was sent.
type LastRead = (u64, Arc<SecretRead>);

impl std::fmt::Debug for SecretReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretReader")
            .field("default_credentials", &self.default_credentials)
            .field("default_scope", &self.default_scope)
            .finish_non_exhaustive()
    }
}

/// What an account is read for: a pending deletion may fall back on what a Secret last held.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    Apply,
    Cleanup,
}

/// Whether the default credentials serve `namespace`: only where the operator's configuration
/// says so, since whoever may create a resource there may act with them on the whole project.
pub fn default_serves(scope: &[String], namespace: &str) -> bool {
    scope
        .iter()
        .any(|allowed| allowed == "*" || allowed == namespace)
}

impl SecretReader {
    /// `default_scope`: the namespaces the default credentials serve (`*`: every namespace).
    pub fn new(
        kube: kube::Client,
        default_credentials: Option<SecretKey>,
        default_scope: Vec<String>,
    ) -> Self {
        Self {
            kube,
            default_credentials,
            default_scope,
            last_known: Mutex::default(),
            shared: SharedReads::default(),
        }
    }

    /// The Secret a resource in `namespace` uses: its own reference, else the operator default.
    fn credentials_secret(
        &self,
        namespace: &str,
        reference: Option<&str>,
    ) -> Result<SecretKey, Error> {
        match reference {
            Some(name) => Ok((namespace.to_string(), name.to_string())),
            None => {
                let default = self
                    .default_credentials
                    .clone()
                    .ok_or(CredentialsGap::NoneConfigured)?;
                if default_serves(&self.default_scope, namespace) {
                    Ok(default)
                } else {
                    Err(CredentialsGap::OutOfScope {
                        namespace: namespace.to_string(),
                    }
                    .into())
                }
            }
        }
    }

    /// The account for a resource in `namespace` that names the Secret `reference` (or none).
    pub async fn account(
        &self,
        namespace: &str,
        reference: Option<&str>,
    ) -> Result<Account, Error> {
        self.account_for(namespace, reference, Purpose::Apply).await
    }

    /// As `account`, for a pending deletion: the Secret if it is there, else what it last held.
    pub async fn account_for_cleanup(
        &self,
        namespace: &str,
        reference: Option<&str>,
    ) -> Result<Account, Error> {
        self.account_for(namespace, reference, Purpose::Cleanup)
            .await
    }

    async fn account_for(
        &self,
        namespace: &str,
        reference: Option<&str>,
        purpose: Purpose,
    ) -> Result<Account, Error> {
        let secret = self.credentials_secret(namespace, reference)?;
        let (credentials, held) = match purpose {
            Purpose::Apply => self.credentials(&secret).await?,
            Purpose::Cleanup => self.credentials_for_cleanup(&secret).await?,
        };
        Ok(Account {
            credentials,
            secret: reference.map(str::to_string),
            from: secret,
            held,
        })
    }

    /// The credentials in `secret`, and whether it already carries the credentials-in-use
    /// finalizer.
    async fn credentials(&self, secret: &SecretKey) -> Result<(Credentials, bool), Error> {
        let (namespace, name) = secret;
        let read =
            self.read_shared(secret)
                .await?
                .ok_or_else(|| CredentialsGap::SecretMissing {
                    namespace: namespace.clone(),
                    name: name.clone(),
                })?;
        let field = |key: &'static str| {
            read.data
                .get(key)
                .map(|value| value.expose_secret().trim().to_string())
                .filter(|value| !value.is_empty())
                .ok_or_else(|| CredentialsGap::KeyMissing {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    key,
                })
        };
        let credentials = Credentials {
            email: field("email")?,
            password: Password::new(field("password")?),
            project_id: field("projectId")?,
        };
        credentials.read_from(namespace, name);
        self.last_known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(secret.clone(), credentials.clone());
        Ok((credentials, read.held))
    }

    /// Credentials for cleanup: the Secret if it is there, else what it last held.
    /// (A Secret that is gone has nothing left to hold: reported as held.)
    async fn credentials_for_cleanup(
        &self,
        secret: &SecretKey,
    ) -> Result<(Credentials, bool), Error> {
        match self.credentials(secret).await {
            Err(Error::CredentialsNotFound(gap)) => self
                .last_known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(secret)
                .cloned()
                .map(|credentials| (credentials, true))
                .ok_or(Error::CredentialsNotFound(gap)),
            other => other,
        }
    }

    /// A user's password, and which version of the Secret it is (`uid/resourceVersion/key`):
    /// what status records once it is applied, so a change is applied once and nothing derived
    /// from the password is ever written down.
    pub async fn password(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<(Password, String), Error> {
        let read = self
            .read(&(namespace.to_string(), name.to_string()))
            .await?
            .ok_or_else(|| PasswordGap::SecretMissing {
                namespace: namespace.to_string(),
                name: name.to_string(),
            })?;
        let password = read
            .data
            .get(key)
            .map(|value| Password::new(value.expose_secret().trim_end_matches(['\n', '\r'])))
            .ok_or_else(|| PasswordGap::KeyMissing {
                namespace: namespace.to_string(),
                name: name.to_string(),
                key: key.to_string(),
            })?;
        Ok((password, format!("{}/{key}", read.version)))
    }

    /// A read of `secret` sent after this call began: the one in flight's successor, shared.
    async fn read_shared(&self, secret: &SecretKey) -> Result<Option<Arc<SecretRead>>, Error> {
        let shared = &self.shared;
        let asked = shared.tickets.fetch_add(1, Ordering::SeqCst);
        let slot = shared
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(secret.clone())
            .or_default()
            .clone();
        let Ok(mut last) = tokio::time::timeout(SHARED_READ_PATIENCE, slot.lock()).await else {
            // The read ahead is slow (a connection that hangs): this pass reads on its own.
            return Ok(self.read(secret).await?.map(Arc::new));
        };
        if let Some((sent, read)) = last.as_ref()
            && *sent > asked
        {
            return Ok(Some(read.clone()));
        }
        let sent = shared.tickets.fetch_add(1, Ordering::SeqCst);
        let Some(read) = self.read(secret).await? else {
            *last = None;
            return Ok(None);
        };
        let read = Arc::new(read);
        *last = Some((sent, read.clone()));
        Ok(Some(read))
    }

    /// The Secret's values, its version and whether it is held, in one `get`.
    async fn read(&self, (namespace, name): &SecretKey) -> Result<Option<SecretRead>, Error> {
        let secret = Api::<Secret>::namespaced(self.kube.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(Error::Kube)?;
        Ok(secret.map(|secret| {
            let version = format!(
                "{}/{}",
                secret.metadata.uid.as_deref().unwrap_or_default(),
                secret
                    .metadata
                    .resource_version
                    .as_deref()
                    .unwrap_or_default()
            );
            let held = secret
                .metadata
                .finalizers
                .as_ref()
                .is_some_and(|f| f.iter().any(|f| f == super::finalizer::SECRET_FINALIZER));
            let data = secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(key, value)| {
                    let value = String::from_utf8_lossy(&value.0).into_owned();
                    (key, secrecy::SecretString::from(value))
                })
                .collect();
            SecretRead {
                data,
                version,
                held,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::default_serves;

    #[tokio::test(start_paused = true)]
    async fn a_pass_stuck_behind_a_slow_shared_read_reads_on_its_own() {
        let world = crate::controller::tests::World::new().await;
        let reader = &world.ctx.secrets;
        let key = (
            crate::controller::tests::NS.to_string(),
            crate::controller::tests::SECRET.to_string(),
        );
        let slot = reader
            .shared
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        let _read_in_flight = slot.lock().await;
        let started = tokio::time::Instant::now();
        let account = reader
            .account(
                crate::controller::tests::NS,
                Some(crate::controller::tests::SECRET),
            )
            .await;
        assert!(account.is_ok(), "{account:?}");
        assert_eq!(started.elapsed(), super::SHARED_READ_PATIENCE);
    }

    #[test]
    fn default_credentials_serve_only_the_namespaces_listed() {
        let listed = ["tenants".to_string(), "clinics".to_string()];
        assert!(default_serves(&listed, "tenants"));
        assert!(!default_serves(&listed, "intruder"));
        assert!(!default_serves(&[], "tenants"), "none unless configured");
        assert!(default_serves(&["*".to_string()], "anywhere"));
    }
}
