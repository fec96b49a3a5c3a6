//! State transitions: deposits, withdrawals, fills, funding, liquidation and bankruptcy.
//!
//! Each function checks everything first and writes only on success: on any error the accounts
//! and market states it was given are exactly as before. Value moves only between collateral,
//! position quote balances, the insurance fund and market settlement pools, so
//! `sum(collateral) + sum(quote) + insurance + sum(settlement_pool)` always equals net deposits
//! to the smallest unit (see [`crate::ledger::Ledger::conserved`]).

use ballast_math::{Fixed, MathError, Rounding};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::breaker::BreakerState;
use crate::config::MS_PER_HOUR;
use crate::error::{RiskError, RiskResult};
use crate::greeks::{self, scenario_requirement, Level, OptionsBook, OptionsReport, Stress};
use crate::health::{account_health, account_health_growing_options, find, HealthKind};
use crate::liquidity::{within_cap, BookDepth, CloseSide, ReporterId, Use};
use crate::state::{Account, MarketCtx, MarketId, MarketState};

/// A fill reported by a venue: the taker trades `size` (signed: + buys) with the maker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Fill {
    /// Market.
    pub market: MarketId,
    /// Taker's signed size, base units.
    pub size: i128,
    /// Fill price, quote per base.
    pub price: Fixed,
    /// Fee the taker pays, quote base units.
    pub taker_fee: i128,
    /// Fee the maker pays, quote base units.
    pub maker_fee: i128,
}

/// What a fill did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct FillOutcome {
    /// Quote amount the taker paid (negative: received), quote base units.
    pub quote_amount: i128,
    /// Fees collected for the fee recipient, quote base units.
    pub fees: i128,
    /// Taker's size after the fill.
    pub taker_size: i128,
    /// Maker's size after the fill.
    pub maker_size: i128,
    /// Open interest after the fill, base units.
    pub open_interest: i128,
    /// The taker closed out underwater (at the oracle price or better) and its deficit was
    /// covered in the same fill.
    pub taker_bankruptcy: Option<BankruptcyOutcome>,
    /// The same for the maker.
    pub maker_bankruptcy: Option<BankruptcyOutcome>,
}

/// What a liquidation call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct LiquidationOutcome {
    /// Size taken over by the liquidator (signed as the liquidated position was).
    pub closed_size: i128,
    /// Notional closed at the oracle price, quote base units.
    pub notional: i128,
    /// Penalty paid by the liquidated account.
    pub penalty: i128,
    /// Part of the penalty paid to the liquidator.
    pub to_liquidator: i128,
    /// Part of the penalty paid to the insurance fund.
    pub to_insurance: i128,
    /// The account's equity was not positive when liquidated.
    pub bankrupt: bool,
    /// Liquidation-end surplus after the call (>= 0: liquidation is complete).
    pub liquidation_end_surplus: i128,
    /// The deficit of a bankrupt account covered by this call (before its chunk was closed).
    pub bankruptcy: Option<BankruptcyOutcome>,
}

/// How a deficit was covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct BankruptcyOutcome {
    /// Negative collateral that had to be covered.
    pub deficit: i128,
    /// Covered by the insurance fund.
    pub from_insurance: i128,
    /// Shared as a social loss over other positions (see [`crate::bankruptcy`]).
    pub socialized: i128,
}

pub(crate) fn overflow() -> RiskError {
    RiskError::Math(MathError::Overflow)
}

pub(crate) fn add(a: i128, b: i128) -> RiskResult<i128> {
    a.checked_add(b).ok_or_else(overflow)
}

pub(crate) fn sub(a: i128, b: i128) -> RiskResult<i128> {
    a.checked_sub(b).ok_or_else(overflow)
}

pub(crate) fn index_of(markets: &[MarketCtx], id: MarketId) -> RiskResult<usize> {
    markets
        .iter()
        .position(|m| m.id == id)
        .ok_or(RiskError::UnknownMarket)
}

/// True when adding `delta` to `before` shrinks the position without flipping it.
pub fn is_reducing(before: i128, delta: i128) -> bool {
    before != 0
        && delta != 0
        && (before > 0) != (delta > 0)
        && delta.unsigned_abs() <= before.unsigned_abs()
}

/// Whether the market's breaker and price validity allow a fill side.
fn gate(ctx: &MarketCtx, reducing: bool) -> RiskResult<()> {
    let prices = ctx.prices;
    match ctx.state.breaker.state {
        BreakerState::Settled => Err(RiskError::MarketSettled),
        BreakerState::Paused => Err(RiskError::MarketHalted),
        BreakerState::ReduceOnly if !reducing => Err(RiskError::ReduceOnly),
        BreakerState::OracleHalt if !reducing => Err(RiskError::MarketHalted),
        _ if reducing && prices.liquidation_valid => Ok(()),
        _ if !reducing && prices.opening_valid => Ok(()),
        _ => Err(RiskError::MarketHalted),
    }
}

pub(crate) fn long_part(size: i128) -> i128 {
    size.max(0)
}

/// Settles the pending payments of an account's position in the market at `markets[index]`
/// into `state` (a working copy of that market's state).
pub(crate) fn settle(
    account: &mut Account,
    ctx: &MarketCtx,
    state: &mut MarketState,
) -> RiskResult<()> {
    if let Some((_, position)) = account.positions.iter_mut().find(|(id, _)| *id == ctx.id) {
        let payment = position.pending_payment(ctx)?;
        position.apply_settlement(state, payment)?;
    }
    Ok(())
}

/// Moves `delta` of size and `quote_paid` from `account`'s position (creating it if needed).
pub(crate) fn trade(
    account: &mut Account,
    market: MarketId,
    state: &MarketState,
    delta: i128,
    quote_paid: i128,
) -> RiskResult<()> {
    let position = account.position_mut(market, state)?;
    position.size = add(position.size, delta)?;
    position.quote = sub(position.quote, quote_paid)?;
    Ok(())
}

/// Which side of a fill is checked.
#[derive(Debug, Clone, Copy)]
struct Side {
    /// The side grows exposure (else it only reduces).
    grows: bool,
    /// The taker (the maker is exempt from the per-account impact cap).
    taker: bool,
    /// The side's signed size change, base units.
    delta: i128,
    /// Fill price.
    price: Fixed,
    /// Fee the side pays, quote base units.
    fee: i128,
}

/// Whether a side's fill is at the oracle price or better for it, with its fee covered by the
/// improvement: such a fill cannot take value out of the account beyond one unit of rounding.
fn at_oracle_or_better(ctx: &MarketCtx, side: &Side) -> RiskResult<bool> {
    let oracle = ctx.prices.oracle;
    let improvement = if side.delta < 0 {
        side.price.checked_sub(oracle)?
    } else {
        oracle.checked_sub(side.price)?
    };
    if improvement.is_negative() {
        return Ok(false);
    }
    let gain = ctx.config.decimals.quote_value(
        side.delta.checked_abs().ok_or_else(overflow)?,
        improvement,
        Rounding::Floor,
    )?;
    Ok(gain >= side.fee)
}

/// The margin rule of one side of a fill. A side that grows exposure needs non-negative initial
/// health afterwards (facing the full target requirement). A side that only reduces exposure
/// passes with non-negative initial health too, or else when its maintenance surplus does not
/// fall and, if its equity ends negative, its equity does not fall either: an account below
/// maintenance may always cut risk, but an underwater one only at the oracle price or better
/// (fee included), so that no fill turns its loss into a counterparty's or venue's gain.
fn side_check(
    before: &Account,
    after: &Account,
    markets: &[MarketCtx],
    market: MarketId,
    side: Side,
) -> RiskResult<()> {
    if side.grows {
        // The per-account impact cap is the taker's: a maker (a venue's liquidity account)
        // holds the other side of many traders, and its size is bounded by its margin, which
        // carries the same liquidity charge.
        if side.taker {
            check_liquidity(find(markets, market)?, after.size(market))?;
        }
        require_priced(after, markets)?;
        return require_initial(after, markets, Some(market));
    }
    if account_health(after, markets, HealthKind::Initial, None)?.surplus()? >= 0 {
        return Ok(());
    }
    let maintenance_before = account_health(before, markets, HealthKind::Maintenance, None)?;
    let maintenance_after = account_health(after, markets, HealthKind::Maintenance, None)?;
    if maintenance_after.equity < 0
        && maintenance_after.equity < maintenance_before.equity
        && !at_oracle_or_better(find(markets, market)?, &side)?
    {
        return Err(RiskError::NegativeEquity);
    }
    if maintenance_after.surplus()? >= maintenance_before.surplus()? {
        Ok(())
    } else {
        Err(RiskError::InsufficientMargin)
    }
}

/// Refuses with `MarketHalted` unless every market the account holds (perp positions and the
/// options book) has a price valid at least for liquidation, or is settled (its value fixed):
/// risk may not grow, nor a deficit be measured, on a stale valuation.
pub(crate) fn require_priced(account: &Account, markets: &[MarketCtx]) -> RiskResult<()> {
    for id in account.markets() {
        let ctx = find(markets, id)?;
        if !ctx.prices.liquidation_valid && ctx.state.settlement.is_none() {
            return Err(RiskError::MarketHalted);
        }
    }
    Ok(())
}

/// Ends an account's liquidation state once it is seen at or above maintenance (see
/// [`Account::being_liquidated`]). Every operation that evaluates an account calls it.
pub fn note_observed(account: &mut Account, markets: &[MarketCtx]) -> RiskResult<()> {
    if account.being_liquidated
        && account_health(account, markets, HealthKind::Maintenance, None)?.surplus()? >= 0
    {
        account.clear_liquidation();
    }
    Ok(())
}

/// The per-account liquidity cap of a growing position of `size` (see [`crate::liquidity`]):
/// fresh depth, and a closing impact within `max_impact` at the cautious depth.
fn check_liquidity(ctx: &MarketCtx, size: i128) -> RiskResult<()> {
    let params = &ctx.config.liquidity;
    let depth_state = &ctx.state.depth;
    let Some(depth) = depth_state.depth(params, CloseSide::of(size), Use::Open)? else {
        return Ok(());
    };
    if depth_state.stale(params, ctx.now_ms) {
        return Err(RiskError::DepthStale);
    }
    let notional = ctx.config.decimals.quote_value(
        size.checked_abs().ok_or_else(overflow)?,
        ctx.prices.oracle,
        Rounding::Ceil,
    )?;
    if !within_cap(params, notional, depth)? {
        return Err(RiskError::LiquidityCap);
    }
    Ok(())
}

/// Open interest (base units) the market may still add in the current growth window, given
/// its depth (`None`: no depth reported, no cap). Rolls the window in `state` when it is over.
fn oi_growth_room(ctx: &MarketCtx, state: &mut MarketState) -> RiskResult<Option<i128>> {
    let params = &ctx.config.liquidity;
    let Some(depth) = state.depth.both_sides(params, Use::Open)? else {
        return Ok(None);
    };
    if ctx.now_ms.saturating_sub(state.oi_window_start_ms) >= params.oi_growth_window_ms {
        state.oi_window_start_ms = ctx.now_ms;
        state.oi_window_base = state.open_interest;
    }
    let allowed_notional = params
        .oi_growth_fraction
        .mul_amount(depth, Rounding::Floor)?;
    let allowed =
        ctx.config
            .decimals
            .size_for_value(allowed_notional, ctx.prices.oracle, Rounding::Floor)?;
    let used = sub(state.open_interest, state.oi_window_base)?.max(0);
    Ok(Some(allowed.saturating_sub(used).max(0)))
}

fn require_initial(
    account: &Account,
    markets: &[MarketCtx],
    opening: Option<MarketId>,
) -> RiskResult<()> {
    if account_health(account, markets, HealthKind::Initial, opening)?.surplus()? < 0 {
        return Err(RiskError::InsufficientMargin);
    }
    Ok(())
}

/// Adds collateral.
pub fn deposit(account: &mut Account, amount: i128) -> RiskResult<()> {
    if amount <= 0 {
        return Err(RiskError::InvalidAmount);
    }
    account.collateral = add(account.collateral, amount)?;
    Ok(())
}

/// Removes collateral, only while initial health at the *target* requirement stays
/// non-negative (a withdrawal adds risk as an opening does, so it faces what an opening faces)
/// and every market the account holds has a price valid for opening. A position in a settled
/// market must be closed first. An account with nothing but collateral needs no price at all.
pub fn withdraw(account: &mut Account, markets: &[MarketCtx], amount: i128) -> RiskResult<()> {
    if amount <= 0 {
        return Err(RiskError::InvalidAmount);
    }
    if amount > account.collateral {
        return Err(RiskError::InsufficientCollateral);
    }
    for id in account.markets() {
        let ctx = find(markets, id)?;
        match ctx.state.breaker.state {
            BreakerState::Settled => return Err(RiskError::MarketSettled),
            BreakerState::Paused => return Err(RiskError::MarketHalted),
            _ if !ctx.prices.opening_valid => return Err(RiskError::MarketHalted),
            _ => {}
        }
    }
    let mut after = account.clone();
    after.collateral = sub(after.collateral, amount)?;
    if crate::health::initial_health_at_target(&after, markets)?.surplus()? < 0 {
        return Err(RiskError::InsufficientMargin);
    }
    note_observed(&mut after, markets)?;
    *account = after;
    Ok(())
}

/// Applies a two-sided fill. The taker pays `quote_value(size, price)` rounded up and the
/// maker receives exactly that, so PnL is zero-sum; fees leave both sides for the fee
/// recipient (returned as `fees` for the caller to credit). Sides that grow exposure need a
/// market open for opening and non-negative initial health afterwards; sides that only reduce
/// exposure pass in ReduceOnly and OracleHalt.
///
/// A side that ends with nothing but negative collateral (an underwater close at the oracle
/// price or better) has its deficit covered in the same fill: the insurance fund, then a social
/// loss over the market's other positions ([`crate::bankruptcy`]); a fill whose deficit nobody
/// can cover is refused with `DeficitUnresolved`.
pub fn apply_fill(
    markets: &mut [MarketCtx],
    taker: &mut Account,
    maker: &mut Account,
    fill: &Fill,
    insurance_fund: &mut i128,
) -> RiskResult<FillOutcome> {
    if fill.size == 0 || !fill.price.is_positive() || fill.taker_fee < 0 || fill.maker_fee < 0 {
        return Err(RiskError::InvalidAmount);
    }
    let index = index_of(markets, fill.market)?;
    let ctx = markets.get(index).ok_or(RiskError::UnknownMarket)?;
    let maker_delta = fill.size.checked_neg().ok_or_else(overflow)?;
    let taker_reducing = is_reducing(taker.size(fill.market), fill.size);
    let maker_reducing = is_reducing(maker.size(fill.market), maker_delta);
    gate(ctx, taker_reducing)?;
    gate(ctx, maker_reducing)?;
    check_band(ctx, fill.price)?;

    let quote_amount = ctx
        .config
        .decimals
        .quote_value(fill.size, fill.price, Rounding::Ceil)?;
    let max_fee = ctx.config.max_fee_fraction.mul_amount(
        quote_amount.checked_abs().ok_or_else(overflow)?,
        Rounding::Floor,
    )?;
    if fill.taker_fee > max_fee || fill.maker_fee > max_fee {
        return Err(RiskError::FeeTooLarge);
    }
    let mut state = ctx.state.clone();
    let (mut t, mut m) = (taker.clone(), maker.clone());
    settle(&mut t, ctx, &mut state)?;
    settle(&mut m, ctx, &mut state)?;
    let long_before = add(
        long_part(t.size(fill.market)),
        long_part(m.size(fill.market)),
    )?;
    trade(&mut t, fill.market, &state, fill.size, quote_amount)?;
    trade(
        &mut m,
        fill.market,
        &state,
        maker_delta,
        quote_amount.checked_neg().ok_or_else(overflow)?,
    )?;
    let long_after = add(
        long_part(t.size(fill.market)),
        long_part(m.size(fill.market)),
    )?;
    let oi_added = sub(long_after, long_before)?;
    if oi_added > 0 {
        if let Some(room) = oi_growth_room(ctx, &mut state)? {
            if oi_added > room {
                return Err(RiskError::OpenInterestGrowth);
            }
        }
    }
    state.open_interest = add(state.open_interest, oi_added)?;
    t.collateral = sub(t.collateral, fill.taker_fee)?;
    m.collateral = sub(m.collateral, fill.maker_fee)?;
    let (taker_size, maker_size) = (t.size(fill.market), m.size(fill.market));
    t.realize_closed()?;
    m.realize_closed()?;
    // Health uses the market as it was before this fill (its own OI change is not counted), so
    // that `max_position` can predict the check exactly.
    let taker_side = Side {
        grows: !taker_reducing,
        taker: true,
        delta: fill.size,
        price: fill.price,
        fee: fill.taker_fee,
    };
    let maker_side = Side {
        grows: !maker_reducing,
        taker: false,
        delta: maker_delta,
        price: fill.price,
        fee: fill.maker_fee,
    };
    side_check(taker, &t, markets, fill.market, taker_side)?;
    side_check(maker, &m, markets, fill.market, maker_side)?;
    let open_interest = state.open_interest;
    let mut fund = *insurance_fund;
    let (taker_bankruptcy, maker_bankruptcy) =
        if (t.is_flat() && t.collateral < 0) || (m.is_flat() && m.collateral < 0) {
            let mut work = markets.to_vec();
            if let Some(target) = work.get_mut(index) {
                target.state = state;
            }
            let outcomes = (
                cover_flat(&mut work, &mut t, fill.market, &mut fund)?,
                cover_flat(&mut work, &mut m, fill.market, &mut fund)?,
            );
            state = work
                .get(index)
                .ok_or(RiskError::UnknownMarket)?
                .state
                .clone();
            outcomes
        } else {
            (None, None)
        };
    let outcome = FillOutcome {
        quote_amount,
        fees: add(fill.taker_fee, fill.maker_fee)?,
        taker_size,
        maker_size,
        open_interest,
        taker_bankruptcy,
        maker_bankruptcy,
    };
    if let Some(target) = markets.get_mut(index) {
        target.state = state;
    }
    note_observed(&mut t, markets)?;
    note_observed(&mut m, markets)?;
    *taker = t;
    *maker = m;
    *insurance_fund = fund;
    Ok(outcome)
}

/// Covers the deficit of an account a fill left with nothing but negative collateral.
fn cover_flat(
    work: &mut [MarketCtx],
    account: &mut Account,
    market: MarketId,
    fund: &mut i128,
) -> RiskResult<Option<BankruptcyOutcome>> {
    if !account.is_flat() || account.collateral >= 0 {
        return Ok(None);
    }
    let deficit = account.collateral.checked_neg().ok_or_else(overflow)?;
    let share = [crate::bankruptcy::Share { market, weight: 1 }];
    let outcome = crate::bankruptcy::cover_deficit(work, &share, account, deficit, fund)?;
    account.collateral = 0;
    Ok(Some(outcome))
}

fn check_band(ctx: &MarketCtx, price: Fixed) -> RiskResult<()> {
    let oracle = ctx.prices.oracle;
    let distance = price.checked_sub(oracle)?.checked_abs()?;
    if !oracle.is_positive() || distance > oracle.checked_mul(ctx.config.max_fill_deviation)? {
        return Err(RiskError::PriceOutOfBand);
    }
    Ok(())
}

/// The largest size (base units, non-negative) the account may buy (`buy`) or sell now at
/// `price` paying `fee_rate` of the notional, as [`apply_fill`] would check it: the part that
/// reduces an opposite position always, plus what initial health allows beyond it.
pub fn max_position(
    account: &Account,
    markets: &[MarketCtx],
    market: MarketId,
    buy: bool,
    price: Fixed,
    fee_rate: Fixed,
) -> RiskResult<i128> {
    if fee_rate.is_negative() {
        return Err(RiskError::InvalidAmount);
    }
    let ctx = find(markets, market)?;
    let before = account.size(market);
    let reducible = if (before > 0) != buy && before != 0 {
        before.checked_abs().ok_or_else(overflow)?
    } else {
        0
    };
    if gate(ctx, reducible > 0).is_err() {
        return Ok(0);
    }
    check_band(ctx, price)?;
    // Whether a taker fill of `magnitude` in the asked direction passes `apply_fill`'s rule.
    let passes = |magnitude: i128| -> RiskResult<bool> {
        let delta = if buy {
            magnitude
        } else {
            magnitude.checked_neg().ok_or_else(overflow)?
        };
        let quote = ctx
            .config
            .decimals
            .quote_value(delta, price, Rounding::Ceil)?;
        let fee = fee_rate.mul_amount(quote.checked_abs().ok_or_else(overflow)?, Rounding::Ceil)?;
        let mut after = account.clone();
        trade(&mut after, market, &ctx.state, delta, quote)?;
        after.collateral = sub(after.collateral, fee)?;
        after.realize_closed()?;
        let side = Side {
            grows: !is_reducing(before, delta),
            taker: true,
            delta,
            price,
            fee,
        };
        Ok(side_check(account, &after, markets, market, side).is_ok())
    };
    let ok = |magnitude: i128| passes(magnitude).unwrap_or(false);
    // Largest passing size in [low, high) given that `low` passes (0 always does).
    let last_passing = |mut low: i128, mut high: i128| {
        while high.saturating_sub(low) > 1 {
            let mid = low.saturating_add(high.saturating_sub(low) / 2);
            if ok(mid) {
                low = mid;
            } else {
                high = mid;
            }
        }
        low
    };
    if reducible > 0 && !ok(reducible) {
        // Not even the full reduction passes: the reducing rule is linear in size, so the
        // passing reductions are an interval starting at 0.
        return Ok(last_passing(0, reducible));
    }
    if gate(ctx, false).is_err() || !ok(add(reducible, 1)?) {
        return Ok(reducible);
    }
    // Exponential search for a failing bound beyond the reduction, then bisection.
    let mut low = add(reducible, 1)?;
    let mut step = 1i128;
    let mut high = add(reducible, 2)?;
    while ok(high) {
        low = high;
        step = step.checked_mul(2).ok_or_else(overflow)?;
        high = add(reducible, step)?;
    }
    let by_margin = last_passing(low, high);
    // Depth also caps how fast open interest grows; counted as if the whole size beyond the
    // reduction added open interest (the maker may reduce instead, so a fill can get more).
    let mut state = ctx.state.clone();
    match oi_growth_room(ctx, &mut state)? {
        Some(room) => Ok(by_margin.min(add(reducible, room)?)),
        None => Ok(by_margin),
    }
}

/// What an options report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct OptionsOutcome {
    /// The previous Greeks explained the reported P&L (else the conservative charge applies).
    pub trusted: bool,
    /// The report grew the book's risk, so budgets and initial health were checked.
    pub growing: bool,
    /// Initial requirement of the book now (scenario or fallback, against the venue's margin).
    pub initial_requirement: i128,
    /// Maintenance requirement of the book now.
    pub maintenance_requirement: i128,
    /// The report emptied the book of an account left with nothing but negative collateral,
    /// and its deficit was covered.
    pub bankruptcy: Option<BankruptcyOutcome>,
}

/// Measures of a book's risk compared to decide whether a report grows it.
fn risk_measures(ctx: &MarketCtx, book: Option<&OptionsBook>) -> RiskResult<[i128; 4]> {
    let Some(book) = book else {
        return Ok([0; 4]);
    };
    let params = &ctx.config.options;
    let stress = Stress::of(ctx, Level::Initial { opening: true })?;
    let report = &book.report;
    Ok([
        scenario_requirement(params, report, &stress, ctx.config.decimals)?,
        greeks::gamma_loss(report, &stress)?,
        greeks::vega_loss(params, report, &stress)?,
        report.venue_initial,
    ])
}

/// Takes in an options venue's report for an account. A report that follows a trade and grows
/// the book's risk (scenario requirement, short-gamma loss, vega loss or the venue's margin)
/// needs a market open for new risk, both budgets and non-negative initial health with the
/// book at the target volatility; any other report (a trade that shrinks the book, a re-mark)
/// always passes. A P&L the previous Greeks fail to explain is
/// accepted but the book is charged the conservative fallback until the next explained report.
///
/// A report that empties the book of an account holding nothing else but negative collateral
/// has that deficit covered at once (insurance fund, then a social loss over the book's market),
/// as a fill does.
pub fn apply_options_report(
    account: &mut Account,
    markets: &mut [MarketCtx],
    report: OptionsReport,
    insurance_fund: &mut i128,
) -> RiskResult<OptionsOutcome> {
    let book_market = report.market;
    let had_book = account.options.is_some();
    let mut outcome = options_report(account, markets, report)?;
    // Count the market's books (an instant appointment of a venue or feeder needs none).
    if had_book != account.options.is_some() {
        let i = index_of(markets, book_market)?;
        if let Some(ctx) = markets.get_mut(i) {
            let books = &mut ctx.state.options_books;
            *books = if had_book {
                books.saturating_sub(1)
            } else {
                books.saturating_add(1)
            };
        }
    }
    if account.is_flat() && account.collateral < 0 {
        let mut work = markets.to_vec();
        let mut a = account.clone();
        let mut fund = *insurance_fund;
        outcome.bankruptcy = cover_flat(&mut work, &mut a, book_market, &mut fund)?;
        markets.clone_from_slice(&work);
        *account = a;
        *insurance_fund = fund;
    }
    Ok(outcome)
}

fn options_report(
    account: &mut Account,
    markets: &[MarketCtx],
    report: OptionsReport,
) -> RiskResult<OptionsOutcome> {
    let ctx = find(markets, report.market)?;
    greeks::validate(&report, ctx.now_ms)?;
    // An isolated account holds one market: its book, if any, is in the market of its
    // position, whatever the report trades.
    if account.isolated && account.positions.iter().any(|(m, _)| *m != report.market) {
        return Err(RiskError::IsolatedAccount);
    }
    if let Some(previous) = &account.options {
        // One book per account, in one market: a venue of another market may neither replace
        // nor empty it (its venue empties it first).
        if previous.report.market != report.market {
            return Err(RiskError::OptionsBookElsewhere);
        }
        if report.timestamp_ms <= previous.report.timestamp_ms {
            return Err(RiskError::InvalidReport);
        }
    }
    match ctx.state.breaker.state {
        // A settled market takes reports that do not grow the book (the venue emptying it once
        // it has settled the options), so that the account is not locked.
        BreakerState::Settled => {}
        BreakerState::Paused => return Err(RiskError::MarketHalted),
        _ if !ctx.prices.liquidation_valid => return Err(RiskError::MarketHalted),
        _ => {}
    }
    let params = &ctx.config.options;
    let decimals = ctx.config.decimals;
    let spot = ctx.prices.oracle;
    let trade = report.trade;
    let trusted = match &account.options {
        Some(previous) => {
            // While a change blends in, a report either configuration explains is trusted:
            // a stricter explanation test reaches the book only once it has blended in.
            let old_params = ctx
                .state
                .previous_terms
                .as_ref()
                .filter(|_| crate::governance::blending(&ctx.state, ctx.now_ms))
                .map(|p| p.config.options);
            greeks::explains(params, previous, &report, spot, decimals)?
                || match old_params {
                    Some(old) => greeks::explains(&old, previous, &report, spot, decimals)?,
                    None => false,
                }
        }
        None => true,
    };
    let held = Stress::of(ctx, Level::Initial { opening: false })?;
    let requirement_at_report = scenario_requirement(params, &report, &held, decimals)?;
    let empty = report.buckets.is_empty() && report.venue_initial == 0 && report.mark_value >= 0;
    let mut after = account.clone();
    after.options = (!empty).then_some(OptionsBook {
        report,
        spot,
        trusted,
        requirement_at_report,
    });
    let before_risk = risk_measures(ctx, account.options.as_ref())?;
    let after_risk = risk_measures(ctx, after.options.as_ref())?;
    let growing = trade && after_risk.iter().zip(&before_risk).any(|(a, b)| a > b);
    if growing {
        gate(ctx, false)?;
        require_priced(&after, markets)?;
        let equity = account_health(&after, markets, HealthKind::Maintenance, None)?.equity;
        if let Some(book) = &after.options {
            let stress = Stress::of(ctx, Level::Initial { opening: true })?;
            greeks::check_budgets(params, &book.report, &stress, equity)?;
        }
        if account_health_growing_options(&after, markets, HealthKind::Initial)?.surplus()? < 0 {
            return Err(RiskError::InsufficientMargin);
        }
    }
    let requirements = match &after.options {
        Some(book) => {
            greeks::book_requirements(book, ctx, false, ctx.config.margin.liquidation_end_weight)?
        }
        None => crate::margin::Requirements::default(),
    };
    note_observed(&mut after, markets)?;
    *account = after;
    Ok(OptionsOutcome {
        trusted,
        growing,
        initial_requirement: requirements.initial,
        maintenance_requirement: requirements.maintenance,
        bankruptcy: None,
    })
}

/// Takes in `reporter`'s depth report for a market (see [`crate::liquidity`]).
pub fn report_depth(ctx: &mut MarketCtx, reporter: ReporterId, depth: BookDepth) -> RiskResult<()> {
    let params = ctx.config.liquidity;
    let open_interest_notional = ctx.config.decimals.quote_value(
        ctx.state.open_interest,
        ctx.prices.oracle,
        Rounding::Ceil,
    )?;
    ctx.state
        .depth
        .report(&params, reporter, depth, open_interest_notional, ctx.now_ms)
}

/// Applies a venue's funding index change out of a budget that refills at
/// `max_funding_per_hour * oracle` per hour and holds at most one hour's worth: over any
/// window of T, all venues together move the index by at most the hourly bound times
/// (T + 1 h). Each change spends only the time its size is worth (rounded against the venue),
/// so a zero or tiny change neither resets nor wastes the budget.
pub fn update_funding(ctx: &mut MarketCtx, delta_index: Fixed) -> RiskResult<()> {
    match ctx.state.breaker.state {
        BreakerState::Settled => return Err(RiskError::MarketSettled),
        BreakerState::Paused => return Err(RiskError::MarketHalted),
        _ => {}
    }
    // The budget's clock: the time up to which the budget is spent, never more than an hour
    // behind now.
    let spent_until = ctx
        .state
        .last_funding_ms
        .max(ctx.now_ms.saturating_sub(MS_PER_HOUR));
    let available_ms = ctx.now_ms.saturating_sub(spent_until);
    let per_hour = ctx
        .config
        .max_funding_per_hour
        .checked_mul(ctx.prices.oracle)?;
    let hour = Fixed::from_i128(i128::from(MS_PER_HOUR))?;
    let bound = per_hour.mul_div(
        Fixed::from_i128(i128::from(available_ms))?,
        hour,
        Rounding::Floor,
    )?;
    let size = delta_index.checked_abs()?;
    if size > bound {
        return Err(RiskError::FundingTooLarge);
    }
    if size == Fixed::ZERO {
        return Ok(());
    }
    let used_ms = size
        .mul_div(hour, per_hour, Rounding::Ceil)?
        .to_int(Rounding::Ceil);
    let used_ms = u64::try_from(used_ms).map_err(|_| RiskError::FundingTooLarge)?;
    ctx.state.funding_index = ctx.state.funding_index.checked_add(delta_index)?;
    ctx.state.last_funding_ms = spent_until.saturating_add(used_ms).min(ctx.now_ms);
    Ok(())
}
