/*
 * The SDK's pure helpers: JSON params, addresses, URLs, requests, responses, base64 and UTF-8.
 * None of them calls the host, so guest-sdk/c/test runs them natively.
 *
 * Policy: each helper behaves like its Rust SDK twin (guest-sdk/src), so that a config ported
 * between languages builds the same requests, and its error messages carry the same text up to
 * the first colon (host/tests/all/conformance.rs compares them up to there).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_host.h"
#include "sdk_internal.h"

static void *arena_malloc(size_t size) { return sh_alloc(size); }
static void arena_free(void *pointer) { (void)pointer; }

void sh_sdk_init(void) {
    static bool done;
    if (done) return;
    cJSON_Hooks hooks = {.malloc_fn = arena_malloc, .free_fn = arena_free};
    cJSON_InitHooks(&hooks);
    done = true;
}

/* ----- Rules ----- */

static void push(const char ***items, size_t *len, const char *item) {
    const char **grown = sh_alloc((*len + 1) * sizeof *grown);
    if (*len > 0) memcpy(grown, *items, *len * sizeof *grown);
    grown[(*len)++] = sh_strdup(item);
    *items = grown;
}

void sh_rules_include(sh_url_rules *rules, const char *pattern) {
    push(&rules->include, &rules->include_len, pattern);
}

void sh_rules_exclude(sh_url_rules *rules, const char *pattern) {
    push(&rules->exclude, &rules->exclude_len, pattern);
}

/* ----- Addresses ----- */

bool sh_address_is_empty(const sh_address *a) {
    return !a->address_country && !a->address_region && !a->postal_code && !a->street_address;
}

cJSON *sh_address_to_json(const sh_address *a) {
    cJSON *object = cJSON_CreateObject();
    const char *names[4] = {"addressCountry", "addressRegion", "postalCode", "streetAddress"};
    const char *values[4] = {a->address_country, a->address_region, a->postal_code, a->street_address};
    for (int i = 0; i < 4; i++) {
        if (values[i] != NULL) cJSON_AddStringToObject(object, names[i], values[i]);
    }
    return object;
}

/* ----- JSON and params ----- */

static const char *kind(const cJSON *value) {
    if (cJSON_IsNull(value)) return "null";
    if (cJSON_IsBool(value)) return "a boolean";
    if (cJSON_IsNumber(value)) return "a number";
    if (cJSON_IsString(value)) return "a string";
    if (cJSON_IsArray(value)) return "an array";
    return "an object";
}

/* Parses `json` whole; NULL when it is not one valid JSON value. `*offset`: where it failed. */
static cJSON *parse(const char *json, size_t *offset) {
    sh_sdk_init();
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithOpts(json, &end, true);
    if (value == NULL) *offset = end != NULL && end >= json ? (size_t)(end - json) : 0;
    return value;
}

sh_error sh_params_parse(const char *json, cJSON **out) {
    size_t offset = 0;
    cJSON *value = parse(json, &offset);
    if (value == NULL) return sh_errorf("Zyte API params are not valid JSON: error at byte %zu", offset);
    if (!cJSON_IsObject(value)) return sh_errorf("Zyte API params must be a JSON object, not %s", kind(value));
    *out = value;
    return SH_OK;
}

char *sh_json_print(const cJSON *value) {
    sh_sdk_init();
    char *text = cJSON_PrintUnformatted(value);
    if (text == NULL) sh_panic("out of memory");
    return text;
}

bool sh_json_get_bool(const cJSON *object, const char *key, bool *found) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    bool is_bool = cJSON_IsBool(item);
    if (found != NULL) *found = is_bool;
    return is_bool && cJSON_IsTrue(item);
}

const char *sh_json_get_str(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

void sh_params_add_action(cJSON *params, cJSON *action) {
    cJSON *actions = cJSON_GetObjectItemCaseSensitive(params, "actions");
    if (!cJSON_IsArray(actions)) {
        cJSON_DeleteItemFromObjectCaseSensitive(params, "actions");
        actions = cJSON_AddArrayToObject(params, "actions");
    }
    cJSON_AddItemToArray(actions, action);
}

cJSON *sh_set_location_action(const sh_address *address) {
    cJSON *action = cJSON_CreateObject();
    cJSON_AddStringToObject(action, "action", "setLocation");
    cJSON_AddItemToObject(action, "address", sh_address_to_json(address));
    return action;
}

char *sh_json_quote(const char *text) {
    sh_sdk_init();
    return sh_json_print(cJSON_CreateString(text));
}

/* ----- URLs ----- */

char *sh_url_origin(const char *url) {
    const char *scheme_end = strstr(url, "://");
    if (scheme_end == NULL) return NULL;
    const char *rest = scheme_end + 3;
    size_t authority = strcspn(rest, "/?#");
    return sh_strndup(url, (size_t)(rest - url) + authority);
}

char *sh_url_host(const char *url) {
    char *origin = sh_url_origin(url);
    if (origin == NULL) return NULL;
    const char *authority = strstr(origin, "://") + 3;
    const char *at = strrchr(authority, '@');
    const char *host_port = at == NULL ? authority : at + 1;
    if (host_port[0] == '[') {
        const char *end = strchr(host_port, ']');
        return end == NULL ? NULL : sh_strndup(host_port, (size_t)(end - host_port) + 1);
    }
    return sh_strndup(host_port, strcspn(host_port, ":"));
}

static bool unreserved(unsigned char c) { return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

char *sh_percent_encode(const char *text) {
    size_t len = strlen(text);
    char *out = sh_alloc(len * 3 + 1);
    char *at = out;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (unreserved(*c) && *c < 0x80) *at++ = (char)*c;
        else at += sprintf(at, "%%%02X", *c);
    }
    return out;
}

char *sh_url_with_query_param(const char *url, const char *name, const char *value) {
    const char *hash = strchr(url, '#');
    size_t base_len = hash == NULL ? strlen(url) : (size_t)(hash - url);
    char *base = sh_strndup(url, base_len);
    const char *query = strchr(base, '?');
    const char *separator = "&";
    if (query == NULL) separator = "?";
    else if (query[1] == '\0' || base[base_len - 1] == '&') separator = "";
    char *out = sh_format("%s%s%s=%s", base, separator, sh_percent_encode(name), sh_percent_encode(value));
    return hash == NULL ? out : sh_format("%s%s", out, hash);
}

/* ----- Requests ----- */

static const char *copy_text(const char *text) { return sh_strdup(text); }

sh_request *sh_request_copy(const sh_request *request) {
    sh_request *copy = sh_alloc(sizeof *copy);
    *copy = *request;
    copy->url = copy_text(request->url);
    copy->method = copy_text(request->method);
    copy->params = copy_text(request->params);
    copy->session_id = copy_text(request->session_id);
    copy->headers = sh_alloc((request->headers_len + 1) * sizeof *copy->headers);
    for (size_t i = 0; i < request->headers_len; i++) {
        copy->headers[i].name = copy_text(request->headers[i].name);
        copy->headers[i].value = copy_text(request->headers[i].value);
    }
    copy->controls.params = copy_text(request->controls.params);
    if (request->controls.location != NULL) {
        sh_address *location = sh_alloc(sizeof *location);
        *location = *request->controls.location;
        copy->controls.location = location;
    }
    if (request->controls.pool != NULL) {
        sh_pool_spec *pool = sh_alloc(sizeof *pool);
        *pool = *request->controls.pool;
        copy->controls.pool = pool;
    }
    return copy;
}

const char *sh_request_header(const sh_request *request, const char *name) {
    for (size_t i = request->headers_len; i > 0; i--) {
        if (strcasecmp(request->headers[i - 1].name, name) == 0) return request->headers[i - 1].value;
    }
    return NULL;
}

void sh_request_set_header(sh_request *request, const char *name, const char *value) {
    sh_header *headers = sh_alloc((request->headers_len + 1) * sizeof *headers);
    size_t kept = 0;
    bool placed = false;
    for (size_t i = 0; i < request->headers_len; i++) {
        if (strcasecmp(request->headers[i].name, name) != 0) headers[kept++] = request->headers[i];
        else if (!placed) {
            headers[kept++] = (sh_header){sh_strdup(name), sh_strdup(value)};
            placed = true;
        }
    }
    if (!placed) headers[kept++] = (sh_header){sh_strdup(name), sh_strdup(value)};
    request->headers = headers;
    request->headers_len = kept;
}

bool sh_request_remove_header(sh_request *request, const char *name) {
    size_t kept = 0;
    for (size_t i = 0; i < request->headers_len; i++) {
        if (strcasecmp(request->headers[i].name, name) != 0) request->headers[kept++] = request->headers[i];
    }
    bool removed = kept != request->headers_len;
    request->headers_len = kept;
    return removed;
}

sh_error sh_request_params(const sh_request *request, cJSON **out) { return sh_params_parse(request->params, out); }

char *sh_request_host(const sh_request *request) { return sh_url_host(request->url); }

/* ----- Responses ----- */

sh_error sh_raw_parse(const char *body, cJSON **out) {
    size_t offset = 0;
    cJSON *value = parse(body, &offset);
    if (value == NULL) return sh_errorf("the Zyte API response body is not valid JSON: error at byte %zu", offset);
    if (!cJSON_IsObject(value)) return "the Zyte API response body is not a JSON object";
    *out = value;
    return SH_OK;
}

int32_t sh_raw_status_code(const cJSON *raw) {
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(raw, "statusCode");
    if (!cJSON_IsNumber(code)) return -1;
    double value = code->valuedouble;
    if (value < 0 || value > 65535 || value != (double)(int32_t)value) return -1;
    return (int32_t)value;
}

const char *sh_raw_url(const cJSON *raw) { return sh_json_get_str(raw, "url"); }

sh_error sh_raw_html(const cJSON *raw, const char **out) {
    const char *html = sh_json_get_str(raw, "browserHtml");
    if (html != NULL) {
        *out = html;
        return SH_OK;
    }
    const char *encoded = sh_json_get_str(raw, "httpResponseBody");
    *out = NULL;
    if (encoded == NULL) return SH_OK;
    uint8_t *bytes = NULL;
    size_t len = 0;
    sh_error error = sh_base64_decode(encoded, &bytes, &len);
    if (error != SH_OK) return error;
    *out = sh_utf8_lossy(bytes, len);
    return SH_OK;
}

/* ----- Base64 ----- */

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sextet(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

sh_error sh_base64_decode(const char *text, uint8_t **out, size_t *len) {
    size_t data = strlen(text);
    for (int pad = 0; pad < 2 && data > 0 && text[data - 1] == '='; pad++) data--;
    if (data % 4 == 1) return "invalid base64 length";
    uint8_t *bytes = sh_alloc(data / 4 * 3 + 3);
    size_t at = 0;
    for (size_t chunk = 0; chunk < data; chunk += 4) {
        size_t n = data - chunk < 4 ? data - chunk : 4;
        uint32_t group = 0;
        for (size_t offset = 0; offset < n; offset++) {
            int value = sextet((unsigned char)text[chunk + offset]);
            if (value < 0) return sh_errorf("invalid base64 byte at offset %zu", chunk + offset);
            group |= (uint32_t)value << (18 - 6 * offset);
        }
        for (size_t i = 0; i + 1 < n; i++) bytes[at++] = (uint8_t)(group >> (16 - 8 * i));
    }
    *out = bytes;
    *len = at;
    return SH_OK;
}

char *sh_base64_encode(const uint8_t *bytes, size_t len) {
    char *out = sh_alloc((len + 2) / 3 * 4 + 1);
    char *at = out;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t group = (uint32_t)bytes[i] << 16;
        if (i + 1 < len) group |= (uint32_t)bytes[i + 1] << 8;
        if (i + 2 < len) group |= bytes[i + 2];
        *at++ = ALPHABET[(group >> 18) & 63];
        *at++ = ALPHABET[(group >> 12) & 63];
        *at++ = i + 1 < len ? ALPHABET[(group >> 6) & 63] : '=';
        *at++ = i + 2 < len ? ALPHABET[group & 63] : '=';
    }
    return out;
}

/* ----- UTF-8 ----- */

/* The length of the valid UTF-8 sequence at `s` (of `left` bytes), or 0 if it is invalid. */
static size_t valid_sequence(const uint8_t *s, size_t left) {
    uint8_t b = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else return 0;
    for (size_t i = 1; i <= need; i++) {
        if (i >= left || s[i] < lo || s[i] > hi) return 0;
        lo = 0x80, hi = 0xBF;
    }
    return need + 1;
}

/* How many bytes of the invalid sequence at `s` one U+FFFD replaces: its maximal prefix of a
 * valid sequence (at least 1), as Rust's from_utf8_lossy and WHATWG's decoder do. */
static size_t invalid_prefix(const uint8_t *s, size_t left) {
    uint8_t b = s[0];
    size_t need = b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2 : b >= 0xF0 && b <= 0xF4 ? 3 : 0;
    uint8_t lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
    uint8_t hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
    size_t i = 1;
    while (i <= need && i < left && s[i] >= lo && s[i] <= hi) {
        i++;
        lo = 0x80, hi = 0xBF;
    }
    return i;
}

char *sh_utf8_lossy(const uint8_t *bytes, size_t len) {
    char *out = sh_alloc(len * 3 + 1);
    size_t at = 0;
    for (size_t i = 0; i < len;) {
        size_t valid = valid_sequence(bytes + i, len - i);
        if (valid > 0) {
            memcpy(out + at, bytes + i, valid);
            at += valid;
            i += valid;
        } else {
            memcpy(out + at, "\xEF\xBF\xBD", 3);
            at += 3;
            i += invalid_prefix(bytes + i, len - i);
        }
    }
    return out;
}
