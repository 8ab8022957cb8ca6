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
#include "leadscore/ls_registry.h"

/** An ordered list of client properties (name = value), e.g. librdkafka's. */
/** idle_tick when the config says nothing (docs/CONFIG.md). */
#define LS_IDLE_TICK_DEFAULT_MS (5 * 60 * 1000)

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
ls_err_t ls_props_set(ls_props_t *props, const char *name, const char *value);

void ls_props_clear(ls_props_t *props);

/**
 * @returns 1 if a property of this name holds a secret whose value must
 *          never be printed (its name contains "password", "secret",
 *          "sasl.oauthbearer" or "ssl.key", case-insensitive).
 */
int ls_props_is_secret(const char *name);

/**
 * Where the snapshot directory of `run` comes from (docs/CONFIG.md,
 * "Durable state by default"). --print-config and the start of `run`
 * say which one applies.
 */
typedef enum ls_snapshot_source_e {
        LS_SNAPSHOT_SRC_NONE = 0,        /* no file was read
                                    * (ls_config_new_defaults(), `demo`):
                                    * snapshots off, nothing said */
        LS_SNAPSHOT_SRC_CONFIG,          /* snapshot.dir of the file */
        LS_SNAPSHOT_SRC_STATE_DIRECTORY, /* default under systemd:
                                          * $STATE_DIRECTORY/snapshots */
        LS_SNAPSHOT_SRC_WORKDIR,  /* default otherwise: leadscore-state in
                                    * the working directory */
        LS_SNAPSHOT_SRC_OFF,      /* `snapshot: off`: no durable state */
        LS_SNAPSHOT_SRC_EMBEDDED, /* default with the embedded test broker
                                    * (its topics end with the process):
                                    * off */
        LS_SNAPSHOT_SRC_TOPIC,    /* snapshot.topic: a compacted topic, no
                                    * directory */
} ls_snapshot_source_t;

/** The name of the default directory in the working directory. */
#define LS_SNAPSHOT_WORKDIR_NAME "leadscore-state"

#define LS_MAX_LEADS_AUTO (-1)
/* workers: auto, one worker thread per online core (the default) */
#define LS_WORKERS_AUTO 0
#define LS_WORKERS_MAX 256

typedef struct ls_config_s {
        char *path;                /* the file it was loaded from, or a label */
        char *model_path;          /* resolved against the config's directory */
        char *topic_events;        /* default "lead-events" */
        char *topic_profiles;      /* default "lead-profiles" */
        char *topic_scores;        /* default "lead-scores" */
        char *topic_alerts;        /* default "lead-alerts" */
        char *topic_dead_letters;  /* default "lead-dead-letters" */
        char *group;               /* consumer group id, default "leadscore" */
        ls_format_t input_format;  /* default json */
        ls_format_t output_format; /* default json */
        char *schema_dir;          /* `schemas`, resolved; NULL = the schemas
                                 * built into the program */
        char *registry_url;        /* NULL unless set */
        /* Schema Registry authentication and TLS (NULL = unset). */
        char *registry_user_info;            /* "USER:PASSWORD" (basic auth) */
        char *registry_ca_location;          /* PEM CA file, resolved */
        char *registry_certificate_location; /* client cert, resolved */
        char *registry_key_location;         /* its key, resolved */
        char *registry_key_password;         /* secret */
        /* Lookups of schema ids in neither cache, default
         * LS_REGISTRY_LOOKUPS_PER_SECOND (ls_registry.h). */
        long registry_max_lookups_per_second;
        int64_t idle_tick_ms;       /* a partition quiet this long gets a clock
                               * tick (ls_tick.h); 0 = off */
        int64_t commit_interval_ms; /* default 1000 */
        size_t max_record_bytes;    /* default 1 MiB */
        int64_t max_leads;          /* cap on leads held by `run`:
                                     * LS_MAX_LEADS_AUTO (default; from the
                                     * memory limit), 0 = none, or N */
        ls_props_t kafka;           /* passed to consumer and producer */
        ls_props_t consumer;        /* consumer only (after kafka) */
        ls_props_t producer;        /* producer only (after kafka) */
        int embedded;               /* the embedded test broker was asked for
                                 * (an embedded_broker section, or demo);
                                 * used only without bootstrap.servers */
        int embedded_partitions;    /* partitions per topic of the embedded
                                  * broker, default 4 */
        char *metrics_listen;       /* "HOST:PORT" of /metrics, /healthz,
                                 * /readyz; NULL = off */
        ls_log_format_t log_format; /* default logfmt */
        ls_log_level_t log_level;   /* default info */
        int model_watch;            /* reload the model when its file changes */
        /* Durability (docs/DURABILITY.md). */
        char *snapshot_dir; /* snapshot.dir resolved against the
                                 * config's directory, or the default
                                 * (absolute); NULL = snapshots off
                                 * (snapshot_source says why) */
        ls_snapshot_source_t snapshot_source;
        int64_t snapshot_interval_ms;   /* default 30000 */
        uint64_t snapshot_every_events; /* 0 = off; else also after this
                                         * many inputs applied to a shard */
        int snapshot_keep;        /* snapshots kept per partition, default 3 */
        char *snapshot_topic;     /* snapshot.topic: snapshots in this
                                 * compacted topic instead of a directory
                                 * (snapshot_dir is then NULL) */
        int snapshot_allow_reset; /* snapshot.allow_reset: a partition may
                                   * start over, empty, when its snapshots
                                   * are unusable or its history is gone */
        int64_t merge_wait_ms;    /* longest hold of a record waiting for the
                                 * other input partition, default 1000;
                                 * 0 = no ordering across the two topics */
        int transactional;        /* transactional producer (needs
                                 * transactional.id) */
        int workers; /* scoring threads of `run`: LS_WORKERS_AUTO (default,
                      * ls_config_workers()) or 1 .. LS_WORKERS_MAX */
} ls_config_t;

/**
 * @returns a config holding only defaults (no model, and no snapshot
 *          directory: LS_SNAPSHOT_SRC_NONE), or NULL when memory is short.
 *          Used by `leadscore demo`, whose broker ends with the process.
 */
ls_config_t *ls_config_new_defaults(void);

/**
 * The number of scoring threads `run` uses: conf->workers, or for auto
 * ls_config_workers_auto(). @returns >= 1. 1 scores on the consuming
 * thread.
 */
int ls_config_workers(const ls_config_t *conf);

/**
 * What `workers: auto` means here: the online cores, fewer when the CPU
 * affinity allows fewer, fewer again under a cgroup CPU quota (a
 * container's or unit's CPU limit, ls_cpu_limit()), at most
 * LS_WORKERS_MAX. @p source says which one set it.
 */
int ls_config_workers_auto(char *source, size_t source_size);

/**
 * Loads and validates the config file @p path.
 *
 * Without `snapshot: off` or a snapshot.dir, the snapshot directory is
 * the default (snapshot_source says which): none with the embedded test
 * broker, else $STATE_DIRECTORY/snapshots (its first path) when that
 * variable is set and not empty, else LS_SNAPSHOT_WORKDIR_NAME in the
 * working directory, made absolute now. Loading creates no directory
 * (see ls_config_snapshot_prepare()).
 * @returns LS_OK and *confp, or an error with errstr naming
 *          "file:line: key: why"; *confp is untouched on error.
 */
ls_err_t ls_config_load(const char *path, ls_config_t **confp, char *errstr,
                        size_t errstr_size);

/**
 * As ls_config_load() but from memory; @p name labels error messages and
 * @p base_dir resolves relative paths (NULL = current directory).
 */
ls_err_t ls_config_load_string(const char *yaml, size_t len, const char *name,
                               const char *base_dir, ls_config_t **confp,
                               char *errstr, size_t errstr_size);

void ls_config_destroy(ls_config_t *conf);

/**
 * @returns where conf->snapshot_dir comes from, for people: e.g.
 *          "snapshot.dir", "default: leadscore-state in the working
 *          directory", "snapshot: off". A static string.
 */
const char *ls_config_snapshot_source2str(const ls_config_t *conf);

/**
 * Makes a default snapshot directory (LS_SNAPSHOT_SRC_STATE_DIRECTORY or
 * _WORKDIR) ready before `run` consumes: creates it with mode 0700 when
 * it is missing (its parent must exist) and checks that it is a
 * writable directory. Does nothing for a snapshot.dir of the file (the
 * snapshot writer creates it) or without snapshots.
 * @returns LS_OK, or LS_ERR_IO with errstr naming the directory, why,
 *          and the settings that choose another; a directory made before
 *          a later check failed is left in place.
 */
ls_err_t ls_config_snapshot_prepare(const ls_config_t *conf, char *errstr,
                                    size_t errstr_size);

/** @returns 1 when kafka/consumer props name bootstrap servers. */
int ls_config_has_bootstrap(const ls_config_t *conf);

/**
 * Fills @p rc (zeroed first) with the registry's URL, basic auth, TLS and
 * lookup limit settings of @p conf; its strings are borrowed from
 * @p conf.
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
 * Finds a data directory shipped with leadscore (@p name is "examples" or
 * "schemas"; the program needs no schema files, it carries its schemas,
 * see ls_codec_schema_text()): next to the running executable's parent (a
 * build tree in the source tree), then PREFIX/share/leadscore/NAME (an
 * install, see `install` in CMakeLists.txt), then ./NAME.
 * @returns a newly allocated path, or NULL if none exists.
 */
char *ls_config_default_dir(const char *name);

#endif /* LS_CONFIG_H */
