/*
 * test_scorer.c - the one door (ls_scorer_feed: a verdict per record)
 * and the one order (ls_merge_order / ls_merge_time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_keys.h"
#include "leadscore/ls_merge.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_scorer.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

static void test_merge_order(void **state) {
        /* events (0): 10, 30, 20 (out of order within the topic);
         * profiles (1): one that does not decode, 5, 30, 25 */
        const int64_t time[] = {10, LS_MERGE_NO_TIME, 5, 30, 20, 30, 25};
        const uint8_t topic[] = {0, 1, 1, 0, 0, 1, 1};
        /* the undecodable profile at once; p5; e10; e30 before p30 (a
         * tie goes to the event); e20; then p30 before p25 (offset order
         * within a topic) */
        const size_t want[] = {1, 2, 0, 3, 4, 5, 6};
        size_t order[7], i;

        ls_merge_order(time, topic, 7, order);
        for (i = 0; i < 7; i++)
                assert_int_equal(order[i], want[i]);
        ls_merge_order(NULL, NULL, 0, order);
}

static void test_merge_one_topic(void **state) {
        const int64_t time[] = {3, 2, 1};
        const uint8_t topic[] = {1, 1, 1};
        size_t order[3], i;

        ls_merge_order(time, topic, 3, order);
        for (i = 0; i < 3; i++)
                assert_int_equal(order[i], i);
}

typedef struct fx_s {
        ls_modelset_t *ms;
        ls_shard_t *sh;
        ls_codec_t *codec;
        ls_outbuf_t ob;
        char err[512];
} fx_t;

static void fx_init(fx_t *fx) {
        static const char model[] =
                "lateness: 1h\nmax_future: 1h\nmodels:\n  - id: m\n"
                "    engagement:\n"
                "      rules: [{id: demo, event: demo_request, points: 30}]\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n";
        ls_codec_conf_t cc;

        memset(fx, 0, sizeof(*fx));
        if (ls_modelset_load_string(model, strlen(model), "t.yaml", NULL,
                                    &fx->ms, fx->err, sizeof(fx->err)))
                fail_msg("model: %s", fx->err);
        assert_non_null(fx->sh = ls_shard_new(fx->ms));
        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        cc.max_record_bytes = 512;
        assert_non_null(fx->codec =
                                ls_codec_new(&cc, fx->err, sizeof(fx->err)));
        ls_outbuf_init(&fx->ob);
}

static void fx_free(fx_t *fx) {
        ls_outbuf_free(&fx->ob);
        ls_codec_destroy(fx->codec);
        ls_shard_destroy(fx->sh);
        ls_modelset_destroy(fx->ms);
}

static ls_verdict_t fx_feed(fx_t *fx, ls_record_t *rec, const char *json) {
        ls_err_t err;

        rec->value = json;
        rec->len = strlen(json);
        ls_outbuf_reset(&fx->ob);
        return ls_scorer_feed(fx->codec, rec, &fx->sh, &fx->ob, 1, &err,
                              fx->err, sizeof(fx->err));
}

static void test_verdicts(void **state) {
        char big[600], ev[256];
        fx_t fx;
        ls_record_t rec = {.kind = LS_INPUT_EVENT, .timestamp = -1};
        int32_t p = ls_keys_partition("L1", 2, 4);

        fx_init(&fx);
        snprintf(ev, sizeof(ev),
                 "{\"lead_id\":\"L1\",\"event_id\":\"e1\",\"event_type\":"
                 "\"demo_request\",\"occurred_at\":%lld}",
                 T0);
        /* from a file: no key rule */
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_APPLIED);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_DUPLICATE);
        assert_int_equal(fx_feed(&fx, &rec, "{nope"), LS_V_DECODE);
        memset(big, ' ', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(fx_feed(&fx, &rec, big), LS_V_OVERSIZED);
        assert_non_null(strstr(fx.err, "max_record_bytes 512"));
        /* from a topic: the key rule */
        rec.topic = "events";
        rec.partition_cnt = 4;
        rec.partition = p;
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_KEY);
        rec.key = "L2";
        rec.key_len = 2;
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_KEY);
        rec.key = "L1";
        rec.partition = (p + 1) % 4;
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_PARTITION);
        rec.partition = p;
        /* dated 2 h past its record: future; the stream time stays */
        rec.timestamp = T0 - 2 * 3600000LL;
        snprintf(ev, sizeof(ev),
                 "{\"lead_id\":\"L1\",\"event_id\":\"e2\",\"event_type\":"
                 "\"demo_request\",\"occurred_at\":%lld}",
                 T0 + 3600000LL);
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_FUTURE);
        assert_int_equal(ls_shard_stream_time(fx.sh), T0);
        /* its merge key says so too: it has no place in time */
        rec.value = ev;
        rec.len = strlen(ev);
        assert_true(ls_merge_time(fx.codec, &rec, fx.ms) == LS_MERGE_NO_TIME);
        rec.timestamp = T0 + 3600000LL;
        assert_true(ls_merge_time(fx.codec, &rec, fx.ms) == T0 + 3600000LL);
        /* late, behind stream time by more than lateness */
        rec.timestamp = -1;
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_APPLIED);
        snprintf(ev, sizeof(ev),
                 "{\"lead_id\":\"L1\",\"event_id\":\"e3\",\"event_type\":"
                 "\"demo_request\",\"occurred_at\":%lld}",
                 T0 - 3600001LL);
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_LATE);
        /* profiles: never late; an older one is stale */
        rec.kind = LS_INPUT_PROFILE;
        snprintf(ev, sizeof(ev),
                 "{\"lead_id\":\"L1\",\"updated_at\":%lld,\"attributes\":"
                 "{\"title\":\"VP\"}}",
                 T0 - 86400000LL);
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_APPLIED);
        snprintf(ev, sizeof(ev),
                 "{\"lead_id\":\"L1\",\"updated_at\":%lld,\"attributes\":"
                 "{\"title\":\"CEO\"}}",
                 T0 - 86400001LL);
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_STALE);
        /* the engine's own rejection */
        assert_int_equal(
                fx_feed(&fx, &rec,
                        "{\"lead_id\":\"\",\"updated_at\":1767225600000,"
                        "\"attributes\":{}}"),
                LS_V_INVALID);
        fx_free(&fx);
}

/* Read once, applied later: an input kept with ls_input_dup() outlives
 * the codec's next decode and scores as ls_scorer_feed() would. */
static void test_read_once_apply_later(void **state) {
        fx_t fx, ref;
        ls_record_t rec = {.kind = LS_INPUT_PROFILE, .timestamp = -1};
        ls_input_t in, *kept;
        ls_err_t err;
        char p1[256], p2[256], e1[256];
        size_t i;

        fx_init(&fx);
        fx_init(&ref);
        snprintf(p1, sizeof(p1),
                 "{\"lead_id\":\"L1\",\"updated_at\":%lld,\"attributes\":"
                 "{\"title\":\"CEO\",\"industry\":\"saas\"}}",
                 T0);
        snprintf(p2, sizeof(p2),
                 "{\"lead_id\":\"L2xxxxxxxx\",\"updated_at\":%lld,"
                 "\"attributes\":{\"title\":\"intern\"}}",
                 T0 + 1);
        rec.value = p1;
        rec.len = strlen(p1);
        assert_int_equal(ls_scorer_read(fx.codec, &rec, &in, &err, fx.err,
                                        sizeof(fx.err)),
                         LS_V_APPLIED);
        assert_int_equal(ls_merge_key(fx.ms, LS_V_APPLIED, &in), T0);
        assert_non_null(kept = ls_input_dup(&in));
        /* the codec's buffers now hold another record */
        rec.value = p2;
        rec.len = strlen(p2);
        assert_int_equal(ls_scorer_read(fx.codec, &rec, &in, &err, fx.err,
                                        sizeof(fx.err)),
                         LS_V_APPLIED);
        assert_string_equal(kept->lead_id, "L1");
        assert_int_equal(kept->n_fields, 2);
        for (i = 0; i < kept->n_fields; i++)
                assert_true(!strcmp(kept->fields[i].key, "title")
                                    ? !strcmp(kept->fields[i].value, "CEO")
                                    : !strcmp(kept->fields[i].value, "saas"));
        assert_null(kept->event_id);
        snprintf(e1, sizeof(e1),
                 "{\"lead_id\":\"L1\",\"event_id\":\"e1\",\"event_type\":"
                 "\"demo_request\",\"occurred_at\":%lld}",
                 T0);
        ls_outbuf_reset(&fx.ob);
        assert_int_equal(ls_scorer_apply(kept, &fx.sh, &fx.ob, 1, &err, fx.err,
                                         sizeof(fx.err)),
                         LS_V_APPLIED);
        rec.value = p1;
        rec.len = strlen(p1);
        ls_outbuf_reset(&ref.ob);
        assert_int_equal(ls_scorer_feed(ref.codec, &rec, &ref.sh, &ref.ob, 1,
                                        &err, ref.err, sizeof(ref.err)),
                         LS_V_APPLIED);
        assert_int_equal(fx.ob.n_outs, ref.ob.n_outs);
        rec.kind = LS_INPUT_EVENT;
        assert_int_equal(fx_feed(&fx, &rec, e1), LS_V_APPLIED);
        assert_int_equal(fx_feed(&ref, &rec, e1), LS_V_APPLIED);
        assert_int_equal(fx.ob.n_outs, 1);
        assert_int_equal(fx.ob.outs[0].total, ref.ob.outs[0].total);
        assert_int_equal(fx.ob.outs[0].seq, ref.ob.outs[0].seq);
        /* a rejected read has no merge time */
        assert_int_equal(ls_merge_key(fx.ms, LS_V_DECODE, &in),
                         LS_MERGE_NO_TIME);
        ls_free(kept);
        fx_free(&ref);
        fx_free(&fx);
}

static void test_verdict_names(void **state) {
        int v, rejected = 0;

        for (v = 0; v < LS_V__CNT; v++) {
                assert_non_null(ls_verdict_name((ls_verdict_t)v));
                rejected += ls_verdict_rejected((ls_verdict_t)v);
        }
        /* the dead-letter reasons */
        assert_int_equal(rejected, 9);
        assert_string_equal(ls_verdict_name(LS_V_FUTURE), "future");
        assert_string_equal(ls_verdict_name(LS_V_CAPACITY), "capacity");
        assert_false(ls_verdict_rejected(LS_V_STALE));
        assert_false(ls_verdict_rejected(LS_V_ERROR));
}

/*
 * Clock ticks (LS_TICK_HEADER): a tick moves stream time, so decay fires
 * without another event; it has no lead, no key rule, and the max_future
 * bound of an event; its merge key is its time.
 */
static void test_ticks(void **state) {
        static const char model[] =
                "lateness: 1h\nmax_future: 1h\nmodels:\n  - id: m\n"
                "    engagement:\n"
                "      rules: [{id: demo, event: demo_request, points: 30}]\n"
                "      decay: {steps: [{after: 1d, points: -10}]}\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n";
        char ev[256], errstr[256];
        ls_record_t rec = {.kind = LS_INPUT_EVENT, .timestamp = -1};
        ls_input_t in;
        ls_err_t err;
        fx_t fx;

        (void)state;
        assert_int_equal(ls_tick_parse("1767225600000", 13), T0);
        assert_int_equal(ls_tick_parse("", 0), 0);
        assert_int_equal(ls_tick_parse("0", 1), 0);
        assert_int_equal(ls_tick_parse("-5", 2), 0);
        assert_int_equal(ls_tick_parse("12a", 3), 0);
        assert_int_equal(ls_tick_parse("99999999999999999999", 20), 0);
        assert_int_equal(ls_tick_parse("9999999999999999999", 19), 0);
        assert_int_equal(ls_tick_parse("253402300799999", 15),
                         253402300799999LL);
        assert_int_equal(ls_tick_parse("253402300800000", 15), 0);

        fx_init(&fx);
        ls_shard_destroy(fx.sh);
        ls_modelset_destroy(fx.ms);
        if (ls_modelset_load_string(model, strlen(model), "t.yaml", NULL,
                                    &fx.ms, fx.err, sizeof(fx.err)))
                fail_msg("model: %s", fx.err);
        assert_non_null(fx.sh = ls_shard_new(fx.ms));
        snprintf(ev, sizeof(ev),
                 "{\"lead_id\":\"L1\",\"event_id\":\"e1\",\"event_type\":"
                 "\"demo_request\",\"occurred_at\":%lld}",
                 T0);
        assert_int_equal(fx_feed(&fx, &rec, ev), LS_V_APPLIED);
        assert_int_equal(ls_shard_stream_time(fx.sh), T0);

        /* a tick from a topic: no value, no key, and still no key rule */
        rec.topic = "events";
        rec.partition = 3;
        rec.partition_cnt = 4;
        rec.timestamp = T0 + 86400000;
        rec.tick = T0 + 86400000;
        assert_int_equal(fx_feed(&fx, &rec, ""), LS_V_TICK);
        assert_int_equal(ls_shard_stream_time(fx.sh), T0 + 86400000);
        assert_int_equal(fx.ob.n_outs, 1); /* the decay step */
        assert_int_equal(fx.ob.outs[0].cause, LS_CAUSE_DECAY);
        assert_int_equal(fx.ob.outs[0].total, 20);
        /* an older tick changes nothing */
        rec.tick = T0;
        assert_int_equal(fx_feed(&fx, &rec, ""), LS_V_TICK);
        assert_int_equal(fx.ob.n_outs, 0);
        assert_int_equal(ls_shard_stream_time(fx.sh), T0 + 86400000);
        /* past max_future from its record: future, nothing moves */
        rec.tick = rec.timestamp + 3600001;
        assert_int_equal(fx_feed(&fx, &rec, ""), LS_V_FUTURE);
        assert_non_null(strstr(fx.err, "tick"));
        assert_true(ls_verdict_rejected(LS_V_FUTURE));
        assert_false(ls_verdict_rejected(LS_V_TICK));
        assert_string_equal(ls_verdict_name(LS_V_TICK), "tick");
        assert_int_equal(ls_shard_stream_time(fx.sh), T0 + 86400000);

        /* the merge key of a tick is its time, or none past max_future */
        rec.tick = T0 + 5;
        assert_int_equal(ls_merge_time(fx.codec, &rec, fx.ms), T0 + 5);
        assert_int_equal(ls_scorer_read(fx.codec, &rec, &in, &err, errstr,
                                        sizeof(errstr)),
                         LS_V_APPLIED);
        assert_int_equal(in.kind, LS_INPUT_TICK);
        rec.tick = rec.timestamp + 3600001;
        assert_int_equal(ls_merge_time(fx.codec, &rec, fx.ms),
                         LS_MERGE_NO_TIME);
        fx_free(&fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_merge_order),
                cmocka_unit_test(test_merge_one_topic),
                cmocka_unit_test(test_verdicts),
                cmocka_unit_test(test_verdict_names),
                cmocka_unit_test(test_read_once_apply_later),
                cmocka_unit_test(test_ticks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
