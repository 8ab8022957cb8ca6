/*
 * cmd_replay.c - `leadscore replay`: re-scores a range of the input
 * topics, or input files, with a model (see ls_replay.h and
 * docs/REPLAY.md). Also parses the options that `leadscore diff` shares
 * (cmd_replay.h).
 */
#include "cli/cmd_replay.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "leadscore/ls_alloc.h"

enum {
        LS_RO_BROKERS = 256,
        LS_RO_TOPICS,
        LS_RO_CONFIG,
        LS_RO_FROM,
        LS_RO_TO,
        LS_RO_INPUT,
        LS_RO_INPUT_FORMAT,
        LS_RO_MODEL,
        LS_RO_MODEL_NEW,
        LS_RO_SNAPSHOT,
        LS_RO_SAVE_STATE,
        LS_RO_OUTPUT,
        LS_RO_OUTPUT_FORMAT,
        LS_RO_ALERTS_OUTPUT,
        LS_RO_OUTPUT_TOPIC,
        LS_RO_ALERTS_TOPIC,
        LS_RO_FINAL_ONLY,
        LS_RO_THREADS,
        LS_RO_QUIET,
        LS_RO_SCHEMAS,
        LS_RO_REGISTRY,
        LS_RO_JSON,
        LS_RO_EXAMPLES,
        LS_RO_HELP,
};

static const char ls_replay_input_help[] =
        "input (one of):\n"
        "  --brokers HOST:PORT   Kafka bootstrap servers (or from --config)\n"
        "  --topics EV[,PR]      events topic and, optionally, profiles "
        "topic\n"
        "                        (default with --config: its topics)\n"
        "  --config FILE         a `leadscore run` config: kafka properties, "
        "topics,\n"
        "                        formats, schemas, registry and model\n"
        "  --from BOUND          first record of every partition: earliest "
        "(default),\n"
        "                        an offset, a time (RFC 3339 or <ms>ms)\n"
        "  --to BOUND            end of every partition, exclusive: latest "
        "(default:\n"
        "                        the high watermark at start), an offset, a "
        "time\n"
        "  --input FILE          input file (repeatable; also as arguments): "
        "JSON lines,\n"
        "                        or an Avro object container file of "
        "LeadEvent or\n"
        "                        LeadProfile; '-' is stdin (JSON)\n"
        "  --input-format FMT    files: json | avro (default: by extension, "
        ".avro = avro);\n"
        "                        topics: json | avro | registry (default "
        "json)\n"
        "  --schemas DIR         directory of the *.avsc files (default: "
        "shipped)\n"
        "  --registry-url URL    schema registry for --input-format "
        "registry\n"
        "  --threads N           worker threads, each owning whole "
        "partitions\n"
        "                        (default: the number of CPUs)\n"
        "  --quiet               no progress line, no summary\n";

static void ls_replay_usage(FILE *fp) {
        fprintf(fp,
                "usage: leadscore replay --model FILE (--brokers HOST:PORT "
                "--topics EV[,PR] |\n"
                "                        --config FILE | --input FILE...) "
                "[options]\n"
                "\n"
                "Re-scores history deterministically: a range of the events "
                "and profiles topics,\n"
                "read by assignment (no consumer group, no commits: live "
                "consumers are not\n"
                "touched), or input files. One shard per input partition as "
                "in `leadscore run`;\n"
                "per partition, records are scored in the order (message "
                "timestamp, topic\n"
                "name, offset). Files are scored in order with one shard, "
                "as by `leadscore\n"
                "score`. The same input and model give byte-identical "
                "output.\n"
                "\n"
                "  --model FILE          model file (YAML) (required unless "
                "--config names one)\n"
                "%s"
                "\n"
                "state:\n"
                "  --snapshot PATH       start from saved state: a file of "
                "one shard's state,\n"
                "                        or a directory of <partition>.state "
                "files\n"
                "  --save-state PATH     save the final state there (a file "
                "for one shard,\n"
                "                        else a directory), as checksummed "
                "snapshot files\n"
                "                        written atomically\n"
                "\n"
                "output (default: JSON lines on stdout):\n"
                "  --output FILE         output file ('-' = stdout)\n"
                "  --output-format FMT   json (default) | avro: Avro object "
                "container files,\n"
                "                        score updates in --output, alerts in "
                "--alerts-output\n"
                "  --alerts-output FILE  avro alerts file (default: the "
                "output name with\n"
                "                        -alerts.avro for .avro)\n"
                "  --output-topic TOPIC  produce to Kafka instead (key = lead "
                "id, headers as\n"
                "                        `leadscore run`)\n"
                "  --alerts-topic TOPIC  alerts topic (default: "
                "--output-topic)\n"
                "  --final-only          only the final state of every lead "
                "and model, one\n"
                "                        JSON object each\n"
                "  -h, --help            print this help and exit\n"
                "\n"
                "exit status: 0 ok, 1 error, 2 some records were bad "
                "(reported on stderr with\n"
                "topic [partition] offset or file:line, and skipped), 64 "
                "usage error\n",
                ls_replay_input_help);
}

static void ls_diff_usage(FILE *fp) {
        fprintf(fp,
                "usage: leadscore diff --model OLD --model-new NEW (--brokers "
                "HOST:PORT\n"
                "                      --topics EV[,PR] | --config FILE | "
                "--input FILE...)\n"
                "                      [--json] [--examples N] [options]\n"
                "\n"
                "Replays the same history under both model files in one pass "
                "(two shards per\n"
                "partition) and reports, per model id present in both: leads "
                "whose grade,\n"
                "band or MQL status changes (counts and the first N lead "
                "ids), MQL gains and\n"
                "losses, the total score distribution (histogram and "
                "quantiles) and the grid\n"
                "cell counts side by side.\n"
                "\n"
                "  --model FILE          the current model file (required)\n"
                "  --model-new FILE      the changed model file (required)\n"
                "  --json                one JSON document (see "
                "docs/REPLAY.md) instead of text\n"
                "  --examples N          example lead ids per change "
                "(default 10)\n"
                "%s"
                "  -h, --help            print this help and exit\n"
                "\n"
                "exit status: 0 ok, 1 error, 2 some records were bad "
                "(reported on stderr and\n"
                "skipped), 64 usage error\n",
                ls_replay_input_help);
}

static int ls_rcli_add_input(ls_rcli_t *c, const char *path) {
        const char **n = ls_realloc(c->inputs, (c->n_inputs + 1) * sizeof(*n));

        if (!n)
                return -1;
        c->inputs = n;
        c->inputs[c->n_inputs++] = path;
        return 0;
}

static int ls_rcli_bound(ls_rcli_t *c, const char *opt, const char *arg,
                         ls_replay_bound_t *b) {
        char why[256];

        if (ls_replay_bound_parse(arg, b, why, sizeof(why)))
                return ls_cli_usage_error(c->cmd, "%s: %s", opt, why);
        return -1;
}

int ls_rcli_topics(ls_rcli_t *c) {
        ls_replay_conf_t *rc = &c->rc;
        char *tok, *save = NULL;

        if (!c->topics_arg)
                return -1;
        if (!(c->topics_copy = ls_strdup(c->topics_arg)))
                return LS_EXIT_ERROR;
        tok = strtok_r(c->topics_copy, ",", &save);
        rc->topic_events = tok;
        rc->topic_profiles = tok ? strtok_r(NULL, ",", &save) : NULL;
        if (!tok || strtok_r(NULL, ",", &save))
                return ls_cli_usage_error(c->cmd, "--topics: expected "
                                                  "EVENTS[,PROFILES]");
        return -1;
}

int ls_rcli_config(ls_rcli_t *c) {
        ls_replay_conf_t *rc = &c->rc;
        char errstr[1024];

        if (c->config_path) {
                if (ls_config_load(c->config_path, &c->config, errstr,
                                   sizeof(errstr))) {
                        fprintf(stderr, "leadscore %s: %s\n", c->cmd, errstr);
                        return LS_EXIT_ERROR;
                }
                rc->kafka = &c->config->kafka;
                if (!c->topics_arg && !c->n_inputs) {
                        rc->topic_events = c->config->topic_events;
                        rc->topic_profiles = c->config->topic_profiles;
                }
                if (!c->input_format_arg)
                        rc->input_format = c->config->input_format;
                if (!c->output_format_arg)
                        rc->output_format = c->config->output_format;
                if (!rc->schema_dir)
                        rc->schema_dir = c->config->schema_dir;
                /* The config's credentials and TLS files go only to the
                 * config's registry, not to a --registry-url; its lookup
                 * limit goes to both. */
                if (!rc->registry_url) {
                        rc->registry_url = c->config->registry_url;
                        ls_config_registry_conf(c->config, &c->registry);
                } else {
                        c->registry.max_lookups_per_second =
                                c->config->registry_max_lookups_per_second;
                }
                rc->registry = &c->registry;
                rc->max_record_bytes = c->config->max_record_bytes;
        }
        if (!rc->schema_dir) {
                c->schema_dir_alloc = ls_config_default_dir("schemas");
                rc->schema_dir = c->schema_dir_alloc;
        }
        return -1;
}

/* Loads what the options name. @returns -1 or an exit status. */
static int ls_rcli_load(ls_rcli_t *c) {
        ls_replay_conf_t *rc = &c->rc;
        char errstr[1024];
        const char *model = c->model_path;
        int rcode;
        size_t i;

        if ((rcode = ls_rcli_config(c)) >= 0)
                return rcode;
        if (!model && c->config)
                model = c->config->model_path;
        if (!model)
                return ls_cli_usage_error(c->cmd, "--model FILE is required");
        if (ls_modelset_load(model, &c->ms[0], errstr, sizeof(errstr))) {
                fprintf(stderr, "leadscore %s: %s\n", c->cmd, errstr);
                return LS_EXIT_ERROR;
        }
        rc->ms[0] = c->ms[0];
        rc->n_ms = 1;
        if (c->diff) {
                if (ls_modelset_load(c->model_new_path, &c->ms[1], errstr,
                                     sizeof(errstr))) {
                        fprintf(stderr, "leadscore %s: %s\n", c->cmd, errstr);
                        return LS_EXIT_ERROR;
                }
                rc->ms[1] = c->ms[1];
                rc->n_ms = 2;
        }
        rc->inputs = c->inputs;
        rc->n_inputs = c->n_inputs;
        for (i = 0; i < c->n_inputs; i++)
                if (!strcmp(c->inputs[i], "-") &&
                    rc->file_format == LS_REPLAY_FILE_AVRO)
                        return ls_cli_usage_error(
                                c->cmd, "Avro input cannot be read from "
                                        "stdin");
        return -1;
}

int ls_rcli_parse(ls_rcli_t *c, const char *cmd, int diff, int argc,
                  char **argv) {
        static const struct option longopts[] = {
                {"brokers", required_argument, NULL, LS_RO_BROKERS},
                {"topics", required_argument, NULL, LS_RO_TOPICS},
                {"config", required_argument, NULL, LS_RO_CONFIG},
                {"from", required_argument, NULL, LS_RO_FROM},
                {"to", required_argument, NULL, LS_RO_TO},
                {"input", required_argument, NULL, LS_RO_INPUT},
                {"input-format", required_argument, NULL, LS_RO_INPUT_FORMAT},
                {"model", required_argument, NULL, LS_RO_MODEL},
                {"model-new", required_argument, NULL, LS_RO_MODEL_NEW},
                {"snapshot", required_argument, NULL, LS_RO_SNAPSHOT},
                {"save-state", required_argument, NULL, LS_RO_SAVE_STATE},
                {"output", required_argument, NULL, LS_RO_OUTPUT},
                {"output-format", required_argument, NULL, LS_RO_OUTPUT_FORMAT},
                {"alerts-output", required_argument, NULL, LS_RO_ALERTS_OUTPUT},
                {"output-topic", required_argument, NULL, LS_RO_OUTPUT_TOPIC},
                {"alerts-topic", required_argument, NULL, LS_RO_ALERTS_TOPIC},
                {"final-only", no_argument, NULL, LS_RO_FINAL_ONLY},
                {"threads", required_argument, NULL, LS_RO_THREADS},
                {"quiet", no_argument, NULL, LS_RO_QUIET},
                {"schemas", required_argument, NULL, LS_RO_SCHEMAS},
                {"registry-url", required_argument, NULL, LS_RO_REGISTRY},
                {"json", no_argument, NULL, LS_RO_JSON},
                {"examples", required_argument, NULL, LS_RO_EXAMPLES},
                {"help", no_argument, NULL, LS_RO_HELP},
                {NULL, 0, NULL, 0},
        };
        ls_replay_conf_t *rc = &c->rc;
        int opt, rcode;
        char *end;

        memset(c, 0, sizeof(*c));
        c->cmd = cmd;
        c->diff = diff;
        c->examples = 10;
        rc->from.kind = LS_REPLAY_EARLIEST;
        rc->to.kind = LS_REPLAY_LATEST;
        rc->sink = diff ? LS_REPLAY_SINK_NONE : LS_REPLAY_SINK_FILE;
        optind = 1;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                int is_diff_opt = opt == LS_RO_MODEL_NEW || opt == LS_RO_JSON ||
                                  opt == LS_RO_EXAMPLES;
                int is_replay_opt =
                        opt == LS_RO_SNAPSHOT || opt == LS_RO_SAVE_STATE ||
                        opt == LS_RO_OUTPUT || opt == LS_RO_OUTPUT_FORMAT ||
                        opt == LS_RO_ALERTS_OUTPUT ||
                        opt == LS_RO_OUTPUT_TOPIC ||
                        opt == LS_RO_ALERTS_TOPIC || opt == LS_RO_FINAL_ONLY;
                if ((is_diff_opt && !diff) || (is_replay_opt && diff))
                        return ls_cli_usage_error(cmd, "unknown option %s",
                                                  argv[optind - 1]);
                switch (opt) {
                case LS_RO_BROKERS:
                        rc->brokers = optarg;
                        break;
                case LS_RO_TOPICS:
                        c->topics_arg = optarg;
                        break;
                case LS_RO_CONFIG:
                        c->config_path = optarg;
                        break;
                case LS_RO_FROM:
                        if ((rcode = ls_rcli_bound(c, "--from", optarg,
                                                   &rc->from)) >= 0)
                                return rcode;
                        if (rc->from.kind == LS_REPLAY_LATEST)
                                return ls_cli_usage_error(
                                        cmd, "--from: latest is an end bound");
                        break;
                case LS_RO_TO:
                        if ((rcode = ls_rcli_bound(c, "--to", optarg,
                                                   &rc->to)) >= 0)
                                return rcode;
                        if (rc->to.kind == LS_REPLAY_EARLIEST)
                                return ls_cli_usage_error(
                                        cmd, "--to: earliest is a start bound");
                        break;
                case LS_RO_INPUT:
                        if (ls_rcli_add_input(c, optarg))
                                return LS_EXIT_ERROR;
                        break;
                case LS_RO_INPUT_FORMAT:
                        c->input_format_arg = optarg;
                        break;
                case LS_RO_MODEL:
                        c->model_path = optarg;
                        break;
                case LS_RO_MODEL_NEW:
                        c->model_new_path = optarg;
                        break;
                case LS_RO_SNAPSHOT:
                        rc->snapshot = optarg;
                        break;
                case LS_RO_SAVE_STATE:
                        rc->save_state = optarg;
                        break;
                case LS_RO_OUTPUT:
                        rc->output = optarg;
                        break;
                case LS_RO_OUTPUT_FORMAT:
                        c->output_format_arg = optarg;
                        break;
                case LS_RO_ALERTS_OUTPUT:
                        rc->alerts_output = optarg;
                        break;
                case LS_RO_OUTPUT_TOPIC:
                        rc->output_topic = optarg;
                        break;
                case LS_RO_ALERTS_TOPIC:
                        rc->alerts_topic = optarg;
                        break;
                case LS_RO_FINAL_ONLY:
                        c->final_only = 1;
                        break;
                case LS_RO_THREADS:
                        rc->threads = (int)strtol(optarg, &end, 10);
                        if (*end || rc->threads < 1 || rc->threads > 64)
                                return ls_cli_usage_error(
                                        cmd,
                                        "--threads: expected an integer in "
                                        "[1, 64], got '%s'",
                                        optarg);
                        break;
                case LS_RO_QUIET:
                        c->quiet = 1;
                        break;
                case LS_RO_SCHEMAS:
                        rc->schema_dir = optarg;
                        break;
                case LS_RO_REGISTRY:
                        rc->registry_url = optarg;
                        break;
                case LS_RO_JSON:
                        c->json = 1;
                        break;
                case LS_RO_EXAMPLES:
                        c->examples = strtol(optarg, &end, 10);
                        if (*end || c->examples < 0 || c->examples > 100000)
                                return ls_cli_usage_error(
                                        cmd,
                                        "--examples: expected an integer in "
                                        "[0, 100000], got '%s'",
                                        optarg);
                        break;
                case LS_RO_HELP:
                case 'h':
                        if (diff)
                                ls_diff_usage(stdout);
                        else
                                ls_replay_usage(stdout);
                        return LS_EXIT_OK;
                default:
                        return ls_cli_bad_option(cmd, opt, argv);
                }
        }
        for (; optind < argc; optind++)
                if (ls_rcli_add_input(c, argv[optind]))
                        return LS_EXIT_ERROR;

        if (c->n_inputs && c->topics_arg)
                return ls_cli_usage_error(cmd, "give either --input files or "
                                               "--topics, not both");
        if ((rcode = ls_rcli_topics(c)) >= 0)
                return rcode;
        if (!c->n_inputs && !c->topics_arg && !c->config_path)
                return ls_cli_usage_error(cmd, "no input: give --input FILE, "
                                               "--brokers and --topics, or "
                                               "--config");
        if (c->topics_arg && !rc->brokers && !c->config_path)
                return ls_cli_usage_error(cmd, "--topics needs --brokers or "
                                               "--config");
        if (diff && !c->model_new_path)
                return ls_cli_usage_error(cmd, "--model-new FILE is required");
        if (c->input_format_arg) {
                if (c->n_inputs) {
                        if (!strcmp(c->input_format_arg, "json"))
                                rc->file_format = LS_REPLAY_FILE_JSON;
                        else if (!strcmp(c->input_format_arg, "avro"))
                                rc->file_format = LS_REPLAY_FILE_AVRO;
                        else
                                return ls_cli_usage_error(
                                        cmd,
                                        "--input-format: files are json or "
                                        "avro, not '%s'",
                                        c->input_format_arg);
                } else if (ls_format_parse(c->input_format_arg,
                                           &rc->input_format)) {
                        return ls_cli_usage_error(
                                cmd,
                                "--input-format: expected json, avro or "
                                "registry, got '%s'",
                                c->input_format_arg);
                }
        }
        if (c->output_format_arg &&
            (ls_format_parse(c->output_format_arg, &rc->output_format) ||
             (rc->output_format == LS_FORMAT_REGISTRY && !rc->output_topic)))
                return ls_cli_usage_error(
                        cmd,
                        "--output-format: expected json or avro (or "
                        "registry with --output-topic), got '%s'",
                        c->output_format_arg);
        if (c->final_only) {
                if (rc->output_topic || (c->output_format_arg &&
                                         rc->output_format != LS_FORMAT_JSON))
                        return ls_cli_usage_error(
                                cmd, "--final-only writes JSON lines to a "
                                     "file or stdout");
                rc->sink = LS_REPLAY_SINK_FINAL;
        } else if (rc->output_topic) {
                if (rc->output)
                        return ls_cli_usage_error(
                                cmd, "give --output or --output-topic, not "
                                     "both");
                rc->sink = LS_REPLAY_SINK_TOPIC;
        }
        if (!diff && rc->sink == LS_REPLAY_SINK_FILE &&
            rc->output_format == LS_FORMAT_AVRO &&
            (!rc->output || !strcmp(rc->output, "-")))
                return ls_cli_usage_error(cmd, "--output-format avro needs "
                                               "--output FILE");
        if (rc->output_topic && !rc->brokers && !c->config_path)
                return ls_cli_usage_error(cmd, "--output-topic needs "
                                               "--brokers or --config");
        rc->progress = !c->quiet && isatty(2);
        return ls_rcli_load(c);
}

void ls_rcli_free(ls_rcli_t *c) {
        ls_free(c->inputs);
        ls_free(c->topics_copy);
        ls_free(c->schema_dir_alloc);
        if (c->ms[0])
                ls_modelset_destroy(c->ms[0]);
        if (c->ms[1])
                ls_modelset_destroy(c->ms[1]);
        ls_config_destroy(c->config);
}

int ls_cmd_replay(int argc, char **argv) {
        ls_rcli_t c;
        ls_replay_t *rp;
        ls_replay_stats_t st;
        char errstr[1024];
        char oob[160] = "";
        int rc;
        ls_err_t err;

        rc = ls_rcli_parse(&c, "replay", 0, argc, argv);
        if (rc >= 0) {
                ls_rcli_free(&c);
                return rc;
        }
        if (!(rp = ls_replay_new(&c.rc, errstr, sizeof(errstr)))) {
                fprintf(stderr, "leadscore replay: %s\n", errstr);
                ls_rcli_free(&c);
                return LS_EXIT_ERROR;
        }
        err = ls_replay_run(rp, errstr, sizeof(errstr));
        ls_replay_stats(rp, &st);
        if (st.out_of_bounds)
                snprintf(oob, sizeof(oob),
                         "; %llu fetched outside the time bounds",
                         (unsigned long long)st.out_of_bounds);
        if (st.suppressed || st.reversed) {
                size_t n = strlen(oob);

                snprintf(oob + n, sizeof(oob) - n,
                         "; %llu suppressed, %llu reversed by a burst",
                         (unsigned long long)st.suppressed,
                         (unsigned long long)st.reversed);
        }
        if (err)
                fprintf(stderr, "leadscore replay: %s\n", errstr);
        else if (!c.quiet)
                fprintf(stderr,
                        "replay: %llu records, %llu applied, %llu bad, %llu "
                        "duplicates, %llu outputs, %llu leads, %d shard%s in "
                        "%.3f s (%.0f records/s; input read in %.3f s)%s\n",
                        (unsigned long long)st.records,
                        (unsigned long long)st.applied,
                        (unsigned long long)st.bad,
                        (unsigned long long)st.duplicates,
                        (unsigned long long)st.outputs,
                        (unsigned long long)st.leads, (int)st.partitions,
                        st.partitions == 1 ? "" : "s", st.seconds,
                        st.seconds > 0 ? (double)st.records / st.seconds : 0,
                        st.read_seconds, oob);
        ls_replay_destroy(rp);
        ls_rcli_free(&c);
        if (err)
                return LS_EXIT_ERROR;
        return st.bad ? LS_EXIT_BADDATA : LS_EXIT_OK;
}
