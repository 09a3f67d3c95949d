//! Convolutions: against a direct evaluation of their definition, and their first and
//! second derivatives against central finite differences, over random shapes, strides,
//! paddings, dilations and groups (1×1 kernels, kernels as large as the padded input, empty
//! batches and non-contiguous inputs among them).

use proptest::prelude::*;
use tensor::testing::{check_derivatives, strided_view, weights};
use tensor::{Conv1dParams, Conv2dParams, ConvTranspose2dParams, Tensor};

type T = Tensor<f64>;

/// One convolution's sizes and settings.
#[derive(Clone, Debug)]
struct Case {
    batch: usize,
    groups: usize,
    in_per_group: usize,
    out_per_group: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    input: [usize; 2],
}

impl Case {
    fn params(&self) -> Conv2dParams {
        Conv2dParams::default()
            .stride(self.stride)
            .padding(self.padding)
            .dilation(self.dilation)
            .groups(self.groups)
    }

    fn input_shape(&self) -> Vec<usize> {
        vec![
            self.batch,
            self.groups * self.in_per_group,
            self.input[0],
            self.input[1],
        ]
    }

    fn weight_shape(&self) -> Vec<usize> {
        vec![
            self.groups * self.out_per_group,
            self.in_per_group,
            self.kernel[0],
            self.kernel[1],
        ]
    }
}

/// Sizes up to `max_kernel` taps, `max_extra` positions beyond the smallest input the kernel
/// fits (so the kernel is often as large as the padded input).
fn case(max_kernel: usize, max_extra: usize) -> impl Strategy<Value = Case> {
    let dim = move || {
        (
            1..=max_kernel,
            1..=3usize,
            0..=2usize,
            1..=2usize,
            0..=max_extra,
        )
            .prop_map(|(k, s, p, d, extra)| {
                let span = d * (k - 1) + 1;
                let p = p.min(span / 2 + 1);
                let size = (span + extra).saturating_sub(2 * p).max(1);
                (k, s, p, d, size)
            })
    };
    (0..=2usize, 1..=2usize, 1..=2usize, 1..=2usize, dim(), dim()).prop_map(
        |(batch, groups, in_per_group, out_per_group, h, w)| Case {
            batch,
            groups,
            in_per_group,
            out_per_group,
            kernel: [h.0, w.0],
            stride: [h.1, w.1],
            padding: [h.2, w.2],
            dilation: [h.3, w.3],
            input: [h.4, w.4],
        },
    )
}

/// The convolution evaluated from its definition, one output value at a time.
fn direct_conv2d(x: &T, w: &T, bias: Option<&T>, c: &Case) -> Vec<f64> {
    let (xs, ws) = (x.to_vec(), w.to_vec());
    let [n, ci, h, wd] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let [co, cg, kh, kw] = [w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]];
    let og = co / c.groups;
    let out = |size: usize, i: usize| {
        (size + 2 * c.padding[i] - c.dilation[i] * (c.kernel[i] - 1) - 1) / c.stride[i] + 1
    };
    let (oh, ow) = (out(h, 0), out(wd, 1));
    let b = bias.map(Tensor::to_vec);
    let mut y = Vec::new();
    for s in 0..n {
        for o in 0..co {
            let group = o / og;
            for r in 0..oh {
                for q in 0..ow {
                    let mut total = b.as_ref().map_or(0.0, |b| b[o]);
                    for cc in 0..cg {
                        let channel = group * cg + cc;
                        for i in 0..kh {
                            for j in 0..kw {
                                let ih = (r * c.stride[0] + i * c.dilation[0]) as isize
                                    - c.padding[0] as isize;
                                let iw = (q * c.stride[1] + j * c.dilation[1]) as isize
                                    - c.padding[1] as isize;
                                if ih < 0 || iw < 0 || ih >= h as isize || iw >= wd as isize {
                                    continue;
                                }
                                let xv =
                                    xs[((s * ci + channel) * h + ih as usize) * wd + iw as usize];
                                total += xv * ws[((o * cg + cc) * kh + i) * kw + j];
                            }
                        }
                    }
                    y.push(total);
                }
            }
        }
    }
    y
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
    ProptestConfig::with_cases(48)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn conv2d_matches_the_direct_definition(c in case(4, 6), seed in any::<u64>(), with_bias in any::<bool>()) {
        let x = weights(&c.input_shape(), seed);
        let w = weights(&c.weight_shape(), seed ^ 1);
        let b = weights(&[c.groups * c.out_per_group], seed ^ 2);
        let bias = with_bias.then_some(&b);
        let y = x.try_conv2d(&w, bias, c.params()).unwrap();
        assert_close(&y.to_vec(), &direct_conv2d(&x, &w, bias, &c));
    }

    #[test]
    fn conv2d_grads_match_finite_difference(
        c in case(3, 3),
        strided in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let x = weights(&c.input_shape(), seed);
        let w = weights(&c.weight_shape(), seed ^ 1);
        let b = weights(&[c.groups * c.out_per_group], seed ^ 2);
        let p = c.params();
        check_derivatives(&[x, w, b], seed, |xs| {
            strided_view(&xs[0], strided)?.try_conv2d(&xs[1], Some(&xs[2]), p)
        })?;
    }

    #[test]
    fn conv_transpose2d_is_the_adjoint_of_conv2d(c in case(4, 5), seed in any::<u64>()) {
        // ⟨conv(x, W), y⟩ = ⟨x, conv_transpose(y, W)⟩ whenever conv_transpose maps y back to
        // x's shape (output padding = what the stride left over).
        let x = weights(&c.input_shape(), seed);
        let w = weights(&c.weight_shape(), seed ^ 1);
        let p = c.params();
        let y_of_x = x.try_conv2d(&w, None, p).unwrap();
        let y = weights(y_of_x.shape(), seed ^ 3);
        let extra = |i: usize| {
            let out = y_of_x.shape()[2 + i];
            c.input[i] + 2 * c.padding[i] - c.dilation[i] * (c.kernel[i] - 1) - 1 - (out - 1) * c.stride[i]
        };
        let tp = ConvTranspose2dParams { conv: p, output_padding: [extra(0), extra(1)] };
        let back = y.try_conv_transpose2d(&w, None, tp).unwrap();
        prop_assert_eq!(back.shape(), x.shape());
        let lhs = (&y_of_x * &y).sum().item();
        let rhs = (&x * &back).sum().item();
        prop_assert!((lhs - rhs).abs() <= 1e-11 * (1.0 + lhs.abs()), "{} against {}", lhs, rhs);
    }

    #[test]
    fn conv_transpose2d_grads_match_finite_difference(
        c in case(3, 3),
        strided in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let x = weights(&c.input_shape(), seed);
        // A transposed convolution's weight is [c_in, c_out / groups, kh, kw].
        let w = weights(
            &[c.groups * c.in_per_group, c.out_per_group, c.kernel[0], c.kernel[1]],
            seed ^ 1,
        );
        let b = weights(&[c.groups * c.out_per_group], seed ^ 2);
        let p = ConvTranspose2dParams {
            conv: c.params(),
            output_padding: [c.stride[0] - 1, 0],
        };
        // Padding can remove the whole output, which is an error (tested below).
        let out = |i: usize| {
            ((c.input[i] - 1) * c.stride[i] + c.dilation[i] * (c.kernel[i] - 1) + p.output_padding[i] + 1)
                .saturating_sub(2 * c.padding[i])
        };
        prop_assume!(out(0) > 0 && out(1) > 0);
        check_derivatives(&[x, w, b], seed, |xs| {
            strided_view(&xs[0], strided)?.try_conv_transpose2d(&xs[1], Some(&xs[2]), p)
        })?;
    }

    #[test]
    fn conv1d_matches_conv2d_over_one_row_and_its_grads_match(
        c in case(3, 3),
        seed in any::<u64>(),
    ) {
        let x = weights(&[c.batch, c.groups * c.in_per_group, c.input[1]], seed);
        let w = weights(&[c.groups * c.out_per_group, c.in_per_group, c.kernel[1]], seed ^ 1);
        let b = weights(&[c.groups * c.out_per_group], seed ^ 2);
        let p = Conv1dParams::default()
            .stride(c.stride[1])
            .padding(c.padding[1])
            .dilation(c.dilation[1])
            .groups(c.groups);
        let y = x.try_conv1d(&w, Some(&b), p).unwrap();
        let p2 = Conv2dParams::default()
            .stride([1, c.stride[1]])
            .padding([0, c.padding[1]])
            .dilation([1, c.dilation[1]])
            .groups(c.groups);
        let y2 = x.unsqueeze(2).conv2d(&w.unsqueeze(2), Some(&b), p2).squeeze(2);
        prop_assert_eq!(y.to_vec(), y2.to_vec());
        check_derivatives(&[x, w, b], seed, |xs| xs[0].try_conv1d(&xs[1], Some(&xs[2]), p))?;
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // Large enough to be split over threads: several tiles per sample, several samples per
    // partial weight gradient.
    let x = weights(&[20, 96, 16, 16], 1)
        .to_dtype::<f32>()
        .require_grad();
    let w = weights(&[8, 48, 3, 3], 2).to_dtype::<f32>().require_grad();
    let p = Conv2dParams::default().padding(1).groups(2);
    let run = |threads: usize| {
        tensor::with_num_threads(threads, || {
            let y = x.conv2d(&w, None, p);
            let grads = (&y * &y).sum().backward();
            (
                y.to_vec(),
                grads.get(&x).unwrap().to_vec(),
                grads.get(&w).unwrap().to_vec(),
            )
        })
    };
    let one = run(1);
    for threads in [2, 4] {
        let many = run(threads);
        assert!(one == many, "{threads} threads changed a bit");
    }
}

#[test]
fn products_over_many_tiles_match_their_definitions() {
    // A depth of 64 · 3 · 3 puts 64 positions in a tile: 7 tiles per sample, the last one
    // short. Each derivative is checked through linearity: ⟨dW, V⟩ = ⟨conv(x, V), gy⟩ and
    // ⟨dx, U⟩ = ⟨conv(U, W), gy⟩ for the gradient dW, dx of ⟨conv(x, W), gy⟩.
    for (stride, dilation) in [([1, 1], [1, 1]), ([1, 2], [2, 1])] {
        let c = Case {
            batch: 2,
            groups: 1,
            in_per_group: 64,
            out_per_group: 5,
            kernel: [3, 3],
            stride,
            padding: [1, 1],
            dilation,
            input: [20, 20],
        };
        let x = weights(&c.input_shape(), 1).require_grad();
        let w = weights(&c.weight_shape(), 2).require_grad();
        let y = x.conv2d(&w, None, c.params());
        assert_close(&y.to_vec(), &direct_conv2d(&x, &w, None, &c));
        let gy = weights(y.shape(), 3);
        let grads = (&y * &gy).sum().backward();
        let (u, v) = (weights(x.shape(), 4), weights(w.shape(), 5));
        let inner = |a: &T, b: &T| (a * b).sum().item();
        let by_linearity = |z: &T| inner(z, &gy);
        let dw = inner(grads.get(&w).unwrap(), &v);
        let dx = inner(grads.get(&x).unwrap(), &u);
        let expected_dw = by_linearity(&x.detach().conv2d(&v, None, c.params()));
        let expected_dx = by_linearity(&u.conv2d(&w.detach(), None, c.params()));
        assert_close(&[dw, dx], &[expected_dw, expected_dx]);
    }
}

#[test]
fn bad_convolutions_are_errors_naming_the_shapes() {
    let x = T::zeros(&[2, 4, 5, 5]);
    let message = |r: tensor::Result<T>| r.expect_err("an error").to_string();
    let m = message(x.try_conv2d(&T::zeros(&[3, 3, 2, 2]), None, Conv2dParams::default()));
    assert!(
        m.contains("conv2d") && m.contains("[3, 3, 2, 2]") && m.contains("[2, 4, 5, 5]"),
        "{m}"
    );
    let m = message(x.try_conv2d(&T::zeros(&[3, 4, 6, 6]), None, Conv2dParams::default()));
    assert!(m.contains("larger than the input"), "{m}");
    let m = message(x.try_conv2d(
        &T::zeros(&[3, 2, 2, 2]),
        None,
        Conv2dParams::default().groups(2),
    ));
    assert!(m.contains("groups 2"), "{m}");
    let m = message(x.try_conv2d(
        &T::zeros(&[3, 4, 2, 2]),
        Some(&T::zeros(&[4])),
        Conv2dParams::default(),
    ));
    assert!(m.contains("bias must be [3]"), "{m}");
    let m = message(x.try_conv2d(
        &T::zeros(&[3, 4, 2, 2]),
        None,
        Conv2dParams::default().stride(0),
    ));
    assert!(m.contains("stride"), "{m}");
    let m = message(T::zeros(&[2, 4, 5]).try_conv2d(
        &T::zeros(&[3, 4, 2, 2]),
        None,
        Conv2dParams::default(),
    ));
    assert!(
        m.contains("input must be [batch, channels, height, width]"),
        "{m}"
    );
    let m = message(T::zeros(&[2, 4, 5]).try_conv1d(
        &T::zeros(&[3, 4, 7]),
        None,
        Conv1dParams::default(),
    ));
    assert!(
        m.contains("conv1d") && m.contains("[7]") && m.contains("[2, 4, 5]"),
        "{m}"
    );
    let m = message(x.try_conv_transpose2d(
        &T::zeros(&[4, 2, 3, 3]),
        None,
        ConvTranspose2dParams::default().stride(2).output_padding(2),
    ));
    assert!(
        m.contains("output padding [2, 2] must be less than the stride [2, 2]"),
        "{m}"
    );
    let m = message(x.try_conv_transpose2d(
        &T::zeros(&[3, 2, 3, 3]),
        None,
        ConvTranspose2dParams::default(),
    ));
    assert!(
        m.contains("conv_transpose2d") && m.contains("[3, 2, 3, 3]"),
        "{m}"
    );
}
