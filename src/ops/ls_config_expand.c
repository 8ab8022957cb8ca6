/*
 * ls_config_expand.c - indirect config values, the first pass over a
 * config document (ls_cfgp_expand()), before any key is interpreted.
 */
#include "leadscore/ls_config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "leadscore/ls_alloc.h"
#include "ops/ls_config_int.h"

/*
 * Indirect values. Before any key is interpreted, every scalar value of
 * the document (at any depth, keys excepted) that is as a whole
 * "${env:NAME}" becomes the environment variable NAME, and
 * "${file:PATH}" the contents of PATH (relative to the config's
 * directory, at most LS_CFG_FILE_MAX bytes, one trailing newline
 * dropped), so that secrets and per-deployment values can come from a
 * Kubernetes Secret or systemd credentials instead of the config file.
 * A value is expanded once: what it expands to is taken as it is.
 * Errors name the line and the key path, never the value.
 */
#define LS_CFG_FILE_MAX (64 * 1024)

/*
 * Replaces the value of scalar @p node by @p v (@p len bytes). The
 * document's strings belong to libyaml, which frees them with free():
 * the new one is allocated with malloc() to match.
 */
static ls_err_t ls_cfgp_replace(yaml_node_t *node, const char *v, size_t len) {
        yaml_char_t *copy = malloc(len + 1);

        if (!copy)
                return LS_ERR_NOMEM;
        memcpy(copy, v, len);
        copy[len] = '\0';
        free(node->data.scalar.value);
        node->data.scalar.value = copy;
        node->data.scalar.length = len;
        return LS_OK;
}

/* Reads "${file:PATH}" for @p node (key @p path) into its value. */
static ls_err_t ls_cfgp_expand_file(ls_cfgp_t *p, yaml_node_t *node,
                                    const char *path, const char *fname) {
        char *fpath = NULL;
        FILE *fp;
        ls_buf_t c;
        char chunk[4096];
        size_t r;
        ls_err_t err;
        yaml_node_t tmp = *node;

        tmp.data.scalar.value = (yaml_char_t *)fname;
        if ((err = ls_cfgp_path(p, &tmp, path, &fpath)))
                return err;
        ls_buf_init(&c);
        fp = fopen(fpath, "rb");
        if (!fp) {
                char why[PATH_MAX + 128];
                snprintf(why, sizeof(why), "cannot read %s: %s", fpath,
                         strerror(errno));
                err = ls_cfgp_err(p, node, path, "%s", why);
        }
        while (!err && (r = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
                /* the bound, one newline, one byte to see it is over */
                if (c.len + r > LS_CFG_FILE_MAX + 2)
                        r = LS_CFG_FILE_MAX + 2 - c.len;
                if (ls_buf_append(&c, chunk, r))
                        err = LS_ERR_NOMEM;
                else if (c.len == LS_CFG_FILE_MAX + 2)
                        break;
        }
        if (!err && ferror(fp))
                err = ls_cfgp_err(p, node, path, "cannot read %s", fpath);
        if (fp)
                fclose(fp);
        if (!err && c.len > 0 && c.data[c.len - 1] == '\n')
                c.len--;
        if (!err && c.len > LS_CFG_FILE_MAX) {
                char why[PATH_MAX + 64];
                snprintf(why, sizeof(why), "%s is larger than %d KiB", fpath,
                         LS_CFG_FILE_MAX / 1024);
                err = ls_cfgp_err(p, node, path, "%s", why);
        }
        if (!err && c.len && memchr(c.data, '\0', c.len))
                err = ls_cfgp_err(p, node, path, "%s contains a NUL byte",
                                  fpath);
        if (!err)
                err = ls_cfgp_replace(node, c.data ? c.data : "", c.len);
        ls_buf_free(&c);
        ls_free(fpath);
        return err;
}

/* Expands scalar @p node (key @p path) if it is ${env:..} or ${file:..}. */
static ls_err_t ls_cfgp_expand_scalar(ls_cfgp_t *p, yaml_node_t *node,
                                      const char *path) {
        const char *v = (const char *)node->data.scalar.value;
        size_t n = node->data.scalar.length;
        char *inner;
        ls_err_t err;

        size_t idx = (size_t)(node - p->doc->nodes.start);

        /* Once per node: an alias must not expand an expanded value. */
        if (p->expanded[idx])
                return LS_OK;
        p->expanded[idx] = 1;
        if (n < 4 || strncmp(v, "${", 2) || v[n - 1] != '}')
                return LS_OK;
        if (!(inner = ls_strndup(v + 2, n - 3)))
                return LS_ERR_NOMEM;
        if (!strncmp(inner, "env:", 4) && inner[4]) {
                const char *e = getenv(inner + 4);
                err = e ? ls_cfgp_replace(node, e, strlen(e))
                        : ls_cfgp_err(p, node, path,
                                      "environment variable %s is not set",
                                      inner + 4);
                if (!err)
                        p->expanded[idx] = LS_CFGP_FROM_SECRET;
        } else if (!strncmp(inner, "file:", 5) && inner[5]) {
                err = ls_cfgp_expand_file(p, node, path, inner + 5);
                if (!err)
                        p->expanded[idx] = LS_CFGP_FROM_SECRET;
        } else {
                err = ls_cfgp_err(p, node, path,
                                  "expected ${env:NAME} or ${file:PATH}, got "
                                  "\"${%s}\"",
                                  inner);
        }
        ls_free(inner);
        return err;
}

/* Expands every scalar value under @p node, whose key path is @p path. */
ls_err_t ls_cfgp_expand(ls_cfgp_t *p, yaml_node_t *node, const char *path,
                        int depth) {
        char sub[512];
        ls_err_t err;

        if (depth > 32)
                return ls_cfgp_err(p, node, path, "nested too deeply%s", NULL);
        if (node->type == YAML_SCALAR_NODE)
                return ls_cfgp_expand_scalar(p, node, path);
        if (node->type == YAML_SEQUENCE_NODE) {
                yaml_node_item_t *it;
                for (it = node->data.sequence.items.start;
                     it < node->data.sequence.items.top; it++) {
                        yaml_node_t *item = yaml_document_get_node(p->doc, *it);
                        snprintf(sub, sizeof(sub), "%s[%d]", path,
                                 (int)(it - node->data.sequence.items.start));
                        if (item &&
                            (err = ls_cfgp_expand(p, item, sub, depth + 1)))
                                return err;
                }
                return LS_OK;
        }
        if (node->type == YAML_MAPPING_NODE) {
                yaml_node_pair_t *pr;
                for (pr = node->data.mapping.pairs.start;
                     pr < node->data.mapping.pairs.top; pr++) {
                        yaml_node_t *kn =
                                yaml_document_get_node(p->doc, pr->key);
                        yaml_node_t *vn =
                                yaml_document_get_node(p->doc, pr->value);
                        const char *k = kn ? ls_cfgp_scalar(kn) : NULL;
                        snprintf(sub, sizeof(sub), "%s%s%s", path,
                                 *path ? "." : "", k ? k : "?");
                        if (vn && (err = ls_cfgp_expand(p, vn, sub, depth + 1)))
                                return err;
                }
        }
        return LS_OK;
}
