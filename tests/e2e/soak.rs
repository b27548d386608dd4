//! The fault suite: 200 users in 5 customers provisioned while the Admin API fails 30 % of calls
//! on every endpoint, answers bursts of 429 with `Retry-After`, spikes in latency and loses the
//! responses of applied writes; the operator is SIGKILLed five times at seeded random moments and
//! the API server is restarted once (on a control plane of this test's own). Then half the
//! resources are deleted. Afterwards the remote state must be exactly the model's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use corti_operator::crd::{Customer, CustomerUser};
use corti_operator::sim::{
    Faults, LatencySpike, RateLimit, Role, RunningSim, SimConfig, Simulator, StoredCustomer,
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, ResourceExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::harness::ready_is;
use crate::own_plane::{OwnPlane, spawn_operator};
use crate::support::eventually;

const NS: &str = "soak";
const PROJECT: &str = "soak-project";
const EMAIL: &str = "admin@soak.test";
const PASSWORD: &str = "soak-password-0123456789";
const CUSTOMERS: usize = 5;
const USERS_PER_CUSTOMER: usize = 40;
const KILLS: usize = 5;
/// From the last chaos event to every resource Ready: a backoff that reached 64 s, and the work.
const CONVERGE: Duration = Duration::from_secs(120);
/// From the deletions to every deleted resource gone: a stuck finalizer fails here.
const RELEASE: Duration = Duration::from_secs(90);
/// Asserted bound on calls ÷ model minimum; measured 1.49 (seed 1795674185). 30 % 5xx alone
/// costs 1 ÷ 0.7 = 1.43 attempts per call while provisioning; each 429 window adds a refusal or a
/// few, each lost response a list and a retry, each restart a login and the lists again. Twice
/// the measure leaves room for an unlucky seed, yet fails a hot loop or a list per resource.
const MAX_CALL_RATIO: f64 = 3.0;

fn seed() -> u64 {
    std::env::var("CORTI_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        })
}

fn customer_name(c: usize) -> String {
    format!("c-{c}")
}

fn customer_id(c: usize) -> String {
    format!("soak-{c}")
}

fn user_name(c: usize, u: usize) -> String {
    format!("u-{c}-{u}")
}

fn email(c: usize, u: usize) -> String {
    format!("u{u}@c{c}.soak.example")
}

/// Customer 0 is deleted with `Delete` (and its users, all `Delete`), customer 1 with `Orphan`;
/// the others stay. Users alternate policies elsewhere.
fn customer_policy(c: usize) -> &'static str {
    if c == 1 || c == 3 { "Orphan" } else { "Delete" }
}

fn user_policy(c: usize, u: usize) -> &'static str {
    if c == 0 || u.is_multiple_of(2) {
        "Delete"
    } else {
        "Orphan"
    }
}

/// Half the resources: customers 0 and 1 with all their users, and the first 8 users of the
/// others (4 of each policy): 2 + 80 + 24 = 106 of 205.
fn deleted_customer(c: usize) -> bool {
    c < 2
}

fn deleted_user(c: usize, u: usize) -> bool {
    deleted_customer(c) || u < 8
}

async fn create_all(client: kube::Client) {
    let customers: Api<Customer> = Api::namespaced(client.clone(), NS);
    let users: Api<CustomerUser> = Api::namespaced(client, NS);
    let post = PostParams::default();
    for c in 0..CUSTOMERS {
        let customer = serde_json::from_value(json!({
            "apiVersion": "admin.corti.app/v1alpha1", "kind": "Customer",
            "metadata": { "name": customer_name(c) },
            "spec": { "customerId": customer_id(c), "displayName": format!("Soak {c}"),
                      "credentialsSecretRef": { "name": "corti-admin" },
                      "deletionPolicy": customer_policy(c) },
        }))
        .expect("a Customer");
        customers
            .create(&post, &customer)
            .await
            .expect("create Customer");
    }
    for u in 0..USERS_PER_CUSTOMER {
        for c in 0..CUSTOMERS {
            let user = serde_json::from_value(json!({
                "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
                "metadata": { "name": user_name(c, u) },
                "spec": { "customerRef": { "name": customer_name(c) }, "email": email(c, u),
                          "firstName": "Soak", "lastName": format!("User {u}"),
                          "deletionPolicy": user_policy(c, u) },
            }))
            .expect("a CustomerUser");
            users
                .create(&post, &user)
                .await
                .expect("create CustomerUser");
        }
    }
}

async fn setup(plane: &OwnPlane, client: &kube::Client) {
    plane.install_crds();
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": NS } })).expect("a Namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create the namespace");
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "corti-admin" },
        "stringData": { "email": EMAIL, "password": PASSWORD, "projectId": PROJECT },
    }))
    .expect("a Secret");
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .expect("create the Secret");
}

fn remote(sim: &RunningSim) -> Vec<StoredCustomer> {
    sim.sim
        .snapshot()
        .projects
        .into_iter()
        .find(|p| p.project_id == PROJECT)
        .map(|p| p.customers)
        .unwrap_or_default()
}

fn remote_users(sim: &RunningSim) -> usize {
    remote(sim).iter().map(|c| c.users.len()).sum()
}

/// How many Customers and CustomerUsers exist, and how many of them are Ready.
async fn count(client: &kube::Client) -> (usize, usize) {
    let customers: Api<Customer> = Api::namespaced(client.clone(), NS);
    let users: Api<CustomerUser> = Api::namespaced(client.clone(), NS);
    let (Ok(customers), Ok(users)) = (
        customers.list(&ListParams::default()).await,
        users.list(&ListParams::default()).await,
    ) else {
        return (usize::MAX, 0);
    };
    let ready = customers
        .iter()
        .filter(|c| ready_is(*c, "True", "Reconciled"))
        .count()
        + users
            .iter()
            .filter(|u| ready_is(*u, "True", "Reconciled"))
            .count();
    (customers.items.len() + users.items.len(), ready)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the control-plane binaries: make test-e2e"]
async fn provisioning_survives_faults_kills_and_an_api_server_restart() {
    let seed = seed();
    eprintln!("fault suite: seed {seed} (CORTI_SOAK_SEED={seed} repeats the schedule)");
    let mut rng = StdRng::seed_from_u64(seed);
    let began = Instant::now();
    let plane = tokio::task::spawn_blocking(OwnPlane::start)
        .await
        .expect("the control plane starts");
    let client = plane.client().await;
    setup(&plane, &client).await;
    let config = SimConfig::new()
        .project(PROJECT)
        .account(EMAIL, PASSWORD, Role::Admin);
    let sim = Simulator::bind(config, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("the simulator starts");
    sim.sim.set_faults(Faults {
        error_rate_all: 0.3,
        latency_spike: Some(LatencySpike {
            probability: 0.05,
            ms: 1500,
        }),
        fail_after_apply_rate: 0.05,
        ..Faults::default()
    });
    // Every 10 s, a 1 s window in which every call answers 429 with `Retry-After: 1`. (A burst
    // of a fixed count would wait for calls, and a lone resource left retrying would meet it
    // on every attempt.)
    let bursts = {
        let sim = sim.sim.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(9)).await;
                sim.update_faults(|f| {
                    f.rate_limit = Some(RateLimit {
                        count: u32::MAX,
                        retry_after_seconds: 1,
                    });
                });
                tokio::time::sleep(Duration::from_secs(1)).await;
                sim.update_faults(|f| f.rate_limit = None);
            }
        })
    };
    let logs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let log = logs.join(format!("soak-{seed}-operator.log"));
    let _ = std::fs::remove_file(&log);
    // A resync longer than the test: the calls counted are those the faults cost, not resyncs.
    let flags = [
        "--concurrency",
        "8",
        "--resync-period",
        "10m",
        "--slow-retry",
        "2s",
        "--admin-api-timeout",
        "3s",
    ];
    let start = || spawn_operator(&plane, &sim.base_url, NS, &log, &flags);
    let mut operator = start();
    let creating = tokio::spawn(create_all(client.clone()));

    // Five SIGKILLs 3 to 8 s apart, each followed by a restart 0 to 1 s later; the API server
    // restart after a random one of them, once every resource was created.
    let apiserver_after = rng.random_range(0..KILLS);
    let mut creating = Some(creating);
    let mut remote_at_kills = Vec::new();
    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(3000..8000))).await;
        operator.kill().await.expect("SIGKILL the operator");
        remote_at_kills.push(remote(&sim).len() + remote_users(&sim));
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1000))).await;
        if kill == apiserver_after {
            if let Some(creating) = creating.take() {
                creating.await.expect("every resource created");
            }
            let restarted = Instant::now();
            tokio::task::block_in_place(|| plane.restart_apiserver());
            eprintln!(
                "fault suite: API server restarted in {:?}",
                restarted.elapsed()
            );
        }
        operator = start();
    }
    if let Some(creating) = creating.take() {
        creating.await.expect("every resource created");
    }
    eprintln!(
        "fault suite: remote objects at the {KILLS} kills: {remote_at_kills:?} of {}",
        CUSTOMERS * (USERS_PER_CUSTOMER + 1)
    );
    assert!(
        remote_at_kills[0] < CUSTOMERS * (USERS_PER_CUSTOMER + 1),
        "the first kill came after provisioning was done: it tested nothing"
    );

    // The provisioning's faults end with it. With 30 % of calls failing, a resource's
    // exponential backoff grows with each failed pass (1, 2, 4 ... s): left on, the unluckiest
    // of 205 would wait minutes between attempts.
    bursts.abort();
    sim.sim.set_faults(Faults::default());
    let total = CUSTOMERS * (USERS_PER_CUSTOMER + 1);
    let chaos_over = Instant::now();
    eventually(
        &format!("{total} resources Ready; operator log {}", log.display()),
        CONVERGE,
        || async { count(&client).await == (total, total) },
    )
    .await;
    eprintln!(
        "fault suite: all {total} Ready {:?} after the last chaos event",
        chaos_over.elapsed()
    );

    // Half the resources deleted, while 10 % of calls fail and 5 % of applied writes (deletes
    // among them) lose their response.
    sim.sim.set_faults(Faults {
        error_rate_all: 0.1,
        fail_after_apply_rate: 0.05,
        ..Faults::default()
    });
    let customers: Api<Customer> = Api::namespaced(client.clone(), NS);
    let users: Api<CustomerUser> = Api::namespaced(client.clone(), NS);
    let mut deleted = (0, 0);
    for c in 0..CUSTOMERS {
        for u in (0..USERS_PER_CUSTOMER).filter(|&u| deleted_user(c, u)) {
            users
                .delete(&user_name(c, u), &DeleteParams::default())
                .await
                .expect("delete a CustomerUser");
            deleted.1 += 1;
        }
        if deleted_customer(c) {
            customers
                .delete(&customer_name(c), &DeleteParams::default())
                .await
                .expect("delete a Customer");
            deleted.0 += 1;
        }
    }
    let remaining = total - deleted.0 - deleted.1;
    let deleting = Instant::now();
    eventually(
        &format!(
            "the deleted resources gone (no stuck finalizer); log {}",
            log.display()
        ),
        RELEASE,
        || async { count(&client).await == (remaining, remaining) },
    )
    .await;
    eprintln!(
        "fault suite: {} deletions released in {:?}",
        deleted.0 + deleted.1,
        deleting.elapsed()
    );
    sim.sim.set_faults(Faults::default());
    operator.kill().await.expect("stop the operator");

    assert_remote_state(&sim, &client).await;
    let ratio = call_ratio(&sim);
    eprintln!("fault suite: finished in {:?}", began.elapsed());
    assert!(
        ratio <= MAX_CALL_RATIO,
        "Admin API calls ÷ model minimum = {ratio:.2}, above {MAX_CALL_RATIO}"
    );
}

/// Exactly one remote object per remaining resource, none for a resource deleted with `Delete`,
/// and the orphans still there: the remote state is exactly the model's, object for object.
async fn assert_remote_state(sim: &RunningSim, client: &kube::Client) {
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in 0..CUSTOMERS {
        let remote_customer_kept = !deleted_customer(c) || customer_policy(c) == "Orphan";
        if !remote_customer_kept {
            continue;
        }
        let emails = want.entry(customer_id(c)).or_default();
        for u in 0..USERS_PER_CUSTOMER {
            if !deleted_user(c, u) || user_policy(c, u) == "Orphan" {
                emails.push(email(c, u));
            }
        }
        emails.sort();
    }
    let got: BTreeMap<String, Vec<String>> = remote(sim)
        .into_iter()
        .map(|c| {
            let mut emails: Vec<String> = c.users.into_iter().map(|u| u.user.email).collect();
            emails.sort();
            (c.customer.customer_id, emails)
        })
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "remote customers: one per remaining or orphaned Customer, none for one deleted with Delete"
    );
    for (id, emails) in &want {
        let mut unique = got[id].clone();
        unique.dedup();
        assert_eq!(unique.len(), got[id].len(), "a duplicate user in {id}");
        assert_eq!(&got[id], emails, "remote users of {id}");
    }
    // And every remaining resource records the remote object it owns.
    let users: Api<CustomerUser> = Api::namespaced(client.clone(), NS);
    for user in users.list(&ListParams::default()).await.expect("list") {
        let status = user.status.clone().unwrap_or_default();
        assert!(
            status.user_id.is_some(),
            "{} has no userId",
            user.name_any()
        );
    }
}

/// Calls ÷ the model minimum: one login, the list pages (customers, then users per customer,
/// 100 a page), one create per object and one delete per resource deleted with `Delete`.
fn call_ratio(sim: &RunningSim) -> f64 {
    let calls: u64 = sim.sim.calls().iter().map(|c| c.count).sum();
    let pages = |n: usize| n.div_ceil(100).max(1);
    let lists = pages(CUSTOMERS) + CUSTOMERS * pages(USERS_PER_CUSTOMER);
    let creates = CUSTOMERS * (USERS_PER_CUSTOMER + 1);
    let deletes = (0..CUSTOMERS)
        .map(|c| {
            let users = (0..USERS_PER_CUSTOMER)
                .filter(|&u| deleted_user(c, u) && user_policy(c, u) == "Delete")
                .count();
            users + usize::from(deleted_customer(c) && customer_policy(c) == "Delete")
        })
        .sum::<usize>();
    let minimum = 1 + lists + creates + deletes;
    let as_f64 = |n: u64| f64::from(u32::try_from(n).expect("a count that fits in u32"));
    let ratio = as_f64(calls) / as_f64(minimum as u64);
    let by_status = sim.sim.calls().iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.status).or_insert(0) += c.count;
        m
    });
    eprintln!(
        "fault suite: Admin API calls {calls} ÷ model minimum {minimum} (1 login + {lists} lists + \
         {creates} creates + {deletes} deletes) = {ratio:.2}; by status {by_status:?}"
    );
    ratio
}
