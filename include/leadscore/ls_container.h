/*
 * ls_container.h - the one Avro object container file writer.
 *
 * Writes the bytes of an Avro object container file (Avro 1.x
 * specification, "Object Container Files") with the null codec: a header
 * (magic "Obj\x01", a metadata map of avro.schema and avro.codec, the
 * 16-byte sync marker), then blocks of records, each a record count, a
 * byte count, the records' Avro binary and the sync marker.
 *
 * The sync marker is the first 16 bytes of the SHA-256 of the schema text
 * (libraries usually draw a random one), so the same schema and records
 * always give the same file bytes. The writer only appends to buffers:
 * where the bytes go (a file, in which order) is the caller's business.
 *
 * Threading: no shared state; any thread.
 */
#ifndef LS_CONTAINER_H
#define LS_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_err.h"

#define LS_CONTAINER_SYNC_LEN 16

/** One container file being written: what its blocks need. */
typedef struct ls_container_s {
        uint8_t sync[LS_CONTAINER_SYNC_LEN]; /* SHA-256(schema)[0..16) */
} ls_container_t;

/**
 * Starts a container file whose writer schema is @p schema (its JSON
 * text, @p len bytes, written into the header unchanged): sets
 * c->sync and appends the file header to @p out.
 * @returns LS_OK; LS_ERR_INVALID for an empty schema (nothing appended,
 *          *c untouched); LS_ERR_NOMEM (out may hold part of the header).
 */
ls_err_t ls_container_begin(ls_container_t *c, const char *schema, size_t len,
                            ls_buf_t *out);

/**
 * Appends one block of @p count records to @p out: @p data holds their
 * Avro binary, one after the other, @p len bytes. A block of no records
 * appends nothing (a reader would take it for the end of the file).
 * @returns LS_OK or LS_ERR_NOMEM (out may hold part of the block).
 */
ls_err_t ls_container_block(const ls_container_t *c, uint64_t count,
                            const void *data, size_t len, ls_buf_t *out);

#endif /* LS_CONTAINER_H */
