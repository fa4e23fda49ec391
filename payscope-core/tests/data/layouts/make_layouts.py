"""Writes report files in the layouts and languages acquirers use, and what each must load to.

Run from payscope-core/tests/data/layouts: python3 make_layouts.py (needs openpyxl for the
workbook). The outputs are committed. The expected values in expected.json are computed here,
from the rows as written, independently of PayScope's parser: the test `layouts.rs` loads each
file through the engine and compares.

Each file is a list of rows with their canonical reading; `emit` writes them in the file's
own conventions (language, delimiter, decimal comma, date order, masked card numbers).
"""
import csv
import io
import json
import os
from collections import defaultdict
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = {}


def minor(amount, currency):
    exp = {"JPY": 0, "KWD": 3}.get(currency, 2)
    return int((Decimal(amount) * (10 ** exp)).to_integral_value())


def expect(name, params, rows, skipped=0, rejected=0, status="completed"):
    """rows: dicts with stage, amount (text, dot decimal), currency, and optionally approved,
    network, bin, merchant_id."""
    by_stage = defaultdict(int)
    amounts = defaultdict(lambda: defaultdict(int))
    networks = defaultdict(int)
    approved = 0
    bins = defaultdict(int)
    for r in rows:
        by_stage[r["stage"]] += 1
        amounts[r["stage"]][r["currency"]] += minor(r["amount"], r["currency"])
        if r.get("network"):
            networks[r["network"]] += 1
        if r["stage"] == "AUTH" and r.get("approved"):
            approved += 1
        if r.get("bin"):
            bins[r["bin"]] += 1
    EXPECTED[name] = {
        "params": params,
        "status": status,
        "facts": len(rows),
        "skipped": skipped,
        "rejected": rejected,
        "by_stage": dict(by_stage),
        "amount_minor": {s: dict(c) for s, c in amounts.items()},
        "networks": dict(networks),
        "approved_auth": approved,
        "bins": dict(bins),
        "ids": sorted(r["id"] for r in rows),
    }


def write_text(name, text, encoding="utf-8"):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(text.encode(encoding))


def comma(amount):
    """1234.5 -> 1.234,50 (German, Italian, Portuguese, Spanish notation)."""
    whole, frac = f"{Decimal(amount):.2f}".split(".")
    neg = whole.startswith("-")
    whole = whole.lstrip("-")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return ("-" if neg else "") + ".".join(groups) + "," + frac


# French authorizations: `;`, decimal comma with a space for thousands, dd/mm/yyyy, a typographic
# apostrophe in a header, masked card numbers, response codes.
fr = [
    dict(id="FR-0001", d="03/02/2026", t="09:15:02", amount="1234.50", currency="EUR", network="visa", rc="00", pan="497010XXXXXX1234", mid="CMR-01"),
    dict(id="FR-0002", d="03/02/2026", t="10:01:44", amount="12.00", currency="EUR", network="mastercard", rc="05", pan="535110XXXXXX8812", mid="CMR-01"),
    dict(id="FR-0003", d="04/02/2026", t="18:30:00", amount="89.99", currency="EUR", network="visa", rc="00", pan="497010XXXXXX9931", mid="CMR-02"),
    dict(id="FR-0004", d="13/02/2026", t="23:59:59", amount="5.20", currency="EUR", network="amex", rc="51", pan="374245XXXXX1001", mid="CMR-02"),
    dict(id="FR-0005", d="14/02/2026", t="00:00:01", amount="640.00", currency="EUR", network="mastercard", rc="00", pan="535110XXXXXX0007", mid="CMR-03"),
]
brand = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}
lines = ["Id. de transaction;Date d’autorisation;Heure;Montant;Devise;Réseau;Code de réponse;N° de carte;Commerçant"]
for r in fr:
    amt = comma(r["amount"]).replace(".", " ")
    lines.append(f'{r["id"]};{r["d"]};{r["t"]};{amt};{r["currency"]};{brand[r["network"]]};{r["rc"]};{r["pan"]};{r["mid"]}')
write_text("fr_autorisations.csv", "\n".join(lines) + "\n")
expect("fr_autorisations.csv", {"timezone": "Europe/Paris"},
       [dict(id=r["id"], stage="AUTH", amount=r["amount"], currency=r["currency"], network=r["network"], approved=r["rc"] == "00", bin=r["pan"][:6]) for r in fr])

# German settlement (Abrechnung): `;`, decimal comma, dd.mm.yyyy, a compound header, brands as
# codes, an interchange fee column, a closing total line.
de = [
    dict(id="DE-100", d="02.03.2026", amount="1999.00", currency="EUR", brand="VI", fee="15.99"),
    dict(id="DE-101", d="02.03.2026", amount="45.10", currency="EUR", brand="MC", fee="0.36"),
    dict(id="DE-102", d="03.03.2026", amount="7.50", currency="EUR", brand="VI", fee="0.06"),
    dict(id="DE-103", d="04.03.2026", amount="310.00", currency="CHF", brand="MC", fee="2.48"),
]
lines = ["Transaktions-ID;Abrechnungsdatum;Betrag;Währung;Kartenmarke;Interchange-Gebühr"]
for r in de:
    lines.append(f'{r["id"]};{r["d"]};{comma(r["amount"])};{r["currency"]};{r["brand"]};{comma(r["fee"])}')
lines.append(f";Summe;{comma(sum(Decimal(r['amount']) for r in de))};;;")
write_text("de_abrechnung.csv", "\n".join(lines) + "\n")
net = {"VI": "visa", "MC": "mastercard"}
expect("de_abrechnung.csv", {},
       [dict(id=r["id"], stage="SETTLEMENT", amount=r["amount"], currency=r["currency"], network=net[r["brand"]]) for r in de])

# Spanish activity: sales, refunds, a chargeback and a payout in one file, the row type in
# Spanish, signed amounts (refunds negative), an accent in a header, and a row whose type is
# unknown and whose amount is negative (a row error: it could be a refund, a payout or a fee).
es = [
    dict(id="ES-1", d="2026-01-05 10:00", tipo="Venta", amount="100.00", brand="Visa"),
    dict(id="ES-2", d="2026-01-05 11:30", tipo="Venta", amount="25.50", brand="Mastercard"),
    dict(id="ES-3", d="2026-01-06 09:00", tipo="Devolución", amount="-25.50", brand="Mastercard"),
    dict(id="ES-4", d="2026-01-07 16:45", tipo="Contracargo", amount="-100.00", brand="Visa"),
    dict(id="ES-5", d="2026-01-08 08:00", tipo="Liquidación", amount="-50.00", brand=""),
    dict(id="ES-6", d="2026-01-08 12:00", tipo="Venta", amount="9.99", brand="Visa"),
    # A type PayScope does not know, with a negative amount: refused, not taken for a refund.
    dict(id="ES-7", d="2026-01-09 10:00", tipo="Bonificación", amount="-5.00", brand="Visa"),
]
lines = ["Id. de transacción,Fecha,Tipo,Importe,Moneda,Marca"]
for r in es:
    lines.append(f'{r["id"]},{r["d"]},{r["tipo"]},"{comma(r["amount"])}",EUR,{r["brand"]}')
write_text("es_actividad.csv", "\n".join(lines) + "\n")
stage_of = {"Venta": "CLEARING", "Devolución": "REFUND", "Contracargo": "CHARGEBACK"}
expect("es_actividad.csv", {"report_type": "clearing"},
       [dict(id=r["id"], stage=stage_of[r["tipo"]], amount=r["amount"].lstrip("-"), currency="EUR", network=r["brand"].lower()) for r in es if r["tipo"] in stage_of],
       skipped=1, rejected=1)

# Portuguese authorizations: the approval in a status column (Aprovada / Negada), a bandeira.
pt = [
    dict(id="PT-9001", d="10/04/2026 14:05", amount="150.00", brand="Visa", status="Aprovada"),
    dict(id="PT-9002", d="10/04/2026 14:06", amount="1500.00", brand="Elo", status="Negada"),
    dict(id="PT-9003", d="11/04/2026 09:12", amount="39.90", brand="Mastercard", status="Aprovada"),
    dict(id="PT-9004", d="12/04/2026 20:00", amount="2.00", brand="Mastercard", status="Aprovada"),
]
lines = ["ID da transação;Data da autorização;Valor;Moeda;Bandeira;Status"]
for r in pt:
    lines.append(f'{r["id"]};{r["d"]};{comma(r["amount"])};BRL;{r["brand"]};{r["status"]}')
write_text("pt_autorizacoes.csv", "\n".join(lines) + "\n")
expect("pt_autorizacoes.csv", {"timezone": "America/Sao_Paulo"},
       [dict(id=r["id"], stage="AUTH", amount=r["amount"], currency="BRL", network=r["brand"].lower(), approved=r["status"] == "Aprovada") for r in pt])

# Italian refunds (rimborsi): `valuta` is the currency here; an Italian response code header.
it = [
    dict(id="IT-01", d="20/05/2026", amount="19.90", brand="Visa"),
    dict(id="IT-02", d="21/05/2026", amount="250.00", brand="Mastercard"),
    dict(id="IT-03", d="21/05/2026", amount="1250.00", brand="Visa"),
]
lines = ["ID transazione;Data rimborso;Importo;Valuta;Circuito"]
for r in it:
    lines.append(f'{r["id"]};{r["d"]};{comma(r["amount"])};EUR;{r["brand"]}')
write_text("it_rimborsi.csv", "\n".join(lines) + "\n")
expect("it_rimborsi.csv", {},
       [dict(id=r["id"], stage="REFUND", amount=r["amount"], currency="EUR", network=r["brand"].lower()) for r in it])

# A processor file: BEGIN/END wrappers, Key=Value metadata, a summary section by brand (its
# control totals), a detail section with its own header, blank separators, a trailer count.
detail = [
    ("TX-1", "2026-06-01T08:00:00Z", "VI", "10.00", "USD", "00"),
    ("TX-2", "2026-06-01T08:05:00Z", "VI", "20.00", "USD", "05"),
    ("TX-3", "2026-06-01T09:00:00Z", "MC", "30.00", "USD", "00"),
    ("TX-4", "2026-06-01T10:00:00Z", "AX", "40.00", "USD", "00"),
    ("TX-5", "2026-06-01T11:00:00Z", "MC", "50.25", "USD", "00"),
]
summary = defaultdict(lambda: [0, Decimal(0)])
for _, _, b, a, _, _ in detail:
    summary[b][0] += 1
    summary[b][1] += Decimal(a)
out = io.StringIO()
w = csv.writer(out, lineterminator="\n")
w.writerow(["BEGIN"])
w.writerow(["ReportTypeName=Authorization Detail", "FromDate=2026-06-01", "ToDate=2026-06-01"])
w.writerow([])
w.writerow(["Record Type", "Card Brand", "Count", "Amount"])
for b in sorted(summary):
    w.writerow(["Summary", b, summary[b][0], f"{summary[b][1]:.2f}"])
w.writerow([])
w.writerow(["Record Type", "Transaction Ref", "Auth Timestamp", "Card Brand", "Amount", "Currency", "Response Code"])
for d in detail:
    w.writerow(["Detail", *d])
w.writerow(["Trailer", f"Total records: {len(detail)}"])
w.writerow(["END"])
write_text("wrapped_sections.csv", out.getvalue())
codes = {"VI": "visa", "MC": "mastercard", "AX": "amex"}
expect("wrapped_sections.csv", {},
       [dict(id=i, stage="AUTH", amount=a, currency=c, network=codes[b], approved=rc == "00") for i, _, b, a, c, rc in detail])

# Names that say nothing: the values tell (UUID ids, epoch milliseconds, currency codes).
import uuid
ep = [
    (str(uuid.UUID(int=0x1000 + i)), 1767225600000 + i * 3_600_000, f"{(i + 1) * 7}.25", "GBP", "00" if i % 3 else "51")
    for i in range(6)
]
lines = ["ref,auth_ts,amt,ccy,rc"]
for r in ep:
    lines.append(",".join(str(x) for x in r))
write_text("epoch_values.csv", "\n".join(lines) + "\n")
expect("epoch_values.csv", {"report_type": "authorization"},
       [dict(id=i, stage="AUTH", amount=a, currency=c, approved=rc == "00") for i, _, a, c, rc in ep])

# A workbook whose header starts in column C under title rows, with trailing empty columns,
# typed dates and numbers, and a totals row.
try:
    import datetime
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Clearing"
    ws["A1"] = "Acquirer clearing report"
    ws["A2"] = "Generated 2026-07-02"
    header = ["Transaction ID", "Presentment Date", "Card Scheme", "Merchant ID", "Amount", "Currency", None, None]
    xl = [
        ("CL-1", datetime.datetime(2026, 7, 1, 10, 0), "Visa", "M-77", 120.5, "USD"),
        ("CL-2", datetime.datetime(2026, 7, 1, 11, 15), "Mastercard", "M-77", 80.0, "USD"),
        ("CL-3", datetime.datetime(2026, 7, 1, 12, 30), "Visa", "M-78", 0.99, "USD"),
        ("CL-4", datetime.datetime(2026, 7, 1, 13, 45), "Discover", "M-79", 1000.0, "USD"),
    ]
    for j, h in enumerate(header):
        if h is not None:
            ws.cell(row=4, column=3 + j, value=h)
    for i, r in enumerate(xl):
        for j, v in enumerate(r):
            ws.cell(row=5 + i, column=3 + j, value=v)
    ws.cell(row=5 + len(xl), column=3, value="Total")
    ws.cell(row=5 + len(xl), column=7, value=sum(r[4] for r in xl))
    ws.cell(row=5 + len(xl), column=12, value="")
    wb.save(os.path.join(HERE, "offset_header.xlsx"))
    expect("offset_header.xlsx", {},
           [dict(id=r[0], stage="CLEARING", amount=f"{Decimal(str(r[4])):.2f}", currency="USD", network=r[2].lower()) for r in xl])
except ImportError:
    print("openpyxl is missing: offset_header.xlsx not written")

with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(EXPECTED, f, indent=1, ensure_ascii=False, sort_keys=True)
    f.write("\n")
print("wrote", len(EXPECTED), "layouts")
