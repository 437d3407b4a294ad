# tokensim: List-price gap (list) and what each step removes from it, in the order changed.
# Edit and rerun with: gnuplot answer_gap.gp (in this folder); it writes answer_gap.png and answer_gap.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'answer_gap.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'List-price gap (list) and what each step removes from it, in the order changed'
set ylabel 'USD per million output tokens (USD/Mtok)'
set style data histograms
set style fill solid 0.85 border -1
set boxwidth 0.6 relative
set xtics rotate by -30 noenhanced
unset key
plot 'answer_gap.dat' using 2:xtic(1)
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'answer_gap.svg'
replot
unset output
