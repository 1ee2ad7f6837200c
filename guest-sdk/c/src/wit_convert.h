/* Internal to the SDK: conversions between the SDK's types and the generated bindings
 * (src/host.c; ownership policy there). `owned`: malloc'd, for an export's result; otherwise
 * borrowed from the arena, for an import's arguments. */
#ifndef SESSION_HOST_SDK_WIT_CONVERT_H
#define SESSION_HOST_SDK_WIT_CONVERT_H

#include "sdk_internal.h"
#include "session_config.h"

typedef session_config_string_t wit_string;
typedef session_config_option_string_t wit_option_string;
typedef session_host_config_types_request_t wit_request;
typedef session_host_config_types_address_t wit_address;
typedef session_host_config_types_pool_spec_t wit_pool_spec;
typedef session_host_config_types_response_t wit_response;
typedef session_host_config_types_verdict_t wit_verdict;
typedef session_host_config_types_url_rules_t wit_url_rules;
typedef session_host_config_types_download_error_t wit_download_error;

wit_string sh_string_to_wit(const char *text, bool owned);
void sh_request_from_wit(const wit_request *request, sh_request *out);
wit_request sh_request_to_wit(const sh_request *request, bool owned);
wit_pool_spec sh_pool_to_wit(const sh_pool_spec *pool, bool owned);
wit_address sh_address_to_wit(const sh_address *address, bool owned);
wit_download_error sh_download_error_to_wit(const sh_download_error *error);
void sh_url_rules_to_wit(const sh_url_rules *rules, wit_url_rules *out);
wit_verdict sh_verdict_to_wit(const sh_verdict *verdict);

#endif
