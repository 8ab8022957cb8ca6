/*
 * ls_broker.c - hosts librdkafka's built-in Kafka-protocol test broker.
 *
 * Used by `leadscore broker`, `leadscore demo` and `leadscore run` when no
 * bootstrap.servers is configured. The broker listens on real TCP ports,
 * so kcat and any other Kafka client can connect from other processes.
 * It is a test broker: it keeps at most 5 MiB or 100,000 batches per
 * partition and its transactions are stubs (see docs/CONFIG.md).
 */
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_pipeline.h"

struct ls_broker_s {
        rd_kafka_t *rk;                  /* handle the cluster belongs to */
        rd_kafka_mock_cluster_t *mcluster;
        char *address;
};

ls_broker_t *ls_broker_new(int partitions, const char *const *topics,
                           size_t n_topics, char *errstr, size_t errstr_size) {
        ls_broker_t *broker;
        rd_kafka_conf_t *kconf;
        char kerr[512];
        size_t i;

        if (partitions < 1) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "embedded broker: partitions must be >= 1, got %d",
                          partitions);
                return NULL;
        }
        broker = ls_calloc(1, sizeof(*broker));
        if (!broker) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                          "embedded broker: out of memory");
                return NULL;
        }
        kconf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(kconf, "log_level", "3", kerr, sizeof(kerr)) !=
            RD_KAFKA_CONF_OK) {
                /* not fatal: keep the default log level */
        }
        broker->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, kerr, sizeof(kerr));
        if (!broker->rk) {
                rd_kafka_conf_destroy(kconf);
                ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                          "embedded broker: %s", kerr);
                ls_free(broker);
                return NULL;
        }
        broker->mcluster = rd_kafka_mock_cluster_new(broker->rk, 1);
        if (!broker->mcluster) {
                ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                          "embedded broker: cannot start the test cluster");
                ls_broker_destroy(broker);
                return NULL;
        }
        for (i = 0; i < n_topics; i++) {
                rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
                        broker->mcluster, topics[i], partitions, 1);
                if (err) {
                        ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                  "embedded broker: topic %s: %s", topics[i],
                                  rd_kafka_err2str(err));
                        ls_broker_destroy(broker);
                        return NULL;
                }
        }
        broker->address =
                ls_strdup(rd_kafka_mock_cluster_bootstraps(broker->mcluster));
        if (!broker->address) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                          "embedded broker: out of memory");
                ls_broker_destroy(broker);
                return NULL;
        }
        return broker;
}

const char *ls_broker_address(const ls_broker_t *broker) {
        return broker->address;
}

void ls_broker_destroy(ls_broker_t *broker) {
        if (!broker)
                return;
        if (broker->mcluster)
                rd_kafka_mock_cluster_destroy(broker->mcluster);
        if (broker->rk)
                rd_kafka_destroy(broker->rk);
        ls_free(broker->address);
        ls_free(broker);
}
