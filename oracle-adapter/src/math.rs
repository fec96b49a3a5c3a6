//! Pure functions of the adapter: no state, no time, no configuration structs. Each states its
//! formula, its units and its rounding direction.

use core::cmp::Ordering;

use ballast_math::{Fixed, MathError, Rounding};

/// Milliseconds per second, for converting `*_ms` durations into per-second rates.
const MS_PER_SEC: Fixed = Fixed::from_int(1000);

/// A duration or timestamp in milliseconds as a `Fixed` number of milliseconds (exact).
pub fn ms_to_fixed(ms: u64) -> Result<Fixed, MathError> {
    Fixed::from_i128(i128::from(ms))
}

/// Median of `values` (sorted in place): the middle value of an odd count, the mean of the two
/// middle values (rounded down) of an even count, `None` for no values.
///
/// Used for prices, confidences and deviations: with fewer than half of the values wrong, the
/// result lies between two correct values whatever the wrong ones are.
pub fn median(values: &mut [Fixed]) -> Result<Option<Fixed>, MathError> {
    values.sort_unstable();
    let count = values.len();
    let half = count.checked_div(2).ok_or(MathError::DivisionByZero)?;
    if count == 0 {
        return Ok(None);
    }
    let upper = *values.get(half).ok_or(MathError::Domain)?;
    if count % 2 == 1 {
        return Ok(Some(upper));
    }
    let lower_index = half.checked_sub(1).ok_or(MathError::Domain)?;
    let lower = *values.get(lower_index).ok_or(MathError::Domain)?;
    Ok(Some(lower.checked_add(upper)?.div_int(2, Rounding::Floor)?))
}

/// One EWMA variance update covering `n` sampling intervals (RiskMetrics):
///
/// - `n == 1`: `var' = lambda * var + (1 - lambda) * r^2`;
/// - `n > 1` (intervals were missed): `var' = lambda^n * var + (1 - lambda^n) * r^2 / n`, i.e.
///   the observed move is spread evenly over the `n` intervals it took. Treating it as `n - 1`
///   zero returns followed by one jump would both shrink the estimate during the gap and then
///   overweight one outsized return;
/// - `n == 0`: unchanged.
///
/// Unit-agnostic: `variance` and `r_squared` only need the same unit (the adapter passes
/// annualized values). Rounding: the decayed old variance rounds down, so a flat market's
/// estimate decays all the way to zero; the new term rounds up, so a nonzero return is never
/// lost to rounding.
pub fn ewma_update(
    variance: Fixed,
    lambda: Fixed,
    r_squared: Fixed,
    n: u64,
) -> Result<Fixed, MathError> {
    if n == 0 {
        return Ok(variance);
    }
    // lambda^n underflows to 0 long before n reaches u32::MAX: saturating the exponent is exact.
    let exponent = u32::try_from(n).unwrap_or(u32::MAX);
    let decay = lambda.powi(exponent)?;
    let weight = Fixed::ONE.checked_sub(decay)?;
    let per_interval = r_squared.div_int(i128::from(n), Rounding::Ceil)?;
    let kept = variance.mul_rounded(decay, Rounding::Floor)?;
    let added = per_interval.mul_rounded(weight, Rounding::Ceil)?;
    kept.checked_add(added)
}

/// Squared log return scaled to a year: `ln(price / previous)^2 * intervals_per_year`.
///
/// The ratio is formed first so that `ln` works near 1, where it is most accurate (an absolute
/// error of about one ulp on a return of 1e-3 is a relative error of 4e-12). It is formed as
/// larger / smaller: a ratio below 2^-48 would round to zero, one above 1 up to 2^74 always
/// fits, and the sign does not matter once squared. Multiplying `r` by the integer before the
/// second factor keeps one rounding in the whole product.
pub fn annualized_squared_log_return(
    price: Fixed,
    previous: Fixed,
    intervals_per_year: u64,
) -> Result<Fixed, MathError> {
    let r = price
        .max(previous)
        .div_rounded(price.min(previous), Rounding::Nearest)?
        .ln()?;
    let r_times_n = r.checked_mul_int(i128::from(intervals_per_year))?;
    r_times_n.mul_rounded(r, Rounding::Ceil)
}

/// `f^2` of Mango's stable price: `f = min(a / b, b / a)` for two positive prices, in (0, 1].
///
/// `f` falls as the dampened price drifts from the day-old delay price, so the further the
/// dampened price has already moved in a day, the slower it moves on.
pub fn damping_factor_squared(price: Fixed, delay_price: Fixed) -> Result<Fixed, MathError> {
    let f = price
        .min(delay_price)
        .div_rounded(price.max(delay_price), Rounding::Floor)?;
    f.checked_mul(f)
}

/// Move budget earned in `elapsed_ms`: `rate_per_sec * f^2 * elapsed_ms / 1000`, rounded down
/// (the bound never loosens by rounding).
pub fn damping_budget(
    rate_per_sec: Fixed,
    factor_squared: Fixed,
    elapsed_ms: u64,
) -> Result<Fixed, MathError> {
    rate_per_sec.checked_mul(factor_squared)?.mul_div(
        ms_to_fixed(elapsed_ms)?,
        MS_PER_SEC,
        Rounding::Floor,
    )
}

/// The dampened price after a move budget `x` accumulated since `anchor`, moving toward
/// `target`: upward at most to `anchor * (1 + x)`, downward at most to `anchor / (1 + x)`.
///
/// Why this shape: the bound is a function of the *total* budget since the anchor, so splitting
/// a period into several refreshes gives the same price as one refresh (to rounding), and the
/// move per refresh relative to the price before it is at most the budget earned in that
/// refresh, in both directions (the upward bound is linear in x; the downward one is the same
/// bound on 1/price, which keeps the rule symmetric between a price and its inverse).
/// Rounding is toward the anchor. An upward bound beyond the range means the target is reached.
pub fn dampened_price(anchor: Fixed, target: Fixed, budget: Fixed) -> Result<Fixed, MathError> {
    let factor = Fixed::ONE.checked_add(budget)?;
    match target.cmp(&anchor) {
        Ordering::Greater => match anchor.mul_rounded(factor, Rounding::Floor) {
            Ok(upper) => Ok(target.min(upper)),
            Err(MathError::Overflow) => Ok(target),
            Err(error) => Err(error),
        },
        Ordering::Less => {
            let lower = anchor.div_rounded(factor, Rounding::Ceil)?;
            Ok(target.max(lower))
        }
        Ordering::Equal => Ok(anchor),
    }
}

/// TWAP after `price` held for `elapsed_ms`: an exponential moving average in continuous time,
/// `twap' = price + (twap - price) * exp(-elapsed / window)`.
///
/// For `elapsed << window` this is Drift's `twap += (price - twap) * elapsed / window`, but
/// unlike it, one refresh over `dt` equals two over `dt / 2` (exp(-a) exp(-b) = exp(-a-b)), so
/// the TWAP does not depend on how often someone refreshes. A price held for one window weighs
/// 63 %; after five windows the old TWAP weighs below 1 %.
pub fn twap_after(
    twap: Fixed,
    price: Fixed,
    elapsed_ms: u64,
    window_ms: u64,
) -> Result<Fixed, MathError> {
    if elapsed_ms == 0 {
        return Ok(twap);
    }
    let exponent = Fixed::from_ratio(i128::from(elapsed_ms), i128::from(window_ms))?;
    let decay = exponent.checked_neg()?.exp()?;
    let gap = twap.checked_sub(price)?;
    price.checked_add(gap.mul_rounded(decay, Rounding::Nearest)?)
}

/// Next delay-ring slot: `average` clamped to `previous * [1 - growth, 1 + growth]` (Mango), so
/// the day-old reference price can be walked at most `growth` per interval.
pub fn delay_step(previous: Fixed, average: Fixed, growth: Fixed) -> Result<Fixed, MathError> {
    let upper = previous.mul_rounded(Fixed::ONE.checked_add(growth)?, Rounding::Floor)?;
    let lower = previous.mul_rounded(Fixed::ONE.checked_sub(growth)?, Rounding::Ceil)?;
    average.clamp(lower, upper)
}

/// The slot value after `steps` [`delay_step`]s from `previous` toward a constant `target`, in
/// closed form: `target` clamped to `previous * [(1 - growth)^steps, (1 + growth)^steps]`.
///
/// Used only for intervals that a long gap pushes out of the ring unseen; equal to iterating
/// `delay_step` up to the rounding of the power. A bound beyond the range means the target was
/// reached.
pub fn delay_approach(
    previous: Fixed,
    target: Fixed,
    growth: Fixed,
    steps: u64,
) -> Result<Fixed, MathError> {
    let exponent = u32::try_from(steps).unwrap_or(u32::MAX);
    if target > previous {
        let bound = Fixed::ONE
            .checked_add(growth)?
            .powi(exponent)
            .and_then(|factor| previous.mul_rounded(factor, Rounding::Floor));
        match bound {
            Ok(upper) => Ok(target.min(upper)),
            Err(MathError::Overflow) => Ok(target),
            Err(error) => Err(error),
        }
    } else {
        let factor = Fixed::ONE.checked_sub(growth)?.powi(exponent)?;
        let lower = previous.mul_rounded(factor, Rounding::Ceil)?;
        Ok(target.max(lower))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(text: &str) -> Fixed {
        Fixed::parse_decimal(text).unwrap()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []).unwrap(), None);
        assert_eq!(median(&mut [fx("7")]).unwrap(), Some(fx("7")));
        let mut odd = [fx("3"), fx("1"), fx("1000"), fx("2"), fx("-5")];
        assert_eq!(median(&mut odd).unwrap(), Some(fx("2")));
        let mut even = [fx("4"), fx("1"), fx("3"), fx("100")];
        assert_eq!(median(&mut even).unwrap(), Some(fx("3.5")));
        // The mean of the two middle values rounds down to the 48-bit grid.
        let mut tiny = [Fixed::ZERO, Fixed::DELTA];
        assert_eq!(median(&mut tiny).unwrap(), Some(Fixed::ZERO));
        let mut negative = [Fixed::from_bits(-1), Fixed::ZERO];
        assert_eq!(median(&mut negative).unwrap(), Some(Fixed::from_bits(-1)));
    }

    #[test]
    fn ewma_single_step_and_fast_forward() {
        let lambda = fx("0.9");
        let var = fx("0.04");
        let r2 = fx("0.09");
        // n = 1: 0.9 * 0.04 + 0.1 * 0.09 = 0.045.
        let one = ewma_update(var, lambda, r2, 1).unwrap();
        assert!((one.to_bits() - fx("0.045").to_bits()).abs() <= 2);
        // n = 3: 0.729 * 0.04 + 0.271 * 0.03 = 0.02916 + 0.00813 = 0.03729.
        let three = ewma_update(var, lambda, r2, 3).unwrap();
        assert!((three.to_bits() - fx("0.03729").to_bits()).abs() <= 4);
        // Not the same as two zero returns followed by the whole move.
        // 0.9 * (0.81 * 0.04) + 0.1 * 0.09 = 0.03816.
        let zeros_then_jump = ewma_update(
            ewma_update(var, lambda, Fixed::ZERO, 2).unwrap(),
            lambda,
            r2,
            1,
        )
        .unwrap();
        assert!((zeros_then_jump.to_bits() - fx("0.03816").to_bits()).abs() <= 4);
        assert!(zeros_then_jump > three);
        assert_eq!(ewma_update(var, lambda, r2, 0).unwrap(), var);
        // A huge gap forgets the past entirely and keeps only the spread-out move.
        let forgotten = ewma_update(var, lambda, r2, u64::MAX).unwrap();
        assert!(forgotten <= Fixed::from_bits(2));
    }

    fn to_f64(value: Fixed) -> f64 {
        value.to_bits() as f64 / (1u64 << 48) as f64
    }

    #[test]
    fn dampened_price_moves_toward_the_target_within_the_budget() {
        let anchor = fx("100");
        let budget = fx("0.1");
        // 100 * (1 + 0.1), with 0.1 as stored on the 48-bit grid, rounded down.
        let upper = anchor
            .mul_rounded(Fixed::ONE.checked_add(budget).unwrap(), Rounding::Floor)
            .unwrap();
        assert!((to_f64(upper) - 110.0).abs() < 1e-12);
        assert_eq!(dampened_price(anchor, fx("200"), budget).unwrap(), upper);
        assert_eq!(
            dampened_price(anchor, fx("105"), budget).unwrap(),
            fx("105")
        );
        // Downward: 100 / 1.1 = 90.909..., rounded up toward the anchor.
        let down = dampened_price(anchor, fx("50"), budget).unwrap();
        assert_eq!(
            down,
            anchor
                .div_rounded(Fixed::ONE.checked_add(budget).unwrap(), Rounding::Ceil)
                .unwrap()
        );
        assert!((to_f64(down) - 100.0 / 1.1).abs() < 1e-12);
        assert_eq!(dampened_price(anchor, fx("95"), budget).unwrap(), fx("95"));
        assert_eq!(dampened_price(anchor, anchor, budget).unwrap(), anchor);
        // An astronomically large budget reaches any target.
        assert_eq!(
            dampened_price(
                Fixed::from_int(1 << 40),
                Fixed::MAX,
                Fixed::from_int(1 << 45)
            )
            .unwrap(),
            Fixed::MAX
        );
    }

    #[test]
    fn damping_factor_is_symmetric_and_at_most_one() {
        let a = damping_factor_squared(fx("100"), fx("125")).unwrap();
        let b = damping_factor_squared(fx("125"), fx("100")).unwrap();
        assert_eq!(a, b);
        assert!((a.to_bits() - fx("0.64").to_bits()).abs() <= 2);
        assert_eq!(
            damping_factor_squared(fx("3"), fx("3")).unwrap(),
            Fixed::ONE
        );
        // 0.0001/s * 0.64 * 600 s = 0.0384 (0.0001 itself is stored to 1.8e-11 relative).
        let budget = damping_budget(fx("0.0001"), a, 600_000).unwrap();
        assert!((to_f64(budget) - 0.0384).abs() < 1e-11);
    }

    #[test]
    fn twap_is_an_exponential_average_in_time() {
        let twap = fx("100");
        let price = fx("200");
        assert_eq!(twap_after(twap, price, 0, 3_600_000).unwrap(), twap);
        // One window: 200 - 100 / e = 163.212...
        let one_window = twap_after(twap, price, 3_600_000, 3_600_000).unwrap();
        let expected = 200.0 - 100.0 / std::f64::consts::E;
        let got = to_f64(one_window);
        assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
        // Split into two halves: the same to rounding (exp is good to 1e-12 relative).
        let half = twap_after(twap, price, 1_800_000, 3_600_000).unwrap();
        let halves = twap_after(half, price, 1_800_000, 3_600_000).unwrap();
        assert!((to_f64(halves) - got).abs() < 1e-10);
        // Early on it matches Drift's linear update to first order: 100 + 100 * (1 - e^-0.01).
        let small = twap_after(twap, price, 36_000, 3_600_000).unwrap();
        assert!((to_f64(small) - 100.995_016_625).abs() < 1e-6);
        // Far beyond the window the TWAP is the price.
        assert_eq!(twap_after(twap, price, 1 << 40, 3_600_000).unwrap(), price);
    }

    #[test]
    fn delay_step_clamps_each_slot() {
        let growth = fx("0.06");
        let up = delay_step(fx("100"), fx("150"), growth).unwrap();
        assert!(up <= fx("106") && to_f64(up) > 106.0 - 1e-12);
        let down = delay_step(fx("100"), fx("50"), growth).unwrap();
        assert!(down >= fx("94") && to_f64(down) < 94.0 + 1e-12);
        assert_eq!(delay_step(fx("100"), fx("103"), growth).unwrap(), fx("103"));
        // Closed form = iteration, to rounding (a few ulps of the factor, times the price).
        let mut iterated = fx("100");
        for _ in 0..5 {
            iterated = delay_step(iterated, fx("1000"), growth).unwrap();
        }
        let closed = delay_approach(fx("100"), fx("1000"), growth, 5).unwrap();
        assert!((to_f64(iterated) - to_f64(closed)).abs() < 1e-12 * to_f64(iterated));
        assert!(to_f64(closed) > 133.8 && to_f64(closed) < 133.9);
        assert_eq!(
            delay_approach(fx("100"), fx("1000"), growth, 1_000_000).unwrap(),
            fx("1000")
        );
        assert_eq!(
            delay_approach(fx("100"), fx("0.001"), growth, u64::MAX).unwrap(),
            fx("0.001")
        );
    }
}
