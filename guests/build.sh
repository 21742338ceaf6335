#!/bin/sh
# Compiles a guest (or its host twin) and prints the path of the result. Results are cached under
# $VIRT_GUEST_CACHE (default $TMPDIR/virt-guests) by a hash of every source here, so tests and the
# benchmark can call this freely and nothing compiled is ever written into the tree.
#   build.sh guest <name>   freestanding i686 Multiboot ELF from <name>.c + rt/
#   build.sh host <name>    the same <name>.c as a native x86-64 program (main in host/host_rt.c)
#   build.sh firmware <name>  a flat guest-firmware image from <name>.c (firmware.ld; docs/firmware-reflection.md)
set -eu
kind=${1:?usage: build.sh guest|host|firmware <name>}
name=${2:?usage: build.sh guest|host|firmware <name>}
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/$name.c" ] || { echo "build.sh: no guest source $here/$name.c" >&2; exit 2; }
command -v gcc >/dev/null || { echo "build.sh: gcc not found (CI needs: apt-get install gcc gcc-multilib)" >&2; exit 3; }

hash=$(cd "$here" && find . -type f \( -name '*.c' -o -name '*.h' -o -name '*.S' -o -name '*.ld' -o -name '*.sh' \) | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
out=${VIRT_GUEST_CACHE:-${TMPDIR:-/tmp}/virt-guests}/$hash
mkdir -p "$out"

# -g: the guests carry their symbols and line tables for gdb (docs/debugging.md); the loader reads only the
# program headers, so what runs is the same.
# -fno-tree-loop-distribute-patterns: gcc would otherwise turn libc.c's own loops into calls to memcpy/memset.
# -fexcess-precision=standard: every assignment and cast rounds to its type (C99's rule for
# FLT_EVAL_METHOD 2), so the i686 guest and its x86-64 twin give the same bits whatever registers
# the two code generators keep values in (with "fast", a double kept on the x87 stack between loop
# iterations in one build and spilled in the other differs in its last bit).
COMMON="-O2 -std=gnu11 -fexcess-precision=standard -Wall -Wextra -Werror -fno-tree-loop-distribute-patterns"
CFLAGS="-m32 -march=i686 $COMMON"
GUEST="-g -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib"

case $kind in
guest)
    target=$out/$name.elf
    if [ ! -f "$target" ]; then
        tmp=$(mktemp -d "$out/build.XXXXXX")
        for src in rt/start.S rt/isr.S rt/rt.c rt/libc.c "$name.c"; do
            gcc $CFLAGS $GUEST -c "$here/$src" -o "$tmp/$(basename "$src").o"
        done
        gcc -m32 -nostdlib -static -no-pie -T "$here/linker.ld" -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments \
            -o "$tmp/$name.elf" "$tmp"/*.o -lgcc
        mv -f "$tmp/$name.elf" "$target"   # atomic: concurrent callers see a whole file or none
        rm -rf "$tmp"
    fi
    ;;
firmware)
    target=$out/$name.bin
    if [ ! -f "$target" ]; then
        tmp=$(mktemp -d "$out/build.XXXXXX")
        gcc $CFLAGS $GUEST -mgeneral-regs-only -c "$here/$name.c" -o "$tmp/$name.o"
        gcc -m32 -nostdlib -static -no-pie -T "$here/firmware.ld" -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments \
            -o "$tmp/$name.elf" "$tmp/$name.o"
        objcopy -O binary "$tmp/$name.elf" "$tmp/$name.bin"
        mv -f "$tmp/$name.bin" "$target"
        rm -rf "$tmp"
    fi
    ;;
host)
    target=$out/$name.host
    if [ ! -f "$target" ]; then
        # x86-64, not -m32: a host kernel without IA32 emulation cannot execute i386 programs, and the
        # twin is the independent reference the guest's output is checked against, so it must run on
        # every host. -mfpmath=387 keeps float and double arithmetic on the x87 with its excess
        # precision (FLT_EVAL_METHOD 2), as in the i686 guest; the guests use fixed-width types only,
        # so the integer results are the same by construction.
        gcc $COMMON -m64 -mfpmath=387 -DRT_HOST -o "$target.tmp.$$" "$here/host/host_rt.c" "$here/$name.c"
        mv -f "$target.tmp.$$" "$target"
    fi
    ;;
*) echo "build.sh: unknown kind '$kind' (guest|host|firmware)" >&2; exit 2 ;;
esac
echo "$target"
