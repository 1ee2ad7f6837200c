//! Parsing of `actions` arrays (request `actions` and `sessionContextParameters.actions`).
//!
//! Policy: the action name must be one of [`KNOWN_ACTIONS`]; `onError`, setLocation's `address`
//! (a closed PostalAddress object) and a `selector` object are type-checked with the field path
//! in the error (`actions[2].address.postalCode`). Other per-action parameters are accepted as
//! Zyte API's schema allows and otherwise ignored.

use serde_json::Value;

use super::fields;
use crate::actions::{Action, Address, KNOWN_ACTIONS, OnError};
use crate::problem::Problem;

/// The most actions a request may carry (a limit of ours, against absurd payloads).
pub const MAX_ACTIONS: usize = 100;

const ADDRESS_FIELDS: &[&str] = &[
    "addressCountry",
    "addressRegion",
    "postalCode",
    "streetAddress",
];

/// Parses an `actions` array found at `field`.
pub fn parse_actions(field: &str, value: &Value) -> Result<Vec<Action>, Problem> {
    let items = fields::array(field, value, MAX_ACTIONS)?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_action(&format!("{field}[{i}]"), item))
        .collect()
}

fn parse_action(field: &str, value: &Value) -> Result<Action, Problem> {
    let map = fields::object(field, value)?;
    let name_field = format!("{field}.action");
    let name = fields::string(&name_field, fields::member(field, map, "action")?, 100)?;
    if !KNOWN_ACTIONS.contains(&name) {
        return Err(fields::invalid(
            &name_field,
            format_args!("unknown action \"{name}\""),
        ));
    }
    let on_error = match map.get("onError") {
        None => OnError::Return,
        Some(v) => match fields::one_of(&format!("{field}.onError"), v, &["return", "continue"])? {
            "continue" => OnError::Continue,
            _ => OnError::Return,
        },
    };
    let address = match map.get("address") {
        Some(v) if name == "setLocation" => Some(parse_address(&format!("{field}.address"), v)?),
        _ => None,
    };
    let selector = map
        .get("selector")
        .map(|v| parse_selector(&format!("{field}.selector"), v))
        .transpose()?;
    let timeout = map
        .get("timeout")
        .map(|v| fields::number_in(&format!("{field}.timeout"), v, 0.0..=60.0))
        .transpose()?;
    Ok(Action {
        name: name.to_owned(),
        on_error,
        address,
        selector,
        timeout,
    })
}

fn parse_address(field: &str, value: &Value) -> Result<Address, Problem> {
    let map = fields::closed_object(field, value, ADDRESS_FIELDS)?;
    let get = |key: &str| -> Result<Option<String>, Problem> {
        map.get(key)
            .map(|v| fields::string(&format!("{field}.{key}"), v, 500).map(str::to_owned))
            .transpose()
    };
    Ok(Address {
        country: get("addressCountry")?,
        region: get("addressRegion")?,
        postal_code: get("postalCode")?,
        street: get("streetAddress")?,
    })
}

fn parse_selector(field: &str, value: &Value) -> Result<String, Problem> {
    let map = fields::closed_object(field, value, &["type", "value", "state"])?;
    if let Some(kind) = map.get("type") {
        fields::one_of(&format!("{field}.type"), kind, &["css", "xpath"])?;
    }
    if let Some(state) = map.get("state") {
        fields::one_of(
            &format!("{field}.state"),
            state,
            &["visible", "hidden", "attached"],
        )?;
    }
    let selector = fields::non_empty(
        &format!("{field}.value"),
        fields::member(field, map, "value")?,
        500,
    )?;
    Ok(selector.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_set_location_and_on_error() {
        let actions = parse_actions(
            "actions",
            &json!([{"action": "setLocation", "address": {"postalCode": "10001"}, "onError": "continue"},
                    {"action": "waitForSelector", "selector": {"type": "css", "value": "#x"}}]),
        )
        .expect("valid actions");
        assert_eq!(
            actions[0]
                .address
                .as_ref()
                .and_then(|a| a.postal_code.as_deref()),
            Some("10001")
        );
        assert_eq!(actions[0].on_error, OnError::Continue);
        assert_eq!(actions[1].selector.as_deref(), Some("#x"));
    }

    #[test]
    fn errors_carry_the_field_path() {
        let err = parse_actions("actions", &json!([{"action": "fly"}])).expect_err("unknown");
        assert_eq!(
            err.detail,
            "Invalid value for field \"actions[0].action\": unknown action \"fly\""
        );
        let err = parse_actions("actions", &json!([{"action": "click", "onError": "retry"}]))
            .expect_err("onError");
        assert!(err.detail.contains("actions[0].onError"), "{}", err.detail);
        let err = parse_actions(
            "actions",
            &json!([{"action": "setLocation", "address": {"zip": "1"}}]),
        )
        .expect_err("address");
        assert_eq!(err.detail, "Unrecognized field \"actions[0].address.zip\"");
        let err = parse_actions("actions", &json!([{}])).expect_err("missing");
        assert_eq!(err.detail, "Missing required field \"actions[0].action\"");
    }
}
