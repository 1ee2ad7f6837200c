//! Test guests written in WAT, so that the hostile corpus needs no wasm toolchain.
//!
//! Each guest is a core module implementing the `session-config` world by hand, following the
//! canonical ABI: every hook but `rules` takes more than 16 flat parameters, so it receives one
//! pointer to its arguments and returns one pointer to its result. The world's component type
//! is embedded with `wit-component`, and the runtime componentizes the module on load, exactly
//! as it does for `wasm32-unknown-unknown` builds.

use std::path::{Path, PathBuf};

use wit_component::StringEncoding;

/// Memory layout of the static results (offsets into linear memory).
const OK_TRUE: u32 = 16; // result<bool, string>: ok(true)
const RULES: u32 = 32; // rules { include: [], exclude: [], priority: 500, instead-of: none }
const BAD_JSON: u32 = 96; // result<string, string>: ok("{not json")
const BAD_UTF8: u32 = 256; // result<string, string>: ok(<invalid UTF-8>)
const ZEROS: u32 = 512; // 64 zero bytes: ok(false), ok(none), ok(empty address)
const POOL_OK: u32 = 576; // result<pool-spec, string>: ok({id: "wat-pool"}); payload at 8 (f64 alignment)
const CLOSE_POOL: u32 = 640; // result<verdict, string>: ok(close-pool(CLOSE_REASON))
const CHECK_ERR: u32 = 672; // result<verdict, string>: err(CHECK_ERROR)
const PROCESSED: u32 = 896; // the URL `body::process_to_url` writes: PROCESSED_URL
const INIT_SAW_PROCESSED: u32 = 928; // result<bool, init-error>: err(param-error(PROCESSED_URL))
const HUGE: u32 = 960; // result<_, string>: err(<10 MiB string>), written by `body::huge_err`
/// The size of the string `body::huge_err` returns: 10 MiB.
pub const HUGE_LEN: u32 = 10 << 20;
/// The pool id the `pool` body returns.
pub const POOL_ID: &str = "wat-pool";
/// The URL the `process-request` body [`body::process_to_url`] gives the request it returns.
pub const PROCESSED_URL: &str = "https://example.com/processed";
/// The reason the `close-pool` verdict gives.
pub const CLOSE_REASON: &str = "closed_by_checker";
/// The error the failing `check` returns.
pub const CHECK_ERROR: &str = "boom";
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
    /// Returns `ok(false)`, `ok(none)` or an empty `ok` record, depending on the hook's type.
    pub fn zeros() -> String {
        format!("(i32.const {})", super::ZEROS)
    }
    /// `pool`: `ok({id: POOL_ID})`.
    pub fn pool_ok() -> String {
        format!("(i32.const {})", super::POOL_OK)
    }
    /// `init-session`: `ok(true)` without downloading anything.
    pub fn init_ok() -> String {
        format!("(i32.const {})", super::OK_TRUE)
    }
    /// `check`: `ok(close-pool(CLOSE_REASON))`.
    pub fn close_pool() -> String {
        format!("(i32.const {})", super::CLOSE_POOL)
    }
    /// `check`: `err(CHECK_ERROR)`.
    pub fn check_err() -> String {
        format!("(i32.const {})", super::CHECK_ERR)
    }
    /// Returns `err(s)` where `s` is [`super::HUGE_LEN`] bytes (NULs, valid UTF-8), for hooks
    /// whose result is `result<T, string>`; `payload` is the offset of the error's string in
    /// the result: 4, or 8 when `T` holds an `f64` (`pool`, and `process-request` through the
    /// request's controls).
    pub fn huge_err(payload: u32) -> String {
        huge(&[(0, 1)], payload)
    }
    /// Returns a pointer to a result whose 32-bit words at the given offsets hold the given
    /// values (the other bytes of its first 256 are zero: `none`, empty lists, empty strings;
    /// past the first 64 they overlap the heap, which holds only this call's arguments), and
    /// whose string at `string_at` is [`super::HUGE_LEN`] bytes (NULs, valid UTF-8): for the
    /// `ok` side, `words` give the discriminants that lead to the string. A list of strings
    /// needs `string_at` to be the list's one element, at 32 or above.
    pub fn huge(words: &[(u32, u32)], string_at: u32) -> String {
        let (huge, len) = (super::HUGE, super::HUGE_LEN);
        let pages = len / 65_536 + 2;
        // 256 zero bytes (a request record is 168), then the words.
        let mut stores = format!("(memory.fill (i32.const {huge}) (i32.const 0) (i32.const 256))");
        for (at, value) in words {
            stores.push_str(&format!(
                "(i32.store (i32.const {}) (i32.const {value}))",
                huge + at
            ));
        }
        format!(
            "(if (i32.lt_u (memory.size) (i32.const {pages})) (then (drop (memory.grow (i32.const {pages})))))
             {stores}
             (i32.store (i32.const {ptr}) (i32.const 65536))
             (i32.store (i32.const {len_at}) (i32.const {len}))
             (i32.const {huge})",
            ptr = huge + string_at,
            len_at = huge + string_at + 4,
        )
    }
    /// `rules` returning one include pattern of [`super::HUGE_LEN`] bytes: the record's
    /// `include` points at a one-element list at offset 32; priority 500.
    pub fn huge_rules() -> String {
        huge(&[(0, super::HUGE + 32), (4, 1), (16, 500)], 32)
    }
    /// `process-request`: `ok(some(r))` where `r` is the request received with its `url`
    /// replaced by [`super::PROCESSED_URL`]. The request record is 168 bytes (8-aligned, it
    /// holds an `f64`), so the result is `ok` at 0, `some` at 8 and the record at 16.
    pub fn process_to_url() -> String {
        let (url, len) = (super::PROCESSED, super::PROCESSED_URL.len());
        format!(
            "(local $r i32)
             (local.set $r (call $cabi_realloc (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 184)))
             (i32.store (local.get $r) (i32.const 0))
             (i32.store (i32.add (local.get $r) (i32.const 8)) (i32.const 1))
             (memory.copy (i32.add (local.get $r) (i32.const 16)) (local.get 0) (i32.const 168))
             (i32.store (i32.add (local.get $r) (i32.const 16)) (i32.const {url}))
             (i32.store (i32.add (local.get $r) (i32.const 20)) (i32.const {len}))
             (local.get $r)"
        )
    }
    /// `init-session`: `err(param-error(PROCESSED_URL))` when the request's URL is
    /// [`super::PROCESSED_URL`] (compared by length), else `ok(true)`, downloading nothing. The
    /// arguments are the session id (8 bytes) and the request at 8, whose `url` length is at 12.
    pub fn init_telling_processed() -> String {
        format!(
            "(if (result i32) (i32.eq (i32.load (i32.add (local.get 0) (i32.const 12))) (i32.const {len}))
               (then (i32.const {err})) (else (i32.const {ok})))",
            len = super::PROCESSED_URL.len(),
            err = super::INIT_SAW_PROCESSED,
            ok = super::OK_TRUE,
        )
    }
    /// Writes 100 000 log lines, then returns `ok(true)` (for `enabled` or `cookie-mode`).
    pub fn log_flood() -> String {
        format!(
            "(local.set 0 (i32.const 100000))
             (loop $l
               (call $log (i32.const 2) (i32.const 160) (i32.const 10))
               (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
             (i32.const {})",
            super::OK_TRUE
        )
    }
    /// Returns a string that is not UTF-8.
    pub fn bad_utf8() -> String {
        format!("(i32.const {})", super::BAD_UTF8)
    }
}

/// A guest whose hooks behave as the defaults above, except those in `overrides`; `rules_body`
/// replaces the body of `rules` when given. Built against WIT 0.1.0 (`wit/0.1.0/`), which has
/// no `overrides` export, so the host calls every one of its hooks.
pub fn guest(overrides: &[(&str, &str)], rules_body: Option<&str>) -> Vec<u8> {
    guest_for_wit(overrides, rules_body, &wit_dir().join("0.1.0"), "0.1.0")
}

/// [`guest`], built against the current WIT (`wit/`), whose `overrides` export returns
/// `declared`: the bits of the `hooks` flags, in the WIT's order (`enabled` is bit 0,
/// `process-request` bit 7).
pub fn guest_declaring(
    declared: u8,
    overrides: &[(&str, &str)],
    rules_body: Option<&str>,
) -> Vec<u8> {
    let version = session_host::plugin::WIT_VERSION;
    build(overrides, rules_body, &wit_dir(), version, Some(declared))
}

/// [`guest`], built against the WIT in `wit` whose package version is `version` (issue 18:
/// a config built for another version of the contract). A version after 0.1.0 exports
/// `overrides`, declaring every hook.
pub fn guest_for_wit(
    overrides: &[(&str, &str)],
    rules_body: Option<&str>,
    wit: &Path,
    version: &str,
) -> Vec<u8> {
    let declared = (version != "0.1.0").then_some(u8::MAX);
    build(overrides, rules_body, wit, version, declared)
}

fn build(
    overrides: &[(&str, &str)],
    rules_body: Option<&str>,
    wit: &Path,
    version: &str,
    declared: Option<u8>,
) -> Vec<u8> {
    let mut funcs = String::new();
    if let Some(bits) = declared {
        funcs.push_str(&format!(
            "  (func (export \"overrides\") (result i32) (i32.const {bits}))\n"
        ));
    }
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
  (import "session-host:config/log@{version}" "report-panic" (func $report_panic (param i32 i32)))
  (import "session-host:config/log@{version}" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const {OK_TRUE}) "\00\00\00\00\01")
  (data (i32.const {prio}) "\f4\01\00\00")
  (data (i32.const {BAD_JSON}) "\00\00\00\00\80\00\00\00\09\00\00\00")
  (data (i32.const 128) "{{not json")
  (data (i32.const 160) "{PANIC_MESSAGE}")
  (data (i32.const {BAD_UTF8}) "\00\00\00\00\20\01\00\00\02\00\00\00")
  (data (i32.const 288) "\ff\fe")
  (data (i32.const {pool_id_ptr}) "\20\03\00\00\08\00\00\00")
  (data (i32.const 800) "{POOL_ID}")
  (data (i32.const {CLOSE_POOL}) "\00\00\00\00\02\00\00\00\40\03\00\00\11\00\00\00")
  (data (i32.const 832) "{CLOSE_REASON}")
  (data (i32.const {CHECK_ERR}) "\01\00\00\00\60\03\00\00\04\00\00\00")
  (data (i32.const 864) "{CHECK_ERROR}")
  (data (i32.const {PROCESSED}) "{PROCESSED_URL}")
  (data (i32.const {INIT_SAW_PROCESSED}) "\01\00\00\00\00\00\00\00{processed_le}")
  (func $cabi_realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
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
        pool_id_ptr = POOL_OK + 8,
        processed_le = le_pair(PROCESSED, PROCESSED_URL.len() as u32),
    );
    with_world(
        wat::parse_str(&wat).expect("test guest WAT is valid"),
        wit,
        "session-config",
    )
}

/// `ptr` and `len` as the 8 little-endian bytes of a string's representation, in WAT escapes.
fn le_pair(ptr: u32, len: u32) -> String {
    let bytes = [ptr.to_le_bytes(), len.to_le_bytes()].concat();
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
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
pub fn wit_dir() -> PathBuf {
    crate::support::repo().join("wit")
}
