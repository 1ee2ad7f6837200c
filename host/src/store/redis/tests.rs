//! The scripts against a real `redis-server` (Debian's package), started on a free loopback
//! port and stopped by its pid. Two stores on one server stand for two hosts. Without
//! `redis-server` the tests pass with a message, unless `CI` is set: then they fail.

use std::time::{Duration, Instant};

use session_host_testkit::redis::RedisServer as Server;

use super::*;
use crate::settings::SessionSettings;
use crate::store::PoolKind;

/// Starts one, or `None` when `redis-server` is missing outside CI.
async fn server() -> Option<Server> {
    Server::start()
}

async fn host(server: &Server, ttl_ms: u64) -> RedisStore {
    let options = RedisOptions {
        lease_ttl: Duration::from_millis(ttl_ms),
        ..RedisOptions::default()
    };
    RedisStore::connect(&server.url(), options)
        .await
        .expect("connect")
}

fn config(size: u32, delay: f64) -> PoolConfig {
    PoolConfig {
        options: PoolOptions {
            size,
            delay,
            randomize_delay: false,
        },
        max_bad_inits: 2,
        kind: PoolKind::Named,
    }
}

fn rotation(max_concurrency: u32) -> Rotation {
    Rotation {
        max_concurrency,
        max_age: None,
        max_idle: None,
    }
}

async fn lease(store: &RedisStore, max: u32) -> Step {
    let rotation = rotation(max);
    let step = store.lease("p", Instant::now(), &rotation, true, 0.5);
    step.await.expect("pool exists")
}

async fn register(store: &RedisStore, size: u32, delay: f64) {
    let how = Registration::Request;
    let now = Instant::now();
    store
        .register("p", config(size, delay), how, now)
        .await
        .expect("registered");
}

/// The pool's first lease asks for a creation, and `s1` is added to answer it.
async fn create_s1(store: &RedisStore, max: u32) {
    assert!(lease(store, max).await.create);
    store
        .add("p", session("s1"), Duration::ZERO, false)
        .await
        .expect("added");
}

fn session(id: &str) -> Session {
    Session::new(id.into(), Instant::now(), SessionData::new(), Vec::new())
}

fn ready(step: &Step) -> Option<Lease> {
    match &step.choice {
        Choice::Ready(lease) => Some(lease.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn issue_16_the_pool_size_is_global_across_hosts() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 2, 0.0).await;
    register(&b, 5, 0.0).await; // the first registration's options win
    assert!(lease(&a, 4).await.create);
    assert!(lease(&b, 4).await.create);
    assert!(
        !lease(&b, 4).await.create,
        "two creations in all, not per host"
    );
    assert_eq!(b.options("p").await.map(|o| o.size), Some(2));
    a.add("p", session("s1"), Duration::ZERO, false)
        .await
        .expect("added");
    let got = ready(&lease(&b, 4).await).expect("b uses a's session");
    assert_eq!(got.session_id, "s1");
}

#[tokio::test]
async fn issue_16_the_session_delay_holds_across_hosts() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 1, 1.0).await;
    create_s1(&a, 4).await;
    let first = ready(&lease(&a, 4).await).expect("ready");
    a.release("p", &first).await;
    match lease(&b, 4).await.choice {
        Choice::Wait(wait) => assert!(wait > Duration::from_millis(900), "{wait:?}"),
        other => panic!("b must wait the delay, got {other:?}"),
    }
}

#[tokio::test]
async fn issue_16_a_dead_hosts_lease_frees_itself_within_the_ttl_and_only_once() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 200).await, host(&server, 200).await);
    register(&a, 1, 0.0).await;
    create_s1(&a, 1).await;
    let held = ready(&lease(&a, 1).await).expect("a holds it");
    assert_eq!(
        lease(&b, 1).await.choice,
        Choice::Busy,
        "never used twice at once"
    );
    // `a` dies: no renewal (its ticker goes with it), no release.
    drop(a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let taken = ready(&lease(&b, 1).await).expect("freed within the TTL");
    assert_eq!(taken.session_id, "s1");
    // The dead holder's late release (sent by a host started again) must not free b's hold.
    let again = host(&server, 200).await;
    again.release("p", &held).await;
    assert_eq!(lease(&again, 1).await.choice, Choice::Busy);
    assert!(b.renew("p", &taken).await);
    assert!(!again.renew("p", &held).await, "a reaped lease is gone");
}

#[tokio::test]
async fn issue_16_close_reopen_bad_inits_and_retirement_are_global() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 2, 0.0).await;
    assert_eq!(a.bad_init("p").await, Some((1, false)));
    assert_eq!(
        b.bad_init("p").await,
        Some((2, true)),
        "max_bad_inits 2, counted globally"
    );
    assert_eq!(
        a.close("p", "bad_session_inits").await.as_deref(),
        Some("bad_session_inits")
    );
    assert_eq!(
        b.close("p", "other").await.as_deref(),
        Some("bad_session_inits")
    );
    assert_eq!(
        lease(&b, 4).await.closed.as_deref(),
        Some("bad_session_inits")
    );
    assert!(b.reopen("p").await);
    assert_eq!(a.closed("p").await, None);
    assert_eq!(a.bad_inits("p").await, Some(0));
    create_s1(&a, 4).await;
    assert!(b.retire("p", "s1", "banned", Instant::now()).await);
    assert!(
        !a.retire("p", "s1", "banned", Instant::now()).await,
        "retired once"
    );
    let step = lease(&a, 4).await;
    assert!(
        step.create,
        "the second initial slot, the retired session gone: {step:?}"
    );
    assert_eq!(lease(&a, 4).await.choice, Choice::Empty);
}

#[tokio::test]
async fn issue_16_session_data_and_failures_live_in_redis() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 1, 0.0).await;
    let s = session("s1");
    s.data.set("token", "t1").expect("set");
    a.add("p", s, Duration::ZERO, false).await.expect("added");
    let data = b.session_data("p", "s1").await.expect("data");
    assert_eq!(data.get("token").as_deref(), Some("t1"));
    let now = Instant::now();
    assert!(!a.count_failure("p", "s1", Failure::Check, 2, now).await);
    assert!(b.count_failure("p", "s1", Failure::Check, 2, now).await);
}

#[test]
fn issue_16_a_password_never_reaches_a_message() {
    let shown = redact("redis://:hunter2@cache.example:6379/0");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!redact("redis://user:hunter2@h/1").contains("hunter2"));
    assert_eq!(redact("redis://h:1/2"), "redis://h:1/2");
}

#[tokio::test]
async fn issue_16_a_redis_outage_is_a_503_store_unavailable_not_a_closed_pool() {
    let Some(mut server) = server().await else {
        return;
    };
    let a = host(&server, 30_000).await;
    register(&a, 1, 0.0).await;
    server.stop();
    let started = Instant::now();
    let step = lease(&a, 4).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout"
    );
    let reason = step.closed.expect("no session while Redis is down");
    assert_eq!(reason, crate::store::UNAVAILABLE);
    let error = crate::engine::closed_error_for_tests("p", reason);
    let problem = crate::problem::Problem::from_engine_error(&error);
    assert_eq!(problem.status, 503, "{error}");
    assert_eq!(problem.type_uri, "/session-host/problem/store-unavailable");
    assert!(a.is_down());
}

#[tokio::test]
async fn issue_16_a_redis_restarted_empty_gets_its_pools_registered_again() {
    let Some(mut server) = server().await else {
        return;
    };
    let a = host(&server, 30_000).await;
    register(&a, 1, 0.0).await;
    assert!(lease(&a, 4).await.create);
    server.restart();
    let mut step = lease(&a, 4).await;
    for _ in 0..50 {
        if step.closed.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        step = lease(&a, 4).await;
    }
    assert!(step.create, "the pool anew, not an unknown pool: {step:?}");
}

#[tokio::test]
async fn issue_16_on_failure_local_serves_local_pools_while_redis_is_down_then_shares_again() {
    let Some(mut server) = server().await else {
        return;
    };
    let redis = host(&server, 30_000).await;
    let store = LocalFallback::new(redis, &crate::settings::SessionSettings::default());
    let store = &store;
    let how = Registration::Request;
    store
        .register("p", config(1, 0.0), how, Instant::now())
        .await
        .expect("registered");
    assert!(lease_any(store).await.create, "from Redis");
    assert!(!lease_any(store).await.create, "size 1, global");
    server.stop();
    let step = lease_any(store).await;
    assert!(
        step.closed.is_none() && step.create,
        "a local pool of its own: {step:?}"
    );
    server.restart();
    let back = Instant::now();
    let mut step = lease_any(store).await;
    while !step.create && back.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        step = lease_any(store).await;
    }
    assert!(step.create, "the restarted Redis' pool, registered again");
    assert!(
        back.elapsed() < PROBE * 4,
        "back within a few probes: {:?}",
        back.elapsed()
    );
}

async fn lease_any(store: &dyn PoolStore) -> Step {
    let rotation = rotation(4);
    let step = store.lease("p", Instant::now(), &rotation, true, 0.5);
    step.await.expect("pool exists")
}

#[tokio::test]
async fn issue_16_guest_data_written_during_a_use_reaches_every_host_with_the_release() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 1, 0.0).await;
    create_s1(&a, 4).await;
    let held = ready(&lease(&a, 4).await).expect("ready");
    let data = a
        .session_data("p", "s1")
        .await
        .expect("data with the lease");
    data.set("token", "t2").expect("set");
    a.count("p", SessionStat::UseCheckPassed);
    a.release("p", &held).await;
    a.settle_now("p").await;
    let seen = b.session_data("p", "s1").await.expect("data");
    assert_eq!(
        seen.get("token").as_deref(),
        Some("t2"),
        "written back at release"
    );
    assert!(
        a.leased.lock().is_empty(),
        "nothing kept after the last release"
    );
    let url = server.url();
    let client = ::redis::Client::open(url).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let stats: Option<i64> = ::redis::cmd("HGET")
        .arg("sh:{/p}:stats")
        .arg(SessionStat::UseCheckPassed.as_str())
        .query_async(&mut conn)
        .await
        .expect("HGET");
    assert_eq!(stats, Some(1), "counters go with the release");
    let ttl: i64 = ::redis::cmd("TTL")
        .arg("sh:{/p}:stats")
        .query_async(&mut conn)
        .await
        .expect("TTL");
    assert!(ttl > 0, "the counters expire: {ttl}");
}

#[tokio::test]
async fn issue_16_each_host_shows_the_global_figures_of_the_pools_it_serves() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 2, 0.0).await;
    register(&b, 2, 0.0).await;
    for sid in ["s1", "s2"] {
        assert!(lease(&b, 1).await.create);
        b.add("p", session(sid), Duration::ZERO, false)
            .await
            .expect("added");
    }
    let held = ready(&lease(&b, 1).await).expect("b holds one");
    b.count("p", SessionStat::UseCheckPassed);
    let other = ready(&lease(&b, 1).await).expect("and the other");
    b.release("p", &other).await;
    b.settle_now("p").await;
    let before = a.counts(Instant::now());
    assert_eq!(before.len(), 1, "the pools a serves: {before:?}");
    // The first read started the background refresh: it lands within a round trip.
    let started = Instant::now();
    let mut counts = a.counts(Instant::now());
    while counts[0].live < 2 && started.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        counts = a.counts(Instant::now());
    }
    let c = &counts[0];
    assert_eq!(
        (c.size, c.live, c.busy, c.in_flight, c.closed.as_deref()),
        (2, 2, 1, 1, None),
        "b's sessions and lease, seen from a: {c:?}"
    );
    let (_, pool) = a.pool_bounded("p", Instant::now(), 10).expect("served");
    assert_eq!(pool.pending_initial, 0, "both initial creations done");
    let stats = a.remote("p").expect("served").stats;
    let key = SessionStat::UseCheckPassed.as_str();
    assert_eq!(stats.get(key), Some(&1), "b's counters: {stats:?}");
    b.close("p", "bad_session_inits").await;
    b.release("p", &held).await;
    b.settle_now("p").await;
    a.refresh_views().await;
    let c = &a.counts(Instant::now())[0];
    assert_eq!((c.busy, c.in_flight), (0, 0), "{c:?}");
    assert_eq!(c.closed.as_deref(), Some("bad_session_inits"));
    assert!(b.retire("p", "s1", "banned", Instant::now()).await);
    a.refresh_views().await;
    let c = &a.counts(Instant::now())[0];
    assert_eq!((c.live, c.retired), (1, 1), "{c:?}");
}

/// The scripts the server ran so far (`EVALSHA` and `EVAL` calls in `INFO commandstats`).
async fn scripts_run(server: &Server) -> u64 {
    let client = ::redis::Client::open(server.url()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let info: String = ::redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .expect("INFO");
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test]
async fn issue_16_a_request_waits_on_one_script_its_release_rides_with_the_next_lease() {
    let Some(server) = server().await else { return };
    let a = host(&server, 30_000).await;
    register(&a, 1, 0.0).await;
    create_s1(&a, 1).await;
    let options = a.options("p").await;
    let before = scripts_run(&server).await;
    assert_eq!(a.options("p").await, options, "options from the copy");
    const N: u64 = 50;
    for _ in 0..N {
        let held = ready(&lease(&a, 1).await).expect("the released session, again");
        a.count("p", SessionStat::UseCheckPassed);
        a.release("p", &held).await;
    }
    let run = scripts_run(&server).await - before;
    assert_eq!(run, N, "one script per request: its lease");
    a.settle_now("p").await;
    a.refresh_views().await;
    let remote = a.remote("p").expect("served");
    let key = SessionStat::UseCheckPassed.as_str();
    assert_eq!(remote.stats.get(key), Some(&N), "every count landed");
    assert_eq!(remote.counts.in_flight, 0, "every release landed");
}

#[tokio::test]
async fn issue_16_a_release_no_lease_carries_reaches_other_hosts_within_the_linger() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 1, 0.0).await;
    create_s1(&a, 1).await;
    let held = ready(&lease(&a, 1).await).expect("a holds it");
    assert_eq!(lease(&b, 1).await.choice, Choice::Busy);
    let released = Instant::now();
    a.release("p", &held).await;
    let mut step = lease(&b, 1).await;
    while ready(&step).is_none() && released.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(1)).await;
        step = lease(&b, 1).await;
    }
    assert!(ready(&step).is_some(), "{step:?}");
    assert!(
        released.elapsed() < LINGER * 2 + Duration::from_millis(50),
        "within the linger: {:?}",
        released.elapsed()
    );
}

#[tokio::test]
async fn issue_16_cookie_jars_merge_across_hosts_none_replaces_the_other() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 1, 0.0).await;
    assert!(lease(&a, 4).await.create);
    let cookie = |name: &str, value: &str| serde_json::json!({"name": name, "value": value, "domain": "x.test"});
    let s = Session::new(
        "s1".into(),
        Instant::now(),
        SessionData::new(),
        vec![cookie("a", "1")],
    );
    a.add("p", s, Duration::ZERO, false).await.expect("added");
    let (on_a, on_b) = (
        ready(&lease(&a, 4).await).expect("a"),
        ready(&lease(&b, 4).await).expect("b"),
    );
    assert_eq!(
        on_b.cookies,
        vec![cookie("a", "1")],
        "the jar comes with the lease"
    );
    a.merge_cookies("p", "s1", vec![cookie("b", "2/x")]).await;
    b.merge_cookies("p", "s1", vec![cookie("a", "3")]).await;
    a.release("p", &on_a).await;
    b.release("p", &on_b).await;
    a.settle_now("p").await;
    b.settle_now("p").await;
    let jar = ready(&lease(&a, 4).await).expect("again").cookies;
    assert_eq!(
        jar,
        vec![cookie("a", "3"), cookie("b", "2/x")],
        "merged, in place and appended"
    );
    let many: Vec<_> = (0..300).map(|i| cookie(&format!("c{i}"), "v")).collect();
    b.merge_cookies("p", "s1", many).await;
    b.settle_now("p").await;
    let jar = ready(&lease(&b, 4).await).expect("again").cookies;
    assert_eq!(
        jar.len(),
        crate::engine::cookies::MAX_COOKIES,
        "bounded as the engine bounds"
    );
    assert_eq!(
        jar.last(),
        Some(&cookie("c299", "v")),
        "the first added dropped first"
    );
}

/// A store with the pool bounds of `settings` and a pools' TTL of `pool_ttl`.
async fn bounded(server: &Server, settings: &SessionSettings, pool_ttl: Duration) -> RedisStore {
    let options = RedisOptions {
        pool_ttl,
        bounds: PoolLimits::from_settings(settings),
        ..RedisOptions::default()
    };
    RedisStore::connect(&server.url(), options)
        .await
        .expect("connect")
}

/// A plain connection to `server`, for looking at its keys.
async fn raw(server: &Server) -> ::redis::aio::MultiplexedConnection {
    let client = ::redis::Client::open(server.url()).expect("url");
    client
        .get_multiplexed_async_connection()
        .await
        .expect("conn")
}

/// Every key on `server`, with its time to live in ms (`-1`: none).
async fn keys(server: &Server) -> Vec<(String, i64)> {
    let mut conn = raw(server).await;
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    let mut out = Vec::new();
    for key in keys {
        let ttl: i64 = ::redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("PTTL");
        out.push((key, ttl));
    }
    out
}

fn client_pool(n: usize) -> (String, PoolConfig) {
    let config = PoolConfig {
        kind: PoolKind::Client,
        ..config(1, 0.0)
    };
    (format!("client/p{n}"), config)
}

/// Registers client pool `n` on `store` and gives it a session, as a request would.
async fn use_client_pool(store: &RedisStore, n: usize) -> Result<(), EngineError> {
    let (id, config) = client_pool(n);
    store
        .register(&id, config, Registration::Request, Instant::now())
        .await?;
    let rotation = rotation(1);
    let step = store.lease(&id, Instant::now(), &rotation, true, 0.5);
    assert!(step.await.expect("pool exists").create, "{id}");
    let s = session(&format!("s{n}"));
    let lease = store
        .add(&id, s, Duration::ZERO, true)
        .await
        .expect("added");
    store.count(&id, SessionStat::UseCheckPassed);
    store.release(&id, &lease).await;
    store.settle_now(&id).await;
    Ok(())
}

#[tokio::test]
async fn issue_16_pool_bounds_hold_across_hosts_and_refuse_past_a_full_bound() {
    let Some(server) = server().await else { return };
    let settings = SessionSettings {
        max_client_pools: 3,
        pool_idle_timeout: 3600.0,
        ..SessionSettings::default()
    };
    let ttl = Duration::from_secs(3600);
    let (a, b) = (
        bounded(&server, &settings, ttl).await,
        bounded(&server, &settings, ttl).await,
    );
    use_client_pool(&a, 0).await.expect("within the bound");
    use_client_pool(&b, 1).await.expect("within the bound");
    use_client_pool(&a, 2).await.expect("within the bound");
    match use_client_pool(&b, 3).await {
        Err(EngineError::TooManyPools { setting, limit }) => {
            assert_eq!(
                (setting, limit),
                ("max_client_pools", 3),
                "global, not per host"
            );
        }
        other => panic!("not refused: {other:?}"),
    }
    assert!(!b.ids().contains(&"client/p3".to_owned()), "{:?}", b.ids());
    // A pool that exists still serves, from any host.
    let (id, config) = client_pool(0);
    b.register(&id, config, Registration::Request, Instant::now())
        .await
        .expect("a known pool");
    // Site pools are not client pools: their bound is max_pools.
    register(&b, 1, 0.0).await;
}

#[tokio::test]
async fn issue_16_many_client_pool_ids_leave_bounded_keys_and_host_maps() {
    let Some(server) = server().await else { return };
    let settings = SessionSettings {
        max_client_pools: 3,
        max_pools: 5,
        pool_idle_timeout: 0.0,
        ..SessionSettings::default()
    };
    let ttl = Duration::from_secs(3600);
    let (a, b) = (
        bounded(&server, &settings, ttl).await,
        bounded(&server, &settings, ttl).await,
    );
    const N: usize = 60;
    for n in 0..N {
        let host = if n % 2 == 0 { &a } else { &b };
        use_client_pool(host, n)
            .await
            .expect("an idle pool makes room");
        for h in [&a, &b] {
            assert!(h.ids().len() <= 5, "host map: {:?}", h.ids());
            assert!(h.queues.lock().len() <= 5, "settle queues");
            assert!(h.leased.lock().is_empty(), "nothing held");
        }
    }
    // The evicted pools' keys go in the background: within a round trip or two.
    // At most 3 client pools of 5 keys (meta, ready, all, stats, its session), and the registry.
    let bound = 3 * 5 + 1;
    let started = Instant::now();
    let mut all = keys(&server).await;
    while all.len() > bound && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        all = keys(&server).await;
    }
    println!(
        "{N} client pool ids: {} keys in Redis, host maps {} and {} pools",
        all.len(),
        a.ids().len(),
        b.ids().len()
    );
    assert!(all.len() <= bound, "{} keys: {all:?}", all.len());
    assert!(
        all.iter().all(|(_, ttl)| *ttl > 0),
        "every key expires: {all:?}"
    );
    let mut conn = raw(&server).await;
    let registered: usize = ::redis::cmd("ZCARD")
        .arg("sh:{/}pools:1")
        .query_async(&mut conn)
        .await
        .expect("ZCARD");
    assert!(registered <= 3, "{registered} client pools registered");
    for h in [&a, &b] {
        h.refresh_views().await;
        assert!(h.counts(Instant::now()).len() <= 5);
    }
}

#[tokio::test]
async fn issue_16_an_abandoned_pools_keys_vanish_after_pool_ttl_and_it_comes_back() {
    let Some(server) = server().await else { return };
    let settings = SessionSettings::default();
    let a = bounded(&server, &settings, Duration::from_millis(300)).await;
    use_client_pool(&a, 0).await.expect("registered");
    let all = keys(&server).await;
    assert!(all.len() >= 5, "{all:?}");
    assert!(
        all.iter().all(|(_, ttl)| *ttl > 0 && *ttl <= 300),
        "{all:?}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let left = keys(&server).await;
    assert!(left.is_empty(), "nothing lingers: {left:?}");
    // The host still knows the pool: its next lease registers it again.
    let (id, _) = client_pool(0);
    let step = a.lease(&id, Instant::now(), &rotation(1), true, 0.5).await;
    assert!(step.expect("registered again").create);
}

fn retiring(max_age: Option<u64>, max_idle: Option<u64>) -> Rotation {
    Rotation {
        max_concurrency: 1,
        max_age: max_age.map(Duration::from_millis),
        max_idle: max_idle.map(Duration::from_millis),
    }
}

/// The why-retired list of pool `p`, newest first: (session id, reason).
async fn why_retired(server: &Server) -> Vec<(String, String)> {
    let mut conn = raw(server).await;
    let list: Vec<String> = ::redis::cmd("LRANGE")
        .arg("sh:{/p}:retired")
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("LRANGE");
    list.iter()
        .map(|e| {
            let v: Value = serde_json::from_str(e).expect("JSON");
            (
                v["id"].as_str().unwrap_or("").to_owned(),
                v["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn lease_at(store: &RedisStore, now: Instant, rotation: &Rotation, retire: bool) -> Step {
    let step = store.lease("p", now, rotation, retire, 0.5);
    step.await.expect("pool exists")
}

#[tokio::test]
async fn issue_16_proactive_retirement_is_global() {
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 30_000).await, host(&server, 30_000).await);
    register(&a, 1, 0.0).await;
    register(&b, 1, 0.0).await;
    let idle = retiring(None, Some(200));
    assert!(lease_at(&a, Instant::now(), &idle, true).await.create);
    let s1 = session("s1");
    a.add("p", s1, Duration::ZERO, false).await.expect("added");
    let held = ready(&lease_at(&a, Instant::now(), &idle, true).await).expect("s1");
    a.release("p", &held).await;
    a.settle_now("p").await;
    // Not idle long enough: b uses it.
    let step = lease_at(&b, Instant::now(), &idle, true).await;
    assert!(step.retired.is_empty(), "{step:?}");
    let held = ready(&step).expect("b uses s1");
    b.release("p", &held).await;
    b.settle_now("p").await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Idle past the limit since b's use: retired once, for every host, in the shared history.
    let step = lease_at(&a, Instant::now(), &idle, true).await;
    assert_eq!(step.retired, ["s1"], "{step:?}");
    assert_eq!(step.choice, Choice::Empty);
    assert!(
        lease_at(&b, Instant::now(), &idle, true)
            .await
            .retired
            .is_empty()
    );
    let why = why_retired(&server).await;
    assert_eq!(why, [("s1".into(), "proactive: idle limit".into())]);
    // Cookie mode (no retirement) leaves a due session alone.
    let s3 = session("s3");
    a.add("p", s3, Duration::ZERO, false).await.expect("added");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let kept = lease_at(&a, Instant::now(), &idle, false).await;
    assert_eq!(ready(&kept).map(|l| l.session_id).as_deref(), Some("s3"));
}

#[tokio::test]
async fn issue_16_the_age_limit_retires_a_session_in_use_and_a_forward_clock_moves_the_check() {
    let Some(server) = server().await else { return };
    let a = host(&server, 30_000).await;
    register(&a, 1, 0.0).await;
    let old = retiring(Some(60_000), None);
    assert!(
        a.lease("p", Instant::now(), &old, true, 0.5)
            .await
            .expect("pool")
            .create
    );
    let lease = a
        .add("p", session("s1"), Duration::ZERO, true)
        .await
        .expect("held");
    let now = Instant::now();
    let s = a.lease("p", now, &old, true, 0.5).await.expect("pool");
    assert!(s.retired.is_empty(), "a minute to go: {s:?}");
    // The engine's clock, moved a minute forward (the suites' virtual clock).
    let later = now + Duration::from_secs(61);
    let s = a.lease("p", later, &old, true, 0.5).await.expect("pool");
    assert_eq!(s.retired, ["s1"], "retired though in use: {s:?}");
    assert_eq!(
        why_retired(&server).await,
        [("s1".into(), "proactive: age limit".into())]
    );
    a.release("p", &lease).await;
    a.settle_now("p").await;
    assert_eq!(
        keys(&server)
            .await
            .iter()
            .filter(|(k, _)| k.contains(":s:"))
            .count(),
        0
    );
}

#[tokio::test]
async fn issue_16_one_ticker_renews_every_lease_this_host_holds() {
    // Issue 16, latency: the engine spawned a renewal task per request; the store now renews
    // the leases its host holds with one ticker (every third of the TTL, one round trip).
    let Some(server) = server().await else { return };
    let (a, b) = (host(&server, 300).await, host(&server, 300).await);
    assert_eq!(a.lease_ttl(), None, "the engine spawns no renewal task");
    register(&a, 2, 0.0).await;
    create_s1(&a, 1).await;
    assert!(lease(&a, 1).await.create);
    a.add("p", session("s2"), Duration::ZERO, true)
        .await
        .expect("s2 added, held by a");
    let s1 = ready(&lease(&a, 1).await).expect("a holds s1 too");
    // Three TTLs with no renewal from the engine: both leases must live on.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        lease(&b, 1).await.choice,
        Choice::Busy,
        "a's leases were renewed, so b finds both sessions held"
    );
    a.release("p", &s1).await;
    a.settle_now("p").await;
    let taken = ready(&lease(&b, 1).await).expect("released, s1 is b's");
    assert_eq!(taken.session_id, "s1");
}
