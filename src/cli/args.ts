/** What every `wgpt` command shares: argument parsing with one-line usage errors, and progress output. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WgptError } from '../errors.ts';

/** Wrong command-line usage; printed as one line. */
export class UsageError extends WgptError {
  constructor(message: string) { super('USAGE', message); }
}

export type Values = Record<string, string | boolean | undefined>;

/** Parse `--options` (strictly) and at most `positionals` positional arguments. */
export function parse(args: string[], options: ParseArgsConfig['options'], positionals = 0): { v: Values; pos: string[] } {
  let r;
  try {
    r = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]} (see wgpt --help)`);
  }
  if (r.positionals.length > positionals) throw new UsageError(`unexpected argument '${r.positionals[positionals]}' (see wgpt --help)`);
  return { v: r.values as Values, pos: r.positionals };
}

/** A numeric option, checked: `--key` must be a (integer) number within [min, max]; `def` when absent. */
export function num(v: Values, key: string, def: number, opts: { int?: boolean; min?: number; max?: number } = {}): number {
  const raw = v[key];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`--${key} expects ${opts.int ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got '${raw}'`);
  }
  return n;
}

export function fmtTime(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/**
 * Training progress: with --json one JSON object per line on stdout; otherwise a live line on a
 * terminal (every 50 steps when stderr is not one) and other events as `key=value` lines.
 */
export function progressPrinter(json: boolean, steps: number): (e: { event: string; [k: string]: any }) => void {
  const tty = !json && (process.stderr.isTTY || process.env.WGPT_STDERR_TTY === '1');
  return (e) => {
    if (json) {
      console.log(JSON.stringify(e));
    } else if (e.event === 'step') {
      const line = `step ${e.step}/${steps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${Math.round(e.tokens_per_s)} tok/s  ETA ${fmtTime(e.eta_ms)}`;
      if (tty) process.stderr.write(`\r${line.padEnd(90)}`);
      else if (e.step % 50 === 0 || e.step === steps) console.error(line);
    } else {
      if (tty) process.stderr.write('\n');
      console.error(Object.entries(e).map(([k, x]) => `${k}=${typeof x === 'number' ? +x.toFixed(4) : Array.isArray(x) ? JSON.stringify(x) : x}`).join(' '));
    }
  };
}
