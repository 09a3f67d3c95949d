//! Element-wise updates of large parameters, split over the threads tensor ops run on.
//!
//! An update reads and writes every element once, so it is bound by memory bandwidth, and
//! two threads update a large parameter faster than one. Each element's arithmetic does not
//! depend on the split, so the results are the same on any number of threads.
//!
//! The bodies are trait objects that take whole pieces: the pool's machinery is compiled
//! once per element type, and the loops inside each piece stay monomorphic and vectorised.

use tensor::Element;
use tensor::threads::for_each_chunk;

/// Below this many elements an update runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 18;
/// Threads are handed pieces of this many elements.
const PIECE: usize = 1 << 15;

/// A piece body over the parameter and its gradient.
pub(crate) type Body2<'a, T> = &'a (dyn Fn(&mut [T], &[T]) + Sync);
/// A piece body over the parameter, its gradient and one state buffer.
pub(crate) type Body3<'a, T> = &'a (dyn Fn(&mut [T], &[T], &mut [T]) + Sync);
/// A piece body over the parameter, its gradient and two state buffers.
pub(crate) type Body4<'a, T> = &'a (dyn Fn(&mut [T], &[T], &mut [T], &mut [T]) + Sync);

/// `body` over matching pieces of `w` and `g` (of one length).
pub(crate) fn zip2<T: Element>(w: &mut [T], g: &[T], body: Body2<'_, T>) {
    debug_assert_eq!(w.len(), g.len());
    if w.len() < PARALLEL_MIN {
        return body(w, g);
    }
    for_each_chunk([w], PIECE, &|start, [w]| {
        body(w, &g[start..start + w.len()])
    });
}

/// `body` over matching pieces of `w`, `g` and `a` (of one length).
pub(crate) fn zip3<T: Element>(w: &mut [T], g: &[T], a: &mut [T], body: Body3<'_, T>) {
    debug_assert!(w.len() == g.len() && w.len() == a.len());
    if w.len() < PARALLEL_MIN {
        return body(w, g, a);
    }
    for_each_chunk([w, a], PIECE, &|start, [w, a]| {
        body(w, &g[start..start + w.len()], a);
    });
}

/// `body` over matching pieces of `w`, `g`, `a` and `b` (of one length).
pub(crate) fn zip4<T: Element>(w: &mut [T], g: &[T], a: &mut [T], b: &mut [T], body: Body4<'_, T>) {
    debug_assert!(w.len() == g.len() && w.len() == a.len() && w.len() == b.len());
    if w.len() < PARALLEL_MIN {
        return body(w, g, a, b);
    }
    for_each_chunk([w, a, b], PIECE, &|start, [w, a, b]| {
        body(w, &g[start..start + w.len()], a, b);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_is_visited_once_in_its_own_piece() {
        // Lengths on both sides of the threshold, with a ragged last piece.
        for len in [0, 5, PARALLEL_MIN - 1, PARALLEL_MIN + PIECE / 2 + 3] {
            let g: Vec<f64> = (0..len).map(|i| i as f64).collect();
            let mut w = vec![1.0; len];
            let mut a = vec![0.0; len];
            let mut b = vec![0.0; len];
            zip2(&mut w, &g, &|w, g| {
                w.iter_mut().zip(g).for_each(|(w, g)| *w += g);
            });
            zip3(&mut w, &g, &mut a, &|w, g, a| {
                for ((w, g), a) in w.iter_mut().zip(g).zip(a) {
                    *a = *w - g;
                }
            });
            zip4(&mut w, &g, &mut a, &mut b, &|w, g, a, b| {
                for (((w, g), a), b) in w.iter_mut().zip(g).zip(a).zip(b) {
                    *b = *w + g + *a;
                }
            });
            for i in 0..len {
                let x = i as f64;
                assert_eq!(
                    (w[i], a[i], b[i]),
                    (1.0 + x, 1.0, 2.0 + 2.0 * x),
                    "element {i}"
                );
            }
        }
    }
}
