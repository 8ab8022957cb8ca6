/*
 * ls_pipeline_work.c - `run`'s scoring on worker threads (see
 * ls_pipeline_int.h and docs/ARCHITECTURE.md, "Workers").
 *
 * The consuming thread puts each input record on its partition's lane of
 * the worker pool (ls_workers.h) as a job, twice for JSON with
 * merge_wait > 0: first to be read for the merge (decoded once, for its
 * event time; it joins its hold queue when it comes back, ls_pl_held()),
 * then, in merge order, to be scored; Avro the merge reads, and registry
 * framing, are read on the consuming thread (ls_pl_reads_here()). The
 * lane's worker applies it to the partition's shard (decoding it first
 * when it was not read) and encodes the outputs (ls_producer_encode());
 * the
 * consuming thread takes the jobs back in each lane's order and produces
 * them, with their delivery tickets, dead letters and counters, as the
 * single-threaded loop did (ls_pl_complete()). With workers: 1 the pool
 * has no thread and a job runs inline, at its submit.
 *
 * The commit rule is kept by counting a submitted input in its offset
 * tracker as if it had one output in flight, acknowledged once its real
 * outputs were produced: no offset passes an input before its outputs
 * are produced. The shard's applied offsets (ls_durable_applied()) move
 * when a job comes back, so a transaction or a snapshot never covers an
 * input whose outputs were not produced. Whatever touches a shard on the
 * consuming thread (snapshots, rebalances, model reload, metrics) first
 * settles the pool: every job run and, but for metrics, produced.
 */
#include "io/ls_pipeline_int.h"

#include "leadscore/ls_assert.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- workers */

/* What a read of a record gives the merge (its event time) and the
 * workers' look-ahead (its lead's hash; none inline, workers: 1), from
 * @p in as read. */
static void ls_pl_read_keys(const ls_pipeline_t *pl, ls_held_t *h,
                            const ls_input_t *in) {
        h->time = ls_merge_key(pl->ms, h->v, in);
        h->lead_hash = h->v == LS_V_APPLIED && pl->n_wk > 1
                               ? ls_input_lead_hash(in)
                               : 0;
}

/**
 * The merge's read of a record (merge_wait > 0): decoded once, for its
 * event time (the merge key) and kept as read, on the worker, so that
 * decoding stays off the consuming thread. A record that cannot be read
 * for a reason not its own (LS_V_ERROR: a registry that cannot be
 * reached) is kept unread, to be read again when applied.
 */
static void ls_pl_work_read(ls_pipeline_t *pl, ls_pl_worker_t *w,
                            ls_pl_job_t *job) {
        ls_held_t *h = &job->h;
        ls_input_t in;

        memset(h, 0, sizeof(*h));
        h->rec = job->rkm;
        h->at = job->at;
        job->enc_err = LS_OK;
        h->v = ls_scorer_read(w->codec, &job->rec, &in, &h->err, job->errstr,
                              sizeof(job->errstr));
        ls_pl_read_keys(pl, h, &in);
        if (h->v != LS_V_ERROR &&
            (h->v == LS_V_APPLIED ? !(h->in = ls_input_dup(&in))
                                  : !(h->why = ls_strdup(job->errstr))))
                job->enc_err = LS_ERR_NOMEM;
}

/**
 * The job: scores one record on worker @p worker with its codec and
 * output buffer, into the partition's shard (lane = partition), and
 * encodes the outputs into the job.
 */
static void ls_pl_work(void *opaque, int worker, ls_job_t *j) {
        ls_pipeline_t *pl = opaque;
        ls_pl_job_t *job = (ls_pl_job_t *)j;
        ls_pl_worker_t *w = &pl->wk[worker];
        ls_shard_t *shard;

        if (job->read) {
                ls_pl_work_read(pl, w, job);
                return;
        }
        shard = pl->slots[j->lane].shard;
        ls_outbuf_reset(&w->ob);
        ls_encoded_reset(&job->enc);
        job->errstr[0] = '\0';
        job->enc_err = LS_OK;
        if (job->h.in) {
                job->v =
                        ls_scorer_apply(job->h.in, &shard, &w->ob, 1, &job->err,
                                        job->errstr, sizeof(job->errstr));
        } else if (job->h.why) {
                job->v = job->h.v;
                job->err = job->h.err;
                snprintf(job->errstr, sizeof(job->errstr), "%s", job->h.why);
        } else {
                job->v = ls_scorer_feed(w->codec, &job->rec, &shard, &w->ob, 1,
                                        &job->err, job->errstr,
                                        sizeof(job->errstr));
        }
        if (job->v == LS_V_ERROR)
                w->failed = 1;
        /* Outputs (e.g. decay that fired first) go out in any case, but
         * for an input scored again only: they went out before. */
        if (w->ob.n_outs > 0 && !job->quiet) {
                job->enc_err = ls_producer_encode(w->codec, pl->conf, &w->ob,
                                                  &job->enc, job->enc_str,
                                                  sizeof(job->enc_str));
                if (job->enc_err)
                        w->failed = 1;
        }
}

/**
 * A job this worker runs soon, when it is to be scored from an input
 * already read (for the merge, or on the consuming thread): stage 0
 * loads the job's own lines, stage 1 its input and its lead's index
 * entry (by the hash taken when it was read), stage 2 the lead's block
 * with the key or the key's pointer in front of it (ls_scorer_prefetch()).
 * The lane's shard is this worker's, as for the job itself. Reads only
 * what the stage before loaded, so that no stage waits for memory.
 */
static void ls_pl_work_ahead(void *opaque, int worker, ls_job_t *j, int stage) {
        ls_pipeline_t *pl = opaque;
        ls_pl_job_t *job = (ls_pl_job_t *)j;
        ls_shard_t *shard;

        (void)worker;
        if (stage == 0) {
                __builtin_prefetch(job);
                __builtin_prefetch(&job->h.in);
                return;
        }
        if (job->read || !job->h.in || !job->h.lead_hash ||
            !(shard = pl->slots[j->lane].shard))
                return;
        if (stage == 1)
                __builtin_prefetch(job->h.in);
        ls_scorer_prefetch(job->h.lead_hash, &shard, 1, stage - 1);
}

/**
 * Debug builds: after a run of jobs, the invariants (ls_shard_check())
 * of each shard of this worker's lanes that changed since its last
 * check, on the worker that owns them. Not after an error: it may leave
 * a lead half done.
 */
static void ls_pl_work_idle(void *opaque, int worker) {
#ifndef NDEBUG
        ls_pipeline_t *pl = opaque;
        int n = pl->n_wk;
        ls_shard_stats_t st;
        char errstr[512];
        uint64_t stamp;
        int32_t p;

        if (pl->wk[worker].failed)
                return;
        for (p = worker; p < pl->n_parts; p += n) {
                ls_slot_t *slot = &pl->slots[p];
                if (!slot->shard)
                        continue;
                /* only a shard that took an input or gave an output since
                 * its last check (the check is O(leads)) */
                ls_shard_stats(slot->shard, &st);
                stamp = st.inputs + st.duplicates + st.late + st.future +
                        st.stale + st.invalid + st.refused + st.outputs;
                if (stamp == slot->checked)
                        continue;
                slot->checked = stamp;
                LS_ASSERT(ls_shard_check(slot->shard, errstr, sizeof(errstr)) ==
                                  LS_OK,
                          "partition %d: %s", (int)p, errstr);
        }
#else
        (void)opaque;
        (void)worker;
#endif
}

ls_err_t ls_pl_workers_new(ls_pipeline_t *pl, const ls_codec_conf_t *cc,
                           const ls_registry_conf_t *rconf, char *errstr,
                           size_t errstr_size) {
        ls_workers_conf_t wc;
        const char *jitter = getenv(LS_PL_JITTER_ENV);
        int n = ls_config_workers(pl->conf), i;

        pl->wk = ls_calloc((size_t)n, sizeof(*pl->wk));
        if (!pl->wk)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        pl->n_wk = n;
        for (i = 0; i < n; i++) {
                ls_outbuf_init(&pl->wk[i].ob);
                if (n == 1) { /* inline, on this thread: its codec */
                        pl->wk[i].codec = pl->codec;
                        continue;
                }
                pl->wk[i].codec = ls_registry_codec_new(cc, rconf, NULL, errstr,
                                                        errstr_size);
                if (!pl->wk[i].codec)
                        return LS_ERR_INVALID;
                pl->wk[i].own_codec = 1;
        }
        memset(&wc, 0, sizeof(wc));
        wc.threads = n == 1 ? 0 : n;
        wc.run = ls_pl_work;
        wc.idle = ls_pl_work_idle;
        wc.ahead = ls_pl_work_ahead;
        wc.opaque = pl;
        if (jitter && *jitter) {
                wc.jitter_us = (unsigned)strtoul(jitter, NULL, 10);
                wc.seed = (unsigned)ls_pl_now_mono();
        }
        pl->pool = ls_workers_new(&wc, errstr, errstr_size);
        if (!pl->pool)
                return LS_ERR_NOMEM;
        ls_log(pl->log, LS_LOG_INFO, "workers",
               "scoring on %d worker thread%s%s", n == 1 ? 1 : n,
               n == 1 ? " (the consuming thread)" : "s",
               wc.jitter_us ? " with test jitter" : "");
        return LS_OK;
}

/** Gives back a job's record and what the merge read of it. */
static void ls_pl_job_release(ls_pipeline_t *pl, ls_pl_job_t *job) {
        ls_held_release(&job->h);
        if (job->rkm)
                rd_kafka_message_destroy(job->rkm);
        job->rkm = NULL;
        job->next_free = pl->jfree;
        pl->jfree = job;
}

void ls_pl_workers_destroy(ls_pipeline_t *pl) {
        ls_job_t *list;
        int i;

        if (pl->pool) {
                ls_workers_quiesce(pl->pool);
                for (list = ls_workers_done(pl->pool, 0); list;) {
                        ls_job_t *next = list->next;
                        ls_pl_job_release(pl, (ls_pl_job_t *)list);
                        list = next;
                }
                ls_workers_destroy(pl->pool);
                pl->pool = NULL;
        }
        while (pl->jfree) {
                ls_pl_job_t *job = pl->jfree;
                pl->jfree = job->next_free;
                ls_encoded_free(&job->enc);
                ls_free(job);
        }
        for (i = 0; pl->wk && i < pl->n_wk; i++) {
                if (pl->wk[i].own_codec)
                        ls_codec_destroy(pl->wk[i].codec);
                ls_outbuf_free(&pl->wk[i].ob);
        }
        ls_free(pl->wk);
        pl->wk = NULL;
}

/* ---------------------------------------------------------- completion */

/** ls_pl_fatal for error @p err met while @p what (e.g. "decoding") the
 *  record @p rkm: the message names its topic, partition and offset. */
static void ls_pl_record_fatal(ls_pipeline_t *pl, ls_err_t err,
                               const char *what, const rd_kafka_message_t *rkm,
                               const char *errstr) {
        char msg[1024];

        snprintf(msg, sizeof(msg), "%s %s [%" PRId32 "] offset %" PRId64 ": %s",
                 what, rd_kafka_topic_name(rkm->rkt), rkm->partition,
                 rkm->offset, errstr);
        ls_pl_fatal(pl, err, msg);
}

/** 1 when input @p offset of @p tp is replayed without producing: its
 *  outputs were committed by an earlier transaction (tp->quiet_until). */
static int ls_pl_quiet(const ls_tp_t *tp, int64_t offset) {
        return tp && offset < tp->quiet_until;
}

/** The input @p seq of @p tp, as the producer counts it. */
static ls_producer_input_t ls_pl_input(const ls_pipeline_t *pl, ls_tp_t *tp,
                                       uint64_t seq) {
        ls_producer_input_t in = {
                &tp->off, seq, ls_pl_topic_name(pl, tp->topic), tp->partition};

        return in;
}

/**
 * A warning about an input record, given at most once every
 * LS_PL_MISPLACED_WARN_MS with the count of those held back since the
 * last one (@p more names them): `misplaced_input`, `lead_cap_reached`.
 */
static void ls_pl_warn_input(ls_pipeline_t *pl, ls_pl_limited_t *w,
                             const char *event, const rd_kafka_message_t *rkm,
                             const char *why, const char *more) {
        if (w->warned != 0 &&
            pl->now_mono - w->warned < LS_PL_MISPLACED_WARN_MS) {
                w->quiet++;
                return;
        }
        ls_log(pl->log, LS_LOG_WARN, event,
               "%s [%" PRId32 "] offset %" PRId64 ": %s (%" PRIu64
               " more %s since the last warning)",
               rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset, why,
               w->quiet, more);
        w->warned = pl->now_mono ? pl->now_mono : 1;
        w->quiet = 0;
}

/**
 * A job back from its worker, in its partition's order: its outputs are
 * produced (unless quiet), then its verdict counted or dead-lettered,
 * then its input's in-flight mark is taken off (ls_pl_submit()).
 */
static void ls_pl_complete(ls_pipeline_t *pl, ls_pl_job_t *job) {
        const rd_kafka_message_t *rkm = job->rkm;
        ls_tp_t *tp = job->tp;
        ls_producer_input_t in;
        int quiet = job->quiet;

        if (pl->fatal) /* nothing more is produced, nor committed */
                goto done;
        ls_durable_applied(&pl->slots[tp->partition].dur, job->topic,
                           rkm->offset);
        in = ls_pl_input(pl, tp, job->seq);
        if (!quiet && job->enc.n_outs > 0 &&
            ls_producer_emit_encoded(pl->producer, &job->enc, &in))
                goto done;
        if (job->enc_err) { /* as the producer says it */
                ls_pl_fatal(pl, job->enc_err, job->enc_str);
                goto done;
        }
        if (job->enc.n_outs > 0 && !quiet && job->rec.timestamp > 0)
                ls_metric_observe(pl->mh.latency,
                                  (double)(pl->now_wall - job->rec.timestamp) /
                                          1000.0);
        switch (job->v) {
        case LS_V_APPLIED:
                pl->stats.applied++;
                ls_metric_add(pl->mh.applied, 1);
                break;
        case LS_V_DUPLICATE:
                pl->stats.duplicates++;
                ls_metric_add(pl->mh.duplicates, 1);
                break;
        case LS_V_STALE:
                pl->stats.stale++;
                ls_metric_add(pl->mh.stale, 1);
                break;
        case LS_V_TICK:
                pl->stats.ticks++;
                break;
        case LS_V_ERROR:
                ls_pl_record_fatal(pl, job->err, "scoring", rkm, job->errstr);
                goto done;
        default:
                if (job->v == LS_V_PARTITION)
                        ls_pl_warn_input(pl, &pl->misplaced, "misplaced_input",
                                         rkm, job->errstr, "misplaced inputs");
                else if (job->v == LS_V_CAPACITY)
                        ls_pl_warn_input(pl, &pl->cap_reached,
                                         "lead_cap_reached", rkm, job->errstr,
                                         "inputs of new leads dead-lettered "
                                         "as capacity");
                if (!quiet)
                        ls_producer_dead_letter(pl->producer, rkm, &in,
                                                ls_verdict_name(job->v),
                                                job->errstr);
                break;
        }
        ls_offsets_acked(&tp->off, job->seq); /* the in-flight mark */
done:
        ls_pl_job_release(pl, job);
}

/**
 * A record read for the merge, back from its worker in its partition's
 * order: it joins its topic-partition's hold queue, and the partition's
 * end met while it was out is taken now.
 */
static void ls_pl_held(ls_pipeline_t *pl, ls_pl_job_t *job) {
        ls_tp_t *tp = job->tp;

        tp->m.reading--;
        if (pl->fatal) {
                ls_pl_job_release(pl, job);
                return;
        }
        if (job->enc_err || ls_holdq_push(&tp->m.held, &job->h)) {
                ls_pl_fatal(pl, LS_ERR_NOMEM,
                            "out of memory holding input records");
                ls_pl_job_release(pl, job);
                return;
        }
        /* a lane hands its jobs back in order: a record before the last
         * one back would break the partition's order */
        LS_ASSERT(job->rkm->offset >= tp->m.consumed_next,
                  "%s [%" PRId32 "] offset %" PRId64
                  " came back after %" PRId64,
                  rd_kafka_topic_name(job->rkm->rkt), job->rkm->partition,
                  job->rkm->offset, tp->m.consumed_next - 1);
        tp->m.consumed_next = job->rkm->offset + 1;
        if (!tp->m.reading && tp->eof_next > tp->m.consumed_next)
                tp->m.consumed_next = tp->eof_next;
        /* the hold queue has the record and what was read of it */
        memset(&job->h, 0, sizeof(job->h));
        job->rkm = NULL;
        ls_pl_job_release(pl, job);
}

void ls_pl_collect(ls_pipeline_t *pl, int wait_ms) {
        ls_job_t *list = ls_workers_done(pl->pool, wait_ms);

        while (list) {
                ls_job_t *next = list->next;
                ls_pl_job_t *job = (ls_pl_job_t *)list;

                /* the next job's lines come from its worker's core while
                 * this one is produced */
                if (next)
                        __builtin_prefetch(next);
                if (job->read)
                        ls_pl_held(pl, job);
                else
                        ls_pl_complete(pl, job);
                list = next;
        }
}

void ls_pl_settle(ls_pipeline_t *pl) {
        if (!pl->pool)
                return;
        ls_workers_quiesce(pl->pool);
        ls_pl_collect(pl, 0);
}

/* ---------------------------------------------------------- submission */

/** @p rkm of input @p topic as the scorer and the merge see it. */
void ls_pl_record(const ls_pipeline_t *pl, int topic,
                  const rd_kafka_message_t *rkm, ls_record_t *rec) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);

        rec->kind =
                topic == LS_PL_TOPIC_EVENTS ? LS_INPUT_EVENT : LS_INPUT_PROFILE;
        rec->value = rkm->payload;
        rec->len = rkm->len;
        rec->topic = rd_kafka_topic_name(rkm->rkt);
        rec->key = rkm->key;
        rec->key_len = rkm->key_len;
        rec->partition = rkm->partition;
        rec->partition_cnt = pl->topic_parts[topic];
        rec->timestamp = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
        rec->tick = ls_tick_read(rkm);
}

int ls_pl_read_here(ls_pipeline_t *pl, int topic, ls_held_t *h, int final) {
        ls_record_t rec;
        ls_input_t in;
        char errstr[512];

        ls_held_release(h);
        ls_pl_record(pl, topic, h->rec, &rec);
        h->v = ls_scorer_read(pl->codec, &rec, &in, &h->err, errstr,
                              sizeof(errstr));
        ls_pl_read_keys(pl, h, &in);
        /* not the record's fault (a registry that cannot be reached):
         * kept unread, to be read again when applied (final: that error
         * is the verdict) */
        if ((h->v != LS_V_ERROR || final) &&
            (h->v == LS_V_APPLIED ? !(h->in = ls_input_dup(&in))
                                  : !(h->why = ls_strdup(errstr)))) {
                ls_pl_fatal(pl, LS_ERR_NOMEM,
                            "out of memory holding input records");
                return -1;
        }
        return 0;
}

/** A job from the pool, or NULL when memory is short. */
static ls_pl_job_t *ls_pl_job_get(ls_pipeline_t *pl) {
        ls_pl_job_t *job = pl->jfree;

        if (job) {
                pl->jfree = job->next_free;
        } else {
                if (!(job = ls_calloc(1, sizeof(*job))))
                        return NULL;
                ls_encoded_init(&job->enc);
        }
        memset(&job->h, 0, sizeof(job->h));
        job->next_free = NULL;
        return job;
}

/** Hands @p job to its lane and bounds the records out. */
static void ls_pl_hand_over(ls_pipeline_t *pl, ls_pl_job_t *job) {
        ls_workers_submit(pl->pool, (uint32_t)job->rkm->partition, &job->j);
        /* A bound on the records out: wait for the workers. */
        while (ls_workers_pending(pl->pool) >= LS_PL_INFLIGHT)
                ls_pl_collect(pl, -1);
}

void ls_pl_submit_read(ls_pipeline_t *pl, ls_tp_t *tp, int topic,
                       rd_kafka_message_t *rkm, int64_t now) {
        ls_pl_job_t *job = ls_pl_job_get(pl);

        if (!job) {
                ls_pl_fatal(pl, LS_ERR_NOMEM,
                            "out of memory holding input records");
                rd_kafka_message_destroy(rkm);
                return;
        }
        job->read = 1;
        job->rkm = rkm;
        job->tp = tp;
        job->topic = topic;
        job->at = now;
        ls_pl_record(pl, topic, rkm, &job->rec);
        tp->m.reading++;
        ls_pl_hand_over(pl, job);
}

void ls_pl_submit(ls_pipeline_t *pl, rd_kafka_message_t *rkm, ls_held_t *h) {
        ls_pl_job_t *job;
        ls_tp_t *tp;
        ls_slot_t *slot;
        uint64_t seq;
        int topic;

        topic = ls_pl_topic_index(pl, rd_kafka_topic_name(rkm->rkt));
        if (topic < 0 || rkm->partition < 0 || rkm->partition >= pl->n_parts ||
            !(tp = pl->tps[topic][rkm->partition]) ||
            !(slot = &pl->slots[rkm->partition])->shard)
                goto drop; /* not (or no longer) ours */
        /* Read on this thread (ls_pl_reads_here()) when the record was
         * consumed; again here only when that read could not reach the
         * registry (LS_V_ERROR kept it unread). */
        if (ls_pl_reads_here(pl) && !h->in && !h->why) {
                h->rec = rkm;
                if (ls_pl_read_here(pl, topic, h, 1))
                        goto drop;
        }
        if (!(job = ls_pl_job_get(pl))) {
                ls_pl_fatal(pl, LS_ERR_NOMEM,
                            "out of memory holding input records");
                goto drop;
        }
        if (ls_offsets_push(&tp->off, rkm->offset, &seq)) {
                job->next_free = pl->jfree;
                pl->jfree = job;
                ls_pl_fatal(pl, LS_ERR_NOMEM, "out of memory tracking offsets");
                goto drop;
        }
        /* In flight until its outputs are produced (ls_pl_complete()). */
        ls_offsets_produced(&tp->off, seq);
        pl->stats.consumed++;
        atomic_store(&pl->n_consumed, pl->stats.consumed);
        ls_metric_add(tp->m_consumed, 1);
        if (topic == LS_PL_TOPIC_EVENTS) /* what moves stream time */
                slot->last_input_ms = pl->now_mono;

        job->read = 0;
        job->quiet = ls_pl_quiet(tp, rkm->offset);
        job->rkm = rkm;
        job->tp = tp;
        job->topic = topic;
        job->seq = seq;
        job->h = *h; /* the job owns what the merge read */
        memset(h, 0, sizeof(*h));
        ls_pl_record(pl, topic, rkm, &job->rec);
        ls_pl_hand_over(pl, job);
        return;
drop:
        ls_held_release(h);
        rd_kafka_message_destroy(rkm);
}
