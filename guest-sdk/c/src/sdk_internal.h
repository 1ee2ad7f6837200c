/* Internal to the SDK: not part of its API. */
#ifndef SESSION_HOST_SDK_INTERNAL_H
#define SESSION_HOST_SDK_INTERNAL_H

#include "session_host.h"

/* Points cJSON's allocations at the hook's arena; idempotent. Every entry point calls it. */
void sh_sdk_init(void);

/* The host's `defaults` that take or return JSON text (src/host.c). */
const char *sh_host_params(const sh_request *request, const sh_address *location);
sh_verdict sh_host_check(const sh_response *response, const sh_request *request, const sh_address *location);
/* NULL: none. */
const char *sh_host_preset_init_params(const sh_request *request);
sh_error sh_host_init_request(const char *session_id, const sh_request *request, const char *params,
                              sh_request **out);

#endif
