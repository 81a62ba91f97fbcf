"""Fill app/translations/zh/LC_MESSAGES/messages.po from scripts/zh.tsv (msgid<TAB>Chinese).

Workflow: `pybabel extract -k _l -F babel.cfg -o app/translations/messages.pot app layers templates`,
`pybabel update -i app/translations/messages.pot -d app/translations`, add the new lines to
scripts/zh.tsv, run this script, then `make translations`. Fails when a msgid has no Chinese.
"""

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "app/translations/zh/LC_MESSAGES/messages.po"
TSV = ROOT / "scripts/zh.tsv"

pairs = dict(line.split("\t", 1) for line in TSV.read_text(encoding="utf-8").splitlines() if "\t" in line)
with PO.open("rb") as handle:
    catalog = read_po(handle, locale="zh")
missing = []
for message in catalog:
    if not message.id:
        continue
    text = pairs.get(message.id)
    if text is None:
        missing.append(message.id)
    else:
        message.string = text
        message.flags.discard("fuzzy")
with PO.open("wb") as handle:
    write_po(handle, catalog, width=100)
if missing:
    sys.exit("no Chinese for: " + " | ".join(missing))
