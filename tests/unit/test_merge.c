/*
 * test_merge.c - the live merge of `run` (ls_merge_next): the heads of a
 * partition's two hold queues go in merge order; a lone head waits for
 * the other topic until merge_wait, unless it has no event time or the
 * other partition is known to be at its end by an answer newer than the
 * head's arrival.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "leadscore/ls_merge.h"

/* Holds a record with key @p time that arrived at @p at. */
static void hold(ls_merge_side_t *s, int64_t time, int64_t at) {
        ls_held_t h;

        memset(&h, 0, sizeof(h));
        h.time = time;
        h.at = at;
        assert_int_equal(ls_holdq_push(&s->held, &h), 0);
}

static void pop(ls_merge_side_t *s) {
        ls_held_t h;

        assert_int_equal(ls_holdq_pop(&s->held, &h), 0);
        ls_held_release(&h);
}

static void test_heads_in_merge_order(void **state) {
        ls_merge_side_t ev, pr;
        ls_merge_side_t *side[2] = {&ev, &pr};
        int wanted = 0;

        (void)state;
        ls_merge_side_init(&ev);
        ls_merge_side_init(&pr);
        assert_int_equal(ev.consumed_next, -1);
        assert_int_equal(ls_merge_next(side, 1000, 0, &wanted), -1);
        hold(&ev, 20, 1);
        hold(&pr, 10, 2);
        hold(&pr, 20, 3);
        /* the earlier event time first; on a tie the event */
        assert_int_equal(ls_merge_next(side, 1000, 5, &wanted), 1);
        pop(&pr);
        assert_int_equal(ls_merge_next(side, 1000, 5, &wanted), 0);
        pop(&ev);
        /* merge_wait 0: arrival order, no holding */
        hold(&ev, 5, 9);
        assert_int_equal(ls_merge_next(side, 0, 10, &wanted), 1);
        pop(&pr);
        assert_int_equal(ls_merge_next(side, 0, 10, &wanted), 0);
        pop(&ev);
        assert_int_equal(wanted, 0);
        ls_holdq_free(&ev.held, NULL);
        ls_holdq_free(&pr.held, NULL);
}

static void test_lone_head_waits(void **state) {
        ls_merge_side_t ev, pr;
        ls_merge_side_t *side[2] = {&ev, &pr};
        ls_merge_side_t *alone[2] = {&ev, NULL};
        int wanted = 0;

        (void)state;
        ls_merge_side_init(&ev);
        ls_merge_side_init(&pr);
        hold(&ev, 100, 1000);
        /* the profiles partition may still hold something earlier */
        assert_int_equal(ls_merge_next(side, 500, 1200, &wanted), -1);
        assert_true(wanted);
        assert_true(pr.end_wanted);
        /* an end asked for before the head arrived does not count */
        wanted = 0;
        pr.end_wanted = 0;
        pr.end_asked_at = 900;
        pr.end_offset = 0;
        assert_int_equal(ls_merge_next(side, 500, 1200, &wanted), -1);
        assert_true(wanted);
        /* asked after: the partition is at its end (nothing consumed,
         * end 0; or consumed up to its end) */
        pr.end_asked_at = 1100;
        assert_int_equal(ls_merge_next(side, 500, 1200, &wanted), 0);
        pr.end_offset = 7;
        assert_int_equal(ls_merge_next(side, 500, 1200, &wanted), -1);
        pr.consumed_next = 7;
        assert_int_equal(ls_merge_next(side, 500, 1200, &wanted), 0);
        pr.consumed_next = 6;
        /* merge_wait passed: it goes anyway */
        assert_int_equal(ls_merge_next(side, 500, 1500, &wanted), 0);
        /* the other topic-partition is not ours: no wait */
        assert_int_equal(ls_merge_next(alone, 500, 1200, &wanted), 0);
        pop(&ev);
        /* no event time (rejected before the engine): at once */
        hold(&ev, LS_MERGE_NO_TIME, 1000);
        assert_int_equal(ls_merge_next(side, 500, 1000, &wanted), 0);
        ls_holdq_free(&ev.held, NULL);
        ls_holdq_free(&pr.held, NULL);
}

/* Records of the other side out being read (run's workers) are consumed
 * already: a lone head waits for them whatever merge_wait says, as one
 * thread would have met them held. */
static void test_waits_for_reads(void **state) {
        ls_merge_side_t ev, pr;
        ls_merge_side_t *side[2] = {&ev, &pr};
        int wanted = 0;

        (void)state;
        ls_merge_side_init(&ev);
        ls_merge_side_init(&pr);
        hold(&ev, 100, 1000);
        pr.end_asked_at = 1100; /* at its end, as far as the broker says */
        pr.reading = 1;
        assert_int_equal(ls_merge_next(side, 500, 1200, &wanted), -1);
        assert_int_equal(ls_merge_next(side, 500, 9000, &wanted), -1);
        assert_int_equal(ls_merge_next(side, 0, 9000, &wanted), -1);
        /* back: it is held, and the heads go in merge order */
        pr.reading = 0;
        hold(&pr, 50, 1001);
        assert_int_equal(ls_merge_next(side, 500, 9000, &wanted), 1);
        ls_holdq_free(&ev.held, NULL);
        ls_holdq_free(&pr.held, NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_heads_in_merge_order),
                cmocka_unit_test(test_lone_head_waits),
                cmocka_unit_test(test_waits_for_reads),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
