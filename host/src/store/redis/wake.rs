//! Fairness across hosts (issue 16): the messages that wake a host's waiting requests when
//! another host offers them a session.
//!
//! # Policy
//!
//! - **Offers.** A host that releases a session while another host has a request waiting
//!   (`WAITING` in `common.lua`: each lease step that finds no session records its host for
//!   [`horizon`]) offers it: its own leases pass over that session for the horizon, and it
//!   publishes its id on the namespace's channel ([`channel`]). A host serving fast clients
//!   thus no longer takes again, in the script carrying its release, the session another
//!   host's requests wait for: with one session and two loaded hosts, the session alternates.
//! - **Wake-ups.** Each store keeps one subscriber connection (a task started with it): a
//!   message from another host wakes this host's waiting requests at once, instead of at
//!   their next look (`poll`, 50 ms). Its own messages are ignored.
//! - **Failure.** A subscriber that loses Redis connects again every [`super::PROBE`];
//!   meanwhile waiting requests look again every `poll`, as before: an offer not taken within
//!   the horizon lapses, and the offering host takes the session again. The task ends with the
//!   store.

use std::sync::Weak;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, watch};

use super::RedisOptions;

/// The channel the hosts of `options`' namespace listen on.
pub fn channel(options: &RedisOptions) -> String {
    format!("{}freed:{}", options.prefix, options.namespace)
}

/// How long an offer holds, and a host counts as waiting after its last look: twice the
/// `poll` a waiting request looks again within, so that a host whose requests wait stays
/// recorded, and one that stopped waiting lapses soon.
pub fn horizon(options: &RedisOptions) -> Duration {
    options.poll * 2
}

/// Wakes `notify`'s waiters at each message on `channel` not from `host`, until `stop`'s
/// sender (the store) is dropped.
pub async fn listen(
    client: ::redis::Client,
    channel: String,
    host: String,
    notify: Weak<Notify>,
    mut stop: watch::Receiver<()>,
    timeout: Duration,
) {
    loop {
        let connect = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, ::redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            _ = stop.changed() => return,
            pubsub = tokio::time::timeout(timeout, connect) => pubsub,
        };
        if let Ok(Ok(pubsub)) = pubsub {
            let mut messages = pubsub.into_on_message();
            loop {
                let message = tokio::select! {
                    _ = stop.changed() => return,
                    message = messages.next() => message,
                };
                let Some(message) = message else { break };
                if message.get_payload_bytes() == host.as_bytes() {
                    continue;
                }
                let Some(notify) = notify.upgrade() else {
                    return;
                };
                notify.notify_waiters();
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(super::PROBE) => {}
        }
    }
}
