/*
 * ls_workers.h - a pool of worker threads that run jobs in lanes: the
 * jobs of one lane run one at a time, in the order they were submitted,
 * always on the same worker (lane % workers), and come back to the owner
 * in that order. `leadscore run` gives each input partition a lane, so a
 * partition's shard is touched by one worker at a time and its outputs
 * are produced in input order, whatever the number of workers and their
 * timing (docs/ARCHITECTURE.md, "Workers").
 *
 * The pool knows nothing of Kafka or of what a job does: a job is the
 * caller's struct with an ls_job_t in it, run by the caller's function.
 * A pool of 0 threads runs every job inline, in ls_workers_submit(), on
 * the owner's thread.
 *
 * Threading: one owner thread calls everything here (submit, done,
 * quiesce, destroy); the job and idle functions run on the workers, one
 * call at a time per worker.
 */
#ifndef LS_WORKERS_H
#define LS_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_err.h"

/** The pool's part of a job: embed it in the caller's job struct. */
typedef struct ls_job_s {
        struct ls_job_s *next; /* the pool's link; in ls_workers_done()'s
                                * list, the next job done */
        uint32_t lane;
} ls_job_t;

/** Runs @p job on worker @p worker (0 .. threads-1; 0 inline). */
typedef void(ls_workers_fn_t)(void *opaque, int worker, ls_job_t *job);

/** Called by worker @p worker for a job it will run soon, at stage k
 *  (0 .. LS_WORKERS_STAGES - 1) when it is (LS_WORKERS_STAGES - k) x
 *  LS_WORKERS_AHEAD jobs ahead (or sooner, for the first jobs of a run),
 *  so that the job can start loading the memory it will touch: each
 *  stage what the one before made it possible to find. Once per stage
 *  per job, in stage order, before the job runs. */
typedef void(ls_workers_ahead_fn_t)(void *opaque, int worker, ls_job_t *job,
                                    int stage);

#define LS_WORKERS_STAGES 3
#define LS_WORKERS_AHEAD 6

/** Called by worker @p worker after a run of jobs, before it waits for
 *  more, still counted as busy (ls_workers_quiesce() waits for it). */
typedef void(ls_workers_idle_fn_t)(void *opaque, int worker);

typedef struct ls_workers_conf_s {
        int threads;                  /* 0: inline, no thread */
        ls_workers_fn_t *run;         /* required */
        ls_workers_idle_fn_t *idle;   /* may be NULL */
        ls_workers_ahead_fn_t *ahead; /* may be NULL; not inline */
        void *opaque;                 /* passed to all three */
        /* A test knob: a worker sleeps a random 0 .. jitter_us
         * microseconds before each job (0: never), so that tests see
         * the workers' timing vary. */
        unsigned jitter_us;
        unsigned seed; /* of the jitter's random numbers */
} ls_workers_conf_t;

typedef struct ls_workers_s ls_workers_t;

/**
 * Starts the pool's threads.
 * @returns the pool, or NULL with errstr (no thread left running).
 */
ls_workers_t *ls_workers_new(const ls_workers_conf_t *conf, char *errstr,
                             size_t errstr_size);

/** @returns the number of threads (0: inline). */
int ls_workers_threads(const ls_workers_t *w);

/**
 * Queues @p job (the pool holds it until ls_workers_done() gives it back)
 * on lane @p lane, after every job submitted on that lane before it. The
 * job starts once ls_workers_kick() (or done / quiesce) hands the queued
 * jobs to the workers; inline, it runs now. Never blocks, never fails:
 * the caller bounds the jobs it has out (ls_workers_pending()).
 */
void ls_workers_submit(ls_workers_t *w, uint32_t lane, ls_job_t *job);

/** Hands the jobs submitted since the last kick to their workers. */
void ls_workers_kick(ls_workers_t *w);

/**
 * Takes the jobs done so far, waiting up to @p wait_ms (0: not at all,
 * < 0: until one is done, unless none is pending) for the first.
 * @returns them as a list linked by ls_job_t.next (NULL: none), each
 *          lane's jobs in their submission order; the caller owns them.
 */
ls_job_t *ls_workers_done(ls_workers_t *w, int wait_ms);

/** @returns the jobs submitted and not yet returned by ls_workers_done(). */
size_t ls_workers_pending(const ls_workers_t *w);

/**
 * Waits until every job submitted has run and every worker is idle (its
 * idle function returned): until the next submit, the owner may touch
 * whatever the jobs touch. The jobs stay to be taken by
 * ls_workers_done().
 */
void ls_workers_quiesce(ls_workers_t *w);

/**
 * Runs the jobs still queued, stops and joins the threads, and frees the
 * pool. Jobs not yet taken by ls_workers_done() are dropped (they are the
 * caller's: take them first).
 */
void ls_workers_destroy(ls_workers_t *w);

#endif /* LS_WORKERS_H */
