/*
 * ls_kafka.c - the one factory of Kafka clients (see ls_kafka.h).
 *
 * A role is a row of ls_kafka_roles: the client type, which config
 * sections apply, and the name a creation error gives. The configuration
 * is built in one order for every role (callbacks, statistics, the role's
 * defaults, `kafka`, the role's section, bootstrap, the role's fixed
 * settings, the caller's properties), and the one error path destroys it
 * unless rd_kafka_new() took it: librdkafka takes a configuration only
 * when it succeeds.
 *
 * The callbacks serve every role with an env: librdkafka's log lines and
 * errors go to the structured (masking) logger, authentication and TLS
 * failures to the owner's fatal hook, statistics to the metric registry.
 */
#include "leadscore/ls_kafka.h"

#include <ctype.h>
#include <string.h>

#include "leadscore/ls_alloc.h"

/* What a role is. */
typedef struct ls_kafka_role_def_s {
        rd_kafka_type_t type;
        const char *section; /* its own config section, or NULL */
        int kafka;           /* takes the `kafka` section */
        int stats;           /* statistics with metrics.listen */
        const char *name;    /* names it in a creation error */
} ls_kafka_role_def_t;

static const ls_kafka_role_def_t ls_kafka_roles[] = {
        [LS_KAFKA_CONSUMER] = {RD_KAFKA_CONSUMER, "consumer", 1, 1, "consumer"},
        [LS_KAFKA_PRODUCER] = {RD_KAFKA_PRODUCER, "producer", 1, 1, "producer"},
        [LS_KAFKA_SNAPSHOT_WRITER] = {RD_KAFKA_PRODUCER, NULL, 1, 0,
                                      "snapshot.topic producer"},
        [LS_KAFKA_SNAPSHOT_READER] = {RD_KAFKA_CONSUMER, NULL, 1, 0,
                                      "snapshot.topic reader"},
        [LS_KAFKA_RAW_PRODUCER] = {RD_KAFKA_PRODUCER, NULL, 0, 0, "producer"},
        [LS_KAFKA_RAW_CONSUMER] = {RD_KAFKA_CONSUMER, NULL, 0, 0, "consumer"},
        [LS_KAFKA_REPLAY_CONSUMER] = {RD_KAFKA_CONSUMER, NULL, 0, 0,
                                      "consumer"},
        [LS_KAFKA_REPLAY_PRODUCER] = {RD_KAFKA_PRODUCER, NULL, 0, 0,
                                      "producer"},
};

/* `replay`'s defaults: large fetches and queues for throughput (the user
 * may override), and its fixed consumer settings (by assignment, nothing
 * committed, partition ends reported). */
static const ls_kafka_prop_t ls_kafka_replay_cdefs[] = {
        {"group.id", "leadscore-replay"},
        {"queued.min.messages", "10000000"},
        {"queued.max.messages.kbytes", "2097151"},
        {"fetch.message.max.bytes", "16777216"},
        {"fetch.max.bytes", "104857600"},
        {"fetch.wait.max.ms", "100"},
};
static const ls_kafka_prop_t ls_kafka_replay_pdefs[] = {
        {"linger.ms", "20"},
        {"batch.num.messages", "10000"},
        {"queue.buffering.max.messages", "2000000"},
        {"queue.buffering.max.kbytes", "2097151"},
        {"enable.idempotence", "true"},
};
static const ls_kafka_prop_t ls_kafka_replay_cfixed[] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
};

const char *ls_kafka_prop(rd_kafka_t *rk, const char *name, char *buf,
                          size_t size) {
        if (rd_kafka_conf_get(rd_kafka_conf(rk), name, buf, &size) !=
            RD_KAFKA_CONF_OK)
                buf[0] = '\0';
        return buf;
}

/* ------------------------------------------------------------ callbacks */

int ls_kafka_env_failed(const ls_kafka_env_t *env) {
        return env->failed && env->failed(env->owner);
}

void ls_kafka_env_fatal(const ls_kafka_env_t *env, ls_err_t err,
                        const char *msg) {
        if (env->fatal)
                env->fatal(env->owner, err, msg);
        else
                ls_log(env->log, LS_LOG_ERROR, "fatal", "FATAL: %s", msg);
}

/**
 * librdkafka's log lines, through the structured (masking) logger.
 * librdkafka reports each broker failure (FAIL) and fatal error (FATAL)
 * twice: as a log line and as an error event. The error event is the one
 * logged (ls_kafka_error_cb, with the error's name; a fatal consumer
 * error reaches the consumer's owner), so these lines are dropped here
 * unless they are debug lines (librdkafka's `debug` property).
 */
static void ls_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                            const char *buf) {
        const ls_kafka_env_t *env = rd_kafka_opaque(rk);

        if (level < 7 /* LOG_DEBUG */ &&
            (!strcmp(fac, "FAIL") || !strcmp(fac, "FATAL")))
                return;
        if (env)
                ls_log_kv(env->log, ls_log_level_from_syslog(level), "kafka",
                          buf, "client", rd_kafka_name(rk), "facility", fac,
                          NULL);
}

/**
 * Whether an authentication or TLS error's reason is the connection's
 * fault rather than the broker's answer: librdkafka reports a handshake
 * cut by a disconnect or a timeout with the same error codes as a refusal
 * (e.g. "SASL SCRAM-SHA-256 mechanism handshake failed: Local: Broker
 * transport failure"). Those are retried, like any broker restart.
 */
static int ls_kafka_transient(const char *reason) {
        static const char *const words[] = {"transport", "timed out",
                                            "disconnect", "connection reset",
                                            "connection refused"};
        char low[512];
        size_t i;

        for (i = 0; i + 1 < sizeof(low) && reason[i]; i++)
                low[i] = (char)tolower((unsigned char)reason[i]);
        low[i] = '\0';
        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strstr(low, words[i]))
                        return 1;
        return 0;
}

/**
 * librdkafka's errors (its error callback, on the thread that polls).
 * A broker that refuses our SASL credentials, or a TLS handshake that
 * fails (e.g. the broker's certificate does not verify against
 * ssl.ca.location), stops the run: librdkafka would retry forever with
 * the credentials and trust it read at start, so only a restart with a
 * corrected secret or CA can succeed. OAUTHBEARER is the exception: its
 * token refresh may fail for a while and is retried, and so is a
 * handshake cut by the connection (ls_kafka_transient). Other errors are
 * logged, once each (event=kafka facility=ERROR error=NAME); librdkafka
 * retries them. So are authentication and TLS errors once the stop has
 * begun.
 */
static void ls_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason,
                              void *opaque) {
        ls_kafka_env_t *env = opaque;
        char mech[64], user[256], ca[512], hint[320] = "", msg[1024];
        int transient = ls_kafka_transient(reason);

        ls_kafka_prop(rk, "sasl.mechanisms", mech, sizeof(mech));
        if (!ls_kafka_env_failed(env) && !transient &&
            err == RD_KAFKA_RESP_ERR__AUTHENTICATION &&
            strcmp(mech, "OAUTHBEARER")) {
                /* librdkafka before 2.6.1 repeats the client nonce in its
                 * SCRAM client-final-message; Kafka 4 checks it strictly. */
                if (!strncmp(mech, "SCRAM-", 6) &&
                    rd_kafka_version() < 0x020601ff)
                        snprintf(hint, sizeof(hint),
                                 "; if they are right, the cause is "
                                 "librdkafka %s: before 2.6.1 its SCRAM is "
                                 "refused by Apache Kafka 4.0 and later "
                                 "even with the right password (run with "
                                 "librdkafka 2.6.1 or later, or use PLAIN "
                                 "over TLS)",
                                 rd_kafka_version_str());
                snprintf(msg, sizeof(msg),
                         "Kafka authentication failed (SASL mechanism %s, "
                         "user '%s'): %s; check sasl.username and "
                         "sasl.password, and that the broker knows this "
                         "user for this mechanism%s",
                         mech,
                         ls_kafka_prop(rk, "sasl.username", user, sizeof(user)),
                         reason, hint);
                ls_kafka_env_fatal(env, LS_ERR_KAFKA, msg);
        } else if (!ls_kafka_env_failed(env) && !transient &&
                   err == RD_KAFKA_RESP_ERR__SSL) {
                ls_kafka_prop(rk, "ssl.ca.location", ca, sizeof(ca));
                snprintf(msg, sizeof(msg),
                         "Kafka TLS handshake failed (ssl.ca.location %s): %s",
                         ca[0] ? ca : "not set: the system's CA certificates",
                         reason);
                ls_kafka_env_fatal(env, LS_ERR_KAFKA, msg);
        } else {
                ls_log_kv(env->log, LS_LOG_ERROR, "kafka", reason, "client",
                          rd_kafka_name(rk), "facility", "ERROR", "error",
                          rd_kafka_err2name((rd_kafka_resp_err_t)err), NULL);
        }
}

static int ls_kafka_stats_cb(rd_kafka_t *rk, char *json, size_t json_len,
                             void *opaque) {
        ls_kafka_env_t *env = opaque;

        if (ls_metrics_rdkafka_stats(env->metrics,
                                     rd_kafka_type(rk) == RD_KAFKA_CONSUMER
                                             ? "consumer"
                                             : "producer",
                                     json, json_len))
                ls_log(env->log, LS_LOG_WARN, "kafka_stats",
                       "cannot parse the Kafka client's statistics");
        return 0; /* librdkafka frees json */
}

/* -------------------------------------------------------- configuration */

/** Sets one property; an error names it as @p where followed by @p name
 *  ("consumer." for a config section). @returns 0 or -1. */
static int ls_kafka_set(rd_kafka_conf_t *kconf, const char *where,
                        const char *name, const char *value, char *errstr,
                        size_t errstr_size) {
        char kerr[512];

        if (rd_kafka_conf_set(kconf, name, value, kerr, sizeof(kerr)) !=
            RD_KAFKA_CONF_OK) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID, "%s%s: %s",
                          where, name, kerr);
                return -1;
        }
        return 0;
}

/** Sets the @p n properties @p props, each named as @p where NAME. */
static int ls_kafka_props(rd_kafka_conf_t *kconf, const char *where,
                          const ls_kafka_prop_t *props, size_t n, char *errstr,
                          size_t errstr_size) {
        size_t i;

        for (i = 0; i < n; i++)
                if (ls_kafka_set(kconf, where, props[i].name, props[i].value,
                                 errstr, errstr_size))
                        return -1;
        return 0;
}

/** Sets every property of config section @p section. */
static int ls_kafka_section(rd_kafka_conf_t *kconf, const char *section,
                            const ls_props_t *props, char *errstr,
                            size_t errstr_size) {
        char where[64];
        size_t i;

        snprintf(where, sizeof(where), "%s.", section);
        for (i = 0; i < props->n; i++)
                if (ls_kafka_set(kconf, where, props->names[i],
                                 props->values[i], errstr, errstr_size))
                        return -1;
        return 0;
}

/** Only range keeps partition p of both input topics on one member:
 *  roundrobin and cooperative-sticky can split a lead's inputs. */
static int ls_kafka_check_range(rd_kafka_conf_t *kconf, const ls_config_t *conf,
                                char *errstr, size_t errstr_size) {
        char v[128];
        size_t vsize = sizeof(v);

        if (rd_kafka_conf_get(kconf, "partition.assignment.strategy", v,
                              &vsize) == RD_KAFKA_CONF_OK &&
            strcmp(v, "range") != 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "%s: consumer: partition.assignment.strategy '%s' "
                          "can assign partition p of %s and of %s to "
                          "different members; leadscore needs 'range' "
                          "(docs/CONFIG.md)",
                          conf->path ? conf->path : "config", v,
                          conf->topic_events, conf->topic_profiles);
                return -1;
        }
        return 0;
}

/**
 * The configuration of the client @p o describes.
 * @returns it (the caller's), or NULL with errstr (nothing left behind).
 */
static rd_kafka_conf_t *ls_kafka_conf_build(const ls_kafka_opts_t *o,
                                            char *errstr, size_t errstr_size) {
        const ls_kafka_role_def_t *def = &ls_kafka_roles[o->role];
        const ls_config_t *conf = o->conf;
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        const char *where = o->props_where ? o->props_where : "";

        if (!kconf) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        if (o->env) {
                rd_kafka_conf_set_opaque(kconf, o->env);
                if (o->env->log) {
                        rd_kafka_conf_set_log_cb(kconf, ls_kafka_log_cb);
                        rd_kafka_conf_set_error_cb(kconf, ls_kafka_error_cb);
                }
        }
        if (conf && def->stats && conf->metrics_listen && o->env &&
            o->env->log && o->env->metrics) {
                /* Lag, rtt and queue gauges; the user may override. */
                if (ls_kafka_set(kconf, "kafka.", "statistics.interval.ms",
                                 "5000", errstr, errstr_size))
                        goto fail;
                rd_kafka_conf_set_stats_cb(kconf, ls_kafka_stats_cb);
        }
        if (o->role == LS_KAFKA_CONSUMER) {
                /* Latency defaults (docs/CONFIG.md): a fetch returns
                 * within 10 ms when there is nothing new, and a partition
                 * reports its end, which releases the other topic's held
                 * records at once (docs/DURABILITY.md). */
                if (ls_kafka_set(kconf, "consumer.", "auto.offset.reset",
                                 "earliest", errstr, errstr_size) ||
                    ls_kafka_set(kconf, "consumer.",
                                 "partition.assignment.strategy", "range",
                                 errstr, errstr_size) ||
                    ls_kafka_set(kconf, "consumer.", "fetch.wait.max.ms", "10",
                                 errstr, errstr_size) ||
                    ls_kafka_set(kconf, "consumer.", "enable.partition.eof",
                                 "true", errstr, errstr_size))
                        goto fail;
        } else if (o->role == LS_KAFKA_REPLAY_CONSUMER) {
                if (ls_kafka_props(kconf, "kafka ", ls_kafka_replay_cdefs,
                                   sizeof(ls_kafka_replay_cdefs) /
                                           sizeof(ls_kafka_replay_cdefs[0]),
                                   errstr, errstr_size))
                        goto fail;
        } else if (o->role == LS_KAFKA_REPLAY_PRODUCER) {
                if (ls_kafka_props(kconf, "kafka ", ls_kafka_replay_pdefs,
                                   sizeof(ls_kafka_replay_pdefs) /
                                           sizeof(ls_kafka_replay_pdefs[0]),
                                   errstr, errstr_size))
                        goto fail;
        } else if (o->role == LS_KAFKA_PRODUCER) {
                /* Keys land where the Java client, Kafka Streams, Flink
                 * and kafkajs put them (the user may override). */
                if (ls_kafka_set(kconf, "producer.", "linger.ms", "5", errstr,
                                 errstr_size) ||
                    ls_kafka_set(kconf, "producer.", "partitioner",
                                 "murmur2_random", errstr, errstr_size))
                        goto fail;
        }
        if (conf && def->kafka &&
            ls_kafka_section(kconf, "kafka", &conf->kafka, errstr, errstr_size))
                goto fail;
        if (o->kafka &&
            ls_kafka_section(kconf, "kafka", o->kafka, errstr, errstr_size))
                goto fail;
        if (conf && def->section &&
            ls_kafka_section(kconf, def->section,
                             o->role == LS_KAFKA_CONSUMER ? &conf->consumer
                                                          : &conf->producer,
                             errstr, errstr_size))
                goto fail;
        if (o->bootstrap && ls_kafka_set(kconf, "kafka.", "bootstrap.servers",
                                         o->bootstrap, errstr, errstr_size))
                goto fail;
        if (o->role == LS_KAFKA_CONSUMER) {
                if (ls_kafka_set(kconf, "consumer.", "group.id", conf->group,
                                 errstr, errstr_size) ||
                    ls_kafka_set(kconf, "consumer.", "enable.auto.commit",
                                 "false", errstr, errstr_size) ||
                    ls_kafka_set(kconf, "consumer.", "enable.auto.offset.store",
                                 "false", errstr, errstr_size) ||
                    ls_kafka_check_range(kconf, conf, errstr, errstr_size))
                        goto fail;
        } else if (o->role == LS_KAFKA_PRODUCER) {
                if (ls_kafka_set(kconf, "producer.", "enable.idempotence",
                                 "true", errstr, errstr_size))
                        goto fail;
        } else if (o->role == LS_KAFKA_REPLAY_CONSUMER) {
                if (ls_kafka_props(kconf, "kafka ", ls_kafka_replay_cfixed,
                                   sizeof(ls_kafka_replay_cfixed) /
                                           sizeof(ls_kafka_replay_cfixed[0]),
                                   errstr, errstr_size))
                        goto fail;
        }
        if (ls_kafka_props(kconf, where, o->props, o->props_cnt, errstr,
                           errstr_size))
                goto fail;
        if (o->rebalance_cb)
                rd_kafka_conf_set_rebalance_cb(kconf, o->rebalance_cb);
        if (o->dr_msg_cb)
                rd_kafka_conf_set_dr_msg_cb(kconf, o->dr_msg_cb);
        return kconf;
fail:
        rd_kafka_conf_destroy(kconf);
        return NULL;
}

rd_kafka_t *ls_kafka_client_new(const ls_kafka_opts_t *opts, char *errstr,
                                size_t errstr_size) {
        const ls_kafka_role_def_t *def;
        const char *name;
        rd_kafka_conf_t *kconf;
        rd_kafka_t *rk;
        char kerr[512];

        if ((size_t)opts->role >=
                    sizeof(ls_kafka_roles) / sizeof(ls_kafka_roles[0]) ||
            (!opts->conf && ls_kafka_roles[opts->role].kafka)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "Kafka client: role %d needs a config",
                          (int)opts->role);
                return NULL;
        }
        def = &ls_kafka_roles[opts->role];
        name = opts->name ? opts->name : def->name;
        kconf = ls_kafka_conf_build(opts, errstr, errstr_size);
        if (!kconf)
                return NULL;
        rk = rd_kafka_new(def->type, kconf, kerr, sizeof(kerr));
        if (!rk) {
                /* not taken: ours to destroy, once */
                rd_kafka_conf_destroy(kconf);
                if (*name)
                        ls_seterr(errstr, errstr_size, LS_ERR_KAFKA, "%s: %s",
                                  name, kerr);
                else
                        ls_seterr(errstr, errstr_size, LS_ERR_KAFKA, "%s",
                                  kerr);
        }
        return rk;
}

char *ls_kafka_bootstrap(const ls_config_t *conf, ls_broker_t **brokerp,
                         char *errstr, size_t errstr_size) {
        const char *names[5] = {conf->topic_events, conf->topic_profiles,
                                conf->topic_scores, conf->topic_alerts,
                                conf->topic_dead_letters};
        const char *b;
        char *address;

        *brokerp = NULL;
        if (ls_config_has_bootstrap(conf)) {
                b = ls_props_get(&conf->kafka, "bootstrap.servers");
                if (!b)
                        b = ls_props_get(&conf->kafka, "metadata.broker.list");
                if (!b)
                        b = ls_props_get(&conf->consumer, "bootstrap.servers");
                if (!(address = ls_strdup(b)))
                        ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                  "out of memory");
                return address;
        }
        if (!conf->embedded) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "%s: kafka.bootstrap.servers: %s; set it to the "
                          "cluster's brokers, or add an embedded_broker "
                          "section to run against a built-in test broker",
                          conf->path ? conf->path : "config",
                          ls_props_get(&conf->kafka, "bootstrap.servers")
                                  ? "empty"
                                  : "missing");
                return NULL;
        }
        *brokerp = ls_broker_new(conf->embedded_partitions, names, 5, errstr,
                                 errstr_size);
        if (!*brokerp)
                return NULL;
        if (!(address = ls_strdup(ls_broker_address(*brokerp)))) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                ls_broker_destroy(*brokerp);
                *brokerp = NULL;
        }
        return address;
}
