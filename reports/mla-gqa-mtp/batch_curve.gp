# tokensim: usd_per_m_output and decode tokens/s per chip against the batch.
# Edit and rerun with: gnuplot batch_curve.gp (in this folder); it writes batch_curve.png and batch_curve.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'batch_curve.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'usd_per_m_output and decode tokens/s per chip against the batch'
set xlabel 'decode batch (sequences)'
set logscale x 2
set ylabel 'usd_per_m_output (USD/Mtok)'
set logscale y
set y2label 'decode_tok_s_per_chip (tok/s/chip)'
set y2tics
set ytics nomirror
plot 'batch_curve.dat' index 0 using 1:2 axes x1y1 with linespoints lw 2 dt 1 title 'mla-mtp USD/Mtok', \
     '' index 0 using 1:3 axes x1y2 with linespoints lw 2 dt 2 title 'mla-mtp tok/s/chip', \
     '' index 1 using 1:2 axes x1y1 with linespoints lw 2 dt 1 title 'mla-nomtp USD/Mtok', \
     '' index 1 using 1:3 axes x1y2 with linespoints lw 2 dt 2 title 'mla-nomtp tok/s/chip', \
     '' index 2 using 1:2 axes x1y1 with linespoints lw 2 dt 1 title 'gqa8-mtp USD/Mtok', \
     '' index 2 using 1:3 axes x1y2 with linespoints lw 2 dt 2 title 'gqa8-mtp tok/s/chip'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'batch_curve.svg'
replot
unset output
