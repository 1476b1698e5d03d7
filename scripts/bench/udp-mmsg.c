/*
 * Raw UDP baseline for scripts/bench-perf.sh: one thread sends batches of
 * datagrams with sendmmsg(2) from one UDP socket to another on loopback,
 * another thread receives them in batches with recvmmsg(2), for N seconds.
 * With -g the sender uses UDP GSO (UDP_SEGMENT: one sendmsg carries a
 * batch of equal datagrams, cut by the kernel) and the receiver UDP GRO,
 * as mcsctp does; datagrams are counted by their size then.
 * Prints what was received (the loopback delivers what it can; the rest is
 * dropped at the receiving socket) as
 *
 *   udp-mmsg: size=1200 sendmmsg/recvmmsg seconds=5.000 sent=... received=...
 *   datagrams/s=... bytes/s=...
 *
 *   gcc -O2 -pthread -o udp-mmsg udp-mmsg.c
 *   ./udp-mmsg [-s size] [-b batch] [-t seconds] [-p port] [-g]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024

static size_t size = 1200;
static unsigned int batch = 64;
static double seconds = 5.0;
static atomic_int stop;
static unsigned long long sent, received, received_bytes;
static struct sockaddr_in dst;
static int gso;

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
sender(void *arg)
{
	int fd = *(int *)arg;
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	char *buf = malloc(size);
	unsigned int i;

	memset(buf, 'u', size);
	if (gso) {
		/* one sendmsg: as many datagrams as fit 64 KiB, cut by the kernel */
		unsigned int segs = 65000 / (unsigned int)size;
		char *big;
		struct msghdr mh;
		struct iovec v;
		int seg = (int)size;

		if (segs > 64)
			segs = 64;
		if (segs < 1)
			segs = 1;
		big = malloc(segs * size);
		memset(big, 'u', segs * size);
		if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) < 0) {
			perror("UDP_SEGMENT");
			exit(1);
		}
		memset(&mh, 0, sizeof(mh));
		v.iov_base = big;
		v.iov_len = segs * size;
		mh.msg_iov = &v;
		mh.msg_iovlen = 1;
		mh.msg_name = &dst;
		mh.msg_namelen = sizeof(dst);
		while (!atomic_load(&stop)) {
			ssize_t n = sendmsg(fd, &mh, 0);
			if (n > 0)
				sent += segs;
			else if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
				perror("sendmsg");
				break;
			}
		}
		free(big);
		free(buf);
		return NULL;
	}
	for (i = 0; i < batch; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &dst;
		msgs[i].msg_hdr.msg_namelen = sizeof(dst);
	}
	while (!atomic_load(&stop)) {
		int n = sendmmsg(fd, msgs, batch, 0);
		if (n > 0)
			sent += (unsigned long long)n;
		else if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
			perror("sendmmsg");
			break;
		}
	}
	free(buf);
	return NULL;
}

int
main(int argc, char **argv)
{
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	struct sockaddr_in src;
	struct timeval tv = { 0, 100000 };
	socklen_t len = sizeof(dst);
	int rfd, sfd, c, rcvbuf = 8 << 20, port = 0;
	unsigned int i;
	char *bufs;
	pthread_t tid;
	double start, end;

	while ((c = getopt(argc, argv, "s:b:t:p:g")) != -1) {
		switch (c) {
		case 'g': gso = 1; break;
		case 's': size = (size_t)atol(optarg); break;
		case 'b': batch = (unsigned int)atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'p': port = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: udp-mmsg [-s size] [-b batch] [-t seconds] [-p port] [-g]\n");
			return 1;
		}
	}
	if (size < 1 || size > 65507 || batch < 1 || batch > MAX_BATCH || seconds <= 0) {
		fprintf(stderr, "udp-mmsg: bad arguments\n");
		return 1;
	}
	rfd = socket(AF_INET, SOCK_DGRAM, 0);
	sfd = socket(AF_INET, SOCK_DGRAM, 0);
	if (rfd < 0 || sfd < 0) {
		perror("socket");
		return 1;
	}
	/* The same socket buffers mcsctp asks for (4 MiB, capped by rmem_max). */
	rcvbuf = 4 << 20;
	setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (gso) {
		int on = 1;
		if (setsockopt(rfd, SOL_UDP, UDP_GRO, &on, sizeof(on)) < 0) {
			perror("UDP_GRO");
			return 1;
		}
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rfd, (struct sockaddr *)&dst, sizeof(dst)) < 0 ||
	    getsockname(rfd, (struct sockaddr *)&dst, &len) < 0) {
		perror("bind");
		return 1;
	}
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(sfd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		perror("bind");
		return 1;
	}
	bufs = malloc((size_t)batch * 65536);
	for (i = 0; i < batch; i++) {
		iov[i].iov_base = bufs + (size_t)i * 65536;
		iov[i].iov_len = 65536;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	if (pthread_create(&tid, NULL, sender, &sfd) != 0) {
		perror("pthread_create");
		return 1;
	}
	start = now();
	end = start + seconds;
	while (now() < end) {
		int n = recvmmsg(rfd, msgs, batch, 0, NULL);
		if (n > 0) {
			for (i = 0; i < (unsigned int)n; i++) {
				received_bytes += msgs[i].msg_len;
				/* with GRO one slot holds several datagrams */
				received += gso ? (msgs[i].msg_len + size - 1) / size : 1;
			}
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			perror("recvmmsg");
			break;
		}
	}
	end = now();
	atomic_store(&stop, 1);
	pthread_join(tid, NULL);
	printf("udp-mmsg: size=%zu %s seconds=%.3f sent=%llu received=%llu "
	       "datagrams/s=%.0f bytes/s=%.0f\n",
	       size, gso ? "gso/gro" : "sendmmsg/recvmmsg", end - start, sent, received,
	       (double)received / (end - start),
	       (double)received_bytes / (end - start));
	free(bufs);
	return 0;
}
