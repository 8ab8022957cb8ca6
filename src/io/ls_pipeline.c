/*
 * ls_pipeline.c - consume, score, produce: the loop of `leadscore run`.
 *
 * One consumer (group member) subscribes to the events and profiles
 * topics. The rebalance callback keeps one shard per assigned partition
 * number (partition p of both topics feeds shard p) and one offset
 * tracker per assigned topic-partition. What is its own: wiring the
 * parts, the rebalance (ls_pipeline_rebalance.c), when to commit and
 * snapshot, the model reload (ls_pipeline_reload.c), and the loop; the
 * state they share is in ls_pipeline_int.h. The parts it wires:
 *   ls_kafka.h       every Kafka client (consumer, producer, snapshots)
 *   ls_merge.h       the order of partition p's records of both topics
 *   ls_scorer.h      a record's bytes to a verdict and outputs
 *   ls_producer.h    outputs and dead letters, with delivery tickets
 *   ls_offsets.h     the commit rule of one input topic-partition
 *   ls_durable.h     snapshots, restores, and what they let it commit
 *   ls_tick.h        clock ticks for quiet partitions
 *   ls_runmetrics.h  the metric series of `run`
 *
 * Offset rule: every input record gets an entry in its topic-partition's
 * tracker; each record produced for it counts there until its delivery
 * report. The committable offset is the offset after the longest prefix
 * of inputs with nothing in flight, and with snapshots no further than
 * the newest snapshot of the shard covers. A failed delivery is never
 * acknowledged, so nothing past it is ever committed, and it stops the
 * process with an error.
 *
 * Co-partitioning (docs/CONFIG.md): the consumer uses the range assignor
 * (any other is refused at start), every assignment must hold partition p
 * of both input topics or of neither, both topics must have the same
 * number of partitions (ls_keys_copartition()), and every input's key
 * must be its lead id and belong to its partition under the murmur2
 * partitioner of the Java client (Kafka's default). The producer
 * partitions with murmur2 too.
 *
 * Scoring runs on worker threads (ls_pipeline_work.c; workers: 1 scores
 * inline): a record released by the merge goes to its partition's
 * worker, which applies it (decoding it first unless it was read here
 * or for the merge) and encodes its outputs, and comes back here in
 * its partition's order to be produced. Everything else runs on the
 * thread that calls ls_pipeline_run(): consumer callbacks are served by
 * rd_kafka_consumer_poll(), delivery reports by
 * ls_producer_poll()/ls_producer_flush().
 */
#include "leadscore/ls_pipeline.h"

#include "io/ls_pipeline_int.h"

/* ---------------------------------------------------------------- utils */

int64_t ls_pl_now_mono(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ls_pl_now_wall(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ls_pl_fatal(ls_pipeline_t *pl, ls_err_t err, const char *msg) {
        ls_log(pl->log, LS_LOG_ERROR, "fatal", "FATAL: %s", msg);
        if (!pl->fatal) {
                pl->fatal = 1;
                pl->fatal_err = err;
                size_t n = strlen(msg);
                if (n >= sizeof(pl->fatal_str))
                        n = sizeof(pl->fatal_str) - 1;
                memcpy(pl->fatal_str, msg, n);
                pl->fatal_str[n] = '\0';
        }
}

/* The clients' fatal hook (ls_kafka_env_t). */
static void ls_pl_env_fatal(void *owner, ls_err_t err, const char *msg) {
        ls_pl_fatal(owner, err, msg);
}

static int ls_pl_env_failed(void *owner) {
        return ((ls_pipeline_t *)owner)->fatal;
}

/* ----------------------------------------------------------- operations */

/** Creates the logger (secrets registered) and the metric registry. */
static ls_err_t ls_pl_ops_new(ls_pipeline_t *pl, char *errstr,
                              size_t errstr_size) {
        const ls_config_t *conf = pl->conf;

        pl->log = ls_log_new(conf->log_format, conf->log_level, stderr);
        pl->metrics = ls_metrics_new();
        if (!pl->log || !pl->metrics)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        /* Kafka secrets, the registry URL's password, basic-auth
         * password and key password */
        if (ls_config_log_secrets(conf, pl->log))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        if (ls_runmetrics_init(&pl->mh, pl->metrics, LEADSCORE_VERSION,
                               LEADSCORE_AVRO_VERSION))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        return LS_OK;
}

void ls_pl_model_stat(const ls_pipeline_t *pl, struct timespec *mtime,
                      off_t *size) {
        struct stat st;

        memset(mtime, 0, sizeof(*mtime));
        *size = -1;
        if (stat(pl->conf->model_path, &st) == 0) {
                *mtime = st.st_mtim;
                *size = st.st_size;
        }
}

/* ------------------------------------------------------- offset tracker */

ls_tp_t *ls_tp_new(int topic, int32_t partition) {
        ls_tp_t *tp = ls_calloc(1, sizeof(*tp));

        if (!tp)
                return NULL;
        tp->topic = topic;
        tp->partition = partition;
        ls_offsets_init(&tp->off);
        tp->committed = -1;
        tp->quiet_until = -1;
        ls_merge_side_init(&tp->m);
        return tp;
}

static void ls_pl_message_destroy(void *rkm) {
        rd_kafka_message_destroy(rkm);
}

void ls_tp_destroy(ls_tp_t *tp) {
        if (!tp)
                return;
        ls_holdq_free(&tp->m.held, ls_pl_message_destroy);
        ls_offsets_free(&tp->off);
        ls_free(tp);
}

const char *ls_pl_topic_name(const ls_pipeline_t *pl, int topic) {
        return topic == LS_PL_TOPIC_EVENTS ? pl->conf->topic_events
                                           : pl->conf->topic_profiles;
}

int ls_pl_topic_index(const ls_pipeline_t *pl, const char *name) {
        if (!strcmp(name, pl->conf->topic_events))
                return LS_PL_TOPIC_EVENTS;
        if (!strcmp(name, pl->conf->topic_profiles))
                return LS_PL_TOPIC_PROFILES;
        return -1;
}

/* -------------------------------------------------------------- commits */

/** The offset that may be committed for @p tp (ls_durable_committable()). */
static int64_t ls_pl_committable(const ls_pipeline_t *pl, const ls_tp_t *tp) {
        return ls_durable_committable(pl->dur, &pl->slots[tp->partition].dur,
                                      tp->topic, tp->off.committable);
}

/** Transactional mode: the offset to send for @p tp
 *  (ls_durable_txn_offset()). */
static int64_t ls_pl_txn_offset(const ls_pipeline_t *pl, const ls_tp_t *tp) {
        return ls_durable_txn_offset(&pl->slots[tp->partition].dur, tp->topic,
                                     tp->committed);
}

/**
 * Commits, synchronously, the committable offsets of the tracked
 * partitions (of @p only_topic/@p only_parts when given) that moved.
 */
void ls_pl_commit(ls_pipeline_t *pl,
                  const rd_kafka_topic_partition_list_t *only) {
        rd_kafka_topic_partition_list_t *offsets;
        int t, i;
        int32_t p;

        if (pl->consumer_closed)
                return;
        /* Transactional: after a fatal error (being fenced among them)
         * nothing is committed; the open transaction is aborted. */
        if (pl->conf->transactional && pl->fatal)
                return;
        offsets = rd_kafka_topic_partition_list_new(8);
        for (t = 0; t < 2; t++) {
                for (p = 0; p < pl->n_parts; p++) {
                        ls_tp_t *tp = pl->tps[t][p];
                        /* A transaction commits every output produced
                         * since the last one: it carries the offsets of
                         * all partitions, whatever @p only says. */
                        int wanted = !only || pl->conf->transactional;
                        if (!tp)
                                continue;
                        ls_offsets_advance(&tp->off);
                        for (i = 0; only && i < only->cnt; i++)
                                if (only->elems[i].partition == p &&
                                    !strcmp(only->elems[i].topic,
                                            ls_pl_topic_name(pl, t)))
                                        wanted = 1;
                        int64_t off = pl->conf->transactional
                                              ? ls_pl_txn_offset(pl, tp)
                                              : ls_pl_committable(pl, tp);
                        if (!wanted || off < 0 || off == tp->committed)
                                continue;
                        rd_kafka_topic_partition_list_add(
                                offsets, ls_pl_topic_name(pl, t), p)
                                ->offset = off;
                }
        }
        if (ls_durable_commit(pl->dur, pl->consumer, pl->producer, offsets) >
            0) {
                for (i = 0; i < offsets->cnt; i++) {
                        int ti = ls_pl_topic_index(pl, offsets->elems[i].topic);
                        ls_tp_t *tp = pl->tps[ti][offsets->elems[i].partition];
                        if (tp && offsets->elems[i].err == 0)
                                tp->committed = offsets->elems[i].offset;
                }
                pl->stats.commits++;
                ls_metric_add(pl->mh.commits, 1);
        }
        rd_kafka_topic_partition_list_destroy(offsets);
}

/* ------------------------------------------------------------ consuming */

/**
 * A consumed record that carries an error, not an input: logged, and a
 * fatal one stops the pipeline.
 */
static void ls_pl_consumer_error(ls_pipeline_t *pl,
                                 const rd_kafka_message_t *rkm) {
        char msg[1024];

        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                return;
        ls_log(pl->log, LS_LOG_WARN, "consumer_error", "consumer: %s%s%s",
               rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "",
               rkm->rkt ? ": " : "", rd_kafka_message_errstr(rkm));
        if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
                char fstr[256];
                rd_kafka_fatal_error(pl->consumer, fstr, sizeof(fstr));
                snprintf(msg, sizeof(msg), "consumer: %s", fstr);
                ls_pl_fatal(pl, LS_ERR_KAFKA, msg);
        }
}

/**
 * Writes the clock into the log (ls_tick.h): a held partition whose
 * events topic has been quiet for idle_tick gets a tick in its events
 * partition, dated idle_tick before the wall clock, so that a record
 * written up to idle_tick after its own time still comes before the tick
 * in the merge (DURABILITY.md, condition (a)). Nothing is applied here:
 * the tick moves stream time when it is consumed, in the merge order, as
 * a replay will meet it. Profiles do not count as activity: they do not
 * move stream time, so a partition with profiles alone still ticks.
 */
static void ls_pl_idle_tick(ls_pipeline_t *pl) {
        int64_t now = ls_pl_now_mono();
        char errstr[512];
        int32_t p;

        for (p = 0; p < pl->n_parts && !pl->fatal; p++) {
                ls_slot_t *slot = &pl->slots[p];
                if (!slot->shard ||
                    now - slot->last_input_ms < pl->conf->idle_tick_ms)
                        continue;
                slot->last_input_ms = now; /* next tick: idle_tick later */
                if (ls_producer_tick(pl->producer, pl->conf->topic_events, p,
                                     ls_pl_now_wall() - pl->conf->idle_tick_ms,
                                     errstr, sizeof(errstr))) {
                        ls_log(pl->log, LS_LOG_WARN, "tick_failed", "%s",
                               errstr);
                        continue;
                }
                pl->stats.ticks_produced++;
        }
}

/* ---------------------------------------------------------------- merge */

/**
 * Takes a consumed record into its topic-partition's hold queue; @p now
 * is the monotonic time of its arrival.
 * @returns 1 when the pipeline took @p rkm (it will destroy it), 0 when
 *          the caller must destroy it (errors, partitions not ours).
 */
static int ls_pl_enqueue(ls_pipeline_t *pl, rd_kafka_message_t *rkm,
                         int64_t now) {
        ls_tp_t *tp;
        ls_held_t h;
        int topic;

        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && rkm->rkt) {
                /* The partition is at its end now: a record of the other
                 * topic need not wait for another fetch to learn it. */
                topic = ls_pl_topic_index(pl, rd_kafka_topic_name(rkm->rkt));
                if (topic < 0 || rkm->partition < 0 ||
                    rkm->partition >= pl->n_parts ||
                    !(tp = pl->tps[topic][rkm->partition]))
                        return 0;
                if (tp->m.reading) /* once the records before it are back */
                        tp->eof_next = rkm->offset > tp->eof_next
                                               ? rkm->offset
                                               : tp->eof_next;
                else if (rkm->offset > tp->m.consumed_next)
                        tp->m.consumed_next = rkm->offset;
                return 0;
        }
        if (rkm->err) {
                ls_pl_consumer_error(pl, rkm);
                return 0;
        }
        topic = ls_pl_topic_index(pl, rd_kafka_topic_name(rkm->rkt));
        if (topic < 0 || rkm->partition < 0 || rkm->partition >= pl->n_parts)
                return 0;
        tp = pl->tps[topic][rkm->partition];
        if (!tp || !pl->slots[rkm->partition].shard)
                return 0;
        /* merge_wait 0 releases in arrival order: no key needed. Else the
         * record is read for its key, and kept as read: JSON on its
         * partition's worker, held once it comes back; Avro and registry
         * framing here, whatever merge_wait (ls_pl_reads_here()). */
        if (pl->conf->merge_wait_ms > 0 && !ls_pl_reads_here(pl)) {
                ls_pl_submit_read(pl, tp, topic, rkm, now);
                return 1;
        }
        memset(&h, 0, sizeof(h));
        h.rec = rkm;
        h.at = now;
        if (ls_pl_reads_here(pl) && ls_pl_read_here(pl, topic, &h, 0))
                return 0;
        if (ls_holdq_push(&tp->m.held, &h)) {
                ls_held_release(&h);
                ls_pl_fatal(pl, LS_ERR_NOMEM,
                            "out of memory holding input records");
                return 0;
        }
        tp->m.consumed_next = rkm->offset + 1;
        return 1;
}

/**
 * Asks the brokers for the end offset of every partition marked by
 * ls_merge_next(), in one ListOffsets round trip per leader.
 * @returns 1 when answers arrived (the held records may go now).
 */
static int ls_pl_ask_ends(ls_pipeline_t *pl) {
        rd_kafka_topic_partition_list_t *list;
        int64_t asked = ls_pl_now_mono();
        rd_kafka_resp_err_t err;
        int32_t p;
        int t, i, got = 0;

        pl->ends_wanted = 0;
        if (asked < pl->ends_retry_at)
                return 0; /* the last ask failed: the records wait a bit */
        list = rd_kafka_topic_partition_list_new(8);
        for (p = 0; p < pl->n_parts; p++)
                for (t = 0; t < 2; t++) {
                        ls_tp_t *tp = pl->tps[t][p];
                        if (tp && tp->m.end_wanted)
                                rd_kafka_topic_partition_list_add(
                                        list, ls_pl_topic_name(pl, t), p)
                                        ->offset = RD_KAFKA_OFFSET_END;
                }
        if (list->cnt == 0) {
                rd_kafka_topic_partition_list_destroy(list);
                return 0;
        }
        /* A timestamp of -1 (OFFSET_END) asks for the partition's end. */
        err = rd_kafka_offsets_for_times(pl->consumer, list,
                                         pl->conf->merge_wait_ms <
                                                         LS_PL_END_TIMEOUT_MS
                                                 ? (int)pl->conf->merge_wait_ms
                                                 : LS_PL_END_TIMEOUT_MS);
        for (i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *e = &list->elems[i];
                ls_tp_t *tp;

                t = ls_pl_topic_index(pl, e->topic);
                if (t < 0 || e->partition >= pl->n_parts ||
                    !(tp = pl->tps[t][e->partition]))
                        continue;
                tp->m.end_wanted = 0;
                if (err || e->err || e->offset < 0) {
                        /* the record waits (merge_wait at most); no
                         * ask again for a while, from now: the failed one
                         * may have taken its whole timeout */
                        pl->ends_retry_at = ls_pl_now_mono() + LS_PL_POLL_MS;
                        continue;
                }
                tp->m.end_asked_at = asked;
                tp->m.end_offset = e->offset;
                got = 1;
        }
        rd_kafka_topic_partition_list_destroy(list);
        return got;
}

/**
 * Releases the held records of shard @p p in (event time, topic - events
 * first, offset) order. A record is released when the other topic's
 * partition has a held record to compare with, is not ours, is at its
 * end, or when it has been held merge_wait (merge_wait 0: arrival order,
 * no holding). A record without an event time (it does not decode) is
 * released as soon as it is at the head of its partition.
 */
static void ls_pl_drain_slot(ls_pipeline_t *pl, int32_t p, int64_t now) {
        ls_merge_side_t *side[2];
        ls_held_t h;
        int t;

        while (!pl->fatal && pl->slots[p].shard) {
                for (t = 0; t < 2; t++)
                        side[t] = pl->tps[t][p] ? &pl->tps[t][p]->m : NULL;
                t = ls_merge_next(side, pl->conf->merge_wait_ms, now,
                                  &pl->ends_wanted);
                if (t < 0)
                        return;
                ls_holdq_pop(&side[t]->held, &h);
                ls_pl_submit(pl, h.rec, &h); /* takes both */
        }
}

static void ls_pl_drain(ls_pipeline_t *pl) {
        int32_t p;

        for (p = 0; p < pl->n_parts && !pl->fatal; p++)
                ls_pl_drain_slot(pl, p, pl->now_mono);
        if (pl->ends_wanted && ls_pl_ask_ends(pl))
                for (p = 0; p < pl->n_parts && !pl->fatal; p++)
                        ls_pl_drain_slot(pl, p, pl->now_mono);
}

/* ------------------------------------------------------------ snapshots */

/**
 * Makes the shards' state durable: first every output produced so far is
 * acknowledged (or, transactional, committed), then each changed shard
 * (of the partitions in @p only, or all) gets a snapshot.
 */
void ls_pl_make_durable(ls_pipeline_t *pl,
                        const rd_kafka_topic_partition_list_t *only,
                        const char *why) {
        int32_t p;
        int i;

        if (!ls_durable_on(pl->dur))
                return;
        ls_pl_settle(pl); /* the shards' state matches next[] */
        if (pl->conf->transactional)
                ls_pl_commit(pl, NULL);
        else
                ls_producer_flush(pl->producer);
        ls_durable_scheduled(pl->dur);
        for (p = 0; p < pl->n_parts && !pl->fatal; p++) {
                ls_slot_t *slot = &pl->slots[p];
                int wanted = !only;
                if (!slot->shard || !slot->dur.dirty)
                        continue;
                for (i = 0; only && i < only->cnt; i++)
                        if (only->elems[i].partition == p)
                                wanted = 1;
                if (wanted)
                        ls_durable_snapshot(pl->dur, &slot->dur, p, slot->shard,
                                            pl->ms, why);
        }
}

/** 1 when a scheduled snapshot is due (interval or every_events). */
static int ls_pl_snapshot_due(const ls_pipeline_t *pl) {
        int32_t p;

        if (ls_durable_interval_due(pl->dur))
                return 1;
        for (p = 0; p < pl->n_parts; p++)
                if (pl->slots[p].shard &&
                    ls_durable_events_due(pl->dur, &pl->slots[p].dur))
                        return 1;
        return 0;
}

/** Adds the suppression counts partition @p p's shard made since the last
 * publish to run's counters: a new shard (assigned, restored, migrated)
 * first sets the baseline, so counts restored from a snapshot are not
 * counted again by this process. */
static void ls_pl_publish_suppressed(ls_pipeline_t *pl, int32_t p) {
        ls_slot_t *slot = &pl->slots[p];
        uint64_t cur[LS_RUNMETRICS_SUPPRESS_N], add[LS_RUNMETRICS_SUPPRESS_N];
        ls_shard_stats_t st;
        int k;

        if (!slot->shard) {
                slot->supp_of = NULL;
                return;
        }
        ls_shard_stats(slot->shard, &st);
        cur[0] = st.suppressed_burst;
        cur[1] = st.suppressed_unopened;
        cur[2] = st.suppressed_match;
        cur[3] = st.reversed;
        for (k = 0; k < LS_RUNMETRICS_SUPPRESS_N; k++) {
                add[k] = slot->supp_of == slot->shard &&
                                         cur[k] > slot->supp_seen[k]
                                 ? cur[k] - slot->supp_seen[k]
                                 : 0;
                slot->supp_seen[k] = cur[k];
        }
        slot->supp_of = slot->shard;
        ls_runmetrics_suppressed(&pl->mh, p, add);
}

/** Refreshes the gauges that describe state: leads and bytes per shard,
 * leads per model, snapshots; and the registry's skipped lookups. */
static void ls_pl_publish(ls_pipeline_t *pl) {
        uint64_t *per_model;
        size_t i;
        int32_t p;

        per_model = ls_calloc(pl->ms->n_models ? pl->ms->n_models : 1,
                              sizeof(*per_model));
        for (p = 0; p < pl->n_parts; p++) {
                ls_runmetrics_shard(&pl->mh, p, pl->slots[p].shard);
                ls_pl_publish_suppressed(pl, p);
                for (i = 0;
                     per_model && pl->slots[p].shard && i < pl->ms->n_models;
                     i++)
                        per_model[i] +=
                                ls_shard_scored_leads(pl->slots[p].shard, i);
        }
        if (per_model)
                ls_runmetrics_model_leads(&pl->mh, pl->ms, per_model);
        ls_free(per_model);
        for (p = 0; p < pl->n_parts; p++)
                if (pl->slots[p].shard)
                        ls_durable_publish(pl->dur, &pl->slots[p].dur, p);
        if (pl->registry)
                ls_runmetrics_registry(&pl->mh, pl->registry);
}

/* ------------------------------------------------------------ lifecycle */

ls_pipeline_t *ls_pipeline_new(const ls_config_t *conf, char *errstr,
                               size_t errstr_size) {
        ls_pipeline_t *pl;
        ls_codec_conf_t cc;
        ls_registry_conf_t rconf;
        ls_kafka_opts_t ko;
        ls_producer_conf_t pc;
        ls_durable_conf_t dc;
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t kerr;
        char sub[512];

        pl = ls_calloc(1, sizeof(*pl));
        if (!pl) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        pl->conf = conf;
        atomic_init(&pl->stop_req, 0);
        atomic_init(&pl->n_consumed, 0);
        atomic_init(&pl->reload_req, 0);
        if (ls_pl_ops_new(pl, errstr, errstr_size))
                goto fail;
        pl->kenv.log = pl->log;
        pl->kenv.metrics = pl->metrics;
        pl->kenv.fatal = ls_pl_env_fatal;
        pl->kenv.failed = ls_pl_env_failed;
        pl->kenv.owner = pl;

        if (!conf->model_path) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "%s: model: not set", conf->path);
                goto fail;
        }
        if (ls_modelset_load(conf->model_path, &pl->ms, errstr, errstr_size))
                goto fail;
        ls_pl_model_stat(pl, &pl->model_mtime, &pl->model_size);
        ls_runmetrics_model_info(&pl->mh, pl->ms, 1);
        /* max_leads; auto: half of the memory limit. Each partition gets
         * its share (ls_pl_partition_cap()). */
        pl->lead_budget = ls_lead_budget(
                conf->max_leads, ls_lead_bytes_estimate(pl->ms), "", pl->log);
        ls_runmetrics_lead_cap(&pl->mh, pl->lead_budget);

        memset(&cc, 0, sizeof(cc));
        cc.input_format = conf->input_format;
        cc.output_format = conf->output_format;
        cc.schema_dir = conf->schema_dir;
        cc.max_record_bytes = conf->max_record_bytes;
        ls_config_registry_conf(conf, &rconf); /* the client copies it */
        pl->codec = ls_registry_codec_new(&cc, &rconf, &pl->registry, errstr,
                                          errstr_size);
        if (!pl->codec)
                goto fail;
        /* workers: 1 scores on this thread with this codec, else each
         * worker has a codec of its own */
        if (ls_pl_workers_new(pl, &cc, &rconf, errstr, errstr_size))
                goto fail;

        pl->bootstrap =
                ls_kafka_bootstrap(conf, &pl->broker, errstr, errstr_size);
        if (!pl->bootstrap)
                goto fail;
        if (pl->broker)
                fprintf(stderr, "broker: %s\n", pl->bootstrap);

        memset(&ko, 0, sizeof(ko));
        ko.conf = conf;
        ko.bootstrap = pl->broker ? pl->bootstrap : NULL;
        ko.env = &pl->kenv;
        memset(&pc, 0, sizeof(pc));
        pc.conf = conf;
        pc.bootstrap = ko.bootstrap;
        pc.codec = pl->codec;
        pc.env = &pl->kenv;
        memcpy(pc.metrics.outputs, pl->mh.outputs, sizeof(pc.metrics.outputs));
        pc.metrics.delivered = pl->mh.delivered;
        pc.metrics.delivery_failures = pl->mh.delivery_failures;
        pl->producer = ls_producer_new(&pc, errstr, errstr_size);
        if (!pl->producer)
                goto fail;
        ko.role = LS_KAFKA_CONSUMER;
        ko.rebalance_cb = ls_pl_rebalance_cb;
        pl->consumer = ls_kafka_client_new(&ko, errstr, errstr_size);
        if (!pl->consumer)
                goto fail;
        ko.rebalance_cb = NULL;
        memset(&dc, 0, sizeof(dc));
        dc.conf = conf;
        dc.kafka = &ko;
        dc.env = &pl->kenv;
        memcpy(dc.restores, pl->mh.restores, sizeof(dc.restores));
        if (!(pl->dur = ls_durable_new(&dc, errstr, errstr_size)))
                goto fail;
        rd_kafka_poll_set_consumer(pl->consumer);
        pl->cq = rd_kafka_queue_get_consumer(pl->consumer);
        pl->batch = ls_malloc(LS_PL_BATCH * sizeof(*pl->batch));
        if (!pl->cq || !pl->batch) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                goto fail;
        }
        if (conf->transactional &&
            ls_producer_txn_begin(pl->producer, errstr, errstr_size))
                goto fail;

        topics = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(topics, conf->topic_events,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(topics, conf->topic_profiles,
                                          RD_KAFKA_PARTITION_UA);
        kerr = rd_kafka_subscribe(pl->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (kerr) {
                ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                          "subscribe to %s, %s: %s", conf->topic_events,
                          conf->topic_profiles, rd_kafka_err2str(kerr));
                goto fail;
        }
        snprintf(sub, sizeof(sub), "%s, %s", conf->topic_events,
                 conf->topic_profiles);
        ls_log_kv(pl->log, LS_LOG_INFO, "subscribed", "subscribed", "group",
                  conf->group, "topics", sub, "bootstrap", pl->bootstrap,
                  "model", conf->model_path, "model_version", pl->ms->version,
                  NULL);
        if (conf->metrics_listen) {
                if (ls_metrics_serve(pl->metrics, conf->metrics_listen, errstr,
                                     errstr_size))
                        goto fail;
                ls_log(pl->log, LS_LOG_INFO, "metrics_listening",
                       "metrics: listening on %s (port %d): /metrics /healthz "
                       "/readyz",
                       conf->metrics_listen, ls_metrics_port(pl->metrics));
        }
        return pl;
fail:
        ls_pipeline_destroy(pl);
        return NULL;
}

static int ls_pl_stopping(ls_pipeline_t *pl,
                          const volatile sig_atomic_t *stopp) {
        return (stopp && *stopp) || atomic_load(&pl->stop_req) || pl->fatal;
}

/** Closes the consumer: revokes (flush + commit) and leaves the group. */
static void ls_pl_close(ls_pipeline_t *pl) {
        rd_kafka_resp_err_t err;

        if (pl->consumer_closed || !pl->consumer)
                return;
        err = rd_kafka_consumer_close(pl->consumer);
        if (err)
                ls_log(pl->log, LS_LOG_WARN, "consumer_close",
                       "consumer close: %s", rd_kafka_err2str(err));
        pl->consumer_closed = 1;
}

ls_err_t ls_pipeline_run(ls_pipeline_t *pl, const volatile sig_atomic_t *stopp,
                         char *errstr, size_t errstr_size) {
        int64_t last_commit = ls_pl_now_mono(), last_idle = last_commit;
        int64_t last_publish = 0, last_watch = last_commit;
        ls_pipeline_stats_t st;

        while (!ls_pl_stopping(pl, stopp)) {
                ssize_t n, i;

                /* What is queued, without waiting; when nothing is, wait
                 * for the first record (rd_kafka_consume_batch_queue
                 * with a timeout would wait for a full batch). */
                n = rd_kafka_consume_batch_queue(pl->cq, 0, pl->batch,
                                                 LS_PL_BATCH);
                if (n <= 0 && ls_workers_pending(pl->pool) > 0) {
                        /* nothing new: produce what the workers finish */
                        ls_pl_collect(pl, LS_PL_DONE_WAIT_MS);
                        n = 0;
                } else if (n <= 0) {
                        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(
                                pl->consumer, LS_PL_POLL_MS);
                        n = 0;
                        if (rkm) {
                                pl->batch[0] = rkm;
                                n = rd_kafka_consume_batch_queue(
                                        pl->cq, 0, pl->batch + 1,
                                        LS_PL_BATCH - 1);
                                n = n > 0 ? n + 1 : 1;
                        }
                }
                pl->now_mono = ls_pl_now_mono();
                pl->now_wall = ls_pl_now_wall();
                for (i = 0; i < n; i++)
                        if (!ls_pl_enqueue(pl, pl->batch[i], pl->now_mono))
                                rd_kafka_message_destroy(pl->batch[i]);
                /* what the workers read or scored: held, or produced */
                ls_pl_collect(pl, 0);
                ls_pl_drain(pl);
                ls_pl_collect(pl, 0); /* hands the batch over, too */
                ls_producer_poll(pl->producer);
                if (ls_pl_snapshot_due(pl))
                        ls_pl_make_durable(pl, NULL, NULL);
                if (pl->conf->idle_tick_ms > 0 &&
                    ls_pl_now_mono() - last_idle >= LS_PL_POLL_MS) {
                        last_idle = ls_pl_now_mono();
                        ls_pl_idle_tick(pl);
                }
                if (ls_pl_now_mono() - last_commit >=
                    pl->conf->commit_interval_ms) {
                        ls_pl_commit(pl, NULL);
                        last_commit = ls_pl_now_mono();
                }
                if (pl->conf->model_watch &&
                    ls_pl_now_mono() - last_watch >= LS_PL_WATCH_MS) {
                        last_watch = ls_pl_now_mono();
                        ls_pl_model_watch(pl);
                }
                /* The model switch point: between two batches. */
                if (ls_pl_reload_wanted(pl))
                        ls_pl_reload_model(pl);
                if (ls_pl_now_mono() - last_publish >= LS_PL_PUBLISH_MS) {
                        last_publish = ls_pl_now_mono();
                        ls_workers_quiesce(pl->pool); /* reads shards */
                        ls_pl_publish(pl);
                }
        }
        ls_metrics_set_ready(pl->metrics, 0);

        /* Stop in order: finish deliveries, commit what they cover, leave
         * the group (the revoke callback commits once more). */
        ls_log(pl->log, pl->fatal ? LS_LOG_ERROR : LS_LOG_INFO, "stopping",
               "stopping%s", pl->fatal ? " after a fatal error" : "");
        ls_pl_settle(pl);
        ls_producer_flush(pl->producer);
        if (!pl->fatal) {
                ls_pl_make_durable(pl, NULL, "stop");
        } else if (pl->conf->transactional) {
                /* Nothing of the open transaction may commit; abort it
                 * now rather than at transaction.timeout.ms (fails
                 * harmlessly when fenced or already aborted). */
                ls_producer_txn_discard(pl->producer);
        }
        ls_pl_commit(pl, NULL);
        ls_pl_close(pl);
        ls_producer_flush(pl->producer);
        ls_pl_publish(pl);
        ls_pipeline_stats(pl, &st);
        ls_log(pl->log, LS_LOG_INFO, "stopped",
               "stopped: consumed %" PRIu64 ", applied %" PRIu64
               ", outputs %" PRIu64 " (alerts %" PRIu64
               "), dead letters %" PRIu64 ", duplicates %" PRIu64
               ", stale profiles %" PRIu64 ", delivery failures %" PRIu64
               ", ticks %" PRIu64 " (produced %" PRIu64 ", refused %" PRIu64
               ")",
               st.consumed, st.applied, st.outputs, st.alerts, st.dead_letters,
               st.duplicates, st.stale, st.delivery_failures, st.ticks,
               st.ticks_produced, st.ticks_failed);
        if (pl->fatal) {
                /* Printed by the caller, not the log: mask secrets too. */
                char masked[sizeof(pl->fatal_str)];
                ls_log_mask_text(pl->log, pl->fatal_str, masked,
                                 sizeof(masked));
                return ls_seterr(errstr, errstr_size, pl->fatal_err, "%s",
                                 masked);
        }
        return LS_OK;
}

void ls_pipeline_stop(ls_pipeline_t *pl) {
        atomic_store(&pl->stop_req, 1);
}

void ls_pipeline_reload_on(ls_pipeline_t *pl,
                           const volatile sig_atomic_t *counterp) {
        pl->reloadp = counterp;
        pl->reload_seen = counterp ? *counterp : 0;
}

void ls_pipeline_reload(ls_pipeline_t *pl) {
        atomic_store(&pl->reload_req, 1);
}

ls_metrics_t *ls_pipeline_metrics(ls_pipeline_t *pl) {
        return pl->metrics;
}

ls_log_t *ls_pipeline_log(ls_pipeline_t *pl) {
        return pl->log;
}

const char *ls_pipeline_bootstrap(const ls_pipeline_t *pl) {
        return pl->bootstrap;
}

uint64_t ls_pipeline_consumed(const ls_pipeline_t *pl) {
        return atomic_load(&((ls_pipeline_t *)pl)->n_consumed);
}

void ls_pipeline_stats(const ls_pipeline_t *pl, ls_pipeline_stats_t *stats) {
        ls_producer_stats_t ps;

        *stats = pl->stats;
        if (!pl->producer)
                return;
        ls_producer_stats(pl->producer, &ps);
        stats->outputs = ps.outputs;
        stats->alerts = ps.alerts;
        stats->dead_letters = ps.dead_letters;
        stats->delivered = ps.delivered;
        stats->delivery_failures = ps.delivery_failures;
        stats->ticks_failed = ps.ticks_failed;
}

void ls_pipeline_destroy(ls_pipeline_t *pl) {
        int32_t p;
        int t;

        if (!pl)
                return;
        if (pl->consumer) {
                ls_pl_close(pl);
                /* the jobs' records go before their consumer */
                ls_pl_workers_destroy(pl);
                if (pl->cq)
                        rd_kafka_queue_destroy(pl->cq);
                rd_kafka_destroy(pl->consumer);
        }
        ls_pl_workers_destroy(pl); /* (without a consumer) */
        ls_producer_destroy(pl->producer);
        ls_durable_destroy(pl->dur);
        ls_free(pl->batch);
        for (t = 0; t < 2; t++) {
                for (p = 0; p < pl->n_parts; p++)
                        ls_tp_destroy(pl->tps[t][p]);
                ls_free(pl->tps[t]);
        }
        for (p = 0; p < pl->n_parts; p++)
                ls_shard_destroy(pl->slots[p].shard);
        ls_free(pl->slots);
        ls_broker_destroy(pl->broker);
        ls_free(pl->bootstrap);
        ls_codec_destroy(pl->codec);
        if (pl->ms)
                ls_modelset_destroy(pl->ms);
        /* Stops the HTTP thread before anything it reads goes away. */
        ls_metrics_destroy(pl->metrics);
        ls_log_destroy(pl->log);
        ls_free(pl);
}
