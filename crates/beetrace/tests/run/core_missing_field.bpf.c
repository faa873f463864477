/* A CO-RE read of a field the running kernel's task_struct does not have: loading must fail
 * with an explanation, not only the verifier's "invalid func". */
#include "common.h"

struct task_struct___beetrace {
	int field_no_kernel_has;
} __attribute__((preserve_access_index));

SEC("raw_tp/sys_enter")
int core_miss(void *ctx)
{
	struct task_struct___beetrace *t = (void *)bpf_get_current_task();
	bpf_printk("%d", BPF_CORE_READ(t, field_no_kernel_has));
	return 0;
}
