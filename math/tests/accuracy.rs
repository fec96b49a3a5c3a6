//! Accuracy of ln, exp and sqrt against 256-bit reference values (dashu-float), over more than
//! 100,000 deterministic pseudo-random points per function plus the edges of each domain.
//!
//! Floats appear here only to print error figures; nothing on chain uses them.
#![allow(
    clippy::float_arithmetic,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_math::{Fixed, EXP_MAX};
use dashu_float::ops::SquareRoot;
use dashu_float::FBig;
use dashu_int::IBig;

const PRECISION: usize = 256;
const RANDOM_SAMPLES: usize = 100_000;
const TOLERANCE: f64 = 1e-12;

/// splitmix64: deterministic, dependency-free sample generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn next_u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
    /// A positive raw value whose highest set bit is uniform in [low_msb, high_msb]: log-uniform.
    fn log_uniform_bits(&mut self, low_msb: u32, high_msb: u32) -> i128 {
        let msb = low_msb + (self.next() % u64::from(high_msb - low_msb + 1)) as u32;
        let mantissa = self.next_u128() >> (127 - msb);
        ((mantissa | (1u128 << msb)) & ((1u128 << (msb + 1)) - 1)) as i128
    }
    /// Uniform raw value in [low, high].
    fn uniform_bits(&mut self, low: i128, high: i128) -> i128 {
        let span = (high - low) as u128 + 1;
        low + (self.next_u128() % span) as i128
    }
}

fn big(x: Fixed) -> FBig {
    FBig::from_parts(IBig::from(x.to_bits()), -48)
        .with_precision(PRECISION)
        .value()
}

fn to_f64(x: &FBig) -> f64 {
    x.to_f64().value()
}

/// Edge inputs shared by the positive-domain functions: tiny, near 1, powers of two, the top.
fn positive_edges() -> Vec<i128> {
    let mut v = vec![1, 2, 3, i128::MAX, i128::MAX - 1];
    for k in 0..127 {
        let p = 1i128 << k;
        v.extend([p, p + 1, (p - 1).max(1)]);
    }
    let one = 1i128 << 48;
    for d in 1..=64 {
        v.extend([one + d, one - d]);
    }
    v
}

struct Worst {
    err: f64,
    at: i128,
}
impl Worst {
    fn new() -> Self {
        Worst { err: 0.0, at: 0 }
    }
    fn see(&mut self, err: f64, at: i128) {
        if err > self.err {
            self.err = err;
            self.at = at;
        }
    }
}

fn ln_max_abs_err(rng: &mut Rng) -> (f64, usize) {
    let mut inputs = positive_edges();
    inputs.extend((0..RANDOM_SAMPLES).map(|_| rng.log_uniform_bits(0, 126)));
    let mut worst = Worst::new();
    for &bits in &inputs {
        let x = Fixed::from_bits(bits);
        let ours = big(x.ln().expect("ln of a positive value"));
        let reference = big(x).ln();
        worst.see(to_f64(&(ours - reference)).abs(), bits);
    }
    println!(
        "ln:   max abs err {:.3e} at raw {} ({} points)",
        worst.err,
        worst.at,
        inputs.len()
    );
    (worst.err, inputs.len())
}

fn exp_max_rel_err(rng: &mut Rng) -> (f64, usize) {
    let low = Fixed::from_int(-6).to_bits();
    let high = EXP_MAX.to_bits();
    let ln2_bits = Fixed::from_inner(fixed::types::I80F48::LN_2).to_bits();
    let mut inputs = vec![low, low + 1, high, high - 1, 0, 1, -1];
    for k in -8i128..=78 {
        let b = k * ln2_bits;
        inputs.extend(
            [b - 1, b, b + 1]
                .into_iter()
                .filter(|v| (low..=high).contains(v)),
        );
    }
    inputs.extend((0..RANDOM_SAMPLES).map(|_| rng.uniform_bits(low, high)));
    let mut worst = Worst::new();
    for &bits in &inputs {
        let x = Fixed::from_bits(bits);
        let ours = big(x.exp().expect("exp inside its domain"));
        let reference = big(x).exp();
        worst.see(to_f64(&((ours - &reference) / &reference)).abs(), bits);
    }
    // Below -6 the promise is one ulp of absolute error.
    let mut below = Worst::new();
    let floor = Fixed::from_int(-40).to_bits();
    for _ in 0..20_000 {
        let bits = rng.uniform_bits(floor, low);
        let x = Fixed::from_bits(bits);
        let ours = big(x.exp().expect("exp of a negative value"));
        let reference = big(x).exp();
        below.see(to_f64(&(ours - reference)).abs() * 2f64.powi(48), bits);
    }
    assert!(
        below.err <= 1.0,
        "exp below -6: {} ulps at raw {}",
        below.err,
        below.at
    );
    println!(
        "exp:  max rel err {:.3e} at raw {} ({} points in [-6, EXP_MAX]); below -6 max abs err {:.3} ulp",
        worst.err,
        worst.at,
        inputs.len(),
        below.err
    );
    (worst.err, inputs.len())
}

fn sqrt_max_rel_err(rng: &mut Rng) -> (f64, usize) {
    // 1.3e-5 is about 2^-16.2: the relative guarantee starts at raw values with msb >= 32.
    let low_bits = Fixed::parse_decimal("0.000013").unwrap().to_bits();
    let mut inputs: Vec<i128> = positive_edges()
        .into_iter()
        .filter(|&b| b >= low_bits)
        .collect();
    inputs.extend(
        (0..RANDOM_SAMPLES)
            .map(|_| rng.log_uniform_bits(32, 126))
            .filter(|&b| b >= low_bits),
    );
    let mut worst = Worst::new();
    for &bits in &inputs {
        let x = Fixed::from_bits(bits);
        let ours = big(x.sqrt().expect("sqrt of a positive value"));
        let reference = big(x).sqrt();
        worst.see(to_f64(&((ours - &reference) / &reference)).abs(), bits);
    }
    let mut below = Worst::new();
    for bits in (1..2000).chain((0..20_000).map(|_| rng.uniform_bits(1, low_bits))) {
        let x = Fixed::from_bits(bits);
        let ours = big(x.sqrt().expect("sqrt of a positive value"));
        below.see(to_f64(&(ours - big(x).sqrt())).abs() * 2f64.powi(48), bits);
    }
    assert!(
        below.err <= 1.0,
        "sqrt below 1.3e-5: {} ulps at raw {}",
        below.err,
        below.at
    );
    println!(
        "sqrt: max rel err {:.3e} at raw {} ({} points >= 1.3e-5); below max abs err {:.3} ulp",
        worst.err,
        worst.at,
        inputs.len(),
        below.err
    );
    (worst.err, inputs.len())
}

#[test]
fn ln_exp_sqrt_meet_the_documented_accuracy() {
    let mut rng = Rng(0xBA11A57);
    let (ln_err, ln_n) = ln_max_abs_err(&mut rng);
    let (exp_err, exp_n) = exp_max_rel_err(&mut rng);
    let (sqrt_err, sqrt_n) = sqrt_max_rel_err(&mut rng);
    let samples = ln_n.min(exp_n).min(sqrt_n);
    println!(
        "{{\"ln_max_abs_err\":{:e},\"exp_max_rel_err\":{:e},\"sqrt_max_rel_err\":{:e},\"samples\":{}}}",
        ln_err, exp_err, sqrt_err, samples
    );
    assert!(samples >= 100_000, "too few samples: {samples}");
    assert!(ln_err <= TOLERANCE, "ln abs error {ln_err}");
    assert!(exp_err <= TOLERANCE, "exp rel error {exp_err}");
    assert!(sqrt_err <= TOLERANCE, "sqrt rel error {sqrt_err}");
}
