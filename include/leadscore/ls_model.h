/*
 * ls_model.h - scoring models: the in-memory form of a model file.
 *
 * A model file (YAML, see docs/MODEL.md) holds one model set: top-level
 * settings shared by all models (lateness, dedupe, named lists, ignore
 * filters) and one or more models. The loader validates everything up
 * front, so the engine never meets an invalid model. A loaded set is
 * immutable and may be shared read-only by any number of shards/threads.
 *
 * Indices, not pointers, link the parts (rule -> category, condition ->
 * list, qualification -> grade/band), so the structures are trivially
 * comparable and printable.
 */
#ifndef LS_MODEL_H
#define LS_MODEL_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_err.h"

#define LS_MODEL_VERSION_LEN 16 /* hex chars of the content hash */
/* Bytes of an id (model, rule, list, category, grade, band). */
#define LS_MODEL_ID_MAX 128

/**
 * An IP address range: family 4 or 6, `bits` leading bits of `addr`
 * (network byte order; IPv4 in the first 4 bytes). IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) are matched as IPv4.
 */
typedef struct ls_cidr_s {
        uint8_t family;
        uint8_t bits;
        uint8_t addr[16];
} ls_cidr_t;

/** A named list of lowercase strings (e.g. free-mail domains), sorted. */
typedef struct ls_list_s {
        char *name;   /* key under `lists:` */
        char *path;   /* resolved path of the file it was read from */
        char **items; /* sorted, lowercased, unique */
        size_t n_items;
        ls_cidr_t *cidrs; /* the items as ranges, when a `cidr_list`
                           * condition names the list (all must parse) */
        size_t n_cidrs;
} ls_list_t;

typedef enum ls_match_op_e {
        LS_MATCH_EQUALS = 1, /* values[0], case-insensitive */
        LS_MATCH_IN,         /* any of values[], case-insensitive */
        LS_MATCH_PREFIX,     /* starts with values[0], case-insensitive */
        LS_MATCH_GLOB,       /* fnmatch(values[0]) with FNM_CASEFOLD */
        LS_MATCH_REGEX,      /* POSIX extended regex, case-insensitive */
        LS_MATCH_RANGE,      /* value parses as a number in [min, max] */
        LS_MATCH_IN_LIST,    /* value (or its e-mail domain) in lists[list] */
        LS_MATCH_EXISTS,     /* field is present and non-empty */
        LS_MATCH_CONTAINS_LIST, /* value contains an item of lists[list] */
        LS_MATCH_CIDR,          /* value is an IP address in cidrs[] */
        LS_MATCH_CIDR_LIST,     /* value is an IP address in a range of
                                 * lists[list] (list cidrs[]) */
} ls_match_op_t;

/**
 * One test on one field. A field that is absent never matches (except
 * that `negate` turns the result around, absent included).
 */
typedef struct ls_cond_s {
        char *field; /* property / attribute name; for events also
                              * "event_type" and "product" */
        ls_match_op_t op;
        int negate;    /* `not: true` */
        char **values; /* lowercased (REGEX: as written); 1 for
                              * EQUALS/PREFIX/GLOB/REGEX/IN_LIST (list name),
                              * 0 for RANGE/EXISTS */
        size_t n_values;
        regex_t regex;   /* valid when op == LS_MATCH_REGEX */
        double min, max; /* RANGE bounds, inclusive */
        int has_min, has_max;
        int list;         /* IN_LIST: index into ls_modelset_t.lists */
        int glob_plain;   /* GLOB: the pattern's only special character
                              * is '*' (matched without fnmatch) */
        ls_cidr_t *cidrs; /* CIDR: the ranges */
        size_t n_cidrs;
} ls_cond_t;

/**
 * A cap: at most max_points points and/or max_count occurrences within a
 * tumbling window of per_ms milliseconds aligned to the Unix epoch
 * (window = floor(time / per_ms)); per_ms == 0 means "for ever".
 * Zero max_points / max_count means that bound is not set.
 */
typedef struct ls_cap_s {
        int set; /* a cap is configured */
        int32_t max_points;
        uint32_t max_count;
        int64_t per_ms;
        uint32_t slot; /* index of its counter in the lead's state */
} ls_cap_t;

/** Fit rule: one condition on one profile attribute, signed points. */
typedef struct ls_fit_rule_s {
        char *id;
        ls_cond_t cond;
        int32_t points;
} ls_fit_rule_t;

/** Engagement rule: an event type plus conditions, signed points. */
typedef struct ls_rule_s {
        char *id;
        char *event_type;  /* exact (case-insensitive) event type */
        uint32_t type_idx; /* index into ls_modelset_t.event_types */
        ls_cond_t *when;   /* all must match */
        size_t n_when;
        ls_cond_t *unless; /* none may match */
        size_t n_unless;
        int32_t points;
        int category; /* index into ls_model_t.categories, -1 none */
        ls_cap_t cap; /* per-rule cap */
} ls_rule_t;

typedef struct ls_category_s {
        char *name;
        ls_cap_t cap;
} ls_category_t;

typedef enum ls_decay_kind_e {
        LS_DECAY_NONE = 0,
        LS_DECAY_STEPS,     /* each step's points applied once when the
                             * inactivity reaches after_ms */
        LS_DECAY_HALF_LIFE, /* engagement * 0.5^(elapsed / half_life),
                             * elapsed counted in whole ticks */
} ls_decay_kind_t;

typedef struct ls_decay_step_s {
        int64_t after_ms; /* strictly increasing across steps */
        int32_t points;   /* <= 0 */
} ls_decay_step_t;

typedef struct ls_decay_s {
        ls_decay_kind_t kind;
        ls_decay_step_t *steps;
        size_t n_steps;
        int64_t half_life_ms;
        int64_t tick_ms; /* half-life granularity, default 1 day */
        double *factors; /* half-life: 0.5^(n * tick / half_life) for
                             * n < n_factors, so scoring needs no pow() */
        uint32_t n_factors;
} ls_decay_t;

/** A grade (fit) or a band (engagement): a name and a lower bound. */
typedef struct ls_level_s {
        char *name;
        int has_min; /* the catch-all level has none */
        int32_t min;
} ls_level_t;

/**
 * A qualification: every part that is set must hold.
 * min_grade: grade index (0 = best); the lead's grade index must be <= it.
 * min_band:  band index (0 = coldest); the lead's band index must be >= it.
 */
typedef struct ls_qualify_s {
        int has_min_total;
        int32_t min_total;
        int min_grade; /* -1 if not set */
        int min_band;  /* -1 if not set */
} ls_qualify_t;

typedef struct ls_mql_s {
        int enabled;
        ls_qualify_t enter; /* becomes MQL when this holds */
        ls_qualify_t stay;  /* stays MQL while this holds (hysteresis);
                              * defaults to enter */
} ls_mql_t;

typedef struct ls_hot_s {
        int enabled;
        int32_t points; /* >= points within within_ms ... (0 = off) */
        int64_t within_ms;
        char **events; /* ... or any of these event types */
        size_t n_events;
        int64_t rearm_ms; /* no second alert until this has passed */
        uint32_t track;   /* recent scoring events remembered for the
                              * window sum (default 16) */
} ls_hot_t;

/*
 * Alerts (docs/MODEL.md `alert_attributes`, docs/SEMANTICS.md "Alerts"):
 * the bounds of what an alert carries and what a lead's state keeps for
 * it.
 */
#define LS_ALERT_MAX_ATTRS 8      /* alert_attributes per model */
#define LS_ALERT_SET_MAX_ATTRS 16 /* distinct names across the set */
#define LS_ALERT_ATTR_BYTES                                                    \
        64                     /* kept per value, NUL included: a longer
                                   * value is cut to 63 bytes at a UTF-8
                                   * character boundary */
#define LS_ALERT_TOP 5         /* contributions an alert lists */
#define LS_ALERT_HOT_EVENTS 16 /* hot-lead window events it lists */
#define LS_HOT_ID_BYTES                                                        \
        40 /* event id kept per hot-ring slot (a
                                   * longer one is cut) */

typedef enum ls_model_kind_e {
        LS_MODEL_POINTS = 0, /* rules add points (the default) */
        LS_MODEL_LOGISTIC,   /* fitted coefficients over the rules'
                              * features give a probability */
} ls_model_kind_t;

#define LS_LOGIT_MAX_BUCKETS 64
#define LS_LOGIT_MAX_WINDOW_MS (3650LL * 86400000) /* ten years */

/**
 * A logistic model's coefficients (docs/MODEL.md "Logistic models",
 * docs/SEMANTICS.md): features are each fit rule's match (0/1), each
 * engagement rule's log1p(occurrences within the window), and the window's
 * freshness in days. Occurrences are counted in `buckets` tumbling time
 * buckets of bucket_ms aligned to the Unix epoch: the window at time t is
 * t's bucket and the buckets - 1 before it.
 */
typedef struct ls_logit_s {
        double intercept;
        double fit_offset; /* log-odds added to the fit score's (the
                            * engagement the profile-only chance assumes) */
        double *w_fit;     /* per fit rule */
        double *w_rule;    /* per engagement rule */
        double w_fresh;    /* per day of freshness */
        int64_t window_ms; /* buckets * bucket_ms */
        int64_t bucket_ms;
        uint32_t buckets; /* 1 .. LS_LOGIT_MAX_BUCKETS */
} ls_logit_t;

#define LS_LOGIT_FRESHNESS "freshness_days" /* the time feature's name */
#define LS_LOGIT_INTERCEPT "intercept"

typedef struct ls_model_s {
        char *id; /* [A-Za-z0-9_.-]+ */
        ls_model_kind_t kind;
        ls_logit_t logit;                       /* LS_MODEL_LOGISTIC only */
        char version[LS_MODEL_VERSION_LEN + 1]; /* content hash, hex */
        char **products; /* events whose product is listed (or that have
                            * no product); empty = every event */
        size_t n_products;

        ls_fit_rule_t *fit_rules;
        size_t n_fit_rules; /* at most 64 */
        int has_fit_min, has_fit_max;
        int32_t fit_min, fit_max;

        ls_rule_t *rules;
        size_t n_rules;
        ls_category_t *categories;
        size_t n_categories;
        int has_engagement_max;
        int32_t engagement_max;   /* cap on the engagement total */
        int32_t engagement_floor; /* default 0 */
        ls_decay_t decay;

        ls_level_t *grades; /* best first; last has no min */
        size_t n_grades;
        ls_level_t *bands; /* coldest first; first has no min */
        size_t n_bands;

        ls_mql_t mql;
        ls_hot_t hot;
        char **alert_attributes;   /* profile attributes alerts copy in */
        size_t n_alert_attributes; /* at most LS_ALERT_MAX_ATTRS */
        uint32_t *alert_attr_idx;  /* each one's index in ms->alert_attrs */

        uint32_t n_cap_slots; /* capped rules + capped categories */
} ls_model_t;

typedef enum ls_suppress_kind_e {
        LS_SUPPRESS_BURST = 1, /* count or more events of `events` for one
                                * lead within `within_ms` */
        LS_SUPPRESS_UNOPENED,  /* an `event` whose message has no earlier
                                * `needs` event for the lead */
        LS_SUPPRESS_MATCH,     /* the event matches every `when` condition */
} ls_suppress_kind_t;

#define LS_SUPPRESS_MAX_RULES 16
#define LS_SUPPRESS_MAX_COUNT 16    /* burst count */
#define LS_SUPPRESS_MAX_REMEMBER 64 /* unopened message ids per lead */

/**
 * A suppression rule of the set (docs/MODEL.md, `suppress`). A suppressed
 * event scores nothing; a burst also takes back the points of its earlier
 * events (docs/SEMANTICS.md).
 */
typedef struct ls_suppress_s {
        char *id;
        ls_suppress_kind_t kind;
        char **events; /* BURST: the event types counted (lowercased);
                        * UNOPENED: the types that open a message (needs) */
        size_t n_events;
        uint32_t count;      /* BURST: 2 .. LS_SUPPRESS_MAX_COUNT */
        int64_t within_ms;   /* BURST */
        char *event;         /* UNOPENED: the event type judged */
        char *message_field; /* UNOPENED: the property naming the message */
        uint32_t remember;   /* UNOPENED: message ids kept per lead */
        ls_cond_t *when;     /* MATCH: all must match */
        size_t n_when;
} ls_suppress_t;

typedef struct ls_modelset_s {
        char *path; /* file it was loaded from, or a label */
        char version[LS_MODEL_VERSION_LEN + 1]; /* hash of the whole set */
        int64_t lateness_ms;                    /* default 1 hour */
        int64_t max_future_ms;                  /* default 1 hour */
        uint32_t dedupe; /* event ids remembered per lead, default 8 */
        int64_t backfill_after_ms; /* an alert whose time is older than
                                    * this against its input record's
                                    * timestamp is marked backfill; 0 off */
        char **alert_attrs; /* distinct alert_attributes of all models, in
                             * first-use order (a lead keeps their latest
                             * values) */
        size_t n_alert_attrs;
        ls_cond_t *ignore; /* an event matching any is dropped (bots) */
        size_t n_ignore;
        ls_suppress_t *suppress; /* behavioural suppression, in file order */
        size_t n_suppress;
        ls_list_t *lists;
        size_t n_lists;
        char **event_types; /* sorted, lowercased, distinct rule types */
        size_t n_event_types;
        ls_model_t *models;
        size_t n_models;
        ls_buf_t source; /* ls_modelset_source() */
} ls_modelset_t;

/**
 * Loads and validates a model file; lists are read relative to the
 * file's directory.
 * @returns LS_OK and *msp, or an error with errstr naming file, line and
 *          key; *msp is untouched on error.
 */
ls_err_t ls_modelset_load(const char *path, ls_modelset_t **msp, char *errstr,
                          size_t errstr_size);

/**
 * As ls_modelset_load() but from memory. @p name labels error messages,
 * @p base_dir resolves list files (NULL = current directory).
 */
ls_err_t ls_modelset_load_string(const char *yaml, size_t len, const char *name,
                                 const char *base_dir, ls_modelset_t **msp,
                                 char *errstr, size_t errstr_size);

/**
 * The set's source: its YAML text and the bytes of each list file, in one
 * buffer that ls_modelset_load_source() reads back into an equal set (same
 * version). Snapshots carry it, so that state taken under one set can be
 * migrated to another after a restart (ls_shard_migrate()).
 */
const ls_buf_t *ls_modelset_source(const ls_modelset_t *ms);

/**
 * Loads a set from ls_modelset_source() bytes; lists come from them, not
 * from files. @p name labels messages.
 * @returns LS_OK and *msp, or LS_ERR_INVALID (malformed source, or a
 *          model the loader rejects) / LS_ERR_NOMEM with errstr.
 */
ls_err_t ls_modelset_load_source(const void *data, size_t len, const char *name,
                                 ls_modelset_t **msp, char *errstr,
                                 size_t errstr_size);

void ls_modelset_destroy(ls_modelset_t *ms);

/** @returns the model with id @p id, or NULL. */
const ls_model_t *ls_modelset_find(const ls_modelset_t *ms, const char *id);

/**
 * @returns the index of @p event_type (case-insensitive) in
 *          ms->event_types, or -1 when no rule scores it.
 */
int ls_modelset_event_type(const ls_modelset_t *ms, const char *event_type);

/** @returns 1 if @p model scores events of @p product (may be NULL). */
int ls_model_wants_product(const ls_model_t *model, const char *product);

/**
 * Evaluates @p cond against @p value (NULL = field absent).
 * @returns 1 on match, 0 otherwise. Thread-safe.
 */
int ls_cond_match(const ls_modelset_t *ms, const ls_cond_t *cond,
                  const char *value);

/**
 * What a logistic copy of a model has instead of its points: the
 * coefficients (logit.w_fit / w_rule in the model's rule order), the
 * window as written (`window`, e.g. "90d") with logit.buckets, the
 * grades' and bands' minimums (index i for level i; the catch-all level's
 * entry unused), and the MQL threshold on the total if any.
 */
typedef struct ls_logistic_spec_s {
        ls_logit_t logit;
        const char *window;
        const int32_t *grade_min; /* [n_grades] */
        const int32_t *band_min;  /* [n_bands] */
        int has_mql;
        int32_t mql_min_total;
} ls_logistic_spec_t;

/**
 * Writes to @p fp a model file holding the set's settings (lists by
 * absolute path) and a logistic copy of model @p model_idx: the same id,
 * products, rules (without points, caps, categories), alert attributes,
 * and @p spec's coefficients, grades, bands and MQL; no decay, no hot
 * alerts. It loads with ls_modelset_load() (docs/CALIBRATE.md).
 * @returns LS_OK, or LS_ERR_INVALID / LS_ERR_IO with errstr.
 */
ls_err_t ls_modelset_write_logistic(const ls_modelset_t *ms, size_t model_idx,
                                    const ls_logistic_spec_t *spec, FILE *fp,
                                    char *errstr, size_t errstr_size);

/** @returns the index of the grade of @p fit (best first: the first
 *  whose min it reaches, else the catch-all). */
static inline int ls_model_grade_of(const ls_model_t *m, int32_t fit) {
        size_t i;

        /** @returns the index of the band of @p engagement (coldest first: the
 *  last whose min it reaches, else the first). */
        for (i = 0; i < m->n_grades; i++)
                if (!m->grades[i].has_min || fit >= m->grades[i].min)
                        return (int)i;
        return (int)m->n_grades - 1;
}

static inline int ls_model_band_of(const ls_model_t *m, int32_t engagement) {
        size_t i;

        for (i = m->n_bands; i-- > 0;)
                if (!m->bands[i].has_min || engagement >= m->bands[i].min)
                        return (int)i;
        return 0;
}

/** Writes a human readable summary of the set (for `leadscore check`). */
void ls_modelset_print_summary(const ls_modelset_t *ms, FILE *fp);

/**
 * Parses a duration ("500ms", "30s", "15m", "24h", "7d", "2w"; a bare
 * integer is milliseconds). @returns LS_OK or LS_ERR_INVALID.
 */
ls_err_t ls_duration_parse(const char *s, int64_t *msp);

#endif /* LS_MODEL_H */
