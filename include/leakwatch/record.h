/*
 * The per-invocation record: what leakwatch knows about one invocation of the function,
 * assembled from two boundary snapshots of /proc (start and end) and, when the Telemetry API
 * delivers it, the platform's own report. Plain data: no pointers, safe to copy by value
 * between threads.
 */
#ifndef LEAKWATCH_RECORD_H
#define LEAKWATCH_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#define LW_NAME_MAX 64       /* process or extension name, NUL included */
#define LW_REQUEST_ID_MAX 64 /* request ids are UUIDs (36 chars); longer ones are truncated */
#define LW_ENV_ID_MAX 128    /* the platform's instanceId, or an id leakwatch made */
#define LW_MAX_PROCS 32      /* processes tracked per snapshot; more are counted as dropped */
#define LW_STATUS_MAX 16     /* "success", "failure", "error", "timeout" */
#define LW_ERROR_TYPE_MAX 64

/* What a process is to the function's environment. */
enum lw_proc_role {
    LW_ROLE_RUNTIME = 0,   /* the runtime started by Lambda's init (the function's bootstrap) */
    LW_ROLE_RUNTIME_CHILD, /* a descendant of the runtime: counted as the function */
    LW_ROLE_EXTENSION,     /* another external extension, by its file name */
    LW_ROLE_SELF,          /* leakwatch itself */
    /* a process leakwatch cannot place for certain (see snapshot.h): in the environment's
     * total, in neither the function's nor the extensions' */
    LW_ROLE_UNKNOWN,
    LW_ROLE_COUNT
};

/* "runtime", "runtime-child", "extension", "self", "unknown". */
const char *lw_proc_role_name(enum lw_proc_role role);

/* true for the roles that count as the function: the runtime and its descendants. */
bool lw_record_role_is_function(enum lw_proc_role role);

/* What the runtime's command line and environment say about its heap, read once when the
 * runtime is first seen (parser: runtime_hints.h). The trend engine uses it to tell a garbage
 * collector sizing its heap from a leak. */
enum lw_runtime_kind {
    LW_RUNTIME_UNKNOWN = 0, /* a custom runtime leakwatch knows nothing about */
    LW_RUNTIME_NODE,        /* Node.js (V8) */
    LW_RUNTIME_JVM,         /* a Java virtual machine */
    LW_RUNTIME_DOTNET,      /* .NET */
    LW_RUNTIME_PYTHON,      /* CPython */
    LW_RUNTIME_KIND_COUNT
};
enum lw_heap_source {
    LW_HEAP_UNKNOWN = 0, /* no ceiling known */
    LW_HEAP_CMDLINE,     /* a flag on the runtime's command line */
    LW_HEAP_ENVIRON,     /* an option in the runtime's environment (NODE_OPTIONS, ...) */
    LW_HEAP_DEFAULT,     /* the runtime's (or Lambda's) default for the memory size */
};
/* What leakwatch's exec wrapper (/opt/leakwatch/wrapper) set up for a runtime: LEAKWATCH_PROBE
 * in the runtime's environment (docs/runtime-insight.md). */
enum lw_probe_kind {
    LW_PROBE_NONE = 0,     /* no wrapper: the runtime was not started through it */
    LW_PROBE_OFF,          /* the wrapper ran and left the probe off (lw_runtime_hint.probe_note) */
    LW_PROBE_NODE,         /* V8's heap after collections, written by the Node.js probe */
    LW_PROBE_PYTHON,       /* collections, allocated blocks, tracemalloc: the Python probe */
    LW_PROBE_JVM,          /* the JVM's own unified GC log, parsed by leakwatch */
    LW_PROBE_JVM_PERFDATA, /* no wrapper: the JVM's performance-data file (hsperf.h) */
    LW_PROBE_KIND_COUNT
};

struct lw_runtime_hint {
    enum lw_runtime_kind kind;
    enum lw_heap_source source;
    uint64_t heap_max_bytes;    /* the heap's ceiling in bytes; 0 when given as permille */
    uint32_t heap_max_permille; /* or: in thousandths of the function's memory size */
    /* V8: the old space alone, where what the heap retains lives: the runtime fails when what a
     * full collection leaves exceeds it. In bytes, or in thousandths; both 0 when unknown. */
    uint64_t old_space_bytes;
    uint32_t old_space_permille;
    char origin[32];          /* the setting it came from ("-Xmx400m", "NODE_OPTIONS") */
    enum lw_probe_kind probe; /* what the exec wrapper set up */
    char probe_note[48];      /* why it is off, as the wrapper said it (printable ASCII) */
};

/* "none", "off", "node", "python", "jvm", "jvm-perfdata". */
const char *lw_probe_kind_name(enum lw_probe_kind kind);

/* A runtime's heap as its probe last reported it (docs/runtime-insight.md), in bytes. Each
 * figure is there only when its bit of `have` is set. The figures are as of the runtime's last
 * garbage collection, not of the boundary: a runtime that did not collect since keeps them. */
enum lw_heap_field {
    LW_HEAP_AFTER_GC = 1u << 0,      /* after_gc_bytes */
    LW_HEAP_AFTER_MAJOR = 1u << 1,   /* after_major_bytes */
    LW_HEAP_RESIDENT = 1u << 2,      /* resident_bytes */
    LW_HEAP_LIMIT = 1u << 3,         /* limit_bytes */
    LW_HEAP_EXTERNAL = 1u << 4,      /* external_bytes */
    LW_HEAP_ARRAY_BUFFERS = 1u << 5, /* array_buffers_bytes */
    LW_HEAP_BLOCKS = 1u << 6,        /* blocks */
    LW_HEAP_OLD_COMMITTED = 1u << 7, /* old_committed_bytes */
};
struct lw_heap_mem {
    uint32_t have;              /* enum lw_heap_field bits; 0: no report */
    uint64_t after_gc_bytes;    /* in use after the last collection, of any kind */
    uint64_t after_major_bytes; /* in use after the last major (full) collection: retained */
    /* the heap's own memory: V8's physical heap, the JVM's committed heap, the memory Python
     * allocated (tracemalloc) */
    uint64_t resident_bytes;
    uint64_t limit_bytes;         /* the heap's ceiling (V8's limit, the JVM's max capacity) */
    uint64_t external_bytes;      /* V8: memory outside the heap owned by JavaScript objects */
    uint64_t array_buffers_bytes; /* V8: ArrayBuffers and Buffers (part of external) */
    uint64_t blocks;              /* Python: sys.getallocatedblocks() */
    /* V8: the old generation's spaces' committed size after the last full collection: V8 fails
     * when it cannot keep that within its old space, what its objects leave unused included */
    uint64_t old_committed_bytes;
    uint64_t major_gcs; /* major (full, generation-2) collections so far */
    uint64_t minor_gcs; /* the others */
};

/* The allocation sites that grew most, from the Python probe with tracemalloc, between the
 * baseline snapshot and the latest one leakwatch asked for. */
#define LW_SITES_MAX 3
#define LW_SITE_TEXT_MAX 164 /* "file:line", NUL included; longer ones keep their end */
struct lw_alloc_site {
    int64_t growth_bytes;
    int64_t growth_count; /* blocks */
    char where[LW_SITE_TEXT_MAX];
};
struct lw_alloc_sites {
    uint32_t request; /* the request (leakwatch's count) they answer; 0: none */
    uint32_t n;
    struct lw_alloc_site site[LW_SITES_MAX]; /* the largest growth first */
};

/* One process's memory from /proc/PID/status, converted to bytes. */
struct lw_proc_mem {
    uint64_t rss_bytes;       /* VmRSS */
    uint64_t rss_anon_bytes;  /* RssAnon */
    uint64_t rss_file_bytes;  /* RssFile */
    uint64_t rss_shmem_bytes; /* RssShmem */
    uint64_t hwm_bytes;       /* VmHWM: peak RSS since start or since the last clear_refs "5" */
};

/* One process at one boundary. A process is identified by (pid, start_ticks): pids are reused. */
struct lw_proc_reading {
    int32_t pid;
    int32_t ppid;
    uint64_t start_ticks; /* field 22 of /proc/PID/stat */
    enum lw_proc_role role;
    char name[LW_NAME_MAX];
    struct lw_proc_mem mem;
    bool hwm_reset;           /* the kernel accepted "5" in clear_refs after this reading */
    enum lw_probe_kind probe; /* the probe read for this process, NONE when none */
    struct lw_heap_mem heap;  /* what that probe reported */
};

/* Every process of the environment at one boundary (INVOKE or SHUTDOWN). */
struct lw_snapshot {
    uint64_t time_ms; /* wall clock, Unix epoch milliseconds */
    uint32_t n_procs;
    uint32_t n_procs_dropped; /* processes beyond LW_MAX_PROCS, not read */
    struct lw_proc_reading procs[LW_MAX_PROCS];
    uint64_t self_cpu_us; /* leakwatch's own CPU time (user + system) since it started */
    struct lw_runtime_hint runtime_hint; /* of the runtime, as first seen; kind 0 if none yet */
    struct lw_alloc_sites sites;         /* the latest allocation sites a probe reported */
    uint32_t tracemalloc_frames;         /* a probe runs tracemalloc with this many frames */
};

/* How the per-invocation peak was obtained. */
enum lw_peak_method {
    LW_PEAK_NONE = 0, /* no peak: the end reading is missing */
    LW_PEAK_HWM,      /* kernel high-water mark after clear_refs: exact */
    LW_PEAK_SAMPLED,  /* fallback sampler thread: a lower bound */
};

/* "none", "hwm", "sampled". */
const char *lw_peak_method_name(enum lw_peak_method method);

/* The totals a record reports, as bits of lw_record.partial_totals. */
enum lw_record_total {
    LW_TOTAL_FUNCTION = 1u << 0,    /* the runtime and its descendants */
    LW_TOTAL_EXTENSIONS = 1u << 1,  /* every other extension together */
    LW_TOTAL_ENVIRONMENT = 1u << 2, /* every process */
};

/* Sums over a set of processes, in bytes. */
struct lw_mem_totals {
    uint64_t rss_bytes;
    uint64_t rss_anon_bytes;
    uint64_t rss_file_bytes;
    uint64_t rss_shmem_bytes;
};

/* One process over one invocation. */
struct lw_record_proc {
    int32_t pid;
    uint64_t start_ticks;
    enum lw_proc_role role;
    char name[LW_NAME_MAX];
    bool have_start; /* false: the process appeared during the invocation */
    bool have_end;   /* false: the process exited during the invocation */
    struct lw_proc_mem start;
    struct lw_proc_mem end;
    uint64_t peak_bytes;      /* this process's peak RSS during the invocation */
    enum lw_probe_kind probe; /* the probe read at the end, NONE when none */
    struct lw_heap_mem heap;  /* its report at the end */
};

/* The function's runtime memory from the probes (docs/runtime-insight.md): the heaps of its
 * processes at the end of the invocation, summed field by field over the processes that
 * reported that field. */
struct lw_runtime_mem {
    enum lw_probe_kind probe; /* the runtime's probe; NONE: no figures */
    uint32_t processes;       /* function processes whose probe was read at the end */
    struct lw_heap_mem heap;  /* the sums */
    uint32_t tracemalloc_frames;
    struct lw_alloc_sites sites;
};

/* The platform's half, from the Telemetry API (platform.start / runtimeDone / report). */
struct lw_platform {
    bool have_start;
    bool have_runtime_done;
    bool have_report;
    char status[LW_STATUS_MAX];         /* from report, else runtimeDone; "" when unknown */
    char error_type[LW_ERROR_TYPE_MAX]; /* "" when none */
    double runtime_duration_ms;         /* runtimeDone.metrics.durationMs */
    double produced_bytes;              /* runtimeDone.metrics.producedBytes */
    double duration_ms;                 /* report.metrics.durationMs */
    double billed_duration_ms;          /* report.metrics.billedDurationMs */
    double extension_overhead_ms;       /* report span "extensionOverhead", 0 when absent */
    uint64_t memory_size_mb;            /* report.metrics.memorySizeMB */
    uint64_t max_memory_used_mb;        /* report.metrics.maxMemoryUsedMB: environment-wide HWM */
    bool have_init_duration;
    double init_duration_ms; /* report.metrics.initDurationMs (cold start only) */
};

/* Why a record was emitted without some part. Bit flags. */
enum lw_record_gap {
    LW_GAP_NONE = 0,
    LW_GAP_END_READING = 1u << 0, /* no end reading: the runtime was gone at SHUTDOWN */
    LW_GAP_TELEMETRY = 1u << 1,   /* platform report never arrived within the bounded wait */
    LW_GAP_PROCS = 1u << 2,       /* some processes not read: more than LW_MAX_PROCS, or no
                                     process of the function found at all */
    /* the invocation was over before its start reading was complete (it ran in less time than
     * the reading takes): its start and peak are not exact */
    LW_GAP_START_READING = 1u << 3,
    /* a process that belonged to a total at the start was not read at the end (it exited, or
     * the platform stopped it before SHUTDOWN): that total is left out, see partial_totals */
    LW_GAP_PARTIAL_END = 1u << 4,
};
#define LW_GAP_LAST LW_GAP_PARTIAL_END

/* The name of one gap flag in EMF's "Incomplete" list ("end-reading", "telemetry", "processes",
 * "start-reading", "partial-end-reading"), NULL for anything else; and back (LW_GAP_NONE for an
 * unknown name). */
const char *lw_record_gap_name(uint32_t flag);
uint32_t lw_record_gap_from_name(const char *name);

/*
 * What a record covers. On-demand and SnapStart environments get one record per invocation
 * (INVOKE to the next boundary). Lambda Managed Instances send extensions no INVOKE and run many
 * invocations at once: there a record covers a fixed interval of time, its memory figures are
 * the environment's over that interval, and its platform part sums the requests that ended in
 * it. Per-invocation memory is not defined under concurrency, and an interval record has none.
 */
enum lw_record_kind {
    LW_RECORD_INVOCATION = 0,
    LW_RECORD_INTERVAL,
};

/* The requests whose platform.report falls in an interval (Managed Instances). Exact: counts,
 * sums and extremes, no sampling. */
struct lw_interval_stats {
    uint64_t requests;      /* platform.report events (each for a platform.start seen) */
    uint64_t errors;        /* of them, status error or failure */
    uint64_t timeouts;      /* of them, status timeout */
    uint64_t out_of_memory; /* of them, errorType Runtime.OutOfMemory */
    uint64_t timed;         /* of them, with a metrics.durationMs */
    double duration_sum_ms; /* report.metrics.durationMs summed */
    double duration_max_ms; /* the longest */
    uint64_t started;       /* platform.start events in the interval */
    uint64_t given_up;      /* starts whose report never came (LW_INTERVALS_GIVE_UP_MS) */
};

struct lw_record {
    enum lw_record_kind kind;
    /* SnapStart: this environment was restored from a snapshot (its first record is no cold
     * start); leakwatch took a new identity at the restore. */
    bool restored;
    struct lw_interval_stats interval; /* LW_RECORD_INTERVAL only */
    char request_id[LW_REQUEST_ID_MAX];
    char env_id[LW_ENV_ID_MAX];
    uint64_t seq; /* 1 for the first invocation of this environment */
    bool cold_start;
    uint64_t start_time_ms; /* wall clock at the INVOKE boundary, epoch ms */
    uint64_t end_time_ms;   /* wall clock at the next boundary; 0 while open */
    uint64_t deadline_ms;   /* the INVOKE event's deadlineMs */

    /* The function's end totals (fn_end, fn_peak_bytes) are known: an end reading was taken
     * and found every function process of the start (the environment's: see partial_totals). */
    bool have_end;
    enum lw_peak_method peak_method;
    struct lw_mem_totals fn_start; /* the function: runtime and its descendants */
    struct lw_mem_totals fn_end;
    uint64_t fn_peak_bytes;       /* sum over the function's processes of each one's peak */
    struct lw_mem_totals env_end; /* every process of the environment, at the end */
    uint64_t memory_limit_bytes;  /* AWS_LAMBDA_FUNCTION_MEMORY_SIZE in bytes, 0 when unknown */

    uint32_t n_procs;
    struct lw_record_proc procs[LW_MAX_PROCS];

    uint64_t self_rss_bytes;    /* leakwatch's own RSS at the end */
    uint64_t self_cpu_us;       /* leakwatch's CPU time spent over this invocation */
    uint64_t self_cpu_total_us; /* leakwatch's CPU time since it started */

    struct lw_platform platform;
    uint32_t gaps;                       /* enum lw_record_gap bits */
    struct lw_runtime_hint runtime_hint; /* from the snapshots (lw_snapshot.runtime_hint) */

    /* Totals only from complete readings (record_build.h): the totals left out because a
     * process that belonged to them at the start was not read at the end. */
    uint32_t partial_totals; /* enum lw_record_total bits */

    struct lw_runtime_mem runtime; /* the runtime probes' figures at the end, when there are */
};

#endif
