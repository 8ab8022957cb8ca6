/*
 * ls_registry.h - a small Confluent Schema Registry client (libcurl +
 * jansson), and the resolver (ls_resolver.h) through which the codec
 * uses it: the codec itself knows no transport.
 *
 * Fetches writer schemas by id (GET {url}/schemas/ids/{id}) and registers
 * our output schemas (POST {url}/subjects/{subject}/versions). Both are
 * cached for the life of the client: a schema id never changes meaning.
 * Ids the registry does not know are remembered too (negative cache, for
 * negative_ttl_ms), so a flood of records with bad ids costs one request
 * per id and TTL. Ids in neither cache are looked up at most
 * max_lookups_per_second times a second (a token bucket, burst = the
 * rate), so a flood of *distinct* bad ids costs that many requests a
 * second, not one per record; an id over the limit is not looked up (and
 * not remembered). After a transport failure the registry is not asked
 * again for retry_backoff_ms, so a registry outage does not turn every
 * record into a blocking request. All requests have connect and total
 * timeouts.
 *
 * Authentication and TLS are libcurl's: HTTP basic auth from user_info
 * ("USER:PASSWORD", Confluent's basic.auth.user.info) or from
 * user:password@ in the URL (not both), server verification against a CA
 * file, and a client certificate and key. Secrets (the password, the key
 * password) are replaced by "********" in every error message.
 *
 * Threading: a client is used by one thread at a time.
 */
#ifndef LS_REGISTRY_H
#define LS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_codec.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_resolver.h"

/** Lookups of uncached schema ids a second when the conf says 0, and
 *  the most that is honoured. */
#define LS_REGISTRY_LOOKUPS_PER_SECOND 10
/* The bucket holds this many seconds of lookups: a start on a backlog
 * written with many schema versions looks them all up at once. */
#define LS_REGISTRY_LOOKUP_BURST_S 10
#define LS_REGISTRY_LOOKUPS_PER_SECOND_MAX 1000000

typedef struct ls_registry_conf_s {
        const char *url;             /* base URL, e.g. http://127.0.0.1:8081 */
        long timeout_ms;             /* per request (0 = 5000) */
        long connect_timeout_ms;     /* (0 = 2000) */
        int64_t negative_ttl_ms;     /* unknown ids remembered (0 = 60000) */
        int64_t retry_backoff_ms;    /* after a failed request (0 = 1000,
                                    * < 0 = none) */
        long max_lookups_per_second; /* of ids in neither cache (0 =
                                      * LS_REGISTRY_LOOKUPS_PER_SECOND,
                                      * < 0 = no limit, at most .._MAX);
                                      * burst = the rate */
        /* Optional (NULL = unset); copied by ls_registry_new(). */
        const char *user_info;            /* "USER:PASSWORD" for basic auth */
        const char *ca_location;          /* PEM CA file verifying the server
                                    * (NULL = the system's CAs) */
        const char *certificate_location; /* client certificate (PEM) */
        const char *key_location;         /* its private key (PEM; NULL = in the
                                    * certificate file) */
        const char *key_password;         /* of the private key */
} ls_registry_conf_t;

typedef struct ls_registry_s ls_registry_t;

/**
 * @returns a client, or NULL with errstr saying why (an URL that is not
 *          http(s), user_info without ':', credentials both in the URL
 *          and in user_info, TLS files with an http:// URL, no memory);
 *          secrets are masked in errstr.
 */
ls_registry_t *ls_registry_new(const ls_registry_conf_t *conf, char *errstr,
                               size_t errstr_size);
void ls_registry_destroy(ls_registry_t *reg);

/**
 * Looks up the schema text of @p id (cached).
 * @returns LS_OK with *textp (owned by the client, valid while it lives);
 *          LS_ERR_NOT_FOUND "schema id N not found in registry" (also while
 *          negatively cached), or "schema id N not looked up in registry:
 *          more than R unknown schema ids per second arrived
 *          (registry.max_lookups_per_second)" when the id is in neither
 *          cache and the lookup budget is spent (no request is made and
 *          the id is not cached: a later call may look it up);
 *          LS_ERR_IO when the registry cannot be reached, the TLS
 *          handshake fails ("TLS handshake failed", with the CA file), or
 *          it answers with an error (status and URL in errstr; HTTP
 *          401/403 name the user whose credentials were refused);
 *          LS_ERR_INVALID for an answer that is not {"schema": "..."}.
 */
ls_err_t ls_registry_get_schema(ls_registry_t *reg, int32_t id,
                                const char **textp, char *errstr,
                                size_t errstr_size);

/**
 * Registers @p schema_text under @p subject (once: the id is cached per
 * subject and text) and returns its id in *idp.
 * @returns LS_OK, LS_ERR_IO (unreachable / HTTP error) or LS_ERR_INVALID
 *          (answer without an integer "id").
 */
ls_err_t ls_registry_register(ls_registry_t *reg, const char *subject,
                              const char *schema_text, int32_t *idp,
                              char *errstr, size_t errstr_size);

/** HTTP requests this client has sent (for tests and metrics). */
uint64_t ls_registry_requests(const ls_registry_t *reg);

/**
 * Lookups of schema ids not made because max_lookups_per_second was
 * spent (for metrics: leadscore_registry_lookups_skipped_total).
 */
uint64_t ls_registry_lookups_skipped(const ls_registry_t *reg);

/**
 * A new client of @p conf behind the resolver *res: get_schema and
 * register_schema are ls_registry_get_schema() and ls_registry_register(),
 * and destroy is ls_registry_destroy(), so the codec that takes *res owns
 * the client.
 * @returns the client (for its counters), or NULL with errstr as
 *          ls_registry_new() (*res is then untouched).
 */
ls_registry_t *ls_registry_resolver(const ls_registry_conf_t *conf,
                                    ls_resolver_t *res, char *errstr,
                                    size_t errstr_size);

/**
 * ls_codec_new() of @p cc (its resolver ignored) with, when its input or
 * output format is registry, a new client of @p rconf behind the codec's
 * resolver. @p rconf may be NULL when no format is registry.
 * @returns the codec, or NULL with errstr (no registry.url for the
 *          registry format, a client or codec error). *regp (when not
 *          NULL) is the client, owned by the codec, or NULL without one.
 */
ls_codec_t *ls_registry_codec_new(const ls_codec_conf_t *cc,
                                  const ls_registry_conf_t *rconf,
                                  const ls_registry_t **regp, char *errstr,
                                  size_t errstr_size);

#endif /* LS_REGISTRY_H */
