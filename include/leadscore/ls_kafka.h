/*
 * ls_kafka.h - the one factory of Kafka clients.
 *
 * Every client leadscore makes (`run`'s consumer and producer, the
 * snapshot topic's writer and reader, `replay`'s, the embedded broker's
 * host, the demo's clients, the benchmarks') is made by
 * ls_kafka_client_new(): its
 * configuration is built from the role's defaults, the config's `kafka`
 * section, the role's own section, the bootstrap servers and the caller's
 * fixed properties, in that order; the log, error and statistics
 * callbacks are set; and the client is created with one error path.
 *
 * Threading: ls_kafka_client_new() may be called from any thread. The
 * error and statistics callbacks run on the thread that polls the client;
 * the log callback may run on librdkafka's own threads (ls_log is
 * thread-safe).
 */
#ifndef LS_KAFKA_H
#define LS_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_broker.h"
#include "leadscore/ls_config.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_log.h"
#include "leadscore/ls_metrics.h"

/** Which client a configuration is for. */
typedef enum ls_kafka_role_e {
        /* `run`'s consumer: latency defaults, `kafka` then `consumer`,
         * the group (conf->group), manual commits, the range assignor
         * (any other is refused), the rebalance callback */
        LS_KAFKA_CONSUMER,
        /* `run`'s producer: murmur2 keys and linger.ms 5 as defaults,
         * `kafka` then `producer`, idempotence, the delivery callback */
        LS_KAFKA_PRODUCER,
        /* the snapshot topic's clients (ls_snapstore.h): the `kafka`
         * section only, then the caller's properties */
        LS_KAFKA_SNAPSHOT_WRITER, /* a producer */
        LS_KAFKA_SNAPSHOT_READER, /* a consumer */
        /* no config: the caller's properties only (demo, the embedded
         * broker's host, benchmarks with deliberately raw settings) */
        LS_KAFKA_RAW_PRODUCER,
        LS_KAFKA_RAW_CONSUMER,
        /* `replay`'s clients (ls_replay.h): throughput defaults, then
         * opts->kafka (replay has no config sections), bootstrap; its
         * consumer reads by assignment (no commits, ends reported) */
        LS_KAFKA_REPLAY_CONSUMER,
        LS_KAFKA_REPLAY_PRODUCER,
} ls_kafka_role_t;

/**
 * Where a client reports, and its opaque: rd_kafka_opaque() and the
 * opaque of every callback (delivery, rebalance) is this env, whose
 * @p owner is the caller's. Borrowed by the client: it must outlive it.
 */
typedef struct ls_kafka_env_s {
        /* librdkafka's log lines and errors, structured and masked;
         * NULL: no callbacks (librdkafka logs to stderr itself) */
        ls_log_t *log;
        /* with the CONSUMER and PRODUCER roles and conf->metrics_listen:
         * the client's statistics (statistics.interval.ms 5000 unless the
         * config says otherwise) */
        ls_metrics_t *metrics;
        /* An error only a restart can mend (credentials the broker
         * refuses, a TLS handshake that fails): @p msg says why. NULL:
         * logged only. */
        void (*fatal)(void *owner, ls_err_t err, const char *msg);
        /* 1 once the owner has stopped on a fatal error: later errors are
         * logged only. NULL: never. */
        int (*failed)(void *owner);
        void *owner;
} ls_kafka_env_t;

/** Reports @p msg (error @p err) through @p env's fatal hook; without
 *  one, logs it as FATAL. */
void ls_kafka_env_fatal(const ls_kafka_env_t *env, ls_err_t err,
                        const char *msg);

/** @returns 1 once @p env's owner has failed (its failed hook). */
int ls_kafka_env_failed(const ls_kafka_env_t *env);

/** One fixed property: name, value. */
typedef struct ls_kafka_prop_s {
        const char *name;
        const char *value;
} ls_kafka_prop_t;

typedef struct ls_kafka_opts_s {
        ls_kafka_role_t role;
        /* the `kafka` and role sections, the group and topics (borrowed);
         * NULL with the RAW roles */
        const ls_config_t *conf;
        /* the REPLAY roles: the client properties in place of the
         * config's `kafka` section (borrowed; NULL: none) */
        const ls_props_t *kafka;
        /* bootstrap.servers, set after the sections (e.g. the embedded
         * broker's address); NULL: as the sections say */
        const char *bootstrap;
        /* the caller's fixed properties, set last, in order; an error
         * names one as @p props_where followed by its name */
        const ls_kafka_prop_t *props;
        size_t props_cnt;
        const char *props_where; /* NULL: "" */
        /* names the client when librdkafka refuses to create it; NULL:
         * the role's ("consumer", "producer", "snapshot.topic producer",
         * "snapshot.topic reader"); "": librdkafka's message alone */
        const char *name;
        ls_kafka_env_t *env; /* NULL: no opaque, no callbacks of ours */
        void (*dr_msg_cb)(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                          void *opaque); /* producers; NULL: none */
        void (*rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *parts,
                             void *opaque); /* consumers; NULL: none */
} ls_kafka_opts_t;

/**
 * Creates the client @p opts describes.
 * @returns the client (the caller's: rd_kafka_destroy() it), or NULL with
 *          errstr saying why: "SECTION.NAME: why" for a property of the
 *          config's sections, "WHERE NAME: why" for one of @p opts->props,
 *          "NAME: why" when librdkafka refuses to create it. Nothing is
 *          left behind on failure: the configuration built is destroyed
 *          once, by this call.
 */
rd_kafka_t *ls_kafka_client_new(const ls_kafka_opts_t *opts, char *errstr,
                                size_t errstr_size);

/**
 * The cluster @p conf's clients connect to: its bootstrap servers
 * (kafka.bootstrap.servers, else kafka.metadata.broker.list, else
 * consumer.bootstrap.servers) or, when it names none and asks for the
 * embedded test broker (conf->embedded), a test broker started now with
 * the config's five topics of conf->embedded_partitions partitions each:
 * *@p brokerp, the caller's to destroy after its clients (else NULL).
 * Never a silent test broker otherwise (e.g. from an unset
 * ${env:KAFKA_BOOTSTRAP}).
 * @returns the address (the caller's: ls_free() it), or NULL with errstr
 *          saying why.
 */
char *ls_kafka_bootstrap(const ls_config_t *conf, ls_broker_t **brokerp,
                         char *errstr, size_t errstr_size);

/**
 * A string property of client @p rk's effective configuration, in
 * @p buf of @p size bytes. @returns @p buf ("" when unset).
 */
const char *ls_kafka_prop(rd_kafka_t *rk, const char *name, char *buf,
                          size_t size);

#endif /* LS_KAFKA_H */
