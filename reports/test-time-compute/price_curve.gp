# tokensim: usd_per_m_output against the electricity price (computed per fleet).
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
set title 'usd_per_m_output against the electricity price (computed per fleet)'
set xlabel 'usd_per_kwh (USD/kWh)'
set ylabel 'usd_per_m_output (USD/Mtok)'
set xrange [0:*]
plot 'price_curve.dat' index 0 using 1:2 with lines lw 2 title 'r1', \
     '' index 1 using 1:2 with lines lw 2 title 'qwen32b', \
     '' index 2 using 1:2 with lines lw 2 title 'qwen14b', \
     '' index 3 using 1:2 with lines lw 2 title 'qwen7b'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'price_curve.svg'
replot
unset output
