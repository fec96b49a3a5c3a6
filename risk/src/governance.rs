//! Governance changes of a listed market: announced, delayed, then applied with a blend.
//!
//! ```text
//! announce(config, oracle)   event carries the whole new config; refused while another change
//!                            waits or while the last one still blends in
//! ... change_delay_ms ...    (the delay of the config in force when announced)
//! apply                      anyone, within 7 days of the delay's end (after that the
//!                            announcement lapses); the new config takes over, and every
//!                            held requirement blends from what the old config requires (its
//!                            own volatility terms, ramping under it) to what the new one
//!                            requires, over the old config's params_ramp_ms
//! ```
//!
//! Every market parameter (margin, ramps, breaker, liquidation, oracle, liquidity, fees, stress,
//! options) changes only this way; the decimals and the oracle's sampling clocks never change
//! (`ConfigRule::SamplingClock`: the estimator and the delay ring count intervals of the
//! clocks they started on). Bound (a property in
//! `risk/tests/manipulation.rs`): whatever sequence of announcements, cancellations and
//! applications governance makes, an account's requirement (positions and options book) stays
//! at its old value until `change_delay_ms` after the announcement, and then moves per hour by
//! at most `1 h / params_ramp_ms` (both of the config in force at the announcement) of the gap
//! between what the two configs require, since one blend ends before the next change can even
//! be announced. The old side of the blend starts from the volatility terms of the moment the
//! change applied and follows the market under the old configuration, so a change of the
//! quantiles, the horizon or the ramp speeds (up to instant) also reaches held positions only
//! through the blend. The bound is for a volatility forecast that holds still; once blended in,
//! a configuration's own ramp speeds move its volatility terms with the market. Not blended:
//! the oracle configuration (its forecast then moves the volatility terms at the ramp rate in
//! force), and what is not a requirement (breaker, liquidation mechanics, fees).

use ballast_oracle::OracleConfig;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::config::MarketConfig;
use crate::error::{ConfigRule, RiskError, RiskResult};
use crate::margin::VolFractions;
use crate::state::MarketState;

/// A change announced and waiting for its delay.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AnnouncedChange {
    /// The market config that will apply.
    pub config: MarketConfig,
    /// The oracle config that will apply.
    pub oracle: OracleConfig,
    /// Earliest time it applies, ms.
    pub effective_ms: u64,
    /// Latest time it applies, ms: a change nobody applied within [`APPLY_WINDOW_MS`] of its
    /// delay lapses, so that nobody can keep one in reserve and apply it at a moment of their
    /// choosing long after traders read it.
    pub expires_ms: u64,
}

/// How long after its delay an announced change may still be applied, ms (7 days).
pub const APPLY_WINDOW_MS: u64 = 7 * 24 * 3_600_000;

/// What held requirements blend from while a change blends in.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct PreviousTerms {
    /// The configuration in force before the change.
    pub config: MarketConfig,
    /// The old side's volatility terms: those in force when the change applied, ramped since
    /// under the old configuration (`MarketState::update_volatility`), so that a change of the
    /// volatility parameters or ramp speeds reaches held positions only through the blend while
    /// the old side still follows the market.
    pub vol: VolFractions,
    /// How long the blend takes, ms: the `params_ramp_ms` of the config in force when the
    /// change was announced (a change that shortens the ramp does so for the next change).
    pub ramp_ms: u64,
}

/// Whether a change applied earlier is still blending in at `now_ms`.
pub fn blending(state: &MarketState, now_ms: u64) -> bool {
    state
        .previous_terms
        .as_ref()
        .is_some_and(|previous| now_ms.saturating_sub(state.params_changed_ms) < previous.ramp_ms)
}

/// Checks a change against the configs in force and dates it: the result is what to store
/// (and announce). Nothing is changed. The caller validates `oracle` (its errors are the
/// oracle adapter's), as listing does.
pub fn announce(
    current: &MarketConfig,
    current_oracle: &OracleConfig,
    state: &MarketState,
    waiting: Option<&AnnouncedChange>,
    config: MarketConfig,
    oracle: OracleConfig,
    now_ms: u64,
) -> RiskResult<AnnouncedChange> {
    if waiting.is_some_and(|w| now_ms <= w.expires_ms) {
        return Err(RiskError::ChangePending);
    }
    if blending(state, now_ms) {
        return Err(RiskError::GovernanceRampInProgress);
    }
    if config.decimals != current.decimals {
        return Err(RiskError::InvalidConfig(ConfigRule::Decimals));
    }
    if !same_sampling_clock(current_oracle, &oracle) {
        return Err(RiskError::InvalidConfig(ConfigRule::SamplingClock));
    }
    config.validate()?;
    let effective_ms = now_ms.saturating_add(current.ramps.change_delay_ms);
    Ok(AnnouncedChange {
        config,
        oracle,
        effective_ms,
        expires_ms: effective_ms.saturating_add(APPLY_WINDOW_MS),
    })
}

/// Whether two oracle configs sample on the same clocks: the volatility state stores the
/// index of its last interval (time / `vol_interval_ms`) and annualizes with
/// `intervals_per_year`; the delay ring holds one average per `delay_interval_ms`, and its
/// oldest slot is the dampened price's reference. A listed market keeps the clocks it was
/// listed with.
fn same_sampling_clock(a: &OracleConfig, b: &OracleConfig) -> bool {
    a.vol_interval_ms == b.vol_interval_ms
        && a.intervals_per_year == b.intervals_per_year
        && a.clock_compression == b.clock_compression
        && a.delay_interval_ms == b.delay_interval_ms
}

/// Applies a change whose delay has passed: records the terms in force for the blend and
/// returns the configs that take over.
pub fn apply(
    current: &MarketConfig,
    state: &mut MarketState,
    change: AnnouncedChange,
    now_ms: u64,
) -> RiskResult<(MarketConfig, OracleConfig)> {
    if now_ms < change.effective_ms {
        return Err(RiskError::ChangeNotDue);
    }
    if now_ms > change.expires_ms {
        return Err(RiskError::ChangeExpired);
    }
    state.previous_terms = Some(PreviousTerms {
        config: current.clone(),
        vol: state.applied,
        ramp_ms: current.ramps.params_ramp_ms,
    });
    state.params_changed_ms = now_ms;
    Ok((change.config, change.oracle))
}

ballast_math::impl_leaf_layout!(AnnouncedChange, PreviousTerms);
