/* The verifier must reject this: a map value is used without checking the lookup. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rejected_values SEC(".maps");

SEC("raw_tp/sys_enter")
int verifier_victim(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&rejected_values, &zero);
	*v += 1;
	return 0;
}
