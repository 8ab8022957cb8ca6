/*
 * test_lead_table.c - the lead table (ls_lead_table.h): every lead found
 * again by its key, short keys kept beside their block and long ones
 * apart, whatever is written into the blocks, across index growth (to
 * an index mapped in huge pages) and block chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leadscore/ls_lead_table.h"

/* Key @p i ("i:" and letters): lengths cycle through 2 .. 60, across
 * the 23 bytes a key kept beside its block may have. @returns its
 * length. */
static size_t make_key(size_t i, char *buf) {
        size_t len = 2 + i % 59, n;

        n = (size_t)snprintf(buf, 80, "%zu:", i);
        while (n < len) {
                buf[n] = (char)('a' + (i + n) % 26);
                n++;
        }
        buf[n] = '\0';
        return n;
}

static void fill_and_check(size_t block_size, size_t n) {
        ls_lead_table_t *lt = ls_lead_table_new(block_size);
        char key[80];
        size_t i, len;
        int created;

        assert_non_null(lt);
        for (i = 0; i < n; i++) {
                len = make_key(i, key);
                assert_int_equal(ls_lead_table_get(lt, key, len, 1, &created),
                                 (int64_t)i);
                assert_true(created);
                /* every byte of the block is the lead's to use */
                memset(ls_lead_table_block(lt, (uint32_t)i), 0xff, block_size);
                assert_int_equal(
                        (uintptr_t)ls_lead_table_block(lt, (uint32_t)i) % 8, 0);
        }
        assert_int_equal(ls_lead_table_count(lt), n);
        for (i = 0; i < n; i++) {
                len = make_key(i, key);
                assert_string_equal(ls_lead_table_key(lt, (uint32_t)i), key);
                assert_int_equal(ls_lead_table_get(lt, key, len, 0, &created),
                                 (int64_t)i);
                assert_false(created);
                /* a prefix, or the key and one more byte, is another lead */
                assert_int_equal(ls_lead_table_get(lt, key, len - 1, 0, NULL),
                                 -1);
                key[len] = 'z';
                key[len + 1] = '\0';
                assert_int_equal(ls_lead_table_get(lt, key, len + 1, 0, NULL),
                                 -1);
        }
        ls_lead_table_destroy(lt);
}

static void test_keys_beside_and_apart(void **state) {
        (void)state;
        fill_and_check(8, 5000);
        fill_and_check(504, 20000); /* several chunks, index grown */
        fill_and_check(1, 3000);    /* a block smaller than a word */
        /* an index grown past a huge page: mapped on its own from then */
        fill_and_check(8, 300000);
}

/* Keys of exactly 22, 23 and 24 bytes, and one of 0. */
static void test_key_length_edges(void **state) {
        ls_lead_table_t *lt = ls_lead_table_new(64);
        const char *keys[] = {"", "0123456789012345678901",
                              "01234567890123456789012",
                              "012345678901234567890123",
                              "01234567890123456789012345678901234567890"};
        size_t i, k;

        (void)state;
        assert_non_null(lt);
        for (i = 0; i < 5; i++)
                assert_int_equal(ls_lead_table_get(lt, keys[i], strlen(keys[i]),
                                                   1, NULL),
                                 (int64_t)i);
        for (i = 0; i < 5; i++) {
                memset(ls_lead_table_block(lt, (uint32_t)i), 0xa5, 64);
                for (k = 0; k < 5; k++)
                        assert_int_equal(ls_lead_table_get(lt, keys[k],
                                                           strlen(keys[k]), 0,
                                                           NULL),
                                         (int64_t)k);
                assert_string_equal(ls_lead_table_key(lt, (uint32_t)i),
                                    keys[i]);
        }
        ls_lead_table_destroy(lt);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keys_beside_and_apart),
                cmocka_unit_test(test_key_length_edges),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
