/* proc.h - what /proc says about a process: is it running, and since when.
 *
 * A PID alone does not name a process: the kernel reuses it. The pair
 * (PID, start time) does, so the rotation lock records both and a holder
 * is only taken for alive when both match (docs/design.md, "The rotation
 * lock"). */
#ifndef KF_PROC_H
#define KF_PROC_H

#include <stdbool.h>
#include <stddef.h>

/* Parse the text of /proc/PID/stat (LEN bytes, need not be terminated):
 * "PID (COMM) STATE ..." where COMM may hold anything, ')' and spaces
 * included. On success store the state letter in *STATE and field 22,
 * the start time in clock ticks after boot, in *START, and return true;
 * false for anything malformed. */
bool kf_proc_stat_parse(const char *text, size_t len, char *state, unsigned long long *start);

/* The start time of process PID (clock ticks after boot) in *START.
 * Returns false when PID does not exist, is a zombie or is unreadable. */
bool kf_proc_start(long pid, unsigned long long *start);

#endif
