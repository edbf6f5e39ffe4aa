#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/early_console.h"

#define DEBUGCON_PORT 0xe9
#define COM1 0x3f8

static bool uart;

void early_console_init(bool use_uart)
{
    uart = use_uart;
    if (!uart)
        return;
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8n1 */
    outb(COM1 + 2, 0xc7); /* FIFO on, cleared */
}

static void uart_putc(char c)
{
    /* Bounded: a missing UART reads 0xff (THR "empty") anyway, a stuck one must not hang us. */
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        ;
    outb(COM1, (uint8_t)c);
}

void early_console_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        outb(DEBUGCON_PORT, (uint8_t)s[i]);
        if (uart) {
            if (s[i] == '\n')
                uart_putc('\r');
            uart_putc(s[i]);
        }
    }
}
