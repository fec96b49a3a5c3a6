//! The link from the oracle adapter to a market's risk state, shared by the engine contract,
//! the simulator and the replay tools: after a feed changes (a report, or time passing), read
//! the price with its graduated validity, ramp the volatility terms toward the new forecast, and
//! advance the circuit breaker.

use ballast_math::Fixed;
use ballast_oracle::{FeedState, OracleConfig, PriceUse, Validity};

use crate::breaker::BreakerTransition;
use crate::config::MarketConfig;
use crate::error::RiskResult;
use crate::state::{MarketState, Prices};

/// What one observation of the feed produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// Prices for the core, with their validity flags (zero prices when there is none).
    pub prices: Prices,
    /// The feed's condition.
    pub validity: Validity,
    /// Forecast volatility taken in (annualized), if the feed had a price.
    pub forecast_vol: Option<Fixed>,
    /// Breaker state change, if any.
    pub transition: Option<BreakerTransition>,
}

/// Reads the feed at `now_ms` and advances the market's ramps and breaker.
pub fn observe(
    feed: &FeedState,
    oracle_config: &OracleConfig,
    config: &MarketConfig,
    state: &mut MarketState,
    now_ms: u64,
) -> RiskResult<Observation> {
    let validity = feed.validity(oracle_config, now_ms);
    if let Some(settlement) = state.settlement {
        // Settled: the price is fixed and nothing moves any more.
        return Ok(Observation {
            prices: Prices {
                oracle: settlement.price,
                dampened: settlement.price,
                opening_valid: false,
                liquidation_valid: false,
            },
            validity,
            forecast_vol: None,
            transition: None,
        });
    }
    let opening = feed.price(oracle_config, PriceUse::Opening, now_ms).ok();
    let liquidation = feed
        .price(oracle_config, PriceUse::Liquidation, now_ms)
        .ok();
    let prices = match liquidation {
        Some(view) => Prices {
            oracle: view.oracle,
            dampened: view.dampened,
            opening_valid: opening.is_some(),
            liquidation_valid: true,
        },
        // No price valid even for liquidation: the last aggregate stands in, flagged invalid,
        // so that an account's other markets never see this one valued at zero (which would
        // turn a position into a fake total loss or gain). Nothing in this market itself
        // accepts the stale price, and no operation grows risk or covers a deficit while an
        // account holds a market without a valid price.
        None => {
            let (oracle, dampened) = feed.price.as_ref().map_or((Fixed::ZERO, Fixed::ZERO), |p| {
                (p.aggregate.price, p.dampening.price)
            });
            Prices {
                oracle,
                dampened,
                opening_valid: false,
                liquidation_valid: false,
            }
        }
    };
    let forecast_vol = liquidation.map(|view| view.annualized_vol);
    if let Some(view) = liquidation {
        // The memory samples the dampened price: it follows real moves within minutes, but a
        // spike of seconds at the top of an hour would otherwise stay in it for months.
        crate::memory::sample_memory(
            &mut state.vol_memory,
            oracle_config,
            &config.margin,
            view.annualized_vol,
            view.dampened,
            now_ms,
        )?;
        state.update_volatility(config, view.annualized_vol, now_ms)?;
        crate::stress::sample_fast_vol(state, oracle_config, &config.stress, view.oracle, now_ms)?;
    }
    state.finish_params_ramp(now_ms);
    let transition =
        state
            .breaker
            .update(&config.breaker, opening.map(|view| view.oracle), now_ms)?;
    Ok(Observation {
        prices,
        validity,
        forecast_vol,
        transition,
    })
}

/// The feed's last price, as settlement needs it (see [`crate::settlement`]).
pub fn last_price(feed: &FeedState) -> crate::settlement::LastPrice {
    match &feed.price {
        Some(p) => crate::settlement::LastPrice {
            twap: p.twap,
            formed_at_ms: p.aggregate.formed_at_ms,
        },
        None => crate::settlement::LastPrice {
            twap: Fixed::ZERO,
            formed_at_ms: 0,
        },
    }
}
