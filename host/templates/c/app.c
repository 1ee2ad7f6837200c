/*
 * The session config `{{name}}`: Zyte API session management for {{site}}.
 *
 * Every hook is listed below. A hook left commented out behaves exactly like the default
 * (`sh_base_*` in sdk/include/session_host.h), which is what the commented-out body calls:
 * uncomment one, add it to SH_CONFIG at the bottom, and change it. Build with
 * `session-host plugin build`, then watch it work with
 * `session-host plugin trace https://{{site}}/ --configs dist` and `session-host plugin test`.
 *
 * Memory: everything the SDK hands a hook, and everything made with `sh_*` or `cJSON_*`
 * functions, lives until the hook returns; never free it. Keep no state in globals: the host
 * reuses and recycles instances; state that must outlive a call goes into `sh_session_set`.
 */
#include "session_host.h"

/* The URLs this config handles. */
static void rules(sh_url_rules *out) { sh_rules_include(out, "{{site}}"); }

/* Whether session management applies to `request`. */
/* static sh_error enabled(const sh_request *request, bool *out) {
    *out = sh_base_enabled(request);
    return SH_OK;
} */

/* Whether sessions are cookie jars kept by the host. */
/* static sh_error cookie_mode(const sh_request *request, bool *out) {
    *out = sh_base_cookie_mode(request);
    return SH_OK;
} */

/* The pool `request` goes to. */
/* static sh_error pool(const sh_request *request, sh_pool_spec *out) {
    return sh_base_pool(request, out);
} */

/* The location sessions are initialised with (all fields NULL: none). */
/* static sh_error location(const sh_request *request, sh_address *out) {
    sh_base_location(request, out);
    return SH_OK;
} */

/* Session initialisation parameters (may hold `url`, the init URL). */
/* static sh_error params(const sh_request *request, cJSON **out) {
    return sh_base_params(request, out);
} */

/* Initialises a session; `*added = true` adds it to the pool. */
/* static sh_init_error init_session(const char *session_id, const sh_request *request, bool *added) {
    return sh_base_init_session(session_id, request, added);
} */

/* Checks a response: SH_KEEP the session, SH_DISCARD it, or SH_CLOSE_POOL with a reason. */
/* static sh_error check(const sh_response *response, const sh_request *request, sh_verdict *out) {
    return sh_base_check(response, request, out);
} */

/* Changes a request before it is sent (`*out` = a changed copy, from sh_request_copy; NULL
 * keeps it). */
/* static sh_error process_request(const sh_request *request, sh_request **out) {
    return sh_base_process_request(request, out);
} */

/* The hooks this config overrides; a hook left out is the default. */
const sh_config SH_CONFIG = {
    .rules = rules,
    /* .enabled = enabled, */
    /* .cookie_mode = cookie_mode, */
    /* .pool = pool, */
    /* .location = location, */
    /* .params = params, */
    /* .init_session = init_session, */
    /* .check = check, */
    /* .process_request = process_request, */
};
