//! Engine facet `trading` (selectors `0x01..`): what venues write. Fills, funding, depth
//! and options reports. Runs only through the router's delegate call, on the router's storage.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{
        caller, emit, emit_bankruptcy, markets_of, positive_amount, EngineState, Result,
        TOTAL_OVERFLOW,
    };
    use ballast_interface::events::*;
    use ballast_interface::{EngineError, VenueApi};
    use ballast_math::Fixed;
    use ballast_risk::liquidity::BookDepth;
    use ballast_risk::{ops, MarketId, OptionsReport};

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
            let s = &mut self.state;
            s.only_venue(market)?;
            s.not_halted()?;
            if taker == maker {
                return Err(EngineError::SameAccount);
            }
            s.approved_by(taker, market)?;
            s.approved_by(maker, market)?;
            let fill = ops::Fill {
                market,
                size,
                price,
                taker_fee: i128::try_from(taker_fee).map_err(|_| EngineError::InvalidAmount)?,
                maker_fee: i128::try_from(maker_fee).map_err(|_| EngineError::InvalidAmount)?,
            };
            let (t0, m0) = (s.load_account(taker), s.load_account(maker));
            let (mut t, mut m) = (t0.clone(), m0.clone());
            let mut loaded = s.load_markets(&markets_of(&[&t, &m], Some(market)))?;
            let mut fund = s.insurance_fund;
            let outcome = ops::apply_fill(&mut loaded.markets, &mut t, &mut m, &fill, &mut fund)?;
            s.store_account(taker, &t0, &t);
            s.store_account(maker, &m0, &m);
            s.store_markets(&loaded, &[market]);
            if outcome.fees > 0 {
                let before = s.load_account(fee_recipient);
                let mut recipient = before.clone();
                recipient.collateral = recipient
                    .collateral
                    .checked_add(outcome.fees)
                    .ok_or(TOTAL_OVERFLOW)?;
                s.store_account(fee_recipient, &before, &recipient);
            }
            emit(Filled {
                market,
                taker,
                maker,
                size,
                price,
                quote_amount: outcome.quote_amount,
                fees: outcome.fees,
            });
            s.insurance_fund = fund;
            emit_bankruptcy(market, taker, outcome.taker_bankruptcy);
            emit_bankruptcy(market, maker, outcome.maker_bankruptcy);
            Ok(())
        }

        /// A venue moves the market's funding index (bounded per hour by the market config).
        #[ink(message)]
        fn update_funding(&mut self, market: MarketId, delta: Fixed) -> Result<()> {
            let s = &mut self.state;
            s.only_venue(market)?;
            s.not_halted()?;
            let mut loaded = s.load_markets(&[market])?;
            let ctx = loaded
                .markets
                .first_mut()
                .ok_or(EngineError::UnknownMarket)?;
            ops::update_funding(ctx, delta)?;
            let index = ctx.state.funding_index;
            s.store_markets(&loaded, &[market]);
            emit(FundingUpdated {
                market,
                delta,
                index,
            });
            Ok(())
        }

        /// Depth of the market's book, from one of the market's venues or feeders.
        #[ink(message)]
        fn report_depth(&mut self, market: MarketId, bid: u128, ask: u128) -> Result<()> {
            let s = &mut self.state;
            s.not_halted()?;
            let reporter = caller();
            if !s.is_venue(market, reporter) && s.feeder_slot(market, reporter).is_none() {
                return Err(EngineError::Unauthorized);
            }
            let depth = BookDepth {
                bid: positive_amount(bid)?,
                ask: positive_amount(ask)?,
            };
            let mut loaded = s.load_markets(&[market])?;
            let ctx = loaded
                .markets
                .first_mut()
                .ok_or(EngineError::UnknownMarket)?;
            ops::report_depth(ctx, *reporter.as_ref(), depth)?;
            s.store_markets(&loaded, &[market]);
            emit(DepthReported {
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
            let s = &mut self.state;
            let market = report.market;
            s.only_venue(market)?;
            s.not_halted()?;
            s.approved_by(account, market)?;
            let reported_pnl = report.pnl;
            let before = s.load_account(account);
            let mut after = before.clone();
            let mut loaded = s.load_markets(&markets_of(&[&after], Some(market)))?;
            let mut fund = s.insurance_fund;
            let outcome =
                ops::apply_options_report(&mut after, &mut loaded.markets, report, &mut fund)?;
            s.store_account(account, &before, &after);
            s.store_markets(&loaded, &[market]);
            s.insurance_fund = fund;
            emit_bankruptcy(market, account, outcome.bankruptcy);
            emit(OptionsReported {
                market,
                account,
                growing: outcome.growing,
                initial_requirement: outcome.initial_requirement,
                maintenance_requirement: outcome.maintenance_requirement,
            });
            if !outcome.trusted {
                emit(GreeksDistrusted {
                    market,
                    account,
                    reported_pnl,
                });
            }
            Ok(())
        }
    }
}
