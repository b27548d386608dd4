//! Decide (pure): whether a resource owns the remote object under its key, what a pass may do to
//! it, and what deleting the resource does to it. Nothing here reads a clock or makes a call.
//!
//! The rules: a resource owns a remote object only once its status records that it created it
//! (the intent recorded before the create call) or adopted it. Only an owner writes to it or
//! deletes it; a resource that owns nothing is released at once, with no remote call.

use std::time::Duration;

use jiff::Timestamp;

use crate::crd::{DeletionPolicy, Ownership, OwnershipStatus};

/// How far the Admin API's clock may trail ours when telling our own lost create (made after the
/// intent was recorded) from an object that was already there. Erring late is safe: the object
/// is then adopted, never deleted unproven.
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(5);

/// A remote object found under the resource's key: its identity (user id; for a customer, its
/// creation time, else its key) and when the Admin API says it was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    pub id: &'a str,
    pub created_at: Option<Timestamp>,
}

/// What the status records: ownership, since when, and the identity of the object owned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record<'a> {
    pub ownership: Option<Ownership>,
    pub since: Option<Timestamp>,
    pub id: Option<&'a str>,
}

impl<'a> Record<'a> {
    pub fn new(status: &'a OwnershipStatus, id: Option<&'a str>) -> Self {
        Self {
            ownership: status.ownership,
            since: status.owned_since.as_deref().and_then(|s| s.parse().ok()),
            id,
        }
    }
}

/// This resource's standing towards what is under its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Nothing is there.
    Absent,
    /// The object the status records (same identity), or this resource's own create whose
    /// response was lost (made after the intent was recorded).
    Own,
    /// Something this resource has not recorded: made elsewhere, or a replacement of its own.
    Foreign,
}

pub fn standing(record: &Record<'_>, found: Option<Found<'_>>) -> Standing {
    let Some(found) = found else {
        return Standing::Absent;
    };
    let own = match record.ownership {
        None => false,
        Some(Ownership::Created | Ownership::Adopted) => record.id == Some(found.id),
        Some(Ownership::Creating) => match (record.since, found.created_at) {
            (Some(since), Some(created)) => {
                let tolerance = jiff::SignedDuration::try_from(CLOCK_TOLERANCE).unwrap_or_default();
                created >= since - tolerance
            }
            _ => false,
        },
    };
    if own {
        Standing::Own
    } else {
        Standing::Foreign
    }
}

/// What a pass does about ownership, before any field is compared; it carries the remote object
/// the pass goes on with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnershipStep<R> {
    /// Record the intent to create (status), then create. `again`: the recorded object is gone
    /// (deleted outside Kubernetes) and is made anew.
    Create { again: bool },
    /// Already owned: bring it to the spec.
    Keep(R),
    /// Its own create, whose response was lost: record it as created, then bring it to the spec.
    Confirm(R),
    /// Record the adoption (status and an Event) before any write to it.
    Adopt(R),
    /// Something is there that this resource may not adopt: touch nothing.
    Refuse,
}

pub fn ownership_step<R>(
    record: &Record<'_>,
    remote: Option<R>,
    identify: impl for<'r> Fn(&'r R) -> Found<'r>,
    adoption_allowed: bool,
) -> OwnershipStep<R> {
    let Some(remote) = remote else {
        return OwnershipStep::Create {
            again: matches!(
                record.ownership,
                Some(Ownership::Created | Ownership::Adopted)
            ),
        };
    };
    match standing(record, Some(identify(&remote))) {
        Standing::Own if record.ownership == Some(Ownership::Creating) => {
            OwnershipStep::Confirm(remote)
        }
        Standing::Own => OwnershipStep::Keep(remote),
        _ if adoption_allowed => OwnershipStep::Adopt(remote),
        _ => OwnershipStep::Refuse,
    }
}

/// Why a deleted resource let go of its remote object without deleting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Left {
    /// `deletionPolicy: Orphan`.
    Orphaned,
    /// The status records no ownership: nothing remote is this resource's to delete.
    OwnedNothing,
    /// The owned object is already gone.
    AlreadyGone,
    /// What is under the key now is not the object this resource owns.
    NotOurs,
}

/// What deleting a resource does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanupStep {
    /// Remove the finalizer, with no (further) remote call.
    Release(Left),
    /// Look at the remote side first (with the recorded credentials).
    Look,
    /// Delete the owned object, then release.
    Delete,
}

/// `seen`: the standing found by the look, once it has been made.
pub fn cleanup_step(
    policy: DeletionPolicy,
    ownership: Option<Ownership>,
    seen: Option<Standing>,
) -> CleanupStep {
    if policy == DeletionPolicy::Orphan {
        return CleanupStep::Release(Left::Orphaned);
    }
    if ownership.is_none() {
        return CleanupStep::Release(Left::OwnedNothing);
    }
    match seen {
        None => CleanupStep::Look,
        Some(Standing::Absent) => CleanupStep::Release(Left::AlreadyGone),
        Some(Standing::Own) => CleanupStep::Delete,
        Some(Standing::Foreign) => CleanupStep::Release(Left::NotOurs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn record(ownership: Option<Ownership>, since: i64, id: Option<&str>) -> Record<'_> {
        Record {
            ownership,
            since: Some(at(since)),
            id,
        }
    }

    fn found(id: &str, created: i64) -> Found<'_> {
        Found {
            id,
            created_at: Some(at(created)),
        }
    }

    #[test]
    fn only_the_recorded_object_or_our_own_lost_create_is_owned() {
        let created = record(Some(Ownership::Created), 100, Some("u1"));
        assert_eq!(standing(&created, Some(found("u1", 100))), Standing::Own);
        assert_eq!(
            standing(&created, Some(found("u2", 200))),
            Standing::Foreign,
            "a replacement made in the Console is not ours"
        );
        assert_eq!(standing(&created, None), Standing::Absent);

        let intent = record(Some(Ownership::Creating), 100, None);
        assert_eq!(
            standing(&intent, Some(found("u1", 101))),
            Standing::Own,
            "made after the intent: our lost create"
        );
        assert_eq!(
            standing(&intent, Some(found("u1", 98))),
            Standing::Own,
            "within the clock tolerance"
        );
        assert_eq!(
            standing(&intent, Some(found("u1", 10))),
            Standing::Foreign,
            "made long before the intent: someone else's"
        );
        let unknown_time = Some(Found {
            id: "u1",
            created_at: None,
        });
        assert_eq!(
            standing(&intent, unknown_time),
            Standing::Foreign,
            "unproven is not ours"
        );

        let nothing = Record::default();
        assert_eq!(
            standing(&nothing, Some(found("u1", 100))),
            Standing::Foreign
        );
        let created_without_id = record(Some(Ownership::Adopted), 100, None);
        assert_eq!(
            standing(&created_without_id, Some(found("u1", 100))),
            Standing::Foreign
        );
    }

    #[test]
    fn a_pass_creates_keeps_adopts_or_refuses() {
        fn step(
            record: &Record<'_>,
            remote: Option<(&str, i64)>,
            adopt: bool,
        ) -> OwnershipStep<String> {
            fn identify<'r>(r: &'r (&str, i64)) -> Found<'r> {
                Found {
                    id: r.0,
                    created_at: Some(at(r.1)),
                }
            }
            match ownership_step(record, remote, identify, adopt) {
                OwnershipStep::Create { again } => OwnershipStep::Create { again },
                OwnershipStep::Keep(r) => OwnershipStep::Keep(r.0.to_string()),
                OwnershipStep::Confirm(r) => OwnershipStep::Confirm(r.0.to_string()),
                OwnershipStep::Adopt(r) => OwnershipStep::Adopt(r.0.to_string()),
                OwnershipStep::Refuse => OwnershipStep::Refuse,
            }
        }
        let nothing = Record::default();
        let owned = record(Some(Ownership::Created), 1, Some("u1"));
        let intent = record(Some(Ownership::Creating), 100, None);
        assert_eq!(
            step(&nothing, None, true),
            OwnershipStep::Create { again: false }
        );
        assert_eq!(
            step(&intent, None, true),
            OwnershipStep::Create { again: false },
            "intent recorded, create never applied: create"
        );
        assert_eq!(
            step(&owned, None, false),
            OwnershipStep::Create { again: true },
            "our object deleted by hand: made anew (adoption has nothing to do with it)"
        );
        assert_eq!(
            step(&owned, Some(("u1", 1)), false),
            OwnershipStep::Keep("u1".into())
        );
        assert_eq!(
            step(&intent, Some(("u9", 101)), false),
            OwnershipStep::Confirm("u9".into()),
            "intent recorded, create applied, response lost: ours, no adoption needed"
        );
        assert_eq!(
            step(&nothing, Some(("u1", 1)), true),
            OwnershipStep::Adopt("u1".into())
        );
        assert_eq!(
            step(&nothing, Some(("u1", 1)), false),
            OwnershipStep::Refuse
        );
        assert_eq!(
            step(&intent, Some(("u1", 10)), false),
            OwnershipStep::Refuse,
            "there before our intent: not ours to take without adoption"
        );
        assert_eq!(
            step(&owned, Some(("u2", 5)), false),
            OwnershipStep::Refuse,
            "a replacement is adopted only where adoption is allowed"
        );
        assert_eq!(
            step(&owned, Some(("u2", 5)), true),
            OwnershipStep::Adopt("u2".into())
        );
    }

    #[test]
    fn deletion_deletes_only_what_is_proven_owned() {
        use CleanupStep::{Delete, Look, Release};
        let delete = DeletionPolicy::Delete;
        // Never reached past InvalidSpec / InvalidPassword / Conflict: nothing recorded.
        assert_eq!(
            cleanup_step(delete, None, None),
            Release(Left::OwnedNothing)
        );
        assert_eq!(
            cleanup_step(delete, None, Some(Standing::Foreign)),
            Release(Left::OwnedNothing),
            "an object under the key is not a reason to delete it"
        );
        for owned in [Ownership::Creating, Ownership::Created, Ownership::Adopted] {
            assert_eq!(cleanup_step(delete, Some(owned), None), Look);
            assert_eq!(
                cleanup_step(delete, Some(owned), Some(Standing::Own)),
                Delete
            );
            assert_eq!(
                cleanup_step(delete, Some(owned), Some(Standing::Absent)),
                Release(Left::AlreadyGone)
            );
            assert_eq!(
                cleanup_step(delete, Some(owned), Some(Standing::Foreign)),
                Release(Left::NotOurs)
            );
            assert_eq!(
                cleanup_step(DeletionPolicy::Orphan, Some(owned), None),
                Release(Left::Orphaned)
            );
        }
    }
}
