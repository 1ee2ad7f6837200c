//! Delays (reference 5.5, 5.6, 5.11): the delay after an init and between uses, randomised
//! delays within [0.5, 1.5) of the delay, and replacements waiting their delays too. Real time,
//! delays of 0.2 s, one pool of one session, concurrent requests queued behind it.

use std::time::{Duration, Instant};

use session_host::settings::SessionSettings;

use super::harness::{Harness, scenario, settings};

const DELAY: f64 = 0.2;

/// The completion times of `n` concurrent requests to one pool of one session, sorted.
async fn completions(h: &Harness, n: usize) -> Vec<f64> {
    let started = Instant::now();
    let requests = (0..n).map(|i| async move {
        // In order, so the first creates the session and the others queue behind it.
        tokio::time::sleep(Duration::from_millis(10 * i as u64)).await;
        h.get(&format!("https://example.com/{i}")).await;
        started.elapsed().as_secs_f64()
    });
    let mut done = futures::future::join_all(requests).await;
    done.sort_by(f64::total_cmp);
    done
}

fn gaps(times: &[f64]) -> Vec<f64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test]
async fn the_delay_spaces_every_use_of_a_session_from_the_first() {
    let h = Harness::new(SessionSettings {
        pool_size: 1,
        delay: DELAY,
        ..settings()
    })
    .await;
    let done = completions(&h, 4).await;
    // Init, the delay, use 1; then a delay before each use.
    assert!(done[0] >= DELAY, "{done:?}");
    for gap in gaps(&done) {
        assert!(
            (DELAY - 0.02..DELAY + 0.15).contains(&gap),
            "gaps {:?}",
            gaps(&done)
        );
    }
}

#[tokio::test]
async fn randomised_delays_stay_within_half_to_one_and_a_half_delays() {
    let h = Harness::new(SessionSettings {
        pool_size: 1,
        delay: DELAY,
        randomize_delay: true,
        ..settings()
    })
    .await;
    let done = completions(&h, 6).await;
    assert!(done[0] >= 0.5 * DELAY, "{done:?}");
    let g = gaps(&done);
    for gap in &g {
        assert!(
            (0.5 * DELAY - 0.02..1.5 * DELAY + 0.15).contains(gap),
            "gaps {g:?}"
        );
    }
}

#[tokio::test]
async fn a_replacement_waits_the_delay_before_its_first_use() {
    let banned = scenario(
        "[[site]]\ndomain = \"banned.example\"\nban = { after_uses = 2 }\n\
         [[site.page]]\npath = \"*\"\ntemplate = \"<html>{{path}}</html>\"\n",
    );
    let h = Harness::with(
        SessionSettings {
            pool_size: 1,
            delay: DELAY,
            ..settings()
        },
        banned,
    )
    .await;
    h.get("https://banned.example/1").await;
    let started = Instant::now();
    h.get("https://banned.example/2").await;
    let took = started.elapsed().as_secs_f64();
    // The old session's delay, then the replacement's init, and its two delays (queued after
    // `delay`, at that time plus `delay`).
    assert!(
        (3.0 * DELAY - 0.03..3.0 * DELAY + 0.3).contains(&took),
        "took {took}"
    );
}
