/*
 * bench_util.c - clocks, RSS, result lines, medians, option tables and
 * sub-command dispatch, Avro read-back, shared by the benchmark programs
 * (see bench_util.h).
 */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu(void) {
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t bench_wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t bench_rss(void) {
        FILE *fp = fopen("/proc/self/statm", "r");
        unsigned long size = 0, rss = 0;

        if (!fp)
                return 0;
        if (fscanf(fp, "%lu %lu", &size, &rss) != 2)
                rss = 0;
        fclose(fp);
        return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

void bench_result(const char *bench, const char *metric, double value,
                  const char *unit, const char *extra_json) {
        printf("{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%.6g,"
               "\"unit\":\"%s\"%s%s}\n",
               bench, metric, value, unit, extra_json ? "," : "",
               extra_json ? extra_json : "");
        fflush(stdout);
}

void bench_throughput(const char *bench, const char *prefix, size_t n,
                      double t0, double t_first, double t_end,
                      const char *extra_json) {
        char metric[64];

        snprintf(metric, sizeof(metric), "%smsgs_per_s", prefix);
        bench_result(bench, metric, (double)n / (t_end - t_first), "msgs/s",
                     extra_json);
        snprintf(metric, sizeof(metric), "%stotal_s", prefix);
        bench_result(bench, metric, t_end - t0, "s", extra_json);
        snprintf(metric, sizeof(metric), "%sjoin_s", prefix);
        bench_result(bench, metric, t_first - t0, "s", extra_json);
}

static int bench_cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n) {
        qsort(v, n, sizeof(*v), bench_cmp_double);
        return v[n / 2];
}

const char *bench_source_dir(void) {
        const char *d = getenv("BENCH_SOURCE_DIR");
        return d ? d : BENCH_SOURCE_DIR;
}

/* ------------------------------------------------------------ options */

static int bench_opt_set(const bench_opt_t *o, const char *v) {
        switch (o->type) {
        case BENCH_OPT_STR:
                *(const char **)o->dst = v;
                return 0;
        case BENCH_OPT_SIZE:
                *(size_t *)o->dst = strtoull(v, NULL, 10);
                return 0;
        case BENCH_OPT_U64:
                *(uint64_t *)o->dst = strtoull(v, NULL, 10);
                return 0;
        case BENCH_OPT_INT:
                *(int *)o->dst = atoi(v);
                return 0;
        case BENCH_OPT_DOUBLE:
                *(double *)o->dst = atof(v);
                return 0;
        }
        return -1;
}

int bench_opts_parse(int argc, char **argv, int first, const bench_opt_t *opts,
                     int (*other)(void *arg, const char *name,
                                  const char *value),
                     void *arg) {
        int i;

        for (i = first; i < argc; i += 2) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                const bench_opt_t *o;

                if (!v)
                        return -1;
                for (o = opts; o->name && strcmp(o->name, a); o++)
                        ;
                if (o->name ? bench_opt_set(o, v) : !other || other(arg, a, v))
                        return -1;
        }
        return 0;
}

const bench_cmd_t *bench_cmd_find(int argc, char **argv,
                                  const bench_cmd_t *cmds) {
        if (argc < 2)
                return NULL;
        for (; cmds->name; cmds++)
                if (!strcmp(cmds->name, argv[1]))
                        return cmds;
        return NULL;
}

/* ---------------------------------------------- Avro binary read-back */

int64_t bench_avro_read_long(const uint8_t **p, const uint8_t *end) {
        uint64_t u = 0;
        int s = 0;

        while (*p < end && s < 64) {
                uint8_t b = *(*p)++;
                u |= (uint64_t)(b & 0x7f) << s;
                s += 7;
                if (!(b & 0x80))
                        break;
        }
        return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int bench_avro_skip_string(const uint8_t **p, const uint8_t *end) {
        int64_t n = bench_avro_read_long(p, end);

        if (n < 0 || n > end - *p)
                return -1;
        *p += n;
        return 0;
}
