//! The volatility of the opening term (what a new position must post, `MarketState::opening`):
//! the oracle's forecast blended with a slowly fading memory of the worst recent long-horizon
//! volatility (the clearing houses' anti-procyclicality tool of EMIR art. 28(b), weight on
//! stressed observations), so that what a trader must post to open neither falls to the floor
//! in every lull nor doubles in every storm.
//!
//! ```text
//! long(t)      = EWMA of squared hourly log returns of the dampened price, half-life 30 days
//! stressed(t)  = max(long(t), stressed(t-1) * stressed_decay^hours)     half-life 120 days
//! opening vol  = sqrt((1 - w) * forecast^2 + w * stressed)              w = `stressed_weight`
//! ```
//!
//! Only the opening term uses it. Held positions (their applied initial and maintenance terms,
//! hence liquidation and its end target) and withdrawals (the target terms) follow the oracle's
//! forecast as before: a blend there lowered maintenance at the start of a storm, when the
//! long estimate still lags, and doubled the simulator's bad debt in the FTX month.
//!
//! The long estimate is the plain mean of the squared returns it has seen until that mean has
//! as many observations as the EWMA's own memory (`1 / (1 - lambda)` of them), then the EWMA:
//! it never carries the oracle's conservative prior, which would hold the memory up for months.
//! The memory only begins once the long estimate has seen [`MEMORY_WARMUP_INTERVALS`] (60
//! days); until then the opening term uses the forecast alone. The samples are of the dampened
//! price, which follows real moves within minutes, so that a spike of seconds at the top of an
//! hour does not stay in the memory for months.
//!
//! What the blend does: the long estimate lags a fresh storm, so the opening term rises more
//! slowly than the forecast at its start (what lowers the largest daily and monthly rises, and
//! what lets new positions open at more leverage early in a storm) and falls more slowly after
//! it (what lifts the troughs). Measured on the simulator's clearing-house yardstick
//! (`docs/simulator.md`), with its costs.

use ballast_math::Fixed;
use ballast_oracle::{OracleConfig, VolState};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::config::MarginParams;
use crate::error::{RiskError, RiskResult};

/// Volatility intervals the long estimate must have seen before the memory begins.
pub const MEMORY_WARMUP_INTERVALS: u32 = 60 * 24;

/// The long-horizon estimate and the stressed memory of one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct VolMemory {
    /// Long-horizon EWMA of squared log returns (annualized variance).
    pub long: VolState,
    /// The stressed variance (annualized), once the memory has begun.
    pub stressed_variance: Option<Fixed>,
}

ballast_math::impl_leaf_layout!(VolMemory);

/// Folds the price into the long estimate and the memory (once per volatility interval),
/// starting the long estimate at `forecast_vol`.
pub fn sample_memory(
    memory: &mut Option<VolMemory>,
    oracle: &OracleConfig,
    params: &MarginParams,
    forecast_vol: Fixed,
    price: Fixed,
    now_ms: u64,
) -> RiskResult<()> {
    let interval = now_ms.checked_div(oracle.vol_interval_ms).unwrap_or(0);
    let Some(m) = memory else {
        *memory = Some(VolMemory {
            long: VolState {
                annualized_variance: forecast_vol.checked_mul(forecast_vol)?,
                last_price: price,
                last_interval: interval,
                observations: 0,
            },
            stressed_variance: None,
        });
        return Ok(());
    };
    let passed = interval.saturating_sub(m.long.last_interval);
    if passed == 0 {
        return Ok(());
    }
    // Weight 1 / (n + 1) on the n + 1-th observation (a running mean) until the EWMA's own
    // weight is larger: the first observation replaces the seed.
    let n = Fixed::from_i128(i128::from(m.long.observations))?;
    let mean_lambda = n.checked_div(n.checked_add(Fixed::ONE)?)?;
    let long = OracleConfig {
        ewma_lambda: params.long_vol_lambda.min(mean_lambda),
        ..oracle.clone()
    };
    m.long
        .sample(&long, price, interval)
        .map_err(|_| RiskError::InvalidAmount)?;
    if m.long.observations < MEMORY_WARMUP_INTERVALS {
        return Ok(());
    }
    let current = m.long.annualized_variance;
    m.stressed_variance = Some(match m.stressed_variance {
        None => current,
        Some(stressed) => {
            let hours = u32::try_from(passed).unwrap_or(u32::MAX);
            stressed
                .checked_mul(params.stressed_decay.powi(hours)?)?
                .max(current)
        }
    });
    Ok(())
}

/// The volatility the opening term uses: the forecast alone before the memory has begun, else
/// `sqrt((1 - w) forecast^2 + w stressed)`.
pub fn margin_vol(
    forecast_vol: Fixed,
    memory: Option<&VolMemory>,
    params: &MarginParams,
) -> RiskResult<Fixed> {
    let Some(stressed) = memory.and_then(|m| m.stressed_variance) else {
        return Ok(forecast_vol);
    };
    let w = params.stressed_weight;
    let forecast_variance = forecast_vol.checked_mul(forecast_vol)?;
    let blended = Fixed::ONE
        .checked_sub(w)?
        .checked_mul(forecast_variance)?
        .checked_add(w.checked_mul(stressed)?)?;
    Ok(blended.sqrt()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MarketConfig;
    use ballast_math::Decimals;

    fn params() -> MarginParams {
        MarketConfig::default_large_cap(Decimals { base: 8, quote: 6 }).margin
    }

    fn fx(x: f64) -> Fixed {
        Fixed::from_bits((x * 281_474_976_710_656.0) as i128)
    }

    fn f(x: Fixed) -> f64 {
        x.to_bits() as f64 / 281_474_976_710_656.0
    }

    /// Feeds `hours` hourly prices alternating by `step` (log), from `start_hour`.
    fn feed(
        memory: &mut Option<VolMemory>,
        start_hour: u64,
        hours: u64,
        step: f64,
        price: &mut f64,
    ) -> u64 {
        let oracle = OracleConfig::default();
        let p = params();
        for h in start_hour..start_hour + hours {
            *price *= if h % 2 == 0 {
                step.exp()
            } else {
                (-step).exp()
            };
            sample_memory(memory, &oracle, &p, fx(0.5), fx(*price), h * 3_600_000).unwrap();
        }
        start_hour + hours
    }

    #[test]
    fn the_memory_begins_after_its_warm_up_and_remembers_a_storm_for_months() {
        let p = params();
        let mut memory = None;
        let mut price = 100.0;
        // 1% an hour is 93.6% a year; before 60 days the margin uses the forecast alone.
        let mut hour = feed(&mut memory, 0, 59 * 24, 0.01, &mut price);
        assert_eq!(memory.unwrap().stressed_variance, None);
        assert_eq!(margin_vol(fx(0.5), memory.as_ref(), &p).unwrap(), fx(0.5));
        hour = feed(&mut memory, hour, 48, 0.01, &mut price);
        // The long estimate is the mean of what it saw (no prior): 1% an hour exactly.
        let stressed = f(memory.unwrap().stressed_variance.unwrap());
        assert!(
            (stressed.sqrt() - 0.936).abs() < 0.002,
            "{}",
            stressed.sqrt()
        );
        // 120 days of calm at 0.2% an hour (18.7% a year): the long estimate keeps a sixteenth
        // of the storm (four 30-day half-lives), the memory half of it (one 120-day half-life).
        feed(&mut memory, hour, 120 * 24, 0.002, &mut price);
        let m = memory.unwrap();
        let long = f(m.long.annualized_variance);
        let expected_long = 0.0625 * stressed + 0.9375 * 0.187f64.powi(2);
        assert!(
            (long / expected_long - 1.0).abs() < 0.05,
            "{long} vs {expected_long}"
        );
        let remembered = f(m.stressed_variance.unwrap());
        assert!(
            (remembered / stressed - 0.5).abs() < 0.03,
            "{remembered} vs {stressed}"
        );
        // The initial term blends a quarter of the forecast's variance with three quarters of
        // the memory: sqrt(0.25 * 0.25 + 0.75 * remembered).
        let vol = f(margin_vol(fx(0.5), memory.as_ref(), &p).unwrap());
        let expected = (0.25 * 0.25 + 0.75 * remembered).sqrt();
        assert!((vol - expected).abs() < 1e-6, "{vol} vs {expected}");
    }

    #[test]
    fn a_new_storm_beyond_the_memory_replaces_it() {
        let mut memory = None;
        let mut price = 100.0;
        let hour = feed(&mut memory, 0, 90 * 24, 0.005, &mut price);
        let before = f(memory.unwrap().stressed_variance.unwrap());
        feed(&mut memory, hour, 60 * 24, 0.02, &mut price);
        let m = memory.unwrap();
        assert_eq!(m.stressed_variance, Some(m.long.annualized_variance));
        assert!(f(m.stressed_variance.unwrap()) > 10.0 * before);
    }

    #[test]
    fn a_weight_of_zero_is_the_forecast() {
        let mut memory = None;
        let mut price = 100.0;
        feed(&mut memory, 0, 90 * 24, 0.02, &mut price);
        let p = MarginParams {
            stressed_weight: Fixed::ZERO,
            ..params()
        };
        let vol = margin_vol(fx(0.3), memory.as_ref(), &p).unwrap();
        assert!((f(vol) - 0.3).abs() < 1e-9);
    }
}
