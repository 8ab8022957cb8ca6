/*
 * ls_replay.c - re-scores history deterministically (see ls_replay.h and
 * docs/REPLAY.md): the replay's lifecycle, its first error, its progress
 * line, and the scoring of one record that topic and file input share.
 *
 * Topic input (ls_replay_topics.c): the driving thread reads every
 * partition of the topics by assignment, between the bounds resolved at
 * start, into one record array per partition (value bytes in an arena). A
 * partition whose topics have all reached their end bound is queued;
 * worker threads, each owning a whole partition at a time, put its records
 * in the order `leadscore run` applies them (ls_merge.h: each topic in
 * offset order, the two merged by event time; the Kafka message timestamp
 * plays no part), then score them with their own codec and the
 * partition's shard(s). File input (ls_replay_files.c): the driving
 * thread reads the files in the order given into one shard.
 *
 * Output (ls_replay_out.c): each partition's encoded outputs collect in
 * its own buffers and an ordered writer puts them out in partition order,
 * whatever the thread timing. Avro files are written by the codec's
 * container writer (ls_container.h). State: ls_replay_state.c.
 */
#include "replay/ls_replay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leadscore/ls_registry.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_json.h"

/* ---------------------------------------------------------------- utils */

double ls_rp_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ls_rp_fail(ls_replay_t *rp, ls_err_t err, const char *fmt, ...) {
        va_list ap;

        pthread_mutex_lock(&rp->mu);
        if (!rp->failed) {
                rp->failed = 1;
                rp->fail_err = err;
                va_start(ap, fmt);
                vsnprintf(rp->fail_str, sizeof(rp->fail_str), fmt, ap);
                va_end(ap);
        }
        pthread_cond_broadcast(&rp->cond);
        pthread_mutex_unlock(&rp->mu);
}

int ls_rp_failed(ls_replay_t *rp) {
        int f;

        pthread_mutex_lock(&rp->mu);
        f = rp->failed;
        pthread_mutex_unlock(&rp->mu);
        return f;
}

ls_err_t ls_replay_bound_parse(const char *s, ls_replay_bound_t *bound,
                               char *errstr, size_t errstr_size) {
        char *end;
        long long v;
        int64_t ms;

        if (!s || !*s)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "empty bound");
        if (!strcmp(s, "earliest")) {
                bound->kind = LS_REPLAY_EARLIEST;
                bound->value = 0;
                return LS_OK;
        }
        if (!strcmp(s, "latest")) {
                bound->kind = LS_REPLAY_LATEST;
                bound->value = 0;
                return LS_OK;
        }
        if (*s >= '0' && *s <= '9') {
                errno = 0;
                v = strtoll(s, &end, 10);
                if (errno == 0 && (*end == '\0' || !strcmp(end, "ms"))) {
                        bound->kind = *end ? LS_REPLAY_TIME : LS_REPLAY_OFFSET;
                        bound->value = v;
                        return LS_OK;
                }
        }
        if (ls_json_parse_time(s, &ms) == LS_OK) {
                bound->kind = LS_REPLAY_TIME;
                bound->value = ms;
                return LS_OK;
        }
        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                         "'%s' is not earliest, latest, an offset, "
                         "<ms>ms or an RFC 3339 time",
                         s);
}

/* ------------------------------------------------------------- progress */

void ls_rp_progress(ls_replay_t *rp, int force) {
        double now = ls_rp_now(), el, rate;
        uint64_t done, total;
        char eta[32] = "";

        if (!rp->conf.progress || (!force && now - rp->last_draw < 0.5))
                return;
        rp->last_draw = now;
        el = now - rp->t0;
        done = rp->total_is_bytes ? rp->done_bytes : atomic_load(&rp->scored);
        total = rp->total;
        rate = el > 0 ? (double)atomic_load(&rp->scored) / el : 0;
        if (total > 0 && done > 0 && done <= total && el > 0)
                snprintf(eta, sizeof(eta), " ETA %.0fs",
                         el * (double)(total - done) / (double)done);
        if (rp->total_is_bytes)
                fprintf(stderr,
                        "\rreplay: %" PRIu64 " records, %.1f/%.1f MB (%.0f%%) "
                        "%.0f rec/s%s\033[K",
                        (uint64_t)atomic_load(&rp->scored), done / 1e6,
                        total / 1e6, total ? 100.0 * done / total : 100.0, rate,
                        eta);
        else
                fprintf(stderr,
                        "\rreplay: read %" PRIu64 ", scored %" PRIu64
                        "/%" PRIu64 " (%.0f%%) %.0f rec/s%s\033[K",
                        rp->records, done, total,
                        total ? 100.0 * done / total : 100.0, rate, eta);
        rp->drawn = 1;
}

static void ls_rp_progress_end(ls_replay_t *rp) {
        if (rp->drawn) {
                ls_rp_progress(rp, 1);
                fputc('\n', stderr);
                rp->drawn = 0;
        }
}

/* -------------------------------------------------------------- scoring */

void ls_rp_report_bad(const ls_rp_loc_t *loc, const char *errstr) {
        if (loc->partition >= 0)
                fprintf(stderr, "%s [%" PRId32 "] offset %" PRId64 ": %s\n",
                        loc->name, loc->partition, loc->pos, errstr);
        else if (loc->unit)
                fprintf(stderr, "%s: %s %" PRId64 ": %s\n", loc->name,
                        loc->unit, loc->pos, errstr);
        else
                fprintf(stderr, "%s:%" PRId64 ": %s\n", loc->name, loc->pos,
                        errstr);
}

int ls_rp_feed(ls_replay_t *rp, ls_rp_worker_t *w, ls_rp_part_t *part,
               ls_codec_t *codec, const ls_record_t *rec,
               const ls_rp_loc_t *loc) {
        char errstr[512];
        ls_input_t in;
        ls_verdict_t v;
        ls_err_t err;
        size_t s;

        for (s = 0; s < rp->conf.n_ms; s++)
                ls_outbuf_reset(&w->ob[s]);
        /* ls_scorer_feed() in its two halves, so that an observer sees the
         * decoded input */
        v = ls_scorer_read(codec, rec, &in, &err, errstr, sizeof(errstr));
        if (v == LS_V_APPLIED)
                v = ls_scorer_apply(&in, part->shard, w->ob, rp->conf.n_ms,
                                    &err, errstr, sizeof(errstr));
        if (v == LS_V_ERROR) {
                if (loc->partition >= 0)
                        ls_rp_fail(rp, err,
                                   "%s [%" PRId32 "] offset %" PRId64 ": %s",
                                   loc->name, loc->partition, loc->pos, errstr);
                else
                        ls_rp_fail(rp, err, "%s: %s", loc->name, errstr);
                return -1;
        }
        if (ls_rp_emit(rp, w, part))
                return -1;
        if (rp->conf.observe &&
            (err = rp->conf.observe(rp->conf.observe_opaque, v,
                                    v == LS_V_APPLIED ? &in : NULL,
                                    &w->ob[0])) != LS_OK) {
                if (loc->partition >= 0)
                        ls_rp_fail(rp, err,
                                   "%s [%" PRId32 "] offset %" PRId64 ": %s",
                                   loc->name, loc->partition, loc->pos,
                                   ls_err2str(err));
                else
                        ls_rp_fail(rp, err, "%s: %s", loc->name,
                                   ls_err2str(err));
                return -1;
        }
        part->verdicts.n[v]++;
        if (ls_verdict_rejected(v))
                ls_rp_report_bad(loc, errstr);
        return 0;
}

int ls_rp_feed_end(ls_replay_t *rp, ls_rp_worker_t *w, ls_rp_part_t *part) {
        ls_err_t err = LS_OK;
        size_t s;

        if (rp->conf.advance_to <= 0)
                return 0;
        for (s = 0; s < rp->conf.n_ms && !err; s++) {
                ls_outbuf_reset(&w->ob[s]);
                err = ls_shard_advance(part->shard[s], rp->conf.advance_to,
                                       &w->ob[s]);
        }
        if (err) {
                ls_rp_fail(rp, err,
                           "partition %" PRId32 ": advancing to %" PRId64
                           ": %s",
                           part->p, rp->conf.advance_to, ls_err2str(err));
                return -1;
        }
        if (ls_rp_emit(rp, w, part))
                return -1;
        if (rp->conf.observe &&
            (err = rp->conf.observe(rp->conf.observe_opaque, LS_V_TICK, NULL,
                                    &w->ob[0])) != LS_OK) {
                ls_rp_fail(rp, err, "partition %" PRId32 ": %s", part->p,
                           ls_err2str(err));
                return -1;
        }
        return 0;
}

ls_err_t ls_rp_worker_init(ls_replay_t *rp, ls_rp_worker_t *w, char *errstr,
                           size_t errstr_size) {
        ls_codec_conf_t cc;
        ls_registry_conf_t rconf;

        memset(w, 0, sizeof(*w));
        w->rp = rp;
        ls_outbuf_init(&w->ob[0]);
        ls_outbuf_init(&w->ob[1]);
        ls_buf_init(&w->enc);
        memset(&cc, 0, sizeof(cc));
        cc.input_format = rp->conf.input_format;
        cc.output_format = rp->conf.output_format;
        cc.schema_dir = rp->conf.schema_dir;
        cc.max_record_bytes = rp->conf.max_record_bytes;
        if (rp->conf.registry)
                rconf = *rp->conf.registry;
        else
                memset(&rconf, 0, sizeof(rconf));
        rconf.url = rp->conf.registry_url;
        if (!(w->codec = ls_registry_codec_new(&cc, &rconf, NULL, errstr,
                                               errstr_size)))
                return LS_ERR_INVALID;
        cc.input_format = LS_FORMAT_JSON;
        if (!(w->jcodec = ls_registry_codec_new(&cc, &rconf, NULL, errstr,
                                                errstr_size)))
                return LS_ERR_INVALID;
        return LS_OK;
}

void ls_rp_worker_free(ls_rp_worker_t *w) {
        ls_codec_destroy(w->codec);
        ls_codec_destroy(w->jcodec);
        ls_outbuf_free(&w->ob[0]);
        ls_outbuf_free(&w->ob[1]);
        ls_buf_free(&w->enc);
}

/* ------------------------------------------------------------ lifecycle */

static FILE *ls_rp_open_out(const char *path, int *is_std) {
        int fd;
        FILE *fp;

        if (!path || !strcmp(path, "-")) {
                *is_std = 1;
                if ((fd = dup(1)) < 0)
                        return NULL;
                if (!(fp = fdopen(fd, "wb")))
                        close(fd);
                return fp;
        }
        return fopen(path, "wb");
}

ls_replay_t *ls_replay_new(const ls_replay_conf_t *conf, char *errstr,
                           size_t errstr_size) {
        ls_replay_t *rp;
        int is_std = 0;

        if (conf->n_ms < 1 || conf->n_ms > 2 || !conf->ms[0] ||
            (conf->n_ms == 2 && !conf->ms[1])) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "replay: one or two model sets needed");
                return NULL;
        }
        if (!conf->topic_events == !conf->n_inputs) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "replay: give either topics or input files");
                return NULL;
        }
        rp = ls_calloc(1, sizeof(*rp));
        if (!rp) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        rp->conf = *conf;
        pthread_mutex_init(&rp->mu, NULL);
        pthread_cond_init(&rp->cond, NULL);
        atomic_init(&rp->scored, 0);
        atomic_init(&rp->dr_failed, 0);
        if (rp->conf.input_format == 0)
                rp->conf.input_format = LS_FORMAT_JSON;
        if (rp->conf.output_format == 0)
                rp->conf.output_format = LS_FORMAT_JSON;

        switch (conf->sink) {
        case LS_REPLAY_SINK_FILE:
        case LS_REPLAY_SINK_FINAL:
                rp->out_name[0] = conf->output && strcmp(conf->output, "-")
                                          ? conf->output
                                          : "<stdout>";
                if (!(rp->out[0] = ls_rp_open_out(conf->output, &is_std))) {
                        ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: %s",
                                  rp->out_name[0], strerror(errno));
                        goto fail;
                }
                rp->out_std = is_std;
                if (conf->sink == LS_REPLAY_SINK_FINAL ||
                    rp->conf.output_format == LS_FORMAT_JSON)
                        break;
                if (rp->conf.output_format != LS_FORMAT_AVRO) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "file output is json or avro");
                        goto fail;
                }
                if (!conf->alerts_output) {
                        /* out.avro -> out-alerts.avro */
                        const char *o = conf->output ? conf->output : "-";
                        size_t n = strlen(o);
                        ls_buf_t b;
                        ls_buf_init(&b);
                        if (n > 5 && !strcmp(o + n - 5, ".avro"))
                                n -= 5;
                        if (ls_buf_append(&b, o, n) ||
                            ls_buf_append(&b, "-alerts.avro", 12)) {
                                ls_buf_free(&b);
                                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                          "out of memory");
                                goto fail;
                        }
                        rp->alerts_path = b.data;
                }
                rp->out_name[1] = conf->alerts_output ? conf->alerts_output
                                                      : rp->alerts_path;
                if (!(rp->out[1] = fopen(rp->out_name[1], "wb"))) {
                        ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: %s",
                                  rp->out_name[1], strerror(errno));
                        goto fail;
                }
                if (ls_rp_avro_header(rp, 0, "score_update.avsc", errstr,
                                      errstr_size) ||
                    ls_rp_avro_header(rp, 1, "alert.avsc", errstr, errstr_size))
                        goto fail;
                break;
        case LS_REPLAY_SINK_TOPIC:
                if (!conf->output_topic) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "--output-topic: not set");
                        goto fail;
                }
                if (!(rp->producer = ls_rp_client(rp, RD_KAFKA_PRODUCER, errstr,
                                                  errstr_size)))
                        goto fail;
                break;
        default:
                break;
        }
        return rp;
fail:
        ls_replay_destroy(rp);
        return NULL;
}

ls_err_t ls_replay_run(ls_replay_t *rp, char *errstr, size_t errstr_size) {
        ls_err_t err;
        ls_shard_stats_t st;
        int32_t p;
        int k, v;

        rp->t0 = rp->last_draw = ls_rp_now();
        if (rp->conf.topic_events)
                err = ls_rp_run_topics(rp, errstr, errstr_size);
        else
                err = ls_rp_run_files(rp, errstr, errstr_size);
        ls_rp_progress_end(rp);
        if (!err && rp->failed)
                err = ls_seterr(errstr, errstr_size, rp->fail_err, "%s",
                                rp->fail_str);
        if (!err && rp->conf.sink == LS_REPLAY_SINK_FINAL)
                err = ls_rp_write_final(rp, errstr, errstr_size);
        for (k = 0; k < 2; k++)
                if (rp->out[k] && fflush(rp->out[k]) != 0 && !err)
                        err = ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                        "%s: write error: %s", rp->out_name[k],
                                        strerror(errno));
        if (rp->producer) {
                double until = ls_rp_now() + 60;
                while (rd_kafka_outq_len(rp->producer) > 0 &&
                       ls_rp_now() < until)
                        rd_kafka_flush(rp->producer, 500);
                if (!err && rd_kafka_outq_len(rp->producer) > 0)
                        err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                        "%d output records not delivered "
                                        "within 60 s",
                                        rd_kafka_outq_len(rp->producer));
                if (!err && atomic_load(&rp->dr_failed))
                        err = ls_seterr(errstr, errstr_size, LS_ERR_KAFKA,
                                        "%" PRIu64 " output records not "
                                        "delivered; first: %s",
                                        (uint64_t)atomic_load(&rp->dr_failed),
                                        rp->dr_err);
        }
        if (!err && rp->conf.save_state)
                err = ls_rp_save_state(rp, errstr, errstr_size);

        memset(&rp->stats, 0, sizeof(rp->stats));
        rp->stats.records = rp->records;
        rp->stats.out_of_bounds = rp->out_of_bounds;
        rp->stats.partitions = rp->n_parts;
        for (p = 0; p < rp->n_parts; p++) {
                ls_rp_part_t *part = &rp->parts[p];
                for (v = 0; v < LS_V__CNT; v++)
                        rp->stats.verdicts.n[v] += part->verdicts.n[v];
                rp->stats.outputs += part->outputs;
                if (part->shard[0]) {
                        ls_shard_stats(part->shard[0], &st);
                        rp->stats.leads += st.leads;
                        rp->stats.suppressed += st.suppressed_burst +
                                                st.suppressed_unopened +
                                                st.suppressed_match;
                        rp->stats.reversed += st.reversed;
                }
        }
        rp->stats.bad = ls_verdicts_rejected(&rp->stats.verdicts);
        rp->stats.applied = rp->stats.verdicts.n[LS_V_APPLIED];
        rp->stats.duplicates = rp->stats.verdicts.n[LS_V_DUPLICATE];
        rp->stats.stale = rp->stats.verdicts.n[LS_V_STALE];
        rp->stats.read_seconds = rp->t_read > 0 ? rp->t_read - rp->t0 : 0;
        rp->stats.seconds = ls_rp_now() - rp->t0;
        return err;
}

void ls_replay_stats(const ls_replay_t *rp, ls_replay_stats_t *stats) {
        *stats = rp->stats;
}

int32_t ls_replay_n_shards(const ls_replay_t *rp) {
        return rp->n_parts;
}

const ls_shard_t *ls_replay_shard(const ls_replay_t *rp, int32_t p,
                                  size_t set) {
        if (p < 0 || p >= rp->n_parts || set >= rp->conf.n_ms)
                return NULL;
        return rp->parts[p].shard[set];
}

const ls_modelset_t *ls_replay_modelset(const ls_replay_t *rp, size_t set) {
        return set < rp->conf.n_ms ? rp->conf.ms[set] : NULL;
}

void ls_replay_destroy(ls_replay_t *rp) {
        int32_t p;
        int i, k;

        if (!rp)
                return;
        for (i = 0; i < rp->n_workers; i++)
                ls_rp_worker_free(&rp->workers[i]);
        ls_free(rp->workers);
        for (p = 0; p < rp->n_parts; p++) {
                ls_rp_part_t *part = &rp->parts[p];
                ls_free(part->recs);
                ls_buf_free(&part->data);
                for (k = 0; k < 2; k++) {
                        ls_buf_free(&part->out[k]);
                        ls_buf_free(&part->blk[k]);
                        if (part->shard[k])
                                ls_shard_destroy(part->shard[k]);
                }
        }
        ls_free(rp->parts);
        ls_free(rp->queue);
        for (k = 0; k < 2; k++)
                if (rp->out[k])
                        fclose(rp->out[k]);
        ls_free(rp->alerts_path);
        if (rp->producer)
                rd_kafka_destroy(rp->producer);
        pthread_mutex_destroy(&rp->mu);
        pthread_cond_destroy(&rp->cond);
        ls_free(rp);
}
