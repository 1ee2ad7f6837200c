//! Test guests written in WAT, so that the hostile corpus needs no wasm toolchain.
//!
//! Each guest is a core module implementing the `session-config` world by hand, following the
//! canonical ABI: every hook but `rules` takes more than 16 flat parameters, so it receives one
//! pointer to its arguments and returns one pointer to its result. The world's component type
//! is embedded with `wit-component`, and the runtime componentizes the module on load, exactly
//! as it does for `wasm32-unknown-unknown` builds.

use std::path::Path;

use wit_component::StringEncoding;

/// Memory layout of the static results (offsets into linear memory).
const OK_TRUE: u32 = 16; // result<bool, string>: ok(true)
const RULES: u32 = 32; // rules { include: [], exclude: [], priority: 500, instead-of: none }
const BAD_JSON: u32 = 96; // result<string, string>: ok("{not json")
const BAD_UTF8: u32 = 256; // result<string, string>: ok(<invalid UTF-8>)
/// The panic message a guest reports before trapping.
pub const PANIC_MESSAGE: &str = "panicked at src/lib.rs:7:5: the token was not found";

/// Hooks that take a pointer and return a pointer.
const HOOKS: [&str; 8] = [
    "enabled",
    "cookie-mode",
    "pool",
    "location",
    "params",
    "init-session",
    "check",
    "process-request",
];

/// Bodies for hooks, by name. Hooks not overridden: `enabled` and `cookie-mode` return
/// `ok(true)`, the others trap with `unreachable`.
pub mod body {
    /// Loops forever.
    pub const LOOP: &str = "(loop $l (br $l)) (i32.const 0)";
    /// Grows memory until refused, then traps (what an allocator does when out of memory).
    pub const MEMORY_BOMB: &str =
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable";
    /// Reports a panic message, then traps: what the SDKs' panic hooks do.
    pub fn panic() -> String {
        format!(
            "(call $report_panic (i32.const 160) (i32.const {})) unreachable",
            super::PANIC_MESSAGE.len()
        )
    }
    /// Divides by zero.
    pub const TRAP: &str = "(i32.div_u (i32.const 1) (i32.const 0))";
    /// Returns params that are not JSON.
    pub fn bad_json() -> String {
        format!("(i32.const {})", super::BAD_JSON)
    }
    /// Returns a string that is not UTF-8.
    pub fn bad_utf8() -> String {
        format!("(i32.const {})", super::BAD_UTF8)
    }
}

/// A guest whose hooks behave as the defaults above, except those in `overrides`; `rules_body`
/// replaces the body of `rules` when given.
pub fn guest(overrides: &[(&str, &str)], rules_body: Option<&str>) -> Vec<u8> {
    let mut funcs = String::new();
    for hook in HOOKS {
        let default = if matches!(hook, "enabled" | "cookie-mode") {
            format!("(i32.const {OK_TRUE})")
        } else {
            "unreachable".into()
        };
        let body = overrides
            .iter()
            .find(|(h, _)| *h == hook)
            .map(|(_, b)| b.to_string())
            .unwrap_or(default);
        funcs.push_str(&format!(
            "  (func (export \"{hook}\") (param i32) (result i32) {body})\n"
        ));
    }
    let rules = rules_body
        .map(str::to_owned)
        .unwrap_or(format!("(i32.const {RULES})"));
    let wat = format!(
        r#"(module
  (import "session-host:config/log@0.1.0" "report-panic" (func $report_panic (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const {OK_TRUE}) "\00\00\00\00\01")
  (data (i32.const {prio}) "\f4\01\00\00")
  (data (i32.const {BAD_JSON}) "\00\00\00\00\80\00\00\00\09\00\00\00")
  (data (i32.const 128) "{{not json")
  (data (i32.const 160) "{PANIC_MESSAGE}")
  (data (i32.const {BAD_UTF8}) "\00\00\00\00\20\01\00\00\02\00\00\00")
  (data (i32.const 288) "\ff\fe")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.xor (i32.sub (local.get 2) (i32.const 1)) (i32.const -1))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (block $ok
      (br_if $ok (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
      (br_if $ok (i32.ne (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.shl (memory.size) (i32.const 16))) (i32.const 16)) (i32.const 1))) (i32.const -1)))
      unreachable)
    (local.get $p))
  (func (export "rules") (result i32) {rules})
{funcs})"#,
        prio = RULES + 16,
    );
    with_world(
        wat::parse_str(&wat).expect("test guest WAT is valid"),
        &wit_dir(),
        "session-config",
    )
}

/// A core module implementing another world entirely.
pub fn wrong_world() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("other.wit"),
        "package test:other;\nworld other { export hello: func() -> u32; }\n",
    )
    .expect("write WIT");
    let module = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "hello") (result i32) (i32.const 7)))"#)
        .expect("valid WAT");
    with_world(module, dir.path(), "other")
}

/// A core module with no component-type section.
pub fn bare_module() -> Vec<u8> {
    wat::parse_str("(module (func (export \"f\")))").expect("valid WAT")
}

fn with_world(mut module: Vec<u8>, wit: &Path, world: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(wit).expect("WIT parses");
    let world = resolve
        .select_world(&[package], Some(world))
        .expect("world exists");
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .expect("embed metadata");
    module
}

/// The repository's `wit/` folder.
pub fn wit_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
}
