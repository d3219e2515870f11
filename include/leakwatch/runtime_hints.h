/*
 * What a runtime's command line and environment say about its heap: which runtime it is and
 * the ceiling its garbage collector sizes the heap toward (struct lw_runtime_hint, record.h).
 *
 * Why: a garbage-collected runtime's resident memory rises for hundreds of invocations while it
 * sizes its heap (V8 growing its old space, a JVM touching the heap it committed, .NET's GC
 * budget), and then stays flat. That rise looks like a leak to anything that only sees the
 * readings. The ceiling it rises toward is often written down where leakwatch can read it
 * without any change to the function: -Xmx in the JVM's arguments, --max-old-space-size in
 * node's (Lambda's own runtimes put them there for the memory size), JAVA_TOOL_OPTIONS,
 * NODE_OPTIONS, DOTNET_GCHeapHardLimit in the environment. docs/verdict.md lists every setting
 * and default read here, with their sources.
 *
 * Pure: the caller reads /proc/PID/cmdline and /proc/PID/environ (once, when the runtime is
 * first seen) and passes their bytes as (pointer, length): NUL-separated strings, the last one
 * possibly cut off by a short read (it is then ignored). Nothing here allocates, touches /proc
 * or reads leakwatch's own environment. Every byte is untrusted: a value that is not a number,
 * overflows or is out of range is ignored as the runtime would reject it, never guessed.
 */
#ifndef LEAKWATCH_RUNTIME_HINTS_H
#define LEAKWATCH_RUNTIME_HINTS_H

#include <stddef.h>
#include <stdint.h>

#include <leakwatch/record.h>

/* Bytes of /proc/PID/environ the caller reads at most; the rest is not looked at. */
#define LW_RUNTIME_HINTS_ENVIRON_MAX 32768

/*
 * Fills *out from the runtime's command line and environment. Never fails: what cannot be
 * told is left unknown (kind LW_RUNTIME_UNKNOWN, source LW_HEAP_UNKNOWN). Which runtime: the
 * base name of argv[0] (node, nodejs, java, dotnet, python*), else AWS_EXECUTION_ENV
 * (AWS_Lambda_nodejs*, AWS_Lambda_java*, AWS_Lambda_dotnet*, AWS_Lambda_python*). The heap
 * ceiling, in the runtime's own order of precedence:
 *  - JVM: -Xmx / -XX:MaxHeapSize (bytes), else -XX:MaxRAMPercentage (permille of the memory
 *    size), else -XX:MaxRAM (25% of it); options from JAVA_TOOL_OPTIONS, then JDK_JAVA_OPTIONS,
 *    then the command line, then _JAVA_OPTIONS, the last one winning; without any, the JVM's
 *    default of 25% of the memory it sees.
 *  - Node.js: --max-old-space-size plus three semi-spaces (--max-semi-space-size, default
 *    16 MiB: V8's young generation), NODE_OPTIONS first and the command line winning; without
 *    it, under AWS_Lambda_nodejs*, Lambda's default for the memory size (90% old space, 5%
 *    semi-space).
 *  - .NET: DOTNET_GCHeapHardLimit (or COMPlus_), hexadecimal bytes, else
 *    DOTNET_GCHeapHardLimitPercent (hexadecimal percent), else the GC's 75% of a container's
 *    memory limit.
 *  - Python and unknown runtimes: no ceiling.
 * And what leakwatch's exec wrapper set up for the runtime: LEAKWATCH_PROBE ("node", "python",
 * "jvm", or "off: <why>", the reason kept in probe_note; any other value is off too).
 */
void lw_runtime_hints_parse(const char *cmdline, size_t cmdline_len, const char *environ,
                            size_t environ_len, struct lw_runtime_hint *out);

/* The heap ceiling in bytes for a function of memory_limit_bytes (0: unknown), or 0 when it is
 * not known. */
uint64_t lw_runtime_hint_heap_bytes(const struct lw_runtime_hint *h, uint64_t memory_limit_bytes);

/* V8's old space in bytes for a function of memory_limit_bytes: from --max-old-space-size, or
 * Lambda's 90% of the memory size under a Lambda Node.js runtime; 0 when not known. */
uint64_t lw_runtime_hint_old_space_bytes(const struct lw_runtime_hint *h,
                                         uint64_t memory_limit_bytes);

/* "unknown", "node", "jvm", "dotnet", "python". */
const char *lw_runtime_kind_name(enum lw_runtime_kind kind);

/* "unknown", "command line", "environment", "default". */
const char *lw_heap_source_name(enum lw_heap_source source);

#endif
