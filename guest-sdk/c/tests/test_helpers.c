/*
 * Native unit tests of the C SDK's pure helpers (guest-sdk/c/test builds and runs them with the
 * machine's C compiler). The cases mirror the Rust SDK's tests of the same helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_host.h"
#include "../src/sdk_internal.h"

static int passed, failed;

/* The host imports are not linked natively: a panic fails the run. */
_Noreturn void sh_panic(const char *message) {
    fprintf(stderr, "panic: %s\n", message);
    abort();
}

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) passed++;                                                    \
        else {                                                                 \
            failed++;                                                          \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)
#define CHECK_STR(actual, expected)                                                              \
    do {                                                                                         \
        const char *a_ = (actual), *e_ = (expected);                                             \
        if ((a_ == NULL && e_ == NULL) || (a_ != NULL && e_ != NULL && strcmp(a_, e_) == 0))     \
            passed++;                                                                            \
        else {                                                                                   \
            failed++;                                                                            \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #actual, \
                    a_ ? a_ : "(null)", e_ ? e_ : "(null)");                                     \
        }                                                                                        \
    } while (0)

static void urls(void) {
    CHECK_STR(sh_url_origin("https://shop.example:8443/search?q=a#top"), "https://shop.example:8443");
    CHECK_STR(sh_url_origin("https://shop.example"), "https://shop.example");
    CHECK_STR(sh_url_origin("shop.example"), NULL);
    CHECK_STR(sh_url_host("https://u:p@shop.example:8443/x"), "shop.example");
    CHECK_STR(sh_url_host("http://[::1]:80/"), "[::1]");
    CHECK_STR(sh_url_host("csrf.example"), NULL);
    CHECK_STR(sh_url_with_query_param("https://shop.example/s?q=a#top", "csrf", "a b"),
              "https://shop.example/s?q=a&csrf=a%20b#top");
    CHECK_STR(sh_url_with_query_param("https://shop.example/s", "c", "t0k"), "https://shop.example/s?c=t0k");
    CHECK_STR(sh_url_with_query_param("https://shop.example/s?", "c", "1"), "https://shop.example/s?c=1");
    CHECK_STR(sh_url_with_query_param("https://shop.example/s?a=1&", "c", "1"), "https://shop.example/s?a=1&c=1");
    CHECK_STR(sh_percent_encode("a-b_c.d~e/é"), "a-b_c.d~e%2F%C3%A9");
}

static void params(void) {
    cJSON *parsed = NULL;
    CHECK(sh_params_parse("{\"z\": 1, \"a\": true}", &parsed) == SH_OK);
    CHECK(sh_json_get_bool(parsed, "a", NULL));
    bool found = true;
    CHECK(!sh_json_get_bool(parsed, "z", &found) && !found);
    CHECK_STR(sh_params_parse("[1]", &parsed), "Zyte API params must be a JSON object, not an array");
    sh_error invalid = sh_params_parse("{", &parsed);
    CHECK(invalid != NULL && strncmp(invalid, "Zyte API params are not valid JSON:", 35) == 0);
    CHECK(sh_params_parse("{} x", &parsed) != SH_OK);

    cJSON *built = cJSON_CreateObject();
    cJSON_AddStringToObject(built, "actions", "bogus");
    sh_params_add_action(built, cJSON_CreateString("scrollBottom"));
    sh_address us = {.address_country = "US"};
    sh_params_add_action(built, sh_set_location_action(&us));
    CHECK_STR(sh_json_print(built),
              "{\"actions\":[\"scrollBottom\",{\"action\":\"setLocation\",\"address\":{\"addressCountry\":\"US\"}}]}");
    CHECK_STR(sh_json_quote("csrf.example"), "\"csrf.example\"");
}

static void addresses(void) {
    sh_address empty = {0};
    sh_address blank = {.postal_code = ""};
    CHECK(sh_address_is_empty(&empty));
    CHECK(!sh_address_is_empty(&blank));
    sh_address full = {"US", "NY", "10001", "3 Penn Plz"};
    CHECK_STR(sh_json_print(sh_address_to_json(&full)),
              "{\"addressCountry\":\"US\",\"addressRegion\":\"NY\",\"postalCode\":\"10001\","
              "\"streetAddress\":\"3 Penn Plz\"}");
}

static void headers(void) {
    sh_request base = {.url = "https://a.example/", .method = "GET", .params = "{}"};
    sh_request *r = sh_request_copy(&base);
    sh_request_set_header(r, "Accept", "a");
    sh_request_set_header(r, "b", "2");
    sh_header extra[3] = {r->headers[0], r->headers[1], {"ACCEPT", "b"}};
    r->headers = extra;
    r->headers_len = 3;
    CHECK_STR(sh_request_header(r, "accept"), "b");
    sh_request_set_header(r, "accept", "c");
    CHECK(r->headers_len == 2);
    CHECK_STR(r->headers[0].name, "accept");
    CHECK_STR(r->headers[1].name, "b");
    CHECK_STR(sh_request_header(r, "Accept"), "c");
    CHECK(sh_request_remove_header(r, "ACCEPT"));
    CHECK(!sh_request_remove_header(r, "accept"));
    CHECK(r->headers_len == 1);
    CHECK_STR(base.url, "https://a.example/");
    CHECK(base.headers_len == 0);
    CHECK_STR(sh_request_host(r), "a.example");
}

static void responses(void) {
    cJSON *raw = NULL;
    CHECK(sh_raw_parse("{\"statusCode\": 200, \"httpResponseBody\": \"PHA+aGk8L3A+\", \"url\": \"u\"}", &raw) == SH_OK);
    CHECK(sh_raw_status_code(raw) == 200);
    CHECK_STR(sh_raw_url(raw), "u");
    const char *html = NULL;
    CHECK(sh_raw_html(raw, &html) == SH_OK);
    CHECK_STR(html, "<p>hi</p>");
    CHECK(sh_raw_parse("{\"browserHtml\": \"<b>\", \"statusCode\": 2.5}", &raw) == SH_OK);
    CHECK(sh_raw_html(raw, &html) == SH_OK);
    CHECK_STR(html, "<b>");
    CHECK(sh_raw_status_code(raw) == -1);
    CHECK(sh_raw_parse("{\"httpResponseBody\": \"!!\"}", &raw) == SH_OK);
    CHECK_STR(sh_raw_html(raw, &html), "invalid base64 byte at offset 0");
    CHECK(sh_raw_parse("{}", &raw) == SH_OK);
    CHECK(sh_raw_html(raw, &html) == SH_OK && html == NULL);
    CHECK_STR(sh_raw_parse("[]", &raw), "the Zyte API response body is not a JSON object");
    sh_error invalid = sh_raw_parse("<html>", &raw);
    CHECK(invalid != NULL && strncmp(invalid, "the Zyte API response body is not valid JSON:", 45) == 0);
}

static void base64_and_utf8(void) {
    CHECK_STR(sh_base64_encode((const uint8_t *)"token", 5), "dG9rZW4=");
    CHECK_STR(sh_base64_encode((const uint8_t *)"to", 2), "dG8=");
    CHECK_STR(sh_base64_encode((const uint8_t *)"tok", 3), "dG9r");
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK(sh_base64_decode("dG9rZW4", &bytes, &len) == SH_OK && len == 5 && memcmp(bytes, "token", 5) == 0);
    CHECK(sh_base64_decode("dG9rZW4=", &bytes, &len) == SH_OK && len == 5);
    CHECK_STR(sh_base64_decode("dG9rZ", &bytes, &len), "invalid base64 length");
    CHECK_STR(sh_base64_decode("dG=r", &bytes, &len), "invalid base64 byte at offset 2");
    CHECK_STR(sh_utf8_lossy((const uint8_t *)"a\xC3\xA9z", 4), "a\xC3\xA9z");
    CHECK_STR(sh_utf8_lossy((const uint8_t *)"a\xFFz", 3), "a\xEF\xBF\xBDz");
    /* A truncated 3-byte sequence is one replacement, like from_utf8_lossy. */
    CHECK_STR(sh_utf8_lossy((const uint8_t *)"\xE2\x82z", 3), "\xEF\xBF\xBDz");
    CHECK_STR(sh_utf8_lossy((const uint8_t *)"\xED\xA0\x80", 3), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

static void rules_and_arena(void) {
    sh_url_rules rules = {.priority = 500};
    sh_rules_include(&rules, "a.example");
    sh_rules_include(&rules, "b.example");
    sh_rules_exclude(&rules, "a.example/admin");
    CHECK(rules.include_len == 2 && rules.exclude_len == 1);
    CHECK_STR(rules.include[1], "b.example");
    CHECK(sh_arena_bytes() > 0);
    char *big = sh_alloc(100000);
    CHECK(big[99999] == 0);
    sh_arena_reset();
    CHECK(sh_arena_bytes() == 0);
}

static void nesting_is_bounded(void) {
    /* 200 levels, valid JSON, deeper than the build's CJSON_NESTING_LIMIT of 128. */
    char deep[402];
    memset(deep, '[', 200);
    deep[200] = '1';
    memset(deep + 201, ']', 200);
    deep[401] = '\0';
    cJSON *out = NULL;
    CHECK(sh_params_parse(deep, &out) != SH_OK);
}

int main(void) {
    sh_sdk_init();
    void (*cases[])(void) = {urls, params, addresses, headers, responses, base64_and_utf8, rules_and_arena,
                             nesting_is_bounded};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cases[i]();
        sh_arena_reset();
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
