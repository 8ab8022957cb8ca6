/*
 * ls_avro_int.h - Avro binary for leadscore's own schemas (internal to the
 * codec module).
 *
 * Decoding: a decoder specialised to LeadEvent and LeadProfile
 * (schemas/lead_event.avsc, lead_profile.avsc) that trusts nothing: every
 * length is checked against the remaining bytes, varints are at most 10
 * bytes, union indexes are range-checked, strings must be UTF-8 without NUL
 * bytes, and the record must use the whole buffer. Errors name the field
 * and the byte offset. No allocation per record: strings are copied into a
 * reusable scratch arena (to NUL-terminate them) and map entries into a
 * reusable ls_kv_t array, both grown only when a larger record arrives.
 *
 * For writer schemas other than ours, ls_avro_precheck() walks any writer
 * schema over the bytes with the same checks, so that avro-c (which trusts
 * lengths) only ever sees well-formed input; ls_avro_value_to_input() then
 * maps avro-c's resolved reader value.
 *
 * Encoding: hand-written encoders of ScoreUpdate, Alert and DeadLetter
 * (schemas/score_update.avsc, alert.avsc, dead_letter.avsc).
 */
#ifndef LS_AVRO_INT_H
#define LS_AVRO_INT_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_codec.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"

/** Reusable memory of one decoder; owned by one thread. */
typedef struct ls_avro_scratch_s {
        char *arena; /* NUL-terminated copies of the record's strings */
        size_t arena_size;
        size_t arena_len;
        ls_kv_t *kv; /* map entries of the record */
        size_t kv_size;
} ls_avro_scratch_t;

void ls_avro_scratch_init(ls_avro_scratch_t *sc);
void ls_avro_scratch_free(ls_avro_scratch_t *sc);

/**
 * Decodes one LeadEvent (kind LS_INPUT_EVENT) or LeadProfile
 * (LS_INPUT_PROFILE) from data[0..len). @p base is added to every byte
 * offset in messages (e.g. 5 after Confluent framing).
 * @returns LS_OK and fills *in (pointers into @p sc, valid until its next
 *          use), or LS_ERR_INVALID / LS_ERR_NOMEM with errstr like
 *          "properties[2].value: length 90 exceeds the 12 remaining bytes
 *          at byte 41". Does not check values (empty lead id, time range):
 *          that is the caller's business.
 */
ls_err_t ls_avro_decode(ls_avro_scratch_t *sc, ls_input_kind_t kind,
                        const void *data, size_t len, size_t base,
                        ls_input_t *in, char *errstr, size_t errstr_size);

/**
 * Checks that data[0..len) is exactly one well-formed value of the writer
 * schema @p writer: lengths within the buffer, union and enum indexes in
 * range, booleans 0/1, ints within 32 bits, at most one array/map item per
 * remaining byte, nesting at most 64 deep.
 * @returns LS_OK or LS_ERR_INVALID naming the field path and byte offset.
 */
ls_err_t ls_avro_precheck(avro_schema_t writer, const void *data, size_t len,
                          size_t base, char *errstr, size_t errstr_size);

/**
 * Maps a generic avro-c value of our reader schema for @p kind to *in.
 * String pointers point into @p v (valid until it is reset); map entries go
 * to sc->kv. @returns LS_OK or LS_ERR_INVALID (NUL byte or bad UTF-8 in a
 * string, unexpected shape) / LS_ERR_NOMEM.
 */
ls_err_t ls_avro_value_to_input(ls_avro_scratch_t *sc, ls_input_kind_t kind,
                                avro_value_t *v, ls_input_t *in, char *errstr,
                                size_t errstr_size);

/**
 * Checks that @p schema (read from @p path) has exactly the fields, in
 * order and of the types, that ls_avro_decode() expects for @p kind.
 */
ls_err_t ls_avro_check_reader_schema(ls_input_kind_t kind, avro_schema_t schema,
                                     const char *path, char *errstr,
                                     size_t errstr_size);

/**
 * Appends @p v as an Avro long (zigzag varint, at most 10 bytes): the one
 * varint writer of the codec, used by the encoders below and the
 * container file writer (ls_container.h). @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_avro_put_long(ls_buf_t *buf, int64_t v);

/** Appends the Avro binary ScoreUpdate or Alert (by o->kind) to @p buf. */
ls_err_t ls_avro_encode_output(const ls_outbuf_t *ob, const ls_output_t *o,
                               ls_buf_t *buf);

/** Appends the Avro binary DeadLetter to @p buf. */
ls_err_t ls_avro_encode_dead_letter(const ls_dead_letter_t *dl, ls_buf_t *buf);

/** @returns "rule", "fit" or "decay" ("unknown" otherwise). */

/**
 * @returns 1 if s[0..len) is valid UTF-8 without NUL bytes, else 0 with
 *          *bad set to the offset of the first offending byte.
 */
int ls_avro_utf8_check(const uint8_t *s, size_t len, size_t *bad);

#endif /* LS_AVRO_INT_H */
