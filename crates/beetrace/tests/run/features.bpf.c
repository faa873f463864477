/* One program per attach kind, each printing when the test thread calls getppid (110) or
 * getpid (through libc, for the uprobes). LIBC is the path of the C library, given with -D.
 * Filtering on the thread keeps tests running in parallel out of each other's output. */
#include "common.h"

const volatile __u32 target_tid = 0;
__u64 ticks = 0;

static __always_inline int ours(void)
{
	return (__u32)bpf_get_current_pid_tgid() == target_tid;
}

SEC("raw_tp/sys_enter")
int on_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	if (ours() && ctx->args[1] == 110)
		bpf_printk("features: raw_tp");
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int on_tp(void *ctx)
{
	if (ours())
		bpf_printk("features: tp");
	return 0;
}

SEC("tp_btf/sys_enter")
int on_tp_btf(__u64 *ctx)
{
	if (ours() && ctx[1] == 110)
		bpf_printk("features: tp_btf");
	return 0;
}

SEC("uprobe/" LIBC ":getpid")
int on_uprobe(void *ctx)
{
	if (ours())
		bpf_printk("features: uprobe");
	return 0;
}

SEC("uretprobe/" LIBC ":getpid")
int on_uretprobe(void *ctx)
{
	if (ours())
		bpf_printk("features: uretprobe");
	return 0;
}

SEC("perf_event")
int on_tick(void *ctx)
{
	__sync_fetch_and_add(&ticks, 1);
	return 0;
}

SEC("kprobe/do_sys_openat2")
int on_kprobe(void *ctx)
{
	return 0;
}

SEC("fentry/do_sys_openat2")
int on_fentry(void *ctx)
{
	return 0;
}
