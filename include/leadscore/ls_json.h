/*
 * ls_json.h - JSON wire format for inputs and outputs (jansson).
 *
 * Inputs are one JSON object each:
 *   {"kind":"event","lead_id","event_id"?,"event_type","occurred_at",
 *    "product"?, "properties"?: {string: string}}
 *   {"kind":"profile","lead_id","updated_at","attributes":{string:string}}
 * Times are integer milliseconds since the epoch or RFC 3339 strings,
 * between 1970 and year 9999; integers in [10^9, 10^11) are refused as
 * epoch seconds. An empty lead_id or event_type decodes (the engine
 * rejects it); event_id may be absent or empty (never deduplicated). "kind" may be omitted when event_type (an
 * event) or attributes (a profile) says which. Property and attribute
 * values may be strings, numbers or booleans (passed on as their text:
 * "42", "3.5", "true"); null means absent; nested values are rejected.
 * Lead ids are at most 256 bytes.
 * Outputs are written with a fixed key order, so equal outputs give
 * byte-identical JSON.
 */
#ifndef LS_JSON_H
#define LS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"
#include "leadscore/ls_err.h"

typedef struct ls_json_dec_s ls_json_dec_t;

ls_json_dec_t *ls_json_dec_new(void);
void ls_json_dec_destroy(ls_json_dec_t *dec);

/**
 * Decodes one input object from data[0..len).
 * @returns LS_OK and fills *in, whose pointers stay valid until the next
 *          call on @p dec; or LS_ERR_INVALID with errstr naming the field.
 */
ls_err_t ls_json_decode_input(ls_json_dec_t *dec, const char *data, size_t len,
                              ls_input_t *in, char *errstr, size_t errstr_size);

/** Appends the JSON object for @p o (no newline) to @p buf. */
ls_err_t ls_json_encode_output(const ls_outbuf_t *ob, const ls_output_t *o,
                               ls_buf_t *buf);

/**
 * Parses an RFC 3339 time ("2026-03-01T10:00:00Z", optional fraction,
 * "Z" or a +hh:mm / -hh:mm offset) into milliseconds since the epoch
 * (sub-millisecond digits are truncated).
 * @returns LS_OK, or LS_ERR_INVALID (bad syntax, impossible date, or a time
 *          before 1970 or after year 9999); *msp is untouched on error.
 */
ls_err_t ls_json_parse_time(const char *s, int64_t *msp);

/**
 * @returns 1 when data[0..len) holds only JSON white space (space, tab,
 * CR, LF) or nothing: a JSON Lines line that carries no value and is
 * skipped; else 0.
 */
int ls_json_blank(const char *data, size_t len);

#endif /* LS_JSON_H */
