//! Arbitrary sequences of deposits, withdrawals, fills, price moves, funding and liquidations
//! through the risk core's shared sequence harness (`ballast_risk::sequence`), which checks
//! after every operation: conservation to the unit, failed operations change nothing, no
//! liquidation of a healthy account, liquidation never lowers the health ratio, and every
//! accepted fill meets the margin rule of each side.
#![no_main]

use arbitrary::Arbitrary;
use ballast_risk::sequence::{Harness, Op, ONE_BTC, USD};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum RawOp {
    Deposit(u8, u32),
    Withdraw(u8, u32),
    Trade {
        taker: u8,
        maker: u8,
        size: i64,
        offset_bps: i16,
        fee: u32,
    },
    Leveraged {
        taker: u8,
        buy: bool,
        pct: u8,
    },
    Move {
        bps: i16,
    },
    Funding {
        bps: i8,
    },
    Liquidate {
        who: u8,
        by: u8,
    },
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
    match *raw {
        RawOp::Deposit(a, x) => vec![Op::Deposit(account(a), i128::from(x) * (USD / 100))],
        RawOp::Withdraw(a, x) => vec![Op::Withdraw(account(a), i128::from(x) * (USD / 100))],
        RawOp::Trade {
            taker,
            maker,
            size,
            offset_bps,
            fee,
        } => vec![Op::Trade {
            taker: account(taker),
            maker: account(maker),
            size: i128::from(size) % (4 * ONE_BTC),
            offset_bps: i64::from(offset_bps % 300),
            fee: i128::from(fee % 10_000_000),
        }],
        RawOp::Leveraged { taker, buy, pct } => vec![Op::Leveraged {
            taker: account(taker) % 4,
            buy,
            pct: i128::from(pct % 101),
        }],
        RawOp::Move { bps } => vec![Op::Move {
            bps: i64::from(bps % 3_000),
        }],
        RawOp::Funding { bps } => vec![Op::Funding {
            bps: i64::from(bps % 40),
        }],
        RawOp::Liquidate { who, by } => vec![Op::Liquidate {
            who: account(who) % 4,
            by: account(by),
        }],
        RawOp::Extreme {
            taker,
            maker,
            size,
            amount,
        } => vec![
            Op::Deposit(account(taker), amount),
            Op::Withdraw(account(taker), amount),
            Op::Trade {
                taker: account(taker),
                maker: account(maker),
                size,
                offset_bps: 0,
                fee: amount,
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
