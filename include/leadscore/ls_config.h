/*
 * ls_config.h - the configuration file of `leadscore run` (YAML).
 *
 * docs/CONFIG.md documents every key. Loading validates everything up
 * front (unknown keys are errors) and resolves relative paths against the
 * directory of the config file, so the rest of the program never meets a
 * half-valid configuration. A loaded config is immutable.
 */
#ifndef LS_CONFIG_H
#define LS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "leadscore/ls_codec.h"
#include "leadscore/ls_err.h"
#include "leadscore/ls_log.h"

/** An ordered list of client properties (name = value), e.g. librdkafka's. */
typedef struct ls_props_s {
        char **names;
        char **values;
        size_t n;
} ls_props_t;

/** @returns the value of @p name in @p props, or NULL. */
const char *ls_props_get(const ls_props_t *props, const char *name);

/**
 * Sets @p name to @p value (replacing an earlier value).
 * @returns LS_OK or LS_ERR_NOMEM (props untouched).
 */
ls_err_t ls_props_set(ls_props_t *props, const char *name,
                      const char *value);

void ls_props_clear(ls_props_t *props);

/**
 * @returns 1 if a property of this name holds a secret whose value must
 *          never be printed (its name contains "password", "secret",
 *          "sasl.oauthbearer" or "ssl.key", case-insensitive).
 */
int ls_props_is_secret(const char *name);

typedef struct ls_config_s {
        char *path;             /* the file it was loaded from, or a label */
        char *model_path;       /* resolved against the config's directory */
        char *topic_events;     /* default "lead-events" */
        char *topic_profiles;   /* default "lead-profiles" */
        char *topic_scores;     /* default "lead-scores" */
        char *topic_alerts;     /* default "lead-alerts" */
        char *topic_dead_letters; /* default "lead-dead-letters" */
        char *group;            /* consumer group id, default "leadscore" */
        ls_format_t input_format;  /* default json */
        ls_format_t output_format; /* default json */
        char *schema_dir;       /* resolved; see ls_config_default_dir() */
        char *registry_url;     /* NULL unless set */
        /* Schema Registry authentication and TLS (NULL = unset). */
        char *registry_user_info;   /* "USER:PASSWORD" (basic auth) */
        char *registry_ca_location; /* PEM CA file, resolved */
        char *registry_certificate_location; /* client cert, resolved */
        char *registry_key_location;         /* its key, resolved */
        char *registry_key_password;         /* secret */
        int64_t idle_tick_ms;   /* 0 = off (stream time = event time only) */
        int64_t commit_interval_ms; /* default 1000 */
        size_t max_record_bytes;    /* default 1 MiB */
        ls_props_t kafka;       /* passed to consumer and producer */
        ls_props_t consumer;    /* consumer only (after kafka) */
        ls_props_t producer;    /* producer only (after kafka) */
        int embedded;           /* the embedded test broker was asked for
                                 * (an embedded_broker section, or demo);
                                 * used only without bootstrap.servers */
        int embedded_partitions; /* partitions per topic of the embedded
                                  * broker, default 4 */
        char *metrics_listen;   /* "HOST:PORT" of /metrics, /healthz,
                                 * /readyz; NULL = off */
        ls_log_format_t log_format; /* default logfmt */
        ls_log_level_t log_level;   /* default info */
        int model_watch;        /* reload the model when its file changes */
        /* Durability (docs/DURABILITY.md). */
        char *snapshot_dir;     /* NULL = snapshots off */
        int64_t snapshot_interval_ms; /* default 30000 */
        uint64_t snapshot_every_events; /* 0 = off; else also after this
                                         * many inputs applied to a shard */
        int snapshot_keep;      /* snapshots kept per partition, default 3 */
        int64_t merge_wait_ms;  /* longest hold of a record waiting for the
                                 * other input partition, default 1000;
                                 * 0 = no ordering across the two topics */
        int transactional;      /* transactional producer (needs
                                 * transactional.id) */
} ls_config_t;

/**
 * @returns a config holding only defaults (no model), or NULL when
 *          memory is short. Used by `leadscore demo`.
 */
ls_config_t *ls_config_new_defaults(void);

/**
 * Loads and validates the config file @p path.
 * @returns LS_OK and *confp, or an error with errstr naming
 *          "file:line: key: why"; *confp is untouched on error.
 */
ls_err_t ls_config_load(const char *path, ls_config_t **confp, char *errstr,
                        size_t errstr_size);

/**
 * As ls_config_load() but from memory; @p name labels error messages and
 * @p base_dir resolves relative paths (NULL = current directory).
 */
ls_err_t ls_config_load_string(const char *yaml, size_t len,
                               const char *name, const char *base_dir,
                               ls_config_t **confp, char *errstr,
                               size_t errstr_size);

void ls_config_destroy(ls_config_t *conf);

/** @returns 1 when kafka/consumer props name bootstrap servers. */
int ls_config_has_bootstrap(const ls_config_t *conf);

/**
 * Fills @p rc (zeroed first) with the registry's URL, basic auth and TLS
 * settings of @p conf; its strings are borrowed from @p conf.
 */
void ls_config_registry_conf(const ls_config_t *conf, ls_registry_conf_t *rc);

/**
 * Gives @p log every secret value of @p conf (secret properties, the
 * registry URL's password, the password of registry.basic_auth_user_info,
 * registry.key_password), so that log lines mask them.
 * @returns LS_OK or LS_ERR_NOMEM.
 */
ls_err_t ls_config_log_secrets(const ls_config_t *conf, ls_log_t *log);

/**
 * Prints the effective configuration, one "key = value" per line, with
 * the values of secret properties masked as "********".
 */
void ls_config_print(const ls_config_t *conf, FILE *fp);

/**
 * Finds a data directory shipped with leadscore (@p name is "schemas" or
 * "examples"): next to the running executable's parent (a build tree in
 * the source tree, or PREFIX/share/leadscore/NAME for an install), then
 * ./NAME. @returns a newly allocated path, or NULL if none exists.
 */
char *ls_config_default_dir(const char *name);

#endif /* LS_CONFIG_H */
