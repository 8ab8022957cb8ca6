/*
 * test_producer.c - the producer of `run` (ls_producer.h) over the real
 * client API against librdkafka's mock cluster (test.mock.num.brokers):
 * outputs with their key and headers, and their input committable only
 * once they are acknowledged; dead letters with their source headers, cut
 * to fit message.max.bytes; a delivery the broker refuses stops the owner
 * and holds back its input's offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "leadscore/ls_config.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_producer.h"
#include "leadscore/ls_scorer.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

typedef struct fx_s {
        ls_config_t *conf;
        ls_modelset_t *ms;
        ls_shard_t *sh;
        ls_codec_t *codec;
        ls_outbuf_t ob;
        ls_log_t *log;
        ls_metrics_t *metrics;
        ls_kafka_env_t env;
        ls_producer_t *prod;
        rd_kafka_mock_cluster_t *mc;
        int fatals;
        char fatal_msg[1024];
        char err[512];
} fx_t;

static void fx_fatal(void *owner, ls_err_t err, const char *msg) {
        fx_t *fx = owner;

        (void)err;
        if (fx->fatals++ == 0)
                snprintf(fx->fatal_msg, sizeof(fx->fatal_msg), "%s", msg);
}

static int fx_failed(void *owner) {
        return ((fx_t *)owner)->fatals > 0;
}

/* A producer on its own mock cluster; @p max_bytes: its
 * message.max.bytes (NULL: the default). */
static void fx_init(fx_t *fx, const char *max_bytes) {
        static const char model[] =
                "lateness: 1h\nmax_future: 1h\nmodels:\n  - id: m\n"
                "    engagement:\n"
                "      rules: [{id: demo, event: demo_request, points: 30}]\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n";
        const char *topics[3];
        ls_codec_conf_t cc;
        ls_producer_conf_t pc;
        int i;

        memset(fx, 0, sizeof(*fx));
        assert_non_null(fx->conf = ls_config_new_defaults());
        assert_int_equal(
                ls_props_set(&fx->conf->kafka, "test.mock.num.brokers", "1"),
                LS_OK);
        if (max_bytes)
                assert_int_equal(ls_props_set(&fx->conf->producer,
                                              "message.max.bytes", max_bytes),
                                 LS_OK);
        if (ls_modelset_load_string(model, strlen(model), "t.yaml", NULL,
                                    &fx->ms, fx->err, sizeof(fx->err)))
                fail_msg("model: %s", fx->err);
        assert_non_null(fx->sh = ls_shard_new(fx->ms));
        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        cc.max_record_bytes = 1 << 20;
        assert_non_null(fx->codec =
                                ls_codec_new(&cc, fx->err, sizeof(fx->err)));
        ls_outbuf_init(&fx->ob);
        assert_non_null(
                fx->log = ls_log_new(LS_LOG_LOGFMT, LS_LOG_ERROR, stderr));
        assert_non_null(fx->metrics = ls_metrics_new());
        fx->env.log = fx->log;
        fx->env.metrics = fx->metrics;
        fx->env.fatal = fx_fatal;
        fx->env.failed = fx_failed;
        fx->env.owner = fx;
        memset(&pc, 0, sizeof(pc));
        pc.conf = fx->conf;
        pc.codec = fx->codec;
        pc.env = &fx->env;
        pc.metrics.delivered =
                ls_metrics_counter(fx->metrics, "delivered", "d", NULL);
        fx->prod = ls_producer_new(&pc, fx->err, sizeof(fx->err));
        if (!fx->prod)
                fail_msg("producer: %s", fx->err);
        fx->mc = rd_kafka_handle_mock_cluster(ls_producer_rk(fx->prod));
        assert_non_null(fx->mc);
        topics[0] = fx->conf->topic_scores;
        topics[1] = fx->conf->topic_alerts;
        topics[2] = fx->conf->topic_dead_letters;
        for (i = 0; i < 3; i++)
                assert_int_equal(
                        rd_kafka_mock_topic_create(fx->mc, topics[i], 1, 1),
                        RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void fx_free(fx_t *fx) {
        ls_producer_destroy(fx->prod);
        ls_metrics_destroy(fx->metrics);
        ls_log_destroy(fx->log);
        ls_outbuf_free(&fx->ob);
        ls_codec_destroy(fx->codec);
        ls_shard_destroy(fx->sh);
        ls_modelset_destroy(fx->ms);
        ls_config_destroy(fx->conf);
}

/* Scores one demo_request event of lead @p lead into fx->ob. */
static void fx_score(fx_t *fx, const char *lead, const char *event_id) {
        ls_record_t rec = {.kind = LS_INPUT_EVENT, .timestamp = -1};
        char ev[256];
        ls_err_t err;

        snprintf(ev, sizeof(ev),
                 "{\"lead_id\":\"%s\",\"event_id\":\"%s\",\"event_type\":"
                 "\"demo_request\",\"occurred_at\":%lld}",
                 lead, event_id, T0);
        rec.value = ev;
        rec.len = strlen(ev);
        ls_outbuf_reset(&fx->ob);
        assert_int_equal(ls_scorer_feed(fx->codec, &rec, &fx->sh, &fx->ob, 1,
                                        &err, fx->err, sizeof(fx->err)),
                         LS_V_APPLIED);
        assert_int_equal(fx->ob.n_outs, 1);
}

/* Reads the first record of @p topic [0] from the mock cluster with a
 * consumer of its own (*@p rkp, for fx_read_free()). */
static rd_kafka_message_t *fx_read(fx_t *fx, const char *topic,
                                   rd_kafka_t **rkp) {
        const ls_kafka_prop_t props[] = {
                {"bootstrap.servers", rd_kafka_mock_cluster_bootstraps(fx->mc)},
                {"group.id", "test"},
                {"enable.auto.commit", "false"},
        };
        const ls_kafka_opts_t o = {
                .role = LS_KAFKA_RAW_CONSUMER, .props = props, .props_cnt = 3};
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_message_t *rkm = NULL;
        rd_kafka_t *rk;
        int i;

        rk = ls_kafka_client_new(&o, fx->err, sizeof(fx->err));
        assert_non_null(rk);
        parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, topic, 0)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        assert_int_equal(rd_kafka_assign(rk, parts), 0);
        rd_kafka_topic_partition_list_destroy(parts);
        for (i = 0; i < 100 && !rkm; i++) {
                rkm = rd_kafka_consumer_poll(rk, 100);
                if (rkm && rkm->err) {
                        rd_kafka_message_destroy(rkm);
                        rkm = NULL;
                }
        }
        assert_non_null(rkm);
        *rkp = rk;
        return rkm;
}

static void fx_read_free(rd_kafka_message_t *rkm, rd_kafka_t *rk) {
        rd_kafka_message_destroy(rkm);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

/* Header @p name of record @p m, as a string. */
static void assert_header(const rd_kafka_message_t *m, const char *name,
                          const char *want) {
        rd_kafka_headers_t *hdrs;
        const void *v;
        size_t n;

        assert_int_equal(
                rd_kafka_message_headers((rd_kafka_message_t *)m, &hdrs),
                RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(rd_kafka_header_get_last(hdrs, name, &v, &n),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(v, want, n);
}

static void test_outputs_and_offsets(void **state) {
        ls_producer_stats_t st;
        ls_producer_input_t in;
        ls_offsets_t off;
        rd_kafka_message_t *m;
        rd_kafka_t *rk;
        char id[256];
        fx_t fx;

        (void)state;
        fx_init(&fx, NULL);
        ls_offsets_init(&off);
        memset(&in, 0, sizeof(in));
        in.off = &off;
        in.topic = "lead-events";
        assert_int_equal(ls_offsets_push(&off, 10, &in.seq), 0);
        fx_score(&fx, "L1", "e1");
        assert_int_equal(ls_producer_emit(fx.prod, &fx.ob, &in), LS_OK);
        /* in flight: nothing committable yet */
        assert_int_equal(ls_offsets_advance(&off), -1);
        ls_producer_flush(fx.prod);
        assert_int_equal(ls_offsets_advance(&off), 11);
        ls_producer_stats(fx.prod, &st);
        assert_int_equal(st.outputs, 1);
        assert_int_equal(st.alerts, 0);
        assert_int_equal(st.delivered, 1);
        assert_int_equal(st.delivery_failures, 0);
        assert_int_equal(fx.fatals, 0);

        m = fx_read(&fx, fx.conf->topic_scores, &rk);
        assert_int_equal(m->key_len, 2);
        assert_memory_equal(m->key, "L1", 2);
        assert_non_null(memchr(m->payload, 'L', m->len));
        assert_header(m, "leadscore.model", "m");
        assert_header(m, "leadscore.model_version",
                      fx.ob.outs[0].model->version);
        assert_true(ls_output_id(&fx.ob.outs[0], id, sizeof(id)) <
                    (int)sizeof(id));
        assert_header(m, "leadscore.id", id);
        fx_read_free(m, rk);
        ls_offsets_free(&off);
        fx_free(&fx);
}

/* An output id is never cut short: a lead id longer than any decoder lets
 * through (LS_LEAD_ID_MAX) makes an id that does not fit, and encoding
 * says so and adds no output. */
static void test_encode_refuses_a_cut_id(void **state) {
        char lead[LS_OUTPUT_ID_MAX + 2], err[512];
        ls_encoded_t enc;
        fx_t fx;

        (void)state;
        fx_init(&fx, NULL);
        fx_score(&fx, "L2", "e1");
        memset(lead, 'x', sizeof(lead) - 1);
        lead[sizeof(lead) - 1] = '\0';
        fx.ob.outs[0].lead_id = lead;
        ls_encoded_init(&enc);
        assert_int_equal(ls_producer_encode(fx.codec, fx.conf, &fx.ob, &enc,
                                            err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "is longer than"));
        assert_int_equal(enc.n_outs, 0);
        /* the longest lead id a decoder lets through is produced whole */
        lead[LS_LEAD_ID_MAX] = '\0';
        ls_encoded_reset(&enc);
        assert_int_equal(ls_producer_encode(fx.codec, fx.conf, &fx.ob, &enc,
                                            err, sizeof(err)),
                         LS_OK);
        assert_int_equal(enc.n_outs, fx.ob.n_outs);
        assert_memory_equal(enc.data.data + enc.outs[0].id_off, lead,
                            LS_LEAD_ID_MAX);
        ls_encoded_free(&enc);
        fx.ob.outs[0].lead_id = "L2";
        fx_free(&fx);
}

/* What a worker encodes (ls_producer_encode()) is what the producer sends:
 * the codec's bytes, the lead id as key, the output id; and
 * ls_producer_emit_encoded() produces it with the input's ticket. */
static void test_encode_then_emit(void **state) {
        ls_producer_input_t in;
        ls_encoded_t enc;
        ls_offsets_t off;
        ls_buf_t want;
        rd_kafka_message_t *m;
        rd_kafka_t *rk;
        char id[256], err[512];
        fx_t fx;

        (void)state;
        fx_init(&fx, NULL);
        fx_score(&fx, "L2", "e1");
        ls_encoded_init(&enc);
        assert_int_equal(ls_producer_encode(fx.codec, fx.conf, &fx.ob, &enc,
                                            err, sizeof(err)),
                         LS_OK);
        assert_int_equal(enc.n_outs, fx.ob.n_outs);
        assert_int_equal(enc.outs[0].alert, 0);
        assert_ptr_equal(enc.outs[0].model, fx.ob.outs[0].model);
        assert_int_equal(enc.outs[0].key_len, 2);
        assert_memory_equal(enc.data.data + enc.outs[0].key_off, "L2", 2);
        ls_output_id(&fx.ob.outs[0], id, sizeof(id));
        assert_int_equal(enc.outs[0].id_len, strlen(id));
        assert_memory_equal(enc.data.data + enc.outs[0].id_off, id, strlen(id));
        ls_buf_init(&want);
        assert_int_equal(ls_codec_encode_output(fx.codec, fx.conf->topic_scores,
                                                &fx.ob, &fx.ob.outs[0], &want,
                                                err, sizeof(err)),
                         LS_OK);
        assert_int_equal(enc.outs[0].value_len, want.len);
        assert_memory_equal(enc.data.data + enc.outs[0].value_off, want.data,
                            want.len);

        ls_offsets_init(&off);
        memset(&in, 0, sizeof(in));
        in.off = &off;
        in.topic = "lead-events";
        assert_int_equal(ls_offsets_push(&off, 5, &in.seq), 0);
        assert_int_equal(ls_producer_emit_encoded(fx.prod, &enc, &in), LS_OK);
        assert_int_equal(ls_offsets_advance(&off), -1); /* in flight */
        ls_producer_flush(fx.prod);
        assert_int_equal(ls_offsets_advance(&off), 6);
        m = fx_read(&fx, fx.conf->topic_scores, &rk);
        assert_int_equal(m->len, want.len);
        assert_memory_equal(m->payload, want.data, want.len);
        assert_header(m, "leadscore.id", id);
        fx_read_free(m, rk);
        ls_buf_free(&want);
        ls_encoded_free(&enc);
        ls_offsets_free(&off);
        fx_free(&fx);
}

/* A record as the consumer hands it over: @p len bytes of value. */
static rd_kafka_message_t fx_input(rd_kafka_topic_t *rkt, char *value,
                                   size_t len) {
        rd_kafka_message_t rkm;

        memset(&rkm, 0, sizeof(rkm));
        rkm.rkt = rkt;
        rkm.partition = 2;
        rkm.offset = 77;
        rkm.payload = value;
        rkm.len = len;
        rkm.key = "L9";
        rkm.key_len = 2;
        return rkm;
}

static void test_dead_letter_cut_to_fit(void **state) {
        ls_producer_stats_t st;
        ls_producer_input_t in;
        ls_offsets_t off;
        rd_kafka_topic_t *rkt;
        rd_kafka_message_t rkm, *m;
        rd_kafka_t *rk;
        char *value;
        fx_t fx;

        (void)state;
        fx_init(&fx, "20000");
        ls_offsets_init(&off);
        memset(&in, 0, sizeof(in));
        in.off = &off;
        in.topic = "lead-events";
        in.partition = 2;
        assert_int_equal(ls_offsets_push(&off, 77, &in.seq), 0);
        value = malloc(50000);
        assert_non_null(value);
        memset(value, 'x', 50000);
        rkt = rd_kafka_topic_new(ls_producer_rk(fx.prod), "lead-events", NULL);
        assert_non_null(rkt);
        rkm = fx_input(rkt, value, 50000);
        ls_producer_dead_letter(fx.prod, &rkm, &in, "decode", "not JSON");
        ls_producer_flush(fx.prod);
        assert_int_equal(fx.fatals, 0);
        assert_int_equal(ls_offsets_advance(&off), 78);
        ls_producer_stats(fx.prod, &st);
        assert_int_equal(st.dead_letters, 1);
        assert_int_equal(
                (int)ls_metric_value(ls_metrics_counter(
                        fx.metrics, "leadscore_dead_letters_total",
                        "Input records sent to the dead-letter topic, by "
                        "reason.",
                        "reason=\"decode\"")),
                1);

        m = fx_read(&fx, fx.conf->topic_dead_letters, &rk);
        assert_true(m->len < 20000);
        assert_memory_equal(m->key, "L9", 2);
        assert_header(m, "leadscore.reason", "decode");
        assert_header(m, "leadscore.error", "not JSON");
        assert_header(m, "leadscore.source.topic", "lead-events");
        assert_header(m, "leadscore.source.partition", "2");
        assert_header(m, "leadscore.source.offset", "77");
        assert_header(m, "leadscore.truncated", "50000");
        fx_read_free(m, rk);
        rd_kafka_topic_destroy(rkt);
        free(value);
        ls_offsets_free(&off);
        fx_free(&fx);
}

/* The broker refuses a record for good: the owner hears why, naming the
 * input, and the input's offset stays uncommitted. */
static void test_failed_delivery_holds_offset(void **state) {
        ls_producer_stats_t st;
        ls_producer_input_t in;
        ls_offsets_t off;
        fx_t fx;

        (void)state;
        fx_init(&fx, NULL);
        ls_offsets_init(&off);
        memset(&in, 0, sizeof(in));
        in.off = &off;
        in.topic = "lead-events";
        in.partition = 0;
        assert_int_equal(ls_offsets_push(&off, 100, &in.seq), 0);
        fx_score(&fx, "L1", "e1");
        assert_int_equal(ls_producer_emit(fx.prod, &fx.ob, &in), LS_OK);
        ls_producer_flush(fx.prod);
        assert_int_equal(ls_offsets_advance(&off), 101);

        rd_kafka_mock_push_request_errors(
                fx.mc, 0 /* Produce */, 1,
                RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        assert_int_equal(ls_offsets_push(&off, 101, &in.seq), 0);
        fx_score(&fx, "L2", "e2");
        assert_int_equal(ls_producer_emit(fx.prod, &fx.ob, &in), LS_OK);
        ls_producer_flush(fx.prod);
        ls_producer_stats(fx.prod, &st);
        assert_int_equal(st.delivery_failures, 1);
        assert_int_equal(fx.fatals, 1);
        assert_non_null(strstr(fx.fatal_msg, "input lead-events [0] offset "
                                             "101 and later are not "
                                             "committed"));
        assert_int_equal(ls_offsets_advance(&off), 101);
        ls_offsets_free(&off);
        fx_free(&fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_outputs_and_offsets),
                cmocka_unit_test(test_encode_then_emit),
                cmocka_unit_test(test_encode_refuses_a_cut_id),
                cmocka_unit_test(test_dead_letter_cut_to_fit),
                cmocka_unit_test(test_failed_delivery_holds_offset),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
