/* SPDX-License-Identifier: MIT */
/* api.c: the public calls for devices and drivers: the config's and the result's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/result.h"
#include "devices/devices.h"
#include "util/error.h"
#include "util/util.h"

#define MAX_DEVICES 8
#define MAX_DRIVERS 16

SBVM_API int sbvm_config_add_device(sbvm_config *cfg, const char *spec, sbvm_error **err)
{
    struct devspec s;
    int rc;

    if (!spec)
        return error_set(err, EINVAL, "a device description is needed");
    if (cfg->devices.n >= MAX_DEVICES)
        return error_set(err, E2BIG, "at most %d devices", MAX_DEVICES);
    rc = devspec_parse(spec, &s, err);
    if (rc < 0)
        return rc;
    devspec_release(&s);
    return strv_push(&cfg->devices, spec) < 0 ? error_set(err, ENOMEM, "out of memory") : 0;
}

SBVM_API int sbvm_config_add_driver(sbvm_config *cfg, const char *path, sbvm_error **err)
{
    char *real;
    struct stat st;
    int rc;

    if (!path || !*path)
        return error_set(err, EINVAL, "a driver file is needed");
    if (cfg->drivers.n >= MAX_DRIVERS)
        return error_set(err, E2BIG, "at most %d drivers", MAX_DRIVERS);
    real = realpath(path, NULL);
    if (!real)
        return error_sys(err, errno, "driver %s", path);
    if (stat(real, &st) < 0 || !S_ISREG(st.st_mode) || access(real, R_OK) < 0) {
        rc = error_set(err, EINVAL, "driver %s: not a readable file", path);
        free(real);
        return rc;
    }
    /* ':' separates drivers in SBVM_DRIVERS. */
    if (strchr(real, ':')) {
        rc = error_set(err, EINVAL, "driver %s: a path with ':' cannot be named", path);
        free(real);
        return rc;
    }
    return strv_push_owned(&cfg->drivers, real) < 0 ? error_set(err, ENOMEM, "out of memory") : 0;
}

SBVM_API int sbvm_config_set_device_trace(sbvm_config *cfg, const char *path, int json,
                                          sbvm_error **err)
{
    char *copy = path ? strdup(path) : NULL;

    if (path && !copy)
        return error_set(err, ENOMEM, "out of memory");
    free(cfg->device_trace);
    cfg->device_trace = copy;
    cfg->device_trace_json = json != 0;
    return 0;
}

SBVM_API size_t sbvm_result_devices(const sbvm_result *r, const char *const **lines)
{
    if (lines)
        *lines = (const char *const *)r->devices.v;
    return r->devices.n;
}

SBVM_API size_t sbvm_result_driver_ledger(const sbvm_result *r, const char *const **lines)
{
    if (lines)
        *lines = (const char *const *)r->driver_ledger.v;
    return r->driver_ledger.n;
}
