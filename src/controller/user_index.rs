//! Observe: two indexes over the CustomerUser cache, kept from the same watch events as the cache,
//! so that no pass scans every cached user: the users with a given email (rivals for a claim) and
//! the users of a given Customer (whom its change wakes, whether it still has users).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::packed::PackedUser;
use crate::crd::Customer;
use crate::observe::email_key;

type UserRef = ObjectRef<PackedUser>;

/// An email is nearly always one user's, so its users are a short list, not a set (a set's
/// smallest table holds four). A Customer's users are many: a set. Each user's reference is held
/// once, shared by both maps; emails are kept as hashes (callers compare the users' own emails:
/// see `with_email`).
#[derive(Debug, Default)]
struct Maps {
    by_email: HashMap<u64, Vec<Arc<UserRef>>>,
    by_customer: HashMap<ObjectRef<Customer>, HashSet<Arc<UserRef>>>,
}

impl Maps {
    fn insert(&mut self, user: &PackedUser) {
        let same_email = self.by_email.entry(email_hash(user)).or_default();
        let reference = user_ref(user);
        let reference = match same_email.iter().find(|other| ***other == reference) {
            Some(held) => held.clone(),
            None => {
                let reference = Arc::new(reference);
                same_email.push(reference.clone());
                reference
            }
        };
        if let Some(customer) = customer_of(user) {
            self.by_customer
                .entry(customer)
                .or_default()
                .insert(reference);
        }
    }

    fn remove(&mut self, user: &PackedUser) {
        let reference = user_ref(user);
        let email = email_hash(user);
        if let Some(same_email) = self.by_email.get_mut(&email) {
            same_email.retain(|other| **other != reference);
            if same_email.is_empty() {
                self.by_email.remove(&email);
            }
        }
        if let Some(customer) = customer_of(user)
            && let Some(users) = self.by_customer.get_mut(&customer)
        {
            users.remove(&reference);
            if users.is_empty() {
                self.by_customer.remove(&customer);
            }
        }
    }
}

fn email_hash(user: &PackedUser) -> u64 {
    hash_of_email(&email_key(&user.spec.email))
}

fn hash_of_email(email: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    email.hash(&mut hasher);
    hasher.finish()
}

/// Name and namespace only: `ObjectRef::from_obj` also keeps the uid and resourceVersion, which
/// equality ignores and nothing here reads.
fn user_ref(user: &PackedUser) -> UserRef {
    let reference = ObjectRef::new(&user.name_any());
    match user.namespace() {
        Some(namespace) => reference.within(&namespace),
        None => reference,
    }
}

/// The Customer a user names by `customerRef` (none for a `customerId` user).
pub fn customer_of(user: &PackedUser) -> Option<ObjectRef<Customer>> {
    let name = &user.spec.customer_ref.as_ref()?.name;
    Some(ObjectRef::new(name).within(&user.namespace()?))
}

/// Email and `customerRef` are immutable (the CRD says so), so an entry never moves; a relist
/// rebuilds the index beside the live one and swaps it in when complete, as the cache does.
#[derive(Clone, Debug, Default)]
pub struct UserIndex {
    live: Arc<RwLock<Maps>>,
    relist: Arc<RwLock<Option<Maps>>>,
}

impl UserIndex {
    /// Follows one watch event, before the cache's own copy is read by any pass.
    pub fn follow(&self, event: &watcher::Event<PackedUser>) {
        match event {
            watcher::Event::Apply(user) => self.write().insert(user),
            watcher::Event::Delete(user) => self.write().remove(user),
            watcher::Event::Init => *self.relisting() = Some(Maps::default()),
            watcher::Event::InitApply(user) => {
                if let Some(maps) = self.relisting().as_mut() {
                    maps.insert(user);
                }
            }
            watcher::Event::InitDone => {
                if let Some(maps) = self.relisting().take() {
                    *self.write() = maps;
                }
            }
        }
    }

    /// Users whose email is `email` under `email_key`, in any namespace, and maybe a few others
    /// (emails are kept as hashes): a caller compares each user's own email.
    pub fn with_email(&self, email: &str) -> Vec<UserRef> {
        self.read(|maps| {
            maps.by_email
                .get(&hash_of_email(email))
                .map(|users| users.iter().map(|user| UserRef::clone(user)).collect())
        })
    }

    /// Users whose `customerRef` names `customer`.
    pub fn of_customer(&self, customer: &ObjectRef<Customer>) -> Vec<UserRef> {
        self.read(|maps| {
            maps.by_customer
                .get(customer)
                .map(|users| users.iter().map(|user| UserRef::clone(user)).collect())
        })
    }

    fn read(&self, find: impl FnOnce(&Maps) -> Option<Vec<UserRef>>) -> Vec<UserRef> {
        find(&self.live.read().unwrap_or_else(PoisonError::into_inner)).unwrap_or_default()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.live.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn relisting(&self) -> std::sync::RwLockWriteGuard<'_, Option<Maps>> {
        self.relist.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(name: &str, email: &str, customer: &str) -> PackedUser {
        serde_json::from_value(json!({
            "apiVersion": "admin.corti.app/v1alpha1",
            "kind": "CustomerUser",
            "metadata": { "name": name, "namespace": "tenants" },
            "spec": {
                "customerRef": { "name": customer },
                "email": email,
                "firstName": "A",
                "lastName": "B"
            }
        }))
        .expect("a user")
    }

    fn contoso() -> ObjectRef<Customer> {
        ObjectRef::new("contoso").within("tenants")
    }

    #[test]
    fn finds_rivals_by_email_case_insensitively_and_forgets_deleted_users() {
        let index = UserIndex::default();
        let jane = user("jane", "Jane@Contoso.example", "contoso");
        let twin = user("jane-2", "jane@contoso.example ", "contoso");
        index.follow(&watcher::Event::Apply(jane.clone()));
        index.follow(&watcher::Event::Apply(twin.clone()));
        index.follow(&watcher::Event::Apply(user(
            "bob",
            "bob@x.example",
            "other",
        )));
        let mut rivals = index.with_email(&email_key("JANE@contoso.example"));
        rivals.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            rivals.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["jane", "jane-2"]
        );
        assert_eq!(index.of_customer(&contoso()).len(), 2);
        index.follow(&watcher::Event::Delete(jane));
        assert_eq!(
            index.with_email(&email_key("jane@contoso.example")).len(),
            1
        );
        index.follow(&watcher::Event::Delete(twin));
        assert!(
            index
                .with_email(&email_key("jane@contoso.example"))
                .is_empty()
        );
        assert!(index.of_customer(&contoso()).is_empty());
    }

    #[test]
    fn a_relist_drops_users_deleted_while_the_watch_was_down() {
        let index = UserIndex::default();
        index.follow(&watcher::Event::Apply(user(
            "gone",
            "g@x.example",
            "contoso",
        )));
        index.follow(&watcher::Event::Init);
        index.follow(&watcher::Event::InitApply(user(
            "kept",
            "k@x.example",
            "contoso",
        )));
        // Until the relist is complete, the index answers from what it had.
        assert_eq!(index.of_customer(&contoso())[0].name, "gone");
        index.follow(&watcher::Event::InitDone);
        let names: Vec<_> = index
            .of_customer(&contoso())
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["kept"]);
        assert!(index.with_email("g@x.example").is_empty());
    }

    #[test]
    fn a_user_by_customer_id_is_indexed_by_email_only() {
        let index = UserIndex::default();
        let mut direct = user("direct", "d@x.example", "contoso");
        direct.spec.customer_ref = None;
        direct.spec.customer_id = Some("contoso".into());
        index.follow(&watcher::Event::Apply(direct));
        assert_eq!(index.with_email("d@x.example").len(), 1);
        assert!(index.of_customer(&contoso()).is_empty());
    }
}
