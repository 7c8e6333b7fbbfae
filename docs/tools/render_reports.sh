#!/bin/sh
# Render every report kind for a look with human eyes (not a CI test: needs chromium,
# libreoffice-writer and poppler-utils, e.g. apt-get install -y chromium libreoffice-writer
# poppler-utils fonts-dejavu).
#
#   docs/tools/render_reports.sh [OUT]        # default OUT: ./report-render
#
# 1. builds the fixed store of tests/test_reports_golden.py and writes every kind as HTML,
#    Markdown and DOCX into OUT/;
# 2. HTML -> PNG: a headless Chromium screenshot of the first A4 screen (OUT/png/<name>.png), and
#    the whole document printed to PDF then to one PNG per page (OUT/png/<name>-html-<n>.png);
# 3. DOCX -> PDF with LibreOffice, then one PNG per page (OUT/png/<name>-docx-<n>.png).
# Then look at the PNGs: charts readable, Vietnamese diacritics intact, nothing cut off.
set -eu
OUT=$(realpath -m "${1:-report-render}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUT/png"
cd "$ROOT"
python - "$OUT" <<'PY'
import sys
import tempfile
from pathlib import Path

from soc.reports.render import Format, render
from tests.test_reports_golden import all_documents, build_store

out = Path(sys.argv[1])
store, config, incidents = build_store(Path(tempfile.mkdtemp(prefix="soc-render-")))
for name, doc in all_documents(store, config, incidents).items():
    for fmt in Format:
        (out / f"{name}.{fmt.value}").write_bytes(render(doc, fmt))
store.close()
print(f"rendered into {out}", file=sys.stderr)
PY
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
PROFILE=$(mktemp -d)
FLAGS="--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
--disable-component-update --disable-sync --user-data-dir=$PROFILE"
for html in "$OUT"/*.html; do
  name=$(basename "$html" .html)
  # shellcheck disable=SC2086
  "$CHROME" $FLAGS --window-size=1240,1754 --screenshot="$OUT/png/$name.png" "file://$html" \
    2>/dev/null
  # shellcheck disable=SC2086
  "$CHROME" $FLAGS --no-pdf-header-footer --print-to-pdf="$OUT/$name.html.pdf" "file://$html" \
    2>/dev/null
  pdftoppm -png -r 60 "$OUT/$name.html.pdf" "$OUT/png/$name-html"
done
soffice --headless --convert-to pdf --outdir "$OUT" "$OUT"/*.docx >/dev/null
for pdf in "$OUT"/*.pdf; do
  case "$pdf" in *.html.pdf) continue ;; esac
  name=$(basename "$pdf" .pdf)
  pdftoppm -png -r 60 "$pdf" "$OUT/png/$name-docx"
done
rm -rf "$PROFILE"
echo "PNGs in $OUT/png" >&2
