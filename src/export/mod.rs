//! `corti-operator export`: a project's customers and users, read through the Admin API, as
//! Customer and CustomerUser manifests that adopt them as they are (no write to the Admin API
//! when applied). Reads only: the export itself makes no write anywhere.
//!
//! Credentials come from a Secret in the cluster (`--credentials-secret NAMESPACE/NAME`, keys
//! `email`, `password`, `projectId`, as the operator reads them) or, without that flag, from the
//! environment: `CORTI_ADMIN_EMAIL`, `CORTI_ADMIN_PASSWORD`, `CORTI_PROJECT_ID`.

mod manifest;
mod names;

pub use manifest::{
    Destination, Export, RemoteTree, Skipped, export_project, exported_customer_spec,
    exported_user_spec, render,
};
pub use names::{dns_label, is_dns_label};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::admin_api::{AdminClient, ApiError, BuildError, ClientConfig, Credentials, Password};
use crate::cli::DEFAULT_ADMIN_API_URL;
use crate::controller::SecretKey;
use crate::metrics::Metrics;

/// The environment variables read when no `--credentials-secret` is given.
pub const EMAIL_ENV: &str = "CORTI_ADMIN_EMAIL";
pub const PASSWORD_ENV: &str = "CORTI_ADMIN_PASSWORD";
pub const PROJECT_ENV: &str = "CORTI_PROJECT_ID";

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Base URL of the Admin API.
    #[arg(long, env = "CORTI_ADMIN_API_URL", default_value = DEFAULT_ADMIN_API_URL)]
    pub admin_api_url: String,
    /// The credentials Secret (NAMESPACE/NAME; keys email, password, projectId) to read with the
    /// current kubeconfig. Without it: CORTI_ADMIN_EMAIL, CORTI_ADMIN_PASSWORD, CORTI_PROJECT_ID.
    #[arg(long, value_parser = crate::cli::parse_secret_key)]
    pub credentials_secret: Option<SecretKey>,
    /// The namespace the manifests are for.
    #[arg(long)]
    pub namespace: String,
    /// Export only this customer (its customerId); repeatable. All customers when absent.
    #[arg(long = "customer", value_name = "CUSTOMER_ID")]
    pub customers: Vec<String>,
    /// The credentials Secret each exported Customer names (spec.credentialsSecretRef). Default:
    /// the --credentials-secret's name when it is in --namespace; else none (the operator's
    /// default credentials).
    #[arg(long)]
    pub credentials_secret_ref: Option<String>,
    /// Deadline of one Admin API call.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub admin_api_timeout: Duration,
    /// Export with `managementPolicy: Observe`: once applied, the resources report their drift
    /// and write nothing until switched to Manage.
    #[arg(long)]
    pub observe: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot reach the cluster to read the credentials Secret")]
    Kube(#[source] kube::Error),
    #[error("credentials Secret {0}/{1} not found")]
    SecretMissing(String, String),
    #[error("credentials Secret {0}/{1} has no {2:?} key")]
    SecretKeyMissing(String, String, &'static str),
    #[error(
        "no credentials: pass --credentials-secret NAMESPACE/NAME, or set {EMAIL_ENV}, {PASSWORD_ENV} and {PROJECT_ENV} (missing: {0})"
    )]
    NoCredentials(&'static str),
    #[error(transparent)]
    Client(#[from] BuildError),
    #[error("cannot list {0}")]
    Api(&'static str, #[source] ApiError),
    #[error("no customer {0:?} in the project")]
    UnknownCustomers(Vec<String>),
    #[error("cannot render the manifests")]
    Yaml(#[source] serde_norway::Error),
}

/// Runs the export: manifests on stdout, what was skipped on stderr (by remote id only).
pub async fn run(args: ExportArgs) -> Result<(), ExportError> {
    let credentials = match &args.credentials_secret {
        Some(secret) => credentials_from_secret(secret).await?,
        None => credentials_from(|key| std::env::var(key).ok())?,
    };
    let config = ClientConfig {
        timeout: args.admin_api_timeout,
        ..ClientConfig::new(&args.admin_api_url)
    };
    let client = AdminClient::new(&config, Arc::new(Metrics::default()))?;
    let trees = read_project(&client, &credentials, &args.customers).await?;
    let destination = Destination {
        namespace: args.namespace.clone(),
        credentials_secret: credentials_ref(&args),
        observe: args.observe,
    };
    let export = export_project(&trees, &destination);
    for skipped in &export.skipped {
        eprintln!("corti-operator export: {skipped}");
    }
    let yaml = render(&export, &credentials.project_id).map_err(ExportError::Yaml)?;
    print!("{yaml}");
    Ok(())
}

/// The Secret each Customer names: as given, else the source Secret when it lives in the
/// destination namespace (a resource may only name a Secret of its own namespace).
fn credentials_ref(args: &ExportArgs) -> Option<String> {
    args.credentials_secret_ref.clone().or_else(|| {
        args.credentials_secret
            .as_ref()
            .filter(|(namespace, _)| *namespace == args.namespace)
            .map(|(_, name)| name.clone())
    })
}

/// The customers (all, or those in `only`) and their users.
async fn read_project(
    client: &AdminClient,
    credentials: &Credentials,
    only: &[String],
) -> Result<Vec<RemoteTree>, ExportError> {
    let customers = client
        .list_customers(credentials)
        .await
        .map_err(|e| ExportError::Api("customers", e))?;
    let wanted: BTreeSet<&str> = only.iter().map(String::as_str).collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|id| !customers.iter().any(|c| c.customer_id == **id))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(ExportError::UnknownCustomers(missing));
    }
    let mut trees = Vec::new();
    for customer in customers {
        if !wanted.is_empty() && !wanted.contains(customer.customer_id.as_str()) {
            continue;
        }
        let users = client
            .list_users(credentials, &customer.customer_id)
            .await
            .map_err(|e| ExportError::Api("users", e))?;
        trees.push(RemoteTree { customer, users });
    }
    Ok(trees)
}

async fn credentials_from_secret(
    (namespace, name): &SecretKey,
) -> Result<Credentials, ExportError> {
    let client = kube::Client::try_default()
        .await
        .map_err(ExportError::Kube)?;
    let secret = Api::<Secret>::namespaced(client, namespace)
        .get_opt(name)
        .await
        .map_err(ExportError::Kube)?
        .ok_or_else(|| ExportError::SecretMissing(namespace.clone(), name.clone()))?;
    let data = secret.data.unwrap_or_default();
    let field = |key: &'static str| {
        data.get(key)
            .map(|value| String::from_utf8_lossy(&value.0).trim().to_string())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ExportError::SecretKeyMissing(namespace.clone(), name.clone(), key))
    };
    Ok(Credentials {
        email: field("email")?,
        password: Password::new(field("password")?),
        project_id: field("projectId")?,
    })
}

/// Credentials from the environment (`lookup`: a variable's value).
pub fn credentials_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Credentials, ExportError> {
    let field = |key: &'static str| {
        lookup(key)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
            .ok_or(ExportError::NoCredentials(key))
    };
    Ok(Credentials {
        email: field(EMAIL_ENV)?,
        password: Password::new(field(PASSWORD_ENV)?),
        project_id: field(PROJECT_ENV)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(secret: Option<(&str, &str)>, reference: Option<&str>) -> ExportArgs {
        ExportArgs {
            admin_api_url: DEFAULT_ADMIN_API_URL.into(),
            credentials_secret: secret.map(|(n, s)| (n.into(), s.into())),
            namespace: "tenants".into(),
            customers: vec![],
            credentials_secret_ref: reference.map(Into::into),
            admin_api_timeout: Duration::from_secs(1),
            observe: false,
        }
    }

    #[test]
    fn customers_name_a_secret_only_of_their_own_namespace() {
        assert_eq!(
            credentials_ref(&args(Some(("tenants", "corti-admin")), None)).as_deref(),
            Some("corti-admin")
        );
        assert_eq!(
            credentials_ref(&args(Some(("corti-system", "corti-admin")), None)),
            None
        );
        assert_eq!(
            credentials_ref(&args(Some(("corti-system", "x")), Some("local"))).as_deref(),
            Some("local")
        );
        assert_eq!(credentials_ref(&args(None, None)), None);
    }

    #[test]
    fn environment_credentials_name_the_missing_variable_never_a_value() {
        let env = |key: &str| match key {
            EMAIL_ENV => Some("admin@example.org".to_string()),
            PASSWORD_ENV => Some("  ".to_string()),
            _ => None,
        };
        let error = credentials_from(env).unwrap_err().to_string();
        assert!(
            error.contains(PASSWORD_ENV) && !error.contains("admin@"),
            "{error}"
        );
        let full = |key: &str| Some(format!("{key}-value"));
        let credentials = credentials_from(full).unwrap();
        assert_eq!(credentials.project_id, "CORTI_PROJECT_ID-value");
    }
}
