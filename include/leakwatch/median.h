/*
 * Exact order statistics of an array of doubles, by selection (no sort): the trend engine's
 * medians of pairwise slopes and residuals.
 */
#ifndef LEAKWATCH_MEDIAN_H
#define LEAKWATCH_MEDIAN_H

#include <stddef.h>

/* Rearranges a[0..n) so that a[k] is the k-th smallest (0-based), every element before it
 * <= a[k] and every one after it >= a[k]; returns a[k]. n > 0, k < n, no NaN. */
double lw_select_kth(double *a, size_t n, size_t k);

/* The median of a[0..n) (the mean of the two middle elements when n is even); reorders a as
 * lw_select_kth(a, n, n / 2) does, so that a k-th smallest for k < n / 2 can then be selected
 * within a[0..n/2) alone, and one for k > n / 2 within a[n/2 + 1..n). n > 0, no NaN. */
double lw_median(double *a, size_t n);

#endif
