#!/usr/bin/env bash
# Boots Debian's i386 Linux (bookworm's 686 kernel, busybox initramfs) on virt: `virt run --kernel
# vmlinuz --initrd initramfs --append "console=ttyS0 ..."`. The guest is fetched on first use
# (scripts/fetch-guest.sh: apt-get download, cached in ~/.cache/virt-guests) and virt is built.
#
#   stdin a terminal: the interactive image, a busybox shell on the console (Ctrl-A X quits virt,
#                     `poweroff -f` ends the guest).
#   otherwise:        the command-list image (scripts/linux-commands.txt: uname -a, /proc/cpuinfo,
#                     ls /, a computation), which powers off when done; works with no stdin at all.
#
# Extra arguments go to `virt run` (e.g. --stats boot.json, -m 512M). VIRT_APPEND replaces the
# kernel command line. cryptomgr.notests skips the kernel's crypto self-tests, which take most of
# an interpreted boot otherwise; nokaslr keeps addresses stable for debugging.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ -t 0 ]; then
    guest=$("$root/scripts/fetch-guest.sh")
    initrd=$(sed -n 's/^INITRAMFS=//p' <<<"$guest")
else
    guest=$("$root/scripts/fetch-guest.sh" --commands "$root/scripts/linux-commands.txt")
    initrd=$(sed -n 's/^INITRAMFS_COMMANDS=//p' <<<"$guest")
fi
kernel=$(sed -n 's/^VMLINUZ=//p' <<<"$guest")

echo "boot-linux: building virt" >&2
dotnet build "$root/monitor/Virt.Monitor" -c Release --nologo -v q -clp:NoSummary >&2
virt="$root/monitor/Virt.Monitor/bin/Release/net10.0/virt"

append="${VIRT_APPEND:-console=ttyS0 nokaslr panic=-1 cryptomgr.notests}"
exec "$virt" run -m 256M --kernel "$kernel" --initrd "$initrd" --append "$append" "$@"
