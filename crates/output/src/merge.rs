//! Reading values out of the raw map buffers and folding the per-CPU copies into one,
//! the way bpftrace's `util/stats.h` does it (`reduce_value`, `min_max_value`,
//! `stats_value`).
//!
//! Every reader tolerates short buffers: missing bytes read as zero, so a malformed
//! buffer renders as 0 instead of panicking.

/// The little-endian u64 at `off`; bytes past the end of `buf` count as zero.
pub(crate) fn read_u64(buf: &[u8], off: usize) -> u64 {
    let mut raw = [0u8; 8];
    if off < buf.len() {
        let n = (buf.len() - off).min(8);
        raw[..n].copy_from_slice(&buf[off..off + n]);
    }
    u64::from_le_bytes(raw)
}

/// Sum of the u64 at `off` over all CPUs (wrapping, like the C++ unsigned addition).
pub(crate) fn sum(values: &[Vec<u8>], off: usize) -> u64 {
    values
        .iter()
        .fold(0u64, |acc, v| acc.wrapping_add(read_u64(v, off)))
}

/// `min`/`max` over the CPUs whose `set` word is non-zero; 0 when no CPU saw a value.
/// The comparison is signed or unsigned as asked; the result is the raw 64 bits.
pub(crate) fn min_max(values: &[Vec<u8>], is_max: bool, signed: bool) -> u64 {
    let mut best: Option<u64> = None;
    for v in values {
        if read_u64(v, 8) == 0 {
            continue;
        }
        let x = read_u64(v, 0);
        best = Some(match best {
            None => x,
            Some(b) => {
                let better = if signed {
                    if is_max {
                        (x as i64) > (b as i64)
                    } else {
                        (x as i64) < (b as i64)
                    }
                } else if is_max {
                    x > b
                } else {
                    x < b
                };
                if better {
                    x
                } else {
                    b
                }
            }
        });
    }
    best.unwrap_or(0)
}

/// Merged `avg`/`stats` state: counts and totals added over CPUs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stats {
    pub count: u64,
    /// The raw 64 bits of the total (interpret as i64 for signed maps).
    pub total: u64,
}

impl Stats {
    /// Per-CPU layout `{count: u64, total: i64}` (see `sema::maps`).
    pub fn merge(values: &[Vec<u8>]) -> Stats {
        Stats {
            count: sum(values, 0),
            total: sum(values, 8),
        }
    }

    /// The integer average (truncating division), 0 for an empty aggregation.
    pub fn avg_signed(self) -> i64 {
        let (count, total) = (self.count as i64, self.total as i64);
        if count == 0 {
            0
        } else {
            total.wrapping_div(count)
        }
    }

    pub fn avg_unsigned(self) -> u64 {
        self.total.checked_div(self.count).unwrap_or(0)
    }
}

/// Signed division by a `print()` divisor without overflow panics.
pub(crate) fn div_i64(v: i64, div: u64) -> i64 {
    (v as i128 / div.max(1) as i128) as i64
}

/// Unsigned division by a `print()` divisor (0 is treated as 1, like bpftrace).
pub(crate) fn div_u64(v: u64, div: u64) -> u64 {
    v / div.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mm(v: i64, set: u64) -> Vec<u8> {
        let mut b = v.to_le_bytes().to_vec();
        b.extend_from_slice(&set.to_le_bytes());
        b
    }

    #[test]
    fn short_buffers_read_as_zero() {
        assert_eq!(read_u64(&[], 0), 0);
        assert_eq!(read_u64(&[5], 0), 5);
        assert_eq!(read_u64(&[1, 2, 3], 8), 0);
        assert_eq!(
            sum(&[vec![1], vec![], vec![2, 0, 0, 0, 0, 0, 0, 0, 9]], 0),
            3
        );
    }

    #[test]
    fn sums_over_cpus() {
        let cpus = vec![3u64.to_le_bytes().to_vec(), 4u64.to_le_bytes().to_vec()];
        assert_eq!(sum(&cpus, 0), 7);
    }

    #[test]
    fn min_max_skips_unset_cpus() {
        let cpus = vec![mm(0, 0), mm(7, 1), mm(-3, 1), mm(-100, 0)];
        assert_eq!(min_max(&cpus, false, true) as i64, -3);
        assert_eq!(min_max(&cpus, true, true) as i64, 7);
        // Unsigned comparison treats -3 as huge.
        assert_eq!(min_max(&cpus, true, false) as i64, -3);
        assert_eq!(min_max(&[mm(9, 0)], true, true), 0);
    }

    #[test]
    fn stats_add_counts_and_totals() {
        let cpu = |count: u64, total: i64| {
            let mut b = count.to_le_bytes().to_vec();
            b.extend_from_slice(&total.to_le_bytes());
            b
        };
        let s = Stats::merge(&[cpu(2, -10), cpu(1, 0)]);
        assert_eq!(s.count, 3);
        assert_eq!(s.total as i64, -10);
        assert_eq!(s.avg_signed(), -3);
        assert_eq!(Stats::merge(&[]).avg_signed(), 0);
        assert_eq!(Stats::merge(&[cpu(4, 10)]).avg_unsigned(), 2);
    }
}
