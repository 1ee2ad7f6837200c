use super::*;
use crate::settings::PoolOptions as Preset;

fn spec(id: &str, size: Option<u32>, delay: Option<f64>) -> PoolSpec {
    PoolSpec {
        id: id.into(),
        size,
        delay,
        randomize_delay: None,
    }
}

fn pool(size: u32, delay: f64) -> Pool {
    let options = PoolOptions {
        size,
        delay,
        randomize_delay: false,
    };
    Pool::new("p".into(), options, &SessionSettings::default())
}

fn rotation(max_concurrency: u32) -> Rotation {
    Rotation {
        max_concurrency,
        max_age: None,
        max_idle: None,
    }
}

fn add(pool: &mut Pool, id: &str, now: Instant) {
    pool.add(
        Session::new(id.into(), now, SessionData::new(), Vec::new()),
        Duration::ZERO,
        false,
    );
}

fn ready(choice: Choice) -> String {
    match choice {
        Choice::Ready(lease) => lease.session_id,
        other => panic!("expected a session, got {other:?}"),
    }
}

#[test]
fn options_precedence_is_preset_then_spec_then_global() {
    let mut settings = SessionSettings {
        pool_size: 8,
        delay: 1.0,
        ..SessionSettings::default()
    };
    settings.pools.insert(
        "a".into(),
        Preset {
            size: Some(2),
            ..Preset::default()
        },
    );
    let a = PoolOptions::resolve(&settings, &spec("a", Some(5), Some(3.0)));
    assert_eq!((a.size, a.delay), (2, 3.0));
    let b = PoolOptions::resolve(&settings, &spec("b", None, None));
    assert_eq!((b.size, b.delay, b.randomize_delay), (8, 1.0, true));
}

#[test]
fn randomised_delay_is_scaled_by_half_to_one_and_a_half() {
    let mut o = PoolOptions {
        size: 1,
        delay: 2.0,
        randomize_delay: true,
    };
    assert_eq!(o.next_delay(0.0), Duration::from_secs(1));
    assert_eq!(o.next_delay(0.5), Duration::from_secs(2));
    o.randomize_delay = false;
    assert_eq!(o.next_delay(0.0), Duration::from_secs(2));
    // A guest's pool spec may say anything: no panic.
    for delay in [f64::NAN, f64::INFINITY, -3.0, 1e300] {
        o.delay = delay;
        assert!(o.next_delay(0.99) <= crate::zyte::retry::MAX_WAIT);
    }
}

#[test]
fn the_first_size_requests_create_sessions() {
    let mut p = pool(2, 0.0);
    assert!(p.take_initial() && p.take_initial());
    assert!(!p.take_initial());
    assert_eq!(p.choose(Instant::now(), &rotation(4), 0.0), Choice::Empty);
}

#[test]
fn rotation_hands_out_the_earliest_available_session() {
    let now = Instant::now();
    let mut p = pool(2, 10.0);
    add(&mut p, "a", now);
    add(&mut p, "b", now);
    let first = ready(p.choose(now, &rotation(4), 0.0));
    let second = ready(p.choose(now, &rotation(4), 0.0));
    assert_ne!(first, second, "both sessions are used before waiting");
    assert_eq!(
        p.choose(now, &rotation(4), 0.0),
        Choice::Wait(Duration::from_secs(10))
    );
    // No head-of-line blocking: a session ready earlier is picked whatever the order.
    p.update(&second, |s| s.next_use = now + Duration::from_secs(1));
    let later = now + Duration::from_secs(2);
    assert_eq!(ready(p.choose(later, &rotation(4), 0.0)), second);
}

#[test]
fn concurrency_is_bounded() {
    let now = Instant::now();
    let mut p = pool(1, 0.0);
    add(&mut p, "a", now);
    ready(p.choose(now, &rotation(2), 0.0));
    ready(p.choose(now, &rotation(2), 0.0));
    assert_eq!(p.choose(now, &rotation(2), 0.0), Choice::Busy);
    p.release("a");
    assert_eq!(ready(p.choose(now, &rotation(2), 0.0)), "a");
}

#[test]
fn thresholds_refresh_at_max_and_zero_means_one() {
    let now = Instant::now();
    let mut p = pool(1, 0.0);
    add(&mut p, "a", now);
    assert!(!p.check_failed("a", 2, now));
    assert!(p.check_failed("a", 2, now));
    assert!(p.errored("a", 520, 0, now), "max_errors 0 behaves like 1");
    assert!(
        !p.errored("gone", 520, 1, now),
        "unknown sessions are ignored"
    );
}

#[test]
fn retire_is_idempotent_and_kept_in_history() {
    let now = Instant::now();
    let mut p = pool(1, 0.0);
    add(&mut p, "a", now);
    assert!(p.retire("a", "session expired", now));
    assert!(!p.retire("a", "session expired", now), "refreshed once");
    let retired = &p.retired()[0];
    assert_eq!(retired.reason, "session expired");
    let events: Vec<_> = retired.session.history.iter().map(|e| &e.what).collect();
    assert_eq!(events, ["init passed", "retired: session expired"]);
}

#[test]
fn bad_inits_close_at_max_and_reset_on_success() {
    let mut settings = SessionSettings::default();
    settings.max_bad_inits_per_pool.insert("p".into(), 2);
    let options = PoolOptions::resolve(&settings, &spec("p", Some(1), None));
    let mut p = Pool::new("p".into(), options, &settings);
    assert!(!p.bad_init());
    add(&mut p, "a", Instant::now());
    assert_eq!(p.bad_inits(), 0);
    assert!(!p.bad_init());
    assert!(p.bad_init());
    p.close("bad_session_inits");
    p.close("other");
    assert_eq!(p.closed(), Some("bad_session_inits"));
    p.reopen();
    assert_eq!(
        (p.closed(), p.bad_inits(), p.pending_initial()),
        (None, 0, 0)
    );
}

#[test]
fn expiring_sessions_are_retired_before_zyte_expires_them() {
    let now = Instant::now();
    let settings = SessionSettings::default();
    let rot = Rotation::from_settings(&settings);
    assert_eq!(rot.max_age, Some(Duration::from_secs(900)));
    assert_eq!(rot.max_idle, Some(Duration::from_secs(120)));
    let mut p = pool(2, 0.0);
    add(&mut p, "a", now);
    add(&mut p, "b", now);
    let t = now + Duration::from_secs(100);
    assert_eq!(ready(p.choose(t, &rot, 0.0)), "a");
    p.release("a");
    let idle = now + Duration::from_secs(120);
    assert_eq!(p.retire_expiring(idle, &rot), ["b"]);
    let old = now + Duration::from_secs(900);
    assert_eq!(p.retire_expiring(old, &rot), ["a"]);
    assert_eq!(p.retired()[1].reason, "proactive: age limit");
    let off = Rotation::from_settings(&SessionSettings {
        retire_before_idle: -1.0,
        ..settings
    });
    assert_eq!(off.max_idle, None);
}

#[test]
fn issue_14_proactive_expiry_keeps_a_session_due_within_its_lifetime() {
    // A 115 s delay: each reuse comes 115 s after the last, inside Zyte API's 120 s idle limit.
    let now = Instant::now();
    let rot = Rotation::from_settings(&SessionSettings::default());
    let mut p = pool(1, 115.0);
    add(&mut p, "a", now);
    assert_eq!(ready(p.choose(now, &rot, 0.0)), "a");
    p.release("a");
    let due = now + Duration::from_secs(115);
    assert!(
        p.retire_expiring(due, &rot).is_empty(),
        "retired a usable session"
    );
    assert_eq!(ready(p.choose(due, &rot, 0.0)), "a");
}

#[test]
fn issue_14_proactive_expiry_retires_a_session_that_expires_before_its_next_use() {
    // A 130 s delay: Zyte API expires the session before its next possible use.
    let now = Instant::now();
    let rot = Rotation::from_settings(&SessionSettings::default());
    let mut p = pool(1, 130.0);
    add(&mut p, "a", now);
    assert_eq!(ready(p.choose(now, &rot, 0.0)), "a");
    p.release("a");
    let soon = now + Duration::from_secs(1);
    assert_eq!(p.retire_expiring(soon, &rot), ["a"]);
}

#[test]
fn issue_12_a_creation_cut_short_is_given_back_but_never_beyond_the_size() {
    let now = Instant::now();
    let mut p = pool(2, 0.0);
    assert!(p.take_initial() && p.take_initial());
    p.give_back();
    assert_eq!(p.pending_initial(), 1, "the next request creates it");
    add(&mut p, "a", now);
    p.give_back();
    p.give_back();
    assert_eq!(p.pending_initial(), 1, "one session is missing, no more");
}

mod issue_15 {
    //! The indexed pool against a naive model: every step hands out, waits, or retires exactly
    //! what a scan of all sessions would.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Add,
        Choose,
        Release(usize),
        Retire(usize),
        Expire,
        Tick(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => Just(Op::Add),
            4 => Just(Op::Choose),
            3 => (0usize..16).prop_map(Op::Release),
            1 => (0usize..16).prop_map(Op::Retire),
            1 => Just(Op::Expire),
            3 => (0u64..90).prop_map(Op::Tick),
        ]
    }

    /// What a scan would hand out: the earliest next use among sessions below the limit, the
    /// older session on ties.
    fn naive_choice(sessions: &[&Session], now: Instant, max: u32) -> Option<(String, Instant)> {
        sessions
            .iter()
            .filter(|s| s.in_flight < max)
            .min_by_key(|s| s.next_use)
            .map(|s| (s.id.clone(), s.next_use))
            .filter(|(_, at)| *at <= now)
    }

    fn naive_expiring(sessions: &[&Session], now: Instant, rot: &Rotation) -> Vec<String> {
        let mut ids: Vec<String> = sessions
            .iter()
            .filter(|s| {
                let next = s.next_use.max(now);
                rot.max_age.is_some_and(|a| next >= s.created + a)
                    || rot
                        .max_idle
                        .is_some_and(|i| s.in_flight == 0 && next >= s.last_use + i)
            })
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }

    proptest! {
        #[test]
        fn issue_15_indexed_rotation_and_expiry_match_a_scan(
            ops in proptest::collection::vec(op(), 1..120),
            max in 1u32..3,
        ) {
            let start = Instant::now();
            let mut now = start;
            let rot = Rotation {
                max_concurrency: max,
                max_age: Some(Duration::from_secs(900)),
                max_idle: Some(Duration::from_secs(120)),
            };
            let mut p = pool(64, 30.0);
            let mut ids: Vec<String> = Vec::new();
            for op in ops {
                let snapshot: Vec<Session> = p.sessions().into_iter().cloned().collect();
                let view: Vec<&Session> = snapshot.iter().collect();
                match op {
                    Op::Add => {
                        let id = format!("s{}", ids.len());
                        add(&mut p, &id, now);
                        ids.push(id);
                    }
                    Op::Choose => {
                        let expected = naive_choice(&view, now, max);
                        match p.choose(now, &rot, 0.0) {
                            Choice::Ready(lease) => {
                                let (_, at) = expected.expect("a scan finds one too");
                                let got = view.iter().find(|s| s.id == lease.session_id);
                                prop_assert_eq!(got.map(|s| s.next_use), Some(at));
                            }
                            other => prop_assert!(expected.is_none(), "{:?}", other),
                        }
                    }
                    Op::Release(i) => {
                        if let Some(id) = ids.get(i) {
                            p.release(id);
                        }
                    }
                    Op::Retire(i) => {
                        if let Some(id) = ids.get(i) {
                            p.retire(id, "test", now);
                        }
                    }
                    Op::Expire => {
                        let expected = naive_expiring(&view, now, &rot);
                        let mut got = p.retire_expiring(now, &rot);
                        got.sort();
                        prop_assert_eq!(got, expected);
                    }
                    Op::Tick(secs) => now += Duration::from_secs(secs),
                }
                prop_assert_eq!(p.ready.len() + p.sessions.values().filter(|e| e.ready_at.is_none()).count(), p.len());
            }
        }
    }
}
