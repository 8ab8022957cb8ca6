/*
 * test_kafka.c - the Kafka client factory (ls_kafka.h): each role's
 * defaults, sections and fixed settings, applied in order and read back
 * from the real client's configuration; errors that name the section and
 * property, or the client librdkafka refused; nothing left behind on any
 * failure (the sanitizers' leak check and double-free detection see the
 * configuration destroyed exactly once); and a client against librdkafka's
 * mock cluster reporting to its env.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_config.h"
#include "leadscore/ls_kafka.h"

static ls_config_t *conf_new(void) {
        ls_config_t *conf = ls_config_new_defaults();

        assert_non_null(conf);
        return conf;
}

static void prop(ls_props_t *props, const char *name, const char *value) {
        assert_int_equal(ls_props_set(props, name, value), LS_OK);
}

static void assert_prop(rd_kafka_t *rk, const char *name, const char *want) {
        char v[512];

        assert_string_equal(ls_kafka_prop(rk, name, v, sizeof(v)), want);
}

static void test_consumer_role(void **state) {
        ls_config_t *conf = conf_new();
        ls_kafka_opts_t o = {.role = LS_KAFKA_CONSUMER, .conf = conf};
        char errstr[512];
        rd_kafka_t *rk;

        (void)state;
        prop(&conf->kafka, "client.id", "from-kafka");
        prop(&conf->kafka, "fetch.wait.max.ms", "30");
        /* the consumer section comes after `kafka` */
        prop(&conf->consumer, "fetch.wait.max.ms", "50");
        /* fixed: the group's offsets are committed by hand */
        prop(&conf->consumer, "enable.auto.commit", "true");
        /* the producer section is not the consumer's */
        prop(&conf->producer, "client.id", "from-producer");
        o.bootstrap = "127.0.0.1:1";
        rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));
        assert_non_null(rk);
        assert_int_equal(rd_kafka_type(rk), RD_KAFKA_CONSUMER);
        assert_prop(rk, "client.id", "from-kafka");
        assert_prop(rk, "fetch.wait.max.ms", "50");
        assert_prop(rk, "auto.offset.reset", "smallest"); /* "earliest" */
        assert_prop(rk, "enable.partition.eof", "true");
        assert_prop(rk, "partition.assignment.strategy", "range");
        assert_prop(rk, "group.id", conf->group);
        assert_prop(rk, "enable.auto.commit", "false");
        assert_prop(rk, "enable.auto.offset.store", "false");
        assert_prop(rk, "bootstrap.servers", "127.0.0.1:1");
        /* no env: no opaque */
        assert_null(rd_kafka_opaque(rk));
        rd_kafka_destroy(rk);
        ls_config_destroy(conf);
}

static void test_producer_role(void **state) {
        ls_config_t *conf = conf_new();
        ls_kafka_env_t env = {.owner = &env};
        ls_kafka_opts_t o = {
                .role = LS_KAFKA_PRODUCER, .conf = conf, .env = &env};
        char errstr[512];
        rd_kafka_t *rk;

        (void)state;
        prop(&conf->producer, "linger.ms", "7");
        prop(&conf->producer, "enable.idempotence", "false");
        prop(&conf->consumer, "client.id", "from-consumer");
        rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));
        assert_non_null(rk);
        assert_int_equal(rd_kafka_type(rk), RD_KAFKA_PRODUCER);
        assert_prop(rk, "linger.ms", "7");
        assert_prop(rk, "partitioner", "murmur2_random");
        assert_prop(rk, "enable.idempotence", "true");
        assert_prop(rk, "client.id", "rdkafka");
        assert_ptr_equal(rd_kafka_opaque(rk), &env);
        rd_kafka_destroy(rk);
        ls_config_destroy(conf);
}

/* The snapshot topic's clients take the `kafka` section and the caller's
 * properties, not the consumer's or producer's sections. */
static void test_snapshot_roles(void **state) {
        static const ls_kafka_prop_t props[] = {{"acks", "all"},
                                                {"linger.ms", "0"}};
        ls_config_t *conf = conf_new();
        ls_kafka_opts_t o = {.role = LS_KAFKA_SNAPSHOT_WRITER,
                             .conf = conf,
                             .props = props,
                             .props_cnt = 2};
        char errstr[512];
        rd_kafka_t *rk;

        (void)state;
        prop(&conf->kafka, "client.id", "snap");
        prop(&conf->producer, "linger.ms", "99");
        prop(&conf->consumer, "group.id", "not-this-one");
        rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));
        assert_non_null(rk);
        assert_int_equal(rd_kafka_type(rk), RD_KAFKA_PRODUCER);
        assert_prop(rk, "client.id", "snap");
        assert_prop(rk, "linger.ms", "0");
        assert_prop(rk, "acks", "-1"); /* "all" */
        rd_kafka_destroy(rk);
        o.role = LS_KAFKA_SNAPSHOT_READER;
        o.props = NULL;
        o.props_cnt = 0;
        rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));
        assert_non_null(rk);
        assert_int_equal(rd_kafka_type(rk), RD_KAFKA_CONSUMER);
        assert_prop(rk, "group.id", "");
        rd_kafka_destroy(rk);
        ls_config_destroy(conf);
}

static void test_raw_roles(void **state) {
        static const ls_kafka_prop_t props[] = {
                {"client.id", "raw"}, {"linger.ms", "3"}, {"linger.ms", "4"}};
        ls_kafka_opts_t o = {
                .role = LS_KAFKA_RAW_PRODUCER, .props = props, .props_cnt = 3};
        char errstr[512];
        rd_kafka_t *rk;

        (void)state;
        rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));
        assert_non_null(rk);
        assert_prop(rk, "client.id", "raw");
        assert_prop(rk, "linger.ms", "4"); /* in order: the last wins */
        assert_prop(rk, "enable.idempotence", "false"); /* no defaults */
        rd_kafka_destroy(rk);
        /* a role that needs the config refuses to go without */
        o.role = LS_KAFKA_CONSUMER;
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "needs a config"));
}

/* Each error names where the property came from; nothing is left behind
 * (the leak check would see a configuration never destroyed, ASan one
 * destroyed twice). */
/* replay's roles: its throughput defaults, the given properties over
 * them, bootstrap, and its fixed consumer settings last; no config. */
static void test_replay_roles(void **state) {
        ls_config_t *conf = conf_new();
        ls_kafka_env_t env = {.owner = conf};
        ls_kafka_opts_t o = {.role = LS_KAFKA_REPLAY_CONSUMER,
                             .kafka = &conf->kafka,
                             .bootstrap = "127.0.0.1:1",
                             .env = &env};
        char errstr[512];
        rd_kafka_t *rk;

        (void)state;
        prop(&conf->kafka, "fetch.wait.max.ms", "250");
        prop(&conf->kafka, "enable.partition.eof", "false"); /* fixed */
        rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));
        assert_non_null(rk);
        assert_int_equal(rd_kafka_type(rk), RD_KAFKA_CONSUMER);
        assert_prop(rk, "fetch.wait.max.ms", "250");
        assert_prop(rk, "fetch.max.bytes", "104857600");
        assert_prop(rk, "group.id", "leadscore-replay");
        assert_prop(rk, "enable.partition.eof", "true");
        assert_prop(rk, "enable.auto.commit", "false");
        assert_prop(rk, "bootstrap.servers", "127.0.0.1:1");
        assert_ptr_equal(rd_kafka_opaque(rk), &env);
        rd_kafka_destroy(rk);

        o.role = LS_KAFKA_REPLAY_PRODUCER;
        rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));
        assert_non_null(rk);
        assert_int_equal(rd_kafka_type(rk), RD_KAFKA_PRODUCER);
        assert_prop(rk, "linger.ms", "20");
        assert_prop(rk, "enable.idempotence", "true");
        rd_kafka_destroy(rk);

        /* a bad property is named as the kafka section's */
        prop(&conf->kafka, "no.such.property", "1");
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.no.such.property"));
        ls_config_destroy(conf);
}

static void test_errors_name_the_property(void **state) {
        static const ls_kafka_prop_t bad[] = {{"client.id", "ok"},
                                              {"no.such.thing", "1"}};
        ls_config_t *conf = conf_new();
        ls_kafka_opts_t o = {.role = LS_KAFKA_CONSUMER, .conf = conf};
        char errstr[512];

        (void)state;
        prop(&conf->kafka, "no.such.property", "1");
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_int_equal(strncmp(errstr, "kafka.no.such.property: ", 24), 0);
        ls_props_clear(&conf->kafka);

        prop(&conf->consumer, "fetch.wait.max.ms", "not-a-number");
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_int_equal(strncmp(errstr, "consumer.fetch.wait.max.ms: ", 28),
                         0);
        ls_props_clear(&conf->consumer);

        prop(&conf->producer, "linger.ms", "-5");
        o.role = LS_KAFKA_PRODUCER;
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_int_equal(strncmp(errstr, "producer.linger.ms: ", 20), 0);
        ls_props_clear(&conf->producer);

        o.bootstrap = "";
        o.role = LS_KAFKA_SNAPSHOT_WRITER;
        o.props = bad;
        o.props_cnt = 2;
        o.props_where = "snapshot.topic client: ";
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_int_equal(
                strncmp(errstr, "snapshot.topic client: no.such.thing: ", 38),
                0);
        ls_config_destroy(conf);
}

/* The consumer needs the range assignor: another is refused at once. */
static void test_consumer_needs_range(void **state) {
        ls_config_t *conf = conf_new();
        ls_kafka_opts_t o = {.role = LS_KAFKA_CONSUMER, .conf = conf};
        char errstr[1024];

        (void)state;
        prop(&conf->consumer, "partition.assignment.strategy", "roundrobin");
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "consumer: partition.assignment."
                                       "strategy 'roundrobin'"));
        assert_non_null(strstr(errstr, "leadscore needs 'range'"));
        ls_config_destroy(conf);
}

/* Properties librdkafka takes one by one but refuses together: the
 * creation fails, the error names the client, and the configuration it
 * did not take is destroyed once. */
static void test_creation_refused(void **state) {
        ls_config_t *conf = conf_new();
        ls_kafka_opts_t o = {.role = LS_KAFKA_PRODUCER, .conf = conf};
        static const ls_kafka_prop_t raw[] = {{"enable.idempotence", "true"},
                                              {"acks", "1"}};
        char errstr[512];

        (void)state;
        prop(&conf->producer, "acks", "1"); /* idempotence needs all */
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_int_equal(strncmp(errstr, "producer: ", 10), 0);
        o.name = "custom";
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_int_equal(strncmp(errstr, "custom: ", 8), 0);
        ls_config_destroy(conf);

        memset(&o, 0, sizeof(o));
        o.role = LS_KAFKA_RAW_PRODUCER;
        o.props = raw;
        o.props_cnt = 2;
        o.name = ""; /* librdkafka's message alone */
        assert_null(ls_kafka_client_new(&o, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "acks"));
        assert_null(strstr(errstr, "producer: "));
}

typedef struct dr_seen_s {
        int delivered, failed;
        void *owner;
} dr_seen_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
        ls_kafka_env_t *env = opaque;
        dr_seen_t *seen = env->owner;

        (void)rk;
        seen->owner = env->owner;
        if (rkm->err)
                seen->failed++;
        else
                seen->delivered++;
}

/* A producer against librdkafka's mock cluster (test.mock.num.brokers in
 * the `kafka` section): its delivery reports reach the caller's callback
 * with the env as opaque, and its log lines the env's logger. */
static void test_mock_cluster_delivery(void **state) {
        ls_config_t *conf = conf_new();
        dr_seen_t seen = {0, 0, NULL};
        FILE *logf = tmpfile();
        ls_log_t *log;
        ls_kafka_env_t env;
        ls_kafka_opts_t o;
        char errstr[512];
        rd_kafka_t *rk;
        int i;

        (void)state;
        assert_non_null(logf);
        log = ls_log_new(LS_LOG_LOGFMT, LS_LOG_DEBUG, logf);
        assert_non_null(log);
        memset(&env, 0, sizeof(env));
        env.log = log;
        env.owner = &seen;
        memset(&o, 0, sizeof(o));
        o.role = LS_KAFKA_PRODUCER;
        o.conf = conf;
        o.env = &env;
        o.dr_msg_cb = dr_cb;
        prop(&conf->kafka, "test.mock.num.brokers", "1");
        prop(&conf->kafka, "debug", "msg");
        rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));
        assert_non_null(rk);
        for (i = 0; i < 3; i++)
                assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("t"),
                                                   RD_KAFKA_V_KEY("k", 1),
                                                   RD_KAFKA_V_VALUE("v", 1),
                                                   RD_KAFKA_V_MSGFLAGS(
                                                           RD_KAFKA_MSG_F_COPY),
                                                   RD_KAFKA_V_END),
                                 RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(seen.delivered, 3);
        assert_int_equal(seen.failed, 0);
        assert_ptr_equal(seen.owner, &seen);
        rd_kafka_destroy(rk);
        ls_log_destroy(log);
        /* librdkafka's debug lines went through the structured logger */
        {
                char line[4096];
                int found = 0;

                rewind(logf);
                while (!found && fgets(line, sizeof(line), logf))
                        found = strstr(line, "event=kafka") != NULL;
                assert_true(found);
        }
        fclose(logf);
        ls_config_destroy(conf);
}

/* Where the clients connect: the config's servers, or the embedded test
 * broker only when asked for. */
static void test_bootstrap(void **state) {
        ls_config_t *conf = conf_new();
        ls_broker_t *broker = (ls_broker_t *)&broker;
        char errstr[512], *b;

        (void)state;
        conf->embedded = 0;
        assert_null(ls_kafka_bootstrap(conf, &broker, errstr, sizeof(errstr)));
        assert_null(broker);
        assert_non_null(strstr(errstr, "kafka.bootstrap.servers: missing"));
        prop(&conf->kafka, "bootstrap.servers", "");
        assert_null(ls_kafka_bootstrap(conf, &broker, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "kafka.bootstrap.servers: empty"));
        ls_props_clear(&conf->kafka);
        prop(&conf->consumer, "bootstrap.servers", "c:3");
        b = ls_kafka_bootstrap(conf, &broker, errstr, sizeof(errstr));
        assert_string_equal(b, "c:3");
        ls_free(b);
        prop(&conf->kafka, "metadata.broker.list", "m:2");
        b = ls_kafka_bootstrap(conf, &broker, errstr, sizeof(errstr));
        assert_string_equal(b, "m:2");
        ls_free(b);
        prop(&conf->kafka, "bootstrap.servers", "k:1");
        b = ls_kafka_bootstrap(conf, &broker, errstr, sizeof(errstr));
        assert_string_equal(b, "k:1");
        assert_null(broker);
        ls_free(b);
        ls_props_clear(&conf->kafka);
        ls_props_clear(&conf->consumer);

        conf->embedded = 1;
        conf->embedded_partitions = 2;
        b = ls_kafka_bootstrap(conf, &broker, errstr, sizeof(errstr));
        assert_non_null(b);
        assert_non_null(broker);
        assert_string_equal(b, ls_broker_address(broker));
        assert_int_equal(strncmp(b, "127.0.0.1:", 10), 0);
        ls_free(b);
        ls_broker_destroy(broker);
        ls_config_destroy(conf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_consumer_role),
                cmocka_unit_test(test_producer_role),
                cmocka_unit_test(test_snapshot_roles),
                cmocka_unit_test(test_raw_roles),
                cmocka_unit_test(test_replay_roles),
                cmocka_unit_test(test_errors_name_the_property),
                cmocka_unit_test(test_consumer_needs_range),
                cmocka_unit_test(test_creation_refused),
                cmocka_unit_test(test_mock_cluster_delivery),
                cmocka_unit_test(test_bootstrap),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
