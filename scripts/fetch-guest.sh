#!/usr/bin/env bash
# Fetches the Linux guest used by the in-process boot harness: Debian bookworm's i386 686 kernel and
# busybox-static (i386), downloaded with apt (which verifies the archive signatures), and builds
# initramfs images around busybox. Everything lands in a cache outside the repository
# ($VIRT_GUEST_CACHE, default ~/.cache/virt-guests); nothing here is ever committed.
#
# Usage: scripts/fetch-guest.sh [--commands FILE] [--quiet-paths]
#   (no argument)     interactive image: /init mounts /proc, /sys, devtmpfs, prints the marker
#                     line, then runs a shell on the console. Also builds the "smoke" image
#                     (uname -a, then poweroff -f) that the boot test uses.
#   --commands FILE   an image whose /init runs FILE's lines with busybox sh after the marker,
#                     then powers off (poweroff -f).
# Prints KEY=PATH lines for what it produced. Idempotent: cache hits do no network I/O.
set -euo pipefail

cache="${VIRT_GUEST_CACHE:-$HOME/.cache/virt-guests}"
commands=""
while [ $# -gt 0 ]; do
    case "$1" in
        --commands) commands="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "fetch-guest: unknown argument $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$cache"
log() { echo "fetch-guest: $*" >&2; }

need_apt_update=0
ensure_i386() {
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        log "adding the i386 architecture"
        dpkg --add-architecture i386
        need_apt_update=1
    fi
    if [ "$need_apt_update" = 1 ] || ! apt-cache show linux-image-686:i386 >/dev/null 2>&1; then
        log "apt-get update"
        # A partial failure (e.g. a mirror mid-sync for one suite) is not fatal: the lookups below fail clearly if it mattered.
        apt-get update -qq >/dev/null 2>&1 || log "apt-get update reported errors; continuing with the lists it got"
    fi
}

# The kernel: whatever ABI package the linux-image-686 metapackage currently depends on.
kdir="$cache/kernel"
if ! ls "$kdir"/vmlinuz-* >/dev/null 2>&1; then
    ensure_i386
    kpkg=$(apt-cache depends linux-image-686:i386 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    kpkg="${kpkg%%:*}"
    [ -n "$kpkg" ] || { log "cannot resolve the kernel package behind linux-image-686:i386"; exit 1; }
    log "downloading $kpkg:i386"
    tmp=$(mktemp -d); chmod 755 "$tmp"  # apt drops to _apt for downloads
    (cd "$tmp" && apt-get download -qq "$kpkg:i386" >/dev/null)
    dpkg-deb -x "$tmp"/*.deb "$tmp/x"
    mkdir -p "$kdir"
    cp "$tmp"/x/boot/vmlinuz-* "$kdir/"
    cp "$tmp"/x/boot/config-* "$kdir/" 2>/dev/null || true
    cp "$tmp"/x/boot/System.map-* "$kdir/" 2>/dev/null || true
    rm -rf "$tmp"
fi
vmlinuz=$(ls "$kdir"/vmlinuz-* | head -n1)

bdir="$cache/busybox"
if [ ! -x "$bdir/busybox" ]; then
    ensure_i386
    log "downloading busybox-static:i386"
    tmp=$(mktemp -d); chmod 755 "$tmp"  # apt drops to _apt for downloads
    (cd "$tmp" && apt-get download -qq busybox-static:i386 >/dev/null)
    dpkg-deb -x "$tmp"/*.deb "$tmp/x"
    mkdir -p "$bdir"
    cp "$tmp/x/bin/busybox" "$bdir/busybox"
    chmod 755 "$bdir/busybox"
    rm -rf "$tmp"
fi

if ! command -v cpio >/dev/null 2>&1; then
    log "installing cpio"
    apt-get install -y -qq cpio >/dev/null
fi

# /init: busybox's own shell. A file /etc/virt-commands, when present, is run and then the
# machine is powered off; otherwise a shell is started on the console.
write_init() {
    cat > "$1" <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "VIRT-MARKER uptime: $(cat /proc/uptime)"
if [ -f /etc/virt-commands ]; then
    sh /etc/virt-commands
    echo "VIRT-DONE"
    poweroff -f
fi
echo "VIRT-SHELL"
exec setsid cttyhack sh
INIT
    chmod 755 "$1"
}

# build_image OUTPUT [COMMANDS_FILE]
build_image() {
    local out="$1" cmds="${2:-}"
    local root; root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
    cp "$bdir/busybox" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    write_init "$root/init"
    [ -z "$cmds" ] || cp "$cmds" "$root/etc/virt-commands"
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner 0:0 --quiet) | gzip -9n > "$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$root"
}

# Images are keyed by the content of their inputs (init script version, busybox, commands).
stamp=$( { sha256sum "$bdir/busybox"; declare -f write_init build_image; } | sha256sum | cut -c1-12)
interactive="$cache/initramfs-$stamp.cpio.gz"
[ -f "$interactive" ] || build_image "$interactive"

smoke_cmds="$cache/smoke-commands.txt"
printf 'uname -a\n' > "$smoke_cmds.new"
cmp -s "$smoke_cmds.new" "$smoke_cmds" 2>/dev/null && rm "$smoke_cmds.new" || mv "$smoke_cmds.new" "$smoke_cmds"
smoke="$cache/initramfs-smoke-$stamp.cpio.gz"
[ -f "$smoke" ] || build_image "$smoke" "$smoke_cmds"

# Stable names for tools and tests.
ln -sfn "kernel/$(basename "$vmlinuz")" "$cache/vmlinuz"
ln -sfn "$(basename "$interactive")" "$cache/initramfs.cpio.gz"
ln -sfn "$(basename "$smoke")" "$cache/initramfs-smoke.cpio.gz"

echo "VMLINUZ=$vmlinuz"
echo "INITRAMFS=$interactive"
echo "INITRAMFS_SMOKE=$smoke"
if [ -n "$commands" ]; then
    chash=$( { cat "$commands"; echo "$stamp"; } | sha256sum | cut -c1-12)
    custom="$cache/initramfs-commands-$chash.cpio.gz"
    [ -f "$custom" ] || build_image "$custom" "$commands"
    echo "INITRAMFS_COMMANDS=$custom"
fi
