/* Seed 002: catch fchmodat (268 on x86-64) on the sys_enter raw tracepoint and print the
 * path and mode the caller passed, read from the saved user registers. */
#include "common.h"

SEC("raw_tracepoint/sys_enter")
int trace_fchmodat(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] != 268)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	char path[256];
	const char *user_path = (const char *)BPF_CORE_READ(regs, si);
	unsigned int mode = (unsigned int)BPF_CORE_READ(regs, dx);
	bpf_core_read_user_str(path, sizeof(path), user_path);
	bpf_printk("fchmodat %s %d", path, mode);
	return 0;
}
