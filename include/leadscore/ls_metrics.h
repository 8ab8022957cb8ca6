/*
 * ls_metrics.h - the operations endpoint of `leadscore run`: Prometheus
 * metrics at /metrics, liveness at /healthz, readiness at /readyz.
 *
 * A registry holds metric families (counter, gauge, histogram) and their
 * series (one per label set). The pipeline asks once for a series handle
 * (ls_metrics_counter() etc.; asking again with the same name and labels
 * returns the same handle, so counters stay monotonic across partition
 * revocations) and then updates it with C11 atomics: no lock on the hot
 * path. The HTTP server (libmicrohttpd, its own thread) renders the text
 * exposition format under the registry mutex, which only guards the list
 * of series.
 *
 * Threading: every function is thread-safe. Handles live as long as the
 * registry.
 */
#ifndef LS_METRICS_H
#define LS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_err.h"

typedef struct ls_metrics_s ls_metrics_t;
typedef struct ls_metric_s ls_metric_t; /* one series */

/** @returns an empty registry (not serving), or NULL when memory is short. */
ls_metrics_t *ls_metrics_new(void);

/** Stops the server (if any) and frees the registry and its handles. */
void ls_metrics_destroy(ls_metrics_t *m);

/**
 * Starts serving on @p listen ("HOST:PORT", "[V6]:PORT" or ":PORT"; HOST
 * must be a numeric address; PORT 0 picks a free port).
 * @returns LS_OK, or LS_ERR_INVALID (bad address) / LS_ERR_IO (cannot
 *          bind) with errstr naming the address.
 */
ls_err_t ls_metrics_serve(ls_metrics_t *m, const char *listen, char *errstr,
                          size_t errstr_size);

/** @returns the port being served, or 0 when not serving. */
int ls_metrics_port(const ls_metrics_t *m);

/**
 * Returns the series @p name{@p labels} of a counter / gauge family,
 * registering family and series on first use. @p labels is the label
 * text inside the braces (`topic="a",partition="0"`) or "" / NULL; label
 * values must be escaped with ls_metrics_label_escape(). @p help is used
 * when the family is first registered.
 * @returns the handle, or NULL when memory is short or @p name is
 *          already registered with another type.
 */
ls_metric_t *ls_metrics_counter(ls_metrics_t *m, const char *name,
                                const char *help, const char *labels);
ls_metric_t *ls_metrics_gauge(ls_metrics_t *m, const char *name,
                              const char *help, const char *labels);

/**
 * A histogram series with @p n_bounds ascending upper bounds (the +Inf
 * bucket is implicit). Bounds are taken from the first registration.
 */
ls_metric_t *ls_metrics_histogram(ls_metrics_t *m, const char *name,
                                  const char *help, const char *labels,
                                  const double *bounds, size_t n_bounds);

/** Adds @p n to a counter. NULL-safe. */
void ls_metric_add(ls_metric_t *c, uint64_t n);
/**
 * Raises a counter to @p total, a running total that another component
 * keeps (e.g. librdkafka's statistics) and that only grows. A value below
 * the counter's is ignored, so the counter never goes down. NULL-safe.
 */
void ls_metric_set_total(ls_metric_t *c, uint64_t total);
/** Sets a gauge. NULL-safe. */
void ls_metric_set(ls_metric_t *g, double v);
/** Records one observation in a histogram. NULL-safe. */
void ls_metric_observe(ls_metric_t *h, double v);
/** @returns a counter's or gauge's current value (histograms: count). */
double ls_metric_value(const ls_metric_t *s);

/** Readiness reported at /readyz: 200 when non-zero, else 503. */
void ls_metrics_set_ready(ls_metrics_t *m, int ready);
int ls_metrics_ready(const ls_metrics_t *m);

/**
 * Renders every family in the text exposition format (version 0.0.4)
 * into @p out (appended). @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_metrics_render(ls_metrics_t *m, ls_buf_t *out);

/**
 * Escapes a label value (backslash, double quote, newline) into @p out.
 * @returns @p out (truncated to out_size - 1).
 */
char *ls_metrics_label_escape(const char *value, char *out, size_t out_size);

/**
 * Registers the gauge leadscore_build_info{version,librdkafka,avro_c} = 1:
 * the versions `leadscore --version` prints, so that dashboards can tell
 * which build each instance runs. @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_metrics_build_info(ls_metrics_t *m, const char *version,
                               const char *librdkafka, const char *avro_c);

/**
 * Updates librdkafka metrics from one statistics JSON document (the
 * stats callback's, `statistics.interval.ms`), labelled client=@p client:
 * the counters leadscore_kafka_tx_msgs_total / rx_msgs_total (the
 * client's running totals) and the gauges
 * leadscore_kafka_consumer_lag{topic,partition} (only partitions with a
 * known lag, >= 0), leadscore_kafka_broker_rtt_avg_seconds{broker},
 * leadscore_kafka_replyq, leadscore_kafka_msg_cnt (messages in the
 * producer queue).
 * @returns LS_OK, or LS_ERR_INVALID when the document does not parse.
 */
ls_err_t ls_metrics_rdkafka_stats(ls_metrics_t *m, const char *client,
                                  const char *json, size_t len);

/**
 * Hook for the snapshot feature: publishes the state of partition
 * @p partition's last snapshot (age and duration in seconds, size in
 * bytes) as leadscore_snapshot_{age_seconds,duration_seconds,bytes}.
 * Call whenever a snapshot completes and periodically for the age.
 */
void ls_metrics_snapshot(ls_metrics_t *m, int32_t partition, double age_seconds,
                         double duration_seconds, uint64_t bytes);

#endif /* LS_METRICS_H */
