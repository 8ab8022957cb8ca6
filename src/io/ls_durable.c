/*
 * ls_durable.c - snapshots of the shards of `leadscore run` and the
 * offsets they let it commit (see ls_durable.h).
 *
 * The context holds the snapshot store and the schedule; each
 * partition's applied and durable offsets live in the owner's partition
 * (ls_durable_part_t), so that the owner's rebalance and commit code
 * reads them without a lookup. A restore decides between four outcomes
 * (restored, migrated, empty, reset) and refuses every other: a shard is
 * never silently empty when its state could not be recovered.
 */
#include "leadscore/ls_durable.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_log.h"
#include "leadscore/ls_snapshot.h"
#include "leadscore/ls_snapstore.h"

struct ls_durable_s {
        const ls_config_t *conf;
        const ls_kafka_env_t *env;
        ls_metric_t *restores[LS_DURABLE_RESTORE__CNT];
        ls_snapstore_t *snapstore; /* NULL: snapshots off */
        ls_buf_t snapbuf;          /* scratch of snapshot writes */
        int64_t last_snapshot;     /* monotonic ms */
        uint64_t snap_rejected;    /* snapshot files rejected by the
                                    * restore at hand */
};

static const char *const ls_durable_results[LS_DURABLE_RESTORE__CNT] = {
        "restored", "migrated", "empty", "reset"};

static int64_t ls_durable_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *ls_durable_topic(const ls_durable_t *d, int t) {
        return t == 0 ? d->conf->topic_events : d->conf->topic_profiles;
}

ls_durable_t *ls_durable_new(const ls_durable_conf_t *dc, char *errstr,
                             size_t errstr_size) {
        const ls_config_t *conf = dc->conf;
        ls_durable_t *d = ls_calloc(1, sizeof(*d));

        if (!d) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        d->conf = conf;
        d->env = dc->env;
        memcpy(d->restores, dc->restores, sizeof(d->restores));
        ls_buf_init(&d->snapbuf);
        d->last_snapshot = ls_durable_now();
        if (conf->snapshot_topic) {
                if (!(d->snapstore = ls_snapstore_topic_new(
                              conf->snapshot_topic, dc->kafka, errstr,
                              errstr_size))) {
                        ls_durable_destroy(d);
                        return NULL;
                }
        } else if (conf->snapshot_dir &&
                   !(d->snapstore = ls_snapstore_dir_new(
                             conf->snapshot_dir, conf->snapshot_keep))) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                ls_durable_destroy(d);
                return NULL;
        }
        return d;
}

void ls_durable_destroy(ls_durable_t *d) {
        if (!d)
                return;
        ls_snapstore_destroy(d->snapstore);
        ls_buf_free(&d->snapbuf);
        ls_free(d);
}

int ls_durable_on(const ls_durable_t *d) {
        return d && d->snapstore;
}

const char *ls_durable_restore2str(ls_durable_restore_t r) {
        return (unsigned)r < LS_DURABLE_RESTORE__CNT ? ls_durable_results[r]
                                                     : "unknown";
}

void ls_durable_applied(ls_durable_part_t *dp, int topic, int64_t offset) {
        dp->next[topic] = offset + 1;
        dp->dirty = 1;
        dp->applied_since_snap++;
}

/* ------------------------------------------------------------ snapshots */

void ls_durable_publish(ls_durable_t *d, const ls_durable_part_t *dp,
                        int32_t p) {
        if (dp->snap_done_ms > 0)
                ls_metrics_snapshot(
                        d->env->metrics, p,
                        (double)(ls_durable_now() - dp->snap_done_ms) / 1e3,
                        (double)dp->snap_dur_ms / 1e3, dp->snap_bytes);
}

int ls_durable_snapshot(ls_durable_t *d, ls_durable_part_t *dp, int32_t p,
                        const ls_shard_t *shard, const ls_modelset_t *ms,
                        const char *why) {
        ls_snapshot_meta_t meta;
        char path[4096], errstr[1024];
        int t;

        memset(&meta, 0, sizeof(meta));
        snprintf(meta.model_version, sizeof(meta.model_version), "%s",
                 ms->version);
        snprintf(meta.group, sizeof(meta.group), "%s", d->conf->group);
        for (t = 0; t < 2; t++) {
                snprintf(meta.topics[t], sizeof(meta.topics[t]), "%s",
                         ls_durable_topic(d, t));
                meta.offsets[t] =
                        dp->next[t] >= 0 ? dp->next[t] : LS_SNAPSHOT_EARLIEST;
        }
        meta.partition = p;
        dp->snap_dur_ms = ls_durable_now();
        if (ls_snapstore_write(d->snapstore, &meta, shard, &d->snapbuf, path,
                               sizeof(path), errstr, sizeof(errstr))) {
                ls_log(d->env->log, LS_LOG_ERROR, "snapshot_failed",
                       "snapshot of partition %" PRId32 " failed: %s", p,
                       errstr);
                return -1;
        }
        dp->snap_done_ms = ls_durable_now();
        dp->snap_dur_ms = dp->snap_done_ms - dp->snap_dur_ms;
        dp->snap_bytes = meta.payload_len;
        ls_durable_publish(d, dp, p);
        for (t = 0; t < 2; t++)
                dp->durable[t] = dp->next[t];
        dp->dirty = 0;
        dp->applied_since_snap = 0;
        ls_log(d->env->log, why ? LS_LOG_INFO : LS_LOG_DEBUG, "snapshot",
               "snapshot (%s) of partition %" PRId32 ": %s, %" PRIu64
               " bytes, next offsets %s %" PRId64 " %s %" PRId64,
               why ? why : "schedule", p, path, meta.payload_len,
               d->conf->topic_events, meta.offsets[0], d->conf->topic_profiles,
               meta.offsets[1]);
        return 0;
}

void ls_durable_scheduled(ls_durable_t *d) {
        d->last_snapshot = ls_durable_now();
}

int ls_durable_interval_due(const ls_durable_t *d) {
        return ls_durable_on(d) && ls_durable_now() - d->last_snapshot >=
                                           d->conf->snapshot_interval_ms;
}

int ls_durable_events_due(const ls_durable_t *d, const ls_durable_part_t *dp) {
        return ls_durable_on(d) && d->conf->snapshot_every_events > 0 &&
               dp->applied_since_snap >= d->conf->snapshot_every_events;
}

/* -------------------------------------------------------------- commits */

int64_t ls_durable_committable(const ls_durable_t *d,
                               const ls_durable_part_t *dp, int topic,
                               int64_t acked) {
        int64_t dur;

        if (!ls_durable_on(d) || acked < 0)
                return acked;
        dur = dp->durable[topic];
        return dur < acked ? dur : acked;
}

int64_t ls_durable_txn_offset(const ls_durable_part_t *dp, int topic,
                              int64_t committed) {
        int64_t next = dp->next[topic];

        return next > committed ? next : -1;
}

int ls_durable_commit(ls_durable_t *d, rd_kafka_t *consumer,
                      ls_producer_t *producer,
                      rd_kafka_topic_partition_list_t *offsets) {
        rd_kafka_resp_err_t err;

        if (d->conf->transactional)
                return ls_producer_txn_commit(producer, offsets, consumer) == 0
                               ? 1
                               : -1;
        if (offsets->cnt == 0)
                return 0;
        err = rd_kafka_commit(consumer, offsets, 0);
        if (err) {
                ls_log(d->env->log, LS_LOG_WARN, "commit_failed",
                       "offset commit failed: %s (will retry)",
                       rd_kafka_err2str(err));
                return -1;
        }
        return 1;
}

int ls_durable_committed(ls_durable_t *d, rd_kafka_t *consumer,
                         const rd_kafka_topic_partition_list_t *parts,
                         const atomic_int *stop,
                         rd_kafka_topic_partition_list_t **comp) {
        rd_kafka_topic_partition_list_t *com;
        rd_kafka_resp_err_t err;
        char msg[768];
        int i, attempt;
        long pause_ms = 500;

        com = rd_kafka_topic_partition_list_copy(parts);
        for (attempt = 1;; attempt++) {
                err = rd_kafka_committed(consumer, com, 10000);
                for (i = 0; !err && i < com->cnt; i++)
                        err = com->elems[i].err;
                if (!err || attempt == 6 || atomic_load(stop))
                        break;
                ls_log(d->env->log, LS_LOG_WARN, "committed_failed",
                       "reading the committed offsets: %s (retry %d of 5 "
                       "in %ld ms)",
                       rd_kafka_err2str(err), attempt, pause_ms);
                /* An error answered at once (e.g. the coordinator is
                 * loading after a failover) needs time, not a loop. */
                {
                        struct timespec ts = {pause_ms / 1000,
                                              (pause_ms % 1000) * 1000000L};
                        nanosleep(&ts, NULL);
                }
                pause_ms = pause_ms * 2 > 5000 ? 5000 : pause_ms * 2;
        }
        if (err) {
                snprintf(msg, sizeof(msg),
                         "cannot read the group's committed offsets: %s; "
                         "without them replayed outputs cannot be told "
                         "apart from committed ones",
                         rd_kafka_err2str(err));
                ls_kafka_env_fatal(d->env, LS_ERR_KAFKA, msg);
                rd_kafka_topic_partition_list_destroy(com);
                *comp = NULL;
                return -1;
        }
        *comp = com;
        return 0;
}

/* ------------------------------------------------------------- restores */

static void ls_durable_snap_report(void *opaque, const char *path,
                                   const char *why) {
        ls_durable_t *d = opaque;

        d->snap_rejected++;
        ls_log(d->env->log, LS_LOG_WARN, "snapshot_rejected",
               "snapshot %s rejected: %s", path, why);
}

/**
 * The first of partition @p p's input topics whose records before
 * @p from[t] (LS_SNAPSHOT_EARLIEST: offset 0) are gone from the log
 * (retention, deletion): writes "TOPIC [p] begins at offset N" to @p what.
 * @returns 1 when one is, 0 when none is, -1 when where a log begins
 *          could not be read (logged as `history_unknown`; @p what says
 *          which).
 */
static int ls_durable_history_gone(ls_durable_t *d, rd_kafka_t *consumer,
                                   int32_t p, const int64_t from[2], char *what,
                                   size_t what_size) {
        int t, unknown = 0;

        for (t = 0; t < 2; t++) {
                const char *topic = ls_durable_topic(d, t);
                int64_t lo = -1, hi = -1, need = from[t] >= 0 ? from[t] : 0;
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        consumer, topic, p, &lo, &hi, 10000);

                if (err) {
                        ls_log(d->env->log, LS_LOG_WARN, "history_unknown",
                               "%s [%" PRId32 "]: cannot read where its log "
                               "begins (%s)",
                               topic, p, rd_kafka_err2str(err));
                        snprintf(what, what_size,
                                 "where %s [%" PRId32 "] begins cannot be "
                                 "read (%s)",
                                 topic, p, rd_kafka_err2str(err));
                        unknown = 1;
                        continue;
                }
                if (lo > need) {
                        snprintf(what, what_size,
                                 "%s [%" PRId32 "] begins at offset %" PRId64
                                 ", the state needs it from %" PRId64,
                                 topic, p, lo, need);
                        return 1;
                }
        }
        return unknown ? -1 : 0;
}

int ls_durable_restore(ls_durable_t *d, ls_durable_part_t *dp, int32_t p,
                       const ls_modelset_t *ms, rd_kafka_t *consumer,
                       ls_shard_t **shardp) {
        const char *topics[2] = {d->conf->topic_events,
                                 d->conf->topic_profiles};
        ls_snapshot_meta_t meta;
        ls_shard_stats_t st;
        char path[4096], errstr[1024], gone[512], msg[6144];
        ls_durable_restore_t result;
        ls_err_t err;
        int t;

        *shardp = NULL;
        dp->dirty = 0;
        dp->applied_since_snap = 0;
        for (t = 0; t < 2; t++)
                dp->next[t] = dp->durable[t] = -1;
        if (!d->snapstore) {
                /* `snapshot: off`: warned about at start */
                *shardp = ls_shard_new(ms);
                return 0;
        }
        d->snap_rejected = 0;
        err = ls_snapstore_restore(d->snapstore, d->conf->group, p, topics, ms,
                                   ls_durable_snap_report, d, &meta, shardp,
                                   path, sizeof(path), errstr, sizeof(errstr));
        if (err == LS_OK) {
                for (t = 0; t < 2; t++)
                        dp->next[t] = dp->durable[t] =
                                meta.offsets[t] >= 0 ? meta.offsets[t] : -1;
                ls_shard_stats(*shardp, &st);
                if (meta.migrated_from[0]) {
                        result = LS_DURABLE_MIGRATED;
                        ls_log(d->env->log, LS_LOG_WARN, "restore_migrated",
                               "restored partition %" PRId32 " from %s, "
                               "taken under model set %s and migrated to %s: "
                               "%zu leads keep their scores and sequence "
                               "numbers, the new rules apply from offsets "
                               "%s %" PRId64 " %s %" PRId64 " on",
                               p, path, meta.migrated_from, ms->version,
                               st.leads, topics[0], meta.offsets[0], topics[1],
                               meta.offsets[1]);
                } else {
                        result = LS_DURABLE_RESTORED;
                        ls_log(d->env->log, LS_LOG_INFO, "restored",
                               "restored partition %" PRId32
                               " from %s: %zu leads, next offsets %s %" PRId64
                               " %s %" PRId64 ", stream time %" PRId64,
                               p, path, st.leads, topics[0], meta.offsets[0],
                               topics[1], meta.offsets[1], meta.stream_time);
                }
                /* (whether the log still starts early enough may be
                 * unknown: the state is there, the run goes on) */
                if (ls_durable_history_gone(d, consumer, p, meta.offsets, gone,
                                            sizeof(gone)) <= 0) {
                        ls_metric_add(d->restores[result], 1);
                        return 0;
                }
                snprintf(msg, sizeof(msg),
                         "partition %" PRId32 ": the snapshot %s needs "
                         "input records that are gone: %s",
                         p, path, gone);
                ls_shard_destroy(*shardp);
                *shardp = NULL;
        } else if (err == LS_ERR_NOT_FOUND && d->snap_rejected > 0) {
                snprintf(msg, sizeof(msg),
                         "partition %" PRId32 ": %" PRIu64 " snapshot%s in "
                         "%s, none usable (see snapshot_rejected)",
                         p, d->snap_rejected, d->snap_rejected == 1 ? "" : "s",
                         ls_snapstore_where(d->snapstore));
        } else if (err == LS_ERR_NOT_FOUND) {
                const int64_t from[2] = {LS_SNAPSHOT_EARLIEST,
                                         LS_SNAPSHOT_EARLIEST};

                if (!ls_durable_history_gone(d, consumer, p, from, gone,
                                             sizeof(gone))) {
                        ls_log(d->env->log, LS_LOG_INFO, "restore_empty",
                               "partition %" PRId32 ": no snapshot in %s "
                               "yet; starting empty from the earliest "
                               "offsets",
                               p, ls_snapstore_where(d->snapstore));
                        ls_metric_add(d->restores[LS_DURABLE_EMPTY], 1);
                        *shardp = ls_shard_new(ms);
                        return 0;
                }
                snprintf(msg, sizeof(msg),
                         "partition %" PRId32 ": no snapshot in %s, and %s", p,
                         ls_snapstore_where(d->snapstore), gone);
        } else {
                snprintf(msg, sizeof(msg),
                         "partition %" PRId32 ": cannot restore: %s", p,
                         errstr);
                ls_kafka_env_fatal(d->env, err, msg);
                return -1;
        }
        /* Starting over: allowed only when asked for. */
        if (!d->conf->snapshot_allow_reset) {
                size_t n = strlen(msg);

                snprintf(msg + n, sizeof(msg) - n,
                         ". Starting it empty would score without that "
                         "history and re-emit output ids with other "
                         "content; fix or restore the snapshots, or set "
                         "snapshot.allow_reset: true to start it over "
                         "(docs/DURABILITY.md)");
                ls_log(d->env->log, LS_LOG_ERROR, "restore_refused", "%s", msg);
                ls_kafka_env_fatal(d->env, LS_ERR_INVALID, msg);
                return -1;
        }
        ls_log(d->env->log, LS_LOG_WARN, "restore_reset",
               "%s; starting it empty from the earliest offsets "
               "(snapshot.allow_reset)",
               msg);
        ls_metric_add(d->restores[LS_DURABLE_RESET], 1);
        for (t = 0; t < 2; t++)
                dp->next[t] = dp->durable[t] = -1;
        *shardp = ls_shard_new(ms);
        return 0;
}
