//! Markets: a load prices each market at now (observing its feed advances ramps and breaker
//! in memory); a store writes back only what must persist.

use alloc::vec::Vec;

use ballast_interface::events::BreakerChanged;
use ballast_math::Fixed;
use ballast_risk::feed::observe;
use ballast_risk::{MarketCtx, MarketId};

use crate::{emit, now_ms, EngineState, Loaded, Result};

impl EngineState {
    /// Loads markets with their prices at now, once each; the breaker state as stored comes
    /// along so that `store_markets` writes only what must persist.
    pub fn load_markets(&self, ids: &[MarketId]) -> Result<Loaded> {
        let now = now_ms();
        let mut loaded = Loaded {
            markets: Vec::with_capacity(ids.len()),
            stored_breakers: Vec::with_capacity(ids.len()),
        };
        for &id in ids {
            if loaded.markets.iter().any(|m| m.id == id) {
                continue;
            }
            let listing = self.listing(id)?;
            let feed = self.feed(id)?;
            let mut state = self.market_state(id)?;
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

    /// Writes back the markets the operation changed (`touched`) and any market whose breaker
    /// changed state while observed (emitting the event). Ramps, the opening term and its
    /// memory advanced by observation alone need no write: the next load advances them from the
    /// stored state over the longer interval (the opening term's speed limit then allows the
    /// same rise without compounding within it; the memory folds the intervals in as one
    /// return).
    pub fn store_markets(&mut self, loaded: &Loaded, touched: &[MarketId]) {
        for (m, stored) in loaded.markets.iter().zip(&loaded.stored_breakers) {
            let breaker_changed = *stored != m.state.breaker.state;
            if breaker_changed {
                emit(BreakerChanged {
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
}
