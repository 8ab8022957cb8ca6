/*
 * ls_mload.c - the YAML reading toolkit of the model loader: key path
 * bookkeeping, error messages "<file>:<line>: <key path>: <message>",
 * node access, typed scalar parsers with range checks, and list files
 * (one item per line, '#' comments). See ls_mload_int.h.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_model.h"
#include "model/ls_mload_int.h"
#include "model/ls_model_int.h"

/*
 * Key path and errors
 */

/** Appends to the key path; @returns the mark to pop back to. */
size_t ls_mload_push(ls_mload_t *ld, const char *fmt, ...) {
        size_t mark = ld->plen;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(ld->path + ld->plen, sizeof(ld->path) - ld->plen, fmt,
                      ap);
        va_end(ap);
        if (n > 0) {
                ld->plen += (size_t)n;
                if (ld->plen >= sizeof(ld->path))
                        ld->plen = sizeof(ld->path) - 1;
        }
        return mark;
}

size_t ls_mload_key(ls_mload_t *ld, const char *key) {
        return ls_mload_push(ld, "%s%s", ld->plen ? "." : "", key);
}

size_t ls_mload_idx(ls_mload_t *ld, size_t i) {
        return ls_mload_push(ld, "[%zu]", i);
}

void ls_mload_pop(ls_mload_t *ld, size_t mark) {
        ld->plen = mark;
        ld->path[mark] = '\0';
}

static ls_err_t ls_mload_verr(ls_mload_t *ld, ls_err_t err,
                              const yaml_node_t *node, const char *fmt,
                              va_list ap) {
        char msg[512];

        vsnprintf(msg, sizeof(msg), fmt, ap);
        return ls_seterr(ld->errstr, ld->errstr_size, err, "%s:%zu: %s: %s",
                         ld->name, node ? node->start_mark.line + 1 : 1,
                         ld->plen ? ld->path : "(top level)", msg);
}

/** Sets "<file>:<line>: <path>: <message>"; @returns LS_ERR_INVALID. */
ls_err_t ls_mload_err(ls_mload_t *ld, const yaml_node_t *node, const char *fmt,
                      ...) {
        va_list ap;
        ls_err_t err;

        va_start(ap, fmt);
        err = ls_mload_verr(ld, LS_ERR_INVALID, node, fmt, ap);
        va_end(ap);
        return err;
}

/** Like ls_mload_err, with @p key appended to the key path for this
 *  message only (the path is as before on return). */
ls_err_t ls_mload_key_err(ls_mload_t *ld, const yaml_node_t *node,
                          const char *key, const char *fmt, ...) {
        size_t mark = ls_mload_key(ld, key);
        va_list ap;
        ls_err_t err;

        va_start(ap, fmt);
        err = ls_mload_verr(ld, LS_ERR_INVALID, node, fmt, ap);
        va_end(ap);
        ls_mload_pop(ld, mark);
        return err;
}

ls_err_t ls_mload_ioerr(ls_mload_t *ld, const yaml_node_t *node,
                        const char *fmt, ...) {
        va_list ap;
        ls_err_t err;

        va_start(ap, fmt);
        err = ls_mload_verr(ld, LS_ERR_IO, node, fmt, ap);
        va_end(ap);
        return err;
}

ls_err_t ls_mload_nomem(ls_mload_t *ld) {
        return ls_seterr(ld->errstr, ld->errstr_size, LS_ERR_NOMEM,
                         "%s: out of memory while loading the model", ld->name);
}

/*
 * Node helpers
 */

yaml_node_t *ls_mload_node(ls_mload_t *ld, int id) {
        return yaml_document_get_node(ld->doc, id);
}

const char *ls_mload_str(const yaml_node_t *node) {
        return (const char *)node->data.scalar.value;
}

/** A plain empty, `~` or `null` scalar. */
int ls_mload_is_null(const yaml_node_t *node) {
        const char *s;

        if (node->type != YAML_SCALAR_NODE ||
            node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return 0;
        s = ls_mload_str(node);
        return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
               !strcmp(s, "Null") || !strcmp(s, "NULL");
}

size_t ls_mload_seq_len(const yaml_node_t *node) {
        return (size_t)(node->data.sequence.items.top -
                        node->data.sequence.items.start);
}

yaml_node_t *ls_mload_seq_at(ls_mload_t *ld, const yaml_node_t *node,
                             size_t i) {
        return ls_mload_node(ld, node->data.sequence.items.start[i]);
}

size_t ls_mload_map_len(const yaml_node_t *node) {
        return (size_t)(node->data.mapping.pairs.top -
                        node->data.mapping.pairs.start);
}

/** @returns the value of @p key in mapping @p map, or NULL. */
yaml_node_t *ls_mload_get(ls_mload_t *ld, const yaml_node_t *map,
                          const char *key) {
        const yaml_node_pair_t *p;

        for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = ls_mload_node(ld, p->key);

                if (k && k->type == YAML_SCALAR_NODE &&
                    !strcmp(ls_mload_str(k), key))
                        return ls_mload_node(ld, p->value);
        }
        return NULL;
}

int ls_mload_in(const char *s, const char *const *set) {
        for (; *set; set++)
                if (!strcmp(s, *set))
                        return 1;
        return 0;
}

/** Requires a mapping whose keys are in @p allowed (and @p allowed2,
 *  may be NULL), each once. */
ls_err_t ls_mload_check_map(ls_mload_t *ld, const yaml_node_t *node,
                            const char *const *allowed,
                            const char *const *allowed2) {
        const yaml_node_pair_t *p, *q;

        if (node->type != YAML_MAPPING_NODE)
                return ls_mload_err(ld, node, "expected a mapping");
        for (p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++) {
                yaml_node_t *k = ls_mload_node(ld, p->key);
                const char *ks;
                size_t mark;
                ls_err_t err;

                if (!k || k->type != YAML_SCALAR_NODE)
                        return ls_mload_err(ld, k ? k : node,
                                            "keys must be strings");
                ks = ls_mload_str(k);
                mark = ls_mload_key(ld, ks);
                if (!ls_mload_in(ks, allowed) &&
                    !(allowed2 && ls_mload_in(ks, allowed2))) {
                        char exp[256];
                        size_t n = 0;
                        const char *const *a;

                        exp[0] = '\0';
                        for (a = allowed; *a && n < sizeof(exp); a++)
                                n += (size_t)snprintf(exp + n, sizeof(exp) - n,
                                                      "%s%s", n ? ", " : "",
                                                      *a);
                        for (a = allowed2; a && *a && n < sizeof(exp); a++)
                                n += (size_t)snprintf(exp + n, sizeof(exp) - n,
                                                      "%s%s", n ? ", " : "",
                                                      *a);
                        err = ls_mload_err(ld, k,
                                           "unknown key (expected one of: %s)",
                                           exp);
                        ls_mload_pop(ld, mark);
                        return err;
                }
                for (q = node->data.mapping.pairs.start; q < p; q++) {
                        yaml_node_t *k2 = ls_mload_node(ld, q->key);

                        if (k2 && k2->type == YAML_SCALAR_NODE &&
                            !strcmp(ls_mload_str(k2), ks)) {
                                err = ls_mload_err(ld, k, "duplicate key");
                                ls_mload_pop(ld, mark);
                                return err;
                        }
                }
                ls_mload_pop(ld, mark);
        }
        return LS_OK;
}

/*
 * Scalar parsers: the key path already names the node.
 */

ls_err_t ls_mload_int(ls_mload_t *ld, const yaml_node_t *node, long long lo,
                      long long hi, long long *out) {
        const char *s;
        char *end;
        long long v;

        if (node->type != YAML_SCALAR_NODE || ls_mload_is_null(node))
                return ls_mload_err(ld, node, "expected an integer");
        s = ls_mload_str(node);
        errno = 0;
        v = strtoll(s, &end, 10);
        if (end == s || *end != '\0' || isspace((unsigned char)*s))
                return ls_mload_err(ld, node, "expected an integer");
        if (errno == ERANGE || v < lo || v > hi)
                return ls_mload_err(ld, node, "must be between %lld and %lld",
                                    lo, hi);
        *out = v;
        return LS_OK;
}

ls_err_t ls_mload_int32(ls_mload_t *ld, const yaml_node_t *node, int32_t *out) {
        long long v = 0;
        ls_err_t err = ls_mload_int(ld, node, INT32_MIN, INT32_MAX, &v);

        if (!err)
                *out = (int32_t)v;
        return err;
}

ls_err_t ls_mload_number(ls_mload_t *ld, const yaml_node_t *node, double *out) {
        char *end;

        if (node->type != YAML_SCALAR_NODE || ls_mload_is_null(node))
                return ls_mload_err(ld, node, "expected a number");
        *out = strtod(ls_mload_str(node), &end);
        if (end == ls_mload_str(node) || *end || !isfinite(*out))
                return ls_mload_err(ld, node, "expected a number");
        return LS_OK;
}

ls_err_t ls_mload_duration(ls_mload_t *ld, const yaml_node_t *node,
                           int64_t *out) {
        if (node->type != YAML_SCALAR_NODE ||
            ls_duration_parse(ls_mload_str(node), out))
                return ls_mload_err(ld, node,
                                    "expected a duration > 0 (e.g. 500ms, "
                                    "30s, 15m, 24h, 7d, 2w)");
        return LS_OK;
}

ls_err_t ls_mload_bool(ls_mload_t *ld, const yaml_node_t *node, int *out) {
        const char *s;

        if (node->type != YAML_SCALAR_NODE)
                return ls_mload_err(ld, node, "expected true or false");
        s = ls_mload_str(node);
        if (!strcasecmp(s, "true"))
                *out = 1;
        else if (!strcasecmp(s, "false"))
                *out = 0;
        else
                return ls_mload_err(ld, node, "expected true or false");
        return LS_OK;
}

/** A non-empty string. */
ls_err_t ls_mload_string(ls_mload_t *ld, const yaml_node_t *node,
                         const char **out) {
        if (node->type != YAML_SCALAR_NODE || ls_mload_is_null(node) ||
            !*ls_mload_str(node))
                return ls_mload_err(ld, node, "expected a non-empty string");
        *out = ls_mload_str(node);
        return LS_OK;
}

int ls_mload_valid_id(const char *s) {
        if (!*s)
                return 0;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
                    *s != '-')
                        return 0;
        return 1;
}

ls_err_t ls_mload_id(ls_mload_t *ld, const yaml_node_t *node,
                     const char **out) {
        ls_err_t err = ls_mload_string(ld, node, out);
        size_t len;

        if (err)
                return err;
        if ((len = strlen(*out)) > LS_MODEL_ID_MAX)
                return ls_mload_err(ld, node,
                                    "'%.*s...' is %zu bytes, longer than an "
                                    "id may be (%d)",
                                    LS_MODEL_ID_MAX, *out, len,
                                    LS_MODEL_ID_MAX);
        if (!ls_mload_valid_id(*out))
                return ls_mload_err(ld, node,
                                    "'%s' is not a valid id "
                                    "([A-Za-z0-9_.-]+, at most %d bytes)",
                                    *out, LS_MODEL_ID_MAX);
        return LS_OK;
}

char *ls_mload_lower(const char *s) {
        char *d = ls_strdup(s);
        char *p;

        if (d)
                for (p = d; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
        return d;
}

/*
 * Keyed accessors: look up @p key in @p map, push it on the key path,
 * parse, pop. Missing optional keys leave *has = 0 and *out untouched.
 */

ls_err_t ls_mload_opt_int(ls_mload_t *ld, const yaml_node_t *map,
                          const char *key, long long lo, long long hi, int *has,
                          long long *out) {
        yaml_node_t *v = ls_mload_get(ld, map, key);
        size_t mark;
        ls_err_t err;

        if (has)
                *has = 0;
        if (!v)
                return LS_OK;
        mark = ls_mload_key(ld, key);
        err = ls_mload_int(ld, v, lo, hi, out);
        ls_mload_pop(ld, mark);
        if (!err && has)
                *has = 1;
        return err;
}

ls_err_t ls_mload_opt_int32(ls_mload_t *ld, const yaml_node_t *map,
                            const char *key, int *has, int32_t *out) {
        long long v;
        int h = 0;
        ls_err_t err =
                ls_mload_opt_int(ld, map, key, INT32_MIN, INT32_MAX, &h, &v);

        if (!err && h)
                *out = (int32_t)v;
        if (has)
                *has = h;
        return err;
}

ls_err_t ls_mload_opt_duration(ls_mload_t *ld, const yaml_node_t *map,
                               const char *key, int *has, int64_t *out) {
        yaml_node_t *v = ls_mload_get(ld, map, key);
        size_t mark;
        ls_err_t err;

        if (has)
                *has = 0;
        if (!v)
                return LS_OK;
        mark = ls_mload_key(ld, key);
        err = ls_mload_duration(ld, v, out);
        ls_mload_pop(ld, mark);
        if (!err && has)
                *has = 1;
        return err;
}

/** A required key: a missing one is reported at the mapping's line. */
ls_err_t ls_mload_required(ls_mload_t *ld, const yaml_node_t *map,
                           const char *key, yaml_node_t **out) {
        *out = ls_mload_get(ld, map, key);
        if (*out)
                return LS_OK;
        return ls_mload_key_err(ld, map, key, "required");
}

ls_err_t ls_mload_req_id(ls_mload_t *ld, const yaml_node_t *map,
                         const char *key, char **out, yaml_node_t **nodep) {
        yaml_node_t *v;
        const char *s;
        size_t mark;
        ls_err_t err;

        if ((err = ls_mload_required(ld, map, key, &v)))
                return err;
        mark = ls_mload_key(ld, key);
        err = ls_mload_id(ld, v, &s);
        ls_mload_pop(ld, mark);
        if (err)
                return err;
        if (!(*out = ls_strdup(s)))
                return ls_mload_nomem(ld);
        if (nodep)
                *nodep = v;
        return LS_OK;
}

/** A sequence of non-empty strings, lowercased. */
ls_err_t ls_mload_str_seq(ls_mload_t *ld, const yaml_node_t *node,
                          int allow_empty, char ***out, size_t *n_out) {
        size_t i, n;
        ls_err_t err;

        if (node->type != YAML_SEQUENCE_NODE)
                return ls_mload_err(ld, node, "expected a list of strings");
        n = ls_mload_seq_len(node);
        if (n == 0 && !allow_empty)
                return ls_mload_err(ld, node, "must not be empty");
        if (!(*out = ls_calloc(n, sizeof(char *))))
                return ls_mload_nomem(ld);
        *n_out = n;
        for (i = 0; i < n; i++) {
                yaml_node_t *it = ls_mload_seq_at(ld, node, i);
                const char *s = NULL;
                size_t mark = ls_mload_idx(ld, i);

                err = ls_mload_string(ld, it, &s);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
                if (!((*out)[i] = ls_mload_lower(s)))
                        return ls_mload_nomem(ld);
        }
        return LS_OK;
}

/*
 * Lists
 */

int ls_mload_strcmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/** Splits list file text into sorted, lowercased, unique items. */
static ls_err_t ls_mload_list_items(ls_mload_t *ld, ls_list_t *list,
                                    const char *text, size_t len) {
        size_t cap = 0, i, j, pos = 0;

        while (pos < len) {
                const char *line = text + pos;
                const char *nl = memchr(line, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - line) : len - pos;
                const char *hash = memchr(line, '#', n);
                size_t b = 0;

                pos += n + (nl ? 1 : 0);
                if (hash)
                        n = (size_t)(hash - line);
                while (b < n && isspace((unsigned char)line[b]))
                        b++;
                while (n > b && isspace((unsigned char)line[n - 1]))
                        n--;
                if (n == b)
                        continue;
                if (list->n_items == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        char **items =
                                ls_realloc(list->items, ncap * sizeof(char *));

                        if (!items)
                                return ls_mload_nomem(ld);
                        list->items = items;
                        cap = ncap;
                }
                if (!(list->items[list->n_items] = ls_strndup(line + b, n - b)))
                        return ls_mload_nomem(ld);
                for (j = 0; j < n - b; j++)
                        list->items[list->n_items][j] = (char)tolower(
                                (unsigned char)list->items[list->n_items][j]);
                list->n_items++;
        }
        if (list->n_items == 0)
                return LS_OK;
        qsort(list->items, list->n_items, sizeof(char *), ls_mload_strcmp);
        for (i = 1, j = 0; i < list->n_items; i++) {
                if (!strcmp(list->items[i], list->items[j]))
                        ls_free(list->items[i]);
                else
                        list->items[++j] = list->items[i];
        }
        list->n_items = j + 1;
        return LS_OK;
}

ls_err_t ls_mload_read_file(const char *path, ls_buf_t *buf, int *errnop) {
        FILE *fp = fopen(path, "rb");
        char chunk[8192];
        size_t n;

        if (!fp) {
                *errnop = errno;
                return LS_ERR_IO;
        }
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
                if (buf->len + n > LS_MODEL_FILE_MAX) {
                        /* /dev/zero, a runaway generator: refused, not
                         * read until memory runs out */
                        fclose(fp);
                        *errnop = EFBIG;
                        return LS_ERR_IO;
                }
                if (ls_buf_append(buf, chunk, n)) {
                        fclose(fp);
                        return LS_ERR_NOMEM;
                }
        }
        if (ferror(fp)) {
                *errnop = errno ? errno : EIO;
                fclose(fp);
                return LS_ERR_IO;
        }
        fclose(fp);
        if (!buf->data && ls_buf_reserve(buf, 1))
                return LS_ERR_NOMEM;
        return LS_OK;
}

ls_err_t ls_mload_lists(ls_mload_t *ld, const yaml_node_t *node) {
        ls_modelset_t *ms = ld->ms;
        const yaml_node_pair_t *p;
        size_t i, n;
        ls_err_t err;

        if (node->type != YAML_MAPPING_NODE)
                return ls_mload_err(ld, node,
                                    "expected a mapping of name: file");
        n = ls_mload_map_len(node);
        if (!(ms->lists = ls_calloc(n, sizeof(ls_list_t))) ||
            !(ld->list_raw = ls_calloc(n, sizeof(ls_buf_t))) ||
            !(ld->ignore_lists = ls_calloc(n, 1)) ||
            !(ld->model_lists = ls_calloc(n, 1)))
                return ls_mload_nomem(ld);
        ms->n_lists = n;
        ld->n_raw = n;
        for (i = 0; i < n; i++)
                ls_buf_init(&ld->list_raw[i]);
        for (i = 0, p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++, i++) {
                yaml_node_t *k = ls_mload_node(ld, p->key);
                yaml_node_t *v = ls_mload_node(ld, p->value);
                ls_list_t *list = &ms->lists[i];
                const char *name, *file;
                size_t mark, j;
                int eno = 0;

                if (k->type != YAML_SCALAR_NODE)
                        return ls_mload_err(ld, k, "keys must be strings");
                mark = ls_mload_key(ld, ls_mload_str(k));
                if ((err = ls_mload_id(ld, k, &name)) ||
                    (err = ls_mload_string(ld, v, &file))) {
                        ls_mload_pop(ld, mark);
                        return err;
                }
                for (j = 0; j < i; j++) {
                        if (!strcmp(ms->lists[j].name, name)) {
                                err = ls_mload_err(ld, k, "duplicate key");
                                ls_mload_pop(ld, mark);
                                return err;
                        }
                }
                if (!(list->name = ls_strdup(name))) {
                        ls_mload_pop(ld, mark);
                        return ls_mload_nomem(ld);
                }
                if (file[0] == '/' || !ld->base_dir || !*ld->base_dir) {
                        list->path = ls_strdup(file);
                } else {
                        size_t bl = strlen(ld->base_dir), fl = strlen(file);

                        if ((list->path = ls_malloc(bl + fl + 2))) {
                                memcpy(list->path, ld->base_dir, bl);
                                list->path[bl] = '/';
                                memcpy(list->path + bl + 1, file, fl + 1);
                        }
                }
                if (!list->path) {
                        ls_mload_pop(ld, mark);
                        return ls_mload_nomem(ld);
                }
                if (ld->src) {
                        size_t s;

                        for (s = 0; s < ld->src->n_lists; s++)
                                if (ld->src->name_lens[s] == strlen(name) &&
                                    !memcmp(ld->src->names[s], name,
                                            ld->src->name_lens[s]))
                                        break;
                        if (s == ld->src->n_lists)
                                err = ls_mload_err(ld, v,
                                                   "list '%s' is not in the "
                                                   "model source",
                                                   name);
                        else
                                err = ls_buf_append(&ld->list_raw[i],
                                                    ld->src->raws[s],
                                                    ld->src->raw_lens[s]);
                } else {
                        err = ls_mload_read_file(list->path, &ld->list_raw[i],
                                                 &eno);
                }
                if (err == LS_ERR_IO)
                        err = ls_mload_ioerr(
                                ld, v, "cannot read list file '%s': %s%s",
                                list->path, strerror(eno),
                                eno == EFBIG ? " (over 64 MiB)" : "");
                else if (err == LS_ERR_NOMEM)
                        err = ls_mload_nomem(ld);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
                if ((err = ls_mload_list_items(ld, list, ld->list_raw[i].data,
                                               ld->list_raw[i].len)))
                        return err;
        }
        return LS_OK;
}
