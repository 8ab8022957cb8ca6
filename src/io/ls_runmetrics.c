/*
 * ls_runmetrics.c - the metric series of `leadscore run` (see
 * ls_runmetrics.h): names, help texts and label values in one place.
 * Labelled series are looked up by their label text (ls_metrics_counter()
 * finds or creates), so a series registered here at 0 and one counted
 * later by its label are the same series.
 */
#include "leadscore/ls_runmetrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_scorer.h"

#define LS_RM_RELOADS_HELP                                                     \
        "Model reload attempts, by result (switched, unchanged, rejected)."

ls_err_t ls_runmetrics_init(ls_runmetrics_t *rm, ls_metrics_t *reg,
                            const char *version, const char *avro_version) {
        static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,  0.1,    0.25,  0.5,  1,
                                        2.5,   5,      10,    30,   60};
        static const char *const reload_results[] = {"switched", "unchanged",
                                                     "rejected"};
        size_t i;
        char labels[96];

        memset(rm, 0, sizeof(*rm));
        rm->reg = reg;
        for (i = 0; i < 4; i++) {
                snprintf(labels, sizeof(labels), "kind=\"%s\",alert=\"%s\"",
                         i ? "alert" : "score_update",
                         ls_alert_kind2str((ls_alert_kind_t)i));
                rm->outputs[i] = ls_metrics_counter(
                        reg, "leadscore_outputs_total",
                        "Outputs produced, by kind (score_update, alert) and "
                        "alert kind.",
                        labels);
        }
        for (i = 0; i < LS_DURABLE_RESTORE__CNT; i++) {
                snprintf(labels, sizeof(labels), "result=\"%s\"",
                         ls_durable_restore2str((ls_durable_restore_t)i));
                rm->restores[i] = ls_metrics_counter(
                        reg, "leadscore_restores_total",
                        "Partitions taken on, by how their state was "
                        "created: restored from a snapshot, migrated from "
                        "another model set's snapshot, empty (no snapshot "
                        "and the whole history in the log), reset "
                        "(snapshot.allow_reset).",
                        labels);
        }
        rm->applied = ls_metrics_counter(reg, "leadscore_applied_total",
                                         "Inputs the engine accepted.", NULL);
        rm->duplicates = ls_metrics_counter(
                reg, "leadscore_duplicates_total",
                "Duplicate events dropped (same event id for a lead).", NULL);
        rm->stale = ls_metrics_counter(
                reg, "leadscore_stale_profiles_total",
                "Profile updates skipped: older (by updated_at) than the one "
                "already applied to their lead.",
                NULL);
        rm->delivered = ls_metrics_counter(
                reg, "leadscore_delivered_total",
                "Produced records acknowledged by the broker.", NULL);
        rm->delivery_failures = ls_metrics_counter(
                reg, "leadscore_delivery_failures_total",
                "Produced records the broker finally refused (fatal).", NULL);
        rm->commits = ls_metrics_counter(reg, "leadscore_commits_total",
                                         "Input offset commits.", NULL);
        rm->latency = ls_metrics_histogram(
                reg, "leadscore_processing_latency_seconds",
                "From an input record's Kafka timestamp to the production of "
                "its outputs.",
                NULL, bounds, sizeof(bounds) / sizeof(bounds[0]));
        /* Every known label value of a labelled counter exists from the
         * start, at 0, so that rate() and alerts see the first increment
         * (docs/OPERATIONS.md lists them; keep the two in step). */
        for (i = 0; i < LS_V__CNT; i++) {
                if (!ls_verdict_rejected((ls_verdict_t)i))
                        continue;
                snprintf(labels, sizeof(labels), "reason=\"%s\"",
                         ls_verdict_name((ls_verdict_t)i));
                ls_metrics_counter(reg, "leadscore_dead_letters_total",
                                   "Input records sent to the dead-letter "
                                   "topic, by reason.",
                                   labels);
        }
        for (i = 0; i < sizeof(reload_results) / sizeof(reload_results[0]);
             i++) {
                snprintf(labels, sizeof(labels), "result=\"%s\"",
                         reload_results[i]);
                ls_metrics_counter(reg, "leadscore_model_reloads_total",
                                   LS_RM_RELOADS_HELP, labels);
        }
        if (ls_metrics_build_info(reg, version, rd_kafka_version_str(),
                                  avro_version))
                return LS_ERR_NOMEM;
        return LS_OK;
}

ls_metric_t *ls_runmetrics_consumed(ls_runmetrics_t *rm, const char *topic,
                                    int32_t partition) {
        char labels[512], esc[400];

        snprintf(labels, sizeof(labels),
                 "topic=\"%s\",partition=\"%" PRId32 "\"",
                 ls_metrics_label_escape(topic, esc, sizeof(esc)), partition);
        return ls_metrics_counter(rm->reg, "leadscore_consumed_total",
                                  "Input records consumed, by topic and "
                                  "partition.",
                                  labels);
}

void ls_runmetrics_model_info(ls_runmetrics_t *rm, const ls_modelset_t *ms,
                              int on) {
        char labels[512], id[256];
        size_t i;

        for (i = 0; i < ms->n_models; i++) {
                snprintf(labels, sizeof(labels),
                         "model=\"%s\",version=\"%s\",set_version=\"%s\"",
                         ls_metrics_label_escape(ms->models[i].id, id,
                                                 sizeof(id)),
                         ms->models[i].version, ms->version);
                ls_metric_set(ls_metrics_gauge(rm->reg, "leadscore_model_info",
                                               "1 for the models in use.",
                                               labels),
                              on);
        }
}

void ls_runmetrics_reload(ls_runmetrics_t *rm, const char *result) {
        char labels[64];

        snprintf(labels, sizeof(labels), "result=\"%s\"", result);
        ls_metric_add(ls_metrics_counter(rm->reg,
                                         "leadscore_model_reloads_total",
                                         LS_RM_RELOADS_HELP, labels),
                      1);
}

void ls_runmetrics_suppressed(ls_runmetrics_t *rm, int32_t p,
                              const uint64_t add[LS_RUNMETRICS_SUPPRESS_N]) {
        static const char *const reasons[3] = {"burst", "unopened", "match"};
        char labels[96];
        int k;

        for (k = 0; k < 3; k++) {
                snprintf(labels, sizeof(labels),
                         "partition=\"%" PRId32 "\",reason=\"%s\"", p,
                         reasons[k]);
                ls_metric_add(ls_metrics_counter(
                                      rm->reg, "leadscore_suppressed_total",
                                      "Events the model's suppress rules "
                                      "suppressed (scored nothing), per "
                                      "partition, by the kind of the first "
                                      "rule that caught them.",
                                      labels),
                              add[k]);
        }
        snprintf(labels, sizeof(labels), "partition=\"%" PRId32 "\"", p);
        ls_metric_add(ls_metrics_counter(rm->reg, "leadscore_reversed_total",
                                         "Scored events whose points a burst "
                                         "recognised later took back, per "
                                         "partition.",
                                         labels),
                      add[3]);
}

void ls_runmetrics_shard(ls_runmetrics_t *rm, int32_t p,
                         const ls_shard_t *shard) {
        ls_shard_stats_t st;
        char labels[64];

        memset(&st, 0, sizeof(st));
        if (shard)
                ls_shard_stats(shard, &st);
        snprintf(labels, sizeof(labels), "partition=\"%" PRId32 "\"", p);
        ls_metric_set(ls_metrics_gauge(rm->reg, "leadscore_leads",
                                       "Leads held by the shard of each "
                                       "assigned partition.",
                                       labels),
                      (double)st.leads);
        ls_metric_set(ls_metrics_gauge(rm->reg, "leadscore_state_bytes",
                                       "Memory held by each shard's lead "
                                       "table.",
                                       labels),
                      (double)st.state_bytes);
        ls_metric_set(ls_metrics_gauge(rm->reg, "leadscore_timers",
                                       "Pending decay timers per shard.",
                                       labels),
                      (double)st.timers);
}

void ls_runmetrics_model_leads(ls_runmetrics_t *rm, const ls_modelset_t *ms,
                               const uint64_t *per_model) {
        char labels[512], id[256];
        size_t i;

        for (i = 0; i < ms->n_models; i++) {
                snprintf(labels, sizeof(labels), "model=\"%s\"",
                         ls_metrics_label_escape(ms->models[i].id, id,
                                                 sizeof(id)));
                ls_metric_set(ls_metrics_gauge(rm->reg, "leadscore_model_leads",
                                               "Leads with at least one "
                                               "output under the model, over "
                                               "the assigned shards.",
                                               labels),
                              (double)per_model[i]);
        }
}

void ls_runmetrics_lead_cap(ls_runmetrics_t *rm, size_t budget) {
        ls_metric_set(ls_metrics_gauge(rm->reg, "leadscore_lead_cap",
                                       "Leads this process holds at most "
                                       "if it holds every partition "
                                       "(max_leads; 0: no cap).",
                                       NULL),
                      (double)budget);
}

void ls_runmetrics_registry(ls_runmetrics_t *rm, const ls_registry_t *reg) {
        ls_metric_set_total(
                ls_metrics_counter(rm->reg,
                                   "leadscore_registry_lookups_skipped_total",
                                   "Schema ids not looked up in the registry: "
                                   "over registry.max_lookups_per_second.",
                                   NULL),
                ls_registry_lookups_skipped(reg));
}
