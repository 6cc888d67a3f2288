#!/usr/bin/env bash
# The README's pictures, made from real output (run from anywhere; writes docs/img/*.png):
#   layernorm-latex.png  page 1 of `derive --latex --standalone`, compiled with pdflatex
#   mlp-graph.png        `graph -f tikz --standalone`, compiled with pdflatex
#   layernorm-html.png   the top of `derive -f html`, as headless Chromium draws it offline
# Needs einderive on PATH (or PYTHONPATH=src), pdflatex and pdftoppm (poppler-utils); the
# HTML picture also needs chromium, and is left as it was without it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/img
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
einderive() { python -m einderive "$@"; }

# a LaTeX document as a PNG of its first page, at `dpi` (pdftoppm names it NAME-1.png)
compile_png() {  # tex-file png-file dpi
  local name
  name=$(basename "$1" .tex)
  (cd "$work" && pdflatex -interaction=nonstopmode -halt-on-error "$name.tex" >/dev/null)
  pdftoppm -png -r "$3" -f 1 -l 1 -singlefile "$work/$name.pdf" "$work/$name"
  mv "$work/$name.png" "$2"
}

einderive derive specs/layernorm.yaml --latex --standalone -o "$work/layernorm.tex"
compile_png "$work/layernorm.tex" "$out/layernorm-latex.png" 80

einderive graph specs/mlp.yaml -f tikz --standalone -o "$work/mlp-graph.tex"
compile_png "$work/mlp-graph.tex" "$out/mlp-graph.png" 150

chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -n "$chrome" ]; then
  einderive derive specs/layernorm.yaml -f html -o "$work/layernorm.html"
  # offline: a host name the page asked for would resolve nowhere (it asks for none)
  "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --host-resolver-rules="MAP * ~NOTFOUND" --window-size=820,1000 \
    --user-data-dir="$work/profile" --screenshot="$out/layernorm-html.png" \
    "file://$work/layernorm.html" >/dev/null 2>&1
else
  echo "no chromium: $out/layernorm-html.png left as it was" >&2
fi
ls -l "$out"
