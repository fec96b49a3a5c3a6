//! The reference venue and the engine together: two venues on one engine (cross-margin across
//! venues), traders going through the venues only, a venue without authorization, a venue
//! de-authorized mid-run, reduce-only seen by the venue, a liquidation caused by a price move on
//! one venue's market, funding from skew, and an exact reconciliation of every token at the end.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_drink_tests::interface::{AccountView, EngineError, HealthReport, MarketRisk};
use ballast_drink_tests::*;
use ballast_risk::BreakerState;
use drink::AccountId32;
use parity_scale_codec::Decode;

const T0: u64 = 1_667_865_600_000;
const BTC_MARKET: u32 = 1;
const ETH_MARKET: u32 = 2;

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
    venue_a: AccountId32,
    venue_b: AccountId32,
    treasury: AccountId32,
    feeders: Vec<AccountId32>,
}

fn report(w: &mut World, market: u32, price: Fixed) {
    let base = if market == BTC_MARKET { 0 } else { 3 };
    let feeders = w.feeders[base..base + 3].to_vec();
    w.h.report(market, &feeders, price);
}

fn venue_call<T: Decode>(
    w: &mut World,
    who: &AccountId32,
    venue: &AccountId32,
    label: &str,
    args: impl parity_scale_codec::Encode,
) -> Result<T, VenueError> {
    w.h.call::<Result<T, VenueError>>(who, venue, label, args)
        .unwrap_or_else(|f| panic!("venue {label} trapped: {f:?}"))
}

fn deploy_venue(h: &mut Harness, market: u32, treasury: &AccountId32, salt: u8) -> AccountId32 {
    let (engine, token) = (h.engine.clone(), h.token.clone());
    let args = (
        engine,
        token,
        market,
        Fixed::from_ratio(5, 10_000).unwrap(), // 5 bp half-spread
        Fixed::from_ratio(5, 10_000).unwrap(), // 5 bp fee
        treasury.clone(),
        Fixed::from_ratio(1, 1_000).unwrap(), // 0.1% per hour at full skew
        10 * BTC,
    );
    h.deploy("ballast_venue", "new", args, vec![salt])
}

fn world() -> World {
    let mut h = Harness::new(T0);
    let owner = h.owner.clone();
    let treasury = account(50);
    let feeders: Vec<AccountId32> = (60..66).map(account).collect();
    for who in feeders.iter().chain([&treasury]) {
        h.fund_native(who);
    }
    for (market, base) in [(BTC_MARKET, 0usize), (ETH_MARKET, 3)] {
        let config = MarketConfig::default_large_cap(Decimals {
            base: 8,
            quote: QUOTE_DECIMALS,
        });
        h.list_market_with_feeders(
            market,
            config,
            OracleConfig::default(),
            &feeders[base..base + 3],
        );
    }
    let venue_a = deploy_venue(&mut h, BTC_MARKET, &treasury, 10);
    let venue_b = deploy_venue(&mut h, ETH_MARKET, &treasury, 11);
    let mut w = World {
        h,
        venue_a,
        venue_b,
        treasury,
        feeders,
    };
    report(&mut w, BTC_MARKET, Fixed::from_int(20_000));
    report(&mut w, ETH_MARKET, Fixed::from_int(1_500));
    for (venue, market) in [
        (w.venue_a.clone(), BTC_MARKET),
        (w.venue_b.clone(), ETH_MARKET),
    ] {
        w.h.authorize_venue(market, &venue);
        w.h.fund_native(&venue);
        // The owner funds the venue's liquidity account in the engine: owner -> venue -> engine
        // -> token, three frames.
        let amount = 5_000_000 * USD;
        let token = w.h.token.clone();
        let approved: Result<(), psp22::PSP22Error> =
            w.h.call(&owner, &token, "PSP22::approve", (venue.clone(), amount))
                .unwrap();
        approved.unwrap();
        venue_call::<()>(&mut w, &owner, &venue, "provide_liquidity", (amount,))
            .expect("liquidity");
    }
    w
}

fn deposit(h: &mut Harness, who: &AccountId32, amount: u128) {
    h.fund_native(who);
    h.give_tokens(who, amount);
    h.approve_engine(who, amount);
    h.engine::<()>(who, "deposit", (amount,)).expect("deposit");
}

#[test]
fn two_venues_one_engine() {
    let mut w = world();
    let owner = w.h.owner.clone();
    let (a, b) = (w.venue_a.clone(), w.venue_b.clone());
    let trader = account(2);
    deposit(&mut w.h, &trader, 10_000 * USD);
    // A venue sending fills directly, for the weight comparison; it is its own maker.
    let direct_venue = account(70);
    deposit(&mut w.h, &direct_venue, 1_000_000 * USD);
    w.h.authorize_venue(BTC_MARKET, &direct_venue);
    for (venue, market) in [
        (&a, BTC_MARKET),
        (&b, ETH_MARKET),
        (&direct_venue, BTC_MARKET),
    ] {
        w.h.approve_venue(&trader, market, venue);
    }

    // Trades through both venues: one cross-margined account with two positions.
    venue_call::<()>(&mut w, &trader, &a, "trade", (BTC / 2,)).expect("buy 0.5 BTC via venue A");
    let venue_trade = w.h.last_gas;
    venue_call::<()>(&mut w, &trader, &b, "trade", (40 * BTC,)).expect("buy 40 ETH via venue B");
    let view: AccountView = w.h.query("account", (trader.clone(),));
    assert_eq!(
        view.positions
            .iter()
            .map(|(m, p)| (*m, p.size))
            .collect::<Vec<_>>(),
        vec![(BTC_MARKET, BTC / 2), (ETH_MARKET, 40 * BTC)]
    );
    let health: HealthReport = w.h.read("health", (trader.clone(),)).unwrap();
    assert!(health.initial.requirement > 0 && health.initial.surplus().unwrap() >= 0);
    // The venues are the makers and hold the opposite positions.
    let va: AccountView = w.h.query("account", (a.clone(),));
    assert_eq!(va.positions[0].1.size, -BTC / 2);
    // Fees reached the treasury's engine account.
    let treasury: AccountView = w.h.query("account", (w.treasury.clone(),));
    assert!(treasury.collateral > 0);

    // The same fill sent by an authorized account directly, for the weight comparison.
    w.h.engine::<()>(
        &direct_venue,
        "fill",
        (
            BTC_MARKET,
            trader.clone(),
            direct_venue.clone(),
            BTC / 100,
            Fixed::from_int(20_000),
            0u128,
            0u128,
            w.treasury.clone(),
        ),
    )
    .unwrap();
    let direct_fill = w.h.last_gas;
    println!(
        "trade through venue: ref_time {} proof_size {}; fill sent directly: ref_time {} proof_size {}",
        venue_trade.ref_time, venue_trade.proof_size, direct_fill.ref_time, direct_fill.proof_size
    );
    assert!(venue_trade.ref_time > direct_fill.ref_time);

    // Too large: the venue asks the engine first and says how much is allowed.
    match venue_call::<()>(&mut w, &trader, &a, "trade", (100 * BTC,)) {
        Err(VenueError::TooLarge(allowed)) => assert!(allowed > 0 && allowed < 100 * BTC),
        other => panic!("expected TooLarge, got {other:?}"),
    }

    // An unauthorized venue is refused by the engine, as a typed error at the venue.
    let rogue = deploy_venue(&mut w.h, BTC_MARKET, &w.treasury.clone(), 12);
    assert_eq!(
        venue_call::<()>(&mut w, &trader, &rogue, "trade", (BTC / 100,)),
        Err(VenueError::Engine(EngineError::Unauthorized))
    );

    // Venue B is a venue of ETH only: in BTC it is refused.
    assert_eq!(
        w.h.engine::<()>(
            &b,
            "fill",
            (
                BTC_MARKET,
                trader.clone(),
                b.clone(),
                BTC / 100,
                Fixed::from_int(20_000),
                0u128,
                0u128,
                b.clone()
            )
        ),
        Err(EngineError::Unauthorized)
    );

    // Reduce-only seen by the venue: a 9% drop in BTC within the hour.
    w.h.set_time(T0 + 20 * 60_000);
    report(&mut w, BTC_MARKET, Fixed::from_int(18_200));
    report(&mut w, ETH_MARKET, Fixed::from_int(1_500));
    let (_, reduce_only): (Fixed, bool) =
        venue_call(&mut w, &trader, &a, "quote", (true,)).unwrap();
    assert!(reduce_only);
    assert_eq!(
        venue_call::<()>(&mut w, &trader, &a, "trade", (BTC / 100,)),
        Err(VenueError::ReduceOnly)
    );
    venue_call::<()>(&mut w, &trader, &a, "trade", (-BTC / 10,)).expect("reducing trade passes");

    // A price move on venue B's market puts the cross-margined account below maintenance; a
    // keeper liquidates it there.
    w.h.set_time(T0 + 25 * 60_000);
    report(&mut w, BTC_MARKET, Fixed::from_int(18_200));
    report(&mut w, ETH_MARKET, Fixed::from_int(1_300));
    let health: HealthReport = w.h.read("health", (trader.clone(),)).unwrap();
    assert!(health.maintenance.surplus().unwrap() < 0, "{health:?}");
    let keeper = account(80);
    deposit(&mut w.h, &keeper, 1_000_000 * USD);
    w.h.engine::<()>(&keeper, "liquidate", (trader.clone(), ETH_MARKET))
        .expect("liquidation");
    let risk: MarketRisk = w.h.read("market_risk", (ETH_MARKET,)).unwrap();
    assert_eq!(risk.breaker, BreakerState::ReduceOnly); // a 13.3% move: reduce-only, liquidations run

    // Funding from venue A's skew (traders net long BTC, so longs pay).
    w.h.set_time(T0 + 85 * 60_000);
    report(&mut w, BTC_MARKET, Fixed::from_int(18_300));
    report(&mut w, ETH_MARKET, Fixed::from_int(1_300));
    venue_call::<()>(&mut w, &keeper, &a, "update_funding", ()).expect("funding");
    assert_eq!(
        w.h.engine::<()>(
            &keeper,
            "fill",
            (
                BTC_MARKET,
                trader.clone(),
                a.clone(),
                BTC / 100,
                Fixed::from_int(18_300),
                0u128,
                0u128,
                keeper.clone()
            )
        ),
        Err(EngineError::Unauthorized)
    );

    // Venue A revoked mid-run: its trades fail, venue B keeps working.
    w.h.engine::<()>(&owner, "revoke_venue", (BTC_MARKET, a.clone()))
        .unwrap();
    assert_eq!(
        venue_call::<()>(&mut w, &trader, &a, "trade", (-BTC / 100,)),
        Err(VenueError::Engine(EngineError::Unauthorized))
    );
    venue_call::<()>(&mut w, &trader, &b, "trade", (-BTC,)).expect("venue B still trades");

    // Reconciliation: the token contract holds exactly what the engine's books say.
    let engine = w.h.engine.clone();
    let balance = w.h.balance(&engine) as i128;
    let mut accounted = w.h.query::<i128>("insurance_fund", ());
    for market in [BTC_MARKET, ETH_MARKET] {
        accounted += w.h.read::<i128>("settlement_pool", (market,)).unwrap();
    }
    for who in [trader, a, b, w.treasury.clone(), keeper, direct_venue] {
        let v: AccountView = w.h.query("account", (who,));
        accounted += v.collateral + v.positions.iter().map(|(_, p)| p.quote).sum::<i128>();
    }
    assert_eq!(balance, accounted);
    assert_eq!(balance, w.h.query::<i128>("net_deposits", ()));
}
