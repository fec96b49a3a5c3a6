//! Which code runs which message. Every engine message has an explicit selector whose first
//! byte names its facet (`0x01..` trading, `0x02..` liquidation, `0x03..` feeds, `0x04..`
//! admin, `0x05..` collateral, `0x06..` views); the router reads that byte and delegate-calls the facet's code. The bundle tool
//! (`contracts/engine/bundle`) refuses a facet whose metadata has a message outside its byte.

use ink::primitives::Hash;

/// An engine facet: one Wasm code the router delegate-calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facet {
    /// Fills, funding, options and depth reports (what venues write).
    Trading,
    /// Liquidation, bankruptcy resolution, settlement.
    Liquidation,
    /// Feeder reports and market refresh.
    Feeds,
    /// Roles, listings, params, halts, ledger queries.
    Admin,
    /// Deposits, insurance top-ups, withdrawals.
    Collateral,
    /// Account and market risk queries.
    Views,
}

impl Facet {
    /// Every facet, in selector-byte order.
    pub const ALL: [Facet; 6] = [
        Facet::Trading,
        Facet::Liquidation,
        Facet::Feeds,
        Facet::Admin,
        Facet::Collateral,
        Facet::Views,
    ];

    /// The facet whose messages carry `selector`, if any.
    pub fn of_selector(selector: [u8; 4]) -> Option<Facet> {
        match selector[0] {
            1 => Some(Facet::Trading),
            2 => Some(Facet::Liquidation),
            3 => Some(Facet::Feeds),
            4 => Some(Facet::Admin),
            5 => Some(Facet::Collateral),
            6 => Some(Facet::Views),
            _ => None,
        }
    }

    /// The first byte of its messages' selectors.
    pub fn selector_byte(self) -> u8 {
        match self {
            Facet::Trading => 1,
            Facet::Liquidation => 2,
            Facet::Feeds => 3,
            Facet::Admin => 4,
            Facet::Collateral => 5,
            Facet::Views => 6,
        }
    }

    /// Its name as in the crate `ballast_engine_<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Facet::Trading => "trading",
            Facet::Liquidation => "liquidation",
            Facet::Feeds => "feeds",
            Facet::Admin => "admin",
            Facet::Collateral => "collateral",
            Facet::Views => "views",
        }
    }
}

/// The code hash of each facet, fixed at deployment: nothing in the engine can change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[ink::scale_derive(Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
pub struct FacetCodes {
    /// Code of the trading facet.
    pub trading: Hash,
    /// Code of the liquidation facet.
    pub liquidation: Hash,
    /// Code of the feeds facet.
    pub feeds: Hash,
    /// Code of the admin facet.
    pub admin: Hash,
    /// Code of the collateral facet.
    pub collateral: Hash,
    /// Code of the views facet.
    pub views: Hash,
}

impl FacetCodes {
    /// The code that runs `facet`'s messages.
    pub fn code_of(&self, facet: Facet) -> Hash {
        match facet {
            Facet::Trading => self.trading,
            Facet::Liquidation => self.liquidation,
            Facet::Feeds => self.feeds,
            Facet::Admin => self.admin,
            Facet::Collateral => self.collateral,
            Facet::Views => self.views,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_byte_is_a_listed_facet_and_back() {
        for byte in 0..=u8::MAX {
            if let Some(facet) = Facet::of_selector([byte, 0, 0, 0]) {
                assert!(Facet::ALL.contains(&facet), "{facet:?} missing from ALL");
                assert_eq!(facet.selector_byte(), byte);
            }
        }
        for facet in Facet::ALL {
            assert_eq!(
                Facet::of_selector([facet.selector_byte(), 9, 9, 9]),
                Some(facet)
            );
        }
    }

    #[test]
    fn each_facet_has_its_own_code() {
        let mut codes = FacetCodes {
            trading: Hash::from([0; 32]),
            liquidation: Hash::from([0; 32]),
            feeds: Hash::from([0; 32]),
            admin: Hash::from([0; 32]),
            collateral: Hash::from([0; 32]),
            views: Hash::from([0; 32]),
        };
        let fields: [&mut Hash; 6] = [
            &mut codes.trading,
            &mut codes.liquidation,
            &mut codes.feeds,
            &mut codes.admin,
            &mut codes.collateral,
            &mut codes.views,
        ];
        for (n, field) in fields.into_iter().enumerate() {
            *field = Hash::from([u8::try_from(n).unwrap() + 1; 32]);
        }
        let mut seen: Vec<Hash> = Facet::ALL.iter().map(|f| codes.code_of(*f)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), Facet::ALL.len());
    }
}
