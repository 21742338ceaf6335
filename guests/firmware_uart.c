/* A 16550A UART for COM1 (ports 0x3F8-0x3FF, IRQ 4) in the guest's own firmware: the monitor
   reflects every access to those ports here (docs/firmware-reflection.md), so Linux's 8250 driver
   runs with no round trip per register access. The device reaches the outside only through the
   monitor's call table: firmware_output sends the transmitted bytes in batches (flushed at a
   newline, when 256 are waiting, and at every IER write, which Linux's console write makes once per
   message when it restores IER), firmware_irq drives the IRQ line. Transmission is instant, so THR
   is always empty; there is no receiver yet (LSR.DR never set). The registers follow
   devicemodel/Virt.Devices/Serial/Uart16550.cs, the device model's UART. */
#include <stdint.h>

/* The request block (FirmwareAbi in monitor/Virt.Cpu/Firmware/FirmwareAbi.cs). */
struct request {
    uint32_t kind, target, size, flags, count, linear, segment, reserved;
    uint64_t data;
    uint32_t buffer, status;
};

enum { KIND_IN = 1, KIND_OUT = 2 };
enum { FLAG_STRING = 1 };
enum { STATUS_COMPLETED = 1 };

/* The call table the monitor writes at the region's base + 0x1000: entry n at + 32 n. */
#define CALL_TABLE 0xE1000u
enum { CALL_FIRMWARE_OUTPUT = 10, CALL_FIRMWARE_IRQ = 11 };

#define COM1 0x3F8
#define COM1_IRQ 4

enum { IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04, IER_MSI = 0x08 };
enum { IIR_NO_INT = 0x01, IIR_MSI = 0x00, IIR_THRI = 0x02, IIR_FIFO = 0xC0 };
enum { FCR_ENABLE = 0x01, FCR_DMA = 0x08, FCR_TRIGGER = 0xC0 };
enum { LCR_DLAB = 0x80 };
enum { MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10 };
enum { LSR_THRE = 0x20, LSR_TEMT = 0x40 };
enum { MSR_DCTS = 0x01, MSR_DDSR = 0x02, MSR_TERI = 0x04, MSR_DDCD = 0x08, MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80 };

static uint8_t ier, lcr, mcr, scr, fcr, msr_deltas;
static uint8_t modem_status = MSR_CTS | MSR_DSR | MSR_DCD; /* a terminal is connected, as QEMU reports for a chardev */
static uint16_t divisor = 12;
static int thr_pending, irq_level;
static char out[256];
static uint32_t out_len;

static int32_t call2(uint32_t n, uint32_t a, uint32_t d)
{
    int32_t r;
    __asm__ volatile("call *%1" : "=a"(r) : "r"(CALL_TABLE + n * 32), "a"(a), "d"(d) : "memory", "cc", "ecx");
    return r;
}

static void flush(void)
{
    if (out_len == 0) return;
    call2(CALL_FIRMWARE_OUTPUT, (uint32_t)out, out_len);
    out_len = 0;
}

static uint8_t iir_id(void)
{
    if ((ier & IER_THRI) && thr_pending) return IIR_THRI;
    if ((ier & IER_MSI) && msr_deltas) return IIR_MSI;
    return IIR_NO_INT;
}

static void update_irq(void)
{
    int level = iir_id() != IIR_NO_INT && (mcr & MCR_OUT2) && !(mcr & MCR_LOOP);
    if (level == irq_level) return;
    irq_level = level;
    call2(CALL_FIRMWARE_IRQ, COM1_IRQ, (uint32_t)level);
}

static void set_modem_status(uint8_t status)
{
    uint8_t changed = status ^ modem_status;
    if (changed & MSR_CTS) msr_deltas |= MSR_DCTS;
    if (changed & MSR_DSR) msr_deltas |= MSR_DDSR;
    if (changed & MSR_DCD) msr_deltas |= MSR_DDCD;
    if ((modem_status & MSR_RI) && !(status & MSR_RI)) msr_deltas |= MSR_TERI;
    modem_status = status;
}

static uint8_t read_reg(uint32_t reg)
{
    uint8_t v;
    switch (reg) {
    case 0: return (lcr & LCR_DLAB) ? (uint8_t)divisor : 0;
    case 1: return (lcr & LCR_DLAB) ? (uint8_t)(divisor >> 8) : ier;
    case 2:
        v = iir_id();
        if (v == IIR_THRI) { thr_pending = 0; update_irq(); } /* reading IIR while it says THRE acknowledges it */
        return v | ((fcr & FCR_ENABLE) ? IIR_FIFO : 0);
    case 3: return lcr;
    case 4: return mcr;
    case 5: return LSR_THRE | LSR_TEMT;
    case 6:
        v = modem_status | msr_deltas;
        msr_deltas = 0;
        update_irq();
        return v;
    default: return scr;
    }
}

static void write_reg(uint32_t reg, uint8_t v)
{
    switch (reg) {
    case 0:
        if (lcr & LCR_DLAB) { divisor = (divisor & 0xFF00) | v; break; }
        if (!(mcr & MCR_LOOP)) {
            out[out_len++] = (char)v;
            if (v == '\n' || out_len == sizeof out) flush();
        }
        thr_pending = 1; /* sent at once: THR is empty again, the THRE interrupt's trigger */
        update_irq();
        break;
    case 1:
        if (lcr & LCR_DLAB) { divisor = (uint16_t)((divisor & 0x00FF) | (v << 8)); break; }
        /* Enabling THRI while THR is empty raises THRE again (Linux's UART_BUG_THRE probe relies on it). */
        if ((ier ^ v) & IER_THRI) thr_pending = (v & IER_THRI) != 0;
        ier = v & 0x0F;
        update_irq();
        flush();
        break;
    case 2: fcr = (v & FCR_ENABLE) ? (v & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER)) : 0; break;
    case 3: lcr = v; break;
    case 4:
        mcr = v & 0x1F;
        set_modem_status((mcr & MCR_LOOP) ? (uint8_t)(((mcr & MCR_RTS) ? MSR_CTS : 0) | ((mcr & MCR_DTR) ? MSR_DSR : 0)
                                                      | ((mcr & MCR_OUT1) ? MSR_RI : 0) | ((mcr & MCR_OUT2) ? MSR_DCD : 0))
                                          : (uint8_t)(MSR_CTS | MSR_DSR | MSR_DCD));
        update_irq();
        break;
    case 7: scr = v; break;
    default: break; /* LSR and MSR: factory test registers */
    }
}

/* One access: a byte register per port (a wider access covers the next ports, as on the ISA bus). */
static uint32_t access(uint32_t port, uint32_t size, int in, uint32_t value)
{
    uint32_t result = 0;
    for (uint32_t i = 0; i < size; i++) {
        uint32_t reg = (port + i - COM1) & 7;
        if (in) result |= (uint32_t)read_reg(reg) << (8 * i);
        else write_reg(reg, (uint8_t)(value >> (8 * i)));
    }
    return result;
}

void fw_handle(struct request *r);

void fw_handle(struct request *r)
{
    int in = r->kind == KIND_IN;
    if (r->kind != KIND_IN && r->kind != KIND_OUT) return; /* no completion: the monitor abandons it */
    if (r->flags & FLAG_STRING) {
        uint8_t *data = (uint8_t *)r->buffer;
        for (uint32_t e = 0; e < r->count; e++) {
            uint32_t v = 0;
            for (uint32_t b = 0; b < r->size; b++) v |= (uint32_t)data[e * r->size + b] << (8 * b);
            v = access(r->target, r->size, in, v);
            if (in) for (uint32_t b = 0; b < r->size; b++) data[e * r->size + b] = (uint8_t)(v >> (8 * b));
        }
    } else {
        r->data = access(r->target, r->size, in, (uint32_t)r->data);
    }
    r->status = STATUS_COMPLETED;
}

/* The handler's entry: EBX holds the request block, ESP the top of the region. */
__asm__(".section .text.entry, \"ax\"\n"
        ".globl fw_entry\n"
        "fw_entry:\n"
        "    push %ebx\n"
        "    call fw_handle\n"
        "    add $4, %esp\n"
        "    rsm\n"
        ".previous\n");
