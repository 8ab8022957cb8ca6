/*
 * snapshot_bench.c - snapshot write / restore speed and size per lead.
 *
 * Builds a shard of N leads (default 1,000,000) under a model file
 * (default examples/model.yaml), each lead with a few scored events, then
 * writes it with ls_snapshot_write() (encode + checksum + fsync + rename)
 * and restores it with ls_snapshot_restore() (read + verify + load), R
 * times each, and prints the medians:
 *
 *   bench_snapshot [--leads N] [--reps R] [--model FILE] [--dir DIR]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_snapshot.h"

#include "bench_util.h"

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                {"leads", required_argument, NULL, 'n'},
                {"reps", required_argument, NULL, 'r'},
                {"model", required_argument, NULL, 'm'},
                {"dir", required_argument, NULL, 'd'},
                {NULL, 0, NULL, 0},
        };
        const char *model = BENCH_SOURCE_DIR "/examples/model.yaml";
        const char *topics[2] = {"lead-events", "lead-profiles"};
        char dir[256] = "", path[4096], err[1024], lead[32], id[32];
        long leads = 1000000, reps = 3, i, r;
        ls_modelset_t *ms = NULL;
        ls_shard_t *shard, *back = NULL;
        ls_snapshot_meta_t meta;
        ls_outbuf_t ob;
        ls_buf_t scratch;
        ls_shard_stats_t st;
        double *wt, *rt, t, t_write, t_restore;
        int c;

        while ((c = getopt_long(argc, argv, "n:r:m:d:", longopts, NULL)) !=
               -1) {
                switch (c) {
                case 'n':
                        leads = strtol(optarg, NULL, 10);
                        break;
                case 'r':
                        reps = strtol(optarg, NULL, 10);
                        break;
                case 'm':
                        model = optarg;
                        break;
                case 'd':
                        snprintf(dir, sizeof(dir), "%s", optarg);
                        break;
                default:
                        fprintf(stderr, "usage: bench_snapshot [--leads N] "
                                        "[--reps R] [--model FILE] [--dir "
                                        "DIR]\n");
                        return 64;
                }
        }
        if (leads < 1 || reps < 1)
                return 64;
        if (!dir[0]) {
                snprintf(dir, sizeof(dir), "/tmp/ls_snapbench.XXXXXX");
                if (!mkdtemp(dir)) {
                        perror("mkdtemp");
                        return 1;
                }
        }
        if (ls_modelset_load(model, &ms, err, sizeof(err))) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        shard = ls_shard_new(ms);
        ls_outbuf_init(&ob);
        for (i = 0; i < leads * 3; i++) {
                ls_kv_t kv = {"url", "https://x.test/pricing"};
                ls_input_t in = {0};
                snprintf(lead, sizeof(lead), "lead-%08ld", i % leads);
                snprintf(id, sizeof(id), "e%ld", i);
                in.kind = LS_INPUT_EVENT;
                in.lead_id = lead;
                in.event_id = id;
                in.event_type = i % 3 == 2 ? "webinar_attend" : "page_view";
                in.time = 1767225600000LL + i;
                in.fields = &kv;
                in.n_fields = 1;
                ls_outbuf_reset(&ob);
                ls_shard_apply(shard, &in, &ob, err, sizeof(err));
        }
        ls_outbuf_free(&ob);
        ls_shard_stats(shard, &st);

        memset(&meta, 0, sizeof(meta));
        snprintf(meta.model_version, sizeof(meta.model_version), "%s",
                 ms->version);
        snprintf(meta.group, sizeof(meta.group), "bench");
        snprintf(meta.topics[0], sizeof(meta.topics[0]), "%s", topics[0]);
        snprintf(meta.topics[1], sizeof(meta.topics[1]), "%s", topics[1]);
        meta.offsets[0] = 3 * leads;
        meta.offsets[1] = LS_SNAPSHOT_EARLIEST;
        ls_buf_init(&scratch);
        wt = calloc((size_t)reps, sizeof(*wt));
        rt = calloc((size_t)reps, sizeof(*rt));
        for (r = 0; r < reps; r++) {
                t = bench_now();
                if (ls_snapshot_write(dir, &meta, shard, 1, &scratch, path,
                                      sizeof(path), err, sizeof(err))) {
                        fprintf(stderr, "%s\n", err);
                        return 1;
                }
                wt[r] = bench_now() - t;
                t = bench_now();
                if (ls_snapshot_restore(dir, "bench", 0, topics, ms, NULL, NULL,
                                        &meta, &back, NULL, 0, err,
                                        sizeof(err))) {
                        fprintf(stderr, "%s\n", err);
                        return 1;
                }
                rt[r] = bench_now() - t;
                ls_shard_destroy(back);
        }
        t_write = bench_median(wt, (size_t)reps);
        t_restore = bench_median(rt, (size_t)reps);
        printf("leads %zu, models %zu, file %s\n", st.leads, ms->n_models,
               path);
        printf("snapshot file bytes %zu (%.1f bytes/lead; state in memory "
               "%zu bytes)\n",
               scratch.len, (double)scratch.len / (double)st.leads,
               st.state_bytes);
        printf("write (encode+sha256+fsync+rename) median %.3f s = %.0f "
               "leads/s\n",
               t_write, (double)st.leads / t_write);
        printf("restore (read+verify+load) median %.3f s = %.0f leads/s\n",
               t_restore, (double)st.leads / t_restore);
        unlink(path);
        rmdir(dir);
        free(wt);
        free(rt);
        ls_buf_free(&scratch);
        ls_shard_destroy(shard);
        ls_modelset_destroy(ms);
        return 0;
}
