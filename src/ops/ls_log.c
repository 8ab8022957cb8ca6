/*
 * ls_log.c - structured log lines (logfmt or JSON) with secret masking.
 *
 * A line is assembled in a stack buffer: each text (message, field
 * values) is first masked (every registered secret value replaced by
 * "********"), then quoted for the format (logfmt rules: quote when the
 * value has a space, '=', '"' or a control character; JSON through
 * jansson's string encoder), and written with one fwrite.
 */
#include "leadscore/ls_log.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "leadscore/ls_alloc.h"

#define LS_LOG_LINE_MAX 8192
#define LS_LOG_MASK "********"

struct ls_log_s {
        ls_log_format_t format;
        ls_log_level_t level;
        FILE *fp;
        char **secrets;
        size_t n_secrets;
};

ls_log_t *ls_log_new(ls_log_format_t format, ls_log_level_t level, FILE *fp) {
        ls_log_t *log = ls_calloc(1, sizeof(*log));

        if (!log)
                return NULL;
        log->format = format;
        log->level = level;
        log->fp = fp ? fp : stderr;
        return log;
}

void ls_log_destroy(ls_log_t *log) {
        size_t i;

        if (!log)
                return;
        for (i = 0; i < log->n_secrets; i++)
                ls_free(log->secrets[i]);
        ls_free(log->secrets);
        ls_free(log);
}

ls_err_t ls_log_add_secret(ls_log_t *log, const char *value) {
        char **n, *copy;

        if (!value || !*value)
                return LS_OK;
        copy = ls_strdup(value);
        if (!copy)
                return LS_ERR_NOMEM;
        n = ls_realloc(log->secrets, (log->n_secrets + 1) * sizeof(*n));
        if (!n) {
                ls_free(copy);
                return LS_ERR_NOMEM;
        }
        log->secrets = n;
        log->secrets[log->n_secrets++] = copy;
        return LS_OK;
}

int ls_log_enabled(const ls_log_t *log, ls_log_level_t level) {
        return log && level >= log->level;
}

/* ------------------------------------------------------------ assembly */

/** A bounded output cursor: writes past the end are dropped. */
typedef struct ls_lout_s {
        char *p;
        size_t len, size; /* size includes room for the final NUL */
} ls_lout_t;

static void ls_lout_put(ls_lout_t *o, const char *s, size_t n) {
        size_t room = o->size - 1 - o->len;

        if (n > room)
                n = room;
        memcpy(o->p + o->len, s, n);
        o->len += n;
        o->p[o->len] = '\0';
}

static void ls_lout_puts(ls_lout_t *o, const char *s) {
        ls_lout_put(o, s, strlen(s));
}

/** Copies @p s into @p out with every secret replaced by the mask. */
static void ls_log_mask(const ls_log_t *log, const char *s, ls_lout_t *out) {
        while (*s) {
                size_t i, best = 0;
                for (i = 0; log && i < log->n_secrets; i++) {
                        size_t n = strlen(log->secrets[i]);
                        if (n > best && !strncmp(s, log->secrets[i], n))
                                best = n;
                }
                if (best) {
                        ls_lout_puts(out, LS_LOG_MASK);
                        s += best;
                } else {
                        ls_lout_put(out, s, 1);
                        s++;
                }
        }
}

void ls_log_mask_text(const ls_log_t *log, const char *s, char *out,
                      size_t out_size) {
        ls_lout_t o = {out, 0, out_size};

        if (!out_size)
                return;
        out[0] = '\0';
        ls_log_mask(log, s, &o);
}

static int ls_log_needs_quote(const char *s) {
        if (!*s)
                return 1;
        for (; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == '=' || *s == '"' ||
                    *s == '\\' || (unsigned char)*s == 0x7f)
                        return 1;
        return 0;
}

static void ls_log_put_logfmt(ls_lout_t *o, const char *v) {
        static const char hex[] = "0123456789abcdef";

        if (!ls_log_needs_quote(v)) {
                ls_lout_puts(o, v);
                return;
        }
        ls_lout_put(o, "\"", 1);
        for (; *v; v++) {
                unsigned char c = (unsigned char)*v;
                if (c == '"' || c == '\\') {
                        char e[2] = {'\\', (char)c};
                        ls_lout_put(o, e, 2);
                } else if (c == '\n') {
                        ls_lout_put(o, "\\n", 2);
                } else if (c < ' ' || c == 0x7f) {
                        char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
                        ls_lout_put(o, e, 4);
                } else {
                        ls_lout_put(o, v, 1);
                }
        }
        ls_lout_put(o, "\"", 1);
}

static void ls_log_put_json(ls_lout_t *o, const char *v) {
        json_t *s = json_string(v);
        char *enc;

        if (!s) /* not UTF-8: jansson refuses; keep what is printable */
                s = json_stringn_nocheck(v, strlen(v));
        enc = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
        if (enc) {
                ls_lout_puts(o, enc);
                free(enc); /* jansson's own allocation */
        } else {
                ls_lout_puts(o, "\"\"");
        }
        json_decref(s);
}

/** Appends ` key=value` / `,"key":value` for one masked value. */
static void ls_log_field(const ls_log_t *log, ls_lout_t *o, const char *key,
                         const char *value) {
        char masked[LS_LOG_LINE_MAX];
        ls_lout_t m = {masked, 0, sizeof(masked)};

        masked[0] = '\0';
        ls_log_mask(log, value, &m);
        if (log && log->format == LS_LOG_JSON) {
                ls_lout_put(o, ",", 1);
                ls_log_put_json(o, key);
                ls_lout_put(o, ":", 1);
                ls_log_put_json(o, masked);
        } else {
                ls_lout_put(o, " ", 1);
                ls_lout_puts(o, key);
                ls_lout_put(o, "=", 1);
                ls_log_put_logfmt(o, masked);
        }
}

size_t ls_log_format_line(const ls_log_t *log, ls_log_level_t level,
                          const char *event, const char *msg,
                          const char *const *kv, size_t n_kv, char *out,
                          size_t out_size) {
        ls_lout_t o = {out, 0, out_size};
        char ts[40];
        struct timespec now;
        struct tm tm;
        size_t i;
        int json = log && log->format == LS_LOG_JSON;

        if (out_size == 0)
                return 0;
        out[0] = '\0';
        if (out_size < 2)
                return 0;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        if (snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec,
                     (int)(now.tv_nsec / 1000000)) >= (int)sizeof(ts))
                ts[sizeof(ts) - 1] = '\0'; /* only for absurd years */
        if (json) {
                ls_lout_puts(&o, "{\"time\":\"");
                ls_lout_puts(&o, ts);
                ls_lout_puts(&o, "\"");
        } else {
                ls_lout_puts(&o, "time=");
                ls_lout_puts(&o, ts);
        }
        ls_log_field(log, &o, "level", ls_log_level2str(level));
        ls_log_field(log, &o, "event", event ? event : "log");
        ls_log_field(log, &o, "msg", msg ? msg : "");
        for (i = 0; i + 1 < n_kv; i += 2)
                if (kv[i] && kv[i + 1])
                        ls_log_field(log, &o, kv[i], kv[i + 1]);
        /* Always end the line, even when the buffer is full. */
        if (o.len + (json ? 2 : 1) >= o.size)
                o.len = o.size - 1 - (json ? 2 : 1);
        o.p[o.len] = '\0';
        ls_lout_puts(&o, json ? "}\n" : "\n");
        return o.len;
}

static void ls_log_emit(ls_log_t *log, ls_log_level_t level, const char *event,
                        const char *msg, const char *const *kv, size_t n_kv) {
        char line[LS_LOG_LINE_MAX];
        size_t n;

        n = ls_log_format_line(log, level, event, msg, kv, n_kv, line,
                               sizeof(line));
        fwrite(line, 1, n, log->fp);
        fflush(log->fp);
}

void ls_log(ls_log_t *log, ls_log_level_t level, const char *event,
            const char *fmt, ...) {
        char msg[LS_LOG_LINE_MAX];
        va_list ap;

        if (!ls_log_enabled(log, level))
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        ls_log_emit(log, level, event, msg, NULL, 0);
}

#define LS_LOG_MAX_KV 32

void ls_log_kv(ls_log_t *log, ls_log_level_t level, const char *event,
               const char *msg, ...) {
        const char *kv[LS_LOG_MAX_KV];
        size_t n = 0;
        va_list ap;

        if (!ls_log_enabled(log, level))
                return;
        va_start(ap, msg);
        for (;;) {
                const char *k = va_arg(ap, const char *), *v;
                if (!k)
                        break;
                v = va_arg(ap, const char *);
                if (n + 2 <= LS_LOG_MAX_KV) {
                        kv[n++] = k;
                        kv[n++] = v;
                }
        }
        va_end(ap);
        ls_log_emit(log, level, event, msg, kv, n);
}

/* -------------------------------------------------------------- parsing */

ls_err_t ls_log_level_parse(const char *s, ls_log_level_t *levelp) {
        if (!s)
                return LS_ERR_INVALID;
        if (!strcasecmp(s, "debug"))
                *levelp = LS_LOG_DEBUG;
        else if (!strcasecmp(s, "info"))
                *levelp = LS_LOG_INFO;
        else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
                *levelp = LS_LOG_WARN;
        else if (!strcasecmp(s, "error"))
                *levelp = LS_LOG_ERROR;
        else
                return LS_ERR_INVALID;
        return LS_OK;
}

ls_err_t ls_log_format_parse(const char *s, ls_log_format_t *formatp) {
        if (!s)
                return LS_ERR_INVALID;
        if (!strcasecmp(s, "logfmt"))
                *formatp = LS_LOG_LOGFMT;
        else if (!strcasecmp(s, "json"))
                *formatp = LS_LOG_JSON;
        else
                return LS_ERR_INVALID;
        return LS_OK;
}

const char *ls_log_level2str(ls_log_level_t level) {
        switch (level) {
        case LS_LOG_DEBUG:
                return "debug";
        case LS_LOG_INFO:
                return "info";
        case LS_LOG_WARN:
                return "warn";
        case LS_LOG_ERROR:
                return "error";
        }
        return "info";
}

const char *ls_log_format2str(ls_log_format_t format) {
        return format == LS_LOG_JSON ? "json" : "logfmt";
}

ls_log_level_t ls_log_level_from_syslog(int syslog_level) {
        if (syslog_level <= 3)
                return LS_LOG_ERROR;
        if (syslog_level == 4)
                return LS_LOG_WARN;
        if (syslog_level <= 6)
                return LS_LOG_INFO;
        return LS_LOG_DEBUG;
}
