/*
 * ls_broker.h - the embedded test broker: librdkafka's in-process
 * Kafka-protocol mock cluster on real TCP ports, for `leadscore broker`,
 * `demo`, and `run` without bootstrap servers (an embedded_broker
 * section). It is a test broker: see docs/CONFIG.md for its limits.
 *
 * Threading: the broker runs on librdkafka's threads; ls_broker_control()
 * and ls_broker_destroy() are called from one thread at a time.
 */
#ifndef LS_BROKER_H
#define LS_BROKER_H

#include <stddef.h>

#include "leadscore/ls_err.h"

typedef struct ls_broker_s ls_broker_t;

/**
 * Starts librdkafka's in-process Kafka-protocol test broker (one broker,
 * listening on 127.0.0.1) and creates @p n_topics topics with
 * @p partitions partitions each.
 * @returns the broker, or NULL with errstr saying why.
 */
ls_broker_t *ls_broker_new(int partitions, const char *const *topics,
                           size_t n_topics, char *errstr, size_t errstr_size);

/**
 * As ls_broker_new() with @p brokers (1 .. 16) brokers; partition leaders
 * are spread over them, so that faults can move them (see
 * ls_broker_control()).
 */
ls_broker_t *ls_broker_new_cluster(int brokers, int partitions,
                                   const char *const *topics, size_t n_topics,
                                   char *errstr, size_t errstr_size);

/**
 * Applies one fault-injection command to the test broker (for tests):
 *   produce_errors N [CODE]   the next N Produce requests fail with CODE
 *   fetch_errors N [CODE]     ... Fetch requests
 *   commit_errors N [CODE]    ... OffsetCommit requests
 *   errors APIKEY N [CODE]    ... requests of any ApiKey
 *   down B | up B             broker B (1-based id) stops / resumes serving
 *   leader TOPIC P B          partition P of TOPIC moves to broker B
 *   coordinator GROUP B       the group's coordinator moves to broker B
 *   rtt B MS                  broker B answers MS later
 *   clear                     forgets pending request errors
 * CODE is a Kafka error code number (default: a retriable one).
 * @returns LS_OK, or LS_ERR_INVALID with errstr naming what is wrong.
 */
ls_err_t ls_broker_control(ls_broker_t *broker, const char *line, char *errstr,
                           size_t errstr_size);

/** @returns the bootstrap address ("127.0.0.1:PORT"), valid until destroy. */
const char *ls_broker_address(const ls_broker_t *broker);

void ls_broker_destroy(ls_broker_t *broker);

#endif /* LS_BROKER_H */
