/*
 * ls_runmetrics.h - the metric series of `leadscore run`
 * (docs/OPERATIONS.md lists them): the counters and histogram updated on
 * the hot path, registered at start with every known label value of a
 * labelled counter at 0 (so that rate() and alerts see the first
 * increment), and the gauges that describe the state (leads, bytes,
 * timers per shard, leads per model, the models in use, the lead cap).
 *
 * The series live in a registry (ls_metrics.h) that the caller owns;
 * the handles here stay valid as long as it does. Counters are atomic:
 * any thread may add; the gauges are set by the owner's thread.
 */
#ifndef LS_RUNMETRICS_H
#define LS_RUNMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_durable.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_metrics.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_registry.h"

typedef struct ls_runmetrics_s {
        ls_metrics_t *reg;       /* borrowed */
        ls_metric_t *outputs[4]; /* [alert kind]; [0] = score updates */
        ls_metric_t *restores[LS_DURABLE_RESTORE__CNT]; /* by result */
        ls_metric_t *applied, *duplicates, *stale, *delivered,
                *delivery_failures;
        ls_metric_t *commits, *latency;
} ls_runmetrics_t;

/**
 * Registers every series of `run` in @p reg, and leadscore_build_info
 * with @p version (leadscore's) and the libraries' versions.
 * @returns LS_OK, or LS_ERR_NOMEM (handles may then be NULL, which every
 *          ls_metric_* call accepts).
 */
ls_err_t ls_runmetrics_init(ls_runmetrics_t *rm, ls_metrics_t *reg,
                            const char *version, const char *avro_version);

/** @returns leadscore_consumed_total{topic,partition} of input topic
 *  @p topic, partition @p partition. */
ls_metric_t *ls_runmetrics_consumed(ls_runmetrics_t *rm, const char *topic,
                                    int32_t partition);

/** The suppression counts of a shard's stats, in this order:
 *  suppressed_burst, suppressed_unopened, suppressed_match, reversed. */
#define LS_RUNMETRICS_SUPPRESS_N 4

/**
 * Adds @p add to leadscore_suppressed_total{partition,reason} (burst,
 * unopened, match) and leadscore_reversed_total{partition} of partition
 * @p p: what this process saw happen since the last call (the caller
 * keeps the shard's last counts; a shard restored from a snapshot starts
 * from its restored counts, so they are not counted again).
 */
void ls_runmetrics_suppressed(ls_runmetrics_t *rm, int32_t p,
                              const uint64_t add[LS_RUNMETRICS_SUPPRESS_N]);

/** Sets leadscore_model_info{model,version,set_version} of every model of
 *  @p ms to @p on (1 in use, 0 replaced). */
void ls_runmetrics_model_info(ls_runmetrics_t *rm, const ls_modelset_t *ms,
                              int on);

/** Counts a model reload attempt by @p result ("switched", "unchanged",
 *  "rejected"). */
void ls_runmetrics_reload(ls_runmetrics_t *rm, const char *result);

/** Sets the gauges of partition @p p's shard (leads, state bytes,
 *  timers); @p shard NULL: not held, all 0. */
void ls_runmetrics_shard(ls_runmetrics_t *rm, int32_t p,
                         const ls_shard_t *shard);

/** Sets leadscore_model_leads of every model of @p ms: @p per_model[i]
 *  leads with an output under model i over the shards held. */
void ls_runmetrics_model_leads(ls_runmetrics_t *rm, const ls_modelset_t *ms,
                               const uint64_t *per_model);

/** Sets leadscore_lead_cap (max_leads over all partitions; 0: none). */
void ls_runmetrics_lead_cap(ls_runmetrics_t *rm, size_t budget);

/** Sets leadscore_registry_lookups_skipped_total from @p reg. */
void ls_runmetrics_registry(ls_runmetrics_t *rm, const ls_registry_t *reg);

#endif /* LS_RUNMETRICS_H */
