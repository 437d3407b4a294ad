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
plot 'price_curve.dat' index 0 using 1:2 with lines lw 2 title 'h100-us', \
     '' index 1 using 1:2 with lines lw 2 title 'h20-cn', \
     '' index 2 using 1:2 with lines lw 2 title 'cm384-cn'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'price_curve.svg'
replot
unset output
