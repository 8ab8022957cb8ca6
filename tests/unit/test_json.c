/*
 * test_json.c - unit tests of the JSON codec (ls_json.h): decoding of
 * events and profiles, every decode error and its message, time formats,
 * value conversions, and the exact bytes of encoded outputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_json.h"

/* Decodes @p text into @p in (errstr emptied first); @returns the result. */
static ls_err_t decode(ls_json_dec_t *dec, const char *text, ls_input_t *in,
                       char *errstr, size_t errstr_size) {
        errstr[0] = '\0';
        return ls_json_decode_input(dec, text, strlen(text), in, errstr,
                                    errstr_size);
}

/* Decodes @p text; the test fails, naming the error, unless it is LS_OK. */
static void decode_ok(ls_json_dec_t *dec, const char *text, ls_input_t *in) {
        char errstr[256];
        ls_err_t err = decode(dec, text, in, errstr, sizeof(errstr));

        if (err != LS_OK)
                fail_msg("%s\n  got (%d) '%s'", text, (int)err, errstr);
}

static const char *field(const ls_input_t *in, const char *key) {
        size_t i;

        for (i = 0; i < in->n_fields; i++)
                if (!strcmp(in->fields[i].key, key))
                        return in->fields[i].value;
        return NULL;
}

static void test_decode_event(void **state) {
        ls_json_dec_t *dec = ls_json_dec_new();
        ls_input_t in;

        (void)state;
        assert_non_null(dec);
        decode_ok(dec,
                  "{\"kind\":\"event\",\"lead_id\":\"L1\","
                  "\"event_id\":\"e1\",\"event_type\":\"page_view\","
                  "\"occurred_at\":\"2026-03-01T10:00:00Z\","
                  "\"product\":\"office\",\"properties\":{\"url\":"
                  "\"https://x.io/pricing\",\"n\":42,\"ratio\":3.5,"
                  "\"bot\":true,\"human\":false,\"gone\":null}}",
                  &in);
        assert_int_equal(in.kind, LS_INPUT_EVENT);
        assert_string_equal(in.lead_id, "L1");
        assert_string_equal(in.event_id, "e1");
        assert_string_equal(in.event_type, "page_view");
        assert_string_equal(in.product, "office");
        assert_int_equal(in.time, 1772359200000LL);
        assert_int_equal(in.n_fields, 5); /* null means absent */
        assert_string_equal(field(&in, "url"), "https://x.io/pricing");
        assert_string_equal(field(&in, "n"), "42");
        assert_string_equal(field(&in, "ratio"), "3.5");
        assert_string_equal(field(&in, "bot"), "true");
        assert_string_equal(field(&in, "human"), "false");
        assert_null(field(&in, "gone"));

        /* kind inferred from event_type; no product, no properties;
         * integer milliseconds. The decoder's storage is reused. */
        decode_ok(dec,
                  "{\"lead_id\":\"L2\",\"event_id\":\"e2\","
                  "\"event_type\":\"email_open\","
                  "\"occurred_at\":1772359200123}",
                  &in);
        assert_int_equal(in.kind, LS_INPUT_EVENT);
        assert_string_equal(in.lead_id, "L2");
        assert_null(in.product);
        assert_int_equal(in.n_fields, 0);
        assert_int_equal(in.time, 1772359200123LL);

        /* No event_id, or an empty one: never deduplicated (as Avro's
         * empty string). An empty lead_id or event_type decodes: the
         * engine rejects it as invalid, the same for every format. Integer
         * times just outside the seconds-like range are milliseconds. */
        decode_ok(dec,
                  "{\"lead_id\":\"L3\",\"event_type\":\"t\","
                  "\"occurred_at\":999999999}",
                  &in);
        assert_null(in.event_id);
        assert_int_equal(in.time, 999999999LL);
        decode_ok(dec,
                  "{\"lead_id\":\"\",\"event_id\":\"\",\"event_type\":\"\","
                  "\"occurred_at\":100000000000}",
                  &in);
        assert_string_equal(in.lead_id, "");
        assert_string_equal(in.event_id, "");
        assert_string_equal(in.event_type, "");
        assert_int_equal(in.time, 100000000000LL);
        ls_json_dec_destroy(dec);
}

static void test_decode_profile(void **state) {
        ls_json_dec_t *dec = ls_json_dec_new();
        ls_input_t in;

        (void)state;
        decode_ok(dec,
                  "{\"kind\":\"profile\",\"lead_id\":\"L1\","
                  "\"updated_at\":\"2026-03-01T12:00:00+02:00\","
                  "\"attributes\":{\"email\":\"a@b.com\","
                  "\"employees\":250,\"industry\":\"\"}}",
                  &in);
        assert_int_equal(in.kind, LS_INPUT_PROFILE);
        assert_string_equal(in.lead_id, "L1");
        assert_null(in.event_type);
        assert_int_equal(in.time, 1772359200000LL);
        assert_int_equal(in.n_fields, 3);
        assert_string_equal(field(&in, "email"), "a@b.com");
        assert_string_equal(field(&in, "employees"), "250");
        assert_string_equal(field(&in, "industry"), ""); /* clears */

        /* kind inferred from attributes */
        decode_ok(dec,
                  "{\"lead_id\":\"L3\",\"updated_at\":0,"
                  "\"attributes\":{}}",
                  &in);
        assert_int_equal(in.kind, LS_INPUT_PROFILE);
        assert_int_equal(in.time, 0);
        assert_int_equal(in.n_fields, 0);
        ls_json_dec_destroy(dec);
}

struct bad_case {
        const char *json;
        const char *message;
};

static void test_decode_errors(void **state) {
        static const struct bad_case cases[] = {
                {"{\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":1}",
                 "lead_id: missing"},
                {"{\"lead_id\":7,\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":1}",
                 "lead_id: must be a string"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":9,"
                 "\"occurred_at\":1}",
                 "event_id: must be a string"},
                /* epoch seconds where milliseconds belong */
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":1772532000}",
                 "occurred_at: 1772532000 looks like seconds since the epoch; "
                 "give milliseconds (1772532000000) or an RFC 3339 string"},
                {"{\"lead_id\":\"L\",\"updated_at\":99999999999,"
                 "\"attributes\":{}}",
                 "updated_at: 99999999999 looks like seconds since the epoch; "
                 "give milliseconds (99999999999000) or an RFC 3339 string"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":true}",
                 "occurred_at: expected integer milliseconds or RFC 3339 "
                 "string"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":1.5}",
                 "occurred_at: expected integer milliseconds or RFC 3339 "
                 "string"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\"}",
                 "occurred_at: missing"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":-1}",
                 "occurred_at: -1 is out of range (1970 to 9999)"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":253402300800000}",
                 "occurred_at: 253402300800000 is out of range (1970 to "
                 "9999)"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":\"1969-12-31T23:59:59Z\"}",
                 "occurred_at: \"1969-12-31T23:59:59Z\" is not an RFC 3339 "
                 "time between 1970 and 9999"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":\"yesterday\"}",
                 "occurred_at: \"yesterday\" is not an RFC 3339 time between "
                 "1970 and 9999"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":1,\"properties\":{\"url\":{\"a\":1}}}",
                 "properties.url: nested values are not allowed"},
                {"{\"lead_id\":\"L\",\"updated_at\":1,"
                 "\"attributes\":{\"tags\":[1,2]}}",
                 "attributes.tags: nested values are not allowed"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":1,\"properties\":[]}",
                 "properties: expected an object"},
                {"{\"kind\":\"event\",\"lead_id\":\"L\",\"event_id\":\"e\","
                 "\"occurred_at\":1}",
                 "event_type: missing"},
                {"{\"lead_id\":\"L\",\"event_type\":\"t\",\"event_id\":\"e\","
                 "\"occurred_at\":1,\"product\":5}",
                 "product: must be a non-empty string"},
                {"{\"kind\":\"profile\",\"lead_id\":\"L\",\"updated_at\":1}",
                 "attributes: missing"},
                {"{\"lead_id\":\"L\",\"attributes\":{}}",
                 "updated_at: missing"},
                {"{\"kind\":\"click\",\"lead_id\":\"L\"}",
                 "kind: expected \"event\" or \"profile\", not \"click\""},
                {"{\"kind\":3,\"lead_id\":\"L\"}",
                 "kind: expected \"event\" or \"profile\""},
                {"{\"lead_id\":\"L\"}",
                 "kind: missing, and neither event_type nor attributes says "
                 "which"},
                {"[1,2]", "expected a JSON object"},
                {"{\"lead_id\":\"L\",\"lead_id\":\"M\"}",
                 "invalid JSON at column 24: duplicate object key near "
                 "'\"lead_id\"'"},
                {"{\"lead_id\": nope}",
                 "invalid JSON at column 16: invalid token near 'nope'"},
                {"{\"lead_id\":\"L\"", "invalid JSON at column 14: "},
                {"", "invalid JSON at column 0: "},
        };
        ls_json_dec_t *dec = ls_json_dec_new();
        ls_input_t in;
        char errstr[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                ls_err_t err =
                        decode(dec, cases[i].json, &in, errstr, sizeof(errstr));

                if (err != LS_ERR_INVALID ||
                    strncmp(errstr, cases[i].message,
                            strlen(cases[i].message)) != 0)
                        fail_msg("case %zu: %s\n  got (%d) '%s'\n  want '%s'",
                                 i, cases[i].json, (int)err, errstr,
                                 cases[i].message);
        }
        ls_json_dec_destroy(dec);
}

static void test_decode_lead_id_length(void **state) {
        ls_json_dec_t *dec = ls_json_dec_new();
        char id[300], json[512], errstr[256];
        ls_input_t in;

        (void)state;
        memset(id, 'x', 256);
        id[256] = '\0';
        snprintf(json, sizeof(json),
                 "{\"lead_id\":\"%s\",\"updated_at\":1,\"attributes\":{}}", id);
        decode_ok(dec, json, &in);
        assert_int_equal(strlen(in.lead_id), 256);

        id[256] = 'x';
        id[257] = '\0';
        snprintf(json, sizeof(json),
                 "{\"lead_id\":\"%s\",\"updated_at\":1,\"attributes\":{}}", id);
        assert_int_equal(decode(dec, json, &in, errstr, sizeof(errstr)),
                         LS_ERR_INVALID);
        assert_string_equal(errstr, "lead_id: longer than 256 bytes");
        ls_json_dec_destroy(dec);
}

static void test_parse_time(void **state) {
        static const struct {
                const char *s;
                int64_t ms;
        } good[] = {
                {"1970-01-01T00:00:00Z", 0},
                {"2026-03-01T10:00:00Z", 1772359200000LL},
                {"2026-03-01t10:00:00z", 1772359200000LL},
                {"2026-03-01 10:00:00Z", 1772359200000LL},
                {"2026-03-01T10:00:00.5Z", 1772359200500LL},
                {"2026-03-01T10:00:00.123456789Z", 1772359200123LL},
                {"2026-03-01T10:00:00+02:00", 1772352000000LL},
                {"2026-03-01T10:00:00-05:30", 1772379000000LL},
                {"2026-03-01T10:00:00.250-05:30", 1772379000250LL},
                {"2024-02-29T23:59:59Z", 1709251199000LL},
                {"9999-12-31T23:59:59Z", 253402300799000LL},
        };
        static const char *const bad[] = {
                "",
                "2026-03-01",
                "2026-03-01T10:00:00",
                "2026-3-01T10:00:00Z",
                "2026-03-01T10:00Z",
                "2025-02-29T00:00:00Z",
                "2026-04-31T00:00:00Z",
                "2026-13-01T00:00:00Z",
                "2026-03-01T24:00:00Z",
                "2026-03-01T10:60:00Z",
                "2026-03-01T10:00:00.Z",
                "2026-03-01T10:00:00+0200",
                "2026-03-01T10:00:00Z ",
                "1969-12-31T23:59:59Z",
                "1970-01-01T00:00:00+00:01",
        };
        int64_t ms;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                ms = -42;
                if (ls_json_parse_time(good[i].s, &ms) != LS_OK ||
                    ms != good[i].ms)
                        fail_msg("'%s': got %lld, want %lld", good[i].s,
                                 (long long)ms, (long long)good[i].ms);
        }
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ms = -42;
                if (ls_json_parse_time(bad[i], &ms) != LS_ERR_INVALID ||
                    ms != -42)
                        fail_msg("'%s' accepted as %lld", bad[i],
                                 (long long)ms);
        }
}

static void test_blank_lines(void **state) {
        (void)state;
        assert_int_equal(ls_json_blank("", 0), 1);
        assert_int_equal(ls_json_blank(" \t\r\n", 4), 1);
        assert_int_equal(ls_json_blank(" {}\n", 4), 0);
        assert_int_equal(ls_json_blank("\n\f", 2), 0); /* not JSON space */
        assert_int_equal(ls_json_blank("\n x", 2), 1); /* only len counts */
}

static void test_value_conversions(void **state) {
        ls_json_dec_t *dec = ls_json_dec_new();
        ls_input_t in;

        (void)state;
        decode_ok(dec,
                  "{\"lead_id\":\"L\",\"updated_at\":1,\"attributes\":{"
                  "\"a\":0.1,\"b\":-7,\"c\":1e20,\"d\":2.0,"
                  "\"e\":-0.25,\"f\":9007199254740993,"
                  "\"g\":\"text\"}}",
                  &in);
        assert_string_equal(field(&in, "a"), "0.1");
        assert_string_equal(field(&in, "b"), "-7");
        assert_string_equal(field(&in, "c"), "1e+20");
        assert_string_equal(field(&in, "d"), "2");
        assert_string_equal(field(&in, "e"), "-0.25");
        assert_string_equal(field(&in, "f"), "9007199254740993");
        assert_string_equal(field(&in, "g"), "text");
        ls_json_dec_destroy(dec);
}

/*
 * Encoding: a hand-built model and outputs.
 */

static ls_level_t grades[] = {
        {(char *)"A", 1, 40},
        {(char *)"B", 1, 25},
        {(char *)"C", 1, 10},
        {(char *)"D", 0, 0},
};
static ls_level_t bands[] = {
        {(char *)"cold", 0, 0},
        {(char *)"warm", 1, 20},
        {(char *)"hot", 1, 50},
};

static void make_model(ls_model_t *m) {
        memset(m, 0, sizeof(*m));
        m->id = (char *)"office";
        strcpy(m->version, "0123456789abcdef");
        m->grades = grades;
        m->n_grades = 4;
        m->bands = bands;
        m->n_bands = 3;
}

static void test_encode_score_update(void **state) {
        ls_model_t m;
        ls_reason_t reasons[2] = {
                {LS_REASON_RULE, "pricing_page", 10, 0},
                {LS_REASON_RULE, "email_open", 1, 2},
        };
        ls_output_t o;
        ls_outbuf_t ob;
        ls_buf_t buf;

        (void)state;
        make_model(&m);
        memset(&o, 0, sizeof(o));
        o.kind = LS_OUT_SCORE_UPDATE;
        o.alert = LS_ALERT_NONE;
        o.lead_id = "lead-1";
        o.model = &m;
        o.seq = 3;
        o.time = 1772359200000LL;
        o.cause = LS_CAUSE_EVENT;
        o.cause_id = "e1";
        o.total = 41;
        o.fit = 30;
        o.engagement = 11;
        o.prev_total = 30;
        o.grade = 1;
        o.band = 0;
        strcpy(o.cell, "B1");
        o.mql = 0;
        o.reasons_off = 0;
        o.n_reasons = 2;
        memset(&ob, 0, sizeof(ob));
        ob.outs = &o;
        ob.n_outs = 1;
        ob.reasons = reasons;
        ob.n_reasons = 2;

        ls_buf_init(&buf);
        assert_int_equal(ls_json_encode_output(&ob, &o, &buf), LS_OK);
        assert_string_equal(
                buf.data,
                "{\"kind\":\"score_update\",\"id\":\"lead-1/office/3\","
                "\"lead_id\":\"lead-1\",\"model\":\"office\","
                "\"model_version\":\"0123456789abcdef\",\"seq\":3,"
                "\"time\":1772359200000,\"cause\":\"event\","
                "\"cause_id\":\"e1\",\"total\":41,\"fit\":30,"
                "\"engagement\":11,\"prev_total\":30,\"grade\":\"B\","
                "\"band\":\"cold\",\"cell\":\"B1\",\"mql\":false,"
                "\"reasons\":[{\"kind\":\"rule\",\"rule\":\"pricing_page\","
                "\"points\":10,\"capped\":0},{\"kind\":\"rule\","
                "\"rule\":\"email_open\",\"points\":1,\"capped\":2}]}");
        assert_int_equal(buf.len, strlen(buf.data));

        /* The encoder appends: a second output follows the first. */
        o.kind = LS_OUT_ALERT;
        o.alert = LS_ALERT_MQL_LOST;
        o.seq = 4;
        o.cause = LS_CAUSE_DECAY;
        o.cause_id = NULL;
        o.total = -5;
        o.fit = -5;
        o.engagement = 0;
        o.prev_total = 15;
        o.grade = 3;
        o.band = 2;
        strcpy(o.cell, "D3");
        o.mql = 1;
        o.reasons_off = 1;
        o.n_reasons = 0;
        ls_buf_reset(&buf);
        assert_int_equal(ls_json_encode_output(&ob, &o, &buf), LS_OK);
        assert_string_equal(
                buf.data,
                "{\"kind\":\"alert\",\"alert\":\"mql_lost\","
                "\"id\":\"lead-1/office/4/mql_lost\",\"lead_id\":\"lead-1\","
                "\"model\":\"office\",\"model_version\":\"0123456789abcdef\","
                "\"seq\":4,\"time\":1772359200000,\"cause\":\"decay\","
                "\"cause_id\":null,\"total\":-5,\"fit\":-5,"
                "\"engagement\":0,\"prev_total\":15,\"grade\":\"D\","
                "\"band\":\"hot\",\"cell\":\"D3\",\"mql\":true,"
                "\"reasons\":[],\"condition\":{\"enter\":{\"min_total\":null,"
                "\"min_grade\":\"A\",\"min_band\":\"cold\",\"holds\":false},"
                "\"stay\":{\"min_total\":null,\"min_grade\":\"A\","
                "\"min_band\":\"cold\",\"holds\":false},\"window\":null},"
                "\"contributions\":[],\"fit_rules\":[],\"attributes\":{},"
                "\"record_time\":null,\"backfill\":false}");

        /* One reason of each kind, read through reasons_off. */
        reasons[1].kind = LS_REASON_DECAY;
        reasons[1].rule_id = "decay";
        reasons[1].points = -15;
        reasons[1].capped = 0;
        o.reasons_off = 1;
        o.n_reasons = 1;
        ls_buf_reset(&buf);
        assert_int_equal(ls_json_encode_output(&ob, &o, &buf), LS_OK);
        assert_non_null(strstr(buf.data, ",\"reasons\":[{\"kind\":\"decay\","
                                         "\"rule\":\"decay\",\"points\":-15,"
                                         "\"capped\":0}],"));
        ls_buf_free(&buf);
}

static void test_encode_escaping(void **state) {
        ls_model_t m;
        ls_output_t o;
        ls_outbuf_t ob;
        ls_buf_t buf;
        json_t *root;
        json_error_t jerr;
        const char *want_lead = "q\"b\\s/\n\t\x01 \xc3\xa9";

        (void)state;
        make_model(&m);
        memset(&o, 0, sizeof(o));
        memset(&ob, 0, sizeof(ob));
        o.kind = LS_OUT_SCORE_UPDATE;
        o.model = &m;
        o.seq = 1;
        o.cause = LS_CAUSE_PROFILE;
        o.lead_id = want_lead;
        strcpy(o.cell, "D1");
        o.grade = 3;

        ls_buf_init(&buf);
        assert_int_equal(ls_json_encode_output(&ob, &o, &buf), LS_OK);
        assert_non_null(strstr(buf.data,
                               "\"lead_id\":\"q\\\"b\\\\s/\\n\\t\\u0001 "
                               "\xc3\xa9\","));
        assert_non_null(strstr(buf.data, "\"id\":\"q\\\"b\\\\s/\\n\\t\\u0001 "
                                         "\xc3\xa9/office/1\","));
        /* The result is valid JSON that gives the lead id back. */
        root = json_loads(buf.data, 0, &jerr);
        assert_non_null(root);
        assert_string_equal(json_string_value(json_object_get(root, "lead_id")),
                            want_lead);
        json_decref(root);

        /* Invalid UTF-8 (a lone continuation byte, a truncated sequence)
         * becomes U+FFFD so the output stays valid JSON. */
        o.lead_id = "a\x80z\xe2\x82";
        ls_buf_reset(&buf);
        assert_int_equal(ls_json_encode_output(&ob, &o, &buf), LS_OK);
        assert_non_null(
                strstr(buf.data, "\"lead_id\":\"a\\ufffdz\\ufffd\\ufffd\","));
        root = json_loads(buf.data, 0, &jerr);
        assert_non_null(root);
        json_decref(root);
        ls_buf_free(&buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode_event),
                cmocka_unit_test(test_decode_profile),
                cmocka_unit_test(test_decode_errors),
                cmocka_unit_test(test_decode_lead_id_length),
                cmocka_unit_test(test_parse_time),
                cmocka_unit_test(test_value_conversions),
                cmocka_unit_test(test_blank_lines),
                cmocka_unit_test(test_encode_score_update),
                cmocka_unit_test(test_encode_escaping),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
