/* escape.h - text from outside, made safe to show on a terminal.
 *
 * Names, URLs, file contents, directory attributes and command-line words
 * reach messages and tables. A control character in them (ESC starts a
 * terminal escape sequence, CR rewrites the line) or a bidirectional
 * override (U+202E shows "exe.txt" as "txt.exe") would let whoever wrote
 * that input shape what the admin reads. Every message (struct kf_err) and
 * every table cell goes through kf_escape(); names and probe URLs refuse
 * such characters at input (kf_text_unsafe()).
 *
 * Escaped, everything else copied as it is (a backslash too, so escaping
 * twice changes nothing):
 *   - C0 controls U+0000-001F and DEL: \xNN (ESC is \x1b)
 *   - C1 controls U+0080-009F, the bidi marks, embeddings, overrides and
 *     isolates (U+061C, U+200E-200F, U+202A-202E, U+2066-2069), the
 *     line and paragraph separators U+2028-2029 and the invisible byte
 *     order mark U+FEFF: \uXXXX
 *   - a byte that is not part of valid UTF-8: \xNN
 */
#ifndef KF_ESCAPE_H
#define KF_ESCAPE_H

#include <stddef.h>

#include "errors.h"

/* Write IN, escaped, to OUT of SIZE bytes (always terminated when SIZE >
 * 0; an escape is never cut in half). Returns the length the whole escaped
 * text needs, so a result >= SIZE means OUT was truncated. */
size_t kf_escape(const char *in, char *out, size_t size);

/* IN escaped, in a new string (free()); NULL when out of memory. */
char *kf_escape_dup(const char *in);

/* The first character of S that kf_escape() would escape, or NULL when
 * there is none. *LEN (when not NULL) is set to its length in bytes. */
const char *kf_text_unsafe(const char *s, size_t *len);

/* Refuse S when it holds a character kf_escape() would escape: KF_OK, or
 * KF_ERR_INVALID with a message naming WHAT ("site name"), the value
 * (escaped) and the character. For names and URLs, checked at input. */
kf_status kf_text_check(const char *s, const char *what, struct kf_err *err);

#endif
