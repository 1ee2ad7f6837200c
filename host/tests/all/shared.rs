//! Hosts sharing pools on one Redis (issue 16), as engines in this process, each with its own
//! Redis store (its own connection) on one `redis-server` (the testkit's, on a free loopback
//! port): what needs two hosts at once and no process of their own. Without `redis-server` the
//! tests pass with a message, unless `CI` is set: then they fail.

use std::sync::Arc;

use parking_lot::Mutex;
use session_host::engine::Engine;
use session_host::settings::SessionSettings;
use session_host::store::{RedisOptions, RedisStore};
use session_host_testkit::redis::RedisServer;

use crate::engine::harness::{client, get, settings};

/// Requests each client of each host sends, one after another.
const PER_CLIENT: usize = 20;

/// Clients per host, all at once.
const CLIENTS: usize = 3;

/// Issue 16, fairness: with one session and fast clients on two hosts, the host holding the
/// session used to take it again in the script that carried its release (the release rides
/// with the next lease), so the other host's requests, looking again every 50 ms, starved.
/// Each host must get a share while both have requests waiting: in the completions up to the
/// moment the first host is done, each host has at least a quarter (strict alternation gives
/// a half; the starving version gave the second host a few percent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_two_loaded_hosts_on_one_session_each_get_a_share() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        time_scale: 0.0,
        ..zyte_emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let settings = SessionSettings {
        pool_size: 1,
        max_session_concurrency: 1,
        delay: 0.0,
        queue_wait_time: 0.05,
        queue_max_attempts: 200,
        ..settings()
    };
    let mut hosts = Vec::new();
    for _ in 0..2 {
        let store = RedisStore::connect(&redis.url(), RedisOptions::default())
            .await
            .expect("the Redis store");
        hosts.push(Engine::with_store(
            settings.clone(),
            client(&emulator),
            Arc::new(store),
        ));
    }
    // The session exists before the load starts.
    hosts[0]
        .execute(get("https://example.com/"))
        .await
        .expect("a response");
    let done: Arc<Mutex<Vec<usize>>> = Arc::default();
    let mut clients = Vec::new();
    for (h, host) in hosts.iter().enumerate() {
        for _ in 0..CLIENTS {
            let (host, done) = (host.clone(), done.clone());
            clients.push(tokio::spawn(async move {
                for i in 0..PER_CLIENT {
                    let url = format!("https://example.com/{h}/{i}");
                    host.execute(get(&url)).await.expect("a response");
                    done.lock().push(h);
                }
            }));
        }
    }
    for client in clients {
        client.await.expect("the client ends");
    }
    let done = done.lock().clone();
    let per_host = CLIENTS * PER_CLIENT;
    let mut counts = [0usize; 2];
    let mut both = 0;
    for &h in &done {
        counts[h] += 1;
        both += 1;
        if counts[h] == per_host {
            break;
        }
    }
    eprintln!("uses per host while both waited: {counts:?} of {both}");
    let least = counts[0].min(counts[1]);
    assert!(
        least * 4 >= both,
        "while both hosts had requests waiting, one got {least} of {both} uses: {counts:?}"
    );
}
