/*
 * ls_tick.h - clock ticks in the log (docs/SEMANTICS.md, "Clock ticks").
 *
 * Stream time moves only with the inputs of a partition, so a quiet
 * partition would never fire its decay and mql_lost. Instead of reading
 * the wall clock while applying, `run` writes the clock into the log: a
 * partition quiet for idle_tick gets a tick record, produced to that
 * partition of the events topic (no key, no value, the LS_TICK_HEADER
 * header holding the wall-clock time). Consumed like any input, through
 * the merge and the scorer, it moves the shard's stream time; a replay of
 * the same log meets the same ticks in the same places, so it reproduces
 * those outputs byte for byte.
 *
 * Threading: as librdkafka's (any thread for ls_tick_read; the producer's
 * rules for ls_tick_produce).
 */
#ifndef LS_TICK_H
#define LS_TICK_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "leadscore/ls_err.h"

/**
 * The tick time of a consumed record: a record without a value whose
 * last LS_TICK_HEADER header holds a time (ls_tick_parse()).
 * @returns the time, or 0 for every other record (a record with a value
 *          is never a tick, so its headers are not parsed).
 */
int64_t ls_tick_read(const rd_kafka_message_t *rkm);

/**
 * Produces a tick at @p time (ms) to @p partition of @p topic with
 * @p rk: no key, no value, the header LS_TICK_HEADER, the record's
 * timestamp @p time, and @p msg_opaque as the message's opaque (for the
 * delivery report: ls_producer_tick() tells its ticks from outputs by
 * it). With a transactional producer it goes into the open transaction.
 * @returns LS_OK, or LS_ERR_KAFKA with errstr naming the topic, the
 *          partition and why.
 */
ls_err_t ls_tick_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                         int64_t time, void *msg_opaque, char *errstr,
                         size_t errstr_size);

#endif /* LS_TICK_H */
