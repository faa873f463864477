//! Map and program types by the names bpftool uses (the kernel's enum names, lower case,
//! without prefix).

const MAP_TYPES: &[&str] = &[
    "unspec",
    "hash",
    "array",
    "prog_array",
    "perf_event_array",
    "percpu_hash",
    "percpu_array",
    "stack_trace",
    "cgroup_array",
    "lru_hash",
    "lru_percpu_hash",
    "lpm_trie",
    "array_of_maps",
    "hash_of_maps",
    "devmap",
    "sockmap",
    "cpumap",
    "xskmap",
    "sockhash",
    "cgroup_storage",
    "reuseport_sockarray",
    "percpu_cgroup_storage",
    "queue",
    "stack",
    "sk_storage",
    "devmap_hash",
    "struct_ops",
    "ringbuf",
    "inode_storage",
    "task_storage",
    "bloom_filter",
    "user_ringbuf",
    "cgrp_storage",
    "arena",
];

const PROG_TYPES: &[&str] = &[
    "unspec",
    "socket_filter",
    "kprobe",
    "sched_cls",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "syscall",
    "netfilter",
];

fn name_of(table: &[&str], n: u32) -> String {
    table
        .get(n as usize)
        .map_or_else(|| format!("type {n}"), |s| s.to_string())
}

pub fn map_type_name(t: u32) -> String {
    name_of(MAP_TYPES, t)
}

pub fn prog_type_name(t: u32) -> String {
    name_of(PROG_TYPES, t)
}

/// The map type called `name`; `None` for unknown names (and `unspec`).
pub fn map_type_by_name(name: &str) -> Option<u32> {
    MAP_TYPES
        .iter()
        .position(|n| *n == name)
        .filter(|&i| i > 0)
        .map(|i| i as u32)
}

/// All creatable map type names, for error messages.
pub fn map_type_names() -> String {
    MAP_TYPES[1..].join(", ")
}

/// Whether lookups return one value per possible CPU.
pub fn map_is_per_cpu(t: u32) -> bool {
    matches!(
        MAP_TYPES.get(t as usize).copied(),
        Some("percpu_hash" | "percpu_array" | "lru_percpu_hash" | "percpu_cgroup_storage")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_kernel_numbers() {
        assert_eq!(map_type_by_name("ringbuf"), Some(27));
        assert_eq!(map_type_by_name("percpu_hash"), Some(5));
        assert_eq!(map_type_by_name("nope"), None);
        assert_eq!(map_type_name(2), "array");
        assert_eq!(prog_type_name(17), "raw_tracepoint");
        assert_eq!(prog_type_name(5), "tracepoint");
        assert_eq!(map_type_name(99), "type 99");
        assert!(map_is_per_cpu(6) && !map_is_per_cpu(1));
    }
}
