/* htmlreport.c - the diagnosis as one self-contained HTML page. */
#include "htmlreport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "escape.h"
#include "fileout.h"
#include "mem.h"

#define PAGE_MAX (8u * 1024 * 1024)

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em;"
    "color:#1d1d1f;background:#fff}\n"
    "h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.6em 0 .5em}\n"
    ".verdict{display:inline-block;padding:.25em .8em;border-radius:4px;font-weight:600}\n"
    "table{border-collapse:collapse;margin:.3em 0}\n"
    "th,td{border:1px solid #d0d0d5;padding:.3em .6em;text-align:left;vertical-align:top}\n"
    "th{background:#f3f3f6;font-weight:600}\n"
    "table.facts th{background:none;border:none;padding:.1em 1em .1em 0}\n"
    "table.facts td{border:none;padding:.1em 0}\n"
    "td.PASS,span.PASS{background:#e3f5e6;color:#175c24}\n"
    "td.WARN,span.WARN{background:#fff4d6;color:#7a5200}\n"
    "td.FAIL,span.FAIL{background:#fde2e1;color:#9b1c1c;font-weight:600}\n"
    "td.none{color:#999}\n"
    "table.matrix td{text-align:center;min-width:4.5em}\n"
    "code{font:13px ui-monospace,'DejaVu Sans Mono',monospace;background:#f3f3f6;"
    "padding:.1em .3em;border-radius:3px;white-space:pre-wrap;overflow-wrap:anywhere}\n"
    "table.findings td:last-child{min-width:24em}\n"
    "footer{margin-top:2em;color:#777;font-size:.9em}\n";

struct page {
    struct kf_buf *b;
    bool oom;
};

static void
put(struct page *p, const char *s)
{
    if (!p->oom && kf_buf_put(p->b, s, strlen(s)) != KF_OK)
        p->oom = true;
}

static void
put_esc(struct page *p, const char *s)
{
    char *e = kf_html_escape(s ? s : "");

    if (e == NULL)
        p->oom = true;
    else
        put(p, e);
    free(e);
}

char *
kf_html_escape(const char *in)
{
    /* first as everywhere: no control character or bidi override reaches
     * the reader (escape.h); then HTML's own characters */
    _cleanup_free_ char *s = kf_escape_dup(in);
    size_t n = 1;
    char *out, *o;

    if (s == NULL)
        return NULL;
    for (const char *c = s; *c; c++)
        n += *c == '&' ? 5 : *c == '<' || *c == '>' ? 4 : *c == '"' || *c == '\'' ? 6 : 1;
    out = o = malloc(n);
    if (out == NULL)
        return NULL;
    for (const char *c = s; *c; c++) {
        const char *rep = *c == '&'    ? "&amp;"
                          : *c == '<'  ? "&lt;"
                          : *c == '>'  ? "&gt;"
                          : *c == '"'  ? "&quot;"
                          : *c == '\'' ? "&#39;"
                                       : NULL;
        if (rep != NULL) {
            size_t l = strlen(rep);
            memcpy(o, rep, l);
            o += l;
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

static void
cell_verdict(struct page *p, int v)
{
    if (v < 0) {
        put(p, "<td class=\"none\">-</td>");
        return;
    }
    put(p, "<td class=\"");
    put(p, kf_diag_verdict_name((enum kf_verdict)v));
    put(p, "\">");
    put(p, kf_diag_verdict_name((enum kf_verdict)v));
    put(p, "</td>");
}

char *
kf_html_report(const struct kf_diag_report *r)
{
    struct page p = {kf_buf_new(PAGE_MAX), false};
    bool failed = kf_findings_failed(&r->findings);
    size_t warns = 0, fails = 0;
    char num[64], *out = NULL;

    if (p.b == NULL)
        return NULL;
    for (size_t i = 0; i < r->findings.n; i++) {
        warns += r->findings.v[i].verdict == KF_WARN;
        fails += r->findings.v[i].verdict == KF_FAIL;
    }
    put(&p, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, "
            "initial-scale=1\">\n<title>krbfleet ");
    put_esc(&p, r->title);
    put(&p, "</title>\n<style>\n");
    put(&p, css);
    put(&p, "</style>\n</head>\n<body>\n<h1>krbfleet ");
    put_esc(&p, r->title);
    put(&p, "</h1>\n<p id=\"result\"><span class=\"verdict ");
    put(&p, failed ? "FAIL" : warns ? "WARN" : "PASS");
    put(&p, "\">");
    put(&p, failed ? "FAIL" : warns ? "WARN" : "PASS");
    put(&p, "</span> ");
    snprintf(num, sizeof(num), "%zu check(s): %zu failed, %zu warned", r->findings.n, fails, warns);
    put(&p, num);
    put(&p, "</p>\n<table class=\"facts\">\n");
    for (size_t i = 0; i < r->n_facts; i++) {
        put(&p, "<tr><th>");
        put_esc(&p, r->facts[i].name);
        put(&p, "</th><td>");
        put_esc(&p, r->facts[i].value);
        put(&p, "</td></tr>\n");
    }
    put(&p, "<tr><th>generated</th><td>");
    put_esc(&p, r->generated);
    put(&p, "</td></tr>\n</table>\n");

    if (r->n_servers > 0) {
        put(&p,
            "<h2>Web servers</h2>\n<table class=\"matrix\" id=\"matrix\">\n<tr><th>server</th>");
        for (size_t c = 0; kf_diag_server_checks[c] != NULL; c++) {
            put(&p, "<th>");
            put(&p, kf_diag_server_checks[c]);
            put(&p, "</th>");
        }
        put(&p, "</tr>\n");
        for (size_t i = 0; i < r->n_servers; i++) {
            char object[512];
            snprintf(object, sizeof(object), "server:%s", r->servers[i]);
            put(&p, "<tr><th>");
            put_esc(&p, r->servers[i]);
            put(&p, "</th>");
            for (size_t c = 0; kf_diag_server_checks[c] != NULL; c++)
                cell_verdict(&p, kf_diag_worst(r, object, kf_diag_server_checks[c]));
            put(&p, "</tr>\n");
        }
        put(&p, "</table>\n");
    }

    put(&p, "<h2>Findings</h2>\n<table class=\"findings\" id=\"findings\">\n"
            "<tr><th>result</th><th>object</th><th>check</th><th>detail</th><th>fix</th></tr>\n");
    for (size_t i = 0; i < r->findings.n; i++) {
        const struct kf_finding *f = &r->findings.v[i];
        put(&p, "<tr>");
        cell_verdict(&p, (int)f->verdict);
        put(&p, "<td>");
        put_esc(&p, f->object);
        put(&p, "</td><td>");
        put_esc(&p, f->check);
        put(&p, "</td><td>");
        put_esc(&p, f->detail);
        put(&p, "</td><td>");
        if (f->fix != NULL) {
            put(&p, "<code>");
            put_esc(&p, f->fix);
            put(&p, "</code>");
        }
        put(&p, "</td></tr>\n");
    }
    put(&p, "</table>\n<footer>krbfleet " KF_VERSION " &middot; ");
    put(&p, failed ? "exit status 1: run each fix, then test again"
                   : "exit status 0: nothing to repair");
    put(&p, "</footer>\n</body>\n</html>\n");
    if (!p.oom && kf_buf_put_u8(p.b, 0) == KF_OK) {
        out = malloc(kf_buf_len(p.b));
        if (out != NULL)
            memcpy(out, kf_buf_ptr(p.b), kf_buf_len(p.b));
    }
    kf_buf_free(p.b);
    return out;
}

kf_status
kf_html_report_write(const struct kf_diag_report *r, const char *path, struct kf_err *err)
{
    _cleanup_free_ char *page = kf_html_report(r);

    if (page == NULL)
        return kf_err_set(err, KF_ERR_NOMEM, "out of memory");
    return kf_file_replace(path, page, strlen(page), 0644, "the report", err);
}
