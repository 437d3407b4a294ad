# tokensim: Facility power by fleet and demand multiple, against the power cap (dashed).
# Edit and rerun with: gnuplot answer_power.gp (in this folder); it writes answer_power.png and answer_power.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'answer_power.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'Facility power by fleet and demand multiple, against the power cap (dashed)'
set ylabel 'facility power (MW, log scale)'
set style data histograms
set style fill solid 0.85 border -1
set boxwidth 0.6 relative
set xtics rotate by -30 noenhanced
unset key
set logscale y
set arrow from graph 0, first 50 to graph 1, first 50 nohead lw 2 dt 2
plot 'answer_power.dat' using 2:xtic(1)
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'answer_power.svg'
replot
unset output
