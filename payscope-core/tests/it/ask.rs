//! Questions end to end on the engine over the synthetic dataset.

use std::sync::OnceLock;

use payscope_core::bank::{BankContext, Role};
use payscope_core::calendar::Timestamp;
use payscope_core::facts::{ReportOptions, ReportType, Stage};
use payscope_core::query::{Intent, Query};
use payscope_core::synth::files::{write_report, Layout};
use payscope_core::Engine;

use crate::fixtures::dataset;

/// An engine loaded with the dataset's banks through their report files.
pub async fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return e;
    }
    let engine = Engine::in_memory();
    let data = dataset();
    for bank in &data.banks {
        let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
        for stage in Stage::ALL {
            let mut bytes = Vec::new();
            write_report(bank, stage, Layout::Jsonl, &data.key, &mut bytes).unwrap();
            let r = engine
                .ingest(&ctx, bytes, ReportOptions { report_type: ReportType::Auto, ..Default::default() })
                .await
                .unwrap();
            assert_eq!(r.rows_rejected, 0);
        }
    }
    let _ = ENGINE.set(engine);
    ENGINE.get().unwrap()
}

pub fn analyst(i: usize) -> BankContext {
    BankContext::embedded(dataset().banks[i].bank_id, [Role::Analyst, Role::Auditor])
}

pub fn as_of() -> Timestamp {
    dataset().banks[0].as_of
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_questions_get_grounded_answers() {
    let logs = crate::logs::capture();
    let engine = engine().await;
    let ctx = analyst(0);
    let questions = [
        ("What is the transaction volume?", Intent::Describe),
        ("Approval rate for Visa last week", Intent::Describe),
        ("Compare Visa vs Mastercard approval rates", Intent::Compare),
        ("Which merchants have the highest chargebacks?", Intent::Breakdown),
        ("Top 5 decline reasons in October", Intent::Breakdown),
        ("Why did settlement amounts drop last week?", Intent::Why),
        ("Show me the decline patterns after 10 PM", Intent::Breakdown),
        ("What's the forecast for next month?", Intent::Forecast),
        ("What if fraud increases 20%?", Intent::WhatIf),
        ("How many authorizations are not settled yet?", Intent::Reconcile),
        ("What does response code 51 mean?", Intent::Lookup),
        ("Which merchants did our fraud cards have in common before the fraud?", Intent::Relationship),
        ("Show the daily trend of approval rate last month", Intent::Trend),
        ("Any unusual spikes in declines last month?", Intent::Anomaly),
        ("What's the weather in Paris?", Intent::Unsupported),
    ];
    for (text, intent) in questions {
        let a = engine.ask(&ctx, Query::new(text).as_of(as_of())).await.unwrap();
        println!(
            "\n## {text}\n{} [{}; {:?}; confidence {}]\nwarnings: {:?}",
            a.summary,
            a.intent.as_str(),
            a.agents_invoked,
            a.confidence,
            a.warnings
        );
        assert_eq!(a.intent, intent, "{text}: {}", a.summary);
        assert!(!a.summary.is_empty());
        let g = payscope_core::query::answer::Grounding::of(&a, text);
        assert!(
            g.ungrounded(&a.summary).is_empty(),
            "{text}: ungrounded {:?} in {}",
            g.ungrounded(&a.summary),
            a.summary
        );
        assert!(
            !a.warnings.iter().any(|w| w.contains("withheld") || w.contains("failed")),
            "{text}: {:?}\n{}",
            a.warnings,
            logs.text().lines().filter(|l| l.contains("withheld")).collect::<Vec<_>>().join("\n")
        );
        if intent == Intent::Unsupported {
            assert!(a.confidence <= 0.3 && a.metrics.is_empty());
        }
    }
}

/// A card number typed into a question is redacted before anything else sees it: the answer,
/// its audit record and the logs never hold it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_in_a_question_goes_nowhere() {
    let logs = crate::logs::capture();
    let engine = engine().await;
    let ctx = analyst(0);
    let pan = "4111 1111 1111 1111";
    let text = format!("What is the transaction volume for card {pan}?");
    let a = engine.ask(&ctx, Query::new(&text).as_of(as_of())).await.unwrap();
    let record = engine.audit_entry(&ctx, a.answer_id).await.unwrap();
    let stored = serde_json::to_string(&record).unwrap();
    for (what, s) in
        [("answer", serde_json::to_string(&a).unwrap()), ("audit record", stored), ("logs", logs.text())]
    {
        assert!(
            !s.replace([' ', '-'], "").contains("4111111111111111"),
            "the card number reached the {what}"
        );
    }
    assert!(serde_json::to_string(&record).unwrap().contains("411111"), "the question is kept, masked");
}

/// "Excluding Visa" is answered for the other networks — never for Visa — and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exclusion_is_answered_as_asked() {
    use payscope_core::store::metric::{Dimension, Filter, Metric, MetricQuery};
    let engine = engine().await;
    let ctx = analyst(0);
    let a =
        engine.ask(&ctx, Query::new("Approval rate excluding Visa last week").as_of(as_of())).await.unwrap();
    let rate =
        a.metrics.iter().find(|m| m.name == "approval_rate").and_then(|m| m.value).expect("an approval rate");
    let q = MetricQuery::new(vec![Metric::ApprovalRate], a.time_range)
        .filter(Filter::none_of(Dimension::Network, vec!["visa".into()]));
    let want = engine.stores().metrics.query(&ctx, &q).await.unwrap().rows[0].values[0].as_f64().unwrap();
    assert!((rate - want).abs() < 1e-4, "{rate} against {want}: {}", a.summary);
    let visa = MetricQuery::new(vec![Metric::ApprovalRate], a.time_range)
        .filter(Filter::eq(Dimension::Network, "visa"));
    let for_visa =
        engine.stores().metrics.query(&ctx, &visa).await.unwrap().rows[0].values[0].as_f64().unwrap();
    assert!((rate - for_visa).abs() > 1e-3, "the answer is Visa's own rate");
    assert!(a.summary.contains("excluding Visa"), "{}", a.summary);
}

/// A question with words PayScope cannot place is asked back, never answered as another
/// question: no numbers, the words named, the closest answerable question offered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partly_understood_questions_are_asked_back() {
    let engine = engine().await;
    let ctx = analyst(0);
    for (text, word) in [
        ("What's the approval rate for customers over 65?", "customers"),
        ("Approval rate for payments made by phone last week", "phone"),
        ("How many transactions above 100?", "above 100 (in which currency?)"),
        ("Chargeback rate for premium cardholders", "premium"),
    ] {
        let a = engine.ask(&ctx, Query::new(text).as_of(as_of())).await.unwrap();
        assert_eq!(a.intent, Intent::Clarify, "{text}: {}", a.summary);
        assert!(a.metrics.is_empty() && a.series.is_empty() && a.forecast.is_none(), "{text}: numbers given");
        assert!(a.summary.contains(&format!("\"{word}\"")), "{text}: {}", a.summary);
        assert!(a.confidence <= 0.3 && !a.followups.is_empty(), "{text}: {a:?}");
    }
    let a = engine
        .ask(&ctx, Query::new("What's the approval rate for customers over 65?").as_of(as_of()))
        .await
        .unwrap();
    assert_eq!(a.followups[0], "What's the approval rate?", "{:?}", a.followups);
}

/// "Yesterday vs the same day last week" compares one day with one day, not with a week.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_is_compared_with_the_same_day_last_week() {
    use payscope_core::calendar::TimeRange;
    use payscope_core::store::metric::{Metric, MetricQuery};
    let engine = engine().await;
    let ctx = analyst(0);
    let a = engine
        .ask(&ctx, Query::new("Approved count yesterday vs the same day last week").as_of(as_of()))
        .await
        .unwrap();
    assert_eq!(a.intent, Intent::Compare, "{}", a.summary);
    let day = as_of().date();
    for (period, from) in [("current", day.add_days(-1)), ("previous", day.add_days(-8))] {
        let m = a
            .metrics
            .iter()
            .find(|m| m.name == "approved_count" && m.period.as_deref() == Some(period))
            .unwrap_or_else(|| panic!("no {period} approved_count in {:?}", a.metrics));
        let q = MetricQuery::new(vec![Metric::ApprovedCount], TimeRange::days(from, from.add_days(1)));
        let want = engine.stores().metrics.query(&ctx, &q).await.unwrap().rows[0].values[0].as_f64().unwrap();
        assert_eq!(m.value, Some(want), "{period}: {}", a.summary);
    }
}

/// "Top 5 merchants by approval rate with at least 100 transactions" ranks by approval rate
/// only the merchants with 100 transactions or more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranking_keeps_only_the_groups_meeting_its_condition() {
    use payscope_core::store::metric::{Dimension, Having, Metric, MetricQuery};
    let engine = engine().await;
    let ctx = analyst(0);
    let text = "Top 5 merchants by approval rate with at least 100 transactions last month";
    let a = engine.ask(&ctx, Query::new(text).as_of(as_of())).await.unwrap();
    assert_eq!(a.intent, Intent::Breakdown, "{}", a.summary);
    let q = MetricQuery::new([Metric::ApprovalRate], a.time_range)
        .group_by(Dimension::MerchantId)
        .having(Having::counts(Metric::TransactionCount, Some(100), None))
        .top(Metric::ApprovalRate, 5, true);
    let want = engine.stores().metrics.query(&ctx, &q).await.unwrap();
    let got: Vec<(String, Option<f64>)> = a
        .metrics
        .iter()
        .filter(|m| m.name == "approval_rate")
        .map(|m| {
            (
                m.dimensions.get("merchant_id").cloned().unwrap_or_default(),
                m.value.map(|v| (v * 1e4).round() / 1e4),
            )
        })
        .collect();
    let expected: Vec<(String, Option<f64>)> = want
        .rows
        .iter()
        .map(|r| {
            (r.group[0].clone().unwrap_or_default(), r.values[0].as_f64().map(|v| (v * 1e4).round() / 1e4))
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected, "{}", a.summary);
    assert!(a.summary.contains("with at least 100 authorization attempts"), "{}", a.summary);
}

/// A question about data the reports do not hold is unsupported, and says what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_about_data_the_reports_lack_are_unsupported() {
    let engine = engine().await;
    let ctx = analyst(0);
    for (text, missing) in [
        ("Approval rate for payments made with Apple Pay last week", "wallet"),
        ("What is the average age of our cardholders?", "ages"),
        ("What is our dispute win rate?", "dispute outcomes"),
        ("How many transactions did the fraud rules engine block?", "fraud rules"),
    ] {
        let a = engine.ask(&ctx, Query::new(text).as_of(as_of())).await.unwrap();
        assert_eq!(a.intent, Intent::Unsupported, "{text}: {}", a.summary);
        assert!(a.metrics.is_empty() && a.confidence <= 0.3, "{text}: {a:?}");
        assert!(a.summary.contains(missing), "{text}: {}", a.summary);
    }
}

/// Disputes are measured against the network programs in effect at the end of the period,
/// named with their effective dates: Visa's VAMP (VDMP was retired in April 2025).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disputes_name_the_program_in_effect() {
    let engine = engine().await;
    let ctx = analyst(0);
    let a = engine
        .ask(&ctx, Query::new("Which merchants have the highest chargebacks?").as_of(as_of()))
        .await
        .unwrap();
    assert!(a.summary.contains("Visa Acquirer Monitoring Program (VAMP)"), "{}", a.summary);
    assert!(
        a.summary.contains("1.50% or more") && a.summary.contains("in effect from 2026-04-01"),
        "{}",
        a.summary
    );
    assert!(!a.summary.contains("Dispute Monitoring"), "{}", a.summary);
    let last_summer = payscope_core::calendar::Timestamp::parse_rfc3339("2025-08-01T00:00:00Z").unwrap();
    let a = engine
        .ask(&ctx, Query::new("Which merchants have the highest chargebacks?").as_of(last_summer))
        .await
        .unwrap();
    assert!(
        a.summary.contains("2.20% or more") && a.summary.contains("in effect from 2025-06-01"),
        "{}",
        a.summary
    );
}

/// Anomaly detection says which days it could judge: too little history or volume is stated,
/// never reported as "all normal".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomaly_answers_state_the_days_they_could_not_judge() {
    let engine = engine().await;
    let ctx = analyst(0);
    let judged = |a: &payscope_core::query::answer::Answer, name: &str| {
        a.metrics.iter().find(|m| m.name == name).and_then(|m| m.value).unwrap_or(-1.0)
    };
    // A week at the start of the data has no earlier weeks to judge against.
    let start = payscope_core::calendar::Timestamp(as_of().0 - 65 * payscope_core::calendar::MS_PER_DAY);
    let a = engine
        .ask(&ctx, Query::new("Any unusual days in transactions last week?").as_of(start))
        .await
        .unwrap();
    assert_eq!(a.intent, Intent::Anomaly, "{}", a.summary);
    assert_eq!(judged(&a, "days_judged"), 0.0, "{}", a.summary);
    assert!(a.summary.starts_with("Not enough history to judge"), "{}", a.summary);
    assert!(!a.summary.contains("within z"), "{}", a.summary);
    // Fraud cases are a handful a day: they are judged by their Poisson tail, and said to be.
    let a = engine
        .ask(&ctx, Query::new("Were there unusual days for fraud in October?").as_of(as_of()))
        .await
        .unwrap();
    assert_eq!(judged(&a, "days_judged"), 31.0, "{}", a.summary);
    assert!(a.summary.contains("Poisson tail"), "{}", a.summary);
    // Authorizations in the last week: every day judged.
    let a = engine
        .ask(&ctx, Query::new("Any unusual days in transactions last week?").as_of(as_of()))
        .await
        .unwrap();
    assert_eq!((judged(&a, "days_judged"), judged(&a, "days_not_judged")), (7.0, 0.0), "{}", a.summary);
}
