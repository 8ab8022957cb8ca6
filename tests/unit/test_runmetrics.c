/*
 * test_runmetrics.c - the metric series of `run` (ls_runmetrics.h): every
 * known label value of a labelled counter exported at 0 from the start,
 * the hot-path handles being the series the exposition shows, and the
 * state gauges (models in use, shards, lead cap) set and reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_runmetrics.h"
#include "leadscore/ls_scorer.h"

/* Asserts that the exposition of @p reg has the line @p line. */
static void assert_line(ls_metrics_t *reg, const char *line) {
        ls_buf_t b;
        char want[512];

        ls_buf_init(&b);
        assert_int_equal(ls_metrics_render(reg, &b), LS_OK);
        assert_int_equal(ls_buf_append(&b, "", 1), LS_OK);
        snprintf(want, sizeof(want), "\n%s\n", line);
        if (!strstr((const char *)b.data, want))
                fail_msg("no line \"%s\" in:\n%s", line, (char *)b.data);
        ls_buf_free(&b);
}

static void test_series_at_zero(void **state) {
        ls_metrics_t *reg = ls_metrics_new();
        ls_runmetrics_t rm;

        (void)state;
        assert_non_null(reg);
        assert_int_equal(ls_runmetrics_init(&rm, reg, "9.9.9", "1.2.3"), LS_OK);
        assert_line(reg, "leadscore_dead_letters_total{reason=\"decode\"} 0");
        assert_line(reg,
                    "leadscore_model_reloads_total{result=\"rejected\"} 0");
        assert_line(reg, "leadscore_restores_total{result=\"reset\"} 0");
        assert_line(reg, "leadscore_outputs_total{kind=\"score_update\","
                         "alert=\"none\"} 0");
        assert_line(reg, "leadscore_applied_total 0");
        /* the handles are those series */
        ls_metric_add(rm.applied, 3);
        ls_metric_add(rm.restores[LS_DURABLE_EMPTY], 1);
        ls_runmetrics_reload(&rm, "rejected");
        assert_line(reg, "leadscore_applied_total 3");
        assert_line(reg, "leadscore_restores_total{result=\"empty\"} 1");
        assert_line(reg,
                    "leadscore_model_reloads_total{result=\"rejected\"} 1");
        ls_metric_add(ls_runmetrics_consumed(&rm, "ev\"ents", 2), 5);
        assert_line(reg, "leadscore_consumed_total{topic=\"ev\\\"ents\","
                         "partition=\"2\"} 5");
        ls_metrics_destroy(reg);
}

static void test_state_gauges(void **state) {
        static const char model[] =
                "models:\n  - id: m\n"
                "    engagement:\n"
                "      rules: [{id: demo, event: demo_request, points: 30}]\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n";
        ls_metrics_t *reg = ls_metrics_new();
        ls_modelset_t *ms;
        ls_shard_t *sh;
        ls_runmetrics_t rm;
        uint64_t per_model[1] = {7};
        char err[512], line[512];

        (void)state;
        assert_non_null(reg);
        assert_int_equal(ls_runmetrics_init(&rm, reg, "9.9.9", "1.2.3"), LS_OK);
        if (ls_modelset_load_string(model, strlen(model), "t.yaml", NULL, &ms,
                                    err, sizeof(err)))
                fail_msg("model: %s", err);
        assert_non_null(sh = ls_shard_new(ms));
        ls_runmetrics_model_info(&rm, ms, 1);
        snprintf(line, sizeof(line),
                 "leadscore_model_info{model=\"m\",version=\"%s\","
                 "set_version=\"%s\"} 1",
                 ms->models[0].version, ms->version);
        assert_line(reg, line);
        ls_runmetrics_model_info(&rm, ms, 0);
        line[strlen(line) - 1] = '0';
        assert_line(reg, line);
        ls_runmetrics_shard(&rm, 3, sh);
        ls_runmetrics_shard(&rm, 4, NULL);
        assert_line(reg, "leadscore_leads{partition=\"3\"} 0");
        assert_line(reg, "leadscore_timers{partition=\"4\"} 0");
        ls_runmetrics_model_leads(&rm, ms, per_model);
        assert_line(reg, "leadscore_model_leads{model=\"m\"} 7");
        ls_runmetrics_lead_cap(&rm, 1000);
        assert_line(reg, "leadscore_lead_cap 1000");
        ls_shard_destroy(sh);
        ls_modelset_destroy(ms);
        ls_metrics_destroy(reg);
}

/* The suppression counters add what they are given, per partition and
 * reason; a partition's series start at 0. */
static void test_suppression_counters(void **state) {
        ls_metrics_t *reg = ls_metrics_new();
        const uint64_t zero[LS_RUNMETRICS_SUPPRESS_N] = {0, 0, 0, 0};
        const uint64_t add[LS_RUNMETRICS_SUPPRESS_N] = {3, 1, 2, 4};
        ls_runmetrics_t rm;

        (void)state;
        assert_non_null(reg);
        assert_int_equal(ls_runmetrics_init(&rm, reg, "9.9.9", "1.2.3"), LS_OK);
        ls_runmetrics_suppressed(&rm, 1, zero);
        assert_line(reg, "leadscore_suppressed_total{partition=\"1\","
                         "reason=\"burst\"} 0");
        assert_line(reg, "leadscore_reversed_total{partition=\"1\"} 0");
        ls_runmetrics_suppressed(&rm, 1, add);
        ls_runmetrics_suppressed(&rm, 1, add);
        assert_line(reg, "leadscore_suppressed_total{partition=\"1\","
                         "reason=\"burst\"} 6");
        assert_line(reg, "leadscore_suppressed_total{partition=\"1\","
                         "reason=\"unopened\"} 2");
        assert_line(reg, "leadscore_suppressed_total{partition=\"1\","
                         "reason=\"match\"} 4");
        assert_line(reg, "leadscore_reversed_total{partition=\"1\"} 8");
        ls_metrics_destroy(reg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_series_at_zero),
                cmocka_unit_test(test_state_gauges),
                cmocka_unit_test(test_suppression_counters),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
