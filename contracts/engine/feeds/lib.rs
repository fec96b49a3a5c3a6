//! Engine facet `feeds` (selectors `0x03..`): feeder price reports through the oracle
//! adapter's guard rails, and the refresh that advances a quiet market's feed, ramps and
//! breaker. Runs only through the router's delegate call.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod engine {
    use ballast_engine_state::{caller, emit, emit_breaker, now_ms, EngineState, Result};
    use ballast_interface::events::PriceUpdated;
    use ballast_interface::EngineError;
    use ballast_math::Fixed;
    use ballast_oracle::Report;
    use ballast_risk::feed::observe;
    use ballast_risk::MarketId;

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
    }
}
