/* kf-delayproxy - a TCP proxy that adds latency, for benchmarks.
 *
 *   kf-delayproxy --delay-ms D --map FILE [--ready-file FILE]
 *
 * FILE has one "LISTEN_IP:PORT TARGET_IP:PORT" per line ('#' comments):
 * every listener forwards each connection to its target. Every chunk read
 * on one side is written to the other D milliseconds after it arrived, in
 * order: a long link (latency, not bandwidth), as `tc qdisc netem delay`
 * would make it on both directions — this kernel has no netem
 * (../../shared/LAB.md). A connect through the proxy completes at once, so
 * the client's first bytes are held until 3 D after the accept: what the
 * TCP handshake (one round trip, 2 D) plus their own trip would cost.
 *
 * One thread, one epoll loop, any number of listeners (a fleet of 1,000
 * agents and web servers is 2,000). An end of stream is passed on after
 * the data before it (half-close); an error on either side closes both.
 * At most BUF_MAX bytes wait per direction: beyond that the proxy stops
 * reading that side until the queue drains. SIGTERM or SIGINT stops it.
 * Prints counters (connections, bytes) on exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define BUF_MAX (1024 * 1024)
#define CHUNK 16384

struct listener {
    int kind; /* 0: listener, 1: side (first field of both, for epoll) */
    int fd;
    struct sockaddr_in target;
};

struct chunk {
    struct chunk *next;
    int64_t due; /* monotonic ms; len 0 = end of stream */
    size_t len, off;
    unsigned char data[];
};

struct pair;

struct side {
    int kind;
    int fd;
    struct pair *p;
    int idx;          /* 0 client, 1 target */
    bool connected;   /* target: connect finished */
    bool read_eof;    /* no more reads from this side */
    bool write_shut;  /* we shut down writing to this side */
    bool want_out;    /* a write to this side would block */
    uint32_t events;  /* registered with epoll */
};

/* q[i]: bytes read from side i, waiting to be written to side 1 - i */
struct pair {
    struct side s[2];
    struct chunk *head[2], *tail[2];
    size_t queued[2];
    int64_t accepted;
    struct pair *prev, *next;
    bool dead;
};

static int epfd;
static int64_t delay_ms;
static struct pair *pairs;
static volatile sig_atomic_t stop;
static unsigned long long n_conns, n_failed, n_bytes[2];

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_signal(int sig)
{
    stop = sig;
}

static int
parse_addr(const char *s, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    size_t n;

    if (colon == NULL || (n = (size_t)(colon - s)) == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1 || port > 65535)
        return -1;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

/* Register SIDE for what it needs now: reading (unless at EOF or its
 * queue is full) and writing (when a write blocked, or a connect runs). */
static void
update(struct side *sd)
{
    struct pair *p = sd->p;
    uint32_t ev = 0;
    struct epoll_event e;

    if (sd->fd < 0)
        return;
    if (!sd->read_eof && sd->connected && p->queued[sd->idx] < BUF_MAX)
        ev |= EPOLLIN;
    if (sd->want_out || !sd->connected)
        ev |= EPOLLOUT;
    if (ev == sd->events)
        return;
    e.events = ev;
    e.data.ptr = sd;
    epoll_ctl(epfd, EPOLL_CTL_MOD, sd->fd, &e);
    sd->events = ev;
}

static void
pair_close(struct pair *p)
{
    for (int i = 0; i < 2; i++) {
        struct chunk *c = p->head[i];
        while (c != NULL) {
            struct chunk *n = c->next;
            free(c);
            c = n;
        }
        p->head[i] = p->tail[i] = NULL;
        if (p->s[i].fd >= 0)
            close(p->s[i].fd);
        p->s[i].fd = -1;
    }
    p->dead = true;
}

static void
enqueue(struct pair *p, int from, const unsigned char *data, size_t len, int64_t now)
{
    struct chunk *c = malloc(sizeof(*c) + len);
    int64_t due = now + delay_ms;

    if (c == NULL) {
        pair_close(p);
        return;
    }
    /* the client's first bytes also pay for the handshake it skipped */
    if (from == 0 && due < p->accepted + 3 * delay_ms)
        due = p->accepted + 3 * delay_ms;
    /* in order, even when the rule above pushed an earlier chunk later */
    if (p->tail[from] != NULL && due < p->tail[from]->due)
        due = p->tail[from]->due;
    c->next = NULL;
    c->due = due;
    c->len = len;
    c->off = 0;
    if (len > 0)
        memcpy(c->data, data, len);
    if (p->tail[from] != NULL)
        p->tail[from]->next = c;
    else
        p->head[from] = c;
    p->tail[from] = c;
    p->queued[from] += len;
}

static void
side_read(struct side *sd, int64_t now)
{
    unsigned char buf[CHUNK];
    struct pair *p = sd->p;

    for (int k = 0; k < 8 && !p->dead && !sd->read_eof && p->queued[sd->idx] < BUF_MAX; k++) {
        ssize_t n = recv(sd->fd, buf, sizeof(buf), 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0) {
            pair_close(p);
            return;
        }
        if (n == 0) {
            sd->read_eof = true;
            enqueue(p, sd->idx, NULL, 0, now);
            break;
        }
        n_bytes[sd->idx] += (unsigned long long)n;
        enqueue(p, sd->idx, buf, (size_t)n, now);
    }
}

/* Write what is due from queue FROM to the other side. */
static void
flush(struct pair *p, int from, int64_t now)
{
    struct side *to = &p->s[1 - from];

    if (!to->connected)
        return;
    to->want_out = false;
    while (!p->dead && p->head[from] != NULL && p->head[from]->due <= now) {
        struct chunk *c = p->head[from];
        if (c->len == 0) {
            shutdown(to->fd, SHUT_WR);
            to->write_shut = true;
        } else {
            ssize_t n = send(to->fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                to->want_out = true;
                return;
            }
            if (n < 0) {
                pair_close(p);
                return;
            }
            c->off += (size_t)n;
            p->queued[from] -= (size_t)n;
            if (c->off < c->len)
                continue;
        }
        p->head[from] = c->next;
        if (p->head[from] == NULL)
            p->tail[from] = NULL;
        free(c);
    }
}

static void
add_fd(struct side *sd, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = sd};

    epoll_ctl(epfd, EPOLL_CTL_ADD, sd->fd, &e);
    sd->events = ev;
}

static void
accept_one(struct listener *l, int64_t now)
{
    int one = 1;
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int tfd;
    struct pair *p;

    if (fd < 0)
        return;
    tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    p = calloc(1, sizeof(*p));
    if (tfd < 0 || p == NULL) {
        n_failed++;
        close(fd);
        if (tfd >= 0)
            close(tfd);
        free(p);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(tfd, (struct sockaddr *)&l->target, sizeof(l->target)) != 0 &&
        errno != EINPROGRESS) {
        n_failed++;
        close(fd);
        close(tfd);
        free(p);
        return;
    }
    n_conns++;
    p->accepted = now;
    for (int i = 0; i < 2; i++) {
        p->s[i].kind = 1;
        p->s[i].p = p;
        p->s[i].idx = i;
    }
    p->s[0].fd = fd;
    p->s[0].connected = true;
    p->s[1].fd = tfd;
    p->s[1].connected = false;
    add_fd(&p->s[0], EPOLLIN);
    add_fd(&p->s[1], EPOLLOUT);
    p->next = pairs;
    if (pairs != NULL)
        pairs->prev = p;
    pairs = p;
}

static void
unlink_pair(struct pair *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        pairs = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    free(p);
}

/* A pair is finished when both directions ended and were delivered. */
static bool
finished(const struct pair *p)
{
    return p->dead || (p->s[0].read_eof && p->s[1].read_eof && p->head[0] == NULL &&
                       p->head[1] == NULL);
}

static int
load_map(const char *path, struct listener **out, size_t *n_out)
{
    FILE *f = fopen(path, "re");
    char line[256];
    struct listener *ls = NULL;
    size_t n = 0;
    int lineno = 0;

    if (f == NULL) {
        fprintf(stderr, "kf-delayproxy: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *a, *b, *save = NULL;
        struct sockaddr_in la;
        struct listener *bigger;
        int one = 1;

        lineno++;
        line[strcspn(line, "#\n")] = '\0';
        a = strtok_r(line, " \t", &save);
        if (a == NULL)
            continue;
        b = strtok_r(NULL, " \t", &save);
        bigger = realloc(ls, (n + 1) * sizeof(*ls));
        if (bigger == NULL)
            goto bad;
        ls = bigger;
        if (b == NULL || strtok_r(NULL, " \t", &save) != NULL || parse_addr(a, &la) != 0 ||
            parse_addr(b, &ls[n].target) != 0) {
            fprintf(stderr, "kf-delayproxy: %s:%d: want \"LISTEN_IP:PORT TARGET_IP:PORT\"\n",
                    path, lineno);
            goto bad;
        }
        ls[n].kind = 0;
        ls[n].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ls[n].fd < 0 ||
            setsockopt(ls[n].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            bind(ls[n].fd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
            listen(ls[n].fd, 1024) != 0) {
            fprintf(stderr, "kf-delayproxy: cannot listen on %s: %s\n", a, strerror(errno));
            goto bad;
        }
        n++;
    }
    fclose(f);
    *out = ls;
    *n_out = n;
    return n > 0 ? 0 : -1;
bad:
    fclose(f);
    for (size_t i = 0; i < n; i++)
        close(ls[i].fd);
    free(ls);
    return -1;
}

int
main(int argc, char **argv)
{
    const char *map = NULL, *ready = NULL;
    struct listener *ls = NULL;
    size_t n_ls = 0;
    struct sigaction sa;
    struct rlimit rl;

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc) {
            errno = 0;
            delay_ms = strtol(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || delay_ms < 0 || delay_ms > 600000) {
                fprintf(stderr, "kf-delayproxy: --delay-ms wants 0..600000\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--map") == 0 && i + 1 < argc) {
            map = argv[++i];
        } else if (strcmp(argv[i], "--ready-file") == 0 && i + 1 < argc) {
            ready = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: kf-delayproxy --delay-ms D --map FILE [--ready-file FILE]\n"
                    "  FILE: one \"LISTEN_IP:PORT TARGET_IP:PORT\" per line\n");
            return 2;
        }
    }
    if (map == NULL) {
        fprintf(stderr, "kf-delayproxy: --map FILE is required\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0 || load_map(map, &ls, &n_ls) != 0)
        return 1;
    for (size_t i = 0; i < n_ls; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &ls[i]};
        epoll_ctl(epfd, EPOLL_CTL_ADD, ls[i].fd, &e);
    }
    if (ready != NULL) {
        FILE *f = fopen(ready, "we");
        if (f != NULL) {
            fprintf(f, "%ld\n", (long)getpid());
            fclose(f);
        }
    }
    fprintf(stderr, "kf-delayproxy: %zu listeners, %lld ms each way\n", n_ls,
            (long long)delay_ms);

    while (!stop) {
        struct epoll_event ev[256];
        int64_t now = now_ms(), next = now + 1000;
        int n, timeout;

        for (struct pair *p = pairs; p != NULL; p = p->next)
            for (int i = 0; i < 2; i++)
                if (p->head[i] != NULL && !p->s[1 - i].want_out && p->head[i]->due < next)
                    next = p->head[i]->due;
        timeout = next > now ? (int)(next - now) : 0;
        n = epoll_wait(epfd, ev, 256, timeout);
        if (n < 0 && errno != EINTR)
            break;
        now = now_ms();
        for (int k = 0; k < n; k++) {
            int kind = *(int *)ev[k].data.ptr;
            if (kind == 0) {
                for (int j = 0; j < 64; j++)
                    accept_one(ev[k].data.ptr, now);
                continue;
            }
            struct side *sd = ev[k].data.ptr;
            struct pair *p = sd->p;
            if (p->dead)
                continue;
            if (!sd->connected && (ev[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int so = 0;
                socklen_t sl = sizeof(so);
                if (getsockopt(sd->fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0) {
                    n_failed++;
                    pair_close(p);
                    continue;
                }
                sd->connected = true;
            }
            if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                side_read(sd, now);
            if (!p->dead && (ev[k].events & EPOLLOUT))
                sd->want_out = false;
        }
        /* deliver what is due, drop what is finished, re-arm the rest */
        for (struct pair *p = pairs, *nx; p != NULL; p = nx) {
            nx = p->next;
            for (int i = 0; i < 2 && !p->dead; i++)
                flush(p, i, now);
            if (finished(p)) {
                pair_close(p);
                unlink_pair(p);
                continue;
            }
            update(&p->s[0]);
            update(&p->s[1]);
        }
    }
    fprintf(stderr, "kf-delayproxy: %llu connections (%llu failed), %llu bytes up, %llu down\n",
            n_conns, n_failed, n_bytes[0], n_bytes[1]);
    while (pairs != NULL) {
        pair_close(pairs);
        unlink_pair(pairs);
    }
    for (size_t i = 0; i < n_ls; i++)
        close(ls[i].fd);
    free(ls);
    close(epfd);
    return 0;
}
