/*
 * test_alerts.c - what an alert carries (docs/SEMANTICS.md "Alerts"): the
 * condition that fired, the largest contributions over the lead's
 * history, the fit rules matching, the model's alert_attributes and the
 * backfill marker; that the state behind them survives a snapshot and
 * loads from an older image; and that the JSON and Avro encoders write
 * them, the Avro read back with avro-c against schemas/alert.avsc and
 * resolved against the schema before these fields.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ls_avro_int.h"
#include "engine/ls_engine_int.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_json.h"
#include "leadscore/ls_model.h"

#include "avro_fixture.h"
#include "image_fixture.h"

#define MIN (60LL * 1000)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define T0 (1767225600000LL) /* 2026-01-01T00:00:00Z */

/* Eight engagement rules r1..r8 worth 1..8 points, one that takes 5; MQL
 * at 100 and grade A, kept while 80; hot at 18 points within an hour. */
static const char *const MODEL =
        "backfill_after: 1d\n"
        "models:\n"
        "  - id: m\n"
        "    alert_attributes: [name, email, company]\n"
        "    fit:\n"
        "      rules:\n"
        "        - {id: big, attribute: employees, range: {min: 100}, "
        "points: 20}\n"
        "        - {id: gmail, attribute: email, glob: \"*@gmail.com\", "
        "points: -10}\n"
        "    engagement:\n"
        "      rules:\n"
        "        - {id: r1, event: e1, points: 1}\n"
        "        - {id: r2, event: e2, points: 2}\n"
        "        - {id: r3, event: e3, points: 3}\n"
        "        - {id: r4, event: e4, points: 4}\n"
        "        - {id: r5, event: e5, points: 5}\n"
        "        - {id: r6, event: e6, points: 6}\n"
        "        - {id: r7, event: e7, points: 7}\n"
        "        - {id: r8, event: e8, points: 8}\n"
        "        - {id: unsub, event: unsub, points: -5}\n"
        "    grades:\n"
        "      - {name: A, min: 20}\n"
        "      - {name: B}\n"
        "    bands:\n"
        "      - {name: cold}\n"
        "      - {name: warm, min: 20}\n"
        "      - {name: hot, min: 40}\n"
        "    mql:\n"
        "      enter: {min_total: 100, min_grade: A}\n"
        "      stay: {min_total: 80}\n"
        "    hot:\n"
        "      points: 18\n"
        "      within: 1h\n"
        "      track: 20\n"
        "      rearm_after: 30d\n";

typedef struct fx_s {
        ls_modelset_t *ms;
        ls_shard_t *sh;
        ls_outbuf_t ob;
        char err[512];
        char id[64]; /* the last event id: outputs borrow it */
} fx_t;

static void fx_init(fx_t *fx, const char *yaml) {
        memset(fx, 0, sizeof(*fx));
        if (ls_modelset_load_string(yaml, strlen(yaml), "t.yaml", NULL, &fx->ms,
                                    fx->err, sizeof(fx->err)))
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

static ls_err_t fx_in(fx_t *fx, ls_input_t *in) {
        char why[512];
        ls_err_t err;

        ls_outbuf_reset(&fx->ob);
        err = ls_shard_apply(fx->sh, in, &fx->ob, fx->err, sizeof(fx->err));
        if (ls_shard_check(fx->sh, why, sizeof(why)) != LS_OK)
                fail_msg("invariant: %s", why);
        return err;
}

static ls_err_t fx_event(fx_t *fx, const char *lead, const char *id,
                         const char *type, int64_t t, int64_t record_time) {
        ls_input_t in = {.kind = LS_INPUT_EVENT,
                         .lead_id = lead,
                         .event_id = fx->id,
                         .event_type = type,
                         .time = t,
                         .record_time = record_time};

        snprintf(fx->id, sizeof(fx->id), "%s", id);
        return fx_in(fx, &in);
}

static ls_err_t fx_profile(fx_t *fx, const char *lead, int64_t t,
                           const ls_kv_t *kv, size_t n) {
        ls_input_t in = {.kind = LS_INPUT_PROFILE,
                         .lead_id = lead,
                         .time = t,
                         .fields = kv,
                         .n_fields = n};

        return fx_in(fx, &in);
}

/* @returns the alert of kind @p kind in the last outputs, or NULL. */
static const ls_output_t *fx_alert(const fx_t *fx, ls_alert_kind_t kind) {
        size_t i;

        for (i = 0; i < fx->ob.n_outs; i++)
                if (fx->ob.outs[i].kind == LS_OUT_ALERT &&
                    fx->ob.outs[i].alert == kind)
                        return &fx->ob.outs[i];
        return NULL;
}

/* @returns the JSON of @p o (free it). */
static char *fx_json(const fx_t *fx, const ls_output_t *o) {
        ls_buf_t buf;
        char *s;

        ls_buf_init(&buf);
        assert_int_equal(ls_json_encode_output(&fx->ob, o, &buf), LS_OK);
        s = strdup(buf.data);
        ls_buf_free(&buf);
        return s;
}

static void expect_in(const char *json, const char *part) {
        if (!strstr(json, part))
                fail_msg("%s\n  not in\n%s", part, json);
}

static const ls_kv_t ADA[] = {{"name", "Ada Lovelace"},
                              {"email", "ada@analytical.example"},
                              {"company", "Analytical Engines"},
                              {"employees", "300"},
                              {"phone", "+44 20 7946 0000"}};

/* Ada: fit 20 (big), then r8 x 10 = 80 engagement: total 100, MQL. */
static void ada_to_mql(fx_t *fx, int64_t record_lag) {
        char id[16];
        int i;

        assert_int_equal(fx_profile(fx, "ada", T0, ADA, 5), LS_OK);
        for (i = 0; i < 10; i++) {
                snprintf(id, sizeof(id), "a%d", i);
                assert_int_equal(fx_event(fx, "ada", id, "e8",
                                          T0 + (i + 1) * 2 * HOUR,
                                          T0 + (i + 1) * 2 * HOUR + record_lag),
                                 LS_OK);
        }
}

static void test_mql_fields(void **state) {
        const ls_output_t *o;
        const ls_alert_item_t *it;
        fx_t fx;
        char *json;

        (void)state;
        fx_init(&fx, MODEL);
        ada_to_mql(&fx, 5 * MIN);
        o = fx_alert(&fx, LS_ALERT_MQL);
        assert_non_null(o);
        assert_int_equal(o->total, 100);
        /* who: the attributes the model names, in its order */
        assert_int_equal(o->n_attrs, 3);
        it = ls_output_items(&fx.ob, o) + o->n_top + o->n_hot;
        assert_string_equal(it[0].name, "name");
        assert_string_equal(ls_alert_item_text(&fx.ob, &it[0]), "Ada Lovelace");
        assert_string_equal(it[2].name, "company");
        assert_string_equal(ls_alert_item_text(&fx.ob, &it[2]),
                            "Analytical Engines");
        /* why: the history, not the last change (+8) */
        assert_int_equal(o->n_top, 1);
        assert_string_equal(ls_output_items(&fx.ob, o)[0].name, "r8");
        assert_int_equal(ls_output_items(&fx.ob, o)[0].points, 80);
        assert_int_equal(o->fit_bits, 1); /* big */
        /* how fresh */
        assert_int_equal(o->time, T0 + 20 * HOUR);
        assert_int_equal(o->record_time, T0 + 20 * HOUR + 5 * MIN);
        assert_int_equal(o->backfill, 0);
        json = fx_json(&fx, o);
        expect_in(json, "\"condition\":{\"enter\":{\"min_total\":100,"
                        "\"min_grade\":\"A\",\"min_band\":null,"
                        "\"holds\":true},\"stay\":{\"min_total\":80,"
                        "\"min_grade\":null,\"min_band\":null,"
                        "\"holds\":true},\"window\":null}");
        expect_in(json, "\"contributions\":[{\"rule\":\"r8\",\"points\":80}]");
        expect_in(json, "\"fit_rules\":[{\"rule\":\"big\",\"points\":20}]");
        expect_in(json, "\"attributes\":{\"name\":\"Ada Lovelace\","
                        "\"email\":\"ada@analytical.example\","
                        "\"company\":\"Analytical Engines\"}");
        expect_in(json, "\"record_time\":1767297900000,\"backfill\":false}");
        free(json);

        /* four unsubscribes: 100 - 20 = 80 stays, the fifth loses it */
        for (int i = 0; i < 5; i++) {
                char id[16];

                snprintf(id, sizeof(id), "u%d", i);
                assert_int_equal(fx_event(&fx, "ada", id, "unsub",
                                          T0 + 21 * HOUR + i * 2 * HOUR, 0),
                                 LS_OK);
                assert_true((fx_alert(&fx, LS_ALERT_MQL_LOST) != NULL) ==
                            (i == 4));
        }
        o = fx_alert(&fx, LS_ALERT_MQL_LOST);
        assert_int_equal(o->total, 75);
        assert_int_equal(o->record_time, 0);
        assert_int_equal(o->n_top, 2);
        assert_string_equal(ls_output_items(&fx.ob, o)[1].name, "unsub");
        assert_int_equal(ls_output_items(&fx.ob, o)[1].points, -25);
        json = fx_json(&fx, o);
        expect_in(json, "\"stay\":{\"min_total\":80,\"min_grade\":null,"
                        "\"min_band\":null,\"holds\":false}");
        expect_in(json, "\"record_time\":null,\"backfill\":false}");
        free(json);
        fx_free(&fx);
}

static void test_hot_lead_window(void **state) {
        const ls_output_t *o;
        const ls_alert_item_t *it;
        fx_t fx;
        char id[16], *json;
        int i;

        (void)state;
        fx_init(&fx, MODEL);
        /* an old e5 (outside the hour), then 18 e1 one minute apart */
        assert_int_equal(fx_event(&fx, "bo", "old", "e5", T0, 0), LS_OK);
        for (i = 0; i < 18; i++) {
                snprintf(id, sizeof(id), "b%02d", i);
                assert_int_equal(fx_event(&fx, "bo", id, "e1",
                                          T0 + 2 * HOUR + i * MIN, 0),
                                 LS_OK);
                assert_true((fx_alert(&fx, LS_ALERT_HOT_LEAD) != NULL) ==
                            (i == 17));
        }
        o = fx_alert(&fx, LS_ALERT_HOT_LEAD);
        assert_int_equal(o->hot_sum, 18);
        assert_null(o->hot_event);
        assert_int_equal(o->n_hot, LS_ALERT_HOT_EVENTS);
        assert_int_equal(o->hot_more, 2);
        it = ls_output_items(&fx.ob, o) + o->n_top;
        /* the newest 16, oldest first: b02 .. b17 */
        assert_string_equal(it[0].name, "e1");
        assert_string_equal(ls_alert_item_text(&fx.ob, &it[0]), "b02");
        assert_int_equal(it[0].time, T0 + 2 * HOUR + 2 * MIN);
        assert_int_equal(it[0].points, 1);
        assert_string_equal(ls_alert_item_text(&fx.ob, &it[15]), "b17");
        /* contributions: r1 18, r5 5 */
        assert_int_equal(o->n_top, 2);
        assert_string_equal(ls_output_items(&fx.ob, o)[0].name, "r1");
        assert_int_equal(ls_output_items(&fx.ob, o)[0].points, 18);
        assert_int_equal(ls_output_items(&fx.ob, o)[1].points, 5);
        json = fx_json(&fx, o);
        expect_in(json, "\"condition\":{\"enter\":null,\"stay\":null,"
                        "\"window\":{\"within_ms\":3600000,"
                        "\"min_points\":18,\"sum\":18,\"event_type\":null,"
                        "\"events\":[{\"type\":\"e1\",\"id\":\"b02\","
                        "\"time\":1767232920000,\"points\":1},");
        expect_in(json, "{\"type\":\"e1\",\"id\":\"b17\",\"time\":"
                        "1767233820000,\"points\":1}],\"more\":2}}");
        expect_in(json, "\"attributes\":{}");
        free(json);
        fx_free(&fx);
}

/* A long random history: the top 5 are the exact sums, largest first,
 * ties in file order. */
static void test_top_contributions_exact(void **state) {
        static const char *const types[] = {"e1", "e2", "e3", "e4",   "e5",
                                            "e6", "e7", "e8", "unsub"};
        static const int32_t pts[] = {1, 2, 3, 4, 5, 6, 7, 8, -5};
        int64_t sum[9] = {0}, eng = 0;
        const ls_output_t *o = NULL;
        unsigned seed = 12345;
        fx_t fx;
        char id[16];
        int i, k, order[9];

        (void)state;
        /* grade B throughout (no fit): never MQL while the history runs */
        fx_init(&fx, MODEL);
        for (i = 0; i < 3000; i++) {
                int32_t award;

                seed = seed * 1103515245u + 12345u;
                k = (int)((seed >> 16) % 9);
                award = pts[k];
                if (award < 0 && eng + award < 0)
                        award = (int32_t)-eng;
                eng += award;
                sum[k] += award;
                snprintf(id, sizeof(id), "x%d", i);
                /* a day apart: no hot-lead window fills */
                assert_int_equal(
                        fx_event(&fx, "cy", id, types[k], T0 + i * DAY, 0),
                        LS_OK);
                assert_null(fx_alert(&fx, LS_ALERT_MQL));
        }
        /* the profile makes it grade A: MQL, as of the whole history */
        {
                static const ls_kv_t big[] = {{"employees", "500"}};

                assert_int_equal(fx_profile(&fx, "cy", T0 + 3001 * DAY, big, 1),
                                 LS_OK);
        }
        assert_true(eng + 20 >= 100);
        o = fx_alert(&fx, LS_ALERT_MQL);
        assert_non_null(o);
        for (k = 0; k < 9; k++)
                order[k] = k;
        for (i = 1; i < 9; i++) /* insertion sort: points desc, stable */
                for (k = i; k > 0 && sum[order[k - 1]] < sum[order[k]]; k--) {
                        int t = order[k];

                        order[k] = order[k - 1];
                        order[k - 1] = t;
                }
        assert_int_equal(o->n_top, LS_ALERT_TOP);
        for (k = 0; k < LS_ALERT_TOP; k++) {
                const ls_alert_item_t *it = &ls_output_items(&fx.ob, o)[k];

                assert_string_equal(it->name,
                                    fx.ms->models[0].rules[order[k]].id);
                assert_int_equal(it->points, sum[order[k]]);
        }
        fx_free(&fx);
}

static void test_attributes_truncated(void **state) {
        char longv[200], want[64];
        ls_kv_t kv[2];
        const ls_output_t *o;
        const ls_alert_item_t *it;
        fx_t fx;
        size_t i;

        (void)state;
        fx_init(&fx, MODEL);
        /* 62 ASCII bytes, then "é" (2 bytes) would end at byte 64: cut
         * before it, at 62 */
        memset(longv, 'x', 62);
        memcpy(longv + 62, "\xc3\xa9tail", 7);
        kv[0].key = "company";
        kv[0].value = longv;
        kv[1].key = "employees";
        kv[1].value = "300";
        assert_int_equal(fx_profile(&fx, "di", T0, kv, 2), LS_OK);
        /* a later update clears name ("" clears); email never set */
        kv[0].key = "name";
        kv[0].value = "";
        assert_int_equal(fx_profile(&fx, "di", T0 + 1, kv, 1), LS_OK);
        for (i = 0; i < 10; i++) {
                char id[8];

                snprintf(id, sizeof(id), "d%zu", i);
                assert_int_equal(fx_event(&fx, "di", id, "e8",
                                          T0 + (int64_t)(i + 1) * 2 * HOUR, 0),
                                 LS_OK);
        }
        o = fx_alert(&fx, LS_ALERT_MQL);
        assert_non_null(o);
        assert_int_equal(o->n_attrs, 1);
        it = ls_output_items(&fx.ob, o) + o->n_top + o->n_hot;
        assert_string_equal(it->name, "company");
        memset(want, 'x', 62);
        want[62] = '\0';
        assert_string_equal(ls_alert_item_text(&fx.ob, it), want);
        /* 63 ASCII bytes fit; 64 are cut to 63 */
        memset(longv, 'y', 64);
        longv[64] = '\0';
        kv[0].key = "company";
        kv[0].value = longv;
        assert_int_equal(fx_profile(&fx, "di", T0 + 2, kv, 1), LS_OK);
        assert_int_equal(fx_event(&fx, "di", "unsub", "unsub", T0 + DAY, 0),
                         LS_OK);
        for (i = 0; i < 8; i++) { /* lose it, then win it back */
                char id[8];

                snprintf(id, sizeof(id), "u%zu", i);
                fx_event(&fx, "di", id, i < 4 ? "unsub" : "e8",
                         T0 + DAY + (int64_t)(i + 1) * 2 * HOUR, 0);
                if ((o = fx_alert(&fx, LS_ALERT_MQL)) != NULL)
                        break;
        }
        assert_non_null(o);
        it = ls_output_items(&fx.ob, o) + o->n_top + o->n_hot;
        assert_int_equal(strlen(ls_alert_item_text(&fx.ob, it)), 63);
        fx_free(&fx);
}

static void test_backfill_from_record_time(void **state) {
        const ls_output_t *o;
        fx_t fx;

        (void)state;
        /* a January backlog written to Kafka in November: backfill */
        fx_init(&fx, MODEL);
        ada_to_mql(&fx, 300 * DAY);
        o = fx_alert(&fx, LS_ALERT_MQL);
        assert_non_null(o);
        assert_int_equal(o->backfill, 1);
        assert_int_equal(o->record_time, o->time + 300 * DAY);
        fx_free(&fx);
        /* exactly backfill_after old is not yet backfill */
        fx_init(&fx, MODEL);
        ada_to_mql(&fx, DAY);
        assert_int_equal(fx_alert(&fx, LS_ALERT_MQL)->backfill, 0);
        fx_free(&fx);
        /* no record timestamp (a file): never */
        fx_init(&fx, MODEL);
        ada_to_mql(&fx, -(T0 + 100 * DAY));
        assert_int_equal(fx_alert(&fx, LS_ALERT_MQL)->record_time, 0);
        assert_int_equal(fx_alert(&fx, LS_ALERT_MQL)->backfill, 0);
        fx_free(&fx);
        /* backfill_after not set: never */
        {
                const char *p = strchr(MODEL, '\n') + 1;

                fx_init(&fx, p);
                ada_to_mql(&fx, 300 * DAY);
                assert_int_equal(fx_alert(&fx, LS_ALERT_MQL)->backfill, 0);
                fx_free(&fx);
        }
}

/* Feeds lead histories into fx from input number @p from to @p to,
 * appending every output's JSON to @p out. */
static void feed(fx_t *fx, int from, int to, ls_buf_t *out) {
        static const char *const types[] = {"e1", "e3", "e8", "unsub", "e6"};
        int i;
        size_t k;

        for (i = from; i < to; i++) {
                char lead[8], id[16];

                snprintf(lead, sizeof(lead), "L%d", i % 3);
                snprintf(id, sizeof(id), "i%d", i);
                if (i % 7 == 0)
                        assert_int_equal(
                                fx_profile(fx, lead, T0 + i * MIN, ADA, 5),
                                LS_OK);
                else
                        assert_int_equal(
                                fx_event(fx, lead, id, types[i % 5],
                                         T0 + i * MIN,
                                         T0 + i * MIN + (i % 2) * 2 * DAY),
                                LS_OK);
                for (k = 0; k < fx->ob.n_outs; k++) {
                        assert_int_equal(ls_json_encode_output(
                                                 &fx->ob, &fx->ob.outs[k], out),
                                         LS_OK);
                        ls_buf_append(out, "\n", 1);
                }
        }
}

static void test_snapshot_mid_history(void **state) {
        ls_buf_t a, b, img;
        ls_shard_t *sh;
        fx_t fa, fb;

        (void)state;
        fx_init(&fa, MODEL);
        fx_init(&fb, MODEL);
        ls_buf_init(&a);
        ls_buf_init(&b);
        ls_buf_init(&img);
        feed(&fa, 0, 400, &a);
        feed(&fb, 0, 200, &b);
        assert_int_equal(ls_shard_save(fb.sh, &img), LS_OK);
        sh = fx_image_load(fb.ms, &img);
        fx_image_expect(sh, &img);
        ls_shard_destroy(fb.sh);
        fb.sh = sh;
        feed(&fb, 200, 400, &b);
        assert_true(strstr(a.data, "\"alert\":\"mql\"") != NULL);
        assert_true(strstr(a.data, "\"backfill\":true") != NULL);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        ls_buf_free(&a);
        ls_buf_free(&b);
        ls_buf_free(&img);
        fx_free(&fa);
        fx_free(&fb);
}

/*
 * A format 4 image (before the alert state) loads: each block is the
 * format 5 block (written by ls_shard_save_format) without its alert part, whose size for MODEL is known:
 * 3 attribute values of 64 bytes, then 9 contributions (36 bytes) and
 * 20 hot-ring events of 44 bytes, padded to 8.
 */
static void test_older_image_loads(void **state) {
        const size_t tail = 3 * 64 + ((9 * 4 + 20 * 44 + 7) & ~(size_t)7);
        ls_buf_t img, old;
        ls_shard_t *sh;
        uint32_t fmt = 4, block, klen;
        uint64_t n, i;
        size_t off, hdr = 4 + 4 + 16 + 4;
        ls_lead_view_t v1, v2;
        const ls_output_t *o;
        fx_t fx;

        (void)state;
        fx_init(&fx, MODEL);
        assert_int_equal(fx_profile(&fx, "ada", T0, ADA, 5), LS_OK);
        assert_int_equal(fx_event(&fx, "ada", "x1", "e7", T0 + HOUR, 0), LS_OK);
        assert_int_equal(fx_event(&fx, "ada", "x2", "e7", T0 + 3 * HOUR, 0),
                         LS_OK);
        ls_buf_init(&img);
        ls_buf_init(&old);
        assert_int_equal(ls_shard_save_format(fx.sh, &img, 5), LS_OK);
        memcpy(&block, img.data + hdr, 4);
        ls_buf_append(&old, img.data, 4);
        ls_buf_append(&old, &fmt, 4);
        ls_buf_append(&old, img.data + 8, hdr - 8);
        block -= (uint32_t)tail;
        ls_buf_append(&old, &block, 4);
        off = hdr + 4;
        ls_buf_append(&old, img.data + off, 4 + 8 + 12 * 8);
        off += 4 + 8 + 12 * 8;
        memcpy(&n, img.data + off, 8);
        ls_buf_append(&old, img.data + off, 8);
        off += 8;
        for (i = 0; i < n; i++) {
                memcpy(&klen, img.data + off, 4);
                ls_buf_append(&old, img.data + off, 4 + klen + block);
                off += 4 + klen + block + tail;
        }
        assert_int_equal(off, img.len);
        sh = ls_shard_load(fx.ms, old.data, old.len, fx.err, sizeof(fx.err));
        if (!sh)
                fail_msg("load: %s", fx.err);
        assert_int_equal(ls_shard_lead(sh, "ada", 0, &v1), LS_OK);
        assert_int_equal(ls_shard_lead(fx.sh, "ada", 0, &v2), LS_OK);
        assert_int_equal(v1.total, v2.total);
        assert_int_equal(v1.seq, v2.seq);
        /* scoring goes on; the alert state starts empty */
        ls_shard_destroy(fx.sh);
        fx.sh = sh;
        for (i = 0; i < 9; i++) {
                char id[8];

                snprintf(id, sizeof(id), "y%llu", (unsigned long long)i);
                assert_int_equal(fx_event(&fx, "ada", id, "e8",
                                          T0 + (int64_t)(5 + 2 * i) * HOUR, 0),
                                 LS_OK);
        }
        o = fx_alert(&fx, LS_ALERT_MQL);
        assert_non_null(o);
        assert_int_equal(o->total, 20 + 14 + 72);
        assert_int_equal(o->n_attrs, 0);
        assert_int_equal(o->n_top, 1);
        assert_int_equal(ls_output_items(&fx.ob, o)[0].points, 72);
        ls_buf_free(&img);
        ls_buf_free(&old);
        fx_free(&fx);
}

/* A model reload keeps contributions by rule id and values by name. */
static void test_migrate_keeps_alert_state(void **state) {
        ls_modelset_t *ms2;
        ls_shard_t *sh;
        const ls_output_t *o;
        const ls_alert_item_t *it;
        char *yaml;
        fx_t fx;
        int i;

        (void)state;
        fx_init(&fx, MODEL);
        ada_to_mql(&fx, 0);
        yaml = strdup(MODEL);
        memcpy(strstr(yaml, "min_total: 100"), "min_total: 200", 14);
        assert_int_equal(ls_modelset_load_string(yaml, strlen(yaml), "t2", NULL,
                                                 &ms2, fx.err, sizeof(fx.err)),
                         LS_OK);
        sh = ls_shard_migrate(fx.sh, ms2, fx.err, sizeof(fx.err));
        assert_non_null(sh);
        ls_shard_destroy(fx.sh);
        ls_modelset_destroy(fx.ms);
        fx.sh = sh;
        fx.ms = ms2;
        /* lose MQL (stay 80) and win it back under the new threshold */
        for (i = 0; i < 30 && !fx_alert(&fx, LS_ALERT_MQL_LOST); i++) {
                char id[8];

                snprintf(id, sizeof(id), "u%d", i);
                fx_event(&fx, "ada", id, "unsub", T0 + DAY + i * HOUR, 0);
        }
        o = fx_alert(&fx, LS_ALERT_MQL_LOST);
        assert_non_null(o);
        assert_int_equal(o->n_attrs, 3);
        it = ls_output_items(&fx.ob, o);
        assert_string_equal(it[0].name, "r8");
        assert_int_equal(it[0].points, 80);
        free(yaml);
        fx_free(&fx);
}

/* Avro: the alert read back with avro-c against schemas/alert.avsc. */

static void field(avro_value_t *rec, const char *name, avro_value_t *f) {
        if (avro_value_get_by_name(rec, name, f, NULL))
                fail_msg("no field %s", name);
}

static void get_str(avro_value_t *rec, const char *name, const char *want) {
        avro_value_t f;
        const char *s;
        size_t n;

        if (name)
                field(rec, name, &f);
        else
                f = *rec;
        assert_int_equal(avro_value_get_string(&f, &s, &n), 0);
        if (strcmp(s, want))
                fail_msg("%s: \"%s\" != \"%s\"", name, s, want);
}

static int64_t get_num(avro_value_t *rec, const char *name) {
        avro_value_t f;
        int32_t i32;
        int64_t i64;

        field(rec, name, &f);
        if (avro_value_get_type(&f) == AVRO_INT32) {
                avro_value_get_int(&f, &i32);
                return i32;
        }
        assert_int_equal(avro_value_get_long(&f, &i64), 0);
        return i64;
}

/* @returns the branch of union field @p name, or 0 when it is null. */
static int get_branch(avro_value_t *rec, const char *name, avro_value_t *br) {
        avro_value_t f;
        int disc;

        field(rec, name, &f);
        avro_value_get_discriminant(&f, &disc);
        if (disc)
                avro_value_get_current_branch(&f, br);
        return disc;
}

/* avro-c writes @p v back as the very bytes of @p buf: the encoder wrote
 * the whole record, nothing more. */
static void test_avro_alert_fields(void **state) {
        avro_schema_t s = fx_load_schema("schemas", "alert.avsc");
        avro_value_iface_t *iface = avro_generic_class_from_schema(s);
        avro_value_t v, f, c, w, item, br;
        const ls_output_t *o;
        ls_buf_t buf;
        fx_t fx;
        size_t n;
        int b, i;
        const char *str;

        (void)state;
        fx_init(&fx, MODEL);
        ada_to_mql(&fx, 2 * DAY);
        o = fx_alert(&fx, LS_ALERT_MQL);
        ls_buf_init(&buf);
        assert_int_equal(ls_avro_encode_output(&fx.ob, o, &buf), LS_OK);
        avro_generic_value_new(iface, &v);
        fx_avro_read(&buf, &v);
        fx_avro_same_bytes(&v, &buf);
        get_str(&v, "alert", "mql");
        assert_int_equal(get_branch(&v, "condition", &c), 1);
        assert_int_equal(get_branch(&c, "enter", &br), 1);
        assert_int_equal(get_branch(&br, "min_total", &item), 1);
        avro_value_get_int(&item, &i);
        assert_int_equal(i, 100);
        assert_int_equal(get_branch(&br, "min_grade", &item), 1);
        get_str(&item, NULL, "A");
        assert_int_equal(get_branch(&br, "min_band", &item), 0);
        field(&br, "holds", &f);
        avro_value_get_boolean(&f, &b);
        assert_int_equal(b, 1);
        assert_int_equal(get_branch(&c, "window", &w), 0);
        field(&v, "contributions", &f);
        avro_value_get_size(&f, &n);
        assert_int_equal(n, 1);
        avro_value_get_by_index(&f, 0, &item, NULL);
        get_str(&item, "rule", "r8");
        assert_int_equal(get_num(&item, "points"), 80);
        field(&v, "fit_rules", &f);
        avro_value_get_size(&f, &n);
        assert_int_equal(n, 1);
        field(&v, "attributes", &f);
        avro_value_get_size(&f, &n);
        assert_int_equal(n, 3);
        avro_value_get_by_name(&f, "email", &item, NULL);
        avro_value_get_string(&item, &str, &n);
        assert_string_equal(str, "ada@analytical.example");
        assert_int_equal(get_branch(&v, "record_time", &item), 1);
        field(&v, "backfill", &f);
        avro_value_get_boolean(&f, &b);
        assert_int_equal(b, 1);
        avro_value_decref(&v);
        fx_free(&fx);

        /* a hot_lead: the window with its events */
        fx_init(&fx, MODEL);
        for (i = 0; i < 18; i++) {
                char id[16];

                snprintf(id, sizeof(id), "h%d", i);
                fx_event(&fx, "bo", id, "e1", T0 + i * MIN, 0);
        }
        o = fx_alert(&fx, LS_ALERT_HOT_LEAD);
        assert_non_null(o);
        ls_buf_reset(&buf);
        assert_int_equal(ls_avro_encode_output(&fx.ob, o, &buf), LS_OK);
        avro_generic_value_new(iface, &v);
        fx_avro_read(&buf, &v);
        fx_avro_same_bytes(&v, &buf);
        assert_int_equal(get_branch(&v, "condition", &c), 1);
        assert_int_equal(get_branch(&c, "enter", &br), 0);
        assert_int_equal(get_branch(&c, "window", &w), 1);
        assert_int_equal(get_num(&w, "within_ms"), HOUR);
        assert_int_equal(get_num(&w, "sum"), 18);
        assert_int_equal(get_num(&w, "more"), 2);
        field(&w, "events", &f);
        avro_value_get_size(&f, &n);
        assert_int_equal(n, 16);
        avro_value_get_by_index(&f, 15, &item, NULL);
        get_str(&item, "type", "e1");
        get_str(&item, "id", "h17");
        assert_int_equal(get_num(&item, "time"), T0 + 17 * MIN);
        assert_int_equal(get_branch(&v, "record_time", &item), 0);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(s);
        ls_buf_free(&buf);
        fx_free(&fx);
}

/* Schema evolution against the schema before these fields
 * (tests/unit/alert_v1.avsc): a reader with the old schema resolves an
 * alert written with this one. */
static void test_avro_alert_compat(void **state) {
        avro_schema_t now = fx_load_schema("schemas", "alert.avsc");
        avro_schema_t old = fx_load_schema("tests/unit", "alert_v1.avsc");
        avro_value_iface_t *wiface, *riface;
        avro_value_t wv, rv;
        const ls_output_t *o;
        ls_buf_t buf;
        fx_t fx;

        (void)state;
        fx_init(&fx, MODEL);
        ada_to_mql(&fx, 0);
        o = fx_alert(&fx, LS_ALERT_MQL);
        ls_buf_init(&buf);
        assert_int_equal(ls_avro_encode_output(&fx.ob, o, &buf), LS_OK);
        /* new writer, old reader */
        riface = avro_resolved_writer_new(now, old);
        if (!riface)
                fail_msg("resolve: %s", avro_strerror());
        wiface = avro_generic_class_from_schema(old);
        avro_generic_value_new(wiface, &rv);
        avro_resolved_writer_new_value(riface, &wv);
        avro_resolved_writer_set_dest(&wv, &rv);
        fx_avro_read(&buf, &wv);
        get_str(&rv, "alert", "mql");
        get_str(&rv, "lead_id", "ada");
        assert_int_equal(get_num(&rv, "total"), 100);
        avro_value_decref(&wv);
        avro_value_decref(&rv);
        avro_value_iface_decref(riface);

        /* The other way (an old writer's alert read with this schema,
         * the new fields taking their defaults) needs default filling,
         * which avro-c's resolver lacks: tests/integration/test_alerts.py
         * checks it with the Python avro library. */
        avro_value_iface_decref(wiface);
        avro_schema_decref(now);
        avro_schema_decref(old);
        ls_buf_free(&buf);
        fx_free(&fx);
}

/* A model without alerts keeps no alert state: its block is as before. */
static void test_no_alerts_no_state(void **state) {
        ls_shard_stats_t st;
        fx_t fx;

        (void)state;
        fx_init(&fx, "models:\n"
                     "  - id: m\n"
                     "    engagement:\n"
                     "      rules:\n"
                     "        - {id: r1, event: e1, points: 1}\n"
                     "    grades: [{name: A}]\n"
                     "    bands: [{name: cold}]\n");
        assert_int_equal(fx_event(&fx, "a", "1", "e1", T0, 0), LS_OK);
        ls_shard_stats(fx.sh, &st);
        /* header + 8 dedupe hashes + the model part (ls_lm_t) */
        assert_int_equal(st.lead_model_bytes, 24 + 64 + 64);
        fx_free(&fx);
}

/*
 * Hot-lead rings live in a pool and are given back once no event that is
 * not late can reach them (docs/SEMANTICS.md "Hot lead window"): an entry
 * still within lateness + within of stream time counts for an event
 * within lateness, and a lead whose ring was given back lists its new
 * window exactly as a new lead does.
 */
static void test_ring_given_back_exactly(void **state) {
        const int64_t t1 = T0 + 10 * MIN, s1 = t1 + 2 * HOUR - 1;
        const int64_t s2 = s1 + 2 * HOUR;
        const ls_output_t *o;
        const ls_alert_item_t *it;
        ls_shard_stats_t st;
        size_t with_two, with_none;
        fx_t fx, fresh;
        char id[16];
        int i;

        (void)state;
        fx_init(&fx, MODEL);
        assert_int_equal(fx_event(&fx, "cy", "c-old", "e8", t1, 0), LS_OK);
        /* stream time to one ms short of t1 + lateness (1h) + within (1h),
         * across an hour: the sweep runs, and keeps cy's ring */
        assert_int_equal(fx_event(&fx, "zz", "z1", "e1", s1, 0), LS_OK);
        /* an event as late as lateness allows still counts c-old */
        assert_int_equal(fx_event(&fx, "cy", "c2", "e5", s1 - HOUR, 0), LS_OK);
        assert_null(fx_alert(&fx, LS_ALERT_HOT_LEAD));
        assert_int_equal(fx_event(&fx, "cy", "c3", "e5", s1 - HOUR, 0), LS_OK);
        o = fx_alert(&fx, LS_ALERT_HOT_LEAD);
        assert_non_null(o);
        assert_int_equal(o->hot_sum, 18);
        assert_int_equal(o->n_hot, 3);
        it = ls_output_items(&fx.ob, o) + o->n_top;
        assert_string_equal(ls_alert_item_text(&fx.ob, &it[0]), "c-old");
        assert_int_equal(it[0].time, t1);
        ls_shard_stats(fx.sh, &st);
        with_two = st.lead_model_bytes;
        /* the next sweep (every lateness + within, 2h, of stream time):
         * cy's newest entry (s1 - 1h) and zz's (s1) are out of reach, and
         * their rings are given back */
        assert_int_equal(fx_event(&fx, "zz", "z2", "e0", s2, 0), LS_OK);
        ls_shard_stats(fx.sh, &st);
        with_none = st.lead_model_bytes;
        assert_true(with_none < with_two);
        /* a lead that takes a ring given back (another lead's entries
         * still in its bytes) lists its window as a new lead does: the
         * newest 16, oldest first, 2 more; only its own events count */
        fx_init(&fresh, MODEL);
        for (i = 0; i < 20; i++) {
                const ls_output_t *a, *b;
                int64_t t = s2 + 1 + i * MIN;
                char *ja, *jb;

                snprintf(id, sizeof(id), "m%02d", i);
                assert_int_equal(fx_event(&fresh, "ee", id, "e1", t, 0), LS_OK);
                a = fx_alert(&fresh, LS_ALERT_HOT_LEAD);
                assert_int_equal(fx_event(&fx, "ee", id, "e1", t, 0), LS_OK);
                b = fx_alert(&fx, LS_ALERT_HOT_LEAD);
                assert_true((a != NULL) == (b != NULL));
                if (!a)
                        continue;
                assert_int_equal(a->hot_sum, 18);
                assert_int_equal(a->n_hot, LS_ALERT_HOT_EVENTS);
                assert_int_equal(a->hot_more, 2);
                ja = fx_json(&fresh, a);
                jb = fx_json(&fx, b);
                assert_string_equal(ja, jb);
                free(ja);
                free(jb);
        }
        ls_shard_stats(fx.sh, &st);
        assert_true(st.lead_model_bytes > with_none);
        fx_free(&fresh);
        fx_free(&fx);
}

/*
 * Leads active one at a time over days hold a ring only while it can
 * count: state per lead stays near the block's. Rings are reused, and an
 * image (whose blocks keep the rings' place) does not depend on which
 * lead held a ring before: a shard restored halfway, whose pool has
 * another history, ends with the same image and state.
 */
static void feed_spread(fx_t *fx, int from, int to) {
        char lead[16], id[16];
        int i, k;

        for (i = from; i < to; i++) {
                snprintf(lead, sizeof(lead), "l%03d", i);
                for (k = 0; k <= i % 3; k++) { /* 1, 2 or 3 entries */
                        snprintf(id, sizeof(id), "x%d", k);
                        assert_int_equal(fx_event(fx, lead, id, "e8",
                                                  T0 + i * 10 * MIN + k, 0),
                                         LS_OK);
                }
        }
}

/*
 * Format 6 (@p img6, blocks as in memory, rings after them) and format 5
 * (rings inside the blocks) hold the same state: each loads to a shard
 * that writes the other byte for byte. Format 6 is the smaller.
 */
static void image_formats_agree(fx_t *fx, const ls_buf_t *img6) {
        ls_buf_t img5, again;
        ls_shard_t *sh;

        ls_buf_init(&img5);
        ls_buf_init(&again);
        assert_int_equal(ls_shard_save_format(fx->sh, &img5, 5), LS_OK);
        sh = fx_image_load(fx->ms, &img5);
        fx_image_expect(sh, img6);
        ls_shard_destroy(sh);
        sh = fx_image_load(fx->ms, img6);
        assert_int_equal(ls_shard_save_format(sh, &again, 5), LS_OK);
        assert_int_equal(again.len, img5.len);
        assert_memory_equal(again.data, img5.data, img5.len);
        assert_true(img6->len < img5.len);
        ls_shard_destroy(sh);
        ls_buf_free(&img5);
        ls_buf_free(&again);
}

static void test_rings_memory(void **state) {
        ls_shard_stats_t st, st2;
        ls_buf_t img, mid;
        ls_shard_t *sh;
        size_t block;
        fx_t fx, fy;

        (void)state;
        fx_init(&fx, MODEL);
        fx_init(&fy, MODEL);
        assert_int_equal(fx_profile(&fx, "p", T0, ADA, 5), LS_OK);
        assert_int_equal(fx_profile(&fy, "p", T0, ADA, 5), LS_OK);
        ls_shard_stats(fx.sh, &st);
        block = st.lead_model_bytes; /* a lead without a ring */
        feed_spread(&fx, 0, 300);
        ls_shard_stats(fx.sh, &st);
        /* only the leads of the last 4 hours of 50 hold rings (the reach,
         * 2h, and a sweep period, 2h): about 25 rings of 1,144 bytes over
         * 301 leads, where all 300 would be 1,140 bytes per lead */
        assert_true(st.lead_model_bytes > block);
        assert_true(st.lead_model_bytes - block < 30 * 1144 / 301);
        ls_buf_init(&img);
        ls_buf_init(&mid);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        sh = fx_image_load(fx.ms, &img);
        fx_image_expect(sh, &img);
        ls_shard_stats(sh, &st2);
        assert_int_equal(st2.lead_model_bytes, st.lead_model_bytes);
        assert_int_equal(ls_shard_check(sh, fx.err, sizeof(fx.err)), LS_OK);
        ls_shard_destroy(sh);
        image_formats_agree(&fx, &img);
        /* the same leads, restored at 150 */
        feed_spread(&fy, 0, 150);
        assert_int_equal(ls_shard_save(fy.sh, &mid), LS_OK);
        ls_shard_destroy(fy.sh);
        fy.sh = fx_image_load(fy.ms, &mid);
        feed_spread(&fy, 150, 300);
        fx_image_expect(fy.sh, &img);
        ls_buf_free(&img);
        ls_buf_free(&mid);
        fx_free(&fx);
        fx_free(&fy);
}

/*
 * Attribute values are kept once per shard, counted by the leads holding
 * them: a value many leads share costs its bytes once, a value no lead
 * holds any more is freed, and the table finds every value after many
 * values came and went (deletion in an open-addressing table).
 */
static void test_attribute_values_shared(void **state) {
        ls_strtab_t t;
        uint32_t ids[2000];
        char lead[16], mail[40];
        fx_t fx;
        int i;

        (void)state;
        fx_init(&fx, MODEL);
        for (i = 0; i < 200; i++) {
                ls_kv_t kv[2] = {{"company", "Analytical Engines"},
                                 {"name", "A. Lovelace"}};

                snprintf(lead, sizeof(lead), "s%03d", i);
                assert_int_equal(fx_profile(&fx, lead, T0, kv, 2), LS_OK);
        }
        assert_int_equal(fx.sh->attrs.live, 2);
        assert_int_equal(fx.sh->attrs.bytes, 19 + 12);
        for (i = 0; i < 200; i++) {
                ls_kv_t kv[1] = {{"email", mail}};

                snprintf(lead, sizeof(lead), "s%03d", i);
                snprintf(mail, sizeof(mail), "person.%03d@example.com", i);
                assert_int_equal(fx_profile(&fx, lead, T0 + 1, kv, 1), LS_OK);
        }
        /* two shared values, each once; then 200 distinct ones */
        assert_int_equal(fx.sh->attrs.bytes, 31 + 200 * 23);
        assert_string_equal(ls_attr_val(fx.sh, 7, 2), "Analytical Engines");
        assert_string_equal(ls_attr_val(fx.sh, 7, 1), "person.007@example.com");
        assert_int_equal(fx.sh->attrs.live, 202);
        for (i = 0; i < 200; i++) {
                ls_kv_t kv[3] = {{"company", ""}, {"name", ""}, {"email", ""}};

                snprintf(lead, sizeof(lead), "s%03d", i);
                assert_int_equal(fx_profile(&fx, lead, T0 + 2, kv, 3), LS_OK);
        }
        assert_int_equal(fx.sh->attrs.live, 0);
        assert_int_equal(fx.sh->attrs.bytes, 0);
        fx_free(&fx);

        memset(&t, 0, sizeof(t));
        for (i = 0; i < 2000; i++) {
                snprintf(mail, sizeof(mail), "v%d", i);
                ids[i] = ls_strtab_put(&t, mail, strlen(mail));
                assert_true(ids[i] > 0);
        }
        for (i = 0; i < 2000; i += 3) /* a third goes */
                ls_strtab_drop(&t, ids[i]);
        for (i = 0; i < 2000; i++) {
                uint32_t id;

                snprintf(mail, sizeof(mail), "v%d", i);
                id = ls_strtab_put(&t, mail, strlen(mail));
                if (i % 3)
                        assert_int_equal(id, ids[i]); /* found again */
                assert_string_equal(t.ents[id - 1].s, mail);
                ls_strtab_drop(&t, id);
        }
        assert_int_equal(t.live, 2000 - 667);
        ls_strtab_free(&t);
}

/* A ring of 2 slots, hot at 18 points within an hour (lateness 1h). */
static const char *const TRACK2 =
        "models:\n  - id: m\n    engagement:\n      rules:\n"
        "        - {id: r1, event: e1, points: 1}\n"
        "    grades: [{name: A}]\n    bands: [{name: cold}]\n"
        "    hot: {points: 18, within: 1h, track: 2}\n";

/*
 * The edges of giving rings back: which ring the sweep gives back depends
 * only on the entries a ring holds now (not on ones overwritten), so a
 * restored shard gives back the same; an entry exactly at the bound is
 * given back; an image whose ring position and fill disagree is refused;
 * a set of many models loads; a reload into a model with a ring but no
 * rules keeps the ring.
 */
static void test_ring_edges(void **state) {
        const int64_t b4 = T0 + 4 * HOUR; /* a sweep period starts (2h) */
        const int64_t x = b4 - 2 * HOUR + 10 * MIN;
        ls_buf_t img;
        ls_shard_t *sh;
        fx_t fx, fy;
        size_t n, cap = 1 << 16;
        char *y;
        int i;

        (void)state;
        /* out of order within lateness, the ring wraps: x is overwritten
         * and the entries left (x - 50m, x - 55m) are out of reach at b4 */
        fx_init(&fx, TRACK2);
        assert_int_equal(fx_event(&fx, "L", "a1", "e1", x, 0), LS_OK);
        assert_int_equal(fx_event(&fx, "L", "a2", "e1", x - 50 * MIN, 0),
                         LS_OK);
        assert_int_equal(fx_event(&fx, "L", "a3", "e1", x - 55 * MIN, 0),
                         LS_OK);
        ls_buf_init(&img);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        fx_init(&fy, TRACK2);
        ls_shard_destroy(fy.sh);
        fy.sh = fx_image_load(fy.ms, &img);
        assert_int_equal(fx_event(&fx, "Z", "z1", "e0", b4, 0), LS_OK);
        assert_int_equal(fx_event(&fy, "Z", "z1", "e0", b4, 0), LS_OK);
        assert_int_equal(fx.sh->pools[0].live, 0);
        assert_int_equal(fy.sh->pools[0].live, 0);
        ls_buf_reset(&img);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        fx_image_expect(fy.sh, &img);
        fx_free(&fy);
        /* an entry exactly at stream time - lateness - within goes (an
         * event at stream time - lateness would not count it), one a
         * millisecond later stays */
        assert_int_equal(fx_event(&fx, "M", "m1", "e1", b4 + 10, 0), LS_OK);
        assert_int_equal(fx_event(&fx, "N", "n1", "e1", b4 + 11, 0), LS_OK);
        assert_int_equal(fx.sh->pools[0].live, 2);
        assert_int_equal(fx_event(&fx, "Z", "z2", "e0", b4 + 2 * HOUR + 10, 0),
                         LS_OK);
        assert_int_equal(fx.sh->pools[0].live, 1);
        assert_null(ls_ring(fx.sh, 1, 0)); /* M: lead 1 (Z is none) */
        assert_non_null(ls_ring(fx.sh, 2, 0));
        /* a ring written up to slot 1 whose position says 0 */
        ls_buf_reset(&img);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        {
                const char *key = memmem(img.data, img.len, "\1\0\0\0N", 5);
                unsigned char *block;

                assert_non_null(key);
                block = (unsigned char *)key + 5;
                assert_int_equal(
                        block[fx.sh->model_off[0] + offsetof(ls_lm_t, hot_pos)],
                        1);
                block[fx.sh->model_off[0] + offsetof(ls_lm_t, hot_pos)] = 0;
                assert_null(ls_shard_load(fx.ms, img.data, img.len, fx.err,
                                          sizeof(fx.err)));
                assert_non_null(strstr(fx.err, "hot-lead ring position"));
        }
        fx_free(&fx);
        /* 90 models, each with a ring */
        y = malloc(cap);
        assert_non_null(y);
        n = (size_t)snprintf(y, cap, "models:\n");
        for (i = 0; i < 90; i++)
                n += (size_t)snprintf(
                        y + n, cap - n,
                        "  - id: m%d\n    engagement:\n      rules:\n"
                        "        - {id: r1, event: e1, points: 1}\n"
                        "    grades: [{name: A}]\n    bands: [{name: cold}]\n"
                        "    hot: {points: 18, within: 1h, track: 2}\n",
                        i);
        fx_init(&fx, y);
        free(y);
        assert_int_equal(fx_event(&fx, "L", "a1", "e1", T0, 0), LS_OK);
        ls_buf_reset(&img);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        sh = fx_image_load(fx.ms, &img);
        fx_image_expect(sh, &img);
        ls_shard_destroy(sh);
        fx_free(&fx);
        /* a reload into a model with hot but no rules (no contributions) */
        fx_init(&fx, TRACK2);
        fx_init(&fy, "models:\n  - id: m\n    engagement:\n      rules: []\n"
                     "    grades: [{name: A}]\n    bands: [{name: cold}]\n"
                     "    hot: {points: 18, within: 1h, track: 4}\n");
        assert_int_equal(fx_event(&fx, "L", "a1", "e1", T0, 0), LS_OK);
        sh = ls_shard_migrate(fx.sh, fy.ms, fx.err, sizeof(fx.err));
        if (!sh)
                fail_msg("migrate: %s", fx.err);
        assert_non_null(ls_ring(sh, 0, 0));
        assert_int_equal(ls_ring(sh, 0, 0)->n, 1);
        assert_int_equal(ls_shard_check(sh, fx.err, sizeof(fx.err)), LS_OK);
        ls_shard_destroy(sh);
        fx_free(&fy);
        fx_free(&fx);
        ls_buf_free(&img);
}

/*
 * What an image holds does not depend on a shard's history: value numbers
 * (reused after a value is freed) are not written, and a restored shard
 * sweeps its rings when the live one does, not at its first event.
 */
static void test_images_independent_of_history(void **state) {
        ls_kv_t x[1] = {{"name", "x"}}, y[1] = {{"name", "y"}},
                z[1] = {{"name", "z"}}, none[1] = {{"name", ""}};
        ls_buf_t img, live;
        ls_shard_t *sh;
        fx_t fx;

        (void)state;
        fx_init(&fx, MODEL);
        assert_int_equal(fx_profile(&fx, "A", T0, x, 1), LS_OK);
        assert_int_equal(fx_profile(&fx, "B", T0, y, 1), LS_OK);
        assert_int_equal(fx_profile(&fx, "A", T0 + 1, none, 1), LS_OK);
        assert_int_equal(fx_profile(&fx, "C", T0 + 1, z, 1), LS_OK);
        /* C took x's number: 1 for C, 2 for B here, the other way round
         * in a shard loaded from the image */
        assert_int_equal(*ls_attr_ref(fx.sh, 2, 0), 1);
        ls_buf_init(&img);
        ls_buf_init(&live);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        sh = fx_image_load(fx.ms, &img);
        assert_int_equal(*ls_attr_ref(sh, 2, 0), 2);
        fx_image_expect(sh, &img);
        ls_shard_destroy(sh);
        fx_free(&fx);

        /* a ring kept by the sweep at T0 + 2h (its entry 1h50m), out of
         * reach from T0 + 3h50m on but held until the next period at
         * T0 + 4h: restored in the period, it is held as long */
        fx_init(&fx, TRACK2);
        assert_int_equal(fx_event(&fx, "L", "l1", "e1", T0 + 110 * MIN, 0),
                         LS_OK);
        assert_int_equal(fx_event(&fx, "Z", "z1", "e0", T0 + 121 * MIN, 0),
                         LS_OK);
        ls_buf_reset(&img);
        assert_int_equal(ls_shard_save(fx.sh, &img), LS_OK);
        sh = fx_image_load(fx.ms, &img);
        assert_int_equal(fx_event(&fx, "Z", "z2", "e0", T0 + 235 * MIN, 0),
                         LS_OK);
        assert_int_equal(fx.sh->pools[0].live, 1);
        assert_int_equal(ls_shard_save(fx.sh, &live), LS_OK);
        ls_shard_destroy(fx.sh);
        fx.sh = sh; /* the restored one, the same event */
        assert_int_equal(fx_event(&fx, "Z", "z2", "e0", T0 + 235 * MIN, 0),
                         LS_OK);
        assert_int_equal(fx.sh->pools[0].live, 1);
        fx_image_expect(fx.sh, &live);
        ls_buf_free(&img);
        ls_buf_free(&live);
        fx_free(&fx);
}

static void test_model_keys(void **state) {
        static const char *const bad[] = {
                "models:\n  - id: m\n    alert_attributes: [a, a]\n"
                "    grades: [{name: A}]\n    bands: [{name: c}]\n",
                "models:\n  - id: m\n    alert_attributes: [a, b, c, d, e, "
                "f, g, h, i]\n"
                "    grades: [{name: A}]\n    bands: [{name: c}]\n",
                "models:\n  - id: m\n    alert_attributes: \"\"\n"
                "    grades: [{name: A}]\n    bands: [{name: c}]\n",
                "backfill_after: soon\nmodels:\n  - id: m\n"
                "    grades: [{name: A}]\n    bands: [{name: c}]\n",
        };
        ls_modelset_t *ms;
        char err[512];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(ls_modelset_load_string(bad[i], strlen(bad[i]),
                                                         "t.yaml", NULL, &ms,
                                                         err, sizeof(err)),
                                 LS_ERR_INVALID);
        assert_int_equal(ls_modelset_load_string(MODEL, strlen(MODEL), "t.yaml",
                                                 NULL, &ms, err, sizeof(err)),
                         LS_OK);
        assert_int_equal(ms->backfill_after_ms, DAY);
        assert_int_equal(ms->n_alert_attrs, 3);
        assert_string_equal(ms->alert_attrs[1], "email");
        ls_modelset_destroy(ms);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mql_fields),
                cmocka_unit_test(test_hot_lead_window),
                cmocka_unit_test(test_top_contributions_exact),
                cmocka_unit_test(test_attributes_truncated),
                cmocka_unit_test(test_backfill_from_record_time),
                cmocka_unit_test(test_snapshot_mid_history),
                cmocka_unit_test(test_older_image_loads),
                cmocka_unit_test(test_migrate_keeps_alert_state),
                cmocka_unit_test(test_avro_alert_fields),
                cmocka_unit_test(test_avro_alert_compat),
                cmocka_unit_test(test_no_alerts_no_state),
                cmocka_unit_test(test_model_keys),
                cmocka_unit_test(test_attribute_values_shared),
                cmocka_unit_test(test_ring_edges),
                cmocka_unit_test(test_images_independent_of_history),
                cmocka_unit_test(test_ring_given_back_exactly),
                cmocka_unit_test(test_rings_memory),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
