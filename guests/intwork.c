/* Integer workout: 32- and 64-bit arithmetic (64-bit division goes through libgcc's __udivdi3
   and friends), shifts and rotates, string functions, CRC-32, a sort and a hash. Built for the
   guest and for the host; each section prints a checksum and both outputs must match exactly. */
#include "rt/rt.h"

static uint32_t rng_state = 0x12345678u;

static uint32_t xorshift32(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static uint32_t rotl(uint32_t x, unsigned r) { return (x << (r & 31)) | (x >> ((32 - r) & 31)); }

static uint32_t mix(uint32_t h, uint32_t v)
{
    h ^= v;
    h *= 0x01000193u;
    return rotl(h, 7) + 0x9E3779B9u;
}

static __attribute__((noinline)) uint32_t arith32(void)
{
    uint32_t h = 0x811C9DC5u;
    for (int i = 0; i < 2000; i++) {
        uint32_t a = xorshift32(), b = xorshift32() | 1;
        int32_t sa = (int32_t)a, sb = (int32_t)(b >> (i & 15)) | 1;
        h = mix(h, a + b);
        h = mix(h, a - b);
        h = mix(h, a * b);
        h = mix(h, a / b);
        h = mix(h, a % b);
        h = mix(h, (uint32_t)(sa / sb));
        h = mix(h, (uint32_t)(sa % sb));
        h = mix(h, (uint32_t)(sa >> (b & 31)));
        h = mix(h, a >> (b & 31));
        h = mix(h, a << (b & 31));
        h = mix(h, rotl(a, b));
        h = mix(h, (uint32_t)((uint64_t)a * b >> 32));
        h = mix(h, (uint32_t)(((int64_t)sa * sb) >> 32));
        h = mix(h, (uint32_t)(a < b) | (uint32_t)(sa < sb) << 1 | (uint32_t)(a == b) << 2);
        h = mix(h, (uint32_t)__builtin_popcount(a) + (uint32_t)__builtin_clz(b) + (uint32_t)__builtin_ctz(b));
        h = mix(h, __builtin_bswap32(a));
        h = mix(h, (uint32_t)(int8_t)a + (uint32_t)(int16_t)b + (uint32_t)(uint8_t)(a >> 8));
    }
    return h;
}

static __attribute__((noinline)) uint32_t arith64(void)
{
    uint32_t h = 0x811C9DC5u;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = (uint64_t)xorshift32() << 32 | xorshift32();
        uint64_t b = ((uint64_t)xorshift32() << (i % 33)) | 1;
        int64_t sa = (int64_t)a, sb = (int64_t)b * ((i & 1) ? -1 : 1);
        uint64_t r[] = { a + b, a - b, a * b, a / b, a % b, (uint64_t)(sa / sb), (uint64_t)(sa % sb),
                         a >> (i & 63), a << (i & 63), (uint64_t)(sa >> (i & 63)) };
        for (unsigned k = 0; k < sizeof r / sizeof r[0]; k++) h = mix(mix(h, (uint32_t)r[k]), (uint32_t)(r[k] >> 32));
    }
    return h;
}

static uint32_t crc_table[256];

static uint32_t crc32(const uint8_t *p, size_t n)
{
    if (!crc_table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    while (n--) c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static int sign(int x) { return (x > 0) - (x < 0); }

static __attribute__((noinline)) uint32_t strings(void)
{
    static const char *words[] = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "", "alphabet" };
    char buf[256], tmp[64];
    uint32_t h = 0x811C9DC5u;
    memset(buf, 0, sizeof buf); // memmove below reads past the string: keep it deterministic
    for (unsigned i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t len = strlen(buf);
        strcpy(buf + len, words[i]);
        buf[len + strlen(words[i])] = '/';
        buf[len + strlen(words[i]) + 1] = 0;
        h = mix(h, (uint32_t)strlen(buf));
        for (unsigned j = 0; j < sizeof words / sizeof words[0]; j++) {
            h = mix(h, (uint32_t)sign(strcmp(words[i], words[j])) + 1);
            h = mix(h, (uint32_t)sign(strncmp(words[i], words[j], 3)) + 1);
        }
    }
    const char *p = buf;
    while ((p = strchr(p, 'a'))) h = mix(h, (uint32_t)(p++ - buf));
    memcpy(tmp, buf + 3, 40);
    memmove(buf + 5, buf, 100);
    memmove(buf, buf + 7, 90);
    h = mix(h, (uint32_t)sign(memcmp(tmp, buf, 40)) + 1);
    memset(buf + 10, 'x', 17);
    h = mix(h, crc32((const uint8_t *)buf, 120));
    rt_printf("strings: '%s'\n", words[4]);
    return h;
}

static void sort(uint32_t *a, int n)
{
    /* Shell sort then an insertion pass: plenty of compares, branches and indexed loads/stores. */
    for (int gap = n / 2; gap > 0; gap /= 2)
        for (int i = gap; i < n; i++) {
            uint32_t v = a[i];
            int j = i;
            for (; j >= gap && a[j - gap] > v; j -= gap) a[j] = a[j - gap];
            a[j] = v;
        }
}

static __attribute__((noinline)) uint32_t sorting(void)
{
    static uint32_t a[1024];
    for (int i = 0; i < 1024; i++) a[i] = xorshift32() % 100000;
    sort(a, 1024);
    uint32_t h = 0x811C9DC5u;
    for (int i = 1; i < 1024; i++) {
        if (a[i - 1] > a[i]) return 0;
        h = mix(h, a[i]);
    }
    return h;
}

static __attribute__((noinline)) uint32_t formatting(void)
{
    /* Decimal conversion by hand (64-bit divide by 10 in a loop). */
    char s[32];
    uint32_t h = 0;
    uint64_t v = 0xFEDCBA9876543210ull;
    for (int i = 0; i < 200; i++, v = v * 6364136223846793005ull + 1442695040888963407ull) {
        int n = 0;
        uint64_t x = v;
        do { s[n++] = (char)('0' + x % 10); x /= 10; } while (x);
        s[n] = 0;
        h = mix(h, crc32((const uint8_t *)s, (size_t)n));
    }
    rt_printf("last: %llu %llx %d %u %08x\n", (unsigned long long)v, (unsigned long long)v, -12345, 4000000000u, 0xBEEFu);
    return h;
}

int guest_core(void)
{
    uint32_t a = arith32(), b = arith64(), c = strings(), d = sorting(), e = formatting();
    rt_printf("arith32 %08x\narith64 %08x\nstrings %08x\nsorting %08x\nformat  %08x\n", a, b, c, d, e);
    rt_printf("checksum %08x\n", mix(mix(mix(mix(a, b), c), d), e));
    return 0;
}

#ifndef RT_HOST
int kmain(void) { return guest_core(); }
#endif
