/* A map pinned by name (LIBBPF_PIN_BY_NAME): a second run finds and reuses it. */
#include "common.h"

const volatile __u32 target_tid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} getppid_calls SEC(".maps");

SEC("raw_tp/sys_enter")
int count_getppid(struct bpf_raw_tracepoint_args *ctx)
{
	if ((__u32)bpf_get_current_pid_tgid() != target_tid || ctx->args[1] != 110)
		return 0;
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&getppid_calls, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}
