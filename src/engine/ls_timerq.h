/*
 * ls_timerq.h - a shard's decay wake-ups, popped in the exact order
 * (due, lead, model) of a heap, at a cost that does not grow with their
 * number (ls_timerq.c). Internal to src/engine.
 *
 * Entries are sorted by bucket of due time (2^LS_TQ_SHIFT ms):
 *   near   a heap of every entry of a bucket at or before `cur`;
 *   wheel  a ring of LS_TQ_BUCKETS unsorted buckets, for cur < bucket <
 *          cur + LS_TQ_BUCKETS (one appended entry each);
 *   far    a heap of the entries of later buckets (more than ~199 days
 *          ahead).
 * The near heap's top is the least entry of all, since every other
 * bucket is later. When near is empty and a pop asks for a later bucket,
 * `cur` moves on (over empty buckets at once) and the next bucket's
 * entries are heaped. A heap of every wake-up (millions of entries for a
 * million leads) made each pop a chain of cache misses; near holds about
 * two hours of them.
 */
#ifndef LS_TIMERQ_H
#define LS_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

#define LS_TQ_SHIFT 23     /* buckets of 2^23 ms, about 2.3 hours */
#define LS_TQ_BUCKETS 2048 /* the wheel: about 199 days ahead */

typedef struct ls_timer_s {
        int64_t due;
        uint32_t lead;
        uint32_t model;
} ls_timer_t;

/* The firing order: (due, lead, model), a total order. */
static inline int ls_timer_less(const ls_timer_t *a, const ls_timer_t *b) {
        if (a->due != b->due)
                return a->due < b->due;
        if (a->lead != b->lead)
                return a->lead < b->lead;
        return a->model < b->model;
}

typedef struct ls_tq_bucket_s {
        ls_timer_t *v;
        uint32_t n, size;
} ls_tq_bucket_t;

typedef struct ls_timerq_s {
        ls_timer_t *near, *far; /* heaps */
        size_t n_near, size_near, n_far, size_far;
        ls_tq_bucket_t *wheel; /* LS_TQ_BUCKETS, NULL until needed */
        size_t n_wheel;        /* entries in the wheel's buckets */
        size_t wheel_bytes;    /* of the buckets' arrays */
        int64_t cur;           /* last bucket whose entries are in near */
} ls_timerq_t;

void ls_tq_init(ls_timerq_t *q);
void ls_tq_free(ls_timerq_t *q);

/** Empties @p q, every bucket up to the one of time @p now (>= 0, or
 *  negative: none) counting as reached. */
void ls_tq_clear(ls_timerq_t *q, int64_t now);

/** Adds an entry (@p due >= 0). @returns 0, or -1 when memory is short
 *  (@p q is unchanged). */
int ls_tq_push(ls_timerq_t *q, int64_t due, uint32_t lead, uint32_t model);

/**
 * Takes the least entry into @p out when it is due at or before @p now.
 * @returns 1 taken, 0 none due, -1 when memory is short (nothing is lost:
 * the call can be repeated).
 */
int ls_tq_pop_due(ls_timerq_t *q, int64_t now, ls_timer_t *out);

static inline size_t ls_tq_count(const ls_timerq_t *q) {
        return q->n_near + q->n_wheel + q->n_far;
}

/** @returns one of the entries due next (the least first), or NULL:
 *  what a caller may prefetch. */
static inline const ls_timer_t *ls_tq_upcoming(const ls_timerq_t *q, size_t k) {
        return k < q->n_near ? &q->near[k] : NULL;
}

/** @returns the bytes @p q holds. */
size_t ls_tq_bytes(const ls_timerq_t *q);

/**
 * Checks @p q's invariants, and that every entry names a lead below
 * @p n_leads and a model below @p n_models. @returns NULL, or what is
 * wrong (a static string; @p where gets the entry's position).
 */
const char *ls_tq_check(const ls_timerq_t *q, size_t n_leads, size_t n_models,
                        size_t *where);

#endif /* LS_TIMERQ_H */
