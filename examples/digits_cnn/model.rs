//! The two models: a small CNN and the MLP it is measured against.

use rand::rngs::StdRng;
use surefire::nn::{Activation, BatchNorm2d, Conv2d, Dense, Flatten, MaxPool2d, Mlp, Sequential};
use surefire::tensor::{Conv2dParams, Pool2dParams};

/// conv 3×3 1→16, batch norm, ReLU, max-pool 2 (8×8 → 4×4); conv 3×3 16→32, ReLU, max-pool 2
/// (→ 2×2); flatten 128 → dense 10 (logits).
pub fn cnn(rng: &mut StdRng) -> Sequential {
    let same = Conv2dParams::default().padding(1);
    Sequential::new()
        .push(Conv2d::new(1, 16, 3, same, rng))
        .push(BatchNorm2d::new(16))
        .push(Activation::Relu)
        .push(MaxPool2d::new(Pool2dParams::new(2)))
        .push(Conv2d::new(16, 32, 3, same, rng))
        .push(Activation::Relu)
        .push(MaxPool2d::new(Pool2dParams::new(2)))
        .push(Flatten::new())
        .push(Dense::new(128, 10, Activation::Identity, rng))
}

/// 64 pixels → 64 ReLU → 10 (logits), on the flattened image.
pub fn mlp(rng: &mut StdRng) -> Sequential {
    Sequential::new()
        .push(Flatten::new())
        .push(Mlp::with_output_activation(
            &[64, 64, 10],
            Activation::Relu,
            Activation::Identity,
            rng,
        ))
}

/// The architecture in one line, for the report.
pub const CNN: &str = "conv 3×3 1→16, batch norm, ReLU, max-pool 2, conv 3×3 16→32, ReLU, \
                       max-pool 2, dense 128→10";
pub const MLP: &str = "dense 64→64, ReLU, dense 64→10";
