//! Stress fees: a fee multiplier venues ask for before charging a trade that raises open
//! interest, so that in stress the market is paid for the liquidity it needs instead of
//! handing out new leverage at calm prices.
//!
//! ```text
//! vol_ratio  = sigma_short / sigma_long          short: EWMA with a 6-hour half-life;
//!                                                long: the oracle's forecast (11-day half-life)
//! thinning   = max over sides of (1 - reported median / depth in use), in [0, 1] (0 without depth)
//! multiplier = min(max_multiplier, 1 + vol_weight * max(0, vol_ratio - 1) + depth_weight * thinning)
//! ```
//!
//! A short-horizon volatility above the long one is the early sign of a regime change (the
//! ratio leads realized-vol forecasts in a crash), and a book that is thinner now than on
//! average is the other. Anchors: Drift widens its AMM spread with oracle volatility and
//! inventory; volatility-tiered dynamic fees (Trader Joe's Liquidity Book volatility
//! accumulator, Uniswap v4 dynamic-fee hooks, Curve v2's fee rising with imbalance) raise fees
//! with recent volatility. The multiplier is advice: the engine still bounds every fee by
//! `max_fee_fraction`.

use ballast_math::Fixed;
use ballast_oracle::{OracleConfig, VolState};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::config::StressParams;
use crate::error::RiskResult;
use crate::state::{MarketCtx, MarketState};

/// What the stress fee query answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct StressFee {
    /// Recommended multiplier of the venue's base fee for trades that raise open interest.
    pub multiplier: Fixed,
    /// Short- over long-horizon volatility.
    pub vol_ratio: Fixed,
    /// How much thinner the reported book is now than the depth in use (0..1).
    pub depth_thinning: Fixed,
}

/// Folds the price into the short-horizon volatility (once per volatility interval), starting
/// it at the long forecast so that the ratio starts at 1.
pub fn sample_fast_vol(
    state: &mut MarketState,
    oracle: &OracleConfig,
    params: &StressParams,
    price: Fixed,
    now_ms: u64,
) -> RiskResult<()> {
    let interval = now_ms.checked_div(oracle.vol_interval_ms).unwrap_or(0);
    match &mut state.fast_vol {
        None => {
            state.fast_vol = Some(VolState {
                annualized_variance: state.forecast_vol.checked_mul(state.forecast_vol)?,
                last_price: price,
                last_interval: interval,
                observations: 0,
            });
        }
        Some(vol) => {
            let fast = OracleConfig {
                ewma_lambda: params.fast_lambda,
                ..oracle.clone()
            };
            vol.sample(&fast, price, interval)
                .map_err(|_| crate::error::RiskError::InvalidAmount)?;
        }
    }
    Ok(())
}

fn thinning(reported: i128, in_use: i128) -> RiskResult<Fixed> {
    if in_use <= 0 || reported >= in_use {
        return Ok(Fixed::ZERO);
    }
    Ok(Fixed::ONE
        .checked_sub(Fixed::from_ratio(reported, in_use)?)?
        .max(Fixed::ZERO))
}

/// The recommended fee multiplier of a market now.
pub fn stress_fee(ctx: &MarketCtx) -> RiskResult<StressFee> {
    let params = &ctx.config.stress;
    let state = &ctx.state;
    let long = state.forecast_vol;
    let vol_ratio = match &state.fast_vol {
        Some(v) if long.is_positive() => v.annualized_variance.sqrt()?.checked_div(long)?,
        _ => Fixed::ONE,
    };
    // A target whose reports have gone stale says nothing about the book now.
    let stale = state.depth.stale(&ctx.config.liquidity, ctx.now_ms);
    let depth_thinning = match (state.depth.target, state.depth.in_use) {
        (Some(reported), Some(in_use)) if !stale => {
            thinning(reported.bid, in_use.bid)?.max(thinning(reported.ask, in_use.ask)?)
        }
        _ => Fixed::ZERO,
    };
    let from_vol = params
        .vol_weight
        .checked_mul(vol_ratio.checked_sub(Fixed::ONE)?.max(Fixed::ZERO))?;
    let from_depth = params.depth_weight.checked_mul(depth_thinning)?;
    let multiplier = Fixed::ONE
        .checked_add(from_vol)?
        .checked_add(from_depth)?
        .min(params.max_multiplier);
    Ok(StressFee {
        multiplier,
        vol_ratio,
        depth_thinning,
    })
}
