/*
 * test_offsets.c - the commit rule of one input topic-partition
 * (ls_offsets.h): the committable offset never passes an input with an
 * output in flight, whatever order the acknowledgements come in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "leadscore/ls_offsets.h"

static void test_commit_after_every_output(void **state) {
        ls_offsets_t o;
        uint64_t a, b, c;

        (void)state;
        ls_offsets_init(&o);
        assert_int_equal(ls_offsets_advance(&o), -1);
        /* offsets 10, 11, 12: two outputs of 10, one of 12, none of 11 */
        assert_int_equal(ls_offsets_push(&o, 10, &a), 0);
        assert_int_equal(ls_offsets_push(&o, 11, &b), 0);
        assert_int_equal(ls_offsets_push(&o, 12, &c), 0);
        assert_true(a + 1 == b && b + 1 == c);
        ls_offsets_produced(&o, a);
        ls_offsets_produced(&o, a);
        ls_offsets_produced(&o, c);
        assert_int_equal(ls_offsets_advance(&o), -1);
        /* 12 acknowledged first: nothing moves past 10 */
        ls_offsets_acked(&o, c);
        assert_int_equal(ls_offsets_advance(&o), -1);
        ls_offsets_acked(&o, a);
        assert_int_equal(ls_offsets_advance(&o), -1);
        assert_int_equal(ls_offsets_offset(&o, a), 10);
        ls_offsets_acked(&o, a);
        /* 10 done, 11 had none, 12 done: all three */
        assert_int_equal(ls_offsets_advance(&o), 13);
        /* retired inputs are no longer tracked; acks of them do nothing */
        assert_int_equal(ls_offsets_offset(&o, a), -1);
        ls_offsets_acked(&o, a);
        ls_offsets_produced(&o, b);
        assert_int_equal(ls_offsets_advance(&o), 13);
        ls_offsets_free(&o);
}

static void test_failed_output_holds_back_the_rest(void **state) {
        ls_offsets_t o;
        uint64_t seq[5];
        int i;

        (void)state;
        ls_offsets_init(&o);
        for (i = 0; i < 5; i++) {
                assert_int_equal(ls_offsets_push(&o, 100 + i, &seq[i]), 0);
                ls_offsets_produced(&o, seq[i]);
        }
        /* every output but the one of 102 is acknowledged */
        for (i = 0; i < 5; i++)
                if (i != 2)
                        ls_offsets_acked(&o, seq[i]);
        assert_int_equal(ls_offsets_advance(&o), 102);
        assert_int_equal(ls_offsets_offset(&o, seq[4]), 104);
        /* an extra ack never drives a count below zero */
        ls_offsets_acked(&o, seq[3]);
        assert_int_equal(ls_offsets_advance(&o), 102);
        ls_offsets_acked(&o, seq[2]);
        assert_int_equal(ls_offsets_advance(&o), 105);
        ls_offsets_free(&o);
}

/* The FIFO grows past its first size while its head has wrapped around,
 * and keeps every input and its count. */
static void test_growth_keeps_order(void **state) {
        ls_offsets_t o;
        uint64_t seq, first = 0;
        int64_t i;

        (void)state;
        ls_offsets_init(&o);
        for (i = 0; i < 40; i++) {
                assert_int_equal(ls_offsets_push(&o, i, &seq), 0);
                if (i == 39)
                        ls_offsets_produced(&o, seq);
        }
        assert_int_equal(ls_offsets_advance(&o), 39);
        for (i = 40; i < 1000; i++) {
                assert_int_equal(ls_offsets_push(&o, i, &seq), 0);
                if (i == 40)
                        first = seq;
                ls_offsets_produced(&o, seq);
        }
        assert_true(o.cap >= 961);
        assert_int_equal(ls_offsets_offset(&o, first), 40);
        assert_int_equal(ls_offsets_offset(&o, seq), 999);
        ls_offsets_acked(&o, first - 1); /* offset 39 */
        for (i = 0; i < 960; i++)
                ls_offsets_acked(&o, first + (uint64_t)i);
        assert_int_equal(ls_offsets_advance(&o), 1000);
        ls_offsets_free(&o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_commit_after_every_output),
                cmocka_unit_test(test_failed_output_holds_back_the_rest),
                cmocka_unit_test(test_growth_keeps_order),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
