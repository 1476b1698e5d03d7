/*
 * Shared by the NORM and PGM benchmark peers (tests/norm-peer/,
 * tests/pgm-peer/): the generated messages, the stream checksum, clocks
 * and CPU time. Header-only so that each peer stays one compile.
 *
 * Message i of size s: i as 8 bytes big-endian, then byte j (j >= 8) is
 * (i * 131 + j * 7 + 1) & 0xff. The checksum is FNV-1a 64 over every byte
 * of every message in order, so sender and receiver agree exactly when the
 * receiver got every byte once, in order.
 */
#ifndef PEER_PAYLOAD_H
#define PEER_PAYLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

static inline void payload_fill(uint64_t i, unsigned char *buf, size_t size)
{
    for (size_t j = 0; j < size; j++) {
        if (j < 8)
            buf[j] = (unsigned char)(i >> (56 - 8 * j));
        else
            buf[j] = (unsigned char)((i * 131 + j * 7 + 1) & 0xff);
    }
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        h ^= p[k];
        h *= FNV_PRIME;
    }
    return h;
}

/* Wall clock (seconds since the epoch): sender and receivers on one host
 * (or in namespaces of one host) share it. */
static inline double now_epoch(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline double now_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of this process, every thread. */
static inline double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

/* Touches a file (the "ready" signal a harness waits for). */
static inline void touch(const char *path)
{
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

static inline void die(const char *what)
{
    fprintf(stderr, "error: %s\n", what);
    exit(2);
}

#endif
