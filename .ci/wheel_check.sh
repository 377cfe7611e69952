#!/usr/bin/env bash
# Wheel check: build the wheel, install it (not editable) into a scratch venv, and use the
# installed `i2i` from a folder outside the checkout. Catches what an editable install hides:
# files missing from the wheel (recipes, py.typed), imports of the checkout's top level, and
# paths that only resolve from the repository root.
#
# The scratch venv has no packages of its own except the wheel: a .pth file appends the test
# venv's site-packages (torch and the other dependencies) to its sys.path. The test venv's own
# .pth files (its editable i2icli) are not processed from there, so `import i2icli` can only
# find the wheel; step 3 asserts that.
#
# Usage: .ci/wheel_check.sh            (VENV=path/to/test/venv to use another one; default .venv)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$(cd "${VENV:-$ROOT/.venv}" && pwd)
PY="$VENV/bin/python"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/i2i-wheel-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
unset PYTHONPATH PYTHONHOME  # a PYTHONPATH pointing at a checkout would defeat the check
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
step() { printf '[wheel-check %3ss] %s\n' "$SECONDS" "$*"; }
fail() { printf '[wheel-check] FAILED: %s\n' "$*" >&2; exit 1; }

step "1/8 build the wheel from a clean copy of the tracked and new files (no stale build/)"
mkdir "$WORK/src" "$WORK/dist" "$WORK/run"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # -co --exclude-standard: tracked files plus new files that are not ignored; symlinks stay symlinks
    (cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$WORK/src" -xf -
else
    tar -C "$ROOT" --exclude=.venv --exclude=build --exclude='*.egg-info' --exclude=runs -cf - . | tar -C "$WORK/src" -xf -
fi
"$PY" -m pip wheel -q --no-deps --no-build-isolation --no-cache-dir -w "$WORK/dist" "$WORK/src" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; fail "pip wheel"; }
WHEEL=$(ls "$WORK"/dist/i2icli-*.whl)
step "    $(basename "$WHEEL")"

step "2/8 install it (not editable) into a scratch venv that reuses $VENV's dependencies"
"$PY" -m venv --without-pip "$WORK/venv"
"$PY" -m pip --python "$WORK/venv/bin/python" install -q --no-deps --no-index --no-cache-dir "$WHEEL" \
    || fail "pip install $WHEEL"
SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
# after the install, so pip never sees the test venv's i2icli; purelib and platlib (the same folder on most systems)
"$PY" -c 'import sysconfig; print(*dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib")), sep="\n")' \
    >"$SITE/_i2i_wheel_check_deps.pth"
export PATH="$WORK/venv/bin:$PATH"
cd "$WORK/run"

step "3/8 the installed package is the wheel's, with its recipes"
python - "$SITE" <<'EOF' || fail "the installed package"
import sys
from pathlib import Path

import i2icli
from i2icli.registry import RECIPES_DIR, get

site = Path(sys.argv[1]).resolve()
where = Path(i2icli.__file__).resolve()
assert where.is_relative_to(site), f"i2icli imported from {where}, not from the wheel in {site}"
assert RECIPES_DIR.is_dir() and not RECIPES_DIR.is_symlink(), f"{RECIPES_DIR}: recipes missing from the wheel"
for model in ("ugatit", "lomit"):
    spec = get(model)
    assert spec.recipe_path().is_file() and spec.find_recipe("tiny").is_file(), f"{model}: recipes missing"
assert (where.parent / "py.typed").is_file(), "py.typed missing from the wheel"
print(f"    i2icli from {where.parent}; {sum(1 for _ in RECIPES_DIR.glob('*/*.toml'))} recipes")
EOF

step "4/8 i2i --help; i2i train ugatit --help"
i2i --help >help.txt || fail "i2i --help"
grep -q "train" help.txt || fail "i2i --help does not list train"
i2i train ugatit --help >train_help.txt || fail "i2i train ugatit --help"
grep -q "tiny" train_help.txt || fail "i2i train ugatit --help does not list the shipped recipes"

step "5/8 i2i prepare synthetic digits (tiny)"
i2i prepare synthetic digits --out digits.h5 --count 16 --test-count 4 >prepare.log 2>&1 \
    || { cat prepare.log; fail "i2i prepare synthetic digits"; }

step "6/8 i2i train ugatit --recipe tiny (the shipped recipe, 2 iterations)"
i2i train ugatit --recipe tiny --data digits.h5 --out run --device cpu --threads 1 \
    --set train.iterations=2 --set train.batch_size=2 --set train.log_every=1 \
    --set train.sample_every=2 --set train.checkpoint_every=2 --set data.num_workers=0 >train.log 2>&1 \
    || { cat train.log; fail "i2i train ugatit --recipe tiny"; }
test -f run/checkpoints/step_00000002/weights.safetensors || { cat train.log; fail "no checkpoint after training"; }

step "7/8 i2i translate one image"
python - <<'EOF' || fail "writing a test image"
from i2icli.data.store import open_store
from i2icli.images import save_png
store = open_store("digits.h5")
save_png("digit.png", store.image("test", int(store.indices("test", "a")[0])))
EOF
i2i translate digit.png --checkpoint run --out out.png --device cpu >translate.log 2>&1 \
    || { cat translate.log; fail "i2i translate"; }
python -c 'from PIL import Image; im = Image.open("out.png"); assert im.size == (32, 32), im.size' \
    || fail "out.png is not a 32 px image"
step "8/8 i2i demo (2 iterations: the demo finds its recipe and the shipped checkpoint in the wheel)"
i2i weights shipped --json >shipped.json || fail "i2i weights shipped"
python - "$SITE" <<'EOF' || fail "the shipped checkpoint is not in the wheel"
import json, sys
from pathlib import Path
rows = json.loads(Path("shipped.json").read_text())
site = Path(sys.argv[1]).resolve()
assert rows and all(Path(r["path"]).resolve().is_relative_to(site) for r in rows), rows
EOF
i2i demo --iterations 2 --count 10 --images 1 --out demo-run >demo.log 2>&1 \
    || { cat demo.log; fail "i2i demo"; }
test -f demo-run/demo_grid.png || { cat demo.log; fail "i2i demo wrote no grid"; }
step "passed"
