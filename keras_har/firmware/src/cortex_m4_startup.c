// Minimal vector table for a bare-metal test runner on QEMU's mps2-an386
// (Cortex-M4): the initial stack pointer (top of the 4 MB SRAM at
// 0x20000000) and the reset handler, newlib's _start (with rdimon.specs it
// sets up semihosting, argv and the heap, then calls main). Placed at
// address 0 by the linker (--section-start=.vectors=0x0).
extern void _start(void);

__attribute__((section(".vectors"), used)) const void* const keras_har_vector_table[2] = {
    (const void*)0x20400000, (const void*)_start};
