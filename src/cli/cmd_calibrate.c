/*
 * cmd_calibrate.c - `leadscore calibrate`: reads outcomes, scores a
 * history of newline-delimited JSON inputs through the one door
 * (ls_scorer_read() then ls_scorer_apply(), which is ls_scorer_feed() in
 * two steps, so that the decoded profile attributes can be observed
 * without a second decode), hands each applied input and the engine's
 * outputs to a calibration (ls_calibrate.h), and prints its report as
 * text or JSON (and, with --html, writes it as a page with charts).
 * docs/CALIBRATE.md explains every field.
 *
 * Bad history lines are reported as `<input>:<line>: <message>` and
 * skipped, as `score` does; a bad outcome line stops the command before
 * any scoring (a wrong label would bias every statistic).
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_calibrate.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_json.h"
#include "leadscore/ls_logit.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_scorer.h"

#define LS_CALIB_MAX_BAD_OUTCOMES 20 /* outcome errors listed */

static void ls_calibrate_usage(FILE *fp) {
        fprintf(fp,
                "usage: leadscore calibrate --model FILE --input HISTORY "
                "--outcomes OUTCOMES\n"
                "                           [--model-id ID] [--split TIME] "
                "[--window DURATION]\n"
                "                           [--target-precision P | "
                "--target-recall R]\n"
                "                           [--c C] [--min-leads N] "
                "[--buckets N]\n"
                "                           [--write-model FILE] "
                "[--json] [--html FILE]\n"
                "\n"
                "Scores a history of events and profiles (newline-delimited "
                "JSON, as `score`\n"
                "reads) with one model of the model file and compares each "
                "lead's features,\n"
                "taken as of its outcome, with the outcome (won or lost). "
                "Reports the\n"
                "lead-to-customer rate; close rates with Wilson 95%% "
                "intervals per rule and per\n"
                "value of each fit attribute; suggested points per rule; "
                "the MQL threshold on\n"
                "the total that meets a target; a logistic regression over "
                "the model's features\n"
                "fitted with liblinear on the leads closed before the split; "
                "and, on the leads\n"
                "closed from the split on, its AUC, calibration and lift by "
                "decile.\n"
                "See docs/CALIBRATE.md.\n"
                "\n"
                "options:\n"
                "  -m, --model FILE          model file (YAML) (required)\n"
                "  -M, --model-id ID         the model of the set to "
                "calibrate (default: the first)\n"
                "  -i, --input FILE          history, JSON lines, '-' for "
                "stdin (required)\n"
                "  -O, --outcomes FILE       outcomes, JSON lines "
                "{\"lead_id\", \"time\", \"won\"} (required)\n"
                "  -s, --split TIME          outcomes before TIME train, "
                "the rest are held out\n"
                "                            (integer ms or RFC 3339; "
                "default: the time by which\n"
                "                            80%% of the outcomes are "
                "known)\n"
                "  -w, --window DURATION     count rule occurrences within "
                "this long before each\n"
                "                            outcome (default: the model's "
                "decay horizon, or 90d)\n"
                "  -p, --target-precision P  threshold: best recall with "
                "precision >= P (0 < P <= 1)\n"
                "  -r, --target-recall R     threshold: highest with recall "
                ">= R (0 < R <= 1)\n"
                "                            (neither: the best F1)\n"
                "  -c, --c C                 liblinear's C, inverse L2 "
                "strength (default 1)\n"
                "  -n, --min-leads N         leads needed on each side of "
                "a rule to suggest\n"
                "                            points (default 30)\n"
                "  -b, --buckets N           count occurrences in N time "
                "buckets of the window\n"
                "                            (1 .. 64, default 8)\n"
                "  -W, --write-model FILE    write the fitted logistic "
                "model as a model file\n"
                "  -j, --json                print the report as one JSON "
                "object\n"
                "  -H, --html FILE           also write the report as one "
                "self-contained HTML page\n"
                "                            with charts (totals by "
                "outcome, close rate per grid\n"
                "                            cell, lift and calibration "
                "by decile)\n"
                "  -h, --help                print this help and exit\n"
                "\n"
                "exit status:\n"
                "  0   the report was printed\n"
                "  1   model, I/O or fitting error (e.g. no lead closed "
                "before the split)\n"
                "  2   bad data: an outcome line is bad or names a lead the "
                "history lacks (no\n"
                "      report), or some history lines were rejected (report "
                "printed)\n"
                "  64  usage error\n");
}

static int ls_calibrate_fraction(const char *s, double *vp) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || !(v > 0 && v <= 1))
                return -1;
        *vp = v;
        return 0;
}

/* Reads the outcomes file. @returns 0, or the exit status. */
static int ls_calibrate_outcomes(ls_calib_t *cal, const char *path) {
        FILE *fp = fopen(path, "r");
        char *line = NULL, errstr[1024];
        size_t cap = 0;
        ssize_t n;
        uint64_t lineno = 0, bad = 0;
        ls_err_t err;
        int rc = 0;

        if (!fp) {
                fprintf(stderr, "leadscore calibrate: %s: %s\n", path,
                        strerror(errno));
                return LS_EXIT_ERROR;
        }
        while ((n = getline(&line, &cap, fp)) != -1) {
                err = ls_calib_outcome_line(cal, path, ++lineno, line,
                                            (size_t)n, errstr, sizeof(errstr));
                if (err == LS_ERR_NOMEM) {
                        fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                        rc = LS_EXIT_ERROR;
                        break;
                }
                if (err != LS_OK && ++bad <= LS_CALIB_MAX_BAD_OUTCOMES)
                        fprintf(stderr, "%s\n", errstr);
        }
        if (ferror(fp)) {
                fprintf(stderr, "leadscore calibrate: %s: read error: %s\n",
                        path, strerror(errno));
                rc = LS_EXIT_ERROR;
        }
        free(line); /* getline()'s */
        fclose(fp);
        if (!rc && bad) {
                fprintf(stderr,
                        "leadscore calibrate: %s: %llu bad outcome line%s; "
                        "nothing calibrated\n",
                        path, (unsigned long long)bad, bad == 1 ? "" : "s");
                rc = LS_EXIT_BADDATA;
        }
        return rc;
}

/* Scores the history into the calibration. @returns 0 or -1 (fatal);
 * *rejectedp counts the rejected lines. */
static int ls_calibrate_history(ls_calib_t *cal, FILE *in, const char *name,
                                ls_shard_t *shard, ls_codec_t *codec,
                                uint64_t *rejectedp) {
        ls_record_t rec = {.kind = LS_INPUT_EVENT, .timestamp = -1};
        char *line = NULL, errstr[512];
        size_t cap = 0;
        ssize_t n;
        uint64_t lineno = 0;
        ls_outbuf_t ob;
        ls_input_t inp;
        ls_verdict_t v;
        ls_err_t err = LS_OK;
        int rc = 0;

        ls_outbuf_init(&ob);
        while ((n = getline(&line, &cap, in)) != -1) {
                lineno++;
                if (ls_json_blank(line, (size_t)n))
                        continue;
                rec.value = line;
                rec.len = (size_t)n;
                v = ls_scorer_read(codec, &rec, &inp, &err, errstr,
                                   sizeof(errstr));
                if (v == LS_V_APPLIED)
                        v = ls_scorer_apply(&inp, &shard, &ob, 1, &err, errstr,
                                            sizeof(errstr));
                /* decay outputs may precede a rejection */
                if (ls_calib_observe_outputs(cal, &ob) != LS_OK ||
                    (v == LS_V_APPLIED &&
                     ls_calib_observe_input(cal, &inp) != LS_OK)) {
                        fprintf(stderr, "leadscore calibrate: out of memory\n");
                        rc = -1;
                        break;
                }
                ls_outbuf_reset(&ob);
                if (v == LS_V_ERROR || ls_verdict_rejected(v))
                        fprintf(stderr, "%s:%llu: %s\n", name,
                                (unsigned long long)lineno, errstr);
                if (v == LS_V_ERROR) {
                        rc = -1;
                        break;
                }
                if (ls_verdict_rejected(v))
                        (*rejectedp)++;
        }
        if (!rc && ferror(in)) {
                fprintf(stderr, "leadscore calibrate: %s: read error: %s\n",
                        name, strerror(errno));
                rc = -1;
        }
        /* decay that comes due before the last outcome */
        if (!rc && ls_calib_last_outcome(cal) != INT64_MIN) {
                if (ls_shard_advance(shard, ls_calib_last_outcome(cal), &ob) !=
                            LS_OK ||
                    ls_calib_observe_outputs(cal, &ob) != LS_OK) {
                        fprintf(stderr, "leadscore calibrate: out of memory\n");
                        rc = -1;
                }
        }
        free(line); /* getline()'s */
        ls_outbuf_free(&ob);
        return rc;
}

/* Writes the fitted logistic model to @p path (atomically: a temporary
 * file renamed over it). @returns 0, or -1 after saying why. */
static int ls_calibrate_write(const ls_calib_t *cal,
                              const ls_calib_report_t *report,
                              const char *path) {
        char tmp[4096], errstr[1024];
        FILE *fp;
        int ok;

        errno = 0;
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp) ||
            !(fp = fopen(tmp, "w"))) {
                fprintf(stderr, "leadscore calibrate: %s: %s\n", path,
                        strerror(errno ? errno : ENAMETOOLONG));
                return -1;
        }
        fprintf(fp, "# A logistic model fitted by `leadscore calibrate` "
                    "(docs/CALIBRATE.md).\n");
        ok = ls_calib_write_model(cal, report, fp, errstr, sizeof(errstr)) ==
             LS_OK;
        if (fflush(fp) != 0 || ferror(fp))
                ok = 0;
        if (fclose(fp) != 0)
                ok = 0;
        if (!ok || rename(tmp, path) != 0) {
                fprintf(stderr, "leadscore calibrate: %s: %s\n", path,
                        ok ? strerror(errno) : errstr);
                remove(tmp);
                return -1;
        }
        return 0;
}

int ls_cmd_calibrate(int argc, char **argv) {
        static const struct option longopts[] = {
                {"model", required_argument, NULL, 'm'},
                {"model-id", required_argument, NULL, 'M'},
                {"input", required_argument, NULL, 'i'},
                {"outcomes", required_argument, NULL, 'O'},
                {"split", required_argument, NULL, 's'},
                {"window", required_argument, NULL, 'w'},
                {"target-precision", required_argument, NULL, 'p'},
                {"target-recall", required_argument, NULL, 'r'},
                {"c", required_argument, NULL, 'c'},
                {"min-leads", required_argument, NULL, 'n'},
                {"buckets", required_argument, NULL, 'b'},
                {"write-model", required_argument, NULL, 'W'},
                {"json", no_argument, NULL, 'j'},
                {"html", required_argument, NULL, 'H'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *model_path = NULL, *model_id = NULL, *input_path = NULL;
        const char *outcomes_path = NULL, *in_name = NULL, *html_path = NULL;
        const char *write_path = NULL;
        ls_calib_conf_t conf;
        ls_modelset_t *ms = NULL;
        ls_calib_t *cal = NULL;
        ls_calib_report_t *report = NULL;
        ls_shard_t *shard = NULL;
        ls_codec_t *codec = NULL;
        ls_codec_conf_t cc;
        ls_buf_t buf;
        FILE *in = NULL;
        uint64_t rejected = 0;
        long long t;
        char errstr[1024], *end;
        int json = 0, c, rc = LS_EXIT_ERROR;
        size_t k;

        memset(&conf, 0, sizeof(conf));
        ls_buf_init(&buf);
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":m:M:i:O:s:w:p:r:c:n:b:W:jH:h",
                                longopts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        model_path = optarg;
                        break;
                case 'M':
                        model_id = optarg;
                        break;
                case 'i':
                        input_path = optarg;
                        break;
                case 'O':
                        outcomes_path = optarg;
                        break;
                case 's':
                        if (ls_cli_parse_time(optarg, &t) != 0)
                                return ls_cli_usage_error(
                                        "calibrate",
                                        "--split: '%s' is neither integer "
                                        "milliseconds nor an RFC 3339 time",
                                        optarg);
                        conf.has_split = 1;
                        conf.split_time = (int64_t)t;
                        break;
                case 'w':
                        if (ls_duration_parse(optarg, &conf.window_ms) !=
                                    LS_OK ||
                            conf.window_ms <= 0)
                                return ls_cli_usage_error(
                                        "calibrate",
                                        "--window: '%s' is not a duration "
                                        "(e.g. 30d, 12h)",
                                        optarg);
                        break;
                case 'p':
                        if (ls_calibrate_fraction(optarg,
                                                  &conf.target_precision))
                                return ls_cli_usage_error(
                                        "calibrate",
                                        "--target-precision: '%s' is not a "
                                        "number in (0, 1]",
                                        optarg);
                        break;
                case 'r':
                        if (ls_calibrate_fraction(optarg, &conf.target_recall))
                                return ls_cli_usage_error(
                                        "calibrate",
                                        "--target-recall: '%s' is not a "
                                        "number in (0, 1]",
                                        optarg);
                        break;
                case 'c':
                        errno = 0;
                        conf.c = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !(conf.c > 0))
                                return ls_cli_usage_error(
                                        "calibrate",
                                        "--c: '%s' is not a positive number",
                                        optarg);
                        break;
                case 'n':
                        errno = 0;
                        t = strtoll(optarg, &end, 10);
                        if (errno || end == optarg || *end || t < 1 ||
                            t > UINT32_MAX)
                                return ls_cli_usage_error(
                                        "calibrate",
                                        "--min-leads: '%s' is not a positive "
                                        "integer",
                                        optarg);
                        conf.min_leads = (uint32_t)t;
                        break;
                case 'b':
                        errno = 0;
                        t = strtoll(optarg, &end, 10);
                        if (errno || end == optarg || *end || t < 1 ||
                            t > LS_LOGIT_MAX_BUCKETS)
                                return ls_cli_usage_error(
                                        "calibrate",
                                        "--buckets: '%s' is not an integer "
                                        "in 1 .. %d",
                                        optarg, LS_LOGIT_MAX_BUCKETS);
                        conf.buckets = (uint32_t)t;
                        break;
                case 'W':
                        write_path = optarg;
                        break;
                case 'j':
                        json = 1;
                        break;
                case 'H':
                        html_path = optarg;
                        break;
                case 'h':
                        ls_calibrate_usage(stdout);
                        return LS_EXIT_OK;
                default:
                        return ls_cli_bad_option("calibrate", c, argv);
                }
        }
        if (optind < argc)
                return ls_cli_usage_error(
                        "calibrate", "unexpected argument '%s'", argv[optind]);
        if (!model_path || !input_path || !outcomes_path)
                return ls_cli_usage_error("calibrate",
                                          "--model, --input and --outcomes "
                                          "are required");
        if (conf.target_precision > 0 && conf.target_recall > 0)
                return ls_cli_usage_error("calibrate",
                                          "give --target-precision or "
                                          "--target-recall, not both");

        if (ls_modelset_load(model_path, &ms, errstr, sizeof(errstr)) !=
            LS_OK) {
                fprintf(stderr, "%s\n", errstr);
                goto done;
        }
        if (model_id) {
                for (k = 0; k < ms->n_models; k++)
                        if (!strcmp(ms->models[k].id, model_id))
                                break;
                if (k == ms->n_models) {
                        fprintf(stderr,
                                "leadscore calibrate: --model-id: %s has no "
                                "model '%s'\n",
                                model_path, model_id);
                        goto done;
                }
                conf.model_idx = k;
        }
        if (!(cal = ls_calib_new(ms, &conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                goto done;
        }
        if ((rc = ls_calibrate_outcomes(cal, outcomes_path)) != 0)
                goto done;
        rc = LS_EXIT_ERROR;

        if (!strcmp(input_path, "-")) {
                in = stdin;
                in_name = "<stdin>";
        } else if (!(in = fopen(input_path, "r"))) {
                fprintf(stderr, "leadscore calibrate: %s: %s\n", input_path,
                        strerror(errno));
                goto done;
        } else {
                in_name = input_path;
        }
        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        if (!(codec = ls_codec_new(&cc, errstr, sizeof(errstr)))) {
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                goto done;
        }
        if (!(shard = ls_shard_new(ms))) {
                fprintf(stderr, "leadscore calibrate: out of memory\n");
                goto done;
        }
        ls_calib_attach(cal, shard);
        if (ls_calibrate_history(cal, in, in_name, shard, codec, &rejected) !=
            0)
                goto done;

        switch (ls_calib_finish(cal, &report, errstr, sizeof(errstr))) {
        case LS_OK:
                break;
        case LS_ERR_INVALID: /* an outcome's lead is not in the history */
                fprintf(stderr, "%s\n", errstr);
                rc = LS_EXIT_BADDATA;
                goto done;
        default: /* nothing to fit, out of memory */
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                goto done;
        }
        if (json) {
                if (ls_calib_report_json(report, &buf) != LS_OK) {
                        fprintf(stderr, "leadscore calibrate: out of memory\n");
                        goto done;
                }
                fwrite(buf.data, 1, buf.len, stdout);
        } else {
                ls_calib_report_print(report, stdout);
        }
        if (fflush(stdout) != 0) {
                fprintf(stderr,
                        "leadscore calibrate: <stdout>: write error: "
                        "%s\n",
                        strerror(errno));
                goto done;
        }
        if (write_path && ls_calibrate_write(cal, report, write_path) != 0)
                goto done;
        if (html_path && ls_calib_report_html_file(report, html_path, errstr,
                                                   sizeof(errstr)) != LS_OK) {
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                goto done;
        }
        if (rejected)
                fprintf(stderr,
                        "leadscore calibrate: %s: %llu line%s rejected\n",
                        in_name, (unsigned long long)rejected,
                        rejected == 1 ? "" : "s");
        rc = rejected ? LS_EXIT_BADDATA : LS_EXIT_OK;
done:
        if (in && in != stdin)
                fclose(in);
        ls_calib_report_destroy(report);
        ls_calib_destroy(cal);
        if (shard)
                ls_shard_destroy(shard);
        ls_codec_destroy(codec);
        if (ms)
                ls_modelset_destroy(ms);
        ls_buf_free(&buf);
        return rc;
}
