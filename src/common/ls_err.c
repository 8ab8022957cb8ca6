/*
 * ls_err.c - names of error codes and the errstr formatting helper.
 */
#include "leadscore/ls_err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const ls_err_names[LS_ERR__CNT] = {
        [LS_OK] = "success",
        [LS_ERR_INVALID] = "invalid input",
        [LS_ERR_NOMEM] = "out of memory",
        [LS_ERR_IO] = "I/O error",
        [LS_ERR_NOT_FOUND] = "not found",
        [LS_ERR_LATE] = "event too late",
        [LS_ERR_DUPLICATE] = "duplicate event",
        [LS_ERR_UNSUPPORTED] = "unsupported",
        [LS_ERR_KAFKA] = "Kafka error",
        [LS_ERR_STALE] = "stale profile update",
        [LS_ERR_FUTURE] = "input dated in the future",
        [LS_ERR_CAPACITY] = "lead cap reached",
};

const char *ls_err2str(ls_err_t err) {
        if ((int)err < 0 || err >= LS_ERR__CNT)
                return "unknown error";
        return ls_err_names[err];
}

ls_err_t ls_seterr(char *errstr, size_t errstr_size, ls_err_t err,
                   const char *fmt, ...) {
        va_list ap;

        if (errstr && errstr_size > 0) {
                va_start(ap, fmt);
                vsnprintf(errstr, errstr_size, fmt, ap);
                va_end(ap);
        }
        return err;
}
