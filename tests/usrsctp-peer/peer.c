/*
 * peer.c - small usrsctp-based SCTP test peer for mcsctp interop tests.
 *
 * SCTP over UDP encapsulation (RFC 6951) only; meant for loopback use.
 * Build:  gcc -O2 -Wall -o peer peer.c -lusrsctp -lpthread   (or: make)
 * Usage:  peer --help
 *
 * Output contract (for test harnesses):
 *   stdout: "OK size=<n>", "MISMATCH ...", "SENT size=<n> ...",
 *           "RECV size=<n> sid=<s> ppid=<p> unordered=<0|1>",
 *           "LISTEN ...", "ACCEPT ...", "CONNECTED ...", "DONE ..."
 *   stderr: "EVENT assoc_change state=COMM_UP ...", "EVENT assoc_change
 *           state=COMM_LOST ...", "EVENT shutdown", "EVENT remote_error ...",
 *           "EVENT send_failed ...", "EVENT peer_addr_change ...",
 *           "EVENT partial_delivery ...", "ERROR ...", "TIMEOUT"
 * Exit codes: 0 success, 1 usage error, 2 protocol failure / timeout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <usrsctp.h>

/* Not in the public usrsctp.h of 0.9.5.0, but handled by the library
 * (value from usrsctp's netinet/sctp.h). */
#ifndef SCTP_INTERLEAVING_SUPPORTED
#define SCTP_INTERLEAVING_SUPPORTED 0x00001206
#endif

#define EXIT_OK 0
#define EXIT_USAGE 1
#define EXIT_FAIL 2

#define MAX_SIZES 256
#define MAX_BIND 8
#define MAX_PARTIAL 64
#define RECV_CHUNK 65536

/* ------------------------------------------------------------------ */
/* options                                                            */

static struct {
	int local_udp_port, remote_udp_port; /* -1 = not given */
	int sctp_port;                       /* -1 = not given */
	const char *bind_list;
	const char *connect;
	int echo, discard, once;
	size_t sizes[MAX_SIZES];
	int nsizes;
	long repeat;
	int stream;
	int unordered;
	uint32_t ppid;
	int expect_echo;
	int idata;
	long prsctp_ttl; /* -1 = off */
	long prsctp_rtx; /* -1 = off */
	long hb_interval; /* -1 = unchanged */
	long mtu;        /* -1 = unchanged */
	long rto_min, rto_max, rto_initial; /* 0 = unchanged */
	long cookie_life; /* 0 = unchanged */
	int streams;      /* 0 = default */
	size_t max_msg;
	int max_msg_set;
	int do_abort, abort_with_cause;
	const char *abort_reason;
	long idle_ms;
	long send_gap_ms;
	int nodelay;
	long timeout;
	int verbose;
	const char *dump;  /* client: received messages go to this file */
	int until_closed;  /* client: wait until the peer ends the association */
} opt;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: peer --local-udp-port P --remote-udp-port Q [options]\n"
"  Server (no --connect):  peer ... --sctp-port N [--echo|--discard] [--once]\n"
"  Client:                 peer ... --connect ADDR:SCTPPORT --send-sizes LIST\n"
"common:\n"
"  --local-udp-port P     local UDP encapsulation port (mandatory)\n"
"  --remote-udp-port Q    remote UDP encapsulation port (mandatory)\n"
"  --sctp-port N          local SCTP port (server: listen port; client: bind)\n"
"  --bind A[,A...]        local address(es) to bind (sctp_bindx); server\n"
"                         default is the IPv6 wildcard (dual stack)\n"
"  --idata                enable RFC 8260 I-DATA (interleaving, frag level 2)\n"
"  --prsctp-ttl MS        send with PR-SCTP policy TTL (lifetime MS)\n"
"  --prsctp-rtx N         send with PR-SCTP policy RTX (max N retransmissions)\n"
"  --hb-interval MS       heartbeat interval (0 disables heartbeats)\n"
"  --mtu N                fixed path MTU (disables PMTUD)\n"
"  --rto-min MS --rto-max MS --rto-initial MS   RTO parameters\n"
"  --cookie-life MS       valid cookie life (server, >= 1000)\n"
"  --streams N            outbound/inbound stream count in INIT\n"
"  --max-msg N            largest message reassembled (default 16777216);\n"
"                         when given, SO_RCVBUF is set to 2N + 64 KiB (needed\n"
"                         for unordered I-DATA messages > 128 KiB, see README)\n"
"  --nodelay              disable Nagle (SCTP_NODELAY)\n"
"  --timeout SEC          overall time limit, exit 2 when hit (default 20,\n"
"                         0 = none)\n"
"  -v, --verbose          more output on stdout\n"
"server:\n"
"  --echo                 echo each complete message (same sid/ppid/U flag)\n"
"  --discard              only receive (default)\n"
"  --once                 exit after the first association ends\n"
"client:\n"
"  --connect ADDR:PORT    connect (IPv6 as [::1]:PORT)\n"
"  --send-sizes LIST      comma separated message sizes; byte i of a message\n"
"                         of size s is (i*7 + s) & 0xff\n"
"  --repeat N             send the size list N times (default 1)\n"
"  --stream S             stream id (default 0)\n"
"  --unordered            send unordered\n"
"  --ppid N               payload protocol id (default 0)\n"
"  --expect-echo          wait for each echo and verify it (OK/MISMATCH)\n"
"  --send-gap-ms MS       pause between messages\n"
"  --idle MS              stay idle MS before ending the association\n"
"  --abort                end with ABORT (SO_LINGER 0) instead of SHUTDOWN\n"
"  --abort-with-cause[=TEXT]  end with ABORT carrying a User-Initiated Abort\n"
"                         cause (usrsctp_sendv with SCTP_ABORT)\n"
"  --dump FILE            write every received message to FILE, in delivery\n"
"                         order (no RECV lines); RECEIVED messages=.. bytes=..\n"
"  --until-closed         before ending, wait until the peer ends the\n"
"                         association (bounded by --timeout)\n");
}

static long
parse_long(const char *s, const char *name, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "ERROR invalid value for %s: %s\n", name, s);
		exit(EXIT_USAGE);
	}
	return v;
}

static void
parse_sizes(const char *s)
{
	char *copy = strdup(s), *tok, *save = NULL;

	opt.nsizes = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (opt.nsizes >= MAX_SIZES) {
			fprintf(stderr, "ERROR too many sizes\n");
			exit(EXIT_USAGE);
		}
		opt.sizes[opt.nsizes++] = (size_t)parse_long(tok, "--send-sizes", 1, 1L << 30);
	}
	free(copy);
	if (opt.nsizes == 0) {
		fprintf(stderr, "ERROR empty --send-sizes\n");
		exit(EXIT_USAGE);
	}
}

/* Parse "ADDR" into a sockaddr; returns 0 on success. */
static int
parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	memset(ss, 0, sizeof(*ss));
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return -1;
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		if (n >= sizeof(buf))
			return -1;
		strcpy(buf, s);
	}
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			*len = sizeof(*sin6);
			return 0;
		}
	}
	{
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			*len = sizeof(*sin);
			return 0;
		}
	}
	return -1;
}

static int
parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 2];
	long port;
	char *end;

	if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535)
		return -1;
	return parse_addr(host, (uint16_t)port, ss, len);
}

static const char *
addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "family-%d", sa->sa_family);
	}
	return buf;
}

/* ------------------------------------------------------------------ */
/* signals / time limit                                               */

static void
on_alarm(int sig)
{
	static const char m[] = "TIMEOUT\n";
	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0) {
		/* nothing */
	}
	_exit(EXIT_FAIL);
}

static void
on_term(int sig)
{
	static const char m[] = "TERMINATED\n";
	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0) {
		/* nothing */
	}
	_exit(EXIT_OK);
}

static void
finish_stack(void)
{
	int i;

	/* usrsctp_finish() fails while associations are still being torn down. */
	for (i = 0; i < 500; i++) {
		if (usrsctp_finish() == 0)
			return;
		usleep(10000);
	}
	fprintf(stderr, "ERROR usrsctp_finish did not complete\n");
}

/* ------------------------------------------------------------------ */
/* socket setup                                                       */

static void
setopt_or_fail(struct socket *s, int level, int name, const void *val, socklen_t len, const char *what)
{
	if (usrsctp_setsockopt(s, level, name, val, len) < 0) {
		fprintf(stderr, "ERROR setsockopt %s: %s\n", what, strerror(errno));
		exit(EXIT_FAIL);
	}
}

static void
setup_socket(struct socket *s, int family)
{
	const int on = 1;
	struct sctp_udpencaps encaps;
	struct sctp_event ev;
	uint16_t types[] = {SCTP_ASSOC_CHANGE, SCTP_SHUTDOWN_EVENT, SCTP_REMOTE_ERROR,
	                    SCTP_PEER_ADDR_CHANGE, SCTP_PARTIAL_DELIVERY_EVENT,
	                    SCTP_SEND_FAILED_EVENT};
	unsigned int i;

	memset(&encaps, 0, sizeof(encaps));
	encaps.sue_address.ss_family = (sa_family_t)family;
	encaps.sue_port = htons((uint16_t)opt.remote_udp_port);
	setopt_or_fail(s, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &encaps, sizeof(encaps),
	               "SCTP_REMOTE_UDP_ENCAPS_PORT");

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		/* Send-failed events only matter (and carry whole messages) with PR-SCTP. */
		if (types[i] == SCTP_SEND_FAILED_EVENT && opt.prsctp_ttl < 0 && opt.prsctp_rtx < 0)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.se_assoc_id = SCTP_FUTURE_ASSOC;
		ev.se_type = types[i];
		ev.se_on = 1;
		setopt_or_fail(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev), "SCTP_EVENT");
	}
	setopt_or_fail(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on), "SCTP_RECVRCVINFO");

	if (opt.nodelay)
		setopt_or_fail(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on), "SCTP_NODELAY");

	if (opt.max_msg_set) {
		/* A receive buffer that holds a whole message. Works around
		 * usrsctp 0.9.5 never starting partial delivery for unordered
		 * I-DATA messages larger than the receive buffer (rwnd drops to
		 * 0 and the association stalls). Also raises the a_rwnd in INIT. */
		int rcv = (int)(2 * opt.max_msg + 65536); /* + per-chunk overhead */
		setopt_or_fail(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv), "SO_RCVBUF");
	}

	if (opt.idata) {
		int level = 2;
		struct sctp_assoc_value av;

		setopt_or_fail(s, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, sizeof(level),
		               "SCTP_FRAGMENT_INTERLEAVE");
		memset(&av, 0, sizeof(av));
		av.assoc_id = SCTP_FUTURE_ASSOC;
		av.assoc_value = 1;
		setopt_or_fail(s, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED, &av, sizeof(av),
		               "SCTP_INTERLEAVING_SUPPORTED");
	}

	if (opt.streams > 0 || opt.stream >= 10) {
		struct sctp_initmsg im;
		int n = opt.streams > 0 ? opt.streams : opt.stream + 1;

		if (n <= opt.stream)
			n = opt.stream + 1;
		memset(&im, 0, sizeof(im));
		im.sinit_num_ostreams = (uint16_t)n;
		im.sinit_max_instreams = (uint16_t)(n > 2048 ? n : 2048);
		setopt_or_fail(s, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof(im), "SCTP_INITMSG");
	}

	if (opt.rto_min || opt.rto_max || opt.rto_initial) {
		struct sctp_rtoinfo ri;

		memset(&ri, 0, sizeof(ri));
		ri.srto_assoc_id = SCTP_FUTURE_ASSOC;
		ri.srto_min = (uint32_t)opt.rto_min;
		ri.srto_max = (uint32_t)opt.rto_max;
		ri.srto_initial = (uint32_t)opt.rto_initial;
		setopt_or_fail(s, IPPROTO_SCTP, SCTP_RTOINFO, &ri, sizeof(ri), "SCTP_RTOINFO");
	}

	if (opt.cookie_life > 0) {
		struct sctp_assocparams ap;

		memset(&ap, 0, sizeof(ap));
		ap.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
		ap.sasoc_cookie_life = (uint32_t)opt.cookie_life;
		setopt_or_fail(s, IPPROTO_SCTP, SCTP_ASSOCINFO, &ap, sizeof(ap), "SCTP_ASSOCINFO");
	}
}

/* Without SCTP_EXPLICIT_EOR usrsctp refuses (EMSGSIZE) a message larger
 * than the send buffer, so size the buffer for the largest message. */
static void
setup_sndbuf(struct socket *s, size_t largest)
{
	int want = (int)(largest + 65536), cur = 0;
	socklen_t len = sizeof(cur);

	if (usrsctp_getsockopt(s, SOL_SOCKET, SO_SNDBUF, &cur, &len) == 0 && cur >= want)
		return;
	setopt_or_fail(s, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want), "SO_SNDBUF");
}

/* Heartbeat interval / path MTU. Applied to the endpoint before the
 * association exists (inherited) and again to the association. */
static void
setup_paddr(struct socket *s, int family)
{
	struct sctp_paddrparams pp;

	if (opt.hb_interval < 0 && opt.mtu < 0)
		return;
	memset(&pp, 0, sizeof(pp));
	pp.spp_address.ss_family = (sa_family_t)family;
	pp.spp_assoc_id = SCTP_FUTURE_ASSOC;
	if (opt.hb_interval == 0) {
		pp.spp_flags |= SPP_HB_DISABLE;
	} else if (opt.hb_interval > 0) {
		pp.spp_flags |= SPP_HB_ENABLE;
		pp.spp_hbinterval = (uint32_t)opt.hb_interval;
	}
	if (opt.mtu > 0) {
		pp.spp_flags |= SPP_PMTUD_DISABLE;
		pp.spp_pathmtu = (uint32_t)opt.mtu;
	}
	setopt_or_fail(s, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof(pp), "SCTP_PEER_ADDR_PARAMS");
}

/* Bind the comma separated address list (all with the same port). */
static void
bind_addrs(struct socket *s, int family, const char *list, uint16_t port)
{
	char packed[MAX_BIND * sizeof(struct sockaddr_in6)];
	size_t off = 0;
	int cnt = 0;
	char *copy, *tok, *save = NULL;

	if (list == NULL) {
		struct sockaddr_storage ss;
		socklen_t len;

		memset(&ss, 0, sizeof(ss));
		if (family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			sin6->sin6_addr = in6addr_any;
			len = sizeof(*sin6);
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
			len = sizeof(*sin);
		}
		if (usrsctp_bind(s, (struct sockaddr *)&ss, len) < 0) {
			fprintf(stderr, "ERROR bind: %s\n", strerror(errno));
			exit(EXIT_FAIL);
		}
		return;
	}
	copy = strdup(list);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (cnt >= MAX_BIND || parse_addr(tok, port, &ss, &len) < 0) {
			fprintf(stderr, "ERROR bad --bind address: %s\n", tok);
			exit(EXIT_USAGE);
		}
		memcpy(packed + off, &ss, len);
		off += len;
		cnt++;
	}
	free(copy);
	(void)family;
	if (cnt == 1) {
		if (usrsctp_bind(s, (struct sockaddr *)packed, (socklen_t)off) < 0) {
			fprintf(stderr, "ERROR bind: %s\n", strerror(errno));
			exit(EXIT_FAIL);
		}
	} else if (usrsctp_bindx(s, (struct sockaddr *)packed, cnt, SCTP_BINDX_ADD_ADDR) < 0) {
		fprintf(stderr, "ERROR bindx: %s\n", strerror(errno));
		exit(EXIT_FAIL);
	}
}

/* Family for the socket: IPv6 if any bind address is IPv6 or none given. */
static int
family_for_bind(const char *list, int dflt)
{
	int fam = -1;
	char *copy, *tok, *save = NULL;

	if (list == NULL)
		return dflt;
	copy = strdup(list);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (parse_addr(tok, 0, &ss, &len) < 0) {
			fprintf(stderr, "ERROR bad --bind address: %s\n", tok);
			exit(EXIT_USAGE);
		}
		if (ss.ss_family == AF_INET6 || fam < 0)
			fam = ss.ss_family;
	}
	free(copy);
	return fam < 0 ? dflt : fam;
}

/* ------------------------------------------------------------------ */
/* receiving                                                          */

struct msg {
	uint8_t *data;
	size_t len;
	uint16_t sid;
	uint32_t ppid; /* host order */
	int unordered;
	struct msg *next;
};

struct partial {
	int used;
	uint16_t sid;
	int unordered;
	uint32_t ppid;
	uint8_t *buf;
	size_t len, cap;
};

struct conn {
	struct socket *sock;
	struct partial parts[MAX_PARTIAL];
	uint8_t *nbuf; /* notification reassembly */
	size_t nlen, ncap;
	uint8_t *rbuf;
	/* association state seen through notifications */
	int comm_up, comm_lost, shutdown_comp, cant_start, peer_shutdown;
	unsigned long send_failed;
	char role; /* 'C' or 'S' for log lines */
};

static void
append(uint8_t **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
	if (*len + n > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (nc < *len + n)
			nc *= 2;
		*buf = realloc(*buf, nc);
		if (*buf == NULL) {
			fprintf(stderr, "ERROR out of memory\n");
			exit(EXIT_FAIL);
		}
		*cap = nc;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
}

static const char *
assoc_state_name(uint16_t st)
{
	switch (st) {
	case SCTP_COMM_UP: return "COMM_UP";
	case SCTP_COMM_LOST: return "COMM_LOST";
	case SCTP_RESTART: return "RESTART";
	case SCTP_SHUTDOWN_COMP: return "SHUTDOWN_COMP";
	case SCTP_CANT_STR_ASSOC: return "CANT_STR_ASSOC";
	default: return "UNKNOWN";
	}
}

static const char *
paddr_state_name(uint32_t st)
{
	switch (st) {
	case SCTP_ADDR_AVAILABLE: return "ADDR_AVAILABLE";
	case SCTP_ADDR_UNREACHABLE: return "ADDR_UNREACHABLE";
	case SCTP_ADDR_REMOVED: return "ADDR_REMOVED";
	case SCTP_ADDR_ADDED: return "ADDR_ADDED";
	case SCTP_ADDR_MADE_PRIM: return "ADDR_MADE_PRIM";
	case SCTP_ADDR_CONFIRMED: return "ADDR_CONFIRMED";
	default: return "UNKNOWN";
	}
}

static void
handle_notification(struct conn *c, const uint8_t *data, size_t len)
{
	const union sctp_notification *n = (const union sctp_notification *)data;

	if (len < sizeof(n->sn_header)) {
		fprintf(stderr, "EVENT short_notification len=%zu\n", len);
		return;
	}
	switch (n->sn_header.sn_type) {
	case SCTP_ASSOC_CHANGE: {
		const struct sctp_assoc_change *sac = &n->sn_assoc_change;
		char info[128] = "";
		size_t ilen = sac->sac_length > sizeof(*sac) ? sac->sac_length - sizeof(*sac) : 0;
		size_t i;

		if (sac->sac_state == SCTP_COMM_UP || sac->sac_state == SCTP_RESTART) {
			static const char *names[] = {"", "PR", "AUTH", "ASCONF", "MULTIBUF",
			                              "RE-CONFIG", "INTERLEAVING"};
			strcat(info, " supports=");
			for (i = 0; i < ilen && i < 8; i++) {
				uint8_t v = sac->sac_info[i];
				if (i)
					strcat(info, ",");
				if (v >= 1 && v <= 6)
					strcat(info, names[v]);
				else
					snprintf(info + strlen(info), sizeof(info) - strlen(info), "0x%02x", v);
			}
		} else if (ilen > 0) {
			strcat(info, " abort=");
			for (i = 0; i < ilen && i < 24; i++)
				snprintf(info + strlen(info), sizeof(info) - strlen(info), "%02x", sac->sac_info[i]);
		}
		fprintf(stderr, "EVENT assoc_change state=%s error=%u in=%u out=%u%s\n",
		        assoc_state_name(sac->sac_state), sac->sac_error,
		        sac->sac_inbound_streams, sac->sac_outbound_streams, info);
		switch (sac->sac_state) {
		case SCTP_COMM_UP: case SCTP_RESTART: c->comm_up = 1; break;
		case SCTP_COMM_LOST: c->comm_lost = 1; break;
		case SCTP_SHUTDOWN_COMP: c->shutdown_comp = 1; break;
		case SCTP_CANT_STR_ASSOC: c->cant_start = 1; break;
		}
		break;
	}
	case SCTP_SHUTDOWN_EVENT:
		c->peer_shutdown = 1;
		fprintf(stderr, "EVENT shutdown\n");
		break;
	case SCTP_REMOTE_ERROR: {
		const struct sctp_remote_error *re = &n->sn_remote_error;
		fprintf(stderr, "EVENT remote_error cause=%u len=%u\n", ntohs(re->sre_error), re->sre_length);
		break;
	}
	case SCTP_PEER_ADDR_CHANGE: {
		const struct sctp_paddr_change *pc = &n->sn_paddr_change;
		char a[80];
		fprintf(stderr, "EVENT peer_addr_change state=%s addr=%s error=%u\n",
		        paddr_state_name(pc->spc_state),
		        addr_str((const struct sockaddr *)&pc->spc_aaddr, a, sizeof(a)), pc->spc_error);
		break;
	}
	case SCTP_PARTIAL_DELIVERY_EVENT: {
		const struct sctp_pdapi_event *pd = &n->sn_pdapi_event;
		fprintf(stderr, "EVENT partial_delivery indication=%u%s stream=%u seq=%u\n",
		        pd->pdapi_indication,
		        pd->pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED ? "(ABORTED)" : "",
		        pd->pdapi_stream, pd->pdapi_seq);
		break;
	}
	case SCTP_SEND_FAILED_EVENT: {
		const struct sctp_send_failed_event *sf = &n->sn_send_failed_event;
		size_t dlen = sf->ssfe_length > sizeof(*sf) ? sf->ssfe_length - sizeof(*sf) : 0;
		c->send_failed++;
		fprintf(stderr, "EVENT send_failed flags=%s error=0x%x sid=%u len=%zu\n",
		        (sf->ssfe_flags & SCTP_DATA_SENT) ? "SENT" :
		        (sf->ssfe_flags & SCTP_DATA_UNSENT) ? "UNSENT" : "?",
		        sf->ssfe_error, sf->ssfe_info.snd_sid, dlen);
		break;
	}
	default:
		fprintf(stderr, "EVENT type=0x%x len=%zu\n", n->sn_header.sn_type, len);
		break;
	}
}

/*
 * Receive one complete user message (notifications are handled inline).
 * Returns 1 with *out set, 0 on end of association (EOF), -1 on error,
 * -2 when dontwait is set and nothing is readable (partial state is kept).
 */
static int
recv_msg(struct conn *c, struct msg **out, int dontwait)
{
	for (;;) {
		struct sctp_rcvinfo ri;
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from), infolen = sizeof(ri);
		unsigned int infotype = 0;
		int flags = dontwait ? MSG_DONTWAIT : 0, i, slot = -1, freeslot = -1;
		ssize_t n;
		uint16_t sid = 0;
		int unord = 0;
		uint32_t ppid = 0;
		struct partial *p;

		memset(&ri, 0, sizeof(ri));
		n = usrsctp_recvv(c->sock, c->rbuf, RECV_CHUNK, (struct sockaddr *)&from, &fromlen,
		                  &ri, &infolen, &infotype, &flags);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (dontwait && (errno == EWOULDBLOCK || errno == EAGAIN))
				return -2;
			return -1;
		}
		if (n == 0)
			return 0;
		if (flags & MSG_NOTIFICATION) {
			append(&c->nbuf, &c->nlen, &c->ncap, c->rbuf, (size_t)n);
			if (flags & MSG_EOR) {
				handle_notification(c, c->nbuf, c->nlen);
				c->nlen = 0;
			}
			continue;
		}
		if (infotype == SCTP_RECVV_RCVINFO) {
			sid = ri.rcv_sid;
			unord = (ri.rcv_flags & SCTP_UNORDERED) ? 1 : 0;
			ppid = ntohl(ri.rcv_ppid);
		}
		/* Pieces of one message share (sid, U); with fragment interleave
		 * level 2 pieces of messages on different streams may alternate. */
		for (i = 0; i < MAX_PARTIAL; i++) {
			if (c->parts[i].used) {
				if (c->parts[i].sid == sid && c->parts[i].unordered == unord) {
					slot = i;
					break;
				}
			} else if (freeslot < 0) {
				freeslot = i;
			}
		}
		if (slot < 0) {
			if (freeslot < 0) {
				fprintf(stderr, "ERROR too many partially delivered messages\n");
				errno = ENOMEM;
				return -1;
			}
			slot = freeslot;
			p = &c->parts[slot];
			p->used = 1;
			p->sid = sid;
			p->unordered = unord;
			p->ppid = ppid;
			p->len = 0;
		}
		p = &c->parts[slot];
		if (p->len + (size_t)n > opt.max_msg) {
			fprintf(stderr, "ERROR message exceeds --max-msg %zu\n", opt.max_msg);
			errno = EMSGSIZE;
			return -1;
		}
		append(&p->buf, &p->len, &p->cap, c->rbuf, (size_t)n);
		if (flags & MSG_EOR) {
			struct msg *m = calloc(1, sizeof(*m));
			if (m == NULL) {
				fprintf(stderr, "ERROR out of memory\n");
				exit(EXIT_FAIL);
			}
			m->data = p->buf;
			m->len = p->len;
			m->sid = p->sid;
			m->ppid = p->ppid;
			m->unordered = p->unordered;
			p->buf = NULL;
			p->len = p->cap = 0;
			p->used = 0;
			*out = m;
			return 1;
		}
	}
}

static void
free_msg(struct msg *m)
{
	if (m) {
		free(m->data);
		free(m);
	}
}

static struct conn *
conn_new(struct socket *s, char role)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->rbuf = malloc(RECV_CHUNK)) == NULL) {
		fprintf(stderr, "ERROR out of memory\n");
		exit(EXIT_FAIL);
	}
	c->sock = s;
	c->role = role;
	return c;
}

static void
conn_free(struct conn *c)
{
	int i;

	for (i = 0; i < MAX_PARTIAL; i++)
		free(c->parts[i].buf);
	free(c->nbuf);
	free(c->rbuf);
	free(c);
}

/* ------------------------------------------------------------------ */
/* sending                                                            */

static int
send_msg(struct socket *s, const void *data, size_t len, uint16_t sid, int unordered, uint32_t ppid)
{
	struct sctp_sendv_spa spa;

	memset(&spa, 0, sizeof(spa));
	spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
	spa.sendv_sndinfo.snd_sid = sid;
	spa.sendv_sndinfo.snd_flags = unordered ? SCTP_UNORDERED : 0;
	spa.sendv_sndinfo.snd_ppid = htonl(ppid);
	if (opt.prsctp_ttl >= 0) {
		spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
		spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_TTL;
		spa.sendv_prinfo.pr_value = (uint32_t)opt.prsctp_ttl;
	} else if (opt.prsctp_rtx >= 0) {
		spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
		spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
		spa.sendv_prinfo.pr_value = (uint32_t)opt.prsctp_rtx;
	}
	for (;;) {
		ssize_t n = usrsctp_sendv(s, data, len, NULL, 0, &spa, sizeof(spa), SCTP_SENDV_SPA, 0);
		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		return -1;
	}
}

static uint8_t *
make_payload(size_t size)
{
	uint8_t *b = malloc(size);
	size_t i;

	if (b == NULL) {
		fprintf(stderr, "ERROR out of memory\n");
		exit(EXIT_FAIL);
	}
	for (i = 0; i < size; i++)
		b[i] = (uint8_t)((i * 7 + size) & 0xff);
	return b;
}

/* ------------------------------------------------------------------ */
/* client                                                             */

static pthread_mutex_t q_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct msg *q_head, *q_tail;
static int q_eof;
static unsigned long rx_count, rx_bytes; /* messages received (not echoes) */
static FILE *dump_file;
static int q_err;
static int rx_stop;      /* main thread asks the receiver to leave */
static int rx_readable;  /* set by the usrsctp upcall */
static pthread_cond_t rx_cond = PTHREAD_COND_INITIALIZER;

/* usrsctp calls this from its own threads when the socket changes state. */
static void
client_upcall(struct socket *s, void *arg, int flags)
{
	(void)s;
	(void)arg;
	(void)flags;
	pthread_mutex_lock(&q_mtx);
	rx_readable = 1;
	pthread_cond_broadcast(&rx_cond);
	pthread_mutex_unlock(&q_mtx);
}

/*
 * The receiver never blocks inside usrsctp (MSG_DONTWAIT): a thread blocked
 * in usrsctp_recvv cannot be woken without closing the socket under it, and
 * the --abort path must close the socket itself (SO_LINGER 0).
 */
static void *
client_receiver(void *arg)
{
	struct conn *c = arg;
	struct msg *m;
	int r;

	for (;;) {
		pthread_mutex_lock(&q_mtx);
		rx_readable = 0;
		pthread_mutex_unlock(&q_mtx);
		r = recv_msg(c, &m, 1);
		if (r == 1) {
			if (opt.expect_echo) {
				pthread_mutex_lock(&q_mtx);
				if (q_tail)
					q_tail->next = m;
				else
					q_head = m;
				q_tail = m;
				pthread_cond_broadcast(&q_cond);
				pthread_mutex_unlock(&q_mtx);
			} else {
				if (dump_file) {
					if (fwrite(m->data, 1, m->len, dump_file) != m->len) {
						fprintf(stderr, "ERROR --dump: %s\n", strerror(errno));
						exit(EXIT_FAIL);
					}
				} else {
					printf("RECV size=%zu sid=%u ppid=%u unordered=%d\n", m->len, m->sid,
					       m->ppid, m->unordered);
				}
				pthread_mutex_lock(&q_mtx);
				rx_count++;
				rx_bytes += m->len;
				pthread_cond_broadcast(&q_cond);
				pthread_mutex_unlock(&q_mtx);
				free_msg(m);
			}
			continue;
		}
		if (r == -2) {
			struct timespec ts;

			pthread_mutex_lock(&q_mtx);
			if (rx_stop) {
				pthread_mutex_unlock(&q_mtx);
				r = 0;
				break;
			}
			if (!rx_readable) {
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 20 * 1000 * 1000;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&rx_cond, &q_mtx, &ts);
			}
			pthread_mutex_unlock(&q_mtx);
			continue;
		}
		break;
	}
	pthread_mutex_lock(&q_mtx);
	q_eof = 1;
	q_err = (r < 0) ? errno : 0;
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_mtx);
	if (r < 0 && opt.verbose)
		printf("RECV-END error=%s\n", strerror(q_err));
	return NULL;
}

static void
stop_receiver(pthread_t rx)
{
	pthread_mutex_lock(&q_mtx);
	rx_stop = 1;
	pthread_cond_broadcast(&rx_cond);
	pthread_mutex_unlock(&q_mtx);
	pthread_join(rx, NULL);
}

static struct msg *
wait_echo(void)
{
	struct msg *m = NULL;

	pthread_mutex_lock(&q_mtx);
	while (q_head == NULL && !q_eof)
		pthread_cond_wait(&q_cond, &q_mtx);
	if (q_head) {
		m = q_head;
		q_head = m->next;
		if (q_head == NULL)
			q_tail = NULL;
		m->next = NULL;
	}
	pthread_mutex_unlock(&q_mtx);
	return m;
}

static int
run_client(void)
{
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct socket *s;
	struct conn *c;
	pthread_t rx;
	int family, rc = EXIT_OK;
	long r;
	int i;
	char a[80];

	if (parse_hostport(opt.connect, &dst, &dstlen) < 0) {
		fprintf(stderr, "ERROR bad --connect address: %s\n", opt.connect);
		return EXIT_USAGE;
	}
	family = dst.ss_family;
	if (opt.bind_list)
		family = family_for_bind(opt.bind_list, family) == AF_INET6 ? AF_INET6 : family;
	if (family == AF_INET6 && dst.ss_family == AF_INET) {
		fprintf(stderr, "ERROR IPv6 bind address with IPv4 destination is not supported\n");
		return EXIT_USAGE;
	}
	s = usrsctp_socket(family, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (s == NULL) {
		fprintf(stderr, "ERROR usrsctp_socket: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	setup_socket(s, family);
	setup_paddr(s, family);
	if (opt.bind_list || opt.sctp_port >= 0)
		bind_addrs(s, family, opt.bind_list, (uint16_t)(opt.sctp_port >= 0 ? opt.sctp_port : 0));

	{
		size_t largest = 0;
		for (i = 0; i < opt.nsizes; i++)
			if (opt.sizes[i] > largest)
				largest = opt.sizes[i];
		setup_sndbuf(s, largest);
	}
	c = conn_new(s, 'C');
	if (usrsctp_connect(s, (struct sockaddr *)&dst, dstlen) < 0) {
		int e = errno;
		fprintf(stderr, "ERROR connect %s: %s\n", addr_str((struct sockaddr *)&dst, a, sizeof(a)),
		        strerror(e));
		fprintf(stderr, "EVENT assoc_change state=CANT_STR_ASSOC\n");
		usrsctp_close(s);
		conn_free(c);
		return EXIT_FAIL;
	}
	printf("CONNECTED %s\n", addr_str((struct sockaddr *)&dst, a, sizeof(a)));
	setup_paddr(s, family);
	usrsctp_set_upcall(s, client_upcall, NULL);
	if (pthread_create(&rx, NULL, client_receiver, c) != 0) {
		fprintf(stderr, "ERROR pthread_create\n");
		return EXIT_FAIL;
	}

	for (r = 0; r < opt.repeat && rc == EXIT_OK; r++) {
		for (i = 0; i < opt.nsizes && rc == EXIT_OK; i++) {
			size_t size = opt.sizes[i];
			uint8_t *p = make_payload(size);

			if (send_msg(s, p, size, (uint16_t)opt.stream, opt.unordered, opt.ppid) < 0) {
				fprintf(stderr, "ERROR send size=%zu: %s\n", size, strerror(errno));
				free(p);
				rc = EXIT_FAIL;
				break;
			}
			if (opt.verbose || !opt.expect_echo)
				printf("SENT size=%zu sid=%d ppid=%u unordered=%d\n", size, opt.stream, opt.ppid,
				       opt.unordered);
			if (opt.expect_echo) {
				struct msg *m = wait_echo();

				if (m == NULL) {
					printf("MISMATCH size=%zu no echo (association ended: %s)\n", size,
					       q_err ? strerror(q_err) : "eof");
					rc = EXIT_FAIL;
				} else if (m->len != size || memcmp(m->data, p, size) != 0) {
					size_t j = 0;
					while (j < size && j < m->len && m->data[j] == p[j])
						j++;
					printf("MISMATCH size=%zu got=%zu first_diff=%zu\n", size, m->len, j);
					rc = EXIT_FAIL;
				} else if (m->sid != opt.stream || m->ppid != opt.ppid ||
				           m->unordered != opt.unordered) {
					printf("MISMATCH size=%zu sid=%u ppid=%u unordered=%d (sent sid=%d ppid=%u unordered=%d)\n",
					       size, m->sid, m->ppid, m->unordered, opt.stream, opt.ppid, opt.unordered);
					rc = EXIT_FAIL;
				} else {
					printf("OK size=%zu\n", size);
				}
				free_msg(m);
			}
			free(p);
			if (opt.send_gap_ms > 0)
				usleep((useconds_t)opt.send_gap_ms * 1000);
		}
	}
	if (opt.idle_ms > 0)
		usleep((useconds_t)opt.idle_ms * 1000);
	if (opt.until_closed) {
		/* Bounded by --timeout (alarm). */
		pthread_mutex_lock(&q_mtx);
		while (!q_eof)
			pthread_cond_wait(&q_cond, &q_mtx);
		pthread_mutex_unlock(&q_mtx);
	}

	if (opt.abort_with_cause) {
		struct sctp_sndinfo si;
		const char *reason = opt.abort_reason ? opt.abort_reason : "peer.c user abort";

		memset(&si, 0, sizeof(si));
		si.snd_flags = SCTP_ABORT;
		if (usrsctp_sendv(s, reason, strlen(reason), NULL, 0, &si, sizeof(si), SCTP_SENDV_SNDINFO, 0) < 0) {
			fprintf(stderr, "ERROR sendv SCTP_ABORT: %s\n", strerror(errno));
			rc = EXIT_FAIL;
		}
		/* The receiver normally sees COMM_LOST and the error; bound the wait. */
		{
			int k;
			for (k = 0; k < 200; k++) {
				int done;
				pthread_mutex_lock(&q_mtx);
				done = q_eof;
				pthread_mutex_unlock(&q_mtx);
				if (done)
					break;
				usleep(10000);
			}
		}
		stop_receiver(rx);
		usrsctp_close(s);
		printf("DONE abort-with-cause\n");
	} else if (opt.do_abort) {
		struct linger l;

		stop_receiver(rx);
		l.l_onoff = 1;
		l.l_linger = 0;
		setopt_or_fail(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l), "SO_LINGER");
		usrsctp_close(s);
		printf("DONE abort\n");
	} else {
		if (usrsctp_shutdown(s, SHUT_WR) < 0 && errno != ENOTCONN) {
			fprintf(stderr, "ERROR shutdown: %s\n", strerror(errno));
			rc = EXIT_FAIL;
		}
		pthread_join(rx, NULL);
		usrsctp_close(s);
		if (c->comm_lost) {
			fprintf(stderr, "ERROR association lost\n");
			rc = EXIT_FAIL;
		}
		printf("DONE shutdown%s\n", c->shutdown_comp ? " complete" : "");
	}
	if (c->send_failed)
		printf("ABANDONED %lu\n", c->send_failed);
	if (dump_file) {
		if (fclose(dump_file) != 0) {
			fprintf(stderr, "ERROR --dump: %s\n", strerror(errno));
			rc = EXIT_FAIL;
		}
		dump_file = NULL;
		printf("RECEIVED messages=%lu bytes=%lu\n", rx_count, rx_bytes);
	}
	alarm(0);
	conn_free(c);
	finish_stack();
	return rc;
}

/* ------------------------------------------------------------------ */
/* server                                                             */

static int
serve(struct conn *c)
{
	struct msg *m;
	int r;
	unsigned long count = 0, bytes = 0;

	while ((r = recv_msg(c, &m, 0)) == 1) {
		count++;
		bytes += m->len;
		printf("RECV size=%zu sid=%u ppid=%u unordered=%d\n", m->len, m->sid, m->ppid, m->unordered);
		if (opt.echo) {
			if (send_msg(c->sock, m->data, m->len, m->sid, m->unordered, m->ppid) < 0)
				fprintf(stderr, "ERROR echo size=%zu: %s\n", m->len, strerror(errno));
		}
		free_msg(m);
	}
	printf("CLOSED messages=%lu bytes=%lu end=%s\n", count, bytes,
	       r == 0 ? "eof" : strerror(errno));
	return r;
}

static int
run_server(void)
{
	int family = family_for_bind(opt.bind_list, AF_INET6);
	struct socket *ls;

	if (opt.sctp_port < 0) {
		fprintf(stderr, "ERROR server mode needs --sctp-port\n");
		return EXIT_USAGE;
	}
	ls = usrsctp_socket(family, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (ls == NULL) {
		fprintf(stderr, "ERROR usrsctp_socket: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	setup_socket(ls, family);
	setup_paddr(ls, family);
	bind_addrs(ls, family, opt.bind_list, (uint16_t)opt.sctp_port);
	if (usrsctp_listen(ls, 4) < 0) {
		fprintf(stderr, "ERROR listen: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	printf("LISTEN sctp-port=%d udp=%d->%d %s\n", opt.sctp_port, opt.local_udp_port,
	       opt.remote_udp_port, opt.echo ? "echo" : "discard");
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		struct socket *s;
		struct conn *c;
		char a[80];

		s = usrsctp_accept(ls, (struct sockaddr *)&from, &fromlen);
		if (s == NULL) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ERROR accept: %s\n", strerror(errno));
			usrsctp_close(ls);
			return EXIT_FAIL;
		}
		printf("ACCEPT %s\n", addr_str((struct sockaddr *)&from, a, sizeof(a)));
		c = conn_new(s, 'S');
		if (opt.echo)
			setup_sndbuf(s, opt.max_msg);
		setup_paddr(s, from.ss_family == AF_INET ? AF_INET : family);
		serve(c);
		usrsctp_close(s);
		conn_free(c);
		if (opt.once)
			break;
	}
	usrsctp_close(ls);
	alarm(0);
	finish_stack();
	return EXIT_OK;
}

/* ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	enum {
		O_LUDP = 256, O_RUDP, O_SPORT, O_BIND, O_CONNECT, O_ECHO, O_DISCARD, O_ONCE, O_SIZES,
		O_REPEAT, O_STREAM, O_UNORD, O_PPID, O_EXPECT, O_IDATA, O_TTL, O_RTX, O_HB, O_MTU,
		O_RTOMIN, O_RTOMAX, O_RTOINIT, O_COOKIE, O_STREAMS, O_MAXMSG, O_ABORT, O_ABORTC,
		O_IDLE, O_GAP, O_NODELAY, O_TIMEOUT, O_DUMP, O_UNTIL
	};
	static const struct option lopts[] = {
		{"local-udp-port", required_argument, NULL, O_LUDP},
		{"remote-udp-port", required_argument, NULL, O_RUDP},
		{"sctp-port", required_argument, NULL, O_SPORT},
		{"bind", required_argument, NULL, O_BIND},
		{"connect", required_argument, NULL, O_CONNECT},
		{"echo", no_argument, NULL, O_ECHO},
		{"discard", no_argument, NULL, O_DISCARD},
		{"once", no_argument, NULL, O_ONCE},
		{"send-sizes", required_argument, NULL, O_SIZES},
		{"repeat", required_argument, NULL, O_REPEAT},
		{"stream", required_argument, NULL, O_STREAM},
		{"unordered", no_argument, NULL, O_UNORD},
		{"ppid", required_argument, NULL, O_PPID},
		{"expect-echo", no_argument, NULL, O_EXPECT},
		{"idata", no_argument, NULL, O_IDATA},
		{"prsctp-ttl", required_argument, NULL, O_TTL},
		{"prsctp-rtx", required_argument, NULL, O_RTX},
		{"hb-interval", required_argument, NULL, O_HB},
		{"mtu", required_argument, NULL, O_MTU},
		{"rto-min", required_argument, NULL, O_RTOMIN},
		{"rto-max", required_argument, NULL, O_RTOMAX},
		{"rto-initial", required_argument, NULL, O_RTOINIT},
		{"cookie-life", required_argument, NULL, O_COOKIE},
		{"streams", required_argument, NULL, O_STREAMS},
		{"max-msg", required_argument, NULL, O_MAXMSG},
		{"abort", no_argument, NULL, O_ABORT},
		{"abort-with-cause", optional_argument, NULL, O_ABORTC},
		{"idle", required_argument, NULL, O_IDLE},
		{"send-gap-ms", required_argument, NULL, O_GAP},
		{"nodelay", no_argument, NULL, O_NODELAY},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"dump", required_argument, NULL, O_DUMP},
		{"until-closed", no_argument, NULL, O_UNTIL},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int ch, rc;

	memset(&opt, 0, sizeof(opt));
	opt.local_udp_port = opt.remote_udp_port = opt.sctp_port = -1;
	opt.repeat = 1;
	opt.prsctp_ttl = opt.prsctp_rtx = -1;
	opt.hb_interval = -1;
	opt.mtu = -1;
	opt.max_msg = 16u << 20;
	opt.timeout = 20;

	while ((ch = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		switch (ch) {
		case O_LUDP: opt.local_udp_port = (int)parse_long(optarg, "--local-udp-port", 1, 65535); break;
		case O_RUDP: opt.remote_udp_port = (int)parse_long(optarg, "--remote-udp-port", 1, 65535); break;
		case O_SPORT: opt.sctp_port = (int)parse_long(optarg, "--sctp-port", 0, 65535); break;
		case O_BIND: opt.bind_list = optarg; break;
		case O_CONNECT: opt.connect = optarg; break;
		case O_ECHO: opt.echo = 1; break;
		case O_DISCARD: opt.discard = 1; break;
		case O_ONCE: opt.once = 1; break;
		case O_SIZES: parse_sizes(optarg); break;
		case O_REPEAT: opt.repeat = parse_long(optarg, "--repeat", 1, 10000000); break;
		case O_STREAM: opt.stream = (int)parse_long(optarg, "--stream", 0, 65534); break;
		case O_UNORD: opt.unordered = 1; break;
		case O_PPID: opt.ppid = (uint32_t)parse_long(optarg, "--ppid", 0, 0xffffffffL); break;
		case O_EXPECT: opt.expect_echo = 1; break;
		case O_IDATA: opt.idata = 1; break;
		case O_TTL: opt.prsctp_ttl = parse_long(optarg, "--prsctp-ttl", 0, 0xffffffffL); break;
		case O_RTX: opt.prsctp_rtx = parse_long(optarg, "--prsctp-rtx", 0, 0xffffffffL); break;
		case O_HB: opt.hb_interval = parse_long(optarg, "--hb-interval", 0, 0xffffffffL); break;
		case O_MTU: opt.mtu = parse_long(optarg, "--mtu", 512, 65535); break;
		case O_RTOMIN: opt.rto_min = parse_long(optarg, "--rto-min", 1, 0xffffffffL); break;
		case O_RTOMAX: opt.rto_max = parse_long(optarg, "--rto-max", 1, 0xffffffffL); break;
		case O_RTOINIT: opt.rto_initial = parse_long(optarg, "--rto-initial", 1, 0xffffffffL); break;
		case O_COOKIE: opt.cookie_life = parse_long(optarg, "--cookie-life", 1, 0xffffffffL); break;
		case O_STREAMS: opt.streams = (int)parse_long(optarg, "--streams", 1, 65535); break;
		case O_MAXMSG:
			opt.max_msg = (size_t)parse_long(optarg, "--max-msg", 1, 1L << 30);
			opt.max_msg_set = 1;
			break;
		case O_ABORT: opt.do_abort = 1; break;
		case O_ABORTC: opt.abort_with_cause = 1; opt.abort_reason = optarg; break;
		case O_IDLE: opt.idle_ms = parse_long(optarg, "--idle", 0, 3600000); break;
		case O_GAP: opt.send_gap_ms = parse_long(optarg, "--send-gap-ms", 0, 3600000); break;
		case O_NODELAY: opt.nodelay = 1; break;
		case O_TIMEOUT: opt.timeout = parse_long(optarg, "--timeout", 0, 86400); break;
		case O_DUMP: opt.dump = optarg; break;
		case O_UNTIL: opt.until_closed = 1; break;
		case 'v': opt.verbose = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ERROR unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (opt.local_udp_port < 0 || opt.remote_udp_port < 0) {
		fprintf(stderr, "ERROR --local-udp-port and --remote-udp-port are mandatory\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (opt.echo && opt.discard) {
		fprintf(stderr, "ERROR --echo and --discard are exclusive\n");
		return EXIT_USAGE;
	}
	if (opt.prsctp_ttl >= 0 && opt.prsctp_rtx >= 0) {
		fprintf(stderr, "ERROR --prsctp-ttl and --prsctp-rtx are exclusive\n");
		return EXIT_USAGE;
	}
	if (opt.do_abort && opt.abort_with_cause) {
		fprintf(stderr, "ERROR --abort and --abort-with-cause are exclusive\n");
		return EXIT_USAGE;
	}
	if (opt.connect) {
		if (opt.nsizes == 0 && !opt.do_abort && !opt.abort_with_cause && opt.idle_ms == 0) {
			/* A client that just connects and leaves is allowed, but say so. */
			if (opt.verbose)
				printf("NOTE no --send-sizes given\n");
		}
		if (opt.echo || opt.discard || opt.once) {
			fprintf(stderr, "ERROR --echo/--discard/--once are server options\n");
			return EXIT_USAGE;
		}
		if ((opt.dump || opt.until_closed) && opt.expect_echo) {
			fprintf(stderr, "ERROR --dump/--until-closed and --expect-echo are exclusive\n");
			return EXIT_USAGE;
		}
		if (opt.dump && (dump_file = fopen(opt.dump, "wb")) == NULL) {
			fprintf(stderr, "ERROR --dump %s: %s\n", opt.dump, strerror(errno));
			return EXIT_USAGE;
		}
	} else {
		if (opt.nsizes || opt.expect_echo || opt.do_abort || opt.abort_with_cause || opt.idle_ms ||
		    opt.unordered || opt.send_gap_ms || opt.dump || opt.until_closed) {
			fprintf(stderr, "ERROR client options given without --connect\n");
			return EXIT_USAGE;
		}
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (opt.timeout > 0)
		alarm((unsigned int)opt.timeout);

	/* No debug printf function: usrsctp debug output stays off. */
	usrsctp_init((uint16_t)opt.local_udp_port, NULL, NULL);

	rc = opt.connect ? run_client() : run_server();
	return rc;
}
