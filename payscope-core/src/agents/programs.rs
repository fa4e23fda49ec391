//! The card networks' merchant monitoring programs as dated rule tables: which program and
//! thresholds were in effect on a day, how its ratio is computed, and where the numbers come
//! from. A disputes answer measures merchants against the program in effect at the end of the
//! period it covers, and names it with its effective date.

use crate::calendar::Date;

/// How a program's ratio is computed, each month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Visa VAMP: (transactions reported as fraud (TC40) + disputes (TC15)) / settled
    /// transactions.
    FraudAndDisputesPerSettled,
    /// Mastercard ECM: chargebacks / transactions (approved authorizations here).
    ChargebacksPerTransactions,
    /// Mastercard EFM: fraud amount / sales amount.
    FraudAmountPerSales,
}

impl Measure {
    /// The ratio in words.
    pub fn text(self) -> &'static str {
        match self {
            Measure::FraudAndDisputesPerSettled => "(fraud reports + disputes) / settled transactions",
            Measure::ChargebacksPerTransactions => "chargebacks / transactions",
            Measure::FraudAmountPerSales => "fraud amount / sales amount",
        }
    }

    /// What the count threshold counts.
    pub fn counted(self) -> &'static str {
        match self {
            Measure::FraudAndDisputesPerSettled => "fraud reports and disputes",
            Measure::ChargebacksPerTransactions => "chargebacks",
            Measure::FraudAmountPerSales => "fraud amount",
        }
    }

    /// `n` of what it counts (`1 chargeback`, `12 fraud reports and disputes`).
    pub fn count_text(self, n: u64, int: impl Fn(u64) -> String) -> String {
        match (self, n) {
            (Measure::FraudAndDisputesPerSettled, 1) => "1 fraud report or dispute".to_owned(),
            (Measure::ChargebacksPerTransactions, 1) => "1 chargeback".to_owned(),
            _ => format!("{} {}", int(n), self.counted()),
        }
    }
}

/// Who a threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Each merchant.
    Merchant,
    /// The acquirer's whole portfolio (the bank's merchants together).
    Portfolio,
}

/// The volume below which a threshold does not apply, per month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Floor {
    /// None: the ratio alone decides.
    None,
    /// A count of what the measure counts.
    Count {
        /// The count a month.
        per_month: f64,
        /// Whether it must be exceeded (VAMP: "more than 1,500"), not just reached.
        strictly_above: bool,
    },
    /// A fraud amount in US dollars (amounts in other currencies cannot be compared without a
    /// rate, and are said so).
    UsdAmount {
        /// The amount a month, in dollars.
        per_month: f64,
    },
}

/// A threshold of a network's program, in effect from a day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Program {
    /// The network (`visa`, `mastercard`).
    pub network: &'static str,
    /// The program's name.
    pub name: &'static str,
    /// The threshold's name within it (`excessive`, `above standard`).
    pub tier: &'static str,
    /// Who it applies to.
    pub level: Level,
    /// How its ratio is computed.
    pub measure: Measure,
    /// Only card-not-present (e-commerce) transactions count.
    pub card_not_present: bool,
    /// The ratio at or above which a merchant or portfolio is identified.
    pub ratio: f64,
    /// The volume it needs besides.
    pub floor: Floor,
    /// The first day the thresholds apply (year, month, day).
    pub effective: (i32, u32, u32),
    /// Where the thresholds come from, and their scope.
    pub source: &'static str,
}

const VAMP: &str = "Visa Acquirer Monitoring Program (VAMP)";
const VAMP_SOURCE: &str =
    "Visa's VAMP thresholds as announced to acquirers (global excluding MENA); card-not-present transactions";
const VAMP_FLOOR: Floor = Floor::Count { per_month: 1500.0, strictly_above: true };

/// The programs, oldest first per threshold. Visa retired its Dispute (VDMP) and Fraud (VFMP)
/// Monitoring Programs on 2025-04-01. VAMP's merchant "excessive" threshold was 2.2% from
/// 2025-06-01 and is 1.5% from 2026-04-01 (outside MENA, where other counts apply); for an
/// acquirer's portfolio "above standard" was 0.5% and "excessive" 0.7% from 2025-06-01, 0.3% and
/// 0.5% from 2026-04-01. Mastercard's ECM (chargebacks) and EFM (fraud by amount) apply to
/// merchants.
pub const PROGRAMS: [Program; 8] = [
    Program {
        network: "visa",
        name: VAMP,
        tier: "excessive",
        level: Level::Merchant,
        measure: Measure::FraudAndDisputesPerSettled,
        card_not_present: true,
        ratio: 0.022,
        floor: VAMP_FLOOR,
        effective: (2025, 6, 1),
        source: VAMP_SOURCE,
    },
    Program {
        network: "visa",
        name: VAMP,
        tier: "excessive",
        level: Level::Merchant,
        measure: Measure::FraudAndDisputesPerSettled,
        card_not_present: true,
        ratio: 0.015,
        floor: VAMP_FLOOR,
        effective: (2026, 4, 1),
        source: VAMP_SOURCE,
    },
    Program {
        network: "visa",
        name: VAMP,
        tier: "above standard",
        level: Level::Portfolio,
        measure: Measure::FraudAndDisputesPerSettled,
        card_not_present: true,
        ratio: 0.005,
        floor: Floor::None,
        effective: (2025, 6, 1),
        source: VAMP_SOURCE,
    },
    Program {
        network: "visa",
        name: VAMP,
        tier: "excessive",
        level: Level::Portfolio,
        measure: Measure::FraudAndDisputesPerSettled,
        card_not_present: true,
        ratio: 0.007,
        floor: Floor::None,
        effective: (2025, 6, 1),
        source: VAMP_SOURCE,
    },
    Program {
        network: "visa",
        name: VAMP,
        tier: "above standard",
        level: Level::Portfolio,
        measure: Measure::FraudAndDisputesPerSettled,
        card_not_present: true,
        ratio: 0.003,
        floor: Floor::None,
        effective: (2026, 4, 1),
        source: VAMP_SOURCE,
    },
    Program {
        network: "visa",
        name: VAMP,
        tier: "excessive",
        level: Level::Portfolio,
        measure: Measure::FraudAndDisputesPerSettled,
        card_not_present: true,
        ratio: 0.005,
        floor: Floor::None,
        effective: (2026, 4, 1),
        source: VAMP_SOURCE,
    },
    Program {
        network: "mastercard",
        name: "Mastercard Excessive Chargeback Merchant program (ECM)",
        tier: "excessive chargeback merchant",
        level: Level::Merchant,
        measure: Measure::ChargebacksPerTransactions,
        card_not_present: false,
        ratio: 0.015,
        floor: Floor::Count { per_month: 100.0, strictly_above: false },
        effective: (2019, 1, 1),
        source: "Mastercard Security Rules and Procedures, Excessive Chargeback Program",
    },
    Program {
        network: "mastercard",
        name: "Mastercard Excessive Fraud Merchant program (EFM)",
        tier: "excessive fraud merchant",
        level: Level::Merchant,
        measure: Measure::FraudAmountPerSales,
        card_not_present: true,
        ratio: 0.005,
        floor: Floor::UsdAmount { per_month: 50_000.0 },
        effective: (2019, 1, 1),
        source: "Mastercard Security Rules and Procedures, Excessive Fraud Merchant program (card-not-present; its 3-D Secure condition is not checked)",
    },
];

impl Program {
    /// The first day the thresholds apply.
    pub fn effective_from(&self) -> Date {
        let (y, m, d) = self.effective;
        Date::from_ymd(y, m, d).unwrap_or(Date(0))
    }

    /// The thresholds in words (`VAMP excessive (merchant): … of 1.50% or more with more than
    /// 1,500 … a month, in effect from …`).
    pub fn thresholds_text(&self, pct: impl Fn(f64) -> String, int: impl Fn(u64) -> String) -> String {
        let floor = match self.floor {
            Floor::None => String::new(),
            Floor::Count { per_month, strictly_above } => format!(
                " with {} {} {} a month",
                if strictly_above { "more than" } else { "at least" },
                int(per_month as u64),
                self.measure.counted()
            ),
            Floor::UsdAmount { per_month } => {
                format!(" with at least {} USD of fraud a month", int(per_month as u64))
            }
        };
        let level = match self.level {
            Level::Merchant => "a merchant",
            Level::Portfolio => "the acquirer's portfolio",
        };
        format!(
            "{} {} for {level}: {} of {} or more{floor}, in effect from {} ({})",
            self.name,
            self.tier,
            self.measure.text(),
            pct(self.ratio),
            self.effective_from(),
            self.source
        )
    }
}

/// The thresholds in effect on `day`: of each program, tier and level, the latest that has
/// started.
pub fn in_effect(day: Date) -> Vec<&'static Program> {
    let mut out: Vec<&'static Program> = Vec::new();
    for p in PROGRAMS.iter().filter(|p| p.effective_from() <= day) {
        out.retain(|q| (q.name, q.tier, q.level) != (p.name, p.tier, p.level));
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Date {
        Date::from_ymd(y, m, d).unwrap()
    }

    #[test]
    fn the_program_in_effect_follows_its_dates() {
        let visa = |d: Date| {
            in_effect(d)
                .into_iter()
                .find(|p| p.network == "visa" && p.level == Level::Merchant)
                .map(|p| p.ratio)
        };
        assert_eq!(visa(day(2025, 5, 31)), None, "VDMP and VFMP were retired, VAMP not yet enforced");
        assert_eq!(visa(day(2025, 6, 1)), Some(0.022));
        assert_eq!(visa(day(2026, 3, 31)), Some(0.022));
        assert_eq!(visa(day(2026, 4, 1)), Some(0.015));
        let mc = in_effect(day(2026, 12, 1)).into_iter().find(|p| p.network == "mastercard").unwrap();
        assert_eq!((mc.ratio, mc.floor), (0.015, Floor::Count { per_month: 100.0, strictly_above: false }));
        let portfolio: Vec<(f64, &str)> = in_effect(day(2026, 12, 1))
            .into_iter()
            .filter(|p| p.level == Level::Portfolio)
            .map(|p| (p.ratio, p.tier))
            .collect();
        assert_eq!(portfolio, vec![(0.003, "above standard"), (0.005, "excessive")]);
    }
}
