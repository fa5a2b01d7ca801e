/* SPDX-License-Identifier: MIT */
/*
 * banned.h: libc calls that invite overflows or hidden global state. Included
 * last by every source file through util.h; use strbuf / snprintf instead.
 */
#ifndef SBVM_UTIL_BANNED_H
#define SBVM_UTIL_BANNED_H

#define SBVM_BANNED(func) sorry_##func##_is_banned_in_sandboxvm

#undef strcpy
#define strcpy(x, y) SBVM_BANNED(strcpy)
#undef strcat
#define strcat(x, y) SBVM_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) SBVM_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) SBVM_BANNED(strncat)
#undef sprintf
#define sprintf(...) SBVM_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) SBVM_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) SBVM_BANNED(strtok)
#undef gets
#define gets(x) SBVM_BANNED(gets)
#undef gmtime
#define gmtime(t) SBVM_BANNED(gmtime)
#undef localtime
#define localtime(t) SBVM_BANNED(localtime)
#undef asctime
#define asctime(t) SBVM_BANNED(asctime)
#undef ctime
#define ctime(t) SBVM_BANNED(ctime)
#undef mktemp
#define mktemp(t) SBVM_BANNED(mktemp)

#endif
