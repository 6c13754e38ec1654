/* proc.c - see proc.h. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool
kf_proc_stat_parse(const char *text, size_t len, char *state, unsigned long long *start)
{
    const char *p = NULL, *end = text + len;
    unsigned long long v = 0;
    int field = 2; /* the field the closing parenthesis ends */

    for (const char *q = text; q < end; q++) /* the last ')' ends COMM */
        if (*q == ')')
            p = q;
    if (p == NULL || end - p < 4 || p[1] != ' ')
        return false;
    *state = p[2];
    if (*state < 'A' || *state > 'Z' || p[3] != ' ')
        return false;
    p += 3; /* at the blank before field 4 */
    field = 3;
    while (p < end && field < 22) {
        if (*p == ' ') {
            field++;
            p++;
            continue;
        }
        p++;
    }
    if (field != 22 || p >= end || *p < '0' || *p > '9')
        return false;
    for (int digits = 0; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits == 20)
            return false;
        unsigned long long d = (unsigned long long)(*p - '0');
        if (v > (~0ULL - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (p < end && *p != ' ' && *p != '\n')
        return false;
    *start = v;
    return true;
}

bool
kf_proc_start(long pid, unsigned long long *start)
{
    char path[64], text[1024];
    ssize_t n;
    char state;
    int fd;

    if (pid <= 0)
        return false;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    do
        n = read(fd, text, sizeof(text));
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0 || !kf_proc_stat_parse(text, (size_t)n, &state, start))
        return false;
    return state != 'Z' && state != 'X';
}
