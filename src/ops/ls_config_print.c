/*
 * ls_config_print.c - what a loaded config shows and hands on: the
 * settings as --print-config prints them (secrets as ********), the
 * registry client's settings, and the secret values the log masks.
 */
#include "leadscore/ls_config.h"

#include <stdio.h>
#include <string.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_registry.h"
#include "leadscore/ls_url.h"

static void ls_config_print_props(const ls_props_t *props, const char *section,
                                  FILE *fp) {
        size_t i;

        for (i = 0; i < props->n; i++)
                fprintf(fp, "  %s.%s = %s\n", section, props->names[i],
                        ls_props_is_secret(props->names[i]) ? "********"
                                                            : props->values[i]);
}

void ls_config_print(const ls_config_t *conf, FILE *fp) {
        fprintf(fp, "config %s:\n", conf->path);
        fprintf(fp, "  model = %s\n",
                conf->model_path ? conf->model_path : "(none)");
        fprintf(fp,
                "  topics = events:%s profiles:%s scores:%s alerts:%s "
                "dead_letters:%s\n",
                conf->topic_events, conf->topic_profiles, conf->topic_scores,
                conf->topic_alerts, conf->topic_dead_letters);
        fprintf(fp, "  group = %s\n", conf->group);
        fprintf(fp, "  format = input:%s output:%s\n",
                ls_format2str(conf->input_format),
                ls_format2str(conf->output_format));
        fprintf(fp, "  schemas = %s\n",
                conf->schema_dir ? conf->schema_dir : "(built in)");
        if (conf->registry_url) {
                /* user:password@ in the URL: the password is a secret */
                const char *u = conf->registry_url;
                size_t off, len;

                if (ls_url_password(u, &off, &len))
                        fprintf(fp, "  registry.url = %.*s********%s\n",
                                (int)off, u, u + off + len);
                else
                        fprintf(fp, "  registry.url = %s\n", u);
        }
        if (conf->registry_user_info)
                fprintf(fp, "  registry.basic_auth_user_info = %.*s:********\n",
                        (int)strcspn(conf->registry_user_info, ":"),
                        conf->registry_user_info);
        if (conf->registry_ca_location)
                fprintf(fp, "  registry.ca_location = %s\n",
                        conf->registry_ca_location);
        if (conf->registry_certificate_location)
                fprintf(fp, "  registry.certificate_location = %s\n",
                        conf->registry_certificate_location);
        if (conf->registry_key_location)
                fprintf(fp, "  registry.key_location = %s\n",
                        conf->registry_key_location);
        if (conf->registry_key_password)
                fprintf(fp, "  registry.key_password = ********\n");
        if (conf->registry_url)
                fprintf(fp, "  registry.max_lookups_per_second = %ld\n",
                        conf->registry_max_lookups_per_second);
        fprintf(fp, "  idle_tick = %lldms%s\n", (long long)conf->idle_tick_ms,
                conf->idle_tick_ms ? "" : " (off)");
        fprintf(fp, "  commit_interval = %lldms\n",
                (long long)conf->commit_interval_ms);
        fprintf(fp, "  max_record_bytes = %zu\n", conf->max_record_bytes);
        if (conf->max_leads == LS_MAX_LEADS_AUTO)
                fprintf(fp, "  max_leads = auto\n");
        else if (conf->max_leads == 0)
                fprintf(fp, "  max_leads = none\n");
        else
                fprintf(fp, "  max_leads = %lld\n", (long long)conf->max_leads);
        if (conf->snapshot_dir || conf->snapshot_topic) {
                fprintf(fp,
                        "  snapshot = %s:%s interval:%lldms every_events:%llu",
                        conf->snapshot_dir ? "dir" : "topic",
                        conf->snapshot_dir ? conf->snapshot_dir
                                           : conf->snapshot_topic,
                        (long long)conf->snapshot_interval_ms,
                        (unsigned long long)conf->snapshot_every_events);
                if (conf->snapshot_dir)
                        fprintf(fp, " keep:%d", conf->snapshot_keep);
                fprintf(fp, "%s (%s)\n",
                        conf->snapshot_allow_reset ? " allow_reset" : "",
                        ls_config_snapshot_source2str(conf));
        } else {
                fprintf(fp, "  snapshot = off (%s)\n",
                        ls_config_snapshot_source2str(conf));
        }
        fprintf(fp, "  merge_wait = %lldms\n", (long long)conf->merge_wait_ms);
        if (conf->workers == LS_WORKERS_AUTO) {
                char source[2500];
                int n = ls_config_workers_auto(source, sizeof(source));

                fprintf(fp, "  workers = auto (%d: %s)\n", n, source);
        } else
                fprintf(fp, "  workers = %d\n", conf->workers);
        fprintf(fp, "  transactional = %s\n",
                conf->transactional ? "true" : "false");
        fprintf(fp, "  metrics.listen = %s\n",
                conf->metrics_listen ? conf->metrics_listen : "(off)");
        fprintf(fp, "  log = format:%s level:%s\n",
                ls_log_format2str(conf->log_format),
                ls_log_level2str(conf->log_level));
        fprintf(fp, "  model_watch = %s\n",
                conf->model_watch ? "true" : "false");
        ls_config_print_props(&conf->kafka, "kafka", fp);
        ls_config_print_props(&conf->consumer, "consumer", fp);
        ls_config_print_props(&conf->producer, "producer", fp);
}

void ls_config_registry_conf(const ls_config_t *conf, ls_registry_conf_t *rc) {
        memset(rc, 0, sizeof(*rc));
        rc->url = conf->registry_url;
        rc->user_info = conf->registry_user_info;
        rc->ca_location = conf->registry_ca_location;
        rc->certificate_location = conf->registry_certificate_location;
        rc->key_location = conf->registry_key_location;
        rc->key_password = conf->registry_key_password;
        rc->max_lookups_per_second = conf->registry_max_lookups_per_second;
}

ls_err_t ls_config_log_secrets(const ls_config_t *conf, ls_log_t *log) {
        const ls_props_t *sets[3] = {&conf->kafka, &conf->consumer,
                                     &conf->producer};
        const char *u = conf->registry_url;
        size_t i, j, off, len;

        for (i = 0; i < 3; i++)
                for (j = 0; j < sets[i]->n; j++)
                        if (ls_props_is_secret(sets[i]->names[j]) &&
                            ls_log_add_secret(log, sets[i]->values[j]))
                                return LS_ERR_NOMEM;
        if (u && ls_url_password(u, &off, &len) && len > 0) {
                /* user:password@ in the URL */
                char *pw = ls_strndup(u + off, len);
                ls_err_t err = pw ? ls_log_add_secret(log, pw) : LS_ERR_NOMEM;

                ls_free(pw);
                if (err)
                        return err;
        }
        if (conf->registry_user_info &&
            ls_log_add_secret(log, strchr(conf->registry_user_info, ':') + 1))
                return LS_ERR_NOMEM;
        if (conf->registry_key_password &&
            ls_log_add_secret(log, conf->registry_key_password))
                return LS_ERR_NOMEM;
        return LS_OK;
}
