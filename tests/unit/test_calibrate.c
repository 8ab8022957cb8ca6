/*
 * test_calibrate.c - the statistics of a calibration (Wilson intervals
 * against published values, the AUC and the threshold search on cases
 * worked by hand, the grid search over grades x bands on a grid worked
 * by hand, liblinear's fit on a separable and on a known model),
 * outcome lines and their errors, and a small history scored through the
 * scorer into a report, printed as JSON and as an HTML page.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_calibrate.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_scorer.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define DAY 86400000LL

static void test_wilson(void **state) {
        ls_calib_rate_t r;

        /* Newcombe (1998), example: 81 of 263 */
        ls_calib_rate(81, 263, &r);
        assert_true(fabs(r.rate - 81.0 / 263) < 1e-12);
        assert_true(fabs(r.lo - 0.2553) < 1e-4);
        assert_true(fabs(r.hi - 0.3662) < 1e-4);
        ls_calib_rate(5, 10, &r);
        assert_true(fabs(r.lo - 0.2366) < 1e-4);
        assert_true(fabs(r.hi - 0.7634) < 1e-4);
        /* the interval stays inside [0, 1] at the edges */
        ls_calib_rate(0, 10, &r);
        assert_true(r.lo == 0);
        assert_true(fabs(r.hi - 0.2775) < 1e-4);
        ls_calib_rate(10, 10, &r);
        assert_true(fabs(r.lo - 0.7225) < 1e-4);
        assert_true(r.hi <= 1 && r.hi > 0.9999);
        /* nothing known: the whole range */
        ls_calib_rate(0, 0, &r);
        assert_true(r.rate == 0 && r.lo == 0 && r.hi == 1);
}

static void test_auc(void **state) {
        const double s1[] = {0.1, 0.4, 0.35, 0.8};
        const uint8_t y1[] = {0, 0, 1, 1};
        const double sep[] = {1, 2, 3, 4};
        const uint8_t ysep[] = {0, 0, 1, 1}, yrev[] = {1, 1, 0, 0};
        const double tie[] = {1, 1, 2};
        const uint8_t ytie[] = {0, 1, 1};
        const double flat[] = {5, 5, 5, 5};
        const uint8_t one[] = {1, 1, 1, 1};

        /* 0.35 beats 0.1 but not 0.4; 0.8 beats both: 3 of 4 pairs */
        assert_true(fabs(ls_calib_auc(s1, y1, 4) - 0.75) < 1e-12);
        assert_true(ls_calib_auc(sep, ysep, 4) == 1.0);
        assert_true(ls_calib_auc(sep, yrev, 4) == 0.0);
        /* a tie counts half: (0.5 + 1) / 2 */
        assert_true(fabs(ls_calib_auc(tie, ytie, 3) - 0.75) < 1e-12);
        assert_true(fabs(ls_calib_auc(flat, ysep, 4) - 0.5) < 1e-12);
        /* one class only: undefined */
        assert_true(isnan(ls_calib_auc(sep, one, 4)));
        assert_true(isnan(ls_calib_auc(sep, one, 0)));
}

static void test_threshold(void **state) {
        const double s[] = {10, 20, 30, 40, 50, 60};
        const uint8_t y[] = {0, 0, 1, 0, 1, 1};
        const double s2[] = {1, 2};
        const uint8_t y2[] = {1, 0};
        ls_calib_thresh_t t;

        /* precision 1: 50 (flags 50, 60; recall 2/3); 40 would be 2/3 */
        assert_int_equal(ls_calib_threshold(s, y, 6, 1.0, 0, &t), LS_OK);
        assert_true(t.found && t.threshold == 50);
        assert_int_equal(t.flagged, 2);
        assert_int_equal(t.tp, 2);
        assert_true(fabs(t.recall - 2.0 / 3) < 1e-12);
        /* precision 0.75: 30 flags 4 with 3 won, the best recall */
        assert_int_equal(ls_calib_threshold(s, y, 6, 0.75, 0, &t), LS_OK);
        assert_true(t.found && t.threshold == 30);
        assert_true(t.precision == 0.75 && t.recall == 1);
        /* recall 1: the highest threshold that keeps every win is 30 */
        assert_int_equal(ls_calib_threshold(s, y, 6, 0, 1.0, &t), LS_OK);
        assert_true(t.found && t.threshold == 30);
        /* recall 0.5: 50 (2/3); 60 has only 1/3 */
        assert_int_equal(ls_calib_threshold(s, y, 6, 0, 0.5, &t), LS_OK);
        assert_true(t.found && t.threshold == 50);
        /* best F1: 30 (p 0.75, r 1, F1 6/7) */
        assert_int_equal(ls_calib_threshold(s, y, 6, 0, 0, &t), LS_OK);
        assert_true(t.found && t.threshold == 30);
        /* unreachable precision */
        assert_int_equal(ls_calib_threshold(s2, y2, 2, 0.9, 0, &t), LS_OK);
        assert_false(t.found);
        /* a fixed threshold on other leads */
        ls_calib_threshold_eval(s, y, 6, 45, &t);
        assert_int_equal(t.flagged, 2);
        assert_true(t.precision == 1 && fabs(t.recall - 2.0 / 3) < 1e-12);
}

/*
 * Two grades (A = 0, B = 1) x three bands (0 cold, 1 warm, 2 hot); leads
 * per cell (won of n):
 *
 *            cold   warm   hot
 *      A     0/2    1/2    2/2
 *      B     0/4    1/2    1/2        5 won of 14
 *
 * Pairs (min_grade, min_band): flagged, won, precision, recall, F1
 *   (A, hot)   2 2  1     0.4  0.571
 *   (A, warm)  4 3  0.75  0.6  0.667
 *   (A, cold)  6 3  0.5   0.6  0.545
 *   (B, hot)   4 3  0.75  0.6  0.667   the same counts as (A, warm)
 *   (B, warm)  8 5  0.625 1    0.769   the best F1
 *   (B, cold) 14 5  0.357 1    0.526
 */
static void test_grid_search(void **state) {
        static const uint8_t cells[6][3] = {{0, 0, 2}, {0, 1, 2}, {0, 2, 2},
                                            {1, 0, 4}, {1, 1, 2}, {1, 2, 2}};
        static const uint8_t cell_won[6] = {0, 1, 2, 0, 1, 1};
        uint8_t grade[16], band[16], y[16];
        size_t n = 0, c, k;
        ls_calib_grid_t g;

        for (c = 0; c < 6; c++)
                for (k = 0; k < cells[c][2]; k++) {
                        grade[n] = cells[c][0];
                        band[n] = cells[c][1];
                        y[n++] = k < cell_won[c];
                }
        assert_int_equal(n, 14);
        /* best F1: (B, warm) */
        ls_calib_grid_search(grade, band, y, n, 2, 3, 0, 0, &g);
        assert_true(g.found && g.min_grade == 1 && g.min_band == 1);
        assert_int_equal(g.flagged, 8);
        assert_int_equal(g.tp, 5);
        assert_true(g.precision == 0.625 && g.recall == 1);
        /* precision >= 0.7: recall 0.6 at precision 0.75 twice; the
         * strictest pair, (A, warm), wins the tie */
        ls_calib_grid_search(grade, band, y, n, 2, 3, 0.7, 0, &g);
        assert_true(g.found && g.min_grade == 0 && g.min_band == 1);
        assert_int_equal(g.flagged, 4);
        assert_int_equal(g.tp, 3);
        /* precision >= 0.8: only (A, hot) */
        ls_calib_grid_search(grade, band, y, n, 2, 3, 0.8, 0, &g);
        assert_true(g.found && g.min_grade == 0 && g.min_band == 2);
        assert_true(g.precision == 1 && fabs(g.recall - 0.4) < 1e-12);
        /* recall 1: (B, warm) is more precise than (B, cold) */
        ls_calib_grid_search(grade, band, y, n, 2, 3, 0, 1.0, &g);
        assert_true(g.found && g.min_grade == 1 && g.min_band == 1);
        /* recall >= 0.5: precision 0.75 at (A, warm) and (B, hot), both
         * recall 0.6: the strictest */
        ls_calib_grid_search(grade, band, y, n, 2, 3, 0, 0.5, &g);
        assert_true(g.found && g.min_grade == 0 && g.min_band == 1);
        assert_true(g.precision == 0.75 && fabs(g.recall - 0.6) < 1e-12);
        /* a won lead outside the grid counts in the recall only */
        grade[n] = 7;
        band[n] = 0;
        y[n] = 1;
        ls_calib_grid_search(grade, band, y, n + 1, 2, 3, 0, 1.0, &g);
        assert_false(g.found);
        ls_calib_grid_search(grade, band, y, n + 1, 2, 3, 0, 0, &g);
        assert_true(g.found && g.min_grade == 1 && g.min_band == 1);
        assert_true(fabs(g.recall - 5.0 / 6) < 1e-12);
        /* unreachable precision; no grid */
        ls_calib_grid_search(grade, band, y, n, 2, 3, 1.0, 0, &g);
        assert_true(g.found && g.min_band == 2); /* (A, hot): 2 of 2 */
        y[4] = 0;                                /* (A, hot) now 1 of 2 */
        ls_calib_grid_search(grade, band, y, n, 2, 3, 0.9, 0, &g);
        assert_false(g.found);
        ls_calib_grid_search(grade, band, y, n, 0, 3, 0, 0, &g);
        assert_false(g.found);
        ls_calib_grid_search(grade, band, y, n, 9, 3, 0, 0, &g);
        assert_false(g.found);
        /* a fixed pair on other leads */
        y[4] = 1;
        ls_calib_grid_eval(grade, band, y, n, 1, 2, &g);
        assert_true(g.found && g.min_grade == 1 && g.min_band == 2);
        assert_int_equal(g.flagged, 4);
        assert_int_equal(g.tp, 3);
        assert_true(g.precision == 0.75 && fabs(g.recall - 0.6) < 1e-12);
}

static void test_logreg_separable(void **state) {
        const double x[] = {-2, -1, -0.5, 0.5, 1, 2};
        const uint8_t y[] = {0, 0, 0, 1, 1, 1}, y0[] = {0, 0, 0, 0, 0, 0};
        double coef[2];
        char err[256];
        size_t i;

        assert_int_equal(
                ls_calib_logreg(x, 6, 1, y, 1.0, coef, err, sizeof(err)),
                LS_OK);
        assert_true(coef[0] > 0.5);
        for (i = 0; i < 6; i++)
                assert_int_equal(coef[0] * x[i] + coef[1] > 0, y[i]);
        /* labels the other way round: the sign follows P(won) */
        {
                const uint8_t yr[] = {1, 1, 1, 0, 0, 0};

                assert_int_equal(ls_calib_logreg(x, 6, 1, yr, 1.0, coef, err,
                                                 sizeof(err)),
                                 LS_OK);
                assert_true(coef[0] < -0.5);
        }
        assert_int_equal(
                ls_calib_logreg(x, 6, 1, y0, 1.0, coef, err, sizeof(err)),
                LS_ERR_UNSUPPORTED);
        assert_non_null(strstr(err, "only lost"));
}

/* A fixed 64-bit LCG and Box-Muller, so the data never changes. */
static uint64_t lcg_state = 42;
static double lcg_uniform(void) {
        lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return ((double)(lcg_state >> 11) + 0.5) / 9007199254740992.0;
}

static double lcg_normal(void) {
        return sqrt(-2 * log(lcg_uniform())) * cos(2 * M_PI * lcg_uniform());
}

static void test_logreg_known(void **state) {
        /* logit P(won) = 0.5 + 1.0 x1 - 2.0 x2 + 0 x3 */
        enum { N = 20000, D = 3 };
        double *x = ls_malloc(N * D * sizeof(*x)), coef[D + 1], z;
        uint8_t *y = ls_malloc(N);
        char err[256];
        size_t i, j;

        assert_non_null(x);
        assert_non_null(y);
        for (i = 0; i < N; i++) {
                for (j = 0; j < D; j++)
                        x[i * D + j] = lcg_normal();
                z = 0.5 + 1.0 * x[i * D] - 2.0 * x[i * D + 1];
                y[i] = lcg_uniform() < 1 / (1 + exp(-z));
        }
        assert_int_equal(
                ls_calib_logreg(x, N, D, y, 100.0, coef, err, sizeof(err)),
                LS_OK);
        assert_true(fabs(coef[0] - 1.0) < 0.1);
        assert_true(fabs(coef[1] + 2.0) < 0.15);
        assert_true(fabs(coef[2]) < 0.1);
        assert_true(fabs(coef[3] - 0.5) < 0.1);
        ls_free(x);
        ls_free(y);
}

static const char model_yaml[] =
        "models:\n"
        "  - id: m\n"
        "    fit:\n"
        "      rules:\n"
        "        - {id: exec, attribute: seniority, in: [vp, c-level], "
        "points: 20}\n"
        "        - {id: student, attribute: title, regex: student, "
        "points: -10}\n"
        "    engagement:\n"
        "      floor: -100\n"
        "      rules:\n"
        "        - {id: pricing, event: page_view, when: {url: {glob: "
        "\"*/pricing*\"}}, points: 10}\n"
        "        - {id: careers, event: page_view, when: {url: {glob: "
        "\"*/careers*\"}}, points: -5}\n"
        "    grades: [{name: A, min: 10}, {name: B}]\n"
        "    bands: [{name: cold}, {name: hot, min: 20}]\n";

typedef struct fx_s {
        ls_modelset_t *ms;
        ls_calib_t *cal;
        ls_codec_t *codec;
        ls_shard_t *sh;
        ls_outbuf_t ob;
        char err[512];
} fx_t;

static void fx_init(fx_t *fx, const ls_calib_conf_t *conf) {
        ls_codec_conf_t cc;

        memset(fx, 0, sizeof(*fx));
        assert_int_equal(ls_modelset_load_string(
                                 model_yaml, sizeof(model_yaml) - 1, "m", NULL,
                                 &fx->ms, fx->err, sizeof(fx->err)),
                         LS_OK);
        fx->cal = ls_calib_new(fx->ms, conf, fx->err, sizeof(fx->err));
        assert_non_null(fx->cal);
        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        fx->codec = ls_codec_new(&cc, fx->err, sizeof(fx->err));
        assert_non_null(fx->codec);
        fx->sh = ls_shard_new(fx->ms);
        assert_non_null(fx->sh);
        ls_calib_attach(fx->cal, fx->sh);
        ls_outbuf_init(&fx->ob);
}

static void fx_free(fx_t *fx) {
        ls_outbuf_free(&fx->ob);
        ls_shard_destroy(fx->sh);
        ls_codec_destroy(fx->codec);
        ls_calib_destroy(fx->cal);
        ls_modelset_destroy(fx->ms);
}

static ls_err_t fx_outcome(fx_t *fx, uint64_t line, const char *json) {
        return ls_calib_outcome_line(fx->cal, "out.jsonl", line, json,
                                     strlen(json), fx->err, sizeof(fx->err));
}

/* Scores one JSON input as `calibrate` does: read, apply, observe. */
static void fx_feed(fx_t *fx, const char *json) {
        ls_record_t rec = {.kind = LS_INPUT_EVENT, .timestamp = -1};
        ls_input_t in;
        ls_verdict_t v;
        ls_err_t err;

        rec.value = json;
        rec.len = strlen(json);
        v = ls_scorer_read(fx->codec, &rec, &in, &err, fx->err,
                           sizeof(fx->err));
        assert_int_equal(v, LS_V_APPLIED);
        v = ls_scorer_apply(&in, &fx->sh, &fx->ob, 1, &err, fx->err,
                            sizeof(fx->err));
        assert_int_equal(v, LS_V_APPLIED);
        assert_int_equal(ls_calib_observe_outputs(fx->cal, &fx->ob), LS_OK);
        assert_int_equal(ls_calib_observe_input(fx->cal, &in), LS_OK);
        ls_outbuf_reset(&fx->ob);
}

static void test_outcome_errors(void **state) {
        ls_calib_conf_t conf;
        fx_t fx;

        memset(&conf, 0, sizeof(conf));
        fx_init(&fx, &conf);
        assert_int_equal(fx_outcome(&fx, 1,
                                    "{\"lead_id\":\"a\",\"time\":"
                                    "\"2026-02-01T00:00:00Z\",\"won\":true,"
                                    "\"amount\":100}"),
                         LS_OK);
        assert_int_equal(fx_outcome(&fx, 2, "  \n"), LS_OK); /* blank */
        assert_int_equal(fx_outcome(&fx, 3,
                                    "{\"lead_id\":\"b\",\"time\":"
                                    "1767225600000,\"won\":\"yes\"}"),
                         LS_ERR_INVALID);
        assert_string_equal(fx.err, "out.jsonl:3: won: expected true or "
                                    "false, got \"yes\"");
        assert_int_equal(fx_outcome(&fx, 4,
                                    "{\"time\":1767225600000,"
                                    "\"won\":true}"),
                         LS_ERR_INVALID);
        assert_string_equal(fx.err, "out.jsonl:4: lead_id: missing");
        assert_int_equal(fx_outcome(&fx, 5,
                                    "{\"lead_id\":\"b\",\"time\":"
                                    "1767225600,\"won\":true}"),
                         LS_ERR_INVALID);
        assert_non_null(strstr(fx.err, "out.jsonl:5: time: 1767225600 looks "
                                       "like seconds"));
        assert_int_equal(fx_outcome(&fx, 6,
                                    "{\"lead_id\":\"a\",\"time\":"
                                    "1767225600000,\"won\":false}"),
                         LS_ERR_INVALID);
        assert_string_equal(fx.err, "out.jsonl:6: lead_id: 'a' already has "
                                    "an outcome (line 1)");
        assert_int_equal(fx_outcome(&fx, 7, "[1,2]"), LS_ERR_INVALID);
        assert_string_equal(fx.err, "out.jsonl:7: expected a JSON object");
        assert_int_equal(fx_outcome(&fx, 8, "{\"lead_id\":"), LS_ERR_INVALID);
        assert_non_null(strstr(fx.err, "out.jsonl:8: invalid JSON"));
        assert_int_equal(ls_calib_last_outcome(fx.cal), T0 + 31 * DAY);
        fx_free(&fx);
}

static void test_unknown_lead(void **state) {
        ls_calib_report_t *r = NULL;
        ls_calib_conf_t conf;
        fx_t fx;

        memset(&conf, 0, sizeof(conf));
        fx_init(&fx, &conf);
        assert_int_equal(fx_outcome(&fx, 1,
                                    "{\"lead_id\":\"a\",\"time\":"
                                    "1767225600000,\"won\":true}"),
                         LS_OK);
        assert_int_equal(fx_outcome(&fx, 2,
                                    "{\"lead_id\":\"ghost\",\"time\":"
                                    "1767225600000,\"won\":true}"),
                         LS_OK);
        fx_feed(&fx, "{\"kind\":\"profile\",\"lead_id\":\"a\","
                     "\"updated_at\":1767225500000,\"attributes\":{}}");
        assert_int_equal(ls_calib_finish(fx.cal, &r, fx.err, sizeof(fx.err)),
                         LS_ERR_INVALID);
        assert_null(r);
        assert_string_equal(fx.err, "out.jsonl:2: lead_id: 'ghost' appears "
                                    "nowhere in the history");
        fx_free(&fx);
}

/* 1 when the id at @p id (after id=") is a chart's own (its prefix) or
 * one of the headline table's. */
static int ls_html_id_ok(const char *id) {
        static const char *const ids[] = {
                "headline", "model",     "leads",      "base-rate",
                "split",    "auc-test",  "auc-points", "auc-train",
                "target",   "threshold", "grid",       "grid-yaml"};
        size_t i, n;

        if (!strncmp(id, "chart-", 6))
                return 1;
        for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
                n = strlen(ids[i]);
                if (!strncmp(id, ids[i], n) && id[n] == '"')
                        return 1;
        }
        return 0;
}

/*
 * 40 leads: lead i is an exec when i % 2, a student when i % 5 == 0,
 * views pricing i % 4 times, careers once when i % 3 == 0; won when it
 * is an exec with a pricing view, or when i % 7 == 0. One pricing view
 * after the outcome must not count. Leads 0..29 close in January
 * (training), 30..39 in March (held out).
 */
static void test_history(void **state) {
        ls_calib_report_t *r = NULL;
        ls_calib_conf_t conf;
        ls_buf_t buf;
        char line[512];
        int i, k, n_exec = 0, n_pricing = 0;
        fx_t fx;

        memset(&conf, 0, sizeof(conf));
        conf.min_leads = 5;
        conf.has_split = 1;
        conf.split_time = T0 + 45 * DAY;
        fx_init(&fx, &conf);
        for (i = 0; i < 40; i++) {
                int64_t close = T0 + (i < 30 ? 20 : 60) * DAY + i * 1000;
                int won = (i % 2 && i % 4) || i % 7 == 0;

                snprintf(line, sizeof(line),
                         "{\"lead_id\":\"l%d\",\"time\":%lld,\"won\":%s}", i,
                         (long long)close, won ? "true" : "false");
                assert_int_equal(fx_outcome(&fx, (uint64_t)i + 1, line), LS_OK);
        }
        /* inputs in time order: profiles on day 0, events on days 1..4,
         * a pricing view of lead 1 on day 50 (after its outcome) */
        for (i = 0; i < 40; i++) {
                snprintf(line, sizeof(line),
                         "{\"kind\":\"profile\",\"lead_id\":\"l%d\","
                         "\"updated_at\":%lld,\"attributes\":{"
                         "\"seniority\":\"%s\",\"title\":\"%s\"}}",
                         i, (long long)(T0 + i), i % 2 ? "VP" : "staff",
                         i % 5 == 0 ? "Student" : "Engineer");
                fx_feed(&fx, line);
                n_exec += i % 2;
                n_pricing += i % 4 != 0;
        }
        for (k = 1; k <= 3; k++)
                for (i = 0; i < 40; i++)
                        if (i % 4 >= k) {
                                snprintf(line, sizeof(line),
                                         "{\"lead_id\":\"l%d\","
                                         "\"event_id\":\"p%d-%d\","
                                         "\"event_type\":\"page_view\","
                                         "\"occurred_at\":%lld,"
                                         "\"properties\":{\"url\":"
                                         "\"https://x.com/pricing\"}}",
                                         i, i, k,
                                         (long long)(T0 + k * DAY + i));
                                fx_feed(&fx, line);
                        }
        for (i = 0; i < 40; i += 3) {
                snprintf(line, sizeof(line),
                         "{\"lead_id\":\"l%d\",\"event_id\":\"c%d\","
                         "\"event_type\":\"page_view\",\"occurred_at\":%lld,"
                         "\"properties\":{\"url\":\"https://x.com/careers\"}}",
                         i, i, (long long)(T0 + 4 * DAY + i));
                fx_feed(&fx, line);
        }
        fx_feed(&fx, "{\"lead_id\":\"l0\",\"event_id\":\"late\","
                     "\"event_type\":\"page_view\",\"occurred_at\":"
                     "1771545600000,\"properties\":{\"url\":"
                     "\"https://x.com/pricing\"}}"); /* day 50 */

        assert_int_equal(ls_calib_finish(fx.cal, &r, fx.err, sizeof(fx.err)),
                         LS_OK);
        assert_int_equal(r->leads, 40);
        assert_int_equal(r->open, 0);
        assert_int_equal(r->base.n, 40);
        assert_int_equal(r->train.n, 30);
        assert_int_equal(r->test.n, 10);
        assert_int_equal(r->split_time, T0 + 45 * DAY);
        assert_int_equal(r->window_ms, 90 * DAY); /* no decay: 90 days */
        assert_int_equal(r->n_rules, 4);
        assert_string_equal(r->rules[0].rule_id, "exec");
        assert_int_equal(r->rules[0].fit, 1);
        assert_int_equal(r->rules[0].with.n, n_exec);
        assert_string_equal(r->rules[1].rule_id, "student");
        assert_int_equal(r->rules[1].with.n, 8); /* 0, 5, ..., 35 */
        /* lead 0's view on day 50 is after its outcome: not counted */
        assert_string_equal(r->rules[2].rule_id, "pricing");
        assert_int_equal(r->rules[2].with.n, n_pricing);
        assert_string_equal(r->rules[3].rule_id, "careers");
        assert_int_equal(r->rules[3].with.n, 14);
        /* exec with pricing wins: both lift the close rate */
        assert_true(r->rules[0].log_odds > 0 && r->rules[2].log_odds > 0);
        assert_true(r->rules[0].has_suggested && r->rules[2].has_suggested);
        /* the strongest rule of an axis gets the axis's largest points */
        assert_true(abs(r->rules[0].suggested) == 20 ||
                    abs(r->rules[1].suggested) == 20);
        assert_true(abs(r->rules[2].suggested) == 10 ||
                    abs(r->rules[3].suggested) == 10);
        /* features: 2 fit, 2 rules, freshness */
        assert_int_equal(r->n_coefs, 5);
        assert_string_equal(r->coefs[0].feature, "fit:exec");
        assert_string_equal(r->coefs[2].feature, "rule:pricing");
        assert_string_equal(r->coefs[4].feature, "freshness_days");
        assert_true(r->coefs[0].std_coef > 0);
        assert_int_equal(r->n_deciles, LS_CALIB_DECILES);
        assert_false(isnan(r->auc_test));
        /* attribute values: "vp" and "staff" (20 each), lowercased */
        assert_string_equal(r->values[0].attribute, "seniority");
        assert_string_equal(r->values[0].value, "staff");
        assert_int_equal(r->values[0].r.n, 20);
        assert_string_equal(r->values[1].value, "vp");
        /* grid cells: A (fit >= 10) are the execs (odd i), hot
         * (engagement >= 20) the leads with 3 pricing views (i % 4 == 3,
         * every odd hot lead) or 2 and no careers (i % 4 == 2, i % 3 !=
         * 0: 7 leads); every exec won, 3 others did (i % 7 == 0) */
        assert_int_equal(r->n_grades, 2);
        assert_int_equal(r->n_bands, 2);
        assert_int_equal(r->n_cells, 4);
        assert_string_equal(r->cells[0].cell, "A1");
        assert_string_equal(r->cells[1].cell, "A2");
        assert_string_equal(r->cells[1].band_name, "hot");
        assert_string_equal(r->cells[2].cell, "B1");
        assert_string_equal(r->cells[3].grade_name, "B");
        assert_int_equal(r->cells[0].r.n, 10);
        assert_int_equal(r->cells[0].r.won, 10);
        assert_int_equal(r->cells[1].r.n, 10);
        assert_int_equal(r->cells[1].r.won, 10);
        assert_int_equal(r->cells[2].r.n, 13); /* won: 0, 28 */
        assert_int_equal(r->cells[2].r.won, 2);
        assert_int_equal(r->cells[3].r.n, 7); /* won: 14 */
        assert_int_equal(r->cells[3].r.won, 1);
        /* training (0..29): A is 15 of 15 won, and 18 won in all: (A,
         * cold) has the best F1 (0.909; (B, cold) 0.75) */
        assert_true(r->grid_train.found);
        assert_int_equal(r->grid_train.min_grade, 0);
        assert_int_equal(r->grid_train.min_band, 0);
        assert_int_equal(r->grid_train.flagged, 15);
        assert_int_equal(r->grid_train.tp, 15);
        /* held out (30..39): the 5 execs, the only wins */
        assert_int_equal(r->grid_test.flagged, 5);
        assert_int_equal(r->grid_test.tp, 5);
        assert_true(r->grid_test.recall == 1);
        assert_string_equal(ls_calib_grid_yaml(r, 0, 0, line, sizeof(line)),
                            "mql:\n  enter: {min_grade: A, min_band: cold}\n");
        assert_string_equal(ls_calib_grid_yaml(r, 1, 1, line, 20),
                            "mql:\n  enter: {min_");
        /* the histogram of totals covers every lead */
        {
                uint64_t won_h = 0, all_h = 0;

                assert_true(r->hist.n_bins > 0);
                for (k = 0; k < (int)r->hist.n_bins; k++) {
                        won_h += r->hist.won[k];
                        all_h += r->hist.won[k] + r->hist.lost[k];
                }
                assert_int_equal(all_h, 40);
                assert_int_equal(won_h, r->base.won);
        }

        ls_buf_init(&buf);
        assert_int_equal(ls_calib_report_json(r, &buf), LS_OK);
        assert_int_equal(ls_buf_append(&buf, "", 1), LS_OK);
        assert_non_null(
                strstr((const char *)buf.data, "\"rule\": \"pricing\""));
        ls_buf_free(&buf);

        /* the HTML page: four charts, inline SVG whose ids are each
         * chart's own, and the model's strings escaped */
        {
                const char *model_id = r->model_id, *p, *page;
                int figures = 0, svgs = 0;

                r->model_id = "<m&\"x'>";
                ls_buf_init(&buf);
                assert_int_equal(
                        ls_calib_report_html(r, &buf, fx.err, sizeof(fx.err)),
                        LS_OK);
                page = buf.data;
                assert_true(!strncmp(page, "<!DOCTYPE html>", 15));
                assert_non_null(strstr(page, "&lt;m&amp;&quot;x&#39;&gt;"));
                assert_null(strstr(page, "<m&"));
                assert_null(strstr(page, "<?xml"));
                for (p = page; (p = strstr(p, "<figure id=\"chart-")); p++)
                        figures++;
                for (p = page; (p = strstr(p, "<svg")); p++)
                        svgs++;
                assert_int_equal(figures, 4);
                assert_int_equal(svgs, 4);
                /* every id is a chart's or a row's of the table */
                for (p = page; (p = strstr(p, " id=\"")); p++)
                        assert_true(ls_html_id_ok(p + 5));
                assert_non_null(strstr(page, "href=\"#chart-cells-"));
                assert_null(strstr(page, "href=\"#glyph"));
                assert_non_null(strstr(page, "enter: {min_grade: A, "
                                             "min_band: cold}"));
                /* nothing from elsewhere */
                assert_null(strstr(page, "<script"));
                assert_null(strstr(page, "<link"));
                assert_null(strstr(page, " src="));
                r->model_id = model_id;
                ls_buf_free(&buf);
                /* a file that cannot be written is named */
                assert_int_equal(
                        ls_calib_report_html_file(r, "/nonexistent/dir/r.html",
                                                  fx.err, sizeof(fx.err)),
                        LS_ERR_IO);
                assert_string_equal(fx.err, "/nonexistent/dir/r.html: No "
                                            "such file or directory");
        }
        ls_calib_report_destroy(r);
        fx_free(&fx);
}

/* A fit rule on an absent attribute holds for a new lead without a
 * reason (the engine sets it at creation) and stops with one. */
static void test_fit_absent(void **state) {
        static const char yaml[] =
                "models:\n"
                "  - id: m\n"
                "    fit:\n"
                "      rules:\n"
                "        - {id: no_phone, attribute: phone, exists: true, "
                "not: true, points: -3}\n"
                "    engagement:\n"
                "      rules: [{id: p, event: page_view, points: 10}]\n"
                "    grades: [{name: A, min: 10}, {name: B}]\n"
                "    bands: [{name: cold}, {name: hot, min: 20}]\n";
        ls_calib_report_t *r = NULL;
        ls_calib_conf_t conf;
        fx_t fx;

        memset(&conf, 0, sizeof(conf));
        fx_init(&fx, &conf);
        ls_calib_destroy(fx.cal);
        ls_shard_destroy(fx.sh);
        ls_modelset_destroy(fx.ms);
        assert_int_equal(ls_modelset_load_string(yaml, sizeof(yaml) - 1, "m",
                                                 NULL, &fx.ms, fx.err,
                                                 sizeof(fx.err)),
                         LS_OK);
        fx.cal = ls_calib_new(fx.ms, &conf, fx.err, sizeof(fx.err));
        assert_non_null(fx.cal);
        fx.sh = ls_shard_new(fx.ms);
        assert_non_null(fx.sh);
        ls_calib_attach(fx.cal, fx.sh);
        /* a: no phone, won on day 1; b: a phone before its outcome, lost */
        assert_int_equal(fx_outcome(&fx, 1,
                                    "{\"lead_id\":\"a\",\"time\":"
                                    "1767312000000,\"won\":true}"),
                         LS_OK);
        assert_int_equal(fx_outcome(&fx, 2,
                                    "{\"lead_id\":\"b\",\"time\":"
                                    "1767312000000,\"won\":false}"),
                         LS_OK);
        fx_feed(&fx, "{\"lead_id\":\"a\",\"event_id\":\"1\","
                     "\"event_type\":\"page_view\",\"occurred_at\":"
                     "1767225600000}");
        fx_feed(&fx, "{\"lead_id\":\"b\",\"event_id\":\"2\","
                     "\"event_type\":\"page_view\",\"occurred_at\":"
                     "1767225600000}");
        fx_feed(&fx, "{\"kind\":\"profile\",\"lead_id\":\"b\","
                     "\"updated_at\":1767225600001,\"attributes\":{"
                     "\"phone\":\"123\"}}");
        /* one class in training: no fit, but the counts are kept */
        assert_int_equal(ls_calib_finish(fx.cal, &r, fx.err, sizeof(fx.err)),
                         LS_ERR_UNSUPPORTED);
        ls_calib_destroy(fx.cal);
        conf.has_split = 1;
        conf.split_time = 1767312000001LL; /* both train */
        fx.cal = ls_calib_new(fx.ms, &conf, fx.err, sizeof(fx.err));
        ls_shard_destroy(fx.sh);
        fx.sh = ls_shard_new(fx.ms);
        ls_calib_attach(fx.cal, fx.sh);
        assert_int_equal(fx_outcome(&fx, 1,
                                    "{\"lead_id\":\"a\",\"time\":"
                                    "1767312000000,\"won\":true}"),
                         LS_OK);
        assert_int_equal(fx_outcome(&fx, 2,
                                    "{\"lead_id\":\"b\",\"time\":"
                                    "1767312000000,\"won\":false}"),
                         LS_OK);
        fx_feed(&fx, "{\"lead_id\":\"a\",\"event_id\":\"1\","
                     "\"event_type\":\"page_view\",\"occurred_at\":"
                     "1767225600000}");
        fx_feed(&fx, "{\"lead_id\":\"b\",\"event_id\":\"2\","
                     "\"event_type\":\"page_view\",\"occurred_at\":"
                     "1767225600000}");
        fx_feed(&fx, "{\"kind\":\"profile\",\"lead_id\":\"b\","
                     "\"updated_at\":1767225600001,\"attributes\":{"
                     "\"phone\":\"123\"}}");
        assert_int_equal(ls_calib_finish(fx.cal, &r, fx.err, sizeof(fx.err)),
                         LS_OK);
        assert_string_equal(r->rules[0].rule_id, "no_phone");
        assert_int_equal(r->rules[0].with.n, 1); /* a only */
        assert_int_equal(r->rules[0].with.won, 1);
        assert_int_equal(r->rules[0].without.n, 1);
        assert_int_equal(r->test.n, 0);
        assert_int_equal(r->n_deciles, 0);
        assert_true(isnan(r->auc_test));
        ls_calib_report_destroy(r);
        fx_free(&fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wilson),
                cmocka_unit_test(test_auc),
                cmocka_unit_test(test_threshold),
                cmocka_unit_test(test_grid_search),
                cmocka_unit_test(test_logreg_separable),
                cmocka_unit_test(test_logreg_known),
                cmocka_unit_test(test_outcome_errors),
                cmocka_unit_test(test_unknown_lead),
                cmocka_unit_test(test_history),
                cmocka_unit_test(test_fit_absent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
