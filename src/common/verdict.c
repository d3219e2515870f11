/*
 * Verdict names and levels: the vocabulary every output uses (EMF, OTLP, alerts, the report).
 */
#include <leakwatch/verdict.h>

const char *lw_verdict_name(enum lw_verdict_kind kind)
{
    switch (kind) {
    case LW_VERDICT_LEARNING:
        return "learning";
    case LW_VERDICT_STEADY:
        return "steady";
    case LW_VERDICT_WARMING:
        return "warming";
    case LW_VERDICT_LEAK:
        return "leak";
    case LW_VERDICT_LEAK_CRITICAL:
        return "leak-critical";
    case LW_VERDICT_COUNT:
        break;
    }
    return "unknown";
}

int lw_verdict_level(enum lw_verdict_kind kind)
{
    switch (kind) {
    case LW_VERDICT_LEARNING:
    case LW_VERDICT_STEADY:
        return 0;
    case LW_VERDICT_WARMING:
        return 1;
    case LW_VERDICT_LEAK:
        return 2;
    case LW_VERDICT_LEAK_CRITICAL:
        return 3;
    case LW_VERDICT_COUNT:
        break;
    }
    return 0;
}
