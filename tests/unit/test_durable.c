/*
 * test_durable.c - snapshots with commits (ls_durable.h), over a snapshot
 * directory and a consumer of librdkafka's mock cluster (where each input
 * log begins): a partition with no snapshot starts empty, a snapshot
 * makes its offsets committable and restores them, an unusable snapshot
 * stops the run unless snapshot.allow_reset, the commit rules, and the
 * group's offsets committed and read back.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_durable.h"
#include "leadscore/ls_scorer.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

typedef struct fx_s {
        char dir[64];
        ls_config_t *conf;
        ls_modelset_t *ms;
        ls_codec_t *codec;
        ls_log_t *log;
        ls_metrics_t *metrics;
        ls_kafka_env_t env;
        ls_metric_t *restores[LS_DURABLE_RESTORE__CNT];
        rd_kafka_t *consumer;
        int fatals;
        char fatal_msg[8192];
        char err[512];
} fx_t;

static void fx_fatal(void *owner, ls_err_t err, const char *msg) {
        fx_t *fx = owner;

        (void)err;
        if (fx->fatals++ == 0)
                snprintf(fx->fatal_msg, sizeof(fx->fatal_msg), "%s", msg);
}

static void fx_init(fx_t *fx) {
        static const char model[] =
                "lateness: 1h\nmax_future: 1h\nmodels:\n  - id: m\n"
                "    engagement:\n"
                "      rules: [{id: demo, event: demo_request, points: 30}]\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n";
        static const ls_kafka_prop_t props[] = {{"test.mock.num.brokers", "1"},
                                                {"group.id", "test"}};
        const ls_kafka_opts_t ko = {
                .role = LS_KAFKA_RAW_CONSUMER, .props = props, .props_cnt = 2};
        rd_kafka_mock_cluster_t *mc;
        ls_codec_conf_t cc;
        int i;

        memset(fx, 0, sizeof(*fx));
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/ls-durtest-XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        assert_non_null(fx->conf = ls_config_new_defaults());
        assert_non_null(fx->conf->snapshot_dir = ls_strdup(fx->dir));
        if (ls_modelset_load_string(model, strlen(model), "t.yaml", NULL,
                                    &fx->ms, fx->err, sizeof(fx->err)))
                fail_msg("model: %s", fx->err);
        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        cc.max_record_bytes = 4096;
        assert_non_null(fx->codec =
                                ls_codec_new(&cc, fx->err, sizeof(fx->err)));
        assert_non_null(
                fx->log = ls_log_new(LS_LOG_LOGFMT, LS_LOG_ERROR, stderr));
        assert_non_null(fx->metrics = ls_metrics_new());
        fx->env.log = fx->log;
        fx->env.metrics = fx->metrics;
        fx->env.fatal = fx_fatal;
        fx->env.owner = fx;
        for (i = 0; i < LS_DURABLE_RESTORE__CNT; i++) {
                char labels[64];
                snprintf(labels, sizeof(labels), "result=\"%s\"",
                         ls_durable_restore2str((ls_durable_restore_t)i));
                fx->restores[i] = ls_metrics_counter(fx->metrics, "restores",
                                                     "r", labels);
        }
        /* the input topics, empty: their logs begin at offset 0 */
        fx->consumer = ls_kafka_client_new(&ko, fx->err, sizeof(fx->err));
        assert_non_null(fx->consumer);
        mc = rd_kafka_handle_mock_cluster(fx->consumer);
        assert_non_null(mc);
        assert_int_equal(
                rd_kafka_mock_topic_create(mc, fx->conf->topic_events, 2, 1),
                RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(
                rd_kafka_mock_topic_create(mc, fx->conf->topic_profiles, 2, 1),
                RD_KAFKA_RESP_ERR_NO_ERROR);
}

static ls_durable_t *fx_durable(fx_t *fx) {
        ls_durable_conf_t dc;
        ls_durable_t *d;

        memset(&dc, 0, sizeof(dc));
        dc.conf = fx->conf;
        dc.env = &fx->env;
        memcpy(dc.restores, fx->restores, sizeof(dc.restores));
        d = ls_durable_new(&dc, fx->err, sizeof(fx->err));
        assert_non_null(d);
        return d;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static void fx_free(fx_t *fx) {
        rd_kafka_destroy(fx->consumer);
        ls_metrics_destroy(fx->metrics);
        ls_log_destroy(fx->log);
        ls_codec_destroy(fx->codec);
        ls_modelset_destroy(fx->ms);
        ls_config_destroy(fx->conf);
        nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static double fx_count(const fx_t *fx, ls_durable_restore_t r) {
        return ls_metric_value(fx->restores[r]);
}

/* A shard holding one lead. */
static ls_shard_t *fx_shard(fx_t *fx) {
        ls_record_t rec = {.kind = LS_INPUT_EVENT, .timestamp = -1};
        ls_shard_t *sh = ls_shard_new(fx->ms);
        ls_outbuf_t ob;
        char ev[256];
        ls_err_t err;

        assert_non_null(sh);
        snprintf(ev, sizeof(ev),
                 "{\"lead_id\":\"L1\",\"event_id\":\"e1\",\"event_type\":"
                 "\"demo_request\",\"occurred_at\":%lld}",
                 T0);
        rec.value = ev;
        rec.len = strlen(ev);
        ls_outbuf_init(&ob);
        assert_int_equal(ls_scorer_feed(fx->codec, &rec, &sh, &ob, 1, &err,
                                        fx->err, sizeof(fx->err)),
                         LS_V_APPLIED);
        ls_outbuf_free(&ob);
        return sh;
}

static size_t leads(const ls_shard_t *sh) {
        ls_shard_stats_t st;

        ls_shard_stats(sh, &st);
        return st.leads;
}

static void test_no_snapshot_starts_empty(void **state) {
        ls_durable_part_t dp;
        ls_shard_t *sh;
        ls_durable_t *d;
        fx_t fx;

        (void)state;
        fx_init(&fx);
        d = fx_durable(&fx);
        assert_true(ls_durable_on(d));
        memset(&dp, 0, sizeof(dp));
        assert_int_equal(ls_durable_restore(d, &dp, 1, fx.ms, fx.consumer, &sh),
                         0);
        assert_non_null(sh);
        assert_int_equal(leads(sh), 0);
        assert_int_equal(dp.next[0], -1);
        assert_int_equal(dp.durable[1], -1);
        assert_true(fx_count(&fx, LS_DURABLE_EMPTY) == 1);
        assert_int_equal(fx.fatals, 0);
        ls_shard_destroy(sh);
        ls_durable_destroy(d);
        fx_free(&fx);
}

static void test_snapshot_commit_restore(void **state) {
        ls_durable_part_t dp, back;
        ls_shard_t *sh, *again;
        ls_durable_t *d;
        fx_t fx;

        (void)state;
        fx_init(&fx);
        d = fx_durable(&fx);
        memset(&dp, 0, sizeof(dp));
        assert_int_equal(ls_durable_restore(d, &dp, 0, fx.ms, fx.consumer, &sh),
                         0);
        ls_shard_destroy(sh);
        sh = fx_shard(&fx);
        ls_durable_applied(&dp, 0, 41);
        ls_durable_applied(&dp, 1, 7);
        assert_int_equal(dp.next[0], 42);
        assert_int_equal(dp.next[1], 8);
        assert_true(dp.dirty);
        assert_int_equal(dp.applied_since_snap, 2);
        /* acknowledged but not durable yet: nothing to commit */
        assert_int_equal(ls_durable_committable(d, &dp, 0, 42), -1);

        assert_int_equal(ls_durable_snapshot(d, &dp, 0, sh, fx.ms, "test"), 0);
        assert_false(dp.dirty);
        assert_int_equal(dp.applied_since_snap, 0);
        assert_int_equal(dp.durable[0], 42);
        assert_int_equal(dp.durable[1], 8);
        assert_true(dp.snap_bytes > 0);
        /* the smaller of acknowledged and durable */
        assert_int_equal(ls_durable_committable(d, &dp, 0, 40), 40);
        assert_int_equal(ls_durable_committable(d, &dp, 0, 50), 42);
        assert_int_equal(ls_durable_committable(d, &dp, 1, -1), -1);

        memset(&back, 0, sizeof(back));
        assert_int_equal(
                ls_durable_restore(d, &back, 0, fx.ms, fx.consumer, &again), 0);
        assert_int_equal(back.next[0], 42);
        assert_int_equal(back.durable[1], 8);
        assert_false(back.dirty);
        assert_int_equal(leads(again), 1);
        assert_true(fx_count(&fx, LS_DURABLE_RESTORED) == 1);
        assert_int_equal(fx.fatals, 0);
        ls_shard_destroy(again);
        ls_shard_destroy(sh);
        ls_durable_destroy(d);
        fx_free(&fx);
}

static int corrupt_entry(const char *path, const struct stat *st, int flag,
                         struct FTW *ftw) {
        FILE *fp;

        (void)ftw;
        if (flag != FTW_F || st->st_size < 64)
                return 0;
        fp = fopen(path, "r+b");
        assert_non_null(fp);
        fseek(fp, st->st_size / 2, SEEK_SET);
        fputc(0x5a ^ fgetc(fp), fp);
        fseek(fp, st->st_size / 2, SEEK_SET);
        fputs("corrupt", fp);
        fclose(fp);
        return 0;
}

/* Never silently empty: a partition whose snapshots are all unusable
 * stops the run, unless snapshot.allow_reset starts it over. */
static void test_unusable_snapshot(void **state) {
        ls_durable_part_t dp;
        ls_shard_t *sh;
        ls_durable_t *d;
        fx_t fx;

        (void)state;
        fx_init(&fx);
        d = fx_durable(&fx);
        memset(&dp, 0, sizeof(dp));
        sh = fx_shard(&fx);
        ls_durable_applied(&dp, 0, 3);
        ls_durable_applied(&dp, 1, 3);
        assert_int_equal(ls_durable_snapshot(d, &dp, 1, sh, fx.ms, NULL), 0);
        ls_shard_destroy(sh);
        assert_int_equal(nftw(fx.dir, corrupt_entry, 16, FTW_PHYS), 0);

        assert_int_equal(ls_durable_restore(d, &dp, 1, fx.ms, fx.consumer, &sh),
                         -1);
        assert_null(sh);
        assert_int_equal(fx.fatals, 1);
        assert_non_null(strstr(fx.fatal_msg, "none usable"));
        assert_non_null(strstr(fx.fatal_msg, "snapshot.allow_reset: true"));

        fx.conf->snapshot_allow_reset = 1;
        assert_int_equal(ls_durable_restore(d, &dp, 1, fx.ms, fx.consumer, &sh),
                         0);
        assert_non_null(sh);
        assert_int_equal(leads(sh), 0);
        assert_int_equal(dp.next[0], -1);
        assert_true(fx_count(&fx, LS_DURABLE_RESET) == 1);
        assert_int_equal(fx.fatals, 1);
        ls_shard_destroy(sh);
        ls_durable_destroy(d);
        fx_free(&fx);
}

/* `snapshot: off`, the schedule, and the transactional offset. */
static void test_rules(void **state) {
        ls_durable_part_t dp;
        ls_shard_t *sh;
        ls_durable_t *d;
        fx_t fx;

        (void)state;
        fx_init(&fx);
        memset(&dp, 0, sizeof(dp));
        dp.durable[0] = 5;
        /* no snapshots: acknowledged is committable */
        assert_false(ls_durable_on(NULL));
        assert_int_equal(ls_durable_committable(NULL, &dp, 0, 9), 9);
        ls_free(fx.conf->snapshot_dir);
        fx.conf->snapshot_dir = NULL;
        d = fx_durable(&fx);
        assert_false(ls_durable_on(d));
        assert_int_equal(ls_durable_committable(d, &dp, 0, 9), 9);
        assert_false(ls_durable_interval_due(d));
        assert_int_equal(ls_durable_restore(d, &dp, 0, fx.ms, NULL, &sh), 0);
        assert_non_null(sh);
        ls_shard_destroy(sh);
        ls_durable_destroy(d);

        /* the schedule */
        fx.conf->snapshot_dir = ls_strdup(fx.dir);
        fx.conf->snapshot_interval_ms = 0;
        fx.conf->snapshot_every_events = 2;
        d = fx_durable(&fx);
        assert_true(ls_durable_interval_due(d));
        fx.conf->snapshot_interval_ms = 3600000;
        ls_durable_scheduled(d);
        assert_false(ls_durable_interval_due(d));
        memset(&dp, 0, sizeof(dp));
        ls_durable_applied(&dp, 0, 0);
        assert_false(ls_durable_events_due(d, &dp));
        ls_durable_applied(&dp, 1, 0);
        assert_true(ls_durable_events_due(d, &dp));
        ls_durable_destroy(d);

        /* transactional: the offset after the last applied, never back */
        dp.next[0] = 10;
        assert_int_equal(ls_durable_txn_offset(&dp, 0, 4), 10);
        assert_int_equal(ls_durable_txn_offset(&dp, 0, 10), -1);
        assert_int_equal(ls_durable_txn_offset(&dp, 0, 12), -1);
        fx_free(&fx);
}

/* The group's offsets: committed, then read back; nothing to commit is
 * no commit. */
static void test_commit_and_read_back(void **state) {
        rd_kafka_topic_partition_list_t *offsets, *com = NULL;
        atomic_int stop;
        ls_durable_t *d;
        fx_t fx;

        (void)state;
        fx_init(&fx);
        atomic_init(&stop, 0);
        d = fx_durable(&fx);
        offsets = rd_kafka_topic_partition_list_new(2);
        assert_int_equal(ls_durable_commit(d, fx.consumer, NULL, offsets), 0);
        rd_kafka_topic_partition_list_add(offsets, fx.conf->topic_events, 1)
                ->offset = 42;
        rd_kafka_topic_partition_list_add(offsets, fx.conf->topic_profiles, 1)
                ->offset = 8;
        assert_int_equal(ls_durable_commit(d, fx.consumer, NULL, offsets), 1);
        assert_int_equal(offsets->elems[0].err, 0);
        assert_int_equal(
                ls_durable_committed(d, fx.consumer, offsets, &stop, &com), 0);
        assert_non_null(com);
        assert_int_equal(com->cnt, 2);
        assert_int_equal(com->elems[0].offset, 42);
        assert_int_equal(com->elems[1].offset, 8);
        rd_kafka_topic_partition_list_destroy(com);
        rd_kafka_topic_partition_list_destroy(offsets);
        assert_int_equal(fx.fatals, 0);
        ls_durable_destroy(d);
        fx_free(&fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_snapshot_starts_empty),
                cmocka_unit_test(test_snapshot_commit_restore),
                cmocka_unit_test(test_unusable_snapshot),
                cmocka_unit_test(test_rules),
                cmocka_unit_test(test_commit_and_read_back),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
