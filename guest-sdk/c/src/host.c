/*
 * The boundary: converts between the SDK's types and the bindings `wit-bindgen c` generates
 * (session_config.h), calls the host's imports, and implements the world's exports by calling
 * the config's hooks (or their defaults).
 *
 * Policy:
 * - Ownership follows the canonical ABI as wit-bindgen's C generator lays it out: an export's
 *   arguments belong to the export (copied into the arena, then freed here); what an export
 *   returns is malloc'd here and freed by the generated post-return function; an import's
 *   arguments are borrowed (arena pointers), and what it returns is copied into the arena and
 *   freed here.
 * - Every export resets the arena when it returns, so nothing a hook allocated outlives the call.
 * - A hook that returns no value where one is required (NULL params, a verdict without a reason)
 *   is an error named after the hook, never a trap.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"
#include "wit_convert.h"

/* ----- Strings ----- */

/* An arena copy of a WIT string (cut at an embedded NUL). */
static char *from_wit(const wit_string *s) { return sh_strndup((const char *)s->ptr, s->len); }

static const char *from_wit_option(const wit_option_string *s) { return s->is_some ? from_wit(&s->val) : NULL; }

/* A WIT string for `text`: borrowed (pointing at `text`) or owned (malloc'd, for a return). */
wit_string sh_string_to_wit(const char *text, bool owned) {
    size_t len = text == NULL ? 0 : strlen(text);
    if (!owned || len == 0) return (wit_string){(uint8_t *)(owned ? NULL : text), len};
    uint8_t *copy = malloc(len);
    if (copy == NULL) sh_panic("out of memory");
    memcpy(copy, text, len);
    return (wit_string){copy, len};
}

static wit_option_string to_wit_option(const char *text, bool owned) {
    if (text == NULL) return (wit_option_string){.is_some = false};
    return (wit_option_string){.is_some = true, .val = sh_string_to_wit(text, owned)};
}

/* `count` elements of `size` bytes: arena for borrowed, malloc'd for owned; NULL when empty. */
static void *array(size_t count, size_t size, bool owned) {
    if (count == 0) return NULL;
    if (!owned) return sh_alloc(count * size);
    void *items = calloc(count, size);
    if (items == NULL) sh_panic("out of memory");
    return items;
}

/* ----- Records ----- */

static void address_from_wit(const wit_address *a, sh_address *out) {
    out->address_country = from_wit_option(&a->address_country);
    out->address_region = from_wit_option(&a->address_region);
    out->postal_code = from_wit_option(&a->postal_code);
    out->street_address = from_wit_option(&a->street_address);
}

wit_address sh_address_to_wit(const sh_address *a, bool owned) {
    return (wit_address){to_wit_option(a->address_country, owned), to_wit_option(a->address_region, owned),
                         to_wit_option(a->postal_code, owned), to_wit_option(a->street_address, owned)};
}

static void pool_from_wit(const wit_pool_spec *p, sh_pool_spec *out) {
    out->id = from_wit(&p->id);
    out->size = (sh_opt_u32){p->size.is_some, p->size.val};
    out->delay = (sh_opt_f64){p->delay.is_some, p->delay.val};
    out->randomize_delay = (sh_opt_bool){p->randomize_delay.is_some, p->randomize_delay.val};
}

wit_pool_spec sh_pool_to_wit(const sh_pool_spec *p, bool owned) {
    wit_pool_spec out = {.id = sh_string_to_wit(p->id, owned)};
    out.size = (session_config_option_u32_t){p->size.set, p->size.value};
    out.delay = (session_config_option_f64_t){p->delay.set, p->delay.value};
    out.randomize_delay = (session_config_option_bool_t){p->randomize_delay.set, p->randomize_delay.value};
    return out;
}

static void controls_from_wit(const session_host_config_types_session_controls_t *c, sh_session_controls *out) {
    out->enabled = (sh_opt_bool){c->enabled.is_some, c->enabled.val};
    out->cookie_mode = (sh_opt_bool){c->cookie_mode.is_some, c->cookie_mode.val};
    out->params = from_wit_option(&c->params);
    if (c->location.is_some) {
        sh_address *location = sh_alloc(sizeof *location);
        address_from_wit(&c->location.val, location);
        out->location = location;
    }
    if (c->pool.is_some) {
        sh_pool_spec *pool = sh_alloc(sizeof *pool);
        pool_from_wit(&c->pool.val, pool);
        out->pool = pool;
    }
}

static session_host_config_types_session_controls_t controls_to_wit(const sh_session_controls *c, bool owned) {
    session_host_config_types_session_controls_t out = {0};
    out.enabled = (session_config_option_bool_t){c->enabled.set, c->enabled.value};
    out.cookie_mode = (session_config_option_bool_t){c->cookie_mode.set, c->cookie_mode.value};
    out.params = to_wit_option(c->params, owned);
    if (c->location != NULL) {
        out.location.is_some = true;
        out.location.val = sh_address_to_wit(c->location, owned);
    }
    if (c->pool != NULL) {
        out.pool.is_some = true;
        out.pool.val = sh_pool_to_wit(c->pool, owned);
    }
    return out;
}

void sh_request_from_wit(const wit_request *r, sh_request *out) {
    *out = (sh_request){0};
    out->url = from_wit(&r->url);
    out->method = from_wit(&r->method);
    out->headers = sh_alloc((r->headers.len + 1) * sizeof *out->headers);
    for (size_t i = 0; i < r->headers.len; i++) {
        out->headers[i] = (sh_header){from_wit(&r->headers.ptr[i].name), from_wit(&r->headers.ptr[i].value)};
    }
    out->headers_len = r->headers.len;
    out->params = from_wit(&r->params);
    controls_from_wit(&r->controls, &out->controls);
    out->session_id = from_wit_option(&r->session_id);
    out->is_init = r->is_init;
}

wit_request sh_request_to_wit(const sh_request *r, bool owned) {
    wit_request out = {.url = sh_string_to_wit(r->url, owned), .method = sh_string_to_wit(r->method, owned)};
    out.headers.ptr = array(r->headers_len, sizeof *out.headers.ptr, owned);
    out.headers.len = r->headers_len;
    for (size_t i = 0; i < r->headers_len; i++) {
        out.headers.ptr[i].name = sh_string_to_wit(r->headers[i].name, owned);
        out.headers.ptr[i].value = sh_string_to_wit(r->headers[i].value, owned);
    }
    out.params = sh_string_to_wit(r->params, owned);
    out.controls = controls_to_wit(&r->controls, owned);
    out.session_id = to_wit_option(r->session_id, owned);
    out.is_init = r->is_init;
    return out;
}

static wit_response response_to_wit(const sh_response *r) { return (wit_response){r->status, sh_string_to_wit(r->body, false)}; }

static void response_from_wit(const wit_response *r, sh_response *out) {
    *out = (sh_response){r->status, from_wit(&r->body)};
}

static sh_verdict verdict_from_wit(const wit_verdict *v) {
    if (v->tag == SESSION_HOST_CONFIG_TYPES_VERDICT_KEEP) return (sh_verdict){SH_KEEP, NULL};
    if (v->tag == SESSION_HOST_CONFIG_TYPES_VERDICT_DISCARD) return (sh_verdict){SH_DISCARD, NULL};
    return (sh_verdict){SH_CLOSE_POOL, from_wit(&v->val.close_pool)};
}

static void download_error_from_wit(const wit_download_error *e, sh_download_error *out) {
    *out = (sh_download_error){0};
    if (e->tag == SESSION_HOST_CONFIG_TYPES_DOWNLOAD_ERROR_API) {
        *out = (sh_download_error){SH_DOWNLOAD_API, e->val.api.status, from_wit_option(&e->val.api.problem_type),
                                   from_wit(&e->val.api.body)};
    } else if (e->tag == SESSION_HOST_CONFIG_TYPES_DOWNLOAD_ERROR_TRANSPORT) {
        *out = (sh_download_error){.kind = SH_DOWNLOAD_TRANSPORT, .message = from_wit(&e->val.transport)};
    } else {
        *out = (sh_download_error){.kind = SH_DOWNLOAD_REFUSED, .message = from_wit(&e->val.refused)};
    }
}

wit_download_error sh_download_error_to_wit(const sh_download_error *e) {
    wit_download_error out = {0};
    if (e->kind == SH_DOWNLOAD_API) {
        out.tag = SESSION_HOST_CONFIG_TYPES_DOWNLOAD_ERROR_API;
        out.val.api.status = e->status;
        out.val.api.problem_type = to_wit_option(e->problem_type, true);
        out.val.api.body = sh_string_to_wit(e->message, true);
    } else {
        out.tag = e->kind == SH_DOWNLOAD_TRANSPORT ? SESSION_HOST_CONFIG_TYPES_DOWNLOAD_ERROR_TRANSPORT
                                                   : SESSION_HOST_CONFIG_TYPES_DOWNLOAD_ERROR_REFUSED;
        out.val.transport = sh_string_to_wit(e->message, true);
    }
    return out;
}

void sh_url_rules_to_wit(const sh_url_rules *rules, wit_url_rules *out) {
    *out = (wit_url_rules){.priority = rules->priority, .instead_of = to_wit_option(rules->instead_of, true)};
    out->include.ptr = array(rules->include_len, sizeof *out->include.ptr, true);
    out->include.len = rules->include_len;
    for (size_t i = 0; i < rules->include_len; i++) out->include.ptr[i] = sh_string_to_wit(rules->include[i], true);
    out->exclude.ptr = array(rules->exclude_len, sizeof *out->exclude.ptr, true);
    out->exclude.len = rules->exclude_len;
    for (size_t i = 0; i < rules->exclude_len; i++) out->exclude.ptr[i] = sh_string_to_wit(rules->exclude[i], true);
}

wit_verdict sh_verdict_to_wit(const sh_verdict *verdict) {
    wit_verdict out = {0};
    if (verdict->kind == SH_KEEP) out.tag = SESSION_HOST_CONFIG_TYPES_VERDICT_KEEP;
    else if (verdict->kind == SH_DISCARD) out.tag = SESSION_HOST_CONFIG_TYPES_VERDICT_DISCARD;
    else {
        out.tag = SESSION_HOST_CONFIG_TYPES_VERDICT_CLOSE_POOL;
        out.val.close_pool = sh_string_to_wit(verdict->reason, true);
    }
    return out;
}

/* ----- Host imports ----- */

void sh_base_rules(sh_url_rules *out) {
    wit_url_rules rules;
    session_host_config_defaults_rules(&rules);
    *out = (sh_url_rules){.priority = rules.priority, .instead_of = from_wit_option(&rules.instead_of)};
    for (size_t i = 0; i < rules.include.len; i++) sh_rules_include(out, from_wit(&rules.include.ptr[i]));
    for (size_t i = 0; i < rules.exclude.len; i++) sh_rules_exclude(out, from_wit(&rules.exclude.ptr[i]));
    session_host_config_types_url_rules_free(&rules);
}

bool sh_base_enabled(const sh_request *request) {
    wit_request r = sh_request_to_wit(request, false);
    return session_host_config_defaults_enabled(&r);
}

bool sh_base_cookie_mode(const sh_request *request) {
    wit_request r = sh_request_to_wit(request, false);
    return session_host_config_defaults_cookie_mode(&r);
}

sh_error sh_base_pool(const sh_request *request, sh_pool_spec *out) {
    wit_request r = sh_request_to_wit(request, false);
    wit_pool_spec pool;
    wit_string error;
    if (!session_host_config_defaults_pool(&r, &pool, &error)) {
        const char *message = from_wit(&error);
        session_config_string_free(&error);
        return message;
    }
    pool_from_wit(&pool, out);
    session_host_config_types_pool_spec_free(&pool);
    return SH_OK;
}

void sh_base_location(const sh_request *request, sh_address *out) {
    wit_request r = sh_request_to_wit(request, false);
    wit_address location;
    session_host_config_defaults_location(&r, &location);
    address_from_wit(&location, out);
    session_host_config_types_address_free(&location);
}

const char *sh_host_params(const sh_request *request, const sh_address *location) {
    wit_request r = sh_request_to_wit(request, false);
    wit_address l = sh_address_to_wit(location, false);
    wit_string params;
    session_host_config_defaults_params(&r, &l, &params);
    const char *text = from_wit(&params);
    session_config_string_free(&params);
    return text;
}

sh_verdict sh_host_check(const sh_response *response, const sh_request *request, const sh_address *location) {
    wit_response resp = response_to_wit(response);
    wit_request r = sh_request_to_wit(request, false);
    wit_address l = sh_address_to_wit(location, false);
    wit_verdict verdict;
    session_host_config_defaults_check(&resp, &r, &l, &verdict);
    sh_verdict out = verdict_from_wit(&verdict);
    session_host_config_types_verdict_free(&verdict);
    return out;
}

const char *sh_host_preset_init_params(const sh_request *request) {
    wit_request r = sh_request_to_wit(request, false);
    wit_string preset;
    if (!session_host_config_defaults_preset_init_params(&r, &preset)) return NULL;
    const char *text = from_wit(&preset);
    session_config_string_free(&preset);
    return text;
}

sh_error sh_host_init_request(const char *session_id, const sh_request *request, const char *params,
                              sh_request **out) {
    wit_string sid = sh_string_to_wit(session_id, false), p = sh_string_to_wit(params, false);
    wit_request r = sh_request_to_wit(request, false), init;
    wit_string error;
    if (!session_host_config_defaults_init_request(&sid, &r, &p, &init, &error)) {
        const char *message = from_wit(&error);
        session_config_string_free(&error);
        return message;
    }
    *out = sh_alloc(sizeof **out);
    sh_request_from_wit(&init, *out);
    session_host_config_types_request_free(&init);
    return SH_OK;
}

bool sh_download(const sh_request *request, sh_response *out, sh_download_error *error) {
    wit_request r = sh_request_to_wit(request, false);
    wit_response response;
    wit_download_error failure;
    if (!session_host_config_download_download(&r, &response, &failure)) {
        download_error_from_wit(&failure, error);
        session_host_config_types_download_error_free(&failure);
        return false;
    }
    response_from_wit(&response, out);
    session_host_config_types_response_free(&response);
    return true;
}

const char *sh_session_get(const char *key) {
    wit_string k = sh_string_to_wit(key, false), value;
    if (!session_host_config_session_data_get(&k, &value)) return NULL;
    const char *text = from_wit(&value);
    session_config_string_free(&value);
    return text;
}

sh_error sh_session_set(const char *key, const char *value) {
    wit_string k = sh_string_to_wit(key, false), v = sh_string_to_wit(value, false), error;
    if (session_host_config_session_data_set(&k, &v, &error)) return SH_OK;
    const char *message = from_wit(&error);
    session_config_string_free(&error);
    return message;
}

void sh_session_remove(const char *key) {
    wit_string k = sh_string_to_wit(key, false);
    session_host_config_session_data_remove(&k);
}

void sh_log(sh_level level, const char *format, ...) {
    char small[512];
    va_list args;
    va_start(args, format);
    int len = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    char *message = small;
    if (len >= (int)sizeof small) {
        message = sh_alloc((size_t)len + 1);
        va_start(args, format);
        vsnprintf(message, (size_t)len + 1, format, args);
        va_end(args);
    }
    wit_string m = sh_string_to_wit(len < 0 ? format : message, false);
    session_host_config_log_log((session_host_config_types_level_t)level, &m);
}

_Noreturn void sh_panic(const char *message) {
    wit_string m = sh_string_to_wit(message, false);
    session_host_config_log_report_panic(&m);
    __builtin_trap();
}
