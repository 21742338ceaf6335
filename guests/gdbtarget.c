/* The GDB stub's test guest (tests/Virt.Integration.Tests/Debug): known symbols to break at, a
   global to watch, a loop a debugger can interrupt, and on request an exception and an unknown MSR
   for the -d log. Command line: spin=1 loops until a debugger sets `release`; fault=1 takes #UD and
   #GP (RDMSR of an MSR no CPU has), each skipped by its handler. Exits with status 3. */
#include "rt/rt.h"

volatile uint32_t counter;
volatile uint32_t watched;
volatile uint32_t release;
volatile uint32_t faults;

__attribute__((noinline)) uint32_t step_here(uint32_t x)
{
    return x * 3 + 1;
}

__attribute__((noinline)) void touch_watched(uint32_t v)
{
    watched = v;
}

/* #UD (UD2) and #GP (RDMSR): both two bytes long, skipped. */
static void skip2(struct frame *f)
{
    faults++;
    f->eip += 2;
}

int kmain(void)
{
    rt_printf("gdbtarget: release at %p\n", (void *)&release);
    if (rt_arg("fault", 0)) {
        rt_set_handler(6, skip2);
        rt_set_handler(13, skip2);
        __asm__ volatile("ud2");
        uint32_t lo, hi;
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0DE0001u));
        rt_printf("gdbtarget: faults=%u\n", faults);
    }
    if (rt_arg("spin", 0)) {
        rt_printf("gdbtarget: spinning\n");
        while (!release) counter++;
        counter = 0;
    }
    for (uint32_t i = 0; i < 10; i++) counter += step_here(i);
    touch_watched(0x1234);
    rt_printf("gdbtarget: counter=%u watched=%x\n", counter, watched);
    return 3;
}
