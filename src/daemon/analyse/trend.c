/*
 * The leak trend engine (see include/leakwatch/trend.h for the contract and the rules).
 *
 * Why these estimators: per-invocation end readings of a real function are not a clean line.
 * Allocators hand memory back in page-sized or arena-sized steps, garbage collectors release
 * in saw-teeth, a single large request leaves one reading far above the others. Least squares
 * follows every one of those; the Theil-Sen slope (median of the pairwise slopes) ignores up to
 * 29% of wild points, and Kendall's tau over the same pairs says how consistent the growth is.
 * Both cost O(n^2) pairs, so the windows are small and fixed (64 points: 2016 pairs), which
 * also keeps the engine's memory constant. The median is found with a selection, not a sort.
 * Most assessments need only Kendall's statistic, which is kept from one assessment to the next
 * in O(window) (raw_window_s); the pairwise slopes are taken only for significant growth.
 *
 * The pairwise slopes also give the slope's uncertainty without assuming a distribution:
 * Sen's interval takes the order statistics of the same pairs around the median, at a distance
 * set by the Mann-Kendall variance. Its low end is what leak-critical is decided on: a
 * projection from the slowest growth the readings support is the one leakwatch is confident in.
 *
 * Decelerating growth (a cache filling, a heap being sized) is told from linear growth by a
 * quadratic fitted to the same window: its curvature, with a standard error from the robust
 * noise scale, is a test of "the growth slows down" with its own uncertainty; the halves of the
 * window (each with its own trend test) back it up for shapes a parabola fits badly (a line
 * that stops). Both cost O(window).
 */
#include <leakwatch/trend.h>

#include <leakwatch/median.h>
#include <leakwatch/pages.h>
#include <leakwatch/runtime_hints.h>
#include <leakwatch/timefmt.h>

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW_N LW_TREND_RAW_POINTS
#define FLOOR_N LW_TREND_FLOOR_POINTS
#define MAX_N (RAW_N > FLOOR_N ? RAW_N : FLOOR_N)
#define MAX_PAIRS ((size_t)MAX_N * (MAX_N - 1) / 2)
#define RATE_N 64 /* recent invocation times kept for the rate */

/* Significance rules (trend.h). Fixed, not configuration: they are what the accuracy goals
 * were tuned against. */
#define Z_MIN 4.0             /* Mann-Kendall z: about 3e-5 for a trendless series */
#define TAU_MIN 0.4           /* Kendall's tau */
#define NOISE_RISE_FACTOR 4.0 /* rise over the window, in noise scales */
#define RELEASE_SHARE 0.25    /* a drop of this share of the window's range is a release */
#define DECEL_RATIO 0.5       /* recent/older slope below this: decelerating, warming */
#define CRITICAL_EXIT 1.25    /* leak-critical -> leak once OOM is beyond this x horizon */
#define MAD_TO_SIGMA 1.4826
#define SLOPE_PRECISION 0.05 /* standard error of the slope, relative */
#define SEN_Z 2.576          /* Sen's interval: 99% two-sided */
#define CURVE_T_MAX -3.0     /* curvature this many standard errors below 0: decelerating */
#define HALF_Z_MIN 2.0       /* each half of the window grows significantly: sustained */
#define BEND_RATIO 0.8       /* a bend that matters: the end slope below this share of the start */
#define PAGE_NOISE_BYTES 1182.0 /* a 4 KiB page's rounding: 4096 / sqrt(12) */
/* A garbage-collected runtime's heap sizing drifts up slowly and in steps for hundreds of
 * invocations (Node.js with 4 MB of garbage per invocation: 3.4 KB per invocation over 6,000
 * at 512 MB). A leak there needs the low end of its slope's interval above this share of the
 * memory limit per invocation: 0.002% (10.7 KB at 512 MB): a leak slower than that needs more
 * than 50,000 invocations to fill the memory. */
#define GC_FLOOR_SHARE 0.00002
/* A heap ceiling fits when the environment's first reading plus this many times the ceiling
 * is within the limit: the collector's own structures, metaspace, code and thread stacks grow
 * with the heap, and the first reading is a lower bound of them. */
#define CEILING_SLACK 1.1
/* The environment within this share of the runtime's ceiling: the heap is full. */
#define AT_CEILING_SHARE 0.97
/* A garbage-collected runtime above this share of where it runs out of memory collects under
 * pressure: V8 treats mark-compacts from 80% of its old space as possibly ineffective, and its
 * old space is 90% of the memory under Lambda's defaults, so its heap alone is there at 72% of
 * the limit. A Node.js function leaking 52 KB per invocation gave back 48 MB at 81% of its
 * limit and 45 MB at 84%, 400 and 920 invocations before it ran out. */
#define NEAR_LIMIT_SHARE (2.0 / 3.0)
/* A runtime warms up: a JVM's JIT-compiled code, metaspace and heap grew its resident memory
 * 52 KB per invocation, linearly, from invocation 40 to 100 with Lambda's flags and 1 MB of
 * garbage, then stopped: the pace of a leak of 0.01% of 512 MB. Growth slower than this share
 * of the limit per invocation, in a runtime leakwatch recognises, is called a leak only once the
 * retained floor over the long view shows it too (its first 24 blocks: about 200 invocations),
 * unless it would run out of memory before then. */
#define SLOW_LEAK_SHARE 0.0005
/* leakwatch's own buffers have fixed sizes but become resident as they are first used: the
 * ledger's ring of held records (16 records of about 6 KB), with OTLP the exporter's ring of 64
 * records, its batch and encode buffer. Measured in the emulator: leakwatch's anonymous RSS
 * rises 4-8 KB per invocation for its first ~20 invocations (128 KB), then stays flat; without
 * this allowance that read as a leak of leakwatch itself on every function. Growth of
 * leakwatch's own process counts only once it has risen more than this above its first
 * reading in the environment. */
#define SELF_FILL_BYTES (1024.0 * 1024.0)

struct point {
    double x; /* sequence number */
    double y; /* bytes */
};

/* One series: a ring of recent readings and a ring of block minima (the retained floor). */
/* The Mann-Kendall statistic S of the median-filtered raw window, kept from one assessment to
 * the next so that the next one costs O(window) instead of a pass over every pair. */
struct mk_cache {
    double y[RAW_N]; /* the filtered window it was computed over, oldest first */
    uint32_t n;
    uint64_t pushes; /* series.pushes when it was computed */
    long s;
    bool valid;
};

struct series {
    struct point raw[RAW_N];
    uint32_t raw_head; /* next slot to write */
    uint32_t raw_n;
    uint64_t pushes; /* readings ever pushed */
    struct point floor[FLOOR_N];
    uint32_t floor_head;
    uint32_t floor_n;
    uint64_t floor_pushes;  /* block minima ever pushed: the floor changes only with it */
    struct point block_min; /* minimum of the block being filled */
    uint32_t block_n;
    struct mk_cache mk;
};

struct proc_series {
    bool used;
    char name[LW_NAME_MAX];
    enum lw_proc_role role;
    uint64_t last_seq; /* last record it was seen in: the least recent slot is reused */
    bool have_first;
    double first_bytes; /* its first reading after the warm-up */
    double last_bytes;  /* its latest reading */
};

/* UNDECIDED: significant growth that is neither clearly slowing nor yet enough to call a leak
 * (too few readings, one half of the window flat, a slope too imprecise, or too slow for the
 * runtime). It is published as warming: growing, not (yet) a leak. */
enum growth_class { GROWTH_NONE = 0, GROWTH_WARMING, GROWTH_UNDECIDED, GROWTH_LEAK };

/* What a leak verdict requires of a series: set per assessment from the runtime. */
struct leak_rules {
    uint32_t min_points;
    double floor_bytes; /* the low end of the slope's interval must reach this */
};

struct estimate {
    bool valid;      /* enough points to say anything */
    bool floor_mode; /* taken over the retained floor (a release was seen) */
    uint32_t n;
    double slope_bytes; /* per invocation */
    double tau;
    double z;
    double noise_bytes;
    double slope_lo_bytes; /* Sen's 99% interval */
    double slope_hi_bytes;
    double slope_old_bytes;
    double slope_recent_bytes;
    double curve_t;           /* curvature over its standard error (quadratic fit) */
    double slope_start_bytes; /* the quadratic's slope at the window's first and last point */
    double slope_end_bytes;
    const char *undecided; /* why growth is not (yet) a leak, for the reason sentence */
    enum growth_class cls;
};

struct fit {
    double slope;
    double tau;
    double z;
    double noise;
    double span;
    double slope_lo; /* Sen's interval at SEN_Z */
    double slope_hi;
};

/*
 * The heap after major collections, one point per collection seen: a runtime collects fully
 * every few to few dozen invocations (Node.js 20 with a 1 MiB leak: 4 in 70), and between two
 * the figure stands still. Repeating it at every invocation would draw stairs a trend test
 * reads as "a step, not a trend"; one point per collection is the heap's own series.
 */
#define GC_POINTS 32
struct gc_points {
    struct point p[GC_POINTS]; /* a ring */
    uint32_t head, n;
    bool have_count;
    uint64_t last_count; /* the collections counted at the last point */
};

/* The function's retained floor fitted over the long view: recomputed only when a block
 * minimum was added (every floor_block_invocations readings), not at every assessment. */
struct floor_fit {
    uint64_t at; /* the floor's floor_pushes it was fitted at */
    uint32_t n;
    bool grows;    /* significant growth over the whole floor */
    bool keeps_up; /* its recent half at least DECEL_RATIO as fast as the whole */
    double slope, slope_lo, tau, span;
};

/* One process of the function by pid, to tell which of several of one name grows. */
struct pid_track {
    bool used;
    int32_t pid;
    uint64_t start_ticks; /* with the pid: the same process, not a reused pid */
    char name[LW_NAME_MAX];
    enum lw_proc_role role;
    uint64_t first_seq, last_seq;
    double first_bytes, last_bytes; /* anonymous RSS */
};

struct lw_trend {
    struct lw_trend_config cfg;
    bool started;
    char env_id[LW_ENV_ID_MAX];
    uint64_t last_seq;
    uint32_t n_readings; /* function readings after warm-up */

    struct series fn;
    struct floor_fit fn_floor;
    /* The runtime's own figures, from its probe (docs/runtime-insight.md), when there are: the
     * heap retained after collections, the memory outside it that JavaScript objects own
     * (Node.js), and the rest of the function's anonymous memory (native). */
    struct gc_points heap;
    double heap_limit_bytes;    /* the heap's ceiling as the runtime reports it (0: unknown) */
    double heap_resident_bytes; /* the heap's own memory at the last report (0: unknown) */
    double old_committed_bytes; /* V8: its old generation's committed size (0: unknown) */
    struct series ext, native;
    enum lw_probe_kind probe;
    /* A process's name and figures apart from its series: the loops over every slot read only
     * these few pages, and a slot no process used never becomes resident. */
    struct proc_series procs[LW_MAX_PROCS];
    struct series proc_data[LW_MAX_PROCS]; /* procs[i]'s series */
    struct pid_track pids[LW_MAX_PROCS];

    uint64_t times_ms[RATE_N];
    uint32_t times_head;
    uint32_t times_n;
    uint64_t rate_first_ms; /* the environment's first timestamp: the long-run rate */
    uint64_t rate_count;    /* timestamps since then */

    bool have_env;
    double env_rss_bytes;
    uint64_t limit_bytes;
    bool have_first_env;
    double first_env_rss_bytes; /* the environment's first end reading, warm-up included */
    struct lw_runtime_hint hint;
    uint32_t crit_streak; /* consecutive assessments whose late projection is critical */
    /* A leak's projection waits for the heap since this invocation (0: not); kept while a raw
     * assessment flickers out of leak, so that the wait's bound cannot be put off. */
    uint64_t projection_wait_seq;
    bool have_flag_floor;
    double flag_floor_bytes; /* lowest function reading of the window a leak was found in */
    double last_fn_bytes;
    bool fn_floor_mode; /* the last assessment judged the function on its retained floor */

    /* The records are intervals (Managed Instances): growth is said per hour and per interval,
     * never per invocation, which is not defined under concurrency. */
    bool intervals;

    struct lw_verdict current;
    struct lw_alert_hold hold;

    /* scratch for the estimators: allocated once with the engine */
    struct point pts[MAX_N];
    double pairs[MAX_PAIRS];
    double resid[MAX_N];
};

struct lw_trend_config lw_trend_config_default(void)
{
    struct lw_trend_config c = {
        .warmup_invocations = 5,
        .recycle_horizon_minutes = 120.0,
        .min_points = 12,
        .floor_block_invocations = 8,
        .hold_assessments = 3,
        .min_growth_bytes_per_invocation = 256.0,
        .leak_min_points = 24,
        .gc_leak_min_points = 32,
        .withdraw_assessments = 64,
    };
    return c;
}

static bool config_valid(const struct lw_trend_config *c)
{
    return isfinite(c->recycle_horizon_minutes) && c->recycle_horizon_minutes > 0 &&
           c->min_points >= 4 && c->min_points <= RAW_N && c->floor_block_invocations >= 1 &&
           c->floor_block_invocations <= 64 && c->hold_assessments >= 1 &&
           isfinite(c->min_growth_bytes_per_invocation) &&
           c->min_growth_bytes_per_invocation >= 0 && c->leak_min_points >= c->min_points &&
           c->leak_min_points <= RAW_N && c->gc_leak_min_points >= c->min_points &&
           c->gc_leak_min_points <= RAW_N && c->withdraw_assessments >= 1;
}

/* ---- statistics on small arrays ---------------------------------------------------------------
 */

/* Kendall's tau and the Mann-Kendall z from S, the sum of the pairs' signs, over n points. */
static void trend_test(long s, uint32_t n, struct fit *f)
{
    f->tau = (double)s / ((double)n * (n - 1) / 2.0);
    /* variance of S without tie correction: ties only make the test more conservative */
    double var = (double)n * (n - 1) * (2.0 * n + 5) / 18.0;
    double sc = s > 0 ? (double)s - 1 : s < 0 ? (double)s + 1 : 0;
    f->z = sc / sqrt(var);
}

static int sgn(double d)
{
    return (d > 0) - (d < 0);
}

/* S of p[0..n): the signs of every pair, later minus earlier. O(n^2). */
static long full_s(const struct point *p, uint32_t n)
{
    long s = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++)
            s += sgn(p[j].y - p[i].y);
    return s;
}

/* Only the trend test of p[0..n), n >= 2: no slopes, no medians. */
static void test_points(const struct point *p, uint32_t n, struct fit *f)
{
    trend_test(full_s(p, n), n, f);
}

/* More changed values than this and S is counted afresh (each costs 2n comparisons). */
#define MK_MAX_CHANGED 4

/*
 * S of the filtered raw window p[0..n) of series s. When the full window moved by exactly one
 * reading since the last call, S follows from the last one: the oldest reading's pairs leave,
 * the few filtered values that changed (the median of three changes the reading that stopped
 * being the last one and the one that became the first) are replaced pair by pair, and the
 * newest reading's pairs join: about 4n comparisons instead of n(n-1)/2. Integer arithmetic on
 * the same comparisons: the result is exactly the full count.
 */
static long raw_window_s(struct series *s, const struct point *p, uint32_t n)
{
    struct mk_cache *c = &s->mk;
    if (c->valid && c->n == n && c->pushes == s->pushes)
        return c->s; /* no new reading: the same window */
    long sum;
    if (c->valid && n == RAW_N && c->n == RAW_N && s->pushes == c->pushes + 1) {
        uint32_t changed = 0;
        for (uint32_t i = 0; i + 1 < n; i++)
            changed += p[i].y != c->y[i + 1];
        if (changed <= MK_MAX_CHANGED) {
            sum = c->s;
            for (uint32_t j = 1; j < n; j++)
                sum -= sgn(c->y[j] - c->y[0]);
            memmove(c->y, c->y + 1, (n - 1) * sizeof(c->y[0]));
            for (uint32_t i = 0; i + 1 < n; i++) {
                if (p[i].y == c->y[i])
                    continue;
                for (uint32_t j = 0; j + 1 < n; j++)
                    if (j != i)
                        sum -= j < i ? sgn(c->y[i] - c->y[j]) : sgn(c->y[j] - c->y[i]);
                c->y[i] = p[i].y;
                for (uint32_t j = 0; j + 1 < n; j++)
                    if (j != i)
                        sum += j < i ? sgn(c->y[i] - c->y[j]) : sgn(c->y[j] - c->y[i]);
            }
            for (uint32_t j = 0; j + 1 < n; j++)
                sum += sgn(p[n - 1].y - c->y[j]);
            c->y[n - 1] = p[n - 1].y;
            goto out;
        }
    }
    sum = full_s(p, n);
    for (uint32_t i = 0; i < n; i++)
        c->y[i] = p[i].y;
out:
    c->n = n;
    c->pushes = s->pushes;
    c->s = sum;
    c->valid = true;
    return sum;
}

/*
 * Theil-Sen slope, Kendall's tau, Mann-Kendall z and the noise scale of p[0..n), x strictly
 * increasing, n >= 2. pairs and resid are scratch of at least n(n-1)/2 and n entries.
 */
static void fit_points(const struct point *p, uint32_t n, double *pairs, double *resid,
                       struct fit *f)
{
    size_t np = 0;
    long s = 0;
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = i + 1; j < n; j++) {
            double dy = p[j].y - p[i].y;
            pairs[np++] = dy / (p[j].x - p[i].x);
            s += (dy > 0) - (dy < 0);
        }
    }
    f->slope = lw_median(pairs, np);
    trend_test(s, n, f);
    for (uint32_t i = 0; i < n; i++)
        resid[i] = p[i].y - f->slope * p[i].x;
    double intercept = lw_median(resid, n);
    for (uint32_t i = 0; i < n; i++)
        resid[i] = fabs(p[i].y - f->slope * p[i].x - intercept);
    f->noise = MAD_TO_SIGMA * lw_median(resid, n);
    f->span = p[n - 1].x - p[0].x;
}

/*
 * Sen's interval of the slope fitted last by fit_points() over n points: the order statistics
 * (np - C)/2 and (np + C)/2 + 1 (1-based) of the pairwise slopes, C = z * sqrt(Var S), Var S the
 * Mann-Kendall variance. pairs still holds those slopes as fit_points()' median left them,
 * partitioned around np/2: the low end lies below the median and is selected among the lower
 * half alone, the high end among the upper half (C > 0, so neither is the median itself). Two
 * selections over half the slopes each: only computed for growth that is significant.
 */
static void sen_interval(double *pairs, uint32_t n, struct fit *f)
{
    size_t np = (size_t)n * (n - 1) / 2;
    size_t mid = np / 2;
    double c = SEN_Z * sqrt((double)n * (n - 1) * (2.0 * n + 5) / 18.0);
    double lo_rank = floor(((double)np - c) / 2.0);
    double hi_rank = ceil(((double)np + c) / 2.0);
    f->slope_lo = lo_rank >= 1 ? lw_select_kth(pairs, mid, (size_t)lo_rank - 1) : -INFINITY;
    f->slope_hi = hi_rank < (double)np
                      ? lw_select_kth(pairs + mid + 1, np - mid - 1, (size_t)hi_rank - mid - 1)
                      : INFINITY;
}

/*
 * A slope to show for a series without a significant trend, in O(n): the median of the slopes
 * between readings half a window apart. The full Theil-Sen fit (n(n-1)/2 pairs) is kept for
 * growth that matters.
 */
static double quick_slope(const struct point *p, uint32_t n, double *scratch)
{
    uint32_t h = n / 2;
    if (h == 0)
        return 0;
    for (uint32_t i = 0; i < h; i++)
        scratch[i] = (p[i + h].y - p[i].y) / (p[i + h].x - p[i].x);
    return lw_median(scratch, h);
}

/* ---- series ------------------------------------------------------------------------------- */

static void series_push(struct series *s, double x, double y, uint32_t block)
{
    s->pushes++;
    s->raw[s->raw_head] = (struct point){x, y};
    s->raw_head = (s->raw_head + 1) % RAW_N;
    if (s->raw_n < RAW_N)
        s->raw_n++;

    if (s->block_n == 0 || y < s->block_min.y)
        s->block_min = (struct point){x, y};
    if (++s->block_n >= block) {
        s->floor[s->floor_head] = s->block_min;
        s->floor_head = (s->floor_head + 1) % FLOOR_N;
        if (s->floor_n < FLOOR_N)
            s->floor_n++;
        s->floor_pushes++;
        s->block_n = 0;
    }
}

/* Copies a ring into out[], oldest first; returns the count. */
static uint32_t ring_copy(const struct point *ring, uint32_t head, uint32_t n, uint32_t cap,
                          struct point *out)
{
    uint32_t start = (head + cap - n) % cap;
    for (uint32_t i = 0; i < n; i++)
        out[i] = ring[(start + i) % cap];
    return n;
}

/* Whether the points hold a release: one drop of at least RELEASE_SHARE of their range. */
static bool has_release(const struct point *p, uint32_t n)
{
    double lo = p[0].y, hi = p[0].y, drop = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (p[i].y < lo)
            lo = p[i].y;
        if (p[i].y > hi)
            hi = p[i].y;
        if (p[i - 1].y - p[i].y > drop)
            drop = p[i - 1].y - p[i].y;
    }
    return hi > lo && drop >= RELEASE_SHARE * (hi - lo);
}

/*
 * Replaces each inner reading by the median of it and its neighbours: one reading far off its
 * neighbours (a request that left a large buffer for one invocation) is no release and no growth,
 * while a step that lasts two readings or more is kept.
 */
static void median3(struct point *p, uint32_t n)
{
    if (n < 3)
        return;
    double prev = p[0].y;
    for (uint32_t i = 1; i + 1 < n; i++) {
        double a = prev, b = p[i].y, c = p[i + 1].y;
        prev = b;
        double m = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
        p[i].y = m;
    }
}

static bool significant(const struct fit *f, double min_growth, double z_min)
{
    return f->slope > 0 && f->slope >= min_growth && f->z >= z_min && f->tau >= TAU_MIN &&
           f->slope * f->span >= NOISE_RISE_FACTOR * f->noise;
}

/*
 * The curvature of p[0..n) (n >= 4): least squares on 1, x and the part of x^2 orthogonal to
 * both, so each coefficient is one sum. Its standard error comes from a robust noise scale of
 * the residuals around the quadratic (scaled median absolute deviation: one odd reading does not
 * inflate it). Gives the quadratic's slope at the first and the last point. resid is scratch of
 * n entries. O(n).
 */
static void curvature(const struct point *p, uint32_t n, double *resid, double *t, double *d_start,
                      double *d_end)
{
    double mx = 0, my = 0;
    for (uint32_t i = 0; i < n; i++) {
        mx += p[i].x;
        my += p[i].y;
    }
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0, sx2 = 0, sx3 = 0;
    for (uint32_t i = 0; i < n; i++) {
        double u = p[i].x - mx;
        sxx += u * u;
        sxy += u * (p[i].y - my);
        sx3 += u * u * u;
    }
    sx2 = sxx / n;
    /* q = u^2 - sx2 - (sx3 / sxx) u: orthogonal to 1 and u */
    double beta = sxx > 0 ? sx3 / sxx : 0;
    double sqq = 0, sqy = 0;
    for (uint32_t i = 0; i < n; i++) {
        double u = p[i].x - mx;
        double q = u * u - sx2 - beta * u;
        sqq += q * q;
        sqy += q * (p[i].y - my);
    }
    double c = sqq > 0 ? sqy / sqq : 0;
    double b = sxx > 0 ? sxy / sxx : 0;
    /* y = my + b u + c q: dy/dx = b + c (2u - beta) */
    double u0 = p[0].x - mx, u1 = p[n - 1].x - mx;
    *d_start = b + c * (2 * u0 - beta);
    *d_end = b + c * (2 * u1 - beta);
    for (uint32_t i = 0; i < n; i++) {
        double u = p[i].x - mx;
        resid[i] = p[i].y - (my + b * u + c * (u * u - sx2 - beta * u));
    }
    double mid = lw_median(resid, n);
    for (uint32_t i = 0; i < n; i++)
        resid[i] = fabs(resid[i] - mid);
    /* Readings are whole pages: a curve exactly through them still has the rounding of a page
     * (uniform over 4 KiB: 1182 bytes standard deviation), and nothing is more certain. */
    double noise = MAD_TO_SIGMA * lw_median(resid, n);
    if (noise < PAGE_NOISE_BYTES)
        noise = PAGE_NOISE_BYTES;
    *t = sqq > 0 ? c / (noise / sqrt(sqq)) : 0;
}

/* A series that fails the trend test (z, tau: no slope needed) is classified without the
 * Theil-Sen fit, the bulk of the engine's work; with need_slope its slope is then the O(n)
 * quick_slope() (shown in the steady verdict), else 0. */
static void estimate_series(struct lw_trend *t, struct series *s, struct estimate *e,
                            bool need_slope, const struct leak_rules *rules)
{
    memset(e, 0, sizeof(*e));
    uint32_t n = ring_copy(s->raw, s->raw_head, s->raw_n, RAW_N, t->pts);
    if (n < t->cfg.min_points)
        return;
    median3(t->pts, n);
    e->valid = true;
    if (has_release(t->pts, n)) {
        /* Memory was given back (a saw-tooth, a collection): follow the block minima, what
         * the function keeps. Until there are enough of them there is no evidence of retained
         * growth, which is what steady means. */
        e->floor_mode = true;
        n = ring_copy(s->floor, s->floor_head, s->floor_n, FLOOR_N, t->pts);
        if (n < t->cfg.min_points) {
            e->n = n;
            e->cls = GROWTH_NONE;
            return;
        }
    }
    e->n = n;
    struct fit f;
    /* The trend test alone (sign comparisons, no slopes, no medians) settles most
     * assessments: a series without a significant trend needs no Theil-Sen fit. On the raw
     * window it is kept up to date in O(window). */
    if (e->floor_mode)
        test_points(t->pts, n, &f);
    else
        trend_test(raw_window_s(s, t->pts, n), n, &f);
    if (f.z < Z_MIN || f.tau < TAU_MIN) {
        e->tau = f.tau;
        e->z = f.z;
        e->cls = GROWTH_NONE;
        if (need_slope)
            e->slope_bytes = quick_slope(t->pts, n, t->resid);
        return;
    }
    fit_points(t->pts, n, t->pairs, t->resid, &f);
    e->slope_bytes = f.slope;
    e->tau = f.tau;
    e->z = f.z;
    e->noise_bytes = f.noise;
    if (!significant(&f, t->cfg.min_growth_bytes_per_invocation, Z_MIN)) {
        e->cls = GROWTH_NONE;
        return;
    }
    sen_interval(t->pairs, n, &f);
    e->slope_lo_bytes = f.slope_lo;
    e->slope_hi_bytes = f.slope_hi;
    /* Growth is real. Does it slow down? The curvature of the whole window, and its halves.
     * Block minima under a saw-tooth jump by up to a whole cycle's rise from one block to the
     * next: too jagged for a quadratic's noise scale, so the floor is judged by its halves. */
    if (!e->floor_mode)
        curvature(t->pts, n, t->resid, &e->curve_t, &e->slope_start_bytes, &e->slope_end_bytes);
    uint32_t half = n / 2;
    struct fit old, recent;
    fit_points(t->pts, half, t->pairs, t->resid, &old);
    fit_points(t->pts + half, n - half, t->pairs, t->resid, &recent);
    e->slope_old_bytes = old.slope;
    e->slope_recent_bytes = recent.slope;
    bool recent_grows = significant(&recent, t->cfg.min_growth_bytes_per_invocation, HALF_Z_MIN);
    bool bends =
        e->curve_t <= CURVE_T_MAX && e->slope_end_bytes < DECEL_RATIO * e->slope_start_bytes;
    if (bends || recent.slope < DECEL_RATIO * old.slope) {
        e->cls = GROWTH_WARMING;
        return;
    }
    /* Not slowing down. A leak also needs: growth sustained over enough readings, in both
     * halves; a slope precise enough to project from (its standard error, as for evenly spaced
     * least squares, within SLOPE_PRECISION of it); for a garbage-collected runtime, the low end
     * of its interval above the runtime's drift. Otherwise: not yet. */
    double se = f.span > 0 ? f.noise * sqrt(12.0 / n) / f.span : INFINITY;
    /* a floor point stands for floor_block_invocations readings: min_points of them are
     * already far more invocations than a raw window needs */
    uint32_t need = e->floor_mode ? t->cfg.min_points : rules->min_points;
    e->cls = GROWTH_UNDECIDED;
    if (n < need)
        e->undecided = "sustained over too few readings yet";
    else if (!recent_grows)
        e->undecided = "the recent half of the window alone is not significant";
    else if (!significant(&old, t->cfg.min_growth_bytes_per_invocation, HALF_Z_MIN))
        e->undecided = "the older half of the window is flat: a step, not a trend";
    else if (e->curve_t <= CURVE_T_MAX && e->slope_end_bytes < BEND_RATIO * e->slope_start_bytes)
        e->undecided = "its growth bends down";
    else if (se > SLOPE_PRECISION * f.slope)
        e->undecided = "the slope is too uncertain to project from";
    else if (f.slope_lo < rules->floor_bytes)
        e->undecided = "slower than the runtime's heap sizing can explain away";
    else
        e->cls = GROWTH_LEAK;
}

/* The function's retained floor fitted (struct floor_fit), from the cache while no block
 * minimum was added since. */
static const struct floor_fit *fn_floor_fit(struct lw_trend *t)
{
    struct floor_fit *ff = &t->fn_floor;
    if (ff->at == t->fn.floor_pushes)
        return ff; /* also before any block: all zero, n = 0 */
    memset(ff, 0, sizeof(*ff));
    ff->at = t->fn.floor_pushes;
    uint32_t n = ring_copy(t->fn.floor, t->fn.floor_head, t->fn.floor_n, FLOOR_N, t->pts);
    ff->n = n;
    if (n < t->cfg.leak_min_points)
        return ff;
    struct fit f, recent;
    fit_points(t->pts + n / 2, n - n / 2, t->pairs, t->resid, &recent);
    /* the whole floor last: its pairwise slopes stay in pairs for Sen's interval */
    fit_points(t->pts, n, t->pairs, t->resid, &f);
    ff->grows = significant(&f, t->cfg.min_growth_bytes_per_invocation, Z_MIN);
    ff->keeps_up = recent.slope >= DECEL_RATIO * f.slope;
    if (ff->grows)
        sen_interval(t->pairs, n, &f);
    ff->slope = f.slope;
    ff->slope_lo = ff->grows ? f.slope_lo : 0;
    ff->tau = f.tau;
    ff->span = f.span;
    return ff;
}

/* Whether the floor's growth is clear of a collected runtime's drift: the low end of its slope
 * at GC_FLOOR_SHARE of the limit per invocation, as a window's must be. */
static bool floor_outpaces_drift(const struct lw_trend *t, const struct floor_fit *ff)
{
    return ff->slope_lo >= GC_FLOOR_SHARE * (double)t->limit_bytes;
}

/*
 * Whether the retained floor (block minima over the last FLOOR_N blocks, up to 512 invocations)
 * still grows significantly and not slower recently: the long view of a leak that steps. A JVM
 * leaking into its heap shows steps every 25 to 75 invocations as the heap is expanded; a
 * 64-reading window then sees flat stretches that look like a plateau. Used only to keep a
 * standing leak from being withdrawn, never to raise one. A collector expands its heap in
 * bursts: a JVM leaking 52 KB per invocation went flat for 100 invocations between two 20 MB
 * steps. For such a runtime (gc), growth of the floor over the long view is enough, at a pace
 * clear of its drift (floor_outpaces_drift: a leak that stopped while memory drifted up 4 KB per
 * invocation stood to the end before); elsewhere its recent half must keep up too.
 */
static bool floor_still_grows(struct lw_trend *t, bool gc)
{
    const struct floor_fit *ff = fn_floor_fit(t);
    if (ff->n < t->cfg.leak_min_points || !ff->grows)
        return false;
    return gc ? floor_outpaces_drift(t, ff) : ff->keeps_up;
}

/* ---- the engine --------------------------------------------------------------------------- */

static bool leak_family(enum lw_verdict_kind k)
{
    return k == LW_VERDICT_LEAK || k == LW_VERDICT_LEAK_CRITICAL;
}

static void reset_state(struct lw_trend *t)
{
    struct lw_trend_config cfg = t->cfg;
    lw_pages_zero(t, sizeof(*t)); /* the process series no process used stay untouched */
    t->cfg = cfg;
    t->current.kind = LW_VERDICT_LEARNING;
    t->current.previous = LW_VERDICT_LEARNING;
    snprintf(t->current.reason, sizeof(t->current.reason), "learning: no invocation assessed yet");
    lw_alert_hold_init(&t->hold, cfg.hold_assessments, cfg.withdraw_assessments);
}

struct lw_trend *lw_trend_new(const struct lw_trend_config *cfg)
{
    struct lw_trend_config c = cfg ? *cfg : lw_trend_config_default();
    if (!config_valid(&c))
        return NULL;
    struct lw_trend *t = lw_pages_alloc(sizeof(*t));
    if (!t)
        return NULL;
    t->cfg = c;
    reset_state(t);
    return t;
}

void lw_trend_free(struct lw_trend *t)
{
    lw_pages_free(t, sizeof(*t));
}

void lw_trend_current(const struct lw_trend *t, struct lw_verdict *out)
{
    *out = t->current;
    out->changed = false;
}

static struct series *series_of(struct lw_trend *t, const struct proc_series *p)
{
    return &t->proc_data[p - t->procs];
}

static struct proc_series *proc_slot(struct lw_trend *t, const char *name, enum lw_proc_role role,
                                     uint64_t seq)
{
    struct proc_series *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < LW_MAX_PROCS; i++) {
        struct proc_series *p = &t->procs[i];
        if (!p->used) {
            if (!free_slot)
                free_slot = p;
            continue;
        }
        if (p->role == role && strncmp(p->name, name, LW_NAME_MAX) == 0)
            return p;
        if (!oldest || p->last_seq < oldest->last_seq)
            oldest = p;
    }
    struct proc_series *slot = free_slot;
    if (!slot) {
        /* Every slot is taken: the process seen least recently gives its slot up. */
        if (!oldest || oldest->last_seq >= seq)
            return NULL;
        slot = oldest;
    }
    memset(slot, 0, sizeof(*slot));
    memset(series_of(t, slot), 0, sizeof(struct series));
    slot->used = true;
    slot->role = role;
    snprintf(slot->name, sizeof(slot->name), "%.*s", LW_NAME_MAX - 1, name);
    return slot;
}

static bool same_key(const struct lw_record_proc *a, const struct lw_record_proc *b)
{
    return a->role == b->role && strncmp(a->name, b->name, LW_NAME_MAX) == 0;
}

/* The function's processes by pid: a slot per live process, freed when it is gone. */
static void track_pids(struct lw_trend *t, const struct lw_record *rec)
{
    uint32_t n = rec->n_procs < LW_MAX_PROCS ? rec->n_procs : LW_MAX_PROCS;
    for (size_t k = 0; k < LW_MAX_PROCS; k++) {
        struct pid_track *slot = &t->pids[k];
        if (slot->used && slot->last_seq + 1 < rec->seq)
            slot->used = false; /* not in the previous record either: gone */
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct lw_record_proc *p = &rec->procs[i];
        if (!p->have_end || (p->role != LW_ROLE_RUNTIME && p->role != LW_ROLE_RUNTIME_CHILD))
            continue;
        struct pid_track *slot = NULL, *free_slot = NULL;
        for (size_t k = 0; k < LW_MAX_PROCS && !slot; k++) {
            struct pid_track *c = &t->pids[k];
            if (c->used && c->pid == p->pid && c->start_ticks == p->start_ticks)
                slot = c;
            else if (!c->used && !free_slot)
                free_slot = c;
        }
        double anon = (double)p->end.rss_anon_bytes;
        if (!slot) {
            if (!free_slot)
                continue;
            slot = free_slot;
            memset(slot, 0, sizeof(*slot));
            slot->used = true;
            slot->pid = p->pid;
            slot->start_ticks = p->start_ticks;
            slot->role = p->role;
            snprintf(slot->name, sizeof(slot->name), "%.*s", LW_NAME_MAX - 1, p->name);
            slot->first_seq = rec->seq;
            slot->first_bytes = anon;
        }
        slot->last_seq = rec->seq;
        slot->last_bytes = anon;
    }
}

/* Which process of the culprit's name and role grows: the fastest since first seen, among
 * those seen in the last record over at least two records. */
static int32_t culprit_pid(const struct lw_trend *t, const char *name, enum lw_proc_role role,
                           uint32_t *n_alive)
{
    int32_t best = 0;
    double best_rate = 0;
    uint32_t alive = 0;
    int32_t only = 0;
    for (size_t k = 0; k < LW_MAX_PROCS; k++) {
        const struct pid_track *c = &t->pids[k];
        if (!c->used || c->last_seq != t->last_seq || c->role != role ||
            strncmp(c->name, name, LW_NAME_MAX) != 0)
            continue;
        alive++;
        only = c->pid;
        if (c->last_seq <= c->first_seq)
            continue;
        double rate = (c->last_bytes - c->first_bytes) / (double)(c->last_seq - c->first_seq);
        if (rate > best_rate) {
            best_rate = rate;
            best = c->pid;
        }
    }
    *n_alive = alive;
    return alive == 1 ? only : best;
}

/* Per-process readings: processes of one name and role (worker children) are summed. */
static void push_procs(struct lw_trend *t, const struct lw_record *rec)
{
    uint32_t n = rec->n_procs < LW_MAX_PROCS ? rec->n_procs : LW_MAX_PROCS;
    for (uint32_t i = 0; i < n; i++) {
        const struct lw_record_proc *p = &rec->procs[i];
        if (!p->have_end || (unsigned)p->role >= LW_ROLE_COUNT)
            continue;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = rec->procs[j].have_end && same_key(&rec->procs[j], p);
        if (seen)
            continue;
        double anon = 0;
        for (uint32_t j = i; j < n; j++)
            if (rec->procs[j].have_end && same_key(&rec->procs[j], p))
                anon += (double)rec->procs[j].end.rss_anon_bytes;
        struct proc_series *slot = proc_slot(t, p->name, p->role, rec->seq);
        if (!slot)
            continue;
        slot->last_seq = rec->seq;
        if (!slot->have_first) {
            slot->have_first = true;
            slot->first_bytes = anon;
        }
        slot->last_bytes = anon;
        series_push(series_of(t, slot), (double)rec->seq, anon, t->cfg.floor_block_invocations);
    }
}

/*
 * Invocations per minute for the projection. The rate over the last RATE_N invocations follows
 * every swing of the load, and a leak whose projected out-of-memory sits near the recycle
 * horizon then flips between leak and leak-critical on each swing (seen in the emulator: 18
 * alerts for one environment). The environment's whole-life average is what decides whether
 * it will last until it is recycled, and it moves slowly; the short window is used only until
 * the environment has seen as many invocations as the window holds.
 */
static double rate_per_minute(const struct lw_trend *t)
{
    if (t->rate_count > RATE_N && t->times_n >= 2) {
        uint32_t last = (t->times_head + RATE_N - 1) % RATE_N;
        if (t->times_ms[last] > t->rate_first_ms) {
            double minutes = (double)(t->times_ms[last] - t->rate_first_ms) / 60000.0;
            return (double)(t->rate_count - 1) / minutes;
        }
    }
    if (t->times_n < 2)
        return 0;
    uint32_t first = (t->times_head + RATE_N - t->times_n) % RATE_N;
    uint32_t last = (t->times_head + RATE_N - 1) % RATE_N;
    if (t->times_ms[last] <= t->times_ms[first])
        return 0;
    double minutes = (double)(t->times_ms[last] - t->times_ms[first]) / 60000.0;
    return (double)(t->times_n - 1) / minutes;
}

/* A reason sentence. Reasons are capped by the verdict's array: a long process name may cut the
 * end of the sentence, which is acceptable, so truncation is intended here. */
__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

static const char *role_word(enum lw_proc_role role)
{
    switch (role) {
    case LW_ROLE_RUNTIME:
        return "runtime";
    case LW_ROLE_RUNTIME_CHILD:
        return "runtime child";
    case LW_ROLE_EXTENSION:
        return "extension";
    case LW_ROLE_SELF:
        return "leakwatch's own process";
    case LW_ROLE_UNKNOWN:
    case LW_ROLE_COUNT:
        break;
    }
    return "process";
}

/* "runtime 'bootstrap'", "extension 'otel'", "the function" when no process is named. */
static void describe(char *buf, size_t cap, const char *name, enum lw_proc_role role)
{
    if (name[0])
        snprintf(buf, cap, "%s '%.*s'", role_word(role), LW_NAME_MAX - 1, name);
    else
        snprintf(buf, cap, "the function");
}

/* "536 MiB": a size in whole mebibytes (Lambda's "512 MB" of memory is 512 MiB) */
static void fmt_mib(char *buf, size_t cap, double bytes)
{
    snprintf(buf, cap, "%.0f MiB", bytes / (1024.0 * 1024.0));
}

/* What one reading covers, in the reasons. */
static const char *unit_word(const struct lw_trend *t)
{
    return t->intervals ? "interval" : "invocation";
}

/* The runtime's heap ceiling and what it means for this environment. */
struct ceiling {
    double heap_bytes; /* 0: unknown */
    double env_bytes;  /* the environment at the ceiling: its first reading + the heap */
    bool fits;         /* with CEILING_SLACK, within the limit: heap sizing cannot exhaust it */
};

static void runtime_ceiling(const struct lw_trend *t, struct ceiling *c)
{
    memset(c, 0, sizeof(*c));
    c->heap_bytes = (double)lw_runtime_hint_heap_bytes(&t->hint, t->limit_bytes);
    if (c->heap_bytes <= 0 || !t->have_first_env || t->limit_bytes == 0)
        return;
    c->env_bytes = t->first_env_rss_bytes + c->heap_bytes;
    c->fits = t->first_env_rss_bytes + CEILING_SLACK * c->heap_bytes <= (double)t->limit_bytes;
}

/* Where the environment runs out of memory: at the limit, or earlier where it meets the
 * runtime's heap ceiling, while it is still below that (the runtime then fails with its own
 * out-of-memory error). */
static double oom_level(const struct lw_trend *t, const struct ceiling *c)
{
    double limit = (double)t->limit_bytes;
    return c->env_bytes > 0 && c->env_bytes < limit && t->env_rss_bytes < c->env_bytes
               ? c->env_bytes
               : limit;
}

/* "1.0 MiB", "12.5 KiB", "300 bytes": a size or rate the reasons give. */
static void fmt_size(char *buf, size_t cap, double bytes)
{
    double a = fabs(bytes);
    if (a >= 1000.0 * 1024.0) /* 1000 KiB and more: 1.0 MiB, not 1023.8 KiB */
        snprintf(buf, cap, "%.1f MiB", bytes / (1024.0 * 1024.0));
    else if (a >= 1024.0)
        snprintf(buf, cap, "%.1f KiB", bytes / 1024.0);
    else
        snprintf(buf, cap, "%.0f bytes", bytes);
}

static const char *heap_word(enum lw_probe_kind probe)
{
    switch (probe) {
    case LW_PROBE_NODE:
        return "V8 heap";
    case LW_PROBE_PYTHON:
        return "Python heap";
    case LW_PROBE_JVM:
    case LW_PROBE_JVM_PERFDATA:
        return "JVM heap";
    case LW_PROBE_NONE:
    case LW_PROBE_OFF:
    case LW_PROBE_KIND_COUNT:
        break;
    }
    return "heap";
}

/* "native memory flat", "native memory grows 2.0 KiB per invocation", or "" unknown. */
static void native_words(char *buf, size_t cap, const struct lw_trend *t, const struct estimate *e)
{
    char r[24];
    buf[0] = '\0';
    if (!e->valid)
        return;
    if (e->cls == GROWTH_LEAK || e->cls == GROWTH_UNDECIDED) {
        fmt_size(r, sizeof(r), e->slope_bytes);
        snprintf(buf, cap, "native memory grows %s per %s", r, unit_word(t));
    } else {
        snprintf(buf, cap, "native memory flat");
    }
}

/* HEAP_RISING: the points rise as a leak's do, over fewer invocations than a leak needs. */
enum heap_trend { HEAP_UNKNOWN = 0, HEAP_FLAT, HEAP_RISING, HEAP_GROWS };

/*
 * The heap after collections, from its points: grows (most pairs of points rising, the lower
 * quartile of their slopes at least the engine's smallest growth, and a rise beyond what one
 * collection to the next varies), else flat; unknown with fewer than HEAP_MIN_POINTS. Its slope's
 * low end is the lower quartile of the pairwise slopes. A collection's retained heap has no
 * allocation noise in it: a few points are evidence, where RSS needs dozens. Rising (a leak's
 * shape over fewer invocations than a leak needs) lets resident memory decide the verdict, and
 * the heap's slope project it. Two points are not enough even for that: a leak that steps
 * (5 MB on one invocation in ten) gave a slope 40% short from two.
 */
#define HEAP_MIN_POINTS 3
/* A projection from the heap's slope waits for one point more: the median of three points'
 * pairwise slopes is one pair's slope, which a leak's steps falling unevenly between the
 * collections move by a quarter (a Node.js leak of 5 MB on one invocation in ten: 27.1% and
 * 28.8% late from three points in two runs, 1.4% and 5.8% from four in two others). */
#define PROJECTION_MIN_POINTS 4

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
#define HEAP_TAU_MIN 0.6
/* ... and a rise of at least this share of the heap's lowest point: what the same collection
 * retains twice varies by a few percent (Node.js 20, garbage only: 10.5 to 10.7 MB) */
#define HEAP_RISE_SHARE 0.05
#define FITS_SPAN_FACTOR 4
/* How long a leak's projection waits for the heap's points, in leak windows (of
 * gc_leak_min_points): V8's third full collection came 240 invocations after a slow leak was
 * called (52 KB per invocation, 512 MB), its fourth 428. */
#define PROJECTION_WAIT_WINDOWS 24
#define PROJECTION_IMMINENT_WINDOWS 4
_Static_assert((size_t)(GC_POINTS *(GC_POINTS - 1)) <= MAX_PAIRS,
               "the heap's pairs and its later half's pairs fit the scratch together");
static enum heap_trend heap_points_trend(struct lw_trend *t, struct estimate *e)
{
    memset(e, 0, sizeof(*e));
    const struct gc_points *g = &t->heap;
    uint32_t n = ring_copy(g->p, g->head, g->n, GC_POINTS, t->pts);
    if (n < HEAP_MIN_POINTS)
        return HEAP_UNKNOWN;
    size_t m = 0;
    long s = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++) {
            double dx = t->pts[j].x - t->pts[i].x, dy = t->pts[j].y - t->pts[i].y;
            s += dy > 0 ? 1 : dy < 0 ? -1 : 0;
            if (dx > 0)
                t->pairs[m++] = dy / dx;
        }
    if (m == 0)
        return HEAP_UNKNOWN;
    e->valid = true;
    e->n = n;
    e->tau = (double)s / ((double)n * (n - 1) / 2.0);
    qsort(t->pairs, m, sizeof(t->pairs[0]), cmp_double);
    e->slope_bytes = m % 2 ? t->pairs[m / 2] : (t->pairs[m / 2 - 1] + t->pairs[m / 2]) / 2;
    double lo = t->pairs[m / 4];
    e->slope_lo_bytes = lo;
    /* The same floor as resident memory's in a collected runtime: a few points after
     * collections, each carrying what the invocation under way held when it ran, can rise by
     * chance (a JVM leaking nothing, with Lambda's flags: 1.36, 1.66 and 1.70 MiB kept at
     * invocations 82, 116 and 144, then 1.23), and a slope under this share of the limit needs
     * more than 50,000 invocations to fill the memory. */
    double min_growth = t->cfg.min_growth_bytes_per_invocation;
    if (t->limit_bytes > 0 && GC_FLOOR_SHARE * (double)t->limit_bytes > min_growth)
        min_growth = GC_FLOOR_SHARE * (double)t->limit_bytes;
    double lo_y = t->pts[0].y, hi_y = t->pts[0].y;
    for (uint32_t i = 1; i < n; i++) {
        lo_y = t->pts[i].y < lo_y ? t->pts[i].y : lo_y;
        hi_y = t->pts[i].y > hi_y ? t->pts[i].y : hi_y;
    }
    /* Growth that fills something up (a cache, a ring of the last N requests) rises as a leak
     * does at first: the points must span as many invocations as RSS needs for a collected
     * runtime, and the recent pace must still keep up with the slope. The recent pace is the
     * median slope of the pairs of points in the later half of the span, when it holds three:
     * neither one step between two collections close together (V8 collected twice 16
     * invocations apart at 355 MB, the second keeping 0.2 MB more where a 52 KB leak had added
     * 0.8 MB) nor one collection that kept a little more of a plateau (a JVM's heap after its
     * fill, 43.8 then 48.4 MB) says it. With fewer, the last step, back to the latest point at
     * least the points' mean spacing before the last. */
    const struct point *b = &t->pts[n - 1];
    double mid = t->pts[0].x + (b->x - t->pts[0].x) / 2;
    uint32_t first = n - 1;
    while (first > 0 && t->pts[first - 1].x >= mid)
        first--;
    double last_slope;
    if (n - first >= 3) {
        double *recent = t->pairs + m; /* after the window's own pairs */
        size_t r = 0;
        for (uint32_t i = first; i < n; i++)
            for (uint32_t j = i + 1; j < n; j++)
                if (t->pts[j].x > t->pts[i].x)
                    recent[r++] = (t->pts[j].y - t->pts[i].y) / (t->pts[j].x - t->pts[i].x);
        last_slope = r == 0 ? 0 : lw_median(recent, r);
    } else {
        double spacing = (b->x - t->pts[0].x) / (double)(n - 1);
        uint32_t k = n - 2;
        while (k > 0 && b->x - t->pts[k].x < spacing)
            k--;
        const struct point *a = &t->pts[k];
        last_slope = b->x > a->x ? (b->y - a->y) / (b->x - a->x) : 0;
    }
    /* A heap whose ceiling fits the memory limit can exhaust only itself (the runtime's own
     * out-of-memory error, not the environment's): its growth must last FITS_SPAN_FACTOR times
     * as long. What fills and then stops (the last 40 requests' data kept, 4 MB each, in a JVM
     * with -Xmx400m in 512 MB) rises as a leak does for as long as it fills. */
    struct ceiling ceil_;
    runtime_ceiling(t, &ceil_);
    double span = (double)t->cfg.gc_leak_min_points * (ceil_.fits ? FITS_SPAN_FACTOR : 1);
    bool long_enough = b->x - t->pts[0].x >= span;
    bool rises = e->tau >= HEAP_TAU_MIN && e->slope_lo_bytes >= min_growth &&
                 hi_y - lo_y >= HEAP_RISE_SHARE * lo_y &&
                 last_slope >= DECEL_RATIO * e->slope_bytes;
    if (rises) {
        e->cls = GROWTH_LEAK;
        return long_enough ? HEAP_GROWS : HEAP_RISING;
    }
    return HEAP_FLAT;
}

/* The probes of the runtimes whose collector sizes its heap in resident memory (V8, HotSpot),
 * and whose heap after collections therefore tells a leak's pace where resident memory cannot. */
static bool sizes_heap(enum lw_probe_kind probe)
{
    return probe == LW_PROBE_NODE || probe == LW_PROBE_JVM || probe == LW_PROBE_JVM_PERFDATA;
}

/*
 * The runtime's truth, when its probe reports: which part grows. Said in `part` (empty: no
 * probe series yet, RSS alone decides). A heap or external-memory leak is a leak whatever RSS
 * shows (the heap may still fit in memory the collector had already taken); RSS growth with
 * the heap after collections flat and native memory flat is the collector sizing its heap,
 * never a leak; with native memory growing it stays one, and says where to look.
 */
static void runtime_parts(struct lw_trend *t, struct estimate *fn, bool *heap_sizing,
                          bool *in_heap_out, struct estimate *rising, bool *heap_due, char *part,
                          size_t cap)
{
    part[0] = '\0';
    *in_heap_out = false;
    *heap_due = false;
    memset(rising, 0, sizeof(*rising));
    if (t->probe == LW_PROBE_NONE)
        return;
    struct leak_rules rules = {.min_points = t->cfg.leak_min_points, .floor_bytes = 0};
    struct estimate heap, ext, native;
    estimate_series(t, &t->ext, &ext, true, &rules);
    estimate_series(t, &t->native, &native, true, &rules);
    enum heap_trend ht = heap_points_trend(t, &heap);
    char rate[24], nat[64];
    native_words(nat, sizeof(nat), t, &native);
    const char *sep = nat[0] ? "; " : "";
    if (ht == HEAP_GROWS || (ext.valid && ext.cls == GROWTH_LEAK)) {
        bool in_heap = ht == HEAP_GROWS;
        const struct estimate *e = in_heap ? &heap : &ext;
        fmt_size(rate, sizeof(rate), e->slope_bytes);
        if (in_heap)
            snprintf(part, cap, "%s grows %s per %s%s%s", heap_word(t->probe), rate, unit_word(t),
                     sep, nat);
        else
            snprintf(part, cap,
                     "external memory (Buffers, ArrayBuffers) grows %s per %s; %s flat after "
                     "collections",
                     rate, unit_word(t), heap_word(t->probe));
        *fn = *e;
        *heap_sizing = false;
        *in_heap_out = in_heap;
        *heap_due = in_heap && sizes_heap(t->probe) && t->heap.n < PROJECTION_MIN_POINTS;
        return;
    }
    if (ht == HEAP_RISING)
        *rising = heap; /* too short to decide: RSS decides, the heap's slope projects */
    /* Too few collections yet for the heap's slope, in a runtime whose resident memory also
     * carries the collector sizing its heap: only the heap's own slope can say when it runs
     * out, unless what grows is outside it. */
    *heap_due = (ht == HEAP_UNKNOWN || (ht == HEAP_RISING && t->heap.n < PROJECTION_MIN_POINTS)) &&
                sizes_heap(t->probe) && !(native.valid && native.cls == GROWTH_LEAK);
    if (ht != HEAP_FLAT)
        return; /* too few collections yet: RSS's own words */
    if (fn->cls != GROWTH_LEAK && fn->cls != GROWTH_UNDECIDED && !*heap_sizing)
        return; /* nothing grows: RSS's own words say so */
    if (native.valid && (native.cls == GROWTH_LEAK || native.cls == GROWTH_UNDECIDED)) {
        snprintf(part, cap, "native memory grows, %s flat: look at buffers and native modules",
                 heap_word(t->probe));
        return;
    }
    if (!native.valid)
        return; /* what lies outside the heap is not known: RSS's own words */
    /* RSS grows, the heap after collections does not, nor what lies outside it */
    snprintf(part, cap, "%s flat after collections%s%s: heap sizing, not a leak",
             heap_word(t->probe), sep, nat);
    fn->cls = GROWTH_WARMING;
    *heap_sizing = true;
}

/*
 * One assessment without hysteresis. Returns false when the engine has no new opinion
 * (the floor does not hold enough points yet): the current verdict stands.
 */
/*
 * What the heap retains now: each of its last three points moved on to now at the heap's slope,
 * and the median of those. One figure far off its neighbours does not decide it: a JVM's
 * performance data once gave 442 MB after a full collection, its whole heap, between 320 and
 * 326 MB before and after (most likely read while that collection was under way), and from
 * the last point alone memory "ran out in 0 s" for 100 invocations, 2,200 before it did. With
 * fewer points, the last.
 */
static double retained_now(const struct lw_trend *t, double slope)
{
    double at[3];
    uint32_t k = t->heap.n < 3 ? 1 : 3;
    for (uint32_t i = 0; i < k; i++) {
        const struct point *p = &t->heap.p[(t->heap.head + GC_POINTS - 1 - i) % GC_POINTS];
        double since = (double)t->last_seq > p->x ? (double)t->last_seq - p->x : 0;
        at[i] = p->y + slope * since;
    }
    if (k == 1)
        return at[0];
    double lo = fmin(at[0], at[1]), hi = fmax(at[0], at[1]);
    return at[2] < lo ? lo : at[2] > hi ? hi : at[2];
}

/*
 * Whether the retained floor over the long view shows a leak in its own right: growing
 * significantly, its recent half keeping up and, in a collected runtime (gc), clear of the
 * runtime's drift (floor_outpaces_drift). Without that floor a Node.js
 * function keeping nothing raised a leak-critical alert at invocation 1,255 (withdrawn at
 * 1,644; tests/fixtures/series/node-garbage-drift.csv): one window's slope just cleared the
 * floor, and the long view "grew significantly" at 1.9 KB per invocation, a fifth of it.
 */
static bool floor_shows_leak(struct lw_trend *t, const struct floor_fit *ff, bool gc)
{
    if (ff->n < t->cfg.leak_min_points || !ff->grows || !ff->keeps_up)
        return false;
    return !gc || floor_outpaces_drift(t, ff);
}

/* Whether a leak slower than SLOW_LEAK_SHARE of the limit per invocation still waits for the
 * retained floor over the long view to show it too (floor_shows_leak). Only for a collected
 * runtime. */
static bool slow_unconfirmed(struct lw_trend *t, const struct estimate *fn)
{
    double limit = (double)t->limit_bytes;
    if (limit <= 0 || fn->slope_bytes >= SLOW_LEAK_SHARE * limit)
        return false;
    /* not while waiting could take it to the limit */
    double wait = (double)t->cfg.leak_min_points * t->cfg.floor_block_invocations;
    if (t->have_env && limit - t->env_rss_bytes < fn->slope_bytes * 4 * wait)
        return false;
    return !floor_shows_leak(t, fn_floor_fit(t), true);
}

static bool assess(struct lw_trend *t, struct lw_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->intervals = t->intervals;
    struct ceiling ceil_;
    runtime_ceiling(t, &ceil_);
    v->runtime_heap_ceiling_bytes = (uint64_t)ceil_.heap_bytes;
    v->runtime_ceiling_fits = ceil_.fits;
    if (t->n_readings < t->cfg.min_points) {
        v->kind = LW_VERDICT_LEARNING;
        say(v->reason, sizeof(v->reason), "learning: %u of %u end readings after a %u-%s warm-up",
            t->n_readings, t->cfg.min_points, t->cfg.warmup_invocations, unit_word(t));
        return true;
    }

    /* A garbage-collected runtime grows for a while by design: a leak there needs more
     * readings and growth clear of its drift. */
    bool gc = t->hint.kind != LW_RUNTIME_UNKNOWN;
    struct leak_rules fn_rules = {
        .min_points = gc ? t->cfg.gc_leak_min_points : t->cfg.leak_min_points,
        .floor_bytes = gc ? GC_FLOOR_SHARE * (double)t->limit_bytes : 0,
    };
    struct leak_rules other_rules = {.min_points = t->cfg.leak_min_points, .floor_bytes = 0};

    struct estimate fn;
    estimate_series(t, &t->fn, &fn, true, &fn_rules);
    t->fn_floor_mode = fn.valid && fn.floor_mode;
    if (gc && fn.cls == GROWTH_LEAK && slow_unconfirmed(t, &fn)) {
        fn.cls = GROWTH_UNDECIDED;
        fn.undecided = "slow for a runtime that warms up, until the retained floor over the long "
                       "view shows it too";
    }
    /* Growth toward a heap ceiling that fits the limit, while the environment is still below
     * it: the collector sizing its heap, never an out-of-memory. Above the ceiling the growth
     * is outside the heap and is judged as any other. */
    bool heap_sizing = ceil_.fits && t->env_rss_bytes <= ceil_.env_bytes &&
                       (fn.cls == GROWTH_LEAK || fn.cls == GROWTH_UNDECIDED);
    if (heap_sizing)
        fn.cls = GROWTH_WARMING;
    char part[160];
    bool heap_leak = false;
    struct estimate heap_rising;
    bool heap_due = false;
    runtime_parts(t, &fn, &heap_sizing, &heap_leak, &heap_rising, &heap_due, part, sizeof(part));

    /* The candidates: the function as a whole, and each process that is not the function. */
    const struct estimate *driver = NULL;
    struct estimate driver_est;
    const struct proc_series *driver_proc = NULL;
    double leak_sum = 0, leak_lo_sum = 0;
    bool any_valid = fn.valid;
    if (fn.valid && fn.cls != GROWTH_NONE) {
        driver_est = fn;
        driver = &driver_est;
        if (fn.cls == GROWTH_LEAK) {
            leak_sum += fn.slope_bytes;
            leak_lo_sum += fn.slope_lo_bytes > 0 ? fn.slope_lo_bytes : 0;
        }
    }
    for (size_t i = 0; i < LW_MAX_PROCS; i++) {
        struct proc_series *p = &t->procs[i];
        if (!p->used || p->last_seq != t->last_seq ||
            (p->role != LW_ROLE_EXTENSION && p->role != LW_ROLE_SELF))
            continue;
        if (p->role == LW_ROLE_SELF && p->last_bytes - p->first_bytes <= SELF_FILL_BYTES) {
            /* its own buffers becoming resident, not a leak, whatever the fit would say: the
             * fit is not made (leakwatch's own pages creep in over its first few hundred
             * invocations, and a full fit at each was its pipeline's largest cost then) */
            any_valid = any_valid || series_of(t, p)->raw_n >= t->cfg.min_points;
            continue;
        }
        struct estimate e;
        estimate_series(t, series_of(t, p), &e, false, &other_rules);
        any_valid = any_valid || e.valid;
        if (!e.valid || e.cls == GROWTH_NONE)
            continue;
        if (e.cls == GROWTH_LEAK) {
            leak_sum += e.slope_bytes;
            leak_lo_sum += e.slope_lo_bytes > 0 ? e.slope_lo_bytes : 0;
        }
        /* a leak outranks warming; among equals, the faster grower */
        if (!driver || e.cls > driver->cls ||
            (e.cls == driver->cls && e.slope_bytes > driver->slope_bytes)) {
            driver_est = e;
            driver = &driver_est;
            driver_proc = p;
        }
    }
    if (!any_valid)
        return false;

    if (!driver) {
        v->kind = LW_VERDICT_STEADY;
        v->growth_bytes_per_invocation = fn.valid ? fn.slope_bytes : 0;
        v->confidence = fn.valid && fn.tau > 0 ? fn.tau : 0;
        double rate = rate_per_minute(t);
        v->growth_bytes_per_hour = v->growth_bytes_per_invocation * rate * 60;
        say(v->reason, sizeof(v->reason),
            "no retained growth: anonymous RSS of the function changes %.0f bytes per %s "
            "over the last %u %s",
            v->growth_bytes_per_invocation, unit_word(t), fn.n,
            fn.floor_mode ? "floor points" : "readings");
        return true;
    }

    /* Name the culprit. Growth of the function is pinned on its fastest-growing process. */
    if (driver_proc) {
        snprintf(v->culprit, sizeof(v->culprit), "%s", driver_proc->name);
        v->culprit_role = driver_proc->role;
    } else {
        /* Rank: a process with an estimate beats one without; then the faster grower; with
         * no estimate at all (new processes), the runtime itself is the best guess. */
        int best_rank = -1;
        double best_slope = 0;
        /* With one process of the function (the usual runtime) it is the culprit: no fit */
        uint32_t n_fn = 0;
        for (size_t i = 0; i < LW_MAX_PROCS; i++) {
            const struct proc_series *p = &t->procs[i];
            n_fn += p->used && p->last_seq == t->last_seq &&
                    (p->role == LW_ROLE_RUNTIME || p->role == LW_ROLE_RUNTIME_CHILD);
        }
        for (size_t i = 0; i < LW_MAX_PROCS; i++) {
            struct proc_series *p = &t->procs[i];
            if (!p->used || p->last_seq != t->last_seq ||
                (p->role != LW_ROLE_RUNTIME && p->role != LW_ROLE_RUNTIME_CHILD))
                continue;
            struct estimate e;
            if (n_fn == 1)
                memset(&e, 0, sizeof(e));
            else
                estimate_series(t, series_of(t, p), &e, true, &other_rules);
            int rank = e.valid ? 2 : p->role == LW_ROLE_RUNTIME ? 1 : 0;
            if (rank > best_rank || (rank == 2 && best_rank == 2 && e.slope_bytes > best_slope)) {
                best_rank = rank;
                best_slope = e.slope_bytes;
                snprintf(v->culprit, sizeof(v->culprit), "%s", p->name);
                v->culprit_role = p->role;
            }
        }
    }

    uint32_t same_name = 0;
    if (v->culprit[0] &&
        (v->culprit_role == LW_ROLE_RUNTIME || v->culprit_role == LW_ROLE_RUNTIME_CHILD))
        v->culprit_pid = culprit_pid(t, v->culprit, v->culprit_role, &same_name);

    double rate = rate_per_minute(t);
    v->growth_bytes_per_invocation = driver->slope_bytes;
    v->growth_lower_bytes_per_invocation = driver->slope_lo_bytes > 0 ? driver->slope_lo_bytes : 0;
    v->growth_bytes_per_hour = driver->slope_bytes * rate * 60;
    v->confidence = driver->tau > 0 ? driver->tau : 0;
    char who[LW_NAME_MAX + 32];
    describe(who, sizeof(who), v->culprit, v->culprit_role);
    if (same_name > 1 && v->culprit_pid > 0) {
        /* workers of one name: which of them */
        size_t used = strlen(who);
        snprintf(who + used, sizeof(who) - used, " (pid %d of %u)", (int)v->culprit_pid, same_name);
    }
    char heap[24], at[24], lim[24];
    fmt_mib(heap, sizeof(heap), ceil_.heap_bytes);
    fmt_mib(at, sizeof(at), ceil_.env_bytes);
    fmt_mib(lim, sizeof(lim), (double)t->limit_bytes);

    if (driver->cls != GROWTH_LEAK) {
        t->crit_streak = 0;
        v->kind = LW_VERDICT_WARMING;
        if (part[0] && driver == &driver_est && !driver_proc)
            say(v->reason, sizeof(v->reason), "%s (anonymous RSS of %s grows %.0f bytes per %s)",
                part, who, driver->slope_bytes, unit_word(t));
        else if (heap_sizing && driver == &driver_est && !driver_proc)
            say(v->reason, sizeof(v->reason),
                "anonymous RSS of %s grows %.0f bytes per %s toward its heap ceiling "
                "(%s: %s, %s with the environment), which fits the %s limit: heap sizing",
                who, driver->slope_bytes, unit_word(t), t->hint.origin, heap, at, lim);
        else if (driver->cls == GROWTH_WARMING)
            say(v->reason, sizeof(v->reason),
                "anonymous RSS of %s grows but slows down (%.0f bytes per %s recently, "
                "%.0f before): warming toward a plateau",
                who, driver->slope_recent_bytes > 0 ? driver->slope_recent_bytes : 0, unit_word(t),
                driver->slope_old_bytes);
        else {
            v->still_growing = true;
            say(v->reason, sizeof(v->reason),
                "anonymous RSS of %s grows %.0f bytes per %s, not yet a leak: %s", who,
                driver->slope_bytes, unit_word(t), driver->undecided ? driver->undecided : "");
        }
        return true;
    }

    v->kind = LW_VERDICT_LEAK;
    char growth[128];
    if (t->intervals && rate > 0) {
        /* per hour: what a team plans with when invocations overlap */
        char hour[24], hour_lo[24];
        fmt_size(hour, sizeof(hour), driver->slope_bytes * rate * 60);
        fmt_size(hour_lo, sizeof(hour_lo), v->growth_lower_bytes_per_invocation * rate * 60);
        snprintf(growth, sizeof(growth), "grows %s per hour (at least %s; %.0f bytes per interval)",
                 hour, hour_lo, driver->slope_bytes);
    } else {
        snprintf(growth, sizeof(growth), "grows %.0f bytes per %s (at least %.0f)",
                 driver->slope_bytes, unit_word(t), v->growth_lower_bytes_per_invocation);
    }
    /* the part that grows, when the runtime's probe tells it, in place of RSS's words */
    char what[LW_NAME_MAX + 300];
    if (part[0] && !driver_proc)
        snprintf(what, sizeof(what), "%s", part);
    else
        snprintf(what, sizeof(what), "anonymous RSS of %s %s", who, growth);
    if (t->limit_bytes == 0 || !t->have_env || leak_sum <= 0) {
        t->crit_streak = 0;
        t->projection_wait_seq = 0;
        say(v->reason, sizeof(v->reason), "%s; the memory limit is unknown, no projection", what);
        return true;
    }
    /* A collected runtime's leak called from resident memory before its heap has the points
     * for a slope: resident memory's slope also carries the collector sizing its heap (a
     * Node.js leak of 524 KB per invocation grew it 1.7 MB per invocation), so a projection
     * from it would be early by half. The leak stands; when memory runs out waits for the
     * heap's fourth point (V8's full collections came 11 to 240 invocations apart), and not
     * beyond PROJECTION_WAIT_WINDOWS leak windows, after which resident memory projects; nor
     * once resident memory's pace, which runs ahead of the heap's, would meet the limit within
     * PROJECTION_IMMINENT_WINDOWS: a heap that does not report in time (a probe that lost its
     * callback) must not keep a fast leak from its projection until it has run out. */
    bool imminent = (double)t->limit_bytes - t->env_rss_bytes <
                    leak_sum * PROJECTION_IMMINENT_WINDOWS * t->cfg.gc_leak_min_points;
    bool waits = heap_due && !driver_proc && t->heap.n < PROJECTION_MIN_POINTS && !imminent;
    if (waits && t->projection_wait_seq == 0)
        t->projection_wait_seq = t->last_seq;
    if (!waits)
        t->projection_wait_seq = 0;
    else if (t->last_seq - t->projection_wait_seq <
             (uint64_t)PROJECTION_WAIT_WINDOWS * t->cfg.gc_leak_min_points) {
        t->crit_streak = 0;
        if (t->heap.n < HEAP_MIN_POINTS)
            say(v->reason, sizeof(v->reason),
                "%s; when memory runs out: after the heap's next collections (%u of %u so far), "
                "as resident memory also grows with the collector sizing its heap",
                what, t->heap.n, (unsigned)PROJECTION_MIN_POINTS);
        else
            say(v->reason, sizeof(v->reason),
                "%s; when memory runs out: after the heap's next collection (%u of %u so far): "
                "the slope of fewer can be a quarter off",
                what, t->heap.n, (unsigned)PROJECTION_MIN_POINTS);
        return true;
    }
    /* Out of memory where the environment meets the limit, or earlier where the runtime meets
     * its heap ceiling (the runtime then fails with its own out-of-memory error). */
    double oom_at = oom_level(t, &ceil_);
    bool at_heap = oom_at < (double)t->limit_bytes;
    double headroom = oom_at - t->env_rss_bytes;
    if (headroom < 0)
        headroom = 0;
    v->projected_invocations_to_oom = headroom / leak_sum;
    double lo_runs = leak_lo_sum > 0 ? headroom / leak_lo_sum : INFINITY;
    /* A leak in the heap, with the heap's ceiling reported by the runtime: the runtime fails
     * when what it retains meets that ceiling, whatever resident memory does. Where the
     * environment's end is the runtime's ceiling in resident memory (at_heap), or resident
     * memory has stopped there, the heap alone tells: a JVM commits all of its heap long before
     * it fills it (flat for its last 220 invocations before its OutOfMemoryError, with
     * -XX:MaxHeapSize at 85% of 512 MB). Otherwise whichever runs out first. What is retained
     * now: the last full collection's figure, moved on at the heap's slope (a JVM's full
     * collections came 40 to 240 invocations apart). The same for a heap whose few points
     * already rise as a leak's do while resident memory still decides the verdict: the heap's
     * slope, not resident memory's (which also carries the collector sizing its heap), says
     * when the heap runs out. */
    const struct estimate *heap_est = heap_leak ? driver : heap_rising.valid ? &heap_rising : NULL;
    double heap_cap = t->heap_limit_bytes;
    if (t->probe == LW_PROBE_NODE) {
        /* V8 fails when its old generation's committed size cannot stay within its old space
         * (less than the heap's limit by the young generation's reserve). What its objects
         * leave unused there counts too: with 52 KB arrays among garbage, 81% of it held
         * objects, and V8 failed with 400 MB retained for a 483 MB old space. So the ceiling
         * for what is retained is the old space at that share. */
        double old_space = (double)lw_runtime_hint_old_space_bytes(&t->hint, t->limit_bytes);
        const struct point *last =
            t->heap.n ? &t->heap.p[(t->heap.head + GC_POINTS - 1) % GC_POINTS] : NULL;
        if (old_space > 0 && last && t->old_committed_bytes > 0) {
            double share = last->y / t->old_committed_bytes;
            old_space *= share < 1 ? share : 1;
        }
        if (old_space > 0 && (heap_cap <= 0 || old_space < heap_cap))
            heap_cap = old_space;
    }
    if (heap_est && !driver_proc && heap_cap > 0 && t->heap.n > 0) {
        double retained = retained_now(t, heap_est->slope_bytes);
        double room = heap_cap - retained;
        if (room < 0)
            room = 0;
        double heap_runs = room / heap_est->slope_bytes;
        double heap_lo_runs =
            heap_est->slope_lo_bytes > 0 ? room / heap_est->slope_lo_bytes : INFINITY;
        bool rss_at_ceiling =
            ceil_.env_bytes > 0 && t->env_rss_bytes >= AT_CEILING_SHARE * ceil_.env_bytes;
        if (t->probe == LW_PROBE_NODE && t->heap_resident_bytes > 0 && !at_heap &&
            t->heap_resident_bytes < t->env_rss_bytes) {
            /* Nor is the memory limit met where resident memory's slope says: V8's heap
             * carries garbage it gives back as the heap fills (a leaking Node.js function's
             * resident memory grew 1.7 MB per invocation for a 0.5 MB leak, then fell by 45 MB
             * near its old space's limit). What the environment needs at the end is what lies
             * outside the heap now and what the heap retains by then. */
            double mem_room = oom_at - (t->env_rss_bytes - t->heap_resident_bytes + retained);
            if (mem_room < 0)
                mem_room = 0;
            v->projected_invocations_to_oom = mem_room / heap_est->slope_bytes;
            lo_runs = heap_est->slope_lo_bytes > 0 ? mem_room / heap_est->slope_lo_bytes : INFINITY;
        }
        if (at_heap || rss_at_ceiling || heap_runs < v->projected_invocations_to_oom) {
            v->projected_invocations_to_oom = heap_runs;
            lo_runs = heap_lo_runs;
            at_heap = true;
        }
    }
    if (rate <= 0) {
        t->crit_streak = 0;
        say(v->reason, sizeof(v->reason), "%s; memory runs out in %.0f %ss (rate unknown)", what,
            v->projected_invocations_to_oom, unit_word(t));
        return true;
    }
    v->have_projection = true;
    v->projected_minutes_to_oom = v->projected_invocations_to_oom / rate;
    v->projected_minutes_to_oom_late = lo_runs / rate;
    /* leak-critical: confident that memory runs out before the horizon, i.e. even the slowest
     * growth the readings support gets there, in hold_assessments assessments in a row. Once
     * critical, it stays so until that projection is clearly beyond the horizon. */
    double horizon = t->cfg.recycle_horizon_minutes;
    bool was_critical = t->current.kind == LW_VERDICT_LEAK_CRITICAL;
    double limit_min = was_critical ? horizon * CRITICAL_EXIT : horizon;
    bool critical_now = v->projected_minutes_to_oom_late < limit_min;
    t->crit_streak = critical_now ? t->crit_streak + 1 : 0;
    bool critical = critical_now && (was_critical || t->crit_streak >= t->cfg.hold_assessments);
    if (critical)
        v->kind = LW_VERDICT_LEAK_CRITICAL;
    char mins[32], late[32];
    lw_time_fmt_minutes(v->projected_minutes_to_oom, mins, sizeof(mins));
    lw_time_fmt_minutes(v->projected_minutes_to_oom_late, late, sizeof(late));
    /* the verdict says which: a runtime whose heap ceiling does not fit can run out on heap
     * sizing alone */
    char ceiling_note[64] = "";
    if (ceil_.heap_bytes > 0 && !ceil_.fits && !driver_proc)
        snprintf(ceiling_note, sizeof(ceiling_note), "; its heap ceiling (%s) does not fit", heap);
    char pace[48] = "";
    if (!t->intervals)
        snprintf(pace, sizeof(pace), "at %.1f invocations/min ", rate);
    /* Projected from the function's resident memory in a runtime whose collector sizes its heap
     * there, with no figure of the heap's own: that pace carries the sizing too, so the
     * out-of-memory it says tends to come early (by 20-86% for Node.js in docs/verdict.md). */
    bool rss_pace = !heap_est && !driver_proc && !part[0] &&
                    (t->hint.kind == LW_RUNTIME_NODE || t->hint.kind == LW_RUNTIME_JVM ||
                     t->hint.kind == LW_RUNTIME_DOTNET);
    /* Managed Instances publish no environment lifetime: there the same minutes are only how
     * soon an out-of-memory must be to make the leak critical, and the reason says so. */
    say(v->reason, sizeof(v->reason),
        "%s%s; %s%s runs out in %s%s (at the latest %s), "
        "%s the %.0f min %s",
        what, ceiling_note, pace, at_heap ? "the heap" : "memory", mins,
        rss_pace ? " at resident memory's pace, heap sizing included" : "", late,
        critical       ? (t->intervals ? "within" : "before")
        : critical_now ? (t->intervals ? "likely within" : "likely before")
                       : (t->intervals ? "not within" : "after"),
        horizon, t->intervals ? "critical window" : "recycle horizon");
    return true;
}

/*
 * A standing leak whose window no longer shows one as such (a leak that steps, a window whose
 * slope is too noisy to project from), while the retained floor over the long view (block
 * minima over up to FLOOR_N blocks, 512 invocations) still grows and its recent half keeps up:
 * how soon memory runs out at the floor's pace. A Node.js leak of 52 KB per invocation, without
 * V8's own figures, stood like this for 6,700 of its 7,400 invocations with no projection at
 * all. Only for a function whose runtime reports no heap of its own (the heap's projection is
 * the better one there). Never leak-critical: the long view trails a leak that stopped by up to
 * half its length, and critical means confident.
 */
static bool long_view(struct lw_trend *t, struct lw_verdict *v)
{
    if (t->limit_bytes == 0 || !t->have_env || t->heap.n > 0)
        return false;
    double rate = rate_per_minute(t);
    if (rate <= 0)
        return false;
    const struct floor_fit *ff = fn_floor_fit(t);
    if (!floor_shows_leak(t, ff, t->hint.kind != LW_RUNTIME_UNKNOWN))
        return false;

    struct ceiling c;
    runtime_ceiling(t, &c);
    double oom_at = oom_level(t, &c);
    double headroom = oom_at > t->env_rss_bytes ? oom_at - t->env_rss_bytes : 0;
    double slope_lo = ff->slope_lo > 0 ? ff->slope_lo : 0;

    char window[sizeof(v->reason)];
    memcpy(window, v->reason, sizeof(window));
    char who[LW_NAME_MAX + 32];
    describe(who, sizeof(who), v->culprit, v->culprit_role);
    v->kind = LW_VERDICT_LEAK;
    v->still_growing = true;
    v->growth_bytes_per_invocation = ff->slope;
    v->growth_lower_bytes_per_invocation = slope_lo;
    v->growth_bytes_per_hour = ff->slope * rate * 60;
    v->confidence = ff->tau > 0 ? ff->tau : 0;
    v->have_projection = true;
    v->projected_invocations_to_oom = headroom / ff->slope;
    v->projected_minutes_to_oom = v->projected_invocations_to_oom / rate;
    v->projected_minutes_to_oom_late = slope_lo > 0 ? headroom / slope_lo / rate : INFINITY;

    char growth[128];
    if (t->intervals) {
        char hour[24], hour_lo[24];
        fmt_size(hour, sizeof(hour), v->growth_bytes_per_hour);
        fmt_size(hour_lo, sizeof(hour_lo), slope_lo * rate * 60);
        snprintf(growth, sizeof(growth), "%s per hour (at least %s)", hour, hour_lo);
    } else {
        snprintf(growth, sizeof(growth), "%.0f bytes per invocation (at least %.0f)", ff->slope,
                 slope_lo);
    }
    char mins[32], late[32];
    lw_time_fmt_minutes(v->projected_minutes_to_oom, mins, sizeof(mins));
    lw_time_fmt_minutes(v->projected_minutes_to_oom_late, late, sizeof(late));
    bool sizes = t->hint.kind == LW_RUNTIME_NODE || t->hint.kind == LW_RUNTIME_JVM ||
                 t->hint.kind == LW_RUNTIME_DOTNET;
    say(v->reason, sizeof(v->reason),
        "the leak stands over a longer view: the retained floor of %s grows %s over the last "
        "%.0f %ss; memory runs out in %s%s (at the latest %s), not called critical from the "
        "long view; this window: %s",
        who, growth, ff->span, unit_word(t), mins,
        sizes ? " at resident memory's pace, heap sizing included" : "", late, window);
    return true;
}

/*
 * The runtime probes' series. The heap's is what it retains: the heap after the last major
 * collection (V8's mark-compact, the JVM's full collection), or for Python, whose probe writes
 * after generation-2 collections, tracemalloc's traced memory. A figure missing from a record
 * is a gap in its series, never guessed. native: the function's anonymous RSS less the heap's
 * own memory, what grows when buffers or native modules leak.
 */
static void push_runtime(struct lw_trend *t, const struct lw_record *rec)
{
    const struct lw_runtime_mem *rt = &rec->runtime;
    if (rt->processes == 0 || rt->probe == LW_PROBE_NONE || rt->probe == LW_PROBE_OFF)
        return;
    t->probe = rt->probe;
    const struct lw_heap_mem *h = &rt->heap;
    double x = (double)rec->seq;
    uint32_t block = t->cfg.floor_block_invocations;
    double retained = -1;
    if (h->have & LW_HEAP_AFTER_MAJOR)
        retained = (double)h->after_major_bytes;
    else if (rt->probe == LW_PROBE_PYTHON && (h->have & LW_HEAP_AFTER_GC))
        retained = (double)h->after_gc_bytes;
    struct gc_points *g = &t->heap;
    if (retained >= 0 && (!g->have_count || h->major_gcs != g->last_count)) {
        g->have_count = true;
        g->last_count = h->major_gcs;
        g->p[g->head] = (struct point){.x = x, .y = retained};
        g->head = (g->head + 1) % GC_POINTS;
        if (g->n < GC_POINTS)
            g->n++;
    }
    if (h->have & LW_HEAP_LIMIT)
        t->heap_limit_bytes = (double)h->limit_bytes;
    t->heap_resident_bytes = (h->have & LW_HEAP_RESIDENT) ? (double)h->resident_bytes : 0;
    t->old_committed_bytes = (h->have & LW_HEAP_OLD_COMMITTED) ? (double)h->old_committed_bytes : 0;
    if (h->have & LW_HEAP_EXTERNAL)
        series_push(&t->ext, x, (double)h->external_bytes, block);
    if ((h->have & LW_HEAP_RESIDENT) && rec->fn_end.rss_anon_bytes >= h->resident_bytes)
        series_push(&t->native, x, (double)(rec->fn_end.rss_anon_bytes - h->resident_bytes), block);
}

/*
 * Whether the runtime is listed without an end reading: it exited (killed for memory, crashed)
 * before the reading was taken. The record's end figures then hold what was left after it died:
 * no reading of the function. Seen in the emulator on the record before an out-of-memory kill:
 * function anonymous RSS 0, environment RSS 11 MB instead of 268 MB, and a projection of 975
 * more invocations for an environment that had just died.
 */
static bool runtime_gone(const struct lw_record *rec)
{
    uint32_t n = rec->n_procs < LW_MAX_PROCS ? rec->n_procs : LW_MAX_PROCS;
    bool listed = false;
    for (uint32_t i = 0; i < n; i++) {
        if (rec->procs[i].role != LW_ROLE_RUNTIME)
            continue;
        if (rec->procs[i].have_end)
            return false;
        listed = true;
    }
    return listed;
}

/*
 * Whether a calm assessment of a standing leak is no evidence that it stopped: a
 * garbage-collected runtime near where it runs out (the limit, or its heap's ceiling if lower)
 * gives memory back and grows unevenly as a leak fills its heap. Its memory judged on the
 * retained floor (a release in the window) or slowing down there says nothing either way; a
 * window of flat readings still counts toward the withdrawal, and memory falling below the
 * flag's floor still withdraws at once. Without this, the Node.js leak of 52 KB per invocation
 * was withdrawn after V8's second give-back and raised again 46 invocations later.
 */
static bool collector_under_pressure(const struct lw_trend *t, const struct ceiling *c,
                                     const struct lw_verdict *cand)
{
    if (t->hint.kind == LW_RUNTIME_UNKNOWN || t->hint.kind == LW_RUNTIME_PYTHON ||
        t->limit_bytes == 0 || !t->have_env)
        return false;
    if (cand->kind != LW_VERDICT_WARMING && !t->fn_floor_mode)
        return false;
    return t->env_rss_bytes >= NEAR_LIMIT_SHARE * oom_level(t, c);
}

void lw_trend_add(struct lw_trend *t, const struct lw_record *rec, struct lw_verdict *out)
{
    /* A new environment id, or a sequence that does not move forward (the runtime and
     * leakwatch were restarted after a failure): what was learnt no longer applies. */
    if (!t->started || strncmp(t->env_id, rec->env_id, LW_ENV_ID_MAX) != 0 ||
        rec->seq <= t->last_seq) {
        reset_state(t);
        t->started = true;
        snprintf(t->env_id, sizeof(t->env_id), "%.*s", LW_ENV_ID_MAX - 1, rec->env_id);
    }
    t->last_seq = rec->seq;

    uint64_t when_ms = rec->end_time_ms ? rec->end_time_ms : rec->start_time_ms;
    if (when_ms) {
        if (t->rate_count == 0)
            t->rate_first_ms = when_ms;
        t->rate_count++;
        t->times_ms[t->times_head] = when_ms;
        t->times_head = (t->times_head + 1) % RATE_N;
        if (t->times_n < RATE_N)
            t->times_n++;
    }
    if (rec->memory_limit_bytes)
        t->limit_bytes = rec->memory_limit_bytes;
    t->intervals = rec->kind == LW_RECORD_INTERVAL;
    if (rec->runtime_hint.kind != LW_RUNTIME_UNKNOWN || rec->runtime_hint.source != LW_HEAP_UNKNOWN)
        t->hint = rec->runtime_hint;
    /* Totals only from complete readings (record_build.h). A process of the start that was not
     * read at the end (an extension that exited, a helper the platform stopped) leaves its
     * totals too small: the environment's would widen the headroom of the out-of-memory
     * projection and pass the heap-sizing checks, the function's would be a drop nobody
     * measured. Such a total is a gap: the previous value stays, nothing is guessed. */
    bool fn_whole =
        rec->have_end && !(rec->partial_totals & LW_TOTAL_FUNCTION) && !runtime_gone(rec);
    bool env_whole = fn_whole && !(rec->partial_totals & LW_TOTAL_ENVIRONMENT);
    /* The environment's first reading, warm-up included: the runtime before its heap grew. */
    if (env_whole && !t->have_first_env && rec->env_end.rss_bytes) {
        t->have_first_env = true;
        t->first_env_rss_bytes = (double)rec->env_end.rss_bytes;
    }

    if (fn_whole && rec->seq > t->cfg.warmup_invocations) {
        series_push(&t->fn, (double)rec->seq, (double)rec->fn_end.rss_anon_bytes,
                    t->cfg.floor_block_invocations);
        t->last_fn_bytes = (double)rec->fn_end.rss_anon_bytes;
        push_runtime(t, rec);
        push_procs(t, rec);
        track_pids(t, rec);
        if (env_whole) {
            t->env_rss_bytes = (double)rec->env_end.rss_bytes;
            t->have_env = true;
        }
        t->n_readings++;
    }

    enum lw_verdict_kind prev = t->current.kind;
    struct lw_verdict cand;
    if (!assess(t, &cand)) {
        lw_trend_current(t, out);
        out->previous = prev;
        return;
    }

    if (prev == LW_VERDICT_LEARNING && cand.kind != LW_VERDICT_LEARNING) {
        /* While the first verdict is being confirmed, say so rather than repeat the count. */
        snprintf(t->current.reason, sizeof(t->current.reason),
                 "learning: a first verdict (%s) needs %u consistent assessments",
                 lw_verdict_name(cand.kind), t->cfg.hold_assessments);
    }
    bool was_leak = leak_family(prev);
    if (was_leak && t->have_flag_floor && t->last_fn_bytes < t->flag_floor_bytes)
        cand.given_back = true;
    if (was_leak && !leak_family(cand.kind) && !cand.still_growing && !cand.given_back &&
        floor_still_grows(t, t->hint.kind != LW_RUNTIME_UNKNOWN))
        cand.still_growing = true;
    struct ceiling c;
    runtime_ceiling(t, &c);
    if (was_leak && !leak_family(cand.kind) && !cand.still_growing && !cand.given_back &&
        collector_under_pressure(t, &c, &cand))
        cand.still_growing = cand.collector_near_limit = true;
    if (was_leak && !leak_family(cand.kind) && c.env_bytes > 0 &&
        t->env_rss_bytes >= AT_CEILING_SHARE * c.env_bytes) {
        /* The growth stopped where the runtime's heap ends: the heap is full, not the leak
         * over. The runtime fails with its own out-of-memory error from here on (seen with a
         * JVM: flat at its -XX:MaxHeapSize for 170 invocations, then OutOfMemoryError). */
        struct lw_verdict keep = t->current;
        char heap[24];
        fmt_mib(heap, sizeof(heap), c.heap_bytes);
        say(keep.reason, sizeof(keep.reason),
            "anonymous RSS of the function stopped growing at the runtime's heap ceiling (%s: "
            "%s): the heap is full, the leak goes on inside it",
            t->hint.origin, heap);
        cand = keep;
    } else if (was_leak && !leak_family(cand.kind) && cand.still_growing && !cand.given_back) {
        long_view(t, &cand);
    }
    lw_alert_hold_apply(&t->hold, &t->current, &cand);
    if (!was_leak && leak_family(t->current.kind)) {
        /* a leak is adopted: remember the floor of the window it was found in */
        uint32_t n = ring_copy(t->fn.raw, t->fn.raw_head, t->fn.raw_n, RAW_N, t->pts);
        t->have_flag_floor = n > 0;
        t->flag_floor_bytes = n > 0 ? t->pts[0].y : 0;
        for (uint32_t i = 1; i < n; i++)
            if (t->pts[i].y < t->flag_floor_bytes)
                t->flag_floor_bytes = t->pts[i].y;
    } else if (!leak_family(t->current.kind)) {
        t->have_flag_floor = false;
    }
    *out = t->current;
    t->current.changed = false;
}
