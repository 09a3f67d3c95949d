//! Windows over the planes of an NCHW tensor, for max pooling: where each window's maximum
//! lies.

use super::conv::Geometry;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::threads::{self, Effort};

/// From this many window taps the search is shared between threads.
const PARALLEL_MIN: usize = 1 << 15;

/// For each window of `g` (one channel per group, `g.batch · g.in_channels` planes of
/// `g.input`), the position in its plane (`row · width + column`) of its largest value: the
/// first one in row-major order among equal values, and the first NaN if there is one (a
/// NaN is larger than everything, so it propagates as in PyTorch).
///
/// # Errors
/// When a window covers no input value (a dilated window over a small, padded input).
pub(crate) fn max_positions<T: Element>(
    op: &'static str,
    g: &Geometry,
    x: &[T],
) -> Result<Vec<i64>> {
    let planes = g.batch * g.in_channels;
    let [h, w] = g.input;
    let [oh, ow] = g.output;
    let [kh, kw] = g.kernel;
    assert_eq!(x.len(), planes * h * w);
    let mut out = vec![0i64; planes * oh * ow];
    let empty = std::sync::atomic::AtomicBool::new(false);
    let search = |start: usize, piece: &mut [i64]| {
        for (at, slot) in piece.iter_mut().enumerate() {
            let index = start + at;
            let (plane, p) = (index / (oh * ow), index % (oh * ow));
            let (r, c) = (p / ow, p % ow);
            let values = &x[plane * h * w..][..h * w];
            let mut best: Option<(usize, T)> = None;
            for i in 0..kh {
                let ih = (r * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0] as isize;
                if !(0..h as isize).contains(&ih) {
                    continue;
                }
                for j in 0..kw {
                    let iw = (c * g.stride[1] + j * g.dilation[1]) as isize - g.padding[1] as isize;
                    if !(0..w as isize).contains(&iw) {
                        continue;
                    }
                    let position = ih as usize * w + iw as usize;
                    let v = values[position];
                    let better = match best {
                        None => true,
                        Some((_, b)) => !b.is_nan() && (v.is_nan() || v > b),
                    };
                    if better {
                        best = Some((position, v));
                    }
                }
            }
            match best {
                Some((position, _)) => *slot = position as i64,
                None => empty.store(true, std::sync::atomic::Ordering::Relaxed),
            }
        }
    };
    let taps = out.len() * kh * kw;
    if taps < PARALLEL_MIN {
        search(0, &mut out);
    } else {
        let piece = (PARALLEL_MIN / (kh * kw)).max(1);
        threads::for_each_chunk_with(Effort::Medium, [&mut out[..]], piece, &|start, [piece]| {
            search(start, piece);
        });
    }
    if empty.into_inner() {
        return Err(TensorError::invalid(
            op,
            format!(
                "a window of {:?} taps (dilation {:?}, padding {:?}) covers no value of the \
                 {h}×{w} input",
                g.kernel, g.dilation, g.padding
            ),
        ));
    }
    Ok(out)
}
