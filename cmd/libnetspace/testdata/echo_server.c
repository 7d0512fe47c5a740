// echo_server: a TCP echo server on netspace, linked against
// libnetspace. It serves NCONN connections, each on a thread of its own
// (blocking ns_poll, ns_read and ns_write from several threads at once),
// then exits 0.
//
// usage: echo_server FLAGS PORT NCONN
// It prints "ready" once it listens.

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netspace.h"

#define MAXCONN 64

static void die(const char *what)
{
	fprintf(stderr, "echo_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *echo(void *arg)
{
	int fd = (int)(long)arg;
	char buf[16384];
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = ns_poll(&p, 1, 30000);
		if (r < 0)
			die("poll");
		if (r == 0) {
			fprintf(stderr, "echo_server: idle for 30 s\n");
			exit(1);
		}
		ssize_t n = ns_read(fd, buf, sizeof buf);
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = ns_write(fd, buf + off, (size_t)(n - off));
			if (w < 0)
				die("write");
			off += w;
		}
	}
	if (ns_close(fd) < 0)
		die("close");
	return NULL;
}

int main(int argc, char **argv)
{
	char msg[256];
	if (argc != 4) {
		fprintf(stderr, "usage: echo_server FLAGS PORT NCONN\n");
		return 2;
	}
	int port = atoi(argv[2]), nconn = atoi(argv[3]);
	if (port <= 0 || port > 65535 || nconn <= 0 || nconn > MAXCONN) {
		fprintf(stderr, "echo_server: bad port or count\n");
		return 2;
	}
	if (ns_init(argv[1], msg, sizeof msg) < 0) {
		fprintf(stderr, "echo_server: ns_init: %s\n", msg);
		return 1;
	}
	int lfd = ns_socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	if (ns_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("setsockopt");
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	if (ns_bind(lfd, (struct sockaddr *)&a, sizeof a) < 0)
		die("bind");
	if (ns_listen(lfd, 16) < 0)
		die("listen");
	printf("ready\n");
	fflush(stdout);
	pthread_t th[MAXCONN];
	for (int i = 0; i < nconn; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		int fd = ns_accept(lfd, (struct sockaddr *)&from, &fl);
		if (fd < 0)
			die("accept");
		if (pthread_create(&th[i], NULL, echo, (void *)(long)fd) != 0)
			die("pthread_create");
	}
	for (int i = 0; i < nconn; i++)
		pthread_join(th[i], NULL);
	if (ns_close(lfd) < 0)
		die("close");
	ns_exit();
	printf("served %d\n", nconn);
	return 0;
}
