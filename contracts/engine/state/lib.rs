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
use ballast_risk::{
    BankruptcyOutcome, BreakerTransition, MarketConfig, MarketCtx, MarketId, MarketState,
    OptionsBook, Position,
};
use ink::env::DefaultEnvironment;
use ink::primitives::AccountId;
use ink::storage::traits::ManualKey;
use ink::storage::{Lazy, Mapping};

pub use facets::{Facet, FacetCodes};

/// What every engine message returns.
pub type Result<T> = core::result::Result<T, EngineError>;

/// A global halt the owner has not confirmed lapses after this long (24 h): a guardian can
/// stop everything for a day, not for ever.
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
    /// Authorized venues.
    pub venues: Mapping<AccountId, (), ManualKey<0x0000_0002>>,
    /// Feeders' report slots per market.
    pub feeders: Mapping<(MarketId, AccountId), u8, ManualKey<0x0000_0003>>,
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

    /// `Unauthorized` unless the caller is an authorized venue.
    pub fn only_venue(&self) -> Result<()> {
        if !self.venues.contains(caller()) {
            return Err(EngineError::Unauthorized);
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
