/*
 * test_logit.c - logistic models (docs/SEMANTICS.md "Logistic models"):
 * the bucketed window's counts and freshness (ls_logit.h), what the
 * loader refuses, and the engine scoring one live: the probability, the
 * 0-100 total, the per-feature contributions, the window moving on with
 * no input, MQL on the total, a snapshot that resumes identically, and
 * the JSON and Avro encoders (the Avro read back with avro-c against
 * schemas/score_update.avsc); hot leads on the total; and a model set
 * reload that turns a points model logistic, or changes its coefficients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "codec/ls_avro_int.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_json.h"
#include "leadscore/ls_logit.h"
#include "leadscore/ls_model.h"

#include "avro_fixture.h"

#define HOUR (3600LL * 1000)
#define DAY (24 * HOUR)
#define T0 (1767225600000LL) /* 2026-01-01T00:00:00Z, a day boundary */

/* Window 4 days in 4 buckets of a day. */
static const char *const MODEL =
        "models:\n"
        "  - id: p\n"
        "    kind: logistic\n"
        "    fit:\n"
        "      rules:\n"
        "        - {id: big, attribute: employees, range: {min: 100}}\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: demo, event: demo_request}\n"
        "        - {id: visit, event: page_view}\n"
        "    grades:\n"
        "      - {name: A, min: 30}\n"
        "      - {name: B}\n"
        "    bands:\n"
        "      - {name: cold}\n"
        "      - {name: warm, min: 20}\n"
        "    mql:\n"
        "      enter: {min_total: 60}\n"
        "    logistic:\n"
        "      intercept: -2\n"
        "      window: 4d\n"
        "      buckets: 4\n"
        "      coefficients: {big: 1.5, demo: 2.0, visit: 0.5, "
        "freshness_days: 0.25}\n";

typedef struct fx_s {
        ls_modelset_t *ms;
        ls_shard_t *sh;
        ls_outbuf_t ob;
        char err[512];
} fx_t;

static void fx_init(fx_t *fx) {
        memset(fx, 0, sizeof(*fx));
        if (ls_modelset_load_string(MODEL, strlen(MODEL), "t.yaml", NULL,
                                    &fx->ms, fx->err, sizeof(fx->err)))
                fail_msg("model: %s", fx->err);
        fx->sh = ls_shard_new(fx->ms);
        assert_non_null(fx->sh);
        ls_outbuf_init(&fx->ob);
}

static void fx_free(fx_t *fx) {
        ls_outbuf_free(&fx->ob);
        ls_shard_destroy(fx->sh);
        ls_modelset_destroy(fx->ms);
}

static void fx_event(fx_t *fx, const char *lead, const char *id,
                     const char *type, int64_t t) {
        ls_input_t in = {.kind = LS_INPUT_EVENT,
                         .lead_id = lead,
                         .event_id = id,
                         .event_type = type,
                         .time = t};
        char why[512];

        ls_outbuf_reset(&fx->ob);
        assert_int_equal(
                ls_shard_apply(fx->sh, &in, &fx->ob, fx->err, sizeof(fx->err)),
                LS_OK);
        if (ls_shard_check(fx->sh, why, sizeof(why)) != LS_OK)
                fail_msg("invariant: %s", why);
}

/* Equal up to rounding: the compiler folds log1p() of a constant with
 * exact rounding, the library may differ by an ulp. */
static int near(double a, double b) {
        return fabs(a - b) <= 1e-12 * (1 + fabs(b));
}

static double sigmoid(double z) {
        return 1.0 / (1.0 + exp(-z));
}

/* The last score update of the outputs. */
static const ls_output_t *fx_update(const fx_t *fx) {
        size_t i;

        for (i = fx->ob.n_outs; i-- > 0;)
                if (fx->ob.outs[i].kind == LS_OUT_SCORE_UPDATE)
                        return &fx->ob.outs[i];
        fail_msg("no score update");
        return NULL;
}

static double feature(const fx_t *fx, const ls_output_t *o, const char *name,
                      double *contribution) {
        const ls_feature_t *f = ls_output_features(&fx->ob, o);
        uint32_t i;

        for (i = 0; i < o->n_features; i++)
                if (!strcmp(f[i].name, name)) {
                        if (contribution)
                                *contribution = f[i].contribution;
                        return f[i].value;
                }
        return 0.0;
}

/* Counts by bucket: the window at t is t's bucket and the 3 before it;
 * an occurrence older than the ring is not counted; freshness falls a
 * bucket at a time and ends with the window. */
static void test_window_buckets(void **state) {
        fx_t fx;
        const ls_model_t *m;
        unsigned char st[256];
        double x[4];

        (void)state;
        fx_init(&fx);
        m = &fx.ms->models[0];
        assert_true(ls_logit_size(m) <= sizeof(st));
        assert_int_equal(ls_logit_n_features(m), 4);
        assert_string_equal(ls_logit_feature_name(m, 3), "freshness_days");
        ls_logit_init(m, st);
        ls_logit_features(m, st, 0, T0, x);
        assert_true(x[0] == 0 && x[1] == 0 && x[2] == 0 && x[3] == 0);
        assert_true(ls_logit_next_change(m, st, T0) == INT64_MAX);

        ls_logit_note(m, st, 1, T0 + HOUR);       /* visit, day 0 */
        ls_logit_note(m, st, 1, T0 + 2 * HOUR);   /* visit, day 0 */
        ls_logit_note(m, st, 0, T0 + DAY + HOUR); /* demo, day 1 */
        ls_logit_features(m, st, 1, T0 + DAY + 2 * HOUR, x);
        assert_true(x[0] == 1.0);
        assert_true(near(x[1], log1p(1.0)));
        assert_true(near(x[2], log1p(2.0)));
        assert_true(x[3] == 4.0); /* latest occurrence in now's bucket */
        assert_true(ls_logit_next_change(m, st, T0 + DAY + 2 * HOUR) ==
                    T0 + 2 * DAY);
        /* day 3: all still in; day 4: day 0's visits are out */
        ls_logit_features(m, st, 0, T0 + 3 * DAY, x);
        assert_true(near(x[2], log1p(2.0)) && x[3] == 2.0);
        ls_logit_features(m, st, 0, T0 + 4 * DAY, x);
        assert_true(near(x[1], log1p(1.0)) && x[2] == 0.0 && x[3] == 1.0);
        ls_logit_features(m, st, 0, T0 + 5 * DAY, x);
        assert_true(x[1] == 0.0 && x[3] == 0.0);
        assert_true(ls_logit_next_change(m, st, T0 + 5 * DAY) == INT64_MAX);
        /* a late occurrence within the ring counts; one before it not */
        ls_logit_note(m, st, 1, T0 + 6 * DAY);
        ls_logit_note(m, st, 1, T0 + 4 * DAY);
        ls_logit_note(m, st, 1, T0 + 2 * DAY);
        ls_logit_features(m, st, 0, T0 + 6 * DAY, x);
        assert_true(near(x[2], log1p(2.0)));
        fx_free(&fx);
}

static void expect_load_error(const char *yaml, const char *part) {
        ls_modelset_t *ms = NULL;
        char err[512];

        assert_int_equal(ls_modelset_load_string(yaml, strlen(yaml), "t.yaml",
                                                 NULL, &ms, err, sizeof(err)),
                         LS_ERR_INVALID);
        if (!strstr(err, part))
                fail_msg("'%s' not in '%s'", part, err);
}

static void test_loader(void **state) {
        (void)state;
        expect_load_error("models:\n  - id: p\n    kind: logistic\n"
                          "    engagement:\n      rules:\n"
                          "        - {id: d, event: x, points: 5}\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n"
                          "    logistic: {intercept: 0, window: 1d, "
                          "coefficients: {d: 1}}\n",
                          "points: not in a logistic model");
        expect_load_error("models:\n  - id: p\n    kind: logistic\n"
                          "    engagement:\n      rules:\n"
                          "        - {id: d, event: x}\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n"
                          "    logistic: {intercept: 0, window: 1d, "
                          "coefficients: {dd: 1}}\n",
                          "'dd' is not a feature of the model");
        expect_load_error("models:\n  - id: p\n    kind: logistic\n"
                          "    engagement:\n      rules:\n"
                          "        - {id: d, event: x}\n"
                          "        - {id: e, event: y}\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n"
                          "    logistic: {intercept: 0, window: 1d, "
                          "coefficients: {d: 1}}\n",
                          "no coefficient for rule 'e'");
        expect_load_error("models:\n  - id: p\n    kind: logistic\n"
                          "    engagement:\n      rules:\n"
                          "        - {id: d, event: x}\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n"
                          "    logistic: {intercept: 0, window: 10ms, "
                          "buckets: 3, coefficients: {d: 1}}\n",
                          "does not divide into 3 buckets");
        expect_load_error("models:\n  - id: p\n    kind: logistic\n"
                          "    engagement:\n      rules:\n"
                          "        - {id: freshness_days, event: x}\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n"
                          "    logistic: {intercept: 0, window: 1d, "
                          "coefficients: {freshness_days: 1}}\n",
                          "rule id 'freshness_days' is reserved");
        expect_load_error("models:\n  - id: p\n    kind: logistic\n"
                          "    engagement:\n      rules:\n"
                          "        - {id: d, event: x}\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n"
                          "    logistic: {intercept: 0, window: 1d, "
                          "coefficients: {d: 1.5e308}}\n",
                          "expected a number in -1e6 .. 1e6");
        expect_load_error("models:\n  - id: p\n    kind: logistic\n"
                          "    engagement:\n      rules:\n"
                          "        - {id: d, event: x}\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n"
                          "    logistic: {intercept: 0, window: 3651d, "
                          "coefficients: {d: 1}}\n",
                          "at most 3650d");
        expect_load_error("models:\n  - id: p\n    kind: lasso\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n",
                          "unknown kind 'lasso'");
        expect_load_error("models:\n  - id: p\n"
                          "    grades: [{name: A}]\n    bands: [{name: c}]\n"
                          "    logistic: {intercept: 0, window: 1d}\n",
                          "only in a model of kind: logistic");
}

/* Scores live: probability, total, fit and engagement, contributions;
 * the window moving on lowers the score with no input; MQL on the total;
 * a snapshot resumes with the same outputs. */
static void test_engine(void **state) {
        const ls_kv_t big[] = {{"employees", "500"}};
        ls_input_t prof = {.kind = LS_INPUT_PROFILE,
                           .lead_id = "ada",
                           .time = T0,
                           .fields = big,
                           .n_fields = 1};
        const ls_output_t *o;
        double c = 0, z;
        ls_buf_t img, a, b;
        ls_shard_t *sh2;
        fx_t fx;
        size_t i;
        int mql = 0;

        (void)state;
        fx_init(&fx);
        ls_outbuf_reset(&fx.ob);
        assert_int_equal(
                ls_shard_apply(fx.sh, &prof, &fx.ob, fx.err, sizeof(fx.err)),
                LS_OK);
        o = fx_update(&fx);
        assert_int_equal(o->fit, (int)lround(100 * sigmoid(-0.5)));
        assert_int_equal(o->total, o->fit);
        assert_int_equal(o->engagement, 0);
        assert_true(fabs(o->probability - sigmoid(-0.5)) < 1e-12);
        assert_int_equal(o->n_features, 2); /* intercept and big */
        assert_true(feature(&fx, o, "big", &c) == 1.0 && c == 1.5);

        fx_event(&fx, "ada", "e1", "demo_request", T0 + HOUR);
        o = fx_update(&fx);
        z = -2 + 1.5 + 2.0 * log1p(1.0) + 0.25 * 4;
        assert_true(fabs(o->probability - sigmoid(z)) < 1e-12);
        assert_int_equal(o->total, (int)lround(100 * sigmoid(z)));
        assert_int_equal(o->fit + o->engagement, o->total);
        assert_true(near(feature(&fx, o, "demo", &c), log1p(1.0)));
        assert_true(near(c, 2.0 * log1p(1.0)));
        assert_true(feature(&fx, o, "freshness_days", NULL) == 4.0);
        assert_int_equal(o->reasons_off + o->n_reasons <= fx.ob.n_reasons, 1);
        for (i = 0; i < fx.ob.n_outs; i++)
                if (fx.ob.outs[i].kind == LS_OUT_ALERT &&
                    fx.ob.outs[i].alert == LS_ALERT_MQL)
                        mql = 1;
        assert_true(mql == (o->total >= 60));
        assert_true(o->mql);

        /* snapshot here; both shards then meet the same later events */
        ls_buf_init(&img);
        ls_buf_init(&a);
        ls_buf_init(&b);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        sh2 = ls_shard_load(fx.ms, img.data, img.len, fx.err, sizeof(fx.err));
        assert_non_null(sh2);
        for (int round = 0; round < 2; round++) {
                ls_shard_t *sh = round ? sh2 : fx.sh;
                ls_buf_t *out = round ? &b : &a;
                ls_outbuf_t ob;
                ls_input_t later = {.kind = LS_INPUT_EVENT,
                                    .lead_id = "bob",
                                    .event_id = "x9",
                                    .event_type = "page_view",
                                    .time = T0 + 6 * DAY};

                ls_outbuf_init(&ob);
                /* the window moves on under the timer: days 2, 3, 4, 5 */
                assert_int_equal(
                        ls_shard_apply(sh, &later, &ob, fx.err, sizeof(fx.err)),
                        LS_OK);
                for (i = 0; i < ob.n_outs; i++)
                        assert_int_equal(
                                ls_json_encode_output(&ob, &ob.outs[i], out),
                                LS_OK);
                if (!round) {
                        int decays = 0, lost = 0;

                        for (i = 0; i < ob.n_outs; i++) {
                                if (strcmp(ob.outs[i].lead_id, "ada"))
                                        continue;
                                decays +=
                                        ob.outs[i].cause == LS_CAUSE_DECAY &&
                                        ob.outs[i].kind == LS_OUT_SCORE_UPDATE;
                                lost += ob.outs[i].alert == LS_ALERT_MQL_LOST;
                                if (ob.outs[i].kind == LS_OUT_SCORE_UPDATE)
                                        assert_true(ob.outs[i].total <=
                                                    ob.outs[i].prev_total);
                        }
                        assert_true(decays >= 3);
                        assert_int_equal(lost, 1);
                }
                ls_outbuf_free(&ob);
        }
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        assert_non_null(strstr(a.data, "\"probability\":"));
        ls_buf_free(&img);
        ls_buf_free(&a);
        ls_buf_free(&b);
        ls_shard_destroy(sh2);
        fx_free(&fx);
}

/* The Avro of a logistic update, read with avro-c: probability and
 * features as the engine gave them; a points model's are null and []. */
static void test_avro(void **state) {
        avro_schema_t sch = fx_load_schema("schemas", "score_update.avsc");
        avro_value_iface_t *iface = avro_generic_class_from_schema(sch);
        avro_value_t v, f, br, item, x;
        const ls_output_t *o;
        const ls_feature_t *feat;
        ls_buf_t buf;
        size_t n, i;
        double dv;
        int disc;
        fx_t fx;

        (void)state;
        fx_init(&fx);
        fx_event(&fx, "ada", "e1", "demo_request", T0 + HOUR);
        o = fx_update(&fx);
        feat = ls_output_features(&fx.ob, o);
        ls_buf_init(&buf);
        assert_int_equal(ls_avro_encode_output(&fx.ob, o, &buf), LS_OK);
        avro_generic_value_new(iface, &v);
        fx_avro_read(&buf, &v);
        fx_avro_same_bytes(&v, &buf);
        assert_int_equal(avro_value_get_by_name(&v, "probability", &f, NULL),
                         0);
        avro_value_get_discriminant(&f, &disc);
        assert_int_equal(disc, 1);
        avro_value_get_current_branch(&f, &br);
        avro_value_get_double(&br, &dv);
        assert_true(dv == o->probability);
        assert_int_equal(avro_value_get_by_name(&v, "features", &f, NULL), 0);
        avro_value_get_size(&f, &n);
        assert_int_equal(n, o->n_features);
        for (i = 0; i < n; i++) {
                const char *name;
                size_t len;

                avro_value_get_by_index(&f, i, &item, NULL);
                avro_value_get_by_name(&item, "name", &x, NULL);
                avro_value_get_string(&x, &name, &len);
                assert_string_equal(name, feat[i].name);
                avro_value_get_by_name(&item, "value", &x, NULL);
                avro_value_get_double(&x, &dv);
                assert_true(dv == feat[i].value);
                avro_value_get_by_name(&item, "contribution", &x, NULL);
                avro_value_get_double(&x, &dv);
                assert_true(dv == feat[i].contribution);
        }
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(sch);
        ls_buf_free(&buf);
        fx_free(&fx);
}

/* Hot lead on a logistic model: points within the window are what the
 * events added to the total. */
static void test_hot(void **state) {
        static const char *const yaml =
                "models:\n"
                "  - id: p\n"
                "    kind: logistic\n"
                "    engagement:\n"
                "      rules:\n"
                "        - {id: visit, event: page_view}\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n"
                "    hot: {points: 30, within: 1h}\n"
                "    logistic:\n"
                "      intercept: -3\n"
                "      fit_offset: 1\n"
                "      window: 1d\n"
                "      coefficients: {visit: 1.5}\n";
        ls_modelset_t *ms;
        ls_shard_t *sh;
        ls_outbuf_t ob;
        char err[512], id[16];
        int i, hot_at = 0;

        (void)state;
        assert_int_equal(ls_modelset_load_string(yaml, strlen(yaml), "t.yaml",
                                                 NULL, &ms, err, sizeof(err)),
                         LS_OK);
        sh = ls_shard_new(ms);
        ls_outbuf_init(&ob);
        /* totals 5, 12, 21, 28, 36: +7, +9, +7, +8, 31 points by the
         * fourth visit */
        for (i = 1; i <= 5 && !hot_at; i++) {
                ls_input_t in = {.kind = LS_INPUT_EVENT,
                                 .lead_id = "ada",
                                 .event_id = id,
                                 .event_type = "page_view",
                                 .time = T0 + i * 60000};
                size_t k;

                snprintf(id, sizeof(id), "v%d", i);
                ls_outbuf_reset(&ob);
                assert_int_equal(ls_shard_apply(sh, &in, &ob, err, sizeof(err)),
                                 LS_OK);
                for (k = 0; k < ob.n_outs; k++) {
                        /* fit: the chance at fit_offset's engagement */
                        assert_int_equal(ob.outs[k].fit,
                                         (int)lround(100 * sigmoid(-2)));
                        if (ob.outs[k].alert == LS_ALERT_HOT_LEAD)
                                hot_at = i;
                }
        }
        assert_int_equal(hot_at, 4);
        ls_outbuf_free(&ob);
        ls_shard_destroy(sh);
        ls_modelset_destroy(ms);
}

/* A reload: points to logistic keeps the seq and fit matches, and starts
 * the window empty; logistic to logistic with the same buckets keeps the
 * occurrences and rescored them with the new coefficients. */
static void test_migrate(void **state) {
        static const char *const points =
                "models:\n"
                "  - id: p\n"
                "    fit:\n"
                "      rules:\n"
                "        - {id: big, attribute: employees, range: {min: "
                "100}, points: 10}\n"
                "    engagement:\n"
                "      rules:\n"
                "        - {id: demo, event: demo_request, points: 30}\n"
                "        - {id: visit, event: page_view, points: 1}\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n";
        const ls_kv_t big[] = {{"employees", "500"}};
        ls_input_t prof = {.kind = LS_INPUT_PROFILE,
                           .lead_id = "ada",
                           .time = T0,
                           .fields = big,
                           .n_fields = 1};
        ls_modelset_t *pms, *l2;
        ls_shard_t *psh, *lsh, *l2sh;
        ls_lead_view_t view;
        char yaml[4096];
        fx_t fx;

        (void)state;
        assert_int_equal(ls_modelset_load_string(points, strlen(points),
                                                 "p.yaml", NULL, &pms, fx.err,
                                                 sizeof(fx.err)),
                         LS_OK);
        psh = ls_shard_new(pms);
        ls_outbuf_init(&fx.ob);
        assert_int_equal(
                ls_shard_apply(psh, &prof, &fx.ob, fx.err, sizeof(fx.err)),
                LS_OK);
        {
                ls_input_t in = {.kind = LS_INPUT_EVENT,
                                 .lead_id = "ada",
                                 .event_id = "d1",
                                 .event_type = "demo_request",
                                 .time = T0 + HOUR};

                assert_int_equal(ls_shard_apply(psh, &in, &fx.ob, fx.err,
                                                sizeof(fx.err)),
                                 LS_OK);
        }
        ls_outbuf_free(&fx.ob);
        fx_init(&fx);
        lsh = ls_shard_migrate(psh, fx.ms, fx.err, sizeof(fx.err));
        assert_non_null(lsh);
        assert_int_equal(ls_shard_lead(lsh, "ada", 0, &view), LS_OK);
        assert_int_equal(view.seq, 2);
        /* fit kept (big), the demo is not in the window */
        assert_int_equal(view.fit, (int)lround(100 * sigmoid(-0.5)));
        assert_int_equal(view.engagement, 0);

        /* the same set with the demo weighing 4: occurrences kept */
        snprintf(yaml, sizeof(yaml), "%s", MODEL);
        {
                char *w = strstr(yaml, "demo: 2.0");

                assert_non_null(w);
                memcpy(w, "demo: 4.0", 9);
        }
        assert_int_equal(ls_modelset_load_string(yaml, strlen(yaml), "t2.yaml",
                                                 NULL, &l2, fx.err,
                                                 sizeof(fx.err)),
                         LS_OK);
        fx_event(&fx, "bob", "b1", "demo_request", T0 + HOUR);
        l2sh = ls_shard_migrate(fx.sh, l2, fx.err, sizeof(fx.err));
        assert_non_null(l2sh);
        assert_int_equal(ls_shard_lead(l2sh, "bob", 0, &view), LS_OK);
        assert_int_equal(
                view.fit + view.engagement,
                (int)lround(100 * sigmoid(-2 + 4.0 * log1p(1.0) + 0.25 * 4)));
        ls_shard_destroy(l2sh);
        ls_modelset_destroy(l2);
        ls_shard_destroy(lsh);
        ls_shard_destroy(psh);
        ls_modelset_destroy(pms);
        fx_free(&fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_window_buckets),
                cmocka_unit_test(test_loader),
                cmocka_unit_test(test_engine),
                cmocka_unit_test(test_avro),
                cmocka_unit_test(test_hot),
                cmocka_unit_test(test_migrate),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
