/*
 * ls_keys.h - the record-key rule of the input topics (docs/CONFIG.md,
 * "Keys and partitions"): a record's key is its lead id, and the key's
 * partition is the one the Java client's murmur2 partitioner gives it.
 * `leadscore run` and `replay` apply it to every decoded input, so that
 * the two agree on which records are scored; both read the input topics'
 * partition counts through ls_keys_partition_count(). `run` checks that
 * each assignment keeps the two topics co-partitioned
 * (ls_keys_copartition()).
 */
#ifndef LS_KEYS_H
#define LS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_err.h"

/**
 * Checks one record: @p key of @p key_len bytes (NULL = none), its decoded
 * @p lead_id, the @p partition it arrived on of a topic of
 * @p partition_cnt partitions (<= 0: unknown, not checked) named
 * @p topic (for messages).
 * @returns NULL when the record follows the rule, or when @p lead_id is
 *          empty (the engine rejects that as `invalid`, whatever the key),
 *          else the dead-letter reason, "key" (no key, or a key other than the lead id) or
 *          "partition" (another partition under murmur2), with errstr
 *          saying why. Thread-safe; allocates nothing.
 */
const char *ls_keys_check(const void *key, size_t key_len, const char *lead_id,
                          const char *topic, int32_t partition,
                          int32_t partition_cnt, char *errstr,
                          size_t errstr_size);

/** The partition of @p key under murmur2 (Kafka's default). */
int32_t ls_keys_partition(const void *key, size_t key_len,
                          int32_t partition_cnt);

/**
 * Partitions of @p topic from the cluster's metadata (waits up to
 * @p timeout_ms). @returns the count (>= 1), or -1 with errstr naming the
 * topic and why (no such topic, a metadata error). Blocking; call it from
 * the thread that owns @p rk's polling.
 */
int32_t ls_keys_partition_count(rd_kafka_t *rk, const char *topic,
                                int timeout_ms, char *errstr,
                                size_t errstr_size);

/**
 * Co-partitioning of an (eager, whole) assignment @p parts of the input
 * topics @p topics[0] (events) and @p topics[1] (profiles), of
 * @p counts[0] and @p counts[1] partitions (0 = unknown: not compared):
 * both have the same number of partitions, and partition p of one is
 * assigned exactly when partition p of the other is (when the other has
 * a partition p: by its count, or, unknown, when it is in the
 * assignment at all). Partitions of other topics are ignored.
 * @returns LS_OK, or LS_ERR_INVALID with errstr saying what is wrong and
 *          what to do. Thread-safe; allocates nothing.
 */
ls_err_t ls_keys_copartition(const char *const topics[2],
                             const int32_t counts[2],
                             const rd_kafka_topic_partition_list_t *parts,
                             char *errstr, size_t errstr_size);

#endif /* LS_KEYS_H */
