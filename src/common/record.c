/*
 * The record's vocabulary: the names of process roles, gaps and peak methods as they appear in
 * every output (EMF properties, OTLP attributes, the report), and the roles that make up the
 * function. Shared by the daemon and the report tool.
 */
#include <leakwatch/record.h>

#include <string.h>

const char *lw_proc_role_name(enum lw_proc_role role)
{
    switch (role) {
    case LW_ROLE_RUNTIME:
        return "runtime";
    case LW_ROLE_RUNTIME_CHILD:
        return "runtime-child";
    case LW_ROLE_EXTENSION:
        return "extension";
    case LW_ROLE_SELF:
        return "self";
    case LW_ROLE_UNKNOWN:
    case LW_ROLE_COUNT:
        break;
    }
    return "unknown";
}

static const struct {
    uint32_t flag;
    const char *name;
} gap_names[] = {
    {LW_GAP_END_READING, "end-reading"},
    {LW_GAP_TELEMETRY, "telemetry"},
    {LW_GAP_PROCS, "processes"},
    {LW_GAP_START_READING, "start-reading"},
    {LW_GAP_PARTIAL_END, "partial-end-reading"},
};

const char *lw_record_gap_name(uint32_t flag)
{
    for (size_t i = 0; i < sizeof(gap_names) / sizeof(gap_names[0]); i++) {
        if (gap_names[i].flag == flag)
            return gap_names[i].name;
    }
    return NULL;
}

uint32_t lw_record_gap_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(gap_names) / sizeof(gap_names[0]); i++) {
        if (strcmp(gap_names[i].name, name) == 0)
            return gap_names[i].flag;
    }
    return LW_GAP_NONE;
}

const char *lw_peak_method_name(enum lw_peak_method method)
{
    switch (method) {
    case LW_PEAK_NONE:
        return "none";
    case LW_PEAK_HWM:
        return "hwm";
    case LW_PEAK_SAMPLED:
        return "sampled";
    }
    return "none";
}

bool lw_record_role_is_function(enum lw_proc_role role)
{
    return role == LW_ROLE_RUNTIME || role == LW_ROLE_RUNTIME_CHILD;
}

const char *lw_probe_kind_name(enum lw_probe_kind kind)
{
    switch (kind) {
    case LW_PROBE_OFF:
        return "off";
    case LW_PROBE_NODE:
        return "node";
    case LW_PROBE_PYTHON:
        return "python";
    case LW_PROBE_JVM:
        return "jvm";
    case LW_PROBE_JVM_PERFDATA:
        return "jvm-perfdata";
    case LW_PROBE_NONE:
    case LW_PROBE_KIND_COUNT:
        break;
    }
    return "none";
}
