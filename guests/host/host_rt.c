/* Host side of the guests that are also compiled natively: rt_printf over vprintf, and a main
   that runs the shared core the way the guest's kmain does. */
#include <stdarg.h>
#include <stdio.h>
#include "../rt/rt.h"

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int guest_core(void);

int main(void) { return guest_core(); }
