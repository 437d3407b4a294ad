# tokensim: sensitivity of usd_per_m_output (tornado).
# Edit and rerun with: gnuplot tornado_4.gp (in this folder); it writes tornado_4.png and tornado_4.svg.
reset
set encoding utf8
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'
} else {
    set terminal png size 960,600 noenhanced
}
set output 'tornado_4.png'
set datafile missing '?'
set key below noenhanced
set grid ytics
set title 'Sensitivity of usd_per_m_output, fleet moe-h20-cn'
set xlabel 'usd_per_m_output (USD/Mtok)'
set ylabel 'uncertain input'
set yrange [0.4:2.6]
set ytics noenhanced
set grid xtics
set style fill solid 0.85 border -1
set arrow 1 from 0.2381, graph 0 to 0.2381, graph 1 nohead dt 2 lw 2
lo(a, m) = a < m ? a : m
hi(a, m) = a < m ? m : a
plot 'tornado_4.dat' using 7:1:(lo($5, $7)):(hi($5, $7)):($1-0.35):($1+0.35):ytic(2) with boxxyerror title 'input at P10', \
     '' using 7:1:(lo($6, $7)):(hi($6, $7)):($1-0.35):($1+0.35) with boxxyerror title 'input at P90'
set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'
set output 'tornado_4.svg'
replot
unset output
