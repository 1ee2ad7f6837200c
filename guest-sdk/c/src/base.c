/*
 * The defaults that call other hooks, and the config's dispatch: the C twin of the Rust SDK's
 * `base` and `location` modules (guest-sdk/src/base.rs, location.rs).
 *
 * Policy: the host implements the defaults (the WIT `defaults` interface), because they depend
 * on its settings; the component model forbids it to call back into the guest, so where the
 * reference's default calls another overridable hook, these functions make that call through
 * `SH_CONFIG` first and pass the result in: `sh_base_params` and `sh_base_check` pass the
 * config's location, and `sh_base_init_session` is composed here from the preset params, the
 * config's `params`, the init request, `sh_download` and the config's `check`.
 */
#include "session_host.h"
#include "sdk_internal.h"

#include <string.h>

sh_error sh_config_location(const sh_request *request, sh_address *out) {
    *out = (sh_address){0};
    if (SH_CONFIG.location != NULL) return SH_CONFIG.location(request, out);
    sh_base_location(request, out);
    return SH_OK;
}

sh_error sh_config_params(const sh_request *request, cJSON **out) {
    *out = NULL;
    return SH_CONFIG.params != NULL ? SH_CONFIG.params(request, out) : sh_base_params(request, out);
}

sh_error sh_config_check(const sh_response *response, const sh_request *request, sh_verdict *out) {
    *out = (sh_verdict){SH_KEEP, NULL};
    if (SH_CONFIG.check != NULL) return SH_CONFIG.check(response, request, out);
    return sh_base_check(response, request, out);
}

sh_error sh_base_params(const sh_request *request, cJSON **out) {
    sh_address location;
    sh_error error = sh_config_location(request, &location);
    if (error != SH_OK) return error;
    return sh_params_parse(sh_host_params(request, &location), out);
}

/*
 * Answered here, without crossing to the host, when the body has no `"actions"` key text (every
 * HTTP response): the default check then keeps the session whatever the location and the
 * settings, as the host's own check does for the same bodies. The config's location still runs
 * first, so that its error is still this check's error. Otherwise (issue 17) the default costs
 * two host calls, each copying the whole response and request across.
 */
sh_error sh_base_check(const sh_response *response, const sh_request *request, sh_verdict *out) {
    sh_address location;
    bool actions = response->body != NULL && strstr(response->body, "\"actions\"") != NULL;
    if (!actions && SH_CONFIG.location == NULL) {
        *out = (sh_verdict){SH_KEEP, NULL};
        return SH_OK;
    }
    sh_error error = sh_config_location(request, &location);
    if (error != SH_OK) return error;
    if (!actions) {
        *out = (sh_verdict){SH_KEEP, NULL};
        return SH_OK;
    }
    *out = sh_host_check(response, request, &location);
    return SH_OK;
}

sh_error sh_base_preset_init_params(const sh_request *request, cJSON **out) {
    const char *preset = sh_host_preset_init_params(request);
    *out = NULL;
    return preset == NULL ? SH_OK : sh_params_parse(preset, out);
}

sh_error sh_base_process_request(const sh_request *request, sh_request **out) {
    (void)request;
    *out = NULL;
    return SH_OK;
}

sh_init_error sh_init_outcome(sh_error checked, const sh_verdict *verdict, bool *added) {
    *added = false;
    if (checked != SH_OK) return (sh_init_error){.kind = SH_INIT_CHECK_ERROR, .message = checked};
    if (verdict->kind == SH_CLOSE_POOL) return (sh_init_error){.kind = SH_INIT_CLOSE_POOL, .message = verdict->reason};
    *added = verdict->kind == SH_KEEP;
    return (sh_init_error){.kind = SH_INIT_OK};
}

/* The init params as JSON text: the host's preset, else the config's `params`. */
static sh_error init_params(const sh_request *request, const char **out) {
    *out = sh_host_preset_init_params(request);
    if (*out != NULL) return SH_OK;
    cJSON *params = NULL;
    sh_error error = sh_config_params(request, &params);
    if (error != SH_OK) return error;
    if (!cJSON_IsObject(params)) return "params: the hook returned no JSON object";
    *out = sh_json_print(params);
    return SH_OK;
}

sh_init_error sh_base_init_session(const char *session_id, const sh_request *request, bool *added) {
    *added = false;
    const char *params = NULL;
    sh_error error = init_params(request, &params);
    if (error != SH_OK) return (sh_init_error){.kind = SH_INIT_PARAM_ERROR, .message = error};
    sh_request *init = NULL;
    error = sh_host_init_request(session_id, request, params, &init);
    if (error != SH_OK) return (sh_init_error){.kind = SH_INIT_PARAM_ERROR, .message = error};
    sh_response response;
    sh_download_error failure;
    if (!sh_download(init, &response, &failure)) return (sh_init_error){.kind = SH_INIT_DOWNLOAD, .download = failure};
    sh_verdict verdict;
    error = sh_config_check(&response, init, &verdict);
    return sh_init_outcome(error, &verdict, added);
}

sh_error sh_base_init_request(const char *session_id, const sh_request *request, const cJSON *params,
                              sh_request **out) {
    return sh_host_init_request(session_id, request, sh_json_print(params), out);
}

sh_error sh_location_params(const sh_request *request, cJSON **out) {
    sh_address location;
    sh_error error = sh_config_location(request, &location);
    if (error != SH_OK) return error;
    if (sh_address_is_empty(&location) || SH_CONFIG.location_params == NULL) return sh_base_params(request, out);
    return SH_CONFIG.location_params(request, &location, out);
}

sh_error sh_location_check(const sh_response *response, const sh_request *request, sh_verdict *out) {
    sh_address location;
    sh_error error = sh_config_location(request, &location);
    if (error != SH_OK) return error;
    if (sh_address_is_empty(&location) || SH_CONFIG.location_check == NULL) return sh_base_check(response, request, out);
    return SH_CONFIG.location_check(response, request, &location, out);
}
