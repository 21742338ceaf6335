/* Exception stubs: a uniform frame (pusha, vector, error code, then the CPU's EIP/CS/EFLAGS) for
   isr_dispatch(struct frame *). Vectors without an error code push a 0 so the layout is the same. */
.macro ISR_NOERR n
    .globl isr\n
isr\n:
    push $0
    push $\n
    jmp isr_common
.endm
.macro ISR_ERR n
    .globl isr\n
isr\n:
    push $\n
    jmp isr_common
.endm

    .text
ISR_NOERR 0
ISR_NOERR 3
ISR_NOERR 6
ISR_ERR 8
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 48

isr_common:
    pusha
    push %esp
    call isr_dispatch
    add $4, %esp
    popa
    add $8, %esp
    iret
