/*
 * ls_codec.h - wire formats of the Kafka topics, behind one interface.
 *
 * Inputs (events and profiles topics) and outputs (scores, alerts,
 * dead-letter topics) are encoded in one of:
 *   json      - the JSON objects of ls_json.h
 *   avro      - plain Avro binary of the schemas in schemas/ (one .avsc per
 *               topic; built into the program, see ls_codec_schema_text())
 *   registry  - Confluent Schema Registry framing: magic byte 0, 4-byte
 *               big-endian schema id, Avro binary. On input the writer
 *               schema is asked of the resolver (ls_resolver.h; cached
 *               here) and resolved to our reader schema; on output our
 *               schema is registered once under "<topic>-value" and its
 *               id used. The codec knows no transport: io provides the
 *               registry client behind the resolver (ls_registry.h).
 * Input decoding never trusts the bytes: every length is checked against
 * the remaining buffer and a bad record is an error, never a crash.
 *
 * Threading: a codec is used by one thread at a time.
 */
#ifndef LS_CODEC_H
#define LS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_resolver.h"

typedef enum ls_format_e {
        LS_FORMAT_JSON = 1,
        LS_FORMAT_AVRO,
        LS_FORMAT_REGISTRY,
} ls_format_t;

/** Parses "json", "avro" or "registry". @returns LS_OK or LS_ERR_INVALID. */
ls_err_t ls_format_parse(const char *s, ls_format_t *fmtp);
const char *ls_format2str(ls_format_t fmt);

typedef struct ls_codec_conf_s {
        ls_format_t input_format;
        ls_format_t output_format;
        const char *schema_dir;  /* directory with the *.avsc files to
                                    * use instead of the built-in ones;
                                    * NULL or "" = built in */
        size_t max_record_bytes; /* larger inputs are rejected (0 = 1 MiB) */
        /* Needed for LS_FORMAT_REGISTRY, else NULL. ls_codec_new() takes
         * it whether it succeeds or fails: the codec destroys it (and on
         * failure it is destroyed before the return). */
        const ls_resolver_t *resolver;
} ls_codec_conf_t;

typedef struct ls_codec_s ls_codec_t;

/**
 * The text of one of leadscore's schemas, as the codec uses it: @p file
 * names it ("lead_event.avsc", "lead_profile.avsc", "score_update.avsc",
 * "alert.avsc", "dead_letter.avsc"). It is read from @p schema_dir when
 * that is set (not NULL, not ""), else it is the copy built into the
 * program from schemas/. The text is not parsed here.
 * @returns LS_OK with *textp newly allocated (the caller frees it with
 *          ls_free), or LS_ERR_INVALID (not one of our files, or a file over
 *          1 MiB) / LS_ERR_IO (cannot read it) / LS_ERR_NOMEM with errstr
 *          naming the file; *textp is then untouched. Any thread.
 */
ls_err_t ls_codec_schema_text(const char *schema_dir, const char *file,
                              char **textp, char *errstr, size_t errstr_size);

/**
 * Loads the schemas (see ls_codec_schema_text(); only when a format is
 * avro or registry, or a schema_dir is set) and prepares the
 * decoders/encoders.
 * @returns the codec, or NULL with errstr naming the schema file and why.
 */
ls_codec_t *ls_codec_new(const ls_codec_conf_t *conf, char *errstr,
                         size_t errstr_size);
void ls_codec_destroy(ls_codec_t *codec);

/** The largest input record decoded, in bytes (max_record_bytes). */
size_t ls_codec_max_record_bytes(const ls_codec_t *codec);

/**
 * Decodes one input record (value bytes of an events or profiles topic
 * message; @p kind says which). Pointers in *in stay valid until the next
 * decode call on this codec.
 * @returns LS_OK, or LS_ERR_INVALID / LS_ERR_UNSUPPORTED (unknown schema
 *          id, or an id not looked up because the registry's
 *          max_lookups_per_second was spent) / LS_ERR_IO (registry
 *          unreachable) with errstr saying why (field, byte offset).
 */
ls_err_t ls_codec_decode_input(ls_codec_t *codec, ls_input_kind_t kind,
                               const void *data, size_t len, ls_input_t *in,
                               char *errstr, size_t errstr_size);

/**
 * Encodes one engine output (score update or alert) for the scores /
 * alerts topic named @p topic, appending to @p buf (reset by the caller).
 */
ls_err_t ls_codec_encode_output(ls_codec_t *codec, const char *topic,
                                const ls_outbuf_t *ob, const ls_output_t *o,
                                ls_buf_t *buf, char *errstr,
                                size_t errstr_size);

/** A dead-letter record: the bad input and why it was rejected. */
typedef struct ls_dead_letter_s {
        const char *reason; /* short code: "decode", "late", ... */
        const char *error;  /* human readable message */
        const char *source_topic;
        int32_t source_partition;
        int64_t source_offset;
        const void *key; /* original key bytes (may be NULL) */
        size_t key_len;
        const void *value; /* original value bytes (may be NULL) */
        size_t value_len;
        /* When not 0: the original value had this many bytes and @p value
         * holds only its first value_len (cut to fit the producer's
         * message.max.bytes). */
        size_t value_truncated_from;
} ls_dead_letter_t;

ls_err_t ls_codec_encode_dead_letter(ls_codec_t *codec, const char *topic,
                                     const ls_dead_letter_t *dl, ls_buf_t *buf,
                                     char *errstr, size_t errstr_size);

#endif /* LS_CODEC_H */
