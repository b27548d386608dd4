//! Decide who may act on a remote key when several resources claim it (same project and
//! customerId, or same customer and email). A resource that records ownership outranks one that
//! does not; then the earliest created wins; then namespace and name. All three survive a
//! restart, so every process reaches the same verdict. The process also keeps a registry of the
//! claims it has granted, so two first passes that run at once cannot both create.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A resource's claim on a remote key, as Kubernetes shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub namespace: String,
    pub name: String,
    pub created: Option<Time>,
    /// Its status records ownership (or the intent to create).
    pub owns: bool,
}

impl Claim {
    fn order_key(&self) -> (bool, Option<&Time>, &str, &str) {
        (
            !self.owns,
            self.created.as_ref(),
            &self.namespace,
            &self.name,
        )
    }

    fn same_resource(&self, other: &Claim) -> bool {
        self.namespace == other.namespace && self.name == other.name
    }

    /// Names the other resource only to a reader of the same namespace.
    pub fn describe_for(&self, reader_namespace: &str) -> String {
        if self.namespace == reader_namespace {
            self.name.clone()
        } else {
            "a resource in another namespace".into()
        }
    }
}

/// The claim that outranks `mine`, if any.
pub fn earlier_claim<'a>(
    mine: &Claim,
    others: impl IntoIterator<Item = &'a Claim>,
) -> Option<&'a Claim> {
    others
        .into_iter()
        .filter(|other| !other.same_resource(mine))
        .filter(|other| other.order_key() < mine.order_key())
        .min_by(|a, b| a.order_key().cmp(&b.order_key()))
}

/// Whether `mine` may act on `key`: no other claim in `others` (the other claimants Kubernetes
/// shows) outranks it, and no other live holder has been granted it in this process. `Err`: the
/// claim that keeps the key.
pub fn check(registry: &Registry, key: &str, mine: &Claim, others: &[Claim]) -> Result<(), Claim> {
    if let Some(earlier) = earlier_claim(mine, others) {
        return Err(earlier.clone());
    }
    let alive = |namespace: &str, name: &str| {
        others
            .iter()
            .any(|o| o.namespace == namespace && o.name == name)
    };
    registry
        .grant(key, mine, alive)
        .map_err(|(namespace, name)| Claim {
            namespace,
            name,
            created: None,
            owns: true,
        })
}

/// The claims this process has granted: key -> `namespace/name` of the holder.
#[derive(Debug, Default)]
pub struct Registry {
    held: Mutex<HashMap<String, (String, String)>>,
}

impl Registry {
    /// Grants `key` to `mine` unless another live holder has it (`alive` tells whether a holder
    /// still exists and still claims the key). Returns the holder that keeps it.
    pub fn grant(
        &self,
        key: &str,
        mine: &Claim,
        alive: impl Fn(&str, &str) -> bool,
    ) -> Result<(), (String, String)> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((namespace, name)) = held.get(key)
            && !(namespace == &mine.namespace && name == &mine.name)
            && alive(namespace, name)
        {
            return Err((namespace.clone(), name.clone()));
        }
        held.insert(key.to_string(), (mine.namespace.clone(), mine.name.clone()));
        Ok(())
    }

    /// Gives up `key` if `namespace/name` holds it.
    pub fn give_up(&self, key: &str, namespace: &str, name: &str) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held
            .get(key)
            .is_some_and(|(ns, n)| ns == namespace && n == name)
        {
            held.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(namespace: &str, name: &str, second: i64, owns: bool) -> Claim {
        Claim {
            namespace: namespace.into(),
            name: name.into(),
            created: Some(Time(
                k8s_openapi::jiff::Timestamp::from_second(second).unwrap(),
            )),
            owns,
        }
    }

    #[test]
    fn the_earliest_claim_wins_and_ties_break_by_name() {
        let (a, b, c) = (
            claim("t", "a", 10, false),
            claim("t", "b", 20, false),
            claim("u", "c", 10, false),
        );
        let all = [a.clone(), b.clone(), c.clone()];
        assert_eq!(earlier_claim(&a, &all), None);
        assert_eq!(earlier_claim(&b, &all), Some(&a));
        assert_eq!(
            earlier_claim(&c, &all),
            Some(&a),
            "same second: namespace t sorts before u"
        );
        assert_eq!(earlier_claim(&a, &[]), None);
    }

    #[test]
    fn a_recorded_owner_outranks_an_older_resource_that_owns_nothing() {
        // `old` was created first but never got its credentials right; `owner` created the
        // remote object meanwhile. Fixing `old`'s credentials must not hand the object over.
        let old = claim("t", "old", 10, false);
        let owner = claim("u", "owner", 20, true);
        let all = [old.clone(), owner.clone()];
        assert_eq!(earlier_claim(&old, &all), Some(&owner));
        assert_eq!(earlier_claim(&owner, &all), None);
        // Two recorded owners (a race of two processes): the earliest keeps it.
        let second_owner = claim("v", "late", 30, true);
        assert_eq!(
            earlier_claim(&second_owner, &[owner.clone(), second_owner.clone()]),
            Some(&owner)
        );
    }

    #[test]
    fn two_first_passes_at_once_cannot_both_win() {
        let registry = Registry::default();
        let (a, b) = (claim("t", "a", 10, false), claim("t", "b", 20, false));
        // Neither has recorded anything yet, so neither sees the other in the cache.
        assert_eq!(check(&registry, "k", &b, &[]), Ok(()));
        let held = check(&registry, "k", &a, std::slice::from_ref(&b)).unwrap_err();
        assert_eq!(
            held.name, "b",
            "b holds the grant until it lets go or is gone"
        );
        assert_eq!(
            check(&registry, "k", &a, &[]),
            Ok(()),
            "once b is gone from Kubernetes, a may have it"
        );
    }

    #[test]
    fn other_namespaces_are_not_named() {
        let other = claim("their-team", "their-name", 1, true);
        assert_eq!(other.describe_for("their-team"), "their-name");
        assert_eq!(
            other.describe_for("my-team"),
            "a resource in another namespace"
        );
    }

    #[test]
    fn the_registry_grants_a_key_once_until_its_holder_lets_go() {
        let registry = Registry::default();
        let (a, b) = (claim("t", "a", 1, false), claim("t", "b", 1, false));
        assert_eq!(registry.grant("k", &a, |_, _| true), Ok(()));
        assert_eq!(registry.grant("k", &a, |_, _| true), Ok(()), "idempotent");
        assert_eq!(
            registry.grant("k", &b, |_, _| true),
            Err(("t".into(), "a".into()))
        );
        assert_eq!(
            registry.grant("k", &b, |_, _| false),
            Ok(()),
            "a holder that is gone does not block"
        );
        registry.give_up("k", "t", "a");
        assert_eq!(
            registry.grant("k", &a, |_, _| true),
            Err(("t".into(), "b".into())),
            "only the holder can give a key up"
        );
        registry.give_up("k", "t", "b");
        assert_eq!(registry.grant("k", &a, |_, _| true), Ok(()));
    }
}
