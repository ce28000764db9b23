/**
 * The live loss chart (uPlot): training loss per logged step (raw and smoothed) and validation
 * loss at each evaluation. The container's data-train-points / data-val-points attributes say how
 * much is plotted (the browser test reads them).
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface LossChart {
  addStep(step: number, loss: number): void;
  addEval(step: number, valLoss: number): void;
  reset(): void;
}

/** Exponential moving average weight of the smoothed training curve. */
const SMOOTH = 0.9;
const HEIGHT = 300;

export function createLossChart(el: HTMLElement): LossChart {
  const steps: number[] = [];
  const train: (number | null)[] = [];
  const smooth: (number | null)[] = [];
  const val: (number | null)[] = [];
  let ema: number | null = null;
  let valPoints = 0;

  const opts: uPlot.Options = {
    width: Math.max(300, el.clientWidth),
    height: HEIGHT,
    scales: { x: { time: false } },
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    axes: [
      { label: 'step', stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' } },
      { label: 'loss (nats/token)', stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' }, size: 56 },
    ],
    series: [
      { label: 'step' },
      { label: 'train', stroke: 'rgba(37, 99, 235, 0.35)', width: 1, points: { show: false }, value: (_u, v) => (v == null ? '–' : v.toFixed(3)) },
      { label: 'train (smoothed)', stroke: '#2563eb', width: 2, points: { show: false }, value: (_u, v) => (v == null ? '–' : v.toFixed(3)) },
      {
        label: 'validation', stroke: '#ea580c', width: 2, spanGaps: true,
        points: { show: true, size: 7, fill: '#ea580c' },
        value: (_u, v) => (v == null ? '–' : v.toFixed(3)),
      },
    ],
  };
  const plot = new uPlot(opts, [steps, train, smooth, val], el);

  let pending = false;
  function redraw(): void {
    el.dataset.trainPoints = String(train.filter((v) => v !== null).length);
    el.dataset.valPoints = String(valPoints);
    const firstTrain = train.find((v) => v !== null);
    const lastSmooth = [...smooth].reverse().find((v) => v !== null);
    el.dataset.firstLoss = firstTrain == null ? '' : String(firstTrain);
    el.dataset.lastLoss = lastSmooth == null ? '' : String(lastSmooth);
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      plot.setData([steps, train, smooth, val]);
    });
  }

  new ResizeObserver(() => {
    const w = Math.max(300, el.clientWidth);
    if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: HEIGHT });
  }).observe(el);

  return {
    addStep(step, loss) {
      ema = ema === null ? loss : SMOOTH * ema + (1 - SMOOTH) * loss;
      steps.push(step);
      train.push(loss);
      smooth.push(ema);
      val.push(null);
      redraw();
    },
    addEval(step, valLoss) {
      // an evaluation follows the step it is named after; put it on that step's x
      const i = steps.lastIndexOf(step);
      if (i >= 0) val[i] = valLoss;
      else {
        steps.push(step);
        train.push(null);
        smooth.push(null);
        val.push(valLoss);
      }
      valPoints++;
      redraw();
    },
    reset() {
      for (const a of [steps, train, smooth, val]) a.length = 0;
      ema = null;
      valPoints = 0;
      redraw();
    },
  };
}
