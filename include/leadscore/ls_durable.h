/*
 * ls_durable.h - what each partition's shard has applied and what of it
 * is durable: the snapshots of `leadscore run` and the offsets they let
 * it commit (docs/DURABILITY.md).
 *
 * A partition's shard has applied its input topics' records up to
 * next[t]; its newest snapshot covers them up to durable[t]. With
 * snapshots, an input offset may be committed only when every output of
 * the inputs before it is acknowledged and the snapshot covers it
 * (ls_durable_committable()). A shard is created from its newest usable
 * snapshot, never silently empty: when snapshots were there and none is
 * usable, or the records its state needs are gone from the log, the
 * owner stops unless snapshot.allow_reset says to start the partition
 * over (ls_durable_restore()).
 *
 * Which partitions are held, when snapshots are taken and when offsets
 * are committed is the owner's (ls_pipeline.c): it first makes every
 * output acknowledged (or its transaction committed), then snapshots.
 *
 * Threading: one thread, the owner's.
 */
#ifndef LS_DURABLE_H
#define LS_DURABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_config.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_kafka.h"
#include "leadscore/ls_metrics.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_producer.h"

/* How a partition's shard was created (leadscore_restores_total). */
typedef enum ls_durable_restore_e {
        LS_DURABLE_RESTORED, /* from its snapshot */
        LS_DURABLE_MIGRATED, /* from a snapshot of another model set */
        LS_DURABLE_EMPTY,    /* no snapshot, the whole history in the log */
        LS_DURABLE_RESET,    /* started over (snapshot.allow_reset) */
        LS_DURABLE_RESTORE__CNT
} ls_durable_restore_t;

/** One partition's durability (embedded in the owner's partition). */
typedef struct ls_durable_part_s {
        /* next[t]: the offset after the last input of input topic t
         * applied to the shard (-1 = none yet: the earliest);
         * durable[t]: what the newest written snapshot covers (-1 none) */
        int64_t next[2];
        int64_t durable[2];
        int dirty; /* changed since the last snapshot */
        uint64_t applied_since_snap;
        /* metrics: monotonic end of the last snapshot (0 = none), its
         * duration (ms) and size */
        int64_t snap_done_ms;
        int64_t snap_dur_ms;
        uint64_t snap_bytes;
} ls_durable_part_t;

typedef struct ls_durable_s ls_durable_t;

typedef struct ls_durable_conf_s {
        /* the group, the input topics (0 = events, 1 = profiles) and the
         * snapshot settings (borrowed: must outlive it) */
        const ls_config_t *conf;
        /* the snapshot topic's clients (conf->snapshot_topic) are made
         * from this (ls_snapstore_topic_new()) */
        const ls_kafka_opts_t *kafka;
        /* log, metric registry, fatal hook (borrowed: must outlive it) */
        const ls_kafka_env_t *env;
        ls_metric_t *restores[LS_DURABLE_RESTORE__CNT]; /* may be NULL */
} ls_durable_conf_t;

/**
 * Opens the snapshot store the config names (a directory, a topic, or
 * none: `snapshot: off`).
 * @returns the context, or NULL with errstr (nothing left behind).
 */
ls_durable_t *ls_durable_new(const ls_durable_conf_t *dc, char *errstr,
                             size_t errstr_size);

void ls_durable_destroy(ls_durable_t *d);

/** @returns 1 when snapshots are on (0 for a NULL @p d, as for the
 *  other queries: ls_durable_*_due(), ls_durable_committable()). */
int ls_durable_on(const ls_durable_t *d);

/** @returns the label of restore result @p r ("restored", "migrated",
 *  "empty", "reset"). */
const char *ls_durable_restore2str(ls_durable_restore_t r);

/** Input @p offset of topic @p topic was applied to the shard. */
void ls_durable_applied(ls_durable_part_t *dp, int topic, int64_t offset);

/**
 * Creates partition @p p's shard in *@p shardp from its newest usable
 * snapshot (migrated to @p ms when it was taken under another model set),
 * else empty when no history is lost, and sets @p dp to match. Where a
 * log begins is asked of @p consumer. Without snapshots, an empty shard.
 * @returns 0 (*@p shardp NULL only when memory is short), or -1 after the
 *          fatal hook said why (nothing usable and no reset allowed, or
 *          the store could not be read).
 */
int ls_durable_restore(ls_durable_t *d, ls_durable_part_t *dp, int32_t p,
                       const ls_modelset_t *ms, rd_kafka_t *consumer,
                       ls_shard_t **shardp);

/**
 * Writes a snapshot of partition @p p's @p shard (taken under @p ms);
 * @p why is logged (NULL: the schedule). Every output of the inputs it
 * covers must already be acknowledged (or committed, in transactional
 * mode). On success the part is durable up to next[] and clean.
 * @returns 0, or -1 when the write failed (logged, not fatal: the
 *          offsets then stay uncommitted).
 */
int ls_durable_snapshot(ls_durable_t *d, ls_durable_part_t *dp, int32_t p,
                        const ls_shard_t *shard, const ls_modelset_t *ms,
                        const char *why);

/** Starts the interval of the next scheduled snapshot now. */
void ls_durable_scheduled(ls_durable_t *d);

/** @returns 1 when the snapshot interval has passed since
 *  ls_durable_scheduled(); 0 without snapshots. */
int ls_durable_interval_due(const ls_durable_t *d);

/** @returns 1 when @p dp applied snapshot.every_events inputs since its
 *  last snapshot; 0 without snapshots or that setting. */
int ls_durable_events_due(const ls_durable_t *d, const ls_durable_part_t *dp);

/**
 * @returns the offset of input topic @p topic that may be committed,
 *          given @p acked, the offset after the inputs whose outputs are
 *          all acknowledged: with snapshots, no further than the newest
 *          snapshot covers. -1 = nothing.
 */
int64_t ls_durable_committable(const ls_durable_t *d,
                               const ls_durable_part_t *dp, int topic,
                               int64_t acked);

/**
 * Transactional mode: the offset of input topic @p topic to send with the
 * open transaction, the offset after the last input applied (every
 * output of the inputs before it was produced in this transaction or an
 * earlier committed one), or -1 when it is not past @p committed (the
 * committed offset never moves back).
 */
int64_t ls_durable_txn_offset(const ls_durable_part_t *dp, int topic,
                              int64_t committed);

/**
 * Commits @p offsets for @p consumer's group: with conf->transactional in
 * @p producer's open transaction, which commits with them (even when
 * @p offsets is empty: its outputs), else synchronously (nothing to do
 * when empty). Blocking.
 * @returns 1 when committed (each element whose err is 0 is), 0 when
 *          there was nothing to commit, -1 when the commit failed (logged
 *          as commit_failed, for a later one to retry; a transaction's
 *          failure calls the fatal hook).
 */
int ls_durable_commit(ls_durable_t *d, rd_kafka_t *consumer,
                      ls_producer_t *producer,
                      rd_kafka_topic_partition_list_t *offsets);

/**
 * Reads @p consumer's group's committed offsets of @p parts into
 * *@p comp (a copy of @p parts, the caller's to destroy), retrying an
 * error up to 5 times with growing pauses (0.5 s to 5 s) unless *@p stop
 * becomes non-zero. Blocking.
 * @returns 0, or -1 after the fatal hook (without them, replayed outputs
 *          cannot be told apart from committed ones).
 */
int ls_durable_committed(ls_durable_t *d, rd_kafka_t *consumer,
                         const rd_kafka_topic_partition_list_t *parts,
                         const atomic_int *stop,
                         rd_kafka_topic_partition_list_t **comp);

/** Publishes partition @p p's last snapshot (age, duration, size). */
void ls_durable_publish(ls_durable_t *d, const ls_durable_part_t *dp,
                        int32_t p);

#endif /* LS_DURABLE_H */
