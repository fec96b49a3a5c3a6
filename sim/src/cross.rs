//! Cross-margin contagion: the same population over several markets, cross-margined (under two
//! liquidation orders) and isolated, and what each costs in a crash.
//!
//! Measures, per market and in total: bad debt, liquidated notional, the **contagion share**
//! (the part of a market's liquidated notional taken from accounts whose loss since entry came
//! mostly from another market: counted by the run loop, see [`crate::run`]), the cross-market
//! amplification (a market's amplification with the other markets' forced flow moving their
//! prices, and with it off), the correlation of the markets' exogenous hourly returns in calm
//! and stressed hours, and the clearing houses' yardstick per market.

use crate::run::{
    Feedback, LiquidationOrder, MarginMode, MarketHour, MarketResult, Metrics, RunResult,
};
use crate::yardstick::{percentile, Judgement};

/// One way of margining and liquidating the population.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Name in the tables.
    pub name: &'static str,
    /// Cross or isolated.
    pub margin: MarginMode,
    /// Which position the liquidator takes over first.
    pub order: LiquidationOrder,
    /// Whose forced flow moves its price.
    pub feedback: Feedback,
}

/// What the contagion report runs for each protocol: cross margin under both orders,
/// isolated, and cross with one market's feedback off at a time (for the amplification).
pub fn variants(markets: usize) -> Vec<Variant> {
    let cross = |name, order| Variant {
        name,
        margin: MarginMode::Cross,
        order,
        feedback: Feedback::EveryMarket,
    };
    let mut out = vec![
        cross(
            "cross, worst market first",
            LiquidationOrder::WorstMarketFirst,
        ),
        cross(
            "cross, most liquid first",
            LiquidationOrder::MostLiquidFirst,
        ),
        Variant {
            name: "isolated",
            margin: MarginMode::Isolated,
            order: LiquidationOrder::WorstMarketFirst,
            feedback: Feedback::EveryMarket,
        },
    ];
    for k in 0..markets {
        out.push(Variant {
            name: "feedback off",
            feedback: Feedback::AllBut(k),
            ..out[0]
        });
    }
    out
}

/// Per-market figures averaged over seeds (the hours are the first seed's).
pub fn mean_markets(runs: &[&RunResult]) -> Vec<MarketResult> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let n = runs.len() as f64;
    (0..first.markets.len())
        .map(|k| {
            let each = || runs.iter().map(move |r| &r.markets[k]);
            let avg = |get: &dyn Fn(&MarketResult) -> f64| each().map(get).sum::<f64>() / n;
            let count = |get: &dyn Fn(&MarketResult) -> u64| {
                (each().map(|m| get(m) as f64).sum::<f64>() / n).round() as u64
            };
            MarketResult {
                name: first.markets[k].name.clone(),
                liquidated_notional: avg(&|m| m.liquidated_notional),
                liquidations: count(&|m| m.liquidations),
                contagion_notional: avg(&|m| m.contagion_notional),
                contagion_liquidations: count(&|m| m.contagion_liquidations),
                bad_debt: avg(&|m| m.bad_debt),
                bankruptcies: count(&|m| m.bankruptcies),
                breaker_trips: count(&|m| m.breaker_trips),
                amplification: avg(&|m| m.amplification),
                max_drawdown: avg(&|m| m.max_drawdown),
                exogenous_max_drawdown: avg(&|m| m.exogenous_max_drawdown),
                yardstick: Judgement::mean(&each().map(|m| m.yardstick).collect::<Vec<_>>()),
                hours: first.markets[k].hours.clone(),
            }
        })
        .collect()
}

/// Share of a market's liquidated notional that was contagion (0 without liquidations).
pub fn contagion_share(m: &MarketResult) -> f64 {
    if m.liquidated_notional > 0.0 {
        m.contagion_notional / m.liquidated_notional
    } else {
        0.0
    }
}

/// Pearson correlation of two markets' exogenous hourly log returns over every hour, the calm
/// hours (the first market's exogenous EWMA volatility at the start of the hour below its
/// median) and the stressed ones (in its top decile): the yardstick's ranking of hours. Hours
/// in which either market's file has no candle are left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correlation {
    /// Every hour.
    pub all: f64,
    /// Calm hours.
    pub calm: f64,
    /// Stressed hours.
    pub stressed: f64,
}

/// See [`Correlation`]; `a` and `b` are the two markets' hours (the same hours, in order).
pub fn correlation(a: &[MarketHour], b: &[MarketHour]) -> Correlation {
    let returns: Vec<(f64, f64, f64)> = a
        .windows(2)
        .zip(b.windows(2))
        // Both markets priced at both ends of the hour (a carried price is no return); the
        // hour is ranked by the volatility known at its start.
        .filter(|(x, y)| x.iter().chain(y.iter()).all(|h| h.live))
        .map(|(x, y)| {
            (
                (x[1].exogenous / x[0].exogenous).ln(),
                (y[1].exogenous / y[0].exogenous).ln(),
                x[0].exogenous_vol,
            )
        })
        .filter(|(x, y, _)| x.is_finite() && y.is_finite())
        .collect();
    let mut vols: Vec<f64> = returns.iter().map(|r| r.2).collect();
    let median = percentile(&mut vols, 0.5);
    let top_decile = percentile(&mut vols, 0.9);
    let pearson = |keep: &dyn Fn(f64) -> bool| {
        let pairs: Vec<(f64, f64)> = returns
            .iter()
            .filter(|r| keep(r.2))
            .map(|r| (r.0, r.1))
            .collect();
        pearson(&pairs)
    };
    Correlation {
        all: pearson(&|_| true),
        calm: pearson(&|v| v < median),
        stressed: pearson(&|v| v >= top_decile),
    }
}

/// Pearson's correlation of `pairs` (NaN with fewer than two or without variance).
pub fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

/// One row of the report: a protocol under a variant, its per-market figures averaged over
/// seeds, its account totals.
pub struct Row<'a> {
    /// Protocol name.
    pub protocol: &'a str,
    /// The variant.
    pub variant: Variant,
    /// Per market.
    pub markets: Vec<MarketResult>,
    /// Account totals (mean over seeds).
    pub totals: Metrics,
}

fn amount(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else {
        format!("{x:.0}")
    }
}

/// The contagion table (rows with every market's feedback on) and the amplification table.
pub fn markdown(rows: &[Row<'_>], correlation: Option<Correlation>) -> String {
    let mut out = String::new();
    let names: Vec<&str> = rows
        .first()
        .map(|r| r.markets.iter().map(|m| m.name.as_str()).collect())
        .unwrap_or_default();
    out.push_str("| protocol | margin, order |");
    for name in &names {
        out.push_str(&format!(
            " {name} liquidated | {name} contagion share | {name} bad debt |"
        ));
    }
    out.push_str(
        " total liquidated | total bad debt | conserved | unresolved deficits |\n| --- | --- |",
    );
    for _ in &names {
        out.push_str(" ---: | ---: | ---: |");
    }
    out.push_str(" ---: | ---: | --- | ---: |\n");
    for r in rows
        .iter()
        .filter(|r| r.variant.feedback == Feedback::EveryMarket)
    {
        out.push_str(&format!("| {} | {} |", r.protocol, r.variant.name));
        for m in &r.markets {
            out.push_str(&format!(
                " {} | {:.1}% | {} |",
                amount(m.liquidated_notional),
                contagion_share(m) * 100.0,
                amount(m.bad_debt)
            ));
        }
        out.push_str(&format!(
            " {} | {} | {} | {} |\n",
            amount(r.totals.liquidated_notional),
            amount(r.totals.bad_debt),
            r.totals.conserved,
            r.totals.unresolved_deficits
        ));
    }
    out.push_str("\nAmplification (realized vol of the simulated over the exogenous path), cross margin, worst market first: with every market's forced flow moving its price and thinning its book, and with the other market's off (its price then follows the exogenous path).\n\n| protocol | market | amplification | with the other's feedback off |\n| --- | --- | ---: | ---: |\n");
    let protocols: Vec<&str> = {
        let mut p: Vec<&str> = rows.iter().map(|r| r.protocol).collect();
        p.dedup();
        p
    };
    for protocol in protocols {
        let find = |feedback: Feedback| {
            rows.iter().find(|r| {
                r.protocol == protocol
                    && r.variant.feedback == feedback
                    && r.variant.margin == MarginMode::Cross
                    && r.variant.order == LiquidationOrder::WorstMarketFirst
            })
        };
        let Some(all) = find(Feedback::EveryMarket) else {
            continue;
        };
        for (k, m) in all.markets.iter().enumerate() {
            let others: Vec<String> = (0..all.markets.len())
                .filter(|&j| j != k)
                .filter_map(|j| find(Feedback::AllBut(j)))
                .map(|r| format!("{:.3}", r.markets[k].amplification))
                .collect();
            out.push_str(&format!(
                "| {protocol} | {} | {:.3} | {} |\n",
                m.name,
                m.amplification,
                others.join(", ")
            ));
        }
    }
    out.push_str("\nClearing-house yardstick per market (cross margin, worst market first; IM of a new 10,000 USD position):\n\n| protocol | market | breaches exo L/S | zone | P2T* | 1 d | 30 d | median lev | liquidations (contagion) | breaker trips |\n| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for r in rows.iter().filter(|r| {
        r.variant.feedback == Feedback::EveryMarket
            && r.variant.margin == MarginMode::Cross
            && r.variant.order == LiquidationOrder::WorstMarketFirst
    }) {
        for m in &r.markets {
            let j = &m.yardstick;
            out.push_str(&format!(
                "| {} | {} | {:.0} / {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.1}x | {} ({}) | {} |\n",
                r.protocol,
                m.name,
                j.exogenous_long_breaches,
                j.exogenous_short_breaches,
                j.worst_zone().name(),
                j.peak_to_trough,
                j.largest_day_rise,
                j.largest_month_rise,
                j.median_leverage,
                m.liquidations,
                m.contagion_liquidations,
                m.breaker_trips
            ));
        }
    }
    if let Some(c) = correlation {
        out.push_str(&format!(
            "\nCorrelation of the exogenous hourly returns: {:.2} over every hour, {:.2} in calm hours (first market's EWMA vol below its median), {:.2} in stressed hours (its top decile).\n",
            c.all, c.calm, c.stressed
        ));
    }
    out
}

/// The report as one JSON line.
pub fn json(rows: &[Row<'_>], correlation: Option<Correlation>) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let markets: Vec<serde_json::Value> = r
                .markets
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "market": m.name,
                        "liquidated_notional": m.liquidated_notional,
                        "liquidations": m.liquidations,
                        "contagion_notional": m.contagion_notional,
                        "contagion_liquidations": m.contagion_liquidations,
                        "contagion_share": contagion_share(m),
                        "bad_debt": m.bad_debt,
                        "bankruptcies": m.bankruptcies,
                        "breaker_trips": m.breaker_trips,
                        "amplification": m.amplification,
                        "max_drawdown": m.max_drawdown,
                        "exogenous_max_drawdown": m.exogenous_max_drawdown,
                        "peak_to_trough": m.yardstick.peak_to_trough,
                        "largest_day_rise": m.yardstick.largest_day_rise,
                        "largest_month_rise": m.yardstick.largest_month_rise,
                        "median_leverage": m.yardstick.median_leverage,
                        "exogenous_long_breaches": m.yardstick.exogenous_long_breaches,
                        "exogenous_short_breaches": m.yardstick.exogenous_short_breaches,
                        "zone": m.yardstick.worst_zone().name(),
                    })
                })
                .collect();
            serde_json::json!({
                "protocol": r.protocol,
                "variant": r.variant.name,
                "margin": format!("{:?}", r.variant.margin),
                "order": format!("{:?}", r.variant.order),
                "feedback": format!("{:?}", r.variant.feedback),
                "markets": markets,
                "bad_debt": r.totals.bad_debt,
                "liquidated_notional": r.totals.liquidated_notional,
                "bankruptcies": r.totals.bankruptcies,
                "conserved": r.totals.conserved,
                "unresolved_deficits": r.totals.unresolved_deficits,
            })
        })
        .collect();
    let finite = |x: f64| if x.is_finite() { Some(x) } else { None };
    serde_json::json!({
        "runs": rows,
        "correlation": correlation.map(|c| serde_json::json!({
            "all": finite(c.all), "calm": finite(c.calm), "stressed": finite(c.stressed)
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(at: u64, price: f64, vol: f64) -> MarketHour {
        MarketHour {
            at_ms: at,
            exogenous: price,
            simulated: price,
            exogenous_vol: vol,
            live: true,
            own_liquidated: 0.0,
            contagion_liquidated: 0.0,
        }
    }

    #[test]
    fn pearson_on_hand_made_pairs() {
        assert!((pearson(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]) - 1.0).abs() < 1e-12);
        assert!((pearson(&[(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]) + 1.0).abs() < 1e-12);
        assert!(pearson(&[(1.0, 1.0)]).is_nan());
    }

    #[test]
    fn correlation_splits_calm_from_stressed_hours() {
        // Calm hours: the markets move together; stressed hours (a seventh, more than the top
        // decile): against. An hour is ranked by the volatility known at its start, the one
        // recorded with the hour before.
        let stressed = |k: u64| k % 7 == 0;
        let vol = |k: u64| {
            if stressed(k) {
                1.0
            } else {
                0.1 + k as f64 * 1e-4
            }
        };
        let mut a = vec![hour(0, 100.0, vol(1))];
        let mut b = vec![hour(0, 100.0, vol(1))];
        let mut price = (100.0f64, 100.0f64);
        for k in 1..200u64 {
            let size: f64 = if k % 5 == 0 { 2.0 } else { 1.0 };
            let r: f64 = size * if k % 3 == 0 { 0.01 } else { -0.005 };
            let other: f64 = if stressed(k) { -r } else { r };
            price.0 *= r.exp();
            price.1 *= other.exp();
            a.push(hour(k, price.0, vol(k + 1)));
            b.push(hour(k, price.1, vol(k + 1)));
        }
        // A carried price (no candle) is left out: it would be a zero return.
        b[50].live = false;
        let c = correlation(&a, &b);
        assert!((c.calm - 1.0).abs() < 1e-9, "{c:?}");
        assert!((c.stressed + 1.0).abs() < 1e-9, "{c:?}");
        assert!(c.all > -1.0 && c.all < 1.0, "{c:?}");
    }

    #[test]
    fn the_variants_cover_both_orders_isolation_and_each_feedback() {
        let v = variants(2);
        assert_eq!(v.len(), 5);
        assert!(v
            .iter()
            .any(|v| v.order == LiquidationOrder::MostLiquidFirst));
        assert!(v.iter().any(|v| v.margin == MarginMode::Isolated));
        assert!(v.contains(&Variant {
            name: "feedback off",
            margin: MarginMode::Cross,
            order: LiquidationOrder::WorstMarketFirst,
            feedback: Feedback::AllBut(1),
        }));
    }
}
