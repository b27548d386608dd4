//! Simulator: the rules for request bodies and list parameters.
//!
//! Which fields each request takes, which it requires, and what values they may hold. Problems are
//! collected by [`Body`].

use std::collections::HashMap;

use secrecy::SecretString;

use super::body::{Body, Problem, ValidationError};
use super::pagination::PageRequest;
use super::wire::{SimCustomerPatch, SimNewCustomer, SimNewUser, SimRegion, SimUserPatch};

pub const CUSTOMER_ID_MAX: usize = 64;
pub const TENANT_NAME_MAX: usize = 14;
pub const PASSWORD_MIN: usize = 16;
pub const PASSWORD_MAX: usize = 64;
const EMAIL_MAX: usize = 254;

/// The body of `POST /auth/token`.
#[derive(Debug)]
pub struct Login {
    pub email: String,
    pub password: SecretString,
}

pub fn login(body: &[u8]) -> Result<Login, ValidationError> {
    let mut b = Body::parse(body)?;
    let email = b.required_string("email");
    let password = b.required_string("password");
    // Extra fields are ignored here: a login has nothing that could be silently dropped.
    b.ignore_the_rest();
    b.finish(&[])?;
    Ok(Login {
        email: email.unwrap_or_default(),
        password: SecretString::from(password.unwrap_or_default()),
    })
}

pub fn new_customer(body: &[u8]) -> Result<SimNewCustomer, ValidationError> {
    let mut b = Body::parse(body)?;
    let display_name = b.required_string("displayName");
    let customer_id = b.required_string("customerId");
    let tenant_name = b.optional_string("tenantName");
    let region = b.optional_string("region");
    let is_nfr = b.optional_bool("isNfr");
    if let Some(name) = &display_name {
        b.check_display_name(name);
    }
    if let Some(id) = &customer_id {
        b.check_customer_id("customerId", id);
    }
    if let Some(tenant) = &tenant_name
        && (tenant.is_empty() || tenant.chars().count() > TENANT_NAME_MAX)
    {
        b.problem("tenantName", "must be 1 to 14 characters");
    }
    let region = match region.as_deref() {
        None | Some("eu") => SimRegion::Eu,
        Some("us") => SimRegion::Us,
        Some(_) => {
            b.problem("region", "must be one of eu, us");
            SimRegion::Eu
        }
    };
    b.finish(&[])?;
    Ok(SimNewCustomer {
        customer_id: customer_id.unwrap_or_default(),
        display_name: display_name.unwrap_or_default(),
        tenant_name: tenant_name.unwrap_or_else(|| "base".to_owned()),
        region,
        is_nfr: is_nfr.unwrap_or(false),
    })
}

pub fn customer_patch(body: &[u8]) -> Result<SimCustomerPatch, ValidationError> {
    let mut b = Body::parse(body)?;
    let patch = SimCustomerPatch {
        display_name: b.optional_string("displayName"),
        customer_id: b.optional_string("customerId"),
        is_nfr: b.optional_bool("isNfr"),
    };
    if let Some(name) = &patch.display_name {
        b.check_display_name(name);
    }
    if let Some(id) = &patch.customer_id {
        b.check_customer_id("customerId", id);
    }
    b.finish(&["tenantName", "region", "createdAt"])?;
    Ok(patch)
}

pub fn new_user(body: &[u8]) -> Result<SimNewUser, ValidationError> {
    let mut b = Body::parse(body)?;
    let email = b.required_string("email");
    let first_name = b.required_string("firstName");
    let last_name = b.required_string("lastName");
    let password = b.optional_string("password");
    if let Some(email) = &email
        && !is_email(email)
    {
        b.problem("email", "must be an email address");
    }
    if let Some(password) = &password {
        b.check_password(password);
    }
    b.finish(&[])?;
    Ok(SimNewUser {
        email: email.unwrap_or_default(),
        first_name: first_name.unwrap_or_default(),
        last_name: last_name.unwrap_or_default(),
        password: password.map(SecretString::from),
    })
}

pub fn user_patch(body: &[u8]) -> Result<SimUserPatch, ValidationError> {
    let mut b = Body::parse(body)?;
    let patch = SimUserPatch {
        first_name: b.optional_string("firstName"),
        last_name: b.optional_string("lastName"),
        enabled: b.optional_bool("enabled"),
        password: b.optional_string("password").map(SecretString::from),
    };
    if let Some(password) = &patch.password {
        b.check_password(secrecy::ExposeSecret::expose_secret(password));
    }
    b.finish(&["email", "id", "emailVerified", "createdAt"])?;
    Ok(patch)
}

/// `page` and `pageSize` from a list's query string: both >= 1, the size clamped to `max`.
pub fn page_request(
    query: &HashMap<String, String>,
    default_size: u32,
    max: u32,
) -> Result<PageRequest, ValidationError> {
    let mut problems = Vec::new();
    let mut read = |field: &str, default: u32| match query.get(field) {
        None => default,
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                problems.push(Problem {
                    field: field.to_owned(),
                    why: "must be an integer >= 1",
                });
                default
            }
        },
    };
    let page = read("page", 1);
    let page_size = read("pageSize", default_size).min(max.max(1));
    if problems.is_empty() {
        Ok(PageRequest { page, page_size })
    } else {
        Err(ValidationError { problems })
    }
}

/// The simulator's rules for single fields, checked on a body being taken apart.
impl Body {
    fn check_display_name(&mut self, name: &str) {
        if name.trim().is_empty() {
            self.problem("displayName", "must not be empty");
        }
    }

    fn check_customer_id(&mut self, field: &str, id: &str) {
        if id.is_empty() || id.chars().count() > CUSTOMER_ID_MAX {
            self.problem(field, "must be 1 to 64 characters");
        } else if !is_customer_id(id) {
            self.problem(
                field,
                "must start with a letter or digit and contain only letters, digits, '-', '_' and '.'",
            );
        }
    }

    fn check_password(&mut self, password: &str) {
        if !password.chars().all(|c| c.is_ascii_graphic()) {
            self.problem(
                "password",
                "may contain only letters, digits and ASCII punctuation",
            );
        } else if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&password.len()) {
            self.problem("password", "must be 16 to 64 characters");
        }
    }
}

/// Letters, digits, `-`, `_`, `.`; starting with a letter or digit, so it is always one safe URL
/// path segment (never `.` or `..`).
fn is_customer_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A plain ASCII address `local@domain.tld`: an RFC 5322 dot-atom local part and a domain of
/// two or more DNS labels. Quoted local parts and IDNs are refused, as most services do.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let dot_atom = local
        .split('.')
        .all(|a| !a.is_empty() && a.chars().all(atext));
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    email.len() <= EMAIL_MAX
        && local.len() <= 64
        && dot_atom
        && labels.len() >= 2
        && labels.iter().all(|l| label(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn new_customer_defaults() {
        let c = new_customer(br#"{"displayName":"Contoso","customerId":"contoso"}"#).unwrap();
        assert_eq!(c.tenant_name, "base");
        assert_eq!(c.region, SimRegion::Eu);
        assert!(!c.is_nfr);
        let c = new_customer(
            br#"{"displayName":"C","customerId":"c","region":"us","tenantName":null,"isNfr":true}"#,
        )
        .unwrap();
        assert_eq!(
            (c.region, c.tenant_name.as_str(), c.is_nfr),
            (SimRegion::Us, "base", true)
        );
    }

    #[test]
    fn new_customer_names_every_bad_field() {
        let cases: [(&[u8], &str); 9] = [
            (
                br#"{"id":"x","name":"y"}"#,
                "displayName: required; customerId: required; id: unknown field; name: unknown field",
            ),
            (
                br#"{"displayName":" ","customerId":"c"}"#,
                "displayName: must not be empty",
            ),
            (
                br#"{"displayName":"C","customerId":"c","region":"asia"}"#,
                "region: must be one of eu, us",
            ),
            (
                br#"{"displayName":"C","customerId":"c","tenantName":"fifteen-chars-x"}"#,
                "tenantName: must be 1 to 14 characters",
            ),
            (
                br#"{"displayName":"C","customerId":"c/../d"}"#,
                "customerId: must start with",
            ),
            (
                br#"{"displayName":"C","customerId":".."}"#,
                "customerId: must start with",
            ),
            (
                br#"{"displayName":"C","customerId":"c","isNfr":"yes"}"#,
                "isNfr: must be a boolean",
            ),
            (b"not json", "body: not valid JSON"),
            (b"[1]", "body: must be a JSON object"),
        ];
        for (body, want) in cases {
            let got = new_customer(body).unwrap_err().to_string();
            assert!(got.starts_with(want), "{got:?} should start with {want:?}");
        }
        let long = format!(r#"{{"displayName":"C","customerId":"{}"}}"#, "a".repeat(65));
        assert_eq!(
            new_customer(long.as_bytes()).unwrap_err().to_string(),
            "customerId: must be 1 to 64 characters"
        );
        let max = format!(r#"{{"displayName":"C","customerId":"{}"}}"#, "a".repeat(64));
        assert!(new_customer(max.as_bytes()).is_ok());
    }

    #[test]
    fn customer_patch_refuses_fixed_fields() {
        let err = customer_patch(br#"{"region":"us","tenantName":"x","colour":1}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "colour: unknown field; region: cannot be changed; tenantName: cannot be changed"
        );
        let patch = customer_patch(br#"{"customerId":"new-id","isNfr":true}"#).unwrap();
        assert_eq!(patch.customer_id.as_deref(), Some("new-id"));
        assert_eq!(patch.display_name, None);
        assert_eq!(customer_patch(b"{}").unwrap(), SimCustomerPatch::default());
    }

    #[test]
    fn users_and_passwords() {
        let user = new_user(br#"{"email":"Jane@X.io","firstName":"J","lastName":"S","password":"abcdefghijklmnop"}"#).unwrap();
        assert_eq!(user.email, "Jane@X.io");
        assert_eq!(user.password.unwrap().expose_secret(), "abcdefghijklmnop");
        let cases: [(&[u8], &str); 5] = [
            (br#"{"email":"jane","firstName":"J","lastName":"S"}"#, "email: must be an email address"),
            (br#"{"email":"j@x.io","firstName":"J"}"#, "lastName: required"),
            (br#"{"email":"j@x.io","firstName":"J","lastName":"S","password":"short"}"#, "password: must be 16 to 64 characters"),
            (br#"{"email":"j@x.io","firstName":"J","lastName":"S","password":"has a space in it!!"}"#, "password: may contain only"),
            (br#"{"email":"j@x.io","firstName":"J","lastName":"S","enabled":false}"#, "enabled: unknown field"),
        ];
        for (body, want) in cases {
            let got = new_user(body).unwrap_err().to_string();
            assert!(got.starts_with(want), "{got:?} should start with {want:?}");
            assert!(
                !got.contains("short") && !got.contains("space"),
                "echoed a password"
            );
        }
        let err = user_patch(br#"{"email":"k@x.io","password":"x"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "password: must be 16 to 64 characters; email: cannot be changed"
        );
        assert!(user_patch(b"{\"p\":1}").is_err());
        let long = format!(r#"{{"password":"{}"}}"#, "p".repeat(65));
        assert!(user_patch(long.as_bytes()).is_err());
        let ok = format!(
            r#"{{"password":"{}","enabled":false}}"#,
            "p!#%&()*+,-./:;<=>?@[]^_{|}~".repeat(2)
        );
        assert_eq!(user_patch(ok.as_bytes()).unwrap().enabled, Some(false));
    }

    #[test]
    fn emails() {
        for good in ["a@x.io", "jane.smith+tag@contoso.example", "A@B.CO"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@x",
            "@x.io",
            "a@@x.io",
            "a b@x.io",
            "a..b@x.io",
            "a@-x.io",
            "a@x..io",
            "æ@x.io",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn pages() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            page_request(&q(&[]), 20, 100).unwrap(),
            PageRequest {
                page: 1,
                page_size: 20
            }
        );
        assert_eq!(
            page_request(&q(&[("page", "3"), ("pageSize", "500")]), 20, 100).unwrap(),
            PageRequest {
                page: 3,
                page_size: 100
            }
        );
        assert_eq!(
            page_request(&q(&[("page", "0"), ("pageSize", "x")]), 20, 100)
                .unwrap_err()
                .to_string(),
            "page: must be an integer >= 1; pageSize: must be an integer >= 1"
        );
        assert!(page_request(&q(&[("pageSize", "-1")]), 20, 100).is_err());
    }

    #[test]
    fn login_body() {
        let l = login(br#"{"email":"a@x.io","password":"p","extra":1}"#).unwrap();
        assert_eq!(l.email, "a@x.io");
        assert_eq!(
            login(b"{}").unwrap_err().to_string(),
            "email: required; password: required"
        );
    }
}
