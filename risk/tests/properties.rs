//! Property tests of the risk core (10,000 cases each, release build in scripts/test.sh):
//! conservation, error atomicity, liquidation safety, the margin rule of fills, breaker rules,
//! ramp bounds, max-position exactness, reduce-only.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;
use common::*;

use ballast_math::Fixed;
use ballast_risk::breaker::BreakerState;
use ballast_risk::ramp::ramp_toward;
use ballast_risk::sequence::{self, Harness, Op};
use ballast_risk::{max_position, Fill, MarketState, RiskError};
use proptest::prelude::*;

const CASES: u32 = 10_000;
const FEES: u32 = 9;

fn op() -> impl Strategy<Value = Op> {
    let account = 0u32..5;
    prop_oneof![
        2 => (account.clone(), 1i128..5_000 * USD).prop_map(|(a, x)| Op::Deposit(a, x)),
        1 => (account.clone(), 1i128..5_000 * USD).prop_map(|(a, x)| Op::Withdraw(a, x)),
        4 => (account.clone(), account.clone(), -2 * ONE_BTC..2 * ONE_BTC, -150i64..150, 0i128..5 * USD)
            .prop_map(|(taker, maker, size, offset_bps, fee)| Op::Trade { taker, maker, size, offset_bps, fee }),
        4 => (0u32..4, any::<bool>(), 50i128..=100).prop_map(|(taker, buy, pct)| Op::Leveraged { taker, buy, pct }),
        3 => (-2500i64..1500).prop_map(|bps| Op::Move { bps }),
        1 => (-30i64..30).prop_map(|bps| Op::Funding { bps }),
        6 => (0u32..4, 4u32..6).prop_map(|(who, by)| Op::Liquidate { who, by }),
        1 => (0i128..5_000_000).prop_map(|usd| Op::Depth { usd }),
        1 => (0u32..4, -2_000_000i128..100_000, -20_000i128..20_000)
            .prop_map(|(who, gamma_usd, vega_usd)| Op::Options { who, gamma_usd, vega_usd }),
    ]
}

fn bps_of(price: Fixed, bps: i64) -> Fixed {
    sequence::bps_of(price, bps).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    /// Value is conserved to the unit, sizes sum to zero, open interest is the long side, and a
    /// failed operation changes nothing, across any sequence of deposits, withdrawals, fills,
    /// price moves, funding and liquidations (with bankruptcies).
    #[test]
    fn value_is_conserved_and_failures_change_nothing(ops in prop::collection::vec(op(), 1..60)) {
        let mut h = Harness::new();
        for op in &ops {
            if let Err(violation) = h.apply(op) {
                prop_assert!(false, "{}", violation);
            }
        }
    }

    /// The breaker changes state only by its rules, over any sequence of prices (valid or not),
    /// clock steps, guardian pauses and owner resumes: Normal trips to ReduceOnly only on a
    /// velocity move above `trip_move`; ReduceOnly resumes only after the cooldown and below
    /// `calm_move`; an invalid price means OracleHalt; nothing but `resume` leaves Paused, and
    /// `resume` does nothing elsewhere.
    #[test]
    fn breaker_states_change_only_by_their_rules(
        events in prop::collection::vec(
            prop_oneof![
                8 => (0u64..2 * HOUR, -1500i64..1500).prop_map(|(dt, bps)| (0u8, dt, bps)),
                1 => (0u64..HOUR).prop_map(|dt| (1u8, dt, 0)),
                1 => (0u64..HOUR).prop_map(|dt| (2u8, dt, 0)),
                1 => (0u64..HOUR).prop_map(|dt| (3u8, dt, 0)),
            ],
            1..80,
        )
    ) {
        let params = config().breaker;
        let mut b = ballast_risk::Breaker::default();
        let mut now = 0u64;
        let mut price = Fixed::from_int(20_000);
        for (kind, dt, bps) in events {
            now += dt;
            let before = b;
            let transition = match kind {
                0 => {
                    price = bps_of(price, bps);
                    b.update(&params, Some(price), now).unwrap()
                }
                1 => b.update(&params, None, now).unwrap(),
                2 => b.pause(now),
                _ => b.resume(now),
            };
            let after = b.state;
            // A transition is reported exactly when the state changes, stamped now.
            prop_assert_eq!(transition.is_some(), after != before.state);
            if let Some(t) = transition {
                prop_assert_eq!((t.from, t.to, t.at_ms, b.since_ms), (before.state, after, now, now));
            }
            use BreakerState::*;
            match (kind, before.state, after) {
                (_, Paused, Paused) => {}
                (3, Paused, Normal) => {}
                (_, Paused, to) => prop_assert!(false, "left Paused for {:?} by event {}", to, kind),
                (2, _, to) => prop_assert_eq!(to, Paused),
                (3, from, to) => prop_assert_eq!(from, to, "resume outside Paused changed the state"),
                (1, _, to) => prop_assert_eq!(to, OracleHalt),
                (0, _, Paused) => prop_assert!(false, "a price paused the market"),
                (0, Normal, ReduceOnly) => {
                    prop_assert!(transition.unwrap().move_fraction > params.trip_move);
                }
                (0, Normal, to) => prop_assert_eq!(to, Normal),
                (0, ReduceOnly, Normal) => {
                    prop_assert!(now - before.since_ms >= params.cooldown_ms);
                    prop_assert!(transition.unwrap().move_fraction < params.calm_move);
                }
                (0, ReduceOnly, to) => prop_assert_eq!(to, ReduceOnly),
                (0, OracleHalt, ReduceOnly) => {
                    prop_assert!(transition.unwrap().move_fraction > params.trip_move);
                }
                (0, OracleHalt, to) => prop_assert_eq!(to, Normal),
                (kind, from, to) => prop_assert!(false, "unexpected {:?} -> {:?} on {}", from, to, kind),
            }
        }
    }

    /// Applied volatility terms never move faster than their ramp rates.
    #[test]
    fn ramps_bound_every_change(steps in prop::collection::vec((0u64..4 * HOUR, 0i64..400), 1..30)) {
        let cfg = config();
        let mut s = MarketState::new(0);
        let mut now = 0;
        for (dt, vol_pct) in steps {
            let old = s.applied;
            now += dt;
            s.update_volatility(&cfg, Fixed::from_ratio(i128::from(vol_pct), 100).unwrap(), now).unwrap();
            let hours = Fixed::from_ratio(i128::from(dt), i128::from(HOUR)).unwrap();
            let max_i = cfg.ramps.initial_per_hour.checked_mul(hours).unwrap();
            let max_m = cfg.ramps.maintenance_per_hour.checked_mul(hours).unwrap();
            // The test's own bound rounds twice; allow it two ulps.
            let slack = Fixed::from_bits(2);
            prop_assert!(s.applied.initial.checked_sub(old.initial).unwrap().checked_abs().unwrap() <= max_i.checked_add(slack).unwrap());
            prop_assert!(s.applied.maintenance.checked_sub(old.maintenance).unwrap().checked_abs().unwrap() <= max_m.checked_add(slack).unwrap());
            // Never overshoots the target.
            prop_assert!((s.applied.initial >= old.initial.min(s.target.initial)) && (s.applied.initial <= old.initial.max(s.target.initial)));
        }
    }

    /// The max-position answer passes the fill check and one unit more fails it.
    #[test]
    fn max_position_is_exact(
        collateral in 100i128..100_000,
        existing in -3 * ONE_BTC..3 * ONE_BTC,
        buy in any::<bool>(),
        offset_bps in -150i64..150,
        vol_pct in 0i64..300,
        fee_bps in 0i64..20,
    ) {
        let mut l = ledger(20_000);
        l.deposit(4, 100_000_000 * USD).unwrap();
        l.deposit(1, collateral * USD).unwrap();
        {
            let m = l.market_mut(BTC).unwrap();
            let vol = Fixed::from_ratio(i128::from(vol_pct), 100).unwrap();
            m.state.update_volatility(&config(), vol, 0).unwrap();
            m.state.applied = m.state.target;
        }
        if existing != 0 {
            // Seed the position directly if the margin allows it; otherwise start flat.
            let _ = l.fill(1, 4, FEES, &Fill { market: BTC, size: existing, price: Fixed::from_int(20_000), taker_fee: 0, maker_fee: 0 });
        }
        let price = bps_of(Fixed::from_int(20_000), offset_bps);
        let fee_rate = Fixed::from_ratio(i128::from(fee_bps), 10_000).unwrap();
        let max = max_position(&l.accounts[&1], &l.markets, BTC, buy, price, fee_rate).unwrap();
        let try_fill = |size: i128| {
            let mut trial = l.clone();
            let signed = if buy { size } else { -size };
            let quote = trial.markets[0].config.decimals.quote_value(signed, price, ballast_math::Rounding::Ceil).unwrap();
            let fee = fee_rate.mul_amount(quote.abs(), ballast_math::Rounding::Ceil).unwrap();
            trial.fill(1, 4, FEES, &Fill { market: BTC, size: signed, price, taker_fee: fee, maker_fee: 0 })
        };
        if max > 0 {
            prop_assert!(try_fill(max).is_ok(), "max {} rejected: {:?}", max, try_fill(max));
        }
        prop_assert_eq!(try_fill(max + 1).err(), Some(RiskError::InsufficientMargin));
    }

    /// In ReduceOnly no accepted fill grows either side's exposure.
    #[test]
    fn reduce_only_never_grows_exposure(trades in prop::collection::vec((0u32..3, 0u32..3, -2 * ONE_BTC..2 * ONE_BTC), 1..20)) {
        let mut l = ledger(20_000);
        for a in 0..3 {
            l.deposit(a, 50_000 * USD).unwrap();
        }
        // Open some positions in Normal state first.
        let _ = l.fill(0, 1, FEES, &Fill { market: BTC, size: ONE_BTC, price: Fixed::from_int(20_000), taker_fee: 0, maker_fee: 0 });
        let _ = l.fill(2, 1, FEES, &Fill { market: BTC, size: -ONE_BTC / 2, price: Fixed::from_int(20_000), taker_fee: 0, maker_fee: 0 });
        l.market_mut(BTC).unwrap().state.breaker.state = BreakerState::ReduceOnly;
        for (taker, maker, size) in trades {
            let (t0, m0) = (l.accounts[&taker].size(BTC), l.accounts[&maker].size(BTC));
            let r = l.fill(taker, maker, FEES, &Fill { market: BTC, size, price: Fixed::from_int(20_000), taker_fee: 0, maker_fee: 0 });
            if r.is_ok() {
                prop_assert!(l.accounts[&taker].size(BTC).abs() <= t0.abs());
                prop_assert!(l.accounts[&maker].size(BTC).abs() <= m0.abs());
            }
        }
    }
}

/// The sequences above must exercise real transitions, not only rejected ones: run a fixed
/// batch and count what happened.
#[test]
fn generated_sequences_trade_and_liquidate() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut f, mut q, mut b) = (0, 0, 0);
    for _ in 0..2_000 {
        let ops = prop::collection::vec(op(), 1..60)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut h = Harness::new();
        for op in &ops {
            h.apply(op).unwrap();
        }
        (f, q, b) = (f + h.fills, q + h.liquidations, b + h.bankruptcies);
    }
    println!("accepted fills {f}, liquidations {q}, bankruptcies {b}");
    assert!(
        f > 1_000 && q > 50 && b > 0,
        "fills {f}, liquidations {q}, bankruptcies {b}"
    );
}

/// The ramp helper itself, at its edges.
#[test]
fn ramp_toward_handles_zero_rate_time() {
    assert_eq!(
        ramp_toward(fx("0.1"), fx("0.5"), fx("0.02"), 0).unwrap(),
        fx("0.1")
    );
}
