/*
 * Small helpers of the C benchmarks (bench/NAME/NAME_bench.c, built by bench/c_bench.sh). Define
 * BENCH_NAME (the program's name, for messages) before including this file.
 */
#ifndef MANDATE_BENCH_UTIL_H
#define MANDATE_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint32_t clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static inline void die(const char *what, const struct md_error *e)
{
    fprintf(stderr, BENCH_NAME ": %s failed%s%s\n", what, e ? ": " : "", e ? e->msg : "");
    exit(1);
}

static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("calloc", NULL);
    return p;
}

/* qsort's comparison of uint32_t values, ascending. */
static inline int u32_cmp(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

#endif
