/*
 * test_workers.c - the worker pool of `leadscore run` (ls_workers.h),
 * hammered from several threads: each lane's jobs run one at a time, in
 * submission order, on one worker, and come back in that order; what the
 * owner writes before a submit is seen by the worker and what the worker
 * writes is seen after done; quiesce waits for every job and idle call;
 * destroy runs what is still queued. Then the engine and the codec on
 * the workers: the example model scored in lanes by three threads with
 * jitter gives the same bytes per lane as one thread inline.
 *
 * Built and run under ThreadSanitizer by scripts/tsan.sh (docs/TESTING.md),
 * which is why it links the core and the pool only, not librdkafka.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_workers.h"

#define LANES 13
#define MAX_THREADS 4

/* ------------------------------------------------------------ the pool */

typedef struct hjob_s {
        ls_job_t j;
        uint64_t seq;     /* per lane, written by the owner before submit */
        uint64_t payload; /* owner's data: seq * 3 */
        uint64_t result;  /* the worker's: payload + 1 */
        int worker;       /* who ran it */
        int ahead;        /* the worker's: stages looked ahead at (bits) */
} hjob_t;

typedef struct hctx_s {
        atomic_int running[LANES]; /* jobs of a lane running now */
        uint64_t next[LANES];      /* per lane, plain: the lane's owner */
        uint64_t total[LANES];     /* plain: lane exclusive */
        atomic_int idles;
        atomic_int ran;
        atomic_int threads; /* of the pool */
        atomic_int early;   /* jobs looked ahead at every stage */
} hctx_t;

static void h_run(void *opaque, int worker, ls_job_t *job) {
        hctx_t *c = opaque;
        hjob_t *hj = (hjob_t *)job;
        uint32_t lane = job->lane;

        /* one job of a lane at a time */
        assert_int_equal(atomic_fetch_add(&c->running[lane], 1), 0);
        assert_int_equal(hj->seq, c->next[lane]); /* in order */
        c->next[lane]++;
        c->total[lane] += hj->payload;
        hj->result = hj->payload + 1;
        hj->worker = worker;
        atomic_fetch_add(&c->ran, 1);
        atomic_fetch_sub(&c->running[lane], 1);
}

/* The look-ahead: before the job runs, on its worker, each stage once,
 * in order. */
static void h_ahead(void *opaque, int worker, ls_job_t *job, int stage) {
        hctx_t *c = opaque;
        hjob_t *hj = (hjob_t *)job;

        assert_int_equal(hj->result, 0); /* not run yet */
        assert_int_equal(worker, (int)(job->lane % atomic_load(&c->threads)));
        assert_true(stage >= 0 && stage < LS_WORKERS_STAGES);
        /* the stages before it, and not this one yet */
        assert_int_equal(hj->ahead, (1 << stage) - 1);
        hj->ahead |= 1 << stage;
        if (stage == LS_WORKERS_STAGES - 1)
                atomic_fetch_add(&c->early, 1);
}

static void h_idle(void *opaque, int worker) {
        (void)worker;
        atomic_fetch_add(&((hctx_t *)opaque)->idles, 1);
}

static ls_workers_t *h_pool(hctx_t *c, int threads, unsigned jitter) {
        ls_workers_conf_t wc;
        char err[256];
        ls_workers_t *w;

        memset(&wc, 0, sizeof(wc));
        wc.threads = threads;
        wc.run = h_run;
        wc.idle = h_idle;
        wc.ahead = h_ahead;
        wc.opaque = c;
        atomic_store(&c->threads, threads ? threads : 1);
        wc.jitter_us = jitter;
        wc.seed = 42;
        w = ls_workers_new(&wc, err, sizeof(err));
        if (!w)
                fail_msg("%s", err);
        assert_int_equal(ls_workers_threads(w), threads);
        return w;
}

/* Checks one job back from done: in lane order, on the lane's worker. */
static void h_back(hjob_t *hj, uint64_t *seen, int *lane_worker, int threads) {
        uint32_t lane = hj->j.lane;

        assert_int_equal(hj->seq, seen[lane]);
        seen[lane]++;
        assert_int_equal(hj->result, hj->payload + 1);
        /* looked ahead at every stage on a thread; never inline */
        assert_int_equal(hj->ahead, threads ? (1 << LS_WORKERS_STAGES) - 1 : 0);
        if (lane_worker[lane] < 0)
                lane_worker[lane] = hj->worker;
        assert_int_equal(hj->worker, lane_worker[lane]);
        assert_int_equal(hj->worker, threads ? (int)(lane % threads) : 0);
}

static void hammer(int threads, unsigned jitter, int n) {
        hctx_t c;
        ls_workers_t *w;
        hjob_t *jobs = calloc((size_t)n, sizeof(*jobs));
        uint64_t submitted[LANES] = {0}, seen[LANES] = {0};
        int lane_worker[LANES], i, back = 0;
        unsigned rnd = 7;

        assert_non_null(jobs);
        memset(&c, 0, sizeof(c));
        for (i = 0; i < LANES; i++) {
                lane_worker[i] = -1;
                atomic_init(&c.running[i], 0);
        }
        atomic_init(&c.early, 0);
        w = h_pool(&c, threads, jitter);
        for (i = 0; i < n; i++) {
                uint32_t lane = (uint32_t)rand_r(&rnd) % LANES;
                ls_job_t *list;

                jobs[i].seq = submitted[lane]++;
                jobs[i].payload = jobs[i].seq * 3;
                ls_workers_submit(w, lane, &jobs[i].j);
                /* hand over in batches of varying size, take what is
                 * done in between, sometimes waiting */
                if (rand_r(&rnd) % 97 == 0) {
                        ls_workers_kick(w);
                        list = ls_workers_done(w,
                                               rand_r(&rnd) % 3 == 0 ? 1 : 0);
                        for (; list; list = list->next, back++)
                                h_back((hjob_t *)list, seen, lane_worker,
                                       threads);
                }
                if (rand_r(&rnd) % 1009 == 0) {
                        /* quiesced: the lanes' state is the owner's */
                        ls_workers_quiesce(w);
                        for (lane = 0; lane < LANES; lane++) {
                                assert_int_equal(c.next[lane], submitted[lane]);
                                c.total[lane] += 0;
                        }
                }
        }
        while ((size_t)back < (size_t)n) {
                ls_job_t *list = ls_workers_done(w, -1);
                assert_non_null(list);
                for (; list; list = list->next, back++)
                        h_back((hjob_t *)list, seen, lane_worker, threads);
        }
        assert_int_equal(ls_workers_pending(w), 0);
        assert_null(ls_workers_done(w, -1)); /* none pending: no wait */
        ls_workers_quiesce(w);
        assert_true(atomic_load(&c.idles) > 0);
        assert_int_equal(atomic_load(&c.early), threads ? n : 0);
        for (i = 0; i < LANES; i++) {
                uint64_t want = 3 * (submitted[i] * (submitted[i] - 1) / 2);
                assert_int_equal(c.total[i], submitted[i] ? want : 0);
        }
        ls_workers_destroy(w);
        free(jobs);
}

static void test_order_inline(void **state) {
        (void)state;
        hammer(0, 0, 20000);
}

static void test_order_threads(void **state) {
        (void)state;
        hammer(2, 0, 200000);
        hammer(3, 0, 200000);
        hammer(MAX_THREADS, 20, 20000); /* jitter: other interleavings */
}

/* done() with a timeout returns when nothing comes; destroy runs what is
 * still queued and staged. */
static void test_wait_and_shutdown(void **state) {
        hctx_t c;
        ls_workers_t *w;
        hjob_t jobs[500];
        int i;

        (void)state;
        memset(&c, 0, sizeof(c));
        w = h_pool(&c, 3, 0);
        assert_null(ls_workers_done(w, 20)); /* nothing pending */
        memset(jobs, 0, sizeof(jobs));
        for (i = 0; i < 500; i++) {
                jobs[i].seq = c.next[i % LANES] + 0; /* set below */
        }
        {
                uint64_t sub[LANES] = {0};
                for (i = 0; i < 500; i++) {
                        jobs[i].seq = sub[i % LANES]++;
                        ls_workers_submit(w, (uint32_t)(i % LANES), &jobs[i].j);
                        if (i == 250)
                                ls_workers_kick(w);
                }
        }
        /* half handed over, half staged: destroy runs them all */
        ls_workers_destroy(w);
        assert_int_equal(atomic_load(&c.ran), 500);
        for (i = 0; i < 500; i++)
                assert_int_equal(jobs[i].result, jobs[i].payload + 1);

        /* a pool that never got a job stops at once */
        memset(&c, 0, sizeof(c));
        w = h_pool(&c, 2, 0);
        ls_workers_quiesce(w);
        ls_workers_destroy(w);
        assert_int_equal(atomic_load(&c.idles), 0);
}

/* ------------------------------------------- the engine on the workers */

#define E_LANES 6
#define E_LEADS 12
#define E_INPUTS 900 /* per lane */

static const char *const e_types[] = {
        "page_view",    "email_open",     "email_click",  "form_submit",
        "demo_request", "webinar_attend", "trial_started"};
static const char *const e_urls[] = {
        "https://www.example.com/pricing", "https://www.example.com/demo",
        "https://www.example.com/docs/api", "https://www.example.com/careers",
        "https://shop.example.com/configure"};
static const char *const e_products[] = {"office", "phone", "suite"};

typedef struct ejob_s {
        ls_job_t j;
        const char *value; /* the owner's: JSON of one input */
        ls_input_kind_t kind;
} ejob_t;

typedef struct ectx_s {
        const ls_modelset_t *ms;
        ls_shard_t *shard[E_LANES];
        ls_buf_t out[E_LANES]; /* encoded outputs, in order, per lane */
        ls_codec_t *codec[MAX_THREADS];
        ls_outbuf_t ob[MAX_THREADS];
        ls_buf_t enc[MAX_THREADS];
} ectx_t;

static void e_run(void *opaque, int worker, ls_job_t *job) {
        ectx_t *c = opaque;
        ejob_t *ej = (ejob_t *)job;
        ls_input_t in;
        char err[512];
        size_t i;
        ls_err_t e;

        e = ls_codec_decode_input(c->codec[worker], ej->kind, ej->value,
                                  strlen(ej->value), &in, err, sizeof(err));
        if (e)
                fail_msg("decode: %s: %s", err, ej->value);
        ls_outbuf_reset(&c->ob[worker]);
        e = ls_shard_apply(c->shard[job->lane], &in, &c->ob[worker], err,
                           sizeof(err));
        if (e && e != LS_ERR_DUPLICATE && e != LS_ERR_STALE)
                fail_msg("apply: %s", err);
        ls_buf_appendf(&c->out[job->lane], "v%d;", (int)e);
        for (i = 0; i < c->ob[worker].n_outs; i++) {
                const ls_output_t *o = &c->ob[worker].outs[i];
                ls_buf_reset(&c->enc[worker]);
                if (ls_codec_encode_output(c->codec[worker],
                                           o->kind == LS_OUT_ALERT ? "alerts"
                                                                   : "scores",
                                           &c->ob[worker], o, &c->enc[worker],
                                           err, sizeof(err)))
                        fail_msg("encode: %s", err);
                ls_buf_append(&c->out[job->lane], c->enc[worker].data,
                              c->enc[worker].len);
                ls_buf_append(&c->out[job->lane], "\n", 1);
        }
}

/* The inputs of one lane, in event-time order: leads of the lane only. */
static char **e_inputs(int lane) {
        char **v = calloc(E_INPUTS, sizeof(*v));
        unsigned rnd = 1000u + (unsigned)lane;
        int64_t t = 1767571200000LL;
        int i;

        assert_non_null(v);
        for (i = 0; i < E_INPUTS; i++) {
                char buf[512];
                int lead = (int)((unsigned)rand_r(&rnd) % E_LEADS);
                t += 60000 + (int64_t)((unsigned)rand_r(&rnd) % 3600000);
                if ((unsigned)rand_r(&rnd) % 6 == 0)
                        snprintf(buf, sizeof(buf),
                                 "{\"kind\":\"profile\",\"lead_id\":"
                                 "\"l%d-%d\",\"updated_at\":%lld,"
                                 "\"attributes\":{\"industry\":\"%s\","
                                 "\"seniority\":\"vp\"}}",
                                 lane, lead, (long long)t,
                                 rand_r(&rnd) % 2 ? "software" : "retail");
                else
                        snprintf(buf, sizeof(buf),
                                 "{\"kind\":\"event\",\"lead_id\":\"l%d-%d\","
                                 "\"event_id\":\"e%d\",\"event_type\":\"%s\","
                                 "\"occurred_at\":%lld,\"product\":\"%s\","
                                 "\"properties\":{\"url\":\"%s\"}}",
                                 lane, lead, i,
                                 e_types[(unsigned)rand_r(&rnd) % 7],
                                 (long long)t,
                                 e_products[(unsigned)rand_r(&rnd) % 3],
                                 e_urls[(unsigned)rand_r(&rnd) % 5]);
                v[i] = strdup(buf);
        }
        return v;
}

/* Scores every lane's inputs, interleaved, with @p threads workers;
 * leaves each lane's encoded outputs in out[lane]. */
static void e_score(const ls_modelset_t *ms, char ***inputs, int threads,
                    unsigned jitter, ls_buf_t *out) {
        ls_workers_conf_t wc;
        ls_codec_conf_t cc;
        ls_workers_t *w;
        ectx_t c;
        ejob_t *jobs = calloc(E_LANES * E_INPUTS, sizeof(*jobs));
        char err[512];
        int i, l, k = 0;

        assert_non_null(jobs);
        memset(&c, 0, sizeof(c));
        c.ms = ms;
        memset(&cc, 0, sizeof(cc));
        cc.input_format = LS_FORMAT_JSON;
        cc.output_format = LS_FORMAT_JSON;
        cc.max_record_bytes = 4096;
        for (i = 0; i < MAX_THREADS; i++) {
                if (!(c.codec[i] = ls_codec_new(&cc, err, sizeof(err))))
                        fail_msg("codec: %s", err);
                ls_outbuf_init(&c.ob[i]);
                ls_buf_init(&c.enc[i]);
        }
        for (l = 0; l < E_LANES; l++) {
                assert_non_null(c.shard[l] = ls_shard_new(ms));
                ls_buf_init(&c.out[l]);
        }
        memset(&wc, 0, sizeof(wc));
        wc.threads = threads;
        wc.run = e_run;
        wc.opaque = &c;
        wc.jitter_us = jitter;
        wc.seed = 3;
        assert_non_null(w = ls_workers_new(&wc, err, sizeof(err)));
        /* round-robin over the lanes, in each lane's order */
        for (i = 0; i < E_INPUTS; i++) {
                for (l = 0; l < E_LANES; l++, k++) {
                        jobs[k].value = inputs[l][i];
                        jobs[k].kind = strstr(inputs[l][i], "\"profile\"")
                                               ? LS_INPUT_PROFILE
                                               : LS_INPUT_EVENT;
                        ls_workers_submit(w, (uint32_t)l, &jobs[k].j);
                }
                if (i % 50 == 0)
                        (void)ls_workers_done(w, 0); /* jobs are ours */
        }
        ls_workers_quiesce(w);
        (void)ls_workers_done(w, 0);
        assert_int_equal(ls_workers_pending(w), 0);
        ls_workers_destroy(w);
        for (l = 0; l < E_LANES; l++) {
                out[l] = c.out[l]; /* the caller's now */
                ls_shard_destroy(c.shard[l]);
        }
        for (i = 0; i < MAX_THREADS; i++) {
                ls_codec_destroy(c.codec[i]);
                ls_outbuf_free(&c.ob[i]);
                ls_buf_free(&c.enc[i]);
        }
        free(jobs);
}

static void test_engine_lanes(void **state) {
        ls_modelset_t *ms;
        char err[1024], **inputs[E_LANES];
        ls_buf_t one[E_LANES], many[E_LANES], jit[E_LANES];
        int l, i;

        (void)state;
        if (ls_modelset_load(LS_SOURCE_DIR "/examples/model.yaml", &ms, err,
                             sizeof(err)))
                fail_msg("model: %s", err);
        for (l = 0; l < E_LANES; l++)
                inputs[l] = e_inputs(l);
        e_score(ms, inputs, 0, 0, one);
        e_score(ms, inputs, 3, 0, many);
        e_score(ms, inputs, 2, 30, jit);
        for (l = 0; l < E_LANES; l++) {
                /* the lanes produce outputs: a real comparison */
                assert_true(one[l].len > 10000);
                assert_int_equal(one[l].len, many[l].len);
                assert_memory_equal(one[l].data, many[l].data, one[l].len);
                assert_int_equal(one[l].len, jit[l].len);
                assert_memory_equal(one[l].data, jit[l].data, one[l].len);
                ls_buf_free(&one[l]);
                ls_buf_free(&many[l]);
                ls_buf_free(&jit[l]);
                for (i = 0; i < E_INPUTS; i++)
                        free(inputs[l][i]);
                free(inputs[l]);
        }
        ls_modelset_destroy(ms);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_inline),
                cmocka_unit_test(test_order_threads),
                cmocka_unit_test(test_wait_and_shutdown),
                cmocka_unit_test(test_engine_lanes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
