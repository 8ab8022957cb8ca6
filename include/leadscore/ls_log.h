/*
 * ls_log.h - structured logs of `leadscore run`: one line per notable
 * event, in logfmt or JSON, filtered by level.
 *
 * Every line has the time (UTC, RFC 3339 with milliseconds), the level,
 * an event name (assigned, revoked, dead_letter, model_reload, ...), a
 * human readable message and optional key/value fields. Values that were
 * registered as secrets with ls_log_add_secret() are replaced by
 * "********" wherever they appear in a line, so a secret never reaches
 * the log even when a library echoes it.
 *
 * Threading: after setup (new + add_secret), ls_log_write() and friends
 * may be called from any thread; each line is written with one fwrite.
 */
#ifndef LS_LOG_H
#define LS_LOG_H

#include <stdarg.h>
#include <stdio.h>

#include "leadscore/ls_err.h"

typedef enum ls_log_level_e {
        LS_LOG_DEBUG = 0,
        LS_LOG_INFO = 1,
        LS_LOG_WARN = 2,
        LS_LOG_ERROR = 3,
} ls_log_level_t;

typedef enum ls_log_format_e {
        LS_LOG_LOGFMT = 0,
        LS_LOG_JSON = 1,
} ls_log_format_t;

typedef struct ls_log_s ls_log_t;

/**
 * @returns a logger writing lines of @p level and above to @p fp
 *          (borrowed; stderr when NULL), or NULL when memory is short.
 */
ls_log_t *ls_log_new(ls_log_format_t format, ls_log_level_t level, FILE *fp);

void ls_log_destroy(ls_log_t *log);

/**
 * Registers a secret value (copied) to mask in every later line. Empty
 * values are ignored. Not thread-safe: call during setup.
 * @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_log_add_secret(ls_log_t *log, const char *value);

/**
 * Copies @p s into @p out (at most @p out_size - 1 bytes, NUL-terminated)
 * with every registered secret replaced by "********", for text that
 * leaves the process other than through the log (e.g. an error message
 * printed by the caller). NULL @p log copies unchanged.
 */
void ls_log_mask_text(const ls_log_t *log, const char *s, char *out,
                      size_t out_size);

/** @returns 1 when lines of @p level are written. NULL-safe (0). */
int ls_log_enabled(const ls_log_t *log, ls_log_level_t level);

/**
 * Writes one line: event @p event, message from printf-style @p fmt.
 * NULL @p log writes nothing.
 */
void ls_log(ls_log_t *log, ls_log_level_t level, const char *event,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/**
 * Writes one line with message @p msg and extra fields given as
 * NULL-terminated pairs of `const char *` key, value (a NULL value is
 * skipped), e.g. ls_log_kv(log, LS_LOG_WARN, "dead_letter", msg,
 * "reason", "late", NULL).
 */
void ls_log_kv(ls_log_t *log, ls_log_level_t level, const char *event,
               const char *msg, ...);

/**
 * Formats one line into @p out (for tests and for ls_log_kv): the same
 * text that would be written, newline included, masked.
 * @returns the number of bytes written (truncated to out_size - 1).
 */
size_t ls_log_format_line(const ls_log_t *log, ls_log_level_t level,
                          const char *event, const char *msg,
                          const char *const *kv, size_t n_kv, char *out,
                          size_t out_size);

/**
 * Parses "debug", "info", "warn" (or "warning"), "error".
 * @returns LS_OK and *levelp, or LS_ERR_INVALID.
 */
ls_err_t ls_log_level_parse(const char *s, ls_log_level_t *levelp);

/** Parses "logfmt" or "json". @returns LS_OK or LS_ERR_INVALID. */
ls_err_t ls_log_format_parse(const char *s, ls_log_format_t *formatp);

const char *ls_log_level2str(ls_log_level_t level);
const char *ls_log_format2str(ls_log_format_t format);

/**
 * Maps a syslog level (librdkafka's log callback: 0 emerg .. 7 debug) to
 * a log level.
 */
ls_log_level_t ls_log_level_from_syslog(int syslog_level);

#endif /* LS_LOG_H */
