import { readFileSync } from 'node:fs';

/** CPU ms the main thread has used (utime + stime of /proc/self/task/PID, clock ticks of 10 ms; Linux only). */
export function mainThreadCpuMs(): number {
  const st = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** The benchmarks' one median: the middle value, or the mean of the two middle ones; NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}
