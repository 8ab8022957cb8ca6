/*
 * cmd_demo.c - `leadscore demo`: the whole pipeline on one machine.
 *
 * Starts the embedded test broker and the pipeline (on a thread of this
 * process), produces the example inputs (JSON, one per line) to the
 * events / profiles topics, and prints the score updates and alerts as
 * they arrive on the scores / alerts topics. The number of outputs to
 * expect is computed up front by scoring the same inputs with the pure
 * engine (one partition, so one shard sees them in the same order); the
 * demo ends when they have all arrived, or at the timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cli/cli.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_config.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_kafka.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_pipeline.h"
#include "leadscore/ls_scorer.h"

/* The one mutable global allowed: the signal handlers' stop flag. */
static volatile sig_atomic_t ls_demo_stop;

static void ls_demo_on_signal(int sig) {
        (void)sig;
        ls_demo_stop = 1;
}

typedef struct ls_demo_input_s {
        int profile;   /* 1: profiles topic, 0: events topic */
        char *lead_id; /* the record key */
        char *line;
        size_t len;
} ls_demo_input_t;

typedef struct ls_demo_s {
        ls_demo_input_t *inputs;
        size_t n_inputs;
        ls_pipeline_t *pl;
        ls_err_t run_err;
        char run_errstr[512];
        int color;
} ls_demo_t;

static void ls_demo_usage(FILE *fp) {
        fprintf(fp, "usage: leadscore demo [--model FILE] [--events FILE] "
                    "[--timeout SECONDS]\n"
                    "                      [--linger SECONDS]\n"
                    "\n"
                    "Starts an embedded Kafka test broker and the scoring "
                    "pipeline in this process,\n"
                    "produces the example inputs (JSON, one per line; profiles "
                    "to lead-profiles,\n"
                    "events to lead-events, key = lead id) and prints every "
                    "score update and alert\n"
                    "from lead-scores and lead-alerts as it arrives. Ends when "
                    "all the outputs the\n"
                    "inputs must cause have arrived (computed by scoring them "
                    "offline first), or at\n"
                    "the timeout. The broker address is printed, so more input "
                    "can be produced with\n"
                    "kcat while it runs (use --linger).\n"
                    "\n"
                    "options:\n"
                    "  -m, --model FILE     model file (default: "
                    "examples/model.yaml of the source\n"
                    "                       tree or installation, else "
                    "./examples/model.yaml)\n"
                    "  -e, --events FILE    inputs, JSON lines (default: "
                    "examples/events.jsonl, same\n"
                    "                       search)\n"
                    "  -t, --timeout SECS   give up waiting for outputs after "
                    "this long (default 30)\n"
                    "  -l, --linger SECS    keep running this long after the "
                    "last expected output,\n"
                    "                       printing whatever else arrives "
                    "(default 0)\n"
                    "  -h, --help           print this help and exit\n"
                    "\n"
                    "exit status: 0 all expected outputs arrived, 1 error or "
                    "timeout, 64 usage error\n");
}

static void ls_demo_free_inputs(ls_demo_t *demo) {
        size_t i;

        for (i = 0; i < demo->n_inputs; i++) {
                ls_free(demo->inputs[i].lead_id);
                ls_free(demo->inputs[i].line);
        }
        ls_free(demo->inputs);
}

/** Reads the JSON lines of @p path; kind and lead id pick topic and key. */
static int ls_demo_read_inputs(ls_demo_t *demo, const char *path) {
        FILE *fp = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0, lineno = 0, size = 0;
        ssize_t n;

        if (!fp) {
                fprintf(stderr, "leadscore demo: %s: cannot open: %s\n", path,
                        strerror(errno));
                return -1;
        }
        while ((n = getline(&line, &cap, fp)) >= 0) {
                json_t *root, *v;
                json_error_t jerr;
                ls_demo_input_t *in;
                const char *kind;

                lineno++;
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (n == 0 || line[0] == '#')
                        continue;
                root = json_loadb(line, (size_t)n, 0, &jerr);
                if (!root || !json_is_object(root) ||
                    !json_is_string(json_object_get(root, "lead_id"))) {
                        fprintf(stderr,
                                "leadscore demo: %s:%zu: expected a JSON "
                                "object with a lead_id\n",
                                path, lineno);
                        json_decref(root);
                        goto fail;
                }
                if (demo->n_inputs == size) {
                        size_t nsize = size ? size * 2 : 64;
                        ls_demo_input_t *ni =
                                ls_realloc(demo->inputs, nsize * sizeof(*ni));
                        if (!ni) {
                                json_decref(root);
                                goto fail;
                        }
                        demo->inputs = ni;
                        size = nsize;
                }
                in = &demo->inputs[demo->n_inputs];
                v = json_object_get(root, "kind");
                kind = json_is_string(v) ? json_string_value(v) : NULL;
                in->profile =
                        kind ? !strcmp(kind, "profile")
                             : json_object_get(root, "attributes") != NULL;
                in->lead_id = ls_strdup(
                        json_string_value(json_object_get(root, "lead_id")));
                in->line = ls_strndup(line, (size_t)n);
                in->len = (size_t)n;
                json_decref(root);
                if (!in->lead_id || !in->line) {
                        ls_free(in->lead_id);
                        ls_free(in->line);
                        goto fail;
                }
                demo->n_inputs++;
        }
        free(line);
        fclose(fp);
        return 0;
fail:
        free(line);
        fclose(fp);
        return -1;
}

/**
 * Scores the inputs offline with the pure engine in one shard, as the
 * pipeline will with one partition. @returns the number of outputs.
 */
static long ls_demo_expected(ls_demo_t *demo, const ls_config_t *conf,
                             long *alertsp) {
        ls_modelset_t *ms = NULL;
        ls_codec_conf_t cc;
        ls_codec_t *codec;
        ls_shard_t *shard;
        ls_outbuf_t ob;
        char errstr[512];
        long n = 0, alerts = 0;
        size_t i, j;

        if (ls_modelset_load(conf->model_path, &ms, errstr, sizeof(errstr))) {
                fprintf(stderr, "leadscore demo: %s\n", errstr);
                return -1;
        }
        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        cc.schema_dir = conf->schema_dir;
        codec = ls_codec_new(&cc, errstr, sizeof(errstr));
        if (!codec) {
                fprintf(stderr, "leadscore demo: %s\n", errstr);
                ls_modelset_destroy(ms);
                return -1;
        }
        shard = ls_shard_new(ms);
        ls_outbuf_init(&ob);
        for (i = 0; shard && i < demo->n_inputs; i++) {
                const ls_record_t rec = {.kind = demo->inputs[i].profile
                                                         ? LS_INPUT_PROFILE
                                                         : LS_INPUT_EVENT,
                                         .value = demo->inputs[i].line,
                                         .len = demo->inputs[i].len,
                                         .timestamp = -1};
                ls_err_t err;

                ls_outbuf_reset(&ob);
                if (ls_scorer_feed(codec, &rec, &shard, &ob, 1, &err, errstr,
                                   sizeof(errstr)) == LS_V_ERROR)
                        break;
                n += (long)ob.n_outs;
                for (j = 0; j < ob.n_outs; j++)
                        alerts += ob.outs[j].kind == LS_OUT_ALERT;
        }
        ls_outbuf_free(&ob);
        ls_shard_destroy(shard);
        ls_codec_destroy(codec);
        ls_modelset_destroy(ms);
        *alertsp = alerts;
        return shard ? n : -1;
}

static void *ls_demo_pipeline_thread(void *arg) {
        ls_demo_t *demo = arg;

        demo->run_err =
                ls_pipeline_run(demo->pl, &ls_demo_stop, demo->run_errstr,
                                sizeof(demo->run_errstr));
        return NULL;
}

static rd_kafka_t *ls_demo_client(rd_kafka_type_t type, const char *bootstrap) {
        const ls_kafka_prop_t props[] = {
                {"bootstrap.servers", bootstrap},
                {"group.id", "leadscore-demo-viewer"},
                {"enable.auto.commit", "false"},
        };
        int consumer = type == RD_KAFKA_CONSUMER;
        const ls_kafka_opts_t o = {.role = consumer ? LS_KAFKA_RAW_CONSUMER
                                                    : LS_KAFKA_RAW_PRODUCER,
                                   .props = props,
                                   .props_cnt = consumer ? 3 : 1,
                                   .name = ""};
        char errstr[600];
        rd_kafka_t *rk = ls_kafka_client_new(&o, errstr, sizeof(errstr));

        if (!rk)
                fprintf(stderr, "leadscore demo: %s\n", errstr);
        return rk;
}

static int64_t ls_demo_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * Produces the inputs in file order. Events and profiles go to two
 * topics, whose records the pipeline may interleave in any order; so at
 * each switch from one topic to the other the demo waits until the
 * pipeline has consumed everything before, and the pipeline sees the
 * inputs in file order, as the offline count did.
 */
static int ls_demo_produce(ls_demo_t *demo, rd_kafka_t *producer,
                           const ls_config_t *conf, int64_t deadline) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        size_t i;

        for (i = 0; i < demo->n_inputs; i++) {
                const ls_demo_input_t *in = &demo->inputs[i];
                rd_kafka_resp_err_t err;

                if (i > 0 && in->profile != demo->inputs[i - 1].profile) {
                        rd_kafka_flush(producer, 10000);
                        while (ls_pipeline_consumed(demo->pl) < i &&
                               !ls_demo_stop && ls_demo_now() < deadline)
                                nanosleep(&pause, NULL);
                }
                do {
                        err = rd_kafka_producev(
                                producer,
                                RD_KAFKA_V_TOPIC(in->profile
                                                         ? conf->topic_profiles
                                                         : conf->topic_events),
                                RD_KAFKA_V_KEY(in->lead_id,
                                               strlen(in->lead_id)),
                                RD_KAFKA_V_VALUE(in->line, in->len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END);
                        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(producer, 100);
                } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                if (err) {
                        fprintf(stderr, "leadscore demo: produce: %s\n",
                                rd_kafka_err2str(err));
                        return -1;
                }
        }
        if (rd_kafka_flush(producer, 10000)) {
                fprintf(stderr, "leadscore demo: inputs not delivered\n");
                return -1;
        }
        return 0;
}

/* Appends to @p b "name +points" of up to @p max entries of the array
 * @p arr (objects with @p key and "points"), comma-separated. */
static void ls_demo_points(ls_buf_t *b, const json_t *arr, const char *key,
                           size_t max) {
        char item[160];
        size_t i;

        for (i = 0; i < json_array_size(arr) && i < max; i++) {
                const json_t *e = json_array_get(arr, i);
                snprintf(item, sizeof(item), "%s%s %+lld", i ? ", " : "",
                         json_string_value(json_object_get(e, key)),
                         (long long)json_integer_value(
                                 json_object_get(e, "points")));
                ls_buf_append(b, item, strlen(item));
        }
}

/* The line under an alert that says why it fired, who the lead is and
 * whether its input is old: the alert's condition, its largest
 * contributions, its fit rules, its attributes and backfill. */
static void ls_demo_why(const json_t *root, const char *lead) {
        const json_t *cond = json_object_get(root, "condition");
        const json_t *win = json_object_get(cond, "window");
        const json_t *enter = json_object_get(cond, "enter");
        const json_t *attrs = json_object_get(root, "attributes");
        const char *k;
        json_t *v;
        char part[256];
        ls_buf_t b;

        ls_buf_init(&b);
        if (json_is_object(win)) {
                const json_t *type = json_object_get(win, "event_type");
                const json_t *minp = json_object_get(win, "min_points");

                if (json_is_integer(minp)) {
                        snprintf(part, sizeof(part),
                                 "%lld points within %lldh (needs %lld)",
                                 (long long)json_integer_value(
                                         json_object_get(win, "sum")),
                                 (long long)json_integer_value(
                                         json_object_get(win, "within_ms")) /
                                         3600000,
                                 (long long)json_integer_value(minp));
                        ls_buf_append(&b, part, strlen(part));
                }
                if (json_is_string(type)) {
                        snprintf(part, sizeof(part), "%sa %s event",
                                 json_is_integer(minp) ? ", fired by " : "",
                                 json_string_value(type));
                        ls_buf_append(&b, part, strlen(part));
                }
                if (json_array_size(json_object_get(win, "events"))) {
                        ls_buf_append(&b, ": ", 2);
                        ls_demo_points(&b, json_object_get(win, "events"), "id",
                                       4);
                }
        } else if (json_is_object(enter)) {
                const json_t *t = json_object_get(enter, "min_total");
                const json_t *g = json_object_get(enter, "min_grade");
                const json_t *bd = json_object_get(enter, "min_band");

                ls_buf_append(&b, "enter", 5);
                if (json_is_integer(t)) {
                        snprintf(part, sizeof(part), " total>=%lld",
                                 (long long)json_integer_value(t));
                        ls_buf_append(&b, part, strlen(part));
                }
                if (json_is_string(g)) {
                        snprintf(part, sizeof(part), " grade>=%s",
                                 json_string_value(g));
                        ls_buf_append(&b, part, strlen(part));
                }
                if (json_is_string(bd)) {
                        snprintf(part, sizeof(part), " band>=%s",
                                 json_string_value(bd));
                        ls_buf_append(&b, part, strlen(part));
                }
                snprintf(part, sizeof(part), " (%s)",
                         json_is_true(json_object_get(enter, "holds"))
                                 ? "holds"
                                 : "no longer holds");
                ls_buf_append(&b, part, strlen(part));
        }
        ls_buf_append(&b, "; top ", 6);
        ls_demo_points(&b, json_object_get(root, "contributions"), "rule", 3);
        if (json_array_size(json_object_get(root, "fit_rules"))) {
                ls_buf_append(&b, "; fit ", 6);
                ls_demo_points(&b, json_object_get(root, "fit_rules"), "rule",
                               3);
        }
        json_object_foreach((json_t *)attrs, k, v) {
                snprintf(part, sizeof(part), "; %s %s", k,
                         json_string_value(v));
                ls_buf_append(&b, part, strlen(part));
        }
        if (json_is_true(json_object_get(root, "backfill")))
                ls_buf_append(&b, "; BACKFILL (old input)", 22);
        printf("    why           lead %-12s %.*s\n", lead, (int)b.len,
               b.data ? (const char *)b.data : "");
        ls_buf_free(&b);
}

/** Prints one output record (JSON) human-readably. */
static void ls_demo_print(const ls_demo_t *demo,
                          const rd_kafka_message_t *rkm) {
        json_t *root;
        json_error_t jerr;
        const char *kind, *alert;

        root = json_loadb(rkm->payload, rkm->len, 0, &jerr);
        if (!root) {
                printf("%s: %.*s\n", rd_kafka_topic_name(rkm->rkt),
                       (int)rkm->len, (const char *)rkm->payload);
                return;
        }
        kind = json_string_value(json_object_get(root, "kind"));
        alert = json_string_value(json_object_get(root, "alert"));
        if (kind && !strcmp(kind, "alert")) {
                printf("%s>>> ALERT %-8s lead %-12s model %-8s total %4lld "
                       "cell %-3s (grade %s, band %s)%s\n",
                       demo->color ? "\033[1;31m" : "", alert ? alert : "?",
                       json_string_value(json_object_get(root, "lead_id")),
                       json_string_value(json_object_get(root, "model")),
                       (long long)json_integer_value(
                               json_object_get(root, "total")),
                       json_string_value(json_object_get(root, "cell")),
                       json_string_value(json_object_get(root, "grade")),
                       json_string_value(json_object_get(root, "band")),
                       demo->color ? "\033[0m" : "");
                ls_demo_why(root, json_string_value(
                                          json_object_get(root, "lead_id")));
        } else {
                const char *cause_id =
                        json_string_value(json_object_get(root, "cause_id"));
                printf("    score         lead %-12s model %-8s total %4lld "
                       "(fit %lld, engagement %lld) cell %-3s (grade %s, "
                       "band %s) <- %s%s%s\n",
                       json_string_value(json_object_get(root, "lead_id")),
                       json_string_value(json_object_get(root, "model")),
                       (long long)json_integer_value(
                               json_object_get(root, "total")),
                       (long long)json_integer_value(
                               json_object_get(root, "fit")),
                       (long long)json_integer_value(
                               json_object_get(root, "engagement")),
                       json_string_value(json_object_get(root, "cell")),
                       json_string_value(json_object_get(root, "grade")),
                       json_string_value(json_object_get(root, "band")),
                       json_string_value(json_object_get(root, "cause")),
                       cause_id ? " " : "", cause_id ? cause_id : "");
        }
        fflush(stdout);
        json_decref(root);
}

static char *ls_demo_default(const char *file) {
        char *dir = ls_config_default_dir("examples"), *path;
        size_t len;

        if (!dir)
                return ls_strdup(file); /* reported when it fails to open */
        len = strlen(dir) + strlen(file) + 2;
        path = ls_malloc(len);
        if (path)
                snprintf(path, len, "%s/%s", dir, file);
        ls_free(dir);
        return path;
}

int ls_cmd_demo(int argc, char **argv) {
        static const struct option longopts[] = {
                {"model", required_argument, NULL, 'm'},
                {"events", required_argument, NULL, 'e'},
                {"timeout", required_argument, NULL, 't'},
                {"linger", required_argument, NULL, 'l'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *model_arg = NULL, *events_arg = NULL;
        char *events_path = NULL, *end;
        double timeout_s = 30, linger_s = 0;
        ls_demo_t demo;
        ls_config_t *conf = NULL;
        rd_kafka_t *producer = NULL, *viewer = NULL;
        rd_kafka_topic_partition_list_t *parts;
        pthread_t thread;
        int started = 0, rc = LS_EXIT_ERROR, c, p;
        long expected, expected_alerts = 0, got = 0, got_alerts = 0;
        int64_t deadline, done_at = -1;
        struct sigaction sa;
        char errstr[1024];

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":m:e:t:l:h", longopts, NULL)) !=
               -1) {
                switch (c) {
                case 'm':
                        model_arg = optarg;
                        break;
                case 'e':
                        events_arg = optarg;
                        break;
                case 't':
                case 'l': {
                        double v = strtod(optarg, &end);
                        if (*end || v < 0 || v > 86400)
                                return ls_cli_usage_error(
                                        "demo",
                                        "--%s: expected seconds in [0, 86400], "
                                        "got '%s'",
                                        c == 't' ? "timeout" : "linger",
                                        optarg);
                        if (c == 't')
                                timeout_s = v;
                        else
                                linger_s = v;
                        break;
                }
                case 'h':
                        ls_demo_usage(stdout);
                        return LS_EXIT_OK;
                default:
                        return ls_cli_bad_option("demo", c, argv);
                }
        }
        if (optind < argc)
                return ls_cli_usage_error("demo", "unexpected argument '%s'",
                                          argv[optind]);

        memset(&demo, 0, sizeof(demo));
        demo.color = isatty(STDOUT_FILENO);
        conf = ls_config_new_defaults();
        if (!conf)
                goto out;
        conf->model_path = model_arg ? ls_strdup(model_arg)
                                     : ls_demo_default("model.yaml");
        events_path = events_arg ? ls_strdup(events_arg)
                                 : ls_demo_default("events.jsonl");
        /* conf->schema_dir stays NULL: JSON needs no schema, and the
         * program carries its own (ls_codec_schema_text()). */
        conf->embedded = 1;
        conf->embedded_partitions = 1;
        ls_free(conf->group);
        conf->group = ls_strdup("leadscore-demo");
        if (!conf->model_path || !events_path || !conf->group ||
            ls_props_set(&conf->consumer, "session.timeout.ms", "6000"))
                goto out;
        if (ls_demo_read_inputs(&demo, events_path))
                goto out;
        expected = ls_demo_expected(&demo, conf, &expected_alerts);
        if (expected < 0)
                goto out;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = ls_demo_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        demo.pl = ls_pipeline_new(conf, errstr, sizeof(errstr));
        if (!demo.pl) {
                fprintf(stderr, "leadscore demo: %s\n", errstr);
                goto out;
        }
        printf("broker: %s  (produce more: kcat -b %s -P -t %s -K:\n"
               "        with one LEAD_ID:{json} per line)\n"
               "model: %s\ninputs: %s (%zu records; expecting %ld outputs, "
               "%ld of them alerts)\n",
               ls_pipeline_bootstrap(demo.pl), ls_pipeline_bootstrap(demo.pl),
               conf->topic_events, conf->model_path, events_path, demo.n_inputs,
               expected, expected_alerts);
        fflush(stdout);
        if (pthread_create(&thread, NULL, ls_demo_pipeline_thread, &demo)) {
                fprintf(stderr, "leadscore demo: cannot start a thread\n");
                goto out;
        }
        started = 1;

        producer = ls_demo_client(RD_KAFKA_PRODUCER,
                                  ls_pipeline_bootstrap(demo.pl));
        viewer = ls_demo_client(RD_KAFKA_CONSUMER,
                                ls_pipeline_bootstrap(demo.pl));
        deadline = ls_demo_now() + (int64_t)(timeout_s * 1000);
        if (!producer || !viewer ||
            ls_demo_produce(&demo, producer, conf, deadline))
                goto out;
        parts = rd_kafka_topic_partition_list_new(2 *
                                                  conf->embedded_partitions);
        for (p = 0; p < conf->embedded_partitions; p++) {
                rd_kafka_topic_partition_list_add(parts, conf->topic_scores, p)
                        ->offset = RD_KAFKA_OFFSET_BEGINNING;
                rd_kafka_topic_partition_list_add(parts, conf->topic_alerts, p)
                        ->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_assign(viewer, parts);
        rd_kafka_topic_partition_list_destroy(parts);

        while (!ls_demo_stop) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(viewer, 200);
                int64_t now = ls_demo_now();
                if (rkm) {
                        if (!rkm->err) {
                                ls_demo_print(&demo, rkm);
                                got++;
                                got_alerts +=
                                        !strcmp(rd_kafka_topic_name(rkm->rkt),
                                                conf->topic_alerts);
                        }
                        rd_kafka_message_destroy(rkm);
                }
                if (done_at < 0 && got >= expected)
                        done_at = now;
                if (done_at >= 0 && now - done_at >= (int64_t)(linger_s * 1000))
                        break;
                if (done_at < 0 && now >= deadline)
                        break;
        }
        printf("received %ld of %ld expected outputs (%ld alerts)%s\n", got,
               expected, got_alerts,
               got >= expected ? "" : ": timed out or interrupted");
        fflush(stdout);
        rc = got >= expected ? LS_EXIT_OK : LS_EXIT_ERROR;
out:
        if (viewer) {
                rd_kafka_consumer_close(viewer);
                rd_kafka_destroy(viewer);
        }
        if (producer)
                rd_kafka_destroy(producer);
        if (started) {
                ls_pipeline_stop(demo.pl);
                pthread_join(thread, NULL);
                if (demo.run_err) {
                        fprintf(stderr, "leadscore demo: pipeline: %s\n",
                                demo.run_errstr);
                        rc = LS_EXIT_ERROR;
                }
        }
        ls_pipeline_destroy(demo.pl);
        ls_demo_free_inputs(&demo);
        ls_free(events_path);
        ls_config_destroy(conf);
        return rc;
}
