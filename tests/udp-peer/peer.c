/*
 * Raw UDP baseline for scripts/bench-group.sh: the machine's limit for
 * one sender reaching N receivers, either by one multicast sendto per
 * message (the kernel copies it to every member) or by N unicast sendto
 * calls per message (fan-out). No reliability: the figure that matters
 * is the sender's CPU time per message; receivers count what arrived.
 *
 *   peer --recv --bind 10.99.0.1 --port 7600 [--group 239.255.1.3] [--count N] [--idle S]
 *   peer --send --bind 10.99.0.1 --count N --size 1200 --to 239.255.1.3:7600
 *   peer --send --bind 10.99.0.1 --count N --size 1200 --to 10.98.0.10:7600 --to ...
 *
 * One JSON line on stdout; exit 2 on bad arguments or a failed call.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../peer-common/payload.h"

#define MAX_TO 64

int main(int argc, char **argv)
{
    bool do_send = false, do_recv = false;
    const char *bind_addr = "0.0.0.0", *group = NULL, *ready = NULL;
    unsigned port = 0, size = 1200, nto = 0;
    uint64_t count = 0;
    double idle = 1.0;
    struct sockaddr_in to[MAX_TO];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!v) die("missing value"); i++; } while (0)
        if (!strcmp(a, "--send")) do_send = true;
        else if (!strcmp(a, "--recv")) do_recv = true;
        else if (!strcmp(a, "--bind")) { NEED(); bind_addr = v; }
        else if (!strcmp(a, "--group")) { NEED(); group = v; }
        else if (!strcmp(a, "--port")) { NEED(); port = (unsigned)atoi(v); }
        else if (!strcmp(a, "--size")) { NEED(); size = (unsigned)atoi(v); }
        else if (!strcmp(a, "--count")) { NEED(); count = strtoull(v, 0, 10); }
        else if (!strcmp(a, "--idle")) { NEED(); idle = strtod(v, 0); }
        else if (!strcmp(a, "--ready")) { NEED(); ready = v; }
        else if (!strcmp(a, "--to")) {
            NEED();
            if (nto == MAX_TO) die("too many --to");
            char host[64];
            const char *c = strrchr(v, ':');
            if (!c || (size_t)(c - v) >= sizeof(host)) die("--to ADDR:PORT");
            memcpy(host, v, c - v);
            host[c - v] = 0;
            memset(&to[nto], 0, sizeof(to[nto]));
            to[nto].sin_family = AF_INET;
            to[nto].sin_port = htons((uint16_t)atoi(c + 1));
            if (inet_pton(AF_INET, host, &to[nto].sin_addr) != 1) die("--to ADDR:PORT");
            nto++;
        } else die("usage: peer (--send --to A:P... --count N | --recv --port P [--group G])");
#undef NEED
    }
    if (do_send == do_recv || size < 8 || size > 65000) die("usage: --send or --recv");
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    int buf = 4 * 1024 * 1024, one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct in_addr local;
    if (inet_pton(AF_INET, bind_addr, &local) != 1) die("--bind ADDR");
    if (do_send) {
        if (!nto || !count) die("--send needs --to and --count");
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = local };
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) die("bind");
        unsigned char ttl = 1, loop = 1;
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &local, sizeof(local));
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
        unsigned char *m = malloc(size);
        uint64_t errors = 0;
        double t0 = now_mono(), cpu0 = cpu_seconds();
        for (uint64_t i = 0; i < count; i++) {
            payload_fill(i, m, size);
            for (unsigned k = 0; k < nto; k++)
                while (sendto(fd, m, size, 0, (struct sockaddr *)&to[k], sizeof(to[k])) < 0) {
                    /* a full socket buffer: wait for room (bounded) */
                    if (errno != ENOBUFS && errno != EAGAIN) { errors++; break; }
                    struct pollfd p = { fd, POLLOUT, 0 };
                    poll(&p, 1, 10);
                }
        }
        printf("{\"proto\":\"udp\",\"role\":\"sender\",\"messages\":%llu,\"destinations\":%u,"
               "\"seconds\":%.6f,\"cpu\":%.6f,\"errors\":%llu}\n",
               (unsigned long long)count, nto, now_mono() - t0, cpu_seconds() - cpu0,
               (unsigned long long)errors);
        return 0;
    }
    if (!port) die("--recv needs --port");
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (group) {
        if (inet_pton(AF_INET, group, &sa.sin_addr) != 1) die("--group ADDR");
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
    } else {
        sa.sin_addr = local;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) die("bind");
    if (group) {
        struct ip_mreq mr = { .imr_multiaddr = sa.sin_addr, .imr_interface = local };
        if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr))) die("IP_ADD_MEMBERSHIP");
    }
    touch(ready);
    char m[65536];
    uint64_t got = 0, bytes = 0;
    double first = 0, last = 0;
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        /* before the first datagram, wait up to 30 s; after, --idle */
        int ms = (int)((got ? idle : 30.0) * 1000);
        if (poll(&p, 1, ms) <= 0) break;
        ssize_t n = recv(fd, m, sizeof(m), 0);
        if (n < 0) continue;
        if (!got) first = now_epoch();
        last = now_epoch();
        got++;
        bytes += (uint64_t)n;
        if (count && got >= count) break;
    }
    printf("{\"proto\":\"udp\",\"role\":\"receiver\",\"received\":%llu,\"bytes\":%llu,"
           "\"first\":%.6f,\"last\":%.6f}\n",
           (unsigned long long)got, (unsigned long long)bytes, first, last);
    return 0;
}
