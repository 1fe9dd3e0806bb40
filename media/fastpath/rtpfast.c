/* The byte-moving half of the RTP relay, for Linux (epoll, recvmmsg).
 *
 * The Python relay core (media/relay.py) decides; this file only repeats, packet by
 * packet, the decision the core has already armed for a leg (its "fast path"): a
 * packet whose SSRC is the armed one, from the latched address, with a plain version-2
 * header, within the size limit and whose byte 1 maps to a payload type, gets its
 * header rewritten exactly as the core would (sequence/timestamp offsets, SSRC, payload
 * type) and is sent from the peer leg's socket to the peer's address. Everything else
 * -- the first packets of a stream, other sources, RTCP, telephone-events, transcoded
 * or recorded streams, malformed input -- is handed back to Python unchanged ("punted"),
 * where the core treats it as it treats any packet. The core keeps this struct in step
 * with its own state (media/fastpath/leg.py), so the two paths cannot disagree.
 *
 * One epoll set holds every relayed socket; the event loop watches that one fd. A
 * wake-up reads each ready socket with recvmmsg (one system call for all its queued
 * datagrams) into the punt buffer's free slots, forwards in place what it can and
 * compacts the rest to the front of the buffer for Python. Single-threaded: it runs
 * inside the event loop's reader callback, holding the GIL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PASS 256        /* byte-1 table entry: relay unchanged (media/relay.py PASS) */
#define BATCH 16        /* datagrams read from one socket per recvmmsg */
#define MAX_EVENTS 512  /* ready sockets taken from epoll at a time */
#define MAX_ROUNDS 16   /* epoll_wait calls per fp_poll: a bound on one call's work */

/* Field order matters: media/fastpath/leg.py declares the same struct for ctypes. */
typedef struct fp_leg {
    double last_seen;           /* when the fast path last accepted a packet */
    uint64_t packets, octets;   /* relayed (sent) to the peer */
    uint64_t send_errors, send_error_octets;
    int32_t fd, out_fd;         /* this leg's socket; the peer leg's RTP socket */
    int32_t ident;              /* Python's key for this socket, reported with punts */
    int32_t armed;              /* 0: punt every packet */
    uint32_t fast_ssrc;         /* bytes 8-11 as they lie in memory */
    uint32_t max_bytes;
    uint32_t seq_off, ts_off, out_ssrc;
    uint32_t latched_ip, fwd_ip;       /* network byte order */
    uint16_t latched_port, fwd_port;   /* network byte order */
    uint8_t latched_ok, fwd_ok, has_last, spare;
    uint8_t last_hdr[12];       /* header of the last packet relayed */
    int16_t b1map[256];         /* media/relay.py byte1_table: PASS, a byte, or < 0 */
} fp_leg;

int fp_struct_size(void) { return (int)sizeof(fp_leg); }

int fp_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int fp_add(int epfd, fp_leg *leg) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = leg;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, leg->fd, &ev) ? -errno : 0;
}

int fp_remove(int epfd, int fd) {
    struct epoll_event ev;  /* ignored, but kernels before 2.6.9 wanted it */
    memset(&ev, 0, sizeof ev);
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) ? -errno : 0;
}

/* Relay `p` if the leg's armed decision covers it; 0: punt it to Python. */
static int forward(fp_leg *leg, uint8_t *p, uint32_t len, const struct sockaddr_in *src,
                   double now) {
    uint32_t ssrc;
    if (!leg->armed || len < 12 || len > leg->max_bytes || p[0] != 0x80)
        return 0;
    memcpy(&ssrc, p + 8, 4);
    if (ssrc != leg->fast_ssrc || !leg->latched_ok || !leg->fwd_ok
        || src->sin_family != AF_INET || src->sin_addr.s_addr != leg->latched_ip
        || src->sin_port != leg->latched_port)
        return 0;
    int b1 = leg->b1map[p[1]];
    if (b1 < 0)  /* RTCP type, a watched telephone-event, a transcoded stream */
        return 0;
    if (b1 != PASS) {
        uint32_t seq = (((uint32_t)p[2] << 8) | p[3]) + leg->seq_off;
        uint32_t ts = (((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16)
                       | ((uint32_t)p[6] << 8) | p[7]) + leg->ts_off;
        uint32_t out = leg->out_ssrc;
        p[1] = (uint8_t)b1;
        p[2] = (uint8_t)(seq >> 8); p[3] = (uint8_t)seq;
        p[4] = (uint8_t)(ts >> 24); p[5] = (uint8_t)(ts >> 16);
        p[6] = (uint8_t)(ts >> 8); p[7] = (uint8_t)ts;
        p[8] = (uint8_t)(out >> 24); p[9] = (uint8_t)(out >> 16);
        p[10] = (uint8_t)(out >> 8); p[11] = (uint8_t)out;
    }
    struct sockaddr_in dst;
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    dst.sin_port = leg->fwd_port;
    dst.sin_addr.s_addr = leg->fwd_ip;
    leg->last_seen = now;
    memcpy(leg->last_hdr, p, 12);
    leg->has_last = 1;
    if (sendto(leg->out_fd, p, len, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof dst) < 0) {
        leg->send_errors++;  /* send buffer full, or an ICMP error pending */
        leg->send_error_octets += len;
    } else {
        leg->packets++;
        leg->octets += len;
    }
    return 1;
}

/* Serve every ready socket once. Punted datagrams end up in `buf` (slot i at i*stride,
 * datagrams longer than stride truncated to it) with meta[4i..4i+3] = ident, source
 * IPv4 address (network order), source port, real length; *datagrams = how many were read.
 * Returns the number punted (at most max_punts; sockets left unread stay ready for the
 * next call), or -errno. */
int fp_poll(int epfd, double now, uint8_t *buf, uint32_t stride, int32_t *meta,
            int32_t max_punts, uint32_t *datagrams) {
    struct epoll_event events[MAX_EVENTS];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in src[BATCH];
    int32_t punts = 0;
    *datagrams = 0;
    for (int round = 0; round < MAX_ROUNDS; round++) {
    int ready = epoll_wait(epfd, events, MAX_EVENTS, 0);
    if (ready < 0)
        return errno == EINTR ? punts : -errno;
    for (int e = 0; e < ready; e++) {
        fp_leg *leg = events[e].data.ptr;
        for (;;) {
            int32_t room = max_punts - punts;
            if (room <= 0)
                return punts;
            int want = room < BATCH ? room : BATCH;
            for (int j = 0; j < want; j++) {
                iov[j].iov_base = buf + (size_t)(punts + j) * stride;
                iov[j].iov_len = stride;
                memset(&msgs[j].msg_hdr, 0, sizeof msgs[j].msg_hdr);
                msgs[j].msg_hdr.msg_name = &src[j];
                msgs[j].msg_hdr.msg_namelen = sizeof src[j];
                msgs[j].msg_hdr.msg_iov = &iov[j];
                msgs[j].msg_hdr.msg_iovlen = 1;
            }
            /* MSG_TRUNC: msg_len is the datagram's real length, even when longer */
            int got = recvmmsg(leg->fd, msgs, (unsigned)want, MSG_DONTWAIT | MSG_TRUNC, NULL);
            if (got <= 0)
                break;  /* drained, or an ICMP error reported once: next socket */
            *datagrams += (uint32_t)got;
            for (int j = 0; j < got; j++) {
                uint8_t *p = iov[j].iov_base;
                uint32_t len = msgs[j].msg_len;
                if (len <= stride && forward(leg, p, len, &src[j], now))
                    continue;
                uint8_t *slot = buf + (size_t)punts * stride;
                if (slot != p)
                    memmove(slot, p, len < stride ? len : stride);
                int32_t *m = meta + 4 * punts;
                m[0] = leg->ident;
                m[1] = src[j].sin_family == AF_INET ? (int32_t)src[j].sin_addr.s_addr : 0;
                m[2] = src[j].sin_family == AF_INET ? ntohs(src[j].sin_port) : 0;
                m[3] = (int32_t)len;
                punts++;
            }
            if (got < want)
                break;
        }
    }
    if (ready < MAX_EVENTS)
        break;  /* every ready socket served */
    }
    return punts;
}

int fp_close(int epfd) { return close(epfd); }
