/*
 * search_status.c: `lilm search --status`: a study in the terminal.
 *
 * One line per trial (number, state, value, best so far, each parameter),
 * then the best trial's config keys and the parameter importances as bars;
 * the same facts as the report's search page (src/track/report_search.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/search_cli.h"
#include "search/importance.h"

void lilm_search_print_status(FILE *f, const lilm_study *st, const char *name)
{
    const lilm_space *sp = st->sp;
    size_t counts[LILM_TRIAL_STATE_COUNT] = {0};
    for (size_t i = 0; i < st->n; i++) counts[st->trials[i].state]++;
    fprintf(f, "study %s: %zu trials (%zu complete, %zu pruned, %zu failed, %zu running) of %lld\n\n", name, st->n,
            counts[LILM_TRIAL_COMPLETE], counts[LILM_TRIAL_PRUNED], counts[LILM_TRIAL_FAILED], counts[LILM_TRIAL_RUNNING],
            (long long)sp->study.trials);
    int width[LILM_SEARCH_MAX_PARAMS];
    for (int p = 0; p < sp->n_params; p++) {
        int w = (int)strlen(sp->params[p].name);
        width[p] = w < 10 ? 10 : w > 24 ? 24 : w;
    }
    fprintf(f, "%5s  %-8s  %8s  %8s", "trial", "state", "bpb", "best");
    for (int p = 0; p < sp->n_params; p++) fprintf(f, "  %*.*s", width[p], width[p], sp->params[p].name);
    fprintf(f, "\n");
    double best = INFINITY;
    for (size_t i = 0; i < st->n; i++) {
        const lilm_trial *t = &st->trials[i];
        if (t->state == LILM_TRIAL_COMPLETE && t->value < best) best = t->value;
        char v[32] = "-", b[32] = "-";
        if (isfinite(t->value)) snprintf(v, sizeof v, "%.4f", t->value);
        if (isfinite(best)) snprintf(b, sizeof b, "%.4f", best);
        fprintf(f, "%5lld  %-8s  %8s  %8s", (long long)t->number, lilm_trial_state_name(t->state), v, b);
        for (int p = 0; p < sp->n_params; p++) {
            char buf[LILM_SEARCH_NAME_MAX];
            if (sp->params[p].kind == LILM_SEARCH_PARAM_FLOAT) snprintf(buf, sizeof buf, "%.4g", t->x[p]);
            else lilm_search_param_format(&sp->params[p], t->x[p], buf, sizeof buf);
            fprintf(f, "  %*.*s", width[p], width[p], buf);
        }
        if (t->reason[0]) fprintf(f, "  %s", t->reason);
        fprintf(f, "\n");
    }
    int64_t bi = lilm_study_best(st);
    if (bi >= 0) {
        const lilm_trial *t = &st->trials[bi];
        char sets[LILM_SEARCH_MAX_SETS + LILM_SEARCH_MAX_PARAMS + LILM_SEARCH_MAX_DERIVED][320];
        int n = lilm_search_trial_sets(sp, t->x, sets, (int)(sizeof sets / sizeof sets[0]));
        fprintf(f, "\nbest: trial %lld, bpb %.4f, run %s\n", (long long)t->number, t->value, t->run_dir[0] ? t->run_dir : "-");
        for (int i = 0; i < n; i++) fprintf(f, "  --set %s\n", sets[i]);
    }
    double imp[LILM_SEARCH_MAX_PARAMS];
    if (lilm_search_importance(st, imp) == LILM_OK && counts[LILM_TRIAL_COMPLETE] >= 3) {
        fprintf(f, "\nparameter importance (share of BPB variance between value groups):\n");
        for (int p = 0; p < sp->n_params; p++) {
            int bar = (int)lround(imp[p] * 40);
            fprintf(f, "  %-20.20s %5.1f%%  ", sp->params[p].name, 100 * imp[p]);
            for (int k = 0; k < bar; k++) fputc('#', f);
            fputc('\n', f);
        }
    }
}
