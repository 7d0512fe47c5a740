// pdtest: drives libnetspace the way packetdrill does — dlopen, then
// packetdrill_interface_init and the function table — with the
// IP-injection link and the test clock, and plays scripted exchanges
// with hand-built IPv4/TCP packets, checking every packet the stack
// emits: flags, sequence and acknowledgment numbers, window, options
// (per profile) and emission time.
//
// usage: pdtest /path/to/libnetspace.so
// Exit status 0 when every check passes; the first failure is printed.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "netspace.h"

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "pdtest.c:%d: %s: ", __LINE__, phase); \
			fprintf(stderr, __VA_ARGS__);                 \
			fputc('\n', stderr);                          \
			exit(1);                                      \
		}                                                     \
	} while (0)

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10 };

static const char *phase = "start";
static struct packetdrill_interface pd;
static void (*init_fn)(const char *, struct packetdrill_interface *);
static int (*receive_fn)(void *, size_t *, long long *, int);
static uint32_t stack_ip, peer_ip; // network order

struct seg {
	uint16_t sport, dport;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	uint8_t opts[40];
	int optlen;
	uint8_t data[2048];
	int datalen;
	long long t; // emission time (received segments), microseconds
};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

// tcp_sum is the TCP checksum of seg (header and data) from src to dst.
static uint16_t tcp_sum(const uint8_t *seg, size_t n, uint32_t src, uint32_t dst)
{
	uint8_t ph[12];
	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = 6;
	put16(ph + 10, (uint16_t)n);
	return fold(sum16(seg, n, sum16(ph, 12, 0)));
}

// inject sends s from the peer to the stack.
static void inject(const struct seg *s)
{
	uint8_t p[20 + 60 + 2048];
	int hl = 20 + ((s->optlen + 3) & ~3);
	int n = 20 + hl + s->datalen;
	memset(p, 0, sizeof p);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)n);
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 12, &peer_ip, 4);
	memcpy(p + 16, &stack_ip, 4);
	put16(p + 10, fold(sum16(p, 20, 0)));
	uint8_t *t = p + 20;
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)(hl / 4) << 4;
	t[13] = s->flags;
	put16(t + 14, s->win ? s->win : 65535);
	memcpy(t + 20, s->opts, s->optlen);
	memcpy(t + hl, s->data, s->datalen);
	put16(t + 16, tcp_sum(t, hl + s->datalen, peer_ip, stack_ip));
	CHECK(pd.netdev_send(pd.userdata, p, n) == 0, "netdev_send: %s", strerror(errno));
}

// parse decodes an emitted packet into s, checking it is a valid TCP
// segment from the stack to the peer.
static void parse(const uint8_t *p, size_t n, long long t, struct seg *s)
{
	CHECK(n >= 40 && p[0] == 0x45 && get16(p + 2) == n && p[9] == 6, "emitted a packet that is not TCP over IPv4 (%zu bytes)", n);
	CHECK(fold(sum16(p, 20, 0)) == 0, "bad IPv4 checksum");
	CHECK(memcmp(p + 12, &stack_ip, 4) == 0 && memcmp(p + 16, &peer_ip, 4) == 0, "wrong addresses");
	const uint8_t *h = p + 20;
	int hl = (h[12] >> 4) * 4;
	CHECK(hl >= 20 && 20 + hl <= (int)n, "bad data offset");
	CHECK(tcp_sum(h, n - 20, stack_ip, peer_ip) == 0, "bad TCP checksum");
	memset(s, 0, sizeof *s);
	s->sport = get16(h);
	s->dport = get16(h + 2);
	s->seq = get32(h + 4);
	s->ack = get32(h + 8);
	s->flags = h[13];
	s->win = get16(h + 14);
	s->optlen = hl - 20;
	memcpy(s->opts, h + 20, s->optlen);
	s->datalen = (int)n - 20 - hl;
	memcpy(s->data, h + hl, s->datalen);
	s->t = t;
}

// next returns the next segment the stack emits, through packetdrill's
// netdev_receive (on the test clock it moves time to the stack's next
// timer until something is sent, up to rxtimeout).
static void next(struct seg *s)
{
	uint8_t buf[4096];
	size_t n = sizeof buf;
	long long t = 0;
	CHECK(pd.netdev_receive(pd.userdata, buf, &n, &t) == 0, "netdev_receive: %s", strerror(errno));
	CHECK(n > 0, "the stack sent nothing");
	parse(buf, n, t, s);
}

// nothing checks that the stack sends nothing within rxtimeout.
static void nothing(void)
{
	uint8_t buf[4096];
	size_t n = sizeof buf;
	long long t = 0;
	CHECK(pd.netdev_receive(pd.userdata, buf, &n, &t) == 0, "netdev_receive: %s", strerror(errno));
	CHECK(n == 0, "unexpected packet of %zu bytes, flags %#x", n, n >= 34 ? buf[33] : 0);
}

// poll_packet waits (real time, bounded) for a packet without moving the
// test clock: ns_receive with a zero timeout.
static void poll_packet(struct seg *s)
{
	uint8_t buf[4096];
	for (int i = 0; i < 5000; i++) {
		size_t n = sizeof buf;
		long long t = 0;
		CHECK(receive_fn(buf, &n, &t, 0) == 0, "ns_receive: %s", strerror(errno));
		if (n > 0) {
			parse(buf, n, t, s);
			return;
		}
		usleep(1000);
	}
	CHECK(0, "no packet in 5 s");
}

static void want(const struct seg *s, int flags, uint32_t seq, uint32_t ack)
{
	CHECK(s->flags == flags && s->seq == seq && (!(flags & ACK) || s->ack == ack),
	      "got flags %#x seq %u ack %u, want flags %#x seq %u ack %u", s->flags, s->seq, s->ack, flags, seq, ack);
}

static long long now_us(void)
{
	struct timeval tv;
	CHECK(pd.gettimeofday(pd.userdata, &tv, NULL) == 0, "gettimeofday");
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

// Peer options: SYN (Linux layout: MSS 1460, SACK-permitted, TS, NOP,
// window scale 7) and timestamps alone.
static void syn_opts(struct seg *s, uint32_t tsval, uint32_t tsecr)
{
	uint8_t o[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
	put32(o + 8, tsval);
	put32(o + 12, tsecr);
	memcpy(s->opts, o, 20);
	s->optlen = 20;
}

static void ts_opts(struct seg *s, uint32_t tsval, uint32_t tsecr)
{
	uint8_t o[12] = {1, 1, 8, 10};
	put32(o + 4, tsval);
	put32(o + 8, tsecr);
	memcpy(s->opts, o, 12);
	s->optlen = 12;
}

static struct seg mk(uint16_t sport, uint16_t dport, int flags, uint32_t seq, uint32_t ack)
{
	struct seg s;
	memset(&s, 0, sizeof s);
	s.sport = sport;
	s.dport = dport;
	s.flags = (uint8_t)flags;
	s.seq = seq;
	s.ack = ack;
	return s;
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = ip;
	return a;
}

static void start(const char *flags)
{
	init_fn(flags, &pd);
	CHECK(pd.socket != NULL && pd.netdev_receive != NULL && pd.splice != NULL, "table not filled");
}

static int listener(uint16_t port)
{
	int fd = pd.socket(pd.userdata, AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0, "socket: %s", strerror(errno));
	int one = 1;
	CHECK(pd.setsockopt(pd.userdata, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "setsockopt");
	struct sockaddr_in a = sin_of(INADDR_ANY, port);
	CHECK(pd.bind(pd.userdata, fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
	CHECK(pd.listen(pd.userdata, fd, 16) == 0, "listen: %s", strerror(errno));
	return fd;
}

// passive: passive open, data both ways, the peer closes first.
static void passive(void)
{
	phase = "passive open (linux)";
	int lfd = listener(8080);
	CHECK(pd.fcntl(pd.userdata, lfd, F_SETFL, O_NONBLOCK) == 0, "fcntl: %s", strerror(errno));
	CHECK((pd.fcntl(pd.userdata, lfd, F_GETFL) & O_NONBLOCK) != 0, "F_GETFL lacks O_NONBLOCK");
	errno = 0;
	CHECK(pd.accept(pd.userdata, lfd, NULL, NULL) == -1 && errno == EAGAIN, "accept with nothing queued: errno %d", errno);

	long long t0 = now_us();
	struct seg s = mk(40000, 8080, SYN, 1000, 0), r;
	syn_opts(&s, 100, 0);
	inject(&s);
	next(&r);
	want(&r, SYN | ACK, r.seq, 1001);
	uint32_t iss = r.seq;
	CHECK(r.t == t0, "SYN-ACK at %+lld us, want at once", r.t - t0);
	CHECK(r.win == 64240, "SYN-ACK window %u, want 64240", r.win);
	const uint8_t lin[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10};
	CHECK(r.optlen == 20 && memcmp(r.opts, lin, 8) == 0 && get32(r.opts + 12) == 100 &&
		      memcmp(r.opts + 16, "\x01\x03\x03\x07", 4) == 0,
	      "SYN-ACK options are not mss,sackOK,TS,nop,wscale 7");
	uint32_t tsval = get32(r.opts + 8);

	s = mk(40000, 8080, ACK, 1001, iss + 1);
	ts_opts(&s, 101, tsval);
	inject(&s);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	int fd = pd.accept(pd.userdata, lfd, (struct sockaddr *)&from, &fl);
	CHECK(fd >= 0, "accept: %s", strerror(errno));
	CHECK(fl == sizeof from && from.sin_family == AF_INET && ntohs(from.sin_port) == 40000 && from.sin_addr.s_addr == peer_ip,
	      "accept returned the wrong peer");
	CHECK(fcntl(fd, F_GETFD) >= 0, "the socket is not a real descriptor");

	// Data from the peer: acknowledged after Linux's 40 ms delayed ACK.
	long long t1 = now_us();
	s = mk(40000, 8080, ACK | PSH, 1001, iss + 1);
	ts_opts(&s, 102, tsval);
	memcpy(s.data, "hello", 5);
	s.datalen = 5;
	inject(&s);
	next(&r);
	want(&r, ACK, iss + 1, 1006);
	CHECK(r.t - t1 == 40000, "delayed ACK after %lld us, want 40000", r.t - t1);
	char buf[64];
	CHECK(pd.read(pd.userdata, fd, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0, "read");

	// Data to the peer.
	CHECK(pd.write(pd.userdata, fd, "world", 5) == 5, "write: %s", strerror(errno));
	next(&r);
	want(&r, ACK | PSH, iss + 1, 1006);
	CHECK(r.datalen == 5 && memcmp(r.data, "world", 5) == 0, "sent the wrong data");
	s = mk(40000, 8080, ACK, 1006, iss + 6);
	ts_opts(&s, 103, tsval);
	inject(&s);

	// FIN from the peer first: ACKed at once; read returns 0.
	s = mk(40000, 8080, FIN | ACK, 1006, iss + 6);
	ts_opts(&s, 104, tsval);
	inject(&s);
	next(&r);
	want(&r, ACK, iss + 6, 1007);
	CHECK(pd.read(pd.userdata, fd, buf, sizeof buf) == 0, "read at end of stream");
	CHECK(pd.close(pd.userdata, fd) == 0, "close");
	next(&r);
	want(&r, FIN | ACK, iss + 6, 1007);
	s = mk(40000, 8080, ACK, 1007, iss + 7);
	ts_opts(&s, 105, tsval);
	inject(&s);
	nothing();
	errno = 0;
	CHECK(pd.close(pd.userdata, fd) == -1 && errno == EBADF, "close twice: errno %d", errno);
	CHECK(pd.close(pd.userdata, lfd) == 0, "close the listener");
}

struct connect_arg {
	int fd;
	uint16_t port;
	int ret, err;
	pid_t tid;
};

static void *connect_thread(void *p)
{
	struct connect_arg *a = p;
	a->tid = (pid_t)syscall(SYS_gettid);
	struct sockaddr_in to = sin_of(peer_ip, a->port);
	a->ret = pd.connect(pd.userdata, a->fd, (struct sockaddr *)&to, sizeof to);
	a->err = errno;
	return NULL;
}

// thread_state reads a thread's state letter from /proc.
static char thread_state(pid_t tid)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return '?';
	size_t n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = 0;
	char *rp = strrchr(line, ')');
	return rp && rp[1] == ' ' ? rp[2] : '?';
}

// active: a blocking active open whose SYN goes unanswered for one RTO;
// then data both ways, and we close first.
static void active_blocking(void)
{
	phase = "blocking active open";
	struct connect_arg a = {.port = 80};
	a.fd = pd.socket(pd.userdata, AF_INET, SOCK_STREAM, 0);
	CHECK(a.fd >= 0, "socket");
	long long t0 = now_us();
	pthread_t th;
	CHECK(pthread_create(&th, NULL, connect_thread, &a) == 0, "pthread_create");
	struct seg syn, r, s;
	poll_packet(&syn);
	want(&syn, SYN, syn.seq, 0);
	CHECK(syn.t == t0, "SYN at %+lld us", syn.t - t0);
	CHECK(syn.dport == 80 && syn.win == 64240, "SYN to port %u window %u", syn.dport, syn.win);
	const uint8_t lin[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10};
	CHECK(syn.optlen == 20 && memcmp(syn.opts, lin, 8) == 0 && get32(syn.opts + 12) == 0 &&
		      memcmp(syn.opts + 16, "\x01\x03\x03\x07", 4) == 0,
	      "SYN options are not mss,sackOK,TS,nop,wscale 7");
	// packetdrill decides a call blocked from the thread's state: it
	// must sleep ('S'), never spin, while it waits.
	int sleeping = 0;
	for (int i = 0; i < 5000 && sleeping < 50; i++) {
		sleeping = thread_state(a.tid) == 'S' ? sleeping + 1 : 0;
		usleep(200);
	}
	CHECK(sleeping >= 50, "the connecting thread does not sleep (state %c)", thread_state(a.tid));

	// Unanswered: the SYN again one initial RTO (1 s) later.
	next(&r);
	want(&r, SYN, syn.seq, 0);
	CHECK(r.t - syn.t == 1000000, "SYN retransmitted after %lld us, want 1000000", r.t - syn.t);
	uint32_t iss = syn.seq;
	uint16_t sport = syn.sport;
	s = mk(80, sport, SYN | ACK, 5000, iss + 1);
	syn_opts(&s, 7, get32(syn.opts + 8));
	inject(&s);
	next(&r);
	want(&r, ACK, iss + 1, 5001);
	CHECK(pthread_join(th, NULL) == 0, "join");
	CHECK(a.ret == 0, "connect: %s", strerror(a.err));

	CHECK(pd.write(pd.userdata, a.fd, "GET /", 5) == 5, "write");
	next(&r);
	want(&r, ACK | PSH, iss + 1, 5001);
	s = mk(80, sport, ACK | PSH, 5001, iss + 6);
	ts_opts(&s, 8, 0);
	memcpy(s.data, "200 OK", 6);
	s.datalen = 6;
	inject(&s);
	char buf[16];
	CHECK(pd.recv(pd.userdata, a.fd, buf, sizeof buf, 0) == 6 && memcmp(buf, "200 OK", 6) == 0, "recv");

	// We close first: FIN (after the delayed ACK of the data, if it
	// comes first); the peer ACKs, then sends its FIN, which we ACK.
	CHECK(pd.close(pd.userdata, a.fd) == 0, "close");
	next(&r);
	if (r.flags == ACK)
		next(&r);
	want(&r, FIN | ACK, iss + 6, 5007);
	s = mk(80, sport, ACK, 5007, iss + 7);
	ts_opts(&s, 9, 0);
	inject(&s);
	s = mk(80, sport, FIN | ACK, 5007, iss + 7);
	ts_opts(&s, 10, 0);
	inject(&s);
	next(&r);
	want(&r, ACK, iss + 7, 5008);
	nothing();
}

// nonblocking: EINPROGRESS, poll, SO_ERROR; then a refused one.
static void nonblocking(void)
{
	phase = "non-blocking active open";
	int fd = pd.socket(pd.userdata, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(fd >= 0, "socket");
	struct sockaddr_in to = sin_of(peer_ip, 443);
	errno = 0;
	CHECK(pd.connect(pd.userdata, fd, (struct sockaddr *)&to, sizeof to) == -1 && errno == EINPROGRESS,
	      "connect: errno %d, want EINPROGRESS", errno);
	struct seg syn, r, s;
	poll_packet(&syn);
	want(&syn, SYN, syn.seq, 0);
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	CHECK(pd.poll(pd.userdata, &pfd, 1, 0) == 0, "poll while connecting");
	s = mk(443, syn.sport, SYN | ACK, 9000, syn.seq + 1);
	syn_opts(&s, 1, get32(syn.opts + 8));
	inject(&s);
	next(&r);
	want(&r, ACK, syn.seq + 1, 9001);
	CHECK(pd.poll(pd.userdata, &pfd, 1, 0) == 1 && pfd.revents == POLLOUT, "poll after the handshake: %#x", pfd.revents);
	int err = -1;
	socklen_t el = sizeof err;
	CHECK(pd.getsockopt(pd.userdata, fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0 && el == sizeof err, "SO_ERROR");
	CHECK(pd.close(pd.userdata, fd) == 0, "close");
	next(&r);
	want(&r, FIN | ACK, syn.seq + 1, 9001);
	s = mk(443, syn.sport, FIN | ACK, 9001, syn.seq + 2);
	ts_opts(&s, 2, 0);
	inject(&s);
	next(&r);
	want(&r, ACK, syn.seq + 2, 9002);

	phase = "refused";
	fd = pd.socket(pd.userdata, AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0, "socket");
	int fl = pd.fcntl(pd.userdata, fd, F_GETFL);
	CHECK(pd.fcntl(pd.userdata, fd, F_SETFL, fl | O_NONBLOCK) == 0, "fcntl");
	to = sin_of(peer_ip, 444);
	errno = 0;
	CHECK(pd.connect(pd.userdata, fd, (struct sockaddr *)&to, sizeof to) == -1 && errno == EINPROGRESS, "connect");
	poll_packet(&syn);
	s = mk(444, syn.sport, RST | ACK, 0, syn.seq + 1);
	inject(&s);
	pfd.fd = fd;
	CHECK(pd.poll(pd.userdata, &pfd, 1, 0) == 1 && pfd.revents == (POLLOUT | POLLERR | POLLHUP),
	      "poll after RST: %#x", pfd.revents);
	err = 0;
	el = sizeof err;
	CHECK(pd.getsockopt(pd.userdata, fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == ECONNREFUSED,
	      "SO_ERROR %d, want ECONNREFUSED", err);
	CHECK(pd.close(pd.userdata, fd) == 0, "close");
}

// closed_port: a SYN to a port nobody listens on is reset.
static void closed_port(void)
{
	phase = "RST on a closed port";
	struct seg s = mk(5555, 9, SYN, 77, 0), r;
	syn_opts(&s, 1, 0);
	long long t0 = now_us();
	inject(&s);
	next(&r);
	want(&r, RST | ACK, 0, 78);
	CHECK(r.sport == 9 && r.dport == 5555 && r.t == t0, "RST ports %u->%u at %+lld", r.sport, r.dport, r.t - t0);
}

// retransmit: data not acknowledged is probed, then retransmitted at the
// RTO and again with backoff.
static void retransmit(void)
{
	phase = "retransmission";
	int lfd = listener(7000);
	struct seg s = mk(41000, 7000, SYN, 1000, 0), r, d, x[3];
	syn_opts(&s, 100, 0);
	inject(&s);
	next(&r);
	uint32_t iss = r.seq;
	s = mk(41000, 7000, ACK, 1001, iss + 1);
	ts_opts(&s, 101, get32(r.opts + 8));
	inject(&s);
	int fd = pd.accept(pd.userdata, lfd, NULL, NULL);
	CHECK(fd >= 0, "accept");
	struct iovec iov[2] = {{"lo", 2}, {"st", 2}};
	CHECK(pd.writev(pd.userdata, fd, iov, 2) == 4, "writev");
	next(&d);
	want(&d, ACK | PSH, iss + 1, 1001);
	for (int i = 0; i < 3; i++) {
		next(&x[i]);
		CHECK(x[i].seq == iss + 1 && x[i].datalen == 4 && memcmp(x[i].data, "lost", 4) == 0, "retransmission %d", i + 1);
	}
	CHECK(x[0].t - d.t < 200000, "tail loss probe after %lld us", x[0].t - d.t);
	CHECK(x[1].t - x[0].t == 200000, "RTO retransmission after %lld us, want 200000", x[1].t - x[0].t);
	CHECK(x[2].t - x[1].t == 400000, "backed-off retransmission after %lld us, want 400000", x[2].t - x[1].t);
	s = mk(41000, 7000, ACK, 1001, iss + 5);
	ts_opts(&s, 300, 0);
	inject(&s);
	nothing();
	CHECK(pd.close(pd.userdata, fd) == 0 && pd.close(pd.userdata, lfd) == 0, "close");
}

// freebsd: the freebsd profile's SYN-ACK: mss,nop,wscale 6,sackOK,TS and
// a 65535 window.
static void freebsd(void)
{
	phase = "freebsd profile";
	int lfd = listener(8000);
	struct seg s = mk(40000, 8000, SYN, 1000, 0), r;
	syn_opts(&s, 100, 0);
	inject(&s);
	next(&r);
	want(&r, SYN | ACK, r.seq, 1001);
	const uint8_t bsd[] = {2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10};
	CHECK(r.optlen == 20 && memcmp(r.opts, bsd, sizeof bsd) == 0 && get32(r.opts + 16) == 100,
	      "SYN-ACK options are not mss,nop,wscale 6,sackOK,TS");
	CHECK(r.win == 65535, "SYN-ACK window %u, want 65535", r.win);
	CHECK(pd.close(pd.userdata, lfd) == 0, "close");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pdtest LIBNETSPACE.so\n");
		return 2;
	}
	inet_pton(AF_INET, "192.0.2.2", &stack_ip);
	inet_pton(AF_INET, "192.0.2.1", &peer_ip);
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	init_fn = (void (*)(const char *, struct packetdrill_interface *))dlsym(h, "packetdrill_interface_init");
	receive_fn = (int (*)(void *, size_t *, long long *, int))dlsym(h, "ns_receive");
	CHECK(init_fn != NULL && receive_fn != NULL, "dlsym: %s", dlerror());

	const char *linux_flags = "local=192.0.2.2/24,gateway=192.0.2.1,profile=linux,clock=warp,rxtimeout=10000";
	start(linux_flags);
	passive();
	active_blocking();
	nonblocking();
	closed_port();
	retransmit();

	phase = "unsupported calls";
	errno = 0;
	CHECK(pd.epoll_create(pd.userdata, 1) == -1 && errno == ENOTSUP, "epoll_create: errno %d", errno);
	int fds[2];
	CHECK(pd.pipe(pd.userdata, fds) == -1 && errno == ENOTSUP, "pipe");

	// Each init starts afresh: sockets of the old stack are gone.
	phase = "re-init";
	int old = listener(9000);
	start("local=192.0.2.2/24,gateway=192.0.2.1,profile=freebsd,clock=warp,rxtimeout=10000");
	errno = 0;
	CHECK(pd.listen(pd.userdata, old, 1) == -1 && (errno == EBADF || errno == ENOTSOCK), "old socket survived: errno %d", errno);
	freebsd();

	phase = "bad flags";
	init_fn("profile=windows", &pd);
	errno = 0;
	CHECK(pd.socket(pd.userdata, AF_INET, SOCK_STREAM, 0) == -1 && errno == ENETDOWN, "socket after bad flags: errno %d", errno);
	start(linux_flags);
	CHECK(pd.socket(pd.userdata, AF_INET, SOCK_STREAM, 0) >= 0, "socket after a good init");
	pd.free(pd.userdata);
	printf("pdtest: all checks passed\n");
	return 0;
}
