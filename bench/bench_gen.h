/*
 * bench_gen.h - the benchmarks' input generator.
 *
 * Generates the same kind of stream as bench/gen_events.py, directly in C
 * and reproducibly from a seed: many leads with a skewed (Zipf-like,
 * lead = L * u^3) activity distribution, every event kind of
 * examples/model.yaml, profile updates for ~1 in 20 inputs, small
 * out-of-order jitter, ~1% duplicate deliveries and ~1% bot clicks. Each
 * record is kept both as an ls_input_t (for the engine alone) and as
 * plain Avro binary of schemas/lead_event.avsc or lead_profile.avsc,
 * encoded with avro-c's writer (an encoder independent of leadscore's
 * decoder). The partition of a record is bench_partition(lead id).
 */
#ifndef BENCH_GEN_H
#define BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_engine.h"

#define BENCH_MAX_KV 5

typedef struct bench_rec_s {
        ls_input_t in; /* points into this record */
        ls_kv_t kv[BENCH_MAX_KV];
        char lead_id[32];
        char event_id[32];
        uint32_t partition;
        uint32_t avro_len;
        uint8_t *avro; /* plain Avro binary of the record */
} bench_rec_t;

typedef struct bench_gen_conf_s {
        size_t events; /* records to generate */
        size_t leads;  /* distinct leads */
        uint64_t seed;
        int64_t start_ms; /* first event time */
        int days;         /* period covered */
        int partitions;   /* for bench_rec_t.partition */
} bench_gen_conf_t;

typedef struct bench_gen_s bench_gen_t;

/** Pseudo-random state (splitmix64). */
typedef struct bench_rng_s {
        uint64_t s;
} bench_rng_t;

uint64_t bench_rng_next(bench_rng_t *r);
double bench_rng_unit(bench_rng_t *r); /* [0, 1) */

/**
 * Opens the avro-c writer for the schemas in @p schema_dir.
 * @returns the generator or NULL (message on stderr).
 */
bench_gen_t *bench_gen_new(const char *schema_dir);
void bench_gen_destroy(bench_gen_t *g);

/**
 * Fills @p rec with input number @p i of the stream described by @p conf,
 * continuing @p rng and @p last (the previous event, for duplicates; may
 * be NULL), and with @p time_ms as its time when >= 0 (otherwise the
 * stream's own clock). Encodes it when @p g is not NULL (rec->avro is then
 * allocated; free with bench_rec_free).
 */
int bench_gen_one(bench_gen_t *g, const bench_gen_conf_t *conf,
                  bench_rng_t *rng, size_t i, int64_t time_ms,
                  const bench_rec_t *last, bench_rec_t *rec);

/** Generates conf->events records (Avro encoded). @returns NULL on error. */
bench_rec_t *bench_gen_all(const char *schema_dir,
                           const bench_gen_conf_t *conf);
void bench_recs_free(bench_rec_t *recs, size_t n);
void bench_rec_free(bench_rec_t *rec);

/** Fixes up the internal pointers of a copied record. */
void bench_rec_fix(bench_rec_t *rec);

/**
 * @returns the configuration of the benchmarks' standard stream: @p events
 * records over @p leads leads from @p seed, 120 days from 2026-01-01.
 */
bench_gen_conf_t bench_gen_conf_standard(size_t events, size_t leads,
                                         uint64_t seed, int partitions);

/** @returns the partition of a lead id: Kafka's murmur2 partitioner. */
uint32_t bench_partition(const char *key, size_t len, int partitions);

#endif /* BENCH_GEN_H */
