/* x87 workout: long double and double arithmetic, conversions, comparisons, rounding and
   precision control, special values, the status word's exception flags, and the transcendental
   instructions. Built for the guest and, as an x86-64 program with -mfpmath=387 (every float and
   double operation on the x87, with its excess precision, as in the i686 build), for the host; results print as raw bits so the two outputs must match exactly. Transcendentals
   are printed rounded to float: their last bits differ between x87 implementations. */
#include "rt/rt.h"

static void pld(const char *what, long double x)
{
    struct { uint64_t m; uint16_t se; } __attribute__((packed)) b;
    memcpy(&b, &x, 10);
    rt_printf("%-10s %04x:%016llx\n", what, b.se, (unsigned long long)b.m);
}

static void pd(const char *what, double x)
{
    uint64_t b;
    memcpy(&b, &x, 8);
    rt_printf("%-10s %016llx\n", what, (unsigned long long)b);
}

static void pf(const char *what, long double x)
{
    float f = (float)x;
    uint32_t b;
    memcpy(&b, &f, 4);
    rt_printf("%-10s %08x\n", what, b);
}

static uint16_t get_cw(void) { uint16_t cw; __asm__ volatile("fnstcw %0" : "=m"(cw)); return cw; }
static void set_cw(uint16_t cw) { __asm__ volatile("fldcw %0" ::"m"(cw)); }
static uint16_t get_sw(void) { uint16_t sw; __asm__ volatile("fnstsw %0" : "=a"(sw)); return sw; }
static void clex(void) { __asm__ volatile("fnclex"); }

#define X87_UNARY(name, insn) \
    static long double name(long double x) { __asm__ volatile(insn : "+t"(x)); return x; }
X87_UNARY(x_sqrt, "fsqrt")
X87_UNARY(x_sin, "fsin")
X87_UNARY(x_cos, "fcos")
X87_UNARY(x_f2xm1, "f2xm1")
X87_UNARY(x_rndint, "frndint")
X87_UNARY(x_abs, "fabs")
X87_UNARY(x_chs, "fchs")

static long double x_patan(long double y, long double x) { long double r; __asm__ volatile("fpatan" : "=t"(r) : "0"(x), "u"(y) : "st(1)"); return r; }
static long double x_yl2x(long double x, long double y) { long double r; __asm__ volatile("fyl2x" : "=t"(r) : "0"(x), "u"(y) : "st(1)"); return r; }
static long double x_scale(long double x, long double s) { __asm__ volatile("fscale" : "+t"(x) : "u"(s)); return x; }
static long double x_prem(long double x, long double m) { __asm__ volatile("1: fprem\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\tjnz 1b" : "+t"(x) : "u"(m) : "eax"); return x; }
static long double x_prem1(long double x, long double m) { __asm__ volatile("1: fprem1\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\tjnz 1b" : "+t"(x) : "u"(m) : "eax"); return x; }
static long double x_tan(long double x) { long double one; __asm__ volatile("fptan" : "=t"(one), "=u"(x) : "0"(x)); return one == 1.0L ? x : -1; }
static void x_xtract(long double x, long double *sig, long double *exp) { __asm__ volatile("fxtract" : "=t"(*sig), "=u"(*exp) : "0"(x)); }
static long double x_ldpi(void) { long double r; __asm__ volatile("fldpi" : "=t"(r)); return r; }
static long double x_ldl2e(void) { long double r; __asm__ volatile("fldl2e" : "=t"(r)); return r; }
static long double x_ldln2(void) { long double r; __asm__ volatile("fldln2" : "=t"(r)); return r; }
static int64_t x_fistp(long double x) { int64_t r; __asm__ volatile("fistpll %0" : "=m"(r) : "t"(x) : "st"); return r; }
static uint16_t x_xam(long double x) { uint16_t sw; __asm__ volatile("fxam\n\tfnstsw %0" : "=a"(sw) : "t"(x)); return sw & 0x4700; }
static uint32_t x_comi(long double a, long double b)
{
    unsigned long fl; /* pushf/pop at the native width: the host twin is x86-64 */
    __asm__ volatile("fucomip %%st(1), %%st\n\tpushf\n\tpop %0" : "=r"(fl) : "t"(a), "u"(b) : "st");
    return (uint32_t)fl & 0x45; /* ZF PF CF */
}

static volatile long double vzero = 0.0L, vone = 1.0L, vthree = 3.0L, vmax = 1.0e4000L;

int guest_core(void)
{
    rt_printf("cw %04x\n", get_cw());

    /* Long double arithmetic. */
    long double h = 0;
    for (int i = 1; i <= 1000; i++) h += 1.0L / i;
    pld("harmonic", h);
    long double f = 1;
    for (int i = 1; i <= 25; i++) f *= i;
    pld("25!", f);
    pld("1/3", vone / vthree);
    pld("sqrt2", x_sqrt(2.0L));
    pld("sqrt1e300", x_sqrt(1e300L));
    pld("sub", (vone / vthree) - 0.333333333333333333333L);
    pld("mulbig", vmax * vmax);
    pld("neg", x_chs(x_abs(-vthree)));

    /* Double: stored values round to 53 bits. */
    volatile double d = 0;
    for (int i = 1; i <= 1000; i++) d = d + 1.0 / (double)i;
    pd("harm-dbl", d);
    volatile double e = 1e308;
    pd("ovf-dbl", e * 10.0);
    volatile double tiny = 4.9406564584124654e-324;
    pd("denorm", tiny * 3.0);
    pd("denorm/2", tiny / 2.0);
    volatile float fl = 16777217.0f;
    pf("float", fl);

    /* Conversions. */
    rt_printf("i64 %lld %lld %lld\n", (long long)(int64_t)(1e18L + 0.75L), (long long)(int64_t)(-123456789.9L), (long long)x_fistp(2.5L));
    pld("from-i64", (long double)(int64_t)-9007199254740993LL);
    pd("from-u32", (double)(uint32_t)4000000001u);
    rt_printf("i32 %d %d\n", (int32_t)(-7.9L), (int32_t)(double)2147483647.0);

    /* Rounding control: 1/3 and fistp(2.5), fistp(-2.5) in each mode. */
    uint16_t cw = get_cw();
    for (int rc = 0; rc < 4; rc++) {
        set_cw((uint16_t)((cw & ~0x0C00) | (rc << 10)));
        rt_printf("rc%d ", rc);
        pld("1/3", vone / vthree);
        rt_printf("rc%d fistp %lld %lld %lld\n", rc, (long long)x_fistp(2.5L), (long long)x_fistp(-2.5L), (long long)x_fistp(7.5L));
        pld("  rndint", x_rndint(-3.5L));
    }
    /* Precision control: 24 and 53 bits. */
    set_cw((uint16_t)(cw & ~0x0300));
    pld("pc24 1/3", vone / vthree);
    set_cw((uint16_t)((cw & ~0x0300) | 0x0200));
    pld("pc53 1/3", vone / vthree);
    set_cw(cw);

    /* Special values and comparisons. */
    long double inf = vone / vzero, nan = vzero / vzero;
    pld("inf", inf);
    pld("nan", nan);
    pld("-0", -vzero);
    pld("inf-inf", inf - inf);
    rt_printf("xam %04x %04x %04x %04x %04x\n", x_xam(inf), x_xam(nan), x_xam(-vzero), x_xam(vone), x_xam(tiny / 1e10L * 1e-4900L));
    rt_printf("comi %02x %02x %02x %02x\n", x_comi(vone, vthree), x_comi(vthree, vone), x_comi(vone, vone), x_comi(nan, vone));
    rt_printf("cmp %d %d %d %d\n", vone < vthree, nan == nan, nan < vone, inf > vmax);

    /* Exception flags in the status word (masked exceptions: the flags stick). */
    clex();
    volatile long double r = vone / vzero;
    rt_printf("sw div0 %04x\n", get_sw() & 0x3F);
    clex();
    r = vone / vthree;
    rt_printf("sw inexact %04x\n", get_sw() & 0x3F);
    clex();
    r = vzero / vzero;
    rt_printf("sw invalid %04x\n", get_sw() & 0x3F);
    clex();
    (void)r;

    /* Exact helpers: fscale, fxtract, fprem, fprem1, constants. */
    pld("scale", x_scale(3.0L, 10.0L));
    long double sig, ex;
    x_xtract(1234.5L, &sig, &ex);
    pld("xtr-sig", sig);
    pld("xtr-exp", ex);
    pld("prem", x_prem(1000.5L, 3.0L));
    pld("prem1", x_prem1(1000.5L, 3.0L));
    pld("prem-neg", x_prem(-17.25L, 4.0L));
    pld("pi", x_ldpi());
    pld("l2e", x_ldl2e());
    pld("ln2", x_ldln2());

    /* Transcendentals, rounded to float. */
    pf("sin1", x_sin(1.0L));
    pf("cos1", x_cos(1.0L));
    pf("tan0.5", x_tan(0.5L));
    pf("atan2", x_patan(1.0L, 2.0L));
    pf("log2(10)", x_yl2x(10.0L, 1.0L));
    pf("2^0.5-1", x_f2xm1(0.5L));
    pf("sin100", x_sin(100.0L));

    /* A little numeric kernel in double: Newton iterations for a cube root and a dot product. */
    double x = 2.0;
    for (int i = 0; i < 30; i++) x = x - (x * x * x - 10.0) / (3.0 * x * x);
    pd("cbrt10", x);
    double acc = 0;
    for (int i = 0; i < 100; i++) acc += (double)i * 0.1 * ((double)(100 - i) / 7.0);
    pd("dot", acc);
    return 0;
}

#ifndef RT_HOST
int kmain(void)
{
    __asm__ volatile("fninit"); /* Multiboot leaves the FPU undefined */
    return guest_core();
}
#endif
