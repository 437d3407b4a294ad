# tokensim: throughput and P90 latency against the swept load.
# Edit and rerun with: gnuplot load_curve.gp (in this folder); it writes load_curve.png and load_curve.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'load_curve.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'throughput and P90 latency against the swept load'
set xlabel 'workload.requests_per_day (per window)'
set logscale x
set ylabel 'output tokens/s'
set y2label 'P90 latency (ms)'
set logscale y2
set y2tics
set ytics nomirror
plot 'load_curve.dat' index 0 using 1:2 axes x1y1 with linespoints lw 2 title 'cache-on output tok/s', \
     '' index 0 using 1:3 axes x1y2 with linespoints dt 2 title 'cache-on P90 TTFT', \
     '' index 0 using 1:4 axes x1y2 with linespoints dt 3 title 'cache-on P90 TPOT', \
     '' index 1 using 1:2 axes x1y1 with linespoints lw 2 title 'cache-off output tok/s', \
     '' index 1 using 1:3 axes x1y2 with linespoints dt 2 title 'cache-off P90 TTFT', \
     '' index 1 using 1:4 axes x1y2 with linespoints dt 3 title 'cache-off P90 TPOT'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'load_curve.svg'
replot
unset output
