//! The Ballast engine's storage and the plumbing every facet shares.
//!
//! The engine is one address (the router) whose messages run in facets: separate Wasm codes
//! the router delegate-calls, so a call loads only the code of its facet (see
//! `docs/architecture.md`). A delegate call runs the facet's code on the router's storage, so
//! every facet and the router declare the same root, [`EngineState`], with explicit keys for
//! each mapping: one type, one layout. Rules stay in the risk core; this crate only loads,
//! stores, checks roles and calls the collateral token.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod accounts;
pub use accounts::markets_of;
pub mod facets;
mod markets;
mod token;

use alloc::vec::Vec;

use ballast_interface::events::{BankruptcyResolved, BreakerChanged};
use ballast_interface::EngineError;
use ballast_oracle::{FeedState, OracleConfig};
use ballast_risk::governance::AnnouncedChange;
use ballast_risk::{
    BankruptcyOutcome, BreakerTransition, MarketConfig, MarketCtx, MarketId, MarketState,
    OptionsBook, Position,
};
use ink::env::DefaultEnvironment;
use ink::primitives::AccountId;
use ink::storage::traits::ManualKey;
use ink::storage::{Lazy, Mapping};

pub use facets::{Facet, FacetCodes};

/// An account's approval of a venue in a market: (account, market, venue).
pub type VenueApproval = (AccountId, MarketId, AccountId);

/// A venue's or feeder's appointment to a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct Appointment {
    /// From when it may act, ms; `REVOKED` once revoked.
    pub active_from_ms: u64,
    /// How many times it was appointed to the market: an account's approval of a venue holds
    /// for the appointment it was given under, so a venue revoked and appointed again starts
    /// with no approvals.
    pub generation: u32,
}

/// `Appointment::active_from_ms` of a revoked venue.
pub const REVOKED: u64 = u64::MAX;

/// A feeder's report slot in a market and from when it may report, ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct FeederSlot {
    /// The oracle slot its reports fill.
    pub slot: u8,
    /// From when its reports count, ms.
    pub active_from_ms: u64,
}

/// What every engine message returns.
pub type Result<T> = core::result::Result<T, EngineError>;

/// A global halt the owner has not confirmed lapses after this long (24 h): each halt of a
/// guardian stops everything for a day at most. (A guardian may halt again once one lapses;
/// the owner's answer to a guardian that abuses it is to replace it.)
pub const GLOBAL_HALT_EXPIRY_MS: u64 = 24 * 3_600_000;
/// `halted_until_ms` of a global halt the owner confirmed.
pub const HALT_CONFIRMED: u64 = u64::MAX;
/// `BankruptcyResolved::market` of `resolve_bankruptcy`, which shares over every market.
pub const ALL_MARKETS: MarketId = MarketId::MAX;

/// What is stored per account besides positions: collateral, the liquidation flag and the
/// markets it holds (at most `MAX_POSITIONS`, so every health check is bounded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct AccountRecord {
    collateral: i128,
    being_liquidated: bool,
    markets: Vec<MarketId>,
    /// An options book is stored for the account (saves its read otherwise).
    has_options: bool,
    /// An isolated sub-account: at most one market at a time.
    isolated: bool,
}

/// A listed market's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct MarketListing {
    /// Risk configuration.
    pub config: MarketConfig,
    /// Oracle adapter configuration.
    pub oracle: OracleConfig,
}

/// Markets loaded for one message, with their breaker state as stored.
pub struct Loaded {
    /// The markets, priced at now.
    pub markets: Vec<MarketCtx>,
    /// Each market's breaker state as stored (same order).
    pub stored_breakers: Vec<ballast_risk::BreakerState>,
}

/// A running total (net deposits, the insurance fund, a fee recipient's collateral) that would
/// overflow: its own error, not a bad amount, since every amount in it was valid.
pub const TOTAL_OVERFLOW: EngineError = EngineError::Risk(ballast_risk::RiskError::Math(
    ballast_math::MathError::Overflow,
));

/// A token amount as a positive i128, or `InvalidAmount` (zero, or above i128::MAX).
pub fn positive_amount(amount: u128) -> Result<i128> {
    match i128::try_from(amount) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(EngineError::InvalidAmount),
    }
}

/// The caller of the message (a delegate call keeps the router's caller).
pub fn caller() -> AccountId {
    ink::env::caller::<DefaultEnvironment>()
}

/// Block time, ms.
pub fn now_ms() -> u64 {
    ink::env::block_timestamp::<DefaultEnvironment>()
}

/// Emits an engine event (from the router's address, which a delegate call runs as).
pub fn emit<E: ink::env::Event>(event: E) {
    ink::env::emit_event::<DefaultEnvironment, E>(event)
}

/// The engine's storage root. The fields without a key live in the root cell, which every
/// message loads; everything per market or per account has its own key.
#[ink::storage_item]
#[cfg_attr(feature = "std", derive(Debug))]
pub struct EngineState {
    /// Owner: lists markets, sets params and roles (two-step transfer).
    pub owner: AccountId,
    /// The account that may accept ownership.
    pub pending_owner: Option<AccountId>,
    /// May halt (a halt the owner does not confirm lapses).
    pub guardian: AccountId,
    /// PSP22 collateral token.
    pub token: AccountId,
    /// Everything but queries (and flat accounts' withdrawals) is halted until this time,
    /// ms: 0 when not halted, `HALT_CONFIRMED` once the owner confirmed the halt.
    pub halted_until_ms: u64,
    /// The code each facet runs, fixed at deployment.
    pub facets: FacetCodes,
    /// The insurance fund, quote base units.
    pub insurance_fund: i128,
    /// Deposits minus withdrawals: what the token contract should hold for the engine.
    pub net_deposits: i128,
    /// Every listed market, in listing order (read by `resolve_bankruptcy` only).
    pub market_ids: Lazy<Vec<MarketId>, ManualKey<0x0000_0001>>,
    /// Venues appointed per market.
    pub venues: Mapping<(MarketId, AccountId), Appointment, ManualKey<0x0000_0002>>,
    /// Feeders' report slots per market.
    pub feeders: Mapping<(MarketId, AccountId), FeederSlot, ManualKey<0x0000_0003>>,
    /// Listed markets' configuration.
    pub listings: Mapping<MarketId, MarketListing, ManualKey<0x0000_0004>>,
    /// Markets' risk state (ramps, breaker, open interest, indices, depth).
    pub market_states: Mapping<MarketId, MarketState, ManualKey<0x0000_0005>>,
    /// Markets' oracle feeds.
    pub feeds: Mapping<MarketId, FeedState, ManualKey<0x0000_0006>>,
    /// Accounts' records.
    pub accounts: Mapping<AccountId, AccountRecord, ManualKey<0x0000_0007>>,
    /// Positions, one cell each.
    pub positions: Mapping<(AccountId, MarketId), Position, ManualKey<0x0000_0008>>,
    /// Options books.
    pub options: Mapping<AccountId, OptionsBook, ManualKey<0x0000_0009>>,
    /// Opened sub-accounts: owner and index of each.
    pub sub_accounts: Mapping<AccountId, (AccountId, u8), ManualKey<0x0000_000A>>,
    /// Accounts' approvals of venues: the venue's appointment generation they were granted
    /// under.
    pub venue_approvals: Mapping<VenueApproval, u32, ManualKey<0x0000_000B>>,
    /// Governance changes announced and waiting for their delay, per market.
    pub announced_changes: Mapping<MarketId, AnnouncedChange, ManualKey<0x0000_000C>>,
}

impl EngineState {
    /// A fresh engine for `token`, running `facets`; `owner` is owner and guardian.
    pub fn new(owner: AccountId, token: AccountId, facets: FacetCodes) -> Self {
        Self {
            owner,
            pending_owner: None,
            guardian: owner,
            token,
            halted_until_ms: 0,
            facets,
            insurance_fund: 0,
            net_deposits: 0,
            market_ids: Lazy::new(),
            venues: Mapping::new(),
            feeders: Mapping::new(),
            listings: Mapping::new(),
            market_states: Mapping::new(),
            feeds: Mapping::new(),
            accounts: Mapping::new(),
            positions: Mapping::new(),
            options: Mapping::new(),
            sub_accounts: Mapping::new(),
            venue_approvals: Mapping::new(),
            announced_changes: Mapping::new(),
        }
    }

    // ----- roles -----

    /// `Unauthorized` unless the caller is the owner.
    pub fn only_owner(&self) -> Result<()> {
        if caller() != self.owner {
            return Err(EngineError::Unauthorized);
        }
        Ok(())
    }

    /// `Unauthorized` unless the caller is the guardian or the owner.
    pub fn only_guardian_or_owner(&self) -> Result<()> {
        let who = caller();
        if who != self.guardian && who != self.owner {
            return Err(EngineError::Unauthorized);
        }
        Ok(())
    }

    /// Whether `who` is a venue of `market` now (authorized, and its delay passed).
    pub fn is_venue(&self, market: MarketId, who: AccountId) -> bool {
        self.venues
            .get((market, who))
            .is_some_and(|a| a.active_from_ms <= now_ms())
    }

    /// The slot of `who` if it is a feeder of `market` now (appointed, and its delay passed).
    pub fn feeder_slot(&self, market: MarketId, who: AccountId) -> Option<u8> {
        self.feeders
            .get((market, who))
            .filter(|f| f.active_from_ms <= now_ms())
            .map(|f| f.slot)
    }

    /// When an appointment to `market` made now takes effect: after the market's announcement
    /// delay, or at once while nobody holds a position or an options book there (a new
    /// venue's funding and a new feeder's prices and depth then reach no position; depth
    /// reported then does start the depth later positions meet).
    pub fn appointment_starts_ms(&self, market: MarketId) -> Result<u64> {
        let now = now_ms();
        let state = self.market_state(market)?;
        if state.open_interest == 0 && state.options_books == 0 {
            return Ok(now);
        }
        let delay = self.listing(market)?.config.ramps.change_delay_ms;
        Ok(now.saturating_add(delay))
    }

    /// Whether `account` has approved `venue` in `market` under the venue's current
    /// appointment.
    pub fn has_approved(&self, account: AccountId, market: MarketId, venue: AccountId) -> bool {
        match (
            self.venues.get((market, venue)),
            self.venue_approvals.get((account, market, venue)),
        ) {
            (Some(a), Some(granted_under)) => {
                a.active_from_ms != REVOKED && a.generation == granted_under
            }
            _ => false,
        }
    }

    /// `Unauthorized` unless the caller is a venue of `market` now.
    pub fn only_venue(&self, market: MarketId) -> Result<()> {
        if !self.is_venue(market, caller()) {
            return Err(EngineError::Unauthorized);
        }
        Ok(())
    }

    /// `VenueNotApproved` unless `account` is the calling venue itself or has approved it in
    /// `market`.
    pub fn approved_by(&self, account: AccountId, market: MarketId) -> Result<()> {
        let venue = caller();
        if account != venue && !self.has_approved(account, market, venue) {
            return Err(EngineError::VenueNotApproved);
        }
        Ok(())
    }

    /// Whether a global halt is in force now.
    pub fn halted(&self) -> bool {
        now_ms() < self.halted_until_ms
    }

    /// `Halted` while a global halt is in force.
    pub fn not_halted(&self) -> Result<()> {
        if self.halted() {
            return Err(EngineError::Halted);
        }
        Ok(())
    }

    // ----- markets -----

    /// A listed market's configuration, or `UnknownMarket`.
    pub fn listing(&self, market: MarketId) -> Result<MarketListing> {
        self.listings.get(market).ok_or(EngineError::UnknownMarket)
    }

    /// A listed market's stored risk state, or `UnknownMarket`.
    pub fn market_state(&self, market: MarketId) -> Result<MarketState> {
        self.market_states
            .get(market)
            .ok_or(EngineError::UnknownMarket)
    }

    /// `owner`'s account `index`: `owner` itself for 0, else an opened sub-account, or
    /// `UnknownSubAccount`.
    pub fn own_account(&self, owner: AccountId, index: u8) -> Result<AccountId> {
        if index == 0 {
            return Ok(owner);
        }
        let account = sub_account_of(owner, index);
        if self.sub_accounts.get(account) != Some((owner, index)) {
            return Err(EngineError::UnknownSubAccount);
        }
        Ok(account)
    }

    /// A listed market's feed, or `UnknownMarket`.
    pub fn feed(&self, market: MarketId) -> Result<FeedState> {
        self.feeds.get(market).ok_or(EngineError::UnknownMarket)
    }
}

/// The address of `owner`'s account `index`: `owner` for 0, else the BLAKE2-256 hash of a
/// domain tag, the owner and the index, an address nobody holds a key for.
pub fn sub_account_of(owner: AccountId, index: u8) -> AccountId {
    if index == 0 {
        return owner;
    }
    let mut out = [0u8; 32];
    ink::env::hash_encoded::<ink::env::hash::Blake2x256, _>(
        &(b"ballast/sub-account", owner, index),
        &mut out,
    );
    AccountId::from(out)
}

/// Emits a breaker transition.
pub fn emit_breaker(market: MarketId, t: BreakerTransition) {
    emit(BreakerChanged {
        market,
        from: t.from,
        to: t.to,
        move_fraction: t.move_fraction,
    });
}

/// Emits a covered deficit, if there was one.
pub fn emit_bankruptcy(market: MarketId, account: AccountId, outcome: Option<BankruptcyOutcome>) {
    if let Some(b) = outcome {
        emit(BankruptcyResolved {
            market,
            account,
            deficit: b.deficit,
            from_insurance: b.from_insurance,
            socialized: b.socialized,
        });
    }
}
