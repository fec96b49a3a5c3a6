//! Sub-accounts through the deployed engine: an owner's isolated sub-account is filled by a
//! venue like any account, is liquidated on its own when the price falls, and its loss never
//! reaches the owner's main account; collateral moves between one owner's accounts only on the
//! terms of a withdrawal; nobody else can open, fund, drain or move another owner's accounts.
//! Each scenario ends with the books reconciled to the token balance the engine holds.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_drink_tests::interface::events::{CollateralMoved, SubAccountOpened};
use ballast_drink_tests::interface::{AccountView, EngineError, HealthReport, MarginMode};
use ballast_drink_tests::*;
use ballast_risk::RiskError;
use drink::AccountId32;

const BTC_MARKET: u32 = 1;
const ETH_MARKET: u32 = 2;
const T0: u64 = 1_667_865_600_000; // 2022-11-08 00:00 UTC
const MINUTE: u64 = 60_000;

fn owner_of_subs() -> AccountId32 {
    account(2)
}
fn stranger() -> AccountId32 {
    account(3)
}
fn maker() -> AccountId32 {
    account(4)
}
fn keeper() -> AccountId32 {
    account(5)
}
fn venue() -> AccountId32 {
    account(20)
}
fn treasury() -> AccountId32 {
    account(21)
}
fn btc_feeders() -> [AccountId32; 3] {
    [account(11), account(12), account(13)]
}
fn eth_feeders() -> [AccountId32; 3] {
    [account(14), account(15), account(16)]
}

/// BTC at 20,000 and ETH at 1,500 with a calm prior volatility, an authorized venue, a deep
/// maker and a keeper with collateral, and the trader holding 20,000 USD of tokens.
fn world() -> Harness {
    let mut h = Harness::new(T0);
    for n in (2u8..=5).chain(11..=16).chain([20, 21]) {
        h.fund_native(&account(n));
    }
    let calm = OracleConfig {
        initial_annualized_vol: Fixed::from_ratio(30, 100).unwrap(),
        ..OracleConfig::default()
    };
    for (market, feeders, price) in [
        (BTC_MARKET, btc_feeders(), 20_000),
        (ETH_MARKET, eth_feeders(), 1_500),
    ] {
        let config = MarketConfig::default_large_cap(Decimals {
            base: 8,
            quote: QUOTE_DECIMALS,
        });
        h.list_market_with_feeders(market, config, calm.clone(), &feeders);
        h.report(market, &feeders, Fixed::from_int(price));
    }
    for market in [BTC_MARKET, ETH_MARKET] {
        h.authorize_venue(market, &venue());
    }
    for (who, amount) in [(maker(), 5_000_000 * USD), (keeper(), 1_000_000 * USD)] {
        h.give_tokens(&who, amount);
        h.approve_engine(&who, amount);
        h.engine::<()>(&who, "deposit", (amount,)).expect("deposit");
        for market in [BTC_MARKET, ETH_MARKET] {
            h.approve_venue(&who, market, &venue());
        }
    }
    h.give_tokens(&owner_of_subs(), 20_000 * USD);
    h.approve_engine(&owner_of_subs(), 20_000 * USD);
    h
}

/// `owner` approves the venue for its accounts `indices` in both markets.
fn approve_venue_for(h: &mut Harness, owner: &AccountId32, indices: &[u8]) {
    let granted = ballast_interface::Approval::Granted;
    for &index in indices {
        for market in [BTC_MARKET, ETH_MARKET] {
            h.engine::<()>(owner, "approve_venue", (index, market, venue(), granted))
                .expect("approve venue");
        }
    }
}

fn fill(
    h: &mut Harness,
    market: u32,
    taker: &AccountId32,
    size: i128,
    price: i64,
) -> Result<(), EngineError> {
    h.engine(
        &venue(),
        "fill",
        (
            market,
            taker.clone(),
            maker(),
            size,
            Fixed::from_int(price),
            0u128,
            0u128,
            treasury(),
        ),
    )
}

fn view(h: &mut Harness, who: &AccountId32) -> AccountView {
    h.query("account", (who.clone(),))
}

/// The books against the token, to the unit (see `Harness::assert_reconciled`).
fn reconcile(h: &mut Harness, accounts: &[AccountId32]) {
    h.assert_reconciled(accounts, &[BTC_MARKET, ETH_MARKET]);
}

fn usd(v: u128) -> i128 {
    (v * USD) as i128
}

#[test]
fn an_isolated_sub_account_is_liquidated_alone_and_its_loss_stays_in_it() {
    let mut h = world();
    let trader = owner_of_subs();
    let sub: AccountId32 = h
        .engine(&trader, "open_sub_account", (1u8, MarginMode::Isolated))
        .expect("opens");
    let opened = h.engine_events::<SubAccountOpened>();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].mode, MarginMode::Isolated);
    let expected: AccountId32 = h.query("sub_account", (trader.clone(), 1u8));
    assert_eq!(
        sub, expected,
        "the view and the message agree on the address"
    );
    assert_ne!(sub, trader);
    assert_eq!(view(&mut h, &sub).margin, MarginMode::Isolated);
    assert_eq!(view(&mut h, &trader).margin, MarginMode::Cross);
    approve_venue_for(&mut h, &trader, &[0, 1]);
    h.engine::<()>(&trader, "deposit_to", (1u8, 1_000 * USD))
        .expect("funds the sub-account");
    h.engine::<()>(&trader, "deposit", (10_000 * USD,))
        .expect("funds the main account");

    // 10x in the isolated sub-account; the main account holds ETH, fully backed.
    fill(&mut h, BTC_MARKET, &sub, BTC / 2, 20_000).expect("10x BTC in the sub-account");
    fill(&mut h, ETH_MARKET, &trader, BTC, 1_500).expect("ETH in the main account");
    // An isolated account holds one market at a time.
    assert_eq!(
        fill(&mut h, ETH_MARKET, &sub, BTC, 1_500),
        Err(EngineError::Risk(RiskError::IsolatedAccount))
    );
    let main_before = view(&mut h, &trader);
    let main_health_before: HealthReport = h.read("health", (trader.clone(),)).unwrap();

    // BTC falls 12%: the sub-account is below maintenance, the main account is not touched.
    for (step, price) in [19_500, 19_000, 18_500, 18_000, 17_600]
        .into_iter()
        .enumerate()
    {
        h.set_time(T0 + (step as u64 + 1) * MINUTE);
        h.report(BTC_MARKET, &btc_feeders(), Fixed::from_int(price));
        h.report(ETH_MARKET, &eth_feeders(), Fixed::from_int(1_500));
    }
    let sub_health: HealthReport = h.read("health", (sub.clone(),)).unwrap();
    assert!(
        sub_health.maintenance.surplus().unwrap() < 0,
        "{sub_health:?}"
    );
    let mut calls = 0;
    while !view(&mut h, &sub).positions.is_empty() {
        h.engine::<()>(&keeper(), "liquidate", (sub.clone(), BTC_MARKET))
            .expect("the sub-account is liquidatable");
        calls += 1;
        assert!(calls <= 4, "more liquidation calls than the engine's bound");
    }
    // The owner's main account cannot be liquidated, and nothing of it moved.
    assert_eq!(
        h.engine::<()>(&keeper(), "liquidate", (trader.clone(), ETH_MARKET)),
        Err(EngineError::Risk(RiskError::NotLiquidatable))
    );
    assert_eq!(view(&mut h, &trader), main_before);
    let main_health: HealthReport = h.read("health", (trader.clone(),)).unwrap();
    assert_eq!(main_health, main_health_before);
    // What is left of the sub-account goes back to its owner.
    let left = view(&mut h, &sub).collateral;
    assert!(left >= 0);
    if left > 0 {
        h.engine::<()>(&trader, "withdraw_from", (1u8, left as u128))
            .expect("the rest of the sub-account");
    }
    reconcile(&mut h, &[trader, sub, maker(), keeper(), treasury()]);
}

#[test]
fn collateral_moves_between_an_owners_accounts_only_on_withdrawal_terms() {
    let mut h = world();
    let trader = owner_of_subs();
    let sub: AccountId32 = h
        .engine(&trader, "open_sub_account", (1u8, MarginMode::Cross))
        .unwrap();
    approve_venue_for(&mut h, &trader, &[0, 1]);
    h.engine::<()>(&trader, "deposit", (2_000 * USD,)).unwrap();
    let engine = h.engine.clone();
    let tokens_before = h.balance(&engine);
    h.engine::<()>(&trader, "move_collateral", (0u8, 1u8, 2_000 * USD))
        .expect("a flat account moves everything");
    let moved = h.engine_events::<CollateralMoved>();
    assert_eq!(moved.len(), 1);
    let bytes = |a: &AccountId32| <[u8; 32]>::from(a.clone());
    assert_eq!(
        (*moved[0].from.as_ref(), *moved[0].to.as_ref()),
        (bytes(&trader), bytes(&sub))
    );
    assert_eq!(h.balance(&engine), tokens_before, "no token moves");
    assert_eq!(view(&mut h, &sub).collateral, usd(2_000));
    assert_eq!(view(&mut h, &trader).collateral, 0);

    // 8x in the sub-account: moving collateral out faces the target initial requirement.
    fill(&mut h, BTC_MARKET, &sub, 8 * BTC / 10, 20_000).unwrap();
    let health: HealthReport = h.read("health", (sub.clone(),)).unwrap();
    let free = health.initial.surplus().unwrap();
    assert!(free > 0 && free < usd(2_000), "{health:?}");
    let before = (view(&mut h, &sub), view(&mut h, &trader));
    assert_eq!(
        h.engine::<()>(&trader, "move_collateral", (1u8, 0u8, free as u128 + USD)),
        Err(EngineError::Risk(RiskError::InsufficientMargin))
    );
    assert_eq!(
        h.engine::<()>(&trader, "withdraw_from", (1u8, free as u128 + USD)),
        Err(EngineError::Risk(RiskError::InsufficientMargin))
    );
    assert_eq!(
        (view(&mut h, &sub), view(&mut h, &trader)),
        before,
        "refusals change nothing"
    );
    h.engine::<()>(&trader, "move_collateral", (1u8, 0u8, free as u128))
        .expect("exactly the free collateral");
    assert_eq!(view(&mut h, &trader).collateral, free);
    assert_eq!(
        h.engine::<()>(&trader, "move_collateral", (1u8, 1u8, USD)),
        Err(EngineError::SameAccount)
    );
    reconcile(&mut h, &[trader, sub, maker(), keeper(), treasury()]);
}

#[test]
fn nobody_else_can_open_fund_drain_or_move_an_owners_accounts() {
    let mut h = world();
    let trader = owner_of_subs();
    let sub: AccountId32 = h
        .engine(&trader, "open_sub_account", (1u8, MarginMode::Cross))
        .unwrap();
    approve_venue_for(&mut h, &trader, &[0, 1]);
    h.engine::<()>(&trader, "deposit_to", (1u8, 3_000 * USD))
        .unwrap();
    let thief = stranger();
    h.give_tokens(&thief, 1_000 * USD);
    h.approve_engine(&thief, 1_000 * USD);
    let before = (view(&mut h, &sub), view(&mut h, &trader));
    // The thief's index 1 is the thief's own (unopened) sub-account, never the trader's.
    assert_eq!(
        h.engine::<()>(&thief, "withdraw_from", (1u8, USD)),
        Err(EngineError::UnknownSubAccount)
    );
    assert_eq!(
        h.engine::<()>(&thief, "move_collateral", (1u8, 0u8, USD)),
        Err(EngineError::UnknownSubAccount)
    );
    assert_eq!(
        h.engine::<()>(&thief, "deposit_to", (1u8, USD)),
        Err(EngineError::UnknownSubAccount)
    );
    // Opening the same index is refused for the owner; index 0 is the owner's own account.
    assert_eq!(
        h.engine::<AccountId32>(&trader, "open_sub_account", (1u8, MarginMode::Isolated)),
        Err(EngineError::SubAccountExists)
    );
    assert_eq!(
        h.engine::<AccountId32>(&trader, "open_sub_account", (0u8, MarginMode::Isolated)),
        Err(EngineError::SubAccountExists)
    );
    // The thief opening its own index 1 gets another address.
    let own: AccountId32 = h
        .engine(&thief, "open_sub_account", (1u8, MarginMode::Cross))
        .unwrap();
    assert_ne!(own, sub);
    assert_eq!((view(&mut h, &sub), view(&mut h, &trader)), before);
    // Only the owner withdraws, to itself.
    let tokens = h.balance(&trader);
    h.engine::<()>(&trader, "withdraw_from", (1u8, 3_000 * USD))
        .unwrap();
    assert_eq!(h.balance(&trader), tokens + 3_000 * USD);
    reconcile(
        &mut h,
        &[trader, sub, own, thief, maker(), keeper(), treasury()],
    );
}

#[test]
fn a_global_halt_stops_opening_and_moving_but_never_a_flat_exit() {
    let mut h = world();
    let trader = owner_of_subs();
    let sub: AccountId32 = h
        .engine(&trader, "open_sub_account", (1u8, MarginMode::Cross))
        .unwrap();
    approve_venue_for(&mut h, &trader, &[0, 1]);
    h.engine::<()>(&trader, "deposit_to", (1u8, 1_000 * USD))
        .unwrap();
    h.engine::<()>(&trader, "deposit", (1_000 * USD,)).unwrap();
    let owner = h.owner.clone();
    h.engine::<()>(&owner, "halt_all", ()).unwrap();
    let before = (view(&mut h, &sub), view(&mut h, &trader));
    assert_eq!(
        h.engine::<AccountId32>(&trader, "open_sub_account", (2u8, MarginMode::Cross)),
        Err(EngineError::Halted)
    );
    assert_eq!(
        h.engine::<()>(&trader, "move_collateral", (0u8, 1u8, USD)),
        Err(EngineError::Halted)
    );
    assert_eq!(
        h.engine::<()>(&trader, "deposit_to", (1u8, USD)),
        Err(EngineError::Halted)
    );
    assert_eq!((view(&mut h, &sub), view(&mut h, &trader)), before);
    // Flat accounts leave, halt or not.
    h.engine::<()>(&trader, "withdraw_from", (1u8, 1_000 * USD))
        .expect("a flat sub-account withdraws during a halt");
    assert_eq!(view(&mut h, &sub).collateral, 0);
    reconcile(&mut h, &[trader, sub, maker(), keeper(), treasury()]);
}
