/* Externs that every kernel can resolve: __kconfig values of each C shape libbpf supports,
 * the kernel version, a typeless __ksym of a function (kallsyms lists functions on every
 * kernel), kernel functions (kfuncs), and __weak externs of each kind that do not exist,
 * which must read 0. Printed on getppid by the calling thread, so the test reads its own
 * lines. */
#include <stdbool.h>
#include "common.h"
#include <bpf/bpf_tracing.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern unsigned long long CONFIG_NR_CPUS __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_BPF_EVENTS __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig;
extern int CONFIG_BEETRACE_NO_SUCH_OPTION __kconfig __weak;

extern const void _text __ksym;
extern const void beetrace_no_such_symbol __ksym __weak;

struct beetrace_no_such_type {
	int x;
};
extern const struct beetrace_no_such_type beetrace_no_such_variable __ksym __weak;

SEC("tp/syscalls/sys_enter_getppid")
int kconfig_values(void *ctx)
{
	bpf_printk("version %u hz %d cpus %llu", LINUX_KERNEL_VERSION, CONFIG_HZ, CONFIG_NR_CPUS);
	bpf_printk("bpf %d events %d hostname %s", CONFIG_BPF_SYSCALL, CONFIG_BPF_EVENTS,
		   CONFIG_DEFAULT_HOSTNAME);
	bpf_printk("text %lx missing %lx %lx %d", (unsigned long)&_text,
		   (unsigned long)&beetrace_no_such_symbol,
		   (unsigned long)&beetrace_no_such_variable, CONFIG_BEETRACE_NO_SUCH_OPTION);
	return 0;
}

extern struct task_struct *bpf_task_from_pid(int pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_beetrace_no_such_kfunc(void) __ksym __weak;

/* getppid is 110 on x86-64. */
SEC("tp_btf/sys_enter")
int BPF_PROG(kfunc_calls, struct pt_regs *regs, long id)
{
	if (id != 110)
		return 0;
	struct task_struct *task = bpf_task_from_pid((int)bpf_get_current_pid_tgid());
	if (!task)
		return 0;
	bpf_printk("kfunc pid %d missing %d", task->pid, bpf_beetrace_no_such_kfunc ? 1 : 0);
	bpf_task_release(task);
	return 0;
}
