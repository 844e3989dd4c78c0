//! Parallel writes into column-blocked outputs without unsafe code.

/// Splits `buf` (`n_rows` equal rows) into per-chunk groups: group `c` holds, for every
/// row, the sub-slice of items `c*chunk .. (c+1)*chunk`. Each group can then go to its own
/// rayon task, so every output row stays contiguous for numpy while tasks never alias.
pub fn chunked_rows<T>(buf: &mut [T], n_rows: usize, chunk: usize) -> Vec<Vec<&mut [T]>> {
    if n_rows == 0 || buf.is_empty() {
        return Vec::new();
    }
    let row_len = buf.len() / n_rows;
    let mut rows: Vec<_> = buf
        .chunks_mut(row_len)
        .map(|r| r.chunks_mut(chunk))
        .collect();
    let n_chunks = row_len.div_ceil(chunk);
    (0..n_chunks)
        .map(|_| rows.iter_mut().filter_map(Iterator::next).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_every_row_once() {
        let mut buf: Vec<usize> = vec![0; 3 * 10];
        let groups = chunked_rows(&mut buf, 3, 4);
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
