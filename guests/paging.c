/* Paging and exceptions: a page directory mixing 4 MiB (PSE) and 4 KiB pages, page faults taken
   and fixed up (not-present read and write, write to a read-only page with CR0.WP, a REP MOVSB
   that runs into a missing page and must resume where it stopped), aliases checked through both
   page sizes, then a #GP and a #DE handled and resumed past the faulting instruction. Prints one
   line per check; the exit status is the number of failed checks. */
#include "rt/rt.h"

#define P 0x001u
#define RW 0x002u
#define PS 0x080u
#define MB 0x100000u

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt4m[1024] __attribute__((aligned(4096))); /* 4 KiB pages for 4 MiB - 8 MiB */

static int failures;
static volatile uint32_t pf_count, last_cr2, last_err, last_vector, last_eip;
static volatile uint32_t recover_eip;

static void check(const char *what, int ok)
{
    rt_printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

static inline uint32_t read_cr2(void) { uint32_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline void invlpg(uint32_t a) { __asm__ volatile("invlpg (%0)" ::"r"(a) : "memory"); }

static void on_page_fault(struct frame *f)
{
    uint32_t cr2 = read_cr2();
    pf_count++;
    last_cr2 = cr2;
    last_err = f->err;
    last_eip = f->eip;
    if (cr2 < 4 * MB || cr2 >= 8 * MB) {
        rt_printf("unexpected #PF at %08x err=%x eip=%08x\n", cr2, f->err, f->eip);
        rt_exit(0x70);
    }
    /* Map the page (present, writable) and return: the CPU retries the instruction. */
    pt4m[(cr2 >> 12) & 1023] |= P | RW;
    invlpg(cr2);
}

static void on_fault_skip(struct frame *f)
{
    last_vector = f->vector;
    last_err = f->err;
    last_eip = f->eip;
    f->eip = recover_eip;
}

static void setup_paging(void)
{
    pd[0] = 0 | PS | RW | P;                        /* 0-4 MiB identity, one 4 MiB page: code, data, stack */
    pd[1] = (uint32_t)pt4m | RW | P;                /* 4-8 MiB through a page table */
    pd[3] = (4 * MB) | PS | RW | P;                 /* 12-16 MiB aliases physical 4-8 MiB through a 4 MiB page */
    for (uint32_t i = 0; i < 1024; i++) pt4m[i] = (4 * MB + i * 4096) | RW | P;
    pt4m[0x200] = (4 * MB + 0x200000) | 0;          /* 0x600000: not present */
    pt4m[0x201] = (4 * MB + 0x201000) | P;          /* 0x601000: read-only */
    pt4m[0x202] = (4 * MB + 0x202000) | 0;          /* 0x602000: not present */
    pt4m[0x203] = (4 * MB + 0x205000) | RW | P;     /* 0x603000 aliases 0x605000 */
    pt4m[0x207] = (4 * MB + 0x207000) | 0;          /* 0x607000: not present, REP MOVSB runs into it */

    uint32_t cr0, cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | 0x10));  /* PSE */
    __asm__ volatile("mov %0, %%cr3" ::"r"(pd));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" ::"r"(cr0 | 0x80010000u) : "memory"); /* PG | WP */
}

int kmain(void)
{
    rt_set_handler(14, on_page_fault);
    rt_set_handler(13, on_fault_skip);
    rt_set_handler(0, on_fault_skip);

    /* Markers written with paging off, at physical addresses. */
    *(volatile uint32_t *)0x600000 = 0xCAFEBABE;
    *(volatile uint32_t *)0x601000 = 0x0000F00D;
    *(volatile uint32_t *)0x605010 = 0x5EED5EED;
    setup_paging();
    uint32_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    check("paging enabled", (cr0 & 0x80000000u) != 0);

    /* 1. Read from a not-present page: #PF, error code 0 (read, not present, supervisor). */
    uint32_t v = *(volatile uint32_t *)0x600000;
    check("read fault: one #PF", pf_count == 1);
    check("read fault: CR2", last_cr2 == 0x600000);
    check("read fault: error code 0", last_err == 0);
    check("read fault: retried value", v == 0xCAFEBABE);

    /* 2. Write to a not-present page: error code 2. */
    *(volatile uint32_t *)0x602004 = 0x12345678;
    check("write fault: CR2", pf_count == 2 && last_cr2 == 0x602004);
    check("write fault: error code 2", last_err == 2);
    check("write fault: value stored", *(volatile uint32_t *)0x602004 == 0x12345678);

    /* 3. Write to a read-only page with CR0.WP: error code 3 (protection, write). */
    *(volatile uint32_t *)0x601008 = 0xABCD;
    check("read-only fault: CR2 and error code 3", pf_count == 3 && last_cr2 == 0x601008 && last_err == 3);
    check("read-only fault: old and new data", *(volatile uint32_t *)0x601000 == 0xF00D && *(volatile uint32_t *)0x601008 == 0xABCD);

    /* 4. Aliases: a 4 KiB alias and a 4 MiB (PSE) alias of the same physical bytes. */
    check("4 KiB alias reads", *(volatile uint32_t *)0x603010 == 0x5EED5EED);
    *(volatile uint32_t *)(12 * MB + 0x205020) = 0x77777777;
    check("4 MiB alias writes", *(volatile uint32_t *)0x605020 == 0x77777777);
    *(volatile uint32_t *)0x605030 = 0x31415926;
    check("4 MiB alias reads", *(volatile uint32_t *)(12 * MB + 0x205030) == 0x31415926);

    /* 5. REP MOVSB from 0x606800 into 0x606C00..0x607400: faults at 0x607000 part way, resumes. */
    for (uint32_t i = 0; i < 0x800; i++) *(volatile uint8_t *)(0x606800 + i) = (uint8_t)(i * 7 + 3);
    uint32_t before = pf_count, src = 0x606800, dst = 0x606C00, cnt = 0x800;
    __asm__ volatile("rep movsb" : "+S"(src), "+D"(dst), "+c"(cnt) : : "memory");
    check("rep movsb fault: one #PF at the page boundary", pf_count == before + 1 && last_cr2 == 0x607000 && last_err == 2);
    int same = src == 0x607000 && dst == 0x607400 && cnt == 0;
    /* Source and destination overlap: the expected bytes are those of a forward byte-by-byte copy. */
    static uint8_t expect[0xC00];
    for (uint32_t i = 0; i < 0x800; i++) expect[i] = (uint8_t)(i * 7 + 3);
    for (uint32_t i = 0; i < 0x800; i++) expect[0x400 + i] = expect[i];
    for (uint32_t i = 0; i < 0xC00; i++) same &= *(volatile uint8_t *)(0x606800 + i) == expect[i];
    check("rep movsb fault: copy complete and registers final", same);

    /* 6. #GP: load DS with a selector beyond the GDT limit; the handler skips the instruction. */
    uint32_t fault_at;
    __asm__ volatile(
        "movl $1f, %[rec]\n\t"
        "movl $0f, %[at]\n\t"
        "mov $0x1233, %%ax\n"
        "0:\tmov %%ax, %%ds\n"
        "1:\n\t"
        : [rec] "=m"(recover_eip), [at] "=r"(fault_at) : : "eax", "memory");
    check("#GP: vector 13, error code = selector 0x1230", last_vector == 13 && last_err == 0x1230);
    check("#GP: EIP of the faulting instruction", last_eip == fault_at);
    uint16_t ds;
    __asm__ volatile("mov %%ds, %0" : "=r"(ds));
    check("#GP: DS unchanged", ds == 0x10);

    /* 7. #DE: divide by zero; the handler skips the DIV. */
    uint32_t q = 0;
    __asm__ volatile(
        "movl $1f, %[rec]\n\t"
        "movl $0f, %[at]\n\t"
        "mov $100, %%eax\n\t"
        "xor %%edx, %%edx\n\t"
        "xor %%ecx, %%ecx\n"
        "0:\tdivl %%ecx\n"
        "1:\n\t"
        "mov %%eax, %[q]\n\t"
        : [rec] "=m"(recover_eip), [at] "=r"(fault_at), [q] "=r"(q) : : "eax", "ecx", "edx", "memory");
    check("#DE: vector 0 at the DIV", last_vector == 0 && last_eip == fault_at);
    check("#DE: resumed after, EAX untouched", q == 100);

    rt_printf("page faults: %u, failures: %d\n", pf_count, failures);
    return failures;
}
