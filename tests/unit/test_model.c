/*
 * test_model.c - the model loader: the example model set, every condition
 * operator, durations, defaults, cap slots, the event type table, content
 * versions, and the exact error message (file, line, key path) of invalid
 * model files. Run under ASan, every test also checks that loading and
 * destroying (including failed loads) frees everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "leadscore/ls_model.h"

#define DAY (24LL * 3600 * 1000)
#define HOUR (3600LL * 1000)

#define EXAMPLES LS_SOURCE_DIR "/examples"

/* The smallest valid model, used as a tail by many cases. */
#define MIN_MODEL                                                              \
        "models:\n"                                                            \
        "  - id: m\n"                                                          \
        "    grades: [{name: A}]\n"                                            \
        "    bands: [{name: cold}]\n"

static ls_modelset_t *load_ok(const char *yaml, const char *base_dir) {
        ls_modelset_t *ms = NULL;
        char err[512] = "";

        if (ls_modelset_load_string(yaml, strlen(yaml), "t.yaml", base_dir, &ms,
                                    err, sizeof(err)) != LS_OK)
                fail_msg("unexpected error: %s", err);
        assert_non_null(ms);
        return ms;
}

static const ls_rule_t *find_rule(const ls_model_t *m, const char *id) {
        size_t i;

        for (i = 0; i < m->n_rules; i++)
                if (!strcmp(m->rules[i].id, id))
                        return &m->rules[i];
        fail_msg("no rule %s", id);
        return NULL;
}

static const ls_fit_rule_t *find_fit(const ls_model_t *m, const char *id) {
        size_t i;

        for (i = 0; i < m->n_fit_rules; i++)
                if (!strcmp(m->fit_rules[i].id, id))
                        return &m->fit_rules[i];
        fail_msg("no fit rule %s", id);
        return NULL;
}

/*
 * The example model set
 */

static void test_example(void **state) {
        ls_modelset_t *ms = NULL;
        const ls_model_t *office, *phone;
        const ls_rule_t *r;
        const ls_fit_rule_t *f;
        char err[512] = "";
        size_t i;

        (void)state;
        if (ls_modelset_load(EXAMPLES "/model.yaml", &ms, err, sizeof(err)))
                fail_msg("%s", err);
        assert_string_equal(ms->path, EXAMPLES "/model.yaml");
        assert_int_equal(strlen(ms->version), LS_MODEL_VERSION_LEN);
        assert_int_equal(ms->lateness_ms, HOUR);
        assert_int_equal(ms->dedupe, 8);
        assert_int_equal(ms->n_ignore, 3);
        assert_string_equal(ms->ignore[0].field, "user_agent");
        assert_int_equal(ms->ignore[0].op, LS_MATCH_GLOB);
        assert_string_equal(ms->ignore[2].field, "is_bot");
        assert_int_equal(ms->ignore[2].op, LS_MATCH_EQUALS);
        assert_string_equal(ms->ignore[2].values[0], "true");

        assert_int_equal(ms->n_lists, 5);
        /* the scanner lists: substrings and ranges, every range parsed */
        assert_string_equal(ms->lists[4].name, "scanner_ips");
        assert_int_equal(ms->lists[4].n_cidrs, ms->lists[4].n_items);
        assert_int_equal(ms->n_suppress, 3);
        assert_string_equal(ms->suppress[0].id, "click_burst");
        assert_int_equal(ms->suppress[0].kind, LS_SUPPRESS_BURST);
        assert_int_equal(ms->suppress[1].when[0].op, LS_MATCH_CONTAINS_LIST);
        assert_int_equal(ms->suppress[2].when[0].op, LS_MATCH_CIDR_LIST);
        assert_string_equal(ms->lists[0].name, "freemail");
        assert_string_equal(ms->lists[0].path, EXAMPLES "/lists/freemail.txt");
        assert_true(ms->lists[0].n_items > 10);
        for (i = 1; i < ms->lists[0].n_items; i++)
                assert_true(strcmp(ms->lists[0].items[i - 1],
                                   ms->lists[0].items[i]) < 0);
        for (i = 0; i < ms->lists[0].n_items; i++)
                assert_null(strchr(ms->lists[0].items[i], '#'));

        assert_int_equal(ms->n_models, 2);
        office = ls_modelset_find(ms, "office");
        phone = ls_modelset_find(ms, "phone");
        assert_ptr_equal(office, &ms->models[0]);
        assert_ptr_equal(phone, &ms->models[1]);
        assert_null(ls_modelset_find(ms, "ads"));
        assert_int_equal(strlen(office->version), LS_MODEL_VERSION_LEN);
        assert_string_not_equal(office->version, phone->version);

        /* products */
        assert_int_equal(office->n_products, 2);
        assert_string_equal(office->products[1], "suite");
        assert_true(ls_model_wants_product(office, "Office"));
        assert_true(ls_model_wants_product(office, NULL));
        assert_false(ls_model_wants_product(office, "phone"));
        assert_true(ls_model_wants_product(phone, "phone"));

        /* fit */
        assert_int_equal(office->n_fit_rules, 15);
        assert_true(office->has_fit_min && office->has_fit_max);
        assert_int_equal(office->fit_min, -50);
        assert_int_equal(office->fit_max, 100);
        f = find_fit(office, "size_mid");
        assert_string_equal(f->cond.field, "employees");
        assert_int_equal(f->cond.op, LS_MATCH_RANGE);
        assert_true(f->cond.has_min && f->cond.has_max);
        assert_true(f->cond.min == 50 && f->cond.max == 1000);
        assert_int_equal(f->points, 15);
        f = find_fit(office, "email_competitor");
        assert_int_equal(f->cond.op, LS_MATCH_IN_LIST);
        assert_string_equal(ms->lists[f->cond.list].name, "competitors");
        assert_int_equal(f->points, -50);
        f = find_fit(office, "no_phone");
        assert_int_equal(f->cond.op, LS_MATCH_EXISTS);
        assert_true(f->cond.negate);
        f = find_fit(office, "title_no_buyer");
        assert_int_equal(f->cond.op, LS_MATCH_IN);
        assert_int_equal(f->cond.n_values, 2);
        assert_string_equal(f->cond.values[0], "retired");

        /* engagement */
        assert_int_equal(office->n_rules, 17);
        assert_int_equal(office->engagement_floor, 0);
        assert_true(office->has_engagement_max);
        assert_int_equal(office->engagement_max, 200);
        assert_int_equal(office->n_categories, 3);
        assert_string_equal(office->categories[0].name, "email");
        assert_true(office->categories[0].cap.set);
        assert_int_equal(office->categories[0].cap.max_points, 20);
        assert_int_equal(office->categories[0].cap.per_ms, 7 * DAY);
        assert_false(office->categories[2].cap.set);
        r = find_rule(office, "pricing_page");
        assert_string_equal(r->event_type, "page_view");
        assert_int_equal(r->n_when, 1);
        assert_string_equal(r->when[0].field, "url");
        assert_int_equal(r->when[0].op, LS_MATCH_GLOB);
        assert_int_equal(r->points, 10);
        assert_int_equal(r->category, 1);
        assert_false(r->cap.set);
        r = find_rule(office, "email_open");
        assert_true(r->cap.set);
        assert_int_equal(r->cap.max_points, 5);
        assert_int_equal(r->cap.max_count, 0);
        assert_int_equal(r->cap.per_ms, DAY);
        assert_int_equal(r->category, 0);
        r = find_rule(office, "email_click");
        assert_int_equal(r->n_unless, 1);
        assert_int_equal(r->unless[0].op, LS_MATCH_RANGE);
        assert_false(r->unless[0].has_min);
        assert_true(r->unless[0].has_max && r->unless[0].max == 2);
        r = find_rule(office, "whitepaper");
        assert_int_equal(r->cap.max_count, 3);
        assert_int_equal(r->cap.per_ms, 0);
        r = find_rule(office, "careers_page");
        assert_int_equal(r->points, -10);
        assert_int_equal(r->category, -1);
        /* docs, blog, email_open, whitepaper; then email and web */
        assert_int_equal(office->n_cap_slots, 6);
        assert_int_equal(find_rule(office, "docs_page")->cap.slot, 0);
        assert_int_equal(find_rule(office, "blog_page")->cap.slot, 1);
        assert_int_equal(find_rule(office, "email_open")->cap.slot, 2);
        assert_int_equal(find_rule(office, "whitepaper")->cap.slot, 3);
        assert_int_equal(office->categories[0].cap.slot, 4);
        assert_int_equal(office->categories[1].cap.slot, 5);

        /* decay */
        assert_int_equal(office->decay.kind, LS_DECAY_STEPS);
        assert_int_equal(office->decay.n_steps, 3);
        assert_int_equal(office->decay.steps[0].after_ms, 30 * DAY);
        assert_int_equal(office->decay.steps[2].after_ms, 90 * DAY);
        assert_int_equal(office->decay.steps[2].points, -20);
        assert_int_equal(phone->decay.kind, LS_DECAY_HALF_LIFE);
        assert_int_equal(phone->decay.half_life_ms, 14 * DAY);
        assert_int_equal(phone->decay.tick_ms, DAY);

        /* grades, bands, mql, hot */
        assert_int_equal(office->n_grades, 4);
        assert_string_equal(office->grades[0].name, "A");
        assert_int_equal(office->grades[0].min, 40);
        assert_false(office->grades[3].has_min);
        assert_int_equal(office->n_bands, 4);
        assert_false(office->bands[0].has_min);
        assert_string_equal(office->bands[3].name, "on_fire");
        assert_int_equal(office->bands[3].min, 80);
        assert_true(office->mql.enabled);
        assert_int_equal(office->mql.enter.min_grade, 1);
        assert_int_equal(office->mql.enter.min_band, 2);
        assert_false(office->mql.enter.has_min_total);
        assert_int_equal(office->mql.stay.min_grade, 2);
        assert_int_equal(office->mql.stay.min_band, 1);
        assert_true(phone->mql.enter.has_min_total);
        assert_int_equal(phone->mql.enter.min_total, 60);
        assert_int_equal(phone->mql.stay.min_total, 45);
        assert_int_equal(phone->mql.enter.min_grade, -1);
        assert_true(office->hot.enabled);
        assert_int_equal(office->hot.points, 30);
        assert_int_equal(office->hot.within_ms, 24 * HOUR);
        assert_int_equal(office->hot.rearm_ms, 7 * DAY);
        assert_int_equal(office->hot.track, 16);
        assert_int_equal(office->hot.n_events, 1);
        assert_string_equal(office->hot.events[0], "demo_request");
        assert_int_equal(phone->hot.points, 0);
        assert_int_equal(phone->hot.rearm_ms, DAY);

        /* event types: sorted, distinct, indexed by the rules */
        assert_true(ms->n_event_types >= 10);
        for (i = 1; i < ms->n_event_types; i++)
                assert_true(strcmp(ms->event_types[i - 1], ms->event_types[i]) <
                            0);
        for (i = 0; i < office->n_rules; i++)
                assert_string_equal(ms->event_types[office->rules[i].type_idx],
                                    office->rules[i].event_type);
        assert_true(ls_modelset_event_type(ms, "PAGE_VIEW") >= 0);
        assert_int_equal(ls_modelset_event_type(ms, "phone_call"), -1);

        ls_modelset_destroy(ms);
}

static void test_summary(void **state) {
        ls_modelset_t *ms = NULL;
        char err[512], *buf = NULL;
        size_t len = 0;
        FILE *fp;

        (void)state;
        if (ls_modelset_load(EXAMPLES "/model.yaml", &ms, err, sizeof(err)))
                fail_msg("%s", err);
        fp = open_memstream(&buf, &len);
        assert_non_null(fp);
        ls_modelset_print_summary(ms, fp);
        fclose(fp);
        assert_non_null(strstr(buf, ms->version));
        assert_non_null(strstr(buf, "model office (version "));
        assert_non_null(strstr(buf, ms->models[1].version));
        assert_non_null(strstr(buf, "fit: 15 rules, min -50, max 100"));
        assert_non_null(strstr(buf, "decay: steps 30d -15, 60d -15, 90d -20"));
        assert_non_null(strstr(buf, "grades: A>=40 B>=25 C>=10 D"));
        assert_non_null(
                strstr(buf, "bands: cold warm>=20 hot>=50 on_fire>=80"));
        assert_non_null(strstr(buf, "mql: enter grade>=B and band>=hot; "
                                    "stay grade>=C and band>=warm"));
        assert_non_null(strstr(buf, "mql: enter total>=60; stay total>=45"));
        assert_non_null(strstr(buf, "decay: half-life 2w, tick 1d"));
        free(buf);
        ls_modelset_destroy(ms);
}

/*
 * Conditions
 */

static const char *match_yaml =
        "lists: {freemail: lists/freemail.txt}\n"
        "ignore:\n"
        "  - {field: a, equals: Hello}\n"                    /* 0 */
        "  - {field: a, in: [Red, green]}\n"                 /* 1 */
        "  - {field: a, prefix: \"https://Example.com/\"}\n" /* 2 */
        "  - {field: a, glob: \"*/Pricing*\"}\n"             /* 3 */
        "  - {field: a, regex: \"^(vp|chief) \"}\n"          /* 4 */
        "  - {field: a, range: {min: 50, max: 1000}}\n"      /* 5 */
        "  - {field: a, range: {min: -1.5}}\n"               /* 6 */
        "  - {field: a, in_list: freemail}\n"                /* 7 */
        "  - {field: a, exists: true}\n"                     /* 8 */
        "  - {field: a, equals: x, not: true}\n"             /* 9 */
        "  - {field: a, exists: false}\n"                    /* 10 */
        "  - {field: a, in_list: freemail, not: true}\n"     /* 11 */
        "  - {field: a, regex: \"[A-Z]+[0-9]\"}\n"           /* 12 */
        MIN_MODEL;

static void test_match_ops(void **state) {
        ls_modelset_t *ms = load_ok(match_yaml, EXAMPLES);
        const ls_cond_t *c = ms->ignore;

        (void)state;
        assert_int_equal(ms->n_ignore, 13);
        /* values are stored lowercased, lists not set unless in_list */
        assert_string_equal(c[0].values[0], "hello");
        assert_string_equal(c[1].values[0], "red");
        assert_int_equal(c[0].list, -1);
        assert_int_equal(c[7].list, 0);

        assert_true(ls_cond_match(ms, &c[0], "hello"));
        assert_true(ls_cond_match(ms, &c[0], "HELLO"));
        assert_false(ls_cond_match(ms, &c[0], "hello!"));
        assert_false(ls_cond_match(ms, &c[0], ""));

        assert_true(ls_cond_match(ms, &c[1], "GREEN"));
        assert_true(ls_cond_match(ms, &c[1], "red"));
        assert_false(ls_cond_match(ms, &c[1], "blue"));

        assert_true(ls_cond_match(ms, &c[2], "https://example.COM/a"));
        assert_true(ls_cond_match(ms, &c[2], "https://example.com/"));
        assert_false(ls_cond_match(ms, &c[2], "https://example.com"));
        assert_false(ls_cond_match(ms, &c[2], "http://example.com/a"));

        assert_true(ls_cond_match(ms, &c[3], "https://x.io/pricing"));
        assert_true(ls_cond_match(ms, &c[3], "https://x.io/PRICING/team"));
        assert_false(ls_cond_match(ms, &c[3], "https://x.io/price"));

        assert_true(ls_cond_match(ms, &c[4], "VP Sales"));
        assert_true(ls_cond_match(ms, &c[4], "chief of staff"));
        assert_false(ls_cond_match(ms, &c[4], "SVP sales"));
        assert_true(ls_cond_match(ms, &c[12], "abc1"));
        assert_false(ls_cond_match(ms, &c[12], "123"));

        assert_true(ls_cond_match(ms, &c[5], "50"));
        assert_true(ls_cond_match(ms, &c[5], "1000"));
        assert_true(ls_cond_match(ms, &c[5], "999.5"));
        assert_true(ls_cond_match(ms, &c[5], "1e3"));
        assert_false(ls_cond_match(ms, &c[5], "49.99"));
        assert_false(ls_cond_match(ms, &c[5], "1001"));
        assert_false(ls_cond_match(ms, &c[5], "100 people"));
        assert_false(ls_cond_match(ms, &c[5], ""));
        assert_false(ls_cond_match(ms, &c[5], "nan"));
        assert_false(ls_cond_match(ms, &c[5], "inf"));
        assert_true(ls_cond_match(ms, &c[6], "-1.5"));
        assert_true(ls_cond_match(ms, &c[6], "1e9"));
        assert_false(ls_cond_match(ms, &c[6], "-2"));

        /* in_list: the domain of an address, or the value itself */
        assert_true(ls_cond_match(ms, &c[7], "Jane.Doe@GMail.com"));
        assert_true(ls_cond_match(ms, &c[7], "odd\"@\"name@yahoo.com"));
        assert_true(ls_cond_match(ms, &c[7], "hotmail.com"));
        assert_false(ls_cond_match(ms, &c[7], "jane@acme.example"));
        assert_false(ls_cond_match(ms, &c[7], "jane@gmail.com.evil"));
        assert_false(ls_cond_match(ms, &c[7], "jane@"));
        assert_true(ls_cond_match(ms, &c[11], "jane@acme.example"));
        assert_false(ls_cond_match(ms, &c[11], "jane@gmail.com"));

        assert_true(ls_cond_match(ms, &c[8], "x"));
        assert_false(ls_cond_match(ms, &c[8], ""));
        assert_true(ls_cond_match(ms, &c[10], ""));
        assert_true(ls_cond_match(ms, &c[10], NULL));
        assert_false(ls_cond_match(ms, &c[10], "x"));

        assert_true(ls_cond_match(ms, &c[9], "y"));
        assert_false(ls_cond_match(ms, &c[9], "X"));

        ls_modelset_destroy(ms);
}

static void test_match_absent(void **state) {
        ls_modelset_t *ms = load_ok(match_yaml, EXAMPLES);
        size_t i;

        (void)state;
        /* An absent field never matches; `not` turns that around. */
        for (i = 0; i < ms->n_ignore; i++) {
                int negated = ms->ignore[i].negate;

                assert_int_equal(ls_cond_match(ms, &ms->ignore[i], NULL),
                                 negated);
        }
        assert_true(ms->ignore[9].negate);
        assert_true(ms->ignore[10].negate);
        assert_true(ms->ignore[11].negate);
        assert_false(ms->ignore[8].negate);
        ls_modelset_destroy(ms);
}

static void test_when_shorthand(void **state) {
        ls_modelset_t *ms = load_ok(
                "models:\n"
                "  - id: m\n"
                "    engagement:\n"
                "      rules:\n"
                "        - id: r\n"
                "          event: Form_Submit\n"
                "          when: {form_id: Contact, url: {glob: \"*/x*\", "
                "not: true}, n: 42}\n"
                "          unless: {is_bot: \"true\"}\n"
                "          points: 5\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n",
                NULL);
        const ls_rule_t *r = &ms->models[0].rules[0];

        (void)state;
        assert_string_equal(r->event_type, "form_submit");
        assert_int_equal(r->n_when, 3);
        assert_string_equal(r->when[0].field, "form_id");
        assert_int_equal(r->when[0].op, LS_MATCH_EQUALS);
        assert_string_equal(r->when[0].values[0], "contact");
        assert_int_equal(r->when[1].op, LS_MATCH_GLOB);
        assert_true(r->when[1].negate);
        assert_string_equal(r->when[2].values[0], "42");
        assert_true(ls_cond_match(ms, &r->when[2], "42"));
        assert_int_equal(r->n_unless, 1);
        assert_true(ls_cond_match(ms, &r->unless[0], "TRUE"));
        ls_modelset_destroy(ms);
}

/*
 * Durations
 */

static void test_duration(void **state) {
        static const struct {
                const char *s;
                int64_t ms;
        } good[] = {
                {"500ms", 500},
                {"30s", 30000},
                {"15m", 900000},
                {"24h", 86400000},
                {"7d", 7 * DAY},
                {"2w", 14 * DAY},
                {"1500", 1500},
                {"1", 1},
                {"9223372036854775807", INT64_MAX},
                {"15250284452w", 15250284452LL * 7 * DAY},
        };
        static const char *const bad[] = {
                "",
                "0",
                "0s",
                "-5s",
                "+5s",
                "5x",
                "5 s",
                " 5s",
                "s",
                "1.5h",
                "5S",
                "5sec",
                "5ms ",
                "15250284453w",
                "9223372036854775808",
                "99999999999999999999999d",
        };
        size_t i;
        int64_t ms;

        (void)state;
        for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                ms = -1;
                if (ls_duration_parse(good[i].s, &ms) != LS_OK)
                        fail_msg("'%s' rejected", good[i].s);
                assert_int_equal(ms, good[i].ms);
        }
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ms = -1;
                if (ls_duration_parse(bad[i], &ms) != LS_ERR_INVALID)
                        fail_msg("'%s' accepted", bad[i]);
                assert_int_equal(ms, -1);
        }
        assert_int_equal(ls_duration_parse(NULL, &ms), LS_ERR_INVALID);
}

/*
 * Defaults, cap slots, event types
 */

static void test_defaults(void **state) {
        ls_modelset_t *ms =
                load_ok("models:\n"
                        "  - id: m\n"
                        "    fit: {rules: [{id: f, attribute: x, equals: y, "
                        "points: 0}]}\n"
                        "    engagement:\n"
                        "      rules: [{id: r, event: e, points: 1}]\n"
                        "      decay: {half_life: 30d}\n"
                        "    grades: [{name: A}]\n"
                        "    bands: [{name: cold}]\n"
                        "    mql: {enter: {min_total: 10}}\n"
                        "    hot: {points: 30, within: 2h}\n"
                        "  - id: n\n"
                        "    grades: [{name: A}]\n"
                        "    bands: [{name: cold}]\n"
                        "    hot: {events: [Demo_Request]}\n",
                        NULL);
        const ls_model_t *m = &ms->models[0], *n = &ms->models[1];

        (void)state;
        assert_int_equal(ms->lateness_ms, HOUR);
        assert_int_equal(ms->dedupe, 8);
        assert_int_equal(ms->n_ignore, 0);
        assert_int_equal(ms->n_lists, 0);
        assert_int_equal(m->n_products, 0);
        assert_true(ls_model_wants_product(m, "anything"));
        assert_false(m->has_fit_min || m->has_fit_max);
        assert_int_equal(m->fit_rules[0].cond.list, -1);
        assert_int_equal(m->fit_rules[0].points, 0);
        assert_int_equal(m->engagement_floor, 0);
        assert_false(m->has_engagement_max);
        assert_int_equal(m->rules[0].category, -1);
        assert_false(m->rules[0].cap.set);
        assert_int_equal(m->n_cap_slots, 0);
        assert_int_equal(m->decay.kind, LS_DECAY_HALF_LIFE);
        assert_int_equal(m->decay.half_life_ms, 30 * DAY);
        assert_int_equal(m->decay.tick_ms, DAY);
        assert_true(m->mql.enabled);
        assert_true(m->mql.stay.has_min_total);
        assert_int_equal(m->mql.stay.min_total, 10);
        assert_int_equal(m->mql.enter.min_grade, -1);
        assert_int_equal(m->mql.enter.min_band, -1);
        assert_int_equal(m->mql.stay.min_grade, -1);
        assert_int_equal(m->mql.stay.min_band, -1);
        assert_true(m->hot.enabled);
        assert_int_equal(m->hot.rearm_ms, 2 * HOUR); /* = within */
        assert_int_equal(m->hot.track, 16);
        assert_int_equal(m->hot.n_events, 0);

        assert_int_equal(n->decay.kind, LS_DECAY_NONE);
        assert_int_equal(n->decay.tick_ms, DAY);
        assert_int_equal(n->n_rules, 0);
        assert_false(n->mql.enabled);
        assert_int_equal(n->mql.enter.min_grade, -1);
        assert_int_equal(n->mql.enter.min_band, -1);
        assert_true(n->hot.enabled);
        assert_int_equal(n->hot.points, 0);
        assert_int_equal(n->hot.rearm_ms, DAY); /* no within: 1 day */
        assert_string_equal(n->hot.events[0], "demo_request");
        ls_modelset_destroy(ms);
}

static void test_cap_slots(void **state) {
        ls_modelset_t *ms = load_ok(
                "dedupe: 0\n"
                "lateness: 5m\n"
                "models:\n"
                "  - id: m\n"
                "    engagement:\n"
                "      categories:\n"
                "        c0: {cap: {points: 9}}\n"
                "        c1: {}\n"
                "        c2: {cap: {count: 2, per: 1h}}\n"
                "        c3:\n"
                "      rules:\n"
                "        - {id: r0, event: e, points: 1, cap: {points: 3, "
                "count: 2, per: 1d}}\n"
                "        - {id: r1, event: e, points: 1, category: c2}\n"
                "        - {id: r2, event: e, points: -1, cap: {count: 1}}\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n",
                NULL);
        const ls_model_t *m = &ms->models[0];

        (void)state;
        assert_int_equal(ms->dedupe, 0);
        assert_int_equal(ms->lateness_ms, 5 * 60 * 1000);
        assert_int_equal(m->n_categories, 4);
        assert_int_equal(m->n_cap_slots, 4);
        assert_int_equal(m->rules[0].cap.slot, 0);
        assert_int_equal(m->rules[0].cap.max_points, 3);
        assert_int_equal(m->rules[0].cap.max_count, 2);
        assert_int_equal(m->rules[0].cap.per_ms, DAY);
        assert_false(m->rules[1].cap.set);
        assert_int_equal(m->rules[1].category, 2);
        assert_int_equal(m->rules[2].cap.slot, 1);
        assert_int_equal(m->rules[2].cap.max_points, 0);
        assert_int_equal(m->rules[2].cap.per_ms, 0);
        assert_int_equal(m->categories[0].cap.slot, 2);
        assert_int_equal(m->categories[0].cap.per_ms, 0);
        assert_false(m->categories[1].cap.set);
        assert_int_equal(m->categories[2].cap.slot, 3);
        assert_int_equal(m->categories[2].cap.max_count, 2);
        assert_int_equal(m->categories[2].cap.per_ms, HOUR);
        assert_false(m->categories[3].cap.set);
        ls_modelset_destroy(ms);
}

static void test_event_types(void **state) {
        ls_modelset_t *ms =
                load_ok("models:\n"
                        "  - id: a\n"
                        "    engagement:\n"
                        "      rules:\n"
                        "        - {id: r0, event: Page_View, points: 1}\n"
                        "        - {id: r1, event: email_open, points: 1}\n"
                        "    grades: [{name: A}]\n"
                        "    bands: [{name: cold}]\n"
                        "  - id: b\n"
                        "    engagement:\n"
                        "      rules:\n"
                        "        - {id: r0, event: page_view, points: 2}\n"
                        "        - {id: r1, event: DEMO, points: 3}\n"
                        "    grades: [{name: A}]\n"
                        "    bands: [{name: cold}]\n",
                        NULL);

        (void)state;
        assert_int_equal(ms->n_event_types, 3);
        assert_string_equal(ms->event_types[0], "demo");
        assert_string_equal(ms->event_types[1], "email_open");
        assert_string_equal(ms->event_types[2], "page_view");
        assert_string_equal(ms->models[0].rules[0].event_type, "page_view");
        assert_int_equal(ms->models[0].rules[0].type_idx, 2);
        assert_int_equal(ms->models[0].rules[1].type_idx, 1);
        assert_int_equal(ms->models[1].rules[0].type_idx, 2);
        assert_int_equal(ms->models[1].rules[1].type_idx, 0);
        assert_int_equal(ls_modelset_event_type(ms, "Demo"), 0);
        assert_int_equal(ls_modelset_event_type(ms, "EMAIL_OPEN"), 1);
        assert_int_equal(ls_modelset_event_type(ms, "page_view"), 2);
        assert_int_equal(ls_modelset_event_type(ms, "page"), -1);
        assert_int_equal(ls_modelset_event_type(ms, "zzz"), -1);
        assert_int_equal(ls_modelset_event_type(ms, ""), -1);
        ls_modelset_destroy(ms);
}

/*
 * Suppression
 */

static void write_file(const char *dir, const char *name, const char *text);

static const char *suppress_yaml =
        "lists: {freemail: lists/freemail.txt}\n"
        "suppress:\n"
        "  - id: click_burst\n"
        "    burst: {events: [Email_Click, link_click], count: 3, within: 2s}\n"
        "  - id: unopened_click\n"
        "    unopened:\n"
        "      event: email_click\n"
        "      needs: [email_open, email_delivered]\n"
        "      message_field: msg\n"
        "      remember: 4\n"
        "  - id: unopened_default\n"
        "    unopened: {event: link_click, needs: [email_open]}\n"
        "  - id: scanner\n"
        "    match:\n"
        "      user_agent: {contains_list: freemail}\n"
        "      ip: {cidr: [10.0.0.0/8, \"2001:DB8::/32\", "
        "192.0.2.1]}\n" MIN_MODEL;

static void test_suppress_section(void **state) {
        ls_modelset_t *ms = load_ok(suppress_yaml, EXAMPLES);
        const ls_suppress_t *s = ms->suppress;
        char *buf = NULL;
        size_t len = 0;
        FILE *fp;

        (void)state;
        assert_int_equal(ms->n_suppress, 4);
        assert_string_equal(s[0].id, "click_burst");
        assert_int_equal(s[0].kind, LS_SUPPRESS_BURST);
        assert_int_equal(s[0].n_events, 2);
        assert_string_equal(s[0].events[0], "email_click");
        assert_int_equal(s[0].count, 3);
        assert_int_equal(s[0].within_ms, 2000);
        assert_int_equal(s[1].kind, LS_SUPPRESS_UNOPENED);
        assert_string_equal(s[1].event, "email_click");
        assert_string_equal(s[1].events[1], "email_delivered");
        assert_string_equal(s[1].message_field, "msg");
        assert_int_equal(s[1].remember, 4);
        /* defaults */
        assert_string_equal(s[2].message_field, "message_id");
        assert_int_equal(s[2].remember, 16);
        assert_int_equal(s[3].kind, LS_SUPPRESS_MATCH);
        assert_int_equal(s[3].n_when, 2);
        assert_int_equal(s[3].when[0].op, LS_MATCH_CONTAINS_LIST);
        assert_int_equal(s[3].when[1].op, LS_MATCH_CIDR);
        assert_int_equal(s[3].when[1].n_cidrs, 3);
        /* contains_list: a substring of the value, any case */
        assert_true(ls_cond_match(ms, &s[3].when[0], "x GMAIL.COM y"));
        assert_false(ls_cond_match(ms, &s[3].when[0], "gmail.co"));
        /* cidr: v4, v6, single addresses, mapped v4 */
        assert_true(ls_cond_match(ms, &s[3].when[1], "10.255.0.1"));
        assert_false(ls_cond_match(ms, &s[3].when[1], "11.0.0.1"));
        assert_true(ls_cond_match(ms, &s[3].when[1], "2001:db8:ffff::9"));
        assert_false(ls_cond_match(ms, &s[3].when[1], "2001:db9::"));
        assert_true(ls_cond_match(ms, &s[3].when[1], "192.0.2.1"));
        assert_false(ls_cond_match(ms, &s[3].when[1], "192.0.2.2"));
        assert_true(ls_cond_match(ms, &s[3].when[1], "::ffff:10.0.0.1"));
        assert_false(ls_cond_match(ms, &s[3].when[1], "10.0.0.1/32"));
        assert_false(ls_cond_match(ms, &s[3].when[1], "10.0.0"));
        assert_false(ls_cond_match(ms, &s[3].when[1], NULL));
        /* the summary names each rule */
        fp = open_memstream(&buf, &len);
        ls_modelset_print_summary(ms, fp);
        fclose(fp);
        assert_non_null(strstr(buf, "suppress click_burst: burst of 3 within "
                                    "2s of email_click, link_click"));
        assert_non_null(strstr(buf, "suppress unopened_click: unopened "
                                    "email_click (message in msg, 4 "
                                    "remembered) needs email_open, "
                                    "email_delivered"));
        assert_non_null(strstr(buf, "suppress scanner: match of 2 conditions"));
        free(buf);
        ls_modelset_destroy(ms);
}

/* Every model's version covers `suppress` and the lists it names, as it
 * covers `ignore`. */
static void test_suppress_version(void **state) {
        static const char *tmpl =
                "lists: {l: l.txt, k: k.txt}\n"
                "%s"
                "models:\n"
                "  - id: a\n"
                "    engagement: {rules: [{id: r, event: e, points: 1}]}\n"
                "    grades: [{name: A}]\n"
                "    bands: [{name: cold}]\n";
        char dir[] = "/tmp/ls_test_suppress_XXXXXX";
        char yaml[1024], v[4][LS_MODEL_VERSION_LEN + 1];
        const char *sup[4] = {
                "",
                "suppress: [{id: b, burst: {events: [e], count: 3, within: "
                "2s}}]\n",
                "suppress: [{id: b, burst: {events: [e], count: 4, within: "
                "2s}}]\n",
                "suppress: [{id: s, match: {ua: {contains_list: k}}}]\n"};
        ls_modelset_t *ms;
        int i;

        (void)state;
        assert_non_null(mkdtemp(dir));
        write_file(dir, "l.txt", "x\n");
        write_file(dir, "k.txt", "bot\n");
        for (i = 0; i < 4; i++) {
                snprintf(yaml, sizeof(yaml), tmpl, sup[i]);
                ms = load_ok(yaml, dir);
                memcpy(v[i], ms->models[0].version, sizeof(v[i]));
                ls_modelset_destroy(ms);
        }
        assert_string_not_equal(v[0], v[1]);
        assert_string_not_equal(v[1], v[2]);
        assert_string_not_equal(v[2], v[3]);
        /* a list only `suppress` names changes the versions */
        write_file(dir, "k.txt", "bot\nscanner\n");
        snprintf(yaml, sizeof(yaml), tmpl, sup[3]);
        ms = load_ok(yaml, dir);
        assert_string_not_equal(ms->models[0].version, v[3]);
        ls_modelset_destroy(ms);
        snprintf(yaml, sizeof(yaml), tmpl, sup[0]);
        ms = load_ok(yaml, dir);
        assert_string_equal(ms->models[0].version, v[0]);
        ls_modelset_destroy(ms);
        {
                char path[600];

                snprintf(path, sizeof(path), "%s/l.txt", dir);
                unlink(path);
                snprintf(path, sizeof(path), "%s/k.txt", dir);
                unlink(path);
                rmdir(dir);
        }
}

/*
 * Versions
 */

static const char *version_tmpl =
        "lateness: %s\n"
        "lists: {l: l.txt, k: k.txt}\n"
        "models:\n"
        "  - id: a\n"
        "    fit: {rules: [{id: f, attribute: email, in_list: l, "
        "points: -5}]}\n"
        "    engagement: {rules: [{id: r, event: e, points: %d}]}\n"
        "    grades: [{name: A}]\n"
        "    bands: [{name: cold}]\n"
        "  - id: b\n"
        "    engagement: {rules: [{id: r, event: e, points: %d}]}\n"
        "    grades: [{name: A}]\n"
        "    bands: [{name: cold}]\n";

typedef struct versions_s {
        char set[LS_MODEL_VERSION_LEN + 1];
        char a[LS_MODEL_VERSION_LEN + 1];
        char b[LS_MODEL_VERSION_LEN + 1];
} versions_t;

static void write_file(const char *dir, const char *name, const char *text) {
        char path[512];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static versions_t versions_of(const char *dir, const char *lateness, int pa,
                              int pb) {
        char yaml[2048];
        ls_modelset_t *ms;
        versions_t v;

        snprintf(yaml, sizeof(yaml), version_tmpl, lateness, pa, pb);
        ms = load_ok(yaml, dir);
        memcpy(v.set, ms->version, sizeof(v.set));
        memcpy(v.a, ms->models[0].version, sizeof(v.a));
        memcpy(v.b, ms->models[1].version, sizeof(v.b));
        ls_modelset_destroy(ms);
        return v;
}

static void test_versions(void **state) {
        char dir[] = "/tmp/ls_test_model_XXXXXX";
        versions_t v0, v1, v2, v3, v4, v5;
        char path[600];

        (void)state;
        assert_non_null(mkdtemp(dir));
        write_file(dir, "l.txt", "gmail.com\n");
        write_file(dir, "k.txt", "x\n");

        v0 = versions_of(dir, "1h", 1, 2);
        v1 = versions_of(dir, "1h", 1, 2);
        assert_string_equal(v0.set, v1.set); /* deterministic */
        assert_string_equal(v0.a, v1.a);
        assert_string_not_equal(v0.a, v0.b);
        assert_int_equal(strspn(v0.a, "0123456789abcdef"),
                         LS_MODEL_VERSION_LEN);

        v1 = versions_of(dir, "1h", 7, 2); /* edit model a */
        assert_string_not_equal(v1.a, v0.a);
        assert_string_equal(v1.b, v0.b);
        assert_string_not_equal(v1.set, v0.set);

        v2 = versions_of(dir, "1h", 1, 7); /* edit model b */
        assert_string_equal(v2.a, v0.a);
        assert_string_not_equal(v2.b, v0.b);
        assert_string_not_equal(v2.set, v0.set);

        v3 = versions_of(dir, "2h", 1, 2); /* shared setting: both */
        assert_string_not_equal(v3.a, v0.a);
        assert_string_not_equal(v3.b, v0.b);

        write_file(dir, "l.txt", "gmail.com\nyahoo.com\n"); /* used by a */
        v4 = versions_of(dir, "1h", 1, 2);
        assert_string_not_equal(v4.a, v0.a);
        assert_string_equal(v4.b, v0.b);
        assert_string_not_equal(v4.set, v0.set);

        write_file(dir, "k.txt", "y\n"); /* used by nobody: only the set */
        v5 = versions_of(dir, "1h", 1, 2);
        assert_string_equal(v5.a, v4.a);
        assert_string_equal(v5.b, v4.b);
        assert_string_not_equal(v5.set, v4.set);

        snprintf(path, sizeof(path), "%s/l.txt", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/k.txt", dir);
        unlink(path);
        rmdir(dir);
}

/*
 * Errors
 */

typedef struct bad_case_s {
        const char *yaml;
        ls_err_t err;
        const char *msg;
} bad_case_t;

#define GB "    grades: [{name: A}]\n    bands: [{name: cold}]\n"
#define RULES(r) "models:\n  - id: m\n    engagement:\n      rules:\n" r GB
/* an id of LS_MODEL_ID_MAX bytes, the longest there may be */
#define ID16 "abcdefghij-_.789"
#define ID128 ID16 ID16 ID16 ID16 ID16 ID16 ID16 ID16

static const bad_case_t bad_cases[] = {
        {"modelz: []\n" MIN_MODEL, LS_ERR_INVALID,
         "t.yaml:1: modelz: unknown key (expected one of: lateness, "
         "max_future, dedupe, lists, ignore, suppress, models, "
         "backfill_after)"},
        {"lateness: 1h\n", LS_ERR_INVALID, "t.yaml:1: models: required"},
        {"", LS_ERR_INVALID, "t.yaml:1: models: required (the file is empty)"},
        {"models: []\n", LS_ERR_INVALID,
         "t.yaml:1: models: expected a list of at least one model"},
        {"- a\n- b\n", LS_ERR_INVALID,
         "t.yaml:1: (top level): expected a mapping with `models`"},
        {"models: [\n", LS_ERR_INVALID,
         "t.yaml:2: YAML syntax error: did not find expected node content "
         "(while parsing a flow node)"},
        {"models:\n  - id: m\n    products: [\"a\xff\"]\n" GB, LS_ERR_INVALID,
         "t.yaml:3: YAML syntax error: invalid leading UTF-8 octet (byte "
         "offset 35)"},
        {"models:\n  - id: m\x01\n" GB, LS_ERR_INVALID,
         "t.yaml:2: YAML syntax error: control characters are not allowed "
         "(byte offset 17)"},
        {MIN_MODEL "---\n" MIN_MODEL, LS_ERR_INVALID,
         "t.yaml:6: only one YAML document is allowed"},
        {"x: &a {id: m}\nmodels: [*a]\n", LS_ERR_INVALID,
         "t.yaml:1: anchors and aliases are not supported"},
        {"lateness: 0s\n" MIN_MODEL, LS_ERR_INVALID,
         "t.yaml:1: lateness: expected a duration > 0 (e.g. 500ms, 30s, "
         "15m, 24h, 7d, 2w)"},
        {"dedupe: 65\n" MIN_MODEL, LS_ERR_INVALID,
         "t.yaml:1: dedupe: must be between 0 and 64"},
        {"dedupe: eight\n" MIN_MODEL, LS_ERR_INVALID,
         "t.yaml:1: dedupe: expected an integer"},
        {"models:\n  - id: a b\n" GB, LS_ERR_INVALID,
         "t.yaml:2: models[0].id: 'a b' is not a valid id ([A-Za-z0-9_.-]+, "
         "at most 128 bytes)"},
        {"models:\n  - id: " ID128 "x\n" GB, LS_ERR_INVALID,
         "t.yaml:2: models[0].id: '" ID128 "...' is 129 bytes, longer "
         "than an id may be (128)"},
        {"models:\n  - grades: [{name: A}]\n    bands: [{name: cold}]\n",
         LS_ERR_INVALID, "t.yaml:2: models[0].id: required"},
        {MIN_MODEL "  - id: m\n" GB, LS_ERR_INVALID,
         "t.yaml:5: models[1].id: duplicate model id 'm'"},
        {"models:\n  - id: m\n    grades: [{name: A}]\n", LS_ERR_INVALID,
         "t.yaml:2: models[0].bands: required"},
        {"models:\n  - id: m\n    prodcts: [x]\n" GB, LS_ERR_INVALID,
         "t.yaml:3: models[0].prodcts: unknown key (expected one of: id, "
         "kind, products, fit, engagement, grades, bands, mql, hot, "
         "alert_attributes, logistic)"},
        /* engagement rules */
        {RULES("        - {id: r, event: e, points: ten}\n"), LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].points: expected an "
         "integer"},
        {RULES("        - {id: r, event: e, points: 1.5}\n"), LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].points: expected an "
         "integer"},
        {RULES("        - {id: r, event: e, points: 3000000000}\n"),
         LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].points: must be between "
         "-2147483648 and 2147483647"},
        {RULES("        - {id: r, event: e, points: 1}\n"
               "        - id: s\n"
               "          event: e\n"
               "          points: 0\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[1].points: must not be zero"},
        {RULES("        - {id: r, event: e, pionts: 1}\n"), LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].pionts: unknown key "
         "(expected one of: id, event, when, unless, points, category, "
         "cap)"},
        {RULES("        - {id: r, points: 1}\n"), LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].event: required"},
        {"models:\n  - id: m\n"
         "    fit: {rules: [{id: x, attribute: a, exists: true, points: 1}]}\n"
         "    engagement:\n      rules:\n"
         "        - {id: x, event: e, points: 1}\n" GB,
         LS_ERR_INVALID,
         "t.yaml:6: models[0].engagement.rules[0].id: duplicate rule id 'x'"},
        {RULES("        - {id: r, event: e, points: 1, category: web}\n"),
         LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].category: unknown "
         "category 'web' (declare it under engagement.categories)"},
        {RULES("        - {id: r, event: e, points: 1, cap: {per: 1d}}\n"),
         LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].cap: needs points and/or "
         "count"},
        {RULES("        - {id: r, event: e, points: 1, cap: {points: 0}}\n"),
         LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].cap.points: must be "
         "between 1 and 2147483647"},
        {RULES("        - {id: r, event: e, points: 1, cap: {count: 1, "
               "per: 1y}}\n"),
         LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.rules[0].cap.per: expected a "
         "duration > 0 (e.g. 500ms, 30s, 15m, 24h, 7d, 2w)"},
        /* conditions */
        {RULES("        - id: r\n"
               "          event: e\n"
               "          when:\n"
               "            url: {glob: \"*x*\", prefix: y}\n"
               "          points: 1\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[0].when.url.prefix: only one "
         "operator per condition (already has 'glob')"},
        {RULES("        - id: r\n"
               "          event: e\n"
               "          when:\n"
               "            url: {not: true}\n"
               "          points: 1\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[0].when.url: needs one "
         "operator (equals, in, prefix, glob, regex, range, in_list, "
         "exists, contains_list, cidr, cidr_list)"},
        {RULES("        - id: r\n"
               "          event: e\n"
               "          unless:\n"
               "            title: {regex: \"(vp\"}\n"
               "          points: 1\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[0].unless.title.regex: "
         "invalid regex '(vp': Unmatched ( or \\("},
        {RULES("        - id: r\n"
               "          event: e\n"
               "          when:\n"
               "            n: {range: {min: ten}}\n"
               "          points: 1\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[0].when.n.range.min: "
         "expected a number"},
        {RULES("        - id: r\n"
               "          event: e\n"
               "          when:\n"
               "            n: {range: {min: 5, max: 1}}\n"
               "          points: 1\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[0].when.n.range: min is "
         "greater than max"},
        {RULES("        - id: r\n"
               "          event: e\n"
               "          when:\n"
               "            n:\n"
               "          points: 1\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[0].when.n: expected a value "
         "or a condition"},
        {RULES("        - id: r\n"
               "          event: e\n"
               "          when:\n"
               "            n: {in: []}\n"
               "          points: 1\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[0].when.n.in: must not be "
         "empty"},
        {RULES("        - id: r\n"
               "          event: e\n"
               "          when:\n"
               "            n: {exists: maybe}\n"
               "          points: 1\n"),
         LS_ERR_INVALID,
         "t.yaml:8: models[0].engagement.rules[0].when.n.exists: expected "
         "true or false"},
        {"ignore:\n  - {field: email, in_list: freemail}\n" MIN_MODEL,
         LS_ERR_INVALID,
         "t.yaml:2: ignore[0].in_list: unknown list 'freemail' (declare it "
         "under lists)"},
        {"ignore:\n  - {glob: \"*bot*\"}\n" MIN_MODEL, LS_ERR_INVALID,
         "t.yaml:2: ignore[0].field: required"},
        {"ignore:\n  - {field: ua, glob: \"*bot*\", attribute: x}\n" MIN_MODEL,
         LS_ERR_INVALID,
         "t.yaml:2: ignore[0].attribute: unknown key (expected one of: "
         "equals, in, prefix, glob, regex, range, in_list, exists, "
         "contains_list, cidr, cidr_list, not, "
         "field)"},
        /* fit */
        {"models:\n  - id: m\n    fit:\n      min: 10\n      max: 5\n" GB,
         LS_ERR_INVALID, "t.yaml:5: models[0].fit.max: must be >= min (10)"},
        {"models:\n  - id: m\n    fit:\n      rules:\n"
         "        - {id: f, field: a, equals: b, points: 1}\n" GB,
         LS_ERR_INVALID,
         "t.yaml:5: models[0].fit.rules[0].field: unknown key (expected one "
         "of: equals, in, prefix, glob, regex, range, in_list, exists, "
         "contains_list, cidr, cidr_list, not, "
         "id, attribute, points)"},
        /* categories */
        {"models:\n  - id: m\n    engagement:\n      categories:\n"
         "        email: {cap: {points: 5}, max: 3}\n" GB,
         LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.categories.email.max: unknown key "
         "(expected one of: cap)"},
        {"models:\n  - id: m\n    engagement:\n      floor: 10\n"
         "      max: 5\n" GB,
         LS_ERR_INVALID,
         "t.yaml:5: models[0].engagement.max: must be >= floor (10)"},
        /* decay */
        {"models:\n  - id: m\n    engagement:\n"
         "      decay: {half_life: 30d, steps: [{after: 1d, points: -1}]}\n" GB,
         LS_ERR_INVALID,
         "t.yaml:4: models[0].engagement.decay: needs exactly one of steps "
         "or half_life"},
        {"models:\n  - id: m\n    engagement:\n"
         "      decay: {tick: 1h}\n" GB,
         LS_ERR_INVALID,
         "t.yaml:4: models[0].engagement.decay: needs exactly one of steps "
         "or half_life"},
        {"models:\n  - id: m\n    engagement:\n      decay:\n        steps:\n"
         "          - {after: 30d, points: -15}\n"
         "          - {after: 30d, points: -15}\n" GB,
         LS_ERR_INVALID,
         "t.yaml:7: models[0].engagement.decay.steps[1].after: must be "
         "greater than the previous step's after"},
        {"models:\n  - id: m\n    engagement:\n      decay:\n        steps:\n"
         "          - {after: 30d, points: 5}\n" GB,
         LS_ERR_INVALID,
         "t.yaml:6: models[0].engagement.decay.steps[0].points: must be <= 0"},
        {"models:\n  - id: m\n    engagement:\n      decay:\n"
         "        steps: [{after: 30d, points: -5}]\n        tick: 1h\n" GB,
         LS_ERR_INVALID,
         "t.yaml:6: models[0].engagement.decay.tick: only applies to "
         "half_life"},
        /* grades and bands */
        {"models:\n  - id: m\n    grades:\n      - {name: A, min: 10}\n"
         "      - {name: B, min: 20}\n      - {name: C}\n"
         "    bands: [{name: cold}]\n",
         LS_ERR_INVALID,
         "t.yaml:5: models[0].grades[1].min: must be less than the previous "
         "grade's min (10)"},
        {"models:\n  - id: m\n    grades:\n      - {name: A, min: 10}\n"
         "      - {name: B, min: 0}\n"
         "    bands: [{name: cold}]\n",
         LS_ERR_INVALID,
         "t.yaml:5: models[0].grades[1].min: the last grade must not have a "
         "min (it catches all the rest)"},
        {"models:\n  - id: m\n    grades:\n      - {name: A}\n"
         "      - {name: B}\n"
         "    bands: [{name: cold}]\n",
         LS_ERR_INVALID,
         "t.yaml:4: models[0].grades[0].min: required (only the last grade "
         "has no min)"},
        {"models:\n  - id: m\n    grades:\n      - {name: A, min: 5}\n"
         "      - {name: A}\n"
         "    bands: [{name: cold}]\n",
         LS_ERR_INVALID,
         "t.yaml:5: models[0].grades[1].name: duplicate grade name 'A'"},
        {"models:\n  - id: m\n    grades: [{name: A}]\n"
         "    bands: [{name: cold, min: 0}]\n",
         LS_ERR_INVALID,
         "t.yaml:4: models[0].bands[0].min: the first band must not have a "
         "min (it catches all the rest)"},
        {"models:\n  - id: m\n    grades: [{name: A}]\n"
         "    bands:\n      - {name: cold}\n      - {name: warm, min: 20}\n"
         "      - {name: hot, min: 20}\n",
         LS_ERR_INVALID,
         "t.yaml:7: models[0].bands[2].min: must be greater than the "
         "previous band's min (20)"},
        {"models:\n  - id: m\n    grades: [{name: A}]\n    bands: []\n",
         LS_ERR_INVALID,
         "t.yaml:4: models[0].bands: expected 1 to 8 bands (has 0)"},
        {"models:\n  - id: m\n    grades: [{name: A, min: 8}, {name: B, "
         "min: 7}, {name: C, min: 6}, {name: D, min: 5}, {name: E, min: 4}, "
         "{name: F, min: 3}, {name: G, min: 2}, {name: H, min: 1}, "
         "{name: I}]\n    bands: [{name: cold}]\n",
         LS_ERR_INVALID,
         "t.yaml:3: models[0].grades: expected 1 to 8 grades (has 9)"},
        /* mql */
        {MIN_MODEL "    mql: {enter: {min_grade: B}}\n", LS_ERR_INVALID,
         "t.yaml:5: models[0].mql.enter.min_grade: unknown grade 'B'"},
        {MIN_MODEL "    mql: {enter: {}}\n", LS_ERR_INVALID,
         "t.yaml:5: models[0].mql.enter: needs at least one of min_total, "
         "min_grade, min_band"},
        {MIN_MODEL "    mql: {stay: {min_total: 5}}\n", LS_ERR_INVALID,
         "t.yaml:5: models[0].mql.enter: required"},
        {MIN_MODEL "    mql:\n      enter: {min_total: 50}\n"
                   "      stay: {min_total: 60}\n",
         LS_ERR_INVALID,
         "t.yaml:7: models[0].mql.stay.min_total: stay must be no stricter "
         "than enter"},
        {"models:\n  - id: m\n    grades: [{name: A}]\n"
         "    bands: [{name: cold}, {name: hot, min: 5}]\n"
         "    mql:\n      enter: {min_total: 50}\n"
         "      stay: {min_band: hot}\n",
         LS_ERR_INVALID,
         "t.yaml:7: models[0].mql.stay.min_band: stay must be no stricter "
         "than enter"},
        /* hot */
        {MIN_MODEL "    hot: {rearm_after: 1d}\n", LS_ERR_INVALID,
         "t.yaml:5: models[0].hot: needs points (with within) or events"},
        {MIN_MODEL "    hot: {points: 30}\n", LS_ERR_INVALID,
         "t.yaml:5: models[0].hot.within: required with points"},
        {MIN_MODEL "    hot: {within: 1d, events: [x]}\n", LS_ERR_INVALID,
         "t.yaml:5: models[0].hot.points: required with within"},
        {MIN_MODEL "    hot: {events: [x], track: 65}\n", LS_ERR_INVALID,
         "t.yaml:5: models[0].hot.track: must be between 1 and 64"},
        /* lists */
        {"lists:\n  freemail: no/such/file.txt\n" MIN_MODEL, LS_ERR_IO,
         "t.yaml:2: lists.freemail: cannot read list file "
         "'" EXAMPLES "/no/such/file.txt': No such file or directory"},
        {"lists:\n  free mail: lists/freemail.txt\n" MIN_MODEL, LS_ERR_INVALID,
         "t.yaml:2: lists.free mail: 'free mail' is not a valid id "
         "([A-Za-z0-9_.-]+, at most 128 bytes)"},
};

static void test_bad_models(void **state) {
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
                const bad_case_t *bc = &bad_cases[i];
                ls_modelset_t *ms = NULL;
                char err[512] = "";
                ls_err_t rc;

                rc = ls_modelset_load_string(bc->yaml, strlen(bc->yaml),
                                             "t.yaml", EXAMPLES, &ms, err,
                                             sizeof(err));
                if (rc != bc->err || strcmp(err, bc->msg))
                        fail_msg("case %zu: got %d '%s'\n expected %d '%s'", i,
                                 rc, err, bc->err, bc->msg);
                assert_null(ms); /* untouched on error */
        }
}

/* The longest id (LS_MODEL_ID_MAX bytes) loads. */
static void test_longest_id(void **state) {
        static const char yaml[] = "models:\n  - id: " ID128 "\n" GB;
        ls_modelset_t *ms = NULL;
        char err[512] = "";

        (void)state;
        assert_int_equal(strlen(ID128), LS_MODEL_ID_MAX);
        assert_int_equal(ls_modelset_load_string(yaml, strlen(yaml), "t.yaml",
                                                 EXAMPLES, &ms, err,
                                                 sizeof(err)),
                         LS_OK);
        assert_string_equal(ms->models[0].id, ID128);
        ls_modelset_destroy(ms);
}

static void test_too_many_fit_rules(void **state) {
        char yaml[8192];
        size_t n, i;
        ls_modelset_t *ms = NULL;
        char err[512];

        (void)state;
        for (int count = 64; count <= 65; count++) {
                n = (size_t)snprintf(yaml, sizeof(yaml),
                                     "models:\n  - id: m\n    fit:\n"
                                     "      rules:\n");
                for (i = 0; i < (size_t)count; i++)
                        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
                                              "        - {id: f%zu, "
                                              "attribute: a, equals: x, "
                                              "points: 1}\n",
                                              i);
                snprintf(yaml + n, sizeof(yaml) - n, GB);
                ms = NULL;
                if (count == 64) {
                        ms = load_ok(yaml, NULL);
                        assert_int_equal(ms->models[0].n_fit_rules, 64);
                        ls_modelset_destroy(ms);
                } else {
                        assert_int_equal(ls_modelset_load_string(
                                                 yaml, strlen(yaml), "t.yaml",
                                                 NULL, &ms, err, sizeof(err)),
                                         LS_ERR_INVALID);
                        assert_string_equal(err,
                                            "t.yaml:5: models[0].fit.rules: "
                                            "at most 64 fit rules are "
                                            "allowed (has 65)");
                        assert_null(ms);
                }
        }
}

static void test_load_file_errors(void **state) {
        ls_modelset_t *ms = NULL;
        char err[512];

        (void)state;
        assert_int_equal(ls_modelset_load("/nonexistent/model.yaml", &ms, err,
                                          sizeof(err)),
                         LS_ERR_IO);
        assert_string_equal(err, "/nonexistent/model.yaml: cannot read model "
                                 "file: No such file or directory");
        assert_null(ms);
}

static void test_list_file_parsing(void **state) {
        char dir[] = "/tmp/ls_test_list_XXXXXX";
        char path[600];
        ls_modelset_t *ms;
        const ls_list_t *l;

        (void)state;
        assert_non_null(mkdtemp(dir));
        write_file(dir, "d.txt",
                   "# header comment\n"
                   "\n"
                   "  Zeta.example  \n"
                   "alpha.example # trailing comment\r\n"
                   "ZETA.example\n"
                   "\t\n"
                   "beta.example");
        ms = load_ok("lists: {d: d.txt}\n"
                     "ignore: [{field: email, in_list: d}]\n" MIN_MODEL,
                     dir);
        l = &ms->lists[0];
        assert_int_equal(l->n_items, 3);
        assert_string_equal(l->items[0], "alpha.example");
        assert_string_equal(l->items[1], "beta.example");
        assert_string_equal(l->items[2], "zeta.example");
        assert_true(ls_cond_match(ms, &ms->ignore[0], "x@Zeta.Example"));
        assert_true(ls_cond_match(ms, &ms->ignore[0], "beta.example"));
        assert_false(ls_cond_match(ms, &ms->ignore[0], "x@gamma.example"));
        snprintf(path, sizeof(path), "%s/d.txt", dir);
        unlink(path);
        rmdir(dir);
        /* The set's source carries its lists: it loads back, with the
         * list file gone, into a set of the same version; cut short or
         * with trailing bytes it is refused. */
        {
                const ls_buf_t *src = ls_modelset_source(ms);
                ls_modelset_t *back = NULL;
                char err[512];

                assert_int_equal(ls_modelset_load_source(src->data, src->len,
                                                         "snap", &back, err,
                                                         sizeof(err)),
                                 LS_OK);
                assert_string_equal(back->version, ms->version);
                assert_int_equal(back->lists[0].n_items, 3);
                assert_true(ls_cond_match(back, &back->ignore[0],
                                          "x@Zeta.Example"));
                ls_modelset_destroy(back);
                assert_int_equal(
                        ls_modelset_load_source(src->data, src->len - 1, "snap",
                                                &back, err, sizeof(err)),
                        LS_ERR_INVALID);
                assert_non_null(strstr(err, "snap: model source truncated"));
        }
        ls_modelset_destroy(ms);
}

/* Model and list files are read up to 64 MiB: /dev/zero is refused with a
 * message, not read until memory runs out. */
static void test_reads_are_bounded(void **state) {
        ls_modelset_t *ms = NULL;
        char err[512];

        (void)state;
        assert_int_equal(ls_modelset_load("/dev/zero", &ms, err, sizeof(err)),
                         LS_ERR_IO);
        assert_non_null(strstr(err, "/dev/zero: cannot read model file"));
        assert_non_null(strstr(err, "(over 64 MiB)"));
        static const char yaml[] =
                "lists: {z: /dev/zero}\n"
                "ignore: [{field: email, in_list: z}]\n" MIN_MODEL;
        assert_int_equal(ls_modelset_load_string(yaml, strlen(yaml), "t.yaml",
                                                 NULL, &ms, err, sizeof(err)),
                         LS_ERR_IO);
        assert_non_null(strstr(err, "cannot read list file '/dev/zero'"));
        assert_non_null(strstr(err, "(over 64 MiB)"));
}

/* Pieces hashed into a version are framed: moving a line from one list to
 * the next, or a value from one setting to another, changes the version. */
static void test_version_pieces_are_framed(void **state) {
        static const char *yaml =
                "%s\n"
                "lists: {a: a.txt, b: b.txt}\n"
                "models:\n"
                "  - id: m\n"
                "    fit:\n"
                "      rules:\n"
                "        - {id: fa, attribute: email, in_list: a, points: 10}\n"
                "        - {id: fb, attribute: email, in_list: b, points: "
                "-50}\n"
                "    engagement:\n"
                "      rules: [{id: r, event: x, points: 1}]\n"
                "    grades: [{name: A, min: 1}, {name: B}]\n"
                "    bands: [{name: cold}, {name: hot, min: 5}]\n";
        char dir[] = "/tmp/ls_test_frame_XXXXXX", text[1024];
        char v1[LS_MODEL_VERSION_LEN + 1], s1[LS_MODEL_VERSION_LEN + 1];
        ls_modelset_t *ms;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(text, sizeof(text), yaml, "");
        write_file(dir, "a.txt", "gmail.com\nacme.com\n");
        write_file(dir, "b.txt", "");
        ms = load_ok(text, dir);
        memcpy(v1, ms->models[0].version, sizeof(v1));
        memcpy(s1, ms->version, sizeof(s1));
        ls_modelset_destroy(ms);
        write_file(dir, "a.txt", "gmail.com\n");
        write_file(dir, "b.txt", "acme.com\n");
        ms = load_ok(text, dir);
        assert_string_not_equal(ms->models[0].version, v1);
        assert_string_not_equal(ms->version, s1);
        ls_modelset_destroy(ms);
        /* `lateness: 8` and `dedupe: 8` are different settings */
        snprintf(text, sizeof(text), yaml, "lateness: 8");
        ms = load_ok(text, dir);
        memcpy(v1, ms->models[0].version, sizeof(v1));
        ls_modelset_destroy(ms);
        snprintf(text, sizeof(text), yaml, "dedupe: 8");
        ms = load_ok(text, dir);
        assert_string_not_equal(ms->models[0].version, v1);
        ls_modelset_destroy(ms);
        snprintf(text, sizeof(text), "%s/a.txt", dir);
        unlink(text);
        snprintf(text, sizeof(text), "%s/b.txt", dir);
        unlink(text);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_example),
                cmocka_unit_test(test_summary),
                cmocka_unit_test(test_match_ops),
                cmocka_unit_test(test_match_absent),
                cmocka_unit_test(test_when_shorthand),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_cap_slots),
                cmocka_unit_test(test_event_types),
                cmocka_unit_test(test_version_pieces_are_framed),
                cmocka_unit_test(test_versions),
                cmocka_unit_test(test_suppress_section),
                cmocka_unit_test(test_suppress_version),
                cmocka_unit_test(test_bad_models),
                cmocka_unit_test(test_longest_id),
                cmocka_unit_test(test_too_many_fit_rules),
                cmocka_unit_test(test_load_file_errors),
                cmocka_unit_test(test_list_file_parsing),
                cmocka_unit_test(test_reads_are_bounded),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
