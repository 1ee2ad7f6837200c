/* Internal to the SDK: not part of its API. */
#ifndef SESSION_HOST_SDK_INTERNAL_H
#define SESSION_HOST_SDK_INTERNAL_H

/* Points cJSON's allocations at the hook's arena; idempotent. Every entry point calls it. */
void sh_sdk_init(void);

#endif
