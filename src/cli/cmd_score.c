/*
 * cmd_score.c - `leadscore score`: offline scoring of newline-delimited
 * JSON inputs (a file or stdin) through one shard, writing every output as
 * one JSON line. Bad lines are reported as `<input>:<line>: <message>` and
 * skipped, so one bad record never stops a run.
 *
 * I/O is large-buffered (getline on a FILE with a big buffer, one fwrite
 * per input's outputs): this command doubles as the engine's benchmark.
 * The wall clock is read here for --stats only, never by the engine.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_json.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_scorer.h"

#define LS_SCORE_IOBUF (1024 * 1024)

typedef struct ls_score_s {
        const char *input_name;  /* for messages: path or "<stdin>" */
        const char *output_name; /* path or "<stdout>" */
        FILE *in, *out;
        char *inbuf, *outbuf; /* stdio buffers, freed after fclose */
        ls_buf_t buf;         /* encoded outputs of one input */
        ls_outbuf_t ob;
        uint64_t lines;         /* non-blank lines */
        ls_verdicts_t verdicts; /* per non-blank line */
        uint64_t outputs;
        int write_failed;
        int64_t record_time; /* --record-time, else -1 (none) */
} ls_score_t;

static void ls_score_usage(FILE *fp) {
        fprintf(fp,
                "usage: leadscore score --model FILE [--input FILE] "
                "[--output FILE]\n"
                "                       [--until TIME] [--record-time TIME] "
                "[--stats]\n"
                "\n"
                "Scores newline-delimited JSON inputs (one event or profile "
                "object per line)\n"
                "with one shard, in event time, and writes every score "
                "update and alert as\n"
                "one JSON line. Bad lines are reported on stderr as "
                "<input>:<line>: <message>\n"
                "and skipped; duplicate events and stale profile updates "
                "are counted, not\nerrors; blank lines are skipped.\n"
                "\n"
                "options:\n"
                "  -m, --model FILE   model file (YAML) (required)\n"
                "  -i, --input FILE   input file, '-' for stdin "
                "(default: stdin)\n"
                "  -o, --output FILE  output file, '-' for stdout "
                "(default: stdout)\n"
                "  -u, --until TIME   at end of input, advance stream time to "
                "TIME (integer ms\n"
                "                     since the epoch or RFC 3339, e.g. "
                "2026-06-01T00:00:00Z)\n"
                "                     so that pending decay fires\n"
                "  -r, --record-time TIME\n"
                "                     score each line as if read from a Kafka "
                "record with this\n"
                "                     timestamp (same forms as --until): "
                "backfill marks on\n"
                "                     alerts and max_future are measured "
                "against it\n"
                "  -s, --stats        print counts, state size and "
                "throughput to stderr\n"
                "  -h, --help         print this help and exit\n"
                "\n"
                "exit status:\n"
                "  0   every line was scored (or was a duplicate)\n"
                "  1   model or I/O error\n"
                "  2   some lines were bad (invalid JSON or fields, late "
                "events); the rest\n"
                "      were scored\n"
                "  64  usage error\n");
}

/* Opens the input; "-" or NULL is stdin (a dup, so it can be closed). */
static FILE *ls_score_open(const char *path, int std_fd, const char *mode,
                           const char **namep, const char *std_name) {
        int fd;
        FILE *fp;

        if (!path || !strcmp(path, "-")) {
                *namep = std_name;
                if ((fd = dup(std_fd)) < 0)
                        return NULL;
                if (!(fp = fdopen(fd, mode)))
                        close(fd);
                return fp;
        }
        *namep = path;
        return fopen(path, mode);
}

/* Encodes and writes the outputs in sc->ob, then resets it. */
static int ls_score_flush_outputs(ls_score_t *sc) {
        size_t i;

        if (sc->ob.n_outs == 0)
                return 0;
        ls_buf_reset(&sc->buf);
        for (i = 0; i < sc->ob.n_outs; i++) {
                if (ls_json_encode_output(&sc->ob, &sc->ob.outs[i], &sc->buf) !=
                            LS_OK ||
                    ls_buf_append(&sc->buf, "\n", 1) != LS_OK) {
                        fprintf(stderr,
                                "leadscore score: out of memory encoding "
                                "outputs\n");
                        return -1;
                }
        }
        sc->outputs += sc->ob.n_outs;
        ls_outbuf_reset(&sc->ob);
        if (fwrite(sc->buf.data, 1, sc->buf.len, sc->out) != sc->buf.len) {
                fprintf(stderr, "leadscore score: %s: write error: %s\n",
                        sc->output_name, strerror(errno));
                sc->write_failed = 1;
                return -1;
        }
        return 0;
}

/* Scores every line of sc->in. @returns 0, or -1 on a fatal error. */
static int ls_score_run(ls_score_t *sc, ls_shard_t *shard, ls_codec_t *codec) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        uint64_t lineno = 0;
        ls_record_t rec = {.kind = LS_INPUT_EVENT,
                           .timestamp = sc->record_time};
        char errstr[512];
        ls_verdict_t v;
        ls_err_t err;
        int rc = 0;

        while ((n = getline(&line, &cap, sc->in)) != -1) {
                lineno++;
                if (ls_json_blank(line, (size_t)n))
                        continue;
                sc->lines++;
                rec.value = line;
                rec.len = (size_t)n;
                v = ls_scorer_feed(codec, &rec, &shard, &sc->ob, 1, &err,
                                   errstr, sizeof(errstr));
                /* Decay outputs may precede a rejection: write them. */
                if (ls_score_flush_outputs(sc) != 0) {
                        rc = -1;
                        break;
                }
                sc->verdicts.n[v]++;
                if (v == LS_V_ERROR || ls_verdict_rejected(v))
                        fprintf(stderr, "%s:%llu: %s\n", sc->input_name,
                                (unsigned long long)lineno, errstr);
                if (v == LS_V_ERROR) {
                        rc = -1;
                        break;
                }
        }
        if (ferror(sc->in)) {
                fprintf(stderr, "leadscore score: %s: read error: %s\n",
                        sc->input_name, strerror(errno));
                rc = -1;
        }
        free(line); /* allocated by getline() */
        return rc;
}

static double ls_score_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void ls_score_print_stats(const ls_score_t *sc, const ls_shard_t *shard,
                                 double elapsed) {
        ls_shard_stats_t st;

        ls_shard_stats(shard, &st);
        fprintf(stderr,
                "inputs:            %llu\n"
                "outputs:           %llu\n"
                "bad lines:         %llu\n"
                "duplicates:        %llu\n"
                "late:              %llu\n"
                "stale profiles:    %llu\n"
                "ignored:           %llu\n"
                "suppressed:        %llu (burst %llu, unopened %llu, "
                "match %llu)\n"
                "reversed by burst: %llu\n"
                "leads:             %zu\n"
                "bytes/lead/model:  %zu\n"
                "state bytes:       %zu\n"
                "elapsed:           %.3f s\n"
                "events/s:          %.0f\n",
                (unsigned long long)sc->lines, (unsigned long long)sc->outputs,
                (unsigned long long)ls_verdicts_rejected(&sc->verdicts),
                (unsigned long long)sc->verdicts.n[LS_V_DUPLICATE],
                (unsigned long long)sc->verdicts.n[LS_V_LATE],
                (unsigned long long)sc->verdicts.n[LS_V_STALE],
                (unsigned long long)st.ignored,
                (unsigned long long)(st.suppressed_burst +
                                     st.suppressed_unopened +
                                     st.suppressed_match),
                (unsigned long long)st.suppressed_burst,
                (unsigned long long)st.suppressed_unopened,
                (unsigned long long)st.suppressed_match,
                (unsigned long long)st.reversed, st.leads, st.lead_model_bytes,
                st.state_bytes, elapsed,
                elapsed > 0 ? (double)sc->lines / elapsed : 0.0);
}

/* Closes a stream opened by ls_score_open(). @returns 0 or -1. */
static int ls_score_close(FILE *fp, const char *name) {
        if (fp && fclose(fp) != 0) {
                fprintf(stderr, "leadscore score: %s: %s\n", name,
                        strerror(errno));
                return -1;
        }
        return 0;
}

int ls_cmd_score(int argc, char **argv) {
        static const struct option longopts[] = {
                {"model", required_argument, NULL, 'm'},
                {"input", required_argument, NULL, 'i'},
                {"output", required_argument, NULL, 'o'},
                {"until", required_argument, NULL, 'u'},
                {"record-time", required_argument, NULL, 'r'},
                {"stats", no_argument, NULL, 's'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *model_path = NULL, *input_path = NULL, *output_path = NULL;
        long long until = 0, record_time = -1;
        int has_until = 0, stats = 0, c, rc = LS_EXIT_ERROR;
        ls_modelset_t *ms = NULL;
        ls_shard_t *shard = NULL;
        ls_codec_t *codec = NULL;
        ls_codec_conf_t cc;
        ls_score_t sc;
        char errstr[1024];
        double t0;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":m:i:o:u:r:sh", longopts, NULL)) !=
               -1) {
                switch (c) {
                case 'm':
                        model_path = optarg;
                        break;
                case 'i':
                        input_path = optarg;
                        break;
                case 'o':
                        output_path = optarg;
                        break;
                case 'u':
                        if (ls_cli_parse_time(optarg, &until) != 0)
                                return ls_cli_usage_error(
                                        "score",
                                        "--until: '%s' is neither integer "
                                        "milliseconds nor an RFC 3339 time",
                                        optarg);
                        has_until = 1;
                        break;
                case 'r':
                        if (ls_cli_parse_time(optarg, &record_time) != 0 ||
                            record_time <= 0)
                                return ls_cli_usage_error(
                                        "score",
                                        "--record-time: '%s' is neither "
                                        "positive integer milliseconds nor "
                                        "an RFC 3339 time",
                                        optarg);
                        break;
                case 's':
                        stats = 1;
                        break;
                case 'h':
                        ls_score_usage(stdout);
                        return LS_EXIT_OK;
                default:
                        return ls_cli_bad_option("score", c, argv);
                }
        }
        if (optind < argc)
                return ls_cli_usage_error("score", "unexpected argument '%s'",
                                          argv[optind]);
        if (!model_path)
                return ls_cli_usage_error("score", "--model FILE is required");

        memset(&sc, 0, sizeof(sc));
        sc.record_time = record_time;
        ls_buf_init(&sc.buf);
        ls_outbuf_init(&sc.ob);

        if (ls_modelset_load(model_path, &ms, errstr, sizeof(errstr)) !=
            LS_OK) {
                fprintf(stderr, "%s\n", errstr);
                goto done;
        }
        if (!(sc.in = ls_score_open(input_path, 0, "r", &sc.input_name,
                                    "<stdin>"))) {
                fprintf(stderr, "leadscore score: %s: %s\n", sc.input_name,
                        strerror(errno));
                goto done;
        }
        if (!(sc.out = ls_score_open(output_path, 1, "w", &sc.output_name,
                                     "<stdout>"))) {
                fprintf(stderr, "leadscore score: %s: %s\n", sc.output_name,
                        strerror(errno));
                goto done;
        }
        sc.inbuf = ls_malloc(LS_SCORE_IOBUF);
        sc.outbuf = ls_malloc(LS_SCORE_IOBUF);
        if (!sc.inbuf || !sc.outbuf) {
                fprintf(stderr, "leadscore score: out of memory\n");
                goto done;
        }
        setvbuf(sc.in, sc.inbuf, _IOFBF, LS_SCORE_IOBUF);
        setvbuf(sc.out, sc.outbuf, _IOFBF, LS_SCORE_IOBUF);

        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        if (!(codec = ls_codec_new(&cc, errstr, sizeof(errstr)))) {
                fprintf(stderr, "leadscore score: %s\n", errstr);
                goto done;
        }
        if (!(shard = ls_shard_new(ms))) {
                fprintf(stderr, "leadscore score: out of memory\n");
                goto done;
        }

        t0 = ls_score_now();
        if (ls_score_run(&sc, shard, codec) != 0)
                goto done;
        if (has_until) {
                if (ls_shard_advance(shard, (int64_t)until, &sc.ob) != LS_OK) {
                        fprintf(stderr, "leadscore score: --until: out of "
                                        "memory firing decay\n");
                        goto done;
                }
                if (ls_score_flush_outputs(&sc) != 0)
                        goto done;
        }
        if (fflush(sc.out) != 0) {
                fprintf(stderr, "leadscore score: %s: write error: %s\n",
                        sc.output_name, strerror(errno));
                goto done;
        }
        if (stats)
                ls_score_print_stats(&sc, shard, ls_score_now() - t0);
        rc = ls_verdicts_rejected(&sc.verdicts) ? LS_EXIT_BADDATA : LS_EXIT_OK;

done:
        if (ls_score_close(sc.in, sc.input_name) != 0)
                rc = LS_EXIT_ERROR;
        if (ls_score_close(sc.out, sc.output_name) != 0)
                rc = LS_EXIT_ERROR;
        ls_free(sc.inbuf);
        ls_free(sc.outbuf);
        ls_codec_destroy(codec);
        if (shard)
                ls_shard_destroy(shard);
        ls_buf_free(&sc.buf);
        ls_outbuf_free(&sc.ob);
        if (ms)
                ls_modelset_destroy(ms);
        return rc;
}
