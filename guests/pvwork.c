/* An interrupt-heavy workload over the paravirtual layer of pv.h: the PIT's timer interrupt at
   1 kHz through the 8259, critical sections with save_fl/cli/restore_fl and cli/sti, console lines,
   and idle waits for the next tick. Built twice (pvwork: native instructions; pvwork_table: the
   call table) from this one source; both print the same lines on COM1, and the mode on port 0xE9.
   Command line: "iters=N ticks=T every=E" (defaults 20000, 10, 1000). */
#include "rt/rt.h"
#include "pv.h"

#ifdef PV_CALL_TABLE
uint8_t pv_table[4096] __attribute__((aligned(4096)));
#endif

#define TIMER_VECTOR 48 /* the 8259's IRQ0, remapped to 0x30 (rt's isr.S has a stub for it) */

static volatile uint32_t ticks;
static uint32_t counters[64];

static void timer(struct frame *f)
{
    (void)f;
    ticks++;
    outb(0x20, 0x20); /* non-specific EOI */
}

/* The 8259 pair remapped to 0x30/0x38 with only IRQ0 open, and PIT channel 0 in mode 2 at 1 kHz:
   thirteen port writes, one call through the table. */
static void setup_timer(void)
{
    const uint16_t divisor = 1193; /* 1.193182 MHz / 1193 = 1000.15 Hz */
    static const struct pv_port_write init[] = {
        { 0x20, 1, 0, 0x11 }, { 0x21, 1, 0, 0x30 }, { 0x21, 1, 0, 0x04 }, { 0x21, 1, 0, 0x01 },
        { 0xA0, 1, 0, 0x11 }, { 0xA1, 1, 0, 0x38 }, { 0xA1, 1, 0, 0x02 }, { 0xA1, 1, 0, 0x01 },
        { 0xA1, 1, 0, 0xFF }, { 0x21, 1, 0, 0xFE },
        { 0x43, 1, 0, 0x34 }, { 0x40, 1, 0, divisor & 0xFF }, { 0x40, 1, 0, divisor >> 8 },
    };
    rt_set_handler(TIMER_VECTOR, timer);
    int32_t r = pv_port_write_batch(init, sizeof init / sizeof init[0]);
    if (r != (int32_t)(sizeof init / sizeof init[0])) { rt_printf("pvwork: port_write_batch returned %d\n", (int)r); rt_exit(0x7B); }
}

static uint32_t mix(uint32_t h, uint32_t v)
{
    h ^= v;
    h *= 0x01000193u;
    return (h << 7 | h >> 25) + 0x9E3779B9u;
}

/* Tiny formatters for the console lines (rt_printf writes to port 0xE9 a byte at a time). */
static uint32_t put_str(char *b, const char *s)
{
    uint32_t n = 0;
    while (s[n]) { b[n] = s[n]; n++; }
    return n;
}

static uint32_t put_dec(char *b, uint32_t v)
{
    char digits[10];
    uint32_t n = 0, len = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) b[len++] = digits[--n];
    return len;
}

static uint32_t put_hex(char *b, uint32_t v)
{
    for (int i = 0; i < 8; i++) b[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
    return 8;
}

/* "<label><n> h=<hex8>\n" into buf; returns the length. */
static uint32_t format_line(char *b, const char *label, uint32_t n, uint32_t h)
{
    uint32_t len = put_str(b, label);
    len += put_dec(b + len, n);
    len += put_str(b + len, " h=");
    len += put_hex(b + len, h);
    b[len++] = '\n';
    return len;
}

int kmain(void)
{
    uint32_t iters = rt_arg("iters", 20000), want_ticks = rt_arg("ticks", 10), every = rt_arg("every", 1000);
    if (every == 0) every = 1;
    if (!pv_init()) { rt_puts("pvwork: no call table (CPUID 0x40000000)\n"); return 0x7C; }
    rt_printf("pvwork mode=%s\n", PV_MODE);
    setup_timer();
    uint64_t t0 = pv_read_time();
    pv_sti();

    uint32_t h = 0x811C9DC5u, lines = 0;
    char line[48];
    for (uint32_t i = 0; i < iters; i++) {
        /* A critical section as local_irq_save / local_irq_restore make it. */
        uint32_t fl = pv_save_fl();
        pv_cli();
        h = mix(h, i);
        counters[i & 63] += h;
        pv_restore_fl(fl);
        /* And one as local_irq_disable / local_irq_enable make it. */
        if ((i & 3) == 0) {
            pv_cli();
            h = mix(h, counters[(i >> 2) & 63]);
            pv_sti();
        }
        if (i % every == 0) {
            uint32_t n = format_line(line, "i=", i, h);
            if (pv_console_write(line, n) != (int32_t)n) { rt_puts("pvwork: console_write failed\n"); return 0x7A; }
            lines++;
        }
    }

    /* Idle until enough ticks have passed: the check with interrupts off, the wait atomic with enabling them. */
    pv_cli();
    while (ticks < want_ticks) {
        pv_irq_enable_and_halt();
        pv_cli();
    }
    pv_sti();
    uint64_t t1 = pv_read_time();
    if (t1 <= t0) { rt_puts("pvwork: time did not advance\n"); return 0x79; }

    uint32_t n = format_line(line, "pvwork done lines=", lines, h);
    pv_console_write(line, n);
    return 0;
}
