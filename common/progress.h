// progress.h: one status line on stderr for long jobs (shard building, training).
//
// On a terminal the line is redrawn in place at most every 0.1 s ("\r" + text + clear to end of line);
// otherwise (a log file, a pipe) a plain line is printed at most every `plain_every` seconds, so a log
// gets a few lines, not thousands. progress_done always prints the final status and ends the line.
// Not thread-safe: call it from one thread.
#ifndef TRIT_PROGRESS_H
#define TRIT_PROGRESS_H

typedef struct {
    double t0;            // start, seconds on the monotonic clock
    double last;          // time of the last line printed (t0 before the first)
    double plain_every;   // seconds between plain lines when stderr is not a terminal (default 10)
    int tty;              // stderr is a terminal
    int drawn;            // a line is on screen and not yet ended (terminal only)
    int quiet;            // print nothing at all
} progress;

double progress_now(void);                      // monotonic clock, seconds
void progress_init(progress *p, int quiet);     // starts the clock; quiet = print nothing
double progress_elapsed(const progress *p);     // seconds since progress_init
// Prints the formatted status if it is due; returns 1 when it printed.
int progress_update(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prints the final status and ends the line (a terminal line is replaced in place).
void progress_done(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Ends a line drawn in place without printing more (before printing an error, say).
void progress_clear(progress *p);

#endif
