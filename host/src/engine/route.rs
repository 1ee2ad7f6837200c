//! Where a request would go, without sending it: for `plugin which` and for explaining a
//! request's routing. Runs the same hooks, in the same order, as [`super::Engine::execute`].

use std::sync::Arc;

use serde::Serialize;

use super::execute::split;
use super::{EngineError, EngineRequest, Inner};
use crate::wire;

/// How the engine would route a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The config chosen by the URL rules (`default` for the built-in one).
    pub config: String,
    /// Whether sessions are enabled for the request (the `enabled` hook).
    pub enabled: bool,
    /// Whether cookie mode applies.
    pub cookie_mode: bool,
    /// The session pool; `None` when sessions are disabled.
    pub pool: Option<String>,
}

impl Inner {
    pub(super) async fn route(
        self: &Arc<Self>,
        request: EngineRequest,
    ) -> Result<Route, EngineError> {
        let (url, params) = split(request.body)?;
        let wit = wire::request_from_body(url.clone(), &params, request.controls);
        let config = self.configs.load().select(&url);
        let mut route = Route {
            config: config.name().to_owned(),
            enabled: config.enabled(self.env(None, false), &wit).await?,
            cookie_mode: false,
            pool: None,
        };
        if route.enabled {
            route.cookie_mode = config.cookie_mode(self.env(None, false), &wit).await?;
            let spec = config.pool(self.env(None, route.cookie_mode), &wit).await?;
            route.pool = Some(spec.id);
        }
        Ok(route)
    }
}
