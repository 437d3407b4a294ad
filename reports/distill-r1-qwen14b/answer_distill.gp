# tokensim: One-time distillation cost: teacher generation and student training.
# Edit and rerun with: gnuplot answer_distill.gp (in this folder); it writes answer_distill.png and answer_distill.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'answer_distill.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'One-time distillation cost: teacher generation and student training'
set ylabel 'USD'
set style data histograms
set style fill solid 0.85 border -1
set boxwidth 0.6 relative
set xtics rotate by -30 noenhanced
unset key
plot 'answer_distill.dat' using 2:xtic(1)
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'answer_distill.svg'
replot
unset output
