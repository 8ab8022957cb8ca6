/*
 * ls_memlimit.c - the memory limit of this process (see ls_memlimit.h).
 */
#include "leadscore/ls_memlimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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
 * "0::/PATH" (@p v2) or the v1 memory controller's "N:memory:/PATH"
 * (@p v1). Empty when absent or at the root.
 */
static void ls_memlimit_own(const char *root, char *v2, char *v1,
                            size_t size) {
        char full[4096], line[2048], *path, *dst;
        FILE *f;

        v2[0] = v1[0] = '\0';
        snprintf(full, sizeof(full), "%s/proc/self/cgroup", root);
        if (!(f = fopen(full, "r")))
                return;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                if (!strncmp(line, "0::/", 4)) {
                        path = line + 3;
                        dst = v2;
                } else if ((path = strstr(line, ":memory:/")) != NULL) {
                        path += 8;
                        dst = v1;
                } else {
                        continue;
                }
                if (strcmp(path, "/") && strlen(path) < size)
                        memcpy(dst, path, strlen(path) + 1);
        }
        fclose(f);
}

uint64_t ls_memory_limit(const char *root, char *source,
                         size_t source_size) {
        char v2[1024], v1[1024], own2[1200] = "", own1[1200] = "";
        const char *cgroups[4];
        uint64_t v, total = ls_memlimit_meminfo(root);
        size_t i, n = 0;

        /* this process's own group first (a systemd unit's MemoryMax=),
         * then the root of the namespace (a container's limit) */
        ls_memlimit_own(root, v2, v1, sizeof(v2));
        if (v2[0]) {
                snprintf(own2, sizeof(own2), "/sys/fs/cgroup%s/memory.max",
                         v2);
                cgroups[n++] = own2;
        }
        cgroups[n++] = "/sys/fs/cgroup/memory.max";
        if (v1[0]) {
                snprintf(own1, sizeof(own1),
                         "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", v1);
                cgroups[n++] = own1;
        }
        cgroups[n++] = "/sys/fs/cgroup/memory/memory.limit_in_bytes";
        for (i = 0; i < n; i++) {
                v = ls_memlimit_cgroup(root, cgroups[i]);
                /* a cgroup limit above the machine's memory is no limit */
                if (v > 0 && (total == 0 || v < total)) {
                        snprintf(source, source_size, "%s", cgroups[i]);
                        return v;
                }
        }
        snprintf(source, source_size, "%s",
                 total ? "/proc/meminfo MemTotal" : "none");
        return total;
}
