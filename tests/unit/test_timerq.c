/*
 * test_timerq.c - a shard's decay wake-ups (src/engine/ls_timerq.h):
 * popped in exactly the order (due, lead, model) that a sort of every
 * entry gives, whatever the mix of entries in the current bucket, the
 * wheel and the far heap, across jumps of stream time, pushes at or
 * before the time being popped, clears, memory given back, and
 * allocations that fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ls_timerq.h"

#define BUCKET ((int64_t)1 << LS_TQ_SHIFT)
#define HORIZON (BUCKET * LS_TQ_BUCKETS)

/* The reference: every entry queued, unsorted. */
typedef struct ref_s {
        ls_timer_t *v;
        size_t n, size;
} ref_t;

static void ref_push(ref_t *r, int64_t due, uint32_t lead, uint32_t model) {
        if (r->n == r->size) {
                r->size = r->size ? r->size * 2 : 1024;
                r->v = realloc(r->v, r->size * sizeof(*r->v));
                assert_non_null(r->v);
        }
        r->v[r->n].due = due;
        r->v[r->n].lead = lead;
        r->v[r->n].model = model;
        r->n++;
}

/* @returns 1 and the least entry due at or before @p now, taken out. */
static int ref_pop_due(ref_t *r, int64_t now, ls_timer_t *out) {
        size_t i, best = r->n;

        for (i = 0; i < r->n; i++)
                if (r->v[i].due <= now &&
                    (best == r->n || ls_timer_less(&r->v[i], &r->v[best])))
                        best = i;
        if (best == r->n)
                return 0;
        *out = r->v[best];
        r->v[best] = r->v[--r->n];
        return 1;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static void push_both(ls_timerq_t *q, ref_t *r, int64_t due, uint32_t lead,
                      uint32_t model) {
        assert_int_equal(ls_tq_push(q, due, lead, model), 0);
        ref_push(r, due, lead, model);
}

static void check(const ls_timerq_t *q, const ref_t *r) {
        size_t where;
        const char *bad = ls_tq_check(q, 1u << 20, 4, &where);

        if (bad)
                fail_msg("queue check: %s (at %zu)", bad, where);
        assert_int_equal(ls_tq_count(q), r->n);
}

/* Pops everything due at or before @p now from both, and compares. While
 * popping, pushes as a firing timer does: its next step, sometimes
 * already due. */
static size_t drain(ls_timerq_t *q, ref_t *r, int64_t now, int refire) {
        ls_timer_t a, b;
        size_t n = 0;
        int got;

        for (;;) {
                got = ls_tq_pop_due(q, now, &a);
                assert_int_equal(got, ref_pop_due(r, now, &b));
                if (!got)
                        break;
                assert_true(a.due == b.due && a.lead == b.lead &&
                            a.model == b.model);
                n++;
                if (refire && next_rand() % 3 == 0) {
                        int64_t step = (int64_t)(next_rand() % (3 * BUCKET));

                        push_both(q, r, a.due + step, a.lead, a.model);
                }
        }
        return n;
}

static void test_pops_in_sorted_order(void **state) {
        ls_timerq_t q;
        ref_t r = {0};
        int64_t now = 1767225600000; /* 2026 */
        size_t popped = 0, round, i;

        (void)state;
        ls_tq_init(&q);
        for (round = 0; round < 200; round++) {
                /* entries across the current bucket, the wheel and far
                 * beyond it, with ties on due and on lead */
                for (i = 0; i < 300; i++) {
                        uint64_t x = next_rand();
                        int64_t ahead;

                        switch (x % 5) {
                        case 0: /* at or before now: due at once */
                                ahead = -(int64_t)(next_rand() % BUCKET);
                                break;
                        case 1: /* within the hour */
                                ahead = (int64_t)(next_rand() % BUCKET);
                                break;
                        case 2: /* days ahead, in the wheel */
                                ahead = (int64_t)(next_rand() % (HORIZON / 8));
                                break;
                        case 3: /* past the wheel */
                                ahead = HORIZON +
                                        (int64_t)(next_rand() % (4 * HORIZON));
                                break;
                        default: /* a tie with a round time */
                                ahead = (int64_t)(next_rand() % 4) * 86400000;
                                break;
                        }
                        push_both(&q, &r, now + ahead,
                                  (uint32_t)(next_rand() % 50),
                                  (uint32_t)(next_rand() % 3));
                }
                check(&q, &r);
                /* stream time moves by minutes to months */
                now += (int64_t)(next_rand() %
                                 (round % 7 == 0 ? HORIZON / 2 : BUCKET * 3));
                popped += drain(&q, &r, now, 1);
                check(&q, &r);
        }
        /* at the end, a jump past everything pops all of it, in order */
        popped += drain(&q, &r, INT64_MAX / 2, 0);
        assert_int_equal(ls_tq_count(&q), 0);
        assert_int_equal(r.n, 0);
        assert_true(popped > 50000);
        ls_tq_free(&q);
        free(r.v);
}

/* Nothing is due before its time, however far stream time jumps, and a
 * time before any entry (or before 0) pops nothing. */
static void test_jumps_and_edges(void **state) {
        ls_timerq_t q;
        ref_t r = {0};
        ls_timer_t t;

        (void)state;
        ls_tq_init(&q);
        assert_int_equal(ls_tq_pop_due(&q, 0, &t), 0);
        assert_int_equal(ls_tq_pop_due(&q, -5, &t), 0);
        /* the first push of a fresh queue is years past its bucket 0 */
        push_both(&q, &r, 1767225600000, 1, 0);
        push_both(&q, &r, 1767225600000 + 10 * HORIZON, 2, 0);
        push_both(&q, &r, 0, 3, 1);
        check(&q, &r);
        assert_int_equal(ls_tq_pop_due(&q, -1, &t), 0);
        assert_int_equal(drain(&q, &r, 0, 0), 1);
        assert_int_equal(drain(&q, &r, 1767225600000 - 1, 0), 0);
        assert_int_equal(drain(&q, &r, 1767225600000, 0), 1);
        check(&q, &r);
        /* one ms before the last: nothing; then it */
        assert_int_equal(drain(&q, &r, 1767225600000 + 10 * HORIZON - 1, 0), 0);
        check(&q, &r);
        assert_int_equal(drain(&q, &r, 1767225600000 + 10 * HORIZON, 0), 1);
        /* pushed behind the current bucket: due at once */
        push_both(&q, &r, 5, 4, 0);
        assert_int_equal(drain(&q, &r, 1767225600000 + 10 * HORIZON, 0), 1);
        check(&q, &r);
        ls_tq_free(&q);
        free(r.v);
}

/* A clear empties the queue as of a time, and buckets popped give their
 * memory back. */
static void test_clear_and_memory(void **state) {
        ls_timerq_t q;
        ref_t r = {0};
        ls_timer_t t;
        size_t empty, i;
        int64_t now = 1767225600000;

        (void)state;
        ls_tq_init(&q);
        /* a pop on the empty queue reaches now: what follows goes to the
         * wheel, none of it to far */
        assert_int_equal(ls_tq_pop_due(&q, now, &t), 0);
        for (i = 0; i < 20000; i++)
                push_both(&q, &r, now + (int64_t)(next_rand() % (HORIZON / 4)),
                          (uint32_t)i, 0);
        assert_int_equal(q.n_far, 0);
        assert_true(ls_tq_bytes(&q) >= 20000 * sizeof(ls_timer_t));
        assert_int_equal(drain(&q, &r, now + HORIZON, 0), 20000);
        /* what is left: the heaps' room and the ring of buckets */
        empty = ls_tq_bytes(&q);
        assert_true(empty < 20000 * sizeof(ls_timer_t));
        assert_int_equal(q.wheel_bytes, 0);

        for (i = 0; i < 1000; i++)
                assert_int_equal(ls_tq_push(&q, now + (int64_t)i * 3600000,
                                            (uint32_t)i, 1),
                                 0);
        ls_tq_clear(&q, now + HORIZON);
        assert_int_equal(ls_tq_count(&q), 0);
        assert_int_equal(q.wheel_bytes, 0);
        /* after a clear at a time, entries before it are due at once */
        push_both(&q, &r, now, 7, 0);
        push_both(&q, &r, now + 2 * HORIZON, 8, 0);
        check(&q, &r);
        assert_int_equal(drain(&q, &r, now + HORIZON, 0), 1);
        assert_int_equal(drain(&q, &r, now + 2 * HORIZON, 0), 1);
        ls_tq_free(&q);
        free(r.v);
}

/* Allocation failures on demand: the test links with --wrap=realloc and
 * --wrap=calloc (tests/CMakeLists.txt); fail_every > 0 fails one
 * allocation in fail_every, in the queue's calls only. */
void *__real_realloc(void *p, size_t n);
void *__real_calloc(size_t nmemb, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_calloc(size_t nmemb, size_t n);
static unsigned fail_every, fail_tick;

static int should_fail(void) {
        return fail_every && ++fail_tick % fail_every == 0;
}

void *__wrap_realloc(void *p, size_t n) {
        return should_fail() ? NULL : __real_realloc(p, n);
}

void *__wrap_calloc(size_t nmemb, size_t n) {
        return should_fail() ? NULL : __real_calloc(nmemb, n);
}

/* With allocations failing now and then, a push that fails leaves the
 * queue as it was, a pop that fails can be repeated, and what comes out
 * is still every entry, in order. */
static void test_memory_failures_lose_nothing(void **state) {
        ls_timerq_t q;
        ref_t r = {0};
        ls_timer_t a, b;
        int64_t now = 1767225600000;
        size_t round, i, failed_push = 0, failed_pop = 0, popped = 0;
        int got;

        (void)state;
        ls_tq_init(&q);
        for (round = 0; round < 300; round++) {
                for (i = 0; i < 100; i++) {
                        int64_t due = now +
                                      (int64_t)(next_rand() % (2 * HORIZON)) -
                                      BUCKET;
                        uint32_t lead = (uint32_t)(next_rand() % 1000);

                        fail_every = 7;
                        got = ls_tq_push(&q, due, lead, 0);
                        fail_every = 0;
                        if (got)
                                failed_push++;
                        else
                                ref_push(&r, due, lead, 0);
                }
                now += (int64_t)(next_rand() % (HORIZON / 3));
                for (;;) {
                        fail_every = 5;
                        got = ls_tq_pop_due(&q, now, &a);
                        fail_every = 0;
                        if (got < 0) {
                                failed_pop++;
                                continue; /* repeated */
                        }
                        assert_int_equal(got, ref_pop_due(&r, now, &b));
                        if (!got)
                                break;
                        assert_true(a.due == b.due && a.lead == b.lead);
                        popped++;
                }
                check(&q, &r);
        }
        assert_true(failed_push > 100 && failed_pop > 10 && popped > 10000);
        ls_tq_free(&q);
        free(r.v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pops_in_sorted_order),
                cmocka_unit_test(test_jumps_and_edges),
                cmocka_unit_test(test_clear_and_memory),
                cmocka_unit_test(test_memory_failures_lose_nothing),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
