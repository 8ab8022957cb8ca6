/*
 * fuzz_avro_equiv.c - the fast Avro decoder against avro-c on the same
 * bytes: ls_codec_decode_input() with the avro format (ls_avro_decode()
 * and the value checks every format shares) and avro-c's generic reader
 * (avro_value_read()) with schemas/lead_event.avsc and lead_profile.avsc.
 * Both must accept or reject the same inputs, and an input both accept
 * must give the same lead_id, event_id, event_type, time, product and
 * properties / attributes.
 *
 * Where they differ by design, the rule is spelled out here, and checked:
 *   1. avro-c is not memory-safe on every input: a negative string length
 *      makes it write before its buffer (read_string: malloc(len + 1),
 *      then s[len] = 0 with len = -1), and a huge one makes it allocate
 *      that much. So a small walk of our own (walk(), independent of the
 *      decoder under test) first finds every string length; when one is
 *      negative or past the end of the input, avro-c is not run and ours
 *      must reject. The same for a varint above 64 bits (a 10th byte > 1:
 *      avro-c shifts it out, ours refuses) and a map block count of
 *      INT64_MIN (avro-c negates it).
 *   2. ours refuses what avro-c takes:
 *      - bytes after the record (avro-c reads one value and stops);
 *      - a string that is not UTF-8, or holds a NUL byte (avro-c's
 *        strings are bytes);
 *      - a map block size (after a negative count) below 0 or past the
 *        end of the input (avro-c reads it and ignores it);
 *      - a lead id over 256 bytes, a time before 1970 or from year 10000
 *        on (the codec's value checks).
 *   3. Repeated map keys: avro-c keeps one entry per key, the last value
 *      winning; ours passes every entry in wire order. Compared on that
 *      basis.
 * Apart from these, avro-c's verdict is the expected one.
 *
 * The first byte of an input picks the kind (bit 0: event / profile), the
 * rest is the Avro body.
 * Corpus: tests/fuzz/corpus/avro_equiv/ (--write-seeds output).
 * Run: fuzz_avro_equiv [RUNS] (see fuzz_common.h; default 200000).
 */
#include <avro.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "leadscore/ls_codec.h"

#define SCHEMAS LS_SOURCE_DIR "/schemas"
#define TIME_END INT64_C(253402300800000)

typedef struct fe_s {
        avro_schema_t schema[2]; /* event, profile */
        avro_value_iface_t *iface[2];
        avro_value_t value[2];
        avro_reader_t reader;
        ls_codec_t *codec;
        unsigned long both_ok, both_bad, unsafe, by_rule, compared;
} fe_t;

/* ---- the walk: lengths, varints, UTF-8, trailing bytes ---- */

typedef struct walk_s {
        const uint8_t *p, *end;
        int unsafe; /* rule 1: avro-c must not see it */
        int rule2;  /* rule 2: ours must refuse, avro-c may take it */
        int done;   /* the record ended (maybe with trailing bytes) */
} walk_t;

/* Independent UTF-8 check: no NUL, no overlong form, no surrogate. */
static int utf8_ok(const uint8_t *s, size_t n) {
        size_t i = 0, k, len;
        uint32_t c, cp;

        while (i < n) {
                c = s[i];
                if (c == 0)
                        return 0;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else {
                        return 0;
                }
                if (n - i < len)
                        return 0;
                for (k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                i += len;
        }
        return 1;
}

/* @returns 0 with *v, or -1 when the walk stops (truncated / unsafe). */
static int w_long(walk_t *w, int64_t *v) {
        uint64_t u = 0;
        int i;

        for (i = 0; i < 10; i++) {
                uint8_t b;

                if (w->p >= w->end)
                        return -1;
                b = *w->p++;
                if (i == 9 && b > 1) {
                        w->unsafe = 1;
                        return -1;
                }
                u |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
                        return 0;
                }
        }
        return -1; /* continuation past 10 bytes: both refuse */
}

static int w_string(walk_t *w) {
        int64_t n;

        if (w_long(w, &n))
                return -1;
        if (n < 0 || (uint64_t)n > (uint64_t)(w->end - w->p)) {
                w->unsafe = 1;
                return -1;
        }
        if (!utf8_ok(w->p, (size_t)n))
                w->rule2 = 1;
        w->p += n;
        return 0;
}

static int w_map(walk_t *w) {
        int64_t count, size, i;

        for (;;) {
                if (w_long(w, &count))
                        return -1;
                if (count == 0)
                        return 0;
                if (count < 0) {
                        if (count == INT64_MIN) {
                                w->unsafe = 1;
                                return -1;
                        }
                        count = -count;
                        if (w_long(w, &size))
                                return -1;
                        if (size < 0 ||
                            (uint64_t)size > (uint64_t)(w->end - w->p))
                                w->rule2 = 1;
                }
                for (i = 0; i < count; i++)
                        if (w_string(w) || w_string(w))
                                return -1;
        }
}

static void walk(walk_t *w, int k, const uint8_t *data, size_t len) {
        int64_t v;

        memset(w, 0, sizeof(*w));
        w->p = data;
        w->end = data + len;
        if (w_string(w))
                return;
        if (k == 0) {
                if (w_string(w) || w_string(w) || w_long(w, &v) ||
                    w_long(w, &v))
                        return;
                if (v == 1 && w_string(w))
                        return;
                if (v != 0 && v != 1)
                        return; /* both refuse the union index */
        } else if (w_long(w, &v)) {
                return;
        }
        if (w_map(w))
                return;
        w->done = 1;
        if (w->p != w->end)
                w->rule2 = 1;
}

/* ---- the two decoders ---- */

static avro_schema_t load_schema(const char *file) {
        char path[512], text[8192];
        avro_schema_t s;
        size_t n;
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", SCHEMAS, file);
        if (!(fp = fopen(path, "rb")))
                fz_die("cannot open", path);
        n = fread(text, 1, sizeof(text) - 1, fp);
        fclose(fp);
        text[n] = '\0';
        if (avro_schema_from_json_length(text, n, &s))
                fz_die(path, avro_strerror());
        return s;
}

static void *fe_init(void) {
        fe_t *fe = calloc(1, sizeof(*fe));
        ls_codec_conf_t conf;
        char err[512];
        int k;

        if (!fe)
                fz_die("out of memory", NULL);
        fe->schema[0] = load_schema("lead_event.avsc");
        fe->schema[1] = load_schema("lead_profile.avsc");
        for (k = 0; k < 2; k++) {
                fe->iface[k] = avro_generic_class_from_schema(fe->schema[k]);
                avro_generic_value_new(fe->iface[k], &fe->value[k]);
        }
        fe->reader = avro_reader_memory("", 0);
        memset(&conf, 0, sizeof(conf));
        conf.input_format = LS_FORMAT_AVRO;
        conf.output_format = LS_FORMAT_JSON;
        conf.schema_dir = SCHEMAS;
        if (!(fe->codec = ls_codec_new(&conf, err, sizeof(err))))
                fz_die("ls_codec_new", err);
        return fe;
}

static void fe_fini(void *ctx) {
        fe_t *fe = ctx;
        int k;

        for (k = 0; k < 2; k++) {
                avro_value_decref(&fe->value[k]);
                avro_value_iface_decref(fe->iface[k]);
                avro_schema_decref(fe->schema[k]);
        }
        avro_reader_free(fe->reader);
        ls_codec_destroy(fe->codec);
        free(fe);
}

static const char *get_str(avro_value_t *v, const char *name, size_t *np) {
        avro_value_t f;
        const char *s = NULL;
        size_t n = 0;

        if (avro_value_get_by_name(v, name, &f, NULL) ||
            avro_value_get_string(&f, &s, &n))
                fz_die("avro-c value lacks", name);
        *np = n ? n - 1 : 0; /* avro-c counts the NUL */
        return s;
}

static void differ(const char *what, const char *detail) {
        fz_die(what, detail);
}

static void compare_str(const char *name, const char *a, size_t an,
                        const char *ours) {
        if (!ours || strlen(ours) != an || memcmp(a, ours, an))
                differ("decoders disagree on", name);
}

/* Both accepted: the same values. */
static void compare(fe_t *fe, int k, const ls_input_t *in) {
        avro_value_t *v = &fe->value[k], f, br, item;
        const char *s, *key;
        size_t n, i, j, m;
        int64_t t = 0;
        int disc = 0;

        s = get_str(v, "lead_id", &n);
        compare_str("lead_id", s, n, in->lead_id);
        if (k == 0) {
                s = get_str(v, "event_id", &n);
                compare_str("event_id", s, n, in->event_id);
                s = get_str(v, "event_type", &n);
                compare_str("event_type", s, n, in->event_type);
                avro_value_get_by_name(v, "occurred_at", &f, NULL);
                avro_value_get_long(&f, &t);
                avro_value_get_by_name(v, "product", &f, NULL);
                avro_value_get_discriminant(&f, &disc);
                if (disc != (in->product != NULL))
                        differ("decoders disagree on", "product presence");
                if (disc) {
                        avro_value_get_current_branch(&f, &br);
                        avro_value_get_string(&br, &s, &n);
                        compare_str("product", s, n ? n - 1 : 0, in->product);
                }
                avro_value_get_by_name(v, "properties", &f, NULL);
        } else {
                avro_value_get_by_name(v, "updated_at", &f, NULL);
                avro_value_get_long(&f, &t);
                avro_value_get_by_name(v, "attributes", &f, NULL);
        }
        if (t != in->time)
                differ("decoders disagree on", "time");
        /* Rule 3: one entry per distinct key, the last value winning. */
        avro_value_get_size(&f, &m);
        if (in->n_fields > 512)
                return; /* quadratic below */
        for (i = 0, n = 0; i < in->n_fields; i++) {
                for (j = i + 1; j < in->n_fields; j++)
                        if (!strcmp(in->fields[i].key, in->fields[j].key))
                                break;
                n += j == in->n_fields; /* the last of its key */
        }
        if (n != m)
                differ("decoders disagree on", "the number of map keys");
        for (i = 0; i < m; i++) {
                const ls_kv_t *last = NULL;

                avro_value_get_by_index(&f, i, &item, &key);
                avro_value_get_string(&item, &s, &n);
                for (j = 0; j < in->n_fields; j++)
                        if (!strcmp(in->fields[j].key, key))
                                last = &in->fields[j];
                if (!last)
                        differ("a map key only avro-c has", key);
                compare_str("a map value", s, n ? n - 1 : 0, last->value);
        }
        fe->compared++;
}

/* The codec's value checks (rule 2), on avro-c's values. */
static int values_ok(fe_t *fe, int k) {
        avro_value_t f;
        size_t n;
        int64_t t;

        get_str(&fe->value[k], "lead_id", &n);
        avro_value_get_by_name(&fe->value[k], k ? "updated_at" : "occurred_at",
                               &f, NULL);
        avro_value_get_long(&f, &t);
        return n <= LS_LEAD_ID_MAX && t >= 0 && t < TIME_END;
}

static void fe_one(void *ctx, const uint8_t *data, size_t len) {
        fe_t *fe = ctx;
        char err[512], why[1200];
        int k, avro_ok, expect_ok, ours_ok, at_end;
        const uint8_t *body;
        char extra;
        ls_input_t in;
        size_t blen;
        walk_t w;

        if (len < 1)
                return;
        k = data[0] & 1;
        body = data + 1;
        blen = len - 1;
        ours_ok = ls_codec_decode_input(
                          fe->codec, k ? LS_INPUT_PROFILE : LS_INPUT_EVENT,
                          body, blen, &in, err, sizeof(err)) == LS_OK;
        walk(&w, k, body, blen);
        if (w.unsafe) {
                fe->unsafe++;
                if (ours_ok)
                        differ("ours accepts a length or varint avro-c "
                               "cannot take",
                               NULL);
                return;
        }
        avro_value_reset(&fe->value[k]);
        avro_reader_memory_set_source(fe->reader, (const char *)body,
                                      (int64_t)blen);
        avro_ok = avro_value_read(fe->reader, &fe->value[k]) == 0;
        /* (avro_reader_is_eof() answers only for file readers: reading
         * one more byte fails exactly at the end of a memory reader) */
        at_end = !avro_ok || avro_read(fe->reader, &extra, 1) != 0;
        expect_ok = avro_ok && at_end && !w.rule2 && values_ok(fe, k);
        if (!at_end && !w.rule2)
                differ("avro-c left bytes the walk did not see", NULL);
        if (ours_ok != expect_ok) {
                snprintf(why, sizeof(why), "ours %s, avro-c %s%s%s",
                         ours_ok ? "accepts" : err,
                         avro_ok ? "accepts" : avro_strerror(),
                         w.rule2 ? " (a rule-2 difference)" : "",
                         w.done ? "" : " (the walk stopped early)");
                differ("decoders disagree", why);
        }
        if (ours_ok) {
                fe->both_ok++;
                compare(fe, k, &in);
        } else if (avro_ok) {
                fe->by_rule++;
        } else {
                fe->both_bad++;
        }
}

/* ---- seeds ---- */

static size_t put_long(uint8_t *b, int64_t v) {
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;

        while (u >= 0x80) {
                b[n++] = (uint8_t)(u | 0x80);
                u >>= 7;
        }
        b[n++] = (uint8_t)u;
        return n;
}

static size_t put_str(uint8_t *b, const char *s) {
        size_t n = put_long(b, (int64_t)strlen(s));

        memcpy(b + n, s, strlen(s));
        return n + strlen(s);
}

/* Records from avro-c's writer, and a few written by hand. */
static void fe_seeds(void *ctx, fz_corpus_t *c) {
        static uint8_t buf[8192];
        fe_t *fe = ctx;
        char key[32], val[64], lead[300];
        int k, variant, i;
        size_t n;

        memset(lead, 'x', sizeof(lead) - 1);
        lead[sizeof(lead) - 1] = '\0';
        for (variant = 0; variant < 8; variant++) {
                for (k = 0; k < 2; k++) {
                        avro_value_t v, f, br, item;
                        avro_writer_t w;

                        avro_generic_value_new(fe->iface[k], &v);
                        avro_value_get_by_name(&v, "lead_id", &f, NULL);
                        avro_value_set_string(&f, variant == 7  ? lead
                                                  : variant % 3 ? "lead-42"
                                                                : "l\xc3\xa9"
                                                                  "ad");
                        if (k == 0) {
                                avro_value_get_by_name(&v, "event_id", &f,
                                                       NULL);
                                avro_value_set_string(&f,
                                                      variant % 2 ? "" : "e1");
                                avro_value_get_by_name(&v, "event_type", &f,
                                                       NULL);
                                avro_value_set_string(&f, "page_view");
                                avro_value_get_by_name(&v, "occurred_at", &f,
                                                       NULL);
                                avro_value_set_long(
                                        &f, variant == 6
                                                    ? TIME_END
                                                    : INT64_C(1767225600000) +
                                                              variant);
                                avro_value_get_by_name(&v, "product", &f, NULL);
                                avro_value_set_branch(&f, variant % 2, &br);
                                if (variant % 2)
                                        avro_value_set_string(&br, "office");
                                else
                                        avro_value_set_null(&br);
                                avro_value_get_by_name(&v, "properties", &f,
                                                       NULL);
                        } else {
                                avro_value_get_by_name(&v, "updated_at", &f,
                                                       NULL);
                                avro_value_set_long(&f, variant == 6 ? -1
                                                                     : variant);
                                avro_value_get_by_name(&v, "attributes", &f,
                                                       NULL);
                        }
                        for (i = 0; i < variant * variant % 11; i++) {
                                snprintf(key, sizeof(key), "k%d", i);
                                snprintf(val, sizeof(val), "v%d%s", i,
                                         i % 3 ? "" : "\xe2\x82\xac");
                                avro_value_add(&f, key, &item, NULL, NULL);
                                avro_value_set_string(&item, val);
                        }
                        buf[0] = (uint8_t)k;
                        w = avro_writer_memory((char *)buf + 1,
                                               sizeof(buf) - 1);
                        if (avro_value_write(w, &v))
                                fz_die("avro-c cannot write a seed",
                                       avro_strerror());
                        fz_corpus_add(c, buf, 1 + (size_t)avro_writer_tell(w));
                        avro_writer_free(w);
                        avro_value_decref(&v);
                }
        }
        /* A profile whose map comes in blocks of negative counts (with a
         * byte size), a repeated key, and a 10-byte time. */
        n = 0;
        buf[n++] = 1;
        n += put_str(buf + n, "lead-b");
        memcpy(buf + n, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 10);
        n += 10;
        n += put_long(buf + n, -2);
        n += put_long(buf + n, 8);
        n += put_str(buf + n, "a");
        n += put_str(buf + n, "1");
        n += put_str(buf + n, "b");
        n += put_str(buf + n, "2");
        n += put_long(buf + n, 1);
        n += put_str(buf + n, "a");
        n += put_str(buf + n, "3");
        n += put_long(buf + n, 0);
        fz_corpus_add(c, buf, n);
}

static void fe_done(void *ctx, unsigned long inputs) {
        fe_t *fe = ctx;

        printf("fuzz_avro_equiv: %lu accepted by both (%lu compared), %lu "
               "rejected by both, %lu accepted by avro-c only by rule 2, "
               "%lu not shown to avro-c (rule 1)\n",
               fe->both_ok, fe->compared, fe->both_bad, fe->by_rule,
               fe->unsafe);
        if (!fe->both_ok || !fe->both_bad || !fe->by_rule || !fe->unsafe)
                fz_die("mutations did not exercise every outcome", NULL);
}

static const fz_target_t fe_target = {
        "fuzz_avro_equiv", "avro_equiv", 200000,  NULL, fe_init, fe_one,
        fe_seeds,          fe_done,      fe_fini,
};

FZ_ENTRY(fe_target)
