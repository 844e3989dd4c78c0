//! Parallel writes into column-blocked outputs without unsafe code.

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

/// `n` rows of `len` zeros, each its own allocation: separate buffers of a few MiB are
/// recycled by the allocator between calls, where one large block would be mapped and
/// page-faulted afresh every time.
pub fn zeroed_rows<T: Clone + Default>(n: usize, len: usize) -> Vec<Vec<T>> {
    (0..n).map(|_| vec![T::default(); len]).collect()
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
}
