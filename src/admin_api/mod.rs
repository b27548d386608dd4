//! A client of the Corti Admin API (`shared/admin-api/openapi.yaml`), tolerant where the service
//! is loosely documented, with errors that tell the caller what to do.

mod client;
mod credentials;
mod error;
mod secret;
mod token;
mod types;

pub use client::{AdminClient, BuildError, ClientConfig, Deleted, MAX_PAGE_SIZE};
pub use credentials::Credentials;
pub use error::{ApiError, ErrorClass};
pub use secret::{Password, Token};
pub use types::{Customer, CustomerPatch, NewCustomer, NewUser, User, UserPatch, same_email};
