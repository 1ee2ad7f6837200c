//! Pools shared across hosts on Redis (issue 16): three real `session-host serve` processes on
//! one `redis-server` (the testkit's, on a free loopback port) and one emulator. Without
//! `redis-server` the tests pass with a message, unless `CI` is set: then they fail.
//!
//! Short TTLs and delays keep the suite in seconds; each bound is tight enough that a host
//! keeping its own pools, or a lease that never expires, fails it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use session_host_testkit::redis::RedisServer;
use zyte_emulator::Scenario;

use crate::gateway::{Answer, Fixture, Gateway};

/// A plain site: no bans, no latency.
const PLAIN: &str = "plain-redis.test";
/// A site whose sessions are banned (520) from their 4th use on.
const BANS: &str = "ban-redis.test";
/// A site answering in [`LATENCY`].
const SLOW: &str = "slow-redis.test";
const LATENCY: Duration = Duration::from_millis(1000);

/// The built-in scenario plus the sites above.
fn sites() -> Scenario {
    let builtin = crate::support::repo().join("emulator/scenarios/default.toml");
    let builtin = std::fs::read_to_string(builtin).expect("the built-in scenario");
    let ms = LATENCY.as_millis();
    let extra = format!(
        "[[site]]\ndomain = \"{BANS}\"\nban = {{ after_uses = 3 }}\n\n\
         [[site]]\ndomain = \"{SLOW}\"\nlatency = {{ kind = \"fixed\", ms = {ms} }}\n"
    );
    Scenario::from_toml_str(&format!("{builtin}\n{extra}")).expect("scenario")
}

/// One Redis, one emulator, and the settings every host reads: sessions on, `pool_size`
/// sessions per pool, `delay` seconds between uses, leases of `ttl` seconds.
struct Cluster {
    redis: RedisServer,
    fixture: Fixture,
}

impl Cluster {
    async fn new(pool_size: u32, delay: f64, ttl: f64) -> Option<Self> {
        Self::with(pool_size, delay, ttl, "").await
    }

    /// [`Cluster::new`], with `sessions` added to `[sessions]`.
    async fn with(pool_size: u32, delay: f64, ttl: f64, sessions: &str) -> Option<Self> {
        let redis = RedisServer::start()?;
        let fixture = Fixture::with(sites(), &[], true).await;
        let settings = format!(
            "[sessions]\nenabled = true\nrandomize_delay = false\npool_size = {pool_size}\n\
             delay = {delay}\ninit_failure_backoff = 0.0\n{sessions}\n[store]\nlease_ttl = {ttl}\n\n\
             [upstream]\nwait_scale = 0.0\n"
        );
        std::fs::write(fixture.path("session-host.toml"), settings).expect("settings");
        Some(Self { redis, fixture })
    }

    /// One more host on the shared Redis, plus `extra` arguments.
    async fn host(&self, extra: &[&str]) -> Gateway {
        let url = self.redis.url();
        let mut args = vec!["--store", url.as_str()];
        args.extend_from_slice(extra);
        self.fixture.serve(&args, None).await
    }

    async fn hosts(&self, extra: &[&str]) -> Vec<Gateway> {
        let mut hosts = Vec::new();
        for _ in 0..3 {
            hosts.push(self.host(extra).await);
        }
        hosts
    }

    fn created(&self, site: &str) -> u64 {
        self.fixture.emulator.stats().site(site).sessions_created
    }
}

fn body(site: &str) -> String {
    json!({"url": format!("https://{site}/"), "httpResponseBody": true}).to_string()
}

/// `per_host` requests to `site` on each host at once; every answer.
async fn load(hosts: &[Gateway], site: &str, per_host: usize) -> Vec<Answer> {
    let requests = hosts
        .iter()
        .flat_map(|h| (0..per_host).map(move |_| h.extract(body(site), None)));
    futures::future::join_all(requests).await
}

fn assert_ok(answers: &[Answer]) {
    for answer in answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_a_global_pool_size_of_4_creates_exactly_4_sessions_for_3_hosts() {
    let Some(cluster) = Cluster::new(4, 0.0, 30.0).await else {
        return;
    };
    let hosts = cluster.hosts(&[]).await;
    assert_ok(&load(&hosts, PLAIN, 20).await);
    assert_ok(&load(&hosts, PLAIN, 20).await);
    assert_eq!(cluster.created(PLAIN), 4, "4 in all, not 4 per host");
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_a_1s_session_delay_holds_across_hosts() {
    let Some(cluster) = Cluster::new(1, 1.0, 30.0).await else {
        return;
    };
    let hosts = cluster.hosts(&[]).await;
    assert_ok(&load(&hosts[..1], PLAIN, 1).await);
    let start = Instant::now();
    let done = hosts.iter().map(|h| async move {
        let answer = h.extract(body(PLAIN), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
        start.elapsed()
    });
    let mut done = futures::future::join_all(done).await;
    done.sort();
    for pair in done.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(950) && gap < Duration::from_millis(1500),
            "one use per second across the 3 hosts: {done:?}"
        );
    }
    assert_eq!(cluster.created(PLAIN), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_a_ban_seen_by_one_host_retires_the_session_for_all() {
    let Some(cluster) = Cluster::new(1, 0.0, 30.0).await else {
        return;
    };
    let hosts = cluster.hosts(&[]).await;
    for round in 0..8 {
        let answer = hosts[round % 3].extract(body(BANS), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    }
    let stats = cluster.fixture.emulator.stats();
    let sessions: Vec<_> = stats.sessions.iter().filter(|s| s.site == BANS).collect();
    let bans: u64 = sessions.iter().map(|s| s.bans).sum();
    assert!(bans >= 2, "the site bans every 4th use: {sessions:?}");
    for session in &sessions {
        assert!(
            session.bans <= 1,
            "no host used it after its ban: {session:?}"
        );
    }
    assert!(
        cluster.created(BANS) <= bans + 1,
        "one replacement per ban, for all hosts: {sessions:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_a_host_killed_with_9_frees_its_leases_within_the_ttl() {
    let ttl = Duration::from_secs(1);
    let Some(cluster) = Cluster::new(2, 0.0, ttl.as_secs_f64()).await else {
        return;
    };
    let mut hosts = cluster.hosts(&[]).await;
    assert_ok(&load(&hosts[1..2], SLOW, 2).await);
    assert_eq!(cluster.created(SLOW), 2);
    // Host 0 takes both sessions, and dies holding them.
    let victim = hosts.remove(0);
    let held: Vec<_> = (0..2)
        .map(|_| {
            let request = victim
                .client
                .post(victim.url("/v1/extract"))
                .body(body(SLOW));
            tokio::spawn(async move { drop(request.send().await) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &victim.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    for task in held {
        drop(task.await);
    }
    assert_ok(&load(&hosts, SLOW, 1).await);
    let took = killed.elapsed();
    assert!(
        took < ttl + LATENCY + Duration::from_millis(700),
        "the dead host's leases returned within the TTL: {took:?}"
    );
    assert_eq!(
        cluster.created(SLOW),
        2,
        "its sessions reused, none created"
    );
}

/// Requests to [`PLAIN`] on every host, one after another per host, until `stop`: each answer's
/// status.
async fn steady(hosts: &[Gateway], until: Instant) -> Vec<(StatusCode, String)> {
    let per_host = hosts.iter().map(|h| async move {
        let mut seen = Vec::new();
        while Instant::now() < until {
            let answer = h.extract(body(PLAIN), None).await;
            let kind = answer.json["type"].as_str().unwrap_or("").to_owned();
            seen.push((answer.status, kind));
        }
        seen
    });
    futures::future::join_all(per_host).await.concat()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_redis_restarted_mid_load_answers_every_request_ok_or_503_store_unavailable() {
    let Some(mut cluster) = Cluster::new(4, 0.0, 30.0).await else {
        return;
    };
    let hosts = cluster.hosts(&[]).await;
    assert_ok(&load(&hosts, PLAIN, 4).await);
    // The outage outlasts the 2 s bound of every Redis call, so a request in it cannot wait
    // the outage out and succeed: under load (CI runs the e2e suites in parallel), a 500 ms
    // outage could pass with no request refused, and the test failed on timing alone.
    let until = Instant::now() + Duration::from_millis(4500);
    let running = steady(&hosts, until);
    let outage = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        cluster.redis.stop();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        cluster.redis.restart();
    };
    let (seen, ()) = tokio::join!(running, outage);
    let unavailable = "/session-host/problem/store-unavailable";
    let refused = seen.iter().filter(|(s, _)| *s != StatusCode::OK).count();
    for (status, kind) in &seen {
        let ok = *status == StatusCode::OK
            || (*status == StatusCode::SERVICE_UNAVAILABLE && kind == unavailable);
        assert!(ok, "only 200 or the documented 503: {status} {kind}");
    }
    assert!(refused > 0, "the outage was seen: {} answers", seen.len());
    // Served around the outage (refusals come fast, so their share says nothing), and after it.
    assert!(
        seen.len() > refused,
        "served before and after: {refused}/{}",
        seen.len()
    );
    assert_ok(&load(&hosts, PLAIN, 4).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_on_failure_local_answers_every_request_while_redis_restarts() {
    let Some(mut cluster) = Cluster::new(4, 0.0, 30.0).await else {
        return;
    };
    let hosts = cluster.hosts(&["--store-on-failure", "local"]).await;
    assert_ok(&load(&hosts, PLAIN, 4).await);
    let until = Instant::now() + Duration::from_millis(2500);
    let running = steady(&hosts, until);
    let outage = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        cluster.redis.stop();
        tokio::time::sleep(Duration::from_millis(500)).await;
        cluster.redis.restart();
    };
    let (seen, ()) = tokio::join!(running, outage);
    for (status, kind) in &seen {
        assert_eq!(
            *status,
            StatusCode::OK,
            "local pools serve meanwhile: {kind}"
        );
    }
    // 4 shared, at most 4 per host while down, 4 shared again in the restarted Redis.
    assert!(
        cluster.created(PLAIN) <= 4 + 3 * 4 + 4,
        "{}",
        cluster.created(PLAIN)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_a_pool_closed_on_one_host_is_closed_on_all_and_reopened_on_all() {
    let Some(cluster) = Cluster::new(1, 0.0, 30.0).await else {
        return;
    };
    let hosts = cluster.hosts(&[]).await;
    let site = "no-location-support.example";
    let closing = json!({"url": format!("https://{site}/"), "browserHtml": true,
        "sessionManagement": {"location": {"postalCode": "10001"}, "pool": "nls"}})
    .to_string();
    for host in &hosts {
        let answer = host.extract(closing.clone(), None).await;
        let detail = answer.problem(409, "pool-closed");
        assert!(detail.contains("unsupported_set_location"), "{detail}");
    }
    let inits = || cluster.fixture.emulator.stats().site(site).requests.total;
    assert_eq!(inits(), 1, "the other hosts failed fast: closed for all");
    let reopen = hosts[1]
        .client
        .post(hosts[1].url("/pools/client%2Fnls/reopen"));
    let reopened = reopen.send().await.expect("the gateway answers");
    assert_eq!(reopened.status(), StatusCode::OK);
    hosts[2]
        .extract(closing.clone(), None)
        .await
        .problem(409, "pool-closed");
    assert_eq!(inits(), 2, "reopened for all: host 2 tried a session again");
}

/// What `redis-cli -p PORT ARGS…` prints for `redis`.
fn redis_cli(redis: &RedisServer, args: &[&str]) -> String {
    let url = redis.url();
    let port = url.rsplit(':').next().and_then(|p| p.split('/').next());
    let out = std::process::Command::new("redis-cli")
        .args(["-p", port.expect("a port")])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The scripts Redis ran so far (`EVALSHA` and `EVAL` calls in `INFO commandstats`): every
/// store step is one script, and the store sends no other command but `PING` while Redis is
/// down (commands inside a script count too in `total_commands_processed`, so that is no use).
fn redis_calls(redis: &RedisServer) -> u64 {
    let text = redis_cli(redis, &["INFO", "commandstats"]);
    let scripts = ["cmdstat_evalsha:", "cmdstat_eval:", "cmdstat_fcall:"];
    text.lines()
        .filter(|l| scripts.iter().any(|s| l.starts_with(s)))
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

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_a_request_waits_on_one_script_its_release_rides_with_the_next_lease() {
    let Some(cluster) = Cluster::new(4, 0.0, 30.0).await else {
        return;
    };
    let host = cluster.host(&[]).await;
    assert_ok(&load(std::slice::from_ref(&host), PLAIN, 8).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = redis_calls(&cluster.redis);
    const N: u64 = 40;
    for _ in 0..N {
        assert_ok(&load(std::slice::from_ref(&host), PLAIN, 1).await);
    }
    // The last release goes alone after the linger: let it land.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let calls = redis_calls(&cluster.redis) - before;
    eprintln!("{calls} Redis scripts for {N} sequential requests");
    // N + N/10: the last release goes alone, and a slow gap may let one more go; a task that
    // sends a queue it no longer owns (the bug the merge of issue 16's branches showed: 47-53
    // scripts) fails it.
    assert!(
        calls <= N + N / 10,
        "{calls} Redis calls for {N} requests: one lease each, carrying the release before it"
    );
}

/// The value of the series of `family` whose labels include every one of `labels`, in `text`.
fn series(text: &str, family: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_metrics_and_status_on_each_host_show_the_global_figures_of_its_pools() {
    let Some(cluster) = Cluster::new(4, 0.0, 30.0).await else {
        return;
    };
    let hosts = cluster.hosts(&[]).await;
    assert_ok(&load(&hosts[..2], PLAIN, 8).await);
    assert_eq!(cluster.created(PLAIN), 4);
    // Host 2 serves the pool once: its own figures would be one session at most.
    assert_ok(&load(&hosts[2..], PLAIN, 1).await);
    let pool = format!("pool=\"{PLAIN}\"");
    let started = Instant::now();
    let (mut idle, mut size) = (None, None);
    while started.elapsed() < Duration::from_secs(5) {
        let text = hosts[2].get("/metrics", None).await.json;
        let text = text.as_str().unwrap_or_default().to_owned();
        let family = "session_host_pool_sessions";
        idle = series(&text, family, &[&pool, "state=\"idle\""]);
        size = series(&text, "session_host_pool_size", &[&pool]);
        if idle == Some(4.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (idle, size),
        (Some(4.0), Some(4.0)),
        "the 4 sessions of all hosts"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a scrape or two: {:?}",
        started.elapsed()
    );
    let status = hosts[2].get("/status", None).await.json;
    let shown = &status["pools"][0];
    assert_eq!(shown["id"], PLAIN, "{status}");
    assert_eq!(
        (shown["live"].as_u64(), shown["missing"].as_u64()),
        (Some(4), Some(0)),
        "{shown}"
    );
    // Every host's counters: host 2 served 1 of the 17 requests, and created none of the 4
    // sessions.
    let stats = &shown["stats"];
    assert_eq!(
        (
            stats["use/check-passed"].as_u64(),
            stats["init/check-passed"].as_u64()
        ),
        (Some(17), Some(4)),
        "{shown}"
    );
    let text = hosts[2].get("/metrics", None).await.json;
    let text = text.as_str().unwrap_or_default().to_owned();
    let family = "session_host_pool_shared_events";
    let count =
        |event: &str| series(&text, family, &[&pool, &format!("event=\"{event}\"")]).unwrap_or(0.0);
    assert_eq!(
        (count("use/check-passed"), count("init/check-passed")),
        (17.0, 4.0),
        "{text}"
    );
}

fn named(site: &str, pool: &str) -> String {
    json!({"url": format!("https://{site}/"), "httpResponseBody": true,
        "sessionManagement": {"pool": pool}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_the_client_pool_bound_is_global_a_4th_pool_on_any_host_is_a_429() {
    let sessions = "max_client_pools = 3\npool_idle_timeout = 3600\n";
    let Some(cluster) = Cluster::with(1, 0.0, 30.0, sessions).await else {
        return;
    };
    let hosts = cluster.hosts(&[]).await;
    for (n, host) in hosts.iter().enumerate() {
        let answer = host.extract(named(PLAIN, &format!("c{n}")), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    }
    for host in &hosts {
        let refused = host.extract(named(PLAIN, "c3"), None).await;
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            refused.json
        );
        assert!(
            refused.json.to_string().contains("max_client_pools"),
            "{}",
            refused.json
        );
    }
    let again = hosts[2].extract(named(PLAIN, "c0"), None).await;
    assert_eq!(again.status, StatusCode::OK, "a known pool, from any host");
}

/// Every key on `redis`.
fn redis_keys(redis: &RedisServer) -> Vec<String> {
    redis_cli(redis, &["--raw", "KEYS", "*"])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_16_many_client_pool_ids_across_hosts_leave_bounded_keys_and_host_maps() {
    let sessions = "max_client_pools = 3\nmax_pools = 6\npool_idle_timeout = 0\n";
    let Some(cluster) = Cluster::with(1, 0.0, 30.0, sessions).await else {
        return;
    };
    let hosts = cluster.hosts(&[]).await;
    const N: usize = 45;
    for n in 0..N {
        let answer = hosts[n % 3]
            .extract(named(PLAIN, &format!("c{n}")), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    }
    // At most 3 client pools of 7 keys (meta, ready, all, due, leases, stats, a session), and
    // the registry; the evicted pools' keys go in the background.
    let bound = 3 * 7 + 1;
    let started = Instant::now();
    let mut keys = redis_keys(&cluster.redis);
    while keys.len() > bound && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        keys = redis_keys(&cluster.redis);
    }
    println!(
        "{N} client pool ids on 3 hosts: {} keys in Redis",
        keys.len()
    );
    assert!(
        keys.len() <= bound,
        "{} keys after {N} pools: {keys:?}",
        keys.len()
    );
    for host in &hosts {
        let status = host.get("/status", None).await.json;
        let total = status["pools_total"].as_u64().unwrap_or(u64::MAX);
        assert!(total <= 6, "the host's map: {status}");
    }
}
