//! Property tests of the oracle adapter, 10,000 cases each.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    clippy::unwrap_used
)]

use ballast_math::{Fixed, Rounding};
use ballast_oracle::{FeedState, OracleConfig, Report, VolState, MAX_PRICE, MIN_PRICE};
use parity_scale_codec::Encode;
use proptest::prelude::*;

/// 2022-11-08 00:00:00 UTC.
const T0: u64 = 1_667_865_600_000;
const HOUR: u64 = 3_600_000;

fn to_f64(value: Fixed) -> f64 {
    value.to_bits() as f64 / (1u64 << 48) as f64
}

/// Any accepted price, log-uniform over [MIN_PRICE, MAX_PRICE) (2^-24 to 2^50).
fn any_price() -> impl Strategy<Value = Fixed> {
    (24u32..98, any::<u128>()).prop_map(|(shift, noise)| {
        let low = 1i128 << shift;
        let bits = low + (noise % (low as u128)) as i128;
        let price = Fixed::from_bits(bits);
        assert!(price >= MIN_PRICE && price <= MAX_PRICE);
        price
    })
}

fn report(price: Fixed, timestamp_ms: u64) -> Report {
    Report {
        price,
        confidence: Fixed::ZERO,
        timestamp_ms,
    }
}

/// A permutation of `0..n` from random sort keys.
fn permutation(keys: &[u64], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (keys[i], i));
    order
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// (a) One report, of any price from any feeder, moves the dampened price by at most
    /// `damping_rate_per_sec * elapsed` relative to its value before (elapsed counted up to
    /// the per-refresh clamp), plus rounding, from any state a short random history reaches.
    #[test]
    fn one_report_moves_the_dampened_price_at_most_rate_times_elapsed(
        start_offset in 0u64..HOUR,
        first_price in any_price(),
        min_reports in 1u8..=3,
        rate_bits in (1i128 << 26)..(1i128 << 42),
        history in prop::collection::vec((0u8..8, any_price(), 0u64..(2 * HOUR)), 0..8),
        slot in 0u8..8,
        price in any_price(),
        elapsed in prop_oneof![0u64..120_000, 0u64..(3 * HOUR)],
    ) {
        // Rates from 2.4e-7 to 0.0156 per second.
        let cfg = OracleConfig {
            min_reports,
            damping_rate_per_sec: Fixed::from_bits(rate_bits),
            ..OracleConfig::default()
        };
        let mut state = FeedState::default();
        let mut now = T0 + start_offset;
        for feeder in 0..3 {
            state.submit(&cfg, feeder, report(first_price, now), now).unwrap();
        }
        for (feeder, price, step) in history {
            now += step;
            state.submit(&cfg, feeder, report(price, now), now).unwrap();
        }
        let before = state.price.unwrap().dampening.price;
        now += elapsed;
        state.submit(&cfg, slot, report(price, now), now).unwrap();
        let after = state.price.unwrap().dampening.price;

        let moving_s = elapsed.min(cfg.max_damping_step_ms) as f64 / 1000.0;
        let allowed = to_f64(before) * to_f64(cfg.damping_rate_per_sec) * moving_s;
        let moved = (to_f64(after) - to_f64(before)).abs();
        // Rounding: a few ulps of the price and f64's own 1e-15 relative.
        let slack = 4.0 * to_f64(Fixed::DELTA) + 1e-12 * allowed + 1e-15 * to_f64(before);
        prop_assert!(
            moved <= allowed + slack,
            "moved {} > allowed {} (before {}, after {})", moved, allowed, before, after
        );
    }

    /// (b) With N feeders (3..=8) of which fewer than half lie arbitrarily, the aggregate lies
    /// within [min honest, max honest], whatever the order of the reports.
    #[test]
    fn a_minority_of_liars_cannot_move_the_median_outside_the_honest_range(
        feeders in 3usize..=8,
        liars_wanted in 0usize..4,
        base in any_price(),
        honest_moves in prop::collection::vec(-1000i128..=1000, 8),
        lies in prop::collection::vec(any_price(), 8),
        roles in prop::collection::vec(any::<u64>(), 8),
        order in prop::collection::vec(any::<u64>(), 8),
    ) {
        let liars = liars_wanted.min((feeders - 1) / 2);
        let cfg = OracleConfig::default();
        // Which feeders lie: the first `liars` of a random permutation.
        let role_order = permutation(&roles, feeders);
        let mut prices = vec![Fixed::ZERO; feeders];
        let mut honest = Vec::new();
        for (rank, &feeder) in role_order.iter().enumerate() {
            prices[feeder] = if rank < liars {
                lies[feeder]
            } else {
                // Honest feeders within +-10 % of the base price.
                let delta = base.checked_mul(Fixed::from_ratio(honest_moves[feeder], 10_000).unwrap()).unwrap();
                let price = base.checked_add(delta).unwrap().clamp(MIN_PRICE, MAX_PRICE).unwrap();
                honest.push(price);
                price
            };
        }
        let mut state = FeedState::default();
        for feeder in permutation(&order, feeders) {
            state.submit(&cfg, feeder as u8, report(prices[feeder], T0), T0).unwrap();
        }
        let aggregate = state.price.unwrap().aggregate.price;
        let low = *honest.iter().min().unwrap();
        let high = *honest.iter().max().unwrap();
        prop_assert!(low <= aggregate && aggregate <= high, "{} not in [{}, {}]", aggregate, low, high);
    }

    /// (c) With a constant price the volatility estimate decays to zero: strictly decreasing
    /// while positive, whatever the gaps between samples, and below 1e-5 annualized once
    /// lambda^intervals has shrunk the prior below 1e-12.
    #[test]
    fn volatility_of_a_constant_price_decays_to_zero(
        price in any_price(),
        lambda_bits in (1i128 << 47)..((1i128 << 48) - (1i128 << 39)),
        initial_vol_bits in 1i128..(5i128 << 48),
        gaps in prop::collection::vec(1u64..64, 64),
    ) {
        // lambda in [0.5, 0.998]; initial annualized vol up to 500 %.
        let cfg = OracleConfig {
            ewma_lambda: Fixed::from_bits(lambda_bits),
            initial_annualized_vol: Fixed::from_bits(initial_vol_bits),
            ..OracleConfig::default()
        };
        let mut vol = VolState::starting_at(&cfg, price, T0).unwrap();
        let initial_variance = to_f64(vol.annualized_variance);
        let lambda = to_f64(cfg.ewma_lambda);
        let needed = ((1e-12 / initial_variance.max(1e-300)).ln() / lambda.ln()).max(0.0);
        let mut interval = vol.last_interval;
        let mut total = 0u64;
        let mut step = 0usize;
        while (total as f64) < needed {
            let gap = gaps[step % gaps.len()];
            step += 1;
            let previous = vol.annualized_variance;
            interval += gap;
            total += gap;
            vol.sample(&cfg, price, interval).unwrap();
            if previous.is_positive() {
                prop_assert!(vol.annualized_variance < previous);
            } else {
                prop_assert_eq!(vol.annualized_variance, Fixed::ZERO);
            }
        }
        prop_assert!(to_f64(vol.annualized_vol().unwrap()) < 1e-5);
        prop_assert_eq!(u64::from(vol.observations), total);
    }

    /// (d) The same set of reports in the same block, applied in any order, gives an identical
    /// encoded state: for a new market and for one with history, including reports that are
    /// refused (too old, replays, too uncertain).
    #[test]
    fn same_block_reports_commute(
        established in any::<bool>(),
        history_prices in prop::collection::vec(any_price(), 8),
        history_spacing in prop::collection::vec(0u64..90_000, 8),
        gap in 0u64..(2 * HOUR),
        count in 1usize..=8,
        slots in prop::collection::vec(any::<u64>(), 8),
        prices in prop::collection::vec(any_price(), 8),
        ages in prop::collection::vec(0u64..70_000, 8),
        confidences in prop::collection::vec(0i128..300, 8),
        order_a in prop::collection::vec(any::<u64>(), 8),
        order_b in prop::collection::vec(any::<u64>(), 8),
    ) {
        let cfg = OracleConfig::default();
        let mut base = FeedState::default();
        let mut now = T0;
        if established {
            for (feeder, (&price, &spacing)) in history_prices.iter().zip(&history_spacing).enumerate() {
                now += spacing;
                base.submit(&cfg, feeder as u8, report(price, now), now).unwrap();
            }
        }
        now += gap;
        // `count` distinct feeders (one report each in the block).
        let chosen: Vec<usize> = permutation(&slots, 8).into_iter().take(count).collect();
        let block: Vec<(u8, Report)> = chosen
            .iter()
            .map(|&feeder| {
                let price = prices[feeder];
                // Confidence 0 to 3 % of the price: some are refused as too uncertain.
                let confidence = price
                    .mul_div(Fixed::from_int(confidences[feeder] as i64), Fixed::from_int(10_000), Rounding::Floor)
                    .unwrap();
                let timestamp_ms = now.saturating_sub(ages[feeder]);
                (feeder as u8, Report { price, confidence, timestamp_ms })
            })
            .collect();
        let apply = |order: &[u64]| {
            let mut state = base.clone();
            let results: Vec<_> = permutation(order, count)
                .into_iter()
                .map(|i| (i, state.submit(&cfg, block[i].0, block[i].1, now).is_ok()))
                .collect();
            let mut accepted: Vec<_> = results.into_iter().filter(|r| r.1).map(|r| r.0).collect();
            accepted.sort_unstable();
            (state.encode(), accepted)
        };
        let (state_a, accepted_a) = apply(&order_a);
        let (state_b, accepted_b) = apply(&order_b);
        prop_assert_eq!(accepted_a, accepted_b);
        prop_assert_eq!(state_a, state_b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// (e) A minority of the feeders (any number below half, acting together) stamping their
    /// reports anywhere inside the freshness bound, at any time, never makes the price stale
    /// while the others report on time: the aggregate's age is the honest majority's, however
    /// long the run, whatever the gaps between rounds (honest feeders report every round).
    #[test]
    fn a_minority_stamping_old_reports_cannot_make_the_price_stale(
        feeders in 3usize..=8,
        rounds in prop::collection::vec(
            (0u64..30_000, prop::collection::vec(0u64..=60_000, 8), 1u64..30_000),
            1..24,
        ),
        price in any_price(),
    ) {
        let cfg = OracleConfig::default();
        let liars = (feeders - 1) / 2;
        let mut state = FeedState::default();
        let mut now = T0;
        for (gap, lag, check_after) in rounds {
            now += gap;
            for (feeder, lag) in lag.iter().enumerate().take(feeders) {
                let stamp = if feeder < liars {
                    now.saturating_sub((*lag).min(cfg.max_report_age_ms))
                } else {
                    now
                };
                // A liar's report older than its last is refused and changes nothing.
                let _ = state.submit(&cfg, feeder as u8, report(price, stamp), now);
            }
            // Checked later, while every honest report is still fresh for opening.
            let at = now + check_after.min(cfg.max_report_age_ms);
            let validity = state.validity(&cfg, at);
            prop_assert!(
                validity.allows(ballast_oracle::PriceUse::Opening),
                "{:?} at {} ms after honest reports", validity, at - now
            );
        }
    }
}
