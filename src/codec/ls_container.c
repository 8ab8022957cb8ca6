/*
 * ls_container.c - the Avro object container file writer (see
 * ls_container.h). The varints are the codec's own (ls_avro_put_long);
 * the sync marker is a SHA-256 prefix of the schema text (OpenSSL EVP), so
 * equal runs give equal bytes.
 */
#include "leadscore/ls_container.h"

#include <string.h>

#include <openssl/evp.h>

#include "codec/ls_avro_int.h"

/** Appends an Avro string (its length as a long, then the bytes). */
static ls_err_t ls_container_put_str(ls_buf_t *out, const void *s, size_t len) {
        ls_err_t err = ls_avro_put_long(out, (int64_t)len);

        return err ? err : ls_buf_append(out, s, len);
}

ls_err_t ls_container_begin(ls_container_t *c, const char *schema, size_t len,
                            ls_buf_t *out) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        ls_err_t err = LS_OK;

        if (!schema || !len)
                return LS_ERR_INVALID;
        if (EVP_Digest(schema, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
            md_len < LS_CONTAINER_SYNC_LEN)
                return LS_ERR_NOMEM;
        memcpy(c->sync, md, LS_CONTAINER_SYNC_LEN);
        err |= ls_buf_append(out, "Obj\x01", 4);
        /* the metadata map: one block of two entries, then the end */
        err |= ls_avro_put_long(out, 2);
        err |= ls_container_put_str(out, "avro.schema", 11);
        err |= ls_container_put_str(out, schema, len);
        err |= ls_container_put_str(out, "avro.codec", 10);
        err |= ls_container_put_str(out, "null", 4);
        err |= ls_avro_put_long(out, 0);
        err |= ls_buf_append(out, c->sync, LS_CONTAINER_SYNC_LEN);
        return err ? LS_ERR_NOMEM : LS_OK;
}

ls_err_t ls_container_block(const ls_container_t *c, uint64_t count,
                            const void *data, size_t len, ls_buf_t *out) {
        ls_err_t err = LS_OK;

        if (!count)
                return LS_OK;
        err |= ls_avro_put_long(out, (int64_t)count);
        err |= ls_avro_put_long(out, (int64_t)len);
        err |= ls_buf_append(out, data, len);
        err |= ls_buf_append(out, c->sync, LS_CONTAINER_SYNC_LEN);
        return err ? LS_ERR_NOMEM : LS_OK;
}
