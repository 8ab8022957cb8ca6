/*
 * ls_lead_table.c - open-addressing hash index over chunked lead blocks.
 *
 * Index: power-of-two array of slots {hash, lead index + 1}, linear
 * probing, grown at 70% load. Blocks: chunks of 2^shift blocks, the
 * fewest (from 2^LS_LT_SHIFT_MIN to 2^LS_LT_SHIFT_MAX) that make
 * LS_LT_CHUNK_BYTES.
 * Keys: each block is preceded by LS_LT_KEY_BYTES holding its key when
 * it is short (up to 23 bytes, NUL-padded; the last byte 0), else a
 * pointer to it in an arena of large chunks (the last byte 1). A lookup
 * then reads the key from the lines of the block it is about to use,
 * not from two other places. Nothing is ever freed before the table
 * itself (leads are not deleted).
 */
#include "leadscore/ls_lead_table.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_hash.h"

#define LS_LT_SHIFT_MIN 12 /* 4,096 blocks per chunk, at least */
#define LS_LT_SHIFT_MAX 16
#define LS_LT_CHUNK_BYTES                                                      \
        ((size_t)4 << 20)            /* so that most of a chunk is
                                             * in huge pages */
#define LS_LT_KEY_CHUNK (256 * 1024) /* bytes per key arena chunk */
#define LS_LT_HUGE ((size_t)2 << 20) /* a transparent huge page */
#define LS_LT_KEY_BYTES 24           /* before each block */

typedef struct ls_lt_slot_s {
        uint32_t hash; /* upper 32 bits of the key hash */
        uint32_t idx1; /* lead index + 1; 0 = empty */
} ls_lt_slot_t;

struct ls_lead_table_s {
        size_t block_size;
        size_t stride;  /* LS_LT_KEY_BYTES + the block, rounded to 8 */
        unsigned shift; /* 2^shift blocks per chunk */
        ls_lt_slot_t *slots;
        size_t n_slots; /* power of two */
        size_t count;
        unsigned char **chunks; /* block chunks */
        size_t n_chunks, size_chunks;
        char **key_chunks;
        size_t n_key_chunks, size_key_chunks;
        size_t key_used; /* bytes used in the last key chunk */
        size_t bytes;
};

/* Lead @p idx's key bytes, then its block. */
static unsigned char *ls_lt_record(const ls_lead_table_t *lt, uint32_t idx) {
        return lt->chunks[idx >> lt->shift] +
               (size_t)(idx & (((uint32_t)1 << lt->shift) - 1)) * lt->stride;
}

/*
 * A chunk of blocks, zeroed. A chunk of a huge page or more is mapped on
 * its own, aligned to huge pages and advised to use them: a lead's first
 * touch then faults in 2 MiB instead of 4 KiB, which is most of the cost
 * of creating (or restoring) leads. Smaller chunks come from calloc.
 */
static size_t ls_lt_chunk_bytes(const ls_lead_table_t *lt) {
        return ((size_t)1 << lt->shift) * lt->stride;
}

/* @returns @p bytes rounded up to whole pages: a mapping ends at its
 * last page, its partial huge page, if any, in small pages, so that no
 * memory is held past what it is for. */
static size_t ls_lt_pages(size_t bytes) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);

        return (bytes + page - 1) / page * page;
}

static size_t ls_lt_map_bytes(const ls_lead_table_t *lt) {
        return ls_lt_pages(ls_lt_chunk_bytes(lt));
}

/* 1 when chunk @p k is mapped in huge pages: not the first, so that a
 * table of a few leads (a partition of a small topic) holds the pages it
 * touches, not 2 MiB. */
static int ls_lt_chunk_huge(const ls_lead_table_t *lt, size_t k) {
        return k > 0 && ls_lt_chunk_bytes(lt) >= LS_LT_HUGE;
}

/* @returns @p bytes (whole pages) of zeroed memory mapped on their own,
 * aligned to huge pages and advised to use them, or NULL. */
static void *ls_lt_map_huge(size_t bytes) {
        unsigned char *p, *aligned;
        size_t head;

        p = mmap(NULL, bytes + LS_LT_HUGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
        aligned = (unsigned char *)(((uintptr_t)p + LS_LT_HUGE - 1) &
                                    ~(uintptr_t)(LS_LT_HUGE - 1));
        head = (size_t)(aligned - p);
        if (head)
                munmap(p, head);
        munmap(aligned + bytes, LS_LT_HUGE - head);
        (void)madvise(aligned, bytes, MADV_HUGEPAGE);
        return aligned;
}

static unsigned char *ls_lt_chunk_alloc(const ls_lead_table_t *lt, size_t k) {
        if (!ls_lt_chunk_huge(lt, k))
                return ls_calloc((size_t)1 << lt->shift, lt->stride);
        return ls_lt_map_huge(ls_lt_map_bytes(lt));
}

/*
 * The index, zeroed: of a huge page or more, mapped on its own in huge
 * pages, as chunks are, so that its random accesses (a lookup, and each
 * insert of a restore) do not each miss the TLB as well.
 */
static int ls_lt_index_huge(size_t n) {
        return n * sizeof(ls_lt_slot_t) >= LS_LT_HUGE;
}

static ls_lt_slot_t *ls_lt_index_alloc(size_t n) {
        if (!ls_lt_index_huge(n))
                return ls_calloc(n, sizeof(ls_lt_slot_t));
        return ls_lt_map_huge(ls_lt_pages(n * sizeof(ls_lt_slot_t)));
}

static void ls_lt_index_free(ls_lt_slot_t *slots, size_t n) {
        if (!ls_lt_index_huge(n))
                ls_free(slots);
        else if (slots)
                munmap(slots, ls_lt_pages(n * sizeof(ls_lt_slot_t)));
}

static void ls_lt_chunk_free(const ls_lead_table_t *lt, size_t k,
                             unsigned char *c) {
        if (!ls_lt_chunk_huge(lt, k))
                ls_free(c);
        else if (c)
                munmap(c, ls_lt_map_bytes(lt));
}

ls_lead_table_t *ls_lead_table_new(size_t block_size) {
        ls_lead_table_t *lt = ls_calloc(1, sizeof(*lt));

        if (!lt)
                return NULL;
        lt->block_size = block_size ? block_size : 1;
        lt->stride = LS_LT_KEY_BYTES + ((lt->block_size + 7) & ~(size_t)7);
        for (lt->shift = LS_LT_SHIFT_MIN;
             lt->shift < LS_LT_SHIFT_MAX &&
             ((size_t)1 << lt->shift) * lt->stride < LS_LT_CHUNK_BYTES;
             lt->shift++)
                ;
        lt->n_slots = 1024;
        lt->slots = ls_lt_index_alloc(lt->n_slots);
        if (!lt->slots) {
                ls_free(lt);
                return NULL;
        }
        lt->bytes = sizeof(*lt) + lt->n_slots * sizeof(*lt->slots);
        return lt;
}

void ls_lead_table_destroy(ls_lead_table_t *lt) {
        size_t i;

        if (!lt)
                return;
        for (i = 0; i < lt->n_chunks; i++)
                ls_lt_chunk_free(lt, i, lt->chunks[i]);
        for (i = 0; i < lt->n_key_chunks; i++)
                ls_free(lt->key_chunks[i]);
        ls_free(lt->chunks);
        ls_free(lt->key_chunks);
        ls_lt_index_free(lt->slots, lt->n_slots);
        ls_free(lt);
}

static int ls_lt_rehash(ls_lead_table_t *lt, size_t n) {
        size_t i, j;
        ls_lt_slot_t *slots = ls_lt_index_alloc(n);

        if (!slots)
                return -1;
        for (i = 0; i < lt->n_slots; i++) {
                ls_lt_slot_t s = lt->slots[i];
                const char *key;
                uint64_t h;

                if (!s.idx1)
                        continue;
                key = ls_lead_table_key(lt, s.idx1 - 1);
                h = ls_hash64(key, strlen(key));
                for (j = (size_t)h & (n - 1); slots[j].idx1;
                     j = (j + 1) & (n - 1))
                        ;
                slots[j] = s;
        }
        lt->bytes += (n - lt->n_slots) * sizeof(*slots);
        ls_lt_index_free(lt->slots, lt->n_slots);
        lt->slots = slots;
        lt->n_slots = n;
        return 0;
}

static int ls_lt_grow_index(ls_lead_table_t *lt) {
        return ls_lt_rehash(lt, lt->n_slots * 2);
}

int ls_lead_table_reserve(ls_lead_table_t *lt, size_t n) {
        size_t slots = lt->n_slots;

        while (n * 10 > slots * 7)
                slots *= 2;
        if (slots > lt->n_slots && ls_lt_rehash(lt, slots) != 0)
                return -1;
        return 0;
}

/* Copies a key into the key arena. @returns the copy or NULL. */
static const char *ls_lt_store_key(ls_lead_table_t *lt, const char *key,
                                   size_t key_len) {
        char *dst;

        if (!lt->n_key_chunks || lt->key_used + key_len + 1 > LS_LT_KEY_CHUNK) {
                size_t size = key_len + 1 > LS_LT_KEY_CHUNK ? key_len + 1
                                                            : LS_LT_KEY_CHUNK;
                char *chunk;

                if (lt->n_key_chunks == lt->size_key_chunks) {
                        size_t ns = lt->size_key_chunks
                                            ? lt->size_key_chunks * 2
                                            : 16;
                        char **kc =
                                ls_realloc(lt->key_chunks, ns * sizeof(*kc));

                        if (!kc)
                                return NULL;
                        lt->key_chunks = kc;
                        lt->size_key_chunks = ns;
                }
                chunk = ls_malloc(size);
                if (!chunk)
                        return NULL;
                lt->key_chunks[lt->n_key_chunks++] = chunk;
                lt->key_used = 0;
                lt->bytes += size;
        }
        dst = lt->key_chunks[lt->n_key_chunks - 1] + lt->key_used;
        memcpy(dst, key, key_len);
        dst[key_len] = '\0';
        lt->key_used += key_len + 1;
        return dst;
}

static int64_t ls_lt_create(ls_lead_table_t *lt, const char *key,
                            size_t key_len) {
        uint32_t idx = (uint32_t)lt->count;
        const char *stored;
        unsigned char *rec;

        if (lt->count >= UINT32_MAX - 1)
                return -1;
        if (idx >> lt->shift == lt->n_chunks) {
                unsigned char *chunk;

                if (lt->n_chunks == lt->size_chunks) {
                        size_t ns = lt->size_chunks ? lt->size_chunks * 2 : 16;
                        unsigned char **c =
                                ls_realloc(lt->chunks, ns * sizeof(*c));

                        if (!c)
                                return -1;
                        lt->chunks = c;
                        lt->size_chunks = ns;
                }
                chunk = ls_lt_chunk_alloc(lt, lt->n_chunks);
                if (!chunk)
                        return -1;
                lt->chunks[lt->n_chunks++] = chunk;
                lt->bytes += ls_lt_chunk_bytes(lt);
        }
        rec = ls_lt_record(lt, idx);
        if (key_len < LS_LT_KEY_BYTES) {
                memcpy(rec, key, key_len); /* the rest is zero */
        } else {
                stored = ls_lt_store_key(lt, key, key_len);
                if (!stored)
                        return -1;
                memcpy(rec, &stored, sizeof(stored));
                rec[LS_LT_KEY_BYTES - 1] = 1;
        }
        lt->count++;
        return idx;
}

int64_t ls_lead_table_get(ls_lead_table_t *lt, const char *key, size_t key_len,
                          int create, int *createdp) {
        uint64_t h = ls_hash64(key, key_len);
        uint32_t h32 = (uint32_t)(h >> 32);
        size_t mask, i;
        int64_t idx;

        if (createdp)
                *createdp = 0;
        if (create && (lt->count + 1) * 10 > lt->n_slots * 7 &&
            ls_lt_grow_index(lt) != 0)
                return -1;
        mask = lt->n_slots - 1;
        for (i = (size_t)h & mask; lt->slots[i].idx1; i = (i + 1) & mask) {
                const char *k;

                if (lt->slots[i].hash != h32)
                        continue;
                k = ls_lead_table_key(lt, lt->slots[i].idx1 - 1);
                if (strncmp(k, key, key_len) == 0 && k[key_len] == '\0')
                        return lt->slots[i].idx1 - 1;
        }
        if (!create)
                return -1;
        idx = ls_lt_create(lt, key, key_len);
        if (idx < 0)
                return -1;
        lt->slots[i].hash = h32;
        lt->slots[i].idx1 = (uint32_t)idx + 1;
        if (createdp)
                *createdp = 1;
        return idx;
}

void *ls_lead_table_block(const ls_lead_table_t *lt, uint32_t idx) {
        return ls_lt_record(lt, idx) + LS_LT_KEY_BYTES;
}

const char *ls_lead_table_key(const ls_lead_table_t *lt, uint32_t idx) {
        const unsigned char *rec = ls_lt_record(lt, idx);
        const char *key;

        if (!rec[LS_LT_KEY_BYTES - 1])
                return (const char *)rec;
        memcpy(&key, rec, sizeof(key));
        return key;
}

size_t ls_lead_table_count(const ls_lead_table_t *lt) {
        return lt->count;
}

size_t ls_lead_table_bytes(const ls_lead_table_t *lt) {
        return lt->bytes;
}

void ls_lead_table_prefetch(const ls_lead_table_t *lt, const char *key,
                            size_t key_len) {
        ls_lead_table_prefetch_hashed(lt, ls_hash64(key, key_len));
}

void ls_lead_table_prefetch_hashed(const ls_lead_table_t *lt, uint64_t h) {
        __builtin_prefetch(&lt->slots[(size_t)h & (lt->n_slots - 1)]);
}

void ls_lead_table_prefetch_block(const ls_lead_table_t *lt, uint64_t h) {
        uint32_t h32 = (uint32_t)(h >> 32);
        size_t mask = lt->n_slots - 1, i, off;
        const unsigned char *rec;

        /* the first entry of its hash: almost always the lead's (the
         * key is not compared: a hint may be wrong) */
        for (i = (size_t)h & mask; lt->slots[i].idx1; i = (i + 1) & mask) {
                if (lt->slots[i].hash != h32)
                        continue;
                rec = ls_lt_record(lt, lt->slots[i].idx1 - 1);
                for (off = 0; off < lt->stride; off += 64)
                        __builtin_prefetch(rec + off, 1);
                return;
        }
}
