/*
 * Example location session config for the `postal-code-NNNNN.example` grocery sites, in C:
 * sessions are initialised with the site's own location flow, and each response is checked for
 * the location it shows.
 *
 * It behaves exactly like the Rust example (../src/lib.rs, which documents the sites and each
 * hook); host/tests/all/conformance.rs checks that they agree.
 *
 * - `location`: the usual location (the request's control, else the setting); when there is
 *   none, the postal code in the site's domain name.
 * - `location_params`: a browser request for the home page that runs `setLocation` with the
 *   address, then waits for the `#location` banner.
 * - `location_check`: the default check, then the page's `#location` banner must say
 *   "Delivering to" the location's postal code (pages without the banner pass).
 * - Without a location, `params` and `check` are the defaults (`sh_location_params` and
 *   `sh_location_check` dispatch).
 */
#include <ctype.h>
#include <string.h>

#include "session_host.h"

/* The sites this config handles (url-matcher has no wildcard in domains). */
static const char *const DOMAINS[] = {
    "postal-code-10001.example",
    "postal-code-10002.example",
    "postal-code-94105.example",
};
#define DOMAIN_PREFIX "postal-code-"
#define DOMAIN_SUFFIX ".example"
/* The CSS selector of the location banner. */
#define BANNER "#location"
/* The banner's text before the postal code. */
#define DELIVERING_TO "Delivering to "

/* What a page's location banner shows. */
typedef enum { NO_BANNER, NO_LOCATION, POSTAL_CODE } shown_kind;
typedef struct {
    shown_kind kind;
    const char *code;
} shown;

/* The postal code in a `postal-code-NNNNN.example` host name, or NULL. */
static const char *domain_postal_code(const char *host) {
    size_t len = strlen(host), prefix = strlen(DOMAIN_PREFIX), suffix = strlen(DOMAIN_SUFFIX);
    if (len <= prefix + suffix || strncmp(host, DOMAIN_PREFIX, prefix) != 0) return NULL;
    if (strcmp(host + len - suffix, DOMAIN_SUFFIX) != 0) return NULL;
    for (size_t i = prefix; i < len - suffix; i++) {
        if (!isalnum((unsigned char)host[i]) || (unsigned char)host[i] >= 0x80) return NULL;
    }
    return sh_strndup(host + prefix, len - prefix - suffix);
}

/* The home page of `url`'s origin in a browser, `setLocation`, then wait for the banner. */
static sh_error init_params(const char *url, const sh_address *location, cJSON **out) {
    const char *origin = sh_url_origin(url);
    if (origin == NULL) return sh_errorf("cannot find the origin of %s", sh_json_quote(url));
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "url", sh_format("%s/", origin));
    cJSON_AddTrueToObject(params, "browserHtml");
    sh_params_add_action(params, sh_set_location_action(location));
    cJSON *wait = cJSON_CreateObject();
    cJSON_AddStringToObject(wait, "action", "waitForSelector");
    cJSON *selector = cJSON_AddObjectToObject(wait, "selector");
    cJSON_AddStringToObject(selector, "type", "css");
    cJSON_AddStringToObject(selector, "value", BANNER);
    sh_params_add_action(params, wait);
    *out = params;
    return SH_OK;
}

/* `text` without leading and trailing ASCII whitespace. */
static const char *trim(const char *text) {
    while (isspace((unsigned char)*text)) text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1])) len--;
    return sh_strndup(text, len);
}

/* Reads the `<… id="location">` banner of `html`. */
static shown banner(const char *html) {
    /* BANNER without its '#'. */
    const char *at = strstr(html, "id=\"location\"");
    if (at == NULL) return (shown){NO_BANNER, NULL};
    const char *close = strchr(at, '>');
    const char *text = close == NULL ? "" : trim(sh_strndup(close + 1, strcspn(close + 1, "<")));
    if (strncmp(text, DELIVERING_TO, strlen(DELIVERING_TO)) != 0) return (shown){NO_LOCATION, NULL};
    return (shown){POSTAL_CODE, trim(text + strlen(DELIVERING_TO))};
}

/* Whether the page agrees with `location`: no banner, or the location's postal code (any
 * location without a postal code). */
static bool matches(shown page, const sh_address *location) {
    if (page.kind == NO_BANNER) return true;
    if (page.kind == NO_LOCATION) return false;
    return location->postal_code == NULL || strcmp(location->postal_code, page.code) == 0;
}

/* The listed postal-code sites. */
static void rules(sh_url_rules *out) {
    for (size_t i = 0; i < sizeof DOMAINS / sizeof DOMAINS[0]; i++) sh_rules_include(out, DOMAINS[i]);
}

/* The usual location, else the postal code in the domain name. */
static sh_error location(const sh_request *request, sh_address *out) {
    sh_base_location(request, out);
    if (!sh_address_is_empty(out)) return SH_OK;
    const char *host = sh_request_host(request);
    *out = (sh_address){.postal_code = host == NULL ? NULL : domain_postal_code(host)};
    return SH_OK;
}

/* The site's location flow on its home page. */
static sh_error location_params(const sh_request *request, const sh_address *location, cJSON **out) {
    return init_params(request->url, location, out);
}

/* The default check, then the banner must show the location's postal code. */
static sh_error location_check(const sh_response *response, const sh_request *request, const sh_address *location,
                               sh_verdict *out) {
    sh_error error = sh_base_check(response, request, out);
    if (error != SH_OK || out->kind != SH_KEEP) return error;
    cJSON *raw = NULL;
    error = sh_raw_parse(response->body, &raw);
    if (error != SH_OK) return error;
    const char *html = NULL;
    error = sh_raw_html(raw, &html);
    if (error != SH_OK) return sh_errorf("response body: %s", error);
    shown page = html == NULL ? (shown){NO_BANNER, NULL} : banner(html);
    bool keep = matches(page, location);
    if (!keep) {
        const char *what = page.kind == NO_LOCATION ? "NoLocation" : sh_format("PostalCode(%s)", page.code);
        sh_warn("%s shows %s instead of the session's location %s", request->url, what,
                sh_json_print(sh_address_to_json(location)));
    }
    out->kind = keep ? SH_KEEP : SH_DISCARD;
    return SH_OK;
}

const sh_config SH_CONFIG = {
    .rules = rules,
    .location = location,
    .params = sh_location_params,
    .check = sh_location_check,
    .location_params = location_params,
    .location_check = location_check,
};
