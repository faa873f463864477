/* Globals set with --set, a BPF-to-BPF call into a subprogram, a CO-RE read of the current task checked against the helper's
 * answer, a typed hash map and ring buffer, and .data/.bss counters printed at exit. */
#include "common.h"

const volatile __u32 nr = 39;
/* 0: every process; else only this one (the machine may run other getppid loops). */
const volatile __u32 target_tgid = 0;
const volatile char tag[16] = "default";
const volatile int magic = 0;
const volatile __u8 small = 1;
__u64 hits = 0;
int seen = 7;

struct key {
	__u32 tgid;
	__u32 nr;
};

struct stats {
	__u64 calls;
	char comm[16];
};

struct event {
	__u32 tgid;
	__u32 tid;
	char tag[16];
};

/* Records are only reserved through a pointer; this puts their type in the object's BTF. */
static const struct event *event_type __attribute__((used));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct key);
	__type(value, struct stats);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} samples SEC(".maps");

/* A subprogram: its own function in .text, called (not inlined) and relocated by the loader. */
static __attribute__((noinline)) int twice(int v)
{
	return v * 2;
}

SEC("raw_tp/sys_enter")
int on_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] != nr)
		return 0;
	if (target_tgid && (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	int core_tgid = BPF_CORE_READ(task, tgid);
	int core_pid = BPF_CORE_READ(task, pid);
	__u64 id = bpf_get_current_pid_tgid();
	bpf_printk("%s magic=%d twice=%d small=%d core=%d/%d helper=%d/%d", tag, magic,
		   twice(magic), small, core_tgid, core_pid, (int)(id >> 32), (int)id);
	__sync_fetch_and_add(&hits, 1);

	struct key k = { .tgid = id >> 32, .nr = nr };
	struct stats *s = bpf_map_lookup_elem(&counts, &k);
	if (s) {
		__sync_fetch_and_add(&s->calls, 1);
	} else {
		struct stats fresh = { .calls = 1 };
		bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		bpf_map_update_elem(&counts, &k, &fresh, BPF_NOEXIST);
	}

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->tgid = id >> 32;
		e->tid = (__u32)id;
		/* Byte by byte: a memcpy would let clang fold in the initial "default". */
		for (int i = 0; i < sizeof(e->tag); i++)
			e->tag[i] = tag[i];
		bpf_ringbuf_submit(e, 0);
	}

	struct event sample = { .tgid = id >> 32, .tid = (__u32)id };
	for (int i = 0; i < sizeof(sample.tag); i++)
		sample.tag[i] = tag[i];
	bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &sample, sizeof(sample));
	return 0;
}
