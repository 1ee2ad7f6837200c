//! The reference's grids: enabled and cookie mode (setting × request key, 9 cases each,
//! reference 4.4), pool options (`ZYTE_API_SESSION_POOLS` > pool dict > global, every
//! combination, reference 4.2) and init parameters (the 108-case table, reference 4.1).

use serde_json::{Map, Value, json};
use session_host::defaults::DefaultConfig;
use session_host::engine::Engine;
use session_host::plugin::{Address, Defaults, SessionControls};
use session_host::settings::{Location, PoolOptions, SessionSettings};
use session_host::wire;

use super::harness::{Harness, client, get, pool, postal, scenario, settings};

/// The three states of a reference setting or meta key: unset, true, false.
const TRI: [Option<bool>; 3] = [None, Some(true), Some(false)];

#[tokio::test]
async fn enabled_grid_setting_by_request_key() {
    for setting in TRI {
        let s = SessionSettings {
            enabled: setting.unwrap_or(false),
            pool_size: 1,
            ..settings()
        };
        let h = Harness::new(s).await;
        let mut disabled = 0;
        for key in TRI {
            let mut r = get("https://example.com/");
            r.controls.enabled = key;
            let response = h.send(r).await.expect("a response");
            let want = key.or(setting).unwrap_or(false);
            disabled += u64::from(!want);
            let case = format!("setting {setting:?}, request {key:?}");
            assert_eq!(response.served_by.is_some(), want, "{case}");
            assert_eq!(h.stat("use/disabled"), disabled, "{case}");
        }
    }
}

#[tokio::test]
async fn cookie_mode_grid_setting_by_request_key() {
    for (i, setting) in TRI.into_iter().enumerate() {
        let s = SessionSettings {
            cookie_mode: setting.unwrap_or(false),
            pool_size: 1,
            ..settings()
        };
        let h = Harness::new(s).await;
        for (j, key) in TRI.into_iter().enumerate() {
            let site = format!("cookie-{i}-{j}.example");
            let mut r = get(&format!("https://{site}/"));
            r.controls.cookie_mode = key;
            h.send(r).await.expect("a response");
            let cookie = key.or(setting).unwrap_or(false);
            let case = format!("setting {setting:?}, request {key:?}");
            // Cookie mode keeps the session in cookies: no Zyte API session is created.
            assert_eq!(h.created(&site), u64::from(!cookie), "{case}");
        }
    }
}

#[tokio::test]
async fn pool_options_precedence_every_combination() {
    let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig {
        time_scale: 0.0,
        scenario: scenario(""),
        ..zyte_emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let mut cases = 0;
    for mask in 0u32..64 {
        let on = |bit: u32| mask & (1 << bit) != 0;
        let preset = PoolOptions {
            size: on(0).then_some(1),
            delay: on(1).then_some(0.01),
            randomize_delay: on(2).then_some(false),
        };
        let spec = pool(
            "p",
            on(3).then_some(2),
            on(4).then_some(0.02),
            on(5).then_some(true),
        );
        let mut s = SessionSettings {
            pool_size: 3,
            delay: 0.0,
            ..settings()
        };
        s.randomize_delay = true;
        s.pools.insert("p".into(), preset.clone());
        let engine = Engine::new(s, client(&emulator));
        let mut r = get(&format!("https://grid-{mask}.example/"));
        r.controls.pool = Some(spec.clone());
        engine.execute(r).await.expect("a response");
        let p = engine
            .pools()
            .into_iter()
            .find(|p| p.id == "p")
            .expect("pool p");
        let want = (
            preset.size.or(spec.size).unwrap_or(3),
            preset.delay.or(spec.delay).unwrap_or(0.0),
            preset
                .randomize_delay
                .or(spec.randomize_delay)
                .unwrap_or(true),
        );
        assert_eq!(
            (p.size, p.delay, p.randomize_delay),
            want,
            "case {mask:06b}"
        );
        cases += 1;
    }
    assert_eq!(cases, 64);
}

/// What a request's meta key holds in the params grid: absent, present but falsy, truthy.
#[derive(Clone, Copy, Debug)]
enum Key {
    Absent,
    Empty,
    Truthy,
}

const KEYS: [Key; 3] = [Key::Absent, Key::Empty, Key::Truthy];

fn controls(params: Key, location: Key) -> SessionControls {
    let mut c = wire::no_controls();
    c.params = match params {
        Key::Absent => None,
        Key::Empty => Some("{}".into()),
        Key::Truthy => Some(json!({"url": "https://meta.example/", "m": 1}).to_string()),
    };
    c.location = match location {
        Key::Absent => None,
        Key::Empty => Some(postal_none()),
        Key::Truthy => Some(postal("10001")),
    };
    c
}

fn postal_none() -> Address {
    Address {
        address_country: None,
        address_region: None,
        postal_code: None,
        street_address: None,
    }
}

/// The reference's 4.1, restated: the init URL and body a request gets.
fn oracle(
    meta_params: Key,
    meta_location: Key,
    setting_params: &Map<String, Value>,
    setting_location: bool,
    location_hook: Option<&str>,
) -> (String, Value) {
    let mut params = match (meta_params, meta_location) {
        (Key::Truthy, _) => json!({"url": "https://meta.example/", "m": 1}),
        (_, Key::Absent | Key::Empty) if !setting_params.is_empty() => {
            Value::Object(setting_params.clone())
        }
        _ => {
            let location = match (location_hook, meta_location) {
                (Some(code), _) => Some(code),
                (None, Key::Truthy) => Some("10001"),
                (None, Key::Empty) => None,
                (None, Key::Absent) => setting_location.then_some("20002"),
            };
            match location {
                Some(code) => json!({"browserHtml": true, "actions": [
                    {"action": "setLocation", "address": {"postalCode": code}}]}),
                None => json!({"browserHtml": true}),
            }
        }
    };
    let url = params
        .as_object_mut()
        .and_then(|p| p.remove("url"))
        .and_then(|u| u.as_str().map(str::to_owned))
        .unwrap_or_else(|| "https://example.com/".into());
    (url, params)
}

#[test]
fn init_params_precedence_108_cases() {
    let setting_params = [
        Map::new(),
        json!({"browserHtml": true, "s": 1})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        json!({"url": "https://setting.example/", "s": 2})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    ];
    let mut cases = 0;
    for meta_params in KEYS {
        for meta_location in KEYS {
            for sp in &setting_params {
                for setting_location in [false, true] {
                    for hook in [None, Some("30003")] {
                        let settings = SessionSettings {
                            params: sp.clone(),
                            location: Location {
                                postal_code: setting_location.then(|| "20002".into()),
                                ..Location::default()
                            },
                            ..SessionSettings::default()
                        };
                        let d = DefaultConfig::new(std::sync::Arc::new(settings));
                        let c = controls(meta_params, meta_location);
                        let request =
                            wire::request_from_body("https://example.com/".into(), &Map::new(), c);
                        // A config's `location` hook result replaces the default location(),
                        // as a Python `location()` override does.
                        let location = hook.map_or_else(|| d.location(&request), postal);
                        let params = d
                            .preset_init_params(&request)
                            .unwrap_or_else(|| d.params(&location));
                        let init = d
                            .init_request("sid", &request, &params, false)
                            .expect("an init request");
                        let got = (
                            init.url.clone(),
                            serde_json::from_str(&init.params).expect("json"),
                        );
                        let want = oracle(meta_params, meta_location, sp, setting_location, hook);
                        let case = format!(
                            "meta params {meta_params:?}, meta location {meta_location:?}, \
                             setting params {sp:?}, setting location {setting_location}, \
                             location hook {hook:?}"
                        );
                        assert_eq!(got, want, "{case}");
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 108);
}
