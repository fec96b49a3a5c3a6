//! Greeks-aware limits, liquidity-adjusted sizing and stress fees through the reference venue
//! in the real pallet-contracts runtime: an options book fine in calm markets is refused new
//! short gamma after a volatility spike (and may always be cut), unexplained P&L is flagged,
//! a thin market refuses size that a deep one accepts, stale depth stops growth but not
//! reduction, and growing trades pay the stress fee while reductions do not.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_drink_tests::interface::events::{DepthReported, GreeksDistrusted, OptionsReported};
use ballast_drink_tests::interface::{AccountView, EngineError, MarketRisk};
use ballast_drink_tests::*;
use ballast_risk::{ExpiryGreeks, OptionsReport, RiskError};
use drink::AccountId32;
use parity_scale_codec::Decode;

const T0: u64 = 1_667_865_600_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
const MARKET: u32 = 1;

/// The venue's error, decoded from its answers (same variant order as the contract).
#[derive(Debug, PartialEq, Decode)]
enum VenueError {
    InvalidSize,
    TooLarge(i128),
    ReduceOnly,
    Engine(EngineError),
    EngineUnreachable,
    TokenTransferFailed,
    Unauthorized,
}

struct World {
    h: Harness,
    venue: AccountId32,
    treasury: AccountId32,
    feeders: Vec<AccountId32>,
    price: i64,
}

impl World {
    fn new() -> World {
        let mut h = Harness::new(T0);
        let owner = h.owner.clone();
        let treasury = account(50);
        let feeders: Vec<AccountId32> = (60..63).map(account).collect();
        for who in feeders.iter().chain([&treasury]) {
            h.fund_native(who);
        }
        let config = MarketConfig::default_large_cap(Decimals {
            base: 8,
            quote: QUOTE_DECIMALS,
        });
        // A market that starts calm: the volatility prior at 40%.
        let oracle = OracleConfig {
            initial_annualized_vol: Fixed::from_ratio(40, 100).unwrap(),
            ..OracleConfig::default()
        };
        h.list_market_with_feeders(MARKET, config, oracle, &feeders);
        let args = (
            h.engine.clone(),
            h.token.clone(),
            MARKET,
            Fixed::from_ratio(5, 10_000).unwrap(), // 5 bp half-spread
            Fixed::from_ratio(5, 10_000).unwrap(), // 5 bp base fee
            treasury.clone(),
            Fixed::from_ratio(1, 1_000).unwrap(),
            10 * BTC,
        );
        let venue = h.deploy("ballast_venue", "new", args, vec![10]);
        h.authorize_venue(MARKET, &venue);
        h.fund_native(&venue);
        let amount = 5_000_000 * USD;
        let token = h.token.clone();
        let approved: Result<(), psp22::PSP22Error> = h
            .call(&owner, &token, "PSP22::approve", (venue.clone(), amount))
            .unwrap();
        approved.unwrap();
        let mut w = World {
            h,
            venue,
            treasury,
            feeders,
            price: 20_000,
        };
        w.venue_call::<()>(&owner, "provide_liquidity", (amount,))
            .expect("liquidity");
        w.report(20_000);
        w
    }

    fn report(&mut self, price: i64) {
        self.price = price;
        let feeders = self.feeders.clone();
        self.h.report(MARKET, &feeders, Fixed::from_int(price));
    }

    fn venue_call<T: Decode>(
        &mut self,
        who: &AccountId32,
        label: &str,
        args: impl parity_scale_codec::Encode,
    ) -> Result<T, VenueError> {
        let venue = self.venue.clone();
        self.h
            .call::<Result<T, VenueError>>(who, &venue, label, args)
            .unwrap_or_else(|f| panic!("venue {label} trapped: {f:?}"))
    }

    fn trader(&mut self, n: u8, collateral: u128) -> AccountId32 {
        let who = account(n);
        self.h.fund_native(&who);
        self.h.give_tokens(&who, collateral);
        self.h.approve_engine(&who, collateral);
        self.h
            .engine::<()>(&who, "deposit", (collateral,))
            .expect("deposit");
        let venue = self.venue.clone();
        self.h.approve_venue(&who, MARKET, &venue);
        who
    }

    /// The venue and two feeders report the same depth: three distinct reporters, as many as
    /// the market needs before any depth counts.
    fn report_depth(&mut self, bid: u128, ask: u128) {
        let (owner, venue) = (self.h.owner.clone(), self.venue.clone());
        let r: Result<(), VenueError> = self
            .h
            .call(&owner, &venue, "report_depth", (bid, ask))
            .unwrap();
        r.expect("venue's depth accepted");
        for feeder in self.feeders.clone().iter().take(2) {
            self.h
                .engine::<()>(feeder, "report_depth", (MARKET, bid, ask))
                .expect("feeder's depth accepted");
        }
    }

    /// Hourly prices alternating +-`swing_bps`, `hours` of them: realized volatility far above
    /// the calm prior, while no single hour trips the 8% velocity breaker.
    fn swing(&mut self, hours: u32, swing_bps: i64) {
        for i in 0..hours {
            let t = self.h.now_ms + HOUR;
            self.h.set_time(t);
            let sign = if i % 2 == 0 { 1 } else { -1 };
            let next = self.price * (10_000 + sign * swing_bps) / 10_000;
            self.report(next);
        }
    }

    fn risk(&mut self) -> MarketRisk {
        self.h.read("market_risk", (MARKET,)).unwrap()
    }

    fn collateral(&mut self, who: &AccountId32) -> i128 {
        let view: AccountView = self.h.query("account", (who.clone(),));
        view.collateral
    }
}

/// A short 7-day options book: `gamma_usd` of short cash gamma, 20k USD of short vega.
fn short_book(gamma_usd: i128, at: u64, pnl_usd: i128) -> OptionsReport {
    OptionsReport {
        market: MARKET,
        buckets: vec![ExpiryGreeks {
            expiry_ms: T0 + 30 * DAY,
            delta: 0,
            gamma: -gamma_usd * USD as i128,
            vega: -20_000 * USD as i128,
            implied_vol: Fixed::from_ratio(50, 100).unwrap(),
        }],
        venue_initial: 0,
        venue_maintenance: 0,
        mark_value: -5_000 * USD as i128,
        pnl: pnl_usd * USD as i128,
        timestamp_ms: at,
        trade: true,
    }
}

#[test]
fn an_options_book_fine_in_calm_markets_is_refused_new_short_gamma_after_a_spike() {
    let mut w = World::new();
    let owner = w.h.owner.clone();
    let writer = w.trader(2, 100_000 * USD);
    w.swing(6, 20); // calm hours: 0.2% swings

    // Calm (vol about 40%, the 5% floor move): 10M USD of short cash gamma loses 12.5k over the
    // horizon move, half the 25k budget of 100k equity.
    let calm = w.risk();
    assert!(calm.forecast_vol < Fixed::from_ratio(45, 100).unwrap());
    let at = w.h.now_ms;
    w.venue_call::<()>(
        &owner,
        "report_options",
        (writer.clone(), short_book(10_000_000, at, 0)),
    )
    .expect("calm book accepted");
    let reported = w.h.engine_events::<OptionsReported>();
    assert_eq!(reported.len(), 1);
    assert!(reported[0].growing && reported[0].initial_requirement > 0);
    println!(
        "calm book: initial requirement {} USD, maintenance {} USD, report ref_time {}",
        reported[0].initial_requirement / USD as i128,
        reported[0].maintenance_requirement / USD as i128,
        w.h.last_gas.ref_time
    );

    // Twelve hours of 6% swings: forecast vol more than doubles.
    w.swing(12, 600);
    let wild = w.risk();
    assert!(
        wild.forecast_vol > Fixed::from_ratio(95, 100).unwrap(),
        "forecast vol {}",
        wild.forecast_vol
    );
    assert_eq!(wild.breaker, ballast_risk::BreakerState::Normal);

    // 10% more short gamma now breaks the budget (the cap fell as 1 / sigma^2)...
    let at = w.h.now_ms;
    assert_eq!(
        w.venue_call::<()>(
            &owner,
            "report_options",
            (writer.clone(), short_book(11_000_000, at, 0))
        ),
        Err(VenueError::Engine(EngineError::Risk(
            RiskError::GammaBudget
        )))
    );
    assert_eq!(
        w.h.engine_event_count(),
        0,
        "a refused report emits nothing"
    );
    // ...and cutting the book passes although the book still breaks the budget.
    w.venue_call::<()>(
        &owner,
        "report_options",
        (writer.clone(), short_book(5_000_000, at, 0)),
    )
    .expect("cutting always passes");
    assert!(!w.h.engine_events::<OptionsReported>()[0].growing);
    let view: AccountView = w.h.query("account", (writer.clone(),));
    assert!(view.positions.is_empty());

    // A P&L that the held Greeks cannot explain: accepted, flagged, charged the fallback.
    w.h.set_time(at + 60_000);
    let unexplained = short_book(5_000_000, at + 60_000, 40_000);
    w.venue_call::<()>(&owner, "report_options", (writer.clone(), unexplained))
        .expect("accepted");
    let flagged = w.h.engine_events::<GreeksDistrusted>();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].reported_pnl, 40_000 * USD as i128);

    // Only venues report books.
    assert_eq!(
        w.h.engine::<()>(
            &writer,
            "report_options",
            (writer.clone(), short_book(1, at + 60_001, 0))
        ),
        Err(EngineError::Unauthorized)
    );
}

#[test]
fn a_thin_market_refuses_size_that_a_deep_one_accepts() {
    let mut w = World::new();
    let owner = w.h.owner.clone();
    let trader = w.trader(3, 300_000 * USD);
    let size = 50 * BTC; // 1M USD of notional
                         // A second venue that fills directly, against a maker that approved it (authorized while
                         // nothing is open, so at once).
    let direct = account(71);
    let direct_maker = w.trader(72, 5_000_000 * USD);
    w.h.fund_native(&direct);
    w.h.authorize_venue(MARKET, &direct);
    for who in [&trader, &direct_maker] {
        w.h.approve_venue(who, MARKET, &direct);
    }

    // Deep book: 50M each side within 1%.
    let (venue, feeders) = (w.venue.clone(), w.feeders.clone());
    let deep = w.h.isolated(|h| {
        let r: Result<(), VenueError> = h
            .call(
                &owner,
                &venue,
                "report_depth",
                (50_000_000 * USD, 50_000_000 * USD),
            )
            .unwrap();
        r.expect("depth accepted");
        for feeder in feeders.iter().take(2) {
            h.engine::<()>(
                feeder,
                "report_depth",
                (MARKET, 50_000_000 * USD, 50_000_000 * USD),
            )
            .expect("feeder's depth accepted");
        }
        let traded: Result<(), VenueError> = h.call(&trader, &venue, "trade", (size,)).unwrap();
        traded
    });
    assert_eq!(deep, Ok(()));

    // One reporter alone, however thin it says the book is, sets no depth.
    w.venue_call::<()>(&owner, "report_depth", (1u128, 1u128))
        .expect("depth accepted");
    assert_eq!(w.h.engine_events::<DepthReported>().len(), 1);
    assert_eq!(w.risk().depth, None);

    // Thin book: 200k each side from three reporters. Effective depth 100k after the haircut;
    // open interest may grow by half of it per hour (2.5 BTC at 20,000), so the venue offers at
    // most that.
    w.report_depth(200_000 * USD, 200_000 * USD);
    let risk = w.risk();
    assert_eq!(
        risk.depth,
        Some((100_000 * USD as i128, 100_000 * USD as i128))
    );
    assert_eq!(
        w.venue_call::<()>(&trader, "trade", (size,)),
        Err(VenueError::TooLarge(5 * BTC / 2))
    );
    w.venue_call::<()>(&trader, "trade", (2 * BTC,))
        .expect("within the growth room");
    // The same growth sent straight to the engine is refused by it.
    assert_eq!(
        w.h.engine::<()>(
            &direct,
            "fill",
            (
                MARKET,
                trader.clone(),
                direct_maker.clone(),
                BTC,
                Fixed::from_int(w.price),
                0u128,
                0u128,
                w.treasury.clone()
            )
        ),
        Err(EngineError::Risk(RiskError::OpenInterestGrowth))
    );

    // A feeder may report depth; anyone else may not.
    let feeder = w.feeders[0].clone();
    w.h.engine::<()>(
        &feeder,
        "report_depth",
        (MARKET, 200_000 * USD, 200_000 * USD),
    )
    .expect("feeder reports depth");
    let stranger = account(90);
    w.h.fund_native(&stranger);
    assert_eq!(
        w.h.engine::<()>(&stranger, "report_depth", (MARKET, 1u128, 1u128)),
        Err(EngineError::Unauthorized)
    );

    // Two hours without a depth report: growth stops, reduction goes on.
    let later = w.h.now_ms + 2 * HOUR;
    w.h.set_time(later);
    w.report(20_000);
    assert_eq!(
        w.venue_call::<()>(&trader, "trade", (BTC / 10,)),
        Err(VenueError::TooLarge(0))
    );
    assert_eq!(
        w.h.engine::<()>(
            &direct,
            "fill",
            (
                MARKET,
                trader.clone(),
                direct_maker.clone(),
                BTC / 10,
                Fixed::from_int(20_000),
                0u128,
                0u128,
                w.treasury.clone()
            )
        ),
        Err(EngineError::Risk(RiskError::DepthStale))
    );
    w.venue_call::<()>(&trader, "trade", (-BTC,))
        .expect("reduction passes");
}

#[test]
fn growing_trades_pay_the_stress_fee_and_reductions_do_not() {
    let mut w = World::new();
    let trader = w.trader(4, 200_000 * USD);
    w.swing(6, 20);
    assert_eq!(w.risk().stress_multiplier, Fixed::ONE);
    let fee_of = |w: &mut World, size: i128| {
        let before = w.collateral(&w.treasury.clone());
        w.venue_call::<()>(&trader, "trade", (size,))
            .expect("trade");
        w.collateral(&w.treasury.clone()) - before
    };
    let calm_fee = fee_of(&mut w, BTC);
    // 5 bp of about 20,010 USD.
    assert!(
        (calm_fee - 10 * USD as i128).abs() <= USD as i128,
        "calm fee {calm_fee}"
    );

    // Short-horizon volatility runs far above the forecast: the multiplier hits its bound (4).
    w.swing(6, 600);
    let stressed = w.risk();
    assert_eq!(stressed.stress_multiplier, Fixed::from_int(4));
    let answer: ballast_risk::StressFee = w.h.read("stress_fee", (MARKET,)).unwrap();
    assert!(answer.vol_ratio > Fixed::from_int(3));
    let price = w.price as i128;
    let growing_fee = fee_of(&mut w, BTC);
    let expected = 4 * 5 * price * USD as i128 / 10_000;
    assert!(
        (growing_fee - expected).abs() <= expected / 100,
        "growing fee {growing_fee} vs {expected}"
    );
    let reducing_fee = fee_of(&mut w, -BTC);
    assert!(
        (reducing_fee - expected / 4).abs() <= expected / 100,
        "reducing fee {reducing_fee}"
    );
}
