/* table.c - aligned text tables. */
#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "mem.h"

struct kf_table {
    size_t ncols, nrows;
    char **cells; /* (nrows + 1) * ncols, row 0 is the header */
    size_t *width;
};

static size_t
display_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) /* count UTF-8 lead bytes */
            n++;
    return n;
}

static int
append_row(struct kf_table *t, const char *const *cells)
{
    char **bigger = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));

    if (bigger == NULL)
        return -1;
    t->cells = bigger;
    for (size_t i = 0; i < t->ncols; i++) {
        /* escaped: a cell never reaches the terminal raw (escape.h) */
        char *c = kf_escape_dup(cells[i] ? cells[i] : "-");
        size_t w;
        if (c == NULL) {
            for (size_t j = 0; j < i; j++)
                free(t->cells[t->nrows * t->ncols + j]);
            return -1;
        }
        t->cells[t->nrows * t->ncols + i] = c;
        w = display_width(c);
        if (w > t->width[i])
            t->width[i] = w;
    }
    t->nrows++;
    return 0;
}

struct kf_table *
kf_table_new(const char *const *headers)
{
    struct kf_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    while (headers[t->ncols] != NULL)
        t->ncols++;
    t->width = calloc(t->ncols ? t->ncols : 1, sizeof(size_t));
    if (t->width == NULL || append_row(t, headers) != 0) {
        kf_table_free(t);
        return NULL;
    }
    return t;
}

void
kf_table_free(struct kf_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->width);
    free(t);
}

int
kf_table_add(struct kf_table *t, const char *const *cells)
{
    return append_row(t, cells);
}

size_t
kf_table_rows(const struct kf_table *t)
{
    return t->nrows - 1;
}

void
kf_table_print(const struct kf_table *t, FILE *fp)
{
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols) {
                fputs(cell, fp);
            } else {
                fputs(cell, fp);
                for (size_t w = display_width(cell); w < t->width[c] + 2; w++)
                    fputc(' ', fp);
            }
        }
        fputc('\n', fp);
    }
}
