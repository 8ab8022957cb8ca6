/*
 * ls_registry.c - Confluent Schema Registry client: schema by id (cached,
 * with a negative cache for unknown ids, a token bucket limiting lookups
 * of uncached ids, and a back-off after transport failures) and subject
 * registration (cached). One reused curl handle, so connections are kept
 * alive. Basic auth and TLS (CA, client certificate) are libcurl options
 * set on every request; every error message goes through
 * ls_registry_mask() so that no password leaves. See ls_registry.h.
 *
 * This is the transport behind the codec's resolver (ls_resolver.h):
 * ls_registry_resolver() wraps a client in one, and
 * ls_registry_codec_new() makes a codec with it, so that every command
 * that reads or writes the registry format builds its codec the same way.
 */
#include "leadscore/ls_registry.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_buf.h"
#include "leadscore/ls_url.h"

#define LS_REGISTRY_MAX_BODY (16u << 20) /* largest answer accepted */
#define LS_REGISTRY_MAX_NEGATIVE 4096    /* unknown ids remembered */

typedef struct ls_reg_schema_s {
        int32_t id;
        char *text;
} ls_reg_schema_t;

typedef struct ls_reg_negative_s {
        int32_t id;
        int64_t expires; /* monotonic ms */
} ls_reg_negative_t;

typedef struct ls_reg_subject_s {
        char *subject;
        char *text;
        int32_t id;
} ls_reg_subject_t;

struct ls_registry_s {
        char *url;                  /* without trailing '/' */
        char *password;             /* of user:password@ in url, or NULL */
        char *user, *user_password; /* of user_info, or NULL */
        char *ca, *cert, *key;      /* TLS files, or NULL */
        char *key_password;         /* or NULL */
        long timeout_ms, connect_timeout_ms;
        int64_t negative_ttl_ms, retry_backoff_ms;
        CURL *curl;
        ls_buf_t body; /* last answer */
        uint64_t requests;
        int64_t down_until; /* monotonic ms; 0 = not backing off */
        char down_err[768]; /* the failure being backed off */
        /* Token bucket of the lookups of ids in neither cache: rate
         * tokens a second, at most LS_REGISTRY_LOOKUP_BURST_S seconds'
         * worth (the burst) held; in thousandths
         * of a token, so that refills are exact in whole ms. */
        long lookup_rate;            /* tokens a second; 0 = no limit */
        int64_t lookup_milli_tokens; /* 0 .. 1000 * burst */
        int64_t lookup_refilled;     /* monotonic ms of the last refill */
        uint64_t lookups_skipped;    /* lookups refused for want of one */

        ls_reg_schema_t *schemas;
        size_t n_schemas, size_schemas;
        ls_reg_negative_t *negative;
        size_t n_negative;
        ls_reg_subject_t *subjects;
        size_t n_subjects, size_subjects;
};

static int64_t ls_registry_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t ls_registry_write_cb(char *ptr, size_t size, size_t nmemb,
                                   void *opaque) {
        ls_buf_t *body = opaque;
        size_t n = size * nmemb;

        if (body->len + n > LS_REGISTRY_MAX_BODY)
                return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        if (ls_buf_append(body, ptr, n) != LS_OK)
                return 0;
        return n;
}

/*
 * Writes @p url to @p out with the password of a user:password@ part
 * replaced by "********" (the URL as it may be shown).
 */
static void ls_registry_url_masked(const char *url, char *out, size_t size) {
        size_t off, len;

        if (ls_url_password(url, &off, &len))
                snprintf(out, size, "%.*s********%s", (int)off, url,
                         url + off + len);
        else
                snprintf(out, size, "%s", url);
}

/* Copies an optional string: LS_OK with *dstp NULL or a copy. */
static ls_err_t ls_registry_opt(const char *src, char **dstp) {
        *dstp = NULL;
        if (!src || !*src)
                return LS_OK;
        *dstp = ls_strdup(src);
        return *dstp ? LS_OK : LS_ERR_NOMEM;
}

ls_registry_t *ls_registry_new(const ls_registry_conf_t *conf, char *errstr,
                               size_t errstr_size) {
        ls_registry_t *reg;
        char shown[512];
        size_t len;

        if (!conf->url || !*conf->url) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "registry url: not set");
                return NULL;
        }
        ls_registry_url_masked(conf->url, shown, sizeof(shown));
        if (strncmp(conf->url, "http://", 7) &&
            strncmp(conf->url, "https://", 8)) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "registry url \"%s\": must start with http:// or "
                          "https://",
                          shown);
                return NULL;
        }
        if (conf->user_info && *conf->user_info &&
            !strchr(conf->user_info, ':')) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "registry user info: expected USER:PASSWORD (not "
                          "shown: secret)");
                return NULL;
        }
        if (!strncmp(conf->url, "http://", 7) &&
            ((conf->ca_location && *conf->ca_location) ||
             (conf->certificate_location && *conf->certificate_location) ||
             (conf->key_location && *conf->key_location))) {
                ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                          "registry url \"%s\": TLS files are set but the "
                          "URL is not https://",
                          shown);
                return NULL;
        }
        if (!(reg = ls_calloc(1, sizeof(*reg))) ||
            !(reg->url = ls_strdup(conf->url)) ||
            !(reg->curl = curl_easy_init()))
                goto nomem;
        len = strlen(reg->url);
        while (len > 0 && reg->url[len - 1] == '/')
                reg->url[--len] = '\0';
        {
                const char *auth = strstr(reg->url, "://") + 3;
                size_t end = strcspn(auth, "/?#");
                const char *at = memchr(auth, '@', end);
                const char *colon =
                        at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;

                if (at && conf->user_info && *conf->user_info) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "registry url \"%s\": has credentials "
                                  "and user info is set too; give them "
                                  "once",
                                  shown);
                        ls_registry_destroy(reg);
                        return NULL;
                }
                if (colon && at > colon + 1 &&
                    !(reg->password =
                              ls_strndup(colon + 1, (size_t)(at - colon - 1))))
                        goto nomem;
        }
        if (conf->user_info && *conf->user_info) {
                const char *colon = strchr(conf->user_info, ':');

                if (!(reg->user =
                              ls_strndup(conf->user_info,
                                         (size_t)(colon - conf->user_info))) ||
                    !(reg->user_password = ls_strdup(colon + 1)))
                        goto nomem;
        }
        if (ls_registry_opt(conf->ca_location, &reg->ca) ||
            ls_registry_opt(conf->certificate_location, &reg->cert) ||
            ls_registry_opt(conf->key_location, &reg->key) ||
            ls_registry_opt(conf->key_password, &reg->key_password))
                goto nomem;
        reg->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 5000;
        reg->connect_timeout_ms =
                conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 2000;
        reg->negative_ttl_ms =
                conf->negative_ttl_ms > 0 ? conf->negative_ttl_ms : 60000;
        reg->retry_backoff_ms =
                conf->retry_backoff_ms == 0 ? 1000 : conf->retry_backoff_ms;
        if (conf->max_lookups_per_second == 0)
                reg->lookup_rate = LS_REGISTRY_LOOKUPS_PER_SECOND;
        else if (conf->max_lookups_per_second > 0)
                reg->lookup_rate = conf->max_lookups_per_second;
        if (reg->lookup_rate > LS_REGISTRY_LOOKUPS_PER_SECOND_MAX)
                reg->lookup_rate = LS_REGISTRY_LOOKUPS_PER_SECOND_MAX;
        reg->lookup_milli_tokens =
                (int64_t)reg->lookup_rate * LS_REGISTRY_LOOKUP_BURST_S * 1000;
        reg->lookup_refilled = ls_registry_now_ms();
        ls_buf_init(&reg->body);
        return reg;
nomem:
        ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                  "registry client: out of memory");
        ls_registry_destroy(reg);
        return NULL;
}

void ls_registry_destroy(ls_registry_t *reg) {
        size_t i;

        if (!reg)
                return;
        if (reg->curl)
                curl_easy_cleanup(reg->curl);
        for (i = 0; i < reg->n_schemas; i++)
                ls_free(reg->schemas[i].text);
        for (i = 0; i < reg->n_subjects; i++) {
                ls_free(reg->subjects[i].subject);
                ls_free(reg->subjects[i].text);
        }
        ls_free(reg->schemas);
        ls_free(reg->negative);
        ls_free(reg->subjects);
        ls_buf_free(&reg->body);
        ls_free(reg->url);
        ls_free(reg->password);
        ls_free(reg->user);
        ls_free(reg->user_password);
        ls_free(reg->ca);
        ls_free(reg->cert);
        ls_free(reg->key);
        ls_free(reg->key_password);
        ls_free(reg);
}

uint64_t ls_registry_requests(const ls_registry_t *reg) {
        return reg->requests;
}

uint64_t ls_registry_lookups_skipped(const ls_registry_t *reg) {
        return reg->lookups_skipped;
}

/*
 * Takes one token of the lookup bucket at monotonic time @p now (ms),
 * after adding the tokens of the time since the last refill.
 * @returns 1 when the lookup may be made, 0 when the budget is spent.
 */
static int ls_registry_lookup_take(ls_registry_t *reg, int64_t now) {
        int64_t full =
                (int64_t)reg->lookup_rate * LS_REGISTRY_LOOKUP_BURST_S * 1000;
        int64_t elapsed = now - reg->lookup_refilled;

        if (!reg->lookup_rate)
                return 1;
        if (elapsed > 0) {
                /* the burst's seconds refill the whole bucket: no
                 * overflow */
                if (elapsed > LS_REGISTRY_LOOKUP_BURST_S * 1000)
                        elapsed = LS_REGISTRY_LOOKUP_BURST_S * 1000;
                reg->lookup_milli_tokens += elapsed * reg->lookup_rate;
                if (reg->lookup_milli_tokens > full)
                        reg->lookup_milli_tokens = full;
                reg->lookup_refilled = now;
        }
        if (reg->lookup_milli_tokens < 1000)
                return 0;
        reg->lookup_milli_tokens -= 1000;
        return 1;
}

/* @returns 1 for the curl errors of a failed TLS handshake. */
static int ls_registry_tls_error(CURLcode rc) {
        switch (rc) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
                return 1;
        default:
                return 0;
        }
}

/*
 * Sends one request (POST when @p post_body is set). On LS_OK *statusp is
 * the HTTP status and reg->body the answer. Transport failures start the
 * back-off.
 */
static ls_err_t ls_registry_http(ls_registry_t *reg, const char *url,
                                 const char *post_body, long *statusp,
                                 char *errstr, size_t errstr_size) {
        struct curl_slist *hdrs = NULL;
        char curl_err[CURL_ERROR_SIZE];
        CURLcode rc;
        int64_t now = ls_registry_now_ms();

        if (reg->down_until && now < reg->down_until)
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s (not retried for %" PRId64 " ms)",
                                 reg->down_err, reg->down_until - now);
        reg->down_until = 0;

        ls_buf_reset(&reg->body);
        curl_err[0] = '\0';
        curl_easy_reset(reg->curl);
        curl_easy_setopt(reg->curl, CURLOPT_URL, url);
        curl_easy_setopt(reg->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(reg->curl, CURLOPT_TIMEOUT_MS, reg->timeout_ms);
        curl_easy_setopt(reg->curl, CURLOPT_CONNECTTIMEOUT_MS,
                         reg->connect_timeout_ms);
        curl_easy_setopt(reg->curl, CURLOPT_WRITEFUNCTION,
                         ls_registry_write_cb);
        curl_easy_setopt(reg->curl, CURLOPT_WRITEDATA, &reg->body);
        curl_easy_setopt(reg->curl, CURLOPT_ERRORBUFFER, curl_err);
        curl_easy_setopt(reg->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        if (reg->user) {
                curl_easy_setopt(reg->curl, CURLOPT_HTTPAUTH,
                                 (long)CURLAUTH_BASIC);
                curl_easy_setopt(reg->curl, CURLOPT_USERNAME, reg->user);
                curl_easy_setopt(reg->curl, CURLOPT_PASSWORD,
                                 reg->user_password);
        }
        if (reg->ca)
                curl_easy_setopt(reg->curl, CURLOPT_CAINFO, reg->ca);
        if (reg->cert)
                curl_easy_setopt(reg->curl, CURLOPT_SSLCERT, reg->cert);
        if (reg->key)
                curl_easy_setopt(reg->curl, CURLOPT_SSLKEY, reg->key);
        if (reg->key_password)
                curl_easy_setopt(reg->curl, CURLOPT_KEYPASSWD,
                                 reg->key_password);
        hdrs = curl_slist_append(hdrs, "Accept: application/"
                                       "vnd.schemaregistry.v1+json, "
                                       "application/json");
        if (post_body) {
                hdrs = curl_slist_append(hdrs, "Content-Type: application/"
                                               "vnd.schemaregistry.v1+json");
                curl_easy_setopt(reg->curl, CURLOPT_POSTFIELDS, post_body);
        }
        curl_easy_setopt(reg->curl, CURLOPT_HTTPHEADER, hdrs);
        reg->requests++;
        rc = curl_easy_perform(reg->curl);
        curl_slist_free_all(hdrs);
        if (rc != CURLE_OK) {
                char tls[256];

                tls[0] = '\0';
                if (ls_registry_tls_error(rc))
                        snprintf(tls, sizeof(tls),
                                 "TLS handshake failed (CA %s%s%s): ",
                                 reg->ca ? reg->ca
                                         : "the system's certificates",
                                 reg->cert ? ", client certificate " : "",
                                 reg->cert ? reg->cert : "");
                /* a message cut to fit is fine: it still names the URL */
                if (snprintf(reg->down_err, sizeof(reg->down_err),
                             "schema registry %s %s: %s%s",
                             post_body ? "POST" : "GET", url, tls,
                             curl_err[0] ? curl_err : curl_easy_strerror(rc)) >=
                    (int)sizeof(reg->down_err))
                        reg->down_err[sizeof(reg->down_err) - 1] = '\0';
                if (reg->retry_backoff_ms > 0)
                        reg->down_until = now + reg->retry_backoff_ms;
                return ls_seterr(errstr, errstr_size, LS_ERR_IO, "%s",
                                 reg->down_err);
        }
        curl_easy_getinfo(reg->curl, CURLINFO_RESPONSE_CODE, statusp);
        return LS_OK;
}

static int ls_registry_negative_find(ls_registry_t *reg, int32_t id,
                                     int64_t now) {
        size_t i;

        for (i = 0; i < reg->n_negative; i++) {
                if (reg->negative[i].id != id)
                        continue;
                if (now < reg->negative[i].expires)
                        return 1;
                reg->negative[i] = reg->negative[--reg->n_negative];
                return 0;
        }
        return 0;
}

static void ls_registry_negative_add(ls_registry_t *reg, int32_t id,
                                     int64_t now) {
        size_t i, oldest = 0;

        if (!reg->negative) {
                reg->negative = ls_calloc(LS_REGISTRY_MAX_NEGATIVE,
                                          sizeof(*reg->negative));
                if (!reg->negative)
                        return; /* the cache is an optimisation */
        }
        if (reg->n_negative == LS_REGISTRY_MAX_NEGATIVE) {
                for (i = 1; i < reg->n_negative; i++)
                        if (reg->negative[i].expires <
                            reg->negative[oldest].expires)
                                oldest = i;
                reg->negative[oldest] = reg->negative[--reg->n_negative];
        }
        reg->negative[reg->n_negative].id = id;
        reg->negative[reg->n_negative].expires = now + reg->negative_ttl_ms;
        reg->n_negative++;
}

static void ls_registry_snippet(const ls_buf_t *body, char *out, size_t size) {
        size_t i, n = body->len < size - 1 ? body->len : size - 1;

        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)body->data[i];
                out[i] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
        }
        out[n] = '\0';
}

/** Replaces each occurrence of @p secret in @p errstr by "********". */
static void ls_registry_mask1(const char *secret, char *errstr,
                              size_t errstr_size) {
        char out[1024];
        size_t n = 0, pw_len;
        const char *s = errstr, *hit;

        if (!secret || !*secret || !errstr_size || !strstr(errstr, secret))
                return;
        pw_len = strlen(secret);
        while ((hit = strstr(s, secret)) && n < sizeof(out)) {
                n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s********",
                                      (int)(hit - s), s);
                s = hit + pw_len;
        }
        if (n < sizeof(out))
                snprintf(out + n, sizeof(out) - n, "%s", s);
        snprintf(errstr, errstr_size, "%s", out);
}

/** Masks every secret of @p reg (passwords) in @p errstr. */
static void ls_registry_mask(const ls_registry_t *reg, char *errstr,
                             size_t errstr_size) {
        ls_registry_mask1(reg->password, errstr, errstr_size);
        ls_registry_mask1(reg->user_password, errstr, errstr_size);
        ls_registry_mask1(reg->key_password, errstr, errstr_size);
}

/*
 * For HTTP 401 / 403: says whose credentials were refused (or that none
 * were sent) in @p out; "" for other statuses.
 */
static void ls_registry_auth_hint(const ls_registry_t *reg, long status,
                                  char *out, size_t size) {
        out[0] = '\0';
        if (status != 401 && status != 403)
                return;
        if (reg->user)
                snprintf(out, size, " (%s the credentials of user '%s')",
                         status == 401 ? "the registry refused"
                                       : "access denied with",
                         reg->user);
        else if (reg->password)
                snprintf(out, size, " (%s the credentials of the URL)",
                         status == 401 ? "the registry refused"
                                       : "access denied with");
        else
                snprintf(out, size,
                         " (no credentials were sent: set "
                         "the registry's basic auth user info)");
}

static ls_err_t ls_registry_get_schema0(ls_registry_t *reg, int32_t id,
                                        const char **textp, char *errstr,
                                        size_t errstr_size);

/* Error messages name the URL: its password is masked. */
ls_err_t ls_registry_get_schema(ls_registry_t *reg, int32_t id,
                                const char **textp, char *errstr,
                                size_t errstr_size) {
        ls_err_t err =
                ls_registry_get_schema0(reg, id, textp, errstr, errstr_size);
        if (err)
                ls_registry_mask(reg, errstr, errstr_size);
        return err;
}

static ls_err_t ls_registry_get_schema0(ls_registry_t *reg, int32_t id,
                                        const char **textp, char *errstr,
                                        size_t errstr_size) {
        char url[1024], snippet[160];
        json_error_t jerr;
        json_t *root, *schema;
        ls_reg_schema_t *s;
        long status = 0;
        int64_t now;
        ls_err_t err;
        size_t i;

        for (i = 0; i < reg->n_schemas; i++) {
                if (reg->schemas[i].id == id) {
                        *textp = reg->schemas[i].text;
                        return LS_OK;
                }
        }
        now = ls_registry_now_ms();
        if (ls_registry_negative_find(reg, id, now))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                                 "schema id %" PRId32 " not found in "
                                 "registry",
                                 id);
        /* A lookup costs a token; none is taken while backing off (the
         * request below is then not made either). An id refused here is
         * not negatively cached: it was never looked up. */
        if (!(reg->down_until && now < reg->down_until) &&
            !ls_registry_lookup_take(reg, now)) {
                reg->lookups_skipped++;
                return ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                                 "schema id %" PRId32 " not looked up in "
                                 "registry: more than %ld unknown schema "
                                 "ids per second arrived "
                                 "(registry.max_lookups_per_second)",
                                 id, reg->lookup_rate);
        }
        snprintf(url, sizeof(url), "%s/schemas/ids/%" PRId32, reg->url, id);
        if ((err = ls_registry_http(reg, url, NULL, &status, errstr,
                                    errstr_size)))
                return err;
        if (status == 404) {
                ls_registry_negative_add(reg, id, now);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOT_FOUND,
                                 "schema id %" PRId32 " not found in "
                                 "registry",
                                 id);
        }
        if (status != 200) {
                char hint[160];

                ls_registry_snippet(&reg->body, snippet, sizeof(snippet));
                ls_registry_auth_hint(reg, status, hint, sizeof(hint));
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "schema registry GET %s: HTTP %ld%s: %s", url,
                                 status, hint, snippet);
        }
        root = json_loadb(reg->body.data ? reg->body.data : "", reg->body.len,
                          0, &jerr);
        schema = root ? json_object_get(root, "schema") : NULL;
        if (!json_is_string(schema)) {
                json_decref(root);
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "schema registry GET %s: answer has no "
                                 "\"schema\" string%s%s",
                                 url, root ? "" : ": ", root ? "" : jerr.text);
        }
        if (reg->n_schemas == reg->size_schemas) {
                size_t size = reg->size_schemas ? 2 * reg->size_schemas : 8;
                s = ls_realloc(reg->schemas, size * sizeof(*s));
                if (!s) {
                        json_decref(root);
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "schema id %" PRId32 ": out of memory",
                                         id);
                }
                reg->schemas = s;
                reg->size_schemas = size;
        }
        s = &reg->schemas[reg->n_schemas];
        s->id = id;
        s->text = ls_strndup(json_string_value(schema),
                             json_string_length(schema));
        json_decref(root);
        if (!s->text)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "schema id %" PRId32 ": out of memory", id);
        reg->n_schemas++;
        *textp = s->text;
        return LS_OK;
}

static ls_err_t ls_registry_register0(ls_registry_t *reg, const char *subject,
                                      const char *schema_text, int32_t *idp,
                                      char *errstr, size_t errstr_size);

/* Error messages name the URL: its password is masked. */
ls_err_t ls_registry_register(ls_registry_t *reg, const char *subject,
                              const char *schema_text, int32_t *idp,
                              char *errstr, size_t errstr_size) {
        ls_err_t err = ls_registry_register0(reg, subject, schema_text, idp,
                                             errstr, errstr_size);
        if (err)
                ls_registry_mask(reg, errstr, errstr_size);
        return err;
}

static ls_err_t ls_registry_register0(ls_registry_t *reg, const char *subject,
                                      const char *schema_text, int32_t *idp,
                                      char *errstr, size_t errstr_size) {
        char url[1024], snippet[160];
        char *esc, *body;
        json_t *req, *root, *jid;
        json_error_t jerr;
        ls_reg_subject_t *sub;
        long status = 0;
        json_int_t id;
        ls_err_t err;
        size_t i;

        for (i = 0; i < reg->n_subjects; i++) {
                if (!strcmp(reg->subjects[i].subject, subject) &&
                    !strcmp(reg->subjects[i].text, schema_text)) {
                        *idp = reg->subjects[i].id;
                        return LS_OK;
                }
        }
        if (!(esc = curl_easy_escape(reg->curl, subject, 0)))
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "subject %s: out of memory", subject);
        snprintf(url, sizeof(url), "%s/subjects/%s/versions", reg->url, esc);
        curl_free(esc);
        req = json_pack("{s:s}", "schema", schema_text);
        body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        if (!body)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "subject %s: cannot build the request",
                                 subject);
        err = ls_registry_http(reg, url, body, &status, errstr, errstr_size);
        free(body); /* allocated by jansson */
        if (err)
                return err;
        if (status != 200) {
                char hint[160];

                ls_registry_snippet(&reg->body, snippet, sizeof(snippet));
                ls_registry_auth_hint(reg, status, hint, sizeof(hint));
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "schema registry POST %s: HTTP %ld%s: %s", url,
                                 status, hint, snippet);
        }
        root = json_loadb(reg->body.data ? reg->body.data : "", reg->body.len,
                          0, &jerr);
        jid = root ? json_object_get(root, "id") : NULL;
        if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
            json_integer_value(jid) > INT32_MAX) {
                json_decref(root);
                return ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                 "schema registry POST %s: answer has no "
                                 "integer \"id\"",
                                 url);
        }
        id = json_integer_value(jid);
        json_decref(root);
        if (reg->n_subjects == reg->size_subjects) {
                size_t size = reg->size_subjects ? 2 * reg->size_subjects : 4;
                sub = ls_realloc(reg->subjects, size * sizeof(*sub));
                if (!sub)
                        return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                         "subject %s: out of memory", subject);
                reg->subjects = sub;
                reg->size_subjects = size;
        }
        sub = &reg->subjects[reg->n_subjects];
        sub->subject = ls_strdup(subject);
        sub->text = ls_strdup(schema_text);
        sub->id = (int32_t)id;
        if (!sub->subject || !sub->text) {
                ls_free(sub->subject);
                ls_free(sub->text);
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "subject %s: out of memory", subject);
        }
        reg->n_subjects++;
        *idp = (int32_t)id;
        return LS_OK;
}

/* ------------------------------------------------------------------ */
/* The codec's resolver                                                */

static ls_err_t ls_registry_res_get(void *opaque, int32_t id,
                                    const char **textp, char *errstr,
                                    size_t errstr_size) {
        return ls_registry_get_schema(opaque, id, textp, errstr, errstr_size);
}

static ls_err_t ls_registry_res_register(void *opaque, const char *subject,
                                         const char *schema_text, int32_t *idp,
                                         char *errstr, size_t errstr_size) {
        return ls_registry_register(opaque, subject, schema_text, idp, errstr,
                                    errstr_size);
}

static void ls_registry_res_destroy(void *opaque) {
        ls_registry_destroy(opaque);
}

ls_registry_t *ls_registry_resolver(const ls_registry_conf_t *conf,
                                    ls_resolver_t *res, char *errstr,
                                    size_t errstr_size) {
        ls_registry_t *reg = ls_registry_new(conf, errstr, errstr_size);

        if (!reg)
                return NULL;
        res->opaque = reg;
        res->get_schema = ls_registry_res_get;
        res->register_schema = ls_registry_res_register;
        res->destroy = ls_registry_res_destroy;
        return reg;
}

ls_codec_t *ls_registry_codec_new(const ls_codec_conf_t *cc,
                                  const ls_registry_conf_t *rconf,
                                  const ls_registry_t **regp, char *errstr,
                                  size_t errstr_size) {
        ls_codec_conf_t c = *cc;
        ls_resolver_t res;
        ls_registry_t *reg = NULL;
        ls_codec_t *codec;

        if (regp)
                *regp = NULL;
        c.resolver = NULL;
        if (c.input_format == LS_FORMAT_REGISTRY ||
            c.output_format == LS_FORMAT_REGISTRY) {
                if (!rconf || !rconf->url || !*rconf->url) {
                        ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                  "registry.url: required for the registry "
                                  "format");
                        return NULL;
                }
                if (!(reg = ls_registry_resolver(rconf, &res, errstr,
                                                 errstr_size)))
                        return NULL;
                c.resolver = &res;
        }
        if (!(codec = ls_codec_new(&c, errstr, errstr_size)))
                return NULL; /* it destroyed the client */
        if (regp)
                *regp = reg;
        return codec;
}
