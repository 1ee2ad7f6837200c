/*
 * The hook call's arena: every allocation of the SDK and of the config's hooks, freed at once when
 * the hook returns (session_host.h, "Memory").
 *
 * Policy: blocks of ARENA_BLOCK bytes are taken from malloc and chained; a request larger than a
 * block gets a block of its own. Nothing is freed before `sh_arena_reset`. The arena has no bound
 * of its own: the host's memory limit for the instance bounds it, and a failed allocation traps
 * through `sh_panic` (the host then reports the hook as failed and discards the instance).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_host.h"

/* 16 KiB: a hook's typical request, response and JSON fit in one or two blocks. */
#define ARENA_BLOCK (16 * 1024)
#define ARENA_ALIGN 16

typedef struct block {
    struct block *next;
    size_t size;
    size_t used;
} block;

static block *head;
static size_t total;

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

/* A new block with room for `size` bytes, in front of the chain. */
static block *grow(size_t size) {
    size_t room = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    block *fresh = malloc(align_up(sizeof(block)) + room);
    if (fresh == NULL) sh_panic("out of memory");
    fresh->next = head;
    fresh->size = room;
    fresh->used = 0;
    head = fresh;
    total += room;
    return fresh;
}

void *sh_alloc(size_t size) {
    size = align_up(size == 0 ? 1 : size);
    block *current = head;
    if (current == NULL || current->size - current->used < size) current = grow(size);
    char *at = (char *)current + align_up(sizeof(block)) + current->used;
    current->used += size;
    memset(at, 0, size);
    return at;
}

void sh_arena_reset(void) {
    while (head != NULL) {
        block *next = head->next;
        free(head);
        head = next;
    }
    total = 0;
}

size_t sh_arena_bytes(void) { return total; }

char *sh_strndup(const char *text, size_t len) {
    char *copy = sh_alloc(len + 1);
    memcpy(copy, text, len);
    return copy;
}

char *sh_strdup(const char *text) { return text == NULL ? NULL : sh_strndup(text, strlen(text)); }

char *sh_format(const char *format, ...) {
    char small[256];
    va_list args;
    va_start(args, format);
    int len = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    if (len < 0) return sh_strdup(format);
    if ((size_t)len < sizeof small) return sh_strndup(small, (size_t)len);
    char *out = sh_alloc((size_t)len + 1);
    va_start(args, format);
    vsnprintf(out, (size_t)len + 1, format, args);
    va_end(args);
    return out;
}
