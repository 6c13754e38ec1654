/* fileout.h - write a whole file so that readers see the old content or the
 * new, never a part, and never through a link planted at its name.
 *
 * The data goes to a new file beside PATH (PATH.tmp.PID, created with
 * O_EXCL|O_NOFOLLOW, so nothing already there is opened), is fsync'd, and
 * is renamed onto PATH; then the directory is fsync'd. A symbolic link at
 * PATH is replaced by the file, its target left alone. On failure the
 * temporary file is removed and PATH is as it was.
 */
#ifndef KF_FILEOUT_H
#define KF_FILEOUT_H

#include <stddef.h>
#include <sys/types.h>

#include "errors.h"

/* Replace PATH with the LEN bytes at DATA, created with MODE (less the
 * umask). WHAT names the file in messages ("the report"). */
kf_status kf_file_replace(const char *path, const void *data, size_t len, mode_t mode,
                          const char *what, struct kf_err *err);

#endif
