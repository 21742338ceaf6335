/* Multiboot v1 entry: header, a GDT of our own (the loader's selectors 0x08/0x10 refer to a GDT we
   may not see, and the first interrupt would reload CS from it), a stack, then rt_main(magic, info). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory info */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .text
    .globl _start
_start:
    cli
    cld
    mov $stack_top, %esp
    push %ebx
    push %eax
    lgdt gdt_desc
    ljmp $0x08, $1f
1:  mov $0x10, %cx
    mov %cx, %ds
    mov %cx, %es
    mov %cx, %fs
    mov %cx, %gs
    mov %cx, %ss
    call rt_main
    push %eax
    call rt_exit

    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF /* 0x08: flat 32-bit code */
    .quad 0x00CF92000000FFFF /* 0x10: flat data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

    .bss
    .align 16
    .space 65536
stack_top:
