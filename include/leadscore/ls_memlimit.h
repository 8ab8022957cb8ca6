/*
 * ls_memlimit.h - the memory this process may use: its cgroup's limit
 * (v2 memory.max, else v1 memory.limit_in_bytes), else the machine's
 * memory (MemTotal), for sizing the lead cap (`max_leads: auto`): the
 * budget of leads over all partitions and each partition's share.
 *
 * Threading: any thread; nothing is shared.
 */
#ifndef LS_MEMLIMIT_H
#define LS_MEMLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "leadscore/ls_log.h"

/**
 * Reads the limit under @p root ("" for the real /sys and /proc; tests
 * pass a directory laid out like them). @p source receives the file the
 * figure came from. @returns the limit in bytes, or 0 when none of the
 * files gives one.
 */
uint64_t ls_memory_limit(const char *root, char *source, size_t source_size);

/**
 * The CPUs this process's cgroup quota allows under @p root (as
 * ls_memory_limit()): ceil(quota / period) of v2 cpu.max, or v1
 * cpu.cfs_quota_us / cpu.cfs_period_us, the lowest of its group and every
 * group above it. @p source receives the file. @returns it, or 0 when no
 * quota is set.
 */
int ls_cpu_limit(const char *root, char *source, size_t source_size);

/**
 * The lead budget of `run`, leads over all partitions: @p max_leads as
 * configured (0: no cap), or with LS_MAX_LEADS_AUTO (ls_config.h) half
 * of the memory limit under @p root (as ls_memory_limit()) at @p per_lead
 * bytes a lead (ls_lead_bytes_estimate()), at least 1; 0 when no limit is
 * found. Logs how it was sized (event lead_cap) to @p log.
 * @returns the budget; 0 = no cap.
 */
size_t ls_lead_budget(int64_t max_leads, uint64_t per_lead, const char *root,
                      ls_log_t *log);

/**
 * The cap of one partition's shard: @p budget over @p partitions (the
 * input topics' partition count; <= 0 counts as 1), at least 1; 0
 * without a budget.
 */
size_t ls_lead_partition_cap(size_t budget, int32_t partitions);

#endif /* LS_MEMLIMIT_H */
