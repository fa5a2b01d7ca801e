/* SPDX-License-Identifier: MIT */
/* test-program.c: finding and vetting the program a guest will execute. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/elfdyn.h"
#include "policy/program.h"
#include "unit.h"

#define GUEST_PATH "/usr/local/bin:/usr/bin:/bin"

struct fixture {
    char *dir;
    struct program prog;
    struct program_failure fail;
};

static struct fixture fx;

static void setup(void)
{
    memset(&fx, 0, sizeof(fx));
    fx.dir = unit_tmpdir();
}

static void teardown(void)
{
    program_release(&fx.prog);
    program_failure_release(&fx.fail);
    unit_rmtree(fx.dir);
    free(fx.dir);
}

static const char *in_dir(const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", fx.dir, name);
    return path;
}

static int resolve(const char *argv0)
{
    return program_resolve(argv0, GUEST_PATH, &fx.prog, &fx.fail);
}

/* A minimal 64-bit little-endian ELF header for `machine`. */
static void write_elf(const char *name, uint16_t machine, unsigned char cls)
{
    Elf64_Ehdr eh;

    memset(&eh, 0, sizeof(eh));
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = cls;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = machine;
    eh.e_version = EV_CURRENT;
    eh.e_ehsize = sizeof(eh);
    unit_write_file(in_dir(name), &eh, sizeof(eh), 0755);
}

START_TEST(system_program_needs_no_bind)
{
    ck_assert_int_eq(resolve("/bin/true"), 0);
    ck_assert_ptr_nonnull(fx.prog.exec_path);
    ck_assert(strncmp(fx.prog.exec_path, "/usr/", 5) == 0 ||
              strncmp(fx.prog.exec_path, "/bin/", 5) == 0);
    ck_assert_uint_eq(fx.prog.nbinds, 0);
}
END_TEST

START_TEST(bare_names_use_the_guest_path)
{
    ck_assert_int_eq(resolve("sh"), 0);
    ck_assert_uint_eq(fx.prog.nbinds, 0);
}
END_TEST

START_TEST(missing_program_is_not_found)
{
    ck_assert_int_lt(resolve("sbvm-no-such-program"), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "not found in the guest's PATH"));
    program_failure_release(&fx.fail);
    ck_assert_int_lt(resolve(in_dir("nothing-here")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_FOUND);
    ck_assert_int_eq(fx.fail.err, ENOENT);
}
END_TEST

START_TEST(path_entries_outside_the_view_are_skipped)
{
    /* An executable in a directory the guest cannot see is not found, even
     * when that directory is in PATH. */
    unit_write_file(in_dir("hidden-tool"), "#!/bin/sh\n", 10, 0755);
    ck_assert_int_lt(program_resolve("hidden-tool", fx.dir, &fx.prog, &fx.fail), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_FOUND);
}
END_TEST

START_TEST(directory_is_not_executable)
{
    ck_assert_int_lt(resolve(fx.dir), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
    ck_assert_int_eq(fx.fail.err, EISDIR);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "directory"));
}
END_TEST

START_TEST(file_without_execute_bit_is_refused)
{
    unit_write_file(in_dir("plain"), "#!/bin/sh\n", 10, 0644);
    ck_assert_int_lt(resolve(in_dir("plain")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "execute permission"));
}
END_TEST

START_TEST(text_without_shebang_runs_with_bin_sh_binary_junk_is_refused)
{
    /* As a shell or execvp would: /bin/sh reads a text file without #!. */
    unit_write_file(in_dir("notes"), "just some text\n", 15, 0755);
    ck_assert_int_eq(resolve(in_dir("notes")), 0);
    ck_assert(fx.prog.sh_script);
    program_release(&fx.prog);
    /* Bytes no shell reads as a script are not made one. */
    unit_write_file(in_dir("junk"), "\x01\0\x02junk", 7, 0755);
    ck_assert_int_lt(resolve(in_dir("junk")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
    ck_assert_int_eq(fx.fail.err, ENOEXEC);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "neither an ELF program nor a #! script"));
}
END_TEST

START_TEST(empty_file_is_refused)
{
    unit_write_file(in_dir("empty"), "", 0, 0755);
    ck_assert_int_lt(resolve(in_dir("empty")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
}
END_TEST

START_TEST(script_outside_the_view_is_bound)
{
    static const char script[] = "#!/bin/sh -e\necho hi\n";
    char *canon;

    unit_write_file(in_dir("run.sh"), script, sizeof(script) - 1, 0755);
    ck_assert_int_eq(resolve(in_dir("run.sh")), 0);
    canon = realpath(in_dir("run.sh"), NULL);
    ck_assert_str_eq(fx.prog.exec_path, canon);
    /* The script is bound; its interpreter, /bin/sh, is already visible. */
    ck_assert_uint_eq(fx.prog.nbinds, 1);
    ck_assert_str_eq(fx.prog.binds[0].path, canon);
    ck_assert_int_ge(fx.prog.binds[0].fd, 0);
    free(canon);
}
END_TEST

START_TEST(script_interpreter_outside_the_view_is_bound_too)
{
    char script[600];

    unit_write_file(in_dir("interp.sh"), "#!/bin/sh\n", 10, 0755);
    snprintf(script, sizeof(script), "#!%s\n", in_dir("interp.sh"));
    unit_write_file(in_dir("outer"), script, strlen(script), 0755);
    ck_assert_int_eq(resolve(in_dir("outer")), 0);
    ck_assert_uint_eq(fx.prog.nbinds, 2);
}
END_TEST

START_TEST(script_with_missing_interpreter_is_refused)
{
    static const char script[] = "#!/nonexistent/interpreter\n";

    unit_write_file(in_dir("bad.sh"), script, sizeof(script) - 1, 0755);
    ck_assert_int_lt(resolve(in_dir("bad.sh")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "/nonexistent/interpreter"));
}
END_TEST

START_TEST(script_with_relative_interpreter_is_refused)
{
    static const char script[] = "#!sh\n";

    unit_write_file(in_dir("rel.sh"), script, sizeof(script) - 1, 0755);
    ck_assert_int_lt(resolve(in_dir("rel.sh")), 0);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "not an absolute path"));
}
END_TEST

START_TEST(overlong_shebang_is_refused)
{
    char script[400];

    memset(script, 'a', sizeof(script));
    script[0] = '#';
    script[1] = '!';
    script[2] = '/';
    unit_write_file(in_dir("long.sh"), script, sizeof(script), 0755);
    ck_assert_int_lt(resolve(in_dir("long.sh")), 0);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "longer than the kernel reads"));
}
END_TEST

START_TEST(recursive_shebang_is_bounded)
{
    char script[600];

    /* A script that names itself as its interpreter. */
    snprintf(script, sizeof(script), "#!%s\n", in_dir("loop"));
    unit_write_file(in_dir("loop"), script, strlen(script), 0755);
    ck_assert_int_lt(resolve(in_dir("loop")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
}
END_TEST

START_TEST(foreign_elf_is_refused_with_its_machine)
{
    write_elf("arm64", EM_AARCH64, ELFCLASS64);
    ck_assert_int_lt(resolve(in_dir("arm64")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "aarch64"));
}
END_TEST

START_TEST(thirty_two_bit_elf_is_refused)
{
    write_elf("i386", EM_386, ELFCLASS32);
    ck_assert_int_lt(resolve(in_dir("i386")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "32-bit"));
}
END_TEST

START_TEST(truncated_elf_is_refused)
{
    unit_write_file(in_dir("trunc"), "\177ELF\2\1\1", 7, 0755);
    ck_assert_int_lt(resolve(in_dir("trunc")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
}
END_TEST

START_TEST(elf_with_absurd_program_headers_is_refused)
{
    Elf64_Ehdr eh;

    memset(&eh, 0, sizeof(eh));
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_type = ET_DYN;
    eh.e_machine = (uint16_t)program_host_machine();
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 60000;
    eh.e_phoff = 0xffffffffffff0000ULL;
    unit_write_file(in_dir("absurd"), &eh, sizeof(eh), 0755);
    ck_assert_int_lt(resolve(in_dir("absurd")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
}
END_TEST

START_TEST(unreadable_program_is_refused)
{
    if (geteuid() == 0) {
        unit_skip("unreadable_program_is_refused", "root reads mode 0111 files anyway");
        return;
    }
    unit_write_file(in_dir("secret"), "#!/bin/sh\n", 10, 0111);
    ck_assert_int_lt(resolve(in_dir("secret")), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "cannot read"));
}
END_TEST

START_TEST(dynamic_elf_in_a_hidden_dir_binds_only_itself)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/probe", unit_guest_dir());
    if (access(path, X_OK) != 0) {
        unit_skip("dynamic_elf_in_a_hidden_dir_binds_only_itself", "probe fixture not built");
        return;
    }
    ck_assert_int_eq(resolve(path), 0);
    /* The loader (/lib64/ld-linux-x86-64.so.2) is visible already. */
    ck_assert_uint_eq(fx.prog.nbinds, 1);
}
END_TEST

/* ---- through the guest's mounts ------------------------------------------ */

static int resolve_in(const struct program_mount *m, size_t n, const char *argv0, const char *path)
{
    struct program_view v = { .mounts = m, .nmounts = n, .rootfd = -1 };
    return program_resolve_view(&v, argv0, path, &fx.prog, &fx.fail);
}

START_TEST(a_program_in_a_mount_is_found_by_its_guest_path)
{
    struct program_mount m[] = { { "/tools", fx.dir, -1 } };

    unit_write_file(in_dir("tool"), "#!/bin/sh\n", 10, 0755);
    ck_assert_int_eq(symlink("tool", in_dir("alias")), 0);
    ck_assert_int_eq(resolve_in(m, 1, "/tools/tool", GUEST_PATH), 0);
    ck_assert_str_eq(fx.prog.exec_path, "/tools/tool");
    ck_assert_uint_eq(fx.prog.nbinds, 0); /* the mount shows it: no bind */
    program_release(&fx.prog);
    /* In PATH, through a relative symlink, with a path to tidy. */
    ck_assert_int_eq(resolve_in(m, 1, "alias", "/usr/bin:/tools"), 0);
    ck_assert_str_eq(fx.prog.exec_path, "/tools/alias");
    program_release(&fx.prog);
    ck_assert_int_eq(resolve_in(m, 1, "//tools/./tool", GUEST_PATH), 0);
    ck_assert_str_eq(fx.prog.exec_path, "/tools/tool");
}
END_TEST

START_TEST(a_held_mount_source_is_read_through_its_descriptor)
{
    int fd = open(fx.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    /* The path names nothing: only the descriptor can lead to the file. */
    struct program_mount m[] = { { "/tools", "/sbvm-no-such-dir", fd } };

    ck_assert_int_ge(fd, 0);
    unit_write_file(in_dir("tool"), "#!/bin/sh\n", 10, 0755);
    ck_assert_int_eq(resolve_in(m, 1, "/tools/tool", GUEST_PATH), 0);
    ck_assert_str_eq(fx.prog.exec_path, "/tools/tool");
    /* Borrowed, not closed. */
    ck_assert_int_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);
    close(fd);
}
END_TEST

START_TEST(a_later_mount_covers_an_earlier_one)
{
    struct program_mount m[] = { { "/tools", fx.dir, -1 }, { "/tools", NULL, -1 } };

    unit_write_file(in_dir("tool"), "#!/bin/sh\n", 10, 0755);
    ck_assert_int_lt(resolve_in(m, 2, "/tools/tool", GUEST_PATH), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "starts empty"));
    program_failure_release(&fx.fail);
    /* Not found in PATH either. */
    ck_assert_int_lt(resolve_in(m, 2, "tool", "/tools"), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_FOUND);
}
END_TEST

START_TEST(a_mount_is_vetted_like_any_program)
{
    struct program_mount m[] = { { "/tools", fx.dir, -1 }, { "/one", NULL, -1 } };
    char file[600];

    unit_write_file(in_dir("text"), "\x01\0hello\n", 8, 0755);
    unit_write_file(in_dir("noexec"), "#!/bin/sh\n", 10, 0644);
    unit_write_file(in_dir("needs"), "#!/tools/missing\n", 17, 0755);
    ck_assert_int_lt(resolve_in(m, 1, "/tools/text", GUEST_PATH), 0);
    ck_assert_int_eq(fx.fail.err, ENOEXEC);
    program_failure_release(&fx.fail);
    ck_assert_int_lt(resolve_in(m, 1, "/tools/noexec", GUEST_PATH), 0);
    ck_assert_int_eq(fx.fail.err, EACCES);
    program_failure_release(&fx.fail);
    /* The interpreter is looked up in the view too. */
    ck_assert_int_lt(resolve_in(m, 1, "/tools/needs", GUEST_PATH), 0);
    ck_assert_int_eq(fx.fail.outcome, SBVM_OUTCOME_NOT_EXECUTABLE);
    ck_assert_ptr_nonnull(strstr(fx.fail.message, "/tools/missing"));
    program_failure_release(&fx.fail);
    /* A file mount: the file itself, and nothing below it. */
    snprintf(file, sizeof(file), "%s/tool", fx.dir);
    unit_write_file(file, "#!/bin/sh\n", 10, 0755);
    m[1].src = file;
    ck_assert_int_eq(resolve_in(m, 2, "/one", GUEST_PATH), 0);
    ck_assert_str_eq(fx.prog.exec_path, "/one");
    program_release(&fx.prog);
    ck_assert_int_lt(resolve_in(m, 2, "/one/x", GUEST_PATH), 0);
    ck_assert_int_eq(fx.fail.err, ENOTDIR);
}
END_TEST

START_TEST(a_symlink_out_of_a_mount_is_left_to_the_guest)
{
    struct program_mount m[] = { { "/venv", fx.dir, -1 } };

    ck_assert_int_eq(symlink("/usr/bin/python3", in_dir("python")), 0);
    /* Where /usr/bin/python3 leads only the guest's view can say: the exec
     * is tried as named, the exec's own error reports a failure. */
    ck_assert_int_eq(resolve_in(m, 1, "/venv/python", GUEST_PATH), 0);
    ck_assert_str_eq(fx.prog.exec_path, "/venv/python");
    ck_assert_uint_eq(fx.prog.nbinds, 0);
}
END_TEST

START_TEST(view_open_finds_files_as_the_guest_sees_them)
{
    struct program_mount m[] = { { "/data", fx.dir, -1 }, { "/gone", NULL, -1 } };
    struct program_view v = { .mounts = m, .nmounts = 2, .rootfd = -1 };
    int fd;

    unit_write_file(in_dir("f"), "x", 1, 0644);
    fd = program_view_open(&v, "/data/f", O_RDONLY);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(program_view_open(&v, "/data/../etc/passwd", O_RDONLY), -EXDEV);
    ck_assert_int_eq(program_view_open(&v, "/gone/f", O_RDONLY), -ENOENT);
    ck_assert_int_eq(program_view_open(&v, "/usr/bin/env", O_RDONLY), -EREMOTE);
    ck_assert_int_eq(program_view_open(&v, "relative", O_RDONLY), -EINVAL);
}
END_TEST

/* ---- elfdyn: a program's DT_NEEDED and DT_RUNPATH, read with care ---- */

struct image {
    unsigned char b[4096];
    size_t size;
};

static ssize_t image_read(void *ctx, void *buf, size_t len, uint64_t off)
{
    const struct image *im = ctx;
    if (off > im->size || len > im->size - off)
        return -1;
    memcpy(buf, im->b + off, len);
    return (ssize_t)len;
}

/* An ELF with one PT_LOAD (file offset 0 at vaddr 0x400000), a PT_DYNAMIC
 * at 0x200 and a string table at 0x400: "libz.so.1", "libc.so.6", and a
 * runpath "$ORIGIN/../lib". `tag` is DT_RUNPATH or DT_RPATH. */
static void make_image(struct image *im, int64_t tag, uint64_t strsz)
{
    static const char strs[] = "\0libz.so.1\0libc.so.6\0$ORIGIN/../lib";
    Elf64_Ehdr *eh = (Elf64_Ehdr *)im->b;
    Elf64_Phdr *ph = (Elf64_Phdr *)(im->b + 64);
    Elf64_Dyn *dyn = (Elf64_Dyn *)(im->b + 0x200);

    memset(im, 0, sizeof(*im));
    im->size = 0x400 + sizeof(strs);
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_type = ET_DYN;
    eh->e_machine = EM_X86_64;
    eh->e_phoff = 64;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 2;
    ph[0].p_type = PT_LOAD;
    ph[0].p_vaddr = 0x400000;
    ph[0].p_filesz = im->size;
    ph[1].p_type = PT_DYNAMIC;
    ph[1].p_offset = 0x200;
    ph[1].p_filesz = 6 * sizeof(Elf64_Dyn);
    dyn[0] = (Elf64_Dyn){ DT_NEEDED, { 1 } };
    dyn[1] = (Elf64_Dyn){ DT_NEEDED, { 11 } };
    dyn[2] = (Elf64_Dyn){ DT_STRTAB, { 0x400400 } };
    dyn[3] = (Elf64_Dyn){ DT_STRSZ, { strsz } };
    dyn[4] = (Elf64_Dyn){ tag, { 21 } };
    dyn[5] = (Elf64_Dyn){ DT_NULL, { 0 } };
    memcpy(im->b + 0x400, strs, sizeof(strs));
}

START_TEST(elfdyn_reads_needed_and_runpath)
{
    struct image im;
    struct elf_dyn d;

    make_image(&im, DT_RUNPATH, 36);
    ck_assert_int_eq(elfdyn_read(image_read, &im, im.size, &d), 0);
    ck_assert_str_eq(d.runpath, "$ORIGIN/../lib");
    ck_assert(!d.is_rpath);
    ck_assert_uint_eq(d.needed.n, 2);
    ck_assert_str_eq(d.needed.v[0], "libz.so.1");
    ck_assert_str_eq(d.needed.v[1], "libc.so.6");
    elfdyn_release(&d);
    make_image(&im, DT_RPATH, 36);
    ck_assert_int_eq(elfdyn_read(image_read, &im, im.size, &d), 0);
    ck_assert(d.is_rpath);
    elfdyn_release(&d);
}
END_TEST

START_TEST(elfdyn_refuses_what_lies_outside_the_file)
{
    struct image im;
    struct elf_dyn d;

    /* The string table runs past the end of the file. */
    make_image(&im, DT_RUNPATH, 4000);
    ck_assert_int_eq(elfdyn_read(image_read, &im, im.size, &d), -ENOEXEC);
    /* A string that is not terminated within the table. */
    make_image(&im, DT_RUNPATH, 30);
    ck_assert_int_eq(elfdyn_read(image_read, &im, im.size, &d), -ENOEXEC);
    /* A string table at an address no segment maps. */
    make_image(&im, DT_RUNPATH, 36);
    ((Elf64_Dyn *)(im.b + 0x200))[2].d_un.d_ptr = UINT64_MAX - 2;
    ck_assert_int_eq(elfdyn_read(image_read, &im, im.size, &d), -ENOEXEC);
    /* A dynamic section past the end, and an absurd program header count. */
    make_image(&im, DT_RUNPATH, 36);
    ((Elf64_Phdr *)(im.b + 64))[1].p_offset = UINT64_MAX - 8;
    ck_assert_int_eq(elfdyn_read(image_read, &im, im.size, &d), -ENOEXEC);
    make_image(&im, DT_RUNPATH, 36);
    ((Elf64_Ehdr *)im.b)->e_phnum = 60000;
    ck_assert_int_eq(elfdyn_read(image_read, &im, im.size, &d), -ENOEXEC);
    /* A needed name's offset past the table. */
    make_image(&im, DT_RUNPATH, 36);
    ((Elf64_Dyn *)(im.b + 0x200))[0].d_un.d_val = 1u << 30;
    ck_assert_int_eq(elfdyn_read(image_read, &im, im.size, &d), -ENOEXEC);
}
END_TEST

static ssize_t fd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
    return pread(*(int *)ctx, buf, len, (off_t)off);
}

START_TEST(elfdyn_reads_a_real_program)
{
    struct stat st;
    struct elf_dyn d;
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    bool libc = false;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(elfdyn_read(fd_read, &fd, (uint64_t)st.st_size, &d), 0);
    for (size_t i = 0; i < d.needed.n; i++)
        libc |= strcmp(d.needed.v[i], "libc.so.6") == 0;
    ck_assert(libc);
    ck_assert_ptr_null(d.runpath);
    elfdyn_release(&d);
    close(fd);
}
END_TEST

Suite *suite_program(void)
{
    Suite *s = suite_create("program");
    TCase *tc = tcase_create("resolve");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, system_program_needs_no_bind);
    tcase_add_test(tc, bare_names_use_the_guest_path);
    tcase_add_test(tc, missing_program_is_not_found);
    tcase_add_test(tc, path_entries_outside_the_view_are_skipped);
    tcase_add_test(tc, directory_is_not_executable);
    tcase_add_test(tc, file_without_execute_bit_is_refused);
    tcase_add_test(tc, text_without_shebang_runs_with_bin_sh_binary_junk_is_refused);
    tcase_add_test(tc, empty_file_is_refused);
    tcase_add_test(tc, script_outside_the_view_is_bound);
    tcase_add_test(tc, script_interpreter_outside_the_view_is_bound_too);
    tcase_add_test(tc, script_with_missing_interpreter_is_refused);
    tcase_add_test(tc, script_with_relative_interpreter_is_refused);
    tcase_add_test(tc, overlong_shebang_is_refused);
    tcase_add_test(tc, recursive_shebang_is_bounded);
    tcase_add_test(tc, foreign_elf_is_refused_with_its_machine);
    tcase_add_test(tc, thirty_two_bit_elf_is_refused);
    tcase_add_test(tc, truncated_elf_is_refused);
    tcase_add_test(tc, elf_with_absurd_program_headers_is_refused);
    tcase_add_test(tc, unreadable_program_is_refused);
    tcase_add_test(tc, dynamic_elf_in_a_hidden_dir_binds_only_itself);
    tcase_add_test(tc, a_program_in_a_mount_is_found_by_its_guest_path);
    tcase_add_test(tc, a_held_mount_source_is_read_through_its_descriptor);
    tcase_add_test(tc, a_later_mount_covers_an_earlier_one);
    tcase_add_test(tc, a_mount_is_vetted_like_any_program);
    tcase_add_test(tc, a_symlink_out_of_a_mount_is_left_to_the_guest);
    tcase_add_test(tc, view_open_finds_files_as_the_guest_sees_them);
    tcase_add_test(tc, elfdyn_reads_needed_and_runpath);
    tcase_add_test(tc, elfdyn_refuses_what_lies_outside_the_file);
    tcase_add_test(tc, elfdyn_reads_a_real_program);
    suite_add_tcase(s, tc);
    return s;
}
