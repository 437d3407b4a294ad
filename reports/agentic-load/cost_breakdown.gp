# tokensim: cost per accounting window by fleet.
# Edit and rerun with: gnuplot cost_breakdown.gp (in this folder); it writes cost_breakdown.png and cost_breakdown.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'cost_breakdown.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'Cost per accounting window by fleet'
set xlabel 'fleet'
set ylabel 'USD per window (USD/window)'
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6 relative
set yrange [0:*]
set xtics rotate by -20 noenhanced
plot 'cost_breakdown.dat' using 2:xtic(1) title 'capital', \
     '' using 3 title 'rent', \
     '' using 4 title 'hosting', \
     '' using 5 title 'energy'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'cost_breakdown.svg'
replot
unset output
