//! Every engine message in the drink sandbox (the real pallet-contracts runtime): its happy path
//! with the events it emits, and each of its bad inputs. A refused call must answer with the
//! exact typed error, emit no event and change nothing: `refused` compares a `snapshot` of every
//! observable quantity (token balances, account views, health, market risk, settlement pool,
//! insurance fund, net deposits, roles, venue flags) before and after the call.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::too_many_arguments
)]

use ballast_drink_tests::interface::events::*;
use ballast_drink_tests::interface::{
    AccountView, EngineError, HealthReport, MarginMode, MarketRisk,
};
use ballast_drink_tests::*;
use ballast_math::{MathError, Rounding};
use ballast_oracle::{ConfigError, OracleError};
use ballast_risk::margin::VolFractions;
use ballast_risk::{BreakerState, ConfigRule, MarginParams, Position, RiskError};
use drink::AccountId32;
use parity_scale_codec::Encode;

use EngineError::{Halted, InvalidAmount, NotPendingOwner, SameAccount, Unauthorized};

const MARKET: u32 = 1;
/// A second market, listed by some tests.
const MARKET2: u32 = 2;
/// Never listed.
const UNKNOWN: u32 = 99;
const T0: u64 = 1_667_865_600_000; // 2022-11-08 00:00 UTC
const SECOND: u64 = 1_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 3_600_000;

// ----- cast -----

fn owner() -> AccountId32 {
    account(1)
}
/// Trader (usually the long side).
fn alice() -> AccountId32 {
    account(2)
}
/// The guardian, distinct from the owner (see `setup`).
fn guardian() -> AccountId32 {
    account(3)
}
/// Trader (usually the short side).
fn bob() -> AccountId32 {
    account(4)
}
/// Third trader.
fn carol() -> AccountId32 {
    account(5)
}
/// Fee recipient.
fn treasury() -> AccountId32 {
    account(6)
}
/// Liquidator.
fn keeper() -> AccountId32 {
    account(8)
}
/// An account with no role and no collateral.
fn stranger() -> AccountId32 {
    account(9)
}
/// Candidate owner.
fn heir() -> AccountId32 {
    account(10)
}
/// A feeder not yet registered.
fn new_feeder() -> AccountId32 {
    account(14)
}
/// The authorized venue.
fn venue() -> AccountId32 {
    account(20)
}
/// A second venue candidate.
fn venue2() -> AccountId32 {
    account(21)
}

fn feeders() -> [AccountId32; 3] {
    [account(11), account(12), account(13)]
}

/// The ink! account id of a sandbox account (event fields use it).
fn id(a: &AccountId32) -> ink::primitives::AccountId {
    let bytes: &[u8; 32] = a.as_ref();
    ink::primitives::AccountId::from(*bytes)
}

fn px(v: i64) -> Fixed {
    Fixed::from_int(v)
}

fn ratio(n: i128, d: i128) -> Fixed {
    Fixed::from_ratio(n, d).unwrap()
}

fn usd(whole: u128) -> u128 {
    whole * USD
}

fn iusd(whole: i128) -> i128 {
    whole * USD as i128
}

fn default_config() -> MarketConfig {
    MarketConfig::default_large_cap(Decimals {
        base: 8,
        quote: QUOTE_DECIMALS,
    })
}

// ----- fixture (copied from engine.rs) -----

/// Token, engine, one BTC market with three feeders and a first price of 20,000.
fn world() -> Harness {
    let mut h = Harness::new(T0);
    for n in [2u8, 3, 4, 5, 6, 11, 12, 13, 20] {
        h.fund_native(&account(n));
    }
    h.list_market_with_feeders(
        MARKET,
        default_config(),
        OracleConfig::default(),
        &feeders(),
    );
    report_all(&mut h, px(20_000));
    h
}

/// `world` plus a guardian distinct from the owner and one authorized venue.
fn setup() -> Harness {
    let mut h = world();
    for n in [7u8, 8, 9, 10, 14, 21] {
        h.fund_native(&account(n));
    }
    h.engine::<()>(&owner(), "set_guardian", (guardian(),))
        .expect("guardian");
    h.authorize_venue(MARKET, &venue());
    h
}

/// All three feeders report `price` (confidence 1 bp) stamped now; returns the breaker
/// transitions the reports emitted, in order.
fn report_all(h: &mut Harness, price: Fixed) -> Vec<BreakerChanged> {
    h.report(MARKET, &feeders(), price).transitions
}

/// `who` deposits `amount` and approves the venue in MARKET (a trader signing up).
fn deposit(h: &mut Harness, who: &AccountId32, amount: u128) {
    deposit_only(h, who, amount);
    h.approve_venue(who, MARKET, &venue());
}

/// `who` deposits `amount`, approving no venue.
fn deposit_only(h: &mut Harness, who: &AccountId32, amount: u128) {
    h.give_tokens(who, amount);
    h.approve_engine(who, amount);
    h.engine::<()>(who, "deposit", (amount,)).expect("deposit");
}

type FillArgs = (
    u32,
    AccountId32,
    AccountId32,
    i128,
    Fixed,
    u128,
    u128,
    AccountId32,
);

fn fill_args(
    market: u32,
    taker: &AccountId32,
    maker: &AccountId32,
    size: i128,
    price: Fixed,
    taker_fee: u128,
    maker_fee: u128,
) -> FillArgs {
    (
        market,
        taker.clone(),
        maker.clone(),
        size,
        price,
        taker_fee,
        maker_fee,
        treasury(),
    )
}

/// A fee-less fill in MARKET reported by the venue.
fn fill(
    h: &mut Harness,
    taker: &AccountId32,
    maker: &AccountId32,
    size: i128,
    price: Fixed,
) -> Result<(), EngineError> {
    h.engine::<()>(
        &venue(),
        "fill",
        fill_args(MARKET, taker, maker, size, price, 0, 0),
    )
}

fn view(h: &mut Harness, who: &AccountId32) -> AccountView {
    h.query("account", (who.clone(),))
}

fn health(h: &mut Harness, who: &AccountId32) -> HealthReport {
    h.read("health", (who.clone(),)).expect("health")
}

fn risk(h: &mut Harness) -> MarketRisk {
    h.read("market_risk", (MARKET,)).expect("market_risk")
}

fn size_of(h: &mut Harness, who: &AccountId32) -> i128 {
    view(h, who)
        .positions
        .iter()
        .find(|(m, _)| *m == MARKET)
        .map(|(_, p)| p.size)
        .unwrap_or(0)
}

type Roles = (
    AccountId32,
    Option<AccountId32>,
    AccountId32,
    AccountId32,
    bool,
);

fn roles(h: &mut Harness) -> Roles {
    h.query("roles", ())
}

// ----- snapshot and refusal -----

/// Everything a refused call must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    engine_balance: u128,
    balances: Vec<u128>,
    accounts: Vec<AccountView>,
    health: Vec<Result<HealthReport, EngineError>>,
    venues: Vec<bool>,
    approvals: Vec<interface::Approval>,
    announced: Option<ballast_risk::governance::AnnouncedChange>,
    market_risk: Result<MarketRisk, EngineError>,
    market2_risk: Result<MarketRisk, EngineError>,
    settlement_pool: Result<i128, EngineError>,
    insurance_fund: i128,
    net_deposits: i128,
    roles: Roles,
}

fn snapshot(h: &mut Harness, who: &[AccountId32]) -> Snapshot {
    let engine = h.engine.clone();
    Snapshot {
        engine_balance: h.balance(&engine),
        balances: who.iter().map(|a| h.balance(a)).collect(),
        accounts: who.iter().map(|a| view(h, a)).collect(),
        health: who.iter().map(|a| h.read("health", (a.clone(),))).collect(),
        venues: who
            .iter()
            .map(|a| h.query("is_venue", (MARKET, a.clone())))
            .collect(),
        approvals: who
            .iter()
            .flat_map(|a| [venue(), venue2()].map(|v| (a.clone(), v)))
            .map(|(a, v)| h.query("venue_approval", (a, MARKET, v)))
            .collect(),
        announced: h.query("announced_change", (MARKET,)),
        market_risk: h.read("market_risk", (MARKET,)),
        market2_risk: h.read("market_risk", (MARKET2,)),
        settlement_pool: h.read("settlement_pool", (MARKET,)),
        insurance_fund: h.query("insurance_fund", ()),
        net_deposits: h.query("net_deposits", ()),
        roles: roles(h),
    }
}

/// Calls `label` as `who` and asserts: the exact error, no engine event, and an unchanged
/// snapshot over `involved` (the caller is always included).
#[track_caller]
fn refused(
    h: &mut Harness,
    who: &AccountId32,
    label: &str,
    args: impl Encode,
    expected: EngineError,
    involved: &[AccountId32],
) {
    let mut accounts = involved.to_vec();
    if !accounts.contains(who) {
        accounts.push(who.clone());
    }
    let before = snapshot(h, &accounts);
    let result = h.engine::<()>(who, label, args);
    assert_eq!(result, Err(expected), "{label} by {who}");
    assert_eq!(
        h.engine_event_count(),
        0,
        "{label} by {who} was refused but emitted events"
    );
    let after = snapshot(h, &accounts);
    assert_eq!(
        before, after,
        "{label} by {who} was refused but changed state"
    );
}

/// Everyone without the owner role: guardian, venue, a feeder, a trader, a stranger.
fn non_owners() -> Vec<AccountId32> {
    vec![
        guardian(),
        venue(),
        feeders()[0].clone(),
        alice(),
        stranger(),
    ]
}

fn valid_params() -> MarginParams {
    let mut p = default_config().margin;
    p.min_initial_fraction = ratio(20, 100);
    p
}

// ===================================================================================== roles

/// The deployment's roles and empty ledgers, read through every plain query.
#[test]
fn queries_on_a_fresh_deployment() {
    let mut h = world();
    let token = h.token.clone();
    // Deployer is owner and guardian, no pending owner, not halted.
    assert_eq!(roles(&mut h), (owner(), None, owner(), token, false));
    assert!(!h.query::<bool>("is_venue", (MARKET, venue())));
    assert!(!h.query::<bool>("is_venue", (MARKET, owner())));
    assert_eq!(h.query::<i128>("insurance_fund", ()), 0);
    assert_eq!(h.query::<i128>("net_deposits", ()), 0);
    assert_eq!(h.read::<i128>("settlement_pool", (MARKET,)), Ok(0));
    assert_eq!(
        h.read::<i128>("settlement_pool", (UNKNOWN,)),
        Err(EngineError::UnknownMarket)
    );
    // An account never seen is empty and has zero health.
    let empty = view(&mut h, &stranger());
    assert_eq!(
        empty,
        AccountView {
            collateral: 0,
            being_liquidated: false,
            positions: vec![],
            margin: MarginMode::Cross,
        }
    );
    let hr = health(&mut h, &stranger());
    assert_eq!((hr.initial.equity, hr.initial.requirement), (0, 0));
    assert_eq!((hr.maintenance.equity, hr.maintenance.requirement), (0, 0));
    assert_eq!(
        h.read::<Option<Fixed>>("liquidation_price", (stranger(), MARKET)),
        Ok(None)
    );
    assert_eq!(
        h.read::<Option<Fixed>>("liquidation_price", (stranger(), UNKNOWN)),
        Err(EngineError::UnknownMarket)
    );
    // Market risk: the first price, valid, calm, no open interest; leverage caps derived from
    // the applied (still zero, so the 5% floor: 20x) and target volatility fractions.
    let r = risk(&mut h);
    assert_eq!(r.oracle, px(20_000));
    assert_eq!(r.dampened, px(20_000));
    assert!(r.opening_valid && r.liquidation_valid);
    assert_eq!(r.breaker, BreakerState::Normal);
    assert_eq!(r.open_interest, 0);
    assert_eq!(r.forecast_vol, Fixed::ONE, "the 100% prior");
    let cfg = default_config();
    let target = VolFractions::for_vol(&cfg.margin, r.forecast_vol).unwrap();
    assert_eq!(r.target_initial_fraction, target.initial);
    assert_eq!(r.applied_initial_fraction, Fixed::ZERO);
    assert_eq!(
        r.applied_leverage_cap,
        Fixed::ONE
            .checked_div(cfg.margin.min_initial_fraction)
            .unwrap()
    );
    assert_eq!(
        r.new_position_leverage_cap,
        Fixed::ONE.checked_div(target.initial).unwrap()
    );
    assert_eq!(
        h.read::<MarketRisk>("market_risk", (UNKNOWN,)),
        Err(EngineError::UnknownMarket)
    );
}

/// Every owner-only message refuses the guardian, the venue, a feeder, a trader and a stranger
/// with `Unauthorized`, even where the owner's call would change something (the market and the
/// engine are halted, so a resume would).
#[test]
fn owner_only_messages_refuse_every_other_role() {
    let mut h = setup();
    h.engine::<()>(&guardian(), "halt_market", (MARKET,))
        .unwrap();
    h.engine::<()>(&guardian(), "halt_all", ()).unwrap();
    let cfg = default_config();
    let involved = vec![owner(), guardian(), venue(), venue2(), stranger()];
    for who in non_owners() {
        for (label, args) in [
            ("transfer_ownership", (who.clone(),).encode()),
            ("set_guardian", (who.clone(),).encode()),
            ("authorize_venue", (MARKET, venue2()).encode()),
            ("set_feeder", (MARKET, who.clone(), Some(5u8)).encode()),
            (
                "set_feeder",
                (MARKET, feeders()[1].clone(), None::<u8>).encode(),
            ),
            (
                "list_market",
                (MARKET2, cfg.clone(), OracleConfig::default()).encode(),
            ),
            (
                "announce_market_change",
                (MARKET, cfg.clone(), OracleConfig::default()).encode(),
            ),
            ("resume_market", (MARKET,).encode()),
            ("resume_all", ().encode()),
        ] {
            refused(&mut h, &who, label, RawArgs(args), Unauthorized, &involved);
        }
    }
    // The refused set_feeder calls gave nobody a slot and removed none.
    let now = h.now_ms;
    refused(
        &mut h,
        &stranger(),
        "submit_report",
        (MARKET, px(20_000), Fixed::ONE, now),
        EngineError::UnknownFeeder,
        &[],
    );
    h.engine::<()>(
        &feeders()[1],
        "submit_report",
        (MARKET, px(20_000), Fixed::ONE, now),
    )
    .expect("feeder kept its slot");
    // The market is still paused and the engine still halted.
    assert_eq!(risk(&mut h).breaker, BreakerState::Paused);
    assert!(roles(&mut h).4);
}

/// Already-encoded arguments (lets one loop call messages with different argument types).
struct RawArgs(Vec<u8>);

impl Encode for RawArgs {
    fn size_hint(&self) -> usize {
        self.0.len()
    }
    fn encode_to<W: parity_scale_codec::Output + ?Sized>(&self, dest: &mut W) {
        dest.write(&self.0);
    }
}

/// Ownership moves in two steps: the owner names a pending owner (event
/// `OwnershipTransferStarted`), only that account may accept (`OwnershipTransferred`), and
/// from then on the old owner has no owner rights while the new one has them.
#[test]
fn ownership_transfer_is_two_step_and_only_the_pending_owner_accepts() {
    let mut h = setup();
    let token = h.token.clone();
    let involved = vec![owner(), heir(), stranger()];
    // Nothing pending: nobody can accept, not even the owner.
    refused(
        &mut h,
        &heir(),
        "accept_ownership",
        (),
        NotPendingOwner,
        &involved,
    );
    refused(
        &mut h,
        &owner(),
        "accept_ownership",
        (),
        NotPendingOwner,
        &involved,
    );

    // Start a transfer to the stranger, then change it to the heir: the later one wins.
    h.engine::<()>(&owner(), "transfer_ownership", (stranger(),))
        .unwrap();
    h.engine::<()>(&owner(), "transfer_ownership", (heir(),))
        .unwrap();
    let started: Vec<OwnershipTransferStarted> = h.engine_events();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].pending_owner, id(&heir()));
    assert_eq!(h.engine_event_count(), 1);
    assert_eq!(
        roles(&mut h),
        (owner(), Some(heir()), guardian(), token.clone(), false)
    );

    // Only the pending owner accepts: the replaced candidate, the owner, the guardian, a venue
    // and a feeder are refused.
    for who in [
        stranger(),
        owner(),
        guardian(),
        venue(),
        feeders()[0].clone(),
    ] {
        refused(
            &mut h,
            &who,
            "accept_ownership",
            (),
            NotPendingOwner,
            &involved,
        );
    }
    // The owner keeps its rights until the transfer completes.
    h.engine::<()>(&owner(), "authorize_venue", (MARKET, venue2()))
        .unwrap();

    h.engine::<()>(&heir(), "accept_ownership", ()).unwrap();
    let done: Vec<OwnershipTransferred> = h.engine_events();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].owner, id(&heir()));
    assert_eq!(h.engine_event_count(), 1);
    assert_eq!(roles(&mut h), (heir(), None, guardian(), token, false));

    // Accepting twice fails: nothing is pending any more.
    refused(
        &mut h,
        &heir(),
        "accept_ownership",
        (),
        NotPendingOwner,
        &involved,
    );
    // The old owner lost every owner right; the new one has them.
    refused(
        &mut h,
        &owner(),
        "revoke_venue",
        (MARKET, venue2()),
        Unauthorized,
        &[venue2()],
    );
    refused(
        &mut h,
        &owner(),
        "transfer_ownership",
        (owner(),),
        Unauthorized,
        &involved,
    );
    h.engine::<()>(&heir(), "revoke_venue", (MARKET, venue2()))
        .unwrap();
    assert!(!h.query::<bool>("is_venue", (MARKET, venue2())));
}

/// The owner replaces the guardian (`GuardianChanged`); the replaced guardian can no longer
/// halt, the new one can. The guardian cannot appoint a guardian itself.
#[test]
fn set_guardian_replaces_the_guardian() {
    let mut h = setup();
    let involved = vec![guardian(), stranger()];
    refused(
        &mut h,
        &guardian(),
        "set_guardian",
        (stranger(),),
        Unauthorized,
        &involved,
    );
    h.engine::<()>(&owner(), "set_guardian", (stranger(),))
        .unwrap();
    let ev: Vec<GuardianChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].guardian, id(&stranger()));
    assert_eq!(h.engine_event_count(), 1);
    assert_eq!(roles(&mut h).2, stranger());
    // The old guardian lost the halt right.
    refused(&mut h, &guardian(), "halt_all", (), Unauthorized, &involved);
    refused(
        &mut h,
        &guardian(),
        "halt_market",
        (MARKET,),
        Unauthorized,
        &involved,
    );
    // The new one has it.
    h.engine::<()>(&stranger(), "halt_all", ()).unwrap();
    assert!(roles(&mut h).4);
}

/// The owner authorizes venues per market (`VenueChanged`, `is_venue`): at once while nobody
/// holds a position there, else only after the market's announcement delay (24 h), so traders
/// see a new venue coming; the owner or the guardian revokes one at once. Only a market's
/// venues report fills and funding there: the owner, the guardian, feeders, traders and a venue
/// not yet active are refused, and a revoked venue is refused from then on.
#[test]
fn venues_are_authorized_per_market_with_a_delay_and_revoked_at_once() {
    let mut h = setup();
    deposit(&mut h, &alice(), usd(10_000));
    deposit(&mut h, &bob(), usd(10_000));
    let involved = vec![alice(), bob(), treasury(), venue(), venue2()];
    assert!(h.query::<bool>("is_venue", (MARKET, venue())));
    assert!(!h.query::<bool>("is_venue", (MARKET, venue2())));

    // Non-venues cannot report fills or funding.
    let args = fill_args(MARKET, &alice(), &bob(), BTC / 10, px(20_000), 0, 0);
    for who in [owner(), guardian(), feeders()[0].clone(), alice(), venue2()] {
        refused(&mut h, &who, "fill", args.clone(), Unauthorized, &involved);
        refused(
            &mut h,
            &who,
            "update_funding",
            (MARKET, Fixed::ZERO),
            Unauthorized,
            &involved,
        );
    }
    // A position is open now: a second venue, and a new feeder, wait for the delay.
    h.engine::<()>(&venue(), "fill", args.clone()).unwrap();
    let now = h.now_ms;
    h.engine::<()>(&owner(), "authorize_venue", (MARKET, venue2()))
        .unwrap();
    let ev: Vec<VenueChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].market, ev[0].venue, ev[0].active_from_ms),
        (MARKET, id(&venue2()), Some(now + 24 * HOUR))
    );
    let late_feeder = new_feeder();
    h.engine::<()>(
        &owner(),
        "set_feeder",
        (MARKET, late_feeder.clone(), Some(5u8)),
    )
    .unwrap();
    let ev: Vec<FeederChanged> = h.engine_events();
    assert_eq!(ev[0].active_from_ms, Some(now + 24 * HOUR));
    refused(
        &mut h,
        &late_feeder,
        "submit_report",
        (MARKET, px(20_000), Fixed::ONE, now),
        EngineError::UnknownFeeder,
        &involved,
    );
    refused(
        &mut h,
        &late_feeder,
        "report_depth",
        (MARKET, usd(1), usd(1)),
        Unauthorized,
        &involved,
    );
    // The traders approve it in advance.
    for who in [alice(), bob()] {
        h.approve_venue(&who, MARKET, &venue2());
    }
    refused(
        &mut h,
        &owner(),
        "authorize_venue",
        (MARKET, venue2()),
        EngineError::VenueExists,
        &involved,
    );
    assert!(!h.query::<bool>("is_venue", (MARKET, venue2())));
    refused(
        &mut h,
        &venue2(),
        "fill",
        args.clone(),
        Unauthorized,
        &involved,
    );
    h.set_time(now + 24 * HOUR - 1);
    report_all(&mut h, px(20_000));
    refused(
        &mut h,
        &venue2(),
        "fill",
        args.clone(),
        Unauthorized,
        &involved,
    );
    h.set_time(now + 24 * HOUR);
    report_all(&mut h, px(20_000));
    assert!(h.query::<bool>("is_venue", (MARKET, venue2())));
    h.engine::<()>(&venue2(), "fill", args.clone()).unwrap();
    assert_eq!(size_of(&mut h, &alice()), 2 * BTC / 10);
    let now = h.now_ms;
    h.engine::<()>(
        &late_feeder,
        "submit_report",
        (MARKET, px(20_000), Fixed::ONE, now),
    )
    .expect("the feeder reports once its delay has passed");

    // The guardian revokes it mid-run: its next fill and funding update are refused.
    h.engine::<()>(&guardian(), "revoke_venue", (MARKET, venue2()))
        .unwrap();
    let ev: Vec<VenueChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].venue, ev[0].active_from_ms), (id(&venue2()), None));
    assert!(!h.query::<bool>("is_venue", (MARKET, venue2())));
    refused(
        &mut h,
        &venue2(),
        "fill",
        args.clone(),
        Unauthorized,
        &involved,
    );
    refused(
        &mut h,
        &venue2(),
        "update_funding",
        (MARKET, Fixed::ZERO),
        Unauthorized,
        &involved,
    );
    // The other venue is unaffected; revoking a venue that is not one is refused.
    h.engine::<()>(&venue(), "fill", args.clone()).unwrap();
    assert_eq!(size_of(&mut h, &alice()), 3 * BTC / 10);
    // Appointed again, the venue waits the delay again and starts with no approvals: the
    // traders' old ones were for its first appointment.
    h.engine::<()>(&owner(), "authorize_venue", (MARKET, venue2()))
        .unwrap();
    h.set_time(h.now_ms + 24 * HOUR);
    report_all(&mut h, px(20_000));
    assert_eq!(
        h.query::<interface::Approval>("venue_approval", (alice(), MARKET, venue2())),
        interface::Approval::Revoked
    );
    refused(
        &mut h,
        &venue2(),
        "fill",
        args.clone(),
        EngineError::VenueNotApproved,
        &involved,
    );
    for who in [alice(), stranger(), venue()] {
        refused(
            &mut h,
            &who,
            "revoke_venue",
            (MARKET, venue()),
            Unauthorized,
            &involved,
        );
    }
    refused(
        &mut h,
        &owner(),
        "revoke_venue",
        (MARKET, stranger()),
        Unauthorized,
        &involved,
    );
}

/// A venue appointed where nobody holds a position but an account holds an options book
/// waits the delay too: open interest counts perps only, the book is counted apart.
#[test]
fn an_options_book_alone_makes_a_new_venue_wait() {
    let mut h = setup();
    deposit(&mut h, &alice(), usd(10_000));
    let now = h.now_ms;
    let book = ballast_risk::OptionsReport {
        market: MARKET,
        buckets: vec![ballast_risk::ExpiryGreeks {
            expiry_ms: now + 7 * 24 * HOUR,
            delta: 0,
            gamma: -iusd(1_000),
            vega: -iusd(10),
            implied_vol: ratio(5, 10),
        }],
        venue_initial: 0,
        venue_maintenance: 0,
        mark_value: 0,
        pnl: 0,
        timestamp_ms: now,
        trade: true,
    };
    h.engine::<()>(&venue(), "report_options", (alice(), book))
        .expect("the book is reported");
    assert_eq!(risk(&mut h).open_interest, 0);
    h.engine::<()>(&owner(), "authorize_venue", (MARKET, venue2()))
        .unwrap();
    let ev: Vec<VenueChanged> = h.engine_events();
    assert_eq!(ev[0].active_from_ms, Some(now + 24 * HOUR));
    assert!(!h.query::<bool>("is_venue", (MARKET, venue2())));
}

/// Custody: a venue fills an account only where the account approved it, per market, as taker
/// and as maker (`VenueNotApproved`, nothing changed); revoking stops the venue at once, also
/// during a halt; an account approves only for itself (its sub-accounts through their index);
/// `VenueApproved` reports each change.
#[test]
fn a_venue_fills_only_accounts_that_approved_it() {
    let mut h = setup();
    deposit_only(&mut h, &alice(), usd(10_000));
    deposit_only(&mut h, &bob(), usd(10_000));
    let involved = vec![alice(), bob(), treasury(), venue()];
    let args = fill_args(MARKET, &alice(), &bob(), BTC / 10, px(20_000), 0, 0);
    refused(
        &mut h,
        &venue(),
        "fill",
        args.clone(),
        EngineError::VenueNotApproved,
        &involved,
    );
    let granted = interface::Approval::Granted;
    let revoked = interface::Approval::Revoked;
    h.engine::<()>(&alice(), "approve_venue", (0u8, MARKET, venue(), granted))
        .unwrap();
    let ev: Vec<VenueApproved> = h.engine_events();
    assert_eq!(
        (ev[0].account, ev[0].market, ev[0].venue, ev[0].approval),
        (id(&alice()), MARKET, id(&venue()), granted)
    );
    // The maker has not approved: still refused, as taker and as maker.
    refused(
        &mut h,
        &venue(),
        "fill",
        args.clone(),
        EngineError::VenueNotApproved,
        &involved,
    );
    let reversed = fill_args(MARKET, &bob(), &alice(), BTC / 10, px(20_000), 0, 0);
    refused(
        &mut h,
        &venue(),
        "fill",
        reversed,
        EngineError::VenueNotApproved,
        &involved,
    );
    // An approval of another venue does not count; no account can approve an address that is
    // not a venue of the market.
    refused(
        &mut h,
        &bob(),
        "approve_venue",
        (0u8, MARKET, venue2(), granted),
        Unauthorized,
        &involved,
    );
    h.authorize_venue(MARKET, &venue2());
    h.engine::<()>(&bob(), "approve_venue", (0u8, MARKET, venue2(), granted))
        .unwrap();
    refused(
        &mut h,
        &venue(),
        "fill",
        args.clone(),
        EngineError::VenueNotApproved,
        &involved,
    );
    refused(
        &mut h,
        &bob(),
        "approve_venue",
        (0u8, UNKNOWN, venue(), granted),
        EngineError::UnknownMarket,
        &involved,
    );
    refused(
        &mut h,
        &bob(),
        "approve_venue",
        (3u8, MARKET, venue(), granted),
        EngineError::UnknownSubAccount,
        &involved,
    );
    h.engine::<()>(&bob(), "approve_venue", (0u8, MARKET, venue(), granted))
        .unwrap();
    h.engine::<()>(&venue(), "fill", args.clone()).unwrap();
    assert_eq!(size_of(&mut h, &alice()), BTC / 10);
    // Revoked during a global halt: it holds, and the venue is refused after the halt.
    h.engine::<()>(&guardian(), "halt_all", ()).unwrap();
    h.engine::<()>(&alice(), "approve_venue", (0u8, MARKET, venue(), revoked))
        .unwrap();
    h.engine::<()>(&owner(), "resume_all", ()).unwrap();
    assert_eq!(
        h.query::<interface::Approval>("venue_approval", (alice(), MARKET, venue())),
        revoked
    );
    refused(
        &mut h,
        &venue(),
        "fill",
        args,
        EngineError::VenueNotApproved,
        &involved,
    );
    // The venue's own account needs no approval: it is the caller.
    deposit_only(&mut h, &venue(), usd(10_000));
    let own = fill_args(MARKET, &venue(), &bob(), BTC / 10, px(20_000), 0, 0);
    h.engine::<()>(&venue(), "fill", own).unwrap();
    assert_eq!(size_of(&mut h, &venue()), BTC / 10);
}

// ============================================================================ feeders, markets

/// The owner gives feeders slots (`FeederChanged`); slot 7 is the last valid one, 8 and 255 are
/// `UnknownFeeder`; an unknown market is `UnknownMarket`. A feeder only reports for its market;
/// removing it (`slot: None`) stops its reports.
#[test]
fn set_feeder_assigns_and_removes_slots() {
    let mut h = setup();
    let f = new_feeder();
    let now = h.now_ms;
    let involved = vec![f.clone()];
    let report = (MARKET, px(20_000), Fixed::ONE, now);
    refused(
        &mut h,
        &f,
        "submit_report",
        report,
        EngineError::UnknownFeeder,
        &[],
    );
    for slot in [8u8, 9, 255] {
        refused(
            &mut h,
            &owner(),
            "set_feeder",
            (MARKET, f.clone(), Some(slot)),
            EngineError::UnknownFeeder,
            &involved,
        );
    }
    refused(
        &mut h,
        &owner(),
        "set_feeder",
        (UNKNOWN, f.clone(), Some(3u8)),
        EngineError::UnknownMarket,
        &involved,
    );
    // None of the refused calls registered the feeder.
    refused(
        &mut h,
        &f,
        "submit_report",
        report,
        EngineError::UnknownFeeder,
        &[],
    );

    h.engine::<()>(&owner(), "set_feeder", (MARKET, f.clone(), Some(7u8)))
        .unwrap();
    let ev: Vec<FeederChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].market, ev[0].feeder, ev[0].slot),
        (MARKET, id(&f), Some(7))
    );
    h.engine::<()>(&f, "submit_report", report).unwrap();
    let ev: Vec<PriceUpdated> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].feeder, id(&f));

    // A feeder of MARKET is not a feeder of another market.
    h.engine::<()>(
        &owner(),
        "list_market",
        (MARKET2, default_config(), OracleConfig::default()),
    )
    .unwrap();
    refused(
        &mut h,
        &f,
        "submit_report",
        (MARKET2, px(20_000), Fixed::ONE, now),
        EngineError::UnknownFeeder,
        &[],
    );
    // Removing the slot.
    h.engine::<()>(&owner(), "set_feeder", (MARKET, f.clone(), None::<u8>))
        .unwrap();
    let ev: Vec<FeederChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].market, ev[0].feeder, ev[0].slot),
        (MARKET, id(&f), None)
    );
    refused(
        &mut h,
        &f,
        "submit_report",
        report,
        EngineError::UnknownFeeder,
        &[],
    );
}

/// Listing: `MarketListed`, the new market exists with no price yet (not valid for anything);
/// a duplicate id is `MarketExists` (checked before the config); invalid market configs fail
/// with the rule they break and invalid oracle configs with theirs, and none of them lists.
#[test]
fn list_market_validates_and_lists() {
    let mut h = setup();
    let involved = vec![owner()];
    // Duplicate, even with a config that would be invalid.
    let mut broken = default_config();
    broken.margin.tiers.clear();
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET, default_config(), OracleConfig::default()),
        EngineError::MarketExists,
        &involved,
    );
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET, broken.clone(), OracleConfig::default()),
        EngineError::MarketExists,
        &involved,
    );
    // Non-monotone tier floors.
    let mut c = default_config();
    c.margin.tiers[2].notional_floor = c.margin.tiers[1].notional_floor;
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET2, c, OracleConfig::default()),
        EngineError::Risk(RiskError::InvalidConfig(ConfigRule::TierFloors)),
        &involved,
    );
    // First tier not starting at 0.
    let mut c = default_config();
    c.margin.tiers[0].notional_floor = 1;
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET2, c, OracleConfig::default()),
        EngineError::Risk(RiskError::InvalidConfig(ConfigRule::TierFloors)),
        &involved,
    );
    // Decreasing tier fractions.
    let mut c = default_config();
    c.margin.tiers[2].initial_fraction = ratio(6, 100);
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET2, c, OracleConfig::default()),
        EngineError::Risk(RiskError::InvalidConfig(ConfigRule::TierFractions)),
        &involved,
    );
    // No tiers.
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET2, broken, OracleConfig::default()),
        EngineError::Risk(RiskError::InvalidConfig(ConfigRule::TierCount)),
        &involved,
    );
    // Fill band not below the minimum initial fraction.
    let mut c = default_config();
    c.max_fill_deviation = ratio(5, 100);
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET2, c, OracleConfig::default()),
        EngineError::Risk(RiskError::InvalidConfig(ConfigRule::PriceBand)),
        &involved,
    );
    // Oracle configs.
    let bad_oracle = OracleConfig {
        min_reports: 0,
        ..OracleConfig::default()
    };
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET2, default_config(), bad_oracle),
        EngineError::Oracle(OracleError::InvalidConfig(ConfigError::MinReports)),
        &involved,
    );
    let bad_oracle = OracleConfig {
        max_future_ms: 120_000,
        ..OracleConfig::default()
    };
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET2, default_config(), bad_oracle),
        EngineError::Oracle(OracleError::InvalidConfig(ConfigError::FutureTolerance)),
        &involved,
    );
    assert_eq!(
        h.read::<MarketRisk>("market_risk", (MARKET2,)),
        Err(EngineError::UnknownMarket)
    );

    h.engine::<()>(
        &owner(),
        "list_market",
        (MARKET2, default_config(), OracleConfig::default()),
    )
    .unwrap();
    let ev: Vec<MarketListed> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].market, MARKET2);
    assert_eq!(h.engine_event_count(), 1);
    let r: MarketRisk = h.read("market_risk", (MARKET2,)).unwrap();
    assert_eq!(r.oracle, Fixed::ZERO);
    assert!(!r.opening_valid && !r.liquidation_valid);
    assert_eq!(r.open_interest, 0);
    assert_eq!(h.read::<i128>("settlement_pool", (MARKET2,)), Ok(0));
    // No price yet: nothing can trade in it.
    deposit(&mut h, &alice(), usd(10_000));
    deposit(&mut h, &bob(), usd(10_000));
    h.authorize_venue(MARKET2, &venue());
    for who in [alice(), bob()] {
        h.approve_venue(&who, MARKET2, &venue());
    }
    refused(
        &mut h,
        &venue(),
        "fill",
        fill_args(MARKET2, &alice(), &bob(), BTC / 10, px(20_000), 0, 0),
        EngineError::Risk(RiskError::MarketHalted),
        &[alice(), bob()],
    );
    // Listing it again is a duplicate.
    refused(
        &mut h,
        &owner(),
        "list_market",
        (MARKET2, default_config(), OracleConfig::default()),
        EngineError::MarketExists,
        &involved,
    );
}

/// A market config with `margin` for its margin params.
fn with_margin(margin: MarginParams) -> MarketConfig {
    MarketConfig {
        margin,
        ..default_config()
    }
}

/// Market changes are announced (`MarketChangeAnnounced`, carrying the new config), wait the
/// market's delay (24 h), and then anyone applies them (`MarketChangeApplied` with the ramp
/// end); the new minimum initial fraction (5x) caps new positions from then on, and not a
/// moment earlier. Refused, changing nothing: the guardian or a trader announcing, an unknown
/// market, invalid configs (margin rules, whole-config rules, a decimals change, a governance
/// ramp under an hour), a second announcement while one waits, an early application, an
/// announcement while the last change still blends in. The owner or the guardian cancels.
#[test]
fn market_changes_are_announced_delayed_and_blended() {
    let mut h = setup();
    deposit(&mut h, &alice(), usd(10_000));
    let involved = vec![alice()];
    let max_buy = |h: &mut Harness| -> i128 {
        h.read(
            "max_position",
            (alice(), MARKET, true, px(20_000), Fixed::ZERO),
        )
        .unwrap()
    };
    let oracle = OracleConfig::default();
    let before = max_buy(&mut h);
    for who in [guardian(), alice()] {
        refused(
            &mut h,
            &who,
            "announce_market_change",
            (MARKET, with_margin(valid_params()), oracle.clone()),
            Unauthorized,
            &involved,
        );
    }
    refused(
        &mut h,
        &owner(),
        "announce_market_change",
        (UNKNOWN, with_margin(valid_params()), oracle.clone()),
        EngineError::UnknownMarket,
        &involved,
    );
    let invalid = |rule| EngineError::Risk(RiskError::InvalidConfig(rule));
    let mut bad = Vec::new();
    let mut p = valid_params();
    p.tiers[3].notional_floor = p.tiers[2].notional_floor;
    bad.push((with_margin(p), ConfigRule::TierFloors));
    let mut p = valid_params();
    p.tiers.clear();
    bad.push((with_margin(p), ConfigRule::TierCount));
    let mut p = valid_params();
    p.min_initial_fraction = Fixed::ZERO;
    bad.push((with_margin(p), ConfigRule::LeverageBounds));
    // Valid on their own, but the market's 2% fill band must stay below the minimum initial
    // fraction, and its 1% penalty below the first maintenance fraction.
    let mut p = valid_params();
    p.min_initial_fraction = ratio(1, 100);
    bad.push((with_margin(p), ConfigRule::PriceBand));
    let mut p = valid_params();
    p.tiers[0].maintenance_fraction = ratio(5, 1000);
    bad.push((with_margin(p), ConfigRule::Liquidation));
    let mut c = with_margin(valid_params());
    c.decimals.quote += 1;
    bad.push((c, ConfigRule::Decimals));
    let mut c = with_margin(valid_params());
    c.ramps.params_ramp_ms = HOUR - 1;
    bad.push((c, ConfigRule::Ramps));
    for (config, rule) in bad {
        refused(
            &mut h,
            &owner(),
            "announce_market_change",
            (MARKET, config, oracle.clone()),
            invalid(rule),
            &involved,
        );
    }
    let mut bad_oracle = oracle.clone();
    bad_oracle.min_reports = 0;
    refused(
        &mut h,
        &owner(),
        "announce_market_change",
        (MARKET, with_margin(valid_params()), bad_oracle),
        EngineError::Oracle(OracleError::InvalidConfig(ConfigError::MinReports)),
        &involved,
    );
    // Valid on its own (a compressed-time calendar), but the market was listed on hourly
    // sampling: its volatility state counts hours.
    let mut other_clock = oracle.clone();
    other_clock.vol_interval_ms = 2_000;
    other_clock.clock_compression = 1_800;
    assert_eq!(other_clock.validate(), Ok(()));
    refused(
        &mut h,
        &owner(),
        "announce_market_change",
        (MARKET, with_margin(valid_params()), other_clock),
        invalid(ConfigRule::SamplingClock),
        &involved,
    );
    refused(
        &mut h,
        &stranger(),
        "apply_market_change",
        (MARKET,),
        EngineError::Risk(RiskError::NoChangeAnnounced),
        &involved,
    );

    // Announced: nothing changes yet.
    let announced_at = T0 + 10 * SECOND;
    h.set_time(announced_at);
    report_all(&mut h, px(20_000));
    h.engine::<()>(
        &owner(),
        "announce_market_change",
        (MARKET, with_margin(valid_params()), oracle.clone()),
    )
    .unwrap();
    let ev: Vec<MarketChangeAnnounced> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].market, &ev[0].config, ev[0].effective_ms),
        (
            MARKET,
            &with_margin(valid_params()),
            announced_at + 24 * HOUR
        )
    );
    assert_eq!(max_buy(&mut h), before, "announced, not applied");
    refused(
        &mut h,
        &owner(),
        "announce_market_change",
        (MARKET, default_config(), oracle.clone()),
        EngineError::Risk(RiskError::ChangePending),
        &involved,
    );
    h.set_time(announced_at + 24 * HOUR - 1);
    report_all(&mut h, px(20_000));
    let waiting = max_buy(&mut h);
    let without = h.isolated(|h| {
        h.engine::<()>(&owner(), "cancel_market_change", (MARKET,))
            .unwrap();
        max_buy(h)
    });
    assert_eq!(waiting, without);
    refused(
        &mut h,
        &stranger(),
        "apply_market_change",
        (MARKET,),
        EngineError::Risk(RiskError::ChangeNotDue),
        &involved,
    );
    // Cancelled by the guardian (a stranger may not), then announced again.
    refused(
        &mut h,
        &stranger(),
        "cancel_market_change",
        (MARKET,),
        Unauthorized,
        &involved,
    );
    h.engine::<()>(&guardian(), "cancel_market_change", (MARKET,))
        .unwrap();
    assert_eq!(h.engine_events::<MarketChangeCancelled>().len(), 1);
    let announced_at = h.now_ms;
    h.engine::<()>(
        &owner(),
        "announce_market_change",
        (MARKET, with_margin(valid_params()), oracle.clone()),
    )
    .unwrap();
    let due = announced_at + 24 * HOUR;
    h.set_time(due);
    report_all(&mut h, px(20_000));
    // Until it applies the announcement changes nothing: the same as without it.
    let due_now = max_buy(&mut h);
    let without = h.isolated(|h| {
        h.engine::<()>(&owner(), "cancel_market_change", (MARKET,))
            .unwrap();
        max_buy(h)
    });
    assert_eq!(due_now, without);
    let before = due_now;
    h.engine::<()>(&stranger(), "apply_market_change", (MARKET,))
        .unwrap();
    let ev: Vec<MarketChangeApplied> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].market, ev[0].ramp_complete_ms),
        (MARKET, due + 24 * HOUR)
    );
    assert_eq!(h.engine_event_count(), 1);
    let r = risk(&mut h);
    let five_x = Fixed::ONE.checked_div(ratio(20, 100)).unwrap();
    assert_eq!(r.new_position_leverage_cap, five_x);
    assert_eq!(r.applied_leverage_cap, five_x);
    // New positions face 20% at once instead of the ~9.8% volatility term.
    let after = max_buy(&mut h);
    assert!(
        after < before * 52 / 100 && after > before * 46 / 100,
        "max position {before} -> {after}"
    );
    // The next change waits until this one has blended in.
    refused(
        &mut h,
        &owner(),
        "announce_market_change",
        (MARKET, default_config(), oracle),
        EngineError::Risk(RiskError::GovernanceRampInProgress),
        &involved,
    );
}

// ================================================================================== halts

/// Guardian (or owner) halts one market (`BreakerChanged` to Paused) or everything
/// (`GlobalHaltChanged`); nobody else may. Only the owner resumes; the guardian cannot. While a
/// market is paused fills (opening or reducing) and liquidations are `Risk(MarketHalted)`;
/// while everything is halted deposits, fills, liquidations and withdrawals of accounts with
/// positions are `Halted` (an account holding nothing but collateral still withdraws), and
/// reports and queries still work.
#[test]
fn halts_by_guardian_resumes_by_owner() {
    let mut h = setup();
    deposit(&mut h, &alice(), usd(10_000));
    deposit(&mut h, &bob(), usd(10_000));
    deposit(&mut h, &keeper(), usd(10_000));
    fill(&mut h, &alice(), &bob(), BTC / 2, px(20_000)).unwrap();
    let involved = vec![alice(), bob(), keeper()];

    for who in [venue(), feeders()[0].clone(), alice(), stranger()] {
        refused(
            &mut h,
            &who,
            "halt_market",
            (MARKET,),
            Unauthorized,
            &involved,
        );
        refused(&mut h, &who, "halt_all", (), Unauthorized, &involved);
    }
    refused(
        &mut h,
        &guardian(),
        "halt_market",
        (UNKNOWN,),
        EngineError::UnknownMarket,
        &involved,
    );

    // --- market halt ---
    h.engine::<()>(&guardian(), "halt_market", (MARKET,))
        .unwrap();
    let ev: Vec<BreakerChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].market, ev[0].from, ev[0].to, ev[0].move_fraction),
        (
            MARKET,
            BreakerState::Normal,
            BreakerState::Paused,
            Fixed::ZERO
        )
    );
    assert_eq!(risk(&mut h).breaker, BreakerState::Paused);
    // Halting again changes nothing and emits nothing.
    h.engine::<()>(&owner(), "halt_market", (MARKET,)).unwrap();
    assert_eq!(h.engine_event_count(), 0);

    let halted = EngineError::Risk(RiskError::MarketHalted);
    // Opening, and reducing, fills.
    refused(
        &mut h,
        &venue(),
        "fill",
        fill_args(MARKET, &alice(), &bob(), BTC / 10, px(20_000), 0, 0),
        halted,
        &involved,
    );
    refused(
        &mut h,
        &venue(),
        "fill",
        fill_args(MARKET, &bob(), &alice(), BTC / 10, px(20_000), 0, 0),
        halted,
        &involved,
    );
    refused(
        &mut h,
        &keeper(),
        "liquidate",
        (alice(), MARKET),
        halted,
        &involved,
    );
    // The guardian may not resume; neither may anyone but the owner.
    for who in [guardian(), venue(), stranger()] {
        refused(
            &mut h,
            &who,
            "resume_market",
            (MARKET,),
            Unauthorized,
            &involved,
        );
    }
    refused(
        &mut h,
        &owner(),
        "resume_market",
        (UNKNOWN,),
        EngineError::UnknownMarket,
        &involved,
    );
    h.engine::<()>(&owner(), "resume_market", (MARKET,))
        .unwrap();
    let ev: Vec<BreakerChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].from, ev[0].to),
        (BreakerState::Paused, BreakerState::Normal)
    );
    assert_eq!(risk(&mut h).breaker, BreakerState::Normal);
    // Resuming a running market is a no-op.
    h.engine::<()>(&owner(), "resume_market", (MARKET,))
        .unwrap();
    assert_eq!(h.engine_event_count(), 0);
    fill(&mut h, &bob(), &alice(), BTC / 10, px(20_000)).expect("trading again");

    // --- global halt ---
    h.engine::<()>(&guardian(), "halt_all", ()).unwrap();
    let ev: Vec<GlobalHaltChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert!(ev[0].halted);
    assert!(roles(&mut h).4);
    h.give_tokens(&carol(), usd(100));
    h.approve_engine(&carol(), usd(100));
    refused(&mut h, &carol(), "deposit", (usd(100),), Halted, &[carol()]);
    // An account with positions may not withdraw during a halt; one that holds nothing but
    // collateral (the keeper) always may: it owes nothing and risks nothing.
    refused(&mut h, &alice(), "withdraw", (usd(1),), Halted, &involved);
    let keeper_balance = h.isolated(|h| {
        h.engine::<()>(&keeper(), "withdraw", (usd(1),))
            .expect("flat accounts exit during a halt");
        h.balance(&keeper())
    });
    assert_eq!(keeper_balance, h.balance(&keeper()) + usd(1));
    refused(
        &mut h,
        &venue(),
        "fill",
        fill_args(MARKET, &bob(), &alice(), BTC / 10, px(20_000), 0, 0),
        Halted,
        &involved,
    );
    refused(
        &mut h,
        &keeper(),
        "liquidate",
        (alice(), MARKET),
        Halted,
        &involved,
    );
    // An unauthorized venue is told so first.
    refused(
        &mut h,
        &stranger(),
        "fill",
        fill_args(MARKET, &bob(), &alice(), BTC / 10, px(20_000), 0, 0),
        Unauthorized,
        &involved,
    );
    // Reports and queries still work.
    let now = h.now_ms;
    h.engine::<()>(
        &feeders()[0],
        "submit_report",
        (MARKET, px(20_000), Fixed::ONE, now),
    )
    .expect("reports continue under a global halt");
    assert_eq!(health(&mut h, &alice()).initial.equity, iusd(10_000));
    for who in [guardian(), venue(), stranger()] {
        refused(&mut h, &who, "resume_all", (), Unauthorized, &involved);
    }
    h.engine::<()>(&owner(), "resume_all", ()).unwrap();
    let ev: Vec<GlobalHaltChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert!(!ev[0].halted);
    assert!(!roles(&mut h).4);
    h.engine::<()>(&carol(), "deposit", (usd(100),))
        .expect("deposits again");
    // The owner can halt everything too.
    h.engine::<()>(&owner(), "halt_all", ()).unwrap();
    assert!(roles(&mut h).4);
}

// ================================================================================== prices

/// A feeder's report: `PriceUpdated` (median of the three, dampened, forecast vol) and the new
/// median once two of three agree. Guard rails: non-feeder, non-positive price, price out of
/// range, negative confidence, timestamp too far in the future (5 s tolerance, the boundary
/// passes), too old (60 s), older than the slot's last report, confidence above 2%.
#[test]
fn submit_report_guard_rails_and_median() {
    let mut h = setup();
    h.set_time(T0 + 5 * SECOND);
    let now = h.now_ms;
    let f = feeders()[0].clone();
    let conf = px(2);
    let oracle = |e| EngineError::Oracle(e);
    let cases: Vec<(Fixed, Fixed, u64, EngineError)> = vec![
        (
            Fixed::ZERO,
            conf,
            now,
            oracle(OracleError::NonPositivePrice),
        ),
        (
            px(-20_000),
            conf,
            now,
            oracle(OracleError::NonPositivePrice),
        ),
        (px(1 << 51), conf, now, oracle(OracleError::PriceOutOfRange)),
        (
            px(20_000),
            px(-1),
            now,
            oracle(OracleError::NegativeConfidence),
        ),
        (
            px(20_000),
            conf,
            now + 5 * SECOND + 1,
            oracle(OracleError::FromTheFuture),
        ),
        (
            px(20_000),
            conf,
            now - 60 * SECOND - 1,
            oracle(OracleError::TooOld),
        ),
        // Older than this slot's last report (stamped T0).
        (px(20_000), conf, T0 - 1, oracle(OracleError::Replay)),
        (
            px(20_000),
            px(20_000).checked_mul(ratio(21, 1000)).unwrap(),
            now,
            oracle(OracleError::ReportTooUncertain),
        ),
    ];
    for (price, confidence, ts, expected) in cases {
        refused(
            &mut h,
            &f,
            "submit_report",
            (MARKET, price, confidence, ts),
            expected,
            &[],
        );
    }
    for who in [owner(), guardian(), venue(), stranger()] {
        refused(
            &mut h,
            &who,
            "submit_report",
            (MARKET, px(20_000), conf, now),
            EngineError::UnknownFeeder,
            &[],
        );
    }
    refused(
        &mut h,
        &f,
        "submit_report",
        (UNKNOWN, px(20_000), conf, now),
        EngineError::UnknownFeeder,
        &[],
    );

    // One feeder moves: the median of three does not.
    h.engine::<()>(&f, "submit_report", (MARKET, px(20_100), conf, now))
        .unwrap();
    let ev: Vec<PriceUpdated> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(h.engine_event_count(), 1);
    assert_eq!(
        (ev[0].market, ev[0].feeder, ev[0].oracle, ev[0].dampened),
        (MARKET, id(&f), px(20_000), px(20_000))
    );
    assert_eq!(ev[0].forecast_vol, Fixed::ONE);
    // A second one: the median is now 20,100; the dampened price has not moved yet.
    h.engine::<()>(
        &feeders()[1],
        "submit_report",
        (MARKET, px(20_100), conf, now),
    )
    .unwrap();
    let ev: Vec<PriceUpdated> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].oracle, ev[0].dampened), (px(20_100), px(20_000)));
    let r = risk(&mut h);
    assert_eq!((r.oracle, r.dampened), (px(20_100), px(20_000)));
    assert!(r.opening_valid);
    // The future tolerance boundary (exactly 5 s ahead) is accepted.
    h.engine::<()>(
        &feeders()[2],
        "submit_report",
        (MARKET, px(20_100), conf, now + 5 * SECOND),
    )
    .expect("5 s in the future is tolerated");
}

/// `refresh_market` (anyone) moves a market whose feeders went quiet into OracleHalt
/// (`BreakerChanged` Normal -> OracleHalt) once the price is older than 60 s; the price stays
/// valid for liquidation. A second refresh emits nothing. Unknown market and a block time before
/// the last refresh are refused. Fresh reports bring it back to Normal.
#[test]
fn refresh_market_advances_the_breaker() {
    let mut h = setup();
    refused(
        &mut h,
        &stranger(),
        "refresh_market",
        (UNKNOWN,),
        EngineError::UnknownMarket,
        &[],
    );
    // Within freshness: nothing to do.
    h.set_time(T0 + 30 * SECOND);
    h.engine::<()>(&stranger(), "refresh_market", (MARKET,))
        .unwrap();
    assert_eq!(h.engine_event_count(), 0);

    h.set_time(T0 + 61 * SECOND);
    h.engine::<()>(&stranger(), "refresh_market", (MARKET,))
        .unwrap();
    let ev: Vec<BreakerChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].market, ev[0].from, ev[0].to, ev[0].move_fraction),
        (
            MARKET,
            BreakerState::Normal,
            BreakerState::OracleHalt,
            Fixed::ZERO
        )
    );
    let r = risk(&mut h);
    assert_eq!(r.breaker, BreakerState::OracleHalt);
    assert!(!r.opening_valid);
    assert!(r.liquidation_valid);
    assert_eq!(r.oracle, px(20_000));
    h.engine::<()>(&stranger(), "refresh_market", (MARKET,))
        .unwrap();
    assert_eq!(h.engine_event_count(), 0);

    // Time before the last refresh.
    h.set_time(T0 + 40 * SECOND);
    refused(
        &mut h,
        &stranger(),
        "refresh_market",
        (MARKET,),
        EngineError::Oracle(OracleError::TimeWentBackwards),
        &[],
    );
    refused(
        &mut h,
        &feeders()[0],
        "submit_report",
        (MARKET, px(20_000), Fixed::ONE, T0 + 40 * SECOND),
        EngineError::Oracle(OracleError::TimeWentBackwards),
        &[],
    );

    h.set_time(T0 + 70 * SECOND);
    let transitions = report_all(&mut h, px(20_000));
    assert_eq!(transitions.len(), 1);
    assert_eq!(
        (transitions[0].from, transitions[0].to),
        (BreakerState::OracleHalt, BreakerState::Normal)
    );
    assert!(risk(&mut h).opening_valid);
}

// ============================================================================== collateral

/// Deposits pull approved tokens (`Deposited`) and credit collateral and net deposits. Zero,
/// amounts above i128::MAX, amounts that would overflow the totals, missing or short approval
/// and a short balance are refused with nothing moved.
#[test]
fn deposit_pulls_approved_tokens() {
    let mut h = setup();
    let a = alice();
    let involved = vec![a.clone()];
    // No tokens, no approval.
    refused(
        &mut h,
        &a,
        "deposit",
        (usd(100),),
        EngineError::TokenTransferFailed,
        &involved,
    );
    // Tokens but no approval.
    h.give_tokens(&a, usd(1_000));
    refused(
        &mut h,
        &a,
        "deposit",
        (usd(100),),
        EngineError::TokenTransferFailed,
        &involved,
    );
    // Approval short of the amount.
    h.approve_engine(&a, usd(500));
    refused(
        &mut h,
        &a,
        "deposit",
        (usd(600),),
        EngineError::TokenTransferFailed,
        &involved,
    );
    // Approval but not the balance.
    h.approve_engine(&a, usd(5_000));
    refused(
        &mut h,
        &a,
        "deposit",
        (usd(1_001),),
        EngineError::TokenTransferFailed,
        &involved,
    );
    // Zero and out-of-range amounts.
    refused(
        &mut h,
        &a,
        "deposit",
        (0u128,),
        EngineError::InvalidAmount,
        &involved,
    );
    refused(
        &mut h,
        &a,
        "deposit",
        (u128::MAX,),
        InvalidAmount,
        &involved,
    );
    refused(
        &mut h,
        &a,
        "deposit",
        (i128::MAX as u128 + 1,),
        InvalidAmount,
        &involved,
    );

    h.engine::<()>(&a, "deposit", (usd(600),)).unwrap();
    let ev: Vec<Deposited> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].account, ev[0].amount), (id(&a), usd(600)));
    assert_eq!(h.engine_event_count(), 1);
    let engine = h.engine.clone();
    assert_eq!(h.balance(&a), usd(400));
    assert_eq!(h.balance(&engine), usd(600));
    assert_eq!(view(&mut h, &a).collateral, iusd(600));
    assert_eq!(h.query::<i128>("net_deposits", ()), iusd(600));
    h.engine::<()>(&a, "deposit", (usd(400),)).unwrap();
    assert_eq!(view(&mut h, &a).collateral, iusd(1_000));
    assert_eq!(h.balance(&a), 0);
    assert_eq!(h.balance(&engine), usd(1_000));
    assert_eq!(h.query::<i128>("net_deposits", ()), iusd(1_000));

    // i128::MAX fits the type but overflows the caller's collateral, or (for an account with
    // none) the engine's net deposits: refused before any token moves.
    h.give_tokens(&a, usd(10));
    h.approve_engine(&a, u128::MAX);
    refused(
        &mut h,
        &a,
        "deposit",
        (i128::MAX as u128,),
        EngineError::Risk(RiskError::Math(MathError::Overflow)),
        &involved,
    );
    h.give_tokens(&bob(), usd(10));
    h.approve_engine(&bob(), u128::MAX);
    refused(
        &mut h,
        &bob(),
        "deposit",
        (i128::MAX as u128,),
        EngineError::Risk(RiskError::Math(MathError::Overflow)),
        &[bob()],
    );
}

/// Withdrawals return tokens (`Withdrawn`) while initial health stays non-negative. Refused:
/// zero, above i128::MAX, more than the collateral (`InsufficientCollateral`, also for an
/// account that never deposited), more than free collateral when positions need the margin
/// (`InsufficientMargin`, the boundary is exactly the initial surplus), and any amount while a
/// held market's price is stale (`MarketHalted`); an account without positions may withdraw on
/// a stale price.
#[test]
fn withdraw_keeps_initial_health() {
    let mut h = setup();
    let a = alice();
    deposit(&mut h, &a, usd(3_000));
    deposit(&mut h, &bob(), usd(10_000));
    deposit(&mut h, &carol(), usd(100));
    let involved = vec![a.clone(), bob()];
    refused(
        &mut h,
        &stranger(),
        "withdraw",
        (1u128,),
        EngineError::Risk(RiskError::InsufficientCollateral),
        &involved,
    );
    refused(
        &mut h,
        &a,
        "withdraw",
        (0u128,),
        EngineError::InvalidAmount,
        &involved,
    );
    refused(
        &mut h,
        &a,
        "withdraw",
        (u128::MAX,),
        InvalidAmount,
        &involved,
    );
    refused(
        &mut h,
        &a,
        "withdraw",
        (i128::MAX as u128,),
        EngineError::Risk(RiskError::InsufficientCollateral),
        &involved,
    );
    refused(
        &mut h,
        &a,
        "withdraw",
        (usd(3_000) + 1,),
        EngineError::Risk(RiskError::InsufficientCollateral),
        &involved,
    );

    h.engine::<()>(&a, "withdraw", (usd(500),)).unwrap();
    let ev: Vec<Withdrawn> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].account, ev[0].amount), (id(&a), usd(500)));
    assert_eq!(h.engine_event_count(), 1);
    let engine = h.engine.clone();
    assert_eq!(h.balance(&a), usd(500));
    assert_eq!(h.balance(&engine), usd(12_600));
    assert_eq!(view(&mut h, &a).collateral, iusd(2_500));
    assert_eq!(h.query::<i128>("net_deposits", ()), iusd(12_600));

    // With a position, only the initial surplus is free.
    fill(&mut h, &a, &bob(), BTC, px(20_000)).unwrap();
    let surplus = health(&mut h, &a).initial.surplus().unwrap();
    assert!(surplus > 0 && surplus < iusd(2_500), "surplus {surplus}");
    refused(
        &mut h,
        &a,
        "withdraw",
        (surplus as u128 + 1,),
        EngineError::Risk(RiskError::InsufficientMargin),
        &involved,
    );
    h.engine::<()>(&a, "withdraw", (surplus as u128,)).unwrap();
    assert_eq!(health(&mut h, &a).initial.surplus().unwrap(), 0);
    assert_eq!(h.balance(&a), usd(500) + surplus as u128);
    refused(
        &mut h,
        &a,
        "withdraw",
        (1u128,),
        EngineError::Risk(RiskError::InsufficientMargin),
        &involved,
    );

    // Stale price: withdrawals of accounts holding the market stop, others go on.
    h.set_time(T0 + 61 * SECOND);
    refused(
        &mut h,
        &bob(),
        "withdraw",
        (usd(1),),
        EngineError::Risk(RiskError::MarketHalted),
        &involved,
    );
    h.engine::<()>(&carol(), "withdraw", (usd(100),))
        .expect("no positions: no price needed");
    assert_eq!(h.balance(&carol()), usd(100));
    assert_eq!(view(&mut h, &carol()).collateral, 0);
}

// =================================================================================== fills

/// A fill moves size and quote between taker and maker (zero-sum), charges both fees to the
/// recipient's collateral and emits `Filled` with the quote amount and fees; no token moves.
/// Closing realizes the PnL into collateral, and collateral then adds up to net deposits.
#[test]
fn fill_applies_trade_and_fees() {
    let mut h = setup();
    let (a, b, t) = (alice(), bob(), treasury());
    deposit(&mut h, &a, usd(10_000));
    deposit(&mut h, &b, usd(10_000));
    let engine = h.engine.clone();

    h.engine::<()>(
        &venue(),
        "fill",
        fill_args(MARKET, &a, &b, BTC / 2, px(20_100), usd(5), usd(2)),
    )
    .unwrap();
    let ev: Vec<Filled> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(h.engine_event_count(), 1);
    let e = &ev[0];
    assert_eq!((e.market, e.taker, e.maker), (MARKET, id(&a), id(&b)));
    assert_eq!((e.size, e.price), (BTC / 2, px(20_100)));
    assert_eq!(e.quote_amount, iusd(10_050), "0.5 BTC at 20,100");
    assert_eq!(e.fees, iusd(7));
    let position = |size, quote| Position {
        size,
        quote,
        funding_snapshot: Fixed::ZERO,
        social_snapshot: Fixed::ZERO,
        liquidation_base: 0,
    };
    assert_eq!(
        view(&mut h, &a),
        AccountView {
            collateral: iusd(9_995),
            being_liquidated: false,
            positions: vec![(MARKET, position(BTC / 2, -iusd(10_050)))],
            margin: MarginMode::Cross,
        }
    );
    assert_eq!(
        view(&mut h, &b),
        AccountView {
            collateral: iusd(9_998),
            being_liquidated: false,
            positions: vec![(MARKET, position(-BTC / 2, iusd(10_050)))],
            margin: MarginMode::Cross,
        }
    );
    assert_eq!(view(&mut h, &t).collateral, iusd(7));
    assert_eq!(risk(&mut h).open_interest, BTC / 2);
    assert_eq!(h.balance(&engine), usd(20_000));
    assert_eq!(h.query::<i128>("net_deposits", ()), iusd(20_000));
    // The long paid 50 above the oracle: its equity shows the loss.
    assert_eq!(health(&mut h, &a).maintenance.equity, iusd(9_945));
    assert_eq!(health(&mut h, &b).maintenance.equity, iusd(10_048));

    // Close at 20,000 with the roles swapped and no fees: positions vanish, PnL is realized,
    // nothing is credited to the recipient.
    fill(&mut h, &b, &a, BTC / 2, px(20_000)).unwrap();
    let ev: Vec<Filled> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].quote_amount, ev[0].fees), (iusd(10_000), 0));
    assert_eq!(
        view(&mut h, &a),
        AccountView {
            collateral: iusd(9_945),
            being_liquidated: false,
            positions: vec![],
            margin: MarginMode::Cross,
        }
    );
    assert_eq!(view(&mut h, &b).collateral, iusd(10_048));
    assert_eq!(view(&mut h, &t).collateral, iusd(7));
    assert_eq!(risk(&mut h).open_interest, 0);
    assert_eq!(
        iusd(9_945) + iusd(10_048) + iusd(7),
        h.query::<i128>("net_deposits", ())
    );
}

/// Bad fill inputs, each refused with nothing changed: self-trade, unknown market, zero size,
/// non-positive price, sizes whose negation or value overflows, fees above i128::MAX, prices
/// outside the 2% band, taker or maker short of initial margin, a fee larger than the taker's
/// collateral.
#[test]
fn fill_bad_inputs() {
    let mut h = setup();
    let (a, b, c) = (alice(), bob(), carol());
    deposit(&mut h, &a, usd(10_000));
    deposit(&mut h, &b, usd(10_000));
    deposit(&mut h, &c, usd(1_000));
    let involved = vec![a.clone(), b.clone(), c.clone(), treasury()];
    let v = venue();
    let p = px(20_000);
    // The stranger approved the venue but deposited nothing.
    h.approve_venue(&stranger(), MARKET, &v);
    let cases: Vec<(FillArgs, EngineError)> = vec![
        (fill_args(MARKET, &a, &a, BTC, p, 0, 0), SameAccount),
        // No market, so nobody is a venue of it.
        (fill_args(UNKNOWN, &a, &b, BTC, p, 0, 0), Unauthorized),
        (
            fill_args(MARKET, &a, &b, 0, p, 0, 0),
            EngineError::Risk(RiskError::InvalidAmount),
        ),
        (
            fill_args(MARKET, &a, &b, BTC, Fixed::ZERO, 0, 0),
            EngineError::Risk(RiskError::InvalidAmount),
        ),
        (
            fill_args(MARKET, &a, &b, BTC, px(-20_000), 0, 0),
            EngineError::Risk(RiskError::InvalidAmount),
        ),
        (
            fill_args(MARKET, &a, &b, i128::MIN, p, 0, 0),
            EngineError::Risk(RiskError::Math(MathError::Overflow)),
        ),
        (
            fill_args(MARKET, &a, &b, i128::MAX, p, 0, 0),
            EngineError::Risk(RiskError::Math(MathError::Overflow)),
        ),
        (
            fill_args(MARKET, &a, &b, BTC, p, u128::MAX, 0),
            InvalidAmount,
        ),
        (
            fill_args(MARKET, &a, &b, BTC, p, 0, i128::MAX as u128 + 1),
            InvalidAmount,
        ),
        (
            fill_args(MARKET, &a, &b, BTC / 10, px(20_410), 0, 0),
            EngineError::Risk(RiskError::PriceOutOfBand),
        ),
        (
            fill_args(MARKET, &a, &b, BTC / 10, px(19_590), 0, 0),
            EngineError::Risk(RiskError::PriceOutOfBand),
        ),
        // Carol's 1,000 cannot carry 1 BTC (about 1,968 of initial margin), as taker or maker.
        (
            fill_args(MARKET, &c, &b, BTC, p, 0, 0),
            EngineError::Risk(RiskError::InsufficientMargin),
        ),
        (
            fill_args(MARKET, &a, &c, BTC, p, 0, 0),
            EngineError::Risk(RiskError::InsufficientMargin),
        ),
        // A counterparty with no collateral at all.
        (
            fill_args(MARKET, &a, &stranger(), BTC / 100, p, 0, 0),
            EngineError::Risk(RiskError::InsufficientMargin),
        ),
        // A fee above 1% of the notional (here larger than the taker's collateral too).
        (
            fill_args(MARKET, &c, &b, BTC / 100, p, usd(1_001), 0),
            EngineError::Risk(RiskError::FeeTooLarge),
        ),
    ];
    for (args, expected) in cases {
        refused(&mut h, &v, "fill", args, expected, &involved);
    }
    // Inside the band both ways.
    fill(&mut h, &a, &b, BTC / 10, px(20_390)).expect("1.95% above");
    fill(&mut h, &a, &b, BTC / 10, px(19_610)).expect("1.95% below");
    assert_eq!(size_of(&mut h, &a), BTC / 5);
}

/// `max_position` predicts the fill check exactly: one base unit more than it returns is
/// refused with `InsufficientMargin`, the amount itself passes. Unknown market and a price out of
/// band are refused by the query too.
#[test]
fn max_position_matches_the_fill_check() {
    let mut h = setup();
    let (a, b) = (alice(), bob());
    deposit(&mut h, &a, usd(2_000));
    deposit(&mut h, &b, usd(100_000));
    let q = |h: &mut Harness, who: &AccountId32, market: u32, buy: bool, price: Fixed| {
        h.read::<i128>(
            "max_position",
            (who.clone(), market, buy, price, Fixed::ZERO),
        )
    };
    assert_eq!(
        q(&mut h, &a, UNKNOWN, true, px(20_000)),
        Err(EngineError::UnknownMarket)
    );
    assert_eq!(
        q(&mut h, &a, MARKET, true, px(21_000)),
        Err(EngineError::Risk(RiskError::PriceOutOfBand))
    );
    assert_eq!(q(&mut h, &stranger(), MARKET, true, px(20_000)), Ok(0));
    let max = q(&mut h, &a, MARKET, true, px(20_000)).unwrap();
    // 2,000 at the ~9.84% initial fraction of new positions: about 1.016 BTC.
    assert!(max > BTC * 101 / 100 && max < BTC * 102 / 100, "max {max}");
    refused(
        &mut h,
        &venue(),
        "fill",
        fill_args(MARKET, &a, &b, max + 1, px(20_000), 0, 0),
        EngineError::Risk(RiskError::InsufficientMargin),
        &[a.clone(), b.clone()],
    );
    fill(&mut h, &a, &b, max, px(20_000)).expect("exactly the max passes");
    assert_eq!(size_of(&mut h, &a), max);
    // Nothing more can be bought; selling can at least close the position.
    assert_eq!(q(&mut h, &a, MARKET, true, px(20_000)), Ok(0));
    assert!(q(&mut h, &a, MARKET, false, px(20_000)).unwrap() >= max);
}

/// Stale price (no report for more than 60 s): fills that open risk are `MarketHalted` (the
/// stored breaker moves to OracleHalt on the first call that stores it, with its event); fills
/// where both sides reduce still pass on a price valid for liquidation, until that too is stale
/// (10 min).
#[test]
fn fills_on_a_stale_price() {
    let mut h = setup();
    let (a, b, c) = (alice(), bob(), carol());
    for who in [&a, &b, &c] {
        deposit(&mut h, who, usd(10_000));
    }
    fill(&mut h, &a, &b, BTC, px(20_000)).unwrap();
    let involved = vec![a.clone(), b.clone(), c.clone()];
    h.set_time(T0 + 61 * SECOND);
    let halted = EngineError::Risk(RiskError::MarketHalted);
    // Opening: a new position, a grown one, and a reducing taker against an opening maker.
    for (taker, maker, size) in [(&c, &b, BTC / 10), (&a, &b, BTC / 10), (&a, &c, -BTC / 10)] {
        refused(
            &mut h,
            &venue(),
            "fill",
            fill_args(MARKET, taker, maker, size, px(20_000), 0, 0),
            halted,
            &involved,
        );
    }
    // Both sides reducing: accepted; the stored breaker catches up with the event.
    fill(&mut h, &a, &b, -BTC / 10, px(20_000)).expect("reducing fill on a stale price");
    let ev: Vec<BreakerChanged> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].from, ev[0].to),
        (BreakerState::Normal, BreakerState::OracleHalt)
    );
    assert_eq!(h.engine_events::<Filled>().len(), 1);
    assert_eq!(size_of(&mut h, &a), BTC * 9 / 10);
    // Older than 10 min: not even reducing. Price validity is checked before the band, so a
    // venue is told the market is halted.
    h.set_time(T0 + 10 * MINUTE + 1);
    assert!(!risk(&mut h).liquidation_valid);
    refused(
        &mut h,
        &venue(),
        "fill",
        fill_args(MARKET, &a, &b, -BTC / 10, px(20_000), 0, 0),
        EngineError::Risk(RiskError::MarketHalted),
        &involved,
    );
}

/// Velocity breaker: a 10% drop reported within the hour trips ReduceOnly on the report that
/// moves the median (`BreakerChanged { Normal -> ReduceOnly, move_fraction: 0.1 }`). Fills that
/// grow exposure on either side are `ReduceOnly`; a fill where both sides reduce passes;
/// `max_position` only offers the reducing part.
#[test]
fn reduce_only_after_a_velocity_move() {
    let mut h = setup();
    let (a, b, c) = (alice(), bob(), carol());
    for who in [&a, &b, &c] {
        deposit(&mut h, who, usd(10_000));
    }
    fill(&mut h, &a, &b, BTC, px(20_000)).unwrap();
    h.set_time(T0 + 10 * SECOND);
    let transitions = report_all(&mut h, px(18_000));
    assert_eq!(transitions.len(), 1, "one transition, on the second report");
    let t = &transitions[0];
    let moved = px(18_000)
        .checked_div(px(20_000))
        .unwrap()
        .checked_sub(Fixed::ONE)
        .unwrap()
        .checked_abs()
        .unwrap();
    assert_eq!(
        (t.market, t.from, t.to, t.move_fraction),
        (
            MARKET,
            BreakerState::Normal,
            BreakerState::ReduceOnly,
            moved
        )
    );
    let r = risk(&mut h);
    assert_eq!(
        (r.breaker, r.oracle),
        (BreakerState::ReduceOnly, px(18_000))
    );

    let involved = vec![a.clone(), b.clone(), c.clone()];
    let reduce_only = EngineError::Risk(RiskError::ReduceOnly);
    for (taker, maker, size) in [
        (&a, &c, BTC / 10),  // taker grows its long
        (&c, &a, BTC / 10),  // taker opens, maker reduces
        (&a, &c, -BTC / 10), // taker reduces, maker opens
        (&b, &c, -BTC / 10), // taker grows its short
        (&a, &b, -BTC * 2),  // both flip: not reducing
    ] {
        refused(
            &mut h,
            &venue(),
            "fill",
            fill_args(MARKET, taker, maker, size, px(18_000), 0, 0),
            reduce_only,
            &involved,
        );
    }
    assert_eq!(
        h.read::<i128>(
            "max_position",
            (a.clone(), MARKET, false, px(18_000), Fixed::ZERO)
        ),
        Ok(BTC)
    );
    assert_eq!(
        h.read::<i128>(
            "max_position",
            (a.clone(), MARKET, true, px(18_000), Fixed::ZERO)
        ),
        Ok(0)
    );
    assert_eq!(
        h.read::<i128>(
            "max_position",
            (c.clone(), MARKET, true, px(18_000), Fixed::ZERO)
        ),
        Ok(0)
    );
    // Both reduce: the long sells half to the short.
    fill(&mut h, &a, &b, -BTC / 2, px(18_000)).expect("reducing fill in ReduceOnly");
    let ev: Vec<Filled> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].quote_amount, -iusd(9_000));
    assert_eq!(h.engine_event_count(), 1, "no further breaker event");
    assert_eq!(size_of(&mut h, &a), BTC / 2);
    assert_eq!(size_of(&mut h, &b), -BTC / 2);
    assert_eq!(risk(&mut h).open_interest, BTC / 2);
}

// ================================================================================= funding

/// Venues move the funding index out of a budget that refills at 1% of the oracle price per
/// hour and holds at most an hour's worth: `FundingUpdated` with the new index; the long's
/// equity falls and the short's rises by size x delta; the long's payment lands in the
/// settlement pool when it trades. A change beyond the budget (either sign), an unknown market
/// and non-venues are refused; a zero change spends nothing.
#[test]
fn update_funding_is_bounded_and_settles() {
    let mut h = setup();
    let (a, b, c) = (alice(), bob(), carol());
    for who in [&a, &b, &c] {
        deposit(&mut h, who, usd(10_000));
    }
    fill(&mut h, &a, &b, BTC, px(20_000)).unwrap();
    let involved = vec![a.clone(), b.clone(), c.clone()];
    // Half an hour later, with fresh prices: the bound is 1% x 20,000 x 0.5 = 100.
    h.set_time(T0 + 30 * MINUTE);
    report_all(&mut h, px(20_000));
    let too_large = EngineError::Risk(RiskError::FundingTooLarge);
    for delta in [px(101), px(-101), px(1_000_000)] {
        refused(
            &mut h,
            &venue(),
            "update_funding",
            (MARKET, delta),
            too_large,
            &involved,
        );
    }
    refused(
        &mut h,
        &venue(),
        "update_funding",
        (UNKNOWN, px(1)),
        Unauthorized,
        &involved,
    );
    refused(
        &mut h,
        &stranger(),
        "update_funding",
        (MARKET, px(1)),
        Unauthorized,
        &involved,
    );
    let before_a = health(&mut h, &a).maintenance.equity;
    let before_b = health(&mut h, &b).maintenance.equity;

    h.engine::<()>(&venue(), "update_funding", (MARKET, px(50)))
        .unwrap();
    let ev: Vec<FundingUpdated> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert_eq!(h.engine_event_count(), 1);
    assert_eq!(
        (ev[0].market, ev[0].delta, ev[0].index),
        (MARKET, px(50), px(50))
    );
    assert_eq!(health(&mut h, &a).maintenance.equity, before_a - iusd(50));
    assert_eq!(health(&mut h, &b).maintenance.equity, before_b + iusd(50));
    assert_eq!(h.read::<i128>("settlement_pool", (MARKET,)), Ok(0));
    // Half of the half hour's budget is spent: 50 more would pass, 51 does not.
    refused(
        &mut h,
        &venue(),
        "update_funding",
        (MARKET, px(51)),
        too_large,
        &involved,
    );

    // Alice sells half to Carol: her pending funding (50) is settled into the pool.
    fill(&mut h, &a, &c, -BTC / 2, px(20_000)).unwrap();
    assert_eq!(h.read::<i128>("settlement_pool", (MARKET,)), Ok(iusd(50)));
    assert_eq!(health(&mut h, &a).maintenance.equity, before_a - iusd(50));
    // Ten minutes later the budget holds the unspent 50 plus 33.3: 83.3, in either direction.
    h.set_time(T0 + 40 * MINUTE);
    report_all(&mut h, px(20_000));
    refused(
        &mut h,
        &venue(),
        "update_funding",
        (MARKET, px(-84)),
        too_large,
        &involved,
    );
    h.engine::<()>(&venue(), "update_funding", (MARKET, px(-83)))
        .unwrap();
    let ev: Vec<FundingUpdated> = h.engine_events();
    assert_eq!((ev[0].delta, ev[0].index), (px(-83), px(-33)));
    // A zero change is accepted and spends nothing; after hours of silence the budget holds
    // one hour's worth (200, a hair less: 1% is not exact in binary), not the whole silence's.
    h.engine::<()>(&venue(), "update_funding", (MARKET, Fixed::ZERO))
        .unwrap();
    h.set_time(T0 + 10 * 60 * MINUTE);
    report_all(&mut h, px(20_000));
    refused(
        &mut h,
        &venue(),
        "update_funding",
        (MARKET, px(201)),
        too_large,
        &involved,
    );
    h.engine::<()>(&venue(), "update_funding", (MARKET, px(199)))
        .unwrap();
}

// ============================================================================= liquidation

/// Alice holds 1 BTC long at 20,000 on 2,000 of collateral. The liquidation price query puts
/// her at about 18,461.5 (equity = 2.5% maintenance); Bob's short at about 29,268. At 18,440 she
/// is liquidatable: bad inputs first (healthy account, no position, self-liquidation, unknown
/// market, liquidator without margin, paused market, global halt), then one call closes exactly
/// what restores her liquidation-end health (about 0.496 BTC, inside the chunk of half the
/// position) to the keeper at the oracle price with a 1% penalty split with the insurance fund
/// (`Liquidated`); she is then above maintenance, so a second call is refused, and once the
/// price is older than 10 min liquidation stops.
#[test]
fn liquidation_of_an_undercollateralized_long() {
    let mut h = setup();
    let (a, b, k) = (alice(), bob(), keeper());
    deposit(&mut h, &a, usd(2_000));
    deposit(&mut h, &b, usd(10_000));
    deposit(&mut h, &k, usd(10_000));
    deposit(&mut h, &carol(), usd(10_000));
    fill(&mut h, &a, &b, BTC, px(20_000)).unwrap();
    let involved = vec![a.clone(), b.clone(), k.clone(), carol()];

    let lp = |h: &mut Harness, who: &AccountId32| -> Fixed {
        h.read::<Option<Fixed>>("liquidation_price", (who.clone(), MARKET))
            .unwrap()
            .expect("has a liquidation price")
    };
    let pa = lp(&mut h, &a);
    assert!(
        pa > ratio(1_846_150, 100) && pa < ratio(1_846_154, 100),
        "alice {pa}"
    );
    let pb = lp(&mut h, &b);
    assert!(
        pb > ratio(2_926_829, 100) && pb < ratio(2_926_830, 100),
        "bob {pb}"
    );

    let not_liquidatable = EngineError::Risk(RiskError::NotLiquidatable);
    refused(
        &mut h,
        &k,
        "liquidate",
        (a.clone(), MARKET),
        not_liquidatable,
        &involved,
    );

    // 7.8% down: below the liquidation price, below the 8% velocity trip.
    h.set_time(T0 + 10 * SECOND);
    assert!(report_all(&mut h, px(18_440)).is_empty());
    let hr = health(&mut h, &a);
    assert_eq!(hr.maintenance.equity, iusd(440));
    assert!(hr.maintenance.surplus().unwrap() < 0);
    assert_eq!(risk(&mut h).breaker, BreakerState::Normal);

    refused(
        &mut h,
        &k,
        "liquidate",
        (b.clone(), MARKET),
        not_liquidatable,
        &involved,
    );
    refused(
        &mut h,
        &k,
        "liquidate",
        (carol(), MARKET),
        EngineError::Risk(RiskError::NoPosition),
        &involved,
    );
    refused(
        &mut h,
        &k,
        "liquidate",
        (stranger(), MARKET),
        EngineError::Risk(RiskError::NoPosition),
        &involved,
    );
    refused(
        &mut h,
        &a,
        "liquidate",
        (a.clone(), MARKET),
        SameAccount,
        &involved,
    );
    refused(
        &mut h,
        &k,
        "liquidate",
        (a.clone(), UNKNOWN),
        EngineError::UnknownMarket,
        &involved,
    );
    // The liquidator must itself meet initial margin on what it takes over.
    refused(
        &mut h,
        &stranger(),
        "liquidate",
        (a.clone(), MARKET),
        EngineError::Risk(RiskError::InsufficientMargin),
        &involved,
    );
    h.engine::<()>(&guardian(), "halt_market", (MARKET,))
        .unwrap();
    refused(
        &mut h,
        &k,
        "liquidate",
        (a.clone(), MARKET),
        EngineError::Risk(RiskError::MarketHalted),
        &involved,
    );
    h.engine::<()>(&owner(), "resume_market", (MARKET,))
        .unwrap();
    h.engine::<()>(&guardian(), "halt_all", ()).unwrap();
    refused(
        &mut h,
        &k,
        "liquidate",
        (a.clone(), MARKET),
        Halted,
        &involved,
    );
    h.engine::<()>(&owner(), "resume_all", ()).unwrap();

    let engine = h.engine.clone();
    let tokens_before = h.balance(&engine);
    let net_before = h.query::<i128>("net_deposits", ());
    h.engine::<()>(&k, "liquidate", (a.clone(), MARKET))
        .unwrap();
    let ev: Vec<Liquidated> = h.engine_events();
    assert_eq!(ev.len(), 1);
    assert!(h.engine_events::<BankruptcyResolved>().is_empty());
    let e = &ev[0];
    assert_eq!(
        (e.market, e.account, e.liquidator),
        (MARKET, id(&a), id(&k))
    );
    // The smallest size restoring liquidation-end health, about half: inside the chunk of half
    // the position, so one call ends the liquidation.
    assert!(
        e.closed_size > BTC * 49 / 100 && e.closed_size < BTC / 2,
        "{}",
        e.closed_size
    );
    let cfg = default_config();
    let notional = cfg
        .decimals
        .quote_value(e.closed_size, px(18_440), Rounding::Ceil)
        .unwrap();
    assert_eq!(e.notional, notional);
    let penalty = cfg
        .liquidation
        .penalty_fraction
        .mul_amount(
            cfg.decimals
                .quote_value(e.closed_size, px(18_440), Rounding::Floor)
                .unwrap(),
            Rounding::Floor,
        )
        .unwrap();
    assert_eq!(e.penalty, penalty);
    let to_keeper = cfg
        .liquidation
        .liquidator_share
        .mul_amount(penalty, Rounding::Floor)
        .unwrap();
    assert_eq!(
        (e.to_insurance, e.to_liquidator),
        (penalty - to_keeper, to_keeper)
    );
    assert!(!e.bankrupt);
    assert_eq!(h.query::<i128>("insurance_fund", ()), e.to_insurance);

    let va = view(&mut h, &a);
    assert_eq!(va.collateral, iusd(2_000) - penalty);
    assert!(
        !va.being_liquidated,
        "back above maintenance: the liquidation is over"
    );
    assert_eq!(va.positions.len(), 1);
    assert_eq!(va.positions[0].1.size, BTC - e.closed_size);
    assert_eq!(va.positions[0].1.quote, -iusd(20_000) + notional);
    let after = health(&mut h, &a);
    assert!(after.liquidation_end.surplus().unwrap() >= 0);
    let vk = view(&mut h, &k);
    assert_eq!(vk.collateral, iusd(10_000) + to_keeper);
    assert_eq!(vk.positions.len(), 1);
    assert_eq!(
        (vk.positions[0].1.size, vk.positions[0].1.quote),
        (e.closed_size, -notional)
    );
    assert_eq!(risk(&mut h).open_interest, BTC);
    assert_eq!(h.balance(&engine), tokens_before);
    assert_eq!(h.query::<i128>("net_deposits", ()), net_before);
    // Five minutes later the price is too old to open risk on but still valid for liquidation
    // (graduated validity); she is above maintenance, so nothing more is taken.
    h.set_time(T0 + 10 * SECOND + 5 * MINUTE);
    let r = risk(&mut h);
    assert!(!r.opening_valid && r.liquidation_valid);
    refused(
        &mut h,
        &k,
        "liquidate",
        (a.clone(), MARKET),
        not_liquidatable,
        &involved,
    );

    // Price older than 10 min: liquidation stops too.
    h.set_time(T0 + 10 * SECOND + 10 * MINUTE + 1);
    refused(
        &mut h,
        &k,
        "liquidate",
        (a.clone(), MARKET),
        EngineError::Risk(RiskError::MarketHalted),
        &involved,
    );
}

/// A 10.5% drop leaves Alice (1 BTC long on 2,000) with negative equity: she is liquidated with
/// no penalty (`bankrupt: true`, also in ReduceOnly, which the drop trips). One call covers her
/// deficit and closes her whole position (`BankruptcyResolved`): the insurance fund is empty,
/// so all of it is shared as a social loss, paid by Bob's short alone (the keeper takes her
/// position over at the index after the loss).
#[test]
fn bankrupt_account_is_closed_and_its_deficit_resolved() {
    let mut h = setup();
    let (a, b, k) = (alice(), bob(), keeper());
    deposit(&mut h, &a, usd(2_000));
    deposit(&mut h, &b, usd(10_000));
    deposit(&mut h, &k, usd(10_000));
    fill(&mut h, &a, &b, BTC, px(20_000)).unwrap();
    h.set_time(T0 + 10 * SECOND);
    let t = report_all(&mut h, px(17_900));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].to, BreakerState::ReduceOnly);
    assert_eq!(health(&mut h, &a).maintenance.equity, -iusd(100));

    let mut resolved = vec![];
    let mut calls = 0;
    while !view(&mut h, &a).positions.is_empty() {
        h.engine::<()>(&k, "liquidate", (a.clone(), MARKET))
            .expect("bankrupt accounts are always liquidatable");
        calls += 1;
        let ev: Vec<Liquidated> = h.engine_events();
        assert_eq!(ev.len(), 1);
        assert!(ev[0].bankrupt);
        assert_eq!(
            (ev[0].penalty, ev[0].to_insurance, ev[0].to_liquidator),
            (0, 0, 0)
        );
        resolved.extend(h.engine_events::<BankruptcyResolved>());
        assert!(calls <= 1, "a bankrupt account closes whole");
    }
    assert_eq!(calls, 1);
    assert_eq!(resolved.len(), 1);
    let b_ev = &resolved[0];
    assert_eq!((b_ev.market, b_ev.account), (MARKET, id(&a)));
    assert_eq!(b_ev.deficit, iusd(100));
    assert_eq!((b_ev.from_insurance, b_ev.socialized), (0, iusd(100)));
    assert_eq!(
        view(&mut h, &a),
        AccountView {
            collateral: 0,
            being_liquidated: false,
            positions: vec![],
            margin: MarginMode::Cross,
        }
    );
    assert_eq!(size_of(&mut h, &k), BTC);
    assert_eq!(h.read::<i128>("settlement_pool", (MARKET,)), Ok(-iusd(100)));
    assert_eq!(h.query::<i128>("insurance_fund", ()), 0);
    // Nothing left to liquidate.
    refused(
        &mut h,
        &k,
        "liquidate",
        (a.clone(), MARKET),
        EngineError::Risk(RiskError::NoPosition),
        &[a.clone(), k.clone()],
    );
}

// ============================================================================ fixed issues

/// A venue cannot drain an account through the fee of a reducing fill (it once could: a
/// reducing side skipped the margin check, so a 50,000 fee on a 2,000 fill went through and the
/// fee recipient could withdraw other users' tokens). Fees are now bounded by the market's
/// `max_fee_fraction`, and a reducing side must not leave its maintenance health worse.
#[test]
fn reducing_fill_cannot_charge_a_fee_beyond_the_collateral() {
    let mut h = setup();
    let (a, b) = (alice(), bob());
    deposit(&mut h, &a, usd(10_000));
    deposit(&mut h, &b, usd(10_000));
    fill(&mut h, &a, &b, BTC / 2, px(20_000)).unwrap();
    let involved = [a.clone(), b.clone(), treasury()];
    let before = snapshot(&mut h, &involved);
    let result = h.engine::<()>(
        &venue(),
        "fill",
        fill_args(MARKET, &a, &b, -BTC / 10, px(20_000), usd(50_000), 0),
    );
    assert_eq!(result, Err(EngineError::Risk(RiskError::FeeTooLarge)));
    assert_eq!(snapshot(&mut h, &involved), before);
}

/// Halts stop everything that moves value (they once let withdrawals and funding through), and
/// the max-position query refuses a negative fee rate (it once answered absurd sizes).
#[test]
fn halts_stop_withdrawals_and_funding() {
    let mut h = setup();
    let (a, b) = (alice(), bob());
    deposit(&mut h, &a, usd(10_000));
    deposit(&mut h, &b, usd(10_000));
    fill(&mut h, &a, &b, BTC / 10, px(20_000)).unwrap();
    let involved = [a.clone(), b.clone()];
    h.engine::<()>(&guardian(), "halt_market", (MARKET,))
        .unwrap();
    refused(
        &mut h,
        &a,
        "withdraw",
        (usd(1_000),),
        EngineError::Risk(RiskError::MarketHalted),
        &involved,
    );
    refused(
        &mut h,
        &venue(),
        "update_funding",
        (MARKET, Fixed::from_int(1)),
        EngineError::Risk(RiskError::MarketHalted),
        &involved,
    );
    h.engine::<()>(&owner(), "resume_market", (MARKET,))
        .unwrap();
    h.engine::<()>(&guardian(), "halt_all", ()).unwrap();
    refused(
        &mut h,
        &venue(),
        "update_funding",
        (MARKET, Fixed::from_int(1)),
        EngineError::Halted,
        &involved,
    );
    h.engine::<()>(&owner(), "resume_all", ()).unwrap();
    let minus_one = Fixed::from_int(-1);
    assert_eq!(
        h.read::<i128>(
            "max_position",
            (a.clone(), MARKET, true, px(20_000), minus_one)
        ),
        Err(EngineError::Risk(RiskError::InvalidAmount))
    );
    // After the resumes both work again.
    h.engine::<()>(&a, "withdraw", (usd(1_000),)).unwrap();
}
