//! The sessions-off fast path (issue 17): a request that the engine would forward unchanged is
//! sent as the bytes it came in, without being parsed into a tree, split, re-joined and
//! serialised again.
//!
//! Policy: it applies only where [`super::Engine::execute_by`] could not do anything else
//! with the request: no session controls and no retry policy of its own (the caller checks
//! that the body has no `sessionManagement`), a URL whose config is the built-in default (no
//! guest's `enabled` hook to ask, no observer), and sessions off by default
//! (`[sessions] enabled = false`). Then the answer, the counters, the retry policy and the
//! deadline are those of the full path; only the key order of the body Zyte API receives
//! differs (the full path moves `url` last).

use bytes::Bytes;

use super::{Config, Deadline, Engine, EngineError, EngineResponse};

impl Engine {
    /// Whether a request for `url` without `sessionManagement` goes to Zyte API unchanged
    /// (see the module policy), so that [`Engine::forward_unchanged`] may send it.
    pub fn passes_through(&self, url: &str) -> bool {
        self.may_pass_through() && matches!(self.inner.configs.load().select(url), Config::Default)
    }

    /// Whether any request may pass through: sessions are off by default. When they are on,
    /// the caller need not read a body's `url` to ask [`Engine::passes_through`] (issue 17:
    /// that read cost a JSON scan and a URL parse more per request with sessions on).
    pub fn may_pass_through(&self) -> bool {
        !self.inner.settings.enabled
    }

    /// Sends `body`, a Zyte API request body for which [`Engine::passes_through`] holds, as
    /// it is: the same answer as [`Engine::execute_by`] gives for it.
    ///
    /// # Errors
    /// As [`Engine::execute_by`] without sessions.
    pub async fn forward_unchanged(
        &self,
        body: Bytes,
        deadline: Deadline,
    ) -> Result<EngineResponse, EngineError> {
        let policies = self.inner.retry_policies(None)?;
        let policy = policies.without_sessions;
        self.inner.forward_bytes(body, policy, deadline).await
    }
}
