/*
 * ls_timerq.c - a shard's decay wake-ups in due-time buckets (see
 * ls_timerq.h): O(1) to add an entry a few hours or days ahead, and a
 * heap of about two hours of entries to pop from.
 */
#include "engine/ls_timerq.h"

#include <string.h>

#include "leadscore/ls_alloc.h"
#include "engine/ls_engine_int.h"

#define LS_TQ_MASK ((int64_t)LS_TQ_BUCKETS - 1)

static int64_t ls_tq_bucket(int64_t due) {
        return due >> LS_TQ_SHIFT; /* due >= 0 */
}

/* ---------------------------------------------------------------- heaps */

static void ls_tq_sift_up(ls_timer_t *h, size_t i) {
        ls_timer_t t = h[i];

        while (i > 0) {
                size_t p = (i - 1) / 2;

                if (!ls_timer_less(&t, &h[p]))
                        break;
                h[i] = h[p];
                i = p;
        }
        h[i] = t;
}

static void ls_tq_sift_down(ls_timer_t *h, size_t n, size_t i) {
        ls_timer_t t = h[i];

        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= n)
                        break;
                if (c + 1 < n && ls_timer_less(&h[c + 1], &h[c]))
                        c++;
                if (!ls_timer_less(&h[c], &t))
                        break;
                h[i] = h[c];
                i = c;
        }
        h[i] = t;
}

/* Makes room for @p more entries in heap (or array) @p *arr of @p *size,
 * @p n used, doubling from @p first. */
static int ls_tq_reserve(ls_timer_t **arr, size_t *size, size_t n, size_t more,
                         size_t first) {
        size_t want = *size ? *size : first;
        ls_timer_t *a;

        if (n + more <= *size)
                return 0;
        while (want < n + more)
                want *= 2;
        if (!(a = ls_realloc(*arr, want * sizeof(*a))))
                return -1;
        *arr = a;
        *size = want;
        return 0;
}

static int ls_tq_heap_push(ls_timer_t **h, size_t *n, size_t *size,
                           const ls_timer_t *t) {
        if (ls_tq_reserve(h, size, *n, 1, 256))
                return -1;
        (*h)[*n] = *t;
        ls_tq_sift_up(*h, (*n)++);
        return 0;
}

static ls_timer_t ls_tq_heap_pop(ls_timer_t *h, size_t *n) {
        ls_timer_t top = h[0];

        h[0] = h[--*n];
        if (*n)
                ls_tq_sift_down(h, *n, 0);
        return top;
}

/* ---------------------------------------------------------------- queue */

void ls_tq_init(ls_timerq_t *q) {
        memset(q, 0, sizeof(*q));
        q->cur = -1;
}

static void ls_tq_free_buckets(ls_timerq_t *q) {
        size_t k;

        for (k = 0; q->wheel && k < LS_TQ_BUCKETS; k++) {
                ls_free(q->wheel[k].v);
                memset(&q->wheel[k], 0, sizeof(q->wheel[k]));
        }
        q->n_wheel = 0;
        q->wheel_bytes = 0;
}

void ls_tq_free(ls_timerq_t *q) {
        ls_tq_free_buckets(q);
        ls_free(q->wheel);
        ls_free(q->near);
        ls_free(q->far);
        ls_tq_init(q);
}

void ls_tq_clear(ls_timerq_t *q, int64_t now) {
        ls_tq_free_buckets(q);
        q->n_near = q->n_far = 0;
        q->cur = now >= 0 ? ls_tq_bucket(now) : -1;
}

/* Appends @p t to its bucket of the wheel. */
static int ls_tq_wheel_add(ls_timerq_t *q, const ls_timer_t *t) {
        ls_tq_bucket_t *b;
        size_t size;

        if (!q->wheel &&
            !(q->wheel = ls_calloc(LS_TQ_BUCKETS, sizeof(*q->wheel))))
                return -1;
        b = &q->wheel[ls_tq_bucket(t->due) & LS_TQ_MASK];
        if (b->n == b->size) {
                size = b->size;
                if (ls_tq_reserve(&b->v, &size, b->n, 1, 8))
                        return -1;
                q->wheel_bytes += (size - b->size) * sizeof(*b->v);
                b->size = (uint32_t)size;
        }
        b->v[b->n++] = *t;
        q->n_wheel++;
        return 0;
}

/* Puts @p t where its bucket says, as of `cur`. */
static int ls_tq_place(ls_timerq_t *q, const ls_timer_t *t) {
        int64_t b = ls_tq_bucket(t->due);

        if (b <= q->cur)
                return ls_tq_heap_push(&q->near, &q->n_near, &q->size_near, t);
        if (b - q->cur < LS_TQ_BUCKETS)
                return ls_tq_wheel_add(q, t);
        return ls_tq_heap_push(&q->far, &q->n_far, &q->size_far, t);
}

int ls_tq_push(ls_timerq_t *q, int64_t due, uint32_t lead, uint32_t model) {
        ls_timer_t t;

        t.due = due;
        t.lead = lead;
        t.model = model;
        return ls_tq_place(q, &t);
}

/*
 * Brings the far entries that are within the wheel's reach of `cur` into
 * it (or into near). Each is placed before it is taken off far, so that
 * a failure (-1, memory short) loses nothing and the next call goes on.
 */
static int ls_tq_pull_far(ls_timerq_t *q) {
        while (q->n_far &&
               ls_tq_bucket(q->far[0].due) - q->cur < LS_TQ_BUCKETS) {
                ls_timer_t t = q->far[0];

                if (ls_tq_place(q, &t))
                        return -1;
                (void)ls_tq_heap_pop(q->far, &q->n_far);
        }
        return 0;
}

/*
 * Near is empty: moves `cur` on by one bucket, at once over buckets that
 * are empty up to @p upto (the bucket of the time asked for), heaps the
 * new current bucket's entries and brings the far entries that are now
 * within the wheel's reach into it. @returns 0 or -1 (memory short:
 * `cur` does not move, or it moved and far entries are left to bring in,
 * which ls_tq_pop_due() does first).
 */
static int ls_tq_next_bucket(ls_timerq_t *q, int64_t upto) {
        int64_t next = q->cur + 1;
        ls_tq_bucket_t *b;
        size_t i;

        if (!q->n_wheel) {
                int64_t fb = q->n_far ? ls_tq_bucket(q->far[0].due) : upto;

                next = fb < upto ? fb : upto;
                if (next <= q->cur)
                        next = q->cur + 1;
        }
        b = q->wheel ? &q->wheel[next & LS_TQ_MASK] : NULL;
        if (b && b->n) {
                if (ls_tq_reserve(&q->near, &q->size_near, q->n_near, b->n,
                                  256))
                        return -1;
                for (i = 0; i < b->n; i++) {
                        q->near[q->n_near] = b->v[i];
                        ls_tq_sift_up(q->near, q->n_near++);
                }
                q->n_wheel -= b->n;
                q->wheel_bytes -= b->size * sizeof(*b->v);
                ls_free(b->v);
                memset(b, 0, sizeof(*b));
        }
        q->cur = next;
        return ls_tq_pull_far(q);
}

int ls_tq_pop_due(ls_timerq_t *q, int64_t now, ls_timer_t *out) {
        /* what a move of `cur` cut short by a lack of memory left */
        if (ls_tq_pull_far(q))
                return -1;
        while (!q->n_near) {
                if (now < 0 || ls_tq_bucket(now) <= q->cur)
                        return 0; /* the rest is due after now */
                if (!(q->n_wheel + q->n_far)) {
                        /* empty: now's bucket is reached, so that what is
                         * pushed next goes to the wheel, not far */
                        q->cur = ls_tq_bucket(now);
                        return 0;
                }
                if (ls_tq_next_bucket(q, ls_tq_bucket(now)))
                        return -1;
        }
        if (q->near[0].due > now)
                return 0;
        *out = ls_tq_heap_pop(q->near, &q->n_near);
        return 1;
}

size_t ls_tq_bytes(const ls_timerq_t *q) {
        return (q->size_near + q->size_far) * sizeof(ls_timer_t) +
               (q->wheel ? LS_TQ_BUCKETS * sizeof(*q->wheel) : 0) +
               q->wheel_bytes;
}

/* @returns what is wrong with entry @p t on its own, or NULL. */
static const char *ls_tq_check_entry(const ls_timer_t *t, size_t n_leads,
                                     size_t n_models) {
        if (t->lead >= n_leads || t->model >= n_models)
                return "lead or model out of range";
        if (t->due < 0)
                return "due before 0";
        return NULL;
}

static const char *ls_tq_check_heap(const ls_timer_t *h, size_t n,
                                    size_t n_leads, size_t n_models,
                                    size_t *where) {
        const char *bad;
        size_t i;

        for (i = 0; i < n; i++) {
                *where = i;
                if ((bad = ls_tq_check_entry(&h[i], n_leads, n_models)))
                        return bad;
                if (i > 0 && ls_timer_less(&h[i], &h[(i - 1) / 2]))
                        return "due before its parent";
        }
        return NULL;
}

const char *ls_tq_check(const ls_timerq_t *q, size_t n_leads, size_t n_models,
                        size_t *where) {
        const char *bad;
        size_t i, k, in_wheel = 0;

        *where = 0;
        if (q->n_near > q->size_near || q->n_far > q->size_far)
                return "more entries than room";
        if ((bad = ls_tq_check_heap(q->near, q->n_near, n_leads, n_models,
                                    where)) ||
            (bad = ls_tq_check_heap(q->far, q->n_far, n_leads, n_models,
                                    where)))
                return bad;
        for (i = 0; i < q->n_near; i++)
                if (ls_tq_bucket(q->near[i].due) > q->cur) {
                        *where = i;
                        return "a near entry is past the current bucket";
                }
        for (i = 0; i < q->n_far; i++)
                if (ls_tq_bucket(q->far[i].due) - q->cur < LS_TQ_BUCKETS) {
                        *where = i;
                        return "a far entry is within the wheel";
                }
        for (k = 0; q->wheel && k < LS_TQ_BUCKETS; k++) {
                const ls_tq_bucket_t *b = &q->wheel[k];

                if (b->n > b->size)
                        return "a bucket holds more entries than room";
                for (i = 0; i < b->n; i++) {
                        int64_t bk;

                        *where = k;
                        if ((bad = ls_tq_check_entry(&b->v[i], n_leads,
                                                     n_models)))
                                return bad;
                        bk = ls_tq_bucket(b->v[i].due);
                        if (bk <= q->cur || bk - q->cur >= LS_TQ_BUCKETS ||
                            (size_t)(bk & LS_TQ_MASK) != k)
                                return "a bucket entry is in the wrong "
                                       "bucket";
                }
                in_wheel += b->n;
        }
        if (in_wheel != q->n_wheel)
                return "the wheel's count is wrong";
        return NULL;
}
