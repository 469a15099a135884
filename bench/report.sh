#!/usr/bin/env bash
# Turns one benchmark run into docs/benchmarks.md and its plots (SVG, made by gnuplot):
# what scripts/bench.sh --report calls once every part has run.
# Usage: bench/report.sh DATA_DIR DOCS_DIR
#   DATA_DIR holds what the run left: machine.txt (written by scripts/bench.sh),
#   vshm-bench's summary.md and *.tsv (vshm-bench --data), chain.tsv (chain.sh --data)
#   and the printed output of every part as PART.txt.
#   DOCS_DIR gets benchmarks.md, and benchmarks/*.svg.
set -euo pipefail
data=$1
docs=$2
command -v gnuplot >/dev/null ||
  { echo "report.sh: gnuplot is missing; install the gnuplot-nox package" >&2; exit 1; }
for file in machine.txt summary.md throughput.tsv pingpong.tsv spinning.tsv futex.tsv \
  sleeping.tsv; do
  [ -s "$data/$file" ] || { echo "report.sh: $data/$file is missing or empty" >&2; exit 1; }
done
plots="$docs/benchmarks"
mkdir -p "$plots"

# Same look for every plot; SVG with no date in it, so that a re-run changes only what
# was measured.
style="set terminal svg size 900,440 dynamic font 'sans,12' background rgb 'white'
set datafile separator '\t'
set grid lc rgb '#dddddd'
set key top left box opaque"

gnuplot <<EOF
$style
set output '$plots/latency.svg'
set multiplot layout 1,2 title 'Publish to observe, every sample of every run (cumulative)'
set logscale x
set format x '%.0s %cs'
set xlabel 'latency, one way'
set ylabel 'fraction of samples at or below'
set yrange [0:1]
set key bottom right
set title 'spinning reader'
plot '$data/pingpong.tsv' using (\$2*1e-9):1 with lines lw 2 lc rgb '#888888' title 'cache-line ping-pong', \
     '$data/spinning.tsv' using (\$2*1e-9):1 with lines lw 2 lc rgb '#1f77b4' title 'vshm, spinning reader'
set title 'sleeping reader'
unset ylabel
plot '$data/futex.tsv' using (\$2*1e-9):1 with lines lw 2 lc rgb '#888888' title 'futex wake-up', \
     '$data/sleeping.tsv' using (\$2*1e-9):1 with lines lw 2 lc rgb '#d62728' title 'vshm, sleeping reader'
unset multiplot
EOF

gnuplot <<EOF
$style
set output '$plots/throughput.svg'
set title 'Frames per second against frame size (one writer, frames copied in from memory)'
set logscale xy
set xrange [0.3:20]
set xlabel 'frame size (MiB)'
set ylabel 'frames per second'
set key top right
plot '$data/throughput.tsv' using 1:2 with linespoints lw 2 pt 7 lc rgb '#888888' title 'memcpy into shared memory', \
     '' using 1:3 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'vshm writer (begin, memcpy, publish)', \
     '' using 1:4 with linespoints lw 2 pt 7 lc rgb '#ff7f0e' title 'pipe to another process', \
     '' using 1:3:5 with labels offset 0,1.2 font ',9' notitle
EOF

if [ -s "$data/chain.tsv" ]; then
  base=$(awk -F'\t' '$1 == "none" { print $2 }' "$data/chain.tsv")
  gnuplot <<EOF
$style
set output '$plots/chain.svg'
set title 'Filter chains at 1080p I420: capture stamp to a reader at the end, p50'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel 'microseconds'
set yrange [0:*]
set xtics nomirror
set key top left
plot '$data/chain.tsv' using 2:xtic(1) lc rgb '#1f77b4' title 'measured p50', \\
     '' using (\$0 == 0 ? \$2 : $base + \$5 + \$7) lc rgb '#999999' title 'target: no filter + compute + 2 wake-ups a stage (ping-pong)', \\
     '' using (\$0 == 0 ? \$2 : $base + \$5 + \$8) lc rgb '#dddddd' title 'the same with wake-ups after 1/60 s asleep'
EOF
fi

# The chain table, from chain.tsv.
chain_table() {
  awk -F'\t' 'function verdict(a, b) { return a <= b ? "PASS" : "MISS" }
    NR == 1 { next }
    $1 == "none" { printf "| (none) | %.0f us | %.0f us | | | | | | | |\n", $2, $3; next }
    { ratio = $1 == "template" ? "1.00x (the yardstick)" : sprintf("%.2fx %s", $9, verdict($9, 1.5))
      printf "| %s | %.0f us | %.0f us | %.0f us | %.0f us | %.0f us | %.0f us | %.0f us %s | %.0f us %s | %s |\n",
        ($1 == "template" ? "template (a copy)" : $1), $2, $3, $4, $10, $5, $6,
        $7, verdict($6, $7), $8, verdict($6, $8), ratio }' "$data/chain.tsv"
}

# A part's printed output, as it was, for the sections without tables of their own.
verbatim() {
  if [ -s "$data/$1.txt" ]; then
    printf '```\n'
    cat "$data/$1.txt"
    printf '```\n'
  else
    printf '(not measured in this run: %s)\n' "$2"
  fi
}

{
  cat <<EOF
# vshm benchmarks

Made by \`./scripts/bench.sh --report\`, which measures the machine's limits and vshm's
figures in the same run and writes this page and its plots. Every vshm figure is given
as a ratio to the limit measured beside it, since the limits themselves move from one
machine, and one minute, to the next. Timings are never asserted in tests; this page is
where they are.

## The machine

$(cat "$data/machine.txt")

The figures of a run on a machine shared with other work are noisier than those of an
idle one, latency tails most of all; the load average above says how busy it was.

## Latency

![Latency distributions: spinning reader against a cache-line ping-pong, sleeping reader against a futex ping-pong](benchmarks/latency.svg)

## Throughput

![Frames per second against frame size: vshm's writer next to memcpy into shared memory and a pipe](benchmarks/throughput.svg)

## The figures and their targets

$(cat "$data/summary.md")

The writer with many readers: frames per second say what the readers cost it in all;
its time in begin + publish says what the ring costs it, apart from the copy (which the
readers' work on the other CPU can slow too, through the caches and the host the CPUs
share). A sleeping reader costs each publish a futex wake-up: a system call in which the
kernel wakes a task on another CPU. One sleeping reader against none measures that;
64 against one measures what each further reader costs (publish wakes them all in one
call, and reads no reader entry). The floors are those wake-ups with no ring at all: a
writer that copies each frame into shared memory and wakes, with one FUTEX_WAKE, 1 or 64
processes asleep on a plain futex word on the other CPU. No writer that wakes its
sleeping readers on every frame can do better, so a target above the 1-sleeper floor
cannot be met that way on the machine that measured it.

## Filter chains

EOF
  if [ -s "$data/chain.tsv" ]; then
    cat <<EOF
![Filter chains: latency at p50 next to the target](benchmarks/chain.svg)

$(sed -n '2,3p' "$data/chain.txt" | sed 's/^ *//' | tr '\n' ' ' | sed 's/ *$/./')
What a chain adds end to end is its p50 less the p50 with no filter (the median over
three runs of the chain, each paired with a run with no filter just before it). Each
stage also reports, on the frames themselves, its latency (the median time from a
frame's input being published to its output being published: wake-up, bookkeeping and
work) and its compute (the median time in process()); "in stages" is the sum of the
first over the stages. What the stages take beyond their compute is their overhead,
whose target is two futex wake-ups a stage: held against the ping-pong's wake-up
between two busy processes, and against the wake-up of a process that slept 1/60 s, as
the stages of a 60 fps chain do between frames. The end-to-end figure also holds what
the stages cost their neighbours: on two CPUs the capture drawing its next frame, the
filters and the reader take turns. Each filter's compute is also held against a copy of
the frame made in the same place, the template filter (target 1.5x).

| filters | p50 | p99 | added end to end | in stages | compute | overhead (in stages - compute) | 2 wake-ups (ping-pong) | 2 wake-ups (asleep) | compute / copy |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |
$(chain_table)

EOF
  else
    printf '(not measured in this run: vshm-capture was not built)\n\n'
  fi
  printf '## Replaying files into the ring\n\n'
  verbatim capture-vs-ffmpeg "vshm-capture without FFmpeg, or no ffmpeg program"
  printf '\n## 10-bit video (P010)\n\n'
  verbatim hifi "vshm-capture without FFmpeg, or no ffmpeg program"
  printf '\n## Camera source\n\n'
  verbatim camera "no fake camera library (tests disabled)"
  printf '\n## Viewer\n\n'
  verbatim viewer "no viewer or no Xvfb"
  printf '\n## GStreamer\n\n'
  verbatim gstreamer "GStreamer plugin not built"
  printf '\n## Python\n\n'
  verbatim python "Python module not built"
  printf '\n## The whole run, as printed\n\n'
  verbatim vshm-bench "vshm-bench failed"
} >"$docs/benchmarks.md"
echo "report.sh: wrote $docs/benchmarks.md and $plots/*.svg"
