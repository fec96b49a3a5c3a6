//! End-to-end runs of the simulator on the FTX-crash excerpt kept in the repository
//! (`data/btcusdt-1h-2022-10-01_2022-11-30.csv`), through the real oracle adapter and risk core.

use ballast_oracle::candles::{parse_timestamp_ms, read_csv};
use ballast_sim::market::{exogenous_path, DepthCollapse, Tick};
use ballast_sim::options::WriterParams;
use ballast_sim::protocol::Protocol;
use ballast_sim::report;
use ballast_sim::run::{run, LiquidationCapacity, RunResult, SimError, SimParams};

fn ticks(to: &str) -> Vec<Tick> {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/btcusdt-1h-2022-10-01_2022-11-30.csv"
    );
    let end = parse_timestamp_ms(to).unwrap();
    let candles: Vec<_> = read_csv(file)
        .unwrap()
        .into_iter()
        .filter(|c| c.timestamp_ms < end)
        .collect();
    exogenous_path(&candles).0
}

fn ms(text: &str) -> u64 {
    parse_timestamp_ms(text).unwrap()
}

fn params(accounts: usize) -> SimParams {
    SimParams {
        accounts,
        ..SimParams::default()
    }
}

fn sim(protocol: Protocol, p: &SimParams, to: &str, from: &str) -> RunResult {
    run(protocol, p, &ticks(to), ms(from), None).unwrap()
}

#[test]
fn runs_are_deterministic_and_conserve_value_to_the_unit() {
    let p = params(300);
    for protocol in [Protocol::Baseline, Protocol::Ballast] {
        let a = sim(protocol, &p, "2022-11-12 00:00:00", "2022-11-05 00:00:00");
        let b = sim(protocol, &p, "2022-11-12 00:00:00", "2022-11-05 00:00:00");
        assert_eq!(a.metrics, b.metrics);
        assert_eq!(a.samples, b.samples);
        assert!(a.metrics.conserved, "{}", protocol.name());
        // Every deficit went through bankruptcy resolution and into the bad-debt figure.
        assert_eq!(a.metrics.unresolved_deficits, 0);
        assert!(a.metrics.bad_debt >= a.metrics.insurance_paid + a.metrics.socialized - 1e-6);
        assert_eq!(a.metrics.failed_closes, 0);
        // The FTX crash falls in the window: traders open, stop out and get liquidated.
        assert!(a.metrics.opens > 300, "{:?}", a.metrics);
        assert!(a.metrics.liquidations > 10, "{:?}", a.metrics);
        assert!(a.metrics.stop_outs > 10, "{:?}", a.metrics);
        assert_eq!(a.metrics.ticks, 7 * 24 * 12);
    }
    let other = sim(
        Protocol::Ballast,
        &SimParams { seed: 2, ..p },
        "2022-11-12 00:00:00",
        "2022-11-05 00:00:00",
    );
    let first = sim(
        Protocol::Ballast,
        &p,
        "2022-11-12 00:00:00",
        "2022-11-05 00:00:00",
    );
    assert_ne!(
        other.metrics, first.metrics,
        "the seed draws the population"
    );
}

#[test]
fn the_liquidation_prefilter_never_skips_an_account_below_maintenance() {
    // Every account is checked exactly at every tick; a miss is an error.
    let p = SimParams {
        check_prefilter: true,
        ..params(200)
    };
    // Ballast reports depth: its requirement includes the liquidity charge, largest in a
    // thin market.
    for (protocol, depth_ratio) in [
        (Protocol::Baseline, 0.2),
        (Protocol::Ballast, 0.2),
        (Protocol::Ballast, 0.05),
    ] {
        let r = run(
            protocol,
            &SimParams { depth_ratio, ..p },
            &ticks("2022-11-11 00:00:00"),
            ms("2022-11-06 00:00:00"),
            None,
        );
        match r {
            Ok(r) => assert!(r.metrics.liquidations > 0),
            Err(e @ SimError::PrefilterMissed(..)) => panic!("{e}"),
            Err(e) => panic!("run failed: {e}"),
        }
    }
}

#[test]
fn the_baseline_has_no_ballast_feature_and_ballast_has_them_all() {
    let p = params(300);
    let (to, from) = ("2022-11-12 00:00:00", "2022-11-05 00:00:00");
    let base = sim(Protocol::Baseline, &p, to, from);
    assert_eq!(base.metrics.breaker_trips, 0);
    assert_eq!(base.metrics.throttled, 0);
    assert_eq!(base.metrics.blocked_opens, 0);
    // Static tiers: 20x for a first-tier position whatever the volatility.
    assert!(base
        .samples
        .iter()
        .all(|s| (s.leverage - 20.0).abs() < 1e-9));
    let ballast = sim(Protocol::Ballast, &p, to, from);
    // The 2022-11-08/09 moves trip the velocity breaker, and the cap falls with volatility.
    assert!(ballast.metrics.breaker_trips >= 1, "{:?}", ballast.metrics);
    assert!(ballast.metrics.blocked_opens > 0);
    assert!(ballast.metrics.stress_leverage < ballast.metrics.calm_leverage);
    assert!(ballast
        .samples
        .iter()
        .any(|s| s.breaker == 1 && s.leverage == 0.0));
    let lowest = ballast
        .samples
        .iter()
        .filter(|s| s.leverage > 0.0)
        .map(|s| s.leverage)
        .fold(f64::MAX, f64::min);
    assert!(lowest < 15.0, "cap in the crash: {lowest}");
    // Each single-feature variant shows only its own feature.
    let breaker = sim(Protocol::BreakerOnly, &p, to, from);
    assert_eq!(breaker.metrics.breaker_trips, ballast.metrics.breaker_trips);
    let margin = sim(Protocol::MarginOnly, &p, to, from);
    assert_eq!(margin.metrics.breaker_trips, 0);
    assert!(margin.metrics.stress_leverage < 20.0);
}

#[test]
fn forced_flow_moves_the_price_only_when_depth_is_finite() {
    let (to, from) = ("2022-11-12 00:00:00", "2022-11-05 00:00:00");
    let deep = sim(
        Protocol::Baseline,
        &SimParams {
            depth_ratio: 1e12,
            ..params(300)
        },
        to,
        from,
    );
    assert!((deep.metrics.amplification - 1.0).abs() < 1e-6);
    assert!((deep.metrics.max_drawdown - deep.metrics.exogenous_max_drawdown).abs() < 1e-6);
    assert!(deep
        .samples
        .iter()
        .all(|s| (s.simulated / s.exogenous - 1.0).abs() < 1e-6));
    let thin = sim(
        Protocol::Baseline,
        &SimParams {
            depth_ratio: 0.02,
            ..params(300)
        },
        to,
        from,
    );
    // The amplification loop: forced selling deepens the fall and the volatility.
    assert!(thin.metrics.amplification > 1.1, "{:?}", thin.metrics);
    assert!(thin.metrics.max_drawdown > deep.metrics.max_drawdown);
    assert!(thin.metrics.liquidated_notional > deep.metrics.liquidated_notional);
}

#[test]
fn the_json_line_has_every_required_key() {
    let p = params(100);
    let results: Vec<RunResult> = [Protocol::Baseline, Protocol::Ballast]
        .into_iter()
        .map(|protocol| sim(protocol, &p, "2022-11-07 00:00:00", "2022-11-06 00:00:00"))
        .collect();
    let line = report::json(&results, &[]);
    assert!(line.starts_with("{\"baseline\":{") && line.contains(",\"ballast\":{"));
    for key in [
        "bad_debt",
        "liquidated_notional",
        "liquidations",
        "insurance_drawdown",
        "max_drawdown",
        "amplification",
        "calm_leverage",
        "stress_leverage",
    ] {
        assert_eq!(line.matches(&format!("\"{key}\":")).count(), 2, "{key}");
    }
    assert!(!line.contains('\n'));
    let table = report::markdown(&results);
    assert!(table.contains("| bad_debt |") && table.contains("ballast vs baseline"));
}

#[test]
fn the_throttle_binds_only_where_it_is_listed() {
    // 6,000 accounts (about 30M USD of collateral) force more than the default 5M USD per
    // 10 minutes through liquidation in the 2022-11-08/09 crash.
    let p = params(6_000);
    let (to, from) = ("2022-11-12 00:00:00", "2022-11-05 00:00:00");
    let base = sim(Protocol::Baseline, &p, to, from);
    let throttle = sim(Protocol::ThrottleOnly, &p, to, from);
    assert_eq!(base.metrics.throttled, 0);
    assert!(throttle.metrics.throttled > 0, "{:?}", throttle.metrics);
    for r in [&base, &throttle] {
        assert!(r.metrics.conserved);
        assert_eq!(r.metrics.unresolved_deficits, 0);
        assert!(r.metrics.bankruptcies > 0);
    }
}

fn with_writers(accounts: usize) -> SimParams {
    SimParams {
        option_writers: 0.1,
        ..params(accounts)
    }
}

#[test]
fn option_writer_runs_are_deterministic() {
    let p = with_writers(300);
    // Long enough for the first 7-day straddles to expire and pay out.
    let (to, from) = ("2022-11-16 00:00:00", "2022-11-05 00:00:00");
    let a = sim(Protocol::Ballast, &p, to, from);
    let b = sim(Protocol::Ballast, &p, to, from);
    assert_eq!(a.metrics, b.metrics);
    assert_eq!(a.samples, b.samples);
    // 30 of the 300 accounts write options: they sell, collect premiums and pay out.
    let m = &a.metrics;
    assert_eq!(m.writers, 30);
    assert!(m.options_sales > 30 && m.gamma_sold > 0.0, "{m:?}");
    assert!(m.premiums > 0.0 && m.option_payouts > 0.0, "{m:?}");
    assert!(m.peak_short_gamma_over_equity > 0.0);
    // Their figures are in the JSON line only when there are writers.
    let line = report::json(std::slice::from_ref(&a), &[]);
    for key in [
        "options_bad_debt",
        "writer_pnl",
        "gamma_sold",
        "forced_option_closes",
    ] {
        assert!(line.contains(&format!("\"{key}\":")), "{key}");
    }
    assert!(line.contains("\"refused_growth_vega_budget\":"));
    let without = sim(Protocol::Ballast, &params(300), to, from);
    assert!(!report::json(&[without], &[]).contains("writer_pnl"));
}

#[test]
fn value_is_conserved_with_option_writers() {
    // Ten days: the first straddles expire.
    let (to, from) = ("2022-11-12 00:00:00", "2022-11-02 00:00:00");
    let normal = with_writers(300);
    // Writers 2.5 times as aggressive in a thin market: some fall below maintenance, so
    // buy-backs, hedge liquidations and writer deficits happen too.
    let reckless = SimParams {
        depth_ratio: 0.05,
        writer: WriterParams {
            sizing_loss: 0.25,
            ..WriterParams::default()
        },
        ..with_writers(300)
    };
    let mut forced = 0;
    for p in [normal, reckless] {
        for protocol in [
            Protocol::Baseline,
            Protocol::Ballast,
            Protocol::BallastNoBudgets,
        ] {
            let m = sim(protocol, &p, to, from).metrics;
            // Premiums in, payoffs and buy-backs out: the ledger still holds exactly its net
            // deposits, and every deficit went through resolution.
            assert!(m.conserved, "{}: {m:?}", protocol.name());
            assert_eq!(m.unresolved_deficits, 0);
            assert_eq!(m.failed_closes, 0);
            assert!(
                m.bad_debt + m.options_bad_debt >= m.insurance_paid + m.socialized - 1e-6,
                "{m:?}"
            );
            assert!(
                m.premiums > 0.0 && m.option_payouts > 0.0,
                "{}: {m:?}",
                protocol.name()
            );
            forced += m.forced_option_closes;
        }
    }
    assert!(forced > 0, "no writer was ever closed out");
}

#[test]
fn budgets_refuse_writer_growth_in_a_vol_spike_only_when_listed() {
    let p = with_writers(300);
    let budget_refusals = |m: &ballast_sim::run::Metrics| m.refused_sales.budgets();
    // Two weeks before the FTX crash (forecast vol 0.49-0.56): the budgets hardly bind.
    let calm = sim(
        Protocol::Ballast,
        &p,
        "2022-11-08 00:00:00",
        "2022-10-25 00:00:00",
    );
    // Two weeks from the crash (forecast vol up to 0.84): they refuse many sales, and without
    // budgets nothing refuses those sales for budget reasons.
    let (to, from) = ("2022-11-19 00:00:00", "2022-11-05 00:00:00");
    let spike = sim(Protocol::Ballast, &p, to, from);
    let unbudgeted = sim(Protocol::BallastNoBudgets, &p, to, from);
    let (calm, spike, unbudgeted) = (calm.metrics, spike.metrics, unbudgeted.metrics);
    assert!(calm.options_sales > 0);
    assert!(
        budget_refusals(&spike) > 20 * budget_refusals(&calm).max(1),
        "{spike:?}"
    );
    assert_eq!(budget_refusals(&unbudgeted), 0);
    assert!(unbudgeted.options_sales > spike.options_sales);
    assert!(unbudgeted.gamma_sold > spike.gamma_sold);
}

#[test]
fn depth_reports_change_the_liquidity_requirement_on_a_thin_market() {
    let p = SimParams {
        depth_ratio: 0.05,
        ..params(300)
    };
    let (to, from) = ("2022-11-12 00:00:00", "2022-11-05 00:00:00");
    let reported = sim(Protocol::Ballast, &p, to, from);
    let unreported = sim(Protocol::BallastNoDepth, &p, to, from);
    // Same listing; only the depth reports differ. They add the liquidity charge to every
    // position's requirement and cap how fast open interest grows (and, further, the
    // open-interest term's caps), so the crash finds a smaller market to liquidate.
    assert_eq!(unreported.metrics.liquidity_charge, 0.0);
    assert!(reported.metrics.liquidity_charge > 0.0);
    assert_eq!(unreported.metrics.oi_growth_capped, 0);
    assert!(reported.metrics.oi_growth_capped > 0);
    assert!(reported.metrics.opens < unreported.metrics.opens);
    assert!(reported.metrics.liquidated_notional < unreported.metrics.liquidated_notional / 2.0);
    assert!(reported.metrics.conserved && unreported.metrics.conserved);
    assert_eq!(reported.metrics.failed_closes, 0);
}

#[test]
fn liquidations_wait_for_block_space_when_the_chain_is_full() {
    // One liquidation call per 5-minute tick: the FTX crash needs more, so calls wait (and
    // bankrupt accounts are still resolved by the engine's rules when their turn comes).
    let scarce = SimParams {
        capacity: LiquidationCapacity {
            calls_per_block: 1,
            block_ms: 300_000,
        },
        ..params(300)
    };
    let (to, from) = ("2022-11-12 00:00:00", "2022-11-05 00:00:00");
    let full = sim(Protocol::Baseline, &scarce, to, from).metrics;
    let free = sim(
        Protocol::Baseline,
        &SimParams {
            capacity: LiquidationCapacity::UNLIMITED,
            ..params(300)
        },
        to,
        from,
    )
    .metrics;
    assert_eq!(free.capacity_deferred, 0);
    assert!(full.capacity_deferred > 0, "{full:?}");
    // At most one call a tick, where the free chain took many in its busiest tick.
    assert_eq!(full.peak_calls_per_tick, 1);
    assert!(
        free.peak_calls_per_tick > 10,
        "{}",
        free.peak_calls_per_tick
    );
    assert!(full.bad_debt > free.bad_debt, "{full:?}\n{free:?}");
    for m in [&full, &free] {
        assert!(m.conserved);
        assert_eq!(m.unresolved_deficits, 0);
    }
    // The default, contracts-node's 191 calls per 6-second block, never binds here.
    let node = sim(Protocol::Baseline, &params(300), to, from).metrics;
    assert_eq!(node.capacity_deferred, 0);
    assert_eq!(node.bad_debt, free.bad_debt);
}

#[test]
fn a_collapsing_book_thins_in_the_crash_and_the_engine_hears_of_it() {
    let (to, from) = ("2022-11-12 00:00:00", "2022-11-05 00:00:00");
    let constant = sim(Protocol::Ballast, &params(300), to, from).metrics;
    let collapsing = SimParams {
        depth_collapse: DepthCollapse::On,
        ..params(300)
    };
    let thin = sim(Protocol::Ballast, &collapsing, to, from).metrics;
    assert_eq!(constant.min_depth_fraction, 1.0);
    assert!(thin.min_depth_fraction < 0.5, "{thin:?}");
    // The venue reports the thinner book through report_depth: the engine's liquidity charge
    // on the traders' positions rises.
    assert!(
        thin.liquidity_charge > constant.liquidity_charge,
        "{} vs {}",
        thin.liquidity_charge,
        constant.liquidity_charge
    );
    // The same forced flow meets less depth: the simulated price moves more.
    assert!(thin.amplification > constant.amplification);
    assert!(thin.conserved && thin.unresolved_deficits == 0);
}

#[test]
fn every_run_carries_the_yardstick() {
    let (to, from) = ("2022-11-20 00:00:00", "2022-11-01 00:00:00");
    let base = sim(Protocol::Baseline, &params(100), to, from);
    let ballast = sim(Protocol::Ballast, &params(100), to, from);
    // 19 days of 8-hour windows (the last one needs its end inside the run).
    for r in [&base, &ballast] {
        assert_eq!(r.metrics.yardstick.windows, 56.0);
        assert_eq!(r.samples.len(), 19 * 24);
    }
    // Static tiers: IM is 5% every hour, so no procyclicality at all.
    let b = base.metrics.yardstick;
    assert_eq!((b.peak_to_trough, b.largest_day_rise), (1.0, 1.0));
    assert!((b.median_leverage - 20.0).abs() < 1e-9);
    // Ballast's IM rises into the crash from its pre-crash level.
    let j = ballast.metrics.yardstick;
    assert!(j.peak_to_trough > 1.2, "{j:?}");
    assert!(j.mean_initial > b.mean_initial);
    let line = report::json(&[base, ballast], &[("ccp_ewma_t4", j)]);
    for key in [
        "peak_to_trough",
        "breaches_exogenous_long",
        "zone_simulated_short",
        "gap_coverage",
        "bad_debt_p95",
    ] {
        assert!(line.matches(&format!("\"{key}\":")).count() >= 2, "{key}");
    }
    assert!(line.contains("\"ccp_ewma_t4\":{\"path\":\"exogenous\""));
}
