/*
 * cmd_check.c - `leadscore check`: loads and validates a model file and
 * prints its summary; on error prints the loader's message (file:line:
 * key: why).
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "leadscore/ls_model.h"

static void ls_check_usage(FILE *fp) {
        fprintf(fp,
                "usage: leadscore check --model FILE\n"
                "\n"
                "Loads and validates a model file (see docs/MODEL.md) and "
                "prints a summary:\n"
                "models, rules, grades, bands, alerts and model versions.\n"
                "\n"
                "options:\n"
                "  -m, --model FILE  model file (YAML) to check (required)\n"
                "  -h, --help        print this help and exit\n"
                "\n"
                "exit status:\n"
                "  0   the model is valid\n"
                "  1   the model is invalid or unreadable (the error, with "
                "file:line: key,\n"
                "      is printed on stderr)\n"
                "  64  usage error\n");
}

int ls_cmd_check(int argc, char **argv) {
        static const struct option longopts[] = {
                {"model", required_argument, NULL, 'm'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *model_path = NULL;
        ls_modelset_t *ms = NULL;
        char errstr[1024];
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":m:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        model_path = optarg;
                        break;
                case 'h':
                        ls_check_usage(stdout);
                        return LS_EXIT_OK;
                default:
                        return ls_cli_bad_option("check", c, argv);
                }
        }
        if (optind < argc)
                return ls_cli_usage_error("check", "unexpected argument '%s'",
                                          argv[optind]);
        if (!model_path)
                return ls_cli_usage_error("check", "--model FILE is required");

        if (ls_modelset_load(model_path, &ms, errstr, sizeof(errstr)) !=
            LS_OK) {
                fprintf(stderr, "%s\n", errstr);
                return LS_EXIT_ERROR;
        }
        ls_modelset_print_summary(ms, stdout);
        ls_modelset_destroy(ms);
        if (fflush(stdout) != 0) {
                perror("leadscore check: stdout");
                return LS_EXIT_ERROR;
        }
        return LS_EXIT_OK;
}
