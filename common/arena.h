// arena.h: a bump allocator for per-step memory (the autograd tape and its activations).
//
// arena_alloc hands out 64-byte aligned blocks; arena_reset rewinds. The arena never guesses a size:
// when a step needs more than the current block, it chains another block, and the next reset
// replaces the chain by one block of the high-water size, so a steady training loop makes a single
// allocation for the rest of its life.
#ifndef TRIT_ARENA_H
#define TRIT_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;

typedef struct {
    arena_block *head;   // current block (most recent); older blocks follow ->next
    size_t used;         // bytes used in all blocks since the last reset
    size_t high_water;   // largest `used` seen
} arena;

void arena_init(arena *a, size_t initial_bytes);
void arena_free(arena *a);                       // accepts a zeroed / NULL arena
void *arena_alloc(arena *a, size_t bytes);       // uninitialized, 64-byte aligned
void *arena_calloc(arena *a, size_t bytes);      // zero-filled
void arena_reset(arena *a);
size_t arena_capacity(const arena *a);

#endif
