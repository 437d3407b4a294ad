# tokensim: Monte Carlo histogram of usd_per_m_output.
# Edit and rerun with: gnuplot histogram.gp (in this folder); it writes histogram.png and histogram.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'histogram.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'Monte Carlo distribution of usd_per_m_output'
set xlabel 'usd_per_m_output (USD/Mtok)'
set ylabel 'samples per bin'
set yrange [0:*]
set style fill transparent solid 0.45 border -1
plot 'histogram.dat' index 0 using (($1+$2)/2):3:($2-$1) with boxes title 'dense-h100-us', \
     '' index 1 using (($1+$2)/2):3:($2-$1) with boxes title 'moe-h100-us', \
     '' index 2 using (($1+$2)/2):3:($2-$1) with boxes title 'moe-h20-us', \
     '' index 3 using (($1+$2)/2):3:($2-$1) with boxes title 'moe-h20-cn'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'histogram.svg'
replot
unset output
