/*
 * test_keys.c - the record-key rule (ls_keys.h): key = lead id, and the
 * partition the Java client's murmur2 partitioner gives the key. The
 * hashes below are the Java client's own (Kafka's UtilsTest), so a
 * partitioner that is not Java-compatible (e.g. librdkafka's default
 * CRC32) fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "leadscore/ls_keys.h"

/* Java's Utils.murmur2 of these keys, and toPositive(h) % n. */
static int32_t java_partition(int32_t murmur2, int32_t n) {
        return (int32_t)(((uint32_t)murmur2 & 0x7fffffffu) % (uint32_t)n);
}

static void test_java_compatible(void **state) {
        static const struct {
                const char *key;
                int32_t murmur2;
        } cases[] = {
                {"21", -973932308},
                {"foobar", -790332482},
                {"a-little-bit-long-string", -985981536},
                {"a-little-bit-longer-string", -1486304829},
                {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
                {"abc", 479470107},
        };
        static const int32_t counts[] = {1, 2, 3, 7, 64, 1000};
        size_t i, j;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                for (j = 0; j < sizeof(counts) / sizeof(counts[0]); j++)
                        assert_int_equal(
                                ls_keys_partition(cases[i].key,
                                                  strlen(cases[i].key),
                                                  counts[j]),
                                java_partition(cases[i].murmur2, counts[j]));
}

static void test_check(void **state) {
        char err[512];
        int32_t p = java_partition(-790332482, 8); /* "foobar" */

        (void)state;
        assert_null(ls_keys_check("foobar", 6, "foobar", "ev", p, 8, err,
                                  sizeof(err)));
        /* unknown partition count: only the key is checked */
        assert_null(ls_keys_check("foobar", 6, "foobar", "ev", (p + 1) % 8, 0,
                                  err, sizeof(err)));

        assert_string_equal(ls_keys_check("foobar", 6, "foobar", "ev",
                                          (p + 1) % 8, 8, err, sizeof(err)),
                            "partition");
        assert_non_null(strstr(err, "belongs to partition"));
        assert_non_null(strstr(err, "of ev's 8"));

        assert_string_equal(
                ls_keys_check(NULL, 0, "foobar", "ev", p, 8, err, sizeof(err)),
                "key");
        assert_string_equal(err, "record has no key; the key must be the "
                                 "lead id 'foobar'");
        assert_string_equal(ls_keys_check("fooba", 5, "foobar", "ev", p, 8, err,
                                          sizeof(err)),
                            "key");
        assert_string_equal(err, "record key 'fooba' differs from lead_id "
                                 "'foobar'");
        assert_string_equal(ls_keys_check("foobar!", 7, "foobar", "ev", p, 8,
                                          err, sizeof(err)),
                            "key");
}

/* An assignment of @p n topic-partitions ("e" events, "p" profiles). */
static rd_kafka_topic_partition_list_t *assignment(const char *const *topic,
                                                   const int32_t *part, int n) {
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
        int i;

        for (i = 0; i < n; i++)
                rd_kafka_topic_partition_list_add(l, topic[i], part[i]);
        return l;
}

static void test_copartition(void **state) {
        static const char *const topics[2] = {"e", "p"};
        static const char *const both[] = {"e", "p", "e", "p", "x"};
        static const int32_t both_p[] = {0, 0, 3, 3, 1};
        static const char *const split[] = {"e", "p", "e"};
        static const int32_t split_p[] = {0, 0, 1};
        const int32_t four[2] = {4, 4}, uneven[2] = {4, 6}, unknown[2] = {4, 0};
        rd_kafka_topic_partition_list_t *l;
        char err[512];

        (void)state;
        l = assignment(both, both_p, 5);
        assert_int_equal(ls_keys_copartition(topics, four, l, err, sizeof(err)),
                         LS_OK);
        /* unknown counts are not compared */
        assert_int_equal(
                ls_keys_copartition(topics, unknown, l, err, sizeof(err)),
                LS_OK);
        assert_int_equal(
                ls_keys_copartition(topics, uneven, l, err, sizeof(err)),
                LS_ERR_INVALID);
        assert_non_null(strstr(err, "not co-partitioned: e has 4 partitions "
                                    "and p has 6"));
        rd_kafka_topic_partition_list_destroy(l);

        /* e [1] here, p [1] elsewhere */
        l = assignment(split, split_p, 3);
        assert_int_equal(ls_keys_copartition(topics, four, l, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "assigned e [1] to this member but p [1] "
                                    "to another"));
        assert_int_equal(
                ls_keys_copartition(topics, unknown, l, err, sizeof(err)),
                LS_ERR_INVALID);
        /* p has no partition 1 (counts differ only when both are known:
         * here p's count says so) */
        {
                const int32_t one[2] = {0, 1};
                assert_int_equal(
                        ls_keys_copartition(topics, one, l, err, sizeof(err)),
                        LS_OK);
        }
        rd_kafka_topic_partition_list_destroy(l);

        /* only one topic assigned, the other's count unknown: nothing to
         * pair with */
        l = assignment(split + 2, split_p + 2, 1);
        {
                const int32_t none[2] = {0, 0};
                assert_int_equal(
                        ls_keys_copartition(topics, none, l, err, sizeof(err)),
                        LS_OK);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_copartition),
                cmocka_unit_test(test_java_compatible),
                cmocka_unit_test(test_check),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
