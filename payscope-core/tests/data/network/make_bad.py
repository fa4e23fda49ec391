"""Writes the damaged network files of `tests/data/bad/` (run from this folder; committed
with its output). IPM files are written with cardutil (PyPI) and then damaged; Base II
records are laid out from the public TCR positions of `ingest/network/base2.rs`.

    python3 make_bad.py ../bad
"""
import io
import os
import struct
import sys

from cardutil import mciipm

PAN_MC = "5340858851956325"
PAN_VISA = "4111111111111111"


def ipm_messages(trailer_count=None, trailer_amount=None):
    sale = {
        "MTI": "1240", "DE2": PAN_MC, "DE3": "000000", "DE4": 2500, "DE12": "2026-11-30 10:00:00",
        "DE22": "510101C13400", "DE24": "200", "DE26": 5812, "DE31": "74000000000000000000001",
        "DE42": "M1", "DE43": "CAFE\\1 ST\\TOWN\\12345     XX USA", "DE49": "840", "DE71": 2,
    }
    second = dict(sale, DE31="74000000000000000000002", DE4=7500, DE71=3)
    count = 4 if trailer_count is None else trailer_count
    amount = 10000 if trailer_amount is None else trailer_amount
    return [
        {"MTI": "1644", "DE24": "697", "DE71": 1, "PDS0105": "00226113000000012345000001"},
        sale,
        second,
        {"MTI": "1644", "DE24": "695", "DE71": 4, "PDS0301": f"{amount:016}", "PDS0306": f"{count:08}"},
    ]


def ipm(messages, blocked=False, encoding="cp500"):
    out = io.BytesIO()
    writer = mciipm.IpmWriter(out, encoding=encoding, blocked=blocked)
    for m in messages:
        writer.write(dict(m))
    writer.close()
    return out.getvalue()


def tcr(fields):
    rec = bytearray(b" " * 168)
    for at, value in fields:
        rec[at - 1:at - 1 + len(value)] = value.encode()
    return bytes(rec)


def base2(records):
    return b"".join(r + b"\r\n" for r in records)


def sale(arn, amount):
    return tcr([(1, "0500"), (5, PAN_VISA), (21, "000"), (27, arn), (58, "1130"), (62, f"{amount:012}"),
                (74, "840"), (77, f"{amount:012}"), (89, "840"), (92, "CAFE"), (117, "TOWN"), (130, "US"),
                (133, "5812"), (162, "05")])


HEADER = tcr([(1, "9000"), (5, "400000"), (11, "26341")])


def trailer(monetary, tcrs, source):
    return tcr([(1, "9200"), (5, "400000"), (11, "26341"), (31, f"{monetary:012}"), (49, f"{tcrs:012}"),
                (102, f"{source:015}")])


def main(out):
    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    # A 1014-blocked file of three blocks cut off inside its second block.
    many = ipm_messages()
    many[2:2] = [dict(many[1], DE31=f"740000000000000000001{i:02}") for i in range(12)]
    blocked = ipm(many, blocked=True)
    assert len(blocked) == 3 * 1014, len(blocked)
    write("ipm_truncated_block.ipm", blocked[:1014 + 500])
    # The second message's RDW says 16 MiB.
    good = ipm(ipm_messages())
    first = struct.unpack(">I", good[:4])[0]
    at = 4 + first
    write("ipm_wrong_rdw.ipm", good[:at] + struct.pack(">I", 0x01000000) + good[at + 4:])
    # The second message's bitmap names DE 7 (IPM has none): that message is rejected.
    second = at + 4
    damaged = bytearray(good)
    damaged[second + 4] |= 0x02
    write("ipm_bad_bitmap.ipm", bytes(damaged))
    # The trailer's message count and checksum disagree with the messages.
    write("ipm_trailer_mismatch.ipm", ipm(ipm_messages(trailer_count=5, trailer_amount=9999), encoding="latin_1"))
    # A record of 150 bytes among 168-byte ones.
    write("base2_short_record.ctf", base2([HEADER, sale("74000000000000000000011", 2500)[:150]]))
    # A trailer whose totals disagree.
    write("base2_trailer_mismatch.ctf", base2([HEADER, sale("74000000000000000000012", 2500), trailer(2, 3, 2500)]))
    # A TCR 1 that follows no TCR 0 of its transaction code.
    orphan = tcr([(1, "0601"), (81, "M1")])
    write("base2_orphan_tcr.ctf", base2([HEADER, sale("74000000000000000000013", 2500), orphan, trailer(1, 4, 2500)]))


if __name__ == "__main__":
    main(sys.argv[1])
