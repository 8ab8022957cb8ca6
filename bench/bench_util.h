/*
 * bench_util.h - what every benchmark program shares: clocks, RSS, result
 * lines, medians, the "--name value" option table and sub-command
 * dispatch, and reading back the Avro binary primitives of a record.
 *
 * Results are one JSON object a line on stdout (bench_result), which
 * bench/report.py aggregates; diagnostics go to stderr.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/** @returns a monotonic clock reading in seconds. */
double bench_now(void);
/** @returns this process's CPU time (user + system) in seconds. */
double bench_cpu(void);
/** @returns the wall clock in ms since the epoch. */
int64_t bench_wall_ms(void);

/** @returns the resident set size of this process in bytes (0 if unknown). */
size_t bench_rss(void);

/** Prints one result line: {"bench":..,"metric":..,"value":..,...}.
 *  @p extra_json: more members without braces, or NULL. */
void bench_result(const char *bench, const char *metric, double value,
                  const char *unit, const char *extra_json);

/**
 * Prints the three lines of a throughput run over @p n records that
 * started at @p t0, saw its first record at @p t_first and ended at
 * @p t_end (bench_now() readings): <prefix>msgs_per_s (first record to
 * end), <prefix>total_s and <prefix>join_s (start to first record).
 */
void bench_throughput(const char *bench, const char *prefix, size_t n,
                      double t0, double t_first, double t_end,
                      const char *extra_json);

/** Sorts @p v (n > 0 values) in place. @returns its median, v[n / 2]. */
double bench_median(double *v, size_t n);

/** Finds "schemas" / "examples" below the source tree (BENCH_SOURCE_DIR,
 *  or the environment variable of that name). */
const char *bench_source_dir(void);

/* ------------------------------------------------------------ options */

typedef enum {
        BENCH_OPT_STR,    /* const char ** (points into argv) */
        BENCH_OPT_SIZE,   /* size_t * */
        BENCH_OPT_U64,    /* uint64_t * */
        BENCH_OPT_INT,    /* int * */
        BENCH_OPT_DOUBLE, /* double * */
} bench_opt_type_t;

/** One "--name value" option; a table ends with a NULL name. */
typedef struct bench_opt_s {
        const char *name;
        bench_opt_type_t type;
        void *dst;
} bench_opt_t;

/**
 * Parses argv[first..] as pairs "name value" into @p opts. A name not in
 * the table goes to @p other (when not NULL), which returns 0 when it
 * took it.
 * @returns 0, or -1 on a name nobody takes or a name without a value
 *          (the caller prints its usage).
 */
int bench_opts_parse(int argc, char **argv, int first, const bench_opt_t *opts,
                     int (*other)(void *arg, const char *name,
                                  const char *value),
                     void *arg);

/** One sub-command; a table ends with a NULL name. @p run gets the
 *  program's parsed options. */
typedef struct bench_cmd_s {
        const char *name;
        int (*run)(const void *opts);
} bench_cmd_t;

/** @returns the command of @p cmds named argv[1], or NULL. */
const bench_cmd_t *bench_cmd_find(int argc, char **argv,
                                  const bench_cmd_t *cmds);

/* ---------------------------------------------- Avro binary read-back */

/** Reads one Avro long (zig-zag varint) at *p, advancing it (never past
 *  @p end). @returns the value (0 on an empty input). */
int64_t bench_avro_read_long(const uint8_t **p, const uint8_t *end);

/** Skips one Avro string or bytes at *p. @returns 0, or -1 when its
 *  length is negative or runs past @p end. */
int bench_avro_skip_string(const uint8_t **p, const uint8_t *end);

#endif /* BENCH_UTIL_H */
