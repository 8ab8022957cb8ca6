/*
 * ls_snapstore.h - where `leadscore run` keeps shard snapshots: a
 * directory (ls_snapshot.h's files) or a compacted Kafka topic, so that a
 * partition's state follows it to whichever instance takes it over, even
 * one with an empty disk (docs/DURABILITY.md, "Snapshots in a topic").
 *
 * In a topic, shard p's snapshot lives in partition p mod N of the topic
 * (N its partition count), as one or more chunk records: key
 * "<group>/<p>/<slot>/<chunk>", value "LSSC" | u32 version | u64 sequence
 * | u32 chunks | u32 chunk index | bytes of the snapshot file image.
 * Sequence numbers alternate between two slots, so compaction (the
 * newest record per key) always keeps one complete snapshot: a write cut
 * short by a crash leaves the other slot whole. A restore reads the
 * partition from its start, takes the newest complete sequence whose image
 * verifies, and falls back to the other.
 *
 * Threading: one thread at a time per store.
 */
#ifndef LS_SNAPSTORE_H
#define LS_SNAPSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_kafka.h"
#include "leadscore/ls_snapshot.h"

typedef struct ls_snapstore_s ls_snapstore_t;

/** A store in directory @p dir keeping @p keep snapshots per partition. */
ls_snapstore_t *ls_snapstore_dir_new(const char *dir, int keep);

/**
 * A store in compacted topic @p topic. @p base (borrowed for this call;
 * its env must outlive the store) says where the clients' properties come
 * from (config, bootstrap) and where they report; its role, properties
 * and callbacks are the store's own. The store makes a producer
 * (LS_KAFKA_SNAPSHOT_WRITER: acks=all, one request in flight) and a
 * consumer that only reads by assignment (LS_KAFKA_SNAPSHOT_READER).
 * @returns the store, or NULL with errstr (nothing left behind).
 */
ls_snapstore_t *ls_snapstore_topic_new(const char *topic,
                                       const ls_kafka_opts_t *base,
                                       char *errstr, size_t errstr_size);

void ls_snapstore_destroy(ls_snapstore_t *st);

/** "directory DIR" or "topic TOPIC", for messages. */
const char *ls_snapstore_where(const ls_snapstore_t *st);

/**
 * Writes a snapshot of @p shard as ls_snapshot_write() does, to the store.
 * It is durable when this returns LS_OK (the file renamed and synced, or
 * every chunk acknowledged by the brokers). @p loc names where it went.
 */
ls_err_t ls_snapstore_write(ls_snapstore_t *st, ls_snapshot_meta_t *meta,
                            const ls_shard_t *shard, ls_buf_t *scratch,
                            char *loc, size_t loc_size, char *errstr,
                            size_t errstr_size);

/**
 * Restores partition @p partition's newest usable snapshot as
 * ls_snapshot_restore() does (same results; @p report hears of each
 * unusable one, an incomplete topic snapshot included).
 */
ls_err_t ls_snapstore_restore(ls_snapstore_t *st, const char *group,
                              int32_t partition, const char *const topics[2],
                              const ls_modelset_t *ms,
                              ls_snapshot_report_cb *report, void *opaque,
                              ls_snapshot_meta_t *meta, ls_shard_t **shardp,
                              char *loc, size_t loc_size, char *errstr,
                              size_t errstr_size);

#endif /* LS_SNAPSTORE_H */
