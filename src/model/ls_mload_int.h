/*
 * ls_mload_int.h - the model loader's YAML reading toolkit, shared by the
 * files of src/model: the loader state (document, key path, error buffer),
 * node helpers, typed scalar parsers that report "<file>:<line>: <key
 * path>: <message>", list files, and condition parsing. Internal.
 *
 * Conventions: functions taking a node parse it with the key path already
 * naming it; functions taking (map, key) push the key themselves. All
 * return LS_OK or an error with errstr set; nothing is left allocated on
 * the loader state itself, what they fill is freed with the model set.
 */
#ifndef LS_MLOAD_INT_H
#define LS_MLOAD_INT_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_model.h"

#define LS_MLOAD_PATH_MAX 512
#define LS_MODEL_FILE_MAX (64u << 20) /* model and list files, bytes */

/** Loader state: the document being read and the key path of the node
 *  at hand (for error messages). */
typedef struct ls_mload_s {
        yaml_document_t *doc;
        const char *name;     /* file name used in messages */
        const char *base_dir; /* lists are resolved against it */
        const char *text;     /* the whole file */
        size_t len;
        char *errstr;
        size_t errstr_size;
        char path[LS_MLOAD_PATH_MAX];
        size_t plen;
        ls_modelset_t *ms;
        ls_buf_t *list_raw;          /* raw bytes of each list file */
        const struct ls_msrc_s *src; /* lists from a source, not files */
        size_t n_raw;
        unsigned char *ignore_lists; /* lists referenced by `ignore` and
                                      * `suppress` (set-wide) */
        unsigned char *model_lists;  /* lists referenced by the model */
        unsigned char *used_lists;   /* where in_list records its list */
} ls_mload_t;

/* Key path and errors */
size_t ls_mload_push(ls_mload_t *ld, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
size_t ls_mload_key(ls_mload_t *ld, const char *key);
size_t ls_mload_idx(ls_mload_t *ld, size_t i);
void ls_mload_pop(ls_mload_t *ld, size_t mark);
ls_err_t ls_mload_err(ls_mload_t *ld, const yaml_node_t *node, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));
ls_err_t ls_mload_key_err(ls_mload_t *ld, const yaml_node_t *node,
                          const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
ls_err_t ls_mload_ioerr(ls_mload_t *ld, const yaml_node_t *node,
                        const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
ls_err_t ls_mload_nomem(ls_mload_t *ld);

/* Node helpers and scalar parsers */
yaml_node_t *ls_mload_node(ls_mload_t *ld, int id);
const char *ls_mload_str(const yaml_node_t *node);
int ls_mload_is_null(const yaml_node_t *node);
size_t ls_mload_seq_len(const yaml_node_t *node);
yaml_node_t *ls_mload_seq_at(ls_mload_t *ld, const yaml_node_t *node, size_t i);
size_t ls_mload_map_len(const yaml_node_t *node);
yaml_node_t *ls_mload_get(ls_mload_t *ld, const yaml_node_t *map,
                          const char *key);
int ls_mload_in(const char *s, const char *const *set);
ls_err_t ls_mload_check_map(ls_mload_t *ld, const yaml_node_t *node,
                            const char *const *allowed,
                            const char *const *allowed2);
ls_err_t ls_mload_int(ls_mload_t *ld, const yaml_node_t *node, long long lo,
                      long long hi, long long *out);
ls_err_t ls_mload_int32(ls_mload_t *ld, const yaml_node_t *node, int32_t *out);
/* A finite number (a YAML integer or float). */
ls_err_t ls_mload_number(ls_mload_t *ld, const yaml_node_t *node, double *out);
ls_err_t ls_mload_duration(ls_mload_t *ld, const yaml_node_t *node,
                           int64_t *out);
ls_err_t ls_mload_bool(ls_mload_t *ld, const yaml_node_t *node, int *out);
ls_err_t ls_mload_string(ls_mload_t *ld, const yaml_node_t *node,
                         const char **out);
int ls_mload_valid_id(const char *s);
ls_err_t ls_mload_id(ls_mload_t *ld, const yaml_node_t *node, const char **out);
char *ls_mload_lower(const char *s);
ls_err_t ls_mload_opt_int(ls_mload_t *ld, const yaml_node_t *map,
                          const char *key, long long lo, long long hi, int *has,
                          long long *out);
ls_err_t ls_mload_opt_int32(ls_mload_t *ld, const yaml_node_t *map,
                            const char *key, int *has, int32_t *out);
ls_err_t ls_mload_opt_duration(ls_mload_t *ld, const yaml_node_t *map,
                               const char *key, int *has, int64_t *out);
ls_err_t ls_mload_required(ls_mload_t *ld, const yaml_node_t *map,
                           const char *key, yaml_node_t **out);
ls_err_t ls_mload_req_id(ls_mload_t *ld, const yaml_node_t *map,
                         const char *key, char **out, yaml_node_t **nodep);
ls_err_t ls_mload_str_seq(ls_mload_t *ld, const yaml_node_t *node,
                          int allow_empty, char ***out, size_t *n_out);

/* List files */
int ls_mload_strcmp(const void *a, const void *b);
ls_err_t ls_mload_read_file(const char *path, ls_buf_t *buf, int *errnop);
ls_err_t ls_mload_lists(ls_mload_t *ld, const yaml_node_t *node);

/** A parsed ls_modelset_source(): the YAML and the lists by name. */
typedef struct ls_msrc_s {
        const char *text;
        size_t len;
        size_t n_lists;
        const char **names; /* not NUL-terminated: name_lens */
        size_t *name_lens;
        const char **raws;
        size_t *raw_lens;
} ls_msrc_t;

/* Conditions (ls_match.c) */
ls_err_t ls_mload_cond(ls_mload_t *ld, const yaml_node_t *map,
                       const char *field_key, const char *const *extra,
                       ls_cond_t *cond);
ls_err_t ls_mload_when(ls_mload_t *ld, const yaml_node_t *node, ls_cond_t **out,
                       size_t *n_out);

/* The set's `suppress` section (ls_mload_suppress.c), the key path
 * naming it; lists it uses are flagged in ld->used_lists. */
ls_err_t ls_mload_suppress(ls_mload_t *ld, const yaml_node_t *node);

/* One model (ls_mload_model.c): reads and validates model @p node into
 * zeroed @p m, the key path naming the model. */
ls_err_t ls_mload_model(ls_mload_t *ld, const yaml_node_t *node, ls_model_t *m);

/* Versions (ls_model_version.c): model @p m's from its node @p model_node
 * and the set-wide keys of @p root (lists it uses flagged in
 * ld->model_lists); the set's from the whole file and every list. */
ls_err_t ls_mload_model_version(ls_mload_t *ld, ls_model_t *m,
                                const yaml_node_t *root,
                                const yaml_node_t *model_node);
ls_err_t ls_mload_set_version(ls_mload_t *ld);

#endif /* LS_MLOAD_INT_H */
