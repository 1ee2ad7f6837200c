/*
 * Example session config for `csrf.example`, in C: a CSRF token found at session initialisation
 * is sent with every request of the session.
 *
 * It behaves exactly like the Rust example (../src/lib.rs, which documents the site and each
 * hook); host/tests/all/conformance.rs checks that they agree.
 *
 * - `params`: initialise on the site's home page with a cheap HTTP request
 *   (`httpResponseBody`), whatever URL triggered the init.
 * - `check`: the default check first. On the init response, store the token of the
 *   `<input name="csrf_token">` element in session data; no token fails the check. On a use
 *   response, statusCode 403 discards the session.
 * - `process_request`: add the token as the `x-csrf-token` header to HTTP requests, or as the
 *   `csrf` query parameter to browser requests (Zyte API sends custom headers only with
 *   `httpResponseBody`).
 */
#include <string.h>

#include "session_host.h"

/* The domain this config handles. */
#define DOMAIN "csrf.example"
/* The session-data key of the token. */
#define TOKEN_KEY "csrf_token"
/* The header carrying the token on HTTP (`httpResponseBody`) requests. */
#define TOKEN_HEADER "x-csrf-token"
/* The query parameter carrying the token on other requests. */
#define TOKEN_QUERY "csrf"
/* The `name` of the form input holding the token on the home page. */
#define TOKEN_INPUT "csrf_token"
/* The site's statusCode for a missing or wrong token. */
#define FORBIDDEN 403

/* Init params: an HTTP request for the home page of `url`'s origin. */
static sh_error init_params(const char *url, cJSON **out) {
    const char *origin = sh_url_origin(url);
    if (origin == NULL) return sh_errorf("cannot find the origin of %s", sh_json_quote(url));
    *out = cJSON_CreateObject();
    cJSON_AddStringToObject(*out, "url", sh_format("%s/", origin));
    cJSON_AddTrueToObject(*out, "httpResponseBody");
    return SH_OK;
}

/* The token: the `value` attribute of the `<input>` whose `name` is `csrf_token`; NULL if none. */
static const char *extract_token(const char *html) {
    const char *name_at = strstr(html, "name=\"" TOKEN_INPUT "\"");
    if (name_at == NULL) return NULL;
    const char *tag_start = name_at;
    while (tag_start > html && *tag_start != '<') tag_start--;
    const char *tag_end = strchr(name_at, '>');
    if (*tag_start != '<' || tag_end == NULL) return NULL;
    const char *tag = sh_strndup(tag_start, (size_t)(tag_end - tag_start));
    const char *value = strstr(tag, " value=\"");
    if (value == NULL) return NULL;
    value += strlen(" value=\"");
    size_t len = strcspn(value, "\"");
    return len == 0 ? NULL : sh_strndup(value, len);
}

/* A copy of `request` carrying `token`: as a header when it is an HTTP request, else in the query. */
static sh_error with_token(const sh_request *request, const char *token, sh_request **out) {
    sh_request *copy = sh_request_copy(request);
    cJSON *params = NULL;
    sh_error error = sh_request_params(copy, &params);
    if (error != SH_OK) return error;
    if (sh_json_get_bool(params, "httpResponseBody", NULL)) sh_request_set_header(copy, TOKEN_HEADER, token);
    else copy->url = sh_url_with_query_param(copy->url, TOKEN_QUERY, token);
    *out = copy;
    return SH_OK;
}

/* Only `csrf.example`. */
static void rules(sh_url_rules *out) { sh_rules_include(out, DOMAIN); }

/* An HTTP request for the home page. */
static sh_error params(const sh_request *request, cJSON **out) { return init_params(request->url, out); }

/* The init response's token, stored in session data. */
static sh_error store_token(const cJSON *raw, const sh_request *request, sh_verdict *out) {
    const char *html = NULL;
    sh_error error = sh_raw_html(raw, &html);
    if (error != SH_OK) return sh_errorf("init response body: %s", error);
    const char *token = html == NULL ? NULL : extract_token(html);
    if (token == NULL) {
        const char *from = sh_raw_url(raw);
        sh_warn("no CSRF token in the init response from %s", from != NULL ? from : request->url);
        out->kind = SH_DISCARD;
        return SH_OK;
    }
    error = sh_session_set(TOKEN_KEY, token);
    if (error != SH_OK) return error;
    sh_info("CSRF token stored for session %s", request->session_id != NULL ? request->session_id : "?");
    out->kind = SH_KEEP;
    return SH_OK;
}

/* The default check, then the token (init) or the site's 403 (use). */
static sh_error check(const sh_response *response, const sh_request *request, sh_verdict *out) {
    sh_error error = sh_base_check(response, request, out);
    if (error != SH_OK || out->kind != SH_KEEP) return error;
    cJSON *raw = NULL;
    error = sh_raw_parse(response->body, &raw);
    if (error != SH_OK) return error;
    if (!request->is_init) {
        out->kind = sh_raw_status_code(raw) == FORBIDDEN ? SH_DISCARD : SH_KEEP;
        return SH_OK;
    }
    return store_token(raw, request, out);
}

/* The request with the session's token; no change when the session has none. */
static sh_error process_request(const sh_request *request, sh_request **out) {
    const char *token = sh_session_get(TOKEN_KEY);
    if (token == NULL) {
        sh_warn("session %s has no CSRF token", request->session_id != NULL ? request->session_id : "?");
        *out = NULL;
        return SH_OK;
    }
    return with_token(request, token, out);
}

const sh_config SH_CONFIG = {
    .rules = rules,
    .params = params,
    .check = check,
    .process_request = process_request,
};
