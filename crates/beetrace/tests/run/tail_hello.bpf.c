/* Seed 001: one dispatcher on raw tracepoint sys_enter tail-calls a handler per syscall
 * number through program array `syscall`; the slots are filled by `beetrace run --tail`.
 * Empty slots fall through silently. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 300);
	__type(key, __u32);
	__type(value, __u32);
} syscall SEC(".maps");

SEC("raw_tp/sys_enter")
int hello(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 opcode = ctx->args[1];
	bpf_tail_call(ctx, &syscall, opcode);
	return 0;
}

SEC("raw_tp")
int hello_exec(void *ctx)
{
	bpf_printk("Executing a program");
	return 0;
}

SEC("raw_tp")
int hello_timer(struct bpf_raw_tracepoint_args *ctx)
{
	switch (ctx->args[1]) {
	case 222:
		bpf_printk("Creating a timer");
		break;
	case 226:
		bpf_printk("Deleting a timer");
		break;
	default:
		bpf_printk("Some other timer operation");
		break;
	}
	return 0;
}
