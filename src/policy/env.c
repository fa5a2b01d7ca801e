/* SPDX-License-Identifier: MIT */
/* env.c: composing the guest's environment. */
#include "policy/env.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/util.h"

extern char **environ;

static const char *const default_env[] = {
    "PATH=" SBVM_DEFAULT_GUEST_PATH,
    "HOME=/tmp",
    "TMPDIR=/tmp",
    "LANG=C.UTF-8",
    "USER=sandbox",
    "LOGNAME=sandbox",
    "SHELL=/bin/sh",
};

const char *env_lookup(char *const *envp, const char *key)
{
    size_t klen = strlen(key);

    for (; envp && *envp; envp++)
        if (strncmp(*envp, key, klen) == 0 && (*envp)[klen] == '=')
            return *envp + klen + 1;
    return NULL;
}

/* Replaces the entry with the same key as kv, or appends kv. */
int env_put(struct strv *env, const char *kv)
{
    size_t klen = strcspn(kv, "=");
    char *copy;

    for (size_t i = 0; i < env->n; i++) {
        if (strncmp(env->v[i], kv, klen) == 0 && env->v[i][klen] == '=') {
            copy = strdup(kv);
            if (!copy)
                return -ENOMEM;
            free(env->v[i]);
            env->v[i] = copy;
            return 0;
        }
    }
    return strv_push(env, kv);
}

int env_build(const struct sbvm_config *cfg, struct strv *out, sbvm_error **err)
{
    struct strv env = STRV_INIT;

    if (cfg->keep_env) {
        for (char **e = environ; e && *e; e++)
            if (strchr(*e, '=') && **e != '=' && env_put(&env, *e) < 0)
                goto oom;
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(default_env); i++)
            if (strv_push(&env, default_env[i]) < 0)
                goto oom;
    }
    for (size_t i = 0; i < cfg->env_set.n; i++)
        if (env_put(&env, cfg->env_set.v[i]) < 0)
            goto oom;
    if (env.n == 0 && strv_push(&env, "PATH=" SBVM_DEFAULT_GUEST_PATH) < 0)
        goto oom;
    *out = env;
    return 0;
oom:
    strv_release(&env);
    return error_set(err, ENOMEM, "building the guest's environment: out of memory");
}
