// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * insn_count.c - a TCG plugin that counts the guest's instructions into a file the harness reads at any moment.
 *
 * Every translated block, when it is translated, gets an inline add (QEMU_PLUGIN_INLINE_ADD_U64) of its
 * instruction count to a 64-bit counter each time it executes.  The counter is the first 8 bytes of a MAP_SHARED
 * mapping of the file named by the plugin's one argument, so a reader outside QEMU sees the running total with a
 * pread of the file, without asking QEMU.
 *
 * One vCPU only: inline adds are not atomic, and under MTTCG several vCPU threads would race on the counter and
 * lose counts.  A callback per block into per-vCPU counters would be exact, but with two vCPUs it cost the timed
 * balloon operations 6 % (inflate) and 12 % (deflate) where the inline add cost 1-2 % in the same boots
 * (docs/statistics.md), so a guest with several vCPUs is not counted and the plugin refuses to load there.
 *
 * What is counted is the instructions of the blocks the vCPU enters: a block left early (an exception, a fault
 * in its middle) counts whole.  Only under TCG: with KVM nothing is translated and the counter stays at zero.
 *
 * Usage: -plugin /path/libinsn_count.so,counter=FILE  (the file is created or truncated, mode 0600)
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t *counter;

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, counter,
						 qemu_plugin_tb_n_insns(tb));
}

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "insn_count plugin: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	return -1;
}

static int map_counter(const char *path)
{
	size_t size = sizeof(*counter);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	void *map;

	if (fd < 0 || ftruncate(fd, size) < 0) {
		fprintf(stderr, "insn_count plugin: cannot create the counter file %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		fprintf(stderr, "insn_count plugin: cannot map the counter file %s: %s\n", path, strerror(errno));
		return -1;
	}
	counter = map;
	return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	const char *path = NULL;

	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "counter=", 8) || !argv[i][8])
			return fail("unknown or empty argument (the only one is counter=FILE)", argv[i]);
		if (path)
			return fail("counter= given twice", argv[i]);
		path = argv[i] + 8;
	}
	if (!path)
		return fail("no counter file given (-plugin PATH,counter=FILE)", NULL);
	if (!info->system_emulation)
		return fail("counts a system emulator's vCPUs only, not user-mode", NULL);
	if (info->system.max_vcpus > 1)
		return fail("counts one vCPU only (inline adds from several vCPU threads would race)", NULL);
	if (map_counter(path))
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	return 0;
}
