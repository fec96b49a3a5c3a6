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
    Math(MathError),
    /// A market configuration is inconsistent; the code says which rule.
    InvalidConfig(ConfigRule),
    /// A size, amount or price was zero or negative where a positive value is needed.
    InvalidAmount,
    /// The account already holds the maximum number of positions.
    TooManyPositions,
    /// An isolated account may hold one market only.
    IsolatedAccount,
    /// The fill price is further from the oracle price than the market allows.
    PriceOutOfBand,
    /// The market is halted for this kind of operation (breaker state).
    MarketHalted,
    /// The market is in reduce-only mode and the fill would grow exposure.
    ReduceOnly,
    /// After the operation the account's initial health would be negative.
    InsufficientMargin,
    /// Withdrawal larger than free collateral.
    InsufficientCollateral,
    /// The account is not below its maintenance requirement.
    NotLiquidatable,
    /// The account has no position in that market.
    NoPosition,
    /// The market's liquidation throttle for the current window is used up.
    LiquidationThrottled,
    /// The account still has positions, or has no deficit: bankruptcy does not apply.
    NotBankrupt,
    /// Taker and maker are the same account.
    SelfTrade,
    /// The funding update exceeds the market's bound.
    FundingTooLarge,
    /// An account's position refers to a market the caller did not supply.
    UnknownMarket,
    /// A fee above the market's `max_fee_fraction` of the fill's notional.
    FeeTooLarge,
    /// The position would need more than `max_impact` to close at the market's depth.
    LiquidityCap,
    /// Open interest would grow faster than the market's depth allows in this window.
    OpenInterestGrowth,
    /// The market's depth report is too old for new risk.
    DepthStale,
    /// A depth or Greeks report is malformed (sizes, order, times, bounds).
    InvalidReport,
    /// The options book's net short gamma would lose more than its budget of equity over the
    /// horizon move.
    GammaBudget,
    /// The options book's vega would lose more than its budget of equity in the vol shock.
    VegaBudget,
    /// The fill would leave the account's equity negative and lower than before: an account
    /// that is (or would be) underwater may trade only at the oracle price or better, fee
    /// included.
    NegativeEquity,
    /// A deficit is left that neither the insurance fund nor any other open position can
    /// cover; the operation that would leave it is refused.
    DeficitUnresolved,
    /// The market is in settlement: only closes at the settlement price.
    MarketSettled,
    /// The market is not in settlement, or the conditions to settle it do not hold.
    NotSettled,
    /// A position that gains at the settlement price waits until losing positions have paid in
    /// enough for its gain (see `ballast_risk::settlement`).
    SettlementPending,
    /// A governance change is already announced for the market; apply or cancel it first.
    ChangePending,
    /// The last governance change is still blending in; announce the next once it has.
    GovernanceRampInProgress,
    /// The announced change's delay has not passed.
    ChangeNotDue,
    /// No governance change is announced for the market.
    NoChangeAnnounced,
    /// The account's options book is in another market: only that market's report may change
    /// it (empty it first to move the book).
    OptionsBookElsewhere,
    /// The announced change was not applied within its window after the delay; announce it
    /// again.
    ChangeExpired,
}

/// The configuration rule a rejected [`crate::MarketConfig`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ConfigRule {
    /// No tiers, or more than [`crate::config::MAX_TIERS`].
    TierCount,
    /// Tier floors must start at 0 and strictly increase.
    TierFloors,
    /// Tier fractions must be non-decreasing, with 0 < maintenance < initial <= 1 in every tier.
    TierFractions,
    /// Leverage bounds: 0 < min initial fraction <= max initial fraction <= 1.
    LeverageBounds,
    /// Quantiles and horizon must be positive, maintenance quantile below initial quantile,
    /// the stressed weight in [0, 1] with `(1 - w) z_I^2 >= z_M^2`, the memory's decays in
    /// (0, 1).
    Volatility,
    /// Open-interest caps must satisfy lower < upper and the fraction lie in [0, 1].
    OpenInterest,
    /// Ramp rates (and the opening rise) must be positive, maintenance no faster than
    /// initial; the governance ramp and announcement delay at least an hour.
    Ramps,
    /// Breaker parameters must be positive with the calm threshold below the trip threshold.
    Breaker,
    /// Liquidation parameters out of range (chunk, penalty, shares, throttle).
    Liquidation,
    /// The fill price band must be positive and below the minimum initial fraction; the fee
    /// bound non-negative and below the minimum maintenance fraction.
    PriceBand,
    /// Token decimals out of range.
    Decimals,
    /// Liquidity parameters out of range.
    Depth,
    /// Options parameters out of range.
    Options,
    /// Stress-fee parameters out of range.
    Stress,
    /// A change of a listed market's volatility sampling clock (`vol_interval_ms`,
    /// `intervals_per_year`, `clock_compression`): the estimator's state counts intervals of the
    /// clock it was listed with, so a new clock would freeze it or fold a long gap in at once.
    /// Fixed at listing, as the decimals are.
    SamplingClock,
}

impl From<MathError> for RiskError {
    fn from(e: MathError) -> Self {
        RiskError::Math(e)
    }
}

/// Shorthand for results of this crate.
pub type RiskResult<T> = Result<T, RiskError>;
