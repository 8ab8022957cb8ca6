/*
 * ls_codec.c - the codec facade: one interface over the JSON, plain Avro
 * and Schema Registry wire formats (see ls_codec.h).
 *
 * Input decoding: JSON goes to ls_json.c; Avro of our own reader schema
 * goes to the specialised, bounds-checked decoder of ls_avro.c; Registry
 * framing asks the resolver for the writer schema by id (ls_resolver.h;
 * io puts the Schema Registry client behind it), and keeps it prepared
 * per id and input kind: a writer schema equal to ours
 * uses the fast decoder, any other is bounds-checked by ls_avro_precheck()
 * and then resolved to our reader schema by avro-c. Every path ends in the
 * same value checks (lead id, time range), so all formats accept and
 * reject the same records.
 *
 * Output encoding: JSON (ls_json.c for outputs, jansson for dead letters),
 * hand-written Avro, or Avro behind Registry framing with the schema
 * registered once per topic under "<topic>-value".
 *
 * Our schemas are the copies built into the program
 * (ls_codec_schemas_int.h), unless a schema directory is configured: then
 * its *.avsc files are read instead. ls_codec_schema_text() is the one
 * place that picks between the two, for the codec and for replay's Avro
 * files alike.
 */
#include "leadscore/ls_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ls_avro_int.h"
#include "codec/ls_codec_schemas_int.h"
#include "leadscore/ls_alloc.h"
#include "leadscore/ls_json.h"
#include "leadscore/ls_resolver.h"

#define LS_CODEC_DEFAULT_MAX (1u << 20)
#define LS_CODEC_MAX_WRITERS 1024 /* writer schemas prepared at once */

/* Our schemas, by file. */
typedef enum ls_codec_schema_e {
        LS_SCHEMA_EVENT = 0,
        LS_SCHEMA_PROFILE,
        LS_SCHEMA_SCORE,
        LS_SCHEMA_ALERT,
        LS_SCHEMA_DEAD_LETTER,
        LS_SCHEMA__CNT
} ls_codec_schema_t;

static const char *const ls_codec_schema_files[LS_SCHEMA__CNT] = {
        "lead_event.avsc", "lead_profile.avsc", "score_update.avsc",
        "alert.avsc",      "dead_letter.avsc",
};

/* A writer schema from the registry, prepared for one input kind. */
typedef struct ls_codec_writer_s {
        int32_t id;
        ls_input_kind_t kind;
        int fast;  /* equal to our reader schema */
        char *bad; /* why it cannot be used, or NULL */
        avro_schema_t schema;
        avro_schema_t reduced;        /* our reader schema less the optional
                                      * fields the writer lacks, or NULL */
        avro_value_iface_t *resolver; /* resolved writer iface */
        avro_value_t resolved;        /* writes into reader_val */
        avro_value_iface_t *reader_iface;
        avro_value_t reader_val;
        int has_values;
} ls_codec_writer_t;

/* A registered output schema id per topic. */
typedef struct ls_codec_topic_s {
        char *topic;
        ls_codec_schema_t schema;
        int32_t id;
} ls_codec_topic_t;

struct ls_codec_s {
        ls_format_t input_format, output_format;
        size_t max_record_bytes;
        char *text[LS_SCHEMA__CNT]; /* original schema texts */
        avro_schema_t schema[LS_SCHEMA__CNT];
        ls_avro_scratch_t scratch;
        ls_json_dec_t *json;
        ls_resolver_t res; /* .get_schema NULL: no registry format */
        avro_reader_t areader;
        ls_codec_writer_t *writers;
        size_t n_writers;
        size_t last_writer;
        ls_codec_topic_t *topics;
        size_t n_topics;
};

/* ------------------------------------------------------------------ */

ls_err_t ls_format_parse(const char *s, ls_format_t *fmtp) {
        if (!s)
                return LS_ERR_INVALID;
        if (!strcmp(s, "json"))
                *fmtp = LS_FORMAT_JSON;
        else if (!strcmp(s, "avro"))
                *fmtp = LS_FORMAT_AVRO;
        else if (!strcmp(s, "registry"))
                *fmtp = LS_FORMAT_REGISTRY;
        else
                return LS_ERR_INVALID;
        return LS_OK;
}

const char *ls_format2str(ls_format_t fmt) {
        switch (fmt) {
        case LS_FORMAT_JSON:
                return "json";
        case LS_FORMAT_AVRO:
                return "avro";
        case LS_FORMAT_REGISTRY:
                return "registry";
        }
        return "unknown";
}

static ls_err_t ls_codec_read_file(const char *path, char **textp, char *errstr,
                                   size_t errstr_size) {
        ls_buf_t buf;
        char chunk[4096];
        size_t n;
        FILE *fp = fopen(path, "rb");

        if (!fp)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s: %s", path,
                                 strerror(errno));
        ls_buf_init(&buf);
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
                if (ls_buf_append(&buf, chunk, n) || buf.len > (1u << 20)) {
                        fclose(fp);
                        ls_buf_free(&buf);
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: too large or out of memory",
                                         path);
                }
        }
        if (ferror(fp)) {
                fclose(fp);
                ls_buf_free(&buf);
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: read error", path);
        }
        fclose(fp);
        if (!buf.data && ls_buf_append(&buf, "", 0))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "%s: out of memory", path);
        *textp = buf.data;
        return LS_OK;
}

ls_err_t ls_codec_schema_text(const char *schema_dir, const char *file,
                              char **textp, char *errstr, size_t errstr_size) {
        char path[4096];
        size_t i;

        for (i = 0; i < LS_SCHEMA__CNT; i++)
                if (!strcmp(file, ls_codec_schema_files[i]))
                        break;
        if (i == LS_SCHEMA__CNT)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: not one of leadscore's schemas", file);
        if (schema_dir && *schema_dir) {
                snprintf(path, sizeof(path), "%s/%s", schema_dir, file);
                return ls_codec_read_file(path, textp, errstr, errstr_size);
        }
        for (i = 0; i < ls_codec_builtin_schemas_cnt; i++) {
                if (strcmp(file, ls_codec_builtin_schemas[i].file))
                        continue;
                if (!(*textp = ls_strdup(ls_codec_builtin_schemas[i].text)))
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "%s: out of memory", file);
                return LS_OK;
        }
        /* the build lists every file of ls_codec_schema_files[] */
        return ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                         "%s: not built into this program", file);
}

static ls_err_t ls_codec_load_schemas(ls_codec_t *codec, const char *dir,
                                      char *errstr, size_t errstr_size) {
        char name[4096];
        ls_err_t err;
        int i;

        for (i = 0; i < LS_SCHEMA__CNT; i++) {
                /* how errors name it: the file, or the built-in copy */
                if (dir && *dir)
                        snprintf(name, sizeof(name), "%s/%s", dir,
                                 ls_codec_schema_files[i]);
                else
                        snprintf(name, sizeof(name), "%s (built in)",
                                 ls_codec_schema_files[i]);
                if ((err = ls_codec_schema_text(dir, ls_codec_schema_files[i],
                                                &codec->text[i], errstr,
                                                errstr_size)))
                        return err;
                if (avro_schema_from_json_length(codec->text[i],
                                                 strlen(codec->text[i]),
                                                 &codec->schema[i]))
                        return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                         "%s: %s", name, avro_strerror());
                if (i == LS_SCHEMA_EVENT || i == LS_SCHEMA_PROFILE) {
                        err = ls_avro_check_reader_schema(
                                i == LS_SCHEMA_EVENT ? LS_INPUT_EVENT
                                                     : LS_INPUT_PROFILE,
                                codec->schema[i], name, errstr, errstr_size);
                        if (err)
                                return err;
                }
        }
        return LS_OK;
}

ls_codec_t *ls_codec_new(const ls_codec_conf_t *conf, char *errstr,
                         size_t errstr_size) {
        ls_codec_t *codec;
        int needs_avro, needs_reg;

        if (ls_format2str(conf->input_format)[0] == 'u' ||
            ls_format2str(conf->output_format)[0] == 'u') {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "codec: unknown input or output format");
                goto fail_resolver;
        }
        needs_avro = conf->input_format != LS_FORMAT_JSON ||
                     conf->output_format != LS_FORMAT_JSON;
        needs_reg = conf->input_format == LS_FORMAT_REGISTRY ||
                    conf->output_format == LS_FORMAT_REGISTRY;
        if (needs_reg && !(conf->resolver && conf->resolver->get_schema &&
                           conf->resolver->register_schema)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "registry format: no schema registry "
                          "(registry.url) to resolve schema ids");
                goto fail_resolver;
        }
        if (!(codec = ls_calloc(1, sizeof(*codec)))) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                          "codec: out of memory");
                goto fail_resolver;
        }
        if (conf->resolver)
                codec->res = *conf->resolver; /* the codec owns it now */
        codec->input_format = conf->input_format;
        codec->output_format = conf->output_format;
        codec->max_record_bytes = conf->max_record_bytes
                                          ? conf->max_record_bytes
                                          : LS_CODEC_DEFAULT_MAX;
        ls_avro_scratch_init(&codec->scratch);
        /* JSON alone needs no schema; a configured directory is checked
         * all the same, so that a bad one is found at start-up. */
        if ((needs_avro || (conf->schema_dir && *conf->schema_dir)) &&
            ls_codec_load_schemas(codec, conf->schema_dir, errstr, errstr_size))
                goto fail;
        if (!(codec->json = ls_json_dec_new()) ||
            !(codec->areader = avro_reader_memory("", 0))) {
                ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                          "codec: out of memory");
                goto fail;
        }
        return codec;
fail:
        ls_codec_destroy(codec);
        return NULL;
fail_resolver:
        if (conf->resolver && conf->resolver->destroy)
                conf->resolver->destroy(conf->resolver->opaque);
        return NULL;
}

static void ls_codec_writer_clear(ls_codec_writer_t *w) {
        if (w->has_values) {
                avro_value_decref(&w->resolved);
                avro_value_decref(&w->reader_val);
        }
        if (w->resolver)
                avro_value_iface_decref(w->resolver);
        if (w->reader_iface)
                avro_value_iface_decref(w->reader_iface);
        if (w->schema)
                avro_schema_decref(w->schema);
        if (w->reduced)
                avro_schema_decref(w->reduced);
        ls_free(w->bad);
        memset(w, 0, sizeof(*w));
}

void ls_codec_destroy(ls_codec_t *codec) {
        size_t i;

        if (!codec)
                return;
        for (i = 0; i < codec->n_writers; i++)
                ls_codec_writer_clear(&codec->writers[i]);
        ls_free(codec->writers);
        for (i = 0; i < codec->n_topics; i++)
                ls_free(codec->topics[i].topic);
        ls_free(codec->topics);
        for (i = 0; i < LS_SCHEMA__CNT; i++) {
                if (codec->schema[i])
                        avro_schema_decref(codec->schema[i]);
                ls_free(codec->text[i]);
        }
        if (codec->areader)
                avro_reader_free(codec->areader);
        if (codec->res.destroy)
                codec->res.destroy(codec->res.opaque);
        ls_json_dec_destroy(codec->json);
        ls_avro_scratch_free(&codec->scratch);
        ls_free(codec);
}

/* ------------------------------------------------------------------ */
/* Input                                                               */

/* Value checks shared by every format. An empty lead_id or event_type
 * decodes: the engine rejects it, so that it is `invalid` (not `decode`)
 * whatever the format (docs/CONFIG.md, dead letters). */
static ls_err_t ls_codec_check_input(const ls_input_t *in, char *errstr,
                                     size_t errstr_size) {
        const char *tname =
                in->kind == LS_INPUT_EVENT ? "occurred_at" : "updated_at";
        size_t n;

        if (!in->lead_id)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "lead_id: missing");
        if ((n = strlen(in->lead_id)) > LS_LEAD_ID_MAX)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "lead_id: %zu bytes, longer than %d", n,
                                 LS_LEAD_ID_MAX);
        if (in->time < 0 || in->time > LS_TIME_MAX)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "%s: %" PRId64 " out of range (0 to "
                                 "9999-12-31T23:59:59.999Z)",
                                 tname, in->time);
        return LS_OK;
}

static const char *ls_codec_kind_name(ls_input_kind_t kind) {
        return kind == LS_INPUT_EVENT ? "LeadEvent" : "LeadProfile";
}

/* A reader field that may be absent from a writer: ["null", ...]. */
static int ls_codec_optional(avro_schema_t s) {
        return avro_typeof(s) == AVRO_UNION && avro_schema_union_size(s) > 0 &&
               avro_typeof(avro_schema_union_branch(s, 0)) == AVRO_NULL;
}

/*
 * avro-c does not fill reader defaults for fields a writer lacks. Ours are
 * all null by default ("product"), so resolve to a copy of the reader
 * schema without them; ls_avro_value_to_input() reads them as null.
 * @returns the reduced schema, or NULL when nothing can be dropped.
 */
static avro_schema_t ls_codec_reduce_reader(avro_schema_t reader,
                                            avro_schema_t writer) {
        size_t i, n = avro_schema_record_size(reader);
        avro_schema_t red;
        int dropped = 0;

        if (avro_typeof(writer) != AVRO_RECORD)
                return NULL;
        red = avro_schema_record(avro_schema_name(reader),
                                 avro_schema_namespace(reader));
        if (!red)
                return NULL;
        for (i = 0; i < n; i++) {
                const char *name =
                        avro_schema_record_field_name(reader, (int)i);
                avro_schema_t fs =
                        avro_schema_record_field_get_by_index(reader, (int)i);

                /* (field_get_index: avro-c 1.11's field_get returns junk
                 * for a missing name) */
                if (avro_schema_record_field_get_index(writer, name) < 0 &&
                    ls_codec_optional(fs)) {
                        dropped = 1;
                        continue;
                }
                if (avro_schema_record_field_append(red, name, fs)) {
                        avro_schema_decref(red);
                        return NULL;
                }
        }
        if (!dropped) {
                avro_schema_decref(red);
                return NULL;
        }
        return red;
}

/* Prepares writer schema @p id for input @p kind into *w. */
static ls_err_t ls_codec_writer_prepare(ls_codec_t *codec, ls_codec_writer_t *w,
                                        int32_t id, ls_input_kind_t kind,
                                        char *errstr, size_t errstr_size) {
        avro_schema_t reader =
                codec->schema[kind == LS_INPUT_EVENT ? LS_SCHEMA_EVENT
                                                     : LS_SCHEMA_PROFILE];
        const char *text;
        char msg[512];
        ls_err_t err;

        err = codec->res.get_schema(codec->res.opaque, id, &text, errstr,
                                    errstr_size);
        if (err == LS_ERR_NOT_FOUND)
                return LS_ERR_UNSUPPORTED; /* errstr says which id */
        if (err)
                return err;
        memset(w, 0, sizeof(*w));
        w->id = id;
        w->kind = kind;
        if (avro_schema_from_json_length(text, strlen(text), &w->schema)) {
                w->schema = NULL;
                snprintf(msg, sizeof(msg),
                         "schema id %" PRId32 ": not a valid Avro schema: %s",
                         id, avro_strerror());
                goto bad;
        }
        if (avro_schema_equal(w->schema, reader)) {
                w->fast = 1;
                return LS_OK;
        }
        if (!(w->resolver = avro_resolved_writer_new(w->schema, reader)) &&
            (w->reduced = ls_codec_reduce_reader(reader, w->schema))) {
                reader = w->reduced;
                w->resolver = avro_resolved_writer_new(w->schema, reader);
        }
        if (!w->resolver) {
                snprintf(msg, sizeof(msg),
                         "schema id %" PRId32 ": cannot be resolved to %s: %s",
                         id, ls_codec_kind_name(kind), avro_strerror());
                goto bad;
        }
        if (!(w->reader_iface = avro_generic_class_from_schema(reader)) ||
            avro_generic_value_new(w->reader_iface, &w->reader_val)) {
                snprintf(msg, sizeof(msg), "schema id %" PRId32 ": %s", id,
                         avro_strerror());
                goto bad;
        }
        if (avro_resolved_writer_new_value(w->resolver, &w->resolved)) {
                avro_value_decref(&w->reader_val);
                snprintf(msg, sizeof(msg), "schema id %" PRId32 ": %s", id,
                         avro_strerror());
                goto bad;
        }
        w->has_values = 1;
        avro_resolved_writer_set_dest(&w->resolved, &w->reader_val);
        return LS_OK;
bad:
        /* Keep the entry, so the verdict is cached with its reason. */
        if (w->resolver) {
                avro_value_iface_decref(w->resolver);
                w->resolver = NULL;
        }
        if (w->reader_iface) {
                avro_value_iface_decref(w->reader_iface);
                w->reader_iface = NULL;
        }
        if (!(w->bad = ls_strdup(msg)))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "schema id %" PRId32 ": out of memory", id);
        return LS_OK;
}

static ls_err_t ls_codec_writer_get(ls_codec_t *codec, int32_t id,
                                    ls_input_kind_t kind,
                                    ls_codec_writer_t **wp, char *errstr,
                                    size_t errstr_size) {
        ls_codec_writer_t *w;
        size_t i;
        ls_err_t err;

        if (codec->last_writer < codec->n_writers) {
                w = &codec->writers[codec->last_writer];
                if (w->id == id && w->kind == kind) {
                        *wp = w;
                        return LS_OK;
                }
        }
        for (i = 0; i < codec->n_writers; i++) {
                w = &codec->writers[i];
                if (w->id == id && w->kind == kind) {
                        codec->last_writer = i;
                        *wp = w;
                        return LS_OK;
                }
        }
        if (!codec->writers) {
                codec->writers = ls_calloc(LS_CODEC_MAX_WRITERS,
                                           sizeof(*codec->writers));
                if (!codec->writers)
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "schema id %" PRId32 ": out of memory",
                                         id);
        }
        if (codec->n_writers == LS_CODEC_MAX_WRITERS) {
                /* Many distinct ids: forget the oldest prepared one. */
                ls_codec_writer_clear(&codec->writers[0]);
                memmove(codec->writers, codec->writers + 1,
                        (LS_CODEC_MAX_WRITERS - 1) * sizeof(*w));
                codec->n_writers--;
                /* Moving is safe: an avro_value_t is an (iface, heap
                 * pointer) pair. */
        }
        w = &codec->writers[codec->n_writers];
        /* The slot may still hold a byte copy of the entry moved down
         * above: clear it, so that a failed prepare frees nothing twice. */
        memset(w, 0, sizeof(*w));
        if ((err = ls_codec_writer_prepare(codec, w, id, kind, errstr,
                                           errstr_size))) {
                ls_codec_writer_clear(w);
                return err;
        }
        codec->last_writer = codec->n_writers++;
        *wp = w;
        return LS_OK;
}

static ls_err_t ls_codec_decode_registry(ls_codec_t *codec,
                                         ls_input_kind_t kind,
                                         const uint8_t *data, size_t len,
                                         ls_input_t *in, char *errstr,
                                         size_t errstr_size) {
        ls_codec_writer_t *w = NULL;
        int32_t id;
        ls_err_t err;

        if (len < 5)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "registry framing: %zu bytes, need at "
                                 "least 5 (magic byte and schema id)",
                                 len);
        if (data[0] != 0)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "registry framing: magic byte 0x%02x at "
                                 "byte 0, expected 0x00",
                                 data[0]);
        id = (int32_t)(((uint32_t)data[1] << 24) | ((uint32_t)data[2] << 16) |
                       ((uint32_t)data[3] << 8) | (uint32_t)data[4]);
        if ((err = ls_codec_writer_get(codec, id, kind, &w, errstr,
                                       errstr_size)))
                return err;
        if (w->bad)
                return ls_seterr(errstr, errstr_size, LS_ERR_UNSUPPORTED, "%s",
                                 w->bad);
        if (w->fast)
                return ls_avro_decode(&codec->scratch, kind, data + 5, len - 5,
                                      5, in, errstr, errstr_size);
        if ((err = ls_avro_precheck(w->schema, data + 5, len - 5, 5, errstr,
                                    errstr_size)))
                return err;
        avro_value_reset(&w->reader_val);
        avro_reader_memory_set_source(codec->areader, (const char *)data + 5,
                                      (int64_t)(len - 5));
        if (avro_value_read(codec->areader, &w->resolved))
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "schema id %" PRId32 ": %s", id,
                                 avro_strerror());
        return ls_avro_value_to_input(&codec->scratch, kind, &w->reader_val, in,
                                      errstr, errstr_size);
}

size_t ls_codec_max_record_bytes(const ls_codec_t *codec) {
        return codec->max_record_bytes;
}

ls_err_t ls_codec_decode_input(ls_codec_t *codec, ls_input_kind_t kind,
                               const void *data, size_t len, ls_input_t *in,
                               char *errstr, size_t errstr_size) {
        ls_err_t err;

        if (kind != LS_INPUT_EVENT && kind != LS_INPUT_PROFILE)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "input kind %d unknown", (int)kind);
        if (len > codec->max_record_bytes)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "record of %zu bytes exceeds the limit of "
                                 "%zu bytes",
                                 len, codec->max_record_bytes);
        if (!data && len)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "record: no data");
        if (!data)
                data = "";
        switch (codec->input_format) {
        case LS_FORMAT_JSON:
                err = ls_json_decode_input(codec->json, data, len, in, errstr,
                                           errstr_size);
                break;
        case LS_FORMAT_AVRO:
                err = ls_avro_decode(&codec->scratch, kind, data, len, 0, in,
                                     errstr, errstr_size);
                break;
        case LS_FORMAT_REGISTRY:
                err = ls_codec_decode_registry(codec, kind, data, len, in,
                                               errstr, errstr_size);
                break;
        default:
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "input format unknown");
        }
        if (err)
                return err;
        return ls_codec_check_input(in, errstr, errstr_size);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

static ls_err_t ls_codec_topic_id(ls_codec_t *codec, const char *topic,
                                  ls_codec_schema_t schema, int32_t *idp,
                                  char *errstr, size_t errstr_size) {
        ls_codec_topic_t *t;
        char subject[512];
        int32_t id;
        size_t i;
        ls_err_t err;

        for (i = 0; i < codec->n_topics; i++) {
                t = &codec->topics[i];
                if (t->schema == schema && !strcmp(t->topic, topic)) {
                        *idp = t->id;
                        return LS_OK;
                }
        }
        snprintf(subject, sizeof(subject), "%s-value", topic);
        if ((err = codec->res.register_schema(codec->res.opaque, subject,
                                              codec->text[schema], &id, errstr,
                                              errstr_size)))
                return err;
        t = ls_realloc(codec->topics,
                       (codec->n_topics + 1) * sizeof(*codec->topics));
        if (!t)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "topic %s: out of memory", topic);
        codec->topics = t;
        t = &codec->topics[codec->n_topics];
        if (!(t->topic = ls_strdup(topic)))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "topic %s: out of memory", topic);
        t->schema = schema;
        t->id = id;
        codec->n_topics++;
        *idp = id;
        return LS_OK;
}

static ls_err_t ls_codec_frame(ls_codec_t *codec, const char *topic,
                               ls_codec_schema_t schema, ls_buf_t *buf,
                               char *errstr, size_t errstr_size) {
        uint8_t hdr[5];
        int32_t id;
        ls_err_t err;

        if (!topic || !*topic)
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "registry format: no topic to register "
                                 "the schema under");
        if ((err = ls_codec_topic_id(codec, topic, schema, &id, errstr,
                                     errstr_size)))
                return err;
        hdr[0] = 0;
        hdr[1] = (uint8_t)((uint32_t)id >> 24);
        hdr[2] = (uint8_t)((uint32_t)id >> 16);
        hdr[3] = (uint8_t)((uint32_t)id >> 8);
        hdr[4] = (uint8_t)id;
        return ls_buf_append(buf, hdr, sizeof(hdr));
}

ls_err_t ls_codec_encode_output(ls_codec_t *codec, const char *topic,
                                const ls_outbuf_t *ob, const ls_output_t *o,
                                ls_buf_t *buf, char *errstr,
                                size_t errstr_size) {
        ls_err_t err;

        switch (codec->output_format) {
        case LS_FORMAT_JSON:
                err = ls_json_encode_output(ob, o, buf);
                break;
        case LS_FORMAT_REGISTRY:
                if ((err = ls_codec_frame(codec, topic,
                                          o->kind == LS_OUT_ALERT
                                                  ? LS_SCHEMA_ALERT
                                                  : LS_SCHEMA_SCORE,
                                          buf, errstr, errstr_size)))
                        return err;
                /* fall through */
        case LS_FORMAT_AVRO:
                err = ls_avro_encode_output(ob, o, buf);
                break;
        default:
                err = LS_ERR_INVALID;
        }
        if (err)
                return ls_seterr(errstr, errstr_size, err,
                                 "encoding %s for topic %s: %s",
                                 ls_output_kind2str(o->kind),
                                 topic ? topic : "(none)", ls_err2str(err));
        return LS_OK;
}

/* A JSON string of s, with invalid UTF-8 bytes replaced by '?'. */
static json_t *ls_codec_json_text(const char *s) {
        size_t len, bad, i;
        char *copy;
        json_t *j;

        if (!s)
                return json_null();
        len = strlen(s);
        if (ls_avro_utf8_check((const uint8_t *)s, len, &bad))
                return json_stringn(s, len);
        if (!(copy = ls_strndup(s, len)))
                return NULL;
        i = bad;
        while (!ls_avro_utf8_check((const uint8_t *)copy + i, len - i, &bad)) {
                copy[i + bad] = '?';
                i += bad + 1;
        }
        j = json_stringn(copy, len);
        ls_free(copy);
        return j;
}

/*
 * Sets "<name>" and "<name>_encoding" of @p obj: the bytes as a string if
 * they are valid UTF-8 without NUL, else base64; null when absent.
 */
static int ls_codec_json_bytes(json_t *obj, const char *name, const void *data,
                               size_t len) {
        char enc_name[64];
        size_t bad, i, olen = 0;
        unsigned char *b64;
        json_t *j;

        snprintf(enc_name, sizeof(enc_name), "%s_encoding", name);
        if (!data) {
                return json_object_set_new(obj, name, json_null()) ||
                       json_object_set_new(obj, enc_name, json_null());
        }
        if (ls_avro_utf8_check(data, len, &bad)) {
                return json_object_set_new(obj, name,
                                           json_stringn(data, len)) ||
                       json_object_set_new(obj, enc_name, json_string("utf-8"));
        }
        if (!(b64 = ls_malloc(4 * ((len + 2) / 3) + 1)))
                return -1;
        /* In chunks of a multiple of 3 bytes: EVP_EncodeBlock takes int. */
        for (i = 0; i < len; i += 3 * 65536) {
                size_t n = len - i < 3 * 65536 ? len - i : 3 * 65536;
                olen += (size_t)EVP_EncodeBlock(
                        b64 + olen, (const unsigned char *)data + i, (int)n);
        }
        j = json_stringn((const char *)b64, olen);
        ls_free(b64);
        return json_object_set_new(obj, name, j) ||
               json_object_set_new(obj, enc_name, json_string("base64"));
}

static ls_err_t ls_codec_dead_letter_json(const ls_dead_letter_t *dl,
                                          ls_buf_t *buf) {
        json_t *obj = json_object();
        char *text;
        ls_err_t err;
        int bad;

        if (!obj)
                return LS_ERR_NOMEM;
        bad = json_object_set_new(obj, "reason",
                                  ls_codec_json_text(dl->reason)) ||
              json_object_set_new(obj, "error",
                                  ls_codec_json_text(dl->error)) ||
              json_object_set_new(obj, "source_topic",
                                  ls_codec_json_text(dl->source_topic)) ||
              json_object_set_new(obj, "source_partition",
                                  json_integer(dl->source_partition)) ||
              json_object_set_new(obj, "source_offset",
                                  json_integer(dl->source_offset)) ||
              ls_codec_json_bytes(obj, "key", dl->key, dl->key_len) ||
              ls_codec_json_bytes(obj, "value", dl->value, dl->value_len) ||
              json_object_set_new(
                      obj, "value_truncated_from",
                      dl->value_truncated_from
                              ? json_integer(
                                        (json_int_t)dl->value_truncated_from)
                              : json_null());
        text = bad ? NULL : json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(obj);
        if (!text)
                return LS_ERR_NOMEM;
        err = ls_buf_append(buf, text, strlen(text));
        free(text); /* allocated by jansson */
        return err;
}

ls_err_t ls_codec_encode_dead_letter(ls_codec_t *codec, const char *topic,
                                     const ls_dead_letter_t *dl, ls_buf_t *buf,
                                     char *errstr, size_t errstr_size) {
        ls_err_t err;

        switch (codec->output_format) {
        case LS_FORMAT_JSON:
                err = ls_codec_dead_letter_json(dl, buf);
                break;
        case LS_FORMAT_REGISTRY:
                if ((err = ls_codec_frame(codec, topic, LS_SCHEMA_DEAD_LETTER,
                                          buf, errstr, errstr_size)))
                        return err;
                /* fall through */
        case LS_FORMAT_AVRO:
                err = ls_avro_encode_dead_letter(dl, buf);
                break;
        default:
                err = LS_ERR_INVALID;
        }
        if (err)
                return ls_seterr(errstr, errstr_size, err,
                                 "encoding dead letter for topic %s: %s",
                                 topic ? topic : "(none)", ls_err2str(err));
        return LS_OK;
}
