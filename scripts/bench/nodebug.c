/*
 * LD_PRELOAD shim for the benchmark: Debian's tsctp calls
 * usrsctp_sysctl_set_sctp_debug_on(SCTP_DEBUG_ALL) (its usrsctp is built
 * with SCTP_DEBUG), and printing every debug line costs usrsctp about half
 * its speed. This replacement leaves debug printing off, so usrsctp is
 * measured at its best.
 *
 *   gcc -O2 -shared -fPIC -o nodebug.so nodebug.c
 *   LD_PRELOAD=./nodebug.so /usr/lib/usrsctp/tsctp ...
 */
#include <stdint.h>

int
usrsctp_sysctl_set_sctp_debug_on(uint32_t value)
{
	(void)value;
	return 0;
}
