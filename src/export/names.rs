//! Resource names for exported objects (pure): DNS-1123 labels derived from a customer's key or a
//! user's email local part, made unique deterministically.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

/// A DNS-1123 label's maximum length.
pub const MAX_NAME: usize = 63;
/// Hex digits of the suffix that tells colliding names apart.
const SUFFIX_LEN: usize = 6;

/// `raw` as a DNS-1123 label: lowercase ASCII letters and digits, other runs as one `-`, no `-`
/// at either end, at most `max` characters; `fallback` when nothing is left.
pub fn dns_label(raw: &str, max: usize, fallback: &str) -> String {
    let mut label = String::with_capacity(raw.len().min(max));
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            label.push(c);
        } else if !label.is_empty() && !label.ends_with('-') {
            label.push('-');
        }
    }
    label.truncate(max);
    let label = label.trim_end_matches('-');
    if label.is_empty() {
        fallback.to_string()
    } else {
        label.to_string()
    }
}

/// Whether `name` is a DNS-1123 label (what every exported name must be).
pub fn is_dns_label(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The names given so far to one kind in one namespace.
#[derive(Debug, Default)]
pub struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    /// `base` if free; else `base` shortened, with a suffix hashed from `identity` (a stable
    /// remote id, never an email), so the same object gets the same name on every export.
    pub fn claim(&mut self, base: &str, identity: &str) -> String {
        if self.taken.insert(base.to_string()) {
            return base.to_string();
        }
        let digest = hex::encode(Sha256::digest(identity.as_bytes()));
        let stem = dns_label(base, MAX_NAME - SUFFIX_LEN - 1, "x");
        let mut candidate = format!("{stem}-{}", &digest[..SUFFIX_LEN]);
        // A hashed name that is itself taken (vanishingly rare): count up, still deterministic.
        let mut n = 2u32;
        while !self.taken.insert(candidate.clone()) {
            let tail = format!("-{}-{n}", &digest[..SUFFIX_LEN]);
            candidate = format!("{}{tail}", dns_label(base, MAX_NAME - tail.len(), "x"));
            n += 1;
        }
        candidate
    }
}

/// The base name of a Customer: its key.
pub fn customer_base(customer_id: &str) -> String {
    dns_label(customer_id, MAX_NAME, "customer")
}

/// The base name of a CustomerUser: its Customer's name, then the email's local part (the
/// domain is left out: it says little and lengthens every name).
pub fn user_base(customer_name: &str, email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    let prefix = dns_label(customer_name, 30, "customer");
    dns_label(&format!("{prefix}-{local}"), MAX_NAME, "user")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_lowercase_alphanumeric_with_single_dashes() {
        assert_eq!(
            dns_label("Contoso_Hospital..EU", 63, "x"),
            "contoso-hospital-eu"
        );
        assert_eq!(dns_label("--a--b--", 63, "x"), "a-b");
        assert_eq!(dns_label("___", 63, "fallback"), "fallback");
        assert_eq!(dns_label("Ærøskøbing", 63, "x"), "r-sk-bing");
        let long = dns_label(&format!("{}-b", "a".repeat(62)), 63, "x");
        assert_eq!(long, "a".repeat(62), "no trailing dash after truncation");
        for raw in ["a.b", "A", "9to5", &"z".repeat(200), "-", "x_-_y"] {
            assert!(is_dns_label(&dns_label(raw, 63, "x")), "{raw}");
        }
    }

    #[test]
    fn user_names_use_the_local_part_never_the_domain() {
        assert_eq!(
            user_base("contoso", "Jane.Smith+er@contoso.example"),
            "contoso-jane-smith-er"
        );
        assert!(!user_base("c", "jane@secret-domain.example").contains("secret"));
        assert!(is_dns_label(&user_base(
            &"c".repeat(63),
            &format!("{}@x.io", "u".repeat(64))
        )));
    }

    #[test]
    fn collisions_get_a_stable_suffix_from_the_identity() {
        let mut names = Names::default();
        assert_eq!(names.claim("jane", "id-1"), "jane");
        let second = names.claim("jane", "id-2");
        let third = names.claim("jane", "id-3");
        assert!(second.starts_with("jane-") && second.len() == "jane-".len() + 6);
        assert_ne!(second, third);
        let mut again = Names::default();
        again.claim("jane", "id-1");
        assert_eq!(again.claim("jane", "id-2"), second, "deterministic");
        // A base at the length limit still yields a valid, distinct label.
        let base = "a".repeat(63);
        assert_eq!(names.claim(&base, "x"), base);
        let suffixed = names.claim(&base, "y");
        assert!(is_dns_label(&suffixed) && suffixed != base, "{suffixed}");
    }

    #[test]
    fn a_taken_hashed_name_counts_up() {
        let mut names = Names::default();
        names.claim("a", "1");
        let hashed = names.claim("a", "2");
        let mut other = Names::default();
        other.claim("a", "1");
        other.claim(&hashed, "z");
        let next = other.claim("a", "2");
        assert!(
            next != hashed && next.ends_with("-2") && is_dns_label(&next),
            "{next}"
        );
    }
}
