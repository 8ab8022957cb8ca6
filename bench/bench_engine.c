/*
 * bench_engine.c - in-process benchmarks of leadscore's core on one core:
 *
 *   bench_engine engine   decode, apply and encode of generated Avro
 *                         inputs as `run` does them (ls_scorer_read, kept
 *                         with ls_input_dup, then ls_scorer_apply with a
 *                         worker's look-ahead, and the encode of every
 *                         output), and the engine alone on pre-decoded
 *                         inputs, in events/s
 *   bench_engine decode   leadscore's Avro decoder vs avro-c's generic
 *                         value API (avro_value_read) on the same bytes
 *   bench_engine memory   RSS growth and ls_shard_stats accounting per
 *                         lead for N leads, then ls_shard_save/load rates
 *                         in memory and through a file with fsync
 *
 * Every measurement prints one JSON line (bench_result); bench/report.py
 * aggregates the repetitions. Options: --events N --leads N --seed N
 * --reps N --partitions N --model FILE --tag TEXT --dir DIR.
 */
#include <avro.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_gen.h"
#include "bench_util.h"
#include "codec/ls_avro_int.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_scorer.h"
#include "leadscore/ls_workers.h"

typedef struct bench_opts_s {
        size_t events, leads, reps;
        uint64_t seed;
        int partitions;
        const char *model;
        const char *tag;
        const char *dir;
        char schema_dir[3800];
        char model_buf[3800];
} bench_opts_t;

static void bench_usage(void) {
        fprintf(stderr, "usage: bench_engine engine|decode|memory [--events N] "
                        "[--leads N] [--seed N]\n"
                        "       [--reps N] [--partitions N] [--model FILE] "
                        "[--tag TEXT] [--dir DIR]\n");
        exit(64);
}

static void bench_parse(int argc, char **argv, bench_opts_t *o) {
        const bench_opt_t opts[] = {
                {"--events", BENCH_OPT_SIZE, &o->events},
                {"--leads", BENCH_OPT_SIZE, &o->leads},
                {"--reps", BENCH_OPT_SIZE, &o->reps},
                {"--seed", BENCH_OPT_U64, &o->seed},
                {"--partitions", BENCH_OPT_INT, &o->partitions},
                {"--model", BENCH_OPT_STR, &o->model},
                {"--tag", BENCH_OPT_STR, &o->tag},
                {"--dir", BENCH_OPT_STR, &o->dir},
                {NULL, BENCH_OPT_STR, NULL},
        };

        memset(o, 0, sizeof(*o));
        o->events = 1000000;
        o->leads = 100000;
        o->reps = 5;
        o->seed = 1;
        o->partitions = 64;
        o->tag = "";
        o->dir = "/tmp";
        snprintf(o->schema_dir, sizeof(o->schema_dir), "%s/schemas",
                 bench_source_dir());
        snprintf(o->model_buf, sizeof(o->model_buf), "%s/examples/model.yaml",
                 bench_source_dir());
        o->model = o->model_buf;
        if (bench_opts_parse(argc, argv, 2, opts, NULL, NULL) ||
            o->partitions < 1 || !o->reps || !o->leads)
                bench_usage();
}

static ls_modelset_t *bench_model(const bench_opts_t *o) {
        ls_modelset_t *ms = NULL;
        char errstr[512];

        if (ls_modelset_load(o->model, &ms, errstr, sizeof(errstr))) {
                fprintf(stderr, "bench: %s\n", errstr);
                exit(1);
        }
        return ms;
}

static bench_rec_t *bench_recs(const bench_opts_t *o) {
        bench_gen_conf_t gc = bench_gen_conf_standard(o->events, o->leads,
                                                      o->seed, o->partitions);
        bench_rec_t *recs = bench_gen_all(o->schema_dir, &gc);

        if (!recs) {
                fprintf(stderr, "bench: cannot generate inputs\n");
                exit(1);
        }
        return recs;
}

static void bench_shards_new(const ls_modelset_t *ms, ls_shard_t **shards,
                             int n) {
        int p;

        for (p = 0; p < n; p++)
                if (!(shards[p] = ls_shard_new(ms))) {
                        fprintf(stderr, "bench: out of memory\n");
                        exit(1);
                }
}

static void bench_shards_destroy(ls_shard_t **shards, int n) {
        int p;

        for (p = 0; p < n; p++)
                ls_shard_destroy(shards[p]);
}

static char *bench_extra(const bench_opts_t *o, char *buf, size_t size) {
        snprintf(buf, size,
                 "\"events\":%zu,\"leads\":%zu,\"partitions\":%d,"
                 "\"tag\":\"%s\"",
                 o->events, o->leads, o->partitions, o->tag);
        return buf;
}

/* Prints o->events / @p seconds as @p metric of @p bench, in events/s. */
static void bench_events_rate(const bench_opts_t *o, const char *bench,
                              const char *metric, double seconds,
                              const char *extra) {
        bench_result(bench, metric, (double)o->events / seconds, "events/s",
                     extra);
}

/* ------------------------------------------------------------- engine */

#define BENCH_RUN 64 /* inputs a worker takes at a time, about */

/* The look-ahead of a worker (ls_workers.c, ls_pipeline_work.c): the
 * lead of input @p k of the run at @p first (its hash taken when it was
 * read), at @p stage, when there is one. */
static void bench_ahead(ls_shard_t **shards, const bench_rec_t *recs,
                        const uint64_t *hash, size_t first, size_t k, size_t n,
                        int stage) {
        if (k < n)
                ls_scorer_prefetch(hash[k], &shards[recs[first + k].partition],
                                   1, stage);
}

static int bench_cmd_engine(const void *arg) {
        const bench_opts_t *o = arg;
        ls_modelset_t *ms = bench_model(o);
        bench_rec_t *recs = bench_recs(o);
        ls_codec_conf_t cc = {.input_format = LS_FORMAT_AVRO,
                              .output_format = LS_FORMAT_AVRO,
                              .schema_dir = o->schema_dir};
        ls_codec_t *codec;
        ls_shard_t **shards = calloc((size_t)o->partitions, sizeof(*shards));
        ls_outbuf_t ob;
        ls_buf_t buf;
        ls_input_t *run[BENCH_RUN];
        uint64_t hash[BENCH_RUN], *hashes;
        char errstr[512], extra[512];
        size_t r, i, j;

        codec = ls_codec_new(&cc, errstr, sizeof(errstr));
        if (!codec || !shards) {
                fprintf(stderr, "bench: codec: %s\n", errstr);
                return 1;
        }
        ls_outbuf_init(&ob);
        ls_buf_init(&buf);
        bench_extra(o, extra, sizeof(extra));
        /* the pre-decoded inputs' lead hashes, as a read takes them */
        if (!(hashes = calloc(o->events, sizeof(*hashes)))) {
                fprintf(stderr, "bench: out of memory\n");
                return 1;
        }
        for (i = 0; i < o->events; i++)
                hashes[i] = ls_input_lead_hash(&recs[i].in);
        for (r = 0; r < o->reps; r++) {
                size_t outs = 0, bytes_out = 0, bad = 0;
                double t0, t1, t2, t3, c0, c1, c2, c3;
                /* decode + apply + encode, as the pipeline does: each
                 * input read (decoded and kept, as for the merge) a run
                 * of inputs before it is applied, its lead prefetched
                 * on the schedule of a worker (ls_workers.c) */
                bench_shards_new(ms, shards, o->partitions);
                c0 = bench_cpu();
                t0 = bench_now();
                for (i = 0; i < o->events; i += BENCH_RUN) {
                        size_t n = o->events - i < BENCH_RUN ? o->events - i
                                                             : BENCH_RUN,
                               k;

                        for (k = 0; k < n; k++) {
                                const bench_rec_t *rec = &recs[i + k];
                                const ls_record_t in = {.kind = rec->in.kind,
                                                        .value = rec->avro,
                                                        .len = rec->avro_len,
                                                        .timestamp = -1};
                                ls_input_t one;
                                ls_err_t err;

                                run[k] = NULL;
                                hash[k] = 0;
                                if (ls_scorer_read(codec, &in, &one, &err,
                                                   errstr, sizeof(errstr)) !=
                                            LS_V_APPLIED ||
                                    !(run[k] = ls_input_dup(&one)))
                                        bad++;
                                else
                                        hash[k] = ls_input_lead_hash(&one);
                        }
                        for (k = 0; k < n && k < 2 * LS_WORKERS_AHEAD; k++)
                                bench_ahead(shards, recs, hash, i, k, n, 0);
                        for (k = 0; k < n && k < LS_WORKERS_AHEAD; k++)
                                bench_ahead(shards, recs, hash, i, k, n, 1);
                        for (k = 0; k < n; k++) {
                                ls_err_t err;

                                bench_ahead(shards, recs, hash, i,
                                            k + 2 * LS_WORKERS_AHEAD, n, 0);
                                bench_ahead(shards, recs, hash, i,
                                            k + LS_WORKERS_AHEAD, n, 1);
                                if (!run[k])
                                        continue;
                                ls_outbuf_reset(&ob);
                                if (ls_scorer_apply(
                                            run[k],
                                            &shards[recs[i + k].partition], &ob,
                                            1, &err, errstr,
                                            sizeof(errstr)) >= LS_V_OVERSIZED)
                                        bad++;
                                ls_free(run[k]);
                                for (j = 0; j < ob.n_outs; j++) {
                                        ls_buf_reset(&buf);
                                        ls_codec_encode_output(
                                                codec, "lead-scores", &ob,
                                                &ob.outs[j], &buf, errstr,
                                                sizeof(errstr));
                                        bytes_out += buf.len;
                                }
                                outs += ob.n_outs;
                        }
                }
                t1 = bench_now();
                c1 = bench_cpu();
                bench_shards_destroy(shards, o->partitions);
                if (bad) {
                        fprintf(stderr,
                                "bench: %zu inputs rejected: "
                                "%s\n",
                                bad, errstr);
                        return 1;
                }

                /* the engine alone on pre-decoded inputs */
                bench_shards_new(ms, shards, o->partitions);
                c2 = bench_cpu();
                t2 = bench_now();
                for (i = 0; i < o->events; i++) {
                        /* with the look-ahead of a worker, as above */
                        if (i + 2 * LS_WORKERS_AHEAD < o->events)
                                ls_shard_prefetch(
                                        shards[recs[i + 2 * LS_WORKERS_AHEAD]
                                                       .partition],
                                        hashes[i + 2 * LS_WORKERS_AHEAD], 0);
                        if (i + LS_WORKERS_AHEAD < o->events)
                                ls_shard_prefetch(
                                        shards[recs[i + LS_WORKERS_AHEAD]
                                                       .partition],
                                        hashes[i + LS_WORKERS_AHEAD], 1);
                        ls_outbuf_reset(&ob);
                        ls_shard_apply(shards[recs[i].partition], &recs[i].in,
                                       &ob, errstr, sizeof(errstr));
                }
                t3 = bench_now();
                c3 = bench_cpu();
                bench_shards_destroy(shards, o->partitions);

                bench_events_rate(o, "engine", "full_events_per_s", t1 - t0,
                                  extra);
                bench_events_rate(o, "engine", "apply_events_per_s", t3 - t2,
                                  extra);
                bench_events_rate(o, "engine", "full_events_per_cpu_s", c1 - c0,
                                  extra);
                bench_events_rate(o, "engine", "apply_events_per_cpu_s",
                                  c3 - c2, extra);
                bench_result("engine", "outputs_per_input",
                             (double)outs / (double)o->events, "ratio", extra);
                bench_result("engine", "output_bytes_avg",
                             outs ? (double)bytes_out / (double)outs : 0,
                             "bytes", extra);
        }
        ls_outbuf_free(&ob);
        ls_buf_free(&buf);
        ls_codec_destroy(codec);
        free(hashes);
        free(shards);
        bench_recs_free(recs, o->events);
        ls_modelset_destroy(ms);
        return 0;
}

/* ------------------------------------------------------------- decode */

static int bench_cmd_decode(const void *arg) {
        const bench_opts_t *o = arg;
        bench_rec_t *recs = bench_recs(o);
        ls_avro_scratch_t sc;
        avro_schema_t s_event = NULL, s_profile = NULL;
        avro_value_iface_t *i_event, *i_profile;
        avro_value_t v_event, v_profile;
        avro_reader_t rd;
        char errstr[512], extra[512], path[4096];
        size_t r, i, in_bytes = 0, sink = 0;
        FILE *fp;
        char *text;
        long n;
        const char *names[2] = {"lead_event.avsc", "lead_profile.avsc"};
        avro_schema_t *sp[2] = {&s_event, &s_profile};
        int k;

        for (k = 0; k < 2; k++) {
                snprintf(path, sizeof(path), "%s/%s", o->schema_dir, names[k]);
                fp = fopen(path, "rb");
                if (!fp)
                        return 1;
                fseek(fp, 0, SEEK_END);
                n = ftell(fp);
                fseek(fp, 0, SEEK_SET);
                text = calloc(1, (size_t)n + 1);
                if (!text || fread(text, 1, (size_t)n, fp) != (size_t)n)
                        return 1;
                fclose(fp);
                if (avro_schema_from_json_length(text, (size_t)n, sp[k]))
                        return 1;
                free(text);
        }
        i_event = avro_generic_class_from_schema(s_event);
        i_profile = avro_generic_class_from_schema(s_profile);
        avro_generic_value_new(i_event, &v_event);
        avro_generic_value_new(i_profile, &v_profile);
        rd = avro_reader_memory("", 0);
        ls_avro_scratch_init(&sc);
        for (i = 0; i < o->events; i++)
                in_bytes += recs[i].avro_len;
        bench_extra(o, extra, sizeof(extra));
        snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
                 ",\"avg_record_bytes\":%.1f",
                 (double)in_bytes / (double)o->events);

        for (r = 0; r < o->reps; r++) {
                double t0, t1, t2, c0, c1, c2;
                ls_input_t in;

                c0 = bench_cpu();
                t0 = bench_now();
                for (i = 0; i < o->events; i++) {
                        if (ls_avro_decode(&sc, recs[i].in.kind, recs[i].avro,
                                           recs[i].avro_len, 0, &in, errstr,
                                           sizeof(errstr))) {
                                fprintf(stderr, "bench: decode: %s\n", errstr);
                                return 1;
                        }
                        sink += in.n_fields + (size_t)in.time;
                }
                t1 = bench_now();
                c1 = bench_cpu();
                /* avro-c: read into a generic value and fetch every field,
                 * which is what building an ls_input_t needs. */
                for (i = 0; i < o->events; i++) {
                        avro_value_t *v = recs[i].in.kind == LS_INPUT_EVENT
                                                  ? &v_event
                                                  : &v_profile;
                        avro_value_t f, e, br;
                        const char *s;
                        size_t sl, cnt, j;
                        int64_t t;
                        int disc;

                        avro_value_reset(v);
                        avro_reader_memory_set_source(
                                rd, (const char *)recs[i].avro,
                                recs[i].avro_len);
                        if (avro_value_read(rd, v)) {
                                fprintf(stderr, "bench: avro-c: %s\n",
                                        avro_strerror());
                                return 1;
                        }
                        avro_value_get_by_index(v, 0, &f, NULL);
                        avro_value_get_string(&f, &s, &sl);
                        sink += sl;
                        if (recs[i].in.kind == LS_INPUT_EVENT) {
                                avro_value_get_by_index(v, 1, &f, NULL);
                                avro_value_get_string(&f, &s, &sl);
                                avro_value_get_by_index(v, 2, &f, NULL);
                                avro_value_get_string(&f, &s, &sl);
                                avro_value_get_by_index(v, 3, &f, NULL);
                                avro_value_get_long(&f, &t);
                                avro_value_get_by_index(v, 4, &f, NULL);
                                avro_value_get_discriminant(&f, &disc);
                                if (disc == 1) {
                                        avro_value_get_current_branch(&f, &br);
                                        avro_value_get_string(&br, &s, &sl);
                                }
                                avro_value_get_by_index(v, 5, &f, NULL);
                        } else {
                                avro_value_get_by_index(v, 1, &f, NULL);
                                avro_value_get_long(&f, &t);
                                avro_value_get_by_index(v, 2, &f, NULL);
                        }
                        avro_value_get_size(&f, &cnt);
                        for (j = 0; j < cnt; j++) {
                                const char *key;
                                avro_value_get_by_index(&f, j, &e, &key);
                                avro_value_get_string(&e, &s, &sl);
                                sink += sl;
                        }
                        sink += (size_t)t;
                }
                t2 = bench_now();
                c2 = bench_cpu();
                bench_events_rate(o, "decode", "leadscore_events_per_cpu_s",
                                  c1 - c0, extra);
                bench_events_rate(o, "decode", "avroc_events_per_cpu_s",
                                  c2 - c1, extra);
                bench_events_rate(o, "decode", "leadscore_events_per_s",
                                  t1 - t0, extra);
                bench_events_rate(o, "decode", "avroc_events_per_s", t2 - t1,
                                  extra);
                bench_result("decode", "ratio_leadscore_avroc",
                             (t2 - t1) / (t1 - t0), "ratio", extra);
        }
        if (sink == 42)
                fprintf(stderr, "\n");
        ls_avro_scratch_free(&sc);
        avro_reader_free(rd);
        avro_value_decref(&v_event);
        avro_value_decref(&v_profile);
        avro_value_iface_decref(i_event);
        avro_value_iface_decref(i_profile);
        avro_schema_decref(s_event);
        avro_schema_decref(s_profile);
        bench_recs_free(recs, o->events);
        return 0;
}

/* ---------------------------------------------------- memory, snapshot */

static int bench_write_file(const char *path, const void *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const char *p = data;

        if (fd < 0)
                return -1;
        while (len > 0) {
                ssize_t w = write(fd, p, len);
                if (w <= 0) {
                        close(fd);
                        return -1;
                }
                p += w;
                len -= (size_t)w;
        }
        if (fsync(fd)) {
                close(fd);
                return -1;
        }
        return close(fd);
}

static int bench_read_file(const char *path, ls_buf_t *buf) {
        int fd = open(path, O_RDONLY);
        struct stat st;

        if (fd < 0 || fstat(fd, &st))
                return -1;
        ls_buf_reset(buf);
        if (ls_buf_reserve(buf, (size_t)st.st_size)) {
                close(fd);
                return -1;
        }
        while (buf->len < (size_t)st.st_size) {
                ssize_t n = read(fd, buf->data + buf->len,
                                 (size_t)st.st_size - buf->len);
                if (n <= 0) {
                        close(fd);
                        return -1;
                }
                buf->len += (size_t)n;
        }
        return close(fd);
}

static int bench_cmd_memory(const void *arg) {
        const bench_opts_t *o = arg;
        ls_modelset_t *ms = bench_model(o);
        bench_gen_conf_t gc =
                bench_gen_conf_standard(o->leads, o->leads, o->seed, 1);
        bench_rng_t rng = {o->seed};
        bench_rec_t rec;
        ls_shard_t *shard;
        ls_shard_stats_t st;
        ls_outbuf_t ob;
        ls_buf_t img, fbuf;
        char errstr[512], extra[512], path[4096];
        size_t rss0, rss1, i, r;
        double t0, t1, per_lead;

        ls_outbuf_init(&ob);
        ls_buf_init(&img);
        ls_buf_init(&fbuf);
        snprintf(extra, sizeof(extra), "\"leads\":%zu,\"models\":%zu", o->leads,
                 ms->n_models);

        rss0 = bench_rss();
        shard = ls_shard_new(ms);
        t0 = bench_now();
        for (i = 0; i < o->leads; i++) {
                /* one realistic input per lead, each lead new */
                bench_gen_one(NULL, &gc, &rng, i, -1, NULL, &rec);
                snprintf(rec.lead_id, sizeof(rec.lead_id), "lead-%zu", i);
                if (rec.in.kind == LS_INPUT_EVENT)
                        snprintf(rec.event_id, sizeof(rec.event_id), "e%zu", i);
                bench_rec_fix(&rec);
                ls_outbuf_reset(&ob);
                if (ls_shard_apply(shard, &rec.in, &ob, errstr,
                                   sizeof(errstr)) == LS_ERR_NOMEM) {
                        fprintf(stderr, "bench: %s\n", errstr);
                        return 1;
                }
        }
        t1 = bench_now();
        ls_outbuf_free(&ob);
        ls_outbuf_init(&ob);
        rss1 = bench_rss();
        ls_shard_stats(shard, &st);
        if (st.leads != o->leads)
                fprintf(stderr, "bench: %zu leads in the table, expected %zu\n",
                        st.leads, o->leads);
        per_lead = (double)(rss1 - rss0) / (double)st.leads;
        bench_result("memory", "create_leads_per_s",
                     (double)o->leads / (t1 - t0), "leads/s", extra);
        bench_result("memory", "rss_bytes_per_lead", per_lead, "bytes", extra);
        bench_result("memory", "rss_bytes_per_lead_per_model",
                     per_lead / (double)ms->n_models, "bytes", extra);
        bench_result("memory", "stats_state_bytes_per_lead",
                     (double)st.state_bytes / (double)st.leads, "bytes", extra);
        bench_result("memory", "stats_lead_model_bytes",
                     (double)st.lead_model_bytes, "bytes", extra);
        bench_result("memory", "timers_per_lead",
                     (double)st.timers / (double)st.leads, "ratio", extra);

        snprintf(path, sizeof(path), "%s/leadscore-bench-%d.snap", o->dir,
                 (int)getpid());
        for (r = 0; r < o->reps; r++) {
                ls_shard_t *back;
                double a, b, c, d, e, f;

                ls_buf_reset(&img);
                a = bench_now();
                if (ls_shard_save(shard, &img)) {
                        fprintf(stderr, "bench: save: out of memory\n");
                        return 1;
                }
                b = bench_now();
                back = ls_shard_load(ms, img.data, img.len, errstr,
                                     sizeof(errstr));
                c = bench_now();
                if (!back) {
                        fprintf(stderr, "bench: load: %s\n", errstr);
                        return 1;
                }
                ls_shard_destroy(back);
                d = bench_now();
                ls_buf_reset(&img);
                if (ls_shard_save(shard, &img) ||
                    bench_write_file(path, img.data, img.len)) {
                        fprintf(stderr, "bench: cannot write %s\n", path);
                        return 1;
                }
                e = bench_now();
                if (bench_read_file(path, &fbuf) ||
                    !(back = ls_shard_load(ms, fbuf.data, fbuf.len, errstr,
                                           sizeof(errstr)))) {
                        fprintf(stderr, "bench: cannot restore %s\n", path);
                        return 1;
                }
                f = bench_now();
                ls_shard_destroy(back);
                bench_result("snapshot", "save_mem_leads_per_s",
                             (double)st.leads / (b - a), "leads/s", extra);
                bench_result("snapshot", "load_mem_leads_per_s",
                             (double)st.leads / (c - b), "leads/s", extra);
                bench_result("snapshot", "save_file_fsync_leads_per_s",
                             (double)st.leads / (e - d), "leads/s", extra);
                bench_result("snapshot", "load_file_leads_per_s",
                             (double)st.leads / (f - e), "leads/s", extra);
                bench_result("snapshot", "bytes_per_lead",
                             (double)img.len / (double)st.leads, "bytes",
                             extra);
        }
        unlink(path);
        ls_shard_destroy(shard);
        ls_buf_free(&img);
        ls_buf_free(&fbuf);
        ls_outbuf_free(&ob);
        ls_modelset_destroy(ms);
        return 0;
}

static const bench_cmd_t bench_cmds[] = {
        {"engine", bench_cmd_engine},
        {"decode", bench_cmd_decode},
        {"memory", bench_cmd_memory},
        {NULL, NULL},
};

int main(int argc, char **argv) {
        const bench_cmd_t *cmd = bench_cmd_find(argc, argv, bench_cmds);
        bench_opts_t o;

        if (!cmd)
                bench_usage();
        bench_parse(argc, argv, &o);
        return cmd->run(&o);
}
