/* SPDX-License-Identifier: MIT */
/*
 * hostname.c: a host as a rule, a request or a TLS handshake names it,
 * checked and written one way (policy.h, net_host_normalise). Its own file
 * because the TLS module (tlsmod.h) needs it too.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>

#include "net/policy.h"

/* A DNS name: labels of [a-z0-9_-], 1-63 long, not starting or ending with
 * '-'; written in lowercase to out. */
bool net_name_valid(const char *in, size_t len, char *out, size_t size)
{
    size_t label = 0;

    if (len == 0 || len > NET_HOST_MAX || len >= size)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = (char)tolower((unsigned char)in[i]);
        if (c == '.') {
            if (label == 0 || in[i - 1] == '-')
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                   (c == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
        out[i] = c;
    }
    if (label == 0 || in[len - 1] == '-')
        return false;
    out[len] = '\0';
    return true;
}

bool net_host_normalise(const char *in, size_t len, char *out, size_t size)
{
    char tmp[NET_HOST_MAX + 3];
    unsigned char addr[16];

    if (len >= 2 && in[0] == '[' && in[len - 1] == ']') {
        in++;
        len -= 2;
        if (len >= sizeof(tmp))
            return false;
        memcpy(tmp, in, len);
        tmp[len] = '\0';
        return inet_pton(AF_INET6, tmp, addr) == 1 &&
               inet_ntop(AF_INET6, addr, out, (socklen_t)size);
    }
    if (len > 0 && in[len - 1] == '.')
        len--; /* the root label */
    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, in, len);
    tmp[len] = '\0';
    if (inet_pton(AF_INET, tmp, addr) == 1)
        return inet_ntop(AF_INET, addr, out, (socklen_t)size) != NULL;
    if (inet_pton(AF_INET6, tmp, addr) == 1)
        return inet_ntop(AF_INET6, addr, out, (socklen_t)size) != NULL;
    return net_name_valid(in, len, out, size);
}
