/*
 * The world's exports: each takes its arguments into the arena, calls the config's hook (or its
 * default), hands the result back in memory the generated post-return function frees, and
 * resets the arena (policy: src/host.c).
 */
#include <stdlib.h>
#include <string.h>

#include "wit_convert.h"

/* The export's request argument, in the arena; the argument itself is freed. */
static sh_request *take_request(session_config_request_t *request) {
    sh_sdk_init();
    sh_request *taken = sh_alloc(sizeof *taken);
    sh_request_from_wit(request, taken);
    session_config_request_free(request);
    return taken;
}

/* Returns `ok`'s verdict of the export: false with `*err` set when `error` is set. */
static bool finish(sh_error error, session_config_string_t *err) {
    if (error != SH_OK) *err = sh_string_to_wit(error, true);
    sh_arena_reset();
    return error == SH_OK;
}

void exports_session_config_rules(session_config_url_rules_t *ret) {
    sh_sdk_init();
    sh_url_rules rules = {0};
    if (SH_CONFIG.rules != NULL) {
        rules.priority = 500;
        SH_CONFIG.rules(&rules);
    } else {
        sh_base_rules(&rules);
    }
    sh_url_rules_to_wit(&rules, ret);
    sh_arena_reset();
}

bool exports_session_config_enabled(session_config_request_t *request, bool *ret, session_config_string_t *err) {
    sh_request *r = take_request(request);
    *ret = false;
    sh_error error = SH_OK;
    if (SH_CONFIG.enabled != NULL) error = SH_CONFIG.enabled(r, ret);
    else *ret = sh_base_enabled(r);
    return finish(error, err);
}

bool exports_session_config_cookie_mode(session_config_request_t *request, bool *ret, session_config_string_t *err) {
    sh_request *r = take_request(request);
    *ret = false;
    sh_error error = SH_OK;
    if (SH_CONFIG.cookie_mode != NULL) error = SH_CONFIG.cookie_mode(r, ret);
    else *ret = sh_base_cookie_mode(r);
    return finish(error, err);
}

bool exports_session_config_pool(session_config_request_t *request, session_config_pool_spec_t *ret,
                                 session_config_string_t *err) {
    sh_request *r = take_request(request);
    sh_pool_spec pool = {0};
    sh_error error = SH_CONFIG.pool != NULL ? SH_CONFIG.pool(r, &pool) : sh_base_pool(r, &pool);
    if (error == SH_OK && pool.id == NULL) error = "pool: the hook returned no pool id";
    if (error == SH_OK) *ret = sh_pool_to_wit(&pool, true);
    return finish(error, err);
}

bool exports_session_config_location(session_config_request_t *request, session_config_address_t *ret,
                                     session_config_string_t *err) {
    sh_request *r = take_request(request);
    sh_address location;
    sh_error error = sh_config_location(r, &location);
    if (error == SH_OK) *ret = sh_address_to_wit(&location, true);
    return finish(error, err);
}

bool exports_session_config_params(session_config_request_t *request, session_config_string_t *ret,
                                   session_config_string_t *err) {
    sh_request *r = take_request(request);
    cJSON *params = NULL;
    sh_error error = sh_config_params(r, &params);
    if (error == SH_OK && !cJSON_IsObject(params)) error = "params: the hook returned no JSON object";
    if (error == SH_OK) *ret = sh_string_to_wit(sh_json_print(params), true);
    return finish(error, err);
}

/* The WIT init-error for `e` (never SH_INIT_OK). */
static session_config_init_error_t init_error_to_wit(const sh_init_error *e) {
    session_config_init_error_t out = {0};
    switch (e->kind) {
    case SH_INIT_PARAM_ERROR: out.tag = SESSION_HOST_CONFIG_TYPES_INIT_ERROR_PARAM_ERROR; break;
    case SH_INIT_CHECK_ERROR: out.tag = SESSION_HOST_CONFIG_TYPES_INIT_ERROR_CHECK_ERROR; break;
    case SH_INIT_DOWNLOAD:
        out.tag = SESSION_HOST_CONFIG_TYPES_INIT_ERROR_DOWNLOAD;
        out.val.download = sh_download_error_to_wit(&e->download);
        return out;
    case SH_INIT_CLOSE_POOL: out.tag = SESSION_HOST_CONFIG_TYPES_INIT_ERROR_CLOSE_POOL; break;
    default: out.tag = SESSION_HOST_CONFIG_TYPES_INIT_ERROR_FAILED; break;
    }
    /* Every string arm shares the union's first member's layout. */
    out.val.param_error = sh_string_to_wit(e->message != NULL ? e->message : "", true);
    return out;
}

bool exports_session_config_init_session(session_config_string_t *session_id, session_config_request_t *request,
                                         bool *ret, session_config_init_error_t *err) {
    sh_request *r = take_request(request);
    const char *sid = sh_strndup((const char *)session_id->ptr, session_id->len);
    session_config_string_free(session_id);
    *ret = false;
    sh_init_error outcome = SH_CONFIG.init_session != NULL ? SH_CONFIG.init_session(sid, r, ret)
                                                           : sh_base_init_session(sid, r, ret);
    bool ok = outcome.kind == SH_INIT_OK;
    if (!ok) *err = init_error_to_wit(&outcome);
    sh_arena_reset();
    return ok;
}

bool exports_session_config_check(session_config_response_t *response, session_config_request_t *request,
                                  session_config_verdict_t *ret, session_config_string_t *err) {
    sh_request *r = take_request(request);
    sh_response resp = {response->status, sh_strndup((const char *)response->body.ptr, response->body.len)};
    session_config_response_free(response);
    sh_verdict verdict;
    sh_error error = sh_config_check(&resp, r, &verdict);
    if (error == SH_OK && verdict.kind == SH_CLOSE_POOL && verdict.reason == NULL) {
        error = "check: the hook closed the pool without a reason";
    }
    if (error == SH_OK) *ret = sh_verdict_to_wit(&verdict);
    return finish(error, err);
}

bool exports_session_config_process_request(session_config_request_t *request, session_config_option_request_t *ret,
                                            session_config_string_t *err) {
    sh_request *r = take_request(request);
    sh_request *changed = NULL;
    sh_error error = SH_CONFIG.process_request != NULL ? SH_CONFIG.process_request(r, &changed)
                                                        : sh_base_process_request(r, &changed);
    *ret = (session_config_option_request_t){.is_some = false};
    if (error == SH_OK && changed != NULL) {
        ret->is_some = true;
        ret->val = sh_request_to_wit(changed, true);
    }
    return finish(error, err);
}

/* `overrides` (WIT 0.1.1): the hooks whose table entry is set. The host answers the others
 * itself, exactly as the defaults here would. */
session_config_hooks_t exports_session_config_overrides(void) {
    sh_sdk_init();
    session_config_hooks_t hooks = 0;
    if (SH_CONFIG.enabled != NULL) hooks |= SESSION_HOST_CONFIG_TYPES_HOOKS_ENABLED;
    if (SH_CONFIG.cookie_mode != NULL) hooks |= SESSION_HOST_CONFIG_TYPES_HOOKS_COOKIE_MODE;
    if (SH_CONFIG.pool != NULL) hooks |= SESSION_HOST_CONFIG_TYPES_HOOKS_POOL;
    if (SH_CONFIG.location != NULL) hooks |= SESSION_HOST_CONFIG_TYPES_HOOKS_LOCATION;
    if (SH_CONFIG.params != NULL || SH_CONFIG.location_params != NULL) hooks |= SESSION_HOST_CONFIG_TYPES_HOOKS_PARAMS;
    if (SH_CONFIG.init_session != NULL) hooks |= SESSION_HOST_CONFIG_TYPES_HOOKS_INIT_SESSION;
    if (SH_CONFIG.check != NULL || SH_CONFIG.location_check != NULL) hooks |= SESSION_HOST_CONFIG_TYPES_HOOKS_CHECK;
    if (SH_CONFIG.process_request != NULL) hooks |= SESSION_HOST_CONFIG_TYPES_HOOKS_PROCESS_REQUEST;
    return hooks;
}
