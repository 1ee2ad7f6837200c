//! Where a request would go, without sending it: for `plugin which` and for explaining a
//! request's routing. Runs the same hooks, in the same order, as [`super::Engine::execute`].

use std::sync::Arc;

use serde::Serialize;

use serde_json::{Map, Value};

use super::{Config, EngineError, EngineRequest, Inner};
use crate::plugin::Request;
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

/// A request read and matched to its config: what [`super::Engine::execute`] and
/// [`super::Engine::route`] both do first.
pub(super) struct Matched {
    /// The target URL.
    pub(super) url: String,
    /// The Zyte API body without `url`.
    pub(super) params: Map<String, Value>,
    /// The request as hooks see it.
    pub(super) wit: Request,
    /// The config the URL rules chose.
    pub(super) config: Config,
    /// What its `enabled` hook said.
    pub(super) enabled: bool,
}

impl Inner {
    /// Splits off the `url`, checks the params control, picks the config (once: the request
    /// keeps this version however the set changes) and asks it whether sessions apply.
    pub(super) async fn matched(&self, request: EngineRequest) -> Result<Matched, EngineError> {
        let (url, params) = split(request.body)?;
        if let Some(text) = &request.controls.params {
            wire::parse_object(text, "the params control").map_err(EngineError::BadInput)?;
        }
        let wit = wire::request_from_body(url.clone(), &params, request.controls);
        let config = self.configs.load().select(&url);
        let enabled = config.enabled(self.env(None, false), &wit).await?;
        Ok(Matched {
            url,
            params,
            wit,
            config,
            enabled,
        })
    }

    pub(super) async fn route(
        self: &Arc<Self>,
        request: EngineRequest,
    ) -> Result<Route, EngineError> {
        let Matched {
            wit,
            config,
            enabled,
            ..
        } = self.matched(request).await?;
        let mut route = Route {
            config: config.name().to_owned(),
            enabled,
            cookie_mode: false,
            pool: None,
        };
        if enabled {
            route.cookie_mode = config.cookie_mode(self.env(None, false), &wit).await?;
            let spec = config.pool(self.env(None, route.cookie_mode), &wit).await?;
            route.pool = Some(spec.id);
        }
        Ok(route)
    }
}

/// Splits a Zyte API body into its `url` and the rest.
fn split(mut body: Map<String, Value>) -> Result<(String, Map<String, Value>), EngineError> {
    match body.remove("url") {
        Some(Value::String(url)) => Ok((url, body)),
        Some(other) => Err(EngineError::BadInput(format!(
            "`url` must be a string, got {}",
            wire::json_kind(&other)
        ))),
        None => Err(EngineError::BadInput("the request has no `url`".into())),
    }
}
