/*
 * ls_memlimit.h - the memory this process may use: its cgroup's limit
 * (v2 memory.max, else v1 memory.limit_in_bytes), else the machine's
 * memory (MemTotal), for sizing the lead cap (`max_leads: auto`).
 */
#ifndef LS_MEMLIMIT_H
#define LS_MEMLIMIT_H

#include <stddef.h>
#include <stdint.h>

/**
 * Reads the limit under @p root ("" for the real /sys and /proc; tests
 * pass a directory laid out like them). @p source receives the file the
 * figure came from. @returns the limit in bytes, or 0 when none of the
 * files gives one.
 */
uint64_t ls_memory_limit(const char *root, char *source, size_t source_size);

#endif /* LS_MEMLIMIT_H */
