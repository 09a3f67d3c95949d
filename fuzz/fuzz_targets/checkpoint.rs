//! Fuzzes the checkpoint loader: any byte string is rejected with an error or loaded, never a
//! panic or a huge allocation.
#![no_main]

use nn::{Activation, Mlp};
use rand::SeedableRng;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let model = Mlp::<f32>::new(&[3, 4, 2], Activation::Sigmoid, &mut rng);
    let _ = nn::load_from_bytes(&model, data);
    let wide = Mlp::<f64>::new(&[3, 4, 2], Activation::Sigmoid, &mut rng);
    let _ = nn::load_from_bytes(&wide, data);
});
