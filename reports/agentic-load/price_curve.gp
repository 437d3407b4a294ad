# tokensim: usd_per_m_output against the swept parameter.
# Edit and rerun with: gnuplot price_curve.gp (in this folder); it writes price_curve.png and price_curve.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'price_curve.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'usd_per_m_output against workload.requests_per_day'
set xlabel 'workload.requests_per_day (per window)'
set ylabel 'usd_per_m_output (USD/Mtok)'
plot 'price_curve.dat' index 0 using 1:2 with linespoints lw 2 title 'cache-on', \
     '' index 1 using 1:2 with linespoints lw 2 title 'cache-off'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'price_curve.svg'
replot
unset output
