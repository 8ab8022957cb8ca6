/*
 * ls_scorer.h - the one door from an input record's bytes to a verdict
 * and the engine's outputs. `leadscore run`, `replay` (topics and files),
 * `diff`, `score` and `demo` all score through ls_scorer_feed(), so that
 * the same record gets the same verdict, the same dead-letter reason and
 * the same outputs in every command (docs/SEMANTICS.md, "Verdicts").
 */
#ifndef LS_SCORER_H
#define LS_SCORER_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_codec.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"

/** What became of one input record. */
typedef enum ls_verdict_e {
        LS_V_APPLIED = 0, /* applied (it may have produced no output) */
        LS_V_DUPLICATE,   /* event id already applied to the lead */
        LS_V_STALE,       /* profile update older than the one applied */
        LS_V_TICK,        /* a clock tick: stream time moved to it */
        LS_V_OVERSIZED,   /* value longer than max_record_bytes */
        LS_V_DECODE,      /* the value does not decode */
        LS_V_SCHEMA,      /* unknown schema id (registry framing) */
        LS_V_KEY,         /* record key missing or not the lead id */
        LS_V_PARTITION,   /* the key belongs to another partition */
        LS_V_INVALID,     /* decoded, but the engine rejects a field */
        LS_V_LATE,        /* event behind stream time - lateness */
        LS_V_FUTURE,      /* dated more than max_future past its record */
        LS_V_CAPACITY,    /* a new lead while the lead cap is reached */
        LS_V_ERROR,       /* not the record's fault: out of memory,
                            * registry unreachable; see *errp */
        LS_V__CNT
} ls_verdict_t;

/**
 * The verdict's name: "applied", "duplicate", "stale", "tick", and for rejected
 * records the dead-letter reason ("oversized", "decode", "schema", "key",
 * "partition", "invalid", "late", "future", "capacity").
 */
const char *ls_verdict_name(ls_verdict_t v);

/** 1 when the record is rejected: `run` dead-letters it, `replay` and
 *  `score` report it with its location and count it as bad. */
int ls_verdict_rejected(ls_verdict_t v);

/** One input record, as read from a topic or a file. */
typedef struct ls_record_s {
        ls_input_kind_t kind; /* the topic it came from (JSON values may
                                * name their own kind) */
        const void *value;
        size_t len;
        const char *topic; /* NULL: from a file, no key rule */
        const void *key;   /* NULL: the record has none */
        size_t key_len;
        int32_t partition;
        int32_t partition_cnt; /* of the topic; <= 0: unknown */
        int64_t timestamp;     /* the record's timestamp, ms; <= 0: none */
        int64_t tick;          /* != 0: the record is a clock tick at this time
                       * (ms): a record without a value whose
                       * LS_TICK_HEADER says the time (ls_tick_parse) */
} ls_record_t;

/** The header that makes a record without a value a clock tick: its
 *  value is the tick's time, decimal milliseconds since the epoch
 *  (docs/SEMANTICS.md, "Clock ticks"). */
#define LS_TICK_HEADER "leadscore.tick"

/**
 * The time of a tick header's value (@p len bytes, not NUL-terminated).
 * @returns the time (> 0), or 0 when it is not 1 to 19 decimal digits
 *          naming a time from 1 ms to the end of the year 9999: such a record
 *          is no tick.
 */
int64_t ls_tick_parse(const void *value, size_t len);

/** Counts of verdicts, indexed by ls_verdict_t. */
typedef struct ls_verdicts_s {
        uint64_t n[LS_V__CNT];
} ls_verdicts_t;

/** The records of @p vs that were rejected (ls_verdict_rejected()). */
uint64_t ls_verdicts_rejected(const ls_verdicts_t *vs);

/**
 * The steps before the engine: checks @p rec's size, decodes it with
 * @p codec into @p in (pointers valid until the codec's next decode) and
 * checks the key rule (records from a topic); in->record_time is the
 * record's timestamp. A tick (rec->tick) is no record to decode: *in is
 * an LS_INPUT_TICK at its time. @returns LS_V_APPLIED when the record
 * goes on to the engine, else its verdict (LS_V_ERROR: *errp), errstr
 * saying why.
 */
ls_verdict_t ls_scorer_read(ls_codec_t *codec, const ls_record_t *rec,
                            ls_input_t *in, ls_err_t *errp, char *errstr,
                            size_t errstr_size);

/**
 * For a caller that holds inputs before applying them (`run`'s workers):
 * starts loading what ls_scorer_apply() of the input whose lead hash
 * (ls_input_lead_hash(), taken when it was read) is @p lead_hash will
 * touch in the @p n_shards shards (ls_shard_prefetch(), stage 0 then 1).
 * A hint.
 */
void ls_scorer_prefetch(uint64_t lead_hash, ls_shard_t *const *shards,
                        size_t n_shards, int stage);

/**
 * The engine step of ls_scorer_feed(): applies @p in, which
 * ls_scorer_read() accepted, to the @p n_shards shards, as
 * ls_scorer_feed() does (same results). For a caller that read the
 * record earlier, e.g. for its merge key, and kept the input
 * (ls_input_dup()): a record is decoded once.
 */
ls_verdict_t ls_scorer_apply(const ls_input_t *in, ls_shard_t *const *shards,
                             ls_outbuf_t *obs, size_t n_shards, ls_err_t *errp,
                             char *errstr, size_t errstr_size);

/**
 * Scores @p rec: checks its size, decodes it with @p codec, checks the
 * key rule (records from a topic), then applies it to each of the
 * @p n_shards shards (one per model set; all see the same input), their
 * outputs appended to @p obs[i] (reset by the caller). A tick moves each
 * shard's stream time to its time, firing the decay that comes due
 * (LS_V_TICK), unless it is dated past max_future from its record's
 * timestamp (LS_V_FUTURE), like an event. Outputs appended
 * before a rejection (decay that came due) are the caller's to emit. The
 * verdict is the first shard's.
 * @returns the verdict; for LS_V_ERROR *errp holds the error code. errstr
 *          says why for every verdict but LS_V_APPLIED. Not thread-safe
 *          per codec or shard; allocates only through the engine.
 */
ls_verdict_t ls_scorer_feed(ls_codec_t *codec, const ls_record_t *rec,
                            ls_shard_t *const *shards, ls_outbuf_t *obs,
                            size_t n_shards, ls_err_t *errp, char *errstr,
                            size_t errstr_size);

#endif /* LS_SCORER_H */
