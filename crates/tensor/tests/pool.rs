//! Pooling: against direct evaluations of PyTorch's definitions, and first and second
//! derivatives against central finite differences, over random windows, strides, paddings,
//! dilations and rounding modes.

use proptest::prelude::*;
use tensor::testing::{check_derivatives, strided_view, weights};
use tensor::{Pool2dParams, Tensor};

type T = Tensor<f64>;

/// Windows over an input of `size`: `(kernel, stride, padding, dilation, size)`.
fn dim(max_kernel: usize) -> impl Strategy<Value = (usize, usize, usize, usize, usize)> {
    (
        1..=max_kernel,
        1..=3usize,
        0..=1usize,
        1..=2usize,
        0..=4usize,
    )
        .prop_map(|(k, s, p, d, extra)| {
            let p = p.min(k / 2);
            let span = d * (k - 1) + 1;
            (k, s, p, d, (span + extra).saturating_sub(2 * p).max(1))
        })
}

fn params(
    (kh, sh, ph, dh, _): (usize, usize, usize, usize, usize),
    (kw, sw, pw, dw, _): (usize, usize, usize, usize, usize),
    ceil: bool,
) -> Pool2dParams {
    Pool2dParams::new([kh, kw])
        .stride([sh, sw])
        .padding([ph, pw])
        .dilation([dh, dw])
        .ceil_mode(ceil)
}

/// PyTorch's output length.
fn out_len(size: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let room = size + 2 * p - d * (k - 1) - 1;
    let mut out = if ceil { room.div_ceil(s) } else { room / s } + 1;
    if ceil && (out - 1) * s >= size + p {
        out -= 1;
    }
    out
}

/// Values all distinct, so that a finite-difference step never changes a window's maximum.
fn distinct(shape: &[usize], seed: u64) -> T {
    let n: usize = shape.iter().product();
    let keys = weights(&[n], seed).to_vec();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let mut values = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        values[i] = rank as f64 * 0.1 - 1.0;
    }
    T::from_vec(values, shape).unwrap()
}

/// Each window's maximum (`max`) or mean, from the definition.
fn direct_pool(x: &T, p: &Pool2dParams, max: bool) -> Vec<f64> {
    let s = x.shape().to_vec();
    let xs = x.to_vec();
    let (h, w) = (s[2], s[3]);
    let len = |i: usize, size: usize| {
        out_len(
            size,
            p.kernel[i],
            p.stride[i],
            p.padding[i],
            p.dilation[i],
            p.ceil_mode,
        )
    };
    let (oh, ow) = (len(0, h), len(1, w));
    let mut out = Vec::new();
    for plane in 0..s[0] * s[1] {
        for r in 0..oh {
            for q in 0..ow {
                let (r0, q0) = (
                    (r * p.stride[0]) as isize - p.padding[0] as isize,
                    (q * p.stride[1]) as isize - p.padding[1] as isize,
                );
                let mut best = f64::NEG_INFINITY;
                let mut total = 0.0;
                let mut inside = 0usize;
                for i in 0..p.kernel[0] {
                    for j in 0..p.kernel[1] {
                        let ih = r0 + (i * p.dilation[0]) as isize;
                        let iw = q0 + (j * p.dilation[1]) as isize;
                        if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                            continue;
                        }
                        let v = xs[plane * h * w + ih as usize * w + iw as usize];
                        best = best.max(v);
                        total += v;
                        inside += 1;
                    }
                }
                if max {
                    out.push(best);
                } else {
                    let clip = |start: isize, k: usize, size: usize, pad: usize| {
                        let end = (start + k as isize).min((size + pad) as isize);
                        (end - start) as usize
                    };
                    let divisor = if p.count_include_pad {
                        clip(r0, p.kernel[0], h, p.padding[0])
                            * clip(q0, p.kernel[1], w, p.padding[1])
                    } else {
                        inside
                    };
                    out.push(total / divisor as f64);
                }
            }
        }
    }
    out
}

fn assert_close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= 1e-12 * (1.0 + e.abs()),
            "element {i}: {a} against {e}"
        );
    }
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn max_pool2d_matches_its_definition_and_its_grads_match(
        (hd, wd) in (dim(3), dim(3)),
        batch in 0..=2usize,
        channels in 1..=2usize,
        ceil in any::<bool>(),
        strided in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let p = params(hd, wd, ceil);
        let x = distinct(&[batch, channels, hd.4, wd.4], seed);
        let expected = direct_pool(&x, &p, true);
        let y = match x.try_max_pool2d(p) {
            // A dilated window can fall between the values of a padded input: an error, where
            // the definition has the maximum of nothing.
            // (a geometric error, raised for an empty batch too).
            Err(e) if e.to_string().contains("covers no value") => {
                prop_assert!(expected.contains(&f64::NEG_INFINITY) || x.numel() == 0);
                return Ok(());
            }
            y => y.unwrap(),
        };
        assert_close(&y.to_vec(), &expected);
        check_derivatives(&[x], seed, |xs| strided_view(&xs[0], strided)?.try_max_pool2d(p))?;
    }

    #[test]
    fn avg_pool2d_matches_its_definition_and_its_grads_match(
        (hd, wd) in (dim(3), dim(3)),
        batch in 0..=2usize,
        channels in 1..=2usize,
        ceil in any::<bool>(),
        count_include_pad in any::<bool>(),
        strided in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let p = Pool2dParams {
            dilation: [1, 1],
            count_include_pad,
            ..params(hd, wd, ceil)
        };
        prop_assume!(hd.4 + 2 * p.padding[0] >= p.kernel[0] && wd.4 + 2 * p.padding[1] >= p.kernel[1]);
        let x = weights(&[batch, channels, hd.4, wd.4], seed);
        let y = x.try_avg_pool2d(p).unwrap();
        assert_close(&y.to_vec(), &direct_pool(&x, &p, false));
        check_derivatives(&[x], seed, |xs| strided_view(&xs[0], strided)?.try_avg_pool2d(p))?;
    }

    #[test]
    fn adaptive_avg_pool2d_matches_its_definition_and_its_grads_match(
        h in 1..=6usize,
        w in 1..=6usize,
        oh in 1..=4usize,
        ow in 1..=4usize,
        seed in any::<u64>(),
    ) {
        let x = weights(&[2, 2, h, w], seed);
        let y = x.try_adaptive_avg_pool2d([oh, ow]).unwrap();
        let xs = x.to_vec();
        let mut expected = Vec::new();
        for plane in 0..4 {
            for r in 0..oh {
                for q in 0..ow {
                    let (r0, r1) = (r * h / oh, ((r + 1) * h).div_ceil(oh));
                    let (q0, q1) = (q * w / ow, ((q + 1) * w).div_ceil(ow));
                    let mut total = 0.0;
                    for i in r0..r1 {
                        for j in q0..q1 {
                            total += xs[plane * h * w + i * w + j];
                        }
                    }
                    expected.push(total / ((r1 - r0) * (q1 - q0)) as f64);
                }
            }
        }
        assert_close(&y.to_vec(), &expected);
        check_derivatives(&[x], seed, |xs| xs[0].try_adaptive_avg_pool2d([oh, ow]))?;
    }
}

#[test]
fn max_pool2d_ties_go_to_the_first_maximum_and_nan_wins() {
    let x = T::from_vec(
        vec![1.0, 3.0, 3.0, 0.0, 2.0, f64::NAN, 5.0, f64::NAN],
        &[1, 2, 2, 2],
    )
    .unwrap()
    .require_grad();
    let y = x.max_pool2d(Pool2dParams::new(2));
    let v = y.to_vec();
    assert_eq!(v[0], 3.0);
    assert!(v[1].is_nan());
    let grads = y.sum().backward();
    let g = grads.get(&x).unwrap().to_vec();
    // The first 3 (row-major) and the first NaN receive the gradient.
    assert_eq!(g, vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn overlapping_windows_add_their_gradients_at_a_shared_maximum() {
    let x = T::from_vec(
        vec![0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0],
        &[1, 1, 3, 3],
    )
    .unwrap()
    .require_grad();
    let y = x.max_pool2d(Pool2dParams::new(2).stride(1));
    assert_eq!(y.to_vec(), vec![9.0; 4]);
    let g = y.sum().backward().get(&x).unwrap().to_vec();
    assert_eq!(g[4], 4.0);
}

#[test]
fn bad_pools_are_errors_naming_the_settings() {
    let x = T::zeros(&[1, 2, 4, 4]);
    let message = |r: tensor::Result<T>| r.expect_err("an error").to_string();
    let m = message(x.try_max_pool2d(Pool2dParams::new(2).padding(2)));
    assert!(
        m.contains("max_pool2d") && m.contains("padding [2, 2] must be at most half"),
        "{m}"
    );
    let m = message(x.try_max_pool2d(Pool2dParams::new(5)));
    assert!(m.contains("larger than the input [1, 2, 4, 4]"), "{m}");
    let m = message(x.try_avg_pool2d(Pool2dParams::new(2).dilation(2)));
    assert!(m.contains("avg_pool2d") && m.contains("no dilation"), "{m}");
    let m = message(x.try_max_pool2d(Pool2dParams::new(0)));
    assert!(m.contains("kernel [0, 0] must be positive"), "{m}");
    let m = message(T::zeros(&[2, 4, 4]).try_max_pool2d(Pool2dParams::new(2)));
    assert!(m.contains("[batch, channels, height, width]"), "{m}");
    let m = message(x.try_adaptive_avg_pool2d(0));
    assert!(m.contains("adaptive_avg_pool2d"), "{m}");
    // A dilated window that falls entirely in the padding.
    let m = message(
        T::zeros(&[1, 1, 1, 1]).try_max_pool2d(Pool2dParams::new(2).padding(1).dilation(2)),
    );
    assert!(m.contains("covers no value"), "{m}");
}
