//! Building on every core: the one place the analytics use threads, for CPU only (no
//! I/O), when a large rule set is compiled or indexed.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` of every item, in the items' order, computed on one scoped thread per core when
/// there are at least `min_items` (below that a thread costs more than it saves). Each
/// thread takes the next item not yet taken, since items can differ a hundredfold in
/// cost. A panic in `f` is a bug; it surfaces as it would on one thread.
pub(crate) fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    min_items: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < min_items.max(2) {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break done };
            done.push((i, f(item)));
        }
    };
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads.min(items.len()))
            .map(|_| scope.spawn(work))
            .collect();
        let mut done = work();
        for helper in helpers {
            match helper.join() {
                Ok(part) => done.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order_on_any_number_of_threads() {
        let items: Vec<u64> = (0..500).collect();
        // Uneven costs, so threads finish out of order.
        let slow_square = |&n: &u64| {
            let spin = if n % 7 == 0 { 20_000 } else { 10 };
            (0..spin).fold(n * n, |acc, _| std::hint::black_box(acc))
        };
        let expected: Vec<u64> = items.iter().map(|n| n * n).collect();
        assert_eq!(map_in_order(&items, 1, slow_square), expected);
        assert_eq!(map_in_order(&items, 10_000, slow_square), expected);
        assert!(map_in_order(&[] as &[u64], 1, slow_square).is_empty());
    }
}
