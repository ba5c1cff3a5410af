//! [`Bin`]: the fixed bins of a `date_bin` group.

/// A fixed bin of `date_bin(stride, timestamp, origin)`, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bin {
    /// The interval.
    pub stride_ms: i64,
    /// The origin (a bin starts at `origin + k · stride`).
    pub origin_ms: i64,
}

impl Bin {
    /// The start of the bin holding `ts`.
    pub fn start_of(&self, ts: i64) -> i64 {
        self.origin_ms + (ts - self.origin_ms).div_euclid(self.stride_ms) * self.stride_ms
    }
}
