/* suggest.c - nearest known word by optimal string alignment distance. */
#include "suggest.h"

#include <ctype.h>
#include <string.h>

size_t
kf_edit_distance(const char *a, const char *b)
{
    /* Three rows of the dynamic-programming table: i-2, i-1, i. */
    size_t rows[3][KF_SUGGEST_WORD_MAX + 1];
    size_t la = strnlen(a, KF_SUGGEST_WORD_MAX + 1), lb = strnlen(b, KF_SUGGEST_WORD_MAX + 1);
    size_t *two = rows[0], *prev = rows[1], *cur = rows[2];

    if (la > KF_SUGGEST_WORD_MAX || lb > KF_SUGGEST_WORD_MAX)
        return KF_SUGGEST_WORD_MAX + 1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        int ca = tolower((unsigned char)a[i - 1]);
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && two[j - 2] + 1 < best)
                best = two[j - 2] + 1;
            cur[j] = best;
        }
        {
            size_t *t = two;
            two = prev;
            prev = cur;
            cur = t;
        }
    }
    return prev[lb];
}

const char *
kf_suggest(const char *word, const char *const *candidates, size_t n)
{
    size_t len = strnlen(word, KF_SUGGEST_WORD_MAX + 1), best = (size_t)-1;
    const char *found = NULL;

    for (size_t i = 0; i < n; i++) {
        size_t shorter = strnlen(candidates[i], KF_SUGGEST_WORD_MAX + 1);
        size_t d = kf_edit_distance(word, candidates[i]);
        if (len < shorter)
            shorter = len;
        /* a short word changed twice is no longer recognisable */
        if (d <= (shorter <= 4 ? 1u : 2u) && d < best) {
            best = d;
            found = candidates[i];
        }
    }
    return found;
}
