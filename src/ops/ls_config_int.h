/*
 * ls_config_int.h - internals shared by the files of the config loader:
 * the parser state (ls_cfgp_t), the key parser's error and value helpers
 * that the ${env:} / ${file:} expansion reuses, and the two passes
 * ls_config_load_string() runs over a document. Not part of the public
 * API.
 *
 * Errors name the file, the line and the key path ("run.yaml:7:
 * topics.scorse: unknown key"); a value that came from ${env:} or
 * ${file:} is never quoted in them.
 */
#ifndef LS_CONFIG_INT_H
#define LS_CONFIG_INT_H

#include <stddef.h>

#include <yaml.h>

#include "leadscore/ls_config.h"

typedef struct ls_cfgp_s {
        yaml_document_t *doc;
        const char *name;     /* file name for messages */
        const char *base_dir; /* for relative paths, may be NULL */
        ls_config_t *conf;
        char *errstr;
        size_t errstr_size;
        unsigned char *expanded; /* per node of doc: its ${...} was expanded
                                  * (a YAML alias reaches a node again) */
} ls_cfgp_t;

#define LS_CFGP_FROM_SECRET 2 /* p->expanded: replaced from env / file */

/**
 * Sets p->errstr to "<file>:<line>: <key>: <fmt with a>" (a value from
 * ${env:} / ${file:} hidden) and @returns LS_ERR_INVALID.
 */
ls_err_t ls_cfgp_err(ls_cfgp_t *p, const yaml_node_t *node, const char *key,
                     const char *fmt, const char *a);

/** @returns the value of scalar @p node, NULL for another kind of node. */
const char *ls_cfgp_scalar(const yaml_node_t *node);

/**
 * Sets *@p dstp (freeing what it held) to the path of @p node, resolved
 * against p->base_dir when relative. @returns LS_OK or an error.
 */
ls_err_t ls_cfgp_path(ls_cfgp_t *p, const yaml_node_t *node, const char *key,
                      char **dstp);

/**
 * The first pass (ls_config_expand.c): replaces every ${env:NAME} and
 * ${file:PATH} scalar value under @p node, whose key path is @p path.
 */
ls_err_t ls_cfgp_expand(ls_cfgp_t *p, yaml_node_t *node, const char *path,
                        int depth);

/**
 * The second pass (ls_config_parse.c): reads every key of document root
 * @p root into p->conf, checking names, values and how they fit together.
 */
ls_err_t ls_cfgp_root(ls_cfgp_t *p, yaml_node_t *root);

#endif /* LS_CONFIG_INT_H */
