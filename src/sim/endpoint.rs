//! Simulator: the names of the endpoints it serves.
//!
//! Named the way faults and counters name them: `"METHOD path-template"`, e.g.
//! `"POST /projects/{projectId}/customers"`.

use std::fmt;

use axum::http::Method;

/// One endpoint of the contract: an HTTP method on a path template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimEndpoint {
    pub method: &'static str,
    pub template: &'static str,
}

pub const TOKEN: &str = "/auth/token";
pub const CUSTOMERS: &str = "/projects/{projectId}/customers";
pub const CUSTOMER: &str = "/projects/{projectId}/customers/{customerId}";
pub const USERS: &str = "/projects/{projectId}/customers/{customerId}/users";
pub const USER: &str = "/projects/{projectId}/customers/{customerId}/users/{userId}";

/// Every endpoint of the contract, in the order the contract lists them.
pub const ENDPOINTS: [SimEndpoint; 9] = [
    SimEndpoint::new("POST", TOKEN),
    SimEndpoint::new("GET", CUSTOMERS),
    SimEndpoint::new("POST", CUSTOMERS),
    SimEndpoint::new("PATCH", CUSTOMER),
    SimEndpoint::new("DELETE", CUSTOMER),
    SimEndpoint::new("GET", USERS),
    SimEndpoint::new("POST", USERS),
    SimEndpoint::new("PATCH", USER),
    SimEndpoint::new("DELETE", USER),
];

impl SimEndpoint {
    const fn new(method: &'static str, template: &'static str) -> Self {
        Self { method, template }
    }

    /// The endpoint a fault map key names, if it names one.
    pub fn from_name(name: &str) -> Option<Self> {
        ENDPOINTS.into_iter().find(|e| e.to_string() == name)
    }

    /// The endpoint a request is for. Done by hand rather than with axum's `MatchedPath` so the
    /// faults and counters layer does not depend on router internals (or an extra axum feature).
    pub fn classify(method: &Method, path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let template = match segments.as_slice() {
            ["auth", "token"] => TOKEN,
            ["projects", p, "customers"] if !p.is_empty() => CUSTOMERS,
            ["projects", p, "customers", c] if !p.is_empty() && !c.is_empty() => CUSTOMER,
            ["projects", p, "customers", c, "users"] if !p.is_empty() && !c.is_empty() => USERS,
            ["projects", p, "customers", c, "users", u]
                if !p.is_empty() && !c.is_empty() && !u.is_empty() =>
            {
                USER
            }
            _ => return None,
        };
        ENDPOINTS
            .into_iter()
            .find(|e| e.template == template && e.method == method.as_str())
    }
}

impl fmt::Display for SimEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_route_and_rejects_others() {
        let cases = [
            ("POST", "/auth/token", Some("POST /auth/token")),
            ("GET", "/auth/token", None),
            (
                "GET",
                "/projects/p1/customers",
                Some("GET /projects/{projectId}/customers"),
            ),
            (
                "PATCH",
                "/projects/p1/customers/c1",
                Some("PATCH /projects/{projectId}/customers/{customerId}"),
            ),
            (
                "DELETE",
                "/projects/p1/customers/c1/users/u1",
                Some("DELETE /projects/{projectId}/customers/{customerId}/users/{userId}"),
            ),
            ("GET", "/projects//customers", None),
            ("GET", "/_sim/calls", None),
            ("GET", "/projects/p1/customers/c1/users/u1/x", None),
        ];
        for (method, path, want) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let got = SimEndpoint::classify(&method, path).map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "{method} {path}");
        }
    }

    #[test]
    fn names_round_trip() {
        for e in ENDPOINTS {
            assert_eq!(SimEndpoint::from_name(&e.to_string()), Some(e));
        }
        assert_eq!(SimEndpoint::from_name("GET /customers"), None);
    }
}
