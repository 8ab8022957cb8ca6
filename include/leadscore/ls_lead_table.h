/*
 * ls_lead_table.h - per-shard lead table: lead id -> fixed-size state
 * block, with memory accounting.
 *
 * Every lead gets one block of `block_size` bytes, zeroed on creation;
 * its layout belongs to the caller (the engine). Blocks and keys live in
 * chunks that never move, so pointers to them stay valid for the life of
 * the table. Leads are numbered 0, 1, 2... in order of creation, which
 * makes iteration order deterministic.
 */
#ifndef LS_LEAD_TABLE_H
#define LS_LEAD_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ls_lead_table_s ls_lead_table_t;

/** @returns a new table for blocks of @p block_size bytes, or NULL. */
ls_lead_table_t *ls_lead_table_new(size_t block_size);
void ls_lead_table_destroy(ls_lead_table_t *lt);

/**
 * Finds the lead @p key (of @p key_len bytes), creating it when @p create
 * is set. @returns its index, or -1 (absent and !create, or out of
 * memory). *createdp (may be NULL) tells whether it was created.
 */
int64_t ls_lead_table_get(ls_lead_table_t *lt, const char *key, size_t key_len,
                          int create, int *createdp);

/**
 * Makes room for @p n leads in the index, so that
 * filling the table to n does not rehash. @returns 0, or -1 when memory
 * is short (the table is unchanged).
 */
int ls_lead_table_reserve(ls_lead_table_t *lt, size_t n);

/** Starts loading the index entry where lead @p key would be, for a
 *  ls_lead_table_get() of it soon after (a hint: nothing changes). */
void ls_lead_table_prefetch(const ls_lead_table_t *lt, const char *key,
                            size_t key_len);

/** The same, for the key whose ls_hash64() is @p h. */
void ls_lead_table_prefetch_hashed(const ls_lead_table_t *lt, uint64_t h);

/** Starts loading the block of the lead whose key's ls_hash64() is
 *  @p h, and the key (or the key's pointer) in front of it, once its
 *  index entry is in cache
 *  (ls_lead_table_prefetch_hashed() a while before; a hint). */
void ls_lead_table_prefetch_block(const ls_lead_table_t *lt, uint64_t h);

/** @returns the state block of lead @p idx. */
void *ls_lead_table_block(const ls_lead_table_t *lt, uint32_t idx);
/** @returns the NUL-terminated key of lead @p idx. */
const char *ls_lead_table_key(const ls_lead_table_t *lt, uint32_t idx);
size_t ls_lead_table_count(const ls_lead_table_t *lt);
/** @returns bytes held: blocks, keys and the index. */
size_t ls_lead_table_bytes(const ls_lead_table_t *lt);

#endif /* LS_LEAD_TABLE_H */
