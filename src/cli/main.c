/*
 * main.c - entry point of the `leadscore` executable: dispatches to the
 * subcommands of the command table below, and implements --help and
 * --version. Adding a subcommand = one line in ls_cli_commands plus its
 * cmd_<name>.c and declaration in cli.h.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif
#ifdef LEADSCORE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "cli/cli.h"
#include "leadscore/ls_json.h"

#ifndef LEADSCORE_VERSION
#define LEADSCORE_VERSION "unknown"
#endif
#ifndef LEADSCORE_AVRO_VERSION
#define LEADSCORE_AVRO_VERSION "unknown"
#endif

typedef struct ls_cli_command_s {
        const char *name;
        const char *summary;
        int (*fn)(int argc, char **argv);
} ls_cli_command_t;

static const ls_cli_command_t ls_cli_commands[] = {
        {"check", "validate a model file and print its summary", ls_cmd_check},
        {"score", "score newline-delimited JSON inputs offline (file/stdin)",
         ls_cmd_score},
        {"run", "run the scoring pipeline over Kafka (--config FILE)",
         ls_cmd_run},
        {"broker", "host an embedded Kafka test broker for tests and demos",
         ls_cmd_broker},
        {"demo", "score the example inputs end to end on an embedded broker",
         ls_cmd_demo},
        {"snapshot", "inspect and verify a shard snapshot file",
         ls_cmd_snapshot},
        {"replay", "re-score topic ranges or files deterministically",
         ls_cmd_replay},
        {"diff", "show what a model change does to the same history",
         ls_cmd_diff},
        {"calibrate", "calibrate a model from history and outcomes",
         ls_cmd_calibrate},
};

#define LS_CLI_N_COMMANDS (sizeof(ls_cli_commands) / sizeof(ls_cli_commands[0]))

static void ls_cli_usage(FILE *fp) {
        size_t i;

        fprintf(fp, "usage: leadscore <command> [options]\n"
                    "       leadscore --help | --version\n"
                    "\n"
                    "Real-time lead scoring over Kafka.\n"
                    "\n"
                    "commands:\n");
        for (i = 0; i < LS_CLI_N_COMMANDS; i++)
                fprintf(fp, "  %-10s %s\n", ls_cli_commands[i].name,
                        ls_cli_commands[i].summary);
        fprintf(fp,
                "\n"
                "options:\n"
                "  -h, --help     print this help and exit\n"
                "  -V, --version  print the versions of leadscore and its "
                "libraries and exit\n"
                "\n"
                "Run `leadscore <command> --help` for a command's options.\n"
                "\n"
                "exit status: 0 success, 1 error, 2 some input rejected "
                "(score), 64 usage error\n");
}

/* The C library's name and version, for the malloc line. */
static const char *ls_cli_libc(char *buf, size_t size) {
#ifdef __GLIBC__
        snprintf(buf, size, "glibc %s", gnu_get_libc_version());
#else
        snprintf(buf, size, "libc");
#endif
        return buf;
}

/**
 * The malloc that serves this process: a sanitizer's when the build has
 * one that replaces it; jemalloc when the build links it
 * (LEADSCORE_ALLOCATOR) and its count of this thread's allocated bytes
 * moves with a malloc; else the C library's.
 */
static void ls_cli_malloc(FILE *fp) {
        char libc[64];
#if defined(LEADSCORE_MALLOC_SANITIZER)
        /* the build's sanitizer replaces malloc (CMakeLists.txt) */
        fprintf(fp, "malloc %s (over %s)\n", LEADSCORE_MALLOC_SANITIZER,
                ls_cli_libc(libc, sizeof(libc)));
#elif defined(LEADSCORE_JEMALLOC)
        const char *ver = NULL;
        uint64_t before = 0, after = 0;
        size_t vsz = sizeof(ver), usz = sizeof(before);
        void *volatile p;

        if (mallctl("version", &ver, &vsz, NULL, 0)) {
                fprintf(fp, "malloc jemalloc (no version: mallctl refused)\n");
                return;
        }
        if (mallctl("thread.allocated", &before, &usz, NULL, 0)) {
                /* a jemalloc without statistics */
                fprintf(fp, "malloc jemalloc %s (unverified)\n", ver);
                return;
        }
        p = malloc(4096);
        mallctl("thread.allocated", &after, &usz, NULL, 0);
        free(p);
        if (after >= before + 4096)
                fprintf(fp, "malloc jemalloc %s\n", ver);
        else
                fprintf(fp,
                        "malloc %s (jemalloc %s is linked but does not serve "
                        "malloc)\n",
                        ls_cli_libc(libc, sizeof(libc)), ver);
#else
        fprintf(fp, "malloc %s\n", ls_cli_libc(libc, sizeof(libc)));
#endif
}

static void ls_cli_version(FILE *fp) {
        fprintf(fp, "leadscore %s\n", LEADSCORE_VERSION);
        fprintf(fp, "librdkafka %s\n", rd_kafka_version_str());
        fprintf(fp, "avro-c %s\n", LEADSCORE_AVRO_VERSION);
        fprintf(fp, "jansson %s\n", jansson_version_str());
        fprintf(fp, "libyaml %s\n", yaml_get_version_string());
        ls_cli_malloc(fp);
}

int ls_cli_usage_error(const char *cmd, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "leadscore %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'leadscore %s --help'.\n", cmd);
        return LS_EXIT_USAGE;
}

int ls_cli_bad_option(const char *cmd, int c, char **argv) {
        const char *opt = optind > 0 ? argv[optind - 1] : "?";

        if (c == ':')
                return ls_cli_usage_error(cmd, "option %s needs an argument",
                                          opt);
        if (optopt && optopt != '?')
                return ls_cli_usage_error(cmd, "unknown option -%c", optopt);
        return ls_cli_usage_error(cmd, "unknown option %s", opt);
}

int ls_cli_parse_time(const char *s, long long *msp) {
        int64_t ms;
        long long v;
        char *end;

        if (*s >= '0' && *s <= '9') {
                errno = 0;
                v = strtoll(s, &end, 10);
                if (*end == '\0' && errno == 0) {
                        *msp = v;
                        return 0;
                }
        }
        if (ls_json_parse_time(s, &ms) != LS_OK)
                return -1;
        *msp = (long long)ms;
        return 0;
}

int main(int argc, char **argv) {
        size_t i;

        if (argc < 2) {
                ls_cli_usage(stderr);
                return LS_EXIT_USAGE;
        }
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
            !strcmp(argv[1], "help")) {
                ls_cli_usage(stdout);
                return LS_EXIT_OK;
        }
        if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version") ||
            !strcmp(argv[1], "version")) {
                ls_cli_version(stdout);
                return LS_EXIT_OK;
        }
        for (i = 0; i < LS_CLI_N_COMMANDS; i++)
                if (!strcmp(argv[1], ls_cli_commands[i].name))
                        return ls_cli_commands[i].fn(argc - 1, argv + 1);

        if (argv[1][0] == '-')
                fprintf(stderr, "leadscore: unknown option %s\n\n", argv[1]);
        else
                fprintf(stderr, "leadscore: unknown command '%s'\n\n", argv[1]);
        ls_cli_usage(stderr);
        return LS_EXIT_USAGE;
}
