/*
 * test_codec.c - the codec facade: plain Avro, JSON and Schema Registry
 * framed inputs (the writer schemas come from a resolver in memory that
 * counts what it is asked: the codec knows no transport, and the HTTP
 * client behind the real resolver has tests of its own in
 * test_registry.c), the value
 * checks every format shares, output / dead-letter encodings, and the
 * schemas built into the program (equal to schemas/, overridden by a
 * configured directory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <avro.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_resolver.h"

#define SCHEMAS LS_SOURCE_DIR "/schemas"

/* ---- the resolver: a table in memory ---- */

#define TRES_IDS 8
#define TRES_SUBJECTS 4

typedef struct tres_s {
        const char *text[TRES_IDS]; /* schema by id 1 .. 7 */
        int32_t range_lo, range_hi; /* ids of range_text too */
        const char *range_text;
        int gets[TRES_IDS]; /* lookups by id; [0]: any other id */
        int down;           /* every call fails as a transport would */
        char *subject[TRES_SUBJECTS], *registered[TRES_SUBJECTS];
        int posts[TRES_SUBJECTS];
        int n_subjects;
        int destroyed;
} tres_t;

static ls_err_t tres_get(void *opaque, int32_t id, const char **textp,
                         char *errstr, size_t errstr_size) {
        tres_t *t = opaque;

        if (t->down)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "registry unreachable");
        t->gets[id > 0 && id < TRES_IDS ? id : 0]++;
        if (id > 0 && id < TRES_IDS && t->text[id]) {
                *textp = t->text[id];
                return LS_OK;
        }
        if (t->range_text && id >= t->range_lo && id <= t->range_hi) {
                *textp = t->range_text;
                return LS_OK;
        }
        return ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                         "schema id %d not found in registry", (int)id);
}

static ls_err_t tres_register(void *opaque, const char *subject,
                              const char *schema_text, int32_t *idp,
                              char *errstr, size_t errstr_size) {
        tres_t *t = opaque;
        int i;

        if (t->down)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "registry unreachable");
        for (i = 0; i < t->n_subjects; i++)
                if (!strcmp(t->subject[i], subject))
                        break;
        if (i == t->n_subjects) {
                assert_true(i < TRES_SUBJECTS);
                t->subject[i] = strdup(subject);
                t->registered[i] = strdup(schema_text);
                t->n_subjects++;
        }
        t->posts[i]++;
        *idp = 100 + i;
        return LS_OK;
}

static void tres_destroy(void *opaque) {
        tres_t *t = opaque;
        int i;

        t->destroyed++;
        for (i = 0; i < t->n_subjects; i++) {
                free(t->subject[i]);
                free(t->registered[i]);
        }
        t->n_subjects = 0;
}

static void tres_init(tres_t *t, ls_resolver_t *res) {
        memset(t, 0, sizeof(*t));
        res->opaque = t;
        res->get_schema = tres_get;
        res->register_schema = tres_register;
        res->destroy = tres_destroy;
}

/* @returns how often @p subject was registered. */
static int tres_posts(const tres_t *t, const char *subject) {
        int i;

        for (i = 0; i < t->n_subjects; i++)
                if (!strcmp(t->subject[i], subject))
                        return t->posts[i];
        return 0;
}

static const char *evolved_event =
        "{\"type\":\"record\",\"name\":\"LeadEvent\",\"namespace\":"
        "\"io.leadscore\",\"fields\":["
        "{\"name\":\"lead_id\",\"type\":\"string\"},"
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"event_type\",\"type\":\"string\"},"
        "{\"name\":\"occurred_at\",\"type\":{\"type\":\"long\","
        "\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"product\",\"type\":[\"null\",\"string\"],"
        "\"default\":null},"
        "{\"name\":\"properties\",\"type\":{\"type\":\"map\","
        "\"values\":\"string\"}},"
        "{\"name\":\"campaign_source\",\"type\":[\"null\",\"string\"],"
        "\"default\":null}]}";

/* An older writer: no product field yet. */
static const char *old_event =
        "{\"type\":\"record\",\"name\":\"LeadEvent\",\"namespace\":"
        "\"io.leadscore\",\"fields\":["
        "{\"name\":\"lead_id\",\"type\":\"string\"},"
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"event_type\",\"type\":\"string\"},"
        "{\"name\":\"occurred_at\",\"type\":\"long\"},"
        "{\"name\":\"properties\",\"type\":{\"type\":\"map\","
        "\"values\":\"string\"}}]}";

/* lead_id is a long here: cannot be read as our string. */
static const char *incompatible_event =
        "{\"type\":\"record\",\"name\":\"LeadEvent\",\"namespace\":"
        "\"io.leadscore\",\"fields\":["
        "{\"name\":\"lead_id\",\"type\":\"long\"}]}";

/* ---- records ---- */

/* An event written by avro-c with @p schema_text; campaign set if known. */
static size_t make_event(const char *schema_text, const char *lead,
                         int64_t time, const char *campaign, uint8_t *out,
                         size_t size) {
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t rec, f, br, item;
        avro_writer_t w;
        size_t len;

        assert_int_equal(avro_schema_from_json_length(
                                 schema_text, strlen(schema_text), &schema),
                         0);
        iface = avro_generic_class_from_schema(schema);
        avro_generic_value_new(iface, &rec);
        avro_value_get_by_name(&rec, "lead_id", &f, NULL);
        avro_value_set_string(&f, lead);
        avro_value_get_by_name(&rec, "event_id", &f, NULL);
        avro_value_set_string(&f, "ev-1");
        avro_value_get_by_name(&rec, "event_type", &f, NULL);
        avro_value_set_string(&f, "webinar");
        avro_value_get_by_name(&rec, "occurred_at", &f, NULL);
        avro_value_set_long(&f, time);
        if (avro_value_get_by_name(&rec, "product", &f, NULL) == 0) {
                avro_value_set_branch(&f, 1, &br);
                avro_value_set_string(&br, "office");
        }
        avro_value_get_by_name(&rec, "properties", &f, NULL);
        avro_value_add(&f, "url", &item, NULL, NULL);
        avro_value_set_string(&item, "/demo");
        if (avro_value_get_by_name(&rec, "campaign_source", &f, NULL) == 0) {
                avro_value_set_branch(&f, campaign ? 1 : 0, &br);
                if (campaign)
                        avro_value_set_string(&br, campaign);
                else
                        avro_value_set_null(&br);
        }
        w = avro_writer_memory((char *)out, (int64_t)size);
        assert_int_equal(avro_value_write(w, &rec), 0);
        len = (size_t)avro_writer_tell(w);
        avro_writer_free(w);
        avro_value_decref(&rec);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        return len;
}

static char *read_text(const char *path) {
        FILE *fp = fopen(path, "rb");
        char *buf = calloc(1, 65536);

        assert_non_null(fp);
        assert_true(fread(buf, 1, 65535, fp) > 0);
        fclose(fp);
        return buf;
}

static size_t frame(int32_t id, const uint8_t *body, size_t len, uint8_t *out) {
        out[0] = 0;
        out[1] = (uint8_t)(id >> 24);
        out[2] = (uint8_t)(id >> 16);
        out[3] = (uint8_t)(id >> 8);
        out[4] = (uint8_t)id;
        memcpy(out + 5, body, len);
        return len + 5;
}

static void check_event(const ls_input_t *in, const char *lead, int64_t time) {
        assert_int_equal(in->kind, LS_INPUT_EVENT);
        assert_string_equal(in->lead_id, lead);
        assert_string_equal(in->event_id, "ev-1");
        assert_string_equal(in->event_type, "webinar");
        assert_string_equal(in->product, "office");
        assert_int_equal(in->time, time);
        assert_int_equal(in->n_fields, 1);
        assert_string_equal(in->fields[0].key, "url");
        assert_string_equal(in->fields[0].value, "/demo");
}

#define ASSERT_ERR(call, code, text)                                           \
        do {                                                                   \
                ls_err_t rc_ = (call);                                         \
                if (rc_ != (code) || !strstr(err, (text)))                     \
                        fail_msg("got %d \"%s\", want %d \"%s\"", rc_, err,    \
                                 (code), (text));                              \
        } while (0)

/* ---- tests ---- */

static void test_format_parse(void **state) {
        ls_format_t f;

        (void)state;
        assert_int_equal(ls_format_parse("json", &f), LS_OK);
        assert_int_equal(f, LS_FORMAT_JSON);
        assert_int_equal(ls_format_parse("registry", &f), LS_OK);
        assert_int_equal(f, LS_FORMAT_REGISTRY);
        assert_int_equal(ls_format_parse("avro", &f), LS_OK);
        assert_string_equal(ls_format2str(f), "avro");
        assert_int_equal(ls_format_parse("xml", &f), LS_ERR_INVALID);
}

static void test_new_errors(void **state) {
        tres_t t;
        ls_resolver_t res;
        ls_codec_conf_t conf = {LS_FORMAT_AVRO, LS_FORMAT_JSON, NULL, 0, NULL};
        char err[512], dir[] = "/tmp/ls_schemas_XXXXXX", path[600];
        FILE *fp;

        (void)state;
        conf.input_format = LS_FORMAT_REGISTRY;
        conf.schema_dir = SCHEMAS;
        assert_null(ls_codec_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "registry.url"));
        /* the codec takes its resolver on failure too */
        tres_init(&t, &res);
        conf.resolver = &res;
        conf.schema_dir = "/nonexistent/schemas";
        assert_null(ls_codec_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "/nonexistent/schemas/"));
        assert_int_equal(t.destroyed, 1);
        conf.resolver = NULL;
        /* a broken schema file is named */
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/lead_event.avsc", dir);
        fp = fopen(path, "w");
        fputs("{\"type\": \"record\", \"name\": ", fp);
        fclose(fp);
        conf.input_format = LS_FORMAT_AVRO;
        conf.schema_dir = dir;
        assert_null(ls_codec_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, path));
        /* a missing one too */
        unlink(path);
        assert_null(ls_codec_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, path));
        rmdir(dir);
}

static const char *const schema_files[] = {
        "lead_event.avsc", "lead_profile.avsc", "score_update.avsc",
        "alert.avsc", "dead_letter.avsc"};

/* The built-in texts are schemas/ byte for byte; a set directory wins. */
static void test_builtin_schemas(void **state) {
        char err[512], dir[] = "/tmp/ls_schemas_XXXXXX", path[600], *text;
        const char *own = "{\"type\": \"record\", \"name\": \"LeadEvent\", "
                          "\"doc\": \"a \\\"local\\\" copy\", \"fields\": ["
                          "{\"name\": \"lead_id\", \"type\": \"string\"}]}\n";
        size_t i;
        FILE *fp;

        (void)state;
        for (i = 0; i < sizeof(schema_files) / sizeof(schema_files[0]); i++) {
                char *want;

                snprintf(path, sizeof(path), "%s/%s", SCHEMAS, schema_files[i]);
                want = read_text(path);
                text = NULL;
                assert_int_equal(ls_codec_schema_text(NULL, schema_files[i],
                                                      &text, err, sizeof(err)),
                                 LS_OK);
                assert_string_equal(text, want);
                ls_free(text);
                text = NULL;
                assert_int_equal(ls_codec_schema_text("", schema_files[i],
                                                      &text, err, sizeof(err)),
                                 LS_OK);
                assert_string_equal(text, want);
                ls_free(text);
                free(want);
        }
        text = NULL;
        assert_int_equal(ls_codec_schema_text(NULL, "nope.avsc", &text, err,
                                              sizeof(err)),
                         LS_ERR_INVALID);
        assert_null(text);
        assert_non_null(strstr(err, "nope.avsc"));

        /* A directory holding its own lead_event.avsc: that text is used
         * (a reader schema that lacks fields is refused, naming the file),
         * and its other files must be there too. */
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/lead_event.avsc", dir);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(own, fp);
        fclose(fp);
        assert_int_equal(ls_codec_schema_text(dir, "lead_event.avsc", &text,
                                              err, sizeof(err)),
                         LS_OK);
        assert_string_equal(text, own);
        ls_free(text);
        text = NULL;
        assert_int_equal(ls_codec_schema_text(dir, "alert.avsc", &text, err,
                                              sizeof(err)),
                         LS_ERR_IO);
        assert_null(text);
        assert_non_null(strstr(err, "/alert.avsc"));
        {
                ls_codec_conf_t conf = {LS_FORMAT_AVRO, LS_FORMAT_JSON, dir, 0,
                                        NULL};
                assert_null(ls_codec_new(&conf, err, sizeof(err)));
                assert_non_null(strstr(err, path));
        }
        unlink(path);
        rmdir(dir);
}

/* No schema_dir: Avro in and out with the built-in schemas. */
static void test_avro_builtin(void **state) {
        ls_codec_conf_t conf = {LS_FORMAT_AVRO, LS_FORMAT_AVRO, NULL, 0, NULL};
        char *reader = read_text(SCHEMAS "/lead_event.avsc");
        uint8_t buf[1024];
        char err[256];
        ls_codec_t *codec;
        ls_input_t in;
        size_t len;

        (void)state;
        codec = ls_codec_new(&conf, err, sizeof(err));
        assert_non_null(codec);
        len = make_event(reader, "lead-1", 1700000000000LL, NULL, buf,
                         sizeof(buf));
        assert_int_equal(ls_codec_decode_input(codec, LS_INPUT_EVENT, buf, len,
                                               &in, err, sizeof(err)),
                         LS_OK);
        check_event(&in, "lead-1", 1700000000000LL);
        ls_codec_destroy(codec);
        free(reader);
}

static void test_avro_input(void **state) {
        ls_codec_conf_t conf = {LS_FORMAT_AVRO, LS_FORMAT_JSON, SCHEMAS, 200,
                                NULL};
        char *reader = read_text(SCHEMAS "/lead_event.avsc");
        uint8_t buf[1024];
        char err[256];
        ls_codec_t *codec;
        ls_input_t in;
        size_t len;

        (void)state;
        codec = ls_codec_new(&conf, err, sizeof(err));
        assert_non_null(codec);
        len = make_event(reader, "lead-1", 1700000000000LL, NULL, buf,
                         sizeof(buf));
        assert_int_equal(ls_codec_decode_input(codec, LS_INPUT_EVENT, buf, len,
                                               &in, err, sizeof(err)),
                         LS_OK);
        check_event(&in, "lead-1", 1700000000000LL);

        /* An empty lead_id decodes; the engine rejects it as invalid. */
        len = make_event(reader, "", 1700000000000LL, NULL, buf, sizeof(buf));
        assert_int_equal(ls_codec_decode_input(codec, LS_INPUT_EVENT, buf, len,
                                               &in, err, sizeof(err)),
                         LS_OK);
        assert_string_equal(in.lead_id, "");
        len = make_event(reader, "L", 99999999999999999LL, NULL, buf,
                         sizeof(buf));
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, buf, len, &in,
                                         err, sizeof(err)),
                   LS_ERR_INVALID,
                   "occurred_at: 99999999999999999 out of range");
        len = make_event(reader, "L", -1, NULL, buf, sizeof(buf));
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, buf, len, &in,
                                         err, sizeof(err)),
                   LS_ERR_INVALID, "occurred_at: -1 out of range");
        memset(buf, 'x', 300);
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, buf, 300, &in,
                                         err, sizeof(err)),
                   LS_ERR_INVALID,
                   "record of 300 bytes exceeds the limit of 200 bytes");
        len = make_event(reader, "lead-1", 1700000000000LL, NULL, buf,
                         sizeof(buf));
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, buf, len - 3,
                                         &in, err, sizeof(err)),
                   LS_ERR_INVALID, "properties[0].value: length 5 exceeds");
        ls_codec_destroy(codec);
        free(reader);
}

static void test_json_input(void **state) {
        ls_codec_conf_t conf = {LS_FORMAT_JSON, LS_FORMAT_JSON, NULL, 0, NULL};
        const char *ok = "{\"kind\":\"event\",\"lead_id\":\"L9\",\"event_id\":"
                         "\"e\",\"event_type\":\"visit\",\"occurred_at\":"
                         "1700000000000}";
        const char *bad = "{\"kind\":\"event\",\"lead_id\":\"L9\",\"event_id\":"
                          "\"e\",\"event_type\":\"visit\",\"occurred_at\":"
                          "99999999999999999}";
        char err[256];
        ls_codec_t *codec = ls_codec_new(&conf, err, sizeof(err));
        ls_input_t in;

        (void)state;
        assert_non_null(codec);
        assert_int_equal(ls_codec_decode_input(codec, LS_INPUT_EVENT, ok,
                                               strlen(ok), &in, err,
                                               sizeof(err)),
                         LS_OK);
        assert_string_equal(in.lead_id, "L9");
        assert_int_equal(in.time, 1700000000000LL);
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, bad,
                                         strlen(bad), &in, err, sizeof(err)),
                   LS_ERR_INVALID, "occurred_at");
        ls_codec_destroy(codec);
}

static void test_registry_input(void **state) {
        tres_t t;
        ls_resolver_t res;
        char *profile = read_text(SCHEMAS "/lead_profile.avsc");
        ls_codec_conf_t conf = {LS_FORMAT_REGISTRY, LS_FORMAT_JSON, SCHEMAS, 0,
                                NULL};
        char *reader = read_text(SCHEMAS "/lead_event.avsc");
        uint8_t body[1024], msg[1100];
        char err[256];
        ls_codec_t *codec;
        ls_input_t in;
        size_t len, n;
        int i;

        (void)state;
        tres_init(&t, &res);
        t.text[1] = reader;
        t.text[2] = evolved_event;
        t.text[3] = profile;
        t.text[4] = incompatible_event;
        t.text[5] = old_event;
        conf.resolver = &res;
        codec = ls_codec_new(&conf, err, sizeof(err));
        assert_non_null(codec);

        /* id 1: our reader schema (fast path) */
        len = make_event(reader, "lead-1", 1700000000001LL, NULL, body,
                         sizeof(body));
        n = frame(1, body, len, msg);
        for (i = 0; i < 5; i++) {
                assert_int_equal(ls_codec_decode_input(codec, LS_INPUT_EVENT,
                                                       msg, n, &in, err,
                                                       sizeof(err)),
                                 LS_OK);
                check_event(&in, "lead-1", 1700000000001LL);
        }
        /* id 2: evolved writer with a new optional field, set and unset */
        for (i = 0; i < 6; i++) {
                char lead[32];

                snprintf(lead, sizeof(lead), "lead-%d", 100 + i);
                len = make_event(evolved_event, lead, 1700000000002LL + i,
                                 i % 2 ? "newsletter" : NULL, body,
                                 sizeof(body));
                n = frame(2, body, len, msg);
                if (ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n, &in,
                                          err, sizeof(err)))
                        fail_msg("evolved %d: %s", i, err);
                check_event(&in, lead, 1700000000002LL + i);
        }
        /* corrupt evolved records: truncated everywhere, never a crash */
        len = make_event(evolved_event, "lead-x", 1700000000002LL, "newsletter",
                         body, sizeof(body));
        n = frame(2, body, len, msg);
        for (i = 0; i < (int)n; i++) {
                uint8_t *copy = malloc((size_t)i + 1);

                memcpy(copy, msg, (size_t)i);
                assert_int_equal(ls_codec_decode_input(codec, LS_INPUT_EVENT,
                                                       copy, (size_t)i, &in,
                                                       err, sizeof(err)),
                                 LS_ERR_INVALID);
                free(copy);
        }
        msg[n - 11] = 0x7e; /* campaign_source length: 63 */
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n, &in,
                                         err, sizeof(err)),
                   LS_ERR_INVALID, "campaign_source: length 63 exceeds");
        /* id 5: an older writer without the optional product */
        len = make_event(old_event, "lead-old", 1700000000005LL, NULL, body,
                         sizeof(body));
        n = frame(5, body, len, msg);
        for (i = 0; i < 2; i++) {
                if (ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n, &in,
                                          err, sizeof(err)))
                        fail_msg("old writer: %s", err);
                assert_string_equal(in.lead_id, "lead-old");
                assert_null(in.product);
                assert_int_equal(in.time, 1700000000005LL);
                assert_int_equal(in.n_fields, 1);
                assert_string_equal(in.fields[0].value, "/demo");
        }
        /* each schema was asked for once */
        assert_int_equal(t.gets[5], 1);
        assert_int_equal(t.gets[1], 1);
        assert_int_equal(t.gets[2], 1);

        /* unknown id: an error naming it (remembering unknown ids is the
         * registry client's job, test_registry.c) */
        n = frame(99, body, len, msg);
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n, &in,
                                         err, sizeof(err)),
                   LS_ERR_UNSUPPORTED, "schema id 99 not found in registry");
        assert_int_equal(t.gets[0], 1);

        /* a writer schema that cannot be resolved, cached with why */
        n = frame(4, body, len, msg);
        for (i = 0; i < 3; i++)
                ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n,
                                                 &in, err, sizeof(err)),
                           LS_ERR_UNSUPPORTED,
                           "schema id 4: cannot be resolved to LeadEvent");
        assert_int_equal(t.gets[4], 1);

        /* the profile schema under id 3 is not an event */
        n = frame(3, body, len, msg);
        assert_int_not_equal(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg,
                                                   n, &in, err, sizeof(err)),
                             LS_OK);

        /* framing errors */
        msg[0] = 1;
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n, &in,
                                         err, sizeof(err)),
                   LS_ERR_INVALID, "magic byte 0x01 at byte 0");
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, 3, &in,
                                         err, sizeof(err)),
                   LS_ERR_INVALID, "3 bytes, need at least 5");
        assert_int_equal(t.destroyed, 0);
        ls_codec_destroy(codec);
        assert_int_equal(t.destroyed, 1);
        free(reader);
        free(profile);
}

/*
 * More distinct ids than the writer cache holds (1024): the oldest entry
 * is evicted, and an unknown id after that fails cleanly. The slot for the
 * new id used to keep a byte copy of the entry moved down by the eviction,
 * which the failed lookup freed a second time (ASan reports it).
 */
static void test_registry_many_ids(void **state) {
        tres_t t;
        ls_resolver_t res;
        ls_codec_conf_t conf = {LS_FORMAT_REGISTRY, LS_FORMAT_JSON, SCHEMAS, 0,
                                NULL};
        char err[256];
        uint8_t body[1024], msg[1100];
        ls_codec_t *codec;
        ls_input_t in;
        size_t len, n;
        int32_t id;

        (void)state;
        tres_init(&t, &res);
        t.range_lo = 1;
        t.range_hi = 1025;
        t.range_text = evolved_event;
        conf.resolver = &res;
        codec = ls_codec_new(&conf, err, sizeof(err));
        assert_non_null(codec);
        len = make_event(evolved_event, "lead-many", 1700000000009LL,
                         "newsletter", body, sizeof(body));
        for (id = 1; id <= 1025; id++) {
                n = frame(id, body, len, msg);
                if (ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n, &in,
                                          err, sizeof(err)))
                        fail_msg("id %d: %s", (int)id, err);
                assert_string_equal(in.lead_id, "lead-many");
        }
        n = frame(5000, body, len, msg);
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n, &in,
                                         err, sizeof(err)),
                   LS_ERR_UNSUPPORTED, "schema id 5000 not found in registry");
        /* the cache still works: the newest id decodes without a fetch */
        n = frame(1025, body, len, msg);
        assert_int_equal(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, n,
                                               &in, err, sizeof(err)),
                         LS_OK);
        assert_string_equal(in.lead_id, "lead-many");
        ls_codec_destroy(codec);
}

/* ---- outputs ---- */

static ls_level_t grades[2] = {{"A", 1, 50}, {"B", 0, 0}};
static ls_level_t bands[2] = {{"cold", 0, 0}, {"hot", 1, 30}};
static ls_reason_t reasons[1] = {{LS_REASON_RULE, "pricing", 10, 0}};

static void make_output(ls_model_t *m, ls_outbuf_t *ob, ls_output_t *o,
                        ls_output_kind_t kind) {
        memset(m, 0, sizeof(*m));
        m->id = "office";
        strcpy(m->version, "00112233aabbccdd");
        m->grades = grades;
        m->n_grades = 2;
        m->bands = bands;
        m->n_bands = 2;
        memset(ob, 0, sizeof(*ob));
        ob->reasons = reasons;
        ob->n_reasons = 1;
        memset(o, 0, sizeof(*o));
        o->kind = kind;
        o->alert = kind == LS_OUT_ALERT ? LS_ALERT_MQL : LS_ALERT_NONE;
        o->lead_id = "lead-1";
        o->model = m;
        o->seq = 3;
        o->time = 1700000000000LL;
        o->cause = LS_CAUSE_EVENT;
        o->cause_id = "ev-1";
        o->total = 60;
        o->fit = 50;
        o->engagement = 10;
        o->grade = 0;
        o->band = 0;
        strcpy(o->cell, "A1");
        o->mql = 1;
        o->n_reasons = 1;
}

/* A resolver that cannot be reached: LS_ERR_IO with its message, on
 * input and on output, and nothing cached, so that the next record asks
 * again. */
static void test_registry_down(void **state) {
        tres_t t;
        ls_resolver_t res;
        ls_codec_conf_t conf = {LS_FORMAT_REGISTRY, LS_FORMAT_REGISTRY, SCHEMAS,
                                0, NULL};
        char err[512];
        uint8_t msg[16] = {0, 0, 0, 0, 1, 2, 'L'};
        ls_codec_t *codec;
        ls_input_t in;
        ls_model_t m;
        ls_outbuf_t ob;
        ls_output_t o;
        ls_buf_t buf;

        (void)state;
        tres_init(&t, &res);
        t.text[1] = evolved_event;
        t.down = 1;
        conf.resolver = &res;
        codec = ls_codec_new(&conf, err, sizeof(err));
        assert_non_null(codec);
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, 8, &in,
                                         err, sizeof(err)),
                   LS_ERR_IO, "registry unreachable");
        ls_buf_init(&buf);
        make_output(&m, &ob, &o, LS_OUT_SCORE_UPDATE);
        ASSERT_ERR(ls_codec_encode_output(codec, "scores", &ob, &o, &buf, err,
                                          sizeof(err)),
                   LS_ERR_IO, "registry unreachable");
        /* back: the same record is asked for again and decodes as far as
         * its (cut) body */
        t.down = 0;
        ASSERT_ERR(ls_codec_decode_input(codec, LS_INPUT_EVENT, msg, 8, &in,
                                         err, sizeof(err)),
                   LS_ERR_INVALID, "");
        assert_int_equal(t.gets[1], 1);
        assert_int_equal(ls_codec_encode_output(codec, "scores", &ob, &o, &buf,
                                                err, sizeof(err)),
                         LS_OK);
        assert_int_equal(tres_posts(&t, "scores-value"), 1);
        ls_buf_free(&buf);
        ls_codec_destroy(codec);
}

static void test_registry_output(void **state) {
        tres_t t;
        ls_resolver_t res;
        ls_codec_conf_t conf = {LS_FORMAT_JSON, LS_FORMAT_REGISTRY, SCHEMAS, 0,
                                NULL};
        ls_dead_letter_t dl = {
                "decode", "lead_id: empty", "events", 1, 42, "k", 1, "v", 1, 0};
        char err[256];
        ls_codec_t *codec;
        ls_model_t m;
        ls_outbuf_t ob;
        ls_output_t o;
        ls_buf_t buf;
        uint32_t id1, id2, id3;
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t v, f;
        avro_reader_t r;
        char *text;
        int32_t total;
        int i;

        (void)state;
        tres_init(&t, &res);
        conf.resolver = &res;
        codec = ls_codec_new(&conf, err, sizeof(err));
        assert_non_null(codec);
        ls_buf_init(&buf);
        make_output(&m, &ob, &o, LS_OUT_SCORE_UPDATE);
        for (i = 0; i < 3; i++) {
                ls_buf_reset(&buf);
                assert_int_equal(ls_codec_encode_output(codec, "scores", &ob,
                                                        &o, &buf, err,
                                                        sizeof(err)),
                                 LS_OK);
        }
        assert_int_equal(buf.data[0], 0);
        id1 = ((uint32_t)(uint8_t)buf.data[1] << 24) |
              ((uint32_t)(uint8_t)buf.data[2] << 16) |
              ((uint32_t)(uint8_t)buf.data[3] << 8) | (uint8_t)buf.data[4];
        /* the registered text is our file's, and the bytes are its */
        text = read_text(SCHEMAS "/score_update.avsc");
        assert_int_equal(id1, 100);
        assert_string_equal(t.registered[0], text);
        assert_int_equal(
                avro_schema_from_json_length(text, strlen(text), &schema), 0);
        iface = avro_generic_class_from_schema(schema);
        avro_generic_value_new(iface, &v);
        r = avro_reader_memory(buf.data + 5, (int64_t)buf.len - 5);
        assert_int_equal(avro_value_read(r, &v), 0);
        avro_value_get_by_name(&v, "total", &f, NULL);
        avro_value_get_int(&f, &total);
        assert_int_equal(total, 60);
        avro_reader_free(r);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        free(text);
        assert_int_equal(tres_posts(&t, "scores-value"), 1);

        make_output(&m, &ob, &o, LS_OUT_ALERT);
        ls_buf_reset(&buf);
        assert_int_equal(ls_codec_encode_output(codec, "alerts", &ob, &o, &buf,
                                                err, sizeof(err)),
                         LS_OK);
        id2 = (uint8_t)buf.data[4];
        ls_buf_reset(&buf);
        assert_int_equal(ls_codec_encode_dead_letter(codec, "dlq", &dl, &buf,
                                                     err, sizeof(err)),
                         LS_OK);
        id3 = (uint8_t)buf.data[4];
        assert_true(id1 != id2 && id2 != id3 && id1 != id3);
        assert_int_equal(tres_posts(&t, "alerts-value"), 1);
        assert_int_equal(tres_posts(&t, "dlq-value"), 1);
        ls_buf_free(&buf);
        ls_codec_destroy(codec);
}

static void test_dead_letter_json(void **state) {
        ls_codec_conf_t conf = {LS_FORMAT_JSON, LS_FORMAT_JSON, NULL, 0, NULL};
        ls_dead_letter_t dl = {
                "decode", "bad \xff byte",    "events", 3, 77, NULL,
                0,        "\x00\x01\xfe\xff", 4,        0};
        char err[256];
        unsigned char raw[16];
        ls_codec_t *codec = ls_codec_new(&conf, err, sizeof(err));
        json_error_t jerr;
        json_t *root;
        ls_buf_t buf;
        int n;

        (void)state;
        assert_non_null(codec);
        ls_buf_init(&buf);
        assert_int_equal(ls_codec_encode_dead_letter(codec, "dlq", &dl, &buf,
                                                     err, sizeof(err)),
                         LS_OK);
        root = json_loads(buf.data, 0, &jerr);
        assert_non_null(root);
        assert_string_equal(json_string_value(json_object_get(root, "reason")),
                            "decode");
        assert_string_equal(json_string_value(json_object_get(root, "error")),
                            "bad ? byte");
        assert_int_equal(
                json_integer_value(json_object_get(root, "source_partition")),
                3);
        assert_int_equal(
                json_integer_value(json_object_get(root, "source_offset")), 77);
        assert_true(json_is_null(json_object_get(root, "key")));
        assert_string_equal(
                json_string_value(json_object_get(root, "value_encoding")),
                "base64");
        n = EVP_DecodeBlock(
                raw,
                (const unsigned char *)json_string_value(
                        json_object_get(root, "value")),
                (int)json_string_length(json_object_get(root, "value")));
        assert_true(n >= 4);
        assert_memory_equal(raw, "\x00\x01\xfe\xff", 4);
        assert_true(
                json_is_null(json_object_get(root, "value_truncated_from")));
        json_decref(root);

        /* a value cut to its first 4 bytes says how long it was */
        dl.value_truncated_from = 5000000;
        ls_buf_reset(&buf);
        assert_int_equal(ls_codec_encode_dead_letter(codec, "dlq", &dl, &buf,
                                                     err, sizeof(err)),
                         LS_OK);
        root = json_loads(buf.data, 0, &jerr);
        assert_non_null(root);
        assert_int_equal(json_integer_value(
                                 json_object_get(root, "value_truncated_from")),
                         5000000);
        json_decref(root);
        dl.value_truncated_from = 0;

        /* valid UTF-8 travels as text */
        dl.value = "{\"lead_id\": \"\"}";
        dl.value_len = strlen(dl.value);
        dl.key = "lead-1";
        dl.key_len = 6;
        ls_buf_reset(&buf);
        assert_int_equal(ls_codec_encode_dead_letter(codec, "dlq", &dl, &buf,
                                                     err, sizeof(err)),
                         LS_OK);
        root = json_loads(buf.data, 0, &jerr);
        assert_string_equal(json_string_value(json_object_get(root, "value")),
                            "{\"lead_id\": \"\"}");
        assert_string_equal(
                json_string_value(json_object_get(root, "value_encoding")),
                "utf-8");
        assert_string_equal(json_string_value(json_object_get(root, "key")),
                            "lead-1");
        json_decref(root);
        ls_buf_free(&buf);
        ls_codec_destroy(codec);
}

static void test_avro_output(void **state) {
        ls_codec_conf_t conf = {LS_FORMAT_JSON, LS_FORMAT_AVRO, SCHEMAS, 0,
                                NULL};
        char err[256];
        ls_codec_t *codec = ls_codec_new(&conf, err, sizeof(err));
        ls_model_t m;
        ls_outbuf_t ob;
        ls_output_t o;
        ls_buf_t buf;

        (void)state;
        assert_non_null(codec);
        make_output(&m, &ob, &o, LS_OUT_SCORE_UPDATE);
        ls_buf_init(&buf);
        assert_int_equal(ls_codec_encode_output(codec, "scores", &ob, &o, &buf,
                                                err, sizeof(err)),
                         LS_OK);
        /* plain Avro: no framing; starts with the id string's length */
        assert_int_equal((uint8_t)buf.data[0], 2 * strlen("lead-1/office/3"));
        ls_buf_free(&buf);
        ls_codec_destroy(codec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_parse),
                cmocka_unit_test(test_new_errors),
                cmocka_unit_test(test_builtin_schemas),
                cmocka_unit_test(test_avro_builtin),
                cmocka_unit_test(test_avro_input),
                cmocka_unit_test(test_json_input),
                cmocka_unit_test(test_registry_input),
                cmocka_unit_test(test_registry_down),
                cmocka_unit_test(test_registry_many_ids),
                cmocka_unit_test(test_registry_output),
                cmocka_unit_test(test_dead_letter_json),
                cmocka_unit_test(test_avro_output),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
