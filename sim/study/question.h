/* question: the answer to a scenario's [question] (docs/scenario-format.md, "Questions"): the
 * numbers the question needs beyond the fleets' own metrics, as metric rows (fleet "-" for
 * results of no fleet, such as distillation and task costs, else the fleet's name), and a short
 * conclusion paragraph written only from those rows and the fleets' stored metrics, so that
 * every number it states is a row of table `metrics`. It prices nothing itself beyond
 * arithmetic on results; it neither stores nor prints. */
#ifndef TS_SIM_QUESTION_H
#define TS_SIM_QUESTION_H

#include "models/tserr.h"
#include "sim/study/compare.h"
#include "sim/price/evaluate.h"
#include "sim/scenario/scenario.h"
#include "sim/study/sweep.h"

#define QST_MAX_ROWS 1024
#define QST_TEXT_MAX 8192

typedef struct {
    char fleet[48];
    char metric[112];
    const char *unit; /* a static string */
    double value;
    int has_value;    /* 0: NULL */
} QstRow;

typedef struct {
    QstRow rows[QST_MAX_ROWS];
    int n_rows;
    char text[QST_TEXT_MAX]; /* the conclusion paragraph (Markdown, one line); "" without one */
} QstResult;

/* Answers s->question from the fleets' results res (the stored values: Monte Carlo means),
 * the sweep sw and the comparison cmp (either may be NULL). Without a [question] out is left
 * empty. TS_EINPUT when a kind's inputs are missing at run time (e.g. no sweep points). s is
 * not changed (non-const only for scn_param_sites). */
int qst_run(Scenario *s, const FleetResult *res, const SwpResult *sw, const CmpResult *cmp,
            QstResult *out, TsErr *err);

/* pass@k = 1 - (1 - p)^k: the chance that at least one of k independent attempts succeeds. */
double qst_pass_at_k(double p, int k);

/* The fewest attempts k <= max with pass@k >= target, or -1 when max attempts do not reach it. */
int qst_attempts_for(double p, double target, int max);

/* Distillation's one-time compute, FLOPs: teacher generation 2 x teacher_active x generated
 * tokens, plus student training 6 x student_params x training tokens (into *teacher, *student). */
void qst_distill_flops(double teacher_active, double generated_tokens, double student_params,
                       double training_tokens, double *teacher, double *student);

#endif
