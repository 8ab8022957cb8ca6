/*
 * ls_model_print.c - the human readable summary of a loaded model set,
 * printed by `leadscore check`: lists, and per model its version,
 * products, rule counts, caps, decay, grades, bands, mql and hot alerts.
 */
#include <stdio.h>

#include "leadscore/ls_model.h"
#include "model/ls_model_int.h"

static void ls_mload_print_levels(FILE *fp, const char *what,
                                  const ls_level_t *lv, size_t n) {
        size_t i;

        fprintf(fp, "    %s:", what);
        for (i = 0; i < n; i++) {
                if (lv[i].has_min)
                        fprintf(fp, " %s>=%d", lv[i].name, (int)lv[i].min);
                else
                        fprintf(fp, " %s", lv[i].name);
        }
        fputc('\n', fp);
}

static void ls_mload_print_qualify(FILE *fp, const ls_model_t *m,
                                   const ls_qualify_t *q) {
        const char *sep = "";

        if (q->has_min_total) {
                fprintf(fp, "total>=%d", (int)q->min_total);
                sep = " and ";
        }
        if (q->min_grade >= 0) {
                fprintf(fp, "%sgrade>=%s", sep, m->grades[q->min_grade].name);
                sep = " and ";
        }
        if (q->min_band >= 0)
                fprintf(fp, "%sband>=%s", sep, m->bands[q->min_band].name);
}

static void ls_mload_print_cap(FILE *fp, const ls_cap_t *cap) {
        char d[32];

        fputs(" (cap", fp);
        if (cap->max_points)
                fprintf(fp, " %d points", (int)cap->max_points);
        if (cap->max_count)
                fprintf(fp, " %u times", (unsigned)cap->max_count);
        if (cap->per_ms) {
                ls_duration_format(cap->per_ms, d, sizeof(d));
                fprintf(fp, " per %s", d);
        } else {
                fputs(" for ever", fp);
        }
        fputc(')', fp);
}

/* MQL, hot leads and alert attributes of model @p m. */
static void ls_mload_print_alerts(FILE *fp, const ls_model_t *m) {
        char d1[32];
        size_t j;

        fputs("    mql: ", fp);
        if (m->mql.enabled) {
                fputs("enter ", fp);
                ls_mload_print_qualify(fp, m, &m->mql.enter);
                fputs("; stay ", fp);
                ls_mload_print_qualify(fp, m, &m->mql.stay);
        } else {
                fputs("off", fp);
        }
        fputc('\n', fp);
        fputs("    hot: ", fp);
        if (m->hot.enabled) {
                const char *sep = "";

                if (m->hot.points) {
                        ls_duration_format(m->hot.within_ms, d1, sizeof(d1));
                        fprintf(fp, "%d points within %s", (int)m->hot.points,
                                d1);
                        sep = " or ";
                }
                if (m->hot.n_events) {
                        fprintf(fp, "%sevents", sep);
                        for (j = 0; j < m->hot.n_events; j++)
                                fprintf(fp, "%s%s", j ? ", " : " ",
                                        m->hot.events[j]);
                }
                ls_duration_format(m->hot.rearm_ms, d1, sizeof(d1));
                fprintf(fp, "; rearm after %s; track %u", d1,
                        (unsigned)m->hot.track);
        } else {
                fputs("off", fp);
        }
        fputc('\n', fp);
        if (m->n_alert_attributes) {
                fputs("    alert attributes:", fp);
                for (j = 0; j < m->n_alert_attributes; j++)
                        fprintf(fp, "%s%s", j ? ", " : " ",
                                m->alert_attributes[j]);
                fputc('\n', fp);
        }
}

void ls_modelset_print_summary(const ls_modelset_t *ms, FILE *fp) {
        char d1[32], d2[32], d3[32];
        size_t i, j;

        ls_duration_format(ms->lateness_ms, d1, sizeof(d1));
        ls_duration_format(ms->max_future_ms, d3, sizeof(d3));
        fprintf(fp, "model set %s (version %s)\n", ms->path, ms->version);
        fprintf(fp,
                "  lateness %s, max_future %s, dedupe %u, %zu ignore "
                "condition%s, %zu event type%s scored\n",
                d1, d3, (unsigned)ms->dedupe, ms->n_ignore,
                ms->n_ignore == 1 ? "" : "s", ms->n_event_types,
                ms->n_event_types == 1 ? "" : "s");
        if (ms->backfill_after_ms > 0) {
                ls_duration_format(ms->backfill_after_ms, d2, sizeof(d2));
                fprintf(fp,
                        "  alerts from records more than %s after them "
                        "are marked backfill\n",
                        d2);
        }
        for (i = 0; i < ms->n_lists; i++)
                fprintf(fp, "  list %s: %zu item%s from %s\n",
                        ms->lists[i].name, ms->lists[i].n_items,
                        ms->lists[i].n_items == 1 ? "" : "s",
                        ms->lists[i].path);
        for (i = 0; i < ms->n_suppress; i++) {
                const ls_suppress_t *s = &ms->suppress[i];

                fprintf(fp, "  suppress %s: ", s->id);
                if (s->kind == LS_SUPPRESS_BURST) {
                        ls_duration_format(s->within_ms, d1, sizeof(d1));
                        fprintf(fp, "burst of %u within %s of", s->count, d1);
                } else if (s->kind == LS_SUPPRESS_UNOPENED) {
                        fprintf(fp,
                                "unopened %s (message in %s, %u remembered) "
                                "needs",
                                s->event, s->message_field, s->remember);
                } else {
                        fprintf(fp, "match of %zu condition%s", s->n_when,
                                s->n_when == 1 ? "" : "s");
                }
                for (j = 0; j < s->n_events; j++)
                        fprintf(fp, "%s%s", j ? ", " : " ", s->events[j]);
                fputc('\n', fp);
        }
        for (i = 0; i < ms->n_models; i++) {
                const ls_model_t *m = &ms->models[i];

                fprintf(fp, "  model %s (version %s)\n", m->id, m->version);
                if (m->kind == LS_MODEL_LOGISTIC) {
                        ls_duration_format(m->logit.window_ms, d1, sizeof(d1));
                        ls_duration_format(m->logit.bucket_ms, d2, sizeof(d2));
                        fprintf(fp,
                                "    kind: logistic, intercept %g, window %s "
                                "in %u buckets of %s, %zu features\n",
                                m->logit.intercept, d1, m->logit.buckets, d2,
                                m->n_fit_rules + m->n_rules + 1);
                }
                fputs("    products:", fp);
                if (!m->n_products)
                        fputs(" all", fp);
                for (j = 0; j < m->n_products; j++)
                        fprintf(fp, " %s", m->products[j]);
                fputc('\n', fp);
                fprintf(fp, "    fit: %zu rule%s", m->n_fit_rules,
                        m->n_fit_rules == 1 ? "" : "s");
                if (m->has_fit_min)
                        fprintf(fp, ", min %d", (int)m->fit_min);
                if (m->has_fit_max)
                        fprintf(fp, ", max %d", (int)m->fit_max);
                fputc('\n', fp);
                if (m->kind == LS_MODEL_LOGISTIC) {
                        /* no floor, caps, categories or decay */
                        fprintf(fp, "    engagement: %zu rule%s\n", m->n_rules,
                                m->n_rules == 1 ? "" : "s");
                        ls_mload_print_levels(fp, "grades", m->grades,
                                              m->n_grades);
                        ls_mload_print_levels(fp, "bands", m->bands,
                                              m->n_bands);
                        ls_mload_print_alerts(fp, m);
                        continue;
                }
                fprintf(fp,
                        "    engagement: %zu rule%s, %zu categor%s, "
                        "floor %d",
                        m->n_rules, m->n_rules == 1 ? "" : "s", m->n_categories,
                        m->n_categories == 1 ? "y" : "ies",
                        (int)m->engagement_floor);
                if (m->has_engagement_max)
                        fprintf(fp, ", max %d", (int)m->engagement_max);
                fprintf(fp, ", %u cap slot%s\n", (unsigned)m->n_cap_slots,
                        m->n_cap_slots == 1 ? "" : "s");
                for (j = 0; j < m->n_categories; j++) {
                        fprintf(fp, "      category %s", m->categories[j].name);
                        if (m->categories[j].cap.set)
                                ls_mload_print_cap(fp, &m->categories[j].cap);
                        fputc('\n', fp);
                }
                fputs("    decay: ", fp);
                if (m->decay.kind == LS_DECAY_STEPS) {
                        fputs("steps", fp);
                        for (j = 0; j < m->decay.n_steps; j++) {
                                ls_duration_format(m->decay.steps[j].after_ms,
                                                   d1, sizeof(d1));
                                fprintf(fp, "%s %s %d", j ? "," : "", d1,
                                        (int)m->decay.steps[j].points);
                        }
                } else if (m->decay.kind == LS_DECAY_HALF_LIFE) {
                        ls_duration_format(m->decay.half_life_ms, d1,
                                           sizeof(d1));
                        ls_duration_format(m->decay.tick_ms, d2, sizeof(d2));
                        fprintf(fp, "half-life %s, tick %s", d1, d2);
                } else {
                        fputs("none", fp);
                }
                fputc('\n', fp);
                ls_mload_print_levels(fp, "grades", m->grades, m->n_grades);
                ls_mload_print_levels(fp, "bands", m->bands, m->n_bands);
                ls_mload_print_alerts(fp, m);
        }
}
