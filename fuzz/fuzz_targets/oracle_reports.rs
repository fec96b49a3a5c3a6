//! Arbitrary report sequences and clocks through the oracle adapter. After every step:
//! a rejected report or refresh changes nothing; the dampened price moves at most its rate per
//! second of elapsed time (to the per-refresh clamp) plus rounding, once the block in which the
//! price first formed has passed; a price served for a use
//! agrees with the feed's validity; the volatility estimate is never negative.
#![no_main]

use arbitrary::Arbitrary;
use ballast_math::Fixed;
use ballast_oracle::{FeedState, OracleConfig, PriceUse, Report, Validity};
use libfuzzer_sys::fuzz_target;

/// 2022-11-08 00:00:00 UTC.
const T0: u64 = 1_667_865_600_000;
const HOUR: u64 = 3_600_000;

#[derive(Debug, Arbitrary)]
struct Step {
    slot: u8,
    price: i128,
    confidence: i128,
    /// How far the report's timestamp is from now (back, or ahead when `future`).
    offset_ms: u32,
    future: bool,
    advance_ms: u32,
    /// Refresh only (a keeper or a read), no report.
    refresh: bool,
    /// Keep prices in a plausible band so that reports are mostly accepted.
    plausible: bool,
}

fn to_f64(x: Fixed) -> f64 {
    x.to_bits() as f64 / (1u64 << 48) as f64
}

fuzz_target!(|steps: Vec<Step>| {
    let cfg = OracleConfig::default();
    let mut feed = FeedState::default();
    let mut now = T0;
    for step in steps.iter().take(64) {
        now += u64::from(step.advance_ms) % (3 * HOUR);
        let price = if step.plausible {
            // 20,000 +- 2^-48 * 2^44 (about 16).
            Fixed::from_bits((20_000i128 << 48) + (step.price % (1 << 52)))
        } else {
            Fixed::from_bits(step.price)
        };
        let confidence = if step.plausible {
            Fixed::from_bits(step.confidence.rem_euclid(1 << 50))
        } else {
            Fixed::from_bits(step.confidence)
        };
        let offset = u64::from(step.offset_ms) % (2 * HOUR);
        let timestamp_ms = if step.future {
            now + offset
        } else {
            now.saturating_sub(offset)
        };
        let before = feed.clone();
        let result = if step.refresh {
            feed.refresh(&cfg, now).map(|_| ())
        } else {
            let report = Report {
                price,
                confidence,
                timestamp_ms,
            };
            feed.submit(&cfg, step.slot, report, now).map(|_| ())
        };
        match result {
            Err(_) => assert_eq!(feed, before, "a rejected step changed the feed"),
            Ok(()) => {
                // The bound holds from the block after the price first formed: reports in the
                // block that forms it re-form the initial state (all of them count once).
                let formed = before.price.as_ref().filter(|b| b.since_ms < now);
                if let (Some(b), Some(a)) = (formed, &feed.price) {
                    let elapsed = now.saturating_sub(before.last_refresh_ms);
                    let moving_s = elapsed.min(cfg.max_damping_step_ms) as f64 / 1000.0;
                    let (b, a) = (to_f64(b.dampening.price), to_f64(a.dampening.price));
                    let allowed = b * to_f64(cfg.damping_rate_per_sec) * moving_s;
                    let slack = 4.0 * to_f64(Fixed::DELTA) + 1e-12 * allowed + 1e-15 * b;
                    assert!(
                        (a - b).abs() <= allowed + slack,
                        "dampened moved {b} -> {a} in {elapsed} ms"
                    );
                }
            }
        }
        let validity = feed.validity(&cfg, now);
        for use_ in [PriceUse::Opening, PriceUse::Liquidation] {
            if let Ok(view) = feed.price(&cfg, use_, now) {
                assert!(
                    validity.allows(use_),
                    "{use_:?} price served while {validity:?}"
                );
                assert!(view.oracle.is_positive() && view.dampened.is_positive());
                assert!(!view.annualized_vol.is_negative());
            }
        }
        if validity == Validity::NoPrice {
            assert!(feed.price.is_none());
        }
    }
});
