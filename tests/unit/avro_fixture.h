/*
 * avro_fixture.h - what the unit tests that read Avro back with avro-c
 * share: a schema file of the source tree, parsed.
 */
#ifndef LS_TEST_AVRO_FIXTURE_H
#define LS_TEST_AVRO_FIXTURE_H

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>

#include "leadscore/ls_buf.h"

/* @returns the schema of @p file under @p dir of the source tree (e.g.
 * "schemas", "alert.avsc"); fails the test when it does not parse. */
static avro_schema_t fx_load_schema(const char *dir, const char *file) {
        char path[1024], *text;
        avro_schema_t s;
        FILE *fp;
        long n;

        snprintf(path, sizeof(path), "%s/%s/%s", LS_SOURCE_DIR, dir, file);
        fp = fopen(path, "rb");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        text = malloc((size_t)n + 1);
        assert_non_null(text);
        assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
        text[n] = '\0';
        fclose(fp);
        if (avro_schema_from_json_length(text, (size_t)n, &s))
                fail_msg("%s: %s", path, avro_strerror());
        free(text);
        return s;
}

/* Reads the Avro datum of @p buf into @p v; fails the test when avro-c
 * cannot. */
static inline void fx_avro_read(const ls_buf_t *buf, avro_value_t *v) {
        avro_reader_t r = avro_reader_memory(buf->data, (int64_t)buf->len);

        if (avro_value_read(r, v))
                fail_msg("read: %s", avro_strerror());
        avro_reader_free(r);
}

/* Fails the test unless avro-c writes @p v back as the bytes of @p buf
 * (it read all of them, and nothing is left out). */
static inline void fx_avro_same_bytes(avro_value_t *v, const ls_buf_t *buf) {
        static char bytes[8192];
        avro_writer_t wr = avro_writer_memory(bytes, sizeof(bytes));

        assert_int_equal(avro_value_write(wr, v), 0);
        assert_int_equal(avro_writer_tell(wr), (int64_t)buf->len);
        assert_memory_equal(bytes, buf->data, buf->len);
        avro_writer_free(wr);
}

#endif /* LS_TEST_AVRO_FIXTURE_H */
