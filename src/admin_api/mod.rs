//! A client of the Corti Admin API (`shared/admin-api/openapi.yaml`), tolerant where the service
//! is loosely documented, with errors that tell the caller what to do.

mod calls;
mod client;
mod credentials;
mod error;
mod gates;
mod pagination;
mod rate_limit;
mod redacted;
mod token;
mod transport;
mod types;

pub use calls::Deleted;
pub use client::{AdminClient, BuildError, ClientConfig, MAX_PAGE_SIZE};
pub use credentials::Credentials;
pub use error::{ApiError, ErrorClass};
pub use gates::LeaseFence;
pub use redacted::{Password, Token};
pub use types::{Customer, CustomerPatch, NewCustomer, NewUser, User, UserPatch};
