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
}

impl Measure {
    /// The ratio in words.
    pub fn text(self) -> &'static str {
        match self {
            Measure::FraudAndDisputesPerSettled => "(fraud reports + disputes) / settled transactions",
            Measure::ChargebacksPerTransactions => "chargebacks / transactions",
        }
    }

    /// What the count threshold counts.
    pub fn counted(self) -> &'static str {
        match self {
            Measure::FraudAndDisputesPerSettled => "fraud reports and disputes",
            Measure::ChargebacksPerTransactions => "chargebacks",
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

/// A merchant threshold of a network's program, in effect from a day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Program {
    /// The network (`visa`, `mastercard`).
    pub network: &'static str,
    /// The program's name.
    pub name: &'static str,
    /// How its ratio is computed.
    pub measure: Measure,
    /// The ratio at or above which a merchant is identified.
    pub ratio: f64,
    /// The monthly count above which the ratio applies (`count_strictly_above`) or at which
    /// it starts to (otherwise).
    pub count_per_month: f64,
    /// Whether the count must exceed `count_per_month` (VAMP: "greater than 1,500").
    pub count_strictly_above: bool,
    /// The first day the thresholds apply (year, month, day).
    pub effective: (i32, u32, u32),
    /// Where the thresholds come from, and their scope.
    pub source: &'static str,
}

/// The programs, oldest first per network. Visa retired its Dispute (VDMP) and Fraud (VFMP)
/// Monitoring Programs on 2025-04-01; VAMP's merchant "excessive" threshold was 2.2% from
/// 2025-06-01 and is 1.5% from 2026-04-01 (outside MENA, where other counts apply).
pub const PROGRAMS: [Program; 3] = [
    Program {
        network: "visa",
        name: "Visa Acquirer Monitoring Program (VAMP)",
        measure: Measure::FraudAndDisputesPerSettled,
        ratio: 0.022,
        count_per_month: 1500.0,
        count_strictly_above: true,
        effective: (2025, 6, 1),
        source: "Visa's VAMP merchant excessive threshold as announced to acquirers, outside MENA",
    },
    Program {
        network: "visa",
        name: "Visa Acquirer Monitoring Program (VAMP)",
        measure: Measure::FraudAndDisputesPerSettled,
        ratio: 0.015,
        count_per_month: 1500.0,
        count_strictly_above: true,
        effective: (2026, 4, 1),
        source: "Visa's VAMP merchant excessive threshold as announced to acquirers, global excluding MENA",
    },
    Program {
        network: "mastercard",
        name: "Mastercard Excessive Chargeback Merchant program (ECM)",
        measure: Measure::ChargebacksPerTransactions,
        ratio: 0.015,
        count_per_month: 100.0,
        count_strictly_above: false,
        effective: (2019, 1, 1),
        source: "Mastercard Security Rules and Procedures, Excessive Chargeback Program",
    },
];

impl Program {
    /// The first day the thresholds apply.
    pub fn effective_from(&self) -> Date {
        let (y, m, d) = self.effective;
        Date::from_ymd(y, m, d).unwrap_or(Date(0))
    }

    /// The thresholds in words (`… ≥ 1.50% with more than 1,500 a month, in effect from …`).
    pub fn thresholds_text(&self, pct: impl Fn(f64) -> String, int: impl Fn(u64) -> String) -> String {
        let count = int(self.count_per_month as u64);
        let bound = if self.count_strictly_above {
            format!("more than {count}")
        } else {
            format!("at least {count}")
        };
        format!(
            "{}: {} of {} or more with {bound} {} a month, in effect from {} ({})",
            self.name,
            self.measure.text(),
            pct(self.ratio),
            self.measure.counted(),
            self.effective_from(),
            self.source
        )
    }
}

/// The programs in effect on `day`: per network, the latest that has started.
pub fn in_effect(day: Date) -> Vec<&'static Program> {
    let mut out: Vec<&'static Program> = Vec::new();
    for p in PROGRAMS.iter().filter(|p| p.effective_from() <= day) {
        out.retain(|q| q.network != p.network);
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
        let visa = |d: Date| in_effect(d).into_iter().find(|p| p.network == "visa").map(|p| p.ratio);
        assert_eq!(visa(day(2025, 5, 31)), None, "VDMP and VFMP were retired, VAMP not yet enforced");
        assert_eq!(visa(day(2025, 6, 1)), Some(0.022));
        assert_eq!(visa(day(2026, 3, 31)), Some(0.022));
        assert_eq!(visa(day(2026, 4, 1)), Some(0.015));
        let mc = in_effect(day(2026, 12, 1)).into_iter().find(|p| p.network == "mastercard").unwrap();
        assert_eq!((mc.ratio, mc.count_per_month), (0.015, 100.0));
    }
}
