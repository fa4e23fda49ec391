//! Retrieval: definitions from the built-in knowledge base (response codes, reason codes,
//! MCCs, the metric glossary), how often the bank sees the code, and the closest documents
//! of the knowledge base and the bank's own reports for free-text lookups.

use std::collections::BTreeMap;

use super::{knowledge, query, Input, Output};
use crate::error::Result;
use crate::query::answer::{int, pct, AnswerMetric, Evidence};
use crate::query::question::LookupTarget;
use crate::store::metric::{Dimension, Filter, Metric, MetricQuery, Unit};

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let mut out = Output::default();
    let kb = |detail: String| Evidence {
        agent: "retrieval".into(),
        metric: None,
        source: "knowledge_base".into(),
        facts_scanned: 0,
        coverage: None,
        detail: Some(detail),
    };
    match &q.lookup {
        Some(LookupTarget::ResponseCode(code)) => {
            let meaning = knowledge::response_code(code);
            out.sentences.push(match meaning {
                Some(m) => format!("Response code {code} means \"{m}\"."),
                None => format!("Response code {code} is not a standard ISO 8583 code; it may be network- or processor-specific."),
            });
            usage(input, Dimension::ResponseCode, code, Metric::TransactionCount, "authorizations", &mut out)
                .await?;
            out.evidence.push(kb(format!("ISO 8583 response code {code}")));
            out.followups.push("Top 5 decline reasons in the last 30 days".into());
        }
        Some(LookupTarget::ReasonCode(code)) => {
            out.sentences.push(match knowledge::reason_code(code) {
                Some((network, m)) => format!("{network} chargeback reason code {code} means \"{m}\"."),
                None => format!(
                    "Reason code {code} is not in the knowledge base of Visa, Mastercard and Amex codes."
                ),
            });
            usage(input, Dimension::ReasonCode, code, Metric::ChargebackCount, "chargebacks", &mut out)
                .await?;
            out.evidence.push(kb(format!("chargeback reason code {code}")));
        }
        Some(LookupTarget::Mcc(code)) => {
            out.sentences.push(match knowledge::mcc(code) {
                Some(d) => format!("MCC {code} is \"{d}\"."),
                None => format!("MCC {code} is not in the knowledge base."),
            });
            usage(input, Dimension::Mcc, code, Metric::TransactionCount, "authorizations", &mut out).await?;
            out.evidence.push(kb(format!("merchant category code {code}")));
        }
        Some(LookupTarget::Term(term)) => {
            let text =
                term.parse::<Metric>().map(knowledge::glossary).ok().map(str::to_owned).or_else(|| {
                    knowledge::TERMS
                        .iter()
                        .find(|(t, _)| t.eq_ignore_ascii_case(term))
                        .map(|(_, d)| (*d).to_owned())
                });
            match text {
                Some(t) => out.sentences.push(capitalize_first(&t) + if t.ends_with('.') { "" } else { "." }),
                None => return search(input, out).await,
            }
            out.evidence.push(kb(format!("glossary: {term}")));
        }
        None => return search(input, out).await,
    }
    Ok(out)
}

fn capitalize_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// How often the bank's data carries a code over the question's range.
async fn usage(
    input: &Input<'_>,
    dim: Dimension,
    code: &str,
    metric: Metric,
    noun: &str,
    out: &mut Output,
) -> Result<()> {
    let range = input.q.time.range;
    let all = query(input, &MetricQuery::new([metric], range)).await?;
    let with = query(input, &MetricQuery::new([metric], range).filter(Filter::eq(dim, code))).await?;
    let (n, total) =
        (with.rows[0].values[0].count().unwrap_or(0), all.rows[0].values[0].count().unwrap_or(0));
    let d = BTreeMap::from([(dim.as_str().to_owned(), code.to_owned())]);
    out.metrics.push(AnswerMetric::number(metric.as_str(), n as f64, Unit::Count, &d, None));
    out.metrics.push(AnswerMetric::number(
        metric.as_str(),
        total as f64,
        Unit::Count,
        &BTreeMap::new(),
        None,
    ));
    out.sample = Some((n, total.max(n)));
    if total > 0 {
        let share = n as f64 / total as f64;
        out.metrics.push(AnswerMetric::number(
            &format!("{}_share", metric.as_str()),
            share,
            Unit::Ratio,
            &d,
            None,
        ));
        out.sentences.push(format!(
            "Over {}, it appears on {} of your {} {noun} ({}).",
            range.display_days(),
            int(n),
            int(total),
            pct(share)
        ));
    }
    out.evidence.push(Evidence {
        agent: "retrieval".into(),
        metric: Some(metric.as_str().into()),
        source: with.source.as_str().into(),
        facts_scanned: with.facts_scanned + all.facts_scanned,
        coverage: None,
        detail: None,
    });
    Ok(())
}

/// Free-text lookup: the closest knowledge-base entries and the bank's own documents.
async fn search(input: &Input<'_>, mut out: Output) -> Result<Output> {
    let vector = input.embedder.embed(std::slice::from_ref(&input.q.text)).await?.remove(0);
    let mut hits = input.knowledge.search(&vector, 3);
    // The bank's own documents are a bonus: when their index is down, the knowledge base
    // still answers.
    match input.stores.vectors.query(input.ctx, &vector, 2).await {
        Ok(own) => hits.extend(own),
        Err(e) => tracing::warn!(error = %e, "the vector index failed; answering from the knowledge base"),
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    let best: Vec<_> = hits.into_iter().filter(|h| h.score > 0.2).take(2).collect();
    if best.is_empty() {
        out.sentences.push("I found nothing in the knowledge base or your reports that matches.".into());
    } else {
        for h in &best {
            out.evidence.push(Evidence {
                agent: "retrieval".into(),
                metric: None,
                source: h.metadata.get("source").cloned().unwrap_or_else(|| "documents".into()),
                facts_scanned: 0,
                coverage: None,
                detail: Some(h.text.clone()),
            });
        }
        out.sentences.push(format!(
            "From the knowledge base: {}",
            best.iter().map(|h| h.text.clone()).collect::<Vec<_>>().join(" ")
        ));
    }
    Ok(out)
}
