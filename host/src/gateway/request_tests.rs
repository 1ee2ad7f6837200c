use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::session_management::{FIELD, KEYS, LOCATION_KEYS, POOL_KEYS};
use crate::wire;

fn ok(body: Value) -> EngineRequest {
    parse(body.to_string().as_bytes()).expect("parses")
}

fn fails(body: &[u8]) -> Problem {
    parse(body).expect_err("is refused")
}

/// What the controls hold is `session_management`'s to test; here, that they reach the request.
#[test]
fn session_management_becomes_controls_and_leaves_the_body() {
    let controls = json!({
        "enabled": true,
        "location": {"postalCode": "10001"},
        "pool": {"id": "shop", "size": 3},
    });
    let request = ok(json!({
        "url": "https://a.example/",
        "httpResponseBody": true,
        "sessionManagement": controls,
    }));
    assert_eq!(
        Value::Object(request.body),
        json!({"url": "https://a.example/", "httpResponseBody": true})
    );
    let expected = crate::session_management::parse_controls(&controls).expect("valid");
    assert_eq!(request.controls, expected);
    assert_eq!(request.controls.pool.expect("pool").id, "shop");
}

#[test]
fn without_session_management_nothing_is_set() {
    let request = ok(json!({"url": "https://a.example/", "echoData": {"sessionManagement": 1}}));
    assert_eq!(request.controls, wire::no_controls());
    assert_eq!(request.body["echoData"], json!({"sessionManagement": 1}));
}

#[test]
fn each_bad_input_is_named_precisely() {
    let cases: &[(&[u8], ProblemKind, &str)] = &[
        (
            b"",
            ProblemKind::InvalidJson,
            "the request body is empty; expected a JSON object",
        ),
        (
            b"{\"url\": ",
            ProblemKind::InvalidJson,
            "the request body is not valid JSON: EOF while parsing a value at line 1 column 8",
        ),
        (
            b"[1]",
            ProblemKind::BadRequest,
            "the request body must be a JSON object, got an array",
        ),
        (b"{}", ProblemKind::BadRequest, "the request has no `url`"),
        (
            br#"{"url": 3}"#,
            ProblemKind::BadRequest,
            "`url` must be a string, got a number",
        ),
        (
            br#"{"url": "u", "sessionManagement": []}"#,
            ProblemKind::BadRequest,
            "`sessionManagement` must be an object, got an array",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"enable": true}}"#,
            ProblemKind::BadRequest,
            "unknown key `sessionManagement.enable`; expected one of: enabled, cookieMode, params, location, retryPolicy, pool",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"enabled": "yes"}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.enabled` must be a boolean, got a string",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"params": "{}"}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.params` must be an object, got a string",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"location": {"zip": "1"}}}"#,
            ProblemKind::BadRequest,
            "unknown key `sessionManagement.location.zip`; expected one of: addressCountry, addressRegion, postalCode, streetAddress",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"location": {"postalCode": 10001}}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.location.postalCode` must be a string, got the number 10001",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"pool": 7}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.pool` must be a pool id (a string) or an object, got the number 7",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"pool": {"id": ""}}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.pool.id` must not be empty",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"pool": {"size": 2}}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.pool` has no `id`",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"pool": {"id": "p", "size": 0}}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.pool.size` must be a positive integer (at most 4294967295), got the number 0",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"pool": {"id": "p", "delay": -1}}}"#,
            ProblemKind::BadRequest,
            "`sessionManagement.pool.delay` must be a number of seconds ≥ 0, got the number -1",
        ),
        (
            br#"{"url": "u", "sessionManagement": {"pool": {"id": "p", "max": 1}}}"#,
            ProblemKind::BadRequest,
            "unknown key `sessionManagement.pool.max`; expected one of: id, size, delay, randomizeDelay",
        ),
    ];
    for (body, kind, detail) in cases {
        let problem = fails(body);
        assert_eq!(
            (problem.kind(), problem.detail.as_str()),
            (Some(*kind), *detail),
            "for {}",
            String::from_utf8_lossy(body)
        );
    }
}

/// Arbitrary JSON, biased towards the shapes the parser looks at.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z]{0,6}".prop_map(Value::String),
    ];
    let key = prop_oneof![
        Just("url".to_owned()),
        Just(FIELD.to_owned()),
        proptest::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
        proptest::sample::select(LOCATION_KEYS.to_vec()).prop_map(str::to_owned),
        proptest::sample::select(POOL_KEYS.to_vec()).prop_map(str::to_owned),
        "[a-zA-Z]{1,8}",
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn is_request_or_4xx(result: Result<EngineRequest, Problem>) -> Result<(), TestCaseError> {
    match result {
        Ok(request) => {
            prop_assert!(request.body.get("url").is_some_and(Value::is_string));
            prop_assert!(!request.body.contains_key(FIELD));
        }
        Err(problem) => {
            prop_assert!((400..500).contains(&problem.status), "{problem:?}");
            prop_assert!(!problem.detail.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        is_request_or_4xx(parse(&bytes))?;
    }

    #[test]
    fn arbitrary_json_yields_a_request_or_a_4xx(value in json_value()) {
        is_request_or_4xx(parse(value.to_string().as_bytes()))?;
    }

    #[test]
    fn arbitrary_session_management_yields_a_request_or_a_4xx(
        url in prop_oneof![Just(Value::from("https://a.example/")), json_value()],
        controls in json_value(),
    ) {
        let body = json!({"url": url, "sessionManagement": controls});
        is_request_or_4xx(parse(body.to_string().as_bytes()))?;
    }
}
