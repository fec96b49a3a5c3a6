//! The Ballast margin engine: a thin ink! shell over the risk core. Each message loads what it
//! needs from storage, calls `ballast-risk` / `ballast-oracle`, stores the result and emits the
//! events. Roles: owner (two-step transfer), guardian (may only halt; a halt the owner does not
//! confirm lapses), venues (report fills and funding), feeders (report prices), anyone
//! (deposit, withdraw, liquidate, refresh, resolve bankruptcies, settle a dead market, close
//! settled positions).
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_interface::events::*;
    use ballast_interface::{AccountView, EngineError, HealthReport, MarketRisk, VenueApi};
    use ballast_math::Fixed;
    use ballast_oracle::{FeedState, OracleConfig, Report, MAX_FEEDERS};
    use ballast_risk::feed::{last_price, observe};
    use ballast_risk::health::{
        account_health, initial_health_at_target, liquidation_price, HealthKind,
    };
    use ballast_risk::liquidity::Use;
    use ballast_risk::{
        bankruptcy, liquidation, ops, settlement, stress_fee, Account, BankruptcyOutcome,
        MarginParams, MarketConfig, MarketCtx, MarketId, MarketState, OptionsBook, OptionsReport,
        Position, SettleReason, StressFee,
    };
    use ink::prelude::vec::Vec;
    use ink::storage::{Lazy, Mapping};

    /// A global halt the owner has not confirmed lapses after this long (24 h): a guardian can
    /// stop everything for a day, not for ever.
    const GLOBAL_HALT_EXPIRY_MS: u64 = 24 * 3_600_000;
    /// `halted_until_ms` of a global halt the owner confirmed.
    const HALT_CONFIRMED: u64 = u64::MAX;
    /// `BankruptcyResolved::market` of `resolve_bankruptcy`, which shares over every market.
    const ALL_MARKETS: MarketId = MarketId::MAX;

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
    }

    /// A listed market's configuration.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct MarketListing {
        config: MarketConfig,
        oracle: OracleConfig,
    }

    type Result<T> = core::result::Result<T, EngineError>;

    /// Markets loaded for one message, with their breaker state as stored.
    struct Loaded {
        markets: Vec<MarketCtx>,
        stored_breakers: Vec<ballast_risk::BreakerState>,
    }

    /// A token amount as a positive i128, or `InvalidAmount` (zero, or above i128::MAX).
    fn positive_amount(amount: u128) -> Result<i128> {
        match i128::try_from(amount) {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(EngineError::InvalidAmount),
        }
    }

    #[ink(storage)]
    pub struct Engine {
        owner: AccountId,
        pending_owner: Option<AccountId>,
        guardian: AccountId,
        token: AccountId,
        /// Everything but queries (and flat accounts' withdrawals) is halted until this time,
        /// ms: 0 when not halted, `HALT_CONFIRMED` once the owner confirmed the halt.
        halted_until_ms: u64,
        /// Every listed market, in listing order (read by `resolve_bankruptcy` only).
        market_ids: Lazy<Vec<MarketId>>,
        venues: Mapping<AccountId, ()>,
        feeders: Mapping<(MarketId, AccountId), u8>,
        listings: Mapping<MarketId, MarketListing>,
        market_states: Mapping<MarketId, MarketState>,
        feeds: Mapping<MarketId, FeedState>,
        accounts: Mapping<AccountId, AccountRecord>,
        positions: Mapping<(AccountId, MarketId), Position>,
        options: Mapping<AccountId, OptionsBook>,
        insurance_fund: i128,
        /// Deposits minus withdrawals: what the token contract should hold for the engine.
        net_deposits: i128,
    }

    impl Engine {
        /// Deploys the engine for a PSP22 collateral token; the deployer is owner and guardian.
        #[ink(constructor)]
        pub fn new(token: AccountId) -> Self {
            let caller = Self::env().caller();
            Self {
                owner: caller,
                pending_owner: None,
                guardian: caller,
                token,
                halted_until_ms: 0,
                market_ids: Lazy::new(),
                venues: Mapping::default(),
                feeders: Mapping::default(),
                listings: Mapping::default(),
                market_states: Mapping::default(),
                feeds: Mapping::default(),
                accounts: Mapping::default(),
                positions: Mapping::default(),
                options: Mapping::default(),
                insurance_fund: 0,
                net_deposits: 0,
            }
        }

        // ----- roles -----

        fn only_owner(&self) -> Result<()> {
            if self.env().caller() != self.owner {
                return Err(EngineError::Unauthorized);
            }
            Ok(())
        }

        fn only_guardian_or_owner(&self) -> Result<()> {
            let caller = self.env().caller();
            if caller != self.guardian && caller != self.owner {
                return Err(EngineError::Unauthorized);
            }
            Ok(())
        }

        fn only_venue(&self) -> Result<()> {
            if !self.venues.contains(self.env().caller()) {
                return Err(EngineError::Unauthorized);
            }
            Ok(())
        }

        fn halted(&self) -> bool {
            self.env().block_timestamp() < self.halted_until_ms
        }

        fn not_halted(&self) -> Result<()> {
            if self.halted() {
                return Err(EngineError::Halted);
            }
            Ok(())
        }

        /// Starts a two-step ownership transfer.
        #[ink(message)]
        pub fn transfer_ownership(&mut self, new_owner: AccountId) -> Result<()> {
            self.only_owner()?;
            self.pending_owner = Some(new_owner);
            self.env().emit_event(OwnershipTransferStarted {
                pending_owner: new_owner,
            });
            Ok(())
        }

        /// Completes an ownership transfer; only the pending owner.
        #[ink(message)]
        pub fn accept_ownership(&mut self) -> Result<()> {
            let caller = self.env().caller();
            if self.pending_owner != Some(caller) {
                return Err(EngineError::NotPendingOwner);
            }
            self.owner = caller;
            self.pending_owner = None;
            self.env()
                .emit_event(OwnershipTransferred { owner: caller });
            Ok(())
        }

        /// Replaces the guardian.
        #[ink(message)]
        pub fn set_guardian(&mut self, guardian: AccountId) -> Result<()> {
            self.only_owner()?;
            self.guardian = guardian;
            self.env().emit_event(GuardianChanged { guardian });
            Ok(())
        }

        /// Authorizes or removes a venue.
        #[ink(message)]
        pub fn set_venue(&mut self, venue: AccountId, authorized: bool) -> Result<()> {
            self.only_owner()?;
            if authorized {
                self.venues.insert(venue, &());
            } else {
                self.venues.remove(venue);
            }
            self.env().emit_event(VenueChanged { venue, authorized });
            Ok(())
        }

        /// Gives a feeder a report slot in a market (`None` removes it). The owner assigns
        /// distinct slots; a slot shared by two feeders holds whichever reported last.
        #[ink(message)]
        pub fn set_feeder(
            &mut self,
            market: MarketId,
            feeder: AccountId,
            slot: Option<u8>,
        ) -> Result<()> {
            self.only_owner()?;
            self.listing(market)?;
            match slot {
                Some(s) if usize::from(s) >= MAX_FEEDERS => return Err(EngineError::UnknownFeeder),
                Some(s) => {
                    self.feeders.insert((market, feeder), &s);
                }
                None => self.feeders.remove((market, feeder)),
            }
            self.env().emit_event(FeederChanged {
                market,
                feeder,
                slot,
            });
            Ok(())
        }

        // ----- markets -----

        fn listing(&self, market: MarketId) -> Result<MarketListing> {
            self.listings.get(market).ok_or(EngineError::UnknownMarket)
        }

        /// Lists a market with its full configuration, validated.
        #[ink(message)]
        pub fn list_market(
            &mut self,
            market: MarketId,
            config: MarketConfig,
            oracle: OracleConfig,
        ) -> Result<()> {
            self.only_owner()?;
            if self.listings.contains(market) {
                return Err(EngineError::MarketExists);
            }
            config.validate()?;
            oracle.validate()?;
            let now = self.env().block_timestamp();
            self.listings
                .insert(market, &MarketListing { config, oracle });
            self.market_states.insert(market, &MarketState::new(now));
            self.feeds.insert(market, &FeedState::default());
            let mut ids = self.market_ids.get_or_default();
            ids.push(market);
            self.market_ids.set(&ids);
            self.env().emit_event(MarketListed { market });
            Ok(())
        }

        /// Changes a market's margin params. Existing positions blend from the old params to the
        /// new ones over the market's ramp; new positions face the new ones at once.
        #[ink(message)]
        pub fn set_margin_params(&mut self, market: MarketId, params: MarginParams) -> Result<()> {
            self.only_owner()?;
            let mut listing = self.listing(market)?;
            params.validate()?;
            let mut candidate = listing.config.clone();
            candidate.margin = params;
            candidate.validate()?;
            let now = self.env().block_timestamp();
            let mut state = self
                .market_states
                .get(market)
                .ok_or(EngineError::UnknownMarket)?;
            state.begin_params_ramp(&listing.config.margin, now);
            listing.config = candidate;
            let ramp_complete_ms = now.saturating_add(listing.config.ramps.params_ramp_ms);
            self.listings.insert(market, &listing);
            self.market_states.insert(market, &state);
            self.env().emit_event(MarketParamsChanged {
                market,
                ramp_complete_ms,
            });
            Ok(())
        }

        /// Guardian (or owner) halt of one market.
        #[ink(message)]
        pub fn halt_market(&mut self, market: MarketId) -> Result<()> {
            self.only_guardian_or_owner()?;
            self.change_breaker(market, ballast_risk::Breaker::pause)
        }

        /// Owner resume of a halted market.
        #[ink(message)]
        pub fn resume_market(&mut self, market: MarketId) -> Result<()> {
            self.only_owner()?;
            self.change_breaker(market, ballast_risk::Breaker::resume)
        }

        /// Owner confirmation of a guardian halt, so that it does not lapse: of one market's
        /// (which lapses after the market's `pause_expiry_ms`) or, with `None`, of `halt_all`
        /// (which lapses after `GLOBAL_HALT_EXPIRY_MS`).
        #[ink(message)]
        pub fn confirm_halt(&mut self, market: Option<MarketId>) -> Result<()> {
            self.only_owner()?;
            match market {
                Some(id) => {
                    let mut state = self
                        .market_states
                        .get(id)
                        .ok_or(EngineError::UnknownMarket)?;
                    if !state.breaker.confirm_pause() {
                        return Err(EngineError::NotHalted);
                    }
                    self.market_states.insert(id, &state);
                }
                None => {
                    if !self.halted() || self.halted_until_ms == HALT_CONFIRMED {
                        return Err(EngineError::NotHalted);
                    }
                    self.halted_until_ms = HALT_CONFIRMED;
                }
            }
            self.env().emit_event(HaltConfirmed { market });
            Ok(())
        }

        /// Puts a market into settlement: every position then closes at the oracle's last
        /// time-weighted average through `close_settled`. The owner may settle (delist) any
        /// market; anyone else only a market whose oracle has had no valid price for its
        /// `settle_after_ms`.
        #[ink(message)]
        pub fn settle_market(&mut self, market: MarketId) -> Result<()> {
            let reason = if self.env().caller() == self.owner {
                SettleReason::Delisted
            } else {
                SettleReason::OracleDead
            };
            let mut loaded = self.load_markets(&[market])?;
            let feed = self.feeds.get(market).ok_or(EngineError::UnknownMarket)?;
            let ctx = loaded
                .markets
                .first_mut()
                .ok_or(EngineError::UnknownMarket)?;
            let (done, transition) = settlement::settle_market(ctx, last_price(&feed), reason)?;
            if let Some(t) = transition {
                self.emit_breaker(market, t);
            }
            // The transition was emitted above: `store_markets` must not emit it again.
            if let Some(stored) = loaded.stored_breakers.first_mut() {
                *stored = ballast_risk::BreakerState::Settled;
            }
            self.store_markets(&loaded, &[market]);
            self.env().emit_event(MarketSettled {
                market,
                price: done.price,
                reason,
            });
            Ok(())
        }

        /// Closes `account`'s position in a settled market at the settlement price (anyone).
        /// Positions that gain wait for the settlement's grace period; losing ones close at once.
        #[ink(message)]
        pub fn close_settled(&mut self, account: AccountId, market: MarketId) -> Result<()> {
            let before = self.load_account(account);
            let mut after = before.clone();
            let mut loaded = self.load_markets(&self.markets_of(&[&after], Some(market)))?;
            let mut fund = self.insurance_fund;
            let closed =
                settlement::close_settled(&mut after, &mut loaded.markets, market, &mut fund)?;
            self.store_account(account, &before, &after);
            self.store_markets(&loaded, &[market]);
            self.insurance_fund = fund;
            self.env().emit_event(SettledClosed {
                market,
                account,
                size: closed.size,
                pnl: closed.pnl,
            });
            self.emit_bankruptcy(market, account, closed.bankruptcy);
            Ok(())
        }

        /// Resolves an account that holds nothing but negative collateral (anyone): the
        /// insurance fund first, the rest shared over every listed market pro rata to its
        /// open-interest notional. The engine's own operations never leave such an account;
        /// this is the backstop that guarantees no deficit outlives one call.
        #[ink(message)]
        pub fn resolve_bankruptcy(&mut self, account: AccountId) -> Result<()> {
            let before = self.load_account(account);
            let mut after = before.clone();
            let ids = self.market_ids.get_or_default();
            let mut loaded = self.load_markets(&ids)?;
            let mut fund = self.insurance_fund;
            let outcome =
                bankruptcy::resolve_bankruptcy(&mut after, &mut loaded.markets, &mut fund)?;
            self.store_account(account, &before, &after);
            self.store_markets(&loaded, &ids);
            self.insurance_fund = fund;
            self.emit_bankruptcy(ALL_MARKETS, account, Some(outcome));
            Ok(())
        }

        fn emit_bankruptcy(
            &self,
            market: MarketId,
            account: AccountId,
            outcome: Option<BankruptcyOutcome>,
        ) {
            if let Some(b) = outcome {
                self.env().emit_event(BankruptcyResolved {
                    market,
                    account,
                    deficit: b.deficit,
                    from_insurance: b.from_insurance,
                    socialized: b.socialized,
                });
            }
        }

        /// Applies a pause or resume to a market's breaker, emitting the transition.
        fn change_breaker(
            &mut self,
            market: MarketId,
            change: fn(&mut ballast_risk::Breaker, u64) -> Option<ballast_risk::BreakerTransition>,
        ) -> Result<()> {
            let mut state = self
                .market_states
                .get(market)
                .ok_or(EngineError::UnknownMarket)?;
            if let Some(t) = change(&mut state.breaker, self.env().block_timestamp()) {
                self.emit_breaker(market, t);
                self.market_states.insert(market, &state);
            }
            Ok(())
        }

        /// Guardian (or owner) halt of everything but queries and the withdrawals of accounts
        /// that hold nothing but collateral. Lapses after `GLOBAL_HALT_EXPIRY_MS` unless the
        /// owner confirms it.
        #[ink(message)]
        pub fn halt_all(&mut self) -> Result<()> {
            self.only_guardian_or_owner()?;
            // A running halt is not extended (nor a confirmed one shortened): calling again
            // cannot keep an unconfirmed halt alive past its expiry.
            if !self.halted() {
                self.halted_until_ms = self
                    .env()
                    .block_timestamp()
                    .saturating_add(GLOBAL_HALT_EXPIRY_MS);
            }
            self.env().emit_event(GlobalHaltChanged { halted: true });
            Ok(())
        }

        /// Owner resume after `halt_all`.
        #[ink(message)]
        pub fn resume_all(&mut self) -> Result<()> {
            self.only_owner()?;
            self.halted_until_ms = 0;
            self.env().emit_event(GlobalHaltChanged { halted: false });
            Ok(())
        }

        fn emit_breaker(&self, market: MarketId, t: ballast_risk::BreakerTransition) {
            self.env().emit_event(BreakerChanged {
                market,
                from: t.from,
                to: t.to,
                move_fraction: t.move_fraction,
            });
        }

        // ----- prices -----

        /// A feeder's report: the adapter's guard rails, then the market's ramps and breaker.
        #[ink(message)]
        pub fn submit_report(
            &mut self,
            market: MarketId,
            price: Fixed,
            confidence: Fixed,
            timestamp_ms: u64,
        ) -> Result<()> {
            let feeder = self.env().caller();
            let slot = self
                .feeders
                .get((market, feeder))
                .ok_or(EngineError::UnknownFeeder)?;
            let listing = self.listing(market)?;
            let now = self.env().block_timestamp();
            let mut feed = self.feeds.get(market).ok_or(EngineError::UnknownMarket)?;
            feed.submit(
                &listing.oracle,
                slot,
                Report {
                    price,
                    confidence,
                    timestamp_ms,
                },
                now,
            )?;
            let mut state = self
                .market_states
                .get(market)
                .ok_or(EngineError::UnknownMarket)?;
            let seen = observe(&feed, &listing.oracle, &listing.config, &mut state, now)?;
            self.feeds.insert(market, &feed);
            self.market_states.insert(market, &state);
            if let Some(t) = seen.transition {
                self.emit_breaker(market, t);
            }
            self.env().emit_event(PriceUpdated {
                market,
                feeder,
                oracle: seen.prices.oracle,
                dampened: seen.prices.dampened,
                forecast_vol: seen.forecast_vol.unwrap_or(Fixed::ZERO),
            });
            Ok(())
        }

        /// Advances a market's feed, ramps and breaker to now without a report (so that an
        /// automatic resume or an oracle halt happens even when feeders are quiet). Anyone.
        #[ink(message)]
        pub fn refresh_market(&mut self, market: MarketId) -> Result<()> {
            let listing = self.listing(market)?;
            let now = self.env().block_timestamp();
            let mut feed = self.feeds.get(market).ok_or(EngineError::UnknownMarket)?;
            feed.refresh(&listing.oracle, now)?;
            let mut state = self
                .market_states
                .get(market)
                .ok_or(EngineError::UnknownMarket)?;
            let seen = observe(&feed, &listing.oracle, &listing.config, &mut state, now)?;
            self.feeds.insert(market, &feed);
            self.market_states.insert(market, &state);
            if let Some(t) = seen.transition {
                self.emit_breaker(market, t);
            }
            Ok(())
        }

        /// Loads markets with their prices at now. Observing the feeds advances ramps and
        /// breakers in memory; the breaker state as stored comes along so that `store_markets`
        /// writes only what must persist.
        fn load_markets(&self, ids: &[MarketId]) -> Result<Loaded> {
            let now = self.env().block_timestamp();
            let mut loaded = Loaded {
                markets: Vec::with_capacity(ids.len()),
                stored_breakers: Vec::with_capacity(ids.len()),
            };
            for &id in ids {
                if loaded.markets.iter().any(|m| m.id == id) {
                    continue;
                }
                let listing = self.listing(id)?;
                let feed = self.feeds.get(id).ok_or(EngineError::UnknownMarket)?;
                let mut state = self
                    .market_states
                    .get(id)
                    .ok_or(EngineError::UnknownMarket)?;
                loaded.stored_breakers.push(state.breaker.state);
                let seen = observe(&feed, &listing.oracle, &listing.config, &mut state, now)?;
                loaded.markets.push(MarketCtx {
                    id,
                    config: listing.config,
                    state,
                    prices: seen.prices,
                    now_ms: now,
                });
            }
            Ok(loaded)
        }

        /// Writes back the market the operation changed (`touched`) and any market whose breaker
        /// changed state while observed (emitting the event). Ramps advanced by observation alone
        /// need no write: the next load recomputes them from the same feed and time.
        fn store_markets(&mut self, loaded: &Loaded, touched: &[MarketId]) {
            for (m, stored) in loaded.markets.iter().zip(&loaded.stored_breakers) {
                let breaker_changed = *stored != m.state.breaker.state;
                if breaker_changed {
                    self.env().emit_event(BreakerChanged {
                        market: m.id,
                        from: *stored,
                        to: m.state.breaker.state,
                        move_fraction: Fixed::ZERO,
                    });
                }
                if breaker_changed || touched.contains(&m.id) {
                    self.market_states.insert(m.id, &m.state);
                }
            }
        }

        // ----- accounts -----

        fn load_account(&self, who: AccountId) -> Account {
            let record = self.accounts.get(who).unwrap_or_default();
            let positions = record
                .markets
                .iter()
                .filter_map(|&m| self.positions.get((who, m)).map(|p| (m, p)))
                .collect();
            Account {
                collateral: record.collateral,
                isolated: false,
                being_liquidated: record.being_liquidated,
                positions,
                options: if record.has_options {
                    self.options.get(who)
                } else {
                    None
                },
            }
        }

        /// Writes what changed between `before` (as loaded) and `after`: positions that moved,
        /// positions that closed, and the account record. Untouched positions cost nothing.
        fn store_account(&mut self, who: AccountId, before: &Account, after: &Account) {
            for (m, _) in &before.positions {
                if after.position(*m).is_none() {
                    self.positions.remove((who, *m));
                }
            }
            for (m, p) in &after.positions {
                if before.position(*m) != Some(p) {
                    self.positions.insert((who, *m), p);
                }
            }
            let same_markets = before.positions.len() == after.positions.len()
                && before
                    .positions
                    .iter()
                    .zip(&after.positions)
                    .all(|((a, _), (b, _))| a == b);
            if before.options != after.options {
                match &after.options {
                    Some(book) => self.options.insert(who, book),
                    None => {
                        self.options.remove(who);
                        None
                    }
                };
            }
            if before.collateral != after.collateral
                || before.being_liquidated != after.being_liquidated
                || before.options.is_some() != after.options.is_some()
                || !same_markets
            {
                let record = AccountRecord {
                    collateral: after.collateral,
                    being_liquidated: after.being_liquidated,
                    markets: after.positions.iter().map(|(m, _)| *m).collect(),
                    has_options: after.options.is_some(),
                };
                self.accounts.insert(who, &record);
            }
        }

        fn markets_of(&self, accounts: &[&Account], extra: Option<MarketId>) -> Vec<MarketId> {
            let mut ids: Vec<MarketId> = extra.into_iter().collect();
            for a in accounts {
                let book = a.options.as_ref().map(|b| b.report.market);
                for m in a.positions.iter().map(|(m, _)| *m).chain(book) {
                    if !ids.contains(&m) {
                        ids.push(m);
                    }
                }
            }
            ids
        }

        /// Calls the collateral token's PSP22 message `selector` and succeeds only on
        /// `Ok(())`. The engine needs no more than that, so it decodes the answer as
        /// `Result<(), ()>`: any error, whatever its payload, is a failure, and the decoder of
        /// `PSP22Error` (with its `Custom(String)`) stays out of the engine's code.
        fn call_token<Args: ink::scale::Encode>(
            &self,
            input: ink::env::call::ExecutionInput<Args>,
        ) -> Result<()> {
            match ink::env::call::build_call::<ink::env::DefaultEnvironment>()
                .call(self.token)
                .exec_input(input)
                .returns::<core::result::Result<(), ()>>()
                .try_invoke()
            {
                Ok(Ok(Ok(()))) => Ok(()),
                _ => Err(EngineError::TokenTransferFailed),
            }
        }

        /// Pulls `amount` of the collateral token from `from` (who approved the engine).
        fn pull_tokens(&self, from: AccountId, amount: u128) -> Result<()> {
            use ink::env::call::{ExecutionInput, Selector};
            self.call_token(
                ExecutionInput::new(Selector::new(ink::selector_bytes!("PSP22::transfer_from")))
                    .push_arg(from)
                    .push_arg(self.env().account_id())
                    .push_arg(amount)
                    .push_arg(Vec::<u8>::new()),
            )
        }

        /// Deposits `amount` of the collateral token (the caller must have approved the engine).
        #[ink(message)]
        pub fn deposit(&mut self, amount: u128) -> Result<()> {
            self.not_halted()?;
            let caller = self.env().caller();
            let signed = positive_amount(amount)?;
            let before = self.load_account(caller);
            let mut account = before.clone();
            ops::deposit(&mut account, signed)?;
            if account.being_liquidated {
                // The deposit may have restored the account: let its liquidation state end.
                let loaded = self.load_markets(&self.markets_of(&[&account], None))?;
                ops::note_observed(&mut account, &loaded.markets)?;
            }
            let net = self
                .net_deposits
                .checked_add(signed)
                .ok_or(EngineError::InvalidAmount)?;
            self.pull_tokens(caller, amount)?;
            self.store_account(caller, &before, &account);
            self.net_deposits = net;
            self.env().emit_event(Deposited {
                account: caller,
                amount,
            });
            Ok(())
        }

        /// Adds `amount` of the collateral token to the insurance fund (anyone; the caller must
        /// have approved the engine). The fund covers bankruptcies before losses are socialized.
        #[ink(message)]
        pub fn fund_insurance(&mut self, amount: u128) -> Result<()> {
            let caller = self.env().caller();
            let signed = positive_amount(amount)?;
            let fund = self
                .insurance_fund
                .checked_add(signed)
                .ok_or(EngineError::InvalidAmount)?;
            let net = self
                .net_deposits
                .checked_add(signed)
                .ok_or(EngineError::InvalidAmount)?;
            self.pull_tokens(caller, amount)?;
            self.insurance_fund = fund;
            self.net_deposits = net;
            self.env().emit_event(InsuranceFunded {
                from: caller,
                amount,
            });
            Ok(())
        }

        /// Withdraws `amount` while initial health at the target requirement stays
        /// non-negative. An account that holds nothing but collateral may always withdraw, even
        /// during a global halt: it owes nothing and risks nothing.
        #[ink(message)]
        pub fn withdraw(&mut self, amount: u128) -> Result<()> {
            let caller = self.env().caller();
            let signed = positive_amount(amount)?;
            let before = self.load_account(caller);
            if !before.is_flat() {
                self.not_halted()?;
            }
            let mut account = before.clone();
            let loaded = self.load_markets(&self.markets_of(&[&account], None))?;
            ops::withdraw(&mut account, &loaded.markets, signed)?;
            let net = self
                .net_deposits
                .checked_sub(signed)
                .ok_or(EngineError::InvalidAmount)?;
            // Effects before the external call; a failed transfer reverts them all.
            self.store_account(caller, &before, &account);
            self.store_markets(&loaded, &[]);
            self.net_deposits = net;
            {
                use ink::env::call::{ExecutionInput, Selector};
                self.call_token(
                    ExecutionInput::new(Selector::new(ink::selector_bytes!("PSP22::transfer")))
                        .push_arg(caller)
                        .push_arg(amount)
                        .push_arg(Vec::<u8>::new()),
                )?;
            }
            self.env().emit_event(Withdrawn {
                account: caller,
                amount,
            });
            Ok(())
        }

        // ----- venues -----

        // ----- liquidation -----

        /// Liquidates one chunk of `account`'s position in `market`; the caller takes it over.
        #[ink(message)]
        pub fn liquidate(&mut self, account: AccountId, market: MarketId) -> Result<()> {
            self.not_halted()?;
            let liquidator = self.env().caller();
            if liquidator == account {
                return Err(EngineError::SameAccount);
            }
            let (a0, l0) = (self.load_account(account), self.load_account(liquidator));
            let (mut a, mut l) = (a0.clone(), l0.clone());
            let mut loaded = self.load_markets(&self.markets_of(&[&a, &l], Some(market)))?;
            let mut fund = self.insurance_fund;
            let outcome =
                liquidation::liquidate(&mut loaded.markets, &mut a, &mut l, market, &mut fund)?;
            self.store_account(account, &a0, &a);
            self.store_account(liquidator, &l0, &l);
            // Covering a bankrupt account's deficit moves the social-loss index of every market
            // it holds.
            let touched: Vec<MarketId> = match outcome.bankruptcy {
                Some(_) => a0.positions.iter().map(|(m, _)| *m).collect(),
                None => ink::prelude::vec![market],
            };
            self.store_markets(&loaded, &touched);
            self.insurance_fund = fund;
            self.env().emit_event(Liquidated {
                market,
                account,
                liquidator,
                closed_size: outcome.closed_size,
                notional: outcome.notional,
                penalty: outcome.penalty,
                to_insurance: outcome.to_insurance,
                to_liquidator: outcome.to_liquidator,
                bankrupt: outcome.bankrupt,
            });
            self.emit_bankruptcy(market, account, outcome.bankruptcy);
            Ok(())
        }

        // ----- queries -----

        /// A market's settlement pool (funding and socialized-loss payments in flight).
        #[ink(message)]
        pub fn settlement_pool(&self, market: MarketId) -> Result<i128> {
            Ok(self
                .market_states
                .get(market)
                .ok_or(EngineError::UnknownMarket)?
                .settlement_pool)
        }

        /// The insurance fund, quote base units.
        #[ink(message)]
        pub fn insurance_fund(&self) -> i128 {
            self.insurance_fund
        }

        /// Deposits minus withdrawals: what the token contract must hold for the engine.
        #[ink(message)]
        pub fn net_deposits(&self) -> i128 {
            self.net_deposits
        }

        /// Owner, pending owner, guardian, collateral token, global halt.
        #[ink(message)]
        pub fn roles(&self) -> (AccountId, Option<AccountId>, AccountId, AccountId, bool) {
            (
                self.owner,
                self.pending_owner,
                self.guardian,
                self.token,
                self.halted(),
            )
        }

        /// Whether an account is an authorized venue.
        #[ink(message)]
        pub fn is_venue(&self, who: AccountId) -> bool {
            self.venues.contains(who)
        }
    }

    impl VenueApi for Engine {
        /// A fill reported by an authorized venue: `taker` trades `size` (signed, + buys) with
        /// `maker` at `price`; fees go to `fee_recipient`'s collateral.
        #[ink(message)]
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
        ) -> Result<()> {
            self.only_venue()?;
            self.not_halted()?;
            if taker == maker {
                return Err(EngineError::SameAccount);
            }
            let fill = ops::Fill {
                market,
                size,
                price,
                taker_fee: i128::try_from(taker_fee).map_err(|_| EngineError::InvalidAmount)?,
                maker_fee: i128::try_from(maker_fee).map_err(|_| EngineError::InvalidAmount)?,
            };
            let (t0, m0) = (self.load_account(taker), self.load_account(maker));
            let (mut t, mut m) = (t0.clone(), m0.clone());
            let mut loaded = self.load_markets(&self.markets_of(&[&t, &m], Some(market)))?;
            let mut fund = self.insurance_fund;
            let outcome = ops::apply_fill(&mut loaded.markets, &mut t, &mut m, &fill, &mut fund)?;
            self.store_account(taker, &t0, &t);
            self.store_account(maker, &m0, &m);
            self.store_markets(&loaded, &[market]);
            if outcome.fees > 0 {
                let before = self.load_account(fee_recipient);
                let mut recipient = before.clone();
                recipient.collateral = recipient
                    .collateral
                    .checked_add(outcome.fees)
                    .ok_or(EngineError::InvalidAmount)?;
                self.store_account(fee_recipient, &before, &recipient);
            }
            self.env().emit_event(Filled {
                market,
                taker,
                maker,
                size,
                price,
                quote_amount: outcome.quote_amount,
                fees: outcome.fees,
            });
            self.insurance_fund = fund;
            self.emit_bankruptcy(market, taker, outcome.taker_bankruptcy);
            self.emit_bankruptcy(market, maker, outcome.maker_bankruptcy);
            Ok(())
        }

        /// A venue moves the market's funding index (bounded per hour by the market config).
        #[ink(message)]
        fn update_funding(&mut self, market: MarketId, delta: Fixed) -> Result<()> {
            self.only_venue()?;
            self.not_halted()?;
            let mut loaded = self.load_markets(&[market])?;
            let ctx = loaded
                .markets
                .first_mut()
                .ok_or(EngineError::UnknownMarket)?;
            ops::update_funding(ctx, delta)?;
            let index = ctx.state.funding_index;
            self.store_markets(&loaded, &[market]);
            self.env().emit_event(FundingUpdated {
                market,
                delta,
                index,
            });
            Ok(())
        }

        /// An account's collateral and positions.
        #[ink(message)]
        fn account(&self, who: AccountId) -> AccountView {
            let a = self.load_account(who);
            AccountView {
                collateral: a.collateral,
                being_liquidated: a.being_liquidated,
                positions: a.positions,
            }
        }

        /// Health against the three requirements at current prices.
        #[ink(message)]
        fn health(&self, who: AccountId) -> Result<HealthReport> {
            let a = self.load_account(who);
            let markets = self.load_markets(&self.markets_of(&[&a], None))?.markets;
            Ok(HealthReport {
                initial: initial_health_at_target(&a, &markets)?,
                maintenance: account_health(&a, &markets, HealthKind::Maintenance, None)?,
                liquidation_end: account_health(&a, &markets, HealthKind::LiquidationEnd, None)?,
            })
        }

        /// The largest size `who` may buy (or sell) now at `price` paying `fee_rate`.
        #[ink(message)]
        fn max_position(
            &self,
            who: AccountId,
            market: MarketId,
            buy: bool,
            price: Fixed,
            fee_rate: Fixed,
        ) -> Result<i128> {
            let a = self.load_account(who);
            let markets = self
                .load_markets(&self.markets_of(&[&a], Some(market)))?
                .markets;
            Ok(ops::max_position(
                &a, &markets, market, buy, price, fee_rate,
            )?)
        }

        /// The oracle price of `market` at which `who` becomes liquidatable, other prices held.
        #[ink(message)]
        fn liquidation_price(&self, who: AccountId, market: MarketId) -> Result<Option<Fixed>> {
            let a = self.load_account(who);
            let markets = self
                .load_markets(&self.markets_of(&[&a], Some(market)))?
                .markets;
            Ok(liquidation_price(&a, &markets, market)?)
        }

        /// A market's prices, volatility, applied leverage caps and breaker state.
        #[ink(message)]
        fn market_risk(&self, market: MarketId) -> Result<MarketRisk> {
            let markets = self.load_markets(&[market])?.markets;
            let m = markets.first().ok_or(EngineError::UnknownMarket)?;
            let floor = m.config.margin.min_initial_fraction;
            let cap = |fraction: Fixed| Fixed::ONE.checked_div(fraction.max(floor));
            Ok(MarketRisk {
                oracle: m.prices.oracle,
                dampened: m.prices.dampened,
                opening_valid: m.prices.opening_valid,
                liquidation_valid: m.prices.liquidation_valid,
                forecast_vol: m.state.forecast_vol,
                applied_initial_fraction: m.state.applied.initial,
                applied_maintenance_fraction: m.state.applied.maintenance,
                target_initial_fraction: m.state.target.initial,
                applied_leverage_cap: cap(m.state.applied.initial)?,
                new_position_leverage_cap: cap(m
                    .state
                    .applied
                    .initial
                    .max(m.state.target.initial))?,
                breaker: m.state.breaker.state,
                open_interest: m.state.open_interest,
                decimals: m.config.decimals,
                max_fee_fraction: m.config.max_fee_fraction,
                depth: match (
                    m.state.depth.depth(&m.config.liquidity, true, Use::Open)?,
                    m.state.depth.depth(&m.config.liquidity, false, Use::Open)?,
                ) {
                    (Some(bid), Some(ask)) => Some((bid, ask)),
                    _ => None,
                },
                stress_multiplier: stress_fee(m)?.multiplier,
            })
        }

        /// Depth of the market's book, from a venue or one of the market's feeders.
        #[ink(message)]
        fn report_depth(&mut self, market: MarketId, bid: u128, ask: u128) -> Result<()> {
            self.not_halted()?;
            let reporter = self.env().caller();
            if !self.venues.contains(reporter) && !self.feeders.contains((market, reporter)) {
                return Err(EngineError::Unauthorized);
            }
            let listing = self.listing(market)?;
            let mut state = self
                .market_states
                .get(market)
                .ok_or(EngineError::UnknownMarket)?;
            state.depth.report(
                &listing.config.liquidity,
                positive_amount(bid)?,
                positive_amount(ask)?,
                self.env().block_timestamp(),
            )?;
            self.market_states.insert(market, &state);
            self.env().emit_event(DepthReported {
                market,
                reporter,
                bid,
                ask,
            });
            Ok(())
        }

        /// An options venue's report of an account's book.
        #[ink(message)]
        fn report_options(&mut self, account: AccountId, report: OptionsReport) -> Result<()> {
            self.only_venue()?;
            self.not_halted()?;
            let market = report.market;
            let reported_pnl = report.pnl;
            let before = self.load_account(account);
            let mut after = before.clone();
            let mut loaded = self.load_markets(&self.markets_of(&[&after], Some(market)))?;
            let mut fund = self.insurance_fund;
            let outcome =
                ops::apply_options_report(&mut after, &mut loaded.markets, report, &mut fund)?;
            self.store_account(account, &before, &after);
            self.store_markets(&loaded, &[market]);
            self.insurance_fund = fund;
            self.emit_bankruptcy(market, account, outcome.bankruptcy);
            self.env().emit_event(OptionsReported {
                market,
                account,
                growing: outcome.growing,
                initial_requirement: outcome.initial_requirement,
                maintenance_requirement: outcome.maintenance_requirement,
            });
            if !outcome.trusted {
                self.env().emit_event(GreeksDistrusted {
                    market,
                    account,
                    reported_pnl,
                });
            }
            Ok(())
        }

        /// The recommended fee multiplier for open-interest-raising trades in a market now.
        #[ink(message)]
        fn stress_fee(&self, market: MarketId) -> Result<StressFee> {
            let markets = self.load_markets(&[market])?.markets;
            let m = markets.first().ok_or(EngineError::UnknownMarket)?;
            Ok(stress_fee(m)?)
        }
    }
}
