/*
 * cmd_broker.c - `leadscore broker`: hosts librdkafka's built-in
 * Kafka-protocol test broker so that several processes (leadscore
 * instances, kcat, any client) can share it. Prints its address on
 * stdout and runs until SIGINT / SIGTERM.
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_pipeline.h"

/* The one mutable global allowed: the signal handlers' stop flag. */
static volatile sig_atomic_t ls_broker_stop;

static void ls_broker_on_signal(int sig) {
        (void)sig;
        ls_broker_stop = 1;
}

static void ls_broker_usage(FILE *fp) {
        fprintf(fp,
                "usage: leadscore broker [--partitions N] [--topics a,b,c] "
                "[--brokers N] [--control]\n"
                "\n"
                "Starts librdkafka's built-in Kafka-protocol test broker on "
                "127.0.0.1, creates\n"
                "the topics, prints its address as one line HOST:PORT on "
                "stdout and runs until\n"
                "SIGINT / SIGTERM. Any Kafka client can connect to it (e.g. "
                "kcat -b HOST:PORT).\n"
                "It is a test broker: it keeps at most 5 MiB or 100,000 "
                "batches per partition\n"
                "and its transactions are stubs.\n"
                "\n"
                "options:\n"
                "  -p, --partitions N  partitions per topic (default 4)\n"
                "  -t, --topics LIST   comma-separated topics to create "
                "(default lead-events,\n"
                "                      lead-profiles,lead-scores,lead-alerts,"
                "lead-dead-letters);\n"
                "                      other topics are created on first use "
                "by the broker\n"
                "  -b, --brokers N     brokers in the cluster (default 1, "
                "at most 16)\n"
                "  -c, --control       read fault-injection commands from "
                "stdin, one a line,\n"
                "                      answering `ok` or `error: ...` on "
                "stdout:\n"
                "                      produce_errors|fetch_errors|"
                "commit_errors N [CODE],\n"
                "                      errors APIKEY N [CODE], down B, up B, "
                "leader TOPIC P B,\n"
                "                      coordinator GROUP B, rtt B MS, clear "
                "(B = broker id from 1)\n"
                "  -h, --help          print this help and exit\n"
                "\n"
                "exit status: 0 stopped by a signal, 1 the broker could not "
                "start, 64 usage error\n");
}

int ls_cmd_broker(int argc, char **argv) {
        static const struct option longopts[] = {
                {"partitions", required_argument, NULL, 'p'},
                {"topics", required_argument, NULL, 't'},
                {"brokers", required_argument, NULL, 'b'},
                {"control", no_argument, NULL, 'c'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        static const char *const default_topics[] = {
                "lead-events", "lead-profiles", "lead-scores", "lead-alerts",
                "lead-dead-letters"};
        const char *topics_arg = NULL;
        const char **topics = NULL;
        size_t n_topics = 0;
        char *copy = NULL, *tok, *save = NULL, *end;
        long partitions = 4, brokers = 1;
        int control = 0;
        ls_broker_t *broker;
        struct sigaction sa;
        struct timespec ts = {0, 100 * 1000 * 1000};
        char errstr[512];
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":p:t:b:ch", longopts, NULL)) !=
               -1) {
                switch (c) {
                case 'p':
                        partitions = strtol(optarg, &end, 10);
                        if (*end || partitions < 1 || partitions > 1024)
                                return ls_cli_usage_error(
                                        "broker",
                                        "--partitions: expected an integer in "
                                        "[1, 1024], got '%s'",
                                        optarg);
                        break;
                case 't':
                        topics_arg = optarg;
                        break;
                case 'b':
                        brokers = strtol(optarg, &end, 10);
                        if (*end || brokers < 1 || brokers > 16)
                                return ls_cli_usage_error(
                                        "broker",
                                        "--brokers: expected an integer in "
                                        "[1, 16], got '%s'",
                                        optarg);
                        break;
                case 'c':
                        control = 1;
                        break;
                case 'h':
                        ls_broker_usage(stdout);
                        return LS_EXIT_OK;
                default:
                        return ls_cli_bad_option("broker", c, argv);
                }
        }
        if (optind < argc)
                return ls_cli_usage_error("broker", "unexpected argument '%s'",
                                          argv[optind]);
        if (topics_arg) {
                size_t n = 1;
                const char *s;
                for (s = topics_arg; *s; s++)
                        n += *s == ',';
                copy = ls_strdup(topics_arg);
                topics = ls_calloc(n, sizeof(*topics));
                if (!copy || !topics) {
                        ls_free(copy);
                        ls_free(topics);
                        fprintf(stderr, "leadscore broker: out of memory\n");
                        return LS_EXIT_ERROR;
                }
                for (tok = strtok_r(copy, ",", &save); tok;
                     tok = strtok_r(NULL, ",", &save))
                        if (*tok)
                                topics[n_topics++] = tok;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = ls_broker_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        broker = ls_broker_new_cluster(
                (int)brokers, (int)partitions, topics ? topics : default_topics,
                topics ? n_topics
                       : sizeof(default_topics) / sizeof(default_topics[0]),
                errstr, sizeof(errstr));
        ls_free(topics);
        ls_free(copy);
        if (!broker) {
                fprintf(stderr, "leadscore broker: %s\n", errstr);
                return LS_EXIT_ERROR;
        }
        printf("%s\n", ls_broker_address(broker));
        fflush(stdout);
        fprintf(stderr, "broker: %s (%ld partitions per topic)\n",
                ls_broker_address(broker), partitions);
        while (!ls_broker_stop) {
                struct pollfd pfd = {0, POLLIN, 0};
                char line[512];
                if (!control) {
                        nanosleep(&ts, NULL);
                        continue;
                }
                if (poll(&pfd, 1, 100) <= 0)
                        continue;
                if (!fgets(line, sizeof(line), stdin)) {
                        control = 0; /* stdin closed: keep serving */
                        continue;
                }
                line[strcspn(line, "\r\n")] = '\0';
                if (ls_broker_control(broker, line, errstr, sizeof(errstr))) {
                        printf("error: %s\n", errstr);
                } else {
                        fprintf(stderr, "broker: control: %s\n", line);
                        printf("ok\n");
                }
                fflush(stdout);
        }
        fprintf(stderr, "broker: stopping\n");
        ls_broker_destroy(broker);
        return LS_EXIT_OK;
}
