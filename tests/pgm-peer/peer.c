/*
 * PGM (RFC 3208) benchmark peer on OpenPGM 5.3 (Debian libpgm-dev), over
 * UDP encapsulation: one sender sends generated messages (one APDU each)
 * to a multicast group at a fixed rate and serves NAKs with repairs until
 * it is told to stop (SIGTERM/SIGINT) or --linger seconds pass; each
 * receiver checks it got every message once, in order. PGM has no
 * positive acknowledgement, so the harness stops the sender once every
 * receiver has finished. See README.md for the flags and what is set.
 *
 *   peer --recv --network 'lo;239.255.1.2' --port 7500 --count 500 --size 1200
 *   peer --send --network 'lo;239.255.1.2' --port 7500 --count 500 --size 1200 \
 *        --rate 12500000 --linger 30
 *
 * Each prints one JSON line on stdout; exit 0 when complete, 1 when not,
 * 2 on bad arguments or a PGM call that fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#include <pgm/pgm.h>

#include "../peer-common/payload.h"

struct opts {
    bool send, recv;
    const char *network;
    unsigned port;
    uint64_t count;
    unsigned size;
    double rate; /* bytes per second */
    unsigned window;
    double timeout, linger;
    const char *ready;
};

static volatile sig_atomic_t stop;

#define PREAMBLE "PREAMBLE"
#define PREAMBLE_COUNT 20
static void on_signal(int sig) { (void)sig; stop = 1; }

static void usage(void)
{
    fprintf(stderr,
            "usage: peer (--send|--recv) --network 'IFACE;GROUP' --port P --count N --size BYTES\n"
            "            [--rate BYTES/S] [--window PACKETS] [--timeout S] [--linger S]\n"
            "            [--ready FILE]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->size = 1200;
    o->rate = 12.5e6;
    o->timeout = 60;
    o->linger = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!v) usage(); i++; } while (0)
        if (!strcmp(a, "--send")) o->send = true;
        else if (!strcmp(a, "--recv")) o->recv = true;
        else if (!strcmp(a, "--network")) { NEED(); o->network = v; }
        else if (!strcmp(a, "--port")) { NEED(); o->port = (unsigned)atoi(v); }
        else if (!strcmp(a, "--count")) { NEED(); o->count = strtoull(v, 0, 10); }
        else if (!strcmp(a, "--size")) { NEED(); o->size = (unsigned)strtoul(v, 0, 10); }
        else if (!strcmp(a, "--rate")) { NEED(); o->rate = strtod(v, 0); }
        else if (!strcmp(a, "--window")) { NEED(); o->window = (unsigned)strtoul(v, 0, 10); }
        else if (!strcmp(a, "--timeout")) { NEED(); o->timeout = strtod(v, 0); }
        else if (!strcmp(a, "--linger")) { NEED(); o->linger = strtod(v, 0); }
        else if (!strcmp(a, "--ready")) { NEED(); o->ready = v; }
        else usage();
#undef NEED
    }
    if (o->send == o->recv || !o->network || !o->port || o->port > 65535 || !o->count ||
        o->size < 8 || o->size > 1400 || o->rate <= 0)
        usage();
    if (!o->window) /* the whole run fits: any loss stays repairable */
        o->window = o->count < 8 ? 8 : (o->count > 200000 ? 200000 : (unsigned)o->count);
}

static void pgm_die(const char *what, pgm_error_t *err)
{
    fprintf(stderr, "error: %s: %s\n", what, err && err->message ? err->message : "failed");
    exit(2);
}

#define SET(sock, opt, val)                                                   \
    do {                                                                      \
        if (!pgm_setsockopt(sock, IPPROTO_PGM, opt, &(val), sizeof(val)))     \
            die("pgm_setsockopt " #opt);                                      \
    } while (0)

static pgm_sock_t *open_socket(const struct opts *o)
{
    pgm_error_t *err = NULL;
    struct pgm_addrinfo_t *res = NULL;
    if (!pgm_init(&err))
        pgm_die("pgm_init", err);
    if (!pgm_getaddrinfo(o->network, NULL, &res, &err))
        pgm_die("pgm_getaddrinfo (--network 'IFACE;GROUP')", err);
    pgm_sock_t *sock = NULL;
    /* IPPROTO_UDP: PGM over UDP encapsulation, one port for unicast and
     * multicast (OpenPGM's UDP mode), no raw sockets. */
    if (!pgm_socket(&sock, AF_INET, SOCK_SEQPACKET, IPPROTO_UDP, &err))
        pgm_die("pgm_socket", err);
    const int encap = (int)o->port, no_ra = 0, mtu = 1500, hops = 1, loop = 1;
    const int bufsize = 4 * 1024 * 1024;
    SET(sock, PGM_UDP_ENCAP_UCAST_PORT, encap);
    SET(sock, PGM_UDP_ENCAP_MCAST_PORT, encap);
    SET(sock, PGM_IP_ROUTER_ALERT, no_ra);
    SET(sock, PGM_MTU, mtu);
    if (!pgm_setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize)) ||
        !pgm_setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)))
        die("SO_RCVBUF/SO_SNDBUF");
    const int sqns = (int)o->window;
    if (o->send) {
        const int send_only = 1, max_rte = (int)o->rate;
        /* SPMs: ambient every 100 ms; after data, heartbeats from 1 ms
         * doubling, so receivers learn of tail losses quickly on a LAN. */
        const int ambient = pgm_msecs(100);
        const int heartbeat[] = { pgm_msecs(1), pgm_msecs(2), pgm_msecs(4), pgm_msecs(8),
                                  pgm_msecs(16), pgm_msecs(32), pgm_msecs(64), pgm_msecs(100) };
        SET(sock, PGM_SEND_ONLY, send_only);
        SET(sock, PGM_TXW_SQNS, sqns);
        SET(sock, PGM_TXW_MAX_RTE, max_rte);
        SET(sock, PGM_AMBIENT_SPM, ambient);
        if (!pgm_setsockopt(sock, IPPROTO_PGM, PGM_HEARTBEAT_SPM, heartbeat, sizeof(heartbeat)))
            die("pgm_setsockopt PGM_HEARTBEAT_SPM");
    } else {
        /* NAK timers for a LAN (OpenPGM's examples use 50 ms / 2 s / 2 s,
         * made for WANs): back-off 2 ms, repeat and RDATA waits 50 ms. */
        const int recv_only = 1, passive = 0, peer_expiry = pgm_secs(300),
                  spmr_expiry = pgm_msecs(25), nak_bo = pgm_msecs(2), nak_rpt = pgm_msecs(50),
                  nak_rdata = pgm_msecs(50), retries = 50;
        SET(sock, PGM_RECV_ONLY, recv_only);
        SET(sock, PGM_PASSIVE, passive);
        SET(sock, PGM_RXW_SQNS, sqns);
        SET(sock, PGM_PEER_EXPIRY, peer_expiry);
        SET(sock, PGM_SPMR_EXPIRY, spmr_expiry);
        SET(sock, PGM_NAK_BO_IVL, nak_bo);
        SET(sock, PGM_NAK_RPT_IVL, nak_rpt);
        SET(sock, PGM_NAK_RDATA_IVL, nak_rdata);
        SET(sock, PGM_NAK_DATA_RETRIES, retries);
        SET(sock, PGM_NAK_NCF_RETRIES, retries);
    }
    struct pgm_sockaddr_t addr;
    memset(&addr, 0, sizeof(addr));
    addr.sa_port = (uint16_t)o->port;
    addr.sa_addr.sport = DEFAULT_DATA_SOURCE_PORT;
    /* A random GSI: several peers share a host on loopback. */
    unsigned char seed[16];
    snprintf((char *)seed, sizeof(seed), "%08x%06x", (unsigned)getpid(), (unsigned)(now_mono() * 1e6) & 0xffffff);
    if (!pgm_gsi_create_from_data(&addr.sa_addr.gsi, seed, sizeof(seed)))
        die("pgm_gsi_create_from_data");
    struct pgm_interface_req_t if_req;
    memset(&if_req, 0, sizeof(if_req));
    if_req.ir_interface = res->ai_recv_addrs[0].gsr_interface;
    if (!pgm_bind3(sock, &addr, sizeof(addr), &if_req, sizeof(if_req), &if_req, sizeof(if_req), &err))
        pgm_die("pgm_bind3", err);
    for (unsigned i = 0; i < res->ai_recv_addrs_len; i++)
        if (!pgm_setsockopt(sock, IPPROTO_PGM, PGM_JOIN_GROUP, &res->ai_recv_addrs[i],
                            sizeof(struct group_req)))
            die("PGM_JOIN_GROUP");
    if (!pgm_setsockopt(sock, IPPROTO_PGM, PGM_SEND_GROUP, &res->ai_send_addrs[0],
                        sizeof(struct group_req)))
        die("PGM_SEND_GROUP");
    pgm_freeaddrinfo(res);
    const int nonblocking = 1;
    SET(sock, PGM_MULTICAST_LOOP, loop);
    SET(sock, PGM_MULTICAST_HOPS, hops);
    SET(sock, PGM_NOBLOCK, nonblocking);
    if (!pgm_connect(sock, &err))
        pgm_die("pgm_connect", err);
    return sock;
}

/* Waits (bounded by `max_ms`) until `sock` may make progress after a
 * non-blocking call returned `status`. */
static void wait_for(pgm_sock_t *sock, int status, short events, int max_ms)
{
    struct timeval tv;
    socklen_t len = sizeof(tv);
    int ms = max_ms;
    if (status == PGM_IO_STATUS_TIMER_PENDING &&
        pgm_getsockopt(sock, IPPROTO_PGM, PGM_TIME_REMAIN, &tv, &len))
        ms = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
    else if (status == PGM_IO_STATUS_RATE_LIMITED &&
             pgm_getsockopt(sock, IPPROTO_PGM, PGM_RATE_REMAIN, &tv, &len)) {
        /* sub-millisecond pacing: sleep exactly, not through poll */
        if (tv.tv_sec == 0 && tv.tv_usec < 1000) {
            if (tv.tv_usec > 0)
                usleep((useconds_t)tv.tv_usec);
            return;
        }
        ms = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
    }
    if (ms > max_ms)
        ms = max_ms;
    struct pollfd fds[8];
    int n = 8;
    memset(fds, 0, sizeof(fds));
    if (pgm_poll_info(sock, fds, &n, events) < 0)
        n = 0;
    poll(fds, (nfds_t)n, ms);
}

/* The sender's other half: pgm_recv processes NAKs (sending RDATA) and
 * runs the SPM timers. */
static void *nak_thread(void *arg)
{
    pgm_sock_t *sock = arg;
    char buf[4096];
    while (!stop) {
        size_t len;
        pgm_error_t *err = NULL;
        int status = pgm_recv(sock, buf, sizeof(buf), 0, &len, &err);
        if (err)
            pgm_error_free(err);
        if (status == PGM_IO_STATUS_NORMAL)
            continue;
        wait_for(sock, status, POLLIN, 50);
    }
    return NULL;
}

static int sender(const struct opts *o)
{
    pgm_sock_t *sock = open_socket(o);
    pthread_t t;
    if (pthread_create(&t, NULL, nak_thread, sock))
        die("pthread_create");
    unsigned char *buf = malloc(o->size);
    uint64_t h = FNV_OFFSET, sent = 0;
    /* OpenPGM 5.3 has no late join: a receiver's window starts at the
     * first packet it sees, and messages before it are lost for good. So
     * first a preamble, 20 8-byte APDUs 5 ms apart (receivers drop them),
     * and the measured stream after it: every message of the stream is
     * then inside every receiver's window and repairable. */
    for (int i = 0; i < PREAMBLE_COUNT && !stop; i++) {
        int status;
        while ((status = pgm_send(sock, PREAMBLE, 8, NULL)) != PGM_IO_STATUS_NORMAL) {
            if (status == PGM_IO_STATUS_ERROR)
                die("pgm_send");
            wait_for(sock, status, POLLOUT, 10);
        }
        usleep(5000);
    }
    double start = now_epoch(), t0 = now_mono(), cpu0 = cpu_seconds();
    double deadline = t0 + o->timeout;
    while (sent < o->count && !stop && now_mono() < deadline) {
        payload_fill(sent, buf, o->size);
        int status = pgm_send(sock, buf, o->size, NULL);
        if (status == PGM_IO_STATUS_NORMAL) {
            h = fnv1a(h, buf, o->size);
            sent++;
        } else if (status == PGM_IO_STATUS_ERROR) {
            die("pgm_send");
        } else {
            wait_for(sock, status, POLLOUT, 10);
        }
    }
    double send_secs = now_mono() - t0;
    /* Serve repairs until stopped (the harness: once every receiver is
     * done) or --linger passes. */
    double until = now_mono() + o->linger;
    while (!stop && now_mono() < until)
        usleep(10000);
    stop = 1;
    pthread_join(t, NULL);
    double cpu = cpu_seconds() - cpu0;
    printf("{\"proto\":\"pgm\",\"role\":\"sender\",\"messages\":%llu,\"bytes\":%llu,"
           "\"send_seconds\":%.6f,\"start\":%.6f,\"checksum\":\"%016llx\",\"cpu\":%.6f,"
           "\"rate\":%.0f,\"complete\":%s}\n",
           (unsigned long long)sent, (unsigned long long)(sent * o->size), send_secs, start,
           (unsigned long long)h, cpu, o->rate, sent == o->count ? "true" : "false");
    fflush(stdout);
    pgm_close(sock, true);
    free(buf);
    return sent == o->count ? 0 : 1;
}

static int receiver(const struct opts *o)
{
    pgm_sock_t *sock = open_socket(o);
    touch(o->ready);
    uint64_t want = FNV_OFFSET, h = FNV_OFFSET, bytes = 0, msgs = 0, resets = 0, bad = 0;
    unsigned char *gen = malloc(o->size);
    for (uint64_t i = 0; i < o->count; i++) {
        payload_fill(i, gen, o->size);
        want = fnv1a(want, gen, o->size);
    }
    uint64_t total = o->count * o->size;
    char buf[65536];
    double first = 0, end = 0, cpu0 = cpu_seconds();
    double deadline = now_mono() + o->timeout;
    while (bytes < total && !stop && now_mono() < deadline) {
        size_t len = 0;
        pgm_error_t *err = NULL;
        int status = pgm_recv(sock, buf, sizeof(buf), 0, &len, &err);
        if (err)
            pgm_error_free(err);
        switch (status) {
        case PGM_IO_STATUS_NORMAL:
            if (!msgs && len == 8 && !memcmp(buf, PREAMBLE, 8))
                break;
            if (!first)
                first = now_epoch();
            if (len != o->size)
                bad++;
            h = fnv1a(h, (unsigned char *)buf, len);
            bytes += len;
            msgs++;
            break;
        case PGM_IO_STATUS_RESET:
            /* unrecoverable loss (RFC 3208 §9.4 data loss) */
            resets++;
            break;
        case PGM_IO_STATUS_ERROR:
            die("pgm_recv");
            break;
        default:
            wait_for(sock, status, POLLIN, 50);
        }
    }
    if (bytes >= total)
        end = now_epoch();
    bool ok = bytes == total && resets == 0 && bad == 0 && h == want;
    printf("{\"proto\":\"pgm\",\"role\":\"receiver\",\"messages\":%llu,\"bytes\":%llu,"
           "\"checksum\":\"%016llx\",\"expected\":\"%016llx\",\"resets\":%llu,"
           "\"first\":%.6f,\"end\":%.6f,\"cpu\":%.6f,\"complete\":%s}\n",
           (unsigned long long)msgs, (unsigned long long)bytes, (unsigned long long)h,
           (unsigned long long)want, (unsigned long long)resets, first, end,
           cpu_seconds() - cpu0, ok ? "true" : "false");
    fflush(stdout);
    pgm_close(sock, false);
    free(gen);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    /* OpenPGM's log stays quiet unless PGM_MIN_LOG_LEVEL says otherwise. */
    if (!getenv("PGM_MIN_LOG_LEVEL"))
        setenv("PGM_MIN_LOG_LEVEL", "ERROR", 1);
    return o.send ? sender(&o) : receiver(&o);
}
