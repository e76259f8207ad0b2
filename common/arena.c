#include "arena.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

struct arena_block {
    arena_block *next;
    size_t size;
    size_t off;
    char *data;
};

static arena_block *block_new(size_t bytes) {
    arena_block *b = tr_malloc(sizeof(*b));
    b->next = NULL;
    b->size = bytes;
    b->off = 0;
    b->data = tr_alloc_aligned(bytes);
    return b;
}

static void blocks_free(arena_block *b) {
    while (b) {
        arena_block *n = b->next;
        free(b->data);
        free(b);
        b = n;
    }
}

void arena_init(arena *a, size_t initial_bytes) {
    a->head = block_new(initial_bytes < 4096 ? 4096 : initial_bytes);
    a->used = 0;
    a->high_water = 0;
}

void arena_free(arena *a) {
    if (!a) return;
    blocks_free(a->head);
    a->head = NULL;
    a->used = a->high_water = 0;
}

void *arena_alloc(arena *a, size_t bytes) {
    size_t need = (bytes + 63) & ~(size_t)63;
    if (!a->head) arena_init(a, need);
    if (a->head->off + need > a->head->size) {
        size_t grow = a->head->size * 2 > need ? a->head->size * 2 : need;
        arena_block *b = block_new(grow);
        b->next = a->head;
        a->head = b;
    }
    void *p = a->head->data + a->head->off;
    a->head->off += need;
    a->used += need;
    if (a->used > a->high_water) a->high_water = a->used;
    return p;
}

void *arena_calloc(arena *a, size_t bytes) {
    void *p = arena_alloc(a, bytes);
    memset(p, 0, bytes);
    return p;
}

void arena_reset(arena *a) {
    if (a->head && a->head->next) {   // more than one block: merge into one of the high-water size
        blocks_free(a->head);
        a->head = block_new(a->high_water);
    }
    if (a->head) a->head->off = 0;
    a->used = 0;
}

size_t arena_capacity(const arena *a) {
    size_t c = 0;
    for (const arena_block *b = a->head; b; b = b->next) c += b->size;
    return c;
}
