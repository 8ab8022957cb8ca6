/*
 * ls_avro.c - Avro binary of leadscore's schemas: a bounds-checked decoder
 * specialised to LeadEvent / LeadProfile, a bounds checker for any writer
 * schema (run before avro-c sees the bytes), the mapping of avro-c reader
 * values to ls_input_t, and encoders of ScoreUpdate / Alert / DeadLetter.
 *
 * See ls_avro_int.h for the contracts. Offsets in messages count from the
 * start of the Kafka message value (the caller passes the framing size).
 */
#include "codec/ls_avro_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "leadscore/ls_alloc.h"

#define LS_AVRO_MAX_DEPTH 64

/* ------------------------------------------------------------------ */
/* Scratch memory                                                      */

void ls_avro_scratch_init(ls_avro_scratch_t *sc) {
        memset(sc, 0, sizeof(*sc));
}

void ls_avro_scratch_free(ls_avro_scratch_t *sc) {
        ls_free(sc->arena);
        ls_free(sc->kv);
        ls_avro_scratch_init(sc);
}

static ls_err_t scratch_arena_reserve(ls_avro_scratch_t *sc, size_t need) {
        char *p;
        size_t size;

        sc->arena_len = 0;
        if (need <= sc->arena_size)
                return LS_OK;
        size = sc->arena_size ? sc->arena_size : 256;
        while (size < need)
                size *= 2;
        p = ls_realloc(sc->arena, size);
        if (!p)
                return LS_ERR_NOMEM;
        sc->arena = p;
        sc->arena_size = size;
        return LS_OK;
}

static ls_err_t scratch_kv_reserve(ls_avro_scratch_t *sc, size_t need) {
        ls_kv_t *kv;
        size_t size;

        if (need <= sc->kv_size)
                return LS_OK;
        size = sc->kv_size ? sc->kv_size : 16;
        while (size < need)
                size *= 2;
        kv = ls_realloc(sc->kv, size * sizeof(*kv));
        if (!kv)
                return LS_ERR_NOMEM;
        sc->kv = kv;
        sc->kv_size = size;
        return LS_OK;
}

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */

int ls_avro_utf8_check(const uint8_t *s, size_t len, size_t *bad) {
        size_t i = 0;

        while (i < len) {
                uint8_t c = s[i];
                size_t n, k;
                uint32_t cp;

                /* ASCII run, 8 bytes at a time. */
                if (c < 0x80) {
                        while (i + 8 <= len) {
                                uint64_t w;
                                memcpy(&w, s + i, 8);
                                if (w & 0x8080808080808080ULL)
                                        break;
                                /* a NUL byte: has-zero-byte trick */
                                if ((w - 0x0101010101010101ULL) & ~w &
                                    0x8080808080808080ULL)
                                        break;
                                i += 8;
                        }
                        if (i >= len)
                                break;
                        c = s[i];
                        if (c < 0x80) {
                                if (c == 0)
                                        goto fail;
                                i++;
                                continue;
                        }
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        n = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3;
                        cp = c & 0x07;
                } else {
                        goto fail;
                }
                if (len - i <= n) /* continuation bytes missing */
                        goto fail;
                for (k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                goto fail;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((n == 2 &&
                     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
                        goto fail;
                i += n + 1;
        }
        return 1;
fail:
        *bad = i;
        return 0;
}

/* ------------------------------------------------------------------ */
/* Reader over untrusted bytes                                         */

typedef struct ls_avro_rd_s {
        const uint8_t *start;
        const uint8_t *p;
        const uint8_t *end;
        size_t base;       /* added to offsets in messages */
        const char *field; /* what is being read, for messages */
        long idx;          /* map entry index, or -1 */
        const char *part;  /* "key" / "value" of a map entry */
        char *errstr;
        size_t errstr_size;
} ls_avro_rd_t;

static size_t rd_off(const ls_avro_rd_t *rd, const uint8_t *p) {
        return rd->base + (size_t)(p - rd->start);
}

static ls_err_t rd_fail(ls_avro_rd_t *rd, const uint8_t *at, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static ls_err_t rd_fail(ls_avro_rd_t *rd, const uint8_t *at, const char *fmt,
                        ...) {
        char what[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (rd->idx >= 0)
                return ls_seterr(rd->errstr, rd->errstr_size, LS_ERR_INVALID,
                                 "%s[%ld].%s: %s at byte %zu", rd->field,
                                 rd->idx, rd->part, what, rd_off(rd, at));
        return ls_seterr(rd->errstr, rd->errstr_size, LS_ERR_INVALID,
                         "%s: %s at byte %zu", rd->field, what, rd_off(rd, at));
}

/* Reads a zigzag varint of at most 10 bytes. */
static ls_err_t rd_long(ls_avro_rd_t *rd, int64_t *v) {
        const uint8_t *p = rd->p;
        uint64_t u = 0;
        int i;

        if (p < rd->end && *p < 0x80) { /* one byte: the common case */
                u = *p;
                rd->p = p + 1;
                *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
                return LS_OK;
        }
        for (i = 0;; i++) {
                uint8_t b;

                if (p + i >= rd->end)
                        return rd_fail(rd, p,
                                       "truncated varint (%d of %zu "
                                       "bytes left)",
                                       i, (size_t)(rd->end - p));
                b = p[i];
                if (i == 9) {
                        if (b > 1)
                                return rd_fail(rd, p,
                                               "varint longer than "
                                               "10 bytes or above 64 bits");
                        u |= (uint64_t)b << 63;
                        break;
                }
                u |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80))
                        break;
        }
        rd->p = p + i + 1;
        *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return LS_OK;
}

/* Reads a length (string/bytes/block size) that must fit the buffer. */
static ls_err_t rd_len(ls_avro_rd_t *rd, const char *what, size_t *lenp) {
        const uint8_t *at = rd->p;
        int64_t n = 0;
        ls_err_t err;

        if ((err = rd_long(rd, &n)))
                return err;
        if (n < 0)
                return rd_fail(rd, at, "negative %s %" PRId64, what, n);
        if ((uint64_t)n > (uint64_t)(rd->end - rd->p))
                return rd_fail(rd, at,
                               "%s %" PRId64 " exceeds the %zu "
                               "remaining bytes",
                               what, n, (size_t)(rd->end - rd->p));
        *lenp = (size_t)n;
        return LS_OK;
}

/* Reads a string into the arena, NUL-terminated. */
static ls_err_t rd_string(ls_avro_rd_t *rd, ls_avro_scratch_t *sc,
                          const char **out) {
        size_t n = 0, bad = 0;
        const uint8_t *s;
        char *dst;
        ls_err_t err;

        if ((err = rd_len(rd, "length", &n)))
                return err;
        s = rd->p;
        if (!ls_avro_utf8_check(s, n, &bad))
                return rd_fail(rd, s + bad,
                               s[bad] ? "invalid UTF-8" : "NUL byte in string");
        /* The arena was sized for the whole record up front. */
        dst = sc->arena + sc->arena_len;
        memcpy(dst, s, n);
        dst[n] = '\0';
        sc->arena_len += n + 1;
        rd->p = s + n;
        *out = dst;
        return LS_OK;
}

static ls_err_t rd_map(ls_avro_rd_t *rd, ls_avro_scratch_t *sc,
                       const char *field, size_t *np) {
        size_t n = 0;
        ls_err_t err;

        rd->field = field;
        for (;;) {
                const uint8_t *at = rd->p;
                int64_t count = 0;
                size_t i, size = 0;

                rd->idx = -1;
                if ((err = rd_long(rd, &count)))
                        return err;
                if (count == 0)
                        break;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return rd_fail(rd, at,
                                               "block count %" PRId64
                                               " out of range",
                                               count);
                        count = -count;
                        if ((err = rd_len(rd, "block size", &size)))
                                return err;
                }
                /* Each entry needs at least 2 bytes (two lengths). */
                if ((uint64_t)count > (uint64_t)(rd->end - rd->p) / 2)
                        return rd_fail(rd, at,
                                       "block count %" PRId64
                                       " exceeds what the %zu remaining "
                                       "bytes can hold",
                                       count, (size_t)(rd->end - rd->p));
                if ((err = scratch_kv_reserve(sc, n + (size_t)count)))
                        return ls_seterr(rd->errstr, rd->errstr_size, err,
                                         "%s: out of memory", field);
                for (i = 0; i < (size_t)count; i++, n++) {
                        rd->idx = (long)n;
                        rd->part = "key";
                        if ((err = rd_string(rd, sc, &sc->kv[n].key)))
                                return err;
                        rd->part = "value";
                        if ((err = rd_string(rd, sc, &sc->kv[n].value)))
                                return err;
                }
        }
        rd->idx = -1;
        *np = n;
        return LS_OK;
}

ls_err_t ls_avro_decode(ls_avro_scratch_t *sc, ls_input_kind_t kind,
                        const void *data, size_t len, size_t base,
                        ls_input_t *in, char *errstr, size_t errstr_size) {
        ls_avro_rd_t rd;
        const uint8_t *at;
        int64_t branch = 0;
        ls_err_t err;

        rd.start = rd.p = data;
        rd.end = rd.start + len;
        rd.base = base;
        rd.idx = -1;
        rd.part = NULL;
        rd.errstr = errstr;
        rd.errstr_size = errstr_size;

        /* Every string needs >= 1 byte of input plus 1 NUL in the arena. */
        if (scratch_arena_reserve(sc, 2 * len + 1))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory for a %zu-byte record", len);
        memset(in, 0, sizeof(*in));
        in->kind = kind;

        rd.field = "lead_id";
        if ((err = rd_string(&rd, sc, &in->lead_id)))
                return err;
        if (kind == LS_INPUT_EVENT) {
                rd.field = "event_id";
                if ((err = rd_string(&rd, sc, &in->event_id)))
                        return err;
                rd.field = "event_type";
                if ((err = rd_string(&rd, sc, &in->event_type)))
                        return err;
                rd.field = "occurred_at";
                if ((err = rd_long(&rd, &in->time)))
                        return err;
                rd.field = "product";
                at = rd.p;
                if ((err = rd_long(&rd, &branch)))
                        return err;
                if (branch == 1) {
                        if ((err = rd_string(&rd, sc, &in->product)))
                                return err;
                } else if (branch != 0) {
                        return rd_fail(&rd, at,
                                       "union index %" PRId64
                                       " out of range [0, 1]",
                                       branch);
                }
                if ((err = rd_map(&rd, sc, "properties", &in->n_fields)))
                        return err;
        } else {
                rd.field = "updated_at";
                if ((err = rd_long(&rd, &in->time)))
                        return err;
                if ((err = rd_map(&rd, sc, "attributes", &in->n_fields)))
                        return err;
        }
        in->fields = in->n_fields ? sc->kv : NULL;
        if (rd.p != rd.end)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%zu trailing bytes after the record at "
                                 "byte %zu",
                                 (size_t)(rd.end - rd.p), rd_off(&rd, rd.p));
        return LS_OK;
}

/* ------------------------------------------------------------------ */
/* Bounds check of any writer schema                                   */

typedef struct ls_avro_pc_s {
        ls_avro_rd_t rd;
        char path[256]; /* field path of the value being checked */
        size_t path_len;
        size_t items_left; /* array/map items the record may still
                                * hold: one per byte of the record, in
                                * total, so that items of zero bytes
                                * (null, empty records) cannot make the
                                * check quadratic */
} ls_avro_pc_t;

static size_t pc_push(ls_avro_pc_t *pc, const char *name) {
        size_t old = pc->path_len;
        int n = snprintf(pc->path + old, sizeof(pc->path) - old, "%s%s",
                         old ? "." : "", name);

        if (n > 0)
                pc->path_len = old + (size_t)n < sizeof(pc->path)
                                       ? old + (size_t)n
                                       : sizeof(pc->path) - 1;
        pc->rd.field = pc->path;
        return old;
}

static void pc_pop(ls_avro_pc_t *pc, size_t old) {
        pc->path_len = old;
        pc->path[old] = '\0';
}

static ls_err_t pc_value(ls_avro_pc_t *pc, avro_schema_t s, int depth);

static ls_err_t pc_blocks(ls_avro_pc_t *pc, avro_schema_t items, int is_map,
                          int depth) {
        ls_err_t err;
        size_t n = 0;

        for (;;) {
                const uint8_t *at = pc->rd.p;
                int64_t count = 0, i;
                size_t size = 0;

                if ((err = rd_long(&pc->rd, &count)))
                        return err;
                if (count == 0)
                        return LS_OK;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return rd_fail(&pc->rd, at,
                                               "block count "
                                               "out of range");
                        count = -count;
                        if ((err = rd_len(&pc->rd, "block size", &size)))
                                return err;
                }
                /* At most one item per remaining byte, so that avro-c's
                 * allocations stay proportional to the input. */
                if ((uint64_t)count > (uint64_t)(pc->rd.end - pc->rd.p))
                        return rd_fail(&pc->rd, at,
                                       "block count %" PRId64
                                       " exceeds the %zu remaining bytes",
                                       count, (size_t)(pc->rd.end - pc->rd.p));
                if ((uint64_t)count > pc->items_left)
                        return rd_fail(&pc->rd, at,
                                       "block count %" PRId64
                                       " exceeds what is left of the record's "
                                       "item budget (%zu: one item per byte "
                                       "of the record)",
                                       count, pc->items_left);
                pc->items_left -= (size_t)count;
                for (i = 0; i < count; i++, n++) {
                        char label[32];
                        size_t old;

                        snprintf(label, sizeof(label), "[%zu]", n);
                        old = pc->path_len;
                        if (old + strlen(label) < sizeof(pc->path)) {
                                memcpy(pc->path + old, label,
                                       strlen(label) + 1);
                                pc->path_len += strlen(label);
                        }
                        pc->rd.field = pc->path;
                        if (is_map) {
                                size_t klen = 0;
                                if ((err = rd_len(&pc->rd, "key length",
                                                  &klen)))
                                        return err;
                                pc->rd.p += klen;
                        }
                        err = pc_value(pc, items, depth + 1);
                        pc_pop(pc, old);
                        if (err)
                                return err;
                }
        }
}

static ls_err_t pc_value(ls_avro_pc_t *pc, avro_schema_t s, int depth) {
        ls_avro_rd_t *rd = &pc->rd;
        const uint8_t *at = rd->p;
        int64_t v = 0;
        size_t n = 0, i;
        ls_err_t err;

        if (depth > LS_AVRO_MAX_DEPTH)
                return rd_fail(rd, at, "nesting deeper than %d",
                               LS_AVRO_MAX_DEPTH);
        if (!pc->path_len)
                rd->field = "(record)";
        switch (avro_typeof(s)) {
        case AVRO_NULL:
                return LS_OK;
        case AVRO_BOOLEAN:
                if (rd->p >= rd->end)
                        return rd_fail(rd, at, "truncated boolean");
                if (*rd->p > 1)
                        return rd_fail(rd, at, "boolean byte 0x%02x", *rd->p);
                rd->p++;
                return LS_OK;
        case AVRO_INT32:
                if ((err = rd_long(rd, &v)))
                        return err;
                if (v < INT32_MIN || v > INT32_MAX)
                        return rd_fail(rd, at,
                                       "int %" PRId64 " out of 32-bit range",
                                       v);
                return LS_OK;
        case AVRO_INT64:
                return rd_long(rd, &v);
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                n = avro_typeof(s) == AVRO_FLOAT ? 4 : 8;
                if ((size_t)(rd->end - rd->p) < n)
                        return rd_fail(rd, at, "truncated %s",
                                       n == 4 ? "float" : "double");
                rd->p += n;
                return LS_OK;
        case AVRO_STRING:
        case AVRO_BYTES:
                if ((err = rd_len(rd, "length", &n)))
                        return err;
                rd->p += n;
                return LS_OK;
        case AVRO_FIXED:
                n = (size_t)avro_schema_fixed_size(s);
                if ((size_t)(rd->end - rd->p) < n)
                        return rd_fail(rd, at,
                                       "fixed of %zu bytes exceeds "
                                       "the %zu remaining bytes",
                                       n, (size_t)(rd->end - rd->p));
                rd->p += n;
                return LS_OK;
        case AVRO_ENUM:
                if ((err = rd_long(rd, &v)))
                        return err;
                if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
                        return rd_fail(
                                rd, at,
                                "enum index %" PRId64 " out of range [0, %d)",
                                v, avro_schema_enum_number_of_symbols(s));
                return LS_OK;
        case AVRO_UNION:
                if ((err = rd_long(rd, &v)))
                        return err;
                n = avro_schema_union_size(s);
                if (v < 0 || (uint64_t)v >= n)
                        return rd_fail(rd, at,
                                       "union index %" PRId64
                                       " out of range [0, %zu]",
                                       v, n - 1);
                return pc_value(pc, avro_schema_union_branch(s, (int)v),
                                depth + 1);
        case AVRO_RECORD:
                n = avro_schema_record_size(s);
                for (i = 0; i < n; i++) {
                        size_t old = pc_push(
                                pc, avro_schema_record_field_name(s, (int)i));
                        err = pc_value(pc,
                                       avro_schema_record_field_get_by_index(
                                               s, (int)i),
                                       depth + 1);
                        pc_pop(pc, old);
                        if (err)
                                return err;
                }
                return LS_OK;
        case AVRO_ARRAY:
                return pc_blocks(pc, avro_schema_array_items(s), 0, depth);
        case AVRO_MAP:
                return pc_blocks(pc, avro_schema_map_values(s), 1, depth);
        case AVRO_LINK:
                return pc_value(pc, avro_schema_link_target(s), depth + 1);
        }
        return rd_fail(rd, at, "unsupported schema type %d",
                       (int)avro_typeof(s));
}

ls_err_t ls_avro_precheck(avro_schema_t writer, const void *data, size_t len,
                          size_t base, char *errstr, size_t errstr_size) {
        ls_avro_pc_t pc;
        ls_err_t err;

        memset(&pc, 0, sizeof(pc));
        pc.rd.start = pc.rd.p = data;
        pc.rd.end = pc.rd.start + len;
        pc.rd.base = base;
        pc.rd.idx = -1;
        pc.rd.errstr = errstr;
        pc.rd.errstr_size = errstr_size;
        pc.rd.field = "(record)";
        pc.items_left = len;
        if ((err = pc_value(&pc, writer, 0)))
                return err;
        if (pc.rd.p != pc.rd.end)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%zu trailing bytes after the record at "
                                 "byte %zu",
                                 (size_t)(pc.rd.end - pc.rd.p),
                                 rd_off(&pc.rd, pc.rd.p));
        return LS_OK;
}

/* ------------------------------------------------------------------ */
/* avro-c reader value -> ls_input_t                                   */

static ls_err_t val_string(avro_value_t *v, const char *field, const char **out,
                           char *errstr, size_t errstr_size) {
        const char *s;
        size_t size, bad;

        if (avro_value_get_string(v, &s, &size))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: not a string: %s", field,
                                 avro_strerror());
        /* avro-c counts the terminating NUL in size. */
        if (size > 0)
                size--;
        if (!ls_avro_utf8_check((const uint8_t *)s, size, &bad))
                return ls_seterr(
                        errstr, errstr_size, LS_ERR_INVALID,
                        "%s: %s at character %zu", field,
                        s[bad] ? "invalid UTF-8" : "NUL byte in string", bad);
        *out = s;
        return LS_OK;
}

static ls_err_t val_field(avro_value_t *rec, const char *name,
                          avro_value_t *child, char *errstr,
                          size_t errstr_size) {
        if (avro_value_get_by_name(rec, name, child, NULL))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: missing from the resolved record", name);
        return LS_OK;
}

ls_err_t ls_avro_value_to_input(ls_avro_scratch_t *sc, ls_input_kind_t kind,
                                avro_value_t *v, ls_input_t *in, char *errstr,
                                size_t errstr_size) {
        avro_value_t f, branch;
        const char *map_name;
        size_t n, i;
        ls_err_t err;

        memset(in, 0, sizeof(*in));
        in->kind = kind;
        if ((err = val_field(v, "lead_id", &f, errstr, errstr_size)) ||
            (err = val_string(&f, "lead_id", &in->lead_id, errstr,
                              errstr_size)))
                return err;
        if (kind == LS_INPUT_EVENT) {
                int disc;

                if ((err = val_field(v, "event_id", &f, errstr, errstr_size)) ||
                    (err = val_string(&f, "event_id", &in->event_id, errstr,
                                      errstr_size)) ||
                    (err = val_field(v, "event_type", &f, errstr,
                                     errstr_size)) ||
                    (err = val_string(&f, "event_type", &in->event_type, errstr,
                                      errstr_size)) ||
                    (err = val_field(v, "occurred_at", &f, errstr,
                                     errstr_size)))
                        return err;
                if (avro_value_get_long(&f, &in->time))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "occurred_at: not a long");
                /* absent when the writer predates the field (null) */
                if (avro_value_get_by_name(v, "product", &f, NULL))
                        goto no_product;
                if (avro_value_get_discriminant(&f, &disc) ||
                    avro_value_get_current_branch(&f, &branch))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "product: not a union");
                if (avro_value_get_type(&branch) == AVRO_STRING &&
                    (err = val_string(&branch, "product", &in->product, errstr,
                                      errstr_size)))
                        return err;
        no_product:
                map_name = "properties";
        } else {
                if ((err = val_field(v, "updated_at", &f, errstr, errstr_size)))
                        return err;
                if (avro_value_get_long(&f, &in->time))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "updated_at: not a long");
                map_name = "attributes";
        }
        if ((err = val_field(v, map_name, &f, errstr, errstr_size)))
                return err;
        if (avro_value_get_size(&f, &n))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: not a map", map_name);
        if (scratch_kv_reserve(sc, n))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "%s: out of memory for %zu entries", map_name,
                                 n);
        for (i = 0; i < n; i++) {
                avro_value_t item;
                const char *key;
                char label[64];
                size_t bad;

                snprintf(label, sizeof(label), "%s[%zu].value", map_name, i);
                if (avro_value_get_by_index(&f, i, &item, &key))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s[%zu]: unreadable", map_name, i);
                if (!ls_avro_utf8_check((const uint8_t *)key, strlen(key),
                                        &bad))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s[%zu].key: invalid UTF-8 at "
                                         "character %zu",
                                         map_name, i, bad);
                sc->kv[i].key = key;
                if ((err = val_string(&item, label, &sc->kv[i].value, errstr,
                                      errstr_size)))
                        return err;
        }
        in->fields = n ? sc->kv : NULL;
        in->n_fields = n;
        return LS_OK;
}

/* ------------------------------------------------------------------ */
/* Reader schema shape                                                 */

typedef struct ls_avro_expect_s {
        const char *name;
        avro_type_t type;
} ls_avro_expect_t;

static const ls_avro_expect_t ls_avro_event_fields[] = {
        {"lead_id", AVRO_STRING},    {"event_id", AVRO_STRING},
        {"event_type", AVRO_STRING}, {"occurred_at", AVRO_INT64},
        {"product", AVRO_UNION},     {"properties", AVRO_MAP},
};

static const ls_avro_expect_t ls_avro_profile_fields[] = {
        {"lead_id", AVRO_STRING},
        {"updated_at", AVRO_INT64},
        {"attributes", AVRO_MAP},
};

ls_err_t ls_avro_check_reader_schema(ls_input_kind_t kind, avro_schema_t schema,
                                     const char *path, char *errstr,
                                     size_t errstr_size) {
        const ls_avro_expect_t *ex = kind == LS_INPUT_EVENT
                                             ? ls_avro_event_fields
                                             : ls_avro_profile_fields;
        size_t n = kind == LS_INPUT_EVENT
                           ? sizeof(ls_avro_event_fields) / sizeof(*ex)
                           : sizeof(ls_avro_profile_fields) / sizeof(*ex);
        size_t i;

        if (avro_typeof(schema) != AVRO_RECORD ||
            avro_schema_record_size(schema) != n)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: expected a record of %zu fields", path,
                                 n);
        for (i = 0; i < n; i++) {
                const char *name =
                        avro_schema_record_field_name(schema, (int)i);
                avro_schema_t fs =
                        avro_schema_record_field_get_by_index(schema, (int)i);

                if (strcmp(name, ex[i].name) || avro_typeof(fs) != ex[i].type)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: field %zu is \"%s\" of type "
                                         "%s, expected \"%s\"",
                                         path, i, name,
                                         avro_schema_type_name(fs), ex[i].name);
                if (ex[i].type == AVRO_UNION &&
                    (avro_schema_union_size(fs) != 2 ||
                     avro_typeof(avro_schema_union_branch(fs, 0)) !=
                             AVRO_NULL ||
                     avro_typeof(avro_schema_union_branch(fs, 1)) !=
                             AVRO_STRING))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: field \"%s\" must be "
                                         "[\"null\", \"string\"]",
                                         path, name);
                if (ex[i].type == AVRO_MAP &&
                    avro_typeof(avro_schema_map_values(fs)) != AVRO_STRING)
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: field \"%s\" must be a map of "
                                         "strings",
                                         path, name);
        }
        return LS_OK;
}

/* ------------------------------------------------------------------ */
/* Encoders                                                            */

typedef struct ls_avro_wr_s {
        ls_buf_t *buf;
        ls_err_t err;
} ls_avro_wr_t;

ls_err_t ls_avro_put_long(ls_buf_t *buf, int64_t v) {
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        uint8_t *p;

        if (ls_buf_reserve(buf, 10))
                return LS_ERR_NOMEM;
        p = (uint8_t *)buf->data + buf->len;
        while (u >= 0x80) {
                *p++ = (uint8_t)(u | 0x80);
                u >>= 7;
        }
        *p++ = (uint8_t)u;
        buf->len = (size_t)(p - (uint8_t *)buf->data);
        buf->data[buf->len] = '\0';
        return LS_OK;
}

static void wr_long(ls_avro_wr_t *w, int64_t v) {
        if (!w->err)
                w->err = ls_avro_put_long(w->buf, v);
}

static void wr_bytes(ls_avro_wr_t *w, const void *data, size_t len) {
        wr_long(w, (int64_t)len);
        if (!w->err)
                w->err = ls_buf_append(w->buf, data, len);
}

static void wr_str(ls_avro_wr_t *w, const char *s) {
        if (!s)
                s = "";
        wr_bytes(w, s, strlen(s));
}

static void wr_opt_str(ls_avro_wr_t *w, const char *s) {
        if (!s) {
                wr_long(w, 0);
                return;
        }
        wr_long(w, 1);
        wr_str(w, s);
}

static void wr_opt_bytes(ls_avro_wr_t *w, const void *data, size_t len) {
        if (!data) {
                wr_long(w, 0);
                return;
        }
        wr_long(w, 1);
        wr_bytes(w, data, len);
}

static const char *level_name(const ls_level_t *levels, size_t n, int idx) {
        if (idx < 0 || (size_t)idx >= n || !levels[idx].name)
                return "";
        return levels[idx].name;
}

static void wr_bool(ls_avro_wr_t *w, int v) {
        if (!w->err)
                w->err = ls_buf_append(w->buf, v ? "\1" : "\0", 1);
}

/* One Qualify: the model's MQL condition @p q, and whether the alert's
 * values meet it. */
static void wr_qualify(ls_avro_wr_t *w, const ls_model_t *m,
                       const ls_qualify_t *q, const ls_output_t *o) {
        wr_long(w, 1); /* the union's record branch */
        if (q->has_min_total) {
                wr_long(w, 1);
                wr_long(w, q->min_total);
        } else {
                wr_long(w, 0);
        }
        wr_opt_str(w, q->min_grade >= 0
                              ? level_name(m->grades, m->n_grades, q->min_grade)
                              : NULL);
        wr_opt_str(w, q->min_band >= 0
                              ? level_name(m->bands, m->n_bands, q->min_band)
                              : NULL);
        wr_bool(w, ls_qualify_holds(q, o->total, o->grade, o->band));
}

/* The alert fields after `reasons` (schemas/alert.avsc, in order). */
static void wr_alert(ls_avro_wr_t *w, const ls_outbuf_t *ob,
                     const ls_output_t *o) {
        const ls_model_t *m = o->model;
        const ls_alert_item_t *it = ls_output_items(ob, o);
        uint32_t i, n;

        /* condition */
        if (!m) {
                wr_long(w, 0);
        } else if (o->alert == LS_ALERT_HOT_LEAD) {
                wr_long(w, 1);
                wr_long(w, 0); /* enter */
                wr_long(w, 0); /* stay */
                wr_long(w, 1); /* window */
                wr_long(w, m->hot.points > 0 ? m->hot.within_ms : 0);
                if (m->hot.points > 0) {
                        wr_long(w, 1);
                        wr_long(w, m->hot.points);
                } else {
                        wr_long(w, 0);
                }
                wr_long(w, o->hot_sum);
                wr_opt_str(w, o->hot_event);
                if (o->n_hot) {
                        wr_long(w, o->n_hot);
                        for (i = 0; i < o->n_hot; i++) {
                                const ls_alert_item_t *e = &it[o->n_top + i];

                                wr_str(w, e->name);
                                wr_str(w, ls_alert_item_text(ob, e));
                                wr_long(w, e->time);
                                wr_long(w, e->points);
                        }
                }
                wr_long(w, 0);
                wr_long(w, o->hot_more);
        } else {
                wr_long(w, 1);
                wr_qualify(w, m, &m->mql.enter, o);
                wr_qualify(w, m, &m->mql.stay, o);
                wr_long(w, 0); /* window */
        }
        /* contributions */
        if (o->n_top) {
                wr_long(w, o->n_top);
                for (i = 0; i < o->n_top; i++) {
                        wr_str(w, it[i].name);
                        wr_long(w, it[i].points);
                }
        }
        wr_long(w, 0);
        /* fit_rules */
        for (i = 0, n = 0; m && i < m->n_fit_rules && i < 64; i++)
                n += (uint32_t)(o->fit_bits >> i & 1);
        if (n) {
                wr_long(w, n);
                for (i = 0; i < m->n_fit_rules && i < 64; i++) {
                        if (!(o->fit_bits >> i & 1))
                                continue;
                        wr_str(w, m->fit_rules[i].id);
                        wr_long(w, m->fit_rules[i].points);
                }
        }
        wr_long(w, 0);
        /* attributes */
        if (o->n_attrs) {
                wr_long(w, o->n_attrs);
                for (i = 0; i < o->n_attrs; i++) {
                        const ls_alert_item_t *a = &it[o->n_top + o->n_hot + i];

                        wr_str(w, a->name);
                        wr_str(w, ls_alert_item_text(ob, a));
                }
        }
        wr_long(w, 0);
        /* record_time, backfill */
        if (o->record_time > 0) {
                wr_long(w, 1);
                wr_long(w, o->record_time);
        } else {
                wr_long(w, 0);
        }
        wr_bool(w, o->backfill);
}

static void wr_double(ls_avro_wr_t *w, double d) {
        unsigned char b[8];
        uint64_t u;
        int i;

        memcpy(&u, &d, sizeof(u));
        for (i = 0; i < 8; i++)
                b[i] = (unsigned char)(u >> (8 * i)); /* little-endian */
        if (!w->err)
                w->err = ls_buf_append(w->buf, b, sizeof(b));
}

/* probability and features, the last fields of both output schemas: null
 * and none for a points model. */
static void wr_logit(ls_avro_wr_t *w, const ls_outbuf_t *ob,
                     const ls_output_t *o) {
        const ls_feature_t *f = ls_output_features(ob, o);
        uint32_t i;

        if (!o->model || o->model->kind != LS_MODEL_LOGISTIC) {
                wr_long(w, 0);
                wr_long(w, 0);
                return;
        }
        wr_long(w, 1);
        wr_double(w, o->probability);
        if (o->n_features) {
                wr_long(w, o->n_features);
                for (i = 0; i < o->n_features; i++) {
                        wr_str(w, f[i].name);
                        wr_double(w, f[i].value);
                        wr_double(w, f[i].contribution);
                }
        }
        wr_long(w, 0);
}

ls_err_t ls_avro_encode_output(const ls_outbuf_t *ob, const ls_output_t *o,
                               ls_buf_t *buf) {
        ls_avro_wr_t w = {buf, LS_OK};
        const ls_model_t *m = o->model;
        const ls_reason_t *r = ls_output_reasons(ob, o);
        char idbuf[LS_OUTPUT_ID_MAX + 1];
        char *id = idbuf;
        int n;
        uint32_t i;

        n = ls_output_id(o, idbuf, sizeof(idbuf));
        if (n < 0)
                return LS_ERR_INVALID;
        if ((size_t)n >= sizeof(idbuf)) {
                if (!(id = ls_malloc((size_t)n + 1)))
                        return LS_ERR_NOMEM;
                ls_output_id(o, id, (size_t)n + 1);
        }
        wr_str(&w, id);
        if (id != idbuf)
                ls_free(id);
        if (o->kind == LS_OUT_ALERT)
                wr_str(&w, ls_alert_kind2str(o->alert));
        wr_str(&w, o->lead_id);
        wr_str(&w, m ? m->id : "");
        wr_str(&w, m ? m->version : "");
        wr_long(&w, (int64_t)o->seq);
        wr_long(&w, o->time);
        wr_str(&w, ls_cause2str(o->cause));
        wr_opt_str(&w, o->cause_id);
        wr_long(&w, o->total);
        wr_long(&w, o->fit);
        wr_long(&w, o->engagement);
        wr_long(&w, o->prev_total);
        wr_str(&w, m ? level_name(m->grades, m->n_grades, o->grade) : "");
        wr_str(&w, m ? level_name(m->bands, m->n_bands, o->band) : "");
        wr_str(&w, o->cell);
        if (!w.err)
                w.err = ls_buf_append(buf, o->mql ? "\1" : "\0", 1);
        if (o->n_reasons) {
                wr_long(&w, o->n_reasons);
                for (i = 0; i < o->n_reasons; i++) {
                        wr_str(&w, ls_reason_kind2str(r[i].kind));
                        wr_str(&w, r[i].rule_id);
                        wr_long(&w, r[i].points);
                        wr_long(&w, r[i].capped);
                }
        }
        wr_long(&w, 0);
        if (o->kind == LS_OUT_ALERT)
                wr_alert(&w, ob, o);
        wr_logit(&w, ob, o);
        return w.err;
}

ls_err_t ls_avro_encode_dead_letter(const ls_dead_letter_t *dl, ls_buf_t *buf) {
        ls_avro_wr_t w = {buf, LS_OK};

        wr_str(&w, dl->reason);
        wr_str(&w, dl->error);
        wr_str(&w, dl->source_topic);
        wr_long(&w, dl->source_partition);
        wr_long(&w, dl->source_offset);
        wr_opt_bytes(&w, dl->key, dl->key_len);
        wr_opt_bytes(&w, dl->value, dl->value_len);
        if (dl->value_truncated_from) {
                wr_long(&w, 1);
                wr_long(&w, (int64_t)dl->value_truncated_from);
        } else {
                wr_long(&w, 0);
        }
        return w.err;
}
