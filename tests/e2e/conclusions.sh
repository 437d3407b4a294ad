#!/bin/sh
# End-to-end: every shipped scenario with a [question] runs, its report has a Conclusion, every
# number in that paragraph is a row of table `metrics` of the run (to the digits shown), and
# the words that state a direction (lowers/raises, set by BOUND, no electricity price, runs out
# of power first, cheapest task, saves nothing) agree with the stored numbers. A tampered
# paragraph must fail the same check, so the check itself can fail. Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-conclusions.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

# conclusion REPORT.md: the generated paragraph (the line after the Question line).
conclusion() {
    awk '/^## Conclusion/ {c = 1; next} c && /^\*\*Question:\*\*/ {next}
         c && NF {print; exit}' "$1"
}

# numbers_ok TEXT_FILE DB: prints each number of the text that matches no metric value.
numbers_ok() {
    sqlite3 "$2" "SELECT value FROM metrics WHERE run_id = 1 AND value IS NOT NULL" >"$TMP/vals"
    awk 'NR == FNR { v[n++] = ($1 < 0 ? -$1 : $1); next }
    {
        line = $0
        gsub(/`[^`]*`/, " ", line)
        while (match(line, /[0-9][0-9,]*(\.[0-9]+)?(e[-+]?[0-9]+)?/)) {
            tok = substr(line, RSTART, RLENGTH)
            line = substr(line, RSTART + RLENGTH)
            num = tok
            gsub(/,/, "", num)
            mant = num; ex = 0
            if (index(num, "e")) { split(num, part, "e"); mant = part[1]; ex = part[2] + 0 }
            dec = index(mant, ".") ? length(mant) - index(mant, ".") : 0
            tol = 0.5 * 10 ^ (ex - dec) * 1.000001 + 1e-300
            x = num + 0
            hit = 0
            for (i = 0; i < n && !hit; i++)
                if (v[i] - x <= tol && x - v[i] <= tol)
                    hit = 1
            if (!hit)
                print tok
        }
    }' "$TMP/vals" "$1"
}

metric() { # DB FLEET METRIC -> value ("" when NULL or absent)
    sqlite3 "$1" "SELECT value FROM metrics WHERE run_id = 1 AND fleet = '$2' AND metric = '$3'"
}

n=0
for scn in scenarios/*.ini; do
    grep -q '^\[question\]' "$scn" || continue
    stem=$(basename "$scn" .ini)
    n=$((n + 1))
    db="$TMP/$stem.db"
    why=
    if ! "$TS" run --reproducible --quiet --db "$db" --out "$TMP/out" "$scn" >"$TMP/o" 2>"$TMP/e"
    then
        addwhy "run failed: $(tail -c 300 "$TMP/e")"
        report "$stem: runs"
        continue
    fi
    md="$TMP/out/$stem-1/report.md"
    conclusion "$md" >"$TMP/$stem.txt"
    [ -s "$TMP/$stem.txt" ] || addwhy "no Conclusion paragraph in report.md"
    [ "$(tr -cd '0-9' <"$TMP/$stem.txt" | wc -c)" -gt 5 ] || addwhy "the conclusion holds no numbers"
    bad=$(numbers_ok "$TMP/$stem.txt" "$db" | tr '\n' ' ')
    [ -z "$bad" ] || addwhy "numbers in the conclusion that are no metric row: $bad"
    report "$stem: every number of the conclusion is a metric row of the run"

    why=
    text=$(cat "$TMP/$stem.txt")
    kind=$(sed -n 's/^kind *= *//p' "$scn" | head -1)
    case "$kind" in
    decompose)
        for f in $(sed -n 's/^factors *= *//p' "$scn" | tr ',' ' '); do
            v=$(metric "$db" - "gap_${f}_usd_per_m_output")
            word=$(awk -v v="$v" 'BEGIN { print (v >= 0 ? "lowers" : "raises") }')
            printf '%s' "$text" | grep -q "$f (\`[^\`]*\` to \`[^\`]*\`) $word" ||
                addwhy "factor $f: gap $v but the text does not say '$word'"
        done ;;
    versus)
        printf '%s' "$text" | grep -o '`[^`]*` decodes batches of [0-9,]* sequences (set by [a-z]*' |
            sed 's/^`\([^`]*\)`.*set by \([a-z]*\)$/\1 \2/' | while read -r f b; do
                got=$(sqlite3 "$db" "SELECT bound FROM fleets WHERE run_id = 1 AND fleet = '$f'")
                [ "$got" = "$b" ] || echo "fleet $f: text says set by $b, table fleets says $got"
            done >"$TMP/w"
        [ -s "$TMP/w" ] && addwhy "$(cat "$TMP/w")"
        printf '%s' "$text" | grep -q 'set by' || addwhy "no batch bound stated" ;;
    breakeven)
        nulls=$(sqlite3 "$db" "SELECT count(*) FROM metrics WHERE run_id = 1 AND
            metric = 'breakeven_usd_per_kwh' AND value IS NULL AND fleet IN
            (SELECT fleet FROM metrics WHERE run_id = 1 AND metric = 'ratio_usd_per_m_output')")
        said=$(printf '%s' "$text" | grep -o 'No electricity price' | wc -l)
        [ "$nulls" -eq "$said" ] ||
            addwhy "$nulls fleets have no electricity break-even, the text says so $said times" ;;
    demand)
        first=$(printf '%s' "$text" | sed -n 's/.*`\([^`]*\)` runs out of power first.*/\1/p')
        least=$(sqlite3 "$db" "SELECT fleet FROM metrics WHERE run_id = 1 AND
            metric = 'power_cap_multiple' ORDER BY value LIMIT 1")
        [ -n "$first" ] && [ "$first" = "$least" ] ||
            addwhy "text says '$first' runs out of power first; the smallest power_cap_multiple is '$least'"
        over=$(sqlite3 "$db" "SELECT count(*) FROM metrics m, metrics c WHERE m.run_id = 1 AND
            c.run_id = 1 AND m.metric LIKE 'x%_facility_mw' AND c.metric = 'power_cap_mw' AND
            m.value > c.value")
        said=$(printf '%s' "$text" | grep -o 'over the cap' | wc -l)
        [ "$over" -eq "$said" ] || addwhy "$over points over the cap, the text marks $said" ;;
    task)
        best=$(printf '%s' "$text" | sed -n 's/.*cheapest way to a solved task is `\([^`]*\)`.*/\1/p')
        least=$(sqlite3 "$db" "SELECT substr(metric, 6, length(metric) - 20) FROM metrics
            WHERE run_id = 1 AND metric LIKE 'task.%.usd_per_solved' AND value IS NOT NULL
            ORDER BY value LIMIT 1")
        [ -n "$best" ] && [ "$best" = "$least" ] ||
            addwhy "text says '$best' is cheapest per solved task; the metrics say '$least'" ;;
    distill)
        be=$(metric "$db" - distill_breakeven_tokens)
        if [ -z "$be" ]; then
            printf '%s' "$text" | grep -q 'never pays back' || addwhy "no break-even, text claims one"
        else
            printf '%s' "$text" | grep -q 'repays its distillation after' ||
                addwhy "break-even $be tokens, text does not state it"
        fi ;;
    *) addwhy "unknown question kind '$kind'" ;;
    esac
    report "$stem: the words of the conclusion agree with the stored numbers"
done

why=
[ "$n" -ge 7 ] || addwhy "only $n shipped scenarios have a [question] (7 questions expected)"
report "every question of issue 10 has a shipped scenario"

# The check can fail: change one number of a conclusion and it must be caught.
why=
if [ -s "$TMP/us-vs-china.txt" ]; then
    sed 's/\$\([0-9]\)/$9\1/' "$TMP/us-vs-china.txt" >"$TMP/tampered.txt"
    [ -n "$(numbers_ok "$TMP/tampered.txt" "$TMP/us-vs-china.db")" ] ||
        addwhy "a tampered conclusion passed the number check"
else
    addwhy "no us-vs-china conclusion to tamper with"
fi
report "a conclusion with a changed number fails the check"

[ "$failed" -eq 0 ]
