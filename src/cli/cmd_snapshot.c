/*
 * cmd_snapshot.c - `leadscore snapshot inspect FILE [--model FILE]`:
 * prints what a shard snapshot holds (see ls_snapshot.h and
 * docs/DURABILITY.md) and verifies it: checksum and lengths always, the
 * shard state itself too when the model set is given.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_snapshot.h"

static void ls_snapcmd_usage(FILE *fp) {
        fprintf(fp, "usage: leadscore snapshot inspect FILE [--model FILE]\n"
                    "\n"
                    "Prints what a shard snapshot written by `leadscore run` "
                    "holds: group, topics,\n"
                    "partition, next input offsets, stream time, model set "
                    "version, lead count,\n"
                    "sizes and creation time, verifies its checksum, and loads "
                    "the shard state\n"
                    "under the model set the snapshot carries, checking every "
                    "value in it. With\n"
                    "--model, the state is loaded under that model set instead "
                    "(which must be the\n"
                    "one it was taken under).\n"
                    "\n"
                    "options:\n"
                    "  -m, --model FILE  load the state with this model file\n"
                    "  -h, --help        print this help and exit\n"
                    "\n"
                    "exit status: 0 valid, 1 invalid or unreadable (the reason "
                    "on stderr),\n"
                    "64 usage error\n");
}

static void ls_snapcmd_time(int64_t ms, char *buf, size_t size) {
        time_t t;
        struct tm tm;

        if (ms == INT64_MIN) {
                snprintf(buf, size, "none");
                return;
        }
        t = (time_t)(ms / 1000);
        if (!gmtime_r(&t, &tm)) {
                snprintf(buf, size, "%" PRId64, ms);
                return;
        }
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ (%" PRId64 ")",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ms % 1000 + 1000) % 1000, ms);
}

static void ls_snapcmd_offset(int64_t off, char *buf, size_t size) {
        if (off == LS_SNAPSHOT_EARLIEST)
                snprintf(buf, size, "earliest");
        else
                snprintf(buf, size, "%" PRId64, off);
}

static int ls_snapcmd_inspect(const char *path, const char *model) {
        ls_snapshot_meta_t meta;
        ls_buf_t buf;
        const void *payload;
        char errstr[1024], t1[64], t2[64], o1[32], o2[32];
        int rc = LS_EXIT_OK;

        ls_buf_init(&buf);
        if (ls_snapshot_read_file(path, &buf, errstr, sizeof(errstr)) ||
            ls_snapshot_decode(buf.data ? buf.data : "", buf.len, &meta,
                               &payload, errstr, sizeof(errstr))) {
                fprintf(stderr, "leadscore snapshot: %s: invalid: %s\n", path,
                        errstr);
                ls_buf_free(&buf);
                return LS_EXIT_ERROR;
        }
        ls_snapcmd_time(meta.stream_time, t1, sizeof(t1));
        ls_snapcmd_time(meta.created_ms, t2, sizeof(t2));
        ls_snapcmd_offset(meta.offsets[0], o1, sizeof(o1));
        ls_snapcmd_offset(meta.offsets[1], o2, sizeof(o2));
        printf("file: %s\n", path);
        printf("format: %" PRIu32 "\n", meta.format);
        printf("sequence: %" PRIu64 "\n", meta.seq);
        printf("group: %s\n", meta.group);
        printf("partition: %" PRId32 "\n", meta.partition);
        printf("next offset %s: %s\n", meta.topics[0], o1);
        printf("next offset %s: %s\n", meta.topics[1], o2);
        printf("stream time: %s\n", t1);
        printf("model set version: %s\n", meta.model_version);
        printf("leads: %" PRIu64 "\n", meta.leads);
        printf("state bytes: %" PRIu64 "\n", meta.payload_len);
        printf("model source bytes: %" PRIu64 "\n", meta.source_len);
        printf("file bytes: %zu\n", buf.len);
        if (meta.leads > 0)
                printf("bytes per lead: %.1f\n",
                       (double)buf.len / (double)meta.leads);
        printf("created: %s\n", t2);
        printf("checksum: ok (SHA-256)\n");
        {
                ls_modelset_t *ms = NULL;
                ls_shard_t *shard;
                ls_err_t err =
                        model ? ls_modelset_load(model, &ms, errstr,
                                                 sizeof(errstr))
                              : ls_modelset_load_source(
                                        ls_snapshot_source(payload, &meta),
                                        (size_t)meta.source_len, path, &ms,
                                        errstr, sizeof(errstr));
                if (err) {
                        fprintf(stderr, "leadscore snapshot: %s%s\n",
                                model ? "" : "the model set it carries: ",
                                errstr);
                        ls_buf_free(&buf);
                        return LS_EXIT_ERROR;
                }
                shard = ls_shard_load(ms, payload, (size_t)meta.payload_len,
                                      errstr, sizeof(errstr));
                if (!shard) {
                        fprintf(stderr,
                                "leadscore snapshot: %s: invalid: state "
                                "rejected: %s\n",
                                path, errstr);
                        rc = LS_EXIT_ERROR;
                } else {
                        printf("state: ok (loaded under %s model set %s)\n",
                               model ? "the given" : "its own", ms->version);
                        ls_shard_destroy(shard);
                }
                ls_modelset_destroy(ms);
        }
        ls_buf_free(&buf);
        if (fflush(stdout))
                return LS_EXIT_ERROR;
        return rc;
}

int ls_cmd_snapshot(int argc, char **argv) {
        static const struct option longopts[] = {
                {"model", required_argument, NULL, 'm'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *model = NULL;
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":m:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        model = optarg;
                        break;
                case 'h':
                        ls_snapcmd_usage(stdout);
                        return LS_EXIT_OK;
                default:
                        return ls_cli_bad_option("snapshot", c, argv);
                }
        }
        if (optind >= argc)
                return ls_cli_usage_error("snapshot",
                                          "expected a subcommand: inspect");
        if (strcmp(argv[optind], "inspect"))
                return ls_cli_usage_error("snapshot",
                                          "unknown subcommand '%s' (expected "
                                          "inspect)",
                                          argv[optind]);
        if (optind + 2 != argc)
                return ls_cli_usage_error("snapshot",
                                          "inspect takes exactly one FILE");
        return ls_snapcmd_inspect(argv[optind + 1], model);
}
