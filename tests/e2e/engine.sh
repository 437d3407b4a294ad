#!/bin/sh
# End-to-end: the engine's commands. `models` lists the presets with their sizes; `export`
# writes model files (a dense-15m llama2.c checkpoint has stories15M's exact size); `generate`
# refuses missing or broken inputs with the right exit status; a short `bench` writes its table.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-engine.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

# expect STATUS CMD...: runs CMD, adds to $why unless it exits with STATUS
expect() {
    want=$1
    shift
    "$@" >"$TMP/o" 2>"$TMP/e"
    st=$?
    [ "$st" -eq "$want" ] || addwhy "exit status $st, expected $want: $(head -c 300 "$TMP/e")"
}

why=
expect 0 "$TS" models
for p in dense-15m moe-15m-active moe-15m-total dense-110m moe-110m-active moe-110m-total; do
    grep -q "^$p " "$TMP/o" || addwhy "preset $p not listed"
done
grep -q "60,768,000" "$TMP/o" || addwhy "dense-15m should read 60,768,000 bytes per decode token"
report "models lists the six presets with bytes per token"

why=
expect 0 "$TS" export --model dense-15m --format llama2c --out "$TMP/d15.bin"
size=$(wc -c <"$TMP/d15.bin" 2>/dev/null || echo 0)
[ "$size" -eq 60816028 ] || addwhy "checkpoint is $size bytes, stories15M.bin is 60816028"
report "export writes a dense-15m llama2.c checkpoint of stories15M's size"

why=
expect 0 "$TS" export --model moe-15m-total --out "$TMP/moe.tsm"
head -c 8 "$TMP/moe.tsm" | grep -q TSMODEL || addwhy "no TSMODEL magic"
expect 2 "$TS" export --model moe-15m-total --format llama2c --out "$TMP/moe.bin"
[ ! -e "$TMP/moe.bin" ] || addwhy "a refused export left a file"
report "export writes model files and refuses MoE in the llama2.c format"

why=
expect 2 "$TS" generate --checkpoint "$TMP/d15.bin" --prompt hi
grep -q "tokenizer FILE is required" "$TMP/e" || addwhy "no message about --tokenizer"
expect 1 "$TS" generate --checkpoint "$TMP/missing.bin" --tokenizer "$TMP/t.bin"
expect 2 "$TS" generate --checkpoint "$TMP/d15.bin" --model dense-15m --tokenizer "$TMP/t.bin"
report "generate needs one model source and a tokenizer"

why=
head -c 60816000 "$TMP/d15.bin" >"$TMP/short.bin"
expect 2 "$TS" generate --checkpoint "$TMP/short.bin" --tokenizer "$TMP/t.bin"
grep -q "short.bin" "$TMP/e" || addwhy "message does not name the file: $(cat "$TMP/e")"
printf 'not a model' >"$TMP/junk.tsm"
expect 2 "$TS" generate --model-file "$TMP/junk.tsm" --tokenizer "$TMP/t.bin"
expect 1 "$TS" generate --checkpoint "$TMP/d15.bin" --tokenizer "$TMP/missing-tokenizer.bin"
report "generate refuses a truncated checkpoint, a junk model file and a missing tokenizer"

why=
expect 0 "$TS" bench --model dense-15m --threads 1 --repeats 1 --commit test --out "$TMP/b.md"
for p in fp32 bf16 int8 int4; do
    grep -q "| dense-15m | $p | 1 | prefill 128 |" "$TMP/b.md" || addwhy "no $p prefill row"
    n=$(grep -c "| dense-15m | $p | 1 | decode |" "$TMP/b.md")
    [ "$n" -eq 3 ] || addwhy "$n $p decode rows, expected batch 1, 4 and 16"
done
grep -q "STREAM triad" "$TMP/b.md" || addwhy "no measured ceilings"
grep -q "read-only bandwidth from DRAM" "$TMP/b.md" || addwhy "no read-bandwidth ceiling"
grep -q "read at .* MB |" "$TMP/b.md" || addwhy "decode rows do not name their working-set ceiling"
grep -q "bf16 prefill >= 1.5x fp32" "$TMP/b.md" || addwhy "no precision targets"
grep -q "int8 prefill >= 2x fp32" "$TMP/b.md" || addwhy "no int8 prefill target"
report "bench writes a table with prefill and decode rows per precision and the ceilings"

why=
cat >"$TMP/shapes.ini" <<'INI'
; two shapes of my own
[model my-gqa]
layers = 2
d_model = 64
heads = 4
kv_heads = 2
ffn = 128
vocab = 500
max_seq = 64

[model my-moe]
layers = 2
d_model = 64
heads = 4
experts = 4
experts_active = 2
expert_ffn = 32
vocab = 500
shared_classifier = false
INI
expect 0 "$TS" models --config "$TMP/shapes.ini"
grep -q "^my-gqa " "$TMP/o" || addwhy "my-gqa not listed"
grep -q "^my-moe " "$TMP/o" || addwhy "my-moe not listed"
expect 0 "$TS" export --config "$TMP/shapes.ini" --model my-moe --out "$TMP/my.tsm"
expect 0 "$TS" export --config "$TMP/shapes.ini" --model my-gqa --format llama2c --out "$TMP/my-ck.bin"
expect 0 "$TS" bench --config "$TMP/shapes.ini" --model my-gqa --threads 1 --repeats 1 \
    --checkpoint "$TMP/my-ck.bin" --out "$TMP/my.md"
grep -q "| my-gqa | fp32 | 1 | decode | 16 |" "$TMP/my.md" || addwhy "no my-gqa rows in the bench table"
grep -q "| my-ck | int8 | 1 | prefill " "$TMP/my.md" || addwhy "no rows of the llama2.c checkpoint"
grep -q "| int8 prefill >= 2x fp32 | my-ck |" "$TMP/my.md" || addwhy "no int8 target for the checkpoint"
report "a model file defines shapes that models, export and bench (and its llama2.c export) use"

why=
head -c 40 "$TMP/my-ck.bin" >"$TMP/cut.bin"
expect 2 "$TS" bench --model dense-15m --checkpoint "$TMP/cut.bin" --out "$TMP/cut.md"
grep -q "cut.bin" "$TMP/e" || addwhy "no file named for a truncated checkpoint: $(cat "$TMP/e")"
grep -q "probing" "$TMP/e" && addwhy "bench probed before refusing the checkpoint"
[ -e "$TMP/cut.md" ] && addwhy "a table was written for a refused checkpoint"
expect 1 "$TS" bench --model dense-15m --checkpoint "$TMP/none.bin" --out "$TMP/cut.md"
report "bench refuses a truncated or missing checkpoint before it runs anything"

why=
printf '[model a]\nlayers = 2\nd_model = 64\nheads = 3\nffn = 8\nvocab = 10\n' >"$TMP/b1.ini"
expect 2 "$TS" models --config "$TMP/b1.ini"
grep -q "b1.ini:1: model 'a'" "$TMP/e" || addwhy "no FILE:LINE for a bad shape: $(cat "$TMP/e")"
printf '[scenario]\nname = x\n' >"$TMP/b2.ini"
expect 2 "$TS" models --config "$TMP/b2.ini"
grep -q "b2.ini:1: a model file holds only" "$TMP/e" || addwhy "scenario section accepted"
printf '[model a]\nlayers = 2\nd_modle = 64\n' >"$TMP/b3.ini"
expect 2 "$TS" models --config "$TMP/b3.ini"
grep -q "b3.ini:3: unknown key 'd_modle'.*did you mean 'd_model'" "$TMP/e" ||
    addwhy "no suggestion: $(cat "$TMP/e")"
[ ! -s "$TMP/o" ] || addwhy "a bad model file still printed the table"
report "bad model files get FILE:LINE errors and exit 2"

[ "$failed" -eq 0 ]
