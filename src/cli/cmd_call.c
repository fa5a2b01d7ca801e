/* SPDX-License-Identifier: MIT */
/*
 * cmd_call.c: `sandboxvm call LIBRARY FUNCTION [ARG...]`: one call of a
 * function of a shared library in a sandbox (sandboxvm/calls.h), from the
 * shell. Arguments are written with a kind prefix (help below); what the
 * function returns and what it wrote into its out buffers are printed (or
 * written to files); a crash prints its report and exits as `run` does.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandboxvm/sandboxvm.h"
#include "util/util.h"

#define ARGS_MAX     16
#define FILE_MAX     (256u << 20) /* an in: file, at most */
#define STR_RET_MAX  65536        /* --ret str: bytes read, at most */
#define HEX_SHOWN    256          /* out buffers printed: bytes shown */
#define EXIT_TIMEOUT 124

void cmd_call_help(void)
{
    fputs("Usage: sandboxvm call [OPTIONS] LIBRARY FUNCTION [ARG...]\n"
          "       (options come first: -7 after the function is an argument)\n"
          "\n"
          "Call FUNCTION of the shared library LIBRARY in a sandbox and print what it\n"
          "returns. The library is loaded by a worker process in a sandbox of its own (no\n"
          "exec, no new sockets, no file opened for writing); if the call crashes, is\n"
          "denied or runs out of time, you get the report, never a crash of your own.\n"
          "LIBRARY is a path (made visible read-only, with its RUNPATH dependencies) or a\n"
          "name the sandbox's loader finds (libz.so.1).\n"
          "\n"
          "Arguments, in order (the kind first):\n"
          "  42  -7  0x1f   an integer (any integer type; also a raw pointer value)\n"
          "  d:1.5  f:1.5   a double, a float\n"
          "  s:TEXT         a NUL-terminated string the function reads\n"
          "  in:@FILE       the bytes of FILE, read by the function (in:hex:0a1b.., in:TEXT)\n"
          "  out:N          an N-byte buffer the function writes, printed after the call\n"
          "  out:N@FILE     the same, written to FILE (which must not exist)\n"
          "  inout:@FILE    FILE's bytes in, and what the function left there out (printed;\n"
          "                 inout:hex:.. too)\n"
          "  u64:N  u32:N   a pointer to an 8- or 4-byte integer holding N, which the\n"
          "                 function may change (printed after: size_t *len, uLongf *)\n"
          "  len:K          the length in bytes of argument K (1-based): a buffer's size\n"
          "  null           a NULL pointer\n"
          "\n"
          "What it can express: up to 16 arguments (6 integer-class and 8 floating-point\n"
          "in registers, 8 more on the stack), scalar return values, strings, flat\n"
          "buffers. What it cannot: structures passed by value or holding pointers,\n"
          "callbacks, variadic floating-point arguments past those, functions that keep\n"
          "state between calls (use the C API or the Python module: sandboxvm/calls.h).\n"
          "\n"
          "Options:\n"
          "  -r, --ret TYPE     what it returns: int (default), uint, long, ulong, double,\n"
          "                     float, void, ptr (printed as a handle), str (a string,\n"
          "                     printed; at most 64 KiB)\n"
          "  -t, --timeout SEC  the call's wall-clock budget (default: none)\n"
          "      --cpu SEC      the call's CPU budget (default: none)\n"
          "      --memory SIZE  the sandbox's memory limit (512M, 2G)\n"
          "      --ro PATH      make a host file or directory visible read-only\n"
          "      --no-symbolize report crashes without symbols (sooner)\n"
          "      --no-zygote    exec the worker instead of forking it from a zygote\n"
          "  -q, --quiet        print only the return value\n"
          "  -h, --help         this help\n"
          "\n"
          "Examples:\n"
          "  sandboxvm call --ret str libz.so.1 zlibVersion\n"
          "  sandboxvm call --ret ulong libz.so.1 crc32 0 s:hello 5\n"
          "  sandboxvm call libz.so.1 uncompress out:1048576@data.raw u64:1048576 in:@data.z "
          "len:3\n"
          "  sandboxvm call --timeout 2 ./libfoo.so parse_header in:@input.bin len:1\n"
          "\n"
          "Exit status: 0 when the call returned; 128+N when it crashed of signal N\n"
          "(128+SIGSYS when denied); 124 over its budget; 125 when it could not be made.\n"
          "docs/CALLS.md explains the model.\n",
          stdout);
}

enum akind { A_INT, A_DOUBLE, A_FLOAT, A_STR, A_IN, A_OUT, A_INOUT, A_U64, A_U32, A_LEN, A_NULL };

struct carg {
    enum akind kind;
    int64_t i;
    double d;
    uint8_t *buf;
    size_t len;
    const char *file; /* out:N@FILE */
    unsigned ref;     /* len:K */
    uint64_t num;     /* u64/u32 */
};

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    char *data = NULL;
    size_t n = 0;
    int r = read_file_at(AT_FDCWD, path, FILE_MAX, &data, &n);

    if (r < 0) {
        cli_error("%s: %s", path, r == -EFBIG ? "larger than 256 MiB" : strerror(-r));
        return -1;
    }
    *out = (uint8_t *)data;
    *len = n;
    return 0;
}

static int parse_hex(const char *s, uint8_t **out, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *b;

    if (n % 2) {
        cli_error("hex:%s: an odd number of digits", s);
        return -1;
    }
    b = malloc(n / 2 + 1);
    if (!b)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", s[2 * i + 1])) {
            cli_error("hex:%s: not hexadecimal", s);
            free(b);
            return -1;
        }
        b[i] = (uint8_t)v;
    }
    *out = b;
    *len = n / 2;
    return 0;
}

/* in:/inout: contents: @FILE, hex:..., or the text itself. */
static int parse_bytes(const char *s, uint8_t **out, size_t *len)
{
    if (s[0] == '@')
        return read_file(s + 1, out, len);
    if (str_has_prefix(s, "hex:"))
        return parse_hex(s + 4, out, len);
    *len = strlen(s);
    *out = (uint8_t *)strdup(s);
    return *out ? 0 : -1;
}

static int parse_int(const char *s, int64_t *v)
{
    char *end;

    errno = 0;
    if (s[0] == '-')
        *v = strtoll(s, &end, 0);
    else
        *v = (int64_t)strtoull(s, &end, 0);
    return errno || end == s || *end ? -1 : 0;
}

static int parse_arg(const char *s, struct carg *a)
{
    memset(a, 0, sizeof(*a));
    if (streq(s, "null")) {
        a->kind = A_NULL;
        return 0;
    }
    if (str_has_prefix(s, "i:"))
        s += 2;
    if (str_has_prefix(s, "d:") || str_has_prefix(s, "f:")) {
        char *end;
        a->kind = s[0] == 'd' ? A_DOUBLE : A_FLOAT;
        errno = 0;
        a->d = strtod(s + 2, &end);
        if (errno || end == s + 2 || *end) {
            cli_error("%s: not a number", s);
            return -1;
        }
        return 0;
    }
    if (str_has_prefix(s, "s:")) {
        a->kind = A_STR;
        a->len = strlen(s + 2) + 1;
        a->buf = (uint8_t *)strdup(s + 2);
        return a->buf ? 0 : -1;
    }
    if (str_has_prefix(s, "in:")) {
        a->kind = A_IN;
        return parse_bytes(s + 3, &a->buf, &a->len);
    }
    if (str_has_prefix(s, "inout:")) {
        a->kind = A_INOUT;
        return parse_bytes(s + 6, &a->buf, &a->len);
    }
    if (str_has_prefix(s, "out:")) {
        const char *at = strchr(s, '@');
        char num[32];
        uint64_t n;
        size_t k = at ? (size_t)(at - s - 4) : strlen(s + 4);
        a->kind = A_OUT;
        if (k == 0 || k >= sizeof(num)) {
            cli_error("%s: out:N with N a size (4096, 64K, 1M)", s);
            return -1;
        }
        memcpy(num, s + 4, k);
        num[k] = '\0';
        if (parse_size(num, &n) < 0 || n > FILE_MAX) {
            cli_error("%s: out:N with N a size up to 256M", s);
            return -1;
        }
        a->len = (size_t)n;
        a->file = at ? at + 1 : NULL;
        if (a->file && !*a->file) {
            cli_error("%s: name a file after '@'", s);
            return -1;
        }
        a->buf = calloc(1, a->len ? a->len : 1);
        return a->buf ? 0 : -1;
    }
    if (str_has_prefix(s, "u64:") || str_has_prefix(s, "u32:")) {
        int64_t v;
        a->kind = s[1] == '6' ? A_U64 : A_U32;
        if (parse_int(s + 4, &v) < 0 || (a->kind == A_U32 && (uint64_t)v > UINT32_MAX)) {
            cli_error("%s: not a %s integer", s, a->kind == A_U64 ? "64-bit" : "32-bit");
            return -1;
        }
        a->num = (uint64_t)v;
        return 0;
    }
    if (str_has_prefix(s, "len:")) {
        int64_t k;
        a->kind = A_LEN;
        if (parse_int(s + 4, &k) < 0 || k < 1 || k > ARGS_MAX) {
            cli_error("%s: len:K with K the number of a buffer argument (1..%d)", s, ARGS_MAX);
            return -1;
        }
        a->ref = (unsigned)k;
        return 0;
    }
    a->kind = A_INT;
    if (parse_int(s, &a->i) < 0) {
        cli_error("'%s': not an argument (an integer, or KIND:VALUE: see sandboxvm call --help)",
                  s);
        return -1;
    }
    return 0;
}

static bool has_buffer(const struct carg *a)
{
    return a->kind == A_STR || a->kind == A_IN || a->kind == A_OUT || a->kind == A_INOUT ||
           a->kind == A_U64 || a->kind == A_U32;
}

static void print_hex(const char *label, const uint8_t *b, size_t len)
{
    size_t n = len < HEX_SHOWN ? len : HEX_SHOWN;

    printf("%s: %zu bytes:", label, len);
    for (size_t i = 0; i < n; i++)
        printf("%s%02x", i % 32 ? " " : "\n  ", b[i]);
    printf("%s\n", len > n ? " ..." : "");
}

static int write_out(const char *path, const uint8_t *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);

    if (fd < 0) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    if (write_full(fd, b, len) < 0 || close(fd) < 0) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

enum { OPT_CPU = 300, OPT_MEMORY, OPT_RO, OPT_NO_SYMBOLIZE, OPT_NO_ZYGOTE };

static int parse_type(const char *s, enum sbvm_type *t, bool *str)
{
    static const struct {
        const char *name;
        enum sbvm_type t;
    } types[] = {
        { "int", SBVM_INT },     { "uint", SBVM_UINT },    { "long", SBVM_LONG },
        { "ulong", SBVM_ULONG }, { "size_t", SBVM_ULONG }, { "double", SBVM_DOUBLE },
        { "float", SBVM_FLOAT }, { "void", SBVM_VOID },    { "ptr", SBVM_PTR },
        { "str", SBVM_PTR },
    };

    *str = streq(s, "str");
    for (size_t i = 0; i < ARRAY_SIZE(types); i++)
        if (streq(s, types[i].name)) {
            *t = types[i].t;
            return 0;
        }
    cli_error("--ret %s: one of int, uint, long, ulong, double, float, void, ptr, str", s);
    return -1;
}

/* A returned string: its length through the library's own strlen, then
 * its bytes (both in the worker). */
static int print_string(sbvm_lib *lib, sbvm_handle h, bool quiet)
{
    struct sbvm_arg a = SBVM_HANDLE(h);
    union sbvm_value v;
    sbvm_fn *strlen_fn;
    sbvm_error *err = NULL;
    char *s;
    int r;

    if (!h) {
        printf(quiet ? "NULL\n" : "returned: NULL\n");
        return 0;
    }
    if ((r = sbvm_lib_sym(lib, "strlen", &strlen_fn, &err)) < 0 ||
        (r = sbvm_lib_call(lib, strlen_fn, SBVM_ULONG, &a, 1, &v, NULL, &err)) < 0) {
        cli_error("reading the returned string: %s", err ? sbvm_error_message(err) : "?");
        sbvm_error_free(err);
        return -1;
    }
    if (v.u > STR_RET_MAX)
        v.u = STR_RET_MAX;
    s = calloc(1, v.u + 1);
    if (!s || sbvm_lib_read(lib, h, 0, s, v.u, &err) < 0) {
        cli_error("reading the returned string: %s", err ? sbvm_error_message(err) : "?");
        sbvm_error_free(err);
        free(s);
        return -1;
    }
    if (quiet)
        cli_text(1, "%s\n", s);
    else
        cli_text(1, "returned: \"%s\"\n", s);
    free(s);
    return 0;
}

static void print_value(enum sbvm_type t, const union sbvm_value *v, bool quiet)
{
    if (!quiet && t != SBVM_VOID)
        printf("returned: ");
    switch (t) {
    case SBVM_VOID:
        if (!quiet)
            printf("returned\n");
        break;
    case SBVM_INT:
    case SBVM_LONG:
        printf("%" PRId64 "\n", v->i);
        break;
    case SBVM_UINT:
    case SBVM_ULONG:
        printf("%" PRIu64 "\n", v->u);
        break;
    case SBVM_DOUBLE:
        printf("%.17g\n", v->d);
        break;
    case SBVM_FLOAT:
        printf("%.9g\n", (double)v->f);
        break;
    case SBVM_PTR:
        printf(v->h ? "handle 0x%" PRIx64 "\n" : "NULL\n", v->h);
        break;
    }
}

/* The exit status for a call that did not return, as `run` has it. */
static int failed_status(const struct sbvm_call_info *info)
{
    switch (info->outcome) {
    case SBVM_CALL_CRASHED:
        return info->result ? 128 + sbvm_result_signal(info->result) : 128 + SIGSEGV;
    case SBVM_CALL_DENIED:
        return 128 + SIGSYS;
    case SBVM_CALL_TIMEOUT:
    case SBVM_CALL_CPU:
        return EXIT_TIMEOUT;
    default:
        return EXIT_USAGE;
    }
}

int cmd_call(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "ret", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "cpu", required_argument, NULL, OPT_CPU },
        { "memory", required_argument, NULL, OPT_MEMORY },
        { "ro", required_argument, NULL, OPT_RO },
        { "no-symbolize", no_argument, NULL, OPT_NO_SYMBOLIZE },
        { "no-zygote", no_argument, NULL, OPT_NO_ZYGOTE },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    /* One call: no spare worker is worth starting. */
    struct sbvm_lib_options lo = { .size = sizeof(lo), .spares = SBVM_LIB_NO_SPARES };
    struct sbvm_call_info info = { .size = sizeof(info) };
    struct sbvm_arg args[ARGS_MAX];
    struct carg ca[ARGS_MAX];
    enum sbvm_type ret = SBVM_INT;
    sbvm_config *cfg = sbvm_config_new();
    sbvm_lib *lib = NULL;
    sbvm_fn *fn = NULL;
    sbvm_error *err = NULL;
    union sbvm_value v;
    bool quiet = false, str = false;
    size_t n = 0;
    int c, status = EXIT_USAGE, r;

    if (!cfg) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "+r:t:qh", longopts, NULL)) != -1) {
        double sec;
        uint64_t val;
        char *end;

        switch (c) {
        case 'r':
            if (parse_type(optarg, &ret, &str) < 0)
                goto done;
            break;
        case 't':
        case OPT_CPU:
            errno = 0;
            sec = strtod(optarg, &end);
            if (errno || end == optarg || *end || seconds_to_ms(sec, &val) < 0 || !val) {
                cli_error("--%s %s: a number of seconds", c == 't' ? "timeout" : "cpu", optarg);
                goto done;
            }
            if (c == 't')
                lo.timeout_ms = val;
            else
                lo.cpu_ms = val;
            break;
        case OPT_MEMORY:
            if (parse_size(optarg, &val) < 0 ||
                sbvm_config_set_limit(cfg, SBVM_LIMIT_MEMORY, val, &err) < 0) {
                cli_error("--memory %s: %s", optarg, err ? sbvm_error_message(err) : "a size");
                goto done;
            }
            break;
        case OPT_RO:
            if (sbvm_config_add_mount(cfg, SBVM_MOUNT_RO, optarg, NULL, 0, &err) < 0) {
                cli_error("%s", sbvm_error_message(err));
                goto done;
            }
            break;
        case OPT_NO_SYMBOLIZE:
            sbvm_config_set_symbolize(cfg, 0);
            break;
        case OPT_NO_ZYGOTE:
            lo.no_zygote = 1;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            cmd_call_help();
            status = 0;
            goto done;
        default:
            cli_error("see sandboxvm call --help");
            goto done;
        }
    }
    if (argc - optind < 2) {
        cli_error("name a library and a function: sandboxvm call LIBRARY FUNCTION [ARG...]");
        goto done;
    }
    if (argc - optind - 2 > ARGS_MAX) {
        cli_error("%d arguments: at most %d", argc - optind - 2, ARGS_MAX);
        goto done;
    }
    for (int i = optind + 2; i < argc; i++, n++)
        if (parse_arg(argv[i], &ca[n]) < 0) {
            n++;
            goto done;
        }
    for (size_t i = 0; i < n; i++) {
        struct carg *a = &ca[i];
        switch (a->kind) {
        case A_INT:
            args[i] = SBVM_INT(a->i);
            break;
        case A_DOUBLE:
            args[i] = SBVM_DOUBLE(a->d);
            break;
        case A_FLOAT:
            args[i] = SBVM_FLOAT(a->d);
            break;
        case A_STR:
        case A_IN:
            args[i] = SBVM_IN(a->buf, a->len);
            break;
        case A_OUT:
            args[i] = SBVM_OUT(a->buf, a->len);
            break;
        case A_INOUT:
            args[i] = SBVM_INOUT(a->buf, a->len);
            break;
        case A_U64:
            args[i] = SBVM_INOUT(&a->num, 8);
            break;
        case A_U32:
            args[i] = SBVM_INOUT(&a->num, 4); /* the low half: little-endian */
            break;
        case A_LEN:
            if (a->ref > n || !has_buffer(&ca[a->ref - 1])) {
                cli_error("len:%u: argument %u is not a buffer", a->ref, a->ref);
                goto done;
            }
            args[i] = SBVM_INT(ca[a->ref - 1].kind == A_U64   ? 8
                               : ca[a->ref - 1].kind == A_U32 ? 4
                                                              : ca[a->ref - 1].len);
            break;
        case A_NULL:
            args[i] = SBVM_NULL;
            break;
        }
    }
    if (sbvm_lib_open(argv[optind], cfg, &lo, &lib, &err) < 0 ||
        sbvm_lib_sym(lib, argv[optind + 1], &fn, &err) < 0) {
        cli_error("%s", sbvm_error_message(err));
        goto done;
    }
    r = sbvm_lib_call(lib, fn, ret, args, n, &v, &info, &err);
    if (r < 0) {
        char *d = info.result ? sbvm_result_details(info.result, "  ") : NULL;
        cli_error("%s: %s", argv[optind + 1], sbvm_error_message(err));
        if (d && *d)
            cli_text(2, "%s\n", d);
        free(d);
        status = info.outcome == SBVM_CALL_REFUSED ? EXIT_USAGE : failed_status(&info);
        goto done;
    }
    status = 0;
    if (str) {
        if (print_string(lib, v.h, quiet) < 0)
            status = EXIT_USAGE;
    } else {
        print_value(ret, &v, quiet);
    }
    for (size_t i = 0; i < n; i++) {
        struct carg *a = &ca[i];
        char label[32];
        snprintf(label, sizeof(label), "argument %zu", i + 1);
        if (a->kind == A_OUT && a->file) {
            if (write_out(a->file, a->buf, a->len) < 0)
                status = EXIT_USAGE;
            else if (!quiet)
                printf("%s: %zu bytes written to %s\n", label, a->len, a->file);
        } else if ((a->kind == A_OUT || a->kind == A_INOUT) && !quiet) {
            print_hex(label, a->buf, a->len);
        } else if ((a->kind == A_U64 || a->kind == A_U32) && !quiet) {
            printf("%s: %" PRIu64 "\n", label, a->kind == A_U32 ? (uint32_t)a->num : a->num);
        }
    }
done:
    fflush(stdout);
    for (size_t i = 0; i < n; i++)
        free(ca[i].buf);
    sbvm_result_free(info.result);
    sbvm_error_free(err);
    sbvm_lib_close(lib);
    sbvm_config_free(cfg);
    return status;
}
