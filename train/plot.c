// plot.c: loss.svg, drawn by hand (no dependencies): axes, nice ticks, grid, legend, train and val curves.
#include "train/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/afile.h"

#define W 860
#define H 520
#define X0 84      // plot area: left, right, top, bottom
#define X1 (W - 28)
#define Y0 56
#define Y1 (H - 64)
#define MAX_RAW 1500

typedef struct {
    double lo, hi;
} range;

// A 1/2/5 x 10^k tick spacing giving about `target` intervals over span.
static double nice_step(double span, int target) {
    double raw = span / target, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static double sx(range r, double x) { return X0 + (x - r.lo) / (r.hi - r.lo) * (X1 - X0); }
static double sy(range r, double y) { return Y1 - (y - r.lo) / (r.hi - r.lo) * (Y1 - Y0); }

static void put_escaped(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else fputc(*s, f);
    }
}

static void polyline(FILE *f, range rx, range ry, const double *x, const double *y, int n, const char *style) {
    fprintf(f, "<polyline fill=\"none\" %s points=\"", style);
    for (int i = 0; i < n; i++) fprintf(f, "%.1f,%.1f ", sx(rx, x[i]), sy(ry, y[i]));
    fputs("\"/>\n", f);
}

// Ticks, grid and labels of both axes.
static void axes(FILE *f, range rx, double xstep, range ry, double ystep) {
    fprintf(f, "<g font-family=\"sans-serif\" font-size=\"12\" fill=\"#333\">\n");
    for (double v = rx.lo; v <= rx.hi + 1e-9 * xstep; v += xstep) {
        double x = sx(rx, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e6e6e6\"/>\n", x, Y0, x, Y1);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n", x, Y1, x, Y1 + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", x, Y1 + 20, v);
    }
    for (double v = ry.lo; v <= ry.hi + 1e-9 * ystep; v += ystep) {
        double y = sy(ry, v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n", X0, y, X1, y);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n", X0 - 5, y, X0, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", X0 - 9, y + 4, fabs(v) < 1e-12 ? 0 : v);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", X0, Y0, X1 - X0, Y1 - Y0);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\">step</text>\n", (X0 + X1) / 2, H - 22);
    fprintf(f, "<text transform=\"translate(24 %d) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">loss (nats/token)</text>\n",
            (Y0 + Y1) / 2);
    fputs("</g>\n", f);
}

static void legend(FILE *f, int has_val) {
    static const char *const names[] = {"train", "train (smoothed)", "validation"};
    static const char *const styles[] = {"stroke=\"#1f77b4\" stroke-opacity=\"0.3\" stroke-width=\"1\"",
                                         "stroke=\"#1f77b4\" stroke-width=\"2\"", "stroke=\"#ff7f0e\" stroke-width=\"2\""};
    int n = has_val ? 3 : 2, x = X1 - 178, y = Y0 + 12;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"166\" height=\"%d\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#999\"/>\n", x, y,
            12 + 20 * n);
    for (int i = 0; i < n; i++) {
        int ly = y + 18 + 20 * i;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" %s/>\n", x + 10, ly, x + 40, ly, styles[i]);
        if (i == 2) fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3.5\" fill=\"#ff7f0e\"/>\n", x + 25, ly);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-family=\"sans-serif\" font-size=\"12\" fill=\"#333\">%s</text>\n", x + 48,
                ly + 4, names[i]);
    }
}

static void draw(FILE *f, const metrics_row *rows, int n, const char *title) {
    double *x = tr_malloc(sizeof(double) * (size_t)n * 3), *smooth = x + n, *val = x + 2 * n;
    double *vx = tr_malloc(sizeof(double) * (size_t)n);
    int nv = 0;
    // Centered moving average over 2h+1 steps (h ~ n/100, at most 50; the window shrinks at the ends), so
    // the smoothed curve does not lag behind the raw one.
    int h = n / 100 < 50 ? n / 100 : 50;
    range ry = {INFINITY, -INFINITY};
    for (int i = 0; i < n; i++) {
        x[i] = (double)rows[i].step;
        int k = i < h ? i : h;
        if (n - 1 - i < k) k = n - 1 - i;
        double sum = 0;
        for (int j = i - k; j <= i + k; j++) sum += rows[j].loss;
        smooth[i] = sum / (2 * k + 1);
        ry.lo = fmin(ry.lo, rows[i].loss), ry.hi = fmax(ry.hi, rows[i].loss);
        if (rows[i].has_val) {
            vx[nv] = x[i], val[nv++] = rows[i].val_loss;
            ry.lo = fmin(ry.lo, rows[i].val_loss), ry.hi = fmax(ry.hi, rows[i].val_loss);
        }
    }
    // Raw losses averaged into at most MAX_RAW buckets.
    int nr = 0;
    double *rx = tr_malloc(sizeof(double) * (size_t)n * 2), *ryv = rx + n;
    for (int b = 0, per = (n + MAX_RAW - 1) / MAX_RAW; b < n; b += per, nr++) {
        int e = b + per < n ? b + per : n;
        double sxv = 0, syv = 0;
        for (int i = b; i < e; i++) sxv += x[i], syv += rows[i].loss;
        rx[nr] = sxv / (e - b), ryv[nr] = syv / (e - b);
    }
    double span = ry.hi - ry.lo > 1e-6 ? ry.hi - ry.lo : 1.0, ystep = nice_step(span, 6);
    ry.lo = floor(ry.lo / ystep) * ystep, ry.hi = ceil(ry.hi / ystep) * ystep;
    if (ry.hi - ry.lo < ystep) ry.hi = ry.lo + ystep;
    double last = x[n - 1] > 1 ? x[n - 1] : 1, xstep = nice_step(last, 8);
    range rxr = {0, ceil(last / xstep) * xstep};
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"32\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"16\" fill=\"#111\">", W / 2);
    put_escaped(f, title);
    fputs("</text>\n", f);
    axes(f, rxr, xstep, ry, ystep);
    polyline(f, rxr, ry, rx, ryv, nr, "stroke=\"#1f77b4\" stroke-opacity=\"0.3\" stroke-width=\"1\"");
    polyline(f, rxr, ry, x, smooth, n, "stroke=\"#1f77b4\" stroke-width=\"2\"");
    if (nv) {
        polyline(f, rxr, ry, vx, val, nv, "stroke=\"#ff7f0e\" stroke-width=\"2\"");
        for (int i = 0; i < nv; i++) fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#ff7f0e\"/>\n", sx(rxr, vx[i]), sy(ry, val[i]));
    }
    legend(f, nv > 0);
    fputs("</svg>\n", f);
    free(x), free(vx), free(rx);
}

int plot_loss_svg(const char *path, const metrics_row *rows, int n, const char *title, tr_err *err) {
    if (n < 1) return tr_fail(err, "%s: no training steps to plot", path);
    tr_afile f;
    if (tr_afile_open(&f, path, err)) return -1;
    draw(f.fp, rows, n, title);
    if (ferror(f.fp)) f.failed = EIO;
    return tr_afile_commit(&f, err);
}
