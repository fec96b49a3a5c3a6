//! Unit tests of the state transitions and reads through the public API.

use ballast_math::{Fixed, Rounding};
use parity_scale_codec::{Encode, MaxEncodedLen};

use crate::*;

/// 2022-11-08 00:00:00 UTC: an hour boundary.
const T0: u64 = 1_667_865_600_000;
const SEC: u64 = 1_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;

fn fx(text: &str) -> Fixed {
    Fixed::parse_decimal(text).unwrap()
}

fn to_f64(value: Fixed) -> f64 {
    value.to_bits() as f64 / (1u64 << 48) as f64
}

/// A report with a confidence of 0.1 % of the price.
fn report(price: &str, timestamp_ms: u64) -> Report {
    let price = fx(price);
    Report {
        price,
        confidence: price.div_int(1000, Rounding::Floor).unwrap(),
        timestamp_ms,
    }
}

/// Feeders `0..prices.len()` report `prices` at `now`.
fn report_all(state: &mut FeedState, cfg: &OracleConfig, prices: &[&str], now: u64) {
    for (slot, price) in prices.iter().enumerate() {
        state
            .submit(cfg, slot as u8, report(price, now), now)
            .unwrap();
    }
}

fn market(prices: &[&str], now: u64) -> FeedState {
    let mut state = FeedState::default();
    report_all(&mut state, &OracleConfig::default(), prices, now);
    state
}

fn held(state: &FeedState) -> &PriceState {
    state.price.as_ref().unwrap()
}

#[test]
fn state_fits_one_small_storage_value() {
    // Far below the 16 KiB limit of one storage value.
    assert!(
        FeedState::max_encoded_len() <= 1024,
        "{}",
        FeedState::max_encoded_len()
    );
    let state = market(&["100", "101", "102"], T0);
    assert!(state.encode().len() <= FeedState::max_encoded_len());
}

#[test]
fn every_guard_rail_has_its_error_and_changes_nothing() {
    let cfg = OracleConfig::default();
    let mut state = market(&["100", "100", "100"], T0);
    state
        .submit(&cfg, 0, report("100", T0 + 10 * SEC), T0 + 20 * SEC)
        .unwrap();
    let now = T0 + 20 * SEC;
    let before = state.encode();

    let price = fx("100");
    let with = |price: Fixed, confidence: Fixed, timestamp_ms: u64| Report {
        price,
        confidence,
        timestamp_ms,
    };
    let ok_conf = fx("0.1");
    let cases: Vec<(u8, Report, u64, OracleError)> = vec![
        (8, report("100", now), now, OracleError::InvalidSlot),
        (255, report("100", now), now, OracleError::InvalidSlot),
        (
            1,
            with(Fixed::ZERO, Fixed::ZERO, now),
            now,
            OracleError::NonPositivePrice,
        ),
        (
            1,
            with(fx("-5"), Fixed::ZERO, now),
            now,
            OracleError::NonPositivePrice,
        ),
        (
            1,
            with(
                MAX_PRICE.checked_add(Fixed::DELTA).unwrap(),
                Fixed::ZERO,
                now,
            ),
            now,
            OracleError::PriceOutOfRange,
        ),
        (
            1,
            with(
                MIN_PRICE.checked_sub(Fixed::DELTA).unwrap(),
                Fixed::ZERO,
                now,
            ),
            now,
            OracleError::PriceOutOfRange,
        ),
        (
            1,
            with(price, fx("-0.01"), now),
            now,
            OracleError::NegativeConfidence,
        ),
        (
            1,
            with(price, ok_conf, now + 5 * SEC + 1),
            now,
            OracleError::FromTheFuture,
        ),
        (
            1,
            with(price, ok_conf, now - MIN - 1),
            now,
            OracleError::TooOld,
        ),
        (
            0,
            with(price, ok_conf, T0 + 9 * SEC),
            now,
            OracleError::Replay,
        ),
        (
            1,
            with(price, fx("2.01"), now),
            now,
            OracleError::ReportTooUncertain,
        ),
        (1, report("100", T0), T0, OracleError::TimeWentBackwards),
    ];
    for (slot, rep, at, expected) in cases {
        assert_eq!(
            state.submit(&cfg, slot, rep, at),
            Err(expected),
            "{expected:?}"
        );
        assert_eq!(state.encode(), before, "{expected:?} changed the state");
    }
    let mut bad_cfg = cfg.clone();
    bad_cfg.min_reports = 0;
    assert_eq!(
        state.submit(&bad_cfg, 1, report("100", now), now),
        Err(OracleError::InvalidConfig(ConfigError::MinReports))
    );
    assert_eq!(state.refresh(&cfg, T0), Err(OracleError::TimeWentBackwards));
    assert_eq!(state.encode(), before);

    // The limits themselves are accepted.
    let mut edge = state.clone();
    let widest = price
        .mul_rounded(cfg.max_confidence, Rounding::Floor)
        .unwrap();
    edge.submit(&cfg, 1, with(price, widest, now + 5 * SEC), now)
        .unwrap();
    edge.submit(&cfg, 4, with(MAX_PRICE, Fixed::ZERO, now - MIN), now)
        .unwrap();
    edge.submit(&cfg, 5, with(MIN_PRICE, Fixed::ZERO, now), now)
        .unwrap();
    // The same timestamp again replaces the slot's report (a correction within a block).
    edge.submit(&cfg, 0, with(fx("99"), ok_conf, T0 + 10 * SEC), now)
        .unwrap();
    assert_eq!(edge.reports[0].unwrap().price, fx("99"));
}

#[test]
fn aggregate_is_the_median_of_fresh_reports() {
    let cfg = OracleConfig::default();
    // Odd count: the middle one.
    let state = market(&["100", "103", "101"], T0);
    assert_eq!(held(&state).aggregate.price, fx("101"));
    // Even count: the mean of the two middle ones; the outlier does not matter.
    let mut state = market(&["100", "103", "101", "5000"], T0);
    assert_eq!(held(&state).aggregate.price, fx("102"));
    // Confidence: max(median reported 0.1 %, median absolute deviation).
    // Deviations from 102: 2, 1, 1, 4898 -> median 1.5.
    assert_eq!(held(&state).aggregate.confidence, fx("1.5"));
    // Mean of two middle values rounds down.
    let state2 = market(&["1", "2", "1.000000000000001", "3"], T0);
    let expected = fx("1.000000000000001")
        .checked_add(fx("2"))
        .unwrap()
        .div_int(2, Rounding::Floor)
        .unwrap();
    assert_eq!(held(&state2).aggregate.price, expected);

    // Reports age out of the median: 40 s later, slots 0..2 report again while slot 3 (5000,
    // from T0) is still fresh: median of 110, 111, 112, 5000, formed at the lower median of
    // the inputs' times (T0, T0 + 40 s x 3): the one old report does not age the aggregate.
    report_all(&mut state, &cfg, &["110", "111", "112"], T0 + 40 * SEC);
    assert_eq!(held(&state).aggregate.price, fx("111.5"));
    assert_eq!(held(&state).aggregate.formed_at_ms, T0 + 40 * SEC);
    // 61 s after T0 only the new three count.
    state.refresh(&cfg, T0 + 61 * SEC).unwrap();
    assert_eq!(state.fresh_reports, 3);
    assert_eq!(held(&state).aggregate.price, fx("111"));
    // formed_at is the inputs' (median) timestamp, not the refresh time.
    assert_eq!(held(&state).aggregate.formed_at_ms, T0 + 40 * SEC);
}

#[test]
fn too_few_fresh_reports_keep_the_last_aggregate_and_let_it_age() {
    let cfg = OracleConfig::default();
    let mut state = market(&["100", "100", "100"], T0);
    let later = T0 + 2 * MIN;
    let outcome = state.submit(&cfg, 0, report("150", later), later).unwrap();
    assert_eq!(outcome.fresh_reports, 1);
    assert!(!outcome.aggregate_formed);
    assert_eq!(held(&state).aggregate.price, fx("100"));
    assert_eq!(held(&state).aggregate.formed_at_ms, T0);
    assert_eq!(state.validity(&cfg, later), Validity::StaleForOpening);
    state.submit(&cfg, 1, report("150", later), later).unwrap();
    assert_eq!(held(&state).aggregate.price, fx("100"));
    let outcome = state.submit(&cfg, 2, report("160", later), later).unwrap();
    assert!(outcome.aggregate_formed);
    assert_eq!(held(&state).aggregate.price, fx("150"));
    assert_eq!(held(&state).aggregate.formed_at_ms, later);

    // With min_reports = 1 one report suffices.
    let single = OracleConfig {
        min_reports: 1,
        ..OracleConfig::default()
    };
    let mut state = FeedState::default();
    assert!(
        state
            .submit(&single, 5, report("42", T0), T0)
            .unwrap()
            .aggregate_formed
    );
    assert_eq!(held(&state).aggregate.price, fx("42"));

    // No price at all before min_reports is first reached.
    let mut state = FeedState::default();
    let outcome = state.submit(&cfg, 0, report("42", T0), T0).unwrap();
    assert_eq!(outcome.aggregate, None);
    assert_eq!(state.validity(&cfg, T0), Validity::NoPrice);
}

#[test]
fn validity_is_graduated_by_use() {
    let cfg = OracleConfig::default();
    let empty = FeedState::default();
    assert_eq!(empty.validity(&cfg, T0), Validity::NoPrice);
    assert_eq!(
        empty.price(&cfg, PriceUse::Liquidation, T0),
        Err(OracleError::NoPrice)
    );

    let state = market(&["100", "100.5", "99.5"], T0);
    assert_eq!(state.validity(&cfg, T0 + MIN), Validity::Valid);
    let view = state.price(&cfg, PriceUse::Opening, T0 + MIN).unwrap();
    assert_eq!(view.oracle, fx("100"));
    assert_eq!(view.dampened, fx("100"));
    assert_eq!(view.age_ms, MIN);
    assert_eq!(view.annualized_vol, Fixed::ONE);
    assert_eq!(view.vol_observations, 0);

    // Stale for opening, still good for liquidation.
    let now = T0 + MIN + 1;
    assert_eq!(state.validity(&cfg, now), Validity::StaleForOpening);
    assert_eq!(
        state.price(&cfg, PriceUse::Opening, now),
        Err(OracleError::StaleForOpening)
    );
    assert_eq!(
        state
            .price(&cfg, PriceUse::Liquidation, now)
            .unwrap()
            .age_ms,
        MIN + 1
    );
    // Too old for anything.
    let now = T0 + 10 * MIN + 1;
    assert_eq!(state.validity(&cfg, now), Validity::StaleForLiquidation);
    assert_eq!(
        state.price(&cfg, PriceUse::Liquidation, now),
        Err(OracleError::StaleForLiquidation)
    );

    // Feeders disagree by 3 %: too uncertain to open on, fine to liquidate on.
    let state = market(&["100", "103", "106"], T0);
    assert_eq!(held(&state).aggregate.confidence, fx("3"));
    assert_eq!(state.validity(&cfg, T0), Validity::TooUncertain);
    assert_eq!(
        state.price(&cfg, PriceUse::Opening, T0),
        Err(OracleError::PriceTooUncertain)
    );
    assert!(state.price(&cfg, PriceUse::Liquidation, T0).is_ok());
}

#[test]
fn a_jump_is_too_volatile_until_the_dampened_price_follows() {
    let cfg = OracleConfig::default();
    let mut state = market(&["100", "100", "100"], T0);
    let mut now = T0 + 30 * SEC;
    report_all(&mut state, &cfg, &["130", "130", "130"], now);
    assert_eq!(state.validity(&cfg, now), Validity::TooVolatile);
    assert_eq!(
        state.price(&cfg, PriceUse::Liquidation, now),
        Err(OracleError::TooVolatile)
    );

    // Feeders keep reporting 130 every 30 s; the dampened price rises monotonically, never
    // past 130, and the market becomes usable once it is within 25 %.
    let mut previous = held(&state).dampening.price;
    let mut usable_after = None;
    for _ in 0..240 {
        now += 30 * SEC;
        report_all(&mut state, &cfg, &["130", "130", "130"], now);
        let dampened = held(&state).dampening.price;
        assert!(dampened >= previous && dampened <= fx("130"));
        previous = dampened;
        if usable_after.is_none() && state.validity(&cfg, now) == Validity::Valid {
            usable_after = Some(now - T0);
        }
    }
    // 130 / 1.25 = 104: 4 % at 0.0001/s (f ~ 1) takes about 400 s.
    let usable_after = usable_after.unwrap();
    assert!(
        (380 * SEC..=480 * SEC).contains(&usable_after),
        "{usable_after}"
    );
    // After two hours the dampened price has caught up entirely.
    assert_eq!(held(&state).dampening.price, fx("130"));
}

#[test]
fn dampened_price_does_not_depend_on_refresh_frequency() {
    let cfg = OracleConfig::default();
    let mut base = market(&["100", "100", "100"], T0 + 50 * MIN);
    report_all(&mut base, &cfg, &["200", "200", "200"], T0 + 51 * MIN);
    // One refresh from 55 to 63 min (8 minutes, under the 10-minute clamp, across the delay
    // boundary at 60 min) against six refreshes over the same span.
    let mut once = base.clone();
    once.refresh(&cfg, T0 + 55 * MIN).unwrap();
    let mut split = once.clone();
    once.refresh(&cfg, T0 + 63 * MIN).unwrap();
    for minute in [57, 59, 60, 61, 62, 63] {
        split.refresh(&cfg, T0 + minute * MIN).unwrap();
    }
    let a = held(&once).dampening.price;
    let b = held(&split).dampening.price;
    assert!(a > fx("100") && a < fx("200"));
    // Each refresh rounds its move budget down once: a few ulps of budget, times the price.
    assert!(
        (to_f64(a) - to_f64(b)).abs() <= 1e-12 * to_f64(a),
        "{a} vs {b}"
    );
    // Delay ring and volatility are identical, the TWAP equal to rounding.
    assert_eq!(held(&once).delay.encode(), held(&split).delay.encode());
    assert_eq!(held(&once).vol, held(&split).vol);
    assert!((to_f64(held(&once).twap) - to_f64(held(&split).twap)).abs() < 1e-9);
}

#[test]
fn one_refresh_moves_the_dampened_price_at_most_the_clamped_time() {
    let cfg = OracleConfig::default();
    let mut state = market(&["100", "100", "100"], T0);
    report_all(&mut state, &cfg, &["200", "200", "200"], T0 + SEC);
    // Five silent hours: only the first 10 minutes move the dampened price:
    // at most 100 * (1 + 0.0001 * 600) = 106.
    state.refresh(&cfg, T0 + SEC + 5 * HOUR).unwrap();
    let dampened = held(&state).dampening.price;
    assert!(
        dampened > fx("105.9") && dampened <= fx("106"),
        "{dampened}"
    );
    // The delay ring saw five hours of 200, clamped to 6 % a step.
    let ring = &held(&state).delay;
    assert_eq!(ring.newest, 5);
    let mut expected = fx("100");
    for _ in 0..5 {
        expected = math::delay_step(expected, fx("200"), cfg.delay_growth_limit).unwrap();
    }
    // The first interval averaged 100 for 1 s and 200 for the rest: clamped to 106 as well.
    assert_eq!(ring.newest_price().unwrap(), expected);
}

#[test]
fn delay_ring_records_clamped_interval_averages() {
    let cfg = OracleConfig::default();
    let mut state = market(&["100", "100", "100"], T0);
    // Half the hour at 100, half at 103: average 101.5, within 6 %.
    report_all(&mut state, &cfg, &["103", "103", "103"], T0 + 30 * MIN);
    state.refresh(&cfg, T0 + HOUR).unwrap();
    let ring = held(&state).delay;
    assert_eq!(ring.newest, 1);
    assert_eq!(ring.newest_price().unwrap(), fx("101.5"));
    assert_eq!(ring.oldest_price().unwrap(), fx("100"));
    assert_eq!(ring.updated_ms, T0 + HOUR);
    // A whole hour at 150 is clamped to 101.5 * 1.06 = 107.59.
    report_all(&mut state, &cfg, &["150", "150", "150"], T0 + HOUR);
    state.refresh(&cfg, T0 + 2 * HOUR).unwrap();
    let ring = held(&state).delay;
    let clamped = ring.newest_price().unwrap();
    assert_eq!(
        clamped,
        fx("101.5")
            .mul_rounded(fx("1.06"), Rounding::Floor)
            .unwrap()
    );

    // A gap of 20 intervals gives the same ring as refreshing every hour.
    let mut gap = state.clone();
    let mut hourly = state.clone();
    gap.refresh(&cfg, T0 + 22 * HOUR).unwrap();
    for hour in 3..=22 {
        hourly.refresh(&cfg, T0 + hour * HOUR).unwrap();
    }
    assert_eq!(held(&gap).delay, held(&hourly).delay);
    // A gap of 100 intervals walks the ring all the way to 150 (in closed form past the
    // 24 visible slots), as hourly refreshes do.
    let mut gap = state.clone();
    let mut hourly = state;
    gap.refresh(&cfg, T0 + 102 * HOUR).unwrap();
    for hour in 3..=102 {
        hourly.refresh(&cfg, T0 + hour * HOUR).unwrap();
    }
    assert_eq!(held(&gap).delay, held(&hourly).delay);
    assert!(held(&gap).delay.prices.iter().all(|p| *p == fx("150")));
}

#[test]
fn twap_averages_in_time() {
    let cfg = OracleConfig::default();
    let mut state = market(&["100", "100", "100"], T0);
    report_all(&mut state, &cfg, &["200", "200", "200"], T0 + 2 * MIN);
    // 200 held for one window (1 h): 200 - 100 / e.
    state.refresh(&cfg, T0 + 2 * MIN + HOUR).unwrap();
    let expected = 200.0 - 100.0 / std::f64::consts::E;
    assert!((to_f64(held(&state).twap) - expected).abs() < 1e-9);
    // The stale-but-held 200 keeps pulling: after five more windows the TWAP is within 0.3.
    state.refresh(&cfg, T0 + 2 * MIN + 6 * HOUR).unwrap();
    assert!(to_f64(held(&state).twap) > 199.7);
}

#[test]
fn volatility_fast_forwards_over_gaps() {
    let cfg = OracleConfig::default();
    let n_year = cfg.intervals_per_year as f64;
    let lambda = to_f64(cfg.ewma_lambda);
    let mut state = market(&["100", "100", "100"], T0);
    report_all(&mut state, &cfg, &["110", "110", "110"], T0 + HOUR);
    // The boundary at T0 + 1h sampled the 100 held during the first hour: a zero return.
    let vol = held(&state).vol;
    assert_eq!(vol.observations, 1);
    assert_eq!(vol.last_price, fx("100"));
    let var1 = lambda * 1.0;
    assert!((to_f64(vol.annualized_variance) - var1).abs() < 1e-12);

    // Silent for five hours: one update covering n = 5 intervals with the move spread evenly.
    state.refresh(&cfg, T0 + 6 * HOUR).unwrap();
    let vol = held(&state).vol;
    assert_eq!(vol.observations, 6);
    assert_eq!(vol.last_interval, (T0 + 6 * HOUR) / HOUR);
    let r2 = (1.1f64).ln().powi(2) * n_year;
    let decay = lambda.powi(5);
    let expected = decay * var1 + (1.0 - decay) * r2 / 5.0;
    assert!((to_f64(vol.annualized_variance) - expected).abs() < 1e-11);
    // ... which is what the pure function says, and not "four zeros then the jump".
    let direct = ewma_update(
        fx("0"),
        cfg.ewma_lambda,
        math::annualized_squared_log_return(fx("110"), fx("100"), 8760).unwrap(),
        5,
    )
    .unwrap();
    // From zero, four zero returns leave zero and the jump then adds (1 - lambda) r^2.
    let naive = (1.0 - lambda) * r2;
    assert!((to_f64(direct) - (1.0 - decay) * r2 / 5.0).abs() < 1e-11);
    assert!(to_f64(direct) < naive);
    let annualized = vol.annualized_vol().unwrap();
    assert!((to_f64(annualized) - expected.sqrt()).abs() < 1e-11);
    let hourly = vol.variance_per_interval(&cfg).unwrap();
    assert!((to_f64(hourly) - expected / n_year).abs() < 1e-14);
}

#[test]
fn same_block_reports_commute_even_for_a_new_market() {
    let cfg = OracleConfig::default();
    let reports = [("100", 0u8), ("250", 1), ("101", 2), ("99", 3), ("400", 4)];
    let apply = |order: &[usize], base: &FeedState, now: u64| {
        let mut state = base.clone();
        for &i in order {
            let (price, slot) = reports[i];
            state.submit(&cfg, slot, report(price, now), now).unwrap();
        }
        state.encode()
    };
    // First block of a market: the first aggregate is formed at the third report in either
    // order, from different reports.
    let empty = FeedState::default();
    let a = apply(&[0, 1, 2, 3, 4], &empty, T0);
    let b = apply(&[4, 3, 1, 2, 0], &empty, T0);
    assert_eq!(a, b);
    // A later block of an established market.
    let base = market(&["120", "120", "120"], T0);
    let a = apply(&[0, 1, 2, 3, 4], &base, T0 + 40 * SEC);
    let b = apply(&[1, 4, 0, 3, 2], &base, T0 + 40 * SEC);
    assert_eq!(a, b);
}

#[cfg(feature = "std")]
#[test]
fn dates_round_trip_and_format() {
    use crate::candles::{
        civil_from_days, days_from_civil, format_timestamp_ms, parse_timestamp_ms,
    };
    for (y, m, d) in [
        (1970, 1, 1),
        (2022, 11, 8),
        (2024, 2, 29),
        (2025, 5, 5),
        (2000, 3, 1),
    ] {
        let days = days_from_civil(y, m, d).unwrap();
        assert_eq!(civil_from_days(days), (y, m, d));
    }
    let ms = parse_timestamp_ms("2022-11-08 19:30:00").unwrap();
    assert_eq!(format_timestamp_ms(ms), "2022-11-08 19:30");
}
