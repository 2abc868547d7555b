//! Roles, purposes, data categories, request kinds, forms, sensor kinds, objection reasons,
//! consultation results, delegated powers and delegation kinds: checked conversions
//! from the wire enums, short text names for people and scripts, and compact sets used by the
//! decision rule.

use std::fmt;
use std::str::FromStr;

pub use crate::pb::{
    AckOutcome, ConsultationResult, DataCategory, DelegatedPower, DelegationKind, Form,
    ObjectionReason, Purpose, RequestKind, Role, SensorKind,
};

/// A text name that is not in the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}; expected one of: {expected}")]
pub struct UnknownName {
    /// What was being parsed ("purpose", "category", ...).
    pub kind: &'static str,
    /// The text given.
    pub name: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}

macro_rules! vocabulary {
    ($ty:ident, $kind:literal, $unspecified:ident, [$(($variant:ident, $name:literal, $plain:literal)),+ $(,)?]) => {
        impl $ty {
            /// Every valid value (UNSPECIFIED excluded), in wire order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// Short kebab-case name used in text, CLI and JSON.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                    $ty::$unspecified => "unspecified",
                }
            }

            /// A sentence fragment a citizen can read.
            pub fn plain(self) -> &'static str {
                match self {
                    $($ty::$variant => $plain,)+
                    $ty::$unspecified => "unspecified",
                }
            }

            /// Parses a kebab-case name.
            pub fn from_name(name: &str) -> Result<Self, UnknownName> {
                let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.name() == wanted)
                    .ok_or_else(|| UnknownName {
                        kind: $kind,
                        name: name.to_string(),
                        expected: Self::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", "),
                    })
            }

            /// Converts a wire value; `None` for UNSPECIFIED and unknown numbers.
            pub fn from_wire(value: i32) -> Option<Self> {
                match $ty::try_from(value) {
                    Ok($ty::$unspecified) | Err(_) => None,
                    Ok(v) => Some(v),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_name(s)
            }
        }
    };
}

vocabulary!(
    Role,
    "role",
    Unspecified,
    [
        (Citizen, "citizen", "a citizen"),
        (Collector, "collector", "a data collector"),
        (Registrar, "registrar", "a registrar"),
    ]
);

vocabulary!(
    Purpose,
    "purpose",
    Unspecified,
    [
        (
            ServiceProvision,
            "service-provision",
            "providing the service you asked for"
        ),
        (
            ServiceOptimisation,
            "service-optimisation",
            "improving the service"
        ),
        (TrafficManagement, "traffic-management", "managing traffic"),
        (UrbanPlanning, "urban-planning", "planning the city"),
        (Research, "research", "research and development"),
        (AcademicResearch, "academic-research", "academic research"),
        (
            Personalisation,
            "personalisation",
            "tailoring the service to you"
        ),
        (Marketing, "marketing", "marketing"),
        (Advertising, "advertising", "advertising"),
        (
            ThirdPartySharing,
            "third-party-sharing",
            "sharing with the recipients listed"
        ),
        (SellData, "sell-data", "selling data to third parties"),
        (Billing, "billing", "billing and payments"),
        (Security, "security", "keeping systems and people safe"),
        (
            EnvironmentalMonitoring,
            "environmental-monitoring",
            "monitoring the environment"
        ),
        (
            UtilityManagement,
            "utility-management",
            "managing energy and water networks"
        ),
    ]
);

vocabulary!(
    DataCategory,
    "category",
    Unspecified,
    [
        (Location, "location", "where you or your device are"),
        (Mobility, "mobility", "your trips and how you travel"),
        (Vehicle, "vehicle", "your vehicle (plate, parking sessions)"),
        (Imagery, "imagery", "pictures or video of you"),
        (Audio, "audio", "sound or voice recordings"),
        (
            IdentityContact,
            "identity-contact",
            "your name and contact details"
        ),
        (OfficialId, "official-id", "official identifiers"),
        (Health, "health", "health data"),
        (Energy, "energy", "your home's energy use"),
        (Water, "water", "your home's water use"),
        (Waste, "waste", "your waste collection records"),
        (
            Environmental,
            "environmental",
            "environmental readings at your home"
        ),
        (Financial, "financial", "payments and financial data"),
        (DeviceId, "device-id", "identifiers of your devices"),
        (Behavioural, "behavioural", "how you use the service"),
    ]
);

vocabulary!(
    RequestKind,
    "request kind",
    Unspecified,
    [
        (Access, "access", "a copy of your data"),
        (Erasure, "erasure", "erasure of your data"),
        (Rectification, "rectification", "correction of your data"),
        (Restriction, "restriction", "restriction of processing"),
        (Portability, "portability", "your data in a portable format"),
        (OptOutSale, "opt-out-sale", "opt-out of sale and sharing"),
    ]
);

vocabulary!(
    AckOutcome,
    "outcome",
    Unspecified,
    [(Done, "done", "done"), (Refused, "refused", "refused"),]
);

vocabulary!(
    Form,
    "form",
    Unspecified,
    [
        (Raw, "raw", "as observed"),
        (
            Pseudonymised,
            "pseudonymised",
            "with your identifier replaced by a code only the collector can compute"
        ),
        (
            Binned,
            "binned",
            "pseudonymised, with time and place made coarser"
        ),
        (
            Aggregated,
            "aggregated",
            "only as counts over groups of people, never per person"
        ),
    ]
);

vocabulary!(
    SensorKind,
    "sensor kind",
    Unspecified,
    [
        (Camera, "camera", "a camera"),
        (
            NumberPlateReader,
            "number-plate-reader",
            "a number-plate reader"
        ),
        (AirQuality, "air-quality", "an air-quality sensor"),
        (Noise, "noise", "a noise sensor"),
        (SmartMeter, "smart-meter", "a smart energy meter"),
        (WaterMeter, "water-meter", "a water meter"),
        (WifiCounter, "wifi-counter", "a Wi-Fi device counter"),
        (
            BluetoothCounter,
            "bluetooth-counter",
            "a Bluetooth device counter"
        ),
        (PeopleCounter, "people-counter", "a people counter"),
        (ParkingBay, "parking-bay", "a parking-bay sensor"),
        (TrafficCounter, "traffic-counter", "a traffic counter"),
        (WasteBin, "waste-bin", "a waste-bin sensor"),
        (TicketValidator, "ticket-validator", "a ticket validator"),
        (EvCharger, "ev-charger", "an electric-vehicle charger"),
    ]
);

vocabulary!(
    ObjectionReason,
    "objection reason",
    Unspecified,
    [
        (
            PurposeTooBroad,
            "purpose-too-broad",
            "the purposes are too broad"
        ),
        (
            RetentionTooLong,
            "retention-too-long",
            "data would be kept too long"
        ),
        (
            ThirdPartySharing,
            "third-party-sharing",
            "data would be shared with third parties"
        ),
        (
            NotAnonymisedEnough,
            "not-anonymised-enough",
            "data would not be anonymised enough"
        ),
        (
            SensorPlacement,
            "sensor-placement",
            "where or which sensors collect"
        ),
        (Other, "other", "another reason"),
    ]
);

vocabulary!(
    ConsultationResult,
    "consultation result",
    Unspecified,
    [
        (Approved, "approved", "approved"),
        (ChangesRequired, "changes-required", "changes required"),
    ]
);

vocabulary!(
    DelegatedPower,
    "power",
    Unspecified,
    [
        (Grant, "grant", "give consent"),
        (Revoke, "revoke", "withdraw consent"),
        (Request, "request", "make data-subject requests"),
    ]
);

vocabulary!(
    DelegationKind,
    "delegation kind",
    Unspecified,
    [
        (Assistant, "assistant", "an assistant"),
        (Guardian, "guardian", "a guardian"),
    ]
);

impl Form {
    /// The form's rank in the specification's table ("Scope and form"): RAW 1 < PSEUDONYMISED 2 <
    /// BINNED 3 < AGGREGATED 4 (UNSPECIFIED 0). A form is *at least as protective* as another when
    /// its rank is at least as high. A table, not the wire number: a later value may slot in
    /// between.
    pub fn rank(self) -> u8 {
        match self {
            Form::Unspecified => 0,
            Form::Raw => 1,
            Form::Pseudonymised => 2,
            Form::Binned => 3,
            Form::Aggregated => 4,
        }
    }

    /// The DPV term the form corresponds to (narrowed as the `.proto` comments say).
    pub fn dpv(self) -> &'static str {
        match self {
            Form::Unspecified => "",
            Form::Raw => "dpv:PersonalData",
            Form::Pseudonymised => "dpv:Pseudonymisation",
            Form::Binned => "dpv:Deidentification",
            Form::Aggregated => "dpv:Anonymisation",
        }
    }
}

impl Purpose {
    /// Purposes an opt-out of sale/sharing switches off.
    pub fn is_sale_or_sharing(self) -> bool {
        matches!(self, Purpose::SellData | Purpose::ThirdPartySharing)
    }
}

macro_rules! enum_set {
    ($set:ident, $ty:ident) => {
        /// A set of values, one bit per wire number (values are < 32).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct $set(u32);

        impl $set {
            /// The empty set.
            pub const EMPTY: Self = Self(0);

            /// Adds a value; returns false if it was already present.
            pub fn insert(&mut self, v: $ty) -> bool {
                let bit = 1u32 << (v as i32 as u32);
                let fresh = self.0 & bit == 0;
                self.0 |= bit;
                fresh
            }

            /// Whether the value is present.
            pub fn contains(self, v: $ty) -> bool {
                self.0 & (1u32 << (v as i32 as u32)) != 0
            }

            /// Whether every value of `self` is in `other`.
            pub fn is_subset(self, other: Self) -> bool {
                self.0 & !other.0 == 0
            }

            /// Number of values.
            pub fn len(self) -> usize {
                self.0.count_ones() as usize
            }

            /// Whether the set is empty.
            pub fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// The values in wire order.
            pub fn iter(self) -> impl Iterator<Item = $ty> {
                $ty::ALL.iter().copied().filter(move |v| self.contains(*v))
            }

            /// The raw bit mask (for storage).
            pub fn bits(self) -> u32 {
                self.0
            }

            /// Rebuilds a set from its mask, dropping bits that name no value.
            pub fn from_bits(bits: u32) -> Self {
                let mut set = Self::EMPTY;
                for v in $ty::ALL {
                    if bits & (1u32 << (*v as i32 as u32)) != 0 {
                        set.insert(*v);
                    }
                }
                set
            }
        }

        impl FromIterator<$ty> for $set {
            fn from_iter<I: IntoIterator<Item = $ty>>(iter: I) -> Self {
                let mut set = Self::EMPTY;
                for v in iter {
                    set.insert(v);
                }
                set
            }
        }
    };
}

enum_set!(PurposeSet, Purpose);
enum_set!(CategorySet, DataCategory);
enum_set!(SensorKindSet, SensorKind);
enum_set!(ObjectionSet, ObjectionReason);
enum_set!(PowerSet, DelegatedPower);

impl PowerSet {
    /// Whether the powers let a delegate sign `power`: GRANT also lets it revoke.
    pub fn allows(self, power: DelegatedPower) -> bool {
        self.contains(power)
            || (power == DelegatedPower::Revoke && self.contains(DelegatedPower::Grant))
    }
}

impl fmt::Display for ObjectionSet {
    /// The reasons' names in wire order, comma-separated (`retention-too-long, other`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(|r| r.name()).collect();
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::from_name(p.name()), Ok(*p));
        }
        for c in DataCategory::ALL {
            assert_eq!(c.name().parse::<DataCategory>(), Ok(*c));
        }
        for k in RequestKind::ALL {
            assert_eq!(RequestKind::from_name(k.name()), Ok(*k));
        }
        let names: std::collections::HashSet<_> = Purpose::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), Purpose::ALL.len());
        for f in Form::ALL {
            assert_eq!(Form::from_name(f.name()), Ok(*f));
        }
        for k in SensorKind::ALL {
            assert_eq!(SensorKind::from_name(k.name()), Ok(*k));
        }
        assert_eq!(
            SensorKind::from_name("NUMBER_PLATE_READER"),
            Ok(SensorKind::NumberPlateReader)
        );
        assert_eq!(SensorKind::ALL.len(), 14);
    }

    #[test]
    fn forms_rank_from_raw_to_aggregated() {
        let ranks: Vec<u8> = Form::ALL.iter().map(|f| f.rank()).collect();
        assert_eq!(ranks, vec![1, 2, 3, 4]);
        assert_eq!(Form::Unspecified.rank(), 0);
        assert_eq!(Form::from_wire(5), None);
        assert_eq!(Form::from_wire(0), None);
        let kinds: SensorKindSet = [SensorKind::Camera, SensorKind::EvCharger]
            .into_iter()
            .collect();
        assert!(kinds.contains(SensorKind::EvCharger) && !kinds.contains(SensorKind::Noise));
    }

    #[test]
    fn unknown_name_lists_the_choices() {
        let err = Purpose::from_name("spying").expect_err("not a purpose");
        assert!(err.to_string().contains("service-provision"));
        assert_eq!(
            Purpose::from_name("SERVICE_PROVISION"),
            Ok(Purpose::ServiceProvision)
        );
    }

    #[test]
    fn unspecified_and_unknown_wire_values_are_none() {
        assert_eq!(Purpose::from_wire(0), None);
        assert_eq!(Purpose::from_wire(999), None);
        assert_eq!(Purpose::from_wire(-1), None);
        assert_eq!(Purpose::from_wire(1), Some(Purpose::ServiceProvision));
    }

    #[test]
    fn powers_and_delegation_kinds() {
        for p in DelegatedPower::ALL {
            assert_eq!(DelegatedPower::from_name(p.name()), Ok(*p));
        }
        assert_eq!(DelegatedPower::from_wire(0), None);
        assert_eq!(DelegatedPower::from_wire(4), None);
        assert_eq!(DelegationKind::from_wire(2), Some(DelegationKind::Guardian));
        assert_eq!(DelegationKind::from_wire(3), None);
        let grant: PowerSet = [DelegatedPower::Grant].into_iter().collect();
        assert!(grant.allows(DelegatedPower::Revoke) && !grant.allows(DelegatedPower::Request));
        let revoke: PowerSet = [DelegatedPower::Revoke].into_iter().collect();
        assert!(!revoke.allows(DelegatedPower::Grant) && revoke.allows(DelegatedPower::Revoke));
    }

    #[test]
    fn sets() {
        let a: PurposeSet = [Purpose::Research, Purpose::Billing].into_iter().collect();
        let b: PurposeSet = [Purpose::Research, Purpose::Billing, Purpose::Marketing]
            .into_iter()
            .collect();
        assert!(a.is_subset(b) && !b.is_subset(a));
        assert_eq!(PurposeSet::from_bits(b.bits()), b);
        assert_eq!(PurposeSet::from_bits(u32::MAX).len(), Purpose::ALL.len());
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            vec![Purpose::Research, Purpose::Billing]
        );
    }
}
