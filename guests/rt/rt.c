/* Guest runtime: console, exit, command line, a small printf, and the IDT. */
#include <stdarg.h>
#include "rt.h"

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

static const char *cmdline = "";

void rt_putc(char c) { outb(RT_CONSOLE_PORT, (uint8_t)c); }

void rt_puts(const char *s)
{
    while (*s) rt_putc(*s++);
}

void rt_exit(int status)
{
    outb(RT_EXIT_PORT, (uint8_t)status);
    for (;;) __asm__ volatile("cli; hlt");
}

int rt_main(uint32_t magic, const struct multiboot_info *mbi)
{
    if (magic != 0x2BADB002) {
        rt_puts("rt: not started by a Multiboot loader\n");
        return 0x7F;
    }
    if (mbi->flags & 4) cmdline = (const char *)mbi->cmdline;
    return kmain();
}

static const char *find_arg(const char *key)
{
    size_t n = strlen(key);
    for (const char *p = cmdline; *p; p++) {
        if ((p == cmdline || p[-1] == ' ') && strncmp(p, key, n) == 0 && p[n] == '=') return p + n + 1;
    }
    return 0;
}

uint32_t rt_arg(const char *key, uint32_t def)
{
    const char *v = find_arg(key);
    if (!v) return def;
    uint32_t x = 0;
    while (*v >= '0' && *v <= '9') x = x * 10 + (uint32_t)(*v++ - '0');
    return x;
}

int rt_arg_str(const char *key, char *buf, size_t len)
{
    const char *v = find_arg(key);
    if (!v || len == 0) return 0;
    size_t i = 0;
    while (v[i] && v[i] != ' ' && i + 1 < len) { buf[i] = v[i]; i++; }
    buf[i] = 0;
    return 1;
}

/* ---- printf: %[-0][width][l|ll|z]{d,i,u,x,X,s,c,p,%} ---- */

static void emit_num(uint64_t v, int base, int upper, int neg, int width, int zero, int left)
{
    char tmp[24];
    int n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    /* 32-bit values divide with DIV; only wider ones go through libgcc's __udivmoddi4. */
    if (v >> 32 == 0) {
        uint32_t w = (uint32_t)v;
        do { tmp[n++] = digits[w % (unsigned)base]; w /= (unsigned)base; } while (w);
    } else {
        do { tmp[n++] = digits[v % (unsigned)base]; v /= (unsigned)base; } while (v);
    }
    int len = n + neg;
    if (neg && zero) rt_putc('-');
    if (!left) for (; len < width; len++) rt_putc(zero ? '0' : ' ');
    if (neg && !zero) rt_putc('-');
    while (n) rt_putc(tmp[--n]);
    if (left) for (; len < width; len++) rt_putc(' ');
}

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') { rt_putc(*p); continue; }
        p++;
        int left = 0, zero = 0, width = 0, lng = 0;
        for (;; p++) {
            if (*p == '-') left = 1;
            else if (*p == '0') zero = 1;
            else break;
        }
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z') { if (*p == 'l') lng++; p++; }
        switch (*p) {
        case 'd': case 'i': {
            int64_t v = lng >= 2 ? va_arg(ap, long long) : (lng ? va_arg(ap, long) : va_arg(ap, int));
            emit_num(v < 0 ? (uint64_t)-v : (uint64_t)v, 10, 0, v < 0, width, zero, left);
            break;
        }
        case 'u': case 'x': case 'X': {
            uint64_t v = lng >= 2 ? va_arg(ap, unsigned long long) : (lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned));
            emit_num(v, *p == 'u' ? 10 : 16, *p == 'X', 0, width, zero, left);
            break;
        }
        case 'p': emit_num((uintptr_t)va_arg(ap, void *), 16, 0, 0, width, zero, left); break;
        case 'c': rt_putc((char)va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            int len = (int)strlen(s);
            if (!left) for (; len < width; len++) rt_putc(' ');
            rt_puts(s);
            if (left) for (; len < width; len++) rt_putc(' ');
            break;
        }
        case '%': rt_putc('%'); break;
        default: rt_putc('%'); rt_putc(*p); break;
        }
    }
    va_end(ap);
    return 0;
}

/* ---- IDT ---- */

struct idt_entry { uint16_t off_lo, sel; uint8_t zero, type; uint16_t off_hi; } __attribute__((packed));
static struct idt_entry idt[256] __attribute__((aligned(8)));
static isr_handler handlers[256];

extern char isr0[], isr3[], isr6[], isr8[], isr13[], isr14[], isr48[];

static void *stub_for(int vector)
{
    switch (vector) {
    case 0: return isr0;
    case 3: return isr3;
    case 6: return isr6;
    case 8: return isr8;
    case 13: return isr13;
    case 14: return isr14;
    case 48: return isr48;
    default: return 0;
    }
}

void rt_set_handler(int vector, isr_handler h)
{
    void *stub = stub_for(vector);
    if (!stub) { rt_printf("rt: no stub for vector %d\n", vector); rt_exit(0x7E); }
    uint32_t a = (uint32_t)stub;
    idt[vector] = (struct idt_entry){ (uint16_t)a, 0x08, 0, 0x8E, (uint16_t)(a >> 16) };
    handlers[vector] = h;
    struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idtr = { sizeof idt - 1, (uint32_t)idt };
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

void isr_dispatch(struct frame *f)
{
    if (handlers[f->vector]) { handlers[f->vector](f); return; }
    rt_printf("rt: unexpected exception %u err=%x eip=%x\n", f->vector, f->err, f->eip);
    rt_exit(0x7D);
}
