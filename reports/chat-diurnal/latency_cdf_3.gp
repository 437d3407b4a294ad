# tokensim: latency distributions of a simulated day.
# Edit and rerun with: gnuplot latency_cdf_3.gp (in this folder); it writes latency_cdf_3.png and latency_cdf_3.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'latency_cdf_3.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'Latency distributions over the day, fleet cm384-cn'
set xlabel 'latency (ms, log scale)'
set logscale x
set ylabel 'share of requests at or below'
set yrange [0:1]
plot 'latency_cdf_3.dat' index 0 using 1:2 with steps lw 2 title 'TTFT', \
     '' index 1 using 1:2 with steps lw 2 title 'TPOT', \
     '' index 2 using 1:2 with steps lw 2 title 'end to end'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'latency_cdf_3.svg'
replot
unset output
