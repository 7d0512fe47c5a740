// echo_client: a TCP client on netspace, linked against libnetspace. It
// connects to an echo server, writes BYTES bytes of a pattern from one
// thread while another reads the echo back and checks it, and exits 0 if
// everything came back.
//
// usage: echo_client FLAGS HOST PORT BYTES

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netspace.h"

static long total;

static void die(const char *what)
{
	fprintf(stderr, "echo_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned char pattern(long i) { return (unsigned char)((i * 31 + 7) % 251); }

static void *writer(void *arg)
{
	int fd = (int)(long)arg;
	unsigned char buf[3000];
	for (long off = 0; off < total;) {
		long n = total - off < (long)sizeof buf ? total - off : (long)sizeof buf;
		for (long i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		for (long w = 0; w < n;) {
			ssize_t k = ns_send(fd, buf + w, (size_t)(n - w), MSG_NOSIGNAL);
			if (k < 0)
				die("send");
			w += k;
		}
		off += n;
	}
	if (ns_shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	return NULL;
}

int main(int argc, char **argv)
{
	char msg[256];
	if (argc != 5) {
		fprintf(stderr, "usage: echo_client FLAGS HOST PORT BYTES\n");
		return 2;
	}
	struct sockaddr_in to;
	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)atoi(argv[3]));
	total = atol(argv[4]);
	if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1 || total <= 0) {
		fprintf(stderr, "echo_client: bad address or size\n");
		return 2;
	}
	if (ns_init(argv[1], msg, sizeof msg) < 0) {
		fprintf(stderr, "echo_client: ns_init: %s\n", msg);
		return 1;
	}
	int fd = ns_socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	if (ns_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		die("setsockopt");
	if (ns_connect(fd, (struct sockaddr *)&to, sizeof to) < 0)
		die("connect");
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	if (ns_getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 || peer.sin_port != to.sin_port)
		die("getpeername");
	pthread_t th;
	if (pthread_create(&th, NULL, writer, (void *)(long)fd) != 0)
		die("pthread_create");
	unsigned char buf[8192];
	long got = 0;
	for (;;) {
		ssize_t n = ns_recv(fd, buf, sizeof buf, 0);
		if (n < 0)
			die("recv");
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != pattern(got + i)) {
				fprintf(stderr, "echo_client: byte %ld is %u, want %u\n", got + i, buf[i], pattern(got + i));
				return 1;
			}
		}
		got += n;
	}
	pthread_join(th, NULL);
	if (got != total) {
		fprintf(stderr, "echo_client: got %ld bytes back, sent %ld\n", got, total);
		return 1;
	}
	if (ns_close(fd) < 0)
		die("close");
	ns_exit();
	printf("echoed %ld bytes\n", got);
	return 0;
}
