// plot.h: an SVG plot of training and validation loss against step (the run folder's loss.svg).
//
// Axes with "nice" ticks (1, 2, 5 x 10^k), grid, axis labels, a title and a legend; the raw training loss
// (thin, pale; averaged into at most 1500 buckets on long runs), the training loss smoothed by a centered
// moving average (no lag), and the validation loss with a marker per evaluation.
#ifndef TRIT_TRAIN_PLOT_H
#define TRIT_TRAIN_PLOT_H

#include "common/check.h"
#include "train/metrics.h"

// Writes the plot of rows (in step order) to path (temporary file + rename).
int plot_loss_svg(const char *path, const metrics_row *rows, int n, const char *title, tr_err *err);

#endif
