//! Engine facet `liquidation` (selectors `0x02..`): the exits of an account or a market that
//! can no longer carry its risk. Liquidation chunks, the bankruptcy backstop, settling a dead
//! or delisted market and closing its positions. Runs only through the router's delegate call.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{
        caller, emit, emit_bankruptcy, emit_breaker, markets_of, EngineState, Result, ALL_MARKETS,
    };
    use ballast_interface::events::*;
    use ballast_interface::EngineError;
    use ballast_risk::feed::last_price;
    use ballast_risk::{bankruptcy, liquidation, settlement, MarketId, SettleReason};
    use ink::prelude::vec::Vec;

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

        /// Liquidates one chunk of `account`'s position in `market`; the caller takes it over.
        #[ink(message, selector = 0x0200_0001)]
        pub fn liquidate(&mut self, account: AccountId, market: MarketId) -> Result<()> {
            let s = &mut self.state;
            s.not_halted()?;
            let liquidator = caller();
            if liquidator == account {
                return Err(EngineError::SameAccount);
            }
            let (a0, l0) = (s.load_account(account), s.load_account(liquidator));
            let (mut a, mut l) = (a0.clone(), l0.clone());
            let mut loaded = s.load_markets(&markets_of(&[&a, &l], Some(market)))?;
            let mut fund = s.insurance_fund;
            let outcome =
                liquidation::liquidate(&mut loaded.markets, &mut a, &mut l, market, &mut fund)?;
            s.store_account(account, &a0, &a);
            s.store_account(liquidator, &l0, &l);
            // Covering a bankrupt account's deficit moves the social-loss index of every market
            // it holds.
            let touched: Vec<MarketId> = match outcome.bankruptcy {
                Some(_) => a0.positions.iter().map(|(m, _)| *m).collect(),
                None => ink::prelude::vec![market],
            };
            s.store_markets(&loaded, &touched);
            s.insurance_fund = fund;
            emit(Liquidated {
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
            emit_bankruptcy(market, account, outcome.bankruptcy);
            Ok(())
        }

        /// Resolves an account that holds nothing but negative collateral (anyone): the
        /// insurance fund first, the rest shared over every listed market pro rata to its
        /// open-interest notional. The engine's own operations never leave such an account;
        /// this is the backstop that guarantees no deficit outlives one call.
        #[ink(message, selector = 0x0200_0002)]
        pub fn resolve_bankruptcy(&mut self, account: AccountId) -> Result<()> {
            let s = &mut self.state;
            let before = s.load_account(account);
            let mut after = before.clone();
            let ids = s.market_ids.get_or_default();
            let mut loaded = s.load_markets(&ids)?;
            let mut fund = s.insurance_fund;
            let outcome =
                bankruptcy::resolve_bankruptcy(&mut after, &mut loaded.markets, &mut fund)?;
            s.store_account(account, &before, &after);
            s.store_markets(&loaded, &ids);
            s.insurance_fund = fund;
            emit_bankruptcy(ALL_MARKETS, account, Some(outcome));
            Ok(())
        }

        /// Puts a market into settlement: every position then closes at the oracle's last
        /// time-weighted average through `close_settled`. The owner may settle (delist) any
        /// market; anyone else only a market whose oracle has had no valid price for its
        /// `settle_after_ms`.
        #[ink(message, selector = 0x0200_0003)]
        pub fn settle_market(&mut self, market: MarketId) -> Result<()> {
            let s = &mut self.state;
            let reason = if caller() == s.owner {
                SettleReason::Delisted
            } else {
                SettleReason::OracleDead
            };
            let mut loaded = s.load_markets(&[market])?;
            let feed = s.feed(market)?;
            let ctx = loaded
                .markets
                .first_mut()
                .ok_or(EngineError::UnknownMarket)?;
            let (done, transition) = settlement::settle_market(ctx, last_price(&feed), reason)?;
            if let Some(t) = transition {
                emit_breaker(market, t);
            }
            // The transition was emitted above: `store_markets` must not emit it again.
            if let Some(stored) = loaded.stored_breakers.first_mut() {
                *stored = ballast_risk::BreakerState::Settled;
            }
            s.store_markets(&loaded, &[market]);
            emit(MarketSettled {
                market,
                price: done.price,
                reason,
            });
            Ok(())
        }

        /// Closes `account`'s position in a settled market at the settlement price (anyone).
        /// Positions that gain wait for the settlement's grace period; losing ones close at once.
        #[ink(message, selector = 0x0200_0004)]
        pub fn close_settled(&mut self, account: AccountId, market: MarketId) -> Result<()> {
            let s = &mut self.state;
            let before = s.load_account(account);
            let mut after = before.clone();
            let mut loaded = s.load_markets(&markets_of(&[&after], Some(market)))?;
            let mut fund = s.insurance_fund;
            let closed =
                settlement::close_settled(&mut after, &mut loaded.markets, market, &mut fund)?;
            s.store_account(account, &before, &after);
            s.store_markets(&loaded, &[market]);
            s.insurance_fund = fund;
            emit(SettledClosed {
                market,
                account,
                size: closed.size,
                pnl: closed.pnl,
            });
            emit_bankruptcy(market, account, closed.bankruptcy);
            Ok(())
        }
    }
}
