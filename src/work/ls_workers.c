/*
 * ls_workers.c - worker threads that run jobs in lanes (see ls_workers.h).
 *
 * Each worker has its own input queue; a lane always maps to worker
 * lane % threads, and a worker takes its whole queue at once and runs it
 * in order, so the jobs of a lane run one at a time in submission order.
 * Done jobs go to one list shared by all workers, appended in the order
 * each worker ran them (every LS_WK_CHUNK jobs and at the end of a run):
 * a lane's jobs keep their order there too. The owner stages submitted
 * jobs without locking and hands them over in ls_workers_kick(), one
 * lock for a batch.
 *
 * Locking: w->mu guards every input queue, the done list and its count,
 * the busy flags and stop; t->cond wakes worker t, w->cond the owner (a
 * job done, a worker idle). The staged lists and the pending count are
 * the owner's.
 */
#include "leadscore/ls_workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "leadscore/ls_alloc.h"

#define LS_WK_CHUNK 64 /* done jobs published at a time */

typedef struct ls_wk_thread_s {
        struct ls_workers_s *w;
        int idx;
        pthread_t tid;
        int started;
        pthread_cond_t cond;
        ls_job_t *in_head, *in_tail; /* handed over (w->mu) */
        int busy;                    /* running a list (w->mu) */
        ls_job_t *st_head, *st_tail; /* staged (the owner's) */
        unsigned rnd;                /* jitter (the worker's) */
} ls_wk_thread_t;

struct ls_workers_s {
        ls_workers_conf_t conf;
        pthread_mutex_t mu;
        pthread_cond_t cond; /* the owner waits on it (monotonic clock) */
        ls_job_t *done_head, *done_tail;
        size_t done_n; /* jobs on the done list */
        int stop;
        ls_wk_thread_t *t;
        int n_threads;
        size_t pending; /* the owner's */
        int ran_inline; /* inline: jobs ran since the last idle call */
};

/* ----------------------------------------------------------------- lists */

static void ls_wk_append(ls_job_t **head, ls_job_t **tail, ls_job_t *first,
                         ls_job_t *last) {
        if (!first)
                return;
        if (*tail)
                (*tail)->next = first;
        else
                *head = first;
        *tail = last;
}

/* ---------------------------------------------------------------- worker */

static void ls_wk_jitter(ls_wk_thread_t *t) {
        unsigned us;
        struct timespec ts;

        if (!t->w->conf.jitter_us)
                return;
        us = (unsigned)rand_r(&t->rnd) % (t->w->conf.jitter_us + 1);
        ts.tv_sec = us / 1000000;
        ts.tv_nsec = (long)(us % 1000000) * 1000;
        nanosleep(&ts, NULL);
}

/* Looks ahead at job *at at stage @p k (conf.ahead), and moves on. */
static void ls_wk_ahead(ls_wk_thread_t *t, ls_job_t **at, int k) {
        t->w->conf.ahead(t->w->conf.opaque, t->idx, *at, k);
        *at = (*at)->next;
}

static void *ls_wk_main(void *arg) {
        ls_wk_thread_t *t = arg;
        ls_workers_t *w = t->w;
        char name[16];

        /* named for top -H, perf and bench/peers/cpu_wrap.py */
        snprintf(name, sizeof(name), "ls-worker-%d", t->idx);
        prctl(PR_SET_NAME, name, 0, 0, 0);

        pthread_mutex_lock(&w->mu);
        for (;;) {
                ls_job_t *list, *head = NULL, *tail = NULL;
                ls_job_t *at[LS_WORKERS_STAGES];
                int n = 0, k, i;

                while (!t->in_head && !w->stop)
                        pthread_cond_wait(&t->cond, &w->mu);
                if (!t->in_head)
                        break; /* stopping, and nothing left */
                list = t->in_head;
                t->in_head = t->in_tail = NULL;
                t->busy = 1;
                pthread_mutex_unlock(&w->mu);

                /* look-ahead (conf.ahead): stage k for the job
                 * (LS_WORKERS_STAGES - k) x AHEAD on; the run's first
                 * jobs get every stage up front, the farthest first */
                for (k = 0; k < LS_WORKERS_STAGES; k++) {
                        int d = (LS_WORKERS_STAGES - k) * LS_WORKERS_AHEAD;

                        at[k] = w->conf.ahead ? list : NULL;
                        for (i = 0; at[k] && i < d; i++)
                                ls_wk_ahead(t, &at[k], k);
                }
                while (list) {
                        ls_job_t *job = list;

                        for (k = 0; k < LS_WORKERS_STAGES; k++)
                                if (at[k])
                                        ls_wk_ahead(t, &at[k], k);
                        list = job->next;
                        job->next = NULL;
                        ls_wk_jitter(t);
                        w->conf.run(w->conf.opaque, t->idx, job);
                        ls_wk_append(&head, &tail, job, job);
                        if (++n == LS_WK_CHUNK && list) {
                                pthread_mutex_lock(&w->mu);
                                ls_wk_append(&w->done_head, &w->done_tail, head,
                                             tail);
                                w->done_n += (size_t)n;
                                pthread_cond_broadcast(&w->cond);
                                pthread_mutex_unlock(&w->mu);
                                head = tail = NULL;
                                n = 0;
                        }
                }
                pthread_mutex_lock(&w->mu);
                ls_wk_append(&w->done_head, &w->done_tail, head, tail);
                w->done_n += (size_t)n;
                pthread_cond_broadcast(&w->cond);
                if (w->conf.idle) {
                        pthread_mutex_unlock(&w->mu);
                        w->conf.idle(w->conf.opaque, t->idx);
                        pthread_mutex_lock(&w->mu);
                }
                t->busy = 0;
                pthread_cond_broadcast(&w->cond);
        }
        pthread_mutex_unlock(&w->mu);
        return NULL;
}

/* ------------------------------------------------------------------ owner */

ls_workers_t *ls_workers_new(const ls_workers_conf_t *conf, char *errstr,
                             size_t errstr_size) {
        ls_workers_t *w;
        pthread_condattr_t ca;
        int i;

        if (!conf->run || conf->threads < 0) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "workers: no job function, or threads < 0");
                return NULL;
        }
        w = ls_calloc(1, sizeof(*w));
        if (!w || (conf->threads > 0 &&
                   !(w->t = ls_calloc((size_t)conf->threads, sizeof(*w->t))))) {
                ls_free(w);
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM, "out of memory");
                return NULL;
        }
        w->conf = *conf;
        pthread_mutex_init(&w->mu, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->cond, &ca);
        pthread_condattr_destroy(&ca);
        for (i = 0; i < conf->threads; i++) {
                ls_wk_thread_t *t = &w->t[i];
                int rc;

                t->w = w;
                t->idx = i;
                t->rnd = conf->seed * 7919u + (unsigned)i + 1;
                pthread_cond_init(&t->cond, NULL);
                w->n_threads = i + 1; /* destroy cleans up cond i */
                rc = pthread_create(&t->tid, NULL, ls_wk_main, t);
                if (rc) {
                        ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                  "cannot start worker thread %d: %s", i,
                                  strerror(rc));
                        ls_workers_destroy(w);
                        return NULL;
                }
                t->started = 1;
        }
        return w;
}

int ls_workers_threads(const ls_workers_t *w) {
        return w->n_threads;
}

void ls_workers_submit(ls_workers_t *w, uint32_t lane, ls_job_t *job) {
        ls_wk_thread_t *t;

        job->next = NULL;
        job->lane = lane;
        w->pending++;
        if (w->n_threads == 0) {
                w->conf.run(w->conf.opaque, 0, job);
                ls_wk_append(&w->done_head, &w->done_tail, job, job);
                w->ran_inline = 1;
                return;
        }
        t = &w->t[lane % (uint32_t)w->n_threads];
        ls_wk_append(&t->st_head, &t->st_tail, job, job);
}

void ls_workers_kick(ls_workers_t *w) {
        int i, any = 0;

        if (w->n_threads == 0) {
                if (w->ran_inline && w->conf.idle)
                        w->conf.idle(w->conf.opaque, 0);
                w->ran_inline = 0;
                return;
        }
        for (i = 0; i < w->n_threads; i++)
                any |= w->t[i].st_head != NULL;
        if (!any)
                return;
        pthread_mutex_lock(&w->mu);
        for (i = 0; i < w->n_threads; i++) {
                ls_wk_thread_t *t = &w->t[i];
                if (!t->st_head)
                        continue;
                ls_wk_append(&t->in_head, &t->in_tail, t->st_head, t->st_tail);
                t->st_head = t->st_tail = NULL;
                pthread_cond_signal(&t->cond);
        }
        pthread_mutex_unlock(&w->mu);
}

ls_job_t *ls_workers_done(ls_workers_t *w, int wait_ms) {
        ls_job_t *list;
        size_t n;
        struct timespec until;

        ls_workers_kick(w);
        if (w->n_threads == 0) {
                list = w->done_head;
                w->done_head = w->done_tail = NULL;
                w->pending = 0;
                return list;
        }
        if (wait_ms > 0) {
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += wait_ms / 1000;
                until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
                if (until.tv_nsec >= 1000000000) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000;
                }
        }
        pthread_mutex_lock(&w->mu);
        while (!w->done_head && wait_ms != 0 && w->pending > 0) {
                if (wait_ms < 0) {
                        pthread_cond_wait(&w->cond, &w->mu);
                } else if (pthread_cond_timedwait(&w->cond, &w->mu, &until) ==
                           ETIMEDOUT) {
                        break;
                }
        }
        list = w->done_head;
        n = w->done_n;
        w->done_head = w->done_tail = NULL;
        w->done_n = 0;
        pthread_mutex_unlock(&w->mu);
        /* counted as published: walking the list here would take each
         * job's first cache miss one after another, before the caller
         * gets to overlap them with its work */
        w->pending -= n;
        return list;
}

size_t ls_workers_pending(const ls_workers_t *w) {
        return w->pending;
}

/** 1 while a worker has jobs handed over or is running some (w->mu). */
static int ls_wk_active(const ls_workers_t *w) {
        int i;

        for (i = 0; i < w->n_threads; i++)
                if (w->t[i].in_head || w->t[i].busy)
                        return 1;
        return 0;
}

void ls_workers_quiesce(ls_workers_t *w) {
        ls_workers_kick(w);
        if (w->n_threads == 0)
                return;
        pthread_mutex_lock(&w->mu);
        while (ls_wk_active(w))
                pthread_cond_wait(&w->cond, &w->mu);
        pthread_mutex_unlock(&w->mu);
}

void ls_workers_destroy(ls_workers_t *w) {
        int i;

        if (!w)
                return;
        ls_workers_kick(w);
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        for (i = 0; i < w->n_threads; i++)
                pthread_cond_signal(&w->t[i].cond);
        pthread_mutex_unlock(&w->mu);
        for (i = 0; i < w->n_threads; i++) {
                if (w->t[i].started)
                        pthread_join(w->t[i].tid, NULL);
                pthread_cond_destroy(&w->t[i].cond);
        }
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mu);
        ls_free(w->t);
        ls_free(w);
}
