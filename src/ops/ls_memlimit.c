/*
 * ls_memlimit.c - the memory limit of this process (see ls_memlimit.h).
 */
#include "leadscore/ls_memlimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "leadscore/ls_config.h"

/* A v1 cgroup without a limit reports a number near 2^63. */
#define LS_MEMLIMIT_NONE (UINT64_C(1) << 60)

/** Reads the first line of @p root/@p path into @p line. */
static int ls_memlimit_line(const char *root, const char *path, char *line,
                            size_t size) {
        char full[4096];
        FILE *f;
        int ok;

        snprintf(full, sizeof(full), "%s%s", root, path);
        if (!(f = fopen(full, "r")))
                return 0;
        ok = fgets(line, (int)size, f) != NULL;
        fclose(f);
        return ok;
}

/** @returns the cgroup file's byte count, or 0 ("max", none, absurd). */
static uint64_t ls_memlimit_cgroup(const char *root, const char *path) {
        char line[128];
        uint64_t v;

        if (!ls_memlimit_line(root, path, line, sizeof(line)) ||
            sscanf(line, "%" SCNu64, &v) != 1 || v == 0 ||
            v >= LS_MEMLIMIT_NONE)
                return 0;
        return v;
}

static uint64_t ls_memlimit_meminfo(const char *root) {
        char full[4096], line[256];
        uint64_t kib = 0;
        FILE *f;

        snprintf(full, sizeof(full), "%s/proc/meminfo", root);
        if (!(f = fopen(full, "r")))
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1)
                        break;
        fclose(f);
        return kib * 1024;
}

/**
 * Finds this process's group in @p root/proc/self/cgroup: the v2 line
 * "0::/PATH" (@p v2) or the v1 line whose controllers include
 * @p controller (memory, cpu),
 * "N:...memory...:/PATH" (@p v1, its controllers in @p v1_ctl, e.g.
 * "cpu,memory", the name of their mount). Empty when absent or at the
 * root.
 */
static void ls_memlimit_own(const char *root, const char *controller, char *v2,
                            char *v1, char *v1_ctl, size_t size) {
        char full[4096], line[2048], *ctl, *path, *dst;
        FILE *f;

        v2[0] = v1[0] = v1_ctl[0] = '\0';
        snprintf(full, sizeof(full), "%s/proc/self/cgroup", root);
        if (!(f = fopen(full, "r")))
                return;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                /* "ID:CONTROLLERS:PATH" */
                if (!(ctl = strchr(line, ':')) ||
                    !(path = strchr(ctl + 1, ':')))
                        continue;
                *ctl++ = '\0';
                *path++ = '\0';
                if (!strcmp(line, "0") && !*ctl) {
                        dst = v2;
                } else {
                        /* the controllers: a comma-separated list */
                        char list[256], *tok, *save = NULL;
                        int memory = 0;

                        snprintf(list, sizeof(list), "%s", ctl);
                        for (tok = strtok_r(list, ",", &save); tok;
                             tok = strtok_r(NULL, ",", &save))
                                memory |= !strcmp(tok, controller);
                        if (!memory || strlen(ctl) >= size)
                                continue;
                        memcpy(v1_ctl, ctl, strlen(ctl) + 1);
                        dst = v1;
                }
                if (*path == '/' && strcmp(path, "/") && strlen(path) < size)
                        memcpy(dst, path, strlen(path) + 1);
        }
        fclose(f);
}

/*
 * Reads @p file in @p base@p group and in each ancestor group up to
 * @p base's root (a systemd slice's MemoryMax= or CPUQuota= binds every
 * unit in it) with @p read (0: no limit there), lowering *@p best to the
 * lowest and noting where it came from in @p source.
 */
static void ls_cgroup_walk(const char *root, const char *base,
                           const char *group, const char *file,
                           uint64_t (*read)(const char *root, const char *path),
                           uint64_t *best, char *source, size_t source_size) {
        char path[2400], rel[1200]; /* base (at most 1100) + rel + file */
        char *slash;
        uint64_t v;

        snprintf(rel, sizeof(rel), "%s", group);
        for (;;) {
                snprintf(path, sizeof(path), "%s%s/%s", base, rel, file);
                v = read(root, path);
                if (v > 0 && (*best == 0 || v < *best)) {
                        *best = v;
                        snprintf(source, source_size, "%s", path);
                }
                if (!rel[0])
                        break;
                slash = strrchr(rel, '/');
                *slash = '\0'; /* "/a/b" -> "/a" -> "" (the root) */
        }
}

uint64_t ls_memory_limit(const char *root, char *source, size_t source_size) {
        char v2[1024], v1[1024], ctl[1024], base[1100], where[2400] = "";
        uint64_t best = 0, total = ls_memlimit_meminfo(root);

        /* the lowest limit of this process's group and its ancestors, v2
         * (a container's namespace root included) and v1 */
        ls_memlimit_own(root, "memory", v2, v1, ctl, sizeof(v2));
        ls_cgroup_walk(root, "/sys/fs/cgroup", v2, "memory.max",
                       ls_memlimit_cgroup, &best, where, sizeof(where));
        ls_cgroup_walk(root, "/sys/fs/cgroup/memory", v1,
                       "memory.limit_in_bytes", ls_memlimit_cgroup, &best,
                       where, sizeof(where));
        /* co-mounted controllers: mounted as e.g. /sys/fs/cgroup/cpu,memory
         * (where no "memory" link points to it) */
        if (ctl[0] && strcmp(ctl, "memory")) {
                snprintf(base, sizeof(base), "/sys/fs/cgroup/%s", ctl);
                ls_cgroup_walk(root, base, v1, "memory.limit_in_bytes",
                               ls_memlimit_cgroup, &best, where, sizeof(where));
        }
        /* a cgroup limit above the machine's memory is no limit */
        if (best > 0 && (total == 0 || best < total)) {
                snprintf(source, source_size, "%s", where);
                return best;
        }
        snprintf(source, source_size, "%s",
                 total ? "/proc/meminfo MemTotal" : "none");
        return total;
}

/* CPUs the quota in @p path allows (rounded up): v2 "QUOTA PERIOD"
 * ("max": none) in cpu.max, v1 the quota in cpu.cfs_quota_us (-1: none)
 * and the period beside it; 0 none. */
static uint64_t ls_cpu_quota(const char *root, const char *path) {
        static const char v1_quota[] = "cpu.cfs_quota_us";
        char line[128], ppath[2100];
        long long quota = 0, period = 0;
        size_t n = strlen(path), q = sizeof(v1_quota) - 1;

        if (!ls_memlimit_line(root, path, line, sizeof(line)))
                return 0;
        if (n >= q && !strcmp(path + n - q, v1_quota)) {
                snprintf(ppath, sizeof(ppath), "%.*scpu.cfs_period_us",
                         (int)(n - q), path);
                if (sscanf(line, "%lld", &quota) != 1 ||
                    !ls_memlimit_line(root, ppath, line, sizeof(line)) ||
                    sscanf(line, "%lld", &period) != 1)
                        return 0;
        } else if (sscanf(line, "%lld %lld", &quota, &period) != 2) {
                return 0;
        }
        if (quota <= 0 || period <= 0)
                return 0;
        return (uint64_t)((quota + period - 1) / period);
}

int ls_cpu_limit(const char *root, char *source, size_t source_size) {
        char v2[1024], v1[1024], ctl[1024], base[1100], where[2400] = "";
        uint64_t best = 0;

        ls_memlimit_own(root, "cpu", v2, v1, ctl, sizeof(v2));
        ls_cgroup_walk(root, "/sys/fs/cgroup", v2, "cpu.max", ls_cpu_quota,
                       &best, where, sizeof(where));
        ls_cgroup_walk(root, "/sys/fs/cgroup/cpu", v1, "cpu.cfs_quota_us",
                       ls_cpu_quota, &best, where, sizeof(where));
        if (ctl[0] && strcmp(ctl, "cpu")) { /* e.g. cpu,cpuacct */
                snprintf(base, sizeof(base), "/sys/fs/cgroup/%s", ctl);
                ls_cgroup_walk(root, base, v1, "cpu.cfs_quota_us", ls_cpu_quota,
                               &best, where, sizeof(where));
        }
        snprintf(source, source_size, "%s", best ? where : "none");
        return best > INT32_MAX ? INT32_MAX : (int)best;
}

size_t ls_lead_budget(int64_t max_leads, uint64_t per_lead, const char *root,
                      ls_log_t *log) {
        char source[1400];
        uint64_t limit;
        size_t budget;

        if (max_leads != LS_MAX_LEADS_AUTO) {
                budget = (size_t)max_leads;
                if (budget)
                        ls_log(log, LS_LOG_INFO, "lead_cap",
                               "at most %zu leads over all partitions, "
                               "each partition its share (max_leads)",
                               budget);
                else
                        ls_log(log, LS_LOG_WARN, "lead_cap",
                               "no lead cap (max_leads: none): a flood of "
                               "new lead ids can exhaust memory");
                return budget;
        }
        limit = ls_memory_limit(root, source, sizeof(source));
        budget = (size_t)(limit / 2 / (per_lead ? per_lead : 1));
        if (limit && budget == 0)
                budget = 1;
        if (limit)
                ls_log(log, LS_LOG_INFO, "lead_cap",
                       "at most %zu leads over all partitions, "
                       "each partition its share (max_leads: "
                       "auto): half of the memory limit of %" PRIu64
                       " bytes (%s) at about %" PRIu64 " bytes per lead",
                       budget, limit, source, per_lead);
        else
                ls_log(log, LS_LOG_WARN, "lead_cap",
                       "no lead cap (max_leads: auto): no memory "
                       "limit found (no cgroup limit, no "
                       "/proc/meminfo); set max_leads");
        return budget;
}

size_t ls_lead_partition_cap(size_t budget, int32_t partitions) {
        size_t cap;

        if (budget == 0)
                return 0;
        cap = budget / (size_t)(partitions > 0 ? partitions : 1);
        return cap > 0 ? cap : 1;
}
