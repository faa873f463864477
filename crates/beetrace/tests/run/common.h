/* Types shared by the test objects: the few kernel types they use, declared here instead
 * of vmlinux.h. The ones marked preserve_access_index are relocated (CO-RE) against the
 * running kernel's BTF, so only the fields named here need to exist there. */
#ifndef BEETRACE_RUN_COMMON_H
#define BEETRACE_RUN_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct pt_regs {
	unsigned long di;
	unsigned long si;
	unsigned long dx;
	unsigned long r10;
	unsigned long r8;
	unsigned long r9;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

char LICENSE[] SEC("license") = "GPL";

#endif
