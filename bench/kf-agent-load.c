/* kf-agent-load - one krbfleetd under hostile load, and a legitimate client
 * beside it, for bench/agent_load.sh.
 *
 *   kf-agent-load ADDRESS PORT FQDN [--idle N] [--slow N] [--partial N]
 *                 [--seconds S] [--legit-ms MS] [--pid AGENT_PID] [--no-churn]
 *
 * Attackers (one epoll loop, any number of sockets):
 *   --idle N     connect and never send a byte (a client that went away
 *                without closing, as far as the agent can tell)
 *   --slow N     send a handshake frame header announcing 60,000 bytes,
 *                then one byte a second (slowloris)
 *   --partial N  send the header and 16 bytes of the frame, then nothing
 * Each reconnects at once when the agent closes it (--no-churn: it does not).
 * The legitimate client (a thread, the caller's ticket as krbfleet uses it)
 * connects, authenticates and asks STATUS every MS milliseconds through the
 * client API, and records each attempt's latency and outcome.
 *
 * Every second a line: attackers connected/connecting, closed by the agent,
 * the agent's RSS (/proc/AGENT_PID/status, its peak sampled every 50 ms)
 * and the legitimate requests so far. At the end: "legit N ok M failed K p50 X p90 Y max Z" (ms), the first
 * error, and the agent's RSS before, at most during, and after the attack.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
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

#include "agent_client.h"

enum kind { IDLE, SLOW, PARTIAL };

struct att {
    int fd;
    enum kind kind;
    bool connected;
    int64_t next_byte; /* SLOW: when to send the next byte */
};

static struct sockaddr_in target;
static const char *g_addr, *g_fqdn;
static int g_port, legit_ms = 200;
static volatile bool stop_legit;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double *lat;
static size_t n_lat, n_ok, n_fail, cap_lat;
static char first_error[512];

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
now_msf(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long
rss_kb(long pid)
{
    char path[64], line[256];
    long v = -1;
    FILE *f;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) {
            v = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void *
legit(void *arg)
{
    (void)arg;
    while (!stop_legit) {
        struct kf_agent *a = NULL;
        struct kf_agent_status *st = NULL;
        struct kf_err err = {0};
        double t0 = now_msf(), dt;
        bool ok = kf_agent_connect(g_addr, g_port, g_fqdn, 10, &a, &err) == KF_OK &&
                  kf_agent_status(a, &st, &err) == KF_OK;

        dt = now_msf() - t0;
        kf_agent_status_free(st);
        kf_agent_free(a);
        pthread_mutex_lock(&lock);
        if (ok) {
            n_ok++;
            if (n_lat == cap_lat) {
                size_t c = cap_lat ? cap_lat * 2 : 256;
                double *bigger = realloc(lat, c * sizeof(*lat));
                if (bigger != NULL) {
                    lat = bigger;
                    cap_lat = c;
                }
            }
            if (n_lat < cap_lat)
                lat[n_lat++] = dt;
        } else {
            n_fail++;
            if (first_error[0] == '\0')
                snprintf(first_error, sizeof(first_error), "%s", err.msg);
        }
        pthread_mutex_unlock(&lock);
        if (dt < legit_ms)
            usleep((useconds_t)((legit_ms - dt) * 1000));
    }
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int epfd;
static unsigned long long n_closed_by_agent, n_opened;

static void
att_open(struct att *t)
{
    struct epoll_event e = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = t};

    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    t->connected = false;
    if (t->fd < 0)
        return;
    if (connect(t->fd, (struct sockaddr *)&target, sizeof(target)) != 0 && errno != EINPROGRESS) {
        close(t->fd);
        t->fd = -1;
        return;
    }
    n_opened++;
    epoll_ctl(epfd, EPOLL_CTL_ADD, t->fd, &e);
}

static void
att_close(struct att *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->connected = false;
}

/* The connection is up: send what this kind sends first. */
static void
att_start(struct att *t, int64_t now)
{
    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = t};
    unsigned char frame[20] = {0, 0, 0xea, 0x60}; /* 60,000 bytes follow */

    t->connected = true;
    epoll_ctl(epfd, EPOLL_CTL_MOD, t->fd, &e);
    if (t->kind == SLOW) {
        send(t->fd, frame, 4, MSG_NOSIGNAL);
        t->next_byte = now + 1000;
    } else if (t->kind == PARTIAL) {
        memset(frame + 4, 0x42, 16);
        send(t->fd, frame, sizeof(frame), MSG_NOSIGNAL);
    }
}

static int
parse_num(const char *s, long max, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && end != s && *out >= 0 && *out <= max ? 0 : -1;
}

int
main(int argc, char **argv)
{
    long n_idle = 0, n_slow = 0, n_partial = 0, seconds = 15, pid = 0, v;
    bool churn = true;
    struct att *atts;
    size_t n_att;
    pthread_t th;
    struct rlimit rl;
    long rss_before, rss_max, rss_after;
    int64_t t_start, t_end, next_report, next_rss = 0;

    if (argc < 4) {
        fprintf(stderr, "usage: kf-agent-load ADDRESS PORT FQDN [--idle N] [--slow N] "
                        "[--partial N] [--seconds S] [--legit-ms MS] [--pid PID] [--no-churn]\n");
        return 2;
    }
    g_addr = argv[1];
    g_fqdn = argv[3];
    if (parse_num(argv[2], 65535, &v) != 0)
        return 2;
    g_port = (int)v;
    for (int i = 4; i < argc; i++) {
        long *dst = NULL;
        if (strcmp(argv[i], "--no-churn") == 0) {
            churn = false;
            continue;
        }
        if (strcmp(argv[i], "--idle") == 0)
            dst = &n_idle;
        else if (strcmp(argv[i], "--slow") == 0)
            dst = &n_slow;
        else if (strcmp(argv[i], "--partial") == 0)
            dst = &n_partial;
        else if (strcmp(argv[i], "--seconds") == 0)
            dst = &seconds;
        else if (strcmp(argv[i], "--pid") == 0)
            dst = &pid;
        else if (strcmp(argv[i], "--legit-ms") == 0)
            dst = &v;
        if (dst == NULL || i + 1 >= argc || parse_num(argv[i + 1], 100000000, dst) != 0) {
            fprintf(stderr, "kf-agent-load: bad argument '%s'\n", argv[i]);
            return 2;
        }
        if (dst == &v)
            legit_ms = (int)v;
        i++;
    }
    memset(&target, 0, sizeof(target));
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)g_port);
    if (inet_pton(AF_INET, g_addr, &target.sin_addr) != 1) {
        fprintf(stderr, "kf-agent-load: ADDRESS must be an IPv4 address\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    n_att = (size_t)(n_idle + n_slow + n_partial);
    atts = calloc(n_att ? n_att : 1, sizeof(*atts));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (atts == NULL || epfd < 0)
        return 1;

    rss_before = rss_kb(pid);
    rss_max = rss_before;
    pthread_create(&th, NULL, legit, NULL);
    for (size_t i = 0; i < n_att; i++) {
        atts[i].fd = -1;
        atts[i].kind = (long)i < n_idle ? IDLE : (long)i < n_idle + n_slow ? SLOW : PARTIAL;
        att_open(&atts[i]);
    }
    t_start = now_ms();
    t_end = t_start + seconds * 1000;
    next_report = t_start + 1000;
    while (now_ms() < t_end) {
        struct epoll_event ev[256];
        int64_t now;
        int n = epoll_wait(epfd, ev, 256, 50);

        now = now_ms();
        for (int k = 0; k < n; k++) {
            struct att *t = ev[k].data.ptr;
            if (t->fd < 0)
                continue;
            if (!t->connected && (ev[k].events & EPOLLOUT) &&
                !(ev[k].events & (EPOLLERR | EPOLLHUP))) {
                att_start(t, now);
                continue;
            }
            if (ev[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
                char buf[512];
                ssize_t r = recv(t->fd, buf, sizeof(buf), 0);
                if (r > 0)
                    continue; /* an error message before the close */
                if (r < 0 && errno == EAGAIN)
                    continue;
                if (t->connected)
                    n_closed_by_agent++;
                att_close(t);
                if (churn)
                    att_open(t);
            }
        }
        for (size_t i = 0; i < n_att; i++) { /* a byte a second, and reopen failures */
            struct att *t = &atts[i];
            if (t->fd < 0 && churn)
                att_open(t);
            else if (t->fd >= 0 && t->connected && t->kind == SLOW && now >= t->next_byte) {
                send(t->fd, "B", 1, MSG_NOSIGNAL);
                t->next_byte = now + 1000;
            }
        }
        if (now >= next_rss) { /* the peak, sampled every 50 ms */
            long rss = rss_kb(pid);
            if (rss > rss_max)
                rss_max = rss;
            next_rss = now + 50;
        }
        if (now >= next_report) {
            size_t up = 0, pending = 0;
            long rss = rss_kb(pid);
            for (size_t i = 0; i < n_att; i++) {
                up += atts[i].fd >= 0 && atts[i].connected;
                pending += atts[i].fd >= 0 && !atts[i].connected;
            }
            if (rss > rss_max)
                rss_max = rss;
            pthread_mutex_lock(&lock);
            printf("t=%2llds attackers: %zu connected, %zu connecting, %llu closed by the agent; "
                   "agent RSS %ld kB; legit so far: %zu ok, %zu failed\n",
                   (long long)((now - t_start + 500) / 1000), up, pending, n_closed_by_agent,
                   rss, n_ok, n_fail);
            pthread_mutex_unlock(&lock);
            fflush(stdout);
            next_report += 1000;
        }
    }
    stop_legit = true;
    pthread_join(th, NULL);
    for (size_t i = 0; i < n_att; i++)
        att_close(&atts[i]);
    sleep(1);
    rss_after = rss_kb(pid);
    qsort(lat, n_lat, sizeof(*lat), cmp_double);
    printf("legit %zu ok %zu failed %zu p50 %.1f p90 %.1f max %.1f ms\n", n_ok + n_fail, n_ok,
           n_fail, n_lat ? lat[n_lat / 2] : 0.0, n_lat ? lat[n_lat * 9 / 10] : 0.0,
           n_lat ? lat[n_lat - 1] : 0.0);
    printf("first error: %s\n", first_error[0] ? first_error : "none");
    printf("agent RSS kB: before %ld, max during %ld, after %ld\n", rss_before, rss_max,
           rss_after);
    printf("attacker connections opened %llu, closed by the agent %llu\n", n_opened,
           n_closed_by_agent);
    free(atts);
    free(lat);
    close(epfd);
    return 0;
}
