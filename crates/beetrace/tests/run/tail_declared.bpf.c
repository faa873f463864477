/* Seed 001 again, with the program array filled by the object itself (libbpf's declarative
 * initialisation), so `beetrace run` needs no --tail flags. */
#include "common.h"

int on_timer(struct bpf_raw_tracepoint_args *ctx);
int on_exec(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 300);
	__type(key, __u32);
	__array(values, int (void *));
} handlers SEC(".maps") = {
	.values = {
		[59] = (void *)&on_exec,
		[222] = (void *)&on_timer,
		[226] = (void *)&on_timer,
	},
};

SEC("raw_tp/sys_enter")
int dispatch(struct bpf_raw_tracepoint_args *ctx)
{
	bpf_tail_call(ctx, &handlers, (__u32)ctx->args[1]);
	return 0;
}

SEC("raw_tp")
int on_exec(void *ctx)
{
	bpf_printk("declared: exec");
	return 0;
}

SEC("raw_tp")
int on_timer(struct bpf_raw_tracepoint_args *ctx)
{
	bpf_printk("declared: timer syscall %d", (int)ctx->args[1]);
	return 0;
}
