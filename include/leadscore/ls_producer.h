/*
 * ls_producer.h - the producer of `leadscore run`: outputs (score updates
 * and alerts) with their headers, dead letters cut to fit, delivery
 * tickets that tie every produced record to its input's offset tracker
 * (ls_offsets.h), and the producer's transactions.
 *
 * An output or dead letter produced for an input counts against that
 * input in its tracker until the broker acknowledges it; a record the
 * broker finally refuses is never acknowledged, so no offset past its
 * input is ever committed, and it stops the owner (the env's fatal hook).
 *
 * Threading: one thread, the owner's: delivery reports are served by
 * ls_producer_poll(), ls_producer_flush() and the calls that produce (a
 * full queue is polled), on that thread.
 */
#ifndef LS_PRODUCER_H
#define LS_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_config.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_kafka.h"
#include "leadscore/ls_metrics.h"
#include "leadscore/ls_offsets.h"

typedef struct ls_producer_s ls_producer_t;

/** The counters the producer adds to (any may be NULL). */
typedef struct ls_producer_metrics_s {
        ls_metric_t *outputs[4]; /* [alert kind]; [0] = score updates */
        ls_metric_t *delivered, *delivery_failures;
} ls_producer_metrics_t;

typedef struct ls_producer_conf_s {
        /* the output topics, transactional, and the `kafka` / `producer`
         * sections (borrowed: must outlive the producer) */
        const ls_config_t *conf;
        const char *bootstrap; /* as ls_kafka_opts_t; NULL: the config's */
        ls_codec_t *codec;     /* encodes outputs and dead letters
                                * (borrowed) */
        /* where the producer reports: logger, metric registry (dead
         * letters by reason, the client's statistics), the fatal hook
         * and its owner (borrowed: must outlive the producer) */
        const ls_kafka_env_t *env;
        ls_producer_metrics_t metrics;
} ls_producer_conf_t;

/** The input a produced record belongs to. */
typedef struct ls_producer_input_s {
        ls_offsets_t *off; /* its topic-partition's tracker (borrowed: it
                            * must outlive every record produced for it,
                            * e.g. ls_producer_flush() first) */
        uint64_t seq;      /* the input's sequence in @p off */
        const char *topic; /* names it in messages (borrowed, likewise) */
        int32_t partition;
} ls_producer_input_t;

typedef struct ls_producer_stats_s {
        uint64_t outputs;      /* score updates and alerts produced */
        uint64_t alerts;       /* of which alerts */
        uint64_t dead_letters; /* dead letters produced */
        uint64_t delivered;    /* records acknowledged by the broker */
        uint64_t delivery_failures;
        uint64_t ticks_failed; /* ticks the broker refused (not fatal) */
} ls_producer_stats_t;

/**
 * Creates the producer's client (ls_kafka_client_new(), role
 * LS_KAFKA_PRODUCER) and sizes dead letters to its message.max.bytes.
 * Transactions are not begun: see ls_producer_txn_begin().
 * @returns the producer, or NULL with errstr (nothing left behind).
 */
ls_producer_t *ls_producer_new(const ls_producer_conf_t *pc, char *errstr,
                               size_t errstr_size);

/** Flushes (every record gets its delivery report), then destroys. */
void ls_producer_destroy(ls_producer_t *prod);

/** @returns the client (for tests and fault injection), valid until
 *  destroy. */
rd_kafka_t *ls_producer_rk(ls_producer_t *prod);

/** Serves the delivery reports that are ready, without waiting. */
void ls_producer_poll(ls_producer_t *prod);

/** Waits until every record produced has its delivery report. */
void ls_producer_flush(ls_producer_t *prod);

/** Copies the counters. */
void ls_producer_stats(const ls_producer_t *prod, ls_producer_stats_t *st);

/** One output encoded for producing (ls_producer_encode()): its bytes are
 *  in the ls_encoded_t's data. */
typedef struct ls_encoded_out_s {
        const ls_model_t *model;   /* names it in headers (borrowed from the
                                  * model set that scored it) */
        uint32_t key_off, key_len; /* the lead id */
        uint32_t value_off, value_len;
        uint32_t id_off, id_len; /* the output id (ls_output_id()) */
        int alert;               /* alerts: the kind (> 0); 0 = a score */
} ls_encoded_out_t;

/** The outputs of one input, encoded: what a worker thread hands to the
 *  producer's thread. */
typedef struct ls_encoded_s {
        ls_encoded_out_t *outs;
        size_t n_outs, size_outs;
        ls_buf_t data;
} ls_encoded_t;

void ls_encoded_init(ls_encoded_t *enc);
void ls_encoded_reset(ls_encoded_t *enc); /* n_outs = 0, keeps memory */
void ls_encoded_free(ls_encoded_t *enc);

/**
 * Encodes every output of @p ob with @p codec for the scores or alerts
 * topic of @p conf, with its key (lead id) and output id, into @p enc
 * (appended; reset by the caller). Touches nothing else: any thread may
 * call it with a codec and an @p enc of its own (`run`'s workers do).
 * @returns LS_OK, or an error with errstr (an output that cannot be
 *          encoded, an id that does not fit, out of memory); the outputs
 *          before it are in @p enc.
 */
ls_err_t ls_producer_encode(ls_codec_t *codec, const ls_config_t *conf,
                            const ls_outbuf_t *ob, ls_encoded_t *enc,
                            char *errstr, size_t errstr_size);

/**
 * Produces every output of @p enc, as ls_producer_emit() does, each
 * counted against input @p in (NULL: none). The owner's thread.
 * @returns LS_OK, or an error after the fatal hook was called.
 */
ls_err_t ls_producer_emit_encoded(ls_producer_t *prod, const ls_encoded_t *enc,
                                  const ls_producer_input_t *in);

/**
 * Encodes and produces every output of @p ob to the scores or alerts
 * topic, key = lead id, with the headers leadscore.model,
 * leadscore.model_version and leadscore.id (the output id, as
 * ls_output_id() formats it). Each counts against input @p in (NULL:
 * none, e.g. idle-tick outputs).
 * @returns LS_OK, or an error after the fatal hook was called (an output
 *          that cannot be encoded, an id that does not fit, a record the
 *          client refuses); outputs before it were produced.
 */
ls_err_t ls_producer_emit(ls_producer_t *prod, const ls_outbuf_t *ob,
                          const ls_producer_input_t *in);

/**
 * Produces a clock tick at @p time to @p partition of @p topic
 * (ls_tick.h). A tick is no output: nothing waits for it, and a tick the
 * broker refuses (no Write on the topic, a partition without a leader
 * past message.timeout.ms) is logged as tick_failed and counted, never
 * fatal; the next one is produced idle_tick later.
 * @returns LS_OK, or an error with errstr (logged by the caller).
 */
ls_err_t ls_producer_tick(ls_producer_t *prod, const char *topic,
                          int32_t partition, int64_t time, char *errstr,
                          size_t errstr_size);

/**
 * Sends input record @p rkm to the dead-letter topic with @p reason and
 * @p error, its source topic / partition / offset in headers
 * (leadscore.reason, .error, .source.topic, .source.partition,
 * .source.offset). When it would not fit the producer's
 * message.max.bytes, the embedded value is cut, then dropped, then the
 * key, and the header leadscore.truncated says the value's original
 * size. Counts against input @p in. A failure calls the fatal hook.
 */
void ls_producer_dead_letter(ls_producer_t *prod, const rd_kafka_message_t *rkm,
                             const ls_producer_input_t *in, const char *reason,
                             const char *error);

/* --------------------------------------------------------- transactions
 * With conf->transactional. A failure calls the fatal hook: being fenced
 * (another producer with our transactional.id) with a message saying so.
 */

/** Initialises transactions and begins the first.
 *  @returns LS_OK, or LS_ERR_KAFKA with errstr. */
ls_err_t ls_producer_txn_begin(ls_producer_t *prod, char *errstr,
                               size_t errstr_size);

/**
 * Sends @p offsets (of @p consumer's group) to the open transaction,
 * commits it (outputs and offsets together) and begins the next one. A
 * retriable error is retried (3 attempts); an abortable one aborts the
 * transaction. Either failure is fatal: a restart replays from the
 * snapshots.
 * @returns 0 when committed, -1 after the fatal hook.
 */
int ls_producer_txn_commit(ls_producer_t *prod,
                           const rd_kafka_topic_partition_list_t *offsets,
                           rd_kafka_t *consumer);

/** Aborts the open transaction (@p why says why, logged) and begins the
 *  next one unless the owner has failed. */
void ls_producer_txn_abort(ls_producer_t *prod, const char *why);

/** Aborts the open transaction after a fatal error, ignoring errors
 *  (fenced, or already aborted). */
void ls_producer_txn_discard(ls_producer_t *prod);

#endif /* LS_PRODUCER_H */
