/*
 * ls_pipeline.h - the Kafka pipeline of `leadscore run` (and, through
 * ls_broker.h, the embedded test broker).
 *
 * A pipeline is one consumer-group member: it consumes the events and
 * profiles topics (co-partitioned: partition p of both feeds shard p),
 * applies each input to its partition's shard, and produces the outputs
 * to the scores / alerts topics and bad inputs to the dead-letter topic.
 * Input offsets are committed only once every record produced for the
 * inputs up to them has been acknowledged by the broker.
 *
 * Threading: a pipeline runs on the thread that calls ls_pipeline_run();
 * ls_pipeline_stop() may be called from any thread.
 */
#ifndef LS_PIPELINE_H
#define LS_PIPELINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_broker.h" /* the embedded test broker */
#include "leadscore/ls_config.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_log.h"
#include "leadscore/ls_metrics.h"

/* ------------------------------------------------------------- pipeline */

typedef struct ls_pipeline_stats_s {
        uint64_t consumed;     /* input records read */
        uint64_t applied;      /* inputs the engine accepted */
        uint64_t outputs;      /* score updates and alerts produced */
        uint64_t alerts;       /* of which alerts */
        uint64_t dead_letters; /* bad inputs sent to the dead-letter topic */
        uint64_t duplicates;   /* duplicate events (silently dropped) */
        uint64_t stale;        /* stale profile updates (skipped) */
        uint64_t delivered;    /* records acknowledged by the broker */
        uint64_t delivery_failures;
        uint64_t commits;        /* offset commits issued */
        uint64_t ticks;          /* clock ticks consumed (stream time moved) */
        uint64_t ticks_produced; /* ticks written for idle partitions */
        uint64_t ticks_failed;   /* of which the broker refused */
} ls_pipeline_stats_t;

typedef struct ls_pipeline_s ls_pipeline_t;

/**
 * Loads the model and schemas, creates the Kafka clients (starting an
 * embedded broker when @p conf names no bootstrap servers) and subscribes.
 * @p conf is borrowed and must outlive the pipeline.
 * @returns the pipeline, or NULL with errstr naming what failed.
 */
ls_pipeline_t *ls_pipeline_new(const ls_config_t *conf, char *errstr,
                               size_t errstr_size);

/**
 * Runs until *stopp becomes non-zero (a signal handler's flag; may be
 * NULL), ls_pipeline_stop() is called, or a fatal error. Then finishes the
 * current batch, flushes the producer, commits offsets and closes the
 * consumer.
 * @returns LS_OK after a clean stop; LS_ERR_KAFKA when a record could not
 *          be delivered (offsets past it are not committed) or the client
 *          failed fatally; LS_ERR_IO when the schema registry is
 *          unreachable; with errstr saying why.
 */
ls_err_t ls_pipeline_run(ls_pipeline_t *pl, const volatile sig_atomic_t *stopp,
                         char *errstr, size_t errstr_size);

/** Asks a running pipeline to stop. Thread-safe. */
void ls_pipeline_stop(ls_pipeline_t *pl);

/**
 * Model reload on a signal: whenever *@p counterp changes (a SIGHUP
 * handler increments it), the pipeline reloads conf->model_path at the
 * next switch point, between two batches. A valid model that differs
 * replaces the old one in every shard, whose lead state is migrated to it
 * (ls_shard_migrate(): scores and sequence numbers carry over); an
 * invalid one is rejected, logged with its file:line reason, and the old
 * one keeps serving. See docs/OPERATIONS.md. Call before
 * ls_pipeline_run().
 */
void ls_pipeline_reload_on(ls_pipeline_t *pl,
                           const volatile sig_atomic_t *counterp);

/** Asks for a model reload at the next switch point. Thread-safe. */
void ls_pipeline_reload(ls_pipeline_t *pl);

/**
 * @returns the pipeline's metric registry (always present; served over
 *          HTTP only with metrics.listen), valid until destroy.
 */
ls_metrics_t *ls_pipeline_metrics(ls_pipeline_t *pl);

/** @returns the pipeline's structured logger, valid until destroy. */
ls_log_t *ls_pipeline_log(ls_pipeline_t *pl);

/** @returns the bootstrap servers the pipeline's clients use. */
const char *ls_pipeline_bootstrap(const ls_pipeline_t *pl);

/** @returns the number of input records consumed so far. Thread-safe. */
uint64_t ls_pipeline_consumed(const ls_pipeline_t *pl);

/** Copies the counters. Call from the run thread or after run returns. */
void ls_pipeline_stats(const ls_pipeline_t *pl, ls_pipeline_stats_t *stats);

void ls_pipeline_destroy(ls_pipeline_t *pl);

#endif /* LS_PIPELINE_H */
