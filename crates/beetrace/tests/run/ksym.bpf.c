/* The object: a typed __ksym (per-CPU runqueues, read on CPU 0 through
 * bpf_per_cpu_ptr) and a typeless one (jiffies, read through its address). Both need the
 * kernel to list variables in kallsyms (CONFIG_KALLSYMS_ALL); elsewhere the load fails naming
 * the extern. */
#include "common.h"

struct rq {
	unsigned int nr_running;
} __attribute__((preserve_access_index));

extern const struct rq runqueues __ksym;
extern const void jiffies __ksym;

SEC("tp/syscalls/sys_enter_getppid")
int kernel_globals(void *ctx)
{
	struct rq *rq = bpf_per_cpu_ptr(&runqueues, 0);
	unsigned long now = *(volatile unsigned long *)&jiffies;

	if (rq)
		bpf_printk("nr_running %u jiffies %lu", rq->nr_running, now);
	return 0;
}
