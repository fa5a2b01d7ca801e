/* SPDX-License-Identifier: MIT */
/*
 * test-oci.c: the OCI runtime's config.json and process.json parser (shape),
 * its policy (what sandboxvm refuses by design, each refusal naming the
 * field), the network broker's annotations turned into the sandbox's
 * configuration, and the container's seccomp profile compiled and run on
 * calls.
 */
#include <errno.h>
#include <linux/filter.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/process/cgroup.h"
#include "core/config.h"
#include "oci/oci.h"
#include "oci/spec.h"
#include "policy/bpf_eval.h"
#include "unit.h"

/* A config like the ones podman writes, with a seccomp profile. */
static const char base_config[] =
    "{\"ociVersion\": \"1.0.2-dev\","
    " \"process\": {\"user\": {\"uid\": 0, \"gid\": 0, \"umask\": 18, \"additionalGids\": [0]},"
    "   \"args\": [\"echo\", \"hi\"],"
    "   \"env\": [\"PATH=/usr/bin:/bin\", \"TERM=xterm\"],"
    "   \"cwd\": \"/\","
    "   \"capabilities\": {\"bounding\": [\"CAP_CHOWN\", \"CAP_KILL\", \"CAP_SETUID\"],"
    "                      \"effective\": [\"CAP_CHOWN\"]},"
    "   \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 2048, \"soft\": 1024}],"
    "   \"noNewPrivileges\": true, \"terminal\": false},"
    " \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
    " \"hostname\": \"box\","
    " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
    "   {\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"/srv\","
    "    \"options\": [\"rbind\", \"ro\"]}],"
    " \"annotations\": {\"io.container.manager\": \"libpod\"},"
    " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"},"
    "   {\"type\": \"network\", \"path\": \"/run/netns/x\"}, {\"type\": \"ipc\"}, {\"type\": "
    "\"uts\"}],"
    "   \"resources\": {\"pids\": {\"limit\": 2048}, \"memory\": {\"limit\": 1073741824}},"
    "   \"sysctl\": {\"net.ipv4.ping_group_range\": \"0 0\"},"
    "   \"maskedPaths\": [\"/proc/kcore\"], \"readonlyPaths\": [\"/proc/sys\"],"
    "   \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\","
    "     \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],"
    "     \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\","
    "                     \"errnoRet\": 13},"
    "                    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\","
    "                     \"args\": [{\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"}]}]}}}";

static struct oci_spec parse_ok(const char *json)
{
    struct oci_spec s;
    sbvm_error *e = NULL;
    int r = oci_spec_parse(json, strlen(json), &s, &e);

    ck_assert_msg(r == 0, "parse failed: %s", e ? sbvm_error_message(e) : "?");
    return s;
}

/* A copy of the base config with one substring replaced. */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(base_config, from);
    size_t n;
    char *out;

    ck_assert_msg(at != NULL, "'%s' is not in the base config", from);
    n = strlen(base_config) - strlen(from) + strlen(to) + 1;
    out = malloc(n);
    ck_assert_ptr_nonnull(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - base_config), base_config, to, at + strlen(from));
    return out;
}

/* An error that names `field` and says `words` (when given); freed. */
static void says(sbvm_error *e, const char *field, const char *words)
{
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strstr(sbvm_error_message(e), field), "'%s' does not name %s",
                  sbvm_error_message(e), field);
    ck_assert_msg(!words || strstr(sbvm_error_message(e), words), "'%s' does not say '%s'",
                  sbvm_error_message(e), words);
    sbvm_error_free(e);
}

/* Parsing fails, and the message names `field` and contains `words`. */
static void parse_fails(const char *json, size_t len, const char *field, const char *words)
{
    struct oci_spec s;
    sbvm_error *e = NULL;
    int r = oci_spec_parse(json, len, &s, &e);

    ck_assert_int_lt(r, 0);
    says(e, field, words);
}

static void edit_fails(const char *from, const char *to, const char *field, const char *words)
{
    char *j = edit(from, to);
    parse_fails(j, strlen(j), field, words);
    free(j);
}

/* Parses, then the policy refuses naming `field`. */
static void refused(const char *json, bool root, const char *field, const char *words)
{
    struct oci_spec s = parse_ok(json);
    sbvm_error *e = NULL;
    int r = oci_spec_check(&s, root, &e);

    ck_assert_int_lt(r, 0);
    says(e, field, words);
    oci_spec_release(&s);
}

static void edit_refused(const char *from, const char *to, bool root, const char *field,
                         const char *words)
{
    char *j = edit(from, to);
    refused(j, root, field, words);
    free(j);
}

START_TEST(parses_what_podman_writes)
{
    struct oci_spec s = parse_ok(base_config);
    sbvm_error *e = NULL;

    ck_assert_str_eq(s.oci_version, "1.0.2-dev");
    ck_assert_str_eq(s.root_path, "rootfs");
    ck_assert(s.root_readonly);
    ck_assert_uint_eq(s.process.args.n, 2);
    ck_assert_str_eq(s.process.args.v[1], "hi");
    ck_assert_uint_eq(s.process.env.n, 2);
    ck_assert_str_eq(s.process.cwd, "/");
    ck_assert(s.process.has_umask);
    ck_assert_uint_eq(s.process.umask, 022);
    ck_assert_uint_eq(s.process.ngroups, 1);
    ck_assert_uint_eq(s.process.nrlimits, 1);
    ck_assert_int_eq(s.process.rlimits[0].resource, RLIMIT_NOFILE);
    ck_assert_uint_eq(s.process.rlimits[0].soft, 1024);
    ck_assert_uint_eq(s.process.rlimits[0].hard, 2048);
    ck_assert(s.process.caps[OCI_CAP_BOUNDING] & (1ULL << 0));
    ck_assert(s.process.caps[OCI_CAP_BOUNDING] & (1ULL << 5));
    ck_assert_str_eq(s.hostname, "box");
    ck_assert_uint_eq(s.nmounts, 2);
    ck_assert_str_eq(s.mounts[1].destination, "/data");
    ck_assert_uint_eq(s.mounts[1].options.n, 2);
    ck_assert(s.ns[OCI_NS_PID] && s.ns[OCI_NS_NETWORK] && !s.ns[OCI_NS_USER]);
    ck_assert_str_eq(s.ns_path[OCI_NS_NETWORK], "/run/netns/x");
    ck_assert(s.has_pids_limit && s.pids_limit == 2048);
    ck_assert(s.has_memory_limit && s.memory_limit == 1073741824);
    ck_assert_uint_eq(s.sysctl_keys.n, 1);
    ck_assert_str_eq(s.sysctl_values.v[0], "0 0");
    ck_assert_ptr_nonnull(s.seccomp);
    ck_assert_uint_eq(s.seccomp->nrules, 2);
    ck_assert_uint_eq(s.seccomp->rules[0].errno_ret, 13);
    ck_assert_uint_eq(s.seccomp->rules[1].nargs, 1);
    ck_assert_uint_eq(s.seccomp->archs, OCI_ARCH_X86_64 | OCI_ARCH_X86);
    ck_assert_str_eq(oci_spec_annotation(&s, "io.container.manager"), "libpod");
    ck_assert_ptr_null(oci_spec_annotation(&s, "nothing"));
    /* The default capabilities are accepted (and granted none of). */
    ck_assert_int_eq(oci_spec_check(&s, true, &e), 0);
    oci_spec_release(&s);
}
END_TEST

START_TEST(malformed_documents_name_the_field)
{
    static const char nul[] = "{\"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"},"
                              " \"process\": {\"args\": [\"a\\u0000b\"], \"cwd\": \"/\"}}";

    parse_fails("[]", 2, "config.json", "object");
    parse_fails("{", 1, "config.json", "line");
    parse_fails("{\"root\": {\"path\": \"r\"}}", 23, "ociVersion", "missing");
    parse_fails("{\"ociVersion\": \"1.0\"}", 21, "root", "missing");
    parse_fails(nul, strlen(nul), "config.json", NULL);
    /* Duplicate keys are refused, not resolved either way. */
    parse_fails("{\"ociVersion\": \"1.0\", \"ociVersion\": \"9\", \"root\": {\"path\": \"r\"}}", 63,
                "config.json", "duplicate");
    edit_fails("\"args\": [\"echo\", \"hi\"]", "\"args\": \"echo hi\"", "process.args", "array");
    edit_fails("\"args\": [\"echo\", \"hi\"]", "\"args\": [\"echo\", 3]", "process.args[1]",
               "string");
    edit_fails("\"TERM=xterm\"", "\"TERM\"", "process.env[1]", "KEY=VALUE");
    edit_fails("\"TERM=xterm\"", "\"=xterm\"", "process.env[1]", "KEY=VALUE");
    edit_fails("\"cwd\": \"/\"", "\"cwd\": \"tmp\"", "process.cwd", "absolute");
    edit_fails("\"cwd\": \"/\"", "\"cwd\": \"/a/../etc\"", "process.cwd", "..");
    edit_fails("\"cwd\": \"/\",", "", "process.cwd", "missing");
    edit_fails("\"uid\": 0,", "\"uid\": -1,", "process.user.uid", "range");
    edit_fails("\"uid\": 0,", "\"uid\": 4294967296,", "process.user.uid", "range");
    edit_fails("\"uid\": 0,", "\"uid\": \"0\",", "process.user.uid", "integer");
    edit_fails("\"umask\": 18", "\"umask\": 4096", "process.user.umask", "mask");
    edit_fails("\"RLIMIT_NOFILE\"", "\"RLIMIT_BOGUS\"", "process.rlimits[0]", "unknown");
    edit_fails("\"hard\": 2048, \"soft\": 1024", "\"hard\": 10, \"soft\": 1024",
               "process.rlimits[0]", "soft limit above");
    edit_fails("\"rlimits\": [",
               "\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1, \"soft\": 1},",
               "process.rlimits[1]", "twice");
    edit_fails("\"terminal\": false", "\"consoleSize\": {\"height\": 70000, \"width\": 80}",
               "process.consoleSize", "larger");
    edit_fails("\"destination\": \"/data\"", "\"destination\": \"data\"", "mounts[1].destination",
               "absolute");
}
END_TEST

START_TEST(malformed_linux_section_names_the_field)
{
    char *big;
    size_t n = 0;

    edit_fails("{\"type\": \"uts\"}", "{\"type\": \"uts\"}, {\"type\": \"uts\"}",
               "linux.namespaces[5]", "twice");
    edit_fails("{\"type\": \"uts\"}", "{\"type\": \"bogus\"}", "linux.namespaces[4]", "unknown");
    edit_fails("\"maskedPaths\": [",
               "\"uidMappings\": [{\"containerID\": 4294967295, \"hostID\": 0, "
               "\"size\": 2}], \"maskedPaths\": [",
               "linux.uidMappings[0]", "overflowing");
    edit_fails("\"SCMP_ACT_ALLOW\"", "\"SCMP_ACT_MAYBE\"", "linux.seccomp.defaultAction",
               "unknown action");
    edit_fails("\"SCMP_CMP_EQ\"", "\"SCMP_CMP_SOMETIMES\"", "linux.seccomp.syscalls[1].args[0]",
               "comparison");
    edit_fails("\"index\": 0", "\"index\": 6", "linux.seccomp.syscalls[1].args[0].index", "range");
    edit_fails("\"errnoRet\": 13", "\"errnoRet\": 5000", "linux.seccomp.syscalls[0].errnoRet",
               "errno");
    edit_fails("\"mkdirat\"", "\"../mkdir\"", "linux.seccomp.syscalls[0].names[1]",
               "system call name");
    edit_fails("\"maskedPaths\": [\"/proc/kcore\"]", "\"maskedPaths\": [\"proc\"]",
               "linux.maskedPaths[0]", "absolute");
    edit_fails("\"hostname\": \"box\"", "\"hostname\": \"a/b\"", "hostname", "host name");
    /* At most 128 mounts: 129 are refused before any is kept. */
    big = malloc(200000);
    ck_assert_ptr_nonnull(big);
    n += (size_t)snprintf(big + n, 200000 - n,
                          "{\"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, \"mounts\": [");
    for (int i = 0; i < 129; i++)
        n +=
            (size_t)snprintf(big + n, 200000 - n, "%s{\"destination\": \"/m%d\"}", i ? "," : "", i);
    n += (size_t)snprintf(big + n, 200000 - n, "]}");
    parse_fails(big, n, "mounts", "more than 128");
    free(big);
    /* Bigger than the runtime reads at all. */
    parse_fails("{}", OCI_SPEC_MAX_BYTES + 1, "config.json", "larger than");
}
END_TEST

START_TEST(refused_by_design_naming_the_field)
{
    edit_refused("\"CAP_KILL\"", "\"CAP_SYS_ADMIN\"", true, "process.capabilities",
                 "CAP_SYS_ADMIN");
    edit_refused("\"effective\": [\"CAP_CHOWN\"]", "\"effective\": [\"CAP_NET_ADMIN\"]", true,
                 "process.capabilities", "effective: CAP_NET_ADMIN");
    edit_refused("\"CAP_KILL\"", "\"CAP_MAKE_ME_ROOT\"", true, "process.capabilities",
                 "CAP_MAKE_ME_ROOT");
    edit_refused("\"io.container.manager\": \"libpod\"",
                 "\"io.podman.annotations.privileged\": \"TRUE\"", true,
                 "io.podman.annotations.privileged", "privileged");
    edit_refused("\"hostname\"",
                 "\"hooks\": {\"prestart\": [{\"path\": \"/bin/true\"}]}, \"hostname\"", true,
                 "hooks", NULL);
    edit_refused("\"maskedPaths\"",
                 "\"devices\": [{\"type\": \"c\", \"path\": \"/dev/kvm\"}], \"maskedPaths\"", true,
                 "linux.devices", NULL);
    edit_refused("{\"type\": \"pid\"}", "{\"type\": \"pid\", \"path\": \"/proc/1/ns/pid\"}", true,
                 "linux.namespaces", "pid");
    edit_refused("{\"type\": \"uts\"}", "{\"type\": \"uts\"}, {\"type\": \"user\"}", true,
                 "linux.uidMappings", "mappings");
    edit_refused("\"maskedPaths\"",
                 "\"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}], "
                 "\"maskedPaths\"",
                 true, "linux.uidMappings", "without a user namespace");
    edit_refused(
        "{\"type\": \"uts\"}",
        "{\"type\": \"uts\"}, {\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": 0, "
        "\"hostID\": 1000, \"size\": 10}], \"gidMappings\": [{\"containerID\": 0, "
        "\"hostID\": 1000, \"size\": 1}], \"x\": [",
        false, "linux.uidMappings", "without root");
    edit_refused("\"additionalGids\": [0]", "\"additionalGids\": [5, 6]", false,
                 "process.user.additionalGids", NULL);
    edit_refused("\"net.ipv4.ping_group_range\"", "\"kernel.hostname\"", true,
                 "linux.sysctl.kernel.hostname", "namespaces");
    edit_refused("\"net.ipv4.ping_group_range\"", "\"net.ipv4/../../x\"", true, "linux.sysctl",
                 NULL);
    edit_refused("\"SCMP_ACT_ALLOW\"", "\"SCMP_ACT_NOTIFY\"", true, "linux.seccomp",
                 "notification");
    edit_refused("[\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\"",
                 "[\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_TRACE\"", true,
                 "linux.seccomp.syscalls[0].action", "tracer");
    edit_refused("\"architectures\"",
                 "\"flags\": [\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"], \"architectures\"", true,
                 "linux.seccomp.flags", "speculation");
    edit_refused("\"RLIMIT_NOFILE\", \"hard\": 2048, \"soft\": 1024",
                 "\"RLIMIT_CORE\", \"hard\": 1000000, \"soft\": 0", true, "process.rlimits",
                 "RLIMIT_CORE");
    edit_refused("\"maskedPaths\"", "\"rootfsPropagation\": \"shared\", \"maskedPaths\"", true,
                 "linux.rootfsPropagation", "private");
    edit_refused("\"1.0.2-dev\"", "\"2.0.0\"", true, "ociVersion", NULL);
    edit_refused("\"args\": [\"echo\", \"hi\"]", "\"args\": []", true, "process.args", "empty");
    edit_refused("\"type\": \"bind\"", "\"type\": \"nfs\"", true, "mounts[1].type", "nfs");
}
END_TEST

START_TEST(exec_process_checked_against_its_container)
{
    static const char ok[] = "{\"args\": [\"sh\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, "
                             "\"gid\": 0, \"additionalGids\": [0]}, \"terminal\": true}";
    static const char other_uid[] = "{\"args\": [\"sh\"], \"cwd\": \"/\", \"user\": {\"uid\": "
                                    "1000, \"gid\": 0, \"additionalGids\": [0]}}";
    static const char caps[] = "{\"args\": [\"sh\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, "
                               "\"gid\": 0, \"additionalGids\": [0]}, \"capabilities\": "
                               "{\"ambient\": [\"CAP_SYS_PTRACE\"]}}";
    struct oci_spec s = parse_ok(base_config);
    struct oci_process p;
    sbvm_error *e = NULL;

    ck_assert_int_eq(oci_process_parse(ok, strlen(ok), &p, &e), 0);
    ck_assert(p.terminal);
    ck_assert_int_eq(oci_process_check(&p, &s, &e), 0);
    oci_process_release(&p);
    ck_assert_int_eq(oci_process_parse(other_uid, strlen(other_uid), &p, &e), 0);
    ck_assert_int_lt(oci_process_check(&p, &s, &e), 0);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(e), "process.user"));
    sbvm_error_free(e);
    e = NULL;
    oci_process_release(&p);
    ck_assert_int_eq(oci_process_parse(caps, strlen(caps), &p, &e), 0);
    ck_assert_int_lt(oci_process_check(&p, &s, &e), 0);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(e), "ambient: CAP_SYS_PTRACE"));
    sbvm_error_free(e);
    e = NULL;
    oci_process_release(&p);
    ck_assert_int_lt(oci_process_parse("{\"args\": [\"sh\"]}", 16, &p, &e), 0);
    ck_assert_ptr_nonnull(strstr(sbvm_error_message(e), "process.cwd"));
    sbvm_error_free(e);
    oci_spec_release(&s);
}
END_TEST

START_TEST(notes_say_what_is_not_applied)
{
    char *j = edit("\"noNewPrivileges\": true", "\"noNewPrivileges\": true, \"apparmorProfile\": "
                                                "\"containers-default\", \"oomScoreAdj\": 5");
    struct oci_spec s = parse_ok(j);
    bool aa = false, oom = false;

    for (size_t i = 0; i < s.notes.n; i++) {
        aa |= strstr(s.notes.v[i], "apparmorProfile") != NULL;
        oom |= strstr(s.notes.v[i], "oomScoreAdj") != NULL;
    }
    ck_assert(aa && oom);
    oci_spec_release(&s);
    free(j);
}
END_TEST

/* The container's profile, compiled, answers like the kernel would. */
static uint32_t verdict(const struct sock_filter *f, size_t n, int nr, uint64_t a0)
{
    struct seccomp_data_ d;

    memset(&d, 0, sizeof(d));
    d.nr = nr;
    d.arch = BPF_EVAL_AUDIT_ARCH_X86_64;
    d.args[0] = a0;
    return bpf_eval((const struct bpf_insn_ *)f, (uint32_t)n, &d);
}

START_TEST(seccomp_profile_compiles_to_what_it_says)
{
    struct oci_spec s = parse_ok(base_config);
    struct sock_filter *f = NULL;
    sbvm_error *e = NULL;
    size_t n = 0;

    ck_assert_int_eq(oci_seccomp_compile(s.seccomp, &f, &n, &e), 0);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_eq(verdict(f, n, SYS_mkdir, 0), BPF_EVAL_RET_ERRNO | 13);
    ck_assert_uint_eq(verdict(f, n, SYS_mkdirat, 0), BPF_EVAL_RET_ERRNO | 13);
    ck_assert_uint_eq(verdict(f, n, SYS_getpid, 0), BPF_EVAL_RET_ALLOW);
    /* personality(8) refused with the default errno (EPERM), other values
     * allowed. */
    ck_assert_uint_eq(verdict(f, n, SYS_personality, 8), BPF_EVAL_RET_ERRNO | EPERM);
    ck_assert_uint_eq(verdict(f, n, SYS_personality, 0), BPF_EVAL_RET_ALLOW);
    free(f);
    oci_spec_release(&s);
}
END_TEST

START_TEST(seccomp_kill_is_the_whole_process)
{
    static const char j[] =
        "{\"ociVersion\": \"1.0\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"a\"], "
        "\"cwd\": \"/\"}, \"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", "
        "\"defaultErrnoRet\": 38, \"syscalls\": [{\"names\": [\"read\", \"write\", "
        "\"no_such_call\"], "
        "\"action\": \"SCMP_ACT_ALLOW\"}, {\"names\": [\"kill\"], \"action\": "
        "\"SCMP_ACT_KILL\"}]}}}";
    struct oci_spec s = parse_ok(j);
    struct sock_filter *f = NULL;
    sbvm_error *e = NULL;
    size_t n = 0;

    ck_assert_int_eq(oci_seccomp_compile(s.seccomp, &f, &n, &e), 0);
    ck_assert_uint_eq(verdict(f, n, SYS_read, 0), BPF_EVAL_RET_ALLOW);
    ck_assert_uint_eq(verdict(f, n, SYS_getpid, 0), BPF_EVAL_RET_ERRNO | ENOSYS);
    ck_assert_uint_eq(verdict(f, n, SYS_kill, 0), BPF_EVAL_RET_KILL_PROCESS);
    free(f);
    oci_spec_release(&s);
}
END_TEST

START_TEST(signals_by_name_and_number)
{
    ck_assert_int_eq(oci_parse_signal("9"), 9);
    ck_assert_int_eq(oci_parse_signal("KILL"), 9);
    ck_assert_int_eq(oci_parse_signal("SIGTERM"), 15);
    ck_assert_int_eq(oci_parse_signal("RTMIN+2"), SIGRTMIN + 2);
    ck_assert_int_lt(oci_parse_signal("0"), 0);
    ck_assert_int_lt(oci_parse_signal("65"), 0);
    ck_assert_int_lt(oci_parse_signal("9x"), 0);
    ck_assert_int_lt(oci_parse_signal("SIGNOPE"), 0);
    ck_assert_int_lt(oci_parse_signal(""), 0);
}
END_TEST

START_TEST(container_ids_are_checked)
{
    ck_assert_int_eq(oci_id_check("abc-123_x.y+z", NULL), 0);
    ck_assert_int_lt(oci_id_check("", NULL), 0);
    ck_assert_int_lt(oci_id_check("../etc", NULL), 0);
    ck_assert_int_lt(oci_id_check(".hidden", NULL), 0);
    ck_assert_int_lt(oci_id_check("-opt", NULL), 0);
    ck_assert_int_lt(oci_id_check("a/b", NULL), 0);
    ck_assert_int_lt(oci_id_check("a b", NULL), 0);
    {
        char long_id[OCI_ID_MAX + 2];
        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = '\0';
        ck_assert_int_lt(oci_id_check(long_id, NULL), 0);
        long_id[OCI_ID_MAX] = '\0';
        ck_assert_int_eq(oci_id_check(long_id, NULL), 0);
    }
}
END_TEST

/* ---- the broker's annotations (convert.c) ---- */

/* A bundle whose rootfs has what a sandbox needs, in a fresh directory. */
static char *net_bundle(void)
{
    char *dir = unit_tmpdir();
    char path[512];

    for (const char *const *d =
             (const char *const[]){ "rootfs", "rootfs/proc", "rootfs/dev", "rootfs/tmp", NULL };
         *d; d++) {
        snprintf(path, sizeof(path), "%s/%s", dir, *d);
        ck_assert_int_eq(mkdir(path, 0755), 0);
    }
    return dir;
}

/* Builds the plan of a config whose network namespace is `netns` (a JSON
 * namespace entry, or "" for none) and whose annotations are the members
 * `annotations`: the result of oci_plan_build, the plan in *p. */
static int plan_net(const char *netns, const char *annotations, struct oci_plan *p, sbvm_error **e)
{
    static const char fmt[] =
        "{\"ociVersion\": \"1.0.2\","
        " \"process\": {\"user\": {\"uid\": 0, \"gid\": 0}, \"args\": [\"true\"],"
        "   \"env\": [\"PATH=/bin\"], \"cwd\": \"/\", \"noNewPrivileges\": true},"
        " \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
        " \"annotations\": {%s},"
        " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}%s%s]}}";
    size_t n = sizeof(fmt) + strlen(netns) + strlen(annotations) + 2;
    char *json = malloc(n), *bundle = net_bundle();
    struct oci_spec s;
    int r;

    ck_assert_ptr_nonnull(json);
    snprintf(json, n, fmt, annotations, *netns ? ", " : "", netns);
    s = parse_ok(json);
    r = oci_spec_check(&s, geteuid() == 0, e);
    ck_assert_msg(r == 0, "check failed: %s", *e ? sbvm_error_message(*e) : "?");
    r = oci_plan_build(&s, bundle, p, e);
    oci_spec_release(&s);
    unit_rmtree(bundle);
    free(bundle);
    free(json);
    return r;
}

static const char own_netns[] = "{\"type\": \"network\"}";

/* The annotation `allow` (a JSON string's contents) is refused, the
 * message naming `field` and saying `words`. */
static void net_refused(const char *netns, const char *annotations, const char *field,
                        const char *words)
{
    struct oci_plan p;
    sbvm_error *e = NULL;
    int r = plan_net(netns, annotations, &p, &e);

    ck_assert_msg(r < 0, "%s was accepted", annotations);
    says(e, field, words);
    oci_plan_release(&p);
}

static void allow_refused(const char *value, const char *words)
{
    char ann[8192];

    snprintf(ann, sizeof(ann), "\"run.sandboxvm.net.allow\": \"%s\"", value);
    net_refused(own_netns, ann, "config.json: annotations.run.sandboxvm.net.allow", words);
}

START_TEST(broker_annotation_becomes_the_sandbox_rules)
{
    struct oci_plan p;
    sbvm_error *e = NULL;

    /* Without the annotation, a network namespace of its own is empty. */
    ck_assert_int_eq(plan_net(own_netns, "", &p, &e), 0);
    ck_assert_int_eq(p.cfg->net, SBVM_NET_NONE);
    ck_assert_int_eq(p.cfg->net_rules.n, 0);
    oci_plan_release(&p);

    /* Rules separated by commas or spaces, each checked as --net allow's. */
    ck_assert_int_eq(plan_net(own_netns,
                              "\"run.sandboxvm.net.allow\": \"api.example.test:8443,"
                              " 192.0.2.7 https://git.example.test/acme/\"",
                              &p, &e),
                     0);
    ck_assert_int_eq(p.cfg->net, SBVM_NET_ALLOW);
    ck_assert_int_eq(p.cfg->net_rules.n, 3);
    ck_assert_str_eq(p.cfg->net_rules.v[0], "api.example.test:8443");
    ck_assert_str_eq(p.cfg->net_rules.v[1], "192.0.2.7");
    ck_assert_str_eq(p.cfg->net_rules.v[2], "https://git.example.test/acme/");
    ck_assert(!p.cfg->net_allow_private);
    oci_plan_release(&p);

    ck_assert_int_eq(plan_net(own_netns,
                              "\"run.sandboxvm.net.allow\": \"127.0.0.1:8080\","
                              " \"run.sandboxvm.net.allow-private\": \"true\"",
                              &p, &e),
                     0);
    ck_assert_int_eq(p.cfg->net, SBVM_NET_ALLOW);
    ck_assert_int_eq(p.cfg->net_rules.n, 1);
    ck_assert(p.cfg->net_allow_private);
    oci_plan_release(&p);
}
END_TEST

START_TEST(broker_annotation_hostile_values_refused)
{
    char long_value[5000], many[1024];
    size_t n = 0;

    /* Wildcards, whole host, first label or port: a pod's author could
     * otherwise open the broker to anywhere. */
    allow_refused("*", "wildcard");
    allow_refused("*.example.test", "wildcard");
    allow_refused("api.example.test:*", "wildcard");
    allow_refused("api.example.test, *", "wildcard");
    /* Too long, too many. */
    memset(long_value, 'a', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    allow_refused(long_value, "longer than 4096 bytes");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "h%d.test,", i);
    allow_refused(many, "more than 64 rules");
    /* Bad syntax. */
    allow_refused("", "no rule");
    allow_refused(", ,", "no rule");
    allow_refused("api.example.test:99999", "port");
    allow_refused("api.example.test:0", "port");
    allow_refused("ftp://files.example.test/", "a rule is HOST[:PORT]");
    allow_refused("https://user@api.example.test/", "no user");
    allow_refused("https://api.example.test/a/../b", "'..'");
    allow_refused("api.example.test\\n127.0.0.1", "control character");
    allow_refused("api.example.test\\t127.0.0.1", "control character");
    /* Names the policy refuses. */
    allow_refused("bad..name.test", "neither a host name nor an address");
    allow_refused("-lead.example.test", "neither a host name nor an address");
    allow_refused("[::1", "closing");
    allow_refused("exa$mple.test", "neither a host name nor an address");
    /* The private switch: a boolean, and only with rules. */
    net_refused(own_netns,
                "\"run.sandboxvm.net.allow\": \"127.0.0.1:80\","
                " \"run.sandboxvm.net.allow-private\": \"yes\"",
                "annotations.run.sandboxvm.net.allow-private", "true or false");
    net_refused(own_netns, "\"run.sandboxvm.net.allow-private\": \"true\"",
                "annotations.run.sandboxvm.net.allow-private", "needs");
    /* A container with a network of its own: the rules would not apply. */
    net_refused("{\"type\": \"network\", \"path\": \"/run/netns/x\"}",
                "\"run.sandboxvm.net.allow\": \"api.example.test\"",
                "annotations.run.sandboxvm.net.allow", "joins another");
    net_refused("", "\"run.sandboxvm.net.allow\": \"api.example.test\"",
                "annotations.run.sandboxvm.net.allow", "the host's network");
}
END_TEST

/* linux.resources.cpu and linux.cgroupsPath as podman writes them. */
static const char cpu_res[] = "\"resources\": {\"cpu\": {\"quota\": 50000, \"period\": 100000, "
                              "\"shares\": 512, \"cpus\": \"0-1,3\", \"mems\": \"0\"}, ";

static void cpu_fails(const char *cpu, const char *field, const char *words)
{
    char to[2048];

    snprintf(to, sizeof(to), "\"resources\": {\"cpu\": {%s}, ", cpu);
    edit_fails("\"resources\": {", to, field, words);
}

static void path_fails(const char *path, const char *words)
{
    char to[2048];

    snprintf(to, sizeof(to), "\"cgroupsPath\": \"%s\", \"resources\": {", path);
    edit_fails("\"resources\": {", to, "config.json: linux.cgroupsPath", words);
}

/* The path a config's linux.cgroupsPath comes to (NULL: refused). */
static char *path_of(const char *path)
{
    char to[2048];
    char *j, *out;
    struct oci_spec s;
    sbvm_error *e = NULL;

    snprintf(to, sizeof(to), "\"cgroupsPath\": \"%s\", \"resources\": {", path);
    j = edit("\"resources\": {", to);
    if (oci_spec_parse(j, strlen(j), &s, &e) < 0) {
        sbvm_error_free(e);
        free(j);
        return NULL;
    }
    out = s.cgroups_path ? strdup(s.cgroups_path) : strdup("(none)");
    oci_spec_release(&s);
    free(j);
    return out;
}

static void path_is(const char *given, const char *want)
{
    char *got = path_of(given);

    ck_assert_msg(got && strcmp(got, want) == 0, "%s: got %s, want %s", given,
                  got ? got : "a refusal", want);
    free(got);
}

START_TEST(cpu_resources_and_cgroups_path_parsed)
{
    char *j = edit("\"resources\": {", cpu_res);
    struct oci_spec s = parse_ok(j);

    ck_assert_int_eq(s.cpu_quota, 50000);
    ck_assert_uint_eq(s.cpu_period, 100000);
    ck_assert_uint_eq(s.cpu_shares, 512);
    ck_assert_str_eq(s.cpu_cpus, "0-1,3");
    ck_assert_str_eq(s.cpu_mems, "0");
    for (size_t i = 0; i < s.notes.n; i++)
        ck_assert_msg(!strstr(s.notes.v[i], "linux.resources.cpu"), "%s", s.notes.v[i]);
    oci_spec_release(&s);
    free(j);
    /* Unlimited, and Docker's zeros for "not set". */
    j = edit("\"resources\": {", "\"resources\": {\"cpu\": {\"quota\": -1, \"period\": 0, "
                                 "\"shares\": 0, \"cpus\": \"\", \"mems\": \"\"}, ");
    s = parse_ok(j);
    ck_assert_int_eq(s.cpu_quota, -1);
    ck_assert(!s.cpu_period && !s.cpu_shares && !s.cpu_cpus && !s.cpu_mems);
    oci_spec_release(&s);
    free(j);
    j = edit("\"resources\": {", "\"resources\": {\"cpu\": {\"quota\": 1000, \"period\": 1000000, "
                                 "\"shares\": 262144, \"realtimeRuntime\": 5}, ");
    s = parse_ok(j);
    ck_assert(s.cpu_quota == 1000 && s.cpu_period == 1000000 && s.cpu_shares == 262144);
    ck_assert_int_eq(s.notes.n > 0, 1);
    ck_assert_ptr_nonnull(strstr(s.notes.v[0], "realtimeRuntime"));
    oci_spec_release(&s);
    free(j);
    /* Paths: as given; the systemd form mapped to where systemd puts it. */
    path_is("/libpod_parent/libpod-abc", "/libpod_parent/libpod-abc");
    path_is("rel/c", "rel/c");
    path_is("", "(none)");
    path_is("machine.slice:libpod:abc", "/machine.slice/libpod-abc.scope");
    path_is("user-1000-x.slice:crio:i",
            "/user.slice/user-1000.slice/user-1000-x.slice/crio-i.scope");
    path_is("-.slice::i", "/i.scope");
    /* Both, the path in the systemd form (mapped after the sets are read). */
    j = edit("\"resources\": {", "\"cgroupsPath\": \"machine.slice:libpod:x\", \"resources\": "
                                 "{\"cpu\": {\"cpus\": \"1\", \"mems\": \"0\"}, ");
    s = parse_ok(j);
    ck_assert_str_eq(s.cgroups_path, "/machine.slice/libpod-x.scope");
    ck_assert(s.cgroups_path_systemd);
    ck_assert_str_eq(s.cpu_cpus, "1");
    ck_assert_str_eq(s.cpu_mems, "0");
    oci_spec_release(&s);
    free(j);
    /* v1 shares onto v2 weights, the ends and the middle as runc and crun. */
    ck_assert_uint_eq(cgroup_shares_to_weight(2), 1);
    ck_assert_uint_eq(cgroup_shares_to_weight(1024), 39);
    ck_assert_uint_eq(cgroup_shares_to_weight(262144), 10000);
}
END_TEST

START_TEST(cpu_resources_hostile_values_refused)
{
    char big[1200];
    size_t n;

    cpu_fails("\"quota\": 0.5", "linux.resources.cpu.quota", "integer");
    cpu_fails("\"quota\": -2", "linux.resources.cpu.quota", "range");
    cpu_fails("\"quota\": 999", "linux.resources.cpu.quota", "least");
    cpu_fails("\"quota\": 4096000000001", "linux.resources.cpu.quota", "range");
    cpu_fails("\"quota\": 9223372036854775807", "linux.resources.cpu.quota", "range");
    cpu_fails("\"period\": 999", "linux.resources.cpu.period", "range");
    cpu_fails("\"period\": 1000001", "linux.resources.cpu.period", "range");
    cpu_fails("\"period\": -1", "linux.resources.cpu.period", "range");
    cpu_fails("\"shares\": 1", "linux.resources.cpu.shares", "range");
    cpu_fails("\"shares\": 262145", "linux.resources.cpu.shares", "range");
    cpu_fails("\"shares\": \"512\"", "linux.resources.cpu.shares", "integer");
    cpu_fails("\"cpus\": 3", "linux.resources.cpu.cpus", "string");
    cpu_fails("\"cpus\": \"0-\"", "linux.resources.cpu.cpus", "N-M");
    cpu_fails("\"cpus\": \"3-1\"", "linux.resources.cpu.cpus", "N <= M");
    cpu_fails("\"cpus\": \"0,,1\"", "linux.resources.cpu.cpus", "list");
    cpu_fails("\"cpus\": \"0,\"", "linux.resources.cpu.cpus", "list");
    cpu_fails("\"cpus\": \" 0\"", "linux.resources.cpu.cpus", "list");
    cpu_fails("\"cpus\": \"-1\"", "linux.resources.cpu.cpus", "list");
    cpu_fails("\"cpus\": \"+1\"", "linux.resources.cpu.cpus", "list");
    cpu_fails("\"cpus\": \"8192\"", "linux.resources.cpu.cpus", "below 8192");
    cpu_fails("\"cpus\": \"0-99999999999\"", "linux.resources.cpu.cpus", "N-M");
    cpu_fails("\"cpus\": \"0\\n1\"", "linux.resources.cpu.cpus", "list");
    cpu_fails("\"mems\": \"0;1\"", "linux.resources.cpu.mems", "list");
    n = (size_t)snprintf(big, sizeof(big), "\"cpus\": \"");
    while (n < 1100)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "0,");
    snprintf(big + n, sizeof(big) - n, "0\"");
    cpu_fails(big, "linux.resources.cpu.cpus", "longer than 1024 bytes");
}
END_TEST

START_TEST(cgroups_path_hostile_values_refused)
{
    char big[1100];

    path_fails("/a/../../etc", "'..'");
    path_fails("..", "'..'");
    path_fails("/a/./b", "'.'");
    path_fails("/a/b/", "trailing");
    path_fails("//a", "empty");
    path_fails("/a//b", "empty");
    path_fails("/", "root");
    path_fails("/a/\\nb", "control character");
    path_fails("/a/b\\u007f", "control character");
    path_fails("/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17", "more than 16 parts");
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    path_fails(big, "longer than 1024 bytes");
    /* The systemd form: three parts, a slice, no path inside. */
    path_fails("machine.slice:libpod", "SLICE:PREFIX:NAME");
    path_fails("machine.slice:libpod:a:b", "SLICE:PREFIX:NAME");
    path_fails("machine:libpod:abc", ".slice");
    path_fails(".slice:libpod:abc", ".slice");
    path_fails("machine.slice:libpod:", ".slice");
    path_fails("machine.slice:libpod:..", ".slice");
    path_fails("machine.slice:lib/../pod:abc", "SLICE:PREFIX:NAME");
    path_fails("a--b.slice:p:n", "not a slice name");
    path_fails("-a.slice:p:n", "not a slice name");
    path_fails("a-.slice:p:n", "not a slice name");
    path_fails("a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q.slice:p:n", "deeper");
}
END_TEST

/* Without root, the settings are noted as not applied, never claimed. */
START_TEST(cpu_and_cgroups_path_without_root_are_noted)
{
    static const char json[] =
        "{\"ociVersion\": \"1.0.2\","
        " \"process\": {\"user\": {\"uid\": 0, \"gid\": 0}, \"args\": [\"true\"],"
        "   \"env\": [\"PATH=/bin\"], \"cwd\": \"/\", \"noNewPrivileges\": true},"
        " \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
        " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}],"
        "   \"cgroupsPath\": \"/oci/c1\", \"resources\": {\"cpu\": {\"quota\": 20000, "
        "\"cpus\": \"0\"}}}}";
    struct oci_spec s = parse_ok(json);
    struct oci_plan p;
    sbvm_error *e = NULL;
    char *bundle = net_bundle();
    bool root = geteuid() == 0, cpu = false, path = false;

    ck_assert_int_eq(oci_spec_check(&s, root, &e), 0);
    ck_assert_int_eq(oci_plan_build(&s, bundle, &p, &e), 0);
    for (size_t i = 0; i < p.notes.n; i++) {
        cpu |= strstr(p.notes.v[i], "linux.resources.cpu: not applied without root") != NULL;
        path |= strstr(p.notes.v[i], "linux.cgroupsPath: not applied without root") != NULL;
    }
    if (root) {
        ck_assert(!cpu && !path);
        ck_assert_int_eq(p.cfg->cgroup.cpu_quota, 20000);
        ck_assert_str_eq(p.cfg->cgroup.cpus, "0");
        ck_assert_str_eq(p.cfg->cgroup.path, "/oci/c1");
    } else {
        ck_assert(cpu && path);
        ck_assert(!config_cgroup_set(&p.cfg->cgroup));
    }
    oci_plan_release(&p);
    oci_spec_release(&s);
    unit_rmtree(bundle);
    free(bundle);
}
END_TEST

Suite *suite_oci(void)
{
    Suite *s = suite_create("oci");
    TCase *tc = tcase_create("spec");

    tcase_add_test(tc, parses_what_podman_writes);
    tcase_add_test(tc, malformed_documents_name_the_field);
    tcase_add_test(tc, malformed_linux_section_names_the_field);
    tcase_add_test(tc, refused_by_design_naming_the_field);
    tcase_add_test(tc, exec_process_checked_against_its_container);
    tcase_add_test(tc, notes_say_what_is_not_applied);
    tcase_add_test(tc, seccomp_profile_compiles_to_what_it_says);
    tcase_add_test(tc, seccomp_kill_is_the_whole_process);
    tcase_add_test(tc, signals_by_name_and_number);
    tcase_add_test(tc, container_ids_are_checked);
    tcase_add_test(tc, broker_annotation_becomes_the_sandbox_rules);
    tcase_add_test(tc, broker_annotation_hostile_values_refused);
    tcase_add_test(tc, cpu_resources_and_cgroups_path_parsed);
    tcase_add_test(tc, cpu_resources_hostile_values_refused);
    tcase_add_test(tc, cgroups_path_hostile_values_refused);
    tcase_add_test(tc, cpu_and_cgroups_path_without_root_are_noted);
    suite_add_tcase(s, tc);
    return s;
}
