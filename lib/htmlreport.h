/* htmlreport.h - a diagnosis (diagnose.h) as ONE self-contained HTML page:
 * inline CSS, no script, no external asset (a Content-Security-Policy of
 * default-src 'none' says so to the browser), every string that came from
 * the topology, the directory, an agent or a server HTML-escaped. The page
 * has the same content as the text table: the facts, a server x check
 * matrix of PASS/WARN/FAIL, and every finding with its fix.
 */
#ifndef KF_HTMLREPORT_H
#define KF_HTMLREPORT_H

#include "diagnose.h"
#include "errors.h"

/* S with control characters and bidi overrides escaped as kf_escape()
 * does (\x1b, \u202e), then &, <, >, " and ' replaced by entities; a new
 * string (free()), or NULL when out of memory. */
char *kf_html_escape(const char *s);

/* The page for R; a new NUL-terminated string (free()), or NULL when out
 * of memory. */
char *kf_html_report(const struct kf_diag_report *r);

/* Write the page for R to PATH: a temporary file in the same directory,
 * then renamed over PATH, so a reader never sees half a page. Mode 0644
 * (less the umask): the report holds no secret. Errors: KF_ERR_IO,
 * KF_ERR_NOMEM. */
kf_status kf_html_report_write(const struct kf_diag_report *r, const char *path,
                               struct kf_err *err);

#endif
