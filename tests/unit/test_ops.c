/*
 * test_ops.c - unit tests of the operations modules: the structured
 * logger (ls_log.h: logfmt quoting, JSON lines, level filter, secret
 * masking in messages and fields) and the metric registry (ls_metrics.h:
 * series identity, exposition text, histograms, librdkafka statistics,
 * build info).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_config.h"
#include "leadscore/ls_log.h"
#include "leadscore/ls_memlimit.h"
#include "leadscore/ls_metrics.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_log_logfmt_and_mask(void **state) {
        ls_log_t *log = ls_log_new(LS_LOG_LOGFMT, LS_LOG_INFO, stderr);
        const char *kv[] = {"reason", "late", "error",
                            "bad \"x\"=1 pw=hunter2 end"};
        char line[1024];

        (void)state;
        assert_non_null(log);
        assert_int_equal(ls_log_add_secret(log, "hunter2"), LS_OK);
        assert_int_equal(ls_log_add_secret(log, ""), LS_OK);
        ls_log_format_line(log, LS_LOG_WARN, "dead_letter",
                           "token hunter2hunter2 seen", kv, 4, line,
                           sizeof(line));
        assert_null(strstr(line, "hunter2"));
        assert_non_null(strstr(line, " level=warn event=dead_letter "
                                     "msg=\"token ****************"
                                     " seen\""));
        assert_non_null(strstr(line, " reason=late "));
        assert_non_null(strstr(line, "error=\"bad \\\"x\\\"=1 pw=******** "
                                     "end\"\n"));
        assert_true(strncmp(line, "time=", 5) == 0);
        assert_true(ls_log_enabled(log, LS_LOG_ERROR));
        assert_false(ls_log_enabled(log, LS_LOG_DEBUG));
        assert_false(ls_log_enabled(NULL, LS_LOG_ERROR));
        ls_log_destroy(log);
}

static void test_log_json(void **state) {
        ls_log_t *log = ls_log_new(LS_LOG_JSON, LS_LOG_DEBUG, stderr);
        const char *kv[] = {"error", "model.yaml:3: s3cr3t\n\"q\""};
        char line[1024];
        json_t *j;
        json_error_t jerr;

        (void)state;
        assert_int_equal(ls_log_add_secret(log, "s3cr3t"), LS_OK);
        ls_log_format_line(log, LS_LOG_ERROR, "model_reload", "rejected", kv, 2,
                           line, sizeof(line));
        assert_int_equal(line[strlen(line) - 1], '\n');
        j = json_loads(line, 0, &jerr);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "level")),
                            "error");
        assert_string_equal(json_string_value(json_object_get(j, "event")),
                            "model_reload");
        assert_string_equal(json_string_value(json_object_get(j, "error")),
                            "model.yaml:3: ********\n\"q\"");
        assert_non_null(json_object_get(j, "time"));
        json_decref(j);
        ls_log_destroy(log);
}

static void test_log_parse(void **state) {
        ls_log_level_t l;
        ls_log_format_t f;

        (void)state;
        assert_int_equal(ls_log_level_parse("warning", &l), LS_OK);
        assert_int_equal(l, LS_LOG_WARN);
        assert_int_equal(ls_log_level_parse("loud", &l), LS_ERR_INVALID);
        assert_int_equal(ls_log_format_parse("json", &f), LS_OK);
        assert_int_equal(f, LS_LOG_JSON);
        assert_int_equal(ls_log_format_parse("xml", &f), LS_ERR_INVALID);
        assert_int_equal(ls_log_level_from_syslog(7), LS_LOG_DEBUG);
        assert_int_equal(ls_log_level_from_syslog(4), LS_LOG_WARN);
        assert_int_equal(ls_log_level_from_syslog(3), LS_LOG_ERROR);
}

static void test_metrics_render(void **state) {
        static const double bounds[] = {0.1, 1};
        ls_metrics_t *m = ls_metrics_new();
        ls_metric_t *c, *c2, *g, *hist;
        ls_buf_t b;
        char esc[64];

        (void)state;
        c = ls_metrics_counter(m, "t_total", "A counter.", "k=\"a\"");
        c2 = ls_metrics_counter(m, "t_total", "ignored", "k=\"a\"");
        assert_ptr_equal(c, c2); /* same series, same handle */
        assert_null(ls_metrics_gauge(m, "t_total", "", NULL)); /* type */
        ls_metric_add(c, 2);
        ls_metric_add(c2, 3);
        g = ls_metrics_gauge(m, "t_gauge", "A gauge.", NULL);
        ls_metric_set(g, 0.5);
        hist = ls_metrics_histogram(m, "t_lat", "A histogram.", NULL, bounds,
                                    2);
        ls_metric_observe(hist, 0.05);
        ls_metric_observe(hist, 0.5);
        ls_metric_observe(hist, 5);
        ls_buf_init(&b);
        assert_int_equal(ls_metrics_render(m, &b), LS_OK);
        assert_non_null(b.data);
        assert_string_equal(
                b.data, "# HELP t_total A counter.\n# TYPE t_total counter\n"
                        "t_total{k=\"a\"} 5\n"
                        "# HELP t_gauge A gauge.\n# TYPE t_gauge gauge\n"
                        "t_gauge 0.5\n"
                        "# HELP t_lat A histogram.\n# TYPE t_lat histogram\n"
                        "t_lat_bucket{le=\"0.1\"} 1\nt_lat_bucket{le=\"1\"} 2\n"
                        "t_lat_bucket{le=\"+Inf\"} 3\nt_lat_sum 5.55\n"
                        "t_lat_count 3\n");
        ls_buf_free(&b);
        assert_string_equal(
                ls_metrics_label_escape("a\"b\\c\nd", esc, sizeof(esc)),
                "a\\\"b\\\\c\\nd");
        assert_int_equal(ls_metrics_ready(m), 0);
        ls_metrics_set_ready(m, 1);
        assert_int_equal(ls_metrics_ready(m), 1);
        ls_metrics_destroy(m);
}

static void test_metrics_rdkafka_stats(void **state) {
        static const char stats[] =
                "{\"name\":\"c\",\"type\":\"consumer\",\"replyq\":2,"
                "\"msg_cnt\":0,\"txmsgs\":7,\"rxmsgs\":9,"
                "\"brokers\":{\"127.0.0.1:9092/1\":{\"nodeid\":1,"
                "\"rtt\":{\"avg\":2500}},\"GroupCoordinator\":{\"nodeid\":-1,"
                "\"rtt\":{\"avg\":1}}},"
                "\"topics\":{\"ev\":{\"partitions\":{"
                "\"0\":{\"partition\":0,\"consumer_lag\":42},"
                "\"1\":{\"partition\":1,\"consumer_lag\":-1},"
                "\"-1\":{\"partition\":-1,\"consumer_lag\":-1}}}}}";
        ls_metrics_t *m = ls_metrics_new();
        ls_buf_t b;

        (void)state;
        assert_int_equal(
                ls_metrics_rdkafka_stats(m, "consumer", stats, strlen(stats)),
                LS_OK);
        assert_int_equal(ls_metrics_rdkafka_stats(m, "consumer", "{x", 2),
                         LS_ERR_INVALID);
        ls_buf_init(&b);
        assert_int_equal(ls_metrics_render(m, &b), LS_OK);
        assert_non_null(strstr(b.data, "leadscore_kafka_consumer_lag{topic="
                                       "\"ev\",partition=\"0\"} 42\n"));
        assert_null(strstr(b.data, "partition=\"1\""));
        assert_null(strstr(b.data, "GroupCoordinator"));
        assert_non_null(strstr(b.data,
                               "leadscore_kafka_broker_rtt_avg_seconds{client="
                               "\"consumer\",broker=\"127.0.0.1:9092/1\"} "
                               "0.0025\n"));
        assert_non_null(strstr(b.data, "leadscore_kafka_replyq{client="
                                       "\"consumer\"} 2\n"));
        /* Running totals are counters, named _total. */
        assert_non_null(strstr(b.data, "# TYPE leadscore_kafka_rx_msgs_total "
                                       "counter\n"
                                       "leadscore_kafka_rx_msgs_total{client="
                                       "\"consumer\"} 9\n"));
        assert_non_null(strstr(b.data, "# TYPE leadscore_kafka_tx_msgs_total "
                                       "counter\n"
                                       "leadscore_kafka_tx_msgs_total{client="
                                       "\"consumer\"} 7\n"));
        assert_null(strstr(b.data, "leadscore_kafka_rx_msgs{"));
        ls_buf_free(&b);
        ls_metrics_destroy(m);
}

static void test_metrics_set_total_and_build_info(void **state) {
        ls_metrics_t *m = ls_metrics_new();
        ls_metric_t *c = ls_metrics_counter(m, "t_total", "A total.", NULL);
        ls_metric_t *g = ls_metrics_gauge(m, "t_gauge", "A gauge.", NULL);
        ls_buf_t b;

        (void)state;
        ls_metric_set_total(c, 10);
        ls_metric_set_total(c, 4); /* never goes down */
        assert_true(ls_metric_value(c) == 10.0);
        ls_metric_add(c, 1);
        ls_metric_set_total(c, 11);
        assert_true(ls_metric_value(c) == 11.0);
        ls_metric_set_total(g, 3); /* counters only */
        assert_true(ls_metric_value(g) == 0.0);
        ls_metric_set_total(NULL, 3);
        assert_int_equal(ls_metrics_build_info(m, "1.2.3", "2.0.2", "1.\"11"),
                         LS_OK);
        ls_buf_init(&b);
        assert_int_equal(ls_metrics_render(m, &b), LS_OK);
        assert_non_null(strstr(b.data, "# TYPE leadscore_build_info gauge\n"
                                       "leadscore_build_info{version=\"1.2.3\","
                                       "librdkafka=\"2.0.2\",avro_c="
                                       "\"1.\\\"11\"} 1\n"));
        ls_buf_free(&b);
        ls_metrics_destroy(m);
}

/* Writes @p text to @p root/@p path, making the directories. */
static void put_file(const char *root, const char *path, const char *text) {
        char full[1024], *slash;
        FILE *f;

        snprintf(full, sizeof(full), "%s%s", root, path);
        for (slash = strchr(full + strlen(root) + 1, '/'); slash;
             slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                mkdir(full, 0700);
                *slash = '/';
        }
        f = fopen(full, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* The memory limit: a cgroup's (own group first, v2 then v1) when below
 * the machine's memory, else MemTotal; "max" and v1's huge "no limit"
 * are no limit. */
static void test_memory_limit(void **state) {
        char root[] = "/tmp/ls-memlimit-XXXXXX", src[256], cmd[300];

        (void)state;
        assert_non_null(mkdtemp(root));
        assert_int_equal(ls_memory_limit(root, src, sizeof(src)), 0);
        assert_string_equal(src, "none");
        put_file(root, "/proc/meminfo",
                 "MemTotal:        8000000 kB\nMemFree: 1 kB\n");
        assert_true(ls_memory_limit(root, src, sizeof(src)) ==
                    8000000ULL * 1024);
        assert_string_equal(src, "/proc/meminfo MemTotal");
        put_file(root, "/sys/fs/cgroup/memory.max", "max\n");
        put_file(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                 "9223372036854771712\n");
        assert_true(ls_memory_limit(root, src, sizeof(src)) ==
                    8000000ULL * 1024);
        put_file(root, "/proc/self/cgroup",
                 "4:memory:/pod/x\n0::/system.slice/ls.service\n");
        put_file(root, "/sys/fs/cgroup/memory/pod/x/memory.limit_in_bytes",
                 "3000000000\n");
        assert_true(ls_memory_limit(root, src, sizeof(src)) == 3000000000ULL);
        assert_string_equal(
                src, "/sys/fs/cgroup/memory/pod/x/memory.limit_in_bytes");
        put_file(root, "/sys/fs/cgroup/system.slice/ls.service/memory.max",
                 "2000000000\n");
        assert_true(ls_memory_limit(root, src, sizeof(src)) == 2000000000ULL);
        assert_string_equal(
                src, "/sys/fs/cgroup/system.slice/ls.service/memory.max");
        /* above the machine's memory: no limit */
        put_file(root, "/sys/fs/cgroup/system.slice/ls.service/memory.max",
                 "99000000000\n");
        assert_true(ls_memory_limit(root, src, sizeof(src)) == 3000000000ULL);
        /* the lowest of the group and its ancestors: a slice's limit */
        put_file(root, "/sys/fs/cgroup/system.slice/memory.max",
                 "1000000000\n");
        assert_true(ls_memory_limit(root, src, sizeof(src)) == 1000000000ULL);
        assert_string_equal(src, "/sys/fs/cgroup/system.slice/memory.max");
        /* co-mounted v1 controllers, and a v2 group at the root */
        put_file(root, "/proc/self/cgroup", "4:cpu,memory:/pod/x\n0::/\n");
        assert_true(ls_memory_limit(root, src, sizeof(src)) == 3000000000ULL);
        /* ... mounted under their own name, without a "memory" link */
        put_file(root, "/proc/self/cgroup", "4:cpu,memory:/pod/y\n0::/\n");
        put_file(root, "/sys/fs/cgroup/cpu,memory/pod/y/memory.limit_in_bytes",
                 "2500000000\n");
        assert_true(ls_memory_limit(root, src, sizeof(src)) == 2500000000ULL);
        assert_string_equal(
                src, "/sys/fs/cgroup/cpu,memory/pod/y/memory.limit_in_bytes");
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        assert_int_equal(system(cmd), 0);
}

/* The CPU quota `workers: auto` keeps to: ceil(quota / period), the
 * lowest of the group and its ancestors, v2 cpu.max or v1 cfs files;
 * "max" and -1 are no quota. */
static void test_cpu_limit(void **state) {
        char root[] = "/tmp/ls-cpulimit-XXXXXX", src[256], cmd[300];

        (void)state;
        assert_non_null(mkdtemp(root));
        assert_int_equal(ls_cpu_limit(root, src, sizeof(src)), 0);
        assert_string_equal(src, "none");
        put_file(root, "/proc/self/cgroup", "0::/kubepods/pod1/c1\n");
        put_file(root, "/sys/fs/cgroup/kubepods/pod1/c1/cpu.max",
                 "max 100000\n");
        assert_int_equal(ls_cpu_limit(root, src, sizeof(src)), 0);
        put_file(root, "/sys/fs/cgroup/kubepods/pod1/cpu.max",
                 "250000 100000\n");
        assert_int_equal(ls_cpu_limit(root, src, sizeof(src)), 3);
        assert_string_equal(src, "/sys/fs/cgroup/kubepods/pod1/cpu.max");
        put_file(root, "/sys/fs/cgroup/kubepods/pod1/c1/cpu.max",
                 "100000 100000\n");
        assert_int_equal(ls_cpu_limit(root, src, sizeof(src)), 1);
        /* v1, co-mounted as cpu,cpuacct */
        put_file(root, "/proc/self/cgroup", "3:cpu,cpuacct:/docker/abc\n");
        put_file(root, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us",
                 "-1\n");
        put_file(root,
                 "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us",
                 "100000\n");
        assert_int_equal(ls_cpu_limit(root, src, sizeof(src)), 0);
        put_file(root, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us",
                 "150000\n");
        assert_int_equal(ls_cpu_limit(root, src, sizeof(src)), 2);
        assert_string_equal(
                src, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us");
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        assert_int_equal(system(cmd), 0);
}

/* The lead budget (max_leads, or auto: half the memory limit) and each
 * partition's share. */
static void test_lead_budget(void **state) {
        char root[] = "/tmp/ls-leadcap-XXXXXX", cmd[300];
        ls_log_t *log = ls_log_new(LS_LOG_LOGFMT, LS_LOG_ERROR, stderr);

        (void)state;
        assert_non_null(log);
        assert_non_null(mkdtemp(root));
        assert_int_equal(ls_lead_budget(5000, 100, root, log), 5000);
        assert_int_equal(ls_lead_budget(0, 100, root, log), 0);
        /* auto without any limit: no cap */
        assert_int_equal(ls_lead_budget(LS_MAX_LEADS_AUTO, 100, root, log), 0);
        put_file(root, "/proc/meminfo", "MemTotal:        1000 kB\n");
        assert_int_equal(ls_lead_budget(LS_MAX_LEADS_AUTO, 100, root, log),
                         1000 * 1024 / 2 / 100);
        /* a lead larger than half the memory: still one */
        assert_int_equal(ls_lead_budget(LS_MAX_LEADS_AUTO, 10000000, root, log),
                         1);
        assert_int_equal(ls_lead_partition_cap(0, 4), 0);
        assert_int_equal(ls_lead_partition_cap(1000, 4), 250);
        assert_int_equal(ls_lead_partition_cap(3, 4), 1);
        assert_int_equal(ls_lead_partition_cap(1000, 0), 1000);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        assert_int_equal(system(cmd), 0);
        ls_log_destroy(log);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_log_logfmt_and_mask),
                cmocka_unit_test(test_log_json),
                cmocka_unit_test(test_log_parse),
                cmocka_unit_test(test_metrics_render),
                cmocka_unit_test(test_metrics_rdkafka_stats),
                cmocka_unit_test(test_metrics_set_total_and_build_info),
                cmocka_unit_test(test_memory_limit),
                cmocka_unit_test(test_cpu_limit),
                cmocka_unit_test(test_lead_budget),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
