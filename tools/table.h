/* table.h - aligned text tables for people (the --json path does not use it). */
#ifndef KF_TABLE_H
#define KF_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct kf_table;

/* A table with NCOLS columns named by the NULL-terminated HEADERS. */
struct kf_table *kf_table_new(const char *const *headers);
void kf_table_free(struct kf_table *t); /* accepts NULL */

/* Append a row of as many cells as there are columns; cells are copied,
 * escaped as kf_escape() does (a control character or bidi override shows
 * as \x1b or \u202e), and NULL prints as "-". Returns 0, or -1 when out
 * of memory. */
int kf_table_add(struct kf_table *t, const char *const *cells);

/* Print the header and rows, columns padded to their widest cell. */
void kf_table_print(const struct kf_table *t, FILE *fp);

size_t kf_table_rows(const struct kf_table *t);

#endif
