/*
 * ls_pipeline_rebalance.c - `run`'s side of a rebalance (see
 * ls_pipeline_int.h): on assignment, a shard per partition number,
 * restored from its snapshot and capped at its share of max_leads, the
 * co-partitioning check, and in transactional mode the resume that
 * replays inputs whose outputs an earlier transaction committed; on
 * revocation, the outputs flushed, the shards snapshotted, the offsets
 * committed and the shards released.
 */
#include "io/ls_pipeline_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "leadscore/ls_alloc.h"

/**
 * The cap of one partition's shard: the lead budget over the input
 * topics' partition count, at least 1; 0 without a budget. It depends on
 * the configuration and the topic alone, not on which partitions this
 * process holds, so a partition refuses the same inputs wherever it is
 * scored. When the count is unknown (no metadata at the assignment:
 * copartition_unknown), the highest partition held + 1 stands in: a
 * lower bound, so the caps of the partitions held never add up to more
 * than the budget.
 */
size_t ls_pl_partition_cap(const ls_pipeline_t *pl) {
        int32_t parts = pl->topic_parts[0] > 0   ? pl->topic_parts[0]
                        : pl->topic_parts[1] > 0 ? pl->topic_parts[1]
                                                 : pl->n_parts;

        return ls_lead_partition_cap(pl->lead_budget, parts);
}

/** Gives every shard held its partition's cap (ls_pl_partition_cap()). */
void ls_pl_set_caps(ls_pipeline_t *pl) {
        size_t cap = ls_pl_partition_cap(pl);
        int32_t p;

        for (p = 0; p < pl->n_parts; p++)
                if (pl->slots[p].shard)
                        ls_shard_set_max_leads(pl->slots[p].shard, cap);
}

/* ------------------------------------------------------------ rebalance */

static int ls_pl_grow(ls_pipeline_t *pl, int32_t partition) {
        int32_t n = pl->n_parts, nn, t;
        ls_slot_t *slots;
        ls_tp_t **tps;

        if (partition < n)
                return 0;
        nn = partition + 1 > n * 2 ? partition + 1 : n * 2;
        slots = ls_realloc(pl->slots, (size_t)nn * sizeof(*slots));
        if (!slots)
                return -1;
        memset(slots + n, 0, (size_t)(nn - n) * sizeof(*slots));
        pl->slots = slots;
        for (t = 0; t < 2; t++) {
                tps = ls_realloc(pl->tps[t], (size_t)nn * sizeof(*tps));
                if (!tps)
                        return -1; /* n_parts unchanged: sizes stay safe */
                memset(tps + n, 0, (size_t)(nn - n) * sizeof(*tps));
                pl->tps[t] = tps;
        }
        pl->n_parts = nn;
        return 0;
}

static void ls_pl_log_parts(ls_pipeline_t *pl, const char *what,
                            const rd_kafka_topic_partition_list_t *parts,
                            const char *protocol) {
        ls_buf_t b;
        int i;

        ls_buf_init(&b);
        for (i = 0; i < parts->cnt; i++)
                ls_buf_appendf(&b, "%s%s[%" PRId32 "]", i ? " " : "",
                               parts->elems[i].topic,
                               parts->elems[i].partition);
        ls_log_kv(pl->log, LS_LOG_INFO, what, what, "protocol", protocol,
                  "partitions", b.data ? b.data : "(none)", NULL);
        ls_buf_free(&b);
}

/**
 * Transactional mode, on assignment of @p parts (their start offsets
 * set): reads the group's committed offsets. Each was committed in the
 * same transaction as the outputs of every input before it, so the
 * inputs from the start (an older snapshot) up to it are applied again
 * without producing (tp->quiet_until), and it never moves back
 * (tp->committed). The read is stable (isolation.level read_committed,
 * the default: an offset commit still in flight is waited for). When the
 * offsets cannot be read the process stops: outputs could not be told
 * apart from ones already committed.
 */
static void ls_pl_txn_resume(ls_pipeline_t *pl,
                             const rd_kafka_topic_partition_list_t *parts) {
        rd_kafka_topic_partition_list_t *com;
        int i;

        if (ls_durable_committed(pl->dur, pl->consumer, parts, &pl->stop_req,
                                 &com))
                return;
        for (i = 0; i < com->cnt; i++) {
                int t = ls_pl_topic_index(pl, com->elems[i].topic);
                int32_t p = com->elems[i].partition;
                int64_t c = com->elems[i].offset, start;
                ls_tp_t *tp;

                if (t < 0 || p < 0 || p >= pl->n_parts ||
                    !(tp = pl->tps[t][p]) || c < 0)
                        continue;
                tp->committed = c;
                tp->quiet_until = c;
                start = pl->slots[p].dur.next[t]; /* -1: the earliest */
                if (ls_durable_on(pl->dur) && start < c)
                        ls_log(pl->log, LS_LOG_INFO, "txn_resume",
                               "%s [%" PRId32 "]: committed offset %" PRId64
                               " is past the snapshot's %" PRId64
                               "; the inputs in between are applied without "
                               "producing (their outputs were committed "
                               "with that offset)",
                               com->elems[i].topic, p, c, start);
        }
        rd_kafka_topic_partition_list_destroy(com);
}

static void ls_pl_assign(ls_pipeline_t *pl,
                         rd_kafka_topic_partition_list_t *parts) {
        int i;

        for (i = 0; i < parts->cnt; i++) {
                int t = ls_pl_topic_index(pl, parts->elems[i].topic);
                int32_t p = parts->elems[i].partition;
                if (t < 0 || p < 0)
                        continue;
                if (ls_pl_grow(pl, p)) {
                        ls_pl_fatal(pl, LS_ERR_NOMEM,
                                    "out of memory on assign");
                        return;
                }
                if (pl->tps[t][p])
                        continue;
                pl->tps[t][p] = ls_tp_new(t, p);
                if (!pl->tps[t][p]) {
                        ls_pl_fatal(pl, LS_ERR_NOMEM,
                                    "out of memory on assign");
                        return;
                }
                pl->tps[t][p]->m_consumed = ls_runmetrics_consumed(
                        &pl->mh, ls_pl_topic_name(pl, t), p);
                if (pl->slots[p].refs++ == 0) {
                        /* From the newest usable snapshot, else empty
                         * when that loses nothing (ls_durable_restore). */
                        if (ls_durable_restore(pl->dur, &pl->slots[p].dur, p,
                                               pl->ms, pl->consumer,
                                               &pl->slots[p].shard))
                                return;
                        pl->slots[p].last_input_ms = ls_pl_now_mono();
                        if (!pl->slots[p].shard) {
                                ls_pl_fatal(pl, LS_ERR_NOMEM,
                                            "out of memory creating a shard");
                                return;
                        }
                }
                if (ls_durable_on(pl->dur)) {
                        /* Resume where the shard's state ends. */
                        int64_t next = pl->slots[p].dur.next[t];
                        parts->elems[i].offset =
                                next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
                        pl->tps[t][p]->m.consumed_next = next;
                        /* The snapshot's offset is durable and its outputs
                         * were delivered before it was written: commit it
                         * even if nothing new arrives (a commit may have
                         * failed during the rebalance). */
                        if (next >= 0)
                                ls_offsets_set_committable(&pl->tps[t][p]->off,
                                                           next);
                }
        }
        /* Every shard held, the new ones and (incremental assignments)
         * the old ones: the partition count may have become known. */
        if (!pl->fatal)
                ls_pl_set_caps(pl);
        if (pl->conf->transactional && !pl->fatal)
                ls_pl_txn_resume(pl, parts);
}

static void ls_pl_revoke(ls_pipeline_t *pl,
                         const rd_kafka_topic_partition_list_t *parts,
                         int lost) {
        int i;

        if (!lost) {
                /* Everything produced for these partitions must be
                 * acknowledged, and their shards snapshotted, before
                 * their offsets are committed. */
                ls_producer_flush(pl->producer);
                ls_pl_make_durable(pl, parts, "revoke");
                ls_pl_commit(pl, parts);
        } else if (pl->conf->transactional && !pl->fatal) {
                /* The group moved on without us: the open transaction
                 * holds outputs of these partitions that their new owner
                 * produces again, so it must never commit. */
                ls_producer_flush(pl->producer);
                if (!pl->fatal) /* e.g. fenced: the broker aborted it */
                        ls_producer_txn_abort(pl->producer, "assignment lost");
        }
        for (i = 0; i < parts->cnt; i++) {
                int t = ls_pl_topic_index(pl, parts->elems[i].topic);
                int32_t p = parts->elems[i].partition;
                if (t < 0 || p < 0 || p >= pl->n_parts || !pl->tps[t][p])
                        continue;
                if (lost) /* in-flight tickets must not outlive the tp */
                        ls_producer_flush(pl->producer);
                ls_tp_destroy(pl->tps[t][p]);
                pl->tps[t][p] = NULL;
                if (--pl->slots[p].refs == 0) {
                        ls_shard_destroy(pl->slots[p].shard);
                        pl->slots[p].shard = NULL;
                        pl->slots[p].supp_of = NULL;
                }
        }
        /* A shard kept after the abort is past its aborted outputs. */
        for (i = 0; lost && pl->conf->transactional && i < pl->n_parts; i++)
                if (pl->slots[i].shard && !pl->fatal)
                        ls_pl_fatal(pl, LS_ERR_KAFKA,
                                    "transaction aborted on a lost assignment "
                                    "while other partitions stay assigned");
}

/**
 * Co-partitioning of an (eager, whole) assignment: both input topics have
 * the same number of partitions, and partition p of one is assigned here
 * exactly when partition p of the other is. Records the partition counts
 * for the key check. @returns 0, or -1 after a fatal error saying why.
 */
static int ls_pl_copartition(ls_pipeline_t *pl, rd_kafka_t *rk,
                             const rd_kafka_topic_partition_list_t *parts) {
        const char *const name[2] = {pl->conf->topic_events,
                                     pl->conf->topic_profiles};
        char msg[1024];
        int t;

        for (t = 0; t < 2; t++) { /* 0 = unknown (e.g. not created yet) */
                char err[256];
                int32_t n = ls_keys_partition_count(rk, name[t], 5000, err,
                                                    sizeof(err));
                pl->topic_parts[t] = n > 0 ? n : 0;
                if (n <= 0)
                        ls_log(pl->log, LS_LOG_WARN, "copartition_unknown",
                               "%s; until the next assignment its inputs' "
                               "partitions are not checked, and neither is "
                               "its partition count against %s",
                               err, name[1 - t]);
        }
        if (ls_keys_copartition(name, pl->topic_parts, parts, msg,
                                sizeof(msg))) {
                ls_pl_fatal(pl, LS_ERR_INVALID, msg);
                return -1;
        }
        return 0;
}

void ls_pl_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t *parts, void *opaque) {
        ls_pipeline_t *pl = ((ls_kafka_env_t *)opaque)->owner;
        const char *protocol = rd_kafka_rebalance_protocol(rk);
        int cooperative = protocol && !strcmp(protocol, "COOPERATIVE");
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;

        /* Whatever the change, the workers first finish every record
         * handed to them and its outputs are produced: a revoked
         * partition's queue is drained before its state is saved and
         * handed over, and a grown slots array is never under a job. */
        ls_pl_settle(pl);
        switch (err) {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
                ls_pl_log_parts(pl, "assigned", parts,
                                cooperative ? "cooperative" : "eager");
                if (ls_pl_copartition(pl, rk, parts) == 0)
                        ls_pl_assign(pl, parts);
                if (cooperative)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, parts);
                /* Ready once the assigned partitions are set up. */
                ls_metrics_set_ready(pl->metrics, !pl->fatal);
                break;
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: {
                int lost = rd_kafka_assignment_lost(rk);
                ls_pl_log_parts(pl, lost ? "lost" : "revoked", parts,
                                cooperative ? "cooperative" : "eager");
                /* Eager: nothing is consumed until the next assignment. */
                if (!cooperative)
                        ls_metrics_set_ready(pl->metrics, 0);
                ls_pl_revoke(pl, parts, lost);
                if (cooperative)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, NULL);
                break;
        }
        default:
                ls_log(pl->log, LS_LOG_ERROR, "rebalance_error",
                       "rebalance error: %s", rd_kafka_err2str(err));
                ls_metrics_set_ready(pl->metrics, 0);
                ls_pl_revoke(pl, parts, 1);
                aerr = rd_kafka_assign(rk, NULL);
                break;
        }
        if (error) {
                ls_log(pl->log, LS_LOG_ERROR, "rebalance_error",
                       "rebalance: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        if (aerr)
                ls_log(pl->log, LS_LOG_ERROR, "rebalance_error",
                       "rebalance: %s", rd_kafka_err2str(aerr));
}
