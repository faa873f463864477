/* Cgroup socket programs: every IPv4 connect() made in the cgroup gets SO_MARK 0xbee and
 * SO_PRIORITY 6 through bpf_setsockopt on SOL_SOCKET, read back with bpf_getsockopt and
 * printed; every socket created there is counted. The test checks the options from the
 * client's side of the socket. */
#include "common.h"

#define SOL_SOCKET 1
#define SO_PRIORITY 12
#define SO_MARK 36

#define MARK 0xbee
#define PRIORITY 6

__u64 sockets_created = 0;

SEC("cgroup/connect4")
int mark_connect(struct bpf_sock_addr *ctx)
{
	int mark = MARK, priority = PRIORITY, got = 0;

	bpf_setsockopt(ctx, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	bpf_setsockopt(ctx, SOL_SOCKET, SO_PRIORITY, &priority, sizeof(priority));
	bpf_getsockopt(ctx, SOL_SOCKET, SO_MARK, &got, sizeof(got));
	bpf_printk("connect4 mark %x", got);
	return 1; /* let the connect proceed */
}

SEC("cgroup/sock_create")
int count_sockets(struct bpf_sock *sk)
{
	__sync_fetch_and_add(&sockets_created, 1);
	return 1;
}
