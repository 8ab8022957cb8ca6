/*
 * test_registry.c - the Schema Registry client against
 * tests/integration/registry_server.py on a free loopback port: schema
 * text by id, caches (positive, negative with expiry, per subject), the
 * limit on lookups of uncached ids (max_lookups_per_second), back-off
 * after transport failures, configuration errors, and basic
 * auth and TLS (CA, client certificate) against the stand-in run as a
 * registry is run in production, with certificates made by
 * tests/integration/make_certs.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leadscore/ls_registry.h"
#include "registry_fixture.h"

#define SCHEMAS LS_SOURCE_DIR "/schemas"

static void test_conf_errors(void **state) {
        ls_registry_conf_t conf = {0};
        char err[256];

        (void)state;
        assert_null(ls_registry_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "registry url: not set"));
        conf.url = "ftp://example";
        assert_null(ls_registry_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "ftp://example"));
        /* a password in a bad URL is not shown */
        conf.url = "ftp://svc:Zq9-pw@example";
        assert_null(ls_registry_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "ftp://svc:********@example"));
        assert_null(strstr(err, "Zq9-pw"));
        /* user info must be USER:PASSWORD, and is never echoed */
        conf.url = "https://example";
        conf.user_info = "Zq9-pw";
        assert_null(ls_registry_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "USER:PASSWORD"));
        assert_null(strstr(err, "Zq9-pw"));
        /* credentials once: not in the URL and in user_info */
        conf.url = "https://a:b@example";
        conf.user_info = "svc:Zq9-pw";
        assert_null(ls_registry_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "give them once"));
        assert_null(strstr(err, "Zq9-pw"));
        /* TLS files need https:// */
        conf.url = "http://example";
        conf.user_info = NULL;
        conf.ca_location = "/etc/ssl/certs/ca-certificates.crt";
        assert_null(ls_registry_new(&conf, err, sizeof(err)));
        assert_non_null(strstr(err, "not https://"));
}

#define AUTH_PW "Pa55-w0rd-xyz"

/* Makes the test certificates in a new directory @p dir. */
static void make_certs(char *dir, size_t size) {
        char cmd[512];

        snprintf(dir, size, "/tmp/ls-regtls-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(cmd, sizeof(cmd),
                 "/bin/sh " LS_SOURCE_DIR "/tests/integration/make_certs.sh "
                 "%s",
                 dir);
        assert_int_equal(system(cmd), 0);
}

static void remove_certs(const char *dir) {
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_basic_auth_and_tls(void **state) {
        char dir[64], cert[128], key[128], ca[128], other_ca[128];
        char srv_cert[128], srv_key[128], url[160], err[1024];
        const char *args[12];
        registry_srv_t s;
        ls_registry_conf_t conf;
        ls_registry_t *reg;
        const char *text;
        int32_t id;

        (void)state;
        make_certs(dir, sizeof(dir));
        snprintf(cert, sizeof(cert), "%s/client.pem", dir);
        snprintf(key, sizeof(key), "%s/client.key", dir);
        snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
        snprintf(other_ca, sizeof(other_ca), "%s/other-ca.pem", dir);
        snprintf(srv_cert, sizeof(srv_cert), "%s/server.pem", dir);
        snprintf(srv_key, sizeof(srv_key), "%s/server.key", dir);
        args[0] = "--schema";
        args[1] = "7=" SCHEMAS "/lead_profile.avsc";
        args[2] = "--basic-auth";
        args[3] = "svc:" AUTH_PW;
        args[4] = "--tls-cert";
        args[5] = srv_cert;
        args[6] = "--tls-key";
        args[7] = srv_key;
        args[8] = "--client-ca";
        args[9] = ca;
        assert_int_equal(registry_srv_start_args(&s, args, 10), 0);
        assert_non_null(strstr(s.url, "https://"));

        /* everything right: the schema, and a registration */
        memset(&conf, 0, sizeof(conf));
        conf.url = s.url;
        conf.user_info = "svc:" AUTH_PW;
        conf.ca_location = ca;
        conf.certificate_location = cert;
        conf.key_location = key;
        conf.key_password = "cl1ent-key-pa55";
        conf.retry_backoff_ms = -1;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)), LS_OK);
        assert_non_null(strstr(text, "LeadProfile"));
        assert_int_equal(ls_registry_register(reg, "scores-value",
                                              "{\"type\":\"string\"}", &id, err,
                                              sizeof(err)),
                         LS_OK);
        ls_registry_destroy(reg);

        /* the password in the URL keeps working */
        snprintf(url, sizeof(url), "https://svc:%s@127.0.0.1:%d", AUTH_PW,
                 s.port);
        conf.url = url;
        conf.user_info = NULL;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)), LS_OK);
        ls_registry_destroy(reg);

        /* a wrong password: HTTP 401 naming the URL and the user, never
         * a password */
        snprintf(url, sizeof(url), "https://svc:wr0ng-%s@127.0.0.1:%d", AUTH_PW,
                 s.port);
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, "HTTP 401"));
        assert_non_null(strstr(err, "https://svc:********@127.0.0.1:"));
        assert_non_null(strstr(err, "refused the credentials of the URL"));
        assert_null(strstr(err, AUTH_PW));
        ls_registry_destroy(reg);
        conf.url = s.url;
        conf.user_info = "svc:wr0ng-" AUTH_PW;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_int_equal(ls_registry_register(reg, "scores-value",
                                              "{\"type\":\"long\"}", &id, err,
                                              sizeof(err)),
                         LS_ERR_IO);
        assert_non_null(strstr(err, "HTTP 401"));
        assert_non_null(strstr(err, s.url));
        assert_non_null(strstr(err, "user 'svc'"));
        assert_null(strstr(err, AUTH_PW));
        ls_registry_destroy(reg);

        /* no credentials at all */
        conf.user_info = NULL;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, "no credentials were sent"));
        ls_registry_destroy(reg);

        /* a CA that did not sign the server's certificate */
        conf.user_info = "svc:" AUTH_PW;
        conf.ca_location = other_ca;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, "TLS handshake failed"));
        assert_non_null(strstr(err, other_ca));
        assert_non_null(strstr(err, s.url));
        assert_null(strstr(err, AUTH_PW));
        ls_registry_destroy(reg);

        /* a wrong key password: the key cannot be used, not shown */
        conf.ca_location = ca;
        conf.key_password = "n0t-the-key-pa55";
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, "TLS handshake failed"));
        assert_null(strstr(err, "n0t-the-key-pa55"));
        ls_registry_destroy(reg);

        /* no client certificate: the server refuses the connection */
        conf.certificate_location = NULL;
        conf.key_location = NULL;
        conf.key_password = NULL;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, s.url));
        ls_registry_destroy(reg);

        registry_srv_stop(&s);
        remove_certs(dir);
}

static void test_get_and_caches(void **state) {
        static const char *const schemas[] = {"7=" SCHEMAS
                                              "/lead_profile.avsc"};
        registry_srv_t s;
        ls_registry_conf_t conf = {0};
        ls_registry_t *reg;
        const char *text, *text2;
        char err[256], url[72];
        int32_t id1, id2, id3;
        FILE *fp;
        char file[8192];
        size_t n;

        (void)state;
        assert_int_equal(registry_srv_start(&s, schemas, 1), 0);
        snprintf(url, sizeof(url), "%s/", s.url);
        conf.url = url; /* trailing '/' is fine */
        conf.negative_ttl_ms = 300;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);

        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)), LS_OK);
        fp = fopen(SCHEMAS "/lead_profile.avsc", "rb");
        n = fread(file, 1, sizeof(file) - 1, fp);
        fclose(fp);
        file[n] = '\0';
        assert_string_equal(text, file);
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text2, err, sizeof(err)),
                LS_OK);
        assert_ptr_equal(text, text2);
        assert_int_equal(ls_registry_requests(reg), 1);

        /* negative cache, then expiry */
        assert_int_equal(
                ls_registry_get_schema(reg, 8, &text, err, sizeof(err)),
                LS_ERR_NOT_FOUND);
        assert_string_equal(err, "schema id 8 not found in registry");
        assert_int_equal(
                ls_registry_get_schema(reg, 8, &text, err, sizeof(err)),
                LS_ERR_NOT_FOUND);
        assert_int_equal(ls_registry_requests(reg), 2);
        usleep(400000);
        assert_int_equal(
                ls_registry_get_schema(reg, 8, &text, err, sizeof(err)),
                LS_ERR_NOT_FOUND);
        assert_int_equal(ls_registry_requests(reg), 3);

        /* registration: once per subject and text */
        assert_int_equal(ls_registry_register(reg, "scores-value",
                                              "{\"type\":\"string\"}", &id1,
                                              err, sizeof(err)),
                         LS_OK);
        assert_int_equal(ls_registry_register(reg, "scores-value",
                                              "{\"type\":\"string\"}", &id2,
                                              err, sizeof(err)),
                         LS_OK);
        assert_int_equal(id1, id2);
        assert_int_equal(ls_registry_requests(reg), 4);
        assert_int_equal(ls_registry_register(reg, "alerts-value",
                                              "{\"type\":\"long\"}", &id3, err,
                                              sizeof(err)),
                         LS_OK);
        assert_int_not_equal(id3, id1);
        assert_int_equal(ls_registry_requests(reg), 5);
        /* the registered schema is then served by id */
        assert_int_equal(
                ls_registry_get_schema(reg, id3, &text, err, sizeof(err)),
                LS_OK);
        assert_string_equal(text, "{\"type\":\"long\"}");
        /* the server refuses an invalid schema: an HTTP error */
        assert_int_equal(ls_registry_register(reg, "bad-value", "not json",
                                              &id1, err, sizeof(err)),
                         LS_ERR_IO);
        assert_non_null(strstr(err, "HTTP 422"));
        ls_registry_destroy(reg);
        registry_srv_stop(&s);
}

static void test_down_backoff(void **state) {
        ls_registry_conf_t conf = {0};
        ls_registry_t *reg;
        const char *text;
        char url[64], err[512];

        (void)state;
        assert_int_equal(registry_dead_url(url, sizeof(url)), 0);
        conf.url = url;
        conf.retry_backoff_ms = 300;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);
        assert_int_equal(
                ls_registry_get_schema(reg, 1, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, url));
        assert_int_equal(
                ls_registry_get_schema(reg, 1, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, "not retried for"));
        assert_int_equal(ls_registry_requests(reg), 1);
        usleep(350000);
        assert_int_equal(
                ls_registry_get_schema(reg, 1, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_int_equal(ls_registry_requests(reg), 2);
        ls_registry_destroy(reg);

        /* without back-off every call asks */
        conf.retry_backoff_ms = -1;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_int_equal(
                ls_registry_get_schema(reg, 1, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_int_equal(
                ls_registry_get_schema(reg, 1, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_int_equal(ls_registry_requests(reg), 2);
        ls_registry_destroy(reg);
}

static double mono_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A flood of distinct unknown ids (fuzzing once made 145,000 requests in
 * 5 minutes, one per id): at most max_lookups_per_second of them are
 * looked up a second, after a burst of as many; the others fail at once
 * as not looked up, are counted, and are not negatively cached, so such
 * an id is looked up once a token is back. Cached ids cost no token.
 */
static void test_lookup_limit(void **state) {
        static const char *const schemas[] = {"7=" SCHEMAS
                                              "/lead_profile.avsc"};
        registry_srv_t s;
        ls_registry_conf_t conf = {0};
        ls_registry_t *reg;
        const char *text;
        char err[256], want[256];
        int32_t id, last_skipped = -1;
        uint64_t found = 0, skipped = 0;
        double start, elapsed;

        (void)state;
        assert_int_equal(registry_srv_start(&s, schemas, 1), 0);
        conf.url = s.url;
        conf.max_lookups_per_second = 5;
        start = mono_s();
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)), LS_OK);
        for (id = 1000; id < 1200; id++) {
                assert_int_equal(ls_registry_get_schema(reg, id, &text, err,
                                                        sizeof(err)),
                                 LS_ERR_NOT_FOUND);
                if (strstr(err, "not found in registry")) {
                        found++;
                        continue;
                }
                snprintf(want, sizeof(want),
                         "schema id %d not looked up in registry: more "
                         "than 5 unknown schema ids per second arrived "
                         "(registry.max_lookups_per_second)",
                         (int)id);
                assert_string_equal(err, want);
                last_skipped = id;
                skipped++;
        }
        elapsed = mono_s() - start;
        /* the burst (10 s of the rate, one of it spent on id 7), then
         * the rate */
        assert_true(found >= 49);
        assert_true(1 + found <= 50 + (uint64_t)(5 * elapsed) + 1);
        assert_true(skipped > 0);
        assert_int_equal(ls_registry_requests(reg), 1 + found);
        assert_int_equal(ls_registry_lookups_skipped(reg), skipped);

        /* the budget is spent: a cached id still costs nothing */
        assert_int_equal(
                ls_registry_get_schema(reg, 7, &text, err, sizeof(err)), LS_OK);
        assert_non_null(strstr(text, "LeadProfile"));
        assert_int_equal(ls_registry_requests(reg), 1 + found);

        /* a skipped id was not remembered: looked up with a new token,
         * then negatively cached as usual */
        usleep(250000);
        assert_int_equal(ls_registry_lookups_skipped(reg), skipped);
        assert_int_equal(ls_registry_get_schema(reg, last_skipped, &text, err,
                                                sizeof(err)),
                         LS_ERR_NOT_FOUND);
        assert_non_null(strstr(err, "not found in registry"));
        assert_int_equal(ls_registry_requests(reg), 2 + found);
        assert_int_equal(ls_registry_get_schema(reg, last_skipped, &text, err,
                                                sizeof(err)),
                         LS_ERR_NOT_FOUND);
        assert_non_null(strstr(err, "not found in registry"));
        assert_int_equal(ls_registry_requests(reg), 2 + found);
        ls_registry_destroy(reg);

        /* the default: 10 a second, a burst of 100 */
        conf.max_lookups_per_second = 0;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);
        want[0] = '\0';
        for (id = 2000; id < 2130; id++)
                if (ls_registry_get_schema(reg, id, &text, err, sizeof(err)) &&
                    strstr(err, "not looked up"))
                        snprintf(want, sizeof(want), "%s", err);
        assert_non_null(strstr(want, "more than 10 unknown schema ids"));
        assert_true(ls_registry_requests(reg) >= 100);
        assert_int_equal(ls_registry_requests(reg) +
                                 ls_registry_lookups_skipped(reg),
                         130);
        ls_registry_destroy(reg);

        /* no limit */
        conf.max_lookups_per_second = -1;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);
        for (id = 3000; id < 3030; id++)
                assert_int_equal(ls_registry_get_schema(reg, id, &text, err,
                                                        sizeof(err)),
                                 LS_ERR_NOT_FOUND);
        assert_string_equal(err, "schema id 3029 not found in registry");
        assert_int_equal(ls_registry_requests(reg), 30);
        assert_int_equal(ls_registry_lookups_skipped(reg), 0);
        ls_registry_destroy(reg);
        registry_srv_stop(&s);
}

/*
 * While backing off after a transport failure no request is made, so no
 * token is taken: the back-off's error, not the limit's.
 */
static void test_lookup_limit_backoff(void **state) {
        ls_registry_conf_t conf = {0};
        ls_registry_t *reg;
        const char *text;
        char url[64], err[512];

        (void)state;
        assert_int_equal(registry_dead_url(url, sizeof(url)), 0);
        conf.url = url;
        conf.retry_backoff_ms = 600;
        conf.max_lookups_per_second = 2;
        reg = ls_registry_new(&conf, err, sizeof(err));
        assert_non_null(reg);
        assert_int_equal(
                ls_registry_get_schema(reg, 1, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_int_equal(
                ls_registry_get_schema(reg, 2, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, "not retried for"));
        assert_int_equal(
                ls_registry_get_schema(reg, 3, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_non_null(strstr(err, "not retried for"));
        assert_int_equal(ls_registry_requests(reg), 1);
        assert_int_equal(ls_registry_lookups_skipped(reg), 0);
        usleep(650000);
        assert_int_equal(
                ls_registry_get_schema(reg, 4, &text, err, sizeof(err)),
                LS_ERR_IO);
        assert_null(strstr(err, "not retried for"));
        assert_int_equal(ls_registry_requests(reg), 2);
        ls_registry_destroy(reg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_conf_errors),
                cmocka_unit_test(test_get_and_caches),
                cmocka_unit_test(test_lookup_limit),
                cmocka_unit_test(test_lookup_limit_backoff),
                cmocka_unit_test(test_down_backoff),
                cmocka_unit_test(test_basic_auth_and_tls),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
