/* cmdlets.h - the Lync Server cmdlets (New-CsKerberosAccount, ...) as
 * krbfleet commands: one table says which krbfleet command and options each
 * cmdlet and parameter stands for; the translation and `krbfleet help
 * cmdlets` both read it. The translation only rewrites the command line:
 * the krbfleet command then runs as if typed, with its own output and exit
 * status.
 *
 * As in PowerShell: cmdlet and parameter names are case-insensitive, a
 * parameter may be shortened to an unambiguous prefix, `-Name:value` and
 * `-Switch:$false` work, Identity may be given by position. Site identities
 * are `site:NAME`, any case (`site:Redmond` is site `redmond`).
 */
#ifndef KF_CMDLETS_H
#define KF_CMDLETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "errors.h"

struct kf_cmdlet;

/* The krbfleet command line a cmdlet stands for. */
struct kf_cmdlet_call {
    const struct kf_cmdlet *cmdlet;
    int argc;
    char **argv; /* command words, options, operands; NULL-terminated; owned */
};

/* True when WORD has the shape of a cmdlet name (Verb-CsNoun, any case),
 * known or not: such a word is never a krbfleet command. */
bool kf_cmdlet_word(const char *word);

/* The cmdlet named WORD (any case), or NULL. */
const struct kf_cmdlet *kf_cmdlet_find(const char *word);

/* The krbfleet command CMDLET runs: "assignment new". */
const char *kf_cmdlet_command(const struct kf_cmdlet *cmdlet);

/* Translate ARGV (ARGV[0] the cmdlet, then its parameters) into CALL.
 * Returns KF_OK; KF_ERR_USAGE with ERR naming the cmdlet and the parameter
 * (unknown, ambiguous, given twice, missing value or required, a bad site
 * identity, an unknown cmdlet); KF_ERR_NOMEM. CALL is empty on failure;
 * release it with kf_cmdlet_call_done() either way. */
kf_status kf_cmdlet_translate(int argc, const char *const *argv, struct kf_cmdlet_call *call,
                              struct kf_err *err);

/* Which of NAMES (N of them) the parameter word WORD (LEN bytes, without
 * its '-') names: the name itself in any case, else the only name it is a
 * prefix of. Returns the index, -1 when it names none, -2 when several. */
int kf_cmdlet_match(const char *const *names, size_t n, const char *word, size_t len);

/* Free what CALL owns and empty it. */
void kf_cmdlet_call_done(struct kf_cmdlet_call *call);

/* Print CMDLET's line of the mapping table on FP: its parameters, then the
 * krbfleet command they become. */
void kf_cmdlet_print(FILE *fp, const struct kf_cmdlet *cmdlet);

/* Call FN for every krbfleet option a cmdlet parameter becomes: the
 * cmdlet, its command ("assignment new"), the option ("--site") and
 * whether it takes a value. For the check that every one is in the
 * command's option table (krbfleet __options). */
void kf_cmdlet_foreach_option(void (*fn)(const char *cmdlet, const char *command,
                                         const char *option, bool value, void *ctx),
                              void *ctx);

/* Print the whole mapping table and the rules above on FP. */
void kf_cmdlet_print_table(FILE *fp);

#endif
