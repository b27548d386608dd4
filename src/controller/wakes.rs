//! Wiring: which change of one kind wakes passes of the other. Each wake is one the woken pass
//! waits for, so that a status write of one kind does not fan out into passes of the other.

use std::collections::HashMap;

use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::condition::READY;
use super::managed::Managed;
use super::packed::PackedUser;
use super::user_index::{UserIndex, customer_of};
use crate::crd::Customer;

/// What of a Customer its users act on: whether they may proceed, the remote key and the
/// credentials they borrow, and whether it is going away.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Standing {
    ready: bool,
    deleting: bool,
    customer_id: Option<String>,
    credentials: Option<String>,
}

fn standing(customer: &Customer) -> Standing {
    let status = customer.status.as_ref();
    let ready = status
        .and_then(|s| s.sync.conditions.iter().find(|c| c.type_ == READY))
        .is_some_and(|c| {
            c.status == "True" && c.observed_generation == customer.metadata.generation
        });
    Standing {
        ready,
        deleting: customer.metadata.deletion_timestamp.is_some(),
        customer_id: status.and_then(|s| s.customer_id.clone()),
        credentials: customer.credentials_ref().map(str::to_string),
    }
}

/// The last standing seen of each Customer.
#[derive(Debug, Default)]
pub struct CustomerReadiness {
    seen: HashMap<ObjectRef<Customer>, Standing>,
}

impl CustomerReadiness {
    /// The users to wake after `event`: those of a Customer whose standing changed. A Customer
    /// first seen in a (re)list wakes nobody: its users' own list events start their passes.
    pub fn users_to_wake(
        &mut self,
        event: &watcher::Event<Customer>,
        index: &UserIndex,
    ) -> Vec<ObjectRef<PackedUser>> {
        let (customer, listed) = match event {
            watcher::Event::Apply(customer) => (customer, false),
            watcher::Event::InitApply(customer) => (customer, true),
            watcher::Event::Delete(customer) => {
                let reference = ObjectRef::from_obj(customer);
                self.seen.remove(&reference);
                return index.of_customer(&reference);
            }
            watcher::Event::Init | watcher::Event::InitDone => return Vec::new(),
        };
        let reference = ObjectRef::from_obj(customer);
        let now = standing(customer);
        let changed = match self.seen.insert(reference.clone(), now.clone()) {
            Some(before) => before != now,
            None => !listed && now.ready,
        };
        if changed {
            index.of_customer(&reference)
        } else {
            Vec::new()
        }
    }
}

/// The Customer to wake after a user `event`: its own, if that Customer is being deleted (it
/// waits for its users to be gone).
pub fn deleting_customer(
    event: &watcher::Event<PackedUser>,
    customers: &Store<Customer>,
) -> Option<ObjectRef<Customer>> {
    let user = match event {
        watcher::Event::Apply(user)
        | watcher::Event::InitApply(user)
        | watcher::Event::Delete(user) => user,
        watcher::Event::Init | watcher::Event::InitDone => return None,
    };
    let customer = customer_of(user)?;
    customers
        .get(&customer)
        .filter(|c| c.metadata.deletion_timestamp.is_some())
        .map(|_| customer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn customer(generation: i64, ready: &str, observed: i64) -> Customer {
        serde_json::from_value(json!({
            "apiVersion": "admin.corti.app/v1alpha1",
            "kind": "Customer",
            "metadata": { "name": "contoso", "namespace": "tenants", "generation": generation },
            "spec": { "displayName": "Contoso" },
            "status": {
                "customerId": "contoso",
                "conditions": [{
                    "type": "Ready", "status": ready, "reason": "Reconciled", "message": "",
                    "observedGeneration": observed, "lastTransitionTime": "2026-01-01T00:00:00Z"
                }]
            }
        }))
        .expect("a customer")
    }

    fn index_with_one_user() -> UserIndex {
        let index = UserIndex::default();
        let user: PackedUser = serde_json::from_value(json!({
            "apiVersion": "admin.corti.app/v1alpha1",
            "kind": "CustomerUser",
            "metadata": { "name": "jane", "namespace": "tenants" },
            "spec": { "customerRef": { "name": "contoso" }, "email": "j@x.example",
                      "firstName": "J", "lastName": "S" }
        }))
        .expect("a user");
        index.follow(&watcher::Event::Apply(user));
        index
    }

    #[test]
    fn users_wake_when_their_customer_becomes_ready_not_on_every_status_write() {
        let index = index_with_one_user();
        let mut readiness = CustomerReadiness::default();
        // (generation, Ready, observedGeneration) in turn, and how many users each wakes.
        let steps = [
            ((1, "False", 1), 0), // created, not Ready yet: nobody to wake
            ((1, "True", 1), 1),  // Ready for its generation: the user wakes
            ((1, "True", 1), 0),  // another status write: nothing new for the user
            ((2, "True", 1), 1),  // a spec change: not Ready for the new generation
            ((2, "True", 2), 1),  // Ready again
        ];
        for ((generation, ready, observed), woken) in steps {
            let event = watcher::Event::Apply(customer(generation, ready, observed));
            assert_eq!(
                readiness.users_to_wake(&event, &index).len(),
                woken,
                "generation {generation}, Ready {ready}, observed {observed}"
            );
        }
    }

    #[test]
    fn a_listed_customer_wakes_nobody_but_a_new_ready_one_does() {
        let index = index_with_one_user();
        let mut readiness = CustomerReadiness::default();
        let listed = watcher::Event::InitApply(customer(1, "True", 1));
        assert!(readiness.users_to_wake(&listed, &index).is_empty());
        let mut fresh = CustomerReadiness::default();
        assert_eq!(
            fresh
                .users_to_wake(&watcher::Event::Apply(customer(1, "True", 1)), &index)
                .len(),
            1
        );
        // Gone: its users learn at once.
        assert_eq!(
            readiness
                .users_to_wake(&watcher::Event::Delete(customer(1, "True", 1)), &index)
                .len(),
            1
        );
    }
}
