"""Writes the test corpus under tests/data/bad/ and tests/data/xlsx/.

Run from payscope-core/tests/data: python3 make_corpus.py (needs openpyxl).
The outputs are committed; the integration tests assert each file's outcome exactly.
"""
import csv
import io
import os
import zipfile

import openpyxl

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "bad")
XLSX = os.path.join(HERE, "xlsx")
os.makedirs(BAD, exist_ok=True)
os.makedirs(XLSX, exist_ok=True)

HEADER = "Transaction ID,Transaction Date,Transaction Time,Card Network,Merchant ID,Merchant Name,Transaction Amount,Currency Code,Response Code"


def quote(v):
    return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v


def row(i, amount="10.00", currency="USD", name=None, date="2026-10-01", time="12:00:00"):
    return f"T{i:05d},{date},{time},VISA,M1,{quote(name or 'Shop ' + str(i))},{quote(amount)},{currency},00"


def write(name, text, encoding="utf-8"):
    with open(os.path.join(BAD, name), "wb") as f:
        f.write(text.encode(encoding) if isinstance(text, str) else text)


write("empty.csv", b"")
write("header_only.csv", HEADER + "\n")
write("garbage.bin", bytes((i * 37 + 11) % 256 for i in range(4096)))
write("latin1.csv", "\n".join([HEADER, row(1, name="Café Müller"), row(2, name="Señor Pan")]) + "\n", "cp1252")
write("missing_amount.csv", "Transaction ID,Transaction Date,Currency Code,Response Code\nT1,2026-10-01,USD,00\n")
rows = [row(i) for i in range(4)] + [row(i, amount="n/a") for i in range(4, 10)]
write("sixty_percent_bad.csv", "\n".join([HEADER] + rows) + "\n")
write("big_field.csv", "\n".join([HEADER, row(1), row(2, name="X" * (1 << 20)), row(3)]) + "\n")
write("formula.csv", "\n".join([HEADER, row(1), row(2, name='=HYPERLINK("http://evil.example","x")'), row(3, name="@SUM(A1)"), row(4), row(5), row(6, name="-2+3")]) + "\n")
write("duplicate_headers.csv", "Transaction ID,Transaction Date,Amount,Amount,Currency,Response Code\nT1,2026-10-01,1.00,999.00,USD,00\nT2,2026-10-01,2.50,999.00,USD,05\n")
write("unknown_currency.csv", "\n".join([HEADER, row(1), row(2, currency="XYZ"), row(3, currency="EUR")]) + "\n")
write("dates_out_of_range.csv", "\n".join([HEADER, row(1), row(2, date="1899-12-31"), row(3, date="2150-01-01"), row(4, date="2026-02-30"), row(5), row(6), row(7)]) + "\n")
write("truncated.xlsx", b"")  # replaced below
write("bad_lines.jsonl", '{"transaction_id":"J1","stage":"AUTH","occurred_at":"2026-10-01T10:00:00Z","amount":{"minor":1250,"currency":"USD"},"response_code":"00"}\n'
      '{"transaction_id":"J2","stage":"AUTH","occurred_at":"2026-10-01T11:00:00Z","amount":"7.5","currency":"EUR","approved":false}\n'
      'this is not json\n'
      '{"transaction_id":"J3","stage":"NOPE","occurred_at":"2026-10-01T11:00:00Z","amount":"1","currency":"USD"}\n'
      '{"transaction_id":"J4","stage":"AUTH","occurred_at":"2026-10-01T12:00:00Z","amount":"3.00","currency":"USD","pan":"4111111111111111"}\n')
write("pan_in_text.csv", "\n".join([HEADER + ",Notes", row(1) + ",card 4111 1111 1111 1111 used", row(2, name="Refund 5340858851956325") + ",", row(3, amount="4111111111111111x") + ","]) + "\n")
write("title_and_totals.csv", "\n".join(["Daily authorization report,,,,,,,,", "Generated 2026-10-02,,,,,,,,", "", HEADER, row(1), row(2), "", "Total,,,,,,20.00,USD,"]) + "\n")
write("semicolon_quoted.csv", 'Trace ID;Processing Date;Card Brand;MID;DBA Name;Amount;Currency;Interchange Fee\r\n'
      'C1;01.10.2026 10:00:00;visa;M1;"Shop; The Best";1.234,56;EUR;12,34\r\n'
      'C2;01.10.2026 11:00:00;mastercard;M2;"Quote ""Inc""";5.196;JPY;94\r\n')
write("no_stage_hint.csv", "id,when,value,ccy\n1,2026-10-01,1.00,USD\n")
write("no_stage_words.csv", "Reference,Date,Value,Currency\nR1,2026-10-01,1.00,USD\n")
write("utf16.csv", ("\ufeff" + "\n".join([HEADER, row(1, name="Zoë")]) + "\n").encode("utf-16-le"))

# A workbook with a title row, the header, typed cells (dates as Excel serials, numbers as
# doubles) and a totals row; and a truncated copy of it.
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Summary"
ws.append(["Nothing to see here"])
ws2 = wb.create_sheet("Authorizations")
ws2.append(["Acquirer daily authorization report"])
ws2.append([])
ws2.append(["Transaction ID", "Transaction Date", "Card Network", "Merchant ID", "Merchant Name", "Transaction Amount", "Currency Code", "Response Code", "MCC"])
import datetime
for i in range(1, 21):
    ws2.append([f"X{i:04d}", datetime.datetime(2026, 10, 1, 8, 30) + datetime.timedelta(hours=i), "VISA" if i % 2 else "MasterCard",
                f"M{i % 3}", f"Shop {i % 3}", round(10 + i * 1.25, 2), "USD" if i % 4 else "JPY", "00" if i % 5 else "05", 5812])
ws2.append([])
ws2.append(["Total", None, None, None, None, sum(round(10 + i * 1.25, 2) for i in range(1, 21))])
buf = io.BytesIO()
wb.save(buf)
with open(os.path.join(XLSX, "auth_with_title.xlsx"), "wb") as f:
    f.write(buf.getvalue())
write("truncated.xlsx", buf.getvalue()[: len(buf.getvalue()) // 2])
print("corpus written")
