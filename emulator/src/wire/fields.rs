//! Typed readers for JSON request fields. Every error is a 400 `/request/invalid` whose detail
//! names the field (with its path, e.g. `actions[0].onError`) and what was expected.

use serde_json::{Map, Value};

use crate::problem::Problem;

/// `Invalid value for field "<field>": expected <what>, got <kind>`.
pub fn expected(field: &str, what: &str, got: &Value) -> Problem {
    Problem::invalid(format!(
        "Invalid value for field \"{field}\": expected {what}, got {}",
        kind(got)
    ))
}

/// A 400 naming the field, with a free-form reason.
pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Problem {
    Problem::invalid(format!("Invalid value for field \"{field}\": {reason}"))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A boolean.
pub fn boolean(field: &str, value: &Value) -> Result<bool, Problem> {
    value
        .as_bool()
        .ok_or_else(|| expected(field, "a boolean", value))
}

/// A string of at most `max` characters.
pub fn string<'a>(field: &str, value: &'a Value, max: usize) -> Result<&'a str, Problem> {
    let text = value
        .as_str()
        .ok_or_else(|| expected(field, "a string", value))?;
    if text.chars().count() > max {
        return Err(invalid(field, format_args!("longer than {max} characters")));
    }
    Ok(text)
}

/// A string of 1..=`max` characters.
pub fn non_empty<'a>(field: &str, value: &'a Value, max: usize) -> Result<&'a str, Problem> {
    let text = string(field, value, max)?;
    if text.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(text)
}

/// One of the `allowed` strings.
pub fn one_of<'a>(field: &str, value: &'a Value, allowed: &[&str]) -> Result<&'a str, Problem> {
    let text = value
        .as_str()
        .ok_or_else(|| expected(field, "a string", value))?;
    if allowed.contains(&text) {
        return Ok(text);
    }
    let list = allowed
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    Err(invalid(
        field,
        format_args!("\"{text}\" is not one of {list}"),
    ))
}

/// An array of at most `max_items` elements.
pub fn array<'a>(field: &str, value: &'a Value, max_items: usize) -> Result<&'a [Value], Problem> {
    let items = value
        .as_array()
        .ok_or_else(|| expected(field, "an array", value))?;
    if items.len() > max_items {
        return Err(invalid(field, format_args!("more than {max_items} items")));
    }
    Ok(items)
}

/// An object.
pub fn object<'a>(field: &str, value: &'a Value) -> Result<&'a Map<String, Value>, Problem> {
    value
        .as_object()
        .ok_or_else(|| expected(field, "an object", value))
}

/// An object whose keys are all in `allowed` (`additionalProperties: false`).
pub fn closed_object<'a>(
    field: &str,
    value: &'a Value,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, Problem> {
    let map = object(field, value)?;
    if let Some(key) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(Problem::invalid(format!(
            "Unrecognized field \"{field}.{key}\""
        )));
    }
    Ok(map)
}

/// A required member of an object.
pub fn member<'a>(
    field: &str,
    map: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Value, Problem> {
    map.get(key)
        .ok_or_else(|| Problem::invalid(format!("Missing required field \"{field}.{key}\"")))
}

/// An integer within `range`.
pub fn integer_in(
    field: &str,
    value: &Value,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, Problem> {
    let number = value
        .as_i64()
        .ok_or_else(|| expected(field, "an integer", value))?;
    if !range.contains(&number) {
        return Err(invalid(
            field,
            format_args!("{number} is outside {}..={}", range.start(), range.end()),
        ));
    }
    Ok(number)
}

/// A number within `range`.
pub fn number_in(
    field: &str,
    value: &Value,
    range: std::ops::RangeInclusive<f64>,
) -> Result<f64, Problem> {
    let number = value
        .as_f64()
        .ok_or_else(|| expected(field, "a number", value))?;
    if !range.contains(&number) {
        return Err(invalid(
            field,
            format_args!("{number} is outside {}..={}", range.start(), range.end()),
        ));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn errors_name_the_field_and_the_types() {
        let problem = boolean("browserHtml", &json!("yes")).expect_err("not a bool");
        assert_eq!(problem.status, 400);
        assert_eq!(
            problem.detail,
            "Invalid value for field \"browserHtml\": expected a boolean, got a string"
        );
        let problem =
            one_of("ipType", &json!("mobile"), &["datacenter", "residential"]).expect_err("enum");
        assert!(
            problem.detail.contains("\"mobile\" is not one of"),
            "{}",
            problem.detail
        );
        let problem =
            closed_object("viewport", &json!({"depth": 1}), &["width"]).expect_err("closed");
        assert_eq!(problem.detail, "Unrecognized field \"viewport.depth\"");
    }
}
