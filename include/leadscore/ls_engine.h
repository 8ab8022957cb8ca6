/*
 * ls_engine.h - the pure scoring engine.
 *
 * A shard owns the state of the leads of one input partition: a lead
 * table, the stream time (largest input time seen) and the decay timers.
 * ls_shard_apply() feeds one input and appends the resulting outputs to
 * an output buffer. The engine touches no clock, file, socket or global:
 * the same inputs with the same model set always give byte-identical
 * outputs, in live runs, replays and benchmarks alike.
 *
 * Threading: a shard is used by one thread at a time. The model set is
 * shared read-only and must outlive the shard.
 */
#ifndef LS_ENGINE_H
#define LS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_buf.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_model.h"

typedef struct ls_kv_s {
        const char *key;
        const char *value;
} ls_kv_t;

/** The latest time an input may have, 9999-12-31T23:59:59.999Z (ms since
 *  the epoch): later ones are invalid, in every format and the engine. */
#define LS_TIME_MAX INT64_C(253402300799999)

/** The longest lead id, in bytes, that every input format accepts. */
#define LS_LEAD_ID_MAX 256

typedef enum ls_input_kind_e {
        LS_INPUT_EVENT = 1,
        LS_INPUT_PROFILE = 2,
        LS_INPUT_TICK = 3, /* a clock tick of the log: no lead, only a
                            * time that stream time moves to
                            * (ls_shard_advance); the scorer applies it,
                            * ls_shard_apply() refuses it */
} ls_input_kind_t;

/**
 * One input. All pointers are borrowed for the duration of the call.
 * Events: lead_id, event_type and time are required; event_id is needed
 * for duplicate suppression (events without one are never deduplicated);
 * product is optional. Profiles: lead_id and time (updated_at) required;
 * fields are the attributes the update sets (an empty value clears one).
 */
typedef struct ls_input_s {
        ls_input_kind_t kind;
        const char *lead_id;
        const char *event_id;
        const char *event_type;
        const char *product;
        int64_t time;          /* occurred_at / updated_at, ms since epoch */
        int64_t record_time;   /* the Kafka record's timestamp, ms; <= 0:
                                * none (files), max_future not checked */
        const ls_kv_t *fields; /* event properties or profile attributes */
        size_t n_fields;
} ls_input_t;

/**
 * Copies @p in and every string it points to into one block, so that the
 * copy outlives the decoder's buffers. @returns it (release it with
 * ls_free()), or NULL when memory is short.
 */
ls_input_t *ls_input_dup(const ls_input_t *in);

typedef enum ls_output_kind_e {
        LS_OUT_SCORE_UPDATE = 1,
        LS_OUT_ALERT = 2,
} ls_output_kind_t;

typedef enum ls_alert_kind_e {
        LS_ALERT_NONE = 0,
        LS_ALERT_MQL,
        LS_ALERT_MQL_LOST,
        LS_ALERT_HOT_LEAD,
} ls_alert_kind_t;

typedef enum ls_cause_e {
        LS_CAUSE_EVENT = 1,  /* an event (cause_id = its event id) */
        LS_CAUSE_PROFILE,    /* a profile update */
        LS_CAUSE_DECAY,      /* a decay timer */
        LS_CAUSE_SUPPRESSED, /* a burst took back the points of its earlier
                              * events (cause_id = the event id that
                              * completed the burst) */
} ls_cause_t;

typedef enum ls_reason_kind_e {
        LS_REASON_RULE = 1,   /* engagement rule fired */
        LS_REASON_FIT,        /* fit rule started (+) or stopped (-) matching */
        LS_REASON_DECAY,      /* decay took points */
        LS_REASON_SUPPRESSED, /* a suppression rule (rule_id) took back the
                               * points of suppressed events */
} ls_reason_kind_t;

/**
 * Why a score moved. For rules, `points` is what was awarded and
 * `capped` what a cap withheld (points + capped = the rule's points).
 */
typedef struct ls_reason_s {
        ls_reason_kind_t kind;
        const char *rule_id; /* rule or fit rule id; "decay" for decay */
        int32_t points;
        int32_t capped;
} ls_reason_t;

/**
 * One entry of what an alert carries (docs/SEMANTICS.md "Alerts"): a
 * contribution (name = rule id, points accumulated over the lead's
 * history), a hot-lead window event (name = event type, "" unknown;
 * points, time, text = its event id) or a profile attribute (name =
 * attribute name, text = its value). Names are owned by the model set.
 */
typedef struct ls_alert_item_s {
        const char *name;
        int32_t points;
        int64_t time;
        uint32_t text_off, text_len; /* into ls_outbuf_t.text */
} ls_alert_item_t;

/**
 * One feature of a logistic model's output (docs/SEMANTICS.md "Logistic
 * models"): its value and what it adds to the log-odds (coefficient x
 * value). The intercept is listed as a feature of value 1. Names are
 * owned by the model set.
 */
typedef struct ls_feature_s {
        const char *name;
        double value;
        double contribution;
} ls_feature_t;

/** One output: a score update or an alert. */
typedef struct ls_output_s {
        ls_output_kind_t kind;
        ls_alert_kind_t alert; /* LS_ALERT_NONE for score updates */
        const char *lead_id;   /* valid while the shard lives */
        const ls_model_t *model;
        uint64_t seq; /* per lead and model, from 1 */
        int64_t time; /* event time the output is as of */
        ls_cause_t cause;
        const char *cause_id; /* event id (may be NULL) */
        int32_t total, fit, engagement;
        int32_t prev_total;
        int grade, band;      /* indices into model->grades / bands */
        char cell[24];        /* grade name + band number, "A1".."D4" */
        int mql;              /* lead is MQL after this output */
        uint32_t reasons_off; /* into ls_outbuf_t.reasons */
        uint32_t n_reasons;
        /* Alerts only (0 for score updates). */
        uint64_t fit_bits;     /* the fit rules matching (bit i: rule i) */
        int64_t record_time;   /* timestamp of the record of the input that
                              * was applied; 0: none */
        int backfill;          /* record_time - time > backfill_after */
        const char *hot_event; /* hot_lead fired by this listed event
                                * type; NULL: by points within the window */
        int32_t hot_sum;       /* hot_lead: points within the window */
        uint32_t hot_more;     /* window events not listed */
        uint32_t items_off;    /* into ls_outbuf_t.items: n_top
                                * contributions, n_hot window events,
                                * n_attrs attributes, in that order */
        uint32_t n_top, n_hot, n_attrs;
        /* Logistic models only (model->kind == LS_MODEL_LOGISTIC). */
        double probability;    /* of conversion; total = round(100 x it) */
        uint32_t features_off; /* into ls_outbuf_t.features: the intercept,
                                * then each feature whose value is not 0 */
        uint32_t n_features;
} ls_output_t;

/**
 * Output buffer: outputs appended by the engine, reasons in a side
 * array. The caller reads and then ls_outbuf_reset()s it.
 */
typedef struct ls_outbuf_s {
        ls_output_t *outs;
        size_t n_outs, size_outs;
        ls_reason_t *reasons;
        size_t n_reasons, size_reasons;
        ls_alert_item_t *items; /* what alerts carry */
        size_t n_items, size_items;
        char *text; /* event ids and attribute values of items */
        size_t n_text, size_text;
        ls_feature_t *features; /* what logistic models' outputs carry */
        size_t n_features, size_features;
} ls_outbuf_t;

void ls_outbuf_init(ls_outbuf_t *ob);
void ls_outbuf_reset(ls_outbuf_t *ob);
void ls_outbuf_free(ls_outbuf_t *ob);

static inline const ls_reason_t *ls_output_reasons(const ls_outbuf_t *ob,
                                                   const ls_output_t *o) {
        return ob->reasons + o->reasons_off;
}

static inline const ls_feature_t *ls_output_features(const ls_outbuf_t *ob,
                                                     const ls_output_t *o) {
        return ob->features + o->features_off;
}

static inline const ls_alert_item_t *ls_output_items(const ls_outbuf_t *ob,
                                                     const ls_output_t *o) {
        return ob->items + o->items_off;
}

/** @returns the text of @p it (an event id or a value; may be ""). */
static inline const char *ls_alert_item_text(const ls_outbuf_t *ob,
                                             const ls_alert_item_t *it) {
        return it->text_len ? ob->text + it->text_off : "";
}

/**
 * 1 when (@p total, @p grade, @p band) meets every part of @p q that is
 * set (the MQL enter / stay test). Inline: the engine runs it for every
 * output, and the encoders report it in alerts.
 */
static inline int ls_qualify_holds(const ls_qualify_t *q, int32_t total,
                                   int grade, int band) {
        if (q->has_min_total && total < q->min_total)
                return 0;
        if (q->min_grade >= 0 && grade > q->min_grade)
                return 0;
        if (q->min_band >= 0 && band < q->min_band)
                return 0;
        return 1;
}

/** The longest output id of a lead id of at most LS_LEAD_ID_MAX bytes:
 *  the lead, the model (LS_MODEL_ID_MAX), a 20-digit sequence, the
 *  longest alert kind ("mql_lost") and three slashes. */
#define LS_OUTPUT_ID_MAX (LS_LEAD_ID_MAX + LS_MODEL_ID_MAX + 20 + 8 + 3)

/**
 * Writes the deterministic output id "<lead_id>/<model_id>/<seq>" (plus
 * "/<alert>" for alerts) into buf, as snprintf would: at most size - 1
 * bytes and a NUL when size > 0 (buf may be NULL when size is 0).
 * @returns the id's whole length, or -1 past INT_MAX.
 */
int ls_output_id(const ls_output_t *o, char *buf, size_t size);

/** @returns "score_update" or "alert". */
const char *ls_output_kind2str(ls_output_kind_t kind);
/** @returns "mql", "mql_lost", "hot_lead" or "none". */
const char *ls_alert_kind2str(ls_alert_kind_t kind);
/** @returns "rule", "fit", "decay" or "suppressed" (a reason's kind). */
const char *ls_reason_kind2str(ls_reason_kind_t kind);
/** @returns "event", "profile", "decay" or "suppressed". */
const char *ls_cause2str(ls_cause_t cause);

typedef struct ls_shard_s ls_shard_t;

/**
 * Caps the leads @p shard creates at @p max (0: no cap): an input that
 * would create a lead while the shard holds @p max or more is refused
 * with LS_ERR_CAPACITY and changes nothing. Leads held are never
 * dropped (a restored shard may hold more than the cap), so no state is
 * lost and no output id is reused; and whether an input is refused
 * depends on the shard's own inputs alone, so a replay of the same
 * inputs under the same cap refuses the same ones.
 */
void ls_shard_set_max_leads(ls_shard_t *shard, size_t max);

/**
 * What a shard tells an observer, under every model, whether or not a
 * score moves (`leadscore calibrate` counts a model's features from it,
 * exactly as a logistic model counts them, ls_logit.h):
 *   match  every engagement rule an event matches (before caps;
 *          suppressed, ignored, late and duplicate events match nothing):
 *          the model's and the rule's index, the event's time;
 *   fit    the fit rules matching (bit i: rule i) after every profile
 *          update applied, and its updated_at.
 * Either may be NULL.
 */
typedef struct ls_observer_s {
        void (*match)(void *ctx, const char *lead_id, size_t model, size_t rule,
                      int64_t time);
        void (*fit)(void *ctx, const char *lead_id, size_t model,
                    uint64_t fit_bits, int64_t time);
        void *ctx;
} ls_observer_t;

/** Sets @p shard's observer (copied; NULL: none, the default). */
void ls_shard_set_observer(ls_shard_t *shard, const ls_observer_t *obs);

/**
 * A generous estimate of the bytes one lead takes under @p ms (its state
 * block, key, index entry and the table's growth slack), for sizing a
 * lead cap from a memory budget.
 */
size_t ls_lead_bytes_estimate(const ls_modelset_t *ms);

/**
 * @returns a new, empty shard scoring with @p ms (borrowed), or NULL when
 *          memory is short.
 */
ls_shard_t *ls_shard_new(const ls_modelset_t *ms);
void ls_shard_destroy(ls_shard_t *shard);

/**
 * 1 when @p in is dated more than ms->max_future_ms past the timestamp of
 * the record that carried it (record_time > 0): ls_shard_apply() rejects
 * it (LS_ERR_FUTURE), and the merge (ls_merge.h) gives it no place in
 * time.
 */
int ls_input_future(const ls_modelset_t *ms, const ls_input_t *in);

/** The model set @p shard scores with (borrowed at ls_shard_new()). */
const ls_modelset_t *ls_shard_modelset(const ls_shard_t *shard);

/** @returns the hash of @p in's lead id that ls_shard_prefetch() takes,
 *  0 for an input without a lead (a tick). */
uint64_t ls_input_lead_hash(const ls_input_t *in);

/**
 * A hint for an input that ls_shard_apply() will take soon, so that its
 * lead's memory is loaded meanwhile: stage 0 its index entry, stage 1
 * (a few inputs later, the entry loaded) its block. @p lead_hash is
 * ls_input_lead_hash() of the input (0: nothing to do). Nothing changes.
 */
void ls_shard_prefetch(const ls_shard_t *shard, uint64_t lead_hash, int stage);

/**
 * Applies one input. If an event's time is past the stream time, stream
 * time advances first and due decay timers fire (their outputs come
 * first). Profile updates neither move the stream time nor are late.
 * @returns LS_OK (outputs appended, possibly none),
 *          LS_ERR_DUPLICATE (event id already applied to this lead; no
 *          output), LS_ERR_LATE (an event older than stream time -
 *          lateness; no state change), LS_ERR_FUTURE (an input dated more
 *          than max_future past its record's timestamp; no state
 *          change), LS_ERR_STALE (a profile update
 *          older than the last one applied to its lead; no state change),
 *          LS_ERR_CAPACITY (the input's lead is new and the shard's lead
 *          cap is reached; no state change), LS_ERR_INVALID (missing lead
 *          id / type / time), LS_ERR_NOMEM. errstr says why for every
 *          error.
 */
ls_err_t ls_shard_apply(ls_shard_t *shard, const ls_input_t *in,
                        ls_outbuf_t *ob, char *errstr, size_t errstr_size);

/**
 * Advances stream time to @p time (no-op if not later) and fires the
 * decay timers due by then, appending their outputs.
 */
ls_err_t ls_shard_advance(ls_shard_t *shard, int64_t time, ls_outbuf_t *ob);

/**
 * Checks the shard's invariants: the lead table's index finds every
 * lead under its own number; each model's count of leads with an output
 * is right; the queue of decay wake-ups holds in-range entries in order; every lead's
 * state, its suppression memories included, is in range (as a loaded
 * snapshot must be) and every pending
 * decay timer has a wake-up at or before it. O(leads): debug builds of
 * `run` run it after each batch on the shards that changed (LS_ASSERT),
 * and the tests after each input.
 * @returns LS_OK, or LS_ERR_INVALID with errstr naming the first broken
 *          one.
 */
ls_err_t ls_shard_check(const ls_shard_t *shard, char *errstr,
                        size_t errstr_size);

/** @returns the shard's stream time (INT64_MIN before any input). */
int64_t ls_shard_stream_time(const ls_shard_t *shard);

/** A read-only view of one lead under one model. */
typedef struct ls_lead_view_s {
        int32_t total, fit, engagement; /* as of the lead's last update */
        int grade, band;
        int mql;
        int hot; /* a hot-lead alert is armed-off */
        uint64_t seq;
        int64_t last_activity; /* INT64_MIN if none */
} ls_lead_view_t;

/**
 * Looks a lead up. @returns LS_OK and fills *view, or LS_ERR_NOT_FOUND.
 */
ls_err_t ls_shard_lead(const ls_shard_t *shard, const char *lead_id,
                       size_t model_idx, ls_lead_view_t *view);

typedef struct ls_shard_stats_s {
        uint64_t inputs;     /* inputs applied */
        uint64_t duplicates; /* dropped as duplicates */
        uint64_t late;       /* events rejected as late */
        uint64_t future;     /* inputs dated more than max_future past
                                 * their record's timestamp: rejected */
        uint64_t stale;      /* profile updates older than the last
                                 * one applied to their lead: skipped */
        uint64_t invalid;    /* rejected as invalid */
        uint64_t ignored;    /* dropped by the model set's ignore filters */
        uint64_t refused;    /* inputs of new leads refused at the cap */
        uint64_t suppressed_burst; /* events suppressed (scored nothing),
                                       * by the kind of the first rule that
                                       * suppressed them */
        uint64_t suppressed_unopened;
        uint64_t suppressed_match;
        uint64_t reversed; /* scored events whose points a burst
                                  * recognised later took back */
        /* The four suppression counters are printed by `score --stats`,
         * summed in replay's summary, and exported by `run` as
         * leadscore_suppressed_total{partition,reason} and
         * leadscore_reversed_total{partition}. */
        uint64_t outputs;        /* outputs emitted */
        size_t leads;            /* leads in the table */
        size_t state_bytes;      /* memory held by the lead table */
        size_t lead_model_bytes; /* bytes of state per lead per model,
                                  * excluding the key and table overhead */
        size_t timers;           /* pending decay timers */
} ls_shard_stats_t;

void ls_shard_stats(const ls_shard_t *shard, ls_shard_stats_t *stats);

/**
 * Appends the shard's whole state (stream time, every lead with its
 * state, counters) to @p buf in a self-describing binary form (little
 * endian) bound to the model set's version. Pending timers are part of
 * the lead state and are rebuilt by ls_shard_load().
 * @returns LS_OK or LS_ERR_NOMEM (buf may then hold a partial image).
 */
ls_err_t ls_shard_save(const ls_shard_t *shard, ls_buf_t *buf);

/**
 * Rebuilds a shard from ls_shard_save() bytes. Every length is checked
 * against the data; nothing is trusted.
 * @returns the shard, or NULL with errstr saying why: corrupt data (with
 *          the byte offset), or a state taken under another model set
 *          version or engine layout.
 */
ls_shard_t *ls_shard_load(const ls_modelset_t *ms, const void *data, size_t len,
                          char *errstr, size_t errstr_size);

/**
 * Builds a shard scoring with model set @p ms that carries over the state
 * of @p shard (scored under another set): same leads, stream time and
 * counters. Per model id present in both sets: the sequence number (so
 * output ids stay unique), MQL and hot-lead status, engagement (clamped to
 * the new floor / max; history is not re-scored), the decay clock (kept
 * when the decay settings are equal, else restarted at the lead's clock),
 * the fit-rule matches of fit rules kept by id (fit recomputed with the
 * new points), cap counters of rules and categories kept by id, and the
 * hot-lead window. Models new to @p ms start fresh. Per suppression rule
 * kept by id and kind: an unopened rule's message ids and a burst rule's
 * event times (not what those events scored: a burst recognised after
 * the move takes back nothing scored before it). @p shard is untouched.
 * @returns the new shard, or NULL (errstr says why).
 */
ls_shard_t *ls_shard_migrate(const ls_shard_t *shard, const ls_modelset_t *ms,
                             char *errstr, size_t errstr_size);

/** The leads of the shard with at least one output under model
 *  @p model_idx (kept as outputs happen: O(1)). */
uint64_t ls_shard_scored_leads(const ls_shard_t *shard, size_t model_idx);

/**
 * Calls @p cb for every lead of the shard in creation order with its
 * view under model @p model_idx. Stops early when cb returns non-zero.
 */
void ls_shard_foreach_lead(const ls_shard_t *shard, size_t model_idx,
                           int (*cb)(const char *lead_id,
                                     const ls_lead_view_t *view, void *opaque),
                           void *opaque);

#endif /* LS_ENGINE_H */
