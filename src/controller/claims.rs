//! Decide who may act on a remote key when several resources claim it (same project and
//! customerId, or same customer and email). A resource that records ownership outranks one that
//! does not; then the earliest created wins; then namespace and name. All three survive a
//! restart, so every process reaches the same verdict. The process also keeps a registry of the
//! claims it has granted, so two first passes that run at once cannot both create.
//!
//! Claims are for writers: a resource that only observes (`managementPolicy: Observe`, or the
//! operator's `--dry-run`) writes nothing, so it claims nothing, blocks no one and is never in
//! conflict; any number may observe one object. One that still records ownership from when it
//! managed keeps its claim until it gives the record up: otherwise a manager could take the
//! object meanwhile, and two recorded owners would be left when it manages again.

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
    /// Its spec says `managementPolicy: Observe`.
    pub observes: bool,
}

impl Claim {
    /// Whether this is a claim at all: the resource may write (it is managed and the operator
    /// is not in `--dry-run`), or it records ownership.
    pub fn counts(&self, dry_run: bool) -> bool {
        self.owns || !(self.observes || dry_run)
    }

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

/// Whether `mine` may act on `key`: no other claim in `others` (the other resources Kubernetes
/// shows with this key; observers are passed over, see `Claim::counts`) outranks it, and no
/// other live holder has been granted it in this process. `Err`: the claim that keeps the key.
pub fn check(
    registry: &Registry,
    key: &str,
    mine: &Claim,
    others: &[Claim],
    dry_run: bool,
) -> Result<(), Claim> {
    let claimants = || others.iter().filter(|o| o.counts(dry_run));
    if let Some(earlier) = earlier_claim(mine, claimants()) {
        return Err(earlier.clone());
    }
    let alive = |namespace: &str, name: &str| {
        claimants().any(|o| o.namespace == namespace && o.name == name)
    };
    registry
        .grant(key, mine, alive)
        .map_err(|(namespace, name)| Claim {
            namespace,
            name,
            created: None,
            owns: true,
            observes: false,
        })
}

/// For `mine`, a resource that claims nothing (an observer): the claim that would keep the key
/// from it were it managed, everything else as it is (the operator without `--dry-run`).
pub fn would_be_held_by<'a>(mine: &Claim, others: &'a [Claim]) -> Option<&'a Claim> {
    let managed = Claim {
        observes: false,
        ..mine.clone()
    };
    earlier_claim(&managed, others.iter().filter(|o| o.counts(false)))
}

/// The claims this process has granted: key -> `namespace/name` of the holder. Keys are kept as
/// hashes (a user's key holds project, customer and email: 100 bytes each, 10,000 of them). Two
/// keys whose hashes collide cannot keep each other's resource from acting: a holder counts only
/// while it is among the caller's own rivals, which share the caller's real key (`alive`).
#[derive(Debug, Default)]
pub struct Registry {
    held: Mutex<HashMap<u64, (String, String)>>,
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
        let key = crate::hash_of(key);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((namespace, name)) = held.get(&key)
            && !(namespace == &mine.namespace && name == &mine.name)
            && alive(namespace, name)
        {
            return Err((namespace.clone(), name.clone()));
        }
        held.insert(key, (mine.namespace.clone(), mine.name.clone()));
        Ok(())
    }

    /// Gives up `key` if `namespace/name` holds it.
    pub fn give_up(&self, key: &str, namespace: &str, name: &str) {
        let key = crate::hash_of(key);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held
            .get(&key)
            .is_some_and(|(ns, n)| ns == namespace && n == name)
        {
            held.remove(&key);
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
            observes: false,
        }
    }

    fn observer(name: &str, second: i64, owns: bool) -> Claim {
        Claim {
            observes: true,
            ..claim("t", name, second, owns)
        }
    }

    #[test]
    fn observers_claim_nothing_block_no_one_and_may_be_many() {
        let registry = Registry::default();
        let (first, second) = (observer("o1", 1, false), observer("o2", 2, false));
        assert!(!first.counts(false) && !second.counts(false));
        let manager = claim("t", "m", 30, false);
        let everyone = [first.clone(), second.clone(), manager.clone()];
        assert_eq!(
            check(&registry, "k", &manager, &everyone, false),
            Ok(()),
            "two earlier observers do not keep a later manager from the object"
        );
        // What the first observer would meet if it were managed: nobody yet (it is older and the
        // manager owns nothing); once the manager records ownership, the manager.
        assert_eq!(would_be_held_by(&first, &everyone), None);
        let owner = claim("t", "m", 30, true);
        let now = [first.clone(), second.clone(), owner.clone()];
        assert_eq!(would_be_held_by(&first, &now), Some(&owner));
        assert_eq!(
            would_be_held_by(&second, std::slice::from_ref(&first)),
            None
        );
    }

    #[test]
    fn an_observer_that_still_records_ownership_keeps_its_claim() {
        let registry = Registry::default();
        let keeper = observer("was-manager", 1, true);
        assert!(keeper.counts(false) && keeper.counts(true));
        let manager = claim("t", "m", 30, false);
        assert_eq!(
            check(
                &registry,
                "k",
                &manager,
                std::slice::from_ref(&keeper),
                false
            ),
            Err(keeper)
        );
    }

    #[test]
    fn under_dry_run_only_recorded_owners_claim_but_the_forecast_sees_every_manager() {
        let registry = Registry::default();
        let (older, newer) = (claim("t", "a", 1, false), claim("t", "b", 2, false));
        assert!(!older.counts(true));
        assert_eq!(
            check(&registry, "k", &newer, std::slice::from_ref(&older), true),
            Ok(()),
            "under --dry-run nothing is written, so nothing is claimed"
        );
        assert_eq!(
            would_be_held_by(&newer, std::slice::from_ref(&older)),
            Some(&older),
            "without --dry-run, the older one would keep it"
        );
    }

    #[test]
    fn a_grant_an_observer_got_while_it_managed_does_not_outlive_its_switch() {
        let registry = Registry::default();
        let was_manager = claim("t", "o", 1, false);
        assert_eq!(check(&registry, "k", &was_manager, &[], false), Ok(()));
        let now_observer = observer("o", 1, false);
        let manager = claim("t", "m", 2, false);
        assert_eq!(
            check(&registry, "k", &manager, &[now_observer], false),
            Ok(()),
            "its grant is not a live claim any more"
        );
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
        assert_eq!(check(&registry, "k", &b, &[], false), Ok(()));
        let held = check(&registry, "k", &a, std::slice::from_ref(&b), false).unwrap_err();
        assert_eq!(
            held.name, "b",
            "b holds the grant until it lets go or is gone"
        );
        assert_eq!(
            check(&registry, "k", &a, &[], false),
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
