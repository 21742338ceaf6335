/* Benchmark guest: one of three workloads, chosen on the command line ("mode=reg|mem|crc
   iters=N"), so the same binary runs in the interpreter and under QEMU. Every workload retires a
   fixed number of instructions per iteration, so instruction counts are linear in N. */
#include "rt/rt.h"

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[2][1024] __attribute__((aligned(4096)));
static uint8_t buf[16384] __attribute__((aligned(4096)));

/* 4 instructions per iteration, registers only. */
static uint32_t reg_loop(uint32_t n)
{
    uint32_t a = 1, d = 2;
    if (!n) return 0;
    __asm__ volatile(
        "1:\n\t"
        "add %%ecx, %%eax\n\t"
        "xor %%eax, %%edx\n\t"
        "dec %%ecx\n\t"
        "jnz 1b"
        : "+a"(a), "+d"(d), "+c"(n));
    return a ^ d;
}

/* Identity paging of the first 8 MiB through 4 KiB page tables, so every access goes through the TLB. */
static void paging_on(void)
{
    for (uint32_t t = 0; t < 2; t++) {
        for (uint32_t i = 0; i < 1024; i++) pt[t][i] = (t << 22) + (i << 12) + 3;
        pd[t] = (uint32_t)pt[t] + 3;
    }
    uint32_t cr0;
    __asm__ volatile("mov %0, %%cr3" ::"r"(pd));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" ::"r"(cr0 | 0x80000000u) : "memory");
}

/* 8 instructions per iteration: one load, one store, walking a 16 KiB buffer (4 pages). */
static uint32_t mem_loop(uint32_t n)
{
    uint32_t off = 0, x = 0;
    if (!n) return 0;
    __asm__ volatile(
        "1:\n\t"
        "mov (%[b],%[o]), %%eax\n\t"
        "add %%ecx, %%eax\n\t"
        "mov %%eax, 4(%[b],%[o])\n\t"
        "xor %%eax, %[x]\n\t"
        "add $8, %[o]\n\t"
        "and $0x3FF8, %[o]\n\t"
        "dec %%ecx\n\t"
        "jnz 1b"
        : [o] "+r"(off), [x] "+r"(x), "+c"(n)
        : [b] "r"(buf)
        : "eax", "memory");
    return x;
}

/* Compiled C: table CRC-32 over the buffer, then a small insertion sort, every iteration. */
static uint32_t crc_table[256];

static uint32_t crc_sort(uint32_t n)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    uint32_t h = 0;
    for (uint32_t it = 0; it < n; it++) {
        uint32_t c = 0xFFFFFFFFu;
        for (uint32_t i = 0; i < 1024; i++) c = crc_table[(c ^ buf[i]) & 0xFF] ^ (c >> 8);
        uint32_t a[32];
        for (int i = 0; i < 32; i++) a[i] = (c >> (i & 15)) * 2654435761u;
        for (int i = 1; i < 32; i++) {
            uint32_t v = a[i];
            int j = i - 1;
            for (; j >= 0 && a[j] > v; j--) a[j + 1] = a[j];
            a[j + 1] = v;
        }
        h = h * 31 + (c ^ a[0] ^ a[31]);
    }
    return h;
}

int kmain(void)
{
    char mode[8];
    uint32_t n = rt_arg("iters", 1000);
    if (!rt_arg_str("mode", mode, sizeof mode)) strcpy(mode, "reg");
    for (uint32_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 13);
    uint32_t r;
    if (strcmp(mode, "reg") == 0) r = reg_loop(n);
    else if (strcmp(mode, "mem") == 0) { paging_on(); r = mem_loop(n); }
    else if (strcmp(mode, "crc") == 0) r = crc_sort(n);
    else { rt_printf("bench: unknown mode '%s'\n", mode); return 2; }
    rt_printf("bench %s iters=%u result=%08x\n", mode, n, r);
    return 0;
}
