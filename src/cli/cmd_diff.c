/*
 * cmd_diff.c - `leadscore diff`: replays history under the current and a
 * changed model file in one pass and reports what the change does (grade,
 * band and MQL changes, score distribution, grid cells), as text or JSON.
 * Options are shared with `leadscore replay` (cmd_replay.h).
 */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/cmd_replay.h"
#include "leadscore/ls_replay.h"

int ls_cmd_diff(int argc, char **argv) {
        ls_rcli_t c;
        ls_replay_t *rp = NULL;
        ls_diff_t *diff = NULL;
        ls_replay_stats_t st;
        char errstr[1024];
        int rc;

        rc = ls_rcli_parse(&c, "diff", 1, argc, argv);
        if (rc >= 0) {
                ls_rcli_free(&c);
                return rc;
        }
        if (c.rc.snapshot) {
                ls_rcli_free(&c);
                return ls_cli_usage_error("diff", "--snapshot is not "
                                                  "supported by diff");
        }
        rc = LS_EXIT_ERROR;
        if (!(rp = ls_replay_new(&c.rc, errstr, sizeof(errstr))) ||
            ls_replay_run(rp, errstr, sizeof(errstr)) ||
            !(diff = ls_diff_new(rp, (size_t)c.examples, errstr,
                                 sizeof(errstr)))) {
                fprintf(stderr, "leadscore diff: %s\n", errstr);
                goto done;
        }
        ls_replay_stats(rp, &st);
        if (c.json) {
                if (ls_diff_print_json(diff, stdout)) {
                        fprintf(stderr, "leadscore diff: cannot write the "
                                        "report\n");
                        goto done;
                }
        } else {
                ls_diff_print_text(diff, stdout);
        }
        if (fflush(stdout) != 0) {
                fprintf(stderr, "leadscore diff: <stdout>: write error\n");
                goto done;
        }
        if (!c.quiet)
                fprintf(stderr,
                        "diff: %llu records, %llu bad, %d shard%s in %.3f s\n",
                        (unsigned long long)st.records,
                        (unsigned long long)st.bad, (int)st.partitions,
                        st.partitions == 1 ? "" : "s", st.seconds);
        rc = st.bad ? LS_EXIT_BADDATA : LS_EXIT_OK;
done:
        ls_diff_destroy(diff);
        ls_replay_destroy(rp);
        ls_rcli_free(&c);
        return rc;
}
