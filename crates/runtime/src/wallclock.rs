//! Wall-clock formatting of kernel timestamps for `strftime(fmt, nsecs)`.
//!
//! `nsecs` is `bpf_ktime_get_ns`, i.e. CLOCK_MONOTONIC; the distance between the realtime
//! and the monotonic clock, taken once, turns it into local time for strftime(3).

use std::ffi::CString;
use std::sync::OnceLock;

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec pointer.
    unsafe {
        libc::clock_gettime(clock, &mut ts);
    }
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

/// Realtime minus monotonic, in nanoseconds: the wall-clock time of monotonic zero.
fn monotonic_epoch() -> i128 {
    static EPOCH: OnceLock<i128> = OnceLock::new();
    *EPOCH.get_or_init(|| clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC))
}

/// Replaces bpftrace's `%f` extension (microseconds, six digits) before strftime(3) sees
/// the format; `%%` stays as it is.
fn expand_micros(format: &[u8], micros: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(format.len() + 8);
    let mut bytes = format.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'f') => out.extend_from_slice(format!("{micros:06}").as_bytes()),
            Some(next) => out.extend_from_slice(&[b'%', next]),
            None => out.push(b'%'),
        }
    }
    out
}

/// `format` applied to the local time of monotonic timestamp `ns`.
pub(crate) fn strftime(format: &[u8], ns: u64) -> Vec<u8> {
    let wall = monotonic_epoch() + ns as i128;
    let secs = wall.div_euclid(1_000_000_000) as libc::time_t;
    let micros = (wall.rem_euclid(1_000_000_000) / 1000) as u32;
    let Ok(format) = CString::new(expand_micros(format, micros)) else {
        return Vec::new();
    };
    // SAFETY: localtime_r/strftime with valid pointers and the buffer's real size.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        let mut buf = vec![0u8; 512];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            format.as_ptr(),
            &tm,
        );
        buf.truncate(n);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_extension() {
        assert_eq!(expand_micros(b"%H.%f", 42), b"%H.000042");
        assert_eq!(expand_micros(b"100%%f%", 1), b"100%%f%");
    }

    #[test]
    fn monotonic_now_is_the_current_second() {
        let now = clock_ns(libc::CLOCK_MONOTONIC) as u64;
        let text = strftime(b"%s", now);
        let expected = clock_ns(libc::CLOCK_REALTIME) / 1_000_000_000;
        let got: i128 = String::from_utf8(text).unwrap().parse().unwrap();
        assert!((got - expected).abs() <= 1, "{got} vs {expected}");
    }
}
