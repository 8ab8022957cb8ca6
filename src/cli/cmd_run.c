/*
 * cmd_run.c - `leadscore run --config FILE`: the scoring pipeline over
 * Kafka (see ls_pipeline.h and docs/CONFIG.md). SIGINT / SIGTERM only set
 * a flag; the pipeline then finishes its batch, flushes, commits and
 * leaves the group. Before consuming, it makes the default snapshot
 * directory and says in the log where lead state is kept, or warns that
 * it is not (`snapshot: off`).
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "leadscore/ls_config.h"
#include "leadscore/ls_log.h"
#include "leadscore/ls_pipeline.h"

/* The mutable globals allowed: the signal handlers' flags (stop, and a
 * SIGHUP counter that asks for a model reload). */
static volatile sig_atomic_t ls_run_stop;
static volatile sig_atomic_t ls_run_hup;

static void ls_run_on_signal(int sig) {
        if (sig == SIGHUP)
                ls_run_hup++;
        else
                ls_run_stop = 1;
}

static void ls_run_usage(FILE *fp) {
        fprintf(fp,
                "usage: leadscore run --config FILE [--print-config]\n"
                "\n"
                "Consumes the events and profiles topics as one member of a "
                "consumer group,\n"
                "scores every input with the model and produces score "
                "updates and alerts to\n"
                "the scores and alerts topics; bad input goes to the "
                "dead-letter topic with\n"
                "its reason in headers. Input offsets are committed only "
                "after every output\n"
                "they caused was acknowledged by the broker. "
                "kafka.bootstrap.servers is required\n"
                "(missing or empty is an error), unless the config has an "
                "embedded_broker\n"
                "section: then a built-in test broker is started and its "
                "address printed as\n"
                "`broker: HOST:PORT` on stderr. See docs/CONFIG.md for "
                "every configuration key.\n"
                "\n"
                "Lead state is kept across restarts and rebalances in "
                "shard snapshots\n"
                "(docs/DURABILITY.md), in snapshot.dir; without it in "
                "$STATE_DIRECTORY/snapshots\n"
                "when systemd sets STATE_DIRECTORY, else in "
                "./leadscore-state (made with mode\n"
                "0700). `snapshot: off` runs without durable state: a "
                "restart scores every\n"
                "lead from zero and reuses its output ids with other "
                "content, and a warning\n"
                "(event=no_durable_state) says so at start. With the "
                "embedded test broker\n"
                "no snapshots are kept unless snapshot.dir is set. "
                "snapshot.topic keeps them\n"
                "in a compacted Kafka topic instead, so that a partition's "
                "state follows it to\n"
                "any instance. A partition whose snapshots are all "
                "unusable, or whose input\n"
                "records the state needs are gone from the log, stops the "
                "run\n"
                "(event=restore_refused) unless snapshot.allow_reset is "
                "true.\n"
                "\n"
                "Memory is bounded by max_leads (default auto: half the "
                "memory limit): each\n"
                "partition holds at most its share, and inputs of new "
                "leads past it go to the\n"
                "dead-letter topic with reason capacity "
                "(docs/CONFIG.md#lead-cap).\n"
                "\n"
                "A partition quiet for idle_tick (default 5m; off: never) "
                "gets a clock tick in\n"
                "the events topic (no key, no value, a leadscore.tick "
                "header): consumed, it\n"
                "moves stream time, so decay and mql_lost fire without "
                "inputs, and a replay\n"
                "of the topics meets the same ticks (docs/CONFIG.md#idle-"
                "shards).\n"
                "\n"
                "Partitions are scored on `workers` threads (default auto: "
                "one per core the\n"
                "process may use, CPU affinity and cgroup CPU quota "
                "counted; 1: the consuming\n"
                "thread), each partition on one worker at a time and\n"
                "its outputs produced in input order, so the outputs are "
                "the same whatever\n"
                "the number of workers (docs/CONFIG.md#workers).\n"
                "\n"
                "options:\n"
                "  -c, --config FILE   configuration file (YAML, required)\n"
                "  -p, --print-config  print the effective configuration "
                "(secrets masked)\n"
                "                      and exit\n"
                "  -h, --help          print this help and exit\n"
                "\n"
                "signals: SIGINT / SIGTERM stop cleanly (finish the batch, "
                "flush, commit, leave\n"
                "the group). SIGHUP reloads the model file: a valid model "
                "that differs\n"
                "replaces the old one between two batches (lead state "
                "carries over:\n"
                "each shard is migrated to the new model set); an invalid "
                "one is logged\n"
                "and the old one keeps serving. See\n"
                "docs/OPERATIONS.md (metrics, health, logs, reload).\n"
                "\n"
                "exit status:\n"
                "  0   stopped by SIGINT / SIGTERM after a clean shutdown\n"
                "  1   configuration, model or schema error, a default "
                "snapshot directory that\n"
                "      cannot be made or written, or a fatal runtime error "
                "(state that cannot\n"
                "      be restored, a record that could not be delivered, an "
                "unreachable schema\n"
                "      registry, a refused Kafka authentication or TLS "
                "handshake); offsets past\n"
                "      the failure are not committed\n"
                "  64  usage error\n");
}

/* Says where lead state is kept, or warns that it is not. */
static void ls_run_log_state(ls_log_t *log, const ls_config_t *conf) {
        const char *src = ls_config_snapshot_source2str(conf);
        char msg[PATH_MAX + 128];

        if (conf->snapshot_dir) {
                snprintf(msg, sizeof(msg),
                         "lead state is kept in snapshots in %s (%s)",
                         conf->snapshot_dir, src);
                ls_log_kv(log, LS_LOG_INFO, "durable_state", msg, "dir",
                          conf->snapshot_dir, "source", src, NULL);
        } else if (conf->snapshot_topic) {
                snprintf(msg, sizeof(msg),
                         "lead state is kept in snapshots in the compacted "
                         "topic %s (%s)",
                         conf->snapshot_topic, src);
                ls_log_kv(log, LS_LOG_INFO, "durable_state", msg, "topic",
                          conf->snapshot_topic, "source", src, NULL);
        } else if (conf->snapshot_source == LS_SNAPSHOT_SRC_OFF) {
                ls_log_kv(log, LS_LOG_WARN, "no_durable_state",
                          "no durable lead state (snapshot: off): after a "
                          "restart or a rebalance a partition's leads are "
                          "scored from zero, from the group's committed "
                          "offsets on, and their output ids "
                          "(lead/model/seq) repeat with other content, so "
                          "consumers that drop repeated ids drop real "
                          "outputs; remove `snapshot: off` or set "
                          "snapshot.dir to keep state (docs/DURABILITY.md)",
                          "source", src, NULL);
        } else if (conf->snapshot_source == LS_SNAPSHOT_SRC_EMBEDDED) {
                ls_log_kv(log, LS_LOG_INFO, "no_durable_state",
                          "no durable lead state: the embedded test "
                          "broker's topics end with this process, so no "
                          "snapshots are kept (set snapshot.dir to keep "
                          "them anyway)",
                          "source", src, NULL);
        }
}

int ls_cmd_run(int argc, char **argv) {
        static const struct option longopts[] = {
                {"config", required_argument, NULL, 'c'},
                {"print-config", no_argument, NULL, 'p'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *config_path = NULL;
        int print_config = 0, c;
        ls_config_t *conf = NULL;
        ls_pipeline_t *pl;
        struct sigaction sa;
        char errstr[1024];
        ls_err_t err;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:ph", longopts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 'p':
                        print_config = 1;
                        break;
                case 'h':
                        ls_run_usage(stdout);
                        return LS_EXIT_OK;
                default:
                        return ls_cli_bad_option("run", c, argv);
                }
        }
        if (optind < argc)
                return ls_cli_usage_error("run", "unexpected argument '%s'",
                                          argv[optind]);
        if (!config_path)
                return ls_cli_usage_error("run", "--config FILE is required");

        if (ls_config_load(config_path, &conf, errstr, sizeof(errstr))) {
                fprintf(stderr, "leadscore run: %s\n", errstr);
                return LS_EXIT_ERROR;
        }
        if (print_config) {
                ls_config_print(conf, stdout);
                ls_config_destroy(conf);
                return fflush(stdout) ? LS_EXIT_ERROR : LS_EXIT_OK;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = ls_run_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);

        pl = ls_pipeline_new(conf, errstr, sizeof(errstr));
        if (!pl) {
                fprintf(stderr, "leadscore run: %s\n", errstr);
                ls_config_destroy(conf);
                return LS_EXIT_ERROR;
        }
        if (ls_config_snapshot_prepare(conf, errstr, sizeof(errstr))) {
                fprintf(stderr, "leadscore run: %s\n", errstr);
                ls_pipeline_destroy(pl);
                ls_config_destroy(conf);
                return LS_EXIT_ERROR;
        }
        ls_run_log_state(ls_pipeline_log(pl), conf);
        ls_pipeline_reload_on(pl, &ls_run_hup);
        err = ls_pipeline_run(pl, &ls_run_stop, errstr, sizeof(errstr));
        ls_pipeline_destroy(pl);
        ls_config_destroy(conf);
        if (err) {
                fprintf(stderr, "leadscore run: stopped with an error: %s\n",
                        errstr);
                return LS_EXIT_ERROR;
        }
        return LS_EXIT_OK;
}
