//! Parallel writes into column-blocked outputs.

use std::mem::MaybeUninit;

/// Splits equal-length output rows into per-chunk groups: group `c` holds, for every row,
/// the sub-slice of items `c*chunk .. (c+1)*chunk`. Each group can then go to its own
/// rayon task, so every output row stays contiguous for numpy while tasks never alias.
pub fn chunk_groups<'a, T: 'a>(
    rows: impl IntoIterator<Item = &'a mut [T]>,
    chunk: usize,
) -> Vec<Vec<&'a mut [T]>> {
    let mut iters: Vec<_> = rows
        .into_iter()
        .map(|r| r.chunks_mut(chunk.max(1)))
        .collect();
    let mut groups = Vec::new();
    loop {
        let group: Vec<&mut [T]> = iters.iter_mut().filter_map(Iterator::next).collect();
        if group.is_empty() {
            return groups;
        }
        groups.push(group);
    }
}

/// `n` output rows of `len` entries, left uninitialised for a pass that writes each entry
/// once: zeroing them first would be a serial write of every output on the calling
/// thread. Each row is its own allocation: separate buffers of a few MiB are recycled by
/// the allocator between calls, where one large block would be mapped and page-faulted
/// afresh every time.
#[derive(Debug)]
pub struct Unfilled<T> {
    rows: Vec<Vec<T>>,
    len: usize,
}

impl<T> Unfilled<T> {
    pub fn new(n: usize, len: usize) -> Self {
        Self {
            rows: (0..n).map(|_| Vec::with_capacity(len)).collect(),
            len,
        }
    }

    /// Every row's `len` entries, to be written (for [`chunk_groups`]).
    pub fn slots(&mut self) -> impl Iterator<Item = &mut [MaybeUninit<T>]> {
        let len = self.len;
        self.rows
            .iter_mut()
            .map(move |row| &mut row.spare_capacity_mut()[..len])
    }

    /// The rows, filled.
    ///
    /// # Safety
    /// Every entry of every row must have been written through [`Unfilled::slots`].
    pub unsafe fn assume_filled(mut self) -> Vec<Vec<T>> {
        for row in &mut self.rows {
            // SAFETY: the capacity is `len` and the caller wrote entries `0..len`.
            unsafe { row.set_len(self.len) };
        }
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_every_row_once() {
        let mut buf: Vec<usize> = vec![0; 3 * 10];
        let groups = chunk_groups(buf.chunks_mut(10), 4);
        assert_eq!(groups.len(), 3);
        for (c, group) in groups.into_iter().enumerate() {
            assert_eq!(group.len(), 3);
            for (r, part) in group.into_iter().enumerate() {
                for (k, x) in part.iter_mut().enumerate() {
                    *x = r * 100 + c * 4 + k;
                }
            }
        }
        for r in 0..3 {
            for k in 0..10 {
                assert_eq!(buf[r * 10 + k], r * 100 + k);
            }
        }
    }

    #[test]
    fn unfilled_rows_written_through_groups_come_back_in_place() {
        let mut rows = Unfilled::<u32>::new(2, 7);
        for (c, group) in chunk_groups(rows.slots(), 3).into_iter().enumerate() {
            for (r, part) in group.into_iter().enumerate() {
                for (k, x) in part.iter_mut().enumerate() {
                    x.write((r * 100 + c * 3 + k) as u32);
                }
            }
        }
        // SAFETY: the groups cover both rows' entries 0..7, each written above.
        let rows = unsafe { rows.assume_filled() };
        let want: Vec<Vec<u32>> = (0..2)
            .map(|r| (0..7).map(|k| r * 100 + k).collect())
            .collect();
        assert_eq!(rows, want);
    }
}
