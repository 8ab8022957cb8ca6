/*
 * cli.h - subcommands of the `leadscore` executable.
 *
 * Each subcommand lives in src/cli/cmd_<name>.c and is listed in the
 * command table of main.c. A command receives argv with argv[0] set to
 * its own name and returns the process exit status (see LS_EXIT_*).
 */
#ifndef LS_CLI_H
#define LS_CLI_H

#define LS_EXIT_OK 0      /* success */
#define LS_EXIT_ERROR 1   /* model, I/O or runtime error */
#define LS_EXIT_BADDATA 2 /* ran to the end, but some input was rejected */
#define LS_EXIT_USAGE 64  /* command line error (EX_USAGE) */

int ls_cmd_check(int argc, char **argv);
int ls_cmd_score(int argc, char **argv);
int ls_cmd_run(int argc, char **argv);
int ls_cmd_broker(int argc, char **argv);
int ls_cmd_demo(int argc, char **argv);
int ls_cmd_snapshot(int argc, char **argv);
int ls_cmd_replay(int argc, char **argv);
int ls_cmd_diff(int argc, char **argv);
int ls_cmd_calibrate(int argc, char **argv);

/**
 * Reports a usage error for command @p cmd on stderr (message plus a hint
 * to run `leadscore <cmd> --help`). @returns LS_EXIT_USAGE.
 */
int ls_cli_usage_error(const char *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/**
 * Reports the option getopt_long() rejected (unknown option or missing
 * argument) for command @p cmd. Call with opterr = 0 and an optstring
 * starting with ':'. @returns LS_EXIT_USAGE.
 */
int ls_cli_bad_option(const char *cmd, int c, char **argv);

/**
 * Parses a time given on the command line: integer milliseconds since the
 * epoch or an RFC 3339 string. @returns 0 and *msp, or -1.
 */
int ls_cli_parse_time(const char *s, long long *msp);

#endif /* LS_CLI_H */
