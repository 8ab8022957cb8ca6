/*
 * test_engine.c - the pure engine: rules, caps, decay, grades, alerts,
 * duplicates, lateness, multiple models, determinism.
 *
 * Every expected number below is computed by hand from docs/MODEL.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"

#define DAY (24LL * 3600 * 1000)
#define HOUR (3600LL * 1000)
#define T0 (1767225600000LL) /* 2026-01-01T00:00:00Z */

typedef struct fx_s {
        ls_modelset_t *ms;
        ls_shard_t *sh;
        ls_outbuf_t ob;
        char err[512];
} fx_t;

static void fx_init(fx_t *fx, const char *yaml) {
        ls_err_t err;

        memset(fx, 0, sizeof(*fx));
        err = ls_modelset_load_string(yaml, strlen(yaml), "test.yaml", NULL,
                                      &fx->ms, fx->err, sizeof(fx->err));
        if (err)
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

/* Applies *in with fields from NULL-terminated key, value pairs in ap. */
static ls_err_t fx_apply(fx_t *fx, ls_input_t *in, va_list ap) {
        ls_kv_t kv[16];
        size_t n = 0;
        const char *k;
        char why[512];
        ls_err_t err;

        while ((k = va_arg(ap, const char *)) != NULL && n < 16) {
                kv[n].key = k;
                kv[n].value = va_arg(ap, const char *);
                n++;
        }
        in->fields = kv;
        in->n_fields = n;
        ls_outbuf_reset(&fx->ob);
        err = ls_shard_apply(fx->sh, in, &fx->ob, fx->err, sizeof(fx->err));
        /* the engine's invariants hold after every input */
        if (ls_shard_check(fx->sh, why, sizeof(why)) != LS_OK)
                fail_msg("invariant: %s", why);
        return err;
}

/* Applies an event with NULL-terminated key, value pairs of properties. */
static ls_err_t fx_event(fx_t *fx, const char *lead, const char *id,
                         const char *type, int64_t t, ...) {
        ls_input_t in = {.kind = LS_INPUT_EVENT,
                         .lead_id = lead,
                         .event_id = id,
                         .event_type = type,
                         .time = t};
        ls_err_t err;
        va_list ap;

        va_start(ap, t);
        err = fx_apply(fx, &in, ap);
        va_end(ap);
        return err;
}

static ls_err_t fx_product_event(fx_t *fx, const char *lead, const char *id,
                                 const char *type, const char *product,
                                 int64_t t) {
        ls_input_t in = {.kind = LS_INPUT_EVENT,
                         .lead_id = lead,
                         .event_id = id,
                         .event_type = type,
                         .product = product,
                         .time = t};

        ls_outbuf_reset(&fx->ob);
        return ls_shard_apply(fx->sh, &in, &fx->ob, fx->err, sizeof(fx->err));
}

/* Applies a profile update with NULL-terminated key, value attributes. */
static ls_err_t fx_profile(fx_t *fx, const char *lead, int64_t t, ...) {
        ls_input_t in = {.kind = LS_INPUT_PROFILE, .lead_id = lead, .time = t};
        ls_err_t err;
        va_list ap;

        va_start(ap, t);
        err = fx_apply(fx, &in, ap);
        va_end(ap);
        return err;
}

static void fx_advance(fx_t *fx, int64_t t) {
        ls_outbuf_reset(&fx->ob);
        assert_int_equal(ls_shard_advance(fx->sh, t, &fx->ob), LS_OK);
}

static const ls_output_t *fx_out(fx_t *fx, size_t i) {
        assert_true(i < fx->ob.n_outs);
        return &fx->ob.outs[i];
}

static const ls_reason_t *fx_reason(fx_t *fx, const ls_output_t *o, size_t i) {
        assert_true(i < o->n_reasons);
        return &ls_output_reasons(&fx->ob, o)[i];
}

static size_t fx_count_alerts(fx_t *fx, ls_alert_kind_t kind) {
        size_t i, n = 0;

        for (i = 0; i < fx->ob.n_outs; i++)
                if (fx->ob.outs[i].kind == LS_OUT_ALERT &&
                    fx->ob.outs[i].alert == kind)
                        n++;
        return n;
}

#define GRID                                                                   \
        "    grades: [{name: A, min: 40}, {name: B, min: 20}, {name: C, "      \
        "min: 10}, {name: D}]\n"                                               \
        "    bands: [{name: cold}, {name: warm, min: 20}, {name: hot, min: "   \
        "50}, {name: on_fire, min: 80}]\n"

static const char *basic_model =
        "models:\n"
        "  - id: m\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: pricing, event: page_view, when: {url: {glob: "
        "\"*/pricing*\"}}, points: 10}\n"
        "        - {id: blog, event: page_view, when: {url: {prefix: "
        "\"https://x.io/blog\"}}, points: 2,\n"
        "           unless: {is_bot: \"true\"}}\n"
        "        - {id: unsub, event: email_unsubscribe, points: -20}\n" GRID;

static void test_rule_points_and_repeats(void **state) {
        fx_t fx;
        const ls_output_t *o;

        fx_init(&fx, basic_model);
        assert_int_equal(fx_event(&fx, "L1", "e1", "page_view", T0, "url",
                                  "https://x.io/pricing", NULL),
                         LS_OK);
        assert_int_equal(fx.ob.n_outs, 1);
        o = fx_out(&fx, 0);
        assert_int_equal(o->kind, LS_OUT_SCORE_UPDATE);
        assert_string_equal(o->lead_id, "L1");
        assert_int_equal(o->engagement, 10);
        assert_int_equal(o->total, 10);
        assert_int_equal(o->prev_total, 0);
        assert_int_equal(o->seq, 1);
        assert_int_equal(o->time, T0);
        assert_int_equal(o->cause, LS_CAUSE_EVENT);
        assert_string_equal(o->cause_id, "e1");
        assert_int_equal(o->n_reasons, 1);
        assert_string_equal(fx_reason(&fx, o, 0)->rule_id, "pricing");
        assert_int_equal(fx_reason(&fx, o, 0)->points, 10);
        assert_int_equal(fx_reason(&fx, o, 0)->capped, 0);

        /* repeat behaviour counts: the same page again adds again */
        assert_int_equal(fx_event(&fx, "L1", "e2", "page_view", T0 + 1000,
                                  "url", "https://x.io/pricing?x", NULL),
                         LS_OK);
        o = fx_out(&fx, 0);
        assert_int_equal(o->engagement, 20);
        assert_int_equal(o->seq, 2);
        assert_string_equal(o->band == 1 ? "warm" : "?", "warm");

        /* a non-matching url, and a bot visit vetoed by `unless` */
        assert_int_equal(fx_event(&fx, "L1", "e3", "page_view", T0 + 2000,
                                  "url", "https://x.io/about", NULL),
                         LS_OK);
        assert_int_equal(fx.ob.n_outs, 0);
        assert_int_equal(fx_event(&fx, "L1", "e4", "page_view", T0 + 3000,
                                  "url", "https://x.io/blog/1", "is_bot",
                                  "TRUE", NULL),
                         LS_OK);
        assert_int_equal(fx.ob.n_outs, 0);
        assert_int_equal(fx_event(&fx, "L1", "e5", "page_view", T0 + 4000,
                                  "url", "https://x.io/blog/1", NULL),
                         LS_OK);
        assert_int_equal(fx_out(&fx, 0)->engagement, 22);

        /* unknown event type: nothing, no lead created */
        assert_int_equal(fx_event(&fx, "L9", "e6", "tweet", T0 + 5000, NULL),
                         LS_OK);
        assert_int_equal(fx.ob.n_outs, 0);
        {
                ls_lead_view_t v;

                assert_int_equal(ls_shard_lead(fx.sh, "L9", 0, &v),
                                 LS_ERR_NOT_FOUND);
                assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
                assert_int_equal(v.engagement, 22);
                assert_int_equal(v.seq, 3);
        }
        fx_free(&fx);
}

static void test_negative_points_and_floor(void **state) {
        fx_t fx;
        const ls_output_t *o;

        fx_init(&fx, basic_model);
        fx_event(&fx, "L1", "e1", "page_view", T0, "url", "/pricing", NULL);
        assert_int_equal(
                fx_event(&fx, "L1", "e2", "email_unsubscribe", T0 + 1, NULL),
                LS_OK);
        o = fx_out(&fx, 0);
        /* 10 - 20 would be -10: the floor (0) keeps it at 0 */
        assert_int_equal(o->engagement, 0);
        assert_int_equal(fx_reason(&fx, o, 0)->points, -10);
        assert_int_equal(fx_reason(&fx, o, 0)->capped, -10);
        fx_free(&fx);
}

static const char *cap_model =
        "models:\n"
        "  - id: m\n"
        "    engagement:\n"
        "      max: 25\n"
        "      categories:\n"
        "        email: {cap: {points: 6, per: 7d}}\n"
        "      rules:\n"
        "        - {id: open, event: email_open, points: 1, category: email,\n"
        "           cap: {points: 3, per: 1d}}\n"
        "        - {id: click, event: email_click, points: 2, category: "
        "email}\n"
        "        - {id: webinar, event: webinar_attend, points: 15, cap: "
        "{count: 1}}\n" GRID;

static void test_caps(void **state) {
        fx_t fx;
        int i;
        char id[16];
        const ls_output_t *o;

        fx_init(&fx, cap_model);
        /* 5 opens on day 0: only 3 points (rule cap 3/day) */
        for (i = 0; i < 5; i++) {
                snprintf(id, sizeof(id), "o%d", i);
                assert_int_equal(fx_event(&fx, "L1", id, "email_open",
                                          T0 + i * 1000, NULL),
                                 LS_OK);
                if (i < 3) {
                        assert_int_equal(fx.ob.n_outs, 1);
                        assert_int_equal(fx_out(&fx, 0)->engagement, i + 1);
                } else {
                        /* nothing changes: no output */
                        assert_int_equal(fx.ob.n_outs, 0);
                }
        }
        /* day 1: the rule cap resets; the category cap (6 per 7 days,
         * epoch-aligned weeks) allows 3 more in total */
        fx_event(&fx, "L1", "o10", "email_open", T0 + DAY, NULL);
        assert_int_equal(fx_out(&fx, 0)->engagement, 4);
        fx_event(&fx, "L1", "c1", "email_click", T0 + DAY + 1, NULL);
        assert_int_equal(fx_out(&fx, 0)->engagement, 6);
        fx_event(&fx, "L1", "c2", "email_click", T0 + DAY + 2, NULL);
        assert_int_equal(fx.ob.n_outs, 0); /* category exhausted */
        /* but the withheld points are explained: an output-less event has
         * no reasons to read, so check with a rule that still gives some */
        fx_event(&fx, "L1", "w1", "webinar_attend", T0 + DAY + 3, NULL);
        o = fx_out(&fx, 0);
        assert_int_equal(o->engagement, 21);
        /* count cap: a second webinar gives nothing */
        fx_event(&fx, "L1", "w2", "webinar_attend", T0 + 2 * DAY, NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        fx_free(&fx);
}

static void test_total_cap_reason(void **state) {
        fx_t fx;
        const ls_output_t *o;

        fx_init(&fx, cap_model);
        fx_event(&fx, "L1", "w1", "webinar_attend", T0, NULL);  /* 15 */
        fx_event(&fx, "L1", "o1", "email_open", T0 + 1, NULL);  /* 16 */
        fx_event(&fx, "L1", "c1", "email_click", T0 + 2, NULL); /* 18 */
        fx_event(&fx, "L1", "c2", "email_click", T0 + 3, NULL); /* 20 */
        fx_event(&fx, "L1", "c3", "email_click", T0 + 4,
                 NULL); /* email 6: +1 */
        o = fx_out(&fx, 0);
        assert_int_equal(o->engagement, 21);
        assert_int_equal(fx_reason(&fx, o, 0)->points, 1);
        assert_int_equal(fx_reason(&fx, o, 0)->capped, 1);
        fx_free(&fx);

        /* engagement max 25 */
        fx_init(&fx, "models:\n  - id: m\n    engagement:\n      max: 25\n"
                     "      rules: [{id: demo, event: demo_request, points: "
                     "20}]\n" GRID);
        fx_event(&fx, "L1", "d1", "demo_request", T0, NULL);
        fx_event(&fx, "L1", "d2", "demo_request", T0 + 1, NULL);
        o = fx_out(&fx, 0);
        assert_int_equal(o->engagement, 25);
        assert_int_equal(fx_reason(&fx, o, 0)->points, 5);
        assert_int_equal(fx_reason(&fx, o, 0)->capped, 15);
        fx_free(&fx);
}

static const char *step_model =
        "models:\n"
        "  - id: m\n"
        "    engagement:\n"
        "      rules: [{id: demo, event: demo_request, points: 40}]\n"
        "      decay:\n"
        "        steps: [{after: 30d, points: -15}, {after: 60d, points: -15},"
        " {after: 90d, points: -20}]\n" GRID;

static void test_step_decay_timers(void **state) {
        fx_t fx;
        const ls_output_t *o;

        fx_init(&fx, step_model);
        fx_event(&fx, "L1", "d1", "demo_request", T0, NULL);
        assert_int_equal(fx_out(&fx, 0)->engagement, 40);
        fx_advance(&fx, T0 + 30 * DAY - 1);
        assert_int_equal(fx.ob.n_outs, 0);
        fx_advance(&fx, T0 + 30 * DAY);
        assert_int_equal(fx.ob.n_outs, 1);
        o = fx_out(&fx, 0);
        assert_int_equal(o->cause, LS_CAUSE_DECAY);
        assert_null(o->cause_id);
        assert_int_equal(o->time, T0 + 30 * DAY);
        assert_int_equal(o->engagement, 25);
        assert_int_equal(o->n_reasons, 1);
        assert_int_equal(fx_reason(&fx, o, 0)->kind, LS_REASON_DECAY);
        assert_int_equal(fx_reason(&fx, o, 0)->points, -15);
        /* jump past both remaining steps: two outputs, in time order */
        fx_advance(&fx, T0 + 200 * DAY);
        assert_int_equal(fx.ob.n_outs, 2);
        assert_int_equal(fx_out(&fx, 0)->engagement, 10);
        assert_int_equal(fx_out(&fx, 0)->time, T0 + 60 * DAY);
        /* 10 - 20 stops at the floor 0 */
        assert_int_equal(fx_out(&fx, 1)->engagement, 0);
        assert_int_equal(fx_out(&fx, 1)->time, T0 + 90 * DAY);
        assert_int_equal(fx_reason(&fx, fx_out(&fx, 1), 0)->points, -10);
        fx_free(&fx);
}

static void test_step_decay_on_next_event(void **state) {
        fx_t fx;
        const ls_output_t *o;

        fx_init(&fx, step_model);
        fx_event(&fx, "L1", "d1", "demo_request", T0, NULL);
        /* another lead's event advances stream time: L1's timer fires */
        fx_event(&fx, "L2", "x1", "demo_request", T0 + 45 * DAY, NULL);
        assert_int_equal(fx.ob.n_outs, 2);
        assert_string_equal(fx_out(&fx, 0)->lead_id, "L1");
        assert_int_equal(fx_out(&fx, 0)->engagement, 25);
        assert_string_equal(fx_out(&fx, 1)->lead_id, "L2");
        /* activity restarts the clock from the decayed value */
        fx_event(&fx, "L1", "d2", "demo_request", T0 + 46 * DAY, NULL);
        o = fx_out(&fx, 0);
        assert_int_equal(o->engagement, 65);
        fx_advance(&fx, T0 + 46 * DAY + 30 * DAY - 1);
        assert_int_equal(fx.ob.n_outs, 1); /* L2's first step only */
        assert_string_equal(fx_out(&fx, 0)->lead_id, "L2");
        fx_advance(&fx, T0 + 76 * DAY);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx_out(&fx, 0)->engagement, 50);
        fx_free(&fx);
}

static void test_half_life_decay(void **state) {
        fx_t fx;
        ls_lead_view_t v;

        fx_init(&fx,
                "models:\n  - id: m\n    engagement:\n"
                "      rules: [{id: demo, event: demo_request, points: 100}]\n"
                "      decay: {half_life: 10d, tick: 1d}\n" GRID);
        fx_event(&fx, "L1", "d1", "demo_request", T0, NULL);
        fx_advance(&fx, T0 + DAY);
        /* round(100 * 0.5^(1/10)) = round(93.30) = 93 */
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx_out(&fx, 0)->engagement, 93);
        assert_int_equal(fx_reason(&fx, fx_out(&fx, 0), 0)->points, -7);
        fx_advance(&fx, T0 + 10 * DAY);
        assert_int_equal(fx.ob.n_outs, 9);
        assert_int_equal(fx_out(&fx, 8)->engagement, 50);
        /* 20 days: 25; evaluated per whole tick, not in between */
        fx_advance(&fx, T0 + 20 * DAY + DAY / 2);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.engagement, 25);
        fx_free(&fx);
}

static const char *fit_model =
        "lists:\n  freemail: freemail.txt\n"
        "models:\n"
        "  - id: m\n"
        "    fit:\n"
        "      max: 60\n"
        "      rules:\n"
        "        - {id: software, attribute: industry, in: [software, saas], "
        "points: 25}\n"
        "        - {id: size, attribute: employees, range: {min: 50, max: "
        "5000}, points: 20}\n"
        "        - {id: vp, attribute: title, regex: \"^(vp|chief|head)\", "
        "points: 20}\n"
        "        - {id: student, attribute: title, glob: \"*student*\", "
        "points: -30}\n"
        "    engagement:\n"
        "      rules: [{id: demo, event: demo_request, points: 30}]\n" GRID;

static void test_fit_rules_and_partial_profiles(void **state) {
        fx_t fx;
        const ls_output_t *o;

        /* inline the list: no file, so use a model without in_list here */
        fx_init(&fx, strstr(fit_model, "models:"));
        assert_int_equal(fx_profile(&fx, "L1", T0, "industry", "SaaS",
                                    "employees", "120", NULL),
                         LS_OK);
        o = fx_out(&fx, 0);
        assert_int_equal(o->cause, LS_CAUSE_PROFILE);
        assert_int_equal(o->fit, 45);
        assert_int_equal(o->grade, 0); /* A: >= 40 */
        assert_string_equal(o->cell, "A1");
        assert_int_equal(o->n_reasons, 2);
        assert_int_equal(fx_reason(&fx, o, 0)->kind, LS_REASON_FIT);
        assert_string_equal(fx_reason(&fx, o, 0)->rule_id, "software");
        /* a later update naming only the title keeps industry and size;
         * the fit max (60) clamps 65 */
        fx_profile(&fx, "L1", T0 + 1, "title", "VP Sales", NULL);
        o = fx_out(&fx, 0);
        assert_int_equal(o->fit, 60);
        /* a student title: vp no longer matches (-20), student (-30) */
        fx_profile(&fx, "L1", T0 + 2, "title", "Student", NULL);
        o = fx_out(&fx, 0);
        assert_int_equal(o->fit, 15);
        assert_int_equal(o->grade, 2);
        assert_int_equal(o->n_reasons, 2);
        /* clearing the employees attribute removes its points */
        fx_profile(&fx, "L1", T0 + 3, "employees", "", NULL);
        assert_int_equal(fx_out(&fx, 0)->fit, -5);
        /* non-numeric employees never match a range */
        fx_profile(&fx, "L1", T0 + 4, "employees", "lots", NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        /* an update that changes nothing produces nothing */
        fx_profile(&fx, "L1", T0 + 5, "industry", "software", NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        /* fit does not decay and an event keeps it */
        fx_event(&fx, "L1", "d1", "demo_request", T0 + 6, NULL);
        o = fx_out(&fx, 0);
        assert_int_equal(o->fit, -5);
        assert_int_equal(o->total, 25);
        assert_string_equal(o->cell, "D2");
        fx_free(&fx);
}

static const char *mql_model =
        "models:\n"
        "  - id: m\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: demo, event: demo_request, points: 30}\n"
        "        - {id: page, event: page_view, points: 5}\n"
        "        - {id: cancel, event: demo_cancelled, points: -10}\n"
        "      decay: {steps: [{after: 30d, points: -20}]}\n" GRID "    mql:\n"
        "      enter: {min_total: 50}\n"
        "      stay: {min_total: 40}\n";

static void test_mql_hysteresis(void **state) {
        fx_t fx;
        const ls_output_t *o;

        fx_init(&fx, mql_model);
        fx_event(&fx, "L1", "d1", "demo_request", T0, NULL); /* 30 */
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 0);
        fx_event(&fx, "L1", "p1", "page_view", T0 + 1, NULL); /* 35 */
        fx_event(&fx, "L1", "p2", "page_view", T0 + 2, NULL); /* 40 */
        fx_event(&fx, "L1", "p3", "page_view", T0 + 3, NULL); /* 45 */
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 0);
        fx_event(&fx, "L1", "p4", "page_view", T0 + 4, NULL); /* 50 */
        assert_int_equal(fx.ob.n_outs, 2);
        assert_int_equal(fx_out(&fx, 0)->kind, LS_OUT_SCORE_UPDATE);
        assert_true(fx_out(&fx, 0)->mql); /* status after this change */
        o = fx_out(&fx, 1);
        assert_int_equal(o->kind, LS_OUT_ALERT);
        assert_int_equal(o->alert, LS_ALERT_MQL);
        assert_int_equal(o->total, 50);
        assert_int_equal(o->prev_total, 45);
        assert_true(o->mql);
        assert_int_equal(o->seq, fx_out(&fx, 0)->seq + 1);
        assert_string_equal(o->cause_id, "p4");
        /* the alert carries the reasons of the change that caused it */
        assert_int_equal(o->n_reasons, 1);
        assert_string_equal(fx_reason(&fx, o, 0)->rule_id, "page");
        /* once only */
        fx_event(&fx, "L1", "p5", "page_view", T0 + 5, NULL); /* 55 */
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 0);
        /* falls to 45: inside the hysteresis band, still MQL */
        fx_event(&fx, "L1", "c1", "demo_cancelled", T0 + 6, NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL_LOST), 0);
        assert_true(fx_out(&fx, 0)->mql);
        /* falls to 35 (< stay 40): lost */
        fx_event(&fx, "L1", "c2", "demo_cancelled", T0 + 7, NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL_LOST), 1);
        /* back to 45: between stay and enter, not MQL again */
        fx_event(&fx, "L1", "p6", "page_view", T0 + 8, NULL);
        fx_event(&fx, "L1", "p7", "page_view", T0 + 9, NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 0);
        assert_false(fx_out(&fx, 0)->mql);
        /* 50: re-enters */
        fx_event(&fx, "L1", "p8", "page_view", T0 + 10, NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 1);
        /* decay to 30 after 30 quiet days: lost by a timer */
        fx_advance(&fx, T0 + 10 + 30 * DAY);
        assert_int_equal(fx.ob.n_outs, 2);
        assert_int_equal(fx_out(&fx, 1)->alert, LS_ALERT_MQL_LOST);
        assert_int_equal(fx_out(&fx, 1)->cause, LS_CAUSE_DECAY);
        assert_int_equal(fx_out(&fx, 1)->total, 30);
        fx_free(&fx);
}

static void test_mql_grid_condition(void **state) {
        fx_t fx;

        fx_init(&fx, "models:\n  - id: m\n"
                     "    fit:\n      rules: [{id: saas, attribute: industry, "
                     "equals: saas, points: 25}]\n"
                     "    engagement:\n      rules: [{id: demo, event: "
                     "demo_request, points: 50}]\n" GRID
                     "    mql: {enter: {min_grade: B, min_band: hot}}\n");
        fx_event(&fx, "L1", "d1", "demo_request", T0, NULL); /* D3 */
        assert_string_equal(fx_out(&fx, 0)->cell, "D3");
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 0);
        fx_profile(&fx, "L1", T0 + 1, "industry", "SaaS", NULL); /* B3 */
        assert_string_equal(fx_out(&fx, 0)->cell, "B3");
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 1);
        /* stay defaults to enter: losing the grade loses the MQL */
        fx_profile(&fx, "L1", T0 + 2, "industry", "retail", NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL_LOST), 1);
        fx_free(&fx);
}

static const char *hot_model =
        "models:\n"
        "  - id: m\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: page, event: page_view, points: 10}\n"
        "    hot:\n"
        "      points: 30\n"
        "      within: 24h\n"
        "      events: [demo_request]\n"
        "      rearm_after: 7d\n" GRID;

static void test_hot_lead(void **state) {
        fx_t fx;

        fx_init(&fx, hot_model);
        fx_event(&fx, "L1", "p1", "page_view", T0, NULL);
        fx_event(&fx, "L1", "p2", "page_view", T0 + 20 * HOUR, NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_HOT_LEAD), 0);
        /* the first visit has left the 24 h window: 20 points */
        fx_event(&fx, "L1", "p3", "page_view", T0 + 25 * HOUR, NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_HOT_LEAD), 0);
        /* 30 within 24 h */
        fx_event(&fx, "L1", "p4", "page_view", T0 + 26 * HOUR, NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_HOT_LEAD), 1);
        assert_int_equal(fx_out(&fx, 1)->alert, LS_ALERT_HOT_LEAD);
        /* not again within 7 days, even on a demo request */
        fx_event(&fx, "L1", "p5", "page_view", T0 + 27 * HOUR, NULL);
        fx_event(&fx, "L1", "d1", "demo_request", T0 + 3 * DAY, NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_HOT_LEAD), 0);
        /* re-armed after 7 days: a demo request alone is hot, even though
         * no rule of this model scores it */
        fx_event(&fx, "L1", "d2", "demo_request", T0 + 26 * HOUR + 7 * DAY,
                 NULL);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_HOT_LEAD), 1);
        /* another lead: a demo request is hot at once */
        fx_event(&fx, "L2", "d3", "demo_request", T0 + 26 * HOUR + 7 * DAY,
                 NULL);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_HOT_LEAD), 1);
        fx_free(&fx);
}

static void test_duplicates(void **state) {
        fx_t fx;
        ls_shard_stats_t st;

        fx_init(&fx, basic_model);
        assert_int_equal(fx_event(&fx, "L1", "e1", "page_view", T0, "url",
                                  "/pricing", NULL),
                         LS_OK);
        assert_int_equal(fx_event(&fx, "L1", "e1", "page_view", T0 + 5, "url",
                                  "/pricing", NULL),
                         LS_ERR_DUPLICATE);
        assert_int_equal(fx.ob.n_outs, 0);
        assert_non_null(strstr(fx.err, "e1"));
        /* the same event id for another lead is not a duplicate */
        assert_int_equal(fx_event(&fx, "L2", "e1", "page_view", T0 + 6, "url",
                                  "/pricing", NULL),
                         LS_OK);
        assert_int_equal(fx.ob.n_outs, 1);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.duplicates, 1);
        fx_free(&fx);
}

static void test_dedupe_memory_is_bounded(void **state) {
        fx_t fx;
        char id[16];
        int i;

        fx_init(&fx, "dedupe: 4\nmodels:\n  - id: m\n    engagement:\n"
                     "      rules: [{id: page, event: page_view, points: "
                     "1}]\n" GRID);
        for (i = 0; i < 5; i++) {
                snprintf(id, sizeof(id), "e%d", i);
                assert_int_equal(
                        fx_event(&fx, "L1", id, "page_view", T0 + i, NULL),
                        LS_OK);
        }
        /* e4..e1 remembered, e0 forgotten */
        assert_int_equal(fx_event(&fx, "L1", "e1", "page_view", T0 + 9, NULL),
                         LS_ERR_DUPLICATE);
        assert_int_equal(fx_event(&fx, "L1", "e0", "page_view", T0 + 9, NULL),
                         LS_OK);
        fx_free(&fx);
}

static void test_out_of_order_and_late(void **state) {
        fx_t fx;
        const ls_output_t *o;

        fx_init(&fx, "lateness: 2h\nmodels:\n  - id: m\n    engagement:\n"
                     "      rules: [{id: page, event: page_view, points: "
                     "5}]\n" GRID);
        fx_event(&fx, "L1", "e1", "page_view", T0 + 3 * HOUR, NULL);
        /* 1 h behind stream time: applied, output as of the lead's time */
        assert_int_equal(
                fx_event(&fx, "L1", "e2", "page_view", T0 + 2 * HOUR, NULL),
                LS_OK);
        o = fx_out(&fx, 0);
        assert_int_equal(o->engagement, 10);
        assert_int_equal(o->time, T0 + 3 * HOUR);
        /* exactly at the lateness bound: still applied */
        assert_int_equal(
                fx_event(&fx, "L2", "e3", "page_view", T0 + 1 * HOUR, NULL),
                LS_OK);
        assert_int_equal(fx_out(&fx, 0)->time, T0 + 1 * HOUR);
        /* beyond: rejected with a reason, nothing changes */
        assert_int_equal(
                fx_event(&fx, "L1", "e4", "page_view", T0 + HOUR - 1, NULL),
                LS_ERR_LATE);
        assert_int_equal(fx.ob.n_outs, 0);
        assert_non_null(strstr(fx.err, "behind stream time"));
        assert_int_equal(ls_shard_stream_time(fx.sh), T0 + 3 * HOUR);
        /* a late duplicate is rejected as late, and is not remembered */
        fx_free(&fx);
}

/* Profiles are facts: never late, never moving the stream time; an update
 * older than the one applied to its lead is skipped as stale. */
static void test_profiles_are_facts(void **state) {
        fx_t fx;
        ls_buf_t img;
        ls_shard_t *copy;
        ls_shard_stats_t st;

        fx_init(&fx, strstr(fit_model, "models:"));
        ls_buf_init(&img);
        /* events first: stream time T0 + 10 days */
        assert_int_equal(
                fx_event(&fx, "L1", "d1", "demo_request", T0 + 10 * DAY, NULL),
                LS_OK);
        /* a CRM backfill dated 9 days behind (lateness 1h): applied */
        assert_int_equal(
                fx_profile(&fx, "L1", T0 + DAY, "industry", "SaaS", NULL),
                LS_OK);
        assert_int_equal(fx_out(&fx, 0)->fit, 25);
        /* as of the lead's clock, not the update's own time */
        assert_int_equal(fx_out(&fx, 0)->time, T0 + 10 * DAY);
        /* a profile dated ahead does not move the stream time ... */
        assert_int_equal(
                fx_profile(&fx, "L2", T0 + 20 * DAY, "industry", "SaaS", NULL),
                LS_OK);
        assert_int_equal(ls_shard_stream_time(fx.sh), T0 + 10 * DAY);
        /* ... so an event of another lead an hour behind is not late */
        assert_int_equal(fx_event(&fx, "L3", "d2", "demo_request",
                                  T0 + 10 * DAY - HOUR, NULL),
                         LS_OK);
        /* an update older than the applied one: stale, nothing changes */
        assert_int_equal(
                fx_profile(&fx, "L1", T0 + DAY - 1, "industry", "retail", NULL),
                LS_ERR_STALE);
        assert_int_equal(fx.ob.n_outs, 0);
        assert_non_null(strstr(fx.err, "older than the profile update"));
        /* an update with the same time applies */
        assert_int_equal(
                fx_profile(&fx, "L1", T0 + DAY, "title", "VP Sales", NULL),
                LS_OK);
        assert_int_equal(fx_out(&fx, 0)->fit, 45);
        /* the last update's time survives a snapshot */
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        copy = ls_shard_load(fx.ms, img.data, img.len, fx.err, sizeof(fx.err));
        assert_non_null(copy);
        ls_outbuf_reset(&fx.ob);
        {
                ls_input_t in = {.kind = LS_INPUT_PROFILE,
                                 .lead_id = "L1",
                                 .time = T0 + DAY - 1};
                assert_int_equal(ls_shard_apply(copy, &in, &fx.ob, fx.err,
                                                sizeof(fx.err)),
                                 LS_ERR_STALE);
        }
        ls_shard_stats(copy, &st);
        assert_int_equal(st.stale, 2); /* one before the snapshot */
        assert_int_equal(st.late, 0);
        ls_shard_destroy(copy);
        ls_buf_free(&img);
        fx_free(&fx);
}

/* An input dated more than max_future past its record's timestamp is
 * rejected and moves nothing; without a record timestamp it is not
 * checked. */
static void test_future_inputs_are_rejected(void **state) {
        fx_t fx;
        ls_input_t in = {.kind = LS_INPUT_EVENT,
                         .lead_id = "L1",
                         .event_id = "e1",
                         .event_type = "demo_request"};
        ls_shard_stats_t st;

        fx_init(&fx, "max_future: 10m\n"
                     "models:\n  - id: m\n    engagement:\n"
                     "      rules: [{id: demo, event: demo_request, points: "
                     "30}]\n" GRID);
        fx_event(&fx, "L0", "e0", "demo_request", T0, NULL);
        /* the year 3000, written at T0 */
        in.time = 32503680000000LL;
        in.record_time = T0;
        ls_outbuf_reset(&fx.ob);
        assert_int_equal(
                ls_shard_apply(fx.sh, &in, &fx.ob, fx.err, sizeof(fx.err)),
                LS_ERR_FUTURE);
        assert_non_null(strstr(fx.err, "past the record's timestamp"));
        assert_int_equal(fx.ob.n_outs, 0);
        assert_int_equal(ls_shard_stream_time(fx.sh), T0);
        /* exactly max_future ahead: applied */
        in.time = T0 + 10 * 60 * 1000;
        assert_int_equal(
                ls_shard_apply(fx.sh, &in, &fx.ob, fx.err, sizeof(fx.err)),
                LS_OK);
        /* a profile too */
        {
                ls_input_t pr = {.kind = LS_INPUT_PROFILE,
                                 .lead_id = "L1",
                                 .time = T0 + DAY,
                                 .record_time = T0};
                assert_int_equal(ls_shard_apply(fx.sh, &pr, &fx.ob, fx.err,
                                                sizeof(fx.err)),
                                 LS_ERR_FUTURE);
        }
        /* no record timestamp (a file): not checked */
        in.event_id = "e2";
        in.time = T0 + DAY;
        in.record_time = 0;
        assert_int_equal(
                ls_shard_apply(fx.sh, &in, &fx.ob, fx.err, sizeof(fx.err)),
                LS_OK);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.future, 2);
        fx_free(&fx);
}

/* The lead cap refuses new leads only, and changes nothing when it does;
 * a shard that holds more (restored under a larger cap) keeps them. */
static void test_lead_cap(void **state) {
        fx_t fx;
        ls_shard_stats_t st;

        fx_init(&fx, "models:\n  - id: m\n    engagement:\n"
                     "      rules: [{id: demo, event: demo_request, points: "
                     "30}]\n" GRID);
        fx_event(&fx, "L0", "e0", "demo_request", T0, NULL);
        ls_shard_set_max_leads(fx.sh, 2);
        assert_int_equal(
                fx_event(&fx, "L1", "e1", "demo_request", T0 + 1, NULL), LS_OK);
        /* a new lead: refused, and stream time stays */
        assert_int_equal(
                fx_event(&fx, "L2", "e2", "demo_request", T0 + DAY, NULL),
                LS_ERR_CAPACITY);
        assert_non_null(strstr(fx.err, "lead L2 is new"));
        assert_non_null(strstr(fx.err, "cap of 2 leads"));
        assert_non_null(strstr(fx.err, "max_leads"));
        assert_int_equal(fx.ob.n_outs, 0);
        assert_int_equal(ls_shard_stream_time(fx.sh), T0 + 1);
        /* a profile of a new lead too */
        {
                ls_input_t pr = {
                        .kind = LS_INPUT_PROFILE, .lead_id = "L3", .time = T0};
                assert_int_equal(ls_shard_apply(fx.sh, &pr, &fx.ob, fx.err,
                                                sizeof(fx.err)),
                                 LS_ERR_CAPACITY);
        }
        /* leads it holds go on */
        assert_int_equal(
                fx_event(&fx, "L0", "e3", "demo_request", T0 + 2, NULL), LS_OK);
        assert_int_equal(fx.ob.n_outs, 1);
        /* an event no model uses creates no lead: not refused */
        assert_int_equal(fx_event(&fx, "L4", "e4", "page_view", T0 + 3, NULL),
                         LS_OK);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.refused, 2);
        assert_int_equal(st.leads, 2);
        /* a lower cap keeps the leads held; a higher one admits L2 */
        ls_shard_set_max_leads(fx.sh, 1);
        assert_int_equal(
                fx_event(&fx, "L1", "e5", "demo_request", T0 + 4, NULL), LS_OK);
        ls_shard_set_max_leads(fx.sh, 3);
        assert_int_equal(
                fx_event(&fx, "L2", "e6", "demo_request", T0 + 5, NULL), LS_OK);
        assert_int_equal(fx.ob.outs[fx.ob.n_outs - 1].seq, 1);
        ls_shard_set_max_leads(fx.sh, 0);
        assert_int_equal(
                fx_event(&fx, "L5", "e7", "demo_request", T0 + 6, NULL), LS_OK);
        assert_true(ls_lead_bytes_estimate(fx.ms) > 64);
        /* leads with an output, counted as they happen */
        assert_int_equal(ls_shard_scored_leads(fx.sh, 0), 4);
        assert_int_equal(ls_shard_scored_leads(fx.sh, 1), 0);
        fx_free(&fx);
}

static void test_invalid_inputs(void **state) {
        fx_t fx;

        fx_init(&fx, basic_model);
        assert_int_equal(fx_event(&fx, "", "e1", "page_view", T0, NULL),
                         LS_ERR_INVALID);
        assert_string_equal(fx.err, "lead_id: missing or empty");
        assert_int_equal(fx_event(&fx, "L1", "e1", "", T0, NULL),
                         LS_ERR_INVALID);
        assert_string_equal(fx.err, "event_type: missing or empty");
        fx_free(&fx);
}

static const char *multi_model =
        "models:\n"
        "  - id: phone\n"
        "    products: [phone]\n"
        "    engagement:\n"
        "      rules: [{id: trial, event: trial_started, points: 20}]\n" GRID
        "  - id: office\n"
        "    products: [office]\n"
        "    engagement:\n"
        "      rules: [{id: trial, event: trial_started, points: 30}]\n" GRID
        "  - id: all\n"
        "    engagement:\n"
        "      rules: [{id: trial, event: trial_started, points: 1}]\n" GRID;

static void test_multiple_models(void **state) {
        fx_t fx;
        ls_lead_view_t v;

        fx_init(&fx, multi_model);
        fx_product_event(&fx, "L1", "e1", "trial_started", "phone", T0);
        assert_int_equal(fx.ob.n_outs, 2);
        assert_string_equal(fx_out(&fx, 0)->model->id, "phone");
        assert_int_equal(fx_out(&fx, 0)->engagement, 20);
        assert_string_equal(fx_out(&fx, 1)->model->id, "all");
        /* an event without a product: every model */
        fx_product_event(&fx, "L1", "e2", "trial_started", NULL, T0 + 1);
        assert_int_equal(fx.ob.n_outs, 3);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.engagement, 40);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 1, &v), LS_OK);
        assert_int_equal(v.engagement, 30);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 2, &v), LS_OK);
        assert_int_equal(v.engagement, 2);
        /* sequence numbers are per lead and model */
        assert_int_equal(v.seq, 2);
        fx_free(&fx);
}

static void test_model_version_on_outputs(void **state) {
        fx_t a, b;
        char id[128];

        fx_init(&a, basic_model);
        fx_init(&b, cap_model);
        fx_event(&a, "L1", "e1", "page_view", T0, "url", "/pricing", NULL);
        fx_event(&b, "L1", "o1", "email_open", T0, NULL);
        assert_int_equal(strlen(fx_out(&a, 0)->model->version),
                         LS_MODEL_VERSION_LEN);
        assert_string_not_equal(fx_out(&a, 0)->model->version,
                                fx_out(&b, 0)->model->version);
        ls_output_id(fx_out(&a, 0), id, sizeof(id));
        assert_string_equal(id, "L1/m/1");
        fx_free(&a);
        fx_free(&b);
}

/* snprintf's id of @p o into @p buf of @p size bytes (the format
 * ls_output_id() documents). */
static int fx_snprintf_id(const ls_output_t *o, char *buf, size_t size) {
        if (o->kind == LS_OUT_ALERT)
                return snprintf(buf, size, "%s/%s/%llu/%s", o->lead_id,
                                o->model->id, (unsigned long long)o->seq,
                                ls_alert_kind2str(o->alert));
        return snprintf(buf, size, "%s/%s/%llu", o->lead_id, o->model->id,
                        (unsigned long long)o->seq);
}

/* ls_output_id() puts the id together without snprintf: for every
 * buffer size it writes the bytes snprintf writes, no more, and returns
 * the length snprintf returns. */
static void test_output_id_as_snprintf(void **state) {
        static const uint64_t seqs[] = {0,         1, 9, 10, 99, 1000000007ULL,
                                        UINT64_MAX};
        static const char *leads[] = {
                "L1", "", "lead-with-a-rather-long-identifier@example.com"};
        /* score updates, then alerts of every kind (LS_ALERT_NONE too:
         * the kind of output, not of alert, adds the suffix) */
        static const struct {
                ls_output_kind_t kind;
                ls_alert_kind_t alert;
        } kinds[] = {{LS_OUT_SCORE_UPDATE, LS_ALERT_NONE},
                     {LS_OUT_SCORE_UPDATE, LS_ALERT_MQL},
                     {LS_OUT_ALERT, LS_ALERT_MQL},
                     {LS_OUT_ALERT, LS_ALERT_MQL_LOST},
                     {LS_OUT_ALERT, LS_ALERT_HOT_LEAD},
                     {LS_OUT_ALERT, LS_ALERT_NONE}};
        fx_t fx;
        ls_output_t o;
        ls_model_t longer;
        char want[512], got[512];
        size_t i, j, k, size;
        int n, checked = 0;

        fx_init(&fx, basic_model);
        fx_event(&fx, "L1", "e1", "page_view", T0, "url", "/pricing", NULL);
        o = *fx_out(&fx, 0);
        longer = *o.model;
        longer.id = "a-model-of-a-much-longer-id.v2";
        for (k = 0; k < 2 * sizeof(kinds) / sizeof(kinds[0]); k++)
                for (i = 0; i < sizeof(leads) / sizeof(leads[0]); i++)
                        for (j = 0; j < sizeof(seqs) / sizeof(seqs[0]); j++) {
                                size_t kk =
                                        k % (sizeof(kinds) / sizeof(kinds[0]));

                                o.kind = kinds[kk].kind;
                                o.alert = kinds[kk].alert;
                                o.model = k == kk ? fx_out(&fx, 0)->model
                                                  : &longer;
                                o.lead_id = leads[i];
                                o.seq = seqs[j];
                                n = fx_snprintf_id(&o, NULL, 0);
                                for (size = 0; size <= (size_t)n + 2; size++) {
                                        memset(want, 'x', sizeof(want));
                                        memset(got, 'x', sizeof(got));
                                        assert_int_equal(
                                                fx_snprintf_id(&o, want, size),
                                                n);
                                        assert_int_equal(
                                                ls_output_id(&o, got, size), n);
                                        assert_memory_equal(got, want,
                                                            sizeof(got));
                                        checked++;
                                }
                        }
        assert_true(checked > 1000);
        fx_free(&fx);
}

static void test_ignore_filter(void **state) {
        fx_t fx;
        ls_shard_stats_t st;

        fx_init(&fx, "ignore: [{field: user_agent, glob: \"*bot*\"}]\n"
                     "models:\n  - id: m\n    engagement:\n"
                     "      rules: [{id: click, event: email_click, points: "
                     "3}]\n" GRID);
        fx_event(&fx, "L1", "e1", "email_click", T0, "user_agent",
                 "SecurityScanBot/1.0", NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        fx_event(&fx, "L1", "e2", "email_click", T0, "user_agent",
                 "Mozilla/5.0", NULL);
        assert_int_equal(fx.ob.n_outs, 1);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.ignored, 1);
        fx_free(&fx);
}

/* Serialises every output field so that two runs can be compared. */
static void fx_dump(fx_t *fx, FILE *fp) {
        size_t i, k;

        for (i = 0; i < fx->ob.n_outs; i++) {
                const ls_output_t *o = &fx->ob.outs[i];
                char id[256];

                ls_output_id(o, id, sizeof(id));
                fprintf(fp, "%s %d %lld %d %d %d %d %s %d|", id, o->kind,
                        (long long)o->time, o->total, o->fit, o->engagement,
                        o->prev_total, o->cell, o->mql);
                for (k = 0; k < o->n_reasons; k++) {
                        const ls_reason_t *r = fx_reason(fx, o, k);

                        fprintf(fp, "%s:%d:%d,", r->rule_id, r->points,
                                r->capped);
                }
                fputc('\n', fp);
        }
}

static char *run_stream(const char *yaml, size_t *lenp) {
        fx_t fx;
        char *buf = NULL;
        FILE *fp = open_memstream(&buf, lenp);
        static const char *types[] = {"demo_request", "page_view",
                                      "demo_cancelled"};
        uint64_t x = 42;
        char lead[16], id[16];
        int i;

        fx_init(&fx, yaml);
        for (i = 0; i < 3000; i++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                snprintf(lead, sizeof(lead), "L%d", (int)((x >> 33) % 50));
                snprintf(id, sizeof(id), "e%d", i);
                fx_event(&fx, lead, id, types[(x >> 20) % 3],
                         T0 + (int64_t)i * 3 * HOUR, NULL);
                fx_dump(&fx, fp);
        }
        fx_advance(&fx, T0 + 3000LL * 3 * HOUR + 365 * DAY);
        fx_dump(&fx, fp);
        fx_free(&fx);
        fclose(fp);
        return buf;
}

static void test_determinism(void **state) {
        size_t la, lb;
        char *a = run_stream(mql_model, &la);
        char *b = run_stream(mql_model, &lb);

        assert_true(la > 1000);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
}

static void test_stats_bytes_per_lead(void **state) {
        fx_t fx;
        ls_shard_stats_t st;
        char lead[16];
        int i;

        fx_init(&fx, mql_model);
        for (i = 0; i < 10000; i++) {
                snprintf(lead, sizeof(lead), "lead-%d", i);
                fx_event(&fx, lead, "e", "page_view", T0 + i, NULL);
        }
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.leads, 10000);
        assert_int_equal(st.inputs, 10000);
        assert_true(st.lead_model_bytes > 0);
        assert_true(st.lead_model_bytes <= 192);
        assert_true(st.state_bytes >= st.leads * st.lead_model_bytes);
        assert_int_equal(st.timers, 10000);
        fx_free(&fx);
}

/* Feeds events [from, to) of a fixed pseudo-random stream into fx. */
static void feed(fx_t *fx, FILE *fp, int from, int to) {
        static const char *types[] = {"demo_request", "page_view",
                                      "demo_cancelled"};
        char lead[16], id[16];
        int i;

        for (i = from; i < to; i++) {
                uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL;

                x ^= x >> 29;
                snprintf(lead, sizeof(lead), "L%d", (int)(x % 40));
                snprintf(id, sizeof(id), "e%d", i);
                fx_event(fx, lead, id, types[(x >> 8) % 3],
                         T0 + (int64_t)i * 7 * HOUR, NULL);
                fx_dump(fx, fp);
        }
}

static void test_save_load_continues_identically(void **state) {
        fx_t a, b;
        ls_buf_t img;
        char *out_a = NULL, *out_b = NULL;
        size_t la, lb;
        FILE *fa = open_memstream(&out_a, &la);
        FILE *fb = open_memstream(&out_b, &lb);
        ls_shard_t *restored;

        /* a: uninterrupted; b: saved after 700 events and restored */
        fx_init(&a, mql_model);
        fx_init(&b, mql_model);
        feed(&a, fa, 0, 1500);
        feed(&b, fb, 0, 700);
        ls_buf_init(&img);
        assert_int_equal(ls_shard_save(b.sh, &img), LS_OK);
        restored = ls_shard_load(b.ms, img.data, img.len, b.err, sizeof(b.err));
        if (!restored)
                fail_msg("load: %s", b.err);
        {
                /* the restored shard's image equals the one it came from */
                ls_buf_t again;

                ls_buf_init(&again);
                assert_int_equal(ls_shard_save(restored, &again), LS_OK);
                assert_int_equal(again.len, img.len);
                assert_memory_equal(again.data, img.data, img.len);
                ls_buf_free(&again);
        }
        ls_shard_destroy(b.sh);
        b.sh = restored;
        feed(&b, fb, 700, 1500);
        fclose(fa);
        fclose(fb);
        assert_true(la > 10000);
        assert_int_equal(la, lb);
        assert_memory_equal(out_a, out_b, la);
        /* and a second image of both is byte-identical */
        {
                ls_buf_t ia, ib;

                ls_buf_init(&ia);
                ls_buf_init(&ib);
                ls_shard_save(a.sh, &ia);
                ls_shard_save(b.sh, &ib);
                assert_int_equal(ia.len, ib.len);
                assert_memory_equal(ia.data, ib.data, ia.len);
                ls_buf_free(&ia);
                ls_buf_free(&ib);
        }
        free(out_a);
        free(out_b);
        ls_buf_free(&img);
        fx_free(&a);
        fx_free(&b);
}

static void test_load_rejects_corruption(void **state) {
        fx_t fx, other;
        ls_buf_t img;
        ls_shard_t *sh;
        size_t cut, i;
        FILE *devnull = fopen("/dev/null", "w");

        fx_init(&fx, mql_model);
        feed(&fx, devnull, 0, 200);
        ls_buf_init(&img);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        /* every truncation is an error, never a crash */
        for (cut = 0; cut < img.len; cut++) {
                sh = ls_shard_load(fx.ms, img.data, cut, fx.err,
                                   sizeof(fx.err));
                assert_null(sh);
                assert_non_null(strstr(fx.err, "offset"));
        }
        /* trailing garbage */
        {
                char *big = malloc(img.len + 3);

                memcpy(big, img.data, img.len);
                memset(big + img.len, 0x55, 3);
                assert_null(ls_shard_load(fx.ms, big, img.len + 3, fx.err,
                                          sizeof(fx.err)));
                assert_non_null(strstr(fx.err, "unexpected bytes"));
                free(big);
        }
        /* bit flips: rejected, or loaded into a state the engine computes
         * with without undefined behaviour (UBSan runs these tests) */
        for (i = 0; i < img.len; i += 7) {
                img.data[i] ^= 0x40;
                sh = ls_shard_load(fx.ms, img.data, img.len, fx.err,
                                   sizeof(fx.err));
                if (sh) {
                        ls_input_t in = {.kind = LS_INPUT_EVENT,
                                         .lead_id = "L1",
                                         .event_id = "flip",
                                         .event_type = "demo_request",
                                         .time = T0 + 400 * DAY};
                        ls_outbuf_reset(&fx.ob);
                        ls_shard_apply(sh, &in, &fx.ob, fx.err, sizeof(fx.err));
                        ls_outbuf_reset(&fx.ob);
                        assert_int_equal(
                                ls_shard_advance(sh, T0 + 800 * DAY, &fx.ob),
                                LS_OK);
                }
                ls_shard_destroy(sh);
                img.data[i] ^= 0x40;
        }
        /* a valid layout with absurd values: each named */
        {
                const int64_t absurd = 32503680000000000LL; /* > 9999 AD */
                size_t st_at = 4 + 4 + LS_MODEL_VERSION_LEN + 3 * 4;
                size_t lead_at = st_at + 8 + 12 * 8 + 8; /* 12 counters */
                uint32_t klen;
                int64_t keep;

                memcpy(&keep, img.data + st_at, 8);
                memcpy(img.data + st_at, &absurd, 8);
                assert_null(ls_shard_load(fx.ms, img.data, img.len, fx.err,
                                          sizeof(fx.err)));
                assert_non_null(strstr(fx.err, "stream time"));
                assert_non_null(strstr(fx.err, "out of range"));
                memcpy(img.data + st_at, &keep, 8);
                memcpy(&klen, img.data + lead_at, 4);
                lead_at += 4 + klen; /* the first lead's block: its clock */
                memcpy(&keep, img.data + lead_at, 8);
                memcpy(img.data + lead_at, &absurd, 8);
                assert_null(ls_shard_load(fx.ms, img.data, img.len, fx.err,
                                          sizeof(fx.err)));
                assert_non_null(strstr(fx.err, "lead clock out of range"));
                memcpy(img.data + lead_at, &keep, 8);
                sh = ls_shard_load(fx.ms, img.data, img.len, fx.err,
                                   sizeof(fx.err));
                assert_non_null(sh);
                ls_shard_destroy(sh);
        }
        /* another model set */
        fx_init(&other, basic_model);
        assert_null(ls_shard_load(other.ms, img.data, img.len, fx.err,
                                  sizeof(fx.err)));
        assert_non_null(strstr(fx.err, "model set version"));
        fx_free(&other);
        ls_buf_free(&img);
        fx_free(&fx);
        fclose(devnull);
}

static void test_migrate_to_equal_model_continues_identically(void **state) {
        fx_t a, b;
        ls_modelset_t *ms2;
        ls_shard_t *migrated;
        char *out_a = NULL, *out_b = NULL;
        size_t la, lb;
        FILE *fa = open_memstream(&out_a, &la);
        FILE *fb = open_memstream(&out_b, &lb);

        fx_init(&a, mql_model);
        fx_init(&b, mql_model);
        feed(&a, fa, 0, 1500);
        feed(&b, fb, 0, 700);
        assert_int_equal(ls_modelset_load_string(mql_model, strlen(mql_model),
                                                 "again.yaml", NULL, &ms2,
                                                 b.err, sizeof(b.err)),
                         LS_OK);
        migrated = ls_shard_migrate(b.sh, ms2, b.err, sizeof(b.err));
        assert_non_null(migrated);
        ls_shard_destroy(b.sh);
        ls_modelset_destroy(b.ms);
        b.sh = migrated;
        b.ms = ms2;
        feed(&b, fb, 700, 1500);
        fclose(fa);
        fclose(fb);
        assert_int_equal(la, lb);
        assert_memory_equal(out_a, out_b, la);
        free(out_a);
        free(out_b);
        fx_free(&a);
        fx_free(&b);
}

static void test_migrate_to_changed_model(void **state) {
        static const char *v1 =
                "models:\n"
                "  - id: m\n"
                "    fit:\n"
                "      rules: [{id: saas, attribute: industry, equals: saas, "
                "points: 25},\n"
                "              {id: big, attribute: employees, range: {min: "
                "100}, points: 10}]\n"
                "    engagement:\n"
                "      rules: [{id: page, event: page_view, points: 5}]\n" GRID
                "    mql: {enter: {min_total: 45}}\n";
        static const char *v2 =
                "models:\n"
                "  - id: m\n"
                "    fit:\n"
                "      rules: [{id: saas, attribute: industry, equals: saas, "
                "points: 30}]\n"
                "    engagement:\n"
                "      rules: [{id: page, event: page_view, points: 8}]\n" GRID
                "    mql: {enter: {min_total: 45}}\n"
                "  - id: fresh\n"
                "    engagement:\n"
                "      rules: [{id: page, event: page_view, points: 1}]\n" GRID;
        fx_t fx;
        ls_modelset_t *ms2;
        ls_shard_t *migrated;
        const ls_output_t *o;
        ls_lead_view_t v;

        fx_init(&fx, v1);
        fx_profile(&fx, "L1", T0, "industry", "saas", "employees", "500", NULL);
        fx_event(&fx, "L1", "p1", "page_view", T0 + 1, NULL);
        fx_event(&fx, "L1", "p2", "page_view", T0 + 2, NULL); /* 35 + 10 */
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 1);
        assert_int_equal(ls_modelset_load_string(v2, strlen(v2), "v2.yaml",
                                                 NULL, &ms2, fx.err,
                                                 sizeof(fx.err)),
                         LS_OK);
        migrated = ls_shard_migrate(fx.sh, ms2, fx.err, sizeof(fx.err));
        assert_non_null(migrated);
        ls_shard_destroy(fx.sh);
        ls_modelset_destroy(fx.ms);
        fx.sh = migrated;
        fx.ms = ms2;
        /* fit: `saas` kept with its new points, `big` gone; engagement
         * kept; MQL status kept, so no second mql alert */
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.fit, 30);
        assert_int_equal(v.engagement, 10);
        assert_true(v.mql);
        assert_int_equal(v.seq, 4);
        /* a replayed event id is still a duplicate */
        assert_int_equal(fx_event(&fx, "L1", "p2", "page_view", T0 + 3, NULL),
                         LS_ERR_DUPLICATE);
        fx_event(&fx, "L1", "p3", "page_view", T0 + 3, NULL);
        o = fx_out(&fx, 0);
        assert_string_equal(o->model->id, "m");
        assert_string_equal(o->model->version, ms2->models[0].version);
        assert_int_equal(o->seq, 5); /* ids do not repeat */
        assert_int_equal(o->total, 48);
        assert_int_equal(fx_count_alerts(&fx, LS_ALERT_MQL), 0);
        /* the model new to the set starts fresh */
        o = fx_out(&fx, 1);
        assert_string_equal(o->model->id, "fresh");
        assert_int_equal(o->seq, 1);
        assert_int_equal(o->engagement, 1);
        fx_free(&fx);
}

/* Regressions found in review: each of these failed before its fix. */

static ls_shard_t *migrate_to(fx_t *fx, const char *yaml) {
        ls_modelset_t *ms2;
        ls_shard_t *sh;

        assert_int_equal(ls_modelset_load_string(yaml, strlen(yaml), "v2.yaml",
                                                 NULL, &ms2, fx->err,
                                                 sizeof(fx->err)),
                         LS_OK);
        sh = ls_shard_migrate(fx->sh, ms2, fx->err, sizeof(fx->err));
        assert_non_null(sh);
        ls_shard_destroy(fx->sh);
        ls_modelset_destroy(fx->ms);
        fx->sh = sh;
        fx->ms = ms2;
        return sh;
}

static void test_migrate_cap_with_other_window_starts_fresh(void **state) {
        fx_t fx;
        ls_lead_view_t v;

        fx_init(&fx, "models:\n  - id: m\n    engagement:\n"
                     "      rules: [{id: r, event: demo_request, points: 10,"
                     " cap: {points: 10, per: 1h}}]\n" GRID);
        fx_event(&fx, "L1", "e1", "demo_request", T0, NULL);
        migrate_to(&fx, "models:\n  - id: m\n    engagement:\n"
                        "      rules: [{id: r, event: demo_request, points: 10,"
                        " cap: {points: 10, per: 1d}}]\n" GRID);
        fx_event(&fx, "L1", "e2", "demo_request", T0 + 2 * DAY, NULL);
        fx_event(&fx, "L1", "e3", "demo_request", T0 + 3 * DAY, NULL);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.engagement, 30);
        fx_free(&fx);
}

static void test_withheld_award_uses_no_cap(void **state) {
        fx_t fx;
        ls_lead_view_t v;

        fx_init(&fx, "models:\n  - id: m\n    engagement:\n"
                     "      categories: {email: {cap: {count: 2}}}\n"
                     "      rules:\n"
                     "        - {id: open, event: email_open, points: 5,"
                     " category: email, cap: {count: 1}}\n"
                     "        - {id: click, event: email_click, points: 7,"
                     " category: email}\n" GRID);
        fx_event(&fx, "L1", "o1", "email_open", T0, NULL);
        fx_event(&fx, "L1", "o2", "email_open", T0 + 1, NULL); /* withheld */
        fx_event(&fx, "L1", "c1", "email_click", T0 + 2, NULL);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.engagement, 12);
        fx_free(&fx);
}

static void test_count_cap_with_huge_points(void **state) {
        fx_t fx;
        ls_lead_view_t v;

        fx_init(&fx, "models:\n  - id: m\n    engagement:\n"
                     "      rules: [{id: r, event: demo_request,"
                     " points: 2000000000, cap: {count: 3}}]\n" GRID);
        fx_event(&fx, "L1", "e1", "demo_request", T0, NULL);
        fx_event(&fx, "L1", "e2", "demo_request", T0 + 1, NULL);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.engagement, INT32_MAX);
        fx_free(&fx);
}

static void test_half_life_with_fine_ticks_still_decays(void **state) {
        fx_t fx;
        ls_lead_view_t v;
        ls_shard_stats_t st;

        fx_init(&fx, "models:\n  - id: m\n    engagement:\n"
                     "      rules: [{id: r, event: demo_request, points: 1}]\n"
                     "      decay: {half_life: 90d, tick: 1m}\n" GRID);
        fx_event(&fx, "L1", "e1", "demo_request", T0, NULL);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.timers, 1);
        fx_advance(&fx, T0 + 400 * DAY);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.engagement, 0);
        /* 1 * 0.5^(n / 129600) < 0.5 first at n = 129601 minutes */
        assert_int_equal(fx_out(&fx, 0)->time, T0 + 129601LL * 60000);
        fx_free(&fx);
}

static void test_negative_engagement_has_no_timer(void **state) {
        fx_t fx;
        ls_shard_stats_t st;
        ls_lead_view_t v;

        fx_init(&fx,
                "models:\n  - id: m\n    engagement:\n"
                "      floor: -100\n"
                "      rules: [{id: r, event: demo_cancelled, points: -5}]\n"
                "      decay: {half_life: 10d}\n" GRID);
        fx_event(&fx, "L1", "e1", "demo_cancelled", T0, NULL);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.timers, 0);
        fx_advance(&fx, T0 + 100 * DAY);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.engagement, -5);
        fx_free(&fx);
}

static void test_negated_fit_rule_holds_for_new_leads(void **state) {
        fx_t fx;
        ls_lead_view_t a, b;

        fx_init(&fx, "models:\n  - id: m\n"
                     "    fit:\n      rules:\n"
                     "        - {id: nomail, attribute: email, exists: true,"
                     " not: true, points: -3}\n"
                     "        - {id: sw, attribute: industry, equals: software,"
                     " points: 20}\n"
                     "    engagement:\n"
                     "      rules: [{id: r, event: demo_request, points: "
                     "5}]\n" GRID);
        fx_event(&fx, "L0", "e1", "demo_request", T0, NULL);
        assert_int_equal(fx_out(&fx, 0)->fit, -3);
        fx_profile(&fx, "L1", T0 + 1, "industry", "software", NULL);
        fx_profile(&fx, "L2", T0 + 2, "industry", "software", "email", "",
                   NULL);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &a), LS_OK);
        assert_int_equal(ls_shard_lead(fx.sh, "L2", 0, &b), LS_OK);
        assert_int_equal(a.fit, 17);
        assert_int_equal(b.fit, 17);
        fx_profile(&fx, "L1", T0 + 3, "email", "x@acme.io", NULL);
        assert_int_equal(fx_out(&fx, 0)->fit, 20);
        fx_free(&fx);
}

static void test_outputs_counter_survives_save_load(void **state) {
        fx_t fx;
        ls_buf_t img;
        ls_shard_t *sh;
        ls_shard_stats_t before, after;
        FILE *devnull = fopen("/dev/null", "w");

        fx_init(&fx, mql_model);
        feed(&fx, devnull, 0, 300);
        ls_shard_stats(fx.sh, &before);
        ls_buf_init(&img);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        sh = ls_shard_load(fx.ms, img.data, img.len, fx.err, sizeof(fx.err));
        assert_non_null(sh);
        ls_shard_stats(sh, &after);
        assert_true(before.outputs > 0);
        assert_int_equal(after.outputs, before.outputs);
        assert_int_equal(after.inputs, before.inputs);
        ls_shard_destroy(sh);
        ls_buf_free(&img);
        fx_free(&fx);
        fclose(devnull);
}

static void test_migrate_drops_mql_when_model_has_none(void **state) {
        fx_t fx;
        ls_lead_view_t v;

        fx_init(&fx, mql_model);
        fx_event(&fx, "L1", "d1", "demo_request", T0, NULL);
        fx_event(&fx, "L1", "d2", "demo_request", T0 + 1, NULL);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_true(v.mql);
        migrate_to(&fx, "models:\n  - id: m\n    engagement:\n"
                        "      rules: [{id: demo, event: demo_request,"
                        " points: 30}]\n" GRID);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_false(v.mql);
        fx_event(&fx, "L1", "d3", "demo_request", T0 + 2, NULL);
        assert_false(fx_out(&fx, 0)->mql);
        fx_free(&fx);
}

static void test_time_out_of_range_is_invalid(void **state) {
        fx_t fx;

        fx_init(&fx, basic_model);
        assert_int_equal(fx_event(&fx, "L1", "e1", "page_view", -1, NULL),
                         LS_ERR_INVALID);
        assert_non_null(strstr(fx.err, "occurred_at"));
        assert_int_equal(
                fx_event(&fx, "L1", "e2", "page_view", INT64_MIN + 5, NULL),
                LS_ERR_INVALID);
        assert_int_equal(fx_profile(&fx, "L1", 253402300800000LL, NULL),
                         LS_ERR_INVALID);
        assert_non_null(strstr(fx.err, "updated_at"));
        fx_free(&fx);
}

static int count_mql(const char *lead_id, const ls_lead_view_t *v,
                     void *opaque) {
        (*(int *)opaque) += v->mql;
        return 0;
}

static void test_foreach_lead(void **state) {
        fx_t fx;
        int mqls = 0;

        fx_init(&fx, mql_model);
        fx_event(&fx, "L1", "d1", "demo_request", T0, NULL);
        fx_event(&fx, "L1", "d2", "demo_request", T0 + 1, NULL); /* 60: MQL */
        fx_event(&fx, "L2", "d3", "demo_request", T0 + 2, NULL);
        ls_shard_foreach_lead(fx.sh, 0, count_mql, &mqls);
        assert_int_equal(mqls, 1);
        fx_free(&fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rule_points_and_repeats),
                cmocka_unit_test(test_negative_points_and_floor),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_total_cap_reason),
                cmocka_unit_test(test_step_decay_timers),
                cmocka_unit_test(test_step_decay_on_next_event),
                cmocka_unit_test(test_half_life_decay),
                cmocka_unit_test(test_fit_rules_and_partial_profiles),
                cmocka_unit_test(test_mql_hysteresis),
                cmocka_unit_test(test_mql_grid_condition),
                cmocka_unit_test(test_hot_lead),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_dedupe_memory_is_bounded),
                cmocka_unit_test(test_out_of_order_and_late),
                cmocka_unit_test(test_invalid_inputs),
                cmocka_unit_test(test_multiple_models),
                cmocka_unit_test(test_model_version_on_outputs),
                cmocka_unit_test(test_ignore_filter),
                cmocka_unit_test(test_determinism),
                cmocka_unit_test(test_stats_bytes_per_lead),
                cmocka_unit_test(test_save_load_continues_identically),
                cmocka_unit_test(test_load_rejects_corruption),
                cmocka_unit_test(test_foreach_lead),
                cmocka_unit_test(
                        test_migrate_to_equal_model_continues_identically),
                cmocka_unit_test(test_migrate_to_changed_model),
                cmocka_unit_test(
                        test_migrate_cap_with_other_window_starts_fresh),
                cmocka_unit_test(test_withheld_award_uses_no_cap),
                cmocka_unit_test(test_count_cap_with_huge_points),
                cmocka_unit_test(test_half_life_with_fine_ticks_still_decays),
                cmocka_unit_test(test_negative_engagement_has_no_timer),
                cmocka_unit_test(test_negated_fit_rule_holds_for_new_leads),
                cmocka_unit_test(test_outputs_counter_survives_save_load),
                cmocka_unit_test(test_migrate_drops_mql_when_model_has_none),
                cmocka_unit_test(test_time_out_of_range_is_invalid),
                cmocka_unit_test(test_profiles_are_facts),
                cmocka_unit_test(test_future_inputs_are_rejected),
                cmocka_unit_test(test_lead_cap),
                cmocka_unit_test(test_output_id_as_snprintf),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
