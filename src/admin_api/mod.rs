//! Admin API client.
