#include <leakwatch/health.h>

void lw_health_add(struct lw_health *h, enum lw_health_counter which, uint64_t n)
{
    if (which >= LW_H_COUNT || n == 0)
        return;
    __atomic_fetch_add(&h->c[which], n, __ATOMIC_RELAXED);
}

void lw_health_read(const struct lw_health *h, struct lw_health *out)
{
    for (int i = 0; i < LW_H_COUNT; i++)
        out->c[i] = __atomic_load_n(&h->c[i], __ATOMIC_RELAXED);
}

const char *lw_health_name(enum lw_health_counter which)
{
    static const char *const names[LW_H_COUNT] = {
        [LW_H_TELEMETRY_RECEIVED] = "TelemetryEventsReceived",
        [LW_H_TELEMETRY_DROPPED] = "TelemetryEventsDropped",
        [LW_H_TELEMETRY_UNPARSEABLE] = "TelemetryEventsUnparseable",
        [LW_H_TELEMETRY_UNKNOWN] = "TelemetryEventsUnknown",
        [LW_H_TELEMETRY_LATE] = "TelemetryEventsLate",
        [LW_H_TELEMETRY_REJECTED] = "TelemetryRequestsRejected",
        [LW_H_LEDGER_EVICTED] = "LedgerEvicted",
        [LW_H_RECORDS_INCOMPLETE] = "RecordsIncomplete",
        [LW_H_EMF_DROPPED] = "EmfLinesDropped",
        [LW_H_OTLP_DROPPED] = "OtlpRecordsDropped",
        [LW_H_OTLP_EXPORTS_FAILED] = "OtlpExportsFailed",
        [LW_H_OTLP_REJECTED_POINTS] = "OtlpPointsRejected",
        [LW_H_PROCS_DROPPED] = "ProcessesDropped",
        [LW_H_TELEMETRY_EVENTS_REJECTED] = "TelemetryEventsRejected",
        [LW_H_TELEMETRY_CONNECTIONS_DROPPED] = "TelemetryConnectionsDropped",
        [LW_H_PROBE_REJECTED] = "ProbeReportsRejected",
    };
    if (which >= LW_H_COUNT)
        return "Unknown";
    return names[which];
}
