/*
 * cmd_replay.h - the command-line options that `leadscore replay` and
 * `leadscore diff` share (input range or files, formats, threads), parsed
 * in cmd_replay.c. Internal to the CLI.
 */
#ifndef LS_CMD_REPLAY_H
#define LS_CMD_REPLAY_H

#include <stddef.h>

#include "leadscore/ls_config.h"
#include "leadscore/ls_model.h"
#include "leadscore/ls_replay.h"

/** Parsed options of replay / diff, and what they loaded. */
typedef struct ls_rcli_s {
        const char *cmd; /* "replay" or "diff" */
        int diff;        /* parsing for diff */
        ls_replay_conf_t rc;
        const char *model_path, *model_new_path, *config_path;
        const char *topics_arg, *input_format_arg, *output_format_arg;
        const char **inputs;
        size_t n_inputs;
        char *topics_copy;
        char *schema_dir_alloc;
        ls_config_t *config;
        ls_registry_conf_t registry; /* the config's auth, TLS and
                                      * lookup limit */
        ls_modelset_t *ms[2];
        int quiet, final_only, json;
        long examples;
} ls_rcli_t;

/**
 * Parses argv for @p cmd (diff when @p diff), loads the config and the
 * models, and fills c->rc. @returns -1 when the command should run, or
 * the exit status to return (help printed, usage or load error).
 * Call ls_rcli_free() in every case.
 */
int ls_rcli_parse(ls_rcli_t *c, const char *cmd, int diff, int argc,
                  char **argv);

void ls_rcli_free(ls_rcli_t *c);

/* The input half, for another command that reads history as replay does
 * (`calibrate`): set c->cmd, c->topics_arg, c->config_path and the
 * rc fields the options name (brokers, input_format, schema_dir,
 * registry_url), then call these. */

/** Splits c->topics_arg (EVENTS[,PROFILES]) into the rc topics.
 *  @returns -1, or the exit status of a usage error. */
int ls_rcli_topics(ls_rcli_t *c);

/**
 * Loads c->config_path, if set, into c->config and takes from it what the
 * options left unset: the kafka properties, the topics (unless
 * c->topics_arg or input files), the formats (unless
 * c->input_format_arg / output_format_arg), schemas, registry and record
 * size limit; the schemas default to the shipped ones.
 * @returns -1, or the exit status of an error (printed).
 */
int ls_rcli_config(ls_rcli_t *c);

#endif /* LS_CMD_REPLAY_H */
