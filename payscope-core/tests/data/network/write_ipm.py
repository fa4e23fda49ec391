"""Writes Mastercard IPM files with cardutil (PyPI), the independent writer of the IPM tests.

    python3 write_ipm.py messages.json out_dir

`messages.json` is a list of cardutil message dicts (`MTI`, `DE2`…`DE127`, `PDSnnnn`); the
same messages are written four ways: ASCII and EBCDIC (cp500), each unblocked (VBS) and in
1014-byte blocks, as `ascii.ipm`, `ascii-blocked.ipm`, `ebcdic.ipm`, `ebcdic-blocked.ipm`.
"""
import json
import os
import sys

from cardutil import mciipm


def main(spec, out_dir):
    with open(spec) as f:
        messages = json.load(f)
    for encoding, name in (("latin_1", "ascii"), ("cp500", "ebcdic")):
        for blocked in (False, True):
            path = os.path.join(out_dir, name + ("-blocked" if blocked else "") + ".ipm")
            with open(path, "wb") as out:
                writer = mciipm.IpmWriter(out, encoding=encoding, blocked=blocked)
                for m in messages:
                    writer.write(dict(m))
                writer.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
