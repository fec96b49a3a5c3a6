//! The FTX crash (2022-11-07..10, hourly candles from the in-repo excerpt) replayed through
//! the deployed token and engine, with two weeks of warm-up prices: volatility rises, caps
//! tighten on their ramps, the velocity breaker trips and resumes, liquidations run in chunks
//! under the throttle, a bankruptcy is covered by the insurance fund, events match the calls,
//! and at the end the token balances reconcile exactly.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_drink_tests::replay::{default_traders, run, ReplayReport};
use ballast_drink_tests::{Fixed, Harness, USD};
use ballast_oracle::candles::{parse_timestamp_ms, read_csv};
use ballast_risk::BreakerState;

const THROTTLE_USD: u128 = 250_000;

fn replay() -> ReplayReport {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/btcusdt-1h-2022-10-01_2022-11-30.csv"
    );
    let all = read_csv(file).expect("excerpt");
    let from = parse_timestamp_ms("2022-11-07 00:00:00").unwrap();
    let to = parse_timestamp_ms("2022-11-10 23:00:00").unwrap();
    let crash: Vec<_> = all
        .iter()
        .copied()
        .filter(|c| c.timestamp_ms >= from && c.timestamp_ms <= to)
        .collect();
    let warmup: Vec<_> = all
        .iter()
        .copied()
        .filter(|c| c.timestamp_ms < from && c.timestamp_ms + 14 * 86_400_000 >= from)
        .collect();
    assert_eq!((crash.len(), warmup.len()), (96, 336));
    let mut h = Harness::new(warmup[0].timestamp_ms);
    run(
        &mut h,
        &warmup,
        &crash,
        &default_traders(),
        THROTTLE_USD,
        50_000,
    )
}

#[test]
fn ftx_crash_replay() {
    let r = replay();

    // Exact reconciliation: token contract == engine ledger == sum over accounts and funds.
    assert!(
        r.reconciled(),
        "balance {} accounted {} net {}",
        r.engine_balance,
        r.accounted,
        r.net_deposits
    );

    // Volatility rises through the crash and the applied leverage cap falls with it.
    let first = &r.hours.first().unwrap().risk;
    let last = &r.hours.last().unwrap().risk;
    assert!(last.forecast_vol > first.forecast_vol);
    assert!(last.applied_leverage_cap < first.applied_leverage_cap);
    // ...never faster than the initial ramp (2 points of margin fraction per hour).
    let ramp = Fixed::from_ratio(2, 100)
        .unwrap()
        .checked_add(Fixed::from_bits(1 << 20))
        .unwrap();
    for pair in r.hours.windows(2) {
        let step = pair[1]
            .risk
            .applied_initial_fraction
            .checked_sub(pair[0].risk.applied_initial_fraction)
            .unwrap();
        assert!(
            step.checked_abs().unwrap() <= ramp,
            "applied initial fraction jumped by {step}"
        );
    }

    // The velocity breaker trips to ReduceOnly, blocks new risk, and resumes by itself.
    let trips: Vec<_> = r
        .breaker_events
        .iter()
        .filter(|(_, e)| e.to == BreakerState::ReduceOnly)
        .collect();
    let resumes: Vec<_> = r
        .breaker_events
        .iter()
        .filter(|(_, e)| e.from == BreakerState::ReduceOnly && e.to == BreakerState::Normal)
        .collect();
    assert!(!trips.is_empty() && !resumes.is_empty());
    assert!(
        resumes
            .iter()
            .all(|(at, _)| trips.iter().any(|(t, _)| t < at && at - t >= 30 * 60_000)),
        "resume before cooldown"
    );
    assert!(
        r.refused_opens > 0,
        "reduce-only never refused an opening fill"
    );

    // Liquidations: one Liquidated event per successful call, chunks within the throttle
    // unless the account was bankrupt.
    assert!(!r.liquidations.is_empty());
    assert_eq!(r.liquidations.len(), r.gas["liquidate"].len());
    for (_, l) in &r.liquidations {
        assert!(
            l.bankrupt || l.notional <= (THROTTLE_USD * USD) as i128,
            "chunk {} above the throttle",
            l.notional
        );
        if l.bankrupt {
            assert_eq!(l.penalty, 0, "a bankrupt account pays no penalty");
        }
    }
    assert!(r.throttled > 0, "the throttle never deferred a liquidation");

    // At least one bankruptcy, covered by the insurance fund.
    assert!(r
        .bankruptcies
        .iter()
        .any(|(_, b)| b.from_insurance > 0 && b.from_insurance + b.socialized == b.deficit));
    // The fund takes in its share of penalties and pays out deficits and the keeper rewards
    // of bankrupt liquidations.
    let paid_in: i128 = r.liquidations.iter().map(|(_, l)| l.to_insurance).sum();
    let covered: i128 = r.bankruptcies.iter().map(|(_, b)| b.from_insurance).sum();
    let rewards: i128 = r
        .liquidations
        .iter()
        .filter(|(_, l)| l.bankrupt)
        .map(|(_, l)| l.to_liquidator)
        .sum();
    assert_eq!(
        r.insurance_fund,
        r.insurance_seed + paid_in - covered - rewards
    );
}
