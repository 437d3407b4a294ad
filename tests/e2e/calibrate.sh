#!/bin/sh
# End-to-end: `tokensim calibrate` (issue 19) on a small measure run: refuses a run with too few
# configurations (exit 2, a message naming the need, nothing stored), fits one with two presets
# and four batches (a profile row, a residual per configuration, half of them held out), and
# `validate` then predicts with the stored calibration and says so (`--defaults` does not);
# `validate --serving` refuses without a calibration and prints three rates with it.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-calibrate.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
q() { sqlite3 "$1" "$2" 2>&1; }

why=
"$TS" measure --model dense-15m --prompt 8 --gen 2 --batch 1,2 --repeat 1 --threads 1 \
    --meter modeled --db "$TMP/few.db" --out "$TMP/out" >/dev/null 2>"$TMP/e" ||
    addwhy "measure: exit $?: $(head -c 300 "$TMP/e")"
"$TS" calibrate --db "$TMP/few.db" >"$TMP/o" 2>"$TMP/e"
rc=$?
[ "$rc" -eq 2 ] || addwhy "exit status $rc, expected 2"
grep -q "too few points to calibrate" "$TMP/e" || addwhy "stderr: $(head -c 300 "$TMP/e")"
[ "$(q "$TMP/few.db" "select count(*) from calibrations")" = 0 ] || addwhy "a profile was stored"
report "calibrate refuses a run with too few configurations (exit 2, nothing stored)"

why=
DB=$TMP/m.db
"$TS" measure --model dense-15m --model moe-15m-total --prompt 8 --gen 2 --batch 1,2,3,4 \
    --repeat 1 --threads 1 --meter modeled --db "$DB" --out "$TMP/out" >/dev/null 2>"$TMP/e" ||
    addwhy "measure: exit $?: $(head -c 300 "$TMP/e")"
"$TS" calibrate --db "$DB" >"$TMP/o" 2>"$TMP/e" || addwhy "calibrate: exit $?: $(cat "$TMP/e")"
[ "$(q "$DB" "select count(*) from calibrations where precision = 'fp32'")" = 1 ] ||
    addwhy "expected one fp32 profile"
[ "$(q "$DB" "select count(*) || ' ' || sum(held_out) from calibration_residuals")" = "16 8" ] ||
    addwhy "residuals: $(q "$DB" "select count(*), sum(held_out) from calibration_residuals")"
v=$(q "$DB" "select eff_memory > 0 and eff_compute > 0 and step_overhead_ms >= 0 and
             n_train = 8 and n_test = 8 from calibrations")
[ "$v" = 1 ] || addwhy "profile: $(q "$DB" "select * from calibrations")"
grep -q "Median |error| on tokens/s: training" "$TMP/o" || addwhy "no summary line printed"
report "calibrate fits a profile and stores a residual per configuration, half held out"

why=
"$TS" validate --db "$DB" >"$TMP/v" 2>"$TMP/e" || addwhy "validate: exit $?: $(cat "$TMP/e")"
grep -q "calibrated step-time model" "$TMP/v" || addwhy "validate did not use the calibration"
grep -q "calibration 1 (fp32, KV fp32, 1 threads" "$TMP/v" || addwhy "$(head -5 "$TMP/v")"
"$TS" validate --db "$DB" --defaults >"$TMP/v" 2>"$TMP/e" || addwhy "validate --defaults: $?"
grep -q "scenario defaults" "$TMP/v" || addwhy "--defaults did not use the defaults"
report "validate predicts with the stored calibration and says which; --defaults does not"

why=
"$TS" validate --serving --db "$TMP/few.db" --duration 1 >/dev/null 2>"$TMP/e"
rc=$?
[ "$rc" -eq 2 ] || addwhy "without a calibration: exit $rc"
grep -q "no calibration for fp32 weights" "$TMP/e" || addwhy "stderr: $(cat "$TMP/e")"
"$TS" validate --serving --db "$DB" --model dense-15m --duration 1 --input 8 --output 4 \
    --rate 1 --out "$TMP/out" >"$TMP/v" 2>"$TMP/e" ||
    addwhy "validate --serving: exit $?: $(cat "$TMP/e")"
[ "$(grep -c '^| [0-9.]* | [369]0% |' "$TMP/v")" -eq 3 ] || addwhy "three rates: $(cat "$TMP/v")"
grep -q "^median |error| of the simulation over 15 figures: " "$TMP/v" || addwhy "no median"
report "validate --serving needs a calibration, then compares three rates side by side"

why=
run=$(q "$DB" "select id from runs where name = 'validate-serving' and status = 'done'")
[ -n "$run" ] || addwhy "no validate-serving run"
[ "$(q "$DB" "select count(*) || ' ' || count(distinct rate_req_s) || ' ' || count(distinct quantity)
              from serving_validation where run_id = $run and measured > 0 and predicted > 0")" = "15 3 5" ] ||
    addwhy "rows: $(q "$DB" "select * from serving_validation")"
# the stored median is the median |predicted / measured - 1| of the stored pairs, as printed
med=$(q "$DB" "select value from metrics where run_id = $run and metric = 'median_abs_err'")
want=$(q "$DB" "select abs(predicted / measured - 1) from serving_validation where run_id = $run
                order by abs(predicted / measured - 1) limit 1 offset 7")
awk -v a="$med" -v b="$want" 'BEGIN { exit !(a - b < 1e-9 && b - a < 1e-9) }' ||
    addwhy "median_abs_err $med, the rows' median $want"
printed=$(sed -n 's/^median |error| of the simulation over 15 figures: \([0-9.]*\)%$/\1/p' "$TMP/v")
awk -v a="$med" -v p="$printed" 'BEGIN { d = 100 * a - p; exit !(d < 0.051 && d > -0.051) }' ||
    addwhy "printed median $printed%, stored $med"
dir=$(q "$DB" "select out_dir from runs where id = $run")
for f in report.md report.html serving_validation.gp serving_validation.dat; do
    [ -s "$dir/$f" ] || addwhy "no $f in '$dir'"
done
[ "$(grep -c '^| [0-9.,]* | [369]0% |' "$dir/report.md")" -eq 3 ] || addwhy "report rows"
[ "$(grep -cv '^#' "$dir/serving_validation.dat" | tr -d ' ')" -ge 15 ] || addwhy "plot points"
"$TS" report "$run" --db "$DB" | cmp -s - "$dir/report.md" || addwhy "report N differs"
report "validate --serving stores its rows and median, and writes a report folder with a plot"

[ "$failed" -eq 0 ]
