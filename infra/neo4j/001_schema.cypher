// PayScope's graph schema (Neo4j 5; constraints need 4.4+ syntax). Applied by
// `payscope-http migrate` when NEO4J_URI is set, or by hand:
//   cypher-shell -a "$NEO4J_URI" -u "$NEO4J_USER" -p "$NEO4J_PASSWORD" -f infra/neo4j/001_schema.cypher
// Every node carries its bank in `bank_id` and a `key` of "<bank_id>:<id>", so one bank's
// nodes can never be merged into another's. Each statement is idempotent.

CREATE CONSTRAINT payscope_bank_id IF NOT EXISTS FOR (b:Bank) REQUIRE b.id IS UNIQUE;
CREATE CONSTRAINT payscope_merchant_key IF NOT EXISTS FOR (m:Merchant) REQUIRE m.key IS UNIQUE;
CREATE CONSTRAINT payscope_card_key IF NOT EXISTS FOR (c:Card) REQUIRE c.key IS UNIQUE;
CREATE CONSTRAINT payscope_network_key IF NOT EXISTS FOR (n:Network) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT payscope_issuer_bin_key IF NOT EXISTS FOR (i:IssuerBin) REQUIRE i.key IS UNIQUE;
CREATE INDEX payscope_card_bank IF NOT EXISTS FOR (c:Card) ON (c.bank_id);
CREATE INDEX payscope_merchant_bank IF NOT EXISTS FOR (m:Merchant) ON (m.bank_id);
