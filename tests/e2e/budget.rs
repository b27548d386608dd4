//! The call budget: once converged, a forced resync of every resource makes no writes and no more
//! list calls than the snapshot model allows, read from the simulator's counters.

use std::time::Duration;

use corti_operator::crd::{Customer, CustomerUser};
use corti_operator::sim::SimConfig;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT};
use crate::support::eventually;

/// The simulator's page size for this test, so a few users span several pages.
const PAGE: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn a_forced_resync_of_everything_makes_no_writes_and_few_lists() {
    // A long resync period: only the forced resync runs during the measurement.
    let sim = SimConfig::new().max_page_size(u32::try_from(PAGE).unwrap_or(5));
    let env = Env::start_with(
        "e2e-budget",
        sim,
        &["--resync-period", "10m", "--slow-retry", "10m"],
    )
    .await;
    let sizes = [0_u64, 4, 12];
    for (c, &size) in sizes.iter().enumerate() {
        env.customer(&format!("c{c}"), json!({ "displayName": format!("C{c}"), "credentialsSecretRef": { "name": CREDENTIALS } })).await;
        for u in 0..size {
            env.user(
                &format!("c{c}-u{u}"),
                json!({ "customerRef": { "name": format!("c{c}") }, "email": format!("u{u}@c{c}.example"), "firstName": "U", "lastName": format!("{u}") }),
            )
            .await;
        }
    }
    let total: u64 = sizes.iter().sum::<u64>() + sizes.len() as u64;
    eventually("everything Ready", WAIT * 2, || async {
        let (customers, users) = everything(&env).await;
        let ready = users
            .iter()
            .filter(|u| crate::harness::ready_is(*u, "True", "Reconciled"))
            .count()
            + customers
                .iter()
                .filter(|c| crate::harness::ready_is(*c, "True", "Reconciled"))
                .count();
        ready as u64 == total
    })
    .await;
    // Let the convergence settle (status-change echoes), then measure only the forced resync.
    tokio::time::sleep(Duration::from_secs(6)).await;
    env.sim.sim.reset_calls();

    let params = PatchParams::default();
    let annotate = json!({ "metadata": { "annotations": { "admin.corti.app/resync": "r1" } } });
    for customer in env
        .customers()
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
    {
        let name = customer.metadata.name.unwrap_or_default();
        env.customers()
            .patch(&name, &params, &Patch::Merge(&annotate))
            .await
            .expect("annotate");
    }
    for user in env
        .users()
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
    {
        let name = user.metadata.name.unwrap_or_default();
        env.users()
            .patch(&name, &params, &Patch::Merge(&annotate))
            .await
            .expect("annotate");
    }
    eventually(
        "every resource acted on the resync request",
        WAIT,
        || async {
            let (customers, users) = everything(&env).await;
            users.iter().all(|u| {
                u.status
                    .as_ref()
                    .and_then(|s| s.sync.last_resync.as_deref())
                    == Some("r1")
            }) && customers.iter().all(|c| {
                c.status
                    .as_ref()
                    .and_then(|s| s.sync.last_resync.as_deref())
                    == Some("r1")
            })
        },
    )
    .await;

    let calls = env.sim.sim.calls();
    let count = |method: &str| {
        calls
            .iter()
            .filter(|c| c.method == method)
            .map(|c| c.count)
            .sum::<u64>()
    };
    let writes =
        count("POST") - env.calls("POST", "/auth/token") + count("PATCH") + count("DELETE");
    let lists = count("GET");
    let pages = |n: u64| n.div_ceil(PAGE).max(1) + u64::from(n > 0 && n.is_multiple_of(PAGE));
    // One list of the project's customers, and one of the users of each customer that has any
    // (no CustomerUser names c0, so nothing asks for its users).
    let budget = pages(sizes.len() as u64)
        + sizes
            .iter()
            .filter(|&&n| n > 0)
            .map(|&n| pages(n))
            .sum::<u64>();
    println!(
        "forced resync of {total} resources: {lists} list calls (budget {budget}), {writes} writes"
    );
    assert_eq!(
        writes, 0,
        "a pass with no difference makes no writes: {calls:?}"
    );
    assert!(
        lists <= budget,
        "{lists} list calls, budget {budget}: {calls:?}"
    );
    env.finish().await;
}

/// Every Customer and CustomerUser of the test's namespace (empty while the API server fails).
async fn everything(env: &Env) -> (Vec<Customer>, Vec<CustomerUser>) {
    let customers = env.customers().list(&ListParams::default()).await;
    let users = env.users().list(&ListParams::default()).await;
    (
        customers.map(|l| l.items).unwrap_or_default(),
        users.map(|l| l.items).unwrap_or_default(),
    )
}
