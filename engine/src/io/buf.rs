//! [`AlignedBuf`]: the heap buffer every O_DIRECT transfer goes through, aligned to
//! [`ALIGN`] in address and length, zero-initialised, owned by one thread at a time.

use std::alloc::{self, Layout};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use super::{check_len, ALIGN};

/// A zero-initialised heap buffer whose address and capacity are multiples of
/// [`ALIGN`], as O_DIRECT requires.
///
/// Its length is its capacity when created; a read that returned fewer bytes than asked
/// (end of file, or a fault injected by [`SimIoEngine`](super::SimIoEngine)) hands it
/// back shortened to the bytes actually read, so `&buf[..]` never shows bytes the
/// device did not deliver. A write transfers `buf.len()` bytes, which must then be a
/// multiple of [`ALIGN`] (a buffer made by [`AlignedBuf::zeroed`] always is).
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
    len: usize,
}

// SAFETY: `AlignedBuf` owns its allocation exclusively (like `Box<[u8]>`): no other
// handle to the memory exists, so moving it to another thread or sharing `&AlignedBuf`
// (which only allows reads) is sound.
unsafe impl Send for AlignedBuf {}
// SAFETY: see `Send` above; `&AlignedBuf` gives read-only access to owned memory.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocates `len` zeroed bytes. `len` must be a positive multiple of [`ALIGN`] no
    /// larger than [`MAX_IO_LEN`](super::MAX_IO_LEN); otherwise the error is
    /// `InvalidInput`. A failed allocation is `OutOfMemory`, not an abort.
    pub fn zeroed(len: usize) -> io::Result<AlignedBuf> {
        check_len(len)?;
        let layout = Layout::from_size_align(len, ALIGN)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `check_len` guarantees a non-zero size, and the layout is valid.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("cannot allocate an aligned buffer of {len} bytes"),
            )
        })?;
        Ok(AlignedBuf { ptr, cap: len, len })
    }

    /// The bytes the buffer holds (after a short read, fewer than its capacity).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the buffer holds no bytes (a read at or past the end of the file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The allocated size, a multiple of [`ALIGN`].
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Shortens the buffer to `len` bytes (no effect if it already holds fewer).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Restores the length to the full capacity (the bytes past a short read keep
    /// whatever they held: zeroes, or earlier contents when the buffer is reused).
    pub fn reset_len(&mut self) {
        self.len = self.cap;
    }

    /// The start of the allocation, for handing to the kernel.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` points to `cap` initialised (zeroed at allocation) bytes owned
        // by `self`, and `len <= cap`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: the allocation was made in `zeroed` with exactly this size and
        // alignment (which `zeroed` validated), and is freed only here.
        unsafe {
            alloc::dealloc(
                self.ptr.as_ptr(),
                Layout::from_size_align_unchecked(self.cap, ALIGN),
            )
        }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_is_aligned_and_zero() {
        let mut buf = AlignedBuf::zeroed(3 * ALIGN).expect("alloc");
        assert_eq!(buf.len(), 3 * ALIGN);
        assert_eq!(buf.as_mut_ptr() as usize % ALIGN, 0);
        assert!(buf.iter().all(|&b| b == 0));
        buf[5] = 7;
        buf.truncate(ALIGN);
        assert_eq!(buf.len(), ALIGN);
        assert_eq!(buf.capacity(), 3 * ALIGN);
        buf.reset_len();
        assert_eq!(buf[5], 7);
        assert_eq!(buf.len(), 3 * ALIGN);
    }

    #[test]
    fn bad_sizes_are_errors() {
        for len in [0, 1, ALIGN - 1, ALIGN + 1] {
            let err = AlignedBuf::zeroed(len).expect_err("must refuse");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "len {len}");
        }
    }
}
