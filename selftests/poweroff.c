// SPDX-License-Identifier: GPL-2.0
/*
 * poweroff - power the UML machine off from its init, when the kernel has
 * no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ=n). reboot(2) returns only on
 * failure.
 */
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	sync();
	reboot(RB_POWER_OFF);
	perror("poweroff: reboot(RB_POWER_OFF)");
	return 1;
}
