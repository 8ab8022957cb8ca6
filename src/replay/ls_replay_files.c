/*
 * ls_replay_files.c - replay of input files: JSON lines (as `leadscore
 * score` reads them) and Avro object container files of LeadEvent or
 * LeadProfile (another writer schema is resolved to ours by avro-c), read
 * in the order given by the driving thread into one shard.
 */
#include "replay/ls_replay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <avro.h>

#include "leadscore/ls_alloc.h"
#include "leadscore/ls_json.h"

/* --------------------------------------------------------- file reading */

static ls_err_t ls_rp_json_file(ls_replay_t *rp, ls_rp_worker_t *w,
                                const char *path, FILE *fp, char *errstr,
                                size_t errstr_size) {
        ls_rp_part_t *part = &rp->parts[0];
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        ls_rp_loc_t loc = {path, -1, 0, NULL};
        ls_record_t rec = {.kind = LS_INPUT_EVENT, .timestamp = -1};

        while ((n = getline(&line, &cap, fp)) != -1) {
                loc.pos++;
                rp->done_bytes += (uint64_t)n;
                if (ls_json_blank(line, (size_t)n))
                        continue;
                rp->records++;
                rec.value = line;
                rec.len = (size_t)n;
                if (ls_rp_feed(rp, w, part, w->jcodec, &rec, &loc))
                        break;
                atomic_fetch_add(&rp->scored, 1);
                if ((rp->records & 4095) == 0)
                        ls_rp_progress(rp, 0);
        }
        free(line); /* allocated by getline() */
        if (ferror(fp))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: read error: %s", path, strerror(errno));
        return LS_OK;
}

static ls_err_t ls_rp_avro_file(ls_replay_t *rp, ls_rp_worker_t *w,
                                const char *path, char *errstr,
                                size_t errstr_size) {
        ls_rp_part_t *part = &rp->parts[0];
        avro_file_reader_t fr = NULL;
        avro_schema_t wschema = NULL, rschema = NULL;
        avro_value_iface_t *wiface = NULL, *riface = NULL, *resolver = NULL;
        avro_value_t wval, rval, resolved;
        int has_w = 0, has_r = 0, has_res = 0, rc;
        ls_input_kind_t kind;
        const char *name, *sfile;
        char spath[4096], *stext = NULL;
        ls_buf_t bin;
        ls_rp_loc_t loc = {path, -1, 0, "record"};
        ls_err_t err = LS_OK;

        ls_buf_init(&bin);
        if (avro_file_reader(path, &fr))
                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                 "%s: not an Avro container file: %s", path,
                                 avro_strerror());
        wschema = avro_file_reader_get_writer_schema(fr);
        name = wschema ? avro_schema_name(wschema) : NULL;
        if (name && !strcmp(name, "LeadEvent"))
                kind = LS_INPUT_EVENT;
        else if (name && !strcmp(name, "LeadProfile"))
                kind = LS_INPUT_PROFILE;
        else {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                "%s: schema %s is neither LeadEvent nor "
                                "LeadProfile",
                                path, name ? name : "(none)");
                goto done;
        }
        /* Our reader schema: the codec's (built in, or the configured
         * directory's), named in errors as the codec names it. */
        sfile = kind == LS_INPUT_EVENT ? "lead_event.avsc"
                                       : "lead_profile.avsc";
        if (rp->conf.schema_dir && *rp->conf.schema_dir)
                snprintf(spath, sizeof(spath), "%s/%s", rp->conf.schema_dir,
                         sfile);
        else
                snprintf(spath, sizeof(spath), "%s (built in)", sfile);
        if ((err = ls_codec_schema_text(rp->conf.schema_dir, sfile, &stext,
                                        errstr, errstr_size)))
                goto done;
        if (avro_schema_from_json_length(stext, strlen(stext), &rschema)) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID, "%s: %s",
                                spath, avro_strerror());
                goto done;
        }
        wiface = avro_generic_class_from_schema(wschema);
        if (!wiface || avro_generic_value_new(wiface, &wval)) {
                err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID, "%s: %s",
                                path, avro_strerror());
                goto done;
        }
        has_w = 1;
        if (!avro_schema_equal(wschema, rschema)) {
                /* Another writer schema: resolve to ours. */
                riface = avro_generic_class_from_schema(rschema);
                resolver = avro_resolved_writer_new(wschema, rschema);
                if (!riface || !resolver ||
                    avro_generic_value_new(riface, &rval)) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                        "%s: writer schema cannot be read "
                                        "as %s: %s",
                                        path, spath, avro_strerror());
                        goto done;
                }
                has_r = 1;
                if (avro_resolved_writer_new_value(resolver, &resolved)) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                        "%s: %s", path, avro_strerror());
                        goto done;
                }
                has_res = 1;
                avro_resolved_writer_set_dest(&resolved, &rval);
        }
        for (;;) {
                avro_value_t *v = has_res ? &rval : &wval;
                size_t size = 0;
                avro_writer_t aw;

                rc = avro_file_reader_read_value(fr,
                                                 has_res ? &resolved : &wval);
                if (rc == EOF)
                        break;
                loc.pos++;
                if (rc) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_INVALID,
                                        "%s: record %" PRId64 ": %s", path,
                                        loc.pos, avro_strerror());
                        break;
                }
                rp->records++;
                if (avro_value_sizeof(v, &size) ||
                    ls_buf_reserve(&bin, size + 1)) {
                        err = ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                        "%s: record %" PRId64 ": %s", path,
                                        loc.pos, avro_strerror());
                        break;
                }
                aw = avro_writer_memory(bin.data, (int64_t)size);
                rc = avro_value_write(aw, v);
                avro_writer_free(aw);
                if (rc == 0) {
                        ls_record_t rec = {.kind = kind,
                                           .value = bin.data,
                                           .len = size,
                                           .timestamp = -1};
                        if (ls_rp_feed(rp, w, part, w->codec, &rec, &loc))
                                break;
                } else {
                        part->verdicts.n[LS_V_DECODE]++;
                        ls_rp_report_bad(&loc, avro_strerror());
                }
                atomic_fetch_add(&rp->scored, 1);
                if ((rp->records & 4095) == 0)
                        ls_rp_progress(rp, 0);
        }
done:
        if (has_res)
                avro_value_decref(&resolved);
        if (resolver)
                avro_value_iface_decref(resolver);
        if (has_r)
                avro_value_decref(&rval);
        if (riface)
                avro_value_iface_decref(riface);
        if (has_w)
                avro_value_decref(&wval);
        if (wiface)
                avro_value_iface_decref(wiface);
        if (rschema)
                avro_schema_decref(rschema);
        if (wschema) /* the reader hands out a new reference */
                avro_schema_decref(wschema);
        if (fr)
                avro_file_reader_close(fr);
        ls_free(stext);
        ls_buf_free(&bin);
        return err;
}

static int ls_rp_is_avro(const ls_replay_t *rp, const char *path) {
        size_t n = strlen(path);

        if (rp->conf.file_format != LS_REPLAY_FILE_AUTO)
                return rp->conf.file_format == LS_REPLAY_FILE_AVRO;
        return n > 5 && !strcmp(path + n - 5, ".avro");
}

ls_err_t ls_rp_run_files(ls_replay_t *rp, char *errstr, size_t errstr_size) {
        ls_rp_worker_t *w;
        ls_err_t err;
        size_t i;
        struct stat st;

        rp->total_is_bytes = 1;
        /* JSON files go through the JSON decoder; the codec reads Avro. */
        for (i = 0; i < rp->conf.n_inputs; i++)
                if (ls_rp_is_avro(rp, rp->conf.inputs[i]))
                        rp->conf.input_format = LS_FORMAT_AVRO;
        for (i = 0; i < rp->conf.n_inputs; i++)
                if (strcmp(rp->conf.inputs[i], "-") &&
                    stat(rp->conf.inputs[i], &st) == 0)
                        rp->total += (uint64_t)st.st_size;
        if ((err = ls_rp_alloc_parts(rp, 1, errstr, errstr_size)))
                return err;
        rp->workers = ls_calloc(1, sizeof(*rp->workers));
        if (!rp->workers)
                return ls_seterr(errstr, errstr_size, LS_ERR_NOMEM,
                                 "out of memory");
        rp->n_workers = 1;
        w = &rp->workers[0];
        if ((err = ls_rp_worker_init(rp, w, errstr, errstr_size)))
                return err;
        for (i = 0; i < rp->conf.n_inputs && !ls_rp_failed(rp); i++) {
                const char *path = rp->conf.inputs[i];
                if (ls_rp_is_avro(rp, path)) {
                        if ((err = ls_rp_avro_file(rp, w, path, errstr,
                                                   errstr_size)))
                                return err;
                } else {
                        FILE *fp = strcmp(path, "-") ? fopen(path, "r")
                                                     : fdopen(dup(0), "r");
                        char *iobuf;
                        if (!fp)
                                return ls_seterr(errstr, errstr_size, LS_ERR_IO,
                                                 "%s: %s", path,
                                                 strerror(errno));
                        iobuf = ls_malloc(1 << 20);
                        if (iobuf)
                                setvbuf(fp, iobuf, _IOFBF, 1 << 20);
                        err = ls_rp_json_file(
                                rp, w, strcmp(path, "-") ? path : "<stdin>", fp,
                                errstr, errstr_size);
                        fclose(fp);
                        ls_free(iobuf);
                        if (err)
                                return err;
                }
        }
        rp->t_read = ls_rp_now();
        if (!ls_rp_failed(rp) && !ls_rp_feed_end(rp, w, &rp->parts[0])) {
                ls_rp_avro_block(rp, &rp->parts[0], 0);
                ls_rp_avro_block(rp, &rp->parts[0], 1);
                ls_rp_writer(rp, &rp->parts[0], 1);
        }
        return LS_OK;
}
