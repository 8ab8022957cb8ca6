/*
 * ls_match.c - model conditions (ls_cond_t): their parsing from the model
 * file (`ignore`, fit rules, `when` / `unless`), their evaluation on one
 * field value, and their cleanup.
 *
 * Matching never allocates and only reads the condition and the set's
 * lists, so a loaded model set can be matched from any number of threads.
 * All comparisons are ASCII case-insensitive; the loader stores values
 * and list items lowercased.
 */
#define _GNU_SOURCE /* FNM_CASEFOLD */

#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_model.h"
#include "model/ls_mload_int.h"
#include "model/ls_model_int.h"

void ls_cond_clear(ls_cond_t *cond) {
        size_t i;

        if (!cond)
                return;
        if (cond->op == LS_MATCH_REGEX)
                regfree(&cond->regex);
        for (i = 0; i < cond->n_values; i++)
                ls_free(cond->values ? cond->values[i] : NULL);
        ls_free(cond->values);
        ls_free(cond->cidrs);
        ls_free(cond->field);
        memset(cond, 0, sizeof(*cond));
        cond->list = -1;
}

int ls_list_contains(const ls_list_t *list, const char *key) {
        size_t lo = 0, hi = list->n_items;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcasecmp(key, list->items[mid]);

                if (c == 0)
                        return 1;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return 0;
}

/* Parses the whole of @p s as a finite number. */
static int ls_match_number(const char *s, double *out) {
        char *end;
        double d;

        if (!*s)
                return 0;
        d = strtod(s, &end);
        if (end == s || *end != '\0' || !isfinite(d))
                return 0;
        *out = d;
        return 1;
}

/*
 * Matches a lowercased pattern whose only wildcard is '*' against text,
 * ASCII case-insensitively: what fnmatch(FNM_CASEFOLD) does for such a
 * pattern, without its cost (it dominated scoring with URL rules). The
 * text is lowercased once; the pattern's literal segments must then be a
 * prefix (unless it starts with '*'), a suffix (unless it ends with '*'),
 * and appear in order in between: finding each segment at its leftmost
 * place is optimal, so no backtracking is needed.
 */
static int ls_match_glob_plain(const char *p, const char *text) {
        char buf[1024];
        size_t n = strlen(text), plen = strlen(p), i;
        const char *s = buf, *end, *seg_end, *hit;
        size_t seg;

        if (n >= sizeof(buf))
                return fnmatch(p, text, FNM_CASEFOLD) == 0;
        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)text[i];

                buf[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        buf[n] = '\0';
        end = buf + n;
        /* leading literal: a prefix */
        seg_end = strchr(p, '*');
        if (!seg_end)
                return plen == n && memcmp(p, buf, n) == 0;
        seg = (size_t)(seg_end - p);
        if (seg > n || memcmp(p, buf, seg) != 0)
                return 0;
        s += seg;
        p = seg_end;
        for (;;) {
                while (*p == '*')
                        p++;
                if (!*p)
                        return 1; /* trailing star takes the rest */
                seg_end = strchr(p, '*');
                if (!seg_end) {
                        /* trailing literal: a suffix, after what matched */
                        seg = strlen(p);
                        return (size_t)(end - s) >= seg &&
                               memcmp(end - seg, p, seg) == 0;
                }
                seg = (size_t)(seg_end - p);
                hit = memmem(s, (size_t)(end - s), p, seg);
                if (!hit)
                        return 0;
                s = hit + seg;
                p = seg_end;
        }
}

/* 1 when lowercased @p value contains one of the list's items. */
static int ls_match_contains_list(const ls_list_t *list, const char *value) {
        char buf[1024];
        size_t n = strlen(value), i;

        if (n >= sizeof(buf))
                n = sizeof(buf) - 1; /* a longer value: its first 1023 bytes */
        for (i = 0; i < n; i++)
                buf[i] = (char)tolower((unsigned char)value[i]);
        buf[n] = '\0';
        for (i = 0; i < list->n_items; i++)
                if (memmem(buf, n, list->items[i], strlen(list->items[i])))
                        return 1;
        return 0;
}

/*
 * Parses an IP address, or a range "addr/bits" when @p range (a bare
 * address is then a range of all its bits). IPv4-mapped IPv6 addresses
 * become IPv4. Host bits set in a range are an error.
 * @returns 0 and *out, or -1.
 */
static int ls_cidr_parse(const char *s, int range, ls_cidr_t *out) {
        char buf[64];
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        long bits = -1;
        unsigned i;

        if (n == 0 || n >= sizeof(buf) || (slash && !range))
                return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        memset(out, 0, sizeof(*out));
        if (inet_pton(AF_INET, buf, out->addr) == 1) {
                out->family = 4;
        } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
                static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                                   0, 0, 0, 0, 0xff, 0xff};

                out->family = 6;
                if (!memcmp(out->addr, mapped, 12) && !slash) {
                        memmove(out->addr, out->addr + 12, 4);
                        memset(out->addr + 4, 0, 12);
                        out->family = 4;
                }
        } else {
                return -1;
        }
        if (slash) {
                char *end;

                if (!isdigit((unsigned char)slash[1]))
                        return -1;
                bits = strtol(slash + 1, &end, 10);
                if (*end || bits < 0 || bits > (out->family == 4 ? 32 : 128))
                        return -1;
        } else {
                bits = out->family == 4 ? 32 : 128;
        }
        out->bits = (uint8_t)bits;
        for (i = (unsigned)bits; i < 128; i++)
                if (out->addr[i / 8] >> (7 - i % 8) & 1)
                        return -1; /* host bits set: a typo, not a range */
        return 0;
}

static int ls_cidr_contains(const ls_cidr_t *r, const ls_cidr_t *a) {
        unsigned full = r->bits / 8u, rest = r->bits % 8u;

        if (r->family != a->family || memcmp(r->addr, a->addr, full) != 0)
                return 0;
        return rest == 0 || ((r->addr[full] ^ a->addr[full]) &
                             (uint8_t)(0xff << (8 - rest))) == 0;
}

static int ls_match_cidrs(const ls_cidr_t *r, size_t n, const char *value) {
        ls_cidr_t a;
        size_t i;

        if (ls_cidr_parse(value, 0, &a) != 0)
                return 0;
        for (i = 0; i < n; i++)
                if (ls_cidr_contains(&r[i], &a))
                        return 1;
        return 0;
}

static int ls_match_value(const ls_modelset_t *ms, const ls_cond_t *cond,
                          const char *value) {
        const char *at;
        double d;
        size_t i;

        switch (cond->op) {
        case LS_MATCH_EQUALS:
                return !strcasecmp(value, cond->values[0]);
        case LS_MATCH_IN:
                for (i = 0; i < cond->n_values; i++)
                        if (!strcasecmp(value, cond->values[i]))
                                return 1;
                return 0;
        case LS_MATCH_PREFIX:
                return !strncasecmp(value, cond->values[0],
                                    strlen(cond->values[0]));
        case LS_MATCH_GLOB:
                if (cond->glob_plain)
                        return ls_match_glob_plain(cond->values[0], value);
                return fnmatch(cond->values[0], value, FNM_CASEFOLD) == 0;
        case LS_MATCH_REGEX:
                return regexec(&cond->regex, value, 0, NULL, 0) == 0;
        case LS_MATCH_RANGE:
                if (!ls_match_number(value, &d))
                        return 0;
                if (cond->has_min && d < cond->min)
                        return 0;
                if (cond->has_max && d > cond->max)
                        return 0;
                return 1;
        case LS_MATCH_IN_LIST:
                if (!ms || cond->list < 0 || (size_t)cond->list >= ms->n_lists)
                        return 0;
                at = strrchr(value, '@');
                return ls_list_contains(&ms->lists[cond->list],
                                        at ? at + 1 : value);
        case LS_MATCH_EXISTS:
                return *value != '\0';
        case LS_MATCH_CONTAINS_LIST:
                if (!ms || cond->list < 0 || (size_t)cond->list >= ms->n_lists)
                        return 0;
                return ls_match_contains_list(&ms->lists[cond->list], value);
        case LS_MATCH_CIDR:
                return ls_match_cidrs(cond->cidrs, cond->n_cidrs, value);
        case LS_MATCH_CIDR_LIST:
                if (!ms || cond->list < 0 || (size_t)cond->list >= ms->n_lists)
                        return 0;
                return ls_match_cidrs(ms->lists[cond->list].cidrs,
                                      ms->lists[cond->list].n_cidrs, value);
        }
        return 0;
}

int ls_cond_match(const ls_modelset_t *ms, const ls_cond_t *cond,
                  const char *value) {
        int r = value ? ls_match_value(ms, cond, value) : 0;

        return cond->negate ? !r : r;
}

/*
 * Parsing
 */

static const char *const ls_cond_ops[] = {
        "equals",  "in",     "prefix",        "glob", "regex",     "range",
        "in_list", "exists", "contains_list", "cidr", "cidr_list", NULL};

/*
 * Conditions
 */

static ls_err_t ls_mload_cond_values(ls_mload_t *ld, ls_cond_t *cond,
                                     size_t n) {
        if (!(cond->values = ls_calloc(n, sizeof(char *))))
                return ls_mload_nomem(ld);
        cond->n_values = n;
        return LS_OK;
}

static ls_err_t ls_mload_range(ls_mload_t *ld, const yaml_node_t *node,
                               ls_cond_t *cond) {
        static const char *const keys[] = {"min", "max", NULL};
        const char *k;
        ls_err_t err;
        int i;

        if ((err = ls_mload_check_map(ld, node, keys, NULL)))
                return err;
        for (i = 0; (k = keys[i]); i++) {
                yaml_node_t *v = ls_mload_get(ld, node, k);
                double d = 0;
                size_t mark;

                if (!v)
                        continue;
                mark = ls_mload_key(ld, k);
                err = ls_mload_number(ld, v, &d);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
                if (i == 0) {
                        cond->has_min = 1;
                        cond->min = d;
                } else {
                        cond->has_max = 1;
                        cond->max = d;
                }
        }
        if (!cond->has_min && !cond->has_max)
                return ls_mload_err(ld, node, "needs min and/or max");
        if (cond->has_min && cond->has_max && cond->min > cond->max)
                return ls_mload_err(ld, node, "min is greater than max");
        return LS_OK;
}

/* `cidr: [range, ...]` (or one range as a string). */
static ls_err_t ls_mload_cidrs(ls_mload_t *ld, const yaml_node_t *v,
                               ls_cond_t *cond) {
        size_t i, n = v->type == YAML_SEQUENCE_NODE ? ls_mload_seq_len(v) : 1;

        cond->op = LS_MATCH_CIDR;
        if (v->type != YAML_SEQUENCE_NODE && v->type != YAML_SCALAR_NODE)
                return ls_mload_err(ld, v, "expected a list of IP ranges");
        if (n == 0)
                return ls_mload_err(ld, v, "must not be empty");
        if (!(cond->cidrs = ls_calloc(n, sizeof(*cond->cidrs))))
                return ls_mload_nomem(ld);
        cond->n_cidrs = n;
        for (i = 0; i < n; i++) {
                const yaml_node_t *it = v->type == YAML_SEQUENCE_NODE
                                                ? ls_mload_seq_at(ld, v, i)
                                                : v;
                size_t mark = v->type == YAML_SEQUENCE_NODE
                                      ? ls_mload_idx(ld, i)
                                      : ld->plen;
                ls_err_t err = LS_OK;

                if (it->type != YAML_SCALAR_NODE ||
                    ls_cidr_parse(ls_mload_str(it), 1, &cond->cidrs[i]) != 0)
                        err = ls_mload_err(
                                ld, it,
                                "'%s' is not an IP range (e.g. 192.0.2.0/24, "
                                "2001:db8::/32)",
                                it->type == YAML_SCALAR_NODE ? ls_mload_str(it)
                                                             : "");
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        return LS_OK;
}

/* The ranges of list @p list, parsed once for every `cidr_list` naming
 * it; an item that is no range is an error at @p v. */
static ls_err_t ls_mload_list_cidrs(ls_mload_t *ld, const yaml_node_t *v,
                                    ls_list_t *list) {
        size_t i;

        if (list->cidrs || list->n_items == 0)
                return LS_OK;
        if (!(list->cidrs = ls_calloc(list->n_items, sizeof(*list->cidrs))))
                return ls_mload_nomem(ld);
        for (i = 0; i < list->n_items; i++) {
                if (ls_cidr_parse(list->items[i], 1, &list->cidrs[i]) != 0) {
                        ls_free(list->cidrs);
                        list->cidrs = NULL;
                        return ls_mload_err(ld, v,
                                            "list '%s' (%s): item '%s' is not "
                                            "an IP range",
                                            list->name, list->path,
                                            list->items[i]);
                }
        }
        list->n_cidrs = list->n_items;
        return LS_OK;
}

/** Parses the operator @p op with value @p v into @p cond (path names
 *  the operator key). */
static ls_err_t ls_mload_op(ls_mload_t *ld, const char *op,
                            const yaml_node_t *v, ls_cond_t *cond) {
        const char *s;
        ls_err_t err;
        size_t i;
        int b, rc;

        if (!strcmp(op, "in")) {
                cond->op = LS_MATCH_IN;
                return ls_mload_str_seq(ld, v, 0, &cond->values,
                                        &cond->n_values);
        }
        if (!strcmp(op, "range")) {
                cond->op = LS_MATCH_RANGE;
                return ls_mload_range(ld, v, cond);
        }
        if (!strcmp(op, "cidr"))
                return ls_mload_cidrs(ld, v, cond);
        if (!strcmp(op, "exists")) {
                if ((err = ls_mload_bool(ld, v, &b)))
                        return err;
                cond->op = LS_MATCH_EXISTS;
                if (!b) /* `exists: false` = absent or empty */
                        cond->negate = !cond->negate;
                return LS_OK;
        }
        if (v->type != YAML_SCALAR_NODE || ls_mload_is_null(v))
                return ls_mload_err(ld, v, "expected a string");
        s = ls_mload_str(v);
        if ((err = ls_mload_cond_values(ld, cond, 1)))
                return err;
        if (!strcmp(op, "regex")) {
                /* Kept as written: lowercasing would change escapes. */
                if (!(cond->values[0] = ls_strdup(s)))
                        return ls_mload_nomem(ld);
                rc = regcomp(&cond->regex, s,
                             REG_EXTENDED | REG_ICASE | REG_NOSUB);
                if (rc != 0) {
                        char msg[256];

                        regerror(rc, &cond->regex, msg, sizeof(msg));
                        regfree(&cond->regex);
                        return ls_mload_err(ld, v, "invalid regex '%s': %s", s,
                                            msg);
                }
                cond->op = LS_MATCH_REGEX;
                return LS_OK;
        }
        if (!(cond->values[0] = ls_mload_lower(s)))
                return ls_mload_nomem(ld);
        if (!strcmp(op, "equals")) {
                cond->op = LS_MATCH_EQUALS;
        } else if (!strcmp(op, "prefix")) {
                cond->op = LS_MATCH_PREFIX;
        } else if (!strcmp(op, "glob")) {
                cond->op = LS_MATCH_GLOB;
                cond->glob_plain = !strpbrk(cond->values[0], "?[\\");
        } else { /* in_list, contains_list, cidr_list */
                cond->op = !strcmp(op, "in_list") ? LS_MATCH_IN_LIST
                           : !strcmp(op, "contains_list")
                                   ? LS_MATCH_CONTAINS_LIST
                                   : LS_MATCH_CIDR_LIST;
                for (i = 0; i < ld->ms->n_lists; i++)
                        if (!strcmp(ld->ms->lists[i].name, s))
                                break;
                if (i == ld->ms->n_lists)
                        return ls_mload_err(ld, v,
                                            "unknown list '%s' (declare it "
                                            "under lists)",
                                            s);
                cond->list = (int)i;
                if (ld->used_lists)
                        ld->used_lists[i] = 1;
                if (cond->op == LS_MATCH_CIDR_LIST)
                        return ls_mload_list_cidrs(ld, v, &ld->ms->lists[i]);
        }
        return LS_OK;
}

/**
 * Parses the operator part of a condition mapping: exactly one operator
 * and an optional `not`. @p extra lists the other keys the mapping may
 * hold (field/attribute, id, points), which the caller reads.
 */
static ls_err_t ls_mload_cond_ops(ls_mload_t *ld, const yaml_node_t *map,
                                  const char *const *extra, ls_cond_t *cond) {
        static const char *const ops_not[] = {
                "equals",    "in",      "prefix", "glob",          "regex",
                "range",     "in_list", "exists", "contains_list", "cidr",
                "cidr_list", "not",     NULL};
        const yaml_node_pair_t *p;
        const char *found = NULL;
        yaml_node_t *v;
        ls_err_t err;
        size_t mark;

        if ((err = ls_mload_check_map(ld, map, ops_not, extra)))
                return err;
        for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = ls_mload_node(ld, p->key);
                const char *ks = ls_mload_str(k);

                if (!ls_mload_in(ks, ls_cond_ops))
                        continue;
                if (found) {
                        mark = ls_mload_key(ld, ks);
                        err = ls_mload_err(ld, k,
                                           "only one operator per condition "
                                           "(already has '%s')",
                                           found);
                        ls_mload_pop(ld, mark);
                        return err;
                }
                found = ks;
                v = ls_mload_node(ld, p->value);
                mark = ls_mload_key(ld, ks);
                err = ls_mload_op(ld, ks, v, cond);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        if (!found)
                return ls_mload_err(ld, map,
                                    "needs one operator (equals, in, prefix, "
                                    "glob, regex, range, in_list, exists, "
                                    "contains_list, cidr, cidr_list)");
        if ((v = ls_mload_get(ld, map, "not"))) {
                int b;

                mark = ls_mload_key(ld, "not");
                err = ls_mload_bool(ld, v, &b);
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
                if (b)
                        cond->negate = !cond->negate;
        }
        return LS_OK;
}

/** A condition with its field named by @p field_key (`field` in ignore,
 *  `attribute` in fit rules). */
ls_err_t ls_mload_cond(ls_mload_t *ld, const yaml_node_t *map,
                       const char *field_key, const char *const *extra,
                       ls_cond_t *cond) {
        yaml_node_t *v;
        const char *s;
        size_t mark;
        ls_err_t err;

        if ((err = ls_mload_cond_ops(ld, map, extra, cond)))
                return err;
        if ((err = ls_mload_required(ld, map, field_key, &v)))
                return err;
        mark = ls_mload_key(ld, field_key);
        err = ls_mload_string(ld, v, &s);
        ls_mload_pop(ld, mark);
        if (err)
                return err;
        if (!(cond->field = ls_strdup(s)))
                return ls_mload_nomem(ld);
        return LS_OK;
}

/** `when` / `unless`: field -> operator mapping, or a bare string for
 *  equals. */
ls_err_t ls_mload_when(ls_mload_t *ld, const yaml_node_t *node, ls_cond_t **out,
                       size_t *n_out) {
        const yaml_node_pair_t *p;
        size_t i = 0, n;
        ls_err_t err;

        if (node->type != YAML_MAPPING_NODE)
                return ls_mload_err(ld, node,
                                    "expected a mapping of field: condition");
        n = ls_mload_map_len(node);
        if (!(*out = ls_calloc(n, sizeof(ls_cond_t))))
                return ls_mload_nomem(ld);
        *n_out = n;
        for (i = 0; i < n; i++)
                (*out)[i].list = -1;
        for (i = 0, p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top; p++, i++) {
                yaml_node_t *k = ls_mload_node(ld, p->key);
                yaml_node_t *v = ls_mload_node(ld, p->value);
                ls_cond_t *cond = &(*out)[i];
                size_t mark;
                const yaml_node_pair_t *q;

                if (k->type != YAML_SCALAR_NODE || !*ls_mload_str(k))
                        return ls_mload_err(ld, k,
                                            "field names must be strings");
                mark = ls_mload_key(ld, ls_mload_str(k));
                for (q = node->data.mapping.pairs.start; q < p; q++) {
                        yaml_node_t *k2 = ls_mload_node(ld, q->key);

                        if (k2->type == YAML_SCALAR_NODE &&
                            !strcmp(ls_mload_str(k2), ls_mload_str(k))) {
                                err = ls_mload_err(ld, k, "duplicate key");
                                ls_mload_pop(ld, mark);
                                return err;
                        }
                }
                if (!(cond->field = ls_strdup(ls_mload_str(k)))) {
                        ls_mload_pop(ld, mark);
                        return ls_mload_nomem(ld);
                }
                if (v->type == YAML_SCALAR_NODE) {
                        if (ls_mload_is_null(v)) {
                                err = ls_mload_err(ld, v,
                                                   "expected a value or a "
                                                   "condition");
                        } else {
                                err = ls_mload_op(ld, "equals", v, cond);
                        }
                } else if (v->type == YAML_MAPPING_NODE) {
                        err = ls_mload_cond_ops(ld, v, NULL, cond);
                } else {
                        err = ls_mload_err(ld, v,
                                           "expected a value or a condition "
                                           "mapping");
                }
                ls_mload_pop(ld, mark);
                if (err)
                        return err;
        }
        return LS_OK;
}
