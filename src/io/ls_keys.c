/*
 * ls_keys.c - the record-key rule of the input topics (see ls_keys.h).
 * The hash is librdkafka's Java-compatible murmur2 partitioner, the one
 * the producer of `leadscore run` uses for its outputs too.
 */
#include "leadscore/ls_keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_err.h"

int32_t ls_keys_partition(const void *key, size_t key_len,
                          int32_t partition_cnt) {
        /* The partitioner reads neither the topic nor the opaques. */
        return rd_kafka_msg_partitioner_murmur2(NULL, key, key_len,
                                                partition_cnt, NULL, NULL);
}

const char *ls_keys_check(const void *key, size_t key_len, const char *lead_id,
                          const char *topic, int32_t partition,
                          int32_t partition_cnt, char *errstr,
                          size_t errstr_size) {
        size_t n = strlen(lead_id);
        int32_t want;

        if (n == 0)
                return NULL; /* the engine's to reject */
        if (!key || key_len == 0) {
                snprintf(errstr, errstr_size,
                         "record has no key; the key must be the lead id "
                         "'%.128s'",
                         lead_id);
                return "key";
        }
        if (key_len != n || memcmp(key, lead_id, n) != 0) {
                snprintf(errstr, errstr_size,
                         "record key '%.*s' differs from lead_id '%.128s'",
                         (int)(key_len > 128 ? 128 : key_len),
                         (const char *)key, lead_id);
                return "key";
        }
        if (partition_cnt <= 0)
                return NULL;
        want = ls_keys_partition(key, key_len, partition_cnt);
        if (want == partition)
                return NULL;
        snprintf(errstr, errstr_size,
                 "key '%.128s' belongs to partition %" PRId32
                 " of %s's %" PRId32
                 " under the murmur2 partitioner, not %" PRId32
                 ": its producer must partition with murmur2 "
                 "(docs/CONFIG.md)",
                 lead_id, want, topic, partition_cnt, partition);
        return "partition";
}

int32_t ls_keys_partition_count(rd_kafka_t *rk, const char *topic,
                                int timeout_ms, char *errstr,
                                size_t errstr_size) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t kerr;
        int32_t n = -1;

        if (!rkt) {
                ls_seterr(errstr, errstr_size, LS_ERR_KAFKA, "%s: %s", topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        kerr = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
        if (kerr)
                ls_seterr(errstr, errstr_size, LS_ERR_KAFKA, "%s: metadata: %s",
                          topic, rd_kafka_err2str(kerr));
        else if (md->topic_cnt != 1 || md->topics[0].err ||
                 md->topics[0].partition_cnt < 1)
                ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                          "%s: no such topic (%s)", topic,
                          md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
                                        : "no metadata");
        else
                n = md->topics[0].partition_cnt;
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return n;
}

/* 0 or 1: which of @p topics @p name is; -1 neither. */
static int ls_keys_topic(const char *const topics[2], const char *name) {
        if (!strcmp(name, topics[0]))
                return 0;
        if (!strcmp(name, topics[1]))
                return 1;
        return -1;
}

ls_err_t ls_keys_copartition(const char *const topics[2],
                             const int32_t counts[2],
                             const rd_kafka_topic_partition_list_t *parts,
                             char *errstr, size_t errstr_size) {
        int i, j, t, in_assignment[2] = {0, 0};

        for (i = 0; i < parts->cnt; i++)
                if ((t = ls_keys_topic(topics, parts->elems[i].topic)) >= 0)
                        in_assignment[t] = 1;
        if (counts[0] > 0 && counts[1] > 0 && counts[0] != counts[1])
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "the input topics are not co-partitioned: "
                                 "%s has %" PRId32 " partitions and %s has "
                                 "%" PRId32 "; partition p of both must hold "
                                 "the same leads (docs/CONFIG.md)",
                                 topics[0], counts[0], topics[1], counts[1]);
        for (i = 0; i < parts->cnt; i++) {
                int32_t p = parts->elems[i].partition;
                int found = 0;

                t = ls_keys_topic(topics, parts->elems[i].topic);
                if (t < 0 || (counts[1 - t] > 0 ? p >= counts[1 - t]
                                                : !in_assignment[1 - t]))
                        continue; /* the other topic has no partition p */
                for (j = 0; j < parts->cnt && !found; j++)
                        found = parts->elems[j].partition == p &&
                                ls_keys_topic(topics, parts->elems[j].topic) ==
                                        1 - t;
                if (!found)
                        return ls_seterr(
                                errstr, errstr_size, LS_ERR_INVALID,
                                "the group assigned %s [%" PRId32
                                "] to this member but %s [%" PRId32
                                "] to another: partition p of both input "
                                "topics must go to one member (use the "
                                "range assignor, docs/CONFIG.md)",
                                topics[t], p, topics[1 - t], p);
        }
        return LS_OK;
}
