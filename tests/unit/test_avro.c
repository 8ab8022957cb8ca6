/*
 * test_avro.c - the specialised Avro decoder against avro-c's own writer,
 * every kind of corruption, the writer-schema bounds check, and the
 * hand-written encoders read back with avro-c's generic reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ls_avro_int.h"
#include "leadscore/ls_alloc.h"

#include "avro_fixture.h"

/* An event to write with avro-c and the ls_input_t expected back. */
typedef struct ev_s {
        const char *lead_id, *event_id, *event_type, *product;
        int64_t time;
        size_t n_props;
        char keys[300][24];
        char vals[300][64];
} ev_t;

/* Writes @p ev with avro-c's generic value API; returns the length. */
static size_t write_event(avro_schema_t schema, const ev_t *ev, char *out,
                          size_t size) {
        avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
        avro_value_t rec, f, br, item;
        avro_writer_t w;
        size_t i, len;

        assert_non_null(iface);
        assert_int_equal(avro_generic_value_new(iface, &rec), 0);
        avro_value_get_by_name(&rec, "lead_id", &f, NULL);
        avro_value_set_string(&f, ev->lead_id);
        avro_value_get_by_name(&rec, "event_id", &f, NULL);
        avro_value_set_string(&f, ev->event_id);
        avro_value_get_by_name(&rec, "event_type", &f, NULL);
        avro_value_set_string(&f, ev->event_type);
        avro_value_get_by_name(&rec, "occurred_at", &f, NULL);
        avro_value_set_long(&f, ev->time);
        avro_value_get_by_name(&rec, "product", &f, NULL);
        if (ev->product) {
                avro_value_set_branch(&f, 1, &br);
                avro_value_set_string(&br, ev->product);
        } else {
                avro_value_set_branch(&f, 0, &br);
                avro_value_set_null(&br);
        }
        avro_value_get_by_name(&rec, "properties", &f, NULL);
        for (i = 0; i < ev->n_props; i++) {
                assert_int_equal(
                        avro_value_add(&f, ev->keys[i], &item, NULL, NULL), 0);
                avro_value_set_string(&item, ev->vals[i]);
        }
        w = avro_writer_memory(out, (int64_t)size);
        assert_int_equal(avro_value_write(w, &rec), 0);
        len = (size_t)avro_writer_tell(w);
        avro_writer_free(w);
        avro_value_decref(&rec);
        avro_value_iface_decref(iface);
        return len;
}

static void expect_event(const ev_t *ev, const ls_input_t *in) {
        size_t i;

        assert_int_equal(in->kind, LS_INPUT_EVENT);
        assert_string_equal(in->lead_id, ev->lead_id);
        assert_string_equal(in->event_id, ev->event_id);
        assert_string_equal(in->event_type, ev->event_type);
        if (ev->product)
                assert_string_equal(in->product, ev->product);
        else
                assert_null(in->product);
        assert_int_equal(in->time, ev->time);
        assert_int_equal(in->n_fields, ev->n_props);
        /* avro-c writes map entries in insertion order. */
        for (i = 0; i < ev->n_props; i++) {
                assert_string_equal(in->fields[i].key, ev->keys[i]);
                assert_string_equal(in->fields[i].value, ev->vals[i]);
        }
}

static void test_decode_event_combinations(void **state) {
        static const char *products[] = {
                NULL, "", "office", "t\xc3\xa9l\xc3\xa9phone \xf0\x9f\x93\x9e"};
        static const int64_t times[] = {
                0,  1,         63,       64, 1700000000123LL, 253402300799999LL,
                -5, INT64_MAX, INT64_MIN};
        static const size_t nprops[] = {0, 1, 5, 64, 300};
        static const char *ids[] = {
                "L", "lead-\xe4\xb8\xad\xe6\x96\x87",
                "a-much-longer-lead-identifier-0123456789-0123456789-"
                "0123456789-0123456789-0123456789-0123456789-0123456789-"
                "0123456789-0123456789-0123456789"};
        avro_schema_t schema = fx_load_schema("schemas", "lead_event.avsc");
        ls_avro_scratch_t sc;
        static ev_t ev;
        static char buf[65536];
        char err[256];
        size_t p, t, n, k, i, len, cases = 0;

        (void)state;
        ls_avro_scratch_init(&sc);
        for (p = 0; p < 4; p++)
                for (t = 0; t < sizeof(times) / sizeof(*times); t++)
                        for (n = 0; n < sizeof(nprops) / sizeof(*nprops); n++)
                                for (k = 0; k < 3; k++) {
                                        ls_input_t in;

                                        memset(&ev, 0, sizeof(ev));
                                        ev.lead_id = ids[k];
                                        ev.event_id = (t & 1) ? "" : "e-42";
                                        ev.event_type = "page_view";
                                        ev.product = products[p];
                                        ev.time = times[t];
                                        ev.n_props = nprops[n];
                                        for (i = 0; i < ev.n_props; i++) {
                                                snprintf(ev.keys[i],
                                                         sizeof(ev.keys[i]),
                                                         "k%zu", i);
                                                snprintf(ev.vals[i],
                                                         sizeof(ev.vals[i]),
                                                         "value %zu %s",
                                                         i * 7919,
                                                         i % 3 ? ""
                                                               : "\xc3\xbc");
                                        }
                                        len = write_event(schema, &ev, buf,
                                                          sizeof(buf));
                                        if (ls_avro_decode(&sc, LS_INPUT_EVENT,
                                                           buf, len, 0, &in,
                                                           err, sizeof(err)))
                                                fail_msg("case %zu: %s", cases,
                                                         err);
                                        expect_event(&ev, &in);
                                        cases++;
                                }
        assert_true(cases > 500);
        ls_avro_scratch_free(&sc);
        avro_schema_decref(schema);
}

static void test_decode_profile(void **state) {
        avro_schema_t schema = fx_load_schema("schemas", "lead_profile.avsc");
        avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
        avro_value_t rec, f, item;
        ls_avro_scratch_t sc;
        ls_input_t in;
        char buf[1024], err[256];
        avro_writer_t w;
        size_t len;

        (void)state;
        avro_generic_value_new(iface, &rec);
        avro_value_get_by_name(&rec, "lead_id", &f, NULL);
        avro_value_set_string(&f, "lead-7");
        avro_value_get_by_name(&rec, "updated_at", &f, NULL);
        avro_value_set_long(&f, 1700000000000LL);
        avro_value_get_by_name(&rec, "attributes", &f, NULL);
        avro_value_add(&f, "industry", &item, NULL, NULL);
        avro_value_set_string(&item, "software");
        avro_value_add(&f, "title", &item, NULL, NULL);
        avro_value_set_string(&item, "");
        w = avro_writer_memory(buf, sizeof(buf));
        assert_int_equal(avro_value_write(w, &rec), 0);
        len = (size_t)avro_writer_tell(w);
        avro_writer_free(w);

        ls_avro_scratch_init(&sc);
        assert_int_equal(ls_avro_decode(&sc, LS_INPUT_PROFILE, buf, len, 0, &in,
                                        err, sizeof(err)),
                         LS_OK);
        assert_int_equal(in.kind, LS_INPUT_PROFILE);
        assert_string_equal(in.lead_id, "lead-7");
        assert_null(in.event_type);
        assert_null(in.event_id);
        assert_int_equal(in.time, 1700000000000LL);
        assert_int_equal(in.n_fields, 2);
        assert_string_equal(in.fields[0].key, "industry");
        assert_string_equal(in.fields[0].value, "software");
        assert_string_equal(in.fields[1].key, "title");
        assert_string_equal(in.fields[1].value, "");

        /* An event read as a profile is an error, not garbage. */
        assert_int_not_equal(ls_avro_decode(&sc, LS_INPUT_EVENT, buf, len, 0,
                                            &in, err, sizeof(err)),
                             LS_OK);
        ls_avro_scratch_free(&sc);
        avro_value_decref(&rec);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
}

/* Hand-made bytes: zigzag varints and strings. */
typedef struct hb_s {
        uint8_t b[512];
        size_t n;
} hb_t;

static void hb_raw(hb_t *h, const void *p, size_t n) {
        memcpy(h->b + h->n, p, n);
        h->n += n;
}

static void hb_long(hb_t *h, int64_t v) {
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        while (u >= 0x80) {
                h->b[h->n++] = (uint8_t)(u | 0x80);
                u >>= 7;
        }
        h->b[h->n++] = (uint8_t)u;
}

static void hb_str(hb_t *h, const char *s) {
        hb_long(h, (int64_t)strlen(s));
        hb_raw(h, s, strlen(s));
}

static ls_err_t dec(const hb_t *h, ls_input_kind_t kind, ls_input_t *in,
                    char *err, size_t size) {
        ls_avro_scratch_t sc;
        ls_err_t rc;

        ls_avro_scratch_init(&sc);
        rc = ls_avro_decode(&sc, kind, h->b, h->n, 0, in, err, size);
        ls_avro_scratch_free(&sc);
        return rc;
}

static void test_block_encoded_map(void **state) {
        ls_avro_scratch_t sc;
        ls_input_t in;
        char err[256];
        hb_t h = {.n = 0};

        (void)state;
        hb_str(&h, "L1");
        hb_long(&h, 1000);
        /* two blocks: one with a negative count and a byte size */
        hb_long(&h, -2);
        hb_long(&h, 8);
        hb_str(&h, "a");
        hb_str(&h, "1");
        hb_str(&h, "b");
        hb_str(&h, "2");
        hb_long(&h, 1);
        hb_str(&h, "c");
        hb_str(&h, "3");
        hb_long(&h, 0);
        ls_avro_scratch_init(&sc);
        assert_int_equal(ls_avro_decode(&sc, LS_INPUT_PROFILE, h.b, h.n, 0, &in,
                                        err, sizeof(err)),
                         LS_OK);
        assert_int_equal(in.n_fields, 3);
        assert_string_equal(in.fields[2].key, "c");
        assert_string_equal(in.fields[2].value, "3");
        ls_avro_scratch_free(&sc);
}

/* Builds a valid event by hand, with hooks to corrupt one part. */
static void base_event(hb_t *h) {
        h->n = 0;
        hb_str(h, "lead-1");
        hb_str(h, "ev-1");
        hb_str(h, "form_submit");
        hb_long(h, 1700000000000LL);
        hb_long(h, 1);
        hb_str(h, "office");
        hb_long(h, 1);
        hb_str(h, "url");
        hb_str(h, "/pricing");
        hb_long(h, 0);
}

static void expect_err(const hb_t *h, const char *want1, const char *want2) {
        ls_input_t in;
        char err[256];

        assert_int_equal(dec(h, LS_INPUT_EVENT, &in, err, sizeof(err)),
                         LS_ERR_INVALID);
        if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
                fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err, want1,
                         want2 ? want2 : "");
}

static void test_truncated_everywhere(void **state) {
        ls_avro_scratch_t sc;
        ls_input_t in;
        char err[256];
        hb_t h;
        size_t cut;

        (void)state;
        base_event(&h);
        ls_avro_scratch_init(&sc);
        assert_int_equal(ls_avro_decode(&sc, LS_INPUT_EVENT, h.b, h.n, 0, &in,
                                        err, sizeof(err)),
                         LS_OK);
        for (cut = 0; cut < h.n; cut++) {
                /* a private copy, so ASan sees any read past the cut */
                uint8_t *copy = ls_malloc(cut ? cut : 1);
                const char *at;
                unsigned long off;

                memcpy(copy, h.b, cut);
                assert_int_equal(ls_avro_decode(&sc, LS_INPUT_EVENT, copy, cut,
                                                0, &in, err, sizeof(err)),
                                 LS_ERR_INVALID);
                at = strstr(err, "at byte ");
                if (!at)
                        fail_msg("cut %zu: no offset in \"%s\"", cut, err);
                off = strtoul(at + 8, NULL, 10);
                assert_true(off <= cut);
                assert_true(strstr(err, "lead_id") || strstr(err, "event_id") ||
                            strstr(err, "event_type") ||
                            strstr(err, "occurred_at") ||
                            strstr(err, "product") ||
                            strstr(err, "properties"));
                ls_free(copy);
        }
        ls_avro_scratch_free(&sc);
}

static void test_corruptions(void **state) {
        hb_t h;
        size_t i;

        (void)state;
        /* huge string length */
        h.n = 0;
        hb_long(&h, (int64_t)1 << 40);
        hb_raw(&h, "abc", 3);
        expect_err(&h,
                   "lead_id: length 1099511627776 exceeds the 3 "
                   "remaining bytes at byte 0",
                   NULL);
        /* negative length */
        h.n = 0;
        hb_str(&h, "L");
        hb_long(&h, -1);
        expect_err(&h, "event_id: negative length -1 at byte 2", NULL);
        /* bad union index: 2 and -1 */
        base_event(&h);
        assert_int_equal(h.b[30], 2); /* the product's union index */
        h.b[30] = 4;                  /* zigzag(2) */
        expect_err(&h, "product: union index 2 out of range", "at byte 30");
        base_event(&h);
        h.b[30] = 1; /* zigzag(-1) */
        expect_err(&h, "product: union index -1", "at byte 30");
        /* overlong varint for occurred_at (11 bytes) */
        h.n = 0;
        hb_str(&h, "L");
        hb_str(&h, "E");
        hb_str(&h, "T");
        for (i = 0; i < 11; i++)
                h.b[h.n++] = 0x80;
        h.b[h.n++] = 0;
        expect_err(&h, "occurred_at: varint longer than 10 bytes", "at byte 6");
        /* 10th byte above 1 overflows 64 bits */
        h.n = 6;
        for (i = 0; i < 9; i++)
                h.b[h.n++] = 0xff;
        h.b[h.n++] = 0x02;
        expect_err(&h, "occurred_at: varint", "at byte 6");
        /* huge map block count */
        h.n = 0;
        hb_str(&h, "L");
        hb_str(&h, "E");
        hb_str(&h, "T");
        hb_long(&h, 5);
        hb_long(&h, 0);
        hb_long(&h, INT64_C(1) << 50);
        hb_str(&h, "k");
        expect_err(&h, "properties: block count 1125899906842624 exceeds",
                   NULL);
        /* INT64_MIN block count */
        h.n = 8;
        hb_long(&h, INT64_MIN);
        expect_err(&h, "properties: block count", "out of range");
        /* negative block count with a lying block size */
        h.n = 8;
        hb_long(&h, -1);
        hb_long(&h, 1000);
        expect_err(&h, "properties: block size 1000 exceeds", NULL);
        /* map value too long names the entry */
        base_event(&h);
        assert_int_equal(h.b[h.n - 10], 16); /* length of "/pricing" */
        h.b[h.n - 10] = 100;                 /* -> 50 */
        expect_err(&h, "properties[0].value: length 50 exceeds", NULL);
        /* invalid UTF-8 and NUL */
        h.n = 0;
        hb_long(&h, 3);
        hb_raw(&h,
               "a\xff"
               "b",
               3);
        expect_err(&h, "lead_id: invalid UTF-8 at byte 2", NULL);
        h.n = 0;
        hb_long(&h, 3);
        hb_raw(&h, "a\0b", 3);
        expect_err(&h, "lead_id: NUL byte in string at byte 2", NULL);
        h.n = 0;
        hb_long(&h, 3);
        hb_raw(&h, "\xed\xa0\x80", 3); /* surrogate */
        expect_err(&h, "lead_id: invalid UTF-8", NULL);
        /* trailing bytes */
        base_event(&h);
        h.b[h.n++] = 7;
        expect_err(&h, "1 trailing bytes after the record at byte 53", NULL);
}

static void test_utf8(void **state) {
        size_t bad = 99;

        (void)state;
        assert_true(ls_avro_utf8_check((const uint8_t *)"plain ascii text!", 17,
                                       &bad));
        assert_true(ls_avro_utf8_check(
                (const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                &bad));
        assert_false(
                ls_avro_utf8_check((const uint8_t *)"abcdefgh\xc3", 9, &bad));
        assert_int_equal(bad, 8);
        assert_false(ls_avro_utf8_check((const uint8_t *)"\xc0\xaf", 2,
                                        &bad)); /* overlong */
        assert_false(ls_avro_utf8_check((const uint8_t *)"\xf4\x90\x80\x80", 4,
                                        &bad)); /* > U+10FFFF */
        assert_false(ls_avro_utf8_check((const uint8_t *)"abcdefghij\0kl", 13,
                                        &bad));
        assert_int_equal(bad, 10);
}

static const char *evolved_event =
        "{\"type\":\"record\",\"name\":\"LeadEvent\",\"namespace\":"
        "\"io.leadscore\",\"fields\":["
        "{\"name\":\"lead_id\",\"type\":\"string\"},"
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"event_type\",\"type\":\"string\"},"
        "{\"name\":\"occurred_at\",\"type\":\"long\"},"
        "{\"name\":\"product\",\"type\":[\"null\",\"string\"],"
        "\"default\":null},"
        "{\"name\":\"properties\",\"type\":{\"type\":\"map\","
        "\"values\":\"string\"}},"
        "{\"name\":\"score\",\"type\":\"double\"},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
        "{\"type\":\"enum\",\"name\":\"Tag\",\"symbols\":[\"A\",\"B\"]}}},"
        "{\"name\":\"flag\",\"type\":\"boolean\"},"
        "{\"name\":\"campaign_source\",\"type\":[\"null\",\"string\"],"
        "\"default\":null}]}";

static void test_precheck(void **state) {
        avro_schema_t w;
        char err[256], want[256];
        hb_t h, g;
        size_t cut;
        uint8_t dbl[8] = {0};

        (void)state;
        assert_int_equal(avro_schema_from_json_length(
                                 evolved_event, strlen(evolved_event), &w),
                         0);
        base_event(&g);
        h = g;
        h.n--; /* drop the map's end marker, re-add below */
        hb_long(&h, 0);
        hb_raw(&h, dbl, 8);
        hb_long(&h, 2);
        hb_long(&h, 0);
        hb_long(&h, 1);
        hb_long(&h, 0);
        h.b[h.n++] = 1;
        hb_long(&h, 1);
        hb_str(&h, "newsletter");
        assert_int_equal(ls_avro_precheck(w, h.b, h.n, 5, err, sizeof(err)),
                         LS_OK);
        for (cut = 0; cut < h.n; cut++)
                assert_int_equal(
                        ls_avro_precheck(w, h.b, cut, 5, err, sizeof(err)),
                        LS_ERR_INVALID);
        /* enum index out of range names the array element */
        g = h;
        assert_int_equal(g.b[g.n - 15], 2); /* second tag: B */
        g.b[g.n - 15] = 4;                  /* zigzag(2) */
        assert_int_equal(ls_avro_precheck(w, g.b, g.n, 5, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "tags[1]: enum index 2 out of range"));
        /* boolean byte other than 0/1 */
        g = h;
        assert_int_equal(g.b[g.n - 13], 1); /* flag */
        g.b[g.n - 13] = 7;
        assert_int_equal(ls_avro_precheck(w, g.b, g.n, 5, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "flag: boolean byte 0x07"));
        /* a huge array count is refused before avro-c would allocate */
        g = h;
        g.n -= 16 + 1; /* back to the tags count */
        hb_long(&g, INT64_C(1) << 40);
        assert_int_equal(ls_avro_precheck(w, g.b, g.n, 5, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "tags: block count 1099511627776"));
        /* a huge string length in the new field, offset counts framing */
        g = h;
        g.n -= 11;
        snprintf(want, sizeof(want),
                 "campaign_source: length 8589934592 "
                 "exceeds the 0 remaining bytes at byte %zu",
                 g.n + 5);
        hb_long(&g, INT64_C(1) << 33);
        assert_int_equal(ls_avro_precheck(w, g.b, g.n, 5, err, sizeof(err)),
                         LS_ERR_INVALID);
        if (!strstr(err, want))
                fail_msg("\"%s\" lacks \"%s\"", err, want);
        avro_schema_decref(w);
}

static void test_reader_schema_check(void **state) {
        avro_schema_t ev = fx_load_schema("schemas", "lead_event.avsc");
        avro_schema_t pr = fx_load_schema("schemas", "lead_profile.avsc");
        avro_schema_t w;
        char err[256];

        (void)state;
        assert_int_equal(ls_avro_check_reader_schema(LS_INPUT_EVENT, ev, "e",
                                                     err, sizeof(err)),
                         LS_OK);
        assert_int_equal(ls_avro_check_reader_schema(LS_INPUT_PROFILE, pr, "p",
                                                     err, sizeof(err)),
                         LS_OK);
        assert_int_equal(ls_avro_check_reader_schema(LS_INPUT_PROFILE, ev,
                                                     "x.avsc", err,
                                                     sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "x.avsc"));
        assert_int_equal(avro_schema_from_json_length(
                                 evolved_event, strlen(evolved_event), &w),
                         0);
        assert_int_equal(ls_avro_check_reader_schema(LS_INPUT_EVENT, w, "y",
                                                     err, sizeof(err)),
                         LS_ERR_INVALID);
        avro_schema_decref(w);
        avro_schema_decref(ev);
        avro_schema_decref(pr);
}

/* ---- encoders, read back by avro-c ---- */

static void get_str(avro_value_t *rec, const char *name, const char *want) {
        avro_value_t f;
        const char *s;
        size_t n;

        if (name)
                assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL),
                                 0);
        else
                f = *rec;
        assert_int_equal(avro_value_get_string(&f, &s, &n), 0);
        if (strcmp(s, want))
                fail_msg("%s: \"%s\" != \"%s\"", name, s, want);
}

static int64_t get_num(avro_value_t *rec, const char *name) {
        avro_value_t f;
        int32_t i32;
        int64_t i64;

        assert_int_equal(avro_value_get_by_name(rec, name, &f, NULL), 0);
        if (avro_value_get_type(&f) == AVRO_INT32) {
                avro_value_get_int(&f, &i32);
                return i32;
        }
        assert_int_equal(avro_value_get_long(&f, &i64), 0);
        return i64;
}

static void read_back(const char *file, const ls_buf_t *buf,
                      avro_value_iface_t **ifacep, avro_value_t *v) {
        avro_schema_t s = fx_load_schema("schemas", file);
        avro_reader_t r;

        *ifacep = avro_generic_class_from_schema(s);
        avro_generic_value_new(*ifacep, v);
        r = avro_reader_memory(buf->data, (int64_t)buf->len);
        if (avro_value_read(r, v))
                fail_msg("%s: %s", file, avro_strerror());
        avro_reader_free(r);
        avro_schema_decref(s);
}

static void test_encode_outputs(void **state) {
        ls_level_t grades[2] = {{"A", 1, 50}, {"B", 0, 0}};
        ls_level_t bands[2] = {{"cold", 0, 0}, {"hot", 1, 30}};
        ls_model_t model;
        ls_reason_t reasons[2] = {{LS_REASON_RULE, "pricing", 10, 5},
                                  {LS_REASON_DECAY, "decay", -3, 0}};
        ls_outbuf_t ob = {0};
        ls_output_t o;
        avro_value_iface_t *iface;
        avro_value_t v, f, item, br;
        ls_buf_t buf;
        char id[256];
        int kind, disc;
        size_t n;
        int b;

        (void)state;
        memset(&model, 0, sizeof(model));
        model.id = "office";
        strcpy(model.version, "0123456789abcdef");
        model.grades = grades;
        model.n_grades = 2;
        model.bands = bands;
        model.n_bands = 2;
        ob.reasons = reasons;
        ob.n_reasons = 2;
        for (kind = 0; kind < 2; kind++) {
                memset(&o, 0, sizeof(o));
                o.kind = kind ? LS_OUT_ALERT : LS_OUT_SCORE_UPDATE;
                o.alert = kind ? LS_ALERT_MQL_LOST : LS_ALERT_NONE;
                o.lead_id = "lead-\xc3\xa9";
                o.model = &model;
                o.seq = 123456789012ULL;
                o.time = 1700000000999LL;
                o.cause = kind ? LS_CAUSE_DECAY : LS_CAUSE_EVENT;
                o.cause_id = kind ? NULL : "ev-9";
                o.total = 61;
                o.fit = 55;
                o.engagement = 6;
                o.prev_total = -70000;
                o.grade = 0;
                o.band = 1;
                strcpy(o.cell, "A2");
                o.mql = !kind;
                o.reasons_off = (uint32_t)kind;
                o.n_reasons = 2 - (uint32_t)kind;
                ls_buf_init(&buf);
                assert_int_equal(ls_avro_encode_output(&ob, &o, &buf), LS_OK);
                read_back(kind ? "alert.avsc" : "score_update.avsc", &buf,
                          &iface, &v);
                ls_output_id(&o, id, sizeof(id));
                get_str(&v, "id", id);
                if (kind)
                        get_str(&v, "alert", "mql_lost");
                get_str(&v, "lead_id", "lead-\xc3\xa9");
                get_str(&v, "model", "office");
                get_str(&v, "model_version", "0123456789abcdef");
                assert_int_equal(get_num(&v, "seq"), 123456789012LL);
                assert_int_equal(get_num(&v, "time"), 1700000000999LL);
                get_str(&v, "cause", kind ? "decay" : "event");
                avro_value_get_by_name(&v, "cause_id", &f, NULL);
                avro_value_get_discriminant(&f, &disc);
                assert_int_equal(disc, kind ? 0 : 1);
                if (!kind) {
                        avro_value_get_current_branch(&f, &br);
                        get_str(&br, NULL, "ev-9");
                }
                assert_int_equal(get_num(&v, "total"), 61);
                assert_int_equal(get_num(&v, "fit"), 55);
                assert_int_equal(get_num(&v, "engagement"), 6);
                assert_int_equal(get_num(&v, "prev_total"), -70000);
                get_str(&v, "grade", "A");
                get_str(&v, "band", "hot");
                get_str(&v, "cell", "A2");
                avro_value_get_by_name(&v, "mql", &f, NULL);
                avro_value_get_boolean(&f, &b);
                assert_int_equal(b, !kind);
                avro_value_get_by_name(&v, "reasons", &f, NULL);
                avro_value_get_size(&f, &n);
                assert_int_equal(n, 2 - (size_t)kind);
                avro_value_get_by_index(&f, 0, &item, NULL);
                get_str(&item, "kind", kind ? "decay" : "rule");
                get_str(&item, "rule", kind ? "decay" : "pricing");
                assert_int_equal(get_num(&item, "points"), kind ? -3 : 10);
                assert_int_equal(get_num(&item, "capped"), kind ? 0 : 5);
                avro_value_decref(&v);
                avro_value_iface_decref(iface);
                ls_buf_free(&buf);
        }
}

static void test_encode_dead_letter(void **state) {
        ls_dead_letter_t dl = {"decode", "lead_id: empty",    "events",
                               7,        INT64_C(9000000000), NULL,
                               0,        "\x00\xff\x01",      3,
                               0};
        avro_value_iface_t *iface;
        avro_value_t v, f, br;
        const void *p;
        ls_buf_t buf;
        size_t n;
        int64_t big;
        int disc;

        (void)state;
        ls_buf_init(&buf);
        assert_int_equal(ls_avro_encode_dead_letter(&dl, &buf), LS_OK);
        read_back("dead_letter.avsc", &buf, &iface, &v);
        get_str(&v, "reason", "decode");
        get_str(&v, "error", "lead_id: empty");
        get_str(&v, "source_topic", "events");
        assert_int_equal(get_num(&v, "source_partition"), 7);
        assert_int_equal(get_num(&v, "source_offset"), INT64_C(9000000000));
        avro_value_get_by_name(&v, "key", &f, NULL);
        avro_value_get_discriminant(&f, &disc);
        assert_int_equal(disc, 0);
        avro_value_get_by_name(&v, "value", &f, NULL);
        avro_value_get_discriminant(&f, &disc);
        assert_int_equal(disc, 1);
        avro_value_get_current_branch(&f, &br);
        avro_value_get_bytes(&br, &p, &n);
        assert_int_equal(n, 3);
        assert_memory_equal(p, "\x00\xff\x01", 3);
        avro_value_get_by_name(&v, "value_truncated_from", &f, NULL);
        avro_value_get_discriminant(&f, &disc);
        assert_int_equal(disc, 0);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);

        /* truncated: the original length travels with the first bytes */
        dl.value_truncated_from = 3000000;
        ls_buf_reset(&buf);
        assert_int_equal(ls_avro_encode_dead_letter(&dl, &buf), LS_OK);
        read_back("dead_letter.avsc", &buf, &iface, &v);
        avro_value_get_by_name(&v, "value_truncated_from", &f, NULL);
        avro_value_get_discriminant(&f, &disc);
        assert_int_equal(disc, 1);
        avro_value_get_current_branch(&f, &br);
        assert_int_equal(avro_value_get_long(&br, &big), 0);
        assert_int_equal(big, 3000000);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        ls_buf_free(&buf);
}

/* Zig-zag varint, as Avro writes longs. */
static size_t put_varlong(unsigned char *p, long long v) {
        unsigned long long u =
                ((unsigned long long)v << 1) ^ (unsigned long long)(v >> 63);
        size_t n = 0;

        while (u >= 0x80) {
                p[n++] = (unsigned char)(u | 0x80);
                u >>= 7;
        }
        p[n++] = (unsigned char)u;
        return n;
}

/*
 * Arrays of zero-byte items (null) in many blocks, each block as large as
 * the bytes left: the per-block bound alone lets the items add up to about
 * L^2/2 for a record of L bytes (minutes for 64 KiB). The record-wide item
 * budget rejects it at the second block.
 */
static void test_precheck_zero_size_items_bounded(void **state) {
        size_t len = 64 * 1024, off = 0;
        unsigned char *d = malloc(len + 16);
        avro_schema_t s;
        char err[512];

        assert_int_equal(avro_schema_from_json_literal(
                                 "{\"type\":\"record\",\"name\":\"X\","
                                 "\"fields\":[{\"name\":\"junk\",\"type\":"
                                 "{\"type\":\"array\",\"items\":\"null\"}}]}",
                                 &s),
                         0);
        while (len - off > 5) {
                unsigned char tmp[10];
                size_t rem = len - off - 1;
                size_t k = put_varlong(tmp, (long long)rem);

                off += put_varlong(d + off, (long long)(rem - k));
        }
        while (off < len - 1)
                d[off++] = 0x02; /* blocks of one item */
        d[off++] = 0;            /* end of the array */
        assert_int_equal(ls_avro_precheck(s, d, off, 5, err, sizeof(err)),
                         LS_ERR_INVALID);
        assert_non_null(strstr(err, "item budget"));
        assert_non_null(strstr(err, "junk"));
        avro_schema_decref(s);
        free(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_precheck_zero_size_items_bounded),
                cmocka_unit_test(test_decode_event_combinations),
                cmocka_unit_test(test_decode_profile),
                cmocka_unit_test(test_block_encoded_map),
                cmocka_unit_test(test_truncated_everywhere),
                cmocka_unit_test(test_corruptions),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_precheck),
                cmocka_unit_test(test_reader_schema_check),
                cmocka_unit_test(test_encode_outputs),
                cmocka_unit_test(test_encode_dead_letter),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
