/*
 * ls_broker.c - hosts librdkafka's built-in Kafka-protocol test broker.
 *
 * Used by `leadscore broker`, `leadscore demo` and `leadscore run` when no
 * bootstrap.servers is configured. The broker listens on real TCP ports,
 * so kcat and any other Kafka client can connect from other processes.
 * It is a test broker: it keeps at most 5 MiB or 100,000 batches per
 * partition and its transactions are stubs (see docs/CONFIG.md).
 */
#include "leadscore/ls_broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_kafka.h"

struct ls_broker_s {
        rd_kafka_t *rk; /* handle the cluster belongs to */
        rd_kafka_mock_cluster_t *mcluster;
        char *address;
};

ls_broker_t *ls_broker_new(int partitions, const char *const *topics,
                           size_t n_topics, char *errstr, size_t errstr_size) {
        return ls_broker_new_cluster(1, partitions, topics, n_topics, errstr,
                                     errstr_size);
}

ls_broker_t *ls_broker_new_cluster(int brokers, int partitions,
                                   const char *const *topics, size_t n_topics,
                                   char *errstr, size_t errstr_size) {
        /* The cluster's host: a producer that never produces. */
        static const ls_kafka_prop_t hprops[] = {{"log_level", "3"}};
        const ls_kafka_opts_t hopts = {.role = LS_KAFKA_RAW_PRODUCER,
                                       .props = hprops,
                                       .props_cnt = 1,
                                       .props_where = "embedded broker: ",
                                       .name = "embedded broker"};
        ls_broker_t *broker;
        size_t i;

        if (brokers < 1 || brokers > 16) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "embedded broker: brokers must be in [1, 16], got "
                          "%d",
                          brokers);
                return NULL;
        }
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
        broker->rk = ls_kafka_client_new(&hopts, errstr, errstr_size);
        if (!broker->rk) {
                ls_free(broker);
                return NULL;
        }
        broker->mcluster = rd_kafka_mock_cluster_new(broker->rk, brokers);
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

/* Parses a decimal integer in [min, max]; @returns 0 or -1. */
static int ls_broker_num(const char *s, long min, long max, long *vp) {
        char *end;
        long v;

        if (!s || !*s)
                return -1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -1;
        *vp = v;
        return 0;
}

ls_err_t ls_broker_control(ls_broker_t *broker, const char *line, char *errstr,
                           size_t errstr_size) {
        char copy[512], *argv[8], *save = NULL, *tok;
        int argc = 0;
        long a = 0, b = 0, c = 0;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

        if (strlen(line) >= sizeof(copy))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "control: line too long");
        strcpy(copy, line);
        for (tok = strtok_r(copy, " \t\r\n", &save); tok && argc < 8;
             tok = strtok_r(NULL, " \t\r\n", &save))
                argv[argc++] = tok;
        if (argc == 0)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "control: empty command");
        if (!strcmp(argv[0], "produce_errors") ||
            !strcmp(argv[0], "fetch_errors") ||
            !strcmp(argv[0], "commit_errors") || !strcmp(argv[0], "errors")) {
                int i = 1;
                long api, dflt;
                rd_kafka_resp_err_t *codes;
                if (!strcmp(argv[0], "errors")) {
                        if (argc < 3 || ls_broker_num(argv[i++], 0, 100, &api))
                                goto usage;
                } else {
                        api = argv[0][0] == 'p' ? 0 : argv[0][0] == 'f' ? 1 : 8;
                }
                /* Retriable defaults: the client must ride them out. */
                dflt = api == 8 ? RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS
                                : RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
                if (i >= argc || ls_broker_num(argv[i++], 1, 100000, &a))
                        goto usage;
                b = dflt;
                if (i < argc && ls_broker_num(argv[i++], -1000, 1000, &b))
                        goto usage;
                codes = ls_calloc((size_t)a, sizeof(*codes));
                if (!codes)
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "control: out of memory");
                for (c = 0; c < a; c++)
                        codes[c] = (rd_kafka_resp_err_t)b;
                rd_kafka_mock_push_request_errors_array(
                        broker->mcluster, (int16_t)api, (size_t)a, codes);
                ls_free(codes);
        } else if ((!strcmp(argv[0], "down") || !strcmp(argv[0], "up")) &&
                   argc == 2 && !ls_broker_num(argv[1], 1, 16, &a)) {
                err = argv[0][0] == 'd'
                              ? rd_kafka_mock_broker_set_down(broker->mcluster,
                                                              (int32_t)a)
                              : rd_kafka_mock_broker_set_up(broker->mcluster,
                                                            (int32_t)a);
        } else if (!strcmp(argv[0], "leader") && argc == 4 &&
                   !ls_broker_num(argv[2], 0, 1 << 20, &a) &&
                   !ls_broker_num(argv[3], 1, 16, &b)) {
                err = rd_kafka_mock_partition_set_leader(
                        broker->mcluster, argv[1], (int32_t)a, (int32_t)b);
        } else if (!strcmp(argv[0], "coordinator") && argc == 3 &&
                   !ls_broker_num(argv[2], 1, 16, &a)) {
                err = rd_kafka_mock_coordinator_set(broker->mcluster, "group",
                                                    argv[1], (int32_t)a);
        } else if (!strcmp(argv[0], "rtt") && argc == 3 &&
                   !ls_broker_num(argv[1], 1, 16, &a) &&
                   !ls_broker_num(argv[2], 0, 600000, &b)) {
                err = rd_kafka_mock_broker_set_rtt(broker->mcluster, (int32_t)a,
                                                   (int)b);
        } else if (!strcmp(argv[0], "clear") && argc == 1) {
                rd_kafka_mock_clear_request_errors(broker->mcluster, 0);
                rd_kafka_mock_clear_request_errors(broker->mcluster, 1);
                rd_kafka_mock_clear_request_errors(broker->mcluster, 8);
        } else {
                goto usage;
        }
        if (err)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "control: %s: %s", line,
                                 rd_kafka_err2str(err));
        return LS_OK;
usage:
        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                         "control: cannot parse \"%s\" (expected "
                         "produce_errors|fetch_errors|commit_errors N [CODE], "
                         "errors APIKEY N [CODE], down|up B, leader TOPIC P B, "
                         "coordinator GROUP B, rtt B MS, clear)",
                         line);
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
