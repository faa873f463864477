/* Objects that break the kernel's tail-call rules when wired carelessly: `again` calls
 * through the array it can be put in (a loop), `on_getppid` is a tracepoint program and
 * cannot be the target of a raw tracepoint caller. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jmp SEC(".maps");

const volatile __u32 target_tgid = 0;

SEC("raw_tp/sys_enter")
int start(struct bpf_raw_tracepoint_args *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid || ctx->args[1] != 110)
		return 0;
	bpf_tail_call(ctx, &jmp, 0);
	return 0;
}

SEC("raw_tp")
int again(struct bpf_raw_tracepoint_args *ctx)
{
	bpf_printk("rules: again");
	bpf_tail_call(ctx, &jmp, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	return 0;
}
