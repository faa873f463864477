//! Consumer side of a `BPF_MAP_TYPE_RINGBUF` map, read through its memory mapping.
//!
//! Layout (kernel/bpf/ringbuf.c): page 0 holds the consumer position (we write it), page 1
//! the producer position (the kernel writes it), then the data area mapped twice in a row so
//! a record never wraps. Each record starts with an 8-byte header whose first u32 is the
//! length plus the BUSY (still being written) and DISCARD bits.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

const BUSY: u32 = 1 << 31;
const DISCARD: u32 = 1 << 30;
const HEADER: usize = 8;

pub(crate) struct RingBuf {
    fd: OwnedFd,
    page: usize,
    size: usize,
    consumer: *mut u8,
    producer: *mut u8,
}

impl RingBuf {
    /// Maps the ring buffer `fd` whose data area is `size` bytes (its max_entries).
    pub(crate) fn new(fd: OwnedFd, size: usize) -> io::Result<RingBuf> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // SAFETY: mapping a ring buffer fd as the kernel documents: one writable page at
        // offset 0, then the read-only producer page and twice the data area.
        unsafe {
            let consumer = libc::mmap(
                std::ptr::null_mut(),
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            );
            if consumer == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let producer = libc::mmap(
                std::ptr::null_mut(),
                page + 2 * size,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                page as libc::off_t,
            );
            if producer == libc::MAP_FAILED {
                let err = io::Error::last_os_error();
                libc::munmap(consumer, page);
                return Err(err);
            }
            Ok(RingBuf {
                fd,
                page,
                size,
                consumer: consumer as *mut u8,
                producer: producer as *mut u8,
            })
        }
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn position(ptr: *mut u8) -> &'static AtomicU64 {
        // SAFETY: both position words are 8-byte aligned at the start of a mapped page that
        // lives as long as `self`; the returned reference never outlives a method call.
        unsafe { &*(ptr as *const AtomicU64) }
    }

    /// Calls `f` with each committed record, in order, until the buffer is empty or `f`
    /// returns false. Returns how many records were delivered.
    pub(crate) fn consume(&mut self, mut f: impl FnMut(&[u8]) -> bool) -> usize {
        let consumer = Self::position(self.consumer);
        let producer = Self::position(self.producer);
        let mask = self.size as u64 - 1;
        let mut count = 0;
        let mut cons = consumer.load(Ordering::Acquire);
        loop {
            let prod = producer.load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            // SAFETY: the data area starts one page after the producer page and is mapped
            // twice, so `offset + HEADER + len` stays inside the mapping (len ≤ size).
            let data = unsafe { self.producer.add(self.page) };
            let offset = (cons & mask) as usize;
            let header = unsafe { &*(data.add(offset) as *const std::sync::atomic::AtomicU32) };
            let word = header.load(Ordering::Acquire);
            if word & BUSY != 0 {
                break;
            }
            let len = (word & !(BUSY | DISCARD)) as usize;
            let keep_going = if word & DISCARD == 0 {
                count += 1;
                let record = unsafe { std::slice::from_raw_parts(data.add(offset + HEADER), len) };
                f(record)
            } else {
                true
            };
            cons += ((len + HEADER + 7) & !7) as u64;
            consumer.store(cons, Ordering::Release);
            if !keep_going {
                break;
            }
        }
        count
    }
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped.
        unsafe {
            libc::munmap(self.consumer as *mut libc::c_void, self.page);
            libc::munmap(
                self.producer as *mut libc::c_void,
                self.page + 2 * self.size,
            );
        }
    }
}
