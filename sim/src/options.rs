//! Options for the option-writer population: Black-Scholes (zero rates, f64) for the short
//! at-the-money straddles the writers sell, and the report an options venue sends the risk core
//! for a writer's book (`ballast_risk::OptionsReport`).
//!
//! Writer model (the numbers are [`WriterParams::default`]):
//! - each writer sells a 7-day at-the-money straddle every 42 hours while it has fewer than 4
//!   live ones (one expiry bucket per straddle); a refused sale is retried every hour;
//! - sizing: the new straddle's short cash gamma is such that a 10% move would cost 10% of the
//!   writer's equity (`gamma * 0.1^2 / 2 = 0.1 * equity`, gamma = 20x equity). Gamma grows
//!   toward expiry (as `1 / sqrt(time left)`), so four staggered straddles make about 110x
//!   equity: a 10% move then costs about half the equity. Aggressive on purpose;
//! - implied vol = the oracle's forecast vol x 1.15 (a 15% volatility risk premium, about 32%
//!   in variance), one vol for every expiry;
//! - the venue's own margin (what it reports next to the Greeks): the book's Black-Scholes
//!   loss in a 5% move (initial) and a 3% move (maintenance), vol unchanged. A lenient venue,
//!   so that the risk core's requirement is what binds.

use std::f64::consts::PI;

use ballast_risk::{ExpiryGreeks, MarketId, OptionsReport};

use crate::run::usd;
use crate::units::from_f64 as fx;

/// Milliseconds per year (365 days, as the oracle annualizes 8,760 hours).
pub const YEAR_MS: f64 = 365.0 * 86_400_000.0;
/// Milliseconds per hour.
pub const HOUR: u64 = 3_600_000;

/// The writers' behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterParams {
    /// Time to expiry of a new straddle, hours.
    pub tenor_hours: u64,
    /// Most live straddles (expiry buckets) per writer.
    pub max_straddles: usize,
    /// Hours between sales.
    pub sale_every_hours: u64,
    /// Relative move used to size a sale ...
    pub sizing_move: f64,
    /// ... and the share of equity the new straddle's gamma may lose in it.
    pub sizing_loss: f64,
    /// Implied vol = forecast vol x (1 + this).
    pub vol_premium: f64,
    /// Price move of the venue's own initial margin.
    pub venue_initial_move: f64,
    /// Price move of the venue's own maintenance margin.
    pub venue_maintenance_move: f64,
    /// Smallest hedge trade, quote whole units.
    pub min_hedge_notional: f64,
    /// Hours a writer waits after the venue closed its book.
    pub cooldown_hours: u64,
}

impl Default for WriterParams {
    fn default() -> Self {
        WriterParams {
            tenor_hours: 7 * 24,
            max_straddles: 4,
            sale_every_hours: 42,
            sizing_move: 0.10,
            sizing_loss: 0.10,
            vol_premium: 0.15,
            venue_initial_move: 0.05,
            venue_maintenance_move: 0.03,
            min_hedge_notional: 100.0,
            cooldown_hours: 24,
        }
    }
}

/// Standard normal density.
pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Standard normal distribution function from its series around 0,
/// `1/2 + pdf(x) (x + x^3/3 + x^5/(3*5) + ...)`: every term has the sign of x and it converges
/// for every x; the absolute error is below 1e-15 (clamped to 0 or 1 beyond 10).
pub fn norm_cdf(x: f64) -> f64 {
    if x <= -10.0 {
        return 0.0;
    }
    if x >= 10.0 {
        return 1.0;
    }
    let (mut term, mut sum, mut n) = (x, x, 1.0);
    while term.abs() > 1e-17 * sum.abs() {
        n += 2.0;
        term *= x * x / n;
        sum += term;
    }
    (0.5 + norm_pdf(x) * sum).clamp(0.0, 1.0)
}

/// Value and Greeks of one long straddle (a call and a put), per base whole unit of size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Greeks {
    /// Value, quote whole units.
    pub value: f64,
    /// Delta, base whole units.
    pub delta: f64,
    /// Cash gamma: a relative move `r` earns `cash_gamma * r^2 / 2`, quote whole units.
    pub cash_gamma: f64,
    /// Vega per 1.0 of implied vol, quote whole units.
    pub vega: f64,
}

/// Black-Scholes with zero rates for a straddle struck at `strike`, `years` to expiry.
pub fn straddle_greeks(spot: f64, strike: f64, vol: f64, years: f64) -> Greeks {
    if years <= 0.0 || vol <= 0.0 {
        return Greeks {
            value: (spot - strike).abs(),
            delta: if spot >= strike { 1.0 } else { -1.0 },
            cash_gamma: 0.0,
            vega: 0.0,
        };
    }
    let s = vol * years.sqrt();
    let d1 = ((spot / strike).ln() + s * s / 2.0) / s;
    let d2 = d1 - s;
    let call = spot * norm_cdf(d1) - strike * norm_cdf(d2);
    // Put-call parity at zero rates: put = call - spot + strike.
    let put = call - spot + strike;
    Greeks {
        value: call + put,
        delta: 2.0 * norm_cdf(d1) - 1.0,
        cash_gamma: 2.0 * spot * norm_pdf(d1) / s,
        vega: 2.0 * spot * norm_pdf(d1) * years.sqrt(),
    }
}

/// A straddle a writer is short.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Straddle {
    /// Strike, quote per base whole unit.
    pub strike: f64,
    /// Size of each leg, base whole units.
    pub size: f64,
    /// Expiry, ms.
    pub expiry_ms: u64,
}

impl Straddle {
    /// Greeks of the long side of the whole straddle (the writer holds minus these).
    pub fn greeks(&self, spot: f64, vol: f64, now_ms: u64) -> Greeks {
        let years = self.expiry_ms.saturating_sub(now_ms) as f64 / YEAR_MS;
        let g = straddle_greeks(spot, self.strike, vol, years);
        Greeks {
            value: g.value * self.size,
            delta: g.delta * self.size,
            cash_gamma: g.cash_gamma * self.size,
            vega: g.vega * self.size,
        }
    }

    /// What the buyer receives at expiry.
    pub fn payoff(&self, spot: f64) -> f64 {
        (spot - self.strike).abs() * self.size
    }

    /// A new at-the-money straddle whose cash gamma is `cash_gamma`.
    pub fn at_the_money(
        spot: f64,
        vol: f64,
        now_ms: u64,
        expiry_ms: u64,
        cash_gamma: f64,
    ) -> Straddle {
        let unit = Straddle {
            strike: spot,
            size: 1.0,
            expiry_ms,
        };
        let per_unit = unit.greeks(spot, vol, now_ms).cash_gamma;
        Straddle {
            size: if per_unit > 0.0 {
                cash_gamma / per_unit
            } else {
                0.0
            },
            ..unit
        }
    }
}

/// Value of the long side of a book.
pub fn book_value(book: &[Straddle], spot: f64, vol: f64, now_ms: u64) -> f64 {
    book.iter().map(|s| s.greeks(spot, vol, now_ms).value).sum()
}

/// Delta of the long side of a book, base whole units.
pub fn book_delta(book: &[Straddle], spot: f64, vol: f64, now_ms: u64) -> f64 {
    book.iter().map(|s| s.greeks(spot, vol, now_ms).delta).sum()
}

/// Cash gamma of the long side of a book (the writer is short this much).
pub fn book_gamma(book: &[Straddle], spot: f64, vol: f64, now_ms: u64) -> f64 {
    book.iter()
        .map(|s| s.greeks(spot, vol, now_ms).cash_gamma)
        .sum()
}

/// What the short book loses in the worse of a `move_` up or down, vol unchanged.
fn loss_in_move(book: &[Straddle], spot: f64, vol: f64, now_ms: u64, move_: f64) -> f64 {
    let now = book_value(book, spot, vol, now_ms);
    [1.0 + move_, 1.0 - move_]
        .into_iter()
        .map(|m| book_value(book, spot * m, vol, now_ms) - now)
        .fold(0.0, f64::max)
}

/// The options venue's report of a writer's short book (expiries strictly increasing):
/// Greeks per straddle, the venue's own margins, mark value = minus the book's value, and
/// `pnl` (quote whole units), the P&L of the previously reported book since that report.
#[allow(clippy::too_many_arguments)]
pub fn short_book_report(
    market: MarketId,
    book: &[Straddle],
    spot: f64,
    vol: f64,
    now_ms: u64,
    pnl: f64,
    params: &WriterParams,
    trade: bool,
) -> OptionsReport {
    let buckets = book
        .iter()
        .map(|s| {
            let g = s.greeks(spot, vol, now_ms);
            ExpiryGreeks {
                expiry_ms: s.expiry_ms,
                delta: (-g.delta * 1e8).round() as i128,
                gamma: usd(-g.cash_gamma),
                vega: usd(-g.vega),
                implied_vol: fx(vol),
            }
        })
        .collect();
    let initial = loss_in_move(book, spot, vol, now_ms, params.venue_initial_move);
    let maintenance = loss_in_move(book, spot, vol, now_ms, params.venue_maintenance_move);
    OptionsReport {
        market,
        buckets,
        venue_initial: usd(initial),
        venue_maintenance: usd(maintenance.min(initial)),
        mark_value: usd(-book_value(book, spot, vol, now_ms)),
        pnl: usd(pnl),
        timestamp_ms: now_ms,
        trade,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_distribution_matches_known_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((norm_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-14);
        assert!((norm_cdf(-1.959_963_984_540_054) - 0.025).abs() < 1e-14);
        assert!((norm_cdf(3.0) + norm_cdf(-3.0) - 1.0).abs() < 1e-15);
        // Far in the tails: absolute error below 1e-15 (enough for prices).
        assert!((0.0..1e-15).contains(&norm_cdf(-9.0)));
        assert!(norm_cdf(8.0) <= 1.0 && norm_cdf(8.0) > 1.0 - 1e-15);
    }

    #[test]
    fn straddle_greeks_match_finite_differences() {
        let (spot, strike, vol, years) = (20_000.0, 20_500.0, 0.7, 7.0 / 365.0);
        let g = straddle_greeks(spot, strike, vol, years);
        let v = |s: f64, sigma: f64| straddle_greeks(s, strike, sigma, years).value;
        let h = 1.0;
        let delta = (v(spot + h, vol) - v(spot - h, vol)) / (2.0 * h);
        let gamma = (v(spot + h, vol) - 2.0 * g.value + v(spot - h, vol)) / (h * h);
        let vega = (v(spot, vol + 1e-5) - v(spot, vol - 1e-5)) / 2e-5;
        assert!((g.delta - delta).abs() < 1e-6, "{} {delta}", g.delta);
        assert!((g.cash_gamma / (spot * spot) / gamma - 1.0).abs() < 1e-4);
        assert!((g.vega / vega - 1.0).abs() < 1e-6);
        // At the money: about 0.8 sigma sqrt(T) of the spot.
        let atm = straddle_greeks(spot, spot, vol, years);
        assert!((atm.value / (0.8 * spot * vol * years.sqrt()) - 1.0).abs() < 0.01);
        // At expiry: intrinsic value.
        assert_eq!(straddle_greeks(spot, strike, vol, 0.0).value, 500.0);
    }

    #[test]
    fn a_sale_has_the_requested_gamma_and_the_report_is_short() {
        let p = WriterParams::default();
        let s = Straddle::at_the_money(20_000.0, 0.7, 0, 7 * 24 * HOUR, 50_000.0);
        let g = s.greeks(20_000.0, 0.7, 0);
        assert!((g.cash_gamma - 50_000.0).abs() < 1e-6);
        let r = short_book_report(1, &[s], 20_000.0, 0.7, 0, 0.0, &p, true);
        assert_eq!(r.buckets.len(), 1);
        assert!(r.buckets[0].gamma < 0 && r.buckets[0].vega < 0);
        assert_eq!(r.mark_value, usd(-g.value));
        // The venue's margin: about gamma * m^2 / 2 (an at-the-money straddle has a small
        // delta, 2 N(sigma sqrt(T) / 2) - 1, and its gamma falls away from the strike).
        let expected = 50_000.0 * 0.05 * 0.05 / 2.0;
        assert!((r.venue_initial as f64 / 1e6 / expected - 1.0).abs() < 0.2);
        assert!(r.venue_maintenance < r.venue_initial);
    }
}
