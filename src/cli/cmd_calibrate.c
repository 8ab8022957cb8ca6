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
 * The history may instead be a range of the events and profiles topics,
 * and the outcomes a topic: the history then goes through `replay`'s
 * topic path (ls_replay.h: the same reading, the same merge order, the
 * same door), whose observer hands each record's input and outputs to the
 * calibration, with replay's option names and --config semantics
 * (cmd_replay.h). Outcome records are read with ls_replay_topic_each().
 *
 * Bad history lines are reported as `<input>:<line>: <message>` (topic
 * records as `<topic> [<partition>] offset <offset>: <message>`) and
 * skipped, as `score` and `replay` do; a bad outcome line or record stops
 * the command before any scoring (a wrong label would bias every
 * statistic).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_replay.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_calibrate.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_json.h"
#include "leadscore/ls_logit.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_replay.h"
#include "leadscore/ls_scorer.h"

#define LS_CALIB_MAX_BAD_OUTCOMES 20 /* outcome errors listed */

enum {
        LS_CO_BROKERS = 256,
        LS_CO_TOPICS,
        LS_CO_CONFIG,
        LS_CO_INPUT_FORMAT,
        LS_CO_SCHEMAS,
        LS_CO_REGISTRY,
        LS_CO_OUTCOMES_TOPIC,
};

/** Where each record of an outcomes topic is: record k (1-based, the
 *  "line" the calibration knows it by) is at pos[k - 1]. */
typedef struct ls_calib_opos_s {
        int32_t partition;
        int64_t offset;
} ls_calib_opos_t;

typedef struct ls_calib_otopic_s {
        ls_calib_t *cal;
        ls_calib_opos_t *pos;
        uint64_t n, cap, bad;
} ls_calib_otopic_t;

static void ls_calibrate_usage(FILE *fp) {
        fprintf(fp,
                "usage: leadscore calibrate --model FILE\n"
                "                           (--input HISTORY | --brokers "
                "HOST:PORT --topics EV[,PR]\n"
                "                            | --config FILE)\n"
                "                           (--outcomes OUTCOMES | "
                "--outcomes-topic TOPIC)\n"
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
                "reads, or the events and profiles topics, as `replay` reads "
                "them) with one\n"
                "model of the model file and compares each lead's features, "
                "taken as of its\n"
                "outcome, with the outcome (won or lost). Reports the "
                "lead-to-customer rate;\n"
                "close rates with Wilson 95%% intervals per rule and per value "
                "of each fit\n"
                "attribute; suggested points per rule; the MQL threshold on "
                "the total that\n"
                "meets a target; a logistic regression over the model's "
                "features fitted with\n"
                "liblinear on the leads closed before the split; and, on the "
                "leads closed\n"
                "from the split on, its AUC, calibration and lift by decile.\n"
                "See docs/CALIBRATE.md.\n"
                "\n"
                "options:\n"
                "  -m, --model FILE          model file (YAML) (required "
                "unless --config names one)\n"
                "  -M, --model-id ID         the model of the set to "
                "calibrate (default: the first)\n"
                "  -i, --input FILE          history, JSON lines, '-' for "
                "stdin\n"
                "  -O, --outcomes FILE       outcomes, JSON lines "
                "{\"lead_id\", \"time\", \"won\"}\n"
                "\n"
                "topics (as `leadscore replay` reads them; every partition "
                "from its beginning\n"
                "to its end at start):\n"
                "      --brokers HOST:PORT   Kafka bootstrap servers (or from "
                "--config)\n"
                "      --topics EV[,PR]      history: events topic and, "
                "optionally, profiles topic\n"
                "                            (default with --config and no "
                "--input: its topics)\n"
                "      --outcomes-topic T    outcomes: one JSON object per "
                "record, as a line of\n"
                "                            --outcomes\n"
                "      --config FILE         a `leadscore run` config: kafka "
                "properties, topics,\n"
                "                            input format, schemas, registry "
                "and model\n"
                "      --input-format FMT    history records: json | avro | "
                "registry (default json)\n"
                "      --schemas DIR         directory of the *.avsc files "
                "(default: shipped)\n"
                "      --registry-url URL    schema registry for "
                "--input-format registry\n"
                "\n"
                "report:\n"
                "  -s, --split TIME          outcomes before TIME train, "
                "the rest are held out\n"
                "                            (integer ms or RFC 3339; "
                "default: the time by which\n"
                "                            80%% of the outcomes are "
                "known)\n"
                "  -w, --window DURATION     count rule occurrences in a "
                "window of this length\n"
                "                            ending with each outcome's "
                "bucket, at most 3650d\n"
                "                            (default: a logistic model's "
                "own window, else the\n"
                "                            model's decay horizon, or "
                "90d)\n"
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
                "                            (1 .. 64; default: a logistic "
                "model's own, else 8)\n"
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
                "  1   model, I/O, Kafka or fitting error (e.g. no lead "
                "closed before the\n"
                "      split, a broker that does not answer, a topic that "
                "does not exist)\n"
                "  2   bad data: an outcome line or record is bad or names a "
                "lead the history\n"
                "      lacks (no report), or some history lines or records "
                "were rejected\n"
                "      (report printed)\n"
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

/*
 * Prints an outcome message of the calibration about record k of an
 * outcomes topic, which it names "<topic>:<k>: ..." (and an earlier one
 * "(line <k>)"), with the record's partition and offset instead, as
 * replay names a record: "<topic> [<partition>] offset <offset>: ...".
 */
static void ls_calibrate_otopic_msg(const ls_calib_otopic_t *ot,
                                    const char *topic, const char *msg) {
        size_t tn = strlen(topic);
        const char *rest = msg + tn + 1, *dup;
        unsigned long long k, k2;
        char *end;
        int len;

        if (strncmp(msg, topic, tn) || msg[tn] != ':' ||
            (k = strtoull(rest, &end, 10)) < 1 || k > ot->n ||
            strncmp(end, ": ", 2)) {
                fprintf(stderr, "%s\n", msg);
                return;
        }
        rest = end + 2;
        fprintf(stderr, "%s [%" PRId32 "] offset %" PRId64 ": ", topic,
                ot->pos[k - 1].partition, ot->pos[k - 1].offset);
        /* "... already has an outcome (line K2)" */
        for (dup = NULL, end = strstr(rest, "(line "); end;
             end = strstr(end + 1, "(line "))
                dup = end;
        if (dup && (k2 = strtoull(dup + 6, &end, 10)) >= 1 && k2 <= ot->n &&
            !strcmp(end, ")")) {
                len = (int)(dup - rest);
                fprintf(stderr, "%.*s(%s [%" PRId32 "] offset %" PRId64 ")\n",
                        len, rest, topic, ot->pos[k2 - 1].partition,
                        ot->pos[k2 - 1].offset);
                return;
        }
        fprintf(stderr, "%s\n", rest);
}

/* One record of the outcomes topic (ls_replay_topic_each()'s callback). */
static ls_err_t ls_calibrate_orecord(void *opaque, const char *topic,
                                     int32_t partition, int64_t offset,
                                     const void *value, size_t len) {
        ls_calib_otopic_t *ot = opaque;
        char errstr[1024];
        ls_err_t err;

        if (ot->n == ot->cap) {
                uint64_t ncap = ot->cap ? ot->cap * 2 : 1024;
                ls_calib_opos_t *np =
                        ls_realloc(ot->pos, (size_t)ncap * sizeof(*np));

                if (!np) {
                        fprintf(stderr, "leadscore calibrate: out of memory\n");
                        return LS_ERR_NOMEM;
                }
                ot->pos = np;
                ot->cap = ncap;
        }
        ot->pos[ot->n].partition = partition;
        ot->pos[ot->n].offset = offset;
        ot->n++;
        err = ls_calib_outcome_line(ot->cal, topic, ot->n,
                                    value ? (const char *)value : "", len,
                                    errstr, sizeof(errstr));
        if (err == LS_ERR_NOMEM) {
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                return err;
        }
        if (err != LS_OK && ++ot->bad <= LS_CALIB_MAX_BAD_OUTCOMES)
                ls_calibrate_otopic_msg(ot, topic, errstr);
        return LS_OK;
}

/* Reads the outcomes topic. @returns 0, or the exit status. */
static int ls_calibrate_outcomes_topic(ls_calib_otopic_t *ot,
                                       const ls_replay_conf_t *rc,
                                       const char *topic) {
        char errstr[1024];
        ls_err_t err;

        err = ls_replay_topic_each(rc, topic, ls_calibrate_orecord, ot, errstr,
                                   sizeof(errstr));
        if (err == LS_ERR_NOMEM)
                return LS_EXIT_ERROR; /* said by the callback */
        if (err) {
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                return LS_EXIT_ERROR;
        }
        if (ot->bad) {
                fprintf(stderr,
                        "leadscore calibrate: %s: %llu bad outcome record%s; "
                        "nothing calibrated\n",
                        topic, (unsigned long long)ot->bad,
                        ot->bad == 1 ? "" : "s");
                return LS_EXIT_BADDATA;
        }
        return 0;
}

/* The replay's observer: the outputs, then the input it applied, as
 * ls_calibrate_history() hands them over. */
static ls_err_t ls_calibrate_observe(void *opaque, ls_verdict_t v,
                                     const ls_input_t *in,
                                     const ls_outbuf_t *ob) {
        ls_calib_t *cal = opaque;
        ls_err_t err = ls_calib_observe_outputs(cal, ob);

        (void)v;
        if (err == LS_OK && in)
                err = ls_calib_observe_input(cal, in);
        return err;
}

/*
 * Scores the history topics into the calibration through replay's topic
 * path (one worker, partitions in order, each in merge order), then moves
 * every shard to the last outcome. @returns 0 or -1 (fatal, said);
 * *rejectedp counts the rejected records (named on stderr by replay).
 */
static int ls_calibrate_history_topics(ls_calib_t *cal, ls_replay_conf_t *rc,
                                       const ls_modelset_t *ms,
                                       uint64_t *rejectedp) {
        ls_replay_t *rp;
        ls_replay_stats_t st;
        char errstr[1024];
        ls_err_t err;

        rc->ms[0] = ms;
        rc->n_ms = 1;
        rc->from.kind = LS_REPLAY_EARLIEST;
        rc->to.kind = LS_REPLAY_LATEST;
        rc->sink = LS_REPLAY_SINK_NONE;
        rc->threads = 1;
        rc->progress = 0;
        rc->observe = ls_calibrate_observe;
        rc->observe_opaque = cal;
        rc->shard_observer = *ls_calib_observer(cal);
        rc->advance_to = ls_calib_last_outcome(cal) != INT64_MIN
                                 ? ls_calib_last_outcome(cal)
                                 : 0;
        if (!(rp = ls_replay_new(rc, errstr, sizeof(errstr)))) {
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                return -1;
        }
        err = ls_replay_run(rp, errstr, sizeof(errstr));
        ls_replay_stats(rp, &st);
        ls_replay_destroy(rp);
        if (err) {
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
                return -1;
        }
        *rejectedp = st.bad;
        return 0;
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
        char tmp[4096], errstr[1024], why[768];
        ls_modelset_t *back = NULL;
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
        if (ok && (fflush(fp) != 0 || ferror(fp))) {
                snprintf(errstr, sizeof(errstr), "write error: %s",
                         strerror(errno));
                ok = 0;
        }
        if (fclose(fp) != 0 && ok) {
                snprintf(errstr, sizeof(errstr), "write error: %s",
                         strerror(errno));
                ok = 0;
        }
        /* what is written must load: checked before it replaces anything */
        if (ok && ls_modelset_load(tmp, &back, why, sizeof(why)) != LS_OK) {
                snprintf(errstr, sizeof(errstr),
                         "the written model does not load: %s", why);
                ok = 0;
        }
        if (back)
                ls_modelset_destroy(back);
        if (ok && rename(tmp, path) != 0) {
                snprintf(errstr, sizeof(errstr), "%s", strerror(errno));
                ok = 0;
        }
        if (!ok) {
                fprintf(stderr, "leadscore calibrate: %s: %s\n", path, errstr);
                remove(tmp);
                return -1;
        }
        return 0;
}

/* Scores the history file (or stdin) into the calibration, as
 * ls_calibrate_history(). @returns 0 or -1 (fatal, said). */
static int ls_calibrate_history_file(ls_calib_t *cal, const ls_modelset_t *ms,
                                     const char *path, uint64_t *rejectedp) {
        const char *name = strcmp(path, "-") ? path : "<stdin>";
        FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
        ls_shard_t *shard = NULL;
        ls_codec_t *codec = NULL;
        ls_codec_conf_t cc;
        char errstr[1024];
        int rc = -1;

        if (!in) {
                fprintf(stderr, "leadscore calibrate: %s: %s\n", path,
                        strerror(errno));
                return -1;
        }
        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        if (!(codec = ls_codec_new(&cc, errstr, sizeof(errstr))))
                fprintf(stderr, "leadscore calibrate: %s\n", errstr);
        else if (!(shard = ls_shard_new(ms)))
                fprintf(stderr, "leadscore calibrate: out of memory\n");
        else {
                ls_calib_attach(cal, shard);
                rc = ls_calibrate_history(cal, in, name, shard, codec,
                                          rejectedp);
        }
        if (in != stdin)
                fclose(in);
        if (shard)
                ls_shard_destroy(shard);
        ls_codec_destroy(codec);
        return rc;
}

/*
 * Checks where the history and the outcomes come from and loads the topic
 * options as replay does (ls_rcli_topics(), ls_rcli_config()): the history
 * is --input, else --topics, else the topics of --config; the outcomes
 * --outcomes or --outcomes-topic. @returns -1, or the exit status of a
 * usage or config error (said).
 */
static int ls_calibrate_inputs(ls_rcli_t *c, const char *model_path,
                               const char *input_path,
                               const char *outcomes_path,
                               const char *outcomes_topic) {
        ls_replay_conf_t *rc = &c->rc;
        int rcode;

        if (input_path && c->topics_arg)
                return ls_cli_usage_error("calibrate",
                                          "give --input or --topics, not "
                                          "both");
        if (!input_path && !c->topics_arg && !c->config_path)
                return ls_cli_usage_error("calibrate",
                                          "no history: give --input FILE, "
                                          "--brokers and --topics, or "
                                          "--config");
        if (!outcomes_path == !outcomes_topic)
                return ls_cli_usage_error("calibrate",
                                          "give --outcomes FILE or "
                                          "--outcomes-topic TOPIC (one)");
        if ((c->topics_arg || outcomes_topic) && !rc->brokers &&
            !c->config_path)
                return ls_cli_usage_error("calibrate",
                                          "--topics and --outcomes-topic "
                                          "need --brokers or --config");
        if (input_path && (c->input_format_arg || rc->registry_url))
                return ls_cli_usage_error("calibrate",
                                          "--input-format and --registry-url "
                                          "are for history topics; --input "
                                          "is JSON lines");
        if (c->input_format_arg &&
            ls_format_parse(c->input_format_arg, &rc->input_format))
                return ls_cli_usage_error("calibrate",
                                          "--input-format: expected json, "
                                          "avro or registry, got '%s'",
                                          c->input_format_arg);
        if ((rcode = ls_rcli_topics(c)) >= 0 ||
            (rcode = ls_rcli_config(c)) >= 0)
                return rcode;
        if (input_path) /* not the config's topics */
                rc->topic_events = rc->topic_profiles = NULL;
        else if (!rc->topic_events)
                return ls_cli_usage_error("calibrate",
                                          "no history: %s names no events "
                                          "topic",
                                          c->config_path);
        if (!model_path && !(c->config && c->config->model_path))
                return ls_cli_usage_error("calibrate",
                                          "--model FILE is required");
        return -1;
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
                {"brokers", required_argument, NULL, LS_CO_BROKERS},
                {"topics", required_argument, NULL, LS_CO_TOPICS},
                {"config", required_argument, NULL, LS_CO_CONFIG},
                {"input-format", required_argument, NULL, LS_CO_INPUT_FORMAT},
                {"schemas", required_argument, NULL, LS_CO_SCHEMAS},
                {"registry-url", required_argument, NULL, LS_CO_REGISTRY},
                {"outcomes-topic", required_argument, NULL,
                 LS_CO_OUTCOMES_TOPIC},
                {NULL, 0, NULL, 0},
        };
        const char *model_path = NULL, *model_id = NULL, *input_path = NULL;
        const char *outcomes_path = NULL, *in_name = NULL, *html_path = NULL;
        const char *write_path = NULL, *outcomes_topic = NULL;
        ls_rcli_t rcli; /* the topic options, as replay's */
        ls_calib_otopic_t ot;
        ls_calib_conf_t conf;
        ls_modelset_t *ms = NULL;
        ls_calib_t *cal = NULL;
        ls_calib_report_t *report = NULL;
        ls_buf_t buf;
        uint64_t rejected = 0;
        long long t;
        char errstr[1024], *end;
        int json = 0, c, rc = LS_EXIT_ERROR;
        size_t k;

        memset(&conf, 0, sizeof(conf));
        memset(&rcli, 0, sizeof(rcli));
        memset(&ot, 0, sizeof(ot));
        rcli.cmd = "calibrate";
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
                            conf.window_ms <= 0 ||
                            conf.window_ms > LS_LOGIT_MAX_WINDOW_MS)
                                return ls_cli_usage_error(
                                        "calibrate",
                                        "--window: '%s' is not a duration "
                                        "of at most 3650d (e.g. 30d, 12h)",
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
                case LS_CO_BROKERS:
                        rcli.rc.brokers = optarg;
                        break;
                case LS_CO_TOPICS:
                        rcli.topics_arg = optarg;
                        break;
                case LS_CO_CONFIG:
                        rcli.config_path = optarg;
                        break;
                case LS_CO_INPUT_FORMAT:
                        rcli.input_format_arg = optarg;
                        break;
                case LS_CO_SCHEMAS:
                        rcli.rc.schema_dir = optarg;
                        break;
                case LS_CO_REGISTRY:
                        rcli.rc.registry_url = optarg;
                        break;
                case LS_CO_OUTCOMES_TOPIC:
                        outcomes_topic = optarg;
                        break;
                default:
                        return ls_cli_bad_option("calibrate", c, argv);
                }
        }
        if (optind < argc)
                return ls_cli_usage_error(
                        "calibrate", "unexpected argument '%s'", argv[optind]);
        if (conf.target_precision > 0 && conf.target_recall > 0)
                return ls_cli_usage_error("calibrate",
                                          "give --target-precision or "
                                          "--target-recall, not both");
        if ((rc = ls_calibrate_inputs(&rcli, model_path, input_path,
                                      outcomes_path, outcomes_topic)) >= 0) {
                ls_rcli_free(&rcli);
                return rc;
        }
        rc = LS_EXIT_ERROR;
        if (!model_path)
                model_path = rcli.config->model_path;

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
        ot.cal = cal;
        if ((rc = outcomes_topic
                          ? ls_calibrate_outcomes_topic(&ot, &rcli.rc,
                                                        outcomes_topic)
                          : ls_calibrate_outcomes(cal, outcomes_path)) != 0)
                goto done;
        rc = LS_EXIT_ERROR;

        if (input_path) {
                in_name = strcmp(input_path, "-") ? input_path : "<stdin>";
                if (ls_calibrate_history_file(cal, ms, input_path, &rejected))
                        goto done;
        } else {
                in_name = rcli.topics_arg ? rcli.topics_arg
                                          : rcli.rc.topic_events;
                if (ls_calibrate_history_topics(cal, &rcli.rc, ms, &rejected))
                        goto done;
        }

        switch (ls_calib_finish(cal, &report, errstr, sizeof(errstr))) {
        case LS_OK:
                break;
        case LS_ERR_INVALID: /* an outcome's lead is not in the history */
                if (outcomes_topic)
                        ls_calibrate_otopic_msg(&ot, outcomes_topic, errstr);
                else
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
                fprintf(stderr, "leadscore calibrate: %s: %llu %s%s rejected\n",
                        in_name, (unsigned long long)rejected,
                        input_path ? "line" : "record",
                        rejected == 1 ? "" : "s");
        rc = rejected ? LS_EXIT_BADDATA : LS_EXIT_OK;
done:
        ls_calib_report_destroy(report);
        ls_calib_destroy(cal);
        if (ms)
                ls_modelset_destroy(ms);
        ls_buf_free(&buf);
        ls_free(ot.pos);
        ls_rcli_free(&rcli);
        return rc;
}
