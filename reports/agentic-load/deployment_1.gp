# tokensim: the deployment search: cost and throughput per instance size.
# Edit and rerun with: gnuplot deployment_1.gp (in this folder); it writes deployment_1.png and deployment_1.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'deployment_1.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'Deployment search, fleet cache-on: cost and throughput per instance size'
set xlabel 'chips per instance'
set logscale x 2
set ylabel 'usd_per_m_blended (USD/Mtok)'
set logscale y
set y2label 'decode_tok_s_per_chip (tok/s/chip)'
set y2tics
set ytics nomirror
set arrow 1 from 1, graph 0 to 1, graph 1 nohead dt 2 lw 2
set label 1 'chosen' at 1, graph 0.95 offset 0.5, 0
plot 'deployment_1.dat' using 1:2 axes x1y1 with linespoints lw 2 title 'usd_per_m_blended (USD/Mtok)', \
     '' using 1:3 axes x1y2 with linespoints lw 2 dt 2 title 'decode_tok_s_per_chip (tok/s/chip)'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'deployment_1.svg'
replot
unset output
