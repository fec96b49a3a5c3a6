//! Engine facet `admin` (selectors `0x04..`): roles (two-step ownership, guardian, venues per
//! market, feeders), listings and announced market changes, halts, and the ledger queries. Runs only through
//! the router's delegate call.
#![cfg_attr(not(feature = "std"), no_std, no_main)]
// ink!'s generated dispatch enum carries `list_market`'s market config by value; it lives for
// one call.
#![allow(clippy::large_enum_variant)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{
        caller, emit, emit_breaker, now_ms, Appointment, EngineState, FeederSlot, Result,
        GLOBAL_HALT_EXPIRY_MS, HALT_CONFIRMED, REVOKED,
    };
    use ballast_interface::events::*;
    use ballast_interface::EngineError;
    use ballast_oracle::{FeedState, OracleConfig, MAX_FEEDERS};
    use ballast_risk::governance::{self, AnnouncedChange};
    use ballast_risk::{
        Breaker, BreakerTransition, MarketConfig, MarketId, MarketState, RiskError,
    };

    /// The engine's storage (the router's; see `ballast-engine-state`).
    #[ink(storage)]
    pub struct Engine {
        state: EngineState,
    }

    impl Engine {
        /// A facet is not a contract of its own: instantiating its code is refused.
        #[ink(constructor)]
        pub fn facet_only() -> core::result::Result<Self, EngineError> {
            Err(EngineError::FacetOnly)
        }

        /// Starts a two-step ownership transfer.
        #[ink(message, selector = 0x0400_0001)]
        pub fn transfer_ownership(&mut self, new_owner: AccountId) -> Result<()> {
            self.state.only_owner()?;
            self.state.pending_owner = Some(new_owner);
            emit(OwnershipTransferStarted {
                pending_owner: new_owner,
            });
            Ok(())
        }

        /// Completes an ownership transfer; only the pending owner.
        #[ink(message, selector = 0x0400_0002)]
        pub fn accept_ownership(&mut self) -> Result<()> {
            let who = caller();
            if self.state.pending_owner != Some(who) {
                return Err(EngineError::NotPendingOwner);
            }
            self.state.owner = who;
            self.state.pending_owner = None;
            emit(OwnershipTransferred { owner: who });
            Ok(())
        }

        /// Replaces the guardian.
        #[ink(message, selector = 0x0400_0003)]
        pub fn set_guardian(&mut self, guardian: AccountId) -> Result<()> {
            self.state.only_owner()?;
            self.state.guardian = guardian;
            emit(GuardianChanged { guardian });
            Ok(())
        }

        /// Authorizes a venue in a market. It may act there (fill and report for accounts that
        /// approved it, move funding, report depth) once the market's `change_delay_ms` has
        /// passed, so traders see it coming; at once while nobody holds a position or an
        /// options book there (`EngineState::appointment_starts_ms`). Approvals given under an
        /// earlier appointment of the same venue do not carry over.
        #[ink(message, selector = 0x0400_0004)]
        pub fn authorize_venue(&mut self, market: MarketId, venue: AccountId) -> Result<()> {
            let s = &mut self.state;
            s.only_owner()?;
            let previous = s.venues.get((market, venue));
            if previous.is_some_and(|a| a.active_from_ms != REVOKED) {
                return Err(EngineError::VenueExists);
            }
            let active_from_ms = s.appointment_starts_ms(market)?;
            let generation = previous.map_or(1, |a| a.generation.saturating_add(1));
            s.venues.insert(
                (market, venue),
                &Appointment {
                    active_from_ms,
                    generation,
                },
            );
            emit(VenueChanged {
                market,
                venue,
                active_from_ms: Some(active_from_ms),
            });
            Ok(())
        }

        /// Revokes a venue in a market at once (owner or guardian).
        #[ink(message, selector = 0x0400_000d)]
        pub fn revoke_venue(&mut self, market: MarketId, venue: AccountId) -> Result<()> {
            let s = &mut self.state;
            s.only_guardian_or_owner()?;
            let Some(appointment) = s
                .venues
                .get((market, venue))
                .filter(|a| a.active_from_ms != REVOKED)
            else {
                return Err(EngineError::Unauthorized);
            };
            s.venues.insert(
                (market, venue),
                &Appointment {
                    active_from_ms: REVOKED,
                    ..appointment
                },
            );
            emit(VenueChanged {
                market,
                venue,
                active_from_ms: None,
            });
            Ok(())
        }

        /// Gives a feeder a report slot in a market (`None` removes it, at once). A new slot
        /// counts after the market's announcement delay, or at once while nobody holds a
        /// position or an options book there, as a venue's appointment does. Removing a feeder
        /// is at once: list more feeders than `min_reports`, so that removing one never stops
        /// the price (a market whose price stays dead for `settle_after_ms` may be settled). The owner assigns distinct slots; a slot
        /// shared by two feeders holds whichever reported last.
        #[ink(message, selector = 0x0400_0005)]
        pub fn set_feeder(
            &mut self,
            market: MarketId,
            feeder: AccountId,
            slot: Option<u8>,
        ) -> Result<()> {
            let s = &mut self.state;
            s.only_owner()?;
            s.listing(market)?;
            match slot {
                Some(n) if usize::from(n) >= MAX_FEEDERS => return Err(EngineError::UnknownFeeder),
                Some(n) => {
                    let active_from_ms = s.appointment_starts_ms(market)?;
                    s.feeders.insert(
                        (market, feeder),
                        &FeederSlot {
                            slot: n,
                            active_from_ms,
                        },
                    );
                    emit(FeederChanged {
                        market,
                        feeder,
                        slot,
                        active_from_ms: Some(active_from_ms),
                    });
                }
                None => {
                    s.feeders.remove((market, feeder));
                    emit(FeederChanged {
                        market,
                        feeder,
                        slot,
                        active_from_ms: None,
                    });
                }
            }
            Ok(())
        }

        /// Lists a market with its full configuration, validated.
        #[ink(message, selector = 0x0400_0006)]
        pub fn list_market(
            &mut self,
            market: MarketId,
            config: MarketConfig,
            oracle: OracleConfig,
        ) -> Result<()> {
            let s = &mut self.state;
            s.only_owner()?;
            if s.listings.contains(market) {
                return Err(EngineError::MarketExists);
            }
            config.validate()?;
            oracle.validate()?;
            s.listings.insert(
                market,
                &ballast_engine_state::MarketListing { config, oracle },
            );
            s.market_states.insert(market, &MarketState::new(now_ms()));
            s.feeds.insert(market, &FeedState::default());
            let mut ids = s.market_ids.get_or_default();
            ids.push(market);
            s.market_ids.set(&ids);
            emit(MarketListed { market });
            Ok(())
        }

        /// Announces a change of a market's configuration (any parameter but the decimals),
        /// validated now: it may apply from the market's `change_delay_ms` on, and its event
        /// carries the whole new configuration. Refused while another change waits or the
        /// last one still blends in.
        #[ink(message, selector = 0x0400_0007)]
        pub fn announce_market_change(
            &mut self,
            market: MarketId,
            config: MarketConfig,
            oracle: OracleConfig,
        ) -> Result<()> {
            let s = &mut self.state;
            s.only_owner()?;
            let listing = s.listing(market)?;
            let state = s.market_state(market)?;
            oracle.validate()?;
            let waiting = s.announced_changes.get(market);
            let change = governance::announce(
                &listing.config,
                &listing.oracle,
                &state,
                waiting.as_ref(),
                config,
                oracle,
                now_ms(),
            )?;
            s.announced_changes.insert(market, &change);
            emit(MarketChangeAnnounced {
                market,
                config: change.config,
                oracle: change.oracle,
                effective_ms: change.effective_ms,
            });
            Ok(())
        }

        /// Cancels an announced change (owner or guardian).
        #[ink(message, selector = 0x0400_000f)]
        pub fn cancel_market_change(&mut self, market: MarketId) -> Result<()> {
            let s = &mut self.state;
            s.only_guardian_or_owner()?;
            if !s.announced_changes.contains(market) {
                return Err(EngineError::Risk(RiskError::NoChangeAnnounced));
            }
            s.announced_changes.remove(market);
            emit(MarketChangeCancelled { market });
            Ok(())
        }

        /// The change announced for a market and waiting, if any.
        #[ink(message, selector = 0x0400_0106)]
        pub fn announced_change(&self, market: MarketId) -> Option<AnnouncedChange> {
            self.state.announced_changes.get(market)
        }

        /// Guardian (or owner) halt of one market.
        #[ink(message, selector = 0x0400_0008)]
        pub fn halt_market(&mut self, market: MarketId) -> Result<()> {
            self.state.only_guardian_or_owner()?;
            self.change_breaker(market, Breaker::pause)
        }

        /// Owner resume of a halted market.
        #[ink(message, selector = 0x0400_0009)]
        pub fn resume_market(&mut self, market: MarketId) -> Result<()> {
            self.state.only_owner()?;
            self.change_breaker(market, Breaker::resume)
        }

        /// Owner confirmation of a guardian halt, so that it does not lapse: of one market's
        /// (which lapses after the market's `pause_expiry_ms`) or, with `None`, of `halt_all`
        /// (which lapses after `GLOBAL_HALT_EXPIRY_MS`).
        #[ink(message, selector = 0x0400_000a)]
        pub fn confirm_halt(&mut self, market: Option<MarketId>) -> Result<()> {
            let s = &mut self.state;
            s.only_owner()?;
            match market {
                Some(id) => {
                    let mut state = s.market_state(id)?;
                    if !state.breaker.confirm_pause() {
                        return Err(EngineError::NotHalted);
                    }
                    s.market_states.insert(id, &state);
                }
                None => {
                    if !s.halted() || s.halted_until_ms == HALT_CONFIRMED {
                        return Err(EngineError::NotHalted);
                    }
                    s.halted_until_ms = HALT_CONFIRMED;
                }
            }
            emit(HaltConfirmed { market });
            Ok(())
        }

        /// Guardian (or owner) halt of everything but queries and the withdrawals of accounts
        /// that hold nothing but collateral. Lapses after `GLOBAL_HALT_EXPIRY_MS` unless the
        /// owner confirms it.
        #[ink(message, selector = 0x0400_000b)]
        pub fn halt_all(&mut self) -> Result<()> {
            let s = &mut self.state;
            s.only_guardian_or_owner()?;
            // A running halt is not extended (nor a confirmed one shortened): calling again
            // cannot keep an unconfirmed halt alive past its expiry.
            if !s.halted() {
                s.halted_until_ms = now_ms().saturating_add(GLOBAL_HALT_EXPIRY_MS);
            }
            emit(GlobalHaltChanged { halted: true });
            Ok(())
        }

        /// Owner resume after `halt_all`.
        #[ink(message, selector = 0x0400_000c)]
        pub fn resume_all(&mut self) -> Result<()> {
            self.state.only_owner()?;
            self.state.halted_until_ms = 0;
            emit(GlobalHaltChanged { halted: false });
            Ok(())
        }

        /// A market's settlement pool (funding and socialized-loss payments in flight).
        #[ink(message, selector = 0x0400_0101)]
        pub fn settlement_pool(&self, market: MarketId) -> Result<i128> {
            Ok(self.state.market_state(market)?.settlement_pool)
        }

        /// The insurance fund, quote base units.
        #[ink(message, selector = 0x0400_0102)]
        pub fn insurance_fund(&self) -> i128 {
            self.state.insurance_fund
        }

        /// Deposits minus withdrawals: what the token contract must hold for the engine.
        #[ink(message, selector = 0x0400_0103)]
        pub fn net_deposits(&self) -> i128 {
            self.state.net_deposits
        }

        /// Owner, pending owner, guardian, collateral token, global halt.
        #[ink(message, selector = 0x0400_0104)]
        pub fn roles(&self) -> (AccountId, Option<AccountId>, AccountId, AccountId, bool) {
            let s = &self.state;
            (s.owner, s.pending_owner, s.guardian, s.token, s.halted())
        }

        /// Whether an account is a venue of a market now (authorized and past its delay).
        #[ink(message, selector = 0x0400_0105)]
        pub fn is_venue(&self, market: MarketId, who: AccountId) -> bool {
            self.state.is_venue(market, who)
        }

        /// Applies a pause or resume to a market's breaker, emitting the transition.
        fn change_breaker(
            &mut self,
            market: MarketId,
            change: fn(&mut Breaker, u64) -> Option<BreakerTransition>,
        ) -> Result<()> {
            let mut state = self.state.market_state(market)?;
            if let Some(t) = change(&mut state.breaker, now_ms()) {
                emit_breaker(market, t);
                self.state.market_states.insert(market, &state);
            }
            Ok(())
        }
    }
}
