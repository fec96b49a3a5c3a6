//! Arbitrary sequences of operations on two cross-margined markets through the risk core's
//! shared sequence harness (`ballast_risk::sequence`): deposits, withdrawals, insurance funding,
//! fills on both sides of the oracle with fees, closes, price moves, funding, hours passing,
//! volatility forecasts, price validity (down to a dark oracle), guardian pauses, depth and
//! options reports, liquidations, settlement, settled closes and bankruptcy resolution. The
//! harness checks after every operation the invariants listed in its module docs (conservation,
//! atomic failures, solvency of flat accounts, liquidatability of underwater accounts, no
//! liquidation of healthy ones, bounded liquidation episodes, the outcome of every fill and
//! withdrawal, real deficits only).
#![no_main]

use arbitrary::Arbitrary;
use ballast_risk::sequence::{Guardian, Harness, Op, Validity, BTC, ETH, ONE, USD};
use ballast_risk::SettleReason;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum RawOp {
    Deposit(u8, u32),
    Withdraw(u8, u32),
    FundInsurance(u32),
    Trade {
        market: bool,
        taker: u8,
        maker: u8,
        size: i64,
        offset_bps: i16,
        fee_bps: u8,
    },
    Close {
        market: bool,
        who: u8,
        pct: u8,
        offset_bps: i16,
        fee_bps: u8,
    },
    Leveraged {
        market: bool,
        taker: u8,
        buy: bool,
        pct: u8,
    },
    Move {
        market: bool,
        bps: i16,
    },
    Funding {
        market: bool,
        bps: i8,
    },
    Hours(u8),
    Vol {
        market: bool,
        pct: u16,
    },
    Validity {
        market: bool,
        validity: u8,
    },
    Breaker {
        market: bool,
        action: u8,
    },
    Depth {
        market: bool,
        reporter: u8,
        usd: u32,
    },
    Options {
        market: bool,
        who: u8,
        gamma_usd: i32,
        vega_usd: i16,
    },
    Liquidate {
        market: bool,
        who: u8,
        by: u8,
    },
    Settle {
        market: bool,
        delisted: bool,
    },
    CloseSettled {
        who: u8,
        market: bool,
    },
    ResolveBankruptcy(u8),
    /// Raw extremes: sizes and amounts anywhere in i128.
    Extreme {
        taker: u8,
        maker: u8,
        size: i128,
        amount: i128,
    },
}

fn op(raw: &RawOp) -> Vec<Op> {
    let account = |a: u8| u32::from(a % 6);
    let trader = |a: u8| u32::from(a % 4);
    let market = |eth: bool| if eth { ETH } else { BTC };
    // The ETH-like market trades 13 times the units of the BTC-like one for the same notional.
    let units = |eth: bool| if eth { 13 * ONE } else { ONE };
    match *raw {
        RawOp::Deposit(a, x) => vec![Op::Deposit(account(a), i128::from(x) * (USD / 100))],
        RawOp::Withdraw(a, x) => vec![Op::Withdraw(account(a), i128::from(x) * (USD / 100))],
        RawOp::FundInsurance(x) => vec![Op::FundInsurance(i128::from(x) * (USD / 100))],
        RawOp::Trade {
            market: m,
            taker,
            maker,
            size,
            offset_bps,
            fee_bps,
        } => vec![Op::Trade {
            market: market(m),
            taker: account(taker),
            maker: account(maker),
            size: i128::from(size) % (4 * units(m)),
            offset_bps: i64::from(offset_bps % 300),
            fee_bps: i64::from(fee_bps % 120),
        }],
        RawOp::Close {
            market: m,
            who,
            pct,
            offset_bps,
            fee_bps,
        } => vec![Op::Close {
            market: market(m),
            who: trader(who),
            pct: i128::from(pct % 101),
            offset_bps: i64::from(offset_bps % 250),
            fee_bps: i64::from(fee_bps % 110),
        }],
        RawOp::Leveraged {
            market: m,
            taker,
            buy,
            pct,
        } => vec![Op::Leveraged {
            market: market(m),
            taker: trader(taker),
            buy,
            pct: i128::from(pct % 101),
        }],
        RawOp::Move { market: m, bps } => vec![Op::Move {
            market: market(m),
            bps: i64::from(bps % 3_000),
        }],
        RawOp::Funding { market: m, bps } => vec![Op::Funding {
            market: market(m),
            bps: i64::from(bps),
        }],
        RawOp::Hours(h) => vec![Op::Hours(u64::from(h % 40))],
        RawOp::Vol { market: m, pct } => vec![Op::Vol {
            market: market(m),
            pct: i64::from(pct % 400),
        }],
        RawOp::Validity {
            market: m,
            validity,
        } => vec![Op::Validity {
            market: market(m),
            validity: match validity % 3 {
                0 => Validity::Valid,
                1 => Validity::OpeningInvalid,
                _ => Validity::Dark,
            },
        }],
        RawOp::Breaker { market: m, action } => vec![Op::Breaker {
            market: market(m),
            action: match action % 3 {
                0 => Guardian::Pause,
                1 => Guardian::Confirm,
                _ => Guardian::Resume,
            },
        }],
        RawOp::Depth {
            market: m,
            reporter,
            usd,
        } => vec![Op::Depth {
            market: market(m),
            reporter: reporter % 4,
            usd: i128::from(usd % 10_000_000),
        }],
        RawOp::Options {
            market: m,
            who,
            gamma_usd,
            vega_usd,
        } => vec![Op::Options {
            market: market(m),
            who: trader(who),
            gamma_usd: i128::from(gamma_usd % 2_000_000),
            vega_usd: i128::from(vega_usd),
        }],
        RawOp::Liquidate { market: m, who, by } => vec![Op::Liquidate {
            market: market(m),
            who: trader(who),
            by: account(by),
        }],
        RawOp::Settle {
            market: m,
            delisted,
        } => vec![Op::Settle {
            market: market(m),
            reason: if delisted {
                SettleReason::Delisted
            } else {
                SettleReason::OracleDead
            },
        }],
        RawOp::CloseSettled { who, market: m } => vec![Op::CloseSettled {
            who: account(who),
            market: market(m),
        }],
        RawOp::ResolveBankruptcy(who) => vec![Op::ResolveBankruptcy { who: account(who) }],
        RawOp::Extreme {
            taker,
            maker,
            size,
            amount,
        } => vec![
            Op::Deposit(account(taker), amount),
            Op::Withdraw(account(taker), amount),
            Op::Trade {
                market: BTC,
                taker: account(taker),
                maker: account(maker),
                size,
                offset_bps: 0,
                fee_bps: i64::try_from(amount % 200).unwrap_or(0),
            },
        ],
    }
}

/// Operations per input. Each is checked against the whole ledger, so long inputs are slow;
/// the property tests cover sequences of up to 60 operations.
const MAX_OPS: usize = 32;

fuzz_target!(|ops: Vec<RawOp>| {
    let mut harness = Harness::new();
    for raw in ops.iter().take(MAX_OPS) {
        for op in op(raw) {
            if let Err(violation) = harness.apply(&op) {
                panic!("{violation}");
            }
        }
    }
});
