use ballast_math::MathError;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Why the risk core refused an operation. Each variant names the check that failed; the
/// operation that returns it has changed nothing.
// The SCALE derive casts variant indices; the enum has far fewer than 256 variants.
#[allow(clippy::cast_possible_truncation)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum RiskError {
    /// Arithmetic failed (overflow, division by zero, domain) inside a formula.
    #[codec(index = 0)]
    Math(MathError),
    /// A market configuration is inconsistent; the code says which rule.
    #[codec(index = 1)]
    InvalidConfig(ConfigRule),
    /// A size, amount or price was zero or negative where a positive value is needed.
    #[codec(index = 2)]
    InvalidAmount,
    /// The account already holds the maximum number of positions.
    #[codec(index = 3)]
    TooManyPositions,
    /// An isolated account may hold one market only.
    #[codec(index = 4)]
    IsolatedAccount,
    /// The fill price is further from the oracle price than the market allows.
    #[codec(index = 5)]
    PriceOutOfBand,
    /// The market is halted for this kind of operation (breaker state).
    #[codec(index = 6)]
    MarketHalted,
    /// The market is in reduce-only mode and the fill would grow exposure.
    #[codec(index = 7)]
    ReduceOnly,
    /// After the operation the account's initial health would be negative.
    #[codec(index = 8)]
    InsufficientMargin,
    /// Withdrawal larger than free collateral.
    #[codec(index = 9)]
    InsufficientCollateral,
    /// The account is not below its maintenance requirement.
    #[codec(index = 10)]
    NotLiquidatable,
    /// The account has no position in that market.
    #[codec(index = 11)]
    NoPosition,
    /// The market's liquidation throttle for the current window is used up.
    #[codec(index = 12)]
    LiquidationThrottled,
    /// The account still has positions, or has no deficit: bankruptcy does not apply.
    #[codec(index = 13)]
    NotBankrupt,
    /// Taker and maker are the same account.
    #[codec(index = 14)]
    SelfTrade,
    /// The funding update exceeds the market's bound.
    #[codec(index = 15)]
    FundingTooLarge,
    /// An account's position refers to a market the caller did not supply.
    #[codec(index = 16)]
    UnknownMarket,
    /// A fee above the market's `max_fee_fraction` of the fill's notional.
    #[codec(index = 17)]
    FeeTooLarge,
    /// The position would need more than `max_impact` to close at the market's depth.
    #[codec(index = 18)]
    LiquidityCap,
    /// Open interest would grow faster than the market's depth allows in this window.
    #[codec(index = 19)]
    OpenInterestGrowth,
    /// The market's depth report is too old for new risk.
    #[codec(index = 20)]
    DepthStale,
    /// A depth or Greeks report is malformed (sizes, order, times, bounds).
    #[codec(index = 21)]
    InvalidReport,
    /// The options book's net short gamma would lose more than its budget of equity over the
    /// horizon move.
    #[codec(index = 22)]
    GammaBudget,
    /// The options book's vega would lose more than its budget of equity in the vol shock.
    #[codec(index = 23)]
    VegaBudget,
    /// The fill would leave the account's equity negative and lower than before: an account
    /// that is (or would be) underwater may trade only at the oracle price or better, fee
    /// included.
    #[codec(index = 24)]
    NegativeEquity,
    /// A deficit is left that neither the insurance fund nor any other open position can
    /// cover; the operation that would leave it is refused.
    #[codec(index = 25)]
    DeficitUnresolved,
    /// The market is in settlement: only closes at the settlement price.
    #[codec(index = 26)]
    MarketSettled,
    /// The market is not in settlement, or the conditions to settle it do not hold.
    #[codec(index = 27)]
    NotSettled,
    /// A position that gains at the settlement price waits until losing positions have paid in
    /// enough for its gain (see `ballast_risk::settlement`).
    #[codec(index = 28)]
    SettlementPending,
    /// A governance change is already announced for the market; apply or cancel it first.
    #[codec(index = 29)]
    ChangePending,
    /// The last governance change is still blending in; announce the next once it has.
    #[codec(index = 30)]
    GovernanceRampInProgress,
    /// The announced change's delay has not passed.
    #[codec(index = 31)]
    ChangeNotDue,
    /// No governance change is announced for the market.
    #[codec(index = 32)]
    NoChangeAnnounced,
    /// The account's options book is in another market: only that market's report may change
    /// it (empty it first to move the book).
    #[codec(index = 33)]
    OptionsBookElsewhere,
    /// The announced change was not applied within its window after the delay; announce it
    /// again.
    #[codec(index = 34)]
    ChangeExpired,
}

/// The configuration rule a rejected [`crate::MarketConfig`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ConfigRule {
    /// No tiers, or more than [`crate::config::MAX_TIERS`].
    #[codec(index = 0)]
    TierCount,
    /// Tier floors must start at 0 and strictly increase.
    #[codec(index = 1)]
    TierFloors,
    /// Tier fractions must be non-decreasing, with 0 < maintenance < initial <= 1 in every tier.
    #[codec(index = 2)]
    TierFractions,
    /// Leverage bounds: 0 < min initial fraction <= max initial fraction <= 1.
    #[codec(index = 3)]
    LeverageBounds,
    /// Quantiles and horizon must be positive, maintenance quantile below initial quantile,
    /// the stressed weight in [0, 1] with `(1 - w) z_I^2 >= z_M^2`, the memory's decays in
    /// (0, 1).
    #[codec(index = 4)]
    Volatility,
    /// Open-interest caps must satisfy lower < upper and the fraction lie in [0, 1].
    #[codec(index = 5)]
    OpenInterest,
    /// Ramp rates (and the opening rise) must be positive, maintenance no faster than
    /// initial; the governance ramp and announcement delay at least an hour.
    #[codec(index = 6)]
    Ramps,
    /// Breaker parameters must be positive with the calm threshold below the trip threshold.
    #[codec(index = 7)]
    Breaker,
    /// Liquidation parameters out of range (chunk, penalty, shares, throttle).
    #[codec(index = 8)]
    Liquidation,
    /// The fill price band must be positive and below the minimum initial fraction; the fee
    /// bound non-negative and below the minimum maintenance fraction.
    #[codec(index = 9)]
    PriceBand,
    /// Token decimals out of range.
    #[codec(index = 10)]
    Decimals,
    /// Liquidity parameters out of range.
    #[codec(index = 11)]
    Depth,
    /// Options parameters out of range.
    #[codec(index = 12)]
    Options,
    /// Stress-fee parameters out of range.
    #[codec(index = 13)]
    Stress,
    /// A change of a listed market's sampling clocks (`vol_interval_ms`, `intervals_per_year`,
    /// `clock_compression`, `delay_interval_ms`): the volatility estimator and the delay ring
    /// count intervals of the clocks they were listed with, so a new clock would freeze the
    /// estimator, fold a long gap in at once or age the dampened price's reference. Fixed at
    /// listing, as the decimals are.
    #[codec(index = 14)]
    SamplingClock,
}

impl From<MathError> for RiskError {
    fn from(e: MathError) -> Self {
        RiskError::Math(e)
    }
}

/// Shorthand for results of this crate.
pub type RiskResult<T> = Result<T, RiskError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Venues decode these errors by their SCALE index: an index that moved would make an old
    /// venue read one refusal as another. Each variant keeps the index it was released with;
    /// a new variant takes the next free one.
    #[test]
    fn encodings_are_pinned() {
        let risk = [
            (RiskError::Math(MathError::Overflow), 0),
            (RiskError::InvalidConfig(ConfigRule::TierCount), 1),
            (RiskError::InvalidAmount, 2),
            (RiskError::TooManyPositions, 3),
            (RiskError::IsolatedAccount, 4),
            (RiskError::PriceOutOfBand, 5),
            (RiskError::MarketHalted, 6),
            (RiskError::ReduceOnly, 7),
            (RiskError::InsufficientMargin, 8),
            (RiskError::InsufficientCollateral, 9),
            (RiskError::NotLiquidatable, 10),
            (RiskError::NoPosition, 11),
            (RiskError::LiquidationThrottled, 12),
            (RiskError::NotBankrupt, 13),
            (RiskError::SelfTrade, 14),
            (RiskError::FundingTooLarge, 15),
            (RiskError::UnknownMarket, 16),
            (RiskError::FeeTooLarge, 17),
            (RiskError::LiquidityCap, 18),
            (RiskError::OpenInterestGrowth, 19),
            (RiskError::DepthStale, 20),
            (RiskError::InvalidReport, 21),
            (RiskError::GammaBudget, 22),
            (RiskError::VegaBudget, 23),
            (RiskError::NegativeEquity, 24),
            (RiskError::DeficitUnresolved, 25),
            (RiskError::MarketSettled, 26),
            (RiskError::NotSettled, 27),
            (RiskError::SettlementPending, 28),
            (RiskError::ChangePending, 29),
            (RiskError::GovernanceRampInProgress, 30),
            (RiskError::ChangeNotDue, 31),
            (RiskError::NoChangeAnnounced, 32),
            (RiskError::OptionsBookElsewhere, 33),
            (RiskError::ChangeExpired, 34),
        ];
        for (error, index) in risk {
            assert_eq!(error.encode()[0], index, "{error:?}");
            assert_eq!(RiskError::decode(&mut &error.encode()[..]), Ok(error));
        }
        let rules = [
            (ConfigRule::TierCount, 0),
            (ConfigRule::TierFloors, 1),
            (ConfigRule::TierFractions, 2),
            (ConfigRule::LeverageBounds, 3),
            (ConfigRule::Volatility, 4),
            (ConfigRule::OpenInterest, 5),
            (ConfigRule::Ramps, 6),
            (ConfigRule::Breaker, 7),
            (ConfigRule::Liquidation, 8),
            (ConfigRule::PriceBand, 9),
            (ConfigRule::Decimals, 10),
            (ConfigRule::Depth, 11),
            (ConfigRule::Options, 12),
            (ConfigRule::Stress, 13),
            (ConfigRule::SamplingClock, 14),
        ];
        for (rule, index) in rules {
            assert_eq!(rule.encode(), [index], "{rule:?}");
        }
        assert_eq!(
            RiskError::InvalidConfig(ConfigRule::SamplingClock).encode(),
            [1, 14]
        );
        assert_eq!(RiskError::Math(MathError::Parse).encode(), [0, 3]);
    }
}
