//! Several markets in one ledger: BTC from the FTX-crash excerpt kept in the repository, and a
//! second market built here (flat, or a synthetic calm path) on the same clock.

use ballast_oracle::candles::{parse_timestamp_ms, read_csv};
use ballast_sim::cross::contagion_share;
use ballast_sim::market::{align, exogenous_path, Tick};
use ballast_sim::population::Portfolio;
use ballast_sim::protocol::Protocol;
use ballast_sim::run::{
    run, run_markets, LiquidationOrder, MarginMode, MarketPath, RunResult, SimError, SimParams,
};
use ballast_sim::scenario::{synthetic, Regime};

const TO: &str = "2022-11-12 00:00:00";
const FROM: &str = "2022-11-05 00:00:00";

fn ms(text: &str) -> u64 {
    parse_timestamp_ms(text).unwrap()
}

fn btc() -> Vec<Tick> {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/btcusdt-1h-2022-10-01_2022-11-30.csv"
    );
    let candles: Vec<_> = read_csv(file)
        .unwrap()
        .into_iter()
        .filter(|c| c.timestamp_ms < ms(TO))
        .collect();
    exogenous_path(&candles).0
}

fn market(name: &str, ticks: Vec<Tick>, depth_share: f64) -> MarketPath {
    MarketPath {
        name: name.into(),
        ticks,
        depth_share,
    }
}

/// ETH at a constant 1,500 USD on BTC's clock: nothing it holds gains or loses.
fn flat_eth(timeline: &[Tick]) -> Vec<Tick> {
    timeline
        .iter()
        .map(|t| Tick {
            price: 1_500.0,
            ..*t
        })
        .collect()
}

/// ETH on a synthetic 60% path from the excerpt's first hour.
fn calm_eth(timeline: &[Tick]) -> Vec<Tick> {
    let hours = (timeline.len() / 12 + 2) as u64;
    let candles = synthetic(
        &[Regime {
            hours,
            annual_vol: 0.6,
        }],
        None,
        timeline[0].at_ms,
        1_300.0,
        5,
    );
    align(timeline, &exogenous_path(&candles).0)
}

fn two(protocol: Protocol, p: &SimParams, eth: Vec<Tick>, depth_share: f64) -> RunResult {
    let btc = btc();
    run_markets(
        protocol,
        p,
        &[market("BTC", btc, 1.0), market("ETH", eth, depth_share)],
        ms(FROM),
        None,
    )
    .unwrap()
}

#[test]
fn with_the_second_market_flat_the_figures_equal_a_single_market_run() {
    // Flat: nobody holds ETH (and its price does not move). Listed, fed, depth-reported, and
    // every figure of the BTC run is the one-market run's, to the unit.
    let btc = btc();
    let p = SimParams {
        accounts: 300,
        portfolio: Portfolio::FIRST_MARKET_ONLY,
        ..SimParams::default()
    };
    for protocol in [Protocol::Baseline, Protocol::Ballast] {
        let one = run(protocol, &p, &btc, ms(FROM), None).unwrap();
        let both = two(protocol, &p, flat_eth(&btc), 0.5);
        assert_eq!(one.metrics, both.metrics, "{}", protocol.name());
        assert_eq!(one.samples, both.samples);
        assert_eq!(one.markets[0], both.markets[0]);
        assert!(one.metrics.liquidations > 10, "{:?}", one.metrics);
        let eth = &both.markets[1];
        assert_eq!(eth.liquidated_notional, 0.0);
        assert_eq!(eth.bad_debt, 0.0);
    }
}

#[test]
fn a_btc_loss_alone_liquidates_the_eth_leg_and_counts_as_contagion() {
    // Every trader is long BTC and long ETH in one account; ETH does not move and its book is
    // twice as deep as BTC's. The FTX fall in BTC alone takes the accounts below maintenance.
    let btc = btc();
    let p = SimParams {
        accounts: 200,
        portfolio: Portfolio {
            pair_share: 1.0,
            hedged_share: 0.0,
            second_leg_weight: 0.5,
            second_market_share: 0.0,
        },
        population: ballast_sim::population::PopulationParams {
            long_share: 1.0,
            ..Default::default()
        },
        check_prefilter: true,
        ..SimParams::default()
    };
    let liquid_first = SimParams {
        order: LiquidationOrder::MostLiquidFirst,
        ..p
    };
    let r = two(Protocol::Baseline, &liquid_first, flat_eth(&btc), 2.0);
    let (b, e) = (&r.markets[0], &r.markets[1]);
    // The liquidator takes the ETH position first: it is taken over, and it is contagion.
    assert!(e.liquidated_notional > 100_000.0, "{e:?}");
    assert!(contagion_share(e) > 0.95, "{}", contagion_share(e));
    assert!(e.contagion_liquidations > 0);
    // BTC's own loss liquidates BTC: not contagion.
    assert!(contagion_share(b) < 0.01, "{}", contagion_share(b));
    assert!(r.metrics.conserved);
    assert_eq!(r.metrics.unresolved_deficits, 0);

    // Worst market first takes BTC first: less ETH is sold for BTC's loss.
    let worst_first = two(Protocol::Baseline, &p, flat_eth(&btc), 2.0);
    assert!(
        worst_first.markets[1].liquidated_notional < e.liquidated_notional,
        "{:?} vs {:?}",
        worst_first.markets[1],
        e
    );
    assert!(worst_first.markets[0].liquidated_notional > b.liquidated_notional);
    // What ETH still sells once BTC's position is gone is BTC's loss too (realized by then,
    // in collateral): contagion still.
    let eth_after_btc = &worst_first.markets[1];
    assert!(eth_after_btc.liquidated_notional > 0.0);
    assert!(
        contagion_share(eth_after_btc) > 0.95,
        "{}",
        contagion_share(eth_after_btc)
    );

    // Isolated, the ETH sub-accounts never lose: nothing in ETH is liquidated.
    let isolated = two(
        Protocol::Baseline,
        &SimParams {
            margin: MarginMode::Isolated,
            ..p
        },
        flat_eth(&btc),
        2.0,
    );
    assert_eq!(isolated.markets[1].liquidated_notional, 0.0);
    assert!(isolated.markets[0].liquidated_notional > 0.0);
    assert!(isolated.metrics.conserved);
}

#[test]
fn two_market_runs_are_deterministic_conserve_value_and_resolve_every_deficit() {
    let btc = btc();
    let p = SimParams {
        accounts: 300,
        check_prefilter: true,
        ..SimParams::default()
    };
    for protocol in [Protocol::Baseline, Protocol::Ballast] {
        for (margin, order) in [
            (MarginMode::Cross, LiquidationOrder::WorstMarketFirst),
            (MarginMode::Cross, LiquidationOrder::MostLiquidFirst),
            (MarginMode::Isolated, LiquidationOrder::WorstMarketFirst),
        ] {
            let q = SimParams { margin, order, ..p };
            let a = two(protocol, &q, calm_eth(&btc), 0.5);
            let b = two(protocol, &q, calm_eth(&btc), 0.5);
            let what = format!("{} {margin:?} {order:?}", protocol.name());
            assert_eq!(a.metrics, b.metrics, "{what}");
            assert_eq!(a.markets, b.markets, "{what}");
            assert!(a.metrics.conserved, "{what}");
            assert_eq!(a.metrics.unresolved_deficits, 0, "{what}");
            assert!(
                a.metrics.bad_debt >= a.metrics.insurance_paid + a.metrics.socialized - 1e-6,
                "{what}"
            );
            // The markets' figures add up to the account totals.
            let liquidated: f64 = a.markets.iter().map(|m| m.liquidated_notional).sum();
            assert!(
                (liquidated - a.metrics.liquidated_notional).abs() < 1e-3,
                "{what}"
            );
            let bad_debt: f64 = a.markets.iter().map(|m| m.bad_debt).sum();
            assert!((bad_debt - a.metrics.bad_debt).abs() < 1e-3, "{what}");
            assert!(
                a.markets.iter().all(|m| m.liquidated_notional > 0.0),
                "{what}"
            );
            let contagion: f64 = a.markets.iter().map(|m| m.contagion_notional).sum();
            match margin {
                MarginMode::Cross => assert!(contagion > 0.0, "{what}"),
                MarginMode::Isolated => assert_eq!(contagion, 0.0, "{what}"),
            }
        }
    }
}

#[test]
fn paths_off_one_clock_are_refused() {
    let btc = btc();
    let mut eth = flat_eth(&btc);
    eth.pop();
    let r = run_markets(
        Protocol::Baseline,
        &SimParams {
            accounts: 10,
            ..SimParams::default()
        },
        &[market("BTC", btc, 1.0), market("ETH", eth, 0.5)],
        ms(FROM),
        None,
    );
    assert_eq!(r.err(), Some(SimError::MisalignedMarkets));
}

#[test]
fn a_pair_with_an_empty_leg_and_sub_account_ids_past_their_room_are_refused() {
    let btc = btc();
    let paths = [
        market("BTC", btc.clone(), 1.0),
        market("ETH", flat_eth(&btc), 0.5),
    ];
    for weight in [0.0, 1.0] {
        let p = SimParams {
            accounts: 10,
            portfolio: Portfolio {
                second_leg_weight: weight,
                ..Portfolio::default()
            },
            margin: MarginMode::Isolated,
            ..SimParams::default()
        };
        let r = run_markets(Protocol::Baseline, &p, &paths, ms(FROM), None);
        assert_eq!(r.err(), Some(SimError::PairWeight));
    }
    let p = SimParams {
        accounts: 499_990,
        ..SimParams::default()
    };
    let r = run_markets(Protocol::Baseline, &p, &paths, ms(FROM), None);
    assert_eq!(r.err(), Some(SimError::TooManyAccounts));
}
