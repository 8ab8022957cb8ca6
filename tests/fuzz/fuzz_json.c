/*
 * fuzz_json.c - the JSON input decoder, through the codec facade
 * (ls_codec_decode_input() with the json format, so the shared value
 * checks run too), plus the JSON helpers and the dead-letter encoding of
 * arbitrary bytes.
 *
 * Checks, besides no crash, leak or undefined behaviour:
 *   - an accepted input is complete (lead id of at most 256 bytes, event
 *     type for events, time in [1970, 10000), no NULL map entry, no key
 *     twice) and decodes again to the same values when written back as
 *     canonical JSON (times as RFC 3339, values as strings);
 *   - a blank line (ls_json_blank()) is never accepted;
 *   - ls_json_parse_time() accepts only times in [1970, 10000);
 *   - the dead letter of the bytes is valid JSON that gives them back
 *     (as UTF-8 text, or base64).
 *
 * Corpus: tests/fuzz/corpus/json/ (one input object per file).
 * Run: fuzz_json [RUNS] (see fuzz_common.h; default 100000).
 */
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_common.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_json.h"

#define TIME_END INT64_C(253402300800000) /* 10000-01-01T00:00:00Z */

typedef struct fj_s {
        ls_codec_t *codec, *codec2; /* codec2 decodes the re-encoding */
        ls_buf_t buf;
        unsigned long accepted, rejected, roundtrips;
} fj_t;

static ls_codec_t *json_codec(void) {
        ls_codec_conf_t conf;
        char err[256];
        ls_codec_t *codec;

        memset(&conf, 0, sizeof(conf));
        conf.input_format = LS_FORMAT_JSON;
        conf.output_format = LS_FORMAT_JSON;
        if (!(codec = ls_codec_new(&conf, err, sizeof(err))))
                fz_die("ls_codec_new", err);
        return codec;
}

static void *fj_init(void) {
        fj_t *fj = calloc(1, sizeof(*fj));

        if (!fj)
                fz_die("out of memory", NULL);
        fj->codec = json_codec();
        fj->codec2 = json_codec();
        ls_buf_init(&fj->buf);
        return fj;
}

static void fj_fini(void *ctx) {
        fj_t *fj = ctx;

        ls_codec_destroy(fj->codec);
        ls_codec_destroy(fj->codec2);
        ls_buf_free(&fj->buf);
        free(fj);
}

/* ms since the epoch as RFC 3339 with milliseconds. */
static void fmt_time(int64_t ms, char *out, size_t size) {
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int str_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_complete(const ls_input_t *in) {
        size_t i, j;

        if (in->kind != LS_INPUT_EVENT && in->kind != LS_INPUT_PROFILE)
                fz_die("accepted without a kind", NULL);
        if (!in->lead_id || strlen(in->lead_id) > 256)
                fz_die("accepted a missing or long lead_id", NULL);
        if (in->kind == LS_INPUT_EVENT && !in->event_type)
                fz_die("accepted an event without event_type", NULL);
        if (in->time < 0 || in->time >= TIME_END)
                fz_die("accepted a time out of range", NULL);
        if (in->n_fields && !in->fields)
                fz_die("fields missing", NULL);
        for (i = 0; i < in->n_fields; i++) {
                if (!in->fields[i].key || !in->fields[i].value)
                        fz_die("NULL map entry", NULL);
                /* quadratic: only on small maps */
                for (j = 0; in->n_fields <= 64 && j < i; j++)
                        if (!strcmp(in->fields[i].key, in->fields[j].key))
                                fz_die("a key twice", in->fields[i].key);
        }
}

/* Writes @p in back as canonical JSON; it must decode to the same. */
static void roundtrip(fj_t *fj, const ls_input_t *in) {
        json_t *obj = json_object(), *map = json_object();
        char when[128], err[512], *text;
        ls_input_t again;
        size_t i;

        if (!obj || !map)
                fz_die("out of memory", NULL);
        fmt_time(in->time, when, sizeof(when));
        json_object_set_new(
                obj, "kind",
                json_string(in->kind == LS_INPUT_EVENT ? "event" : "profile"));
        json_object_set_new(obj, "lead_id", json_string(in->lead_id));
        if (in->kind == LS_INPUT_EVENT) {
                if (in->event_id)
                        json_object_set_new(obj, "event_id",
                                            json_string(in->event_id));
                json_object_set_new(obj, "event_type",
                                    json_string(in->event_type));
                if (in->product)
                        json_object_set_new(obj, "product",
                                            json_string(in->product));
        }
        json_object_set_new(
                obj, in->kind == LS_INPUT_EVENT ? "occurred_at" : "updated_at",
                json_string(when));
        for (i = 0; i < in->n_fields; i++)
                json_object_set_new(map, in->fields[i].key,
                                    json_string(in->fields[i].value));
        json_object_set_new(
                obj, in->kind == LS_INPUT_EVENT ? "properties" : "attributes",
                map);
        if (!(text = json_dumps(obj, JSON_COMPACT)))
                fz_die("cannot write the input back", in->lead_id);
        json_decref(obj);
        if (ls_codec_decode_input(fj->codec2, in->kind, text, strlen(text),
                                  &again, err, sizeof(err)))
                fz_die("written back, it is rejected", err);
        if (again.kind != in->kind || !str_eq(again.lead_id, in->lead_id) ||
            !str_eq(again.event_id, in->event_id) ||
            !str_eq(again.event_type, in->event_type) ||
            !str_eq(again.product, in->product) || again.time != in->time ||
            again.n_fields != in->n_fields)
                fz_die("written back, it decodes to other values", text);
        for (i = 0; i < in->n_fields; i++) {
                size_t j;

                for (j = 0; j < again.n_fields; j++)
                        if (!strcmp(again.fields[j].key, in->fields[i].key))
                                break;
                if (j == again.n_fields ||
                    strcmp(again.fields[j].value, in->fields[i].value))
                        fz_die("written back, a field differs",
                               in->fields[i].key);
        }
        free(text);
        fj->roundtrips++;
}

/* The dead letter of @p data: valid JSON that gives the bytes back. */
static void dead_letter(fj_t *fj, const uint8_t *data, size_t len,
                        const char *why) {
        ls_dead_letter_t dl;
        json_error_t jerr;
        json_t *root, *v, *enc;
        char err[256];
        const char *s;

        memset(&dl, 0, sizeof(dl));
        dl.reason = "decode";
        dl.error = why;
        dl.source_topic = "lead-events";
        dl.source_offset = 7;
        dl.value = data;
        dl.value_len = len;
        dl.key = data;
        dl.key_len = len < 16 ? len : 16;
        ls_buf_reset(&fj->buf);
        if (ls_codec_encode_dead_letter(fj->codec, "lead-dead-letters", &dl,
                                        &fj->buf, err, sizeof(err)))
                fz_die("dead letter not encoded", err);
        if (!(root = json_loadb(fj->buf.data, fj->buf.len, 0, &jerr)))
                fz_die("dead letter is not JSON", jerr.text);
        v = json_object_get(root, "value");
        enc = json_object_get(root, "value_encoding");
        if (!json_is_string(v) || !json_is_string(enc))
                fz_die("dead letter without value", NULL);
        s = json_string_value(enc);
        if (!strcmp(s, "utf-8")) {
                if (json_string_length(v) != len ||
                    memcmp(json_string_value(v), data, len))
                        fz_die("dead letter value differs", NULL);
        } else if (!strcmp(s, "base64")) {
                size_t n = json_string_length(v), pad = 0;
                unsigned char *out = fz_xmalloc(n);
                int got = EVP_DecodeBlock(
                        out, (const unsigned char *)json_string_value(v),
                        (int)n);

                while (pad < n && pad < 2 &&
                       json_string_value(v)[n - 1 - pad] == '=')
                        pad++;
                if (got < 0 || (size_t)got - pad != len ||
                    memcmp(out, data, len))
                        fz_die("dead letter base64 differs", NULL);
                free(out);
        } else {
                fz_die("dead letter encoding unknown", s);
        }
        json_decref(root);
}

static void fj_one(void *ctx, const uint8_t *data, size_t len) {
        fj_t *fj = ctx;
        char err[512], *text;
        ls_input_t in;
        int64_t ms = -1;
        ls_err_t rc;

        rc = ls_codec_decode_input(fj->codec, LS_INPUT_EVENT, data, len, &in,
                                   err, sizeof(err));
        if (rc == LS_OK) {
                fj->accepted++;
                check_complete(&in);
                if (ls_json_blank((const char *)data, len))
                        fz_die("a blank line was accepted", NULL);
                roundtrip(fj, &in);
        } else {
                fj->rejected++;
                if (!err[0])
                        fz_die("rejected without a message", NULL);
        }
        /* The time parser on the bytes as one string. */
        text = fz_xmalloc(len + 1);
        memcpy(text, data, len);
        text[len] = '\0';
        if (ls_json_parse_time(text, &ms) == LS_OK &&
            (ms < 0 || ms >= TIME_END))
                fz_die("parse_time accepted a time out of range", text);
        free(text);
        dead_letter(fj, data, len, rc ? err : "ok");
}

static void fj_done(void *ctx, unsigned long inputs) {
        fj_t *fj = ctx;

        printf("fuzz_json: %lu accepted (%lu written back and decoded "
               "again), %lu rejected\n",
               fj->accepted, fj->roundtrips, fj->rejected);
        if (!fj->accepted || !fj->rejected)
                fz_die("mutations did not exercise both outcomes", NULL);
}

static const char *const fj_dict[] = {"\"kind\"",
                                      "\"event\"",
                                      "\"profile\"",
                                      "\"lead_id\"",
                                      "\"event_id\"",
                                      "\"event_type\"",
                                      "\"occurred_at\"",
                                      "\"updated_at\"",
                                      "\"product\"",
                                      "\"properties\"",
                                      "\"attributes\"",
                                      "null",
                                      "true",
                                      "false",
                                      "{}",
                                      "[]",
                                      "\"\"",
                                      "1700000000000",
                                      "1700000000",
                                      "\"2026-01-12T09:00:00Z\"",
                                      "\"9999-12-31T23:59:59.999Z\"",
                                      "\"1970-01-01T00:00:00+01:00\"",
                                      "\"2024-02-29T23:59:60Z\"",
                                      "\"2026-13-01T00:00:00-23:59\"",
                                      ".123456789",
                                      "\\u0000",
                                      "\\ud800",
                                      "\\udc00\\ud800",
                                      "\\u00e9",
                                      "\xc3\xa9",
                                      "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80",
                                      "1e308",
                                      "-1e-308",
                                      "1.5",
                                      "{\"a\":{\"b\":1}}",
                                      NULL};

static const fz_target_t fj_target = {
        "fuzz_json", "json", 100000,  fj_dict, fj_init,
        fj_one,      NULL,   fj_done, fj_fini,
};

FZ_ENTRY(fj_target)
