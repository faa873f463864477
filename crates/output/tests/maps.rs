//! End-to-end checks of the public API against bpftrace 0.26's expected outputs
//! (tests/runtime/*, tests/runtime/outputs/*, tests/output.cpp).

use output::{
    hist_bucket, json_string, lhist_bucket, map_json, map_json_on_print, map_text,
    map_text_on_print, value_json, value_text, Entry, PrintOptions,
};
use sema::maps::{MapInfo, MapValue};
use sema::Type;

const ALL: PrintOptions = PrintOptions { top: 0, div: 1 };

fn info(name: &str, key: Vec<Type>, value: MapValue) -> MapInfo {
    MapInfo {
        name: name.into(),
        key,
        value,
        max_entries: 4096,
    }
}

fn s16() -> Type {
    Type::Str { len: 16 }
}

/// Key builder following the layout in `sema::maps`.
#[derive(Default, Clone)]
struct K(Vec<u8>);

impl K {
    fn int(mut self, v: i64) -> K {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(mut self, s: &str, len: usize) -> K {
        let mut b = s.as_bytes().to_vec();
        b.resize(len.div_ceil(8) * 8, 0);
        self.0.extend_from_slice(&b);
        self
    }
}

fn scalar_key() -> Vec<u8> {
    0u64.to_le_bytes().to_vec()
}

fn u(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn pair(a: i64, b: i64) -> Vec<u8> {
    let mut v = a.to_le_bytes().to_vec();
    v.extend_from_slice(&b.to_le_bytes());
    v
}

fn entry(key: Vec<u8>, values: Vec<Vec<u8>>) -> Entry {
    Entry { key, values }
}

/// Entries of a hist/lhist map from values, as codegen would store them (one CPU each).
fn bucketed(prefix: &[u8], buckets: &[u64]) -> Vec<Entry> {
    let mut counts = std::collections::BTreeMap::<u64, u64>::new();
    for &b in buckets {
        *counts.entry(b).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(b, c)| {
            let mut key = prefix.to_vec();
            key.extend_from_slice(&b.to_le_bytes());
            entry(key, vec![u(c)])
        })
        .collect()
}

#[test]
fn scalar_count_merges_cpus() {
    let m = info("x", vec![], MapValue::Count);
    let e = [entry(scalar_key(), vec![u(2), u(0), u(3)])];
    assert_eq!(map_text(&m, &e, &ALL), "@x: 5\n");
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"map\", \"data\": {\"@x\": 5}}\n"
    );
}

#[test]
fn keyed_maps_sort_ascending_by_value() {
    let m = info("x", vec![Type::I64], MapValue::Count);
    let e = [
        entry(K::default().int(1).0, vec![u(5), u(4)]),
        entry(K::default().int(2).0, vec![u(1)]),
        entry(K::default().int(-100).0, vec![u(3)]),
    ];
    assert_eq!(map_text(&m, &e, &ALL), "@x[2]: 1\n@x[-100]: 3\n@x[1]: 9\n");
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"map\", \"data\": {\"@x\": {\"2\": 1, \"-100\": 3, \"1\": 9}}}\n"
    );
}

#[test]
fn unsigned_and_narrow_keys() {
    let m = info("", vec![Type::U64], MapValue::Count);
    let e = [entry(K::default().int(-1).0, vec![u(1)])];
    assert_eq!(map_text(&m, &e, &ALL), "@[18446744073709551615]: 1\n");
    let m = info(
        "",
        vec![Type::Int {
            bytes: 4,
            signed: true,
        }],
        MapValue::Count,
    );
    // Sign-extended -100 stored in 8 bytes (tests/runtime/intcast).
    let e = [entry(K::default().int(-100).0, vec![u(1)])];
    assert_eq!(map_text(&m, &e, &ALL), "@[-100]: 1\n");
}

#[test]
fn string_and_tuple_keys() {
    let m = info("", vec![s16()], MapValue::Count);
    let e = [entry(K::default().str("bash", 16).0, vec![u(5)])];
    assert_eq!(map_text(&m, &e, &ALL), "@[bash]: 5\n");

    let m = info("", vec![s16(), Type::I64], MapValue::Count);
    let e = [entry(K::default().str("bash", 16).int(123).0, vec![u(5)])];
    assert_eq!(map_text(&m, &e, &ALL), "@[bash, 123]: 5\n");

    // tests/runtime/outputs/complex.json: @complex[comm,2] = 5 — parts joined by ","
    // and spaces removed.
    let m = info(
        "complex",
        vec![s16(), Type::I64],
        MapValue::Plain(Type::I64),
    );
    let e = [entry(K::default().str("bpftrace", 16).int(2).0, vec![u(5)])];
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"map\", \"data\": {\"@complex\": {\"bpftrace,2\": 5}}}\n"
    );
    let e = [entry(K::default().str("x y", 16).int(1).0, vec![u(2)])];
    assert_eq!(map_text(&m, &e, &ALL), "@complex[x y, 1]: 2\n");
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"map\", \"data\": {\"@complex\": {\"xy,1\": 2}}}\n"
    );
}

#[test]
fn truncated_string_key_gets_trailer() {
    let m = info("", vec![Type::Str { len: 4 }], MapValue::Count);
    let e = [entry(K::default().str("abcd", 4).0, vec![u(1)])];
    assert_eq!(map_text(&m, &e, &ALL), "@[abcd..]: 1\n");
}

#[test]
fn json_map_with_string_keys() {
    // tests/runtime/outputs/map.json
    let m = info("map", vec![s16()], MapValue::Plain(Type::I64));
    let e = [
        entry(K::default().str("key2", 16).0, vec![u(3)]),
        entry(K::default().str("key1", 16).0, vec![u(2)]),
    ];
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"map\", \"data\": {\"@map\": {\"key1\": 2, \"key2\": 3}}}\n"
    );
}

#[test]
fn sum_signed() {
    let m = info("sum", vec![], MapValue::Sum { signed: true });
    let e = [entry(scalar_key(), vec![u(-10i64 as u64), u(3)])];
    assert_eq!(map_text(&m, &e, &ALL), "@sum: -7\n");
}

#[test]
fn min_max_use_set_flags() {
    let m = info("min", vec![], MapValue::Min { signed: true });
    let e = [entry(
        scalar_key(),
        vec![pair(0, 0), pair(2, 1), pair(1, 1), pair(3, 1)],
    )];
    assert_eq!(map_text(&m, &e, &ALL), "@min: 1\n");
    let m = info("max", vec![], MapValue::Max { signed: true });
    let e = [entry(
        scalar_key(),
        vec![pair(-5, 1), pair(99, 0), pair(-2, 1)],
    )];
    assert_eq!(map_text(&m, &e, &ALL), "@max: -2\n");
}

#[test]
fn min_sorts_unsigned_like_bpftrace() {
    // bpftrace sorts min/max maps with an unsigned comparison, so -1 comes last.
    let m = info("m", vec![Type::I64], MapValue::Min { signed: true });
    let e = [
        entry(K::default().int(1).0, vec![pair(-1, 1)]),
        entry(K::default().int(2).0, vec![pair(5, 1)]),
    ];
    assert_eq!(map_text(&m, &e, &ALL), "@m[2]: 5\n@m[1]: -1\n");
}

#[test]
fn avg_and_stats() {
    // tests/runtime/call: avg 1,2,3 → 2; stats → { .count = 3, .average = 2, .total = 6 }
    let per_cpu = vec![pair(2, 3), pair(1, 3)];
    let m = info("avg", vec![], MapValue::Avg { signed: false });
    let e = [entry(scalar_key(), per_cpu.clone())];
    assert_eq!(map_text(&m, &e, &ALL), "@avg: 2\n");
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"stats\", \"data\": {\"@avg\": 2}}\n"
    );
    let m = info("stats", vec![], MapValue::Stats { signed: false });
    let e = [entry(scalar_key(), per_cpu)];
    assert_eq!(
        map_text(&m, &e, &ALL),
        "@stats: { .count = 3, .average = 2, .total = 6 }\n"
    );
    // tests/runtime/signed_ints: stats(-10), stats(-5), stats(5)
    let m = info("", vec![], MapValue::Stats { signed: true });
    let e = [entry(scalar_key(), vec![pair(2, -15), pair(1, 5)])];
    assert_eq!(
        map_text(&m, &e, &ALL),
        "@: { .count = 3, .average = -3, .total = -10 }\n"
    );
}

#[test]
fn stats_json_shapes() {
    // tests/runtime/outputs/stats.json
    let m = info("stats", vec![], MapValue::Stats { signed: true });
    let e = [entry(scalar_key(), vec![pair(2, 12)])];
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"stats\", \"data\": {\"@stats\": {\"count\": 2, \"average\": 6, \"total\": 12}}}\n"
    );
    // tests/runtime/outputs/stats_multiple.json
    let m = info("stats", vec![s16()], MapValue::Stats { signed: true });
    let e = [
        entry(K::default().str("zsh", 16).0, vec![pair(1, 10)]),
        entry(K::default().str("curl", 16).0, vec![pair(1, 2)]),
    ];
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"stats\", \"data\": {\"@stats\": {\"curl\": {\"count\": 1, \"average\": 2, \"total\": 2}, \"zsh\": {\"count\": 1, \"average\": 10, \"total\": 10}}}}\n"
    );
    assert_eq!(
        map_text(&m, &e, &ALL),
        "@stats[curl]: { .count = 1, .average = 2, .total = 2 }\n\
         @stats[zsh]: { .count = 1, .average = 10, .total = 10 }\n"
    );
}

#[test]
fn plain_strings_sort_by_key() {
    let m = info("s", vec![Type::I64], MapValue::Plain(Type::Str { len: 8 }));
    let e = [
        entry(K::default().int(2).0, vec![b"zzz\0\0\0\0\0".to_vec()]),
        entry(K::default().int(-1).0, vec![b"hello\0\0\0".to_vec()]),
        entry(K::default().int(1).0, vec![b"aaa\0\0\0\0\0".to_vec()]),
    ];
    assert_eq!(
        map_text(&m, &e, &ALL),
        "@s[-1]: hello\n@s[1]: aaa\n@s[2]: zzz\n"
    );
    let m = info("x", vec![], MapValue::Plain(Type::Str { len: 16 }));
    let e = [entry(scalar_key(), vec![b"hello".to_vec()])];
    assert_eq!(map_text(&m, &e, &ALL), "@x: hello\n");
}

#[test]
fn scalar_string_json_escapes() {
    // tests/runtime/outputs/scalar_str.json
    let m = info("scalar_str", vec![], MapValue::Plain(Type::Str { len: 64 }));
    let e = [entry(scalar_key(), vec![b"a b \n d e\0".to_vec()])];
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"map\", \"data\": {\"@scalar_str\": \"a b \\n d e\"}}\n"
    );
}

#[test]
fn tuple_keys_sort_by_parts_when_values_are_strings() {
    let m = info(
        "t",
        vec![s16(), Type::I64],
        MapValue::Plain(Type::Str { len: 8 }),
    );
    let v = || vec![b"v\0\0\0\0\0\0\0".to_vec()];
    let e = [
        entry(K::default().str("b", 16).int(1).0, v()),
        entry(K::default().str("a", 16).int(2).0, v()),
        entry(K::default().str("a", 16).int(-3).0, v()),
    ];
    assert_eq!(
        map_text(&m, &e, &ALL),
        "@t[a, -3]: v\n@t[a, 2]: v\n@t[b, 1]: v\n"
    );
}

#[test]
fn top_and_div() {
    let m = info("", vec![Type::I64], MapValue::Count);
    let e: Vec<Entry> = (1..=5)
        .map(|i| entry(K::default().int(i).0, vec![u(i as u64 * 10 + 1)]))
        .collect();
    let opts = PrintOptions { top: 2, div: 10 };
    assert_eq!(map_text(&m, &e, &opts), "@[4]: 4\n@[5]: 5\n");
    let opts = PrintOptions { top: 0, div: 0 };
    assert_eq!(map_text(&m, &e, &opts).lines().count(), 5);
    let opts = PrintOptions { top: 10, div: 1 };
    assert_eq!(map_text(&m, &e, &opts).lines().count(), 5);
}

#[test]
fn stats_div_only_divides_average() {
    let m = info("", vec![], MapValue::Stats { signed: false });
    let e = [entry(scalar_key(), vec![pair(2, 40)])];
    assert_eq!(
        map_text(&m, &e, &PrintOptions { top: 0, div: 10 }),
        "@: { .count = 2, .average = 2, .total = 40 }\n"
    );
}

#[test]
fn scalar_hist_text_and_json() {
    // tests/runtime/outputs/hist.txt
    let m = info("", vec![], MapValue::Hist { bits: 0 });
    let buckets: Vec<u64> = [-1, 2, 3, 7, 20]
        .iter()
        .map(|&v| hist_bucket(v, 0))
        .collect();
    let e = bucketed(&scalar_key(), &buckets);
    assert_eq!(
        map_text(&m, &e, &ALL),
        "@:\n\
         (..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
         [0]                    0 |                                                    |\n\
         [1]                    0 |                                                    |\n\
         [2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         [4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
         [8, 16)                0 |                                                    |\n\
         [16, 32)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
         \n"
    );
    // tests/runtime/outputs/hist.json: hist(2), hist(1025)
    let m = info("hist", vec![], MapValue::Hist { bits: 0 });
    let e = bucketed(&scalar_key(), &[hist_bucket(2, 0), hist_bucket(1025, 0)]);
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"hist\", \"data\": {\"@hist\": [{\"min\": 2, \"max\": 3, \"count\": 1},\
         {\"min\": 4, \"max\": 7, \"count\": 0},{\"min\": 8, \"max\": 15, \"count\": 0},\
         {\"min\": 16, \"max\": 31, \"count\": 0},{\"min\": 32, \"max\": 63, \"count\": 0},\
         {\"min\": 64, \"max\": 127, \"count\": 0},{\"min\": 128, \"max\": 255, \"count\": 0},\
         {\"min\": 256, \"max\": 511, \"count\": 0},{\"min\": 512, \"max\": 1023, \"count\": 0},\
         {\"min\": 1024, \"max\": 2047, \"count\": 1}]}}\n"
    );
}

#[test]
fn hist_merges_cpus_per_bucket() {
    let m = info("", vec![], MapValue::Hist { bits: 0 });
    let mut key = scalar_key();
    key.extend_from_slice(&hist_bucket(5, 0).to_le_bytes());
    let e = [entry(key, vec![u(1), u(2), u(0)])];
    assert_eq!(
        map_text(&m, &e, &ALL),
        "@:\n[4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
    );
}

#[test]
fn zeroed_hist() {
    // tests/runtime/outputs/hist_zero.json: the entry exists with a zero count.
    let m = info("hist", vec![], MapValue::Hist { bits: 0 });
    let mut key = scalar_key();
    key.extend_from_slice(&hist_bucket(2, 0).to_le_bytes());
    let e = [entry(key, vec![u(0)])];
    assert_eq!(map_text(&m, &e, &ALL), "@hist:\n\n");
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"hist\", \"data\": {\"@hist\": []}}\n"
    );
}

#[test]
fn keyed_hists_sort_by_total_count() {
    // tests/runtime/outputs/hist_multiple.json
    let m = info("", vec![s16()], MapValue::Hist { bits: 0 });
    let curl = K::default().str("curl", 16).0;
    let bpftrace = K::default().str("bpftrace", 16).0;
    let mut e = bucketed(&curl, &[-1, 0, 511, 1024, 1025].map(|v| hist_bucket(v, 0)));
    e.extend(bucketed(&bpftrace, &[hist_bucket(2, 0)]));
    let text = map_text(&m, &e, &ALL);
    assert!(
        text.starts_with(
            "@[bpftrace]:\n\
             [2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
             \n\
             @[curl]:\n\
             (..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
             [0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
             [1]                    0 |                                                    |\n"
        ),
        "{text}"
    );
    assert!(text.ends_with(
        "[512, 1K)              0 |                                                    |\n\
         [1K, 2K)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         \n"
    ));
    let json = map_json(&m, &e, &ALL);
    assert!(json.starts_with(
        "{\"type\": \"hist\", \"data\": {\"@\": {\"bpftrace\": [{\"min\": 2, \"max\": 3, \"count\": 1}], \"curl\": [{\"max\": -1, \"count\": 1},{\"min\": 0, \"max\": 0, \"count\": 1},"
    ), "{json}");
    assert!(json.ends_with("{\"min\": 1024, \"max\": 2047, \"count\": 2}]}}}\n"));

    // top=1 keeps the key with the largest total.
    let top = map_text(&m, &e, &PrintOptions { top: 1, div: 1 });
    assert!(top.starts_with("@[curl]:\n"), "{top}");
}

#[test]
fn keyed_hist_with_tuple_key_json() {
    // tests/runtime/outputs/hist_multiple_multiple_keys.json
    let m = info("", vec![s16(), Type::I64], MapValue::Hist { bits: 0 });
    let mut e = bucketed(
        &K::default().str("bpftrace", 16).int(2).0,
        &[hist_bucket(2, 0)],
    );
    e.extend(bucketed(
        &K::default().str("curl", 16).int(3).0,
        &[hist_bucket(511, 0), hist_bucket(1024, 0)],
    ));
    assert_eq!(
        map_json(&m, &e, &ALL),
        "{\"type\": \"hist\", \"data\": {\"@\": {\"bpftrace,2\": [{\"min\": 2, \"max\": 3, \"count\": 1}], \
         \"curl,3\": [{\"min\": 256, \"max\": 511, \"count\": 1},{\"min\": 512, \"max\": 1023, \"count\": 0},\
         {\"min\": 1024, \"max\": 2047, \"count\": 1}]}}}\n"
    );
    assert!(map_text(&m, &e, &ALL).starts_with("@[bpftrace, 2]:\n[2, 4)  "));
}

#[test]
fn keyed_lhists_json() {
    // tests/runtime/outputs/lhist_multiple.json
    let m = info(
        "stats",
        vec![s16()],
        MapValue::Lhist {
            min: 0,
            max: 100,
            step: 10,
        },
    );
    let b = |v| lhist_bucket(v, 0, 100, 10);
    let mut e = bucketed(&K::default().str("bpftrace", 16).0, &[b(2), b(1000)]);
    e.extend(bucketed(&K::default().str("curl", 16).0, &[b(50)]));
    let json = map_json(&m, &e, &ALL);
    assert!(json.starts_with(
        "{\"type\": \"hist\", \"data\": {\"@stats\": {\"curl\": [{\"min\": 50, \"max\": 59, \"count\": 1}], \"bpftrace\": [{\"min\": 0, \"max\": 9, \"count\": 1},"
    ), "{json}");
    assert!(json
        .ends_with("{\"min\": 90, \"max\": 99, \"count\": 0},{\"min\": 100, \"count\": 1}]}}}\n"));
}

#[test]
fn lhist_ignores_div() {
    let m = info(
        "",
        vec![],
        MapValue::Lhist {
            min: 0,
            max: 10,
            step: 5,
        },
    );
    let e = bucketed(&scalar_key(), &[1, 1, 1, 1]);
    assert_eq!(
        map_text(&m, &e, &PrintOptions { top: 0, div: 2 }),
        "@:\n[0, 5)                 4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
    );
}

#[test]
fn empty_maps_print_nothing_at_exit_but_zero_on_print() {
    let m = info("", vec![], MapValue::Plain(Type::I64));
    assert_eq!(map_text(&m, &[], &ALL), "");
    assert_eq!(map_json(&m, &[], &ALL), "");
    // tests/runtime/call print_empty_scalar_map / print_empty_scalar_stats_map
    assert_eq!(map_text_on_print(&m, &[], &ALL), "@: 0\n");
    assert_eq!(
        map_json_on_print(&m, &[], &ALL),
        "{\"type\": \"map\", \"data\": {\"@\": 0}}\n"
    );
    let m = info("", vec![], MapValue::Stats { signed: false });
    assert_eq!(
        map_text_on_print(&m, &[], &ALL),
        "@: { .count = 0, .average = 0, .total = 0 }\n"
    );
    assert_eq!(
        map_json_on_print(&m, &[], &ALL),
        "{\"type\": \"stats\", \"data\": {\"@\": {\"count\": 0, \"average\": 0, \"total\": 0}}}\n"
    );
    // Keyed maps and histograms stay empty.
    let k = info("k", vec![Type::I64], MapValue::Count);
    assert_eq!(map_text_on_print(&k, &[], &ALL), "");
    assert_eq!(map_json(&k, &[], &ALL), "");
    let h = info("h", vec![], MapValue::Hist { bits: 0 });
    assert_eq!(map_text_on_print(&h, &[], &ALL), "");
    assert_eq!(map_json(&h, &[], &ALL), "");
    // bpftrace quirk: an empty avg/stats map still emits an empty JSON object.
    let s = info("s", vec![Type::I64], MapValue::Avg { signed: true });
    assert_eq!(map_text(&s, &[], &ALL), "");
    assert_eq!(
        map_json(&s, &[], &ALL),
        "{\"type\": \"stats\", \"data\": {\"@s\": {}}}\n"
    );
}

#[test]
fn malformed_buffers_do_not_panic() {
    let maps = [
        info("a", vec![], MapValue::Count),
        info("b", vec![Type::I64, s16()], MapValue::Max { signed: true }),
        info("c", vec![s16()], MapValue::Stats { signed: true }),
        info("d", vec![Type::I64], MapValue::Hist { bits: 3 }),
        info(
            "e",
            vec![],
            MapValue::Lhist {
                min: 0,
                max: 100,
                step: 0,
            },
        ),
        info("f", vec![], MapValue::Plain(Type::Str { len: 16 })),
    ];
    let entries = [
        entry(vec![], vec![]),
        entry(vec![1, 2, 3], vec![vec![1], vec![]]),
        entry(vec![0xff; 40], vec![vec![0xff; 3]]),
        entry(u64::MAX.to_le_bytes().to_vec(), vec![vec![0xff; 16]]),
    ];
    for m in &maps {
        let _ = map_text(m, &entries, &ALL);
        let _ = map_json(m, &entries, &ALL);
        let _ = map_text_on_print(m, &entries, &PrintOptions { top: 1, div: 0 });
    }
    let m = info("a", vec![], MapValue::Count);
    assert_eq!(
        map_text(&m, &[entry(vec![], vec![vec![7]])], &ALL),
        "@a: 7\n"
    );
}

#[test]
fn print_values() {
    assert_eq!(value_text(Type::I64, &(-5i64).to_le_bytes()), "-5\n");
    assert_eq!(value_text(Type::U64, &[]), "0\n");
    assert_eq!(
        value_text(Type::Str { len: 16 }, b"bpftrace\0"),
        "bpftrace\n"
    );
    assert_eq!(value_text(Type::Bool, &[1]), "true\n");
    // tests/runtime/json-output print_non_map / print_non_map_builtin
    assert_eq!(
        value_json(Type::I64, &5i64.to_le_bytes()),
        "{\"type\": \"value\", \"data\": 5}\n"
    );
    assert_eq!(
        value_json(Type::Str { len: 16 }, b"bpftrace\0"),
        "{\"type\": \"value\", \"data\": \"bpftrace\"}\n"
    );
}

#[test]
fn json_string_for_printf_records() {
    // tests/runtime/json-output printf_escaping
    assert_eq!(
        json_string(b"test \r \n \t \\ \" bar"),
        "\"test \\r \\n \\t \\\\ \\\" bar\""
    );
    assert_eq!(json_string(b"test 5"), "\"test 5\"");
}

/// Output of real bpftrace 0.17 for
/// `@h = hist(5000000); @h = hist(3); @k[1] = hist(1); @k[2] = hist(1); @k[2] = hist(100);
///  @l = lhist(7|12|25, 5, 25, 5); @m = lhist(5000, 0, 10240, 2048)`,
/// with 0.26's header (`@h:` — 0.17 printed `@h: ` with a trailing space).
#[test]
fn matches_real_bpftrace_histograms() {
    let h = info("h", vec![], MapValue::Hist { bits: 0 });
    let e = bucketed(
        &scalar_key(),
        &[hist_bucket(5_000_000, 0), hist_bucket(3, 0)],
    );
    let text = map_text(&h, &e, &ALL);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 22 + 1);
    assert_eq!(lines[0], "@h:");
    assert_eq!(
        lines[1],
        "[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
    );
    assert_eq!(
        lines[9],
        "[512, 1K)              0 |                                                    |"
    );
    assert_eq!(
        lines[17],
        "[128K, 256K)           0 |                                                    |"
    );
    assert_eq!(
        lines[22],
        "[4M, 8M)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
    );
    assert_eq!(lines[23], "");

    let k = info("k", vec![Type::I64], MapValue::Hist { bits: 0 });
    let mut e = bucketed(
        &K::default().int(2).0,
        &[hist_bucket(1, 0), hist_bucket(100, 0)],
    );
    e.extend(bucketed(&K::default().int(1).0, &[hist_bucket(1, 0)]));
    assert_eq!(
        map_text(&k, &e, &ALL),
        "@k[1]:\n\
         [1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         \n\
         @k[2]:\n\
         [1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         [2, 4)                 0 |                                                    |\n\
         [4, 8)                 0 |                                                    |\n\
         [8, 16)                0 |                                                    |\n\
         [16, 32)               0 |                                                    |\n\
         [32, 64)               0 |                                                    |\n\
         [64, 128)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         \n"
    );

    let l = info(
        "l",
        vec![],
        MapValue::Lhist {
            min: 5,
            max: 25,
            step: 5,
        },
    );
    let e = bucketed(
        &scalar_key(),
        &[7, 12, 25].map(|v| lhist_bucket(v, 5, 25, 5)),
    );
    assert_eq!(
        map_text(&l, &e, &ALL),
        "@l:\n\
         [5, 10)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         [10, 15)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         [15, 20)               0 |                                                    |\n\
         [20, 25)               0 |                                                    |\n\
         [25, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         \n"
    );

    let m = info(
        "m",
        vec![],
        MapValue::Lhist {
            min: 0,
            max: 10240,
            step: 2048,
        },
    );
    let e = bucketed(&scalar_key(), &[lhist_bucket(5000, 0, 10240, 2048)]);
    assert_eq!(
        map_text(&m, &e, &ALL),
        "@m:\n[4K, 6K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
    );
}
