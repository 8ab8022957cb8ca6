/*
 * ls_hash.h - the one string hash of leadscore (64-bit FNV-1a with a
 * final avalanche), used by the lead table, duplicate suppression and
 * (case-insensitively) the engine's event-type table.
 * Stable across runs and platforms: hashes may be persisted.
 */
#ifndef LS_HASH_H
#define LS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LS_HASH64_SEED 0xcbf29ce484222325ULL
#define LS_HASH64_PRIME 0x100000001b3ULL

/* Finaliser (splitmix64) so that low bits are well mixed. */
static inline uint64_t ls_hash64_mix(uint64_t h) {
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        h ^= h >> 31;
        return h;
}

static inline uint64_t ls_hash64(const void *data, size_t len) {
        const unsigned char *p = data;
        uint64_t h = LS_HASH64_SEED;
        size_t i;

        for (i = 0; i < len; i++) {
                h ^= p[i];
                h *= LS_HASH64_PRIME;
        }
        return ls_hash64_mix(h);
}

/**
 * The same hash of a NUL-terminated string with ASCII letters folded to
 * lower case: equal for strings that strcasecmp() calls equal.
 */
static inline uint64_t ls_hash64_ci(const char *s) {
        uint64_t h = LS_HASH64_SEED;

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                h ^= (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a')
                                            : c;
                h *= LS_HASH64_PRIME;
        }
        return ls_hash64_mix(h);
}

#endif /* LS_HASH_H */
