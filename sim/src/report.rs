//! The Markdown summary and the JSON line.

use std::fmt::Write;

use crate::run::{Metrics, RunResult};
use crate::yardstick::Judgement;

/// The keys of the JSON object per protocol, in order, with their values.
fn fields(m: &Metrics) -> Vec<(String, f64)> {
    let mut fields = vec![
        ("bad_debt", m.bad_debt),
        ("liquidated_notional", m.liquidated_notional),
        ("liquidations", m.liquidations as f64),
        ("insurance_drawdown", m.insurance_drawdown),
        ("max_drawdown", m.max_drawdown),
        ("amplification", m.amplification),
        ("calm_leverage", m.calm_leverage),
        ("stress_leverage", m.stress_leverage),
        ("exogenous_max_drawdown", m.exogenous_max_drawdown),
        ("socialized", m.socialized),
        ("insurance_paid", m.insurance_paid),
        ("bankruptcies", m.bankruptcies as f64),
        ("failed_closes", m.failed_closes as f64),
        ("liquidation_calls", m.liquidation_calls as f64),
        ("stop_outs", m.stop_outs as f64),
        ("opens", m.opens as f64),
        ("mean_open_leverage", m.mean_open_leverage),
        ("blocked_opens", m.blocked_opens as f64),
        ("breaker_trips", m.breaker_trips as f64),
        ("throttled", m.throttled as f64),
        ("open_interest", m.open_interest),
        ("liquidity_charge", m.liquidity_charge),
        ("impact_capped", m.impact_capped as f64),
        ("oi_growth_capped", m.oi_growth_capped as f64),
        ("bankrupt_liquidations", m.bankrupt_liquidations as f64),
        ("gap_coverage", gap_coverage(m)),
        ("bad_debt_p95", m.bad_debt_p95),
        ("liquidated_notional_p95", m.liquidated_notional_p95),
        ("capacity_deferred", m.capacity_deferred as f64),
        ("peak_calls_per_tick", m.peak_calls_per_tick as f64),
        ("min_depth_fraction", m.min_depth_fraction),
    ];
    fields.extend(judgement_fields(&m.yardstick));
    // The option writers' figures, only in runs with writers.
    if m.writers > 0 {
        fields.extend([
            ("writers", m.writers as f64),
            ("options_bad_debt", m.options_bad_debt),
            ("writer_bankruptcies", m.writer_bankruptcies as f64),
            ("writer_pnl", m.writer_pnl),
            ("premiums", m.premiums),
            ("option_payouts", m.option_payouts),
            ("options_sales", m.options_sales as f64),
            ("gamma_sold", m.gamma_sold.round()),
            ("derisk_buybacks", m.derisk_buybacks as f64),
            ("forced_option_closes", m.forced_option_closes as f64),
            ("distrusted_reports", m.distrusted_reports as f64),
            ("refused_hedges", m.refused_hedges as f64),
            (
                "peak_short_gamma_over_equity",
                m.peak_short_gamma_over_equity,
            ),
        ]);
    }
    let mut fields: Vec<(String, f64)> = fields
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
    if m.writers > 0 {
        // Refused sales ("growth") and refused hourly reports of an untraded book, by reason.
        for (prefix, refusals) in [
            ("refused_growth", m.refused_sales),
            ("refused_refresh", m.refused_refreshes),
        ] {
            for (reason, count) in refusals.named() {
                fields.push((format!("{prefix}_{reason}"), count as f64));
            }
        }
    }
    fields
}

/// Liquidations that ended in bankruptcy over positions liquidated.
pub fn gap_coverage(m: &Metrics) -> f64 {
    if m.liquidations == 0 {
        0.0
    } else {
        m.bankrupt_liquidations as f64 / m.liquidations as f64
    }
}

/// The yardstick's figures as JSON keys (zones and p-values follow from the counts).
fn judgement_fields(j: &Judgement) -> Vec<(&'static str, f64)> {
    vec![
        ("backtest_windows", j.windows),
        ("breaches_exogenous_long", j.exogenous_long_breaches),
        ("breaches_exogenous_short", j.exogenous_short_breaches),
        ("breaches_simulated_long", j.simulated_long_breaches),
        ("breaches_simulated_short", j.simulated_short_breaches),
        ("worst_loss_to_margin", j.worst_loss_to_margin),
        ("peak_to_trough", j.peak_to_trough),
        ("largest_day_rise", j.largest_day_rise),
        ("largest_month_rise", j.largest_month_rise),
        ("closed_hours", j.closed_hours),
        ("median_leverage", j.median_leverage),
        ("mean_initial_fraction", j.mean_initial),
        ("cap_liquidation_calm", j.cap_liquidation_calm),
        ("cap_liquidation_stressed", j.cap_liquidation_stressed),
        ("closed_stressed_hours", j.closed_stressed_hours),
    ]
}

/// The zones and Kupiec p-values of a judgement's four counts, as JSON members.
fn zone_members(j: &Judgement) -> String {
    let mut out = String::new();
    for (name, breaches) in [
        ("exogenous_long", j.exogenous_long_breaches),
        ("exogenous_short", j.exogenous_short_breaches),
        ("simulated_long", j.simulated_long_breaches),
        ("simulated_short", j.simulated_short_breaches),
    ] {
        if breaches.is_finite() {
            let _ = write!(
                out,
                ",\"zone_{name}\":\"{}\",\"kupiec_p_{name}\":{}",
                j.zone(breaches).name(),
                number(j.kupiec_p(breaches))
            );
        }
    }
    out
}

fn number(x: f64) -> String {
    if x.is_finite() {
        let s = format!("{x:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() || s == "-" {
            "0".into()
        } else {
            s.into()
        }
    } else {
        "null".into()
    }
}

/// One JSON object: `{"baseline": {...}, "ballast": {...}, ..., "ccp_ewma_t4": {...}, ...}`
/// (the comparators carry the yardstick's figures only).
pub fn json(results: &[RunResult], comparators: &[(&str, Judgement)]) -> String {
    let mut out = String::from("{");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\":{{", r.protocol.name());
        for (j, (key, value)) in fields(&r.metrics).into_iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "\"{key}\":{}", number(value));
        }
        out.push_str(&zone_members(&r.metrics.yardstick));
        let _ = write!(out, ",\"conserved\":{}}}", r.metrics.conserved);
    }
    for (name, j) in comparators {
        let _ = write!(out, ",\"{name}\":{{\"path\":\"exogenous\"");
        for (key, value) in judgement_fields(j) {
            let _ = write!(out, ",\"{key}\":{}", number(value));
        }
        out.push_str(&zone_members(j));
        out.push('}');
    }
    out.push('}');
    out
}

/// The clearing houses' table: one row per protocol run and per comparator (judged on the
/// exogenous path only, no liquidation figures).
pub fn yardstick_markdown(results: &[RunResult], comparators: &[(&str, Judgement)]) -> String {
    let mut out = String::from(
        "| model | windows | breaches exo L/S | sim L/S | worst zone | Kupiec p (min) | worst loss/IM | gap coverage | P2T* | 1 d | 30 d | closed h (stressed) | median lev | mean IM vs baseline | cap liq 8 h stressed/calm | bad debt p95 | liquidated p95 |\n| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let baseline = results
        .iter()
        .find(|r| r.protocol == crate::protocol::Protocol::Baseline)
        .map(|r| r.metrics.yardstick.mean_initial);
    let rows = results
        .iter()
        .map(|r| (r.protocol.name(), r.metrics.yardstick, Some(&r.metrics)))
        .chain(comparators.iter().map(|(n, j)| (*n, *j, None)));
    for (name, j, run) in rows {
        let kupiec = [
            j.exogenous_long_breaches,
            j.exogenous_short_breaches,
            j.simulated_long_breaches,
            j.simulated_short_breaches,
        ]
        .into_iter()
        .filter(|b| b.is_finite())
        .map(|b| j.kupiec_p(b))
        .fold(1.0f64, f64::min);
        let sim = if j.simulated_long_breaches.is_finite() {
            format!(
                "{:.1} / {:.1}",
                j.simulated_long_breaches, j.simulated_short_breaches
            )
        } else {
            "exogenous only".into()
        };
        let relative = baseline.map_or("n/a".into(), |b| format!("{:.3}", j.mean_initial / b));
        let (gap, debt, lar) = match run {
            Some(m) => (
                format!("{:.2}%", gap_coverage(m) * 100.0),
                format!("{:.0}", m.bad_debt_p95),
                format!("{:.1}M", m.liquidated_notional_p95 / 1e6),
            ),
            None => ("".into(), "".into(), "".into()),
        };
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.1} / {:.1} | {sim} | {} | {kupiec:.3} | {:.2} | {gap} | {:.2} | {:.2} | {:.2} | {:.0} ({:.0}) | {:.1}x | {relative} | {:.3} / {:.3} | {debt} | {lar} |",
            j.windows,
            j.exogenous_long_breaches,
            j.exogenous_short_breaches,
            j.worst_zone().name(),
            j.worst_loss_to_margin,
            j.peak_to_trough,
            j.largest_day_rise,
            j.largest_month_rise,
            j.closed_hours,
            j.closed_stressed_hours,
            j.median_leverage,
            j.cap_liquidation_stressed,
            j.cap_liquidation_calm,
        );
    }
    out
}

fn change(base: f64, value: f64) -> String {
    if base.abs() < 1e-9 {
        if value.abs() < 1e-9 {
            "0%".into()
        } else {
            "n/a".into()
        }
    } else {
        format!("{:+.1}%", (value / base - 1.0) * 100.0)
    }
}

/// Markdown table: one column per protocol, plus the change of Ballast against the baseline.
pub fn markdown(results: &[RunResult]) -> String {
    let mut out = String::new();
    let _ = write!(out, "| metric |");
    for r in results {
        let _ = write!(out, " {} |", r.protocol.name());
    }
    let compare = results.len() >= 2;
    if compare {
        let _ = write!(
            out,
            " {} vs {} |",
            results[1].protocol.name(),
            results[0].protocol.name()
        );
    }
    out.push('\n');
    out.push_str("| --- |");
    for _ in results {
        out.push_str(" ---: |");
    }
    if compare {
        out.push_str(" ---: |");
    }
    out.push('\n');
    let rows: Vec<Vec<(String, f64)>> = results.iter().map(|r| fields(&r.metrics)).collect();
    for (k, (key, _)) in rows[0].iter().enumerate() {
        let _ = write!(out, "| {key} |");
        for row in &rows {
            let v = row[k].1;
            let cell = if v.abs() >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.4}")
            };
            let _ = write!(out, " {cell} |");
        }
        if compare {
            let _ = write!(out, " {} |", change(rows[0][k].1, rows[1][k].1));
        }
        out.push('\n');
    }
    let _ = write!(out, "| conserved |");
    for r in results {
        let _ = write!(out, " {} |", r.metrics.conserved);
    }
    if compare {
        out.push_str(" |");
    }
    out.push('\n');
    out
}

/// Hourly samples of every run as CSV.
pub fn samples_csv(results: &[RunResult]) -> String {
    let mut out = String::from(
        "protocol,timestamp,exogenous,simulated,leverage,breaker,liquidated,bad_debt,insurance,forecast_vol\n",
    );
    for r in results {
        for s in &r.samples {
            let _ = writeln!(
                out,
                "{},{},{:.2},{:.2},{:.4},{},{:.2},{:.2},{:.2},{:.4}",
                r.protocol.name(),
                ballast_oracle::candles::format_timestamp_ms(s.at_ms),
                s.exogenous,
                s.simulated,
                s.leverage,
                s.breaker,
                s.liquidated,
                s.bad_debt,
                s.insurance,
                s.forecast_vol
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_json() {
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(-0.25), "-0.25");
        assert_eq!(number(f64::NAN), "null");
        assert_eq!(change(100.0, 10.0), "-90.0%");
        assert_eq!(change(0.0, 0.0), "0%");
    }
}
