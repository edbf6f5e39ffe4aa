/*
 * Entry stubs for all 256 IDT vectors. Each stub makes the stack look the same (a dummy error
 * code where the CPU pushes none, then the vector number), saves every general register and
 * calls trap_dispatch(struct trap_frame *) in traps.c. The layout must match
 * struct trap_frame in traps.h.
 */
        .text
        .code64

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERRCODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || \
                        (v) == 29 || (v) == 30)

        .balign 16
        .globl trap_stubs
trap_stubs:
        .set vec, 0
        .rept 256
        .balign 16
        .if HAS_ERRCODE(vec) == 0
        pushq $0
        .endif
        pushq $vec
        jmp trap_common
        .set vec, vec + 1
        .endr

trap_common:
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        cld
        movq %rsp, %rdi
        /* 15 registers + vector + error code + the CPU's 5 words = 22 words: the stack is
         * 16-byte aligned here because the CPU aligns it before pushing its frame. */
        call trap_dispatch
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        addq $16, %rsp          /* vector and error code */
        iretq

        .section .note.GNU-stack, "", @progbits
