//! The words report headers are made of. A header is folded (lowercase, accents and
//! typographic apostrophes removed), split into tokens (at punctuation, spaces, camelCase
//! and, for German-style compounds, at known words) and each token is read as a [`W`]ord:
//! one concept, whatever the language (`montant`, `importe`, `Betrag`, `valor`, `importo` are
//! all [`W::Amount`]). The mapper scores columns on these words, never on raw spellings.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::money::Currency;

/// A concept a header token names.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum W {
    // What a row is about.
    Txn,
    Payment,
    Order,
    Invoice,
    Dispute,
    Chargeback,
    Refund,
    Settlement,
    Clearing,
    Authorization,
    Fraud,
    Source,
    Original,
    Modification,
    // Identifier words.
    Id,
    Reference,
    Number,
    Sequence,
    Key,
    Code,
    // Time.
    Date,
    Time,
    Timestamp,
    Created,
    Initiated,
    Booking,
    Due,
    Available,
    Zone,
    Year,
    Month,
    Day,
    Epoch,
    Activity,
    // Money.
    Amount,
    Gross,
    Net,
    Debit,
    Credit,
    Currency,
    Presentment,
    Billing,
    Minor,
    Fee,
    Interchange,
    // Card and network.
    Network,
    Card,
    Method,
    Variant,
    Pan,
    Bin,
    Token,
    Masked,
    Chip,
    Entry,
    Mode,
    Pos,
    Channel,
    // Outcome.
    Response,
    Status,
    Approval,
    Error,
    Reason,
    Result,
    Description,
    // Kind of row.
    Type,
    Record,
    Action,
    Category,
    Event,
    // Merchant.
    Merchant,
    Name,
    Acceptor,
    Dba,
    Store,
    Entity,
    Division,
    Account,
    Mcc,
    // Geography.
    Country,
    Issuer,
    Acquirer,
    // Specific identifiers.
    Arn,
    Rrn,
    Trace,
    Retrieval,
    Mid,
    // Flags.
    Is,
    Flag,
    // Words that mark a column as something else (vetoes).
    Terminal,
    Batch,
    Submission,
    Customer,
    Company,
    Expiry,
    Birth,
    Count,
    Rate,
    Balance,
    Tax,
    Tip,
    Cashback,
    Exchange,
    Score,
    Transfer,
    Payout,
    Unit,
    Qualification,
    Assessment,
    Security,
    Verification,
    Address,
    City,
    State,
    Zip,
    Email,
    Phone,
    Holder,
    Product,
    Usage,
    Level,
    Mandate,
    Fund,
    Total,
    Local,
    Processing,
    Deposit,
    Capture,
    Sale,
    File,
    Internal,
    Requestor,
    Authentication,
    Downgrade,
    Reject,
    First,
}

/// Tokens → words, every language in one table. Tokens are folded (see [`fold`]).
const WORDS: &[(&str, W)] = &[
    // Transaction.
    ("transaction", W::Txn),
    ("transactions", W::Txn),
    ("txn", W::Txn),
    ("txns", W::Txn),
    ("trans", W::Txn),
    ("tran", W::Txn),
    ("trx", W::Txn),
    ("tx", W::Txn),
    ("transaktion", W::Txn),
    ("transaktions", W::Txn),
    ("transaccion", W::Txn),
    ("transacciones", W::Txn),
    ("transacao", W::Txn),
    ("transacoes", W::Txn),
    ("transazione", W::Txn),
    ("transazioni", W::Txn),
    ("operation", W::Txn),
    ("operacion", W::Txn),
    ("operacao", W::Txn),
    ("operazione", W::Txn),
    ("vorgang", W::Txn),
    ("umsatz", W::Txn),
    ("nsu", W::Txn),
    ("payment", W::Payment),
    ("payments", W::Payment),
    ("pago", W::Payment),
    ("paiement", W::Payment),
    ("pagamento", W::Payment),
    ("zahlung", W::Payment),
    ("zahlungs", W::Payment),
    ("psp", W::Payment),
    ("charge", W::Payment),
    ("order", W::Order),
    ("orden", W::Order),
    ("commande", W::Order),
    ("pedido", W::Order),
    ("bestellung", W::Order),
    ("bestell", W::Order),
    ("ordine", W::Order),
    ("invoice", W::Invoice),
    ("factura", W::Invoice),
    ("facture", W::Invoice),
    ("rechnung", W::Invoice),
    ("fattura", W::Invoice),
    ("receipt", W::Invoice),
    ("dispute", W::Dispute),
    ("disputes", W::Dispute),
    ("disputa", W::Dispute),
    ("litige", W::Dispute),
    ("contestation", W::Dispute),
    ("reclamacion", W::Dispute),
    ("contestazione", W::Dispute),
    ("case", W::Dispute),
    ("chargeback", W::Chargeback),
    ("chargebacks", W::Chargeback),
    ("cb", W::Chargeback),
    ("contracargo", W::Chargeback),
    ("retrofacturation", W::Chargeback),
    ("impaye", W::Chargeback),
    ("ruckbuchung", W::Chargeback),
    ("rueckbuchung", W::Chargeback),
    ("refund", W::Refund),
    ("refunds", W::Refund),
    ("reembolso", W::Refund),
    ("remboursement", W::Refund),
    ("erstattung", W::Refund),
    ("ruckerstattung", W::Refund),
    ("rueckerstattung", W::Refund),
    ("rimborso", W::Refund),
    ("devolucion", W::Refund),
    ("devolucao", W::Refund),
    ("settlement", W::Settlement),
    ("settled", W::Settlement),
    ("settle", W::Settlement),
    ("liquidacion", W::Settlement),
    ("liquidation", W::Settlement),
    ("liquidacao", W::Settlement),
    ("reglement", W::Settlement),
    ("abrechnung", W::Settlement),
    ("regolamento", W::Settlement),
    ("funding", W::Settlement),
    ("clearing", W::Clearing),
    ("presentment", W::Presentment),
    ("compensacion", W::Clearing),
    ("compensacao", W::Clearing),
    ("authorization", W::Authorization),
    ("authorizations", W::Authorization),
    ("authorisation", W::Authorization),
    ("auth", W::Authorization),
    ("authorize", W::Authorization),
    ("authorized", W::Authorization),
    ("autorizacion", W::Authorization),
    ("autorisation", W::Authorization),
    ("autorizzazione", W::Authorization),
    ("autorizacao", W::Authorization),
    ("genehmigung", W::Authorization),
    ("autorisierung", W::Authorization),
    ("fraud", W::Fraud),
    ("fraude", W::Fraud),
    ("betrug", W::Fraud),
    ("frode", W::Fraud),
    ("tc40", W::Fraud),
    ("fraudulent", W::Fraud),
    ("source", W::Source),
    ("original", W::Original),
    ("orig", W::Original),
    ("origen", W::Original),
    ("modification", W::Modification),
    // Identifier words.
    ("id", W::Id),
    ("ids", W::Id),
    ("identifier", W::Id),
    ("identifiant", W::Id),
    ("identificador", W::Id),
    ("identificativo", W::Id),
    ("identificacion", W::Id),
    ("ident", W::Id),
    ("kennung", W::Id),
    ("uuid", W::Id),
    ("guid", W::Id),
    ("reference", W::Reference),
    ("ref", W::Reference),
    ("referencia", W::Reference),
    ("referenz", W::Reference),
    ("riferimento", W::Reference),
    ("number", W::Number),
    ("num", W::Number),
    ("no", W::Number),
    ("nr", W::Number),
    ("nro", W::Number),
    ("nummer", W::Number),
    ("numero", W::Number),
    ("n", W::Number),
    ("sequence", W::Sequence),
    ("seq", W::Sequence),
    ("secuencia", W::Sequence),
    ("sequencia", W::Sequence),
    ("key", W::Key),
    ("code", W::Code),
    ("codes", W::Code),
    ("codigo", W::Code),
    ("codice", W::Code),
    ("cod", W::Code),
    ("kode", W::Code),
    // Time.
    ("date", W::Date),
    ("dates", W::Date),
    ("datum", W::Date),
    ("fecha", W::Date),
    ("data", W::Date),
    ("dt", W::Date),
    ("time", W::Time),
    ("times", W::Time),
    ("zeit", W::Time),
    ("uhrzeit", W::Time),
    ("heure", W::Time),
    ("hora", W::Time),
    ("ora", W::Time),
    ("tm", W::Time),
    ("timestamp", W::Timestamp),
    ("ts", W::Timestamp),
    ("datetime", W::Timestamp),
    ("zeitstempel", W::Timestamp),
    ("horodatage", W::Timestamp),
    ("created", W::Created),
    ("creation", W::Created),
    ("create", W::Created),
    ("erstellt", W::Created),
    ("erstellung", W::Created),
    ("creacion", W::Created),
    ("creado", W::Created),
    ("criacao", W::Created),
    ("creazione", W::Created),
    ("initiate", W::Initiated),
    ("initiated", W::Initiated),
    ("initiation", W::Initiated),
    ("opened", W::Initiated),
    ("received", W::Initiated),
    ("booking", W::Booking),
    ("booked", W::Booking),
    ("buchung", W::Booking),
    ("buchungs", W::Booking),
    ("posting", W::Booking),
    ("posted", W::Booking),
    ("valuta", W::Booking),
    ("valuta", W::Currency),
    ("due", W::Due),
    ("vencimiento", W::Due),
    ("available", W::Available),
    ("zone", W::Zone),
    ("timezone", W::Zone),
    ("tz", W::Zone),
    ("zona", W::Zone),
    ("fuseau", W::Zone),
    ("year", W::Year),
    ("yr", W::Year),
    ("ano", W::Year),
    ("annee", W::Year),
    ("jahr", W::Year),
    ("anno", W::Year),
    ("month", W::Month),
    ("mes", W::Month),
    ("mois", W::Month),
    ("monat", W::Month),
    ("mese", W::Month),
    ("day", W::Day),
    ("dia", W::Day),
    ("jour", W::Day),
    ("tag", W::Day),
    ("giorno", W::Day),
    ("unix", W::Epoch),
    ("epoch", W::Epoch),
    ("activity", W::Activity),
    // Money.
    ("amount", W::Amount),
    ("amounts", W::Amount),
    ("amt", W::Amount),
    ("montant", W::Amount),
    ("importe", W::Amount),
    ("monto", W::Amount),
    ("betrag", W::Amount),
    ("valor", W::Amount),
    ("importo", W::Amount),
    ("value", W::Amount),
    ("gross", W::Gross),
    ("brut", W::Gross),
    ("bruto", W::Gross),
    ("brutto", W::Gross),
    ("lordo", W::Gross),
    ("net", W::Net),
    ("neto", W::Net),
    ("netto", W::Net),
    ("liquido", W::Net),
    ("debit", W::Debit),
    ("debe", W::Debit),
    ("debito", W::Debit),
    ("soll", W::Debit),
    ("dare", W::Debit),
    ("credit", W::Credit),
    ("haber", W::Credit),
    ("credito", W::Credit),
    ("haben", W::Credit),
    ("avere", W::Credit),
    ("currency", W::Currency),
    ("curr", W::Currency),
    ("ccy", W::Currency),
    ("cur", W::Currency),
    ("devise", W::Currency),
    ("moneda", W::Currency),
    ("divisa", W::Currency),
    ("wahrung", W::Currency),
    ("waehrung", W::Currency),
    ("moeda", W::Currency),
    ("billing", W::Billing),
    ("minor", W::Minor),
    ("cents", W::Minor),
    ("cent", W::Minor),
    ("pence", W::Minor),
    ("centimos", W::Minor),
    ("fee", W::Fee),
    ("fees", W::Fee),
    ("frais", W::Fee),
    ("comision", W::Fee),
    ("commission", W::Fee),
    ("commissione", W::Fee),
    ("tarifa", W::Fee),
    ("gebuhr", W::Fee),
    ("gebuehr", W::Fee),
    ("gebuhren", W::Fee),
    ("taxa", W::Fee),
    ("tasa", W::Fee),
    ("markup", W::Fee),
    ("surcharge", W::Fee),
    ("discount", W::Fee),
    ("interchange", W::Interchange),
    ("ic", W::Interchange),
    ("intercambio", W::Interchange),
    ("interbancaire", W::Interchange),
    // Card and network.
    ("network", W::Network),
    ("scheme", W::Network),
    ("brand", W::Network),
    ("association", W::Network),
    ("red", W::Network),
    ("reseau", W::Network),
    ("marque", W::Network),
    ("marca", W::Network),
    ("netzwerk", W::Network),
    ("marke", W::Network),
    ("bandeira", W::Network),
    ("circuito", W::Network),
    ("schema", W::Network),
    ("card", W::Card),
    ("cards", W::Card),
    ("carte", W::Card),
    ("tarjeta", W::Card),
    ("karte", W::Card),
    ("karten", W::Card),
    ("cartao", W::Card),
    ("carta", W::Card),
    ("cc", W::Card),
    ("method", W::Method),
    ("methode", W::Method),
    ("metodo", W::Method),
    ("mop", W::Method),
    ("variant", W::Variant),
    ("pan", W::Pan),
    ("bin", W::Bin),
    ("iin", W::Bin),
    ("prefix", W::Bin),
    ("token", W::Token),
    ("hash", W::Token),
    ("masked", W::Masked),
    ("chip", W::Chip),
    ("entry", W::Entry),
    ("eingabe", W::Entry),
    ("mode", W::Mode),
    ("modo", W::Mode),
    ("modus", W::Mode),
    ("pos", W::Pos),
    ("channel", W::Channel),
    ("canal", W::Channel),
    ("kanal", W::Channel),
    ("canale", W::Channel),
    ("presentation", W::Channel),
    // Outcome.
    ("response", W::Response),
    ("resp", W::Response),
    ("respuesta", W::Response),
    ("reponse", W::Response),
    ("antwort", W::Response),
    ("resposta", W::Response),
    ("risposta", W::Response),
    ("retour", W::Response),
    ("rc", W::Response),
    ("de39", W::Response),
    ("status", W::Status),
    ("statut", W::Status),
    ("estado", W::Status),
    ("estatus", W::Status),
    ("stato", W::Status),
    ("situacao", W::Status),
    ("etat", W::Status),
    ("zustand", W::Status),
    ("esito", W::Status),
    ("decision", W::Status),
    ("outcome", W::Status),
    ("approval", W::Approval),
    ("approved", W::Approval),
    ("aprobacion", W::Approval),
    ("approbation", W::Approval),
    ("error", W::Error),
    ("errors", W::Error),
    ("erreur", W::Error),
    ("fehler", W::Error),
    ("erro", W::Error),
    ("errore", W::Error),
    ("decline", W::Error),
    ("declined", W::Error),
    ("reason", W::Reason),
    ("reasons", W::Reason),
    ("motivo", W::Reason),
    ("motif", W::Reason),
    ("grund", W::Reason),
    ("causale", W::Reason),
    ("razon", W::Reason),
    ("result", W::Result),
    ("resultado", W::Result),
    ("resultat", W::Result),
    ("ergebnis", W::Result),
    ("risultato", W::Result),
    ("description", W::Description),
    ("desc", W::Description),
    ("text", W::Description),
    ("descripcion", W::Description),
    ("beschreibung", W::Description),
    ("descricao", W::Description),
    ("descrizione", W::Description),
    ("libelle", W::Description),
    ("memo", W::Description),
    ("message", W::Description),
    ("details", W::Description),
    ("narrative", W::Description),
    ("subject", W::Description),
    ("note", W::Description),
    // Kind of row.
    ("type", W::Type),
    ("types", W::Type),
    ("tipo", W::Type),
    ("typ", W::Type),
    ("art", W::Type),
    ("tipologia", W::Type),
    ("kind", W::Type),
    ("nature", W::Type),
    ("record", W::Record),
    ("registro", W::Record),
    ("enregistrement", W::Record),
    ("datensatz", W::Record),
    ("action", W::Action),
    ("accion", W::Action),
    ("acao", W::Action),
    ("azione", W::Action),
    ("category", W::Category),
    ("categoria", W::Category),
    ("categorie", W::Category),
    ("kategorie", W::Category),
    ("event", W::Event),
    ("evento", W::Event),
    ("evenement", W::Event),
    ("ereignis", W::Event),
    // Merchant.
    ("merchant", W::Merchant),
    ("merchants", W::Merchant),
    ("comercio", W::Merchant),
    ("commercant", W::Merchant),
    ("marchand", W::Merchant),
    ("handler", W::Merchant),
    ("haendler", W::Merchant),
    ("estabelecimento", W::Merchant),
    ("comerciante", W::Merchant),
    ("esercente", W::Merchant),
    ("negozio", W::Merchant),
    ("loja", W::Merchant),
    ("name", W::Name),
    ("names", W::Name),
    ("nombre", W::Name),
    ("nom", W::Name),
    ("nome", W::Name),
    ("bezeichnung", W::Name),
    ("acceptor", W::Acceptor),
    ("accepteur", W::Acceptor),
    ("dba", W::Dba),
    ("store", W::Store),
    ("shop", W::Store),
    ("outlet", W::Store),
    ("tienda", W::Store),
    ("entity", W::Entity),
    ("division", W::Division),
    ("account", W::Account),
    ("konto", W::Account),
    ("cuenta", W::Account),
    ("compte", W::Account),
    ("conta", W::Account),
    ("conto", W::Account),
    ("mcc", W::Mcc),
    ("sic", W::Mcc),
    // Geography.
    ("country", W::Country),
    ("pais", W::Country),
    ("pays", W::Country),
    ("land", W::Country),
    ("lander", W::Country),
    ("paese", W::Country),
    ("nazione", W::Country),
    ("ctry", W::Country),
    ("cntry", W::Country),
    ("issuer", W::Issuer),
    ("issuing", W::Issuer),
    ("issuance", W::Issuer),
    ("emisor", W::Issuer),
    ("emetteur", W::Issuer),
    ("emittent", W::Issuer),
    ("aussteller", W::Issuer),
    ("emissor", W::Issuer),
    ("emittente", W::Issuer),
    ("cardholder", W::Issuer),
    ("acquirer", W::Acquirer),
    ("acquiring", W::Acquirer),
    ("adquirente", W::Acquirer),
    ("acquereur", W::Acquirer),
    ("arn", W::Arn),
    ("rrn", W::Rrn),
    ("trace", W::Trace),
    ("stan", W::Trace),
    ("retrieval", W::Retrieval),
    ("mid", W::Mid),
    ("caid", W::Mid),
    ("is", W::Is),
    ("flag", W::Flag),
    ("indicator", W::Flag),
    ("ind", W::Flag),
    // Vetoes.
    ("terminal", W::Terminal),
    ("tid", W::Terminal),
    ("batch", W::Batch),
    ("lote", W::Batch),
    ("lot", W::Batch),
    ("remise", W::Batch),
    ("submission", W::Submission),
    ("customer", W::Customer),
    ("consumer", W::Customer),
    ("cliente", W::Customer),
    ("client", W::Customer),
    ("kunde", W::Customer),
    ("user", W::Customer),
    ("company", W::Company),
    ("expiration", W::Expiry),
    ("expiry", W::Expiry),
    ("exp", W::Expiry),
    ("expire", W::Expiry),
    ("expires", W::Expiry),
    ("expiracion", W::Expiry),
    ("ablauf", W::Expiry),
    ("validade", W::Expiry),
    ("scadenza", W::Expiry),
    ("dob", W::Birth),
    ("birth", W::Birth),
    ("birthday", W::Birth),
    ("nacimiento", W::Birth),
    ("naissance", W::Birth),
    ("geburt", W::Birth),
    ("count", W::Count),
    ("cnt", W::Count),
    ("quantity", W::Count),
    ("qty", W::Count),
    ("anzahl", W::Count),
    ("cantidad", W::Count),
    ("quantidade", W::Count),
    ("rate", W::Rate),
    ("pct", W::Rate),
    ("percent", W::Rate),
    ("percentage", W::Rate),
    ("ratio", W::Rate),
    ("taux", W::Rate),
    ("balance", W::Balance),
    ("saldo", W::Balance),
    ("solde", W::Balance),
    ("tax", W::Tax),
    ("vat", W::Tax),
    ("tip", W::Tip),
    ("gratuity", W::Tip),
    ("cashback", W::Cashback),
    ("cash", W::Cashback),
    ("exchange", W::Exchange),
    ("fx", W::Exchange),
    ("score", W::Score),
    ("transfer", W::Transfer),
    ("transfers", W::Transfer),
    ("payout", W::Payout),
    ("payouts", W::Payout),
    ("unit", W::Unit),
    ("qualification", W::Qualification),
    ("assessment", W::Assessment),
    ("security", W::Security),
    ("cvv", W::Security),
    ("cvc", W::Security),
    ("verification", W::Verification),
    ("avs", W::Verification),
    ("address", W::Address),
    ("street", W::Address),
    ("city", W::City),
    ("state", W::State),
    ("zip", W::Zip),
    ("postal", W::Zip),
    ("postcode", W::Zip),
    ("email", W::Email),
    ("mail", W::Email),
    ("phone", W::Phone),
    ("holder", W::Holder),
    ("product", W::Product),
    ("usage", W::Usage),
    ("level", W::Level),
    ("level2", W::Level),
    ("level3", W::Level),
    ("mandate", W::Mandate),
    ("funds", W::Fund),
    ("fund", W::Fund),
    ("total", W::Total),
    ("local", W::Local),
    ("processing", W::Processing),
    ("deposit", W::Deposit),
    ("capture", W::Capture),
    ("sale", W::Sale),
    ("sales", W::Sale),
    ("file", W::File),
    ("internal", W::Internal),
    ("requestor", W::Requestor),
    ("requester", W::Requestor),
    ("authentication", W::Authentication),
    ("downgrade", W::Downgrade),
    ("reject", W::Reject),
    ("rejection", W::Reject),
    ("first", W::First),
];

/// Known tokens of languages other than English: headers made of them come from a country
/// that writes dates day first (France, Spain, Germany, Portugal, Brazil, Italy, ...).
const FOREIGN: &[&str] = &[
    "transaktion",
    "transaktions",
    "transaccion",
    "transacciones",
    "transacao",
    "transacoes",
    "transazione",
    "transazioni",
    "operacion",
    "operacao",
    "operazione",
    "vorgang",
    "umsatz",
    "nsu",
    "pago",
    "paiement",
    "pagamento",
    "zahlung",
    "zahlungs",
    "orden",
    "commande",
    "pedido",
    "bestellung",
    "bestell",
    "ordine",
    "factura",
    "facture",
    "rechnung",
    "fattura",
    "disputa",
    "litige",
    "reclamacion",
    "contestazione",
    "contracargo",
    "retrofacturation",
    "impaye",
    "ruckbuchung",
    "rueckbuchung",
    "reembolso",
    "remboursement",
    "erstattung",
    "ruckerstattung",
    "rueckerstattung",
    "rimborso",
    "devolucion",
    "devolucao",
    "liquidacion",
    "liquidacao",
    "reglement",
    "abrechnung",
    "regolamento",
    "compensacion",
    "compensacao",
    "autorizacion",
    "autorisation",
    "autorizzazione",
    "autorizacao",
    "genehmigung",
    "autorisierung",
    "fraude",
    "betrug",
    "frode",
    "origen",
    "identifiant",
    "identificador",
    "identificativo",
    "identificacion",
    "kennung",
    "referencia",
    "referenz",
    "riferimento",
    "nr",
    "nro",
    "nummer",
    "numero",
    "secuencia",
    "sequencia",
    "codigo",
    "codice",
    "datum",
    "fecha",
    "zeit",
    "uhrzeit",
    "heure",
    "hora",
    "ora",
    "zeitstempel",
    "horodatage",
    "erstellt",
    "erstellung",
    "creacion",
    "creado",
    "criacao",
    "creazione",
    "buchung",
    "buchungs",
    "valuta",
    "vencimiento",
    "zona",
    "fuseau",
    "ano",
    "annee",
    "jahr",
    "anno",
    "mes",
    "mois",
    "monat",
    "mese",
    "dia",
    "jour",
    "tag",
    "giorno",
    "montant",
    "importe",
    "monto",
    "betrag",
    "valor",
    "importo",
    "brut",
    "bruto",
    "brutto",
    "lordo",
    "neto",
    "netto",
    "liquido",
    "debe",
    "debito",
    "soll",
    "dare",
    "haber",
    "credito",
    "haben",
    "avere",
    "devise",
    "moneda",
    "divisa",
    "wahrung",
    "waehrung",
    "moeda",
    "centimos",
    "frais",
    "comision",
    "commissione",
    "tarifa",
    "gebuhr",
    "gebuehr",
    "gebuhren",
    "taxa",
    "tasa",
    "intercambio",
    "interbancaire",
    "red",
    "reseau",
    "marque",
    "marca",
    "netzwerk",
    "marke",
    "bandeira",
    "circuito",
    "carte",
    "tarjeta",
    "karte",
    "karten",
    "cartao",
    "carta",
    "methode",
    "metodo",
    "eingabe",
    "modo",
    "modus",
    "canal",
    "kanal",
    "canale",
    "respuesta",
    "reponse",
    "antwort",
    "resposta",
    "risposta",
    "retour",
    "statut",
    "estado",
    "estatus",
    "stato",
    "situacao",
    "etat",
    "zustand",
    "esito",
    "aprobacion",
    "approbation",
    "erreur",
    "fehler",
    "erro",
    "errore",
    "motivo",
    "motif",
    "grund",
    "causale",
    "razon",
    "resultado",
    "resultat",
    "ergebnis",
    "risultato",
    "descripcion",
    "beschreibung",
    "descricao",
    "descrizione",
    "libelle",
    "tipo",
    "typ",
    "art",
    "tipologia",
    "registro",
    "enregistrement",
    "datensatz",
    "accion",
    "acao",
    "azione",
    "categoria",
    "categorie",
    "kategorie",
    "evento",
    "evenement",
    "ereignis",
    "comercio",
    "commercant",
    "marchand",
    "handler",
    "haendler",
    "estabelecimento",
    "comerciante",
    "esercente",
    "negozio",
    "loja",
    "nombre",
    "nom",
    "nome",
    "bezeichnung",
    "accepteur",
    "tienda",
    "konto",
    "cuenta",
    "compte",
    "conta",
    "conto",
    "pais",
    "pays",
    "land",
    "lander",
    "paese",
    "nazione",
    "emisor",
    "emetteur",
    "emittent",
    "aussteller",
    "emissor",
    "emittente",
    "adquirente",
    "acquereur",
    "lote",
    "remise",
    "cliente",
    "kunde",
    "expiracion",
    "ablauf",
    "validade",
    "scadenza",
    "nacimiento",
    "naissance",
    "geburt",
    "anzahl",
    "cantidad",
    "quantidade",
    "taux",
    "saldo",
    "solde",
];

/// Words that carry no meaning in a header (articles, prepositions).
const STOP: &[&str] = &[
    "de", "del", "des", "du", "la", "le", "les", "el", "los", "las", "das", "der", "die", "den", "do", "da",
    "dos", "di", "della", "dello", "of", "the", "in", "en", "em", "on", "at", "a", "e", "y", "und", "and",
    "et", "for", "por", "pour", "per", "para", "von", "vom", "im", "al", "au", "aux", "d", "l", "i",
];

/// Zone abbreviations a header can name as the zone of its values (`Created (UTC)`).
const ZONE_QUALIFIERS: &[&str] =
    &["utc", "gmt", "edt", "est", "cst", "cdt", "mst", "mdt", "pst", "pdt", "cet", "cest", "bst", "jst"];

/// Every word a token can be. Most tokens are one word; a few mean different things in
/// different languages (`valuta`: the currency in Italian and Dutch, the value date in
/// German) and name both, for the column's values to decide.
fn table() -> &'static HashMap<&'static str, Vec<W>> {
    static TABLE: OnceLock<HashMap<&'static str, Vec<W>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<&'static str, Vec<W>> = HashMap::with_capacity(WORDS.len());
        for (token, w) in WORDS {
            t.entry(*token).or_default().push(*w);
        }
        t
    })
}

/// Folds text for matching: lowercase, Latin accents removed, typographic apostrophes and
/// quotes made plain (`Id. de transacción` → `id. de transaccion`, `Code de réponse` →
/// `code de reponse`, `Währung` → `wahrung`).
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
                out.push('a')
            }
            'ç' | 'Ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => out.push('i'),
            'ñ' | 'Ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => {
                out.push('o')
            }
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => out.push('u'),
            'ý' | 'ÿ' | 'Ý' => out.push('y'),
            'ß' => out.push_str("ss"),
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            '’' | '‘' | 'ʼ' | '´' | '`' => out.push('\''),
            '“' | '”' | '«' | '»' => out.push('"'),
            '°' | 'º' => out.push(' '),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Splits a header into folded tokens: at anything not a letter or digit, at camelCase
/// boundaries (`PspReference` → `psp reference`, `IDNumber` → `id number`).
pub(crate) fn split(header: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = header.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase() || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if boundary && !cur.is_empty() {
            tokens.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    tokens.into_iter().map(|t| fold(&t)).collect()
}

/// The word a folded token names, splitting a compound (`transaktionsbetrag`,
/// `kartennummer`, `merchantid`) into known words when the whole is unknown.
fn words_of(token: &str, out: &mut Vec<W>) -> bool {
    if let Some(ws) = table().get(token) {
        out.extend(ws);
        return true;
    }
    compound(token, out, 0)
}

fn compound(token: &str, out: &mut Vec<W>, depth: usize) -> bool {
    // Known words are ASCII once folded, so a token that is not cannot be made of them.
    if depth > 2 || token.len() < 4 || !token.is_ascii() {
        return false;
    }
    // The longest known head first; a German linking `s` may sit between the parts.
    for cut in (2..token.len() - 1).rev() {
        let (head, tail) = token.split_at(cut);
        let Some(ws) = table().get(head) else { continue };
        let rest = [tail, tail.strip_prefix('s').unwrap_or("")];
        for tail in rest.into_iter().filter(|t| t.len() >= 2) {
            let mut inner = Vec::new();
            if let Some(tws) = table().get(tail) {
                inner.extend(tws);
            } else if !compound(tail, &mut inner, depth + 1) {
                continue;
            }
            out.extend(ws);
            out.extend(inner);
            return true;
        }
    }
    false
}

/// What a header says, as words.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HeaderWords {
    /// The known words, in order (a word can repeat: `trans_date_trans_time`).
    pub words: Vec<W>,
    /// Tokens that are not known words (they lower how well a rule explains the header).
    pub unknown: Vec<String>,
    /// A zone named in the header (`Created (UTC)`), folded.
    pub zone: Option<&'static str>,
    /// A currency named in the header (`Amount (EUR)`, `Betrag in USD`).
    pub currency: Option<Currency>,
    /// Known tokens of languages other than English.
    pub foreign: usize,
}

impl HeaderWords {
    /// Reads a header.
    pub fn of(header: &str) -> HeaderWords {
        let mut hw = HeaderWords::default();
        for token in split(header) {
            if STOP.contains(&token.as_str()) {
                continue;
            }
            if let Some(z) = ZONE_QUALIFIERS.iter().find(|z| **z == token) {
                hw.zone = Some(z);
                continue;
            }
            if token.len() == 3
                && token.bytes().all(|b| b.is_ascii_alphabetic())
                && !table().contains_key(token.as_str())
            {
                if let Some(c) = Currency::from_code(&token.to_ascii_uppercase()) {
                    hw.currency = Some(c);
                    continue;
                }
            }
            if !words_of(&token, &mut hw.words) {
                hw.unknown.push(token);
            } else if FOREIGN.contains(&token.as_str()) {
                hw.foreign += 1;
            }
        }
        hw
    }

    /// True when the header names `w`.
    pub fn has(&self, w: W) -> bool {
        self.words.contains(&w)
    }

    /// Tokens in all (known and unknown).
    pub fn len(&self) -> usize {
        self.words.len() + self.unknown.len()
    }

    /// The header with misspelt tokens read as the known word one edit away (`Amnt`,
    /// `Respnse`), or `None` when no token needed fixing.
    pub fn fuzzy_fixed(&self) -> Option<HeaderWords> {
        let mut fixed = self.clone();
        fixed.unknown.clear();
        let mut any = false;
        for token in &self.unknown {
            match nearest(token) {
                Some(w) => {
                    fixed.words.push(w);
                    any = true;
                }
                None => fixed.unknown.push(token.clone()),
            }
        }
        any.then_some(fixed)
    }

    /// True when the header has known words: its values are then not read for their shape
    /// alone (a `dob` column of dates is not the transaction's date).
    pub fn names_something_else(&self) -> bool {
        !self.words.is_empty()
    }
}

/// The known word one edit away from a token of four letters or more (two for tokens of ten
/// or more), when exactly one word is that close.
fn nearest(token: &str) -> Option<W> {
    let n = token.chars().count();
    if n < 4 || token.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let limit = if n >= 10 { 2 } else { 1 };
    let mut found: Option<W> = None;
    for (known, w) in WORDS {
        if known.len() < 3 || known.len().abs_diff(token.len()) > limit {
            continue;
        }
        if edit_distance(token, known) <= limit {
            match found {
                Some(f) if f != *w => return None,
                _ => found = Some(*w),
            }
        }
    }
    found
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(h: &str) -> Vec<W> {
        HeaderWords::of(h).words
    }

    #[test]
    fn splits_and_folds() {
        assert_eq!(split("PspReference"), vec!["psp", "reference"]);
        assert_eq!(split("transactionID"), vec!["transaction", "id"]);
        assert_eq!(split("IDNumber"), vec!["id", "number"]);
        assert_eq!(split("Id. de transacción"), vec!["id", "de", "transaccion"]);
        assert_eq!(split("Code de réponse"), vec!["code", "de", "reponse"]);
        assert_eq!(split("trans_date_trans_time"), vec!["trans", "date", "trans", "time"]);
        assert_eq!(fold("N° d’autorisation"), "n  d'autorisation");
    }

    #[test]
    fn every_language_reads_the_same_words() {
        for h in [
            "Transaction ID",
            "Id. de transacción",
            "ID da transação",
            "ID transazione",
            "Transaktions-ID",
            "Identifiant de transaction",
        ] {
            let w = words(h);
            assert!(w.contains(&W::Txn) && w.contains(&W::Id), "{h}: {w:?}");
        }
        for h in ["Amount", "Montant", "Importe", "Betrag", "Valor", "Importo", "Transaktionsbetrag"] {
            assert!(words(h).contains(&W::Amount), "{h}");
        }
        assert_eq!(words("Kartennummer"), vec![W::Card, W::Number]);
        assert_eq!(words("merchantid"), vec![W::Merchant, W::Id]);
        assert_eq!(words("Código de respuesta"), vec![W::Code, W::Response]);
    }

    #[test]
    fn qualifiers_are_not_words() {
        let h = HeaderWords::of("Created (UTC)");
        assert_eq!((h.words, h.zone), (vec![W::Created], Some("utc")));
        let h = HeaderWords::of("Amount (EUR)");
        assert_eq!((h.words, h.currency), (vec![W::Amount], Some(Currency::EUR)));
        assert_eq!(HeaderWords::of("Reserved4").unknown, vec!["reserved4"]);
        assert_eq!(HeaderWords::of("Txn Amnt").fuzzy_fixed().map(|h| h.words), Some(vec![W::Txn, W::Amount]));
    }
}
