/*
 * rtpgen: RTP load generator for bench/rtp_relay.py (compiled there with gcc).
 *
 * Plays N calls' phones A and B from two UDP sockets on 127.0.0.1 (one for all A
 * phones, one for all B phones; the relay latches each leg to them), G.711-sized:
 * 172-byte RTP packets (12-byte header + 160-byte payload) every 20 ms in each
 * direction, the calls' send times spread evenly over the 20 ms. Sends are batched
 * with sendmmsg, receives with recvmmsg, waits with ppoll (at most 1 ms, woken by
 * arrivals): one core drives well over 200,000 packets/s each way, so the generator
 * is not what limits the bench. (Busy-polling instead was tried: it gives the same
 * relay CPU figures, and on a shared machine it pushes other people's work onto the
 * relay's core.)
 *
 * Each payload carries the call index, the direction and the CLOCK_MONOTONIC send
 * time in ns, so the receiver checks that each packet came back on the right
 * socket, from the right relay port, with its stream's SSRC, and measures latency.
 *
 *   rtpgen relay|direct CALLS SECONDS PORTFILE A_PORT B_PORT [PAYLOADS_A PT_A PAYLOADS_B PT_B]
 *
 * With payload files (bench/transcode.py: what phones A and B send, e.g. G.729 and
 * A-law frames of a real signal; each file holds equal-sized 20 ms payloads, the size
 * given as FILE:SIZE), packets carry those payloads and payload types, cycling through
 * the file, so a transcoding relay does real codec work. The relay rewrites the
 * payload, so the send time cannot travel in it: it is kept per (call, direction,
 * sequence number) and looked up when the packet comes back (the relay keeps SSRC and
 * numbering). Each received packet must carry the other phone's payload type and size.
 *
 * relay:  phone A of call i sends to 127.0.0.1:a_rtp[i], phone B to b_rtp[i]
 *         (PORTFILE: one "a_rtp b_rtp" line per call); a packet from A must arrive
 *         at B's socket from b_rtp[i] and vice versa.
 * direct: A's packets go straight to B's socket and back (the loopback baseline).
 *
 * Prints one JSON object on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 20000000ULL
#define PAYLOAD 160
#define PACKET (12 + PAYLOAD)
#define SEQ_RING 256 /* send times kept per stream, by sequence number */
#define LATE_US 20000 /* a frame later than its 20 ms slot is late */
#define BATCH 64
#define HIST_US 200000 /* latency histogram: 1 us buckets up to 200 ms */
#define DRAIN_NS 500000000ULL
#define WARMUP_NS 200000000ULL

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int open_socket(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) { perror("socket"); exit(2); }
    int size = 32 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); exit(2); }
    return fd;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

static uint32_t ssrc_of(uint32_t call, int dir) { return 0x10000000u + 2u * call + (uint32_t)dir; }

/* Payload mode: what each direction sends (dir 0: phone A, dir 1: phone B). */
struct payloads {
    unsigned char *data;
    size_t size, frames;
    int pt;
};
static struct payloads media[2];
static int payload_mode = 0;
static uint64_t *sent_ring; /* [(call * 2 + dir) * SEQ_RING + seq % SEQ_RING] */

static void load_payloads(struct payloads *m, const char *spec, const char *pt) {
    char path[1024];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof path) { fprintf(stderr, "FILE:SIZE\n"); exit(2); }
    memcpy(path, spec, (size_t)(colon - spec));
    path[colon - spec] = 0;
    m->size = (size_t)atoi(colon + 1);
    m->pt = atoi(pt);
    FILE *f = fopen(path, "rb");
    if (!f || m->size == 0 || m->size > PAYLOAD) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    m->frames = (size_t)bytes / m->size;
    m->data = malloc((size_t)bytes);
    if (m->frames == 0 || fread(m->data, 1, (size_t)bytes, f) != (size_t)bytes) {
        fprintf(stderr, "%s: no whole payload\n", path);
        exit(2);
    }
    fclose(f);
}

/* Send state: one outgoing batch per socket. */
struct out {
    int fd;
    unsigned n;
    unsigned char buf[BATCH][PACKET];
    struct iovec iov[BATCH];
    struct mmsghdr msg[BATCH];
    struct sockaddr_in dest[BATCH];
};

struct stats {
    uint64_t sent, send_fail, received[2], misrouted, bad, ssrc_bad;
    uint64_t lag_max_ns, latency_max_us, late, wrong_payload;
    uint32_t *hist;
};

static void flush(struct out *o, struct stats *st) {
    unsigned done = 0;
    while (done < o->n) {
        int r = sendmmsg(o->fd, o->msg + done, o->n - done, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            st->send_fail += o->n - done; /* EAGAIN: our own send buffer is full */
            break;
        }
        st->sent += (uint64_t)r;
        done += (unsigned)r;
    }
    o->n = 0;
}

static void add(struct out *o, struct stats *st, uint32_t call, int dir, uint16_t seq,
                uint32_t ts, struct sockaddr_in dest) {
    if (o->n == BATCH) flush(o, st);
    unsigned char *p = o->buf[o->n];
    uint16_t nseq = htons(seq);
    uint32_t nts = htonl(ts), nssrc = htonl(ssrc_of(call, dir));
    p[0] = 0x80;
    p[1] = 0; /* PCMU */
    memcpy(p + 2, &nseq, 2);
    memcpy(p + 4, &nts, 4);
    memcpy(p + 8, &nssrc, 4);
    uint64_t sent_at = now_ns();
    if (payload_mode) {
        struct payloads *m = &media[dir];
        p[1] = (unsigned char)m->pt;
        memcpy(p + 12, m->data + (ts / 160 % m->frames) * m->size, m->size);
        o->iov[o->n].iov_len = 12 + m->size;
        sent_ring[((uint64_t)call * 2 + (uint64_t)dir) * SEQ_RING + seq % SEQ_RING] = sent_at;
    } else {
        memcpy(p + 12, &call, 4);
        p[16] = (unsigned char)dir;
        memcpy(p + 20, &sent_at, 8);
    }
    o->dest[o->n] = dest;
    o->n++;
}

struct in {
    int fd;
    int dir; /* the direction of the packets this socket should receive */
    unsigned char buf[BATCH][2048];
    struct iovec iov[BATCH];
    struct mmsghdr msg[BATCH];
    struct sockaddr_in from[BATCH];
};

static int receive(struct in *in, struct stats *st, uint32_t calls, const int *src_port,
                   int direct_port) {
    int total = 0;
    for (int rounds = 0; rounds < 64; rounds++) {
        for (int j = 0; j < BATCH; j++) {
            in->msg[j].msg_hdr.msg_namelen = sizeof in->from[j];
        }
        int r = recvmmsg(in->fd, in->msg, BATCH, MSG_DONTWAIT, NULL);
        if (r <= 0) break;
        uint64_t now = now_ns();
        for (int j = 0; j < r; j++) {
            unsigned char *p = in->buf[j];
            uint32_t call, ssrc;
            uint64_t sent_at;
            int dir;
            memcpy(&ssrc, p + 8, 4);
            if (payload_mode) {
                if (in->msg[j].msg_len < 12 || (p[0] & 0xC0) != 0x80) { st->bad++; continue; }
                uint32_t host = ntohl(ssrc) - 0x10000000u;
                call = host / 2;
                dir = (int)(host & 1);
                if (call >= calls) { st->bad++; continue; }
                struct payloads *want = &media[1 - dir]; /* arrives as the receiver's codec */
                if ((p[1] & 0x7F) != want->pt || in->msg[j].msg_len != 12 + want->size)
                    st->wrong_payload++;
                uint16_t nseq;
                memcpy(&nseq, p + 2, 2);
                sent_at = sent_ring[((uint64_t)call * 2 + (uint64_t)dir) * SEQ_RING
                                    + ntohs(nseq) % SEQ_RING];
            } else {
                if (in->msg[j].msg_len < 28 || p[0] != 0x80) { st->bad++; continue; }
                memcpy(&call, p + 12, 4);
                memcpy(&sent_at, p + 20, 8);
                dir = p[16];
            }
            if (call >= calls || dir != in->dir) { st->bad++; continue; }
            int port = ntohs(in->from[j].sin_port);
            int want = src_port ? src_port[call] : direct_port;
            if (port != want) st->misrouted++;
            if (ntohl(ssrc) != ssrc_of(call, dir)) st->ssrc_bad++;
            st->received[dir]++;
            uint64_t us = now > sent_at ? (now - sent_at) / 1000 : 0;
            if (us > st->latency_max_us) st->latency_max_us = us;
            if (us > LATE_US) st->late++;
            st->hist[us < HIST_US ? us : HIST_US - 1]++;
        }
        total += r;
        if (r < BATCH) break;
    }
    return total;
}

static double percentile_us(const uint32_t *hist, uint64_t count, double pct) {
    if (count == 0) return -1;
    uint64_t want = (uint64_t)((double)count * pct / 100.0), seen = 0;
    for (int i = 0; i < HIST_US; i++) {
        seen += hist[i];
        if (seen > want) return i;
    }
    return HIST_US;
}

int main(int argc, char **argv) {
    if (argc != 7 && argc != 11) {
        fprintf(stderr, "usage: %s relay|direct CALLS SECONDS PORTFILE A_PORT B_PORT "
                        "[PAYLOADS_A:SIZE PT_A PAYLOADS_B:SIZE PT_B]\n", argv[0]);
        return 2;
    }
    int direct = strcmp(argv[1], "direct") == 0;
    uint32_t calls = (uint32_t)atoi(argv[2]);
    double seconds = atof(argv[3]);
    int a_port = atoi(argv[5]), b_port = atoi(argv[6]);
    if (calls == 0 || calls > 100000 || seconds <= 0 || seconds > 3600) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (argc == 11) {
        payload_mode = 1;
        load_payloads(&media[0], argv[7], argv[8]);
        load_payloads(&media[1], argv[9], argv[10]);
        sent_ring = calloc((size_t)calls * 2 * SEQ_RING, sizeof(uint64_t));
    }
    int *relay_a = calloc(calls, sizeof(int)), *relay_b = calloc(calls, sizeof(int));
    uint16_t *seq = calloc(calls, sizeof(uint16_t));
    if (!direct) {
        FILE *f = fopen(argv[4], "r");
        if (!f) { perror(argv[4]); return 2; }
        for (uint32_t i = 0; i < calls; i++) {
            if (fscanf(f, "%d %d", &relay_a[i], &relay_b[i]) != 2) {
                fprintf(stderr, "port file: %u lines expected\n", calls);
                return 2;
            }
        }
        fclose(f);
    }
    struct stats st = {0};
    st.hist = calloc(HIST_US, sizeof(uint32_t));
    static struct out out_a, out_b;
    static struct in in_a, in_b;
    out_a.fd = in_a.fd = open_socket(a_port);
    out_b.fd = in_b.fd = open_socket(b_port);
    in_a.dir = 1; /* phone A receives B's packets */
    in_b.dir = 0;
    struct out *outs[2] = {&out_a, &out_b};
    for (int s = 0; s < 2; s++) {
        for (int j = 0; j < BATCH; j++) {
            struct out *o = outs[s];
            o->iov[j] = (struct iovec){o->buf[j], PACKET};
            o->msg[j].msg_hdr = (struct msghdr){.msg_name = &o->dest[j],
                                                .msg_namelen = sizeof o->dest[j],
                                                .msg_iov = &o->iov[j], .msg_iovlen = 1};
        }
    }
    struct in *ins[2] = {&in_a, &in_b};
    for (int s = 0; s < 2; s++) {
        for (int j = 0; j < BATCH; j++) {
            struct in *i = ins[s];
            i->iov[j] = (struct iovec){i->buf[j], sizeof i->buf[j]};
            i->msg[j].msg_hdr = (struct msghdr){.msg_name = &i->from[j],
                                                .msg_namelen = sizeof i->from[j],
                                                .msg_iov = &i->iov[j], .msg_iovlen = 1};
        }
    }
    struct sockaddr_in to_a = loopback(a_port), to_b = loopback(b_port);
    uint64_t start = now_ns() + WARMUP_NS;
    uint64_t end = start + (uint64_t)(seconds * 1e9);
    uint64_t k = 0; /* period */
    uint32_t idx = 0; /* next call due in this period */
    uint64_t lag_count = 0, lag_over_1ms = 0;
    struct pollfd fds[2] = {{in_a.fd, POLLIN, 0}, {in_b.fd, POLLIN, 0}};
    for (;;) {
        uint64_t now = now_ns();
        uint64_t due = start + k * PERIOD_NS + (uint64_t)idx * PERIOD_NS / calls;
        if (due >= end) break;
        int budget = BATCH;
        while (due <= now && due < end && budget-- > 0) {
            uint64_t lag = now - due;
            if (lag > st.lag_max_ns) st.lag_max_ns = lag;
            if (lag > 1000000) lag_over_1ms++;
            lag_count++;
            uint32_t ts = (uint32_t)(k * 160);
            add(&out_a, &st, idx, 0, seq[idx], ts, direct ? to_b : loopback(relay_a[idx]));
            add(&out_b, &st, idx, 1, seq[idx], ts, direct ? to_a : loopback(relay_b[idx]));
            seq[idx]++;
            if (++idx == calls) { idx = 0; k++; }
            due = start + k * PERIOD_NS + (uint64_t)idx * PERIOD_NS / calls;
        }
        flush(&out_a, &st);
        flush(&out_b, &st);
        int got = receive(&in_a, &st, calls, direct ? NULL : relay_a, b_port);
        got += receive(&in_b, &st, calls, direct ? NULL : relay_b, a_port);
        now = now_ns();
        if (got == 0 && due > now) {
            uint64_t wait = due - now;
            if (wait > 1000000) wait = 1000000;
            struct timespec ts = {0, (long)wait};
            ppoll(fds, 2, &ts, NULL);
        }
    }
    uint64_t sending_done = now_ns();
    uint64_t drain_end = sending_done + DRAIN_NS;
    while (now_ns() < drain_end && st.received[0] + st.received[1] < st.sent) {
        receive(&in_a, &st, calls, direct ? NULL : relay_a, b_port);
        receive(&in_b, &st, calls, direct ? NULL : relay_b, a_port);
        struct timespec ts = {0, 1000000};
        ppoll(fds, 2, &ts, NULL);
    }
    uint64_t received = st.received[0] + st.received[1];
    double elapsed = (double)(sending_done - start) / 1e9;
    printf("{\"calls\": %u, \"seconds\": %.3f, \"sent\": %llu, \"received\": %llu, "
           "\"received_a_to_b\": %llu, \"received_b_to_a\": %llu, \"send_fail\": %llu, "
           "\"misrouted\": %llu, \"bad\": %llu, \"ssrc_bad\": %llu, "
           "\"p50_us\": %.0f, \"p99_us\": %.0f, \"p999_us\": %.0f, \"max_us\": %.0f, "
           "\"send_lag_max_us\": %.0f, \"sends_late_1ms\": %llu, \"send_slots\": %llu, "
           "\"late_20ms\": %llu, \"wrong_payload\": %llu}\n",
           calls, elapsed, (unsigned long long)st.sent, (unsigned long long)received,
           (unsigned long long)st.received[0], (unsigned long long)st.received[1],
           (unsigned long long)st.send_fail, (unsigned long long)st.misrouted,
           (unsigned long long)st.bad, (unsigned long long)st.ssrc_bad,
           percentile_us(st.hist, received, 50), percentile_us(st.hist, received, 99),
           percentile_us(st.hist, received, 99.9), (double)st.latency_max_us,
           (double)st.lag_max_ns / 1000, (unsigned long long)lag_over_1ms,
           (unsigned long long)lag_count, (unsigned long long)st.late,
           (unsigned long long)st.wrong_payload);
    return 0;
}
