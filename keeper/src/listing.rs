//! Listing files: a market's whole configuration (`MarketConfig` and `OracleConfig`, the types
//! the engine's `list_market` decodes) as JSON, checked with the same `validate` the engine runs
//! before anything is sent. Fractions and prices are decimal strings (`"0.05"`), amounts and
//! times integers in base units and milliseconds; unknown fields are refused, so a misspelt
//! parameter is an error rather than a default.

use std::path::Path;

use ballast_math::Decimals;
use ballast_oracle::OracleConfig;
use ballast_risk::MarketConfig;
use serde::{Deserialize, Serialize};

use crate::feed::scaled_configs;

/// What `list_market` takes besides the market id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// Margin, ramps, breaker, liquidation, liquidity, options and stress parameters.
    pub market: MarketConfig,
    /// Feeders, guard rails, dampening and volatility.
    pub oracle: OracleConfig,
}

impl Listing {
    /// The default large-cap listing with the market's clock compressed `time_scale` times
    /// (1: real time), as `ballast-keeper admin list-market` lists without a file.
    pub fn default_large_cap(decimals: Decimals, time_scale: u64) -> Listing {
        let (market, oracle) = scaled_configs(decimals, time_scale);
        Listing { market, oracle }
    }

    /// Parses a listing and checks it as the engine will: `MarketConfig::validate` and
    /// `OracleConfig::validate`.
    pub fn from_json(text: &str) -> Result<Listing, String> {
        let listing: Listing =
            serde_json::from_str(text).map_err(|e| format!("listing file: {e}"))?;
        listing
            .market
            .validate()
            .map_err(|e| format!("the engine would refuse the market configuration: {e:?}"))?;
        listing
            .oracle
            .validate()
            .map_err(|e| format!("the engine would refuse the oracle configuration: {e:?}"))?;
        Ok(listing)
    }

    /// Reads and checks a listing file.
    pub fn load(path: impl AsRef<Path>) -> Result<Listing, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Listing::from_json(&text)
    }

    /// The listing as indented JSON.
    pub fn to_json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BTC: Decimals = Decimals { base: 8, quote: 6 };

    #[test]
    fn a_written_listing_reads_back_as_the_same_values() {
        for scale in [1, 1_800] {
            let listing = Listing::default_large_cap(BTC, scale);
            let text = listing.to_json().unwrap();
            assert_eq!(Listing::from_json(&text), Ok(listing));
        }
        // Fractions are decimal strings an operator can read.
        let text = Listing::default_large_cap(BTC, 1).to_json().unwrap();
        assert!(text.contains("\"max_confidence\": \"0.0"), "{text}");
    }

    fn edited(path: &[&str], value: serde_json::Value) -> String {
        let mut json = serde_json::to_value(Listing::default_large_cap(BTC, 1)).unwrap();
        let mut at = &mut json;
        for key in path {
            at = at.get_mut(*key).unwrap_or_else(|| panic!("no field {key}"));
        }
        *at = value;
        json.to_string()
    }

    #[test]
    fn what_the_engine_would_refuse_is_refused_before_anything_is_sent() {
        // A governance ramp below the engine's one-hour floor.
        let short_ramp = edited(&["market", "ramps", "params_ramp_ms"], 1_000.into());
        let err = Listing::from_json(&short_ramp).unwrap_err();
        assert!(err.contains("market configuration"), "{err}");
        // An oracle that needs more reports than it has feeder slots.
        let feeders = edited(&["oracle", "min_reports"], 9.into());
        let err = Listing::from_json(&feeders).unwrap_err();
        assert!(err.contains("oracle configuration"), "{err}");
    }

    #[test]
    fn a_misspelt_field_or_a_number_where_a_decimal_string_goes_is_an_error() {
        let mut json = serde_json::to_value(Listing::default_large_cap(BTC, 1)).unwrap();
        json["oracle"]["max_confidense"] = "0.02".into();
        assert!(Listing::from_json(&json.to_string()).is_err());
        let float = edited(&["oracle", "max_confidence"], serde_json::json!(0.02));
        assert!(Listing::from_json(&float).is_err());
        let missing = {
            let mut json = serde_json::to_value(Listing::default_large_cap(BTC, 1)).unwrap();
            json["market"].as_object_mut().unwrap().remove("breaker");
            json.to_string()
        };
        assert!(Listing::from_json(&missing).is_err());
    }
}
