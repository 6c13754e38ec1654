/* suggest.h - "did you mean ...?": the nearest known word to a mistyped one.
 *
 * The distance is the optimal string alignment distance (insertions,
 * deletions, substitutions and swaps of two neighbours count one each),
 * comparing ASCII letters case-insensitively. Words longer than
 * KF_SUGGEST_WORD_MAX bytes are never near anything (bounded work for
 * input from outside).
 */
#ifndef KF_SUGGEST_H
#define KF_SUGGEST_H

#include <stddef.h>

#define KF_SUGGEST_WORD_MAX 64

/* The distance between A and B, or KF_SUGGEST_WORD_MAX + 1 when either is
 * longer than KF_SUGGEST_WORD_MAX. */
size_t kf_edit_distance(const char *a, const char *b);

/* The candidate nearest to WORD, if close enough to be a typo of it
 * (distance at most 1 when WORD or the candidate has up to 4 bytes, else 2;
 * an exact match counts too), else NULL. The first of equally near
 * candidates wins. */
const char *kf_suggest(const char *word, const char *const *candidates, size_t n);

#endif
