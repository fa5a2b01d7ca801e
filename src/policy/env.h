/* SPDX-License-Identifier: MIT */
/* env.h: the guest's environment, built on the host. */
#ifndef SBVM_POLICY_ENV_H
#define SBVM_POLICY_ENV_H

#include "core/config.h"
#include "util/strv.h"

/*
 * Builds the guest's envp: a clean default set (PATH, HOME=/tmp, TMPDIR=/tmp,
 * LANG=C.UTF-8, USER, LOGNAME, SHELL), or the caller's own environment when
 * keep_env is set, then every variable the config sets, in order, each
 * replacing an earlier one of the same name.
 */
int env_build(const struct sbvm_config *cfg, struct strv *out, sbvm_error **err);

/* Adds "KEY=VALUE", replacing an existing KEY; -ENOMEM on failure. */
int env_put(struct strv *env, const char *kv);

/* The value of `key` in an envp-style vector, or NULL. */
const char *env_lookup(char *const *envp, const char *key);

#endif
