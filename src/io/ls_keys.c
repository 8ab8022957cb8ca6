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

int32_t ls_keys_partition(const void *key, size_t key_len,
                          int32_t partition_cnt) {
        /* The partitioner reads neither the topic nor the opaques. */
        return rd_kafka_msg_partitioner_murmur2(NULL, key, key_len,
                                                partition_cnt, NULL, NULL);
}

const char *ls_keys_check(const void *key, size_t key_len,
                          const char *lead_id, const char *topic,
                          int32_t partition, int32_t partition_cnt,
                          char *errstr, size_t errstr_size) {
        size_t n = strlen(lead_id);
        int32_t want;

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
                 "key '%.128s' belongs to partition %" PRId32 " of %s's %"
                 PRId32 " under the murmur2 partitioner, not %" PRId32
                 ": its producer must partition with murmur2 "
                 "(docs/CONFIG.md)",
                 lead_id, want, topic, partition_cnt, partition);
        return "partition";
}
