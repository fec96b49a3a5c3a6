//! What a run is asked to do: its parameters, its markets, and why it may stop.

use ballast_risk::ledger::AccountId;
use ballast_risk::RiskError;

use crate::market::{DepthCollapse, DepthParams, Tick};
use crate::options::WriterParams;
use crate::population::{PopulationParams, Portfolio};

/// Parameters of a run besides the protocol and the path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimParams {
    /// Number of trader accounts.
    pub accounts: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Population distributions.
    pub population: PopulationParams,
    /// Depth within 1% of mid as a multiple of the population's initial collateral.
    pub depth_ratio: f64,
    /// Half-life of price impact, minutes.
    pub resilience_minutes: f64,
    /// Initial insurance fund as a fraction of the population's initial collateral.
    pub insurance_ratio: f64,
    /// Notional (quote whole units) at which the allowed leverage is measured.
    pub reference_notional: f64,
    /// Check every account exactly each tick and fail if the pre-filter missed a breach
    /// (tests; slow).
    pub check_prefilter: bool,
    /// Share of the accounts that write options instead of trading perps (the last ones drawn).
    pub option_writers: f64,
    /// What the option writers do.
    pub writer: WriterParams,
    /// Whether the book thins in stress (see [`crate::market`]).
    pub depth_collapse: DepthCollapse,
    /// The depth model's parameters.
    pub depth_model: DepthParams,
    /// How many liquidation calls the chain takes per block.
    pub capacity: LiquidationCapacity,
    /// How the liquidators sell what they took over.
    pub unwind: Unwind,
    /// How the traders spread over the markets (runs of several markets only).
    pub portfolio: Portfolio,
    /// One account per trader, or one sub-account per market.
    pub margin: MarginMode,
    /// Which position of an account in several markets the liquidator takes over first.
    pub order: LiquidationOrder,
    /// Whose forced flow moves its market's price.
    pub feedback: Feedback,
}

/// How a trader in several markets is margined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarginMode {
    /// One account: a gain in one market carries a loss in another, and a loss in one can
    /// force the sale of the other (the engine's account).
    Cross,
    /// One sub-account per market, the trader's collateral split by the legs' weights (the
    /// engine's sub-accounts): each liquidated on its own.
    Isolated,
}

/// Which position the liquidator takes over first, of an account below maintenance in several
/// markets (the engine lets the liquidator name the market; it checks the account as a whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiquidationOrder {
    /// The position that lost the most since its entry.
    WorstMarketFirst,
    /// The position in the market with the deepest book at the time.
    MostLiquidFirst,
}

/// Whose forced flow moves the price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Every market's forced flow moves its price.
    EveryMarket,
    /// Every market's but this one's (by index in the run): its forced flow neither moves its
    /// price (which is then the exogenous path) nor thins its book, to measure how much of
    /// another market's amplification comes through it.
    AllBut(usize),
}

/// A market of a run: its exogenous path on the run's clock (see [`crate::market::align`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketPath {
    /// Name in the tables ("BTC").
    pub name: String,
    /// The path.
    pub ticks: Vec<Tick>,
    /// Its book's depth within 1% of mid as a share of the first market's.
    pub depth_share: f64,
}

/// How the liquidators sell what they took over into the book. The takeover itself is
/// immediate either way (the account is out of the position at the oracle price); only the
/// liquidator's own selling is forced flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unwind {
    /// All of it in the tick it was taken over.
    Immediate,
    /// At most this fraction of the book's current depth (within 1%) per tick and side; the
    /// rest waits in the liquidator's inventory.
    Paced {
        /// Fraction of depth per tick.
        depth_fraction_per_tick: f64,
    },
}

/// Block space for liquidation calls: a cascade waits for it as it would on chain. The price
/// is fixed within a tick, so the calls of one tick are spread over its blocks at that price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidationCapacity {
    /// Liquidation calls that fit one block.
    pub calls_per_block: u64,
    /// Block time, ms.
    pub block_ms: u64,
}

impl LiquidationCapacity {
    /// substrate-contracts-node: 191 one-position liquidations in 75% of a 2e12 ref_time block
    /// (`scripts/bench.sh`, after the clearing-house issue), 6-second blocks.
    pub const CONTRACTS_NODE: LiquidationCapacity = LiquidationCapacity {
        calls_per_block: 191,
        block_ms: 6_000,
    };
    /// A parachain at a 5 MiB proof budget: 38 per 6-second block (`scripts/bench.sh`).
    pub const PARACHAIN: LiquidationCapacity = LiquidationCapacity {
        calls_per_block: 38,
        block_ms: 6_000,
    };
    /// No limit.
    pub const UNLIMITED: LiquidationCapacity = LiquidationCapacity {
        calls_per_block: u64::MAX / 4,
        block_ms: 1,
    };

    /// Calls that fit in the blocks produced in `(from_ms, to_ms]` (block boundaries at
    /// multiples of the block time, so fractions of a block carry over between ticks).
    pub fn calls_between(&self, from_ms: u64, to_ms: u64) -> u64 {
        let block = self.block_ms.max(1);
        let blocks = (to_ms / block).saturating_sub(from_ms / block);
        self.calls_per_block.saturating_mul(blocks)
    }
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            accounts: 2_000,
            seed: 1,
            population: PopulationParams::default(),
            depth_ratio: 0.2,
            resilience_minutes: 30.0,
            insurance_ratio: 0.01,
            reference_notional: 10_000.0,
            check_prefilter: false,
            option_writers: 0.0,
            writer: WriterParams::default(),
            depth_collapse: DepthCollapse::Off,
            depth_model: DepthParams::default(),
            capacity: LiquidationCapacity::CONTRACTS_NODE,
            unwind: Unwind::Immediate,
            portfolio: Portfolio::default(),
            margin: MarginMode::Cross,
            order: LiquidationOrder::WorstMarketFirst,
            feedback: Feedback::EveryMarket,
        }
    }
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// The risk core refused an operation the simulator relies on.
    Risk(&'static str, RiskError),
    /// The pre-filter skipped an account that was below maintenance.
    PrefilterMissed(AccountId, u64),
    /// No ticks in the trading window.
    EmptyWindow,
    /// The markets' paths are not on one clock.
    MisalignedMarkets,
    /// A pair's second-leg weight outside [0.01, 0.99] (a leg, or an isolated sub-account,
    /// with nothing in it).
    PairWeight,
    /// More accounts than the ids of isolated sub-accounts leave room for.
    TooManyAccounts,
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Risk(what, e) => write!(f, "{what}: {e:?}"),
            SimError::PrefilterMissed(id, at) => {
                write!(f, "pre-filter missed account {id} at {at}")
            }
            SimError::EmptyWindow => write!(f, "no ticks in the trading window"),
            SimError::MisalignedMarkets => write!(f, "the markets' paths are not on one clock"),
            SimError::PairWeight => write!(f, "a pair's second-leg weight must be in [0.01, 0.99]"),
            SimError::TooManyAccounts => write!(f, "too many accounts for the sub-account ids"),
        }
    }
}

impl std::error::Error for SimError {}

pub(super) fn risk(what: &'static str) -> impl Fn(RiskError) -> SimError {
    move |e| SimError::Risk(what, e)
}
