//! Observe: two indexes over the CustomerUser cache, kept from the same watch events as the cache,
//! so that no pass scans every cached user: the users with a given email (rivals for a claim) and
//! the users of a given Customer (whom its change wakes, whether it still has users).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::packed::PackedUser;
use crate::crd::Customer;
use crate::observe::email_key;

type UserRef = ObjectRef<PackedUser>;

/// A user as the index holds it: its name, and its namespace shared with the other users of the
/// namespace. An `ObjectRef` is 96 bytes and up to four strings; this is 32 bytes and one.
#[derive(Debug, PartialEq, Eq, Hash)]
struct UserKey {
    namespace: Arc<str>,
    name: Box<str>,
}

impl UserKey {
    fn object_ref(&self) -> UserRef {
        ObjectRef::new(&self.name).within(&self.namespace)
    }
}

/// Each user's key is held once, shared by both maps; emails are kept as hashes (callers compare
/// the users' own emails: see `with_email`). An email is nearly always one user's, so the first
/// user of an email hash is held alone and any others in `more_by_email` (a list per email would
/// cost an allocation per user). A Customer's users are many: a set.
#[derive(Debug, Default)]
struct Maps {
    by_email: HashMap<u64, Arc<UserKey>>,
    more_by_email: HashMap<u64, Vec<Arc<UserKey>>>,
    by_customer: HashMap<ObjectRef<Customer>, HashSet<Arc<UserKey>>>,
    /// Each namespace seen, shared by its users' keys (kept until a relist rebuilds the maps).
    namespaces: HashSet<Arc<str>>,
}

impl Maps {
    fn insert(&mut self, user: &PackedUser) {
        let email = email_hash(user);
        let key = self.key_of(user);
        let held = self
            .by_email
            .get(&email)
            .into_iter()
            .chain(self.more_by_email.get(&email).into_iter().flatten())
            .find(|other| ***other == key)
            .cloned();
        let key = match held {
            Some(held) => held,
            None => {
                let key = Arc::new(key);
                match self.by_email.entry(email) {
                    Entry::Vacant(slot) => {
                        slot.insert(key.clone());
                    }
                    Entry::Occupied(_) => self
                        .more_by_email
                        .entry(email)
                        .or_default()
                        .push(key.clone()),
                }
                key
            }
        };
        if let Some(customer) = customer_of(user) {
            self.by_customer.entry(customer).or_default().insert(key);
        }
    }

    fn remove(&mut self, user: &PackedUser) {
        let email = email_hash(user);
        let key = self.key_of(user);
        if self.by_email.get(&email).is_some_and(|held| **held == key) {
            self.by_email.remove(&email);
        }
        if let Some(more) = self.more_by_email.get_mut(&email) {
            more.retain(|other| **other != key);
            if !self.by_email.contains_key(&email)
                && let Some(next) = more.pop()
            {
                self.by_email.insert(email, next);
            }
            if more.is_empty() {
                self.more_by_email.remove(&email);
            }
        }
        if let Some(customer) = customer_of(user)
            && let Some(users) = self.by_customer.get_mut(&customer)
        {
            users.remove(&key);
            if users.is_empty() {
                self.by_customer.remove(&customer);
            }
        }
    }

    /// The user's key, its namespace shared with the others'.
    fn key_of(&mut self, user: &PackedUser) -> UserKey {
        let namespace = user.metadata.namespace.as_deref().unwrap_or_default();
        let namespace = match self.namespaces.get(namespace) {
            Some(held) => held.clone(),
            None => {
                let held: Arc<str> = namespace.into();
                self.namespaces.insert(held.clone());
                held
            }
        };
        UserKey {
            namespace,
            name: user.metadata.name.as_deref().unwrap_or_default().into(),
        }
    }

    fn with_email(&self, email: u64) -> Vec<UserRef> {
        self.by_email
            .get(&email)
            .into_iter()
            .chain(self.more_by_email.get(&email).into_iter().flatten())
            .map(|key| key.object_ref())
            .collect()
    }
}

fn email_hash(user: &PackedUser) -> u64 {
    hash_of_email(&email_key(&user.spec.email))
}

fn hash_of_email(email: &str) -> u64 {
    crate::hash_of(email)
}

/// The Customer a user names by `customerRef` (none for a `customerId` user).
pub fn customer_of(user: &PackedUser) -> Option<ObjectRef<Customer>> {
    let name = &user.spec.customer_ref.as_ref()?.name;
    Some(ObjectRef::new(name).within(user.metadata.namespace.as_deref()?))
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
        self.read(|maps| Some(maps.with_email(hash_of_email(email))))
    }

    /// Users whose `customerRef` names `customer`.
    pub fn of_customer(&self, customer: &ObjectRef<Customer>) -> Vec<UserRef> {
        self.read(|maps| {
            maps.by_customer
                .get(customer)
                .map(|users| users.iter().map(|key| key.object_ref()).collect())
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
    fn users_sharing_an_email_are_all_found_whichever_leaves_first() {
        let index = UserIndex::default();
        let names = ["a", "b", "c"];
        for name in names {
            index.follow(&watcher::Event::Apply(user(
                name,
                "same@x.example",
                "contoso",
            )));
        }
        // Applied again (a status write): still one entry each.
        index.follow(&watcher::Event::Apply(user(
            "b",
            "same@x.example",
            "contoso",
        )));
        let found = |index: &UserIndex| {
            let mut names: Vec<_> = index
                .with_email("same@x.example")
                .into_iter()
                .map(|r| r.name)
                .collect();
            names.sort();
            names
        };
        assert_eq!(found(&index), names);
        index.follow(&watcher::Event::Delete(user(
            "b",
            "same@x.example",
            "contoso",
        )));
        assert_eq!(found(&index), ["a", "c"]);
        index.follow(&watcher::Event::Delete(user(
            "a",
            "same@x.example",
            "contoso",
        )));
        assert_eq!(found(&index), ["c"]);
        assert_eq!(
            index.of_customer(&contoso())[0].namespace.as_deref(),
            Some("tenants")
        );
        index.follow(&watcher::Event::Delete(user(
            "c",
            "same@x.example",
            "contoso",
        )));
        assert!(found(&index).is_empty() && index.of_customer(&contoso()).is_empty());
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
