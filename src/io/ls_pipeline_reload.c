/*
 * ls_pipeline_reload.c - model reload for `run` (see ls_pipeline_int.h):
 * asked for by SIGHUP or by model_watch, it loads the new model set
 * between two batches, migrates every shard to it, and keeps serving the
 * old one when the new one does not load.
 */
#include "io/ls_pipeline_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "leadscore/ls_alloc.h"

/* ---------------------------------------------------------- model reload */

/** model_watch: asks for a reload when the model file's mtime or size
 * changed since the last look. */
void ls_pl_model_watch(ls_pipeline_t *pl) {
        struct timespec mt;
        off_t size;

        ls_pl_model_stat(pl, &mt, &size);
        if (size < 0)
                return; /* being replaced; look again later */
        if (mt.tv_sec != pl->model_mtime.tv_sec ||
            mt.tv_nsec != pl->model_mtime.tv_nsec || size != pl->model_size) {
                pl->model_mtime = mt;
                pl->model_size = size;
                atomic_store(&pl->reload_req, 1);
        }
}

int ls_pl_reload_wanted(ls_pipeline_t *pl) {
        int want = atomic_exchange(&pl->reload_req, 0);

        if (pl->reloadp && *pl->reloadp != pl->reload_seen) {
                pl->reload_seen = *pl->reloadp;
                want = 1;
        }
        return want && !pl->fatal;
}

/**
 * Loads the model file again and, when it is valid and differs, switches
 * every shard to it. The switch point is between two batches: every
 * input consumed before it was scored (and its outputs acknowledged and
 * committed) under the old model; every input consumed after it is scored
 * under the new one, each shard's lead state carried over by
 * ls_shard_migrate(). An invalid model is rejected and the old one keeps
 * serving.
 */
void ls_pl_reload_model(ls_pipeline_t *pl) {
        ls_modelset_t *ms = NULL;
        ls_shard_t **fresh;
        char errstr[1024];
        const char *result;
        int32_t p, n = 0;

        /* Every input handed to the workers is scored and produced
         * under the old model: the shards are this thread's. */
        ls_pl_settle(pl);
        if (!pl->conf->model_watch)
                ls_pl_model_stat(pl, &pl->model_mtime, &pl->model_size);
        if (ls_modelset_load(pl->conf->model_path, &ms, errstr,
                             sizeof(errstr))) {
                result = "rejected";
                ls_log_kv(pl->log, LS_LOG_ERROR, "model_reload",
                          "model reload rejected; the current model keeps "
                          "serving",
                          "result", result, "model_version", pl->ms->version,
                          "error", errstr, NULL);
                goto count;
        }
        if (!strcmp(ms->version, pl->ms->version)) {
                result = "unchanged";
                ls_log_kv(pl->log, LS_LOG_INFO, "model_reload",
                          "model reload: unchanged, nothing to do", "result",
                          result, "model_version", ms->version, NULL);
                ls_modelset_destroy(ms);
                goto count;
        }
        fresh = ls_calloc(pl->n_parts ? (size_t)pl->n_parts : 1,
                          sizeof(*fresh));
        for (p = 0; fresh && p < pl->n_parts; p++) {
                if (!pl->slots[p].shard)
                        continue;
                fresh[p] = ls_shard_migrate(pl->slots[p].shard, ms, errstr,
                                            sizeof(errstr));
                if (!fresh[p])
                        break;
        }
        if (!fresh || p < pl->n_parts) {
                for (p = 0; fresh && p < pl->n_parts; p++)
                        ls_shard_destroy(fresh[p]);
                ls_free(fresh);
                ls_modelset_destroy(ms);
                result = "rejected";
                ls_log_kv(pl->log, LS_LOG_ERROR, "model_reload",
                          "model reload rejected: out of memory", "result",
                          result, NULL);
                goto count;
        }
        /* Everything scored under the old model is delivered and
         * committed before the first input meets the new one. */
        ls_producer_flush(pl->producer);
        ls_pl_commit(pl, NULL);
        for (p = 0; p < pl->n_parts; p++) {
                if (!fresh[p])
                        continue;
                ls_shard_destroy(pl->slots[p].shard);
                pl->slots[p].shard = fresh[p];
                pl->slots[p].supp_of = NULL;
                pl->slots[p].dur.dirty = 1;
                n++;
        }
        ls_free(fresh);
        ls_pl_set_caps(pl);
        ls_runmetrics_model_info(&pl->mh, pl->ms, 0);
        ls_runmetrics_model_info(&pl->mh, ms, 1);
        {
                char old[sizeof(pl->ms->version)], shards[16];
                memcpy(old, pl->ms->version, sizeof(old));
                ls_modelset_destroy(pl->ms);
                pl->ms = ms;
                snprintf(shards, sizeof(shards), "%" PRId32, n);
                result = "switched";
                ls_log_kv(pl->log, LS_LOG_INFO, "model_reload",
                          "model reloaded: inputs consumed from now on are "
                          "scored by the new model; lead state carried over",
                          "result", result, "old_version", old, "model_version",
                          ms->version, "shards", shards, NULL);
        }
        /* With snapshots: the migrated state under the new model at the switch
         * offsets becomes durable at once, so a restart resumes under the
         * new model from the switch point. */
        ls_pl_make_durable(pl, NULL, "model reload");
count:
        ls_runmetrics_reload(&pl->mh, result);
}
