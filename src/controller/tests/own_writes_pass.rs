//! A pass over a cached copy older than the operator's own last status write waits for the watch
//! instead of judging its object from before that write.

use std::sync::Arc;

use kube::runtime::controller::Action;
use serde_json::json;

use super::World;
use super::user_pass::{ready_customer, user};
use crate::controller::own_writes::LAG_RETRY;
use crate::controller::pass::reconcile;

const JANE: &str = "/apis/admin.corti.app/v1alpha1/namespaces/tenant/customerusers/jane";

#[tokio::test]
async fn a_pass_over_a_copy_from_before_its_own_write_waits_and_adopts_nothing() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let fresh = user(json!({}), json!({}));
    world.user(&fresh);
    // The API server answers the pass's status writes with a newer resourceVersion than the
    // cache's copy (1), as it does.
    let mut served = serde_json::to_value(&fresh).expect("json");
    served["metadata"]["resourceVersion"] = json!("2");
    world.kube.put(JANE, served);
    world.pass(&fresh).await;
    assert_eq!(world.remote_users(), 1, "the first pass created the user");
    let written = world.last_status();
    world.reset_calls();

    // A wake-up before the watch brought the written copy: the cache still holds `fresh`.
    let action = reconcile(Arc::new(fresh.clone()), world.ctx.clone())
        .await
        .expect("the pass ends");
    assert_eq!(action, Action::requeue(LAG_RETRY));
    assert!(
        world.kube.calls().is_empty(),
        "{:?}",
        world.kube.call_lines()
    );
    assert!(
        world.kube.events().is_empty(),
        "no Adopted Event for its own user"
    );
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());

    // The watch brings it: the next pass finds its own record and writes nothing.
    let mut shown = user(json!({}), written);
    shown.metadata.resource_version = Some("2".into());
    world.user(&shown);
    world
        .ctx
        .own_writes
        .seen("CustomerUser/tenant/jane", Some("2"));
    world.pass(&shown).await;
    assert!(
        world.kube.status_writes().is_empty(),
        "{:?}",
        world.kube.call_lines()
    );
    assert!(world.kube.events().is_empty());
    assert_eq!(world.remote_users(), 1);
}
