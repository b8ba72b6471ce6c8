//! One stable sort for the whole core.
//!
//! std's sort is monomorphised per element type and comparator, which cost
//! about 25 KB of WebAssembly for three cold sorts of at most a few thousand
//! items. So every sort in the core goes through [`stable_order`], one
//! non-generic merge sort over positions; [`sort_stable_by`] is the thin
//! generic shell that moves the items. Keep it that way: a generic merge sort
//! would bring the copies back (see `pulse-wasm/scripts/build.sh`).

use std::cmp::Ordering;

/// Sorts `v` stably by `cmp`, through [`stable_order`].
pub(crate) fn sort_stable_by<T>(v: &mut Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) {
    let order = {
        let items = v.as_slice();
        stable_order(items.len(), &|a, b| cmp(&items[a], &items[b]))
    };
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// The positions `0..n` in stable sorted order (bottom-up merge sort).
#[inline(never)]
pub(crate) fn stable_order(n: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut from: Vec<usize> = (0..n).collect();
    let mut to = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut l, mut r) = (start, mid);
            for slot in &mut to[start..end] {
                // Take from the left run on ties: that keeps the sort stable.
                let take_left = r == end || (l < mid && cmp(from[l], from[r]) != Ordering::Greater);
                if take_left {
                    *slot = from[l];
                    l += 1;
                } else {
                    *slot = from[r];
                    r += 1;
                }
            }
            start = end;
        }
        std::mem::swap(&mut from, &mut to);
        width *= 2;
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_order_keeps_ties_in_input_order() {
        let keys = [3, 1, 3, 2, 1, 0, 3];
        let order = stable_order(keys.len(), &|a, b| keys[a].cmp(&keys[b]));
        assert_eq!(order, vec![5, 1, 4, 3, 0, 2, 6]);
        assert!(stable_order(0, &|_, _| Ordering::Equal).is_empty());
        assert_eq!(stable_order(1, &|_, _| Ordering::Equal), vec![0]);
    }

    proptest::proptest! {
        #[test]
        fn sort_stable_by_matches_std_stable_sort(v in proptest::collection::vec((0u8..8, 0u16..1000), 0..300)) {
            let mut ours = v.clone();
            sort_stable_by(&mut ours, |a, b| a.0.cmp(&b.0));
            let mut std_sorted = v;
            std_sorted.sort_by_key(|x| x.0);
            proptest::prop_assert_eq!(ours, std_sorted);
        }
    }
}
