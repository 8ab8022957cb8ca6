/*
 * test_holdq.c - the records held for the merge (ls_holdq.h): offset
 * order through growth and wrap-around, what reading each gave kept with
 * it, and every record and reason released once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_holdq.h"

static int destroyed;

static void count_destroy(void *rec) {
        (void)rec;
        destroyed++;
}

/* A held record number @p i: a reason for odd ones, an input for even. */
static ls_held_t held(intptr_t i) {
        ls_held_t h;
        ls_input_t in = {.kind = LS_INPUT_EVENT,
                         .lead_id = "L1",
                         .event_id = "e",
                         .event_type = "t",
                         .time = i};

        memset(&h, 0, sizeof(h));
        h.rec = (void *)(i + 1);
        h.at = 1000 + i;
        h.time = i;
        if (i % 2) {
                h.v = LS_V_DECODE;
                h.why = ls_strdup("bad");
        } else {
                h.v = LS_V_APPLIED;
                h.in = ls_input_dup(&in);
        }
        return h;
}

static void test_order_through_growth(void **state) {
        ls_holdq_t hq = {0};
        ls_held_t h;
        intptr_t i, next = 0;

        (void)state;
        assert_null(ls_holdq_head(&hq));
        assert_int_equal(ls_holdq_pop(&hq, &h), -1);
        /* 200 in, 150 out (the head moves on), then 400 more: the queue
         * grows while it has wrapped around */
        for (i = 0; i < 200; i++) {
                h = held(i);
                assert_int_equal(ls_holdq_push(&hq, &h), 0);
        }
        for (; next < 150; next++) {
                assert_int_equal(ls_holdq_head(&hq)->time, next);
                assert_int_equal(ls_holdq_pop(&hq, &h), 0);
                assert_true(h.rec == (void *)(next + 1));
                ls_held_release(&h);
        }
        for (i = 200; i < 600; i++) {
                h = held(i);
                assert_int_equal(ls_holdq_push(&hq, &h), 0);
        }
        assert_true(hq.cap >= 450);
        for (; next < 500; next++) {
                assert_int_equal(ls_holdq_pop(&hq, &h), 0);
                assert_int_equal(h.time, next);
                assert_int_equal(h.at, 1000 + next);
                if (next % 2) {
                        assert_int_equal(h.v, LS_V_DECODE);
                        assert_string_equal(h.why, "bad");
                } else {
                        assert_int_equal(h.v, LS_V_APPLIED);
                        assert_int_equal(h.in->time, next);
                }
                ls_held_release(&h);
                assert_null(h.in);
                assert_null(h.why);
        }
        /* the 100 left: each record to the callback once, reasons freed
         * (the sanitizer's leak check holds the rest) */
        destroyed = 0;
        ls_holdq_free(&hq, count_destroy);
        assert_int_equal(destroyed, 100);
        assert_int_equal(hq.count, 0);
        assert_null(hq.q);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_through_growth),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
