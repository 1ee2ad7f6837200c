/*
 * session_host.h: the C SDK for session-host session configs.
 *
 * A session config is a WebAssembly component holding the site-specific logic of Zyte API session
 * management for the URLs its rules select (the contract: wit/session-config.wit, world
 * `session-config`). In C, a config is a translation unit that defines `SH_CONFIG`, a table of
 * the hooks it overrides; every hook left NULL behaves exactly like the Rust SDK's default
 * (guest-sdk/src/base.rs), which is the reference behaviour of scrapy-zyte-api 0.36.0:
 *
 *     #include "session_host.h"
 *
 *     static void rules(sh_url_rules *out) { sh_rules_include(out, "shop.example"); }
 *
 *     const sh_config SH_CONFIG = { .rules = rules };
 *
 * Policies (read these before writing a hook):
 * - Memory: every string, array and JSON value the SDK hands a hook, and every one a hook makes
 *   with an `sh_` or `cJSON_` function, lives in the current hook call's arena, which the SDK
 *   frees when the hook returns. Never free them, and never keep a pointer across calls (the
 *   host reuses, recycles and discards instances at will; state that must outlive a call goes
 *   into session data, `sh_session_set`). An allocation that fails traps (the host reports the
 *   hook as failed and discards the instance) after reporting "out of memory" to the host.
 * - Errors: a hook returns `sh_error`, NULL on success, else the message, which is the
 *   equivalent of a Python exception raised by the hook (e.g. `check` -> `use/check-error`).
 *   `sh_errorf` formats one.
 * - Strings are NUL-terminated UTF-8. A WIT string with an embedded NUL is cut at it; text the
 *   SDK builds from bytes (`sh_raw_html`) is made valid UTF-8 the way Rust's
 *   `String::from_utf8_lossy` does it, because the host rejects invalid UTF-8.
 * - Defaults go through the config: the default `params` and `check` call the config's
 *   `location` (its override, or the default), and the default `init_session` calls the
 *   config's `params` and `check`, as in the reference. `sh_config_*` make those calls.
 * - JSON: the vendored cJSON 1.7.19 (vendor/cjson, MIT licence), with its allocations in the
 *   hook's arena and nesting bounded by CJSON_NESTING_LIMIT (set to 128 by the build).
 */
#ifndef SESSION_HOST_H
#define SESSION_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cJSON.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----- Memory: the hook call's arena ----- */

/* `size` zeroed bytes in the hook's arena; traps when memory runs out. */
void *sh_alloc(size_t size);
/* A copy of `text` (NULL stays NULL) in the arena. */
char *sh_strdup(const char *text);
/* A NUL-terminated copy of the first `len` bytes of `text`. */
char *sh_strndup(const char *text, size_t len);
/* printf into the arena. */
char *sh_format(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Frees everything allocated since the last reset. The SDK calls it after every hook; native
 * unit tests call it between cases. */
void sh_arena_reset(void);
/* Bytes the arena holds now (for tests and bounds). */
size_t sh_arena_bytes(void);

/* ----- Errors ----- */

/* NULL: success. Otherwise the error message, like an exception raised by the hook. */
typedef const char *sh_error;
#define SH_OK ((sh_error)NULL)
/* A formatted error message. */
#define sh_errorf sh_format

/* ----- The WIT types ----- */

typedef struct { bool set; bool value; } sh_opt_bool;
typedef struct { bool set; uint32_t value; } sh_opt_u32;
typedef struct { bool set; double value; } sh_opt_f64;

/* One header of a target-site request. */
typedef struct {
    const char *name;
    const char *value;
} sh_header;

/* A postal address; each field NULL when absent. All four NULL: empty, i.e. "no location". */
typedef struct {
    const char *address_country;
    const char *address_region;
    const char *postal_code;
    const char *street_address;
} sh_address;

/* A pool choice: an id, optionally with options. */
typedef struct {
    const char *id;
    sh_opt_u32 size;
    sh_opt_f64 delay;
    sh_opt_bool randomize_delay;
} sh_pool_spec;

/* Per-request session controls (`zyte_api_session_*`); NULL or unset: not set. */
typedef struct {
    sh_opt_bool enabled;
    sh_opt_bool cookie_mode;
    const char *params;          /* a JSON object text */
    const sh_address *location;  /* an empty address is not the same as NULL */
    const sh_pool_spec *pool;
} sh_session_controls;

/* A Zyte API request, as the host is about to send it. */
typedef struct {
    const char *url;
    const char *method;
    sh_header *headers;
    size_t headers_len;
    const char *params;          /* the Zyte API params, a JSON object text, never with `url` */
    sh_session_controls controls;
    const char *session_id;      /* NULL when no session is assigned */
    bool is_init;
} sh_request;

/* A Zyte API response: `status` 200 and the raw body (a JSON text). */
typedef struct {
    uint16_t status;
    const char *body;
} sh_response;

/* Which URLs a config handles (url-matcher semantics). */
typedef struct {
    const char **include;
    size_t include_len;
    const char **exclude;
    size_t exclude_len;
    int32_t priority;
    const char *instead_of;      /* NULL: replaces the built-in default config */
} sh_url_rules;

/* The verdict of `check`. `reason` is used by SH_CLOSE_POOL only. */
typedef enum { SH_KEEP, SH_DISCARD, SH_CLOSE_POOL } sh_verdict_kind;
typedef struct {
    sh_verdict_kind kind;
    const char *reason;
} sh_verdict;

/* Why a download produced no response. */
typedef enum { SH_DOWNLOAD_API, SH_DOWNLOAD_TRANSPORT, SH_DOWNLOAD_REFUSED } sh_download_error_kind;
typedef struct {
    sh_download_error_kind kind;
    uint16_t status;             /* SH_DOWNLOAD_API: the HTTP status */
    const char *problem_type;    /* SH_DOWNLOAD_API: the problem type, or NULL */
    const char *message;         /* SH_DOWNLOAD_API: the raw body; otherwise the reason */
} sh_download_error;

/* The outcome of `init_session`: SH_INIT_OK (then `*added` tells whether the session joins the
 * pool), or why no usable session came out. */
typedef enum {
    SH_INIT_OK,
    SH_INIT_PARAM_ERROR,
    SH_INIT_CHECK_ERROR,
    SH_INIT_DOWNLOAD,
    SH_INIT_FAILED,
    SH_INIT_CLOSE_POOL,
} sh_init_error_kind;
typedef struct {
    sh_init_error_kind kind;
    const char *message;         /* every kind but SH_INIT_OK and SH_INIT_DOWNLOAD */
    sh_download_error download;  /* SH_INIT_DOWNLOAD */
} sh_init_error;

typedef enum { SH_TRACE, SH_DEBUG, SH_INFO, SH_WARN, SH_ERROR } sh_level;

/* ----- The config: one hook per export of the WIT world ----- */

/* The hooks a config overrides; NULL means the default (`sh_base_*`). `location_params` and
 * `location_check` are the LocationSessionConfig hooks (see `sh_location_params`). */
typedef struct {
    void (*rules)(sh_url_rules *out);
    sh_error (*enabled)(const sh_request *request, bool *out);
    sh_error (*cookie_mode)(const sh_request *request, bool *out);
    sh_error (*pool)(const sh_request *request, sh_pool_spec *out);
    sh_error (*location)(const sh_request *request, sh_address *out);
    sh_error (*params)(const sh_request *request, cJSON **out);
    sh_init_error (*init_session)(const char *session_id, const sh_request *request, bool *added);
    sh_error (*check)(const sh_response *response, const sh_request *request, sh_verdict *out);
    /* `*out` NULL (the default): no change. */
    sh_error (*process_request)(const sh_request *request, sh_request **out);
    sh_error (*location_params)(const sh_request *request, const sh_address *location, cJSON **out);
    sh_error (*location_check)(const sh_response *response, const sh_request *request,
                               const sh_address *location, sh_verdict *out);
} sh_config;

/* Defined by the config. */
extern const sh_config SH_CONFIG;

/* The config's hook: its override when set, else the default. Defaults call these, so that an
 * override of `location` changes what the default `params` and `check` see. */
sh_error sh_config_location(const sh_request *request, sh_address *out);
sh_error sh_config_params(const sh_request *request, cJSON **out);
sh_error sh_config_check(const sh_response *response, const sh_request *request, sh_verdict *out);

/* ----- The defaults (the host's `defaults` interface, plus the SDK's own compositions) ----- */

/* A universal rule (no include pattern) with priority 500. */
void sh_base_rules(sh_url_rules *out);
/* `zyte_api_session_enabled` if the request sets it, else the `enabled` setting. */
bool sh_base_enabled(const sh_request *request);
/* `zyte_api_session_cookie_mode` if the request sets it, else the `cookie_mode` setting. */
bool sh_base_cookie_mode(const sh_request *request);
/* The reference's pool derivation: pool control, else netloc[n] for params, else
 * netloc@fields for location, else the URL's netloc. */
sh_error sh_base_pool(const sh_request *request, sh_pool_spec *out);
/* The request's location control if set (even if empty), else the `location` setting. */
void sh_base_location(const sh_request *request, sh_address *out);
/* `{"browserHtml": true}`, plus a `setLocation` action when the config's location is not empty. */
sh_error sh_base_params(const sh_request *request, cJSON **out);
/* The default check, for the location the config chose for `request`. */
sh_error sh_base_check(const sh_response *response, const sh_request *request, sh_verdict *out);
/* Init params that take precedence over the config's `params`; `*out` NULL: none. */
sh_error sh_base_preset_init_params(const sh_request *request, cJSON **out);
/* The init request for `session_id` from init `params` (pops `url`, applies cookie mode, copies
 * the controls, marks it `is_init`). For custom init chains, before `sh_download`. */
sh_error sh_base_init_request(const char *session_id, const sh_request *request, const cJSON *params,
                              sh_request **out);
/* No change: `*out` = NULL. */
sh_error sh_base_process_request(const sh_request *request, sh_request **out);
/* The reference's init: preset or config params, init request, download, config check. */
sh_init_error sh_base_init_session(const char *session_id, const sh_request *request, bool *added);
/* Maps the init response's check to init-session's outcome. */
sh_init_error sh_init_outcome(sh_error checked, const sh_verdict *verdict, bool *added);

/* LocationSessionConfig: wire these as the config's `params` and `check`. With an empty
 * location they are the defaults; otherwise they call `location_params` / `location_check`
 * (whose own defaults are the plain defaults). */
sh_error sh_location_params(const sh_request *request, cJSON **out);
sh_error sh_location_check(const sh_response *response, const sh_request *request, sh_verdict *out);

/* ----- Host imports ----- */

/* Sends `request` with the session being initialised (only during `init_session`). Returns
 * true with `*out` set, or false with `*error` set. */
bool sh_download(const sh_request *request, sh_response *out, sh_download_error *error);
/* The current session's value for `key`, or NULL. */
const char *sh_session_get(const char *key);
/* Stores `value` under `key` for the current session. */
sh_error sh_session_set(const char *key, const char *value);
/* Removes `key`; no-op when absent. */
void sh_session_remove(const char *key);
/* Logs into the host's log (4 KiB per message, 64 lines per call). */
void sh_log(sh_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));
#define sh_trace(...) sh_log(SH_TRACE, __VA_ARGS__)
#define sh_debug(...) sh_log(SH_DEBUG, __VA_ARGS__)
#define sh_info(...) sh_log(SH_INFO, __VA_ARGS__)
#define sh_warn(...) sh_log(SH_WARN, __VA_ARGS__)
#define sh_error_log(...) sh_log(SH_ERROR, __VA_ARGS__)
/* Reports `message` to the host (log.report-panic) and traps. */
_Noreturn void sh_panic(const char *message);

/* ----- Helpers (pure: natively testable) ----- */

/* Rules: appends an include / exclude pattern. */
void sh_rules_include(sh_url_rules *rules, const char *pattern);
void sh_rules_exclude(sh_url_rules *rules, const char *pattern);

/* Addresses. */
bool sh_address_is_empty(const sh_address *address);
/* `{"addressCountry": …, …}` with the fields that are set. */
cJSON *sh_address_to_json(const sh_address *address);

/* Params: Zyte API request parameters, always a JSON object. */
/* Parses a JSON object text; other JSON values and invalid JSON are errors. */
sh_error sh_params_parse(const char *json, cJSON **out);
/* Compact JSON text. */
char *sh_json_print(const cJSON *value);
/* The boolean under `key`; false when absent or not a boolean (`*found` tells, may be NULL). */
bool sh_json_get_bool(const cJSON *object, const char *key, bool *found);
/* The string under `key`, or NULL. */
const char *sh_json_get_str(const cJSON *object, const char *key);
/* Appends `action` to the `actions` array (created, or replacing a non-array). */
void sh_params_add_action(cJSON *params, cJSON *action);
/* `{"action": "setLocation", "address": {…}}`. */
cJSON *sh_set_location_action(const sh_address *address);

/* URLs: string operations identical to the Rust SDK's `url` module. */
/* `scheme://authority`, or NULL when `url` has no `://`. */
char *sh_url_origin(const char *url);
/* The host, without user info and port, or NULL. */
char *sh_url_host(const char *url);
/* `url` with `name=value` appended to its query (before any fragment), percent-encoded. */
char *sh_url_with_query_param(const char *url, const char *name, const char *value);
/* Percent-encodes every byte but the RFC 3986 unreserved characters. */
char *sh_percent_encode(const char *text);

/* Requests. */
/* A deep copy in the arena, to change and return from `process_request`. */
sh_request *sh_request_copy(const sh_request *request);
/* The value of header `name` (case-insensitive), the last one if it repeats; NULL if absent. */
const char *sh_request_header(const sh_request *request, const char *name);
/* Replaces the first header called `name` (keeping its place), removes the others; appends it
 * when absent. */
void sh_request_set_header(sh_request *request, const char *name, const char *value);
/* Removes every header called `name`; whether there was one. */
bool sh_request_remove_header(sh_request *request, const char *name);
/* The request's params, parsed. */
sh_error sh_request_params(const sh_request *request, cJSON **out);
/* The URL's host, or NULL. */
char *sh_request_host(const sh_request *request);

/* Responses: typed reads of the Zyte API response body. */
/* Parses the body; it must be a JSON object. */
sh_error sh_raw_parse(const char *body, cJSON **out);
/* `statusCode` if it is an integer in 0..=65535, else -1. */
int32_t sh_raw_status_code(const cJSON *raw);
/* `url`, or NULL. */
const char *sh_raw_url(const cJSON *raw);
/* The page as text: `browserHtml`, else `httpResponseBody` decoded as lossy UTF-8; `*out` NULL
 * when the response has neither. An error for invalid base64. */
sh_error sh_raw_html(const cJSON *raw, const char **out);

/* Base64 (standard alphabet, padding optional on decode). */
sh_error sh_base64_decode(const char *text, uint8_t **out, size_t *len);
char *sh_base64_encode(const uint8_t *bytes, size_t len);
/* `bytes` as valid UTF-8: each invalid sequence becomes U+FFFD, like Rust's from_utf8_lossy. */
char *sh_utf8_lossy(const uint8_t *bytes, size_t len);
/* `text` as a JSON string literal, e.g. for error messages (`"csrf.example"`). */
char *sh_json_quote(const char *text);

#ifdef __cplusplus
}
#endif

#endif
