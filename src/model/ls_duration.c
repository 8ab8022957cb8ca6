/*
 * ls_duration.c - duration values of model files ("500ms", "30s", "15m",
 * "24h", "7d", "2w", or a bare integer meaning milliseconds).
 *
 * Durations are always > 0 and fit in int64 milliseconds; parsing checks
 * for overflow instead of wrapping.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "leadscore/ls_model.h"
#include "model/ls_model_int.h"

typedef struct ls_duration_unit_s {
        const char *suffix;
        int64_t ms;
} ls_duration_unit_t;

/* Largest first, so that formatting picks the biggest exact unit. */
static const ls_duration_unit_t ls_duration_units[] = {
        {"w", 7LL * 24 * 3600 * 1000},
        {"d", 24LL * 3600 * 1000},
        {"h", 3600LL * 1000},
        {"m", 60LL * 1000},
        {"s", 1000},
        {"ms", 1},
};

#define LS_DURATION_N_UNITS                                                    \
        (sizeof(ls_duration_units) / sizeof(ls_duration_units[0]))

ls_err_t ls_duration_parse(const char *s, int64_t *msp) {
        const char *p = s;
        int64_t n = 0, mult = 0;
        size_t i;

        if (!s || *s < '0' || *s > '9')
                return LS_ERR_INVALID;
        while (*p >= '0' && *p <= '9') {
                int d = *p - '0';

                if (n > (INT64_MAX - d) / 10)
                        return LS_ERR_INVALID;
                n = n * 10 + d;
                p++;
        }
        if (*p == '\0') {
                mult = 1;
        } else {
                for (i = 0; i < LS_DURATION_N_UNITS; i++) {
                        if (!strcmp(p, ls_duration_units[i].suffix)) {
                                mult = ls_duration_units[i].ms;
                                break;
                        }
                }
        }
        if (mult == 0 || n <= 0 || n > INT64_MAX / mult)
                return LS_ERR_INVALID;
        *msp = n * mult;
        return LS_OK;
}

void ls_duration_format(int64_t ms, char *buf, size_t size) {
        size_t i;

        if (ms > 0) {
                for (i = 0; i < LS_DURATION_N_UNITS; i++) {
                        if (ms % ls_duration_units[i].ms == 0) {
                                snprintf(buf, size, "%lld%s",
                                         (long long)(ms /
                                                     ls_duration_units[i].ms),
                                         ls_duration_units[i].suffix);
                                return;
                        }
                }
        }
        snprintf(buf, size, "%lldms", (long long)ms);
}
