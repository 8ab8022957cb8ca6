/*
 * ls_producer.c - the producer of `leadscore run` (see ls_producer.h).
 *
 * Every record is produced with a delivery ticket as its opaque: which
 * input it belongs to (offset tracker, sequence). Tickets come from a
 * pool grown LS_PROD_TICKETS at a time, so an output costs no allocation;
 * a delivery report returns its ticket to the pool and, on success, takes
 * the record off its input's count. A record is counted before it is
 * produced and never uncounted when producing fails, so its input stays
 * uncommitted. The client's opaque is the producer's own env, whose hooks
 * forward to the owner's (ls_kafka.h).
 */
#include "leadscore/ls_producer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_log.h"
#include "leadscore/ls_tick.h"

#define LS_PROD_TICKETS 1024 /* delivery tickets allocated at a time */
/* A dead letter is cut to fit the producer's message.max.bytes, less
 * 1/16 of it and this much for the batch and record framing. */
#define LS_PROD_DL_HEADROOM 4096

/** Delivery ticket: which input a produced record belongs to. */
typedef struct ls_ticket_s {
        ls_producer_input_t in; /* in.off NULL: none (idle-tick outputs) */
        struct ls_ticket_s *next_free;
} ls_ticket_t;

/** A block of LS_PROD_TICKETS tickets; blocks are freed at destroy. */
typedef struct ls_ticket_block_s {
        struct ls_ticket_block_s *next;
        ls_ticket_t t[LS_PROD_TICKETS];
} ls_ticket_block_t;

struct ls_producer_s {
        const ls_config_t *conf;
        ls_codec_t *codec;
        const ls_kafka_env_t *owner; /* the owner's hooks */
        ls_kafka_env_t env;          /* the client's opaque: forwards */
        ls_producer_metrics_t mh;
        rd_kafka_t *rk;
        size_t dl_limit;  /* dead letter: key + value + headers */
        ls_buf_t buf;     /* the dead letter being encoded */
        ls_encoded_t enc; /* the outputs being produced (emit) */
        ls_ticket_t *tfree;
        ls_ticket_block_t *tblocks;
        ls_producer_stats_t stats;
};

/* ----------------------------------------------------------- reporting */

static void ls_prod_fatal(ls_producer_t *prod, ls_err_t err, const char *msg) {
        ls_kafka_env_fatal(prod->owner, err, msg);
}

static int ls_prod_failed(const ls_producer_t *prod) {
        return ls_kafka_env_failed(prod->owner);
}

static void ls_prod_env_fatal(void *owner, ls_err_t err, const char *msg) {
        ls_prod_fatal(owner, err, msg);
}

static int ls_prod_env_failed(void *owner) {
        return ls_prod_failed(owner);
}

/** 1 when @p err, or the producer's fatal error, says that another
 *  producer with our transactional.id fenced this one. */
static int ls_prod_is_fenced(ls_producer_t *prod, rd_kafka_resp_err_t err) {
        char buf[256];

        if (err == RD_KAFKA_RESP_ERR__FENCED ||
            err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
            err == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH)
                return 1;
        return prod->conf->transactional &&
               rd_kafka_fatal_error(prod->rk, buf, sizeof(buf)) ==
                       RD_KAFKA_RESP_ERR__FENCED;
}

/**
 * Stops the owner because another instance took over our
 * transactional.id (it bumped the producer epoch, which aborted our open
 * transaction). Nothing is committed after this: the owner commits
 * nothing once it has failed, and writes no snapshot.
 */
static void ls_prod_fenced(ls_producer_t *prod, const char *detail) {
        char id[256], msg[1024]; /* id and detail (at most 511) fit */

        ls_kafka_prop(prod->rk, "transactional.id", id, sizeof(id));
        snprintf(msg, sizeof(msg),
                 "fenced: another instance took over transactional.id "
                 "'%s' (%s); this instance stops and commits nothing more "
                 "(its open transaction is aborted; every transactional.id "
                 "must be used by one instance only)",
                 id, detail);
        ls_prod_fatal(prod, LS_ERR_KAFKA, msg);
}

/** A record failed with @p err: fenced (transactional), else fatal. */
static void ls_prod_fail(ls_producer_t *prod, rd_kafka_resp_err_t err,
                         const char *msg) {
        if (prod->conf->transactional && ls_prod_is_fenced(prod, err))
                ls_prod_fenced(prod, msg);
        else
                ls_prod_fatal(prod, LS_ERR_KAFKA, msg);
}

/* -------------------------------------------------------------- tickets */

/* The message opaque of a tick (ls_producer_tick): not a ticket. */
static char ls_prod_tick_marker;

static void ls_prod_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                          void *opaque) {
        ls_producer_t *prod = ((ls_kafka_env_t *)opaque)->owner;
        ls_ticket_t *ticket = rkm->_private;

        (void)rk;
        if (rkm->_private == &ls_prod_tick_marker) {
                if (rkm->err) {
                        prod->stats.ticks_failed++;
                        ls_log(prod->owner->log, LS_LOG_WARN, "tick_failed",
                               "tick to %s [%" PRId32 "] not delivered: %s; "
                               "the next one follows idle_tick later",
                               rd_kafka_topic_name(rkm->rkt), rkm->partition,
                               rd_kafka_err2str(rkm->err));
                }
                return;
        }
        if (rkm->err) {
                char msg[512];
                prod->stats.delivery_failures++;
                ls_metric_add(prod->mh.delivery_failures, 1);
                if (ticket && ticket->in.off) {
                        snprintf(msg, sizeof(msg),
                                 "delivery to %s [%" PRId32 "] failed: %s; "
                                 "input %s [%" PRId32 "] offset %" PRId64
                                 " and later are not committed",
                                 rd_kafka_topic_name(rkm->rkt), rkm->partition,
                                 rd_kafka_err2str(rkm->err), ticket->in.topic,
                                 ticket->in.partition,
                                 ls_offsets_offset(ticket->in.off,
                                                   ticket->in.seq));
                } else {
                        snprintf(msg, sizeof(msg),
                                 "delivery to %s [%" PRId32 "] failed: %s",
                                 rd_kafka_topic_name(rkm->rkt), rkm->partition,
                                 rd_kafka_err2str(rkm->err));
                }
                ls_prod_fail(prod, rkm->err, msg);
        } else {
                prod->stats.delivered++;
                ls_metric_add(prod->mh.delivered, 1);
                if (ticket && ticket->in.off)
                        ls_offsets_acked(ticket->in.off, ticket->in.seq);
        }
        if (ticket) {
                ticket->next_free = prod->tfree;
                prod->tfree = ticket;
        }
}

/** @returns a ticket from the pool, or NULL when out of memory. */
static ls_ticket_t *ls_prod_ticket(ls_producer_t *prod,
                                   const ls_producer_input_t *in) {
        ls_ticket_t *t = prod->tfree;
        size_t i;

        if (!t) {
                ls_ticket_block_t *b = ls_malloc(sizeof(*b));
                if (!b)
                        return NULL;
                b->next = prod->tblocks;
                prod->tblocks = b;
                for (i = 0; i + 1 < LS_PROD_TICKETS; i++)
                        b->t[i].next_free = &b->t[i + 1];
                b->t[LS_PROD_TICKETS - 1].next_free = NULL;
                t = &b->t[0];
        }
        prod->tfree = t->next_free;
        if (in)
                t->in = *in;
        else
                memset(&t->in, 0, sizeof(t->in));
        t->next_free = NULL;
        return t;
}

/** Returns an unused ticket to the pool. */
static void ls_prod_ticket_put(ls_producer_t *prod, ls_ticket_t *t) {
        t->next_free = prod->tfree;
        prod->tfree = t;
}

/* ------------------------------------------------------------ lifecycle */

ls_producer_t *ls_producer_new(const ls_producer_conf_t *pc, char *errstr,
                               size_t errstr_size) {
        ls_producer_t *prod = ls_calloc(1, sizeof(*prod));
        ls_kafka_opts_t ko;
        char v[32];
        unsigned long max = 1000000; /* librdkafka's default */

        if (!prod) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        prod->conf = pc->conf;
        prod->codec = pc->codec;
        prod->owner = pc->env;
        prod->mh = pc->metrics;
        prod->env = *pc->env;
        prod->env.fatal = ls_prod_env_fatal;
        prod->env.failed = ls_prod_env_failed;
        prod->env.owner = prod;
        ls_buf_init(&prod->buf);
        ls_encoded_init(&prod->enc);
        memset(&ko, 0, sizeof(ko));
        ko.role = LS_KAFKA_PRODUCER;
        ko.conf = pc->conf;
        ko.bootstrap = pc->bootstrap;
        ko.env = &prod->env;
        ko.dr_msg_cb = ls_prod_dr_cb;
        prod->rk = ls_kafka_client_new(&ko, errstr, errstr_size);
        if (!prod->rk) {
                ls_producer_destroy(prod);
                return NULL;
        }
        if (*ls_kafka_prop(prod->rk, "message.max.bytes", v, sizeof(v)))
                max = strtoul(v, NULL, 10);
        prod->dl_limit = max - max / 16 > 2 * LS_PROD_DL_HEADROOM
                                 ? max - max / 16 - LS_PROD_DL_HEADROOM
                                 : LS_PROD_DL_HEADROOM;
        return prod;
}

void ls_producer_flush(ls_producer_t *prod) {
        while (rd_kafka_outq_len(prod->rk) > 0)
                rd_kafka_flush(prod->rk, 1000);
        rd_kafka_poll(prod->rk, 0);
}

void ls_producer_destroy(ls_producer_t *prod) {
        if (!prod)
                return;
        if (prod->rk) {
                ls_producer_flush(prod);
                rd_kafka_destroy(prod->rk);
        }
        while (prod->tblocks) { /* no delivery report is pending any more */
                ls_ticket_block_t *b = prod->tblocks;
                prod->tblocks = b->next;
                ls_free(b);
        }
        ls_buf_free(&prod->buf);
        ls_encoded_free(&prod->enc);
        ls_free(prod);
}

rd_kafka_t *ls_producer_rk(ls_producer_t *prod) {
        return prod->rk;
}

void ls_producer_poll(ls_producer_t *prod) {
        rd_kafka_poll(prod->rk, 0);
}

void ls_producer_stats(const ls_producer_t *prod, ls_producer_stats_t *st) {
        *st = prod->stats;
}

/* ------------------------------------------------------------ producing */

/**
 * Produces one record. Its headers are @p hdrs (owned by this call in all
 * cases) or, when @p model is given, the three headers of an output of
 * that model with id @p id. The record counts against input @p in (when not NULL). With
 * @p size_soft, a record the producer refuses as larger than
 * message.max.bytes is not a fatal error: it is not counted and
 * LS_ERR_UNSUPPORTED is returned, so that the caller can send less.
 */
static ls_err_t ls_prod_produce(ls_producer_t *prod, const char *topic,
                                const void *key, size_t key_len,
                                const void *value, size_t len,
                                rd_kafka_headers_t *hdrs,
                                const ls_model_t *model, const char *id,
                                size_t id_len, const ls_producer_input_t *in,
                                int size_soft) {
        ls_ticket_t *ticket;
        rd_kafka_resp_err_t err;
        char msg[512];

        if (in && !in->off)
                in = NULL;
        ticket = ls_prod_ticket(prod, in);
        if (!ticket) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                ls_prod_fatal(prod, LS_ERR_NOMEM, "out of memory producing");
                return LS_ERR_NOMEM;
        }
        /* Counted before producing; never uncounted if producing fails, so
         * the input stays uncommitted. */
        if (in)
                ls_offsets_produced(in->off, in->seq);
        for (;;) {
                if (model)
                        err = rd_kafka_producev(
                                prod->rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_VALUE((void *)value, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADER("leadscore.model", model->id,
                                                  -1),
                                RD_KAFKA_V_HEADER("leadscore.model_version",
                                                  model->version, -1),
                                RD_KAFKA_V_HEADER("leadscore.id", id,
                                                  (ssize_t)id_len),
                                RD_KAFKA_V_OPAQUE(ticket), RD_KAFKA_V_END);
                else
                        err = rd_kafka_producev(
                                prod->rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_VALUE((void *)value, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE(ticket), RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(prod->rk, 100);
        }
        if (err) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                ls_prod_ticket_put(prod, ticket);
                if (size_soft && err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
                        if (in)
                                ls_offsets_acked(in->off, in->seq);
                        return LS_ERR_UNSUPPORTED;
                }
                snprintf(msg, sizeof(msg), "cannot produce to %s: %s", topic,
                         rd_kafka_err2str(err));
                ls_prod_fail(prod, err, msg);
                return LS_ERR_KAFKA;
        }
        return LS_OK;
}

void ls_encoded_init(ls_encoded_t *enc) {
        memset(enc, 0, sizeof(*enc));
        ls_buf_init(&enc->data);
}

void ls_encoded_reset(ls_encoded_t *enc) {
        enc->n_outs = 0;
        ls_buf_reset(&enc->data);
}

void ls_encoded_free(ls_encoded_t *enc) {
        ls_free(enc->outs);
        ls_buf_free(&enc->data);
        ls_encoded_init(enc);
}

ls_err_t ls_producer_encode(ls_codec_t *codec, const ls_config_t *conf,
                            const ls_outbuf_t *ob, ls_encoded_t *enc,
                            char *errstr, size_t errstr_size) {
        char cerr[512], id[LS_OUTPUT_ID_MAX + 1];
        size_t i;
        ls_err_t err;

        for (i = 0; i < ob->n_outs; i++) {
                const ls_output_t *o = &ob->outs[i];
                const char *topic = o->kind == LS_OUT_ALERT
                                            ? conf->topic_alerts
                                            : conf->topic_scores;
                size_t key_len = strlen(o->lead_id), at;
                ls_encoded_out_t *eo;
                int id_len;

                if (enc->n_outs == enc->size_outs) {
                        size_t n = enc->size_outs ? enc->size_outs * 2 : 8;
                        ls_encoded_out_t *no =
                                ls_realloc(enc->outs, n * sizeof(*no));
                        if (!no)
                                return ls_seterr(errstr, errstr_size,
                                                 LS_ERR_NOMEM,
                                                 "out of memory encoding "
                                                 "outputs");
                        enc->outs = no;
                        enc->size_outs = n;
                }
                eo = &enc->outs[enc->n_outs];
                memset(eo, 0, sizeof(*eo));
                eo->model = o->model;
                eo->alert = o->kind == LS_OUT_ALERT ? (int)o->alert : 0;
                if (o->kind == LS_OUT_ALERT && eo->alert <= 0)
                        eo->alert = 4; /* an alert, whatever its kind */
                at = enc->data.len;
                err = ls_codec_encode_output(codec, topic, ob, o, &enc->data,
                                             cerr, sizeof(cerr));
                if (err)
                        return ls_seterr(errstr, errstr_size, err,
                                         "cannot encode output for lead %s: "
                                         "%s",
                                         o->lead_id, cerr);
                eo->value_off = (uint32_t)at;
                eo->value_len = (uint32_t)(enc->data.len - at);
                /* never cut an id short (the model's ids are bounded,
                 * the lead's by its decoder; a lead id from elsewhere is
                 * not) */
                id_len = ls_output_id(o, id, sizeof(id));
                if (id_len < 0 || id_len >= (int)sizeof(id))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "output id of lead %.256s is longer "
                                         "than %zu bytes",
                                         o->lead_id, sizeof(id) - 1);
                eo->id_off = (uint32_t)enc->data.len;
                eo->id_len = (uint32_t)id_len;
                if (ls_buf_append(&enc->data, id, (size_t)id_len))
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "out of memory encoding outputs");
                eo->key_off = (uint32_t)enc->data.len;
                eo->key_len = (uint32_t)key_len;
                if (ls_buf_append(&enc->data, o->lead_id, key_len))
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "out of memory encoding outputs");
                enc->n_outs++;
        }
        return LS_OK;
}

ls_err_t ls_producer_emit_encoded(ls_producer_t *prod, const ls_encoded_t *enc,
                                  const ls_producer_input_t *in) {
        const char *data = enc->data.data;
        size_t i;
        ls_err_t err;

        for (i = 0; i < enc->n_outs; i++) {
                const ls_encoded_out_t *eo = &enc->outs[i];
                const char *topic = eo->alert ? prod->conf->topic_alerts
                                              : prod->conf->topic_scores;

                if ((err = ls_prod_produce(
                             prod, topic, data + eo->key_off, eo->key_len,
                             data + eo->value_off, eo->value_len, NULL,
                             eo->model, data + eo->id_off, eo->id_len, in, 0)))
                        return err;
                prod->stats.outputs++;
                if (eo->alert)
                        prod->stats.alerts++;
                ls_metric_add(prod->mh.outputs[eo->alert > 0 && eo->alert < 4
                                                       ? eo->alert
                                                       : 0],
                              1);
        }
        return LS_OK;
}

ls_err_t ls_producer_emit(ls_producer_t *prod, const ls_outbuf_t *ob,
                          const ls_producer_input_t *in) {
        char errstr[512];
        ls_err_t err;

        ls_encoded_reset(&prod->enc);
        err = ls_producer_encode(prod->codec, prod->conf, ob, &prod->enc,
                                 errstr, sizeof(errstr));
        if (err) {
                ls_prod_fatal(prod, err, errstr);
                return err;
        }
        return ls_producer_emit_encoded(prod, &prod->enc, in);
}

/** @returns the headers of dead letter @p dl; *@p bytes their size. */
static rd_kafka_headers_t *
ls_prod_dead_letter_headers(const ls_dead_letter_t *dl, size_t *bytes) {
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(6);
        char part[16], off[32], trunc[32];

        snprintf(part, sizeof(part), "%" PRId32, dl->source_partition);
        snprintf(off, sizeof(off), "%" PRId64, dl->source_offset);
        rd_kafka_header_add(hdrs, "leadscore.reason", -1, dl->reason, -1);
        rd_kafka_header_add(hdrs, "leadscore.error", -1, dl->error, -1);
        rd_kafka_header_add(hdrs, "leadscore.source.topic", -1,
                            dl->source_topic, -1);
        rd_kafka_header_add(hdrs, "leadscore.source.partition", -1, part, -1);
        rd_kafka_header_add(hdrs, "leadscore.source.offset", -1, off, -1);
        *bytes = 160 + strlen(dl->reason) + strlen(dl->error) +
                 strlen(dl->source_topic) + strlen(part) + strlen(off);
        if (dl->value_truncated_from) {
                snprintf(trunc, sizeof(trunc), "%zu", dl->value_truncated_from);
                rd_kafka_header_add(hdrs, "leadscore.truncated", -1, trunc, -1);
                *bytes += 32 + strlen(trunc);
        }
        return hdrs;
}

ls_err_t ls_producer_tick(ls_producer_t *prod, const char *topic,
                          int32_t partition, int64_t time, char *errstr,
                          size_t errstr_size) {
        return ls_tick_produce(prod->rk, topic, partition, time,
                               &ls_prod_tick_marker, errstr, errstr_size);
}

void ls_producer_dead_letter(ls_producer_t *prod, const rd_kafka_message_t *rkm,
                             const ls_producer_input_t *in, const char *reason,
                             const char *error) {
        const char *dl_topic = prod->conf->topic_dead_letters;
        ls_log_t *log = prod->owner->log;
        ls_dead_letter_t dl;
        rd_kafka_headers_t *hdrs;
        char errstr[512], msg[1024];
        size_t hdr_bytes;
        ls_err_t err;
        int attempt;

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

        if (ls_log_enabled(log, LS_LOG_WARN)) {
                char part[16], off[32];
                snprintf(msg, sizeof(msg),
                         "dead letter: reason=%s source=%s [%" PRId32
                         "] offset %" PRId64 ": %s",
                         reason, dl.source_topic, rkm->partition, rkm->offset,
                         error);
                snprintf(part, sizeof(part), "%" PRId32, rkm->partition);
                snprintf(off, sizeof(off), "%" PRId64, rkm->offset);
                ls_log_kv(log, LS_LOG_WARN, "dead_letter", msg, "reason",
                          reason, "topic", dl.source_topic, "partition", part,
                          "offset", off, NULL);
        }

        /* Fit the producer's limit: cut the embedded value (its encoding
         * may be larger than the bytes), then drop it, then the key. */
        for (attempt = 0;; attempt++) {
                size_t total, keep;

                ls_buf_reset(&prod->buf);
                err = ls_codec_encode_dead_letter(prod->codec, dl_topic, &dl,
                                                  &prod->buf, errstr,
                                                  sizeof(errstr));
                if (err) {
                        snprintf(msg, sizeof(msg),
                                 "cannot encode dead letter: %s", errstr);
                        ls_prod_fatal(prod, err, msg);
                        return;
                }
                hdrs = ls_prod_dead_letter_headers(&dl, &hdr_bytes);
                total = prod->buf.len + dl.key_len + hdr_bytes;
                if (total <= prod->dl_limit || (!dl.value_len && !dl.key_len) ||
                    attempt == 4) {
                        err = ls_prod_produce(prod, dl_topic, dl.key,
                                              dl.key_len, prod->buf.data,
                                              prod->buf.len, hdrs, NULL, NULL,
                                              0, in, 1);
                        if (err != LS_ERR_UNSUPPORTED)
                                break;
                        /* refused as too large: retry with less */
                        total = SIZE_MAX;
                } else {
                        rd_kafka_headers_destroy(hdrs);
                }
                if (dl.value_len) {
                        /* Each byte cut shrinks the encoding by at least
                         * one byte; base64 or escapes by more. After two
                         * cuts, or when the producer refused it anyway,
                         * the value goes. */
                        keep = 0;
                        if (total != SIZE_MAX && attempt < 2 &&
                            total - prod->dl_limit < dl.value_len) {
                                size_t scaled =
                                        (size_t)((double)dl.value_len *
                                                 ((double)prod->dl_limit /
                                                  (double)total) *
                                                 0.95);
                                keep = dl.value_len - (total - prod->dl_limit);
                                if (keep > scaled)
                                        keep = scaled;
                        }
                        dl.value_truncated_from = rkm->len;
                        dl.value_len = keep;
                        if (!keep)
                                dl.value = NULL;
                } else if (dl.key_len) {
                        dl.key = NULL;
                        dl.key_len = 0;
                } else {
                        snprintf(msg, sizeof(msg),
                                 "cannot produce to %s: a dead letter without "
                                 "key and value exceeds message.max.bytes",
                                 dl_topic);
                        ls_prod_fatal(prod, LS_ERR_KAFKA, msg);
                        return;
                }
        }
        if (err == LS_OK) {
                char labels[64];
                prod->stats.dead_letters++;
                snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
                ls_metric_add(ls_metrics_counter(
                                      prod->owner->metrics,
                                      "leadscore_dead_letters_total",
                                      "Input records sent to the dead-letter "
                                      "topic, by reason.",
                                      labels),
                              1);
        }
}

/* --------------------------------------------------------- transactions */

ls_err_t ls_producer_txn_begin(ls_producer_t *prod, char *errstr,
                               size_t errstr_size) {
        rd_kafka_error_t *terr = rd_kafka_init_transactions(prod->rk, 60000);

        if (!terr)
                terr = rd_kafka_begin_transaction(prod->rk);
        if (terr) {
                ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                          "transactional producer: %s",
                          rd_kafka_error_string(terr));
                rd_kafka_error_destroy(terr);
                return LS_ERR_KAFKA;
        }
        return LS_OK;
}

void ls_producer_txn_abort(ls_producer_t *prod, const char *why) {
        rd_kafka_error_t *error;
        char msg[768];

        error = rd_kafka_abort_transaction(prod->rk, 60000);
        if (!error && !ls_prod_failed(prod))
                error = rd_kafka_begin_transaction(prod->rk);
        if (!error) {
                ls_log(prod->owner->log, LS_LOG_WARN, "txn_aborted",
                       "transaction aborted (%s): its outputs never become "
                       "visible to read_committed consumers",
                       why);
                return;
        }
        if (ls_prod_is_fenced(prod, rd_kafka_error_code(error))) {
                ls_prod_fenced(prod, rd_kafka_error_string(error));
        } else {
                snprintf(msg, sizeof(msg),
                         "cannot abort the transaction (%s): %s", why,
                         rd_kafka_error_string(error));
                ls_prod_fatal(prod, LS_ERR_KAFKA, msg);
        }
        rd_kafka_error_destroy(error);
}

void ls_producer_txn_discard(ls_producer_t *prod) {
        rd_kafka_error_t *aerr = rd_kafka_abort_transaction(prod->rk, 30000);

        if (aerr)
                rd_kafka_error_destroy(aerr);
}

int ls_producer_txn_commit(ls_producer_t *prod,
                           const rd_kafka_topic_partition_list_t *offsets,
                           rd_kafka_t *consumer) {
        rd_kafka_consumer_group_metadata_t *cgmd;
        rd_kafka_error_t *error;
        int offsets_sent = offsets->cnt == 0, attempt;
        char msg[768];

        /* A retriable error leaves the transaction open: retry the same
         * call (librdkafka's contract). If it still fails, stop: no
         * snapshot may cover outputs whose transaction did not commit
         * (the owner snapshots nothing once it has failed), and a restart
         * aborts it and replays from the snapshots. */
        for (attempt = 1;; attempt++) {
                error = NULL;
                if (!offsets_sent) {
                        cgmd = rd_kafka_consumer_group_metadata(consumer);
                        error = rd_kafka_send_offsets_to_transaction(
                                prod->rk, offsets, cgmd, 30000);
                        rd_kafka_consumer_group_metadata_destroy(cgmd);
                        offsets_sent = !error;
                }
                if (!error)
                        error = rd_kafka_commit_transaction(prod->rk, 60000);
                if (!error) {
                        error = rd_kafka_begin_transaction(prod->rk);
                        if (!error)
                                return 0;
                }
                if (rd_kafka_error_txn_requires_abort(error) ||
                    !rd_kafka_error_is_retriable(error) || attempt == 3)
                        break;
                ls_log(prod->owner->log, LS_LOG_WARN, "txn_commit_failed",
                       "transaction commit failed: %s (retry %d of 2)",
                       rd_kafka_error_string(error), attempt);
                rd_kafka_error_destroy(error);
        }
        if (ls_prod_is_fenced(prod, rd_kafka_error_code(error))) {
                ls_prod_fenced(prod, rd_kafka_error_string(error));
        } else if (rd_kafka_error_txn_requires_abort(error)) {
                rd_kafka_error_t *aerr;
                snprintf(msg, sizeof(msg),
                         "transaction aborted: %s; its outputs and offsets "
                         "are discarded and a restart replays them from the "
                         "snapshots",
                         rd_kafka_error_string(error));
                aerr = rd_kafka_abort_transaction(prod->rk, 60000);
                if (aerr)
                        rd_kafka_error_destroy(aerr);
                ls_prod_fatal(prod, LS_ERR_KAFKA, msg);
        } else {
                snprintf(msg, sizeof(msg),
                         "transaction: %s; a restart aborts it and replays "
                         "from the snapshots",
                         rd_kafka_error_string(error));
                ls_prod_fatal(prod, LS_ERR_KAFKA, msg);
        }
        rd_kafka_error_destroy(error);
        return -1;
}
