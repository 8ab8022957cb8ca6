/*
 * ls_err.h - the one error type of leadscore.
 *
 * Every fallible function returns ls_err_t (LS_OK == 0) and, where a user
 * needs to know why, fills a caller-provided `char *errstr, size_t
 * errstr_size` with a message that names the file, line, key or offset.
 */
#ifndef LS_ERR_H
#define LS_ERR_H

#include <stddef.h>

typedef enum ls_err_e {
        LS_OK = 0,
        LS_ERR_INVALID,     /* malformed input or configuration */
        LS_ERR_NOMEM,       /* allocation failed or memory cap reached */
        LS_ERR_IO,          /* file or socket error */
        LS_ERR_NOT_FOUND,   /* a named thing does not exist */
        LS_ERR_LATE,        /* event older than the allowed lateness */
        LS_ERR_DUPLICATE,   /* event id already applied for this lead */
        LS_ERR_UNSUPPORTED, /* valid but not handled (e.g. schema id) */
        LS_ERR_KAFKA,       /* Kafka client error */
        LS_ERR_STALE,       /* profile update older than the one applied */
        LS_ERR_FUTURE,      /* input dated too far past its record's time */
        LS_ERR_CAPACITY,    /* a new lead past the lead cap (ls_lead_cap_t) */
        LS_ERR__CNT
} ls_err_t;

/** @returns a static, human readable name for @p err. */
const char *ls_err2str(ls_err_t err);

/**
 * Formats into errstr (always NUL-terminated when errstr_size > 0) and
 * returns @p err, so that callers can write `return ls_seterr(...)`.
 */
ls_err_t ls_seterr(char *errstr, size_t errstr_size, ls_err_t err,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* LS_ERR_H */
