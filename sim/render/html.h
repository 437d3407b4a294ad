/* html: report.html, one self-contained page of a run's folder: the run's Markdown report
 * (report.md) converted by a small converter of its own, then the run's plots as images that
 * sit next to the page. No JavaScript, no external URL; every text is HTML-escaped. */
#ifndef TS_SIM_HTML_H
#define TS_SIM_HTML_H

#include "models/tserr.h"
#include "sim/render/plot.h"

/* Writes dir/report.html (temporary name, then rename): title in <title>, the Markdown file
 * md_path rendered (# headings, paragraphs, | tables | with an alignment row, `code`, **bold**,
 * - lists; NULL for none), then each plot of plots (NULL for none) as NAME.svg, else NAME.png,
 * else a line saying how to draw it. Errors: TS_EIO (reading md_path, writing), TS_ENOMEM. */
int html_write_report(const char *dir, const char *md_path, const PlotResult *plots,
                      const char *title, TsErr *err);

#endif
