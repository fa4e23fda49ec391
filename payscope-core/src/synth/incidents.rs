//! Incidents planted in generated data — the truth an analysis must find. Each is applied while
//! the data is generated, from the seed, so a planted data set and its clean twin differ only
//! where the incident acts.

use crate::calendar::{Date, Timestamp, MS_PER_DAY};
use crate::facts::Network;

/// An incident and where it acts.
#[derive(Debug, Clone, PartialEq)]
pub enum Incident {
    /// An issuer or switch outage: a share of the network's authorizations on the days is
    /// declined with one code.
    Outage {
        /// The network whose authorizations fail.
        network: Network,
        /// The decline code they get.
        code: &'static str,
        /// The first day.
        from: Date,
        /// How many days.
        days: u32,
        /// The share of authorizations declined (0–1).
        share: f64,
    },
    /// A fraud burst at one merchant: extra e-commerce sales on a day, all later reported as
    /// fraud.
    FraudBurst {
        /// The merchant, an index into the bank's merchants.
        merchant: u32,
        /// The day.
        day: Date,
        /// How many fraudulent sales.
        cases: u32,
    },
    /// The network's transactions authorized on the days settle later than usual.
    SettlementDelay {
        /// The network.
        network: Network,
        /// The first day of authorizations affected.
        from: Date,
        /// How many days.
        days: u32,
        /// The extra hours before settlement.
        hours: u32,
    },
    /// The network's approvals drift down: from a day on, the chance of a decline (code 05)
    /// grows each day.
    Drift {
        /// The network.
        network: Network,
        /// The first day.
        from: Date,
        /// The growth of the decline chance per day (0.003 adds 0.3 points a day).
        per_day: f64,
    },
}

impl Incident {
    /// The classic outage of the sample data: Mastercard, code 91, 45% of authorizations on
    /// the Tuesday and Wednesday of the last full week before `end`.
    pub fn last_week_outage(end: Date) -> Incident {
        let monday = end.add_days(-(end.weekday() as i32) - 7);
        Incident::Outage {
            network: Network::Mastercard,
            code: "91",
            from: monday.add_days(1),
            days: 2,
            share: 0.45,
        }
    }

    /// The days `[from, from + days)` as instants.
    fn window(from: Date, days: u32) -> (Timestamp, Timestamp) {
        (from.start(), Timestamp(from.start().0 + days as i64 * MS_PER_DAY))
    }

    /// The decline code and its probability this incident puts on an authorization at `at`
    /// on `network`, if it acts there.
    pub(crate) fn decline(&self, at: Timestamp, network: &Network) -> Option<(&'static str, f64)> {
        match self {
            Incident::Outage { network: n, code, from, days, share } if n == network => {
                let (a, b) = Self::window(*from, *days);
                (at >= a && at < b).then_some((*code, *share))
            }
            Incident::Drift { network: n, from, per_day } if n == network && at >= from.start() => {
                let days = (at.0 - from.start().0) / MS_PER_DAY + 1;
                Some(("05", (per_day * days as f64).min(0.9)))
            }
            _ => None,
        }
    }

    /// Hours added to the settlement of a transaction authorized at `at` on `network`.
    pub(crate) fn settlement_delay(&self, at: Timestamp, network: &Network) -> i64 {
        match self {
            Incident::SettlementDelay { network: n, from, days, hours } if n == network => {
                let (a, b) = Self::window(*from, *days);
                if at >= a && at < b {
                    *hours as i64
                } else {
                    0
                }
            }
            _ => 0,
        }
    }
}
