/* SPDX-License-Identifier: MIT */
/*
 * abtime.c: times commands side by side, alternating A B C A B C ..., and
 * reports per command the median, min and max wall time of one launch and
 * the median of the pairwise ratios against the first command (the
 * baseline). Alternation and paired ratios cancel most of the drift of a
 * noisy machine; medians ignore its outliers.
 *
 *   abtime [-r ROUNDS] [-w WARMUP] [-k LAUNCHES] [-m] [-o UNIT] [-b NAME] NAME=CMD...
 *
 * Each CMD is split on spaces and executed directly (no shell). A sample is
 * the mean of LAUNCHES back-to-back launches. -m prints a Markdown table.
 * -o UNIT: a sample is not the wall time but the last number the command
 * prints on its standard output (a figure it measured itself, in UNIT).
 * -b NAME: a second baseline, one more column of pairwise ratios to it,
 * from the same samples.
 * Commands that fail abort the run: a benchmark of an error is worthless.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cmd {
    char *name;
    char **argv;
    double *samples; /* seconds per launch */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char **split(char *s)
{
    size_t n = 0, cap = 8;
    char **v = malloc(cap * sizeof(*v));

    while (*s) {
        while (*s == ' ')
            *s++ = '\0';
        if (!*s)
            break;
        if (n + 2 > cap)
            v = realloc(v, (cap *= 2) * sizeof(*v));
        v[n++] = s;
        while (*s && *s != ' ')
            s++;
    }
    v[n] = NULL;
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    double *c = malloc(n * sizeof(*c));
    double m;

    memcpy(c, v, n * sizeof(*c));
    qsort(c, n, sizeof(*c), cmp_double);
    m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

/* The last number in text, or -1. */
static double last_number(const char *text)
{
    double v = -1;

    for (const char *p = text; *p; p++) {
        char *end;
        double x;
        if ((*p < '0' || *p > '9') ||
            (p > text && ((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.')))
            continue;
        x = strtod(p, &end);
        if (end > p) {
            v = x;
            p = end - 1;
        }
    }
    return v;
}

static double launch(struct cmd *c, int devnull, int value_mode)
{
    posix_spawn_file_actions_t fa;
    static char out[65536];
    size_t got = 0;
    double t0, t1;
    int p[2] = { -1, -1 };
    pid_t pid;
    int st;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    if (value_mode) {
        if (pipe2(p, O_CLOEXEC) < 0)
            exit(2);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    } else {
        posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    }
    posix_spawn_file_actions_adddup2(&fa, devnull, 2);
    t0 = now();
    if (posix_spawn(&pid, c->argv[0], &fa, NULL, c->argv, environ) != 0) {
        fprintf(stderr, "abtime: cannot run %s: %s\n", c->argv[0], strerror(errno));
        exit(2);
    }
    if (value_mode) {
        ssize_t n;
        close(p[1]);
        while ((n = read(p[0], out + got, sizeof(out) - 1 - got)) > 0)
            got += (size_t)n;
        close(p[0]);
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    t1 = now();
    posix_spawn_file_actions_destroy(&fa);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "abtime: %s failed (status %#x); not timing a failure\n", c->name, st);
        exit(2);
    }
    if (value_mode) {
        double v;
        out[got] = '\0';
        v = last_number(out);
        if (v < 0) {
            fprintf(stderr, "abtime: %s printed no number\n", c->name);
            exit(2);
        }
        return v / 1e3; /* shown x1000, like seconds as ms */
    }
    return t1 - t0;
}

/* The median of the pairwise ratios of a's samples to b's. */
static double median_ratio(const struct cmd *a, const struct cmd *b, int rounds)
{
    double *ratios = calloc((size_t)rounds, sizeof(double));
    double m;

    for (int r = 0; r < rounds; r++)
        ratios[r] = a->samples[r] / b->samples[r];
    m = median(ratios, (size_t)rounds);
    free(ratios);
    return m;
}

int main(int argc, char **argv)
{
    int rounds = 21, warmup = 3, launches = 10, markdown = 0, opt, devnull;
    const char *unit = NULL, *base2_name = NULL;
    struct cmd *cmds, *base2 = NULL;
    size_t n;

    while ((opt = getopt(argc, argv, "r:w:k:mo:b:")) != -1) {
        switch (opt) {
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'w':
            warmup = atoi(optarg);
            break;
        case 'k':
            launches = atoi(optarg);
            break;
        case 'm':
            markdown = 1;
            break;
        case 'o':
            unit = optarg;
            break;
        case 'b':
            base2_name = optarg;
            break;
        default:
            fprintf(stderr, "usage: abtime [-r ROUNDS] [-w WARMUP] [-k LAUNCHES] [-m] [-o UNIT] "
                            "[-b NAME] NAME=CMD...\n");
            return 2;
        }
    }
    n = (size_t)(argc - optind);
    if (n < 1 || rounds < 1 || launches < 1) {
        fprintf(stderr, "abtime: give at least one NAME=CMD\n");
        return 2;
    }
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    cmds = calloc(n, sizeof(*cmds));
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(argv[optind + (int)i], '=');
        if (!eq) {
            fprintf(stderr, "abtime: '%s' is not NAME=CMD\n", argv[optind + (int)i]);
            return 2;
        }
        *eq = '\0';
        cmds[i].name = argv[optind + (int)i];
        cmds[i].argv = split(eq + 1);
        cmds[i].samples = calloc((size_t)rounds, sizeof(double));
        if (base2_name && strcmp(cmds[i].name, base2_name) == 0)
            base2 = &cmds[i];
    }
    if (base2_name && !base2) {
        fprintf(stderr, "abtime: -b %s names none of the commands\n", base2_name);
        return 2;
    }
    for (int r = -warmup; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            double sum = 0;
            for (int k = 0; k < launches; k++)
                sum += launch(&cmds[i], devnull, unit != NULL);
            if (r >= 0)
                cmds[i].samples[r] = sum / launches;
        }
    }
    if (markdown) {
        printf("| command | median %s | min %s | max %s | median ratio to %s |", unit ? unit : "ms",
               unit ? unit : "ms", unit ? unit : "ms", cmds[0].name);
        if (base2)
            printf(" median ratio to %s |", base2->name);
        printf("\n|---|---:|---:|---:|---:|%s\n", base2 ? "---:|" : "");
    } else {
        printf("%-22s %10s %10s %10s %14s", "command", "median ms", "min ms", "max ms", "ratio");
        if (base2)
            printf(" %14s", "ratio 2");
        printf("\n");
    }
    for (size_t i = 0; i < n; i++) {
        double mn = cmds[i].samples[0], mx = cmds[i].samples[0];
        double med = median(cmds[i].samples, (size_t)rounds) * 1e3;
        double ratio = median_ratio(&cmds[i], &cmds[0], rounds);

        for (int r = 0; r < rounds; r++) {
            if (cmds[i].samples[r] < mn)
                mn = cmds[i].samples[r];
            if (cmds[i].samples[r] > mx)
                mx = cmds[i].samples[r];
        }
        if (markdown)
            printf("| %s | %.3f | %.3f | %.3f | %.2f |", cmds[i].name, med, mn * 1e3, mx * 1e3,
                   ratio);
        else
            printf("%-22s %10.3f %10.3f %10.3f %14.2f", cmds[i].name, med, mn * 1e3, mx * 1e3,
                   ratio);
        if (base2)
            printf(markdown ? " %.2f |" : " %14.2f", median_ratio(&cmds[i], base2, rounds));
        printf("\n");
    }
    return 0;
}
