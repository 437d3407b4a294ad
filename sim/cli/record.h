/* record: a priced scenario and its outcome laid out as the plain rows of the store
 * (StoreResults): fleets, metrics, the inputs a report lists with their origin, notes, catalog
 * rows used, comparisons, sweep points, tornado and histogram rows. Everything a report shows
 * is among these rows, so the renderers read the stored run and nothing else. It computes no
 * result (sim/study/outcome does) and neither stores nor prints. */
#ifndef TS_SIM_CLI_RECORD_H
#define TS_SIM_CLI_RECORD_H

#include "sim/scenario/scenario.h"
#include "sim/store/store.h"
#include "sim/study/compare.h"
#include "sim/study/outcome.h"
#include "sim/study/sweep.h"

typedef struct {
    StoreResults res;  /* the rows; res.then is left for the caller */
    char **strings;    /* owned strings the rows point to */
    int n_strings, cap_strings;
    void *blocks[16];  /* the row arrays (owned) */
} Record;

/* Lays out scenario s, its outcome o, sweep and cmp (either may be NULL) as rows into rec;
 * reproducible records that the run renders without its id and with 6-figure CSV values.
 * The rows borrow from s, o, sweep and cmp, which must outlive rec. TS_ENOMEM. */
int record_make(const Scenario *s, const Outcome *o, const SwpResult *sweep,
                const CmpResult *cmp, int reproducible, Record *rec, TsErr *err);

void record_fini(Record *rec);

#endif
