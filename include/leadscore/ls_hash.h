/*
 * ls_hash.h - the one string hash of leadscore (64-bit FNV-1a with a
 * final avalanche), used by the lead table and duplicate suppression.
 * Stable across runs and platforms: hashes may be persisted.
 */
#ifndef LS_HASH_H
#define LS_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t ls_hash64(const void *data, size_t len) {
        const unsigned char *p = data;
        uint64_t h = 0xcbf29ce484222325ULL;
        size_t i;

        for (i = 0; i < len; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        /* finaliser (splitmix64) so that low bits are well mixed */
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        h ^= h >> 31;
        return h;
}

#endif /* LS_HASH_H */
