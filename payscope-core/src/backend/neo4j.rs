//! Neo4j (feature `neo4j`, neo4rs over Bolt 4.x): the [`GraphStore`] of production.
//!
//! Every node carries `bank_id` and a `key` of `"<bank_id>:<id>"` (unique, see
//! `infra/neo4j/001_schema.cypher`), so queries reach one bank's nodes only. Batches are
//! merged with `UNWIND` — nodes by key, edges by their end nodes — and edge properties are
//! minima and maxima, so replaying a batch changes nothing. Cards are `Card` nodes with
//! `first_fraud_at`; edges are `VISITED` (card → merchant), `ACCEPTS` (merchant → network)
//! and `ISSUED_BY` (card → issuer BIN). Timestamps are stored as the integers of
//! [`Timestamp`].

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use neo4rs::{BoltType, ConfigBuilder, Graph, Query};
use secrecy::ExposeSecret;

use crate::bank::BankContext;
use crate::calendar::Timestamp;
use crate::config::Neo4jSettings;
use crate::error::{Error, Result};
use crate::store::graph::{rank_cpp, CppQuery, CppRow, GraphBatch, GraphStore, Relationship};
use crate::store::Probe;

/// The schema, applied by [`Neo4j::apply_schema`].
pub const SCHEMA: &str = include_str!("../../../infra/neo4j/001_schema.cypher");

/// Rows per `UNWIND` statement.
pub const BATCH: usize = 1000;

/// How long one statement may take before the call fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The Cypher statements the adapter runs (public so the protocol tests can script them).
pub mod cypher {
    /// The bank's own node.
    pub const BANK: &str = "MERGE (b:Bank {id: $bank})";
    /// Merchants, keeping the first known name, MCC and country.
    pub const MERCHANTS: &str = "UNWIND $rows AS r \
MERGE (m:Merchant {key: r.key}) ON CREATE SET m.bank_id = $bank, m.merchant_id = r.merchant_id \
SET m.name = coalesce(m.name, r.name), m.mcc = coalesce(m.mcc, r.mcc), m.country = coalesce(m.country, r.country)";
    /// Cards with their earliest fraud, issuer BIN and network.
    pub const CARDS: &str = "UNWIND $rows AS r \
MERGE (c:Card {key: r.key}) ON CREATE SET c.bank_id = $bank, c.token = r.token \
SET c.network = coalesce(c.network, r.network), c.issuer_bin = coalesce(c.issuer_bin, r.issuer_bin), \
c.first_fraud_at = CASE WHEN c.first_fraud_at IS NULL OR r.first_fraud_at < c.first_fraud_at \
THEN coalesce(r.first_fraud_at, c.first_fraud_at) ELSE c.first_fraud_at END \
WITH c, r WHERE r.issuer_bin IS NOT NULL \
MERGE (i:IssuerBin {key: $bank + ':' + r.issuer_bin}) ON CREATE SET i.bank_id = $bank, i.bin = r.issuer_bin \
MERGE (c)-[:ISSUED_BY]->(i)";
    /// Card → merchant visits, widened to the earliest first and latest last time seen.
    pub const VISITS: &str = "UNWIND $rows AS r \
MERGE (c:Card {key: r.card_key}) ON CREATE SET c.bank_id = $bank, c.token = r.card \
MERGE (m:Merchant {key: r.merchant_key}) ON CREATE SET m.bank_id = $bank, m.merchant_id = r.merchant_id \
MERGE (c)-[v:VISITED]->(m) ON CREATE SET v.first_at = r.first_at, v.last_at = r.last_at \
ON MATCH SET v.first_at = CASE WHEN r.first_at < v.first_at THEN r.first_at ELSE v.first_at END, \
v.last_at = CASE WHEN r.last_at > v.last_at THEN r.last_at ELSE v.last_at END";
    /// Merchant → network.
    pub const ACCEPTS: &str = "UNWIND $rows AS r \
MERGE (m:Merchant {key: r.merchant_key}) ON CREATE SET m.bank_id = $bank, m.merchant_id = r.merchant_id \
MERGE (n:Network {key: r.network_key}) ON CREATE SET n.bank_id = $bank, n.name = r.network \
MERGE (m)-[:ACCEPTS]->(n)";
    /// A merchant's networks.
    pub const NETWORKS_OF: &str = "MATCH (m:Merchant {key: $key})-[:ACCEPTS]->(n:Network) \
RETURN n.name AS network ORDER BY network LIMIT $limit";
    /// The cards that visited a merchant, latest first.
    pub const VISITORS_OF: &str = "MATCH (c:Card)-[v:VISITED]->(m:Merchant {key: $key}) \
RETURN c.token AS card, v.first_at AS first_at, v.last_at AS last_at \
ORDER BY last_at DESC, card LIMIT $limit";
    /// Per merchant: fraud cards that visited before their first fraud (in the window) and
    /// clean cards that visited, with the bank's totals of each.
    pub const CPP: &str = "MATCH (c:Card {bank_id: $bank}) \
WITH sum(CASE WHEN c.first_fraud_at >= $since THEN 1 ELSE 0 END) AS fraud_cards, \
sum(CASE WHEN c.first_fraud_at IS NULL THEN 1 ELSE 0 END) AS other_cards \
MATCH (c:Card {bank_id: $bank})-[v:VISITED]->(m:Merchant) \
WITH fraud_cards, other_cards, m, \
sum(CASE WHEN c.first_fraud_at >= $since AND v.first_at < c.first_fraud_at THEN 1 ELSE 0 END) AS fraud_visited, \
sum(CASE WHEN c.first_fraud_at IS NULL THEN 1 ELSE 0 END) AS other_visited \
WHERE fraud_visited >= $min_fraud_cards \
RETURN m.merchant_id AS merchant_id, m.name AS merchant_name, fraud_visited, fraud_cards, other_visited, other_cards";
    /// The readiness round trip.
    pub const PING: &str = "RETURN 1 AS ok";
}

/// A Neo4j database.
#[derive(Clone)]
pub struct Neo4j {
    graph: Graph,
}

impl std::fmt::Debug for Neo4j {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neo4j").finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::unavailable("neo4j", e)
}

fn key(ctx: &BankContext, id: &str) -> String {
    format!("{}:{id}", ctx.bank_id())
}

/// A row of an `UNWIND` batch.
fn row<const N: usize>(fields: [(&str, BoltType); N]) -> BoltType {
    let map: HashMap<&str, BoltType> = fields.into_iter().collect();
    BoltType::from(map)
}

fn text(s: &str) -> BoltType {
    BoltType::from(s)
}

fn optional(s: Option<&str>) -> BoltType {
    BoltType::from(s.map(str::to_owned))
}

impl Neo4j {
    /// A pool of at most `max_connections` connections to `settings.uri` (opened on first
    /// use: a Neo4j that is down shows in readiness instead of stopping start-up).
    pub async fn connect(settings: &Neo4jSettings, max_connections: usize) -> Result<Neo4j> {
        let config = ConfigBuilder::default()
            .uri(settings.uri.as_str())
            .user(settings.user.as_str())
            .password(settings.password.expose_secret())
            .max_connections(max_connections)
            .build()
            .map_err(|e| Error::invalid("invalid_config", format!("NEO4J_URI: {e}")))?;
        let graph = Graph::connect(config).await.map_err(unavailable)?;
        Ok(Neo4j { graph })
    }

    async fn run(&self, query: Query) -> Result<()> {
        within_timeout(self.graph.run(query)).await
    }

    async fn rows(&self, query: Query) -> Result<Vec<neo4rs::Row>> {
        let fetch = async {
            let mut stream = self.graph.execute(query).await?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await? {
                rows.push(row);
            }
            Ok::<_, neo4rs::Error>(rows)
        };
        within_timeout(fetch).await
    }

    /// Applies `infra/neo4j/001_schema.cypher` (idempotent); returns the statements run.
    pub async fn apply_schema(&self) -> Result<usize> {
        let statements = schema_statements(SCHEMA);
        for statement in &statements {
            self.run(neo4rs::query(statement)).await?;
        }
        Ok(statements.len())
    }

    async fn unwind(&self, ctx: &BankContext, statement: &str, rows: Vec<BoltType>) -> Result<()> {
        for chunk in rows.chunks(BATCH) {
            let query = neo4rs::query(statement)
                .param("bank", ctx.bank_id().to_string())
                .param("rows", chunk.to_vec());
            self.run(query).await?;
        }
        Ok(())
    }
}

/// A call's result, or `neo4j unavailable` when it takes longer than [`CALL_TIMEOUT`].
async fn within_timeout<T>(call: impl std::future::Future<Output = neo4rs::Result<T>>) -> Result<T> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(unavailable),
        Err(_) => Err(unavailable(format!("no answer within {} s", CALL_TIMEOUT.as_secs()))),
    }
}

/// The statements of a schema file: `;`-terminated, `//` comment lines dropped.
pub fn schema_statements(schema: &str) -> Vec<String> {
    let code: String = schema
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{}\n", l.trim()))
        .collect();
    code.split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

fn get<'a, T: serde::Deserialize<'a>>(row: &'a neo4rs::Row, column: &str) -> Result<T> {
    row.get(column).map_err(|e| unavailable(format!("unexpected value in column {column}: {e}")))
}

#[async_trait]
impl GraphStore for Neo4j {
    async fn upsert(&self, ctx: &BankContext, batch: &GraphBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.run(neo4rs::query(cypher::BANK).param("bank", ctx.bank_id().to_string())).await?;
        let merchants = batch
            .merchants
            .iter()
            .map(|m| {
                row([
                    ("key", text(&key(ctx, &m.merchant_id))),
                    ("merchant_id", text(&m.merchant_id)),
                    ("name", optional(m.name.as_deref())),
                    ("mcc", optional(m.mcc.as_deref())),
                    ("country", optional(m.country.as_deref())),
                ])
            })
            .collect();
        self.unwind(ctx, cypher::MERCHANTS, merchants).await?;
        let cards = batch
            .cards
            .iter()
            .map(|c| {
                let token = c.card.to_string();
                row([
                    ("key", text(&key(ctx, &token))),
                    ("token", text(&token)),
                    ("network", optional(c.network.as_deref())),
                    ("issuer_bin", optional(c.issuer_bin.as_deref())),
                    ("first_fraud_at", BoltType::from(c.first_fraud_at.map(|t| t.0))),
                ])
            })
            .collect();
        self.unwind(ctx, cypher::CARDS, cards).await?;
        let visits = batch
            .visits
            .iter()
            .map(|v| {
                let token = v.card.to_string();
                row([
                    ("card_key", text(&key(ctx, &token))),
                    ("card", text(&token)),
                    ("merchant_key", text(&key(ctx, &v.merchant_id))),
                    ("merchant_id", text(&v.merchant_id)),
                    ("first_at", BoltType::from(v.first_at.0)),
                    ("last_at", BoltType::from(v.last_at.0)),
                ])
            })
            .collect();
        self.unwind(ctx, cypher::VISITS, visits).await?;
        let accepts = batch
            .accepts
            .iter()
            .map(|a| {
                row([
                    ("merchant_key", text(&key(ctx, &a.merchant_id))),
                    ("merchant_id", text(&a.merchant_id)),
                    ("network_key", text(&key(ctx, &a.network))),
                    ("network", text(&a.network)),
                ])
            })
            .collect();
        self.unwind(ctx, cypher::ACCEPTS, accepts).await
    }

    async fn merchant_relationships(
        &self,
        ctx: &BankContext,
        merchant_id: &str,
        limit: usize,
    ) -> Result<Vec<Relationship>> {
        let max = i64::try_from(limit).unwrap_or(i64::MAX);
        let merchant = key(ctx, merchant_id);
        let networks = self
            .rows(neo4rs::query(cypher::NETWORKS_OF).param("key", merchant.as_str()).param("limit", max))
            .await?;
        let mut out = networks
            .iter()
            .map(|r| {
                Ok(Relationship {
                    kind: "ACCEPTS".into(),
                    other_label: "Network".into(),
                    other_id: get(r, "network")?,
                    first_at: None,
                    last_at: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let visitors = self
            .rows(neo4rs::query(cypher::VISITORS_OF).param("key", merchant.as_str()).param("limit", max))
            .await?;
        for r in &visitors {
            out.push(Relationship {
                kind: "VISITED".into(),
                other_label: "Card".into(),
                other_id: get(r, "card")?,
                first_at: Some(Timestamp(get(r, "first_at")?)),
                last_at: Some(Timestamp(get(r, "last_at")?)),
            });
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn common_point_of_purchase(&self, ctx: &BankContext, q: &CppQuery) -> Result<Vec<CppRow>> {
        // All time is every fraud since the earliest valid timestamp.
        let since = q.fraud_since.unwrap_or(Timestamp::MIN_VALID).0;
        let min = i64::try_from(q.min_fraud_cards.max(1)).unwrap_or(i64::MAX);
        let query = neo4rs::query(cypher::CPP)
            .param("bank", ctx.bank_id().to_string())
            .param("since", since)
            .param("min_fraud_cards", min);
        let count = |r: &neo4rs::Row, column: &str| get::<i64>(r, column).map(|n| n.max(0) as u64);
        let mut rows = self
            .rows(query)
            .await?
            .iter()
            .map(|r| {
                let (f, fraud_cards) = (count(r, "fraud_visited")?, count(r, "fraud_cards")?);
                let (o, other_cards) = (count(r, "other_visited")?, count(r, "other_cards")?);
                Ok(CppRow {
                    merchant_id: get(r, "merchant_id")?,
                    merchant_name: get(r, "merchant_name")?,
                    fraud_cards_visited: f,
                    fraud_cards,
                    other_cards_visited: o,
                    other_cards,
                    lift: CppRow::lift(f, fraud_cards, o, other_cards),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        rank_cpp(&mut rows);
        rows.truncate(q.limit);
        Ok(rows)
    }
}

#[async_trait]
impl Probe for Neo4j {
    fn dependency(&self) -> &'static str {
        "neo4j"
    }
    fn required(&self) -> bool {
        // Only relationship questions need the graph; ingestion logs and skips its updates.
        false
    }
    async fn check(&self) -> Result<()> {
        self.rows(neo4rs::query(cypher::PING)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_file_splits_into_its_statements() {
        let statements = schema_statements(SCHEMA);
        assert_eq!(statements.len(), 7);
        assert!(statements.iter().all(|s| s.starts_with("CREATE ") && s.contains("IF NOT EXISTS")));
    }
}
