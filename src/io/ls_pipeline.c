/*
 * ls_pipeline.c - consume, score, produce: the loop of `leadscore run`.
 *
 * One consumer (group member) subscribes to the events and profiles
 * topics. The rebalance callback keeps one shard per assigned partition
 * number (partition p of both topics feeds shard p) and one offset
 * tracker per assigned topic-partition.
 *
 * Offset rule: every input record gets an entry (offset, outputs still in
 * flight) in its partition's FIFO. Each produced record (score, alert,
 * dead letter) carries a ticket naming that entry; its delivery report
 * decrements the count. The committable offset is the offset after the
 * longest prefix of entries whose count is zero. A failed delivery never
 * decrements, so nothing past it is ever committed, and it stops the
 * process with an error.
 *
 * All of this runs on the thread that calls ls_pipeline_run(): consumer
 * callbacks are served by rd_kafka_consumer_poll(), delivery reports by
 * rd_kafka_poll()/rd_kafka_flush() on the producer.
 */
#include "leadscore/ls_pipeline.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"

#define LS_PL_BATCH 1000      /* records handled between housekeeping */
#define LS_PL_POLL_MS 100
#define LS_PL_TOPIC_EVENTS 0
#define LS_PL_TOPIC_PROFILES 1

/** One input record whose outputs may still be in flight. */
typedef struct ls_pending_s {
        int64_t offset;
        uint32_t remaining;  /* produced records not yet acknowledged */
} ls_pending_t;

/** Offset tracking of one assigned input topic-partition. */
typedef struct ls_tp_s {
        int topic;               /* LS_PL_TOPIC_* */
        int32_t partition;
        ls_pending_t *ring;      /* FIFO of inputs, oldest at head */
        size_t cap, head, count;
        uint64_t base_seq;       /* absolute sequence number of ring[head] */
        int64_t committable;     /* next offset safe to commit, -1 = none */
        int64_t committed;       /* last committed, -1 = none */
} ls_tp_t;

/** Delivery ticket: which input entry a produced record belongs to. */
typedef struct ls_ticket_s {
        ls_tp_t *tp;             /* NULL for idle-tick outputs */
        uint64_t seq;
} ls_ticket_t;

typedef struct ls_slot_s {
        ls_shard_t *shard;
        int refs;                /* assigned topic-partitions feeding it */
        int64_t last_input_ms;   /* monotonic time of the last input */
} ls_slot_t;

struct ls_pipeline_s {
        const ls_config_t *conf;
        ls_modelset_t *ms;
        ls_codec_t *codec;
        ls_broker_t *broker;     /* embedded broker, or NULL */
        char *bootstrap;
        rd_kafka_t *consumer;
        rd_kafka_t *producer;
        int consumer_closed;

        ls_slot_t *slots;        /* indexed by partition */
        ls_tp_t **tps[2];        /* [topic][partition] */
        int32_t n_parts;         /* size of slots and tps[*] */

        ls_outbuf_t ob;
        ls_buf_t buf;
        ls_pipeline_stats_t stats;
        int fatal;               /* a fatal error happened; stop */
        ls_err_t fatal_err;
        char fatal_str[512];
        atomic_int stop_req;
        atomic_uint_least64_t n_consumed; /* stats.consumed, for other threads */
};

/* ---------------------------------------------------------------- utils */

static int64_t ls_pl_now_mono(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ls_pl_now_wall(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ls_pl_fatal(ls_pipeline_t *pl, ls_err_t err, const char *msg) {
        fprintf(stderr, "leadscore: FATAL: %s\n", msg);
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

/* ------------------------------------------------------- offset tracker */

static ls_tp_t *ls_tp_new(int topic, int32_t partition) {
        ls_tp_t *tp = ls_calloc(1, sizeof(*tp));

        if (!tp)
                return NULL;
        tp->topic = topic;
        tp->partition = partition;
        tp->committable = -1;
        tp->committed = -1;
        return tp;
}

static void ls_tp_destroy(ls_tp_t *tp) {
        if (!tp)
                return;
        ls_free(tp->ring);
        ls_free(tp);
}

/** Appends an entry for input @p offset. @returns its sequence or -1. */
static int ls_tp_push(ls_tp_t *tp, int64_t offset, uint64_t *seqp) {
        if (tp->count == tp->cap) {
                size_t ncap = tp->cap ? tp->cap * 2 : 64, i;
                ls_pending_t *nring = ls_malloc(ncap * sizeof(*nring));
                if (!nring)
                        return -1;
                for (i = 0; i < tp->count; i++)
                        nring[i] = tp->ring[(tp->head + i) % tp->cap];
                ls_free(tp->ring);
                tp->ring = nring;
                tp->cap = ncap;
                tp->head = 0;
        }
        tp->ring[(tp->head + tp->count) % tp->cap] =
                (ls_pending_t){.offset = offset, .remaining = 0};
        *seqp = tp->base_seq + tp->count;
        tp->count++;
        return 0;
}

static ls_pending_t *ls_tp_entry(ls_tp_t *tp, uint64_t seq) {
        if (seq < tp->base_seq || seq - tp->base_seq >= tp->count)
                return NULL;
        return &tp->ring[(tp->head + (seq - tp->base_seq)) % tp->cap];
}

/** Moves committable past every fully acknowledged input at the head. */
static void ls_tp_advance(ls_tp_t *tp) {
        while (tp->count > 0 && tp->ring[tp->head].remaining == 0) {
                tp->committable = tp->ring[tp->head].offset + 1;
                tp->head = (tp->head + 1) % tp->cap;
                tp->base_seq++;
                tp->count--;
        }
}

static const char *ls_pl_topic_name(const ls_pipeline_t *pl, int topic) {
        return topic == LS_PL_TOPIC_EVENTS ? pl->conf->topic_events
                                           : pl->conf->topic_profiles;
}

static int ls_pl_topic_index(const ls_pipeline_t *pl, const char *name) {
        if (!strcmp(name, pl->conf->topic_events))
                return LS_PL_TOPIC_EVENTS;
        if (!strcmp(name, pl->conf->topic_profiles))
                return LS_PL_TOPIC_PROFILES;
        return -1;
}

/* -------------------------------------------------------------- commits */

/**
 * Commits, synchronously, the committable offsets of the tracked
 * partitions (of @p only_topic/@p only_parts when given) that moved.
 */
static void ls_pl_commit(ls_pipeline_t *pl,
                         const rd_kafka_topic_partition_list_t *only) {
        rd_kafka_topic_partition_list_t *offsets;
        rd_kafka_resp_err_t err;
        int t, i;
        int32_t p;

        if (pl->consumer_closed)
                return;
        offsets = rd_kafka_topic_partition_list_new(8);
        for (t = 0; t < 2; t++) {
                for (p = 0; p < pl->n_parts; p++) {
                        ls_tp_t *tp = pl->tps[t][p];
                        int wanted = !only;
                        if (!tp)
                                continue;
                        ls_tp_advance(tp);
                        for (i = 0; only && i < only->cnt; i++)
                                if (only->elems[i].partition == p &&
                                    !strcmp(only->elems[i].topic,
                                            ls_pl_topic_name(pl, t)))
                                        wanted = 1;
                        if (!wanted || tp->committable < 0 ||
                            tp->committable == tp->committed)
                                continue;
                        rd_kafka_topic_partition_list_add(
                                offsets, ls_pl_topic_name(pl, t), p)
                                ->offset = tp->committable;
                }
        }
        if (offsets->cnt > 0) {
                err = rd_kafka_commit(pl->consumer, offsets, 0);
                if (err) {
                        fprintf(stderr,
                                "leadscore: offset commit failed: %s (will "
                                "retry)\n",
                                rd_kafka_err2str(err));
                } else {
                        for (i = 0; i < offsets->cnt; i++) {
                                int ti = ls_pl_topic_index(
                                        pl, offsets->elems[i].topic);
                                ls_tp_t *tp =
                                        pl->tps[ti][offsets->elems[i].partition];
                                if (tp && offsets->elems[i].err == 0)
                                        tp->committed = offsets->elems[i].offset;
                        }
                        pl->stats.commits++;
                }
        }
        rd_kafka_topic_partition_list_destroy(offsets);
}

/** Waits until every produced record has a delivery report. */
static void ls_pl_flush(ls_pipeline_t *pl) {
        while (rd_kafka_outq_len(pl->producer) > 0)
                rd_kafka_flush(pl->producer, 1000);
        rd_kafka_poll(pl->producer, 0);
}

/* ------------------------------------------------------------ producing */

static void ls_pl_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
        ls_pipeline_t *pl = opaque;
        ls_ticket_t *ticket = rkm->_private;

        if (rkm->err) {
                char msg[512];
                pl->stats.delivery_failures++;
                if (ticket && ticket->tp) {
                        ls_pending_t *e = ls_tp_entry(ticket->tp, ticket->seq);
                        snprintf(msg, sizeof(msg),
                                 "delivery to %s [%" PRId32 "] failed: %s; "
                                 "input %s [%" PRId32 "] offset %" PRId64
                                 " and later are not committed",
                                 rd_kafka_topic_name(rkm->rkt), rkm->partition,
                                 rd_kafka_err2str(rkm->err),
                                 ls_pl_topic_name(pl, ticket->tp->topic),
                                 ticket->tp->partition, e ? e->offset : -1);
                } else {
                        snprintf(msg, sizeof(msg),
                                 "delivery to %s [%" PRId32 "] failed: %s",
                                 rd_kafka_topic_name(rkm->rkt), rkm->partition,
                                 rd_kafka_err2str(rkm->err));
                }
                ls_pl_fatal(pl, LS_ERR_KAFKA, msg);
        } else {
                pl->stats.delivered++;
                if (ticket && ticket->tp) {
                        ls_pending_t *e = ls_tp_entry(ticket->tp, ticket->seq);
                        if (e && e->remaining > 0)
                                e->remaining--;
                }
        }
        ls_free(ticket);
}

/**
 * Produces one record; @p hdrs is owned by this call in all cases.
 * The record counts against input entry @p seq of @p tp (when not NULL).
 */
static ls_err_t ls_pl_produce(ls_pipeline_t *pl, const char *topic,
                              const void *key, size_t key_len,
                              const void *value, size_t len,
                              rd_kafka_headers_t *hdrs, ls_tp_t *tp,
                              uint64_t seq) {
        ls_ticket_t *ticket;
        ls_pending_t *e = tp ? ls_tp_entry(tp, seq) : NULL;
        rd_kafka_resp_err_t err;
        char msg[512];

        ticket = ls_malloc(sizeof(*ticket));
        if (!ticket) {
                rd_kafka_headers_destroy(hdrs);
                ls_pl_fatal(pl, LS_ERR_NOMEM, "out of memory producing");
                return LS_ERR_NOMEM;
        }
        ticket->tp = tp;
        ticket->seq = seq;
        /* Counted before producing; never uncounted if producing fails, so
         * the input stays uncommitted. */
        if (e)
                e->remaining++;
        for (;;) {
                err = rd_kafka_producev(
                        pl->producer, RD_KAFKA_V_TOPIC(topic),
                        RD_KAFKA_V_KEY(key, key_len),
                        RD_KAFKA_V_VALUE((void *)value, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(ticket),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(pl->producer, 100);
        }
        if (err) {
                rd_kafka_headers_destroy(hdrs);
                ls_free(ticket);
                snprintf(msg, sizeof(msg), "cannot produce to %s: %s", topic,
                         rd_kafka_err2str(err));
                ls_pl_fatal(pl, LS_ERR_KAFKA, msg);
                return LS_ERR_KAFKA;
        }
        return LS_OK;
}

/** Encodes and produces every output in pl->ob. */
static ls_err_t ls_pl_emit(ls_pipeline_t *pl, ls_tp_t *tp, uint64_t seq) {
        char errstr[512], id[512], msg[1024];
        size_t i;
        ls_err_t err;

        for (i = 0; i < pl->ob.n_outs; i++) {
                const ls_output_t *o = &pl->ob.outs[i];
                const char *topic = o->kind == LS_OUT_ALERT
                                            ? pl->conf->topic_alerts
                                            : pl->conf->topic_scores;
                rd_kafka_headers_t *hdrs;

                ls_buf_reset(&pl->buf);
                err = ls_codec_encode_output(pl->codec, topic, &pl->ob, o,
                                             &pl->buf, errstr, sizeof(errstr));
                if (err) {
                        snprintf(msg, sizeof(msg),
                                 "cannot encode output for lead %s: %s",
                                 o->lead_id, errstr);
                        ls_pl_fatal(pl, err, msg);
                        return err;
                }
                ls_output_id(o, id, sizeof(id));
                hdrs = rd_kafka_headers_new(3);
                rd_kafka_header_add(hdrs, "leadscore.model", -1, o->model->id,
                                    -1);
                rd_kafka_header_add(hdrs, "leadscore.model_version", -1,
                                    o->model->version, -1);
                rd_kafka_header_add(hdrs, "leadscore.id", -1, id, -1);
                if ((err = ls_pl_produce(pl, topic, o->lead_id,
                                         strlen(o->lead_id), pl->buf.data,
                                         pl->buf.len, hdrs, tp, seq)))
                        return err;
                pl->stats.outputs++;
                if (o->kind == LS_OUT_ALERT)
                        pl->stats.alerts++;
        }
        return LS_OK;
}

/** Sends the input record @p rkm to the dead-letter topic. */
static void ls_pl_dead_letter(ls_pipeline_t *pl,
                              const rd_kafka_message_t *rkm, ls_tp_t *tp,
                              uint64_t seq, const char *reason,
                              const char *error) {
        ls_dead_letter_t dl;
        rd_kafka_headers_t *hdrs;
        char errstr[512], num[32], msg[1024];
        ls_err_t err;

        memset(&dl, 0, sizeof(dl));
        dl.reason = reason;
        dl.error = error;
        dl.source_topic = rd_kafka_topic_name(rkm->rkt);
        dl.source_partition = rkm->partition;
        dl.source_offset = rkm->offset;
        dl.key = rkm->key;
        dl.key_len = rkm->key_len;
        dl.value = rkm->payload;
        dl.value_len = rkm->len;

        fprintf(stderr,
                "leadscore: dead letter: reason=%s source=%s [%" PRId32
                "] offset %" PRId64 ": %s\n",
                reason, dl.source_topic, rkm->partition, rkm->offset, error);

        ls_buf_reset(&pl->buf);
        err = ls_codec_encode_dead_letter(pl->codec,
                                          pl->conf->topic_dead_letters, &dl,
                                          &pl->buf, errstr, sizeof(errstr));
        if (err) {
                snprintf(msg, sizeof(msg), "cannot encode dead letter: %s",
                         errstr);
                ls_pl_fatal(pl, err, msg);
                return;
        }
        hdrs = rd_kafka_headers_new(5);
        rd_kafka_header_add(hdrs, "leadscore.reason", -1, reason, -1);
        rd_kafka_header_add(hdrs, "leadscore.error", -1, error, -1);
        rd_kafka_header_add(hdrs, "leadscore.source.topic", -1,
                            dl.source_topic, -1);
        snprintf(num, sizeof(num), "%" PRId32, rkm->partition);
        rd_kafka_header_add(hdrs, "leadscore.source.partition", -1, num, -1);
        snprintf(num, sizeof(num), "%" PRId64, rkm->offset);
        rd_kafka_header_add(hdrs, "leadscore.source.offset", -1, num, -1);
        if (ls_pl_produce(pl, pl->conf->topic_dead_letters, rkm->key,
                          rkm->key_len, pl->buf.data, pl->buf.len, hdrs, tp,
                          seq) == LS_OK)
                pl->stats.dead_letters++;
}

/* ------------------------------------------------------------ consuming */

static void ls_pl_handle(ls_pipeline_t *pl, const rd_kafka_message_t *rkm) {
        ls_input_t in;
        ls_tp_t *tp;
        ls_slot_t *slot;
        uint64_t seq;
        char errstr[512], msg[1024];
        int topic;
        ls_err_t err;

        if (rkm->err) {
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        return;
                fprintf(stderr, "leadscore: consumer: %s%s%s\n",
                        rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "",
                        rkm->rkt ? ": " : "", rd_kafka_message_errstr(rkm));
                if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
                        char fstr[256];
                        rd_kafka_fatal_error(pl->consumer, fstr, sizeof(fstr));
                        snprintf(msg, sizeof(msg), "consumer: %s", fstr);
                        ls_pl_fatal(pl, LS_ERR_KAFKA, msg);
                }
                return;
        }
        topic = ls_pl_topic_index(pl, rd_kafka_topic_name(rkm->rkt));
        if (topic < 0 || rkm->partition < 0 || rkm->partition >= pl->n_parts)
                return;
        tp = pl->tps[topic][rkm->partition];
        slot = &pl->slots[rkm->partition];
        if (!tp || !slot->shard)
                return; /* not (or no longer) ours */
        if (ls_tp_push(tp, rkm->offset, &seq)) {
                ls_pl_fatal(pl, LS_ERR_NOMEM, "out of memory tracking offsets");
                return;
        }
        pl->stats.consumed++;
        atomic_store(&pl->n_consumed, pl->stats.consumed);
        slot->last_input_ms = ls_pl_now_mono();

        if (rkm->len > pl->conf->max_record_bytes) {
                snprintf(errstr, sizeof(errstr),
                         "record of %zu bytes exceeds max_record_bytes %zu",
                         rkm->len, pl->conf->max_record_bytes);
                ls_pl_dead_letter(pl, rkm, tp, seq, "oversized", errstr);
                return;
        }
        errstr[0] = '\0';
        err = ls_codec_decode_input(pl->codec,
                                    topic == LS_PL_TOPIC_EVENTS
                                            ? LS_INPUT_EVENT
                                            : LS_INPUT_PROFILE,
                                    rkm->payload ? rkm->payload : "", rkm->len,
                                    &in, errstr, sizeof(errstr));
        switch (err) {
        case LS_OK:
                break;
        case LS_ERR_INVALID:
                ls_pl_dead_letter(pl, rkm, tp, seq, "decode", errstr);
                return;
        case LS_ERR_UNSUPPORTED:
                ls_pl_dead_letter(pl, rkm, tp, seq, "schema", errstr);
                return;
        default:
                snprintf(msg, sizeof(msg),
                         "decoding %s [%" PRId32 "] offset %" PRId64 ": %s",
                         rd_kafka_topic_name(rkm->rkt), rkm->partition,
                         rkm->offset, errstr);
                ls_pl_fatal(pl, err, msg);
                return;
        }

        ls_outbuf_reset(&pl->ob);
        errstr[0] = '\0';
        err = ls_shard_apply(slot->shard, &in, &pl->ob, errstr, sizeof(errstr));
        /* Outputs (e.g. decay that fired first) are emitted in any case. */
        if (ls_pl_emit(pl, tp, seq))
                return;
        switch (err) {
        case LS_OK:
                pl->stats.applied++;
                break;
        case LS_ERR_DUPLICATE:
                pl->stats.duplicates++;
                break;
        case LS_ERR_LATE:
                ls_pl_dead_letter(pl, rkm, tp, seq, "late", errstr);
                break;
        case LS_ERR_INVALID:
                ls_pl_dead_letter(pl, rkm, tp, seq, "invalid", errstr);
                break;
        default:
                snprintf(msg, sizeof(msg),
                         "scoring %s [%" PRId32 "] offset %" PRId64 ": %s",
                         rd_kafka_topic_name(rkm->rkt), rkm->partition,
                         rkm->offset, errstr);
                ls_pl_fatal(pl, err, msg);
                break;
        }
}

/** Lets idle shards' stream time follow the wall clock (idle_tick). */
static void ls_pl_idle_tick(ls_pipeline_t *pl) {
        int64_t now = ls_pl_now_mono();
        int32_t p;

        for (p = 0; p < pl->n_parts && !pl->fatal; p++) {
                ls_slot_t *slot = &pl->slots[p];
                if (!slot->shard ||
                    now - slot->last_input_ms < pl->conf->idle_tick_ms)
                        continue;
                slot->last_input_ms = now;
                ls_outbuf_reset(&pl->ob);
                if (ls_shard_advance(slot->shard, ls_pl_now_wall(), &pl->ob)) {
                        ls_pl_fatal(pl, LS_ERR_NOMEM,
                                    "out of memory advancing an idle shard");
                        return;
                }
                ls_pl_emit(pl, NULL, 0);
        }
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

static void ls_pl_log_parts(const char *what,
                            const rd_kafka_topic_partition_list_t *parts,
                            const char *protocol) {
        ls_buf_t b;
        int i;

        ls_buf_init(&b);
        for (i = 0; i < parts->cnt; i++)
                ls_buf_appendf(&b, "%s%s[%" PRId32 "]", i ? " " : "",
                               parts->elems[i].topic,
                               parts->elems[i].partition);
        fprintf(stderr, "leadscore: %s (%s): %s\n", what, protocol,
                b.data ? b.data : "(none)");
        ls_buf_free(&b);
}

static void ls_pl_assign(ls_pipeline_t *pl,
                         const rd_kafka_topic_partition_list_t *parts) {
        int i;

        for (i = 0; i < parts->cnt; i++) {
                int t = ls_pl_topic_index(pl, parts->elems[i].topic);
                int32_t p = parts->elems[i].partition;
                if (t < 0 || p < 0)
                        continue;
                if (ls_pl_grow(pl, p)) {
                        ls_pl_fatal(pl, LS_ERR_NOMEM, "out of memory on assign");
                        return;
                }
                if (pl->tps[t][p])
                        continue;
                pl->tps[t][p] = ls_tp_new(t, p);
                if (!pl->tps[t][p]) {
                        ls_pl_fatal(pl, LS_ERR_NOMEM, "out of memory on assign");
                        return;
                }
                if (pl->slots[p].refs++ == 0) {
                        /* Shards start empty (no snapshot restore yet). */
                        pl->slots[p].shard = ls_shard_new(pl->ms);
                        pl->slots[p].last_input_ms = ls_pl_now_mono();
                        if (!pl->slots[p].shard) {
                                ls_pl_fatal(pl, LS_ERR_NOMEM,
                                            "out of memory creating a shard");
                                return;
                        }
                }
        }
}

static void ls_pl_revoke(ls_pipeline_t *pl,
                         const rd_kafka_topic_partition_list_t *parts,
                         int lost) {
        int i;

        if (!lost) {
                /* Everything produced for these partitions must be
                 * acknowledged before their offsets are committed. */
                ls_pl_flush(pl);
                ls_pl_commit(pl, parts);
        }
        for (i = 0; i < parts->cnt; i++) {
                int t = ls_pl_topic_index(pl, parts->elems[i].topic);
                int32_t p = parts->elems[i].partition;
                if (t < 0 || p < 0 || p >= pl->n_parts || !pl->tps[t][p])
                        continue;
                if (lost) /* in-flight tickets must not outlive the tp */
                        ls_pl_flush(pl);
                ls_tp_destroy(pl->tps[t][p]);
                pl->tps[t][p] = NULL;
                if (--pl->slots[p].refs == 0) {
                        ls_shard_destroy(pl->slots[p].shard);
                        pl->slots[p].shard = NULL;
                }
        }
}

static void ls_pl_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts,
                               void *opaque) {
        ls_pipeline_t *pl = opaque;
        const char *protocol = rd_kafka_rebalance_protocol(rk);
        int cooperative = protocol && !strcmp(protocol, "COOPERATIVE");
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;

        switch (err) {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
                ls_pl_log_parts("assigned", parts, cooperative ? "cooperative"
                                                               : "eager");
                ls_pl_assign(pl, parts);
                if (cooperative)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, parts);
                break;
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: {
                int lost = rd_kafka_assignment_lost(rk);
                ls_pl_log_parts(lost ? "lost" : "revoked", parts,
                                cooperative ? "cooperative" : "eager");
                ls_pl_revoke(pl, parts, lost);
                if (cooperative)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, NULL);
                break;
        }
        default:
                fprintf(stderr, "leadscore: rebalance error: %s\n",
                        rd_kafka_err2str(err));
                ls_pl_revoke(pl, parts, 1);
                aerr = rd_kafka_assign(rk, NULL);
                break;
        }
        if (error) {
                fprintf(stderr, "leadscore: rebalance: %s\n",
                        rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        if (aerr)
                fprintf(stderr, "leadscore: rebalance: %s\n",
                        rd_kafka_err2str(aerr));
}

/* ------------------------------------------------------------ lifecycle */

static int ls_pl_conf_set(rd_kafka_conf_t *kconf, const char *section,
                          const char *name, const char *value, char *errstr,
                          size_t errstr_size) {
        char kerr[512];

        if (rd_kafka_conf_set(kconf, name, value, kerr, sizeof(kerr)) !=
            RD_KAFKA_CONF_OK) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID, "%s.%s: %s",
                          section, name, kerr);
                return -1;
        }
        return 0;
}

static int ls_pl_conf_props(rd_kafka_conf_t *kconf, const char *section,
                            const ls_props_t *props, char *errstr,
                            size_t errstr_size) {
        size_t i;

        for (i = 0; i < props->n; i++)
                if (ls_pl_conf_set(kconf, section, props->names[i],
                                   props->values[i], errstr, errstr_size))
                        return -1;
        return 0;
}

static rd_kafka_t *ls_pl_client_new(ls_pipeline_t *pl, rd_kafka_type_t type,
                                    char *errstr, size_t errstr_size) {
        const ls_config_t *conf = pl->conf;
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        char kerr[512];
        int consumer = type == RD_KAFKA_CONSUMER;

        rd_kafka_conf_set_opaque(kconf, pl);
        if (consumer) {
                if (ls_pl_conf_set(kconf, "consumer", "auto.offset.reset",
                                   "earliest", errstr, errstr_size))
                        goto fail;
        } else {
                if (ls_pl_conf_set(kconf, "producer", "linger.ms", "5", errstr,
                                   errstr_size))
                        goto fail;
        }
        if (ls_pl_conf_props(kconf, "kafka", &conf->kafka, errstr,
                             errstr_size) ||
            ls_pl_conf_props(kconf, consumer ? "consumer" : "producer",
                             consumer ? &conf->consumer : &conf->producer,
                             errstr, errstr_size))
                goto fail;
        if (pl->broker &&
            ls_pl_conf_set(kconf, "kafka", "bootstrap.servers", pl->bootstrap,
                           errstr, errstr_size))
                goto fail;
        if (consumer) {
                if (ls_pl_conf_set(kconf, "consumer", "group.id", conf->group,
                                   errstr, errstr_size) ||
                    ls_pl_conf_set(kconf, "consumer", "enable.auto.commit",
                                   "false", errstr, errstr_size) ||
                    ls_pl_conf_set(kconf, "consumer",
                                   "enable.auto.offset.store", "false", errstr,
                                   errstr_size))
                        goto fail;
                rd_kafka_conf_set_rebalance_cb(kconf, ls_pl_rebalance_cb);
        } else {
                if (ls_pl_conf_set(kconf, "producer", "enable.idempotence",
                                   "true", errstr, errstr_size))
                        goto fail;
                rd_kafka_conf_set_dr_msg_cb(kconf, ls_pl_dr_cb);
        }
        rk = rd_kafka_new(type, kconf, kerr, sizeof(kerr));
        if (!rk) {
                ls_seterr(errstr, errstr_size, LS_ERR_KAFKA, "%s: %s",
                          consumer ? "consumer" : "producer", kerr);
                goto fail;
        }
        return rk;
fail:
        rd_kafka_conf_destroy(kconf);
        return NULL;
}

ls_pipeline_t *ls_pipeline_new(const ls_config_t *conf, char *errstr,
                               size_t errstr_size) {
        ls_pipeline_t *pl;
        ls_codec_conf_t cc;
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
        ls_outbuf_init(&pl->ob);
        ls_buf_init(&pl->buf);

        if (!conf->model_path) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "%s: model: not set", conf->path);
                goto fail;
        }
        if (ls_modelset_load(conf->model_path, &pl->ms, errstr, errstr_size))
                goto fail;

        memset(&cc, 0, sizeof(cc));
        cc.input_format = conf->input_format;
        cc.output_format = conf->output_format;
        cc.schema_dir = conf->schema_dir;
        cc.registry_url = conf->registry_url;
        cc.max_record_bytes = conf->max_record_bytes;
        pl->codec = ls_codec_new(&cc, errstr, errstr_size);
        if (!pl->codec)
                goto fail;

        if (!ls_config_has_bootstrap(conf)) {
                const char *names[5] = {
                        conf->topic_events, conf->topic_profiles,
                        conf->topic_scores, conf->topic_alerts,
                        conf->topic_dead_letters};
                pl->broker = ls_broker_new(conf->embedded_partitions, names, 5,
                                           errstr, errstr_size);
                if (!pl->broker)
                        goto fail;
                pl->bootstrap = ls_strdup(ls_broker_address(pl->broker));
                fprintf(stderr, "broker: %s\n", pl->bootstrap);
        } else {
                const char *b = ls_props_get(&conf->kafka, "bootstrap.servers");
                if (!b)
                        b = ls_props_get(&conf->kafka, "metadata.broker.list");
                if (!b)
                        b = ls_props_get(&conf->consumer, "bootstrap.servers");
                pl->bootstrap = ls_strdup(b);
        }
        if (!pl->bootstrap) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                goto fail;
        }

        pl->producer = ls_pl_client_new(pl, RD_KAFKA_PRODUCER, errstr,
                                        errstr_size);
        if (!pl->producer)
                goto fail;
        pl->consumer = ls_pl_client_new(pl, RD_KAFKA_CONSUMER, errstr,
                                        errstr_size);
        if (!pl->consumer)
                goto fail;
        rd_kafka_poll_set_consumer(pl->consumer);

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
        fprintf(stderr,
                "leadscore: group %s subscribed to %s via %s (model %s, "
                "version %s)\n",
                conf->group, sub, pl->bootstrap, conf->model_path,
                pl->ms->version);
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
                fprintf(stderr, "leadscore: consumer close: %s\n",
                        rd_kafka_err2str(err));
        pl->consumer_closed = 1;
}

ls_err_t ls_pipeline_run(ls_pipeline_t *pl, const volatile sig_atomic_t *stopp,
                         char *errstr, size_t errstr_size) {
        int64_t last_commit = ls_pl_now_mono(), last_idle = last_commit;

        while (!ls_pl_stopping(pl, stopp)) {
                rd_kafka_message_t *rkm;
                int n = 0;

                rkm = rd_kafka_consumer_poll(pl->consumer, LS_PL_POLL_MS);
                while (rkm) {
                        ls_pl_handle(pl, rkm);
                        rd_kafka_message_destroy(rkm);
                        if (++n >= LS_PL_BATCH || pl->fatal)
                                break;
                        rkm = rd_kafka_consumer_poll(pl->consumer, 0);
                }
                rd_kafka_poll(pl->producer, 0);
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
        }

        /* Stop in order: finish deliveries, commit what they cover, leave
         * the group (the revoke callback commits once more). */
        fprintf(stderr, "leadscore: stopping%s\n",
                pl->fatal ? " after a fatal error" : "");
        ls_pl_flush(pl);
        ls_pl_commit(pl, NULL);
        ls_pl_close(pl);
        ls_pl_flush(pl);
        fprintf(stderr,
                "leadscore: stopped: consumed %" PRIu64 ", applied %" PRIu64
                ", outputs %" PRIu64 " (alerts %" PRIu64 "), dead letters %" PRIu64
                ", duplicates %" PRIu64 ", delivery failures %" PRIu64 "\n",
                pl->stats.consumed, pl->stats.applied, pl->stats.outputs,
                pl->stats.alerts, pl->stats.dead_letters, pl->stats.duplicates,
                pl->stats.delivery_failures);
        if (pl->fatal)
                return ls_seterr(errstr, errstr_size, pl->fatal_err, "%s",
                                 pl->fatal_str);
        return LS_OK;
}

void ls_pipeline_stop(ls_pipeline_t *pl) {
        atomic_store(&pl->stop_req, 1);
}

const char *ls_pipeline_bootstrap(const ls_pipeline_t *pl) {
        return pl->bootstrap;
}

uint64_t ls_pipeline_consumed(const ls_pipeline_t *pl) {
        return atomic_load(&((ls_pipeline_t *)pl)->n_consumed);
}

void ls_pipeline_stats(const ls_pipeline_t *pl, ls_pipeline_stats_t *stats) {
        *stats = pl->stats;
}

void ls_pipeline_destroy(ls_pipeline_t *pl) {
        int32_t p;
        int t;

        if (!pl)
                return;
        if (pl->consumer) {
                ls_pl_close(pl);
                rd_kafka_destroy(pl->consumer);
        }
        if (pl->producer) {
                ls_pl_flush(pl);
                rd_kafka_destroy(pl->producer);
        }
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
        ls_outbuf_free(&pl->ob);
        ls_buf_free(&pl->buf);
        ls_free(pl);
}
