/* The guests' tiny runtime. Guest sources that are also compiled for the host (to compare
   results) use only rt_printf from here; the host build provides it over vprintf. */
#ifndef RT_H
#define RT_H
#include <stdint.h>
#include <stddef.h>

int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifndef RT_HOST
/* Port 0xE9: QEMU's debugcon and the test harness collect these bytes. */
#define RT_CONSOLE_PORT 0xE9
/* Port 0xF4: isa-debug-exit; the status byte written is the guest's exit status. */
#define RT_EXIT_PORT 0xF4

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }

void rt_putc(char c);
void rt_puts(const char *s);
__attribute__((noreturn)) void rt_exit(int status);

/* Value of "key=<number>" in the Multiboot command line, or def when absent. */
uint32_t rt_arg(const char *key, uint32_t def);
/* Value of "key=<word>" copied into buf (NUL-terminated), or 0 when absent. */
int rt_arg_str(const char *key, char *buf, size_t len);

/* The guest's entry; its return value is the exit status. */
int kmain(void);

/* Exceptions: a frame as built by isr.S. */
struct frame {
    uint32_t edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
    uint32_t vector, err;
    uint32_t eip, cs, eflags;
};
void isr_dispatch(struct frame *f);
typedef void (*isr_handler)(struct frame *f);
/* Installs a 32-bit interrupt gate for vector (only the vectors isr.S has stubs for). */
void rt_set_handler(int vector, isr_handler h);
#endif

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strcpy(char *d, const char *s);
#endif
