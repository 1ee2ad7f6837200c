//! Browser actions: what each one does on a simulated page, and the `actions` debug array.
//!
//! Policy:
//! - Actions run in order. A failing action with `onError: "return"` (the default) gets status
//!   `returned` and every later action `notExecuted`; with `onError: "continue"` it gets
//!   `continued` and the sequence goes on. Failures never change the Zyte status (still 200).
//! - `setLocation` follows the site's `set_location` setting: unsupported sites give the error
//!   `Action setLocation not supported on <domain>` (configurable after the verified prefix);
//!   an address the site does not accept gives `Action setLocation failed`. A session's location
//!   is fixed when the session is created, so on a reused session a setLocation for another
//!   location (or any location, if the session was created without one) also fails.
//! - Selector actions (`click`, `waitForSelector`, …) fail only for a CSS `#id` selector whose
//!   `id="…"` is absent from the page's template; any other selector is assumed present.
//! - Every other known action succeeds. `elapsedTime` is simulated (seconds, from the request's
//!   RNG); it is reported, not slept.

use rand::Rng;
use serde::Serialize;

use crate::scenario::{LocationMode, SetLocation};

/// Action names Zyte API accepts (`zyte-api.md` §1.4).
pub const KNOWN_ACTIONS: &[&str] = &[
    "click",
    "doubleClick",
    "evaluate",
    "goto",
    "hide",
    "hover",
    "interaction",
    "keyPress",
    "reload",
    "scrollBottom",
    "scrollTo",
    "searchKeyword",
    "select",
    "setLocation",
    "type",
    "waitForNavigation",
    "waitForRequest",
    "waitForResponse",
    "waitForSelector",
    "waitForTimeout",
];

/// What to do when an action fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// Stop the sequence (`return`, the default).
    #[default]
    Return,
    /// Go on (`continue`).
    Continue,
}

/// The address of a setLocation action.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// `postalCode`.
    pub postal_code: Option<String>,
    /// `addressRegion`.
    pub region: Option<String>,
    /// `addressCountry`.
    pub country: Option<String>,
    /// `streetAddress`.
    pub street: Option<String>,
}

/// A validated action.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// One of [`KNOWN_ACTIONS`].
    pub name: String,
    /// `onError`.
    pub on_error: OnError,
    /// setLocation's `address`.
    pub address: Option<Address>,
    /// The selector's `value`, for selector actions.
    pub selector: Option<String>,
    /// `timeout` seconds, if given.
    pub timeout: Option<f64>,
}

/// Status of an executed (or skipped) action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionStatus {
    /// It worked.
    Success,
    /// It failed and the sequence went on.
    Continued,
    /// It failed and the sequence stopped.
    Returned,
    /// An earlier action stopped the sequence.
    NotExecuted,
}

/// One element of the response's `actions` array.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// The action name.
    pub action: String,
    /// Simulated seconds.
    pub elapsed_time: f64,
    /// Outcome.
    pub status: ActionStatus,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the actions run against.
#[derive(Clone, Copy)]
pub struct Stage<'a> {
    /// The host name (for the "not supported" error).
    pub domain: &'a str,
    /// The site's setLocation support.
    pub support: &'a SetLocation,
    /// What `*` matched in the site's domain pattern.
    pub capture: Option<&'a str>,
    /// `Some(location)` when the request reuses a session whose location is fixed.
    pub fixed_location: Option<Option<&'a str>>,
    /// The unsupported-setLocation error for this domain.
    pub unsupported_error: &'a str,
    /// Whether a CSS `#id` selector is on the page.
    pub has_id: &'a dyn Fn(&str) -> bool,
}

/// The results of a sequence, and the location it set (if setLocation succeeded).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The `actions` array.
    pub results: Vec<ActionResult>,
    /// The location set by a successful setLocation.
    pub location: Option<String>,
}

/// Runs `actions` on `stage`.
pub fn run(actions: &[Action], stage: &Stage<'_>, rng: &mut impl Rng) -> Outcome {
    let mut outcome = Outcome::default();
    let mut stopped = false;
    for action in actions {
        let (status, error, elapsed) = if stopped {
            (ActionStatus::NotExecuted, None, 0.0)
        } else {
            let elapsed = simulated_seconds(action, rng);
            match perform(action, stage) {
                Ok(location) => {
                    outcome.location = location.or(outcome.location.take());
                    (ActionStatus::Success, None, elapsed)
                }
                Err(error) if action.on_error == OnError::Continue => {
                    (ActionStatus::Continued, Some(error), elapsed)
                }
                Err(error) => {
                    stopped = true;
                    (ActionStatus::Returned, Some(error), elapsed)
                }
            }
        };
        outcome.results.push(ActionResult {
            action: action.name.clone(),
            elapsed_time: elapsed,
            status,
            error,
        });
    }
    outcome
}

fn simulated_seconds(action: &Action, rng: &mut impl Rng) -> f64 {
    let seconds: f64 = match action.name.as_str() {
        "setLocation" => rng.random_range(1.0..3.0),
        "waitForTimeout" => action.timeout.unwrap_or(1.0),
        _ => rng.random_range(0.05..0.5),
    };
    (seconds * 1000.0).round() / 1000.0
}

/// Performs one action: `Ok(Some(location))` for a successful setLocation.
fn perform(action: &Action, stage: &Stage<'_>) -> Result<Option<String>, String> {
    if action.name == "setLocation" {
        return set_location(action.address.as_ref(), stage).map(Some);
    }
    match &action.selector {
        Some(selector) if !selector_present(selector, stage) => {
            Err(missing_selector(&action.name, selector))
        }
        _ => Ok(None),
    }
}

fn selector_present(selector: &str, stage: &Stage<'_>) -> bool {
    match selector.strip_prefix('#') {
        Some(id)
            if !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_') =>
        {
            (stage.has_id)(id)
        }
        _ => true,
    }
}

fn missing_selector(action: &str, selector: &str) -> String {
    if action == "waitForSelector" {
        format!("Request timeout while waiting for selector '{selector}'")
    } else {
        format!("Element not found for selector '{selector}'")
    }
}

fn set_location(address: Option<&Address>, stage: &Stage<'_>) -> Result<String, String> {
    const FAILED: &str = "Action setLocation failed";
    let address = address.cloned().unwrap_or_default();
    let accepted = match stage.support {
        SetLocation::Mode(LocationMode::Unsupported) => {
            return Err(stage.unsupported_error.to_owned());
        }
        SetLocation::Mode(LocationMode::Any) => address_label(&address),
        SetLocation::Mode(LocationMode::FromDomain) => address
            .postal_code
            .filter(|code| Some(code.as_str()) == stage.capture),
        SetLocation::PostalCodes(codes) => address.postal_code.filter(|code| codes.contains(code)),
    };
    let location = accepted.ok_or_else(|| FAILED.to_owned())?;
    match stage.fixed_location {
        Some(fixed) if fixed != Some(location.as_str()) => Err(FAILED.to_owned()),
        _ => Ok(location),
    }
}

fn address_label(address: &Address) -> Option<String> {
    let label = address
        .postal_code
        .as_ref()
        .or(address.region.as_ref())
        .or(address.country.as_ref());
    Some(
        label
            .or(address.street.as_ref())
            .cloned()
            .unwrap_or_else(|| "set".to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use crate::rng::RequestRng;
    use rand::SeedableRng;

    use super::*;

    fn set_location_action(code: &str, on_error: OnError) -> Action {
        let address = Address {
            postal_code: Some(code.into()),
            ..Address::default()
        };
        Action {
            name: "setLocation".into(),
            on_error,
            address: Some(address),
            selector: None,
            timeout: None,
        }
    }

    fn simple(name: &str) -> Action {
        Action {
            name: name.into(),
            on_error: OnError::Return,
            address: None,
            selector: None,
            timeout: None,
        }
    }

    fn stage<'a>(support: &'a SetLocation, fixed: Option<Option<&'a str>>) -> Stage<'a> {
        Stage {
            domain: "postal-code-10001.example",
            support,
            capture: Some("10001"),
            fixed_location: fixed,
            unsupported_error: "Action setLocation not supported on postal-code-10001.example",
            has_id: &|id| id == "present",
        }
    }

    fn statuses(outcome: &Outcome) -> Vec<ActionStatus> {
        outcome.results.iter().map(|r| r.status).collect()
    }

    #[test]
    fn from_domain_accepts_only_the_domain_postal_code() {
        let support = SetLocation::Mode(LocationMode::FromDomain);
        let mut rng = RequestRng::seed_from_u64(0);
        let ok = run(
            &[set_location_action("10001", OnError::Return)],
            &stage(&support, None),
            &mut rng,
        );
        assert_eq!(statuses(&ok), [ActionStatus::Success]);
        assert_eq!(ok.location.as_deref(), Some("10001"));
        let bad = run(
            &[
                set_location_action("10002", OnError::Return),
                simple("click"),
            ],
            &stage(&support, None),
            &mut rng,
        );
        assert_eq!(
            statuses(&bad),
            [ActionStatus::Returned, ActionStatus::NotExecuted]
        );
        assert_eq!(
            bad.results[0].error.as_deref(),
            Some("Action setLocation failed")
        );
        assert_eq!(bad.location, None);
    }

    #[test]
    fn continue_keeps_the_sequence_going() {
        let support = SetLocation::Mode(LocationMode::FromDomain);
        let mut rng = RequestRng::seed_from_u64(0);
        let actions = [
            set_location_action("99999", OnError::Continue),
            simple("scrollBottom"),
        ];
        let outcome = run(&actions, &stage(&support, None), &mut rng);
        assert_eq!(
            statuses(&outcome),
            [ActionStatus::Continued, ActionStatus::Success]
        );
    }

    #[test]
    fn unsupported_sites_report_the_verified_prefix() {
        let support = SetLocation::Mode(LocationMode::Unsupported);
        let mut rng = RequestRng::seed_from_u64(0);
        let outcome = run(
            &[set_location_action("10001", OnError::Return)],
            &stage(&support, None),
            &mut rng,
        );
        let error = outcome.results[0].error.clone().unwrap_or_default();
        assert!(
            error.starts_with(crate::policy::SET_LOCATION_UNSUPPORTED_PREFIX),
            "{error}"
        );
    }

    #[test]
    fn a_session_location_is_fixed_at_creation() {
        let support = SetLocation::Mode(LocationMode::Any);
        let mut rng = RequestRng::seed_from_u64(0);
        let same = run(
            &[set_location_action("10001", OnError::Return)],
            &stage(&support, Some(Some("10001"))),
            &mut rng,
        );
        assert_eq!(statuses(&same), [ActionStatus::Success]);
        let other = run(
            &[set_location_action("94105", OnError::Return)],
            &stage(&support, Some(Some("10001"))),
            &mut rng,
        );
        assert_eq!(statuses(&other), [ActionStatus::Returned]);
        let unset = run(
            &[set_location_action("94105", OnError::Return)],
            &stage(&support, Some(None)),
            &mut rng,
        );
        assert_eq!(statuses(&unset), [ActionStatus::Returned]);
    }

    #[test]
    fn missing_id_selectors_fail() {
        let support = SetLocation::default();
        let mut rng = RequestRng::seed_from_u64(0);
        let mut wait = simple("waitForSelector");
        wait.selector = Some("#absent".into());
        let mut click = simple("click");
        click.selector = Some("#present".into());
        let outcome = run(&[click, wait], &stage(&support, None), &mut rng);
        assert_eq!(
            statuses(&outcome),
            [ActionStatus::Success, ActionStatus::Returned]
        );
        assert_eq!(
            outcome.results[1].error.as_deref(),
            Some("Request timeout while waiting for selector '#absent'")
        );
    }
}
