# tokensim: price per million tokens by fleet.
# Edit and rerun with: gnuplot usd_per_m.gp (in this folder); it writes usd_per_m.png and usd_per_m.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'usd_per_m.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'Price per million tokens by fleet'
set xlabel 'fleet'
set ylabel 'USD per million tokens (USD/Mtok)'
set style data histograms
set style histogram clustered gap 2
set style fill solid 0.85 border -1
set yrange [0:*]
set xtics rotate by -20 noenhanced
plot 'usd_per_m.dat' using 2:xtic(1) title 'input (usd_per_m_input)', \
     '' using 5 title 'output (usd_per_m_output)'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'usd_per_m.svg'
replot
unset output
