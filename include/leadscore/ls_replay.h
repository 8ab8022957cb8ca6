/*
 * ls_replay.h - deterministic re-scoring of history (`leadscore replay`
 * and `leadscore diff`).
 *
 * A replay reads a bounded range of the events and profiles topics by
 * assignment (no consumer group, no commits: live consumers are never
 * touched) or a list of files (JSON lines or Avro object container
 * files), scores it with one shard per input partition (one shard for
 * files) exactly as the live pipeline does, and writes the outputs to a
 * file (JSON lines or Avro container files), to a Kafka topic, or only
 * the final state of every lead. With two model sets it keeps two shards
 * per partition and the final states feed a diff report.
 *
 * Order: per partition, the records of both topics are applied in the
 * order `leadscore run` applies them, computed by the merge module
 * (ls_merge.h: each topic in offset order, the two merged by event time;
 * the Kafka message timestamp plays no part); files are read in the order
 * given. Outputs are written in partition order, so the output bytes
 * depend only on the input and the model, never on thread scheduling. See
 * docs/REPLAY.md.
 *
 * An observer (conf.observe, for `calibrate`) sees every record scored,
 * its decoded input and its outputs, in one fixed order; and
 * ls_replay_topic_each() reads a topic that is not scored (calibrate's
 * outcomes) with the same client and bounds.
 *
 * Threading: a replay is driven by the thread that calls
 * ls_replay_run(); it starts its own worker threads, each owning whole
 * partitions, and joins them before returning.
 */
#ifndef LS_REPLAY_H
#define LS_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "leadscore/ls_codec.h"
#include "leadscore/ls_config.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_scorer.h"

/** One end of a topic range. */
typedef enum ls_replay_bound_kind_e {
        LS_REPLAY_EARLIEST = 1, /* --from: the low watermark */
        LS_REPLAY_LATEST,       /* --to: the high watermark at start */
        LS_REPLAY_OFFSET,       /* the same offset in every partition */
        LS_REPLAY_TIME,         /* ms since the epoch, via offsets_for_times */
} ls_replay_bound_kind_t;

typedef struct ls_replay_bound_s {
        ls_replay_bound_kind_t kind;
        int64_t value; /* offset or time for OFFSET / TIME */
} ls_replay_bound_t;

/**
 * Parses "earliest", "latest", an offset (digits) or a time (RFC 3339,
 * or digits followed by "ms" for milliseconds since the epoch).
 * @returns LS_OK, or LS_ERR_INVALID with errstr saying why.
 */
ls_err_t ls_replay_bound_parse(const char *s, ls_replay_bound_t *bound,
                               char *errstr, size_t errstr_size);

typedef enum ls_replay_file_format_e {
        LS_REPLAY_FILE_AUTO = 0, /* by extension: .avro = avro, else json */
        LS_REPLAY_FILE_JSON,
        LS_REPLAY_FILE_AVRO,
} ls_replay_file_format_t;

typedef enum ls_replay_sink_e {
        LS_REPLAY_SINK_FILE = 1, /* JSON lines or Avro container files */
        LS_REPLAY_SINK_TOPIC,    /* produce to Kafka */
        LS_REPLAY_SINK_FINAL,    /* final state per lead and model (JSON) */
        LS_REPLAY_SINK_NONE,     /* nothing written (diff) */
} ls_replay_sink_t;

/**
 * Sees a record of a replay scored (ls_replay_conf_t.observe): its
 * verdict @p v, the decoded input when @p v is LS_V_APPLIED (else NULL;
 * valid during the call only) and the outputs of model set 0 it produced
 * (decay that came due comes before a rejection too). After a partition's
 * last record, the move to conf.advance_to is seen as LS_V_TICK without
 * an input. @returns LS_OK, or an error that stops the replay.
 */
typedef ls_err_t (*ls_replay_observe_t)(void *opaque, ls_verdict_t v,
                                        const ls_input_t *in,
                                        const ls_outbuf_t *ob);

/** What to replay and where to. Every pointer is borrowed. */
typedef struct ls_replay_conf_s {
        /* Models: one set, or two (old, new) for a diff. */
        const ls_modelset_t *ms[2];
        size_t n_ms;

        /* Topic input (when topic_events is set). */
        const ls_props_t *kafka; /* client properties (may be NULL) */
        const char *brokers;     /* overrides bootstrap.servers */
        const char *topic_events;
        const char *topic_profiles; /* NULL = events only */
        ls_replay_bound_t from, to;

        /* File input (when n_inputs > 0). */
        const char *const *inputs;
        size_t n_inputs;
        ls_replay_file_format_t file_format;

        /* Wire formats: input_format for topic records, output_format for
         * file and topic outputs (json or avro). */
        ls_format_t input_format;
        ls_format_t output_format;
        const char *schema_dir; /* needed for avro / registry */
        const char *registry_url;
        const ls_registry_conf_t *registry; /* its auth and TLS, or NULL */
        size_t max_record_bytes;            /* 0 = 1 MiB */

        /* Output. */
        ls_replay_sink_t sink;
        const char *output;        /* FILE sink / FINAL: path, NULL = stdout */
        const char *alerts_output; /* avro FILE sink: alerts file */
        const char *output_topic;  /* TOPIC sink: score updates */
        const char *alerts_topic; /* TOPIC sink: alerts (NULL = output_topic) */

        /* State. */
        const char *snapshot;   /* state to start from, or NULL */
        const char *save_state; /* write the final state here, or NULL */

        int threads;  /* worker threads, 0 = automatic */
        int progress; /* draw a progress line on stderr */

        /* Observation (`calibrate`): every record scored goes to observe,
         * called by one thread at a time, in one fixed order: partition
         * after partition (by number), each in merge order (files: in
         * order); threads is then 1. NULL: none. */
        ls_replay_observe_t observe;
        void *observe_opaque;
        /* The shards' observer (ls_shard_set_observer()): every rule
         * match and fit change, as observe sees every record. NULL
         * members: none. */
        ls_observer_t shard_observer;
        /* > 0: after a partition's last record, its shards' stream time
         * moves to this time (ms), firing the decay due by then; the
         * outputs are written and observed like a record's. */
        int64_t advance_to;
} ls_replay_conf_t;

typedef struct ls_replay_stats_s {
        uint64_t records;       /* input records read */
        uint64_t out_of_bounds; /* fetched from a topic but outside a time
                                 * bound: 0 where the broker's time index
                                 * resolved both bounds exactly */
        uint64_t applied;       /* accepted by the engine (first model set) */
        uint64_t bad;           /* rejected (ls_verdict_rejected): skipped */
        uint64_t duplicates;
        uint64_t stale;         /* stale profile updates: skipped */
        ls_verdicts_t verdicts; /* every verdict of the first model set */
        uint64_t outputs;       /* outputs written (first model set) */
        uint64_t leads;         /* leads in the final state */
        uint64_t suppressed;    /* events suppressed (ls_shard_stats_t:
                                 * the three suppressed_* summed) */
        uint64_t reversed;      /* scored events a burst took back */
        int32_t partitions;     /* shards */
        double read_seconds;    /* time spent until the last record was read */
        double seconds;         /* whole run */
} ls_replay_stats_t;

typedef struct ls_replay_s ls_replay_t;

/**
 * Validates @p conf, loads the snapshot and prepares the output.
 * @returns the replay, or NULL with errstr naming what failed.
 */
ls_replay_t *ls_replay_new(const ls_replay_conf_t *conf, char *errstr,
                           size_t errstr_size);

/**
 * Reads, scores and writes everything. Bad records are reported on
 * stderr (topic [partition] offset, or file:line) and skipped.
 * @returns LS_OK (check stats.bad), or an error (I/O, Kafka, memory) with
 *          errstr saying why; outputs may then be incomplete.
 */
ls_err_t ls_replay_run(ls_replay_t *rp, char *errstr, size_t errstr_size);

void ls_replay_stats(const ls_replay_t *rp, ls_replay_stats_t *stats);

/** @returns the number of shards (after ls_replay_run()). */
int32_t ls_replay_n_shards(const ls_replay_t *rp);

/**
 * @returns shard @p p of model set @p set (0 or 1) after ls_replay_run(),
 *          or NULL. Owned by the replay.
 */
const ls_shard_t *ls_replay_shard(const ls_replay_t *rp, int32_t p, size_t set);

/** @returns model set @p set (0 or 1) of the replay, or NULL. */
const ls_modelset_t *ls_replay_modelset(const ls_replay_t *rp, size_t set);

void ls_replay_destroy(ls_replay_t *rp);

/**
 * Calls @p cb for every record of @p topic that is not scored (e.g.
 * calibrate's outcomes): partition after partition (by number), each from
 * its low watermark to its high watermark taken at start, in offset
 * order. The client is made as the replay's consumer is (conf->kafka,
 * conf->brokers; no group, no commits). @p cb gets the record's value
 * (NULL with len 0 for a record without one) and returns LS_OK or an
 * error that stops the read.
 * @returns LS_OK; LS_ERR_KAFKA with errstr naming the topic (and the
 *          partition) when the topic does not exist, no broker answers or
 *          a partition errs or stalls; or what @p cb returned (errstr
 *          untouched).
 */
ls_err_t ls_replay_topic_each(const ls_replay_conf_t *conf, const char *topic,
                              ls_err_t (*cb)(void *opaque, const char *topic,
                                             int32_t partition, int64_t offset,
                                             const void *value, size_t len),
                              void *opaque, char *errstr, size_t errstr_size);

/* ------------------------------------------------------------------ diff */

typedef struct ls_diff_s ls_diff_t;

/**
 * Builds the diff report of a finished two-model-set replay: for every
 * model id present in both sets, the leads whose grade, band or MQL
 * status differ, the first @p n_examples such lead ids, MQL gains and
 * losses, the total score distribution and the grid cell counts of both.
 * @returns the report, or NULL with errstr (no common model id, memory).
 */
ls_diff_t *ls_diff_new(const ls_replay_t *rp, size_t n_examples, char *errstr,
                       size_t errstr_size);

/** Writes the report as aligned text for a terminal. */
void ls_diff_print_text(const ls_diff_t *diff, FILE *fp);

/** Writes the report as one JSON document (see docs/REPLAY.md). */
ls_err_t ls_diff_print_json(const ls_diff_t *diff, FILE *fp);

void ls_diff_destroy(ls_diff_t *diff);

#endif /* LS_REPLAY_H */
