/*
 * test_suppress.c - behavioural suppression (docs/MODEL.md `suppress`,
 * docs/SEMANTICS.md "Suppression"): bursts, also recognised late with a
 * corrective update, clicks without an open, scanner user agents and IP
 * ranges, counters, snapshots mid-burst, old images, migration, and the
 * section's errors.
 *
 * Models with lists are loaded from an in-memory source
 * (ls_modelset_load_source), so no list file is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ls_engine_int.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"

#include "image_fixture.h"

#define DAY (24LL * 3600 * 1000)
#define HOUR (3600LL * 1000)
#define T0 (1767225600000LL) /* 2026-01-01T00:00:00Z */

#define GRID                                                                   \
        "    grades: [{name: A, min: 40}, {name: D}]\n"                        \
        "    bands: [{name: cold}, {name: warm, min: 5}, {name: hot, min: "    \
        "50}]\n"

#define RULES                                                                  \
        "models:\n"                                                            \
        "  - id: m\n"                                                          \
        "    engagement:\n"                                                    \
        "      rules:\n"                                                       \
        "        - {id: click, event: email_click, points: 2}\n"               \
        "        - {id: page, event: page_view, points: 3}\n" GRID

static const char *no_suppress_model = RULES;

static const char *burst3_model =
        "suppress:\n"
        "  - id: click_burst\n"
        "    burst: {events: [email_click], count: 3, within: 2s}\n" RULES;

static const char *burst5_model =
        "suppress:\n"
        "  - id: click_burst\n"
        "    burst: {events: [email_click], count: 5, within: 2s}\n" RULES;

typedef struct fx_s {
        ls_modelset_t *ms;
        ls_shard_t *sh;
        ls_outbuf_t ob;
        char err[512];
} fx_t;

/* A model set source (ls_modelset_source() layout) with list files. */
static void src_put(ls_buf_t *b, const char *s, size_t n) {
        uint32_t u = (uint32_t)n;

        ls_buf_append(b, &u, sizeof(u));
        ls_buf_append(b, s, n);
}

static ls_err_t load_with_lists(const char *yaml, const char *const *lists,
                                ls_modelset_t **msp, char *err, size_t size) {
        ls_buf_t b;
        uint32_t n = 0;
        ls_err_t e;

        while (lists && lists[2 * n])
                n++;
        ls_buf_init(&b);
        src_put(&b, yaml, strlen(yaml));
        ls_buf_append(&b, &n, sizeof(n));
        for (uint32_t i = 0; i < n; i++) {
                src_put(&b, lists[2 * i], strlen(lists[2 * i]));
                src_put(&b, lists[2 * i + 1], strlen(lists[2 * i + 1]));
        }
        e = ls_modelset_load_source(b.data, b.len, "t.yaml", msp, err, size);
        ls_buf_free(&b);
        return e;
}

static void fx_init_lists(fx_t *fx, const char *yaml,
                          const char *const *lists) {
        memset(fx, 0, sizeof(*fx));
        if (load_with_lists(yaml, lists, &fx->ms, fx->err, sizeof(fx->err)))
                fail_msg("model: %s", fx->err);
        fx->sh = ls_shard_new(fx->ms);
        assert_non_null(fx->sh);
        ls_outbuf_init(&fx->ob);
}

static void fx_init(fx_t *fx, const char *yaml) {
        fx_init_lists(fx, yaml, NULL);
}

static void fx_free(fx_t *fx) {
        ls_outbuf_free(&fx->ob);
        ls_shard_destroy(fx->sh);
        ls_modelset_destroy(fx->ms);
}

static void fx_check(fx_t *fx) {
        char why[512];

        if (ls_shard_check(fx->sh, why, sizeof(why)) != LS_OK)
                fail_msg("invariant: %s", why);
}

/* Applies an event with NULL-terminated key, value pairs of properties;
 * the outputs stay in fx->ob. */
static ls_err_t fx_event(fx_t *fx, const char *lead, const char *id,
                         const char *type, int64_t t, ...) {
        ls_input_t in = {.kind = LS_INPUT_EVENT,
                         .lead_id = lead,
                         .event_id = id,
                         .event_type = type,
                         .time = t};
        ls_kv_t kv[8];
        const char *k;
        size_t n = 0;
        ls_err_t err;
        va_list ap;

        va_start(ap, t);
        while ((k = va_arg(ap, const char *)) != NULL && n < 8) {
                kv[n].key = k;
                kv[n].value = va_arg(ap, const char *);
                n++;
        }
        va_end(ap);
        in.fields = kv;
        in.n_fields = n;
        ls_outbuf_reset(&fx->ob);
        err = ls_shard_apply(fx->sh, &in, &fx->ob, fx->err, sizeof(fx->err));
        fx_check(fx);
        return err;
}

static int32_t fx_engagement(fx_t *fx, const char *lead) {
        ls_lead_view_t v;

        if (ls_shard_lead(fx->sh, lead, 0, &v) != LS_OK)
                return -1;
        return v.engagement;
}

/* Appends every output of fx->ob to @p fp, one line each. */
static void fx_print(fx_t *fx, FILE *fp) {
        size_t i, k;

        for (i = 0; i < fx->ob.n_outs; i++) {
                const ls_output_t *o = &fx->ob.outs[i];
                char id[256];

                ls_output_id(o, id, sizeof(id));
                fprintf(fp, "%s %s %s %lld %s/%s e=%d t=%d p=%d %s mql=%d", id,
                        ls_output_kind2str(o->kind),
                        ls_alert_kind2str(o->alert), (long long)o->time,
                        ls_cause2str(o->cause), o->cause_id ? o->cause_id : "-",
                        (int)o->engagement, (int)o->total, (int)o->prev_total,
                        o->cell, o->mql);
                for (k = 0; k < o->n_reasons; k++) {
                        const ls_reason_t *r =
                                &ls_output_reasons(&fx->ob, o)[k];

                        fprintf(fp, " [%s %s %d %d]",
                                ls_reason_kind2str(r->kind), r->rule_id,
                                (int)r->points, (int)r->capped);
                }
                fputc('\n', fp);
        }
}

/* Eight clicks for L1 within 840 ms, no open before them. */
static void eight_clicks(fx_t *fx, int64_t t0, FILE *fp) {
        char id[32];
        int i;

        for (i = 0; i < 8; i++) {
                snprintf(id, sizeof(id), "c%d", i);
                assert_int_equal(fx_event(fx, "L1", id, "email_click",
                                          t0 + i * 120, "message_id", "m1",
                                          NULL),
                                 LS_OK);
                if (fp)
                        fx_print(fx, fp);
        }
}

static void test_burst_recognised_late_is_reversed(void **state) {
        fx_t fx;
        const ls_output_t *o;
        const ls_reason_t *r;
        ls_shard_stats_t st;

        (void)state;
        /* without suppression: 8 x 2 points */
        fx_init(&fx, no_suppress_model);
        eight_clicks(&fx, T0, NULL);
        assert_int_equal(fx_engagement(&fx, "L1"), 16);
        fx_free(&fx);

        fx_init(&fx, burst3_model);
        assert_int_equal(fx_event(&fx, "L1", "c0", "email_click", T0, NULL),
                         LS_OK);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx.ob.outs[0].engagement, 2);
        assert_int_equal(
                fx_event(&fx, "L1", "c1", "email_click", T0 + 120, NULL),
                LS_OK);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx.ob.outs[0].engagement, 4);
        /* the third click within 2 s completes the burst: both earlier
         * clicks are taken back, the third scores nothing */
        assert_int_equal(
                fx_event(&fx, "L1", "c2", "email_click", T0 + 240, NULL),
                LS_OK);
        assert_int_equal(fx.ob.n_outs, 1);
        o = &fx.ob.outs[0];
        assert_int_equal(o->kind, LS_OUT_SCORE_UPDATE);
        assert_int_equal(o->cause, LS_CAUSE_SUPPRESSED);
        assert_string_equal(o->cause_id, "c2");
        assert_int_equal(o->engagement, 0);
        assert_int_equal(o->prev_total, 4);
        assert_int_equal(o->seq, 3);
        assert_int_equal(o->time, T0 + 240);
        assert_int_equal(o->n_reasons, 1);
        r = &ls_output_reasons(&fx.ob, o)[0];
        assert_int_equal(r->kind, LS_REASON_SUPPRESSED);
        assert_string_equal(r->rule_id, "click_burst");
        assert_int_equal(r->points, -4);
        /* the rest of the burst: nothing */
        for (int i = 3; i < 8; i++) {
                char id[8];

                snprintf(id, sizeof(id), "c%d", i);
                assert_int_equal(fx_event(&fx, "L1", id, "email_click",
                                          T0 + i * 120, NULL),
                                 LS_OK);
                assert_int_equal(fx.ob.n_outs, 0);
        }
        assert_int_equal(fx_engagement(&fx, "L1"), 0);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.suppressed_burst, 6);
        assert_int_equal(st.reversed, 2);
        assert_int_equal(st.suppressed_unopened + st.suppressed_match, 0);
        /* a lone click long after the burst scores again */
        assert_int_equal(
                fx_event(&fx, "L1", "c9", "email_click", T0 + HOUR, NULL),
                LS_OK);
        assert_int_equal(fx_engagement(&fx, "L1"), 2);
        fx_free(&fx);

        /* recognised at the 5th click: four clicks taken back at once */
        fx_init(&fx, burst5_model);
        eight_clicks(&fx, T0, NULL);
        assert_int_equal(fx_engagement(&fx, "L1"), 0);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.suppressed_burst, 4);
        assert_int_equal(st.reversed, 4);
        fx_free(&fx);
}

/* Clicks spread out enough are no burst. */
static void test_burst_window(void **state) {
        fx_t fx;

        (void)state;
        fx_init(&fx, burst3_model);
        /* 3 clicks over 2 s: the first is 2000 ms before the third, not
         * within (the window is (t - 2s, t]) */
        fx_event(&fx, "L1", "a", "email_click", T0, NULL);
        fx_event(&fx, "L1", "b", "email_click", T0 + 1000, NULL);
        fx_event(&fx, "L1", "c", "email_click", T0 + 2000, NULL);
        assert_int_equal(fx_engagement(&fx, "L1"), 6);
        /* the 4th within 2 s of b and c: a burst of b, c, d; a stays */
        fx_event(&fx, "L1", "d", "email_click", T0 + 2100, NULL);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx.ob.outs[0].cause, LS_CAUSE_SUPPRESSED);
        assert_int_equal(fx_engagement(&fx, "L1"), 2);
        /* a page view is not counted by the burst and always scores */
        fx_event(&fx, "L1", "p", "page_view", T0 + 2150, NULL);
        assert_int_equal(fx_engagement(&fx, "L1"), 5);
        fx_free(&fx);
}

/* Caps, decay and the hot-lead window are as if the burst never was. */
static void test_burst_restores_caps_decay_and_hot(void **state) {
        static const char *model =
                "suppress:\n"
                "  - id: click_burst\n"
                "    burst: {events: [email_click], count: 3, within: 2s}\n"
                "models:\n"
                "  - id: m\n"
                "    engagement:\n"
                "      rules:\n"
                "        - {id: click, event: email_click, points: 2,\n"
                "           cap: {points: 4, per: 1d}}\n"
                "        - {id: page, event: page_view, points: 3}\n"
                "      decay:\n"
                "        steps: [{after: 30d, points: -1}, {after: 60d, "
                "points: -1}]\n"
                "    hot: {points: 5, within: 1h}\n" GRID;
        static const char *plain = "models:\n"
                                   "  - id: m\n"
                                   "    engagement:\n"
                                   "      rules:\n"
                                   "        - {id: click, event: email_click, "
                                   "points: 2,\n"
                                   "           cap: {points: 4, per: 1d}}\n"
                                   "        - {id: page, event: page_view, "
                                   "points: 3}\n"
                                   "      decay:\n"
                                   "        steps: [{after: 30d, points: -1}, "
                                   "{after: 60d, points: -1}]\n"
                                   "    hot: {points: 5, within: 1h}\n" GRID;
        fx_t a, b;
        int64_t t;
        size_t i, hot = 0;

        (void)state;
        fx_init(&a, model); /* page view, a scanner burst, real clicks */
        fx_init(&b, plain); /* page view, the real clicks */
        fx_event(&a, "L1", "p", "page_view", T0, NULL);
        fx_event(&b, "L1", "p", "page_view", T0, NULL);
        t = T0 + 10 * DAY;
        fx_event(&a, "L1", "s1", "email_click", t, NULL);
        fx_event(&a, "L1", "s2", "email_click", t + 100, NULL);
        assert_int_equal(fx_engagement(&a, "L1"), 7); /* the cap is full */
        fx_event(&a, "L1", "s3", "email_click", t + 200, NULL);
        assert_int_equal(a.ob.n_outs, 1);
        assert_int_equal(a.ob.outs[0].engagement, 3);
        /* the same UTC day: the scanner used none of the cap (4 a day),
         * two real clicks get 2 + 2, a third nothing, as without it */
        for (i = 1; i <= 3; i++) {
                char id[8];

                snprintf(id, sizeof(id), "r%zu", i);
                fx_event(&a, "L1", id, "email_click",
                         t + HOUR + (int64_t)i * 5000, NULL);
                fx_event(&b, "L1", id, "email_click",
                         t + HOUR + (int64_t)i * 5000, NULL);
                assert_int_equal(fx_engagement(&a, "L1"),
                                 fx_engagement(&b, "L1"));
        }
        assert_int_equal(fx_engagement(&a, "L1"), 7);
        /* and decay runs the same from there on */
        ls_outbuf_reset(&a.ob);
        ls_outbuf_reset(&b.ob);
        assert_int_equal(ls_shard_advance(a.sh, T0 + 400 * DAY, &a.ob), LS_OK);
        assert_int_equal(ls_shard_advance(b.sh, T0 + 400 * DAY, &b.ob), LS_OK);
        assert_int_equal(a.ob.n_outs, b.ob.n_outs);
        assert_int_equal(fx_engagement(&a, "L1"), 5);
        assert_int_equal(fx_engagement(&b, "L1"), 5);
        fx_free(&a);
        fx_free(&b);

        /* hot ring: two scored clicks, then the burst takes them out of
         * the window: a page view (+3) no longer makes 2 + 2 + 3 >= 5 */
        fx_init(&a, model);
        fx_event(&a, "L1", "s1", "email_click", T0, NULL);
        fx_event(&a, "L1", "s2", "email_click", T0 + 100, NULL);
        fx_event(&a, "L1", "s3", "email_click", T0 + 200, NULL);
        fx_event(&a, "L1", "p", "page_view", T0 + 1000, NULL);
        for (i = 0; i < a.ob.n_outs; i++)
                hot += a.ob.outs[i].alert == LS_ALERT_HOT_LEAD;
        assert_int_equal(hot, 0);
        assert_int_equal(fx_engagement(&a, "L1"), 3);
        fx_free(&a);
}

/* Activity between the burst's events is kept, with its own decay clock:
 * click, page view, click, click is the page view alone. */
static void test_burst_around_other_activity(void **state) {
        static const char *model =
                "suppress:\n"
                "  - id: click_burst\n"
                "    burst: {events: [email_click], count: 3, within: 2s}\n"
                "models:\n"
                "  - id: m\n"
                "    engagement:\n"
                "      rules:\n"
                "        - {id: click, event: email_click, points: 2}\n"
                "        - {id: page, event: page_view, points: 3}\n"
                "      decay: {steps: [{after: 30d, points: -1}]}\n" GRID;
        fx_t fx;
        ls_lead_view_t v;

        (void)state;
        fx_init(&fx, model);
        fx_event(&fx, "L1", "c1", "email_click", T0, NULL);
        fx_event(&fx, "L1", "p", "page_view", T0 + 300, NULL);
        fx_event(&fx, "L1", "c2", "email_click", T0 + 600, NULL);
        assert_int_equal(fx_engagement(&fx, "L1"), 7);
        fx_event(&fx, "L1", "c3", "email_click", T0 + 900, NULL);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx.ob.outs[0].engagement, 3);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.last_activity, T0 + 300); /* the page view's */
        /* its decay step is due 30 days after the page view */
        ls_outbuf_reset(&fx.ob);
        assert_int_equal(
                ls_shard_advance(fx.sh, T0 + 300 + 30 * DAY - 1, &fx.ob),
                LS_OK);
        assert_int_equal(fx.ob.n_outs, 0);
        assert_int_equal(ls_shard_advance(fx.sh, T0 + 300 + 30 * DAY, &fx.ob),
                         LS_OK);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx.ob.outs[0].engagement, 2);
        fx_check(&fx);
        fx_free(&fx);

        /* a burst recognised after decay ran: the clock goes back to the
         * activity before the burst, and decay is recomputed from it */
        fx_init(&fx, model);
        fx_event(&fx, "L1", "p", "page_view", T0, NULL);
        fx_event(&fx, "L1", "c1", "email_click", T0 + 29 * DAY, NULL);
        fx_event(&fx, "L1", "c2", "email_click", T0 + 29 * DAY + 10, NULL);
        assert_int_equal(fx_engagement(&fx, "L1"), 7);
        fx_event(&fx, "L1", "c3", "email_click", T0 + 29 * DAY + 20, NULL);
        assert_int_equal(fx_engagement(&fx, "L1"), 3);
        assert_int_equal(ls_shard_lead(fx.sh, "L1", 0, &v), LS_OK);
        assert_int_equal(v.last_activity, T0);
        ls_outbuf_reset(&fx.ob);
        assert_int_equal(ls_shard_advance(fx.sh, T0 + 30 * DAY, &fx.ob), LS_OK);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx.ob.outs[0].time, T0 + 30 * DAY);
        assert_int_equal(fx.ob.outs[0].engagement, 2);
        fx_check(&fx);
        fx_free(&fx);
}

static void test_burst_takes_back_an_mql(void **state) {
        static const char *model =
                "suppress:\n"
                "  - id: click_burst\n"
                "    burst: {events: [email_click], count: 4, within: 2s}\n"
                "models:\n"
                "  - id: m\n"
                "    engagement:\n"
                "      rules:\n"
                "        - {id: click, event: email_click, points: 2}\n" GRID
                "    mql: {enter: {min_total: 6}}\n";
        fx_t fx;
        size_t i, mql = 0, lost = 0;

        (void)state;
        fx_init(&fx, model);
        for (i = 0; i < 4; i++) {
                char id[8];

                snprintf(id, sizeof(id), "c%zu", i);
                fx_event(&fx, "L1", id, "email_click", T0 + (int64_t)i * 50,
                         NULL);
                for (size_t k = 0; k < fx.ob.n_outs; k++) {
                        mql += fx.ob.outs[k].alert == LS_ALERT_MQL;
                        lost += fx.ob.outs[k].alert == LS_ALERT_MQL_LOST;
                }
        }
        /* 3 clicks made an MQL before the burst was known; the 4th takes
         * it back and says so */
        assert_int_equal(mql, 1);
        assert_int_equal(lost, 1);
        assert_int_equal(fx_engagement(&fx, "L1"), 0);
        fx_free(&fx);
}

static const char *unopened_model =
        "suppress:\n"
        "  - id: unopened_click\n"
        "    unopened: {event: email_click, needs: [email_open, "
        "email_delivered], message_field: message_id, remember: 2}\n" RULES;

static void test_unopened_clicks(void **state) {
        fx_t fx;
        ls_shard_stats_t st;

        (void)state;
        fx_init(&fx, unopened_model);
        /* a click with no open of its message: nothing */
        fx_event(&fx, "L1", "c1", "email_click", T0, "message_id", "m1", NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        /* no rule scores opens, but they reach the lead */
        fx_event(&fx, "L1", "o1", "email_open", T0 + 1000, "message_id", "m1",
                 NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        fx_event(&fx, "L1", "c2", "email_click", T0 + 2000, "message_id", "M1",
                 NULL);
        assert_int_equal(fx.ob.n_outs, 0); /* ids are compared exactly */
        fx_event(&fx, "L1", "c3", "email_click", T0 + 3000, "message_id", "m1",
                 NULL);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx_engagement(&fx, "L1"), 2);
        /* a click without a message id is suppressed too */
        fx_event(&fx, "L1", "c4", "email_click", T0 + 4000, NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        /* another lead's open does not count */
        fx_event(&fx, "L2", "c5", "email_click", T0 + 5000, "message_id", "m1",
                 NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        /* memory of 2: m1 is forgotten after m2, m3 */
        fx_event(&fx, "L1", "d2", "email_delivered", T0 + 6000, "message_id",
                 "m2", NULL);
        fx_event(&fx, "L1", "o3", "email_open", T0 + 7000, "message_id", "m3",
                 NULL);
        fx_event(&fx, "L1", "c6", "email_click", T0 + 8000, "message_id", "m1",
                 NULL);
        assert_int_equal(fx.ob.n_outs, 0);
        fx_event(&fx, "L1", "c7", "email_click", T0 + 9000, "message_id", "m2",
                 NULL);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx_engagement(&fx, "L1"), 4);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.suppressed_unopened, 5);
        assert_int_equal(st.suppressed_burst + st.suppressed_match, 0);
        fx_free(&fx);
}

static const char *scanner_model =
        "lists:\n"
        "  scanner_agents: agents.txt\n"
        "  scanner_ips: ips.txt\n"
        "suppress:\n"
        "  - id: scanner_agent\n"
        "    match: {user_agent: {contains_list: scanner_agents}}\n"
        "  - id: scanner_ip\n"
        "    match: {ip: {cidr_list: scanner_ips}}\n"
        "  - id: lab_ip\n"
        "    match: {ip: {cidr: [192.0.2.0/24, \"2001:db8:1::/48\"]}}\n" RULES;

static const char *const scanner_lists[] = {
        "scanner_agents",
        "# security gateways\nBarracuda\nProofpoint\nmimecast\n", "scanner_ips",
        "10.0.0.0/8\n2001:db8::/32 # a v6 range\n203.0.113.7\n", NULL};

static void test_scanner_agents_and_ranges(void **state) {
        static const struct {
                const char *key, *value;
                int scored;
        } cases[] = {
                {"user_agent", "Mozilla/5.0 (compatible; BarracudaCentral)", 0},
                {"user_agent", "Mozilla/5.0 MIMECAST link check", 0},
                {"user_agent", "Mozilla/5.0 (Windows NT 10.0) Firefox/120", 1},
                {"ip", "10.200.3.4", 0},
                {"ip", "11.0.0.1", 1},
                {"ip", "203.0.113.7", 0},
                {"ip", "203.0.113.8", 1},
                {"ip", "2001:db8:abcd::1", 0},
                {"ip", "2001:db9::1", 1},
                {"ip", "::ffff:10.1.1.1", 0}, /* IPv4-mapped: as IPv4 */
                {"ip", "192.0.2.200", 0},
                {"ip", "not an address", 1},
                {"ip", "", 1},
        };
        fx_t fx;
        ls_shard_stats_t st;
        size_t i, scored = 0, n = sizeof(cases) / sizeof(cases[0]);

        (void)state;
        fx_init_lists(&fx, scanner_model, scanner_lists);
        for (i = 0; i < n; i++) {
                char lead[16];

                snprintf(lead, sizeof(lead), "L%zu", i);
                fx_event(&fx, lead, "e", "page_view", T0, cases[i].key,
                         cases[i].value, NULL);
                if ((size_t)cases[i].scored != fx.ob.n_outs)
                        fail_msg("case %zu (%s %s): %zu outputs", i,
                                 cases[i].key, cases[i].value, fx.ob.n_outs);
                scored += fx.ob.n_outs;
        }
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.suppressed_match, n - scored);
        fx_free(&fx);
}

/* A full sequence: bursts, opens, clicks, page views, for two leads. */
static void feed_mixed(fx_t *fx, FILE *fp, int from, int to) {
        static const char *types[] = {"email_click", "email_click",
                                      "email_open", "page_view"};
        int i;

        for (i = from; i < to; i++) {
                char id[16], msg[16];
                const char *lead = i % 7 == 3 ? "L2" : "L1";
                int64_t t = T0 + (int64_t)i * (i % 11 < 6 ? 150 : 4000);

                snprintf(id, sizeof(id), "e%d", i);
                snprintf(msg, sizeof(msg), "m%d", i % 5);
                fx_event(fx, lead, id, types[i % 4], t, "message_id", msg,
                         NULL);
                fx_print(fx, fp);
        }
        if (to == 300) { /* the end: the decay that is left */
                ls_outbuf_reset(&fx->ob);
                assert_int_equal(
                        ls_shard_advance(fx->sh, T0 + 400 * DAY, &fx->ob),
                        LS_OK);
                fx_print(fx, fp);
        }
}

static const char *mixed_model =
        "suppress:\n"
        "  - id: click_burst\n"
        "    burst: {events: [email_click], count: 3, within: 1s}\n"
        "  - id: unopened_click\n"
        "    unopened: {event: email_click, needs: [email_open]}\n"
        "models:\n"
        "  - id: m\n"
        "    engagement:\n"
        "      categories: {email: {cap: {points: 9, per: 1h}}}\n"
        "      rules:\n"
        "        - {id: click, event: email_click, points: 2, category: "
        "email}\n"
        "        - {id: open, event: email_open, points: 1, category: email}\n"
        "        - {id: page, event: page_view, points: 3}\n"
        "      decay: {half_life: 7d, tick: 1d}\n" GRID
        "    hot: {points: 6, within: 1h}\n"
        "  - id: n\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: click, event: email_click, points: 5}\n" GRID;

/* Save / load mid-burst continues exactly as an uninterrupted run. */
static void test_snapshot_mid_burst(void **state) {
        fx_t a, b;
        ls_buf_t img, again;
        char *oa = NULL, *ob = NULL;
        size_t la, lb;
        FILE *fa = open_memstream(&oa, &la), *fb = open_memstream(&ob, &lb);
        ls_shard_t *restored;
        ls_shard_stats_t sa, sb;

        (void)state;
        fx_init(&a, mixed_model);
        fx_init(&b, mixed_model);
        feed_mixed(&a, fa, 0, 300);
        /* b: cut after event 1, with two clicks scored and the burst not
         * yet recognised */
        feed_mixed(&b, fb, 0, 2);
        ls_buf_init(&img);
        assert_int_equal(ls_shard_save(b.sh, &img), LS_OK);
        restored = ls_shard_load(b.ms, img.data, img.len, b.err, sizeof(b.err));
        if (!restored)
                fail_msg("load: %s", b.err);
        ls_buf_init(&again);
        assert_int_equal(ls_shard_save(restored, &again), LS_OK);
        assert_int_equal(again.len, img.len);
        assert_memory_equal(again.data, img.data, img.len);
        ls_shard_destroy(b.sh);
        b.sh = restored;
        feed_mixed(&b, fb, 2, 300);
        fclose(fa);
        fclose(fb);
        assert_true(la > 1000);
        assert_non_null(strstr(oa, "suppressed"));
        assert_int_equal(la, lb);
        assert_memory_equal(oa, ob, la);
        ls_shard_stats(a.sh, &sa);
        ls_shard_stats(b.sh, &sb);
        assert_true(sa.reversed > 0);
        assert_int_equal(sa.reversed, sb.reversed);
        assert_int_equal(sa.suppressed_burst, sb.suppressed_burst);
        assert_int_equal(sa.suppressed_unopened, sb.suppressed_unopened);
        free(oa);
        free(ob);
        ls_buf_free(&img);
        ls_buf_free(&again);
        fx_free(&a);
        fx_free(&b);
}

/* The case: saved after two scored clicks, the burst not yet
 * recognised; the restored shard takes them back as the uninterrupted
 * one does. */
static void test_snapshot_between_clicks(void **state) {
        fx_t a, b;
        char *oa = NULL, *ob = NULL;
        size_t la, lb;
        FILE *fa = open_memstream(&oa, &la), *fb = open_memstream(&ob, &lb);
        ls_buf_t img;
        ls_shard_t *restored;
        int i;

        (void)state;
        fx_init(&a, burst3_model);
        fx_init(&b, burst3_model);
        eight_clicks(&a, T0, fa);
        for (i = 0; i < 8; i++) {
                char id[8];

                if (i == 2) {
                        ls_buf_init(&img);
                        assert_int_equal(ls_shard_save(b.sh, &img), LS_OK);
                        restored = ls_shard_load(b.ms, img.data, img.len, b.err,
                                                 sizeof(b.err));
                        if (!restored)
                                fail_msg("load: %s", b.err);
                        ls_shard_destroy(b.sh);
                        b.sh = restored;
                        ls_buf_free(&img);
                        assert_int_equal(fx_engagement(&b, "L1"), 4);
                }
                snprintf(id, sizeof(id), "c%d", i);
                fx_event(&b, "L1", id, "email_click", T0 + i * 120,
                         "message_id", "m1", NULL);
                fx_print(&b, fb);
        }
        fclose(fa);
        fclose(fb);
        assert_int_equal(la, lb);
        assert_memory_equal(oa, ob, la);
        assert_non_null(strstr(ob, "L1/m/3 score_update none 1767225600240 "
                                   "suppressed/c2 e=0 t=0 p=4 D1 mql=0 "
                                   "[suppressed click_burst -4 0]"));
        assert_int_equal(fx_engagement(&b, "L1"), 0);
        free(oa);
        free(ob);
        fx_free(&a);
        fx_free(&b);
}

/* The same inputs twice: the same bytes; and a save / load mid-burst with
 * no advance in between continues the same outputs byte for byte. */
static void test_determinism_and_exact_restore(void **state) {
        fx_t a, b;
        char *oa = NULL, *ob = NULL;
        size_t la, lb;
        FILE *fa, *fb;
        int cut;

        (void)state;
        for (cut = 0; cut <= 40; cut += 5) {
                ls_buf_t img;
                ls_shard_t *restored;
                int i;

                fa = open_memstream(&oa, &la);
                fb = open_memstream(&ob, &lb);
                fx_init(&a, mixed_model);
                fx_init(&b, mixed_model);
                for (i = 0; i < 60; i++) {
                        char id[16], msg[16];
                        static const char *types[] = {
                                "email_click", "email_click", "email_open",
                                "page_view"};
                        int64_t t = T0 + (int64_t)i * (i % 9 < 5 ? 200 : 9000);

                        snprintf(id, sizeof(id), "e%d", i);
                        snprintf(msg, sizeof(msg), "m%d", i % 3);
                        if (i == cut) {
                                ls_buf_init(&img);
                                assert_int_equal(ls_shard_save(b.sh, &img),
                                                 LS_OK);
                                restored =
                                        ls_shard_load(b.ms, img.data, img.len,
                                                      b.err, sizeof(b.err));
                                if (!restored)
                                        fail_msg("load: %s", b.err);
                                ls_shard_destroy(b.sh);
                                b.sh = restored;
                                ls_buf_free(&img);
                        }
                        fx_event(&a, "L1", id, types[i % 4], t, "message_id",
                                 msg, NULL);
                        fx_print(&a, fa);
                        fx_event(&b, "L1", id, types[i % 4], t, "message_id",
                                 msg, NULL);
                        fx_print(&b, fb);
                }
                fclose(fa);
                fclose(fb);
                assert_int_equal(la, lb);
                assert_memory_equal(oa, ob, la);
                assert_non_null(strstr(oa, "suppressed/"));
                free(oa);
                free(ob);
                oa = ob = NULL;
                fx_free(&a);
                fx_free(&b);
        }
}

/* A format-3 image (before `suppress`) of a set without suppression
 * loads, its four new counters at 0. */
static void test_format3_image_loads(void **state) {
        fx_t fx;
        ls_buf_t img, v3, again;
        ls_shard_t *sh;
        uint32_t three = 3;
        /* header: magic, format, version, 3 x u32, stream time, then the
         * counters: 8 of format 3, 4 more of format 4 */
        size_t counters_at = 4 + 4 + LS_MODEL_VERSION_LEN + 3 * 4 + 8;
        size_t new_at = counters_at + 8 * 8;

        (void)state;
        fx_init(&fx, no_suppress_model);
        eight_clicks(&fx, T0, NULL);
        ls_buf_init(&img);
        assert_int_equal(ls_shard_save_format(fx.sh, &img, 5), LS_OK);
        ls_buf_init(&v3);
        ls_buf_append(&v3, img.data, new_at);
        ls_buf_append(&v3, img.data + new_at + 4 * 8, img.len - new_at - 4 * 8);
        memcpy(v3.data + 4, &three, 4);
        sh = ls_shard_load(fx.ms, v3.data, v3.len, fx.err, sizeof(fx.err));
        if (!sh)
                fail_msg("format 3: %s", fx.err);
        ls_buf_init(&again);
        assert_int_equal(ls_shard_save_format(sh, &again, 5), LS_OK);
        assert_int_equal(again.len, img.len);
        assert_memory_equal(again.data, img.data, img.len);
        ls_shard_destroy(sh);
        /* a format-3 image cannot be bound to a set with suppression: its
         * blocks have no room for it (the version check comes first) */
        ls_buf_free(&img);
        ls_buf_free(&v3);
        ls_buf_free(&again);
        fx_free(&fx);
}

/* A reload that adds suppression keeps the leads; one that keeps the
 * unopened rule keeps the opens it remembers. */
static void test_migrate_suppression(void **state) {
        fx_t a;
        ls_modelset_t *ms2, *ms3;
        ls_shard_t *sh2, *sh3;
        ls_outbuf_t ob;
        char err[512];
        ls_lead_view_t v;
        ls_input_t click = {.kind = LS_INPUT_EVENT,
                            .lead_id = "L1",
                            .event_id = "c9",
                            .event_type = "email_click",
                            .time = T0 + HOUR};
        ls_kv_t kv = {"message_id", "m1"};

        (void)state;
        click.fields = &kv;
        click.n_fields = 1;
        fx_init(&a, no_suppress_model);
        fx_event(&a, "L1", "o", "email_open", T0, "message_id", "m1", NULL);
        fx_event(&a, "L1", "c", "email_click", T0 + 1, "message_id", "m1",
                 NULL);
        assert_int_equal(
                load_with_lists(unopened_model, NULL, &ms2, err, sizeof(err)),
                LS_OK);
        sh2 = ls_shard_migrate(a.sh, ms2, err, sizeof(err));
        assert_non_null(sh2);
        assert_int_equal(ls_shard_check(sh2, err, sizeof(err)), LS_OK);
        assert_int_equal(ls_shard_lead(sh2, "L1", 0, &v), LS_OK);
        assert_int_equal(v.engagement, 2);
        /* the open was not remembered under the old set: a click on m1 is
         * suppressed after the reload */
        ls_outbuf_init(&ob);
        assert_int_equal(ls_shard_apply(sh2, &click, &ob, err, sizeof(err)),
                         LS_OK);
        assert_int_equal(ob.n_outs, 0);
        /* an open under the new set, then a reload keeping the rule (with
         * another memory size): the open is kept */
        click.event_type = "email_open";
        click.event_id = "o2";
        assert_int_equal(ls_shard_apply(sh2, &click, &ob, err, sizeof(err)),
                         LS_OK);
        {
                static const char *y3 =
                        "suppress:\n"
                        "  - id: unopened_click\n"
                        "    unopened: {event: email_click, needs: "
                        "[email_open], remember: 5}\n" RULES;

                assert_int_equal(
                        load_with_lists(y3, NULL, &ms3, err, sizeof(err)),
                        LS_OK);
        }
        sh3 = ls_shard_migrate(sh2, ms3, err, sizeof(err));
        assert_non_null(sh3);
        assert_int_equal(ls_shard_check(sh3, err, sizeof(err)), LS_OK);
        click.event_type = "email_click";
        click.event_id = "c10";
        ls_outbuf_reset(&ob);
        assert_int_equal(ls_shard_apply(sh3, &click, &ob, err, sizeof(err)),
                         LS_OK);
        assert_int_equal(ob.n_outs, 1);
        assert_int_equal(ob.outs[0].engagement, 4);
        ls_outbuf_free(&ob);
        ls_shard_destroy(sh3);
        ls_shard_destroy(sh2);
        ls_modelset_destroy(ms3);
        ls_modelset_destroy(ms2);
        fx_free(&a);
}

/* Without suppression, the state per lead is as before. */
static void test_no_suppression_costs_nothing(void **state) {
        fx_t a, b;
        ls_shard_stats_t sa, sb;

        (void)state;
        fx_init(&a, no_suppress_model);
        fx_init(&b, burst3_model);
        fx_event(&a, "L1", "c", "email_click", T0, NULL);
        fx_event(&b, "L1", "c", "email_click", T0, NULL);
        ls_shard_stats(a.sh, &sa);
        ls_shard_stats(b.sh, &sb);
        /* the burst ring: a header and 2 entries with their undo parts */
        assert_true(sb.lead_model_bytes > sa.lead_model_bytes);
        assert_true(sb.lead_model_bytes < sa.lead_model_bytes + 256);
        fx_free(&a);
        fx_free(&b);
}

/*
 * Burst rings are held only while an entry can still count: a click as
 * old as lateness + within allows still completes a burst after a sweep
 * (docs/SEMANTICS.md "Suppression"), and leads that burst one after the
 * other over days hold few rings, reused without being cleared, the image
 * the same as a shard restored halfway (whose pool has another history).
 */
static void test_burst_rings_given_back(void **state) {
        const int64_t period = HOUR + 1000; /* the sweep: lateness + 1s */
        const int64_t s = (T0 / period + 2) * period, t = s - period + 1;
        ls_shard_stats_t st, st0;
        ls_buf_t img, mid;
        ls_shard_t *sh;
        fx_t fx, fy;
        int i, k;

        (void)state;
        fx_init(&fx, mixed_model);
        /* opened first: the clicks are not `unopened` */
        assert_int_equal(fx_event(&fx, "L1", "o", "email_open", t - 1,
                                  "message_id", "m", NULL),
                         LS_OK);
        assert_int_equal(fx_event(&fx, "L1", "c1", "email_click", t,
                                  "message_id", "m", NULL),
                         LS_OK);
        /* stream time into the next period: the sweep keeps L1's ring */
        assert_int_equal(fx_event(&fx, "L9", "p1", "page_view", s, NULL),
                         LS_OK);
        assert_int_equal(fx_event(&fx, "L1", "c2", "email_click", s - HOUR,
                                  "message_id", "m", NULL),
                         LS_OK);
        assert_int_equal(fx_event(&fx, "L1", "c3", "email_click", s - HOUR,
                                  "message_id", "m", NULL),
                         LS_OK);
        ls_shard_stats(fx.sh, &st);
        assert_int_equal(st.reversed, 2); /* c1 and c2 taken back */
        fx_free(&fx);

        fx_init(&fx, mixed_model);
        fx_init(&fy, mixed_model);
        assert_int_equal(fx_event(&fx, "P", "p", "page_view", T0, NULL), LS_OK);
        assert_int_equal(fx_event(&fy, "P", "p", "page_view", T0, NULL), LS_OK);
        ls_shard_stats(fx.sh, &st0); /* a lead with no burst ring */
        ls_buf_init(&img);
        ls_buf_init(&mid);
        for (i = 0; i < 200; i++) {
                char lead[16], id[16];

                snprintf(lead, sizeof(lead), "L%03d", i);
                if (i == 100) { /* fy restored here */
                        assert_int_equal(ls_shard_save(fy.sh, &mid), LS_OK);
                        ls_shard_destroy(fy.sh);
                        fy.sh = fx_image_load(fy.ms, &mid);
                }
                assert_int_equal(fx_event(&fx, lead, "o", "email_open",
                                          T0 + i * 20 * 60000LL - 1,
                                          "message_id", "m", NULL),
                                 LS_OK);
                assert_int_equal(fx_event(&fy, lead, "o", "email_open",
                                          T0 + i * 20 * 60000LL - 1,
                                          "message_id", "m", NULL),
                                 LS_OK);
                for (k = 0; k <= i % 3; k++) { /* 1 to 3 clicks */
                        int64_t at = T0 + i * 20 * 60000LL + k * 100;

                        snprintf(id, sizeof(id), "c%d", k);
                        assert_int_equal(fx_event(&fx, lead, id, "email_click",
                                                  at, "message_id", "m", NULL),
                                         LS_OK);
                        assert_int_equal(fx_event(&fy, lead, id, "email_click",
                                                  at, "message_id", "m", NULL),
                                         LS_OK);
                }
        }
        ls_shard_stats(fx.sh, &st);
        /* every third lead burst: 66 x 2 clicks taken back */
        assert_int_equal(st.reversed, 66 * 2);
        /* a few rings of the last two hours, not 200 */
        assert_true(st.lead_model_bytes < st0.lead_model_bytes + 100);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        fx_image_expect(fy.sh, &img);
        /* format 5 (rings inside the blocks) holds the same state */
        ls_buf_reset(&mid);
        assert_int_equal(ls_shard_save_format(fx.sh, &mid, 5), LS_OK);
        sh = fx_image_load(fx.ms, &mid);
        fx_image_expect(sh, &img);
        ls_shard_destroy(sh);
        ls_buf_free(&img);
        ls_buf_free(&mid);
        fx_free(&fx);
        fx_free(&fy);
}

static void test_model_errors(void **state) {
        static const struct {
                const char *yaml, *want;
        } cases[] = {
                {"suppress: {a: 1}\n" RULES,
                 "t.yaml:1: suppress: expected a list of suppression rules"},
                {"suppress:\n  - burst: {events: [x], count: 3, within: "
                 "1s}\n" RULES,
                 "t.yaml:2: suppress[0].id: required"},
                {"suppress:\n  - id: b\n" RULES,
                 "t.yaml:2: suppress[0]: needs one of burst, unopened, match"},
                {"suppress:\n  - id: b\n    burst: {events: [x], within: "
                 "1s}\n" RULES,
                 "t.yaml:3: suppress[0].burst.count: required"},
                {"suppress:\n  - id: b\n    burst: {events: [x], count: 1, "
                 "within: 1s}\n" RULES,
                 "t.yaml:3: suppress[0].burst.count: must be between 2 and 16"},
                {"suppress:\n  - id: b\n    burst: {events: [x], count: 3,\n"
                 "            within: soon}\n" RULES,
                 "t.yaml:4: suppress[0].burst.within: expected a duration"},
                {"suppress:\n  - id: b\n    burst: {events: [], count: 3, "
                 "within: 1s}\n" RULES,
                 "t.yaml:3: suppress[0].burst.events: must not be empty"},
                {"suppress:\n  - id: b\n    burst: {events: [x], count: 3, "
                 "within: 1s, per: 1d}\n" RULES,
                 "t.yaml:3: suppress[0].burst.per: unknown key"},
                {"suppress:\n  - id: b\n    burst: {events: [x], count: 3, "
                 "within: 1s}\n    match: {ip: 1.2.3.4}\n" RULES,
                 "t.yaml:4: suppress[0].match: only one of burst, unopened, "
                 "match"},
                {"suppress:\n  - id: b\n    burst: {events: [x], count: 3, "
                 "within: 1s}\n  - id: b\n    match: {ip: 1.2.3.4}\n" RULES,
                 "t.yaml:4: suppress[1].id: duplicate suppression id 'b'"},
                {"suppress:\n  - id: b\n    burst: {events: [x, y], count: 3, "
                 "within: 1s}\n  - id: c\n    burst: {events: [Y], count: 4, "
                 "within: 1s}\n" RULES,
                 "t.yaml:5: suppress[1].burst.events: 'y' is already counted "
                 "by burst 'b'"},
                {"suppress:\n  - id: u\n    unopened: {needs: [o]}\n" RULES,
                 "t.yaml:3: suppress[0].unopened.event: required"},
                {"suppress:\n  - id: u\n    unopened: {event: c, needs: [o, "
                 "c]}\n" RULES,
                 "t.yaml:3: suppress[0].unopened.needs: 'c' is the event "
                 "judged"},
                {"suppress:\n  - id: u\n    unopened: {event: c, needs: [o],\n"
                 "               remember: 65}\n" RULES,
                 "t.yaml:4: suppress[0].unopened.remember: must be between 1 "
                 "and 64"},
                {"suppress:\n  - id: s\n    match: {user_agent: "
                 "{contains_list: nope}}\n" RULES,
                 "t.yaml:3: suppress[0].match.user_agent.contains_list: "
                 "unknown list 'nope'"},
                {"suppress:\n  - id: s\n    match:\n      ip: {cidr: "
                 "[10.0.0.0/8, 10.0.0.1/8]}\n" RULES,
                 "t.yaml:4: suppress[0].match.ip.cidr[1]: '10.0.0.1/8' is not "
                 "an IP range"},
                {"suppress:\n  - id: s\n    match:\n      ip: {cidr: "
                 "[\"::1/129\"]}\n" RULES,
                 "t.yaml:4: suppress[0].match.ip.cidr[0]: '::1/129' is not an "
                 "IP range"},
                {"lists: {ips: ips.txt}\nsuppress:\n  - id: s\n    match: "
                 "{ip: {cidr_list: ips}}\n" RULES,
                 "t.yaml:4: suppress[0].match.ip.cidr_list: list 'ips' "
                 "(ips.txt): item 'example.com' is not an IP range"},
        };
        static const char *const lists[] = {"ips", "10.0.0.0/8\nexample.com\n",
                                            NULL};
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ls_modelset_t *ms = NULL;
                char err[512] = "";
                ls_err_t e = load_with_lists(cases[i].yaml, lists, &ms, err,
                                             sizeof(err));

                if (e != LS_ERR_INVALID || !strstr(err, cases[i].want))
                        fail_msg("case %zu: got %d '%s'\n expected '%s'", i,
                                 (int)e, err, cases[i].want);
                assert_null(ms);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_burst_recognised_late_is_reversed),
                cmocka_unit_test(test_burst_window),
                cmocka_unit_test(test_burst_restores_caps_decay_and_hot),
                cmocka_unit_test(test_burst_around_other_activity),
                cmocka_unit_test(test_burst_takes_back_an_mql),
                cmocka_unit_test(test_unopened_clicks),
                cmocka_unit_test(test_scanner_agents_and_ranges),
                cmocka_unit_test(test_snapshot_mid_burst),
                cmocka_unit_test(test_snapshot_between_clicks),
                cmocka_unit_test(test_determinism_and_exact_restore),
                cmocka_unit_test(test_format3_image_loads),
                cmocka_unit_test(test_migrate_suppression),
                cmocka_unit_test(test_no_suppression_costs_nothing),
                cmocka_unit_test(test_burst_rings_given_back),
                cmocka_unit_test(test_model_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
