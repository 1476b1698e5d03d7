/*
 * NORM (RFC 5740) benchmark peer on Debian's libnorm (1.5.9): one sender
 * streams generated messages to a multicast group at a fixed rate; each
 * receiver checks it got every byte in order. Built with g++ because
 * Debian's normApi.h is C++ only (references, default arguments); the
 * code is otherwise C. See README.md for the flags and what is set.
 *
 *   peer --send --group 239.255.1.1:7400 --receivers 2 --count 500 \
 *        --size 1200 --rate 100e6
 *   peer --recv --group 239.255.1.1:7400 --node-id 100 --count 500 --size 1200
 *
 * Each prints one JSON line on stdout; exit 0 when complete, 1 when not,
 * 2 on bad arguments or a NORM call that fails.
 */
#include <normApi.h>

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "../peer-common/payload.h"

struct opts {
    bool send, recv;
    char group[64];
    unsigned port;
    const char *iface;
    unsigned node_id;
    unsigned receivers;
    uint64_t count;
    unsigned size;
    double rate;
    unsigned block, parity;
    double timeout;
    const char *ready;
    unsigned buffer;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: peer (--send|--recv) --group ADDR:PORT --count N --size BYTES\n"
            "            [--interface NAME] [--node-id ID] [--receivers N] [--rate BIT/S]\n"
            "            [--block K] [--parity P] [--buffer BYTES] [--timeout S] [--ready FILE]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->node_id = 0;
    o->receivers = 1;
    o->size = 1200;
    o->rate = 100e6;
    o->block = 64;
    o->parity = 0;
    o->timeout = 60;
    o->buffer = 8 * 1024 * 1024;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() do { if (!v) usage(); i++; } while (0)
        if (!strcmp(a, "--send")) o->send = true;
        else if (!strcmp(a, "--recv")) o->recv = true;
        else if (!strcmp(a, "--group")) {
            NEED();
            const char *c = strrchr(v, ':');
            if (!c || (size_t)(c - v) >= sizeof(o->group)) usage();
            memcpy(o->group, v, c - v);
            o->group[c - v] = 0;
            o->port = (unsigned)atoi(c + 1);
        }
        else if (!strcmp(a, "--interface")) { NEED(); o->iface = v; }
        else if (!strcmp(a, "--node-id")) { NEED(); o->node_id = (unsigned)strtoul(v, 0, 10); }
        else if (!strcmp(a, "--receivers")) { NEED(); o->receivers = (unsigned)strtoul(v, 0, 10); }
        else if (!strcmp(a, "--count")) { NEED(); o->count = strtoull(v, 0, 10); }
        else if (!strcmp(a, "--size")) { NEED(); o->size = (unsigned)strtoul(v, 0, 10); }
        else if (!strcmp(a, "--rate")) { NEED(); o->rate = strtod(v, 0); }
        else if (!strcmp(a, "--block")) { NEED(); o->block = (unsigned)strtoul(v, 0, 10); }
        else if (!strcmp(a, "--parity")) { NEED(); o->parity = (unsigned)strtoul(v, 0, 10); }
        else if (!strcmp(a, "--buffer")) { NEED(); o->buffer = (unsigned)strtoul(v, 0, 10); }
        else if (!strcmp(a, "--timeout")) { NEED(); o->timeout = strtod(v, 0); }
        else if (!strcmp(a, "--ready")) { NEED(); o->ready = v; }
        else usage();
#undef NEED
    }
    if (o->send == o->recv || !o->group[0] || !o->port || !o->count || o->size < 8 ||
        o->size > 8192 || o->rate <= 0 || !o->block || o->block + o->parity > 255)
        usage();
}

/* Next NORM event, or false when `deadline` (monotonic) passes first. */
static bool next_event(NormInstanceHandle inst, NormEvent *ev, double deadline)
{
    for (;;) {
        if (NormGetNextEvent(inst, ev, false))
            return true;
        double left = deadline - now_mono();
        if (left <= 0)
            return false;
        struct pollfd p = { NormGetDescriptor(inst), POLLIN, 0 };
        int ms = left > 0.2 ? 200 : (int)(left * 1000) + 1;
        if (poll(&p, 1, ms) < 0 && errno != EINTR)
            die("poll");
    }
}

static NormSessionHandle session(NormInstanceHandle inst, const struct opts *o, NormNodeId id)
{
    NormSessionHandle s = NormCreateSession(inst, o->group, (UINT16)o->port, id);
    if (s == NORM_SESSION_INVALID)
        die("NormCreateSession");
    /* Sender and receivers may share a host (loopback): every socket binds
     * the session port with reuse and hears the others. */
    NormSetRxPortReuse(s, true, o->group);
    NormSetMulticastLoopback(s, true);
    if (o->iface && !NormSetMulticastInterface(s, o->iface))
        die("NormSetMulticastInterface");
    NormSetTTL(s, 1);
    return s;
}

static int sender(const struct opts *o)
{
    NormInstanceHandle inst = NormCreateInstance(false);
    NormSessionHandle s = session(inst, o, o->node_id ? o->node_id : 1);
    NormSetTxRate(s, o->rate);
    NormSetCongestionControl(s, false);
    NormSetGroupSize(s, o->receivers);
    /* A LAN: start the group RTT estimate at 1 ms instead of 0.5 s (the
     * probing adapts it; acks and repairs are timed by it). */
    NormSetGrttEstimate(s, 0.001);
    NormSetTxSocketBuffer(s, 4 * 1024 * 1024);
    NormSetRxSocketBuffer(s, 4 * 1024 * 1024);
    for (unsigned k = 0; k < o->receivers; k++)
        NormAddAckingNode(s, 100 + k);
    if (!NormStartSender(s, NormGetRandomSessionId(), o->buffer, (UINT16)o->size,
                         (UINT16)o->block, (UINT16)o->parity))
        die("NormStartSender");
    NormSetAutoParity(s, 0);
    NormObjectHandle st = NormStreamOpen(s, o->buffer / 2);
    if (st == NORM_OBJECT_INVALID)
        die("NormStreamOpen");

    unsigned char *buf = (unsigned char *)malloc(o->size);
    uint64_t h = FNV_OFFSET;
    double start = now_epoch(), t0 = now_mono(), cpu0 = cpu_seconds();
    double deadline = t0 + o->timeout;
    bool complete = false;
    NormEvent ev;
    /* ACK-based flow control as in NORM's own normStreamer example: a
     * watermark (RFC 5740 §5.1.4, NORM_CMD(ACK_REQ)) after every quarter
     * of the stream buffer, and no more than half the buffer written
     * beyond the last acknowledged one, so the sender never overwrites
     * data a receiver still needs repaired. */
    const uint64_t quarter = o->buffer / 8; /* the stream buffer is o->buffer / 2 */
    uint64_t since_wm = 0;
    bool wm_pending = false;
    for (uint64_t i = 0; i < o->count; i++) {
        payload_fill(i, buf, o->size);
        h = fnv1a(h, buf, o->size);
        unsigned off = 0;
        while (off < o->size) {
            off += NormStreamWrite(st, (const char *)buf + off, o->size - off);
            if (off < o->size) {
                if (!next_event(inst, &ev, deadline))
                    goto out;
                if (ev.type == NORM_TX_WATERMARK_COMPLETED)
                    goto watermark;
            }
            continue;
        watermark:
            if (NormGetAckingStatus(s, NORM_NODE_ANY) == NORM_ACK_SUCCESS)
                wm_pending = false;
            else
                NormResetWatermark(s);
        }
        NormStreamMarkEom(st);
        since_wm += o->size;
        if (since_wm >= quarter) {
            while (wm_pending) {
                if (!next_event(inst, &ev, deadline))
                    goto out;
                if (ev.type != NORM_TX_WATERMARK_COMPLETED)
                    continue;
                if (NormGetAckingStatus(s, NORM_NODE_ANY) == NORM_ACK_SUCCESS)
                    wm_pending = false;
                else
                    NormResetWatermark(s);
            }
            NormSetWatermark(s, st, true);
            wm_pending = true;
            since_wm = 0;
        }
    }
    NormStreamFlush(st, true, NORM_FLUSH_ACTIVE);
    /* Done when every receiver acknowledged the end of the stream (the
     * watermark, RFC 5740 §5.1.4 NORM_CMD(ACK_REQ)); retried while the
     * deadline allows. */
    NormSetWatermark(s, st, true);
    while (!complete && next_event(inst, &ev, deadline)) {
        if (ev.type != NORM_TX_WATERMARK_COMPLETED)
            continue;
        if (NormGetAckingStatus(s, NORM_NODE_ANY) == NORM_ACK_SUCCESS)
            complete = true;
        else
            NormResetWatermark(s);
    }
out:;
    double secs = now_mono() - t0, cpu = cpu_seconds() - cpu0;
    /* Close the stream gracefully so receivers see its end (bounded). */
    NormStreamClose(st, true);
    double linger = now_mono() + 1.0;
    while (next_event(inst, &ev, linger))
        if (ev.type == NORM_TX_OBJECT_PURGED || ev.type == NORM_TX_QUEUE_EMPTY)
            break;
    printf("{\"proto\":\"norm\",\"role\":\"sender\",\"messages\":%llu,\"bytes\":%llu,"
           "\"seconds\":%.6f,\"start\":%.6f,\"checksum\":\"%016llx\",\"cpu\":%.6f,"
           "\"rate\":%.0f,\"complete\":%s}\n",
           (unsigned long long)o->count, (unsigned long long)(o->count * o->size), secs,
           start, (unsigned long long)h, cpu, o->rate, complete ? "true" : "false");
    fflush(stdout);
    NormStopSender(s);
    NormDestroySession(s);
    NormDestroyInstance(inst);
    free(buf);
    return complete ? 0 : 1;
}

static int receiver(const struct opts *o)
{
    if (!o->node_id)
        die("--recv needs --node-id (the sender acks ids 100..100+N-1)");
    NormInstanceHandle inst = NormCreateInstance(false);
    NormSessionHandle s = session(inst, o, o->node_id);
    NormSetDefaultSyncPolicy(s, NORM_SYNC_STREAM);
    NormSetRxSocketBuffer(s, 4 * 1024 * 1024);
    /* Allocate the remote sender's state now (same FEC parameters as the
     * sender's), not when its first packet arrives: otherwise the
     * allocation falls inside the measured transfer. */
    if (!NormPreallocateRemoteSender(s, o->buffer, (UINT16)o->size, (UINT16)o->block,
                                     (UINT16)o->parity, o->buffer / 2))
        die("NormPreallocateRemoteSender");
    if (!NormStartReceiver(s, o->buffer))
        die("NormStartReceiver");
    touch(o->ready);

    uint64_t total = o->count * o->size, bytes = 0, breaks = 0;
    uint64_t want = FNV_OFFSET, h = FNV_OFFSET;
    unsigned char *gen = (unsigned char *)malloc(o->size);
    for (uint64_t i = 0; i < o->count; i++) {
        payload_fill(i, gen, o->size);
        want = fnv1a(want, gen, o->size);
    }
    char buf[65536];
    double first = 0, end = 0, cpu0 = cpu_seconds();
    double deadline = now_mono() + o->timeout;
    bool closed = false;
    NormEvent ev;
    while (!closed && next_event(inst, &ev, deadline)) {
        switch (ev.type) {
        case NORM_RX_OBJECT_UPDATED:
            if (NormObjectGetType(ev.object) != NORM_OBJECT_STREAM)
                break;
            for (;;) {
                unsigned int n = sizeof(buf);
                if (!NormStreamRead(ev.object, buf, &n)) {
                    /* A break in the stream: data lost for good. */
                    breaks++;
                    continue;
                }
                if (n == 0)
                    break;
                if (!first)
                    first = now_epoch();
                h = fnv1a(h, (unsigned char *)buf, n);
                bytes += n;
                if (bytes >= total && !end) {
                    end = now_epoch();
                    /* Stay for the sender's watermark request and the
                     * stream's end (the sender closes it once every
                     * receiver acknowledged), bounded. */
                    double linger = now_mono() + 20.0;
                    if (linger < deadline)
                        deadline = linger;
                }
            }
            break;
        case NORM_RX_OBJECT_COMPLETED:
        case NORM_RX_OBJECT_ABORTED:
        case NORM_REMOTE_SENDER_INACTIVE:
            if (bytes >= total)
                closed = true;
            break;
        default:
            break;
        }
    }
    bool ok = bytes == total && breaks == 0 && h == want;
    printf("{\"proto\":\"norm\",\"role\":\"receiver\",\"node\":%u,\"bytes\":%llu,"
           "\"checksum\":\"%016llx\",\"expected\":\"%016llx\",\"breaks\":%llu,"
           "\"first\":%.6f,\"end\":%.6f,\"cpu\":%.6f,\"complete\":%s}\n",
           o->node_id, (unsigned long long)bytes, (unsigned long long)h,
           (unsigned long long)want, (unsigned long long)breaks, first, end,
           cpu_seconds() - cpu0, ok ? "true" : "false");
    fflush(stdout);
    NormStopReceiver(s);
    NormDestroySession(s);
    NormDestroyInstance(inst);
    free(gen);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    const char *dbg = getenv("NORM_DEBUG");
    NormSetDebugLevel(dbg ? (unsigned)atoi(dbg) : 0);
    return o.send ? sender(&o) : receiver(&o);
}
