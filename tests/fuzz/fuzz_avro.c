/*
 * fuzz_avro.c - bounded fuzz driver for the specialised Avro decoder.
 *
 * From valid LeadEvent / LeadProfile records written by avro-c, applies
 * seeded random mutations (bit flips, byte sets, truncation, insertion,
 * deletion, corrupted length varints) and feeds every result to
 * ls_avro_decode(), each in an exactly-sized heap copy so that ASan sees
 * any read past the end. Checks: no crash or leak; every accepted record
 * is complete (non-NULL strings, map entries); the writer-schema bounds
 * check accepts whatever the decoder accepts; and, differentially, avro-c's
 * generic reader decodes every accepted record to the same values.
 *
 * Run: fuzz_avro [iterations] (default 200000, or env LS_FUZZ_RUNS; env
 * LS_FUZZ_SEED changes the seed). Built with -DLS_LIBFUZZER and clang -fsanitize=fuzzer it is a
 * libFuzzer target instead (see docs/SCHEMAS.md).
 */
#include <avro.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ls_avro_int.h"

typedef struct fz_s {
        avro_schema_t schema[2]; /* event, profile */
        avro_value_iface_t *iface[2];
        avro_value_t value[2];
        avro_reader_t reader;
        ls_avro_scratch_t sc;
        unsigned long accepted, rejected, compared;
} fz_t;

static void die(const char *what, const char *detail) {
        fprintf(stderr, "fuzz_avro: FAIL: %s%s%s\n", what, detail ? ": " : "",
                detail ? detail : "");
        abort();
}

static avro_schema_t load_schema(const char *file) {
        char path[1024], text[8192];
        avro_schema_t s;
        size_t n;
        FILE *fp;

        snprintf(path, sizeof(path), "%s/schemas/%s", LS_SOURCE_DIR, file);
        if (!(fp = fopen(path, "rb")))
                die("cannot open", path);
        n = fread(text, 1, sizeof(text) - 1, fp);
        fclose(fp);
        text[n] = '\0';
        if (avro_schema_from_json_length(text, n, &s))
                die(path, avro_strerror());
        return s;
}

static void fz_init(fz_t *fz) {
        int k;

        memset(fz, 0, sizeof(*fz));
        fz->schema[0] = load_schema("lead_event.avsc");
        fz->schema[1] = load_schema("lead_profile.avsc");
        for (k = 0; k < 2; k++) {
                fz->iface[k] = avro_generic_class_from_schema(fz->schema[k]);
                avro_generic_value_new(fz->iface[k], &fz->value[k]);
        }
        fz->reader = avro_reader_memory("", 0);
        ls_avro_scratch_init(&fz->sc);
}

static void fz_free(fz_t *fz) {
        int k;

        for (k = 0; k < 2; k++) {
                avro_value_decref(&fz->value[k]);
                avro_value_iface_decref(fz->iface[k]);
                avro_schema_decref(fz->schema[k]);
        }
        avro_reader_free(fz->reader);
        ls_avro_scratch_free(&fz->sc);
}

static void get_str(avro_value_t *v, const char *name, const char **s) {
        avro_value_t f;
        size_t n;

        if (avro_value_get_by_name(v, name, &f, NULL) ||
            avro_value_get_string(&f, s, &n))
                die("avro-c value lacks", name);
}

/* avro-c's generic decode of an accepted record must agree with ours. */
static void differential(fz_t *fz, int k, const uint8_t *data, size_t len,
                         const ls_input_t *in) {
        avro_value_t *v = &fz->value[k], f, br, item;
        const char *s, *key;
        int64_t t = -1; /* set by avro-c unless its interface lacks get_long */
        size_t n, i, j;
        int disc = -1; /* as t */

        avro_value_reset(v);
        avro_reader_memory_set_source(fz->reader, (const char *)data,
                                      (int64_t)len);
        if (avro_value_read(fz->reader, v))
                die("avro-c rejects an accepted record", avro_strerror());
        get_str(v, "lead_id", &s);
        if (strcmp(s, in->lead_id))
                die("lead_id differs", s);
        if (k == 0) {
                get_str(v, "event_id", &s);
                if (strcmp(s, in->event_id))
                        die("event_id differs", s);
                get_str(v, "event_type", &s);
                if (strcmp(s, in->event_type))
                        die("event_type differs", s);
                avro_value_get_by_name(v, "occurred_at", &f, NULL);
                avro_value_get_long(&f, &t);
                avro_value_get_by_name(v, "product", &f, NULL);
                avro_value_get_discriminant(&f, &disc);
                if (disc != (in->product != NULL))
                        die("product presence differs", NULL);
                if (disc) {
                        avro_value_get_current_branch(&f, &br);
                        avro_value_get_string(&br, &s, &n);
                        if (strcmp(s, in->product))
                                die("product differs", s);
                }
                avro_value_get_by_name(v, "properties", &f, NULL);
        } else {
                avro_value_get_by_name(v, "updated_at", &f, NULL);
                avro_value_get_long(&f, &t);
                avro_value_get_by_name(v, "attributes", &f, NULL);
        }
        if (t != in->time)
                die("time differs", NULL);
        /* avro-c keeps one entry per key (the last value wins); we pass
         * every entry in wire order. Compare on that basis. */
        avro_value_get_size(&f, &n);
        if (n > in->n_fields)
                die("avro-c has more map entries", NULL);
        for (i = 0; i < n; i++) {
                const ls_kv_t *last = NULL;

                avro_value_get_by_index(&f, i, &item, &key);
                avro_value_get_string(&item, &s, &j);
                for (j = 0; j < in->n_fields; j++)
                        if (!strcmp(in->fields[j].key, key))
                                last = &in->fields[j];
                if (!last || strcmp(last->value, s))
                        die("map entry differs", key);
        }
        fz->compared++;
}

static void one(fz_t *fz, int k, const uint8_t *data, size_t len,
                int check_diff) {
        ls_input_kind_t kind = k ? LS_INPUT_PROFILE : LS_INPUT_EVENT;
        uint8_t *copy = malloc(len ? len : 1);
        char err[256];
        ls_input_t in;
        ls_err_t rc;
        size_t i;

        memcpy(copy, data, len);
        rc = ls_avro_decode(&fz->sc, kind, copy, len, 0, &in, err, sizeof(err));
        if (rc == LS_OK) {
                fz->accepted++;
                if (!in.lead_id || in.kind != kind ||
                    (k == 0 && (!in.event_id || !in.event_type)) ||
                    (in.n_fields && !in.fields) || strlen(in.lead_id) > len)
                        die("accepted an incomplete record", NULL);
                for (i = 0; i < in.n_fields; i++)
                        if (!in.fields[i].key || !in.fields[i].value)
                                die("NULL map entry", NULL);
                if (ls_avro_precheck(fz->schema[k], copy, len, 0, err,
                                     sizeof(err)))
                        die("precheck rejects an accepted record", err);
                if (check_diff)
                        differential(fz, k, copy, len, &in);
        } else {
                fz->rejected++;
                if (!strstr(err, "at byte "))
                        die("error without an offset", err);
                /* the bounds check must not crash on it either */
                ls_avro_precheck(fz->schema[k], copy, len, 0, err, sizeof(err));
        }
        free(copy);
}

#ifdef LS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fz_t lf_fz;

static void lf_fini(void) {
        fz_free(&lf_fz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int ready;
        fz_t *fz = &lf_fz;

        if (!ready) {
                fz_init(fz);
                atexit(lf_fini);
                ready = 1;
        }
        if (size < 1)
                return 0;
        one(fz, data[0] & 1, data + 1, size - 1, 1);
        return 0;
}
#else

static uint64_t rng_next(uint64_t *s) {
        uint64_t x = *s;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *s = x;
}

/* Valid records from avro-c's writer: the seeds of the mutations. */
static size_t make_seed(fz_t *fz, int k, int variant, uint8_t *out,
                        size_t size) {
        avro_value_t v, f, br, item;
        avro_writer_t w;
        char key[32], val[64];
        int i, n = variant % 7;
        size_t len;

        avro_generic_value_new(fz->iface[k], &v);
        avro_value_get_by_name(&v, "lead_id", &f, NULL);
        avro_value_set_string(&f, variant % 3 ? "lead-42"
                                              : "l\xc3\xa9"
                                                "ad");
        if (k == 0) {
                avro_value_get_by_name(&v, "event_id", &f, NULL);
                avro_value_set_string(&f, variant % 2 ? "" : "ev-1");
                avro_value_get_by_name(&v, "event_type", &f, NULL);
                avro_value_set_string(&f, "page_view");
                avro_value_get_by_name(&v, "occurred_at", &f, NULL);
                avro_value_set_long(&f, 1700000000000LL + variant * 977);
                avro_value_get_by_name(&v, "product", &f, NULL);
                avro_value_set_branch(&f, variant % 2, &br);
                if (variant % 2)
                        avro_value_set_string(&br, "office");
                else
                        avro_value_set_null(&br);
                avro_value_get_by_name(&v, "properties", &f, NULL);
        } else {
                avro_value_get_by_name(&v, "updated_at", &f, NULL);
                avro_value_set_long(&f, variant * 123456789LL);
                avro_value_get_by_name(&v, "attributes", &f, NULL);
        }
        for (i = 0; i < n * n; i++) {
                snprintf(key, sizeof(key), "key%d", i);
                snprintf(val, sizeof(val), "value-%d-%s", i * 31,
                         i % 4 ? "x" : "\xe2\x82\xac");
                avro_value_add(&f, key, &item, NULL, NULL);
                avro_value_set_string(&item, val);
        }
        w = avro_writer_memory((char *)out, (int64_t)size);
        if (avro_value_write(w, &v))
                die("avro-c cannot write a seed", avro_strerror());
        len = (size_t)avro_writer_tell(w);
        avro_writer_free(w);
        avro_value_decref(&v);
        return len;
}

static size_t mutate(uint64_t *rng, uint8_t *b, size_t len, size_t cap) {
        int rounds = 1 + (int)(rng_next(rng) % 4);
        size_t pos, n, i;

        while (rounds--) {
                uint64_t r = rng_next(rng);

                pos = len ? (size_t)(r >> 16) % len : 0;
                switch (r % 7) {
                case 0: /* bit flip */
                        if (len)
                                b[pos] ^= (uint8_t)(1u << ((r >> 8) % 8));
                        break;
                case 1: /* byte set to an interesting value */
                        if (len) {
                                static const uint8_t vals[] = {
                                        0x00, 0x01, 0x02, 0x7f, 0x80,
                                        0xff, 0xfe, 0x7e, 0x03, 0x04};
                                b[pos] = vals[(r >> 8) % sizeof(vals)];
                        }
                        break;
                case 2: /* truncate */
                        len = pos;
                        break;
                case 3: /* insert random bytes */
                        n = 1 + (size_t)((r >> 8) % 8);
                        if (len + n > cap)
                                break;
                        memmove(b + pos + n, b + pos, len - pos);
                        for (i = 0; i < n; i++)
                                b[pos + i] = (uint8_t)rng_next(rng);
                        len += n;
                        break;
                case 4: /* delete a range */
                        n = 1 + (size_t)((r >> 8) % 8);
                        if (pos + n > len)
                                n = len - pos;
                        memmove(b + pos, b + pos + n, len - pos - n);
                        len -= n;
                        break;
                case 5: { /* overwrite with a varint: huge/negative length */
                        uint8_t vb[10];
                        uint64_t u = rng_next(rng);
                        size_t vn = 0;

                        u >>= (r >> 8) % 64;
                        while (u >= 0x80 && vn < 9) {
                                vb[vn++] = (uint8_t)(u | 0x80);
                                u >>= 7;
                        }
                        vb[vn++] = (uint8_t)(u & 0x7f);
                        /* replaces the byte at pos */
                        i = pos < len ? pos + 1 : len; /* tail start */
                        n = len - i;                   /* tail length */
                        if (pos + vn + n > cap)
                                break;
                        memmove(b + pos + vn, b + i, n);
                        memcpy(b + pos, vb, vn);
                        len = pos + vn + n;
                        break;
                }
                default: /* overlong varint run */
                        n = 1 + (size_t)((r >> 8) % 12);
                        for (i = 0; i < n && pos + i < len; i++)
                                b[pos + i] = 0x80 | (uint8_t)(r >> (i % 8));
                        break;
                }
        }
        return len;
}

int main(int argc, char **argv) {
        enum { NSEEDS = 14, CAP = 4096 };
        static uint8_t seeds[NSEEDS][CAP];
        static size_t seed_len[NSEEDS];
        static uint8_t buf[CAP];
        unsigned long iters = 200000;
        uint64_t rng = 0x9e3779b97f4a7c15ULL;
        unsigned long it;
        const char *env = getenv("LS_FUZZ_RUNS");
        fz_t fz;
        int s;

        if (env && *env)
                iters = strtoul(env, NULL, 10);
        if (argc > 1)
                iters = strtoul(argv[1], NULL, 10);
        env = getenv("LS_FUZZ_SEED");
        if (env)
                rng ^= strtoull(env, NULL, 0) * 0x2545f4914f6cdd1dULL;
        fz_init(&fz);
        for (s = 0; s < NSEEDS; s++) {
                seed_len[s] = make_seed(&fz, s % 2, s / 2, seeds[s], CAP / 2);
                one(&fz, s % 2, seeds[s], seed_len[s], 1);
                if (fz.accepted != (unsigned long)s + 1)
                        die("a valid seed was rejected", NULL);
        }
        for (it = 0; it < iters; it++) {
                size_t len;

                s = (int)(rng_next(&rng) % NSEEDS);
                memcpy(buf, seeds[s], seed_len[s]);
                len = mutate(&rng, buf, seed_len[s], CAP);
                one(&fz, s % 2, buf, len, 1);
        }
        printf("fuzz_avro: %lu inputs, %lu accepted (%lu compared with "
               "avro-c), %lu rejected\n",
               iters + NSEEDS, fz.accepted, fz.compared, fz.rejected);
        fz_free(&fz);
        if (fz.rejected == 0 || fz.accepted <= NSEEDS)
                die("mutations did not exercise both outcomes", NULL);
        return 0;
}
#endif
