/*
 * test_container.c - the Avro object container writer (ls_container.h):
 * files read back with avro-c's file reader, the header byte layout, the
 * deterministic sync marker, empty blocks and schemas.
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
#include <unistd.h>

#include <openssl/evp.h>

#include "codec/ls_avro_int.h"
#include "leadscore/ls_container.h"

static const char schema_text[] =
        "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
        "{\"name\":\"n\",\"type\":\"long\"},"
        "{\"name\":\"s\",\"type\":\"string\"}]}";

/* Appends record (n, "s<n>") in Avro binary. */
static void put_rec(ls_buf_t *b, int64_t n) {
        char s[32];
        int len = snprintf(s, sizeof(s), "s%lld", (long long)n);

        assert_int_equal(ls_avro_put_long(b, n), LS_OK);
        assert_int_equal(ls_avro_put_long(b, len), LS_OK);
        assert_int_equal(ls_buf_append(b, s, (size_t)len), LS_OK);
}

/* A file of @p n_blocks blocks of @p per records: n = 0, 1, ... */
static void build(const char *schema, int n_blocks, int per, ls_buf_t *out) {
        ls_container_t c;
        ls_buf_t blk;
        int b, i;
        int64_t n = -3; /* negative values too */

        ls_buf_init(&blk);
        assert_int_equal(ls_container_begin(&c, schema, strlen(schema), out),
                         LS_OK);
        for (b = 0; b < n_blocks; b++) {
                ls_buf_reset(&blk);
                for (i = 0; i < per; i++)
                        put_rec(&blk, n++);
                assert_int_equal(ls_container_block(&c, (uint64_t)per, blk.data,
                                                    blk.len, out),
                                 LS_OK);
        }
        ls_buf_free(&blk);
}

static void write_tmp(const ls_buf_t *b, char *path, size_t size) {
        int fd;

        snprintf(path, size, "/tmp/ls_test_container_XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, b->data, b->len), (ssize_t)b->len);
        close(fd);
}

static void test_read_back(void **state) {
        ls_buf_t out;
        char path[64];
        avro_file_reader_t fr;
        avro_schema_t ws;
        avro_value_iface_t *iface;
        avro_value_t v, f;
        int64_t n, want = -3;
        const char *s;
        size_t slen;
        char exp[32];
        int rc, count = 0;

        (void)state;
        ls_buf_init(&out);
        build(schema_text, 3, 1000, &out);
        write_tmp(&out, path, sizeof(path));
        assert_int_equal(avro_file_reader(path, &fr), 0);
        ws = avro_file_reader_get_writer_schema(fr);
        assert_string_equal(avro_schema_name(ws), "T");
        iface = avro_generic_class_from_schema(ws);
        assert_int_equal(avro_generic_value_new(iface, &v), 0);
        while ((rc = avro_file_reader_read_value(fr, &v)) == 0) {
                assert_int_equal(avro_value_get_by_name(&v, "n", &f, NULL), 0);
                assert_int_equal(avro_value_get_long(&f, &n), 0);
                assert_int_equal(n, want);
                assert_int_equal(avro_value_get_by_name(&v, "s", &f, NULL), 0);
                assert_int_equal(avro_value_get_string(&f, &s, &slen), 0);
                snprintf(exp, sizeof(exp), "s%lld", (long long)want);
                assert_string_equal(s, exp);
                want++;
                count++;
        }
        assert_int_equal(rc, EOF);
        assert_int_equal(count, 3000);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(ws);
        avro_file_reader_close(fr);
        unlink(path);
        ls_buf_free(&out);
}

static void test_header_layout(void **state) {
        static const uint8_t head[] = {'O', 'b', 'j', 1,   4,   22,
                                       'a', 'v', 'r', 'o', '.', 's',
                                       'c', 'h', 'e', 'm', 'a'};
        size_t len = strlen(schema_text), off;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        ls_container_t c;
        ls_buf_t out;

        (void)state;
        ls_buf_init(&out);
        assert_int_equal(ls_container_begin(&c, schema_text, len, &out), LS_OK);
        EVP_Digest(schema_text, len, md, &md_len, EVP_sha256(), NULL);
        /* the sync marker is the schema's SHA-256 prefix */
        assert_memory_equal(c.sync, md, LS_CONTAINER_SYNC_LEN);
        assert_memory_equal(out.data, head, sizeof(head));
        off = sizeof(head);
        /* the schema's length (zigzag varint, two bytes here), its text */
        assert_true(len >= 64 && len < 8192);
        assert_int_equal((uint8_t)out.data[off], ((len << 1) & 0x7f) | 0x80);
        assert_int_equal((uint8_t)out.data[off + 1], (len << 1) >> 7);
        off += 2;
        assert_memory_equal(out.data + off, schema_text, len);
        off += len;
        assert_memory_equal(out.data + off,
                            "\x14"
                            "avro.codec"
                            "\x08"
                            "null",
                            16);
        off += 16;
        assert_int_equal(out.data[off], 0); /* end of the map */
        off++;
        assert_memory_equal(out.data + off, md, LS_CONTAINER_SYNC_LEN);
        assert_int_equal(out.len, off + LS_CONTAINER_SYNC_LEN);
        ls_buf_free(&out);
}

static void test_deterministic(void **state) {
        static const char other[] =
                "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
                "{\"name\":\"n\",\"type\":\"long\"},"
                "{\"name\":\"s\",\"type\":\"string\"}]} ";
        ls_buf_t a, b, o;
        ls_container_t ca, co;

        (void)state;
        ls_buf_init(&a);
        ls_buf_init(&b);
        ls_buf_init(&o);
        build(schema_text, 2, 50, &a);
        build(schema_text, 2, 50, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        /* another schema text: another marker */
        ls_buf_reset(&o);
        assert_int_equal(
                ls_container_begin(&ca, schema_text, strlen(schema_text), &o),
                LS_OK);
        assert_int_equal(ls_container_begin(&co, other, strlen(other), &o),
                         LS_OK);
        assert_memory_not_equal(ca.sync, co.sync, LS_CONTAINER_SYNC_LEN);
        ls_buf_free(&a);
        ls_buf_free(&b);
        ls_buf_free(&o);
}

static void test_empty(void **state) {
        ls_container_t c;
        ls_buf_t out;
        size_t len;

        (void)state;
        ls_buf_init(&out);
        memset(&c, 0x5a, sizeof(c));
        assert_int_equal(ls_container_begin(&c, "", 0, &out), LS_ERR_INVALID);
        assert_int_equal(out.len, 0);
        assert_int_equal(c.sync[0], 0x5a);
        assert_int_equal(
                ls_container_begin(&c, schema_text, strlen(schema_text), &out),
                LS_OK);
        len = out.len;
        /* no records: no block (a reader would stop there) */
        assert_int_equal(ls_container_block(&c, 0, "", 0, &out), LS_OK);
        assert_int_equal(out.len, len);
        ls_buf_free(&out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_back),
                cmocka_unit_test(test_header_layout),
                cmocka_unit_test(test_deterministic),
                cmocka_unit_test(test_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
