# tokensim: a simulated day interval by interval.
# Edit and rerun with: gnuplot serving_day_2.gp (in this folder); it writes serving_day_2.png and serving_day_2.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'serving_day_2.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'The day of fleet h20-cn: load, queue and cost per hour'
set xlabel 'hour of the window'
set ylabel 'share (busy, KV) or requests (queue)'
set yrange [0:*]
set y2label 'USD per hour'
set y2tics
set ytics nomirror
set y2range [0:*]
plot 'serving_day_2.dat' using 1:4 with steps lw 2 title 'busy share', \
     '' using 1:3 with steps lw 2 title 'KV occupancy', \
     '' using 1:2 with steps lw 2 title 'queue (requests)', \
     '' using 1:5 axes x1y2 with steps lw 2 dt 2 title 'USD per hour'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'serving_day_2.svg'
replot
unset output
