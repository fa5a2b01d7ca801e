#!/bin/sh
# SPDX-License-Identifier: MIT
# containerd-conf.sh DIR: writes DIR/containerd.toml for a containerd of a
# test's (or a benchmark's) own: its root, state and sockets (DIR/c.sock)
# in DIR, the native snapshotter only (no mounts), CRI and tracing off.
# Used by tests/cli/oci.bats and bench/oci.sh.
set -eu
dir="$1"
cat >"$dir/containerd.toml" <<EOF
version = 2
root = "$dir/ctd/root"
state = "$dir/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.overlayfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$dir/c.sock"
[ttrpc]
  address = "$dir/c.sock.ttrpc"
EOF
