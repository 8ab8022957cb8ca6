/*
 * test_match_glob.c - the '*'-only glob fast path agrees with
 * fnmatch(FNM_CASEFOLD) on many random patterns and texts.
 */
#define _GNU_SOURCE /* FNM_CASEFOLD */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fnmatch.h>
#include <string.h>

#include <cmocka.h>

#include "leadscore/ls_model.h"

static uint64_t rng = 12345;

static unsigned next(unsigned n) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        return (unsigned)((rng >> 33) % n);
}

static void fill(char *buf, size_t max, const char *alphabet) {
        size_t n = next((unsigned)max), i, a = strlen(alphabet);

        for (i = 0; i < n; i++)
                buf[i] = alphabet[next((unsigned)a)];
        buf[n] = '\0';
}

static void test_glob_plain_equals_fnmatch(void **state) {
        ls_modelset_t ms = {0};
        ls_cond_t cond = {0};
        char pat[16], text[24];
        char *values[1] = {pat};
        int i, matches = 0;

        cond.op = LS_MATCH_GLOB;
        cond.values = values;
        cond.n_values = 1;
        cond.glob_plain = 1;
        cond.list = -1;
        for (i = 0; i < 200000; i++) {
                fill(pat, sizeof(pat) - 1, "ab/**");
                fill(text, sizeof(text) - 1, "abAB/");
                int want = fnmatch(pat, text, FNM_CASEFOLD) == 0;
                int got = ls_cond_match(&ms, &cond, text);

                if (want != got)
                        fail_msg("pattern '%s' text '%s': fnmatch %d, "
                                 "fast path %d",
                                 pat, text, want, got);
                matches += got;
        }
        /* the generator must produce both outcomes */
        assert_true(matches > 1000);
        assert_true(matches < 199000);
        assert_true(ls_cond_match(&ms, &cond, NULL) == 0);
}

/* Texts longer than the fast path's buffer take fnmatch's path. */
static void test_glob_plain_long_text(void **state) {
        ls_modelset_t ms = {0};
        ls_cond_t cond = {0};
        char *values[1] = {"*/pricing*"};
        char text[3000];

        cond.op = LS_MATCH_GLOB;
        cond.values = values;
        cond.n_values = 1;
        cond.glob_plain = 1;
        cond.list = -1;
        memset(text, 'x', sizeof(text) - 1);
        text[sizeof(text) - 1] = '\0';
        assert_false(ls_cond_match(&ms, &cond, text));
        memcpy(text + 2000, "/PRICING", 8);
        assert_true(ls_cond_match(&ms, &cond, text));
        memcpy(text + 500, "/Pricing", 8);
        text[2000] = 'x';
        assert_true(ls_cond_match(&ms, &cond, text));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_glob_plain_equals_fnmatch),
                cmocka_unit_test(test_glob_plain_long_text),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
