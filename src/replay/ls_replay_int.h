/*
 * ls_replay_int.h - what the parts of the replay module share (internal to
 * src/replay/).
 *
 * The module's files, along its seams:
 *   ls_replay.c         lifecycle, errors, progress, scoring one record
 *   ls_replay_topics.c  topic ranges: the Kafka client, bounds, reading,
 *                       the merge order and the worker threads
 *   ls_replay_files.c   JSON-lines and Avro container input files
 *   ls_replay_out.c     the ordered writer, the file / topic sinks and the
 *                       final-state output
 *   ls_replay_state.c   the shards: start state (--snapshot) and saved
 *                       state (--save-state) through the snapshot module
 *   ls_replay_diff.c    the `diff` report
 *
 * Locking: rp->mu guards the work queue, the write order (next_write,
 * part->finished, the writes themselves) and the first-error fields;
 * a partition's records, shards and buffers belong to the one thread that
 * scores it.
 */
#ifndef LS_REPLAY_INT_H
#define LS_REPLAY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_kafka.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_container.h"
#include "leadscore/ls_replay.h"
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
        int64_t tick;     /* != 0: a clock tick (ls_keys_tick()) */
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
        ls_kafka_env_t kenv; /* the clients' opaque: owner = this */
        char errbuf[512];

        ls_rp_part_t *parts;
        int32_t n_parts;
        int32_t topic_parts[2]; /* partitions of each input topic (the
                                    * key rule, ls_keys.h); 0 = files */

        /* outputs */
        FILE *out[2];
        const char *out_name[2];
        char *alerts_path;      /* derived alerts file name */
        int out_std;            /* out[0] is a dup of stdout */
        ls_container_t avro[2]; /* Avro file sinks: their sync markers */
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

/* ls_replay.c */

/** Monotonic seconds. */
double ls_rp_now(void);

/** Records the first fatal error (later ones are dropped) and wakes every
 *  waiter. Any thread. */
void ls_rp_fail(ls_replay_t *rp, ls_err_t err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/** @returns 1 once a fatal error was recorded. Any thread. */
int ls_rp_failed(ls_replay_t *rp);

/** Redraws the progress line (at most twice a second unless @p force).
 *  The driving thread. */
void ls_rp_progress(ls_replay_t *rp, int force);

/** Prints a rejected record's location and why on stderr. */
void ls_rp_report_bad(const ls_rp_loc_t *loc, const char *errstr);

/**
 * Scores one record with @p codec into the partition's shard(s) and emits
 * the outputs of model set 0. @returns 0, or -1 after ls_rp_fail().
 */
int ls_rp_feed(ls_replay_t *rp, ls_rp_worker_t *w, ls_rp_part_t *part,
               ls_codec_t *codec, const ls_record_t *rec,
               const ls_rp_loc_t *loc);

/**
 * Ends a partition's records: moves its shards' stream time to
 * conf.advance_to (when set), then emits and observes the decay outputs.
 * @returns 0, or -1 after ls_rp_fail().
 */
int ls_rp_feed_end(ls_replay_t *rp, ls_rp_worker_t *w, ls_rp_part_t *part);

/** Makes a worker's codecs and buffers. @returns LS_OK or an error with
 *  errstr; ls_rp_worker_free() cleans up either way. */
ls_err_t ls_rp_worker_init(ls_replay_t *rp, ls_rp_worker_t *w, char *errstr,
                           size_t errstr_size);
void ls_rp_worker_free(ls_rp_worker_t *w);

/* ls_replay_topics.c */

/**
 * The one place that makes the replay's Kafka clients: the consumer that
 * reads the topic ranges or the producer of the topic sink (its delivery
 * reports go to ls_rp_dr_cb). Settings, later ones winning: replay's
 * defaults, rp->conf.kafka, what a replay consumer must have (no commits,
 * partition EOF), --brokers.
 * @returns the client (the caller destroys it), or NULL with errstr.
 */
rd_kafka_t *ls_rp_client(ls_replay_t *rp, rd_kafka_type_t type, char *errstr,
                         size_t errstr_size);

/** Reads and scores the topic ranges with the worker threads. */
ls_err_t ls_rp_run_topics(ls_replay_t *rp, char *errstr, size_t errstr_size);

/* ls_replay_files.c */

/** Reads and scores the input files in order, in one shard. */
ls_err_t ls_rp_run_files(ls_replay_t *rp, char *errstr, size_t errstr_size);

/* ls_replay_out.c */

/**
 * Writes what @p part has if it is the head of the write order; when
 * @p finished, marks it complete and writes every complete partition
 * that follows in order. Takes rp->mu.
 */
void ls_rp_writer(ls_replay_t *rp, ls_rp_part_t *part, int finished);

/** Starts Avro output file @p k: the container header of schema @p file
 *  (the codec's text), written to rp->out[k]. */
ls_err_t ls_rp_avro_header(ls_replay_t *rp, int k, const char *file,
                           char *errstr, size_t errstr_size);

/** Closes the open Avro block of file @p k of @p part, if any (out of
 *  memory: ls_rp_fail()). */
void ls_rp_avro_block(ls_replay_t *rp, ls_rp_part_t *part, int k);

/** Writes the outputs of model set 0 in w->ob[0] to the sink.
 *  @returns 0, or -1 after ls_rp_fail(). */
int ls_rp_emit(ls_replay_t *rp, ls_rp_worker_t *w, ls_rp_part_t *part);

/** The producer's delivery report callback (counts failures). */
void ls_rp_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque);

/** Writes the final state of every lead (--final-only) to rp->out[0]. */
ls_err_t ls_rp_write_final(ls_replay_t *rp, char *errstr, size_t errstr_size);

/* ls_replay_state.c */

/** Allocates @p n partitions and their shards (from --snapshot for model
 *  set 0). */
ls_err_t ls_rp_alloc_parts(ls_replay_t *rp, int32_t n, char *errstr,
                           size_t errstr_size);

/** Writes the final state of model set 0 to --save-state. */
ls_err_t ls_rp_save_state(ls_replay_t *rp, char *errstr, size_t errstr_size);

#endif /* LS_REPLAY_INT_H */
