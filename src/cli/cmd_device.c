/* SPDX-License-Identifier: MIT */
/* cmd_device.c: `sandboxvm device serve`: a device model behind a vhost-user socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/util.h"

#define MAX_DISKS 16

static int stop_w = -1;

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;

    if (stop_w >= 0)
        (void)!write(stop_w, &b, 1);
    errno = saved;
}

void cmd_device_help(void)
{
    fputs("Usage: sandboxvm device serve TYPE --disk IMG[,ro][,size=N] --socket PATH [OPTIONS]\n"
          "\n"
          "Serve a device model to a vhost-user client (User-Mode Linux with\n"
          "virtio_uml.device=PATH:ID, QEMU with vhost-user-blk-pci / vhost-user-scsi-pci).\n"
          "The back-end runs confined: its own namespaces, an empty read-only root, only\n"
          "the socket and the images, and a system-call allowlist.\n"
          "\n"
          "Types:\n"
          "  virtio-blk    a block device (virtio id 2): one --disk\n"
          "  virtio-scsi   a SCSI host (virtio id 8): each --disk is a target, LUN 0\n"
          "\n"
          "Options:\n"
          "  --disk IMG[,ro][,size=N]  a raw image; created at N bytes (e.g. 64M) when missing;\n"
          "                            ro: read-only, writes fail as on a protected disk\n"
          "  --socket PATH             where to listen (a stale socket there is replaced)\n"
          "  --once                    end when the first client hangs up\n"
          "  --trace-devices FILE      record every request with its status (text)\n"
          "  --trace-json              ... as JSON lines\n"
          "  -q, --quiet               do not print the back-end's messages\n"
          "  -h, --help                this help\n"
          "\n"
          "Example:\n"
          "  sandboxvm device serve virtio-blk --disk disk.img,size=256M --socket /tmp/blk.sock &\n"
          "  linux mem=256M ... virtio_uml.device=/tmp/blk.sock:2\n",
          stdout);
}

static int serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "disk", required_argument, NULL, 'd' }, { "socket", required_argument, NULL, 's' },
        { "once", no_argument, NULL, 'o' },       { "trace-devices", required_argument, NULL, 't' },
        { "trace-json", no_argument, NULL, 'j' }, { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 },
    };
    const char *disks[MAX_DISKS + 1] = { NULL };
    struct sbvm_device_serve o;
    struct sigaction sa;
    sbvm_error *err = NULL;
    unsigned ndisks = 0;
    bool quiet = false;
    int c, p[2], rc;

    memset(&o, 0, sizeof(o));
    o.size = sizeof(o);
    o.log_fd = 2;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (ndisks == MAX_DISKS) {
                cli_error("at most %d --disk", MAX_DISKS);
                return EXIT_USAGE;
            }
            disks[ndisks++] = optarg;
            break;
        case 's':
            o.socket = optarg;
            break;
        case 'o':
            o.once = 1;
            break;
        case 't':
            o.trace = optarg;
            break;
        case 'j':
            o.trace_json = 1;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            cmd_device_help();
            return 0;
        default:
            cli_error("device serve: unknown or incomplete option '%s' (see sandboxvm device "
                      "--help)",
                      argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("device serve: give exactly one device type (virtio-blk or virtio-scsi)");
        return EXIT_USAGE;
    }
    o.type = argv[optind];
    if (!ndisks || !o.socket) {
        cli_error("device serve: --disk and --socket are needed");
        return EXIT_USAGE;
    }
    o.disks = disks;
    if (quiet)
        o.log_fd = -1;
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
        cli_error("device serve: %s", strerror(errno));
        return EXIT_USAGE;
    }
    stop_w = p[1];
    o.stop_fd = p[0];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = sbvm_device_serve(&o, &err);
    close(p[0]);
    close(p[1]);
    stop_w = -1;
    if (rc < 0) {
        cli_error("%s", sbvm_error_message(err));
        sbvm_error_free(err);
        return rc == -EINVAL || rc == -EEXIST || rc == -EADDRINUSE ? EXIT_USAGE : 1;
    }
    return 0;
}

int cmd_device(int argc, char **argv)
{
    if (argc < 2 || streq(argv[1], "-h") || streq(argv[1], "--help")) {
        cmd_device_help();
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (streq(argv[1], "serve"))
        return serve(argc - 1, argv + 1);
    cli_error("device: unknown subcommand '%s' (the subcommand is serve)", argv[1]);
    return EXIT_USAGE;
}
