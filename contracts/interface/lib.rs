//! The Ballast engine's public surface for its callers: the error enum every message returns,
//! the read-only views, and the events. Perp venues, keepers and the drink tests depend on this
//! crate, not on the engine's source.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;

use ballast_math::Fixed;
use ballast_oracle::{OracleConfig, OracleError};
use ballast_risk::{
    BreakerState, Health, MarketConfig, MarketId, OptionsReport, Position, RiskError, SettleReason,
    StressFee,
};
use ink::primitives::AccountId;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Why the engine refused a message. Each message that returns it has changed nothing.
// The SCALE derive casts variant indices; the enum has far fewer than 256 variants.
#[allow(clippy::cast_possible_truncation)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum EngineError {
    /// The caller lacks the role the message needs.
    #[codec(index = 0)]
    Unauthorized,
    /// Only the pending owner may accept ownership.
    #[codec(index = 1)]
    NotPendingOwner,
    /// No market with that id.
    #[codec(index = 2)]
    UnknownMarket,
    /// A market with that id is already listed.
    #[codec(index = 3)]
    MarketExists,
    /// The caller is not a feeder of that market, or the slot is out of range.
    #[codec(index = 4)]
    UnknownFeeder,
    /// Zero or out-of-range amount.
    #[codec(index = 5)]
    InvalidAmount,
    /// Taker and maker (or liquidatee and liquidator) are the same account.
    #[codec(index = 6)]
    SameAccount,
    /// Everything is halted by the guardian.
    #[codec(index = 7)]
    Halted,
    /// The collateral token refused or failed the transfer.
    #[codec(index = 8)]
    TokenTransferFailed,
    /// The risk core refused the operation.
    #[codec(index = 9)]
    Risk(RiskError),
    /// The oracle adapter refused the report or configuration.
    #[codec(index = 10)]
    Oracle(OracleError),
    /// Nothing is halted, so there is no halt to confirm.
    #[codec(index = 11)]
    NotHalted,
    /// This code is an engine facet: it runs only through the engine's router, never as a
    /// contract of its own.
    #[codec(index = 12)]
    FacetOnly,
    /// The sub-account is already open (index 0 is the caller's own account, always open).
    #[codec(index = 13)]
    SubAccountExists,
    /// The caller has not opened a sub-account with that index.
    #[codec(index = 14)]
    UnknownSubAccount,
    /// The taker or the maker of a fill has not approved the calling venue for the market.
    #[codec(index = 15)]
    VenueNotApproved,
    /// The venue is already authorized in the market (revoke it first).
    #[codec(index = 16)]
    VenueExists,
}

/// An account's consent to a venue filling it in a market.
// The SCALE derive casts variant indices; the enum has two variants.
#[allow(clippy::cast_possible_truncation)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Approval {
    /// The venue may fill the account in the market.
    Granted,
    /// It may not (the default).
    Revoked,
}

/// How a sub-account is margined.
// The SCALE derive casts variant indices; the enum has two variants.
#[allow(clippy::cast_possible_truncation)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum MarginMode {
    /// Cross-margined over every market it holds, as an owner's own account is.
    Cross,
    /// Isolated: at most one market at a time, its collateral its only backing. Its losses
    /// reach none of the owner's other accounts; a deficit is covered as any account's is.
    Isolated,
}

impl From<RiskError> for EngineError {
    fn from(e: RiskError) -> Self {
        EngineError::Risk(e)
    }
}

impl From<OracleError> for EngineError {
    fn from(e: OracleError) -> Self {
        EngineError::Oracle(e)
    }
}

impl From<ballast_math::MathError> for EngineError {
    fn from(e: ballast_math::MathError) -> Self {
        EngineError::Risk(RiskError::Math(e))
    }
}

/// An account as stored: collateral, liquidation flag and positions.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AccountView {
    /// Collateral, quote base units.
    pub collateral: i128,
    /// A liquidation started and the account has not been seen at or above maintenance since
    /// (informational: only maintenance decides whether it is liquidatable).
    pub being_liquidated: bool,
    /// Open positions.
    pub positions: Vec<(MarketId, Position)>,
    /// Cross-margined, or an isolated sub-account (one market at a time).
    pub margin: MarginMode,
}

/// Health of an account against its three requirements, at the current prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct HealthReport {
    /// Against the initial requirement at its *target* for every position and the options
    /// book (what a withdrawal faces, so `initial.surplus()` is what may be withdrawn now, and
    /// the least an opening faces).
    pub initial: Health,
    /// Against maintenance (below it: liquidatable).
    pub maintenance: Health,
    /// Against the liquidation-end requirement (where liquidation stops).
    pub liquidation_end: Health,
}

/// The risk state of a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct MarketRisk {
    /// Oracle (median) price.
    pub oracle: Fixed,
    /// Dampened price.
    pub dampened: Fixed,
    /// Price valid for opening risk.
    pub opening_valid: bool,
    /// Price valid for liquidation.
    pub liquidation_valid: bool,
    /// Forecast volatility, annualized.
    pub forecast_vol: Fixed,
    /// Applied (ramped) initial volatility fraction, for existing positions.
    pub applied_initial_fraction: Fixed,
    /// Applied maintenance volatility fraction.
    pub applied_maintenance_fraction: Fixed,
    /// Target initial fraction, what new positions face.
    pub target_initial_fraction: Fixed,
    /// Leverage cap of existing positions in the first tier: 1 / max(applied, min fraction).
    pub applied_leverage_cap: Fixed,
    /// Leverage cap of new positions in the first tier.
    pub new_position_leverage_cap: Fixed,
    /// Circuit breaker state.
    pub breaker: BreakerState,
    /// Open interest, base units.
    pub open_interest: i128,
    /// Token decimals of the market: sizes (base) and collateral (quote). A venue prices
    /// notionals and fees with these.
    pub decimals: ballast_math::Decimals,
    /// Largest fee per side of a fill, as a fraction of its notional.
    pub max_fee_fraction: Fixed,
    /// Effective depth for new risk (bids, asks), quote base units, after the haircut;
    /// `None` while nobody has reported depth (no liquidity terms apply).
    pub depth: Option<(i128, i128)>,
    /// Recommended fee multiplier for trades that raise open interest (see `stress_fee`).
    pub stress_multiplier: Fixed,
}

/// The engine's venue-facing messages. A perp venue depends on this crate and calls the engine
/// through `ink::contract_ref!(VenueApi)` with the fallible form (`call_mut().fill(..)
/// .try_invoke()`), so that every refusal reaches it as an [`EngineError`] instead of a trap;
/// it reads limits through [`RiskViews`].
///
/// Every engine message has an explicit selector whose first byte names the facet that runs
/// it (`0x01` these, `0x05` collateral, `0x06` views; see `docs/architecture.md`). Costs are the
/// benchmark's figures (`scripts/bench.sh`, README "Performance").
///
/// What a venue must do with the answers:
/// - `Risk(ReduceOnly)`: the market only accepts fills that shrink both sides' exposure; quote
///   reduce-only until `market_risk` shows `Normal` again (the breaker resumes by itself).
/// - `Risk(MarketHalted)`: the price is not valid for this fill (stale or too volatile, or the
///   market is paused): quote nothing that opens risk.
/// - `Risk(InsufficientMargin)`: ask `max_position` and offer at most that.
/// - `Risk(PriceOutOfBand)` / `Risk(FeeTooLarge)`: the venue's own price or fee is off bounds.
/// - `Unauthorized`: the venue is not (or no longer, or not yet) authorized for the market by
///   the engine's owner.
/// - `VenueNotApproved`: the taker or the maker has not approved the venue for the market
///   (`CollateralApi::approve_venue`).
#[ink::trait_definition]
pub trait VenueApi {
    /// Applies a fill: `taker` trades `size` (signed, + buys) with `maker` at `price`; fees, each
    /// at most the market's `max_fee_fraction` of the notional, go to `fee_recipient`.
    /// Venues authorized for the market only, and only for accounts that approved the venue
    /// there (the venue's own account needs no approval).
    #[ink(message, selector = 0x0100_0001)]
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        market: MarketId,
        taker: AccountId,
        maker: AccountId,
        size: i128,
        price: Fixed,
        taker_fee: u128,
        maker_fee: u128,
        fee_recipient: AccountId,
    ) -> Result<(), EngineError>;

    /// Moves the market's funding index by `delta` (quote per base unit; positive: longs pay),
    /// bounded per hour by the market config. Venue only.
    #[ink(message, selector = 0x0100_0002)]
    fn update_funding(&mut self, market: MarketId, delta: Fixed) -> Result<(), EngineError>;

    /// Reports the market's order book depth: notional (quote base units) resting within the
    /// market's depth band (1%) of mid on each side. The market's venues and feeders; each
    /// reporter's latest report counts once. No depth counts until `min_reporters` distinct
    /// reporters (3 by default) have fresh reports; the depth the engine uses then follows
    /// their median at a bounded rate (see `ballast_risk::liquidity`). A market without depth
    /// has no liquidity charge, no per-account impact cap and no open-interest growth cap;
    /// once depth is in use, fewer fresh reporters than `min_reporters` stop new risk.
    #[ink(message, selector = 0x0100_0003)]
    fn report_depth(&mut self, market: MarketId, bid: u128, ask: u128) -> Result<(), EngineError>;

    /// Reports an account's options book (Greeks per expiry, the venue's own margin, mark value,
    /// P&L since the last report). A report that grows the book's risk needs the gamma and
    /// vega budgets and initial health; a report that shrinks it always passes. Call it
    /// before executing an options trade and execute only on `Ok`. Report every account's
    /// book at least hourly: older Greeks, or a P&L the previous Greeks cannot explain, are
    /// charged the conservative per-bucket fallback. An account nobody reports a book for is a
    /// plain perp account. Venue only.
    #[ink(message, selector = 0x0100_0004)]
    fn report_options(
        &mut self,
        account: AccountId,
        report: OptionsReport,
    ) -> Result<(), EngineError>;
}

/// What venues, keepers and front ends read: an account, its health and limits, a market's
/// risk state. Queries change nothing; call them as dry runs
/// (`ink::contract_ref!(RiskViews)`, or polkadot.js `query`).
#[ink::trait_definition]
pub trait RiskViews {
    /// An account's collateral and positions.
    #[ink(message, selector = 0x0600_0001)]
    fn account(&self, who: AccountId) -> AccountView;

    /// Health against the initial, maintenance and liquidation-end requirements.
    #[ink(message, selector = 0x0600_0002)]
    fn health(&self, who: AccountId) -> Result<HealthReport, EngineError>;

    /// The largest size `who` may buy (or sell) now at `price` paying `fee_rate` of the
    /// notional: exactly what a fill would accept.
    #[ink(message, selector = 0x0600_0003)]
    fn max_position(
        &self,
        who: AccountId,
        market: MarketId,
        buy: bool,
        price: Fixed,
        fee_rate: Fixed,
    ) -> Result<i128, EngineError>;

    /// The oracle price at which `who` becomes liquidatable, other prices held.
    #[ink(message, selector = 0x0600_0004)]
    fn liquidation_price(
        &self,
        who: AccountId,
        market: MarketId,
    ) -> Result<Option<Fixed>, EngineError>;

    /// Prices, volatility, applied leverage caps and breaker state of a market.
    #[ink(message, selector = 0x0600_0005)]
    fn market_risk(&self, market: MarketId) -> Result<MarketRisk, EngineError>;

    /// The recommended fee multiplier for trades that raise open interest now.
    #[ink(message, selector = 0x0600_0006)]
    fn stress_fee(&self, market: MarketId) -> Result<StressFee, EngineError>;
}

/// The engine's collateral messages, for traders and for venues that deposit on a trader's
/// behalf (`ink::contract_ref!(CollateralApi)`). The caller's own account is credited or
/// debited; the engine pulls deposits with the token's `transfer_from`, so approve it first.
#[ink::trait_definition]
pub trait CollateralApi {
    /// Deposits `amount` of the collateral token into the caller's account.
    #[ink(message, selector = 0x0500_0001)]
    fn deposit(&mut self, amount: u128) -> Result<(), EngineError>;

    /// Adds `amount` of the collateral token to the insurance fund (anyone). The fund covers
    /// bankruptcies before losses are socialized.
    #[ink(message, selector = 0x0500_0002)]
    fn fund_insurance(&mut self, amount: u128) -> Result<(), EngineError>;

    /// Withdraws `amount` to the caller while its initial health at the target requirement
    /// stays non-negative; an account holding nothing but collateral may always withdraw.
    #[ink(message, selector = 0x0500_0003)]
    fn withdraw(&mut self, amount: u128) -> Result<(), EngineError>;

    /// Opens the caller's sub-account `index` (1..=255) and returns its address, which venues
    /// fill as any account. Each sub-account has its own collateral, positions and health; an
    /// `Isolated` one holds at most one market at a time, options book included. Index 0 is
    /// the caller's own account. Refused during a global halt.
    #[ink(message, selector = 0x0500_0004)]
    fn open_sub_account(&mut self, index: u8, mode: MarginMode) -> Result<AccountId, EngineError>;

    /// Deposits `amount` from the caller into its account `index` (0: its own).
    #[ink(message, selector = 0x0500_0005)]
    fn deposit_to(&mut self, index: u8, amount: u128) -> Result<(), EngineError>;

    /// Withdraws `amount` from the caller's account `index` to the caller, on the same terms as
    /// `withdraw`.
    #[ink(message, selector = 0x0500_0006)]
    fn withdraw_from(&mut self, index: u8, amount: u128) -> Result<(), EngineError>;

    /// Moves `amount` of collateral between two of the caller's accounts; the source faces the
    /// terms of a withdrawal. No tokens move. Refused during a global halt (for the target it
    /// is a deposit).
    #[ink(message, selector = 0x0500_0007)]
    fn move_collateral(&mut self, from: u8, to: u8, amount: u128) -> Result<(), EngineError>;

    /// The address of `owner`'s account `index` (`owner` itself for 0), opened or not.
    #[ink(message, selector = 0x0500_0008)]
    fn sub_account(&self, owner: AccountId, index: u8) -> AccountId;

    /// Grants or revokes `venue` the right to fill the caller's account `index` in `market`.
    /// No venue may fill an account, as taker or maker, without it. Allowed during halts
    /// (revoking is how an account protects itself).
    #[ink(message, selector = 0x0500_0009)]
    fn approve_venue(
        &mut self,
        index: u8,
        market: MarketId,
        venue: AccountId,
        approval: Approval,
    ) -> Result<(), EngineError>;

    /// Whether `account` has approved `venue` in `market`.
    #[ink(message, selector = 0x0500_000a)]
    fn venue_approval(&self, account: AccountId, market: MarketId, venue: AccountId) -> Approval;
}

/// Events, one per state change.
pub mod events {
    use super::*;

    /// Ownership transfer started; the new owner must accept.
    #[ink::event]
    pub struct OwnershipTransferStarted {
        /// The account that may accept.
        #[ink(topic)]
        pub pending_owner: AccountId,
    }

    /// Ownership transferred.
    #[ink::event]
    pub struct OwnershipTransferred {
        /// New owner.
        #[ink(topic)]
        pub owner: AccountId,
    }

    /// Guardian replaced.
    #[ink::event]
    pub struct GuardianChanged {
        /// New guardian.
        #[ink(topic)]
        pub guardian: AccountId,
    }

    /// A venue authorized for a market (from `active_from_ms`) or revoked (`None`).
    #[ink::event]
    pub struct VenueChanged {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// The venue contract or account.
        #[ink(topic)]
        pub venue: AccountId,
        /// From when it may fill, move funding and report depth in the market, ms; `None`:
        /// revoked.
        pub active_from_ms: Option<u64>,
    }

    /// An account granted or revoked a venue the right to fill it in a market.
    #[ink::event]
    pub struct VenueApproved {
        /// The account.
        #[ink(topic)]
        pub account: AccountId,
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// The venue.
        #[ink(topic)]
        pub venue: AccountId,
        /// Granted or revoked.
        pub approval: Approval,
    }

    /// Feeder set or removed for a market.
    #[ink::event]
    pub struct FeederChanged {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// Feeder account.
        #[ink(topic)]
        pub feeder: AccountId,
        /// Its slot, or `None` when removed.
        pub slot: Option<u8>,
        /// From when its reports count, ms (`None` when removed).
        pub active_from_ms: Option<u64>,
    }

    /// A market was listed.
    #[ink::event]
    pub struct MarketListed {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
    }

    /// A change of a market's configuration was announced: it may apply from `effective_ms`.
    #[ink::event]
    pub struct MarketChangeAnnounced {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// The risk configuration that will apply.
        pub config: MarketConfig,
        /// The oracle configuration that will apply.
        pub oracle: OracleConfig,
        /// Earliest time it applies, ms.
        pub effective_ms: u64,
    }

    /// An announced change was cancelled before it applied.
    #[ink::event]
    pub struct MarketChangeCancelled {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
    }

    /// An announced change applied; held positions' requirements blend in until
    /// `ramp_complete_ms`.
    #[ink::event]
    pub struct MarketChangeApplied {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// When the blend completes, ms.
        pub ramp_complete_ms: u64,
    }

    /// A market's breaker changed state.
    #[ink::event]
    pub struct BreakerChanged {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// State before.
        pub from: BreakerState,
        /// State after.
        pub to: BreakerState,
        /// Velocity move measured, fraction.
        pub move_fraction: Fixed,
    }

    /// Everything halted or resumed.
    #[ink::event]
    pub struct GlobalHaltChanged {
        /// Halted now.
        pub halted: bool,
    }

    /// A feeder report was accepted.
    #[ink::event]
    pub struct PriceUpdated {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// Reporting feeder.
        pub feeder: AccountId,
        /// Oracle (median) price after the report.
        pub oracle: Fixed,
        /// Dampened price.
        pub dampened: Fixed,
        /// Forecast volatility.
        pub forecast_vol: Fixed,
    }

    /// Collateral deposited.
    #[ink::event]
    pub struct Deposited {
        /// Account.
        #[ink(topic)]
        pub account: AccountId,
        /// Amount, quote base units.
        pub amount: u128,
    }

    /// The insurance fund was topped up.
    #[ink::event]
    pub struct InsuranceFunded {
        /// Who paid.
        #[ink(topic)]
        pub from: AccountId,
        /// Amount, quote base units.
        pub amount: u128,
    }

    /// A sub-account was opened.
    #[ink::event]
    pub struct SubAccountOpened {
        /// Its owner.
        #[ink(topic)]
        pub owner: AccountId,
        /// Its index among the owner's accounts (1..=255).
        pub index: u8,
        /// Its address.
        #[ink(topic)]
        pub account: AccountId,
        /// Cross or isolated.
        pub mode: MarginMode,
    }

    /// Collateral moved between two accounts of one owner.
    #[ink::event]
    pub struct CollateralMoved {
        /// The owner of both.
        #[ink(topic)]
        pub owner: AccountId,
        /// Source account.
        pub from: AccountId,
        /// Target account.
        pub to: AccountId,
        /// Amount, quote base units.
        pub amount: u128,
    }

    /// Collateral withdrawn.
    #[ink::event]
    pub struct Withdrawn {
        /// Account.
        #[ink(topic)]
        pub account: AccountId,
        /// Amount, quote base units.
        pub amount: u128,
    }

    /// A fill was applied.
    #[ink::event]
    pub struct Filled {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// Taker.
        #[ink(topic)]
        pub taker: AccountId,
        /// Maker.
        #[ink(topic)]
        pub maker: AccountId,
        /// Taker's signed size, base units.
        pub size: i128,
        /// Fill price.
        pub price: Fixed,
        /// Quote paid by the taker (negative: received).
        pub quote_amount: i128,
        /// Fees credited to the recipient.
        pub fees: i128,
    }

    /// A venue moved the funding index.
    #[ink::event]
    pub struct FundingUpdated {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// Change of the index.
        pub delta: Fixed,
        /// Index after.
        pub index: Fixed,
    }

    /// A liquidation chunk.
    #[ink::event]
    pub struct Liquidated {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// Liquidated account.
        #[ink(topic)]
        pub account: AccountId,
        /// Liquidator.
        #[ink(topic)]
        pub liquidator: AccountId,
        /// Size taken over (signed as the position was).
        pub closed_size: i128,
        /// Notional at the oracle price.
        pub notional: i128,
        /// Penalty paid.
        pub penalty: i128,
        /// Part of it to the insurance fund.
        pub to_insurance: i128,
        /// Paid to the liquidator: its share of the penalty, or for a bankrupt account the
        /// keeper reward from the insurance fund.
        pub to_liquidator: i128,
        /// The account had no positive equity.
        pub bankrupt: bool,
    }

    /// Depth was reported for a market.
    #[ink::event]
    pub struct DepthReported {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// Venue or feeder that reported.
        pub reporter: AccountId,
        /// Reported bid depth, quote base units.
        pub bid: u128,
        /// Reported ask depth.
        pub ask: u128,
    }

    /// An options book was reported for an account.
    #[ink::event]
    pub struct OptionsReported {
        /// Market of the underlying.
        #[ink(topic)]
        pub market: MarketId,
        /// Account.
        #[ink(topic)]
        pub account: AccountId,
        /// The report grew the book's risk (budgets and initial health were checked).
        pub growing: bool,
        /// Initial requirement of the book now.
        pub initial_requirement: i128,
        /// Maintenance requirement of the book now.
        pub maintenance_requirement: i128,
    }

    /// The reported P&L was not explained by the previous Greeks: the book is charged the
    /// conservative per-position requirement until a report is explained again.
    #[ink::event]
    pub struct GreeksDistrusted {
        /// Market of the underlying.
        #[ink(topic)]
        pub market: MarketId,
        /// Account.
        #[ink(topic)]
        pub account: AccountId,
        /// P&L the venue reported.
        pub reported_pnl: i128,
    }

    /// A bankrupt account's deficit was covered: the insurance fund first, the rest shared as
    /// a social loss over the other positions of the markets the account held, pro rata to its
    /// notional there.
    #[ink::event]
    pub struct BankruptcyResolved {
        /// Market of the operation that covered it (a liquidation, a fill or a settled close;
        /// `u32::MAX` for `resolve_bankruptcy`, which shares over every listed market).
        #[ink(topic)]
        pub market: MarketId,
        /// Account.
        #[ink(topic)]
        pub account: AccountId,
        /// Deficit covered.
        pub deficit: i128,
        /// From the insurance fund.
        pub from_insurance: i128,
        /// Shared as a social loss.
        pub socialized: i128,
    }

    /// A market entered settlement: every position closes at `price`.
    #[ink::event]
    pub struct MarketSettled {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// Settlement price (the oracle's time-weighted average as of its last aggregate).
        pub price: Fixed,
        /// Dead oracle (anyone) or delisting (owner).
        pub reason: SettleReason,
    }

    /// A position of a settled market was closed at the settlement price.
    #[ink::event]
    pub struct SettledClosed {
        /// Market.
        #[ink(topic)]
        pub market: MarketId,
        /// Account.
        #[ink(topic)]
        pub account: AccountId,
        /// Size closed (signed as the position was).
        pub size: i128,
        /// Realized P&L at the settlement price, quote base units.
        pub pnl: i128,
    }

    /// The owner confirmed a guardian halt, so that it does not lapse.
    #[ink::event]
    pub struct HaltConfirmed {
        /// The market, or `None` for the global halt.
        pub market: Option<MarketId>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Venues decode `EngineError` by its SCALE index (and the nested risk and oracle errors
    /// by theirs, pinned in their crates): each variant keeps the index it was released with.
    #[test]
    fn engine_error_encodings_are_pinned() {
        let errors = [
            (EngineError::Unauthorized, 0),
            (EngineError::NotPendingOwner, 1),
            (EngineError::UnknownMarket, 2),
            (EngineError::MarketExists, 3),
            (EngineError::UnknownFeeder, 4),
            (EngineError::InvalidAmount, 5),
            (EngineError::SameAccount, 6),
            (EngineError::Halted, 7),
            (EngineError::TokenTransferFailed, 8),
            (EngineError::Risk(RiskError::ChangeExpired), 9),
            (EngineError::Oracle(OracleError::InvalidSlot), 10),
            (EngineError::NotHalted, 11),
            (EngineError::FacetOnly, 12),
            (EngineError::SubAccountExists, 13),
            (EngineError::UnknownSubAccount, 14),
            (EngineError::VenueNotApproved, 15),
            (EngineError::VenueExists, 16),
        ];
        for (error, index) in errors {
            assert_eq!(error.encode()[0], index, "{error:?}");
            assert_eq!(EngineError::decode(&mut &error.encode()[..]), Ok(error));
        }
        assert_eq!(
            EngineError::Risk(RiskError::ChangeExpired).encode(),
            [9, 34]
        );
        assert_eq!(
            EngineError::Oracle(OracleError::InvalidSlot).encode(),
            [10, 0]
        );
    }
}
