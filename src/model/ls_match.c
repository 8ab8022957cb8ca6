/*
 * ls_match.c - evaluation of model conditions (ls_cond_t) on one field
 * value, and their cleanup.
 *
 * Matching never allocates and only reads the condition and the set's
 * lists, so a loaded model set can be matched from any number of threads.
 * All comparisons are ASCII case-insensitive; the loader stores values
 * and list items lowercased.
 */
#define _GNU_SOURCE /* FNM_CASEFOLD */

#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_model.h"
#include "model/ls_model_int.h"

void ls_cond_clear(ls_cond_t *cond) {
        size_t i;

        if (!cond)
                return;
        if (cond->op == LS_MATCH_REGEX)
                regfree(&cond->regex);
        for (i = 0; i < cond->n_values; i++)
                ls_free(cond->values ? cond->values[i] : NULL);
        ls_free(cond->values);
        ls_free(cond->field);
        memset(cond, 0, sizeof(*cond));
        cond->list = -1;
}

int ls_list_contains(const ls_list_t *list, const char *key) {
        size_t lo = 0, hi = list->n_items;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcasecmp(key, list->items[mid]);

                if (c == 0)
                        return 1;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return 0;
}

/* Parses the whole of @p s as a finite number. */
static int ls_match_number(const char *s, double *out) {
        char *end;
        double d;

        if (!*s)
                return 0;
        d = strtod(s, &end);
        if (end == s || *end != '\0' || !isfinite(d))
                return 0;
        *out = d;
        return 1;
}

static int ls_match_value(const ls_modelset_t *ms, const ls_cond_t *cond,
                          const char *value) {
        const char *at;
        double d;
        size_t i;

        switch (cond->op) {
        case LS_MATCH_EQUALS:
                return !strcasecmp(value, cond->values[0]);
        case LS_MATCH_IN:
                for (i = 0; i < cond->n_values; i++)
                        if (!strcasecmp(value, cond->values[i]))
                                return 1;
                return 0;
        case LS_MATCH_PREFIX:
                return !strncasecmp(value, cond->values[0],
                                    strlen(cond->values[0]));
        case LS_MATCH_GLOB:
                return fnmatch(cond->values[0], value, FNM_CASEFOLD) == 0;
        case LS_MATCH_REGEX:
                return regexec(&cond->regex, value, 0, NULL, 0) == 0;
        case LS_MATCH_RANGE:
                if (!ls_match_number(value, &d))
                        return 0;
                if (cond->has_min && d < cond->min)
                        return 0;
                if (cond->has_max && d > cond->max)
                        return 0;
                return 1;
        case LS_MATCH_IN_LIST:
                if (!ms || cond->list < 0 || (size_t)cond->list >= ms->n_lists)
                        return 0;
                at = strrchr(value, '@');
                return ls_list_contains(&ms->lists[cond->list],
                                        at ? at + 1 : value);
        case LS_MATCH_EXISTS:
                return *value != '\0';
        }
        return 0;
}

int ls_cond_match(const ls_modelset_t *ms, const ls_cond_t *cond,
                  const char *value) {
        int r = value ? ls_match_value(ms, cond, value) : 0;

        return cond->negate ? !r : r;
}
