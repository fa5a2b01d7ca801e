/* SPDX-License-Identifier: MIT */
/*
 * dep.c: a dependency of the buggy fixture library, found through its
 * RUNPATH ($ORIGIN) in the build directory: what the sandbox must bind
 * beside the library for the loader to find it.
 */
int calls_dep_twice(int x);

int calls_dep_twice(int x)
{
    return 2 * x;
}
