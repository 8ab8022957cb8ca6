/*
 * ls_model_version.c - the content versions of a model set: SHA-256 of
 * each model's own source text with the lists it uses and the set-wide
 * keys that change its scores (a model's version), and of the whole file
 * with every list (the set's version, which shard images are bound to).
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "leadscore/ls_model.h"
#include "model/ls_mload_int.h"

/*
 * Versions
 */

/** libyaml marks count characters; @returns the byte offset of the
 *  character at @p idx. */
static size_t ls_mload_byte_offset(const ls_mload_t *ld, size_t idx) {
        size_t pos = 0, chars = 0;

        if (ld->len >= 3 && !memcmp(ld->text, "\xEF\xBB\xBF", 3))
                pos = 3; /* the reader skips a BOM without counting it */
        while (pos < ld->len && chars < idx) {
                pos++;
                while (pos < ld->len &&
                       ((unsigned char)ld->text[pos] & 0xC0) == 0x80)
                        pos++;
                chars++;
        }
        return pos;
}

/** Feeds the source text of @p node (trailing blanks trimmed). */
/*
 * Hashes one named piece: its label, its length, its bytes. The framing
 * keeps different pieces from hashing alike when run together (list "a"
 * = "x\ny" and "b" = "" against "a" = "x", "b" = "y"; `lateness: 8`
 * against `dedupe: 8`).
 */
static int ls_mload_hash_piece(EVP_MD_CTX *ctx, const char *label,
                               const void *data, size_t len) {
        uint64_t n = len;

        return EVP_DigestUpdate(ctx, label, strlen(label) + 1) &&
               EVP_DigestUpdate(ctx, &n, sizeof(n)) &&
               (len == 0 || EVP_DigestUpdate(ctx, data, len));
}

static int ls_mload_hash_node(const ls_mload_t *ld, EVP_MD_CTX *ctx,
                              const char *label, const yaml_node_t *node) {
        size_t b = ls_mload_byte_offset(ld, node->start_mark.index);
        size_t e = ls_mload_byte_offset(ld, node->end_mark.index);

        while (e > b && isspace((unsigned char)ld->text[e - 1]))
                e--;
        return ls_mload_hash_piece(ctx, label, ld->text + b, e > b ? e - b : 0);
}

static void ls_mload_hex(const unsigned char *md, char *out) {
        static const char hex[] = "0123456789abcdef";
        int i;

        for (i = 0; i < LS_MODEL_VERSION_LEN / 2; i++) {
                out[2 * i] = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 0xf];
        }
        out[LS_MODEL_VERSION_LEN] = '\0';
}

/** Finishes SHA-256 digest @p ctx (freed here) into the hex version
 *  @p out; @p ok is false when an earlier digest step failed. */
static ls_err_t ls_mload_sha256_done(ls_mload_t *ld, EVP_MD_CTX *ctx, int ok,
                                     char *out) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;

        ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
        EVP_MD_CTX_free(ctx);
        if (!ok)
                return ls_seterr(ld->errstr, ld->errstr_size, LS_ERR_NOMEM,
                                 "%s: SHA-256 failed", ld->name);
        ls_mload_hex(md, out);
        return LS_OK;
}

/** Hashes the model at @p model_node into its version (lists it uses are
 *  flagged in ld->model_lists). */
ls_err_t ls_mload_model_version(ls_mload_t *ld, ls_model_t *m,
                                const yaml_node_t *root,
                                const yaml_node_t *model_node) {
        static const char *const shared[] = {
                "lateness", "max_future",     "dedupe", "ignore",
                "suppress", "backfill_after", NULL};
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t i;
        int ok;

        if (!ctx)
                return ls_mload_nomem(ld);
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             ls_mload_hash_node(ld, ctx, "model", model_node);
        for (i = 0; ok && i < ld->ms->n_lists; i++)
                if (ld->model_lists[i] || ld->ignore_lists[i])
                        ok = ls_mload_hash_piece(ctx, ld->ms->lists[i].name,
                                                 ld->list_raw[i].data,
                                                 ld->list_raw[i].len);
        for (i = 0; ok && shared[i]; i++) {
                yaml_node_t *v =
                        ls_mload_get((ls_mload_t *)ld, root, shared[i]);

                if (v)
                        ok = ls_mload_hash_node(ld, ctx, shared[i], v);
        }
        return ls_mload_sha256_done(ld, ctx, ok, m->version);
}

ls_err_t ls_mload_set_version(ls_mload_t *ld) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t i;
        int ok;

        if (!ctx)
                return ls_mload_nomem(ld);
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             ls_mload_hash_piece(ctx, "file", ld->text, ld->len);
        for (i = 0; ok && i < ld->ms->n_lists; i++)
                ok = ls_mload_hash_piece(ctx, ld->ms->lists[i].name,
                                         ld->list_raw[i].data,
                                         ld->list_raw[i].len);
        return ls_mload_sha256_done(ld, ctx, ok, ld->ms->version);
}
