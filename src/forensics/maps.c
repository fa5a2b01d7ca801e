/* SPDX-License-Identifier: MIT */
/*
 * maps.c: parsing /proc/<pid>/maps text captured inside a sandbox. The text
 * comes from the guest's process (its file names are the guest's choice), so
 * the parser is strict about numbers and bounds and never trusts a line.
 */
#include <stdlib.h>
#include <string.h>

#include "forensics/forensics.h"
#include "util/util.h"

static bool parse_hex(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    int digits = 0;

    while (s < end) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else
            break;
        if (++digits > 16)
            return false;
        v = (v << 4) | (uint64_t)d;
        s++;
    }
    if (!digits)
        return false;
    *out = v;
    *p = s;
    return true;
}

static bool expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

static void skip_field(const char **p, const char *end)
{
    while (*p < end && **p != ' ')
        (*p)++;
    while (*p < end && **p == ' ')
        (*p)++;
}

/* One line: "start-end perms offset dev inode   path". */
static bool parse_line(const char *s, const char *end, struct sbvm_mapping *m, struct strv *owner)
{
    const char *path;

    if (!parse_hex(&s, end, &m->start) || !expect(&s, end, '-') || !parse_hex(&s, end, &m->end) ||
        !expect(&s, end, ' ') || m->end < m->start)
        return false;
    if (end - s < 5 || s[4] != ' ')
        return false;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        if (c != 'r' && c != 'w' && c != 'x' && c != 'p' && c != 's' && c != '-')
            return false;
        m->perms[i] = c;
    }
    m->perms[4] = '\0';
    s += 5;
    if (!parse_hex(&s, end, &m->offset) || !expect(&s, end, ' '))
        return false;
    skip_field(&s, end); /* device */
    skip_field(&s, end); /* inode */
    path = s;
    if (strv_push_owned(owner, strndup(path, (size_t)(end - path))) < 0)
        return false;
    m->path = owner->v[owner->n - 1];
    return true;
}

size_t maps_parse(const char *text, size_t len, struct sbvm_mapping *out, size_t max,
                  struct strv *owner)
{
    const char *p = text, *stop = text + len;
    size_t n = 0;

    while (p < stop && n < max) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *end = nl ? nl : stop;
        if (parse_line(p, end, &out[n], owner))
            n++;
        p = nl ? nl + 1 : stop;
    }
    return n;
}

const struct sbvm_mapping *maps_find(const struct sbvm_mapping *m, size_t n, uint64_t addr)
{
    for (size_t i = 0; i < n; i++)
        if (addr >= m[i].start && addr < m[i].end)
            return &m[i];
    return NULL;
}
