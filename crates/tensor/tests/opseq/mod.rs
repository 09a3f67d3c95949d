//! An interpreter of op sequences encoded in bytes, for robustness tests: the property test
//! `no_panics.rs`, the fuzz target `fuzz/fuzz_targets/op_sequence.rs`, and the replay of the
//! fuzz corpus. Every byte string is a valid program; every op is called through its `try_`
//! form on whatever the bytes pick (mismatched shapes, dims out of range, zero-size tensors,
//! NaN, infinities, signed zeros, subnormals), and the run ends with backward passes. The
//! library must answer every call with `Ok` or `Err`, never a panic.
#![allow(dead_code)]

use tensor::{
    Conv1dParams, Conv2dParams, ConvTranspose2dParams, Pool2dParams, Tensor, TensorError,
    detect_anomaly, no_grad,
};

/// Values the generator draws elements from.
const SPECIAL: [f64; 16] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -2.5,
    3.0,
    1e-310, // subnormal in f64
    1e-45,  // subnormal in f32
    1e30,
    -1e30,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MAX,
    f64::MIN_POSITIVE,
];

/// Reads bytes, yielding zeros once they run out.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn done(&self) -> bool {
        self.at >= self.data.len()
    }

    fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n.max(1)
    }

    /// A dimension index that may be out of range or negative.
    fn dim(&mut self) -> i64 {
        i64::from(self.byte() as i8 % 6)
    }

    /// A shape of rank 0 to 3 with dimensions 0 to 4 (0 now and then).
    fn shape(&mut self) -> Vec<usize> {
        let rank = self.below(4);
        (0..rank).map(|_| self.below(5)).collect()
    }

    fn value(&mut self) -> f64 {
        SPECIAL[self.below(SPECIAL.len())]
    }
}

fn fresh(bytes: &mut Bytes<'_>) -> Tensor<f64> {
    let shape = bytes.shape();
    let n: usize = shape.iter().product();
    let data = (0..n).map(|_| bytes.value()).collect();
    let t = Tensor::from_vec(data, &shape).expect("length matches shape");
    if bytes.byte().is_multiple_of(2) {
        t.require_grad()
    } else {
        t
    }
}

/// Applies the op numbered by the next byte to tensors of the pool picked by the following
/// bytes; `Ok(None)` for ops that produce no tensor.
fn step(bytes: &mut Bytes<'_>, pool: &[Tensor<f64>]) -> Result<Option<Tensor<f64>>, TensorError> {
    let op = bytes.below(59);
    let a = &pool[bytes.below(pool.len())];
    let b = &pool[bytes.below(pool.len())];
    let c = &pool[bytes.below(pool.len())];
    let dim = bytes.dim();
    let keepdim = bytes.byte().is_multiple_of(2);
    let v = bytes.value();
    let t = match op {
        0 => a.try_add(b)?,
        1 => a.try_sub(b)?,
        2 => a.try_mul(b)?,
        3 => a.try_div(b)?,
        4 => a.try_pow(b)?,
        5 => a.try_maximum(b)?,
        6 => a.try_minimum(b)?,
        7 => a.try_neg()?,
        8 => a.try_exp()?,
        9 => a.try_ln()?,
        10 => a.try_sqrt()?,
        11 => a.try_powf(v)?,
        12 => a.try_abs()?,
        13 => a.try_sigmoid()?,
        14 => a.try_tanh()?,
        15 => a.try_relu()?,
        16 => a.try_clamp(v, bytes.value())?,
        17 => a.try_sum()?,
        18 => a.try_mean()?,
        19 => a.try_sum_dim(dim, keepdim)?,
        20 => a.try_mean_dim(dim, keepdim)?,
        21 => a.try_max_dim(dim, keepdim)?,
        22 => a.try_min_dim(dim, keepdim)?,
        23 => a.try_argmax(dim, keepdim)?.to_dtype(),
        24 => a.try_softmax(dim)?,
        25 => a.try_log_softmax(dim)?,
        26 => a.try_logsumexp(dim, keepdim)?,
        27 => a.try_matmul(b)?,
        28 => a.try_linear(b, if keepdim { Some(c) } else { None })?,
        29 => a.try_reshape(&bytes.shape())?,
        30 => a.try_transpose(dim, bytes.dim())?,
        31 => a.t(),
        32 => {
            let perm: Vec<usize> = (0..bytes.below(4)).map(|_| bytes.below(4)).collect();
            a.try_permute(&perm)?
        }
        33 => a.try_broadcast_to(&bytes.shape())?,
        34 => a.try_squeeze(dim)?,
        35 => a.try_unsqueeze(dim)?,
        36 => a.try_narrow(dim, bytes.below(5), bytes.below(5))?,
        37 => {
            let len = bytes.below(5);
            a.try_index_select(dim, &index(bytes, &[len]))?
        }
        38 => {
            let len = bytes.below(5);
            a.try_index_add(dim, &index(bytes, &[len]), b)?
        }
        39 => Tensor::try_concat(&[a, b], dim)?,
        40 => Tensor::try_stack(&[a, b, c], dim)?,
        41 => a.try_gt(b)?.try_where_cond(b, c)?,
        42 => a.try_mse(b)?,
        43 => a.try_flatten()?,
        44 => a.try_square()?,
        45 => {
            // A backward pass from the middle of the program, with and without a seed.
            let _ = a.try_backward();
            let _ = a.try_backward_with(b);
            let _ = a.try_backward_create_graph();
            return Ok(None);
        }
        46 => detect_anomaly(|| a.try_sigmoid()?.try_ln())?,
        47 => a.try_erf()?,
        48 => a.try_log1p()?,
        49 => {
            let shape = bytes.shape();
            a.try_gather(dim, &index(bytes, &shape))?
        }
        50 => a.try_scatter_add(dim, &index(bytes, b.shape()), b)?,
        51 => a.try_masked_fill(&b.try_lt(c)?, bytes.value())?,
        52 => {
            let p = Conv1dParams::default()
                .stride(bytes.below(3))
                .padding(bytes.below(3))
                .dilation(bytes.below(3))
                .groups(bytes.below(3));
            a.try_conv1d(b, keepdim.then_some(c), p)?
        }
        // The programs' tensors have rank 3 at most: images get a batch dimension first.
        53 => a.try_unsqueeze(0usize)?.try_conv2d(
            &b.try_unsqueeze(0usize)?,
            keepdim.then_some(c),
            conv2d_params(bytes),
        )?,
        54 => {
            let p = ConvTranspose2dParams {
                conv: conv2d_params(bytes),
                output_padding: [bytes.below(3), bytes.below(3)],
            };
            a.try_unsqueeze(0usize)?.try_conv_transpose2d(
                &b.try_unsqueeze(0usize)?,
                keepdim.then_some(c),
                p,
            )?
        }
        55 => a
            .try_unsqueeze(0usize)?
            .try_max_pool2d(pool_params(bytes))?,
        56 => a
            .try_unsqueeze(0usize)?
            .try_avg_pool2d(pool_params(bytes))?,
        57 => a
            .try_unsqueeze(0usize)?
            .try_adaptive_avg_pool2d([bytes.below(4), bytes.below(4)])?,
        _ => no_grad(|| a.try_mul(b))?,
    };
    Ok(Some(t))
}

/// Convolution settings, now and then invalid (a zero stride, dilation or group count).
fn conv2d_params(bytes: &mut Bytes<'_>) -> Conv2dParams {
    Conv2dParams::default()
        .stride([bytes.below(3), bytes.below(3)])
        .padding([bytes.below(3), bytes.below(3)])
        .dilation([bytes.below(3), bytes.below(3)])
        .groups(bytes.below(3))
}

/// Pooling settings, now and then invalid.
fn pool_params(bytes: &mut Bytes<'_>) -> Pool2dParams {
    Pool2dParams::new([bytes.below(4), bytes.below(4)])
        .stride([bytes.below(3), bytes.below(3)])
        .padding([bytes.below(2), bytes.below(2)])
        .dilation([1 + bytes.below(2), 1])
        .ceil_mode(bytes.byte().is_multiple_of(2))
        .count_include_pad(bytes.byte().is_multiple_of(2))
}

/// An index tensor of `shape` with entries in `-1..6`: mostly in range for the small shapes
/// the programs make, sometimes not.
fn index(bytes: &mut Bytes<'_>, shape: &[usize]) -> Tensor<i64> {
    let count = shape.iter().product();
    let entries = (0..count).map(|_| bytes.below(7) as i64 - 1).collect();
    Tensor::from_vec(entries, shape).expect("entries for every element")
}

/// Runs the program in `data`. Returns how many ops succeeded and failed, to let tests check
/// that both happen.
pub fn run(data: &[u8]) -> (usize, usize) {
    let mut bytes = Bytes { data, at: 0 };
    let mut pool: Vec<Tensor<f64>> = (0..3).map(|_| fresh(&mut bytes)).collect();
    let (mut ok, mut err) = (0, 0);
    for _ in 0..64 {
        if bytes.done() {
            break;
        }
        if bytes.byte().is_multiple_of(8) {
            pool.push(fresh(&mut bytes));
            continue;
        }
        match step(&mut bytes, &pool) {
            Ok(Some(t)) => {
                ok += 1;
                pool.push(t);
            }
            Ok(None) => ok += 1,
            Err(_) => err += 1,
        }
        // Keep the pool small so programs stay cheap.
        if pool.len() > 12 {
            pool.remove(3);
        }
    }
    // End with backward passes from every tensor left, through a sum.
    for t in &pool {
        if let Ok(total) = t.try_sum() {
            let _ = total.try_backward();
            // Second order: differentiate every gradient once more.
            if let Ok(grads) = total.try_backward_create_graph() {
                for (_, grad) in grads.iter() {
                    let _ = grad.try_sum().and_then(|s| s.try_backward());
                }
            }
        }
        let _ = t.to_string();
    }
    (ok, err)
}
