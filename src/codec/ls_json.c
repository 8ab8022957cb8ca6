/*
 * ls_json.c - JSON wire format of inputs and outputs.
 *
 * Decoding parses one object with jansson and maps it onto an ls_input_t
 * whose strings point into the parsed tree or into the decoder's scratch
 * buffer; both live until the next decode call on the same decoder.
 * Property and attribute values may be strings, numbers or booleans
 * (numbers and booleans become their text form); null means absent.
 *
 * Encoding writes outputs directly with a fixed key order, so equal
 * outputs are byte-identical; it runs once per score update and is on the
 * hot path of `leadscore score`, hence no intermediate JSON tree.
 */
#include "leadscore/ls_json.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadscore/ls_alloc.h"

/* Text of a converted number or boolean never exceeds this. */
#define LS_JSON_SCALAR_MAX 40
/* 9999-12-31T23:59:59.999Z + 1 ms */
/* Integer times in [LS_JSON_SECONDS_LO, LS_JSON_SECONDS_HI) are refused:
 * as milliseconds they fall between 1970-01-12 and 1973-03-03, as seconds
 * between 2001 and 5138 - epoch seconds given where milliseconds belong. */
#define LS_JSON_SECONDS_LO INT64_C(1000000000)
#define LS_JSON_SECONDS_HI INT64_C(100000000000)

struct ls_json_dec_s {
        json_t *root;    /* tree of the last decoded input */
        ls_kv_t *fields; /* properties / attributes of the last input */
        size_t size_fields;
        char *scratch; /* text of converted numbers and booleans */
        size_t size_scratch;
};

ls_json_dec_t *ls_json_dec_new(void) {
        return ls_calloc(1, sizeof(ls_json_dec_t));
}

void ls_json_dec_destroy(ls_json_dec_t *dec) {
        if (!dec)
                return;
        if (dec->root)
                json_decref(dec->root);
        ls_free(dec->fields);
        ls_free(dec->scratch);
        ls_free(dec);
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t ls_json_days_from_civil(int64_t y, int m, int d) {
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static int ls_json_days_in_month(int y, int m) {
        static const int days[12] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads exactly n decimal digits at *sp. @returns -1 if not digits. */
static int ls_json_digits(const char **sp, int n) {
        const char *s = *sp;
        int v = 0, i;

        for (i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        *sp = s + n;
        return v;
}

ls_err_t ls_json_parse_time(const char *s, int64_t *msp) {
        const char *p = s;
        int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0, i;
        int64_t t;

        if ((y = ls_json_digits(&p, 4)) < 0 || *p++ != '-' ||
            (mo = ls_json_digits(&p, 2)) < 0 || *p++ != '-' ||
            (d = ls_json_digits(&p, 2)) < 0)
                return LS_ERR_INVALID;
        if (*p != 'T' && *p != 't' && *p != ' ')
                return LS_ERR_INVALID;
        p++;
        if ((h = ls_json_digits(&p, 2)) < 0 || *p++ != ':' ||
            (mi = ls_json_digits(&p, 2)) < 0 || *p++ != ':' ||
            (sec = ls_json_digits(&p, 2)) < 0)
                return LS_ERR_INVALID;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return LS_ERR_INVALID;
                /* Milliseconds from the first three digits; finer
                 * digits are truncated. */
                for (i = 0; *p >= '0' && *p <= '9'; i++, p++)
                        if (i < 3)
                                ms = ms * 10 + (*p - '0');
                for (; i < 3; i++)
                        ms *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                sign = *p++ == '-' ? -1 : 1;
                if ((oh = ls_json_digits(&p, 2)) < 0 || *p++ != ':' ||
                    (om = ls_json_digits(&p, 2)) < 0 || oh > 23 || om > 59)
                        return LS_ERR_INVALID;
        } else {
                return LS_ERR_INVALID;
        }
        if (*p != '\0')
                return LS_ERR_INVALID;
        if (mo < 1 || mo > 12 || d < 1 || d > ls_json_days_in_month(y, mo) ||
            h > 23 || mi > 59 || sec > 60 /* leap second */)
                return LS_ERR_INVALID;

        t = ls_json_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
            sec;
        t -= (int64_t)sign * (oh * 3600 + om * 60);
        t = t * 1000 + ms;
        if (t < 0 || t > LS_TIME_MAX)
                return LS_ERR_INVALID;
        *msp = t;
        return LS_OK;
}

/* Reads a required time field (integer ms or RFC 3339 string). */
static ls_err_t ls_json_get_time(json_t *root, const char *key, int64_t *msp,
                                 char *errstr, size_t errstr_size) {
        json_t *v = json_object_get(root, key);
        json_int_t ms;

        if (!v || json_is_null(v))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: missing", key);
        if (json_is_integer(v)) {
                ms = json_integer_value(v);
                if (ms < 0 || ms > LS_TIME_MAX)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: %" JSON_INTEGER_FORMAT
                                         " is out of range (1970 to 9999)",
                                         key, ms);
                if (ms >= LS_JSON_SECONDS_LO && ms < LS_JSON_SECONDS_HI)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: %" JSON_INTEGER_FORMAT
                                         " looks like seconds since the "
                                         "epoch; give milliseconds "
                                         "(%" JSON_INTEGER_FORMAT
                                         "000) or an RFC 3339 string",
                                         key, ms, ms);
                *msp = (int64_t)ms;
                return LS_OK;
        }
        if (json_is_string(v)) {
                if (ls_json_parse_time(json_string_value(v), msp) == LS_OK)
                        return LS_OK;
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: \"%.64s\" is not an RFC 3339 time "
                                 "between 1970 and 9999",
                                 key, json_string_value(v));
        }
        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                         "%s: expected integer milliseconds or RFC 3339 "
                         "string",
                         key);
}

/* How ls_json_get_str treats a field. */
#define LS_JSON_OPTIONAL 0 /* absent, null: *sp = NULL; "" is an error */
#define LS_JSON_REQUIRED 1 /* absent, null: an error; "" is an error */
#define LS_JSON_PRESENT                                                        \
        2             /* absent, null: an error; "" passes, for the
                             * engine to judge (an empty lead id or event
                             * type is `invalid`, as from Avro) */
#define LS_JSON_ANY 3 /* absent, null: *sp = NULL; "" passes */

/*
 * Reads a string field as @p how says (LS_JSON_*). Present: must be a
 * string.
 */
static ls_err_t ls_json_get_str(json_t *root, const char *key, int how,
                                const char **sp, char *errstr,
                                size_t errstr_size) {
        json_t *v = json_object_get(root, key);

        *sp = NULL;
        if (!v || json_is_null(v)) {
                if (how == LS_JSON_REQUIRED || how == LS_JSON_PRESENT)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: missing", key);
                return LS_OK;
        }
        if (how == LS_JSON_PRESENT || how == LS_JSON_ANY) {
                if (!json_is_string(v))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: must be a string", key);
        } else if (!json_is_string(v) || json_string_length(v) == 0) {
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: must be a non-empty string", key);
        }
        *sp = json_string_value(v);
        return LS_OK;
}

/* Shortest "%.Ng" text that reads back as the same double. */
static void ls_json_real_text(double d, char *buf, size_t size) {
        int prec;

        for (prec = 15; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        return;
        }
}

/*
 * Maps the object @p obj (named @p name in messages) onto dec->fields.
 */
static ls_err_t ls_json_get_fields(ls_json_dec_t *dec, json_t *obj,
                                   const char *name, size_t *np, char *errstr,
                                   size_t errstr_size) {
        size_t n = json_object_size(obj), i = 0, used = 0, off;
        const char *key;
        json_t *v;

        if (n > dec->size_fields) {
                ls_kv_t *f = ls_realloc(dec->fields, n * sizeof(*f));

                if (!f)
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "%s: out of memory", name);
                dec->fields = f;
                dec->size_fields = n;
        }
        if (n * LS_JSON_SCALAR_MAX > dec->size_scratch) {
                char *s = ls_realloc(dec->scratch, n * LS_JSON_SCALAR_MAX);

                if (!s)
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "%s: out of memory", name);
                dec->scratch = s;
                dec->size_scratch = n * LS_JSON_SCALAR_MAX;
        }

        json_object_foreach(obj, key, v) {
                const char *text;

                off = used;
                switch (json_typeof(v)) {
                case JSON_NULL:
                        continue; /* absent */
                case JSON_STRING:
                        text = json_string_value(v);
                        break;
                case JSON_INTEGER:
                        snprintf(dec->scratch + off, LS_JSON_SCALAR_MAX,
                                 "%" JSON_INTEGER_FORMAT,
                                 json_integer_value(v));
                        text = dec->scratch + off;
                        used += LS_JSON_SCALAR_MAX;
                        break;
                case JSON_REAL:
                        ls_json_real_text(json_real_value(v),
                                          dec->scratch + off,
                                          LS_JSON_SCALAR_MAX);
                        text = dec->scratch + off;
                        used += LS_JSON_SCALAR_MAX;
                        break;
                case JSON_TRUE:
                        text = "true";
                        break;
                case JSON_FALSE:
                        text = "false";
                        break;
                default:
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s.%.128s: nested values are not "
                                         "allowed",
                                         name, key);
                }
                dec->fields[i].key = key;
                dec->fields[i].value = text;
                i++;
        }
        *np = i;
        return LS_OK;
}

ls_err_t ls_json_decode_input(ls_json_dec_t *dec, const char *data, size_t len,
                              ls_input_t *in, char *errstr,
                              size_t errstr_size) {
        json_error_t jerr;
        json_t *root, *v, *obj;
        const char *kind = NULL, *time_key, *obj_key;
        ls_err_t err;

        if (dec->root) {
                json_decref(dec->root);
                dec->root = NULL;
        }
        memset(in, 0, sizeof(*in));

        root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "invalid JSON at column %d: %s", jerr.column,
                                 jerr.text);
        dec->root = root;
        if (!json_is_object(root))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "expected a JSON object");

        v = json_object_get(root, "kind");
        if (v && !json_is_null(v)) {
                if (!json_is_string(v))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "kind: expected \"event\" or "
                                         "\"profile\"");
                kind = json_string_value(v);
                if (strcmp(kind, "event") == 0)
                        in->kind = LS_INPUT_EVENT;
                else if (strcmp(kind, "profile") == 0)
                        in->kind = LS_INPUT_PROFILE;
                else
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "kind: expected \"event\" or "
                                         "\"profile\", not \"%.32s\"",
                                         kind);
        } else if (json_object_get(root, "event_type")) {
                in->kind = LS_INPUT_EVENT;
        } else if (json_object_get(root, "attributes")) {
                in->kind = LS_INPUT_PROFILE;
        } else {
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "kind: missing, and neither event_type nor "
                                 "attributes says which");
        }

        if ((err = ls_json_get_str(root, "lead_id", LS_JSON_PRESENT,
                                   &in->lead_id, errstr, errstr_size)))
                return err;
        if (strlen(in->lead_id) > LS_LEAD_ID_MAX)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "lead_id: longer than %d bytes",
                                 LS_LEAD_ID_MAX);

        if (in->kind == LS_INPUT_EVENT) {
                /* event_id: absent or "" = never deduplicated, as the
                 * Avro schema's empty string */
                if ((err = ls_json_get_str(root, "event_id", LS_JSON_ANY,
                                           &in->event_id, errstr,
                                           errstr_size)) ||
                    (err = ls_json_get_str(root, "event_type", LS_JSON_PRESENT,
                                           &in->event_type, errstr,
                                           errstr_size)) ||
                    (err = ls_json_get_str(root, "product", LS_JSON_OPTIONAL,
                                           &in->product, errstr, errstr_size)))
                        return err;
                time_key = "occurred_at";
                obj_key = "properties";
        } else {
                time_key = "updated_at";
                obj_key = "attributes";
        }
        if ((err = ls_json_get_time(root, time_key, &in->time, errstr,
                                    errstr_size)))
                return err;

        obj = json_object_get(root, obj_key);
        if (!obj || json_is_null(obj)) {
                if (in->kind == LS_INPUT_PROFILE)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "attributes: missing");
                return LS_OK;
        }
        if (!json_is_object(obj))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: expected an object", obj_key);
        if ((err = ls_json_get_fields(dec, obj, obj_key, &in->n_fields, errstr,
                                      errstr_size)))
                return err;
        in->fields = in->n_fields ? dec->fields : NULL;
        return LS_OK;
}

/*
 * Encoding.
 */

static const char ls_json_hex[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t ls_json_utf8_len(const unsigned char *s, size_t n) {
        size_t len, i;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                len = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3;
                cp = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4;
                cp = s[0] & 0x07;
        } else {
                return 0;
        }
        if (len > n)
                return 0;
        for (i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return len;
}

/*
 * Appends @p s as a JSON string: quotes, backslash and control characters
 * escaped, invalid UTF-8 bytes replaced by U+FFFD.
 */
static ls_err_t ls_json_put_str(ls_buf_t *buf, const char *s) {
        const unsigned char *p = (const unsigned char *)s;
        size_t n = strlen(s), i = 0, run, len;
        char *w;

        /* Worst case: every byte becomes \u00XX or \ufffd (6 bytes). */
        if (ls_buf_reserve(buf, n * 6 + 2) != LS_OK)
                return LS_ERR_NOMEM;
        w = buf->data + buf->len;
        *w++ = '"';
        while (i < n) {
                for (run = i; run < n && p[run] >= 0x20 && p[run] < 0x80 &&
                              p[run] != '"' && p[run] != '\\';
                     run++)
                        ;
                if (run > i) {
                        memcpy(w, p + i, run - i);
                        w += run - i;
                        i = run;
                        continue;
                }
                *w++ = '\\';
                switch (p[i]) {
                case '"':
                        *w++ = '"';
                        i++;
                        continue;
                case '\\':
                        *w++ = '\\';
                        i++;
                        continue;
                case '\n':
                        *w++ = 'n';
                        i++;
                        continue;
                case '\r':
                        *w++ = 'r';
                        i++;
                        continue;
                case '\t':
                        *w++ = 't';
                        i++;
                        continue;
                case '\b':
                        *w++ = 'b';
                        i++;
                        continue;
                case '\f':
                        *w++ = 'f';
                        i++;
                        continue;
                default:
                        break;
                }
                if (p[i] < 0x20) {
                        memcpy(w, "u00", 3);
                        w[3] = ls_json_hex[p[i] >> 4];
                        w[4] = ls_json_hex[p[i] & 0xf];
                        w += 5;
                        i++;
                        continue;
                }
                w--; /* no escape for UTF-8 */
                len = ls_json_utf8_len(p + i, n - i);
                if (len) {
                        memcpy(w, p + i, len);
                        w += len;
                        i += len;
                } else {
                        memcpy(w, "\\ufffd", 6);
                        w += 6;
                        i++;
                }
        }
        *w++ = '"';
        buf->len = (size_t)(w - buf->data);
        buf->data[buf->len] = '\0';
        return LS_OK;
}

static ls_err_t ls_json_put(ls_buf_t *buf, const char *lit) {
        return ls_buf_append(buf, lit, strlen(lit));
}

static ls_err_t ls_json_put_int(ls_buf_t *buf, int64_t v) {
        char tmp[24], *p = tmp + sizeof(tmp);
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

        do {
                *--p = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                *--p = '-';
        return ls_buf_append(buf, p, (size_t)(tmp + sizeof(tmp) - p));
}

static ls_err_t ls_json_put_uint(ls_buf_t *buf, uint64_t u) {
        char tmp[24], *p = tmp + sizeof(tmp);

        do {
                *--p = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        return ls_buf_append(buf, p, (size_t)(tmp + sizeof(tmp) - p));
}

static const char *ls_json_level_name(const ls_level_t *levels, size_t n,
                                      int idx) {
        if (idx < 0 || (size_t)idx >= n)
                return "";
        return levels[idx].name;
}

/* Writes the output id; falls back to the heap when it is long. */
static ls_err_t ls_json_put_id(ls_buf_t *buf, const ls_output_t *o) {
        char small[LS_OUTPUT_ID_MAX + 1], *id = small;
        int n = ls_output_id(o, small, sizeof(small));
        ls_err_t err;

        if (n < 0)
                return LS_ERR_INVALID;
        if ((size_t)n >= sizeof(small)) {
                if (!(id = ls_malloc((size_t)n + 1)))
                        return LS_ERR_NOMEM;
                ls_output_id(o, id, (size_t)n + 1);
        }
        err = ls_json_put_str(buf, id);
        if (id != small)
                ls_free(id);
        return err;
}

#define PUT(expr)                                                              \
        do {                                                                   \
                if ((err = (expr)) != LS_OK)                                   \
                        return err;                                            \
        } while (0)

static ls_err_t ls_json_put_opt_int(ls_buf_t *buf, int has, int64_t v) {
        return has ? ls_json_put_int(buf, v) : ls_json_put(buf, "null");
}

static ls_err_t ls_json_put_opt_str(ls_buf_t *buf, const char *s) {
        return s ? ls_json_put_str(buf, s) : ls_json_put(buf, "null");
}

/* One MQL condition (enter / stay) and whether the alert's values meet
 * it (schemas/alert.avsc Qualify). */
static ls_err_t ls_json_put_qualify(ls_buf_t *buf, const ls_model_t *m,
                                    const ls_qualify_t *q,
                                    const ls_output_t *o) {
        ls_err_t err;

        if ((err = ls_json_put(buf, "{\"min_total\":")) ||
            (err = ls_json_put_opt_int(buf, q->has_min_total, q->min_total)) ||
            (err = ls_json_put(buf, ",\"min_grade\":")) ||
            (err = ls_json_put_opt_str(
                     buf, q->min_grade >= 0
                                  ? ls_json_level_name(m->grades, m->n_grades,
                                                       q->min_grade)
                                  : NULL)) ||
            (err = ls_json_put(buf, ",\"min_band\":")) ||
            (err = ls_json_put_opt_str(
                     buf, q->min_band >= 0
                                  ? ls_json_level_name(m->bands, m->n_bands,
                                                       q->min_band)
                                  : NULL)))
                return err;
        return ls_json_put(buf, ls_qualify_holds(q, o->total, o->grade, o->band)
                                        ? ",\"holds\":true}"
                                        : ",\"holds\":false}");
}

/* The alert fields after `reasons` (docs/SCHEMAS.md, the same as the
 * Avro schema's). */
static ls_err_t ls_json_put_alert(ls_buf_t *buf, const ls_outbuf_t *ob,
                                  const ls_output_t *o) {
        const ls_model_t *m = o->model;
        const ls_alert_item_t *it = ls_output_items(ob, o);
        ls_err_t err = LS_OK;
        uint32_t i, n;

        PUT(ls_json_put(buf, ",\"condition\":"));
        if (o->alert == LS_ALERT_HOT_LEAD) {
                PUT(ls_json_put(buf, "{\"enter\":null,\"stay\":null,"
                                     "\"window\":{\"within_ms\":"));
                PUT(ls_json_put_int(buf,
                                    m->hot.points > 0 ? m->hot.within_ms : 0));
                PUT(ls_json_put(buf, ",\"min_points\":"));
                PUT(ls_json_put_opt_int(buf, m->hot.points > 0, m->hot.points));
                PUT(ls_json_put(buf, ",\"sum\":"));
                PUT(ls_json_put_int(buf, o->hot_sum));
                PUT(ls_json_put(buf, ",\"event_type\":"));
                PUT(ls_json_put_opt_str(buf, o->hot_event));
                PUT(ls_json_put(buf, ",\"events\":["));
                for (i = 0; i < o->n_hot; i++) {
                        const ls_alert_item_t *e = &it[o->n_top + i];

                        PUT(ls_json_put(buf, i ? ",{\"type\":" : "{\"type\":"));
                        PUT(ls_json_put_str(buf, e->name));
                        PUT(ls_json_put(buf, ",\"id\":"));
                        PUT(ls_json_put_str(buf, ls_alert_item_text(ob, e)));
                        PUT(ls_json_put(buf, ",\"time\":"));
                        PUT(ls_json_put_int(buf, e->time));
                        PUT(ls_json_put(buf, ",\"points\":"));
                        PUT(ls_json_put_int(buf, e->points));
                        PUT(ls_json_put(buf, "}"));
                }
                PUT(ls_json_put(buf, "],\"more\":"));
                PUT(ls_json_put_int(buf, o->hot_more));
                PUT(ls_json_put(buf, "}}"));
        } else {
                PUT(ls_json_put(buf, "{\"enter\":"));
                PUT(ls_json_put_qualify(buf, m, &m->mql.enter, o));
                PUT(ls_json_put(buf, ",\"stay\":"));
                PUT(ls_json_put_qualify(buf, m, &m->mql.stay, o));
                PUT(ls_json_put(buf, ",\"window\":null}"));
        }
        PUT(ls_json_put(buf, ",\"contributions\":["));
        for (i = 0; i < o->n_top; i++) {
                PUT(ls_json_put(buf, i ? ",{\"rule\":" : "{\"rule\":"));
                PUT(ls_json_put_str(buf, it[i].name));
                PUT(ls_json_put(buf, ",\"points\":"));
                PUT(ls_json_put_int(buf, it[i].points));
                PUT(ls_json_put(buf, "}"));
        }
        PUT(ls_json_put(buf, "],\"fit_rules\":["));
        for (i = 0, n = 0; i < m->n_fit_rules && i < 64; i++) {
                if (!(o->fit_bits >> i & 1))
                        continue;
                PUT(ls_json_put(buf, n++ ? ",{\"rule\":" : "{\"rule\":"));
                PUT(ls_json_put_str(buf, m->fit_rules[i].id));
                PUT(ls_json_put(buf, ",\"points\":"));
                PUT(ls_json_put_int(buf, m->fit_rules[i].points));
                PUT(ls_json_put(buf, "}"));
        }
        PUT(ls_json_put(buf, "],\"attributes\":{"));
        for (i = 0; i < o->n_attrs; i++) {
                const ls_alert_item_t *a = &it[o->n_top + o->n_hot + i];

                if (i)
                        PUT(ls_json_put(buf, ","));
                PUT(ls_json_put_str(buf, a->name));
                PUT(ls_json_put(buf, ":"));
                PUT(ls_json_put_str(buf, ls_alert_item_text(ob, a)));
        }
        PUT(ls_json_put(buf, "},\"record_time\":"));
        PUT(ls_json_put_opt_int(buf, o->record_time > 0, o->record_time));
        return ls_json_put(buf, o->backfill ? ",\"backfill\":true"
                                            : ",\"backfill\":false");
}

static ls_err_t ls_json_put_real(ls_buf_t *buf, double d) {
        char text[40];

        if (!isfinite(d)) /* JSON has no such numbers */
                return ls_json_put(buf, "null");
        ls_json_real_text(d, text, sizeof(text));
        return ls_json_put(buf, text);
}

/* A logistic model's probability and features (only its outputs have
 * them in JSON). */
static ls_err_t ls_json_put_logit(ls_buf_t *buf, const ls_outbuf_t *ob,
                                  const ls_output_t *o) {
        const ls_feature_t *f = ls_output_features(ob, o);
        ls_err_t err;
        uint32_t i;

        PUT(ls_json_put(buf, ",\"probability\":"));
        PUT(ls_json_put_real(buf, o->probability));
        PUT(ls_json_put(buf, ",\"features\":["));
        for (i = 0; i < o->n_features; i++) {
                PUT(ls_json_put(buf, i ? ",{\"name\":" : "{\"name\":"));
                PUT(ls_json_put_str(buf, f[i].name));
                PUT(ls_json_put(buf, ",\"value\":"));
                PUT(ls_json_put_real(buf, f[i].value));
                PUT(ls_json_put(buf, ",\"contribution\":"));
                PUT(ls_json_put_real(buf, f[i].contribution));
                PUT(ls_json_put(buf, "}"));
        }
        return ls_json_put(buf, "]");
}

ls_err_t ls_json_encode_output(const ls_outbuf_t *ob, const ls_output_t *o,
                               ls_buf_t *buf) {
        const ls_model_t *m = o->model;
        const ls_reason_t *r = ls_output_reasons(ob, o);
        ls_err_t err = LS_OK;
        uint32_t i;

        PUT(ls_json_put(buf, "{\"kind\":"));
        PUT(ls_json_put_str(buf, ls_output_kind2str(o->kind)));
        if (o->kind == LS_OUT_ALERT) {
                PUT(ls_json_put(buf, ",\"alert\":"));
                PUT(ls_json_put_str(buf, ls_alert_kind2str(o->alert)));
        }
        PUT(ls_json_put(buf, ",\"id\":"));
        PUT(ls_json_put_id(buf, o));
        PUT(ls_json_put(buf, ",\"lead_id\":"));
        PUT(ls_json_put_str(buf, o->lead_id));
        PUT(ls_json_put(buf, ",\"model\":"));
        PUT(ls_json_put_str(buf, m->id));
        PUT(ls_json_put(buf, ",\"model_version\":"));
        PUT(ls_json_put_str(buf, m->version));
        PUT(ls_json_put(buf, ",\"seq\":"));
        PUT(ls_json_put_uint(buf, o->seq));
        PUT(ls_json_put(buf, ",\"time\":"));
        PUT(ls_json_put_int(buf, o->time));
        PUT(ls_json_put(buf, ",\"cause\":"));
        PUT(ls_json_put_str(buf, ls_cause2str(o->cause)));
        PUT(ls_json_put(buf, ",\"cause_id\":"));
        if (o->cause_id)
                PUT(ls_json_put_str(buf, o->cause_id));
        else
                PUT(ls_json_put(buf, "null"));
        PUT(ls_json_put(buf, ",\"total\":"));
        PUT(ls_json_put_int(buf, o->total));
        PUT(ls_json_put(buf, ",\"fit\":"));
        PUT(ls_json_put_int(buf, o->fit));
        PUT(ls_json_put(buf, ",\"engagement\":"));
        PUT(ls_json_put_int(buf, o->engagement));
        PUT(ls_json_put(buf, ",\"prev_total\":"));
        PUT(ls_json_put_int(buf, o->prev_total));
        PUT(ls_json_put(buf, ",\"grade\":"));
        PUT(ls_json_put_str(
                buf, ls_json_level_name(m->grades, m->n_grades, o->grade)));
        PUT(ls_json_put(buf, ",\"band\":"));
        PUT(ls_json_put_str(buf,
                            ls_json_level_name(m->bands, m->n_bands, o->band)));
        PUT(ls_json_put(buf, ",\"cell\":"));
        PUT(ls_json_put_str(buf, o->cell));
        PUT(ls_json_put(buf, o->mql ? ",\"mql\":true" : ",\"mql\":false"));
        PUT(ls_json_put(buf, ",\"reasons\":["));
        for (i = 0; i < o->n_reasons; i++) {
                PUT(ls_json_put(buf, i ? ",{\"kind\":" : "{\"kind\":"));
                PUT(ls_json_put_str(buf, ls_reason_kind2str(r[i].kind)));
                PUT(ls_json_put(buf, ",\"rule\":"));
                PUT(ls_json_put_str(buf, r[i].rule_id ? r[i].rule_id : ""));
                PUT(ls_json_put(buf, ",\"points\":"));
                PUT(ls_json_put_int(buf, r[i].points));
                PUT(ls_json_put(buf, ",\"capped\":"));
                PUT(ls_json_put_int(buf, r[i].capped));
                PUT(ls_json_put(buf, "}"));
        }
        PUT(ls_json_put(buf, "]"));
        if (o->kind == LS_OUT_ALERT && m)
                PUT(ls_json_put_alert(buf, ob, o));
        if (m && m->kind == LS_MODEL_LOGISTIC)
                PUT(ls_json_put_logit(buf, ob, o));
        PUT(ls_json_put(buf, "}"));
        return LS_OK;
}
#undef PUT

int ls_json_blank(const char *data, size_t len) {
        size_t i;

        for (i = 0; i < len; i++)
                if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' &&
                    data[i] != '\n')
                        return 0;
        return 1;
}
