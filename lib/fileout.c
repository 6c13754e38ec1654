/* fileout.c - atomic whole-file replacement (tmp, fsync, rename, fsync dir). */
#include "fileout.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

static kf_status
io_fail(struct kf_err *err, const char *what, const char *path, int e)
{
    return kf_err_set(err, KF_ERR_IO, "cannot write %s %s: %s", what, path, strerror(e));
}

/* fsync the directory holding PATH, so the rename survives a crash. */
static int
sync_dir(const char *path)
{
    _cleanup_free_ char *copy = strdup(path);
    int fd, r;

    if (copy == NULL)
        return ENOMEM;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    r = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return r;
}

kf_status
kf_file_replace(const char *path, const void *data, size_t len, mode_t mode, const char *what,
                struct kf_err *err)
{
    _cleanup_free_ char *tmp = NULL;
    const char *p = data;
    size_t done = 0;
    int fd, e;

    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        tmp = NULL;
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return io_fail(err, what, path, errno);
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto fail;
        done += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    if ((e = sync_dir(path)) != 0)
        return io_fail(err, what, path, e);
    return KF_OK;
fail:
    e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return io_fail(err, what, path, e);
}
