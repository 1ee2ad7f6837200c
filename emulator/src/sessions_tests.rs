use crate::rng::RequestRng;
use rand::SeedableRng;

use super::*;

const KEY: &str = "KEY";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn acquire(
    table: &SessionTable,
    id: Uuid,
    now: Duration,
    policy: &Policy,
) -> Result<SessionView, SessionError> {
    let mut rng = RequestRng::seed_from_u64(now.as_secs());
    table.acquire(
        SessionRef::User(id),
        &Acquire {
            key: KEY,
            host: "example.com",
            now,
        },
        policy,
        &mut rng,
    )
}

fn finish(table: &SessionTable, id: Uuid, now: Duration, banned: bool, policy: &Policy) {
    let outcome = Finish {
        now,
        banned,
        created_now: false,
        location: None,
    };
    table.finish(KEY, id, &outcome, policy);
}

fn counters(table: &SessionTable, now: Duration, policy: &Policy) -> SiteSessionCounters {
    table
        .snapshot(now, policy)
        .1
        .get("example.com")
        .copied()
        .unwrap_or_default()
}

#[test]
fn first_use_creates_and_later_uses_reuse() {
    let (table, policy, id) = (SessionTable::default(), Policy::default(), Uuid::new_v4());
    let first = acquire(&table, id, secs(0), &policy).expect("created");
    assert!(first.created_now);
    let second = acquire(&table, id, secs(10), &policy).expect("reused");
    assert!(!second.created_now);
    assert_eq!(second.uses_before, 1);
    assert_eq!(counters(&table, secs(10), &policy).created, 1);
}

#[test]
fn idle_sessions_expire_then_tombstone_then_recreate() {
    let (table, policy, id) = (SessionTable::default(), Policy::default(), Uuid::new_v4());
    acquire(&table, id, secs(0), &policy).expect("created");
    acquire(&table, id, secs(119), &policy).expect("still active at 1:59 idle");
    assert_eq!(
        acquire(&table, id, secs(119 + 120), &policy),
        Err(SessionError::Expired)
    );
    let (list, counts) = table.snapshot(secs(240), &policy);
    assert_eq!(list[0].expiry_reason, Some(ExpiryReason::Idle));
    assert_eq!(list[0].state, SessionState::Expired);
    assert_eq!(counts["example.com"].expiries, 1);
    // The tombstone lasts 5-10 minutes after the expiry at 239 s.
    assert_eq!(
        acquire(&table, id, secs(239 + 299), &policy),
        Err(SessionError::Expired)
    );
    let again =
        acquire(&table, id, secs(239 + 601), &policy).expect("a new session after the tombstone");
    assert!(again.created_now);
    assert_eq!(counters(&table, secs(900), &policy).created, 2);
}

#[test]
fn sessions_expire_15_minutes_after_creation_even_when_busy() {
    let (table, policy, id) = (SessionTable::default(), Policy::default(), Uuid::new_v4());
    for minute in 0..15 {
        acquire(&table, id, secs(minute * 60), &policy).expect("active within 15 min");
    }
    assert_eq!(
        acquire(&table, id, secs(900), &policy),
        Err(SessionError::Expired)
    );
    let list = table.snapshot(secs(900), &policy).0;
    assert_eq!(list[0].expiry_reason, Some(ExpiryReason::Lifetime));
}

#[test]
fn three_bans_in_a_row_expire_but_a_success_resets_the_streak() {
    let (table, policy, id) = (SessionTable::default(), Policy::default(), Uuid::new_v4());
    acquire(&table, id, secs(0), &policy).expect("created");
    for (t, banned) in [(1, true), (2, true), (3, false), (4, true), (5, true)] {
        acquire(&table, id, secs(t), &policy).expect("active");
        finish(&table, id, secs(t), banned, &policy);
    }
    acquire(&table, id, secs(6), &policy).expect("two bans in a row so far");
    finish(&table, id, secs(6), true, &policy);
    assert_eq!(
        acquire(&table, id, secs(7), &policy),
        Err(SessionError::Expired)
    );
    let list = table.snapshot(secs(7), &policy).0;
    assert_eq!(
        (list[0].bans, list[0].expiry_reason),
        (5, Some(ExpiryReason::Bans))
    );
}

#[test]
fn the_active_session_cap_counts_only_live_sessions() {
    let policy = Policy {
        max_active_sessions: 2,
        ..Policy::default()
    };
    let table = SessionTable::default();
    acquire(&table, Uuid::new_v4(), secs(0), &policy).expect("1");
    acquire(&table, Uuid::new_v4(), secs(0), &policy).expect("2");
    assert_eq!(
        acquire(&table, Uuid::new_v4(), secs(1), &policy),
        Err(SessionError::OverLimit)
    );
    // Both go idle at 120 s; the cap frees up without any other request.
    acquire(&table, Uuid::new_v4(), secs(121), &policy).expect("room after expiry");
}

#[test]
fn creation_errors_are_injected_at_the_configured_rate() {
    let policy = Policy {
        session_creation_error_rate: 1.0,
        ..Policy::default()
    };
    let table = SessionTable::default();
    assert_eq!(
        acquire(&table, Uuid::new_v4(), secs(0), &policy),
        Err(SessionError::CreationError)
    );
}

#[test]
fn the_creating_request_fixes_the_location() {
    let (table, policy, id) = (SessionTable::default(), Policy::default(), Uuid::new_v4());
    acquire(&table, id, secs(0), &policy).expect("created");
    let outcome = Finish {
        now: secs(0),
        banned: false,
        created_now: true,
        location: Some("10001".into()),
    };
    table.finish(KEY, id, &outcome, &policy);
    let view = acquire(&table, id, secs(1), &policy).expect("reused");
    assert_eq!(view.location.as_deref(), Some("10001"));
}

#[test]
fn context_sessions_are_pooled_and_expire_after_three_bans() {
    let (table, policy) = (SessionTable::default(), Policy::default());
    let mut rng = RequestRng::seed_from_u64(3);
    let mut use_context = |now: u64| {
        let a = Acquire {
            key: KEY,
            host: "example.com",
            now: secs(now),
        };
        table
            .acquire(
                SessionRef::Context("[[\"a\",\"1\"]]", Some("10001")),
                &a,
                &policy,
                &mut rng,
            )
            .expect("context")
    };
    let first = use_context(0);
    assert_eq!(first.location.as_deref(), Some("10001"));
    let second = use_context(3600);
    assert_eq!(
        first.id, second.id,
        "no idle expiry for Zyte-managed sessions"
    );
    for t in [1, 2, 3] {
        let outcome = Finish {
            now: secs(3600 + t),
            banned: true,
            created_now: false,
            location: None,
        };
        table.finish(KEY, first.id, &outcome, &policy);
    }
    let third = use_context(3700);
    assert_ne!(third.id, first.id);
    assert!(third.created_now);
}
