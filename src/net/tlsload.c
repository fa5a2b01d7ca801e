/* SPDX-License-Identifier: MIT */
/*
 * tlsload.c: the names of tls.h and ca.h, forwarded to libsandboxvm-tls.so,
 * which is opened on first use (tlsmod.h says why and how it is found).
 *
 * The calls that can fail say so when the module cannot be loaded; the
 * others act on objects that only the module makes, so it is loaded when
 * they are called (a free of NULL does nothing either way).
 */
#include "net/tlsmod.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const struct net_tls_ops *ops;
static const char *hint;
static char why[768];

void net_tls_module_hint(const char *dir)
{
    hint = dir;
}

/* The module at dir/NET_TLS_MODULE, checked; NULL with why[] added to. */
static const struct net_tls_ops *try_dir(const char *dir, size_t dirlen)
{
    static char tried[PATH_MAX];
    const struct net_tls_ops *o;
    char path[PATH_MAX];
    size_t used = strlen(why);
    const char *e;
    void *h;

    if (snprintf(path, sizeof(path), "%.*s/%s", (int)dirlen, dir, NET_TLS_MODULE) >=
            (int)sizeof(path) ||
        strcmp(path, tried) == 0)
        return NULL;
    memcpy(tried, path, sizeof(tried)); /* both PATH_MAX, path NUL-terminated */
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        e = dlerror();
        snprintf(why + used, sizeof(why) - used, "%s%.300s", used ? "; " : "", e ? e : path);
        return NULL;
    }
    o = dlsym(h, NET_TLS_OPS_SYMBOL);
    if (o && o->abi == NET_TLS_ABI && o->size == sizeof(*o) && o->version &&
        strcmp(o->version, SBVM_VERSION) == 0 && o->policy_size == sizeof(struct net_policy))
        return o; /* kept open for the process's life */
    snprintf(why + used, sizeof(why) - used, "%s%.300s is of another build of sandboxvm",
             used ? "; " : "", path);
    dlclose(h);
    return NULL;
}

static void load(void)
{
    char exe[PATH_MAX];
    Dl_info self;
    ssize_t n;

    /* Beside libsandboxvm.so, or beside the program this code is in. */
    if (dladdr((void *)load, &self) && self.dli_fname && strchr(self.dli_fname, '/'))
        ops = try_dir(self.dli_fname, (size_t)(strrchr(self.dli_fname, '/') - self.dli_fname));
    if (!ops && (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
        exe[n] = '\0';
        if (strrchr(exe, '/'))
            ops = try_dir(exe, (size_t)(strrchr(exe, '/') - exe));
    }
    if (!ops && hint)
        ops = try_dir(hint, strlen(hint));
    if (!ops)
        ops = try_dir(SBVM_TLS_MODDIR, strlen(SBVM_TLS_MODDIR));
}

int net_tls_module(sbvm_error **err)
{
    pthread_once(&once, load);
    if (ops)
        return 0;
    return error_set(err, ENOENT,
                     "TLS (an intercepted host, a CA or trust file) needs sandboxvm's module "
                     "%s, which could not be loaded: %s; it is built and installed with "
                     "sandboxvm (meson install)",
                     NET_TLS_MODULE, why);
}

/* For the calls that cannot fail: the module is loaded, since what they
 * are given was made by it. */
static const struct net_tls_ops *loaded(void)
{
    pthread_once(&once, load);
    return ops;
}

int net_certs_parse(const char *data, size_t len, const char *what, struct strbuf *pem,
                    sbvm_error **err)
{
    int r = net_tls_module(err);

    return r < 0 ? r : ops->certs_parse(data, len, what, pem, err);
}

int net_certs_load(const char *path, struct strbuf *pem, sbvm_error **err)
{
    int r = net_tls_module(err);

    return r < 0 ? r : ops->certs_load(path, pem, err);
}

int net_ca_new(const char *const *hosts, size_t nhosts, struct net_ca **out, sbvm_error **err)
{
    int r = net_tls_module(err);

    *out = NULL;
    return r < 0 ? r : ops->ca_new(hosts, nhosts, out, err);
}

void net_ca_free(struct net_ca *ca)
{
    if (ca && loaded())
        ops->ca_free(ca);
}

const char *net_ca_pem(const struct net_ca *ca)
{
    return ca && loaded() ? ops->ca_pem(ca) : "";
}

X509 *net_ca_cert(const struct net_ca *ca)
{
    return ca && loaded() ? ops->ca_cert(ca) : NULL;
}

int net_ca_leaf(struct net_ca *ca, const char *host, X509 **cert, EVP_PKEY **key)
{
    return ca && loaded() ? ops->ca_leaf(ca, host, cert, key) : -ENOENT;
}

int net_tls_new(const struct net_policy *pol, struct net_tls **out, sbvm_error **err)
{
    int r = net_tls_module(err);

    *out = NULL;
    return r < 0 ? r : ops->tls_new(pol, out, err);
}

void net_tls_free(struct net_tls *t)
{
    if (t && loaded())
        ops->tls_free(t);
}

int net_tls_connect(struct net_tls *t, struct net_tls_end *e, int fd, const char *host, int stop_fd,
                    int ms, char *why_out, size_t why_size)
{
    if (!loaded()) {
        snprintf(why_out, why_size, "no TLS module");
        return -ENOENT;
    }
    return ops->tls_connect(t, e, fd, host, stop_fd, ms, why_out, why_size);
}

int net_tls_accept(struct net_tls *t, struct net_ca *ca, struct net_tls_end *e, int fd,
                   const char *pre, size_t npre, const char *host, int stop_fd, int ms,
                   char *why_out, size_t why_size)
{
    if (!loaded()) {
        snprintf(why_out, why_size, "no TLS module");
        return -ENOENT;
    }
    return ops->tls_accept(t, ca, e, fd, pre, npre, host, stop_fd, ms, why_out, why_size);
}

ssize_t net_tls_read(struct net_tls_end *e, void *buf, size_t n)
{
    return loaded() ? ops->tls_read(e, buf, n) : -EIO;
}

bool net_tls_write(struct net_tls_end *e, const void *p, size_t n, int stop_fd, int ms)
{
    return loaded() && ops->tls_write(e, p, n, stop_fd, ms);
}

int net_tls_wait(struct net_tls_end *e, int stop_fd, int ms)
{
    return loaded() ? ops->tls_wait(e, stop_fd, ms) : -EIO;
}

void net_tls_close(struct net_tls_end *e, bool notify)
{
    if (e->ssl && loaded())
        ops->tls_close(e, notify);
}
