/*
 * ls_replay.c - re-scores history deterministically (see ls_replay.h and
 * docs/REPLAY.md).
 *
 * Topic input: the driving thread reads every partition of the topics by
 * assignment, between the bounds resolved at start, into one record array
 * per partition (value bytes in an arena). A partition whose topics have
 * all reached their end bound is queued; worker threads, each owning a
 * whole partition at a time, sort its records by (message timestamp,
 * topic name, offset), decode them with their own codec and score them
 * with the partition's shard(s). File input: the driving thread reads the
 * files in order into one shard.
 *
 * Ordered writer: each partition's encoded outputs collect in its own
 * buffers. The partition at the head of the write order writes its
 * buffers whenever they pass a few MiB; the others write when they become
 * the head. So the output is in partition order whatever the thread
 * timing, and a single partition streams with bounded memory. Kafka
 * output is produced by the workers directly (librdkafka keeps per-lead
 * order: one lead lives in one partition, scored by one thread).
 *
 * Avro files are object container files whose 16-byte sync marker is a
 * hash of the schema text, so that equal runs give equal bytes.
 */
#include "leadscore/ls_replay.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <avro.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <openssl/evp.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_json.h"
#include "leadscore/ls_keys.h"
#include "leadscore/ls_merge.h"
#include "leadscore/ls_scorer.h"

#define LS_RP_WRITE_AT (4u << 20)   /* head partition writes past this */
#define LS_RP_BLOCK_AT (256u << 10) /* Avro block size */
#define LS_RP_BATCH 10000           /* messages per consume call */
#define LS_RP_STALL_MS 30000        /* no data for this long: error */
#define LS_RP_MAX_THREADS 64

/** One record read from a topic. */
typedef struct ls_rp_rec_s {
        int64_t ts;
        int64_t offset;
        uint64_t val_off; /* into ls_rp_part_t.data; the key follows */
        uint32_t val_len;
        uint32_t key_len; /* LS_RP_NO_KEY: the record has none */
        uint8_t topic;    /* 0 events, 1 profiles */
} ls_rp_rec_t;

#define LS_RP_NO_KEY UINT32_MAX

/** One input partition (or the one file shard). */
typedef struct ls_rp_part_s {
        int32_t p;
        ls_rp_rec_t *recs;
        size_t n_recs, size_recs;
        ls_buf_t data;
        int64_t start[2], end[2]; /* per topic, [start, end) */
        int done[2];              /* topic read up to its end */
        int queued;
        ls_shard_t *shard[2];
        ls_buf_t out[2]; /* encoded bytes for out file 0 / 1 */
        ls_buf_t blk[2]; /* Avro: records of the open block */
        uint64_t blk_n[2];
        int finished; /* scored, outputs complete */
        ls_verdicts_t verdicts;
        uint64_t outputs;
} ls_rp_part_t;

/** Per-thread scoring context. */
typedef struct ls_rp_worker_s {
        struct ls_replay_s *rp;
        pthread_t tid;
        int started;
        ls_codec_t *codec;  /* topics and Avro files */
        ls_codec_t *jcodec; /* JSON-lines files */
        ls_outbuf_t ob[2];
        ls_buf_t enc;
} ls_rp_worker_t;

/** Where a record came from, for messages. */
typedef struct ls_rp_loc_s {
        const char *name;  /* topic or file */
        int32_t partition; /* -1 for files */
        int64_t pos;       /* offset, line or record number */
        const char *unit;  /* "offset", NULL (file:line), "record" */
} ls_rp_loc_t;

struct ls_replay_s {
        ls_replay_conf_t conf;
        char errbuf[512];

        ls_rp_part_t *parts;
        int32_t n_parts;
        int32_t topic_parts[2]; /* partitions of each input topic (the
                                    * key rule, ls_keys.h); 0 = files */

        /* outputs */
        FILE *out[2];
        const char *out_name[2];
        char *alerts_path; /* derived alerts file name */
        int out_std;       /* out[0] is a dup of stdout */
        uint8_t sync[2][16];
        rd_kafka_t *producer;
        atomic_uint_least64_t dr_failed;
        char dr_err[256];

        /* work queue and ordered writer */
        pthread_mutex_t mu;
        pthread_cond_t cond;
        int32_t *queue;
        int32_t q_head, q_tail;
        int32_t next_write;
        int read_done;
        int failed;
        ls_err_t fail_err;
        char fail_str[512];
        ls_rp_worker_t *workers;
        int n_workers;

        /* progress */
        atomic_uint_least64_t scored;
        uint64_t records;       /* read */
        uint64_t out_of_bounds; /* fetched, outside a time bound */
        uint64_t total;         /* records (topics) or bytes (files) */
        uint64_t done_bytes;
        int total_is_bytes;
        double t0, last_draw, t_read;
        int drawn;

        ls_replay_stats_t stats;
};

/* ---------------------------------------------------------------- utils */

static double ls_rp_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/** Records the first fatal error; later ones are dropped. */
static void ls_rp_fail(ls_replay_t *rp, ls_err_t err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void ls_rp_fail(ls_replay_t *rp, ls_err_t err, const char *fmt, ...) {
        va_list ap;

        pthread_mutex_lock(&rp->mu);
        if (!rp->failed) {
                rp->failed = 1;
                rp->fail_err = err;
                va_start(ap, fmt);
                vsnprintf(rp->fail_str, sizeof(rp->fail_str), fmt, ap);
                va_end(ap);
        }
        pthread_cond_broadcast(&rp->cond);
        pthread_mutex_unlock(&rp->mu);
}

static int ls_rp_failed(ls_replay_t *rp) {
        int f;

        pthread_mutex_lock(&rp->mu);
        f = rp->failed;
        pthread_mutex_unlock(&rp->mu);
        return f;
}

ls_err_t ls_replay_bound_parse(const char *s, ls_replay_bound_t *bound,
                               char *errstr, size_t errstr_size) {
        char *end;
        long long v;
        int64_t ms;

        if (!s || !*s)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "empty bound");
        if (!strcmp(s, "earliest")) {
                bound->kind = LS_REPLAY_EARLIEST;
                bound->value = 0;
                return LS_OK;
        }
        if (!strcmp(s, "latest")) {
                bound->kind = LS_REPLAY_LATEST;
                bound->value = 0;
                return LS_OK;
        }
        if (*s >= '0' && *s <= '9') {
                errno = 0;
                v = strtoll(s, &end, 10);
                if (errno == 0 && (*end == '\0' || !strcmp(end, "ms"))) {
                        bound->kind = *end ? LS_REPLAY_TIME : LS_REPLAY_OFFSET;
                        bound->value = v;
                        return LS_OK;
                }
        }
        if (ls_json_parse_time(s, &ms) == LS_OK) {
                bound->kind = LS_REPLAY_TIME;
                bound->value = ms;
                return LS_OK;
        }
        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                         "'%s' is not earliest, latest, an offset, "
                         "<ms>ms or an RFC 3339 time",
                         s);
}

static void ls_rp_zigzag(ls_buf_t *b, int64_t v) {
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        uint8_t tmp[10];
        size_t n = 0;

        while (u >= 0x80) {
                tmp[n++] = (uint8_t)(u | 0x80);
                u >>= 7;
        }
        tmp[n++] = (uint8_t)u;
        ls_buf_append(b, tmp, n);
}

/* ------------------------------------------------------------- progress */

static void ls_rp_progress(ls_replay_t *rp, int force) {
        double now = ls_rp_now(), el, rate;
        uint64_t done, total;
        char eta[32] = "";

        if (!rp->conf.progress || (!force && now - rp->last_draw < 0.5))
                return;
        rp->last_draw = now;
        el = now - rp->t0;
        done = rp->total_is_bytes ? rp->done_bytes : atomic_load(&rp->scored);
        total = rp->total;
        rate = el > 0 ? (double)atomic_load(&rp->scored) / el : 0;
        if (total > 0 && done > 0 && done <= total && el > 0)
                snprintf(eta, sizeof(eta), " ETA %.0fs",
                         el * (double)(total - done) / (double)done);
        if (rp->total_is_bytes)
                fprintf(stderr,
                        "\rreplay: %" PRIu64 " records, %.1f/%.1f MB (%.0f%%) "
                        "%.0f rec/s%s\033[K",
                        (uint64_t)atomic_load(&rp->scored), done / 1e6,
                        total / 1e6, total ? 100.0 * done / total : 100.0, rate,
                        eta);
        else
                fprintf(stderr,
                        "\rreplay: read %" PRIu64 ", scored %" PRIu64
                        "/%" PRIu64 " (%.0f%%) %.0f rec/s%s\033[K",
                        rp->records, done, total,
                        total ? 100.0 * done / total : 100.0, rate, eta);
        rp->drawn = 1;
}

static void ls_rp_progress_end(ls_replay_t *rp) {
        if (rp->drawn) {
                ls_rp_progress(rp, 1);
                fputc('\n', stderr);
                rp->drawn = 0;
        }
}

/* ------------------------------------------------------- ordered writer */

static int ls_rp_write(ls_replay_t *rp, ls_rp_part_t *part) {
        int k;

        for (k = 0; k < 2; k++) {
                if (!part->out[k].len)
                        continue;
                if (rp->out[k] && fwrite(part->out[k].data, 1, part->out[k].len,
                                         rp->out[k]) != part->out[k].len) {
                        rp->failed = 1;
                        rp->fail_err = LS_ERR_IO;
                        snprintf(rp->fail_str, sizeof(rp->fail_str),
                                 "%s: write error: %s", rp->out_name[k],
                                 strerror(errno));
                        return -1;
                }
                ls_buf_reset(&part->out[k]);
        }
        return 0;
}

/**
 * Writes what @p part has if it is the head of the write order; when
 * @p finished, marks it complete and writes every complete partition
 * that follows in order.
 */
static void ls_rp_writer(ls_replay_t *rp, ls_rp_part_t *part, int finished) {
        pthread_mutex_lock(&rp->mu);
        if (!rp->failed && rp->next_write < rp->n_parts &&
            &rp->parts[rp->next_write] == part)
                ls_rp_write(rp, part);
        if (finished) {
                part->finished = 1;
                while (!rp->failed && rp->next_write < rp->n_parts &&
                       rp->parts[rp->next_write].finished) {
                        ls_rp_part_t *h = &rp->parts[rp->next_write];
                        if (ls_rp_write(rp, h))
                                break;
                        ls_buf_free(&h->out[0]);
                        ls_buf_free(&h->out[1]);
                        rp->next_write++;
                }
                pthread_cond_broadcast(&rp->cond);
        }
        pthread_mutex_unlock(&rp->mu);
}

/* ---------------------------------------------------------------- avro */

/** Closes the open Avro block of file @p k of @p part, if any. */
static void ls_rp_avro_block(ls_replay_t *rp, ls_rp_part_t *part, int k) {
        if (!part->blk_n[k])
                return;
        ls_rp_zigzag(&part->out[k], (int64_t)part->blk_n[k]);
        ls_rp_zigzag(&part->out[k], (int64_t)part->blk[k].len);
        ls_buf_append(&part->out[k], part->blk[k].data, part->blk[k].len);
        ls_buf_append(&part->out[k], rp->sync[k], 16);
        ls_buf_reset(&part->blk[k]);
        part->blk_n[k] = 0;
}

static ls_err_t ls_rp_avro_header(ls_replay_t *rp, int k, const char *file,
                                  char *errstr, size_t errstr_size) {
        ls_buf_t hdr;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        char *schema;
        size_t len;
        ls_err_t err;

        /* The codec's text of the schema: built in, or the configured
         * directory's. */
        if ((err = ls_codec_schema_text(rp->conf.schema_dir, file, &schema,
                                        errstr, errstr_size)))
                return err;
        if (!(len = strlen(schema))) {
                ls_free(schema);
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: empty schema", file);
        }
        ls_buf_init(&hdr);
        /* Deterministic sync marker: the schema's hash. */
        EVP_Digest(schema, len, md, &md_len, EVP_sha256(), NULL);
        memcpy(rp->sync[k], md, 16);
        ls_buf_append(&hdr, "Obj\x01", 4);
        ls_rp_zigzag(&hdr, 2); /* metadata map: one block of 2 entries */
        ls_rp_zigzag(&hdr, 11);
        ls_buf_append(&hdr, "avro.schema", 11);
        ls_rp_zigzag(&hdr, (int64_t)len);
        ls_buf_append(&hdr, schema, len);
        ls_rp_zigzag(&hdr, 10);
        ls_buf_append(&hdr, "avro.codec", 10);
        ls_rp_zigzag(&hdr, 4);
        ls_buf_append(&hdr, "null", 4);
        ls_rp_zigzag(&hdr, 0);
        ls_buf_append(&hdr, rp->sync[k], 16);
        if (!hdr.data || fwrite(hdr.data, 1, hdr.len, rp->out[k]) != hdr.len)
                err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                "%s: write error: %s", rp->out_name[k],
                                strerror(errno));
        ls_free(schema);
        ls_buf_free(&hdr);
        return err;
}

/* --------------------------------------------------------------- kafka */

static void ls_rp_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                        void *opaque) {
        ls_replay_t *rp = opaque;

        if (rkm->err && atomic_fetch_add(&rp->dr_failed, 1) == 0)
                snprintf(rp->dr_err, sizeof(rp->dr_err), "%s [%" PRId32 "]: %s",
                         rd_kafka_topic_name(rkm->rkt), rkm->partition,
                         rd_kafka_err2str(rkm->err));
}

/** Applies props to a client configuration. @returns 0 or -1. */
static int ls_rp_kconf(ls_replay_t *rp, rd_kafka_conf_t *kc, const char *name,
                       const char *value, char *errstr, size_t errstr_size) {
        char kerr[512];

        if (rd_kafka_conf_set(kc, name, value, kerr, sizeof(kerr)) !=
            RD_KAFKA_CONF_OK) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID, "kafka %s: %s",
                          name, kerr);
                return -1;
        }
        return 0;
}

static rd_kafka_t *ls_rp_client(ls_replay_t *rp, rd_kafka_type_t type,
                                char *errstr, size_t errstr_size) {
        static const char *const cdefs[][2] = {
                {"group.id", "leadscore-replay"},
                {"queued.min.messages", "10000000"},
                {"queued.max.messages.kbytes", "2097151"},
                {"fetch.message.max.bytes", "16777216"},
                {"fetch.max.bytes", "104857600"},
                {"fetch.wait.max.ms", "100"},
        };
        static const char *const cforced[][2] = {
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"enable.partition.eof", "true"},
        };
        static const char *const pdefs[][2] = {
                {"linger.ms", "20"},
                {"batch.num.messages", "10000"},
                {"queue.buffering.max.messages", "2000000"},
                {"queue.buffering.max.kbytes", "2097151"},
                {"enable.idempotence", "true"},
        };
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        int consumer = type == RD_KAFKA_CONSUMER;
        const ls_props_t *props = rp->conf.kafka;
        rd_kafka_t *rk;
        char kerr[512];
        size_t i;

        rd_kafka_conf_set_opaque(kc, rp);
        for (i = 0; consumer && i < sizeof(cdefs) / sizeof(cdefs[0]); i++)
                if (ls_rp_kconf(rp, kc, cdefs[i][0], cdefs[i][1], errstr,
                                errstr_size))
                        goto fail;
        for (i = 0; !consumer && i < sizeof(pdefs) / sizeof(pdefs[0]); i++)
                if (ls_rp_kconf(rp, kc, pdefs[i][0], pdefs[i][1], errstr,
                                errstr_size))
                        goto fail;
        for (i = 0; props && i < props->n; i++)
                if (ls_rp_kconf(rp, kc, props->names[i], props->values[i],
                                errstr, errstr_size))
                        goto fail;
        for (i = 0; consumer && i < sizeof(cforced) / sizeof(cforced[0]); i++)
                if (ls_rp_kconf(rp, kc, cforced[i][0], cforced[i][1], errstr,
                                errstr_size))
                        goto fail;
        if (rp->conf.brokers &&
            ls_rp_kconf(rp, kc, "bootstrap.servers", rp->conf.brokers, errstr,
                        errstr_size))
                goto fail;
        if (!consumer)
                rd_kafka_conf_set_dr_msg_cb(kc, ls_rp_dr_cb);
        if (!(rk = rd_kafka_new(type, kc, kerr, sizeof(kerr)))) {
                ls_seterr(errstr, errstr_size, LS_ERR_KAFKA, "%s: %s",
                          consumer ? "consumer" : "producer", kerr);
                goto fail;
        }
        return rk;
fail:
        rd_kafka_conf_destroy(kc);
        return NULL;
}

/* -------------------------------------------------------------- scoring */

static void ls_rp_report_bad(const ls_rp_loc_t *loc, const char *errstr) {
        if (loc->partition >= 0)
                fprintf(stderr, "%s [%" PRId32 "] offset %" PRId64 ": %s\n",
                        loc->name, loc->partition, loc->pos, errstr);
        else if (loc->unit)
                fprintf(stderr, "%s: %s %" PRId64 ": %s\n", loc->name,
                        loc->unit, loc->pos, errstr);
        else
                fprintf(stderr, "%s:%" PRId64 ": %s\n", loc->name, loc->pos,
                        errstr);
}

/** Writes the outputs of model set 0 in w->ob[0] to the sink. */
static int ls_rp_emit(ls_replay_t *rp, ls_rp_worker_t *w, ls_rp_part_t *part) {
        const ls_outbuf_t *ob = &w->ob[0];
        char errstr[512], id[600];
        size_t i;

        for (i = 0; i < ob->n_outs; i++) {
                const ls_output_t *o = &ob->outs[i];
                int k = o->kind == LS_OUT_ALERT;
                ls_err_t err = LS_OK;

                switch (rp->conf.sink) {
                case LS_REPLAY_SINK_FILE:
                        if (rp->conf.output_format == LS_FORMAT_JSON) {
                                if (ls_json_encode_output(ob, o,
                                                          &part->out[0]) ||
                                    ls_buf_append(&part->out[0], "\n", 1))
                                        err = LS_ERR_NOMEM;
                                break;
                        }
                        err = ls_codec_encode_output(w->codec, NULL, ob, o,
                                                     &part->blk[k], errstr,
                                                     sizeof(errstr));
                        part->blk_n[k]++;
                        if (part->blk[k].len >= LS_RP_BLOCK_AT)
                                ls_rp_avro_block(rp, part, k);
                        break;
                case LS_REPLAY_SINK_TOPIC: {
                        const char *topic = k && rp->conf.alerts_topic
                                                    ? rp->conf.alerts_topic
                                                    : rp->conf.output_topic;
                        rd_kafka_headers_t *hdrs;
                        rd_kafka_resp_err_t kerr;

                        ls_buf_reset(&w->enc);
                        err = ls_codec_encode_output(w->codec, topic, ob, o,
                                                     &w->enc, errstr,
                                                     sizeof(errstr));
                        if (err)
                                break;
                        ls_output_id(o, id, sizeof(id));
                        hdrs = rd_kafka_headers_new(3);
                        rd_kafka_header_add(hdrs, "leadscore.model", -1,
                                            o->model->id, -1);
                        rd_kafka_header_add(hdrs, "leadscore.model_version", -1,
                                            o->model->version, -1);
                        rd_kafka_header_add(hdrs, "leadscore.id", -1, id, -1);
                        for (;;) {
                                kerr = rd_kafka_producev(
                                        rp->producer, RD_KAFKA_V_TOPIC(topic),
                                        RD_KAFKA_V_KEY(o->lead_id,
                                                       strlen(o->lead_id)),
                                        RD_KAFKA_V_VALUE(w->enc.data,
                                                         w->enc.len),
                                        RD_KAFKA_V_MSGFLAGS(
                                                RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_HEADERS(hdrs),
                                        RD_KAFKA_V_END);
                                if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                        break;
                                rd_kafka_poll(rp->producer, 50);
                        }
                        if (kerr) {
                                rd_kafka_headers_destroy(hdrs);
                                ls_rp_fail(rp, LS_ERR_KAFKA,
                                           "cannot produce to %s: %s", topic,
                                           rd_kafka_err2str(kerr));
                                return -1;
                        }
                        break;
                }
                default:
                        break;
                }
                if (err) {
                        ls_rp_fail(rp, err, "encoding output of lead %s: %s",
                                   o->lead_id,
                                   err == LS_ERR_NOMEM ? "out of memory"
                                                       : errstr);
                        return -1;
                }
                part->outputs++;
        }
        if (part->out[0].len + part->out[1].len >= LS_RP_WRITE_AT)
                ls_rp_writer(rp, part, 0);
        return 0;
}

/** Scores one record with @p codec into the partition's shard(s). */
static int ls_rp_feed(ls_replay_t *rp, ls_rp_worker_t *w, ls_rp_part_t *part,
                      ls_codec_t *codec, const ls_record_t *rec,
                      const ls_rp_loc_t *loc) {
        char errstr[512];
        ls_verdict_t v;
        ls_err_t err;
        size_t s;

        for (s = 0; s < rp->conf.n_ms; s++)
                ls_outbuf_reset(&w->ob[s]);
        v = ls_scorer_feed(codec, rec, part->shard, w->ob, rp->conf.n_ms, &err,
                           errstr, sizeof(errstr));
        if (v == LS_V_ERROR) {
                if (loc->partition >= 0)
                        ls_rp_fail(rp, err,
                                   "%s [%" PRId32 "] offset %" PRId64 ": %s",
                                   loc->name, loc->partition, loc->pos, errstr);
                else
                        ls_rp_fail(rp, err, "%s: %s", loc->name, errstr);
                return -1;
        }
        if (ls_rp_emit(rp, w, part))
                return -1;
        part->verdicts.n[v]++;
        if (ls_verdict_rejected(v))
                ls_rp_report_bad(loc, errstr);
        return 0;
}

/* ------------------------------------------------------- topic scoring */

/** @p r of partition @p part as the scorer and the merge see it. */
static void ls_rp_record(const ls_replay_t *rp, const ls_rp_part_t *part,
                         const ls_rp_rec_t *r, ls_record_t *rec) {
        const char *val = part->data.data ? part->data.data + r->val_off : "";

        rec->kind = r->topic ? LS_INPUT_PROFILE : LS_INPUT_EVENT;
        rec->value = val;
        rec->len = r->val_len;
        rec->topic = r->topic ? rp->conf.topic_profiles : rp->conf.topic_events;
        rec->key = r->key_len == LS_RP_NO_KEY ? NULL : val + r->val_len;
        rec->key_len = r->key_len == LS_RP_NO_KEY ? 0 : r->key_len;
        rec->partition = part->p;
        rec->partition_cnt = rp->topic_parts[r->topic];
        rec->timestamp = r->ts;
}

/**
 * Puts the partition's records in the merge order of `leadscore run`
 * (ls_merge.h). The records were read in offset order per topic.
 */
static int ls_rp_merge_part(ls_replay_t *rp, ls_rp_worker_t *w,
                            ls_rp_part_t *part, size_t **orderp) {
        int64_t *time = ls_malloc(part->n_recs * sizeof(*time) + 1);
        uint8_t *topic = ls_malloc(part->n_recs + 1);
        size_t *order = ls_malloc(part->n_recs * sizeof(*order) + 1);
        ls_record_t rec;
        size_t i;

        if (!time || !topic || !order) {
                ls_free(time);
                ls_free(topic);
                ls_free(order);
                ls_rp_fail(rp, LS_ERR_NOMEM,
                           "out of memory ordering "
                           "partition %" PRId32,
                           part->p);
                return -1;
        }
        for (i = 0; i < part->n_recs; i++) {
                ls_rp_record(rp, part, &part->recs[i], &rec);
                time[i] = ls_merge_time(w->codec, &rec, rp->conf.ms[0]);
                topic[i] = part->recs[i].topic;
        }
        ls_merge_order(time, topic, part->n_recs, order);
        ls_free(time);
        ls_free(topic);
        *orderp = order;
        return 0;
}

static void ls_rp_score_part(ls_replay_t *rp, ls_rp_worker_t *w,
                             ls_rp_part_t *part) {
        size_t i, *order = NULL;
        ls_record_t rec;
        ls_rp_loc_t loc;
        int k;

        if (ls_rp_merge_part(rp, w, part, &order))
                return;
        for (i = 0; i < part->n_recs; i++) {
                const ls_rp_rec_t *r = &part->recs[order[i]];

                if (i % 4096 == 0 && ls_rp_failed(rp))
                        break;
                ls_rp_record(rp, part, r, &rec);
                loc.name = rec.topic;
                loc.partition = part->p;
                loc.pos = r->offset;
                loc.unit = "offset";
                if (ls_rp_feed(rp, w, part, w->codec, &rec, &loc))
                        break;
                atomic_fetch_add(&rp->scored, 1);
        }
        ls_free(order);
        if (i < part->n_recs)
                return;
        ls_free(part->recs);
        part->recs = NULL;
        ls_buf_free(&part->data);
        for (k = 0; k < 2; k++)
                ls_rp_avro_block(rp, part, k);
        ls_rp_writer(rp, part, 1);
}

static void *ls_rp_worker_main(void *arg) {
        ls_rp_worker_t *w = arg;
        ls_replay_t *rp = w->rp;
        int32_t p;

        for (;;) {
                pthread_mutex_lock(&rp->mu);
                while (rp->q_head == rp->q_tail && !rp->read_done &&
                       !rp->failed)
                        pthread_cond_wait(&rp->cond, &rp->mu);
                if (rp->failed || rp->q_head == rp->q_tail) {
                        pthread_mutex_unlock(&rp->mu);
                        return NULL;
                }
                p = rp->queue[rp->q_head++];
                pthread_mutex_unlock(&rp->mu);
                ls_rp_score_part(rp, w, &rp->parts[p]);
        }
}

static ls_err_t ls_rp_worker_init(ls_replay_t *rp, ls_rp_worker_t *w,
                                  char *errstr, size_t errstr_size) {
        ls_codec_conf_t cc;

        memset(w, 0, sizeof(*w));
        w->rp = rp;
        ls_outbuf_init(&w->ob[0]);
        ls_outbuf_init(&w->ob[1]);
        ls_buf_init(&w->enc);
        memset(&cc, 0, sizeof(cc));
        cc.input_format = rp->conf.input_format;
        cc.output_format = rp->conf.output_format;
        cc.schema_dir = rp->conf.schema_dir;
        cc.registry_url = rp->conf.registry_url;
        cc.registry = rp->conf.registry;
        cc.max_record_bytes = rp->conf.max_record_bytes;
        if (!(w->codec = ls_codec_new(&cc, errstr, errstr_size)))
                return LS_ERR_INVALID;
        cc.input_format = LS_FORMAT_JSON;
        if (!(w->jcodec = ls_codec_new(&cc, errstr, errstr_size)))
                return LS_ERR_INVALID;
        return LS_OK;
}

static void ls_rp_worker_free(ls_rp_worker_t *w) {
        ls_codec_destroy(w->codec);
        ls_codec_destroy(w->jcodec);
        ls_outbuf_free(&w->ob[0]);
        ls_outbuf_free(&w->ob[1]);
        ls_buf_free(&w->enc);
}

/* ----------------------------------------------------------- the shards */

static ls_err_t ls_rp_read_file(const char *path, ls_buf_t *buf, char *errstr,
                                size_t errstr_size) {
        char chunk[65536];
        size_t n;
        FILE *fp = fopen(path, "rb");

        if (!fp)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: %s", path,
                                 strerror(errno));
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
                if (ls_buf_append(buf, chunk, n)) {
                        fclose(fp);
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "%s: out of memory", path);
                }
        if (ferror(fp)) {
                fclose(fp);
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: read error", path);
        }
        fclose(fp);
        return LS_OK;
}

/**
 * Creates the shards of every partition; model set 0 starts from the
 * snapshot: a file of ls_shard_save() bytes (one shard) or a directory
 * of <partition>.state files.
 */
static ls_err_t ls_rp_make_shards(ls_replay_t *rp, char *errstr,
                                  size_t errstr_size) {
        const char *snap = rp->conf.snapshot;
        struct stat st;
        int is_dir = 0;
        int32_t p;
        size_t s;

        if (snap) {
                if (stat(snap, &st) != 0)
                        return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                         "--snapshot %s: %s", snap,
                                         strerror(errno));
                is_dir = S_ISDIR(st.st_mode);
                if (!is_dir && rp->n_parts > 1)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "--snapshot %s: a file holds one "
                                         "shard but the input has %" PRId32
                                         " partitions; give a directory of "
                                         "<partition>.state files",
                                         snap, rp->n_parts);
        }
        for (p = 0; p < rp->n_parts; p++) {
                ls_rp_part_t *part = &rp->parts[p];
                for (s = 0; s < rp->conf.n_ms; s++) {
                        char path[4096], why[512];
                        ls_buf_t buf;
                        /* Only the first model's shards come from the
                         * snapshot; a directory may lack a partition. */
                        int fresh = s > 0 || !snap;

                        if (!fresh && is_dir) {
                                snprintf(path, sizeof(path),
                                         "%s/%" PRId32 ".state", snap, p);
                                fresh = access(path, F_OK) != 0;
                        } else if (!fresh) {
                                snprintf(path, sizeof(path), "%s", snap);
                        }
                        if (fresh) {
                                part->shard[s] = ls_shard_new(rp->conf.ms[s]);
                                if (!part->shard[s])
                                        return ls_seterr(errstr, errstr_size,
                                                         LS_ERR_NOMEM,
                                                         "out of memory");
                                continue;
                        }
                        ls_buf_init(&buf);
                        if (ls_rp_read_file(path, &buf, errstr, errstr_size)) {
                                ls_buf_free(&buf);
                                return LS_ERR_IO;
                        }
                        part->shard[s] = ls_shard_load(
                                rp->conf.ms[s], buf.data ? buf.data : "",
                                buf.len, why, sizeof(why));
                        ls_buf_free(&buf);
                        if (!part->shard[s])
                                return ls_seterr(
                                        errstr, errstr_size, LS_ERR_INVALID,
                                        "--snapshot %s: %s", path, why);
                }
        }
        return LS_OK;
}

static ls_err_t ls_rp_alloc_parts(ls_replay_t *rp, int32_t n, char *errstr,
                                  size_t errstr_size) {
        int32_t p;

        rp->parts = ls_calloc((size_t)n, sizeof(*rp->parts));
        rp->queue = ls_calloc((size_t)n, sizeof(*rp->queue));
        if (!rp->parts || !rp->queue)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        rp->n_parts = n;
        for (p = 0; p < n; p++) {
                rp->parts[p].p = p;
                ls_buf_init(&rp->parts[p].data);
                ls_buf_init(&rp->parts[p].out[0]);
                ls_buf_init(&rp->parts[p].out[1]);
                ls_buf_init(&rp->parts[p].blk[0]);
                ls_buf_init(&rp->parts[p].blk[1]);
        }
        return ls_rp_make_shards(rp, errstr, errstr_size);
}

/* -------------------------------------------------------- topic reading */

static void ls_rp_enqueue_ready(ls_replay_t *rp, ls_rp_part_t *part) {
        if (part->queued || !part->done[0] || !part->done[1])
                return;
        part->queued = 1;
        pthread_mutex_lock(&rp->mu);
        rp->queue[rp->q_tail++] = part->p;
        pthread_cond_broadcast(&rp->cond);
        pthread_mutex_unlock(&rp->mu);
}

/** Resolves a bound of every partition of @p topic into offs[]. */
static ls_err_t ls_rp_resolve(ls_replay_t *rp, rd_kafka_t *rk,
                              const char *topic, int32_t n,
                              const ls_replay_bound_t *b, const int64_t *lo,
                              const int64_t *hi, int64_t *offs, char *errstr,
                              size_t errstr_size) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t kerr;
        int32_t p;
        int i;

        if (b->kind != LS_REPLAY_TIME) {
                for (p = 0; p < n; p++) {
                        int64_t o = b->kind == LS_REPLAY_EARLIEST ? lo[p]
                                    : b->kind == LS_REPLAY_LATEST ? hi[p]
                                                                  : b->value;
                        offs[p] = o < lo[p] ? lo[p] : o > hi[p] ? hi[p] : o;
                }
                return LS_OK;
        }
        l = rd_kafka_topic_partition_list_new(n);
        for (p = 0; p < n; p++)
                rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                        b->value;
        kerr = rd_kafka_offsets_for_times(rk, l, 10000);
        if (kerr) {
                rd_kafka_topic_partition_list_destroy(l);
                return ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                 "%s: offsets for time %" PRId64 ": %s", topic,
                                 b->value, rd_kafka_err2str(kerr));
        }
        for (i = 0; i < l->cnt; i++) {
                p = l->elems[i].partition;
                if (l->elems[i].err) {
                        ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                  "%s [%" PRId32 "]: offsets for time: %s",
                                  topic, p, rd_kafka_err2str(l->elems[i].err));
                        rd_kafka_topic_partition_list_destroy(l);
                        return LS_ERR_KAFKA;
                }
                /* -1: no record at or after the time, or a broker without
                 * a time index (the test broker): a start bound then scans
                 * from the beginning; the timestamp filter decides. */
                offs[p] = l->elems[i].offset >= 0 ? l->elems[i].offset
                          : b == &rp->conf.from   ? lo[p]
                                                  : hi[p];
                if (offs[p] < lo[p])
                        offs[p] = lo[p];
                if (offs[p] > hi[p])
                        offs[p] = hi[p];
        }
        rd_kafka_topic_partition_list_destroy(l);
        return LS_OK;
}

/** Reads the topic ranges, handing complete partitions to the workers. */
static ls_err_t ls_rp_read_topics(ls_replay_t *rp, rd_kafka_t *rk, char *errstr,
                                  size_t errstr_size) {
        const char *names[2] = {rp->conf.topic_events, rp->conf.topic_profiles};
        int n_topics = names[1] ? 2 : 1;
        int32_t counts[2] = {0, 0}, n = 0, p;
        int64_t *lo = NULL, *hi = NULL, *from = NULL, *to = NULL;
        rd_kafka_topic_partition_list_t *assign;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_message_t **msgs = NULL;
        rd_kafka_resp_err_t kerr;
        ls_err_t err = LS_OK;
        int t, left = 0;
        double last_data;
        int64_t ts_from = rp->conf.from.kind == LS_REPLAY_TIME
                                  ? rp->conf.from.value
                                  : INT64_MIN;
        int64_t ts_to = rp->conf.to.kind == LS_REPLAY_TIME ? rp->conf.to.value
                                                           : INT64_MAX;

        for (t = 0; t < n_topics; t++) {
                counts[t] = ls_keys_partition_count(rk, names[t], 10000, errstr,
                                                    errstr_size);
                if (counts[t] < 0)
                        return LS_ERR_KAFKA;
                if (counts[t] > n)
                        n = counts[t];
        }
        rp->topic_parts[0] = counts[0];
        rp->topic_parts[1] = n_topics == 2 ? counts[1] : 0;
        if (n_topics == 2 && counts[0] != counts[1])
                fprintf(stderr,
                        "leadscore replay: warning: %s has %" PRId32
                        " partitions and %s %" PRId32
                        "; they should be co-partitioned\n",
                        names[0], counts[0], names[1], counts[1]);
        if ((err = ls_rp_alloc_parts(rp, n, errstr, errstr_size)))
                return err;
        lo = ls_calloc((size_t)n, sizeof(*lo));
        hi = ls_calloc((size_t)n, sizeof(*hi));
        from = ls_calloc((size_t)n, sizeof(*from));
        to = ls_calloc((size_t)n, sizeof(*to));
        msgs = ls_calloc(LS_RP_BATCH, sizeof(*msgs));
        assign = rd_kafka_topic_partition_list_new(n * 2);
        if (!lo || !hi || !from || !to || !msgs) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                "out of memory");
                goto done;
        }
        for (p = 0; p < n; p++)
                rp->parts[p].done[0] = rp->parts[p].done[1] = 1;
        for (t = 0; t < n_topics; t++) {
                for (p = 0; p < counts[t]; p++) {
                        kerr = rd_kafka_query_watermark_offsets(
                                rk, names[t], p, &lo[p], &hi[p], 10000);
                        if (kerr) {
                                err = ls_seterr(
                                        errstr, errstr_size, LS_ERR_KAFKA,
                                        "%s [%" PRId32 "]: watermarks: %s",
                                        names[t], p, rd_kafka_err2str(kerr));
                                goto done;
                        }
                }
                if ((err = ls_rp_resolve(rp, rk, names[t], counts[t],
                                         &rp->conf.from, lo, hi, from, errstr,
                                         errstr_size)) ||
                    (err = ls_rp_resolve(rp, rk, names[t], counts[t],
                                         &rp->conf.to, lo, hi, to, errstr,
                                         errstr_size)))
                        goto done;
                for (p = 0; p < counts[t]; p++) {
                        ls_rp_part_t *part = &rp->parts[p];
                        part->start[t] = from[p];
                        part->end[t] = to[p];
                        if (from[p] >= to[p])
                                continue;
                        part->done[t] = 0;
                        left++;
                        rp->total += (uint64_t)(to[p] - from[p]);
                        rd_kafka_topic_partition_list_add(assign, names[t], p)
                                ->offset = from[p];
                }
        }
        for (p = 0; p < n; p++)
                ls_rp_enqueue_ready(rp, &rp->parts[p]);
        if (left == 0)
                goto done;
        if ((kerr = rd_kafka_assign(rk, assign))) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA, "assign: %s",
                                rd_kafka_err2str(kerr));
                goto done;
        }
        q = rd_kafka_queue_get_consumer(rk);
        last_data = ls_rp_now();
        while (left > 0 && !ls_rp_failed(rp)) {
                ssize_t got =
                        rd_kafka_consume_batch_queue(q, 200, msgs, LS_RP_BATCH);
                ssize_t i;

                if (got < 0) {
                        err = ls_seterr(
                                errstr, errstr_size, LS_ERR_KAFKA,
                                "consume: %s",
                                rd_kafka_err2str(rd_kafka_last_error()));
                        goto done;
                }
                if (got > 0)
                        last_data = ls_rp_now();
                for (i = 0; i < got; i++) {
                        rd_kafka_message_t *m = msgs[i];
                        const char *tn =
                                m->rkt ? rd_kafka_topic_name(m->rkt) : "";
                        ls_rp_part_t *part;
                        ls_rp_rec_t *r;
                        rd_kafka_timestamp_type_t tstype;
                        int64_t ts;

                        t = !strcmp(tn, names[0]) ? 0 : 1;
                        if (m->partition < 0 || m->partition >= n ||
                            (t == 1 && (!names[1] || strcmp(tn, names[1])))) {
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        part = &rp->parts[m->partition];
                        if (m->err) {
                                if (m->err !=
                                            RD_KAFKA_RESP_ERR__PARTITION_EOF &&
                                    err == LS_OK)
                                        err = ls_seterr(
                                                errstr, errstr_size,
                                                LS_ERR_KAFKA,
                                                "%s [%" PRId32 "]: %s", tn,
                                                m->partition,
                                                rd_kafka_message_errstr(m));
                                else if (!part->done[t] &&
                                         m->offset >= part->end[t]) {
                                        part->done[t] = 1;
                                        left--;
                                }
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        if (part->done[t] || m->offset >= part->end[t]) {
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        ts = rd_kafka_message_timestamp(m, &tstype);
                        if (ts < ts_from || ts >= ts_to) {
                                /* outside a time bound */
                                rp->out_of_bounds++;
                                if (m->offset + 1 >= part->end[t]) {
                                        part->done[t] = 1;
                                        left--;
                                        ls_rp_enqueue_ready(rp, part);
                                }
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        if (part->n_recs == part->size_recs) {
                                size_t ns = part->size_recs
                                                    ? part->size_recs * 2
                                                    : 1024;
                                ls_rp_rec_t *nr = ls_realloc(part->recs,
                                                             ns * sizeof(*nr));
                                if (!nr) {
                                        rd_kafka_message_destroy(m);
                                        err = ls_seterr(errstr, errstr_size,
                                                        LS_ERR_NOMEM,
                                                        "out of memory");
                                        continue;
                                }
                                part->recs = nr;
                                part->size_recs = ns;
                        }
                        r = &part->recs[part->n_recs++];
                        r->ts = ts;
                        r->offset = m->offset;
                        r->topic = (uint8_t)t;
                        r->val_off = part->data.len;
                        r->val_len = (uint32_t)m->len;
                        r->key_len =
                                m->key ? (uint32_t)m->key_len : LS_RP_NO_KEY;
                        if ((m->len &&
                             ls_buf_append(&part->data, m->payload, m->len)) ||
                            (m->key && m->key_len &&
                             ls_buf_append(&part->data, m->key, m->key_len)))
                                err = ls_seterr(errstr, errstr_size,
                                                LS_ERR_NOMEM, "out of memory");
                        rp->records++;
                        if (m->offset + 1 >= part->end[t]) {
                                part->done[t] = 1;
                                left--;
                        }
                        rd_kafka_message_destroy(m);
                        ls_rp_enqueue_ready(rp, part);
                }
                if (err)
                        goto done;
                for (p = 0; p < n; p++)
                        ls_rp_enqueue_ready(rp, &rp->parts[p]);
                ls_rp_progress(rp, 0);
                if (ls_rp_now() - last_data > LS_RP_STALL_MS / 1000.0) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                        "no data for %d s with %d topic "
                                        "partitions short of their end "
                                        "bound",
                                        LS_RP_STALL_MS / 1000, left);
                        goto done;
                }
        }
done:
        rp->t_read = ls_rp_now();
        if (q)
                rd_kafka_queue_destroy(q);
        rd_kafka_assign(rk, NULL);
        rd_kafka_topic_partition_list_destroy(assign);
        ls_free(lo);
        ls_free(hi);
        ls_free(from);
        ls_free(to);
        ls_free(msgs);
        return err;
}

static ls_err_t ls_rp_run_topics(ls_replay_t *rp, char *errstr,
                                 size_t errstr_size) {
        rd_kafka_t *rk;
        ls_err_t err;
        int i, n;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

        if (!(rk = ls_rp_client(rp, RD_KAFKA_CONSUMER, errstr, errstr_size)))
                return LS_ERR_KAFKA;
        rd_kafka_poll_set_consumer(rk);
        n = rp->conf.threads > 0 ? rp->conf.threads
                                 : (int)(ncpu > 0 ? ncpu : 1);
        if (n > LS_RP_MAX_THREADS)
                n = LS_RP_MAX_THREADS;
        rp->workers = ls_calloc((size_t)n, sizeof(*rp->workers));
        if (!rp->workers) {
                rd_kafka_destroy(rk);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        }
        rp->n_workers = n;
        for (i = 0; i < n; i++) {
                if ((err = ls_rp_worker_init(rp, &rp->workers[i], errstr,
                                             errstr_size))) {
                        rd_kafka_destroy(rk);
                        return err;
                }
        }
        for (i = 0; i < n; i++) {
                if (pthread_create(&rp->workers[i].tid, NULL, ls_rp_worker_main,
                                   &rp->workers[i]))
                        break;
                rp->workers[i].started = 1;
        }
        err = ls_rp_read_topics(rp, rk, errstr, errstr_size);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);

        pthread_mutex_lock(&rp->mu);
        rp->read_done = 1;
        if (err && !rp->failed) {
                rp->failed = 1;
                rp->fail_err = err;
                snprintf(rp->fail_str, sizeof(rp->fail_str), "%s", errstr);
        }
        pthread_cond_broadcast(&rp->cond);
        while (!rp->failed && rp->next_write < rp->n_parts) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 250 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&rp->cond, &rp->mu, &ts);
                pthread_mutex_unlock(&rp->mu);
                ls_rp_progress(rp, 0);
                pthread_mutex_lock(&rp->mu);
        }
        pthread_mutex_unlock(&rp->mu);
        for (i = 0; i < n; i++)
                if (rp->workers[i].started)
                        pthread_join(rp->workers[i].tid, NULL);
        return LS_OK;
}

/* --------------------------------------------------------- file reading */

static ls_err_t ls_rp_json_file(ls_replay_t *rp, ls_rp_worker_t *w,
                                const char *path, FILE *fp, char *errstr,
                                size_t errstr_size) {
        ls_rp_part_t *part = &rp->parts[0];
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        ls_rp_loc_t loc = {path, -1, 0, NULL};
        ls_record_t rec = {.kind = LS_INPUT_EVENT, .timestamp = -1};

        while ((n = getline(&line, &cap, fp)) != -1) {
                loc.pos++;
                rp->done_bytes += (uint64_t)n;
                if (ls_json_blank(line, (size_t)n))
                        continue;
                rp->records++;
                rec.value = line;
                rec.len = (size_t)n;
                if (ls_rp_feed(rp, w, part, w->jcodec, &rec, &loc))
                        break;
                atomic_fetch_add(&rp->scored, 1);
                if ((rp->records & 4095) == 0)
                        ls_rp_progress(rp, 0);
        }
        free(line); /* allocated by getline() */
        if (ferror(fp))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: read error: %s", path, strerror(errno));
        return LS_OK;
}

static ls_err_t ls_rp_avro_file(ls_replay_t *rp, ls_rp_worker_t *w,
                                const char *path, char *errstr,
                                size_t errstr_size) {
        ls_rp_part_t *part = &rp->parts[0];
        avro_file_reader_t fr = NULL;
        avro_schema_t wschema = NULL, rschema = NULL;
        avro_value_iface_t *wiface = NULL, *riface = NULL, *resolver = NULL;
        avro_value_t wval, rval, resolved;
        int has_w = 0, has_r = 0, has_res = 0, rc;
        ls_input_kind_t kind;
        const char *name, *sfile;
        char spath[4096], *stext = NULL;
        ls_buf_t bin;
        ls_rp_loc_t loc = {path, -1, 0, "record"};
        ls_err_t err = LS_OK;

        ls_buf_init(&bin);
        if (avro_file_reader(path, &fr))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: not an Avro container file: %s", path,
                                 avro_strerror());
        wschema = avro_file_reader_get_writer_schema(fr);
        name = wschema ? avro_schema_name(wschema) : NULL;
        if (name && !strcmp(name, "LeadEvent"))
                kind = LS_INPUT_EVENT;
        else if (name && !strcmp(name, "LeadProfile"))
                kind = LS_INPUT_PROFILE;
        else {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "%s: schema %s is neither LeadEvent nor "
                                "LeadProfile",
                                path, name ? name : "(none)");
                goto done;
        }
        /* Our reader schema: the codec's (built in, or the configured
         * directory's), named in errors as the codec names it. */
        sfile = kind == LS_INPUT_EVENT ? "lead_event.avsc"
                                       : "lead_profile.avsc";
        if (rp->conf.schema_dir && *rp->conf.schema_dir)
                snprintf(spath, sizeof(spath), "%s/%s", rp->conf.schema_dir,
                         sfile);
        else
                snprintf(spath, sizeof(spath), "%s (built in)", sfile);
        if ((err = ls_codec_schema_text(rp->conf.schema_dir, sfile, &stext,
                                        errstr, errstr_size)))
                goto done;
        if (avro_schema_from_json_length(stext, strlen(stext), &rschema)) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID, "%s: %s",
                                spath, avro_strerror());
                goto done;
        }
        wiface = avro_generic_class_from_schema(wschema);
        if (!wiface || avro_generic_value_new(wiface, &wval)) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID, "%s: %s",
                                path, avro_strerror());
                goto done;
        }
        has_w = 1;
        if (!avro_schema_equal(wschema, rschema)) {
                /* Another writer schema: resolve to ours. */
                riface = avro_generic_class_from_schema(rschema);
                resolver = avro_resolved_writer_new(wschema, rschema);
                if (!riface || !resolver ||
                    avro_generic_value_new(riface, &rval)) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                        "%s: writer schema cannot be read "
                                        "as %s: %s",
                                        path, spath, avro_strerror());
                        goto done;
                }
                has_r = 1;
                if (avro_resolved_writer_new_value(resolver, &resolved)) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                        "%s: %s", path, avro_strerror());
                        goto done;
                }
                has_res = 1;
                avro_resolved_writer_set_dest(&resolved, &rval);
        }
        for (;;) {
                avro_value_t *v = has_res ? &rval : &wval;
                size_t size = 0;
                avro_writer_t aw;

                rc = avro_file_reader_read_value(fr,
                                                 has_res ? &resolved : &wval);
                if (rc == EOF)
                        break;
                loc.pos++;
                if (rc) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                        "%s: record %" PRId64 ": %s", path,
                                        loc.pos, avro_strerror());
                        break;
                }
                rp->records++;
                if (avro_value_sizeof(v, &size) ||
                    ls_buf_reserve(&bin, size + 1)) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                        "%s: record %" PRId64 ": %s", path,
                                        loc.pos, avro_strerror());
                        break;
                }
                aw = avro_writer_memory(bin.data, (int64_t)size);
                rc = avro_value_write(aw, v);
                avro_writer_free(aw);
                if (rc == 0) {
                        ls_record_t rec = {.kind = kind,
                                           .value = bin.data,
                                           .len = size,
                                           .timestamp = -1};
                        if (ls_rp_feed(rp, w, part, w->codec, &rec, &loc))
                                break;
                } else {
                        part->verdicts.n[LS_V_DECODE]++;
                        ls_rp_report_bad(&loc, avro_strerror());
                }
                atomic_fetch_add(&rp->scored, 1);
                if ((rp->records & 4095) == 0)
                        ls_rp_progress(rp, 0);
        }
done:
        if (has_res)
                avro_value_decref(&resolved);
        if (resolver)
                avro_value_iface_decref(resolver);
        if (has_r)
                avro_value_decref(&rval);
        if (riface)
                avro_value_iface_decref(riface);
        if (has_w)
                avro_value_decref(&wval);
        if (wiface)
                avro_value_iface_decref(wiface);
        if (rschema)
                avro_schema_decref(rschema);
        if (wschema) /* the reader hands out a new reference */
                avro_schema_decref(wschema);
        if (fr)
                avro_file_reader_close(fr);
        ls_free(stext);
        ls_buf_free(&bin);
        return err;
}

static int ls_rp_is_avro(const ls_replay_t *rp, const char *path) {
        size_t n = strlen(path);

        if (rp->conf.file_format != LS_REPLAY_FILE_AUTO)
                return rp->conf.file_format == LS_REPLAY_FILE_AVRO;
        return n > 5 && !strcmp(path + n - 5, ".avro");
}

static ls_err_t ls_rp_run_files(ls_replay_t *rp, char *errstr,
                                size_t errstr_size) {
        ls_rp_worker_t *w;
        ls_err_t err;
        size_t i;
        struct stat st;

        rp->total_is_bytes = 1;
        /* JSON files go through the JSON decoder; the codec reads Avro. */
        for (i = 0; i < rp->conf.n_inputs; i++)
                if (ls_rp_is_avro(rp, rp->conf.inputs[i]))
                        rp->conf.input_format = LS_FORMAT_AVRO;
        for (i = 0; i < rp->conf.n_inputs; i++)
                if (strcmp(rp->conf.inputs[i], "-") &&
                    stat(rp->conf.inputs[i], &st) == 0)
                        rp->total += (uint64_t)st.st_size;
        if ((err = ls_rp_alloc_parts(rp, 1, errstr, errstr_size)))
                return err;
        rp->workers = ls_calloc(1, sizeof(*rp->workers));
        if (!rp->workers)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        rp->n_workers = 1;
        w = &rp->workers[0];
        if ((err = ls_rp_worker_init(rp, w, errstr, errstr_size)))
                return err;
        for (i = 0; i < rp->conf.n_inputs && !ls_rp_failed(rp); i++) {
                const char *path = rp->conf.inputs[i];
                if (ls_rp_is_avro(rp, path)) {
                        if ((err = ls_rp_avro_file(rp, w, path, errstr,
                                                   errstr_size)))
                                return err;
                } else {
                        FILE *fp = strcmp(path, "-") ? fopen(path, "r")
                                                     : fdopen(dup(0), "r");
                        char *iobuf;
                        if (!fp)
                                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                                 "%s: %s", path,
                                                 strerror(errno));
                        iobuf = ls_malloc(1 << 20);
                        if (iobuf)
                                setvbuf(fp, iobuf, _IOFBF, 1 << 20);
                        err = ls_rp_json_file(
                                rp, w, strcmp(path, "-") ? path : "<stdin>", fp,
                                errstr, errstr_size);
                        fclose(fp);
                        ls_free(iobuf);
                        if (err)
                                return err;
                }
        }
        rp->t_read = ls_rp_now();
        if (!ls_rp_failed(rp)) {
                ls_rp_avro_block(rp, &rp->parts[0], 0);
                ls_rp_avro_block(rp, &rp->parts[0], 1);
                ls_rp_writer(rp, &rp->parts[0], 1);
        }
        return LS_OK;
}

/* ------------------------------------------------------- final / state */

typedef struct ls_rp_final_s {
        ls_replay_t *rp;
        const ls_model_t *model;
        ls_buf_t *buf;
        int err;
} ls_rp_final_t;

static int ls_rp_final_cb(const char *lead_id, const ls_lead_view_t *v,
                          void *opaque) {
        ls_rp_final_t *f = opaque;
        const ls_model_t *m = f->model;
        char cell[64];
        json_t *j;
        char *s;

        snprintf(cell, sizeof(cell), "%s%d", m->grades[v->grade].name,
                 v->band + 1);
        j = json_pack(
                "{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:b}", "lead_id",
                lead_id, "model", m->id, "model_version", m->version, "total",
                (json_int_t)v->total, "fit", (json_int_t)v->fit, "engagement",
                (json_int_t)v->engagement, "grade", m->grades[v->grade].name,
                "band", m->bands[v->band].name, "cell", cell, "mql", v->mql);
        s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!s || ls_buf_append(f->buf, s, strlen(s)) ||
            ls_buf_append(f->buf, "\n", 1)) {
                free(s); /* allocated by jansson */
                f->err = 1;
                return 1;
        }
        free(s); /* allocated by jansson */
        return 0;
}

static ls_err_t ls_rp_write_final(ls_replay_t *rp, char *errstr,
                                  size_t errstr_size) {
        const ls_modelset_t *ms = rp->conf.ms[0];
        ls_rp_final_t f;
        ls_buf_t buf;
        int32_t p;
        size_t m;
        ls_err_t err = LS_OK;

        ls_buf_init(&buf);
        f.rp = rp;
        f.buf = &buf;
        f.err = 0;
        for (p = 0; p < rp->n_parts && !err; p++) {
                for (m = 0; m < ms->n_models && !err; m++) {
                        f.model = &ms->models[m];
                        ls_shard_foreach_lead(rp->parts[p].shard[0], m,
                                              ls_rp_final_cb, &f);
                        if (f.err)
                                err = ls_seterr(errstr, errstr_size,
                                                LS_ERR_NOMEM, "out of memory");
                        else if (buf.len >= LS_RP_WRITE_AT ||
                                 (p == rp->n_parts - 1 &&
                                  m == ms->n_models - 1)) {
                                if (buf.len && fwrite(buf.data, 1, buf.len,
                                                      rp->out[0]) != buf.len)
                                        err = ls_seterr(errstr, errstr_size,
                                                        LS_ERR_IO,
                                                        "%s: write error: %s",
                                                        rp->out_name[0],
                                                        strerror(errno));
                                ls_buf_reset(&buf);
                        }
                }
        }
        ls_buf_free(&buf);
        return err;
}

static ls_err_t ls_rp_save_state(ls_replay_t *rp, char *errstr,
                                 size_t errstr_size) {
        const char *dst = rp->conf.save_state;
        char path[4096];
        ls_buf_t buf;
        int32_t p;
        FILE *fp;
        ls_err_t err = LS_OK;

        if (rp->n_parts > 1 && mkdir(dst, 0777) != 0 && errno != EEXIST)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "--save-state %s: %s", dst, strerror(errno));
        ls_buf_init(&buf);
        for (p = 0; p < rp->n_parts && !err; p++) {
                if (rp->n_parts > 1)
                        snprintf(path, sizeof(path), "%s/%" PRId32 ".state",
                                 dst, p);
                else
                        snprintf(path, sizeof(path), "%s", dst);
                ls_buf_reset(&buf);
                if (ls_shard_save(rp->parts[p].shard[0], &buf)) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                        "out of memory saving state");
                        break;
                }
                if (!(fp = fopen(path, "wb")) ||
                    fwrite(buf.data, 1, buf.len, fp) != buf.len ||
                    fclose(fp) != 0) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                        "--save-state %s: %s", path,
                                        strerror(errno));
                        fp = NULL;
                }
        }
        ls_buf_free(&buf);
        return err;
}

/* ------------------------------------------------------------ lifecycle */

static FILE *ls_rp_open_out(const char *path, int *is_std) {
        int fd;
        FILE *fp;

        if (!path || !strcmp(path, "-")) {
                *is_std = 1;
                if ((fd = dup(1)) < 0)
                        return NULL;
                if (!(fp = fdopen(fd, "wb")))
                        close(fd);
                return fp;
        }
        return fopen(path, "wb");
}

ls_replay_t *ls_replay_new(const ls_replay_conf_t *conf, char *errstr,
                           size_t errstr_size) {
        ls_replay_t *rp;
        int is_std = 0;

        if (conf->n_ms < 1 || conf->n_ms > 2 || !conf->ms[0] ||
            (conf->n_ms == 2 && !conf->ms[1])) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "replay: one or two model sets needed");
                return NULL;
        }
        if (!conf->topic_events == !conf->n_inputs) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "replay: give either topics or input files");
                return NULL;
        }
        rp = ls_calloc(1, sizeof(*rp));
        if (!rp) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        rp->conf = *conf;
        pthread_mutex_init(&rp->mu, NULL);
        pthread_cond_init(&rp->cond, NULL);
        atomic_init(&rp->scored, 0);
        atomic_init(&rp->dr_failed, 0);
        if (rp->conf.input_format == 0)
                rp->conf.input_format = LS_FORMAT_JSON;
        if (rp->conf.output_format == 0)
                rp->conf.output_format = LS_FORMAT_JSON;

        switch (conf->sink) {
        case LS_REPLAY_SINK_FILE:
        case LS_REPLAY_SINK_FINAL:
                rp->out_name[0] = conf->output && strcmp(conf->output, "-")
                                          ? conf->output
                                          : "<stdout>";
                if (!(rp->out[0] = ls_rp_open_out(conf->output, &is_std))) {
                        ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: %s",
                                  rp->out_name[0], strerror(errno));
                        goto fail;
                }
                rp->out_std = is_std;
                if (conf->sink == LS_REPLAY_SINK_FINAL ||
                    rp->conf.output_format == LS_FORMAT_JSON)
                        break;
                if (rp->conf.output_format != LS_FORMAT_AVRO) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "file output is json or avro");
                        goto fail;
                }
                if (!conf->alerts_output) {
                        /* out.avro -> out-alerts.avro */
                        const char *o = conf->output ? conf->output : "-";
                        size_t n = strlen(o);
                        ls_buf_t b;
                        ls_buf_init(&b);
                        if (n > 5 && !strcmp(o + n - 5, ".avro"))
                                n -= 5;
                        if (ls_buf_append(&b, o, n) ||
                            ls_buf_append(&b, "-alerts.avro", 12)) {
                                ls_buf_free(&b);
                                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                          "out of memory");
                                goto fail;
                        }
                        rp->alerts_path = b.data;
                }
                rp->out_name[1] = conf->alerts_output ? conf->alerts_output
                                                      : rp->alerts_path;
                if (!(rp->out[1] = fopen(rp->out_name[1], "wb"))) {
                        ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: %s",
                                  rp->out_name[1], strerror(errno));
                        goto fail;
                }
                if (ls_rp_avro_header(rp, 0, "score_update.avsc", errstr,
                                      errstr_size) ||
                    ls_rp_avro_header(rp, 1, "alert.avsc", errstr, errstr_size))
                        goto fail;
                break;
        case LS_REPLAY_SINK_TOPIC:
                if (!conf->output_topic) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "--output-topic: not set");
                        goto fail;
                }
                if (!(rp->producer = ls_rp_client(rp, RD_KAFKA_PRODUCER, errstr,
                                                  errstr_size)))
                        goto fail;
                break;
        default:
                break;
        }
        return rp;
fail:
        ls_replay_destroy(rp);
        return NULL;
}

ls_err_t ls_replay_run(ls_replay_t *rp, char *errstr, size_t errstr_size) {
        ls_err_t err;
        ls_shard_stats_t st;
        int32_t p;
        int k, v;

        rp->t0 = rp->last_draw = ls_rp_now();
        if (rp->conf.topic_events)
                err = ls_rp_run_topics(rp, errstr, errstr_size);
        else
                err = ls_rp_run_files(rp, errstr, errstr_size);
        ls_rp_progress_end(rp);
        if (!err && rp->failed)
                err = ls_seterr(errstr, errstr_size, rp->fail_err, "%s",
                                rp->fail_str);
        if (!err && rp->conf.sink == LS_REPLAY_SINK_FINAL)
                err = ls_rp_write_final(rp, errstr, errstr_size);
        for (k = 0; k < 2; k++)
                if (rp->out[k] && fflush(rp->out[k]) != 0 && !err)
                        err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                        "%s: write error: %s", rp->out_name[k],
                                        strerror(errno));
        if (rp->producer) {
                double until = ls_rp_now() + 60;
                while (rd_kafka_outq_len(rp->producer) > 0 &&
                       ls_rp_now() < until)
                        rd_kafka_flush(rp->producer, 500);
                if (!err && rd_kafka_outq_len(rp->producer) > 0)
                        err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                        "%d output records not delivered "
                                        "within 60 s",
                                        rd_kafka_outq_len(rp->producer));
                if (!err && atomic_load(&rp->dr_failed))
                        err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                        "%" PRIu64 " output records not "
                                        "delivered; first: %s",
                                        (uint64_t)atomic_load(&rp->dr_failed),
                                        rp->dr_err);
        }
        if (!err && rp->conf.save_state)
                err = ls_rp_save_state(rp, errstr, errstr_size);

        memset(&rp->stats, 0, sizeof(rp->stats));
        rp->stats.records = rp->records;
        rp->stats.out_of_bounds = rp->out_of_bounds;
        rp->stats.partitions = rp->n_parts;
        for (p = 0; p < rp->n_parts; p++) {
                ls_rp_part_t *part = &rp->parts[p];
                for (v = 0; v < LS_V__CNT; v++)
                        rp->stats.verdicts.n[v] += part->verdicts.n[v];
                rp->stats.outputs += part->outputs;
                if (part->shard[0]) {
                        ls_shard_stats(part->shard[0], &st);
                        rp->stats.leads += st.leads;
                }
        }
        rp->stats.bad = ls_verdicts_rejected(&rp->stats.verdicts);
        rp->stats.applied = rp->stats.verdicts.n[LS_V_APPLIED];
        rp->stats.duplicates = rp->stats.verdicts.n[LS_V_DUPLICATE];
        rp->stats.stale = rp->stats.verdicts.n[LS_V_STALE];
        rp->stats.read_seconds = rp->t_read > 0 ? rp->t_read - rp->t0 : 0;
        rp->stats.seconds = ls_rp_now() - rp->t0;
        return err;
}

void ls_replay_stats(const ls_replay_t *rp, ls_replay_stats_t *stats) {
        *stats = rp->stats;
}

int32_t ls_replay_n_shards(const ls_replay_t *rp) {
        return rp->n_parts;
}

const ls_shard_t *ls_replay_shard(const ls_replay_t *rp, int32_t p,
                                  size_t set) {
        if (p < 0 || p >= rp->n_parts || set >= rp->conf.n_ms)
                return NULL;
        return rp->parts[p].shard[set];
}

const ls_modelset_t *ls_replay_modelset(const ls_replay_t *rp, size_t set) {
        return set < rp->conf.n_ms ? rp->conf.ms[set] : NULL;
}

void ls_replay_destroy(ls_replay_t *rp) {
        int32_t p;
        int i, k;

        if (!rp)
                return;
        for (i = 0; i < rp->n_workers; i++)
                ls_rp_worker_free(&rp->workers[i]);
        ls_free(rp->workers);
        for (p = 0; p < rp->n_parts; p++) {
                ls_rp_part_t *part = &rp->parts[p];
                ls_free(part->recs);
                ls_buf_free(&part->data);
                for (k = 0; k < 2; k++) {
                        ls_buf_free(&part->out[k]);
                        ls_buf_free(&part->blk[k]);
                        if (part->shard[k])
                                ls_shard_destroy(part->shard[k]);
                }
        }
        ls_free(rp->parts);
        ls_free(rp->queue);
        for (k = 0; k < 2; k++)
                if (rp->out[k])
                        fclose(rp->out[k]);
        ls_free(rp->alerts_path);
        if (rp->producer)
                rd_kafka_destroy(rp->producer);
        pthread_mutex_destroy(&rp->mu);
        pthread_cond_destroy(&rp->cond);
        ls_free(rp);
}
