/*
 * fuzz_registry.c - Schema Registry framing (magic byte 0, 4-byte
 * big-endian schema id, Avro) through ls_codec_decode_input() with the
 * registry format: the framing checks, the writer-schema cache, the fast
 * decoder for writers equal to ours, and ls_avro_precheck() + avro-c
 * resolution for the others.
 *
 * The codec's resolver (ls_resolver.h) is a table in memory with these
 * writer schemas:
 *   1 lead_event.avsc           2 lead_profile.avsc
 *   3 an older LeadEvent (no product: the reduced reader)
 *   4 a newer LeadEvent with extra fields of every Avro type (skipped)
 *   5 a newer LeadProfile       6 lead_id a long (cannot be resolved)
 *   7 not JSON                  8 "string" (not a record)
 * and 99 unknown. The codec asks the resolver for an id only once it has
 * neither a prepared writer nor a cached verdict for it, and the table
 * answers without I/O. An input whose schema id is none of these has it
 * replaced by one of them (ids[id % 9]).
 *
 * The first byte of an input picks the kind (bit 0: event / profile); the
 * rest is the Kafka message value.
 *
 * Checks, besides no crash, leak or undefined behaviour: an accepted
 * record is complete (lead id of at most 256 bytes, time in range, event
 * type, no NULL map entry); an error has a message; LS_ERR_UNSUPPORTED
 * only for the ids that cannot be used (6, 7, 8, 99, and the id of the
 * other kind's schema); for id 1 (events) and 2 (profiles) the framed
 * record is accepted exactly when the plain Avro codec accepts its body.
 *
 * Corpus: tests/fuzz/corpus/registry/ (--write-seeds output).
 * Run: fuzz_registry [RUNS] (see fuzz_common.h; default 200000).
 */
#include <avro.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_resolver.h"

#define SCHEMAS LS_SOURCE_DIR "/schemas"
#define TIME_END INT64_C(253402300800000)

static const char OLD_EVENT[] =
        "{\"type\":\"record\",\"name\":\"LeadEvent\",\"namespace\":"
        "\"io.leadscore\",\"fields\":["
        "{\"name\":\"lead_id\",\"type\":\"string\"},"
        "{\"name\":\"event_id\",\"type\":\"string\"},"
        "{\"name\":\"event_type\",\"type\":\"string\"},"
        "{\"name\":\"occurred_at\",\"type\":\"long\"},"
        "{\"name\":\"properties\",\"type\":{\"type\":\"map\","
        "\"values\":\"string\"}}]}";

static const char NEW_EVENT[] =
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
        "{\"name\":\"campaign\",\"type\":[\"null\",\"string\"],"
        "\"default\":null},"
        "{\"name\":\"weight\",\"type\":\"double\",\"default\":0},"
        "{\"name\":\"ratio\",\"type\":\"float\",\"default\":0},"
        "{\"name\":\"count\",\"type\":\"int\",\"default\":0},"
        "{\"name\":\"flag\",\"type\":\"boolean\",\"default\":false},"
        "{\"name\":\"raw\",\"type\":\"bytes\",\"default\":\"\"},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
        "\"string\"},\"default\":[]},"
        "{\"name\":\"level\",\"type\":{\"type\":\"enum\",\"name\":\"Level\","
        "\"symbols\":[\"LOW\",\"MID\",\"HIGH\"]},\"default\":\"LOW\"},"
        "{\"name\":\"hash\",\"type\":{\"type\":\"fixed\",\"name\":\"H4\","
        "\"size\":4},\"default\":\"abcd\"},"
        "{\"name\":\"nums\",\"type\":{\"type\":\"map\",\"values\":"
        "\"long\"},\"default\":{}},"
        "{\"name\":\"ctx\",\"type\":[\"null\",{\"type\":\"record\","
        "\"name\":\"Ctx\",\"fields\":[{\"name\":\"ip\",\"type\":"
        "\"string\"},{\"name\":\"n\",\"type\":\"null\"},"
        "{\"name\":\"inner\",\"type\":{\"type\":\"array\",\"items\":"
        "{\"type\":\"array\",\"items\":\"int\"}}}]}],\"default\":null}]}";

static const char NEW_PROFILE[] =
        "{\"type\":\"record\",\"name\":\"LeadProfile\",\"namespace\":"
        "\"io.leadscore\",\"fields\":["
        "{\"name\":\"lead_id\",\"type\":\"string\"},"
        "{\"name\":\"updated_at\",\"type\":{\"type\":\"long\","
        "\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"attributes\",\"type\":{\"type\":\"map\","
        "\"values\":\"string\"}},"
        "{\"name\":\"source\",\"type\":\"string\",\"default\":\"crm\"},"
        "{\"name\":\"seq\",\"type\":\"long\",\"default\":0}]}";

static const char BAD_EVENT[] =
        "{\"type\":\"record\",\"name\":\"LeadEvent\",\"namespace\":"
        "\"io.leadscore\",\"fields\":["
        "{\"name\":\"lead_id\",\"type\":\"long\"}]}";

static const struct {
        int32_t id;
        const char *text; /* NULL: a file of schemas/ */
        const char *file;
} fr_writers[] = {
        {1, NULL, "lead_event.avsc"}, {2, NULL, "lead_profile.avsc"},
        {3, OLD_EVENT, NULL},         {4, NEW_EVENT, NULL},
        {5, NEW_PROFILE, NULL},       {6, BAD_EVENT, NULL},
        {7, "{not json", NULL},       {8, "\"string\"", NULL},
};

static const int32_t fr_ids[] = {1, 2, 3, 4, 5, 6, 7, 8, 99};
#define FR_NIDS (sizeof(fr_ids) / sizeof(fr_ids[0]))

typedef struct fr_s {
        char *text[9];            /* writer schema texts by id (1 .. 8) */
        ls_codec_t *codec, *avro; /* registry and plain Avro inputs */
        unsigned long accepted, rejected, unsupported;
} fr_t;

static char *read_text(const char *path) {
        FILE *fp = fopen(path, "rb");
        char *text = fz_xmalloc(65536);
        size_t n;

        if (!fp)
                fz_die("cannot open", path);
        n = fread(text, 1, 65535, fp);
        fclose(fp);
        text[n] = '\0';
        return text;
}

static char *writer_text(size_t i) {
        char path[512];

        if (fr_writers[i].text)
                return strdup(fr_writers[i].text);
        snprintf(path, sizeof(path), "%s/%s", SCHEMAS, fr_writers[i].file);
        return read_text(path);
}

static ls_err_t fr_get_schema(void *opaque, int32_t id, const char **textp,
                              char *errstr, size_t errstr_size) {
        fr_t *fr = opaque;

        if (id < 1 || id > 8)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                                 "schema id %d not found in registry", (int)id);
        *textp = fr->text[id];
        return LS_OK;
}

static ls_err_t fr_register(void *opaque, const char *subject,
                            const char *schema_text, int32_t *idp, char *errstr,
                            size_t errstr_size) {
        return ls_seterr(errstr, errstr_size, LS_ERR_IO, "not registering");
}

static ls_codec_t *codec_new(ls_format_t fmt, fr_t *fr) {
        ls_resolver_t res = {fr, fr_get_schema, fr_register, NULL};
        ls_codec_conf_t conf;
        char err[512];
        ls_codec_t *codec;

        memset(&conf, 0, sizeof(conf));
        conf.input_format = fmt;
        conf.output_format = LS_FORMAT_JSON;
        conf.schema_dir = SCHEMAS;
        conf.resolver = fmt == LS_FORMAT_REGISTRY ? &res : NULL;
        if (!(codec = ls_codec_new(&conf, err, sizeof(err))))
                fz_die("ls_codec_new", err);
        return codec;
}

static void *fr_init(void) {
        fr_t *fr = calloc(1, sizeof(*fr));
        size_t i;

        if (!fr)
                fz_die("out of memory", NULL);
        for (i = 0; i < sizeof(fr_writers) / sizeof(fr_writers[0]); i++)
                fr->text[fr_writers[i].id] = writer_text(i);
        fr->codec = codec_new(LS_FORMAT_REGISTRY, fr);
        fr->avro = codec_new(LS_FORMAT_AVRO, fr);
        return fr;
}

static void fr_fini(void *ctx) {
        fr_t *fr = ctx;

        size_t i;

        ls_codec_destroy(fr->codec);
        ls_codec_destroy(fr->avro);
        for (i = 0; i < sizeof(fr->text) / sizeof(fr->text[0]); i++)
                free(fr->text[i]);
        free(fr);
}

static int usable(int32_t id, ls_input_kind_t kind) {
        if (kind == LS_INPUT_EVENT)
                return id == 1 || id == 3 || id == 4;
        return id == 2 || id == 5;
}

static void fr_one(void *ctx, const uint8_t *data, size_t len) {
        fr_t *fr = ctx;
        ls_input_kind_t kind;
        uint8_t *msg;
        char err[1024], err2[1024];
        ls_input_t in, in2;
        int32_t id = 0;
        size_t i, n;
        ls_err_t rc;

        if (len < 1)
                return;
        kind = data[0] & 1 ? LS_INPUT_PROFILE : LS_INPUT_EVENT;
        n = len - 1;
        msg = fz_xmalloc(n);
        memcpy(msg, data + 1, n);
        if (n >= 5) {
                uint32_t u = ((uint32_t)msg[1] << 24) |
                             ((uint32_t)msg[2] << 16) |
                             ((uint32_t)msg[3] << 8) | msg[4];

                for (i = 0; i < FR_NIDS && (uint32_t)fr_ids[i] != u; i++)
                        ;
                if (i == FR_NIDS) {
                        u = (uint32_t)fr_ids[u % FR_NIDS];
                        msg[1] = 0;
                        msg[2] = 0;
                        msg[3] = (uint8_t)(u >> 8);
                        msg[4] = (uint8_t)u;
                }
                id = (int32_t)u;
        }
        err[0] = '\0';
        rc = ls_codec_decode_input(fr->codec, kind, msg, n, &in, err,
                                   sizeof(err));
        if (rc == LS_ERR_IO)
                fz_die("the resolver failed", err);
        if (rc == LS_OK) {
                fr->accepted++;
                if (!usable(id, kind) || in.kind != kind || !in.lead_id ||
                    strlen(in.lead_id) > 256 || in.time < 0 ||
                    in.time >= TIME_END ||
                    (kind == LS_INPUT_EVENT && !in.event_type) ||
                    (in.n_fields && !in.fields))
                        fz_die("accepted an incomplete record", err);
                for (i = 0; i < in.n_fields; i++)
                        if (!in.fields[i].key || !in.fields[i].value)
                                fz_die("NULL map entry", NULL);
        } else {
                fr->rejected++;
                if (!err[0])
                        fz_die("rejected without a message", NULL);
                if (rc == LS_ERR_UNSUPPORTED) {
                        fr->unsupported++;
                        if (usable(id, kind))
                                fz_die("a usable schema id refused", err);
                }
        }
        /* Our own schema: the framing adds nothing to plain Avro. */
        if (n >= 5 && msg[0] == 0 &&
            ((id == 1 && kind == LS_INPUT_EVENT) ||
             (id == 2 && kind == LS_INPUT_PROFILE))) {
                ls_err_t rc2 =
                        ls_codec_decode_input(fr->avro, kind, msg + 5, n - 5,
                                              &in2, err2, sizeof(err2));
                if ((rc == LS_OK) != (rc2 == LS_OK))
                        fz_die("registry and plain Avro disagree",
                               rc ? err : err2);
        }
        free(msg);
}

/* ---- seeds: a record of each usable writer, written by avro-c ---- */

static void fill(avro_value_t *v, int variant, int depth) {
        avro_value_t f, b;
        size_t i, n = 0;
        const char *name;
        char s[64];

        switch (avro_value_get_type(v)) {
        case AVRO_STRING:
                snprintf(s, sizeof(s), "v%d-\xc3\xa9%d", variant, depth);
                avro_value_set_string(v, s);
                break;
        case AVRO_BYTES:
                avro_value_set_bytes(v, "\x00\xff\x80", 3);
                break;
        case AVRO_INT32:
                avro_value_set_int(v, -variant * 1000);
                break;
        case AVRO_INT64:
                avro_value_set_long(v, INT64_C(1767225600000) + variant * 977);
                break;
        case AVRO_FLOAT:
                avro_value_set_float(v, 1.5f);
                break;
        case AVRO_DOUBLE:
                avro_value_set_double(v, -2.25);
                break;
        case AVRO_BOOLEAN:
                avro_value_set_boolean(v, variant & 1);
                break;
        case AVRO_NULL:
                avro_value_set_null(v);
                break;
        case AVRO_ENUM:
                avro_value_set_enum(v, variant % 3);
                break;
        case AVRO_FIXED:
                avro_value_set_fixed(v, "wxyz", 4);
                break;
        case AVRO_ARRAY:
                for (i = 0; i < (size_t)(variant % 3) + 1; i++) {
                        avro_value_append(v, &f, NULL);
                        fill(&f, variant, depth + 1);
                }
                break;
        case AVRO_MAP:
                for (i = 0; i < (size_t)(variant % 4) * 2; i++) {
                        snprintf(s, sizeof(s), "k%zu", i);
                        avro_value_add(v, s, &f, NULL, NULL);
                        fill(&f, variant + (int)i, depth + 1);
                }
                break;
        case AVRO_UNION:
                avro_value_set_branch(v, variant & 1, &b);
                fill(&b, variant, depth + 1);
                break;
        case AVRO_RECORD:
                avro_value_get_size(v, &n);
                for (i = 0; i < n; i++) {
                        avro_value_get_by_index(v, i, &f, &name);
                        fill(&f, variant, depth + 1);
                }
                break;
        default:
                break;
        }
}

static void fr_seeds(void *ctx, fz_corpus_t *c) {
        static uint8_t buf[8192];
        size_t i;
        int variant;

        for (i = 0; i < 5; i++) {
                char *text = writer_text(i);
                avro_schema_t schema;
                avro_value_iface_t *iface;
                int profile = fr_writers[i].id == 2 || fr_writers[i].id == 5;

                if (avro_schema_from_json_length(text, strlen(text), &schema))
                        fz_die("writer schema", avro_strerror());
                iface = avro_generic_class_from_schema(schema);
                for (variant = 0; variant < 2; variant++) {
                        avro_value_t v;
                        avro_writer_t w;
                        int32_t id = fr_writers[i].id;

                        avro_generic_value_new(iface, &v);
                        fill(&v, variant, 0);
                        buf[0] = (uint8_t)profile;
                        buf[1] = 0;
                        buf[2] = (uint8_t)(id >> 24);
                        buf[3] = (uint8_t)(id >> 16);
                        buf[4] = (uint8_t)(id >> 8);
                        buf[5] = (uint8_t)id;
                        w = avro_writer_memory((char *)buf + 6,
                                               sizeof(buf) - 6);
                        if (avro_value_write(w, &v))
                                fz_die("avro-c cannot write a seed",
                                       avro_strerror());
                        fz_corpus_add(c, buf, 6 + (size_t)avro_writer_tell(w));
                        avro_writer_free(w);
                        avro_value_decref(&v);
                }
                avro_value_iface_decref(iface);
                avro_schema_decref(schema);
                free(text);
        }
}

static void fr_done(void *ctx, unsigned long inputs) {
        fr_t *fr = ctx;

        printf("fuzz_registry: %lu accepted, %lu rejected (%lu for their "
               "schema id), no registry request after the start\n",
               fr->accepted, fr->rejected, fr->unsupported);
        if (!fr->accepted || !fr->rejected || !fr->unsupported)
                fz_die("mutations did not exercise both outcomes", NULL);
}

static const fz_target_t fr_target = {
        "fuzz_registry", "registry", 200000,  NULL,    fr_init,
        fr_one,          fr_seeds,   fr_done, fr_fini,
};

FZ_ENTRY(fr_target)
