// A finding of `podpattern check`: one line with its level, and for anything not ok, the fix.
/** skip: not checked, because something it depends on failed or is absent (the message says which). */
export type Level = 'ok' | 'warn' | 'fail' | 'skip';

export interface Finding {
  check: string;
  level: Level;
  message: string;
  fix?: string;
}

const MARK: Record<Level, string> = { ok: '[ok]  ', warn: '[warn]', fail: '[FAIL]', skip: '[--]  ' };

export function formatFindings(findings: Finding[]): string {
  const lines = findings.flatMap((f) => [
    `${MARK[f.level]} ${f.check}: ${f.message.replaceAll('\n', '\n       ')}`,
    ...(f.fix === undefined || f.level === 'ok' ? [] : [`       fix: ${f.fix}`]),
  ]);
  const failed = findings.filter((f) => f.level === 'fail').length;
  const warned = findings.filter((f) => f.level === 'warn').length;
  const skipped = findings.filter((f) => f.level === 'skip').length;
  const notChecked = skipped > 0 ? `, ${skipped} not checked` : '';
  const summary =
    failed > 0
      ? `${failed} check(s) failed, ${warned} warning(s)${notChecked}`
      : warned > 0
        ? `all checks passed, ${warned} warning(s)${notChecked}`
        : `all checks passed${notChecked}`;
  return `${lines.join('\n')}\n\n${summary}\n`;
}

export const ok = (check: string, message: string): Finding => ({ check, level: 'ok', message });
export const warn = (check: string, message: string, fix?: string): Finding => ({
  check,
  level: 'warn',
  message,
  ...(fix === undefined ? {} : { fix }),
});
export const fail = (check: string, message: string, fix?: string): Finding => ({
  check,
  level: 'fail',
  message,
  ...(fix === undefined ? {} : { fix }),
});
export const skip = (check: string, why: string): Finding => ({ check, level: 'skip', message: `not checked: ${why}` });
