// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * insn_count.c - a TCG plugin that counts the guest's instructions into a file the harness reads at any moment.
 *
 * Every translated block, when it is translated, gets code that adds its instruction count to a 64-bit counter
 * each time it executes.  The counters live in a MAP_SHARED mapping of the file named by the plugin's one
 * argument, so a reader outside QEMU sees the running total with a pread of the file, without asking QEMU.
 *
 * The file holds one counter per vCPU, each alone in a 64-byte slot (vCPU n's at offset 64 * n); the total is
 * the sum of every 64-bit word of the file.  With one vCPU the add is inline (QEMU_PLUGIN_INLINE_ADD_U64): exact
 * and nearly free.  Inline adds are not atomic, so with several vCPUs under MTTCG they would race and lose
 * counts; there each block calls back with its vCPU's index instead, and each vCPU adds to its own slot only.
 *
 * What is counted is the instructions of the blocks the vCPUs enter: a block left early (an exception, a fault
 * in its middle) counts whole.  Only under TCG: with KVM nothing is translated and the file stays at zero.
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

#define SLOT_WORDS 8	/* 64 bytes: no two vCPUs' counters share a cache line */

static uint64_t *counters;

static void vcpu_tb_exec(unsigned int vcpu_index, void *udata)
{
	counters[vcpu_index * SLOT_WORDS] += (uintptr_t)udata;
}

static void tb_trans_inline(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, counters,
						 qemu_plugin_tb_n_insns(tb));
}

static void tb_trans_per_vcpu(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	qemu_plugin_register_vcpu_tb_exec_cb(tb, vcpu_tb_exec, QEMU_PLUGIN_CB_NO_REGS,
					     (void *)(uintptr_t)qemu_plugin_tb_n_insns(tb));
}

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "insn_count plugin: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	return -1;
}

static int map_counters(const char *path, size_t size)
{
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
	counters = map;
	return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	const char *path = NULL;
	int vcpus;

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
	vcpus = info->system.max_vcpus;
	if (map_counters(path, (size_t)vcpus * SLOT_WORDS * sizeof(uint64_t)))
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, vcpus == 1 ? tb_trans_inline : tb_trans_per_vcpu);
	return 0;
}
