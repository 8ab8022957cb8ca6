/*
 * ls_pipeline_int.h - what the files of `run`'s pipeline share (private
 * to src/io): its state (the pipeline, its shard slots, its tracked
 * topic-partitions) and the functions one file calls in another.
 *   ls_pipeline.c            wiring, consuming and the merge, commits,
 *                            snapshots, the loop, the lifecycle
 *   ls_pipeline_rebalance.c  assignment and revocation: shards, caps,
 *                            co-partitioning, the transactional resume
 *   ls_pipeline_reload.c     model reload (SIGHUP, model_watch)
 *   ls_pipeline_work.c       scoring on the worker threads: jobs, their
 *                            completion in each partition's order
 * Everything runs on the thread that calls ls_pipeline_run() but the
 * jobs (ls_pl_work(), its look-ahead and its idle check), which run on
 * the pool's
 * workers: a job reads the config, the slots array, its partition's
 * shard and its worker's codec and buffers, and writes its shard, its
 * job and its worker. The consuming thread touches a shard, or changes
 * the slots array, only after settling the pool (ls_pl_settle(), or
 * ls_workers_quiesce() to read).
 */
#ifndef LS_PIPELINE_INT_H
#define LS_PIPELINE_INT_H

#include "leadscore/ls_pipeline.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_assert.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_durable.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_holdq.h"
#include "leadscore/ls_kafka.h"
#include "leadscore/ls_keys.h"
#include "leadscore/ls_tick.h"
#include "leadscore/ls_memlimit.h"
#include "leadscore/ls_merge.h"
#include "leadscore/ls_scorer.h"
#include "leadscore/ls_log.h"
#include "leadscore/ls_metrics.h"
#include "leadscore/ls_offsets.h"
#include "leadscore/ls_producer.h"
#include "leadscore/ls_registry.h"
#include "leadscore/ls_runmetrics.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_workers.h"

#define LS_PL_BATCH 4096 /* records handled between housekeeping */
#define LS_PL_POLL_MS 100
#define LS_PL_END_TIMEOUT_MS                                                   \
        2000 /* ListOffsets for the merge (ls_pl_ask_ends) */
#define LS_PL_TOPIC_EVENTS 0
#define LS_PL_TOPIC_PROFILES 1
#define LS_PL_PUBLISH_MS 1000 /* gauges (leads, state bytes) refresh */
#define LS_PL_WATCH_MS 1000   /* model_watch: stat() of the model file */
#ifndef LEADSCORE_VERSION     /* both set by CMake, as for --version */
#define LEADSCORE_VERSION "unknown"
#endif
#ifndef LEADSCORE_AVRO_VERSION
#define LEADSCORE_AVRO_VERSION "unknown"
#endif
/* Records handed to the workers and not yet produced, at most. */
#define LS_PL_INFLIGHT (4 * LS_PL_BATCH)
/* Waiting for the workers when nothing was consumed (ms). */
#define LS_PL_DONE_WAIT_MS 5
/* The test knob of docs/TESTING.md: workers sleep up to this many
 * microseconds before each record (ls_workers_conf_t.jitter_us). */
#define LS_PL_JITTER_ENV "LEADSCORE_TEST_WORKER_JITTER_US"
/* At most one misplaced_input warning per this many ms. */
#define LS_PL_MISPLACED_WARN_MS 10000

/** A rate-limited warning (ls_pl_warn_input()). */
typedef struct ls_pl_limited_s {
        int64_t warned; /* monotonic ms of the last one; 0 = never */
        uint64_t quiet; /* held back since */
} ls_pl_limited_t;

/** Offset tracking of one assigned input topic-partition. */
typedef struct ls_tp_s {
        int topic; /* LS_PL_TOPIC_* */
        int32_t partition;
        ls_offsets_t off;    /* the commit rule (ls_offsets.h) */
        int64_t committed;   /* last committed, -1 = none */
        int64_t quiet_until; /* transactional: the inputs before this
                                  * offset had their outputs committed by an
                                  * earlier transaction; they are applied
                                  * again without producing. -1 = none */
        /* Merge of the two input topics of a shard (docs/DURABILITY.md):
         * records consumed but not yet applied, of rd_kafka_message_t. */
        ls_merge_side_t m;
        /* m.reading: records handed to a worker to be read for the merge,
         * not back yet (ls_pl_submit_read()): m.consumed_next moves as
         * they come back, and a partition end met meanwhile waits in
         * eof_next */
        int64_t eof_next;
        ls_metric_t *m_consumed; /* leadscore_consumed_total{topic,partition} */
} ls_tp_t;

typedef struct ls_slot_s {
        ls_shard_t *shard;     /* run by worker partition % workers */
        int refs;              /* assigned topic-partitions feeding it */
        int64_t last_input_ms; /* monotonic time of the last input */
        uint64_t checked;      /* debug: shard stamp at the last check
                                * (the worker's, ls_pl_work_idle()) */
        ls_durable_part_t dur; /* applied and durable offsets */
        /* the shard whose suppression counts were last published (NULL:
         * none yet, or released), and those counts */
        const ls_shard_t *supp_of;
        uint64_t supp_seen[LS_RUNMETRICS_SUPPRESS_N];
} ls_slot_t;

/** One input record on its way through a worker (ls_pipeline_work.c). */
typedef struct ls_pl_job_s {
        ls_job_t j; /* lane = partition */
        /* set by the consuming thread before the submit */
        rd_kafka_message_t *rkm;
        ls_tp_t *tp;
        int topic;
        int read;     /* 1: only read it for the merge (its key, its
                       * input), 0: score it */
        int quiet;    /* scored again only (transactional resume): its
                       * outputs were committed before, none is encoded */
        int64_t at;   /* read: its arrival, monotonic ms */
        uint64_t seq; /* in tp->off */
        ls_held_t h;  /* what the merge read of it (owned), or nothing */
        ls_record_t rec;
        /* set by the worker */
        ls_verdict_t v;
        ls_err_t err; /* of LS_V_ERROR */
        char errstr[512];
        ls_encoded_t enc; /* the outputs, encoded */
        ls_err_t enc_err; /* encoding failed (fatal): enc_str says why */
        char enc_str[512];
        struct ls_pl_job_s *next_free; /* the consuming thread's pool */
} ls_pl_job_t;

/** One worker's own (ls_pipeline_work.c). */
typedef struct ls_pl_worker_s {
        ls_codec_t *codec; /* its own; workers: 1: the pipeline's */
        int own_codec;
        ls_outbuf_t ob;
        int failed; /* an error left a shard half done: no more checks */
} ls_pl_worker_t;

struct ls_pipeline_s {
        const ls_config_t *conf;
        ls_log_t *log;
        ls_metrics_t *metrics; /* registry; served when metrics.listen */
        ls_runmetrics_t mh;    /* the series of `run` */
        const volatile sig_atomic_t *reloadp; /* SIGHUP counter, or NULL */
        sig_atomic_t reload_seen;
        atomic_int reload_req;
        struct timespec model_mtime; /* model_watch: last seen */
        off_t model_size;
        ls_modelset_t *ms;
        ls_codec_t *codec;
        ls_kafka_env_t kenv;           /* the clients' opaque (ls_kafka.h) */
        const ls_registry_t *registry; /* the codec's client, or NULL */
        ls_broker_t *broker;           /* embedded broker, or NULL */
        char *bootstrap;
        rd_kafka_t *consumer;
        ls_producer_t *producer;
        rd_kafka_queue_t *cq;       /* the consumer queue (batch consume) */
        rd_kafka_message_t **batch; /* LS_PL_BATCH slots */
        int consumer_closed;
        int64_t now_mono; /* clocks, read once per batch (ms) */
        int64_t now_wall;

        ls_slot_t *slots;            /* indexed by partition */
        ls_tp_t **tps[2];            /* [topic][partition] */
        int32_t n_parts;             /* size of slots and tps[*] */
        int32_t topic_parts[2];      /* partitions of each input topic, from
                                  * metadata at the last assignment; 0 =
                                  * unknown (no partition check) */
        ls_pl_limited_t misplaced;   /* misplaced_input warnings */
        size_t lead_budget;          /* max_leads over all partitions; 0 none */
        ls_pl_limited_t cap_reached; /* lead_cap_reached warnings */
        int ends_wanted;             /* some ls_tp_t.m.end_wanted is set */
        int64_t ends_retry_at; /* no ListOffsets before (after an error) */

        ls_workers_t *pool; /* the scoring threads (ls_pipeline_work.c) */
        ls_pl_worker_t *wk; /* [n_wk] */
        int n_wk;           /* ls_config_workers(); 1: inline */
        ls_pl_job_t *jfree; /* jobs to reuse */
        ls_durable_t *dur;  /* snapshots (ls_durable.h) */
        ls_pipeline_stats_t stats;
        int fatal; /* a fatal error happened; stop */
        ls_err_t fatal_err;
        char fatal_str[1024];
        atomic_int stop_req;
        atomic_uint_least64_t
                n_consumed; /* stats.consumed, for other threads */
};

/* ------------------------------------------------ shared between files */

int64_t ls_pl_now_mono(void);
void ls_pl_fatal(ls_pipeline_t *pl, ls_err_t err, const char *msg);
void ls_pl_model_stat(const ls_pipeline_t *pl, struct timespec *mtime,
                      off_t *size);
ls_tp_t *ls_tp_new(int topic, int32_t partition);
void ls_tp_destroy(ls_tp_t *tp);
const char *ls_pl_topic_name(const ls_pipeline_t *pl, int topic);
int ls_pl_topic_index(const ls_pipeline_t *pl, const char *name);
void ls_pl_commit(ls_pipeline_t *pl,
                  const rd_kafka_topic_partition_list_t *only);
void ls_pl_make_durable(ls_pipeline_t *pl,
                        const rd_kafka_topic_partition_list_t *only,
                        const char *why);
size_t ls_pl_partition_cap(const ls_pipeline_t *pl);
void ls_pl_set_caps(ls_pipeline_t *pl);
void ls_pl_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t *parts, void *opaque);
void ls_pl_model_watch(ls_pipeline_t *pl);
/* ls_pipeline_work.c */
ls_err_t ls_pl_workers_new(ls_pipeline_t *pl, const ls_codec_conf_t *cc,
                           const ls_registry_conf_t *rconf, char *errstr,
                           size_t errstr_size);
void ls_pl_workers_destroy(ls_pipeline_t *pl);
void ls_pl_record(const ls_pipeline_t *pl, int topic,
                  const rd_kafka_message_t *rkm, ls_record_t *rec);
/** 1 when records are read (decoded) on the consuming thread, not by
 *  the workers: registry framing (format.input: registry), so that the
 *  registry client, its caches, its lookup limit and its metrics stay one
 *  per process; and plain Avro that the merge must read (merge_wait > 0),
 *  whose decode costs less than handing the record to a worker and
 *  taking it back (docs/PERFORMANCE.md, "Reading Avro on the consuming
 *  thread"). JSON, and Avro with merge_wait 0 (one trip to the worker in
 *  any case), are read by the workers. */
static inline int ls_pl_reads_here(const ls_pipeline_t *pl) {
        return pl->conf->input_format == LS_FORMAT_REGISTRY ||
               (pl->conf->input_format == LS_FORMAT_AVRO &&
                pl->conf->merge_wait_ms > 0);
}
/** Reads record @p h->rec of @p topic with the pipeline's codec into
 *  @p h (its merge key, and the input or why it is rejected; unread on
 *  LS_V_ERROR unless @p final, which keeps that error as its verdict).
 *  @returns 0, or -1 after a fatal error (out of memory). */
int ls_pl_read_here(ls_pipeline_t *pl, int topic, ls_held_t *h, int final);
/** merge_wait > 0: hands consumed record @p rkm (taken) of @p tp to its
 *  partition's worker to be read for the merge; it enters the hold queue
 *  when it comes back (ls_pl_collect()). @p now: its arrival. */
void ls_pl_submit_read(ls_pipeline_t *pl, ls_tp_t *tp, int topic,
                       rd_kafka_message_t *rkm, int64_t now);
/** Hands consumed record @p rkm (taken) with what the merge read of it
 *  (@p h, taken; cleared) to its partition's worker. */
void ls_pl_submit(ls_pipeline_t *pl, rd_kafka_message_t *rkm, ls_held_t *h);
/** Produces the jobs done, waiting up to @p wait_ms (ls_workers_done()). */
void ls_pl_collect(ls_pipeline_t *pl, int wait_ms);
/** Waits for every job and produces it: the shards are this thread's
 *  until the next submit. */
void ls_pl_settle(ls_pipeline_t *pl);
int ls_pl_reload_wanted(ls_pipeline_t *pl);
void ls_pl_reload_model(ls_pipeline_t *pl);

#endif /* LS_PIPELINE_INT_H */
