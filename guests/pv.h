/* The paravirtual layer of pvwork.c: the operations a kernel's interrupt code needs, as native
   instructions, or (built with -DPV_CALL_TABLE) as direct calls into this monitor's call table
   (docs/paravirt.md), placed through its MSR after CPUID finds it. Calling convention of the table:
   arguments in EAX, EDX, ECX; result in EAX (EDX:EAX for read_time); EBX, ECX, ESI, EDI, EBP kept. */
#ifndef PV_H
#define PV_H
#include "rt/rt.h"

enum pv_entry {
    PV_CLI, PV_STI, PV_SAVE_FL, PV_RESTORE_FL, PV_IRQ_ENABLE_AND_HALT,
    PV_HALT, PV_CONSOLE_WRITE, PV_PORT_WRITE_BATCH, PV_READ_TIME, PV_FLUSH_TLB,
};

/* One write of a batch: the layout port_write_batch reads. */
struct pv_port_write { uint16_t port; uint8_t size, reserved; uint32_t value; };

#define PV_COM1 0x3F8

static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }

#ifdef PV_CALL_TABLE
/* The page the monitor fills with the stubs; entry n is at pv_table + 32 n. */
extern uint8_t pv_table[4096];

/* A direct CALL to entry n (a rel32 the linker resolves): the call site a translator can inline. */
#define PV_CALL(n) "call pv_table + " #n " * 32"

static inline void pv_cli(void) { __asm__ volatile(PV_CALL(0) ::: "memory"); }
static inline void pv_sti(void) { __asm__ volatile(PV_CALL(1) ::: "memory"); }
static inline uint32_t pv_save_fl(void) { uint32_t f; __asm__ volatile(PV_CALL(2) : "=a"(f)::"memory"); return f; }
static inline void pv_restore_fl(uint32_t f) { __asm__ volatile(PV_CALL(3) : "+a"(f)::"memory", "cc"); }
static inline void pv_irq_enable_and_halt(void) { __asm__ volatile(PV_CALL(4) ::: "memory"); }
static inline int32_t pv_console_write(const char *s, uint32_t n)
{
    int32_t r;
    __asm__ volatile(PV_CALL(6) : "=a"(r) : "a"(s), "d"(n) : "memory");
    return r;
}
static inline int32_t pv_port_write_batch(const struct pv_port_write *w, uint32_t n)
{
    int32_t r;
    __asm__ volatile(PV_CALL(7) : "=a"(r) : "a"(w), "d"(n) : "memory");
    return r;
}
static inline uint64_t pv_read_time(void) { uint64_t t; __asm__ volatile(PV_CALL(8) : "=A"(t)::"memory"); return t; }

/* CPUID finds the interface and the MSR that places the table; 0 when absent. */
static inline int pv_init(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000000u), "c"(0));
    if (b != 0x74726956u || c != 0x61726150u || d != 0x74726976u || a < 0x40000001u) return 0; /* "VirtParavirt" */
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000001u), "c"(0));
    if (!(b & 1) || d <= PV_FLUSH_TLB) return 0;
    __asm__ volatile("wrmsr" ::"c"(c), "a"((uint32_t)pv_table | 1), "d"(0) : "memory");
    return 1;
}
#define PV_MODE "table"
#else
static inline void pv_cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void pv_sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline uint32_t pv_save_fl(void) { uint32_t f; __asm__ volatile("pushfl; popl %0" : "=r"(f)::"memory"); return f; }
static inline void pv_restore_fl(uint32_t f) { __asm__ volatile("pushl %0; popfl" ::"g"(f) : "memory", "cc"); }
static inline void pv_irq_enable_and_halt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline int32_t pv_console_write(const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) outb(PV_COM1, (uint8_t)s[i]);
    return (int32_t)n;
}
static inline int32_t pv_port_write_batch(const struct pv_port_write *w, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (w[i].size == 1) outb(w[i].port, (uint8_t)w[i].value);
        else if (w[i].size == 2) outw(w[i].port, (uint16_t)w[i].value);
        else outl(w[i].port, w[i].value);
    }
    return (int32_t)n;
}
static inline uint64_t pv_read_time(void) { uint64_t t; __asm__ volatile("rdtsc" : "=A"(t)); return t; }
static inline int pv_init(void) { return 1; }
#define PV_MODE "native"
#endif
#endif
