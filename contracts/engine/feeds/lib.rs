//! Engine facet `feeds` (selectors `0x03..`): feeder price reports through the oracle
//! adapter's guard rails, the refresh that advances a quiet market's feed, ramps and breaker,
//! and the application of an announced market change (which observes the market first). Runs only through the router's delegate call.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{caller, emit, emit_breaker, now_ms, EngineState, Result};
    use ballast_interface::events::{MarketChangeApplied, PriceUpdated};
    use ballast_interface::EngineError;
    use ballast_math::Fixed;
    use ballast_oracle::Report;
    use ballast_risk::feed::observe;
    use ballast_risk::governance;
    use ballast_risk::{MarketId, RiskError};

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

        /// A feeder's report: the adapter's guard rails, then the market's ramps and breaker.
        #[ink(message, selector = 0x0300_0001)]
        pub fn submit_report(
            &mut self,
            market: MarketId,
            price: Fixed,
            confidence: Fixed,
            timestamp_ms: u64,
        ) -> Result<()> {
            let s = &mut self.state;
            let feeder = caller();
            let slot = s
                .feeder_slot(market, feeder)
                .ok_or(EngineError::UnknownFeeder)?;
            let listing = s.listing(market)?;
            let now = now_ms();
            let mut feed = s.feed(market)?;
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
            let mut state = s.market_state(market)?;
            let seen = observe(&feed, &listing.oracle, &listing.config, &mut state, now)?;
            s.feeds.insert(market, &feed);
            s.market_states.insert(market, &state);
            if let Some(t) = seen.transition {
                emit_breaker(market, t);
            }
            emit(PriceUpdated {
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
        #[ink(message, selector = 0x0300_0002)]
        pub fn refresh_market(&mut self, market: MarketId) -> Result<()> {
            let s = &mut self.state;
            let listing = s.listing(market)?;
            let now = now_ms();
            let mut feed = s.feed(market)?;
            feed.refresh(&listing.oracle, now)?;
            let mut state = s.market_state(market)?;
            let seen = observe(&feed, &listing.oracle, &listing.config, &mut state, now)?;
            s.feeds.insert(market, &feed);
            s.market_states.insert(market, &state);
            if let Some(t) = seen.transition {
                emit_breaker(market, t);
            }
            Ok(())
        }

        /// Applies an announced change of a market's configuration once its delay has passed
        /// and within 7 days of it (anyone: the announcement was the commitment). The feed is
        /// refreshed and the market observed first, so that the old side of the blend starts from the volatility terms
        /// of now; held requirements then blend from the old terms to the new ones over the old
        /// config's `params_ramp_ms`, and new positions face the new ones. (In this facet
        /// because it observes the market, as the price messages do.)
        #[ink(message, selector = 0x0300_0003)]
        pub fn apply_market_change(&mut self, market: MarketId) -> Result<()> {
            let s = &mut self.state;
            let mut listing = s.listing(market)?;
            let change = s
                .announced_changes
                .get(market)
                .ok_or(EngineError::Risk(RiskError::NoChangeAnnounced))?;
            let now = now_ms();
            // The feed is brought to now under the old oracle config first: the time since the
            // last report belongs to it, not to the config that takes over now.
            let mut feed = s.feed(market)?;
            feed.refresh(&listing.oracle, now)?;
            let mut state = s.market_state(market)?;
            let seen = observe(&feed, &listing.oracle, &listing.config, &mut state, now)?;
            let ramp_ms = listing.config.ramps.params_ramp_ms;
            let (config, oracle) = governance::apply(&listing.config, &mut state, change, now)?;
            listing.config = config;
            listing.oracle = oracle;
            s.listings.insert(market, &listing);
            s.feeds.insert(market, &feed);
            s.market_states.insert(market, &state);
            s.announced_changes.remove(market);
            if let Some(t) = seen.transition {
                emit_breaker(market, t);
            }
            emit(MarketChangeApplied {
                market,
                ramp_complete_ms: now.saturating_add(ramp_ms),
            });
            Ok(())
        }
    }
}
